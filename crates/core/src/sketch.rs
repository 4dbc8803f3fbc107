//! The log-bucketed quantile sketch behind summaries.
//!
//! A value `v` in `[min, max]` goes to bucket `floor(L(v) * m) - offset + 1`, where
//! `L` approximates `log2` with the exponent bits of `v` plus a cubic polynomial of
//! its mantissa (the mapping of DDSketch's "cubically interpolated" variant; a few
//! floating-point operations, no `ln` call on the recording path). The multiplier
//! `m` is chosen so that every bucket `[lo, hi)` has `hi / lo <= (1 + a) / (1 - a)`
//! for the configured relative error `a`; reporting `2 lo hi / (lo + hi)` for a
//! bucket is then within `a` of every value in it. Quantiles are therefore within
//! relative error `a` of the value of the observation at the quantile's rank.
//! Bucket 0 holds values below `min` (zero, negatives), reported as 0; the top
//! bucket holds values at or above `max`, reported as `max`. Summaries keep NaN
//! out of the sketch (they still count it and add it to their sum).
//!
//! Buckets are plain counts, so sketches merge by addition.

use crate::{Error, Result};

const A: f64 = 6.0 / 35.0;
const B: f64 = -3.0 / 5.0;
const C: f64 = 10.0 / 7.0;

/// The shape of a summary's sketch: relative error and the value range it covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SketchMapping {
    relative_error: f64,
    min: f64,
    max: f64,
    multiplier: f64,
    offset: i64,
    len: usize,
}

/// Most buckets a sketch may have; bounds the memory of a summary.
pub const MAX_SKETCH_BUCKETS: usize = 16_384;

#[inline]
fn cubic(m: f64) -> f64 {
    ((A * m + B) * m + C) * m
}

#[inline]
fn log2_approx(v: f64) -> f64 {
    let bits = v.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mantissa = f64::from_bits((bits & ((1 << 52) - 1)) | 0x3ff0_0000_0000_0000) - 1.0;
    exponent as f64 + cubic(mantissa)
}

/// Inverse of [`log2_approx`].
fn pow2_approx(x: f64) -> f64 {
    let e = x.floor();
    let f = x - e;
    // Solve cubic(m) = f on [0, 1]; cubic is increasing there, so bisection is safe.
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if cubic(mid) < f {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (1.0 + 0.5 * (lo + hi)) * (2.0f64).powi(e as i32)
}

/// The nearest rank of the `q`-quantile of `total` observations, counted from
/// 0: the observation with `ceil(q·total) - 1` before it (so q = 0.99 of two
/// observations is the larger one); `None` when there are none or `q` is NaN.
/// Every quantile reader ranks with it.
#[inline]
pub(crate) fn nearest_rank(q: f64, total: u64) -> Option<u64> {
    if total == 0 || q.is_nan() {
        return None;
    }
    Some(((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).clamp(1, total) - 1)
}

impl SketchMapping {
    /// 1% relative error over `[1e-9, 1e12]`: nanoseconds to hours in seconds, bytes
    /// to terabytes. About 2,450 buckets.
    pub fn default_mapping() -> SketchMapping {
        SketchMapping::new(0.01, 1e-9, 1e12).unwrap_or_else(|_| unreachable_default())
    }

    /// A mapping with relative error `relative_error` (in `(0, 0.5)`) over values in
    /// `[min, max]` (`0 < min < max`, both finite and normal).
    pub fn new(relative_error: f64, min: f64, max: f64) -> Result<SketchMapping> {
        let bad = |reason: String| Error::InvalidConfig {
            what: "summary sketch",
            reason,
        };
        if !(relative_error > 0.0 && relative_error < 0.5) {
            return Err(bad(format!(
                "relative error {relative_error} is not in (0, 0.5)"
            )));
        }
        if !(min >= f64::MIN_POSITIVE && max > min && max.is_finite()) {
            return Err(bad(format!(
                "range [{min}, {max}] must satisfy 0 < min < max < inf"
            )));
        }
        // The smallest slope of L against log2(v); buckets of width 1/m in L are then
        // at most 1 / (m * slope) wide in log2(v).
        let slope = (0..=10_000)
            .map(|i| {
                let m = i as f64 / 10_000.0;
                (3.0 * A * m * m + 2.0 * B * m + C) * (1.0 + m) * std::f64::consts::LN_2
            })
            .fold(f64::INFINITY, f64::min)
            * 0.999;
        let gamma = (1.0 + relative_error) / (1.0 - relative_error);
        let multiplier = 1.0 / (slope * gamma.log2());
        let lo = (log2_approx(min) * multiplier).floor();
        let hi = (log2_approx(max) * multiplier).floor();
        // Bucket 0 (below min), 1..=top+1 (the range), top+2 (at or above max).
        // Counted in f64 first: tiny relative errors would overflow integers.
        let needed = hi - lo + 3.0;
        if !(needed <= MAX_SKETCH_BUCKETS as f64) {
            return Err(bad(format!(
                "{needed} buckets needed; the limit is {MAX_SKETCH_BUCKETS} \
                 (narrow the range or raise the relative error)"
            )));
        }
        let offset = lo as i64;
        let len = needed as usize;
        Ok(SketchMapping {
            relative_error,
            min,
            max,
            multiplier,
            offset,
            len,
        })
    }

    /// The relative error bound.
    pub fn relative_error(&self) -> f64 {
        self.relative_error
    }

    /// Smallest value tracked with the error bound.
    pub fn min(&self) -> f64 {
        self.min
    }

    /// Largest value tracked with the error bound.
    pub fn max(&self) -> f64 {
        self.max
    }

    /// Number of buckets.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The bucket of `v`.
    #[inline]
    pub fn index(&self, v: f64) -> usize {
        // `!(v >= min)` also sends NaN to bucket 0.
        if !(v >= self.min) {
            return 0;
        }
        if v >= self.max {
            return self.len - 1;
        }
        let k = (log2_approx(v) * self.multiplier).floor() as i64 - self.offset;
        (k as usize + 1).min(self.len - 2)
    }

    /// The value reported for bucket `index`.
    pub fn value(&self, index: usize) -> f64 {
        if index == 0 {
            return 0.0;
        }
        if index >= self.len - 1 {
            return self.max;
        }
        let k = (index - 1) as i64 + self.offset;
        let lo = pow2_approx(k as f64 / self.multiplier).max(self.min);
        let hi = pow2_approx((k + 1) as f64 / self.multiplier).min(self.max);
        2.0 * lo * hi / (lo + hi)
    }

    /// The `q`-quantile of a sketch given as bucket counts by `count(i)`, with `total`
    /// observations; NaN when empty.
    pub fn quantile(&self, q: f64, total: u64, mut count: impl FnMut(usize) -> u64) -> f64 {
        // Nearest rank: the smallest value with at least q·n observations at or
        // below it.
        let Some(rank) = nearest_rank(q, total) else {
            return f64::NAN;
        };
        let mut seen = 0u64;
        for i in 0..self.len {
            seen = seen.saturating_add(count(i));
            if seen > rank {
                return self.value(i);
            }
        }
        self.value(self.len - 1)
    }
}

#[cold]
fn unreachable_default() -> SketchMapping {
    // The default parameters are valid constants; this is never reached, but a
    // fallback beats a panic.
    SketchMapping {
        relative_error: 0.01,
        min: 1e-9,
        max: 1e12,
        multiplier: 35.0,
        offset: (log2_approx(1e-9) * 35.0).floor() as i64,
        len: 2500,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn default_size() {
        let m = SketchMapping::default_mapping();
        assert!(m.len() > 2000 && m.len() < 2600, "{}", m.len());
    }

    proptest! {
        #[test]
        fn every_value_is_within_the_bound(v in 1e-9f64..1e12) {
            let m = SketchMapping::default_mapping();
            let est = m.value(m.index(v));
            prop_assert!((est - v).abs() <= 0.01 * v, "{} -> {}", v, est);
        }

        #[test]
        fn index_is_monotone(a in 1e-10f64..1e13, b in 1e-10f64..1e13) {
            let m = SketchMapping::default_mapping();
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(m.index(lo) <= m.index(hi));
        }

        #[test]
        fn looser_bounds_hold(v in 1e-3f64..1e3, a in 0.001f64..0.2) {
            let m = SketchMapping::new(a, 1e-3, 1e3).unwrap();
            let est = m.value(m.index(v));
            prop_assert!((est - v).abs() <= a * v * (1.0 + 1e-9), "{} -> {}", v, est);
        }
    }

    #[test]
    fn quantile_of_uniform_values() {
        let m = SketchMapping::default_mapping();
        let mut counts = vec![0u64; m.len()];
        for i in 1..=1000 {
            counts[m.index(i as f64)] += 1;
        }
        for (q, exact) in [
            (0.0, 1.0),
            (0.5, 500.0),
            (0.9, 900.0),
            (0.99, 990.0),
            (1.0, 1000.0),
        ] {
            let est = m.quantile(q, 1000, |i| counts[i]);
            assert!(
                (est - exact).abs() <= 0.01 * exact,
                "q{q}: {est} vs {exact}"
            );
        }
        assert!(m.quantile(0.5, 0, |_| 0).is_nan());
    }

    #[test]
    fn out_of_range_values() {
        let m = SketchMapping::default_mapping();
        assert_eq!(m.index(0.0), 0);
        assert_eq!(m.index(-5.0), 0);
        assert_eq!(m.index(f64::NAN), 0);
        assert_eq!(m.index(f64::INFINITY), m.len() - 1);
        assert_eq!(m.value(m.len() - 1), 1e12);
        assert!(SketchMapping::new(0.0, 1.0, 2.0).is_err());
        assert!(SketchMapping::new(0.01, 0.0, 2.0).is_err());
        assert!(SketchMapping::new(0.0001, 1e-300, 1e300).is_err());
        // Found by fuzzing the store: relative errors so small the bucket count
        // overflows integer arithmetic.
        assert!(SketchMapping::new(1e-300, 1e-9, 1e12).is_err());
        assert!(SketchMapping::new(f64::MIN_POSITIVE, f64::MIN_POSITIVE, f64::MAX).is_err());
    }
}
