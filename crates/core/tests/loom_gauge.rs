//! loom: gauge rings never show a torn or stale epoch (invariant 3).
#![cfg(loom)]

use lakemetrics_core::series::{GaugeCore, GaugePoint, TimeRange};
use lakemetrics_core::Geometry;
use loom::sync::Arc;
use loom::thread;

fn points(g: &GaugeCore, now: u64) -> Vec<GaugePoint> {
    let mut v = Vec::new();
    g.for_each_point(now, TimeRange::ALL, |p| v.push(p));
    v
}

/// A reader racing a writer that restarts slot 0 for epoch 2 sees either no
/// point for epoch 2 or one holding exactly the new value: never the old lap's
/// min/max, never a half-written slot.
#[test]
fn reader_racing_a_lap_restart_sees_no_stale_values() {
    loom::model(|| {
        let g = Arc::new(GaugeCore::new(Geometry::new(10, 2), 0));
        g.set(1.0, 0); // epoch 0, slot 0
        let t = {
            let g = g.clone();
            thread::spawn(move || g.set(7.0, 20)) // epoch 2, slot 0
        };
        for p in points(&g, 20) {
            assert_eq!(p.start, 20, "epoch 0 is out of the window");
            assert_eq!((p.last, p.min, p.max), (7.0, 7.0, 7.0));
        }
        t.join().unwrap();
        let pts = points(&g, 20);
        assert_eq!(pts.len(), 1);
        assert_eq!((pts[0].last, pts[0].min, pts[0].max), (7.0, 7.0, 7.0));
    });
}

/// Two writers in one epoch: min and max bound every value that landed, and the
/// current value is one of them.
#[test]
fn concurrent_sets_keep_min_and_max() {
    loom::model(|| {
        let g = Arc::new(GaugeCore::new(Geometry::new(10, 2), 0));
        g.set(5.0, 0);
        let t = {
            let g = g.clone();
            thread::spawn(move || g.set(2.0, 1))
        };
        g.set(9.0, 2);
        t.join().unwrap();
        let pts = points(&g, 2);
        assert_eq!(pts.len(), 1);
        assert_eq!((pts[0].min, pts[0].max), (2.0, 9.0));
        assert!(g.get() == 2.0 || g.get() == 9.0);
    });
}
