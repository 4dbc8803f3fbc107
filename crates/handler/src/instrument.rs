//! Timing futures, with any executor or none.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::kind::ErrorKind;
use crate::metrics::HandlerMetrics;
use crate::names::KIND_DROPPED;
use crate::stopwatch::Started;

pin_project! {
    /// A future timed as one batch: see [`HandlerMetrics::instrument`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<F, K> {
        #[pin]
        future: F,
        kind: Option<K>,
        state: State,
    }
}

/// The unpinned part, with the drop rule: started but not finished is a failure
/// of kind `dropped`.
struct State {
    metrics: HandlerMetrics,
    started: Option<Started>,
    finished: bool,
}

impl Drop for State {
    fn drop(&mut self) {
        if let (Some(started), false) = (self.started, self.finished) {
            let elapsed = self.metrics.inner.stopwatch.elapsed(started);
            self.metrics.record_failure(elapsed, KIND_DROPPED);
        }
    }
}

/// The kind function [`HandlerMetrics::instrument`] uses: [`ErrorKind::error_kind`].
pub type ByErrorKind<E> = fn(&E) -> &str;

impl HandlerMetrics {
    /// Wraps `future` so that it is timed as one batch whose outcome is its
    /// output: `Ok` is a success, `Err(e)` a failure of kind `e.error_kind()`.
    ///
    /// The time runs **from the first poll** to the poll that completes it, so a
    /// future built long before it is awaited (queued in a `Vec`, waiting for a
    /// permit) is not charged for that wait. A future dropped after its first
    /// poll but before completing (cancelled, timed out) counts as a failure of
    /// kind [`KIND_DROPPED`]; one dropped before it was ever polled counts as
    /// nothing. Needs no particular runtime: it is a plain [`Future`] and
    /// allocates nothing.
    ///
    /// ```
    /// use std::future::Future;
    /// use std::pin::pin;
    /// use std::task::{Context, Poll, Waker};
    /// use std::time::Duration;
    /// use lakemetrics_core::Registry;
    /// use lakemetrics_handler::HandlerMetrics;
    ///
    /// let h = HandlerMetrics::new(&Registry::new(), "parquet").unwrap();
    /// let read = h.instrument(async { Err::<u64, _>("corrupt_footer") });
    /// let mut read = pin!(read);
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert_eq!(read.as_mut().poll(&mut cx), Poll::Ready(Err("corrupt_footer")));
    /// assert_eq!(h.health(Duration::from_secs(60)).failures, 1);
    /// ```
    pub fn instrument<F, T, E>(&self, future: F) -> Instrumented<F, ByErrorKind<E>>
    where
        F: Future<Output = Result<T, E>>,
        E: ErrorKind,
    {
        self.instrument_with(future, E::error_kind)
    }

    /// Like [`instrument`](HandlerMetrics::instrument), for errors that do not
    /// implement [`ErrorKind`]: `kind` names the error's kind.
    pub fn instrument_with<F, T, E, K>(&self, future: F, kind: K) -> Instrumented<F, K>
    where
        F: Future<Output = Result<T, E>>,
        K: FnOnce(&E) -> &str,
    {
        Instrumented {
            future,
            kind: Some(kind),
            state: State {
                metrics: self.clone(),
                started: None,
                finished: false,
            },
        }
    }
}

impl<F, T, E, K> Future for Instrumented<F, K>
where
    F: Future<Output = Result<T, E>>,
    K: FnOnce(&E) -> &str,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let state = this.state;
        let started = match state.started {
            Some(s) => s,
            None => *state.started.insert(state.metrics.inner.stopwatch.start()),
        };
        let out = match this.future.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(out) => out,
        };
        if !state.finished {
            state.finished = true;
            let m = &state.metrics;
            let elapsed = m.inner.stopwatch.elapsed(started);
            match (&out, this.kind.take()) {
                (Ok(_), _) => m.record_success(elapsed),
                (Err(e), Some(kind)) => m.record_failure(elapsed, kind(e)),
                // The kind function is used once; a future polled again after
                // completing is misused, and not counted twice.
                (Err(_), None) => {}
            }
        }
        Poll::Ready(out)
    }
}

impl<F, K> std::fmt::Debug for Instrumented<F, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented")
            .field("handler", &self.state.metrics.handler())
            .field("started", &self.state.started.is_some())
            .field("finished", &self.state.finished)
            .finish_non_exhaustive()
    }
}
