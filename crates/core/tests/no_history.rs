//! `Retention::NONE`: cumulative values only, for families that are only scraped.

use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{
    Describe, Error, Filter, ManualClock, Registry, Retention, SeriesData, TimeRange,
};

const T0: u64 = 1_700_000_000_000_000_000;
const S: Duration = Duration::from_secs(1);

#[test]
fn families_without_history_answer_since_creation_and_report_no_points() {
    let clock = Arc::new(ManualClock::new(T0));
    let reg = Registry::builder().clock(clock.clone()).build();
    for d in [
        Describe::counter("c"),
        Describe::gauge("g"),
        Describe::histogram("h"),
        Describe::summary("s"),
    ] {
        reg.register(d.retention(Retention::NONE)).unwrap();
    }
    let (c, g, h, s) = (
        reg.counter("c", &[]).unwrap(),
        reg.gauge("g", &[]).unwrap(),
        reg.histogram("h", &[]).unwrap(),
        reg.summary("s", &[]).unwrap(),
    );
    for k in 0..100u64 {
        clock.advance(37 * S);
        c.inc_by(2);
        g.set(k as f64);
        h.observe(0.02);
        s.observe(k as f64 + 1.0);
    }
    // Windowed answers cover the series' life, and their span says so.
    assert_eq!(c.increase(10 * S), 200);
    assert_eq!(c.span(10 * S).duration(), 3_700 * S);
    assert_eq!(g.max_over(S), 99.0);
    assert_eq!(g.min_over(S), 0.0);
    assert_eq!(h.increase(S).count(), 100);
    assert!((s.quantile(0.5, S) - 50.0).abs() <= 0.5);
    // No history points anywhere, and none saved.
    let now = reg.now_nanos();
    let mut points = 0;
    reg.visit(&Filter::all(), |f| {
        assert_eq!(f.retention(), Retention::NONE);
        for v in f.series() {
            match v.data() {
                SeriesData::Counter(x) => x.for_each_point(now, TimeRange::ALL, |_| points += 1),
                SeriesData::Gauge(x) => x.for_each_point(now, TimeRange::ALL, |_| points += 1),
                SeriesData::Histogram(x) => x.for_each_point(now, TimeRange::ALL, |_| points += 1),
                SeriesData::Summary(x) => x.for_each_point(now, TimeRange::ALL, |_| points += 1),
            }
            assert!(v.state().epochs.is_empty());
        }
    });
    assert_eq!(points, 0);
    // One epoch's row instead of a ring: less than a one-slot retention.
    let one = Registry::new();
    one.register(Describe::counter("c").retention(Retention::new(600 * S, 600 * S).unwrap()))
        .unwrap();
    assert!(reg.series_bytes("c").unwrap() <= one.series_bytes("c").unwrap());
    assert!(
        reg.series_bytes("g").unwrap() < Registry::new().gauge("g", &[]).unwrap().memory_bytes()
    );
}

#[test]
fn an_idle_ttl_needs_history() {
    let reg = Registry::new();
    let err = reg
        .register(
            Describe::counter("c")
                .retention(Retention::NONE)
                .idle_ttl(Duration::from_secs(60)),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidConfig {
                what: "idle_ttl",
                ..
            }
        ),
        "{err}"
    );
    // Nor can it come from the registry's default.
    let reg = Registry::builder()
        .retention(Retention::NONE)
        .idle_ttl(Duration::from_secs(60))
        .build();
    assert!(reg.counter("c", &[]).is_err());
}
