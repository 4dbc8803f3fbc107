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
//! Results are in docs/benchmarks.md: `benches/report` runs this suite with fixed
//! settings and rewrites its recording tables there. The `contended_*` groups run
//! two threads on one series (`lakemetrics_benches::on_two_threads`).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use lakemetrics_benches::{
    observations, on_two_threads, RawHistogram, ThreadCpuTime, OBSERVATION_MASK,
};
use lakemetrics_core::{
    start_clock_ticker, Clock, CoarseClock, Describe, Registry, DEFAULT_BUCKETS,
};
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
/// strings, the cheapest key it accepts.
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

/// `measured`'s label values as enums: a label set is a dense index, no strings
/// and no hashing at all (its fastest labeled path).
#[derive(Clone, Copy, Debug, PartialEq, measured::FixedCardinalityLabel)]
#[label(rename_all = "snake_case")]
enum Handler {
    Csv,
    Json,
    Parquet,
}

/// See [`Handler`].
#[derive(Clone, Copy, Debug, PartialEq, measured::FixedCardinalityLabel)]
#[label(rename_all = "snake_case")]
enum Status {
    Ok,
    Error,
}

/// `measured`'s label group of [`Handler`] and [`Status`].
#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = RequestSetEnum)]
struct RequestEnum {
    handler: Handler,
    status: Status,
}

/// Our typed label set of the same two labels: enums (`#[derive(LabelValue)]`)
/// in a `#[derive(LabelSet)]` struct, every series created when the family is
/// taken, found by index.
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

/// The label set every labeled row looks up: `handler="csv", status="ok"`,
/// existing before the timing starts.
const HANDLER: &str = "csv";
/// See [`HANDLER`].
const STATUS: &str = "ok";

/// A `prometheus-client` counter family keyed by `L`.
type PcFamily<L> =
    prometheus_client::metrics::family::Family<L, prometheus_client::metrics::counter::Counter>;

/// Every implementation's labeled counter family, each holding the series
/// `{handler="csv", status="ok"}`, shared by the single-threaded and the
/// contended labeled rows.
struct Labeled {
    reg: Registry,
    prom: prometheus::IntCounterVec,
    pc: PcFamily<RequestLabels>,
    pc_vec: PcFamily<Vec<(String, String)>>,
    pc_vec_key: Vec<(String, String)>,
    me_dyn: measured::CounterVec<RequestSetDynamic>,
    me_fixed: measured::CounterVec<RequestSetFixed>,
    me_enum: measured::CounterVec<RequestSetEnum>,
    /// Ours, typed: the six series of [`RequestTyped`].
    typed: lakemetrics_core::TypedCounter<RequestTyped>,
    /// Ours, the handler a run-time value interned once, the status typed.
    dynamic_csv: lakemetrics_core::DynamicValue<lakemetrics_core::Counter, StatusOnly>,
    /// The label values again, in heap `String`s.
    heap_values: (String, String),
}

impl Labeled {
    fn new() -> Labeled {
        let (handler, status) = (HANDLER, STATUS);
        let reg = Registry::new();
        reg.counter("requests", &[("handler", handler), ("status", status)])
            .unwrap();
        let prom = prometheus::IntCounterVec::new(
            prometheus::Opts::new("requests_total", "Requests."),
            &["handler", "status"],
        )
        .unwrap();
        prom.with_label_values(&[handler, status]).inc();
        let pc = PcFamily::<RequestLabels>::default();
        pc.get_or_create(&RequestLabels { handler, status }).inc();
        let pc_vec = PcFamily::<Vec<(String, String)>>::default();
        let pc_vec_key = vec![
            ("handler".to_owned(), handler.to_owned()),
            ("status".to_owned(), status.to_owned()),
        ];
        pc_vec.get_or_create(&pc_vec_key).inc();
        metrics_handle();
        metrics::counter!("requests_total", "handler" => "csv", "status" => "ok").increment(1);
        let me_dyn = measured::CounterVec::with_label_set(RequestSetDynamic::default());
        me_dyn.inc(RequestDynamic { handler, status });
        let me_fixed = measured::CounterVec::with_label_set(RequestSetFixed::new(
            measured::lasso::Rodeo::from_iter(["csv", "json", "parquet"]).into_reader(),
            measured::lasso::Rodeo::from_iter(["ok", "error"]).into_reader(),
        ));
        let me_enum = measured::CounterVec::with_label_set(RequestSetEnum::new());
        let typed = reg
            .typed_counter::<RequestTyped>("requests_typed", &[])
            .unwrap();
        let dynamic_csv = reg
            .dynamic_counter::<StatusOnly>("requests_dynamic", &[], "handler")
            .unwrap()
            .intern(handler)
            .unwrap();
        Labeled {
            typed,
            dynamic_csv,
            reg,
            prom,
            pc,
            pc_vec,
            pc_vec_key,
            me_dyn,
            me_fixed,
            me_enum,
            heap_values: (handler.to_owned(), status.to_owned()),
        }
    }

    /// Adds every implementation's row to `g`: one lookup + increment per
    /// iteration, on this thread or (`contended`) on two at once. Label values
    /// are `&str` passed through `black_box` (so the compiler cannot treat them
    /// as constants) wherever the implementation takes strings: string literals,
    /// as most call sites pass (a handler's name, a status from a `match`), and,
    /// in `lakemetrics_with_counter_heap_values`, heap `String`s. Each row is its
    /// own closure type, so nothing but the call itself is timed (no virtual
    /// call).
    fn bench(&self, g: &mut BenchmarkGroup<'_, ThreadCpuTime>, contended: bool) {
        fn row(
            g: &mut BenchmarkGroup<'_, ThreadCpuTime>,
            contended: bool,
            name: &str,
            f: impl Fn() + Sync,
        ) {
            if contended {
                g.bench_function(name, |b| b.iter_custom(|n| on_two_threads(n, |_| f())));
            } else {
                g.bench_function(name, |b| b.iter(&f));
            }
        }
        let handler = black_box(HANDLER);
        let status = black_box(STATUS);

        // Ours: the owned handle (`counter()?`), the closure form (no handle
        // taken, so no reference-count traffic), and the closure form for a
        // `'static` call site (literal name and label array, recognized by
        // address). The label array of the first two is built on the stack on
        // every call, from the literals' `&str`s.
        row(g, contended, "lakemetrics_counter", || {
            black_box(&self.reg)
                .counter(
                    black_box("requests"),
                    black_box(&[("handler", handler), ("status", status)]),
                )
                .unwrap()
                .inc()
        });
        row(g, contended, "lakemetrics_with_counter", || {
            black_box(&self.reg)
                .with_counter(
                    black_box("requests"),
                    black_box(&[("handler", handler), ("status", status)]),
                    |c| c.inc(),
                )
                .unwrap()
        });
        // Label values in heap `String`s (parsed from a request, say): not
        // in the binary's read-only data, so a hit compares their bytes.
        let (h, st) = (&self.heap_values.0, &self.heap_values.1);
        row(g, contended, "lakemetrics_with_counter_heap_values", || {
            black_box(&self.reg)
                .with_counter(
                    black_box("requests"),
                    black_box(&[("handler", h.as_str()), ("status", st.as_str())]),
                    |c| c.inc(),
                )
                .unwrap()
        });
        row(g, contended, "lakemetrics_with_counter_static", || {
            black_box(&self.reg)
                .with_counter_static(
                    black_box("requests"),
                    black_box(&[("handler", "csv"), ("status", "ok")]),
                    |c| c.inc(),
                )
                .unwrap()
        });

        // Typed label sets: the label set is a value of a derived type whose
        // series were created when the family was taken, so `get` is an array
        // index; then the same with the opt-in clock ticker (the clock read,
        // for the history `measured` does not keep, is one load instead of a
        // vDSO call); and a run-time value (the handler) interned once.
        let typed_labels = RequestTyped {
            handler: HandlerLabel::Csv,
            status: StatusLabel::Ok,
        };
        row(g, contended, "lakemetrics_typed", || {
            black_box(&self.typed).get(black_box(&typed_labels)).inc()
        });
        let ticker = start_clock_ticker().ok();
        row(g, contended, "lakemetrics_typed_ticker", || {
            black_box(&self.typed).get(black_box(&typed_labels)).inc()
        });
        if let Some(t) = ticker {
            t.stop();
        }
        let status_only = StatusOnly {
            status: StatusLabel::Ok,
        };
        row(g, contended, "lakemetrics_dynamic", || {
            black_box(&self.dynamic_csv)
                .get(black_box(&status_only))
                .inc()
        });

        row(g, contended, "prometheus", || {
            black_box(&self.prom)
                .with_label_values(black_box(&[handler, status]))
                .inc()
        });
        row(g, contended, "prometheus_client", || {
            black_box(&self.pc)
                .get_or_create(black_box(&RequestLabels { handler, status }))
                .inc();
        });
        // A dynamic label set as `Vec<(String, String)>`, built once: building it
        // per call would also allocate four strings and a vector.
        row(g, contended, "prometheus_client_vec_string", || {
            black_box(&self.pc_vec)
                .get_or_create(black_box(&self.pc_vec_key))
                .inc();
        });
        // `metrics`' macro with literal labels: the key is built from `'static`
        // parts and looked up in the recorder's registry.
        row(g, contended, "metrics", || {
            metrics::counter!("requests_total", "handler" => "csv", "status" => "ok").increment(1)
        });
        row(g, contended, "measured_str_dynamic", || {
            black_box(&self.me_dyn).inc(black_box(RequestDynamic { handler, status }))
        });
        row(g, contended, "measured_str_fixed", || {
            black_box(&self.me_fixed).inc(black_box(RequestFixed { handler, status }))
        });
        row(g, contended, "measured_enum", || {
            black_box(&self.me_enum).inc(black_box(RequestEnum {
                handler: Handler::Csv,
                status: Status::Ok,
            }))
        });
    }
}

fn labeled_inc(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("labeled_lookup_inc");
    Labeled::new().bench(&mut g, false);
    g.finish();
}

fn contended_labeled_inc(c: &mut Criterion<ThreadCpuTime>) {
    // Two threads looking up and incrementing the same series.
    let mut g = c.benchmark_group("contended_labeled_inc");
    Labeled::new().bench(&mut g, true);
    g.finish();
}

fn contended_counter_inc(c: &mut Criterion<ThreadCpuTime>) {
    // Two threads incrementing one series: the cache line holding the count
    // moves between the cores on every increment.
    let mut g = c.benchmark_group("contended_counter_inc");

    let reg = Registry::new();
    let ours = reg.counter("ops", &[]).unwrap();
    g.bench_function("lakemetrics", |b| {
        b.iter_custom(|n| on_two_threads(n, |_| black_box(&ours).inc()))
    });

    // A striped series (`Describe::striped`): each thread adds to its own
    // stripe; then the same with the opt-in clock ticker running (the clock
    // read is one load instead of a vDSO call).
    reg.register(Describe::counter("ops_striped").striped())
        .unwrap();
    let striped = reg.counter("ops_striped", &[]).unwrap();
    g.bench_function("lakemetrics_striped", |b| {
        b.iter_custom(|n| on_two_threads(n, |_| black_box(&striped).inc()))
    });
    let ticker = start_clock_ticker().unwrap();
    g.bench_function("lakemetrics_striped_ticker", |b| {
        b.iter_custom(|n| on_two_threads(n, |_| black_box(&striped).inc()))
    });
    ticker.stop();

    let floor = AtomicU64::new(0);
    g.bench_function("raw_fetch_add", |b| {
        b.iter_custom(|n| {
            on_two_threads(n, |_| {
                black_box(&floor).fetch_add(1, Ordering::Relaxed);
            })
        })
    });

    let prom = prometheus::IntCounter::new("ops_total", "Ops.").unwrap();
    g.bench_function("prometheus", |b| {
        b.iter_custom(|n| on_two_threads(n, |_| black_box(&prom).inc()))
    });

    let pc = prometheus_client::metrics::counter::Counter::<u64>::default();
    g.bench_function("prometheus_client", |b| {
        b.iter_custom(|n| {
            on_two_threads(n, |_| {
                black_box(&pc).inc();
            })
        })
    });

    metrics_handle();
    let m = metrics::counter!("ops_total");
    g.bench_function("metrics", |b| {
        b.iter_custom(|n| on_two_threads(n, |_| black_box(&m).increment(1)))
    });

    let me = measured::Counter::new();
    g.bench_function("measured", |b| {
        b.iter_custom(|n| on_two_threads(n, |_| black_box(&me).inc()))
    });

    g.finish();
}

fn contended_histogram_observe(c: &mut Criterion<ThreadCpuTime>) {
    // Two threads observing into one series (the same values, each thread
    // cycling through them).
    let mut g = c.benchmark_group("contended_histogram_observe");
    let vals = observations();
    let vals = &vals;

    let reg = Registry::new();
    let ours = reg.histogram("latency_seconds", &[]).unwrap();
    g.bench_function("lakemetrics", |b| {
        b.iter_custom(|n| on_two_threads(n, |i| black_box(&ours).observe(black_box(vals[i]))))
    });

    reg.register(Describe::histogram("latency_striped_seconds").striped())
        .unwrap();
    let striped = reg.histogram("latency_striped_seconds", &[]).unwrap();
    g.bench_function("lakemetrics_striped", |b| {
        b.iter_custom(|n| on_two_threads(n, |i| black_box(&striped).observe(black_box(vals[i]))))
    });

    let floor = RawHistogram::new(&DEFAULT_BUCKETS);
    g.bench_function("raw_buckets", |b| {
        b.iter_custom(|n| on_two_threads(n, |i| black_box(&floor).observe(black_box(vals[i]))))
    });

    let prom =
        prometheus::Histogram::with_opts(prometheus::HistogramOpts::new("latency", "L.")).unwrap();
    g.bench_function("prometheus", |b| {
        b.iter_custom(|n| on_two_threads(n, |i| black_box(&prom).observe(black_box(vals[i]))))
    });

    let pc = prometheus_client::metrics::histogram::Histogram::new(DEFAULT_BUCKETS);
    g.bench_function("prometheus_client", |b| {
        b.iter_custom(|n| on_two_threads(n, |i| black_box(&pc).observe(black_box(vals[i]))))
    });

    let handle = metrics_handle();
    let m = metrics::histogram!(METRICS_HISTOGRAM);
    g.bench_function("metrics", |b| {
        b.iter_custom(|n| {
            let t = on_two_threads(n, |i| black_box(&m).record(black_box(vals[i])));
            // As in `histogram_observe`: drain the queue outside the timing.
            handle.run_upkeep();
            t
        })
    });

    let me = measured::Histogram::with_metadata(
        measured::metric::histogram::Thresholds::<11>::with_buckets(DEFAULT_BUCKETS),
    );
    g.bench_function("measured", |b| {
        b.iter_custom(|n| {
            on_two_threads(n, |i| {
                black_box(&me).get_metric().observe(black_box(vals[i]))
            })
        })
    });

    g.finish();
}

fn clock_now(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("clock_now");

    // The default: CLOCK_MONOTONIC_COARSE read from the kernel's time data page
    // (or, where that page is not recognised, through the vDSO) plus the wall
    // offset.
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

    // The call the default clock made before it read the kernel's page: libc's
    // `clock_gettime(CLOCK_MONOTONIC_COARSE)` (the vDSO behind a wrapper).
    g.bench_function("libc_clock_gettime_coarse", |b| {
        b.iter(|| {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: a valid, writable timespec.
            #[allow(unsafe_code)]
            unsafe {
                libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, black_box(&mut ts))
            };
            ts.tv_nsec
        })
    });

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
    targets = counter_inc, gauge_set, histogram_observe, summary_observe, labeled_inc,
        contended_counter_inc, contended_histogram_observe, contended_labeled_inc, clock_now
}
criterion_main!(benches);
