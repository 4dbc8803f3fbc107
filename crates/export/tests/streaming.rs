//! The streaming exporter writes one family at a time: a caller can hand each
//! family's bytes on and reuse one buffer, so a registry's whole output never
//! sits in memory; writing family by family gives the same bytes as the one-call
//! writers; and writer errors come back to the caller.

mod common;

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{Describe, Filter, ManualClock, Registry, Retention};
use lakemetrics_export::{write_format, Exporter, Format};

fn all_formats() -> [Format; 4] {
    [
        Format::Prometheus,
        Format::OpenMetrics,
        Format::Json,
        Format::Protobuf,
    ]
}

#[test]
fn family_at_a_time_gives_the_same_bytes() {
    let (reg, _clock) = common::registry();
    for format in all_formats() {
        let mut whole = Vec::new();
        write_format(format, &reg, &Filter::all(), &mut whole).unwrap();

        // write_registry_with: one callback per family, buffer drained each time.
        let mut chunks: Vec<Vec<u8>> = Vec::new();
        let mut exporter = Exporter::new(format, Vec::new());
        exporter
            .write_registry_with(&reg, &Filter::all(), |buf| {
                chunks.push(std::mem::take(buf));
                Ok(())
            })
            .unwrap();
        let families = exporter.families_written();
        let tail = exporter.finish().unwrap();
        assert_eq!(chunks.len(), families, "{format}");
        // Every family with a series to show (a visit skips empty ones).
        let mut visited = 0;
        reg.visit(&Filter::all(), |_| visited += 1);
        assert_eq!(families, visited, "{format}");
        let joined: Vec<u8> = chunks.concat().into_iter().chain(tail).collect();
        assert_eq!(joined, whole, "{format}");
        if format == Format::Protobuf {
            // Each chunk is one whole length-delimited MetricFamily.
            for c in &chunks {
                let fams = lakemetrics_export::proto::decode_all(c).unwrap();
                assert_eq!(fams.len(), 1, "{format}: each chunk is a whole family");
            }
        } else if format != Format::Json {
            for c in &chunks {
                assert!(
                    c.starts_with(b"# "),
                    "{format}: each chunk is a whole family"
                );
            }
        }

        // write_family from the caller's own visit.
        let mut exporter = Exporter::new(format, Vec::new());
        reg.visit(&Filter::all(), |fam| exporter.write_family(fam).unwrap());
        assert_eq!(exporter.finish().unwrap(), whole, "{format}");
    }
}

#[test]
fn a_large_registry_streams_through_one_small_buffer() {
    // 100,000 series in 10 families; one epoch of history each keeps memory small.
    let reg = Registry::builder()
        .clock(Arc::new(ManualClock::new(common::T0)))
        .retention(Retention::new(Duration::from_secs(60), Duration::from_secs(60)).unwrap())
        .build();
    for f in 0..10 {
        let name = format!("stream_rows_{f}");
        reg.register(Describe::counter(&name).help("Rows."))
            .unwrap();
        for i in 0..10_000u64 {
            reg.counter(&name, &[("shard", &i.to_string())])
                .unwrap()
                .inc_by(i);
        }
    }
    let mut total = 0usize;
    let mut largest = 0usize;
    let mut exporter = Exporter::new(Format::OpenMetrics, Vec::with_capacity(1 << 20));
    exporter
        .write_registry_with(&reg, &Filter::all(), |buf| {
            total += buf.len();
            largest = largest.max(buf.len());
            buf.clear(); // e.g. after sending the bytes to the socket
            Ok(())
        })
        .unwrap();
    let tail = exporter.finish().unwrap();
    total += tail.len();
    assert!(
        largest * 9 < total,
        "one family ({largest} bytes) of {total}"
    );
    assert!(
        tail.capacity() < 2 * largest.max(1 << 20),
        "the buffer held one family at a time"
    );
}

/// Fails once more than `limit` bytes were written.
struct Failing {
    written: usize,
    limit: usize,
}

impl Write for Failing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written + buf.len() > self.limit {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "peer went away"));
        }
        self.written += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn writer_errors_are_returned() {
    let (reg, _clock) = common::registry();
    for format in all_formats() {
        let mut whole = Vec::new();
        write_format(format, &reg, &Filter::all(), &mut whole).unwrap();
        let len = whole.len();
        for limit in [0, 10, len / 3, len / 2, len - 1] {
            let mut out = Failing { written: 0, limit };
            let err = write_format(format, &reg, &Filter::all(), &mut out).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{format} at {limit}");
        }
    }
}

#[test]
fn an_error_from_the_callback_stops_the_export() {
    let (reg, _clock) = common::registry();
    let mut calls = 0;
    let mut exporter = Exporter::new(Format::Prometheus, Vec::new());
    let err = exporter
        .write_registry_with(&reg, &Filter::all(), |_| {
            calls += 1;
            Err(io::Error::other("stop"))
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "stop");
    assert_eq!(calls, 1);
    assert_eq!(exporter.families_written(), 1);
}

#[test]
fn empty_exports_are_valid() {
    let reg = Registry::new();
    let mut out = Vec::new();
    write_format(Format::Prometheus, &reg, &Filter::all(), &mut out).unwrap();
    assert_eq!(out, b"");
    let mut out = Vec::new();
    write_format(Format::OpenMetrics, &reg, &Filter::all(), &mut out).unwrap();
    assert_eq!(out, b"# EOF\n");
    let mut out = Vec::new();
    write_format(Format::Json, &reg, &Filter::all(), &mut out).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(doc["families"], serde_json::json!([]));
    // An exporter that never saw the registry still closes its JSON.
    let out = Exporter::new(Format::Json, Vec::new()).finish().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(doc["families"], serde_json::json!([]));
}
