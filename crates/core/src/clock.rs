//! Time sources.
//!
//! Every recording reads the clock once, so the default clock must be cheap:
//! [`CoarseClock`] reads `CLOCK_MONOTONIC_COARSE` (a vDSO read of the kernel's tick
//! counter, a few nanoseconds and no syscall) and anchors it to wall time once, at
//! construction. Its resolution is the kernel tick (1 to 4 ms), far finer than any
//! sensible retention resolution. [`ManualClock`] is moved by hand, for tests.
//!
//! Timestamps are nanoseconds since the Unix epoch, as `u64` (good until 2554).

use std::sync::{Arc, Once, OnceLock};
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

/// The default clock: a coarse monotonic clock anchored to wall time, read from a
/// process-wide word that a ticker thread refreshes every millisecond.
///
/// Reading it is one Relaxed load of a read-mostly cache line (about a nanosecond),
/// which is what lets a counter increment stay within twice a bare `fetch_add`.
/// The ticker starts with the first `CoarseClock::new()` (a registry using the
/// default clock calls it when built, never on the recording path), reads
/// `CLOCK_MONOTONIC_COARSE` through the vDSO and adds the offset to wall time
/// measured once per process. Until it runs, or if it cannot be started, reads fall
/// back to the vDSO directly (a few nanoseconds). Timestamps never go backwards
/// and lag real time by at most the tick plus the kernel's coarse resolution (a few
/// milliseconds), far below any sensible retention resolution. The ticker is not a
/// cleanup task: it only publishes the time.
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
    _private: (),
}

/// How often the ticker republishes the time.
pub const TICK_INTERVAL: Duration = Duration::from_millis(1);

/// The time the ticker last published (ns since the Unix epoch); 0 until it runs.
/// A std atomic on purpose: the clock is outside the protocols loom checks.
static TICK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Wall time minus monotonic time, measured once per process.
fn offset() -> u64 {
    static OFFSET: OnceLock<u64> = OnceLock::new();
    *OFFSET.get_or_init(|| {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        wall.saturating_sub(monotonic_coarse())
    })
}

fn start_ticker() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        let off = offset();
        let spawned = std::thread::Builder::new()
            .name("lakemetrics-clock".into())
            .spawn(move || loop {
                // Relaxed: a single word; readers need nothing published with it.
                TICK.store(
                    off.wrapping_add(monotonic_coarse()),
                    std::sync::atomic::Ordering::Relaxed,
                );
                std::thread::sleep(TICK_INTERVAL);
            });
        // If the thread cannot be spawned, TICK stays 0 and reads use the vDSO.
        drop(spawned);
    });
}

impl CoarseClock {
    /// The process' coarse clock; starts its ticker thread on first use.
    pub fn new() -> CoarseClock {
        start_ticker();
        CoarseClock { _private: () }
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
        // Relaxed: see `TICK`.
        let t = TICK.load(std::sync::atomic::Ordering::Relaxed);
        if t != 0 {
            t
        } else {
            direct_now()
        }
    }
}

#[cold]
fn direct_now() -> u64 {
    offset().wrapping_add(monotonic_coarse())
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
    fn ticker_advances() {
        let c = CoarseClock::new();
        let a = c.now_nanos();
        std::thread::sleep(Duration::from_millis(50));
        let b = c.now_nanos();
        assert!(b - a >= 30_000_000, "advanced only {} ns", b - a);
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
