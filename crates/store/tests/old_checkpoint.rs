//! A checkpoint written before histograms and summaries kept sparse per-epoch
//! bins (commit `610e111`, by `populate` plus two families whose ring shape did
//! not change: see `fixtures/610e111/`) restores with today's code. Counters and
//! gauges come back whole; histograms and summaries whose ring had the same shape
//! then (at most 12 and 5 slots) come back whole too, their saved bucket bases and
//! dense sketches loaded into bins; the others (then widened to 12 and 5 slots,
//! now one slot per epoch) restore their cumulative values without history.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{dump, registry, TempDir, T0};
use lakemetrics_core::ManualClock;
use lakemetrics_store::Store;

/// When the fixture was written: `populate`'s 30 steps of 0.7 s, then 8 of 0.6 s.
const SAVED_AT: u64 = T0 + 30 * 700_000_000 + 8 * 600_000_000;

#[test]
fn a_checkpoint_from_before_the_bins_restores() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/610e111");
    let dir = TempDir::new("old-checkpoint");
    let file = "checkpoint-00000000000000000001.lmc";
    std::fs::copy(fixture.join(file), dir.path().join(file)).unwrap();
    let before: Vec<String> = std::fs::read_to_string(fixture.join("dump.txt"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();

    let clock = Arc::new(ManualClock::new(SAVED_AT));
    let b = registry(&clock);
    let report = Store::open(dir.path()).unwrap().restore(&b).unwrap();
    let r = report.restored.expect("restored");
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    let after = dump(&b);
    assert_eq!(after.len(), before.len());
    assert_eq!(r.series, before.len());

    let family = |line: &str| line.split(' ').next().unwrap().to_owned();
    for (old, new) in before.iter().zip(&after) {
        match family(old).as_str() {
            // Same ring shape then and now: every value and point.
            "rows" | "depth" | "slow" | "lakemetrics_cardinality_overflow" | "lat12" | "size5" => {
                assert_eq!(new, old)
            }
            // Histograms then kept 10 slots of 2 s here, now 20 of 1 s: the
            // cumulative snapshot, no points.
            "lat" => {
                let cut = old.find(" 1700").unwrap_or(old.len());
                assert_eq!(new, &old[..cut]);
            }
            // Summaries then kept 5 slots of 4 s: count and sum, no points (so
            // no quantile over the window either).
            "size" => {
                let cut = old.find(" p50=").unwrap();
                assert_eq!(&new[..new.find(" p50=").unwrap()], &old[..cut]);
                assert!(new.ends_with("p50=NaN"), "{new}");
            }
            other => panic!("unexpected family {other}"),
        }
    }
    assert!(after
        .iter()
        .any(|l| l.starts_with("lat12") && l.contains(" 1700")));
    assert!(after
        .iter()
        .any(|l| l.starts_with("size5") && l.contains(" 1700")));
}
