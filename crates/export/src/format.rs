//! The output formats and their HTTP content types.

use std::fmt;

/// `Content-Type` of Prometheus text exposition format 0.0.4.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `Content-Type` of OpenMetrics 1.0.0 text, as the spec requires it.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `Content-Type` of the JSON export (schema in `docs/formats.md`).
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// An export format.
///
/// ```
/// use lakemetrics_export::Format;
/// assert_eq!(Format::OpenMetrics.content_type(),
///            "application/openmetrics-text; version=1.0.0; charset=utf-8");
/// assert_eq!(Format::parse("prometheus"), Some(Format::Prometheus));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text exposition format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
    /// The JSON schema of `docs/formats.md`.
    Json,
    /// The Prometheus protobuf exposition: delimited `MetricFamily` messages.
    Protobuf,
}

impl Format {
    /// The HTTP `Content-Type` to serve this format with.
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => PROMETHEUS_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            Format::Json => JSON_CONTENT_TYPE,
            Format::Protobuf => crate::PROTOBUF_CONTENT_TYPE,
        }
    }

    /// A short lowercase name: `prometheus`, `openmetrics`, `json` or `protobuf`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Format::Prometheus => "prometheus",
            Format::OpenMetrics => "openmetrics",
            Format::Json => "json",
            Format::Protobuf => "protobuf",
        }
    }

    /// Parses [`Format::as_str`]'s names, as a query parameter would carry them.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "prometheus" => Some(Format::Prometheus),
            "openmetrics" => Some(Format::OpenMetrics),
            "json" => Some(Format::Json),
            "protobuf" => Some(Format::Protobuf),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
