//! Writing allocates nothing per series or sample: with a counting global
//! allocator, exporting 10,000 series into a reused `Vec<u8>` makes exactly as
//! many allocations as exporting 100, in every format. What remains is a small
//! constant per export: the core visit's list of families, and the exporter's
//! scratch buffers (label text, `le`/`quantile` strings) growing to their size.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{Describe, Filter, ManualClock, Registry};
use lakemetrics_export::{write_format, Exporter, Format};

struct Counting;

thread_local! {
    // Per thread: other tests run in parallel and allocate too.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: forwards to the system allocator; only counts on the way.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn counted<R>(f: impl FnOnce() -> R) -> (R, usize) {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, ALLOCATIONS.with(Cell::get))
}

/// Exactly `n` series: half counters in ten families, an eighth histograms, up to
/// 100 summaries (each holds a sketch per epoch), the rest gauges.
fn registry(n: usize) -> Registry {
    // A manual clock: the two exports compared must be byte-identical, and the
    // JSON header carries the time.
    let reg = Registry::builder()
        .clock(Arc::new(ManualClock::new(1_700_000_000_000_000_000)))
        .build();
    for f in 0..10 {
        let name = format!("ingest_rows_{f}");
        reg.register(Describe::counter(&name).help("Rows ingested, by handler and status."))
            .unwrap();
        for i in 0..n / 20 {
            let handler = format!("handler-{i}");
            let status = if i % 3 == 0 { "err \"x\"" } else { "ok" };
            reg.counter(&name, &[("handler", &handler), ("status", status)])
                .unwrap()
                .inc_by(i as u64);
        }
    }
    reg.register(Describe::gauge("queue_depth").help("Queue depth."))
        .unwrap();
    let summaries = (n / 8).min(100);
    for i in 0..n - 10 * (n / 20) - n / 8 - summaries {
        reg.gauge("queue_depth", &[("queue", &format!("q{i}"))])
            .unwrap()
            .set(i as f64 * 0.5);
    }
    reg.register(Describe::histogram("batch_seconds").help("Batch time."))
        .unwrap();
    for i in 0..n / 8 {
        let h = reg
            .histogram("batch_seconds", &[("handler", &format!("h{i}"))])
            .unwrap();
        h.observe(i as f64 / 1000.0);
    }
    reg.register(Describe::summary("rpc_seconds").help("RPC time."))
        .unwrap();
    for i in 0..summaries {
        let s = reg
            .summary("rpc_seconds", &[("service", &format!("s{i}"))])
            .unwrap();
        s.observe(i as f64);
    }
    reg
}

/// Allocations of a bare visit of every series (the core's list of families).
fn visit_allocations(reg: &Registry) -> usize {
    let ((), n) = counted(|| {
        reg.visit(&Filter::all(), |f| {
            for s in f.series() {
                std::hint::black_box(s.data());
            }
        })
    });
    n
}

fn allocations_per_export(reg: &Registry, format: Format) -> (usize, usize) {
    let mut buf = Vec::new();
    // Warm up: the buffer grows to the output's size once.
    write_format(format, reg, &Filter::all(), &mut buf).unwrap();
    let len = buf.len();
    buf.clear();
    let (result, n) = counted(|| write_format(format, reg, &Filter::all(), &mut buf));
    result.unwrap();
    assert_eq!(buf.len(), len, "same output twice");
    (n, len)
}

#[test]
fn allocations_do_not_grow_with_series() {
    let small = registry(100);
    let large = registry(10_000);
    assert_eq!(large.series_count(), 10_000);
    for format in [Format::Prometheus, Format::OpenMetrics, Format::Json] {
        let (few, few_bytes) = allocations_per_export(&small, format);
        let (many, many_bytes) = allocations_per_export(&large, format);
        println!(
            "{format}: {few} allocations for {} series ({few_bytes} bytes), \
             {many} for {} series ({many_bytes} bytes)",
            small.series_count(),
            large.series_count()
        );
        assert_eq!(
            few, many,
            "{format}: allocations grew with the number of series"
        );
        // The visit's own allocations, plus the exporter's few scratch buffers.
        assert!(
            many <= visit_allocations(&large) + 4,
            "{format}: {many} allocations per export"
        );
    }
}

#[test]
fn a_reused_exporter_allocates_only_the_visit() {
    let reg = registry(10_000);
    // Protobuf encodes each family whole into a buffer that grows with the
    // family (its length goes in front), so a fresh exporter's allocations
    // grow with series; a reused one's do not, as for the text formats.
    for format in [Format::Prometheus, Format::Protobuf] {
        let mut exporter = Exporter::new(format, Vec::new());
        exporter.write_registry(&reg, &Filter::all()).unwrap();
        exporter.get_mut().clear();
        let (result, n) = counted(|| exporter.write_registry(&reg, &Filter::all()));
        result.unwrap();
        let visit = visit_allocations(&reg);
        println!(
            "{format}: reused exporter: {n} allocations per export of {} series; the visit alone: {visit}",
            reg.series_count()
        );
        assert_eq!(n, visit, "{format}: allocations beyond the core visit's");
    }
}

/// Summaries' windowed quantile columns (`Exporter::quantile_window`) are
/// merged in the core's per-thread scratch buffers: a reused JSON exporter
/// still allocates only what the visit does.
#[test]
fn windowed_summary_columns_allocate_only_the_visit() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(
            lakemetrics_core::Retention::new(Duration::from_secs(1), Duration::from_secs(60))
                .unwrap(),
        )
        .build();
    let summaries: Vec<_> = (0..200)
        .map(|i| {
            reg.summary("rpc_seconds", &[("service", &format!("s{i}"))])
                .unwrap()
        })
        .collect();
    for t in 0..120 {
        clock.advance(Duration::from_millis(500));
        for (i, s) in summaries.iter().enumerate() {
            s.observe(((t * 7 + i) % 40) as f64 / 100.0 + 0.001);
        }
    }
    let mut exporter =
        Exporter::new(Format::Json, Vec::new()).quantile_window(Some(Duration::from_secs(10)));
    exporter.write_registry(&reg, &Filter::all()).unwrap();
    exporter.get_mut().clear();
    let (result, n) = counted(|| exporter.write_registry(&reg, &Filter::all()));
    result.unwrap();
    let text = String::from_utf8_lossy(exporter.get_ref());
    assert_eq!(text.matches("\"window_quantiles\":[[").count(), 200);
    let visit = visit_allocations(&reg);
    println!("JSON with a quantile window: {n} allocations; the visit alone: {visit}");
    assert_eq!(n, visit, "allocations beyond the core visit's");
}

/// Native histograms (one native-only family, one with classic buckets too)
/// are written with their native fields from a snapshot reused across series:
/// a reused protobuf exporter still allocates only what the visit does.
#[test]
fn native_histograms_in_protobuf_allocate_only_the_visit() {
    let reg = Registry::builder()
        .clock(Arc::new(ManualClock::new(1_700_000_000_000_000_000)))
        .build();
    reg.register(Describe::histogram("native_only_seconds").native(3))
        .unwrap();
    reg.register(
        Describe::histogram("both_seconds")
            .buckets(lakemetrics_core::Buckets::new(vec![0.01, 0.1, 1.0]).unwrap())
            .native(2),
    )
    .unwrap();
    for (i, name) in (0..2000).flat_map(|i| [(i, "native_only_seconds"), (i, "both_seconds")]) {
        let h = reg
            .histogram(name, &[("handler", &format!("h{i}"))])
            .unwrap();
        // A different number of buckets per series, both signs and zero.
        for k in 0..(i % 13) {
            h.observe((k as f64 - 3.0) * 0.37 * (1 + i % 7) as f64);
        }
    }
    let mut exporter = Exporter::new(Format::Protobuf, Vec::new());
    exporter.write_registry(&reg, &Filter::all()).unwrap();
    let first = exporter.get_ref().clone();
    exporter.get_mut().clear();
    let (result, n) = counted(|| exporter.write_registry(&reg, &Filter::all()));
    result.unwrap();
    assert_eq!(exporter.get_ref(), &first, "same output twice");
    let visit = visit_allocations(&reg);
    println!(
        "protobuf with native histograms: {n} allocations per export of {} series; the visit alone: {visit}",
        reg.series_count()
    );
    assert_eq!(n, visit, "allocations beyond the core visit's");
}

/// Native histograms in JSON: the native buckets are read into a snapshot the
/// exporter keeps (`NativeCore::snapshot_into`), and their windowed quantile
/// columns merged in the core's per-thread scratch, so a reused JSON exporter
/// allocates only what the visit does.
#[test]
fn native_histograms_in_json_allocate_only_the_visit() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(
            lakemetrics_core::Retention::new(Duration::from_secs(1), Duration::from_secs(60))
                .unwrap(),
        )
        .build();
    reg.register(Describe::histogram("native_only_seconds").native(3))
        .unwrap();
    reg.register(
        Describe::histogram("both_seconds")
            .buckets(lakemetrics_core::Buckets::new(vec![0.01, 0.1, 1.0]).unwrap())
            .native(2),
    )
    .unwrap();
    let hs: Vec<_> = (0..300)
        .flat_map(|i| [(i, "native_only_seconds"), (i, "both_seconds")])
        .map(|(i, name)| {
            let h = reg
                .histogram(name, &[("handler", &format!("h{i}"))])
                .unwrap();
            (i, h)
        })
        .collect();
    for t in 0..90 {
        clock.advance(Duration::from_millis(700));
        for (i, h) in &hs {
            // A different number of buckets per series, both signs and zero.
            for k in 0..(i % 13) {
                h.observe((k as f64 - 3.0) * 0.37 * (1 + (i + t) % 7) as f64);
            }
        }
    }
    for window in [None, Some(Duration::from_secs(10))] {
        let mut exporter = Exporter::new(Format::Json, Vec::new()).quantile_window(window);
        exporter.write_registry(&reg, &Filter::all()).unwrap();
        exporter.get_mut().clear();
        let (result, n) = counted(|| exporter.write_registry(&reg, &Filter::all()));
        result.unwrap();
        let text = String::from_utf8_lossy(exporter.get_ref());
        assert_eq!(text.matches("\"native\":{").count(), 600);
        let windows = text.matches("\"window_quantiles\":[[").count();
        assert_eq!(windows, if window.is_some() { 600 } else { 0 });
        let visit = visit_allocations(&reg);
        println!(
            "JSON with native histograms, quantile window {window:?}: {n} allocations per export of {} series; the visit alone: {visit}",
            reg.series_count()
        );
        assert_eq!(n, visit, "allocations beyond the core visit's");
    }
}
