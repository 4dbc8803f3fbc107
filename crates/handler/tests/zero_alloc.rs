//! The recording calls allocate nothing (a counting global allocator proves it):
//! timer start and success or failure with a known or learned kind, the closure
//! form, the future wrapper, batch sizes and queue depth, over many epochs. And
//! `health(window)` allocates nothing once warm, with the default buckets.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::Duration;

use lakemetrics_core::{ManualClock, Registry, Retention};
use lakemetrics_handler::HandlerMetrics;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

#[allow(unsafe_code)]
// SAFETY: defers to the system allocator; only counts calls on this thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> u64 {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

fn handler(clock: Option<&Arc<ManualClock>>) -> HandlerMetrics {
    let mut b = Registry::builder()
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(60)).unwrap());
    if let Some(c) = clock {
        b = b.clock(c.clone());
    }
    HandlerMetrics::builder(&b.build(), "csv")
        .error_kinds(["parse_error", "io"])
        .build()
        .unwrap()
}

#[test]
fn recording_allocates_nothing() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let h = handler(Some(&clock));
    // A kind first seen at run time allocates once, when it is learned.
    h.start().failure("schema_mismatch");
    let mut cx = Context::from_waker(Waker::noop());
    let n = allocations(|| {
        // Many laps of every ring.
        for i in 0..100_000u64 {
            clock.advance(Duration::from_millis(7));
            let t = h.start();
            h.record_batch(4096 + i, 10 + i % 7);
            h.inc_queue_depth();
            match i % 4 {
                0 => t.failure("parse_error"),
                1 => t.failure("schema_mismatch"),
                _ => t.success(),
            }
            h.dec_queue_depth();
            h.set_queue_depth(i % 64);
            let _ = h.time(|| if i % 3 == 0 { Err("io") } else { Ok(i) });
            let fut = pin!(h.instrument(async { Ok::<_, &str>(i) }));
            let _ = fut.poll(&mut cx);
            drop(h.start()); // dropped: kind `dropped`
        }
    });
    assert_eq!(n, 0, "recording allocated {n} times");
    assert_eq!(h.health(Duration::from_secs(1)).queue_depth, 99_999 % 64);
}

#[test]
fn recording_with_the_default_clock_allocates_nothing() {
    let h = handler(None);
    h.start().success();
    let n = allocations(|| {
        for i in 0..100_000u64 {
            let t = h.start();
            h.record_batch(i, 1);
            t.success();
        }
    });
    assert_eq!(n, 0, "recording allocated {n} times");
}

#[test]
fn health_allocates_nothing_once_warm() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let h = handler(Some(&clock));
    for i in 0..500u64 {
        clock.advance(Duration::from_millis(100));
        let t = h.start();
        clock.advance(Duration::from_millis(i % 50));
        t.success();
    }
    let w = Duration::from_secs(10);
    std::hint::black_box(h.health(w));
    let n = allocations(|| {
        for _ in 0..100 {
            std::hint::black_box(h.health(w));
        }
    });
    assert_eq!(n, 0, "health allocated {n} times");
}
