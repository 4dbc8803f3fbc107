//! Recording cost: lakemetrics against its peers and the raw atomic floor, one
//! criterion group per operation, one function per implementation.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p lakemetrics-benches --bench record \
//!     -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Times are the benchmarking thread's CPU time (see
//! `lakemetrics_benches::ThreadCpuTime`: the machine is shared). Every
//! implementation records the same inputs: handles are created once outside
//! the timed loop, inputs go through `black_box` so the compiler cannot fold the
//! lookup or the value, and histogram and summary observations cycle through the
//! same 1,024 values spread over all buckets (see `lakemetrics_benches::values`).
//! Results are in docs/benchmarks.md.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use lakemetrics_benches::{observations, RawHistogram, ThreadCpuTime, OBSERVATION_MASK};
use lakemetrics_core::{start_clock_ticker, Clock, CoarseClock, Registry, DEFAULT_BUCKETS};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Name of the `metrics` histogram that renders as a histogram (the exporter turns
/// every other histogram into a summary).
const METRICS_HISTOGRAM: &str = "bench_histogram_seconds";
/// Name of the `metrics` histogram that renders as a summary.
const METRICS_SUMMARY: &str = "bench_summary_seconds";

/// The process-wide `metrics` recorder (metrics-exporter-prometheus), installed
/// once, as an application would, and its handle for upkeep.
fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(METRICS_HISTOGRAM.into()), &DEFAULT_BUCKETS)
            .expect("non-empty buckets")
            .build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).expect("only recorder of the process");
        handle
    })
}

/// Times `iters` calls of `record(i)` and returns the thread CPU time they took; `upkeep` runs
/// after the timed loop. For `metrics` histograms, whose observations queue up in
/// the recorder until the exporter drains them: without a drain between samples the
/// queue would grow by gigabytes over a run. An application's exporter drains them
/// on every scrape or upkeep tick, off the recording path, so leaving it out of the
/// timing is fair.
fn timed(iters: u64, mut record: impl FnMut(usize), upkeep: impl FnOnce()) -> Duration {
    let start = ThreadCpuTime::now();
    for i in 0..iters {
        record(i as usize & OBSERVATION_MASK);
    }
    let elapsed = ThreadCpuTime::now() - start;
    upkeep();
    elapsed
}

fn counter_inc(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("counter_inc");

    let reg = Registry::new();
    let ours = reg.counter("ops", &[]).unwrap();
    g.bench_function("lakemetrics", |b| b.iter(|| black_box(&ours).inc()));

    // The same handle with the opt-in clock ticker running: the clock read is one
    // load instead of a vDSO call.
    let ticker = start_clock_ticker().unwrap();
    g.bench_function("lakemetrics_ticker", |b| b.iter(|| black_box(&ours).inc()));
    ticker.stop();

    let floor = AtomicU64::new(0);
    g.bench_function("raw_fetch_add", |b| {
        b.iter(|| black_box(&floor).fetch_add(1, Ordering::Relaxed))
    });

    let prom = prometheus::IntCounter::new("ops_total", "Ops.").unwrap();
    g.bench_function("prometheus", |b| b.iter(|| black_box(&prom).inc()));

    let pc = prometheus_client::metrics::counter::Counter::<u64>::default();
    g.bench_function("prometheus_client", |b| b.iter(|| black_box(&pc).inc()));

    metrics_handle();
    let m = metrics::counter!("ops_total");
    g.bench_function("metrics", |b| b.iter(|| black_box(&m).increment(1)));

    let me = measured::Counter::new();
    g.bench_function("measured", |b| b.iter(|| black_box(&me).inc()));

    g.finish();
}

fn gauge_set(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("gauge_set");
    let v = 42.5_f64;

    let reg = Registry::new();
    let ours = reg.gauge("depth", &[]).unwrap();
    g.bench_function("lakemetrics", |b| {
        b.iter(|| black_box(&ours).set(black_box(v)))
    });

    // With the opt-in clock ticker running (see `counter_inc`): without a `lock`
    // instruction to hide behind, the vDSO read shows here.
    let ticker = start_clock_ticker().unwrap();
    g.bench_function("lakemetrics_ticker", |b| {
        b.iter(|| black_box(&ours).set(black_box(v)))
    });
    ticker.stop();

    let floor = AtomicU64::new(0);
    g.bench_function("raw_store", |b| {
        b.iter(|| black_box(&floor).store(black_box(v).to_bits(), Ordering::Relaxed))
    });

    let prom = prometheus::Gauge::new("depth", "Depth.").unwrap();
    g.bench_function("prometheus", |b| {
        b.iter(|| black_box(&prom).set(black_box(v)))
    });

    let pc = prometheus_client::metrics::gauge::Gauge::<f64, AtomicU64>::default();
    g.bench_function("prometheus_client", |b| {
        b.iter(|| black_box(&pc).set(black_box(v)))
    });

    metrics_handle();
    let m = metrics::gauge!("depth");
    g.bench_function("metrics", |b| b.iter(|| black_box(&m).set(black_box(v))));

    let me = measured::FloatGauge::new();
    g.bench_function("measured", |b| b.iter(|| black_box(&me).set(black_box(v))));

    g.finish();
}

fn histogram_observe(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("histogram_observe");
    let vals = observations();

    let reg = Registry::new();
    let ours = reg.histogram("latency_seconds", &[]).unwrap();
    g.bench_function("lakemetrics", |b| {
        b.iter_custom(|n| timed(n, |i| black_box(&ours).observe(black_box(vals[i])), || ()))
    });

    let floor = RawHistogram::new(&DEFAULT_BUCKETS);
    g.bench_function("raw_buckets", |b| {
        b.iter_custom(|n| timed(n, |i| black_box(&floor).observe(black_box(vals[i])), || ()))
    });

    let prom =
        prometheus::Histogram::with_opts(prometheus::HistogramOpts::new("latency", "L.")).unwrap();
    g.bench_function("prometheus", |b| {
        b.iter_custom(|n| timed(n, |i| black_box(&prom).observe(black_box(vals[i])), || ()))
    });

    let pc = prometheus_client::metrics::histogram::Histogram::new(DEFAULT_BUCKETS);
    g.bench_function("prometheus_client", |b| {
        b.iter_custom(|n| timed(n, |i| black_box(&pc).observe(black_box(vals[i])), || ()))
    });

    let handle = metrics_handle();
    let m = metrics::histogram!(METRICS_HISTOGRAM);
    g.bench_function("metrics", |b| {
        b.iter_custom(|n| {
            timed(
                n,
                |i| black_box(&m).record(black_box(vals[i])),
                || handle.run_upkeep(),
            )
        })
    });

    let me = measured::Histogram::with_metadata(
        measured::metric::histogram::Thresholds::<11>::with_buckets(DEFAULT_BUCKETS),
    );
    g.bench_function("measured", |b| {
        b.iter_custom(|n| {
            timed(
                n,
                |i| black_box(&me).get_metric().observe(black_box(vals[i])),
                || (),
            )
        })
    });

    g.finish();
}

fn summary_observe(c: &mut Criterion<ThreadCpuTime>) {
    // Neither `prometheus`, `prometheus-client` nor `measured` has a summary.
    let mut g = c.benchmark_group("summary_observe");
    let vals = observations();

    let reg = Registry::new();
    let ours = reg.summary("latency_seconds", &[]).unwrap();
    g.bench_function("lakemetrics", |b| {
        b.iter_custom(|n| timed(n, |i| black_box(&ours).observe(black_box(vals[i])), || ()))
    });

    let handle = metrics_handle();
    let m = metrics::histogram!(METRICS_SUMMARY);
    g.bench_function("metrics", |b| {
        b.iter_custom(|n| {
            timed(
                n,
                |i| black_box(&m).record(black_box(vals[i])),
                || handle.run_upkeep(),
            )
        })
    });

    g.finish();
}

/// `prometheus-client`'s label set for the labeled path: borrowed `'static`
/// strings, the cheapest key it accepts (an owned `Vec<(String, String)>` would
/// allocate on every lookup).
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct RequestLabels {
    handler: &'static str,
    status: &'static str,
}

/// `measured`'s label group with values interned on first use (any `&str`, as in
/// our lookup).
#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = RequestSetDynamic)]
struct RequestDynamic<'a> {
    #[label(dynamic_with = measured::lasso::ThreadedRodeo, default)]
    handler: &'a str,
    #[label(dynamic_with = measured::lasso::ThreadedRodeo, default)]
    status: &'a str,
}

/// `measured`'s label group with values fixed at startup: its fastest string path.
#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = RequestSetFixed)]
struct RequestFixed<'a> {
    #[label(fixed_with = measured::lasso::RodeoReader)]
    handler: &'a str,
    #[label(fixed_with = measured::lasso::RodeoReader)]
    status: &'a str,
}

/// Our typed label set for the labeled path: the handler and status as enums
/// (`#[derive(LabelSet)]`), every series created up front, found by index.
#[derive(Clone, Copy, lakemetrics_derive::LabelValue)]
#[label(crate = lakemetrics_core)]
// Only `Csv` is recorded; the others make the set's six series, as in
// `measured`'s (whose derive also constructs them, so it is not warned).
#[allow(dead_code)]
enum HandlerLabel {
    Csv,
    Json,
    Parquet,
}

/// See [`HandlerLabel`].
#[derive(Clone, Copy, lakemetrics_derive::LabelValue)]
#[label(crate = lakemetrics_core)]
#[allow(dead_code)]
enum StatusLabel {
    Ok,
    Error,
}

/// See [`HandlerLabel`].
#[derive(Clone, Copy, lakemetrics_derive::LabelSet)]
#[label(crate = lakemetrics_core)]
struct RequestTyped {
    handler: HandlerLabel,
    status: StatusLabel,
}

/// The status alone, beside a handler learned at run time.
#[derive(Clone, Copy, lakemetrics_derive::LabelSet)]
#[label(crate = lakemetrics_core)]
struct StatusOnly {
    status: StatusLabel,
}

/// `measured`'s enum label set: the same two labels as
/// `FixedCardinalityLabel` enums, its fastest labeled path.
#[derive(Clone, Copy, PartialEq, Debug, measured::FixedCardinalityLabel)]
enum MeasuredHandler {
    Csv,
    Json,
    Parquet,
}

/// See [`MeasuredHandler`].
#[derive(Clone, Copy, PartialEq, Debug, measured::FixedCardinalityLabel)]
enum MeasuredStatus {
    Ok,
    Error,
}

/// See [`MeasuredHandler`].
#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = RequestSetEnum)]
struct RequestEnum {
    handler: MeasuredHandler,
    status: MeasuredStatus,
}

fn labeled_inc(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("labeled_lookup_inc");
    let (handler, status) = ("csv", "ok");

    let reg = Registry::new();
    reg.counter("requests", &[("handler", handler), ("status", status)])
        .unwrap();
    g.bench_function("lakemetrics", |b| {
        b.iter(|| {
            black_box(&reg)
                .counter(
                    black_box("requests"),
                    black_box(&[("handler", handler), ("status", status)]),
                )
                .unwrap()
                .inc()
        })
    });

    // The closure form: no handle taken, so no reference-count traffic.
    g.bench_function("lakemetrics_with", |b| {
        b.iter(|| {
            black_box(&reg)
                .with_counter(
                    black_box("requests"),
                    black_box(&[("handler", handler), ("status", status)]),
                    |c| c.inc(),
                )
                .unwrap()
        })
    });

    // A 'static call site (literal name and label array): recognized by address.
    g.bench_function("lakemetrics_with_static", |b| {
        b.iter(|| {
            black_box(&reg)
                .with_counter_static(
                    black_box("requests"),
                    black_box(&[("handler", "csv"), ("status", "ok")]),
                    |c| c.inc(),
                )
                .unwrap()
        })
    });

    let prom = prometheus::IntCounterVec::new(
        prometheus::Opts::new("requests_total", "Requests."),
        &["handler", "status"],
    )
    .unwrap();
    prom.with_label_values(&[handler, status]).inc();
    g.bench_function("prometheus", |b| {
        b.iter(|| {
            black_box(&prom)
                .with_label_values(black_box(&[handler, status]))
                .inc()
        })
    });

    let pc = prometheus_client::metrics::family::Family::<
        RequestLabels,
        prometheus_client::metrics::counter::Counter,
    >::default();
    let pc_labels = RequestLabels { handler, status };
    pc.get_or_create(&pc_labels).inc();
    g.bench_function("prometheus_client", |b| {
        b.iter(|| black_box(&pc).get_or_create(black_box(&pc_labels)).inc())
    });

    metrics_handle();
    metrics::counter!("requests_total", "handler" => "csv", "status" => "ok").increment(1);
    g.bench_function("metrics", |b| {
        b.iter(|| {
            metrics::counter!("requests_total", "handler" => "csv", "status" => "ok").increment(1)
        })
    });

    let me_dyn = measured::CounterVec::with_label_set(RequestSetDynamic::default());
    me_dyn.inc(RequestDynamic { handler, status });
    g.bench_function("measured_dynamic", |b| {
        b.iter(|| {
            black_box(&me_dyn).inc(black_box(RequestDynamic { handler, status }));
        })
    });

    let me_fixed = measured::CounterVec::with_label_set(RequestSetFixed::new(
        measured::lasso::Rodeo::from_iter(["csv", "json", "parquet"]).into_reader(),
        measured::lasso::Rodeo::from_iter(["ok", "error"]).into_reader(),
    ));
    g.bench_function("measured_fixed", |b| {
        b.iter(|| {
            black_box(&me_fixed).inc(black_box(RequestFixed { handler, status }));
        })
    });

    // Typed label sets: the label set is a value of a derived type; its series
    // were created when the family was taken, so `get` is an array index.
    let typed = reg
        .typed_counter::<RequestTyped>("requests_typed", &[])
        .unwrap();
    let typed_labels = RequestTyped {
        handler: HandlerLabel::Csv,
        status: StatusLabel::Ok,
    };
    g.bench_function("lakemetrics_typed", |b| {
        b.iter(|| black_box(&typed).get(black_box(&typed_labels)).inc())
    });
    // The same with the opt-in clock ticker: the clock read (for the history
    // `measured` does not keep) is one load instead of a vDSO call.
    let ticker = start_clock_ticker().unwrap();
    g.bench_function("lakemetrics_typed_ticker", |b| {
        b.iter(|| black_box(&typed).get(black_box(&typed_labels)).inc())
    });
    ticker.stop();

    // A run-time value (the handler) interned once, the status typed.
    let dynamic = reg
        .dynamic_counter::<StatusOnly>("requests_dynamic", &[], "handler")
        .unwrap();
    let csv = dynamic.intern(handler).unwrap();
    g.bench_function("lakemetrics_dynamic", |b| {
        b.iter(|| {
            black_box(&csv)
                .get(black_box(&StatusOnly {
                    status: StatusLabel::Ok,
                }))
                .inc()
        })
    });

    let me_enum = measured::CounterVec::with_label_set(RequestSetEnum::new());
    g.bench_function("measured_enum", |b| {
        b.iter(|| {
            black_box(&me_enum).inc(black_box(RequestEnum {
                handler: MeasuredHandler::Csv,
                status: MeasuredStatus::Ok,
            }));
        })
    });

    // Two threads on one series: a second thread increments the same series
    // all through each timed loop (only the timing thread's CPU time counts),
    // so the series' cache line moves between cores. Meaningful only when the
    // machine has a core free for the second thread.
    fn contended(b: &mut criterion::Bencher<'_, ThreadCpuTime>, f: &(dyn Fn() + Sync)) {
        b.iter_custom(|n| {
            let stop = std::sync::atomic::AtomicBool::new(false);
            std::thread::scope(|s| {
                s.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        f()
                    }
                });
                let elapsed = timed(n, |_| f(), || ());
                stop.store(true, Ordering::Relaxed);
                elapsed
            })
        })
    }
    g.bench_function("lakemetrics_typed_2_threads", |b| {
        contended(b, &|| black_box(&typed).get(black_box(&typed_labels)).inc())
    });
    let ticker = start_clock_ticker().unwrap();
    g.bench_function("lakemetrics_typed_ticker_2_threads", |b| {
        contended(b, &|| black_box(&typed).get(black_box(&typed_labels)).inc())
    });
    ticker.stop();
    g.bench_function("measured_enum_2_threads", |b| {
        contended(b, &|| {
            black_box(&me_enum).inc(black_box(RequestEnum {
                handler: MeasuredHandler::Csv,
                status: MeasuredStatus::Ok,
            }))
        })
    });

    g.finish();
}

fn clock_now(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("clock_now");

    // The default: a vDSO read of CLOCK_MONOTONIC_COARSE plus the wall offset.
    let coarse = CoarseClock::new();
    g.bench_function("lakemetrics_coarse", |b| {
        b.iter(|| black_box(&coarse).now_nanos())
    });

    // With the opt-in ticker running: one load of the word it refreshes.
    let ticker = start_clock_ticker().unwrap();
    g.bench_function("lakemetrics_coarse_ticker", |b| {
        b.iter(|| black_box(&coarse).now_nanos())
    });
    ticker.stop();

    g.bench_function("instant_now", |b| b.iter(Instant::now));
    g.bench_function("system_time_now", |b| b.iter(SystemTime::now));

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
    targets = counter_inc, gauge_set, histogram_observe, summary_observe, labeled_inc, clock_now
}
criterion_main!(benches);
