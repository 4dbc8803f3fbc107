//! Retention settings and the epoch arithmetic of the rings.

use std::time::Duration;

use crate::{Error, Result};

/// How much history each series keeps, and at what granularity.
///
/// Time is cut into epochs of `resolution`; each series owns a ring of
/// `ceil(window / resolution)` slots (at most [`MAX_SLOTS`]), allocated once when
/// the series is created; every kind keeps one history point per epoch.
///
/// ```
/// use std::time::Duration;
/// use lakemetrics_core::Retention;
/// let r = Retention::new(Duration::from_secs(10), Duration::from_secs(600)).unwrap();
/// assert_eq!(r.slots(), 60);
/// assert!(Retention::new(Duration::ZERO, Duration::from_secs(1)).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Retention {
    resolution: Duration,
    window: Duration,
}

/// Most slots a ring may have; keeps memory per series bounded whatever the settings.
pub const MAX_SLOTS: usize = 4096;

impl Retention {
    /// Ten-second epochs over a ten-minute window: 60 slots per counter or gauge.
    pub const DEFAULT: Retention = Retention {
        resolution: Duration::from_secs(10),
        window: Duration::from_secs(600),
    };

    /// No history: cumulative values only, for families that are only scraped.
    ///
    /// A series keeps one epoch that spans its whole life, so windowed answers
    /// (`increase`, `max_over`, `quantile`, ...) cover everything since it was
    /// created, and their [`Span`](crate::Span) says so; no history points are
    /// exported or saved. An idle TTL needs history and is refused with it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use lakemetrics_core::{Describe, Registry, Retention};
    /// let reg = Registry::new();
    /// reg.register(Describe::counter("scraped").retention(Retention::NONE)).unwrap();
    /// let c = reg.counter("scraped", &[]).unwrap();
    /// c.inc_by(3);
    /// assert_eq!(c.increase(Duration::from_secs(1)), 3); // since creation
    /// assert!(Retention::NONE.slots() == 0 && !Retention::NONE.has_history());
    /// ```
    pub const NONE: Retention = Retention {
        resolution: Duration::ZERO,
        window: Duration::ZERO,
    };

    /// Whether this retention keeps history (every retention but [`Retention::NONE`]).
    pub fn has_history(&self) -> bool {
        *self != Retention::NONE
    }

    /// Epochs of `resolution` over `window`.
    ///
    /// Errors if `resolution` is zero or under a millisecond, if `window` is shorter
    /// than `resolution`, or if the ring would need more than [`MAX_SLOTS`] slots.
    pub fn new(resolution: Duration, window: Duration) -> Result<Retention> {
        if resolution < Duration::from_millis(1) {
            return Err(Error::InvalidConfig {
                what: "retention",
                reason: format!("resolution {resolution:?} is under 1ms"),
            });
        }
        if window < resolution {
            return Err(Error::InvalidConfig {
                what: "retention",
                reason: format!("window {window:?} is shorter than resolution {resolution:?}"),
            });
        }
        let r = Retention { resolution, window };
        if r.slots() > MAX_SLOTS {
            return Err(Error::InvalidConfig {
                what: "retention",
                reason: format!(
                    "window / resolution needs {} slots; the limit is {MAX_SLOTS}",
                    r.slots()
                ),
            });
        }
        Ok(r)
    }

    /// The epoch length.
    pub fn resolution(&self) -> Duration {
        self.resolution
    }

    /// How far back history reaches.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Slots of a counter or gauge ring: `ceil(window / resolution)` (0 for
    /// [`Retention::NONE`]).
    pub fn slots(&self) -> usize {
        if !self.has_history() {
            return 0;
        }
        let r = self.resolution.as_nanos();
        self.window.as_nanos().div_ceil(r) as usize
    }

    /// The ring shape for at most `max_slots` slots: the resolution is widened to a
    /// whole multiple of itself so that the window still fits.
    pub fn geometry(&self, max_slots: usize) -> Geometry {
        if !self.has_history() {
            return Geometry::lifetime();
        }
        let slots = self.slots();
        let max_slots = max_slots.max(1);
        let factor = slots.div_ceil(max_slots).max(1);
        let width = self.resolution.as_nanos() as u64 * factor as u64;
        let len = slots.div_ceil(factor);
        Geometry::new(width, len)
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention::DEFAULT
    }
}

/// The shape of one ring: epoch width and slot count, with divisions by both
/// strength-reduced so the recording path never executes a `div` instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    width: FastDiv,
    len: FastDiv,
}

impl Geometry {
    /// A ring of `len` slots of `width_nanos` each. Both are at least 1.
    pub fn new(width_nanos: u64, len: usize) -> Geometry {
        Geometry {
            width: FastDiv::new(width_nanos.max(1)),
            len: FastDiv::new(len.max(1) as u64),
        }
    }

    /// One slot whose one epoch spans all time (the shape of [`Retention::NONE`]).
    pub fn lifetime() -> Geometry {
        Geometry::new(u64::MAX, 1)
    }

    /// Whether this is [`Geometry::lifetime`]: no history to report.
    #[inline]
    pub fn is_lifetime(&self) -> bool {
        self.width.d == u64::MAX
    }

    /// Epoch width in nanoseconds.
    #[inline]
    pub fn width_nanos(&self) -> u64 {
        self.width.d
    }

    /// Number of slots.
    #[inline]
    pub fn len(&self) -> usize {
        self.len.d as usize
    }

    /// Always false: a ring has at least one slot.
    #[inline]
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The epoch a timestamp falls in.
    #[inline]
    pub fn epoch(&self, now_nanos: u64) -> u64 {
        self.width.div(now_nanos)
    }

    /// The slot an epoch lives in.
    #[inline]
    pub fn slot(&self, epoch: u64) -> usize {
        self.len.rem(epoch) as usize
    }

    /// The lap of the ring an epoch belongs to: `epoch / len`. Slot `epoch % len`
    /// holds one epoch per lap.
    #[inline]
    pub(crate) fn lap(&self, epoch: u64) -> u64 {
        self.len.div(epoch)
    }

    /// The lap and the slot of an epoch, from one division.
    #[inline]
    pub(crate) fn lap_slot(&self, epoch: u64) -> (u64, usize) {
        let (q, r) = self.len.div_rem(epoch);
        (q, r as usize)
    }

    /// The start of an epoch, in ns since the Unix epoch.
    #[inline]
    pub fn epoch_start(&self, epoch: u64) -> u64 {
        epoch.saturating_mul(self.width.d)
    }

    /// The oldest epoch still retained when the current epoch is `now_epoch`.
    #[inline]
    pub fn oldest_retained(&self, now_epoch: u64) -> u64 {
        (now_epoch + 1).saturating_sub(self.len.d)
    }

    /// Epochs `first..=last` clipped to what a reader may list when the
    /// current epoch is `now_e` and the ring's head (read before the rows)
    /// is `head`: retained at both, and no later than either. Empty when the
    /// first returned is past the last.
    #[inline]
    pub(crate) fn retained_run(&self, now_e: u64, head: u64, first: u64, last: u64) -> (u64, u64) {
        let first = first
            .max(self.oldest_retained(now_e))
            .max(self.oldest_retained(head));
        (first, last.min(head).min(now_e))
    }
}

/// Division by a run-time constant through a multiply-high and at most two
/// corrections (exact for every `u64` numerator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FastDiv {
    d: u64,
    /// floor((2^64 - 1) / d): `mulhi(n, m)` is at most two below `n / d`.
    m: u64,
}

impl FastDiv {
    fn new(d: u64) -> FastDiv {
        let d = d.max(1);
        FastDiv { d, m: u64::MAX / d }
    }

    #[inline]
    fn div_rem(self, n: u64) -> (u64, u64) {
        let mut q = ((n as u128 * self.m as u128) >> 64) as u64;
        let mut r = n - q * self.d;
        if r >= self.d {
            q += 1;
            r -= self.d;
        }
        if r >= self.d {
            q += 1;
            r -= self.d;
        }
        (q, r)
    }

    #[inline]
    fn div(self, n: u64) -> u64 {
        self.div_rem(n).0
    }

    #[inline]
    fn rem(self, n: u64) -> u64 {
        self.div_rem(n).1
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fast_div_is_exact(n in any::<u64>(), d in 1u64..) {
            let f = FastDiv::new(d);
            prop_assert_eq!(f.div_rem(n), (n / d, n % d));
        }

        #[test]
        fn fast_div_small_divisors(n in any::<u64>(), d in 1u64..1000) {
            let f = FastDiv::new(d);
            prop_assert_eq!(f.div_rem(n), (n / d, n % d));
        }
    }

    #[test]
    fn fast_div_edges() {
        for d in [1, 2, 3, 7, 10_000_000_000, u64::MAX - 1, u64::MAX] {
            let f = FastDiv::new(d);
            for n in [0, 1, d - 1, d, d.wrapping_add(1), u64::MAX - 1, u64::MAX] {
                assert_eq!(f.div_rem(n), (n / d, n % d), "{n} / {d}");
            }
        }
    }

    #[test]
    fn geometry_widens_for_few_slots() {
        let r = Retention::new(Duration::from_secs(10), Duration::from_secs(600)).unwrap();
        assert_eq!(r.geometry(MAX_SLOTS).len(), 60);
        let h = r.geometry(12);
        assert_eq!(h.len(), 12);
        assert_eq!(h.width_nanos(), 50_000_000_000);
        // A window that is not a multiple of the widened width still fits.
        let r = Retention::new(Duration::from_secs(1), Duration::from_secs(7)).unwrap();
        let g = r.geometry(2);
        assert_eq!((g.len(), g.width_nanos()), (2, 4_000_000_000));
    }

    #[test]
    fn rejects_bad_settings() {
        assert!(Retention::new(Duration::from_secs(10), Duration::from_secs(5)).is_err());
        assert!(Retention::new(Duration::from_micros(10), Duration::from_secs(5)).is_err());
        assert!(Retention::new(Duration::from_millis(1), Duration::from_secs(3600)).is_err());
    }
}
