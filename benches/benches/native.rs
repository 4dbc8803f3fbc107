//! Native histogram recording: lakemetrics' native buckets against its classic
//! histogram and prometheus-client's native histogram, in one criterion group,
//! on the same inputs (`lakemetrics_benches::observations`: 1,024 values
//! log-uniform over 0.1 ms to 20 s, about 17.6 powers of two).
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p lakemetrics-benches --bench native \
//!     -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Times are the benchmarking thread's CPU time (see
//! `lakemetrics_benches::ThreadCpuTime`). Schema 3 (8 buckets per power of two,
//! ~141 buckets for these values) with a limit of 160 buckets, so that neither
//! side reduces its resolution while measured. Results in docs/benchmarks.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use lakemetrics_benches::{observations, ThreadCpuTime, OBSERVATION_MASK};
use lakemetrics_core::{Buckets, Describe, Registry, Retention};
use prometheus_client::metrics::histogram::{Histogram as PcHistogram, NativeHistogramConfig};

const SCHEMA: i8 = 3;
const MAX_BUCKETS: u32 = 160;

fn timed(iters: u64, mut record: impl FnMut(usize)) -> Duration {
    let start = ThreadCpuTime::now();
    for i in 0..iters {
        record(i as usize & OBSERVATION_MASK);
    }
    ThreadCpuTime::now() - start
}

fn native_observe(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("native_observe");
    let vals = observations();
    let reg = Registry::new();
    reg.register(
        Describe::histogram("native_seconds")
            .native(SCHEMA)
            .native_max_buckets(MAX_BUCKETS),
    )
    .unwrap();
    reg.register(
        Describe::histogram("native_nohistory_seconds")
            .native(SCHEMA)
            .native_max_buckets(MAX_BUCKETS)
            .retention(Retention::NONE),
    )
    .unwrap();
    reg.register(
        Describe::histogram("both_seconds")
            .buckets(Buckets::default())
            .native(SCHEMA)
            .native_max_buckets(MAX_BUCKETS),
    )
    .unwrap();
    let native = reg.histogram("native_seconds", &[]).unwrap();
    let lifetime = reg.histogram("native_nohistory_seconds", &[]).unwrap();
    let both = reg.histogram("both_seconds", &[]).unwrap();
    let classic = reg.histogram("classic_seconds", &[]).unwrap();
    // Warm: every bucket claimed, as after the first scrape interval.
    for &v in &vals {
        for h in [&native, &lifetime, &both] {
            h.observe(v);
        }
    }
    assert_eq!(native.native_snapshot().unwrap().schema, SCHEMA);
    g.bench_function("lakemetrics_native", |b| {
        b.iter_custom(|n| timed(n, |i| black_box(&native).observe(black_box(vals[i]))))
    });
    g.bench_function("lakemetrics_native_no_history", |b| {
        b.iter_custom(|n| timed(n, |i| black_box(&lifetime).observe(black_box(vals[i]))))
    });
    g.bench_function("lakemetrics_native_and_classic", |b| {
        b.iter_custom(|n| timed(n, |i| black_box(&both).observe(black_box(vals[i]))))
    });
    g.bench_function("lakemetrics_classic", |b| {
        b.iter_custom(|n| timed(n, |i| black_box(&classic).observe(black_box(vals[i]))))
    });

    let pc = PcHistogram::new_native(
        NativeHistogramConfig::with_schema(SCHEMA).max_buckets(MAX_BUCKETS as usize),
    );
    for &v in &vals {
        pc.observe(v);
    }
    g.bench_function("prometheus_client_native", |b| {
        b.iter_custom(|n| timed(n, |i| black_box(&pc).observe(black_box(vals[i]))))
    });
    g.finish();
}

/// Four threads recording into one series: the table's CAS against
/// prometheus-client's mutex. Each thread's CPU time per observation.
fn native_observe_4_threads(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("native_observe_4_threads");
    let vals = observations();
    let reg = Registry::new();
    reg.register(
        Describe::histogram("native_seconds")
            .native(SCHEMA)
            .native_max_buckets(MAX_BUCKETS),
    )
    .unwrap();
    let native = reg.histogram("native_seconds", &[]).unwrap();
    let pc = PcHistogram::new_native(
        NativeHistogramConfig::with_schema(SCHEMA).max_buckets(MAX_BUCKETS as usize),
    );
    fn contended(iters: u64, record: &(dyn Fn(usize) + Sync)) -> Duration {
        let total: Duration = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|t| {
                    s.spawn(move || timed(iters, |i| record((i + t * 256) & OBSERVATION_MASK)))
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        total / 4
    }
    g.bench_function("lakemetrics_native", |b| {
        b.iter_custom(|n| contended(n, &|i| native.observe(black_box(vals[i]))))
    });
    g.bench_function("prometheus_client_native", |b| {
        b.iter_custom(|n| contended(n, &|i| pc.observe(black_box(vals[i]))))
    });
    g.finish();
}

fn config() -> Criterion<ThreadCpuTime> {
    Criterion::default()
        .with_measurement(ThreadCpuTime)
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = native_observe, native_observe_4_threads
}
criterion_main!(benches);
