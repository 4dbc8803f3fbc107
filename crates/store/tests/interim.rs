//! Issue 17, item 5, in the store: a checkpoint taken while the process goes
//! on serving is marked interim; restoring one (the process died without its
//! final checkpoint) starts counters, histograms and summaries afresh, created
//! now, so that they never move backwards under a scraper; gauges, and every
//! final checkpoint, restore whole. `crates/lakemetrics/tests/restart_prometheus.rs`
//! checks the property end to end with a real Prometheus.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{dump, populate_small, registry, TempDir, T0};
use lakemetrics_core::{Describe, ManualClock, Registry};
use lakemetrics_store::{Checkpoint, Checkpointer, Store};

fn record(reg: &Registry) {
    reg.counter("rows", &[("h", "csv")]).unwrap().inc_by(1_000);
    reg.gauge("depth", &[]).unwrap().set(7.5);
    reg.histogram("secs", &[]).unwrap().observe(0.3);
    reg.register(Describe::summary("lat").objectives(vec![0.5]))
        .unwrap();
    reg.summary("lat", &[]).unwrap().observe(2.0);
}

#[test]
fn an_interim_checkpoint_restores_cumulative_series_afresh() {
    let dir = TempDir::new("interim");
    let clock = Arc::new(ManualClock::new(T0));
    let reg = registry(&clock);
    record(&reg);
    let store = Store::open(dir.path()).unwrap();
    let info = store.checkpoint_interim(&reg).unwrap();
    assert!(info.interim);
    assert!(Checkpoint::read(&info.path).unwrap().interim);

    clock.set(T0 + 60_000_000_000);
    let after = registry(&clock);
    let r = store.restore(&after).unwrap().restored.unwrap();
    assert!(r.fresh_start);
    assert_eq!((r.series, r.series_started_afresh), (4, 3));
    let rows = after.counter("rows", &[("h", "csv")]).unwrap();
    assert_eq!(rows.get(), 0, "never below what a scrape saw: from zero");
    let h = after.histogram("secs", &[]).unwrap().snapshot();
    assert_eq!((h.count(), h.sum), (0, 0.0));
    let s = after.summary("lat", &[]).unwrap();
    assert_eq!((s.count(), s.sum()), (0, 0.0));
    assert_eq!(after.gauge("depth", &[]).unwrap().get(), 7.5);
    // A new start: created now, so OpenMetrics shows a new `_created`.
    let mut created = Vec::new();
    after.visit(&lakemetrics_core::Filter::all(), |fam| {
        for s in fam.series() {
            if fam.kind() != lakemetrics_core::MetricKind::Gauge {
                created.push(s.created());
            }
        }
    });
    assert_eq!(created, [T0 + 60_000_000_000; 3]);
    // Recording goes on from zero.
    rows.inc_by(5);
    assert_eq!(rows.get(), 5);
}

#[test]
fn a_final_checkpoint_restores_whole() {
    let dir = TempDir::new("final");
    let clock = Arc::new(ManualClock::new(T0));
    let reg = registry(&clock);
    populate_small(&reg, &clock);
    let store = Store::open(dir.path()).unwrap();
    // An interim one, then the final one: the newest decides.
    store.checkpoint_interim(&reg).unwrap();
    let info = store.checkpoint(&reg).unwrap();
    assert!(!info.interim);
    let after = registry(&clock);
    let r = store.restore(&after).unwrap().restored.unwrap();
    assert!(!r.fresh_start);
    assert_eq!(r.series_started_afresh, 0);
    assert_eq!(dump(&after), dump(&reg));
}

#[test]
fn the_checkpointer_writes_interim_checkpoints_and_a_final_one() {
    let dir = TempDir::new("ckpt-kinds");
    let store = Store::builder(dir.path()).keep(100).open().unwrap();
    let reg = Registry::new();
    reg.counter("rows", &[]).unwrap().inc_by(3);
    let ckpt = Checkpointer::builder()
        .interval(Duration::from_secs(3600))
        .start(store.clone(), reg.clone())
        .unwrap();
    assert!(ckpt.checkpoint_now().unwrap().interim);
    // Killed here, the next start would begin afresh.
    let fresh = Registry::new();
    assert!(store.restore(&fresh).unwrap().restored.unwrap().fresh_start);
    assert_eq!(fresh.counter("rows", &[]).unwrap().get(), 0);
    // Shut down cleanly, it continues.
    let last = ckpt.shutdown().unwrap().unwrap();
    assert!(!last.interim);
    let next = Registry::new();
    assert!(!store.restore(&next).unwrap().restored.unwrap().fresh_start);
    assert_eq!(next.counter("rows", &[]).unwrap().get(), 3);
}
