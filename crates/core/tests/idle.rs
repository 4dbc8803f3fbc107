//! Idle series: left out of exports after their time-to-live, reclaimed by the
//! next visit once no handle holds them, and back with their value if recorded
//! again before that.

use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{Describe, Filter, ManualClock, Registry, Retention, SeriesData};

const T0: u64 = 1_700_000_000_000_000_000;

fn setup() -> (Arc<ManualClock>, Registry) {
    let clock = Arc::new(ManualClock::new(T0));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(10)).unwrap())
        .build();
    reg.register(Describe::counter("rows").idle_ttl(Duration::from_secs(30)))
        .unwrap();
    (clock, reg)
}

fn visible(reg: &Registry) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    reg.visit(&Filter::all(), |fam| {
        for s in fam.series() {
            if let SeriesData::Counter(c) = s.data() {
                let h = s
                    .labels()
                    .next()
                    .map_or(String::new(), |(_, v)| v.to_string());
                out.push((h, c.total()));
            }
        }
    });
    out
}

#[test]
fn idle_series_leave_exports_and_are_reclaimed() {
    let (clock, reg) = setup();
    reg.counter("rows", &[("h", "csv")]).unwrap().inc_by(3);
    let json = reg.counter("rows", &[("h", "json")]).unwrap();
    json.inc_by(4);
    let interned = reg.interned_count();
    clock.advance(Duration::from_secs(20));
    assert_eq!(visible(&reg).len(), 2);

    clock.advance(Duration::from_secs(15));
    // Both idle: neither exported. The csv one has no handle: reclaimed now.
    assert_eq!(visible(&reg), vec![]);
    assert_eq!(reg.series_count(), 1, "json is still held by a handle");
    assert!(
        reg.interned_count() < interned,
        "csv's label value was released"
    );

    // Recorded again: back, with its cumulative value intact.
    json.inc();
    assert_eq!(visible(&reg), vec![("json".to_string(), 5)]);

    // A reclaimed series starts again from zero when looked up anew.
    let csv = reg.counter("rows", &[("h", "csv")]).unwrap();
    assert_eq!(csv.get(), 0);
    csv.inc();
    assert_eq!(reg.series_count(), 2);
}

#[test]
fn include_idle_shows_them() {
    let (clock, reg) = setup();
    let c = reg.counter("rows", &[("h", "csv")]).unwrap();
    c.inc();
    clock.advance(Duration::from_secs(60));
    let mut n = 0;
    reg.visit(&Filter::all().include_idle(true), |fam| {
        n += fam.series().count()
    });
    assert_eq!(n, 1);
    assert_eq!(visible(&reg), vec![]);
    drop(c);
    // Still there until the next visit that is not asked to include idle ones
    // (include_idle visits also reclaim; it only changes what is shown).
    reg.visit(&Filter::all(), |_| {});
    assert_eq!(reg.series_count(), 0);
}

#[test]
fn families_without_ttl_keep_everything() {
    let clock = Arc::new(ManualClock::new(T0));
    let reg = Registry::builder().clock(clock.clone()).build();
    reg.counter("rows", &[("h", "csv")]).unwrap().inc();
    clock.advance(Duration::from_secs(86_400));
    assert_eq!(visible(&reg).len(), 1);
    assert_eq!(reg.series_count(), 1);
}
