//! Counters: an exact total beside one 8-byte base per epoch.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use super::ring::{suffix_min, widen, Filled, Rows, PAYLOAD_BITS};
use super::state::{restored_epochs, Restored, SeriesState, StateData};
use super::stripes::{stripe_index, sum_word, Stripes};
use super::window::{window_epochs, window_span, with_scratch, TimeRange};
use crate::family::Shared;
use crate::retention::Geometry;
use crate::sync::{mutant, AtomicU64, Ordering};

/// A base that was not read: payloads are 48 bits, so no word holds it.
const MISSING: u64 = u64::MAX;

/// A counter's state: an exact total and, per epoch of its ring, the total when
/// the epoch started (see [`super::ring`]).
///
/// Memory: 24 bytes inline (the total and two pointers) and, with history, a
/// block of 8 bytes per epoch plus 8 for the ring's head; without history
/// (`Retention::NONE`) no block. The ring's shape is the family's: one pointer
/// to what the family's series share (shape, name, clock), not a copy.
///
/// A counter of a striped family (`Describe::striped`) counts in its stripes
/// instead of `total` (see [`super::stripes`]): they follow the rows in its
/// ring block, one cache-line pair each (128 bytes on x86-64) and up to one
/// less a word of padding, and it allocates that block even without history.
#[derive(Debug)]
pub struct CounterCore {
    /// The total; in a striped counter (which counts in its stripes), the
    /// word offset of its first stripe in the ring's block, set by `new`.
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
        let c = CounterCore {
            total: AtomicU64::new(0),
            rows: Rows::new(g, g.epoch(now), |_| 0, Some(&shared.rings)),
            shared,
        };
        if !c.shared.stripes.is_none() {
            // A striped counter counts in its stripes, not in `total`: there
            // it keeps where the first stripe starts in the ring's block, so
            // that an add finds its stripe with a shift and an add.
            let first = Rows::<1>::block_words(&c.shared.geometry) + Stripes::first(c.tail());
            // Relaxed: before the series is shared.
            c.total.store(first as u64, Ordering::Relaxed);
        }
        c
    }

    /// What the family's series share.
    #[inline]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Adds `n` at time `now`. `fresh` reads the clock again; it is called only
    /// when the ring is ahead of `now` (a stale reading, or a clock that went back).
    /// A striped counter adds to this thread's stripe.
    #[inline]
    pub(crate) fn inc_by(&self, n: u64, now: u64, fresh: impl FnOnce() -> u64) {
        if !self.shared.stripes.is_none() {
            return self.inc_this_stripe(n, now, fresh);
        }
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

    /// The stripes of a striped counter (empty if unstriped).
    #[inline]
    fn tail(&self) -> &[AtomicU64] {
        // SAFETY: the rows were made with the family's shape from its slab.
        #[allow(unsafe_code)]
        unsafe {
            self.rows.tail(&self.shared.geometry, &self.shared.rings)
        }
    }

    /// Adds `n` at time `now` to this thread's stripe. Inline: since the
    /// stripe is found from its place kept in `total` (a mask, a multiply and
    /// an add), the path is small enough that inlining it costs the unstriped
    /// path nothing measurable, and the call it saves was a quarter of a
    /// striped add under contention (`docs/benchmarks.md`).
    #[inline]
    fn inc_this_stripe(&self, n: u64, now: u64, fresh: impl FnOnce() -> u64) {
        self.inc_striped(n, now, stripe_index(), fresh);
    }

    /// Adds `n` at time `now` to stripe `k` of a striped counter (the loom
    /// models name the stripe; recordings take their thread's).
    #[inline]
    pub(crate) fn inc_striped(&self, n: u64, now: u64, k: usize, fresh: impl FnOnce() -> u64) {
        let current = self.rows.current(&self.shared.geometry, now).is_some();
        let Some(cell) = self.stripe_cell(k) else {
            return;
        };
        // Relaxed: each stripe is one word, as the total (see `stripes`).
        let prev = cell.fetch_add(n, Ordering::Relaxed);
        if prev.checked_add(n).is_none() {
            // As `saturate`, for this stripe; the sum saturates too.
            cell.store(u64::MAX, Ordering::Relaxed);
        }
        if !current {
            self.start(now, self.striped_base(k, prev), fresh);
        }
    }

    /// The word of stripe `k mod count` of a striped counter, found from the
    /// first stripe's place in the ring's block (kept in `total` since `new`):
    /// no slice of the tail, no bounds check. Under loom (whose atomics are not
    /// words) through the tail's slice; `stripe_cells_are_the_tails_stripes`
    /// checks that both name the same word.
    #[inline]
    fn stripe_cell(&self, k: usize) -> Option<&AtomicU64> {
        #[cfg(not(loom))]
        {
            let stripes = self.shared.stripes;
            // Relaxed: stored in `new`, before the series was shared.
            let first = self.total.load(Ordering::Relaxed) as usize;
            let at = first + (k & stripes.count().wrapping_sub(1)) * stripes.width();
            #[allow(unsafe_code)]
            // SAFETY: the rows were made with the family's shape from its slab,
            // whose blocks hold `Rows::block_words` words and then
            // `Stripes::tail_words` more: up to a line less a word of padding
            // (`first` is past it) and `count` stripes of `width` words. `at`
            // is the first word of stripe `k mod count`, inside the block.
            let cell = unsafe { self.rows.block_word(at) };
            Some(cell)
        }
        #[cfg(loom)]
        {
            self.shared.stripes.stripe(self.tail(), k).first()
        }
    }

    /// The base of an epoch a striped writer starts: its own stripe before its
    /// add, and every other stripe as it reads it now (after its add). A reader
    /// that Acquires the head this writer publishes reads every stripe at or
    /// after that, so the base is at most the sum it reads.
    #[cold]
    #[inline(never)]
    fn striped_base(&self, k: usize, prev: u64) -> u64 {
        let stripes = self.shared.stripes;
        let tail = self.tail();
        let own = stripes.stripe(tail, k).as_ptr();
        let mut base = if mutant("stripes.base.own_after_add") {
            // The writer's own add would land in the epoch before.
            stripes.stripe(tail, k)[0].load(Ordering::Relaxed)
        } else {
            prev
        };
        if !mutant("stripes.base.own_only") {
            for st in stripes.each(tail) {
                if st.as_ptr() != own {
                    // Relaxed: see above.
                    base = base.saturating_add(st[0].load(Ordering::Relaxed));
                }
            }
        }
        base
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

    /// The cumulative total (of a striped counter: its stripes added up,
    /// saturating at `u64::MAX`).
    #[inline]
    pub fn total(&self) -> u64 {
        let stripes = self.shared.stripes;
        if stripes.is_none() {
            self.total.load(Ordering::Relaxed)
        } else if mutant("stripes.read.first_only") {
            stripes.stripe(self.tail(), 0)[0].load(Ordering::Relaxed)
        } else {
            sum_word(stripes, self.tail(), 0)
        }
    }

    /// How many stripes the counter counts in (0: unstriped).
    pub fn stripes(&self) -> usize {
        self.shared.stripes.count()
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
        std::mem::size_of::<Self>() + CounterCore::block_bytes(&self.shared)
    }

    /// Bytes of a counter's ring block in a family sharing `shared`: the rows
    /// (none without history) and the stripes.
    pub(crate) fn block_bytes(shared: &Shared) -> usize {
        let rows = Rows::<1>::bytes_for(&shared.geometry);
        match shared.stripes.tail_words() {
            0 => rows,
            tail => (Rows::<1>::block_words(&shared.geometry) + tail) * 8,
        }
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
        let (first, last) = g.retained_run(now_e, head, from, u64::MAX);
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

    /// Fills `out` with the counter's increase in each epoch of `epochs`, oldest
    /// first, one value per epoch (0 for an epoch in which it did not grow, or
    /// that is not retained at `now`), and returns the total those increases
    /// were read against.
    ///
    /// The history and the total are one consistent reading: the total is read
    /// once, after the bases, and every base is clamped to it (made monotone
    /// from the right, as for every read), so the increases add up to the
    /// returned total minus the first retained base, never more than the total.
    /// Write that total beside the increases, not a later [`CounterCore::total`].
    ///
    /// The ring is read in one pass into `out` (no per-epoch callback, no
    /// division per epoch, no scratch space but `out`), so a caller that keeps
    /// `out` allocates nothing once it has grown.
    ///
    /// ```
    /// use lakemetrics_core::{Filter, Registry, SeriesData};
    /// let reg = Registry::new();
    /// reg.counter("rows", &[("handler", "csv")]).unwrap().inc_by(3);
    /// let mut increases = Vec::new();
    /// reg.visit(&Filter::all(), |fam| {
    ///     for s in fam.series() {
    ///         if let SeriesData::Counter(c) = s.data() {
    ///             // One value per epoch the export lists for this series.
    ///             let total = c.increases(s.now(), s.history_epochs(), &mut increases);
    ///             assert_eq!(total, 3);
    ///             assert_eq!(increases.iter().sum::<u64>(), 3);
    ///         }
    ///     }
    /// });
    /// ```
    pub fn increases(&self, now: u64, epochs: Range<u64>, out: &mut Vec<u64>) -> u64 {
        let g = &self.shared.geometry;
        let n = epochs.end.saturating_sub(epochs.start) as usize;
        if n == 0 || g.is_lifetime() {
            out.clear();
            return self.total();
        }
        let now_e = g.epoch(now);
        let head = self.rows.head();
        let (first, last) = g.retained_run(now_e, head, epochs.start, u64::MAX);
        if first > last {
            out.clear();
            out.resize(n, 0);
            return self.total();
        }
        // `out[i]` is epoch `epochs.start + i`. The bases are read up to the
        // head even past `epochs` (a range that ends early): a base is made
        // monotone against every base after it, as `with_bases` does.
        let (lo, hi) = (
            (first - epochs.start) as usize,
            (last - epochs.start) as usize,
        );
        // `out` keeps what the previous call left (a caller reusing it for
        // series of one family keeps one length): the run is overwritten
        // whole, the epochs around it are zeroed, so nothing is filled twice.
        out.resize(n.max(hi + 1), 0);
        out[..lo].fill(0);
        out[hi + 1..].fill(0);
        let run = &mut out[lo..=hi];
        self.rows.read_column(g, first, 0, MISSING, run);
        // Total after the bases: every base a reader can see is a value the
        // total had before (see `ring`), up to racing writers' bases, which the
        // running minimum clamps.
        let total = self.total();
        if total >= 1 << (PAYLOAD_BITS - 1) || !monotone_differences(run, total) {
            clamped_differences(run, total);
        }
        out.truncate(n);
        total
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
        let stripes = self.shared.stripes;
        if stripes.is_none() {
            self.total.store(*total, Ordering::Relaxed);
        } else if let Some(w) = stripes.stripe(self.tail(), 0).first() {
            w.store(*total, Ordering::Relaxed);
        }
        true
    }
}

/// The common case of [`CounterCore::increases`]: if the bases in `run` are
/// already in order and at most `total` (so the running minimum of
/// [`clamped_differences`] would change none), replaces each by its increase
/// (the next base, or the total, minus it) and returns true; otherwise leaves
/// `run` as it was and returns false. For a total under 2^47, where every base
/// up to it is its own 48-bit payload.
///
/// One forward pass whose steps do not depend on each other (the running
/// minimum is a chain of dependent compares, one per epoch); a missing base
/// (`MISSING`, above every total) is out of order, so it takes the other path.
#[inline]
fn monotone_differences(run: &mut [u64], total: u64) -> bool {
    let Some(&first) = run.first() else {
        return true;
    };
    let mut prev = first;
    let mut disordered = false;
    for i in 1..run.len() {
        let b = run[i];
        disordered |= b < prev;
        run[i - 1] = b.wrapping_sub(prev);
        prev = b;
    }
    if !disordered && prev <= total {
        if let Some(last) = run.last_mut() {
            *last = total - prev;
        }
        return true;
    }
    // Undo: the bases again, from the first and the differences.
    let mut b = first;
    for v in run.iter_mut() {
        let d = *v;
        *v = b;
        b = b.wrapping_add(d);
    }
    false
}

/// Replaces the bases in `run` (48-bit payloads, or `MISSING`) by their
/// increases, from the newest back: each base is widened against `total`
/// (read after the bases), clamped to the next base (or the total), and the
/// difference kept. An epoch whose base was not readable (a racing writer is
/// refilling its slot) gets 0; its increase goes to the epoch before, as
/// `for_each_point` gives it.
fn clamped_differences(run: &mut [u64], total: u64) {
    let mut next = total;
    for b in run.iter_mut().rev() {
        let base = if *b == MISSING {
            next
        } else {
            widen(total, *b).min(next)
        };
        *b = next - base;
        next = base;
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

    /// `increases` over `epochs`, against `for_each_point` spread over the
    /// same epochs (0 where it gives no point).
    fn check_increases(c: &CounterCore, now: u64, epochs: Range<u64>) {
        let g = c.geometry();
        let range = TimeRange {
            start: Some(g.epoch_start(epochs.start)),
            end: Some(g.epoch_start(epochs.end).saturating_sub(1)),
        };
        let mut want = vec![0; (epochs.end - epochs.start) as usize];
        c.for_each_point(now, range, |p| {
            if let Some(v) = want.get_mut((g.epoch(p.start) - epochs.start) as usize) {
                *v = p.increase;
            }
        });
        // Whatever `out` held before (shorter or longer) is replaced.
        for stale in [3, want.len(), want.len() + 5] {
            let mut got = vec![7; stale];
            let total = c.increases(now, epochs.clone(), &mut got);
            assert_eq!(got, want, "epochs {epochs:?} at {now}");
            assert_eq!(total, c.total());
        }
    }

    #[test]
    fn increases_match_the_points() {
        for (len, base) in [
            (1, 0),
            (4, 0),
            (6, 0),
            (5, (1 << 47) - 3),
            (7, (3 << 48) + 11),
        ] {
            let c = CounterCore::new(Shared::detached(Geometry::new(W, len)), 2 * W);
            // Totals around 2^47 and past 2^48 take `increases`' other path
            // and `widen`'s wrap-around.
            inc(&c, base, 2 * W);
            let mut now = 2 * W;
            for (k, step) in [0, 1, 1, 3, 1, 2 * len as u64 + 1, 1, 1, 1]
                .into_iter()
                .enumerate()
            {
                now += step * W;
                inc(&c, k as u64 * 5 + 1, now);
                let now_e = now / W;
                for lo in [
                    0,
                    1,
                    2,
                    now_e.saturating_sub(len as u64),
                    now_e.saturating_sub(2),
                ] {
                    for hi in [lo, lo + 1, now_e, now_e + 1, now_e + 3] {
                        if hi >= lo {
                            check_increases(&c, now, lo..hi);
                            check_increases(&c, now + W / 2, lo..hi);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn increases_of_rows_racing_writers_left() {
        let g = Geometry::new(W, 5);
        let c = CounterCore::new(Shared::detached(g), 0);
        for e in 0..8 {
            inc(&c, 10, e * W);
        }
        let now = 7 * W + 1;
        check_increases(&c, now, 3..8);
        // A writer filling epoch 8 has claimed its slot (epoch 3's) but not yet
        // moved the head; another took epoch 5's base after the total it adds
        // to was read (above the total); epoch 6's is out of order.
        c.rows.put(&g, 8, [80]);
        c.rows.put(&g, 5, [95]);
        c.rows.put(&g, 6, [45]);
        for (lo, hi) in [(3, 8), (4, 8), (5, 7), (6, 9)] {
            check_increases(&c, now, lo..hi);
        }
        let mut out = Vec::new();
        let total = c.increases(now, 3..8, &mut out);
        assert_eq!((out, total), (vec![0, 5, 0, 25, 10], 80));
    }

    /// A striped counter's history and totals are what one unstriped counter
    /// given the same recordings keeps, whichever stripes they go to.
    #[test]
    fn striped_counters_keep_the_same_history() {
        for (len, stripes) in [(4, 2), (6, 4), (1, 2), (3, 16)] {
            let g = Geometry::new(W, len);
            let plain = CounterCore::new(Shared::detached(g), 0);
            let striped = CounterCore::new(Shared::detached_striped(g, stripes), 0);
            assert_eq!(striped.stripes(), stripes);
            let mut now = 0;
            for k in 0..40u64 {
                now += [0, W / 3, W, 2 * W][(k % 4) as usize];
                plain.inc_by(k + 1, now, || now);
                striped.inc_striped(k + 1, now, (k * 7 % 5) as usize, || now);
            }
            assert_eq!(striped.total(), plain.total());
            let pts = |c: &CounterCore| {
                let mut v = Vec::new();
                c.for_each_point(now, TimeRange::ALL, |p| v.push((p.start, p.increase)));
                v
            };
            assert_eq!(pts(&striped), pts(&plain));
            for w in [0, 1, W, 3 * W, 10 * W] {
                let w = Duration::from_nanos(w);
                assert_eq!(striped.increase(now, w), plain.increase(now, w));
            }
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let e = now / W;
            assert_eq!(
                striped.increases(now, e.saturating_sub(5)..e + 1, &mut a),
                plain.increases(now, e.saturating_sub(5)..e + 1, &mut b)
            );
            assert_eq!(a, b);
            // Without history the stripes are still there, and count.
            let life = CounterCore::new(Shared::detached_striped(Geometry::lifetime(), stripes), 0);
            life.inc_striped(5, 10, 1, || 10);
            life.inc_striped(u64::MAX, 10, 0, || 10);
            assert_eq!(life.total(), u64::MAX);
            assert!(life.memory_bytes() > plain.memory_bytes() - Rows::<1>::bytes_for(&g));
        }
    }

    #[test]
    fn striped_capture_and_restore_round_trip() {
        let g = Geometry::new(W, 4);
        let c = CounterCore::new(Shared::detached_striped(g, 2), 0);
        c.inc_striped(1, 0, 0, || 0);
        c.inc_striped(2, W, 1, || W);
        c.inc_striped(4, 3 * W, 0, || 3 * W);
        let (epochs, data) = c.capture(3 * W);
        let state = SeriesState {
            created: 0,
            epochs,
            data,
        };
        // Into a striped and an unstriped counter alike.
        for d in [
            CounterCore::new(Shared::detached_striped(g, 4), 3 * W + 1),
            CounterCore::new(Shared::detached(g), 3 * W + 1),
        ] {
            assert!(d.restore(&state, true));
            assert_eq!(d.total(), 7);
            let mut v = Vec::new();
            d.for_each_point(3 * W + 2, TimeRange::ALL, |p| v.push((p.start, p.increase)));
            assert_eq!(v, [(0, 1), (W, 2), (3 * W, 4)]);
        }
    }

    #[test]
    fn increases_of_a_counter_without_history() {
        let c = CounterCore::new(Shared::detached(Geometry::lifetime()), 0);
        inc(&c, 5, 10);
        let mut out = vec![1, 2];
        assert_eq!(c.increases(20, 0..0, &mut out), 5);
        assert!(out.is_empty());
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
    fn stripe_cells_are_the_tails_stripes() {
        for stripes in [1, 2, 4, 16, 64] {
            for len in [0usize, 1, 6, 60] {
                let g = if len == 0 {
                    Geometry::lifetime()
                } else {
                    Geometry::new(1_000, len)
                };
                let c = CounterCore::new(Shared::detached_striped(g, stripes), 5_000);
                let s = c.shared.stripes;
                for k in 0..2 * s.count() + 3 {
                    let fast: *const AtomicU64 = c.stripe_cell(k).unwrap();
                    let slice = s.stripe(c.tail(), k);
                    assert_eq!(
                        fast,
                        slice.as_ptr(),
                        "{stripes} stripes, {len} epochs, k {k}"
                    );
                    assert_eq!(fast as usize % 128, 0);
                }
            }
        }
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
