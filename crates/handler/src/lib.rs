//! `lakemetrics-handler`: the metrics a data-ingestion handler (a CSV, JSON or
//! Parquet reader, a lake writer, ...) reaches for first, registered once and then
//! recorded without a lock or an allocation.
//!
//! A [`HandlerMetrics`] holds every series of one named handler:
//!
//! - **batch timing and outcome**: an RAII [`Timer`] (`let t = h.start(); ...;
//!   t.success()` or `t.failure("parse_error")`; dropped without either, or by a
//!   panic, it counts as a failure of kind `dropped`), a closure form
//!   ([`HandlerMetrics::time`]) and a runtime-agnostic future wrapper
//!   ([`HandlerMetrics::instrument`]), both taking the outcome from a `Result`
//!   whose error names its kind ([`ErrorKind`]);
//! - **data sizes**: bytes and records per batch ([`HandlerMetrics::record_batch`]);
//! - **queue depth**: set, inc, dec;
//! - **windowed health** for backpressure: [`HandlerMetrics::health`] gives
//!   throughput, error ratio, latency p50/p90/p99, bytes per second and the peak
//!   queue depth over a recent window.
//!
//! ```
//! use std::time::Duration;
//! use lakemetrics_core::Registry;
//! use lakemetrics_handler::HandlerMetrics;
//!
//! let reg = Registry::new();
//! let csv = HandlerMetrics::builder(&reg, "csv")
//!     .error_kinds(["parse_error", "schema_mismatch"])
//!     .build()
//!     .unwrap();
//!
//! // One batch, timed by a guard.
//! let t = csv.start();
//! csv.record_batch(256 * 1024, 2_000);
//! t.success();
//!
//! // One batch, timed by a closure; its error names the kind.
//! let r: Result<(), &str> = csv.time(|| Err("parse_error"));
//! assert!(r.is_err());
//!
//! csv.set_queue_depth(12);
//! let health = csv.health(Duration::from_secs(60));
//! assert_eq!(health.batches, 2);
//! assert_eq!(health.error_ratio, 0.5);
//! assert_eq!(health.peak_queue_depth, 12);
//!
//! // Every series is in the registry, under stable names.
//! let errors = reg
//!     .counter("ingest_errors_total", &[("handler", "csv"), ("kind", "parse_error")])
//!     .unwrap();
//! assert_eq!(errors.get(), 1);
//! ```
//!
//! # Metric names
//!
//! Names are a prefix (`ingest_` unless [`HandlerMetricsBuilder::prefix`] sets
//! another) followed by a fixed suffix; every series carries the label
//! `handler`. Counters end in `_total` in the registry too, so the name used in a
//! query is the name Prometheus shows. These names, labels, units and HELP texts
//! are stable; [`FAMILIES`] lists them for code.
//!
//! | name | kind | unit | labels | HELP |
//! |---|---|---|---|---|
//! | `ingest_batch_duration_seconds` | histogram | seconds | `handler` | Time to process one batch, from timer start to its success or failure. |
//! | `ingest_batches_total` | counter | | `handler`, `outcome` (`success`, `failure`) | Batches processed, by outcome (success or failure). |
//! | `ingest_errors_total` | counter | | `handler`, `kind` | Failed batches, by error kind. |
//! | `ingest_bytes_total` | counter | bytes | `handler` | Bytes in batches handled. |
//! | `ingest_records_total` | counter | | `handler` | Records in batches handled. |
//! | `ingest_batch_bytes` | histogram | bytes | `handler` | Bytes per batch. |
//! | `ingest_batch_records` | histogram | | `handler` | Records per batch. |
//! | `ingest_queue_depth` | gauge | | `handler` | Items waiting in the handler's input queue. |
//!
//! Every failure is counted twice, once in `batches_total{outcome="failure"}` and
//! once in `errors_total{kind=..}`, so `errors_total` summed over kinds equals the
//! failures, and the error ratio is
//! `rate(ingest_batches_total{outcome="failure"}[5m]) / rate(ingest_batches_total[5m])`.
//! Error kinds `dropped` ([`KIND_DROPPED`]: a timer or started future dropped
//! without an outcome) and `invalid_kind` ([`KIND_INVALID`]) are always present.
//!
//! Default buckets: durations a 1-2-5 series from 0.5 ms to 20 s
//! ([`DEFAULT_DURATION_BOUNDS`], configurable), bytes powers of 4 from 1 KiB to
//! 1 GiB, records powers of 4 from 1 to 16 Mi.
//!
//! # Costs
//!
//! Recording allocates nothing and takes no lock: a timer start and success is
//! an `Instant` read, one histogram observation and one counter increment (see
//! `docs/benchmarks.md` for figures and `tests/zero_alloc.rs` for the proof).
//! With a [`ManualClock`](lakemetrics_core::ManualClock) (or another custom
//! clock) in the registry, timers read that clock instead of `Instant`, so tests
//! control durations.

#![warn(missing_docs)]

mod health;
mod instrument;
mod kind;
mod metrics;
mod names;
mod stopwatch;
mod timer;

pub use health::{Health, Latency, Throughput, Totals};
pub use instrument::{ByErrorKind, Instrumented};
pub use kind::{ErrorKind, LEARNED_KINDS};
pub use metrics::{HandlerMetrics, HandlerMetricsBuilder, DEFAULT_MAX_ERROR_SERIES};
pub use names::{
    FamilySpec, MetricNames, BATCHES, BATCH_BYTES, BATCH_DURATION, BATCH_RECORDS, BYTES,
    DEFAULT_BATCH_BYTES_BOUNDS, DEFAULT_BATCH_RECORDS_BOUNDS, DEFAULT_DURATION_BOUNDS,
    DEFAULT_PREFIX, ERRORS, FAMILIES, HANDLER_LABEL, KIND_DROPPED, KIND_INVALID, KIND_LABEL,
    OUTCOME_FAILURE, OUTCOME_LABEL, OUTCOME_SUCCESS, QUEUE_DEPTH, RECORDS,
};
pub use timer::Timer;
