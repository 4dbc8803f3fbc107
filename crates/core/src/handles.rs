//! Handles: what users record through. Each is an `Arc` to its series (triomphe's:
//! one reference count, no weak count, as nothing holds a series weakly); recording
//! reads the clock once and touches only that series' atomics: no map, no lock, no
//! allocation, no panic.

use std::time::Duration;
use triomphe::Arc;

use crate::buckets::Buckets;
use crate::family::{Series, Shared};
use crate::storage::window::window_span;
use crate::storage::{CounterCore, GaugeCore, HistogramCore, HistogramSnapshot, Span, SummaryCore};

/// A monotonically increasing `u64`.
///
/// ```
/// use lakemetrics_core::Registry;
/// let c = Registry::new().counter("rows", &[("handler", "csv")]).unwrap();
/// c.inc();
/// c.inc_by(9);
/// assert_eq!(c.get(), 10);
/// ```
#[derive(Clone)]
pub struct Counter(pub(crate) Arc<Series<CounterCore>>);

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds `n`. Saturates at `u64::MAX` (584 years at a billion a second): a
    /// counter that reaches it stays there, so exporters never see it go down
    /// (but for an instant after the add that reached it: the add wraps, and
    /// the value is set back to `u64::MAX` by the same call).
    ///
    /// ```
    /// let c = lakemetrics_core::Registry::new().counter("c", &[]).unwrap();
    /// c.inc_by(u64::MAX - 1);
    /// c.inc_by(5);
    /// assert_eq!(c.get(), u64::MAX);
    /// ```
    #[inline]
    pub fn inc_by(&self, n: u64) {
        let s = &*self.0;
        s.core.inc_by(n, s.shared().clock.now_nanos(), || {
            s.shared().clock.now_nanos()
        });
    }

    /// The cumulative total.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.core.total()
    }

    /// The increase over the epochs covering the last `window` (bounded by
    /// retention; precise to the epoch).
    pub fn increase(&self, window: Duration) -> u64 {
        let s = &*self.0;
        s.core.increase(s.shared().clock.now_nanos(), window)
    }

    /// Per-second rate over the last `window`: [`Counter::increase`] divided by the
    /// time those epochs span up to now, time before the series was created
    /// included (it had no increase then). This is how PromQL's `rate()` treats
    /// a series that appears within the range (it divides by the range, not by
    /// the series' age), less its extrapolation: three increments in the first
    /// millisecond of a series give 3 / 60 s over 60 s, not 3 / 1 ms. Without
    /// history (`Retention::NONE`), the total divided by the series' age.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use lakemetrics_core::{ManualClock, Registry};
    /// // On an epoch boundary: 60 s over 10 s epochs spans exactly 60 s.
    /// let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    /// let reg = Registry::builder().clock(clock.clone()).build();
    /// let c = reg.counter("rows", &[]).unwrap();
    /// c.inc_by(3);
    /// clock.advance(Duration::from_millis(1));
    /// assert_eq!(c.rate(Duration::from_secs(60)), 3.0 / 60.001);
    /// ```
    pub fn rate(&self, window: Duration) -> f64 {
        let s = &*self.0;
        s.core.rate(s.shared().clock.now_nanos(), window, s.created)
    }

    /// The span that windowed answers over `window` cover now (see [`Span`]):
    /// whole epochs, from the one holding `now - window` (or the series'
    /// creation) to now.
    pub fn span(&self, window: Duration) -> Span {
        span_now(self.0.shared(), self.0.created, window)
    }

    /// Bytes the series' state occupies, fixed at creation.
    pub fn memory_bytes(&self) -> usize {
        self.0.core.memory_bytes()
    }

    /// Read access to the series' state and history.
    ///
    /// Recording at a time of the caller's choosing, or overwriting the state, is
    /// not public: a counter only moves forward, at the clock's time.
    ///
    /// ```compile_fail
    /// let c = lakemetrics_core::Registry::new().counter("c", &[]).unwrap();
    /// c.core().inc_by(1, 0, || 0);
    /// ```
    ///
    /// ```compile_fail
    /// use lakemetrics_core::ring::SlotTag;
    /// ```
    pub fn core(&self) -> &CounterCore {
        &self.0.core
    }
}

/// A point-in-time `f64`.
///
/// ```
/// use lakemetrics_core::Registry;
/// let g = Registry::new().gauge("queue_depth", &[("queue", "parquet")]).unwrap();
/// g.set(10.0);
/// g.add(5.0);
/// g.sub(3.0);
/// assert_eq!(g.get(), 12.0);
/// ```
#[derive(Clone)]
pub struct Gauge(pub(crate) Arc<Series<GaugeCore>>);

impl Gauge {
    /// Sets the value.
    #[inline]
    pub fn set(&self, v: f64) {
        let s = &*self.0;
        s.core.set(v, s.shared().clock.now_nanos(), || {
            s.shared().clock.now_nanos()
        });
    }

    /// Adds `d`.
    #[inline]
    pub fn add(&self, d: f64) {
        let s = &*self.0;
        s.core.add(d, s.shared().clock.now_nanos(), || {
            s.shared().clock.now_nanos()
        });
    }

    /// Subtracts `d`.
    #[inline]
    pub fn sub(&self, d: f64) {
        self.add(-d);
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.add(-1.0);
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> f64 {
        self.0.core.get()
    }

    /// The largest value set in the epochs covering the last `window`, or the
    /// current value if none was set then.
    pub fn max_over(&self, window: Duration) -> f64 {
        let s = &*self.0;
        s.core.max_over(s.shared().clock.now_nanos(), window)
    }

    /// The smallest value set in the epochs covering the last `window`, or the
    /// current value if none was set then.
    pub fn min_over(&self, window: Duration) -> f64 {
        let s = &*self.0;
        s.core.min_over(s.shared().clock.now_nanos(), window)
    }

    /// The span that windowed answers over `window` cover now (see [`Span`]):
    /// whole epochs, from the one holding `now - window` (or the series'
    /// creation) to now.
    pub fn span(&self, window: Duration) -> Span {
        span_now(self.0.shared(), self.0.created, window)
    }

    /// Bytes the series' state occupies, fixed at creation.
    pub fn memory_bytes(&self) -> usize {
        self.0.core.memory_bytes()
    }

    /// Read access to the series' state and history.
    pub fn core(&self) -> &GaugeCore {
        &self.0.core
    }
}

/// A distribution in classic buckets.
///
/// ```
/// use std::time::Duration;
/// use lakemetrics_core::Registry;
/// let h = Registry::new().histogram("batch_seconds", &[]).unwrap();
/// for v in [0.003, 0.02, 0.2, 0.7] {
///     h.observe(v);
/// }
/// assert_eq!(h.snapshot().count(), 4);
/// let p50 = h.quantile(0.5, Duration::from_secs(60));
/// assert!(p50 > 0.01 && p50 <= 0.025);
/// ```
#[derive(Clone)]
pub struct Histogram(pub(crate) Arc<Series<HistogramCore, std::sync::Arc<Shared>>>);

impl Histogram {
    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        let s = &*self.0;
        let now = s.shared().clock.now_nanos();
        s.core.observe(v, now, || s.shared().clock.now_nanos());
        if let Some(n) = s.core.native() {
            n.observe(v, now, || s.shared().clock.now_nanos());
        }
    }

    /// Records a duration in seconds.
    #[inline]
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// Cumulative counts and sum.
    pub fn snapshot(&self) -> HistogramSnapshot {
        self.0.core.snapshot()
    }

    /// The `q`-quantile over the last `window` from the native buckets' history,
    /// within `native_quantile_error(m)` relative error, `m` the coarsest
    /// history schema of the window's epochs (`min(schema, 5)`, lower for an
    /// epoch whose observations fell in more than `NATIVE_BINS` buckets at it,
    /// or after the buckets' schema was reduced; see `NativeCore::quantile`);
    /// `None` without native buckets, NaN when nothing was observed then.
    pub fn native_quantile(&self, q: f64, window: Duration) -> Option<f64> {
        let s = &*self.0;
        let n = s.core.native()?;
        Some(n.quantile(q, s.shared().clock.now_nanos(), window))
    }

    /// The native buckets with the count and sum, if the family has native
    /// buckets (see `Describe::native`).
    pub fn native_snapshot(&self) -> Option<crate::NativeSnapshot> {
        let core = &self.0.core;
        let n = core.native()?;
        let snap = core.snapshot();
        Some(n.snapshot(snap.count(), snap.sum))
    }

    /// The `q`-quantile over the last `window`, interpolated within buckets like
    /// Prometheus' `histogram_quantile`; NaN when nothing was observed then.
    pub fn quantile(&self, q: f64, window: Duration) -> f64 {
        let s = &*self.0;
        s.core.quantile(q, s.shared().clock.now_nanos(), window)
    }

    /// Per-bucket increase over the last `window`.
    pub fn increase(&self, window: Duration) -> HistogramSnapshot {
        let s = &*self.0;
        s.core.increase(s.shared().clock.now_nanos(), window)
    }

    /// The bucket layout.
    pub fn buckets(&self) -> &Buckets {
        self.0.core.buckets()
    }

    /// The span that windowed answers over `window` cover now (see [`Span`]):
    /// whole epochs, from the one holding `now - window` (or the series'
    /// creation) to now.
    pub fn span(&self, window: Duration) -> Span {
        span_now(self.0.shared(), self.0.created, window)
    }

    /// Bytes the series' state occupies, fixed at creation.
    pub fn memory_bytes(&self) -> usize {
        self.0.core.memory_bytes()
    }

    /// Read access to the series' state and history.
    pub fn core(&self) -> &HistogramCore {
        &self.0.core
    }
}

/// Quantiles over a sliding window at the family's resolution.
///
/// Each epoch keeps its observations in [`SUMMARY_BINS`](crate::SUMMARY_BINS)
/// bins of the sketch's log buckets: quantiles hold the sketch's relative error
/// (1% by default) while an epoch's observations fall in at most that many sketch
/// buckets (values within a factor of about 1.27 of each other at 1%); past that,
/// neighbouring buckets share a bin and the answer lies within the bin that holds
/// the observation at the asked rank. Count and sum are always exact.
///
/// ```
/// use std::time::Duration;
/// use lakemetrics_core::Registry;
/// let s = Registry::new().summary("record_bytes", &[]).unwrap();
/// for v in [20.0, 20.5, 21.0, 21.5] {
///     s.observe(v);
/// }
/// // Four sketch buckets: within 1%.
/// let p50 = s.quantile(0.5, Duration::from_secs(60));
/// assert!((p50 - 20.5).abs() <= 0.205);
/// // 100 distinct values in one epoch share 12 bins: within 2% here.
/// for v in 1..=100 {
///     s.observe(v as f64);
/// }
/// let p90 = s.quantile(0.9, Duration::from_secs(60));
/// assert!((p90 - 90.0).abs() <= 1.8, "{p90}");
/// assert_eq!(s.count(), 104);
/// ```
#[derive(Clone)]
pub struct Summary(pub(crate) Arc<Series<SummaryCore, std::sync::Arc<Shared>>>);

impl Summary {
    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        let s = &*self.0;
        s.core.observe(v, s.shared().clock.now_nanos(), || {
            s.shared().clock.now_nanos()
        });
    }

    /// Records a duration in seconds.
    #[inline]
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.0.core.count()
    }

    /// Sum of observations so far.
    pub fn sum(&self) -> f64 {
        self.0.core.sum()
    }

    /// The `q`-quantile over the last `window` (bounded by retention); NaN when
    /// nothing was observed then.
    pub fn quantile(&self, q: f64, window: Duration) -> f64 {
        let s = &*self.0;
        s.core.quantile(q, s.shared().clock.now_nanos(), window)
    }

    /// The span that windowed answers over `window` cover now (see [`Span`]):
    /// whole epochs, from the one holding `now - window` (or the series'
    /// creation) to now.
    pub fn span(&self, window: Duration) -> Span {
        span_now(self.0.shared(), self.0.created, window)
    }

    /// Bytes the series' state occupies, fixed at creation.
    pub fn memory_bytes(&self) -> usize {
        self.0.core.memory_bytes()
    }

    /// Read access to the series' state and history.
    pub fn core(&self) -> &SummaryCore {
        &self.0.core
    }
}

macro_rules! debug_handle {
    ($($t:ident),*) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t)).field("labels", &self.0.labels).finish_non_exhaustive()
            }
        }
    )*};
}
debug_handle!(Counter, Gauge, Histogram, Summary);

/// The span windowed answers over `window` cover now, for a series of the family
/// `shared` created at `created` (every handle's `span`).
fn span_now(shared: &Shared, created: u64, window: Duration) -> Span {
    window_span(&shared.geometry, shared.clock.now_nanos(), window, created)
}
