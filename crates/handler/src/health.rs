//! Windowed health: what a handler did over the last few seconds, for
//! backpressure and load-shedding decisions.

use std::time::Duration;

use lakemetrics_core::bucket_quantile;

use crate::metrics::{gauge_to_u64, HandlerMetrics, Outcome};

/// A handler's health over a recent window; see [`HandlerMetrics::health`].
///
/// Counts are over the epochs covering the window (precise to the retention
/// resolution, so a 10 s window with 1 s epochs covers 10 to 11 s); rates divide
/// them by the time those epochs cover up to now, or since the handler was
/// created if that is later.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Health {
    /// The window asked for.
    pub window: Duration,
    /// Batches completed (succeeded or failed).
    pub batches: u64,
    /// Batches failed (of any kind, `dropped` included).
    pub failures: u64,
    /// Records handled (from [`HandlerMetrics::record_batch`]).
    pub records: u64,
    /// Bytes handled (from [`HandlerMetrics::record_batch`]).
    pub bytes: u64,
    /// Records and batches per second.
    pub throughput: Throughput,
    /// Bytes per second.
    pub bytes_per_second: f64,
    /// `failures / batches`, in `[0, 1]`; 0 when no batch completed.
    pub error_ratio: f64,
    /// Batch duration quantiles.
    pub latency: Latency,
    /// Queue depth now.
    pub queue_depth: u64,
    /// Largest queue depth set in the window (the current one if it was not
    /// changed in the window).
    pub peak_queue_depth: u64,
}

/// A handler's cumulative figures since it was created; see
/// [`HandlerMetrics::totals`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Batches completed (succeeded or failed).
    pub batches: u64,
    /// Batches failed (of any kind).
    pub failures: u64,
    /// Records handled.
    pub records: u64,
    /// Bytes handled.
    pub bytes: u64,
}

/// Throughput over a window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Throughput {
    /// Records per second.
    pub records_per_second: f64,
    /// Batches completed per second.
    pub batches_per_second: f64,
}

/// Batch duration quantiles over a window, interpolated within the duration
/// histogram's buckets as Prometheus' `histogram_quantile` does (so precise to
/// the bucket layout, and capped at the highest finite bound). `None` when no
/// batch completed in the window.
///
/// The histogram keeps at most 12 epochs of history, so its windows are as
/// coarse as `retention window / 12`; see
/// [`HandlerMetricsBuilder::latency_retention`](crate::HandlerMetricsBuilder::latency_retention).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    /// Median.
    pub p50: Option<Duration>,
    /// 90th percentile.
    pub p90: Option<Duration>,
    /// 99th percentile.
    pub p99: Option<Duration>,
}

impl HandlerMetrics {
    /// The cumulative figures (what Prometheus exports), however old.
    pub fn totals(&self) -> Totals {
        let m = &*self.inner;
        let failures = m.batches.get(&Outcome::Failure).get();
        Totals {
            batches: m.batches.get(&Outcome::Success).get() + failures,
            failures,
            records: m.records.get(),
            bytes: m.bytes.get(),
        }
    }

    /// The handler's health over the last `window` (bounded by retention).
    ///
    /// Reads a handful of series (no map lookup) and allocates nothing with the
    /// default duration buckets; cheap enough to call before every batch
    /// (see `docs/benchmarks.md`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use lakemetrics_core::{ManualClock, Registry, Retention};
    /// use lakemetrics_handler::HandlerMetrics;
    ///
    /// let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    /// let reg = Registry::builder()
    ///     .clock(clock.clone())
    ///     .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(60)).unwrap())
    ///     .build();
    /// let h = HandlerMetrics::new(&reg, "csv").unwrap();
    /// for _ in 0..10 {
    ///     let t = h.start();
    ///     clock.advance(Duration::from_millis(100));
    ///     h.record_batch(1000, 10);
    ///     t.success();
    /// }
    /// let health = h.health(Duration::from_secs(30));
    /// assert_eq!(health.batches, 10);
    /// // 100 records over the 30 s window (the handler is 1 s old: as PromQL's
    /// // `rate`, the time before it existed counts, with no increase).
    /// assert_eq!(health.throughput.records_per_second, 100.0 / 30.0);
    /// assert!(health.latency.p50.unwrap() <= Duration::from_millis(100));
    /// ```
    pub fn health(&self, window: Duration) -> Health {
        let m = &*self.inner;
        let succeeded = m.batches.get(&Outcome::Success).increase(window);
        let failures = m.batches.get(&Outcome::Failure).increase(window);
        let batches = succeeded + failures;
        let latency = {
            let inc = m.duration.increase(window);
            let bounds = m.duration.core().buckets().bounds();
            let q =
                |q: f64| Duration::try_from_secs_f64(bucket_quantile(q, bounds, &inc.counts)).ok();
            Latency {
                p50: q(0.5),
                p90: q(0.9),
                p99: q(0.99),
            }
        };
        Health {
            window,
            batches,
            failures,
            records: m.records.increase(window),
            bytes: m.bytes.increase(window),
            throughput: Throughput {
                records_per_second: m.records.rate(window),
                batches_per_second: m.batches.get(&Outcome::Success).rate(window)
                    + m.batches.get(&Outcome::Failure).rate(window),
            },
            bytes_per_second: m.bytes.rate(window),
            error_ratio: if batches == 0 {
                0.0
            } else {
                failures as f64 / batches as f64
            },
            latency,
            queue_depth: gauge_to_u64(m.queue_depth.get()),
            peak_queue_depth: gauge_to_u64(m.queue_depth.max_over(window)),
        }
    }
}
