//! Time sources.
//!
//! Every recording reads the clock once, so the default clock must be cheap, and it
//! must not need anything running beside the program. [`CoarseClock`] reads
//! `CLOCK_MONOTONIC_COARSE` (the kernel's tick clock) on every call and adds the
//! offset to wall time measured once per process: no syscall, no thread. Its
//! resolution is the kernel tick (1 to 4 ms), far finer than any sensible retention
//! resolution, and it keeps time in a child made by `fork` (the child inherits the
//! offset, and `CLOCK_MONOTONIC` is system-wide).
//!
//! On Linux (x86-64, arm64) the read takes the time straight from the kernel's
//! time data page, the page the vDSO itself reads, under the kernel's
//! sequence-count protocol: 1.6 ns per `now_nanos` on the project's VM, against
//! 4.5 ns for libc's `clock_gettime` in the same run (`clock_now` in
//! `benches/benches/record.rs`). The page's layout is checked against libc's
//! answers once per process before it is trusted (see `vdso`); where it is not
//! recognised, or the process runs in a time namespace, the read calls the vDSO's
//! own `clock_gettime` (found once per process, not libc's wrapper): about 4.6 ns.
//! A program for which even that matters can start a ticker thread with
//! [`start_clock_ticker`]: while it runs, a read is one load of a word it
//! refreshes every millisecond (0.6 ns). Nothing in lakemetrics starts it; it
//! runs until its [`TickerHandle`] is stopped or dropped, and never in a forked
//! child. `docs/benchmarks.md` has the figures.
//!
//! [`ManualClock`] is moved by hand, for tests.
//!
//! Timestamps are nanoseconds since the Unix epoch, as `u64` (good until 2554).

use std::sync::atomic::{
    AtomicBool, AtomicU64 as StdAtomicU64, AtomicUsize, Ordering as StdOrdering,
};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::sync::{AtomicU64, Ordering};
use crate::{Error, Result};

/// A source of timestamps: nanoseconds since the Unix epoch.
///
/// Implementations must be cheap (they are read on every recording), must not go
/// backwards by more than the retention resolution, and must not panic.
pub trait Clock: Send + Sync + 'static {
    /// Now, in nanoseconds since the Unix epoch.
    fn now_nanos(&self) -> u64;
}

/// The default clock: `CLOCK_MONOTONIC_COARSE`, read on every call, plus the
/// offset to wall time measured once per process.
///
/// A read takes the time from the kernel's time data page (no syscall, about
/// 1.6 ns on the project's VM; through the vDSO's `clock_gettime`, about 4.6 ns,
/// where the page is not recognised; see the module docs). Timestamps never go
/// backwards and lag real time by at most the kernel's coarse resolution (1 to
/// 4 ms), far below any sensible retention resolution. On systems other than
/// Linux the clock is `Instant`-based instead (about 20 ns).
///
/// Nothing runs in the background: `CoarseClock::new()` only measures the offset
/// (once per process) and starts no thread. The clock keeps time in a child made
/// by `fork`: the child inherits the offset, and `CLOCK_MONOTONIC` is system-wide.
///
/// While a ticker started with [`start_clock_ticker`] runs in this process, a read
/// is instead one Relaxed load of the word that the ticker refreshes every
/// millisecond (under a nanosecond).
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

impl CoarseClock {
    /// The process' coarse clock. Measures the offset to wall time on first use in
    /// the process; starts nothing.
    pub fn new() -> CoarseClock {
        offset();
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
        // Relaxed: see `CLOCK.tick`.
        let t = CLOCK.tick.load(StdOrdering::Relaxed);
        if t != 0 {
            t
        } else {
            // Relaxed: `CLOCK.offset` was stored before this clock existed (`new`
            // calls `offset()`), and whatever handed the clock to this thread
            // ordered that store before this load; no `OnceLock` state check
            // on the recording path.
            CLOCK
                .offset
                .load(StdOrdering::Relaxed)
                .wrapping_add(monotonic_coarse())
        }
    }
}

/// The words a read of the default clock loads, together on one cache line
/// behind one address. In a position-independent executable a static of
/// another crate is reached through the GOT (a load of its address, then of
/// the static), so four statics cost four such address loads on every read
/// and one struct costs one: `clock_now/lakemetrics_coarse` 2.11 -> 1.58 ns,
/// typed increments 7.5 -> 7.2 ns on the project's VM (`docs/benchmarks.md`).
/// A running ticker's store takes the line from the readers' caches once a
/// millisecond, as it did when the word stood alone.
#[repr(C, align(64))]
pub(crate) struct ClockWords {
    /// The time the ticker last published (ns since the Unix epoch); 0
    /// while no ticker runs in this process, and then reads go to the kernel's clock.
    ///
    /// Relaxed everywhere: it is a single word and readers need nothing published with
    /// it. It is a std atomic on purpose: the clock is outside the protocols loom checks.
    ///
    /// Fork: the ticker thread does not exist in a child, so `after_fork_in_child`
    /// (registered with `pthread_atfork` before the first ticker starts) zeroes it in
    /// the child before `fork` returns there, and the child reads the kernel's clock. This costs
    /// readers nothing (they already test for 0), unlike comparing a pid or a fork
    /// generation stored beside the time on every read. It covers every `fork` made
    /// through libc. The child of `vfork` or `posix_spawn` runs no handler, rightly (it
    /// shares the parent's memory until it execs, and records nothing); a child made by
    /// a raw `clone` syscall runs none either, but such a child cannot use libc's
    /// threads or locks anyway.
    pub(crate) tick: StdAtomicU64,
    /// Wall time minus monotonic time, once `offset()` has run (every
    /// [`CoarseClock`] is made by `new`, which runs it).
    pub(crate) offset: StdAtomicU64,
    /// Where the kernel's time data page keeps the coarse clock's sequence
    /// count, or 0 (see `vdso`).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) page_seq: AtomicUsize,
    /// Where that page keeps `CLOCK_MONOTONIC_COARSE`'s time.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) page_coarse: AtomicUsize,
}

/// See [`ClockWords`].
pub(crate) static CLOCK: ClockWords = ClockWords {
    tick: StdAtomicU64::new(0),
    offset: StdAtomicU64::new(0),
    page_seq: AtomicUsize::new(0),
    page_coarse: AtomicUsize::new(0),
};

/// Wall time minus monotonic time, measured once per process (a forked child
/// inherits it, which is right: `CLOCK_MONOTONIC` is system-wide). Also finds
/// the kernel's time data page and the vDSO's `clock_gettime` first, so that the
/// measurement and every later read go the same way.
fn offset() -> u64 {
    static ONCE: OnceLock<u64> = OnceLock::new();
    *ONCE.get_or_init(|| {
        #[cfg(target_os = "linux")]
        crate::vdso::resolve();
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let off = wall.saturating_sub(monotonic_coarse());
        // Relaxed: see `CoarseClock::now_nanos`.
        CLOCK.offset.store(off, StdOrdering::Relaxed);
        off
    })
}

// ---------------------------------------------------------------------------------
// The opt-in ticker

/// How often the ticker republishes the time.
const TICK_INTERVAL: Duration = Duration::from_millis(1);

/// Whether a ticker runs in this process (set from start until its handle has
/// joined the thread and zeroed `CLOCK.tick`).
static TICKER_RUNNING: AtomicBool = AtomicBool::new(false);

/// Bumped in the child of every fork, so that a [`TickerHandle`] inherited from the
/// parent knows that its thread is not in this process.
static FORK_GENERATION: StdAtomicU64 = StdAtomicU64::new(0);

/// Starts a thread that publishes the coarse clock every millisecond, so that a
/// [`CoarseClock`] read is one load of a shared word instead of a read of the kernel's clock.
///
/// Opt-in: nothing in lakemetrics starts it. It is worth it only where the kernel's clock
/// read shows on the recording path; `docs/benchmarks.md` has the figures. The
/// thread (named `lakemetrics-clock`) wakes about a thousand times a second until
/// the returned handle is stopped or dropped; then reads go back to the kernel's clock.
///
/// One ticker runs per process: starting a second while one runs is an error (the
/// first keeps serving every clock). After `fork`, the child has no ticker (reads
/// there go to the kernel's clock) and may start its own; a handle inherited from the parent
/// does nothing there when stopped.
///
/// Timestamps never go backwards, with one exception: when the ticker starts, a
/// read of the kernel's clock an instant before its first word is published can be
/// newer than that word, by the time the thread took between reading the clock and
/// storing it (normally well under a millisecond). The ring protocol takes that in
/// its stride, as it does recorders on several threads reading slightly different
/// times.
///
/// Errors ([`Error::ClockTicker`]): a ticker already runs, the thread could not be
/// spawned, or the fork handler could not be registered.
///
/// ```
/// use lakemetrics_core::{start_clock_ticker, Registry};
/// let ticker = start_clock_ticker().unwrap();
/// let reg = Registry::new();
/// reg.counter("ops", &[]).unwrap().inc();
/// ticker.stop();
/// ```
pub fn start_clock_ticker() -> Result<TickerHandle> {
    watch_forks()?;
    // Acquire: pairs with the Release in `TickerHandle::shut_down`, so that this
    // ticker's stores to `CLOCK.tick` come after the previous ticker's last store and
    // its zeroing.
    if TICKER_RUNNING
        .compare_exchange(false, true, StdOrdering::Acquire, StdOrdering::Relaxed)
        .is_err()
    {
        return Err(Error::ClockTicker {
            reason: "a ticker already runs in this process".into(),
        });
    }
    let generation = FORK_GENERATION.load(StdOrdering::Relaxed);
    let stop = Arc::new(AtomicBool::new(false));
    let off = offset();
    let spawned = std::thread::Builder::new()
        .name("lakemetrics-clock".into())
        .spawn({
            let stop = stop.clone();
            move || {
                // Relaxed: `unpark` after setting `stop` wakes this thread, and
                // park/unpark order memory themselves; a late sight of the flag
                // costs one more tick at most.
                while !stop.load(StdOrdering::Relaxed) {
                    // Relaxed: see `CLOCK.tick`.
                    CLOCK
                        .tick
                        .store(off.wrapping_add(monotonic_coarse()), StdOrdering::Relaxed);
                    std::thread::park_timeout(TICK_INTERVAL);
                }
            }
        });
    match spawned {
        Ok(thread) => Ok(TickerHandle {
            thread: Some(thread),
            stop,
            generation,
        }),
        Err(e) => {
            // Release: no ticker ran, but the next start must still come after the
            // previous ticker's stop, which the Acquire above took in.
            TICKER_RUNNING.store(false, StdOrdering::Release);
            Err(Error::ClockTicker {
                reason: format!("cannot spawn its thread: {e}"),
            })
        }
    }
}

/// The running clock ticker; [`TickerHandle::stop`] or dropping it stops the thread
/// and waits for it to end.
#[derive(Debug)]
#[must_use = "dropping the handle stops the ticker"]
pub struct TickerHandle {
    thread: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    /// `FORK_GENERATION` when the ticker started.
    generation: u64,
}

impl TickerHandle {
    /// Stops the ticker and joins its thread; clock reads go back to the kernel's clock.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        if FORK_GENERATION.load(StdOrdering::Relaxed) != self.generation {
            // A handle inherited through fork: the thread is not in this process,
            // and libc has reclaimed what its pthread handle points to, so joining
            // or detaching it (which dropping a `JoinHandle` does) would be
            // undefined. `CLOCK.tick` and `TICKER_RUNNING` were reset by the fork
            // handler and may belong to a ticker of this process now.
            std::mem::forget(thread);
            return;
        }
        self.stop.store(true, StdOrdering::Relaxed);
        thread.thread().unpark();
        // The loop cannot panic; if it somehow did, the ticker is stopped anyway.
        let _ = thread.join();
        // After the join: the thread's last store comes before this one.
        CLOCK.tick.store(0, StdOrdering::Relaxed);
        // Release: pairs with the Acquire in `start_clock_ticker` (see there).
        TICKER_RUNNING.store(false, StdOrdering::Release);
    }
}

impl Drop for TickerHandle {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Registers `after_fork_in_child` once per process.
#[cfg(unix)]
#[allow(unsafe_code)]
fn watch_forks() -> Result<()> {
    static REGISTERED: OnceLock<libc::c_int> = OnceLock::new();
    let rc = *REGISTERED.get_or_init(|| {
        // SAFETY: the handler is a plain `extern "C" fn()` living as long as the
        // process; it only stores to atomics, which is allowed in a child of a
        // multithreaded process (async-signal-safe).
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) }
    });
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::ClockTicker {
            reason: format!("pthread_atfork failed with error {rc}"),
        })
    }
}

/// Without fork there is nothing to watch.
#[cfg(not(unix))]
fn watch_forks() -> Result<()> {
    Ok(())
}

/// Runs in the child of every fork, before `fork` returns there: the ticker thread
/// was not copied, so clock reads go to the kernel's clock and no ticker runs.
#[cfg(unix)]
extern "C" fn after_fork_in_child() {
    // Relaxed: the child has a single thread.
    FORK_GENERATION.fetch_add(1, StdOrdering::Relaxed);
    CLOCK.tick.store(0, StdOrdering::Relaxed);
    TICKER_RUNNING.store(false, StdOrdering::Relaxed);
}

#[cfg(target_os = "linux")]
#[inline]
fn monotonic_coarse() -> u64 {
    match crate::vdso::monotonic_coarse() {
        Some(t) => t,
        None => monotonic_coarse_call(),
    }
}

/// `monotonic_coarse` through the vDSO's `clock_gettime`: where the time data
/// page was not recognised, or in a time namespace. Out of line, so that the
/// page read inlines small.
#[cfg(target_os = "linux")]
#[inline(never)]
fn monotonic_coarse_call() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // CLOCK_MONOTONIC_COARSE is always available on Linux >= 2.6.32 and the call
    // cannot fail with these arguments. Straight into the vDSO when it was found
    // (see `vdso`: a third of the read was libc's wrapper).
    crate::vdso::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts);
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

#[cfg(not(target_os = "linux"))]
#[inline]
fn monotonic_coarse() -> u64 {
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
    fn coarse_clock_advances() {
        let c = CoarseClock::new();
        let a = c.now_nanos();
        std::thread::sleep(Duration::from_millis(50));
        let b = c.now_nanos();
        assert!(b - a >= 30_000_000, "advanced only {} ns", b - a);
    }

    // The only test of this binary that starts the ticker (there is one per process).
    #[test]
    fn ticker_publishes_until_stopped() {
        let c = CoarseClock::new();
        let ticker = start_clock_ticker().unwrap();
        assert!(matches!(
            start_clock_ticker(),
            Err(Error::ClockTicker { .. })
        ));
        std::thread::sleep(Duration::from_millis(20));
        let a = CLOCK.tick.load(StdOrdering::Relaxed);
        assert_ne!(a, 0);
        std::thread::sleep(Duration::from_millis(50));
        let b = c.now_nanos();
        assert!(b - a >= 30_000_000, "advanced only {} ns", b - a);
        ticker.stop();
        assert_eq!(CLOCK.tick.load(StdOrdering::Relaxed), 0);
        assert!(c.now_nanos() >= b);
        // Stopped, it can start again.
        start_clock_ticker().unwrap().stop();
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
