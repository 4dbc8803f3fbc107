//! Idle connections cannot keep a scrape out (issue 17, item 1): at the
//! connection cap, the longest-idle connection that has not shown the token is
//! closed to make room, and such connections are closed after the idle timeout
//! anyway; a scraper's kept-alive connection, which has shown the token, stays.
//!
//! Each attack is a real socket client on 127.0.0.1, bounded in sockets and
//! time. Before this, 64 idle sockets (the old cap) made a scrape wait for the
//! 10 s header timeout, and 200 reconnecting sockets made every scrape time out.

mod common;

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{get, manual_registry, until_stopped, KeepAlive};
use lakemetrics_http::{Config, HttpExporter};

/// Prometheus' default scrape timeout: a scrape must finish within it.
const PROMETHEUS_TIMEOUT: Duration = Duration::from_secs(10);
const TOKEN: &str = "0b8e4f2a9c71d3e5a6f8b0c2";
const CAP: usize = 16;

fn server() -> HttpExporter {
    let (reg, _clock) = manual_registry();
    reg.counter("rows", &[]).unwrap().inc_by(7);
    HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        .config(Config::builder().token(TOKEN).build().unwrap())
        .max_connections(CAP)
        .idle_timeout(Duration::from_secs(1))
        .start()
        .unwrap()
}

/// A scrape on a new connection, with the token: its status and how long it took.
fn scrape(addr: SocketAddr) -> (u16, Duration) {
    let started = Instant::now();
    let resp = get(
        addr,
        "/metrics",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    assert!(resp.text().contains("rows_total 7"), "{}", resp.text());
    (resp.status, started.elapsed())
}

#[test]
fn idle_sockets_beyond_the_cap_do_not_block_a_scrape() {
    let server = server();
    let addr = server.local_addr();
    // Four times the cap, sending nothing.
    let idle: Vec<TcpStream> = (0..4 * CAP)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..3 {
        let (status, took) = scrape(addr);
        assert_eq!(status, 200);
        assert!(took < PROMETHEUS_TIMEOUT, "a scrape took {took:?}");
    }
    drop(idle);
    server.shutdown();
}

#[test]
fn reconnecting_idle_sockets_do_not_block_scrapes() {
    let server = server();
    let addr = server.local_addr();
    // The attacker keeps 4 x CAP sockets open, replacing each as soon as the
    // server closes it, for at most 20 s.
    let stop = Arc::new(AtomicBool::new(false));
    let reconnects = Arc::new(AtomicUsize::new(0));
    let sockets: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
    let attacker = {
        let (sockets, reconnects) = (sockets.clone(), reconnects.clone());
        until_stopped(stop.clone(), Duration::from_secs(20), move || {
            let mut open = sockets.lock().unwrap();
            open.retain(|s| {
                let mut b = [0u8; 1];
                // Nonblocking: WouldBlock means still open; 0 or an error, closed.
                matches!(s.peek(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            });
            while open.len() < 4 * CAP {
                match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                    Ok(s) => {
                        let _ = s.set_nonblocking(true);
                        open.push(s);
                        reconnects.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => break,
                }
            }
            drop(open);
            std::thread::sleep(Duration::from_millis(20));
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let mut scrapes = 0;
    while started.elapsed() < Duration::from_secs(3) {
        let (status, took) = scrape(addr);
        assert_eq!(status, 200);
        assert!(took < PROMETHEUS_TIMEOUT, "a scrape took {took:?}");
        println!("scrape under reconnecting sockets: {took:?}");
        scrapes += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    attacker.join().unwrap();
    sockets.lock().unwrap().clear();
    // The attack did run: the server kept closing its sockets to make room.
    let reconnects = reconnects.load(Ordering::Relaxed);
    assert!(reconnects > 4 * CAP, "only {reconnects} connections made");
    println!("{scrapes} scrapes under {reconnects} attacking connections");
    server.shutdown();
}

#[test]
fn idle_connections_close_early_but_a_scrapers_stays() {
    let server = server();
    let addr = server.local_addr();
    // A connection that sends nothing is closed after the idle timeout (1 s).
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut b = [0u8; 1];
    assert_eq!(idle.read(&mut b).unwrap_or(0), 0);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "closed after {took:?}");

    // So is one whose request was refused.
    let mut refused = KeepAlive::connect(addr).unwrap();
    let resp = refused.get("/metrics", &[]).unwrap();
    assert_eq!(resp.status, 401);
    std::thread::sleep(Duration::from_millis(2500));
    assert!(refused.get("/metrics", &[]).is_err());

    // A connection that has shown the token stays open between scrapes, past
    // the idle timeout, even with the server full of idle sockets.
    let mut scraper = KeepAlive::connect(addr).unwrap();
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(
        scraper
            .get("/metrics", &[("Authorization", &bearer)])
            .unwrap()
            .status,
        200
    );
    let idle: Vec<TcpStream> = (0..2 * CAP)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(2500));
    let resp = scraper
        .get("/metrics", &[("Authorization", &bearer)])
        .unwrap();
    assert_eq!(resp.status, 200);
    drop(idle);
    server.shutdown();
}
