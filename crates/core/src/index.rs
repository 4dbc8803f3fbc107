//! The series index: every series of the registry by its 64-bit key (see
//! `Registry::key`), in shards of open-addressing hash tables.
//!
//! An entry is the series alone, as one tagged pointer (8 bytes: the kind in the
//! pointer's two low bits, which the series' alignment leaves zero). The key is
//! not stored: a series names its family (`AnySeries::shared`) and holds its
//! labels, so the key is computed again when a table grows (a cold path, under the
//! shard's write lock) and a probe confirms a match by comparing names and labels.
//! Keys that collide in 64 bits are simply two entries with the same hash. The
//! `DashMap<u64, SmallVec<[(Arc<Family>, AnySeries); 1]>>` this replaces took
//! 40 bytes per slot (the key, the family pointer, the small vector's length),
//! a kind-tagged `AnySeries` 16; this takes 8, plus hashbrown's control byte in
//! all three.

use std::mem::ManuallyDrop;
use std::ptr::NonNull;

use hashbrown::HashTable;
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use triomphe::Arc;

use crate::family::{AnySeries, Series, Shared};
use crate::handles::{Counter, Gauge, Histogram, Summary};
use crate::storage::{CounterCore, GaugeCore, HistogramCore, SummaryCore};

/// One series of any kind in one word: the pointer `triomphe::Arc::into_raw`
/// gives for its handle, with the kind in the two low bits. It owns the
/// reference the handle held.
pub(crate) struct Entry(NonNull<u8>);

// SAFETY: an entry is an `AnySeries` (whose handles are `Send + Sync`) in
// another representation.
#[allow(unsafe_code)]
unsafe impl Send for Entry {}
// SAFETY: as above.
#[allow(unsafe_code)]
unsafe impl Sync for Entry {}

/// The kind bits of an entry.
const KIND: usize = 3;

// The only unsafe code of the index: a handle turned into a tagged pointer and
// back. Halving the entry saves 8 bytes per bucket, about 12 per series.
#[allow(unsafe_code)]
impl Entry {
    pub(crate) fn new(s: AnySeries) -> Entry {
        let (p, kind) = match s {
            AnySeries::Counter(c) => (Arc::into_raw(c.0).cast::<u8>(), 0),
            AnySeries::Gauge(g) => (Arc::into_raw(g.0).cast::<u8>(), 1),
            AnySeries::Histogram(h) => (Arc::into_raw(h.0).cast::<u8>(), 2),
            AnySeries::Summary(s) => (Arc::into_raw(s.0).cast::<u8>(), 3),
        };
        // Every series type holds a `u64`, so its address is a multiple of 8.
        debug_assert_eq!(p.addr() & KIND, 0);
        let p = p.map_addr(|a| a | kind).cast_mut();
        // SAFETY: `into_raw` never returns null, and setting low bits keeps it
        // non-null.
        Entry(unsafe { NonNull::new_unchecked(p) })
    }

    /// The handle this entry was made from, owning the entry's reference.
    ///
    /// # Safety
    ///
    /// The caller makes sure the reference is released once: by forgetting the
    /// handle, or by not using the entry again.
    unsafe fn handle(&self) -> AnySeries {
        let tagged = self.0.as_ptr().cast_const();
        let p = tagged.map_addr(|a| a & !KIND);
        // SAFETY: `p` is what `Arc::into_raw` returned for a handle of the kind
        // the tag names (see `new`), and the entry still owns its reference.
        unsafe {
            match tagged.addr() & KIND {
                0 => AnySeries::Counter(Counter(Arc::from_raw(p.cast::<Series<CounterCore>>()))),
                1 => AnySeries::Gauge(Gauge(Arc::from_raw(p.cast::<Series<GaugeCore>>()))),
                2 => AnySeries::Histogram(Histogram(Arc::from_raw(
                    p.cast::<Series<HistogramCore, std::sync::Arc<Shared>>>(),
                ))),
                _ => AnySeries::Summary(Summary(Arc::from_raw(
                    p.cast::<Series<SummaryCore, std::sync::Arc<Shared>>>(),
                ))),
            }
        }
    }

    /// Calls `f` with the series, its reference count untouched.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&AnySeries) -> R) -> R {
        // SAFETY: the handle is never dropped, so the entry's reference stays
        // the entry's.
        let s = ManuallyDrop::new(unsafe { self.handle() });
        f(&s)
    }

    /// A new handle to the series.
    #[inline]
    pub(crate) fn get(&self) -> AnySeries {
        self.with(AnySeries::clone)
    }
}

#[allow(unsafe_code)]
impl Drop for Entry {
    fn drop(&mut self) {
        // SAFETY: the entry is not used again.
        drop(unsafe { self.handle() });
    }
}

/// One shard on its own cache lines: taking a read lock writes the lock word, so
/// shards sharing a line would make lookups of unrelated series contend.
#[repr(align(128))]
struct Shard(RwLock<HashTable<Entry>>);

/// The shards.
pub(crate) struct Index {
    shards: Box<[Shard]>,
}

/// A shard's table, read-locked.
pub(crate) type ReadShard<'a> = RwLockReadGuard<'a, HashTable<Entry>>;
/// A shard's table, write-locked.
pub(crate) type WriteShard<'a> = RwLockWriteGuard<'a, HashTable<Entry>>;

impl Default for Index {
    fn default() -> Index {
        // As many shards as DashMap takes: four per core, a power of two (the core
        // count read once per process: it reads cgroup files).
        static SHARDS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let n = *SHARDS.get_or_init(|| {
            (4 * std::thread::available_parallelism().map_or(1, usize::from))
                .next_power_of_two()
                .min(256)
        });
        Index {
            shards: (0..n)
                .map(|_| Shard(RwLock::new(HashTable::new())))
                .collect(),
        }
    }
}

impl Index {
    /// The shard of `hash`. Its top 7 bits are hashbrown's control byte and its
    /// low bits the bucket, so the shard takes bits from the middle.
    #[inline]
    fn shard(&self, hash: u64) -> &RwLock<HashTable<Entry>> {
        let i = (hash >> 40) as usize & (self.shards.len() - 1);
        // `i` is masked to the length, a power of two.
        &self.shards[i].0
    }

    /// The shard of `hash`, read-locked.
    #[inline]
    pub(crate) fn read(&self, hash: u64) -> ReadShard<'_> {
        self.shard(hash).read()
    }

    /// The shard of `hash`, write-locked.
    pub(crate) fn write(&self, hash: u64) -> WriteShard<'_> {
        self.shard(hash).write()
    }

    /// Heap bytes of the tables, as hashbrown lays them out (one allocation per
    /// table: an 8-byte entry and a control byte per bucket, plus a group of
    /// trailing control bytes) and glibc rounds them.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let cap = s.0.read().capacity();
                // hashbrown's buckets for a capacity: 4 or 8 for small tables,
                // else 8 for every 7 entries.
                let buckets = match cap {
                    0 => return 0,
                    1..=7 => cap + 1,
                    _ => cap / 7 * 8,
                };
                crate::storage::chunk(buckets * (std::mem::size_of::<Entry>() + 1) + 16)
            })
            .sum()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_kind_and_reference() {
        use crate::Registry;
        let reg = Registry::new();
        let c = reg.counter("c", &[("a", "1")]).unwrap();
        let h = reg.histogram("h", &[]).unwrap();
        let before = triomphe::Arc::count(&c.0);
        let e = Entry::new(AnySeries::Counter(c.clone()));
        assert_eq!(std::mem::size_of::<Entry>(), 8);
        assert_eq!(triomphe::Arc::count(&c.0), before + 1);
        assert!(matches!(e.get(), AnySeries::Counter(x) if triomphe::Arc::ptr_eq(&x.0, &c.0)));
        assert!(e.with(|s| matches!(s, AnySeries::Counter(_))));
        assert_eq!(triomphe::Arc::count(&c.0), before + 1);
        drop(e);
        assert_eq!(triomphe::Arc::count(&c.0), before);
        let e = Entry::new(AnySeries::Histogram(h.clone()));
        assert!(e.with(|s| matches!(s, AnySeries::Histogram(_))));
    }

    #[test]
    fn buckets_from_capacity() {
        // The rule `heap_bytes` uses, checked against hashbrown itself.
        for n in [1usize, 3, 4, 7, 8, 14, 15, 100, 1_000, 100_000] {
            let t: HashTable<u8> = HashTable::with_capacity(n);
            let cap = t.capacity();
            let buckets = if cap <= 7 { cap + 1 } else { cap / 7 * 8 };
            assert!(buckets.is_power_of_two(), "{n}: capacity {cap}");
            assert!(cap >= n);
        }
    }
}
