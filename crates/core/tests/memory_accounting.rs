//! `Registry::memory_bytes()` accounts for what the registry really allocates:
//! series state and history, label slices, series lists, the index and the
//! interned strings. A counting global allocator (rounding each allocation to a
//! glibc malloc chunk, as `memory_bytes` does) measures the live heap while
//! 100,000 labeled counters (and fewer series of the other kinds) are created;
//! the two must agree within 10%.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use lakemetrics_core::{Describe, Registry};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

/// glibc's chunk for a request: the size plus an 8-byte header, rounded to 16,
/// at least 32.
fn chunk(size: usize) -> isize {
    ((size + 8 + 15) & !15).max(32) as isize
}

#[allow(unsafe_code)]
// SAFETY: defers to the system allocator; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(chunk(layout.size()), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(chunk(layout.size()), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(chunk(new_size) - chunk(layout.size()), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Creates `n` series with `make`, returns (live heap growth, memory_bytes growth).
fn grow(reg: &Registry, n: usize, make: impl Fn(&Registry, &str, &str)) -> (isize, isize) {
    // Label strings built before measuring, so the test's own buffers stay out.
    let labels: Vec<(String, String)> = (0..n)
        .map(|i| (format!("h{}", i % 1000), format!("{i:08}")))
        .collect();
    let (live, mb) = (LIVE.load(Ordering::Relaxed), reg.memory_bytes() as isize);
    for (h, id) in &labels {
        make(reg, h, id);
    }
    (
        LIVE.load(Ordering::Relaxed) - live,
        reg.memory_bytes() as isize - mb,
    )
}

fn check(what: &str, (live, mb): (isize, isize), n: usize) {
    let off = (mb - live).abs() as f64 / live as f64;
    println!(
        "{what}: heap {live} B ({} B per series), memory_bytes {mb} B, off by {:.1}%",
        live / n as isize,
        off * 100.0
    );
    assert!(off <= 0.10, "{what}: memory_bytes {mb} vs live heap {live}");
}

#[test]
fn memory_bytes_matches_the_live_heap() {
    let reg = Registry::new();
    for (name, d) in [
        ("c", Describe::counter("c").max_series(200_000)),
        ("g", Describe::gauge("g")),
        ("h", Describe::histogram("h")),
        ("s", Describe::summary("s")),
    ] {
        reg.register(d).unwrap();
        // The lookup cache of this thread is made by the first lookup (it is not
        // part of `memory_bytes`).
        reg.counter("warm", &[("k", name)]).unwrap();
    }
    let n = 100_000;
    let c = grow(&reg, n, |r, h, id| {
        r.counter("c", &[("handler", h), ("id", id)]).unwrap().inc();
    });
    check("counters", c, n);
    let g = grow(&reg, 10_000, |r, h, id| {
        r.gauge("g", &[("handler", h), ("id", id)])
            .unwrap()
            .set(1.0);
    });
    check("gauges", g, 10_000);
    let h = grow(&reg, 10_000, |r, h, id| {
        r.histogram("h", &[("handler", h), ("id", id)])
            .unwrap()
            .observe(0.1);
    });
    check("histograms", h, 10_000);
    let s = grow(&reg, 200, |r, h, id| {
        r.summary("s", &[("handler", h), ("id", id)])
            .unwrap()
            .observe(0.1);
    });
    check("summaries", s, 200);
}
