//! A real Prometheus server (Debian package `prometheus`) for the tests that
//! scrape us with it: started on a free 127.0.0.1 port with a scrape config of
//! the caller's jobs, killed (with its data directory removed) on drop. Fails,
//! never skips, when `prometheus` is missing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lakemetrics_core::{Buckets, Describe, Filter, Registry, SeriesData};
use serde_json::Value;

use super::{free_port, TempDir};

/// The series both scrape tests (text and protobuf) expect Prometheus to store:
/// counters (one label value full of characters to escape), gauges, a classic
/// histogram and a summary.
pub fn populate(reg: &Registry) {
    reg.register(Describe::counter("lmtest_rows").help("Rows ingested."))
        .unwrap();
    reg.counter("lmtest_rows", &[("handler", "csv")])
        .unwrap()
        .inc_by(1_234_567);
    reg.counter(
        "lmtest_rows",
        &[("handler", "json \"v2\" \\ back\nslash ✓ <script>")],
    )
    .unwrap()
    .inc_by(42);
    reg.counter("lmtest_errors_total", &[("kind", "parse_error")])
        .unwrap()
        .inc_by(7);
    reg.gauge("lmtest_queue_depth", &[("handler", "csv")])
        .unwrap()
        .set(12.5);
    reg.gauge("lmtest_temperature", &[]).unwrap().set(-3.25);
    reg.register(
        Describe::histogram("lmtest_batch_seconds")
            .help("Batch time.")
            .buckets(Buckets::new(vec![0.25, 0.5, 1.0, 2.5]).unwrap()),
    )
    .unwrap();
    let h = reg
        .histogram("lmtest_batch_seconds", &[("handler", "csv")])
        .unwrap();
    for v in [0.1, 0.3, 0.3, 2.0, 5.0] {
        h.observe(v);
    }
    reg.register(Describe::summary("lmtest_rpc_seconds").objectives(vec![0.5, 0.9, 0.99]))
        .unwrap();
    let s = reg.summary("lmtest_rpc_seconds", &[]).unwrap();
    for i in 1..=100 {
        s.observe(f64::from(i) / 100.0);
    }
}

pub const TOKEN: &str = "prometheus-test-token";
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Kills Prometheus (and so frees its port and data directory) however the
/// test ends.
pub struct Prometheus {
    child: Child,
    pub addr: SocketAddr,
    pub dir: TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One scrape job of `target` every second with the bearer token; `params`
/// is YAML for the job's `params:` block (indented), or empty.
pub fn job(name: &str, target: SocketAddr, params: &str) -> String {
    format!(
        "  - job_name: {name}\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    \
         authorization:\n      credentials: {TOKEN}\n{params}    static_configs:\n      \
         - targets: ['{target}']\n"
    )
}

/// Starts Prometheus with `jobs` (from [`job`]) and `extra_args`.
pub fn start(jobs: &[String], extra_args: &[&str]) -> Prometheus {
    let dir = TempDir::new("prometheus");
    let config = dir.0.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n{}",
            jobs.concat(),
        ),
    )
    .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = std::fs::File::create(dir.0.join("prometheus.log")).unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.0.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--log.level=warn")
        .args(extra_args)
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
    Prometheus { child, addr, dir }
}

impl Prometheus {
    /// Polls `cond` every 200 ms until it holds; panics with Prometheus' log
    /// once [`DEADLINE`] has passed since `started`.
    pub fn wait(&self, started: Instant, what: &str, cond: &dyn Fn() -> bool) {
        while !cond() {
            assert!(
                started.elapsed() < DEADLINE,
                "timed out waiting for {what}; prometheus log:\n{}",
                std::fs::read_to_string(self.dir.0.join("prometheus.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until Prometheus is ready.
    pub fn wait_ready(&self, started: Instant) {
        self.wait(started, "prometheus to be ready", &|| {
            super::send_raw(
                self.addr,
                format!(
                    "GET /-/ready HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                    self.addr
                )
                .as_bytes(),
            )
            .is_ok_and(|r| r.status == 200)
        });
    }

    /// Waits for at least three scrapes of `job`, and checks that none failed.
    pub fn wait_scrapes(&self, started: Instant, job: &str) {
        self.wait(started, &format!("three good scrapes of {job}"), &|| {
            query(
                self.addr,
                &format!("sum_over_time(up{{job=\"{job}\"}}[1m])"),
            )
            .and_then(|r| r.first().cloned())
            .and_then(|v| v["value"][1].as_str()?.parse::<f64>().ok())
            .is_some_and(|n| n >= 3.0)
        });
        let min = query(
            self.addr,
            &format!("min_over_time(up{{job=\"{job}\"}}[1m])"),
        )
        .unwrap();
        assert_eq!(min[0]["value"][1], "1", "{job}: a scrape failed");
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs an instant query; `None` until Prometheus answers.
pub fn query(prom: SocketAddr, q: &str) -> Option<Vec<Value>> {
    let raw = format!(
        "GET /api/v1/query?query={} HTTP/1.1\r\nHost: {prom}\r\nConnection: close\r\n\r\n",
        urlencode(q)
    );
    let resp = super::send_raw(prom, raw.as_bytes()).ok()?;
    if resp.status != 200 {
        return None;
    }
    let v = resp.json();
    assert_eq!(v["status"], "success", "{v}");
    v["data"]["result"].as_array().cloned()
}

/// The value of a query with exactly one result.
pub fn query_one(prom: SocketAddr, q: &str) -> f64 {
    let r = query(prom, q).unwrap_or_else(|| panic!("{q}: no answer"));
    assert_eq!(r.len(), 1, "{q}: {r:?}");
    r[0]["value"][1].as_str().unwrap().parse().unwrap()
}

pub type Sample = (String, BTreeMap<String, String>);

/// The series `job` holds under names matching `lmtest_.+` (no `_created`),
/// with `job` and `instance` checked and removed.
pub fn stored(prom: SocketAddr, job: &str, instance: SocketAddr) -> BTreeMap<Sample, f64> {
    let result = query(
        prom,
        &format!("{{__name__=~\"lmtest_.+\",__name__!~\".+_created\",job=\"{job}\"}}"),
    )
    .unwrap();
    let mut got = BTreeMap::new();
    for r in &result {
        let mut labels: BTreeMap<String, String> =
            serde_json::from_value(r["metric"].clone()).unwrap();
        let name = labels.remove("__name__").unwrap();
        assert_eq!(labels.remove("job").as_deref(), Some(job));
        assert_eq!(labels.remove("instance"), Some(instance.to_string()));
        let value: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
        got.insert((name, labels), value);
    }
    got
}

/// Checks that `got` holds exactly the series and values of `want`.
pub fn assert_same(job: &str, got: &BTreeMap<Sample, f64>, want: &BTreeMap<Sample, f64>) {
    let names: Vec<_> = got.keys().map(|(n, l)| format!("{n}{l:?}")).collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{job}: series differ; prometheus has {names:#?}"
    );
    for (k, w) in want {
        let g = got[k];
        assert!(
            g == *w || (g.is_nan() && w.is_nan()),
            "{job}: {k:?}: prometheus has {g}, the registry {w}"
        );
    }
}

/// What Prometheus should hold for each series of `reg`, worked out from the
/// registry's own view (not from our exposition text).
pub fn expected(reg: &Registry) -> BTreeMap<Sample, f64> {
    fn le(v: f64) -> String {
        if v.is_infinite() {
            "+Inf".into()
        } else {
            let s = format!("{v}");
            if s.contains(['.', 'e']) {
                s
            } else {
                format!("{s}.0")
            }
        }
    }
    let mut out = BTreeMap::new();
    reg.visit(&Filter::all(), |fam| {
        let name = fam.name().to_string();
        for s in fam.series() {
            let labels: BTreeMap<String, String> = s
                .labels()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let with = |k: &str, v: String| {
                let mut l = labels.clone();
                l.insert(k.to_string(), v);
                l
            };
            match s.data() {
                SeriesData::Counter(c) => {
                    let n = if name.ends_with("_total") {
                        name.clone()
                    } else {
                        format!("{name}_total")
                    };
                    out.insert((n, labels.clone()), c.total() as f64);
                }
                SeriesData::Gauge(g) => {
                    out.insert((name.clone(), labels.clone()), g.get());
                }
                SeriesData::Histogram(h) => {
                    let bounds = fam.bucket_bounds();
                    h.with_cumulative(|counts, sum| {
                        let mut cum = 0u64;
                        for (i, c) in counts.enumerate() {
                            cum += c;
                            let bound = bounds.get(i).copied().unwrap_or(f64::INFINITY);
                            out.insert(
                                (format!("{name}_bucket"), with("le", le(bound))),
                                cum as f64,
                            );
                        }
                        out.insert((format!("{name}_count"), labels.clone()), cum as f64);
                        out.insert((format!("{name}_sum"), labels.clone()), sum);
                    });
                }
                SeriesData::Summary(x) => {
                    for &q in fam.objectives() {
                        let v = x.quantile(q, s.now(), fam.retention().window());
                        out.insert(
                            (
                                name.clone(),
                                with("quantile", le(q).trim_end_matches(".0").to_string()),
                            ),
                            v,
                        );
                    }
                    out.insert((format!("{name}_count"), labels.clone()), x.count() as f64);
                    out.insert((format!("{name}_sum"), labels.clone()), x.sum());
                }
            }
        }
    });
    out
}
