//! Classic histograms: exact per-bucket counts and sum, and per epoch of the ring
//! the sum when it started (following [`super::ring`]) and the epoch's
//! observations in sparse bins of bucket indexes (see [`super::bins`]).
//!
//! An observation costs what it costs without history: the bucket's `fetch_add`
//! and the sum's CAS. The bins are written when an epoch closes, by the fill that
//! starts the next one: each bucket keeps one lap-tagged word `last` (the newest
//! epoch it was closed into, 16 bits, and its count then, 48 bits, as in the
//! rows); the fill moves every bucket's word to its epoch by CAS, and the writer
//! whose CAS replaced a word credits the bucket's increase since then to the
//! epoch that word named (the increase of an epoch is counted once, by the one
//! CAS that ends it). Epochs skipped while idle have no increase. Readers take a
//! closed epoch's buckets from its bins, and the open one's (the epoch `last`
//! names) as the counts minus `last`.

use std::time::Duration;

use smallvec::SmallVec;

use super::bins::{lap_tag, spread, Bins};
use super::native::NativeCore;
use super::ring::{f64_from_48, f64_to_48, pack, payload, tag, widen, Filled, Rows};
use super::state::{restored_epochs, Restored, SeriesState, StateData};
use super::stripes::{stripe_index, sum_word, Stripes};
use super::window::{f64_add, window_epochs, with_scratch, TimeRange};
use crate::buckets::Buckets;
use crate::retention::Geometry;
use crate::sync::{mutant, AtomicU64, Ordering};

/// Bins per epoch of a histogram: an epoch whose observations fall in at most
/// this many buckets keeps its per-bucket counts exactly; past that, neighbouring
/// buckets share a bin and the epoch's count is spread evenly over them (see
/// [`super::bins`]). Cumulative counts are always exact.
pub const HISTOGRAM_BINS: usize = 4;

/// A classic histogram's state: per-bucket counts and the sum, with per epoch
/// the sum when it started and the epoch's observations by bucket.
///
/// Memory: 16 bytes per bucket (`+Inf` included: its count, and its count when
/// the open epoch started) plus, per epoch, 8 bytes for the sum and 8 per bin
/// ([`HISTOGRAM_BINS`]). A histogram of a striped family (`Describe::striped`)
/// counts in its stripes instead (see [`super::stripes`]): after the counts, in
/// their allocation, one stripe per thread slot holding a count per bucket and
/// the sum, each a whole number of cache-line pairs (128 bytes on x86-64 per 16
/// words), plus up to one such line less a word to align them.
#[derive(Debug)]
pub struct HistogramCore {
    buckets: Buckets,
    /// Non-cumulative count per bucket, `+Inf` last.
    /// Then, per bucket, its open epoch (low 16 bits) and its count when that
    /// epoch started (low 48 bits): one allocation for both halves.
    /// Then, if striped, the stripes (`stripes.tail_words()` words): per
    /// stripe a count per bucket and the sum; the counts and `sum` stay 0.
    counts: Box<[AtomicU64]>,
    /// Stripes of the counts and sum (`Stripes::NONE`: unstriped).
    stripes: Stripes,
    sum: AtomicU64,
    /// Per slot: the sum (48-bit float) when the epoch started.
    rows: Rows<1>,
    /// Per slot: the closed epoch's observations in bins of bucket indexes.
    bins: Bins,
    geometry: Geometry,
    /// Native buckets, if configured (see [`super::native`]).
    native: Option<Box<NativeCore>>,
}

impl Drop for HistogramCore {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: the rows were made with `geometry`, which never changes, and
        // are not used again.
        unsafe { self.rows.free(&self.geometry, None) }
    }
}

/// Cumulative state of a histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Non-cumulative count per bucket, `+Inf` last.
    pub counts: SmallVec<[u64; 16]>,
    /// Sum of all observations.
    pub sum: f64,
}

impl HistogramSnapshot {
    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// One epoch of a histogram's history. `counts` is borrowed from the reader.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistogramPoint<'a> {
    /// Start of the epoch, ns since the Unix epoch.
    pub start: u64,
    /// Observations per bucket in the epoch (non-cumulative, `+Inf` last): exact
    /// while they fell in at most [`HISTOGRAM_BINS`] buckets; past that, the
    /// buckets that share a bin get its count spread evenly.
    pub counts: &'a [u64],
    /// Sum of the epoch's observations (to a relative error of 2^-37 of the
    /// cumulative sum; see `ring`).
    pub sum: f64,
}

impl HistogramPoint<'_> {
    /// Observations in the epoch.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// What a reader read: per retained epoch up to the head, oldest first, its
/// epoch and sum base.
type Epochs = SmallVec<[(u64, f64); 64]>;

impl HistogramCore {
    /// An empty histogram with `buckets`, created at `now`.
    #[cfg(test)]
    pub(crate) fn new(buckets: Buckets, geometry: Geometry, now: u64) -> HistogramCore {
        HistogramCore::with_bins(buckets, geometry, now, HISTOGRAM_BINS, Stripes::NONE)
    }

    /// An empty histogram with `stripes` (their count; widened here to the
    /// buckets and the sum), created at `now`.
    pub(crate) fn striped(
        buckets: Buckets,
        geometry: Geometry,
        now: u64,
        stripes: Stripes,
    ) -> HistogramCore {
        HistogramCore::with_bins(buckets, geometry, now, HISTOGRAM_BINS, stripes)
    }

    /// An empty histogram with `k` bins per epoch (the loom models use fewer, so
    /// that a reader's loads stay few enough to explore).
    pub(crate) fn with_bins(
        buckets: Buckets,
        geometry: Geometry,
        now: u64,
        k: usize,
        stripes: Stripes,
    ) -> HistogramCore {
        let n = buckets.bounds().len() + 1;
        let now_e = geometry.epoch(now);
        let stripes = stripes.with_cell_words(n + 1);
        HistogramCore {
            counts: (0..2 * n + stripes.tail_words())
                .map(|i| {
                    AtomicU64::new(if i < n || i >= 2 * n {
                        0
                    } else {
                        pack(now_e, 0)
                    })
                })
                .collect(),
            stripes,
            sum: AtomicU64::new(0f64.to_bits()),
            rows: Rows::new(&geometry, now_e, |_| f64_to_48(0.0), None),
            bins: Bins::new(&geometry, k, now_e).with_keys(n),
            buckets,
            geometry,
            native: None,
        }
    }

    /// This histogram with native buckets `native` beside the classic ones.
    pub(crate) fn with_native(mut self, native: Option<NativeCore>) -> HistogramCore {
        self.native = native.map(Box::new);
        self
    }

    /// The native buckets, if configured.
    #[inline]
    pub fn native(&self) -> Option<&NativeCore> {
        self.native.as_deref()
    }

    /// [`NativeCore::for_each_window_quantiles`] of the native buckets: per
    /// epoch `range` selects, the `objectives`' quantiles over the trailing
    /// `window`. Nothing for a histogram without native buckets or history.
    pub fn for_each_native_window_quantiles(
        &self,
        now: u64,
        range: TimeRange,
        window: Duration,
        objectives: &[f64],
        f: impl FnMut(super::summary::SummaryWindow<'_>),
    ) {
        if let Some(n) = self.native() {
            n.for_each_window_quantiles(now, range, window, objectives, f);
        }
    }

    /// Buckets, `+Inf` included.
    #[inline]
    fn n(&self) -> usize {
        self.buckets.bounds().len() + 1
    }

    /// Per bucket, its count (zeros if striped: see [`HistogramCore::count`]).
    #[inline]
    fn counts(&self) -> &[AtomicU64] {
        self.counts.get(..self.n()).unwrap_or(&[])
    }

    /// Per bucket, its open epoch and its count when that epoch started.
    #[inline]
    fn last(&self) -> &[AtomicU64] {
        self.counts.get(self.n()..2 * self.n()).unwrap_or(&[])
    }

    /// The stripes' words (none if unstriped).
    #[inline]
    fn tail(&self) -> &[AtomicU64] {
        self.counts.get(2 * self.n()..).unwrap_or(&[])
    }

    /// Bucket `j`'s count: of a striped histogram, its stripes added up.
    #[inline]
    fn count(&self, j: usize) -> u64 {
        if self.stripes.is_none() {
            // Relaxed: each bucket is its own exact counter.
            self.counts()
                .get(j)
                .map_or(0, |c| c.load(Ordering::Relaxed))
        } else if mutant("stripes.hist.first_only") {
            let first = self.stripes.stripe(self.tail(), 0);
            first.get(j).map_or(0, |c| c.load(Ordering::Relaxed))
        } else {
            sum_word(self.stripes, self.tail(), j)
        }
    }

    /// The cumulative sum: of a striped histogram, its stripes' sums added up.
    #[inline]
    fn sum_value(&self) -> f64 {
        if self.stripes.is_none() {
            return f64::from_bits(self.sum.load(Ordering::Relaxed));
        }
        let n = self.n();
        self.stripes.each(self.tail()).fold(0.0, |acc, st| {
            acc + st
                .get(n)
                .map_or(0.0, |w| f64::from_bits(w.load(Ordering::Relaxed)))
        })
    }

    /// How many stripes the histogram counts in (0: unstriped).
    pub fn stripes(&self) -> usize {
        self.stripes.count()
    }

    /// Records `v` at time `now`; `fresh` reads the clock again (called only when
    /// the ring is ahead of `now`).
    #[inline]
    pub(crate) fn observe(&self, v: f64, now: u64, fresh: impl FnOnce() -> u64) {
        if !self.stripes.is_none() {
            return self.observe_this_stripe(v, now, fresh);
        }
        if self.rows.current(&self.geometry, now).is_none() {
            self.start(now, fresh);
        }
        let b = self.buckets.index(v);
        // Relaxed: each bucket is its own exact counter; the epochs' bins are
        // written when they close (see the module docs).
        if let Some(c) = self.counts().get(b) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        f64_add(&self.sum, v);
    }

    /// Records `v` at time `now` into this thread's stripe; out of line, so
    /// that the unstriped path stays small enough to inline.
    #[inline(never)]
    fn observe_this_stripe(&self, v: f64, now: u64, fresh: impl FnOnce() -> u64) {
        self.observe_striped(v, now, stripe_index(), fresh);
    }

    /// Records `v` at time `now` into stripe `k` of a striped histogram (the
    /// loom models name the stripe; recordings take their thread's).
    #[inline]
    pub(crate) fn observe_striped(&self, v: f64, now: u64, k: usize, fresh: impl FnOnce() -> u64) {
        if self.rows.current(&self.geometry, now).is_none() {
            self.start(now, fresh);
        }
        let b = self.buckets.index(v);
        let st = self.stripes.stripe(self.tail(), k);
        // Relaxed: as unstriped, per stripe (see `stripes`).
        if let Some(c) = st.get(b) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(s) = st.get(self.n()) {
            f64_add(s, v);
        }
    }

    /// The sum's base word: the sum in 48 bits.
    #[inline]
    fn base(&self) -> u64 {
        f64_to_48(self.sum_value())
    }

    /// Closes every bucket's open epoch into its bins, then fills the ring up to
    /// the epoch of `now`.
    #[cold]
    #[inline(never)]
    fn start(&self, now: u64, fresh: impl FnOnce() -> u64) {
        let g = &self.geometry;
        let e = g.epoch(now);
        // The buckets close before the fill publishes the head: a writer that
        // finds the head at `e` and records without starting the epoch itself
        // then adds after every close read the count it credits to the old
        // epoch (the close's reads precede, in this thread, the head's Release;
        // the other writer's add depends on its read of the head), so its
        // observation lands in `e`. Closed after the fill, a close could count
        // into the old epoch an observation made in `e` by a writer that saw
        // the new head. A writer behind the head closes nothing (every bucket
        // is at its epoch or past it).
        let close_after = mutant("hist.close_after_fill");
        if !close_after {
            self.close(e);
        }
        let reset = |x: u64, lx: u64, ls: u64| self.bins.reset(g.slot(x), lx, ls);
        if self.rows.fill(g, e, |_| self.base(), reset) == Filled::Behind {
            // As for summaries: the bins of the epochs a rewind restarts are
            // emptied before the head moves back; every bucket's open epoch
            // restarts there too.
            let empty = |x: u64, lx: u64| self.bins.empty(g.slot(x), lx);
            if let Some(back) = self.rows.catch_up(g, fresh, |_| self.base(), empty) {
                for (j, w) in self.last().iter().enumerate() {
                    w.store(pack(back, self.count(j)), Ordering::Relaxed);
                }
            }
            return;
        }
        if close_after {
            self.close(e);
        }
    }

    /// Moves every bucket's open epoch to `e` (unless it is there or past it
    /// already), crediting the bucket's increase to the epoch it closes.
    fn close(&self, e: u64) {
        let g = &self.geometry;
        for (j, w) in self.last().iter().enumerate() {
            // Relaxed: the word carries its own epoch. The credit below may reach
            // the epoch's bins before the fill that opened the epoch reset them
            // (a fill resets, then opens): the bin word then takes the epoch's lap
            // first, and that reset leaves a word of its own lap alone. Readers
            // read bins before `last`, and the credit is a Release CAS made after
            // this one, so a reader that sees the credit sees the epoch closed.
            let mut cur = w.load(Ordering::Relaxed);
            loop {
                let open = epoch_of(tag(cur), e);
                if open >= e {
                    break;
                }
                let count = self.count(j);
                let new = pack(e, count);
                match w.compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => {
                        // This CAS ended epoch `open`: its increase is counted
                        // here and nowhere else; nowhere at all if the epoch has
                        // left the ring (its slot's 4-bit lap tag could then
                        // alias a newer lap's).
                        if e - open < g.len() as u64 {
                            let base = widen(count, payload(cur)).min(count);
                            let (lap, slot) = g.lap_slot(open);
                            self.bins.add_n(slot, lap_tag(lap), j, count - base, false);
                        }
                        break;
                    }
                    Err(now) => cur = now,
                }
            }
        }
    }

    /// The bucket layout.
    pub fn buckets(&self) -> &Buckets {
        &self.buckets
    }

    /// The ring's shape.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The newest epoch in which the histogram was created or recorded.
    pub fn last_epoch(&self) -> u64 {
        self.rows.head_hint()
    }

    /// Bytes this histogram occupies (inline and on the heap), fixed at creation.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + std::mem::size_of_val(&*self.counts)
            + Rows::<1>::bytes_for(&self.geometry)
            + self.bins.heap_bytes()
            + self.native.as_ref().map_or(0, |n| n.memory_bytes())
    }

    /// The heap allocations a histogram of this ring shape and bucket layout
    /// makes besides its inline state: the counts, the open epochs' bases, the
    /// rows and the bins (the layout itself is shared by the family).
    pub(crate) fn allocations_for(g: &Geometry, buckets: &Buckets, stripes: Stripes) -> [usize; 3] {
        let n = buckets.bounds().len() + 1;
        let tail = stripes.with_cell_words(n + 1).tail_words();
        [
            (2 * n + tail) * std::mem::size_of::<AtomicU64>(),
            Rows::<1>::bytes_for(g),
            Bins::bytes_for(g.len(), HISTOGRAM_BINS),
        ]
    }

    /// Cumulative counts and sum.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            counts: (0..self.n()).map(|j| self.count(j)).collect(),
            sum: self.sum_value(),
        }
    }

    /// Calls `f(counts, sum)` with the cumulative state without copying it out.
    pub fn with_cumulative<R>(&self, f: impl FnOnce(&mut dyn Iterator<Item = u64>, f64) -> R) -> R {
        let sum = self.sum_value();
        let mut it = (0..self.n()).map(|j| self.count(j));
        f(&mut it, sum)
    }

    /// Calls `f(epochs, counts, total_sum, head)`: the retained epochs in
    /// `[from, to]` up to the head, oldest first, with their sum bases; per
    /// epoch, `n` observation counts per bucket (row-major in `counts`); the
    /// cumulative sum they end at; the head read.
    fn with_counts<R>(
        &self,
        now: u64,
        from: u64,
        to: u64,
        f: impl FnOnce(&[(u64, f64)], &[u64], f64, u64) -> R,
    ) -> R {
        let g = &self.geometry;
        let n = self.counts().len();
        let now_e = g.epoch(now);
        let head = self.rows.head();
        let (first, last) = g.retained_run(now_e, head, from, to);
        let mut epochs = Epochs::new();
        // A slot holding a newer lap already is skipped.
        self.rows.read_run(g, first, last, |x, row| {
            epochs.push((x, f64_from_48(row[0])))
        });
        with_scratch(|counts| {
            counts.resize(epochs.len() * n, 0);
            // The closed epochs' bins first, then the open ones: a close moves
            // `last` before it credits the bins, so a reader that sees a credit
            // (Acquire, see `Bins::for_each`) then sees the epoch closed, and
            // never counts its observations twice.
            let closed = |counts: &mut [u64]| {
                for (k, &(x, _)) in epochs.iter().enumerate() {
                    let (lap, slot) = g.lap_slot(x);
                    let row = &mut counts[k * n..(k + 1) * n];
                    self.bins.for_each(slot, lap, |b| spread(b, row));
                }
            };
            let open = |counts: &mut [u64]| {
                let near = head.max(now_e);
                for (j, w) in self.last().iter().enumerate() {
                    // Relaxed: see above; the count after it is at least its base.
                    let w = w.load(Ordering::Relaxed);
                    let open = epoch_of(tag(w), near);
                    let count = self.count(j);
                    if let Ok(k) = epochs.binary_search_by_key(&open, |e| e.0) {
                        counts[k * n + j] += count - widen(count, payload(w)).min(count);
                    }
                }
            };
            if mutant("hist.read.open_first") {
                open(counts);
                closed(counts);
            } else {
                closed(counts);
                open(counts);
            }
            let total = self.sum_value();
            f(&epochs, counts, total, head)
        })
    }

    /// Calls `f` for each epoch in `range` with observations, oldest first.
    pub fn for_each_point(
        &self,
        now: u64,
        range: TimeRange,
        mut f: impl FnMut(HistogramPoint<'_>),
    ) {
        let g = self.geometry;
        if g.is_lifetime() {
            // No history (`Retention::NONE`): nothing to report.
            return;
        }
        let n = self.counts().len();
        let from = range.start.map_or(0, |s| g.epoch(s));
        let to = range.end.map_or(u64::MAX, |e| g.epoch(e));
        self.with_counts(
            now,
            from,
            to.saturating_add(1),
            |epochs, counts, total_sum, _| {
                for (k, &(x, s)) in epochs.iter().enumerate() {
                    let start = g.epoch_start(x);
                    let row = &counts[k * n..(k + 1) * n];
                    if range.overlaps(start, g.width_nanos()) && row.iter().any(|&c| c > 0) {
                        let next = epochs.get(k + 1).map_or(total_sum, |e| e.1);
                        f(HistogramPoint {
                            start,
                            counts: row,
                            sum: next - s,
                        });
                    }
                }
            },
        );
    }

    /// Per-bucket increase and sum increase over the epochs covering
    /// `(now - window, now]`.
    pub fn increase(&self, now: u64, window: Duration) -> HistogramSnapshot {
        let (first, last) = window_epochs(&self.geometry, now, window);
        let n = self.counts().len();
        let mut out = HistogramSnapshot {
            counts: smallvec::smallvec![0; n],
            sum: 0.0,
        };
        self.with_counts(now, first, last, |epochs, counts, total_sum, _| {
            for row in counts.chunks_exact(n.max(1)) {
                for (o, c) in out.counts.iter_mut().zip(row) {
                    *o += c;
                }
            }
            if let Some(&(_, s)) = epochs.first() {
                out.sum = total_sum - s;
            }
        });
        out
    }

    /// The `q`-quantile of the observations in the epochs covering
    /// `(now - window, now]`, interpolated linearly inside the bucket as Prometheus'
    /// `histogram_quantile` does; NaN when there were none.
    pub fn quantile(&self, q: f64, now: u64, window: Duration) -> f64 {
        let inc = self.increase(now, window);
        bucket_quantile(q, self.buckets.bounds(), &inc.counts)
    }

    /// What a reader sees at `now`: the head it read, every retained epoch's
    /// observations per bucket up to it, and the cumulative counts.
    #[cfg(loom)]
    #[allow(clippy::type_complexity)]
    pub(crate) fn loom_view(&self, now: u64) -> (u64, Vec<(u64, Vec<u64>)>, Vec<u64>) {
        let n = self.counts().len();
        let (head, rows) = self.with_counts(now, 0, u64::MAX, |epochs, counts, _, head| {
            let rows = epochs
                .iter()
                .zip(counts.chunks_exact(n))
                .map(|(&(x, _), c)| (x, c.to_vec()))
                .collect();
            (head, rows)
        });
        (head, rows, self.snapshot().counts.to_vec())
    }

    /// The saved state at `now` (history limited to retained epochs in which the
    /// histogram was observed, plus the newest). Checkpoints keep per epoch the
    /// bucket counts when it started: rebuilt here from the cumulative counts and
    /// the newer epochs' observations.
    pub(crate) fn capture(&self, now: u64) -> (Vec<u64>, StateData) {
        let n = self.counts().len();
        let mut out_epochs = Vec::new();
        let mut bases = Vec::new();
        let mut sum_bases = Vec::new();
        // No history (`Retention::NONE`): no epochs saved.
        let from = if self.geometry.is_lifetime() {
            u64::MAX
        } else {
            0
        };
        let snap = self.with_counts(now, from, u64::MAX, |epochs, counts, _, _| {
            let snap = self.snapshot();
            // Per epoch, newest first: the bases it started with.
            let mut run: SmallVec<[u64; 32]> = snap.counts.iter().copied().collect();
            let mut rows: Vec<(u64, Vec<u64>, f64, bool)> = Vec::with_capacity(epochs.len());
            for (k, &(x, s)) in epochs.iter().enumerate().rev() {
                let inc = &counts[k * n..(k + 1) * n];
                for (r, i) in run.iter_mut().zip(inc) {
                    *r = r.saturating_sub(*i);
                }
                rows.push((x, run.to_vec(), s, inc.iter().any(|&c| c > 0)));
            }
            rows.reverse();
            let newest = rows.len().saturating_sub(1);
            for (k, (x, b, s, changed)) in rows.into_iter().enumerate() {
                if changed || k == newest {
                    out_epochs.push(x);
                    bases.extend_from_slice(&b);
                    sum_bases.push(s);
                }
            }
            snap
        });
        let native = self.native().map(|n| Box::new(n.capture(now, &out_epochs)));
        (
            out_epochs,
            StateData::Histogram {
                counts: snap.counts.to_vec(),
                sum: snap.sum,
                bases,
                sum_bases,
                native,
            },
        )
    }

    /// Loads saved state (history too if `history`) into this fresh, unshared
    /// histogram; saved epochs after its creation epoch are dropped. Returns false,
    /// and changes nothing, if `state` is not a histogram's of this bucket layout
    /// or its columns disagree.
    pub(crate) fn restore(&self, state: &SeriesState, history: bool) -> bool {
        let StateData::Histogram {
            counts,
            sum,
            bases,
            sum_bases,
            native,
        } = &state.data
        else {
            return false;
        };
        let n = self.counts().len();
        let k = state.epochs.len();
        if counts.len() != n || bases.len() != k * n || sum_bases.len() != k {
            return false;
        }
        // Native buckets saved for a histogram that has none now (or none
        // saved: an older checkpoint) leave that part as it is.
        if let (Some(part), Some(saved)) = (self.native(), native) {
            if !part.restore(saved, &state.epochs, history) {
                return false;
            }
        }
        {
            let g = &self.geometry;
            let head = self.rows.head_hint();
            let mut inc = vec![0u64; n];
            for (x, from) in restored_epochs(g, head, &state.epochs, history) {
                let (lx, slot) = g.lap_slot(x);
                // The head epoch stays open: its observations are the counts
                // minus the bases it started with.
                if x == head {
                    for (j, w) in self.last().iter().enumerate() {
                        let base = match from {
                            Restored::Saved(i) => bases[i * n + j].min(counts[j]),
                            Restored::Cumulative => counts[j],
                            Restored::Zero => 0,
                        };
                        w.store(pack(head, base), Ordering::Relaxed);
                    }
                }
                match from {
                    Restored::Saved(i) => {
                        self.rows.put(g, x, [f64_to_48(sum_bases[i])]);
                        if state.epochs[i] == x && x != head {
                            // The epoch's observations: up to the next saved
                            // epoch's bases (nothing changed in between), or to the
                            // cumulative counts.
                            let next = bases.get((i + 1) * n..(i + 2) * n).unwrap_or(counts);
                            for (j, c) in inc.iter_mut().enumerate() {
                                *c = next[j].min(counts[j]).saturating_sub(bases[i * n + j]);
                            }
                            self.bins.put(slot, lx, &inc);
                        }
                    }
                    // Without history every retained epoch starts at the
                    // cumulative state.
                    Restored::Cumulative => self.rows.put(g, x, [f64_to_48(*sum)]),
                    Restored::Zero => self.rows.put(g, x, [f64_to_48(0.0)]),
                }
            }
        }
        // A striped histogram keeps the restored state in its first stripe.
        let (cells, sum_cell) = if self.stripes.is_none() {
            (self.counts(), Some(&self.sum))
        } else {
            let first = self.stripes.stripe(self.tail(), 0);
            (first.get(..n).unwrap_or(&[]), first.get(n))
        };
        for (dst, src) in cells.iter().zip(counts) {
            dst.store(*src, Ordering::Relaxed);
        }
        if let Some(s) = sum_cell {
            s.store(sum.to_bits(), Ordering::Relaxed);
        }
        true
    }
}

/// The epoch within 32,768 of `near` whose low 16 bits are `t` (the tag of a
/// bucket's `last` word).
#[inline]
fn epoch_of(t: u16, near: u64) -> u64 {
    let d = (t.wrapping_sub(near as u16)) as i16;
    near.wrapping_add_signed(i64::from(d))
}

/// Prometheus' `histogram_quantile` over non-cumulative bucket counts (`+Inf`
/// last). Any input is accepted: counts beyond `bounds.len() + 1` are taken as
/// `+Inf`; an empty histogram or a NaN `q` gives NaN.
pub fn bucket_quantile(q: f64, bounds: &[f64], counts: &[u64]) -> f64 {
    let total = counts.iter().fold(0u64, |a, &c| a.saturating_add(c));
    if total == 0 || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let top = bounds.last().copied().unwrap_or(f64::NAN);
    let rank = q * total as f64;
    let mut cum = 0u64;
    for (i, &c) in counts.iter().enumerate() {
        let before = cum;
        cum = cum.saturating_add(c);
        if cum as f64 >= rank && c > 0 {
            let Some(&hi) = bounds.get(i) else {
                // In +Inf: the highest finite bound, as Prometheus reports.
                return top;
            };
            let lo = match i.checked_sub(1).and_then(|p| bounds.get(p)) {
                Some(&lo) => lo,
                None if hi > 0.0 => 0.0,
                None => return hi,
            };
            return lo + (hi - lo) * ((rank - before as f64) / c as f64);
        }
    }
    top
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const W: u64 = 1_000;

    fn observe(h: &HistogramCore, v: f64, now: u64) {
        h.observe(v, now, || now);
    }

    #[test]
    fn histogram_points_and_quantiles() {
        let h = HistogramCore::new(
            Buckets::new(vec![1.0, 2.0]).unwrap(),
            Geometry::new(W, 4),
            0,
        );
        for v in [0.5, 1.5, 1.5, 3.0] {
            observe(&h, v, 0);
        }
        observe(&h, 0.1, W);
        let mut pts = Vec::new();
        h.for_each_point(W, TimeRange::ALL, |p| {
            pts.push((p.start, p.counts.to_vec(), p.sum))
        });
        assert_eq!(pts.len(), 2);
        assert_eq!((pts[0].0, &pts[0].1, pts[0].2), (0, &vec![1, 2, 1], 6.5));
        assert_eq!((pts[1].0, &pts[1].1), (W, &vec![1, 0, 0]));
        assert!((pts[1].2 - 0.1).abs() < 1e-9);
        assert_eq!(h.snapshot().count(), 5);
        // One observation in (0, 1]: PromQL interpolates to the middle.
        assert_eq!(h.quantile(0.5, W + 5, Duration::from_nanos(1)), 0.5);
        let q = h.quantile(0.5, W + 5, Duration::from_nanos(W));
        assert!(q > 1.0 && q <= 2.0, "{q}");
    }

    /// A striped histogram's state and history are what one unstriped
    /// histogram given the same observations keeps, whichever stripes they go
    /// to.
    #[test]
    fn striped_histograms_keep_the_same_history() {
        let b = Buckets::new(vec![1.0, 2.0, 4.0]).unwrap();
        for (len, stripes) in [(4, 2), (3, 4), (1, 2)] {
            let g = Geometry::new(W, len);
            let plain = HistogramCore::new(b.clone(), g, 0);
            let striped = HistogramCore::striped(b.clone(), g, 0, Stripes::new(stripes, 1));
            assert_eq!(striped.stripes(), stripes);
            let mut now = 0;
            for k in 0..40u64 {
                now += [0, W / 3, W, 2 * W][(k % 4) as usize];
                // Halves and quarters: sums are exact in any order.
                let v = (k % 11) as f64 * 0.5;
                observe(&plain, v, now);
                striped.observe_striped(v, now, (k * 7 % 5) as usize, || now);
            }
            assert_eq!(striped.snapshot(), plain.snapshot());
            let pts = |h: &HistogramCore| {
                let mut v = Vec::new();
                h.for_each_point(now, TimeRange::ALL, |p| {
                    v.push((p.start, p.counts.to_vec(), p.sum))
                });
                v
            };
            assert_eq!(pts(&striped), pts(&plain));
            for w in [0, 1, W, 3 * W] {
                let w = Duration::from_nanos(w);
                assert_eq!(striped.increase(now, w), plain.increase(now, w));
            }
            let (epochs, data) = striped.capture(now);
            let state = SeriesState {
                created: 0,
                epochs,
                data,
            };
            let back = HistogramCore::striped(b.clone(), g, now, Stripes::new(2, 1));
            assert!(back.restore(&state, true));
            assert_eq!(back.snapshot(), plain.snapshot());
            assert_eq!(pts(&back), pts(&plain));
            assert!(striped.memory_bytes() > plain.memory_bytes());
        }
    }

    #[test]
    fn bucket_quantile_matches_promql() {
        let bounds = [1.0, 2.0, 4.0];
        // 10 in (0,1], 10 in (1,2], 0 in (2,4], 0 in +Inf.
        assert_eq!(bucket_quantile(0.5, &bounds, &[10, 10, 0, 0]), 1.0);
        assert_eq!(bucket_quantile(0.75, &bounds, &[10, 10, 0, 0]), 1.5);
        assert_eq!(bucket_quantile(0.99, &bounds, &[0, 0, 0, 5]), 4.0);
        assert!(bucket_quantile(0.5, &bounds, &[0, 0, 0, 0]).is_nan());
        assert_eq!(
            bucket_quantile(-1.0, &bounds, &[1, 0, 0, 0]),
            f64::NEG_INFINITY
        );
        assert_eq!(bucket_quantile(2.0, &bounds, &[1, 0, 0, 0]), f64::INFINITY);
    }

    #[test]
    fn bucket_quantile_takes_any_input() {
        // The review's panic: more counts than bounds + 1.
        assert_eq!(bucket_quantile(0.5, &[1.0], &[0, 0, 5]), 1.0);
        assert!(bucket_quantile(0.5, &[], &[3]).is_nan());
        assert!(bucket_quantile(0.5, &[], &[]).is_nan());
        assert_eq!(bucket_quantile(1.0, &[1.0], &[u64::MAX, u64::MAX]), 1.0);
        assert_eq!(bucket_quantile(0.5, &[-1.0, 2.0], &[4, 0, 0]), -1.0);
    }
}
