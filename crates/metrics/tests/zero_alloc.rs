//! Recording through the facade allocates nothing once a series is registered:
//! through held handles, and through the macros with literal names and labels
//! (each call looks its call-site key up in the recorder's table). A counting
//! global allocator proves it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use lakemetrics_core::{ManualClock, Registry};
use lakemetrics_metrics::{LakemetricsRecorder, Matcher};
use metrics::{counter, gauge, histogram};

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

fn recorder() -> (Registry, LakemetricsRecorder) {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = Registry::builder().clock(clock).build();
    let rec = LakemetricsRecorder::builder(&reg)
        .set_quantiles_for_metric(Matcher::Suffix("_summary".into()), &[0.5, 0.99])
        .unwrap()
        .build();
    (reg, rec)
}

#[test]
fn held_handles_allocate_nothing() {
    let (reg, rec) = recorder();
    let (c, g, h, s) = metrics::with_local_recorder(&rec, || {
        (
            counter!("c_total", "handler" => "csv"),
            gauge!("g"),
            histogram!("h_seconds"),
            histogram!("s_summary"),
        )
    });
    let n = allocations(|| {
        for i in 0..1_000u64 {
            c.increment(1);
            c.absolute(2_000 + i);
            g.increment(1.0);
            g.decrement(0.5);
            g.set(i as f64);
            h.record(i as f64 / 1e3);
            s.record(i as f64 / 1e3);
        }
    });
    assert_eq!(n, 0);
    // Increments and `absolute` add up: 1,000 + 2,999.
    assert_eq!(
        reg.counter("c_total", &[("handler", "csv")]).unwrap().get(),
        3_999
    );
}

#[test]
fn macros_with_literal_keys_allocate_nothing_after_the_first_call() {
    let (reg, rec) = recorder();
    let run = || {
        counter!("m_total", "handler" => "csv", "status" => "ok").increment(1);
        gauge!("m_depth", "queue" => "a").set(1.0);
        histogram!("m_seconds", "handler" => "csv").record(0.1);
        histogram!("m_summary").record(0.1);
    };
    metrics::with_local_recorder(&rec, || {
        run();
        let n = allocations(|| {
            for _ in 0..1_000 {
                run();
            }
        });
        assert_eq!(n, 0);
    });
    assert_eq!(
        reg.counter("m_total", &[("handler", "csv"), ("status", "ok")])
            .unwrap()
            .get(),
        1_001
    );
}

#[test]
fn another_thread_allocates_its_cache_once_then_nothing() {
    let (_reg, rec) = recorder();
    let run = || counter!("t_total", "handler" => "csv").increment(1);
    metrics::with_local_recorder(&rec, run);
    std::thread::scope(|s| {
        s.spawn(|| {
            metrics::with_local_recorder(&rec, || {
                // The thread's first lookup allocates its cache entries (one
                // box of 64 slots per thread and kind).
                let first = allocations(run);
                assert!(first <= 2, "{first}");
                assert_eq!(allocations(|| (0..1_000).for_each(|_| run())), 0);
            })
        });
    });
}
