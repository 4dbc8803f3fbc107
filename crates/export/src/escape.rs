//! String escaping, exactly as each format specifies it.
//!
//! | where                        | `\`    | `"`    | line feed | other control chars |
//! |------------------------------|--------|--------|-----------|---------------------|
//! | label value (both text)      | `\\`   | `\"`   | `\n`      | as is               |
//! | HELP, Prometheus text 0.0.4  | `\\`   | as is  | `\n`      | as is               |
//! | HELP, OpenMetrics 1.0        | `\\`   | `\"`   | `\n`      | as is               |
//! | JSON string                  | `\\`   | `\"`   | `\n`      | `\r` `\t` `\b` `\f`, else `\u00XX` |
//!
//! Everything else, including carriage returns in the text formats and any Unicode,
//! is written unchanged: the specs allow it and the parsers read it back as is.
//! Each function scans for the few bytes that need escaping and copies the runs
//! between them whole, so plain strings cost one `write_all`.

use std::io::{self, Write};

/// Writes `s` with backslash, double quote and line feed escaped: a label value in
/// both text formats, and HELP text in OpenMetrics.
#[inline]
pub(crate) fn write_quoted_escaped<W: Write + ?Sized>(out: &mut W, s: &str) -> io::Result<()> {
    write_escaped::<W, true>(out, s.as_bytes())
}

/// Writes HELP text for Prometheus text 0.0.4: backslash and line feed escaped,
/// double quotes left as they are (0.0.4 defines no `\"` in HELP).
#[inline]
pub(crate) fn write_help_0_0_4<W: Write + ?Sized>(out: &mut W, s: &str) -> io::Result<()> {
    write_escaped::<W, false>(out, s.as_bytes())
}

#[inline(always)]
fn write_escaped<W: Write + ?Sized, const QUOTES: bool>(
    out: &mut W,
    bytes: &[u8],
) -> io::Result<()> {
    let mut start = 0;
    // The escaped bytes are ASCII, so they never occur inside a multi-byte UTF-8
    // sequence and the runs copied whole stay valid UTF-8.
    while let Some(i) = find_special::<QUOTES>(&bytes[start..]) {
        let at = start + i;
        out.write_all(&bytes[start..at])?;
        out.write_all(match bytes[at] {
            b'\\' => b"\\\\",
            b'"' => b"\\\"",
            _ => b"\\n",
        })?;
        start = at + 1;
    }
    out.write_all(&bytes[start..])
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `w` equal to `b`. Exact for the lowest such byte
/// (a borrow can only flag bytes above a real match), which is all we use.
#[inline(always)]
fn bytes_equal(w: u64, b: u8) -> u64 {
    let x = w ^ (LO * u64::from(b));
    x.wrapping_sub(LO) & !x & HI
}

/// High bit set in each byte of `w` below 0x20 (exact for the lowest such byte).
#[inline(always)]
fn bytes_control(w: u64) -> u64 {
    w.wrapping_sub(LO * 0x20) & !w & HI
}

/// Index of the first byte in `bytes` that `special` flags, eight bytes at a time
/// with `word` flagging a whole word (the lowest flagged byte must be exact):
/// label values and strings are scanned for every series of every export.
#[inline(always)]
fn find_first(
    bytes: &[u8],
    word: impl Fn(u64) -> u64,
    special: impl Fn(u8) -> bool,
) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let w = u64::from_le_bytes([
            chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
        ]);
        let m = word(w);
        if m != 0 {
            return Some(base + (m.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| special(b))
        .map(|i| base + i)
}

/// Index of the first `\\`, line feed or (if `QUOTES`) `"` in `bytes`.
#[inline(always)]
fn find_special<const QUOTES: bool>(bytes: &[u8]) -> Option<usize> {
    find_first(
        bytes,
        |w| {
            let m = bytes_equal(w, b'\\') | bytes_equal(w, b'\n');
            if QUOTES {
                m | bytes_equal(w, b'"')
            } else {
                m
            }
        },
        |b| b == b'\\' || b == b'\n' || (QUOTES && b == b'"'),
    )
}

/// Index of the first byte JSON must escape: `"`, `\\` or a control character.
#[inline(always)]
fn find_json_special(bytes: &[u8]) -> Option<usize> {
    find_first(
        bytes,
        |w| bytes_equal(w, b'"') | bytes_equal(w, b'\\') | bytes_control(w),
        |b| b == b'"' || b == b'\\' || b < 0x20,
    )
}

/// Writes `s` as a JSON string, quotes included, escaping as `serde_json` does:
/// `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, and other control characters
/// (U+0000 to U+001F) as `\u00XX`.
pub(crate) fn write_json_string<W: Write + ?Sized>(out: &mut W, s: &str) -> io::Result<()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.write_all(b"\"")?;
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(i) = find_json_special(&bytes[start..]) {
        let at = start + i;
        out.write_all(&bytes[start..at])?;
        let b = bytes[at];
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            _ => b"",
        };
        if short.is_empty() {
            out.write_all(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ])?;
        } else {
            out.write_all(short)?;
        }
        start = at + 1;
    }
    out.write_all(&bytes[start..])?;
    out.write_all(b"\"")
}

/// Appends `s` as a JSON string, as [`write_json_string`] writes it, with a
/// fast path for the short strings labels mostly are: a string of 1 to 8
/// bytes is gathered into one word (two overlapping loads), checked for bytes
/// to escape in one go, and appended as one 8-byte copy cut to length.
#[inline]
pub(crate) fn put_json_string(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    let n = b.len();
    // The string's bytes in order in the low `n` bytes, zeros above.
    let word = match (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        (Some(lo), Some(hi)) if n <= 8 => {
            u64::from(u32::from_le_bytes(*lo)) | u64::from(u32::from_le_bytes(*hi)) << (8 * (n - 4))
        }
        _ => match (b.first_chunk::<2>(), b.last_chunk::<2>()) {
            (Some(lo), Some(hi)) if n <= 4 => {
                u64::from(u16::from_le_bytes(*lo))
                    | u64::from(u16::from_le_bytes(*hi)) << (8 * (n - 2))
            }
            _ if n == 1 => u64::from(b[0]),
            // Empty or longer than 8 bytes: the general path.
            _ => {
                // Writing into a Vec cannot fail.
                let _ = write_json_string(out, s);
                return;
            }
        },
    };
    // Spaces above the string (zeros would read as control characters).
    let w = word
        | 0x2020_2020_2020_2020u64
            .checked_shl(8 * n as u32)
            .unwrap_or(0);
    if bytes_equal(w, b'"') | bytes_equal(w, b'\\') | bytes_control(w) != 0 {
        let _ = write_json_string(out, s);
        return;
    }
    let at = out.len();
    out.push(b'"');
    out.extend_from_slice(&word.to_le_bytes());
    out.truncate(at + 1 + n);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: impl Fn(&mut Vec<u8>, &str) -> io::Result<()>, s: &str) -> String {
        let mut out = Vec::new();
        f(&mut out, s).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn label_values() {
        let f = |o: &mut Vec<u8>, s: &str| write_quoted_escaped(o, s);
        assert_eq!(run(f, "plain"), "plain");
        assert_eq!(run(f, ""), "");
        assert_eq!(run(f, r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(run(f, "line\nnext\r\t"), "line\\nnext\r\t");
        assert_eq!(run(f, "λ \u{1F600}\\"), "λ \u{1F600}\\\\");
    }

    #[test]
    fn help_0_0_4_keeps_quotes() {
        let f = |o: &mut Vec<u8>, s: &str| write_help_0_0_4(o, s);
        assert_eq!(run(f, r#"say "hi" \ bye"#), r#"say "hi" \\ bye"#);
        assert_eq!(run(f, "a\nb"), "a\\nb");
    }

    #[test]
    fn every_position_and_byte() {
        // The word-at-a-time scan must find every special byte wherever it sits.
        for len in 0..20 {
            for pos in 0..len {
                for special in [b'\\', b'"', b'\n', 0x00, 0x1f, b'a', 0x7f, 0xff] {
                    let mut v = vec![b'x'; len];
                    v[pos] = special;
                    let want = |q: bool| {
                        let s = |b: u8| b == b'\\' || b == b'\n' || (q && b == b'"');
                        v.iter().position(|&b| s(b))
                    };
                    assert_eq!(find_special::<true>(&v), want(true), "{v:?}");
                    assert_eq!(find_special::<false>(&v), want(false), "{v:?}");
                    let json = v.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
                    assert_eq!(find_json_special(&v), json, "{v:?}");
                }
            }
        }
        // Bytes >= 0x80 next to specials (borrows across bytes).
        let v = [0x80, 0x00, 0x81, b'\n', 0xff, 0x20, 0x21, b'"', 0x5c];
        assert_eq!(find_special::<true>(&v), Some(3));
        assert_eq!(find_json_special(&v), Some(1));
        assert_eq!(find_json_special(&v[2..]), Some(1));
    }

    #[test]
    fn short_json_strings() {
        // Every length around the fast path's, with a byte to escape (or not)
        // at every position.
        for len in 0..12 {
            for pos in 0..len.max(1) {
                for special in [b'x', b'"', b'\\', b'\n', 0x00, 0x1f, 0x20, 0x7f] {
                    let mut v = vec![b'a'; len];
                    if let Some(b) = v.get_mut(pos) {
                        *b = special;
                    }
                    let s = std::str::from_utf8(&v).unwrap();
                    let mut out = b"pre".to_vec();
                    put_json_string(&mut out, s);
                    assert_eq!(
                        out,
                        format!("pre{}", serde_json::to_string(s).unwrap()).as_bytes()
                    );
                }
            }
        }
        let mut out = Vec::new();
        put_json_string(&mut out, "λ\u{1F600}");
        assert_eq!(out, "\"λ\u{1F600}\"".as_bytes());
    }

    #[test]
    fn json_matches_serde_json() {
        let mut all = String::new();
        for c in (0u32..0x80).filter_map(char::from_u32) {
            all.push(c);
        }
        all.push_str("λ\u{2028}\u{1F600}");
        for s in [all.as_str(), "", "plain", "\"\\\n"] {
            let f = |o: &mut Vec<u8>, s: &str| write_json_string(o, s);
            assert_eq!(run(f, s), serde_json::to_string(s).unwrap());
        }
    }
}
