//! The recorder's table of handles: `metrics` keys to the `Arc`s the facade's
//! handles clone.
//!
//! `counter!("name", "k" => "v")` calls `register_counter` every time it runs
//! (its key is a `static` of the call site, hash precomputed), so finding a
//! key's handle is on the path of every macro call. A lookup is one shard's
//! read lock, a probe keyed by the key's precomputed hash, a key comparison
//! and an `Arc` clone: no allocation, no write lock. (The same design as
//! `metrics-util`'s registry, which `metrics-exporter-prometheus` uses.)
//! Handles taken once and kept (`let c = counter!(...)`) skip the table.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

use crossbeam_utils::CachePadded;
use metrics::Key;
use parking_lot::{Mutex, RwLock};

const SHARDS: usize = 16;

/// One shard: keys to handles, hashed by the keys' precomputed hashes.
type Shard<T> = RwLock<HashMap<Key, Arc<T>, BuildHasherDefault<KeyHasher>>>;

/// Keys to handles, sharded by the key's hash; plus series to handles, so two
/// keys naming one series (names that sanitise alike; `metrics` itself takes
/// labels in any order as one key) share one handle and its `absolute` state.
pub(crate) struct Table<T> {
    /// Each shard on its own cache lines: readers of different shards do not
    /// contend on one lock word.
    shards: [CachePadded<Shard<T>>; SHARDS],
    by_series: Mutex<HashMap<usize, Arc<T>>>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            shards: std::array::from_fn(|_| CachePadded::new(RwLock::default())),
            by_series: Mutex::default(),
        }
    }
}

impl<T> Table<T> {
    fn shard(&self, key: &Key) -> &Shard<T> {
        let mut h = KeyHasher::default();
        key.hash(&mut h);
        // The top bits: the map uses the low ones for its buckets.
        &self.shards[(h.finish() >> 60) as usize % SHARDS]
    }

    /// The handle of `key`, if registered.
    #[inline]
    pub(crate) fn get(&self, key: &Key) -> Option<Arc<T>> {
        self.shard(key).read().get(key).cloned()
    }

    /// Registers `key` as a name of the series `series`: the series' handle if
    /// it has one, otherwise `make()`'s.
    pub(crate) fn insert(&self, key: &Key, series: usize, make: impl FnOnce() -> T) -> Arc<T> {
        let handle = self
            .by_series
            .lock()
            .entry(series)
            .or_insert_with(|| Arc::new(make()))
            .clone();
        self.shard(key)
            .write()
            .entry(key.clone())
            .or_insert(handle)
            .clone()
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
}
