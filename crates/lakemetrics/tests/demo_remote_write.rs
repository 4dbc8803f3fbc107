//! `demo --remote-write URL`: a real Prometheus (started with
//! `--web.enable-remote-write-receiver`) receives the demo's series while it
//! runs, and the demo reports what it sent. Fails if `prometheus` is missing.

// The harness of the push crate's own Prometheus tests.
#[path = "../../push/tests/common/prometheus.rs"]
mod prometheus;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_lakemetrics");

#[test]
fn the_demo_pushes_its_series_to_prometheus() {
    let prom = prometheus::Prometheus::start();
    let out = std::env::temp_dir().join(format!("lakemetrics-demo-rw-{}", std::process::id()));
    let started = Instant::now();
    let child = Command::new(BIN)
        .args(["demo", "-q", "--duration", "4s", "--seed", "5", "--no-http"])
        .args(["--remote-write", &prom.write_url()])
        .args(["--remote-write-interval", "1s"])
        .env("LAKEMETRICS_REMOTE_WRITE_TOKEN", "push-token-0123456789")
        .arg("--out-dir")
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the lakemetrics binary");
    let output = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&out);
    assert!(started.elapsed() < Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Remote write:") && l.contains("sent"))
        .unwrap_or_else(|| panic!("no remote-write summary in:\n{stdout}"));
    let sent: u64 = line
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(sent > 100, "{line}");
    assert!(line.ends_with("0 retried, 0 dropped, 0 lost"), "{line}");
    assert!(!stdout.contains("push-token"), "{stdout}");

    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let series = prom.raw("{handler=\"csv\"}", now_ms);
    assert!(series.len() > 5, "{series:?}\nlog:\n{}", prom.log());
    // Every one-second epoch of a series arrived: consecutive timestamps.
    for (labels, samples) in &series {
        assert!(
            samples.windows(2).all(|w| w[1].0 - w[0].0 == 1000),
            "{labels}: {samples:?}"
        );
    }
}
