//! A checkpoint cut short at any byte is a typed error naming the file and an
//! offset inside what is left, and restore falls back to the previous one with
//! its values intact.

mod common;

use std::sync::Arc;

use common::{dump, populate_small, registry, TempDir, T0};
use lakemetrics_core::ManualClock;
use lakemetrics_store::{Checkpoint, Corruption, Error, Store};

#[test]
fn truncated_at_every_offset_is_a_typed_error_and_restore_falls_back() {
    let dir = TempDir::new("truncate");
    let clock = Arc::new(ManualClock::new(T0));
    let reg = registry(&clock);
    populate_small(&reg, &clock);
    let store = Store::open(dir.path()).unwrap();
    let good = store.checkpoint(&reg).unwrap();
    let expected = dump(&reg);
    reg.counter("rows", &[("h", "csv")]).unwrap().inc_by(1000);
    let newer = store.checkpoint(&reg).unwrap();
    let full = std::fs::read(&newer.path).unwrap();
    assert!(Checkpoint::decode(&full, &newer.path).is_ok());

    for len in 0..full.len() {
        let cut = &full[..len];
        match Checkpoint::decode(cut, &newer.path) {
            Err(Error::Corrupt {
                path,
                offset,
                problem,
            }) => {
                assert_eq!(path, newer.path);
                assert!(offset <= len as u64, "offset {offset} past the end {len}");
                assert!(
                    matches!(
                        problem,
                        Corruption::Truncated { .. } | Corruption::MissingTrailer
                    ),
                    "at {len}: {problem}"
                );
            }
            other => panic!("cut at {len}: {other:?}"),
        }
        // The parser behind the checksums survives the cut too.
        assert!(lakemetrics_store::fuzzing::decode(cut).is_none());

        // In the directory: the newest is torn, the one before it is restored.
        std::fs::write(&newer.path, cut).unwrap();
        let fresh = registry(&clock);
        let report = store.restore(&fresh).unwrap();
        assert_eq!(report.restored.as_ref().map(|r| r.seq), Some(good.seq));
        assert_eq!(report.skipped.len(), 1);
        assert_eq!(report.skipped[0].path, newer.path);
        assert!(
            matches!(report.skipped[0].error, Error::Corrupt { .. }),
            "{}",
            report.skipped[0].error
        );
        assert_eq!(dump(&fresh), expected, "cut at {len}");
    }
}
