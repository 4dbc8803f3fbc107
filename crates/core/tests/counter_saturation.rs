//! A counter saturates at `u64::MAX` instead of wrapping: it never goes down,
//! its history stays consistent, and racing writers at the top leave it there.

use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{Describe, ManualClock, Registry, TimeRange};

const T0: u64 = 1_700_000_000_000_000_000;
const EPOCH: Duration = Duration::from_secs(10);

#[test]
fn an_add_past_the_top_saturates_and_history_stays_consistent() {
    let clock = Arc::new(ManualClock::new(T0));
    let reg = Registry::builder().clock(clock.clone()).build();
    reg.register(Describe::counter("bytes")).unwrap();
    let c = reg.counter("bytes", &[]).unwrap();
    c.inc_by(u64::MAX - 10);
    clock.advance(EPOCH);
    c.inc_by(5);
    clock.advance(EPOCH);
    // Wrapped, this would leave 4 (and every base above the total).
    c.inc_by(10);
    assert_eq!(c.get(), u64::MAX);
    clock.advance(EPOCH);
    c.inc_by(3);
    c.inc();
    assert_eq!(c.get(), u64::MAX, "a saturated counter stays at the top");

    use lakemetrics_core::Clock;
    let now = clock.now_nanos();
    let mut points = Vec::new();
    c.core()
        .for_each_point(now, TimeRange::ALL, |p| points.push(p.increase));
    assert_eq!(
        points,
        [u64::MAX - 10, 5, 5],
        "per-epoch increases up to the top"
    );
    assert_eq!(c.increase(Duration::from_secs(15)), 10);
}

#[test]
fn racing_writers_at_the_top_leave_it_there() {
    let reg = Registry::new();
    let c = reg.counter("c", &[]).unwrap();
    c.inc_by(u64::MAX - 1_000);
    std::thread::scope(|s| {
        for _ in 0..2 {
            let c = c.clone();
            s.spawn(move || {
                for _ in 0..10_000 {
                    c.inc_by(7);
                }
            });
        }
    });
    assert_eq!(c.get(), u64::MAX);
}
