//! A ring ahead of the clock never blocks writers (the review's defect: a slot
//! holding a future epoch took every later recording into that one epoch, so
//! `increase(30 s)` and `increase(60 s)` both read 0).
//!
//! Two ways a ring gets ahead: a checkpoint restored into a process whose clock is
//! behind the one that saved it, and a custom clock that steps back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{Clock, ClockSource, Describe, Filter, ManualClock, Registry};

/// 10 s aligned, like every epoch boundary of the default retention.
const T0: u64 = 1_700_000_000_000_000_000;
const MIN: u64 = 60_000_000_000;
const S: Duration = Duration::from_secs(1);

/// A clock the test moves, backwards too.
struct Stepped(AtomicU64);

impl Clock for Stepped {
    fn now_nanos(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Records 12 x 5 over a minute, one every 5 s, starting 5 s after `at`.
fn twelve_fives(advance: impl Fn(Duration), c: &lakemetrics_core::Counter) {
    for _ in 0..12 {
        advance(5 * S);
        c.inc_by(5);
    }
}

#[test]
fn a_checkpoint_from_a_clock_20_minutes_ahead_restores_and_records() {
    // The process that saved it: its clock is 20 minutes ahead.
    let ahead = Arc::new(ManualClock::new(T0 + 20 * MIN));
    let a = Registry::builder().clock(ahead.clone()).build();
    a.register(Describe::counter("rows")).unwrap();
    let c = a.counter("rows", &[]).unwrap();
    for _ in 0..6 {
        ahead.advance(10 * S);
        c.inc_by(3);
    }
    let mut saved = Vec::new();
    a.visit(&Filter::all(), |f| {
        let g = f.geometry();
        for s in f.series() {
            saved.push((s.state(), g));
        }
    });
    let (state, geometry) = saved.pop().unwrap();
    assert!(!state.epochs.is_empty());

    // The process that restores it, 20 minutes behind.
    let now = Arc::new(ManualClock::new(T0));
    let b = Registry::builder().clock(now.clone()).build();
    b.register(Describe::counter("rows")).unwrap();
    assert!(b.restore_series("rows", &[], &state, geometry).unwrap());
    let c = b.counter("rows", &[]).unwrap();
    assert_eq!(c.get(), 18);
    twelve_fives(|d| now.advance(d), &c);
    assert_eq!(c.get(), 78);
    // At T0 + 60 s: the minute's epochs hold all 60; the last 30 s (epochs from
    // T0 + 30 s) hold the 7 recordings from 30 s to 60 s.
    assert_eq!(c.increase(60 * S), 60);
    assert_eq!(c.increase(30 * S), 35);
}

#[test]
fn a_custom_clock_that_steps_back_restarts_history() {
    let clock = Arc::new(Stepped(AtomicU64::new(T0 + 20 * MIN)));
    let reg = Registry::builder()
        .clock(ClockSource::Custom(clock.clone()))
        .build();
    let c = reg.counter("rows", &[]).unwrap();
    let g = reg.gauge("depth", &[]).unwrap();
    let h = reg.histogram("seconds", &[]).unwrap();
    c.inc_by(3);
    g.set(1_000.0);
    h.observe(9.0);
    // The clock steps back 20 minutes and runs on from there.
    clock.0.store(T0, Ordering::Relaxed);
    let advance = |d: Duration| {
        clock.0.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    };
    for k in 0..12 {
        advance(5 * S);
        c.inc_by(5);
        g.set(k as f64);
        h.observe(0.02);
    }
    assert_eq!(c.get(), 63);
    assert_eq!(c.increase(60 * S), 60);
    assert_eq!(c.increase(30 * S), 35);
    // The gauge's points after the step are its own; the 1,000 set "in the
    // future" is not in them.
    assert_eq!(g.max_over(60 * S), 11.0);
    assert_eq!(g.min_over(60 * S), 0.0);
    // The histogram's window holds the minute's 12 observations of 0.02 (its
    // 50 s slots cover the 60 s window with two of them).
    let inc = h.increase(60 * S);
    assert_eq!(inc.count(), 12);
    assert!(h.quantile(0.99, 60 * S) <= 0.025);
}
