//! Classic histogram bucket layouts.

use std::sync::Arc;

use crate::{Error, Result};

/// Upper bounds of a classic histogram's buckets, strictly increasing and finite;
/// the `+Inf` bucket is implied.
///
/// ```
/// use lakemetrics_core::Buckets;
/// assert_eq!(Buckets::default().bounds().len(), 11);
/// let b = Buckets::exponential(0.001, 2.0, 4).unwrap();
/// assert_eq!(b.bounds(), &[0.001, 0.002, 0.004, 0.008]);
/// let b = Buckets::linear(10.0, 5.0, 3).unwrap();
/// assert_eq!(b.bounds(), &[10.0, 15.0, 20.0]);
/// assert!(Buckets::new(vec![1.0, 1.0]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets(Arc<[f64]>);

/// Most buckets a histogram may have (besides `+Inf`).
pub const MAX_BUCKETS: usize = 256;

/// Prometheus' default buckets, meant for request durations in seconds.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Buckets {
    /// User-given upper bounds. A trailing `+Inf` is dropped (it is always implied).
    ///
    /// Errors if the bounds are empty, not strictly increasing, not finite (but for
    /// that trailing `+Inf`), or more than [`MAX_BUCKETS`].
    pub fn new(bounds: impl Into<Vec<f64>>) -> Result<Buckets> {
        let mut bounds = bounds.into();
        if bounds.last() == Some(&f64::INFINITY) {
            bounds.pop();
        }
        let bad = |reason: String| Error::InvalidConfig {
            what: "buckets",
            reason,
        };
        if bounds.is_empty() {
            return Err(bad("no finite upper bound given".into()));
        }
        if bounds.len() > MAX_BUCKETS {
            return Err(bad(format!(
                "{} bounds; the limit is {MAX_BUCKETS}",
                bounds.len()
            )));
        }
        if let Some(b) = bounds.iter().find(|b| !b.is_finite()) {
            return Err(bad(format!("bound {b} is not finite")));
        }
        if let Some(w) = bounds.windows(2).find(|w| w[0] >= w[1]) {
            return Err(bad(format!(
                "bounds must increase strictly; {} is followed by {}",
                w[0], w[1]
            )));
        }
        Ok(Buckets(bounds.into()))
    }

    /// No finite bound: only `+Inf` (a histogram with native buckets only).
    pub(crate) fn none() -> Buckets {
        Buckets(Arc::from([]))
    }

    /// `count` bounds starting at `start`, each `factor` times the one before.
    pub fn exponential(start: f64, factor: f64, count: usize) -> Result<Buckets> {
        if !(start > 0.0) || !(factor > 1.0) || count == 0 {
            return Err(Error::InvalidConfig {
                what: "buckets",
                reason: format!(
                    "exponential buckets need start > 0, factor > 1 and count > 0 \
                     (got {start}, {factor}, {count})"
                ),
            });
        }
        let mut v = Vec::with_capacity(count);
        let mut b = start;
        for _ in 0..count {
            v.push(b);
            b *= factor;
        }
        Buckets::new(v)
    }

    /// `count` bounds starting at `start`, `width` apart.
    pub fn linear(start: f64, width: f64, count: usize) -> Result<Buckets> {
        if !(width > 0.0) || count == 0 {
            return Err(Error::InvalidConfig {
                what: "buckets",
                reason: format!(
                    "linear buckets need width > 0 and count > 0 (got {width}, {count})"
                ),
            });
        }
        Buckets::new(
            (0..count)
                .map(|i| start + width * i as f64)
                .collect::<Vec<_>>(),
        )
    }

    /// The finite upper bounds, increasing.
    pub fn bounds(&self) -> &[f64] {
        &self.0
    }

    /// The bucket a value falls in: the first whose bound is `>= v`, or
    /// `bounds().len()` (the `+Inf` bucket) for larger values and NaN.
    ///
    /// No branch depends on `v`, so values that hop between buckets (a
    /// latency's) cost no mispredictions, and `!(v <= b)`, which is `b < v` for
    /// every value but NaN and holds for NaN against every bound, sends NaN to
    /// `+Inf` without a branch of its own. Up to 16 bounds, the
    /// answer is the number of bounds below `v`, counted with independent
    /// compares (vectorised); a binary search's steps each wait for the load and
    /// compare before them, about 9 cycles a step. Past that, a binary search
    /// with a conditional move per step.
    #[inline]
    pub fn index(&self, v: f64) -> usize {
        let b: &[f64] = &self.0;
        if b.len() <= LINEAR_BOUNDS {
            return b.iter().map(|&x| usize::from(!(v <= x))).sum();
        }
        // The answer is in `base..=base + size`.
        let mut base = 0;
        let mut size = b.len();
        while size > 1 {
            let half = size / 2;
            let mid = base + half;
            // `mid < base + size <= len`: the default is never taken.
            let above = !(v <= *b.get(mid).unwrap_or(&f64::INFINITY));
            base = if above { mid } else { base };
            size -= half;
        }
        base + usize::from(!(v <= *b.get(base).unwrap_or(&f64::INFINITY)))
    }
}

/// Most bounds [`Buckets::index`] counts through one by one rather than
/// halving (measured in `docs/benchmarks.md`).
const LINEAR_BOUNDS: usize = 16;

impl Default for Buckets {
    fn default() -> Self {
        Buckets(DEFAULT_BUCKETS.as_slice().into())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn index_is_inclusive_upper_bound() {
        let b = Buckets::new(vec![1.0, 2.0, 5.0]).unwrap();
        assert_eq!(b.index(-3.0), 0);
        assert_eq!(b.index(1.0), 0);
        assert_eq!(b.index(1.5), 1);
        assert_eq!(b.index(5.0), 2);
        assert_eq!(b.index(5.1), 3);
        assert_eq!(b.index(f64::INFINITY), 3);
        assert_eq!(b.index(f64::NAN), 3);
    }

    /// The reference: the first bound `>= v`; NaN past every bound.
    fn reference(bounds: &[f64], v: f64) -> usize {
        if v.is_nan() {
            return bounds.len();
        }
        bounds.iter().position(|b| v <= *b).unwrap_or(bounds.len())
    }

    #[test]
    fn index_matches_a_linear_scan_at_and_around_every_bound() {
        let layouts = [
            vec![1.0],
            vec![-1.0, 0.0],
            vec![0.0, 1.0, 2.0],
            vec![-0.0, f64::MIN_POSITIVE],
            vec![f64::MIN, -1e300, -5e-324, 5e-324, 1e-310, 1.0, f64::MAX],
            DEFAULT_BUCKETS.to_vec(),
            Buckets::exponential(0.001, 2.0, 16)
                .unwrap()
                .bounds()
                .to_vec(),
            Buckets::exponential(1e-9, 1.5, 255)
                .unwrap()
                .bounds()
                .to_vec(),
            Buckets::linear(-100.0, 0.5, 256).unwrap().bounds().to_vec(),
        ];
        for bounds in layouts {
            let b = Buckets::new(bounds.clone()).unwrap();
            let mut probes = vec![
                f64::NAN,
                -f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                0.0,
                -0.0,
                5e-324,
                -5e-324,
                f64::MIN_POSITIVE,
                f64::MIN_POSITIVE / 2.0,
                f64::MAX,
                f64::MIN,
            ];
            for &x in &bounds {
                probes.extend([x, x.next_down(), x.next_up(), x * 0.999, x * 1.001]);
            }
            for v in probes {
                assert_eq!(b.index(v), reference(&bounds, v), "{v:e} in {bounds:?}");
            }
        }
    }

    #[test]
    fn index_keeps_its_edge_cases() {
        // Inclusive upper bounds; -0.0 equals a bound of 0.0.
        let b = Buckets::new(vec![0.0, 1.0]).unwrap();
        assert_eq!(b.index(-0.0), 0);
        assert_eq!(b.index(0.0), 0);
        assert_eq!(b.index(5e-324), 1);
        assert_eq!(b.index(1.0), 1);
        assert_eq!(b.index(1.0f64.next_up()), 2);
        assert_eq!(b.index(f64::NEG_INFINITY), 0);
        assert_eq!(b.index(f64::INFINITY), 2);
        assert_eq!(b.index(f64::NAN), 2);
        assert_eq!(b.index(-f64::NAN), 2);
        // Subnormal bounds.
        let b = Buckets::new(vec![5e-324, 1e-310]).unwrap();
        assert_eq!(b.index(0.0), 0);
        assert_eq!(b.index(5e-324), 0);
        assert_eq!(b.index(1e-320), 1);
        assert_eq!(b.index(1e-310), 1);
        assert_eq!(b.index(f64::MIN_POSITIVE), 2);
    }

    #[test]
    fn rejects_bad_layouts() {
        assert!(Buckets::new(Vec::<f64>::new()).is_err());
        assert!(Buckets::new(vec![f64::INFINITY]).is_err());
        assert!(Buckets::new(vec![2.0, 1.0]).is_err());
        assert!(Buckets::new(vec![f64::NAN]).is_err());
        assert!(Buckets::exponential(0.0, 2.0, 3).is_err());
        assert!(Buckets::exponential(1.0, 1.0, 3).is_err());
        assert!(Buckets::linear(0.0, 0.0, 3).is_err());
        assert_eq!(
            Buckets::new(vec![1.0, f64::INFINITY]).unwrap().bounds(),
            &[1.0]
        );
    }
}
