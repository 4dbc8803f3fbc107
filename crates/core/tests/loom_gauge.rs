//! loom: gauge rings. Writers and readers in their own threads, up to three
//! threads under a preemption bound of 3.
#![cfg(loom)]

mod loom_common;

use lakemetrics_core::loom_hooks::{gauge, gauge_view, set, GaugeCore, Geometry};
use loom::sync::Arc;
use loom::thread;
use loom_common::{model, Clocked, W};

type Setup = Clocked<GaugeCore>;

fn setup(slots: usize) -> Arc<Setup> {
    Clocked::new(gauge(Geometry::new(W, slots), 0), 0)
}

fn write(s: &Setup, v: f64, now: u64) {
    s.tick(now);
    set(&s.s, v, now, &s.clock);
}

/// The review's defect ("a writer past `holds()` folds into the slot's next
/// lap"): A sets 100 in epoch 0 of a one-slot ring; B waits until it sees 100 as
/// the gauge's value, then sets 5 in epoch 1 and 6 in epoch 2. The gauge never
/// held 100 during epoch 2, so epoch 2's point must not show it.
#[test]
fn a_point_never_shows_a_value_the_gauge_had_stopped_holding() {
    model(|| {
        let s = setup(1);
        let a = {
            let s = s.clone();
            thread::spawn(move || set(&s.s, 100.0, 0, &s.clock))
        };
        let b = {
            let s = s.clone();
            thread::spawn(move || {
                while s.s.get() != 100.0 {
                    thread::yield_now();
                }
                write(&s, 5.0, 10);
                write(&s, 6.0, 20);
            })
        };
        a.join().unwrap();
        b.join().unwrap();
        let pts = gauge_view(&s.s, 20);
        assert_eq!(pts.len(), 1, "{pts:?}");
        assert_eq!(pts[0].0, 2, "{pts:?}");
        assert_eq!((pts[0].2, pts[0].3), (6.0, 6.0), "{pts:?}");
        assert_eq!(s.s.get(), 6.0);
    });
}

/// Invariant 3 for gauges: a reader in its own thread, racing a writer that
/// restarts a slot for a new lap, never takes a point with values from another
/// lap (the review's defect: "accepts epoch 0 with last = 1.5, a value set in
/// epoch 2"), nor a half-started one. The reader asks at a time when epoch 0 is
/// still retained, while slot 0 is being restarted for epoch 2.
#[test]
fn a_reader_never_takes_a_point_from_another_lap() {
    model(|| {
        let s = setup(2);
        write(&s, 1.0, 0);
        let w2 = {
            let s = s.clone();
            thread::spawn(move || write(&s, 2.5, 20))
        };
        let r = {
            let s = s.clone();
            thread::spawn(move || {
                for (e, last, min, max) in gauge_view(&s.s, 10) {
                    // Only 1.0 was set in epoch 0; nothing in epoch 1.
                    assert_eq!((e, min, max), (0, 1.0, 1.0), "last {last}");
                    assert!([1.0, 2.5].contains(&last), "last {last}");
                }
            })
        };
        w2.join().unwrap();
        r.join().unwrap();
        let pts = gauge_view(&s.s, 20);
        assert_eq!(pts, [(2, 2.5, 2.5, 2.5)]);
    });
}

/// A writer whose clock reading is a lap old finds the slot holding a newer
/// epoch: it folds into that epoch (it was still running then) and never moves
/// the slot back, unless a fresh clock reading says the clock itself went back.
#[test]
fn a_stale_writer_never_moves_a_slot_back() {
    model(|| {
        let s = setup(2);
        let stale = {
            let s = s.clone();
            thread::spawn(move || set(&s.s, 1.0, 0, &s.clock))
        };
        let w2 = {
            let s = s.clone();
            thread::spawn(move || {
                write(&s, 2.5, 20);
                // Whether epoch 2 was published when this set returned.
                gauge_view(&s.s, 20).iter().any(|p| p.0 == 2)
            })
        };
        stale.join().unwrap();
        let published = w2.join().unwrap();
        let pts = gauge_view(&s.s, 20);
        if published {
            assert_eq!(pts.len(), 1, "{pts:?}");
            assert_eq!(pts[0].0, 2, "{pts:?}");
            assert!(pts[0].3 == 2.5 && [1.0, 2.5].contains(&pts[0].2), "{pts:?}");
        }
    });
}

/// Two writers racing across an epoch boundary, a reader in its own thread: each
/// value is in the point of its epoch, or of the previous one while the new
/// epoch's slot is being started.
#[test]
fn writers_racing_an_epoch_boundary() {
    model(|| {
        let s = setup(4);
        let a = {
            let s = s.clone();
            thread::spawn(move || write(&s, 1.0, 9))
        };
        let b = {
            let s = s.clone();
            thread::spawn(move || write(&s, 2.0, 10))
        };
        let r = {
            let s = s.clone();
            thread::spawn(move || {
                for (e, _, min, max) in gauge_view(&s.s, 10) {
                    assert!(e <= 1);
                    assert!([1.0, 2.0].contains(&min) && [1.0, 2.0].contains(&max));
                    assert!(min <= max);
                }
            })
        };
        a.join().unwrap();
        b.join().unwrap();
        r.join().unwrap();
        let pts = gauge_view(&s.s, 10);
        let seen: Vec<f64> = pts.iter().flat_map(|p| [p.2, p.3]).collect();
        assert!(seen.contains(&1.0), "{pts:?}");
        assert!(pts.iter().all(|p| p.0 <= 1), "{pts:?}");
        assert!([1.0, 2.0].contains(&s.s.get()));
    });
}
