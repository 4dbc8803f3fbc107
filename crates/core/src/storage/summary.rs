//! Summaries: exact count and sum, with one sketch per (wide) epoch giving
//! quantiles over a sliding window.
//!
//! The count and sum bases follow [`super::ring`]. Each sketch bucket is a 32-bit
//! word of its own carrying the lap it counts for (its low 4 bits) and the count
//! (28 bits, up to 268 million per bucket per epoch; beyond, observations are
//! counted and summed but no longer sketched):
//! `add` is a CAS that increments the word when it holds the writer's lap, starts
//! it at 1 when it holds an older lap, and increments it when it holds a newer one
//! (the writer stalled past the slot's restart: the observation lands in the epoch
//! current when it takes effect). A fill resets each word of the slot it fills
//! with the same rule as the ring's rows (`claim`): to `(lap, 0)` unless a writer
//! of that lap or a later one got there first. So an observation is never wiped
//! by a restart racing it, and never counted in two epochs.

use std::time::Duration;

use smallvec::SmallVec;

use super::ring::{f64_from_48, f64_to_48, suffix_min, widen, Filled, Rows};
use super::state::{restored_epochs, Restored, SeriesState, StateData};
use super::window::{f64_add, window_epochs, TimeRange};
use crate::retention::Geometry;
use crate::sketch::SketchMapping;
use crate::sync::{mutant, ord, AtomicU32, AtomicU64, Ordering};

/// A summary's state: exact count and sum, and a ring of sketches, one per (wide)
/// epoch, giving quantiles over a sliding window.
///
/// Memory: 4 bytes per sketch bucket per slot (about 2,450 buckets by default:
/// 9.8 KiB a slot), plus 16 bytes of bases per slot.
#[derive(Debug)]
pub struct SummaryCore {
    mapping: SketchMapping,
    count: AtomicU64,
    sum: AtomicU64,
    /// Per slot: the count and the sum (48-bit float) when the epoch started.
    rows: Rows,
    /// Per slot: `mapping.len()` words of (lap, count).
    sketches: Box<[AtomicU32]>,
    geometry: Geometry,
}

/// One (wide) epoch of a summary's history.
#[derive(Debug, Clone, Copy)]
pub struct SummaryPoint<'a> {
    /// Start of the epoch, ns since the Unix epoch.
    pub start: u64,
    /// Observations in the epoch.
    pub count: u64,
    /// Sum of the epoch's observations.
    pub sum: f64,
    core: &'a SummaryCore,
    epoch: u64,
}

impl SummaryPoint<'_> {
    /// The `q`-quantile of the epoch's observations (relative error per the mapping).
    pub fn quantile(&self, q: f64) -> f64 {
        let c = self.core;
        let total = c.sketch_total(self.epoch);
        c.mapping
            .quantile(q, total, |b| c.sketch_count(self.epoch, b))
    }
}

/// Bits of a sketch word's count; its lap tag is above them.
const COUNT_BITS: u32 = 28;
/// The largest count a sketch word holds.
const MAX_COUNT: u32 = (1 << COUNT_BITS) - 1;

/// A sketch word for (the low 4 bits of) lap `lap` holding `count`.
#[inline]
fn word(lap: u64, count: u32) -> u32 {
    ((lap as u32 & 0xF) << COUNT_BITS) | count
}

/// A sketch word's lap tag.
#[inline]
fn tag(w: u32) -> u8 {
    (w >> COUNT_BITS) as u8
}

/// A sketch word's count.
#[inline]
fn count(w: u32) -> u32 {
    w & MAX_COUNT
}

/// `a - b` between two 4-bit lap tags, in -8..=7.
#[inline]
fn lap_diff(a: u8, b: u8) -> i8 {
    ((a.wrapping_sub(b) << 4) as i8) >> 4
}

/// Adds one to a sketch word for lap tag `t` (see the module docs).
#[inline]
fn sketch_add(w: &AtomicU32, t: u8) {
    // Relaxed: each word is its own counter; readers check its tag.
    let mut cur = w.load(Ordering::Relaxed);
    loop {
        // An older lap: unreachable while every writer fills (and so resets) its
        // epoch's words before adding; kept so that a word never counts for a lap
        // it does not hold.
        let new = if lap_diff(tag(cur), t) < 0 {
            word(u64::from(t), 1)
        } else if count(cur) == MAX_COUNT {
            return;
        } else {
            cur + 1
        };
        // Release: a fill whose reset reads this word (Acquire) then sees this
        // writer's count increment, so the count base it takes next includes it
        // (see `sketch_reset`).
        match w.compare_exchange_weak(
            cur,
            new,
            ord!(Release, "sketch.add.release"),
            Ordering::Relaxed,
        ) {
            Ok(_) => return,
            Err(now) => cur = now,
        }
    }
}

/// Resets a sketch word for lap `lx` when a fill restarts its slot; `ls` is the
/// lap it holds if untouched (see `ring::claim`).
#[inline]
fn sketch_reset(w: &AtomicU32, lx: u64, ls: u64) {
    let (tx, ts) = ((lx & 0xF) as u8, (ls & 0xF) as u8);
    // Acquire (here, and on the CAS): see below; a word another fill already
    // reset carries the writers' release sequence along.
    let acq = ord!(Acquire, "sketch.reset.acquire");
    let mut cur = w.load(acq);
    loop {
        let t = tag(cur);
        if t != ts && (t == tx || lap_diff(t, tx) > 0) {
            // A writer of this lap (or a later one) was first.
            return;
        }
        // Acquire: pairs with `sketch_add`'s Release. A fill resets the sketch
        // before it takes the count base: an observation whose sketch increment
        // this reset wipes had its count increment before it, so the base includes
        // it and both put it in the old epoch; one that comes later lands in the
        // new lap's word. So per epoch the sketch never counts fewer observations
        // than the count's bases give it.
        match w.compare_exchange_weak(cur, word(lx, 0), acq, acq) {
            Ok(_) => return,
            Err(now) => cur = now,
        }
    }
}

impl SummaryCore {
    /// An empty summary, created at `now`.
    pub(crate) fn new(mapping: SketchMapping, geometry: Geometry, now: u64) -> SummaryCore {
        let k = mapping.len();
        let now_e = geometry.epoch(now);
        let (head_lap, head_slot) = geometry.lap_slot(now_e);
        SummaryCore {
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0f64.to_bits()),
            rows: Rows::new(
                &geometry,
                2,
                now_e,
                |j| {
                    if j == 0 {
                        0
                    } else {
                        f64_to_48(0.0)
                    }
                },
            ),
            sketches: (0..geometry.len() * k)
                .map(|i| {
                    // Tagged as the rows are: the slot's epoch in the window.
                    let lap = if i / k <= head_slot {
                        head_lap
                    } else {
                        head_lap.wrapping_sub(1)
                    };
                    AtomicU32::new(word(lap, 0))
                })
                .collect(),
            mapping,
            geometry,
        }
    }

    /// Records `v` at time `now`; `fresh` reads the clock again (called only when
    /// the ring is ahead of `now`).
    #[inline]
    pub(crate) fn observe(&self, v: f64, now: u64, fresh: impl FnOnce() -> u64) {
        let g = &self.geometry;
        let e = match self.rows.current(g, now) {
            Some(head) => head,
            None => self.start(now, fresh),
        };
        // Relaxed: exact counters; the window's quantiles read the sketch words,
        // the exported count and sum these two.
        self.count.fetch_add(1, Ordering::Relaxed);
        f64_add(&self.sum, v);
        // NaN has no rank: counted and summed (as Prometheus does), not sketched.
        if !v.is_nan() {
            let (lap, slot) = g.lap_slot(e);
            let k = self.mapping.len();
            if let Some(w) = self.sketches.get(slot * k + self.mapping.index(v)) {
                sketch_add(w, (lap & 0xF) as u8);
            }
        }
    }

    #[inline]
    fn base(&self, j: usize) -> u64 {
        if j == 0 {
            self.count.load(Ordering::Relaxed)
        } else {
            f64_to_48(f64::from_bits(self.sum.load(Ordering::Relaxed)))
        }
    }

    /// Fills the ring up to the epoch of `now` and returns the epoch the
    /// observation goes to.
    #[cold]
    #[inline(never)]
    fn start(&self, now: u64, fresh: impl FnOnce() -> u64) -> u64 {
        let g = &self.geometry;
        let k = self.mapping.len();
        let e = g.epoch(now);
        let reset = |x: u64, lx: u64, ls: u64| {
            if mutant("sketch.fill.no_reset") {
                return;
            }
            let slot = g.slot(x);
            if let Some(words) = self.sketches.get(slot * k..(slot + 1) * k) {
                for w in words {
                    sketch_reset(w, lx, ls);
                }
            }
        };
        if self.rows.fill(g, e, |j| self.base(j), reset) == Filled::Behind {
            // A rewind empties the sketches of the epochs it restarts, before it
            // moves the head back (a reader checks each word's lap, so a word it
            // sees between the two is only ever the old lap's or the new empty one).
            let empty = |x: u64, lx: u64| {
                let slot = g.slot(x);
                for w in self.sketches.get(slot * k..(slot + 1) * k).unwrap_or(&[]) {
                    w.store(word(lx, 0), Ordering::Relaxed);
                }
            };
            return match self.rows.catch_up(g, fresh, |j| self.base(j), empty) {
                Some(back) => back,
                None => self.rows.head_hint().max(e),
            };
        }
        e
    }

    /// The count of sketch bucket `b` in epoch `x` (0 if the slot holds another).
    fn sketch_count(&self, x: u64, b: usize) -> u64 {
        let (lap, slot) = self.geometry.lap_slot(x);
        let k = self.mapping.len();
        self.sketches.get(slot * k + b).map_or(0, |w| {
            // Relaxed: ordered after the Acquire of the ring's head.
            let w = w.load(Ordering::Relaxed);
            if tag(w) == (lap & 0xF) as u8 {
                u64::from(count(w))
            } else {
                0
            }
        })
    }

    fn sketch_total(&self, x: u64) -> u64 {
        (0..self.mapping.len())
            .map(|b| self.sketch_count(x, b))
            .sum()
    }

    /// Number of observations.
    #[inline]
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Sum of observations.
    #[inline]
    pub fn sum(&self) -> f64 {
        f64::from_bits(self.sum.load(Ordering::Relaxed))
    }

    /// The sketch's mapping.
    pub fn mapping(&self) -> &SketchMapping {
        &self.mapping
    }

    /// The ring's shape.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The newest epoch in which the summary was created or recorded.
    pub fn last_epoch(&self) -> u64 {
        self.rows.head_hint()
    }

    /// Bytes this summary occupies (inline and on the heap), fixed at creation.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.rows.heap_bytes()
            + std::mem::size_of_val(&*self.sketches)
    }

    /// The heap allocations a summary of this ring shape and sketch makes
    /// besides its inline state: the rows and the sketch words.
    pub(crate) fn allocations_for(g: &Geometry, mapping: &SketchMapping) -> [usize; 2] {
        [
            Rows::bytes_for(g.len(), 2),
            g.len() * mapping.len() * std::mem::size_of::<AtomicU32>(),
        ]
    }

    /// Retained epochs in `[first, last]` up to the head, oldest first, with their
    /// count and sum bases (counts made monotone), and the totals they end at.
    #[allow(clippy::type_complexity)]
    fn slots(
        &self,
        now: u64,
        first: u64,
        last: u64,
    ) -> (SmallVec<[(u64, u64, f64); 16]>, u64, f64, u64) {
        let g = &self.geometry;
        let now_e = g.epoch(now);
        let head = self.rows.head();
        let last = last.min(head).min(now_e);
        let first = first
            .max(g.oldest_retained(now_e))
            .max(g.oldest_retained(head));
        let mut rows: SmallVec<[(u64, u64, f64); 16]> = SmallVec::new();
        for x in first..=last {
            if let (Some(c), Some(s)) = (self.rows.read(g, x, 0), self.rows.read(g, x, 1)) {
                rows.push((x, c, f64_from_48(s)));
            }
        }
        let (total, total_sum) = (self.count(), self.sum());
        for r in rows.iter_mut() {
            r.1 = widen(total, r.1);
        }
        suffix_min(rows.iter_mut().map(|r| &mut r.1), total);
        (rows, total, total_sum, head)
    }

    /// Calls `f` for each epoch in `range` with observations, oldest first.
    pub fn for_each_point(&self, now: u64, range: TimeRange, mut f: impl FnMut(SummaryPoint<'_>)) {
        let g = self.geometry;
        if g.is_lifetime() {
            // No history (`Retention::NONE`): nothing to report.
            return;
        }
        let (rows, total, total_sum, _) = self.slots(now, 0, u64::MAX);
        for (k, &(e, c, s)) in rows.iter().enumerate() {
            let (nc, ns) = rows.get(k + 1).map_or((total, total_sum), |r| (r.1, r.2));
            let start = g.epoch_start(e);
            if nc > c && range.overlaps(start, g.width_nanos()) {
                f(SummaryPoint {
                    start,
                    count: nc - c,
                    sum: ns - s,
                    core: self,
                    epoch: e,
                });
            }
        }
    }

    /// The `q`-quantile of the observations in the epochs covering
    /// `(now - window, now]`, within the mapping's relative error; NaN when none.
    pub fn quantile(&self, q: f64, now: u64, window: Duration) -> f64 {
        let (first, last) = window_epochs(&self.geometry, now, window);
        let (rows, _, _, _) = self.slots(now, first, last);
        let total: u64 = rows.iter().map(|r| self.sketch_total(r.0)).sum();
        self.mapping.quantile(q, total, |b| {
            rows.iter().map(|r| self.sketch_count(r.0, b)).sum()
        })
    }

    /// Observations in the epochs covering `(now - window, now]`, as counted by
    /// the sketches.
    pub fn window_count(&self, now: u64, window: Duration) -> u64 {
        let (first, last) = window_epochs(&self.geometry, now, window);
        let (rows, _, _, _) = self.slots(now, first, last);
        rows.iter().map(|r| self.sketch_total(r.0)).sum()
    }

    /// What a reader sees at `now`: the head it read, and per retained epoch up
    /// to it the count base (monotone) and the sketch's total; and the count.
    #[cfg(loom)]
    pub(crate) fn loom_view(&self, now: u64) -> (u64, Vec<(u64, u64, u64)>, u64) {
        let (rows, total, _, head) = self.slots(now, 0, u64::MAX);
        let v = rows
            .iter()
            .map(|r| (r.0, r.1, self.sketch_total(r.0)))
            .collect();
        (head, v, total)
    }

    /// The saved state at `now` (history limited to retained epochs).
    pub(crate) fn capture(&self, now: u64) -> (Vec<u64>, StateData) {
        let k = self.mapping.len();
        let (mut rows, count, sum, _) = self.slots(now, 0, u64::MAX);
        if self.geometry.is_lifetime() {
            // No history (`Retention::NONE`): no epochs saved.
            rows.clear();
        }
        let mut sketches = Vec::with_capacity(rows.len() * k);
        for r in &rows {
            sketches.extend((0..k).map(|b| self.sketch_count(r.0, b).min(u32::MAX as u64) as u32));
        }
        (
            rows.iter().map(|r| r.0).collect(),
            StateData::Summary {
                count,
                sum,
                count_bases: rows.iter().map(|r| r.1).collect(),
                sum_bases: rows.iter().map(|r| r.2).collect(),
                sketches,
            },
        )
    }

    /// Loads saved state (history too if `history`) into this fresh, unshared
    /// summary; saved epochs after its creation epoch are dropped. Returns false,
    /// and changes nothing, if `state` is not a summary's of this sketch size or its
    /// columns disagree.
    pub(crate) fn restore(&self, state: &SeriesState, history: bool) -> bool {
        let StateData::Summary {
            count,
            sum,
            count_bases,
            sum_bases,
            sketches,
        } = &state.data
        else {
            return false;
        };
        let k = self.mapping.len();
        let n = state.epochs.len();
        if count_bases.len() != n || sum_bases.len() != n || sketches.len() != n * k {
            return false;
        }
        {
            // Without history every retained epoch starts at the cumulative state.
            let g = &self.geometry;
            let head = self.rows.head_hint();
            for (x, from) in restored_epochs(g, head, &state.epochs, history) {
                match from {
                    Restored::Saved(i) => {
                        self.rows
                            .put(g, x, [count_bases[i].min(*count), f64_to_48(sum_bases[i])]);
                        if state.epochs[i] == x {
                            let (lx, slot) = g.lap_slot(x);
                            let words = self.sketches.get(slot * k..(slot + 1) * k).unwrap_or(&[]);
                            for (w, &c) in words.iter().zip(&sketches[i * k..(i + 1) * k]) {
                                w.store(word(lx, c.min(MAX_COUNT)), Ordering::Relaxed);
                            }
                        }
                    }
                    Restored::Cumulative => self.rows.put(g, x, [*count, f64_to_48(*sum)]),
                    Restored::Zero => self.rows.put(g, x, [0, f64_to_48(0.0)]),
                }
            }
        }
        self.count.store(*count, Ordering::Relaxed);
        self.sum.store(sum.to_bits(), Ordering::Relaxed);
        true
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const W: u64 = 1_000;

    #[test]
    fn summary_points_and_quantiles() {
        let s = SummaryCore::new(SketchMapping::default_mapping(), Geometry::new(W, 3), 0);
        for v in 1..=100 {
            s.observe(v as f64, 0, || 0);
        }
        s.observe(1000.0, W, || W);
        let mut pts = Vec::new();
        s.for_each_point(W, TimeRange::ALL, |p| {
            pts.push((p.start, p.count, p.quantile(1.0)))
        });
        assert_eq!(pts.len(), 2);
        assert_eq!((pts[0].0, pts[0].1), (0, 100));
        assert!((pts[0].2 - 100.0).abs() <= 1.0);
        assert_eq!((pts[1].0, pts[1].1), (W, 1));
        assert!((s.quantile(0.5, W + 5, Duration::from_nanos(1)) - 1000.0).abs() <= 10.0);
        assert_eq!(s.count(), 101);
        assert_eq!(s.window_count(W, Duration::from_nanos(W)), 101);
        // A lap later the old sketch no longer counts.
        s.observe(5.0, 4 * W, || 4 * W);
        assert_eq!(s.window_count(4 * W, Duration::from_nanos(3 * W)), 1);
    }

    #[test]
    fn sketch_words_restart_per_lap() {
        let w = AtomicU32::new(word(3, 7));
        sketch_add(&w, 3);
        assert_eq!(w.load(Ordering::Relaxed), word(3, 8));
        sketch_add(&w, 4);
        assert_eq!(w.load(Ordering::Relaxed), word(4, 1));
        // A stale writer counts into the newer lap.
        sketch_add(&w, 3);
        assert_eq!(w.load(Ordering::Relaxed), word(4, 2));
        // A fill for lap 4 keeps what writers of lap 4 counted; one for lap 5 resets.
        sketch_reset(&w, 4, 3);
        assert_eq!(w.load(Ordering::Relaxed), word(4, 2));
        sketch_reset(&w, 5, 4);
        assert_eq!(w.load(Ordering::Relaxed), word(5, 0));
        // Laps wrap at 16: lap 17 is newer than lap 15.
        let w = AtomicU32::new(word(15, 3));
        sketch_add(&w, (17 & 0xF) as u8);
        assert_eq!(w.load(Ordering::Relaxed), word(17, 1));
        // A full word stops counting (the observation is still in count and sum).
        let w = AtomicU32::new(word(2, MAX_COUNT));
        sketch_add(&w, 2);
        assert_eq!(count(w.load(Ordering::Relaxed)), MAX_COUNT);
    }

    #[test]
    fn lap_differences_wrap() {
        assert_eq!(lap_diff(1, 15), 2);
        assert_eq!(lap_diff(15, 1), -2);
        assert_eq!(lap_diff(7, 0), 7);
        assert_eq!(lap_diff(8, 0), -8);
    }
}
