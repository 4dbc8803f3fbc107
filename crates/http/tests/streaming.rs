//! Streaming: a scrape of 100,000 series is sent in chunks as it is rendered,
//! and the server's heap never grows by anything near the size of the output
//! (no second copy of it is held), plain or gzipped.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hash::Hasher;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use common::manual_registry;
use lakemetrics_core::Filter;
use lakemetrics_http::HttpExporter;

/// Counts live heap bytes and their peak, over every thread of the process.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size > layout.size() {
                let now =
                    LIVE.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
                PEAK.fetch_max(now, Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A writer that only hashes and counts what it is given.
struct Digest(std::collections::hash_map::DefaultHasher, usize);

impl Write for Digest {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.write(b);
        self.1 += b.len();
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads a response without keeping it: the head, then the chunked body
/// decoded into `sink`. Returns (head, number of chunks).
fn read_streamed(
    addr: std::net::SocketAddr,
    headers: &str,
    sink: &mut impl Write,
) -> (String, usize) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n"
    )
    .unwrap();
    let mut r = io::BufReader::with_capacity(16 * 1024, s);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        io::BufRead::read_line(&mut r, &mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    assert!(
        !head.to_ascii_lowercase().contains("content-length"),
        "{head}"
    );
    let mut chunks = 0;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let mut size = String::new();
        io::BufRead::read_line(&mut r, &mut size).unwrap();
        let mut n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            break;
        }
        chunks += 1;
        while n > 0 {
            let take = n.min(buf.len());
            r.read_exact(&mut buf[..take]).unwrap();
            sink.write_all(&buf[..take]).unwrap();
            n -= take;
        }
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf).unwrap();
    }
    (head, chunks)
}

#[test]
fn a_scrape_of_100k_series_streams() {
    let (reg, _clock) = manual_registry();
    for i in 0..100_000u64 {
        reg.counter(
            "ingest_rows_total",
            &[("handler", "csv"), ("shard", &i.to_string())],
        )
        .unwrap()
        .inc_by(i);
    }
    let mut expected = Digest(Default::default(), 0);
    lakemetrics_export::write_prometheus(&reg, &Filter::all(), &mut expected).unwrap();
    let output_bytes = expected.1;
    assert!(output_bytes > 4_000_000, "{output_bytes}");

    let server = HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        .start()
        .unwrap();
    let addr = server.local_addr();
    // Warm up: the runtime's blocking thread, hyper's buffers.
    let mut warm = Digest(Default::default(), 0);
    read_streamed(addr, "", &mut warm);

    for (headers, gzip) in [("", false), ("Accept-Encoding: gzip\r\n", true)] {
        let base = LIVE.load(Relaxed);
        PEAK.store(base, Relaxed);
        let mut got = Digest(Default::default(), 0);
        let (head, chunks) = if gzip {
            let mut dec = flate2::write::GzDecoder::new(&mut got);
            let r = read_streamed(addr, headers, &mut dec);
            dec.finish().unwrap();
            r
        } else {
            read_streamed(addr, headers, &mut got)
        };
        let growth = PEAK.load(Relaxed).saturating_sub(base);
        assert_eq!(got.1, output_bytes, "{head}");
        assert_eq!(got.0.finish(), Digest(expected.0.clone(), 0).0.finish());
        // 64 KiB chunks: about 80 of plain text, a few of gzip.
        assert!(
            chunks >= if gzip { 3 } else { 50 },
            "sent in {chunks} chunks"
        );
        // The server holds a few 64 KiB chunks (and the compressor's state, about
        // 300 KiB), the client a 16 KiB buffer (and a decompressor): a fraction
        // of the output. A second copy of it would be 5 MB.
        assert!(
            growth < output_bytes / 4,
            "heap grew by {growth} bytes during a scrape of {output_bytes} bytes (gzip: {gzip})"
        );
        println!(
            "gzip {gzip}: {output_bytes} bytes in {chunks} chunks, peak heap growth {growth} bytes"
        );
    }
    server.shutdown();
}
