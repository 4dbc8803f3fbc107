//! Helpers shared by the integration tests.

#![allow(dead_code)]

use lakemetrics_core::{Filter, Registry};

/// How to get promtool when it is missing.
pub const PROMTOOL_HINT: &str = "apt-get install -y prometheus";

/// Runs `program args` with `input` on stdin: (exit code, stdout, stderr).
/// Panics, naming `hint`, when the program cannot be run: a conformance test
/// fails rather than skips without its tool (as crates/export/tests does).
pub fn run_tool(program: &str, args: &[&str], input: &[u8], hint: &str) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}; install it: {hint}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The registry's Prometheus text.
pub fn prometheus_text(reg: &Registry) -> String {
    let mut out = Vec::new();
    lakemetrics_export::write_prometheus(reg, &Filter::all(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Asserts that `promtool check metrics` (or `$PROMTOOL`) finds no problem in
/// the registry's Prometheus text; returns the text.
pub fn assert_promtool_clean(reg: &Registry) -> String {
    let text = prometheus_text(reg);
    let program = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let (code, stdout, stderr) = run_tool(
        &program,
        &["check", "metrics"],
        text.as_bytes(),
        PROMTOOL_HINT,
    );
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, "", ""),
        "promtool check metrics failed on:\n{text}"
    );
    text
}

/// The registry's JSON export, parsed.
pub fn json(reg: &Registry) -> serde_json::Value {
    let mut out = Vec::new();
    lakemetrics_export::write_json(reg, &Filter::all(), &mut out).unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// The JSON family `name`.
pub fn json_family<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["families"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no family {name} in {doc}"))
}
