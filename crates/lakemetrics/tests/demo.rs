//! The `lakemetrics demo` binary, run for real: it exits cleanly after
//! `--duration`, writes a Prometheus text file that `promtool check metrics`
//! accepts and a JSON file that parses, both with plausible figures; bad options
//! exit with code 2 and say what was wrong.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lakemetrics");
const READERS: [&str; 3] = ["csv", "json", "parquet"];

/// A fresh, empty directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("lakemetrics-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs the binary, killing it if it outlives `limit`.
fn run(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("LAKEMETRICS_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the lakemetrics binary");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("lakemetrics {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("collect output")
}

/// `promtool check metrics < file`; fails (never skips) if promtool is missing.
fn promtool_check(file: &Path) {
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(fs::File::open(file).expect("open the text export"))
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool is required for this test (install Debian's prometheus package): {e}")
        });
    assert!(
        out.status.success(),
        "promtool check metrics failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `family -> handler -> series` of the JSON export, for series with a
/// `handler` label and, if given, `extra` label equal to its value.
fn by_handler<'a>(
    json: &'a Value,
    family: &str,
    extra: Option<(&str, &str)>,
) -> BTreeMap<String, &'a Value> {
    let fam = json["families"]
        .as_array()
        .expect("families")
        .iter()
        .find(|f| f["name"] == family)
        .unwrap_or_else(|| panic!("family {family} missing"));
    let mut out = BTreeMap::new();
    for s in fam["series"].as_array().expect("series") {
        let labels = &s["labels"];
        if let Some((k, v)) = extra {
            if labels[k] != v {
                continue;
            }
        }
        if let Some(h) = labels["handler"].as_str() {
            out.insert(h.to_string(), s);
        }
    }
    out
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is not a count"))
}

#[test]
fn demo_runs_and_writes_valid_exports() {
    let dir = TempDir::new("demo");
    let out_dir = dir.0.to_str().unwrap();
    let started = Instant::now();
    let out = run(
        &[
            "demo",
            "--duration",
            "3s",
            "--out-dir",
            out_dir,
            "--seed",
            "7",
            "--error-rate",
            "0.05",
        ],
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {}:\n{stdout}\n{stderr}",
        out.status
    );
    assert!(started.elapsed() >= Duration::from_secs(3));

    // The live view (a frame a second) and the closing summary naming the files.
    assert!(stdout.matches("lakemetrics demo:").count() >= 2, "{stdout}");
    for h in READERS.iter().chain(&["writer"]) {
        assert!(
            stdout.contains(&format!("\n{h} ")),
            "{h} missing from\n{stdout}"
        );
    }
    let prom = dir.0.join("metrics.prom");
    let json = dir.0.join("metrics.json");
    assert!(
        stdout.contains(&format!("Prometheus text: {}", prom.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("JSON:            {}", json.display())),
        "{stdout}"
    );

    // The text export: promtool accepts it, and it holds every handler.
    promtool_check(&prom);
    let text = fs::read_to_string(&prom).unwrap();
    for name in [
        "ingest_batch_duration_seconds",
        "ingest_batches_total",
        "ingest_errors_total",
        "ingest_bytes_total",
        "ingest_records_total",
        "ingest_batch_bytes",
        "ingest_batch_records",
        "ingest_queue_depth",
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "{name} missing");
    }

    // The JSON export parses, and its figures are plausible.
    let json: Value =
        serde_json::from_str(&fs::read_to_string(&json).unwrap()).expect("valid JSON");
    let ok = by_handler(&json, "ingest_batches_total", Some(("outcome", "success")));
    let failed = by_handler(&json, "ingest_batches_total", Some(("outcome", "failure")));
    let durations = by_handler(&json, "ingest_batch_duration_seconds", None);
    let records = by_handler(&json, "ingest_records_total", None);
    let bytes = by_handler(&json, "ingest_bytes_total", None);
    let depth = by_handler(&json, "ingest_queue_depth", None);
    let errors = by_handler(&json, "ingest_errors_total", Some(("kind", "dropped")));
    let mut read_records = 0;
    for h in READERS.iter().chain(&["writer"]) {
        let (ok, failed) = (u(&ok[*h]["total"]), u(&failed[*h]["total"]));
        let batches = ok + failed;
        // Some tens of batches a second per reader, for three seconds.
        assert!(ok > 10, "{h}: {ok} successes");
        let ratio = failed as f64 / batches as f64;
        assert!((0.0..0.5).contains(&ratio), "{h}: error ratio {ratio}");
        // Every batch was timed once, whatever its outcome.
        assert_eq!(u(&durations[*h]["count"]), batches, "{h}");
        let sum = durations[*h]["sum"].as_f64().unwrap();
        let mean = sum / batches as f64;
        assert!(mean > 0.001 && mean < 1.0, "{h}: mean batch time {mean}s");
        assert!(u(&records[*h]["total"]) > 0, "{h}");
        assert!(
            u(&bytes[*h]["total"]) > u(&records[*h]["total"]),
            "{h}: bytes > records"
        );
        let d = depth[*h]["value"].as_f64().unwrap();
        assert!((0.0..=10_000.0).contains(&d), "{h}: queue depth {d}");
        assert!(errors.contains_key(*h), "{h}: no dropped series");
        if *h != "writer" {
            read_records += u(&records[*h]["total"]);
        }
    }
    // Writers commit only what readers read.
    assert!(u(&records["writer"]["total"]) <= read_records);
    assert!(u(&ok["writer"]["total"]) > 0);
}

#[test]
fn bad_options_exit_2_with_a_clear_message() {
    let dir = TempDir::new("demo-bad");
    let out_dir = dir.0.to_str().unwrap();
    for (args, expect) in [
        (
            &["demo", "--writers", "0", "--out-dir", out_dir][..],
            "error: invalid value '0' for '--writers <N>': 0 is out of range (1 to 64)",
        ),
        (
            &["demo", "--duration", "soon", "--out-dir", out_dir],
            "error: invalid value 'soon' for '--duration <DURATION>': 'soon' is not a duration",
        ),
        (
            &["demo", "--frobnicate", "--out-dir", out_dir],
            "error: unexpected argument '--frobnicate' found",
        ),
        (
            &["demo", "--out-dir"],
            "error: a value is required for '--out-dir <DIR>' but none was supplied",
        ),
        (
            &["demo", "--token", "0000000000000000", "--out-dir", out_dir],
            "error: --token (or LAKEMETRICS_TOKEN): the token is too weak",
        ),
        (
            &["frobnicate"],
            "error: unrecognized subcommand 'frobnicate'",
        ),
        (&[], "error: 'lakemetrics' requires a subcommand"),
    ] {
        let out = run(args, Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert!(
            stderr.contains("For more information, try '--help'."),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
    // Nothing ran, so nothing was written.
    assert!(!dir.0.exists());
}

#[test]
fn help_lists_commands_and_options() {
    let out = run(&["--help"], Duration::from_secs(30));
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Commands:") && help.contains("  demo "),
        "{help}"
    );

    let out = run(&["demo", "--help"], Duration::from_secs(30));
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--duration",
        "--out-dir",
        "--writers",
        "--queue",
        "--error-rate",
        "--window",
        "--seed",
        "--prefix",
        "--quiet",
    ] {
        assert!(help.contains(opt), "{opt} undocumented:\n{help}");
    }
    assert_eq!(
        run(&["help", "demo"], Duration::from_secs(30)).stdout,
        out.stdout
    );
}
