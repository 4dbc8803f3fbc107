//! `quantile_window` on `/api/v1/series`: a summary's history gets, per epoch,
//! the quantiles over the window ending with it (`window_quantiles`) and the
//! observations in that window (`window_count`), exactly as the core computes
//! them; bad values are refused with a 400 that names the parameter.

mod common;

use std::time::Duration;

use common::{assert_error, get, manual_registry};
use lakemetrics_core::{Filter, SeriesData, TimeRange};
use lakemetrics_export::{Exporter, Format};
use lakemetrics_http::HttpExporter;
use serde_json::Value;

/// A JSON float as the export writes it: a number, or `"NaN"`.
fn float(v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "NaN" => f64::NAN,
        _ => v.as_f64().unwrap_or_else(|| panic!("{v} is not a float")),
    }
}

/// `x` as read back from JSON text by `serde_json` (whose float parsing may
/// differ from `x` in the last bit), so that the core's values compare exactly
/// with the ones parsed from the body.
fn through_json(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    float(&serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap())
}

#[test]
fn windowed_summary_quantiles_match_the_core() {
    let (reg, clock) = manual_registry();
    let fast = reg
        .summary("request_seconds", &[("handler", "csv")])
        .unwrap();
    let slow = reg
        .summary("request_seconds", &[("handler", "json")])
        .unwrap();
    // Five one-second epochs: 1..=10 ms, nothing, 100 ms twice, nothing, 1 s.
    for ms in 1..=10 {
        fast.observe(f64::from(ms) / 1000.0);
    }
    slow.observe(2.0);
    clock.advance(Duration::from_secs(2));
    fast.observe(0.1);
    fast.observe(0.1);
    clock.advance(Duration::from_secs(2));
    fast.observe(1.0);

    let server = HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        .start()
        .unwrap();
    let addr = server.local_addr();
    let path = "/api/v1/series?name=request_seconds&quantile_window=2s";
    let resp = get(addr, path, &[]);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();

    // The body is what the export crate writes with the same window.
    let mut filter = Filter::all();
    filter.name = lakemetrics_core::NameMatch::Exact("request_seconds".into());
    let mut exporter =
        Exporter::new(Format::Json, Vec::new()).quantile_window(Some(Duration::from_secs(2)));
    exporter.write_registry(&reg, &filter).unwrap();
    assert_eq!(
        resp.text(),
        String::from_utf8(exporter.finish().unwrap()).unwrap()
    );

    let fam = &v["families"][0];
    assert_eq!(fam["quantile_window_ms"], 2000);
    let objectives: Vec<f64> = fam["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(float)
        .collect();
    assert!(!objectives.is_empty());

    // Per series and epoch, the values the core gives.
    let mut want: Vec<Vec<(f64, u64, Vec<f64>)>> = Vec::new();
    reg.visit(&filter, |f| {
        for s in f.series() {
            let SeriesData::Summary(core) = s.data() else {
                panic!("not a summary")
            };
            let mut rows = Vec::new();
            // From the series' creation on, as its history columns.
            let since = TimeRange {
                start: Some(s.created()),
                end: None,
            };
            core.for_each_window_quantiles(
                s.now(),
                since,
                Duration::from_secs(2),
                f.objectives(),
                |w| rows.push((w.start as f64 / 1e6, w.count, w.quantiles.to_vec())),
            );
            want.push(rows);
        }
    });
    let series = fam["series"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    for (s, want) in series.iter().zip(&want) {
        let h = &s["history"];
        let start = h["start_ms"].as_f64().unwrap();
        let qs = h["window_quantiles"].as_array().unwrap();
        let counts = h["window_count"].as_array().unwrap();
        // One value per epoch, like the other columns.
        assert_eq!(qs.len(), h["quantiles"].as_array().unwrap().len());
        assert_eq!(counts.len(), qs.len());
        assert_eq!(qs.len(), want.len(), "{h}");
        for (i, (at, count, quantiles)) in want.iter().enumerate() {
            assert_eq!(start + 1000.0 * i as f64, *at);
            assert_eq!(counts[i].as_u64(), Some(*count), "epoch {i}: {h}");
            let got: Vec<f64> = qs[i].as_array().unwrap().iter().map(float).collect();
            assert_eq!(got.len(), quantiles.len());
            for (g, w) in got.iter().zip(quantiles) {
                let w = &through_json(*w);
                assert!(
                    g == w || (g.is_nan() && w.is_nan()),
                    "epoch {i}: {g} vs {w}"
                );
            }
        }
    }
    // The csv series, epoch by epoch over two-epoch windows: 10, 10, 2, 2, 1
    // observations; the last window's median is 1 s, its minimum 100 ms.
    let csv = &series[0]["history"];
    let counts: Vec<u64> = csv["window_count"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert_eq!(counts, [10, 10, 2, 2, 1]);
    let p = |i: usize, q: f64| {
        let j = objectives.iter().position(|&o| o == q).unwrap();
        float(&csv["window_quantiles"][i][j])
    };
    assert!((p(1, 0.5) - 0.005).abs() <= 0.01 * 0.005, "{}", p(1, 0.5));
    assert!((p(2, 0.5) - 0.1).abs() <= 0.01 * 0.1, "{}", p(2, 0.5));
    assert!((p(4, 0.5) - 1.0).abs() <= 0.01, "{}", p(4, 0.5));
    // Per epoch, epoch 1 had nothing of its own.
    assert_eq!(csv["quantiles"][1][0], "NaN");

    // Without the parameter, neither the field nor the columns.
    let v = get(addr, "/api/v1/series?name=request_seconds", &[]).json();
    assert!(v["families"][0].get("quantile_window_ms").is_none());
    assert!(v["families"][0]["series"][0]["history"]
        .get("window_quantiles")
        .is_none());
    server.shutdown();
}

/// A native histogram's history gets the same columns, from its native
/// history, with the documented objectives, equal to the core's.
#[test]
fn windowed_native_histogram_quantiles_match_the_core() {
    let (reg, clock) = manual_registry();
    reg.register(lakemetrics_core::Describe::histogram("batch_seconds").native(4))
        .unwrap();
    let h = reg
        .histogram("batch_seconds", &[("handler", "csv")])
        .unwrap();
    // Four one-second epochs: 1..=10 ms, nothing, 100 ms twice and 0, 1 s.
    for ms in 1..=10 {
        h.observe(f64::from(ms) / 1000.0);
    }
    clock.advance(Duration::from_secs(2));
    h.observe(0.1);
    h.observe(0.1);
    h.observe(0.0);
    clock.advance(Duration::from_secs(1));
    h.observe(1.0);
    let server = HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        .start()
        .unwrap();
    let addr = server.local_addr();
    let resp = get(
        addr,
        "/api/v1/series?name=batch_seconds&quantile_window=2s",
        &[],
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    let fam = &v["families"][0];
    assert_eq!(fam["quantile_window_ms"], 2000);
    let objectives: Vec<f64> = fam["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(float)
        .collect();
    assert_eq!(objectives, lakemetrics_export::NATIVE_WINDOW_OBJECTIVES);
    let mut want = Vec::new();
    reg.visit(&Filter::all(), |f| {
        for s in f.series() {
            let SeriesData::Histogram(core) = s.data() else {
                panic!("not a histogram")
            };
            let since = TimeRange {
                start: Some(s.created()),
                end: None,
            };
            core.for_each_native_window_quantiles(
                s.now(),
                since,
                Duration::from_secs(2),
                &objectives,
                |w| want.push((w.count, w.quantiles.to_vec())),
            );
        }
    });
    let h = &fam["series"][0]["history"];
    let counts: Vec<u64> = h["window_count"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert_eq!(counts, [10, 10, 3, 4]);
    let qs = h["window_quantiles"].as_array().unwrap();
    assert_eq!(qs.len(), want.len());
    for (i, (count, quantiles)) in want.iter().enumerate() {
        assert_eq!(counts[i], *count);
        let got: Vec<f64> = qs[i].as_array().unwrap().iter().map(float).collect();
        let want: Vec<f64> = quantiles.iter().map(|&q| through_json(q)).collect();
        assert_eq!(got, want, "epoch {i}");
    }
    // Without the parameter, neither the fields nor the columns.
    let v = get(addr, "/api/v1/series?name=batch_seconds", &[]).json();
    assert!(v["families"][0].get("quantile_window_ms").is_none());
    assert!(v["families"][0].get("objectives").is_none());
    assert!(v["families"][0]["series"][0]["history"]
        .get("window_quantiles")
        .is_none());
    server.shutdown();
}

#[test]
fn bad_windows_are_refused() {
    let (reg, _clock) = manual_registry();
    reg.summary("request_seconds", &[]).unwrap().observe(0.5);
    let server = HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        .start()
        .unwrap();
    let addr = server.local_addr();
    for bad in ["30", "0s", "-5s", "%2B5s", "soon", "", "5m%20ago"] {
        let resp = get(addr, &format!("/api/v1/series?quantile_window={bad}"), &[]);
        let v = assert_error(&resp, 400, "bad_parameter");
        assert_eq!(v["parameter"], "quantile_window", "{bad}: {v}");
        let message = v["message"].as_str().unwrap();
        assert!(message.contains("30s, 5m, 1h30m"), "{bad}: {message}");
        assert!(v["accepted"].as_str().unwrap().contains("PT30S"));
    }
    // The body docs/http.md shows.
    let resp = get(addr, "/api/v1/series?quantile_window=30", &[]);
    assert_eq!(
        resp.text().trim_end(),
        r#"{"accepted":"a positive duration with a unit: 30s, 5m, 1h30m, 1500ms, or ISO 8601 (PT30S)","error":"bad_parameter","message":"\"30\" is not a duration: give a positive duration with a unit: 30s, 5m, 1h30m, 1500ms, or ISO 8601 (PT30S)","parameter":"quantile_window"}"#
    );
    let resp = get(
        addr,
        "/api/v1/series?quantile_window=1s&quantile_window=2s",
        &[],
    );
    assert_error(&resp, 400, "duplicate_parameter");
    // The families list has no history to window.
    let resp = get(addr, "/api/v1/families?quantile_window=1s", &[]);
    assert_error(&resp, 400, "unknown_parameter");
    // Nothing was changed: the series answers as before.
    let resp = get(addr, "/api/v1/series?quantile_window=1s", &[]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["families"][0]["series"][0]["count"], 1);
    server.shutdown();
}
