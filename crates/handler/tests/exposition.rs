//! The batches counter records through a typed label set (`outcome`); the
//! exposition is exactly what series created by `&str` lookups, in the order
//! the handler creates them, give: same series, same order, same values.

mod common;

use common::*;
use lakemetrics_core::{Buckets, Describe, Filter, Registry};
use lakemetrics_export::{write_json, write_openmetrics, write_prometheus};
use lakemetrics_handler::{
    HandlerMetrics, MetricNames, BATCHES, BATCH_BYTES, BATCH_DURATION, BATCH_RECORDS,
    DEFAULT_BATCH_BYTES_BOUNDS, DEFAULT_BATCH_RECORDS_BOUNDS, DEFAULT_DURATION_BOUNDS,
    DEFAULT_MAX_ERROR_SERIES, ERRORS, KIND_DROPPED, KIND_INVALID,
};

fn texts(reg: &Registry) -> [String; 3] {
    let mut p = Vec::new();
    let mut o = Vec::new();
    let mut j = Vec::new();
    write_prometheus(reg, &Filter::all(), &mut p).unwrap();
    write_openmetrics(reg, &Filter::all(), &mut o).unwrap();
    write_json(reg, &Filter::all(), &mut j).unwrap();
    [p, o, j].map(|b| String::from_utf8(b).unwrap())
}

#[test]
fn typed_outcomes_expose_exactly_what_str_lookups_do() {
    // The handler.
    let (typed, clock_a) = registry();
    let csv = HandlerMetrics::builder(&typed, "csv")
        .error_kinds(["parse"])
        .build()
        .unwrap();

    // The same families and series by hand, through `&str` lookups, in the
    // order the handler creates them.
    let (by_str, clock_b) = registry();
    let names = MetricNames::new("ingest_");
    for (name, spec) in names.families() {
        let mut d = Describe::new(name, spec.kind).help(spec.help);
        if let Some(unit) = spec.unit {
            d = d.unit(unit);
        }
        let bounds = |b: &[f64]| Buckets::new(b.to_vec()).unwrap();
        d = match spec.suffix {
            BATCH_DURATION => d.buckets(bounds(&DEFAULT_DURATION_BOUNDS)),
            BATCH_BYTES => d.buckets(bounds(&DEFAULT_BATCH_BYTES_BOUNDS)),
            BATCH_RECORDS => d.buckets(bounds(&DEFAULT_BATCH_RECORDS_BOUNDS)),
            ERRORS => d.max_series(DEFAULT_MAX_ERROR_SERIES),
            _ => d,
        };
        by_str.register(d).unwrap();
    }
    let one = [("handler", "csv")];
    let outcome = |o: &'static str| [("handler", "csv"), ("outcome", o)];
    let kind = |k: &'static str| [("handler", "csv"), ("kind", k)];
    let r = &by_str;
    let duration = r.histogram(names.batch_duration(), &one).unwrap();
    let succeeded = r.counter(names.batches(), &outcome("success")).unwrap();
    let failed = r.counter(names.batches(), &outcome("failure")).unwrap();
    r.counter(names.errors(), &kind(KIND_DROPPED)).unwrap();
    let parse = r.counter(names.errors(), &kind("parse")).unwrap();
    r.counter(names.errors(), &kind(KIND_INVALID)).unwrap();
    let bytes = r.counter(names.bytes(), &one).unwrap();
    let records = r.counter(names.records(), &one).unwrap();
    let batch_bytes = r.histogram(names.batch_bytes(), &one).unwrap();
    let batch_records = r.histogram(names.batch_records(), &one).unwrap();
    let depth = r.gauge(names.queue_depth(), &one).unwrap();
    assert!(names.batches().ends_with(BATCHES));

    // The same recordings, at the same times.
    for i in 0..5u64 {
        for clock in [&clock_a, &clock_b] {
            clock.advance(secs(1));
        }
        let elapsed = ms(10 * (i + 1));
        csv.record_batch(1_000 * i, 10 * i);
        bytes.inc_by(1_000 * i);
        records.inc_by(10 * i);
        batch_bytes.observe((1_000 * i) as f64);
        batch_records.observe((10 * i) as f64);
        if i % 2 == 0 {
            csv.record_success(elapsed);
            duration.observe_duration(elapsed);
            succeeded.inc();
        } else {
            csv.record_failure(elapsed, "parse");
            duration.observe_duration(elapsed);
            failed.inc();
            parse.inc();
        }
        csv.set_queue_depth(i);
        depth.set(i as f64);
    }
    let [p, o, j] = texts(&typed);
    assert!(p.contains("ingest_batches_total{handler=\"csv\",outcome=\"success\"} 3"));
    assert!(p.contains("ingest_batches_total{handler=\"csv\",outcome=\"failure\"} 2"));
    let [p2, o2, j2] = texts(&by_str);
    assert_eq!(p, p2, "Prometheus text");
    assert_eq!(o, o2, "OpenMetrics text");
    assert_eq!(j, j2, "JSON");
}
