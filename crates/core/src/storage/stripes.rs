//! Striped cells: a hot series' cumulative state split over per-thread copies,
//! each on its own cache lines, summed on read.
//!
//! Two threads adding to one atomic word take turns owning its cache line: every
//! add waits for the line to come over from the other core (about 40 to 100 ns
//! each on current x86). A striped series keeps `count` copies ("stripes") of its
//! cumulative words, each starting on its own cache-line pair (the line size is
//! `crossbeam_utils::CachePadded`'s alignment: 128 bytes on x86-64, whose
//! spatial prefetcher pulls lines in pairs), and a thread adds to the stripe its
//! [`stripe_index`] selects: threads are numbered round-robin on their first
//! striped recording, so up to `count` threads each write their own lines.
//! Readers add the stripes up.
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
//! Memory: `count` stripes of `width` words (a multiple of a line) and up to a
//! line less a word of padding to align the first, in the block the series
//! already allocates (a counter's ring block, a histogram's counts).

use crossbeam_utils::CachePadded;

use crate::sync::AtomicU64;

/// Words in a cache line as `CachePadded` aligns (16 on x86-64: 128 bytes).
pub(crate) const LINE_WORDS: usize = std::mem::align_of::<CachePadded<u8>>() / 8;

/// Most stripes a series may have.
pub(crate) const MAX_STRIPES: usize = 64;

/// The layout of a series' stripes: how many, and how many words each takes.
/// `Stripes::NONE` is an unstriped series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stripes {
    /// A power of two, or 0 for none.
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

    /// How many stripes (0 for none).
    #[inline]
    pub(crate) fn count(self) -> usize {
        self.count as usize
    }

    /// Words per stripe.
    #[inline]
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn width(self) -> usize {
        self.width as usize
    }

    /// Words the stripes take in the block they live in, padding included: 0
    /// for none.
    pub(crate) fn tail_words(self) -> usize {
        if self.is_none() {
            0
        } else {
            LINE_WORDS - 1 + self.count as usize * self.width as usize
        }
    }

    /// Index in `tail` (the [`Stripes::tail_words`] words set aside for the
    /// stripes) of the first stripe's first word: the first on a line boundary.
    #[inline]
    pub(crate) fn first(tail: &[AtomicU64]) -> usize {
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

    /// The words of stripe `k mod count` in `tail` (empty if unstriped, or if
    /// `tail` is shorter than [`Stripes::tail_words`]: never, for a block laid
    /// out with this shape; checked rather than trusted, without a panic).
    #[inline]
    pub(crate) fn stripe(self, tail: &[AtomicU64], k: usize) -> &[AtomicU64] {
        let w = self.width as usize;
        let at = Stripes::first(tail) + (k & (self.count as usize).wrapping_sub(1)) * w;
        tail.get(at..at + w).unwrap_or(&[])
    }

    /// Every stripe's words in `tail`, first to last.
    pub(crate) fn each(self, tail: &[AtomicU64]) -> impl Iterator<Item = &[AtomicU64]> {
        (0..self.count as usize).map(move |k| self.stripe(tail, k))
    }
}

/// The stripe this thread records into (taken modulo a series' stripe count):
/// threads are numbered round-robin on their first call. One thread-local read,
/// no syscall; the numbering takes one shared `fetch_add` per thread.
#[cfg(not(loom))]
#[inline]
pub(crate) fn stripe_index() -> usize {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    #[cold]
    fn assign(c: &Cell<usize>) -> usize {
        // Relaxed: a ticket; nothing is published with it.
        let k = NEXT.fetch_add(1, Ordering::Relaxed) & (usize::MAX >> 1);
        c.set(k);
        k
    }
    INDEX
        .try_with(|c| match c.get() {
            usize::MAX => assign(c),
            k => k,
        })
        // A thread being torn down: any stripe is exact, the first will do.
        .unwrap_or(0)
}

/// Under loom the models name each writer's stripe; a thread-local ticket
/// would differ between the model's runs.
#[cfg(loom)]
#[inline]
pub(crate) fn stripe_index() -> usize {
    0
}

/// Adds up `words[j]` of every stripe (a counter's value, a histogram's
/// bucket), saturating at `u64::MAX`.
#[inline]
pub(crate) fn sum_word(s: Stripes, tail: &[AtomicU64], j: usize) -> u64 {
    use crate::sync::Ordering;
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
                // `k` wraps around the stripe count.
                assert_eq!(
                    s.stripe(tail, s.count()).as_ptr(),
                    s.stripe(tail, 0).as_ptr()
                );
            }
        }
        assert_eq!(Stripes::NONE.tail_words(), 0);
    }

    #[test]
    fn threads_get_distinct_stripes_round_robin() {
        let here = stripe_index();
        assert_eq!(here, stripe_index());
        let other = std::thread::spawn(stripe_index).join().unwrap();
        assert_ne!(here, other);
    }

    #[test]
    fn sums_saturate() {
        let s = Stripes::new(2, 1);
        let words: Vec<AtomicU64> = (0..s.tail_words()).map(|_| AtomicU64::new(0)).collect();
        s.stripe(&words, 0)[0].store(u64::MAX - 1, std::sync::atomic::Ordering::Relaxed);
        s.stripe(&words, 1)[0].store(5, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(sum_word(s, &words, 0), u64::MAX);
    }
}
