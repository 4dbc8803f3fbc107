//! The JSON export parses with serde_json, follows the schema of docs/formats.md,
//! and carries exactly the registry's values: metadata, labels, cumulative values
//! and the per-epoch history the filter's time range selects.

mod common;

use std::time::Duration;

use lakemetrics_core::{Filter, Registry};
use lakemetrics_export::write_json;
use serde_json::Value;

fn export(reg: &Registry, filter: &Filter) -> Value {
    let mut out = Vec::new();
    write_json(reg, filter, &mut out).unwrap();
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)))
}

fn family<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["families"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no family {name}"))
}

fn float(v: &Value) -> f64 {
    match v.as_str() {
        Some("NaN") => f64::NAN,
        Some("+Inf") => f64::INFINITY,
        Some("-Inf") => f64::NEG_INFINITY,
        _ => v.as_f64().unwrap_or_else(|| panic!("not a float: {v}")),
    }
}

#[test]
fn matches_the_registry() {
    let (reg, _clock) = common::registry();
    let doc = export(&reg, &Filter::all());
    let now_ms = reg.now_nanos() / 1_000_000;
    assert_eq!(doc["timestamp_ms"].as_u64(), Some(now_ms));
    assert_eq!(doc["start_ms"], Value::Null);
    assert_eq!(doc["end_ms"], Value::Null);

    let names: Vec<&str> = doc["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    let mut want = Vec::new();
    reg.visit(&Filter::all(), |f| want.push(f.name().to_string()));
    assert_eq!(names, want, "families in name order");

    // Counter: metadata, tricky label values, totals.
    let c = family(&doc, "http_requests_total");
    assert_eq!(c["kind"], "counter");
    assert_eq!(c["help"], common::TRICKY_HELP);
    assert_eq!(c["unit"], Value::Null);
    assert_eq!(c["resolution_ms"].as_u64(), Some(10_000));
    let series = c["series"].as_array().unwrap();
    assert_eq!(series.len(), common::TRICKY.len());
    for (s, value) in series.iter().zip(common::TRICKY) {
        assert_eq!(s["labels"]["path"], value);
        assert_eq!(s["labels"]["method"], "GET");
        let total = reg
            .counter("http_requests_total", &[("method", "GET"), ("path", value)])
            .unwrap()
            .get();
        assert_eq!(s["total"].as_u64(), Some(total));
        assert_eq!(s["created_ms"].as_u64(), Some(common::T0 / 1_000_000));
    }

    // Counter history: one point per epoch with recordings, adding up to the total.
    let i = &family(&doc, "ingest_bytes")["series"][0];
    assert_eq!(family(&doc, "ingest_bytes")["unit"], "bytes");
    let points = i["history"].as_array().unwrap();
    let starts: Vec<u64> = points
        .iter()
        .map(|p| p["start_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(
        starts,
        [1_700_000_000_000, 1_700_000_010_000, 1_700_000_020_000]
    );
    let increases: Vec<u64> = points
        .iter()
        .map(|p| p["increase"].as_u64().unwrap())
        .collect();
    assert_eq!(increases, [1 << 40, 512, 7]);
    assert_eq!(i["total"].as_u64(), Some((1 << 40) + 519));

    // Gauges, non-finite values included; history keeps last/min/max per epoch.
    let g = family(&doc, "queue_depth");
    for s in g["series"].as_array().unwrap() {
        let q = s["labels"]["queue"].as_str().unwrap();
        let want = reg.gauge("queue_depth", &[("queue", q)]).unwrap().get();
        let got = float(&s["value"]);
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "{q}"
        );
    }
    let three = g["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["labels"]["queue"] == "three")
        .unwrap();
    let h = three["history"].as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(
        (
            float(&h[1]["last"]),
            float(&h[1]["min"]),
            float(&h[1]["max"])
        ),
        (4.0, 4.0, 5.0)
    );

    // Histogram: bounds, cumulative buckets ending with the +Inf bucket, count, sum.
    let b = family(&doc, "batch_seconds");
    let bounds: Vec<f64> = b["bounds"].as_array().unwrap().iter().map(float).collect();
    assert_eq!(bounds, [0.005, 0.25, 1.0, 100000.0, 1e6]);
    let s = &b["series"][0];
    let snap = reg
        .histogram("batch_seconds", &[("handler", "csv")])
        .unwrap()
        .snapshot();
    let mut cum = 0;
    let want: Vec<u64> = snap
        .counts
        .iter()
        .map(|c| {
            cum += c;
            cum
        })
        .collect();
    let got: Vec<u64> = s["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(got, want);
    assert_eq!(s["count"].as_u64(), Some(snap.count()));
    assert_eq!(float(&s["sum"]), snap.sum);
    // Histogram history: per-epoch buckets (cumulative within the epoch) add up.
    let hist = s["history"].as_array().unwrap();
    let counted: u64 = hist.iter().map(|p| p["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, snap.count());
    for p in hist {
        let buckets = p["buckets"].as_array().unwrap();
        assert_eq!(buckets.len(), bounds.len() + 1);
        assert_eq!(buckets.last().unwrap(), &p["count"]);
    }

    // Summary: objectives, window, quantiles aligned with the objectives.
    let r = family(&doc, "rpc_latency_seconds");
    assert_eq!(r["window_ms"].as_u64(), Some(60_000));
    let objectives: Vec<f64> = r["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(float)
        .collect();
    assert_eq!(objectives, [0.5, 0.9, 0.99]);
    let sum = reg
        .summary("rpc_latency_seconds", &[("service", "store")])
        .unwrap();
    let s = &r["series"][0];
    for (q, v) in objectives.iter().zip(s["quantiles"].as_array().unwrap()) {
        assert_eq!(float(v), sum.quantile(*q, Duration::from_secs(60)));
    }
    assert_eq!(s["count"].as_u64(), Some(sum.count()));
    assert_eq!(float(&s["sum"]), sum.sum());
    let idle = &r["series"][1];
    assert!(idle["quantiles"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v == "NaN"));
}

#[test]
fn time_range_selects_history() {
    let (reg, _clock) = common::registry();
    let start = common::T0 + 10_000_000_000; // the second epoch
    let doc = export(&reg, &Filter::all().name("ingest_bytes").since_nanos(start));
    assert_eq!(doc["start_ms"].as_u64(), Some(start / 1_000_000));
    assert_eq!(doc["families"].as_array().unwrap().len(), 1);
    let s = &doc["families"][0]["series"][0];
    let increases: Vec<u64> = s["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["increase"].as_u64().unwrap())
        .collect();
    assert_eq!(increases, [512, 7], "only epochs overlapping the range");
    // Cumulative values do not depend on the range.
    assert_eq!(s["total"].as_u64(), Some((1 << 40) + 519));

    let end = common::T0 + 5_000_000_000; // inside the first epoch
    let doc = export(&reg, &Filter::all().name("ingest_bytes").until_nanos(end));
    assert_eq!(doc["end_ms"].as_u64(), Some(end / 1_000_000));
    let history = doc["families"][0]["series"][0]["history"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["increase"].as_u64(), Some(1 << 40));
}

#[test]
fn label_filters_select_series_and_empty_output_is_valid() {
    let (reg, _clock) = common::registry();
    let doc = export(&reg, &Filter::all().label_eq("queue", "three"));
    let fams = doc["families"].as_array().unwrap();
    assert_eq!(fams.len(), 1, "only families with a selected series");
    assert_eq!(fams[0]["series"].as_array().unwrap().len(), 1);

    let doc = export(&reg, &Filter::all().name("no_such_family"));
    assert_eq!(doc["families"], Value::Array(vec![]));
    assert!(doc["timestamp_ms"].is_u64());
}
