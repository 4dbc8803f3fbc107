//! Content negotiation for `/metrics`: which format (by `Accept`: Prometheus
//! text 0.0.4, OpenMetrics 1.0.0 or the protobuf exposition) and whether to
//! gzip (by `Accept-Encoding`).
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
    let (ty, sub) = match format {
        Format::OpenMetrics => ("application", "openmetrics-text"),
        Format::Prometheus => ("text", "plain"),
        Format::Json => ("application", "json"),
        Format::Protobuf => ("application", "vnd.google.protobuf"),
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
    match format {
        Format::Protobuf => {
            // Protobuf of another message, or another encoding (`text`,
            // `compact-text`): a range we do not serve.
            let proto = param(e.params, "proto");
            let encoding = param(e.params, "encoding");
            if proto.is_some_and(|p| p != "io.prometheus.client.MetricFamily")
                || encoding.is_some_and(|v| !v.eq_ignore_ascii_case("delimited"))
            {
                return None;
            }
            Some(if proto.is_some() && encoding.is_some() {
                3
            } else {
                2
            })
        }
        _ => {
            let version = match format {
                Format::OpenMetrics => "1.0.0",
                Format::Prometheus => "0.0.4",
                _ => "",
            };
            match param(e.params, "version") {
                None => Some(2),
                Some(v) if v == version => Some(3),
                // Another version of the format (OpenMetrics 0.0.1, Prometheus
                // text 1.0.0): a range we do not serve.
                Some(_) => None,
            }
        }
    }
}

/// The format `Accept` asks for: the one with the highest quality; on a tie
/// the more specifically named one; on a tie again the first of Prometheus
/// text 0.0.4, OpenMetrics, protobuf (text before binary, so that `*/*` and
/// `application/*` get text). Prometheus text 0.0.4 is also the answer when
/// none is acceptable.
pub(crate) fn format(headers: &HeaderMap) -> Format {
    let elements = elements(headers, &ACCEPT);
    let score = |format| {
        elements
            .iter()
            .filter_map(|e| specificity(format, e).map(|s| (s, e.q)))
            .max_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
            .map_or((0.0, 0), |(s, q)| (q, s))
    };
    let mut best = (Format::Prometheus, score(Format::Prometheus));
    for format in [Format::OpenMetrics, Format::Protobuf] {
        let (q, s) = score(format);
        let (best_q, best_s) = best.1;
        if q > 0.0 && (q > best_q || (q == best_q && s > best_s)) {
            best = (format, (q, s));
        }
    }
    best.0
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
        let pb = Format::Protobuf;
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
            // Prometheus 2.42+ with native histograms enabled (the 2.x and 3.x
            // spellings), and a Go client asking for protobuf alone.
            ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.1", pb),
            ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.8,application/openmetrics-text;version=1.0.0;q=0.7,application/openmetrics-text;version=0.0.1;q=0.6,text/plain;version=0.0.4;q=0.5,*/*;q=0.4", pb),
            ("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited", pb),
            ("application/vnd.google.protobuf", pb),
            ("APPLICATION/VND.GOOGLE.PROTOBUF;PROTO=io.prometheus.client.MetricFamily;ENCODING=DELIMITED", pb),
            // q-values decide, whichever comes first.
            ("text/plain;version=0.0.4;q=0.3,application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7", pb),
            ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.2,text/plain;version=0.0.4;q=0.3", prom),
            ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;q=0.6", om),
            ("application/vnd.google.protobuf;q=0, text/plain;q=0.1", prom),
            // Equal quality: the more specific range wins, then text.
            ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,application/openmetrics-text;q=0.5", pb),
            ("application/vnd.google.protobuf;q=0.5,application/openmetrics-text;version=1.0.0;q=0.5", om),
            ("application/vnd.google.protobuf;q=0.5,text/plain;q=0.5", prom),
            // Other protobuf messages or encodings are not ours to serve.
            ("application/vnd.google.protobuf;proto=io.prometheus.client.Other;encoding=delimited", prom),
            ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text", prom),
            ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=compact-text;q=0.9,text/plain;q=0.1", prom),
        ];
        for (accept, want) in cases {
            assert_eq!(format(&h(ACCEPT, accept)), want, "{accept}");
        }
        assert_eq!(format(&HeaderMap::new()), prom);
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
