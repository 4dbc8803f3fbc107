//! Arbitrary HELP text, label values and numbers, written as the Prometheus
//! protobuf exposition, must decode with prost to exactly the registry's values;
//! native buckets derived from the input must decode to the same buckets. The
//! logic lives in `lakemetrics_export::fuzzing`, which
//! crates/export/tests/fuzz_corpus.rs also runs over a fixed seed corpus on stable.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    lakemetrics_export::fuzzing::protobuf_roundtrip(data);
});
