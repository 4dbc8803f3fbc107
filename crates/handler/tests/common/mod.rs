//! Shared by the integration tests: a registry on a manual clock, and reads of
//! the handler's series straight from the registry (never through the handler).

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{HistogramSnapshot, ManualClock, Registry, Retention};

/// A whole second, so one-second epochs start at the clock's start.
pub const T0: u64 = 1_700_000_000_000_000_000;

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A registry on a manual clock with one-second epochs over a minute.
pub fn registry() -> (Registry, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(secs(1), secs(60)).unwrap())
        .build();
    (reg, clock)
}

pub fn batches(reg: &Registry, handler: &str, outcome: &str) -> u64 {
    reg.counter(
        "ingest_batches_total",
        &[("handler", handler), ("outcome", outcome)],
    )
    .unwrap()
    .get()
}

pub fn errors(reg: &Registry, handler: &str, kind: &str) -> u64 {
    reg.counter(
        "ingest_errors_total",
        &[("handler", handler), ("kind", kind)],
    )
    .unwrap()
    .get()
}

pub fn durations(reg: &Registry, handler: &str) -> HistogramSnapshot {
    reg.histogram("ingest_batch_duration_seconds", &[("handler", handler)])
        .unwrap()
        .snapshot()
}

pub fn counter(reg: &Registry, name: &str, handler: &str) -> u64 {
    reg.counter(name, &[("handler", handler)]).unwrap().get()
}

pub fn assert_close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}
