//! Text render per series at 10,000, 100,000 and 1,000,000 series, in lakemetrics
//! and in each peer, and lakemetrics' JSON export with a full window of history
//! beside its text render of the same registry.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p lakemetrics-benches --bench render_scale \
//!     -- --warm-up-time 1 --measurement-time 3
//! python3 benches/scripts/table.py /work/target-bench/criterion \
//!     render_text_10000 render_text_100000 render_text_1000000 \
//!     render_json_history_10000 render_json_history_100000
//! ```
//!
//! Every implementation holds `Shape::counters(n)`: 10 counter families of `n / 10`
//! series (labels `handler` x `status`, `n / 100` x 10 values; the same label sets
//! in every family), help text on each, every series recorded once. At 10,000
//! series this is the counters of `export.rs`' registry. Groups:
//!
//! - `render_text/<n>`: Prometheus 0.0.4 text (`lakemetrics`, `prometheus`,
//!   `metrics`, `measured`) and OpenMetrics text (`lakemetrics_openmetrics`,
//!   `prometheus_client`, which writes nothing else), each into a buffer kept
//!   across iterations (`prometheus` rebuilds its `gather()` snapshot each time,
//!   as on every scrape).
//! - `render_json_history/<n>` (10,000 and 100,000 series): lakemetrics only, on
//!   a manual clock, every counter recorded into in each of the 60 ten-second
//!   epochs of the default window; `lakemetrics_json` is `write_json` with
//!   `Filter::all()` (every series' 60 history points), `lakemetrics` the text
//!   render of the same registry, so their ratio comes from one run.
//!
//! Each group reports time per iteration and, through `Throughput::Elements(n)`,
//! per series (`table.py` divides by it). Each registry is built once per group
//! and dropped before the next, and each output is checked to hold every series
//! (and, for JSON, every history point) before timing. Sampling is flat (every
//! sample the same number of iterations) with 50, 20 and 10 samples at the three
//! sizes: one render of 1,000,000 series takes up to seconds in some peers.
//! Times are the benchmarking thread's CPU time (`ThreadCpuTime`).
//!
//! `LAKEMETRICS_BENCH_SERIES=N[,N..]` (multiples of 100) replaces the sizes. Test
//! mode (`cargo test --benches`: no `--bench`, each body once, unoptimized) uses
//! 10,000 only, so it never builds the large registries. Results are in
//! docs/benchmarks.md.

use std::hint::black_box;

use criterion::measurement::Measurement;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};
use lakemetrics_benches::shape::Shape;
use lakemetrics_benches::{observations, ThreadCpuTime};
use lakemetrics_core::Filter;

mod peers;

/// The largest size the JSON-with-history group runs: a million series with 60
/// history points each would hold 60 million points.
const JSON_MAX_SERIES: usize = 100_000;

/// Whether criterion will time the benches (`cargo bench`), rather than run each
/// once as a test (`cargo test --benches`, or `--test`).
fn benchmarking() -> bool {
    let has = |flag: &str| std::env::args().skip(1).any(|a| a == flag);
    has("--bench") && !has("--test")
}

/// The registry sizes to run.
fn sizes() -> Vec<usize> {
    if !benchmarking() {
        return vec![10_000];
    }
    match std::env::var("LAKEMETRICS_BENCH_SERIES") {
        Ok(v) => v
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .expect("LAKEMETRICS_BENCH_SERIES: comma-separated sizes")
            })
            .collect(),
        Err(_) => vec![10_000, 100_000, 1_000_000],
    }
}

/// A group of `n`-series renders: per-series throughput, flat sampling, fewer
/// samples as one iteration gets longer.
fn group<'a, M: Measurement>(
    c: &'a mut Criterion<M>,
    name: &str,
    n: usize,
) -> BenchmarkGroup<'a, M> {
    let mut g = c.benchmark_group(format!("{name}/{n}"));
    g.throughput(Throughput::Elements(n as u64));
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(if n <= 10_000 {
        50
    } else if n <= 100_000 {
        20
    } else {
        10
    });
    g
}

fn render_text(c: &mut Criterion<ThreadCpuTime>) {
    let vals = observations();
    let all = Filter::all();
    for n in sizes() {
        let shape = Shape::counters(n);
        let mut g = group(c, "render_text", n);
        let mut buf = Vec::new();

        let reg = shape.lakemetrics_registry(&vals);
        peers::bench_render(
            &mut g,
            "lakemetrics",
            &mut buf,
            |o| shape.check("lakemetrics", o),
            |b| lakemetrics_export::write_prometheus(black_box(&reg), &all, b).unwrap(),
        );
        let size = |o: &[u8]| eprintln!("lakemetrics_openmetrics: {} bytes", o.len());
        peers::bench_render(&mut g, "lakemetrics_openmetrics", &mut buf, size, |b| {
            lakemetrics_export::write_openmetrics(black_box(&reg), &all, b).unwrap()
        });
        drop(reg);

        peers::bench_peers(&mut g, &shape, &vals, &mut buf);

        g.finish();
    }
}

fn render_json_history(c: &mut Criterion<ThreadCpuTime>) {
    let vals = observations();
    let all = Filter::all();
    for n in sizes().into_iter().filter(|&n| n <= JSON_MAX_SERIES) {
        let shape = Shape::counters(n);
        let mut g = group(c, "render_json_history", n);
        let reg = shape.history_registry(&vals);
        let mut buf = Vec::new();

        peers::bench_render(
            &mut g,
            "lakemetrics",
            &mut buf,
            |o| shape.check("lakemetrics", o),
            |b| lakemetrics_export::write_prometheus(black_box(&reg), &all, b).unwrap(),
        );
        peers::bench_render(
            &mut g,
            "lakemetrics_json",
            &mut buf,
            |o| shape.check_json_history(o),
            |b| lakemetrics_export::write_json(black_box(&reg), &all, b).unwrap(),
        );

        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime).configure_from_args();
    targets = render_text, render_json_history
}
criterion_main!(benches);
