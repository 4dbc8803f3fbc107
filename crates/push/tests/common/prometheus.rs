//! A real Prometheus (Debian package `prometheus`) on 127.0.0.1 with the
//! remote-write receiver on and a temporary data directory; the harness of
//! `crates/http/tests/prometheus.rs`, without scraping. Killed on drop.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "lakemetrics-push-{what}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Prometheus {
    child: Option<Child>,
    /// Flags beyond the ones every start has.
    extra: Vec<String>,
    pub addr: SocketAddr,
    pub dir: TempDir,
}

impl Prometheus {
    /// Starts Prometheus on a free port and waits until it is ready (30 s at
    /// most). Panics if the binary is missing: the test does not skip.
    pub fn start() -> Prometheus {
        Prometheus::start_with(&[])
    }

    /// [`Prometheus::start`] with `extra` flags (e.g.
    /// `--enable-feature=native-histograms`), kept for restarts.
    pub fn start_with(extra: &[&str]) -> Prometheus {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut p = Prometheus {
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            dir: TempDir::new("prometheus"),
        };
        p.restart();
        p
    }

    /// Starts (again) on the same port and data directory.
    pub fn restart(&mut self) {
        self.stop();
        let config = self.dir.0.join("prometheus.yml");
        std::fs::write(&config, "global:\n  evaluation_interval: 1h\n").unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.0.join("prometheus.log"))
            .unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                self.dir.0.join("data").display()
            ))
            .arg(format!("--web.listen-address={}", self.addr))
            .arg("--web.enable-remote-write-receiver")
            .arg("--log.level=warn")
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `prometheus` ({e}): install the Debian package `prometheus`; \
                     this test does not skip"
                )
            });
        self.child = Some(child);
        let start = Instant::now();
        while get(self.addr, "/-/ready").map(|(s, _)| s) != Some(200) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "prometheus not ready within 30 s; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills Prometheus (its data stays for a restart).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("prometheus.log")).unwrap_or_default()
    }

    pub fn write_url(&self) -> String {
        format!("http://{}/api/v1/write", self.addr)
    }

    /// The raw samples of every series `selector` matches over the 10 minutes
    /// before `at_ms`: `(labels, [(timestamp ms, value)])`.
    pub fn raw(&self, selector: &str, at_ms: i64) -> Vec<(Value, Vec<(i64, f64)>)> {
        let path = format!(
            "/api/v1/query?query={}&time={}.{:03}",
            urlencode(&format!("{selector}[10m]")),
            at_ms / 1000,
            at_ms % 1000
        );
        let (status, body) = get(self.addr, &path).expect("query Prometheus");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, 200, "{v}");
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let values = s["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| {
                        let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
                        let v: f64 = match p[1].as_str().unwrap() {
                            "NaN" => f64::NAN,
                            "+Inf" => f64::INFINITY,
                            "-Inf" => f64::NEG_INFINITY,
                            x => x.parse().unwrap(),
                        };
                        (t, v)
                    })
                    .collect();
                (s["metric"].clone(), values)
            })
            .collect()
    }
}

// Shared with `crates/lakemetrics/tests/demo_remote_write.rs`, which does
// not query histograms.
#[allow(dead_code)]
impl Prometheus {
    /// The value of instant query `expr` at `at_ms`, which must have exactly
    /// one result.
    pub fn query_one(&self, expr: &str, at_ms: i64) -> f64 {
        let path = format!(
            "/api/v1/query?query={}&time={}.{:03}",
            urlencode(expr),
            at_ms / 1000,
            at_ms % 1000
        );
        let (status, body) = get(self.addr, &path).expect("query Prometheus");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, 200, "{v}");
        let r = v["data"]["result"].as_array().unwrap();
        assert_eq!(r.len(), 1, "{expr}: {v}");
        r[0]["value"][1].as_str().unwrap().parse().unwrap()
    }

    /// How many series instant query `expr` returns at `at_ms`.
    pub fn count(&self, expr: &str, at_ms: i64) -> usize {
        let path = format!(
            "/api/v1/query?query={}&time={}.{:03}",
            urlencode(expr),
            at_ms / 1000,
            at_ms % 1000
        );
        let (status, body) = get(self.addr, &path).expect("query Prometheus");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, 200, "{v}");
        v["data"]["result"].as_array().unwrap().len()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.stop();
    }
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

/// A GET over HTTP/1.0 (so the answer is never chunked and ends with the
/// connection): `(status, body)`, or `None` if nothing answers.
fn get(addr: SocketAddr, path: &str) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, buf[end + 4..].to_vec()))
}
