//! Issue 17, item 5, end to end: a real Prometheus (Debian package
//! `prometheus`) scrapes the demo every second while it runs with a data
//! directory, is killed with SIGKILL, and restarts on the same directory.
//! Prometheus' `increase(..[2m])` across the restart must be the true number of
//! batches recorded, less at most what was recorded after its last scrape of the
//! killed run (the loss window), never plus the restored total.
//!
//! Before the fix, the restart restored the last interim checkpoint, up to a
//! checkpoint interval below what Prometheus had scraped: Prometheus read the
//! fall as a counter reset and counted the whole restored total again.
//!
//! The Prometheus harness is the one of `crates/http/tests/prometheus.rs`. The
//! test fails, not skips, when `prometheus` is missing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lakemetrics");
/// The demo's checkpoint interval (its default), and how long the first run
/// goes on after its first checkpoint before it is killed: what it restores
/// is then 8 s behind what Prometheus scraped.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);
const RUN1: Duration = Duration::from_secs(18);
const RUN2: Duration = Duration::from_secs(12);
/// Extrapolation to the window's edges and the batches before the first
/// scrape: Prometheus' `increase()` is this close to the truth, relatively.
const SLACK: f64 = 0.05;

struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        let p =
            std::env::temp_dir().join(format!("lakemetrics-restart-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed however the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// `GET path` over HTTP/1.0 (so no chunked framing): status and body.
fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_string()))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn start_prometheus(dir: &Path, target: SocketAddr) -> (Killed, SocketAddr) {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: demo\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `prometheus` ({e}): install the Debian package `prometheus` \
                 (.ci/run does); this test does not skip"
            )
        });
    (Killed(child), addr)
}

/// An instant query at `at` (unix seconds); `None` until Prometheus answers.
fn query(prom: SocketAddr, q: &str, at: f64) -> Option<Vec<Value>> {
    let (status, body) = http_get(
        prom,
        &format!("/api/v1/query?query={}&time={at:.3}", urlencode(q)),
    )
    .ok()?;
    if status != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(&body).ok()?;
    assert_eq!(v["status"], "success", "{v}");
    v["data"]["result"].as_array().cloned()
}

/// A query whose answer is one number.
fn scalar(prom: SocketAddr, q: &str, at: f64) -> f64 {
    let r = query(prom, q, at).unwrap_or_else(|| panic!("{q}: no answer"));
    assert_eq!(r.len(), 1, "{q}: {r:?}");
    r[0]["value"][1].as_str().unwrap().parse().unwrap()
}

/// The sum, over the series `selector` picks, of each one's first sample in
/// the two minutes before `at`.
fn first_samples(prom: SocketAddr, selector: &str, at: f64) -> f64 {
    let r = query(prom, &format!("{selector}[2m]"), at).unwrap();
    r.iter()
        .map(|s| s["values"][0][1].as_str().unwrap().parse::<f64>().unwrap())
        .sum()
}

/// The sum of `ingest_batches_total` in a Prometheus text exposition.
fn batches(text: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("ingest_batches_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn demo(data: &Path, out: &Path, listen: SocketAddr) -> Killed {
    let s = |p: &Path| p.to_str().unwrap().to_string();
    Killed(
        Command::new(BIN)
            .args([
                "demo",
                "-q",
                "--listen",
                &listen.to_string(),
                "--data-dir",
                &s(data),
                "--checkpoint-every",
                &format!("{}s", CHECKPOINT_EVERY.as_secs()),
                "--out-dir",
                &s(out),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the lakemetrics binary"),
    )
}

fn wait_for(what: &str, limit: Duration, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn prometheus_increase_across_a_kill_and_restart_is_the_true_count() {
    let started = Instant::now();
    let tmp = TempDir::new("prometheus");
    let data = tmp.0.join("data");
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (_prom, prom) = start_prometheus(&tmp.0, listen);
    wait_for("prometheus to be ready", Duration::from_secs(30), || {
        http_get(prom, "/-/ready").is_ok_and(|(s, _)| s == 200)
    });

    // Run 1, from an empty directory: its counters are the true counts.
    let mut run1 = demo(&data, &tmp.0.join("out1"), listen);
    let run1_start = Instant::now();
    wait_for("the demo to serve", Duration::from_secs(20), || {
        http_get(listen, "/metrics").is_ok_and(|(s, _)| s == 200)
    });
    std::thread::sleep(RUN1.saturating_sub(run1_start.elapsed()));
    let checkpoints = std::fs::read_dir(&data).unwrap().count();
    assert!(checkpoints >= 1, "no interim checkpoint after {RUN1:?}");
    // Our own scrape, then SIGKILL at once: what run 1 recorded, to within
    // the few batches of a millisecond or two.
    let (status, text) = http_get(listen, "/metrics").unwrap();
    assert_eq!(status, 200);
    let s1 = batches(&text);
    run1.0.kill().unwrap();
    let t_kill = now_secs();
    run1.0.wait().unwrap();
    assert!(s1 > 0.0);

    // Run 2, on the same directory and port.
    std::thread::sleep(Duration::from_secs(2));
    let run2 = demo(&data, &tmp.0.join("out2"), listen);
    let run2_start = Instant::now();
    wait_for(
        "the restarted demo to serve",
        Duration::from_secs(20),
        || http_get(listen, "/metrics").is_ok_and(|(s, _)| s == 200),
    );
    std::thread::sleep(RUN2.saturating_sub(run2_start.elapsed()));
    // Evaluate at Prometheus' newest scrape of run 2, while it still runs.
    let t_eval = scalar(
        prom,
        "max(timestamp(ingest_batches_total{job=\"demo\"}))",
        now_secs(),
    );
    assert!(t_eval > t_kill + 2.0, "no scrape of run 2 yet");
    let served2 = scalar(prom, "sum(ingest_batches_total{job=\"demo\"})", t_eval);
    let increase = scalar(
        prom,
        "sum(increase(ingest_batches_total{job=\"demo\"}[2m]))",
        t_eval,
    );
    let p1_last = scalar(prom, "sum(ingest_batches_total{job=\"demo\"})", t_kill);
    let p1_first = first_samples(prom, "ingest_batches_total{job=\"demo\"}", t_kill);
    let samples1 = scalar(
        prom,
        "min(count_over_time(ingest_batches_total{job=\"demo\"}[2m]))",
        t_kill,
    );
    assert!(samples1 >= 10.0, "only {samples1} scrapes of run 1");

    // Stop run 2 cleanly: its summary says what it recorded itself.
    let pid = run2.0.id().to_string();
    let st = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(st.success());
    let mut run2 = run2;
    let deadline = Instant::now() + Duration::from_secs(30);
    while run2.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the demo ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stdout = String::new();
    run2.0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let recorded2: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Batches recorded in this run: "))
        .unwrap_or_else(|| panic!("no count of this run's batches:\n{stdout}"))
        .trim()
        .parse()
        .unwrap();
    let final2 = batches(&std::fs::read_to_string(tmp.0.join("out2/metrics.prom")).unwrap());
    // What run 2's counters held before it recorded anything.
    let restored2 = final2 - recorded2;
    // Every batch recorded from Prometheus' first scrape of run 1 (what came
    // before it is not the restart's to count) to its last scrape of run 2.
    let truth = (s1 - p1_first) + (served2 - restored2);
    let lost = s1 - p1_last;
    let report = format!(
        "increase {increase}, truth {truth} (run 1: {s1}, Prometheus first saw {p1_first}, \
         last {p1_last}; \
         run 2 started at {restored2}, served {served2} at the evaluation)\n{stdout}"
    );
    assert!(
        stdout.contains("did not exit cleanly") && stdout.contains("start afresh"),
        "{report}"
    );
    assert!(lost >= 0.0, "{report}");
    assert!(
        increase <= truth * (1.0 + SLACK),
        "Prometheus counts more than was recorded: {report}"
    );
    assert!(
        increase >= (truth - lost) * (1.0 - SLACK),
        "Prometheus lost more than the loss window: {report}"
    );
    eprintln!("{report}");
    assert!(started.elapsed() < Duration::from_secs(120));
}
