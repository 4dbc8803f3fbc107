//! Each recording takes `now` (the writer's clock reading) and `clock` (what a
//! fresh reading returns, if the series asks for one).

pub use crate::retention::Geometry;
pub use crate::storage::{CounterCore, GaugeCore, HistogramCore, SummaryCore};
use crate::sync::{AtomicU64, Ordering};
use crate::{Buckets, SketchMapping};

fn fresh(clock: &AtomicU64) -> impl FnOnce() -> u64 + '_ {
    || clock.load(Ordering::Relaxed)
}

/// A counter created at `now`.
pub fn counter(g: Geometry, now: u64) -> CounterCore {
    CounterCore::new(crate::family::Shared::detached(g), now)
}

/// A counter of `stripes` stripes created at `now`.
pub fn counter_striped(g: Geometry, now: u64, stripes: usize) -> CounterCore {
    CounterCore::new(crate::family::Shared::detached_striped(g, stripes), now)
}

/// Adds `n` at `now` to stripe `k` of a striped counter.
pub fn inc_on(c: &CounterCore, k: usize, n: u64, now: u64, clock: &AtomicU64) {
    c.inc_striped(n, now, k, fresh(clock));
}

/// Adds `n` at `now`.
pub fn inc(c: &CounterCore, n: u64, now: u64, clock: &AtomicU64) {
    c.inc_by(n, now, fresh(clock));
}

/// What a reader of the counter sees at `now`: `(head, [(epoch, base)], total)`.
pub fn counter_view(c: &CounterCore, now: u64) -> (u64, Vec<(u64, u64)>, u64) {
    c.loom_view(now)
}

/// The counter's increases over `epochs` at `now` (one per epoch), and the
/// total they were read against.
pub fn counter_increases(
    c: &CounterCore,
    now: u64,
    epochs: std::ops::Range<u64>,
) -> (Vec<u64>, u64) {
    let mut out = Vec::new();
    let total = c.increases(now, epochs, &mut out);
    (out, total)
}

/// A gauge created at `now`.
pub fn gauge(g: Geometry, now: u64) -> GaugeCore {
    GaugeCore::new(crate::family::Shared::detached(g), now)
}

/// Sets `v` at `now`.
pub fn set(c: &GaugeCore, v: f64, now: u64, clock: &AtomicU64) {
    c.set(v, now, fresh(clock));
}

/// What a reader of the gauge sees at `now`: `[(epoch, last, min, max)]`.
pub fn gauge_view(g: &GaugeCore, now: u64) -> Vec<(u64, f64, f64, f64)> {
    g.loom_view(now)
}

/// A histogram with `bounds` and one bin per bucket, created at `now`.
pub fn histogram(bounds: &[f64], g: Geometry, now: u64) -> HistogramCore {
    let b = Buckets::new(bounds.to_vec()).expect("valid bounds");
    HistogramCore::with_bins(
        b,
        g,
        now,
        bounds.len() + 1,
        crate::storage::stripes::Stripes::NONE,
    )
}

/// As [`histogram`], with `stripes` stripes.
pub fn histogram_striped(bounds: &[f64], g: Geometry, now: u64, stripes: usize) -> HistogramCore {
    let b = Buckets::new(bounds.to_vec()).expect("valid bounds");
    let s = crate::storage::stripes::Stripes::new(stripes, 1);
    HistogramCore::with_bins(b, g, now, bounds.len() + 1, s)
}

/// Observes `v` at `now` into stripe `k`.
pub fn observe_on(h: &HistogramCore, k: usize, v: f64, now: u64, clock: &AtomicU64) {
    h.observe_striped(v, now, k, fresh(clock));
}

/// Observes `v` at `now`.
pub fn observe(h: &HistogramCore, v: f64, now: u64, clock: &AtomicU64) {
    h.observe(v, now, fresh(clock));
}

/// What a reader of the histogram sees at `now`:
/// `(head, [(epoch, bucket bases)], bucket totals)`.
#[allow(clippy::type_complexity)]
pub fn histogram_view(h: &HistogramCore, now: u64) -> (u64, Vec<(u64, Vec<u64>)>, Vec<u64>) {
    h.loom_view(now)
}

/// A summary with a coarse sketch (10% error over [1, 1000]), created at `now`.
pub fn summary(g: Geometry, now: u64) -> SummaryCore {
    let m = SketchMapping::new(0.1, 1.0, 1000.0).expect("valid sketch");
    SummaryCore::new(m, g, now)
}

/// As [`summary`], with `k` bins per epoch.
pub fn summary_with_bins(g: Geometry, now: u64, k: usize) -> SummaryCore {
    let m = SketchMapping::new(0.1, 1.0, 1000.0).expect("valid sketch");
    SummaryCore::with_bins(m, g, now, k)
}

/// A ring's bins on their own: `k` per slot, for a series created in epoch 0.
pub struct LoomBins(crate::storage::bins::Bins);

/// Bins of a ring of `slots`, `k` per slot.
pub fn bins(slots: usize, k: usize) -> LoomBins {
    LoomBins(crate::storage::bins::Bins::new(
        &Geometry::new(10, slots),
        k,
        0,
    ))
}

/// Counts one observation of `key` in `slot` for lap `lap`.
pub fn bins_add(b: &LoomBins, slot: usize, lap: u64, key: usize) {
    b.0.add(slot, crate::storage::bins::lap_tag(lap), key);
}

/// The bins of `slot` holding lap `lap`: `[(lo, hi, count)]`, sorted.
pub fn bins_view(b: &LoomBins, slot: usize, lap: u64) -> Vec<(usize, usize, u64)> {
    let mut v = Vec::new();
    b.0.for_each(slot, lap, |x| v.push((x.lo, x.hi, x.count)));
    v.sort_unstable();
    v
}

/// Observes `v` at `now`.
pub fn observe_summary(s: &SummaryCore, v: f64, now: u64, clock: &AtomicU64) {
    s.observe(v, now, fresh(clock));
}

/// What a reader of the summary sees at `now`:
/// `(head, [(epoch, count base, sketch total)], count)`.
pub fn summary_view(s: &SummaryCore, now: u64) -> (u64, Vec<(u64, u64, u64)>, u64) {
    s.loom_view(now)
}

/// What a reader of the summary's windowed quantiles sees at `now`: per epoch
/// from the oldest retained one, `(epoch start, observations in the window,
/// the window's maximum (quantile 1))`.
pub fn summary_windows(
    s: &SummaryCore,
    now: u64,
    window: std::time::Duration,
) -> Vec<(u64, u64, f64)> {
    let mut out = Vec::new();
    s.for_each_window_quantiles(now, crate::TimeRange::ALL, window, &[1.0], |w| {
        out.push((w.start, w.count, w.quantiles[0]))
    });
    out
}

/// Native buckets at `schema` with a limit of `max_buckets` (zero threshold 0)
/// and ring shape `g`, created at `now`.
pub fn native(schema: i8, max_buckets: u32, g: Geometry, now: u64) -> crate::NativeCore {
    let cfg = crate::NativeConfig {
        schema,
        zero_threshold: 0.0,
        max_buckets,
    };
    crate::NativeCore::new(cfg, g, now)
}

/// [`native`] with `k` bins per epoch of history.
pub fn native_with_bins(
    schema: i8,
    max_buckets: u32,
    g: Geometry,
    now: u64,
    k: usize,
) -> crate::NativeCore {
    let cfg = crate::NativeConfig {
        schema,
        zero_threshold: 0.0,
        max_buckets,
    };
    crate::NativeCore::with_bins(cfg, g, now, k)
}

/// Records `v` at `now` into native buckets.
pub fn observe_native(n: &crate::NativeCore, v: f64, now: u64, clock: &AtomicU64) {
    n.observe(v, now, fresh(clock));
}

/// What a reader of native buckets sees.
pub fn native_view(n: &crate::NativeCore) -> crate::NativeSnapshot {
    n.loom_view()
}

/// What a reader of native history sees at `now`: per epoch with
/// observations, `(epoch, schema, [(bucket middle, count)])`.
pub fn native_epochs(n: &crate::NativeCore, now: u64) -> Vec<(u64, i8, Vec<(f64, u64)>)> {
    n.loom_epochs(now)
}

/// The head of native history, as a writer reads it before recording.
pub fn native_head(n: &crate::NativeCore) -> u64 {
    n.loom_head()
}

/// The time under a kernel-style sequence count: `seq` holds the count (low
/// half) and the clock mode (high half), `sec` and `nsec` the time (see
/// `seqcount`).
pub fn read_seqcount(seq: &AtomicU64, sec: &AtomicU64, nsec: &AtomicU64) -> Option<u64> {
    crate::seqcount::read(seq, sec, nsec)
}
