//! Metric kinds.

use std::fmt;

/// The four kinds of metric, as in the Prometheus data model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricKind {
    /// A monotonically increasing `u64`.
    Counter,
    /// A point-in-time `f64`.
    Gauge,
    /// A distribution in classic buckets (cumulative upper bounds).
    Histogram,
    /// Quantiles over a sliding time window.
    Summary,
}

impl MetricKind {
    /// The lowercase name used by the exposition formats (`counter`, `gauge`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
            MetricKind::Summary => "summary",
        }
    }

    /// Parses the lowercase name (`"counter"`, ...), as query parameters carry it.
    pub fn parse(s: &str) -> Option<MetricKind> {
        match s {
            "counter" => Some(MetricKind::Counter),
            "gauge" => Some(MetricKind::Gauge),
            "histogram" => Some(MetricKind::Histogram),
            "summary" => Some(MetricKind::Summary),
            _ => None,
        }
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
