//! The registry the golden and conformance tests export: every kind, tricky
//! label values and HELP text, non-finite numbers, and a deterministic clock.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{Buckets, Describe, ManualClock, Registry, Retention};

/// 2023-11-14T22:13:20.25Z, in ns.
pub const T0: u64 = 1_700_000_000_250_000_000;

/// Label values that have broken exporters: escapes, quotes that could close the
/// value, things that look like more samples, Unicode, and the empty string.
pub const TRICKY: [&str; 6] = [
    "back\\slash",
    "double \"quote\"",
    "new\nline",
    "λ 日本 \u{1F600}",
    "",
    "x\"} evil_total 1\n# EOF",
];

/// HELP text with a backslash, quotes and a line feed.
pub const TRICKY_HELP: &str = "Requests \"served\" from C:\\logs\nby method and path.";

/// The fixture registry and its clock.
pub fn registry() -> (Registry, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(10), Duration::from_secs(60)).unwrap())
        .build();

    reg.register(Describe::counter("http_requests_total").help(TRICKY_HELP))
        .unwrap();
    for (i, v) in TRICKY.iter().enumerate() {
        reg.counter("http_requests_total", &[("method", "GET"), ("path", v)])
            .unwrap()
            .inc_by(i as u64 + 1);
    }
    reg.register(
        Describe::counter("ingest_bytes")
            .help("Bytes ingested.")
            .unit("bytes"),
    )
    .unwrap();
    let ingest = reg.counter("ingest_bytes", &[]).unwrap();
    ingest.inc_by(1 << 40);

    reg.register(Describe::gauge("queue_depth").help("Items waiting, by queue."))
        .unwrap();
    for (q, v) in [
        ("nan", f64::NAN),
        ("neg_inf", f64::NEG_INFINITY),
        ("neg_zero", -0.0),
        ("plus_inf", f64::INFINITY),
        ("small", 1.5e-7),
        ("three", 3.0),
        ("huge", 1e20),
    ] {
        reg.gauge("queue_depth", &[("queue", q)]).unwrap().set(v);
    }
    // A family without HELP text: OpenMetrics and 0.0.4 leave the line out.
    reg.gauge("zz_no_help", &[]).unwrap().set(-2.5);

    reg.register(
        Describe::histogram("batch_seconds")
            .help("Time to process one batch.")
            .unit("seconds")
            .buckets(Buckets::new(vec![0.005, 0.25, 1.0, 100000.0, 1e6]).unwrap()),
    )
    .unwrap();
    let h = reg
        .histogram("batch_seconds", &[("handler", "csv")])
        .unwrap();
    for v in [0.001, 0.002, 0.2, 0.7, 3.0, 2e6] {
        h.observe(v);
    }
    reg.histogram("batch_seconds", &[("handler", TRICKY[1])])
        .unwrap();
    // A series label named `le` would clash with the bucket label: core refuses it.
    reg.register(
        Describe::histogram("odd_le")
            .help("A histogram whose series wanted its own le label.")
            .buckets(Buckets::new(vec![1.0]).unwrap()),
    )
    .unwrap();
    assert!(reg.histogram("odd_le", &[("le", "mine")]).is_err());

    reg.register(
        Describe::summary("rpc_latency_seconds")
            .help("RPC latency.")
            .unit("seconds")
            .objectives(vec![0.5, 0.9, 0.99]),
    )
    .unwrap();
    let s = reg
        .summary("rpc_latency_seconds", &[("service", "store")])
        .unwrap();
    for i in 1..=100 {
        s.observe(f64::from(i) / 100.0);
    }
    reg.summary("rpc_latency_seconds", &[("service", "idle")])
        .unwrap();

    // Some history: two more epochs of recordings.
    clock.advance(Duration::from_secs(10));
    ingest.inc_by(512);
    reg.gauge("queue_depth", &[("queue", "three")])
        .unwrap()
        .set(5.0);
    reg.gauge("queue_depth", &[("queue", "three")])
        .unwrap()
        .set(4.0);
    clock.advance(Duration::from_secs(10));
    ingest.inc_by(7);
    h.observe(0.01);
    (reg, clock)
}

/// `tests/<relative>` inside this crate.
pub fn test_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(relative)
}

/// Compares `actual` with the golden file `tests/golden/<name>`; with
/// `LAKEMETRICS_BLESS=1`, rewrites the file instead (then review the diff).
pub fn assert_golden(name: &str, actual: &str) {
    let path = test_path(&format!("golden/{name}"));
    if std::env::var_os("LAKEMETRICS_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with LAKEMETRICS_BLESS=1 to create it)",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the output, first at line {}:\n--- expected\n{}\n--- actual\n{}",
            path.display(),
            line + 1,
            expected.lines().nth(line).unwrap_or("<end>"),
            actual.lines().nth(line).unwrap_or("<end>"),
        );
    }
}

/// A registry holding the first `n` cases of the fuzz seed corpus, each as four
/// families (`arb<i>_...`): arbitrary label values (control characters, quotes,
/// backslashes, Unicode), numbers (NaN, infinities, subnormals, negative
/// buckets) and HELP text. The HELP gets a leading `h` so that it is never empty
/// (promtool lints that) nor starts with a space (Python's parser strips it).
pub fn arbitrary_registry(n: usize) -> Registry {
    use lakemetrics_export::fuzzing::{seed_corpus, Case};
    let reg = Registry::builder()
        .clock(Arc::new(ManualClock::new(T0)))
        .build();
    for (i, seed) in seed_corpus().iter().take(n).enumerate() {
        let case = Case::from_bytes(seed);
        case.register_into(&reg, &format!("arb{i}"), &format!("h{}", case.help));
    }
    reg
}

/// Runs `program args` with `input` on stdin; returns (exit code, stdout, stderr).
/// Panics with an install hint when the program cannot be started: a missing
/// conformance tool fails the test, it does not skip it.
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
