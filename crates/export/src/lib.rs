//! `lakemetrics-export`: streaming Prometheus text, OpenMetrics and JSON writers for
//! a [`lakemetrics_core::Registry`].
//!
//! Every writer reads the registry through one zero-copy visit, takes the core
//! [`Filter`] (families, series, history range), writes families in name order
//! (series in creation order) straight into any [`std::io::Write`], and allocates
//! nothing per series or sample: numbers are formatted with `itoa`/`ryu` in stack
//! buffers, strings are escaped as they are copied. Escaping follows each spec
//! exactly, so no label value or HELP text can break the output or inject samples.
//!
//! - [`write_prometheus`]: Prometheus text exposition format 0.0.4.
//! - [`write_openmetrics`]: OpenMetrics 1.0.0 text, ending with `# EOF`.
//! - [`write_json`]: the JSON schema documented in `docs/formats.md`, with
//!   cumulative values and the per-epoch history the filter's time range selects.
//! - [`write_protobuf`]: the Prometheus protobuf exposition (delimited
//!   `io.prometheus.client.MetricFamily` messages), with the native histogram
//!   encoding ([`NativeBuckets`], [`native_layout`]); the feature `protobuf`
//!   adds the schema as prost messages ([`proto`]) to decode it.
//! - [`Exporter`]: the same, one family at a time, for very large registries.
//!
//! `docs/formats.md` says exactly how each format is written (suffixes, escaping,
//! number formats, what OpenMetrics forbids and how that is handled).
//!
//! ```
//! use std::sync::Arc;
//! use lakemetrics_core::{Describe, Filter, ManualClock, Registry};
//!
//! let reg = Registry::builder()
//!     .clock(Arc::new(ManualClock::new(1_700_000_000_000_000_000)))
//!     .build();
//! reg.register(Describe::counter("ingest_rows").help("Rows ingested.")).unwrap();
//! reg.counter("ingest_rows", &[("handler", "csv \"v2\"")]).unwrap().inc_by(500);
//!
//! let mut out = Vec::new();
//! lakemetrics_export::write_prometheus(&reg, &Filter::all(), &mut out).unwrap();
//! let expected = concat!(
//!     "# HELP ingest_rows_total Rows ingested.\n",
//!     "# TYPE ingest_rows_total counter\n",
//!     "ingest_rows_total{handler=\"csv \\\"v2\\\"\"} 500\n",
//! );
//! assert_eq!(String::from_utf8(out).unwrap(), expected);
//!
//! let mut out = Vec::new();
//! lakemetrics_export::write_openmetrics(&reg, &Filter::all(), &mut out).unwrap();
//! let expected = concat!(
//!     "# TYPE ingest_rows counter\n",
//!     "# HELP ingest_rows Rows ingested.\n",
//!     "ingest_rows_total{handler=\"csv \\\"v2\\\"\"} 500\n",
//!     "ingest_rows_created{handler=\"csv \\\"v2\\\"\"} 1700000000.0\n",
//!     "# EOF\n",
//! );
//! assert_eq!(String::from_utf8(out).unwrap(), expected);
//! ```

#![warn(missing_docs)]

mod escape;
mod exporter;
mod format;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod json;
mod number;
#[cfg(feature = "protobuf")]
pub mod proto;
mod protobuf;
mod text;

pub use exporter::Exporter;
pub use format::{Format, JSON_CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE};
pub use json::NATIVE_WINDOW_OBJECTIVES;
pub use protobuf::{
    native_layout, NativeBuckets, NativeEncoder, NativeError, Span, MAX_SPAN_GAP,
    PROTOBUF_CONTENT_TYPE,
};
pub use text::DEFAULT_HELP;

/// `v` as both text formats write it in `le` and `quantile` label values (Go's
/// shortest `%g`, with `.0` added when it has neither a point nor an exponent:
/// `0.005`, `1.0`, `1e+06`, `+Inf`), so that writers of other formats (remote
/// write) name a bucket or quantile exactly as a scrape does.
///
/// ```
/// assert_eq!(lakemetrics_export::label_float(1.0), "1.0");
/// assert_eq!(lakemetrics_export::label_float(f64::INFINITY), "+Inf");
/// ```
pub fn label_float(v: f64) -> String {
    // The bytes are ASCII.
    String::from_utf8_lossy(number::Canonical::new(v).as_bytes()).into_owned()
}

use std::io::{self, Write};

use lakemetrics_core::{Filter, Registry};

/// Writes the families and series `filter` selects as Prometheus text exposition
/// format 0.0.4 (content type [`PROMETHEUS_CONTENT_TYPE`]).
///
/// Counters are named `<name>_total` (a name that already ends in `_total` keeps
/// it once); histograms write cumulative `_bucket{le=..}` samples ending with
/// `le="+Inf"`, then `_sum` and `_count`; summaries write `{quantile=..}` samples
/// over the family's retention window, then `_sum` and `_count`.
pub fn write_prometheus<W: Write + ?Sized>(
    reg: &Registry,
    filter: &Filter,
    out: &mut W,
) -> io::Result<()> {
    write_format(Format::Prometheus, reg, filter, out)
}

/// Writes the families and series `filter` selects as OpenMetrics 1.0.0 text
/// (content type [`OPENMETRICS_CONTENT_TYPE`]), ending with `# EOF`.
///
/// Counter families are named without `_total` and write `_total` and
/// `_created` samples; histograms and summaries write `_created` too. A `# UNIT`
/// line is written when the family name ends in `_<unit>`, as the spec requires.
pub fn write_openmetrics<W: Write + ?Sized>(
    reg: &Registry,
    filter: &Filter,
    out: &mut W,
) -> io::Result<()> {
    write_format(Format::OpenMetrics, reg, filter, out)
}

/// Writes the families and series `filter` selects as the Prometheus protobuf
/// exposition (content type [`PROTOBUF_CONTENT_TYPE`]): one varint-length-delimited
/// `io.prometheus.client.MetricFamily` per family, named and labelled as in
/// Prometheus text 0.0.4. `docs/formats.md` lists the fields written.
pub fn write_protobuf<W: Write + ?Sized>(
    reg: &Registry,
    filter: &Filter,
    out: &mut W,
) -> io::Result<()> {
    write_format(Format::Protobuf, reg, filter, out)
}

/// Writes the families and series `filter` selects as JSON (content type
/// [`JSON_CONTENT_TYPE`]; schema in `docs/formats.md`): metadata, cumulative
/// values and the per-epoch history within the filter's time range.
pub fn write_json<W: Write + ?Sized>(
    reg: &Registry,
    filter: &Filter,
    out: &mut W,
) -> io::Result<()> {
    write_format(Format::Json, reg, filter, out)
}

/// Writes the families and series `filter` selects in `format`: the function
/// behind [`write_prometheus`], [`write_openmetrics`] and [`write_json`].
pub fn write_format<W: Write + ?Sized>(
    format: Format,
    reg: &Registry,
    filter: &Filter,
    out: &mut W,
) -> io::Result<()> {
    let mut exporter = Exporter::new(format, out);
    exporter.write_registry(reg, filter)?;
    exporter.finish().map(drop)
}
