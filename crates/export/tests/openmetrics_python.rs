//! Conformance of the OpenMetrics output with a parser that is not ours: Python's
//! `prometheus_client.openmetrics.parser` (`pip install prometheus_client`), run
//! by tests/openmetrics_dump.py. It must accept the output and give back the same
//! names, types, HELP, units, label values and numbers as the registry holds,
//! read here straight from the core (not through the writer). The tests fail
//! when python3 or the package is missing. Set `PYTHON` to use another python.

mod common;

use lakemetrics_core::{Filter, Registry, SeriesData};
use lakemetrics_export::write_openmetrics;
use serde_json::{json, Value};

const HINT: &str = "python3 -m pip install prometheus_client";

/// What the parser must read back, built from the registry by the OpenMetrics
/// rules (docs/formats.md), independently of the writer.
fn expected(reg: &Registry) -> Vec<Value> {
    let mut out = Vec::new();
    reg.visit(&Filter::all(), |fam| {
        let kind = fam.kind().as_str();
        let name = match fam.name().strip_suffix("_total") {
            Some(stem) if kind == "counter" && !stem.is_empty() => stem.to_string(),
            _ => fam.name().to_string(),
        };
        let unit = fam
            .unit()
            .filter(|u| name.ends_with(&format!("_{u}")))
            .unwrap_or("");
        let mut samples = Vec::new();
        for s in fam.series() {
            let reserved = match kind {
                "histogram" => "le",
                "summary" => "quantile",
                _ => "",
            };
            let labels: Vec<Value> = s
                .labels()
                .map(|(k, v)| {
                    let k = if k == reserved {
                        format!("exported_{k}")
                    } else {
                        k.to_string()
                    };
                    json!([k, v])
                })
                .collect();
            let with = |extra: (&str, String)| {
                let mut l = labels.clone();
                l.push(json!([extra.0, extra.1]));
                l
            };
            let created = json!({"approx": s.created() as f64 / 1e9});
            let mut push = |suffix: &str, labels: Vec<Value>, value: Value| {
                samples.push(
                    json!({"name": format!("{name}{suffix}"), "labels": labels, "value": value}),
                );
            };
            match s.data() {
                SeriesData::Counter(c) => {
                    push(
                        "_total",
                        labels.clone(),
                        json!({"int": c.total().to_string()}),
                    );
                    push("_created", labels.clone(), created);
                }
                SeriesData::Gauge(g) => push("", labels.clone(), json!({"float": text(g.get())})),
                SeriesData::Histogram(h) => {
                    let snap = h.snapshot();
                    let bounds = fam.bucket_bounds();
                    let mut cum = 0;
                    for (i, c) in snap.counts.iter().enumerate() {
                        cum += c;
                        let le = bounds
                            .get(i)
                            .map_or("+Inf".to_string(), |b| format!("{b:?}"));
                        push("_bucket", with(("le", le)), json!({"int": cum.to_string()}));
                    }
                    if bounds[0] >= 0.0 && snap.sum >= 0.0 {
                        push("_sum", labels.clone(), json!({"float": text(snap.sum)}));
                        push("_count", labels.clone(), json!({"int": cum.to_string()}));
                    }
                    push("_created", labels.clone(), created);
                }
                SeriesData::Summary(sm) => {
                    for &q in fam.objectives() {
                        let v = sm.quantile(q, s.now(), fam.retention().window());
                        if !(v < 0.0) {
                            push(
                                "",
                                with(("quantile", format!("{q:?}"))),
                                json!({"float": text(v)}),
                            );
                        }
                    }
                    if sm.sum() >= 0.0 {
                        push("_sum", labels.clone(), json!({"float": text(sm.sum())}));
                    }
                    push(
                        "_count",
                        labels.clone(),
                        json!({"int": sm.count().to_string()}),
                    );
                    push("_created", labels.clone(), created);
                }
            }
        }
        out.push(json!({
            "name": name, "type": kind, "help": match fam.help() { "" => lakemetrics_export::DEFAULT_HELP, h => h }, "unit": unit, "samples": samples,
        }));
    });
    out
}

/// A float as text that [`float_of`] reads back exactly.
fn text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v:?}")
    }
}

/// A float as text (Rust's `{:?}` for numbers, `NaN`/`+Inf`/`-Inf`) or a JSON
/// number (serde_json turns NaN into null, so floats travel as text).
fn float_of(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "+Inf" => Some(f64::INFINITY),
            "-Inf" => Some(f64::NEG_INFINITY),
            s => s.parse().ok(),
        },
        Value::Number(n) => n.as_f64(),
        Value::Null => Some(f64::NAN),
        _ => None,
    }
}

fn same_value(want: &Value, got: &Value) -> bool {
    if let Some(i) = want.get("int") {
        return got.get("int") == Some(i);
    }
    let Some(g) = got.get("float").and_then(float_of) else {
        return false;
    };
    if let Some(w) = want.get("float") {
        let w = float_of(w).unwrap();
        return w.to_bits() == g.to_bits() || (w.is_nan() && g.is_nan());
    }
    // `_created`: exact decimal seconds on the wire; f64 on both sides here.
    let w = want["approx"].as_f64().unwrap();
    (w - g).abs() < 1e-6 * w.abs().max(1.0)
}

/// `le`/`quantile` labels: compare as numbers (the script checked the spelling).
fn same_labels(want: &Value, got: &Value) -> bool {
    let (Some(w), Some(g)) = (want.as_array(), got.as_array()) else {
        return false;
    };
    w.len() == g.len()
        && w.iter().zip(g).all(|(w, g)| {
            let numeric = matches!(w[0].as_str(), Some("le" | "quantile"));
            w[0] == g[0]
                && if numeric {
                    float_of(&w[1]).map(f64::to_bits) == float_of(&g[1]).map(f64::to_bits)
                } else {
                    w[1] == g[1]
                }
        })
}

fn check(reg: &Registry) {
    let mut text = Vec::new();
    write_openmetrics(reg, &Filter::all(), &mut text).unwrap();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let script = common::test_path("openmetrics_dump.py");
    let (code, stdout, stderr) =
        common::run_tool(&python, &[script.to_str().unwrap()], &text, HINT);
    let shown = String::from_utf8_lossy(&text[..text.len().min(4000)]).into_owned();
    assert_eq!(
        code, 0,
        "the Python parser rejected our output ({HINT} if it is missing):\n{stderr}\n{shown}"
    );
    let got: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    let want = expected(reg);
    assert_eq!(got.len(), want.len(), "family count");
    for (w, g) in want.iter().zip(&got) {
        for key in ["name", "type", "help", "unit"] {
            assert_eq!(w[key], g[key], "{key} of family {}", w["name"]);
        }
        let (ws, gs) = (
            w["samples"].as_array().unwrap(),
            g["samples"].as_array().unwrap(),
        );
        assert_eq!(
            ws.len(),
            gs.len(),
            "samples of {}: want {ws:#?}\ngot {gs:#?}",
            w["name"]
        );
        for (ws, gs) in ws.iter().zip(gs) {
            assert_eq!(ws["name"], gs["name"]);
            assert!(
                same_labels(&ws["labels"], &gs["labels"]),
                "labels: want {ws}\ngot {gs}"
            );
            assert!(
                same_value(&ws["value"], &gs["value"]),
                "value: want {ws}\ngot {gs}"
            );
        }
    }
}

#[test]
fn python_parser_reads_back_every_kind_and_tricky_strings() {
    let (reg, _clock) = common::registry();
    check(&reg);
}

#[test]
fn python_parser_reads_back_arbitrary_strings_and_numbers() {
    check(&common::arbitrary_registry(400));
}

#[test]
fn python_parser_rejects_what_it_should() {
    // The parser is really checking: a missing `# EOF` fails it.
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let script = common::test_path("openmetrics_dump.py");
    let (code, _, stderr) = common::run_tool(
        &python,
        &[script.to_str().unwrap()],
        b"# TYPE x counter\nx_total 1\n",
        HINT,
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("Missing # EOF"), "{stderr}");
}
