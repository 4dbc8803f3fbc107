//! Quantiles of a native histogram over a window sliding across its history:
//! [`NativeCore::for_each_window_quantiles`], the native counterpart of
//! [`SummaryCore::for_each_window_quantiles`](super::summary::SummaryCore::for_each_window_quantiles).
//!
//! It reads the epochs' bins exactly as [`NativeCore::quantile`] does (the rows'
//! run from the oldest retained epoch to the head, each epoch's bins by its lap),
//! once per epoch, and slides the window over that copy with the summaries'
//! Fenwick tree over the history keys (`4r + 1` keys, 8,193 at history schema 5:
//! 64 KiB of per-thread scratch), so its cost grows with the epochs listed and
//! the keys their bins cover, not with the window's length, and a warm reader
//! allocates nothing. No atomics of its own: it only loads what `quantile` loads.

use std::time::Duration;

use smallvec::SmallVec;

use super::bins::with_bins;
use super::native::NativeCore;
use super::summary::{fenwick_rank, fenwick_spread, window_len, SummaryWindow, INLINE_OBJECTIVES};
use super::window::{with_scratch, TimeRange};

impl NativeCore {
    /// Calls `f` for each epoch that `range` selects up to the current one (and
    /// not before the oldest retained one), oldest first, with the
    /// `objectives`' quantiles of the observations in the window that ends with
    /// the epoch: `(end of the epoch - window, end of the epoch]`, which touches
    /// the epoch and the `ceil(window / resolution) - 1` before it.
    ///
    /// Each quantile is its history bucket's geometric middle, so within
    /// [`native_quantile_error`](super::native::native_quantile_error) of the
    /// history schema (`min(schema, 5)`) of the observation at its nearest rank,
    /// while each epoch's observations fall in at most
    /// [`NATIVE_BINS`](super::native::NATIVE_BINS) history buckets (as for
    /// [`NativeCore::quantile`], which a window ending with the current epoch
    /// answers alike). The windows of the oldest epochs reach back only as far as
    /// the ring retains; epochs without observations in their window get NaN.
    /// `count` is the window's observations as counted by the bins (NaN
    /// observations are in no bucket). Nothing for a histogram without history.
    ///
    /// A warm reader allocates nothing (up to 16 objectives).
    pub fn for_each_window_quantiles(
        &self,
        now: u64,
        range: TimeRange,
        window: Duration,
        objectives: &[f64],
        mut f: impl FnMut(SummaryWindow<'_>),
    ) {
        let (g, rows, bins_store) = self.history();
        let g = *g;
        if g.is_lifetime() {
            return;
        }
        let n = window_len(&g, window);
        let now_e = g.epoch(now);
        let mut first = g.oldest_retained(now_e);
        let mut last = now_e;
        if let Some(s) = range.start {
            first = first.max(g.epoch(s));
        }
        if let Some(e) = range.end {
            last = last.min(g.epoch(e));
        }
        if first > last {
            return;
        }
        // The epochs any window reads, clipped as `NativeCore::quantile` clips
        // them: to the retained epochs and to the head it reads before the rows.
        let head = rows.head();
        let read_lo = first
            .saturating_sub(n - 1)
            .max(g.oldest_retained(now_e))
            .max(g.oldest_retained(head));
        let read_hi = last.min(head).min(now_e);
        let mut qs: SmallVec<[f64; INLINE_OBJECTIVES]> = SmallVec::new();
        qs.resize(objectives.len(), f64::NAN);
        let mut keys_of: SmallVec<[Option<usize>; INLINE_OBJECTIVES]> = SmallVec::new();
        keys_of.resize(objectives.len(), None);
        let keys = self.history_keys();
        with_bins(|bins| {
            with_scratch(|buf| {
                // `buf`: per epoch read, the epoch and where its bins end in
                // `bins`; then the Fenwick tree of the window's count per key.
                if read_lo <= read_hi {
                    rows.read_run(&g, read_lo, read_hi, |x, _| {
                        let (lap, slot) = g.lap_slot(x);
                        bins_store.for_each(slot, lap, |b| bins.push(b));
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
                        if k != *key {
                            *key = k;
                            *out = k.map_or(f64::NAN, |k| self.key_value(k));
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
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::super::native::{native_quantile_error, NativeConfig, NativeCore};
    use super::super::window::TimeRange;
    use crate::native_index::native_upper_bound;
    use crate::retention::Geometry;

    const W: u64 = 1_000;

    fn core(schema: i8, slots: usize) -> NativeCore {
        let cfg = NativeConfig {
            schema,
            zero_threshold: 0.0,
            max_buckets: 160,
        };
        NativeCore::new(cfg.validated().unwrap(), Geometry::new(W, slots), 0)
    }

    /// The nearest-rank `q`-quantile of `vals` (sorted).
    fn nearest_rank(vals: &[f64], q: f64) -> f64 {
        let rank = ((q * vals.len() as f64).ceil() as usize).clamp(1, vals.len());
        vals[rank - 1]
    }

    /// Whether `got` is within the native bound of `want` at `schema`.
    fn close(got: f64, want: f64, schema: i8) -> bool {
        if want == 0.0 {
            return got == 0.0;
        }
        let err = native_quantile_error(schema.min(5));
        (got - want).abs() <= want.abs() * err * (1.0 + 1e-12)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Per epoch, the objectives' quantiles over the trailing window are
        /// within the native bound of the exact quantiles of the observations
        /// recorded in the window's epochs, and `count` is their number.
        #[test]
        fn window_quantiles_match_the_observations(
            schema in -2i8..=8,
            // Per epoch: indexes of up to 16 distinct buckets (at the history
            // schema), each observed 1..4 times, with a sign.
            epochs in prop::collection::vec(
                prop::collection::vec((-40i32..40, 1usize..4, any::<bool>()), 0..6), 1..7),
            window in 1u64..5,
        ) {
            let slots = 8;
            let h = core(schema, slots);
            let hs = schema.min(5);
            let mut per_epoch: Vec<Vec<f64>> = Vec::new();
            for (e, obs) in epochs.iter().enumerate() {
                let now = e as u64 * W;
                let mut vals = Vec::new();
                let mut distinct = std::collections::BTreeSet::new();
                // Inside the history's clamped range (`1-r..=r`, module docs of
                // `native`): beyond it values are filed at the ends.
                let r: i32 = if hs >= 0 { 64 << hs } else { 64 >> -hs };
                for &(i, n, neg) in obs {
                    let i = i.clamp(1 - r, r);
                    if distinct.len() >= 16 && !distinct.contains(&(i, neg)) {
                        continue;
                    }
                    distinct.insert((i, neg));
                    // A value strictly inside bucket `i`: its upper bound.
                    let v = native_upper_bound(i, hs) * if neg { -1.0 } else { 1.0 };
                    for _ in 0..n {
                        h.observe(v, now, || now);
                        vals.push(v);
                    }
                }
                per_epoch.push(vals);
            }
            let last = epochs.len() as u64 - 1;
            let now = last * W + W / 2;
            let objectives = [0.0, 0.25, 0.5, 0.9, 0.99, 1.0];
            let mut seen = Vec::new();
            h.for_each_window_quantiles(
                now, TimeRange::ALL, Duration::from_nanos(window * W), &objectives, |w| {
                    seen.push((w.start, w.count, w.quantiles.to_vec()));
                });
            prop_assert_eq!(seen.len(), epochs.len().min(slots));
            for (start, count, qs) in seen {
                let x = start / W;
                let lo = (x + 1).saturating_sub(window) as usize;
                let mut vals: Vec<f64> =
                    per_epoch[lo..=x as usize].iter().flatten().copied().collect();
                vals.sort_by(f64::total_cmp);
                prop_assert_eq!(count, vals.len() as u64);
                for (&q, &got) in objectives.iter().zip(&qs) {
                    if vals.is_empty() {
                        prop_assert!(got.is_nan());
                    } else {
                        let want = nearest_rank(&vals, q);
                        prop_assert!(close(got, want, schema), "q {} got {} want {}", q, got, want);
                    }
                }
                // The last window agrees with `quantile` at `now`.
                if x == last {
                    for (&q, &got) in objectives.iter().zip(&qs) {
                        let one = h.quantile(q, now, Duration::from_nanos(window * W - W / 2));
                        prop_assert!(got.to_bits() == one.to_bits(), "q {} {} vs {}", q, got, one);
                    }
                }
            }
        }
    }

    #[test]
    fn window_quantiles_follow_the_range_and_the_ring() {
        let h = core(3, 4);
        // Epoch e holds one observation of 10^e.
        for e in 0..6u64 {
            h.observe(10f64.powi(e as i32), e * W, || e * W);
        }
        let now = 5 * W;
        let mut seen = Vec::new();
        let range = TimeRange {
            start: Some(3 * W),
            end: None,
        };
        h.for_each_window_quantiles(now, range, Duration::from_nanos(2 * W), &[1.0], |w| {
            seen.push((w.start / W, w.count, w.quantiles[0]));
        });
        assert_eq!(seen.len(), 3);
        for (x, count, q) in seen {
            assert_eq!(count, 2, "epoch {x}");
            assert!(close(q, 10f64.powi(x as i32), 3), "epoch {x}: {q}");
        }
        // Only the 4 retained epochs; the oldest window reaches back no further.
        let mut all = Vec::new();
        h.for_each_window_quantiles(
            now,
            TimeRange::ALL,
            Duration::from_nanos(3 * W),
            &[0.0],
            |w| all.push((w.start / W, w.count)),
        );
        assert_eq!(all, vec![(2, 1), (3, 2), (4, 3), (5, 3)]);
        // An empty window gives NaN; a lifetime histogram gives nothing.
        let e = core(0, 4);
        let mut n = 0;
        e.for_each_window_quantiles(0, TimeRange::ALL, Duration::ZERO, &[0.5], |w| {
            assert!(w.quantiles[0].is_nan());
            assert_eq!(w.count, 0);
            n += 1;
        });
        assert_eq!(n, 1);
        let cfg = NativeConfig::new(0).unwrap();
        let life = NativeCore::new(cfg, Geometry::lifetime(), 0);
        life.observe(1.0, 0, || 0);
        life.for_each_window_quantiles(0, TimeRange::ALL, Duration::ZERO, &[0.5], |_| {
            panic!("no history")
        });
    }
}
