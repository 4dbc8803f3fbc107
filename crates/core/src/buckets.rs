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
    #[inline]
    pub fn index(&self, v: f64) -> usize {
        if v.is_nan() {
            return self.0.len();
        }
        self.0.partition_point(|b| *b < v)
    }
}

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
