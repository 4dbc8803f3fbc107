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
//! A second test serves a native histogram written by
//! `lakemetrics_export::NativeEncoder` (framed by a small server in the test,
//! so edge cases core never produces can be served) and checks that
//! Prometheus reads the spans and deltas as the buckets they encode.
//!
//! A third serves the registry's own native histograms (one native-only, one
//! native beside classic buckets) and checks `histogram_count`,
//! `histogram_sum` (exact) and `histogram_quantile` (within the bound that
//! follows from the schema) against core.
//!
//! The tests fail, not skip, when `prometheus` is missing.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::prometheus::{self, expected, populate, query_one, DEADLINE};
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
    populate(&reg);
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

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// A length-delimited field: key (`field << 3 | 2`), length, bytes.
fn put_len(buf: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_varint(buf, field << 3 | 2);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// Serves `body` as the protobuf exposition to every request on 127.0.0.1,
/// one request per connection, until dropped.
struct StaticServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StaticServer {
    fn start(body: Vec<u8>) -> StaticServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            // Relaxed: a plain flag; the join in drop orders the rest.
            while !s.load(Ordering::Relaxed) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                // Read the request head, then answer and close.
                let mut head = Vec::new();
                let mut b = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut b) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&b[..n]),
                    }
                }
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    lakemetrics_export::PROTOBUF_CONTENT_TYPE,
                    body.len()
                );
                let _ = conn.write_all(&body);
            }
        });
        StaticServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn prometheus_reads_our_native_histogram_encoding() {
    use lakemetrics_export::{NativeBuckets, NativeEncoder};
    let started = Instant::now();
    // Schema 0: positive bucket i holds (2^(i-1), 2^i], negative bucket i
    // holds [-2^i, -2^(i-1)). Buckets 0 and 1, a gap of one (kept in the
    // span), 3; then 10, far enough for a second span. Negative bucket 1.
    let native = NativeBuckets {
        schema: 0,
        zero_threshold: 0.001,
        zero_count: 1,
        count: 1 + 2 + 1 + 4 + 3 + 1,
        sum: 1234.5,
        positive: &[(0, 2), (1, 1), (3, 4), (10, 3)],
        negative: &[(1, 1)],
    };
    let mut histogram = Vec::new();
    NativeEncoder::default()
        .encode_histogram(&mut histogram, &native, None, 1_700_000_000_000_000_000)
        .unwrap();
    // Frame it: Metric { label (1), histogram (7) }, MetricFamily { name (1),
    // help (2), type (3) = HISTOGRAM (4), metric (4) }, length-delimited.
    let mut label = Vec::new();
    put_len(&mut label, 1, b"handler");
    put_len(&mut label, 2, b"csv");
    let mut metric = Vec::new();
    put_len(&mut metric, 1, &label);
    put_len(&mut metric, 7, &histogram);
    let mut family = Vec::new();
    put_len(&mut family, 1, b"lmtest_native_seconds");
    put_len(&mut family, 2, b"A native histogram.");
    family.extend_from_slice(&[3 << 3, 4]);
    put_len(&mut family, 4, &metric);
    let mut body = Vec::new();
    put_varint(&mut body, family.len() as u64);
    body.extend_from_slice(&family);
    // Two empty native histograms: with a zero threshold of 0 (written with
    // the empty span the Go client adds) and with the Go client's default
    // threshold, 2^-128.
    for (name, zero_threshold) in [
        (&b"lmtest_empty_zero_seconds"[..], 0.0),
        (&b"lmtest_empty_seconds"[..], 2f64.powi(-128)),
    ] {
        let empty = NativeBuckets {
            schema: 0,
            zero_threshold,
            zero_count: 0,
            count: 0,
            sum: 0.0,
            positive: &[],
            negative: &[],
        };
        NativeEncoder::default()
            .encode_histogram(&mut histogram, &empty, None, 1_700_000_000_000_000_000)
            .unwrap();
        let mut metric = Vec::new();
        put_len(&mut metric, 7, &histogram);
        let mut family = Vec::new();
        put_len(&mut family, 1, name);
        put_len(&mut family, 2, b"An empty native histogram.");
        family.extend_from_slice(&[3 << 3, 4]);
        put_len(&mut family, 4, &metric);
        put_varint(&mut body, family.len() as u64);
        body.extend_from_slice(&family);
    }

    let server = StaticServer::start(body);
    let job = "lakemetrics-native";
    let prom = prometheus::start(
        &[prometheus::job(job, server.addr, "")],
        &["--enable-feature=native-histograms"],
    );
    prom.wait_ready(started);
    prom.wait_scrapes(started, job);

    let sel = format!("lmtest_native_seconds{{job=\"{job}\",handler=\"csv\"}}");
    assert_eq!(
        query_one(prom.addr, &format!("histogram_count({sel})")),
        12.0
    );
    assert_eq!(
        query_one(prom.addr, &format!("histogram_sum({sel})")),
        1234.5
    );
    // The buckets as Prometheus decoded them, through fractions of the count
    // between bucket boundaries (no interpolation at whole boundaries):
    // [-10, 2] holds the negative bucket, the zero bucket and positive
    // buckets 0 and 1 (5 of 12); (4, 8] is bucket 3 (4 of 12); (512, 1024]
    // is bucket 10, in the second span (3 of 12); (2, 4], the empty bucket
    // kept inside the first span, holds nothing.
    let fraction =
        |lo: f64, hi: f64| query_one(prom.addr, &format!("histogram_fraction({lo}, {hi}, {sel})"));
    assert_eq!(fraction(-10.0, 2.0), 5.0 / 12.0);
    assert_eq!(fraction(4.0, 8.0), 4.0 / 12.0);
    assert_eq!(fraction(512.0, 1024.0), 3.0 / 12.0);
    assert_eq!(fraction(2.0, 4.0), 0.0);
    // A native histogram is one series: no classic _bucket/_count series.
    let classic = prometheus::query(
        prom.addr,
        &format!("{{__name__=~\"lmtest_native_seconds_.+\",job=\"{job}\"}}"),
    )
    .unwrap();
    assert!(classic.is_empty(), "{classic:?}");
    // An empty one with a positive zero threshold is a native histogram
    // with a count of 0.
    assert_eq!(
        query_one(
            prom.addr,
            &format!("histogram_count(lmtest_empty_seconds{{job=\"{job}\"}})")
        ),
        0.0
    );
    // Prometheus 2.42 tells a native histogram by its zero threshold, zero
    // count and deltas, not by its spans: with a threshold of 0, an empty one
    // reads as a classic histogram there (`_count`, `_sum` and the `+Inf`
    // bucket, all 0), the empty span notwithstanding (`docs/formats.md`).
    let names: Vec<String> = prometheus::query(
        prom.addr,
        &format!("{{__name__=~\"lmtest_empty_zero_seconds.*\",job=\"{job}\"}}"),
    )
    .unwrap()
    .iter()
    .map(|r| r["metric"]["__name__"].as_str().unwrap().to_string())
    .collect();
    assert_eq!(
        names.len(),
        3,
        "{names:?}: lmtest_empty_zero_seconds_bucket, _count and _sum"
    );

    drop(prom);
    drop(server);
    assert!(started.elapsed() < DEADLINE + Duration::from_secs(5));
}

/// 1,062 positive observations of 12 values from 0.003 to about 10 (each
/// 2.1 times the last, so in a bucket of its own at schemas 2 and 3), the
/// `k`-th observed `50 + 7k` times. Twelve buckets: within [`NATIVE_BINS`]
/// (17), the most distinct buckets an epoch of core's history keeps at its
/// schema; beyond that, the epoch's schema is halved and `native_quantile` is
/// within the coarser schema's bound (`docs/architecture.md`).
///
/// [`NATIVE_BINS`]: lakemetrics_core::NATIVE_BINS
fn native_observations() -> Vec<f64> {
    (0..12)
        .flat_map(|k| std::iter::repeat_n(0.003 * 2.1f64.powi(k), 50 + 7 * k as usize))
        .collect()
}

/// The registry's native histograms through a real Prometheus 2.42: scraped
/// as protobuf (the text formats have no native form, so a native series in
/// Prometheus proves the protobuf body was used), they are native series
/// there (2.42 keeps only the native part of a histogram with both; it has no
/// `scrape_classic_histograms` yet), with exactly our count and sum, and
/// `histogram_quantile` agrees with `Histogram::native_quantile`.
///
/// The bound: Prometheus 2.42's `histogram_quantile` on a native histogram
/// finds the bucket holding rank `q * count` and interpolates linearly inside
/// it (`promql/quantile.go`, "TODO: use a better estimation than linear");
/// `native_quantile` finds the same rank's bucket (nearest rank) and returns
/// its geometric middle `sqrt(lower * upper)`. Both lie in the same bucket
/// `(lower, upper]` with `upper / lower = base = 2^(2^-schema)`; the test
/// checks that (Prometheus' value inside the bucket core's snapshot puts the
/// rank in), so their ratio is within `sqrt(base) = 1 +
/// native_quantile_error(schema)` either way. The data are checked to put
/// each rank at least two observations inside its bucket, so the two rank
/// conventions (Prometheus' `q * count`, core's `ceil(q * count)`) cannot
/// pick neighbouring buckets. The schemas here (3 and 2) are at most 5, the
/// history's finest, so core's quantile is at the exposed schema.
#[test]
fn prometheus_reads_the_registrys_native_histograms() {
    use lakemetrics_core::native_quantile_error;
    let started = Instant::now();
    let reg = Registry::new();
    reg.register(
        Describe::histogram("lmtest_native_only_seconds")
            .help("Native only.")
            .native(3),
    )
    .unwrap();
    reg.register(
        Describe::histogram("lmtest_native_both_seconds")
            .help("Native and classic.")
            .buckets(Buckets::new(vec![0.01, 0.1, 1.0]).unwrap())
            .native(2),
    )
    .unwrap();
    let only = reg
        .histogram("lmtest_native_only_seconds", &[("handler", "csv")])
        .unwrap();
    let both = reg
        .histogram("lmtest_native_both_seconds", &[("handler", "csv")])
        .unwrap();
    for v in native_observations() {
        only.observe(v);
        both.observe(v);
    }

    let server = HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        .token(prometheus::TOKEN)
        .start()
        .unwrap();
    let job = "lakemetrics-registry-native";
    let prom = prometheus::start(
        &[prometheus::job(job, server.local_addr(), "")],
        &["--enable-feature=native-histograms"],
    );
    prom.wait_ready(started);
    prom.wait_scrapes(started, job);

    for (name, h) in [
        ("lmtest_native_only_seconds", &only),
        ("lmtest_native_both_seconds", &both),
    ] {
        let snap = h.native_snapshot().unwrap();
        assert_eq!(snap.count, 1062);
        assert!(snap.schema <= 5, "{name}: schema {}", snap.schema);
        let sel = format!("{name}{{job=\"{job}\",handler=\"csv\"}}");
        assert_eq!(
            query_one(prom.addr, &format!("histogram_count({sel})")),
            snap.count as f64,
            "{name}"
        );
        assert_eq!(
            query_one(prom.addr, &format!("histogram_sum({sel})")),
            h.snapshot().sum,
            "{name}"
        );
        // One native series: no classic _bucket/_count/_sum series, even for
        // the family with classic buckets (2.42 keeps the native part).
        let classic = prometheus::query(
            prom.addr,
            &format!("{{__name__=~\"{name}_.+\",job=\"{job}\"}}"),
        )
        .unwrap();
        assert!(classic.is_empty(), "{name}: {classic:?}");
        let sqrt_base = 1.0 + native_quantile_error(snap.schema);
        for q in [0.5, 0.9, 0.99] {
            // The bucket holding rank q * count, from core's snapshot.
            let rank = q * snap.count as f64;
            let mut before = 0u64;
            let &(index, c) = snap
                .positive
                .iter()
                .find(|&&(_, c)| {
                    let found = (before + c) as f64 >= rank;
                    if !found {
                        before += c;
                    }
                    found
                })
                .unwrap();
            assert!(
                before as f64 + 2.0 <= rank && rank + 2.0 <= (before + c) as f64,
                "{name} q={q}: rank {rank} is within two of its bucket's edge ({before}..{})",
                before + c
            );
            let (lower, upper) = (snap.upper_bound(index - 1), snap.upper_bound(index));
            let theirs = query_one(prom.addr, &format!("histogram_quantile({q}, {sel})"));
            let ours = h
                .native_quantile(q, Duration::from_secs(24 * 3600))
                .unwrap();
            println!(
                "{name} q={q}: prometheus {theirs}, ours {ours}, bucket ({lower}, {upper}], ratio {}",
                theirs / ours
            );
            assert!(
                lower <= theirs && theirs <= upper,
                "{name} q={q}: prometheus {theirs} outside ({lower}, {upper}]"
            );
            assert!(
                lower < ours && ours <= upper,
                "{name} q={q}: ours {ours} outside ({lower}, {upper}]"
            );
            let ratio = (theirs / ours).max(ours / theirs);
            assert!(
                ratio <= sqrt_base * (1.0 + 1e-12),
                "{name} q={q}: ratio {ratio} above sqrt(base) {sqrt_base}"
            );
        }
    }
    drop(prom);
    server.shutdown();
    assert!(started.elapsed() < DEADLINE + Duration::from_secs(5));
}
