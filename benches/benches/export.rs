//! Export cost: rendering one registry as text, in lakemetrics and in each peer.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p lakemetrics-benches --bench export \
//!     -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Every implementation holds the same registry (built by [`Shape`]): 10 counter
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
use lakemetrics_benches::{observations, ThreadCpuTime, OBSERVATION_MASK};
use lakemetrics_core::{Describe, Filter, Registry, DEFAULT_BUCKETS};
use measured::metric::group::MetricGroup as _;
use measured::metric::histogram::Thresholds;
use metrics_exporter_prometheus::PrometheusBuilder;

/// The registry every implementation builds.
struct Shape {
    /// `(handler, status)` of every counter series.
    counter_labels: Vec<(String, String)>,
    /// `(handler, status)` of every histogram series.
    histogram_labels: Vec<(String, String)>,
}

const COUNTER_FAMILIES: usize = 10;
const HISTOGRAM_OBSERVATIONS: usize = 20;

impl Shape {
    fn new() -> Shape {
        let pairs = |handlers: usize, statuses: usize| {
            (0..handlers)
                .flat_map(|h| (0..statuses).map(move |s| (format!("h{h:03}"), format!("s{s}"))))
                .collect::<Vec<_>>()
        };
        Shape {
            counter_labels: pairs(100, 10),
            histogram_labels: pairs(10, 10),
        }
    }

    fn counter_name(f: usize) -> String {
        format!("requests_{f}")
    }

    /// Value of the `i`-th series of counter family `f`.
    fn counter_value(f: usize, i: usize) -> u64 {
        (f * 7_919 + i * 104_729) as u64 % 1_000_003
    }

    /// The observations of histogram series `i`.
    fn histogram_values(i: usize, vals: &[f64]) -> impl Iterator<Item = f64> + '_ {
        (0..HISTOGRAM_OBSERVATIONS)
            .map(move |k| vals[(i * HISTOGRAM_OBSERVATIONS + k) & OBSERVATION_MASK])
    }

    fn series(&self) -> usize {
        COUNTER_FAMILIES * self.counter_labels.len() + self.histogram_labels.len()
    }
}

/// Checks that `text` holds one sample line per counter series and a `_count` line
/// per histogram series, so every implementation renders the same registry.
fn check(what: &str, text: &[u8], shape: &Shape) {
    let text = std::str::from_utf8(text).expect("UTF-8");
    let counters = text
        .lines()
        .filter(|l| l.starts_with("requests_") && !l.starts_with('#'))
        .count();
    let histograms = text
        .lines()
        .filter(|l| l.starts_with("latency_seconds_count"))
        .count();
    assert_eq!(
        (counters, histograms),
        (
            COUNTER_FAMILIES * shape.counter_labels.len(),
            shape.histogram_labels.len()
        ),
        "{what} output is missing series"
    );
    eprintln!("{what}: {} bytes for {} series", text.len(), shape.series());
}

fn lakemetrics_registry(shape: &Shape, vals: &[f64]) -> Registry {
    let reg = Registry::new();
    for f in 0..COUNTER_FAMILIES {
        let name = Shape::counter_name(f);
        reg.register(Describe::counter(name.as_str()).help("Requests handled."))
            .unwrap();
        for (i, (h, s)) in shape.counter_labels.iter().enumerate() {
            reg.counter(&name, &[("handler", h), ("status", s)])
                .unwrap()
                .inc_by(Shape::counter_value(f, i));
        }
    }
    reg.register(Describe::histogram("latency_seconds").help("Request latency."))
        .unwrap();
    for (i, (h, s)) in shape.histogram_labels.iter().enumerate() {
        let hist = reg
            .histogram("latency_seconds", &[("handler", h), ("status", s)])
            .unwrap();
        Shape::histogram_values(i, vals).for_each(|v| hist.observe(v));
    }
    reg
}

fn prometheus_registry(shape: &Shape, vals: &[f64]) -> prometheus::Registry {
    let reg = prometheus::Registry::new();
    for f in 0..COUNTER_FAMILIES {
        let vec = prometheus::IntCounterVec::new(
            prometheus::Opts::new(Shape::counter_name(f), "Requests handled."),
            &["handler", "status"],
        )
        .unwrap();
        for (i, (h, s)) in shape.counter_labels.iter().enumerate() {
            vec.with_label_values(&[h, s])
                .inc_by(Shape::counter_value(f, i));
        }
        reg.register(Box::new(vec)).unwrap();
    }
    let hist = prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new("latency_seconds", "Request latency."),
        &["handler", "status"],
    )
    .unwrap();
    for (i, (h, s)) in shape.histogram_labels.iter().enumerate() {
        let series = hist.with_label_values(&[h, s]);
        Shape::histogram_values(i, vals).for_each(|v| series.observe(v));
    }
    reg.register(Box::new(hist)).unwrap();
    reg
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct PcLabels {
    handler: String,
    status: String,
}

type PcHistogram = prometheus_client::metrics::histogram::Histogram;

fn pc_histogram() -> PcHistogram {
    PcHistogram::new(DEFAULT_BUCKETS)
}

fn prometheus_client_registry(
    shape: &Shape,
    vals: &[f64],
) -> prometheus_client::registry::Registry {
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;

    let mut reg = prometheus_client::registry::Registry::default();
    for f in 0..COUNTER_FAMILIES {
        let family = Family::<PcLabels, Counter>::default();
        for (i, (h, s)) in shape.counter_labels.iter().enumerate() {
            let labels = PcLabels {
                handler: h.clone(),
                status: s.clone(),
            };
            family
                .get_or_create(&labels)
                .inc_by(Shape::counter_value(f, i));
        }
        // prometheus-client appends `_total` itself.
        reg.register(Shape::counter_name(f), "Requests handled.", family);
    }
    let hist =
        Family::<PcLabels, PcHistogram, fn() -> PcHistogram>::new_with_constructor(pc_histogram);
    for (i, (h, s)) in shape.histogram_labels.iter().enumerate() {
        let labels = PcLabels {
            handler: h.clone(),
            status: s.clone(),
        };
        let series = hist.get_or_create(&labels);
        Shape::histogram_values(i, vals).for_each(|v| series.observe(v));
    }
    reg.register("latency_seconds", "Request latency.", hist);
    reg
}

fn metrics_recorder(shape: &Shape, vals: &[f64]) -> metrics_exporter_prometheus::PrometheusHandle {
    let recorder = PrometheusBuilder::new()
        .set_buckets(&DEFAULT_BUCKETS)
        .expect("non-empty buckets")
        .build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        for f in 0..COUNTER_FAMILIES {
            let name = Shape::counter_name(f);
            metrics::describe_counter!(name.clone(), "Requests handled.");
            for (i, (h, s)) in shape.counter_labels.iter().enumerate() {
                let labels = [("handler", h.clone()), ("status", s.clone())];
                metrics::counter!(name.clone(), &labels).increment(Shape::counter_value(f, i));
            }
        }
        metrics::describe_histogram!("latency_seconds", "Request latency.");
        for (i, (h, s)) in shape.histogram_labels.iter().enumerate() {
            let labels = [("handler", h.clone()), ("status", s.clone())];
            let series = metrics::histogram!("latency_seconds", &labels);
            Shape::histogram_values(i, vals).for_each(|v| series.record(v));
        }
    });
    handle
}

/// `measured`'s label group: values interned at first use.
#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = MeasuredSet)]
struct MeasuredLabels<'a> {
    #[label(dynamic_with = measured::lasso::ThreadedRodeo, default)]
    handler: &'a str,
    #[label(dynamic_with = measured::lasso::ThreadedRodeo, default)]
    status: &'a str,
}

/// `measured` names metrics after struct fields, so the ten counter families are
/// ten fields.
#[derive(measured::MetricGroup)]
struct MeasuredMetrics {
    /// Requests handled.
    requests_0: measured::CounterVec<MeasuredSet>,
    /// Requests handled.
    requests_1: measured::CounterVec<MeasuredSet>,
    /// Requests handled.
    requests_2: measured::CounterVec<MeasuredSet>,
    /// Requests handled.
    requests_3: measured::CounterVec<MeasuredSet>,
    /// Requests handled.
    requests_4: measured::CounterVec<MeasuredSet>,
    /// Requests handled.
    requests_5: measured::CounterVec<MeasuredSet>,
    /// Requests handled.
    requests_6: measured::CounterVec<MeasuredSet>,
    /// Requests handled.
    requests_7: measured::CounterVec<MeasuredSet>,
    /// Requests handled.
    requests_8: measured::CounterVec<MeasuredSet>,
    /// Requests handled.
    requests_9: measured::CounterVec<MeasuredSet>,
    /// Request latency.
    latency_seconds: measured::HistogramVec<MeasuredSet, 11>,
}

fn measured_metrics(shape: &Shape, vals: &[f64]) -> MeasuredMetrics {
    let counters = || measured::CounterVec::with_label_set(MeasuredSet::default());
    let m = MeasuredMetrics {
        requests_0: counters(),
        requests_1: counters(),
        requests_2: counters(),
        requests_3: counters(),
        requests_4: counters(),
        requests_5: counters(),
        requests_6: counters(),
        requests_7: counters(),
        requests_8: counters(),
        requests_9: counters(),
        latency_seconds: measured::HistogramVec::with_label_set_and_metadata(
            MeasuredSet::default(),
            Thresholds::with_buckets(DEFAULT_BUCKETS),
        ),
    };
    let families = [
        &m.requests_0,
        &m.requests_1,
        &m.requests_2,
        &m.requests_3,
        &m.requests_4,
        &m.requests_5,
        &m.requests_6,
        &m.requests_7,
        &m.requests_8,
        &m.requests_9,
    ];
    for (f, family) in families.into_iter().enumerate() {
        for (i, (h, s)) in shape.counter_labels.iter().enumerate() {
            family.inc_by(
                MeasuredLabels {
                    handler: h,
                    status: s,
                },
                Shape::counter_value(f, i),
            );
        }
    }
    for (i, (h, s)) in shape.histogram_labels.iter().enumerate() {
        let labels = MeasuredLabels {
            handler: h,
            status: s,
        };
        Shape::histogram_values(i, vals).for_each(|v| m.latency_seconds.observe(labels, v));
    }
    m
}

fn export(c: &mut Criterion<ThreadCpuTime>) {
    let shape = Shape::new();
    let vals = observations();
    let mut g = c.benchmark_group("export_text");

    // Ours: Prometheus text, OpenMetrics and JSON, each into a reused buffer.
    let reg = lakemetrics_registry(&shape, &vals);
    let all = Filter::all();
    let mut buf = Vec::new();
    lakemetrics_export::write_prometheus(&reg, &all, &mut buf).unwrap();
    check("lakemetrics", &buf, &shape);
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

    let prom = prometheus_registry(&shape, &vals);
    let encoder = prometheus::TextEncoder::new();
    buf.clear();
    prometheus::Encoder::encode(&encoder, &prom.gather(), &mut buf).unwrap();
    check("prometheus", &buf, &shape);
    g.bench_function("prometheus", |b| {
        b.iter(|| {
            buf.clear();
            prometheus::Encoder::encode(&encoder, &black_box(&prom).gather(), &mut buf).unwrap();
            black_box(buf.len())
        })
    });
    drop(prom);

    // prometheus-client writes OpenMetrics text only (there is no 0.0.4 writer).
    let pc = prometheus_client_registry(&shape, &vals);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &pc).unwrap();
    check("prometheus_client", text.as_bytes(), &shape);
    g.bench_function("prometheus_client", |b| {
        b.iter(|| {
            text.clear();
            prometheus_client::encoding::text::encode(&mut text, black_box(&pc)).unwrap();
            black_box(text.len())
        })
    });
    drop(pc);

    let handle = metrics_recorder(&shape, &vals);
    buf.clear();
    handle.render_to_write(&mut buf).unwrap();
    check("metrics", &buf, &shape);
    g.bench_function("metrics", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&handle).render_to_write(&mut buf).unwrap();
            black_box(buf.len())
        })
    });
    drop(handle);

    let me = measured_metrics(&shape, &vals);
    let encode_measured = |buf: &mut Vec<u8>| {
        let mut enc = measured::text::TextEncoder::new(buf);
        me.collect_group_into(&mut enc).unwrap();
        enc.flush().unwrap();
    };
    buf.clear();
    encode_measured(&mut buf);
    check("measured", &buf, &shape);
    g.bench_function("measured", |b| {
        b.iter(|| {
            buf.clear();
            encode_measured(black_box(&mut buf));
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
