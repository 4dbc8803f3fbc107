//! Gauges: the current value beside, per epoch, the value it opened with and the
//! least and greatest values set in it.
//!
//! A `set` first folds the value into the history of the epoch its slot holds,
//! then stores it as the current value. So a value is in the history no later than
//! it is current, and a `set` stalled before its fold (even for a whole lap) folds
//! into whatever epoch the slot holds when it resumes, which is then when the
//! value becomes current: a point never shows a value that the gauge had stopped
//! holding before the point's epoch began (the issue "a writer past `holds()` folds
//! into the slot's next lap" is tested in `tests/loom_gauge.rs`).
//!
//! The last value of an epoch is not stored on every `set`: it is the value the
//! next started epoch opened with, or the current value for the newest epoch.
//!
//! Stated limits: a value set while another writer holds the slot BUSY (three
//! stores at an epoch's start) goes to the previous epoch's point when that slot
//! still holds the previous epoch, otherwise only to the current value (and so to
//! the next epoch's `open`). `add`/`sub` change the value first (they need the old
//! one) and fold after.

use std::sync::Arc;
use std::time::Duration;

use super::seqlock::{Begin, SlotTag};
use super::state::{SeriesState, StateData};
use super::window::{window_epochs, TimeRange};
use crate::family::Shared;
use crate::retention::Geometry;
use crate::sync::{mutant, ord, AtomicU64, Ordering};

/// One gauge slot: the value when the epoch started and min/max set in it (as
/// ordered images).
#[derive(Debug, Default)]
struct GaugeSlot {
    tag: SlotTag,
    open: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
}

/// A gauge's state: its value and per-epoch open/min/max.
///
/// Memory: 48 bytes inline plus 32 bytes per epoch. The ring's shape is the
/// family's: one pointer to what the family's series share (shape, name,
/// clock), not a copy.
#[derive(Debug)]
pub struct GaugeCore {
    value: AtomicU64,
    cursor: Cursor,
    ring: Box<[GaugeSlot]>,
    shared: Arc<Shared>,
    last_epoch: AtomicU64,
}

/// One epoch of a gauge's history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaugePoint {
    /// Start of the epoch, ns since the Unix epoch.
    pub start: u64,
    /// The value when the epoch ended (for the newest epoch, the current value).
    pub last: f64,
    /// The smallest value set in the epoch (NaN if only NaN was set).
    pub min: f64,
    /// The largest value set in the epoch (NaN if only NaN was set).
    pub max: f64,
}

/// The epoch and slot of the last recording, packed as `epoch << 12 | slot`, so
/// that a recording in the same epoch (nearly all of them) finds both with one
/// multiply and a compare. Always verified against `now`, so a stale or racing
/// value only costs the slow computation, never a wrong slot.
#[derive(Debug)]
struct Cursor(AtomicU64);

const SLOT_BITS: u32 = 12;

impl Cursor {
    fn new(g: &Geometry, now: u64) -> Cursor {
        // Epoch 0 of slot 0 until `relocate` stores the real one (a hint whose
        // check fails for any realistic `now`, unless epoch 0 spans all time, as
        // with `Retention::NONE`, where it is right).
        let c = Cursor(AtomicU64::new(0));
        c.relocate(g, now);
        c
    }

    #[inline]
    fn locate(&self, g: &Geometry, now: u64) -> (u64, usize) {
        // Relaxed: a hint, checked below; nothing is published with it.
        let h = self.0.load(Ordering::Relaxed);
        let e = h >> SLOT_BITS;
        if now.wrapping_sub(e.wrapping_mul(g.width_nanos())) < g.width_nanos() {
            return (e, (h & ((1 << SLOT_BITS) - 1)) as usize);
        }
        self.relocate(g, now)
    }

    #[cold]
    #[inline(never)]
    fn relocate(&self, g: &Geometry, now: u64) -> (u64, usize) {
        let e = g.epoch(now);
        let slot = g.slot(e);
        // Epochs stay far below 2^52 for any width of a millisecond or more; the
        // hint is simply not kept beyond that.
        if e < 1 << (64 - SLOT_BITS) && slot < 1 << SLOT_BITS {
            self.0
                .store(e << SLOT_BITS | slot as u64, Ordering::Relaxed);
        }
        (e, slot)
    }
}

impl GaugeCore {
    /// A gauge at 0.0, created at `now`.
    pub(crate) fn new(shared: Arc<Shared>, now: u64) -> GaugeCore {
        let geometry = &shared.geometry;
        GaugeCore {
            value: AtomicU64::new(0f64.to_bits()),
            cursor: Cursor::new(geometry, now),
            ring: (0..geometry.len()).map(|_| GaugeSlot::default()).collect(),
            last_epoch: AtomicU64::new(geometry.epoch(now)),
            shared,
        }
    }

    /// Sets the value at time `now`; `fresh` reads the clock again (called only
    /// when the slot is ahead of `now`).
    #[inline]
    pub(crate) fn set(&self, v: f64, now: u64, fresh: impl FnOnce() -> u64) {
        if mutant("gauge.set.store_first") {
            self.value.store(v.to_bits(), Ordering::Relaxed);
        }
        self.note(v, now, fresh, None);
        // Release, after the fold: a thread that sees this value (Acquire in `get`)
        // also sees it folded into the history, so a point never shows a value the
        // gauge had already stopped holding (see the module docs).
        self.value
            .store(v.to_bits(), ord!(Release, "gauge.value.release"));
    }

    /// Adds `d` (may be negative) at time `now`; returns the new value.
    #[inline]
    pub(crate) fn add(&self, d: f64, now: u64, fresh: impl FnOnce() -> u64) -> f64 {
        let mut cur = self.value.load(Ordering::Relaxed);
        let new = loop {
            let new = f64::from_bits(cur) + d;
            // Relaxed: a single word, as in `set`.
            match self.value.compare_exchange_weak(
                cur,
                new.to_bits(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break new,
                Err(now) => cur = now,
            }
        };
        self.note(new, now, fresh, Some(cur));
        new
    }

    /// Folds `v` into the history; `prior` is the value before this writer's own
    /// change when it already made it (`add`), which a start records as the open.
    #[inline]
    fn note(&self, v: f64, now: u64, fresh: impl FnOnce() -> u64, prior: Option<u64>) {
        let (e, i) = self.cursor.locate(&self.shared.geometry, now);
        let Some(slot) = self.ring.get(i) else {
            return;
        };
        if slot.tag.holds(e) {
            Self::fold(slot, v);
        } else {
            self.start(slot, e, v, fresh, prior);
        }
    }

    #[inline]
    fn fold(slot: &GaugeSlot, v: f64) {
        if v.is_nan() {
            return;
        }
        let o = f64_to_ordered(v);
        // Relaxed RMWs: they continue the release sequence of the start's Release
        // stores, which is what readers synchronize with. Plain loads first: a
        // value inside [min, max] (the common case) costs no RMW at all.
        if o < slot.min.load(Ordering::Relaxed) {
            slot.min.fetch_min(o, Ordering::Relaxed);
        }
        if o > slot.max.load(Ordering::Relaxed) {
            slot.max.fetch_max(o, Ordering::Relaxed);
        }
    }

    #[cold]
    #[inline(never)]
    fn start(
        &self,
        slot: &GaugeSlot,
        e: u64,
        v: f64,
        fresh: impl FnOnce() -> u64,
        prior: Option<u64>,
    ) {
        let mut begun = slot.tag.begin(e, false);
        if let Begin::Newer(y) = begun {
            // Ahead of this reading: a slow writer folds into the newer epoch (it
            // was still running then); a clock that went back restarts the slot.
            // `begin` read the tag with Acquire: the clock is read after it, as in
            // `Rows::catch_up`.
            if self.shared.geometry.epoch(fresh()).saturating_add(1) < y {
                begun = slot.tag.begin(e, true);
            }
        }
        match begun {
            Begin::Started => {
                let (lo, hi) = if v.is_nan() {
                    (u64::MAX, 0)
                } else {
                    (f64_to_ordered(v), f64_to_ordered(v))
                };
                // The value before this writer's own change: what the epoch opened with.
                let open = prior.unwrap_or_else(|| self.value.load(Ordering::Relaxed));
                let rel = ord!(Release, "gauge.init.release");
                // Release: read by `read`'s Acquire loads (see `seqlock`).
                slot.open.store(open, rel);
                slot.min.store(lo, rel);
                slot.max.store(hi, rel);
                slot.tag.publish(e);
                // Relaxed: an advisory timestamp for idle detection.
                self.last_epoch.fetch_max(e, Ordering::Relaxed);
            }
            Begin::Current | Begin::Newer(_) => Self::fold(slot, v),
            Begin::Busy => {
                // Another writer is starting this slot: the value lands in the
                // previous epoch when its slot still holds it.
                if let Some(prev) = self.ring.get(self.shared.geometry.slot(e.wrapping_sub(1))) {
                    if e > 0 && prev.tag.holds(e - 1) {
                        Self::fold(prev, v);
                    }
                }
            }
        }
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> f64 {
        // Acquire: pairs with the Release store in `set` (a plain load on x86).
        f64::from_bits(self.value.load(ord!(Acquire, "gauge.get.acquire")))
    }

    /// The ring's shape.
    pub fn geometry(&self) -> Geometry {
        self.shared.geometry
    }

    /// What the family's series share.
    #[inline]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The newest epoch in which the gauge was created or started a slot.
    pub fn last_epoch(&self) -> u64 {
        self.last_epoch.load(Ordering::Relaxed)
    }

    /// Bytes this gauge occupies (inline and on the heap), fixed at creation.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + std::mem::size_of_val(&*self.ring)
    }

    /// The heap allocations a gauge of this ring shape makes besides its inline
    /// state: the slots.
    pub(crate) fn allocations_for(g: &Geometry) -> [usize; 2] {
        [g.len() * std::mem::size_of::<GaugeSlot>(), 0]
    }

    /// Calls `f(epoch, open, min, max)` for every slot holding an epoch in
    /// `[first, last]`, oldest first.
    fn slots(&self, first: u64, last: u64, mut f: impl FnMut(u64, f64, f64, f64)) {
        let g = &self.shared.geometry;
        let first = first.max(g.oldest_retained(last));
        for x in first..=last {
            let s = &self.ring[g.slot(x)];
            let acq = ord!(Acquire, "gauge.read.payload.acquire");
            let got = s
                .tag
                .read(|| (s.open.load(acq), s.min.load(acq), s.max.load(acq)));
            if let Some((se, (open, lo, hi))) = got {
                if se == x {
                    let (min, max) = if lo == u64::MAX && hi == 0 {
                        (f64::NAN, f64::NAN)
                    } else {
                        (ordered_to_f64(lo), ordered_to_f64(hi))
                    };
                    f(x, f64::from_bits(open), min, max);
                }
            }
        }
    }

    /// Calls `f(epoch, point)` for every retained epoch in which the gauge was set,
    /// oldest first; `last` is the next point's `open`, or the current value.
    fn points(&self, now: u64, mut f: impl FnMut(u64, GaugePoint)) {
        let g = self.shared.geometry;
        if g.is_lifetime() {
            // No history (`Retention::NONE`): nothing to report or save.
            return;
        }
        let now_e = g.epoch(now);
        let mut prev: Option<(u64, f64, f64)> = None;
        self.slots(g.oldest_retained(now_e), now_e, |x, open, min, max| {
            if let Some((px, pmin, pmax)) = prev.replace((x, min, max)) {
                f(px, point(&g, px, open, pmin, pmax));
            }
        });
        if let Some((px, pmin, pmax)) = prev {
            f(px, point(&g, px, self.get(), pmin, pmax));
        }
    }

    /// Calls `f` for each epoch in `range` in which the gauge was set, oldest first.
    pub fn for_each_point(&self, now: u64, range: TimeRange, mut f: impl FnMut(GaugePoint)) {
        let w = self.shared.geometry.width_nanos();
        self.points(now, |_, p| {
            if range.overlaps(p.start, w) {
                f(p);
            }
        });
    }

    /// The largest value set in the epochs covering `(now - window, now]`, or the
    /// current value if none was set then.
    pub fn max_over(&self, now: u64, window: Duration) -> f64 {
        self.fold_over(now, window, |_, max| max, f64::max)
    }

    /// The smallest value set in the epochs covering `(now - window, now]`, or the
    /// current value if none was set then.
    pub fn min_over(&self, now: u64, window: Duration) -> f64 {
        self.fold_over(now, window, |min, _| min, f64::min)
    }

    fn fold_over(
        &self,
        now: u64,
        window: Duration,
        pick: impl Fn(f64, f64) -> f64,
        join: impl Fn(f64, f64) -> f64,
    ) -> f64 {
        let (first, last) = window_epochs(&self.shared.geometry, now, window);
        let mut acc: Option<f64> = None;
        self.slots(first, last, |_, _, min, max| {
            let v = pick(min, max);
            if !v.is_nan() {
                acc = Some(acc.map_or(v, |a| join(a, v)));
            }
        });
        acc.unwrap_or_else(|| self.get())
    }

    /// Every retained point at `now` with its epoch: `(epoch, last, min, max)`.
    #[cfg(loom)]
    pub(crate) fn loom_view(&self, now: u64) -> Vec<(u64, f64, f64, f64)> {
        let mut v = Vec::new();
        self.points(now, |e, p| v.push((e, p.last, p.min, p.max)));
        v
    }

    /// The saved state at `now` (history limited to retained epochs).
    pub(crate) fn capture(&self, now: u64) -> (Vec<u64>, StateData) {
        let mut pts = Vec::new();
        self.points(now, |e, p| pts.push((e, p)));
        (
            pts.iter().map(|(e, _)| *e).collect(),
            StateData::Gauge {
                value: self.get(),
                last: pts.iter().map(|(_, p)| p.last).collect(),
                min: pts.iter().map(|(_, p)| p.min).collect(),
                max: pts.iter().map(|(_, p)| p.max).collect(),
            },
        )
    }

    /// Loads saved state (history too if `history`) into this fresh, unshared
    /// gauge; saved epochs after its creation epoch are dropped. Returns false, and
    /// changes nothing, if `state` is not a gauge's or its columns disagree.
    pub(crate) fn restore(&self, state: &SeriesState, history: bool) -> bool {
        let StateData::Gauge {
            value,
            last,
            min,
            max,
        } = &state.data
        else {
            return false;
        };
        let n = state.epochs.len();
        if last.len() != n || min.len() != n || max.len() != n {
            return false;
        }
        if history {
            let now_e = self.last_epoch();
            for (k, &e) in state.epochs.iter().enumerate() {
                if e > now_e {
                    break;
                }
                let Some(slot) = self.ring.get(self.shared.geometry.slot(e)) else {
                    continue;
                };
                if slot.tag.begin(e, true) == Begin::Started {
                    let (lo, hi) = if min[k].is_nan() || max[k].is_nan() {
                        (u64::MAX, 0)
                    } else {
                        (f64_to_ordered(min[k]), f64_to_ordered(max[k]))
                    };
                    // The epoch opened with the previous epoch's last value.
                    let open = if k > 0 { last[k - 1] } else { last[k] };
                    slot.open.store(open.to_bits(), Ordering::Relaxed);
                    slot.min.store(lo, Ordering::Relaxed);
                    slot.max.store(hi, Ordering::Relaxed);
                    slot.tag.publish(e);
                }
            }
        }
        self.value.store(value.to_bits(), Ordering::Relaxed);
        true
    }
}

fn point(g: &Geometry, e: u64, last: f64, min: f64, max: f64) -> GaugePoint {
    GaugePoint {
        start: g.epoch_start(e),
        last,
        min,
        max,
    }
}

/// Order-preserving image of an `f64` as a `u64`, so that `fetch_min`/`fetch_max` on
/// the image give the min/max of the values (for every non-NaN value, `-0.0 < 0.0`).
#[inline]
pub(crate) fn f64_to_ordered(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// Inverse of [`f64_to_ordered`].
#[inline]
pub(crate) fn ordered_to_f64(o: u64) -> f64 {
    if o >> 63 == 1 {
        f64::from_bits(o & !(1 << 63))
    } else {
        f64::from_bits(!o)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const W: u64 = 1_000;

    fn set(g: &GaugeCore, v: f64, now: u64) {
        g.set(v, now, || now);
    }

    #[test]
    fn gauge_points_and_extremes() {
        let g = GaugeCore::new(Shared::detached(Geometry::new(W, 4)), 0);
        set(&g, 5.0, 0);
        set(&g, -2.0, 1);
        g.add(10.0, 2, || 2);
        set(&g, f64::NAN, 3);
        set(&g, 1.0, W);
        let mut pts = Vec::new();
        g.for_each_point(W, TimeRange::ALL, |p| pts.push((p.last, p.min, p.max)));
        assert_eq!(pts.len(), 2);
        // NaN is the last value set in epoch 0, but takes no part in min/max.
        assert!(pts[0].0.is_nan());
        assert_eq!((pts[0].1, pts[0].2), (-2.0, 8.0));
        assert_eq!(pts[1], (1.0, 1.0, 1.0));
        assert_eq!(g.max_over(W, Duration::from_nanos(W)), 8.0);
        assert_eq!(g.min_over(W + 5, Duration::from_nanos(1)), 1.0);
        assert_eq!(g.min_over(W + 5, Duration::from_nanos(W)), -2.0);
        // Nothing set in the window: the current value.
        set(&g, 3.0, W + 1);
        assert_eq!(g.max_over(2 * W + 5, Duration::from_nanos(1)), 3.0);
    }

    #[test]
    fn a_clock_that_went_back_restarts_slots() {
        let g = GaugeCore::new(Shared::detached(Geometry::new(W, 4)), 100 * W);
        set(&g, 9.0, 100 * W);
        set(&g, 1.0, 80 * W);
        set(&g, 2.0, 81 * W);
        let mut pts = Vec::new();
        g.for_each_point(81 * W, TimeRange::ALL, |p| pts.push((p.start, p.max)));
        assert_eq!(pts, [(80 * W, 1.0), (81 * W, 2.0)]);
    }

    #[test]
    fn ordered_image_preserves_order() {
        let vals = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            1.0,
            1e300,
            f64::INFINITY,
        ];
        for w in vals.windows(2) {
            assert!(f64_to_ordered(w[0]) < f64_to_ordered(w[1]), "{w:?}");
        }
        for v in vals {
            assert_eq!(ordered_to_f64(f64_to_ordered(v)).to_bits(), v.to_bits());
        }
    }
}
