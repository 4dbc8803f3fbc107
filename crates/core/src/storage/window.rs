//! Time ranges and windows over history, and the scratch space readers use.

use std::cell::RefCell;
use std::time::Duration;

use crate::retention::Geometry;
use crate::sync::{AtomicU64, Ordering};

/// A time range over history, in ns since the Unix epoch; either end may be open.
/// An epoch is selected when `[start, start + width)` overlaps the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    /// Inclusive start.
    pub start: Option<u64>,
    /// Inclusive end.
    pub end: Option<u64>,
}

impl TimeRange {
    /// Every retained epoch.
    pub const ALL: TimeRange = TimeRange {
        start: None,
        end: None,
    };

    /// Whether an epoch `[epoch_start, epoch_start + width)` overlaps the range.
    #[inline]
    pub fn overlaps(&self, epoch_start: u64, width: u64) -> bool {
        self.start
            .is_none_or(|s| epoch_start.saturating_add(width) > s)
            && self.end.is_none_or(|e| epoch_start <= e)
    }
}

/// The stretch of time a windowed answer covers, in ns since the Unix epoch: from
/// the start of the oldest epoch the asked window touches (not before the series
/// was created) to the time of the query.
///
/// Epochs are whole, so the span is at least the window asked for, up to one
/// epoch more: 60 s over 10 s epochs covers 60 to 70 s, for every kind. A series
/// younger than the window covers only its life; one without history
/// (`Retention::NONE`) covers its whole life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Start, ns since the Unix epoch.
    pub start: u64,
    /// End (the time of the query), ns since the Unix epoch.
    pub end: u64,
}

impl Span {
    /// How long the span is.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.end.saturating_sub(self.start))
    }
}

/// The span a window of `window` ending at `now` covers in a ring of shape `g`,
/// for a series created at `created`.
#[inline]
pub(crate) fn window_span(g: &Geometry, now: u64, window: Duration, created: u64) -> Span {
    let (first, _) = window_epochs(g, now, window);
    Span {
        start: g.epoch_start(first).max(created).min(now),
        end: now,
    }
}

/// Epochs that a window of `window` ending at `now` covers, clipped to retention:
/// from the epoch holding `now - window` to the epoch holding `now`.
#[inline]
pub(crate) fn window_epochs(g: &Geometry, now: u64, window: Duration) -> (u64, u64) {
    let now_e = g.epoch(now);
    let w = window.as_nanos().min(u64::MAX as u128) as u64;
    let first = g.epoch(now.saturating_sub(w)).max(g.oldest_retained(now_e));
    (first, now_e)
}

/// Runs `f` with an empty per-thread buffer that keeps its capacity between calls,
/// so reading history allocates nothing once warm (a fresh buffer if nested).
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Vec<u64>) -> R) -> R {
    thread_local! {
        static SCRATCH: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            f(&mut buf)
        }
        Err(_) => f(&mut Vec::new()),
    })
}

/// Adds `v` to the `f64` in `cell`.
#[inline]
pub(crate) fn f64_add(cell: &AtomicU64, v: f64) {
    // Relaxed: the sum is a single value; readers need nothing published with it.
    let mut cur = cell.load(Ordering::Relaxed);
    loop {
        let new = (f64::from_bits(cur) + v).to_bits();
        match cell.compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(now) => cur = now,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn time_range_overlap() {
        let r = TimeRange {
            start: Some(10),
            end: Some(20),
        };
        assert!(r.overlaps(5, 6));
        assert!(!r.overlaps(5, 5));
        assert!(r.overlaps(20, 5));
        assert!(!r.overlaps(21, 5));
        assert!(TimeRange::ALL.overlaps(0, 1));
    }
}
