//! Counters: an exact total beside one 8-byte base per epoch.

use std::sync::Arc;
use std::time::Duration;

use super::ring::{suffix_min, widen, Filled, Rows};
use super::state::{restored_epochs, Restored, SeriesState, StateData};
use super::window::{window_epochs, window_span, with_scratch, TimeRange};
use crate::family::Shared;
use crate::retention::Geometry;
use crate::sync::{AtomicU64, Ordering};

/// A counter's state: an exact total and, per epoch of its ring, the total when
/// the epoch started (see [`super::ring`]).
///
/// Memory: 24 bytes inline (the total and two pointers) and, with history, a
/// block of 8 bytes per epoch plus 8 for the ring's head; without history
/// (`Retention::NONE`) no block. The ring's shape is the family's: one pointer
/// to what the family's series share (shape, name, clock), not a copy.
#[derive(Debug)]
pub struct CounterCore {
    total: AtomicU64,
    rows: Rows<1>,
    shared: Arc<Shared>,
}

impl Drop for CounterCore {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: the rows were made with the family's shape, which never
        // changes, from its slab, and are not used again.
        unsafe {
            self.rows
                .free(&self.shared.geometry, Some(&self.shared.rings))
        }
    }
}

/// One epoch of a counter's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterPoint {
    /// Start of the epoch, ns since the Unix epoch.
    pub start: u64,
    /// How much the counter grew in the epoch.
    pub increase: u64,
}

impl CounterCore {
    /// A counter at zero, created at `now`.
    pub(crate) fn new(shared: Arc<Shared>, now: u64) -> CounterCore {
        let g = &shared.geometry;
        CounterCore {
            total: AtomicU64::new(0),
            rows: Rows::new(g, g.epoch(now), |_| 0, Some(&shared.rings)),
            shared,
        }
    }

    /// What the family's series share.
    #[inline]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Adds `n` at time `now`. `fresh` reads the clock again; it is called only
    /// when the ring is ahead of `now` (a stale reading, or a clock that went back).
    #[inline]
    pub(crate) fn inc_by(&self, n: u64, now: u64, fresh: impl FnOnce() -> u64) {
        // The head is checked before the add: both compare with `now`, read
        // before either, so the order changes nothing but lets the head's loads
        // (through the shared shape and the ring's block) run beside the add,
        // where after it they would wait for it.
        let current = self.rows.current(&self.shared.geometry, now).is_some();
        // Relaxed: the total is one word; the only thing published with a base is
        // the base itself (see `ring`).
        let prev = self.total.fetch_add(n, Ordering::Relaxed);
        if prev.checked_add(n).is_none() {
            self.saturate();
        }
        if !current {
            self.start(now, prev, fresh);
        }
    }

    /// After an add that wrapped past `u64::MAX`: the total saturates there.
    /// Every add after this store starts from `u64::MAX`, so it wraps too and
    /// stores again; an add between the wrap and this store is overwritten.
    /// Until the store, a reader can see the wrapped value.
    #[cold]
    #[inline(never)]
    fn saturate(&self) {
        // Relaxed: one word, as the add.
        self.total.store(u64::MAX, Ordering::Relaxed);
    }

    #[cold]
    #[inline(never)]
    fn start(&self, now: u64, base: u64, fresh: impl FnOnce() -> u64) {
        let g = &self.shared.geometry;
        if self.rows.fill(g, g.epoch(now), |_| base, |_, _, _| {}) == Filled::Behind {
            self.rows.catch_up(g, fresh, |_| base, |_, _| {});
        }
    }

    /// The cumulative total.
    #[inline]
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// The ring's shape.
    pub fn geometry(&self) -> Geometry {
        self.shared.geometry
    }

    /// The newest epoch in which the counter was created or recorded.
    pub fn last_epoch(&self) -> u64 {
        self.rows.head_hint()
    }

    /// Bytes this counter occupies (inline and on the heap), fixed at creation.
    /// The ring's shape, shared with the family, is not counted.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.rows.heap_bytes(&self.shared.geometry)
    }

    /// Calls `f` with `[epoch, base, epoch, base, ...]` for every retained epoch
    /// from `from` up to the head (oldest first), bases made monotone, and the
    /// total they end at.
    ///
    /// Only epochs from `from` on are read: a base is made monotone against the
    /// bases after it, never before, so a window needs nothing older.
    fn with_bases<R>(&self, now: u64, from: u64, f: impl FnOnce(&[u64], u64, u64) -> R) -> R {
        let g = &self.shared.geometry;
        let now_e = g.epoch(now);
        let head = self.rows.head();
        let last = head.min(now_e);
        let first = from
            .max(g.oldest_retained(now_e))
            .max(g.oldest_retained(head));
        with_scratch(|buf| {
            self.rows
                .read_run(g, first, last, |x, row| buf.extend_from_slice(&[x, row[0]]));
            // Total after the bases: every base a reader can see is a value the
            // total had before (see `ring`), up to racing writers' bases, which
            // `suffix_min` clamps.
            let total = self.total();
            for p in buf.chunks_exact_mut(2) {
                p[1] = widen(total, p[1]);
            }
            suffix_min(buf.chunks_exact_mut(2).map(|p| &mut p[1]), total);
            f(buf, total, head)
        })
    }

    /// Calls `f` for each epoch in `range` in which the counter grew, oldest first.
    pub fn for_each_point(&self, now: u64, range: TimeRange, mut f: impl FnMut(CounterPoint)) {
        let g = self.shared.geometry;
        if g.is_lifetime() {
            // No history (`Retention::NONE`): nothing to report.
            return;
        }
        let from = range.start.map_or(0, |s| g.epoch(s));
        self.with_bases(now, from, |bases, total, _| {
            let mut it = bases.chunks_exact(2).peekable();
            while let Some(p) = it.next() {
                let next = it.peek().map_or(total, |n| n[1]);
                let start = g.epoch_start(p[0]);
                if next > p[1] && range.overlaps(start, g.width_nanos()) {
                    f(CounterPoint {
                        start,
                        increase: next - p[1],
                    });
                }
            }
        });
    }

    /// Per-second rate over the epochs covering `(now - window, now]`: their
    /// increase divided by the time they span up to `now`, before `created`
    /// included (see `Counter::rate`); without history, the total divided by
    /// the time since `created`. 0 when no time is covered.
    pub fn rate(&self, now: u64, window: Duration, created: u64) -> f64 {
        let g = &self.shared.geometry;
        let from = if g.is_lifetime() { created } else { 0 };
        let secs = window_span(g, now, window, from).duration().as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        self.increase(now, window) as f64 / secs
    }

    /// The increase over the epochs covering `(now - window, now]`.
    pub fn increase(&self, now: u64, window: Duration) -> u64 {
        let (first, _) = window_epochs(&self.shared.geometry, now, window);
        self.with_bases(now, first, |bases, total, _| {
            bases.get(1).map_or(0, |b| total - b)
        })
    }

    /// What a reader sees at `now`: the head it read, every retained epoch's
    /// base up to it (monotone) and the total.
    #[cfg(loom)]
    pub(crate) fn loom_view(&self, now: u64) -> (u64, Vec<(u64, u64)>, u64) {
        self.with_bases(now, 0, |rows, total, head| {
            (
                head,
                rows.chunks_exact(2).map(|p| (p[0], p[1])).collect(),
                total,
            )
        })
    }

    /// The saved state at `now`: the total, and the base of every retained epoch
    /// in which the counter grew, plus the newest.
    pub(crate) fn capture(&self, now: u64) -> (Vec<u64>, StateData) {
        let mut epochs = Vec::new();
        let mut bases = Vec::new();
        if self.shared.geometry.is_lifetime() {
            return (
                epochs,
                StateData::Counter {
                    total: self.total(),
                    bases,
                },
            );
        }
        let total = self.with_bases(now, 0, |rows, total, _| {
            let mut it = rows.chunks_exact(2).peekable();
            while let Some(p) = it.next() {
                let next = it.peek().map(|n| n[1]);
                if next.is_none_or(|n| n > p[1]) {
                    epochs.push(p[0]);
                    bases.push(p[1]);
                }
            }
            total
        });
        (epochs, StateData::Counter { total, bases })
    }

    /// Loads saved state (history too if `history`) into this fresh, unshared
    /// counter. Saved epochs after the counter's creation epoch (a checkpoint from
    /// a clock that was ahead) are dropped. Returns false, and changes nothing, if
    /// `state` is not a counter's or its columns disagree.
    pub(crate) fn restore(&self, state: &SeriesState, history: bool) -> bool {
        let StateData::Counter { total, bases } = &state.data else {
            return false;
        };
        if bases.len() != state.epochs.len() {
            return false;
        }
        let g = &self.shared.geometry;
        for (x, from) in restored_epochs(g, self.rows.head_hint(), &state.epochs, history) {
            let b = match from {
                Restored::Saved(i) => bases[i].min(*total),
                Restored::Cumulative => *total,
                Restored::Zero => 0,
            };
            self.rows.put(g, x, [b]);
        }
        self.total.store(*total, Ordering::Relaxed);
        true
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const W: u64 = 1_000;

    fn inc(c: &CounterCore, n: u64, now: u64) {
        c.inc_by(n, now, || now);
    }

    #[test]
    fn counter_points_per_epoch() {
        let c = CounterCore::new(Shared::detached(Geometry::new(W, 4)), 0);
        inc(&c, 1, 0);
        inc(&c, 2, 10);
        inc(&c, 4, 2 * W + 5);
        let mut pts = Vec::new();
        c.for_each_point(3 * W, TimeRange::ALL, |p| pts.push((p.start, p.increase)));
        assert_eq!(pts, [(0, 3), (2 * W, 4)]);
        // A window covers the epochs from the one holding `now - window` to now's.
        assert_eq!(c.increase(3 * W, Duration::ZERO), 0);
        assert_eq!(c.increase(3 * W, Duration::from_nanos(1)), 4);
        assert_eq!(c.increase(3 * W, Duration::from_nanos(2 * W)), 4);
        assert_eq!(c.increase(3 * W, Duration::from_nanos(3 * W)), 7);
        // Epoch 0 leaves the window at epoch 4.
        let mut pts = Vec::new();
        c.for_each_point(4 * W, TimeRange::ALL, |p| pts.push((p.start, p.increase)));
        assert_eq!(pts, [(2 * W, 4)]);
        assert_eq!(c.total(), 7);
    }

    #[test]
    fn idle_laps_leave_no_history() {
        let c = CounterCore::new(Shared::detached(Geometry::new(W, 3)), 0);
        inc(&c, 5, 0);
        inc(&c, 1, 100 * W);
        assert_eq!(c.increase(100 * W, Duration::from_nanos(3 * W)), 1);
        let mut pts = Vec::new();
        c.for_each_point(100 * W, TimeRange::ALL, |p| pts.push((p.start, p.increase)));
        assert_eq!(pts, [(100 * W, 1)]);
    }

    #[test]
    fn a_clock_that_went_back_restarts_history() {
        let c = CounterCore::new(Shared::detached(Geometry::new(W, 6)), 1_000 * W);
        inc(&c, 3, 1_000 * W);
        // The clock steps back 20 epochs and stays there.
        let back = 980 * W;
        for k in 0..12 {
            let now = back + k * W / 2;
            c.inc_by(5, now, || now);
        }
        assert_eq!(c.total(), 63);
        // Two recordings an epoch, in epochs 980 to 985.
        let now = back + 6 * W - 1;
        assert_eq!(c.increase(now, Duration::from_nanos(6 * W)), 60);
        assert_eq!(c.increase(now, Duration::from_nanos(3 * W)), 40);
    }

    #[test]
    fn capture_and_restore_round_trip() {
        let g = Shared::detached(Geometry::new(W, 4));
        let c = CounterCore::new(g.clone(), 0);
        inc(&c, 1, 0);
        inc(&c, 2, W);
        inc(&c, 4, 3 * W);
        let (epochs, data) = c.capture(3 * W);
        assert_eq!(epochs, [0, 1, 3]);
        let state = SeriesState {
            created: 0,
            epochs,
            data,
        };
        let d = CounterCore::new(g, 3 * W + 1);
        assert!(d.restore(&state, true));
        let pts = |c: &CounterCore| {
            let mut v = Vec::new();
            c.for_each_point(3 * W + 2, TimeRange::ALL, |p| v.push((p.start, p.increase)));
            v
        };
        assert_eq!(pts(&d), pts(&c));
        assert_eq!(d.total(), 7);
    }

    #[test]
    fn restore_drops_epochs_after_now() {
        let g = Shared::detached(Geometry::new(W, 6));
        let state = SeriesState {
            created: 0,
            epochs: vec![100, 101],
            data: StateData::Counter {
                total: 10,
                bases: vec![2, 6],
            },
        };
        // Restored into a process whose clock is at epoch 50.
        let c = CounterCore::new(g, 50 * W);
        assert!(c.restore(&state, true));
        assert_eq!(c.total(), 10);
        for k in 0..12 {
            inc(&c, 5, 50 * W + k * W / 2);
        }
        assert_eq!(c.increase(56 * W - 1, Duration::from_nanos(6 * W)), 60);
    }
}
