//! The one error type of `lakemetrics-core`.

use crate::MetricKind;

/// Everything that can go wrong when a family or series is created or a query is built.
///
/// Errors are raised when a series is created (names, labels, limits); recording
/// through a handle never fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The metric name does not match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name {name:?}: must match [a-zA-Z_:][a-zA-Z0-9_:]*")]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// The label name does not match `[a-zA-Z_][a-zA-Z0-9_]*` or starts with `__`.
    #[error(
        "invalid label name {name:?}: must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __"
    )]
    InvalidLabelName {
        /// The rejected label name.
        name: String,
    },
    /// A label value is longer than the registry allows.
    #[error("label {name:?} has a value of {len} bytes; the limit is {max}")]
    LabelValueTooLong {
        /// The label whose value is too long.
        name: String,
        /// The value's length in bytes.
        len: usize,
        /// The configured limit in bytes.
        max: usize,
    },
    /// A series has more labels than the registry allows.
    #[error("{count} labels given; the limit is {max}")]
    TooManyLabels {
        /// Labels given.
        count: usize,
        /// The configured limit.
        max: usize,
    },
    /// The same label name appears twice in one label set.
    #[error("label {name:?} appears more than once")]
    DuplicateLabel {
        /// The repeated label name.
        name: String,
    },
    /// The family's series have other label names: every series a lookup
    /// creates has the label names its family's series have (as Prometheus'
    /// client libraries require), so that queries and exports see one shape.
    /// (Series restored from a checkpoint written before this rule may differ.)
    #[error(
        "metric {name:?} has label names {expected:?}; a series with {got:?} would mix label sets in one family"
    )]
    LabelNamesMismatch {
        /// The metric name.
        name: String,
        /// The label names the family's series have, sorted.
        expected: Vec<String>,
        /// The label names asked for, sorted.
        got: Vec<String>,
    },
    /// The name is already registered with another kind.
    #[error("metric {name:?} is a {existing}, not a {requested}")]
    KindConflict {
        /// The metric name.
        name: String,
        /// The kind it was first registered with.
        existing: MetricKind,
        /// The kind asked for now.
        requested: MetricKind,
    },
    /// The family already exists with different options (help, unit, buckets, ...).
    #[error("metric {name:?} is already registered with different {what}")]
    FamilyConflict {
        /// The metric name.
        name: String,
        /// Which option differs.
        what: &'static str,
    },
    /// Creating the series would pass a cardinality limit.
    #[error(
        "metric {name:?} reached the {scope} limit of {limit} {}",
        if *scope == "families" { "families" } else { "series" }
    )]
    CardinalityLimit {
        /// The metric name (shared with the family: refusing a lookup past a
        /// limit allocates nothing).
        name: std::sync::Arc<str>,
        /// The limit that was reached.
        limit: usize,
        /// `"family"` or `"registry"` (series limits), or `"families"` (the
        /// registry's limit on families, which a new name would pass).
        scope: &'static str,
    },
    /// The family's exposed sample names would collide with another family's
    /// (for example a gauge `rows_total` beside a counter `rows`, or a gauge
    /// `lat_count` beside a histogram `lat`).
    #[error("metric {name:?} would expose {sample:?}, which family {other:?} already exposes")]
    NameClash {
        /// The metric name asked for.
        name: String,
        /// The clashing sample or family name.
        sample: String,
        /// The family that already exposes it.
        other: String,
    },
    /// A label name the kind reserves for itself (`le` on histograms, `quantile`
    /// on summaries).
    #[error("label {name:?} is reserved on {kind}s")]
    ReservedLabel {
        /// The label name.
        name: String,
        /// The kind that reserves it.
        kind: MetricKind,
    },
    /// A restore would overwrite a series that already exists.
    #[error("series {name:?} already exists; a checkpoint restores only into series that do not")]
    SeriesExists {
        /// The metric name.
        name: String,
    },
    /// Saved state does not fit the family it is restored into (another bucket
    /// layout or sketch size, or columns of the wrong length).
    #[error("saved state of {name:?} does not fit its family: {reason}")]
    StateMismatch {
        /// The metric name.
        name: String,
        /// What does not fit.
        reason: String,
    },
    /// An option is out of range (retention, buckets, quantiles, ...).
    #[error("invalid {what}: {reason}")]
    InvalidConfig {
        /// The option.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// A family's series limit times the bytes each series takes for its state
    /// and history (at its retention) is over a memory budget: the family's own
    /// ([`Describe::memory_budget`](crate::Describe::memory_budget)) or, added to
    /// the families already registered, the registry's
    /// ([`RegistryBuilder::memory_budget`](crate::RegistryBuilder::memory_budget)).
    #[error(
        "family {name:?} needs up to {needed} bytes ({max_series} series, and its overflow series, \
         x {per_series} bytes of state and history each), over the {scope} memory budget of {budget} bytes"
    )]
    MemoryBudget {
        /// The metric name.
        name: String,
        /// Bytes needed: the family's worst case (plus, for the registry's
        /// budget, every other family's).
        needed: u64,
        /// The family's series limit.
        max_series: usize,
        /// Bytes one series takes for its state and history.
        per_series: u64,
        /// The budget.
        budget: u64,
        /// `"family"` or `"registry"`.
        scope: &'static str,
    },
    /// The opt-in clock ticker could not be started.
    #[error("clock ticker not started: {reason}")]
    ClockTicker {
        /// Why: a ticker already runs, or the thread or fork handler could not be set up.
        reason: String,
    },
}

/// `Result` with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
