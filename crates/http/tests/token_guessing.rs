//! Guessing the token (issue 17, item 3): wrong attempts are limited for all
//! connections together, not per connection, and a scraper that keeps its
//! connection open is never held up by them. Before this, a wrong token cost
//! 10 ms per connection: 88 guesses a second on one connection, 4,983 on 60.
//!
//! Real sockets on 127.0.0.1: 30 connections guess as fast as they can for
//! 2 s while a scraper scrapes on its kept-alive connection.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{assert_error, get, manual_registry, until_stopped, KeepAlive};
use lakemetrics_http::{Config, Error, HttpExporter};

/// Prometheus' default scrape timeout: a scrape must finish within it.
const PROMETHEUS_TIMEOUT: Duration = Duration::from_secs(10);
const TOKEN: &str = "7d41c09e2fa5b8367e0d14c9";
const PER_SECOND: u32 = 20;
const BURST: u32 = 10;
const GUESSERS: usize = 30;

#[test]
fn guesses_are_limited_across_connections_and_the_scraper_carries_on() {
    let (reg, _clock) = manual_registry();
    reg.counter("rows", &[]).unwrap().inc_by(5);
    let config = Config::builder()
        .token(TOKEN)
        .token_attempts(PER_SECOND, BURST)
        .build()
        .unwrap();
    let server = common::serve(&reg, config);
    let addr = server.local_addr();
    let bearer = format!("Bearer {TOKEN}");

    // The scraper connects first and shows the token, as Prometheus does on
    // its first scrape; its connection then stays open.
    let mut scraper = KeepAlive::connect(addr).unwrap();
    assert_eq!(
        scraper
            .get("/metrics", &[("Authorization", &bearer)])
            .unwrap()
            .status,
        200
    );

    let stop = Arc::new(AtomicBool::new(false));
    let checked = Arc::new(AtomicUsize::new(0)); // 401 invalid_token: compared
    let refused = Arc::new(AtomicUsize::new(0)); // 429: not compared
    let started = Instant::now();
    let guessers: Vec<_> = (0..GUESSERS)
        .map(|g| {
            let (checked, refused) = (checked.clone(), refused.clone());
            let mut conn: Option<KeepAlive> = None;
            let mut n = 0u64;
            until_stopped(stop.clone(), Duration::from_secs(2), move || {
                n += 1;
                let guess = format!("Bearer guess-{g}-{n:016}");
                let c = match &mut conn {
                    Some(c) => c,
                    None => match KeepAlive::connect(addr) {
                        Ok(c) => conn.insert(c),
                        Err(_) => return,
                    },
                };
                match c.get("/metrics", &[("Authorization", &guess)]) {
                    Ok(resp) => {
                        assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
                        match resp.status {
                            401 => checked.fetch_add(1, Ordering::Relaxed),
                            429 => {
                                assert_error(&resp, 429, "too_many_attempts");
                                assert!(resp.header("retry-after").is_some());
                                refused.fetch_add(1, Ordering::Relaxed)
                            }
                            s => panic!("a guess got {s}"),
                        };
                    }
                    // The server may close a refused connection; reconnect.
                    Err(_) => conn = None,
                }
            })
        })
        .collect();

    // Meanwhile the scraper scrapes, on its connection, every 100 ms.
    let mut scrapes = 0;
    while started.elapsed() < Duration::from_secs(2) {
        let t = Instant::now();
        let resp = scraper
            .get("/metrics", &[("Authorization", &bearer)])
            .unwrap();
        let took = t.elapsed();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.text(), "# HELP rows_total No description registered.\n# TYPE rows_total counter\nrows_total 5\n");
        assert!(took < PROMETHEUS_TIMEOUT, "a scrape took {took:?}");
        scrapes += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    for g in guessers {
        g.join().unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let checked = checked.load(Ordering::Relaxed);
    let refused = refused.load(Ordering::Relaxed);
    println!(
        "{elapsed:.1} s: {checked} guesses compared, {refused} refused unchecked, {scrapes} scrapes"
    );
    // At most the burst plus the rate over the attack (with a little slack for
    // the last waits, which end after `elapsed`).
    let bound = f64::from(BURST) + f64::from(PER_SECOND) * (elapsed + 1.5);
    assert!(
        (checked as f64) <= bound,
        "{checked} guesses compared in {elapsed:.1} s; the limit allows {bound}"
    );
    assert!(refused > 0, "the limit never refused a guess");
    assert!(scrapes >= 5, "{scrapes}");

    // Once the guessing stops, a new connection with the token gets in, after
    // waiting its turn (at most a second) at worst.
    let t = Instant::now();
    let resp = get(addr, "/metrics", &[("Authorization", &bearer)]);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(t.elapsed() < PROMETHEUS_TIMEOUT);
    server.shutdown();
}

#[test]
fn weak_tokens_are_refused_at_start() {
    let (reg, _clock) = manual_registry();
    for (weak, chars, distinct) in [
        ("x", 1, 1),
        ("change-me", 9, 8),
        ("0123456789abcde", 15, 15),
        ("aaaaaaaaaaaaaaaaaaaaaaaa", 24, 1),
        ("abcabcabcabcabcabcabcabc", 24, 3),
        ("abcdefgabcdefgabcdefg", 21, 7),
    ] {
        let err = HttpExporter::builder(&reg)
            .listen(([127, 0, 0, 1], 0))
            .token(weak)
            .start()
            .unwrap_err();
        match &err {
            Error::WeakToken {
                chars: c,
                distinct: d,
            } => assert_eq!((*c, *d), (chars, distinct), "{weak}"),
            other => panic!("{weak}: {other}"),
        }
        let message = err.to_string();
        assert!(message.contains("at least 16 characters"), "{message}");
        assert!(!message.contains(weak) || weak.len() == 1, "{message}");
        // The same check on a Config.
        assert!(matches!(
            Config::builder().token(weak).build(),
            Err(Error::WeakToken { .. })
        ));
    }
    // 16 characters with 8 distinct is enough.
    assert!(Config::builder().token("abcdefghabcdefgh").build().is_ok());
}
