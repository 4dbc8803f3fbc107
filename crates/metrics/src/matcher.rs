//! Which families get which histogram layout: patterns over metric names, as
//! `metrics-exporter-prometheus`' `Matcher`.

use std::fmt;

use lakemetrics_core::Buckets;

/// A pattern over metric names (after sanitising), for
/// [`RecorderBuilder::set_buckets_for_metric`](crate::RecorderBuilder::set_buckets_for_metric)
/// and
/// [`RecorderBuilder::set_quantiles_for_metric`](crate::RecorderBuilder::set_quantiles_for_metric).
///
/// ```
/// use lakemetrics_metrics::Matcher;
/// assert!(Matcher::Full("rpc_seconds".into()).matches("rpc_seconds"));
/// assert!(Matcher::Prefix("rpc_".into()).matches("rpc_seconds"));
/// assert!(Matcher::Suffix("_bytes".into()).matches("batch_bytes"));
/// assert!(!Matcher::Full("rpc".into()).matches("rpc_seconds"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Matcher {
    /// The whole name.
    Full(String),
    /// Names that start with this.
    Prefix(String),
    /// Names that end with this.
    Suffix(String),
}

impl Matcher {
    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Matcher::Full(s) => name == s,
            Matcher::Prefix(s) => name.starts_with(s.as_str()),
            Matcher::Suffix(s) => name.ends_with(s.as_str()),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Full(s) => write!(f, "metric {s:?}"),
            Matcher::Prefix(s) => write!(f, "metrics starting with {s:?}"),
            Matcher::Suffix(s) => write!(f, "metrics ending with {s:?}"),
        }
    }
}

/// How a `metrics` histogram is kept.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Layout {
    /// A classic histogram with these buckets.
    Buckets(Buckets),
    /// A summary exporting these quantiles.
    Quantiles(Vec<f64>),
}

/// The layout rules, in the order they were added.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rules {
    rules: Vec<(Matcher, Layout)>,
    /// For names no rule matches; `None`: the registry's default buckets.
    default: Option<Layout>,
}

impl Rules {
    pub(crate) fn add(&mut self, matcher: Matcher, layout: Layout) {
        self.rules.push((matcher, layout));
    }

    pub(crate) fn set_default(&mut self, layout: Layout) {
        self.default = Some(layout);
    }

    /// The layout for `name`: a `Full` match first, else the first matching
    /// rule in the order added, else the default.
    pub(crate) fn layout(&self, name: &str) -> Option<&Layout> {
        let full = self
            .rules
            .iter()
            .find(|(m, _)| matches!(m, Matcher::Full(_)) && m.matches(name));
        full.or_else(|| self.rules.iter().find(|(m, _)| m.matches(name)))
            .map(|(_, l)| l)
            .or(self.default.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_match_wins_then_first_added() {
        let mut r = Rules::default();
        let b = |x: f64| Layout::Buckets(Buckets::new(vec![x]).unwrap());
        r.add(Matcher::Prefix("rpc_".into()), b(1.0));
        r.add(Matcher::Suffix("_seconds".into()), b(2.0));
        r.add(Matcher::Full("rpc_seconds".into()), b(3.0));
        assert_eq!(r.layout("rpc_seconds"), Some(&b(3.0)));
        assert_eq!(r.layout("rpc_bytes"), Some(&b(1.0)));
        assert_eq!(r.layout("db_seconds"), Some(&b(2.0)));
        assert_eq!(r.layout("db_bytes"), None);
        r.set_default(Layout::Quantiles(vec![0.5]));
        assert_eq!(r.layout("db_bytes"), Some(&Layout::Quantiles(vec![0.5])));
    }
}
