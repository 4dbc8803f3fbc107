//! `lakemetrics`: in-process metrics for data-ingestion services.
//!
//! Lock-free, allocation-free recording into a sharded registry that keeps a
//! bounded window of history for every series, with Prometheus text,
//! OpenMetrics, JSON and Prometheus protobuf export. This is the crate to depend on: it re-exports
//!
//! - the engine, [`lakemetrics_core`], at the root ([`Registry`], [`Counter`],
//!   [`Gauge`], [`Histogram`], [`Summary`], [`Filter`], ...);
//! - the writers, [`lakemetrics_export`], as [`export`] (with the `protobuf`
//!   feature, also the protobuf schema to decode with, `export::proto`);
//! - the ingestion-handler helpers, [`lakemetrics_handler`], as [`handler`], with
//!   [`HandlerMetrics`] also at the root;
//! - with the `store` feature (on by default), crash-safe checkpoints,
//!   `lakemetrics_store`, as `store`;
//! - with the `http` feature (on by default), the scrape endpoint, JSON API and
//!   dashboard, `lakemetrics_http`, as `http`;
//! - with the `metrics` feature (on by default), the recorder behind the
//!   `metrics` facade, `lakemetrics_metrics`, as `metrics`: one line,
//!   `lakemetrics::metrics::install(&registry)`, and every `counter!`,
//!   `gauge!` and `histogram!` in the process records into `registry`.
//! - with the `push` feature (on by default), Prometheus remote write,
//!   `lakemetrics_push`, as `push`;
//! - with the `derive` feature (on by default), `#[derive(LabelSet)]` and
//!   `#[derive(LabelValue)]` for typed label sets ([`Registry::typed_counter`]
//!   and friends), from `lakemetrics_derive`.
//!
//! The `lakemetrics` binary runs a simulated ingestion service that records
//! through all of it: `cargo run --release --bin lakemetrics -- demo`.
//!
//! ```
//! use std::time::Duration;
//! use lakemetrics::{Filter, HandlerMetrics, Registry};
//!
//! let reg = Registry::new();
//! let csv = HandlerMetrics::builder(&reg, "csv")
//!     .error_kinds(["parse_error"])
//!     .build()
//!     .unwrap();
//!
//! let t = csv.start();
//! csv.record_batch(128 * 1024, 1_000);
//! t.success();
//! let r: Result<(), &str> = csv.time(|| Err("parse_error"));
//! assert!(r.is_err());
//!
//! let health = csv.health(Duration::from_secs(60));
//! assert_eq!((health.batches, health.failures), (2, 1));
//!
//! let mut text = Vec::new();
//! lakemetrics::export::write_prometheus(&reg, &Filter::all(), &mut text).unwrap();
//! let text = String::from_utf8(text).unwrap();
//! assert!(text.contains("ingest_errors_total{handler=\"csv\",kind=\"parse_error\"} 1"));
//! ```

#![warn(missing_docs)]

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

pub use lakemetrics_core::*;
/// `#[derive(LabelSet)]` and `#[derive(LabelValue)]`: see [`LabelSet`](trait@LabelSet).
#[cfg(feature = "derive")]
pub use lakemetrics_derive::{LabelSet, LabelValue};
pub use lakemetrics_export as export;
pub use lakemetrics_handler as handler;
pub use lakemetrics_handler::HandlerMetrics;
#[cfg(feature = "http")]
pub use lakemetrics_http as http;
#[cfg(feature = "metrics")]
pub use lakemetrics_metrics as metrics;
#[cfg(feature = "push")]
pub use lakemetrics_push as push;
#[cfg(feature = "store")]
pub use lakemetrics_store as store;
