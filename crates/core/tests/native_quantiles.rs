//! Windowed quantiles of native histograms: merging the per-epoch bins of the
//! window's epochs, then ranking, answers what ranking all the window's
//! observations answers, to within the error bound the history schema gives
//! (`native_quantile_error(min(schema, 5))`, derived in `storage::native`),
//! whenever each epoch's observations fall in at most `NATIVE_BINS` buckets.

use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{
    native_quantile_error, Describe, ManualClock, Registry, Retention, NATIVE_BINS,
};
use proptest::prelude::*;

const T0: u64 = 1_700_000_000_000_000_000;

/// The nearest-rank `q`-quantile of `v` (as the bins rank: the smallest value
/// with at least `ceil(q·n)` observations at or below it).
fn exact(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len() as u64;
    let rank = ((q * n as f64).ceil() as u64).clamp(1, n) - 1;
    v[rank as usize]
}

fn epoch_values() -> impl Strategy<Value = Vec<f64>> {
    // Up to 8 distinct values an epoch (fewer than NATIVE_BINS buckets), each
    // seen 1..5 times, over 1e-6..1e6 and both signs, zeros included.
    prop::collection::vec(
        (
            prop_oneof![
                8 => (-6.0f64..6.0).prop_map(|e| 10f64.powf(e)),
                8 => (-6.0f64..6.0).prop_map(|e| -(10f64.powf(e))),
                1 => Just(0.0),
            ],
            1usize..5,
        ),
        0..8,
    )
    .prop_map(|vs| {
        vs.into_iter()
            .flat_map(|(v, n)| std::iter::repeat_n(v, n))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn merged_epochs_rank_like_all_observations(
        schema in -4i8..=8,
        epochs in prop::collection::vec(epoch_values(), 1..8),
        qs in prop::collection::vec(0.0f64..=1.0, 1..6),
    ) {
        const { assert!(NATIVE_BINS >= 8) };
        let clock = Arc::new(ManualClock::new(T0));
        let reg = Registry::builder()
            .clock(clock.clone())
            .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(60)).unwrap())
            .build();
        reg.register(Describe::histogram("h").native(schema)).unwrap();
        let h = reg.histogram("h", &[]).unwrap();
        let mut all = Vec::new();
        for (k, vs) in epochs.iter().enumerate() {
            if k > 0 {
                clock.advance(Duration::from_secs(1));
            }
            for &v in vs {
                h.observe(v);
                all.push(v);
            }
        }
        let window = Duration::from_secs(epochs.len() as u64);
        let err = native_quantile_error(schema.min(5));
        for &q in &qs {
            let got = h.native_quantile(q, window).unwrap();
            if all.is_empty() {
                prop_assert!(got.is_nan());
                continue;
            }
            let want = exact(&mut all, q);
            let tol = err * want.abs() * (1.0 + 1e-9);
            prop_assert!(
                (got - want).abs() <= tol,
                "q={q} schema={schema}: {got} vs {want} (bound {err})"
            );
        }
        // The cumulative buckets hold every observation.
        let snap = h.native_snapshot().unwrap();
        prop_assert_eq!(snap.bucket_total(), all.len() as u64);
    }
}
