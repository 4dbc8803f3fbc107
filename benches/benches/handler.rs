//! `lakemetrics-handler`: the cost of timing one batch (start and outcome) and of
//! a windowed `health` query, with the floors and a peer beside them.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p lakemetrics-benches --bench handler \
//!     -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! `timer_cycle` times `let t = h.start(); t.success()`: an `Instant` read at
//! start and end, one histogram observation and one counter increment. Beside it:
//! the same work done by hand on core handles (`core_handles`, the floor of the
//! layer), the `prometheus` crate's `HistogramTimer` plus an `IntCounter`
//! (`prometheus`), and failures of a kind registered up front and of one learned
//! at run time; `instant_pair` is the two clock reads alone. `health` times
//! `h.health(10 s)` on a handler with traffic in every second of the window, with
//! ten-second epochs (the registry's default) and one-second epochs, both over
//! ten minutes. Times are the thread's CPU time
//! (`lakemetrics_benches::ThreadCpuTime`: the machine is shared). Results are in
//! docs/benchmarks.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use lakemetrics_benches::ThreadCpuTime;
use lakemetrics_core::{Registry, Retention};
use lakemetrics_handler::{HandlerMetrics, DEFAULT_DURATION_BOUNDS};

fn registry() -> Registry {
    Registry::builder()
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(600)).unwrap())
        .build()
}

fn handler(reg: &Registry) -> HandlerMetrics {
    HandlerMetrics::builder(reg, "csv")
        .error_kinds(["parse_error", "schema_mismatch", "io_timed_out"])
        .latency_retention(Retention::new(Duration::from_secs(1), Duration::from_secs(12)).unwrap())
        .build()
        .unwrap()
}

fn timer_cycle(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("timer_cycle");
    let reg = registry();
    let h = handler(&reg);
    g.bench_function("lakemetrics_handler", |b| {
        b.iter(|| {
            let t = black_box(&h).start();
            t.success();
        })
    });

    g.bench_function("instant_pair", |b| {
        b.iter(|| {
            let start = Instant::now();
            black_box(start.elapsed())
        })
    });

    let hist = reg
        .histogram("floor_batch_duration_seconds", &[("handler", "csv")])
        .unwrap();
    let ok = reg
        .counter(
            "floor_batches_total",
            &[("handler", "csv"), ("outcome", "success")],
        )
        .unwrap();
    g.bench_function("core_handles", |b| {
        b.iter(|| {
            let start = Instant::now();
            black_box(&hist).observe_duration(start.elapsed());
            black_box(&ok).inc();
        })
    });

    let prom_hist = prometheus::Histogram::with_opts(
        prometheus::HistogramOpts::new("batch_duration_seconds", "Batch time.")
            .buckets(DEFAULT_DURATION_BOUNDS.to_vec()),
    )
    .unwrap();
    let prom_ok = prometheus::IntCounter::new("batches_total", "Batches.").unwrap();
    g.bench_function("prometheus", |b| {
        b.iter(|| {
            let t = black_box(&prom_hist).start_timer();
            t.observe_duration();
            black_box(&prom_ok).inc();
        })
    });

    g.bench_function("lakemetrics_handler_failure_known_kind", |b| {
        b.iter(|| black_box(&h).start().failure(black_box("io_timed_out")))
    });
    h.start().failure("throttled");
    g.bench_function("lakemetrics_handler_failure_learned_kind", |b| {
        b.iter(|| black_box(&h).start().failure(black_box("throttled")))
    });
    g.finish();
}

fn record_batch(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("record_batch");
    let reg = registry();
    let h = handler(&reg);
    g.bench_function("lakemetrics_handler", |b| {
        b.iter(|| black_box(&h).record_batch(black_box(256 * 1024), black_box(2_000)))
    });
    g.finish();
}

fn health(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("health");
    // Ten-second epochs over ten minutes (the registry's default: 60 counter
    // slots), and one-second epochs over ten minutes (600 slots).
    for (label, resolution) in [("10s_epochs", 10), ("1s_epochs", 1)] {
        let reg = Registry::builder()
            .retention(
                Retention::new(Duration::from_secs(resolution), Duration::from_secs(600)).unwrap(),
            )
            .build();
        let h = HandlerMetrics::builder(&reg, "csv")
            .error_kinds(["parse_error"])
            .build()
            .unwrap();
        // Traffic in every one-second epoch of the 10 s window: the clock is
        // real, so spread the recordings over 12 s of wall time (once per setup).
        let start = Instant::now();
        let mut i = 0u64;
        while start.elapsed() < Duration::from_secs(12) {
            for j in 0..100 {
                let t = h.start();
                h.record_batch(4096 + i, 10);
                if j == 0 || j == 50 {
                    t.failure("parse_error");
                } else {
                    t.success();
                }
                i += 1;
            }
            h.set_queue_depth(i % 64);
            std::thread::sleep(Duration::from_millis(10));
        }
        let w = Duration::from_secs(10);
        g.bench_function(format!("lakemetrics_handler_{label}"), |b| {
            b.iter(|| black_box(black_box(&h).health(black_box(w))))
        });
    }
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
    targets = timer_cycle, record_batch, health
}
criterion_main!(benches);
