//! The recorder's table of handles: `metrics` keys to the `Arc`s the facade's
//! handles clone.
//!
//! `counter!("name", "k" => "v")` calls `register_counter` every time it runs
//! (its key is a `static` of the call site, hash precomputed), so finding a
//! key's handle is on the path of every macro call. Handles taken once and
//! kept (`let c = counter!(...)`) skip the table.
//!
//! - **A per-thread cache** answers first: a direct-mapped array of
//!   [`SLOTS`] entries per thread, indexed by the key's precomputed hash, each
//!   holding a copy of the key and the handle. A hit is confirmed by the
//!   addresses of the key's name and label slice (a `static` key's are the
//!   same on every call) and, failing that, by comparing the keys; it costs no
//!   lock and no read-modify-write but the `Arc` clone the facade's handle
//!   needs. The cache belongs to the table (a `ThreadLocal`), so it goes with
//!   the recorder; its entries hold handles the table holds anyway. An entry
//!   is 64 bytes (a 56-byte `Key` and the `Arc`): 4 KB per thread and kind
//!   (counters, gauges, histograms) that registered something, allocated on
//!   the thread's first registration of that kind.
//! - **The shards** behind it: 16 maps from keys to handles, each under a read
//!   lock on its own cache lines, probed by the key's precomputed hash (the
//!   design of `metrics-util`'s registry, which `metrics-exporter-prometheus`
//!   uses). A miss in the cache that hits here fills the cache entry, which
//!   clones the key (allocating only for keys with owned strings, which the
//!   caller allocated to build anyway).
//!
//! Comparing two keys with 8 or more labels allocates inside `metrics`
//! (`Key::eq` sorts an index vector); the address check spares `static` keys
//! that comparison.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crossbeam_utils::CachePadded;
use metrics::Key;
use parking_lot::{Mutex, RwLock};
use thread_local::ThreadLocal;

const SHARDS: usize = 16;

/// Cache entries per thread (and table).
pub(crate) const SLOTS: usize = 64;

/// A key seen on this thread and its handle.
struct Entry<T> {
    key: Key,
    handle: Arc<T>,
}

/// One thread's cache entries.
struct Slots<T> {
    entries: RefCell<[Option<Entry<T>>; SLOTS]>,
}

/// One shard: keys to handles, hashed by the keys' precomputed hashes.
type Shard<T> = RwLock<HashMap<Key, Arc<T>, BuildHasherDefault<KeyHasher>>>;

/// Keys to handles, sharded by the key's hash; plus series to handles, so two
/// keys naming one series (names that sanitise alike; `metrics` itself takes
/// labels in any order as one key) share one handle and its `absolute` state.
pub(crate) struct Table<T: Send + Sync> {
    /// Each shard on its own cache lines: readers of different shards do not
    /// contend on one lock word.
    shards: [CachePadded<Shard<T>>; SHARDS],
    by_series: Mutex<HashMap<usize, Arc<T>>>,
    /// Boxed so that `ThreadLocal`'s buckets hold pointers, not arrays for
    /// threads that never come here.
    local: ThreadLocal<Box<Slots<T>>>,
}

impl<T: Send + Sync> Default for Table<T> {
    fn default() -> Self {
        Table {
            shards: std::array::from_fn(|_| CachePadded::new(RwLock::default())),
            by_series: Mutex::default(),
            local: ThreadLocal::new(),
        }
    }
}

/// The key's precomputed hash (`Key`'s `Hash` writes only that).
#[inline]
fn hash_of(key: &Key) -> u64 {
    let mut h = KeyHasher::default();
    key.hash(&mut h);
    h.finish()
}

/// Whether `a` and `b` are the same key, by the addresses of their name and
/// label slice first. Sound because `a` is a cache entry's own copy: its
/// strings are `'static`, shared (an `Arc` the copy co-owns) or its own
/// allocation, alive and never written while the entry holds it, so another key
/// pointing at the same bytes has the same text; keys with other addresses are
/// compared in full.
#[inline]
fn same_key(a: &Key, b: &Key) -> bool {
    let (an, bn) = (a.name(), b.name());
    let (al, bl) = (a.labels().as_slice(), b.labels().as_slice());
    (std::ptr::eq(an, bn) && std::ptr::eq(al, bl)) || a == b
}

impl<T: Send + Sync> Table<T> {
    fn shard(&self, hash: u64) -> &Shard<T> {
        // The top bits: the map uses the low ones for its buckets, the cache
        // the low ones for its slot.
        &self.shards[(hash >> 60) as usize % SHARDS]
    }

    /// The handle of `key`, if registered: from this thread's cache, else from
    /// its shard (filling the cache).
    #[inline]
    pub(crate) fn get(&self, key: &Key) -> Option<Arc<T>> {
        let hash = hash_of(key);
        let slot = hash as usize % SLOTS;
        // `get`, not `get_or`: never gives the thread an id, so never panics.
        if let Some(slots) = self.local.get() {
            if let Ok(entries) = slots.entries.try_borrow() {
                if let Some(e) = &entries[slot] {
                    if same_key(&e.key, key) {
                        return Some(e.handle.clone());
                    }
                }
            }
        }
        let handle = self.shard(hash).read().get(key).cloned()?;
        self.remember(slot, key, &handle);
        Some(handle)
    }

    /// Puts `key`'s handle in this thread's cache.
    #[cold]
    fn remember(&self, slot: usize, key: &Key, handle: &Arc<T>) {
        // `get_or` gives a thread without a `thread_local` id a new one, which
        // panics if `thread_local`'s destructor already ran on this thread (a
        // metric registered from another thread-local destructor during thread
        // teardown); then the lookup simply goes uncached.
        let Ok(slots) = catch_unwind(AssertUnwindSafe(|| {
            self.local.get_or(|| {
                Box::new(Slots {
                    entries: RefCell::new([const { None }; SLOTS]),
                })
            })
        })) else {
            return;
        };
        if let Ok(mut entries) = slots.entries.try_borrow_mut() {
            let old = entries[slot].replace(Entry {
                key: key.clone(),
                handle: handle.clone(),
            });
            drop(entries);
            // Dropped outside the borrow, in case a drop records a metric.
            drop(old);
        }
    }

    /// Registers `key` as a name of the series `series`: the series' handle if
    /// it has one, otherwise `make()`'s. Fills this thread's cache entry too.
    pub(crate) fn insert(&self, key: &Key, series: usize, make: impl FnOnce() -> T) -> Arc<T> {
        let handle = self
            .by_series
            .lock()
            .entry(series)
            .or_insert_with(|| Arc::new(make()))
            .clone();
        let hash = hash_of(key);
        let handle = self
            .shard(hash)
            .write()
            .entry(key.clone())
            .or_insert(handle)
            .clone();
        self.remember(hash as usize % SLOTS, key, &handle);
        handle
    }

    /// Keys registered.
    #[cfg(test)]
    pub(crate) fn keys(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum()
    }
}

/// Passes a `metrics::Key`'s precomputed hash through (its `Hash` writes only
/// that one `u64`); anything else is folded in FNV-style rather than refused.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_handle_per_series_and_per_key() {
        let t = Table::<u32>::default();
        // Names that sanitise alike: two keys, one series.
        let a = Key::from_parts("m.x", &[("a", "1")]);
        let b = Key::from_parts("m_x", &[("a", "1")]);
        assert!(t.get(&a).is_none());
        let ha = t.insert(&a, 7, || 1);
        let hb = t.insert(&b, 7, || 2);
        assert!(Arc::ptr_eq(&ha, &hb));
        assert!(Arc::ptr_eq(&t.get(&b).unwrap(), &ha));
        assert_eq!(t.keys(), 2);
        let hc = t.insert(&Key::from_name("n"), 8, || 3);
        assert_eq!(*hc, 3);
    }

    #[test]
    fn cache_hits_are_confirmed() {
        static LABELS: [metrics::Label; 1] = [metrics::Label::from_static_parts("a", "1")];
        static KEY: Key = Key::from_static_parts("m", &LABELS);
        let t = Table::<u32>::default();
        t.insert(&KEY, 1, || 1);
        t.insert(&Key::from_parts("m", &[("a", "2")]), 2, || 2);
        for _ in 0..2 {
            // The static key, then an owned copy of it, then another key.
            assert_eq!(*t.get(&KEY).unwrap(), 1);
            assert_eq!(*t.get(&Key::from_parts("m", &[("a", "1")])).unwrap(), 1);
            assert_eq!(*t.get(&Key::from_parts("m", &[("a", "2")])).unwrap(), 2);
            assert!(t.get(&Key::from_parts("m", &[("a", "3")])).is_none());
        }
        // Keys in one slot displace each other and stay right.
        let keys: Vec<Key> = (0..1000)
            .map(|i| Key::from_parts("k", &[("i", i.to_string())]))
            .collect();
        for (i, k) in keys.iter().enumerate() {
            t.insert(k, 100 + i, || i as u32);
        }
        for _ in 0..2 {
            for (i, k) in keys.iter().enumerate() {
                assert_eq!(*t.get(k).unwrap(), i as u32);
            }
        }
        // Other threads have their own entries.
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(*t.get(&KEY).unwrap(), 1));
        });
    }
}
