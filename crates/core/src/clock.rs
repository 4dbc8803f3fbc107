//! Time sources.
//!
//! Every recording reads the clock once, so the default clock must be cheap:
//! [`CoarseClock`] reads `CLOCK_MONOTONIC_COARSE` (a vDSO read of the kernel's tick
//! counter, a few nanoseconds and no syscall) and anchors it to wall time once, at
//! construction. Its resolution is the kernel tick (1 to 4 ms), far finer than any
//! sensible retention resolution. [`ManualClock`] is moved by hand, for tests.
//!
//! Timestamps are nanoseconds since the Unix epoch, as `u64` (good until 2554).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::sync::{AtomicU64, Ordering};

/// A source of timestamps: nanoseconds since the Unix epoch.
///
/// Implementations must be cheap (they are read on every recording), must not go
/// backwards by more than the retention resolution, and must not panic.
pub trait Clock: Send + Sync + 'static {
    /// Now, in nanoseconds since the Unix epoch.
    fn now_nanos(&self) -> u64;
}

/// The default clock: a coarse monotonic clock anchored to wall time.
///
/// ```
/// use lakemetrics_core::{Clock, CoarseClock};
/// let clock = CoarseClock::new();
/// let a = clock.now_nanos();
/// let b = clock.now_nanos();
/// assert!(b >= a);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CoarseClock {
    /// Wall time at the anchor, in ns since the Unix epoch, minus the monotonic
    /// reading at the anchor: `now = offset + monotonic`.
    offset: u64,
}

impl CoarseClock {
    /// Anchors the monotonic clock to the current wall time.
    pub fn new() -> CoarseClock {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mono = monotonic_coarse();
        CoarseClock {
            offset: wall.saturating_sub(mono),
        }
    }
}

impl Default for CoarseClock {
    fn default() -> Self {
        CoarseClock::new()
    }
}

impl Clock for CoarseClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        self.offset.wrapping_add(monotonic_coarse())
    }
}

#[cfg(target_os = "linux")]
#[inline]
#[allow(unsafe_code)]
fn monotonic_coarse() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE is always
    // available on Linux >= 2.6.32 and the call cannot fail with these arguments.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

#[cfg(not(target_os = "linux"))]
#[inline]
fn monotonic_coarse() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// A clock that moves only when told to; for tests and simulations.
///
/// ```
/// use std::time::Duration;
/// use lakemetrics_core::{Clock, ManualClock};
/// let clock = ManualClock::new(1_000);
/// clock.advance(Duration::from_nanos(500));
/// assert_eq!(clock.now_nanos(), 1_500);
/// ```
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `now_nanos` (ns since the Unix epoch).
    pub fn new(now_nanos: u64) -> ManualClock {
        ManualClock {
            now: AtomicU64::new(now_nanos),
        }
    }

    /// Moves the clock to `now_nanos`.
    pub fn set(&self, now_nanos: u64) {
        // Relaxed: the clock is a single value; recorders that read it need no
        // other memory published with it.
        self.now.store(now_nanos, Ordering::Relaxed);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(
            by.as_nanos().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        self.now.load(Ordering::Relaxed)
    }
}

/// The clock a registry and its series read: the coarse clock inline (no virtual
/// call on the recording path), or any other [`Clock`] behind an `Arc`.
#[derive(Clone)]
pub enum ClockSource {
    /// The default [`CoarseClock`].
    Coarse(CoarseClock),
    /// A shared [`ManualClock`].
    Manual(Arc<ManualClock>),
    /// Any other clock.
    Custom(Arc<dyn Clock>),
}

impl ClockSource {
    /// Now, in nanoseconds since the Unix epoch.
    #[inline]
    pub fn now_nanos(&self) -> u64 {
        match self {
            ClockSource::Coarse(c) => c.now_nanos(),
            ClockSource::Manual(c) => c.now_nanos(),
            ClockSource::Custom(c) => c.now_nanos(),
        }
    }
}

impl Default for ClockSource {
    fn default() -> Self {
        ClockSource::Coarse(CoarseClock::new())
    }
}

impl std::fmt::Debug for ClockSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClockSource::Coarse(_) => f.write_str("ClockSource::Coarse"),
            ClockSource::Manual(c) => write!(f, "ClockSource::Manual({})", c.now_nanos()),
            ClockSource::Custom(_) => f.write_str("ClockSource::Custom"),
        }
    }
}

impl From<Arc<ManualClock>> for ClockSource {
    fn from(c: Arc<ManualClock>) -> Self {
        ClockSource::Manual(c)
    }
}

impl From<CoarseClock> for ClockSource {
    fn from(c: CoarseClock) -> Self {
        ClockSource::Coarse(c)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn coarse_clock_tracks_wall_time() {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let c = CoarseClock::new().now_nanos();
        // Within a second of wall time (the coarse tick is a few ms).
        assert!(c.abs_diff(wall) < 1_000_000_000, "{c} vs {wall}");
    }

    #[test]
    fn coarse_clock_is_monotonic() {
        let c = CoarseClock::new();
        let mut last = c.now_nanos();
        for _ in 0..10_000 {
            let n = c.now_nanos();
            assert!(n >= last);
            last = n;
        }
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(5);
        assert_eq!(c.now_nanos(), 5);
        c.advance(Duration::from_secs(1));
        assert_eq!(c.now_nanos(), 1_000_000_005);
        c.set(7);
        assert_eq!(ClockSource::from(Arc::new(c)).now_nanos(), 7);
    }
}
