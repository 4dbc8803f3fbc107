//! The slot protocol shared by every epoch ring.
//!
//! A ring has `N` slots; slot `e % N` belongs to epoch `e` and says so in its
//! [`SlotTag`]. The tag word is `e + 1` (0 means never used), with [`BUSY`] set while
//! one writer restarts the slot for a new epoch. The protocol is a one-writer-per-lap
//! seqlock:
//!
//! * **Start** (once per slot per lap, by the writer whose CAS wins):
//!   `tag: old -> (e+1)|BUSY` (Relaxed CAS), write the payload with Release stores,
//!   then `tag = e+1` (Release). The CAS only moves a tag forward, so a tag value is
//!   never seen twice (no ABA) and a stale writer never rewinds a slot.
//! * **Read**: `t1 = tag` (Acquire), payload loads (Acquire), `t2 = tag` (Relaxed);
//!   the copy is good iff `t1 == t2` and `t1` is neither 0 nor BUSY.
//!
//! Why this is enough: if `t1` is the published `e+1`, Acquire on `t1` synchronizes
//! with the publishing Release store, so every payload load sees the start's writes
//! or later ones. If a payload load sees a write of a *later* start, that write is
//! a Release store (or an RMW continuing its release sequence), so the reader
//! synchronizes with it and the later start's BUSY CAS, sequenced before it, is
//! visible to the `t2` load: `t2 != t1` and the copy is thrown away. A half-started
//! slot has BUSY set and is never taken. So a reader never takes a half-started
//! slot, or one left from an older lap, as the epoch it claims to be (invariant 3).

use crate::sync::{AtomicU64, Ordering};

/// Set in a tag while its slot is being restarted.
pub const BUSY: u64 = 1 << 63;

/// The epoch tag of one ring slot.
#[derive(Debug, Default)]
pub struct SlotTag(AtomicU64);

/// What [`SlotTag::begin`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begin {
    /// This writer now owns the slot for the epoch and must call [`SlotTag::publish`].
    Started,
    /// The slot already holds the epoch.
    Current,
    /// Another writer is starting the slot (for this or another epoch).
    Busy,
    /// The slot holds a newer epoch than the one asked for (this writer's clock
    /// reading is older than another writer's); the slot is left alone.
    Newer,
}

impl SlotTag {
    /// A tag that has never held an epoch.
    pub fn new() -> SlotTag {
        SlotTag(AtomicU64::new(0))
    }

    /// Whether the slot holds epoch `e`, for a writer's fast path.
    #[inline]
    pub fn holds(&self, e: u64) -> bool {
        // Relaxed: a writer only decides here whether to start the slot; the payload
        // words it then updates are RMWs whose result does not depend on what it saw.
        self.0.load(Ordering::Relaxed) == e.wrapping_add(1)
    }

    /// Tries to take the slot for epoch `e`.
    #[inline]
    pub fn begin(&self, e: u64) -> Begin {
        let want = e.wrapping_add(1);
        let mut cur = self.0.load(Ordering::Relaxed);
        loop {
            if cur & BUSY != 0 {
                return Begin::Busy;
            }
            if cur == want {
                return Begin::Current;
            }
            if cur > want {
                return Begin::Newer;
            }
            // Relaxed: the payload's Release stores that follow are what readers
            // synchronize with; this CAS is sequenced before them (see module docs).
            match self.0.compare_exchange_weak(
                cur,
                want | BUSY,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Begin::Started,
                Err(now) => cur = now,
            }
        }
    }

    /// Ends a start: the slot now holds epoch `e`.
    #[inline]
    pub fn publish(&self, e: u64) {
        // Release: publishes the payload written since `begin` to readers that
        // Acquire the tag.
        self.0.store(e.wrapping_add(1), Ordering::Release);
    }

    /// The epoch the slot holds, if it holds a finished one.
    #[inline]
    pub fn epoch(&self) -> Option<u64> {
        // Acquire: pairs with `publish`, so payload loads that follow see the start.
        let t = self.0.load(Ordering::Acquire);
        if t == 0 || t & BUSY != 0 {
            None
        } else {
            Some(t - 1)
        }
    }

    /// Reads the payload with `read` (which must use Acquire loads) and returns it
    /// with the slot's epoch if no start overlapped the read.
    #[inline]
    pub fn read<T>(&self, read: impl FnOnce() -> T) -> Option<(u64, T)> {
        // Acquire: pairs with `publish`.
        let t1 = self.0.load(Ordering::Acquire);
        if t1 == 0 || t1 & BUSY != 0 {
            return None;
        }
        let v = read();
        // Relaxed: ordered after the payload's Acquire loads, which is all that
        // validation needs (see module docs).
        let t2 = self.0.load(Ordering::Relaxed);
        (t1 == t2).then_some((t1 - 1, v))
    }
}

/// Order-preserving image of an `f64` as a `u64`, so that `fetch_min`/`fetch_max` on
/// the image give the min/max of the values (for every non-NaN value, `-0.0 < 0.0`).
#[inline]
pub fn f64_to_ordered(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// Inverse of [`f64_to_ordered`].
#[inline]
pub fn ordered_to_f64(o: u64) -> f64 {
    if o >> 63 == 1 {
        f64::from_bits(o & !(1 << 63))
    } else {
        f64::from_bits(!o)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn tag_moves_forward_only() {
        let t = SlotTag::new();
        assert_eq!(t.epoch(), None);
        assert_eq!(t.begin(5), Begin::Started);
        assert_eq!(t.begin(5), Begin::Busy);
        assert_eq!(t.epoch(), None);
        assert!(t.read(|| ()).is_none());
        t.publish(5);
        assert!(t.holds(5));
        assert_eq!(t.begin(5), Begin::Current);
        assert_eq!(t.begin(4), Begin::Newer);
        assert_eq!(t.read(|| 7), Some((5, 7)));
        assert_eq!(t.begin(9), Begin::Started);
        t.publish(9);
        assert_eq!(t.epoch(), Some(9));
    }

    #[test]
    fn ordered_image_preserves_order() {
        let vals = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            1.0,
            1e300,
            f64::INFINITY,
        ];
        for w in vals.windows(2) {
            assert!(f64_to_ordered(w[0]) < f64_to_ordered(w[1]), "{w:?}");
        }
        for v in vals {
            assert_eq!(ordered_to_f64(f64_to_ordered(v)).to_bits(), v.to_bits());
        }
    }
}
