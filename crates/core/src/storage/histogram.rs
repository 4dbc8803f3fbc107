//! Classic histograms: per-bucket counts and the sum, with one row of bases (one
//! per bucket and the sum) per epoch, following [`super::ring`].

use std::time::Duration;

use smallvec::SmallVec;

use super::ring::{f64_from_48, f64_to_48, suffix_min, widen, Filled, Rows};
use super::state::{restored_epochs, Restored, SeriesState, StateData};
use super::window::{f64_add, window_epochs, with_scratch, TimeRange};
use crate::buckets::Buckets;
use crate::retention::Geometry;
use crate::sync::{AtomicU64, Ordering};

/// A classic histogram's state: per-bucket counts and the sum, with one snapshot
/// of both per (wide) epoch.
///
/// Memory: 8 bytes per bucket (`+Inf` included) plus, per slot, 8 bytes per bucket
/// and 8 for the sum.
#[derive(Debug)]
pub struct HistogramCore {
    buckets: Buckets,
    /// Non-cumulative count per bucket, `+Inf` last.
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
    /// Per slot: one base per bucket, then the sum's (48-bit float).
    rows: Rows,
    geometry: Geometry,
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

/// One (wide) epoch of a histogram's history. `counts` is borrowed from the reader.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistogramPoint<'a> {
    /// Start of the epoch, ns since the Unix epoch.
    pub start: u64,
    /// Observations per bucket in the epoch (non-cumulative, `+Inf` last).
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

impl HistogramCore {
    /// An empty histogram with `buckets`, created at `now`.
    pub(crate) fn new(buckets: Buckets, geometry: Geometry, now: u64) -> HistogramCore {
        let n = buckets.bounds().len() + 1;
        HistogramCore {
            counts: (0..n).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
            rows: Rows::new(&geometry, n + 1, geometry.epoch(now), |j| {
                if j < n {
                    0
                } else {
                    f64_to_48(0.0)
                }
            }),
            buckets,
            geometry,
        }
    }

    /// Records `v` at time `now`; `fresh` reads the clock again (called only when
    /// the ring is ahead of `now`).
    #[inline]
    pub(crate) fn observe(&self, v: f64, now: u64, fresh: impl FnOnce() -> u64) {
        if self.rows.current(&self.geometry, now).is_none() {
            self.start(now, fresh);
        }
        let b = self.buckets.index(v);
        // Relaxed: each bucket is its own exact counter; bases are published
        // through the ring's head.
        if let Some(c) = self.counts.get(b) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        f64_add(&self.sum, v);
    }

    /// Base word `j` of a row: a bucket's count, or the sum in 48 bits.
    #[inline]
    fn base(&self, j: usize) -> u64 {
        match self.counts.get(j) {
            Some(c) => c.load(Ordering::Relaxed),
            None => f64_to_48(f64::from_bits(self.sum.load(Ordering::Relaxed))),
        }
    }

    #[cold]
    #[inline(never)]
    fn start(&self, now: u64, fresh: impl FnOnce() -> u64) {
        let g = &self.geometry;
        if self
            .rows
            .fill(g, g.epoch(now), |j| self.base(j), |_, _, _| {})
            == Filled::Behind
        {
            self.rows.catch_up(g, fresh, |j| self.base(j), |_, _| {});
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
        std::mem::size_of::<Self>() + std::mem::size_of_val(&*self.counts) + self.rows.heap_bytes()
    }

    /// The heap allocations a histogram of this ring shape and bucket layout
    /// makes besides its inline state: the counts and the rows (the layout
    /// itself is shared by the family).
    pub(crate) fn allocations_for(g: &Geometry, buckets: &Buckets) -> [usize; 2] {
        let n = buckets.bounds().len() + 1;
        [
            n * std::mem::size_of::<AtomicU64>(),
            Rows::bytes_for(g.len(), n + 1),
        ]
    }

    /// Cumulative counts and sum.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            counts: self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            sum: f64::from_bits(self.sum.load(Ordering::Relaxed)),
        }
    }

    /// Calls `f(counts, sum)` with the cumulative state without copying it out.
    pub fn with_cumulative<R>(&self, f: impl FnOnce(&mut dyn Iterator<Item = u64>, f64) -> R) -> R {
        let sum = f64::from_bits(self.sum.load(Ordering::Relaxed));
        let mut it = self.counts.iter().map(|c| c.load(Ordering::Relaxed));
        f(&mut it, sum)
    }

    /// Calls `f(rows, stride)` where `rows` holds, for every retained epoch from
    /// `from` up to the head (oldest first), `[epoch, base per bucket..., sum
    /// bits]`, bases made monotone per bucket, then a last row `[u64::MAX, count
    /// per bucket..., sum bits]` with the cumulative state; `stride` is the row
    /// length.
    fn with_rows<R>(&self, now: u64, from: u64, f: impl FnOnce(&[u64], usize, u64) -> R) -> R {
        let g = &self.geometry;
        let n = self.counts.len();
        let stride = n + 2;
        let now_e = g.epoch(now);
        let head = self.rows.head();
        let last = head.min(now_e);
        let first = from
            .max(g.oldest_retained(now_e))
            .max(g.oldest_retained(head));
        with_scratch(|buf| {
            for x in first..=last {
                let at = buf.len();
                buf.push(x);
                for j in 0..=n {
                    match self.rows.read(g, x, j) {
                        Some(b) => buf.push(b),
                        None => {
                            // Part of the row is a newer lap already: skip it.
                            buf.truncate(at);
                            break;
                        }
                    }
                }
            }
            let rows = buf.len() / stride;
            buf.push(u64::MAX);
            buf.extend(self.counts.iter().map(|c| c.load(Ordering::Relaxed)));
            buf.push(self.sum.load(Ordering::Relaxed));
            for r in 0..rows {
                for b in 1..=n {
                    let total = buf[rows * stride + b];
                    buf[r * stride + b] = widen(total, buf[r * stride + b]);
                }
                buf[r * stride + n + 1] = f64_from_48(buf[r * stride + n + 1]).to_bits();
            }
            for b in 1..=n {
                let total = buf[rows * stride + b];
                suffix_min(
                    buf[..rows * stride]
                        .chunks_exact_mut(stride)
                        .map(|r| &mut r[b]),
                    total,
                );
            }
            f(buf, stride, head)
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
        let n = self.counts.len();
        let from = range.start.map_or(0, |s| g.epoch(s));
        self.with_rows(now, from, |rows, stride, _| {
            let mut delta: SmallVec<[u64; 32]> = smallvec::smallvec![0; n];
            for pair in rows.windows(2 * stride).step_by(stride) {
                let (row, next) = pair.split_at(stride);
                let start = g.epoch_start(row[0]);
                for ((d, a), b) in delta.iter_mut().zip(&next[1..=n]).zip(&row[1..=n]) {
                    *d = a - b;
                }
                if delta.iter().any(|&d| d > 0) && range.overlaps(start, g.width_nanos()) {
                    f(HistogramPoint {
                        start,
                        counts: &delta,
                        sum: f64::from_bits(next[n + 1]) - f64::from_bits(row[n + 1]),
                    });
                }
            }
        });
    }

    /// Per-bucket increase and sum increase over the epochs covering
    /// `(now - window, now]`.
    pub fn increase(&self, now: u64, window: Duration) -> HistogramSnapshot {
        let (first, _) = window_epochs(&self.geometry, now, window);
        let n = self.counts.len();
        let mut out = HistogramSnapshot {
            counts: smallvec::smallvec![0; n],
            sum: 0.0,
        };
        self.with_rows(now, first, |rows, stride, _| {
            let last = &rows[rows.len() - stride..];
            if rows.len() > stride {
                let row = &rows[..stride];
                for ((o, t), b) in out.counts.iter_mut().zip(&last[1..=n]).zip(&row[1..=n]) {
                    *o = t - b;
                }
                out.sum = f64::from_bits(last[n + 1]) - f64::from_bits(row[n + 1]);
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
    /// bucket bases up to it (monotone), and the cumulative counts.
    #[cfg(loom)]
    #[allow(clippy::type_complexity)]
    pub(crate) fn loom_view(&self, now: u64) -> (u64, Vec<(u64, Vec<u64>)>, Vec<u64>) {
        let n = self.counts.len();
        self.with_rows(now, 0, |rows, stride, head| {
            let mut out: Vec<(u64, Vec<u64>)> = rows
                .chunks_exact(stride)
                .map(|r| (r[0], r[1..=n].to_vec()))
                .collect();
            let totals = out.pop().map(|r| r.1).unwrap_or_default();
            (head, out, totals)
        })
    }

    /// The saved state at `now` (history limited to retained epochs in which the
    /// histogram was observed, plus the newest).
    pub(crate) fn capture(&self, now: u64) -> (Vec<u64>, StateData) {
        let n = self.counts.len();
        let mut epochs = Vec::new();
        let mut bases = Vec::new();
        let mut sum_bases = Vec::new();
        // No history (`Retention::NONE`): no epochs saved (none read from MAX on).
        let from = if self.geometry.is_lifetime() {
            u64::MAX
        } else {
            0
        };
        self.with_rows(now, from, |rows, stride, _| {
            let all: Vec<&[u64]> = rows.chunks_exact(stride).collect();
            for k in 0..all.len().saturating_sub(1) {
                let (row, next) = (all[k], all[k + 1]);
                let changed = row[1..=n] != next[1..=n];
                if changed || k + 2 == all.len() {
                    epochs.push(row[0]);
                    bases.extend_from_slice(&row[1..=n]);
                    sum_bases.push(f64::from_bits(row[n + 1]));
                }
            }
        });
        let snap = self.snapshot();
        (
            epochs,
            StateData::Histogram {
                counts: snap.counts.to_vec(),
                sum: snap.sum,
                bases,
                sum_bases,
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
        } = &state.data
        else {
            return false;
        };
        let n = self.counts.len();
        let k = state.epochs.len();
        if counts.len() != n || bases.len() != k * n || sum_bases.len() != k {
            return false;
        }
        {
            // Without history every retained epoch starts at the cumulative state.
            let g = &self.geometry;
            let head = self.rows.head_hint();
            for (x, from) in restored_epochs(g, head, &state.epochs, history) {
                let row: SmallVec<[u64; 32]> = match from {
                    Restored::Saved(i) => bases[i * n..(i + 1) * n]
                        .iter()
                        .zip(counts)
                        .map(|(b, c)| *b.min(c))
                        .chain([f64_to_48(sum_bases[i])])
                        .collect(),
                    Restored::Cumulative => {
                        counts.iter().copied().chain([f64_to_48(*sum)]).collect()
                    }
                    Restored::Zero => (0..=n)
                        .map(|j| if j < n { 0 } else { f64_to_48(0.0) })
                        .collect(),
                };
                self.rows.put(g, x, row);
            }
        }
        for (dst, src) in self.counts.iter().zip(counts) {
            dst.store(*src, Ordering::Relaxed);
        }
        self.sum.store(sum.to_bits(), Ordering::Relaxed);
        true
    }
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
