//! Changed bytes anywhere in a checkpoint are a typed error, never a panic,
//! never wrong values: every byte is under a CRC-32, and restore falls back to
//! the newest checkpoint that verifies.

mod common;

use std::sync::Arc;

use common::{dump, populate, populate_small, registry, Rng, TempDir, T0};
use lakemetrics_core::{ManualClock, Registry};
use lakemetrics_store::{fuzzing, Checkpoint, Corruption, Error, Store};

/// A directory with a good checkpoint (seq 1) and a newer one (seq 2), the dump
/// a restore of the first gives, and the second's path and bytes.
fn two_checkpoints(
    dir: &TempDir,
    clock: &Arc<ManualClock>,
    small: bool,
) -> (Store, Vec<String>, std::path::PathBuf, Vec<u8>) {
    let reg = registry(clock);
    if small {
        populate_small(&reg, clock);
    } else {
        populate(&reg, clock);
    }
    let store = Store::open(dir.path()).unwrap();
    store.checkpoint(&reg).unwrap();
    let expected = dump(&reg);
    reg.gauge("newer", &[]).unwrap().set(-7.0);
    let newer = store.checkpoint(&reg).unwrap();
    let bytes = std::fs::read(&newer.path).unwrap();
    (store, expected, newer.path, bytes)
}

#[test]
fn a_changed_byte_at_any_offset_is_caught() {
    let dir = TempDir::new("flip-every");
    let clock = Arc::new(ManualClock::new(T0));
    let (store, expected, path, full) = two_checkpoints(&dir, &clock, true);
    let mut rng = Rng::new(0x5eed_0001);
    for at in 0..full.len() {
        let mut b = full.clone();
        b[at] ^= 1 + rng.below(255) as u8;
        match Checkpoint::decode(&b, &path) {
            Err(Error::Corrupt {
                path: p, offset, ..
            }) => {
                assert_eq!(p, path);
                assert!(offset < full.len() as u64);
            }
            other => panic!("byte {at} changed: {other:?}"),
        }
        // Without checksums the change reaches the parser: no panic there either.
        let _ = fuzzing::decode(&b);
        if at % 5 == 0 {
            std::fs::write(&path, &b).unwrap();
            let fresh = registry(&clock);
            let report = store.restore(&fresh).unwrap();
            assert_eq!(report.restored.unwrap().seq, 1);
            assert_eq!(report.skipped.len(), 1);
            assert_eq!(dump(&fresh), expected, "byte {at} changed");
        }
    }
}

#[test]
fn random_flips_and_bursts_in_a_large_checkpoint() {
    let dir = TempDir::new("flip-random");
    let clock = Arc::new(ManualClock::new(T0));
    let (store, expected, path, full) = two_checkpoints(&dir, &clock, false);
    let mut rng = Rng::new(0x5eed_0002);
    for trial in 0..400 {
        let mut b = full.clone();
        let at = rng.below(full.len() as u64) as usize;
        if trial % 2 == 0 {
            // One bit.
            b[at] ^= 1 << rng.below(8);
        } else {
            // A burst of up to 16 random bytes.
            let n = 1 + rng.below(16) as usize;
            for x in b.iter_mut().skip(at).take(n) {
                *x = rng.next() as u8;
            }
        }
        if b == full {
            continue;
        }
        let r = Checkpoint::decode(&b, &path);
        assert!(
            matches!(r, Err(Error::Corrupt { .. })),
            "trial {trial} at {at}: {r:?}"
        );
        let _ = fuzzing::decode(&b);
        if trial % 20 == 0 {
            std::fs::write(&path, &b).unwrap();
            let fresh = registry(&clock);
            let report = store.restore(&fresh).unwrap();
            assert_eq!(report.restored.unwrap().seq, 1);
            assert_eq!(dump(&fresh), expected);
        }
    }
}

#[test]
fn other_files_versions_and_trailing_bytes() {
    let dir = TempDir::new("other");
    let clock = Arc::new(ManualClock::new(T0));
    let (_, _, path, full) = two_checkpoints(&dir, &clock, true);

    let err = Checkpoint::decode(b"# HELP rows Rows.\n", &path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Corrupt {
                offset: 0,
                problem: Corruption::BadMagic,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("checkpoint-"), "{err}");

    // A later version, and one before the first, with a header that checks out.
    for version in [lakemetrics_store::VERSION + 1, 0] {
        let mut b = full.clone();
        b[8..10].copy_from_slice(&version.to_le_bytes());
        let crc = crc32fast::hash(&b[..32]);
        b[32..36].copy_from_slice(&crc.to_le_bytes());
        let err = Checkpoint::decode(&b, &path).unwrap_err();
        assert!(
            matches!(err, Error::UnsupportedVersion { version: v, .. } if v == version),
            "{err}"
        );
        assert!(err.to_string().contains("reads versions 1 to 2"), "{err}");
    }

    let mut b = full.clone();
    b.extend_from_slice(b"junk");
    match Checkpoint::decode(&b, &path) {
        Err(Error::Corrupt {
            offset,
            problem: Corruption::TrailingBytes { len: 4 },
            ..
        }) => assert_eq!(offset, full.len() as u64),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_checkpoint_damaged_is_an_error_and_restores_nothing() {
    let dir = TempDir::new("all-bad");
    let clock = Arc::new(ManualClock::new(T0));
    let (store, _, newer, full) = two_checkpoints(&dir, &clock, true);
    let older = store.checkpoints().unwrap()[1].path.clone();
    std::fs::write(&newer, &full[..full.len() / 2]).unwrap();
    let mut b = std::fs::read(&older).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x40;
    std::fs::write(&older, &b).unwrap();
    let fresh = Registry::new();
    match store.restore(&fresh) {
        Err(Error::NoUsableCheckpoint { skipped, .. }) => {
            assert_eq!(skipped.len(), 2);
            assert_eq!((&skipped[0].path, &skipped[1].path), (&newer, &older));
            assert!(skipped
                .iter()
                .all(|s| matches!(s.error, Error::Corrupt { .. })));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!((fresh.family_count(), fresh.series_count()), (0, 0));
}

#[test]
fn leftover_temporary_files_are_ignored_and_removed() {
    let dir = TempDir::new("tmp");
    let clock = Arc::new(ManualClock::new(T0));
    let (store, _, _, full) = two_checkpoints(&dir, &clock, true);
    // A crash mid-write leaves a temporary file under the next number.
    let tmp = dir.path().join("checkpoint-00000000000000000003.lmc.tmp");
    std::fs::write(&tmp, &full[..100]).unwrap();
    let fresh = registry(&clock);
    assert_eq!(store.restore(&fresh).unwrap().restored.unwrap().seq, 2);
    assert!(tmp.exists(), "restore only reads");
    let store = Store::open(dir.path()).unwrap();
    assert!(!tmp.exists(), "open removes what a crash left");
    assert_eq!(store.checkpoints().unwrap().len(), 2);
}
