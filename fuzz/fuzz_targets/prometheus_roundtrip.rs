//! Arbitrary HELP text, label values and numbers, written as Prometheus text 0.0.4, must read
//! back exactly with an independent parser. The logic lives in
//! `lakemetrics_export::fuzzing`, which crates/export/tests/fuzz_corpus.rs also
//! runs over a fixed seed corpus on stable.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    lakemetrics_export::fuzzing::prometheus_roundtrip(data);
});
