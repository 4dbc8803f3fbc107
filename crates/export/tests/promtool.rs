//! Conformance of the Prometheus text output with Prometheus' own parser and
//! linter: `promtool check metrics` (Debian package `prometheus`). The tests fail
//! when promtool is missing. Set `PROMTOOL` to use another binary.

mod common;

use lakemetrics_core::{Filter, NameMatch, Registry};
use lakemetrics_export::write_prometheus;

const HINT: &str = "apt-get install -y prometheus";

fn promtool(reg: &Registry, filter: &Filter) -> (i32, String, String, String) {
    let mut out = Vec::new();
    write_prometheus(reg, filter, &mut out).unwrap();
    let program = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let (code, stdout, stderr) = common::run_tool(&program, &["check", "metrics"], &out, HINT);
    (code, stdout, stderr, String::from_utf8(out).unwrap())
}

#[test]
fn promtool_accepts_every_kind_and_tricky_strings_without_problems() {
    let (reg, _clock) = common::registry();
    // Everything but `zz_no_help`, which has no HELP text (see the next test).
    let mut names = Vec::new();
    reg.visit(&Filter::all(), |f| names.push(f.name().to_string()));
    names.retain(|n| n != "zz_no_help");
    let filter = Filter {
        name: NameMatch::AnyOf(names),
        ..Filter::all()
    };
    let (code, stdout, stderr, text) = promtool(&reg, &filter);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, "", ""),
        "promtool check metrics failed on:\n{text}"
    );
}

#[test]
fn promtool_finds_nothing_to_lint() {
    // The registry has a family registered without HELP: it gets the default
    // text, so promtool has nothing to lint ("no help text" before).
    let (reg, _clock) = common::registry();
    let (code, stdout, stderr, text) = promtool(&reg, &Filter::all());
    assert!(
        text.contains("# HELP zz_no_help No description registered.\n"),
        "{text}"
    );
    let problems = format!("{stdout}{stderr}");
    assert_eq!(
        code, 0,
        "promtool check metrics found problems:\n{problems}\n{text}"
    );
}

#[test]
fn promtool_accepts_arbitrary_strings_and_numbers() {
    let reg = common::arbitrary_registry(200);
    let (code, stdout, stderr, text) = promtool(&reg, &Filter::all());
    // The cases give gauges and counters labels named `le` and `quantile`, which
    // promtool lints (it expects them on histograms and summaries only). They are
    // the user's label names, legal in the data model and written as given; any
    // other problem, and any parse error, fails the test.
    let problems = format!("{stdout}{stderr}");
    let unexpected: Vec<&str> = problems
        .lines()
        .filter(|l| {
            !l.ends_with(" non-histogram metrics should not have \"le\" label")
                && !l.ends_with(" non-summary metrics should not have \"quantile\" label")
        })
        .collect();
    assert!(
        matches!(code, 0 | 3) && unexpected.is_empty(),
        "promtool check metrics: exit {code}, problems {unexpected:?}; \
         output was {} bytes:\n{}",
        text.len(),
        &text[..text.len().min(4000)]
    );
}

#[test]
fn promtool_rejects_what_it_should() {
    // The tool is really parsing: broken escaping fails it.
    let program = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let (code, _, stderr) = common::run_tool(
        &program,
        &["check", "metrics"],
        b"# HELP x_total X.\n# TYPE x_total counter\nx_total{a=\"\\q\"} 1\n",
        HINT,
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("invalid escape sequence"), "{stderr}");
}
