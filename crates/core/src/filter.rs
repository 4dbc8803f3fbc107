//! Query filters: which families, series and history a visit selects.

use std::time::SystemTime;

use crate::storage::TimeRange;
use crate::MetricKind;

/// How a family's name is matched.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NameMatch {
    /// Every family.
    #[default]
    Any,
    /// The family with exactly this name.
    Exact(String),
    /// Families whose name starts with this.
    Prefix(String),
    /// Families with any of these exact names.
    AnyOf(Vec<String>),
}

/// A label matcher, as in PromQL: a missing label counts as the empty string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelMatch {
    /// `name="value"`.
    Eq(String, String),
    /// `name!="value"`.
    Ne(String, String),
}

impl LabelMatch {
    fn matches<'a>(&self, mut labels: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
        let (name, value, eq) = match self {
            LabelMatch::Eq(n, v) => (n, v, true),
            LabelMatch::Ne(n, v) => (n, v, false),
        };
        let actual = labels.find(|(k, _)| k == name).map_or("", |(_, v)| v);
        (actual == value) == eq
    }
}

/// What a [`Registry::visit`](crate::Registry::visit) selects: families by name and
/// kind, series by label matchers, history by time range.
///
/// ```
/// use lakemetrics_core::{Filter, MetricKind};
/// let f = Filter::all()
///     .prefix("ingest_")
///     .kind(MetricKind::Counter)
///     .label_eq("handler", "csv")
///     .label_ne("status", "ok")
///     .since_nanos(1_700_000_000_000_000_000);
/// assert!(f.matches_name("ingest_rows"));
/// assert!(!f.matches_name("queue_depth"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// Family names.
    pub name: NameMatch,
    /// Family kind, if restricted.
    pub kind: Option<MetricKind>,
    /// Every matcher must hold.
    pub labels: Vec<LabelMatch>,
    /// History selected for each series.
    pub range: TimeRange,
    /// Whether idle series (see [`Describe::idle_ttl`](crate::Describe::idle_ttl))
    /// are visited too.
    pub include_idle: bool,
}

impl Filter {
    /// Everything (but idle series).
    pub fn all() -> Filter {
        Filter::default()
    }

    /// Only the family named `name`.
    pub fn name(mut self, name: impl Into<String>) -> Filter {
        self.name = NameMatch::Exact(name.into());
        self
    }

    /// Only families whose name starts with `prefix`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Filter {
        self.name = NameMatch::Prefix(prefix.into());
        self
    }

    /// Only families of `kind`.
    pub fn kind(mut self, kind: MetricKind) -> Filter {
        self.kind = Some(kind);
        self
    }

    /// Only series whose label `name` equals `value`.
    pub fn label_eq(mut self, name: impl Into<String>, value: impl Into<String>) -> Filter {
        self.labels.push(LabelMatch::Eq(name.into(), value.into()));
        self
    }

    /// Only series whose label `name` differs from `value`.
    pub fn label_ne(mut self, name: impl Into<String>, value: impl Into<String>) -> Filter {
        self.labels.push(LabelMatch::Ne(name.into(), value.into()));
        self
    }

    /// History from `start` (ns since the Unix epoch).
    pub fn since_nanos(mut self, start: u64) -> Filter {
        self.range.start = Some(start);
        self
    }

    /// History up to `end` (ns since the Unix epoch).
    pub fn until_nanos(mut self, end: u64) -> Filter {
        self.range.end = Some(end);
        self
    }

    /// History between two wall-clock times.
    pub fn between(mut self, start: SystemTime, end: SystemTime) -> Filter {
        let ns = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos().min(u64::MAX as u128) as u64)
        };
        self.range = TimeRange {
            start: Some(ns(start)),
            end: Some(ns(end)),
        };
        self
    }

    /// Visit idle series too.
    pub fn include_idle(mut self, yes: bool) -> Filter {
        self.include_idle = yes;
        self
    }

    /// Whether a family named `name` is selected by name.
    pub fn matches_name(&self, name: &str) -> bool {
        match &self.name {
            NameMatch::Any => true,
            NameMatch::Exact(n) => n == name,
            NameMatch::Prefix(p) => name.starts_with(p.as_str()),
            NameMatch::AnyOf(ns) => ns.iter().any(|n| n == name),
        }
    }

    /// Whether a series with `labels` is selected.
    pub fn matches_labels<'a, I>(&self, labels: I) -> bool
    where
        I: Iterator<Item = (&'a str, &'a str)> + Clone,
    {
        self.labels.iter().all(|m| m.matches(labels.clone()))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn label_matchers_treat_missing_as_empty() {
        let labels = [("handler", "csv")];
        let it = || labels.iter().map(|(k, v)| (*k, *v));
        assert!(Filter::all()
            .label_eq("handler", "csv")
            .matches_labels(it()));
        assert!(!Filter::all()
            .label_eq("handler", "json")
            .matches_labels(it()));
        assert!(Filter::all().label_eq("status", "").matches_labels(it()));
        assert!(Filter::all().label_ne("status", "ok").matches_labels(it()));
        assert!(!Filter::all()
            .label_ne("handler", "csv")
            .matches_labels(it()));
    }

    #[test]
    fn names() {
        assert!(Filter::all().matches_name("x"));
        assert!(Filter::all().name("x").matches_name("x"));
        assert!(!Filter::all().name("x").matches_name("xy"));
        assert!(Filter::all().prefix("x").matches_name("xy"));
    }
}
