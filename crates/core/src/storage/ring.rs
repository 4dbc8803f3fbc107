//! The epoch-ring protocol that counters, histograms and summaries share.
//!
//! A series keeps its cumulative state in plain atomics and, beside it, one *row*
//! of snapshot words per epoch of its ring ("bases": the cumulative state when the
//! epoch started). Slot `x % len` holds epoch `x`; `lap(x) = x / len` says which
//! of the epochs that share the slot it is.
//!
//! Each word is self-describing: the low 16 bits of its lap in the top 16 bits,
//! the low 48 bits of the base below. A word is written by one compare-and-swap,
//! so a reader can never see half of it, and a writer can never attach a value to
//! the wrong lap: there is no separate tag to race with and no BUSY state, so a
//! writer stalled at any point cannot block the others.
//!
//! * **Head.** `head` is the newest epoch whose rows are filled. Writers check it on
//!   every recording (one Relaxed load, compared with the clock reading).
//! * **Fill** (cold; the first recording of an epoch): for every epoch `x` in
//!   `(head, e]` within one lap of `e`, and every word of its row, CAS the word
//!   from the lap it held to `(lap(x), value)`, unless it already holds `lap(x)` (a
//!   racing writer wrote it first: first writer wins, so a base never changes once
//!   written) or a later lap (this writer's clock reading is a lap stale). Then
//!   `head.fetch_max(e)` with Release. Epochs skipped while the series was idle get
//!   the same base as `e`, so their increase is zero.
//! * **Read**: `head` with Acquire, then the row words (Relaxed), each taken only if
//!   its tag is the lap of the epoch asked for.
//!
//! Invariant: after a fill that published `h`, every slot holds an epoch in
//! `(h - len, h]` (or one a racing writer is filling, newer than `h`). That is what
//! lets 16 bits of lap identify a word exactly: a word a filler finds is either
//! the one it expects to replace (the unique epoch of its slot in `(h - len, h]`),
//! or one a racing writer just wrote, within a few laps of the filler's own epoch.
//!
//! Why the orderings are enough: the fill's CASes are sequenced before its
//! Release `fetch_max` on `head`; `head` is only ever changed by RMWs, so every
//! later value continues the release sequence of every earlier fill. A reader that
//! Acquires `head = h` therefore happens-after every CAS of every fill that
//! published an epoch up to `h`, including the reads a fill made of words another
//! writer had written, and by read-read coherence its Relaxed loads of those words
//! return them or something newer. Newer means a later lap (a writer already
//! filling past `h`), which the tag check rejects. The CASes themselves can be
//! Relaxed: the word carries its own tag, and nothing else is published with it.
//!
//! Bases are 48 bits: a full value is rebuilt from a later reading of the
//! cumulative value (`widen`), exact while the increase over one ring lap stays
//! under 2^47 (1.4e14). Sums (floats) keep the top 48 bits of the `f64` (a 36-bit
//! mantissa), rounded to nearest: relative error 2^-37 of the cumulative sum.

use std::ptr::NonNull;

use super::slab::Slab;
use crate::retention::Geometry;
use crate::sync::{mutant, ord, AtomicU64, Ordering};

/// Bits of a word below its tag.
pub(crate) const PAYLOAD_BITS: u32 = 48;
/// Mask of a word's payload.
pub(crate) const PAYLOAD_MASK: u64 = (1 << PAYLOAD_BITS) - 1;

/// A word holding `payload` (low 48 bits kept) for lap `lap` (low 16 bits kept).
#[inline]
pub(crate) fn pack(lap: u64, payload: u64) -> u64 {
    (lap << PAYLOAD_BITS) | (payload & PAYLOAD_MASK)
}

/// The lap tag of a word.
#[inline]
pub(crate) fn tag(word: u64) -> u16 {
    (word >> PAYLOAD_BITS) as u16
}

/// The payload of a word.
#[inline]
pub(crate) fn payload(word: u64) -> u64 {
    word & PAYLOAD_MASK
}

/// Rebuilds a full base from its low 48 bits and a later reading `total` of the
/// same non-decreasing quantity. A base that a racing writer took slightly after
/// `total` was read comes back above `total`; callers clamp bases to the total.
#[inline]
pub(crate) fn widen(total: u64, low: u64) -> u64 {
    let behind = total.wrapping_sub(low) & PAYLOAD_MASK;
    if behind < 1 << (PAYLOAD_BITS - 1) {
        total.wrapping_sub(behind)
    } else {
        total.wrapping_add((1 << PAYLOAD_BITS) - behind)
    }
}

/// An `f64` in 48 bits: the top 48 bits of its representation, rounded to nearest.
/// Infinities and NaN survive.
#[inline]
pub(crate) fn f64_to_48(v: f64) -> u64 {
    let b = v.to_bits();
    if v.is_nan() {
        return f64::NAN.to_bits() >> 16;
    }
    // Rounding carries into the exponent at the top of a binade, which is the
    // correct rounding; at f64::MAX it gives infinity.
    let sign = b & (1 << 63);
    let mag = b & !(1 << 63);
    let r = (mag + (1 << 15)).min(f64::INFINITY.to_bits());
    (sign | r) >> 16
}

/// Inverse of [`f64_to_48`].
#[inline]
pub(crate) fn f64_from_48(p: u64) -> f64 {
    f64::from_bits(p << 16)
}

/// The rows of a ring and its head, `W` words per row.
///
/// One pointer to a block of `1 + len * W` words: the head, then the rows. A
/// series keeps this pointer inline (8 bytes) and nothing else of its ring: the
/// 16-byte boxed slice and the inline head and first word it replaces put a
/// counter with 60 epochs one malloc size class higher. A ring without history
/// (`Retention::NONE`, [`Geometry::lifetime`]) allocates nothing: every such
/// ring points at one shared block of zeros, which nothing writes (its one
/// epoch spans all time, so the head stays at 0 and no fill runs; `fill`,
/// `rewind` and `put` check anyway).
///
/// The block's length follows from the ring's shape, which the block does not
/// store: the owner frees it with [`Rows::free`], passing that shape.
pub(crate) struct Rows<const W: usize> {
    block: NonNull<AtomicU64>,
}

// SAFETY: the block is atomics only, shared by reference like `&[AtomicU64]`.
#[allow(unsafe_code)]
unsafe impl<const W: usize> Send for Rows<W> {}
// SAFETY: as above.
#[allow(unsafe_code)]
unsafe impl<const W: usize> Sync for Rows<W> {}

impl<const W: usize> std::fmt::Debug for Rows<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rows")
            .field("head", &self.head_hint())
            .finish_non_exhaustive()
    }
}

/// The block every one-epoch ring shares: a head of 0 and one row of zeros
/// (rows are at most two words wide). Outside loom only: loom's atomics cannot
/// be statics, so under loom every ring allocates its block.
#[cfg(not(loom))]
static ZERO_BLOCK: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

/// What a fill found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filled {
    /// The rows up to the epoch are filled.
    Done,
    /// `head` is already past the epoch asked for: the writer's clock reading is
    /// older than another writer's, or the clock went back.
    Behind,
}

#[allow(unsafe_code)]
impl<const W: usize> Rows<W> {
    /// Rows for a series created in epoch `now_e`: every slot is tagged with the
    /// epoch it holds in `(now_e - len, now_e]` and holds `init(j)` in word `j`;
    /// the head is `now_e`. The block is its own allocation, or taken from
    /// `slab` (whose blocks are this shape's size); free it the same way.
    pub(crate) fn new(
        g: &Geometry,
        now_e: u64,
        init: impl Fn(usize) -> u64,
        slab: Option<&Slab>,
    ) -> Rows<W> {
        const { assert!(W >= 1 && W <= 2, "rows are one or two words wide") };
        #[cfg(not(loom))]
        if g.is_lifetime()
            && (0..W).all(|j| pack(0, init(j)) == 0)
            && slab.is_none_or(|s| s.block_words() == Self::block_words(g))
        {
            return Rows {
                block: NonNull::from(&ZERO_BLOCK[0]),
            };
        }
        let (head_lap, head_slot) = (g.lap(now_e), g.slot(now_e));
        let word = |i: usize| match i.checked_sub(1) {
            None => now_e,
            Some(k) => {
                let (slot, j) = (k / W, k % W);
                // Slots after the head's hold the previous lap.
                let lap = if slot <= head_slot {
                    head_lap
                } else {
                    head_lap.wrapping_sub(1)
                };
                pack(lap, init(j))
            }
        };
        let block = match slab {
            Some(slab) => {
                assert!(
                    slab.block_words() >= Self::block_words(g),
                    "a slab of this shape"
                );
                // Words past the rows (a striped counter's stripes) start at 0.
                let rows = Self::block_words(g);
                slab.alloc(|i| if i < rows { word(i) } else { 0 })
            }
            None => {
                let words: Box<[AtomicU64]> = (0..Self::block_words(g))
                    .map(|i| AtomicU64::new(word(i)))
                    .collect();
                // SAFETY: `Box::into_raw` never returns null.
                unsafe { NonNull::new_unchecked(Box::into_raw(words).cast::<AtomicU64>()) }
            }
        };
        Rows { block }
    }

    /// Words in the block of a ring of shape `g`: the head and the rows (a
    /// slab's block size).
    pub(crate) fn block_words(g: &Geometry) -> usize {
        1 + g.len() * W
    }

    /// Whether this ring points at the shared block of zeros.
    #[inline]
    fn is_shared_zero(&self) -> bool {
        #[cfg(not(loom))]
        {
            std::ptr::eq(self.block.as_ptr().cast_const(), &ZERO_BLOCK[0])
        }
        #[cfg(loom)]
        {
            false
        }
    }

    /// Frees the block.
    ///
    /// # Safety
    ///
    /// `g` and `slab` are what the rows were made with, and the rows are not
    /// used again (the owner calls this from its `Drop`).
    pub(crate) unsafe fn free(&mut self, g: &Geometry, slab: Option<&Slab>) {
        if self.is_shared_zero() {
            return;
        }
        match slab {
            // SAFETY: the block came from this slab (the caller's promise).
            Some(slab) => unsafe { slab.free(self.block) },
            None => {
                let words =
                    std::ptr::slice_from_raw_parts_mut(self.block.as_ptr(), Self::block_words(g));
                // SAFETY: the block is the boxed slice `new` made for this shape
                // (the caller's promise), freed once.
                drop(unsafe { Box::from_raw(words) });
            }
        }
    }

    /// Bytes of the block a ring of shape `g` allocates: 0 without history (the
    /// shared block of zeros), else its words.
    pub(crate) fn bytes_for(g: &Geometry) -> usize {
        if cfg!(not(loom)) && g.is_lifetime() {
            0
        } else {
            Self::block_words(g) * std::mem::size_of::<AtomicU64>()
        }
    }

    /// The words of the block after the rows (a striped counter's stripes):
    /// `slab`'s blocks are that much longer than the rows.
    ///
    /// # Safety
    ///
    /// The rows were made with shape `g` from `slab`.
    #[inline]
    pub(crate) unsafe fn tail(&self, g: &Geometry, slab: &Slab) -> &[AtomicU64] {
        let rows = Self::block_words(g);
        let n = slab.block_words().saturating_sub(rows);
        if n == 0 {
            return &[];
        }
        // SAFETY: a block from `slab` (the caller's promise) holds
        // `slab.block_words()` words, the rows' first; it lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.block.as_ptr().add(rows), n) }
    }

    /// Word `at` of the block.
    ///
    /// # Safety
    ///
    /// The rows were made from a slab whose blocks hold more than `at` words.
    #[cfg(not(loom))]
    #[inline]
    pub(crate) unsafe fn block_word(&self, at: usize) -> &AtomicU64 {
        // SAFETY: the caller's promise; the block lives as long as `self`.
        unsafe { &*self.block.as_ptr().add(at) }
    }

    /// The head word.
    #[inline]
    fn head_word(&self) -> &AtomicU64 {
        // SAFETY: the block holds at least the head, and lives as long as `self`.
        unsafe { self.block.as_ref() }
    }

    /// The rows' words, `len * W` of them (row `i / W`, column `i % W`).
    #[inline]
    fn rows(&self, g: &Geometry) -> &[AtomicU64] {
        // SAFETY: the block holds the head and then `len * W` words (a shared
        // zero block: a lifetime shape's one row of at most 2), and lives as
        // long as `self`.
        unsafe { std::slice::from_raw_parts(self.block.as_ptr().add(1), g.len() * W) }
    }

    /// Word `i` of the rows (row `i / W`, column `i % W`), if `i < len * W`
    /// (always, for the slots a shape gives: checked rather than trusted, and
    /// without a panic on the recording path).
    #[inline]
    fn word(&self, g: &Geometry, i: usize) -> Option<&AtomicU64> {
        self.rows(g).get(i)
    }

    /// The head, for a writer's fast path: only decides whether to fill.
    #[inline]
    pub(crate) fn head_hint(&self) -> u64 {
        // Relaxed: a stale value only sends the writer to `fill`, which checks again.
        self.head_word().load(Ordering::Relaxed)
    }

    /// The head, for readers: rows of every epoch up to it are visible after this.
    #[inline]
    pub(crate) fn head(&self) -> u64 {
        // Acquire: pairs with the Release `fetch_max` in `fill` (see module docs).
        self.head_word().load(ord!(Acquire, "rows.head.acquire"))
    }

    /// Fills the rows of the epochs in `(head, e]` (at most one lap) with `value(j)`
    /// in word `j`, calling `also(x, lap(x), expected old lap)` before each epoch's
    /// row, then publishes `e` as the head.
    #[cold]
    #[inline(never)]
    pub(crate) fn fill(
        &self,
        g: &Geometry,
        e: u64,
        mut value: impl FnMut(usize) -> u64,
        mut also: impl FnMut(u64, u64, u64),
    ) -> Filled {
        // Relaxed: `h` only tells which words are expected to be untouched; a
        // stale `h` makes the tag checks below fall back to comparing laps.
        let h = self.head_word().load(Ordering::Relaxed);
        if e <= h {
            return if e < h { Filled::Behind } else { Filled::Done };
        }
        if self.is_shared_zero() {
            // A lifetime ring at the end of time (`now` = u64::MAX): nothing
            // to keep.
            return Filled::Done;
        }
        let n = g.len() as u64;
        let first = if mutant("fill.no_gap") {
            e
        } else {
            (h + 1).max((e + 1).saturating_sub(n))
        };
        for x in first..=e {
            let lx = g.lap(x);
            // The lap slot(x) holds if nobody has filled it since `h` was published:
            // its epoch in (h - n, h] is x - k * n.
            let k = (x - h).div_ceil(n);
            let ls = lx.wrapping_sub(k);
            also(x, lx, ls);
            let row = g.slot(x) * W;
            for j in 0..W {
                if let Some(w) = self.word(g, row + j) {
                    claim(w, lx, ls, value(j));
                }
            }
        }
        if !mutant("fill.no_publish") {
            // Release: publishes the words claimed above (and, by the release
            // sequence of `head`'s RMWs, every earlier fill's) to readers that
            // Acquire `head`.
            self.head_word()
                .fetch_max(e, ord!(Release, "rows.head.release"));
        }
        Filled::Done
    }

    /// Word `j` of epoch `x`'s row, if the slot holds that epoch. Call after
    /// [`Rows::head`] returned at least `x`.
    #[cfg(all(test, not(loom)))]
    #[inline]
    pub(crate) fn read(&self, g: &Geometry, x: u64, j: usize) -> Option<u64> {
        let w = self.word(g, g.slot(x) * W + j)?;
        // Relaxed: ordered after the Acquire of `head` (see module docs).
        let w = w.load(Ordering::Relaxed);
        (tag(w) == g.lap(x) as u16).then_some(payload(w))
    }

    /// Calls `f(x, row)` for each epoch `x` in `first..=last` whose slot holds
    /// it, with the payloads of its row's words (up to 2; a row is read whole or
    /// not at all). Call after [`Rows::head`] returned at least `last`. One
    /// division for the run, not two per epoch.
    #[inline]
    pub(crate) fn read_run(
        &self,
        g: &Geometry,
        first: u64,
        last: u64,
        mut f: impl FnMut(u64, [u64; W]),
    ) {
        if first > last {
            return;
        }
        let len = g.len();
        let (mut lap, mut slot) = g.lap_slot(first);
        for x in first..=last {
            let mut row = [0u64; W];
            let mut whole = true;
            for (j, r) in row.iter_mut().enumerate() {
                // Relaxed: ordered after the Acquire of `head` (see module docs).
                match self
                    .word(g, slot * W + j)
                    .map(|w| w.load(Ordering::Relaxed))
                {
                    Some(w) if tag(w) == lap as u16 => *r = payload(w),
                    _ => whole = false,
                }
            }
            if whole {
                f(x, row);
            }
            slot += 1;
            if slot == len {
                slot = 0;
                lap += 1;
            }
        }
    }

    /// Copies word `j` of the row of each epoch `x` in `first..first +
    /// out.len()` into `out[x - first]`: its payload if the slot holds that
    /// epoch, `missing` if not (a racing writer is refilling the slot for a
    /// later lap). Call after [`Rows::head`] returned at least the last of
    /// those epochs.
    ///
    /// The columnar form of [`Rows::read_run`], for readers that want a run of
    /// one word per epoch as a slice: one division for the run, then the
    /// words in slot order (at most two stretches, split where the run wraps
    /// around the ring), a load and a tag compare each, no callback.
    pub(crate) fn read_column(
        &self,
        g: &Geometry,
        first: u64,
        j: usize,
        missing: u64,
        mut out: &mut [u64],
    ) {
        #[inline(always)]
        fn take(w: &AtomicU64, tagged: u64, missing: u64) -> u64 {
            // Relaxed: ordered after the Acquire of `head` (see module docs).
            // With the expected tag cleared, a word of that lap is its payload.
            let x = w.load(Ordering::Relaxed) ^ tagged;
            if x <= PAYLOAD_MASK {
                x
            } else {
                missing
            }
        }
        let len = g.len();
        let rows = self.rows(g);
        let (mut lap, mut slot) = g.lap_slot(first);
        while !out.is_empty() {
            let (run, rest) = out.split_at_mut((len - slot).min(out.len()));
            let t = pack(lap, 0);
            let words = rows.get(slot * W + j..).unwrap_or(&[]);
            for (o, w) in run.iter_mut().zip(words.iter().step_by(W)) {
                *o = take(w, t, missing);
            }
            out = rest;
            slot = 0;
            lap += 1;
        }
    }

    /// The head, if `now` falls in its epoch: the writers' fast path (one
    /// multiply and a compare, no division).
    #[inline]
    pub(crate) fn current(&self, g: &Geometry, now: u64) -> Option<u64> {
        let (head, w) = (self.head_hint(), g.width_nanos());
        (now.wrapping_sub(head.wrapping_mul(w)) < w).then_some(head)
    }

    /// After a fill found the head past the writer's epoch: if a fresh clock
    /// reading (`fresh`, read after the head) is still more than an epoch behind
    /// the head, the clock went back (or history was restored from a process whose
    /// clock was ahead), and history restarts at the clock's epoch with `value(j)`
    /// in every row (see [`Rows::rewind`]); returns that epoch. A writer that was
    /// merely slow reads a fresh time at or near the head and changes nothing.
    #[cold]
    pub(crate) fn catch_up(
        &self,
        g: &Geometry,
        fresh: impl FnOnce() -> u64,
        value: impl FnMut(usize) -> u64,
        also: impl FnMut(u64, u64),
    ) -> Option<u64> {
        // The head first (Acquire), the clock after: a reading taken after seeing
        // the head is at least the reading that moved it, unless the clock went
        // back (with a shared `ManualClock`, the Acquire is what guarantees that).
        let (head, e) = if mutant("catch_up.clock_first") {
            let e = g.epoch(fresh());
            (self.head(), e)
        } else {
            let head = self.head();
            (head, g.epoch(fresh()))
        };
        if e.saturating_add(1) < head {
            self.rewind(g, e, value, also);
            Some(e)
        } else {
            None
        }
    }

    /// Resets history after the clock went back: every row becomes epoch
    /// `(e - len, e]` with `value(j)` (calling `also(x, lap(x))` before each), and
    /// the head moves back to `e`.
    #[cold]
    pub(crate) fn rewind(
        &self,
        g: &Geometry,
        e: u64,
        mut value: impl FnMut(usize) -> u64,
        mut also: impl FnMut(u64, u64),
    ) {
        if self.is_shared_zero() {
            return;
        }
        let n = g.len() as u64;
        for x in (e + 1).saturating_sub(n)..=e {
            also(x, g.lap(x));
            let row = g.slot(x) * W;
            for j in 0..W {
                if let Some(w) = self.word(g, row + j) {
                    w.store(pack(g.lap(x), value(j)), Ordering::Relaxed);
                }
            }
        }
        // Release: as in `fill`, for the rows rewritten above.
        self.head_word()
            .fetch_min(e, ord!(Release, "rows.rewind.release"));
    }

    /// Writes a whole row for epoch `x` into an unshared series (restore). A
    /// one-epoch ring keeps no history and takes nothing: its one row is the
    /// shared block of zeros, which holds the base every restored one-epoch
    /// state has (`Restored::Zero`).
    pub(crate) fn put(&self, g: &Geometry, x: u64, values: [u64; W]) {
        if self.is_shared_zero() {
            debug_assert!(values.iter().all(|&v| pack(g.lap(x), v) == 0));
            return;
        }
        let row = g.slot(x) * W;
        for (j, v) in values.into_iter().enumerate() {
            if let Some(w) = self.word(g, row + j) {
                w.store(pack(g.lap(x), v), Ordering::Relaxed);
            }
        }
    }
}

/// Writes `(lx, v)` into `w` unless it already holds lap `lx` or a later one.
/// `ls` is the lap the word holds if no writer has touched it since the head the
/// caller read.
#[inline]
fn claim(w: &AtomicU64, lx: u64, ls: u64, v: u64) {
    let (tx, ts) = (lx as u16, ls as u16);
    let new = pack(lx, v);
    // Relaxed: see `Rows::fill`; the word carries its own tag.
    let mut cur = w.load(Ordering::Relaxed);
    loop {
        let t = tag(cur);
        // `t == ts`: untouched since the head the caller read (when the two laps
        // alias, after 65,536 laps idle, a racing writer's word is replaced too;
        // both hold bases taken now).
        if t != ts {
            // Written since: the first writer of a lap wins; a later lap means this
            // writer is stale.
            if t == tx && !mutant("claim.overwrite_same") {
                return;
            }
            if (t.wrapping_sub(tx) as i16) > 0 && !mutant("claim.overwrite_newer") {
                return;
            }
        }
        match w.compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(now) => cur = now,
        }
    }
}

/// Makes a run of bases monotone from the right: each becomes the least of itself,
/// every later base and `total`. The increases between them then telescope to
/// `total - first base`, all non-negative, with nothing dropped: a base inflated by
/// a racing writer is lowered to its successor, moving that race's increments to
/// the neighbouring epoch.
pub(crate) fn suffix_min<'a>(bases: impl DoubleEndedIterator<Item = &'a mut u64>, total: u64) {
    let mut run = total;
    for b in bases.rev() {
        run = run.min(*b);
        *b = run;
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Rows that free themselves.
    struct Ring<const W: usize>(Rows<W>, Geometry);

    impl<const W: usize> Ring<W> {
        fn new(g: &Geometry, now_e: u64, init: impl Fn(usize) -> u64) -> Ring<W> {
            Ring(Rows::new(g, now_e, init, None), *g)
        }
    }

    impl<const W: usize> std::ops::Deref for Ring<W> {
        type Target = Rows<W>;
        fn deref(&self) -> &Rows<W> {
            &self.0
        }
    }

    impl<const W: usize> Drop for Ring<W> {
        #[allow(unsafe_code)]
        fn drop(&mut self) {
            // SAFETY: made with this shape, not used again.
            unsafe { self.0.free(&self.1, None) }
        }
    }

    #[test]
    fn lifetime_rings_share_one_block_and_never_write_it() {
        let g = Geometry::lifetime();
        let a = Ring::<2>::new(&g, 0, |_| 0);
        let b = Ring::<1>::new(&g, 0, |_| 0);
        assert_eq!((Rows::<2>::bytes_for(&g), Rows::<1>::bytes_for(&g)), (0, 0));
        assert!(a.is_shared_zero() && b.is_shared_zero());
        // The end of time is epoch 1 of a lifetime ring: nothing is written.
        assert_eq!(b.fill(&g, 1, |_| 7, |_, _, _| {}), Filled::Done);
        b.rewind(&g, 0, |_| 7, |_, _| {});
        assert_eq!((a.head(), a.read(&g, 0, 1)), (0, Some(0)));
        // Any other shape allocates: the head and the rows.
        let g = Geometry::new(10, 4);
        let c = Ring::<2>::new(&g, 3, |_| 0);
        assert_eq!(Rows::<2>::bytes_for(&g), 8 * 9);
        assert!(!c.is_shared_zero());
    }

    #[test]
    fn pack_round_trips() {
        let w = pack(0x1_2345, 0xABCD_0000_0001_2345);
        assert_eq!(tag(w), 0x2345);
        assert_eq!(payload(w), 0x0000_0001_2345);
    }

    #[test]
    fn widen_rebuilds_within_half_the_range() {
        assert_eq!(widen(1_000, 400), 400);
        let big = (7u64 << 48) + 5;
        assert_eq!(widen(big, (big - 10) & PAYLOAD_MASK), big - 10);
        // A base just past the total (a racing writer) comes back above it.
        assert_eq!(widen(100, 103), 103);
        assert_eq!(widen(u64::MAX, (u64::MAX - 3) & PAYLOAD_MASK), u64::MAX - 3);
    }

    #[test]
    fn f48_keeps_specials_and_is_close() {
        for v in [
            0.0,
            -0.0,
            1.0,
            0.5,
            -2.25,
            1e30f32 as f64,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(f64_from_48(f64_to_48(v)).to_bits(), v.to_bits(), "{v}");
        }
        assert!(f64_from_48(f64_to_48(f64::NAN)).is_nan());
        for v in [0.1, 1e-9, 123456.789, -7.3e12, 1e300] {
            let r = f64_from_48(f64_to_48(v));
            assert!(((r - v) / v).abs() <= 2f64.powi(-37), "{v} -> {r}");
        }
    }

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
    fn fill_tags_each_epoch_and_skips_written_words() {
        let g = Geometry::new(10, 4);
        let r = Ring::<1>::new(&g, 0, |_| 0);
        assert_eq!(r.read(&g, 0, 0), Some(0));
        assert_eq!(r.read(&g, 1, 0), None);
        assert_eq!(r.fill(&g, 2, |_| 7, |_, _, _| {}), Filled::Done);
        assert_eq!(r.head(), 2);
        // Epoch 1 was idle: it gets the same base as 2.
        assert_eq!((r.read(&g, 1, 0), r.read(&g, 2, 0)), (Some(7), Some(7)));
        // A second writer of epoch 2 does not change the base.
        assert_eq!(r.fill(&g, 2, |_| 9, |_, _, _| {}), Filled::Done);
        assert_eq!(r.read(&g, 2, 0), Some(7));
        assert_eq!(r.fill(&g, 1, |_| 9, |_, _, _| {}), Filled::Behind);
        // A lap later every slot is refilled; epoch 0's slot now holds 4.
        assert_eq!(r.fill(&g, 9, |_| 11, |_, _, _| {}), Filled::Done);
        assert_eq!(r.read(&g, 4, 0), None);
        assert_eq!(r.read(&g, 8, 0), Some(11));
        assert_eq!(r.read(&g, 6, 0), Some(11));
        assert_eq!(r.read(&g, 5, 0), None);
    }

    /// `read_column` gives, word by word, what `read_run` gives.
    fn column_matches_run<const W: usize>(len: usize) {
        let g = Geometry::new(10, len);
        let r = Ring::<W>::new(&g, 2, |j| j as u64);
        for e in [3, 5, 9] {
            r.fill(&g, e, |j| e * 10 + j as u64, |_, _, _| {});
        }
        let head = r.head();
        for first in 0..=head {
            for last in first..=head {
                for j in 0..W {
                    let mut want = vec![u64::MAX; (last - first + 1) as usize];
                    r.read_run(&g, first, last, |x, row| {
                        want[(x - first) as usize] = row[j]
                    });
                    let mut got = vec![0; want.len()];
                    r.read_column(&g, first, j, u64::MAX, &mut got);
                    assert_eq!(got, want, "len {len} width {W} {first}..={last} word {j}");
                }
            }
        }
    }

    #[test]
    fn read_column_matches_read_run() {
        column_matches_run::<1>(1);
        column_matches_run::<1>(4);
        column_matches_run::<2>(5);
        column_matches_run::<2>(3);
    }

    #[test]
    fn fill_after_a_long_idle_refills_every_slot() {
        let g = Geometry::new(10, 3);
        let r = Ring::<2>::new(&g, 5, |j| j as u64);
        // 65,536 laps and a bit later: laps alias in 16 bits, the fill still works.
        let e = 5 + 3 * 65_536 + 1;
        r.fill(&g, e, |_| 42, |_, _, _| {});
        for x in e - 2..=e {
            assert_eq!(r.read(&g, x, 1), Some(42), "epoch {x}");
        }
    }

    #[test]
    fn stale_writer_leaves_a_newer_lap_alone() {
        let g = Geometry::new(10, 2);
        let r = Ring::<1>::new(&g, 0, |_| 0);
        r.fill(&g, 3, |_| 5, |_, _, _| {});
        // A writer that read epoch 1 long ago and the head before anything moved.
        let w = r.word(&g, g.slot(1)).unwrap();
        claim(w, g.lap(1), g.lap(1).wrapping_sub(1), 99);
        assert_eq!(r.read(&g, 3, 0), Some(5));
    }

    #[test]
    fn rewind_moves_history_back() {
        let g = Geometry::new(10, 3);
        let r = Ring::<1>::new(&g, 100, |_| 0);
        r.fill(&g, 102, |_| 8, |_, _, _| {});
        r.rewind(&g, 50, |_| 8, |_, _| {});
        assert_eq!(r.head(), 50);
        assert_eq!(r.read(&g, 50, 0), Some(8));
        assert_eq!(r.read(&g, 102, 0), None);
        assert_eq!(r.fill(&g, 51, |_| 9, |_, _, _| {}), Filled::Done);
        assert_eq!(r.read(&g, 51, 0), Some(9));
    }
}
