//! Query parameters: a strict query-string parser and the translation of each
//! endpoint's parameters into a core [`Filter`], with a JSON 400 for anything
//! malformed, unknown, repeated where it may not be, or out of range.

use lakemetrics_core::labels::{is_valid_label_name, is_valid_metric_name};
use lakemetrics_core::{Filter, MetricKind, NameMatch};
use lakemetrics_export::Format;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::rejection::Rejection;
use crate::time::TimeError;

/// Most parameters one query string may carry.
pub const MAX_PARAMS: usize = 64;
/// Longest one decoded parameter name or value, in bytes.
pub const MAX_PARAM_BYTES: usize = 4096;

/// Decoded `key=value` pairs, in order.
pub(crate) type Pairs = Vec<(String, String)>;

/// Parses an `application/x-www-form-urlencoded` query string strictly: `%XX`
/// escapes must be complete hex, the decoded text must be UTF-8, and the number
/// and size of parameters are bounded. `+` is a space. A key without `=` has the
/// empty value; empty pieces (`a=1&&b=2`) are skipped.
pub(crate) fn parse(query: Option<&str>) -> Result<Pairs, Rejection> {
    let mut pairs = Vec::new();
    let Some(query) = query else {
        return Ok(pairs);
    };
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        if pairs.len() == MAX_PARAMS {
            return Err(Rejection::new(
                axum::http::StatusCode::BAD_REQUEST,
                "too_many_parameters",
                format!("a query may carry at most {MAX_PARAMS} parameters"),
            )
            .with("limit", MAX_PARAMS));
        }
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let key = decode(k, None)?;
        let value = decode(v, Some(&key))?;
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn decode(s: &str, key: Option<&str>) -> Result<String, Rejection> {
    let malformed = |what: &str| {
        let message = match key {
            Some(k) => format!("the value of '{k}' {what}"),
            None => format!("a parameter name {what}"),
        };
        let mut r = Rejection::new(
            axum::http::StatusCode::BAD_REQUEST,
            "malformed_query",
            message,
        );
        r.parameter = key.map(str::to_string);
        r
    };
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (
                    b.get(i + 1).and_then(|&c| hex(c)),
                    b.get(i + 2).and_then(|&c| hex(c)),
                ) {
                    (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                    _ => return Err(malformed("has a '%' not followed by two hex digits")),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    if out.len() > MAX_PARAM_BYTES {
        return Err(
            malformed(&format!("is longer than {MAX_PARAM_BYTES} bytes"))
                .with("limit", MAX_PARAM_BYTES),
        );
    }
    String::from_utf8(out).map_err(|_| malformed("is not UTF-8 once decoded"))
}

fn unknown(key: &str, known: &[&str]) -> Rejection {
    Rejection::parameter(
        "unknown_parameter",
        key,
        format!(
            "unknown parameter '{key}'; this endpoint takes {}",
            known.join(", ")
        ),
    )
}

fn once<'a>(slot: &mut Option<&'a str>, key: &str, value: &'a str) -> Result<(), Rejection> {
    if slot.replace(value).is_some() {
        return Err(Rejection::parameter(
            "duplicate_parameter",
            key,
            format!("parameter '{key}' may be given only once"),
        ));
    }
    Ok(())
}

fn metric_name(key: &str, value: &str) -> Result<String, Rejection> {
    if is_valid_metric_name(value) {
        Ok(value.to_string())
    } else {
        Err(Rejection::bad_value(
            key,
            format!("{value:?} is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"),
        ))
    }
}

fn names_match(names: Vec<String>) -> NameMatch {
    match names.len() {
        0 => NameMatch::Any,
        1 => NameMatch::Exact(names.into_iter().next().unwrap_or_default()),
        _ => NameMatch::AnyOf(names),
    }
}

/// `/metrics`: `name[]` (repeatable; `name` is the same) selects families by
/// exact name, `format` (`prometheus` or `openmetrics`) overrides negotiation.
pub(crate) fn scrape(pairs: &Pairs) -> Result<(Filter, Option<Format>), Rejection> {
    const KNOWN: &[&str] = &["name[]", "name", "format"];
    let mut names = Vec::new();
    let mut format = None;
    for (k, v) in pairs {
        match k.as_str() {
            "name[]" | "name" => names.push(metric_name(k, v)?),
            "format" => {
                once(&mut format, k, v)?;
            }
            _ => return Err(unknown(k, KNOWN)),
        }
    }
    let format = match format {
        None => None,
        Some("prometheus") => Some(Format::Prometheus),
        Some("openmetrics") => Some(Format::OpenMetrics),
        Some("protobuf") => Some(Format::Protobuf),
        Some(other) => {
            return Err(Rejection::bad_value(
                "format",
                format!(
                    "{other:?} is not a scrape format: use prometheus, openmetrics or protobuf"
                ),
            ))
        }
    };
    let mut filter = Filter::all();
    filter.name = names_match(names);
    Ok((filter, format))
}

/// `/api/v1/series` (with `range`) and `/api/v1/families` (without): see
/// `docs/http.md` for the parameters. Returns the filter, and for
/// `/api/v1/series` the `quantile_window` asked for, if any.
pub(crate) fn query(pairs: &Pairs, range: bool) -> Result<(Filter, Option<Duration>), Rejection> {
    const SERIES: &[&str] = &[
        "name",
        "name[]",
        "prefix",
        "kind",
        "label",
        "label!",
        "start",
        "end",
        "include_idle",
        "quantile_window",
    ];
    const FAMILIES: &[&str] = &[
        "name",
        "name[]",
        "prefix",
        "kind",
        "label",
        "label!",
        "include_idle",
    ];
    let known = if range { SERIES } else { FAMILIES };
    let mut filter = Filter::all();
    let mut names = Vec::new();
    let (mut prefix, mut kind, mut start, mut end, mut idle) = (None, None, None, None, None);
    let mut quantile_window = None;
    for (k, v) in pairs {
        match k.as_str() {
            "name" | "name[]" => names.push(metric_name(k, v)?),
            "prefix" => once(&mut prefix, k, v)?,
            "kind" => once(&mut kind, k, v)?,
            "label" | "label!" => {
                let (name, value) = v.split_once(':').ok_or_else(|| {
                    Rejection::bad_value(
                        k,
                        format!("{v:?} is not NAME:VALUE (for example handler:csv)"),
                    )
                })?;
                if !is_valid_label_name(name) {
                    return Err(Rejection::bad_value(
                        k,
                        format!("{name:?} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)"),
                    ));
                }
                filter = if k == "label" {
                    filter.label_eq(name, value)
                } else {
                    filter.label_ne(name, value)
                };
            }
            "start" if range => once(&mut start, k, v)?,
            "end" if range => once(&mut end, k, v)?,
            "quantile_window" if range => once(&mut quantile_window, k, v)?,
            "include_idle" => once(&mut idle, k, v)?,
            _ => return Err(unknown(k, known)),
        }
    }
    if let Some(p) = prefix {
        if !names.is_empty() {
            return Err(Rejection::parameter(
                "conflicting_parameters",
                "prefix",
                "give either name or prefix, not both",
            ));
        }
        if !p
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
        {
            return Err(Rejection::bad_value(
                "prefix",
                format!("{p:?} cannot start a metric name ([a-zA-Z0-9_:]*)"),
            ));
        }
        filter.name = NameMatch::Prefix(p.to_string());
    } else {
        filter.name = names_match(names);
    }
    if let Some(k) = kind {
        filter.kind = Some(match k {
            "counter" => MetricKind::Counter,
            "gauge" => MetricKind::Gauge,
            "histogram" => MetricKind::Histogram,
            "summary" => MetricKind::Summary,
            other => {
                return Err(Rejection::bad_value(
                    "kind",
                    format!("{other:?} is not one of counter, gauge, histogram, summary"),
                ))
            }
        });
    }
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    if let Some(s) = start {
        filter.range.start = Some(time("start", s, now_ns)?);
    }
    if let Some(e) = end {
        filter.range.end = Some(time("end", e, now_ns)?);
    }
    if let (Some(s), Some(e)) = (filter.range.start, filter.range.end) {
        if s > e {
            return Err(Rejection::parameter(
                "bad_range",
                "start",
                "start is after end",
            ));
        }
    }
    if let Some(i) = idle {
        filter.include_idle = match i {
            "true" | "1" | "" => true,
            "false" | "0" => false,
            other => {
                return Err(Rejection::bad_value(
                    "include_idle",
                    format!("{other:?} is not true or false"),
                ))
            }
        };
    }
    let quantile_window = quantile_window
        .map(|w| window("quantile_window", w))
        .transpose()?;
    Ok((filter, quantile_window))
}

/// The forms a window (`quantile_window`) takes, as error messages show them.
const WINDOW_FORMS: &str =
    "a positive duration with a unit: 30s, 5m, 1h30m, 1500ms, or ISO 8601 (PT30S)";

/// A window: a positive duration with a unit (`30s`, `5m`, `1h30m`,
/// `1500ms`, `PT30S`; parsed by `jiff`), at most what fits in `u64`
/// nanoseconds.
pub(crate) fn window(key: &str, s: &str) -> Result<Duration, Rejection> {
    let refuse = |why: String| Rejection::bad_value(key, why).with("accepted", WINDOW_FORMS);
    // jiff takes a sign of its own ("-5m", "5m ago"): a window has none.
    let d: Option<jiff::SignedDuration> = if s.starts_with(['-', '+']) {
        None
    } else {
        s.parse().ok()
    };
    let Some(d) = d.filter(|d| !d.is_negative()) else {
        return Err(refuse(format!(
            "{s:?} is not a duration: give {WINDOW_FORMS}"
        )));
    };
    match u64::try_from(d.as_nanos()) {
        Ok(0) => Err(refuse(format!("{s:?} is empty: give {WINDOW_FORMS}"))),
        Ok(ns) => Ok(Duration::from_nanos(ns)),
        Err(_) => Err(refuse(format!(
            "{s:?} is too long: a window is at most {} ns (about 584 years)",
            u64::MAX
        ))),
    }
}

/// `start` or `end`: see [`crate::time`]. Returns ns since the Unix epoch.
/// A bare number that is not plausibly milliseconds gets its own code,
/// `ambiguous_time`, so a client can tell it from a typo.
pub(crate) fn time(key: &str, s: &str, now_ns: u64) -> Result<u64, Rejection> {
    crate::time::parse(s, now_ns).map_err(|e| {
        let r = match e {
            TimeError::Ambiguous { .. } => {
                Rejection::parameter("ambiguous_time", key, e.to_string())
            }
            _ => Rejection::bad_value(key, e.to_string()),
        };
        r.with("accepted", crate::time::FORMS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings() {
        let p = parse(Some("a=1&&b=x+y%21&c&name%5B%5D=z")).unwrap();
        assert_eq!(
            p,
            [
                ("a".into(), "1".into()),
                ("b".into(), "x y!".into()),
                ("c".into(), "".into()),
                ("name[]".into(), "z".into())
            ]
        );
        assert!(parse(Some("a=%zz")).is_err());
        assert!(parse(Some("a=%4")).is_err());
        assert!(parse(Some("a=%ff")).is_err());
        assert!(parse(Some(&"a=1&".repeat(MAX_PARAMS + 1))).is_err());
        assert!(parse(Some(&format!("a={}", "x".repeat(MAX_PARAM_BYTES + 1)))).is_err());
        assert!(parse(None).unwrap().is_empty());
    }

    #[test]
    fn times_are_typed() {
        let r = time("start", "1796211043", 0).unwrap_err();
        assert_eq!(
            (r.code, r.parameter.as_deref()),
            ("ambiguous_time", Some("start"))
        );
        assert!(r.message.contains("1796211043s"), "{}", r.message);
        let r = time("end", "soon", 0).unwrap_err();
        assert_eq!(
            (r.code, r.parameter.as_deref()),
            ("bad_parameter", Some("end"))
        );
        assert_eq!(
            time("start", "now-1s", 5_000_000_000).unwrap(),
            4_000_000_000
        );
    }

    #[test]
    fn filters() {
        let pairs = |s| parse(Some(s)).unwrap();
        let (f, w) = query(
            &pairs("prefix=ingest_&kind=counter&label=handler:a:b&label!=x:"),
            true,
        )
        .unwrap();
        assert_eq!(w, None);
        assert_eq!(f.name, NameMatch::Prefix("ingest_".into()));
        assert_eq!(f.kind, Some(MetricKind::Counter));
        assert_eq!(f.labels.len(), 2);
        assert!(f.matches_labels([("handler", "a:b"), ("x", "y")].into_iter()));
        let (f, _) = query(&pairs("name=a&name=b"), true).unwrap();
        assert_eq!(f.name, NameMatch::AnyOf(vec!["a".into(), "b".into()]));
        for bad in [
            "kind=timer",
            "name=1x",
            "prefix=a-",
            "name=a&prefix=a",
            "label=handler",
            "label=1h:x",
            "start=x",
            "start=1700000000002ms&end=1700000000001ms",
            "start=1700000000",
            "kind=counter&kind=gauge",
            "bogus=1",
            "include_idle=maybe",
            "quantile_window=30",
            "quantile_window=0s",
            "quantile_window=-30s",
            "quantile_window=%2B30s",
            "quantile_window=soon",
            "quantile_window=1s&quantile_window=2s",
            "quantile_window=600000000y",
        ] {
            assert!(query(&pairs(bad), true).is_err(), "{bad}");
        }
        assert!(query(&pairs("start=1"), false).is_err());
        assert!(query(&pairs("quantile_window=30s"), false).is_err());
        for (text, want) in [
            ("30s", Duration::from_secs(30)),
            ("1h30m", Duration::from_secs(5400)),
            ("1500ms", Duration::from_millis(1500)),
            ("PT2M", Duration::from_secs(120)),
            ("2.5ms", Duration::from_micros(2500)),
            ("5000ms", Duration::from_secs(5)),
        ] {
            let q = format!("quantile_window={text}");
            let (_, w) = query(&parse(Some(&q)).unwrap(), true).unwrap();
            assert_eq!(w, Some(want), "{text}");
        }
        let r = window("quantile_window", "30").unwrap_err();
        assert_eq!(
            (r.code, r.parameter.as_deref()),
            ("bad_parameter", Some("quantile_window"))
        );
        assert!(r.message.contains("30s, 5m"), "{}", r.message);
        let (f, fmt) = scrape(&pairs("name[]=a&name[]=b&format=openmetrics")).unwrap();
        assert_eq!(f.name, NameMatch::AnyOf(vec!["a".into(), "b".into()]));
        assert_eq!(fmt, Some(Format::OpenMetrics));
        assert!(scrape(&pairs("format=json")).is_err());
        assert!(scrape(&pairs("match[]=up")).is_err());
    }
}
