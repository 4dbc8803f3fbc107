//! loom: the slot protocol itself (invariant 3). A reader racing a writer that
//! restarts a slot for a new lap never takes the new epoch with the old payload,
//! the old epoch with the new payload, or a mix of the two.
#![cfg(loom)]

use lakemetrics_core::ring::SlotTag;
use loom::sync::atomic::{AtomicU64, Ordering};
use loom::sync::Arc;
use loom::thread;

struct Slot {
    tag: SlotTag,
    a: AtomicU64,
    b: AtomicU64,
}

fn start(slot: &Slot, e: u64, payload: u64) -> bool {
    if slot.tag.begin(e) == lakemetrics_core::ring::Begin::Started {
        slot.a.store(payload, Ordering::Release);
        slot.b.store(payload, Ordering::Release);
        slot.tag.publish(e);
        true
    } else {
        false
    }
}

#[test]
fn reader_never_takes_a_half_started_or_stale_slot() {
    loom::model(|| {
        let slot = Arc::new(Slot {
            tag: SlotTag::new(),
            a: AtomicU64::new(0),
            b: AtomicU64::new(0),
        });
        assert!(start(&slot, 1, 100));
        let w = {
            let slot = slot.clone();
            thread::spawn(move || {
                // A new lap of the same slot.
                assert!(start(&slot, 3, 300));
            })
        };
        let got = slot.tag.read(|| {
            (
                slot.a.load(Ordering::Acquire),
                slot.b.load(Ordering::Acquire),
            )
        });
        match got {
            None => {}
            Some((1, (a, b))) => assert_eq!((a, b), (100, 100)),
            Some((3, (a, b))) => assert_eq!((a, b), (300, 300)),
            other => panic!("unexpected read {other:?}"),
        }
        w.join().unwrap();
        assert_eq!(slot.tag.epoch(), Some(3));
    });
}

#[test]
fn racing_starters_start_once() {
    loom::model(|| {
        let slot = Arc::new(Slot {
            tag: SlotTag::new(),
            a: AtomicU64::new(0),
            b: AtomicU64::new(0),
        });
        let t = {
            let slot = slot.clone();
            thread::spawn(move || start(&slot, 2, 20))
        };
        let mine = start(&slot, 2, 21);
        let theirs = t.join().unwrap();
        assert!(mine ^ theirs, "exactly one writer starts the epoch");
        let (e, (a, b)) = slot
            .tag
            .read(|| {
                (
                    slot.a.load(Ordering::Acquire),
                    slot.b.load(Ordering::Acquire),
                )
            })
            .unwrap();
        assert_eq!(e, 2);
        assert_eq!(a, b);
    });
}

#[test]
fn reader_racing_a_first_start_sees_the_payload() {
    loom::model(|| {
        let slot = Arc::new(Slot {
            tag: SlotTag::new(),
            a: AtomicU64::new(0),
            b: AtomicU64::new(0),
        });
        let w = {
            let slot = slot.clone();
            thread::spawn(move || assert!(start(&slot, 4, 40)))
        };
        let got = slot.tag.read(|| {
            (
                slot.a.load(Ordering::Acquire),
                slot.b.load(Ordering::Acquire),
            )
        });
        if let Some(got) = got {
            assert_eq!(got, (4, (40, 40)));
        }
        w.join().unwrap();
    });
}
