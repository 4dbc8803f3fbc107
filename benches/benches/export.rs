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

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use lakemetrics_benches::shape::Shape;
use lakemetrics_benches::{observations, ThreadCpuTime};
use lakemetrics_core::Filter;

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

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime).configure_from_args();
    targets = export
}
criterion_main!(benches);
