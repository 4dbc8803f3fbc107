//! Native histograms in the exports: the JSON API carries their buckets in the
//! shape docs/formats.md gives (checked with serde_json against the core's own
//! snapshot), and the text formats write what Prometheus' Go client writes for a
//! native histogram in text: the classic buckets configured beside it (none: only
//! `+Inf`), `_sum` and `_count`; Prometheus' own `promtool check metrics`
//! accepts that text (the test fails when promtool is missing; `PROMTOOL` picks
//! another binary).

mod common;

use lakemetrics_core::{Buckets, Describe, Filter, Registry};
use lakemetrics_export::{write_json, write_openmetrics, write_prometheus};
use serde_json::Value;

fn registry() -> Registry {
    let reg = Registry::new();
    reg.register(Describe::histogram("native_only_seconds").native(1))
        .unwrap();
    reg.register(
        Describe::histogram("both_seconds")
            .buckets(Buckets::new(vec![0.5, 1.0]).unwrap())
            .native(0)
            .native_zero_threshold(0.001),
    )
    .unwrap();
    let h = reg
        .histogram("native_only_seconds", &[("op", "x")])
        .unwrap();
    // Schema 1: 1.0 is index 0, 1.2 and 1.4 are 1, 3.0 is 4 (2^(4/2) = 4 >= 3 >
    // 2^(3/2)); -0.3 is negative index -3; 0.0 is in the zero bucket.
    for v in [1.0, 1.2, 1.4, 3.0, -0.3, 0.0, f64::NAN] {
        h.observe(v);
    }
    reg.register(Describe::histogram("clean_seconds").native(3))
        .unwrap();
    let c = reg.histogram("clean_seconds", &[]).unwrap();
    c.observe(0.25);
    c.observe(3.0);
    let b = reg.histogram("both_seconds", &[]).unwrap();
    for v in [0.0005, 0.75, 2.0, 2.0] {
        b.observe(v);
    }
    reg
}

fn json_family(doc: &Value, name: &str) -> Value {
    doc["families"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .clone()
}

#[test]
fn json_carries_schema_zero_bucket_spans_and_counts() {
    let reg = registry();
    let mut out = Vec::new();
    write_json(&reg, &Filter::all(), &mut out).unwrap();
    let doc: Value = serde_json::from_slice(&out).unwrap();

    let fam = json_family(&doc, "native_only_seconds");
    assert_eq!(fam["bounds"], serde_json::json!([]));
    let s = &fam["series"][0];
    assert_eq!(s["count"], 7);
    assert_eq!(s["buckets"], serde_json::json!([7]));
    let n = &s["native"];
    assert_eq!(n["schema"], 1);
    assert_eq!(n["zero_count"], 1);
    assert_eq!(n["zero_threshold"].as_f64().unwrap(), 2f64.powi(-128));
    // Indexes 0, 1 (a run of two), then 4: spans [0, 2] and [4 - 2, 1].
    assert_eq!(n["positive_spans"], serde_json::json!([[0, 2], [2, 1]]));
    assert_eq!(n["positive"], serde_json::json!([1, 2, 1]));
    assert_eq!(n["negative_spans"], serde_json::json!([[-3, 1]]));
    assert_eq!(n["negative"], serde_json::json!([1]));

    // The same buckets as the core's snapshot.
    let h = reg
        .histogram("native_only_seconds", &[("op", "x")])
        .unwrap();
    let snap = h.native_snapshot().unwrap();
    assert_eq!(snap.positive, vec![(0, 1), (1, 2), (4, 1)]);
    assert_eq!(snap.negative, vec![(-3, 1)]);
    assert_eq!(snap.count, 7);

    let fam = json_family(&doc, "both_seconds");
    assert_eq!(fam["bounds"], serde_json::json!([0.5, 1.0]));
    let s = &fam["series"][0];
    assert_eq!(s["buckets"], serde_json::json!([1, 2, 4]));
    let n = &s["native"];
    assert_eq!(n["schema"], 0);
    assert_eq!(n["zero_threshold"], 0.001);
    assert_eq!(n["zero_count"], 1);
    // 0.75 is index 0 at schema 0 ((0.5, 1]), 2.0 is index 1 ((1, 2]).
    assert_eq!(n["positive_spans"], serde_json::json!([[0, 2]]));
    assert_eq!(n["positive"], serde_json::json!([1, 2]));
    assert_eq!(n["negative_spans"], serde_json::json!([]));
}

#[test]
fn text_writes_plus_inf_sum_and_count_for_native_only() {
    let reg = registry();
    let mut out = Vec::new();
    write_prometheus(&reg, &Filter::all(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("native_only_seconds"))
        .collect();
    assert_eq!(
        lines,
        [
            "native_only_seconds_bucket{op=\"x\",le=\"+Inf\"} 7",
            "native_only_seconds_sum{op=\"x\"} NaN",
            "native_only_seconds_count{op=\"x\"} 7",
        ]
    );
    let both: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("both_seconds_bucket"))
        .collect();
    assert_eq!(both.len(), 3, "{text}");
}

#[test]
fn openmetrics_writes_plus_inf_sum_count_and_created() {
    let reg = registry();
    let mut out = Vec::new();
    write_openmetrics(&reg, &Filter::all(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let names = |family: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with(family))
            .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names("clean_seconds"),
        [
            "clean_seconds_bucket",
            "clean_seconds_sum",
            "clean_seconds_count",
            "clean_seconds_created",
        ],
        "{text}"
    );
    assert!(
        text.contains("clean_seconds_bucket{le=\"+Inf\"} 2\n"),
        "{text}"
    );
    assert!(text.contains("clean_seconds_count 2\n"), "{text}");
    // A NaN sum (a NaN was observed) is left out with its count, as for any
    // histogram (docs/formats.md).
    assert_eq!(
        names("native_only_seconds"),
        ["native_only_seconds_bucket", "native_only_seconds_created"],
        "{text}"
    );
}

#[test]
fn promtool_accepts_native_histograms_text() {
    let reg = registry();
    let mut out = Vec::new();
    write_prometheus(&reg, &Filter::all(), &mut out).unwrap();
    let program = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let (code, stdout, stderr) = common::run_tool(
        &program,
        &["check", "metrics"],
        &out,
        "apt-get install -y prometheus",
    );
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, "", ""),
        "promtool check metrics failed on:\n{}",
        String::from_utf8_lossy(&out)
    );
}
