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
