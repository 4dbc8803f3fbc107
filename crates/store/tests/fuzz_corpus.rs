//! The checks of the `checkpoint_decode` fuzz target (`fuzz/`), run on stable
//! over a seed corpus made here: valid checkpoints of several registries and
//! mangled copies of them. Set `LAKEMETRICS_WRITE_CORPUS=DIR` to also write the
//! seeds to DIR (for example `fuzz/corpus/checkpoint_decode`) to start a fuzzing
//! run from them. Inputs the fuzzer found failures with are kept in
//! `tests/fuzz_regressions/` and run here, and so are any files in
//! `fuzz/corpus/checkpoint_decode`.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::{populate, populate_small, registry, Rng, TempDir, T0};
use lakemetrics_core::{ManualClock, Registry};
use lakemetrics_store::{fuzzing, Store};

fn checkpoint_bytes(reg: &Registry) -> Vec<u8> {
    let dir = TempDir::new("corpus");
    let info = Store::open(dir.path()).unwrap().checkpoint(reg).unwrap();
    std::fs::read(info.path).unwrap()
}

fn seeds() -> Vec<Vec<u8>> {
    let mut valid = Vec::new();
    let clock = Arc::new(ManualClock::new(T0));
    valid.push(checkpoint_bytes(&registry(&clock)));
    let small = registry(&clock);
    populate_small(&small, &clock);
    valid.push(checkpoint_bytes(&small));
    let full = registry(&clock);
    populate(&full, &clock);
    valid.push(checkpoint_bytes(&full));
    clock.advance(Duration::from_secs(15));
    valid.push(checkpoint_bytes(&full));

    let mut seeds = valid.clone();
    let mut rng = Rng::new(0x5eed_0004);
    for v in &valid {
        for _ in 0..40 {
            let mut b = v.clone();
            match rng.below(4) {
                0 => b.truncate(rng.below(v.len() as u64) as usize),
                1 => {
                    let at = rng.below(v.len() as u64) as usize;
                    b[at] ^= 1 + rng.below(255) as u8;
                }
                2 => {
                    let at = rng.below(v.len() as u64) as usize;
                    b.insert(at, rng.next() as u8);
                }
                _ => {
                    let at = rng.below(v.len() as u64) as usize;
                    b.remove(at);
                }
            }
            seeds.push(b);
        }
    }
    seeds.push(Vec::new());
    seeds.push(lakemetrics_store::MAGIC.to_vec());
    seeds
}

#[test]
fn decoder_survives_the_seed_corpus() {
    let seeds = seeds();
    let mut accepted = 0;
    for s in &seeds {
        if fuzzing::decode(s).is_some() {
            accepted += 1;
        }
    }
    assert_eq!(
        accepted, 4,
        "the four valid checkpoints, and no mangled one"
    );

    if let Ok(dir) = std::env::var("LAKEMETRICS_WRITE_CORPUS") {
        std::fs::create_dir_all(&dir).unwrap();
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(PathBuf::from(&dir).join(format!("seed-{i:03}")), s).unwrap();
        }
    }
    // Inputs the fuzzer once found a failure with, kept in the repository.
    let regressions = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut found = 0;
    for e in std::fs::read_dir(regressions).unwrap().flatten() {
        let _ = fuzzing::decode(&std::fs::read(e.path()).unwrap());
        found += 1;
    }
    assert!(found > 0);
    let kept =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/checkpoint_decode");
    if let Ok(entries) = std::fs::read_dir(kept) {
        for e in entries.flatten() {
            if let Ok(b) = std::fs::read(e.path()) {
                let _ = fuzzing::decode(&b);
            }
        }
    }
}
