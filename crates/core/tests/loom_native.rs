//! loom: native histogram buckets. Writers claim and increment table entries at
//! the schema they loaded; the writer whose claim passes the bucket limit halves
//! the resolution and migrates the finer entries; readers take a seqlock copy and
//! merge it down. Two writers and the reader (the model's main thread) make
//! three threads, under a preemption bound of 3.
#![cfg(loom)]

mod loom_common;

use lakemetrics_core::loom_hooks::{native, native_view, observe_native, Geometry};
use lakemetrics_core::{native_index, reduce_index, NativeCore, NativeSnapshot};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_common::{model, Clocked};

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
