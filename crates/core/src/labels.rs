//! Validation of names and labels, per the Prometheus data model.

use crate::{Error, Result};

/// Whether `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
///
/// ```
/// use lakemetrics_core::labels::is_valid_metric_name;
/// assert!(is_valid_metric_name("ingest_bytes_total"));
/// assert!(is_valid_metric_name("job:rate5m"));
/// assert!(!is_valid_metric_name("2xx"));
/// assert!(!is_valid_metric_name("a-b"));
/// ```
pub fn is_valid_metric_name(name: &str) -> bool {
    let b = name.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' || *c == b':' => {}
        _ => return false,
    }
    b[1..]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

/// Whether `name` is a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with
/// `__` (reserved for Prometheus' internal labels).
///
/// ```
/// use lakemetrics_core::labels::is_valid_label_name;
/// assert!(is_valid_label_name("handler"));
/// assert!(!is_valid_label_name("__name__"));
/// assert!(!is_valid_label_name("a:b"));
/// ```
pub fn is_valid_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
        _ => return false,
    }
    !name.starts_with("__")
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Checks a metric name.
pub fn validate_metric_name(name: &str) -> Result<()> {
    if is_valid_metric_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidName { name: name.into() })
    }
}

/// Checks a label set: names, value lengths, duplicates and count.
pub fn validate_labels(
    labels: &[(&str, &str)],
    max_value_len: usize,
    max_labels: usize,
) -> Result<()> {
    if labels.len() > max_labels {
        return Err(Error::TooManyLabels {
            count: labels.len(),
            max: max_labels,
        });
    }
    for (i, (name, value)) in labels.iter().enumerate() {
        if !is_valid_label_name(name) {
            return Err(Error::InvalidLabelName {
                name: (*name).into(),
            });
        }
        if value.len() > max_value_len {
            return Err(Error::LabelValueTooLong {
                name: (*name).into(),
                len: value.len(),
                max: max_value_len,
            });
        }
        if labels[..i].iter().any(|(n, _)| n == name) {
            return Err(Error::DuplicateLabel {
                name: (*name).into(),
            });
        }
    }
    Ok(())
}

/// Checks a unit: `[a-zA-Z_][a-zA-Z0-9_]*` (it becomes part of OpenMetrics names).
pub fn validate_unit(unit: &str) -> Result<()> {
    if is_valid_label_name(unit) {
        Ok(())
    } else {
        Err(Error::InvalidConfig {
            what: "unit",
            reason: format!("{unit:?} must match [a-zA-Z_][a-zA-Z0-9_]*"),
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        for ok in ["a", "_", ":", "a_b:c9", "A"] {
            assert!(is_valid_metric_name(ok), "{ok}");
        }
        for bad in ["", "9", "a b", "a-b", "é", "a\n", "a{b}", "a\"b"] {
            assert!(!is_valid_metric_name(bad), "{bad}");
        }
    }

    #[test]
    fn label_names() {
        for ok in ["a", "_a", "a9", "_"] {
            assert!(is_valid_label_name(ok), "{ok}");
        }
        for bad in ["", "__a", "9a", "a:b", "a-b", "é", "a\"", "__"] {
            assert!(!is_valid_label_name(bad), "{bad}");
        }
    }

    #[test]
    fn label_sets() {
        assert!(validate_labels(&[("a", "1"), ("b", "\"\n\\")], 8, 4).is_ok());
        assert_eq!(
            validate_labels(&[("a", "1"), ("a", "2")], 8, 4),
            Err(Error::DuplicateLabel { name: "a".into() })
        );
        assert_eq!(
            validate_labels(&[("a", "123456789")], 8, 4),
            Err(Error::LabelValueTooLong {
                name: "a".into(),
                len: 9,
                max: 8
            })
        );
        assert_eq!(
            validate_labels(&[("a", ""), ("b", ""), ("c", "")], 8, 2),
            Err(Error::TooManyLabels { count: 3, max: 2 })
        );
    }
}
