//! A receiver that fails: 5xx and 429 are retried (429 after its
//! `Retry-After`), other 4xx are dropped and counted, and a receiver that is
//! down keeps the samples due.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Receiver;
use lakemetrics_core::{Filter, ManualClock, Registry, Retention};
use lakemetrics_push::{PushReport, RemoteWriter};

const T0: u64 = 1_700_000_000_000_000_000;
const MS0: i64 = (T0 / 1_000_000) as i64;

fn registry() -> (Registry, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(10)).unwrap())
        .build();
    (reg, clock)
}

fn writer(reg: &Registry, url: String) -> RemoteWriter {
    RemoteWriter::builder(reg, url)
        .shutdown_timeout(Duration::from_millis(200))
        .interval(Duration::from_secs(3600))
        .backoff(Duration::from_millis(10), Duration::from_millis(100))
        .timeout(Duration::from_secs(5))
        .filter(Filter::all().name("g"))
        .start()
        .unwrap()
}

#[test]
fn a_500_is_retried_until_a_200() {
    let rx = Receiver::start(&[(500, None), (503, None)]);
    let (reg, clock) = registry();
    reg.gauge("g", &[]).unwrap().set(1.0);
    let w = writer(&reg, rx.url());
    clock.advance(Duration::from_secs(1));
    let r = w.flush(Duration::from_secs(10));
    assert_eq!(
        r,
        PushReport {
            sent: 1,
            retried: 2,
            ..PushReport::default()
        }
    );
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 3);
    // The same request each time.
    assert!(reqs.iter().all(|q| q.body == reqs[0].body));
    assert!(w.status().last_error.unwrap().contains("503"));
}

#[test]
fn a_429_waits_for_its_retry_after() {
    let rx = Receiver::start(&[(429, Some("1"))]);
    let (reg, clock) = registry();
    reg.gauge("g", &[]).unwrap().set(1.0);
    let w = writer(&reg, rx.url());
    clock.advance(Duration::from_secs(1));
    let r = w.flush(Duration::from_secs(10));
    assert_eq!((r.sent, r.retried), (1, 1));
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2);
    let waited = reqs[1].at - reqs[0].at;
    // The backoff alone would be at most 100 ms.
    assert!(waited >= Duration::from_millis(990), "{waited:?}");
}

#[test]
fn a_400_is_dropped_not_retried() {
    let rx = Receiver::start(&[(400, None)]);
    let (reg, clock) = registry();
    let g = reg.gauge("g", &[]).unwrap();
    g.set(1.0);
    let w = writer(&reg, rx.url());
    clock.advance(Duration::from_secs(2));
    let r = w.flush(Duration::from_secs(10));
    assert_eq!(
        r,
        PushReport {
            dropped: 2,
            ..PushReport::default()
        }
    );
    assert_eq!(rx.requests().len(), 1);
    assert!(w.status().last_error.unwrap().starts_with("400"));
    // The refused epochs are not sent again; the next one is.
    g.set(7.0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(w.flush(Duration::from_secs(10)).sent, 1);
    assert_eq!(
        rx.requests()[1].samples(),
        [("g".to_string(), MS0 + 3000, 7.0)]
    );
}

#[test]
fn a_round_gives_up_at_its_deadline_and_the_next_sends_everything() {
    // Connection refused: nothing listens on the port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (reg, clock) = registry();
    let g = reg.gauge("g", &[]).unwrap();
    let w = writer(&reg, format!("http://127.0.0.1:{port}/w"));
    g.set(1.0);
    clock.advance(Duration::from_secs(1));
    let start = Instant::now();
    let r = w.flush(Duration::from_millis(300));
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_eq!((r.sent, r.pending), (0, 1));
    assert!(r.retried >= 1);
    assert!(w.status().last_error.unwrap().contains("connecting"));
    // The final flush gives up within its 200 ms too.
    let start = Instant::now();
    drop(w);
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn shutdown_cuts_a_retrying_round_short() {
    // Always 503: the first interval round (at 2 s) would retry until 4 s.
    let rx = Receiver::start(&[(503, None); 1000]);
    let (reg, clock) = registry();
    reg.gauge("g", &[]).unwrap().set(1.0);
    clock.advance(Duration::from_secs(1));
    let w = RemoteWriter::builder(&reg, rx.url())
        .interval(Duration::from_secs(2))
        .backoff(Duration::from_millis(10), Duration::from_millis(20))
        .shutdown_timeout(Duration::from_millis(200))
        .filter(Filter::all().name("g"))
        .start()
        .unwrap();
    // Wait for the first interval round to be retrying.
    let start = Instant::now();
    while rx.requests().len() < 2 {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(10));
    }
    let start = Instant::now();
    let r = w.shutdown();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!((r.sent, r.pending), (0, 1));
}
