//! Quantiles of a native histogram over a window sliding across its history:
//! [`NativeCore::for_each_window_quantiles`], the native counterpart of
//! [`SummaryCore::for_each_window_quantiles`](super::summary::SummaryCore::for_each_window_quantiles).
//!
//! It reads each epoch once, through `NativeCore::for_each_epoch_bins` (as
//! [`NativeCore::quantile`] does: the epoch's schema and bins), and slides the
//! window with the summaries' Fenwick trees, one per history schema up to the
//! series' own (16,388 words, 128 KiB of per-thread scratch at schema 5): an
//! epoch entering or leaving the window updates the tree of its schema and of
//! every coarser one, and each window is ranked in the tree of the coarsest
//! schema among its epochs. Its cost grows with the epochs listed and their
//! bins, not with the window's length, and a warm reader allocates nothing.
//! No atomics of its own: it only loads what `quantile` loads.

use std::time::Duration;

use smallvec::SmallVec;

use super::bins::Bin;
use super::native::{key_offset, key_range, rekey, NativeCore};
use super::summary::{
    fenwick_rank, fenwick_spread, listed_epochs, window_len, SummaryWindow, INLINE_OBJECTIVES,
};
use super::window::{with_scratch, TimeRange};
use crate::native_index::MIN_SCHEMA;

impl NativeCore {
    /// Calls `f` for each epoch that `range` selects up to the current one (and
    /// not before the oldest retained one), oldest first, with the
    /// `objectives`' quantiles of the observations in the window that ends with
    /// the epoch: `(end of the epoch - window, end of the epoch]`, which touches
    /// the epoch and the `ceil(window / resolution) - 1` before it.
    ///
    /// Each quantile is its history bucket's geometric middle at the coarsest
    /// epoch schema `m` in the window, so within
    /// [`native_quantile_error`](super::native::native_quantile_error)`(m)` of
    /// the observation at its nearest rank, however many buckets an epoch's
    /// observations fall in (as [`NativeCore::quantile`], which a window ending
    /// with the current epoch answers alike). The windows of the oldest epochs reach back only as far as
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
        let (g, _) = self.history();
        let g = *g;
        if g.is_lifetime() {
            return;
        }
        let n = window_len(&g, window);
        let Some((first, last)) = listed_epochs(&g, now, range) else {
            return;
        };
        let mut qs: SmallVec<[f64; INLINE_OBJECTIVES]> = SmallVec::new();
        qs.resize(objectives.len(), f64::NAN);
        // Per objective, the (schema, key) its quantile was last taken from.
        let mut keys_of: SmallVec<[Option<(i8, usize)>; INLINE_OBJECTIVES]> = SmallVec::new();
        keys_of.resize(objectives.len(), None);
        let h_max = self.history_schema();
        let schemas = (h_max - MIN_SCHEMA + 1) as usize;
        with_scratch(|buf| {
            // `buf`: per epoch read (as `quantile` reads them, through
            // `for_each_epoch_bins`), the epoch, its schema + 4 and bin count,
            // and its bins (key << 32 | count: `for_each_epoch_bins` gives
            // counts that fit 32 bits); then one Fenwick tree per history
            // schema `t` up to `h_max`, over that schema's keys.
            self.for_each_epoch_bins(now, first.saturating_sub(n - 1), last, |x, h, bins| {
                buf.push(x);
                buf.push(((h - MIN_SCHEMA) as u64) << 32 | bins.len() as u64);
                for b in bins {
                    buf.push((b.lo as u64) << 32 | b.count);
                }
            });
            let m_end = buf.len();
            let tree_at = |t: i8| m_end + key_offset(t) + (t - MIN_SCHEMA) as usize;
            let tree_len = |t: i8| 4 * key_range(t).0 as usize + 2;
            buf.resize(tree_at(h_max) + tree_len(h_max), 0);
            // Epochs of each schema in the window: the window's quantiles are
            // taken at the coarsest of them, where every epoch's bins can go.
            let mut in_window: SmallVec<[u32; 10]> = SmallVec::new();
            in_window.resize(schemas, 0);
            let (mut lo, mut hi, mut total) = (0usize, 0usize, 0u64);
            // Adds (or takes away) the epoch record at `at` to every tree at
            // its schema or coarser; returns the next record's place.
            let apply = |buf: &mut Vec<u64>, at: usize, add: bool, in_window: &mut [u32]| {
                let h = (buf[at + 1] >> 32) as i8 + MIN_SCHEMA;
                let nb = (buf[at + 1] & u64::from(u32::MAX)) as usize;
                let mut moved = 0u64;
                for j in 0..nb {
                    let w = buf[at + 2 + j];
                    let (k, c) = ((w >> 32) as usize, w & u64::from(u32::MAX));
                    moved += c;
                    for t in MIN_SCHEMA..=h {
                        let (from, len) = (tree_at(t), tree_len(t));
                        let kt = rekey(k, h, t);
                        let bin = Bin {
                            lo: kt,
                            hi: kt,
                            count: c,
                        };
                        fenwick_spread(&mut buf[from..from + len], bin, add);
                    }
                }
                let slot = &mut in_window[(h - MIN_SCHEMA) as usize];
                *slot = if add {
                    *slot + 1
                } else {
                    slot.saturating_sub(1)
                };
                (at + 2 + nb, moved)
            };
            for x in first..=last {
                let from = (x + 1).saturating_sub(n);
                while hi < m_end && buf[hi] <= x {
                    let (next, c) = apply(buf, hi, true, &mut in_window);
                    total += c;
                    hi = next;
                }
                while lo < hi && buf[lo] < from {
                    let (next, c) = apply(buf, lo, false, &mut in_window);
                    total -= c;
                    lo = next;
                }
                let m = in_window
                    .iter()
                    .position(|&c| c > 0)
                    .map_or(h_max, |i| MIN_SCHEMA + i as i8);
                let tree = &buf[tree_at(m)..tree_at(m) + tree_len(m)];
                for ((out, key), &q) in qs.iter_mut().zip(&mut keys_of).zip(objectives) {
                    let k = fenwick_rank(tree, q, total).map(|k| (m, k));
                    if k != *key {
                        *key = k;
                        *out = k.map_or(f64::NAN, |(m, k)| self.key_value(k, m));
                    }
                }
                f(SummaryWindow {
                    start: g.epoch_start(x),
                    count: total,
                    quantiles: &qs,
                });
            }
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

    /// Epochs with more buckets than their bins keep are kept at a halved
    /// schema: a window is ranked at the coarsest schema among its epochs,
    /// and each quantile is within that schema's bound; a window of fine
    /// epochs only keeps their resolution. The last window equals `quantile`.
    #[test]
    fn crowded_epochs_are_ranked_at_their_coarser_schema() {
        let h = core(3, 8);
        let mut per_epoch: Vec<Vec<f64>> = Vec::new();
        for e in 0..4u64 {
            // Epochs 0 and 2: 60 distinct values over six powers of ten;
            // epochs 1 and 3: three values.
            let vals: Vec<f64> = if e % 2 == 0 {
                (0..60).map(|i| 1.25f64.powi(i) * 1e-3).collect()
            } else {
                vec![0.5, 0.75, 1.5]
            };
            for &v in &vals {
                h.observe(v, e * W, || e * W);
            }
            per_epoch.push(vals);
        }
        let now = 3 * W + W / 2;
        let mut schema_of = Vec::new();
        h.for_each_epoch_bins(now, 0, 3, |x, s, _| schema_of.push((x, s)));
        assert!(schema_of[0].1 < schema_of[1].1, "{schema_of:?}");
        let objectives = [0.1, 0.5, 0.9, 1.0];
        for window in [1u64, 2] {
            let mut seen = Vec::new();
            h.for_each_window_quantiles(
                now,
                TimeRange::ALL,
                Duration::from_nanos(window * W),
                &objectives,
                |w| seen.push((w.start / W, w.count, w.quantiles.to_vec())),
            );
            assert_eq!(seen.len(), 4);
            for (x, count, qs) in seen {
                let lo = (x + 1).saturating_sub(window);
                let m = schema_of
                    .iter()
                    .filter(|e| (lo..=x).contains(&e.0))
                    .map(|e| e.1)
                    .min()
                    .unwrap();
                let mut vals: Vec<f64> = per_epoch[lo as usize..=x as usize]
                    .iter()
                    .flatten()
                    .copied()
                    .collect();
                vals.sort_by(f64::total_cmp);
                assert_eq!(count, vals.len() as u64);
                for (&q, &got) in objectives.iter().zip(&qs) {
                    let want = nearest_rank(&vals, q);
                    assert!(close(got, want, m), "x {x} q {q}: {got} vs {want} at {m}");
                }
                if x == 3 {
                    for (&q, &got) in objectives.iter().zip(&qs) {
                        let one = h.quantile(q, now, Duration::from_nanos(window * W - W / 2));
                        assert_eq!(got.to_bits(), one.to_bits(), "q {q}");
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
