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
    write_escaped(out, s.as_bytes(), |b| match b {
        b'\\' => Some(b"\\\\"),
        b'"' => Some(b"\\\""),
        b'\n' => Some(b"\\n"),
        _ => None,
    })
}

/// Writes HELP text for Prometheus text 0.0.4: backslash and line feed escaped,
/// double quotes left as they are (0.0.4 defines no `\"` in HELP).
#[inline]
pub(crate) fn write_help_0_0_4<W: Write + ?Sized>(out: &mut W, s: &str) -> io::Result<()> {
    write_escaped(out, s.as_bytes(), |b| match b {
        b'\\' => Some(b"\\\\"),
        b'\n' => Some(b"\\n"),
        _ => None,
    })
}

#[inline(always)]
fn write_escaped<W: Write + ?Sized>(
    out: &mut W,
    bytes: &[u8],
    escape: impl Fn(u8) -> Option<&'static [u8; 2]>,
) -> io::Result<()> {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        // The escaped bytes are ASCII, so they never occur inside a multi-byte
        // UTF-8 sequence and the runs copied whole stay valid UTF-8.
        if let Some(rep) = escape(b) {
            out.write_all(&bytes[start..i])?;
            out.write_all(rep)?;
            start = i + 1;
        }
    }
    out.write_all(&bytes[start..])
}

/// Writes `s` as a JSON string, quotes included, escaping as `serde_json` does:
/// `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, and other control characters
/// (U+0000 to U+001F) as `\u00XX`.
pub(crate) fn write_json_string<W: Write + ?Sized>(out: &mut W, s: &str) -> io::Result<()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.write_all(b"\"")?;
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.write_all(&bytes[start..i])?;
        if short.is_empty() {
            out.write_all(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ])?;
        } else {
            out.write_all(short)?;
        }
        start = i + 1;
    }
    out.write_all(&bytes[start..])?;
    out.write_all(b"\"")
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
