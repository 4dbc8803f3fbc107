//! A real Prometheus 2.42 (Debian package `prometheus`) with
//! `--enable-feature=native-histograms` asks for the protobuf exposition first;
//! it scrapes our endpoint through a recording TCP proxy on 127.0.0.1, and
//! then:
//!
//! - the proxy saw every scrape request ask for protobuf and every answer
//!   served as `application/vnd.google.protobuf` (so the samples below came
//!   from the protobuf body, not from a text fallback);
//! - its query API returns every one of our series (counter, gauges, classic
//!   histogram buckets with the `+Inf` bucket Prometheus derives from the
//!   count, summary quantiles) with the registry's names, labels and values,
//!   and `histogram_quantile` over the buckets gives the hand-computed value.
//!
//! The test fails, not skips, when `prometheus` is missing.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::prometheus::{self, expected, query_one, DEADLINE};
use lakemetrics_core::{Buckets, Describe, Registry};
use lakemetrics_http::HttpExporter;

/// Bytes kept per direction: enough for the headers of every scrape.
const RECORD_LIMIT: usize = 4 << 20;

/// A TCP proxy that forwards to `target` and records the first
/// [`RECORD_LIMIT`] bytes of each direction.
struct Proxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    requests: Arc<Mutex<Vec<u8>>>,
    responses: Arc<Mutex<Vec<u8>>>,
}

fn pipe(mut from: TcpStream, mut to: TcpStream, record: Arc<Mutex<Vec<u8>>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                {
                    let mut r = record.lock().unwrap();
                    let room = RECORD_LIMIT.saturating_sub(r.len()).min(n);
                    r.extend_from_slice(&buf[..room]);
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
    let _ = from.shutdown(std::net::Shutdown::Both);
}

impl Proxy {
    fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let responses = Arc::new(Mutex::new(Vec::new()));
        let (s, rq, rs) = (stop.clone(), requests.clone(), responses.clone());
        let accept = std::thread::spawn(move || {
            let mut pipes = Vec::new();
            // Relaxed: a plain flag; the join below orders everything else.
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = TcpStream::connect(target) else {
                            continue;
                        };
                        for c in [&client, &server] {
                            c.set_read_timeout(Some(DEADLINE)).unwrap();
                        }
                        let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                        let (rq, rs) = (rq.clone(), rs.clone());
                        pipes.push(std::thread::spawn(move || pipe(client, server, rq)));
                        pipes.push(std::thread::spawn(move || pipe(s2, c2, rs)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            // Prometheus and the server are gone by now: their connections
            // are closed, so every pipe ends.
            for p in pipes {
                let _ = p.join();
            }
        });
        Proxy {
            addr,
            stop,
            accept: Some(accept),
            requests,
            responses,
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
    }
}

/// The values of header `name` (lowercase) in every HTTP message of `raw`.
fn header_values(raw: &[u8], name: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    text.split("\r\n")
        .filter_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
        .collect()
}

#[test]
fn prometheus_scrapes_protobuf_and_stores_our_series() {
    let started = Instant::now();
    let reg = Registry::new();
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
    let want = expected(&reg);
    assert_eq!(want.len(), 2 + 1 + 2 + (5 + 2) + (3 + 2));

    let server = HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        .token(prometheus::TOKEN)
        .start()
        .unwrap();
    let proxy = Proxy::start(server.local_addr());
    let job = "lakemetrics-proto";
    let prom = prometheus::start(
        &[prometheus::job(job, proxy.addr, "")],
        &["--enable-feature=native-histograms"],
    );
    prom.wait_ready(started);
    prom.wait_scrapes(started, job);

    // Every scrape asked for protobuf first and was answered with it.
    let accepts = header_values(&proxy.requests.lock().unwrap(), "accept");
    let types = header_values(&proxy.responses.lock().unwrap(), "content-type");
    println!("Prometheus sent Accept: {:?}", accepts.first());
    assert!(accepts.len() >= 3, "{accepts:?}");
    for a in &accepts {
        assert!(
            a.starts_with("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"),
            "{a}"
        );
    }
    assert_eq!(types.len(), accepts.len(), "{types:?}");
    for t in &types {
        assert_eq!(t, lakemetrics_export::PROTOBUF_CONTENT_TYPE);
    }

    // Prometheus holds what the registry holds.
    let got = prometheus::stored(prom.addr, job, proxy.addr);
    prometheus::assert_same(job, &got, &want);
    // histogram_quantile over the classic buckets: the median of 0.1, 0.3,
    // 0.3, 2.0, 5.0 with bounds 0.25, 0.5, 1, 2.5 is rank 2.5, in (0.25, 0.5]
    // whose cumulative counts go 1 -> 3: 0.25 + 0.25 * (2.5 - 1) / (3 - 1).
    let median = query_one(
        prom.addr,
        &format!("histogram_quantile(0.5, lmtest_batch_seconds_bucket{{job=\"{job}\"}})"),
    );
    assert_eq!(median, 0.4375);
    drop(prom);
    server.shutdown();
    drop(proxy);
    assert!(started.elapsed() < DEADLINE + Duration::from_secs(5));
}
