//! Sanitising the names third-party crates record under.
//!
//! The facade accepts any string as a metric or label name (`"http.requests"`,
//! `"2xx"`, `"le-vel"`); the Prometheus data model does not. Rather than lose
//! what such a crate records, its names are rewritten:
//!
//! - **metric names**: every character outside `[a-zA-Z0-9_:]` becomes one `_`
//!   (`http.requests` → `http_requests`, `latency-µs` → `latency__s`), and a name
//!   that is empty or starts with a digit gets a leading `_` (`2xx` → `_2xx`);
//! - **label names**: every character outside `[a-zA-Z0-9_]` becomes one `_`
//!   (`a:b` → `a_b`), a name that is empty or starts with a digit gets a leading
//!   `_`, and a leading run of underscores becomes one (`__name__` → `_name__`:
//!   names starting with `__` are Prometheus' own).
//!
//! Valid names are used as they are, without allocating. Label values are
//! never rewritten (every exporter escapes them). Two names that sanitise to the
//! same text are one family (or label); if that makes a label set repeat a
//! label, or use `le` on a histogram, the registration is refused and counted
//! (see [`Error::Rejected`](crate::Error::Rejected)).

use std::borrow::Cow;

use lakemetrics_core::labels::{is_valid_label_name, is_valid_metric_name};

/// `name` as a valid metric name (see the [module docs](self) for the rule).
///
/// ```
/// use lakemetrics_metrics::names::sanitize_metric_name;
/// assert_eq!(sanitize_metric_name("http_requests"), "http_requests");
/// assert_eq!(sanitize_metric_name("http.requests"), "http_requests");
/// assert_eq!(sanitize_metric_name("job:rate5m"), "job:rate5m");
/// assert_eq!(sanitize_metric_name("2xx"), "_2xx");
/// assert_eq!(sanitize_metric_name(""), "_");
/// ```
pub fn sanitize_metric_name(name: &str) -> Cow<'_, str> {
    if is_valid_metric_name(name) {
        return Cow::Borrowed(name);
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    Cow::Owned(rewrite(name, ok))
}

/// `name` as a valid label name (see the [module docs](self) for the rule).
///
/// ```
/// use lakemetrics_metrics::names::sanitize_label_name;
/// assert_eq!(sanitize_label_name("handler"), "handler");
/// assert_eq!(sanitize_label_name("http.method"), "http_method");
/// assert_eq!(sanitize_label_name("a:b"), "a_b");
/// assert_eq!(sanitize_label_name("__name__"), "_name__");
/// assert_eq!(sanitize_label_name("9lives"), "_9lives");
/// ```
pub fn sanitize_label_name(name: &str) -> Cow<'_, str> {
    if is_valid_label_name(name) {
        return Cow::Borrowed(name);
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = rewrite(name, ok);
    let underscores = out.len() - out.trim_start_matches('_').len();
    if underscores > 1 {
        out.replace_range(..underscores - 1, "");
    }
    Cow::Owned(out)
}

/// `name` with every character that is not `ok` replaced by `_`, and a `_` in
/// front if it is empty or starts with a digit.
fn rewrite(name: &str, ok: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if name.chars().next().is_none_or(|c| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(name.chars().map(|c| if ok(c) { c } else { '_' }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_output_is_valid() {
        let inputs = [
            "",
            "_",
            "__",
            "___",
            "9",
            "a b",
            "a-b",
            "é",
            "a\n",
            "a{b}",
            "a\"b",
            "le",
            "__a",
            "___a",
            "a.b.c",
            "🙂",
            "x\"} evil 1\n# EOF",
        ];
        for s in inputs {
            assert!(is_valid_metric_name(&sanitize_metric_name(s)), "{s:?}");
            assert!(is_valid_label_name(&sanitize_label_name(s)), "{s:?}");
        }
        assert_eq!(sanitize_label_name("___a"), "_a");
        assert_eq!(sanitize_label_name("__"), "_");
        assert_eq!(sanitize_metric_name("é"), "_");
        assert!(matches!(sanitize_metric_name("ok_name"), Cow::Borrowed(_)));
    }
}
