//! The recorder: `metrics`' `Recorder` over a lakemetrics [`Registry`].

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use lakemetrics_core::{Buckets, Counter, Describe, Error as CoreError, MetricKind, Registry};
use metrics::{Key, KeyName, Metadata, SharedString, Unit};

use crate::error::reason;
use crate::handles::{CounterHandle, DistributionHandle, GaugeHandle};
use crate::matcher::{Layout, Rules};
use crate::names::{sanitize_label_name, sanitize_metric_name};
use crate::table::Table;
use crate::{Error, Matcher};

/// The self-metric counting registrations and descriptions the registry
/// refused, by `reason` (the registry error's variant in snake case:
/// `kind_conflict`, `family_conflict`, `label_value_too_long`, ...).
pub const REJECTED_METRIC: &str = "lakemetrics_metrics_rejected_total";

type RejectionHook = Arc<dyn Fn(&Error) + Send + Sync>;

/// Builds a [`LakemetricsRecorder`]: histogram layouts per metric name and a
/// hook for refused registrations.
///
/// ```
/// use lakemetrics_core::Registry;
/// use lakemetrics_metrics::{LakemetricsRecorder, Matcher};
///
/// let reg = Registry::new();
/// let recorder = LakemetricsRecorder::builder(&reg)
///     .set_buckets_for_metric(Matcher::Suffix("_bytes".into()), &[1024.0, 65536.0, 1048576.0])
///     .unwrap()
///     .set_quantiles_for_metric(Matcher::Full("rpc_seconds".into()), &[0.5, 0.99])
///     .unwrap()
///     .on_rejection(|e| eprintln!("metrics: {e}"))
///     .build();
/// metrics::with_local_recorder(&recorder, || {
///     metrics::histogram!("batch_bytes").record(4096.0);
///     metrics::histogram!("rpc_seconds").record(0.2);
/// });
/// assert_eq!(reg.describe("batch_bytes").unwrap().kind(), lakemetrics_core::MetricKind::Histogram);
/// assert_eq!(reg.describe("rpc_seconds").unwrap().kind(), lakemetrics_core::MetricKind::Summary);
/// ```
#[must_use = "a builder does nothing until built or installed"]
pub struct RecorderBuilder {
    registry: Registry,
    rules: Rules,
    on_rejection: Option<RejectionHook>,
}

impl RecorderBuilder {
    /// Histograms whose (sanitised) name matches `matcher` get these bucket
    /// upper bounds (strictly increasing, finite, at most
    /// [`MAX_BUCKETS`](lakemetrics_core::MAX_BUCKETS); `+Inf` is implied).
    ///
    /// Among the rules for a name, a [`Matcher::Full`] match wins, then the first
    /// matching rule in the order added (buckets and quantiles alike), then the
    /// default ([`RecorderBuilder::set_buckets`] or
    /// [`RecorderBuilder::set_quantiles`], else the registry's default buckets,
    /// which are Prometheus' unless the registry was built with others). Rules
    /// apply to the families this recorder creates; a family registered on the
    /// registry before keeps its layout.
    pub fn set_buckets_for_metric(
        mut self,
        matcher: Matcher,
        bounds: &[f64],
    ) -> Result<Self, Error> {
        let buckets = Buckets::new(bounds).map_err(|source| Error::InvalidBuckets {
            matcher: Some(matcher.clone()),
            source,
        })?;
        self.rules.add(matcher, Layout::Buckets(buckets));
        Ok(self)
    }

    /// Histograms whose name matches `matcher` become summaries exporting these
    /// quantiles (each in `[0, 1]`), computed over the registry's summary
    /// window from lakemetrics' sketch (1% relative error by default). Rule
    /// order as for [`RecorderBuilder::set_buckets_for_metric`].
    pub fn set_quantiles_for_metric(
        mut self,
        matcher: Matcher,
        quantiles: &[f64],
    ) -> Result<Self, Error> {
        let q = check_quantiles(Some(&matcher), quantiles)?;
        self.rules.add(matcher, Layout::Quantiles(q));
        Ok(self)
    }

    /// Buckets for histograms no rule matches (the registry's default buckets
    /// otherwise).
    pub fn set_buckets(mut self, bounds: &[f64]) -> Result<Self, Error> {
        let buckets = Buckets::new(bounds).map_err(|source| Error::InvalidBuckets {
            matcher: None,
            source,
        })?;
        self.rules.set_default(Layout::Buckets(buckets));
        Ok(self)
    }

    /// Makes histograms no rule matches summaries exporting these quantiles:
    /// what `metrics-exporter-prometheus` does with every histogram that has no
    /// buckets.
    pub fn set_quantiles(mut self, quantiles: &[f64]) -> Result<Self, Error> {
        let q = check_quantiles(None, quantiles)?;
        self.rules.set_default(Layout::Quantiles(q));
        Ok(self)
    }

    /// Calls `hook` with every registration or description the registry
    /// refuses ([`Error::Rejected`]), besides counting it in
    /// [`REJECTED_METRIC`]. The hook runs on the thread that registered, on the
    /// cold path; keep it short (log it, say).
    pub fn on_rejection(mut self, hook: impl Fn(&Error) + Send + Sync + 'static) -> Self {
        self.on_rejection = Some(Arc::new(hook));
        self
    }

    /// The recorder.
    pub fn build(self) -> LakemetricsRecorder {
        LakemetricsRecorder {
            registry: self.registry,
            rules: self.rules,
            on_rejection: self.on_rejection,
            counters: Table::default(),
            gauges: Table::default(),
            histograms: Table::default(),
        }
    }

    /// Builds the recorder and installs it as the process' global `metrics`
    /// recorder; see [`LakemetricsRecorder::install`].
    pub fn install(self) -> Result<(), Error> {
        self.build().install()
    }
}

fn check_quantiles(matcher: Option<&Matcher>, quantiles: &[f64]) -> Result<Vec<f64>, Error> {
    if quantiles.is_empty() || quantiles.iter().any(|q| !(0.0..=1.0).contains(q)) {
        return Err(Error::InvalidQuantiles {
            matcher: matcher.cloned(),
            quantiles: quantiles.to_vec(),
        });
    }
    Ok(quantiles.to_vec())
}

/// lakemetrics as the recorder behind the `metrics` facade: `counter!`,
/// `gauge!` and `histogram!` record into series of a [`Registry`], with its
/// history, windowed queries and exports.
///
/// - `describe_*` registers the family with its HELP text and unit
///   (`Unit::Count` is left out: it names no unit). Describe before the first
///   use: a family's description cannot change once it exists, so a later,
///   different one is refused and counted (`reason="family_conflict"`); the
///   same one again is fine.
/// - `register_*` returns a handle backed by one lakemetrics series: held, it
///   costs one lakemetrics recording per call (and the facade's virtual call);
///   through the macro, which registers on every call, a lookup of the call
///   site's key first: in a per-thread cache (no lock, no allocation; the
///   `Arc` clone and drop of the returned `metrics::Counter` are the facade's),
///   else in a sharded table under a read lock.
/// - Names are sanitised ([`names`](crate::names)); whatever the registry
///   still refuses (a kind clash, a reserved or repeated label, a value over
///   the length limit, a name clash) gets a no-op handle, is counted in
///   [`REJECTED_METRIC`] and goes to the [`RecorderBuilder::on_rejection`]
///   hook: never a panic, never a broken exposition.
/// - Past a cardinality limit, the family's overflow series (the registry
///   counts it in `lakemetrics_cardinality_overflow`): nothing recorded is lost.
///
/// The recorder holds every handle it gave out, so series recorded through it
/// are never reclaimed as idle.
///
/// ```
/// use lakemetrics_core::Registry;
/// use lakemetrics_metrics::LakemetricsRecorder;
///
/// let reg = Registry::new();
/// let recorder = LakemetricsRecorder::new(&reg);
/// metrics::with_local_recorder(&recorder, || {
///     metrics::describe_counter!("rows_total", "Rows ingested.");
///     metrics::counter!("rows_total", "handler" => "csv").increment(3);
///     metrics::gauge!("queue_depth").set(7.0);
/// });
/// assert_eq!(reg.counter("rows_total", &[("handler", "csv")]).unwrap().get(), 3);
/// assert_eq!(reg.gauge("queue_depth", &[]).unwrap().get(), 7.0);
/// ```
pub struct LakemetricsRecorder {
    registry: Registry,
    rules: Rules,
    on_rejection: Option<RejectionHook>,
    counters: Table<CounterHandle>,
    gauges: Table<GaugeHandle>,
    histograms: Table<DistributionHandle>,
}

impl fmt::Debug for LakemetricsRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LakemetricsRecorder")
            .field("registry", &self.registry)
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl LakemetricsRecorder {
    /// A recorder into `registry` with the default layouts (histograms with the
    /// registry's default buckets).
    pub fn new(registry: &Registry) -> LakemetricsRecorder {
        LakemetricsRecorder::builder(registry).build()
    }

    /// A builder, for histogram layouts per name and a rejection hook.
    pub fn builder(registry: &Registry) -> RecorderBuilder {
        RecorderBuilder {
            registry: registry.clone(),
            rules: Rules::default(),
            on_rejection: None,
        }
    }

    /// The registry recorded into.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Installs this recorder as the process' global `metrics` recorder.
    ///
    /// `metrics` accepts one global recorder per process, for its lifetime: a
    /// second install (of this recorder or any other) fails with
    /// [`Error::AlreadyInstalled`], and the recorder passed is dropped.
    pub fn install(self) -> Result<(), Error> {
        metrics::set_global_recorder(self).map_err(|_| Error::AlreadyInstalled)
    }

    /// Counts a refusal and hands it to the hook.
    #[cold]
    fn reject(&self, kind: MetricKind, name: &str, source: CoreError) {
        let reason = reason(&source);
        let _ = self.registry.register(Describe::counter(REJECTED_METRIC).help(
            "Registrations and descriptions through the `metrics` facade that the registry refused, by reason.",
        ));
        if let Ok(c) = self
            .registry
            .counter_or_overflow(REJECTED_METRIC, &[("reason", reason)])
        {
            c.inc();
        }
        if let Some(hook) = &self.on_rejection {
            hook(&Error::Rejected {
                kind,
                name: name.into(),
                source,
            });
        }
    }

    /// The family description a first use or a `describe_*` of `name` gives.
    fn family(&self, name: &str, kind: MetricKind) -> Describe {
        match kind {
            MetricKind::Histogram => match self.rules.layout(name) {
                Some(Layout::Buckets(b)) => Describe::histogram(name).buckets(b.clone()),
                Some(Layout::Quantiles(q)) => Describe::summary(name).objectives(q.clone()),
                None => Describe::histogram(name),
            },
            kind => Describe::new(name, kind),
        }
    }

    /// Registers the family of `name` for a first use unless it exists. A
    /// family registered meanwhile by a `describe_*` (another HELP text) is
    /// fine: the lookup that follows checks the kind.
    fn ensure_family(&self, name: &str, kind: MetricKind) -> Result<(), CoreError> {
        if self.registry.describe(name).is_some() {
            return Ok(());
        }
        match self.registry.register(self.family(name, kind)) {
            Ok(()) | Err(CoreError::FamilyConflict { .. } | CoreError::KindConflict { .. }) => {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn describe(&self, key: &KeyName, kind: MetricKind, unit: Option<Unit>, help: &SharedString) {
        let name = sanitize_metric_name(key.as_str());
        let mut d = self.family(&name, kind).help(&**help);
        if let Some(unit) = unit.filter(|u| *u != Unit::Count) {
            d = d.unit(unit.as_str());
        }
        if let Err(e) = self.registry.register(d) {
            self.reject(kind, &name, e);
        }
    }

    /// The slow path of every `register_*`: sanitise, create the family and
    /// the series, and file its handle under `key`. `None`: refused (counted).
    #[cold]
    fn create<T: Send + Sync>(
        &self,
        table: &Table<T>,
        key: &Key,
        kind: MetricKind,
        lookup: impl Fn(&str, &[(&str, &str)], bool) -> Result<(usize, T), CoreError>,
    ) -> Option<Arc<T>> {
        let name = sanitize_metric_name(key.name());
        let labels: Vec<(Cow<'_, str>, &str)> = key
            .labels()
            .map(|l| (sanitize_label_name(l.key()), l.value()))
            .collect();
        let pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (&**k, *v)).collect();
        if let Err(e) = self.ensure_family(&name, kind) {
            self.reject(kind, &name, e);
            return None;
        }
        match lookup(&name, &pairs, false) {
            Ok((series, handle)) => Some(table.insert(key, series, || handle)),
            // Past a limit: the overflow series, not filed under the key (so
            // the table stays as bounded as the registry); each such call
            // allocates its `Arc`.
            Err(CoreError::CardinalityLimit { .. }) => match lookup(&name, &pairs, true) {
                Ok((_, handle)) => Some(Arc::new(handle)),
                Err(e) => {
                    self.reject(kind, &name, e);
                    None
                }
            },
            Err(e) => {
                self.reject(kind, &name, e);
                None
            }
        }
    }

    fn counter(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        overflow: bool,
    ) -> Result<Counter, CoreError> {
        if overflow {
            self.registry.counter_or_overflow(name, labels)
        } else {
            self.registry.counter(name, labels)
        }
    }
}

impl metrics::Recorder for LakemetricsRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(&key, MetricKind::Counter, unit, &description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(&key, MetricKind::Gauge, unit, &description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(&key, MetricKind::Histogram, unit, &description);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> metrics::Counter {
        let handle = self.counters.get(key).or_else(|| {
            self.create(
                &self.counters,
                key,
                MetricKind::Counter,
                |name, labels, overflow| {
                    let c = self.counter(name, labels, overflow)?;
                    Ok((CounterHandle::series_id(&c), CounterHandle::new(c)))
                },
            )
        });
        handle.map_or_else(metrics::Counter::noop, metrics::Counter::from_arc)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> metrics::Gauge {
        let handle = self.gauges.get(key).or_else(|| {
            self.create(
                &self.gauges,
                key,
                MetricKind::Gauge,
                |name, labels, overflow| {
                    let g = if overflow {
                        self.registry.gauge_or_overflow(name, labels)?
                    } else {
                        self.registry.gauge(name, labels)?
                    };
                    Ok((GaugeHandle::series_id(&g), GaugeHandle::new(g)))
                },
            )
        });
        handle.map_or_else(metrics::Gauge::noop, metrics::Gauge::from_arc)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> metrics::Histogram {
        let handle = self.histograms.get(key).or_else(|| {
            self.create(
                &self.histograms,
                key,
                MetricKind::Histogram,
                |name, labels, overflow| {
                    let summary = self
                        .registry
                        .describe(name)
                        .is_some_and(|d| d.kind() == MetricKind::Summary);
                    let h = match (summary, overflow) {
                        (true, false) => {
                            DistributionHandle::Summary(self.registry.summary(name, labels)?)
                        }
                        (true, true) => DistributionHandle::Summary(
                            self.registry.summary_or_overflow(name, labels)?,
                        ),
                        (false, false) => {
                            DistributionHandle::Histogram(self.registry.histogram(name, labels)?)
                        }
                        (false, true) => DistributionHandle::Histogram(
                            self.registry.histogram_or_overflow(name, labels)?,
                        ),
                    };
                    Ok((h.series_id(), h))
                },
            )
        });
        handle.map_or_else(metrics::Histogram::noop, metrics::Histogram::from_arc)
    }
}
