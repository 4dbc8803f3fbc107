//! What the loom models share: the model builder, a series beside the shared
//! test clock, and the epochs a reader must find.
#![allow(dead_code)]

use loom::sync::atomic::{AtomicU64, Ordering};
use loom::sync::Arc;

/// Epochs 10 ns wide.
pub const W: u64 = 10;

/// Runs `f` under loom with a preemption bound of 3.
pub fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

/// A series and the clock its writers share: a fresh reading returns `clock`.
pub struct Clocked<T> {
    pub s: T,
    pub clock: AtomicU64,
}

impl<T> Clocked<T> {
    pub fn new(s: T, now: u64) -> Arc<Clocked<T>> {
        Arc::new(Clocked {
            s,
            clock: AtomicU64::new(now),
        })
    }

    /// Moves the clock forward to `now`, as time does, before a recording at `now`.
    pub fn tick(&self, now: u64) {
        self.clock.fetch_max(now, Ordering::Relaxed);
    }
}

/// The epochs a reader that read head `head` at epoch `now_e` must find, in a
/// ring of `slots`: every retained one (one lap back from now and from the head)
/// up to the head.
pub fn expected_epochs(head: u64, slots: u64, now_e: u64) -> Vec<u64> {
    let last = head.min(now_e);
    let first = (head + 1)
        .saturating_sub(slots)
        .max((now_e + 1).saturating_sub(slots));
    (first..=last).collect()
}
