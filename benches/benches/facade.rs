//! `counter!` through the `metrics` facade: lakemetrics' recorder
//! (`lakemetrics-metrics`) against `metrics-exporter-prometheus`' recorder, in
//! the same run, with lakemetrics' own handle as the floor.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p lakemetrics-benches --bench facade \
//!     -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Two groups: `facade_counter_handle` increments a handle registered once
//! (`let c = counter!(...); c.increment(1)`: one virtual call into the
//! recorder's handle), and `facade_counter_macro` runs the macro with two
//! literal labels every time (`counter!("requests_total", "handler" => "csv",
//! "status" => "ok").increment(1)`: the call site's static key looked up in the
//! recorder, then the increment). Each recorder is the thread's local recorder
//! (`metrics::with_local_recorder`), so both run in one process without either
//! being the global one; a global recorder is reached with one atomic load
//! instead of the thread-local read, the same for both. Times are thread CPU
//! time (`lakemetrics_benches::ThreadCpuTime`). Results in docs/benchmarks.md.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use lakemetrics_benches::ThreadCpuTime;
use lakemetrics_core::Registry;
use lakemetrics_metrics::LakemetricsRecorder;
use metrics_exporter_prometheus::PrometheusBuilder;

fn counter_handle(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("facade_counter_handle");

    let reg = Registry::new();
    let ours = LakemetricsRecorder::new(&reg);
    let h = metrics::with_local_recorder(&ours, || metrics::counter!("ops_total"));
    g.bench_function("lakemetrics", |b| b.iter(|| black_box(&h).increment(1)));

    let prom = PrometheusBuilder::new().build_recorder();
    let h = metrics::with_local_recorder(&prom, || metrics::counter!("ops_total"));
    g.bench_function("metrics_exporter_prometheus", |b| {
        b.iter(|| black_box(&h).increment(1))
    });

    // The floor: lakemetrics' own handle, without the facade's virtual call.
    let native = reg.counter("native_total", &[]).unwrap();
    g.bench_function("lakemetrics_native", |b| {
        b.iter(|| black_box(&native).inc())
    });

    g.finish();
}

fn counter_macro(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("facade_counter_macro");

    let reg = Registry::new();
    let ours = LakemetricsRecorder::new(&reg);
    metrics::with_local_recorder(&ours, || {
        g.bench_function("lakemetrics", |b| {
            b.iter(|| {
                metrics::counter!("requests_total", "handler" => "csv", "status" => "ok")
                    .increment(1)
            })
        });
    });
    assert!(
        reg.counter("requests_total", &[("handler", "csv"), ("status", "ok")])
            .unwrap()
            .get()
            > 0
    );

    let prom = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&prom, || {
        g.bench_function("metrics_exporter_prometheus", |b| {
            b.iter(|| {
                metrics::counter!("requests_total", "handler" => "csv", "status" => "ok")
                    .increment(1)
            })
        });
    });

    // The floor: lakemetrics' own `'static` call-site lookup.
    g.bench_function("lakemetrics_native_with_static", |b| {
        b.iter(|| {
            black_box(&reg)
                .with_counter_static(
                    "native_requests",
                    &[("handler", "csv"), ("status", "ok")],
                    |c| c.inc(),
                )
                .unwrap()
        })
    });

    g.finish();
}

fn config() -> Criterion<ThreadCpuTime> {
    Criterion::default()
        .with_measurement(ThreadCpuTime)
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = counter_handle, counter_macro
}
criterion_main!(benches);
