//! The future wrapper, driven by a tiny executor written here (a no-op waker and
//! a poll loop): no async runtime is involved.

mod common;

use std::cell::Cell;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use common::*;
use lakemetrics_core::ManualClock;
use lakemetrics_handler::{HandlerMetrics, KIND_DROPPED};

/// Polls `fut` to completion, calling `between` after every `Pending`.
fn block_on<F: Future>(fut: F, mut between: impl FnMut()) -> (F::Output, usize) {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    let mut polls = 0;
    loop {
        polls += 1;
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return (out, polls);
        }
        between();
    }
}

/// A future that is pending `n` times (waking itself) before yielding `out`.
struct Steps<T> {
    left: usize,
    out: Option<T>,
}

impl<T: Unpin> Future for Steps<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if self.left == 0 {
            return Poll::Ready(self.out.take().expect("polled after completion"));
        }
        self.left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn steps<T>(n: usize, out: T) -> Steps<T> {
    Steps {
        left: n,
        out: Some(out),
    }
}

fn tick(clock: &Arc<ManualClock>) -> impl FnMut() + '_ {
    move || clock.advance(ms(10))
}

#[test]
fn times_from_first_poll_to_completion() {
    let (reg, clock) = registry();
    let h = HandlerMetrics::new(&reg, "parquet").unwrap();
    let fut = h.instrument(steps(3, Ok::<u64, &str>(42)));
    // Time before the first poll is not charged.
    clock.advance(secs(5));
    let (out, polls) = block_on(fut, tick(&clock));
    assert_eq!((out, polls), (Ok(42), 4));
    assert_eq!(batches(&reg, "parquet", "success"), 1);
    let d = durations(&reg, "parquet");
    assert_eq!(d.count(), 1);
    assert_close(d.sum, 0.030);
}

#[test]
fn an_error_output_is_a_failure_of_its_kind() {
    let (reg, clock) = registry();
    let h = HandlerMetrics::new(&reg, "parquet").unwrap();
    let (out, _) = block_on(
        h.instrument(steps(2, Err::<(), _>("corrupt_footer"))),
        tick(&clock),
    );
    assert_eq!(out, Err("corrupt_footer"));
    let io = async {
        steps(1, ()).await;
        Err::<(), _>(std::io::Error::from(std::io::ErrorKind::TimedOut))
    };
    let (out, _) = block_on(h.instrument(io), tick(&clock));
    assert!(out.is_err());
    // A kind function for errors without `ErrorKind`.
    let (out, _) = block_on(
        h.instrument_with(steps(0, Err::<(), _>(7u8)), |_| "code_7"),
        || {},
    );
    assert_eq!(out, Err(7));

    assert_eq!(batches(&reg, "parquet", "failure"), 3);
    assert_eq!(batches(&reg, "parquet", "success"), 0);
    assert_eq!(errors(&reg, "parquet", "corrupt_footer"), 1);
    assert_eq!(errors(&reg, "parquet", "io_timed_out"), 1);
    assert_eq!(errors(&reg, "parquet", "code_7"), 1);
    assert_close(durations(&reg, "parquet").sum, 0.030);
}

#[test]
fn a_started_future_dropped_before_completion_is_a_dropped_failure() {
    let (reg, clock) = registry();
    let h = HandlerMetrics::new(&reg, "json").unwrap();
    {
        let mut fut = pin!(h.instrument(steps(10, Ok::<(), &str>(()))));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        clock.advance(ms(25));
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        // Cancelled: dropped here.
    }
    assert_eq!(errors(&reg, "json", KIND_DROPPED), 1);
    assert_eq!(batches(&reg, "json", "failure"), 1);
    assert_close(durations(&reg, "json").sum, 0.025);

    // Never polled: never started, so nothing is recorded.
    drop(h.instrument(steps(1, Ok::<(), &str>(()))));
    assert_eq!(batches(&reg, "json", "failure"), 1);
    assert_eq!(durations(&reg, "json").count(), 1);
}

#[test]
fn an_async_block_with_awaits_inside() {
    let (reg, clock) = registry();
    let h = HandlerMetrics::new(&reg, "writer").unwrap();
    let polls = Cell::new(0);
    let write = async {
        for _ in 0..3 {
            steps(1, ()).await;
            polls.set(polls.get() + 1);
        }
        Ok::<_, String>(polls.get())
    };
    let (out, n) = block_on(h.instrument(write), tick(&clock));
    assert_eq!(out, Ok(3));
    assert_eq!(n, 4);
    assert_eq!(batches(&reg, "writer", "success"), 1);
    assert_close(durations(&reg, "writer").sum, 0.030);
}

#[test]
fn instrumented_futures_are_send_when_their_future_is() {
    fn send<T: Send + 'static>(_: &T) {}
    let (reg, _) = registry();
    let h = HandlerMetrics::new(&reg, "csv").unwrap();
    let fut = h.instrument(async { Ok::<(), String>(()) });
    send(&fut);
}
