//! Sparse per-epoch bins: the one mechanism behind the history of histograms
//! and summaries.
//!
//! Each slot of a ring holds `k` 8-byte words; a word is one *bin*: a range of
//! keys `[lo, hi]` and how many observations of the slot's epoch fell in it.
//! Keys are small integers chosen by the kind: a classic histogram's bucket index,
//! a summary sketch's log-bucket index (and, next, a native histogram's bucket
//! index). An epoch whose observations fall in at most `k` distinct keys keeps
//! them exactly (`lo == hi`); past that, either the bin nearest a new key widens
//! to take it or the two neighbouring bins of narrowest merged range merge to
//! free a word for it, whichever keeps bins narrower. An epoch always keeps the
//! exact number of its observations, bins stay disjoint, and the bin a key falls
//! in bounds how far it may be from where a reader places it (readers spread a
//! bin's count evenly over its keys).
//!
//! Word layout (high to low): lap tag (4 bits), `lo` (14), `hi` (14), count (32).
//! A count of 0 is an empty word. Every change is one compare-and-swap of the
//! whole word, so a bin's range, count and lap always change together:
//!
//! * **Add** (a writer): probe the slot's words from the key's place in the key
//!   range scaled to `k` words, alternately after and before it (see `probe`), like an
//!   open-addressed table. A word holding the writer's lap (or a newer one: the
//!   writer stalled past its slot's restart, and its observation lands in the
//!   epoch current when it takes effect) whose range holds the key gets its count
//!   incremented; the first empty word is claimed as `[key, key]` with count 1.
//!   Words are only emptied by a restart of the whole slot, so a bin holding the
//!   key is always met before the first empty word. When every word holds another
//!   range, see `crowded`. A word holding an older lap (unreachable while
//!   every writer fills, and so resets, its epoch's slot before adding) is taken
//!   as empty.
//! * **Reset** (a fill, before it claims the epoch's bases; see `ring::claim`):
//!   each word becomes `(lap, empty)` unless a writer of that lap or a later one
//!   got there first.
//! * **Read**: the words whose tag is the lap asked for.
//!
//! Orderings: an add is a Release CAS and a reset Acquires what it replaces, so a
//! fill that resets a word also sees every count increment that writers made
//! before their bin increment (see the summary's count bases).
//!
//! A count stops at `u32::MAX`; a full bin is skipped like one of another range,
//! so a key then takes a second bin. An observation that finds every bin full (4
//! billion per bin in one epoch) is left out of the bins, and still counted by
//! the kind's exact cumulative state.

use crate::retention::Geometry;
use crate::sketch::nearest_rank;
use crate::sync::{mutant, ord, AtomicU64, Ordering};

/// Bits of a key.
pub(crate) const KEY_BITS: u32 = 14;
/// The largest key a bin holds; larger keys are clamped to it.
pub(crate) const MAX_KEY: usize = (1 << KEY_BITS) - 1;
const COUNT_BITS: u32 = 32;
pub(crate) const MAX_COUNT: u64 = u32::MAX as u64;
const LO_SHIFT: u32 = COUNT_BITS + KEY_BITS;
const TAG_SHIFT: u32 = LO_SHIFT + KEY_BITS;

/// One bin as a reader sees it: keys `lo..=hi` and their observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bin {
    pub(crate) lo: usize,
    pub(crate) hi: usize,
    pub(crate) count: u64,
}

#[inline]
fn word(tag: u8, lo: usize, hi: usize, count: u64) -> u64 {
    (u64::from(tag & 0xF) << TAG_SHIFT)
        | ((lo as u64 & MAX_KEY as u64) << LO_SHIFT)
        | ((hi as u64 & MAX_KEY as u64) << COUNT_BITS)
        | (count & MAX_COUNT)
}

#[inline]
fn tag(w: u64) -> u8 {
    (w >> TAG_SHIFT) as u8
}

#[inline]
fn lo(w: u64) -> usize {
    ((w >> LO_SHIFT) as usize) & MAX_KEY
}

#[inline]
fn hi(w: u64) -> usize {
    ((w >> COUNT_BITS) as usize) & MAX_KEY
}

#[inline]
fn count(w: u64) -> u64 {
    w & MAX_COUNT
}

/// `a - b` between two 4-bit lap tags, in -8..=7.
#[inline]
pub(crate) fn lap_diff(a: u8, b: u8) -> i8 {
    ((a.wrapping_sub(b) << 4) as i8) >> 4
}

/// The 4-bit tag of a lap.
#[inline]
pub(crate) fn lap_tag(lap: u64) -> u8 {
    (lap & 0xF) as u8
}

/// The bins of every slot of a ring.
#[derive(Debug)]
pub(crate) struct Bins {
    words: Box<[AtomicU64]>,
    k: u32,
    /// `k * 2^32 / keys`: a probe for `key` starts at `key * scale >> 32`.
    scale: u32,
}

impl Bins {
    /// Bins per slot.
    #[inline]
    pub(crate) fn k(&self) -> usize {
        self.k as usize
    }

    /// Empty bins, `k` per slot, tagged as `Rows::new` tags its rows for a series
    /// created in epoch `now_e`.
    pub(crate) fn new(g: &Geometry, k: usize, now_e: u64) -> Bins {
        let k = k.max(1);
        let (head_lap, head_slot) = g.lap_slot(now_e);
        let n = g.len() * k;
        let mut words = Vec::with_capacity(n);
        for i in 0..n {
            let lap = if i / k <= head_slot {
                head_lap
            } else {
                head_lap.wrapping_sub(1)
            };
            words.push(AtomicU64::new(word(lap_tag(lap), 0, 0, 0)));
        }
        Bins {
            words: words.into_boxed_slice(),
            k: k as u32,
            scale: 0,
        }
        .with_keys(MAX_KEY + 1)
    }

    /// Sets the number of keys in use (`0..keys`), so that probes start at each
    /// key's place in that range scaled to the slot's words.
    pub(crate) fn with_keys(mut self, keys: usize) -> Bins {
        let k = u64::from(self.k);
        self.scale = ((k << 32) / keys.max(1) as u64).min(u64::from(u32::MAX)) as u32;
        self
    }

    /// Bytes of the words.
    pub(crate) fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.words)
    }

    /// Bytes of words `Bins::new` allocates for `slots` slots of `k` bins.
    pub(crate) fn bytes_for(slots: usize, k: usize) -> usize {
        slots * k.max(1) * std::mem::size_of::<AtomicU64>()
    }

    #[inline]
    fn slot_words(&self, slot: usize) -> &[AtomicU64] {
        let k = self.k as usize;
        self.words.get(slot * k..(slot + 1) * k).unwrap_or(&[])
    }

    /// Counts one observation of `key` in `slot`, for the lap tagged `t` (see the
    /// module docs).
    #[inline]
    pub(crate) fn add(&self, slot: usize, t: u8, key: usize) {
        self.add_n(slot, t, key, 1, true);
    }

    /// Counts `n` observations of `key` in `slot` for the lap tagged `t`. With
    /// `adopt`, a slot that holds a newer lap takes them (a writer that stalled
    /// past the restart); without, they are dropped (an epoch being credited
    /// after it left the ring).
    #[inline]
    pub(crate) fn add_n(&self, slot: usize, t: u8, key: usize, n: u64, adopt: bool) {
        let n = n.min(MAX_COUNT);
        if n == 0 {
            return;
        }
        let words = self.slot_words(slot);
        let k = words.len();
        if k == 0 {
            return;
        }
        let key = key.min(MAX_KEY);
        // Where the probe starts: the key's place in the keys in use, scaled to
        // the slot (a multiply and a shift, no division), so neighbouring keys
        // start at the same word, and bins claimed in an empty slot lie in key
        // order.
        let start = (((key as u64 * u64::from(self.scale)) >> 32) as usize).min(k - 1);
        // The common case first: every word holds the writer's lap, and the bin
        // holding the key (or the first empty word) takes the observation. A word
        // of another lap, or a CAS that fails, sends the writer to the general
        // probe below, which handles every case.
        'fast: {
            for p in 0..k {
                let i = probe(start, p, k);
                let w = &words[i];
                // Relaxed: as below.
                let cur = w.load(Ordering::Relaxed);
                if tag(cur) != t & 0xF {
                    break 'fast;
                }
                let holds = lo(cur) <= key && key <= hi(cur);
                let new = if count(cur) == 0 || (!holds && mutant("bins.claim.overwrite")) {
                    word(t, key, key, n)
                } else if holds && count(cur) + n <= MAX_COUNT {
                    cur + n
                } else {
                    continue;
                };
                // Release: see `Bins::reset`.
                let rel = ord!(Release, "bins.add.release");
                if w.compare_exchange(cur, new, rel, Ordering::Relaxed).is_ok() {
                    return;
                }
                break 'fast;
            }
            if crowded(words, key, n) {
                return;
            }
        }
        loop {
            for p in 0..k {
                let i = probe(start, p, k);
                let w = &words[i];
                // Relaxed: every word is its own bin; readers check its tag.
                let mut cur = w.load(Ordering::Relaxed);
                loop {
                    let d = lap_diff(tag(cur), t);
                    if d > 0 && !adopt {
                        return;
                    }
                    let holds = lo(cur) <= key && key <= hi(cur);
                    let free =
                        d < 0 || count(cur) == 0 || (!holds && mutant("bins.claim.overwrite"));
                    let new = if free {
                        // Empty (or an older lap's, taken as empty): claim it.
                        word(if d < 0 { t } else { tag(cur) }, key, key, n)
                    } else if holds && count(cur) + n <= MAX_COUNT {
                        cur + n
                    } else {
                        break;
                    };
                    // Release: see `Bins::reset`.
                    match w.compare_exchange_weak(
                        cur,
                        new,
                        ord!(Release, "bins.add.release"),
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return,
                        Err(now) => cur = now,
                    }
                }
            }
            // Every word holds another range: make room (see `crowded`), unless
            // the words changed meanwhile: then look again.
            if crowded(words, key, n) {
                return;
            }
        }
    }

    /// Restarts `slot` for lap `lx` when a fill starts its epoch; `ls` is the lap
    /// the slot holds if untouched (see `ring::claim`).
    pub(crate) fn reset(&self, slot: usize, lx: u64, ls: u64) {
        if mutant("bins.fill.no_reset") {
            return;
        }
        let (tx, ts) = (lap_tag(lx), lap_tag(ls));
        for w in self.slot_words(slot) {
            // Acquire (here, and on the CAS): pairs with the writers' Release. A
            // fill resets the bins before it takes the count base: an observation
            // whose bin this reset wipes had its count increment before it, so the
            // base includes it and both put it in the old epoch; one that comes
            // later lands in the new lap's bins. So per epoch the bins never count
            // fewer observations than the count's bases give it.
            let acq = ord!(Acquire, "bins.reset.acquire");
            let mut cur = w.load(acq);
            loop {
                let t = tag(cur);
                if t != ts && (t == tx || lap_diff(t, tx) > 0) {
                    // A writer of this lap (or a later one) was first.
                    break;
                }
                match w.compare_exchange_weak(cur, word(tx, 0, 0, 0), acq, acq) {
                    Ok(_) => break,
                    Err(now) => cur = now,
                }
            }
        }
    }

    /// Writes the whole of `slot` for lap `lap` from one writer that owns it
    /// (a native histogram's close, see `super::native`): `(key, count)` of each
    /// bin, one word each while words remain (counts stop at `u32::MAX`), the
    /// rest empty; `rel` orders each store.
    pub(crate) fn store_slot(&self, slot: usize, lap: u64, bins: &[(usize, u64)], rel: Ordering) {
        let t = lap_tag(lap);
        for (i, w) in self.slot_words(slot).iter().enumerate() {
            let v = match bins.get(i) {
                Some(&(key, n)) => word(t, key, key, n.min(MAX_COUNT)),
                None => word(t, 0, 0, 0),
            };
            w.store(v, rel);
        }
    }

    /// Empties `slot` for lap `lx` (a rewind, after the clock went back).
    pub(crate) fn empty(&self, slot: usize, lx: u64) {
        for w in self.slot_words(slot) {
            w.store(word(lap_tag(lx), 0, 0, 0), Ordering::Relaxed);
        }
    }

    /// Calls `f` with each non-empty bin of `slot` that holds lap `lap`.
    #[inline]
    pub(crate) fn for_each(&self, slot: usize, lap: u64, mut f: impl FnMut(Bin)) {
        let t = lap_tag(lap);
        for w in self.slot_words(slot) {
            // Acquire, in index order: pairs with the writers' Release, so a
            // reader that then reads the kind's exact counts sees at least what
            // the bins it read counted, and with a merge's (see `crowded`), so no
            // observation is counted twice.
            let w = w.load(ord!(Acquire, "bins.read.acquire"));
            if tag(w) == t && count(w) > 0 {
                f(Bin {
                    lo: lo(w),
                    hi: hi(w),
                    count: count(w),
                });
            }
        }
    }

    /// Observations in `slot` for lap `lap`.
    pub(crate) fn total(&self, slot: usize, lap: u64) -> u64 {
        let mut n = 0;
        self.for_each(slot, lap, |b| n += b.count);
        n
    }

    /// Writes per-key counts (`counts[key]`) into `slot` of an unshared series for
    /// lap `lap` (restore): as many bins as the slot has, the nearest keys merged
    /// when there are more keys with observations than bins.
    pub(crate) fn put(&self, slot: usize, lap: u64, counts: &[u64]) {
        let words = self.slot_words(slot);
        let mut bins: Vec<Bin> = counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(key, &count)| Bin {
                lo: key.min(MAX_KEY),
                hi: key.min(MAX_KEY),
                count,
            })
            .collect();
        merge_to(&mut bins, words.len());
        let t = lap_tag(lap);
        for (i, w) in words.iter().enumerate() {
            let v = match bins.get(i) {
                Some(b) => word(t, b.lo, b.hi, b.count.min(MAX_COUNT)),
                None => word(t, 0, 0, 0),
            };
            w.store(v, Ordering::Relaxed);
        }
    }
}

/// The `p`-th word a probe from `start` visits in a slot of `k` words: `start`,
/// then alternately after and before it (`start + 1`, `start - 1`, ...), modulo
/// `k`. Bins claimed in an empty slot sit near their keys' places, so the bin a
/// key falls in is usually a step or two away on either side.
#[inline]
fn probe(start: usize, p: usize, k: usize) -> usize {
    let off = p.div_ceil(2);
    if p % 2 == 1 {
        let i = start + off;
        if i >= k {
            i - k
        } else {
            i
        }
    } else if start >= off {
        start - off
    } else {
        start + k - off
    }
}

/// A full slot takes `key` in whichever of two ways keeps the widest bin
/// narrower: the bin nearest the key widens to it, or the two neighbouring bins
/// whose merged range is narrowest merge and the freed word starts a bin of the
/// key alone (so keys seen early do not keep singleton bins while later ones pile
/// into one wide bin). A merge takes the word of higher index first (one CAS,
/// which also counts the observation) and then adds its count to the other; a
/// reader in between misses those observations for a moment, and if the slot
/// restarts in between they leave with the epoch, as everything in it does.
/// Returns false if the words changed since they were read (the caller probes
/// again).
#[cold]
#[inline(never)]
fn crowded(words: &[AtomicU64], key: usize, n: u64) -> bool {
    // Relaxed: every word is its own bin; the CASes below check what was read.
    let mut snap: smallvec::SmallVec<[(usize, u64); 16]> = words
        .iter()
        .enumerate()
        .map(|(i, w)| (i, w.load(Ordering::Relaxed)))
        .filter(|&(_, w)| count(w) > 0)
        .collect();
    if snap.len() < words.len() {
        return false;
    }
    snap.sort_unstable_by_key(|&(_, w)| (lo(w), hi(w)));
    // Widening: the narrowest result among the bins not full.
    let widen = snap
        .iter()
        .filter(|&&(_, w)| count(w) + n <= MAX_COUNT)
        .map(|&(i, w)| (hi(w).max(key) - lo(w).min(key), i, w))
        .min();
    // Merging: the narrowest neighbouring pair of one lap whose counts fit.
    let merge = snap
        .windows(2)
        .filter(|p| tag(p[0].1) == tag(p[1].1) && count(p[0].1) + count(p[1].1) <= MAX_COUNT)
        .map(|p| (hi(p[0].1).max(hi(p[1].1)) - lo(p[0].1), p[0], p[1]))
        .min_by_key(|m| m.0);
    match (widen, merge) {
        (Some((width, i, cur)), m) if m.is_none_or(|m| width <= m.0) => {
            let new = word(
                tag(cur),
                lo(cur).min(key),
                hi(cur).max(key),
                count(cur) + if mutant("bins.widen.no_count") { 0 } else { n },
            );
            // Release: as in `add`.
            words[i]
                .compare_exchange(
                    cur,
                    new,
                    ord!(Release, "bins.widen.release"),
                    Ordering::Relaxed,
                )
                .is_ok()
        }
        (_, Some((_, (i, cur_i), (j, cur_j)))) => {
            // The word of higher index is taken and the lower one grows: readers
            // read words in index order (Acquire), so one that sees the lower
            // word grown also sees the higher one taken, and never counts the
            // moved observations twice.
            let (a, (b, cur_b)) = if i < j {
                (i, (j, cur_j))
            } else {
                (j, (i, cur_i))
            };
            let t = tag(cur_b);
            // Release: as in `add`.
            let rel = ord!(Release, "bins.merge.release");
            if words[b]
                .compare_exchange(cur_b, word(t, key, key, n), rel, Ordering::Relaxed)
                .is_err()
            {
                return false;
            }
            if mutant("bins.merge.drop") {
                return true;
            }
            let mut cur = words[a].load(Ordering::Relaxed);
            loop {
                if tag(cur) != t {
                    // The slot restarted: the old epoch's observations left with it.
                    return true;
                }
                let new = word(
                    t,
                    lo(cur).min(lo(cur_b)),
                    hi(cur).max(hi(cur_b)),
                    (count(cur) + count(cur_b)).min(MAX_COUNT),
                );
                match words[a].compare_exchange_weak(cur, new, rel, Ordering::Relaxed) {
                    Ok(_) => return true,
                    Err(now) => cur = now,
                }
            }
        }
        // Every bin full: the observation stays out of the bins.
        _ => true,
    }
}

/// Merges sorted, disjoint bins until at most `k` remain, each time the adjacent
/// pair whose merged range is narrowest.
fn merge_to(bins: &mut Vec<Bin>, k: usize) {
    while bins.len() > k.max(1) {
        let Some(at) = (0..bins.len() - 1).min_by_key(|&i| bins[i + 1].hi - bins[i].lo) else {
            return;
        };
        let next = bins.remove(at + 1);
        let b = &mut bins[at];
        b.hi = next.hi;
        b.count += next.count;
    }
}

/// Adds `bin`'s count to `out[lo..=hi]`, spread evenly over its keys (the first
/// ones get one more when it does not divide), so the total is exact. Keys past
/// `out` go to its last element.
#[inline]
pub(crate) fn spread(bin: Bin, out: &mut [u64]) {
    let Some(last) = out.len().checked_sub(1) else {
        return;
    };
    let (lo, hi) = (bin.lo.min(last), bin.hi.min(last).max(bin.lo.min(last)));
    let n = (hi - lo + 1) as u64;
    let (each, extra) = (bin.count / n, bin.count % n);
    for (j, o) in out[lo..=hi].iter_mut().enumerate() {
        *o += each + u64::from((j as u64) < extra);
    }
}

/// Runs `f` with an empty per-thread buffer of bins that keeps its capacity
/// between calls, so reading a window's bins allocates nothing once warm (a
/// fresh buffer if nested).
pub(crate) fn with_bins<R>(f: impl FnOnce(&mut Vec<Bin>) -> R) -> R {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<Bin>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            f(&mut buf)
        }
        Err(_) => f(&mut Vec::new()),
    })
}

/// The key of the observation at nearest rank `q` among `bins` holding `total`
/// observations (the smallest key with at least `q·total` observations at or
/// below it, as `SketchMapping::quantile` ranks), a bin's observations taken as
/// placed evenly from its lowest key to its highest; `None` when empty. Sorts
/// `bins`.
pub(crate) fn rank_key(bins: &mut [Bin], q: f64, total: u64) -> Option<usize> {
    let rank = nearest_rank(q, total)?;
    bins.sort_unstable_by_key(|b| (b.lo, b.hi));
    let mut seen = 0u64;
    for b in bins.iter() {
        if seen + b.count > rank {
            // The `(rank - seen)`-th of the bin's observations, placed evenly from
            // `lo` to `hi` (both are keys that were observed: a bin starts at one
            // key and widens only to take another).
            let (r, span) = (u128::from(rank - seen), (b.hi.max(b.lo) - b.lo) as u128);
            let last = u128::from(b.count - 1).max(1);
            let at = ((r * span + last / 2) / last) as usize;
            return Some(b.lo + at);
        }
        seen += b.count;
    }
    bins.last().map(|b| b.hi)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn bins_of(b: &Bins, slot: usize, lap: u64) -> Vec<(usize, usize, u64)> {
        let mut v = Vec::new();
        b.for_each(slot, lap, |x| v.push((x.lo, x.hi, x.count)));
        v.sort();
        v
    }

    #[test]
    fn word_round_trips() {
        let w = word(0xB, 12_345, 16_383, 4_000_000_000);
        assert_eq!(
            (tag(w), lo(w), hi(w), count(w)),
            (0xB, 12_345, 16_383, 4_000_000_000)
        );
    }

    #[test]
    fn distinct_keys_stay_exact_up_to_k() {
        let g = Geometry::new(10, 3);
        let b = Bins::new(&g, 4, 0);
        for key in [7, 3, 7, 9, 3, 3, 200] {
            b.add(0, 0, key);
        }
        assert_eq!(
            bins_of(&b, 0, 0),
            [(3, 3, 3), (7, 7, 2), (9, 9, 1), (200, 200, 1)]
        );
        // A fifth key widens the nearest bin; counts stay exact.
        b.add(0, 0, 6);
        assert_eq!(
            bins_of(&b, 0, 0),
            [(3, 3, 3), (6, 7, 3), (9, 9, 1), (200, 200, 1)]
        );
        b.add(0, 0, 6);
        assert_eq!(b.total(0, 0), 9);
        // Another slot is untouched; another lap of the same slot reads nothing.
        assert_eq!(b.total(1, 0), 0);
        assert_eq!(b.total(0, 1), 0);
    }

    #[test]
    fn reset_restarts_a_slot_unless_a_writer_was_first() {
        let g = Geometry::new(10, 2);
        let b = Bins::new(&g, 2, 0);
        b.add(0, 0, 5);
        // The fill of epoch 2 (lap 1 of slot 0) resets it.
        b.reset(0, 1, 0);
        assert_eq!(b.total(0, 0), 0);
        b.add(0, 1, 6);
        // A second fill of the same epoch keeps what writers of lap 1 counted.
        b.reset(0, 1, 0);
        assert_eq!(bins_of(&b, 0, 1), [(6, 6, 1)]);
        // A stale writer of lap 0 counts into the newer lap.
        b.add(0, 0, 6);
        assert_eq!(bins_of(&b, 0, 1), [(6, 6, 2)]);
        b.empty(0, 4);
        assert_eq!(b.total(0, 1), 0);
        assert_eq!(b.total(0, 4), 0);
    }

    #[test]
    fn large_keys_clamp() {
        let g = Geometry::new(10, 1);
        let b = Bins::new(&g, 2, 0);
        b.add(0, 0, usize::MAX);
        assert_eq!(bins_of(&b, 0, 0), [(MAX_KEY, MAX_KEY, 1)]);
    }

    #[test]
    fn put_merges_the_nearest_keys() {
        let g = Geometry::new(10, 1);
        let b = Bins::new(&g, 2, 0);
        b.put(0, 3, &[0, 4, 1, 0, 0, 0, 0, 2]);
        assert_eq!(bins_of(&b, 0, 3), [(1, 2, 5), (7, 7, 2)]);
        let mut out = [0u64; 8];
        for bin in [
            Bin {
                lo: 1,
                hi: 2,
                count: 5,
            },
            Bin {
                lo: 7,
                hi: 9,
                count: 2,
            },
        ] {
            spread(bin, &mut out);
        }
        assert_eq!(out, [0, 3, 2, 0, 0, 0, 0, 2]);
    }

    #[test]
    fn rank_key_ranks_like_the_sketch() {
        let mut bins = [
            Bin {
                lo: 9,
                hi: 9,
                count: 1,
            },
            Bin {
                lo: 2,
                hi: 2,
                count: 2,
            },
            Bin {
                lo: 4,
                hi: 7,
                count: 4,
            },
        ];
        assert_eq!(rank_key(&mut bins, 0.0, 7), Some(2));
        assert_eq!(rank_key(&mut bins, 2.0 / 7.0, 7), Some(2));
        // The 3rd to 6th observations spread over keys 4..=7.
        assert_eq!(rank_key(&mut bins, 3.0 / 7.0, 7), Some(4));
        assert_eq!(rank_key(&mut bins, 6.0 / 7.0, 7), Some(7));
        assert_eq!(rank_key(&mut bins, 1.0, 7), Some(9));
        assert_eq!(rank_key(&mut [], 0.5, 0), None);
        assert_eq!(rank_key(&mut bins, f64::NAN, 7), None);
    }

    #[test]
    fn lap_differences_wrap() {
        assert_eq!(lap_diff(1, 15), 2);
        assert_eq!(lap_diff(15, 1), -2);
        assert_eq!(lap_diff(7, 0), 7);
        assert_eq!(lap_diff(8, 0), -8);
    }
}
