//! Arbitrary bytes read as a checkpoint: a typed error or a verified
//! checkpoint, never a panic, with and without checksums enforced; whatever
//! decodes restores into a registry and checkpoints again. The seed corpus
//! holds format version 2 files with native histograms (their family options,
//! buckets and history bins), so mutations reach those fields too. The logic lives in
//! `lakemetrics_store::fuzzing`, which crates/store/tests/fuzz_corpus.rs also
//! runs over a seed corpus on stable (it can write that corpus out:
//! `LAKEMETRICS_WRITE_CORPUS=fuzz/corpus/checkpoint_decode`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    lakemetrics_store::fuzzing::decode(data);
});
