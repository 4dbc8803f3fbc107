//! Export cost: rendering one registry as text, in lakemetrics and in each peer.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p lakemetrics-benches --bench export \
//!     -- --warm-up-time 1 --measurement-time 3
//! ```
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
    lakemetrics_export::write_prometheus(&reg, &all, &mut buf).unwrap();
    shape.check("lakemetrics", &buf);
    g.bench_function("lakemetrics", |b| {
        b.iter(|| {
            buf.clear();
            lakemetrics_export::write_prometheus(black_box(&reg), &all, &mut buf).unwrap();
            black_box(buf.len())
        })
    });
    buf.clear();
    lakemetrics_export::write_openmetrics(&reg, &all, &mut buf).unwrap();
    eprintln!("lakemetrics_openmetrics: {} bytes", buf.len());
    g.bench_function("lakemetrics_openmetrics", |b| {
        b.iter(|| {
            buf.clear();
            lakemetrics_export::write_openmetrics(black_box(&reg), &all, &mut buf).unwrap();
            black_box(buf.len())
        })
    });
    buf.clear();
    lakemetrics_export::write_json(&reg, &all, &mut buf).unwrap();
    eprintln!("lakemetrics_json: {} bytes", buf.len());
    g.bench_function("lakemetrics_json", |b| {
        b.iter(|| {
            buf.clear();
            lakemetrics_export::write_json(black_box(&reg), &all, &mut buf).unwrap();
            black_box(buf.len())
        })
    });
    drop(reg);

    let prom = peers::prometheus_registry(&shape, &vals);
    buf.clear();
    peers::prometheus_render(&prom, &mut buf);
    shape.check("prometheus", &buf);
    g.bench_function("prometheus", |b| {
        b.iter(|| {
            buf.clear();
            peers::prometheus_render(black_box(&prom), &mut buf);
            black_box(buf.len())
        })
    });
    drop(prom);

    // prometheus-client writes OpenMetrics text only (there is no 0.0.4 writer).
    let pc = peers::prometheus_client_registry(&shape, &vals);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &pc).unwrap();
    shape.check("prometheus_client", text.as_bytes());
    g.bench_function("prometheus_client", |b| {
        b.iter(|| {
            text.clear();
            prometheus_client::encoding::text::encode(&mut text, black_box(&pc)).unwrap();
            black_box(text.len())
        })
    });
    drop(pc);

    let handle = peers::metrics_recorder(&shape, &vals);
    buf.clear();
    handle.render_to_write(&mut buf).unwrap();
    shape.check("metrics", &buf);
    g.bench_function("metrics", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&handle).render_to_write(&mut buf).unwrap();
            black_box(buf.len())
        })
    });
    drop(handle);

    let me = peers::measured_metrics(&shape, &vals);
    buf.clear();
    peers::measured_render(&me, &mut buf);
    shape.check("measured", &buf);
    g.bench_function("measured", |b| {
        b.iter(|| {
            buf.clear();
            peers::measured_render(&me, black_box(&mut buf));
            black_box(buf.len())
        })
    });

    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime).configure_from_args();
    targets = export
}
criterion_main!(benches);
