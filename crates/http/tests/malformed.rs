//! Malformed requests and parameters: each gets its expected status and JSON
//! error code (and names the parameter at fault); none gets a 500, none makes
//! the server fall over.

mod common;

use common::{assert_error, get, manual_registry, request, send_raw};
use lakemetrics_http::HttpExporter;

/// (path, status, error code, parameter at fault)
const TABLE: &[(&str, u16, &str, Option<&str>)] = &[
    // /metrics
    (
        "/metrics?match[]=up",
        400,
        "unknown_parameter",
        Some("match[]"),
    ),
    ("/metrics?name[]=1bad", 400, "bad_parameter", Some("name[]")),
    ("/metrics?name[]=", 400, "bad_parameter", Some("name[]")),
    (
        "/metrics?name[]=a%20b",
        400,
        "bad_parameter",
        Some("name[]"),
    ),
    ("/metrics?format=json", 400, "bad_parameter", Some("format")),
    ("/metrics?format=", 400, "bad_parameter", Some("format")),
    (
        "/metrics?format=prometheus&format=openmetrics",
        400,
        "duplicate_parameter",
        Some("format"),
    ),
    (
        "/metrics?name[]=%zz",
        400,
        "malformed_query",
        Some("name[]"),
    ),
    ("/metrics?name[]=%4", 400, "malformed_query", Some("name[]")),
    (
        "/metrics?name[]=%c3%28",
        400,
        "malformed_query",
        Some("name[]"),
    ),
    ("/metrics?%ff=1", 400, "malformed_query", None),
    // /api/v1/series
    (
        "/api/v1/series?bogus=1",
        400,
        "unknown_parameter",
        Some("bogus"),
    ),
    (
        "/api/v1/series?kind=timer",
        400,
        "bad_parameter",
        Some("kind"),
    ),
    ("/api/v1/series?kind=", 400, "bad_parameter", Some("kind")),
    (
        "/api/v1/series?kind=counter&kind=gauge",
        400,
        "duplicate_parameter",
        Some("kind"),
    ),
    (
        "/api/v1/series?name=rows&prefix=r",
        400,
        "conflicting_parameters",
        Some("prefix"),
    ),
    (
        "/api/v1/series?prefix=bad-prefix",
        400,
        "bad_parameter",
        Some("prefix"),
    ),
    (
        "/api/v1/series?prefix=a&prefix=b",
        400,
        "duplicate_parameter",
        Some("prefix"),
    ),
    (
        "/api/v1/series?name=no%20spaces",
        400,
        "bad_parameter",
        Some("name"),
    ),
    (
        "/api/v1/series?label=handler",
        400,
        "bad_parameter",
        Some("label"),
    ),
    (
        "/api/v1/series?label=:csv",
        400,
        "bad_parameter",
        Some("label"),
    ),
    (
        "/api/v1/series?label=1x:csv",
        400,
        "bad_parameter",
        Some("label"),
    ),
    (
        "/api/v1/series?label!=x",
        400,
        "bad_parameter",
        Some("label!"),
    ),
    (
        "/api/v1/series?start=yesterday",
        400,
        "bad_parameter",
        Some("start"),
    ),
    (
        "/api/v1/series?start=-5",
        400,
        "bad_parameter",
        Some("start"),
    ),
    (
        "/api/v1/series?start=1e12",
        400,
        "bad_parameter",
        Some("start"),
    ),
    (
        "/api/v1/series?start=99999999999999999999",
        400,
        "bad_parameter",
        Some("start"),
    ),
    (
        "/api/v1/series?end=18446744073709551615",
        400,
        "bad_parameter",
        Some("end"),
    ),
    (
        "/api/v1/series?end=2023-02-30T00:00:00Z",
        400,
        "bad_parameter",
        Some("end"),
    ),
    (
        "/api/v1/series?end=2023-11-14T22:13:20",
        400,
        "bad_parameter",
        Some("end"),
    ),
    (
        "/api/v1/series?end=1969-12-31T23:59:59Z",
        400,
        "bad_parameter",
        Some("end"),
    ),
    (
        "/api/v1/series?start=1700000000002&end=1700000000001",
        400,
        "bad_range",
        Some("start"),
    ),
    (
        "/api/v1/series?start=now&end=-5m",
        400,
        "bad_range",
        Some("start"),
    ),
    // Seconds without a unit: not read as a date in January 1970.
    (
        "/api/v1/series?start=1796211043",
        400,
        "ambiguous_time",
        Some("start"),
    ),
    ("/api/v1/series?end=2", 400, "ambiguous_time", Some("end")),
    (
        "/api/v1/series?start=now-5",
        400,
        "bad_parameter",
        Some("start"),
    ),
    (
        "/api/v1/series?start=1796211043sec",
        400,
        "bad_parameter",
        Some("start"),
    ),
    (
        "/api/v1/series?start=1&start=2",
        400,
        "duplicate_parameter",
        Some("start"),
    ),
    (
        "/api/v1/series?include_idle=perhaps",
        400,
        "bad_parameter",
        Some("include_idle"),
    ),
    (
        "/api/v1/series?name=%",
        400,
        "malformed_query",
        Some("name"),
    ),
    // /api/v1/families takes no time range.
    (
        "/api/v1/families?start=1",
        400,
        "unknown_parameter",
        Some("start"),
    ),
    (
        "/api/v1/families?kind=histograms",
        400,
        "bad_parameter",
        Some("kind"),
    ),
    // Paths.
    ("/nothing", 404, "not_found", None),
    ("/metrics/", 404, "not_found", None),
    ("/api/v1/series/x", 404, "not_found", None),
    ("/%3Cscript%3E", 404, "not_found", None),
];

#[test]
fn malformed_parameters_get_a_json_400() {
    let (reg, _clock) = manual_registry();
    reg.counter("rows", &[("handler", "csv")]).unwrap().inc();
    let server = HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        .start()
        .unwrap();
    let addr = server.local_addr();
    for (path, status, code, parameter) in TABLE {
        let resp = get(addr, path, &[]);
        let v = assert_error(&resp, *status, code);
        assert_eq!(
            v["parameter"].as_str(),
            *parameter,
            "{path}: {}",
            resp.text()
        );
        assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
    }
    // An echoed path is JSON-escaped, and served as JSON, never as HTML.
    let resp = get(addr, "/%3Cscript%3Ealert(1)%3C/script%3E", &[]);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    server.shutdown();
}

#[test]
fn malformed_requests() {
    let (reg, _clock) = manual_registry();
    reg.counter("rows", &[]).unwrap().inc();
    let server = HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        // Requests that never finish their head are dropped after this.
        .header_read_timeout(std::time::Duration::from_secs(1))
        .start()
        .unwrap();
    let addr = server.local_addr();

    // Methods other than GET and HEAD: 405 with Allow.
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        for path in ["/metrics", "/api/v1/series", "/", "/healthz"] {
            let resp = request(addr, method, path, &[("Content-Length", "0")]);
            assert_error(&resp, 405, "method_not_allowed");
            assert_eq!(resp.header("allow"), Some("GET, HEAD"), "{method} {path}");
        }
    }

    // Broken HTTP: hyper answers 400 (no JSON: the request never reached us), or
    // closes the connection; never a 5xx, never a hang.
    let raw: &[&[u8]] = &[
        b"GARBAGE\r\n\r\n",
        b"GET /metrics HTTP/9.9\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET \x00\x01 HTTP/1.1\r\n\r\n",
        b"\r\n\r\n\r\n",
    ];
    for r in raw {
        match send_raw(addr, r) {
            Ok(resp) => assert!(
                (400..500).contains(&resp.status),
                "{:?}: {}",
                String::from_utf8_lossy(r),
                resp.status
            ),
            Err(e) => assert!(
                e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut,
                "{:?} hung: {e}",
                String::from_utf8_lossy(r)
            ),
        }
    }
    // Odd but valid: still served.
    let resp = send_raw(addr, b"GET /metrics?name%5B%5D=rows HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(resp.status, 200);
    let resp = send_raw(
        addr,
        b"GET /metrics HTTP/1.1\r\nHost: \xff\xfe\r\nAccept: \xff\xfe\r\nAccept-Encoding: \xff\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(resp.status, 200);
    // The server is fine after all that.
    assert_eq!(get(addr, "/healthz", &[]).text(), "ok\n");
    server.shutdown();
}
