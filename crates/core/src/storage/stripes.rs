//! Striped cells: a hot series' cumulative state split over per-thread copies,
//! each on its own cache lines, summed on read.
//!
//! Two threads adding to one atomic word take turns owning its cache line: every
//! add waits for the line to come over from the other core (about 40 to 100 ns
//! each on current x86). A striped series keeps `count` copies ("stripes") of its
//! cumulative words, plus one more, the shared stripe, each starting on its own
//! cache-line pair (the line size is `crossbeam_utils::CachePadded`'s alignment:
//! 128 bytes on x86-64, whose spatial prefetcher pulls lines in pairs).
//!
//! Owners: a thread takes a slot number from a process-wide pool of
//! [`MAX_STRIPES`] on its first striped recording ([`stripe_index`]) and gives it
//! back when it exits (its thread-local's destructor). No two live threads hold
//! one slot, so the thread holding slot `k` is the only writer of stripe `k` of
//! every series with more than `k` stripes: it adds with a plain load and store
//! (no locked instruction, no retry loop for a histogram's `f64` sum), and
//! saturates with `saturating_add`. Every other thread (its slot at or past the
//! series' count, the pool exhausted, or its thread-locals already torn down)
//! adds to the shared stripe with `fetch_add`, as an unstriped series does.
//! Readers add all the stripes up.
//!
//! Hand-over: a slot given back is taken by a later thread, which continues
//! from the value the old owner left in each stripe. The give-back is a Release
//! and the take an Acquire of the pool's word, so the new owner's first load of
//! a stripe sees the old owner's last store (otherwise it would store over it,
//! and lose the old owner's adds). After `fork`, the child's one thread keeps
//! its slot; the slots of threads that do not exist there are never given back
//! (at most [`MAX_STRIPES`] of them: their stripes keep their values, and later
//! threads use other slots or the shared stripe).
//!
//! A plain load and store is not atomic against the same thread: a signal
//! handler that records into a striped series it interrupts between the two
//! loses the interrupted add (record from signal handlers into unstriped
//! series).
//!
//! What stays exact (see the counter and histogram modules): each stripe is an
//! exact counter on its own, so the sum of the stripes is exact once the writers
//! returned. A writer that starts an epoch takes the epoch's base as its own
//! stripe's value before its add plus every other stripe's value as it reads
//! it; a reader that Acquires the head the writer published reads every stripe
//! at or after what the writer read, so the base is at most the sum the reader
//! reads, as with one word. Nothing else is published with a stripe: every
//! stripe access is Relaxed.
//!
//! Memory: `count + 1` stripes of `width` words (a multiple of a line) and up to
//! a line less a word of padding to align the first, in the block the series
//! already allocates (a counter's ring block, a histogram's counts).

use crossbeam_utils::CachePadded;

use crate::sync::{mutant, ord, AtomicU64, Ordering};

/// Words in a cache line as `CachePadded` aligns (16 on x86-64: 128 bytes).
pub(crate) const LINE_WORDS: usize = std::mem::align_of::<CachePadded<u8>>() / 8;

/// Most stripes a series may have, and the number of slots threads take.
pub(crate) const MAX_STRIPES: usize = 64;

/// A slot past every series' stripe count: the shared stripe's writers.
pub(crate) const SHARED: usize = MAX_STRIPES;

/// The layout of a series' stripes: how many, and how many words each takes.
/// `Stripes::NONE` is an unstriped series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stripes {
    /// Owned stripes: a power of two, or 0 for none. The shared stripe
    /// comes after them.
    count: u32,
    /// Words per stripe, a multiple of [`LINE_WORDS`].
    width: u32,
}

impl Stripes {
    /// No stripes: the series keeps one copy of its state.
    pub(crate) const NONE: Stripes = Stripes { count: 0, width: 0 };

    /// `count` stripes (rounded up to a power of two, at most [`MAX_STRIPES`])
    /// of `cell_words` words each (rounded up to whole lines).
    pub(crate) fn new(count: usize, cell_words: usize) -> Stripes {
        let count = count.clamp(1, MAX_STRIPES).next_power_of_two();
        let width = cell_words.max(1).div_ceil(LINE_WORDS) * LINE_WORDS;
        Stripes {
            count: count as u32,
            width: width as u32,
        }
    }

    /// Stripes for this machine: one per CPU the process may run on (rounded up
    /// to a power of two), at least 2 and at most 16.
    pub(crate) fn for_this_machine(cell_words: usize) -> Stripes {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Stripes::new(cpus.clamp(2, 16), cell_words)
    }

    /// The same number of stripes, `cell_words` wide.
    pub(crate) fn with_cell_words(self, cell_words: usize) -> Stripes {
        if self.is_none() {
            self
        } else {
            Stripes::new(self.count as usize, cell_words)
        }
    }

    /// Whether the series is unstriped.
    #[inline]
    pub(crate) fn is_none(self) -> bool {
        self.count == 0
    }

    /// How many owned stripes (0 for none); the shared stripe is one more.
    #[inline]
    pub(crate) fn count(self) -> usize {
        self.count as usize
    }

    /// Whether the holder of slot `k` owns its stripe (adds with a load and a
    /// store), rather than adding to the shared stripe.
    #[inline]
    pub(crate) fn owns(self, k: usize) -> bool {
        k < self.count as usize
    }

    /// Words the stripes take in the block they live in, padding included: 0
    /// for none.
    pub(crate) fn tail_words(self) -> usize {
        if self.is_none() {
            0
        } else {
            LINE_WORDS - 1 + (self.count as usize + 1) * self.width as usize
        }
    }

    /// Index in `tail` (the [`Stripes::tail_words`] words set aside for the
    /// stripes) of the first stripe's first word: the first on a line boundary.
    #[inline]
    fn first(tail: &[AtomicU64]) -> usize {
        #[cfg(not(loom))]
        {
            let addr = tail.as_ptr() as usize;
            (addr.wrapping_neg() % (LINE_WORDS * 8)) / 8
        }
        #[cfg(loom)]
        {
            // Loom's atomics are not 8 bytes; alignment does not matter there.
            let _ = tail;
            0
        }
    }

    /// The words of the stripe of slot `k` in `tail`: stripe `k` if the slot
    /// owns one, else the shared stripe (empty if unstriped, or if `tail` is
    /// shorter than [`Stripes::tail_words`]: never, for a block laid out with
    /// this shape; checked rather than trusted, without a panic).
    #[inline]
    pub(crate) fn stripe(self, tail: &[AtomicU64], k: usize) -> &[AtomicU64] {
        let w = self.width as usize;
        let at = Stripes::first(tail) + k.min(self.count as usize) * w;
        tail.get(at..at + w).unwrap_or(&[])
    }

    /// The shared stripe's words in `tail`.
    #[inline]
    pub(crate) fn shared(self, tail: &[AtomicU64]) -> &[AtomicU64] {
        self.stripe(tail, SHARED)
    }

    /// Every stripe's words in `tail`, the owned ones first, then the shared
    /// one.
    pub(crate) fn each(self, tail: &[AtomicU64]) -> impl Iterator<Item = &[AtomicU64]> {
        let last = if mutant("stripes.read.skip_shared") {
            self.count as usize
        } else {
            self.count as usize + 1
        };
        (0..last).map(move |k| self.stripe(tail, k))
    }
}

/// The pool of slots threads own stripes by: a bit per slot, set while a
/// thread holds it.
#[derive(Debug)]
pub(crate) struct Slots {
    taken: AtomicU64,
}

impl Slots {
    /// A pool with no slot taken.
    #[cfg(not(loom))]
    const fn new() -> Slots {
        Slots {
            taken: AtomicU64::new(0),
        }
    }

    /// A pool with the slots of `taken`'s set bits already taken (the loom
    /// models leave one or two free).
    #[cfg(loom)]
    pub(crate) fn with_taken(taken: u64) -> Slots {
        Slots {
            taken: AtomicU64::new(taken),
        }
    }

    /// Takes the lowest free slot; `None` if all [`MAX_STRIPES`] are taken.
    pub(crate) fn take(&self) -> Option<usize> {
        // Relaxed: only a guess at the free bits; the CAS decides.
        let mut cur = self.taken.load(Ordering::Relaxed);
        loop {
            let free = !cur;
            if free == 0 {
                return None;
            }
            let k = free.trailing_zeros() as usize;
            // Acquire: pairs with the Release in `give_back` by the slot's
            // previous holder, so that this thread's first load of each of
            // the slot's stripes sees that holder's last store (the release
            // sequence of the give-back runs through the other bits' CASes).
            match self.taken.compare_exchange(
                cur,
                cur | 1 << k,
                ord!(Acquire, "stripes.slot.take_acquire"),
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(k),
                Err(now) => cur = now,
            }
        }
    }

    /// Gives slot `k` back, after the last store its holder made to any
    /// stripe.
    pub(crate) fn give_back(&self, k: usize) {
        if k < MAX_STRIPES {
            // Release: pairs with the Acquire in `take`: the slot's next holder
            // continues from what this one stored.
            self.taken
                .fetch_and(!(1 << k), ord!(Release, "stripes.slot.give_release"));
        }
    }
}

/// The slot of this thread (see the module docs): a stripe index for series
/// with more stripes, the shared stripe for the others ([`SHARED`] when the
/// thread holds none). Taken from the pool on the thread's first call and
/// given back when the thread exits. One thread-local read, no syscall.
#[cfg(not(loom))]
#[inline]
pub(crate) fn stripe_index() -> usize {
    use std::cell::Cell;
    static SLOTS: Slots = Slots::new();
    /// Not yet taken.
    const UNSET: usize = usize::MAX;
    struct Held(Cell<usize>);
    impl Drop for Held {
        fn drop(&mut self) {
            SLOTS.give_back(self.0.replace(SHARED));
        }
    }
    thread_local! {
        static SLOT: Held = const { Held(Cell::new(UNSET)) };
    }
    #[cold]
    fn take(held: &Held) -> usize {
        let k = SLOTS.take().unwrap_or(SHARED);
        held.0.set(k);
        k
    }
    SLOT.try_with(|held| match held.0.get() {
        UNSET => take(held),
        k => k,
    })
    // A thread being torn down has given its slot back.
    .unwrap_or(SHARED)
}

/// Under loom the models name each writer's slot; a thread-local one would
/// differ between the model's runs.
#[cfg(loom)]
#[inline]
pub(crate) fn stripe_index() -> usize {
    SHARED
}

/// Adds up `words[j]` of every stripe (a counter's value, a histogram's
/// bucket), saturating at `u64::MAX`.
#[inline]
pub(crate) fn sum_word(s: Stripes, tail: &[AtomicU64], j: usize) -> u64 {
    s.each(tail).fold(0u64, |acc, st| {
        // Relaxed: see the module docs.
        acc.saturating_add(st.get(j).map_or(0, |w| w.load(Ordering::Relaxed)))
    })
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn stripes_start_on_line_boundaries_and_do_not_overlap() {
        for (count, cell) in [(1, 1), (2, 1), (3, 13), (16, 17), (100, 2)] {
            let s = Stripes::new(count, cell);
            assert!(s.count().is_power_of_two() && s.count() <= MAX_STRIPES);
            let words: Vec<AtomicU64> =
                (0..s.tail_words() + 3).map(|_| AtomicU64::new(0)).collect();
            // Every offset a block can put the tail at.
            for off in 0..3 {
                let tail = &words[off..off + s.tail_words()];
                let mut seen = Vec::new();
                for k in 0..s.count() {
                    let st = s.stripe(tail, k);
                    assert!(st.len() >= cell);
                    assert_eq!(st.as_ptr() as usize % (LINE_WORDS * 8), 0);
                    seen.push(st.as_ptr() as usize);
                }
                seen.dedup();
                assert_eq!(seen.len(), s.count());
                // Slots past the count share the last stripe.
                let shared = s.shared(tail);
                assert!(shared.len() >= cell);
                assert_eq!(shared.as_ptr() as usize % (LINE_WORDS * 8), 0);
                assert!(!seen.contains(&(shared.as_ptr() as usize)));
                assert_eq!(s.stripe(tail, s.count() + 7).as_ptr(), shared.as_ptr());
                assert_eq!(s.each(tail).count(), s.count() + 1);
            }
        }
        assert_eq!(Stripes::NONE.tail_words(), 0);
    }

    #[test]
    fn live_threads_hold_distinct_slots() {
        let here = stripe_index();
        assert_eq!(here, stripe_index());
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || {
            tx.send(stripe_index()).unwrap();
            // Holds its slot until told to exit.
            let _ = done_rx.recv();
        });
        let k = rx.recv().unwrap();
        assert!(here != k || k == SHARED, "{here} {k}");
        drop(done_tx);
        other.join().unwrap();
    }

    #[test]
    fn a_pool_hands_out_each_slot_once() {
        let pool = Slots {
            taken: AtomicU64::new(0),
        };
        let all: Vec<usize> = (0..MAX_STRIPES).map(|_| pool.take().unwrap()).collect();
        assert_eq!(all, (0..MAX_STRIPES).collect::<Vec<_>>());
        assert_eq!(pool.take(), None);
        pool.give_back(5);
        pool.give_back(SHARED);
        assert_eq!(pool.take(), Some(5));
        assert_eq!(pool.take(), None);
    }

    #[test]
    fn sums_saturate() {
        let s = Stripes::new(2, 1);
        let words: Vec<AtomicU64> = (0..s.tail_words()).map(|_| AtomicU64::new(0)).collect();
        s.stripe(&words, 0)[0].store(u64::MAX - 1, std::sync::atomic::Ordering::Relaxed);
        s.stripe(&words, 1)[0].store(5, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(sum_word(s, &words, 0), u64::MAX);
        s.stripe(&words, 0)[0].store(1, std::sync::atomic::Ordering::Relaxed);
        s.shared(&words)[0].store(u64::MAX - 1, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(sum_word(s, &words, 0), u64::MAX);
    }
}
