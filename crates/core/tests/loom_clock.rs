//! loom: the default clock's read of the kernel's time data page (`seqcount`)
//! never returns a torn time. The kernel's writer is modelled as
//! `vdso_write_begin` / `vdso_write_end` do it (count odd, write barrier, the
//! time's two words, write barrier, count even; one writer at a time, as under
//! the kernel's timekeeping lock); readers run in their own threads. A torn
//! read (seconds of one update with nanoseconds of another) is a time no update
//! wrote: the models accept only the times written.
//!
//! `scripts/loom-mutants.sh seqcount.` drops each step of the reader and weakens
//! its Acquire load, one at a time; every mutation must make a model fail.
#![cfg(loom)]

mod loom_common;

use lakemetrics_core::loom_hooks::read_seqcount;
use loom::sync::atomic::{fence, AtomicU64, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_common::model;

/// The page: the count with the clock mode above it, then the time.
struct Page {
    seq: AtomicU64,
    sec: AtomicU64,
    nsec: AtomicU64,
}

/// Clock mode 1 (`VDSO_CLOCKMODE_TSC`), in the high half of the count's word.
const MODE: u64 = 1 << 32;

/// The times the writer publishes, in order: each update moves both words, so
/// any mix of two is a time nobody wrote.
const TIMES: [(u64, u64); 3] = [(1, 999_999_999), (2, 0), (2, 999_999_999)];

fn nanos((sec, nsec): (u64, u64)) -> u64 {
    sec * 1_000_000_000 + nsec
}

impl Page {
    fn new() -> Arc<Page> {
        let (sec, nsec) = TIMES[0];
        Arc::new(Page {
            seq: AtomicU64::new(MODE),
            sec: AtomicU64::new(sec),
            nsec: AtomicU64::new(nsec),
        })
    }

    /// The kernel's update: `vdso_write_begin` (count odd, `smp_wmb`), the
    /// time, `vdso_write_end` (`smp_wmb`, count even).
    fn write(&self, (sec, nsec): (u64, u64)) {
        // Relaxed: the writer is the count's only writer (the kernel's lock).
        let head = self.seq.load(Ordering::Relaxed);
        self.seq.store(head + 1, Ordering::Relaxed);
        fence(Ordering::Release);
        self.sec.store(sec, Ordering::Relaxed);
        self.nsec.store(nsec, Ordering::Relaxed);
        fence(Ordering::Release);
        self.seq.store(head + 2, Ordering::Relaxed);
    }

    /// A reader's time, which must be one the writer wrote. A reader that
    /// finds the count odd or moved on every try gives up (`None`; the clock
    /// then calls the vDSO): the model may hold the writer back that long.
    fn read_checked(&self, upto: usize) {
        let Some(got) = read_seqcount(&self.seq, &self.sec, &self.nsec) else {
            return;
        };
        assert!(
            TIMES[..=upto].iter().any(|&t| nanos(t) == got),
            "torn read: {got} ns is no time written"
        );
    }
}

#[test]
fn a_reader_racing_an_update_gets_the_old_time_or_the_new() {
    model(|| {
        let page = Page::new();
        let writer = {
            let page = page.clone();
            thread::spawn(move || page.write(TIMES[1]))
        };
        let reader = {
            let page = page.clone();
            thread::spawn(move || page.read_checked(1))
        };
        page.read_checked(1);
        writer.join().unwrap();
        reader.join().unwrap();
        // Once the writer is done, a read gets its time.
        assert_eq!(
            read_seqcount(&page.seq, &page.sec, &page.nsec),
            Some(nanos(TIMES[1]))
        );
    });
}

#[test]
fn a_reader_racing_two_updates_gets_a_time_written() {
    model(|| {
        let page = Page::new();
        let writer = {
            let page = page.clone();
            thread::spawn(move || {
                page.write(TIMES[1]);
                page.write(TIMES[2]);
            })
        };
        let reader = {
            let page = page.clone();
            thread::spawn(move || page.read_checked(2))
        };
        writer.join().unwrap();
        reader.join().unwrap();
        assert_eq!(
            read_seqcount(&page.seq, &page.sec, &page.nsec),
            Some(nanos(TIMES[2]))
        );
    });
}
