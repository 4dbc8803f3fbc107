//! The optional bearer token: parsing `Authorization` and comparing in constant
//! time.

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;

/// How a request's credentials compare with the configured token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The token matches.
    Allowed,
    /// No `Authorization` header, or one of a scheme we do not take.
    Missing,
    /// Credentials were given and are wrong (or malformed).
    Invalid,
}

/// Whether the request offers credentials at all: an `Authorization` header
/// other than a single one of a scheme we do not take. Such a request is a
/// token attempt; one without is not, and costs no attempt.
pub(crate) fn presented(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    match (values.next(), values.next()) {
        (None, _) => false,
        (Some(_), Some(_)) => true,
        // As `check` sees it: a value without a space is a malformed
        // credential; one with a scheme we do not take is none.
        (Some(v), None) => match v.as_bytes().iter().position(|&b| b == b' ') {
            None => true,
            Some(space) => {
                let scheme = &v.as_bytes()[..space];
                scheme.eq_ignore_ascii_case(b"bearer") || scheme.eq_ignore_ascii_case(b"basic")
            }
        },
    }
}

/// Checks `Authorization: Bearer <token>`, or `Basic` with the token as the
/// password (what a browser sends after its login prompt; the user name is
/// ignored).
pub(crate) fn check(headers: &HeaderMap, token: &[u8]) -> Verdict {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Verdict::Missing;
    };
    if values.next().is_some() {
        return Verdict::Invalid;
    }
    let value = value.as_bytes();
    let Some(space) = value.iter().position(|&b| b == b' ') else {
        return Verdict::Invalid;
    };
    let (scheme, rest) = (&value[..space], trim(&value[space + 1..]));
    let ok = if scheme.eq_ignore_ascii_case(b"bearer") {
        constant_time_eq(rest, token)
    } else if scheme.eq_ignore_ascii_case(b"basic") {
        match decode_base64(rest) {
            Some(pair) => {
                let password = match pair.iter().position(|&b| b == b':') {
                    Some(colon) => &pair[colon + 1..],
                    None => &[][..],
                };
                constant_time_eq(password, token)
            }
            None => false,
        }
    } else {
        return Verdict::Missing;
    };
    if ok {
        Verdict::Allowed
    } else {
        Verdict::Invalid
    }
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

/// Whether `given == expected`, in a time that depends only on `expected`'s
/// length (which the attacker cannot learn bytes of) and not on where the first
/// difference is: every byte is looked at, differences are OR-ed together, and
/// the result is only examined at the end.
pub(crate) fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != expected.len());
    for (i, &e) in expected.iter().enumerate() {
        // A shorter `given` compares its missing bytes against 0 and already
        // differs by length; the loop length stays `expected.len()`.
        let g = given.get(i).copied().unwrap_or(0);
        diff |= std::hint::black_box(g ^ e);
    }
    std::hint::black_box(diff) == 0
}

/// Standard base64 (RFC 4648, with padding optional); `None` when malformed.
fn decode_base64(input: &[u8]) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let trimmed = match input {
        [rest @ .., b'=', b'='] => rest,
        [rest @ .., b'='] => rest,
        _ => input,
    };
    if trimmed.len() % 4 == 1 || trimmed.len() > 16 * 1024 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() / 4 * 3 + 2);
    for chunk in trimmed.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = (acc << 6) | value(c)?;
        }
        match chunk.len() {
            4 => out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]),
            3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
            2 => out.push((acc >> 4) as u8),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(v: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in v {
            h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn constant_time_compare() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abd", b"abc"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"abcd", b"abc"));
        assert!(!constant_time_eq(b"", b"abc"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn base64() {
        assert_eq!(decode_base64(b"dTpzZWNyZXQ=").unwrap(), b"u:secret");
        assert_eq!(decode_base64(b"dTpzZWNyZXQ").unwrap(), b"u:secret");
        assert_eq!(decode_base64(b"YQ==").unwrap(), b"a");
        assert_eq!(decode_base64(b"YWI=").unwrap(), b"ab");
        assert_eq!(decode_base64(b"").unwrap(), b"");
        assert!(decode_base64(b"Y").is_none());
        assert!(decode_base64(b"!!!!").is_none());
    }

    #[test]
    fn verdicts() {
        let t = b"secret";
        assert_eq!(check(&headers(&[]), t), Verdict::Missing);
        assert_eq!(check(&headers(&["Bearer secret"]), t), Verdict::Allowed);
        assert_eq!(check(&headers(&["bearer  secret "]), t), Verdict::Allowed);
        assert_eq!(check(&headers(&["Bearer secreT"]), t), Verdict::Invalid);
        assert_eq!(check(&headers(&["Bearer"]), t), Verdict::Invalid);
        assert_eq!(check(&headers(&["Digest x"]), t), Verdict::Missing);
        assert_eq!(
            check(&headers(&["Bearer secret", "Bearer secret"]), t),
            Verdict::Invalid
        );
        // user "u", password "secret"
        assert_eq!(
            check(&headers(&["Basic dTpzZWNyZXQ="]), t),
            Verdict::Allowed
        );
        // user "secret", no password
        assert_eq!(check(&headers(&["Basic c2VjcmV0"]), t), Verdict::Invalid);
        assert_eq!(check(&headers(&["Basic %%%"]), t), Verdict::Invalid);
    }

    #[test]
    fn presented_is_what_check_does_not_call_missing() {
        for h in [
            &[][..],
            &["Bearer secret"],
            &["Bearer x"],
            &["Bearer"],
            &["Digest x"],
            &["Basic dTpzZWNyZXQ="],
            &["nospace"],
            &["Bearer a", "Bearer b"],
        ] {
            let h = headers(h);
            assert_eq!(
                presented(&h),
                check(&h, b"secret") != Verdict::Missing,
                "{h:?}"
            );
        }
    }
}
