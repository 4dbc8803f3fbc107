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
