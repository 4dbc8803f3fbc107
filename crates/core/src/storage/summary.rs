//! Summaries: exact count and sum, with the observations of every epoch in
//! sparse bins of the sketch's log buckets (see [`super::bins`]), giving quantiles
//! over a sliding window at the family's resolution.
//!
//! The count and sum bases follow [`super::ring`]; a fill resets the bins of the
//! slot it starts before it claims the bases, so an observation is never wiped by
//! a restart racing it, and never counted in two epochs.

use std::time::Duration;

use smallvec::SmallVec;

use super::bins::{lap_tag, rank_key, spread, with_bins, Bin, Bins};
use super::ring::{f64_from_48, f64_to_48, suffix_min, widen, Filled, Rows};
use super::state::{restored_epochs, Restored, SeriesState, StateData};
use super::window::{f64_add, window_epochs, with_scratch, TimeRange};
use crate::retention::Geometry;
use crate::sketch::{nearest_rank, SketchMapping};
use crate::sync::{AtomicU64, Ordering};

/// Bins per epoch of a summary: an epoch whose observations fall in at most this
/// many of the sketch's buckets keeps them exactly; past that, neighbouring
/// buckets share a bin (see [`super::bins`]). A summary without history
/// (`Retention::NONE`), whose one epoch is its whole life, has a bin for every
/// sketch bucket instead, so its quantiles always hold the sketch's error.
pub const SUMMARY_BINS: usize = 12;

/// Bins per epoch of a summary of this ring shape and sketch.
fn bins_for(g: &Geometry, mapping: &SketchMapping) -> usize {
    if g.is_lifetime() {
        mapping.len()
    } else {
        SUMMARY_BINS
    }
}

/// A summary's state: exact count and sum, and per epoch of its ring the count
/// and sum when it started and up to [`SUMMARY_BINS`] bins of the sketch's
/// buckets, giving quantiles over a sliding window.
///
/// Memory: 16 bytes of bases and 96 bytes of bins per epoch.
#[derive(Debug)]
pub struct SummaryCore {
    mapping: SketchMapping,
    count: AtomicU64,
    sum: AtomicU64,
    /// Per slot: the count and the sum (48-bit float) when the epoch started.
    rows: Rows<2>,
    /// Per slot: the epoch's observations in bins of sketch buckets.
    bins: Bins,
    geometry: Geometry,
}

impl Drop for SummaryCore {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: the rows were made with `geometry`, which never changes, and
        // are not used again.
        unsafe { self.rows.free(&self.geometry, None) }
    }
}

/// One epoch of a summary's history.
#[derive(Debug, Clone, Copy)]
pub struct SummaryPoint<'a> {
    /// Start of the epoch, ns since the Unix epoch.
    pub start: u64,
    /// Observations in the epoch.
    pub count: u64,
    /// Sum of the epoch's observations.
    pub sum: f64,
    core: &'a SummaryCore,
    epoch: u64,
}

impl SummaryPoint<'_> {
    /// The `q`-quantile of the epoch's observations (relative error per the
    /// mapping while the epoch's observations fall in at most [`SUMMARY_BINS`]
    /// sketch buckets).
    pub fn quantile(&self, q: f64) -> f64 {
        self.core.quantile_of(q, self.epoch..=self.epoch)
    }
}

/// The quantiles of a summary over the window ending with one epoch (see
/// [`SummaryCore::for_each_window_quantiles`]).
#[derive(Debug, Clone, Copy)]
pub struct SummaryWindow<'a> {
    /// Start of the epoch the window ends with, ns since the Unix epoch.
    pub start: u64,
    /// Observations in the window, as counted by its epochs' bins.
    pub count: u64,
    /// The objectives' quantiles over the window, in the order asked (NaN
    /// when the window holds no observation).
    pub quantiles: &'a [f64],
}

/// Most objectives [`SummaryCore::for_each_window_quantiles`] answers without
/// allocating.
pub(super) const INLINE_OBJECTIVES: usize = 16;

/// The epochs a windowed reader lists for `range` at `now`: from the oldest
/// retained to the current one, clipped to the range; `None` if none.
pub(super) fn listed_epochs(g: &Geometry, now: u64, range: TimeRange) -> Option<(u64, u64)> {
    let now_e = g.epoch(now);
    let mut first = g.oldest_retained(now_e);
    let mut last = now_e;
    if let Some(s) = range.start {
        first = first.max(g.epoch(s));
    }
    if let Some(e) = range.end {
        last = last.min(g.epoch(e));
    }
    (first <= last).then_some((first, last))
}

/// Epochs a window of `window` ending with an epoch covers: the epoch and the
/// ones before it that `(end of the epoch - window, end of the epoch]`
/// touches, `ceil(window / width)` in all, at least 1.
pub(super) fn window_len(g: &Geometry, window: Duration) -> u64 {
    let w = window.as_nanos().min(u64::MAX as u128) as u64;
    w.div_ceil(g.width_nanos().max(1)).max(1)
}

/// Adds (or, without `add`, takes away) `bin`'s observations to the Fenwick
/// tree `tree` (1-based over keys `0..tree.len() - 1`), placed evenly from
/// its lowest key to its highest exactly as `rank_key` places them (the
/// `r`-th of `c` at offset `round(r·span / (c - 1))`), so that a window of
/// one epoch ranks as [`SummaryPoint::quantile`] does, and taking a bin away
/// undoes adding it exactly. Costs one tree update per key of the bin.
pub(super) fn fenwick_spread(tree: &mut [u64], bin: Bin, add: bool) {
    let Some(last) = tree.len().checked_sub(2) else {
        return;
    };
    let (lo, hi) = (bin.lo.min(last), bin.hi.min(last).max(bin.lo.min(last)));
    let (c, span) = (u128::from(bin.count), (hi - lo) as u128);
    let l = (c.saturating_sub(1)).max(1);
    let h = l / 2;
    // Observations placed below offset `j`: the `r` with `r·span + h < j·l`.
    let below = |j: u128| -> u128 {
        if span == 0 {
            return if j == 0 { 0 } else { c };
        }
        let x = j * l;
        if x <= h {
            0
        } else {
            (x - h).div_ceil(span).min(c)
        }
    };
    let mut prev = 0u128;
    for (j, key) in (lo..=hi).enumerate() {
        let upto = below(j as u128 + 1);
        let n = (upto - prev) as u64;
        prev = upto;
        if n == 0 {
            continue;
        }
        let mut i = key + 1;
        while i < tree.len() {
            // Wrapping: a removal takes away what an addition put in, so every
            // node ends where it would have without either.
            tree[i] = if add {
                tree[i].wrapping_add(n)
            } else {
                tree[i].wrapping_sub(n)
            };
            i += i & i.wrapping_neg();
        }
    }
}

/// The key of the observation at nearest rank `q` among the `total` in the
/// Fenwick tree `tree` (the smallest key with more than `ceil(q·total) - 1`
/// observations at or below it, as [`SketchMapping::quantile`] ranks); `None`
/// when empty.
pub(super) fn fenwick_rank(tree: &[u64], q: f64, total: u64) -> Option<usize> {
    let mut rank = nearest_rank(q, total)?;
    let keys = tree.len().checked_sub(1)?;
    // Descend to the largest `pos` with at most `rank` observations in keys
    // `0..pos`: key `pos` holds the observation at the rank.
    let mut pos = 0usize;
    let mut step = keys.checked_next_power_of_two().unwrap_or(0);
    while step > 0 {
        if let Some(&c) = tree.get(pos + step) {
            if c <= rank {
                pos += step;
                rank -= c;
            }
        }
        step >>= 1;
    }
    Some(pos.min(keys - 1))
}

impl SummaryCore {
    /// An empty summary, created at `now`.
    pub(crate) fn new(mapping: SketchMapping, geometry: Geometry, now: u64) -> SummaryCore {
        let k = bins_for(&geometry, &mapping);
        SummaryCore::with_bins(mapping, geometry, now, k)
    }

    /// An empty summary with `k` bins per epoch (the loom models use few, to
    /// reach full slots with few observations).
    pub(crate) fn with_bins(
        mapping: SketchMapping,
        geometry: Geometry,
        now: u64,
        k: usize,
    ) -> SummaryCore {
        let now_e = geometry.epoch(now);
        SummaryCore {
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0f64.to_bits()),
            rows: Rows::new(
                &geometry,
                now_e,
                |j| {
                    if j == 0 {
                        0
                    } else {
                        f64_to_48(0.0)
                    }
                },
                None,
            ),
            bins: Bins::new(&geometry, k, now_e).with_keys(mapping.len()),
            mapping,
            geometry,
        }
    }

    /// Records `v` at time `now`; `fresh` reads the clock again (called only when
    /// the ring is ahead of `now`).
    #[inline]
    pub(crate) fn observe(&self, v: f64, now: u64, fresh: impl FnOnce() -> u64) {
        let g = &self.geometry;
        let e = match self.rows.current(g, now) {
            Some(head) => head,
            None => self.start(now, fresh),
        };
        // Relaxed: exact counters; the window's quantiles read the bins, the
        // exported count and sum these two.
        self.count.fetch_add(1, Ordering::Relaxed);
        f64_add(&self.sum, v);
        // NaN has no rank: counted and summed (as Prometheus does), not sketched.
        if !v.is_nan() {
            let (lap, slot) = g.lap_slot(e);
            self.bins.add(slot, lap_tag(lap), self.mapping.index(v));
        }
    }

    #[inline]
    fn base(&self, j: usize) -> u64 {
        if j == 0 {
            self.count.load(Ordering::Relaxed)
        } else {
            f64_to_48(f64::from_bits(self.sum.load(Ordering::Relaxed)))
        }
    }

    /// Fills the ring up to the epoch of `now` and returns the epoch the
    /// observation goes to.
    #[cold]
    #[inline(never)]
    fn start(&self, now: u64, fresh: impl FnOnce() -> u64) -> u64 {
        let g = &self.geometry;
        let e = g.epoch(now);
        let reset = |x: u64, lx: u64, ls: u64| self.bins.reset(g.slot(x), lx, ls);
        if self.rows.fill(g, e, |j| self.base(j), reset) == Filled::Behind {
            // A rewind empties the bins of the epochs it restarts, before it moves
            // the head back (a reader checks each word's lap, so a word it sees
            // between the two is only ever the old lap's or the new empty one).
            let empty = |x: u64, lx: u64| self.bins.empty(g.slot(x), lx);
            return match self.rows.catch_up(g, fresh, |j| self.base(j), empty) {
                Some(back) => back,
                None => self.rows.head_hint().max(e),
            };
        }
        e
    }

    /// Calls `f` with each bin of epoch `x` (none if its slot holds another).
    fn bins_of(&self, x: u64, f: impl FnMut(Bin)) {
        let (lap, slot) = self.geometry.lap_slot(x);
        self.bins.for_each(slot, lap, f);
    }

    /// Observations in epoch `x`'s bins.
    fn bins_total(&self, x: u64) -> u64 {
        let (lap, slot) = self.geometry.lap_slot(x);
        self.bins.total(slot, lap)
    }

    /// The `q`-quantile of the bins of the epochs in `epochs` (NaN when empty).
    fn quantile_of(&self, q: f64, epochs: impl IntoIterator<Item = u64>) -> f64 {
        with_bins(|bins| {
            for x in epochs {
                self.bins_of(x, |b| bins.push(b));
            }
            let total = bins.iter().map(|b| b.count).sum();
            match rank_key(bins, q, total) {
                Some(key) => self.mapping.value(key),
                None => f64::NAN,
            }
        })
    }

    /// Number of observations.
    #[inline]
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Sum of observations.
    #[inline]
    pub fn sum(&self) -> f64 {
        f64::from_bits(self.sum.load(Ordering::Relaxed))
    }

    /// The sketch's mapping.
    pub fn mapping(&self) -> &SketchMapping {
        &self.mapping
    }

    /// The ring's shape.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The newest epoch in which the summary was created or recorded.
    pub fn last_epoch(&self) -> u64 {
        self.rows.head_hint()
    }

    /// Bytes this summary occupies (inline and on the heap), fixed at creation.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + Rows::<2>::bytes_for(&self.geometry) + self.bins.heap_bytes()
    }

    /// The heap allocations a summary of this ring shape and sketch makes
    /// besides its inline state: the rows and the bins.
    pub(crate) fn allocations_for(g: &Geometry, mapping: &SketchMapping) -> [usize; 2] {
        [
            Rows::<2>::bytes_for(g),
            Bins::bytes_for(g.len(), bins_for(g, mapping)),
        ]
    }

    /// Retained epochs in `[first, last]` up to the head, oldest first, with their
    /// count and sum bases (counts made monotone), and the totals they end at.
    #[allow(clippy::type_complexity)]
    fn slots(
        &self,
        now: u64,
        first: u64,
        last: u64,
    ) -> (SmallVec<[(u64, u64, f64); 64]>, u64, f64, u64) {
        let g = &self.geometry;
        let now_e = g.epoch(now);
        let head = self.rows.head();
        let (first, last) = g.retained_run(now_e, head, first, last);
        let mut rows: SmallVec<[(u64, u64, f64); 64]> = SmallVec::new();
        self.rows.read_run(g, first, last, |x, [c, s]| {
            rows.push((x, c, f64_from_48(s)))
        });
        let (total, total_sum) = (self.count(), self.sum());
        for r in rows.iter_mut() {
            r.1 = widen(total, r.1);
        }
        suffix_min(rows.iter_mut().map(|r| &mut r.1), total);
        (rows, total, total_sum, head)
    }

    /// Calls `f` for each epoch in `range` with observations, oldest first.
    pub fn for_each_point(&self, now: u64, range: TimeRange, mut f: impl FnMut(SummaryPoint<'_>)) {
        let g = self.geometry;
        if g.is_lifetime() {
            // No history (`Retention::NONE`): nothing to report.
            return;
        }
        let (rows, total, total_sum, _) = self.slots(now, 0, u64::MAX);
        for (k, &(e, c, s)) in rows.iter().enumerate() {
            let (nc, ns) = rows.get(k + 1).map_or((total, total_sum), |r| (r.1, r.2));
            let start = g.epoch_start(e);
            if nc > c && range.overlaps(start, g.width_nanos()) {
                f(SummaryPoint {
                    start,
                    count: nc - c,
                    sum: ns - s,
                    core: self,
                    epoch: e,
                });
            }
        }
    }

    /// The `q`-quantile of the observations in the epochs covering
    /// `(now - window, now]`, within the mapping's relative error; NaN when none.
    pub fn quantile(&self, q: f64, now: u64, window: Duration) -> f64 {
        let (first, last) = window_epochs(&self.geometry, now, window);
        let (rows, _, _, _) = self.slots(now, first, last);
        self.quantile_of(q, rows.iter().map(|r| r.0))
    }

    /// Calls `f` for each epoch that `range` selects up to the current one
    /// (and not before the oldest retained one), oldest first, with the
    /// `objectives`' quantiles of the observations in the window that ends
    /// with the epoch: `(end of the epoch - window, end of the epoch]`, which
    /// touches the epoch and the `ceil(window / resolution) - 1` before it.
    /// Each quantile is within the mapping's relative error of the observation
    /// at its rank while every epoch's observations fall in at most
    /// [`SUMMARY_BINS`] sketch buckets; past that, a widened bin's
    /// observations are placed evenly from its lowest key to its highest, as
    /// [`SummaryPoint::quantile`] places them (a window of one epoch gives
    /// exactly its answer), so the answer stays within the bin that holds the
    /// observation at the rank. The windows of the oldest epochs reach back
    /// only as far as the ring retains; epochs without observations in their
    /// window get NaN.
    ///
    /// Each epoch's bins are read once. The window slides over that copy: a
    /// Fenwick tree over the sketch's keys gains the bins of the epoch that
    /// enters and loses those of the epoch that leaves, and answers each rank
    /// in `log2(keys)` steps, so the cost grows with the epochs listed and
    /// the keys their bins cover, not with the window's length. It lives in
    /// per-thread scratch buffers (8 bytes a sketch key: 20 KiB for the
    /// default sketch), so a warm reader allocates nothing (up to 16
    /// objectives). Nothing for a summary without history.
    pub fn for_each_window_quantiles(
        &self,
        now: u64,
        range: TimeRange,
        window: Duration,
        objectives: &[f64],
        mut f: impl FnMut(SummaryWindow<'_>),
    ) {
        let g = self.geometry;
        if g.is_lifetime() {
            return;
        }
        let n = window_len(&g, window);
        let now_e = g.epoch(now);
        let Some((first, last)) = listed_epochs(&g, now, range) else {
            return;
        };
        // The epochs whose bins any of the windows reads, clipped as `slots`
        // clips them: to the retained epochs and to the head read (Acquire)
        // before the rows.
        let head = self.rows.head();
        let read_lo = first
            .saturating_sub(n - 1)
            .max(g.oldest_retained(now_e))
            .max(g.oldest_retained(head));
        let read_hi = last.min(head);
        let mut qs: SmallVec<[f64; INLINE_OBJECTIVES]> = SmallVec::new();
        qs.resize(objectives.len(), f64::NAN);
        // The key each of `qs` is the value of (`None`: NaN).
        let mut keys_of: SmallVec<[Option<usize>; INLINE_OBJECTIVES]> = SmallVec::new();
        keys_of.resize(objectives.len(), None);
        let keys = self.mapping.len();
        with_bins(|bins| {
            with_scratch(|buf| {
                // `buf`: per epoch read, the epoch and where its bins end in
                // `bins` (they start where the previous epoch's end); then a
                // Fenwick tree of the window's count per sketch key.
                if read_lo <= read_hi {
                    self.rows.read_run(&g, read_lo, read_hi, |x, _| {
                        self.bins_of(x, |b| bins.push(b));
                        buf.push(x);
                        buf.push(bins.len() as u64);
                    });
                }
                let m = buf.len();
                buf.resize(m + keys + 1, 0);
                let (marks, tree) = buf.split_at_mut(m);
                let bins_of = |p: usize| {
                    let from = if p == 0 { 0 } else { marks[p - 1] as usize };
                    &bins[from..marks[p + 1] as usize]
                };
                // The window's epochs are the marks `lo..hi` (pairs); the tree
                // holds their bins, `total` their observations.
                let (mut lo, mut hi, mut total) = (0usize, 0usize, 0u64);
                for x in first..=last {
                    let from = (x + 1).saturating_sub(n);
                    while hi + 1 < marks.len() && marks[hi] <= x {
                        for &b in bins_of(hi) {
                            fenwick_spread(tree, b, true);
                            total += b.count;
                        }
                        hi += 2;
                    }
                    while lo < hi && marks[lo] < from {
                        for &b in bins_of(lo) {
                            fenwick_spread(tree, b, false);
                            total -= b.count;
                        }
                        lo += 2;
                    }
                    for ((out, key), &q) in qs.iter_mut().zip(&mut keys_of).zip(objectives) {
                        let k = fenwick_rank(tree, q, total);
                        // A key's value takes a bisection; neighbouring
                        // windows mostly rank the same key.
                        if k != *key {
                            *key = k;
                            *out = k.map_or(f64::NAN, |k| self.mapping.value(k));
                        }
                    }
                    f(SummaryWindow {
                        start: g.epoch_start(x),
                        count: total,
                        quantiles: &qs,
                    });
                }
            })
        });
    }

    /// Observations in the epochs covering `(now - window, now]`, as counted by
    /// the bins.
    pub fn window_count(&self, now: u64, window: Duration) -> u64 {
        let (first, last) = window_epochs(&self.geometry, now, window);
        let (rows, _, _, _) = self.slots(now, first, last);
        rows.iter().map(|r| self.bins_total(r.0)).sum()
    }

    /// What a reader sees at `now`: the head it read, and per retained epoch up
    /// to it the count base (monotone) and the bins' total; and the count.
    #[cfg(loom)]
    pub(crate) fn loom_view(&self, now: u64) -> (u64, Vec<(u64, u64, u64)>, u64) {
        let (rows, total, _, head) = self.slots(now, 0, u64::MAX);
        let v = rows
            .iter()
            .map(|r| (r.0, r.1, self.bins_total(r.0)))
            .collect();
        (head, v, total)
    }

    /// The saved state at `now` (history limited to retained epochs).
    pub(crate) fn capture(&self, now: u64) -> (Vec<u64>, StateData) {
        let k = self.mapping.len();
        let (mut rows, count, sum, _) = self.slots(now, 0, u64::MAX);
        if self.geometry.is_lifetime() {
            // No history (`Retention::NONE`): no epochs saved.
            rows.clear();
        }
        let mut sketches = Vec::with_capacity(rows.len() * k);
        let mut dense = vec![0u64; k];
        for r in &rows {
            // The checkpoint format keeps a dense sketch per epoch: bins are
            // spread over their buckets (exact while none was widened).
            dense.iter_mut().for_each(|c| *c = 0);
            self.bins_of(r.0, |b| spread(b, &mut dense));
            sketches.extend(dense.iter().map(|&c| c.min(u64::from(u32::MAX)) as u32));
        }
        (
            rows.iter().map(|r| r.0).collect(),
            StateData::Summary {
                count,
                sum,
                count_bases: rows.iter().map(|r| r.1).collect(),
                sum_bases: rows.iter().map(|r| r.2).collect(),
                sketches,
            },
        )
    }

    /// Loads saved state (history too if `history`) into this fresh, unshared
    /// summary; saved epochs after its creation epoch are dropped. Returns false,
    /// and changes nothing, if `state` is not a summary's of this sketch size or its
    /// columns disagree.
    pub(crate) fn restore(&self, state: &SeriesState, history: bool) -> bool {
        let StateData::Summary {
            count,
            sum,
            count_bases,
            sum_bases,
            sketches,
        } = &state.data
        else {
            return false;
        };
        let k = self.mapping.len();
        let n = state.epochs.len();
        if count_bases.len() != n || sum_bases.len() != n || sketches.len() != n * k {
            return false;
        }
        {
            // Without history every retained epoch starts at the cumulative state.
            let g = &self.geometry;
            let head = self.rows.head_hint();
            for (x, from) in restored_epochs(g, head, &state.epochs, history) {
                match from {
                    Restored::Saved(i) => {
                        self.rows
                            .put(g, x, [count_bases[i].min(*count), f64_to_48(sum_bases[i])]);
                        if state.epochs[i] == x {
                            let (lx, slot) = g.lap_slot(x);
                            let counts: Vec<u64> = sketches[i * k..(i + 1) * k]
                                .iter()
                                .map(|&c| u64::from(c))
                                .collect();
                            self.bins.put(slot, lx, &counts);
                        }
                    }
                    Restored::Cumulative => self.rows.put(g, x, [*count, f64_to_48(*sum)]),
                    Restored::Zero => self.rows.put(g, x, [0, f64_to_48(0.0)]),
                }
            }
        }
        self.count.store(*count, Ordering::Relaxed);
        self.sum.store(sum.to_bits(), Ordering::Relaxed);
        true
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const W: u64 = 1_000;

    #[test]
    fn summary_points_and_quantiles() {
        let s = SummaryCore::new(SketchMapping::default_mapping(), Geometry::new(W, 3), 0);
        for v in 1..=100 {
            s.observe(v as f64, 0, || 0);
        }
        s.observe(1000.0, W, || W);
        let mut pts = Vec::new();
        s.for_each_point(W, TimeRange::ALL, |p| {
            pts.push((p.start, p.count, p.quantile(1.0)))
        });
        assert_eq!(pts.len(), 2);
        assert_eq!((pts[0].0, pts[0].1), (0, 100));
        assert!((pts[0].2 - 100.0).abs() <= 1.0);
        assert_eq!((pts[1].0, pts[1].1), (W, 1));
        assert!((s.quantile(0.5, W + 5, Duration::from_nanos(1)) - 1000.0).abs() <= 10.0);
        assert_eq!(s.count(), 101);
        assert_eq!(s.window_count(W, Duration::from_nanos(W)), 101);
        // A lap later the old sketch no longer counts.
        s.observe(5.0, 4 * W, || 4 * W);
        assert_eq!(s.window_count(4 * W, Duration::from_nanos(3 * W)), 1);
    }

    /// The accuracy docs/architecture.md states for epochs with more sketch
    /// buckets than bins: values 1..=100 in one epoch, and 10,000 log-uniform
    /// values over 1 ms to 1 s in one epoch, against the exact nearest rank.
    #[test]
    fn quantiles_of_a_crowded_epoch() {
        let check = |vals: &mut Vec<f64>, bound: f64| {
            let s = SummaryCore::new(SketchMapping::default_mapping(), Geometry::new(W, 3), 0);
            for &v in vals.iter() {
                s.observe(v, 0, || 0);
            }
            vals.sort_by(f64::total_cmp);
            for q in [0.5, 0.9, 0.99] {
                let n = vals.len();
                let want = vals[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
                let got = s.quantile(q, 0, Duration::from_nanos(W));
                println!("q{q}: {got} vs {want}");
                assert!((got - want).abs() <= bound * want, "q{q}: {got} vs {want}");
            }
        };
        check(&mut (1..=100).map(f64::from).collect(), 0.025);
        let mut x = 0.001f64;
        let mut vals = Vec::new();
        for i in 0..10_000 {
            x = (x * 1.37 + (f64::from(i) * 0.618).fract()) % 1.0;
            vals.push(0.001 * 1000f64.powf(x));
        }
        check(&mut vals, 0.025);
    }

    /// The exact nearest-rank `q`-quantile of `vals` (sorted), as the sketch
    /// ranks.
    fn nearest_rank(vals: &[f64], q: f64) -> f64 {
        let n = vals.len();
        vals[((q * n as f64).ceil() as usize).clamp(1, n) - 1]
    }

    proptest::proptest! {
        /// Per epoch, the windowed quantiles equal the quantiles of every
        /// observation in the window's retained epochs, within the sketch's
        /// relative error (each epoch holds at most `SUMMARY_BINS` distinct
        /// values, so its bins are exact).
        #[test]
        fn window_quantiles_match_the_observations(
            slots in 2usize..8,
            epochs in proptest::collection::vec(
                proptest::collection::vec((-3.0f64..3.0, 1u32..4), 0..=SUMMARY_BINS),
                1..14,
            ),
            n in 1u64..10,
            short in 0u64..W,
        ) {
            let mapping = SketchMapping::default_mapping();
            let g = Geometry::new(W, slots);
            let s = SummaryCore::new(mapping, g, 0);
            let mut per_epoch: Vec<Vec<f64>> = Vec::new();
            for (e, vals) in epochs.iter().enumerate() {
                let t = e as u64 * W + W / 3;
                let mut seen = Vec::new();
                for &(exp, times) in vals {
                    let v = 10f64.powf(exp);
                    for _ in 0..times {
                        s.observe(v, t, || t);
                        seen.push(v);
                    }
                }
                per_epoch.push(seen);
            }
            let now_e = epochs.len() as u64 - 1;
            let now = now_e * W + W / 2;
            // A window `short` ns under n epochs still touches n of them.
            let window = Duration::from_nanos(n * W - short.min(W - 1));
            let objectives = [0.0, 0.25, 0.5, 0.9, 0.99, 1.0];
            let mut seen_epochs = Vec::new();
            s.for_each_window_quantiles(now, TimeRange::ALL, window, &objectives, |w| {
                let x = w.start / W;
                seen_epochs.push(x);
                let from = (x + 1).saturating_sub(n).max(g.oldest_retained(now_e));
                let mut vals: Vec<f64> = (from..=x)
                    .flat_map(|e| per_epoch[e as usize].iter().copied())
                    .collect();
                vals.sort_by(f64::total_cmp);
                assert_eq!(w.count, vals.len() as u64, "epoch {x}");
                for (&q, &got) in objectives.iter().zip(w.quantiles) {
                    if vals.is_empty() {
                        assert!(got.is_nan(), "epoch {x} q{q}: {got}");
                    } else {
                        let want = nearest_rank(&vals, q);
                        let bound = mapping.relative_error() * want * (1.0 + 1e-9);
                        assert!((got - want).abs() <= bound, "epoch {x} q{q}: {got} vs {want}");
                    }
                }
            });
            let want: Vec<u64> = (g.oldest_retained(now_e)..=now_e).collect();
            proptest::prop_assert_eq!(seen_epochs, want);
        }
    }

    #[test]
    fn window_quantiles_follow_the_range_and_the_ring() {
        let s = SummaryCore::new(SketchMapping::default_mapping(), Geometry::new(W, 4), 0);
        for (e, v) in [(0u64, 1.0), (1, 100.0), (3, 10.0)] {
            s.observe(v, e * W, || e * W);
        }
        let got = |now: u64, range: TimeRange, window: u64| {
            let mut out = Vec::new();
            s.for_each_window_quantiles(now, range, Duration::from_nanos(window), &[1.0], |w| {
                // The values are 1, 10 and 100: their exponents.
                out.push((w.start / W, w.count, w.quantiles[0].log10().round()))
            });
            out
        };
        // Epoch 2 has nothing of its own; its two-epoch window has epoch 1's.
        assert_eq!(
            format!("{:?}", got(3 * W, TimeRange::ALL, 2 * W)),
            "[(0, 1, 0.0), (1, 2, 2.0), (2, 1, 2.0), (3, 1, 1.0)]"
        );
        // Epochs past the last recording still see the window's earlier ones;
        // windows reach back only as far as the ring retains.
        assert_eq!(
            format!("{:?}", got(5 * W, TimeRange::ALL, 3 * W)),
            "[(2, 0, NaN), (3, 1, 1.0), (4, 1, 1.0), (5, 1, 1.0)]"
        );
        let range = TimeRange {
            start: Some(W + 1),
            end: Some(2 * W),
        };
        assert_eq!(
            format!("{:?}", got(3 * W, range, 10 * W)),
            "[(1, 2, 2.0), (2, 2, 2.0)]"
        );
        // A zero window is the epoch alone.
        assert_eq!(
            format!("{:?}", got(3 * W, TimeRange::ALL, 0)),
            "[(0, 1, 0.0), (1, 1, 2.0), (2, 0, NaN), (3, 1, 1.0)]"
        );
        // No history, no windows.
        let none = SummaryCore::new(SketchMapping::default_mapping(), Geometry::lifetime(), 0);
        none.observe(1.0, 0, || 0);
        let mut calls = 0;
        none.for_each_window_quantiles(0, TimeRange::ALL, Duration::from_secs(1), &[0.5], |_| {
            calls += 1
        });
        assert_eq!(calls, 0);
    }

    proptest::proptest! {
        /// The Fenwick tree ranks as a linear scan of the observations placed
        /// one by one where `rank_key` places them, after bins are added and
        /// some taken away again.
        #[test]
        fn fenwick_ranks_like_a_scan(
            keys in 1usize..300,
            bins in proptest::collection::vec((0usize..300, 0usize..40, 1u64..50, proptest::bool::ANY), 0..30),
            q in 0.0f64..=1.0,
        ) {
            let mut tree = vec![0u64; keys + 1];
            let mut dense = vec![0u64; keys];
            let mut total = 0;
            let all: Vec<(Bin, bool)> = bins
                .iter()
                .map(|&(lo, w, count, keep)| (Bin { lo, hi: lo + w, count }, keep))
                .collect();
            for &(b, _) in &all {
                fenwick_spread(&mut tree, b, true);
            }
            for &(b, keep) in &all {
                if keep {
                    // Each observation where `rank_key` places it.
                    let (lo, hi) = (b.lo.min(keys - 1), b.hi.min(keys - 1));
                    let last = (b.count - 1).max(1);
                    for r in 0..b.count {
                        let at = (r * (hi - lo) as u64 + last / 2) / last;
                        dense[lo + at as usize] += 1;
                    }
                    total += b.count;
                } else {
                    fenwick_spread(&mut tree, b, false);
                }
            }
            let mut seen = 0;
            let rank = ((q * total as f64).ceil() as u64).clamp(1, total.max(1)) - 1;
            let want = dense.iter().position(|&c| {
                seen += c;
                seen > rank
            });
            proptest::prop_assert_eq!(fenwick_rank(&tree, q, total), if total == 0 { None } else { want });
        }
    }

    /// Windows over crowded epochs (more distinct values than bins) keep the
    /// accuracy `quantiles_of_a_crowded_epoch` states: 10,000 log-uniform
    /// values over 1 ms to 1 s in each of 5 epochs, 5-epoch windows against
    /// the exact nearest rank, within 2.5%.
    #[test]
    fn window_quantiles_over_crowded_epochs() {
        let s = SummaryCore::new(SketchMapping::default_mapping(), Geometry::new(W, 8), 0);
        let mut x = 0.001f64;
        let mut vals = Vec::new();
        for e in 0..5u64 {
            for i in 0..2_000 {
                x = (x * 1.37 + (f64::from(i) * 0.618).fract()) % 1.0;
                let v = 0.001 * 1000f64.powf(x);
                s.observe(v, e * W, || e * W);
                vals.push(v);
            }
        }
        vals.sort_by(f64::total_cmp);
        let objectives = [0.5, 0.9, 0.99];
        // A window of one epoch answers exactly as the epoch's own quantiles.
        let mut per_epoch = Vec::new();
        s.for_each_point(4 * W, TimeRange::ALL, |p| {
            per_epoch.push(objectives.map(|q| p.quantile(q)).to_vec())
        });
        let mut windows = Vec::new();
        s.for_each_window_quantiles(4 * W, TimeRange::ALL, Duration::ZERO, &objectives, |w| {
            windows.push(w.quantiles.to_vec())
        });
        assert_eq!(windows.len(), 5);
        assert_eq!(windows, per_epoch);
        let mut last = Vec::new();
        s.for_each_window_quantiles(
            4 * W,
            TimeRange::ALL,
            Duration::from_nanos(5 * W),
            &objectives,
            |w| last = w.quantiles.to_vec(),
        );
        for (&q, got) in objectives.iter().zip(last) {
            let want = nearest_rank(&vals, q);
            println!("q{q}: {got} vs {want}");
            assert!((got - want).abs() <= 0.025 * want, "q{q}: {got} vs {want}");
        }
    }
}
