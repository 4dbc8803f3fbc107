//! What third-party code can throw at the recorder: invalid names, reserved and
//! repeated labels, over-long values, kind clashes, late or conflicting
//! descriptions, a cardinality limit. None panics, every refusal is counted and
//! reported, and the exposition stays clean for `promtool check metrics`.

mod common;

use std::sync::{Arc, Mutex};

use lakemetrics_core::{Describe, MetricKind, Registry, OVERFLOW_METRIC};
use lakemetrics_metrics::{Error, LakemetricsRecorder, REJECTED_METRIC};
use metrics::{counter, describe_counter, describe_gauge, gauge, histogram};

/// A recorder into `reg` whose rejections land in the returned list.
fn recorder(reg: &Registry) -> (LakemetricsRecorder, Arc<Mutex<Vec<Error>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let rec = LakemetricsRecorder::builder(reg)
        .on_rejection(move |e| sink.lock().unwrap().push(e.clone()))
        .build();
    (rec, seen)
}

fn rejected(reg: &Registry, reason: &str) -> u64 {
    reg.counter(REJECTED_METRIC, &[("reason", reason)])
        .map(|c| c.get())
        .unwrap_or(0)
}

#[test]
fn invalid_names_are_sanitised() {
    let reg = Registry::new();
    let (rec, seen) = recorder(&reg);
    metrics::with_local_recorder(&rec, || {
        describe_counter!("http.requests", "Requests.");
        counter!("http.requests", "http.method" => "GET", "__name__" => "x", "2xx" => "y")
            .increment(2);
        describe_gauge!("9lives", "Lives.");
        gauge!("9lives").set(9.0);
    });
    assert!(seen.lock().unwrap().is_empty());
    let c = reg
        .counter(
            "http_requests",
            &[("http_method", "GET"), ("_name__", "x"), ("_2xx", "y")],
        )
        .unwrap();
    assert_eq!(c.get(), 2);
    assert_eq!(reg.gauge("_9lives", &[]).unwrap().get(), 9.0);
    common::assert_promtool_clean(&reg);
}

#[test]
fn refusals_are_no_op_handles_counted_and_reported() {
    let reg = Registry::builder().max_label_value_len(32).build();
    let (rec, seen) = recorder(&reg);
    metrics::with_local_recorder(&rec, || {
        describe_counter!("jobs_total", "Jobs.");
        counter!("jobs_total").increment(1);
        // The same name described and used as a gauge and a histogram: three
        // kind clashes.
        describe_gauge!("jobs_total", "Jobs, as a gauge.");
        gauge!("jobs_total").set(5.0);
        histogram!("jobs_total").record(1.0);
        // `le` is the histogram's own label.
        histogram!("latency_seconds", "le" => "0.5").record(0.1);
        // Two label names that sanitise alike.
        counter!("dup_total", "a.b" => "1", "a_b" => "2").increment(1);
        // A value over the registry's limit of 32 bytes.
        counter!("long_total", "path" => "/a/very/long/path/indeed/and/longer").increment(1);
        // A gauge whose exposition would collide with the counter's samples.
        gauge!("jobs").set(1.0);
    });

    assert_eq!(reg.counter("jobs_total", &[]).unwrap().get(), 1);
    assert_eq!(rejected(&reg, "kind_conflict"), 3);
    assert_eq!(rejected(&reg, "reserved_label"), 1);
    assert_eq!(rejected(&reg, "duplicate_label"), 1);
    assert_eq!(rejected(&reg, "label_value_too_long"), 1);
    assert_eq!(rejected(&reg, "name_clash"), 1);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert!(seen.iter().all(|e| matches!(e, Error::Rejected { .. })));
    assert!(matches!(
        &seen[1],
        Error::Rejected { kind: MetricKind::Gauge, name, source: lakemetrics_core::Error::KindConflict { .. } }
            if name == "jobs_total"
    ));
    assert!(
        seen[1].to_string().contains("jobs_total"),
        "the message names the metric: {}",
        seen[1]
    );
    common::assert_promtool_clean(&reg);
}

#[test]
fn a_description_after_first_use_is_refused_and_counted() {
    let reg = Registry::new();
    let (rec, seen) = recorder(&reg);
    metrics::with_local_recorder(&rec, || {
        counter!("late_total").increment(1);
        describe_counter!("late_total", "Described too late.");
        counter!("late_total").increment(1);
        // Describing again with the same text is fine; another text is not.
        describe_counter!("early_total", "First.");
        describe_counter!("early_total", "First.");
        describe_counter!("early_total", "Second.");
        counter!("early_total").increment(1);
    });
    assert_eq!(reg.counter("late_total", &[]).unwrap().get(), 2);
    assert_eq!(rejected(&reg, "family_conflict"), 2);
    assert_eq!(seen.lock().unwrap().len(), 2);
    let text = common::prometheus_text(&reg);
    assert!(text.contains("# HELP early_total First.\n"), "{text}");
}

#[test]
fn past_the_cardinality_limit_recordings_go_to_the_overflow_series() {
    let reg = Registry::new();
    reg.register(
        Describe::counter("users_total")
            .help("Per user.")
            .max_series(3),
    )
    .unwrap();
    let (rec, seen) = recorder(&reg);
    metrics::with_local_recorder(&rec, || {
        for i in 0..10 {
            counter!("users_total", "user" => i.to_string()).increment(1);
        }
    });
    assert!(seen.lock().unwrap().is_empty());
    let overflow = reg
        .counter_or_overflow("users_total", &[("user", "99")])
        .unwrap();
    // 7 through the facade, and the lookup just above.
    assert_eq!(overflow.get(), 7);
    assert_eq!(
        reg.counter(OVERFLOW_METRIC, &[("metric", "users_total")])
            .unwrap()
            .get(),
        8
    );
    common::assert_promtool_clean(&reg);
}
