//! `lakemetrics-http`: a lakemetrics [`Registry`](lakemetrics_core::Registry) over
//! HTTP: a scrape endpoint for Prometheus (and Mimir, Thanos, VictoriaMetrics),
//! a JSON query API and a live dashboard, with an optional bearer token.
//!
//! Two ways to serve it:
//!
//! - [`HttpExporter`]: for applications without an async runtime. It listens
//!   (on `127.0.0.1:9898` by default) on its own thread, with its own small
//!   single-threaded Tokio runtime, and stops when dropped.
//! - [`router()`]: the same endpoints as an [`axum::Router`], to mount into an
//!   application's own axum server.
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /metrics` | Prometheus text 0.0.4 or OpenMetrics 1.0.0, by `Accept`; gzip by `Accept-Encoding`; `name[]=` filters |
//! | `GET /api/v1/series` | the JSON export (`docs/formats.md`): `name`, `prefix`, `kind`, `label`, `label!`, `start`, `end`; bounded |
//! | `GET /api/v1/families` | families with kind, help, unit and series count |
//! | `GET /` | the dashboard: per-handler throughput, error ratio and latency quantiles, and the families, refreshed every second |
//! | `GET /healthz` | `ok` |
//!
//! Responses are rendered from the registry on a blocking thread, family by
//! family, into 64 KiB chunks that are sent as they fill: a scrape of a million
//! series holds a few chunks in memory, never the whole output. Bad requests get
//! a status 4xx and a JSON body `{"error": .., "message": .., "parameter": ..}`;
//! no input makes the server panic or answer 500. `docs/http.md` lists every
//! parameter, limit and error.
//!
//! ```
//! use lakemetrics_core::Registry;
//! use lakemetrics_http::HttpExporter;
//!
//! let reg = Registry::new();
//! reg.counter("ingest_rows_total", &[("handler", "csv")]).unwrap().inc_by(500);
//!
//! let exporter = HttpExporter::builder(&reg)
//!     .listen(([127, 0, 0, 1], 0))
//!     .token("9f3c1e7a5b2d8046c3e1f0a9")
//!     .start()
//!     .unwrap();
//! println!("metrics at {}metrics", exporter.url());
//! drop(exporter); // stops the server and joins its thread
//! ```

#![warn(missing_docs)]

mod api;
mod auth;
mod config;
mod connection;
mod dashboard;
mod error;
mod exporter;
mod negotiate;
mod query;
mod rejection;
mod router;
mod scrape;
mod stream;
mod throttle;
mod time;

pub use config::{
    Config, ConfigBuilder, DEFAULT_CHUNK_BYTES, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_BUFFERED_BYTES,
    DEFAULT_MAX_CONCURRENT_RENDERS, DEFAULT_MAX_POINTS, DEFAULT_MAX_SERIES, DEFAULT_SCRAPE_TIMEOUT,
    DEFAULT_TOKEN_ATTEMPTS_BURST, DEFAULT_TOKEN_ATTEMPTS_PER_SECOND, DEFAULT_WRITE_TIMEOUT,
    MIN_TOKEN_CHARS, MIN_TOKEN_DISTINCT_CHARS,
};
pub use error::Error;
pub use exporter::{
    HttpExporter, HttpExporterBuilder, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_KEEP_ALIVE_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_HEADERS,
    DEFAULT_MAX_HEADER_BYTES,
};
pub use query::{MAX_PARAMS, MAX_PARAM_BYTES};
pub use router::router;
