//! loom: summary rings (count and sum bases per epoch on the counters' protocol,
//! and lap-tagged sketch words). Writers and readers in their own threads, up to
//! three threads under a preemption bound of 3.
#![cfg(loom)]

mod loom_common;

use std::time::Duration;

use lakemetrics_core::loom_hooks::{
    observe_summary, summary, summary_view, summary_windows, summary_with_bins, Geometry,
    SummaryCore,
};
use loom::sync::Arc;
use loom::thread;
use loom_common::{expected_epochs, model, Clocked, W};

type Setup = Clocked<SummaryCore>;

fn setup(slots: usize) -> Arc<Setup> {
    Clocked::new(summary(Geometry::new(W, slots), 0), 0)
}

fn write(s: &Setup, v: f64, now: u64) {
    s.tick(now);
    observe_summary(&s.s, v, now, &s.clock);
}

type View = (u64, Vec<(u64, u64, u64)>, u64);

/// Per epoch: (epoch, count increase from the bases, sketch total).
fn per_epoch(view: &View) -> Vec<(u64, u64, u64)> {
    let (_, rows, total) = view;
    rows.iter()
        .enumerate()
        .map(|(i, &(e, b, sk))| (e, rows.get(i + 1).map_or(*total, |n| n.1) - b, sk))
        .collect()
}

/// A row for every epoch from the oldest retained up to the head the reader read.
fn check_reader(view: &View, slots: u64, now_e: u64) {
    let (head, rows, total) = view;
    let epochs: Vec<u64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(epochs, expected_epochs(*head, slots, now_e), "{view:?}");
    assert!(rows.iter().all(|r| r.1 <= *total), "{view:?}");
}

/// Observations racing an epoch boundary: counted once by the count and once by
/// the sketches, each in its own epoch or the neighbouring one.
#[test]
fn observations_racing_an_epoch_boundary_are_counted_once() {
    model(|| {
        let s = setup(4);
        let a = {
            let s = s.clone();
            thread::spawn(move || write(&s, 10.0, 9))
        };
        let b = {
            let s = s.clone();
            thread::spawn(move || write(&s, 100.0, 10))
        };
        let r = {
            let s = s.clone();
            thread::spawn(move || check_reader(&summary_view(&s.s, 10), 4, 1))
        };
        a.join().unwrap();
        b.join().unwrap();
        r.join().unwrap();
        let view = summary_view(&s.s, 10);
        check_reader(&view, 4, 1);
        let pe = per_epoch(&view);
        assert_eq!(pe.iter().map(|p| p.1).sum::<u64>(), 2, "{view:?}");
        assert_eq!(pe.iter().map(|p| p.2).sum::<u64>(), 2, "{view:?}");
        // B started epoch 1 before observing: its observation is in epoch 1 in
        // both; A's is in epoch 0, or in 1 if it found the head already there.
        assert!(pe[1].2 >= 1 && pe[1].1 >= 1, "{view:?}");
    });
}

/// The review's defect: in a one-slot ring a writer of epoch 0 is in flight when
/// another starts epoch 1 and resets the sketch. The restart never wipes an
/// observation that the count puts in epoch 1 (count 2, sketches 1): per epoch the
/// sketch holds at least what the count bases give it.
#[test]
fn a_restart_never_wipes_an_observation_the_count_keeps() {
    model(|| restart_race(setup(1), &[10.0]));
}

/// In a one-slot ring, `early` observed in epoch 0 by one writer while another
/// starts epoch 1 (observing 100): per epoch the bins hold at least what the
/// count bases give it, and nothing is counted twice.
fn restart_race(s: Arc<Setup>, early: &'static [f64]) {
    let a = {
        let s = s.clone();
        thread::spawn(move || {
            for &v in early {
                observe_summary(&s.s, v, 0, &s.clock);
            }
        })
    };
    let b = {
        let s = s.clone();
        thread::spawn(move || write(&s, 100.0, 10))
    };
    a.join().unwrap();
    b.join().unwrap();
    let view = summary_view(&s.s, 10);
    check_reader(&view, 1, 1);
    assert_eq!(view.0, 1);
    let n = early.len() as u64 + 1;
    assert_eq!(view.2, n);
    let pe = per_epoch(&view);
    assert!(
        pe[0].2 >= pe[0].1,
        "bins {} < count {}: {view:?}",
        pe[0].2,
        pe[0].1
    );
    assert!(pe[0].2 <= n, "{view:?}");
}

/// A reader in its own thread racing a lap restart counts only the words of the
/// lap it asks for.
#[test]
fn a_reader_racing_a_lap_restart() {
    model(|| {
        let s = setup(2);
        write(&s, 10.0, 0);
        let w = {
            let s = s.clone();
            thread::spawn(move || write(&s, 100.0, 20))
        };
        let r = {
            let s = s.clone();
            thread::spawn(move || {
                let view = summary_view(&s.s, 20);
                check_reader(&view, 2, 2);
                for (e, _, sk) in per_epoch(&view) {
                    assert!(sk <= 1, "epoch {e}: {view:?}");
                }
            })
        };
        w.join().unwrap();
        r.join().unwrap();
        let pe = per_epoch(&summary_view(&s.s, 20));
        assert_eq!(pe, [(1, 0, 0), (2, 1, 1)]);
    });
}

/// The restart race of the test above with a full slot: one bin per epoch, two
/// observations of different values in epoch 0 (the second widens the bin)
/// racing a writer that starts epoch 1. Per epoch the bins still hold at least
/// what the count bases give it, and nothing is counted twice.
#[test]
fn a_restart_racing_a_widening_never_wipes_what_the_count_keeps() {
    model(|| {
        let s = Clocked::new(summary_with_bins(Geometry::new(W, 1), 0, 1), 0);
        restart_race(s, &[2.0, 500.0]);
    });
}

/// A reader of windowed quantiles in its own thread, racing two writers across
/// an epoch boundary: every window is ranked from one copy of its epochs' bins
/// (its count and its maximum agree: none without observations, and the
/// maximum is one of the values observed), no window counts an observation
/// twice, and once the writers are done the two-epoch window holds both.
#[test]
fn a_windowed_reader_racing_an_epoch_boundary() {
    model(|| {
        let s = setup(4);
        let a = {
            let s = s.clone();
            thread::spawn(move || write(&s, 10.0, 9))
        };
        let b = {
            let s = s.clone();
            thread::spawn(move || write(&s, 100.0, 10))
        };
        let r = {
            let s = s.clone();
            thread::spawn(move || check_windows(&two_epoch_windows(&s.s)))
        };
        a.join().unwrap();
        b.join().unwrap();
        r.join().unwrap();
        let windows = two_epoch_windows(&s.s);
        check_windows(&windows);
        assert_eq!(windows[1].1, 2, "{windows:?}");
        assert!(near(windows[1].2, 100.0), "{windows:?}");
    });
}

fn two_epoch_windows(s: &SummaryCore) -> Vec<(u64, u64, f64)> {
    summary_windows(s, 10, Duration::from_nanos(2 * W))
}

/// Whether `v` is the coarse sketch's value for `x` (10% error).
fn near(v: f64, x: f64) -> bool {
    (v - x).abs() <= 0.1 * x
}

fn check_windows(windows: &[(u64, u64, f64)]) {
    let starts: Vec<u64> = windows.iter().map(|w| w.0).collect();
    assert_eq!(starts, [0, W], "{windows:?}");
    for &(start, count, max) in windows {
        // A window ending with epoch 0 can hold A's observation only.
        assert!(count <= if start == 0 { 1 } else { 2 }, "{windows:?}");
        assert_eq!(count == 0, max.is_nan(), "{windows:?}");
        assert!(
            count == 0 || near(max, 10.0) || near(max, 100.0),
            "{windows:?}"
        );
    }
}
