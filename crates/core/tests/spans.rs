//! Windowed answers cover the epochs the asked window touches, at the family's
//! resolution for every kind, and say the span they cover (the review: with the
//! default registry, `histogram.quantile(0.99, 60 s)` answered over more than
//! 100 s, and nothing told the caller).

use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{Filter, ManualClock, Registry};

const T0: u64 = 1_700_000_000_000_000_000;
const S: Duration = Duration::from_secs(1);

/// The series-storage issue's example: with the default registry, 50
/// observations of 5.0 at t - 100 s and then 100 of 0.01 at t. Over 60 s the
/// histogram answered 4.925 and the summary 5.01 (their slots were 50 s and
/// 120 s wide); every kind now keeps 10 s epochs, so both answer over 60 to 70 s,
/// which holds only the 0.01s, and say so.
#[test]
fn the_reviews_example_gets_the_60_second_answer() {
    let clock = Arc::new(ManualClock::new(T0));
    let reg = Registry::builder().clock(clock.clone()).build();
    let h = reg.histogram("latency_seconds", &[]).unwrap();
    let s = reg.summary("latency_summary_seconds", &[]).unwrap();
    let c = reg.counter("rows", &[]).unwrap();
    clock.advance(200 * S);
    for _ in 0..50 {
        h.observe(5.0);
        s.observe(5.0);
    }
    clock.advance(100 * S);
    for _ in 0..100 {
        h.observe(0.01);
        s.observe(0.01);
        c.inc();
    }
    let now = T0 + 300 * 1_000_000_000;
    for span in [c.span(60 * S), h.span(60 * S), s.span(60 * S)] {
        assert_eq!(span.end, now);
        assert!((60 * S..=70 * S).contains(&span.duration()), "{span:?}");
    }
    // Prometheus' interpolation inside the (0.005, 0.01] bucket: the issue's
    // 10-second answer, now over 60 s too.
    let q = h.quantile(0.99, 60 * S);
    assert!((q - 0.00995).abs() < 1e-9, "{q}");
    assert_eq!(h.quantile(0.99, 10 * S), q);
    let q = s.quantile(0.99, 60 * S);
    assert!((q - 0.01).abs() <= 0.01 * 0.01, "{q}");
    // A window long enough to reach back 100 s sees the 5.0s again.
    assert!(h.span(110 * S).duration() >= 110 * S);
    assert!(h.quantile(0.99, 110 * S) > 1.0);
    assert!(s.quantile(0.99, 110 * S) > 4.9);
}

#[test]
fn a_young_series_covers_its_life_only() {
    let clock = Arc::new(ManualClock::new(T0 + 5 * 1_000_000_000));
    let reg = Registry::builder().clock(clock.clone()).build();
    let g = reg.gauge("depth", &[]).unwrap();
    clock.advance(3 * S);
    let span = g.span(600 * S);
    assert_eq!(span.duration(), 3 * S, "{span:?}");
    // A visit reports the same span.
    reg.visit(&Filter::all(), |f| {
        for s in f.series() {
            assert_eq!(s.span(600 * S), span);
        }
    });
}
