//! loom: histogram rings keep invariants 1 to 3 of DESIGN.md.
#![cfg(loom)]

use std::time::Duration;

use lakemetrics_core::series::{HistogramCore, TimeRange};
use lakemetrics_core::{Buckets, Geometry};
use loom::sync::Arc;
use loom::thread;

fn histogram(slots: usize) -> Arc<HistogramCore> {
    Arc::new(HistogramCore::new(
        Buckets::new(vec![1.0]).unwrap(),
        Geometry::new(10, slots),
        0,
    ))
}

fn per_bucket(h: &HistogramCore, now: u64) -> (Vec<u64>, usize) {
    let mut sum = vec![0u64; 2];
    let mut n = 0;
    h.for_each_point(now, TimeRange::ALL, |p| {
        n += 1;
        for (s, c) in sum.iter_mut().zip(p.counts) {
            *s += c;
        }
    });
    (sum, n)
}

/// Invariants 1 and 2: observations racing an epoch boundary are each counted
/// once in the cumulative buckets, and per-epoch deltas add up to them.
#[test]
fn observations_racing_an_epoch_boundary_are_counted_once() {
    loom::model(|| {
        let h = histogram(3);
        let t = {
            let h = h.clone();
            thread::spawn(move || h.observe(0.5, 9))
        };
        h.observe(3.0, 10);
        t.join().unwrap();
        let snap = h.snapshot();
        assert_eq!(snap.counts.as_slice(), &[1, 1]);
        assert_eq!(snap.sum, 3.5);
        let (sum, _) = per_bucket(&h, 10);
        assert_eq!(sum, vec![1, 1]);
        let inc = h.increase(10, Duration::from_nanos(20));
        assert_eq!(inc.counts.as_slice(), &[1, 1]);
    });
}

/// Invariant 3: a reader racing a writer that restarts the only slot for a new
/// lap never reports more than was observed, nor a negative delta (which would
/// wrap and show as a huge count).
#[test]
fn reader_racing_a_lap_restart() {
    loom::model(|| {
        let h = histogram(1);
        h.observe(0.5, 0);
        h.observe(0.5, 1);
        let t = {
            let h = h.clone();
            thread::spawn(move || h.observe(3.0, 10))
        };
        let (sum, n) = per_bucket(&h, 10);
        assert!(n <= 1);
        assert!(sum[0] <= 2 && sum[1] <= 1, "{sum:?}");
        t.join().unwrap();
        let (sum, n) = per_bucket(&h, 10);
        assert_eq!((sum, n), (vec![0, 1], 1));
    });
}
