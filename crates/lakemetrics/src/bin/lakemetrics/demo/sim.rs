//! The simulated service: files land for each reader (at a rate that swells and
//! ebbs, with occasional bursts), readers parse them into batches, and writers
//! take the batches off a bounded queue and commit them to the lake. Latencies
//! are log-normal, errors occasional, and writers now and then stall on a slow
//! commit, so the queue fills and readers feel backpressure.
//!
//! Everything is recorded through `HandlerMetrics`: readers with the RAII timer,
//! writers with the closure form.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender};
use lakemetrics::handler::ErrorKind;
use lakemetrics::HandlerMetrics;

use super::rng::Rng;

/// How often blocked threads look at the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// A kind of input and how its reader behaves.
#[derive(Debug, Clone, Copy)]
pub struct ReaderSpec {
    /// Handler name.
    pub name: &'static str,
    /// Files landing per second, on average.
    pub rate: f64,
    /// Median and shape of the time to parse one file.
    pub latency: (Duration, f64),
    /// Median records per file.
    pub records: f64,
    /// Bytes per record, on average.
    pub record_bytes: f64,
    /// How much more (or less) often than `--error-rate` this reader fails.
    pub error_factor: f64,
    /// Its error kinds, by weight.
    pub kinds: &'static [(&'static str, f64)],
}

pub const READERS: [ReaderSpec; 3] = [
    ReaderSpec {
        name: "csv",
        rate: 40.0,
        latency: (Duration::from_millis(8), 0.5),
        records: 5_000.0,
        record_bytes: 120.0,
        error_factor: 1.0,
        kinds: &[
            ("parse_error", 6.0),
            ("schema_mismatch", 3.0),
            ("io_timed_out", 1.0),
        ],
    },
    ReaderSpec {
        name: "json",
        rate: 25.0,
        latency: (Duration::from_millis(12), 0.6),
        records: 2_000.0,
        record_bytes: 450.0,
        error_factor: 1.5,
        kinds: &[
            ("parse_error", 5.0),
            ("invalid_utf8", 3.0),
            ("schema_mismatch", 2.0),
        ],
    },
    ReaderSpec {
        name: "parquet",
        rate: 10.0,
        latency: (Duration::from_millis(25), 0.4),
        records: 50_000.0,
        record_bytes: 30.0,
        error_factor: 0.5,
        kinds: &[
            ("corrupt_footer", 5.0),
            ("schema_mismatch", 3.0),
            ("io_timed_out", 2.0),
        ],
    },
];

/// The writers' handler name.
pub const WRITER: &str = "writer";
/// The writers' error kinds, by weight.
pub const WRITER_KINDS: &[(&str, f64)] = &[("commit_conflict", 7.0), ("throttled", 3.0)];
/// Median and shape of one commit.
const WRITE_LATENCY: (Duration, f64) = (Duration::from_millis(9), 0.6);
/// Chance that a commit stalls (a compaction holding the table lock).
const STALL_CHANCE: f64 = 0.0008;
/// A file vanishing mid-read: the reader returns early and its timer is dropped.
const VANISH_CHANCE: f64 = 0.0005;

/// One parsed batch on its way to the lake.
#[derive(Debug, Clone, Copy)]
pub struct Batch {
    pub bytes: u64,
    pub records: u64,
}

/// Why a commit failed: its kind is the label value.
#[derive(Debug)]
struct WriteError(&'static str);

impl ErrorKind for WriteError {
    fn error_kind(&self) -> &str {
        self.0
    }
}

/// Sleeps up to `d`, in steps short enough to notice `stop`.
fn nap(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    loop {
        let now = Instant::now();
        // Relaxed: a lone flag.
        if now >= end || stop.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep((end - now).min(POLL));
    }
}

/// Runs one reader until `stop`.
pub fn reader(
    spec: ReaderSpec,
    h: &HandlerMetrics,
    writers: &HandlerMetrics,
    tx: &Sender<Batch>,
    stop: &AtomicBool,
    error_rate: f64,
    mut rng: Rng,
) {
    let started = Instant::now();
    let mut backlog: u64 = 0;
    let mut next_file = started;
    let mut next_burst = started + rng.exp_gap(1.0 / 20.0);
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        // Files that have landed since we last looked. The rate swells and ebbs
        // over a minute.
        let t = (now - started).as_secs_f64();
        let rate = spec.rate * (1.0 + 0.5 * (std::f64::consts::TAU * t / 60.0).sin());
        while next_file <= now {
            backlog += 1;
            next_file += rng.exp_gap(rate);
        }
        if next_burst <= now {
            backlog += rng.range(20, 80);
            next_burst = now + rng.exp_gap(1.0 / 20.0);
        }
        h.set_queue_depth(backlog);
        if backlog == 0 {
            std::thread::sleep((next_file - now).min(POLL));
            continue;
        }
        backlog -= 1;
        h.set_queue_depth(backlog);

        let timer = h.start();
        std::thread::sleep(rng.latency(spec.latency.0, spec.latency.1));
        if rng.chance(VANISH_CHANCE) {
            // An early return: the timer is dropped without an outcome and
            // counts as a failure of kind `dropped`.
            drop(timer);
            continue;
        }
        if rng.chance(error_rate * spec.error_factor) {
            timer.failure(rng.pick(spec.kinds));
            continue;
        }
        let records = rng.log_normal(spec.records, 0.5).round().max(1.0) as u64;
        let bytes = (records as f64 * spec.record_bytes * rng.log_normal(1.0, 0.2)) as u64;
        h.record_batch(bytes, records);
        timer.success();

        // Hand the batch to the writers; while the queue is full this blocks
        // and the backlog grows: backpressure.
        let mut batch = Batch { bytes, records };
        loop {
            match tx.send_timeout(batch, POLL) {
                Ok(()) => break,
                Err(SendTimeoutError::Timeout(b)) if !stop.load(Ordering::Relaxed) => batch = b,
                Err(_) => return,
            }
        }
        writers.set_queue_depth(tx.len() as u64);
    }
}

/// Runs one writer until `stop`.
pub fn writer(
    h: &HandlerMetrics,
    rx: &Receiver<Batch>,
    stop: &AtomicBool,
    error_rate: f64,
    mut rng: Rng,
) {
    while !stop.load(Ordering::Relaxed) {
        let batch = match rx.recv_timeout(POLL) {
            Ok(b) => b,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        h.set_queue_depth(rx.len() as u64);
        // Bigger batches take longer to commit.
        let size_factor = 1.0 + batch.bytes as f64 / 4e6;
        let result = h.time(|| {
            let mut d = rng
                .latency(WRITE_LATENCY.0, WRITE_LATENCY.1)
                .mul_f64(size_factor);
            if rng.chance(STALL_CHANCE) {
                d += Duration::from_millis(rng.range(800, 2500));
            }
            nap(d, stop);
            if rng.chance(error_rate * 0.5) {
                Err(WriteError(rng.pick(WRITER_KINDS)))
            } else {
                Ok(())
            }
        });
        if result.is_ok() {
            h.record_batch(batch.bytes, batch.records);
        }
    }
}
