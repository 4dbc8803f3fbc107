//! What timers measure durations with.
//!
//! The registry's default clock is coarse (the kernel tick, 1 to 4 ms): right for
//! placing a recording in a ten-second epoch, too coarse for a batch that takes a
//! millisecond. So with the default clock, timers read [`Instant`] (a vDSO read
//! of `CLOCK_MONOTONIC`, some 20 ns). With a manual or custom clock, timers read
//! that clock instead, so tests and simulations decide how long a batch took.

use std::time::{Duration, Instant};

use lakemetrics_core::ClockSource;

/// How a handler measures elapsed time.
#[derive(Clone)]
pub(crate) enum Stopwatch {
    /// `std::time::Instant`.
    Precise,
    /// The registry's (manual or custom) clock.
    Clock(ClockSource),
}

/// A started measurement.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Started {
    Instant(Instant),
    Nanos(u64),
}

impl Stopwatch {
    pub(crate) fn for_clock(clock: &ClockSource) -> Stopwatch {
        match clock {
            ClockSource::Coarse(_) => Stopwatch::Precise,
            other => Stopwatch::Clock(other.clone()),
        }
    }

    #[inline]
    pub(crate) fn start(&self) -> Started {
        match self {
            Stopwatch::Precise => Started::Instant(Instant::now()),
            Stopwatch::Clock(c) => Started::Nanos(c.now_nanos()),
        }
    }

    #[inline]
    pub(crate) fn elapsed(&self, started: Started) -> Duration {
        match (self, started) {
            (_, Started::Instant(i)) => i.elapsed(),
            (Stopwatch::Clock(c), Started::Nanos(n)) => {
                Duration::from_nanos(c.now_nanos().saturating_sub(n))
            }
            (Stopwatch::Precise, Started::Nanos(_)) => Duration::ZERO,
        }
    }
}
