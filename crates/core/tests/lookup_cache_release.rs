//! The per-thread lookup cache holds series, and must let go of them: every
//! thread's entries when the registry is dropped (even a thread that never looks
//! anything up again), and a thread's own entries when it ends, so idle series it
//! looked up can be reclaimed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use lakemetrics_core::{Describe, Filter, ManualClock, Registry, Retention};

thread_local! {
    /// Bytes allocated and freed by this thread.
    static BYTES: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

fn count(allocated: usize, freed: usize) {
    let _ = BYTES.try_with(|b| {
        let (a, f) = b.get();
        b.set((a + allocated as u64, f + freed as u64));
    });
}

struct Counting;

#[allow(unsafe_code)]
// SAFETY: defers to the system allocator; only counts bytes, per thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), 0);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(0, layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size, layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes this thread allocated and did not free while running `f`; and freed
/// beyond what it allocated, negated.
fn net_bytes(f: impl FnOnce()) -> i64 {
    let (a0, f0) = BYTES.with(Cell::get);
    f();
    let (a1, f1) = BYTES.with(Cell::get);
    (a1 - a0) as i64 - (f1 - f0) as i64
}

const T0: u64 = 1_700_000_000_000_000_000;

/// Summaries at the default retention: about 7 KB each (their state is 6,872
/// bytes, `tests/memory_budget.rs`).
const SUMMARY_BYTES: i64 = 6_872;

/// One call site per series: the cache is keyed by the label slice's address.
static LABELS: [[(&str, &str); 1]; 8] = [
    [("handler", "a")],
    [("handler", "b")],
    [("handler", "c")],
    [("handler", "d")],
    [("handler", "e")],
    [("handler", "f")],
    [("handler", "g")],
    [("handler", "h")],
];

#[test]
fn dropping_the_registry_frees_series_cached_by_a_parked_thread() {
    let (looked_up, wait) = mpsc::channel::<i64>();
    let (wake, parked) = mpsc::channel::<()>();
    let clock = Arc::new(ManualClock::new(T0));
    let mut reg = None;
    // What the registry itself holds before any series: freed with it too.
    let own = net_bytes(|| reg = Some(Registry::builder().clock(clock.clone()).build()));
    let reg = reg.unwrap();
    let worker = {
        let reg = reg.clone();
        thread::spawn(move || {
            let created = net_bytes(|| {
                // Twice: the first lookup of each creates it, the second fills
                // the cache.
                for _ in 0..2 {
                    for labels in &LABELS {
                        reg.with_summary("batch_bytes", labels, |s| s.observe(1.0))
                            .unwrap();
                        reg.counter("rows", labels).unwrap().inc();
                        reg.with_gauge_static("depth", labels, |g| g.set(1.0))
                            .unwrap();
                    }
                }
                // Only the cache still refers to the registry's series now.
                drop(reg);
            });
            looked_up.send(created).unwrap();
            // Parked: alive, and never touching the cache again.
            parked.recv().unwrap();
        })
    };
    // What the worker allocated and still holds: the series, their labels, the
    // index and family entries, its cache entries; plus a few bytes that are the
    // thread's, not the registry's (its exit guard's list, `thread_local`'s
    // bookkeeping for its id).
    let created = wait.recv().unwrap();
    let freed = -net_bytes(|| drop(reg));
    wake.send(()).unwrap();
    worker.join().unwrap();
    let summaries = LABELS.len() as i64 * SUMMARY_BYTES;
    assert!(created >= summaries, "the worker allocated {created} bytes");
    // Dropping the registry frees what the worker's lookups allocated and what
    // the registry held before them, all but the thread's own bookkeeping (its
    // exit guard's list, `thread_local`'s id: about 1 KB here). A summary
    // (7 KB) left pinned fails this, and so do three counters (592 bytes each).
    let kept = created + own - freed;
    assert!(
        kept < 2_048,
        "dropping the registry left {kept} bytes: freed {freed} of the {created} the worker's lookups allocated and the registry's own {own}"
    );
}

fn ttl_registry() -> (Arc<ManualClock>, Registry) {
    let clock = Arc::new(ManualClock::new(T0));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(10)).unwrap())
        .build();
    reg.register(Describe::counter("rows").idle_ttl(Duration::from_secs(30)))
        .unwrap();
    (clock, reg)
}

#[test]
fn a_thread_that_ends_releases_its_entries_so_idle_series_are_reclaimed() {
    let (clock, reg) = ttl_registry();
    let worker = {
        let reg = reg.clone();
        thread::spawn(move || {
            // Only ever through the cache: the second lookup of each is a hit.
            for _ in 0..2 {
                reg.with_counter("rows", &[("handler", "csv")], |c| c.inc())
                    .unwrap();
                reg.with_counter_static("rows", &[("handler", "json")], |c| c.inc())
                    .unwrap();
            }
        })
    };
    worker.join().unwrap();
    assert_eq!(reg.series_count(), 2);
    clock.advance(Duration::from_secs(60));
    reg.visit(&Filter::all(), |_| {});
    assert_eq!(
        reg.series_count(),
        0,
        "the ended thread's entries pinned them"
    );
}

#[test]
fn entries_of_a_live_thread_pin_idle_series_until_it_ends() {
    // What the cache promises, stated as a test: a live thread's entries count as
    // holders (like handles), and its ending lets the series go.
    let (clock, reg) = ttl_registry();
    let (looked_up, wait) = mpsc::channel::<()>();
    let (wake, parked) = mpsc::channel::<()>();
    let worker = {
        let reg = reg.clone();
        thread::spawn(move || {
            for _ in 0..2 {
                reg.with_counter("rows", &[("handler", "csv")], |c| c.inc())
                    .unwrap();
            }
            looked_up.send(()).unwrap();
            parked.recv().unwrap();
        })
    };
    wait.recv().unwrap();
    clock.advance(Duration::from_secs(60));
    reg.visit(&Filter::all(), |_| {});
    assert_eq!(reg.series_count(), 1, "held by the parked thread's entry");
    wake.send(()).unwrap();
    worker.join().unwrap();
    reg.visit(&Filter::all(), |_| {});
    assert_eq!(reg.series_count(), 0);
}
