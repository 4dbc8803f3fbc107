//! Content negotiation for `/metrics`: which text format (by `Accept`) and
//! whether to gzip (by `Accept-Encoding`).
//!
//! Both headers are parsed leniently, as scrapers send them: a malformed element
//! is skipped, never an error, and when nothing acceptable is offered the
//! endpoint falls back to Prometheus text 0.0.4 (as Prometheus' own client
//! libraries do) rather than answering 406.

use axum::http::header::{ACCEPT, ACCEPT_ENCODING};
use axum::http::HeaderMap;
use lakemetrics_export::Format;

/// One element of an `Accept` or `Accept-Encoding` list.
struct Element<'a> {
    value: &'a str,
    params: &'a str,
    q: f32,
}

/// Splits a comma-separated list of `value;param=x;q=0.5` elements, over every
/// occurrence of the header. Elements with a malformed `q` are dropped.
fn elements<'a>(headers: &'a HeaderMap, name: &axum::http::HeaderName) -> Vec<Element<'a>> {
    let mut out = Vec::new();
    for value in headers.get_all(name) {
        let Ok(value) = value.to_str() else { continue };
        for element in value.split(',') {
            let (value, params) = match element.split_once(';') {
                Some((v, p)) => (v.trim(), p),
                None => (element.trim(), ""),
            };
            if value.is_empty() {
                continue;
            }
            let mut q = 1.0;
            let mut ok = true;
            for p in params.split(';') {
                if let Some((k, v)) = p.split_once('=') {
                    if k.trim().eq_ignore_ascii_case("q") {
                        match v.trim().parse::<f32>() {
                            Ok(x) if (0.0..=1.0).contains(&x) => q = x,
                            _ => ok = false,
                        }
                    }
                }
            }
            if ok {
                out.push(Element { value, params, q });
            }
        }
    }
    out
}

/// The value of media-type parameter `name` (quotes removed), if present.
fn param<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"'))
    })
}

/// How specifically a media range matched a format: the most specific match
/// decides the format's quality (RFC 9110, 12.5.1).
fn specificity(format: Format, e: &Element<'_>) -> Option<u8> {
    let (ty, sub, version) = match format {
        Format::OpenMetrics => ("application", "openmetrics-text", "1.0.0"),
        Format::Prometheus => ("text", "plain", "0.0.4"),
        Format::Json => ("application", "json", ""),
    };
    let (t, s) = e.value.split_once('/')?;
    let (t, s) = (t.trim(), s.trim());
    if t == "*" && s == "*" {
        return Some(0);
    }
    if !t.eq_ignore_ascii_case(ty) {
        return None;
    }
    if s == "*" {
        return Some(1);
    }
    if !s.eq_ignore_ascii_case(sub) {
        return None;
    }
    match param(e.params, "version") {
        None => Some(2),
        Some(v) if v == version => Some(3),
        // Another version of the format (OpenMetrics 0.0.1, Prometheus text
        // 1.0.0): a range we do not serve.
        Some(_) => None,
    }
}

/// The text format `Accept` asks for: the one with the higher quality; on a tie
/// the more specifically named one; then Prometheus text 0.0.4, which is also
/// the answer when neither is acceptable.
pub(crate) fn text_format(headers: &HeaderMap) -> Format {
    let elements = elements(headers, &ACCEPT);
    let score = |format| {
        elements
            .iter()
            .filter_map(|e| specificity(format, e).map(|s| (s, e.q)))
            .max_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
            .map_or((0.0, 0), |(s, q)| (q, s))
    };
    let (om_q, om_s) = score(Format::OpenMetrics);
    let (prom_q, prom_s) = score(Format::Prometheus);
    if om_q > 0.0 && (om_q > prom_q || (om_q == prom_q && om_s > prom_s)) {
        Format::OpenMetrics
    } else {
        Format::Prometheus
    }
}

/// Whether `Accept-Encoding` takes gzip: `gzip` (or `x-gzip`) with a quality
/// above zero, or `*` above zero with gzip not refused by name.
pub(crate) fn wants_gzip(headers: &HeaderMap) -> bool {
    let mut star = None;
    let mut gzip = None;
    for e in elements(headers, &ACCEPT_ENCODING) {
        if e.value.eq_ignore_ascii_case("gzip") || e.value.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(gzip.map_or(e.q, |g: f32| g.max(e.q)));
        } else if e.value == "*" {
            star = Some(e.q);
        }
    }
    match gzip {
        Some(q) => q > 0.0,
        None => star.is_some_and(|q| q > 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(name: axum::http::HeaderName, v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(name, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn accept() {
        let om = Format::OpenMetrics;
        let prom = Format::Prometheus;
        let cases = [
            // Prometheus 2.x and 3.x, as they send it.
            ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", om),
            ("application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2", om),
            ("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2", om),
            // Prometheus configured for the classic format only.
            ("text/plain;version=0.0.4;q=1,*/*;q=0.1", prom),
            ("application/openmetrics-text;version=0.0.1", prom),
            ("application/openmetrics-text", om),
            ("application/openmetrics-text; version=\"1.0.0\"; charset=utf-8", om),
            ("APPLICATION/OpenMetrics-Text;Version=1.0.0", om),
            ("text/plain", prom),
            ("*/*", prom),
            ("", prom),
            ("application/json", prom),
            ("application/openmetrics-text;q=0, text/plain;q=0", prom),
            ("application/openmetrics-text;q=0.5, text/plain;q=0.5", prom),
            ("application/openmetrics-text;version=1.0.0;q=0.5, text/plain;q=0.5", om),
            ("application/*;q=0.9, text/plain;q=0.5", om),
            ("application/openmetrics-text;q=bogus, text/plain;q=0.5", prom),
            (",,;;,", prom),
        ];
        for (accept, want) in cases {
            assert_eq!(text_format(&h(ACCEPT, accept)), want, "{accept}");
        }
        assert_eq!(text_format(&HeaderMap::new()), prom);
    }

    #[test]
    fn gzip() {
        for (v, want) in [
            ("gzip", true),
            ("gzip, deflate, br", true),
            ("deflate", false),
            ("gzip;q=0", false),
            ("*", true),
            ("*;q=0", false),
            ("gzip;q=0, *", false),
            ("identity", false),
            ("x-gzip", true),
            ("GZIP;q=0.5", true),
        ] {
            assert_eq!(wants_gzip(&h(ACCEPT_ENCODING, v)), want, "{v}");
        }
        assert!(!wants_gzip(&HeaderMap::new()));
    }
}
