//! `lakemetrics-push`: Prometheus remote write for lakemetrics registries.
//!
//! A [`RemoteWriter`] pushes every closed epoch of the series a [`Filter`]
//! selects to a remote-write 1.0 receiver (Prometheus with
//! `--web.enable-remote-write-receiver`, Mimir, Thanos, VictoriaMetrics). It
//! keeps, per series, the newest epoch the receiver acknowledged and sends
//! what came after it from the series' own ring history, oldest first: a
//! receiver outage shorter than the retention loses nothing, and what fell out
//! of retention meanwhile is counted as lost
//! (`lakemetrics_remote_write_samples_total{outcome="lost"}`).
//!
//! Nothing runs until [`RemoteWriterBuilder::start`]: then one thread named
//! `lakemetrics-remote-write` pushes every interval, until
//! [`RemoteWriter::shutdown`] (or drop) flushes and stops it.
//!
//! Plain `http://` only: there is no TLS in this crate (a receiver behind
//! `https://` needs a local proxy for now).
//!
//! ```
//! use lakemetrics_core::{Filter, Registry};
//! use lakemetrics_push::encode_registry;
//!
//! let reg = Registry::new();
//! reg.counter("rows", &[("handler", "csv")]).unwrap().inc_by(3);
//! // The epoch is still open, so nothing is due yet.
//! let req = encode_registry(&reg, &Filter::all(), &[]);
//! assert!(req.timeseries.is_empty());
//! ```
//!
//! [`Filter`]: lakemetrics_core::Filter

#![warn(missing_docs)]

mod client;
mod encode;
mod error;
mod native;
pub mod proto;
mod writer;

pub use encode::{compress, encode_registry, encode_registry_with};
pub use error::Error;
pub use native::native_histogram;
pub use writer::{
    PushReport, RemoteWriter, RemoteWriterBuilder, Status, DEFAULT_INTERVAL, DEFAULT_MAX_BACKOFF,
    DEFAULT_MAX_SAMPLES, DEFAULT_MIN_BACKOFF, DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_TIMEOUT,
};
