//! Remote write: encoding and compressing 10,000 series' due epochs, and one
//! push round over loopback.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p lakemetrics-benches --bench push
//! ```
//!
//! The registry holds 10,000 counters with two labels (ten-second epochs over
//! ten minutes, a manual clock), each grown in one epoch that has just closed:
//! one due sample each, what a push every epoch sends. Groups:
//! `push_encode` (`collect`: visiting the registry and building the
//! `WriteRequest`; `protobuf`: prost's encoding of it; `snappy`: compressing
//! that; `all`: the three, as a round does them), and `push_round` (one
//! `RemoteWriter::flush` of one new epoch of the 10,000 series, in requests of
//! 2,000 samples, to a receiver on 127.0.0.1 that reads each request and
//! answers 204). Results are in docs/benchmarks.md.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use lakemetrics_core::{Counter, Filter, ManualClock, Registry, Retention};
use lakemetrics_push::{compress, encode_registry, RemoteWriter};
use prost::Message;

const T0: u64 = 1_700_000_000_000_000_000;
const EPOCH: Duration = Duration::from_secs(10);

fn registry(n: usize) -> (Registry, Arc<ManualClock>, Vec<Counter>) {
    let clock = Arc::new(ManualClock::new(T0));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(EPOCH, Duration::from_secs(600)).unwrap())
        .max_series(n + 100)
        .max_series_per_family(n + 100)
        .build();
    let counters: Vec<Counter> = (0..n)
        .map(|i| {
            let h = format!("h{}", i % 100);
            let p = format!("p{}", i / 100);
            reg.counter("ingest_rows", &[("handler", &h), ("partition", &p)])
                .unwrap()
        })
        .collect();
    for (i, c) in counters.iter().enumerate() {
        c.inc_by(i as u64 + 1);
    }
    clock.advance(EPOCH);
    (reg, clock, counters)
}

/// A receiver that answers every request with 204: reads the head, then
/// `Content-Length` bytes of body.
fn receiver() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/write", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut w = stream.try_clone().unwrap();
                let mut r = BufReader::new(stream);
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err()
                        || w.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                            .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    url
}

fn bench(c: &mut Criterion) {
    // `cargo bench` passes `--bench`; test mode runs each body once, with
    // fewer series.
    let timing = std::env::args().any(|a| a == "--bench");
    let n = if timing { 10_000 } else { 1_000 };
    let (reg, clock, counters) = registry(n);
    let filter = Filter::all().name("ingest_rows");

    let req = encode_registry(&reg, &filter, &[]);
    assert_eq!(req.timeseries.len(), n);
    let raw = req.encode_to_vec();
    let body = compress(&req);
    println!(
        "{n} series, one sample each: protobuf {} bytes, snappy {} bytes ({:.1} bytes a sample)",
        raw.len(),
        body.len(),
        body.len() as f64 / n as f64
    );
    let mut g = c.benchmark_group("push_encode");
    g.bench_function("collect", |b| {
        b.iter(|| black_box(encode_registry(&reg, &filter, &[])))
    });
    g.bench_function("protobuf", |b| b.iter(|| black_box(req.encode_to_vec())));
    g.bench_function("snappy", |b| {
        b.iter(|| {
            black_box(
                snap::raw::Encoder::new()
                    .compress_vec(black_box(&raw))
                    .unwrap(),
            )
        })
    });
    g.bench_function("all", |b| {
        b.iter(|| black_box(compress(&encode_registry(&reg, &filter, &[]))))
    });
    g.finish();

    let url = receiver();
    let writer = RemoteWriter::builder(&reg, url)
        .interval(Duration::from_secs(3600))
        .filter(filter.clone())
        .start()
        .unwrap();
    // Send the epoch already due, so each round below sends exactly one.
    assert_eq!(writer.flush(Duration::from_secs(30)).sent, n as u64);
    let mut g = c.benchmark_group("push_round");
    g.sample_size(20);
    g.bench_function("flush_10000_series", |b| {
        b.iter(|| {
            // One more closed epoch is due for every series.
            for c in &counters {
                c.inc();
            }
            clock.advance(EPOCH);
            let r = writer.flush(Duration::from_secs(30));
            assert_eq!(r.sent, n as u64);
        })
    });
    g.finish();
    writer.shutdown();
}

criterion_group!(benches, bench);
criterion_main!(benches);
