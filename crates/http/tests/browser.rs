//! The dashboard in a real browser: headless Chromium (Debian packages
//! `chromium` and `chromium-driver`), driven over WebDriver by chromedriver,
//! loads the dashboard of a running exporter fed with live handler data, and
//! must draw data points in every chart of every handler, list every family,
//! and show hostile label values and HELP texts as text, not markup. A
//! screenshot is saved as `<target dir>/dashboard.png` for people to look at.
//!
//! The test fails, not skips, when Chromium or chromedriver is missing.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, send_raw, target_dir, TempDir};
use lakemetrics_core::{Describe, Registry, Retention};
use lakemetrics_handler::HandlerMetrics;
use lakemetrics_http::HttpExporter;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const DEADLINE: Duration = Duration::from_secs(45);
const EVIL_HANDLER: &str = "<img src=x onerror=\"window.__pwned=1\">";
const EVIL_HANDLER_2: &str = "</code><script>window.__pwned=2</script>";
const EVIL_HELP: &str = "<b>bold</b><img src=x onerror=\"window.__pwned=3\">";

/// chromedriver, killed however the test ends.
struct Driver {
    child: Child,
    addr: SocketAddr,
    session: Option<String>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            let _ = self.call("DELETE", &format!("/session/{id}"), None);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// One WebDriver command: JSON in, the response's `value` out.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let raw = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        let resp = send_raw(self.addr, raw.as_bytes()).map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_slice(&resp.body).map_err(|e| e.to_string())?;
        if resp.status != 200 {
            return Err(format!("{method} {path}: {} {v}", resp.status));
        }
        Ok(v["value"].clone())
    }

    fn session(&self) -> &str {
        self.session.as_deref().unwrap()
    }

    fn execute(&self, script: &str) -> Value {
        let path = format!("/session/{}/execute/sync", self.session());
        self.call("POST", &path, Some(&json!({"script": script, "args": []})))
            .unwrap()
    }
}

fn start_driver(profile: &TempDir) -> Driver {
    for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        assert!(
            std::path::Path::new(path).exists(),
            "{path} is missing: install the Debian packages chromium and chromium-driver \
             (.ci/run does); this test does not skip ({package})"
        );
    }
    let port = free_port();
    let log = std::fs::File::create(profile.0.join("chromedriver.log")).unwrap();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("chromedriver starts");
    let mut driver = Driver {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        session: None,
    };
    let started = Instant::now();
    while driver
        .call("GET", "/status", None)
        .map_or(true, |v| v["ready"] != true)
    {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "chromedriver not ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,1700",
                format!("--user-data-dir={}", profile.0.join("profile").display()),
            ]
        }
    }}});
    let v = driver
        .call("POST", "/session", Some(&caps))
        .expect("a Chromium session");
    driver.session = Some(v["sessionId"].as_str().unwrap().to_string());
    driver
}

/// Standard base64 (the screenshot).
fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let b: Vec<u8> = s.bytes().filter(|&c| c != b'=' && c != b'\n').collect();
    let mut out = Vec::with_capacity(b.len() * 3 / 4);
    for chunk in b.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = (acc << 6) | val(c);
        }
        acc <<= 6 * (4 - chunk.len() as u32);
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// What the page shows, as the test reads it from the DOM.
const PROBE: &str = r#"
const num = (e, a) => Number(e.getAttribute(a) || 0);
return {
  updates: Number(document.body.getAttribute('data-updates') || 0),
  status: document.getElementById('status').textContent,
  handlers: Array.from(document.querySelectorAll('.handler')).map(h => ({
    name: h.getAttribute('data-handler'),
    title: h.querySelector('h3 code').textContent,
    charts: Array.from(h.querySelectorAll('svg.chart')).map(s => num(s, 'data-points')),
    lines: Array.from(h.querySelectorAll('svg.chart polyline'))
      .map(p => (p.getAttribute('points') || '').trim().split(/\s+/).filter(x => x).length),
    spans: Array.from(h.querySelectorAll('.chart-span')).map(e => ({
      text: e.textContent,
      start: Number(e.getAttribute('data-start-ms')),
      end: Number(e.getAttribute('data-end-ms')),
    })),
  })),
  families: Array.from(document.querySelectorAll('#families tbody tr'))
    .map(tr => [tr.children[0].textContent, tr.children[1].textContent, tr.children[5].textContent]),
  pwned: window.__pwned === undefined ? null : window.__pwned,
  imgs: document.querySelectorAll('img').length,
  bolds: document.querySelectorAll('b').length,
  scripts: document.querySelectorAll('script').length,
};
"#;

#[test]
fn dashboard_draws_live_charts_in_chromium() {
    let started = Instant::now();
    let reg = Registry::builder()
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(300)).unwrap())
        .build();
    let handlers: Vec<HandlerMetrics> = ["csv", "json", EVIL_HANDLER, EVIL_HANDLER_2]
        .iter()
        .map(|name| {
            HandlerMetrics::builder(&reg, *name)
                .error_kinds(["parse_error"])
                .latency_retention(
                    Retention::new(Duration::from_secs(1), Duration::from_secs(12)).unwrap(),
                )
                .build()
                .unwrap()
        })
        .collect();
    reg.register(Describe::gauge("other_gauge").help(EVIL_HELP))
        .unwrap();
    reg.gauge("other_gauge", &[]).unwrap().set(1.0);

    // Live data: batches every 10 ms with latencies of 5 to 50 ms, 10% failures.
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let stop = stop.clone();
        let handlers = handlers.clone();
        std::thread::spawn(move || {
            let mut i = 0u64;
            let until = Instant::now() + DEADLINE;
            while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                for (n, h) in handlers.iter().enumerate() {
                    let ms = 5 + (i * 7 + n as u64 * 13) % 45;
                    if i % 10 == 3 {
                        h.record_failure(Duration::from_millis(ms), "parse_error");
                    } else {
                        h.record_success(Duration::from_millis(ms));
                    }
                    h.record_batch(64 * 1024, 500);
                    h.set_queue_depth(i % 20);
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };

    let server = HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        .start()
        .unwrap();
    // Some finished epochs before the page loads.
    std::thread::sleep(Duration::from_millis(1500));

    let profile = TempDir::new("chromium");
    let driver = start_driver(&profile);
    let url = server.url();
    driver
        .call(
            "POST",
            &format!("/session/{}/url", driver.session()),
            Some(&json!({ "url": url })),
        )
        .unwrap();

    // Wait for three refreshes with every chart of every handler drawn, and
    // for more history than the latency histograms keep (12 s).
    let drawn = |v: &Value| {
        v["updates"].as_u64().unwrap_or(0) >= 3
            && started.elapsed() > Duration::from_secs(16)
            && v["handlers"].as_array().is_some_and(|hs| {
                hs.len() == 4
                    && hs.iter().all(|h| {
                        h["charts"].as_array().is_some_and(|c| {
                            c.len() == 4 && c.iter().all(|n| n.as_u64() >= Some(2))
                        })
                    })
            })
    };
    let mut state = driver.execute(PROBE);
    while !drawn(&state) {
        assert!(
            started.elapsed() < DEADLINE,
            "the dashboard did not draw in time: {state:#}"
        );
        std::thread::sleep(Duration::from_millis(250));
        state = driver.execute(PROBE);
    }

    // Every handler has its card, titled with its name as text.
    let mut names: Vec<&str> = state["handlers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            assert_eq!(h["title"], h["name"]);
            h["name"].as_str().unwrap()
        })
        .collect();
    names.sort_unstable();
    let mut want = vec!["csv", "json", EVIL_HANDLER, EVIL_HANDLER_2];
    want.sort_unstable();
    assert_eq!(names, want);
    // Lines with points: batches/s, records/s, error ratio, latency p50/p90/p99.
    for h in state["handlers"].as_array().unwrap() {
        let lines: Vec<u64> = h["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .collect();
        assert_eq!(lines.len(), 1 + 1 + 1 + 3, "{h}");
        assert!(lines.iter().all(|&n| n >= 1), "{h}");
    }
    // Under each chart, the span its data covers, from the answer: the rate
    // charts from when the handlers were created (more than 14 s ago), the
    // latency chart only the 12 s its histogram keeps, although the page
    // asked for five minutes of every family.
    for h in state["handlers"].as_array().unwrap() {
        let spans = h["spans"].as_array().unwrap();
        assert_eq!(spans.len(), 4, "{h}");
        let secs = |i: usize| {
            let s = &spans[i];
            assert!(s["text"].as_str().unwrap().starts_with("data "), "{s}");
            (s["end"].as_f64().unwrap() - s["start"].as_f64().unwrap()) / 1000.0
        };
        for chart in 0..3 {
            assert!(secs(chart) > 14.0, "chart {chart}: {h}");
        }
        assert!((11.0..=13.0).contains(&secs(3)), "latency: {h}");
    }
    // The table lists every family, kind and HELP as text.
    let families: Vec<Vec<String>> = serde_json::from_value(state["families"].clone()).unwrap();
    let names: Vec<&str> = families.iter().map(|f| f[0].as_str()).collect();
    for name in lakemetrics_handler::FAMILIES
        .iter()
        .map(|f| format!("ingest_{}", f.suffix))
    {
        assert!(
            names.contains(&name.as_str()),
            "{name} missing from {names:?}"
        );
    }
    assert!(families.contains(&vec![
        "other_gauge".into(),
        "gauge".into(),
        EVIL_HELP.into()
    ]));
    // Nothing injected: no extra elements, no script ran.
    assert_eq!(state["pwned"], Value::Null);
    assert_eq!(state["imgs"], 0);
    assert_eq!(state["bolds"], 0);
    assert_eq!(state["scripts"], 1);
    assert!(
        state["status"].as_str().unwrap().starts_with("updated"),
        "{state}"
    );

    let shot = driver
        .call(
            "GET",
            &format!("/session/{}/screenshot", driver.session()),
            None,
        )
        .unwrap();
    let png = decode_base64(shot.as_str().unwrap());
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let path = target_dir().join("dashboard.png");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &png).unwrap();
    println!("screenshot: {}", path.display());

    drop(driver);
    stop.store(true, Ordering::Relaxed);
    feeder.join().unwrap();
    server.shutdown();
}
