//! A JSON document is consistent with itself while writers record: each
//! counter's history increases add up to at most the `total` written beside
//! them (issue 17, item 10: the total used to be read before the history, and
//! under load the increases summed to more than it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use lakemetrics_core::{Filter, ManualClock, Registry, Retention};
use lakemetrics_export::write_json;
use serde_json::Value;

/// Epochs of 10 ms over 1 s: 100 slots, more than the epochs the test goes
/// through, so every series' creation epoch stays retained and its increases
/// add up to exactly its total.
const EPOCH: Duration = Duration::from_millis(10);
const EXPORTS: usize = 400;

#[test]
fn counter_increases_never_exceed_the_total_under_two_writers() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = Arc::new(
        Registry::builder()
            .clock(clock.clone())
            .retention(Retention::new(EPOCH, Duration::from_secs(1)).unwrap())
            .build(),
    );
    // Every series exists before the first export.
    for shard in ["shared", "a", "b"] {
        reg.counter("requests", &[("shard", shard)]).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (reg, stop) = (reg.clone(), stop.clone());
            thread::spawn(move || {
                let shared = reg.counter("requests", &[("shard", "shared")]).unwrap();
                let own = reg
                    .counter("requests", &[("shard", ["a", "b"][w])])
                    .unwrap();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    shared.inc();
                    own.inc_by(1 + n % 3);
                    n += 1;
                }
                n
            })
        })
        .collect();
    // Wait until the writers are recording.
    while reg
        .counter("requests", &[("shard", "shared")])
        .unwrap()
        .get()
        < 1_000
    {
        thread::yield_now();
    }

    let mut out = Vec::new();
    let (mut checked, mut grew) = (0, 0);
    for i in 0..EXPORTS {
        // Every few exports the clock moves to the next epoch, so the history
        // has several epochs and writers race the starts of new ones too.
        if i % 5 == 4 {
            clock.advance(EPOCH);
        }
        out.clear();
        write_json(&reg, &Filter::all(), &mut out).unwrap();
        let doc: Value = serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)));
        for fam in doc["families"].as_array().unwrap() {
            for s in fam["series"].as_array().unwrap() {
                let total = s["total"].as_u64().unwrap();
                let increases = s["history"]["increase"].as_array().unwrap();
                let sum: u64 = increases.iter().map(|v| v.as_u64().unwrap()).sum();
                assert!(
                    sum <= total,
                    "export {i}, {}: increases add up to {sum}, more than the total {total}",
                    s["labels"]
                );
                // The creation epoch is retained, and its base is 0.
                assert_eq!(sum, total, "export {i}, {}", s["labels"]);
                if increases.len() > 1 {
                    grew += 1;
                }
                checked += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        assert!(w.join().unwrap() > 0);
    }
    assert_eq!(checked, 3 * EXPORTS);
    assert!(grew > 0, "the history never held more than one epoch");
}

#[test]
fn histogram_and_summary_history_never_exceeds_the_count_under_two_writers() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = Arc::new(
        Registry::builder()
            .clock(clock.clone())
            .retention(Retention::new(EPOCH, Duration::from_secs(1)).unwrap())
            .build(),
    );
    reg.histogram("latency", &[]).unwrap();
    reg.summary("size", &[]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (reg, stop) = (reg.clone(), stop.clone());
            thread::spawn(move || {
                let h = reg.histogram("latency", &[]).unwrap();
                let s = reg.summary("size", &[]).unwrap();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let v = (n % 7 + w) as f64 * 0.1;
                    h.observe(v);
                    s.observe(v + 1.0);
                    n += 1;
                }
                n
            })
        })
        .collect();
    while reg.histogram("latency", &[]).unwrap().snapshot().count() < 1_000 {
        thread::yield_now();
    }
    let mut out = Vec::new();
    let mut checked = 0;
    for i in 0..EXPORTS {
        if i % 5 == 4 {
            clock.advance(EPOCH);
        }
        out.clear();
        write_json(&reg, &Filter::all(), &mut out).unwrap();
        let doc: Value = serde_json::from_slice(&out).unwrap();
        for fam in doc["families"].as_array().unwrap() {
            if !matches!(fam["name"].as_str(), Some("latency" | "size")) {
                continue;
            }
            for s in fam["series"].as_array().unwrap() {
                let count = s["count"].as_u64().unwrap();
                let sum: u64 = s["history"]["count"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .sum();
                assert!(
                    sum <= count,
                    "export {i}, {}: history counts add up to {sum}, more than the count {count}",
                    fam["name"]
                );
                checked += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        assert!(w.join().unwrap() > 0);
    }
    assert_eq!(checked, 2 * EXPORTS);
}
