//! Invariant 4: memory does not grow with the number of recordings or with time.
//!
//! A counting global allocator tracks the bytes live in the process. After one
//! warm-up lap (readers' per-thread scratch buffers reach their size), 100,000
//! recordings of every kind across 100 laps of every ring, with windowed queries,
//! point visits and saved states in between, must leave exactly as many bytes live
//! as before, and each series' `memory_bytes()` unchanged. A protocol that kept
//! per-epoch or per-recording state on the heap fails this.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{Filter, ManualClock, Registry, Retention, TimeRange};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

#[allow(unsafe_code)]
// SAFETY: defers to the system allocator; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// One test in this binary: the counter is process-wide, so no other test may
// allocate while it measures.
#[test]
fn memory_does_not_grow_with_recordings_or_time() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(10)).unwrap())
        .build();
    let c = reg.counter("c", &[("k", "v")]).unwrap();
    let g = reg.gauge("g", &[("k", "v")]).unwrap();
    let h = reg.histogram("h", &[("k", "v")]).unwrap();
    let s = reg.summary("s", &[("k", "v")]).unwrap();
    // Native buckets with a small limit: the resolution halves along the way.
    reg.register(
        lakemetrics_core::Describe::histogram("n")
            .native(8)
            .native_max_buckets(16),
    )
    .unwrap();
    let n = reg.histogram("n", &[("k", "v")]).unwrap();
    let sizes = |()| {
        [
            c.memory_bytes(),
            g.memory_bytes(),
            h.memory_bytes(),
            s.memory_bytes(),
            n.memory_bytes(),
        ]
    };
    let w = Duration::from_secs(5);
    let round = |i: u64| {
        clock.advance(Duration::from_millis(10));
        c.inc_by(i % 7 + 1);
        g.set(i as f64);
        h.observe((i % 50) as f64 / 10.0);
        s.observe(1.0 + (i % 97) as f64);
        n.observe((1.0 + (i % 997) as f64) * if i % 3 == 0 { -1e-3 } else { 1e3 });
        if i % 500 == 0 {
            std::hint::black_box((
                c.increase(w),
                c.rate(w),
                g.max_over(w),
                h.quantile(0.9, w),
                s.quantile(0.9, w),
                n.native_quantile(0.9, w),
            ));
            let mut points = 0;
            c.core()
                .for_each_point(reg.now_nanos(), TimeRange::ALL, |_| points += 1);
            h.core()
                .for_each_point(reg.now_nanos(), TimeRange::ALL, |_| points += 1);
            reg.visit(&Filter::all(), |f| {
                for v in f.series() {
                    std::hint::black_box(v.state());
                }
            });
            std::hint::black_box(points);
        }
    };
    // One lap to warm the readers' scratch buffers.
    for i in 0..1_000 {
        round(i);
    }
    let (live, before) = (LIVE.load(Ordering::Relaxed), sizes(()));
    for i in 1_000..101_000 {
        round(i);
    }
    assert_eq!(sizes(()), before);
    assert_eq!(
        LIVE.load(Ordering::Relaxed),
        live,
        "live heap bytes changed"
    );
    assert_eq!(c.get(), (0..101_000u64).map(|i| i % 7 + 1).sum::<u64>());
}
