//! The per-slot seqlock that gauge rings use.
//!
//! A gauge's history point (open, min, max) is three `f64` words that must be
//! restarted together, so unlike counters (see [`super::ring`]) its slots carry a
//! separate tag: `e + 1` for epoch `e` (0 means never used), with [`BUSY`] set
//! while one writer restarts the slot.
//!
//! * **Start** (once per slot per lap, by the writer whose CAS wins):
//!   `tag: old -> (e+1)|BUSY` (Relaxed CAS), write the payload with Release stores,
//!   then `tag = e+1` (Release). The CAS only moves a tag forward (except when the
//!   clock went back, see `GaugeCore`), so a stale writer never rewinds a slot.
//! * **Read**: `t1 = tag` (Acquire), payload loads (Acquire), `t2 = tag` (Relaxed);
//!   the copy is good iff `t1 == t2` and `t1` is neither 0 nor BUSY.
//!
//! If `t1` is the published `e+1`, Acquire on `t1` synchronizes with the publishing
//! Release store, so every payload load sees the start's writes or later ones. If a
//! payload load sees a write of a *later* start (a Release store, or a Relaxed RMW
//! continuing its release sequence), the reader synchronizes with it, so the later
//! start's BUSY CAS, sequenced before it, is visible to the `t2` load and the copy
//! is thrown away. A half-started slot has BUSY set and is never taken.

use crate::sync::{mutant, ord, AtomicU64, Ordering};

/// Set in a tag while its slot is being restarted.
pub(crate) const BUSY: u64 = 1 << 63;

/// The epoch tag of one ring slot.
#[derive(Debug, Default)]
pub(crate) struct SlotTag(AtomicU64);

/// What [`SlotTag::begin`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Begin {
    /// This writer now owns the slot for the epoch and must call [`SlotTag::publish`].
    Started,
    /// The slot already holds the epoch.
    Current,
    /// Another writer is starting the slot (for this or another epoch).
    Busy,
    /// The slot holds this newer epoch (the writer's clock reading is older than
    /// another writer's, or the clock went back).
    Newer(u64),
}

impl SlotTag {
    /// Whether the slot holds epoch `e`, for a writer's fast path.
    #[inline]
    pub(crate) fn holds(&self, e: u64) -> bool {
        // Relaxed: only decides whether to start the slot (see `GaugeCore::set`).
        self.0.load(Ordering::Relaxed) == e.wrapping_add(1)
    }

    /// Tries to take the slot for epoch `e`; with `back`, also when the slot holds
    /// a newer epoch (the clock went back).
    #[inline]
    pub(crate) fn begin(&self, e: u64, back: bool) -> Begin {
        let want = e.wrapping_add(1);
        // Acquire (here and on a failed CAS): a `Newer` answer comes from a value
        // some start published (or a later RMW of its release sequence), so what
        // its writer did before, reading the clock among it, is visible to the
        // caller's next clock reading (see `GaugeCore::start`). Cold path.
        let acq = ord!(Acquire, "gauge.begin.acquire");
        let mut cur = self.0.load(acq);
        loop {
            if cur & BUSY != 0 {
                return Begin::Busy;
            }
            if cur == want {
                return Begin::Current;
            }
            if cur > want && !back && !mutant("gauge.begin.rewinds") {
                return Begin::Newer(cur - 1);
            }
            // Relaxed: the payload's Release stores that follow are what readers
            // synchronize with; this CAS is sequenced before them (module docs).
            match self
                .0
                .compare_exchange_weak(cur, want | BUSY, Ordering::Relaxed, acq)
            {
                Ok(_) => return Begin::Started,
                Err(now) => cur = now,
            }
        }
    }

    /// Ends a start: the slot now holds epoch `e`.
    #[inline]
    pub(crate) fn publish(&self, e: u64) {
        // Release: publishes the payload written since `begin` to readers that
        // Acquire the tag.
        self.0
            .store(e.wrapping_add(1), ord!(Release, "gauge.publish.release"));
    }

    /// Reads the payload with `read` (which must use Acquire loads) and returns it
    /// with the slot's epoch if no start overlapped the read.
    #[inline]
    pub(crate) fn read<T>(&self, read: impl FnOnce() -> T) -> Option<(u64, T)> {
        // Acquire: pairs with `publish`.
        let t1 = self.0.load(ord!(Acquire, "gauge.read.t1.acquire"));
        if t1 == 0 || t1 & BUSY != 0 {
            return None;
        }
        let v = read();
        // Relaxed: ordered after the payload's Acquire loads, which is all that
        // validation needs (module docs).
        let t2 = self.0.load(Ordering::Relaxed);
        (t1 == t2 || mutant("gauge.read.no_recheck")).then_some((t1 - 1, v))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn tag_moves_forward_only_unless_told() {
        let t = SlotTag::default();
        assert!(t.read(|| ()).is_none());
        assert_eq!(t.begin(5, false), Begin::Started);
        assert_eq!(t.begin(5, false), Begin::Busy);
        assert!(t.read(|| ()).is_none());
        t.publish(5);
        assert!(t.holds(5));
        assert_eq!(t.begin(5, false), Begin::Current);
        assert_eq!(t.begin(4, false), Begin::Newer(5));
        assert_eq!(t.read(|| 7), Some((5, 7)));
        assert_eq!(t.begin(4, true), Begin::Started);
        t.publish(4);
        assert_eq!(t.read(|| 1), Some((4, 1)));
    }
}
