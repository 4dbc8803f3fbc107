//! `lakemetrics-http`: one full scrape of `/metrics` over loopback, as
//! Prometheus does it, of 10,000 and of 100,000 series.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p lakemetrics-benches --bench http \
//!     -- --warm-up-time 1 --measurement-time 5
//! ```
//!
//! The registry holds 10 counter families of N/10 series each (labels `handler`
//! and `shard`). The exporter runs as in production (`HttpExporter`, its own
//! thread and runtime); each iteration opens a connection, sends `GET /metrics`
//! with Prometheus' `Accept` header (so OpenMetrics is served), reads the whole
//! response and throws it away. Variants: Prometheus text (`?format=prometheus`)
//! and OpenMetrics gzipped (`Accept-Encoding: gzip`); beside them, `render_only`
//! writes the same OpenMetrics into `io::sink()` on the bench thread, the floor
//! the HTTP path adds to. Before timing, the output
//! is checked to hold every series. Times are wall-clock (the work spans the
//! client, the server's connection and its rendering thread). Results are in
//! docs/benchmarks.md.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lakemetrics_core::{Filter, Registry};
use lakemetrics_http::HttpExporter;

const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
const FAMILIES: usize = 10;

fn registry(series: usize) -> Registry {
    let reg = Registry::new();
    for f in 0..FAMILIES {
        let name = format!("ingest_rows_{f}_total");
        for i in 0..series / FAMILIES {
            let shard = i.to_string();
            reg.counter(&name, &[("handler", "csv"), ("shard", &shard)])
                .unwrap()
                .inc_by((i * 7 + f) as u64);
        }
    }
    reg
}

/// One scrape: the raw response (head and chunked body) read to the end.
fn scrape(addr: SocketAddr, path: &str, gzip: bool, buf: &mut Vec<u8>) -> usize {
    let mut s = TcpStream::connect(addr).unwrap();
    let enc = if gzip {
        "Accept-Encoding: gzip\r\n"
    } else {
        ""
    };
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {ACCEPT}\r\n{enc}Connection: close\r\n\r\n"
    )
    .unwrap();
    buf.clear();
    s.read_to_end(buf).unwrap();
    buf.len()
}

/// Checks the status and that every series is there, and prints the response
/// sizes (plain and gzipped).
fn check(addr: SocketAddr, path: &str, series: usize) {
    let mut buf = Vec::new();
    let plain = scrape(addr, path, false, &mut buf);
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 200"), "{path}");
    let samples = text.matches("ingest_rows_").count();
    // One sample line per series (two in OpenMetrics: _total and _created),
    // plus the metadata lines per family.
    assert!(samples >= series, "{path}: {samples} < {series}");
    let gzipped = scrape(addr, path, true, &mut buf);
    println!("{series} series, {path}: {plain} bytes on the wire, {gzipped} gzipped");
}

fn bench_scrape(c: &mut Criterion) {
    let mut group = c.benchmark_group("http_scrape");
    for series in [10_000, 100_000] {
        let reg = registry(series);
        let server = HttpExporter::builder(&reg)
            .listen(([127, 0, 0, 1], 0))
            .start()
            .unwrap();
        let addr = server.local_addr();
        check(addr, "/metrics", series);
        check(addr, "/metrics?format=prometheus", series);
        group.throughput(Throughput::Elements(series as u64));
        group.sample_size(if series > 10_000 { 10 } else { 30 });
        let mut buf = Vec::with_capacity(16 << 20);
        for (name, path, gzip) in [
            ("openmetrics", "/metrics", false),
            ("prometheus", "/metrics?format=prometheus", false),
            ("openmetrics_gzip", "/metrics", true),
        ] {
            group.bench_with_input(BenchmarkId::new(name, series), &series, |b, _| {
                b.iter(|| black_box(scrape(addr, path, gzip, &mut buf)))
            });
        }
        // The floor: the same OpenMetrics rendered straight into a sink, on this
        // thread, with no HTTP, no channel and no socket.
        group.bench_with_input(BenchmarkId::new("render_only", series), &series, |b, _| {
            b.iter(|| {
                lakemetrics_export::write_openmetrics(&reg, &Filter::all(), &mut std::io::sink())
                    .unwrap()
            })
        });
        server.shutdown();
    }
    group.finish();
}

criterion_group!(benches, bench_scrape);
criterion_main!(benches);
