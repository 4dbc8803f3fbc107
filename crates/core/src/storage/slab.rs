//! Ring blocks of one family's counters, carved from larger chunks.
//!
//! Every counter of a family has a ring block of the same size (the head and one
//! word per epoch: 61 words, 488 bytes, at the default retention). Allocated one
//! by one, each takes a malloc chunk of 496 bytes: its 8-byte header is 8 bytes
//! per series that nothing uses, about 1.4 % of a counter series all-in. A slab
//! hands out blocks back to back from chunks it allocates in doubling sizes (1,
//! 2, 4, ... blocks, up to about 1 MiB per chunk), so a family of `n` series
//! keeps at most `n` blocks' worth of chunks it has not handed out, most of it
//! in large chunks that the allocator maps fresh from the system and whose
//! untouched pages are not resident.
//!
//! A freed block (a series reclaimed or dropped) goes on a free list and is the
//! next one handed out; chunks are returned to the allocator when the slab is
//! dropped, with the family's shared parts, after the last of its series.
//!
//! Only creation and removal of series take the slab's lock, never recording.
//! Under loom every block is its own allocation: loom's atomics are not plain
//! memory to carve.

use std::ptr::NonNull;

#[cfg(not(loom))]
use parking_lot::Mutex;

use crate::sync::AtomicU64;

/// Largest chunk, in bytes (a chunk holds at least one block).
#[cfg(not(loom))]
const MAX_CHUNK_BYTES: usize = 1 << 20;

/// Blocks of `block_words` words.
pub(crate) struct Slab {
    block_words: usize,
    #[cfg(not(loom))]
    inner: Mutex<Chunks>,
}

/// The chunks of a slab and what of them is handed out.
#[cfg(not(loom))]
#[derive(Default)]
struct Chunks {
    /// Every chunk and its size in blocks; the last is the one being carved.
    chunks: Vec<(NonNull<AtomicU64>, usize)>,
    /// Blocks of the last chunk handed out so far.
    carved: usize,
    /// Freed blocks, handed out again first.
    free: Vec<NonNull<AtomicU64>>,
}

// SAFETY: the chunks are memory the slab owns; blocks in it are atomics, shared
// by reference like `&[AtomicU64]`, and the bookkeeping is behind the mutex.
#[allow(unsafe_code)]
unsafe impl Send for Slab {}
// SAFETY: as above.
#[allow(unsafe_code)]
unsafe impl Sync for Slab {}

impl std::fmt::Debug for Slab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slab")
            .field("block_words", &self.block_words)
            .finish_non_exhaustive()
    }
}

#[allow(unsafe_code)]
impl Slab {
    /// A slab of blocks of `block_words` words (at least one).
    pub(crate) fn new(block_words: usize) -> Slab {
        Slab {
            block_words: block_words.max(1),
            #[cfg(not(loom))]
            inner: Mutex::new(Chunks::default()),
        }
    }

    /// Words per block.
    pub(crate) fn block_words(&self) -> usize {
        self.block_words
    }

    /// A block whose word `i` holds `init(i)`.
    pub(crate) fn alloc(&self, mut init: impl FnMut(usize) -> u64) -> NonNull<AtomicU64> {
        let p = self.raw_block();
        for i in 0..self.block_words {
            // SAFETY: `p` is a block of `block_words` words that no one else
            // uses (fresh, or freed by its last user): writing over a freed
            // word needs no drop (an atomic integer has none).
            unsafe { p.as_ptr().add(i).write(AtomicU64::new(init(i))) };
        }
        p
    }

    /// Room for a block, uninitialised.
    #[cfg(not(loom))]
    fn raw_block(&self) -> NonNull<AtomicU64> {
        let mut c = self.inner.lock();
        if let Some(p) = c.free.pop() {
            return p;
        }
        let full = c.chunks.last().is_none_or(|&(_, n)| c.carved == n);
        if full {
            let max = (MAX_CHUNK_BYTES / (self.block_words * 8)).max(1);
            let n = c.chunks.last().map_or(1, |&(_, n)| (2 * n).min(max));
            let layout = std::alloc::Layout::array::<AtomicU64>(n * self.block_words)
                .expect("a chunk of at most 1 MiB, or one block");
            // SAFETY: the layout has a non-zero size (n and block_words are at
            // least 1).
            let p = unsafe { std::alloc::alloc(layout) }.cast::<AtomicU64>();
            let Some(p) = NonNull::new(p) else {
                std::alloc::handle_alloc_error(layout)
            };
            c.chunks.push((p, n));
            c.carved = 0;
        }
        let (chunk, _) = *c.chunks.last().expect("a chunk was pushed above");
        let at = c.carved * self.block_words;
        c.carved += 1;
        // SAFETY: block `carved` of the last chunk is within it (checked above).
        unsafe { chunk.add(at) }
    }

    /// Room for a block, uninitialised.
    #[cfg(loom)]
    fn raw_block(&self) -> NonNull<AtomicU64> {
        let layout = std::alloc::Layout::array::<AtomicU64>(self.block_words).unwrap();
        // SAFETY: non-zero size.
        NonNull::new(unsafe { std::alloc::alloc(layout) }.cast()).unwrap()
    }

    /// Takes a block back.
    ///
    /// # Safety
    ///
    /// `p` came from this slab's `alloc` and is not used again.
    pub(crate) unsafe fn free(&self, p: NonNull<AtomicU64>) {
        #[cfg(not(loom))]
        self.inner.lock().free.push(p);
        #[cfg(loom)]
        {
            for i in 0..self.block_words {
                // SAFETY: the block's words were initialised by `alloc`.
                unsafe { std::ptr::drop_in_place(p.as_ptr().add(i)) };
            }
            let layout = std::alloc::Layout::array::<AtomicU64>(self.block_words).unwrap();
            // SAFETY: allocated with this layout in `raw_block`.
            unsafe { std::alloc::dealloc(p.as_ptr().cast(), layout) };
        }
    }

    /// Bytes the slab holds beyond its live blocks (which their owners count):
    /// freed blocks, chunk headers and the free list. The part of the last chunk
    /// not handed out yet is not counted: it is untouched, so not resident.
    pub(crate) fn idle_bytes(&self) -> usize {
        #[cfg(not(loom))]
        {
            let c = self.inner.lock();
            c.free.len() * self.block_words * 8
                + c.chunks.len() * 16
                + super::chunk(c.free.capacity() * 8)
        }
        #[cfg(loom)]
        {
            0
        }
    }
}

#[cfg(not(loom))]
#[allow(unsafe_code)]
impl Drop for Slab {
    fn drop(&mut self) {
        let c = self.inner.get_mut();
        for &(p, n) in &c.chunks {
            let layout = std::alloc::Layout::array::<AtomicU64>(n * self.block_words)
                .expect("made with this layout");
            // SAFETY: allocated with this layout in `raw_block`; every block in
            // it belonged to a series of the family, all of which are gone (each
            // held the family's shared parts, which own the slab).
            unsafe { std::alloc::dealloc(p.as_ptr().cast(), layout) };
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::Ordering;

    #[test]
    fn blocks_are_distinct_initialised_and_reused() {
        let slab = Slab::new(3);
        let blocks: Vec<_> = (0..10u64)
            .map(|b| slab.alloc(|i| b * 10 + i as u64))
            .collect();
        for (b, p) in blocks.iter().enumerate() {
            for i in 0..3 {
                // SAFETY: a live block of 3 words.
                #[allow(unsafe_code)]
                let w = unsafe { &*p.as_ptr().add(i) };
                assert_eq!(w.load(Ordering::Relaxed), b as u64 * 10 + i as u64);
            }
        }
        // Chunks of 1, 2, 4 and 8 blocks: 15 blocks of room for 10.
        assert_eq!(slab.inner.lock().chunks.len(), 4);
        assert_eq!(slab.idle_bytes(), 4 * 16);
        // SAFETY: from this slab, not used again.
        #[allow(unsafe_code)]
        unsafe {
            slab.free(blocks[3])
        };
        // The freed block, four chunk headers and the free list (room for 4).
        let list = crate::storage::chunk(4 * 8);
        assert_eq!(slab.idle_bytes(), 3 * 8 + 4 * 16 + list);
        let again = slab.alloc(|_| 7);
        assert_eq!(again, blocks[3]);
        assert_eq!(slab.idle_bytes(), 4 * 16 + list);
    }

    #[test]
    fn chunks_stop_doubling_at_a_mebibyte() {
        let slab = Slab::new(61);
        for _ in 0..10_000 {
            slab.alloc(|_| 0);
        }
        let c = slab.inner.lock();
        let max = MAX_CHUNK_BYTES / (61 * 8);
        assert!(c.chunks.iter().all(|&(_, n)| n <= max));
        assert_eq!(c.chunks.last().unwrap().1, max);
    }
}
