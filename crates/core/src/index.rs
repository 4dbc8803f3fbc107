//! The series index: every series of the registry by its 64-bit key (see
//! `Registry::key`), in shards of open-addressing hash tables.
//!
//! An entry is the series alone (16 bytes: which kind, and the pointer). The key is
//! not stored: a series names its family (`AnySeries::shared`) and holds its
//! labels, so the key is computed again when a table grows (a cold path, under the
//! shard's write lock) and a probe confirms a match by comparing names and labels.
//! Keys that collide in 64 bits are simply two entries with the same hash. The
//! `DashMap<u64, SmallVec<[(Arc<Family>, AnySeries); 1]>>` this replaces took
//! 40 bytes per slot (the key, the family pointer, the small vector's length);
//! this takes 16, plus hashbrown's control byte in both.

use hashbrown::HashTable;
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::family::AnySeries;

/// One shard on its own cache lines: taking a read lock writes the lock word, so
/// shards sharing a line would make lookups of unrelated series contend.
#[repr(align(128))]
struct Shard(RwLock<HashTable<AnySeries>>);

/// The shards.
pub(crate) struct Index {
    shards: Box<[Shard]>,
}

/// A shard's table, read-locked.
pub(crate) type ReadShard<'a> = RwLockReadGuard<'a, HashTable<AnySeries>>;
/// A shard's table, write-locked.
pub(crate) type WriteShard<'a> = RwLockWriteGuard<'a, HashTable<AnySeries>>;

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
    fn shard(&self, hash: u64) -> &RwLock<HashTable<AnySeries>> {
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
    /// table: a 16-byte entry and a control byte per bucket, plus a group of
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
                crate::storage::chunk(buckets * (std::mem::size_of::<AnySeries>() + 1) + 16)
            })
            .sum()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

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
