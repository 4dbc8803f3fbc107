//! `lakemetrics-metrics`: lakemetrics as the recorder behind the
//! [`metrics`](https://docs.rs/metrics/0.24) facade.
//!
//! Code instrumented with `counter!`, `gauge!` and `histogram!` (yours or a
//! dependency's) records into a lakemetrics [`Registry`]: every series gets
//! lakemetrics' history and windowed queries, and the registry's exports, HTTP
//! endpoint and checkpoints cover it. Install it once, at startup:
//!
//! ```
//! use lakemetrics_core::Registry;
//!
//! let reg = Registry::new();
//! lakemetrics_metrics::install(&reg).unwrap();
//!
//! metrics::describe_counter!("rows_total", "Rows ingested.");
//! let rows = metrics::counter!("rows_total", "handler" => "csv"); // once
//! rows.increment(500); // hot loop: one lakemetrics increment
//! metrics::histogram!("batch_seconds").record(0.012);
//!
//! let c = reg.counter("rows_total", &[("handler", "csv")]).unwrap();
//! assert_eq!(c.get(), 500);
//! assert_eq!(c.increase(std::time::Duration::from_secs(60)), 500);
//! ```
//!
//! What each facade call becomes:
//!
//! | `metrics` | lakemetrics |
//! |---|---|
//! | `describe_counter!(name, unit, help)` (and gauge, histogram) | [`Registry::register`] of a family with HELP and unit (describe before first use) |
//! | `counter!(name, labels)` | a counter series; `increment(n)` is `inc_by(n)`, `absolute(v)` raises it to `v` (see below) |
//! | `gauge!(name, labels)` | a gauge series; `increment`, `decrement`, `set` are `add`, `sub`, `set` |
//! | `histogram!(name, labels)` | a histogram series (buckets per name, [`RecorderBuilder::set_buckets_for_metric`]) or a summary ([`RecorderBuilder::set_quantiles_for_metric`]) |
//!
//! `absolute(v)` sets the counter to at least `v`, as the facade documents: it
//! adds what `v` adds over the largest value given to `absolute` before (or over
//! the counter's value when its handle was first registered), so calls that
//! race or arrive out of order never count twice. A counter that is both
//! incremented and set with `absolute` adds both.
//!
//! Names are sanitised ([`names`]); anything the registry still refuses gets a
//! no-op handle and is counted ([`Error::Rejected`], [`REJECTED_METRIC`]).

#![warn(missing_docs)]

mod error;
mod handles;
mod matcher;
pub mod names;
mod recorder;
mod table;

pub use error::Error;
pub use matcher::Matcher;
pub use recorder::{LakemetricsRecorder, RecorderBuilder, REJECTED_METRIC};

use lakemetrics_core::Registry;

/// Installs a [`LakemetricsRecorder`] into `registry`, with the default layouts,
/// as the process' global `metrics` recorder.
///
/// One global recorder per process: if one is installed already (by this
/// function or another exporter), returns [`Error::AlreadyInstalled`]. For
/// bucket or quantile rules, use [`LakemetricsRecorder::builder`] and
/// [`RecorderBuilder::install`].
pub fn install(registry: &Registry) -> Result<(), Error> {
    LakemetricsRecorder::new(registry).install()
}
