//! Windowed quantiles of native histograms: merging the per-epoch bins of the
//! window's epochs, then ranking, answers what ranking all the window's
//! observations answers, to within the error bound the history schema gives
//! (`native_quantile_error(min(schema, 5))`, derived in `storage::native`),
//! whenever each epoch's observations fall in at most `NATIVE_BINS` buckets;
//! and, with many more buckets an epoch, within the bound of the coarsest
//! schema an epoch was halved to (`epoch_schema` derives it from the values).

use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{
    native_index, native_quantile_error, Describe, ManualClock, Registry, Retention, NATIVE_BINS,
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

/// The finest schema at or below `start` at which `vs` fall in at most
/// `NATIVE_BINS` buckets (the zero bucket included): the schema an epoch of
/// these observations keeps, or a finer one (its close starts at the
/// cumulative buckets' schema, at most `start`, and halves while they do not
/// fit).
fn epoch_schema(vs: &[f64], start: i8) -> i8 {
    let mut h = start;
    loop {
        let mut keys: Vec<(bool, i32)> = vs
            .iter()
            .map(|&v| {
                if v == 0.0 {
                    (false, i32::MIN)
                } else {
                    (v < 0.0, native_index(v, h))
                }
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        if keys.len() <= NATIVE_BINS || h == -4 {
            return h;
        }
        h -= 1;
    }
}

fn crowded_epoch() -> impl Strategy<Value = Vec<f64>> {
    // 20 to 80 distinct values an epoch over 1e-6..1e6, both signs and zeros:
    // far more buckets than NATIVE_BINS at fine schemas.
    prop::collection::vec(
        prop_oneof![
            8 => (-6.0f64..6.0).prop_map(|e| 10f64.powf(e)),
            8 => (-6.0f64..6.0).prop_map(|e| -(10f64.powf(e))),
            1 => Just(0.0),
        ],
        20..80,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Epochs with many more buckets than bins: each keeps every observation
    /// (the window's count is exact) at a schema halved until its buckets fit,
    /// and the windowed quantile is within `native_quantile_error` of the
    /// coarsest of them.
    #[test]
    fn crowded_epochs_hold_the_bound_of_their_coarsest_schema(
        schema in -4i8..=8,
        epochs in prop::collection::vec(crowded_epoch(), 1..6),
        qs in prop::collection::vec(0.0f64..=1.0, 1..6),
    ) {
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
        // Every epoch's schema is at least its own `epoch_schema` or the
        // cumulative buckets' final schema (its entries' schemas when it
        // closed were at least that).
        let snap = h.native_snapshot().unwrap();
        prop_assert_eq!(snap.bucket_total(), all.len() as u64);
        let coarsest = epochs
            .iter()
            .map(|vs| epoch_schema(vs, schema.min(5)).min(snap.schema))
            .min()
            .unwrap();
        let err = native_quantile_error(coarsest);
        let window = Duration::from_secs(epochs.len() as u64);
        for &q in &qs {
            let got = h.native_quantile(q, window).unwrap();
            let want = exact(&mut all, q);
            let tol = err * want.abs() * (1.0 + 1e-9);
            prop_assert!(
                (got - want).abs() <= tol,
                "q={q} schema={schema} coarsest={coarsest}: {got} vs {want} (bound {err})"
            );
        }
        // The window's epochs hold every observation: the quantile at q = 0
        // and 1 are the extremes' buckets.
        let lo = exact(&mut all, 0.0);
        let hi = exact(&mut all, 1.0);
        let (g0, g1) = (
            h.native_quantile(0.0, window).unwrap(),
            h.native_quantile(1.0, window).unwrap(),
        );
        prop_assert!((g0 - lo).abs() <= err * lo.abs() * (1.0 + 1e-9), "{g0} vs {lo}");
        prop_assert!((g1 - hi).abs() <= err * hi.abs() * (1.0 + 1e-9), "{g1} vs {hi}");
    }
}
