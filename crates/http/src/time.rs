//! Times in query parameters (`start`, `end`): milliseconds since the Unix
//! epoch, an explicit unit (`1700000000s`, `1700000000000ms`), RFC 3339
//! (`2023-11-14T22:13:20Z`), or a time relative to now (`-5m`, `now-5m`, `now`).
//!
//! A bare number is read as milliseconds only where that is plausible: 0, or
//! from 1973 (10^11 ms) on. Anything smaller is far more likely seconds (the
//! Unix time people paste) read by mistake as a date in January 1970, which
//! would select all history without a word; it is refused, and the error says
//! what to write instead. RFC 3339 and durations are parsed by `jiff`.

use std::fmt;

use jiff::{SignedDuration, Timestamp};

/// The accepted forms, as error messages show them.
pub(crate) const FORMS: &str = "milliseconds since the Unix epoch (1700000000000), \
     seconds or milliseconds with a unit (1700000000s, 1700000000000ms), \
     RFC 3339 (2023-11-14T22:13:20Z), or a time relative to now (-5m, now-1h30m, now)";

/// The smallest bare number, other than 0, read as milliseconds:
/// 1973-03-03T09:46:40Z. Seconds since the epoch stay below it until the year 5138.
pub(crate) const MIN_BARE_MILLIS: u64 = 100_000_000_000;

/// Why a time was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TimeError {
    /// A bare number that is not plausibly milliseconds since the epoch.
    Ambiguous { value: String },
    /// Not any of the accepted forms.
    Malformed { value: String },
    /// One of the forms, but before 1970 or past what fits in `u64`
    /// nanoseconds (2554-07-21T23:34:33Z).
    OutOfRange { value: String },
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeError::Ambiguous { value } => {
                let n: u64 = value
                    .split('.')
                    .next()
                    .and_then(|i| i.parse().ok())
                    .unwrap_or(0);
                write!(
                    f,
                    "{value:?} is ambiguous: as milliseconds it is {}, \
                     as seconds {}; give the unit ({value}s or {value}ms) or another \
                     form: {FORMS}",
                    rfc3339(n.saturating_mul(1_000_000)),
                    n.checked_mul(1_000_000_000)
                        .map_or_else(|| "past 2554".to_string(), rfc3339),
                )
            }
            TimeError::Malformed { value } => write!(f, "{value:?} is not a time: give {FORMS}"),
            TimeError::OutOfRange { value } => write!(
                f,
                "{value:?} is out of range: times run from 1970-01-01T00:00:00Z \
                 to 2554-07-21T23:34:33Z; give {FORMS}"
            ),
        }
    }
}

impl std::error::Error for TimeError {}

/// Parses `s` into nanoseconds since the Unix epoch; relative times count from
/// `now_ns`.
pub(crate) fn parse(s: &str, now_ns: u64) -> Result<u64, TimeError> {
    let malformed = || TimeError::Malformed {
        value: s.to_string(),
    };
    let out_of_range = || TimeError::OutOfRange {
        value: s.to_string(),
    };
    if let Some(rest) = s.strip_prefix("now") {
        if rest.is_empty() {
            return Ok(now_ns);
        }
        let (sign, span) = match rest.as_bytes()[0] {
            b'-' => (-1, &rest[1..]),
            b'+' => (1, &rest[1..]),
            _ => return Err(malformed()),
        };
        return relative(now_ns, sign, span).ok_or_else(malformed)?;
    }
    if let Some(span) = s.strip_prefix('-') {
        return relative(now_ns, -1, span).ok_or_else(malformed)?;
    }
    if s.bytes().next().is_some_and(|c| c.is_ascii_digit()) {
        let digits = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, unit) = s.split_at(digits);
        match unit {
            "" => {
                let ns = scaled(number, 6).ok_or_else(malformed)?;
                let ns = ns.ok_or_else(out_of_range)?;
                if ns != 0 && ns < u128::from(MIN_BARE_MILLIS) * 1_000_000 {
                    return Err(TimeError::Ambiguous {
                        value: s.to_string(),
                    });
                }
                return u64::try_from(ns).map_err(|_| out_of_range());
            }
            "ms" => {
                let ns = scaled(number, 6).ok_or_else(malformed)?;
                return ns
                    .and_then(|ns| u64::try_from(ns).ok())
                    .ok_or_else(out_of_range);
            }
            "s" => {
                let ns = scaled(number, 9).ok_or_else(malformed)?;
                return ns
                    .and_then(|ns| u64::try_from(ns).ok())
                    .ok_or_else(out_of_range);
            }
            // Not a number with a unit: perhaps a date (2023-11-14T...).
            _ if unit.starts_with(['-', ':']) => {}
            _ => return Err(malformed()),
        }
    }
    let t: Timestamp = s.parse().map_err(|_| malformed())?;
    u64::try_from(t.as_nanosecond()).map_err(|_| out_of_range())
}

/// `number` (digits, optionally a `.` and at most `decimals` more) scaled by
/// 10^`decimals`: `None` if malformed, `Some(None)` if too large.
fn scaled(number: &str, decimals: u32) -> Option<Option<u128>> {
    let (int, frac) = match number.split_once('.') {
        Some((i, f)) if !f.is_empty() => (i, f),
        Some(_) => return None,
        None => (number, ""),
    };
    if int.is_empty()
        || frac.len() > decimals as usize
        || !int.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    if int.len() > 30 {
        return Some(None);
    }
    let int: u128 = int.parse().ok()?;
    let mut sub: u128 = 0;
    for (i, c) in frac.bytes().enumerate() {
        sub += u128::from(c - b'0') * 10u128.pow(decimals - 1 - i as u32);
    }
    // The unit's scale to nanoseconds: ms (6 decimals) by 10^6, s (9) by 10^9.
    Some(
        int.checked_mul(10u128.pow(decimals))
            .and_then(|n| n.checked_add(sub)),
    )
}

/// `now_ns` plus `sign` times the duration `span` (`5m`, `1h30m`, `90s`,
/// `2 hours`, `PT5M`): `None` if `span` is not a non-negative duration.
fn relative(now_ns: u64, sign: i128, span: &str) -> Option<Result<u64, TimeError>> {
    // jiff takes a sign of its own ("-5m", "5m ago"); one sign is enough.
    if span.starts_with(['-', '+']) {
        return None;
    }
    let d: SignedDuration = span.parse().ok()?;
    if d.is_negative() {
        return None;
    }
    let ns = i128::from(now_ns) + sign * d.as_nanos();
    Some(u64::try_from(ns).map_err(|_| TimeError::OutOfRange {
        value: format!("{}{span}", if sign < 0 { "-" } else { "+" }),
    }))
}

/// `ns` since the Unix epoch in RFC 3339, UTC.
fn rfc3339(ns: u64) -> String {
    Timestamp::from_nanosecond(i128::from(ns)).map_or_else(|_| ns.to_string(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_796_211_043_000_000_000;

    fn t(s: &str) -> Result<u64, TimeError> {
        parse(s, NOW)
    }

    #[test]
    fn milliseconds_and_units() {
        assert_eq!(t("1700000000000"), Ok(1_700_000_000_000_000_000));
        assert_eq!(t("1700000000000.25"), Ok(1_700_000_000_000_250_000));
        assert_eq!(t("0"), Ok(0));
        assert_eq!(t("100000000000"), Ok(100_000_000_000_000_000));
        assert_eq!(t("1796211043s"), Ok(NOW));
        assert_eq!(t("1796211043.5s"), Ok(NOW + 500_000_000));
        assert_eq!(t("1796211043000ms"), Ok(NOW));
        assert_eq!(t("5ms"), Ok(5_000_000));
        assert_eq!(t("0s"), Ok(0));
    }

    #[test]
    fn seconds_without_a_unit_are_refused_with_the_forms() {
        let e = t("1796211043").unwrap_err();
        assert!(matches!(e, TimeError::Ambiguous { .. }), "{e:?}");
        let msg = e.to_string();
        for want in [
            "1970-01-21T",
            "2026-12-02T11:30:43Z",
            "1796211043s",
            "1796211043ms",
            "RFC 3339",
            "now-1h30m",
        ] {
            assert!(msg.contains(want), "{want} missing from {msg}");
        }
        for bad in ["1", "2", "99999999999", "1700000000.5"] {
            assert!(
                matches!(t(bad), Err(TimeError::Ambiguous { .. })),
                "{bad}: {:?}",
                t(bad)
            );
        }
    }

    #[test]
    fn rfc3339_via_jiff() {
        assert_eq!(t("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000_000_000));
        assert_eq!(t("2023-11-14t22:13:20z"), Ok(1_700_000_000_000_000_000));
        assert_eq!(t("2023-11-14 22:13:20Z"), Ok(1_700_000_000_000_000_000));
        assert_eq!(
            t("2023-11-14T23:13:20.5+01:00"),
            Ok(1_700_000_000_500_000_000)
        );
        assert_eq!(t("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(t("2024-02-29T00:00:00Z"), Ok(1_709_164_800_000_000_000));
        assert!(matches!(
            t("1969-12-31T23:59:59Z"),
            Err(TimeError::OutOfRange { .. })
        ));
    }

    #[test]
    fn relative_to_now() {
        assert_eq!(t("now"), Ok(NOW));
        assert_eq!(t("-5m"), Ok(NOW - 300_000_000_000));
        assert_eq!(t("now-5m"), Ok(NOW - 300_000_000_000));
        assert_eq!(t("now-1h30m"), Ok(NOW - 5_400_000_000_000));
        assert_eq!(t("now+10s"), Ok(NOW + 10_000_000_000));
        assert_eq!(t("-90s"), Ok(NOW - 90_000_000_000));
        assert_eq!(t("-2 hours"), Ok(NOW - 7_200_000_000_000));
        assert_eq!(t("-PT5M"), Ok(NOW - 300_000_000_000));
        assert!(matches!(parse("-5m", 1), Err(TimeError::OutOfRange { .. })));
    }

    #[test]
    fn malformed() {
        for bad in [
            "",
            "-1",
            "-5",
            "--5m",
            "now-",
            "now5m",
            "now--5m",
            "now-5m ago",
            "1e3",
            "1.",
            ".5",
            "abc",
            "yesterday",
            "5m",
            "1700000000000.1234567",
            "1700000000s5",
            "1700000000 s",
            "2023-02-29T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-11-14T24:00:00Z",
            "2023-11-14T22:13:20",
            "2023-11-14T22:13:20.Z",
            "2023-11-14",
            "２023-11-14T22:13:20Z",
        ] {
            assert!(
                matches!(t(bad), Err(TimeError::Malformed { .. })),
                "{bad}: {:?}",
                t(bad)
            );
        }
        for big in [
            "99999999999999999999",
            "18446744073709551615",
            "18446744073710s",
            "99999999999999999999999999999999999999999999s",
        ] {
            assert!(
                matches!(t(big), Err(TimeError::OutOfRange { .. })),
                "{big}: {:?}",
                t(big)
            );
        }
    }
}
