//! Per-series state: cumulative values beside an epoch ring of history.
//!
//! These are the concurrent structures the handles record into. Each keeps its
//! cumulative state (what Prometheus exports) in plain atomics and its per-epoch
//! history in a ring of slots following the protocol of [`crate::ring`]. Memory is
//! allocated once, in `new`, and never grows (invariant 4).
//!
//! History is derived, wherever it can be, from snapshots of the cumulative state
//! taken when an epoch starts ("bases"): the increase of epoch `e` is
//! `base(next started epoch) - base(e)`, and of the current epoch `total - base(e)`.
//! Over any run of epochs the increases telescope to `total - base(first)`, so an
//! update that races an epoch boundary lands in one neighbouring epoch or the other,
//! never in both and never in neither (invariant 2), while the cumulative value,
//! updated by a single `fetch_add`, is exact (invariant 1). Bases taken by racing
//! writers may be slightly out of order; readers make them monotone (a running
//! maximum clamped by the total), which keeps the sum exact and every increase
//! non-negative.

use std::cell::RefCell;
use std::time::Duration;

use smallvec::SmallVec;

use crate::buckets::Buckets;
use crate::retention::Geometry;
use crate::ring::{f64_to_ordered, ordered_to_f64, Begin, SlotTag};
use crate::sketch::SketchMapping;
use crate::sync::{AtomicU32, AtomicU64, CachePadded, Ordering};

/// A time range over history, in ns since the Unix epoch; either end may be open.
/// A slot is selected when its epoch `[start, start + width)` overlaps the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    /// Inclusive start.
    pub start: Option<u64>,
    /// Inclusive end.
    pub end: Option<u64>,
}

impl TimeRange {
    /// Every retained epoch.
    pub const ALL: TimeRange = TimeRange {
        start: None,
        end: None,
    };

    /// Whether an epoch `[epoch_start, epoch_start + width)` overlaps the range.
    #[inline]
    pub fn overlaps(&self, epoch_start: u64, width: u64) -> bool {
        self.start
            .is_none_or(|s| epoch_start.saturating_add(width) > s)
            && self.end.is_none_or(|e| epoch_start <= e)
    }
}

/// Epochs that a window of `window` ending at `now` covers, clipped to retention:
/// from the epoch holding `now - window` to the epoch holding `now`.
#[inline]
fn window_epochs(g: &Geometry, now: u64, window: Duration) -> (u64, u64) {
    let now_e = g.epoch(now);
    let w = window.as_nanos().min(u64::MAX as u128) as u64;
    let first = g.epoch(now.saturating_sub(w)).max(g.oldest_retained(now_e));
    (first, now_e)
}

/// The epoch and slot of the last recording, packed as `epoch << 12 | slot`, so
/// that a recording in the same epoch (nearly all of them) finds both with one
/// multiply and a compare instead of two divisions' worth of dependent multiplies.
/// Always verified against `now`, so a stale or racing value only costs the slow
/// computation, never a wrong slot.
#[derive(Debug)]
struct Cursor(AtomicU64);

const SLOT_BITS: u32 = 12;

impl Cursor {
    fn new(g: &Geometry, now: u64) -> Cursor {
        let c = Cursor(AtomicU64::new(u64::MAX));
        c.locate(g, now);
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

/// Calls `f(epoch, slot_index)` for each epoch from `first` to `last` whose slot
/// could hold it, oldest first (at most one lap of the ring).
#[inline]
fn for_each_epoch(g: &Geometry, first: u64, last: u64, mut f: impl FnMut(u64, usize)) {
    let first = first.max(g.oldest_retained(last));
    let mut e = first;
    while e <= last {
        f(e, g.slot(e));
        e += 1;
    }
}

/// Records the newest epoch that started a slot, for idle detection.
#[inline]
fn touch(last_epoch: &AtomicU64, e: u64) {
    // Relaxed: an advisory timestamp; nothing is published with it.
    last_epoch.fetch_max(e, Ordering::Relaxed);
}

/// Makes a run of bases monotone from the right: each becomes the least of itself,
/// every later base and `total`. The increases between them then telescope to
/// `total - first base`, all non-negative, with nothing dropped: a base inflated by
/// a racing writer is lowered to its successor, moving that race's increments to
/// the neighbouring epoch.
fn suffix_min<'a>(bases: impl DoubleEndedIterator<Item = &'a mut u64>, total: u64) {
    let mut run = total;
    for b in bases.rev() {
        run = run.min(*b);
        *b = run;
    }
}

/// Runs `f` with an empty per-thread buffer that keeps its capacity between calls,
/// so reading history allocates nothing once warm (a fresh buffer if nested).
fn with_scratch<R>(f: impl FnOnce(&mut Vec<u64>) -> R) -> R {
    thread_local! {
        static SCRATCH: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            f(&mut buf)
        }
        Err(_) => f(&mut Vec::new()),
    })
}

fn f64_add(cell: &AtomicU64, v: f64) {
    // Relaxed: the sum is a single value; readers need nothing published with it.
    let mut cur = cell.load(Ordering::Relaxed);
    loop {
        let new = (f64::from_bits(cur) + v).to_bits();
        match cell.compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(now) => cur = now,
        }
    }
}

// ---------------------------------------------------------------------------------
// Counter

/// One counter slot: its tag and the counter's total when the epoch started.
#[derive(Debug, Default)]
struct CounterSlot {
    tag: SlotTag,
    base: AtomicU64,
}

/// A counter's state: an exact total and one base per epoch.
///
/// Memory: 128 bytes (the padded total and header) + 16 bytes per slot.
#[derive(Debug)]
pub struct CounterCore {
    /// On its own cache line: every increment writes it, while the cursor and the
    /// ring are mostly read.
    total: CachePadded<AtomicU64>,
    cursor: Cursor,
    ring: Box<[CounterSlot]>,
    geometry: Geometry,
    last_epoch: AtomicU64,
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
    pub fn new(geometry: Geometry, now: u64) -> CounterCore {
        CounterCore {
            total: CachePadded::new(AtomicU64::new(0)),
            cursor: Cursor::new(&geometry, now),
            ring: (0..geometry.len())
                .map(|_| CounterSlot::default())
                .collect(),
            geometry,
            last_epoch: AtomicU64::new(geometry.epoch(now)),
        }
    }

    /// Adds `n` at time `now`.
    #[inline]
    pub fn inc_by(&self, n: u64, now: u64) {
        let (e, i) = self.cursor.locate(&self.geometry, now);
        // Relaxed: the total is one word; the only thing published with a base is
        // the base itself (by the slot's Release store).
        let prev = self.total.fetch_add(n, Ordering::Relaxed);
        // `get` rather than indexing: the slot index is always in range, and this
        // way the recording path has no panic branch at all.
        if let Some(slot) = self.ring.get(i) {
            if !slot.tag.holds(e) {
                self.start(slot, e, prev);
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn start(&self, slot: &CounterSlot, e: u64, base: u64) {
        if slot.tag.begin(e) == Begin::Started {
            // Release: read by `read`'s Acquire load (see `ring` docs).
            slot.base.store(base, Ordering::Release);
            slot.tag.publish(e);
            touch(&self.last_epoch, e);
        }
        // Busy, Current or Newer: this increment is already in the total; it is
        // counted in whichever neighbouring epoch's increase covers it.
    }

    /// The cumulative total.
    #[inline]
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// The ring's shape.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The newest epoch in which the counter was created or started a slot.
    pub fn last_epoch(&self) -> u64 {
        self.last_epoch.load(Ordering::Relaxed)
    }

    /// Bytes this counter occupies (inline and on the heap), fixed at creation.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + std::mem::size_of_val(&*self.ring)
    }

    /// Calls `f` with `[epoch, base, epoch, base, ...]` for every started,
    /// retained epoch up to `now` (oldest first), bases made monotone, and the
    /// total they end at.
    ///
    /// Only epochs from `from` on are read: a base is made monotone against the
    /// bases after it, never before, so a window needs nothing older.
    fn with_bases<R>(&self, now: u64, from: u64, f: impl FnOnce(&[u64], u64) -> R) -> R {
        let g = &self.geometry;
        let now_e = g.epoch(now);
        with_scratch(|buf| {
            for_each_epoch(g, g.oldest_retained(now_e).max(from), now_e, |e, i| {
                let slot = &self.ring[i];
                if let Some((se, b)) = slot.tag.read(|| slot.base.load(Ordering::Acquire)) {
                    if se == e {
                        buf.extend_from_slice(&[e, b]);
                    }
                }
            });
            // Slots first, total last: a base read through the slot's Acquire is a
            // value the total had before, so the total read after is at least it.
            let total = self.total();
            suffix_min(buf.chunks_exact_mut(2).map(|p| &mut p[1]), total);
            f(buf, total)
        })
    }

    /// Calls `f` for each epoch in `range` with recordings, oldest first.
    pub fn for_each_point(&self, now: u64, range: TimeRange, mut f: impl FnMut(CounterPoint)) {
        let g = self.geometry;
        let from = range.start.map_or(0, |s| g.epoch(s));
        self.with_bases(now, from, |bases, total| {
            let mut it = bases.chunks_exact(2).peekable();
            while let Some(p) = it.next() {
                let next = it.peek().map_or(total, |n| n[1]);
                let start = g.epoch_start(p[0]);
                if range.overlaps(start, g.width_nanos()) {
                    f(CounterPoint {
                        start,
                        increase: next - p[1],
                    });
                }
            }
        });
    }

    /// Per-second rate over the epochs covering `(now - window, now]`: their
    /// increase divided by the time they cover up to `now`, or since `created`
    /// if the series is younger; 0 when no time is covered.
    pub fn rate(&self, now: u64, window: Duration, created: u64) -> f64 {
        let (first, _) = window_epochs(&self.geometry, now, window);
        let secs = now.saturating_sub(self.geometry.epoch_start(first).max(created)) as f64 / 1e9;
        if secs <= 0.0 {
            return 0.0;
        }
        self.increase(now, window) as f64 / secs
    }

    /// The increase over the epochs covering `(now - window, now]`.
    pub fn increase(&self, now: u64, window: Duration) -> u64 {
        let (first, _) = window_epochs(&self.geometry, now, window);
        self.with_bases(now, first, |bases, total| {
            bases
                .chunks_exact(2)
                .find(|p| p[0] >= first)
                .map_or(0, |p| total - p[1])
        })
    }
}

// ---------------------------------------------------------------------------------
// Gauge

/// One gauge slot: last, min and max of the epoch (min/max as ordered images).
#[derive(Debug, Default)]
struct GaugeSlot {
    tag: SlotTag,
    last: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
}

/// A gauge's state: its value and per-epoch last/min/max.
///
/// Memory: 128 bytes + 32 bytes per slot.
#[derive(Debug)]
pub struct GaugeCore {
    value: CachePadded<AtomicU64>,
    cursor: Cursor,
    ring: Box<[GaugeSlot]>,
    geometry: Geometry,
    last_epoch: AtomicU64,
}

/// One epoch of a gauge's history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaugePoint {
    /// Start of the epoch, ns since the Unix epoch.
    pub start: u64,
    /// The value last set in the epoch.
    pub last: f64,
    /// The smallest value set in the epoch.
    pub min: f64,
    /// The largest value set in the epoch.
    pub max: f64,
}

impl GaugeCore {
    /// A gauge at 0.0, created at `now`.
    pub fn new(geometry: Geometry, now: u64) -> GaugeCore {
        GaugeCore {
            value: CachePadded::new(AtomicU64::new(0f64.to_bits())),
            cursor: Cursor::new(&geometry, now),
            ring: (0..geometry.len()).map(|_| GaugeSlot::default()).collect(),
            geometry,
            last_epoch: AtomicU64::new(geometry.epoch(now)),
        }
    }

    /// Sets the value at time `now`.
    #[inline]
    pub fn set(&self, v: f64, now: u64) {
        // Relaxed: a single word; history is recorded by `note` below.
        self.value.store(v.to_bits(), Ordering::Relaxed);
        self.note(v, now);
    }

    /// Adds `d` (may be negative) at time `now`; returns the new value.
    #[inline]
    pub fn add(&self, d: f64, now: u64) -> f64 {
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
        self.note(new, now);
        new
    }

    #[inline]
    fn note(&self, v: f64, now: u64) {
        let (e, i) = self.cursor.locate(&self.geometry, now);
        let Some(slot) = self.ring.get(i) else {
            return;
        };
        if slot.tag.holds(e) {
            Self::fold(slot, v);
        } else {
            self.start(slot, e, v);
        }
    }

    #[inline]
    fn fold(slot: &GaugeSlot, v: f64) {
        // Relaxed RMWs/stores: they continue the release sequence of the start's
        // Release stores, which is what readers synchronize with.
        slot.last.store(v.to_bits(), Ordering::Relaxed);
        if !v.is_nan() {
            let o = f64_to_ordered(v);
            // Plain loads first: a value inside [min, max] (the common case) costs
            // no read-modify-write at all.
            if o < slot.min.load(Ordering::Relaxed) {
                slot.min.fetch_min(o, Ordering::Relaxed);
            }
            if o > slot.max.load(Ordering::Relaxed) {
                slot.max.fetch_max(o, Ordering::Relaxed);
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn start(&self, slot: &GaugeSlot, e: u64, v: f64) {
        match slot.tag.begin(e) {
            Begin::Started => {
                let (lo, hi) = if v.is_nan() {
                    (u64::MAX, 0)
                } else {
                    (f64_to_ordered(v), f64_to_ordered(v))
                };
                // Release: read by `read`'s Acquire loads (see `ring` docs).
                slot.last.store(v.to_bits(), Ordering::Release);
                slot.min.store(lo, Ordering::Release);
                slot.max.store(hi, Ordering::Release);
                slot.tag.publish(e);
                touch(&self.last_epoch, e);
            }
            Begin::Current => Self::fold(slot, v),
            Begin::Busy | Begin::Newer => {
                // Another writer is starting this slot: the value lands in the
                // neighbouring (previous) epoch when that one exists.
                if let Some(prev) = self.ring.get(self.geometry.slot(e.wrapping_sub(1))) {
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
        f64::from_bits(self.value.load(Ordering::Relaxed))
    }

    /// The ring's shape.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The newest epoch in which the gauge was created or started a slot.
    pub fn last_epoch(&self) -> u64 {
        self.last_epoch.load(Ordering::Relaxed)
    }

    /// Bytes this gauge occupies (inline and on the heap), fixed at creation.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + std::mem::size_of_val(&*self.ring)
    }

    fn points(&self, first: u64, last: u64, mut f: impl FnMut(u64, GaugePoint)) {
        let g = &self.geometry;
        for_each_epoch(g, first, last, |e, i| {
            let s = &self.ring[i];
            let got = s.tag.read(|| {
                (
                    s.last.load(Ordering::Acquire),
                    s.min.load(Ordering::Acquire),
                    s.max.load(Ordering::Acquire),
                )
            });
            if let Some((se, (last, lo, hi))) = got {
                if se == e {
                    let (min, max) = if lo == u64::MAX && hi == 0 {
                        (f64::NAN, f64::NAN)
                    } else {
                        (ordered_to_f64(lo), ordered_to_f64(hi))
                    };
                    f(
                        e,
                        GaugePoint {
                            start: g.epoch_start(e),
                            last: f64::from_bits(last),
                            min,
                            max,
                        },
                    );
                }
            }
        });
    }

    /// Calls `f` for each epoch in `range` in which the gauge was set, oldest first.
    pub fn for_each_point(&self, now: u64, range: TimeRange, mut f: impl FnMut(GaugePoint)) {
        let g = self.geometry;
        let now_e = g.epoch(now);
        self.points(g.oldest_retained(now_e), now_e, |_, p| {
            if range.overlaps(p.start, g.width_nanos()) {
                f(p);
            }
        });
    }

    /// The largest value set in the epochs covering `(now - window, now]`, or the
    /// current value if none was set then.
    pub fn max_over(&self, now: u64, window: Duration) -> f64 {
        self.fold_over(now, window, |p| p.max, f64::max)
    }

    /// The smallest value set in the epochs covering `(now - window, now]`, or the
    /// current value if none was set then.
    pub fn min_over(&self, now: u64, window: Duration) -> f64 {
        self.fold_over(now, window, |p| p.min, f64::min)
    }

    fn fold_over(
        &self,
        now: u64,
        window: Duration,
        pick: impl Fn(&GaugePoint) -> f64,
        join: impl Fn(f64, f64) -> f64,
    ) -> f64 {
        let (first, last) = window_epochs(&self.geometry, now, window);
        let mut acc: Option<f64> = None;
        self.points(first, last, |_, p| {
            let v = pick(&p);
            if !v.is_nan() {
                acc = Some(acc.map_or(v, |a| join(a, v)));
            }
        });
        acc.unwrap_or_else(|| self.get())
    }
}

// ---------------------------------------------------------------------------------
// Histogram

/// A classic histogram's state: per-bucket counts and the sum, with one snapshot
/// of both per (wide) epoch.
///
/// Memory: 128 + 8 (buckets + 1) bytes, plus per slot 8 (buckets + 3) bytes
/// (tag, one base per bucket, `+Inf` and the sum).
#[derive(Debug)]
pub struct HistogramCore {
    buckets: Buckets,
    /// Non-cumulative count per bucket, `+Inf` last.
    counts: Box<[AtomicU64]>,
    sum: CachePadded<AtomicU64>,
    cursor: Cursor,
    tags: Box<[SlotTag]>,
    /// Per slot: `counts.len()` bucket bases then the sum's bits.
    bases: Box<[AtomicU64]>,
    geometry: Geometry,
    last_epoch: AtomicU64,
}

/// Cumulative state of a histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Non-cumulative count per bucket, `+Inf` last.
    pub counts: SmallVec<[u64; 16]>,
    /// Sum of all observations.
    pub sum: f64,
}

impl HistogramSnapshot {
    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// One (wide) epoch of a histogram's history. `counts` is borrowed from the reader.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistogramPoint<'a> {
    /// Start of the epoch, ns since the Unix epoch.
    pub start: u64,
    /// Observations per bucket in the epoch (non-cumulative, `+Inf` last).
    pub counts: &'a [u64],
    /// Sum of the epoch's observations.
    pub sum: f64,
}

impl HistogramPoint<'_> {
    /// Observations in the epoch.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

impl HistogramCore {
    /// An empty histogram with `buckets`, created at `now`.
    pub fn new(buckets: Buckets, geometry: Geometry, now: u64) -> HistogramCore {
        let n = buckets.bounds().len() + 1;
        HistogramCore {
            counts: (0..n).map(|_| AtomicU64::new(0)).collect(),
            sum: CachePadded::new(AtomicU64::new(0f64.to_bits())),
            cursor: Cursor::new(&geometry, now),
            tags: (0..geometry.len()).map(|_| SlotTag::new()).collect(),
            bases: (0..geometry.len() * (n + 1))
                .map(|_| AtomicU64::new(0))
                .collect(),
            buckets,
            geometry,
            last_epoch: AtomicU64::new(geometry.epoch(now)),
        }
    }

    /// Records `v` at time `now`.
    #[inline]
    pub fn observe(&self, v: f64, now: u64) {
        let (e, i) = self.cursor.locate(&self.geometry, now);
        if self.tags.get(i).is_some_and(|t| !t.holds(e)) {
            self.start(i, e);
        }
        let b = self.buckets.index(v);
        // Relaxed: each bucket is its own exact counter; bases are published by the
        // slot's Release stores.
        if let Some(c) = self.counts.get(b) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        f64_add(&self.sum, v);
    }

    #[cold]
    #[inline(never)]
    fn start(&self, i: usize, e: u64) {
        let n = self.counts.len();
        let (Some(tag), Some(row)) = (
            self.tags.get(i),
            self.bases.get(i * (n + 1)..(i + 1) * (n + 1)),
        ) else {
            return;
        };
        if tag.begin(e) == Begin::Started {
            for (b, c) in row.iter().zip(self.counts.iter()) {
                // Release: read by `read`'s Acquire loads (see `ring` docs).
                b.store(c.load(Ordering::Relaxed), Ordering::Release);
            }
            if let Some(sum) = row.get(n) {
                sum.store(self.sum.load(Ordering::Relaxed), Ordering::Release);
            }
            tag.publish(e);
            touch(&self.last_epoch, e);
        }
        // Busy/Current/Newer: the observation is counted by the cumulative state and
        // lands in a neighbouring epoch (see module docs).
    }

    /// The bucket layout.
    pub fn buckets(&self) -> &Buckets {
        &self.buckets
    }

    /// The ring's shape.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The newest epoch in which the histogram was created or started a slot.
    pub fn last_epoch(&self) -> u64 {
        self.last_epoch.load(Ordering::Relaxed)
    }

    /// Bytes this histogram occupies (inline and on the heap), fixed at creation.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + std::mem::size_of_val(&*self.counts)
            + std::mem::size_of_val(&*self.tags)
            + std::mem::size_of_val(&*self.bases)
    }

    /// Cumulative counts and sum.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            counts: self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            sum: f64::from_bits(self.sum.load(Ordering::Relaxed)),
        }
    }

    /// Calls `f(counts, sum)` with the cumulative state without copying it out.
    pub fn with_cumulative<R>(&self, f: impl FnOnce(&mut dyn Iterator<Item = u64>, f64) -> R) -> R {
        let sum = f64::from_bits(self.sum.load(Ordering::Relaxed));
        let mut it = self.counts.iter().map(|c| c.load(Ordering::Relaxed));
        f(&mut it, sum)
    }

    /// Calls `f(rows, stride)` where `rows` holds, for every started, retained
    /// epoch (oldest first), `[epoch, base per bucket..., sum bits]`, bases made
    /// monotone per bucket, then a last row `[u64::MAX, count per bucket..., sum
    /// bits]` with the cumulative state; `stride` is the row length.
    ///
    /// Only epochs from `from` on are read (see `CounterCore::with_bases`).
    fn with_rows<R>(&self, now: u64, from: u64, f: impl FnOnce(&[u64], usize) -> R) -> R {
        let g = &self.geometry;
        let n = self.counts.len();
        let stride = n + 2;
        let now_e = g.epoch(now);
        with_scratch(|buf| {
            for_each_epoch(g, g.oldest_retained(now_e).max(from), now_e, |e, i| {
                let row = &self.bases[i * (n + 1)..(i + 1) * (n + 1)];
                let at = buf.len();
                buf.push(e);
                let ok = self.tags[i].read(|| {
                    buf.extend(row.iter().map(|b| b.load(Ordering::Acquire)));
                });
                if !matches!(ok, Some((se, ())) if se == e) {
                    buf.truncate(at);
                }
            });
            buf.push(u64::MAX);
            buf.extend(self.counts.iter().map(|c| c.load(Ordering::Relaxed)));
            buf.push(self.sum.load(Ordering::Relaxed));
            let rows = buf.len() / stride;
            for b in 1..=n {
                let total = buf[(rows - 1) * stride + b];
                suffix_min(
                    buf[..(rows - 1) * stride]
                        .chunks_exact_mut(stride)
                        .map(|r| &mut r[b]),
                    total,
                );
            }
            f(buf, stride)
        })
    }

    /// Calls `f` for each epoch in `range` with observations, oldest first.
    pub fn for_each_point(
        &self,
        now: u64,
        range: TimeRange,
        mut f: impl FnMut(HistogramPoint<'_>),
    ) {
        let g = self.geometry;
        let n = self.counts.len();
        let from = range.start.map_or(0, |s| g.epoch(s));
        self.with_rows(now, from, |rows, stride| {
            let mut delta: SmallVec<[u64; 32]> = smallvec::smallvec![0; n];
            for pair in rows.windows(2 * stride).step_by(stride) {
                let (row, next) = pair.split_at(stride);
                let start = g.epoch_start(row[0]);
                if range.overlaps(start, g.width_nanos()) {
                    for ((d, a), b) in delta.iter_mut().zip(&next[1..=n]).zip(&row[1..=n]) {
                        *d = a - b;
                    }
                    f(HistogramPoint {
                        start,
                        counts: &delta,
                        sum: f64::from_bits(next[n + 1]) - f64::from_bits(row[n + 1]),
                    });
                }
            }
        });
    }

    /// Per-bucket increase and sum increase over the epochs covering
    /// `(now - window, now]`.
    pub fn increase(&self, now: u64, window: Duration) -> HistogramSnapshot {
        let (first, _) = window_epochs(&self.geometry, now, window);
        let n = self.counts.len();
        let mut out = HistogramSnapshot {
            counts: smallvec::smallvec![0; n],
            sum: 0.0,
        };
        self.with_rows(now, first, |rows, stride| {
            let last = &rows[rows.len() - stride..];
            if let Some(row) = rows[..rows.len() - stride]
                .chunks_exact(stride)
                .find(|r| r[0] >= first)
            {
                for ((o, t), b) in out.counts.iter_mut().zip(&last[1..=n]).zip(&row[1..=n]) {
                    *o = t - b;
                }
                out.sum = f64::from_bits(last[n + 1]) - f64::from_bits(row[n + 1]);
            }
        });
        out
    }

    /// The `q`-quantile of the observations in the epochs covering
    /// `(now - window, now]`, interpolated linearly inside the bucket as Prometheus'
    /// `histogram_quantile` does; NaN when there were none.
    pub fn quantile(&self, q: f64, now: u64, window: Duration) -> f64 {
        let inc = self.increase(now, window);
        bucket_quantile(q, self.buckets.bounds(), &inc.counts)
    }
}

/// Prometheus' `histogram_quantile` over non-cumulative bucket counts (`+Inf` last).
pub fn bucket_quantile(q: f64, bounds: &[f64], counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let rank = q * total as f64;
    let mut cum = 0u64;
    for (i, &c) in counts.iter().enumerate() {
        let before = cum;
        cum += c;
        if cum as f64 >= rank && c > 0 {
            if i == bounds.len() {
                // In +Inf: the highest finite bound, as Prometheus reports.
                return bounds.last().copied().unwrap_or(f64::NAN);
            }
            let hi = bounds[i];
            let lo = if i == 0 {
                if hi > 0.0 {
                    0.0
                } else {
                    return hi;
                }
            } else {
                bounds[i - 1]
            };
            return lo + (hi - lo) * ((rank - before as f64) / c as f64);
        }
    }
    bounds.last().copied().unwrap_or(f64::NAN)
}

// ---------------------------------------------------------------------------------
// Summary

/// A summary's state: exact count and sum, and a ring of sketches, one per (wide)
/// epoch, giving quantiles over a sliding window.
///
/// Memory: 256 bytes, plus per slot 24 bytes (tag, count and sum bases) and 4 bytes
/// per sketch bucket (about 2,450 buckets by default: 9.8 KiB a slot).
#[derive(Debug)]
pub struct SummaryCore {
    mapping: SketchMapping,
    count: CachePadded<AtomicU64>,
    sum: CachePadded<AtomicU64>,
    cursor: Cursor,
    tags: Box<[SlotTag]>,
    /// Per slot: the count and sum bits when the epoch started.
    bases: Box<[AtomicU64]>,
    /// Per slot: `mapping.len()` bucket counts of the epoch's observations.
    sketches: Box<[AtomicU32]>,
    geometry: Geometry,
    last_epoch: AtomicU64,
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
    slot: usize,
}

impl SummaryPoint<'_> {
    /// The `q`-quantile of the epoch's observations (relative error per the mapping).
    pub fn quantile(&self, q: f64) -> f64 {
        let c = self.core;
        let total = c.sketch_total(self.slot);
        c.mapping
            .quantile(q, total, |b| c.sketch_count(self.slot, b))
    }
}

impl SummaryCore {
    /// An empty summary, created at `now`.
    pub fn new(mapping: SketchMapping, geometry: Geometry, now: u64) -> SummaryCore {
        let k = mapping.len();
        SummaryCore {
            count: CachePadded::new(AtomicU64::new(0)),
            sum: CachePadded::new(AtomicU64::new(0f64.to_bits())),
            cursor: Cursor::new(&geometry, now),
            tags: (0..geometry.len()).map(|_| SlotTag::new()).collect(),
            bases: (0..geometry.len() * 2).map(|_| AtomicU64::new(0)).collect(),
            sketches: (0..geometry.len() * k).map(|_| AtomicU32::new(0)).collect(),
            mapping,
            geometry,
            last_epoch: AtomicU64::new(geometry.epoch(now)),
        }
    }

    /// Records `v` at time `now`.
    #[inline]
    pub fn observe(&self, v: f64, now: u64) {
        let (e, i) = self.cursor.locate(&self.geometry, now);
        let k = self.mapping.len();
        let b = self.mapping.index(v);
        let target = if self.tags.get(i).is_some_and(|t| t.holds(e)) {
            Some(i)
        } else {
            self.start(i, e)
        };
        // Relaxed: exact counters; the window's quantiles read the sketch counts,
        // the exported count and sum these two.
        self.count.fetch_add(1, Ordering::Relaxed);
        f64_add(&self.sum, v);
        // NaN has no rank: counted and summed (as Prometheus does), not sketched.
        if let Some(c) = target
            .filter(|_| !v.is_nan())
            .and_then(|t| self.sketches.get(t * k + b))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Starts slot `i` for epoch `e` if no one has; returns the slot the observation
    /// goes to: `i`, or while another writer restarts it, the previous epoch's.
    #[cold]
    #[inline(never)]
    fn start(&self, i: usize, e: u64) -> Option<usize> {
        let k = self.mapping.len();
        let (Some(tag), Some(sketch), Some([count, sum])) = (
            self.tags.get(i),
            self.sketches.get(i * k..(i + 1) * k),
            self.bases.get(2 * i..2 * i + 2),
        ) else {
            return None;
        };
        match tag.begin(e) {
            Begin::Started => {
                for c in sketch {
                    // Release: read by `read`'s Acquire loads (see `ring` docs).
                    c.store(0, Ordering::Release);
                }
                count.store(self.count.load(Ordering::Relaxed), Ordering::Release);
                sum.store(self.sum.load(Ordering::Relaxed), Ordering::Release);
                tag.publish(e);
                touch(&self.last_epoch, e);
                Some(i)
            }
            Begin::Current => Some(i),
            Begin::Busy | Begin::Newer => {
                let p = self.geometry.slot(e.wrapping_sub(1));
                (e > 0 && self.tags.get(p).is_some_and(|t| t.holds(e - 1))).then_some(p)
            }
        }
    }

    fn sketch_count(&self, slot: usize, b: usize) -> u64 {
        let k = self.mapping.len();
        self.sketches[slot * k + b].load(Ordering::Acquire) as u64
    }

    fn sketch_total(&self, slot: usize) -> u64 {
        let k = self.mapping.len();
        self.sketches[slot * k..(slot + 1) * k]
            .iter()
            .map(|c| c.load(Ordering::Acquire) as u64)
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

    /// The newest epoch in which the summary was created or started a slot.
    pub fn last_epoch(&self) -> u64 {
        self.last_epoch.load(Ordering::Relaxed)
    }

    /// Bytes this summary occupies (inline and on the heap), fixed at creation.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + std::mem::size_of_val(&*self.tags)
            + std::mem::size_of_val(&*self.bases)
            + std::mem::size_of_val(&*self.sketches)
    }

    /// Slots in `[first, last]` holding their epoch, oldest first, with their
    /// count/sum bases.
    fn slots(&self, first: u64, last: u64, mut f: impl FnMut(u64, usize, u64, f64)) {
        for_each_epoch(&self.geometry, first, last, |e, i| {
            let got = self.tags[i].read(|| {
                (
                    self.bases[2 * i].load(Ordering::Acquire),
                    f64::from_bits(self.bases[2 * i + 1].load(Ordering::Acquire)),
                )
            });
            if let Some((se, (c, s))) = got {
                if se == e {
                    f(e, i, c, s);
                }
            }
        });
    }

    /// Calls `f` for each epoch in `range` with observations, oldest first.
    pub fn for_each_point(&self, now: u64, range: TimeRange, mut f: impl FnMut(SummaryPoint<'_>)) {
        let g = self.geometry;
        let now_e = g.epoch(now);
        // (epoch, slot, count base, sum base); summaries have at most a few slots.
        let mut rows: SmallVec<[(u64, usize, u64, f64); 8]> = SmallVec::new();
        self.slots(g.oldest_retained(now_e), now_e, |e, i, c, s| {
            rows.push((e, i, c, s))
        });
        let (total, total_sum) = (self.count(), self.sum());
        suffix_min(rows.iter_mut().map(|r| &mut r.2), total);
        for (k, &(e, i, c, s)) in rows.iter().enumerate() {
            let (nc, ns) = rows.get(k + 1).map_or((total, total_sum), |r| (r.2, r.3));
            let start = g.epoch_start(e);
            if range.overlaps(start, g.width_nanos()) {
                f(SummaryPoint {
                    start,
                    count: nc - c,
                    sum: ns - s,
                    core: self,
                    slot: i,
                });
            }
        }
    }

    /// The `q`-quantile of the observations in the epochs covering
    /// `(now - window, now]`, within the mapping's relative error; NaN when none.
    pub fn quantile(&self, q: f64, now: u64, window: Duration) -> f64 {
        let (first, last) = window_epochs(&self.geometry, now, window);
        let mut slots: SmallVec<[usize; 16]> = SmallVec::new();
        self.slots(first, last, |_, i, _, _| slots.push(i));
        let total: u64 = slots.iter().map(|&i| self.sketch_total(i)).sum();
        self.mapping.quantile(q, total, |b| {
            slots.iter().map(|&i| self.sketch_count(i, b)).sum()
        })
    }

    /// Observations in the epochs covering `(now - window, now]`, as counted by
    /// the sketches.
    pub fn window_count(&self, now: u64, window: Duration) -> u64 {
        let (first, last) = window_epochs(&self.geometry, now, window);
        let mut n = 0;
        self.slots(first, last, |_, i, _, _| n += self.sketch_total(i));
        n
    }
}

// ---------------------------------------------------------------------------------
// Raw state, for stores: every started, retained slot as written, and the
// cumulative values. Restoring writes them back into a fresh series of the same
// geometry.

/// The saved state of one series: what a checkpoint holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesState {
    /// When the series was created (ns since the Unix epoch).
    pub created: u64,
    /// Epochs of the started, retained slots, ascending.
    pub epochs: Vec<u64>,
    /// The cumulative values and per-slot payloads, by kind.
    pub data: StateData,
}

impl SeriesState {
    /// The kind of series this state belongs to.
    pub fn kind(&self) -> crate::MetricKind {
        match self.data {
            StateData::Counter { .. } => crate::MetricKind::Counter,
            StateData::Gauge { .. } => crate::MetricKind::Gauge,
            StateData::Histogram { .. } => crate::MetricKind::Histogram,
            StateData::Summary { .. } => crate::MetricKind::Summary,
        }
    }
}

/// Per-kind part of a [`SeriesState`]; per-slot columns follow `epochs`.
#[derive(Debug, Clone, PartialEq)]
pub enum StateData {
    /// A counter.
    Counter {
        /// The total.
        total: u64,
        /// The total when each epoch started.
        bases: Vec<u64>,
    },
    /// A gauge.
    Gauge {
        /// The value.
        value: f64,
        /// Last value set in each epoch.
        last: Vec<f64>,
        /// Smallest value set in each epoch (NaN if only NaN was set).
        min: Vec<f64>,
        /// Largest value set in each epoch (NaN if only NaN was set).
        max: Vec<f64>,
    },
    /// A histogram.
    Histogram {
        /// Count per bucket, `+Inf` last.
        counts: Vec<u64>,
        /// Sum of observations.
        sum: f64,
        /// Per epoch, `counts.len()` bucket counts when it started (row-major).
        bases: Vec<u64>,
        /// The sum when each epoch started.
        sum_bases: Vec<f64>,
    },
    /// A summary.
    Summary {
        /// Observations.
        count: u64,
        /// Sum of observations.
        sum: f64,
        /// The count when each epoch started.
        count_bases: Vec<u64>,
        /// The sum when each epoch started.
        sum_bases: Vec<f64>,
        /// Per epoch, the sketch's bucket counts (row-major, `mapping.len()` each).
        sketches: Vec<u32>,
    },
}

/// The epochs `read` finds in retained slots, ascending, with their payloads.
fn capture_slots<T>(
    g: &Geometry,
    now: u64,
    mut read: impl FnMut(u64, usize) -> Option<T>,
) -> Vec<(u64, T)> {
    let now_e = g.epoch(now);
    let mut out = Vec::new();
    for_each_epoch(g, g.oldest_retained(now_e), now_e, |e, i| {
        if let Some(v) = read(e, i) {
            out.push((e, v));
        }
    });
    out
}

impl CounterCore {
    /// The saved state at `now` (history limited to retained epochs).
    pub fn capture(&self, now: u64) -> (Vec<u64>, StateData) {
        let slots = capture_slots(&self.geometry, now, |e, i| {
            let slot = self.ring.get(i)?;
            slot.tag
                .read(|| slot.base.load(Ordering::Acquire))
                .and_then(|(se, b)| (se == e).then_some(b))
        });
        let (epochs, bases) = slots.into_iter().unzip();
        (
            epochs,
            StateData::Counter {
                total: self.total(),
                bases,
            },
        )
    }

    /// Loads saved state (history too if `history`) into this (fresh, unshared) counter. Returns false, and
    /// changes nothing, if `data` is not a counter's or its columns disagree.
    pub fn restore(&self, state: &SeriesState, history: bool) -> bool {
        let (epochs, data) = (&state.epochs[..], &state.data);
        // Without history only the cumulative values are loaded.
        let write: &[u64] = if history { epochs } else { &[] };
        let StateData::Counter { total, bases } = data else {
            return false;
        };
        if bases.len() != epochs.len() {
            return false;
        }
        for (&e, &b) in write.iter().zip(bases) {
            if let Some(slot) = self.ring.get(self.geometry.slot(e)) {
                if slot.tag.begin(e) == Begin::Started {
                    slot.base.store(b, Ordering::Release);
                    slot.tag.publish(e);
                    touch(&self.last_epoch, e);
                }
            }
        }
        self.total.store(*total, Ordering::Relaxed);
        true
    }
}

impl GaugeCore {
    /// The saved state at `now` (history limited to retained epochs).
    pub fn capture(&self, now: u64) -> (Vec<u64>, StateData) {
        let mut pts = Vec::new();
        let now_e = self.geometry.epoch(now);
        self.points(self.geometry.oldest_retained(now_e), now_e, |e, p| {
            pts.push((e, p))
        });
        let epochs = pts.iter().map(|(e, _)| *e).collect();
        (
            epochs,
            StateData::Gauge {
                value: self.get(),
                last: pts.iter().map(|(_, p)| p.last).collect(),
                min: pts.iter().map(|(_, p)| p.min).collect(),
                max: pts.iter().map(|(_, p)| p.max).collect(),
            },
        )
    }

    /// Loads saved state (history too if `history`) into this (fresh, unshared) gauge. Returns false, and
    /// changes nothing, if `data` is not a gauge's or its columns disagree.
    pub fn restore(&self, state: &SeriesState, history: bool) -> bool {
        let (epochs, data) = (&state.epochs[..], &state.data);
        // Without history only the cumulative values are loaded.
        let write: &[u64] = if history { epochs } else { &[] };
        let StateData::Gauge {
            value,
            last,
            min,
            max,
        } = data
        else {
            return false;
        };
        let n = epochs.len();
        if last.len() != n || min.len() != n || max.len() != n {
            return false;
        }
        for (k, &e) in write.iter().enumerate() {
            if let Some(slot) = self.ring.get(self.geometry.slot(e)) {
                if slot.tag.begin(e) == Begin::Started {
                    let (lo, hi) = if min[k].is_nan() || max[k].is_nan() {
                        (u64::MAX, 0)
                    } else {
                        (f64_to_ordered(min[k]), f64_to_ordered(max[k]))
                    };
                    slot.last.store(last[k].to_bits(), Ordering::Release);
                    slot.min.store(lo, Ordering::Release);
                    slot.max.store(hi, Ordering::Release);
                    slot.tag.publish(e);
                    touch(&self.last_epoch, e);
                }
            }
        }
        self.value.store(value.to_bits(), Ordering::Relaxed);
        true
    }
}

impl HistogramCore {
    /// The saved state at `now` (history limited to retained epochs).
    pub fn capture(&self, now: u64) -> (Vec<u64>, StateData) {
        let n = self.counts.len();
        let slots = capture_slots(&self.geometry, now, |e, i| {
            let row = self.bases.get(i * (n + 1)..(i + 1) * (n + 1))?;
            self.tags
                .get(i)?
                .read(|| {
                    row.iter()
                        .map(|b| b.load(Ordering::Acquire))
                        .collect::<Vec<u64>>()
                })
                .and_then(|(se, r)| (se == e).then_some(r))
        });
        let snap = self.snapshot();
        let mut epochs = Vec::with_capacity(slots.len());
        let mut bases = Vec::with_capacity(slots.len() * n);
        let mut sum_bases = Vec::with_capacity(slots.len());
        for (e, row) in slots {
            epochs.push(e);
            bases.extend_from_slice(&row[..n]);
            sum_bases.push(f64::from_bits(row[n]));
        }
        (
            epochs,
            StateData::Histogram {
                counts: snap.counts.to_vec(),
                sum: snap.sum,
                bases,
                sum_bases,
            },
        )
    }

    /// Loads saved state (history too if `history`) into this (fresh, unshared) histogram. Returns false, and
    /// changes nothing, if `data` is not a histogram's of this bucket layout or its
    /// columns disagree.
    pub fn restore(&self, state: &SeriesState, history: bool) -> bool {
        let (epochs, data) = (&state.epochs[..], &state.data);
        // Without history only the cumulative values are loaded.
        let write: &[u64] = if history { epochs } else { &[] };
        let StateData::Histogram {
            counts,
            sum,
            bases,
            sum_bases,
        } = data
        else {
            return false;
        };
        let n = self.counts.len();
        if counts.len() != n || bases.len() != epochs.len() * n || sum_bases.len() != epochs.len() {
            return false;
        }
        for (k, &e) in write.iter().enumerate() {
            let i = self.geometry.slot(e);
            let (Some(tag), Some(row)) = (
                self.tags.get(i),
                self.bases.get(i * (n + 1)..(i + 1) * (n + 1)),
            ) else {
                continue;
            };
            if tag.begin(e) == Begin::Started {
                for (dst, src) in row.iter().zip(&bases[k * n..(k + 1) * n]) {
                    dst.store(*src, Ordering::Release);
                }
                row[n].store(sum_bases[k].to_bits(), Ordering::Release);
                tag.publish(e);
                touch(&self.last_epoch, e);
            }
        }
        for (dst, src) in self.counts.iter().zip(counts) {
            dst.store(*src, Ordering::Relaxed);
        }
        self.sum.store(sum.to_bits(), Ordering::Relaxed);
        true
    }
}

impl SummaryCore {
    /// The saved state at `now` (history limited to retained epochs).
    pub fn capture(&self, now: u64) -> (Vec<u64>, StateData) {
        let k = self.mapping.len();
        let mut epochs = Vec::new();
        let mut count_bases = Vec::new();
        let mut sum_bases = Vec::new();
        let mut sketches = Vec::new();
        let now_e = self.geometry.epoch(now);
        self.slots(self.geometry.oldest_retained(now_e), now_e, |e, i, c, s| {
            epochs.push(e);
            count_bases.push(c);
            sum_bases.push(s);
            sketches.extend(
                self.sketches[i * k..(i + 1) * k]
                    .iter()
                    .map(|b| b.load(Ordering::Acquire)),
            );
        });
        (
            epochs,
            StateData::Summary {
                count: self.count(),
                sum: self.sum(),
                count_bases,
                sum_bases,
                sketches,
            },
        )
    }

    /// Loads saved state (history too if `history`) into this (fresh, unshared) summary. Returns false, and
    /// changes nothing, if `data` is not a summary's of this sketch size or its
    /// columns disagree.
    pub fn restore(&self, state: &SeriesState, history: bool) -> bool {
        let (epochs, data) = (&state.epochs[..], &state.data);
        // Without history only the cumulative values are loaded.
        let write: &[u64] = if history { epochs } else { &[] };
        let StateData::Summary {
            count,
            sum,
            count_bases,
            sum_bases,
            sketches,
        } = data
        else {
            return false;
        };
        let k = self.mapping.len();
        let n = epochs.len();
        if count_bases.len() != n || sum_bases.len() != n || sketches.len() != n * k {
            return false;
        }
        for (j, &e) in write.iter().enumerate() {
            let i = self.geometry.slot(e);
            let (Some(tag), Some(sketch), Some([cb, sb])) = (
                self.tags.get(i),
                self.sketches.get(i * k..(i + 1) * k),
                self.bases.get(2 * i..2 * i + 2),
            ) else {
                continue;
            };
            if tag.begin(e) == Begin::Started {
                for (dst, src) in sketch.iter().zip(&sketches[j * k..(j + 1) * k]) {
                    dst.store(*src, Ordering::Release);
                }
                cb.store(count_bases[j], Ordering::Release);
                sb.store(sum_bases[j].to_bits(), Ordering::Release);
                tag.publish(e);
                touch(&self.last_epoch, e);
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
    fn suffix_min_keeps_the_sum_and_order() {
        let mut b = [10, 0, 5, 7];
        suffix_min(b.iter_mut(), 11);
        assert_eq!(b, [0, 0, 5, 7]);
        let mut b = [3, 9, 20];
        suffix_min(b.iter_mut(), 12);
        assert_eq!(b, [3, 9, 12]);
    }

    #[test]
    fn counter_points_per_epoch() {
        let c = CounterCore::new(Geometry::new(W, 4), 0);
        c.inc_by(1, 0);
        c.inc_by(2, 10);
        c.inc_by(4, 2 * W + 5);
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
    fn gauge_points_and_extremes() {
        let g = GaugeCore::new(Geometry::new(W, 4), 0);
        g.set(5.0, 0);
        g.set(-2.0, 1);
        g.add(10.0, 2);
        g.set(f64::NAN, 3);
        g.set(1.0, W);
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
        g.set(3.0, W + 1);
        assert_eq!(g.max_over(2 * W + 5, Duration::from_nanos(1)), 3.0);
    }

    #[test]
    fn histogram_points_and_quantiles() {
        let h = HistogramCore::new(
            Buckets::new(vec![1.0, 2.0]).unwrap(),
            Geometry::new(W, 4),
            0,
        );
        for v in [0.5, 1.5, 1.5, 3.0] {
            h.observe(v, 0);
        }
        h.observe(0.1, W);
        let mut pts = Vec::new();
        h.for_each_point(W, TimeRange::ALL, |p| {
            pts.push((p.start, p.counts.to_vec(), p.sum))
        });
        assert_eq!(pts.len(), 2);
        assert_eq!((pts[0].0, &pts[0].1, pts[0].2), (0, &vec![1, 2, 1], 6.5));
        assert_eq!((pts[1].0, &pts[1].1), (W, &vec![1, 0, 0]));
        assert!((pts[1].2 - 0.1).abs() < 1e-12);
        assert_eq!(h.snapshot().count(), 5);
        // One observation in (0, 1]: PromQL interpolates to the middle.
        assert_eq!(h.quantile(0.5, W + 5, Duration::from_nanos(1)), 0.5);
        let q = h.quantile(0.5, W + 5, Duration::from_nanos(W));
        assert!(q > 1.0 && q <= 2.0, "{q}");
    }

    #[test]
    fn summary_points_and_quantiles() {
        let s = SummaryCore::new(SketchMapping::default_mapping(), Geometry::new(W, 3), 0);
        for v in 1..=100 {
            s.observe(v as f64, 0);
        }
        s.observe(1000.0, W);
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
    }

    #[test]
    fn bucket_quantile_matches_promql() {
        let bounds = [1.0, 2.0, 4.0];
        // 10 in (0,1], 10 in (1,2], 0 in (2,4], 0 in +Inf.
        assert_eq!(bucket_quantile(0.5, &bounds, &[10, 10, 0, 0]), 1.0);
        assert_eq!(bucket_quantile(0.75, &bounds, &[10, 10, 0, 0]), 1.5);
        assert_eq!(bucket_quantile(0.99, &bounds, &[0, 0, 0, 5]), 4.0);
        assert!(bucket_quantile(0.5, &bounds, &[0, 0, 0, 0]).is_nan());
        assert_eq!(
            bucket_quantile(-1.0, &bounds, &[1, 0, 0, 0]),
            f64::NEG_INFINITY
        );
        assert_eq!(bucket_quantile(2.0, &bounds, &[1, 0, 0, 0]), f64::INFINITY);
    }

    #[test]
    fn time_range_overlap() {
        let r = TimeRange {
            start: Some(10),
            end: Some(20),
        };
        assert!(r.overlaps(5, 6));
        assert!(!r.overlaps(5, 5));
        assert!(r.overlaps(20, 5));
        assert!(!r.overlaps(21, 5));
        assert!(TimeRange::ALL.overlaps(0, 1));
    }
}
