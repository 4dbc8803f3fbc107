//! The shared limit on token attempts: one token bucket for every client of a
//! router, so that opening more connections buys an attacker no more guesses.
//!
//! An attempt *reserves* one unit before its credentials are compared, and gets
//! it back if they were right. So wrong attempts are checked at most `burst`
//! at once and `rate` per second after that, across all connections, while a
//! scraper with the right token drains nothing. A request that finds the bucket
//! empty waits for its turn, up to [`MAX_WAIT`]; past that it is refused
//! without its credentials being compared, which teaches a guesser nothing.
//!
//! The bucket cannot tell a scraper from a guesser before it compares, so a
//! scraper's request queues behind a flood of guesses like any other. The
//! router therefore skips the bucket on connections that have already shown
//! the token (see `router::guard`): a scraper that keeps its connection open,
//! as Prometheus does, is never delayed by it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest a request waits for its turn before it is refused.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(1);

/// When an attempt may compare its credentials.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Turn {
    /// Now.
    Now,
    /// After this wait.
    After(Duration),
    /// Not within [`MAX_WAIT`]: refuse, and suggest retrying after this long.
    Refused(Duration),
}

/// A token bucket of attempts, refilled continuously.
#[derive(Debug)]
pub(crate) struct Throttle {
    per_second: f64,
    burst: f64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Units left; below zero, units already promised to waiting requests.
    units: f64,
    at: Instant,
}

impl Throttle {
    pub(crate) fn new(per_second: u32, burst: u32) -> Throttle {
        Throttle {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            bucket: Mutex::new(Bucket {
                units: f64::from(burst.max(1)),
                at: Instant::now(),
            }),
        }
    }

    fn bucket(&self, now: Instant) -> std::sync::MutexGuard<'_, Bucket> {
        // Nothing in here can panic while the lock is held; a poisoned lock
        // still holds consistent numbers.
        let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.units = (b.units + elapsed * self.per_second).min(self.burst);
        b.at = now;
        b
    }

    /// Reserves one attempt.
    pub(crate) fn reserve(&self) -> Turn {
        self.reserve_at(Instant::now())
    }

    fn reserve_at(&self, now: Instant) -> Turn {
        let mut b = self.bucket(now);
        let floor = -self.per_second * MAX_WAIT.as_secs_f64();
        if b.units - 1.0 < floor {
            // Units come back at `per_second`: one is free again when the
            // deficit below `floor + 1` has refilled.
            let short = (floor + 1.0) - (b.units - 1.0);
            return Turn::Refused(Duration::from_secs_f64(short / self.per_second));
        }
        b.units -= 1.0;
        if b.units >= 0.0 {
            Turn::Now
        } else {
            Turn::After(Duration::from_secs_f64(-b.units / self.per_second))
        }
    }

    /// Gives back a reserved attempt whose credentials were right.
    pub(crate) fn refund(&self) {
        let mut b = self.bucket(Instant::now());
        b.units = (b.units + 1.0).min(self.burst);
    }

    /// Charges a wrong attempt that did not reserve (one from a connection
    /// that had shown the token before).
    pub(crate) fn charge(&self) {
        let mut b = self.bucket(Instant::now());
        let floor = -self.per_second * MAX_WAIT.as_secs_f64();
        b.units = (b.units - 1.0).max(floor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate_then_refusal() {
        let t = Throttle::new(10, 3);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.reserve_at(now), Turn::Now);
        }
        // Then waits of 0.1 s, 0.2 s, ... up to a second (10 of them).
        for i in 1..=10 {
            match t.reserve_at(now) {
                Turn::After(d) => {
                    assert!(
                        (d.as_secs_f64() - f64::from(i) / 10.0).abs() < 1e-9,
                        "{d:?}"
                    )
                }
                other => panic!("attempt {i}: {other:?}"),
            }
        }
        assert!(matches!(t.reserve_at(now), Turn::Refused(_)));
        // A second later, ten more units have come back.
        let later = now + Duration::from_secs(1);
        assert!(matches!(t.reserve_at(later), Turn::After(_)));
    }

    #[test]
    fn right_attempts_cost_nothing() {
        let t = Throttle::new(1, 2);
        for _ in 0..1000 {
            assert_eq!(t.reserve(), Turn::Now);
            t.refund();
        }
        t.charge();
        t.charge();
        t.charge();
        assert!(matches!(t.reserve(), Turn::After(_) | Turn::Refused(_)));
    }
}
