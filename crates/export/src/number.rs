//! Number rendering: sample values, canonical `le`/`quantile` label values and
//! timestamps, each into a small stack buffer (no allocation).

use std::io::{self, Write};

/// Writes a sample value: the shortest decimal that reads back as the same `f64`
/// (ryu), or `NaN`, `+Inf`, `-Inf`, the spellings both text formats define.
///
/// Integral values keep a `.0` (`3.0`) and very large or small ones use an exponent
/// without a sign or padding (`1e20`, `1.5e-7`); Prometheus' Go parser, the
/// OpenMetrics ABNF (`realnumber`) and JSON all accept both.
#[inline]
pub(crate) fn write_f64<W: Write + ?Sized>(out: &mut W, v: f64) -> io::Result<()> {
    if v.is_finite() {
        let mut buf = ryu::Buffer::new();
        out.write_all(buf.format_finite(v).as_bytes())
    } else {
        out.write_all(non_finite(v).as_bytes())
    }
}

/// `NaN`, `+Inf` or `-Inf`.
#[inline]
pub(crate) fn non_finite(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "+Inf"
    } else {
        "-Inf"
    }
}

/// Writes an unsigned integer (counter totals, bucket counts).
#[inline]
pub(crate) fn write_u64<W: Write + ?Sized>(out: &mut W, v: u64) -> io::Result<()> {
    let mut buf = itoa::Buffer::new();
    out.write_all(buf.format(v).as_bytes())
}

/// Nanoseconds since the Unix epoch as seconds with an exact decimal fraction
/// (`1700000000.123456789`, `1700000000.5`, `1700000000.0`): an `f64` cannot hold
/// nanoseconds at today's epoch, so the digits are written, not a float. This is
/// the OpenMetrics `_created` value.
pub(crate) fn write_nanos_as_secs<W: Write + ?Sized>(out: &mut W, nanos: u64) -> io::Result<()> {
    write_u64(out, nanos / 1_000_000_000)?;
    write_fraction(out, nanos % 1_000_000_000, 9, true)
}

/// Writes `.` and `frac` as `digits` decimal digits with trailing zeros trimmed;
/// a zero fraction is written as `.0` when `keep_zero`, else not at all. (JSON
/// times, in milliseconds, are written by `json::put_millis`.)
fn write_fraction<W: Write + ?Sized>(
    out: &mut W,
    mut frac: u64,
    digits: usize,
    keep_zero: bool,
) -> io::Result<()> {
    if frac == 0 {
        return if keep_zero {
            out.write_all(b".0")
        } else {
            Ok(())
        };
    }
    let mut buf = [b'0'; 10];
    buf[0] = b'.';
    for i in (1..=digits).rev() {
        buf[i] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    let mut end = digits + 1;
    while buf[end - 1] == b'0' {
        end -= 1;
    }
    out.write_all(&buf[..end])
}

/// Most bytes [`Canonical`] renders: sign, 17 digits, point, `e-308`, with room.
const CANONICAL_MAX: usize = 32;

/// A float in the canonical form OpenMetrics asks for in `le` and `quantile` label
/// values: Go's shortest `%g` (`strconv.FormatFloat(v, 'g', -1, 64)`), with `.0`
/// appended when that has neither a point nor an exponent; `+Inf`, `-Inf`, `NaN`.
///
/// So `0.005`, `0.5`, `1.0`, `10.0`, `100000.0`, `1e+06`, `1e-05`, `0.0001`,
/// `1.5e-07`. Both text formats use it, so a bucket's `le` is the same string in
/// either (and equals what Prometheus 3 normalizes classic-histogram labels to).
#[derive(Clone, Copy)]
pub(crate) struct Canonical {
    buf: [u8; CANONICAL_MAX],
    len: u8,
}

impl Canonical {
    /// Renders `v`.
    pub(crate) fn new(v: f64) -> Canonical {
        let mut c = Canonical {
            buf: [0; CANONICAL_MAX],
            len: 0,
        };
        if !v.is_finite() {
            c.push(non_finite(v).as_bytes());
            return c;
        }
        if v == 0.0 {
            c.push(if v.is_sign_negative() {
                b"-0.0"
            } else {
                b"0.0"
            });
            return c;
        }
        // The shortest round-trip digits, as ryu finds them, then laid out as Go's
        // %g does: the digits d1..dn of 0.d1..dn x 10^dp.
        let mut ryu_buf = ryu::Buffer::new();
        let s = ryu_buf.format_finite(v).as_bytes();
        let (neg, s) = match s.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, s),
        };
        let (mantissa, exp10) = match s.iter().position(|&b| b == b'e') {
            Some(i) => (&s[..i], parse_exp(&s[i + 1..])),
            None => (s, 0),
        };
        let mut digits = [0u8; 24];
        let mut nd = 0usize;
        let mut int_len = 0i32;
        let mut seen_point = false;
        for &b in mantissa {
            if b == b'.' {
                seen_point = true;
            } else {
                if !seen_point {
                    int_len += 1;
                }
                if nd < digits.len() {
                    digits[nd] = b;
                    nd += 1;
                }
            }
        }
        let mut dp = int_len + exp10;
        let lead = digits[..nd].iter().take_while(|&&d| d == b'0').count();
        dp -= lead as i32;
        let digits = {
            let d = &digits[lead..nd];
            let trail = d.iter().rev().take_while(|&&x| x == b'0').count();
            &d[..d.len() - trail]
        };
        let nd = digits.len() as i32;
        if neg {
            c.push(b"-");
        }
        let exp = dp - 1;
        if !(-4..6).contains(&exp) {
            // %e: d1[.d2..dn]e±XX, at least two exponent digits.
            c.push(&digits[..1]);
            if nd > 1 {
                c.push(b".");
                c.push(&digits[1..]);
            }
            c.push(if exp < 0 { b"e-" } else { b"e+" });
            let e = exp.unsigned_abs();
            if e < 10 {
                c.push(b"0");
            }
            let mut ib = itoa::Buffer::new();
            c.push(ib.format(e).as_bytes());
        } else if dp <= 0 {
            // 0.000ddd
            c.push(b"0.");
            for _ in 0..-dp {
                c.push(b"0");
            }
            c.push(digits);
        } else if dp >= nd {
            // ddd000, then the `.0` OpenMetrics adds.
            c.push(digits);
            for _ in 0..dp - nd {
                c.push(b"0");
            }
            c.push(b".0");
        } else {
            c.push(&digits[..dp as usize]);
            c.push(b".");
            c.push(&digits[dp as usize..]);
        }
        c
    }

    fn push(&mut self, bytes: &[u8]) {
        let start = self.len as usize;
        let end = (start + bytes.len()).min(CANONICAL_MAX);
        self.buf[start..end].copy_from_slice(&bytes[..end - start]);
        self.len = end as u8;
    }

    /// The rendered bytes (ASCII).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    /// The rendered text.
    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

fn parse_exp(s: &[u8]) -> i32 {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    let mut e = 0i32;
    for &d in digits {
        e = e * 10 + i32::from(d - b'0');
    }
    if neg {
        -e
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(v: f64) -> String {
        Canonical::new(v).as_str().to_string()
    }

    #[test]
    fn canonical_matches_the_openmetrics_examples() {
        // The spec's lists ("Considerations: Canonical Numbers").
        for (v, s) in [
            (0.0, "0.0"),
            (0.001, "0.001"),
            (0.002, "0.002"),
            (0.01, "0.01"),
            (0.1, "0.1"),
            (0.9, "0.9"),
            (0.95, "0.95"),
            (0.99, "0.99"),
            (0.999, "0.999"),
            (1.0, "1.0"),
            (1.7, "1.7"),
            (10.0, "10.0"),
            (1e-10, "1e-10"),
            (1e-9, "1e-09"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (100000.0, "100000.0"),
            (1e6, "1e+06"),
            (1e10, "1e+10"),
        ] {
            assert_eq!(canon(v), s, "{v}");
        }
    }

    #[test]
    fn canonical_follows_go_g_format() {
        // What Go's strconv.FormatFloat(v, 'g', -1, 64) prints, plus `.0`.
        for (v, s) in [
            (0.005, "0.005"),
            (0.025, "0.025"),
            (2.5, "2.5"),
            (123456.7, "123456.7"),
            (1234567.0, "1.234567e+06"),
            (1.5e-7, "1.5e-07"),
            (0.00012, "0.00012"),
            (0.000012, "1.2e-05"),
            (1e100, "1e+100"),
            (-2.5, "-2.5"),
            (-1e6, "-1e+06"),
            (-0.0, "-0.0"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(canon(v), s, "{v}");
        }
    }

    #[test]
    fn canonical_reads_back_exactly() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if v.is_finite() {
                let s = canon(v);
                assert_eq!(s.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{s}");
            }
        }
    }

    #[test]
    fn times() {
        let mut out = Vec::new();
        write_nanos_as_secs(&mut out, 1_700_000_000_123_456_789).unwrap();
        out.push(b' ');
        write_nanos_as_secs(&mut out, 1_700_000_000_500_000_000).unwrap();
        out.push(b' ');
        write_nanos_as_secs(&mut out, 1_700_000_000_000_000_000).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1700000000.123456789 1700000000.5 1700000000.0"
        );
    }

    #[test]
    fn values() {
        let mut out = Vec::new();
        for v in [
            1.0,
            0.25,
            1e20,
            -1.5e-7,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            write_f64(&mut out, v).unwrap();
            out.push(b' ');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1.0 0.25 1e20 -1.5e-7 NaN +Inf -Inf "
        );
    }
}
