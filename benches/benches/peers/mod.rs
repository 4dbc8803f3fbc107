//! The peers' registries of a [`Shape`], shared by the export benches (`export.rs`,
//! `render_scale.rs`); lakemetrics' own is [`Shape::lakemetrics_registry`].
//!
//! Each builder registers the counter families (help text on each) and records
//! every series once, then the histogram family if the shape has one.

use std::hint::black_box;

use criterion::measurement::Measurement;
use criterion::BenchmarkGroup;
use lakemetrics_benches::shape::{Shape, COUNTER_FAMILIES};
use lakemetrics_core::DEFAULT_BUCKETS;
use measured::metric::group::MetricGroup as _;
use measured::metric::histogram::Thresholds;
use metrics_exporter_prometheus::PrometheusBuilder;

pub fn prometheus_registry(shape: &Shape, vals: &[f64]) -> prometheus::Registry {
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
    if !shape.histogram_labels.is_empty() {
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
    }
    reg
}

/// Renders `prometheus`' registry: `gather()` builds its protobuf-shaped
/// snapshot, as it does on every scrape, then the text encoder writes it.
pub fn prometheus_render(reg: &prometheus::Registry, buf: &mut Vec<u8>) {
    let encoder = prometheus::TextEncoder::new();
    prometheus::Encoder::encode(&encoder, &reg.gather(), buf).unwrap();
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

pub fn prometheus_client_registry(
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
    if !shape.histogram_labels.is_empty() {
        let hist = Family::<PcLabels, PcHistogram, fn() -> PcHistogram>::new_with_constructor(
            pc_histogram,
        );
        for (i, (h, s)) in shape.histogram_labels.iter().enumerate() {
            let labels = PcLabels {
                handler: h.clone(),
                status: s.clone(),
            };
            let series = hist.get_or_create(&labels);
            Shape::histogram_values(i, vals).for_each(|v| series.observe(v));
        }
        reg.register("latency_seconds", "Request latency.", hist);
    }
    reg
}

pub fn metrics_recorder(
    shape: &Shape,
    vals: &[f64],
) -> metrics_exporter_prometheus::PrometheusHandle {
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
        if !shape.histogram_labels.is_empty() {
            metrics::describe_histogram!("latency_seconds", "Request latency.");
            for (i, (h, s)) in shape.histogram_labels.iter().enumerate() {
                let labels = [("handler", h.clone()), ("status", s.clone())];
                let series = metrics::histogram!("latency_seconds", &labels);
                Shape::histogram_values(i, vals).for_each(|v| series.record(v));
            }
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
/// ten fields. A shape without histograms leaves `latency_seconds` empty: it
/// writes its two metadata lines and no sample.
#[derive(measured::MetricGroup)]
pub struct MeasuredMetrics {
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

pub fn measured_metrics(shape: &Shape, vals: &[f64]) -> MeasuredMetrics {
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
    assert_eq!(families.len(), COUNTER_FAMILIES);
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

/// Renders `measured`'s metrics: a text encoder over `buf`, every group
/// collected into it, flushed.
pub fn measured_render(m: &MeasuredMetrics, buf: &mut Vec<u8>) {
    let mut enc = measured::text::TextEncoder::new(buf);
    m.collect_group_into(&mut enc).unwrap();
    enc.flush().unwrap();
}

/// Renders once into `buf` and hands the output to `check`, then benches `name`:
/// the same render into the same buffer, cleared before each.
pub fn bench_render<M: Measurement>(
    g: &mut BenchmarkGroup<'_, M>,
    name: &str,
    buf: &mut Vec<u8>,
    check: impl FnOnce(&[u8]),
    mut render: impl FnMut(&mut Vec<u8>),
) {
    buf.clear();
    render(buf);
    check(buf);
    g.bench_function(name, |b| {
        b.iter(|| {
            buf.clear();
            render(buf);
            black_box(buf.len())
        })
    });
}

/// Benches every peer's text render of `shape`, one registry at a time (built,
/// checked to hold every series, benched, dropped).
pub fn bench_peers<M: Measurement>(
    g: &mut BenchmarkGroup<'_, M>,
    shape: &Shape,
    vals: &[f64],
    buf: &mut Vec<u8>,
) {
    let prom = prometheus_registry(shape, vals);
    bench_render(
        g,
        "prometheus",
        buf,
        |o| shape.check("prometheus", o),
        |b| prometheus_render(black_box(&prom), b),
    );
    drop(prom);

    // prometheus-client writes OpenMetrics text only (there is no 0.0.4 writer),
    // into a `String`.
    let pc = prometheus_client_registry(shape, vals);
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
    drop((pc, text));

    let handle = metrics_recorder(shape, vals);
    bench_render(
        g,
        "metrics",
        buf,
        |o| shape.check("metrics", o),
        |b| black_box(&handle).render_to_write(b).unwrap(),
    );
    drop(handle);

    let me = measured_metrics(shape, vals);
    bench_render(
        g,
        "measured",
        buf,
        |o| shape.check("measured", o),
        |b| measured_render(&me, black_box(b)),
    );
}
