//! gzip: asked for by `Accept-Encoding`, the body is gzip that decompresses to
//! exactly the plain body, on `/metrics` and on the JSON API.

mod common;

use std::io::Read;

use common::{get, manual_registry};
use flate2::read::GzDecoder;
use lakemetrics_http::HttpExporter;

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(b).read_to_end(&mut out).expect("valid gzip");
    out
}

#[test]
fn gzip_when_asked() {
    let (reg, _clock) = manual_registry();
    // Enough series for several compressed chunks.
    for i in 0..5_000 {
        reg.counter("rows", &[("shard", &i.to_string())])
            .unwrap()
            .inc_by(i);
    }
    reg.gauge("queue_depth", &[]).unwrap().set(1.5);
    let server = HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        .start()
        .unwrap();
    let addr = server.local_addr();

    for path in [
        "/metrics",
        "/metrics?format=openmetrics",
        "/metrics?format=protobuf",
        "/api/v1/series?name=rows",
    ] {
        let plain = get(addr, path, &[]);
        assert_eq!(plain.status, 200);
        assert_eq!(plain.header("content-encoding"), None);
        assert!(plain.body.len() > 100_000, "{path}: {}", plain.body.len());
        for enc in [
            "gzip",
            "gzip, deflate, br",
            "br;q=1.0, gzip;q=0.8, *;q=0.1",
            "*",
        ] {
            let zipped = get(addr, path, &[("Accept-Encoding", enc)]);
            assert_eq!(zipped.status, 200);
            assert_eq!(
                zipped.header("content-encoding"),
                Some("gzip"),
                "{path} {enc}"
            );
            assert_eq!(
                zipped.header("content-type"),
                plain.header("content-type"),
                "{path}"
            );
            assert!(
                zipped.body.len() * 4 < plain.body.len(),
                "{path}: compresses"
            );
            assert_eq!(gunzip(&zipped.body), plain.body, "{path} {enc}");
        }
        for enc in ["identity", "gzip;q=0", "deflate", "*;q=0"] {
            let resp = get(addr, path, &[("Accept-Encoding", enc)]);
            assert_eq!(resp.header("content-encoding"), None, "{path} {enc}");
            assert_eq!(resp.body, plain.body, "{path} {enc}");
        }
    }
    server.shutdown();
}
