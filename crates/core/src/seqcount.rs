//! Reading a time the kernel publishes under a sequence count: the reader's
//! half of the kernel's `vdso_read_begin` / `vdso_read_retry`.
//!
//! The kernel's writer (`vdso_write_begin` / `vdso_write_end`, under its
//! timekeeping lock, so one writer at a time) makes the count odd, issues a
//! write barrier, stores the time's words, issues another write barrier and
//! makes the count even again. A reader takes the count (Acquire), refuses an
//! odd one, loads the words, issues a read barrier (an Acquire fence) and
//! takes the count again: equal means no write overlapped the loads, so the
//! words belong together. `tests/loom_clock.rs` models the kernel's writer
//! beside readers in their own threads and finds a torn time when any step
//! below is dropped or weakened (`scripts/loom-mutants.sh seqcount.`).
//!
//! The count is the low half of a 64-bit word whose high half is the clock
//! mode (the kernel's `u32 seq; s32 clock_mode;`, little-endian), so one load
//! takes both.

// Read from the kernel's time data page on Linux (`vdso`) and by the loom
// models; elsewhere unused.
#![cfg_attr(not(any(target_os = "linux", loom)), allow(dead_code))]

use crate::sync::{fence, mutant, ord, spin_loop, AtomicU64, Ordering};

/// The kernel's `VDSO_CLOCKMODE_TIMENS`: the page belongs to a time namespace
/// and holds the namespace's offsets where the times would be. (The kernel
/// keeps that page's count odd for good, so a reader would give up there
/// anyway, after [`TRIES`] loads; the mode sends it away at once.)
pub(crate) const CLOCKMODE_TIMENS: i32 = i32::MAX;

/// Counts found odd or changed before a reader gives up (a write takes the
/// kernel well under a microsecond, once a tick).
pub(crate) const TRIES: usize = 64;

/// The time, in nanoseconds, in the words `sec` and `nsec` guarded by the
/// count in `seq`; `None` if the page is a time namespace's or was being
/// written for [`TRIES`] reads in a row.
#[inline]
pub(crate) fn read(seq: &AtomicU64, sec: &AtomicU64, nsec: &AtomicU64) -> Option<u64> {
    for _ in 0..TRIES {
        // Acquire: `vdso_read_begin`'s `smp_rmb`; pairs with the write
        // barrier before the count the kernel made even, so the loads below
        // see at least the words stored before it.
        let head = seq.load(ord!(Acquire, "seqcount.begin.acquire"));
        if (head >> 32) as i32 == CLOCKMODE_TIMENS {
            return None;
        }
        let count = head as u32;
        if count & 1 != 0 && !mutant("seqcount.odd.skip") {
            // A write is under way.
            spin_loop();
            continue;
        }
        // Relaxed: ordered by the Acquire load above and the fence below.
        let s = sec.load(Ordering::Relaxed);
        let ns = nsec.load(Ordering::Relaxed);
        // Acquire fence: `vdso_read_retry`'s `smp_rmb`. If a load above saw a
        // word the kernel stored after making the count odd, the fence makes
        // the count's load below see that odd count or later, so it differs.
        if !mutant("seqcount.retry.no_fence") {
            fence(Ordering::Acquire); // covered by mutant "seqcount.retry.no_fence"
        }
        if seq.load(Ordering::Relaxed) as u32 == count || mutant("seqcount.retry.skip") {
            return Some(s.wrapping_mul(1_000_000_000).wrapping_add(ns));
        }
    }
    None
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn words(head: u64, sec: u64, nsec: u64) -> [AtomicU64; 3] {
        [
            AtomicU64::new(head),
            AtomicU64::new(sec),
            AtomicU64::new(nsec),
        ]
    }

    #[test]
    fn an_even_count_gives_the_time() {
        // Count 4, clock mode 1 (TSC).
        let [q, s, n] = words(1 << 32 | 4, 7, 250);
        assert_eq!(read(&q, &s, &n), Some(7_000_000_250));
    }

    #[test]
    fn a_count_that_stays_odd_gives_up() {
        let [q, s, n] = words(1 << 32 | 5, 7, 250);
        assert_eq!(read(&q, &s, &n), None);
    }

    #[test]
    fn a_time_namespace_page_is_refused() {
        // Even the count would not make its offsets a time.
        let [q, s, n] = words((CLOCKMODE_TIMENS as u32 as u64) << 32 | 2, 1000, 0);
        assert_eq!(read(&q, &s, &n), None);
    }
}
