//! Export cost: rendering one registry as text, in lakemetrics and in each peer.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p lakemetrics-benches --bench export \
//!     -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! `lakemetrics_protobuf` is our Prometheus protobuf exposition; it is compared
//! with our own text only (`prometheus`' protobuf encoder needs its `protobuf`
//! feature, which pulls rust-protobuf into the build).
//!
//! Every implementation holds the same registry (`Shape::export()`, built by
//! `lakemetrics_benches::shape` and the `peers` module): 10 counter
//! families of 1,000 series each (labels `handler` x `status`, 100 x 10 values), and
//! one histogram family of 100 series (10 x 10 values) over Prometheus' default
//! buckets, each with help text. Each render writes into a buffer kept across
//! iterations where the peer's API takes one (all but `prometheus`' `gather`, which
//! builds its protobuf-shaped snapshot every time, as it does on every scrape).
//! Before timing, each output is checked to hold every series. Times are the
//! benchmarking thread's CPU time (`lakemetrics_benches::ThreadCpuTime`). Results
//! are in docs/benchmarks.md.
//!
//! `export_summary_history` prices the JSON API's `quantile_window` (summaries'
//! per-epoch quantiles over a sliding window, which no peer keeps): 100 summary
//! series with 60 one-second epochs of history, 50 observations of 25 distinct
//! values an epoch, as plain JSON and with 5 s and 60 s windows;
//! `export_native_history` the same for 100 native histograms.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use lakemetrics_benches::shape::Shape;
use lakemetrics_benches::{observations, ThreadCpuTime};
use lakemetrics_core::{Filter, ManualClock, Registry, Retention};
use lakemetrics_export::{Exporter, Format};

mod peers;

fn export(c: &mut Criterion<ThreadCpuTime>) {
    let shape = Shape::export();
    let vals = observations();
    let mut g = c.benchmark_group("export_text");

    // Ours: Prometheus text, OpenMetrics and JSON, each into a reused buffer.
    let reg = shape.lakemetrics_registry(&vals);
    let all = Filter::all();
    let mut buf = Vec::new();
    peers::bench_render(
        &mut g,
        "lakemetrics",
        &mut buf,
        |o| shape.check("lakemetrics", o),
        |b| lakemetrics_export::write_prometheus(black_box(&reg), &all, b).unwrap(),
    );
    fn size(name: &'static str) -> impl FnOnce(&[u8]) {
        move |o| eprintln!("{name}: {} bytes", o.len())
    }
    peers::bench_render(
        &mut g,
        "lakemetrics_openmetrics",
        &mut buf,
        size("lakemetrics_openmetrics"),
        |b| lakemetrics_export::write_openmetrics(black_box(&reg), &all, b).unwrap(),
    );
    peers::bench_render(
        &mut g,
        "lakemetrics_json",
        &mut buf,
        size("lakemetrics_json"),
        |b| lakemetrics_export::write_json(black_box(&reg), &all, b).unwrap(),
    );
    // The protobuf exposition, checked by decoding it with prost: every series.
    let series = reg.series_count();
    peers::bench_render(
        &mut g,
        "lakemetrics_protobuf",
        &mut buf,
        |o| {
            let fams = lakemetrics_export::proto::decode_all(o).unwrap();
            let n: usize = fams.iter().map(|f| f.metric.len()).sum();
            assert_eq!(n, series, "protobuf: every series");
            eprintln!("lakemetrics_protobuf: {} bytes", o.len());
        },
        |b| lakemetrics_export::write_protobuf(black_box(&reg), &all, b).unwrap(),
    );
    drop(reg);

    peers::bench_peers(&mut g, &shape, &vals, &mut buf);
    g.finish();
}

fn summary_history(c: &mut Criterion<ThreadCpuTime>) {
    let clock = std::sync::Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(60)).unwrap())
        .build();
    let series: Vec<_> = (0..100)
        .map(|i| {
            reg.summary("rpc_seconds", &[("service", &format!("s{i}"))])
                .unwrap()
        })
        .collect();
    for t in 0..60u64 {
        for (i, s) in series.iter().enumerate() {
            for k in 0..50u64 {
                s.observe(0.001 * (1 + (t + i as u64 + k) % 25) as f64);
            }
        }
        clock.advance(Duration::from_secs(1));
    }
    let all = Filter::all();
    let mut g = c.benchmark_group("export_summary_history");
    let mut buf = Vec::new();
    for (name, window) in [
        ("lakemetrics_json", None),
        ("lakemetrics_json_window_5s", Some(Duration::from_secs(5))),
        ("lakemetrics_json_window_60s", Some(Duration::from_secs(60))),
    ] {
        peers::bench_render(
            &mut g,
            name,
            &mut buf,
            |o| {
                let text = String::from_utf8_lossy(o);
                let windowed = text.matches("\"window_quantiles\":[[").count();
                assert_eq!(windowed, if window.is_some() { 100 } else { 0 });
                eprintln!("{name}: {} bytes", o.len());
            },
            |b| {
                let mut e = Exporter::new(Format::Json, b).quantile_window(window);
                e.write_registry(black_box(&reg), &all).unwrap();
                e.finish().unwrap();
            },
        );
    }
    g.finish();
}

/// The same for native histograms: 100 native-only series (schema 3), 60
/// one-second epochs of 50 observations in 12 distinct buckets each (within the
/// 16 bins an epoch keeps exactly).
fn native_history(c: &mut Criterion<ThreadCpuTime>) {
    let clock = std::sync::Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(60)).unwrap())
        .build();
    reg.register(lakemetrics_core::Describe::histogram("batch_seconds").native(3))
        .unwrap();
    let series: Vec<_> = (0..100)
        .map(|i| {
            reg.histogram("batch_seconds", &[("service", &format!("s{i}"))])
                .unwrap()
        })
        .collect();
    for t in 0..60u64 {
        for (i, h) in series.iter().enumerate() {
            for k in 0..50u64 {
                h.observe(0.001 * 1.5f64.powi(((t + i as u64 + k) % 12) as i32));
            }
        }
        clock.advance(Duration::from_secs(1));
    }
    let all = Filter::all();
    let mut g = c.benchmark_group("export_native_history");
    let mut buf = Vec::new();
    for (name, window) in [
        ("lakemetrics_json", None),
        ("lakemetrics_json_window_5s", Some(Duration::from_secs(5))),
        ("lakemetrics_json_window_60s", Some(Duration::from_secs(60))),
    ] {
        peers::bench_render(
            &mut g,
            name,
            &mut buf,
            |o| {
                let text = String::from_utf8_lossy(o);
                let windowed = text.matches("\"window_quantiles\":[[").count();
                assert_eq!(windowed, if window.is_some() { 100 } else { 0 });
                eprintln!("native {name}: {} bytes", o.len());
            },
            |b| {
                let mut e = Exporter::new(Format::Json, b).quantile_window(window);
                e.write_registry(black_box(&reg), &all).unwrap();
                e.finish().unwrap();
            },
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime).configure_from_args();
    targets = export, summary_history, native_history
}
criterion_main!(benches);
