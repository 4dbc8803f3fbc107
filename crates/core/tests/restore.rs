//! Saved state restores into a new registry: every value and history point, for
//! every kind, also when time has moved past part of the window.

use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{
    Buckets, Describe, Error, Filter, ManualClock, Registry, Retention, SeriesData,
    SeriesState, TimeRange, OVERFLOW_LABEL,
};

const T0: u64 = 1_700_000_000_000_000_000;

fn registry(clock: &Arc<ManualClock>) -> Registry {
    Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(20)).unwrap())
        .build()
}

fn populate(reg: &Registry, clock: &ManualClock) {
    reg.register(Describe::counter("rows").help("Rows.").max_series(3))
        .unwrap();
    reg.register(Describe::histogram("lat").buckets(Buckets::new(vec![0.1, 1.0]).unwrap()))
        .unwrap();
    reg.register(Describe::summary("size").unit("bytes"))
        .unwrap();
    reg.register(Describe::gauge("depth")).unwrap();
    for i in 0..30u64 {
        clock.advance(Duration::from_millis(700));
        for h in ["csv", "json", "parquet", "avro"] {
            reg.counter_or_overflow("rows", &[("handler", h)])
                .unwrap()
                .inc_by(i + 1);
        }
        reg.gauge("depth", &[("q", "in")])
            .unwrap()
            .set((i % 7) as f64 - 2.0);
        reg.histogram("lat", &[]).unwrap().observe(i as f64 / 10.0);
        reg.summary("size", &[]).unwrap().observe(100.0 + i as f64);
    }
}

/// Every family's description and every series' labels and state.
type Saved = Vec<(Describe, Vec<(Vec<(String, String)>, SeriesState)>)>;

fn save(reg: &Registry) -> (Saved, Vec<(String, lakemetrics_core::Geometry)>) {
    let mut out = Vec::new();
    let mut geo = Vec::new();
    reg.visit(&Filter::all().include_idle(true), |fam| {
        let series = fam
            .series()
            .map(|s| {
                let labels = s
                    .labels()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                (labels, s.state())
            })
            .collect();
        out.push((fam.describe(), series));
        geo.push((fam.name().to_string(), fam.geometry()));
    });
    (out, geo)
}

fn restore(reg: &Registry, saved: &Saved, geo: &[(String, lakemetrics_core::Geometry)]) -> usize {
    let mut with_history = 0;
    for ((d, series), (_, g)) in saved.iter().zip(geo) {
        reg.register(d.clone()).unwrap();
        for (labels, state) in series {
            let l: Vec<(&str, &str)> = labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            if reg.restore_series(d.name(), &l, state, *g).unwrap() {
                with_history += 1;
            }
        }
    }
    with_history
}

/// Everything a reader can see: values and history points of every series.
fn dump(reg: &Registry) -> Vec<String> {
    let mut out = Vec::new();
    reg.visit(&Filter::all().include_idle(true), |fam| {
        for s in fam.series() {
            let labels: Vec<_> = s.labels().collect();
            let mut line = format!("{} {labels:?} created={} ", fam.name(), s.created());
            let now = s.now();
            match s.data() {
                SeriesData::Counter(c) => {
                    line += &format!("total={}", c.total());
                    c.for_each_point(now, TimeRange::ALL, |p| {
                        line += &format!(" {}:{}", p.start, p.increase)
                    });
                }
                SeriesData::Gauge(g) => {
                    line += &format!("value={}", g.get());
                    g.for_each_point(now, TimeRange::ALL, |p| {
                        line += &format!(" {}:{}/{}/{}", p.start, p.last, p.min, p.max)
                    });
                }
                SeriesData::Histogram(h) => {
                    line += &format!("{:?}", h.snapshot());
                    h.for_each_point(now, TimeRange::ALL, |p| {
                        line += &format!(" {}:{:?}/{}", p.start, p.counts, p.sum)
                    });
                }
                SeriesData::Summary(q) => {
                    line += &format!(
                        "count={} sum={} p50={}",
                        q.count(),
                        q.sum(),
                        q.quantile(0.5, now, Duration::from_secs(20))
                    );
                    q.for_each_point(now, TimeRange::ALL, |p| {
                        line += &format!(" {}:{}/{}/{}", p.start, p.count, p.sum, p.quantile(0.9))
                    });
                }
            }
            out.push(line);
        }
    });
    out
}

#[test]
fn round_trip_restores_every_value_and_point() {
    let clock = Arc::new(ManualClock::new(T0));
    let a = registry(&clock);
    populate(&a, &clock);
    let (saved, geo) = save(&a);
    let b = registry(&clock);
    let restored = restore(&b, &saved, &geo);
    assert_eq!(restored, saved.iter().map(|f| f.1.len()).sum::<usize>());
    let (da, db) = (dump(&a), dump(&b));
    assert!(
        da.iter().any(|l| l.contains(OVERFLOW_LABEL)),
        "the overflow series is saved too"
    );
    assert_eq!(da, db);
    // Restored series keep recording from where they were.
    b.counter("rows", &[("handler", "csv")]).unwrap().inc();
    assert_eq!(
        b.counter("rows", &[("handler", "csv")]).unwrap().get(),
        a.counter("rows", &[("handler", "csv")]).unwrap().get() + 1
    );
}

#[test]
fn restore_after_time_moved_past_part_of_the_window() {
    let clock = Arc::new(ManualClock::new(T0));
    let a = registry(&clock);
    populate(&a, &clock);
    let (saved, geo) = save(&a);
    // The process was down for 12 s: part of the 20 s window has passed.
    clock.advance(Duration::from_secs(12));
    let b = registry(&clock);
    restore(&b, &saved, &geo);
    let (da, db) = (dump(&a), dump(&b));
    assert_eq!(da, db, "same clock: both see the same retained epochs");
    let c = b.counter("rows", &[("handler", "csv")]).unwrap();
    assert_eq!(c.get(), (1..=30).sum::<u64>());
    // Only the last 8 s of the 21 s of recordings are still in the window.
    let recent: u64 = c.increase(Duration::from_secs(20));
    assert!(recent < c.get() && recent > 0, "{recent}");
}

#[test]
fn restore_refuses_what_does_not_fit_and_changes_nothing() {
    let clock = Arc::new(ManualClock::new(T0));
    let a = registry(&clock);
    populate(&a, &clock);
    let (saved, geo) = save(&a);
    let b = registry(&clock);
    restore(&b, &saved, &geo);
    let before = dump(&b);
    let k = saved.iter().position(|(d, _)| d.name() == "rows").unwrap();
    let (d, series) = &saved[k];
    let (labels, state) = &series[0];
    let l: Vec<(&str, &str)> = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let name = d.name().to_string();
    let g = geo[k].1;
    assert!(matches!(
        b.restore_series(&name, &l, state, g),
        Err(Error::SeriesExists { .. })
    ));
    // Into a family of another kind, or one not registered.
    let c = registry(&clock);
    c.register(Describe::gauge(name.clone())).unwrap();
    assert!(matches!(
        c.restore_series(&name, &l, state, g),
        Err(Error::StateMismatch { .. })
    ));
    assert!(matches!(
        c.restore_series("unknown", &l, state, g),
        Err(Error::StateMismatch { .. })
    ));
    // Columns that disagree with each other.
    let mut broken = state.clone();
    broken.epochs.push(u64::MAX);
    c.register(Describe::counter("rows2")).unwrap();
    assert!(matches!(
        c.restore_series("rows2", &l, &broken, g),
        Err(Error::StateMismatch { .. })
    ));
    assert_eq!(c.series_count(), 0);
    assert_eq!(dump(&b), before);
}

#[test]
fn another_ring_shape_restores_cumulative_values_without_history() {
    let clock = Arc::new(ManualClock::new(T0));
    let a = registry(&clock);
    populate(&a, &clock);
    let (saved, geo) = save(&a);
    // The new process keeps history at another resolution.
    let b = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(2), Duration::from_secs(20)).unwrap())
        .build();
    for ((d, series), (_, g)) in saved.iter().zip(&geo) {
        let d = d
            .clone()
            .retention(Retention::new(Duration::from_secs(2), Duration::from_secs(20)).unwrap());
        b.register(d.clone()).unwrap();
        for (labels, state) in series {
            let l: Vec<(&str, &str)> = labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let history = b.restore_series(d.name(), &l, state, *g).unwrap();
            // Every kind now has 2 s epochs: no history restored.
            assert!(!history, "{}", d.name());
        }
    }
    let c = b.counter("rows", &[("handler", "csv")]).unwrap();
    assert_eq!(
        c.get(),
        a.counter("rows", &[("handler", "csv")]).unwrap().get()
    );
    assert_eq!(c.increase(Duration::from_secs(20)), 0);
    let s = b.summary("size", &[]).unwrap();
    assert_eq!(s.count(), 30);
    assert_eq!(
        b.histogram("lat", &[]).unwrap().snapshot(),
        a.histogram("lat", &[]).unwrap().snapshot()
    );
    assert_eq!(b.describe("rows").unwrap().name(), "rows");
    assert_eq!(b.max_series(), 1_000_000);
}
