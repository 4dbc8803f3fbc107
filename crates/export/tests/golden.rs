//! Golden output of every format for every kind, with tricky label values and
//! HELP text (tests/golden/*, reviewed by hand; LAKEMETRICS_BLESS=1 rewrites them).

mod common;

use lakemetrics_core::Filter;
use lakemetrics_export::{write_openmetrics, write_prometheus};

fn render(
    f: fn(&lakemetrics_core::Registry, &Filter, &mut Vec<u8>) -> std::io::Result<()>,
) -> String {
    let (reg, _clock) = common::registry();
    let mut out = Vec::new();
    f(&reg, &Filter::all(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn prometheus_text_0_0_4() {
    common::assert_golden("prometheus.txt", &render(write_prometheus));
}

#[test]
fn openmetrics_1_0_0() {
    common::assert_golden("openmetrics.txt", &render(write_openmetrics));
}

#[test]
fn json() {
    common::assert_golden("json.json", &render(lakemetrics_export::write_json));
}

/// With a quantile window, summaries also give `quantile_window_ms` and the
/// `window_quantiles` and `window_count` columns; nothing else changes.
#[test]
fn json_with_a_quantile_window() {
    use lakemetrics_export::{Exporter, Format};
    let (reg, _clock) = common::registry();
    let window = Some(std::time::Duration::from_secs(20));
    let mut exporter = Exporter::new(Format::Json, Vec::new()).quantile_window(window);
    exporter.write_registry(&reg, &Filter::all()).unwrap();
    let out = String::from_utf8(exporter.finish().unwrap()).unwrap();
    common::assert_golden("json_quantile_window.json", &out);
    // Take the additions out again: the plain export is left.
    let mut v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut added = 0;
    for fam in v["families"].as_array_mut().unwrap() {
        let fam = fam.as_object_mut().unwrap();
        added += usize::from(fam.remove("quantile_window_ms").is_some());
        for s in fam["series"].as_array_mut().unwrap() {
            let h = s["history"].as_object_mut().unwrap();
            added += usize::from(h.remove("window_quantiles").is_some());
            added += usize::from(h.remove("window_count").is_some());
        }
    }
    assert!(added >= 3, "{out}");
    let plain: serde_json::Value =
        serde_json::from_str(&render(lakemetrics_export::write_json)).unwrap();
    assert_eq!(v, plain);
}

/// A native histogram with a quantile window: its family gives `objectives`
/// (`NATIVE_WINDOW_OBJECTIVES`) and `quantile_window_ms`, its series'
/// history `window_quantiles` and `window_count`, one value per epoch, whose
/// quantiles are within the native bound of the exact ones of the window's
/// observations.
#[test]
fn json_native_histogram_with_a_quantile_window() {
    use std::time::Duration;

    use lakemetrics_core::{native_quantile_error, Describe, ManualClock, Registry, Retention};
    use lakemetrics_export::{Exporter, Format, NATIVE_WINDOW_OBJECTIVES};

    let clock = std::sync::Arc::new(ManualClock::new(common::T0));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(10), Duration::from_secs(60)).unwrap())
        .build();
    reg.register(
        Describe::histogram("latency_seconds")
            .help("Latency.")
            .native(3),
    )
    .unwrap();
    let h = reg.histogram("latency_seconds", &[]).unwrap();
    // Four 10 s epochs: 1..=8 ms; nothing; 0, -2 and 0.5 s twice; 3 s.
    let epochs: [&[f64]; 4] = [
        &[0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008],
        &[],
        &[0.0, -2.0, 0.5, 0.5],
        &[3.0],
    ];
    for (k, vals) in epochs.iter().enumerate() {
        if k > 0 {
            clock.advance(Duration::from_secs(10));
        }
        for &v in *vals {
            h.observe(v);
        }
    }
    let mut exporter =
        Exporter::new(Format::Json, Vec::new()).quantile_window(Some(Duration::from_secs(20)));
    exporter.write_registry(&reg, &Filter::all()).unwrap();
    let out = String::from_utf8(exporter.finish().unwrap()).unwrap();
    common::assert_golden("json_native_quantile_window.json", &out);

    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let fam = &v["families"][0];
    assert_eq!(fam["quantile_window_ms"], 20000);
    let objectives: Vec<f64> = fam["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(objectives, NATIVE_WINDOW_OBJECTIVES);
    let hist = &fam["series"][0]["history"];
    let qs = hist["window_quantiles"].as_array().unwrap();
    let counts: Vec<u64> = hist["window_count"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert_eq!(qs.len(), hist["count"].as_array().unwrap().len());
    // Two-epoch windows: 8, 8, 4, 5 observations.
    assert_eq!(counts, [8, 8, 4, 5]);
    let err = native_quantile_error(3);
    for (i, row) in qs.iter().enumerate() {
        let lo = i.saturating_sub(1);
        let mut vals: Vec<f64> = epochs[lo..=i]
            .iter()
            .flat_map(|e| e.iter())
            .copied()
            .collect();
        vals.sort_by(f64::total_cmp);
        for (j, &q) in objectives.iter().enumerate() {
            let rank = ((q * vals.len() as f64).ceil() as usize).clamp(1, vals.len());
            let want = vals[rank - 1];
            let got = row[j].as_f64().unwrap();
            assert!(
                (got - want).abs() <= want.abs() * err * (1.0 + 1e-12),
                "epoch {i} q {q}: {got} vs {want}"
            );
        }
    }
}
