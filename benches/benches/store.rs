//! Checkpoint and restore of 100,000 series with full history, and the bytes a
//! stored history point takes.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p lakemetrics-benches --bench store
//! ```
//!
//! The registry (ten-second epochs over ten minutes, Prometheus' default
//! buckets, the default 1% sketch) holds 70,000 counters, 20,000 gauges, 9,000
//! histograms and 1,000 summaries, recorded into over a whole window on a
//! manual clock so every ring is full: counters grow by a noisy rate, gauges
//! are queue depths and buffer sizes (integers on random walks, sizes in whole
//! KiB),
//! histograms and summaries observe latencies of microsecond precision.
//! `LAKEMETRICS_BENCH_SERIES=N` sets the number of series; test mode (`cargo
//! test --benches`, each body once, unoptimized, as CI runs it) uses 10,000.
//!
//! Groups: `store_checkpoint` (ours at the default compression level, at level
//! 0, and the floor: writing, fsyncing and renaming a file of the same size),
//! `store_decode` (reading and verifying the file) and `store_restore` (decode
//! and restore into a new registry). Times are wall-clock: a checkpoint waits
//! for the disk. Before timing, the bytes per stored point and value are printed
//! for each kind. Results are in docs/benchmarks.md.

use std::hint::black_box;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use lakemetrics_core::{
    Counter, Gauge, Histogram, ManualClock, MetricKind, Registry, Retention, Summary,
};
use lakemetrics_store::{Checkpoint, Store};

const T0: u64 = 1_700_000_000_000_000_000;

/// The registry's shape: series per kind for `total` series.
struct Shape {
    counters: usize,
    gauges: usize,
    histograms: usize,
    summaries: usize,
}

impl Shape {
    fn new(total: usize) -> Shape {
        let summaries = (total / 100).max(1);
        let histograms = (total * 9 / 100).max(1);
        let gauges = (total / 5).max(1);
        Shape {
            counters: total.saturating_sub(summaries + histograms + gauges).max(1),
            gauges,
            histograms,
            summaries,
        }
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn registry(clock: &Arc<ManualClock>) -> Registry {
    Registry::builder()
        .clock(clock.clone())
        .retention(Retention::DEFAULT)
        .max_series_per_family(1_000_000)
        .build()
}

/// The `table` and `handler` label values of the `i`-th series of a family.
fn labels(i: usize) -> (String, String) {
    (format!("t{:05}", i / 16), format!("h{}", i % 16))
}

/// Builds the registry and records into it over one whole window.
fn build(total: usize) -> (Arc<ManualClock>, Registry) {
    let shape = Shape::new(total);
    let clock = Arc::new(ManualClock::new(T0));
    let reg = registry(&clock);
    let mut counters: Vec<Counter> = Vec::with_capacity(shape.counters);
    for i in 0..shape.counters {
        let (t, h) = labels(i);
        let l = [("table", t.as_str()), ("handler", h.as_str())];
        counters.push(reg.counter("ingest_rows_total", &l).unwrap());
    }
    let mut gauges: Vec<Gauge> = Vec::with_capacity(shape.gauges);
    for i in 0..shape.gauges {
        let name = if i % 2 == 0 {
            "queue_depth"
        } else {
            "buffer_bytes"
        };
        let (t, h) = labels(i);
        let l = [("table", t.as_str()), ("handler", h.as_str())];
        gauges.push(reg.gauge(name, &l).unwrap());
    }
    let mut histograms: Vec<Histogram> = Vec::with_capacity(shape.histograms);
    for i in 0..shape.histograms {
        let (t, h) = labels(i);
        let l = [("table", t.as_str()), ("handler", h.as_str())];
        histograms.push(reg.histogram("batch_seconds", &l).unwrap());
    }
    let mut summaries: Vec<Summary> = Vec::with_capacity(shape.summaries);
    for i in 0..shape.summaries {
        let (t, h) = labels(i);
        let l = [("table", t.as_str()), ("handler", h.as_str())];
        summaries.push(reg.summary("request_seconds", &l).unwrap());
    }

    let mut rng = Rng(0x5eed);
    let rates: Vec<u64> = (0..shape.counters).map(|_| 1 + rng.below(5_000)).collect();
    let mut level: Vec<i64> = vec![0; shape.gauges];
    let latency = |rng: &mut Rng| (50 + rng.below(200_000)) as f64 * 1e-6;
    let epochs = Retention::DEFAULT.slots();
    for _ in 0..epochs {
        clock.advance(Retention::DEFAULT.resolution());
        for (c, rate) in counters.iter().zip(&rates) {
            c.inc_by(rate + rng.below(rate / 4 + 1));
        }
        for (i, g) in gauges.iter().enumerate() {
            // Queue depths move by up to 10 items, buffers by up to 256 KiB.
            let step = if i % 2 == 0 { 10 } else { 256 * 1024 };
            level[i] = (level[i] + rng.below(2 * step + 1) as i64 - step as i64).max(0);
            g.set(if i % 2 == 0 {
                level[i]
            } else {
                level[i] / 1024 * 1024
            } as f64);
        }
        for h in &histograms {
            for _ in 0..4 {
                h.observe(latency(&mut rng));
            }
        }
        for s in &summaries {
            for _ in 0..8 {
                s.observe(latency(&mut rng));
            }
        }
    }
    (clock, reg)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lakemetrics-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn store(c: &mut Criterion) {
    // `cargo bench` passes `--bench`; test mode (`cargo test --benches`) runs
    // each body once, unoptimized, so a tenth of the registry is plenty there.
    let timing = std::env::args().any(|a| a == "--bench");
    let total: usize = std::env::var("LAKEMETRICS_BENCH_SERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if timing { 100_000 } else { 10_000 });
    let (clock, reg) = build(total);
    let dir = temp_dir("store");
    let store = Store::builder(&dir).keep(2).open().unwrap();

    let info = store.checkpoint(&reg).unwrap();
    assert_eq!(info.series as usize, reg.series_count());
    println!(
        "store: {} series, {} history points, file {} bytes ({:.2} bytes/point overall)",
        info.series,
        info.points,
        info.bytes,
        info.bytes as f64 / info.points as f64
    );
    for kind in [
        MetricKind::Counter,
        MetricKind::Gauge,
        MetricKind::Histogram,
        MetricKind::Summary,
    ] {
        let h = info.history(kind);
        println!(
            "store: {kind:<9} {:>6} series {:>8} points {:>9} values {:>9} bytes: \
             {:.3} bytes/point, {:.3} bytes/value",
            h.series,
            h.points,
            h.values,
            h.bytes,
            h.bytes_per_point(),
            h.bytes_per_value()
        );
    }
    let t = info.history_total();
    println!(
        "store: all kinds: {:.3} bytes/point, {:.3} bytes/value (Gorilla: 1.37 bytes/sample)",
        t.bytes_per_point(),
        t.bytes_per_value()
    );

    let mut g = c.benchmark_group("store_checkpoint");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("lakemetrics", |b| {
        b.iter(|| black_box(store.checkpoint(&reg).unwrap()))
    });
    let fast_dir = temp_dir("store-level0");
    let fast = Store::builder(&fast_dir)
        .keep(2)
        .compression_level(0)
        .open()
        .unwrap();
    let level0 = fast.checkpoint(&reg).unwrap();
    println!(
        "store: at compression level 0: file {} bytes, {:.3} bytes/point",
        level0.bytes,
        level0.history_total().bytes_per_point()
    );
    g.bench_function("lakemetrics_level0", |b| {
        b.iter(|| black_box(fast.checkpoint(&reg).unwrap()))
    });
    let floor_dir = temp_dir("store-floor");
    std::fs::create_dir_all(&floor_dir).unwrap();
    let bytes = vec![0x5au8; info.bytes as usize];
    g.bench_function("floor_write_fsync_rename", |b| {
        b.iter(|| {
            let tmp = floor_dir.join("f.tmp");
            let mut f = std::fs::File::create(&tmp).unwrap();
            f.write_all(&bytes).unwrap();
            f.sync_all().unwrap();
            std::fs::rename(&tmp, floor_dir.join("f")).unwrap();
            std::fs::File::open(&floor_dir).unwrap().sync_all().unwrap();
        })
    });
    g.finish();

    let latest = store.checkpoints().unwrap()[0].path.clone();
    let mut g = c.benchmark_group("store_decode");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("lakemetrics", |b| {
        b.iter(|| black_box(Checkpoint::read(&latest).unwrap()))
    });
    g.finish();

    let mut g = c.benchmark_group("store_restore");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("lakemetrics", |b| {
        b.iter_batched(
            || registry(&clock),
            |fresh| {
                let r = store.restore(&fresh).unwrap();
                assert_eq!(r.restored.unwrap().series, info.series as usize);
                fresh
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();

    for d in [dir, fast_dir, floor_dir] {
        let _ = std::fs::remove_dir_all(d);
    }
}

criterion_group!(benches, store);
criterion_main!(benches);
