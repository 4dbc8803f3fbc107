//! Limits: series and points per API response (a JSON 400 saying which limit,
//! its value and how many matched), request heads (431), request bodies (413)
//! and query strings (400).

mod common;

use std::time::Duration;

use common::{assert_error, get, manual_registry, send_raw, serve};
use lakemetrics_http::{Config, HttpExporter, MAX_PARAMS, MAX_PARAM_BYTES};

#[test]
fn series_and_points_limits() {
    let (reg, clock) = manual_registry();
    for i in 0..30 {
        reg.counter("rows", &[("shard", &i.to_string())])
            .unwrap()
            .inc();
    }
    // Ten epochs of history for every series: 300 points.
    for _ in 0..9 {
        clock.advance(Duration::from_secs(1));
        for i in 0..30 {
            reg.counter("rows", &[("shard", &i.to_string())])
                .unwrap()
                .inc();
        }
    }
    let config = Config::builder()
        .max_series(20)
        .max_points(100)
        .build()
        .unwrap();
    let server = serve(&reg, config);
    let addr = server.local_addr();

    let v = assert_error(&get(addr, "/api/v1/series", &[]), 400, "too_many_series");
    assert_eq!(
        (v["limit"].as_u64(), v["matched"].as_u64()),
        (Some(20), Some(30))
    );

    // 10 series: within the series limit, 100 points: at the points limit.
    let ok = get(addr, "/api/v1/series?label!=shard:0&label!=shard:1&label!=shard:2&label!=shard:3&label!=shard:4&label!=shard:5&label!=shard:6&label!=shard:7&label!=shard:8&label!=shard:9&label!=shard:10&label!=shard:11&label!=shard:12&label!=shard:13&label!=shard:14&label!=shard:15&label!=shard:16&label!=shard:17&label!=shard:18&label!=shard:19", &[]);
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.header("x-lakemetrics-series"), Some("10"));
    assert_eq!(ok.header("x-lakemetrics-points"), Some("100"));
    assert_eq!(
        ok.json()["families"][0]["series"].as_array().unwrap().len(),
        10
    );

    // 11 series with 10 points each: over the points limit.
    let v = assert_error(
        &get(addr, "/api/v1/series?label!=shard:0&label!=shard:1&label!=shard:2&label!=shard:3&label!=shard:4&label!=shard:5&label!=shard:6&label!=shard:7&label!=shard:8&label!=shard:9&label!=shard:10&label!=shard:11&label!=shard:12&label!=shard:13&label!=shard:14&label!=shard:15&label!=shard:16&label!=shard:17&label!=shard:18", &[]),
        400,
        "too_many_points",
    );
    assert_eq!(
        (v["limit"].as_u64(), v["matched"].as_u64()),
        (Some(100), Some(110))
    );

    // A time range narrows the points: 20 series, one epoch each.
    let end_ms = common::T0 / 1_000_000 + 500;
    let ok = get(addr, &format!("/api/v1/series?label!=shard:29&label!=shard:28&label!=shard:27&label!=shard:26&label!=shard:25&label!=shard:24&label!=shard:23&label!=shard:22&label!=shard:21&label!=shard:20&end={end_ms}"), &[]);
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.header("x-lakemetrics-points"), Some("20"));

    // /metrics has no series limit: Prometheus scrapes all.
    assert_eq!(get(addr, "/metrics", &[]).status, 200);
    server.shutdown();
}

#[test]
fn request_size_limits() {
    let (reg, _clock) = manual_registry();
    reg.counter("rows", &[]).unwrap().inc();
    let server = HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        .max_header_bytes(8192)
        .max_headers(16)
        .start()
        .unwrap();
    let addr = server.local_addr();

    // A head over 8 KiB.
    let big = "x".repeat(9000);
    let resp = get(addr, "/metrics", &[("X-Big", &big)]);
    assert_eq!(resp.status, 431);
    // A long URL counts too.
    let resp = get(addr, &format!("/metrics?name={big}"), &[]);
    assert_eq!(resp.status, 431);
    // Too many headers.
    let many: Vec<(String, String)> = (0..20).map(|i| (format!("X-H{i}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(get(addr, "/metrics", &many).status, 431);
    // Just under the limits is fine.
    let resp = get(
        addr,
        "/metrics",
        &[("X-Big", &"x".repeat(4000)), ("X-A", "1")],
    );
    assert_eq!(resp.status, 200);

    // Request bodies: none is read, none over the limit (0 bytes) is accepted.
    let post = |body: &str, extra: &str| {
        send_raw(
            addr,
            format!("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n{body}")
                .as_bytes(),
        )
        .unwrap()
    };
    let resp = post("hello", "Content-Length: 5\r\n");
    let v = assert_error(&resp, 413, "body_too_large");
    assert_eq!(v["limit"], 0);
    // Refusals carry the headers every response does.
    assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    assert_error(
        &post("5\r\nhello\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\n"),
        413,
        "body_too_large",
    );
    assert_eq!(post("", "Content-Length: 0\r\n").status, 200);

    // Query strings: parameter count and size.
    let many = "name=a&".repeat(MAX_PARAMS + 1);
    let v = assert_error(
        &get(addr, &format!("/metrics?{many}"), &[]),
        400,
        "too_many_parameters",
    );
    assert_eq!(v["limit"], MAX_PARAMS);
    let long = "a".repeat(MAX_PARAM_BYTES + 1);
    // (Under the 8 KiB head limit, over the 4 KiB parameter limit.)
    let v = assert_error(
        &get(addr, &format!("/api/v1/series?prefix={long}"), &[]),
        400,
        "malformed_query",
    );
    assert_eq!(v["parameter"], "prefix");
    server.shutdown();
}

#[test]
fn a_client_that_stops_reading_is_cut_off() {
    use std::io::{Read, Write};
    let (reg, _clock) = manual_registry();
    // ~14 MB of text: far more than the socket buffers (the kernel may grow a
    // loopback send buffer to 4 MB) and the chunk channel.
    let padding = "padding-".repeat(12);
    for i in 0..100_000 {
        reg.counter("rows", &[("shard", &format!("{i:08}-{padding}"))])
            .unwrap()
            .inc();
    }
    let config = Config::builder()
        .scrape_timeout(Duration::from_millis(1500))
        .build()
        .unwrap();
    let server = serve(&reg, config);
    let addr = server.local_addr();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Read nothing for longer than the timeout.
    std::thread::sleep(Duration::from_millis(3000));
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    // The response was cut: the chunked body has no last chunk.
    let resp = common::parse_response(&buf);
    assert!(
        resp.is_err(),
        "expected a cut response, got {} bytes of a whole one",
        buf.len()
    );
    // The server is still fine.
    assert_eq!(get(addr, "/healthz", &[]).status, 200);
    server.shutdown();
}

#[test]
fn a_client_that_goes_away_frees_its_render() {
    use std::io::{Read, Write};
    let (reg, _clock) = manual_registry();
    for i in 0..100_000 {
        reg.counter("rows", &[("shard", &format!("{i:08}-padding-padding"))])
            .unwrap()
            .inc();
    }
    // One render at a time, and a long timeout: if the abandoned render kept
    // its turn, the next scrape would wait for a minute and get 503.
    let config = Config::builder()
        .max_concurrent_renders(1)
        .scrape_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let server = serve(&reg, config);
    let addr = server.local_addr();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 1024];
    s.read_exact(&mut first).unwrap();
    drop(s);
    let started = std::time::Instant::now();
    let resp = get(addr, "/metrics?name[]=rows", &[]);
    assert_eq!(resp.status, 200);
    assert!(resp.body.len() > 3_000_000);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the next scrape waited {:?}",
        started.elapsed()
    );
    server.shutdown();
}
