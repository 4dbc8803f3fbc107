//! Checkpoint, restore into a new registry, and compare every value and history
//! point of every kind, also after time has moved past part of the window.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{dump, populate, registry, TempDir, T0};
use lakemetrics_core::{Describe, ManualClock, MetricKind, Registry, Retention, OVERFLOW_LABEL};
use lakemetrics_store::{Error, Store};

#[test]
fn round_trip_restores_every_value_and_point() {
    let dir = TempDir::new("round-trip");
    let clock = Arc::new(ManualClock::new(T0));
    let a = registry(&clock);
    populate(&a, &clock);
    let store = Store::open(dir.path()).unwrap();
    let info = store.checkpoint(&a).unwrap();
    assert_eq!(info.seq, 1);
    assert_eq!(info.taken_at_nanos, clock.now_nanos_for_tests());
    assert!(info.path.exists());
    assert_eq!(info.bytes, std::fs::metadata(&info.path).unwrap().len());
    let da = dump(&a);
    assert!(da.iter().any(|l| l.contains(OVERFLOW_LABEL)), "{da:#?}");
    assert!(da
        .iter()
        .any(|l| l.starts_with("lakemetrics_cardinality_overflow")));
    assert_eq!(info.series as usize, da.len());

    let b = registry(&clock);
    let report = store.restore(&b).unwrap();
    let r = report.restored.unwrap();
    assert!(report.skipped.is_empty());
    assert_eq!((r.seq, r.path.clone()), (1, info.path.clone()));
    assert_eq!(r.series, da.len());
    assert_eq!(r.series_with_history, da.len());
    assert_eq!(r.points, info.points);
    assert_eq!(r.families as u64, info.families);
    assert_eq!(dump(&b), da);

    // Restored series go on from where they were.
    b.counter("rows", &[("handler", "csv")]).unwrap().inc();
    assert_eq!(
        b.counter("rows", &[("handler", "csv")]).unwrap().get(),
        a.counter("rows", &[("handler", "csv")]).unwrap().get() + 1
    );
}

/// The clock's reading, through a registry (ManualClock has no getter of its own
/// in the prelude of this test).
trait Now {
    fn now_nanos_for_tests(&self) -> u64;
}

impl Now for ManualClock {
    fn now_nanos_for_tests(&self) -> u64 {
        lakemetrics_core::Clock::now_nanos(self)
    }
}

#[test]
fn restore_after_time_moved_past_part_of_the_window() {
    let dir = TempDir::new("moved");
    let clock = Arc::new(ManualClock::new(T0));
    let a = registry(&clock);
    populate(&a, &clock);
    let store = Store::open(dir.path()).unwrap();
    store.checkpoint(&a).unwrap();
    // Down for 12 s: part of the 20 s window has passed.
    clock.advance(Duration::from_secs(12));
    let b = registry(&clock);
    Store::open(dir.path()).unwrap().restore(&b).unwrap();
    assert_eq!(
        dump(&a),
        dump(&b),
        "same clock: both see the same retained epochs"
    );
    let c = b.counter("rows", &[("handler", "csv")]).unwrap();
    assert_eq!(c.get(), (1..=30).sum::<u64>());
    let recent = c.increase(Duration::from_secs(20));
    assert!(recent < c.get() && recent > 0, "{recent}");
    // Past the whole window: totals stay, history is gone.
    clock.advance(Duration::from_secs(3600));
    let d = registry(&clock);
    Store::open(dir.path()).unwrap().restore(&d).unwrap();
    let c = d.counter("rows", &[("handler", "csv")]).unwrap();
    assert_eq!(c.get(), (1..=30).sum::<u64>());
    assert_eq!(c.increase(Duration::from_secs(20)), 0);
    assert_eq!(dump(&a), dump(&d));
}

#[test]
fn an_empty_directory_restores_nothing() {
    let dir = TempDir::new("empty");
    let store = Store::open(dir.path().join("not-yet")).unwrap();
    let reg = Registry::new();
    let report = store.restore(&reg).unwrap();
    assert!(report.restored.is_none() && report.skipped.is_empty());
    assert_eq!(reg.series_count(), 0);
    // An empty registry round-trips too.
    store.checkpoint(&reg).unwrap();
    let r = store.restore(&Registry::new()).unwrap().restored.unwrap();
    assert_eq!((r.families, r.series, r.points), (0, 0, 0));
}

#[test]
fn keeps_the_newest_k_and_numbers_on_after_reopening() {
    let dir = TempDir::new("keep");
    let clock = Arc::new(ManualClock::new(T0));
    let reg = registry(&clock);
    let c = reg.counter("rows", &[]).unwrap();
    let store = Store::builder(dir.path()).keep(3).open().unwrap();
    for i in 1..=5 {
        c.inc();
        let info = store.checkpoint(&reg).unwrap();
        assert_eq!(info.seq, i);
        assert_eq!(info.removed, usize::from(i > 3));
    }
    let seqs: Vec<u64> = store.checkpoints().unwrap().iter().map(|f| f.seq).collect();
    assert_eq!(seqs, [5, 4, 3]);
    let store = Store::builder(dir.path()).keep(1).open().unwrap();
    assert_eq!(store.checkpoint(&reg).unwrap().seq, 6);
    let seqs: Vec<u64> = store.checkpoints().unwrap().iter().map(|f| f.seq).collect();
    assert_eq!(seqs, [6]);
    let back = registry(&clock);
    store.restore(&back).unwrap();
    assert_eq!(back.counter("rows", &[]).unwrap().get(), 5);
    assert!(matches!(
        Store::builder(dir.path()).keep(0).open(),
        Err(Error::InvalidConfig { what: "keep", .. })
    ));
}

#[test]
fn many_series_span_several_blocks() {
    let dir = TempDir::new("blocks");
    let clock = Arc::new(ManualClock::new(T0));
    let a = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(4)).unwrap())
        .build();
    a.register(Describe::counter("wide").max_series(40_000))
        .unwrap();
    let names: Vec<String> = (0..20_000).map(|i| format!("s{i}")).collect();
    for step in 0..3u64 {
        clock.advance(Duration::from_secs(1));
        for (i, n) in names.iter().enumerate() {
            a.counter("wide", &[("id", n), ("shard", ["a", "b", "c"][i % 3])])
                .unwrap()
                .inc_by(step + i as u64);
        }
    }
    let store = Store::open(dir.path()).unwrap();
    let info = store.checkpoint(&a).unwrap();
    assert_eq!(info.series, 20_000);
    let h = info.history(MetricKind::Counter);
    // Three epochs each, less the one in which series 0 grew by 0 (a checkpoint
    // keeps the epochs in which a counter grew, and its newest).
    assert_eq!((h.series, h.points), (20_000, 59_999));
    let b = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(4)).unwrap())
        .build();
    store.restore(&b).unwrap();
    assert_eq!(dump(&a), dump(&b));
}

#[test]
fn refuses_a_registry_it_does_not_fit_and_restores_nothing() {
    let dir = TempDir::new("refuse");
    let clock = Arc::new(ManualClock::new(T0));
    let a = registry(&clock);
    populate(&a, &clock);
    let store = Store::open(dir.path()).unwrap();
    store.checkpoint(&a).unwrap();

    // A family registered with other options than it was saved with.
    let b = registry(&clock);
    b.register(Describe::gauge("depth").help("changed"))
        .unwrap();
    match store.restore(&b) {
        Err(Error::Incompatible { family, path, .. }) => {
            assert_eq!(family, "depth");
            assert!(path.ends_with("checkpoint-00000000000000000001.lmc"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(b.series_count(), 0);

    // A series that already exists: every check runs before the first series
    // is restored, so nothing else is restored either.
    let c = registry(&clock);
    c.gauge("depth", &[("q", "in")]).unwrap().set(1.0);
    assert!(matches!(
        store.restore(&c),
        Err(Error::Incompatible { ref family, .. }) if family == "depth"
    ));
    assert_eq!(c.series_count(), 1);
    assert_eq!(dump(&c).len(), 1);

    // A family limit the restored series would pass.
    let d = registry(&clock);
    d.register(
        Describe::counter("rows")
            .help("Rows.\nSecond line \\ \"quoted\"")
            .max_series(3),
    )
    .unwrap();
    d.counter("rows", &[("handler", "other")]).unwrap();
    match store.restore(&d) {
        Err(Error::Incompatible { source, .. }) => assert!(
            matches!(*source, lakemetrics_core::Error::CardinalityLimit { .. }),
            "{source}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(d.series_count(), 1);
}

#[test]
fn families_without_history_round_trip() {
    let dir = TempDir::new("none");
    let clock = Arc::new(ManualClock::new(T0));
    let a = Registry::builder().clock(clock.clone()).build();
    a.register(Describe::counter("scraped").retention(Retention::NONE))
        .unwrap();
    let c = a.counter("scraped", &[("k", "v")]).unwrap();
    for _ in 0..10 {
        clock.advance(Duration::from_secs(30));
        c.inc_by(4);
    }
    let store = Store::open(dir.path()).unwrap();
    store.checkpoint(&a).unwrap();
    let b = Registry::builder().clock(clock.clone()).build();
    store.restore(&b).unwrap();
    let r = b.counter("scraped", &[("k", "v")]).unwrap();
    assert_eq!(
        b.describe("scraped").unwrap(),
        a.describe("scraped").unwrap()
    );
    assert_eq!(r.get(), 40);
    // Its one epoch is the series' life, restored with it.
    assert_eq!(r.increase(Duration::from_secs(1)), 40);
    assert_eq!(
        r.span(Duration::from_secs(1)),
        c.span(Duration::from_secs(1))
    );
}
