//! Helpers shared by the store's integration tests: scratch directories, a
//! registry with every kind of series, and a dump of everything a reader sees.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{
    Buckets, Describe, Filter, ManualClock, Registry, Retention, SeriesData, SketchMapping,
    TimeRange,
};

/// 2023-11-14T22:13:20Z: an arbitrary, realistic start time.
pub const T0: u64 = 1_700_000_000_000_000_000;

/// A fresh directory under the system's temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "lakemetrics-store-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A registry on `clock` with one-second epochs over a twenty-second window.
pub fn registry(clock: &Arc<ManualClock>) -> Registry {
    Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(20)).unwrap())
        .build()
}

/// Families of every kind with options of every sort, an overflow series (and
/// so the overflow self-metric), NaN and infinite gauge values, empty and
/// non-ASCII label values, recorded over 30 steps of 0.7 s. (The series of a
/// family share their label names; `tests/old_checkpoint.rs` restores a
/// checkpoint from before that rule, whose families mix them.)
pub fn populate(reg: &Registry, clock: &ManualClock) {
    reg.register(
        Describe::counter("rows")
            .help("Rows.\nSecond line \\ \"quoted\"")
            .max_series(3),
    )
    .unwrap();
    reg.register(
        Describe::histogram("lat")
            .unit("seconds")
            .buckets(Buckets::new(vec![0.1, 1.0, 2.5]).unwrap()),
    )
    .unwrap();
    reg.register(
        Describe::summary("size")
            .unit("bytes")
            .objectives(vec![0.5, 0.99])
            .sketch(SketchMapping::new(0.02, 1e-3, 1e9).unwrap()),
    )
    .unwrap();
    reg.register(Describe::gauge("depth").idle_ttl(Duration::from_secs(3600)))
        .unwrap();
    // Native buckets: one family native only (a small bucket limit, so that its
    // schema is reduced), one with classic buckets too.
    reg.register(
        Describe::histogram("nat")
            .native(4)
            .native_max_buckets(12)
            .native_zero_threshold(1e-3),
    )
    .unwrap();
    reg.register(
        Describe::histogram("natc")
            .buckets(Buckets::new(vec![1.0]).unwrap())
            .native(1),
    )
    .unwrap();
    reg.register(
        Describe::counter("slow")
            .retention(Retention::new(Duration::from_secs(5), Duration::from_secs(60)).unwrap()),
    )
    .unwrap();
    for i in 0..30u64 {
        clock.advance(Duration::from_millis(700));
        for h in ["csv", "json", "parquet", "avro"] {
            reg.counter_or_overflow("rows", &[("handler", h)])
                .unwrap()
                .inc_by(i + 1);
        }
        reg.gauge("depth", &[("q", "in"), ("z", "x")])
            .unwrap()
            .set((i % 7) as f64 - 2.0);
        let odd = match i % 10 {
            3 => f64::NAN,
            5 => f64::INFINITY,
            7 => -0.0,
            _ => i as f64 * 1.5,
        };
        reg.gauge("depth", &[("q", "ünïcødé ✓"), ("z", "")])
            .unwrap()
            .set(odd);
        reg.histogram("lat", &[("path", "")])
            .unwrap()
            .observe(i as f64 / 10.0);
        reg.histogram("lat", &[("path", "/a")])
            .unwrap()
            .observe(f64::from(i as u32 % 4));
        reg.summary("size", &[("kind", "small")])
            .unwrap()
            .observe(100.0 + i as f64);
        if i % 3 == 0 {
            reg.summary("size", &[("kind", "big")])
                .unwrap()
                .observe(1e6 * (i + 1) as f64);
        }
        reg.counter("slow", &[]).unwrap().inc_by(1000 * i);
        // Values with short mantissas, so that sums round-trip through the
        // saved 48-bit sum bases exactly.
        let v = (i as f64 - 12.0) * 0.375;
        reg.histogram("nat", &[("path", "/a")]).unwrap().observe(v);
        reg.histogram("nat", &[("path", "/a")])
            .unwrap()
            .observe(v / 1024.0);
        reg.histogram("natc", &[])
            .unwrap()
            .observe(f64::from(i as u32 % 5) + 0.5);
    }
    // A series created but never recorded into.
    reg.counter("rows", &[("handler", "new")]).ok();
}

/// A small registry (one series of each kind, a few points), for tests that
/// damage every byte of a file.
pub fn populate_small(reg: &Registry, clock: &ManualClock) {
    reg.register(
        Describe::histogram("lat")
            .buckets(Buckets::new(vec![1.0]).unwrap())
            .native(0),
    )
    .unwrap();
    reg.register(Describe::summary("size").sketch(SketchMapping::new(0.1, 1.0, 1000.0).unwrap()))
        .unwrap();
    for i in 0..3u64 {
        clock.advance(Duration::from_secs(1));
        reg.counter("rows", &[("h", "csv")]).unwrap().inc_by(i + 1);
        reg.gauge("depth", &[]).unwrap().set(i as f64);
        reg.histogram("lat", &[]).unwrap().observe(i as f64);
        reg.summary("size", &[])
            .unwrap()
            .observe(10.0 * (i + 1) as f64);
    }
}

/// Everything a reader can see: values and history points of every series.
pub fn dump(reg: &Registry) -> Vec<String> {
    let mut out = Vec::new();
    reg.visit(&Filter::all().include_idle(true), |fam| {
        for s in fam.series() {
            let labels: Vec<_> = s.labels().collect();
            let mut line = format!(
                "{} {:?} {labels:?} created={} ",
                fam.name(),
                fam.describe(),
                s.created()
            );
            let now = s.now();
            match s.data() {
                SeriesData::Counter(c) => {
                    line += &format!("total={}", c.total());
                    c.for_each_point(now, TimeRange::ALL, |p| {
                        line += &format!(" {}:{}", p.start, p.increase)
                    });
                }
                SeriesData::Gauge(g) => {
                    line += &format!("value={:?}", g.get().to_bits());
                    g.for_each_point(now, TimeRange::ALL, |p| {
                        line += &format!(
                            " {}:{:x}/{:x}/{:x}",
                            p.start,
                            p.last.to_bits(),
                            p.min.to_bits(),
                            p.max.to_bits()
                        )
                    });
                }
                SeriesData::Histogram(h) => {
                    line += &format!("{:?}", h.snapshot());
                    if let Some(n) = h.native() {
                        line += &format!(" {:?}", n.snapshot(0, 0.0));
                        n.for_each_window_quantiles(
                            now,
                            TimeRange::ALL,
                            Duration::from_secs(3),
                            &[0.1, 0.5, 0.9],
                            |w| line += &format!(" {}:{}/{:?}", w.start, w.count, w.quantiles),
                        );
                    }
                    h.for_each_point(now, TimeRange::ALL, |p| {
                        line += &format!(" {}:{:?}/{:x}", p.start, p.counts, p.sum.to_bits())
                    });
                }
                SeriesData::Summary(q) => {
                    line += &format!(
                        "count={} sum={:x} p50={}",
                        q.count(),
                        q.sum().to_bits(),
                        q.quantile(0.5, now, Duration::from_secs(20))
                    );
                    q.for_each_point(now, TimeRange::ALL, |p| {
                        line += &format!(
                            " {}:{}/{:x}/{}/{}",
                            p.start,
                            p.count,
                            p.sum.to_bits(),
                            p.quantile(0.5),
                            p.quantile(0.99)
                        )
                    });
                }
            }
            out.push(line);
        }
    });
    out
}

/// A small deterministic generator (xorshift64*), so fault tests are seeded.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
