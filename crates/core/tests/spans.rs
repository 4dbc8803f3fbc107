//! Every windowed answer can say the span it covers (the review: with the
//! default registry, `histogram.quantile(0.99, 60 s)` answered over more than
//! 100 s, and nothing told the caller).

use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{Filter, ManualClock, Registry};

const T0: u64 = 1_700_000_000_000_000_000;
const S: Duration = Duration::from_secs(1);

#[test]
fn the_reviews_example_reports_its_real_span() {
    let clock = Arc::new(ManualClock::new(T0));
    let reg = Registry::builder().clock(clock.clone()).build();
    let h = reg.histogram("latency_seconds", &[]).unwrap();
    let c = reg.counter("rows", &[]).unwrap();
    clock.advance(200 * S);
    for _ in 0..50 {
        h.observe(5.0);
    }
    clock.advance(100 * S);
    for _ in 0..100 {
        h.observe(0.01);
        c.inc();
    }
    let now = T0 + 300 * 1_000_000_000;
    // Counters keep 10 s epochs: 60 s covers 60 to 70 s.
    let span = c.span(60 * S);
    assert_eq!(span.end, now);
    assert!((60 * S..=70 * S).contains(&span.duration()), "{span:?}");
    // Histograms keep 12 slots of 50 s: 60 s covers 100 to 150 s, here 100 s,
    // which reaches back to the 5.0s observed 100 s ago, and says so.
    let span = h.span(60 * S);
    assert_eq!(span.duration(), 100 * S, "{span:?}");
    assert!(h.quantile(0.99, 60 * S) > 1.0);
    // A 10 s window stays inside the current slot's 50 s.
    assert_eq!(h.span(10 * S).duration(), 50 * S);
    assert!(h.quantile(0.99, 10 * S) <= 0.025);
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
