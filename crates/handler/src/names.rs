//! The stable set of metric names, labels, units and HELP texts.
//!
//! Every family's name is a configurable prefix ([`DEFAULT_PREFIX`] unless set)
//! followed by a fixed suffix from [`FAMILIES`]. Counter names end in `_total` in
//! the registry too, so the name a query or a `Filter` uses is the one Prometheus
//! shows. These names and labels are part of the crate's stable API: dashboards
//! and alerts are written against them.

use lakemetrics_core::MetricKind;

/// The prefix used unless [`HandlerMetricsBuilder::prefix`](crate::HandlerMetricsBuilder::prefix)
/// sets another.
pub const DEFAULT_PREFIX: &str = "ingest_";

/// The label naming the handler, on every family.
pub const HANDLER_LABEL: &str = "handler";
/// The label of [`BATCHES`] saying how a batch ended: [`OUTCOME_SUCCESS`] or [`OUTCOME_FAILURE`].
pub const OUTCOME_LABEL: &str = "outcome";
/// The label of [`ERRORS`] naming the error kind.
pub const KIND_LABEL: &str = "kind";

/// `outcome` of a batch that succeeded.
pub const OUTCOME_SUCCESS: &str = "success";
/// `outcome` of a batch that failed (of any kind).
pub const OUTCOME_FAILURE: &str = "failure";

/// The error kind of a timer dropped without an outcome, including one dropped
/// while its thread unwinds from a panic, and of an instrumented future dropped
/// after its first poll but before completion.
pub const KIND_DROPPED: &str = "dropped";
/// The error kind counted when a kind is not a usable label value (longer than
/// the registry's label value limit), so that the failure is still counted.
pub const KIND_INVALID: &str = "invalid_kind";

/// Suffix of the batch duration histogram.
pub const BATCH_DURATION: &str = "batch_duration_seconds";
/// Suffix of the batches counter.
pub const BATCHES: &str = "batches_total";
/// Suffix of the errors-by-kind counter.
pub const ERRORS: &str = "errors_total";
/// Suffix of the bytes counter.
pub const BYTES: &str = "bytes_total";
/// Suffix of the records counter.
pub const RECORDS: &str = "records_total";
/// Suffix of the bytes-per-batch histogram.
pub const BATCH_BYTES: &str = "batch_bytes";
/// Suffix of the records-per-batch histogram.
pub const BATCH_RECORDS: &str = "batch_records";
/// Suffix of the queue depth gauge.
pub const QUEUE_DEPTH: &str = "queue_depth";

/// One family of the set: what the crate registers under `prefix + suffix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilySpec {
    /// The name after the prefix.
    pub suffix: &'static str,
    /// The kind.
    pub kind: MetricKind,
    /// The unit, if any.
    pub unit: Option<&'static str>,
    /// The label names of its series (besides the registry's overflow label).
    pub labels: &'static [&'static str],
    /// The HELP text.
    pub help: &'static str,
}

/// Every family a [`HandlerMetrics`](crate::HandlerMetrics) registers, in the
/// order of the table in the crate docs.
pub const FAMILIES: [FamilySpec; 8] = [
    FamilySpec {
        suffix: BATCH_DURATION,
        kind: MetricKind::Histogram,
        unit: Some("seconds"),
        labels: &[HANDLER_LABEL],
        help: "Time to process one batch, from timer start to its success or failure.",
    },
    FamilySpec {
        suffix: BATCHES,
        kind: MetricKind::Counter,
        unit: None,
        labels: &[HANDLER_LABEL, OUTCOME_LABEL],
        help: "Batches processed, by outcome (success or failure).",
    },
    FamilySpec {
        suffix: ERRORS,
        kind: MetricKind::Counter,
        unit: None,
        labels: &[HANDLER_LABEL, KIND_LABEL],
        help: "Failed batches, by error kind.",
    },
    FamilySpec {
        suffix: BYTES,
        kind: MetricKind::Counter,
        unit: Some("bytes"),
        labels: &[HANDLER_LABEL],
        help: "Bytes in batches handled.",
    },
    FamilySpec {
        suffix: RECORDS,
        kind: MetricKind::Counter,
        unit: None,
        labels: &[HANDLER_LABEL],
        help: "Records in batches handled.",
    },
    FamilySpec {
        suffix: BATCH_BYTES,
        kind: MetricKind::Histogram,
        unit: Some("bytes"),
        labels: &[HANDLER_LABEL],
        help: "Bytes per batch.",
    },
    FamilySpec {
        suffix: BATCH_RECORDS,
        kind: MetricKind::Histogram,
        unit: None,
        labels: &[HANDLER_LABEL],
        help: "Records per batch.",
    },
    FamilySpec {
        suffix: QUEUE_DEPTH,
        kind: MetricKind::Gauge,
        unit: None,
        labels: &[HANDLER_LABEL],
        help: "Items waiting in the handler's input queue.",
    },
];

/// Default upper bounds of the batch duration histogram, in seconds: a 1-2-5
/// series from 0.5 ms to 20 s (15 bounds, so windowed quantiles need no heap).
pub const DEFAULT_DURATION_BOUNDS: [f64; 15] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0,
];

/// Default upper bounds of the bytes-per-batch histogram: powers of 4 from 1 KiB
/// to 1 GiB.
pub const DEFAULT_BATCH_BYTES_BOUNDS: [f64; 11] = [
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262144.0,
    1048576.0,
    4194304.0,
    16777216.0,
    67108864.0,
    268435456.0,
    1073741824.0,
];

/// Default upper bounds of the records-per-batch histogram: powers of 4 from 1
/// to 16,777,216.
pub const DEFAULT_BATCH_RECORDS_BOUNDS: [f64; 13] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0,
];

/// The full names of the families for one prefix.
///
/// ```
/// use lakemetrics_handler::MetricNames;
/// let names = MetricNames::new("ingest_");
/// assert_eq!(names.batches(), "ingest_batches_total");
/// assert_eq!(MetricNames::new("lake_").queue_depth(), "lake_queue_depth");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricNames {
    prefix: String,
    /// In the order of [`FAMILIES`].
    names: [String; 8],
}

impl MetricNames {
    /// The names under `prefix` (not validated here; registering them is).
    pub fn new(prefix: &str) -> MetricNames {
        MetricNames {
            prefix: prefix.to_owned(),
            names: FAMILIES.map(|f| format!("{prefix}{}", f.suffix)),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Each family's spec with its full name, in the order of [`FAMILIES`].
    pub fn families(&self) -> impl Iterator<Item = (&str, &FamilySpec)> + '_ {
        self.names.iter().map(String::as_str).zip(FAMILIES.iter())
    }

    fn get(&self, suffix: &str) -> &str {
        let i = FAMILIES
            .iter()
            .position(|f| f.suffix == suffix)
            .unwrap_or_default();
        &self.names[i]
    }

    /// `<prefix>batch_duration_seconds`.
    pub fn batch_duration(&self) -> &str {
        self.get(BATCH_DURATION)
    }

    /// `<prefix>batches_total`.
    pub fn batches(&self) -> &str {
        self.get(BATCHES)
    }

    /// `<prefix>errors_total`.
    pub fn errors(&self) -> &str {
        self.get(ERRORS)
    }

    /// `<prefix>bytes_total`.
    pub fn bytes(&self) -> &str {
        self.get(BYTES)
    }

    /// `<prefix>records_total`.
    pub fn records(&self) -> &str {
        self.get(RECORDS)
    }

    /// `<prefix>batch_bytes`.
    pub fn batch_bytes(&self) -> &str {
        self.get(BATCH_BYTES)
    }

    /// `<prefix>batch_records`.
    pub fn batch_records(&self) -> &str {
        self.get(BATCH_RECORDS)
    }

    /// `<prefix>queue_depth`.
    pub fn queue_depth(&self) -> &str {
        self.get(QUEUE_DEPTH)
    }
}

impl Default for MetricNames {
    fn default() -> Self {
        MetricNames::new(DEFAULT_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakemetrics_core::labels::{is_valid_label_name, is_valid_metric_name};

    #[test]
    fn every_name_and_label_is_valid_and_distinct() {
        let names = MetricNames::default();
        let mut seen = Vec::new();
        for (name, spec) in names.families() {
            assert!(is_valid_metric_name(name), "{name}");
            assert!(spec.labels.iter().all(|l| is_valid_label_name(l)));
            assert!(!spec.help.is_empty());
            if spec.kind == MetricKind::Counter {
                assert!(name.ends_with("_total"), "{name}");
            }
            if let Some(unit) = spec.unit {
                assert!(name.contains(unit), "{name} should carry its unit {unit}");
            }
            assert!(!seen.contains(&name));
            seen.push(name);
        }
        assert_eq!(names.batch_duration(), "ingest_batch_duration_seconds");
        assert_eq!(names.errors(), "ingest_errors_total");
        assert_eq!(names.bytes(), "ingest_bytes_total");
        assert_eq!(names.records(), "ingest_records_total");
        assert_eq!(names.batch_bytes(), "ingest_batch_bytes");
        assert_eq!(names.batch_records(), "ingest_batch_records");
    }
}
