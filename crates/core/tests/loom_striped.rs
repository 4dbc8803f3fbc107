//! loom: striped counters and histograms (one copy of the cumulative state per
//! stripe, summed on read) keep invariants 1 to 3 of docs/architecture.md: every
//! recording is counted once, per-epoch increases add up to the sum of the
//! stripes, and a writer's own recording lands in the epoch it starts. Writers
//! record into stripes the models name, readers run in their own threads, up to
//! three threads under a preemption bound of 3.
//!
//! Each counter writer adds a distinct power of ten, so an epoch's increase says
//! exactly which writers it holds.
#![cfg(loom)]

mod loom_common;

use lakemetrics_core::loom_hooks::{
    counter_increases, counter_striped, counter_view, histogram_striped, histogram_view, inc_on,
    observe_on, CounterCore, Geometry, HistogramCore,
};
use loom::sync::Arc;
use loom::thread;
use loom_common::{expected_epochs, model, Clocked, W};

type Counter = Clocked<CounterCore>;
type Histogram = Clocked<HistogramCore>;

fn counter(slots: usize) -> Arc<Counter> {
    Clocked::new(counter_striped(Geometry::new(W, slots), 0, 2), 0)
}

/// A counter writer: moves the clock forward to `now` and adds `n` to stripe `k`.
fn add(s: &Counter, k: usize, n: u64, now: u64) {
    s.tick(now);
    inc_on(&s.s, k, n, now, &s.clock);
}

type CounterView = (u64, Vec<(u64, u64)>, u64);

/// Per-epoch increases from a view, oldest first.
fn increases(view: &CounterView) -> Vec<(u64, u64)> {
    let (_, rows, total) = view;
    rows.iter()
        .enumerate()
        .map(|(i, &(e, b))| (e, rows.get(i + 1).map_or(*total, |n| n.1) - b))
        .collect()
}

/// Whether `inc` is a sum of distinct amounts not in `used`; marks them used.
fn distinct_sum(inc: u64, amounts: &[u64], used: &mut u64) -> bool {
    let mut rest = inc;
    for (k, &a) in amounts.iter().enumerate().rev() {
        if rest >= a && *used & (1 << k) == 0 {
            rest -= a;
            *used |= 1 << k;
        }
    }
    rest == 0
}

/// What every counter reader must see: a row for every epoch from the oldest
/// retained up to the head it read, bases never above the summed total, and
/// increases that are sums of distinct writers' amounts.
fn check_counter_reader(view: &CounterView, slots: u64, now_e: u64, amounts: &[u64]) {
    let (head, rows, total) = view;
    let epochs: Vec<u64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(epochs, expected_epochs(*head, slots, now_e), "{view:?}");
    assert!(rows.iter().all(|r| r.1 <= *total), "{view:?}");
    let mut used = 0;
    for (_, inc) in increases(view) {
        assert!(
            distinct_sum(inc, amounts, &mut used),
            "increase {inc} is not a sum of distinct writers: {view:?}"
        );
    }
}

/// A recording on one stripe that happened before another stripe's writer
/// starts the next epoch stays in its own epoch: the new epoch's base counts
/// every stripe, not only the starting writer's. A reader in its own thread
/// races the start.
#[test]
fn an_epoch_base_counts_every_stripe() {
    model(|| {
        let s = counter(4);
        add(&s, 0, 1, 5);
        let b = {
            let s = s.clone();
            thread::spawn(move || add(&s, 1, 10, 10))
        };
        let r = {
            let s = s.clone();
            thread::spawn(move || check_counter_reader(&counter_view(&s.s, 10), 4, 1, &[1, 10]))
        };
        b.join().unwrap();
        r.join().unwrap();
        let view = counter_view(&s.s, 10);
        check_counter_reader(&view, 4, 1, &[1, 10]);
        assert_eq!(view.2, 11, "{view:?}");
        assert_eq!(increases(&view), [(0, 1), (1, 10)], "{view:?}");
    });
}

/// Writers on two stripes racing an epoch boundary (one just before, one just
/// after) are each counted once, in their own epoch or the neighbouring one;
/// the writer that starts epoch 1 is counted in it; a reader in its own thread
/// sees a consistent prefix.
#[test]
fn stripes_racing_an_epoch_boundary_are_counted_once() {
    model(|| {
        let s = counter(4);
        let a = {
            let s = s.clone();
            thread::spawn(move || add(&s, 0, 1, 9))
        };
        let b = {
            let s = s.clone();
            thread::spawn(move || add(&s, 1, 10, 10))
        };
        let r = {
            let s = s.clone();
            thread::spawn(move || check_counter_reader(&counter_view(&s.s, 10), 4, 1, &[1, 10]))
        };
        a.join().unwrap();
        b.join().unwrap();
        r.join().unwrap();
        let view = counter_view(&s.s, 10);
        check_counter_reader(&view, 4, 1, &[1, 10]);
        assert_eq!((view.0, view.2), (1, 11), "{view:?}");
        let inc = increases(&view);
        // B started epoch 1 with its stripe's value before its own add.
        assert!(inc[1].1 == 10 || inc[1].1 == 11, "{view:?}");
    });
}

/// Two writers on two stripes, both in the new epoch, and the columnar read
/// (what the JSON export writes) in its own thread: one value per epoch, each
/// a sum of distinct writers' amounts, adding up to the total read with them;
/// never both amounts in the old epoch.
#[test]
fn the_increases_column_adds_up_to_the_stripes() {
    model(|| {
        let s = counter(4);
        let a = {
            let s = s.clone();
            thread::spawn(move || add(&s, 0, 1, 10))
        };
        let b = {
            let s = s.clone();
            thread::spawn(move || add(&s, 1, 10, 10))
        };
        let r = {
            let s = s.clone();
            thread::spawn(move || counter_increases(&s.s, 10, 0..2))
        };
        a.join().unwrap();
        b.join().unwrap();
        let after = counter_increases(&s.s, 10, 0..2);
        for (col, total) in [r.join().unwrap(), after.clone()] {
            assert_eq!(col.len(), 2, "{col:?}");
            assert_eq!(col.iter().sum::<u64>(), total, "{col:?} {total}");
            let mut used = 0;
            for &inc in &col {
                assert!(distinct_sum(inc, &[1, 10], &mut used), "{col:?}");
            }
        }
        // Both recorded in epoch 1. The one that started it is counted there
        // (its base is its stripe before its add); the other's add may have
        // come before that base was taken, and lands in epoch 0 then (as two
        // unstriped writers' would: the base is what the total was).
        assert_eq!(after.1, 11);
        assert!([0, 1, 10].contains(&after.0[0]), "{after:?}");
    });
}

/// A writer stalled across a whole lap of a two-slot ring (its clock reading is
/// epoch 1, the other writer's epoch 3) never writes its stale base over the
/// newer lap's; its amount is counted once.
#[test]
fn a_stripe_stalled_for_a_lap_leaves_the_newer_lap_alone() {
    model(|| {
        let s = counter(2);
        let stalled = {
            let s = s.clone();
            thread::spawn(move || inc_on(&s.s, 0, 1, 10, &s.clock))
        };
        let w = {
            let s = s.clone();
            thread::spawn(move || add(&s, 1, 10, 30))
        };
        stalled.join().unwrap();
        w.join().unwrap();
        let view = counter_view(&s.s, 30);
        check_counter_reader(&view, 2, 3, &[1, 10]);
        assert_eq!((view.0, view.2), (3, 11), "{view:?}");
        // The newer writer started epoch 3 with its stripe before its add.
        let inc = increases(&view);
        assert!(inc[1].1 == 10 || inc[1].1 == 11, "{view:?}");
    });
}

/// More writers than stripes: slot 2 of a two-stripe counter is stripe 0
/// again, so two writers add to one stripe (`fetch_add`) while one of them
/// starts epoch 1, and a reader in its own thread races them. Both are
/// counted once, the starter in the epoch it starts.
#[test]
fn writers_sharing_a_stripe_are_counted_once() {
    model(|| {
        let s = counter(4);
        let a = {
            let s = s.clone();
            thread::spawn(move || add(&s, 0, 1, 9))
        };
        let b = {
            let s = s.clone();
            thread::spawn(move || add(&s, 2, 10, 10))
        };
        let r = {
            let s = s.clone();
            thread::spawn(move || check_counter_reader(&counter_view(&s.s, 10), 4, 1, &[1, 10]))
        };
        a.join().unwrap();
        b.join().unwrap();
        r.join().unwrap();
        let view = counter_view(&s.s, 10);
        check_counter_reader(&view, 4, 1, &[1, 10]);
        assert_eq!((view.0, view.2), (1, 11), "{view:?}");
        let inc = increases(&view);
        assert!(inc[1].1 == 10 || inc[1].1 == 11, "{view:?}");
    });
}

/// Buckets `(0, 1]` and `+Inf`, two stripes.
fn histogram(slots: usize) -> Arc<Histogram> {
    Clocked::new(histogram_striped(&[1.0], Geometry::new(W, slots), 0, 2), 0)
}

fn observe(s: &Histogram, k: usize, v: f64, now: u64) {
    s.tick(now);
    observe_on(&s.s, k, v, now, &s.clock);
}

type HistogramView = (u64, Vec<(u64, Vec<u64>)>, Vec<u64>);

/// A row for every epoch from the oldest retained up to the head the reader
/// read; per bucket, the epochs together hold at most what the summed counts
/// hold.
fn check_histogram_reader(view: &HistogramView, slots: u64, now_e: u64) {
    let (head, rows, totals) = view;
    let epochs: Vec<u64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(epochs, expected_epochs(*head, slots, now_e), "{view:?}");
    for (b, total) in totals.iter().enumerate() {
        assert!(
            rows.iter().map(|r| r.1[b]).sum::<u64>() <= *total,
            "{view:?}"
        );
    }
}

/// An observation on one stripe, before another stripe's writer closes its
/// epoch, is credited to that epoch (the close reads every stripe's count); a
/// reader racing the close never counts it twice.
#[test]
fn a_close_counts_every_stripe() {
    model(|| {
        let s = histogram(4);
        observe(&s, 1, 0.5, 9);
        let w = {
            let s = s.clone();
            thread::spawn(move || observe(&s, 0, 5.0, 10))
        };
        let r = {
            let s = s.clone();
            thread::spawn(move || {
                let view = histogram_view(&s.s, 10);
                check_histogram_reader(&view, 4, 1);
                assert!(view.1.iter().map(|r| r.1[0]).sum::<u64>() <= 1, "{view:?}");
            })
        };
        w.join().unwrap();
        r.join().unwrap();
        let view = histogram_view(&s.s, 10);
        assert_eq!(view.2, [1, 1], "{view:?}");
        assert_eq!(view.1, [(0, vec![1, 0]), (1, vec![0, 1])], "{view:?}");
    });
}

/// Observations on two stripes racing an epoch boundary are counted once
/// each, in their own epoch or the neighbouring one; the one that starts epoch
/// 1 is in it.
#[test]
fn stripes_racing_a_close_are_counted_once() {
    model(|| {
        let s = histogram(4);
        let a = {
            let s = s.clone();
            thread::spawn(move || observe(&s, 0, 0.5, 9))
        };
        let b = {
            let s = s.clone();
            thread::spawn(move || observe(&s, 1, 5.0, 10))
        };
        a.join().unwrap();
        b.join().unwrap();
        let view = histogram_view(&s.s, 10);
        check_histogram_reader(&view, 4, 1);
        assert_eq!((view.0, &view.2), (1, &vec![1, 1]), "{view:?}");
        let inc = &view.1;
        assert_eq!(inc[0].1[1] + inc[1].1[1], 1, "{view:?}");
        assert_eq!(inc[1].1[1], 1, "{view:?}");
        assert_eq!(inc[0].1[0] + inc[1].1[0], 1, "{view:?}");
    });
}

/// More observers than stripes: slots 0 and 2 share stripe 0 of a
/// two-stripe histogram; both observe into one bucket, the second starting
/// epoch 1. Both are counted once, and the bucket's history holds both, the
/// starter's in epoch 1.
#[test]
fn observers_sharing_a_stripe_are_counted_once() {
    model(|| {
        let s = histogram(4);
        let a = {
            let s = s.clone();
            thread::spawn(move || observe(&s, 0, 0.5, 9))
        };
        let b = {
            let s = s.clone();
            thread::spawn(move || observe(&s, 2, 0.5, 10))
        };
        a.join().unwrap();
        b.join().unwrap();
        let view = histogram_view(&s.s, 10);
        check_histogram_reader(&view, 4, 1);
        assert_eq!((view.0, &view.2), (1, &vec![2, 0]), "{view:?}");
        let inc = &view.1;
        assert_eq!(inc[0].1[0] + inc[1].1[0], 2, "{view:?}");
        assert!(inc[1].1[0] >= 1, "{view:?}");
    });
}
