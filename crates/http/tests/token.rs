//! The bearer token: every endpoint refuses a missing or wrong token with 401
//! and a JSON error, and serves the right one; Basic credentials with the token
//! as password work too (for browsers); `/healthz` is open unless configured
//! otherwise.

mod common;

use common::{assert_error, get, manual_registry, serve};
use lakemetrics_http::{Config, HttpExporter};

const TOKEN: &str = "s3cr3t-T0ken_~+/=";
const PATHS: &[&str] = &[
    "/",
    "/static/dashboard.js",
    "/static/dashboard.css",
    "/static/uPlot.iife.min.js",
    "/static/uPlot.min.css",
    "/metrics",
    "/api/v1/series",
    "/api/v1/families",
    "/no/such/path",
];

fn base64(s: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn token_missing_wrong_right() {
    let (reg, _clock) = manual_registry();
    reg.counter("rows", &[]).unwrap().inc_by(3);
    // This test makes about 60 wrong attempts on purpose, each on a new
    // connection: allow them all (the shared limit has its own test, in
    // `attacks.rs`).
    let server = HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        .config(
            Config::builder()
                .token_attempts(1000, 1000)
                .build()
                .unwrap(),
        )
        .token(TOKEN)
        .start()
        .unwrap();
    let addr = server.local_addr();
    let bearer = format!("Bearer {TOKEN}");
    let basic = format!("Basic {}", base64(&format!("anyone:{TOKEN}")));
    let wrong_basic = format!("Basic {}", base64(&format!("{TOKEN}:")));
    let almost = format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]);
    let longer = format!("Bearer {TOKEN}x");

    for path in PATHS {
        // Missing.
        let resp = get(addr, path, &[]);
        assert_error(&resp, 401, "unauthorized");
        // Refusals carry the headers every response does.
        assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(resp.header("cache-control"), Some("no-store"));
        let challenge = resp.header("www-authenticate").unwrap();
        assert!(
            challenge.contains("Bearer realm=\"lakemetrics\""),
            "{challenge}"
        );
        // The page and its assets also offer Basic, for a browser's login prompt.
        let page = path.starts_with("/static/") || *path == "/";
        assert_eq!(challenge.contains("Basic"), page, "{path}: {challenge}");
        // An unknown scheme counts as missing.
        assert_error(
            &get(addr, path, &[("Authorization", "Digest x")]),
            401,
            "unauthorized",
        );
        // Wrong, in every way.
        for wrong in [
            "Bearer wrong",
            almost.as_str(),
            longer.as_str(),
            "Bearer",
            "Bearer ",
            &wrong_basic,
            "Basic !!!",
        ] {
            let resp = get(addr, path, &[("Authorization", wrong)]);
            assert_error(&resp, 401, "invalid_token");
            assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
            assert_eq!(resp.header("cache-control"), Some("no-store"));
            assert!(resp
                .header("www-authenticate")
                .unwrap()
                .contains("error=\"invalid_token\""));
            // Nothing of the data leaks in the refusal.
            assert!(!resp.text().contains("rows"));
        }
        // Two Authorization headers, one right: refused.
        assert_error(
            &get(
                addr,
                path,
                &[("Authorization", &bearer), ("Authorization", "Bearer x")],
            ),
            401,
            "invalid_token",
        );
        // Right.
        for right in [&bearer, &basic, &format!("bearer  {TOKEN}")] {
            let resp = get(addr, path, &[("Authorization", right)]);
            let want = if *path == "/no/such/path" { 404 } else { 200 };
            assert_eq!(resp.status, want, "{path} {right}: {}", resp.text());
        }
    }
    let resp = get(addr, "/metrics", &[("Authorization", &bearer)]);
    assert_eq!(
        resp.text(),
        "# HELP rows_total No description registered.\n# TYPE rows_total counter\nrows_total 3\n"
    );
    // /healthz stays open for probes.
    assert_eq!(get(addr, "/healthz", &[]).status, 200);
    assert_eq!(
        get(addr, "/healthz", &[("Authorization", "Bearer wrong")]).status,
        200
    );
    server.shutdown();

    // ... unless closed too.
    let config = Config::builder()
        .token(TOKEN)
        .open_healthz(false)
        .build()
        .unwrap();
    let server = serve(&reg, config);
    let addr = server.local_addr();
    assert_error(&get(addr, "/healthz", &[]), 401, "unauthorized");
    assert_eq!(
        get(addr, "/healthz", &[("Authorization", &bearer)]).status,
        200
    );
    server.shutdown();
}

#[test]
fn bad_tokens_are_refused_at_start() {
    let (reg, _clock) = manual_registry();
    for bad in [
        "",
        "has space",
        "tab\t",
        "ünïcode",
        "semi;colon",
        &"x".repeat(4097),
    ] {
        let err = HttpExporter::builder(&reg)
            .listen(([127, 0, 0, 1], 0))
            .token(bad)
            .start()
            .unwrap_err();
        assert!(err.to_string().contains("token"), "{err}");
        // The message never repeats the token.
        if bad.len() > 3 {
            assert!(!err.to_string().contains(bad), "{err}");
        }
    }
}
