//! What is recorded through the `metrics` macros reads back the same through
//! lakemetrics' API, the Prometheus text exposition (checked by `promtool check
//! metrics`, which must be installed) and the JSON export (parsed with serde_json).

mod common;

use std::time::Duration;

use lakemetrics_core::{MetricKind, Registry};
use lakemetrics_metrics::{LakemetricsRecorder, Matcher};
use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit,
};

/// Records a bit of everything through the macros, with this test's recorder
/// as the thread's local recorder.
fn record(reg: &Registry) {
    let recorder = LakemetricsRecorder::builder(reg)
        .set_buckets_for_metric(Matcher::Full("request_seconds".into()), &[0.1, 0.5, 1.0])
        .unwrap()
        .set_quantiles_for_metric(Matcher::Prefix("rpc_".into()), &[0.5, 0.99])
        .unwrap()
        .build();
    metrics::with_local_recorder(&recorder, || {
        describe_counter!(
            "requests_total",
            Unit::Count,
            "Requests served, by method and status."
        );
        describe_counter!("ingested_bytes", Unit::Bytes, "Bytes ingested.");
        describe_counter!("external_total", "Mirrors an external counter.");
        describe_gauge!("queue_depth", "Items waiting, by queue.");
        describe_histogram!("request_seconds", Unit::Seconds, "Request latency.");
        describe_histogram!("rpc_seconds", Unit::Seconds, "RPC latency.");

        // Static labels: the macro's call-site key.
        for _ in 0..3 {
            counter!("requests_total", "method" => "GET", "status" => "200").increment(1);
        }
        // Dynamic labels: an owned key.
        let status = String::from("500");
        counter!("requests_total", "method" => "GET", "status" => status).increment(4);
        // A handle taken once and kept.
        let bytes = counter!("ingested_bytes");
        bytes.increment(1 << 20);
        bytes.increment(1 << 20);

        let ext = counter!("external_total");
        ext.absolute(10);
        ext.absolute(7); // older reading, arriving late: no change
        ext.absolute(12);

        let q = gauge!("queue_depth", "queue" => "parquet");
        q.set(10.0);
        q.increment(5.0);
        q.decrement(3.0);

        let h = histogram!("request_seconds", "method" => "GET");
        for v in [0.05, 0.3, 2.0] {
            h.record(v);
        }
        histogram!("rpc_seconds").record(0.25);
        histogram!("rpc_seconds").record(0.5);
    });
}

#[test]
fn macros_read_back_through_the_api() {
    let reg = Registry::new();
    record(&reg);

    let get = |status| {
        reg.counter("requests_total", &[("status", status), ("method", "GET")])
            .unwrap()
    };
    assert_eq!(get("200").get(), 3);
    assert_eq!(get("500").get(), 4);
    assert_eq!(get("200").increase(Duration::from_secs(60)), 3);
    assert_eq!(reg.counter("ingested_bytes", &[]).unwrap().get(), 2 << 20);
    assert_eq!(reg.counter("external_total", &[]).unwrap().get(), 12);

    let q = reg.gauge("queue_depth", &[("queue", "parquet")]).unwrap();
    assert_eq!(q.get(), 12.0);
    assert_eq!(q.max_over(Duration::from_secs(60)), 15.0);

    let d = reg.describe("request_seconds").unwrap();
    assert_eq!(d.kind(), MetricKind::Histogram);
    let h = reg
        .histogram("request_seconds", &[("method", "GET")])
        .unwrap();
    assert_eq!(h.buckets().bounds(), &[0.1, 0.5, 1.0]);
    let snap = h.snapshot();
    assert_eq!(snap.counts.as_slice(), &[1, 1, 0, 1]);
    assert!((snap.sum - 2.35).abs() < 1e-9);

    assert_eq!(
        reg.describe("rpc_seconds").unwrap().kind(),
        MetricKind::Summary
    );
    let s = reg.summary("rpc_seconds", &[]).unwrap();
    assert_eq!((s.count(), s.sum()), (2, 0.75));
    let p99 = s.quantile(0.99, Duration::from_secs(60));
    assert!((p99 - 0.5).abs() <= 0.5 * 0.011, "p99 {p99}");
}

#[test]
fn macros_read_back_through_the_exposition_checked_by_promtool() {
    let reg = Registry::new();
    record(&reg);
    let text = common::assert_promtool_clean(&reg);

    for line in [
        "# HELP requests_total Requests served, by method and status.",
        "# TYPE requests_total counter",
        "requests_total{method=\"GET\",status=\"200\"} 3",
        "requests_total{method=\"GET\",status=\"500\"} 4",
        "# HELP ingested_bytes_total Bytes ingested.",
        "ingested_bytes_total 2097152",
        "external_total 12",
        "# TYPE queue_depth gauge",
        "queue_depth{queue=\"parquet\"} 12.0",
        "# TYPE request_seconds histogram",
        "request_seconds_bucket{method=\"GET\",le=\"0.1\"} 1",
        "request_seconds_bucket{method=\"GET\",le=\"0.5\"} 2",
        "request_seconds_bucket{method=\"GET\",le=\"1.0\"} 2",
        "request_seconds_bucket{method=\"GET\",le=\"+Inf\"} 3",
        "request_seconds_count{method=\"GET\"} 3",
        "# TYPE rpc_seconds summary",
        "rpc_seconds_count 2",
        "rpc_seconds_sum 0.75",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing line {line:?} in:\n{text}"
        );
    }
    assert!(text.contains("rpc_seconds{quantile=\"0.99\"} "), "{text}");
}

#[test]
fn macros_read_back_through_the_json_export() {
    let reg = Registry::new();
    record(&reg);
    let doc = common::json(&reg);

    let requests = common::json_family(&doc, "requests_total");
    assert_eq!(requests["kind"], "counter");
    assert_eq!(requests["help"], "Requests served, by method and status.");
    let mut totals: Vec<(String, u64)> = requests["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["labels"]["method"], "GET");
            (
                s["labels"]["status"].as_str().unwrap().to_string(),
                s["total"].as_u64().unwrap(),
            )
        })
        .collect();
    totals.sort();
    assert_eq!(totals, [("200".to_string(), 3), ("500".to_string(), 4)]);

    let bytes = common::json_family(&doc, "ingested_bytes");
    assert_eq!(bytes["unit"], "bytes");
    assert_eq!(bytes["series"][0]["total"], 2 << 20);

    let queue = common::json_family(&doc, "queue_depth");
    assert_eq!(queue["series"][0]["labels"]["queue"], "parquet");
    assert_eq!(queue["series"][0]["value"], 12.0);

    let hist = common::json_family(&doc, "request_seconds");
    assert_eq!(hist["kind"], "histogram");
    assert_eq!(hist["unit"], "seconds");
    assert_eq!(hist["bounds"], serde_json::json!([0.1, 0.5, 1.0]));
    assert_eq!(
        hist["series"][0]["buckets"],
        serde_json::json!([1, 2, 2, 3])
    );
    assert_eq!(hist["series"][0]["count"], 3);

    let rpc = common::json_family(&doc, "rpc_seconds");
    assert_eq!(rpc["kind"], "summary");
    assert_eq!(rpc["objectives"], serde_json::json!([0.5, 0.99]));
    assert_eq!(rpc["series"][0]["count"], 2);
    assert_eq!(rpc["series"][0]["sum"], 0.75);
}
