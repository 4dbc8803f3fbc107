//! The one error type of `lakemetrics-metrics`.

use lakemetrics_core::MetricKind;

use crate::Matcher;

/// Everything that can go wrong when the recorder is configured or installed, or
/// when a registration through the facade is refused.
///
/// The `metrics` facade's `register_*` and `describe_*` calls return no
/// `Result`, so a refused registration ([`Error::Rejected`]) reaches the
/// application through the callback given to
/// [`RecorderBuilder::on_rejection`](crate::RecorderBuilder::on_rejection)
/// and is counted in the `lakemetrics_metrics_rejected_total{reason="..."}`
/// self-metric; the call site gets a no-op handle.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A global `metrics` recorder is already installed in this process (by
    /// this crate or another exporter); `metrics` allows one per process.
    #[error(
        "a global `metrics` recorder is already installed in this process; \
         `metrics::set_global_recorder` accepts one per process"
    )]
    AlreadyInstalled,
    /// The bucket bounds given for a pattern are not a valid layout.
    #[error("invalid buckets for {}: {source}", pattern(.matcher))]
    InvalidBuckets {
        /// The pattern the buckets were given for (`None`: the default layout).
        matcher: Option<Matcher>,
        /// What the registry said about them.
        #[source]
        source: lakemetrics_core::Error,
    },
    /// The quantiles given for a pattern are empty or not all in `[0, 1]`.
    #[error(
        "invalid quantiles for {}: {quantiles:?}; give at least one, each in [0, 1]",
        pattern(.matcher)
    )]
    InvalidQuantiles {
        /// The pattern the quantiles were given for (`None`: the default layout).
        matcher: Option<Matcher>,
        /// The quantiles given.
        quantiles: Vec<f64>,
    },
    /// The registry refused a registration or description made through the
    /// facade: a label value too long, a kind clash (the same name as a counter
    /// and a gauge), a description that differs from the family's, a name
    /// clash, a memory budget... The metric records into a no-op handle.
    #[error("{kind} {name:?} not recorded: {source}")]
    Rejected {
        /// The kind the facade asked for (histograms that become summaries say
        /// `histogram`).
        kind: MetricKind,
        /// The metric name, after sanitising.
        name: String,
        /// The registry's error.
        #[source]
        source: lakemetrics_core::Error,
    },
}

/// The label value of the `lakemetrics_metrics_rejected_total` self-metric for
/// a registry error: the error's variant in snake case.
pub(crate) fn reason(e: &lakemetrics_core::Error) -> &'static str {
    use lakemetrics_core::Error as E;
    match e {
        E::InvalidName { .. } => "invalid_name",
        E::InvalidLabelName { .. } => "invalid_label_name",
        E::LabelValueTooLong { .. } => "label_value_too_long",
        E::TooManyLabels { .. } => "too_many_labels",
        E::DuplicateLabel { .. } => "duplicate_label",
        E::KindConflict { .. } => "kind_conflict",
        E::FamilyConflict { .. } => "family_conflict",
        E::CardinalityLimit { .. } => "cardinality_limit",
        E::NameClash { .. } => "name_clash",
        E::ReservedLabel { .. } => "reserved_label",
        E::MemoryBudget { .. } => "memory_budget",
        E::InvalidConfig { .. } => "invalid_config",
        _ => "other",
    }
}

/// What a layout was given for, in words.
fn pattern(matcher: &Option<Matcher>) -> String {
    match matcher {
        Some(m) => m.to_string(),
        None => "histograms no pattern matches".into(),
    }
}
