//! Clients that do not read cannot hold the render turns (issue 17, item 2): a
//! render waits for its client at most a second in all, then renders the rest
//! ahead into the shared buffer and gives its turn back; with the buffer full,
//! it waits at most the write timeout in all and is cut. Before this, four
//! clients that did not read held the four turns for the whole scrape timeout,
//! and a scrape of 100,000 series waited 29 s.
//!
//! Real sockets on 127.0.0.1 that send a request and read nothing, bounded in
//! number; the registry is big enough (about 10 MB of text) that its output
//! does not fit in the sockets' buffers.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{get, manual_registry};
use lakemetrics_core::Registry;
use lakemetrics_http::{Config, HttpExporter};

/// Prometheus' default scrape timeout: a scrape must finish within it.
const PROMETHEUS_TIMEOUT: Duration = Duration::from_secs(10);

fn big_registry() -> Registry {
    let (reg, _clock) = manual_registry();
    let padding = "padding-".repeat(8);
    for i in 0..100_000 {
        reg.counter("rows", &[("shard", &format!("{i:08}-{padding}"))])
            .unwrap()
            .inc();
    }
    reg
}

/// `n` clients that ask for /metrics and never read.
fn non_readers(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            s
        })
        .collect()
}

fn scrape_under_attack(server: &HttpExporter, attackers: usize) {
    let addr = server.local_addr();
    let stalled = non_readers(addr, attackers);
    // Let them take the render turns.
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..2 {
        let started = Instant::now();
        let resp = get(addr, "/metrics", &[]);
        let took = started.elapsed();
        // Whole (the chunked body ended properly) and in time.
        assert_eq!(resp.status, 200);
        assert!(resp.body.len() > 8_000_000, "{} bytes", resp.body.len());
        assert!(resp.text().ends_with("\"} 1\n"));
        assert!(took < PROMETHEUS_TIMEOUT, "a scrape took {took:?}");
        println!("scrape with {attackers} clients not reading: {took:?}");
    }
    drop(stalled);
}

#[test]
fn clients_that_do_not_read_do_not_hold_the_render_turns() {
    let reg = big_registry();
    // A scrape timeout longer than Prometheus': holding a turn until it ran
    // out would fail the scrape.
    let config = Config::builder()
        .scrape_timeout(Duration::from_secs(25))
        .build()
        .unwrap();
    let server = common::serve(&reg, config);
    // As many as there are turns (4), then twice that.
    scrape_under_attack(&server, 4);
    scrape_under_attack(&server, 8);
    server.shutdown();
}

#[test]
fn with_the_shared_buffer_full_the_write_timeout_frees_the_turns() {
    let reg = big_registry();
    // 1 MiB of buffer: far less than one response, so renders for clients
    // that do not read soon find it full and wait, up to the write timeout.
    let config = Config::builder()
        .scrape_timeout(Duration::from_secs(25))
        .max_buffered_bytes(1024 * 1024)
        .write_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let server = common::serve(&reg, config);
    scrape_under_attack(&server, 4);
    server.shutdown();
}

#[test]
fn a_client_that_reads_nothing_is_cut_at_the_write_timeout() {
    use std::io::Read;
    let reg = big_registry();
    let config = Config::builder()
        .scrape_timeout(Duration::from_secs(60))
        .write_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let server = common::serve(&reg, config);
    let mut s = non_readers(server.local_addr(), 1).remove(0);
    // Nothing read for three times the write timeout: the server gave up on
    // the socket, so reading now ends early, with the body cut.
    std::thread::sleep(Duration::from_secs(3));
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = Vec::new();
    let started = Instant::now();
    let _ = s.read_to_end(&mut buf);
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(
        common::parse_response(&buf).is_err(),
        "expected a cut response, got {} whole bytes",
        buf.len()
    );
    server.shutdown();
}
