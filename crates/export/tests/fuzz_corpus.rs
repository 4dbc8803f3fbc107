//! The cargo-fuzz targets' logic (fuzz/fuzz_targets/*.rs), run over the fixed seed
//! corpus so that CI exercises it on stable: arbitrary HELP text, label values and
//! numbers written by each writer must read back exactly with an independent
//! parser (a strict reader of the text specs, serde_json, or prost).

use lakemetrics_export::fuzzing::{
    json_roundtrip, openmetrics_roundtrip, prometheus_roundtrip, protobuf_roundtrip, seed_corpus,
};

#[test]
fn prometheus_text_round_trips_the_seed_corpus() {
    for seed in seed_corpus() {
        prometheus_roundtrip(&seed);
    }
}

#[test]
fn openmetrics_round_trips_the_seed_corpus() {
    for seed in seed_corpus() {
        openmetrics_roundtrip(&seed);
    }
}

#[test]
fn json_round_trips_the_seed_corpus() {
    for seed in seed_corpus() {
        json_roundtrip(&seed);
    }
}

#[test]
fn protobuf_round_trips_the_seed_corpus() {
    for seed in seed_corpus() {
        protobuf_roundtrip(&seed);
    }
}
