//! Public functions answer any input without panicking (the review found
//! `bucket_quantile(0.5, &[1.0], &[0, 0, 5])` indexing out of bounds).

use lakemetrics_core::{bucket_quantile, SketchMapping};
use proptest::prelude::*;

proptest! {
    #[test]
    fn bucket_quantile_takes_any_input(
        q in prop_oneof![any::<f64>(), -1.0f64..2.0],
        bounds in prop::collection::vec(any::<f64>(), 0..6),
        counts in prop::collection::vec(any::<u64>(), 0..9),
    ) {
        let v = bucket_quantile(q, &bounds, &counts);
        // Empty input or a NaN q gives NaN; otherwise a bound, an interpolation
        // between two, or an infinity for q outside [0, 1].
        if counts.iter().all(|&c| c == 0) || q.is_nan() {
            prop_assert!(v.is_nan());
        }
    }

    #[test]
    fn sketch_quantile_takes_any_input(
        q in any::<f64>(),
        total in any::<u64>(),
        count in any::<u64>(),
    ) {
        let m = SketchMapping::default_mapping();
        let _ = m.quantile(q, total, |_| count);
    }
}
