//! `HandlerMetrics`: every series of one handler, created up front.

use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{
    Buckets, Counter, Describe, Gauge, Histogram, LabelSet, LabelValue, Registry, Result,
    Retention, TypedCounter,
};

use crate::kind::KindTable;
use crate::names::{
    MetricNames, BATCH_BYTES, BATCH_DURATION, BATCH_RECORDS, DEFAULT_BATCH_BYTES_BOUNDS,
    DEFAULT_BATCH_RECORDS_BOUNDS, DEFAULT_DURATION_BOUNDS, DEFAULT_PREFIX, ERRORS, HANDLER_LABEL,
    KIND_DROPPED, OUTCOME_FAILURE, OUTCOME_LABEL, OUTCOME_SUCCESS,
};
use crate::stopwatch::Stopwatch;

/// Default cardinality limit of the `<prefix>errors_total` family (all handlers
/// and kinds together); see [`HandlerMetricsBuilder::max_error_series`].
pub const DEFAULT_MAX_ERROR_SERIES: usize = 1_000;

/// Metrics of one named ingestion handler (a CSV reader, a Parquet writer, ...):
/// batch timings and outcomes, errors by kind, data sizes, queue depth, and
/// windowed [`health`](HandlerMetrics::health).
///
/// Every series is created when the handler is built, so recording never touches
/// the registry's map, takes no lock and allocates nothing (a failure of a kind
/// first seen at run time is the one exception, once: see
/// [`Timer::failure`](crate::Timer::failure)). Cheap to clone (an `Arc`);
/// `Send + Sync`.
///
/// ```
/// use std::time::Duration;
/// use lakemetrics_core::Registry;
/// use lakemetrics_handler::HandlerMetrics;
///
/// let reg = Registry::new();
/// let csv = HandlerMetrics::builder(&reg, "csv")
///     .error_kinds(["parse_error", "io"])
///     .build()
///     .unwrap();
///
/// let t = csv.start();
/// // ... read a batch ...
/// csv.record_batch(64 * 1024, 500);
/// t.success();
///
/// let t = csv.start();
/// t.failure("parse_error");
///
/// let h = csv.health(Duration::from_secs(60));
/// assert_eq!(h.batches, 2);
/// assert_eq!(h.error_ratio, 0.5);
/// assert_eq!(h.records, 500);
/// ```
#[derive(Clone)]
pub struct HandlerMetrics {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) handler: Box<str>,
    pub(crate) names: MetricNames,
    pub(crate) registry: Registry,
    pub(crate) stopwatch: Stopwatch,
    pub(crate) duration: Histogram,
    /// `<prefix>batches_total` by outcome: both series created up front,
    /// found by index.
    pub(crate) batches: TypedCounter<Outcome>,
    pub(crate) kinds: KindTable,
    pub(crate) bytes: Counter,
    pub(crate) records: Counter,
    pub(crate) batch_bytes: Histogram,
    pub(crate) batch_records: Histogram,
    pub(crate) queue_depth: Gauge,
}

/// Builds a [`HandlerMetrics`]; see [`HandlerMetrics::builder`].
///
/// The options that shape families (prefix, buckets, retention, the error
/// series limit) are shared by every handler registered under the same prefix in
/// one registry: building a second handler with different ones fails with
/// [`lakemetrics_core::Error::FamilyConflict`].
#[derive(Debug, Clone)]
#[must_use]
pub struct HandlerMetricsBuilder {
    registry: Registry,
    handler: String,
    prefix: String,
    kinds: Vec<String>,
    duration_buckets: Buckets,
    retention: Option<Retention>,
    latency_retention: Option<Retention>,
    max_error_series: usize,
}

impl HandlerMetricsBuilder {
    /// The metric name prefix ([`DEFAULT_PREFIX`], `ingest_`, by default). May be
    /// empty; the names it makes must be valid metric names.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Error kinds whose series are created now: they are exported (at zero)
    /// before their first failure, and counting them is a short scan of this
    /// list. [`KIND_DROPPED`] is always among them. Other kinds still work; see
    /// [`Timer::failure`](crate::Timer::failure).
    pub fn error_kinds<I, S>(mut self, kinds: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.kinds.extend(kinds.into_iter().map(Into::into));
        self
    }

    /// Upper bounds of the batch duration histogram, in seconds
    /// ([`DEFAULT_DURATION_BOUNDS`]: 0.5 ms to 20 s by default). Latency
    /// quantiles in [`Health`](crate::Health) interpolate within these buckets.
    pub fn duration_buckets(mut self, buckets: Buckets) -> Self {
        self.duration_buckets = buckets;
        self
    }

    /// History kept by every family of the handler (the registry's retention
    /// by default). Windowed [`health`](HandlerMetrics::health) figures are
    /// precise to its resolution, except latency: see
    /// [`latency_retention`](Self::latency_retention).
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = Some(retention);
        self
    }

    /// History kept by the batch duration histogram, when it should differ from
    /// [`retention`](Self::retention). A histogram keeps one history point per
    /// epoch of its retention, like a counter, so windowed latency quantiles are
    /// precise to its resolution: `Retention::new(1s, 60s)` gives one-second
    /// latency windows for a live view while counters keep a longer history.
    pub fn latency_retention(mut self, retention: Retention) -> Self {
        self.latency_retention = Some(retention);
        self
    }

    /// Most series of the `<prefix>errors_total` family, over all handlers and
    /// kinds ([`DEFAULT_MAX_ERROR_SERIES`]). Past it, failures of new kinds are
    /// counted in the family's overflow series (`lakemetrics_overflow="true"`),
    /// so none is lost.
    pub fn max_error_series(mut self, max: usize) -> Self {
        self.max_error_series = max;
        self
    }

    /// Registers the families (if this is the first handler under the prefix)
    /// and creates every series of the handler.
    ///
    /// Errors: an invalid prefix or handler name (too long a label value), a
    /// family registered before with other options, or a cardinality limit.
    pub fn build(self) -> Result<HandlerMetrics> {
        let reg = &self.registry;
        let names = MetricNames::new(&self.prefix);
        let with_retention = |d: Describe, r: Option<Retention>| match r {
            Some(r) => d.retention(r),
            None => d,
        };
        let retention = self.retention;
        let latency_retention = self.latency_retention.or(retention);
        for (name, spec) in names.families() {
            let mut d = Describe::new(name, spec.kind).help(spec.help);
            if let Some(unit) = spec.unit {
                d = d.unit(unit);
            }
            d = match spec.suffix {
                BATCH_DURATION => {
                    with_retention(d.buckets(self.duration_buckets.clone()), latency_retention)
                }
                BATCH_BYTES => with_retention(
                    d.buckets(default_buckets(&DEFAULT_BATCH_BYTES_BOUNDS)),
                    retention,
                ),
                BATCH_RECORDS => with_retention(
                    d.buckets(default_buckets(&DEFAULT_BATCH_RECORDS_BOUNDS)),
                    retention,
                ),
                ERRORS => with_retention(d.max_series(self.max_error_series), retention),
                _ => with_retention(d, retention),
            };
            reg.register(d)?;
        }

        let h: &str = &self.handler;
        let one = [(HANDLER_LABEL, h)];
        let kinds = std::iter::once(KIND_DROPPED).chain(self.kinds.iter().map(String::as_str));
        let inner = Inner {
            stopwatch: Stopwatch::for_clock(reg.clock()),
            duration: reg.histogram(names.batch_duration(), &one)?,
            batches: reg.typed_counter::<Outcome>(names.batches(), &one)?,
            kinds: KindTable::new(reg, names.errors(), h, kinds)?,
            bytes: reg.counter(names.bytes(), &one)?,
            records: reg.counter(names.records(), &one)?,
            batch_bytes: reg.histogram(names.batch_bytes(), &one)?,
            batch_records: reg.histogram(names.batch_records(), &one)?,
            queue_depth: reg.gauge(names.queue_depth(), &one)?,
            registry: reg.clone(),
            handler: self.handler.into_boxed_str(),
            names,
        };
        Ok(HandlerMetrics {
            inner: Arc::new(inner),
        })
    }
}

/// How a batch ended: the `outcome` label of `<prefix>batches_total`, a typed
/// label set (its two series are created with the handler, in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failure,
}

impl LabelValue for Outcome {
    const VALUES: &'static [&'static str] = &[OUTCOME_SUCCESS, OUTCOME_FAILURE];
    #[inline]
    fn ordinal(&self) -> usize {
        *self as usize
    }
}

impl LabelSet for Outcome {
    const NAMES: &'static [&'static str] = &[OUTCOME_LABEL];
    const CARDINALITY: usize = 2;
    #[inline]
    fn index(&self) -> usize {
        self.ordinal()
    }
    fn value(index: usize, _label: usize) -> &'static str {
        Self::VALUES.get(index).copied().unwrap_or_default()
    }
}

fn default_buckets(bounds: &[f64]) -> Buckets {
    // The default tables are strictly increasing and finite.
    Buckets::new(bounds.to_vec()).unwrap_or_default()
}

impl HandlerMetrics {
    /// The metrics of handler `handler` in `registry`, with the defaults: prefix
    /// `ingest_`, no error kinds besides [`KIND_DROPPED`] registered up front,
    /// the registry's retention.
    pub fn new(registry: &Registry, handler: &str) -> Result<HandlerMetrics> {
        HandlerMetrics::builder(registry, handler).build()
    }

    /// A builder for handler `handler` in `registry`.
    pub fn builder(registry: &Registry, handler: impl Into<String>) -> HandlerMetricsBuilder {
        HandlerMetricsBuilder {
            registry: registry.clone(),
            handler: handler.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            kinds: Vec::new(),
            duration_buckets: default_buckets(&DEFAULT_DURATION_BOUNDS),
            retention: None,
            latency_retention: None,
            max_error_series: DEFAULT_MAX_ERROR_SERIES,
        }
    }

    /// The handler's name (its `handler` label value).
    pub fn handler(&self) -> &str {
        &self.inner.handler
    }

    /// The names of the families it records into.
    pub fn names(&self) -> &MetricNames {
        &self.inner.names
    }

    /// The registry it records into.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Error kinds found without a registry lookup: those registered up front,
    /// then those learned at run time, in order.
    pub fn error_kinds(&self) -> impl Iterator<Item = &str> + '_ {
        self.inner.kinds.kinds()
    }

    /// Records a batch that succeeded after `elapsed`, measured elsewhere. The
    /// timers and wrappers call this; use it when the duration comes from
    /// somewhere else (a log line, a job's own stopwatch).
    #[inline]
    pub fn record_success(&self, elapsed: Duration) {
        let m = &*self.inner;
        m.duration.observe_duration(elapsed);
        m.batches.get(&Outcome::Success).inc();
    }

    /// Records a batch that failed with `kind` after `elapsed`, measured
    /// elsewhere. See [`Timer::failure`](crate::Timer::failure) for how kinds are
    /// counted.
    #[inline]
    pub fn record_failure(&self, elapsed: Duration, kind: &str) {
        let m = &*self.inner;
        m.duration.observe_duration(elapsed);
        m.batches.get(&Outcome::Failure).inc();
        m.kinds.count(kind);
    }

    /// Records the size of one batch: `bytes` and `records` are added to the
    /// totals and observed in the per-batch histograms. Independent of the
    /// batch's outcome; call it for whatever the handler counts as handled.
    #[inline]
    pub fn record_batch(&self, bytes: u64, records: u64) {
        let m = &*self.inner;
        m.bytes.inc_by(bytes);
        m.records.inc_by(records);
        m.batch_bytes.observe(bytes as f64);
        m.batch_records.observe(records as f64);
    }

    /// Sets the input queue's depth.
    #[inline]
    pub fn set_queue_depth(&self, depth: u64) {
        self.inner.queue_depth.set(depth as f64);
    }

    /// One more item queued.
    #[inline]
    pub fn inc_queue_depth(&self) {
        self.inner.queue_depth.inc();
    }

    /// One item fewer queued.
    #[inline]
    pub fn dec_queue_depth(&self) {
        self.inner.queue_depth.dec();
    }

    /// The queue depth now (0 if more were taken off than were put on).
    pub fn queue_depth(&self) -> u64 {
        gauge_to_u64(self.inner.queue_depth.get())
    }
}

pub(crate) fn gauge_to_u64(v: f64) -> u64 {
    // `as` saturates: negative and NaN become 0.
    v as u64
}

impl std::fmt::Debug for HandlerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerMetrics")
            .field("handler", &self.handler())
            .field("prefix", &self.names().prefix())
            .finish_non_exhaustive()
    }
}
