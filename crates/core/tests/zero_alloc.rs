//! Recording through every handle, and looking up an existing labeled series,
//! allocate nothing (a counting global allocator proves it). Since recordings
//! allocate nothing, memory cannot grow with them either (invariant 4).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{
    Describe, Filter, LabelSet, LabelValue, ManualClock, Registry, Retention, SeriesData, TimeRange,
};

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

fn registry(clock: &Arc<ManualClock>) -> Registry {
    Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(60)).unwrap())
        .build()
}

#[test]
fn recording_through_handles_allocates_nothing() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = registry(&clock);
    let c = reg.counter("c", &[("handler", "csv")]).unwrap();
    let g = reg.gauge("g", &[]).unwrap();
    let h = reg.histogram("h", &[]).unwrap();
    let s = reg.summary("s", &[]).unwrap();
    let n = allocations(|| {
        // Many laps of every ring: every slot is restarted many times.
        for i in 0..100_000u64 {
            clock.advance(Duration::from_millis(7));
            c.inc();
            c.inc_by(i);
            g.set(i as f64);
            g.add(1.5);
            g.sub(0.5);
            h.observe((i % 100) as f64 / 10.0);
            s.observe(1.0 + (i % 1000) as f64);
        }
    });
    assert_eq!(n, 0, "recording allocated {n} times");
}

/// Striped series, recorded into from threads that take their stripe on
/// their first recording (inside the measured span), allocate nothing either.
#[test]
fn recording_into_striped_series_allocates_nothing() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = registry(&clock);
    reg.register(Describe::counter("c").striped()).unwrap();
    reg.register(Describe::histogram("h").striped()).unwrap();
    let c = reg.counter("c", &[("handler", "csv")]).unwrap();
    let h = reg.histogram("h", &[]).unwrap();
    std::thread::scope(|s| {
        for t in 0..3u64 {
            let (c, h, clock) = (&c, &h, &clock);
            s.spawn(move || {
                let n = allocations(|| {
                    for i in 0..30_000u64 {
                        if t == 0 {
                            clock.advance(Duration::from_millis(7));
                        }
                        c.inc();
                        c.inc_by(i);
                        h.observe((i % 100) as f64 / 10.0);
                    }
                });
                assert_eq!(n, 0, "thread {t}: recording allocated {n} times");
            });
        }
    });
    assert_eq!(c.get(), 3 * (30_000 + 30_000 * 29_999 / 2));
    assert_eq!(h.snapshot().count(), 90_000);
}

#[test]
fn native_histogram_recording_allocates_nothing() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = registry(&clock);
    // A small bucket limit, so that schema reductions (and, at schema -4, a
    // full table) happen on the recording path too.
    reg.register(
        lakemetrics_core::Describe::histogram("nh")
            .native(8)
            .native_max_buckets(8),
    )
    .unwrap();
    reg.register(
        lakemetrics_core::Describe::histogram("both")
            .buckets(lakemetrics_core::Buckets::default())
            .native(3),
    )
    .unwrap();
    let nh = reg.histogram("nh", &[]).unwrap();
    let both = reg.histogram("both", &[]).unwrap();
    let n = allocations(|| {
        for i in 0..100_000u64 {
            clock.advance(Duration::from_millis(7));
            let v = (1.0 + (i % 1000) as f64) * 10f64.powi((i % 40) as i32 - 20);
            nh.observe(if i % 2 == 0 { v } else { -v });
            nh.observe(f64::NAN);
            nh.observe(0.0);
            both.observe((i % 100) as f64 / 10.0);
        }
    });
    assert_eq!(n, 0, "recording allocated {n} times");
    assert_eq!(nh.native_snapshot().unwrap().schema, -4);
}

#[test]
fn labeled_lookup_of_an_existing_series_allocates_nothing() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = registry(&clock);
    let labels = [("handler", "csv"), ("status", "ok")];
    reg.counter("requests", &labels).unwrap();
    reg.gauge("depth", &labels).unwrap();
    reg.histogram("latency", &labels).unwrap();
    reg.summary("sizes", &labels).unwrap();
    let reordered = [("status", "ok"), ("handler", "csv")];
    // A thread's first lookup in a registry allocates its lookup cache there
    // (once per thread and registry; the registry owns and frees it).
    reg.counter("requests", &labels).unwrap();
    let n = allocations(|| {
        for _ in 0..10_000 {
            reg.counter("requests", &labels).unwrap().inc();
            reg.counter("requests", &reordered).unwrap().inc();
            reg.gauge("depth", &labels).unwrap().set(1.0);
            reg.histogram("latency", &labels).unwrap().observe(0.1);
            reg.summary("sizes", &labels).unwrap().observe(10.0);
        }
    });
    assert_eq!(n, 0, "lookups allocated {n} times");
    assert_eq!(reg.counter("requests", &labels).unwrap().get(), 20_000);
}

/// A typed label set, implemented by hand (core does not depend on the derive).
#[derive(Clone, Copy)]
enum Status {
    Ok,
    Error,
}

impl LabelValue for Status {
    const VALUES: &'static [&'static str] = &["ok", "error"];
    fn ordinal(&self) -> usize {
        *self as usize
    }
}

impl LabelSet for Status {
    const NAMES: &'static [&'static str] = &["status"];
    const CARDINALITY: usize = 2;
    fn index(&self) -> usize {
        self.ordinal()
    }
    fn value(index: usize, _label: usize) -> &'static str {
        Self::VALUES.get(index).copied().unwrap_or("")
    }
}

#[test]
fn typed_and_dynamic_label_sets_record_without_allocating() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = registry(&clock);
    let fixed = [("handler", "csv")];
    let c = reg.typed_counter::<Status>("requests", &fixed).unwrap();
    let g = reg.typed_gauge::<Status>("depth", &fixed).unwrap();
    let h = reg.typed_histogram::<Status>("latency", &fixed).unwrap();
    let s = reg.typed_summary::<Status>("sizes", &fixed).unwrap();
    let tenants = reg
        .dynamic_counter::<Status>("tenant_requests", &fixed, "tenant")
        .unwrap();
    let acme = tenants.intern("acme").unwrap();
    let n = allocations(|| {
        for i in 0..10_000u64 {
            clock.advance(Duration::from_millis(7));
            let status = if i % 3 == 0 {
                Status::Error
            } else {
                Status::Ok
            };
            c.get(&status).inc();
            g.get(&status).set(i as f64);
            h.get(&status).observe(0.1);
            s.get(&status).observe(10.0);
            acme.get(&status).inc();
            // Interning a known value again: a hash and a read lock, no
            // allocation (only its first interning creates series).
            tenants.intern("acme").unwrap().get(&status).inc();
        }
    });
    assert_eq!(n, 0, "typed recording allocated {n} times");
    let total = c.get(&Status::Ok).get() + c.get(&Status::Error).get();
    assert_eq!(total, 10_000);
    assert_eq!(
        reg.counter(
            "tenant_requests",
            &[("handler", "csv"), ("tenant", "acme"), ("status", "error")]
        )
        .unwrap()
        .get(),
        2 * 3_334
    );
}

#[test]
fn windowed_queries_allocate_nothing_once_warm() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = registry(&clock);
    let c = reg.counter("c", &[]).unwrap();
    let h = reg.histogram("h", &[]).unwrap();
    for i in 0..200 {
        clock.advance(Duration::from_millis(300));
        c.inc();
        h.observe(i as f64 / 100.0);
    }
    let w = Duration::from_secs(30);
    c.increase(w);
    h.quantile(0.5, w);
    let n = allocations(|| {
        for _ in 0..100 {
            std::hint::black_box(c.increase(w));
            std::hint::black_box(c.rate(w));
            std::hint::black_box(h.quantile(0.99, w));
        }
    });
    assert_eq!(n, 0, "queries allocated {n} times");
}

#[test]
fn windowed_summary_history_allocates_nothing_once_warm() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = registry(&clock);
    let s = reg.summary("s", &[]).unwrap();
    // 60 epochs of observations, more distinct values than bins in each.
    for i in 0..600 {
        clock.advance(Duration::from_millis(100));
        s.observe(f64::from(i % 37) / 10.0 + 0.01);
    }
    let objectives = [0.5, 0.9, 0.99];
    let w = Duration::from_secs(15);
    let (mut n, mut windows) = (0, 0);
    reg.visit(&Filter::all(), |fam| {
        for series in fam.series() {
            let SeriesData::Summary(core) = series.data() else {
                continue;
            };
            let now = series.now();
            // Warm: the per-thread scratch buffers grow once.
            core.for_each_window_quantiles(now, TimeRange::ALL, w, &objectives, |_| {});
            n += allocations(|| {
                for _ in 0..10 {
                    core.for_each_window_quantiles(now, TimeRange::ALL, w, &objectives, |x| {
                        windows += 1;
                        std::hint::black_box(x.quantiles);
                    });
                }
            });
        }
    });
    assert_eq!(windows, 10 * 60);
    assert_eq!(n, 0, "windowed summary history allocated {n} times");
}

#[test]
fn windowed_native_histogram_history_allocates_nothing_once_warm() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = registry(&clock);
    reg.register(Describe::histogram("nh").native(3)).unwrap();
    let h = reg.histogram("nh", &[]).unwrap();
    // 60 epochs of observations over 12 buckets each, both signs and zero.
    for i in 0..600 {
        clock.advance(Duration::from_millis(100));
        let v = f64::from(i % 11) * 1.7 + 0.5;
        h.observe(if i % 5 == 0 { -v } else { v });
        h.observe(0.0);
    }
    let objectives = [0.5, 0.9, 0.99];
    let w = Duration::from_secs(15);
    let (mut n, mut windows) = (0, 0);
    reg.visit(&Filter::all(), |fam| {
        for series in fam.series() {
            let SeriesData::Histogram(core) = series.data() else {
                continue;
            };
            let now = series.now();
            // Warm: the per-thread scratch buffers grow once.
            core.for_each_native_window_quantiles(now, TimeRange::ALL, w, &objectives, |_| {});
            n += allocations(|| {
                for _ in 0..10 {
                    core.for_each_native_window_quantiles(
                        now,
                        TimeRange::ALL,
                        w,
                        &objectives,
                        |x| {
                            windows += 1;
                            std::hint::black_box(x.quantiles);
                        },
                    );
                }
            });
        }
    });
    assert_eq!(windows, 10 * 60);
    assert_eq!(n, 0, "windowed native history allocated {n} times");
}
