//! Benchmarks of lakemetrics against its peers (`prometheus`, `prometheus-client`,
//! `metrics` with `metrics-exporter-prometheus`, `measured`), each compared in the
//! same run; see `benches/` and docs/benchmarks.md.
//!
//! This library holds what the benches share: the measurement (the calling
//! thread's CPU time), the observation values, the raw floors that show what an
//! operation costs with nothing but its atomics, and the [`shape`] of the registry
//! the export benches build in every implementation.

#![warn(missing_docs)]

pub mod shape;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// A criterion measurement of the benchmarking thread's CPU time
/// (`CLOCK_THREAD_CPUTIME_ID`) instead of wall time.
///
/// The benches run on a small machine shared with other work (builds, tests):
/// when another process shares our core, wall time counts the slices it runs in
/// and a whole group reads up to twice as slow, unevenly across the functions of
/// a group. Thread CPU time leaves those slices out. It still includes what
/// sharing costs the thread itself (caches, memory bandwidth), so keep comparing
/// implementations only within one run. Every bench here is single-threaded, so
/// CPU time and elapsed time agree on a quiet machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadCpuTime;

/// The formatter of wall time, which prints durations as we want.
static WALL: WallTime = WallTime;

impl ThreadCpuTime {
    /// The CPU time this thread has used so far.
    pub fn now() -> Duration {
        thread_cpu_time()
    }
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_time()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu_time().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec, and CLOCK_THREAD_CPUTIME_ID
    // exists on every Linux this runs on; on failure `ts` stays zero.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Elsewhere, wall time since the first call.
#[cfg(not(target_os = "linux"))]
fn thread_cpu_time() -> Duration {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// Runs `op(i)` `iters` times on each of two threads at once (two fresh threads
/// per call, so a striped series gives them consecutive stripe tickets and so
/// distinct stripes), and returns the mean of the two threads' CPU
/// times: criterion then reports the time per operation on each thread while the
/// other records into the same series. `i` cycles through [`observations`]'
/// indices, as in the single-threaded benches.
///
/// The threads start together (a barrier); each times only its own loop with its
/// own CPU-time clock, so time either spends descheduled (the machine is shared)
/// is left out, and so is the contention it did not cause meanwhile: on a loaded
/// machine these figures are a lower bound on what sharing the series costs.
/// Thread setup and the first, uncached lookups are outside the timing.
pub fn on_two_threads(iters: u64, op: impl Fn(usize) + Sync) -> Duration {
    let start = std::sync::Barrier::new(2);
    let run = || {
        // One untimed call first: a new thread's first labeled lookup fills its
        // lookup cache (an allocation) and is not what these rows measure.
        op(0);
        start.wait();
        let t0 = thread_cpu_time();
        for i in 0..iters {
            op(i as usize & OBSERVATION_MASK);
        }
        thread_cpu_time().saturating_sub(t0)
    };
    std::thread::scope(|s| {
        let a = s.spawn(run);
        let b = s.spawn(run);
        let a = a.join().unwrap_or_default();
        let b = b.join().unwrap_or(a);
        (a + b) / 2
    })
}

/// Number of distinct observation values, a power of two.
pub const OBSERVATIONS: usize = 1024;
/// Mask to index [`observations`] with a running counter.
pub const OBSERVATION_MASK: usize = OBSERVATIONS - 1;

/// The values every histogram and summary bench observes, in this order: log-uniform
/// over 0.1 ms to 20 s, so every default bucket (0.005 to 10 s, and `+Inf`) is hit
/// and a branch predictor cannot learn one bucket. Deterministic (a fixed LCG).
pub fn observations() -> Vec<f64> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..OBSERVATIONS)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            // 1e-4 * 2e5^unit: 0.1 ms .. 20 s.
            1e-4 * (unit * 2e5_f64.ln()).exp()
        })
        .collect()
}

/// The floor for a classic-bucket histogram: a linear search of the bounds, then a
/// `fetch_add` on the bucket, one on the count and a CAS loop adding to the sum,
/// all `Relaxed`. No clock, no history, no cumulative-count consistency.
#[derive(Debug)]
pub struct RawHistogram {
    bounds: Vec<f64>,
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_bits: AtomicU64,
}

impl RawHistogram {
    /// A histogram with `bounds` (upper bounds, ascending) plus `+Inf`.
    pub fn new(bounds: &[f64]) -> RawHistogram {
        RawHistogram {
            bounds: bounds.to_vec(),
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_bits: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Records `v`.
    #[inline]
    pub fn observe(&self, v: f64) {
        let i = self
            .bounds
            .iter()
            .position(|&b| v <= b)
            .unwrap_or(self.bounds.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut cur = self.sum_bits.load(Ordering::Relaxed);
        loop {
            let new = (f64::from_bits(cur) + v).to_bits();
            match self.sum_bits.compare_exchange_weak(
                cur,
                new,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
    }

    /// The number of observations.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_cpu_time_advances_with_work() {
        let m = ThreadCpuTime;
        let start = m.start();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(m.to_f64(&m.end(start)) > 0.0, "{x}");
    }

    #[test]
    fn observations_cover_every_default_bucket() {
        let bounds = [
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let h = RawHistogram::new(&bounds);
        for v in observations() {
            h.observe(v);
        }
        assert_eq!(h.count(), OBSERVATIONS as u64);
        assert!(h.buckets.iter().all(|b| b.load(Ordering::Relaxed) > 0));
    }

    #[test]
    fn two_threads_each_run_every_iteration() {
        let n = AtomicU64::new(0);
        on_two_threads(1000, |_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        // 1000 timed calls and one warm-up call on each thread.
        assert_eq!(n.load(Ordering::Relaxed), 2 * 1001);
    }
}
