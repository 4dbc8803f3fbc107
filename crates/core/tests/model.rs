//! Model-based test: random sequences of (advance the clock, record, query) against
//! a plain reference model (a list of timestamped values per series), over several
//! retention settings, checking cumulative values and every windowed answer.

use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{
    bucket_quantile, Buckets, ManualClock, Registry, Retention, TimeRange, HISTOGRAM_BINS,
    MAX_SLOTS, SUMMARY_BINS,
};
use proptest::prelude::*;

const T0: u64 = 1_700_000_000_000_000_000;

#[derive(Debug, Clone)]
enum Op {
    Advance(u64),
    Inc(u64),
    Set(f64),
    Add(f64),
    Observe(f64),
    Summarize(f64),
    Query(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u64..3_000).prop_map(Op::Advance),
        3 => (0u64..1_000).prop_map(Op::Inc),
        2 => (-1e3f64..1e3).prop_map(Op::Set),
        1 => (-10f64..10.0).prop_map(Op::Add),
        2 => prop_oneof![Just(0.1), Just(0.5), Just(1.0), Just(3.0), 0f64..12.0].prop_map(Op::Observe),
        2 => prop_oneof![Just(0.02), Just(1.5), Just(300.0), 1e-3f64..1e4].prop_map(Op::Summarize),
        2 => (0u64..20_000).prop_map(Op::Query),
    ]
}

/// The reference: what happened, when. Nothing clever.
#[derive(Default)]
struct Model {
    incs: Vec<(u64, u64)>,
    sets: Vec<(u64, f64)>,
    observations: Vec<(u64, f64)>,
    summarized: Vec<(u64, f64)>,
    gauge: f64,
}

/// The epochs a window covers, computed with plain division.
fn window(now: u64, w: u64, width: u64, len: u64) -> (u64, u64) {
    let now_e = now / width;
    let oldest = (now_e + 1).saturating_sub(len);
    ((now.saturating_sub(w) / width).max(oldest), now_e)
}

fn in_window<T: Copy>(xs: &[(u64, T)], (first, last): (u64, u64), width: u64) -> Vec<T> {
    xs.iter()
        .filter(|(t, _)| (first..=last).contains(&(t / width)))
        .map(|(_, v)| *v)
        .collect()
}

fn run(retention: Retention, ops: Vec<Op>) {
    let clock = Arc::new(ManualClock::new(T0));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(retention)
        .buckets(Buckets::new(vec![0.5, 1.0, 2.5, 10.0]).unwrap())
        .build();
    let counter = reg.counter("c", &[("k", "v")]).unwrap();
    let gauge = reg.gauge("g", &[]).unwrap();
    let hist = reg.histogram("h", &[]).unwrap();
    let summ = reg.summary("s", &[]).unwrap();
    let bounds = [0.5, 1.0, 2.5, 10.0];

    // Every kind keeps one epoch per resolution.
    let cg = retention.geometry(MAX_SLOTS);
    let (cw, cl) = (cg.width_nanos(), cg.len() as u64);
    let (hw, hl, sw, sl) = (cw, cl, cw, cl);
    let mapping = *summ.core().mapping();

    let mut m = Model::default();
    let mut now = T0;
    for op in ops {
        match op {
            Op::Advance(ms) => {
                now += ms * 1_000_000;
                clock.set(now);
            }
            Op::Inc(n) => {
                counter.inc_by(n);
                m.incs.push((now, n));
            }
            Op::Set(v) => {
                gauge.set(v);
                m.gauge = v;
                m.sets.push((now, v));
            }
            Op::Add(d) => {
                gauge.add(d);
                m.gauge += d;
                m.sets.push((now, m.gauge));
            }
            Op::Observe(v) => {
                hist.observe(v);
                m.observations.push((now, v));
            }
            Op::Summarize(v) => {
                summ.observe(v);
                m.summarized.push((now, v));
            }
            Op::Query(ms) => {
                let w = ms * 1_000_000;
                let wd = Duration::from_nanos(w);

                // Counter: increase and rate over the window.
                let win = window(now, w, cw, cl);
                let expect: u64 = in_window(&m.incs, win, cw).iter().sum();
                assert_eq!(
                    counter.increase(wd),
                    expect,
                    "increase over {ms}ms at {now}"
                );
                // The rule (`Counter::rate`): the time the window's epochs span up
                // to now, before the series' creation included (no extrapolation).
                let covered = now.saturating_sub(win.0 * cw) as f64 / 1e9;
                let rate = if covered > 0.0 {
                    expect as f64 / covered
                } else {
                    0.0
                };
                assert!((counter.rate(wd) - rate).abs() <= 1e-9 * rate.abs().max(1.0));

                // Gauge: max and min over the window, else the current value.
                let vals = in_window(&m.sets, window(now, w, cw, cl), cw);
                let max = vals
                    .iter()
                    .copied()
                    .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))));
                let min = vals
                    .iter()
                    .copied()
                    .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.min(v))));
                assert_eq!(gauge.max_over(wd), max.unwrap_or(m.gauge));
                assert_eq!(gauge.min_over(wd), min.unwrap_or(m.gauge));

                // Histogram: per-bucket increase and quantiles over the window,
                // exact while no epoch of it saw more buckets than it has bins;
                // past that, the count is still exact.
                let hwin = window(now, w, hw, hl);
                let obs = in_window(&m.observations, hwin, hw);
                let bucket = |v: &f64| bounds.partition_point(|b| *b < *v);
                let mut counts = [0u64; 5];
                for v in &obs {
                    counts[bucket(v)] += 1;
                }
                let exact = max_distinct(&m.observations, hwin, hw, bucket) <= HISTOGRAM_BINS;
                let inc = hist.increase(wd);
                if exact {
                    assert_eq!(inc.counts.as_slice(), &counts);
                    for q in [0.5, 0.9, 0.99] {
                        let got = hist.quantile(q, wd);
                        let want = bucket_quantile(q, &bounds, &counts);
                        assert!(
                            got == want || (got.is_nan() && want.is_nan()),
                            "q{q}: {got} vs {want}"
                        );
                    }
                } else {
                    assert_eq!(inc.count(), obs.len() as u64);
                }

                // Summary: quantiles within 1% of the exact value at the rank
                // while no epoch of the window saw more sketch buckets than it has
                // bins; past that, within the window's values, in rank order.
                let swin = window(now, w, sw, sl);
                let mut vals = in_window(&m.summarized, swin, sw);
                vals.sort_by(f64::total_cmp);
                let exact =
                    max_distinct(&m.summarized, swin, sw, |v| mapping.index(*v)) <= SUMMARY_BINS;
                let mut prev = f64::NEG_INFINITY;
                assert_eq!(summ.core().window_count(now, wd), vals.len() as u64);
                for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
                    let got = summ.quantile(q, wd);
                    if vals.is_empty() {
                        assert!(got.is_nan());
                    } else {
                        // Nearest rank: the ceil(q n)-th smallest.
                        let n = vals.len();
                        let want = vals[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
                        if exact {
                            assert!((got - want).abs() <= 0.01 * want, "q{q}: {got} vs {want}");
                        } else {
                            assert!(
                                got >= vals[0] * 0.99 && got <= vals[n - 1] * 1.01 && got >= prev,
                                "q{q}: {got} outside {}..{} or below {prev}",
                                vals[0],
                                vals[n - 1]
                            );
                        }
                        prev = got;
                    }
                }
            }
        }
        check_cumulative(&m, &counter, &gauge, &hist, &summ, &bounds);
    }
    check_history(&m, now, &reg, (cw, cl), (hw, hl));
}

fn check_cumulative(
    m: &Model,
    counter: &lakemetrics_core::Counter,
    gauge: &lakemetrics_core::Gauge,
    hist: &lakemetrics_core::Histogram,
    summ: &lakemetrics_core::Summary,
    bounds: &[f64],
) {
    assert_eq!(counter.get(), m.incs.iter().map(|(_, n)| n).sum::<u64>());
    assert_eq!(gauge.get(), m.gauge);
    let snap = hist.snapshot();
    let mut counts = [0u64; 5];
    let mut sum = 0.0;
    for (_, v) in &m.observations {
        counts[bounds.partition_point(|b| *b < *v)] += 1;
        sum += v;
    }
    assert_eq!(snap.counts.as_slice(), &counts);
    assert_eq!(snap.sum, sum);
    assert_eq!(summ.count(), m.summarized.len() as u64);
    assert_eq!(summ.sum(), m.summarized.iter().fold(0.0, |a, (_, v)| a + v));
}

/// The most distinct `key`s any epoch in `(first, last)` saw.
fn max_distinct(
    xs: &[(u64, f64)],
    (first, last): (u64, u64),
    width: u64,
    key: impl Fn(&f64) -> usize,
) -> usize {
    let mut per_epoch = std::collections::BTreeMap::<u64, std::collections::BTreeSet<usize>>::new();
    for (t, v) in xs {
        let e = t / width;
        if (first..=last).contains(&e) {
            per_epoch.entry(e).or_default().insert(key(v));
        }
    }
    per_epoch.values().map(|s| s.len()).max().unwrap_or(0)
}

/// Every history point of every retained epoch, against the model.
fn check_history(m: &Model, now: u64, reg: &Registry, (cw, cl): (u64, u64), (hw, hl): (u64, u64)) {
    let c = reg.counter("c", &[("k", "v")]).unwrap();
    let now_e = now / cw;
    let mut want: Vec<(u64, u64)> = Vec::new();
    for (t, n) in &m.incs {
        let e = t / cw;
        if e + cl > now_e {
            match want.last_mut() {
                Some((we, wn)) if *we == e * cw => *wn += n,
                _ => want.push((e * cw, *n)),
            }
        }
    }
    // Points are the epochs in which the counter grew (an `inc_by(0)` makes none).
    want.retain(|&(_, n)| n > 0);
    let mut got = Vec::new();
    c.core()
        .for_each_point(now, TimeRange::ALL, |p| got.push((p.start, p.increase)));
    assert_eq!(got, want);

    let g = reg.gauge("g", &[]).unwrap();
    let mut want: Vec<(u64, f64, f64, f64)> = Vec::new();
    for (t, v) in &m.sets {
        let e = t / cw;
        if e + cl > now_e {
            match want.last_mut() {
                Some(w) if w.0 == e * cw => *w = (w.0, *v, w.2.min(*v), w.3.max(*v)),
                _ => want.push((e * cw, *v, *v, *v)),
            }
        }
    }
    let mut got = Vec::new();
    g.core().for_each_point(now, TimeRange::ALL, |p| {
        got.push((p.start, p.last, p.min, p.max))
    });
    assert_eq!(got, want);

    let h = reg.histogram("h", &[]).unwrap();
    let now_e = now / hw;
    let mut want: Vec<(u64, u64)> = Vec::new();
    for (t, _) in &m.observations {
        let e = t / hw;
        if e + hl > now_e {
            match want.last_mut() {
                Some((we, wn)) if *we == e * hw => *wn += 1,
                _ => want.push((e * hw, 1)),
            }
        }
    }
    let mut got = Vec::new();
    h.core()
        .for_each_point(now, TimeRange::ALL, |p| got.push((p.start, p.count())));
    assert_eq!(got, want);
}

fn retentions() -> impl Strategy<Value = Retention> {
    prop_oneof![
        Just(Retention::new(Duration::from_secs(1), Duration::from_secs(5)).unwrap()),
        Just(Retention::new(Duration::from_secs(1), Duration::from_secs(7)).unwrap()),
        Just(Retention::new(Duration::from_millis(250), Duration::from_secs(30)).unwrap()),
        Just(Retention::new(Duration::from_secs(10), Duration::from_secs(60)).unwrap()),
        Just(Retention::new(Duration::from_secs(2), Duration::from_secs(2)).unwrap()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_model(retention in retentions(), ops in prop::collection::vec(op(), 1..200)) {
        run(retention, ops);
    }
}

#[test]
fn long_run_wraps_the_ring_many_times() {
    let ops: Vec<Op> = (0..5_000u64)
        .flat_map(|i| {
            [
                Op::Advance(137 + i % 900),
                Op::Inc(i % 7),
                Op::Set((i % 13) as f64),
                Op::Observe((i % 11) as f64 / 2.0),
                Op::Summarize(1.0 + (i % 97) as f64),
                Op::Query((i * 31) % 15_000),
            ]
        })
        .collect();
    run(
        Retention::new(Duration::from_secs(1), Duration::from_secs(5)).unwrap(),
        ops,
    );
}
