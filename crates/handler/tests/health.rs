//! `health(window)` against the registry's own series on a manual clock:
//! throughput, error ratio, latency quantiles, bytes per second and queue depth,
//! and how old data leaves the window.

mod common;

use common::*;
use lakemetrics_core::Retention;
use lakemetrics_handler::{HandlerMetrics, Health};

/// Ten batches per second for `secs` seconds, every fifth one failing, each
/// taking `latency_ms`, with 1000 bytes and 10 records each.
fn run(
    h: &HandlerMetrics,
    clock: &std::sync::Arc<lakemetrics_core::ManualClock>,
    secs: u64,
    latency_ms: u64,
) {
    for i in 0..secs * 10 {
        let t = h.start();
        clock.advance(ms(latency_ms));
        h.record_batch(1000, 10);
        if i % 5 == 4 {
            t.failure("parse_error");
        } else {
            t.success();
        }
        clock.advance(ms(100 - latency_ms));
    }
}

fn handler(reg: &lakemetrics_core::Registry) -> HandlerMetrics {
    HandlerMetrics::builder(reg, "csv")
        .error_kinds(["parse_error"])
        // One-second latency epochs, so windowed quantiles are exact to the second.
        .latency_retention(Retention::new(secs(1), secs(12)).unwrap())
        .build()
        .unwrap()
}

#[test]
fn nothing_recorded_is_a_quiet_handler() {
    let (reg, clock) = registry();
    let h = handler(&reg);
    clock.advance(secs(3));
    let health = h.health(secs(10));
    assert_eq!(health.batches, 0);
    assert_eq!(health.error_ratio, 0.0);
    assert_eq!(health.throughput.records_per_second, 0.0);
    assert_eq!(health.latency.p99, None);
    assert_eq!(health.peak_queue_depth, 0);
}

#[test]
fn figures_over_a_window_match_the_registry() {
    let (reg, clock) = registry();
    let h = handler(&reg);
    run(&h, &clock, 10, 20);
    let health: Health = h.health(secs(10));
    assert_eq!(health.window, secs(10));
    assert_eq!(health.batches, 100);
    assert_eq!(health.failures, 20);
    assert_eq!(health.records, 1000);
    assert_eq!(health.bytes, 100_000);
    assert_close(health.error_ratio, 0.2);
    // Ten seconds since the handler was created.
    assert_close(health.throughput.batches_per_second, 10.0);
    assert_close(health.throughput.records_per_second, 100.0);
    assert_close(health.bytes_per_second, 10_000.0);

    // The same figures, straight from the registry.
    assert_eq!(
        batches(&reg, "csv", "success") + batches(&reg, "csv", "failure"),
        100
    );
    assert_eq!(errors(&reg, "csv", "parse_error"), 20);
    assert_eq!(counter(&reg, "ingest_records_total", "csv"), 1000);
    assert_eq!(counter(&reg, "ingest_bytes_total", "csv"), 100_000);
    let d = reg
        .histogram("ingest_batch_duration_seconds", &[("handler", "csv")])
        .unwrap();
    let p99 = d.quantile(0.99, secs(10));
    assert_close(health.latency.p99.unwrap().as_secs_f64(), p99);
    // Every batch took 20 ms: all in the (0.01, 0.02] bucket.
    for q in [health.latency.p50, health.latency.p90, health.latency.p99] {
        let q = q.unwrap();
        assert!(q > ms(10) && q <= ms(20), "{q:?}");
    }
    let sizes = reg
        .histogram("ingest_batch_bytes", &[("handler", "csv")])
        .unwrap();
    assert_eq!(sizes.snapshot().count(), 100);
    assert_close(sizes.snapshot().sum, 100_000.0);
}

#[test]
fn old_data_leaves_the_window() {
    let (reg, clock) = registry();
    let h = handler(&reg);
    // Ten slow seconds with errors, then five fast seconds without.
    run(&h, &clock, 10, 80);
    for _ in 0..50 {
        let t = h.start();
        clock.advance(ms(1));
        t.success();
        clock.advance(ms(99));
    }
    let recent = h.health(secs(5));
    // Five one-second epochs plus the current (empty) one: 50 fast batches.
    assert_eq!(recent.batches, 50);
    assert_eq!(recent.failures, 0);
    assert_eq!(recent.error_ratio, 0.0);
    assert!(recent.latency.p99.unwrap() <= ms(1), "{:?}", recent.latency);
    assert_close(recent.throughput.batches_per_second, 10.0);

    // Ten seconds: half slow, half fast.
    let ten = h.health(secs(10));
    assert_eq!(ten.batches, 100);
    assert_eq!(ten.failures, 10);
    assert_close(ten.error_ratio, 0.1);
    assert!(ten.latency.p50.unwrap() <= ms(1), "{:?}", ten.latency);
    assert!(ten.latency.p90.unwrap() > ms(50), "{:?}", ten.latency);

    let all = h.health(secs(15));
    assert_eq!(all.batches, 150);
    assert_eq!(all.failures, 20);
    let totals = h.totals();
    assert_eq!((totals.batches, totals.failures), (150, 20));
    assert_eq!((totals.records, totals.bytes), (1000, 100_000));
}

#[test]
fn queue_depth_now_and_peak() {
    let (reg, clock) = registry();
    let h = handler(&reg);
    let gauge = || {
        reg.gauge("ingest_queue_depth", &[("handler", "csv")])
            .unwrap()
            .get()
    };
    h.set_queue_depth(5);
    h.inc_queue_depth();
    h.inc_queue_depth();
    assert_eq!(h.queue_depth(), 7);
    assert_eq!(gauge(), 7.0);
    clock.advance(secs(3));
    h.dec_queue_depth();
    h.set_queue_depth(2);
    let health = h.health(secs(10));
    assert_eq!((health.queue_depth, health.peak_queue_depth), (2, 7));
    // Past the peak's epoch, the window's peak is the later values' peak.
    clock.advance(secs(1));
    assert_eq!(h.health(secs(2)).peak_queue_depth, 6);
    // Unchanged for a while: the peak is the current value.
    clock.advance(secs(30));
    assert_eq!(h.health(secs(5)).peak_queue_depth, 2);
    // More taken off than put on reads as empty, not as a huge number.
    h.set_queue_depth(0);
    h.dec_queue_depth();
    assert_eq!(h.queue_depth(), 0);
    assert_eq!(gauge(), -1.0);
}
