//! Entry points for the cargo-fuzz target `checkpoint_decode` (in `fuzz/`), also
//! run over a seed corpus by `tests/fuzz_corpus.rs`. Behind the `fuzzing`
//! feature; not for production use.

use std::sync::Arc;

use lakemetrics_core::{ManualClock, Registry};

use crate::checkpoint::{self, Checkpoint};

/// Decodes `data` as a checkpoint twice, with checksums enforced and without
/// (so that mutated inputs reach the parser behind them), and checks what must
/// hold whatever the bytes:
///
/// - neither decode panics, and each returns a typed error or a checkpoint;
/// - a checkpoint that verifies with checksums decodes the same without them;
/// - any checkpoint that decodes restores into a fresh registry without error
///   or panic, and checkpointing that registry gives a file that decodes.
///
/// Returns the checkpoint when the checked decode accepts `data`.
pub fn decode(data: &[u8]) -> Option<Checkpoint> {
    let checked = checkpoint::decode(data, true);
    let unchecked = checkpoint::decode(data, false);
    if let Ok(c) = &checked {
        let u = unchecked
            .as_ref()
            .expect("a checkpoint that verifies decodes without checksums too");
        assert_eq!(format!("{c:?}"), format!("{u:?}"));
    }
    if let Ok(c) = checked.as_ref().or(unchecked.as_ref()) {
        round_trip(c);
    }
    checked.ok()
}

/// Restores `c` into a fresh registry, writes that registry again and decodes
/// the result.
fn round_trip(c: &Checkpoint) {
    let reg = Registry::builder()
        .clock(Arc::new(ManualClock::new(c.taken_at_nanos)))
        .max_label_value_len(usize::MAX)
        .max_labels(usize::MAX)
        .max_series(usize::MAX)
        .build();
    for f in &c.families {
        reg.register(f.describe())
            .expect("a decoded family registers");
        for s in &f.series {
            let l: Vec<(&str, &str)> = s
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            reg.restore_series(&f.name, &l, &s.state, f.geometry)
                .expect("a decoded series restores");
        }
    }
    let mut out = Vec::new();
    checkpoint::write(&reg, c.seq, 0, c.interim, &mut out).expect("writing to memory succeeds");
    if let Err(e) = checkpoint::decode(&out, true) {
        panic!("a checkpoint of a restored registry does not decode: {e:?}");
    }
}
