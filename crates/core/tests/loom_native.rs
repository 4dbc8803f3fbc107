//! loom: native histogram buckets. Writers claim and increment table entries at
//! the schema they loaded; the writer whose claim passes the bucket limit halves
//! the resolution and migrates the finer entries (and their bases); readers take
//! a seqlock copy and merge it down. With history, the writer that takes the
//! schema word to start an epoch closes the open one (crediting each entry's
//! increase over its base to it) before the fill publishes the head; history
//! readers take a seqlock copy of the bins, bases and open epoch. At most three
//! threads, under a preemption bound of 3.
#![cfg(loom)]

mod loom_common;

use lakemetrics_core::loom_hooks::{
    native, native_epochs, native_head, native_view, native_with_bins, observe_native, Geometry,
};
use lakemetrics_core::{native_index, reduce_index, NativeCore, NativeSnapshot};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_common::{model, Clocked, W};

/// The observations: indexes 0, 1, 2 at schema 0, so three buckets for a limit
/// of two, and 0, 1, 1 at every schema from -1 down (a racing writer that
/// recorded at a stale schema may make the entries pass the limit again, and a
/// second reduction follow).
const VALUES: [f64; 3] = [1.0, 2.0, 4.0];
const FINAL: [(i32, u64); 2] = [(0, 1), (1, 2)];

/// The snapshot's positive buckets merged down to schema -1 (or its own, if
/// coarser, where the observations' buckets are the same).
fn at_minus_one(s: &NativeSnapshot) -> Vec<(i32, u64)> {
    let d = (s.schema + 1).max(0) as u32;
    let mut out: Vec<(i32, u64)> = Vec::new();
    for &(i, c) in &s.positive {
        let i = reduce_index(i, d);
        match out.last_mut() {
            Some(l) if l.0 == i => l.1 += c,
            _ => out.push((i, c)),
        }
    }
    out
}

#[test]
fn the_observations_share_buckets_from_schema_minus_one_down() {
    for s in -4..=-1 {
        let idx: Vec<i32> = VALUES.iter().map(|&v| native_index(v, s)).collect();
        assert_eq!(idx, [0, 1, 1]);
    }
}

fn setup() -> Arc<(Clocked<NativeCore>, AtomicBool)> {
    // Schema 0, at most 2 buckets (a table of 4 entries), no history.
    Arc::new((
        Clocked {
            s: native(0, 2, Geometry::lifetime(), 0),
            clock: loom::sync::atomic::AtomicU64::new(0),
        },
        AtomicBool::new(false),
    ))
}

/// A reduction racing a writer and a reader: the reader's copy never shows an
/// observation twice (a bucket moved but its old entry still counted) or not at
/// all (an old entry freed but its count not yet moved), and after everything
/// the buckets are exactly the observations at schema -1.
#[test]
fn a_reduction_racing_writers_and_a_reader_moves_every_count_once() {
    model(|| {
        let s = setup();
        observe_native(&s.0.s, VALUES[0], 0, &s.0.clock);
        let a = {
            let s = s.clone();
            thread::spawn(move || {
                observe_native(&s.0.s, VALUES[1], 0, &s.0.clock);
                // Release: the reader that sees it sees both observations.
                s.1.store(true, Ordering::Release);
            })
        };
        let b = {
            let s = s.clone();
            thread::spawn(move || observe_native(&s.0.s, VALUES[2], 0, &s.0.clock))
        };
        let a_done = s.1.load(Ordering::Acquire);
        let view = native_view(&s.0.s);
        let merged = at_minus_one(&view);
        // Never more than observed, bucket by bucket.
        for &(i, c) in &merged {
            let most = FINAL.iter().find(|f| f.0 == i).map_or(0, |f| f.1);
            assert!(c <= most, "{view:?}");
        }
        // Never less than what happened before the read.
        let before = 1 + u64::from(a_done);
        assert!(view.bucket_total() >= before, "{view:?}");
        a.join().unwrap();
        b.join().unwrap();
        let end = native_view(&s.0.s);
        assert!(end.schema <= -1, "{end:?}");
        assert_eq!(end.positive, FINAL.to_vec(), "{end:?}");
    });
}

/// A writer that loaded the schema before a reduction records at the old schema;
/// a reader merges its entry down, and nothing is lost.
#[test]
fn a_writer_behind_a_reduction_is_merged_down() {
    model(|| {
        let s = setup();
        observe_native(&s.0.s, VALUES[0], 0, &s.0.clock);
        let a = {
            let s = s.clone();
            thread::spawn(move || observe_native(&s.0.s, VALUES[1], 0, &s.0.clock))
        };
        let b = {
            let s = s.clone();
            thread::spawn(move || {
                observe_native(&s.0.s, VALUES[2], 0, &s.0.clock);
                native_view(&s.0.s)
            })
        };
        a.join().unwrap();
        let seen = b.join().unwrap();
        assert!(seen.bucket_total() >= 2, "{seen:?}");
        let end = native_view(&s.0.s);
        assert_eq!(at_minus_one(&end), FINAL.to_vec(), "{end:?}");
        assert_eq!(end.bucket_total(), 3);
    });
}

type History = Vec<(u64, i8, Vec<(f64, u64)>)>;

/// Native buckets at schema 0 with history (4 epochs of `W` ns, 2 bins each)
/// and a limit of `max` buckets, created at 0.
fn with_history(max: u32) -> Arc<Clocked<NativeCore>> {
    Clocked::new(native_with_bins(0, max, Geometry::new(W, 4), 0, 2), 0)
}

fn write(s: &Clocked<NativeCore>, v: f64, now: u64) {
    s.tick(now);
    observe_native(&s.s, v, now, &s.clock);
}

/// Observations of `v`'s bucket in epoch `x` of `h` (bins hold their
/// buckets' middles, at the epoch's schema).
fn count(h: &History, x: u64, v: f64) -> u64 {
    h.iter()
        .filter(|e| e.0 == x)
        .flat_map(|e| {
            let s = e.1;
            e.2.iter()
                .filter(move |b| native_index(b.0, s) == native_index(v, s))
        })
        .map(|b| b.1)
        .sum()
}

fn total(h: &History) -> u64 {
    h.iter().flat_map(|e| &e.2).map(|b| b.1).sum()
}

/// Two writers in epoch 1 while bucket 0 holds one observation of epoch 0: the
/// one that takes the schema word closes epoch 0 and then publishes the head;
/// the other either loses that race (and its observation lands in epoch 0 or
/// 1) or finds the head at 1 and records into epoch 1. A close never counts
/// into epoch 0 what a writer that found epoch 1 started added (the bug of
/// closing after the fill), and every observation is in exactly one epoch.
#[test]
fn a_writer_that_finds_the_epoch_started_records_into_it() {
    model(|| {
        let s = with_history(8);
        write(&s, 1.0, 0);
        let other = {
            let s = s.clone();
            thread::spawn(move || write(&s, 2.0, 10))
        };
        s.tick(10);
        let started = native_head(&s.s) >= 1;
        write(&s, 4.0, 10);
        other.join().unwrap();
        let h = native_epochs(&s.s, 10);
        assert_eq!(total(&h), 3, "{h:?}");
        assert_eq!(count(&h, 0, 1.0), 1, "{h:?}");
        assert_eq!(count(&h, 0, 4.0) + count(&h, 1, 4.0), 1, "{h:?}");
        assert_eq!(count(&h, 0, 2.0) + count(&h, 1, 2.0), 1, "{h:?}");
        if started {
            assert_eq!(count(&h, 1, 4.0), 1, "{h:?}");
        }
    });
}

/// A reader in its own thread racing the close of epoch 0 (bases, bins, open
/// epoch, then the head): it counts the observation of epoch 0 exactly once
/// (never in the bins and again as still open, never in neither) and the
/// racing one at most once.
#[test]
fn a_reader_racing_a_close_counts_each_observation_once() {
    model(|| {
        let s = with_history(2);
        write(&s, 1.0, 0);
        let w = {
            let s = s.clone();
            thread::spawn(move || write(&s, 2.0, 10))
        };
        let r = {
            let s = s.clone();
            thread::spawn(move || native_epochs(&s.s, 10))
        };
        w.join().unwrap();
        let seen = r.join().unwrap();
        assert_eq!(count(&seen, 0, 1.0), 1, "{seen:?}");
        assert_eq!(count(&seen, 1, 1.0), 0, "{seen:?}");
        assert!(total(&seen) <= 2, "{seen:?}");
        let h = native_epochs(&s.s, 10);
        assert_eq!((count(&h, 0, 1.0), count(&h, 1, 2.0)), (1, 1), "{h:?}");
    });
}

/// Two closes by different writers (epoch 0 closed by the writer of epoch 1,
/// epoch 1 by the writer of epoch 2): a writer that saw the first one finished
/// (a Relaxed flag: no synchronization of its own) closes from the bases and
/// open epoch it left, so nothing of epoch 1 is credited to epoch 0 again.
#[test]
fn consecutive_closes_by_different_writers_continue_from_each_other() {
    model(|| {
        let s = Arc::new((with_history(8), AtomicBool::new(false)));
        write(&s.0, 1.0, 0);
        let a = {
            let s = s.clone();
            thread::spawn(move || {
                write(&s.0, 2.0, 10);
                s.1.store(true, Ordering::Relaxed);
            })
        };
        let a_done = s.1.load(Ordering::Relaxed);
        write(&s.0, 4.0, 20);
        a.join().unwrap();
        let h = native_epochs(&s.0.s, 20);
        assert_eq!(total(&h), 3, "{h:?}");
        assert_eq!(count(&h, 0, 1.0), 1, "{h:?}");
        assert_eq!(count(&h, 0, 4.0), 0, "{h:?}");
        if a_done {
            // A closed epoch 0 and opened 1 before the second writer came: its
            // observation is in epoch 1 or (not yet visible to the second
            // close) 2, never in epoch 0.
            assert_eq!(count(&h, 0, 2.0), 0, "{h:?}");
        }
    });
}

/// A reduction after a close by another writer: the migration moves the bases
/// that close left (a Relaxed flag again), so the open epoch's increases are
/// the observations made in it (at the coarser schema), never the closed
/// epoch's again.
#[test]
fn a_reduction_after_a_close_moves_the_bases_it_left() {
    model(|| {
        // A limit of 2: the third bucket halves the resolution.
        let s = Arc::new((with_history(2), AtomicBool::new(false)));
        write(&s.0, 1.0, 0);
        let a = {
            let s = s.clone();
            thread::spawn(move || {
                write(&s.0, 2.0, 10);
                s.1.store(true, Ordering::Relaxed);
            })
        };
        let a_done = s.1.load(Ordering::Relaxed);
        write(&s.0, 4.0, 10);
        a.join().unwrap();
        let h = native_epochs(&s.0.s, 10);
        assert_eq!(total(&h), 3, "{h:?}");
        assert_eq!(count(&h, 0, 1.0), 1, "{h:?}");
        if a_done {
            assert_eq!(count(&h, 0, 2.0) + count(&h, 0, 4.0), 0, "{h:?}");
        }
        // Every bucket once, at schema -1 or coarser (a reduction that found
        // the schema word taken by the close waits for the next claim).
        let end = native_view(&s.0.s);
        assert_eq!(at_minus_one(&end), FINAL.to_vec(), "{end:?}");
    });
}
