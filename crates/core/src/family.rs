//! Families: everything registered under one metric name.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::RwLock;

use crate::buckets::Buckets;
use crate::handles::{Counter, Gauge, Histogram, Summary};
use crate::intern::Sym;
use crate::labels::{validate_metric_name, validate_unit};
use crate::retention::{Geometry, Retention, MAX_SLOTS};
use crate::sketch::SketchMapping;
use crate::storage::ring::Rows;
use crate::storage::slab::Slab;
use crate::storage::stripes::Stripes;
use crate::storage::{
    chunk, CounterCore, GaugeCore, HistogramCore, NativeConfig, NativeCore, SummaryCore,
};
use crate::{ClockSource, Error, MetricKind, Result};

/// The description of a family: kind, metadata, layout and limits. Register it with
/// [`Registry::register`](crate::Registry::register) before its first series to
/// give it more than the registry's defaults.
///
/// ```
/// use std::time::Duration;
/// use lakemetrics_core::{Buckets, Describe, Registry};
/// let reg = Registry::new();
/// reg.register(
///     Describe::histogram("ingest_batch_seconds")
///         .help("Time to process one batch.")
///         .unit("seconds")
///         .buckets(Buckets::exponential(0.001, 2.0, 12).unwrap())
///         .max_series(100)
///         .idle_ttl(Duration::from_secs(3600)),
/// )
/// .unwrap();
/// let h = reg.histogram("ingest_batch_seconds", &[("handler", "csv")]).unwrap();
/// h.observe(0.02);
/// ```
#[derive(Clone, PartialEq)]
pub struct Describe {
    pub(crate) name: String,
    pub(crate) kind: MetricKind,
    pub(crate) help: String,
    pub(crate) unit: Option<String>,
    pub(crate) buckets: Option<Buckets>,
    pub(crate) objectives: Option<Vec<f64>>,
    pub(crate) mapping: Option<SketchMapping>,
    pub(crate) retention: Option<Retention>,
    pub(crate) max_series: Option<usize>,
    pub(crate) idle_ttl: Option<Duration>,
    pub(crate) memory_budget: Option<u64>,
    pub(crate) striped: bool,
    /// Native buckets (histograms only); validated when the family is built.
    pub(crate) native: Option<NativeConfig>,
}

/// `native` and `striped` are shown only when set, so that a family without
/// them prints as it did before they existed (dumps and logs compare across versions).
impl std::fmt::Debug for Describe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Describe");
        d.field("name", &self.name)
            .field("kind", &self.kind)
            .field("help", &self.help)
            .field("unit", &self.unit)
            .field("buckets", &self.buckets)
            .field("objectives", &self.objectives)
            .field("mapping", &self.mapping)
            .field("retention", &self.retention)
            .field("max_series", &self.max_series)
            .field("idle_ttl", &self.idle_ttl)
            .field("memory_budget", &self.memory_budget);
        if let Some(native) = &self.native {
            d.field("native", native);
        }
        if self.striped {
            d.field("striped", &self.striped);
        }
        d.finish()
    }
}

/// Default summary objectives.
pub const DEFAULT_OBJECTIVES: [f64; 3] = [0.5, 0.9, 0.99];

impl Describe {
    /// A family of `kind` named `name`, with the registry's defaults.
    pub fn new(name: impl Into<String>, kind: MetricKind) -> Describe {
        Describe {
            name: name.into(),
            kind,
            help: String::new(),
            unit: None,
            buckets: None,
            objectives: None,
            mapping: None,
            retention: None,
            max_series: None,
            idle_ttl: None,
            memory_budget: None,
            striped: false,
            native: None,
        }
    }

    /// The metric name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kind.
    pub fn kind(&self) -> MetricKind {
        self.kind
    }

    /// A counter family.
    pub fn counter(name: impl Into<String>) -> Describe {
        Describe::new(name, MetricKind::Counter)
    }

    /// A gauge family.
    pub fn gauge(name: impl Into<String>) -> Describe {
        Describe::new(name, MetricKind::Gauge)
    }

    /// A histogram family.
    pub fn histogram(name: impl Into<String>) -> Describe {
        Describe::new(name, MetricKind::Histogram)
    }

    /// A summary family.
    pub fn summary(name: impl Into<String>) -> Describe {
        Describe::new(name, MetricKind::Summary)
    }

    /// The HELP text (any UTF-8; exporters escape it).
    pub fn help(mut self, help: impl Into<String>) -> Describe {
        self.help = help.into();
        self
    }

    /// The unit (`seconds`, `bytes`, ...).
    pub fn unit(mut self, unit: impl Into<String>) -> Describe {
        self.unit = Some(unit.into());
        self
    }

    /// Native (exponential) buckets at `schema` (-4..=8, growth `2^(2^-schema)`),
    /// histograms only: with [`Describe::buckets`] too, the histogram keeps
    /// both; without, only native buckets (and exports count, sum and `+Inf`
    /// as classic text). An out-of-range schema, zero threshold or bucket limit
    /// fails registration with `Error::InvalidConfig`.
    ///
    /// ```
    /// use lakemetrics_core::{Describe, Registry};
    /// let reg = Registry::new();
    /// reg.register(Describe::histogram("lat").native(3).native_max_buckets(100)).unwrap();
    /// let h = reg.histogram("lat", &[]).unwrap();
    /// h.observe(0.25);
    /// assert_eq!(h.native_snapshot().unwrap().positive, vec![(-16, 1)]);
    /// assert!(Registry::new().register(Describe::histogram("x").native(9)).is_err());
    /// ```
    pub fn native(mut self, schema: i8) -> Describe {
        self.native = Some(NativeConfig {
            schema,
            ..self.native_or_default()
        });
        self
    }

    /// The native zero bucket's threshold (default [`crate::DEFAULT_ZERO_THRESHOLD`]):
    /// values with `|v| <=` it are counted there. Implies native buckets.
    pub fn native_zero_threshold(mut self, threshold: f64) -> Describe {
        self.native = Some(NativeConfig {
            zero_threshold: threshold,
            ..self.native_or_default()
        });
        self
    }

    /// Most native buckets before the resolution is halved (default
    /// [`crate::DEFAULT_NATIVE_MAX_BUCKETS`]). Implies native buckets.
    pub fn native_max_buckets(mut self, max: u32) -> Describe {
        self.native = Some(NativeConfig {
            max_buckets: max,
            ..self.native_or_default()
        });
        self
    }

    fn native_or_default(&self) -> NativeConfig {
        self.native.unwrap_or(NativeConfig {
            schema: 3,
            zero_threshold: crate::DEFAULT_ZERO_THRESHOLD,
            max_buckets: crate::DEFAULT_NATIVE_MAX_BUCKETS,
        })
    }

    /// Histogram bucket layout (histograms only).
    pub fn buckets(mut self, buckets: Buckets) -> Describe {
        self.buckets = Some(buckets);
        self
    }

    /// Quantiles a summary exports (summaries only); each in `[0, 1]`.
    pub fn objectives(mut self, objectives: impl Into<Vec<f64>>) -> Describe {
        self.objectives = Some(objectives.into());
        self
    }

    /// Relative error and range of a summary's sketch (summaries only).
    pub fn sketch(mut self, mapping: SketchMapping) -> Describe {
        self.mapping = Some(mapping);
        self
    }

    /// History kept by this family's series (the registry's by default).
    pub fn retention(mut self, retention: Retention) -> Describe {
        self.retention = Some(retention);
        self
    }

    /// Most series this family may hold (the registry's per-family default otherwise).
    pub fn max_series(mut self, max: usize) -> Describe {
        self.max_series = Some(max);
        self
    }

    /// A series with no recording for this long is left out of exports and, once
    /// no handle holds it, reclaimed by the next visit of the registry. (The
    /// per-thread lookup cache counts as a holder: a thread keeps at most 64
    /// recently looked-up series of a registry that way, until other lookups
    /// displace them, the thread ends or the registry is dropped.)
    pub fn idle_ttl(mut self, ttl: Duration) -> Describe {
        self.idle_ttl = Some(ttl);
        self
    }

    /// The most memory this family's series may take for their state and history:
    /// registering it fails with [`Error::MemoryBudget`] if its series limit times
    /// the bytes one series takes at its retention (see
    /// [`Registry::series_bytes`](crate::Registry::series_bytes)) is over
    /// `bytes`. Checked once, when the family is registered; label strings, which
    /// depend on the values, are not part of it.
    ///
    /// ```
    /// use lakemetrics_core::{Describe, Error, Registry};
    /// let reg = Registry::new();
    /// // 100,000 counters with 60 epochs of history need about 61 MB.
    /// let err = reg
    ///     .register(Describe::counter("rows").max_series(100_000).memory_budget(32 << 20))
    ///     .unwrap_err();
    /// assert!(matches!(err, Error::MemoryBudget { .. }));
    /// reg.register(Describe::counter("rows").max_series(10_000).memory_budget(32 << 20))
    ///     .unwrap();
    /// ```
    pub fn memory_budget(mut self, bytes: u64) -> Describe {
        self.memory_budget = Some(bytes);
        self
    }

    /// Stripes every series of this family (counters and classic histograms
    /// only): a series keeps one copy of its cumulative state per stripe, each
    /// on its own cache lines, and each thread records into one of them
    /// (threads are numbered round-robin on first use), so threads recording
    /// into one series at once do not take turns owning one cache line. Reads
    /// add the stripes up; totals, history and windowed answers are exact as
    /// without stripes.
    ///
    /// There are as many stripes as CPUs the process may use (rounded up to a
    /// power of two, at least 2 and at most 16), and each takes a cache-line
    /// pair (128 bytes on x86-64) per 16 words of state (a counter's 8-byte
    /// total; a histogram's bucket counts and sum), plus up to 120 bytes to
    /// align the first: a striped counter or histogram (up to 15 buckets, `+Inf`
    /// included) takes `120 + 128 × stripes` bytes more than an unstriped one
    /// (376 with 2 stripes, 2,168 with 16; a counter without history 16 more).
    /// Worth it for the few series that several threads record into all the
    /// time; for the others one copy costs less and is as fast (see
    /// `docs/architecture.md`, "Striped series").
    ///
    /// Striping is a layout, not part of what the family means: registering a
    /// family again with or without it is not a conflict, and the layout of the
    /// first registration stays (so a checkpoint, which does not record it,
    /// restores into a family the application registered striped).
    ///
    /// ```
    /// use lakemetrics_core::{Describe, Registry};
    /// let reg = Registry::new();
    /// reg.register(Describe::counter("rows_ingested").striped()).unwrap();
    /// let c = reg.counter("rows_ingested", &[]).unwrap();
    /// std::thread::scope(|s| {
    ///     for _ in 0..4 {
    ///         s.spawn(|| (0..1000).for_each(|_| c.inc()));
    ///     }
    /// });
    /// assert_eq!(c.get(), 4000);
    /// assert!(c.core().stripes() >= 2);
    /// ```
    pub fn striped(mut self) -> Describe {
        self.striped = true;
        self
    }
}

/// The series of a family, as stored.
#[derive(Clone)]
pub(crate) enum AnySeries {
    Counter(Counter),
    Gauge(Gauge),
    Histogram(Histogram),
    Summary(Summary),
}

/// A series' labels, sorted by name, in 32 bytes: one or two pairs inside the
/// series' own allocation (a render reads them from the cache lines it fetches
/// for the value, with no second pointer to chase), none or more than two on the
/// heap (an empty set allocates nothing).
///
/// One pair is stored twice: label names are unique within a set (creation
/// refuses duplicates), so two inline pairs whose names are the same interned
/// string are one label. A `SmallVec<[_; 2]>` took 40 bytes for its length and
/// discriminant, which put a series with 60 epochs of history one malloc size
/// class higher.
#[derive(Clone)]
pub(crate) enum LabelSet {
    Inline([(Sym, Sym); 2]),
    Heap(Box<[(Sym, Sym)]>),
}

impl LabelSet {
    /// Bytes on the heap, as the allocator lays them out.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            LabelSet::Inline(_) => 0,
            LabelSet::Heap(b) if b.is_empty() => 0,
            LabelSet::Heap(b) => chunk(std::mem::size_of_val::<[(Sym, Sym)]>(b)),
        }
    }
}

impl std::ops::Deref for LabelSet {
    type Target = [(Sym, Sym)];

    #[inline]
    fn deref(&self) -> &[(Sym, Sym)] {
        match self {
            LabelSet::Inline(p) if p[0].0.ptr_eq(&p[1].0) => &p[..1],
            LabelSet::Inline(p) => p,
            LabelSet::Heap(b) => b,
        }
    }
}

impl FromIterator<(Sym, Sym)> for LabelSet {
    /// The pairs, already sorted by name and with unique names.
    fn from_iter<I: IntoIterator<Item = (Sym, Sym)>>(iter: I) -> LabelSet {
        let mut it = iter.into_iter();
        let Some(a) = it.next() else {
            return LabelSet::Heap(Box::default());
        };
        let Some(b) = it.next() else {
            return LabelSet::Inline([a.clone(), a]);
        };
        match it.next() {
            None => LabelSet::Inline([a, b]),
            Some(c) => LabelSet::Heap([a, b, c].into_iter().chain(it).collect()),
        }
    }
}

impl std::fmt::Debug for LabelSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// What every series of a family shares, allocated once per family: the ring's
/// shape, the family's name (an index lookup confirms a series' family by it) and
/// the registry's clock (each recording reads it). A series points here instead
/// of keeping copies: one pointer, where copies of the clock and the ring shape
/// took 48 bytes.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) geometry: Geometry,
    pub(crate) name: Sym,
    pub(crate) clock: ClockSource,
    /// The ring blocks of the family's counters (see [`Slab`]), their
    /// stripes after the rows.
    pub(crate) rings: Slab,
    /// The stripes of the family's counters (`Stripes::NONE`: unstriped).
    pub(crate) stripes: Stripes,
}

impl Shared {
    /// Shared parts for a state made outside any family (unit tests, loom models).
    #[cfg(any(test, loom))]
    pub(crate) fn detached(geometry: Geometry) -> Arc<Shared> {
        Arc::new(Shared {
            geometry,
            name: crate::intern::Interner::default().intern(""),
            clock: ClockSource::default(),
            rings: Slab::new(Rows::<1>::block_words(&geometry)),
            stripes: Stripes::NONE,
        })
    }

    /// As [`Shared::detached`], for counters of `count` stripes.
    #[cfg(any(test, loom))]
    pub(crate) fn detached_striped(geometry: Geometry, count: usize) -> Arc<Shared> {
        let stripes = Stripes::new(count, 1);
        Arc::new(Shared {
            geometry,
            name: crate::intern::Interner::default().intern(""),
            clock: ClockSource::default(),
            rings: Slab::new(Rows::<1>::block_words(&geometry) + stripes.tail_words()),
            stripes,
        })
    }
}

/// One series: its state, its labels and when it was created.
///
/// The family's shared parts are behind one pointer: inside the state for
/// counters and gauges (which need the ring's shape), in `shared` for the kinds
/// whose state keeps its own shape (`S = Arc<Shared>`: histograms, summaries).
pub(crate) struct Series<T, S = ()> {
    pub(crate) core: T,
    /// Sorted by label name.
    pub(crate) labels: LabelSet,
    pub(crate) created: u64,
    pub(crate) shared: S,
}

impl Series<CounterCore> {
    /// What the family's series share.
    #[inline]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        self.core.shared()
    }
}

impl Series<GaugeCore> {
    /// What the family's series share.
    #[inline]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        self.core.shared()
    }
}

impl<T> Series<T, Arc<Shared>> {
    /// What the family's series share.
    #[inline]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

/// A borrowed series of any kind: what visits and the family list hand out.
#[derive(Clone, Copy)]
pub(crate) enum SeriesRef<'a> {
    Counter(&'a Counter),
    Gauge(&'a Gauge),
    Histogram(&'a Histogram),
    Summary(&'a Summary),
}

/// Calls `$f` on the series behind a `SeriesRef`, whatever its kind.
macro_rules! each {
    ($r:expr, $s:ident => $f:expr) => {
        match $r {
            SeriesRef::Counter($s) => $f,
            SeriesRef::Gauge($s) => $f,
            SeriesRef::Histogram($s) => $f,
            SeriesRef::Summary($s) => $f,
        }
    };
}

impl<'a> SeriesRef<'a> {
    pub(crate) fn labels(self) -> &'a [(Sym, Sym)] {
        each!(self, s => &s.0.labels)
    }

    pub(crate) fn created(self) -> u64 {
        each!(self, s => s.0.created)
    }

    /// The family's shared parts (ring shape, name, clock).
    pub(crate) fn shared(self) -> &'a Arc<Shared> {
        each!(self, s => s.0.shared())
    }

    /// The family's name.
    pub(crate) fn name(self) -> &'a Sym {
        &self.shared().name
    }

    /// The shape of the series' ring.
    pub(crate) fn geometry(self) -> Geometry {
        each!(self, s => s.0.core.geometry())
    }

    /// Start of the newest epoch the series was created in or recorded in, and
    /// that epoch's width.
    pub(crate) fn last_active(self) -> (u64, u64) {
        let (g, e) = each!(self, s => (s.0.core.geometry(), s.0.core.last_epoch()));
        (g.epoch_start(e), g.width_nanos())
    }

    /// Loads saved state (see [`crate::storage::SeriesState`]); false if it does not fit.
    pub(crate) fn restore(self, state: &crate::storage::SeriesState, history: bool) -> bool {
        each!(self, s => s.0.core.restore(state, history))
    }

    /// Heap bytes this series takes as the allocator lays them out: its shared
    /// allocation, its history arrays and its label slice.
    pub(crate) fn heap_bytes(self, family: &Family) -> usize {
        family.series_bytes() + each!(self, s => s.0.labels.heap_bytes())
    }

    /// Owners of the series (handles, the index, the family list, caches).
    pub(crate) fn strong_count(self) -> usize {
        each!(self, s => triomphe::Arc::count(&s.0))
    }

    /// Whether `other` is this very series.
    pub(crate) fn same(self, other: &AnySeries) -> bool {
        match (self, other) {
            (SeriesRef::Counter(a), AnySeries::Counter(b)) => triomphe::Arc::ptr_eq(&a.0, &b.0),
            (SeriesRef::Gauge(a), AnySeries::Gauge(b)) => triomphe::Arc::ptr_eq(&a.0, &b.0),
            (SeriesRef::Histogram(a), AnySeries::Histogram(b)) => triomphe::Arc::ptr_eq(&a.0, &b.0),
            (SeriesRef::Summary(a), AnySeries::Summary(b)) => triomphe::Arc::ptr_eq(&a.0, &b.0),
            _ => false,
        }
    }
}

impl AnySeries {
    /// The series, borrowed.
    #[inline]
    pub(crate) fn as_ref(&self) -> SeriesRef<'_> {
        match self {
            AnySeries::Counter(s) => SeriesRef::Counter(s),
            AnySeries::Gauge(s) => SeriesRef::Gauge(s),
            AnySeries::Histogram(s) => SeriesRef::Histogram(s),
            AnySeries::Summary(s) => SeriesRef::Summary(s),
        }
    }

    pub(crate) fn labels(&self) -> &[(Sym, Sym)] {
        self.as_ref().labels()
    }

    /// The family's shared parts (ring shape, name, clock).
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        self.as_ref().shared()
    }

    /// The family's name.
    pub(crate) fn name(&self) -> &Sym {
        self.as_ref().name()
    }
}

/// Iterator over a [`SeriesList`].
pub(crate) enum SeriesIter<'a> {
    Counter(std::slice::Iter<'a, Counter>),
    Gauge(std::slice::Iter<'a, Gauge>),
    Histogram(std::slice::Iter<'a, Histogram>),
    Summary(std::slice::Iter<'a, Summary>),
}

impl<'a> Iterator for SeriesIter<'a> {
    type Item = SeriesRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<SeriesRef<'a>> {
        match self {
            SeriesIter::Counter(i) => i.next().map(SeriesRef::Counter),
            SeriesIter::Gauge(i) => i.next().map(SeriesRef::Gauge),
            SeriesIter::Histogram(i) => i.next().map(SeriesRef::Histogram),
            SeriesIter::Summary(i) => i.next().map(SeriesRef::Summary),
        }
    }
}

/// A family's series in creation order, typed by the family's kind: an entry is
/// a handle (8 bytes), where a kind-tagged `AnySeries` took 16.
pub(crate) enum SeriesList {
    Counter(Vec<Counter>),
    Gauge(Vec<Gauge>),
    Histogram(Vec<Histogram>),
    Summary(Vec<Summary>),
}

impl SeriesList {
    fn new(kind: MetricKind) -> SeriesList {
        match kind {
            MetricKind::Counter => SeriesList::Counter(Vec::new()),
            MetricKind::Gauge => SeriesList::Gauge(Vec::new()),
            MetricKind::Histogram => SeriesList::Histogram(Vec::new()),
            MetricKind::Summary => SeriesList::Summary(Vec::new()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            SeriesList::Counter(v) => v.len(),
            SeriesList::Gauge(v) => v.len(),
            SeriesList::Histogram(v) => v.len(),
            SeriesList::Summary(v) => v.len(),
        }
    }

    /// Heap bytes of the list itself (its capacity), in a malloc chunk.
    pub(crate) fn heap_bytes(&self) -> usize {
        fn bytes<T>(v: &Vec<T>) -> usize {
            chunk(v.capacity() * std::mem::size_of::<T>())
        }
        match self {
            SeriesList::Counter(v) => bytes(v),
            SeriesList::Gauge(v) => bytes(v),
            SeriesList::Histogram(v) => bytes(v),
            SeriesList::Summary(v) => bytes(v),
        }
    }

    /// Appends a series of the list's kind (a family's series all are).
    pub(crate) fn push(&mut self, s: AnySeries) {
        match (self, s) {
            (SeriesList::Counter(v), AnySeries::Counter(s)) => v.push(s),
            (SeriesList::Gauge(v), AnySeries::Gauge(s)) => v.push(s),
            (SeriesList::Histogram(v), AnySeries::Histogram(s)) => v.push(s),
            (SeriesList::Summary(v), AnySeries::Summary(s)) => v.push(s),
            _ => debug_assert!(false, "a series of another kind than its family"),
        }
    }

    /// The series, in creation order.
    pub(crate) fn iter(&self) -> SeriesIter<'_> {
        match self {
            SeriesList::Counter(v) => SeriesIter::Counter(v.iter()),
            SeriesList::Gauge(v) => SeriesIter::Gauge(v.iter()),
            SeriesList::Histogram(v) => SeriesIter::Histogram(v.iter()),
            SeriesList::Summary(v) => SeriesIter::Summary(v.iter()),
        }
    }

    /// Keeps the series for which `keep` returns true, in order.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(SeriesRef<'_>) -> bool) {
        match self {
            SeriesList::Counter(v) => v.retain(|s| keep(SeriesRef::Counter(s))),
            SeriesList::Gauge(v) => v.retain(|s| keep(SeriesRef::Gauge(s))),
            SeriesList::Histogram(v) => v.retain(|s| keep(SeriesRef::Histogram(s))),
            SeriesList::Summary(v) => v.retain(|s| keep(SeriesRef::Summary(s))),
        }
    }
}

/// Everything registered under one name.
pub(crate) struct Family {
    pub(crate) name: Sym,
    pub(crate) kind: MetricKind,
    pub(crate) help: String,
    pub(crate) unit: Option<String>,
    pub(crate) buckets: Buckets,
    pub(crate) objectives: Box<[f64]>,
    pub(crate) mapping: SketchMapping,
    pub(crate) retention: Retention,
    pub(crate) geometry: Geometry,
    /// Ring shape, name and clock, shared by every series.
    pub(crate) shared: Arc<Shared>,
    /// The name as the `Error::CardinalityLimit` of a refused lookup shares it
    /// (no allocation on that path).
    pub(crate) name_arc: Arc<str>,
    pub(crate) max_series: usize,
    pub(crate) idle_ttl: Option<Duration>,
    /// In creation order; the overflow series is not among them.
    pub(crate) series: RwLock<SeriesList>,
    /// `series.len()`, readable without the list's lock: a lookup past the limit
    /// checks it and refuses without taking a write lock. Stored (Release) under
    /// the list's write lock after every change; see `Registry::create`.
    pub(crate) len: AtomicUsize,
    pub(crate) overflow: OnceLock<AnySeries>,
    /// Internal families (self-metrics) are exempt from the registry-wide limit.
    pub(crate) internal: bool,
    pub(crate) memory_budget: Option<u64>,
    /// Stripes of the family's series (`Stripes::NONE`: unstriped); a
    /// histogram's are widened to its counts and sum.
    pub(crate) stripes: Stripes,
    /// Native buckets, validated (histograms only).
    pub(crate) native: Option<NativeConfig>,
}

/// Registry-wide defaults a family falls back on.
pub(crate) struct Defaults {
    pub(crate) retention: Retention,
    pub(crate) buckets: Buckets,
    pub(crate) mapping: SketchMapping,
    pub(crate) max_series_per_family: usize,
    pub(crate) idle_ttl: Option<Duration>,
    /// The registry's clock, which every series reads.
    pub(crate) clock: ClockSource,
}

impl Family {
    pub(crate) fn build(d: &Describe, name: Sym, defaults: &Defaults) -> Result<Family> {
        validate_metric_name(&d.name)?;
        if let Some(u) = &d.unit {
            validate_unit(u)?;
        }
        // Options that only one kind takes.
        let only = |given: bool, what: &'static str, kind: MetricKind| {
            if !given || d.kind == kind {
                Ok(())
            } else {
                Err(Error::InvalidConfig {
                    what,
                    reason: format!(
                        "only a {kind} takes {what}, and {:?} is a {}",
                        d.name, d.kind
                    ),
                })
            }
        };
        only(d.buckets.is_some(), "buckets", MetricKind::Histogram)?;
        if d.striped && !matches!(d.kind, MetricKind::Counter | MetricKind::Histogram) {
            return Err(Error::InvalidConfig {
                what: "striped",
                reason: format!(
                    "only counters and histograms are striped, and {:?} is a {}",
                    d.name, d.kind
                ),
            });
        }
        only(d.native.is_some(), "native buckets", MetricKind::Histogram)?;
        let native = d.native.map(NativeConfig::validated).transpose()?;
        only(
            d.objectives.is_some() || d.mapping.is_some(),
            "objectives",
            MetricKind::Summary,
        )?;
        let objectives: Box<[f64]> = match &d.objectives {
            Some(o) => {
                if let Some(q) = o.iter().find(|q| !(0.0..=1.0).contains(*q)) {
                    return Err(Error::InvalidConfig {
                        what: "objectives",
                        reason: format!("quantile {q} is not in [0, 1]"),
                    });
                }
                o.clone().into()
            }
            None => DEFAULT_OBJECTIVES.into(),
        };
        if d.max_series == Some(0) {
            return Err(Error::InvalidConfig {
                what: "max_series",
                reason: "a family must allow at least one series".into(),
            });
        }
        let retention = d.retention.unwrap_or(defaults.retention);
        let idle_ttl = d.idle_ttl.or(defaults.idle_ttl);
        if idle_ttl.is_some() && !retention.has_history() {
            return Err(Error::InvalidConfig {
                what: "idle_ttl",
                reason: format!(
                    "{:?} keeps no history (Retention::NONE), so it cannot tell when a series went idle",
                    d.name
                ),
            });
        }
        // Every kind keeps one history point per epoch at the family's resolution.
        let geometry = retention.geometry(MAX_SLOTS);
        // Native buckets without classic ones: only `+Inf` (count and sum).
        let buckets = match (&d.buckets, native) {
            (Some(b), _) => b.clone(),
            (None, Some(_)) => Buckets::none(),
            (None, None) => defaults.buckets.clone(),
        };
        // A counter's stripe is its total; a histogram's, its bucket counts and
        // sum (`HistogramCore` widens it to that).
        let stripes = if d.striped {
            Stripes::for_this_machine(1)
        } else {
            Stripes::NONE
        };
        let counter_stripes = match d.kind {
            MetricKind::Counter => stripes,
            _ => Stripes::NONE,
        };
        let family = Family {
            shared: Arc::new(Shared {
                geometry,
                name: name.clone(),
                clock: defaults.clock.clone(),
                rings: Slab::new(Rows::<1>::block_words(&geometry) + counter_stripes.tail_words()),
                stripes: counter_stripes,
            }),
            name_arc: Arc::from(name.as_str()),
            name,
            kind: d.kind,
            help: d.help.clone(),
            unit: d.unit.clone(),
            buckets,
            native,
            objectives,
            mapping: d.mapping.unwrap_or(defaults.mapping),
            retention,
            geometry,
            max_series: d.max_series.unwrap_or(defaults.max_series_per_family),
            idle_ttl,
            series: RwLock::new(SeriesList::new(d.kind)),
            len: AtomicUsize::new(0),
            overflow: OnceLock::new(),
            internal: false,
            memory_budget: d.memory_budget,
            stripes,
        };
        if let Some(budget) = d.memory_budget {
            family.check_budget(budget, "family")?;
        }
        Ok(family)
    }

    /// Heap bytes one series of this family takes for its state and history, as
    /// the allocator lays them out: the shared allocation of its handles (state
    /// inline) and the arrays of its history. Labels and index entries are
    /// counted apart (see `Registry::memory_bytes`).
    pub(crate) fn series_bytes(&self) -> usize {
        use std::mem::size_of;
        let g = &self.geometry;
        fn chunks(allocs: &[usize]) -> usize {
            allocs.iter().map(|&a| chunk(a)).sum()
        }
        let (inline, allocs) = match self.kind {
            // The ring block, carved from the family's slab: no malloc chunk
            // of its own (the slab's chunks are counted with the family).
            MetricKind::Counter => (
                size_of::<Series<CounterCore>>(),
                CounterCore::block_bytes(&self.shared),
            ),
            MetricKind::Gauge => (
                size_of::<Series<GaugeCore>>(),
                chunks(&GaugeCore::allocations_for(g)),
            ),
            MetricKind::Histogram => (
                size_of::<Series<HistogramCore, Arc<Shared>>>(),
                chunks(&HistogramCore::allocations_for(
                    g,
                    &self.buckets,
                    self.stripes,
                )) + self
                    .native
                    .map_or(0, |n| chunks(&NativeCore::allocations_for(g, &n))),
            ),
            MetricKind::Summary => (
                size_of::<Series<SummaryCore, Arc<Shared>>>(),
                chunks(&SummaryCore::allocations_for(g, &self.mapping)),
            ),
        };
        // The `Arc`'s count precedes the series.
        chunk(size_of::<usize>() + inline) + allocs
    }

    /// The most this family's series can take: its limit (and overflow series)
    /// times [`Family::series_bytes`].
    pub(crate) fn max_bytes(&self) -> u64 {
        (self.max_series as u64 + 1).saturating_mul(self.series_bytes() as u64)
    }

    /// Fails if [`Family::max_bytes`] is over `budget`.
    pub(crate) fn check_budget(&self, budget: u64, scope: &'static str) -> Result<()> {
        self.fits(self.max_bytes(), budget, scope)
    }

    /// `Error::MemoryBudget` for this family if `needed` bytes are over `budget`.
    pub(crate) fn fits(&self, needed: u64, budget: u64, scope: &'static str) -> Result<()> {
        if needed > budget {
            return Err(Error::MemoryBudget {
                name: self.name.as_str().to_owned(),
                needed,
                max_series: self.max_series,
                per_series: self.series_bytes() as u64,
                budget,
                scope,
            });
        }
        Ok(())
    }

    /// Which option of `other` differs from this family, if any.
    pub(crate) fn conflict(&self, other: &Family) -> Option<&'static str> {
        if self.help != other.help {
            Some("help")
        } else if self.unit != other.unit {
            Some("unit")
        } else if self.memory_budget != other.memory_budget {
            Some("memory_budget")
        } else if self.kind == MetricKind::Histogram && self.buckets != other.buckets {
            Some("buckets")
        } else if self.native != other.native {
            Some("native")
        } else if self.kind == MetricKind::Summary
            && (self.objectives != other.objectives || self.mapping != other.mapping)
        {
            Some("objectives")
        } else if self.retention != other.retention {
            Some("retention")
        } else if self.max_series != other.max_series {
            Some("max_series")
        } else if self.idle_ttl != other.idle_ttl {
            Some("idle_ttl")
        } else {
            None
        }
    }

    /// The description this family was built from (with defaults filled in).
    pub(crate) fn describe(&self) -> Describe {
        let mut d = Describe::new(self.name.as_str(), self.kind)
            .help(self.help.clone())
            .retention(self.retention)
            .max_series(self.max_series);
        if let Some(u) = &self.unit {
            d = d.unit(u.clone());
        }
        if let Some(ttl) = self.idle_ttl {
            d = d.idle_ttl(ttl);
        }
        if let Some(b) = self.memory_budget {
            d = d.memory_budget(b);
        }
        if !self.stripes.is_none() {
            d = d.striped();
        }
        match self.kind {
            MetricKind::Histogram => {
                let mut d = d;
                if !self.buckets.bounds().is_empty() {
                    d = d.buckets(self.buckets.clone());
                }
                d.native = self.native;
                d
            }
            MetricKind::Summary => d.objectives(self.objectives.to_vec()).sketch(self.mapping),
            _ => d,
        }
    }

    /// Whether a series last active at `last_start` (an epoch of `width`) is idle.
    pub(crate) fn is_idle(&self, (last_start, width): (u64, u64), now: u64) -> bool {
        match self.idle_ttl {
            Some(ttl) => {
                let ttl = ttl.as_nanos().min(u64::MAX as u128) as u64;
                now.saturating_sub(last_start.saturating_add(width)) >= ttl
            }
            None => false,
        }
    }

    /// A new series of this family with `labels` (sorted by name), created now
    /// or at `created`.
    pub(crate) fn new_series(&self, labels: LabelSet, created: Option<u64>) -> AnySeries {
        let now = self.shared.clock.now_nanos();
        macro_rules! wrap {
            ($variant:ident, $core:expr, $shared:expr) => {
                AnySeries::$variant($variant(triomphe::Arc::new(Series {
                    core: $core,
                    labels,
                    created: created.unwrap_or(now),
                    shared: $shared,
                })))
            };
        }
        let shared = self.shared.clone();
        match self.kind {
            MetricKind::Counter => wrap!(Counter, CounterCore::new(shared, now), ()),
            MetricKind::Gauge => wrap!(Gauge, GaugeCore::new(shared, now), ()),
            MetricKind::Histogram => {
                let core =
                    HistogramCore::striped(self.buckets.clone(), self.geometry, now, self.stripes)
                        .with_native(self.native.map(|n| NativeCore::new(n, self.geometry, now)));
                wrap!(Histogram, core, shared)
            }
            MetricKind::Summary => {
                let core = SummaryCore::new(self.mapping, self.geometry, now);
                wrap!(Summary, core, shared)
            }
        }
    }

    /// Heap bytes of what the family's series share (its name's `Arc<str>` and
    /// the shared parts).
    pub(crate) fn shared_bytes(&self) -> usize {
        use std::mem::size_of;
        let arc = 2 * size_of::<usize>();
        chunk(arc + self.name_arc.len()) + chunk(arc + size_of::<Shared>())
    }
}

/// Suffixes the exposition formats append to family names.
const SUFFIXES: [&str; 5] = ["_total", "_created", "_bucket", "_sum", "_count"];

/// The names a family of `kind` called `name` puts into the exposition formats:
/// its family name(s) and the names of its samples.
pub(crate) fn exposed_names(name: &str, kind: MetricKind) -> smallvec::SmallVec<[String; 5]> {
    let mut out = smallvec::SmallVec::new();
    match kind {
        MetricKind::Counter => {
            let base = name.strip_suffix("_total").unwrap_or(name);
            out.push(base.to_string());
            out.push(format!("{base}_total"));
            out.push(format!("{base}_created"));
        }
        MetricKind::Gauge => out.push(name.to_string()),
        MetricKind::Histogram => {
            out.push(name.to_string());
            for s in ["_bucket", "_sum", "_count", "_created"] {
                out.push(format!("{name}{s}"));
            }
        }
        MetricKind::Summary => {
            out.push(name.to_string());
            for s in ["_sum", "_count", "_created"] {
                out.push(format!("{name}{s}"));
            }
        }
    }
    out
}

/// A family among `families` whose exposed names overlap those of a new family
/// `name` of `kind`: `(clashing name, other family)`.
pub(crate) fn clash(
    families: &std::collections::BTreeMap<Sym, Arc<Family>>,
    name: &str,
    kind: MetricKind,
) -> Option<(String, String)> {
    for x in exposed_names(name, kind) {
        // Families that could expose `x`: `x` itself, `x` minus a suffix, `x_total`.
        let mut owners: smallvec::SmallVec<[String; 7]> =
            smallvec::smallvec![x.clone(), format!("{x}_total")];
        owners.extend(
            SUFFIXES
                .iter()
                .filter_map(|s| x.strip_suffix(s))
                .map(str::to_string),
        );
        for o in owners {
            if o == name {
                continue;
            }
            if let Some(f) = families.get(o.as_str()) {
                if exposed_names(&f.name, f.kind).contains(&x) {
                    return Some((x, f.name.to_string()));
                }
            }
        }
    }
    None
}

/// The label a kind reserves, if `labels` uses it.
pub(crate) fn reserved_label<'a>(kind: MetricKind, labels: &[(&'a str, &str)]) -> Option<&'a str> {
    let reserved = match kind {
        MetricKind::Histogram => "le",
        MetricKind::Summary => "quantile",
        _ => return None,
    };
    labels.iter().map(|(k, _)| *k).find(|k| *k == reserved)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn label_sets_of_any_length_read_back_in_32_bytes() {
        assert_eq!(std::mem::size_of::<LabelSet>(), 32);
        let i = crate::intern::Interner::default();
        let pairs: Vec<(Sym, Sym)> = (0..5)
            .map(|k| (i.intern(&format!("k{k}")), i.intern(&format!("v{k}"))))
            .collect();
        for n in 0..=5 {
            let set: LabelSet = pairs[..n].iter().cloned().collect();
            assert_eq!(&*set, &pairs[..n], "{n} pairs");
            let heap = set.heap_bytes();
            match n {
                1 | 2 => assert_eq!(heap, 0, "{n} pairs are inline"),
                0 => assert_eq!(heap, 0, "an empty box allocates nothing"),
                _ => assert_eq!(heap, chunk(n * 16)),
            }
        }
        // One pair is one label even when both pairs hold the same value.
        let one: LabelSet = [(pairs[0].0.clone(), pairs[0].0.clone())]
            .into_iter()
            .collect();
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn exposed_names_per_kind() {
        assert_eq!(
            exposed_names("rows_total", MetricKind::Counter).as_slice(),
            ["rows", "rows_total", "rows_created"]
        );
        assert_eq!(
            exposed_names("depth", MetricKind::Gauge).as_slice(),
            ["depth"]
        );
        assert_eq!(
            exposed_names("lat", MetricKind::Histogram).as_slice(),
            ["lat", "lat_bucket", "lat_sum", "lat_count", "lat_created"]
        );
        assert_eq!(
            exposed_names("q", MetricKind::Summary).as_slice(),
            ["q", "q_sum", "q_count", "q_created"]
        );
    }

    #[test]
    fn reserved_labels_per_kind() {
        let l = [("le", "1"), ("quantile", "0.5")];
        assert_eq!(reserved_label(MetricKind::Histogram, &l), Some("le"));
        assert_eq!(reserved_label(MetricKind::Summary, &l), Some("quantile"));
        assert_eq!(reserved_label(MetricKind::Counter, &l), None);
        assert_eq!(reserved_label(MetricKind::Gauge, &l), None);
    }

    #[test]
    fn describe_round_trips_through_build() {
        let defaults = Defaults {
            retention: Retention::DEFAULT,
            buckets: Buckets::default(),
            mapping: SketchMapping::default_mapping(),
            max_series_per_family: 10,
            idle_ttl: None,
            clock: ClockSource::default(),
        };
        let d = Describe::histogram("lat_seconds")
            .help("h")
            .unit("seconds")
            .buckets(Buckets::new(vec![1.0, 2.0]).unwrap())
            .idle_ttl(Duration::from_secs(5));
        let sym = crate::intern::Interner::default().intern("lat_seconds");
        let f = Family::build(&d, sym.clone(), &defaults).unwrap();
        let again = Family::build(&f.describe(), sym, &defaults).unwrap();
        assert_eq!(f.conflict(&again), None);
        assert_eq!(f.max_series, 10);
    }
}
