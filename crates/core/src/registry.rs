//! The registry: families by name, series by hashed key.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use smallvec::SmallVec;

use crate::buckets::Buckets;
use crate::cache::{labels_match, str_eq, LookupCache, Owner};
use crate::family::{
    clash, reserved_label, AnySeries, Defaults, Describe, Family, LabelSet, SeriesRef,
};
use crate::handles::{Counter, Gauge, Histogram, Summary};
use crate::index::{Entry, Index};
use crate::intern::{Interner, Sym};
use crate::labels::{validate_labels, validate_metric_name};
use crate::retention::{Geometry, Retention};
use crate::sketch::SketchMapping;
use crate::storage::{chunk, SeriesState, StateData};
use crate::{ClockSource, Error, MetricKind, Result};

/// The label every overflow series carries.
pub const OVERFLOW_LABEL: &str = "lakemetrics_overflow";
/// The self-metric counting lookups sent to overflow series, by `metric`.
pub const OVERFLOW_METRIC: &str = "lakemetrics_cardinality_overflow";

pub(crate) struct Inner {
    /// Per-thread lookup caches, dropped with the registry (see `cache`).
    cache: LookupCache,
    pub(crate) families: RwLock<BTreeMap<Sym, Arc<Family>>>,
    index: Index,
    interner: Interner,
    hasher: ahash::RandomState,
    pub(crate) clock: ClockSource,
    defaults: Defaults,
    max_series: usize,
    series_count: AtomicUsize,
    max_families: usize,
    /// Families other than self-metrics; changed under the families' write lock.
    user_families: AtomicUsize,
    max_label_value_len: usize,
    max_labels: usize,
    memory_budget: Option<u64>,
}

impl Inner {
    /// Counts `family`, about to be added (under the families' write lock), or
    /// fails if that would pass the registry's family limit. Self-metrics are
    /// not counted.
    fn take_family_slot(&self, family: &Family) -> Result<()> {
        if family.internal {
            return Ok(());
        }
        // Relaxed: only changed under the families' write lock, which the
        // caller holds.
        let n = self.user_families.load(StdOrdering::Relaxed);
        if n >= self.max_families {
            return Err(Error::CardinalityLimit {
                name: Arc::from(family.name.as_str()),
                limit: self.max_families,
                scope: "families",
            });
        }
        self.user_families.store(n + 1, StdOrdering::Relaxed);
        Ok(())
    }

    /// Fails if adding `family` to `families` would take the registry over its
    /// memory budget.
    fn check_budget(&self, families: &BTreeMap<Sym, Arc<Family>>, family: &Family) -> Result<()> {
        let Some(budget) = self.memory_budget else {
            return Ok(());
        };
        let others: u64 = families
            .values()
            .filter(|f| !f.internal)
            .map(|f| f.max_bytes())
            .sum();
        family.fits(
            others.saturating_add(family.max_bytes()),
            budget,
            "registry",
        )
    }
}

impl AsRef<LookupCache> for Inner {
    fn as_ref(&self) -> &LookupCache {
        &self.cache
    }
}

/// The registry: every family and series of a process (or of a part of it).
///
/// Cheap to clone (an `Arc`); share it freely.
///
/// ```
/// use lakemetrics_core::Registry;
/// let reg = Registry::new();
/// let rows = reg.counter("ingest_rows", &[("handler", "csv")]).unwrap();
/// rows.inc_by(128);
/// // Looking the series up again finds the same one, allocating nothing.
/// assert_eq!(reg.counter("ingest_rows", &[("handler", "csv")]).unwrap().get(), 128);
/// // Bad input is a typed error, never a panic.
/// assert!(reg.counter("ingest-rows", &[]).is_err());
/// ```
#[derive(Clone)]
pub struct Registry {
    pub(crate) inner: Arc<Inner>,
}

/// Builds a [`Registry`] with settings other than the defaults.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use lakemetrics_core::{ManualClock, Registry, Retention};
/// let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
/// let reg = Registry::builder()
///     .clock(clock.clone())
///     .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(60)).unwrap())
///     .max_series(10_000)
///     .max_series_per_family(1_000)
///     .max_label_value_len(256)
///     .build();
/// ```
#[derive(Debug, Clone)]
pub struct RegistryBuilder {
    clock: Option<ClockSource>,
    retention: Retention,
    buckets: Buckets,
    mapping: SketchMapping,
    max_series: usize,
    max_series_per_family: usize,
    max_families: usize,
    max_label_value_len: usize,
    max_labels: usize,
    idle_ttl: Option<Duration>,
    memory_budget: Option<u64>,
}

impl Default for RegistryBuilder {
    fn default() -> Self {
        RegistryBuilder {
            clock: None,
            retention: Retention::DEFAULT,
            buckets: Buckets::default(),
            mapping: SketchMapping::default_mapping(),
            max_series: 1_000_000,
            max_series_per_family: 100_000,
            max_families: 10_000,
            max_label_value_len: 1024,
            max_labels: 32,
            idle_ttl: None,
            memory_budget: None,
        }
    }
}

impl RegistryBuilder {
    /// The clock (the coarse monotonic clock by default).
    pub fn clock(mut self, clock: impl Into<ClockSource>) -> Self {
        self.clock = Some(clock.into());
        self
    }

    /// Default history of every family (ten-second epochs over ten minutes).
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Default histogram buckets (Prometheus' defaults).
    pub fn buckets(mut self, buckets: Buckets) -> Self {
        self.buckets = buckets;
        self
    }

    /// Default summary sketch (1% relative error over `[1e-9, 1e12]`).
    pub fn sketch(mut self, mapping: SketchMapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// Most series in the whole registry (1,000,000).
    pub fn max_series(mut self, max: usize) -> Self {
        self.max_series = max;
        self
    }

    /// Most series per family unless the family says otherwise (100,000).
    pub fn max_series_per_family(mut self, max: usize) -> Self {
        self.max_series_per_family = max.max(1);
        self
    }

    /// Most families (metric names) in the registry (10,000); self-metric
    /// families do not count. Past it, a lookup of a new name fails with
    /// [`Error::CardinalityLimit`] (scope `"families"`), and an `_or_overflow`
    /// lookup records into the registry's overflow family of its kind
    /// (`lakemetrics_overflow_counter`, `_gauge`, `_histogram`, `_summary`),
    /// counted in `lakemetrics_cardinality_overflow`; so does an `_or_overflow`
    /// lookup of a new name once the registry's series limit is reached.
    ///
    /// ```
    /// use lakemetrics_core::{Error, Registry};
    /// let reg = Registry::builder().max_families(2).build();
    /// reg.counter("a", &[]).unwrap();
    /// reg.counter("b", &[]).unwrap();
    /// let err = reg.counter("c", &[]).unwrap_err();
    /// assert!(matches!(err, Error::CardinalityLimit { scope: "families", .. }));
    /// reg.counter_or_overflow("c", &[]).unwrap().inc();
    /// assert_eq!(reg.counter_or_overflow("d", &[]).unwrap().get(), 1);
    /// ```
    pub fn max_families(mut self, max: usize) -> Self {
        self.max_families = max;
        self
    }

    /// Longest label value, in bytes (1024).
    pub fn max_label_value_len(mut self, max: usize) -> Self {
        self.max_label_value_len = max;
        self
    }

    /// Most labels per series (32).
    pub fn max_labels(mut self, max: usize) -> Self {
        self.max_labels = max;
        self
    }

    /// Default idle time-to-live of every family (none).
    pub fn idle_ttl(mut self, ttl: Duration) -> Self {
        self.idle_ttl = Some(ttl);
        self
    }

    /// The most memory the series of all families may take for their state and
    /// history: registering a family (or creating one by a first lookup) fails
    /// with [`Error::MemoryBudget`] when the worst cases of all families (each
    /// one's series limit times the bytes a series takes at its retention, see
    /// [`Registry::series_bytes`]) would add up to more than `bytes`. None by
    /// default. Self-metric families are not counted.
    ///
    /// ```
    /// use lakemetrics_core::{Describe, Error, Registry};
    /// let reg = Registry::builder().memory_budget(50 << 20).build();
    /// reg.register(Describe::counter("a").max_series(50_000)).unwrap(); // about 28 MB
    /// let err = reg.register(Describe::counter("b").max_series(60_000)).unwrap_err();
    /// assert!(matches!(err, Error::MemoryBudget { scope: "registry", .. }));
    /// ```
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.memory_budget = Some(bytes);
        self
    }

    /// The registry.
    pub fn build(self) -> Registry {
        // The default clock is made here, not on the recording path: this is
        // where it measures its offset to wall time (once per process). It
        // starts no thread.
        let clock = self.clock.unwrap_or_default();
        Registry {
            inner: Arc::new(Inner {
                cache: LookupCache::default(),
                families: RwLock::new(BTreeMap::new()),
                index: Index::default(),
                interner: Interner::default(),
                hasher: ahash::RandomState::new(),
                clock: clock.clone(),
                defaults: Defaults {
                    retention: self.retention,
                    buckets: self.buckets,
                    mapping: self.mapping,
                    max_series_per_family: self.max_series_per_family,
                    idle_ttl: self.idle_ttl,
                    clock: clock.clone(),
                },
                max_series: self.max_series,
                series_count: AtomicUsize::new(0),
                max_families: self.max_families,
                user_families: AtomicUsize::new(0),
                max_label_value_len: self.max_label_value_len,
                max_labels: self.max_labels,
                memory_budget: self.memory_budget,
            }),
        }
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("families", &self.family_count())
            .field("series", &self.series_count())
            .finish()
    }
}

macro_rules! lookup_fns {
    ($($kind:ident, $variant:ident, $handle:ident, $get:ident, $get_or:ident, $with:ident, $with_static:ident;)*) => {$(
        #[doc = concat!("The ", stringify!($kind), " series `name{labels}`, created if new.")]
        ///
        /// Finding an existing series hashes the borrowed labels and allocates
        /// nothing. Errors: invalid name or labels, a kind conflict, or a
        /// cardinality limit ([`Error::CardinalityLimit`]; see the `_or_overflow`
        /// variant to record into the family's overflow series instead).
        pub fn $get(&self, name: &str, labels: &[(&str, &str)]) -> Result<$handle> {
            // The cached call site first, cloning the handle of the kind asked for
            // directly (no enum clone and re-match).
            let cached = self.inner.cache.with(name, labels, |s| match s {
                AnySeries::$variant(h) => Some(h.clone()),
                _ => None,
            });
            if let Some(Some(h)) = cached {
                return Ok(h);
            }
            match self.series(name, MetricKind::$variant, labels, false, false)? {
                AnySeries::$variant(s) => Ok(s),
                _ => Err(self.kind_conflict(name, MetricKind::$variant)),
            }
        }

        #[doc = concat!("Like [`Registry::", stringify!($get), "`], but past a cardinality limit returns")]
        /// the family's overflow series (labelled `lakemetrics_overflow="true"`) and
        /// counts the lookup in the `lakemetrics_cardinality_overflow` self-metric,
        /// so nothing recorded is lost.
        pub fn $get_or(&self, name: &str, labels: &[(&str, &str)]) -> Result<$handle> {
            match self.series(name, MetricKind::$variant, labels, true, false)? {
                AnySeries::$variant(s) => Ok(s),
                _ => Err(self.kind_conflict(name, MetricKind::$variant)),
            }
        }

        #[doc = concat!("Calls `f` with the ", stringify!($kind), " series `name{labels}` (created if new)")]
        /// without taking a handle: the fastest labeled path. A call site seen
        /// before is found in a per-thread cache by the addresses of its name and
        /// label slice (contents confirmed), with no hashing, no lock and no
        /// reference-count traffic.
        ///
        /// ```
        /// use lakemetrics_core::Registry;
        /// let reg = Registry::new();
        /// for _ in 0..3 {
        #[doc = concat!("    reg.with_", stringify!($kind), "(\"m\", &[(\"handler\", \"csv\")], |h| drop(h)).unwrap();")]
        /// }
        /// ```
        pub fn $with<R>(&self, name: &str, labels: &[(&str, &str)], f: impl FnOnce(&$handle) -> R) -> Result<R> {
            let mut f = Some(f);
            let cached = self.inner.cache.with(name, labels, |s| match s {
                AnySeries::$variant(h) => f.take().map(|f| f(h)),
                _ => None,
            });
            match (cached.flatten(), f) {
                (Some(r), _) => Ok(r),
                (None, Some(f)) => match self.series(name, MetricKind::$variant, labels, false, false)? {
                    AnySeries::$variant(h) => Ok(f(&h)),
                    _ => Err(self.kind_conflict(name, MetricKind::$variant)),
                },
                // `f` is consumed only when the cache produced a result.
                (None, None) => Err(self.kind_conflict(name, MetricKind::$variant)),
            }
        }

        #[doc = concat!("Like [`Registry::", stringify!($with), "`], for call sites whose name and labels")]
        /// are `'static` (string literals in a literal array, as most are): a
        /// repeated call is recognized by the addresses of its name and label
        /// array alone, with no string comparison at all (memory behind a
        /// `'static` reference never changes, so equal addresses mean equal text).
        ///
        /// ```
        /// use lakemetrics_core::Registry;
        /// let reg = Registry::new();
        /// for _ in 0..3 {
        #[doc = concat!("    reg.", stringify!($with_static), "(\"m\", &[(\"handler\", \"csv\")], |h| drop(h)).unwrap();")]
        /// }
        /// ```
        pub fn $with_static<R>(
            &self,
            name: &'static str,
            labels: &'static [(&'static str, &'static str)],
            f: impl FnOnce(&$handle) -> R,
        ) -> Result<R> {
            let mut f = Some(f);
            let cached = self.inner.cache.with_static(name, labels, |s| match s {
                AnySeries::$variant(h) => f.take().map(|f| f(h)),
                _ => None,
            });
            match (cached.flatten(), f) {
                (Some(r), _) => Ok(r),
                (None, Some(f)) => match self.series(name, MetricKind::$variant, labels, false, true)? {
                    AnySeries::$variant(h) => Ok(f(&h)),
                    _ => Err(self.kind_conflict(name, MetricKind::$variant)),
                },
                (None, None) => Err(self.kind_conflict(name, MetricKind::$variant)),
            }
        }
    )*};
}

impl Registry {
    /// A registry with the defaults: coarse clock, ten-second epochs over ten
    /// minutes, Prometheus' default buckets, at most 1,000,000 series.
    pub fn new() -> Registry {
        RegistryBuilder::default().build()
    }

    /// A builder for other settings.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    /// The registry's clock.
    pub fn clock(&self) -> &ClockSource {
        &self.inner.clock
    }

    /// Now, by the registry's clock (ns since the Unix epoch).
    pub fn now_nanos(&self) -> u64 {
        self.inner.clock.now_nanos()
    }

    /// Heap bytes the registry takes, as the allocator lays them out (each
    /// allocation rounded to glibc's malloc chunks): every series' state, history
    /// and label slice, the families' series lists, the index, the interned
    /// strings and the families themselves. Per-thread lookup caches (10.5 KB per
    /// thread that looked something up) are not counted. `tests/memory_accounting.rs`
    /// checks it against a counting allocator; docs/benchmarks.md compares it
    /// with RSS.
    ///
    /// Walks every family under its read lock: meant for monitoring, not hot paths.
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        let inner = &*self.inner;
        let families = inner.families.read();
        let mut total = chunk(families.len() * (size_of::<Sym>() + size_of::<Arc<Family>>()));
        for f in families.values() {
            total += chunk(2 * size_of::<usize>() + size_of::<Family>())
                + f.shared_bytes()
                + f.shared.rings.idle_bytes();
            let list = f.series.read();
            total += list.heap_bytes();
            for s in list.iter().chain(f.overflow.get().map(AnySeries::as_ref)) {
                total += s.heap_bytes(f);
            }
        }
        drop(families);
        total + inner.index.heap_bytes() + inner.interner.heap_bytes()
    }

    /// Bytes one series of family `name` takes for its state and history (see
    /// [`Describe::memory_budget`]); labels and index entries come on top.
    ///
    /// ```
    /// use lakemetrics_core::{Describe, Registry};
    /// let reg = Registry::new();
    /// reg.register(Describe::counter("rows")).unwrap();
    /// // 60 epochs of 8 bytes beside the counter's state, its first two label
    /// // pairs, a pointer to its family's ring shape, name and clock, and its
    /// // creation time: 592 bytes here.
    /// assert!((500..700).contains(&reg.series_bytes("rows").unwrap()));
    /// ```
    pub fn series_bytes(&self, name: &str) -> Option<usize> {
        self.inner
            .families
            .read()
            .get(name)
            .map(|f| f.series_bytes())
    }

    /// Series in the registry (not counting overflow series).
    pub fn series_count(&self) -> usize {
        self.inner.series_count.load(StdOrdering::Relaxed)
    }

    /// Most series the registry may hold (not counting overflow series).
    pub fn max_series(&self) -> usize {
        self.inner.max_series
    }

    /// The description of the family `name`, if it exists.
    pub fn describe(&self, name: &str) -> Option<Describe> {
        let family = self.inner.families.read().get(name).cloned()?;
        Some(family.describe())
    }

    /// Families in the registry.
    pub fn family_count(&self) -> usize {
        self.inner.families.read().len()
    }

    /// Distinct strings interned (names, label names and values).
    pub fn interned_count(&self) -> usize {
        self.inner.interner.len()
    }

    /// Registers a family with its metadata and options. Registering the same
    /// description again is fine; a different one for the same name is an error.
    pub fn register(&self, describe: Describe) -> Result<()> {
        validate_metric_name(&describe.name)?;
        let inner = &*self.inner;
        let name = inner.interner.intern(&describe.name);
        let family = match Family::build(&describe, name.clone(), &inner.defaults) {
            Ok(f) => f,
            Err(e) => {
                inner.interner.release([name]);
                return Err(e);
            }
        };
        let mut families = inner.families.write();
        match families.get(&name) {
            Some(existing) if existing.kind != family.kind => Err(Error::KindConflict {
                name: describe.name,
                existing: existing.kind,
                requested: family.kind,
            }),
            Some(existing) => match existing.conflict(&family) {
                Some(what) => Err(Error::FamilyConflict {
                    name: describe.name,
                    what,
                }),
                None => Ok(()),
            },
            None => {
                if let Err(e) = inner.check_budget(&families, &family) {
                    drop(families);
                    drop(family);
                    inner.interner.release([name]);
                    return Err(e);
                }
                if let Some((sample, other)) = clash(&families, &describe.name, family.kind) {
                    drop(families);
                    drop(family);
                    inner.interner.release([name]);
                    return Err(Error::NameClash {
                        name: describe.name,
                        sample,
                        other,
                    });
                }
                if let Err(e) = inner.take_family_slot(&family) {
                    drop(families);
                    drop(family);
                    inner.interner.release([name]);
                    return Err(e);
                }
                families.insert(name, Arc::new(family));
                Ok(())
            }
        }
    }

    lookup_fns! {
        counter, Counter, Counter, counter, counter_or_overflow, with_counter, with_counter_static;
        gauge, Gauge, Gauge, gauge, gauge_or_overflow, with_gauge, with_gauge_static;
        histogram, Histogram, Histogram, histogram, histogram_or_overflow, with_histogram, with_histogram_static;
        summary, Summary, Summary, summary, summary_or_overflow, with_summary, with_summary_static;
    }

    fn kind_conflict(&self, name: &str, requested: MetricKind) -> Error {
        let existing = self
            .inner
            .families
            .read()
            .get(name)
            .map_or(requested, |f| f.kind);
        Error::KindConflict {
            name: name.into(),
            existing,
            requested,
        }
    }

    /// The series key of `name{labels}` (see `key_of`).
    #[inline]
    fn key(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        key_of(&self.inner.hasher, name, labels.iter().copied())
    }

    #[inline]
    /// The series `name{labels}` from the index (remembered in this thread's
    /// lookup cache, as a `'static` call site if `is_static`), or created. The
    /// callers probe the cache first, each in the way its signature allows.
    fn series(
        &self,
        name: &str,
        kind: MetricKind,
        labels: &[(&str, &str)],
        overflow: bool,
        is_static: bool,
    ) -> Result<AnySeries> {
        let hash = self.key(name, labels);
        {
            let shard = self.inner.index.read(hash);
            if let Some(e) = shard.find(hash, |e| {
                e.with(|s| str_eq(s.name(), name) && labels_match(s.labels(), labels))
            }) {
                let owner = || -> Owner {
                    let weak: std::sync::Weak<Inner> = Arc::downgrade(&self.inner);
                    weak
                };
                return Ok(e.with(|s| {
                    self.inner
                        .cache
                        .put(owner, s.name(), name, labels, s, is_static);
                    s.clone()
                }));
            }
        }
        self.create(name, kind, labels, hash, overflow, None)
    }

    #[cold]
    fn create(
        &self,
        name: &str,
        kind: MetricKind,
        labels: &[(&str, &str)],
        hash: u64,
        overflow: bool,
        restore: Option<(&SeriesState, bool)>,
    ) -> Result<AnySeries> {
        let inner = &*self.inner;
        validate_metric_name(name)?;
        validate_labels(labels, inner.max_label_value_len, inner.max_labels)?;
        if let Some(l) = reserved_label(kind, labels) {
            return Err(Error::ReservedLabel {
                name: l.into(),
                kind,
            });
        }
        if overflow
            && name != OVERFLOW_METRIC
            // Acquire: as in `full`.
            && inner.series_count.load(StdOrdering::Acquire) >= inner.max_series
            && restore.is_none()
            && !inner.families.read().contains_key(name)
        {
            // A new name past the registry's series limit: a family of its own
            // would hold nothing but its overflow series, one per name.
            return self.registry_overflow(kind);
        }
        if !overflow
            && name != OVERFLOW_METRIC
            // Acquire: as in `full`.
            && inner.series_count.load(StdOrdering::Acquire) >= inner.max_series
        {
            // Refused before anything (even an empty family) is created, unless a
            // racing lookup created the series meanwhile (see below).
            return match (self.find(hash, name, labels), restore) {
                (Some(_), Some(_)) => Err(Error::SeriesExists { name: name.into() }),
                (Some(s), None) => Ok(s),
                (None, _) => Err(Error::CardinalityLimit {
                    // The family's own name when it exists: no allocation.
                    name: inner
                        .families
                        .read()
                        .get(name)
                        .map_or_else(|| name.into(), |f| f.name_arc.clone()),
                    limit: inner.max_series,
                    scope: "registry",
                }),
            };
        }
        let family = match self.family(name, kind) {
            Err(Error::CardinalityLimit {
                scope: "families", ..
            }) if overflow && restore.is_none() => return self.registry_overflow(kind),
            r => r?,
        };
        // Past a limit, refuse (or overflow) on read locks alone: no write lock,
        // no index entry inserted and removed, no allocation. Under a cardinality
        // attack every new label set lands here, and lookups of the family must
        // not queue behind one another on its list's write lock.
        if let Some((limit, scope)) = self.full(&family) {
            // A racing lookup may have created this very series since `series()`
            // probed the index. If `full` read that creation's count (Acquire), the
            // series is in its bucket by now: look once more, under the shard's
            // read lock.
            return match (self.find(hash, name, labels), restore) {
                (Some(_), Some(_)) => Err(Error::SeriesExists { name: name.into() }),
                (Some(s), None) => Ok(s),
                (None, _) => self.refuse(&family, overflow, limit, scope),
            };
        }
        // Lock order everywhere: family series list, then index shard.
        note_write_lock();
        let mut list = family.series.write();
        note_write_lock();
        let mut shard = inner.index.write(hash);
        if let Some(e) = shard.find(hash, |e| {
            e.with(|s| Arc::ptr_eq(s.shared(), &family.shared) && labels_match(s.labels(), labels))
        }) {
            if restore.is_some() {
                return Err(Error::SeriesExists { name: name.into() });
            }
            return Ok(e.get());
        }
        // One shape per family: the label names of its series (any series will
        // do, they all agree). Restored series are let through: a checkpoint
        // written before this rule may hold families whose series differ.
        if let Some(first) = list.iter().next().filter(|_| restore.is_none()) {
            let have = first.labels();
            let same = have.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, _)| have.iter().any(|(h, _)| h.as_str() == *k));
            if !same {
                let mut got: Vec<String> = labels.iter().map(|(k, _)| (*k).to_owned()).collect();
                got.sort_unstable();
                return Err(Error::LabelNamesMismatch {
                    name: name.into(),
                    expected: have.iter().map(|(k, _)| k.as_str().to_owned()).collect(),
                    got,
                });
            }
        }
        // The limits again, exactly, now that no other creation in this family
        // can run: `full` may have raced one that reached them.
        let limit = if list.len() >= family.max_series {
            Some((family.max_series, "family"))
        } else if !family.internal
            // Release: pairs with the Acquire in `full`; a lookup that sees this
            // count and takes this shard's read lock finds the series pushed below
            // (this lock is held until then).
            && inner.series_count.fetch_add(1, StdOrdering::Release) >= inner.max_series
        {
            inner.series_count.fetch_sub(1, StdOrdering::Relaxed);
            Some((inner.max_series, "registry"))
        } else {
            None
        };
        if let Some((limit, scope)) = limit {
            drop(shard);
            drop(list);
            return self.refuse(&family, overflow, limit, scope);
        }
        if family.internal {
            inner.series_count.fetch_add(1, StdOrdering::Relaxed);
        }
        let mut sorted: SmallVec<[(&str, &str); 8]> = labels.iter().copied().collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let labels: LabelSet = sorted
            .iter()
            .map(|(k, v)| (inner.interner.intern(k), inner.interner.intern(v)))
            .collect();
        let s = family.new_series(labels, restore.map(|(st, _)| st.created));
        if let Some((state, history)) = restore {
            // `fits` was checked before anything was created: the columns agree,
            // so this loads everything asked for.
            s.as_ref().restore(state, history);
        }
        list.push(s.clone());
        shard.insert_unique(hash, Entry::new(s.clone()), |e| {
            e.with(|s| series_key(&inner.hasher, s.as_ref()))
        });
        // Release: pairs with the Acquire in `full`; a lookup that sees this length
        // finds the series just pushed when it probes the bucket again.
        family.len.store(list.len(), StdOrdering::Release);
        Ok(s)
    }

    /// Checks, creating nothing, that every label set of `sets` is valid for a
    /// series of `name` as a `kind`, and (if `limits`) that the series not yet in the index
    /// fit the family's and the registry's series limits. Typed families call it
    /// before creating their series, so that a refused registration creates none
    /// (unless another thread creates series of the family meanwhile: the limits
    /// are checked again, exactly, by each creation).
    pub(crate) fn check_label_sets(
        &self,
        name: &str,
        kind: MetricKind,
        sets: &[Vec<(&str, &str)>],
        limits: bool,
    ) -> Result<()> {
        let inner = &*self.inner;
        validate_metric_name(name)?;
        for labels in sets {
            validate_labels(labels, inner.max_label_value_len, inner.max_labels)?;
            if let Some(l) = reserved_label(kind, labels) {
                return Err(Error::ReservedLabel {
                    name: l.into(),
                    kind,
                });
            }
        }
        let family = inner.families.read().get(name).cloned();
        if let Some(f) = &family {
            if f.kind != kind {
                return Err(Error::KindConflict {
                    name: name.into(),
                    existing: f.kind,
                    requested: kind,
                });
            }
        }
        if !limits {
            return Ok(());
        }
        let missing = sets
            .iter()
            .filter(|labels| self.find(self.key(name, labels), name, labels).is_none())
            .count();
        if missing == 0 {
            return Ok(());
        }
        let (len, max, arc) = match &family {
            // Relaxed: an estimate; `create` checks again under the list's lock.
            Some(f) => (
                f.len.load(StdOrdering::Relaxed),
                f.max_series,
                f.name_arc.clone(),
            ),
            None => (0, inner.defaults.max_series_per_family, Arc::from(name)),
        };
        if len.saturating_add(missing) > max {
            return Err(Error::CardinalityLimit {
                name: arc,
                limit: max,
                scope: "family",
            });
        }
        if family.as_ref().is_none_or(|f| !f.internal)
            // Relaxed: an estimate, as above.
            && inner
                .series_count
                .load(StdOrdering::Relaxed)
                .saturating_add(missing)
                > inner.max_series
        {
            return Err(Error::CardinalityLimit {
                name: arc,
                limit: inner.max_series,
                scope: "registry",
            });
        }
        Ok(())
    }

    /// The overflow series of the family `name` (created as a `kind` if new),
    /// counting the lookup in the self-metric.
    #[cold]
    pub(crate) fn overflow_series(&self, name: &str, kind: MetricKind) -> Result<AnySeries> {
        let family = self.family(name, kind)?;
        Ok(self.overflow(&family))
    }

    /// The series `name{labels}` if the index has it (under the shard's read lock).
    fn find(&self, hash: u64, name: &str, labels: &[(&str, &str)]) -> Option<AnySeries> {
        self.inner
            .index
            .read(hash)
            .find(hash, |e| {
                e.with(|s| str_eq(s.name(), name) && labels_match(s.labels(), labels))
            })
            .map(Entry::get)
    }

    /// The limit `family` has reached, if any: its own or (unless it is internal)
    /// the registry's. Atomics only, no lock. A stale answer errs either way but
    /// never lets a limit be passed: `create` checks again under the list's lock.
    #[inline]
    fn full(&self, family: &Family) -> Option<(usize, &'static str)> {
        let inner = &*self.inner;
        // Acquire (both): pairs with the Release in `create` that published the
        // count, so the series behind it is visible to the re-probe that follows.
        if family.len.load(StdOrdering::Acquire) >= family.max_series {
            Some((family.max_series, "family"))
        } else if !family.internal
            && inner.series_count.load(StdOrdering::Acquire) >= inner.max_series
        {
            Some((inner.max_series, "registry"))
        } else {
            None
        }
    }

    /// What a lookup past a limit gets: the error, or the family's overflow series
    /// (counting the lookup in the self-metric).
    #[cold]
    fn refuse(
        &self,
        family: &Arc<Family>,
        overflow: bool,
        limit: usize,
        scope: &'static str,
    ) -> Result<AnySeries> {
        if overflow {
            Ok(self.overflow(family))
        } else {
            Err(Error::CardinalityLimit {
                name: family.name_arc.clone(),
                limit,
                scope,
            })
        }
    }

    /// The family `name`, created with the registry's defaults if new.
    fn family(&self, name: &str, kind: MetricKind) -> Result<Arc<Family>> {
        let inner = &*self.inner;
        let found = inner.families.read().get(name).cloned();
        let family = match found {
            Some(f) => f,
            None => {
                let sym = inner.interner.intern(name);
                let built =
                    match Family::build(&Describe::new(name, kind), sym.clone(), &inner.defaults) {
                        Ok(f) => f,
                        Err(e) => {
                            inner.interner.release([sym]);
                            return Err(e);
                        }
                    };
                note_write_lock();
                let mut families = inner.families.write();
                match families.get(name) {
                    Some(f) => f.clone(),
                    None => {
                        if let Err(e) = inner.check_budget(&families, &built) {
                            drop(families);
                            drop(built);
                            inner.interner.release([sym]);
                            return Err(e);
                        }
                        if let Some((sample, other)) = clash(&families, name, kind) {
                            drop(families);
                            drop(built);
                            inner.interner.release([sym]);
                            return Err(Error::NameClash {
                                name: name.into(),
                                sample,
                                other,
                            });
                        }
                        if let Err(e) = inner.take_family_slot(&built) {
                            drop(families);
                            drop(built);
                            inner.interner.release([sym]);
                            return Err(e);
                        }
                        families
                            .entry(sym)
                            .or_insert_with(|| Arc::new(built))
                            .clone()
                    }
                }
            }
        };
        if family.kind != kind {
            return Err(Error::KindConflict {
                name: name.into(),
                existing: family.kind,
                requested: kind,
            });
        }
        Ok(family)
    }

    /// The overflow series of `family`, counting the lookup.
    #[cold]
    fn overflow(&self, family: &Arc<Family>) -> AnySeries {
        let inner = &*self.inner;
        let s = family
            .overflow
            .get_or_init(|| {
                let labels: LabelSet = [(
                    inner.interner.intern(OVERFLOW_LABEL),
                    inner.interner.intern("true"),
                )]
                .into_iter()
                .collect();
                family.new_series(labels, None)
            })
            .clone();
        if !family.internal {
            if let Ok(c) = self.overflow_counter(&family.name) {
                c.inc();
            }
        }
        s
    }

    fn overflow_counter(&self, metric: &str) -> Result<Counter> {
        self.internal_family(OVERFLOW_METRIC, || {
            Describe::counter(OVERFLOW_METRIC).help(
                "Lookups sent to a family's overflow series because a cardinality limit was reached.",
            )
        })?;
        self.counter_or_overflow(OVERFLOW_METRIC, &[("metric", metric)])
    }

    /// The self-metric family `name`, registered as `describe()` says (exempt
    /// from the registry's limits) if new. Allocates nothing if it exists.
    #[cold]
    fn internal_family(
        &self,
        name: &str,
        describe: impl FnOnce() -> Describe,
    ) -> Result<Arc<Family>> {
        let inner = &*self.inner;
        if let Some(f) = inner.families.read().get(name) {
            return Ok(f.clone());
        }
        note_write_lock();
        let mut families = inner.families.write();
        if let Some(f) = families.get(name) {
            return Ok(f.clone());
        }
        let d = describe();
        let sym = inner.interner.intern(&d.name);
        let mut f = Family::build(&d, sym.clone(), &inner.defaults)?;
        f.internal = true;
        let f = Arc::new(f);
        families.insert(sym, f.clone());
        Ok(f)
    }

    /// The overflow series of the registry's overflow family of `kind`: where
    /// an `_or_overflow` lookup of a name that cannot have a family of its own
    /// (past the family limit, or the series limit) records. Counted as a
    /// lookup of that family in `lakemetrics_cardinality_overflow`.
    #[cold]
    fn registry_overflow(&self, kind: MetricKind) -> Result<AnySeries> {
        let name = overflow_family(kind);
        let family = self.internal_family(name, || {
            Describe::new(name, kind).help(
                "Recordings of metric names that could not have a family of their own: the registry's family or series limit was reached.",
            )
        })?;
        if family.kind != kind {
            // A user family took the name first.
            return Err(self.kind_conflict(name, kind));
        }
        let s = self.overflow(&family);
        // `overflow` counts lookups of user families only.
        if family.internal {
            if let Ok(c) = self.overflow_counter(name) {
                c.inc();
            }
        }
        Ok(s)
    }

    /// Checks, without changing anything, that `state` can be restored as the
    /// series `name{labels}`: valid name and labels, a registered family of the
    /// state's kind that the state fits (bucket layout, sketch size, column
    /// lengths), and no such series yet.
    pub fn check_restore(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        state: &SeriesState,
    ) -> Result<()> {
        let inner = &*self.inner;
        validate_metric_name(name)?;
        validate_labels(labels, inner.max_label_value_len, inner.max_labels)?;
        let family =
            inner
                .families
                .read()
                .get(name)
                .cloned()
                .ok_or_else(|| Error::StateMismatch {
                    name: name.into(),
                    reason: "its family is not registered".into(),
                })?;
        fits(&family, name, state)?;
        if let Some(l) = reserved_label(family.kind, labels) {
            return Err(Error::ReservedLabel {
                name: l.into(),
                kind: family.kind,
            });
        }
        let overflow = is_overflow_labels(labels);
        let exists = if overflow {
            family.overflow.get().is_some()
        } else {
            let hash = self.key(name, labels);
            inner
                .index
                .read(hash)
                .find(hash, |e| {
                    e.with(|s| {
                        Arc::ptr_eq(s.shared(), &family.shared) && labels_match(s.labels(), labels)
                    })
                })
                .is_some()
        };
        if exists {
            return Err(Error::SeriesExists { name: name.into() });
        }
        Ok(())
    }

    /// Restores saved state as the new series `name{labels}` (its family must be
    /// registered first): creation time and cumulative values always, history when
    /// it was saved with the ring shape the family has now (`geometry`); returns
    /// whether history was restored. Checks everything [`Registry::check_restore`]
    /// checks before creating anything.
    pub fn restore_series(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        state: &SeriesState,
        geometry: Geometry,
    ) -> Result<bool> {
        self.check_restore(name, labels, state)?;
        let inner = &*self.inner;
        let family = self.family(name, state.kind())?;
        let history = geometry == family.geometry;
        if is_overflow_labels(labels) {
            let s = family.new_series(
                [(
                    inner.interner.intern(OVERFLOW_LABEL),
                    inner.interner.intern("true"),
                )]
                .into_iter()
                .collect(),
                Some(state.created),
            );
            s.as_ref().restore(state, history);
            return match family.overflow.set(s) {
                Ok(()) => Ok(history),
                Err(_) => Err(Error::SeriesExists { name: name.into() }),
            };
        }
        let hash = self.key(name, labels);
        self.create(
            name,
            state.kind(),
            labels,
            hash,
            false,
            Some((state, history)),
        )?;
        Ok(history)
    }

    /// Removes idle series of `family` that no handle holds.
    pub(crate) fn reclaim(&self, family: &Family, now: u64) {
        let inner = &*self.inner;
        let mut list = family.series.write();
        let mut released: Vec<Sym> = Vec::new();
        list.retain(|s| {
            if !family.is_idle(s.last_active(), now) {
                return true;
            }
            let hash = series_key(&inner.hasher, s);
            let mut removed = false;
            let mut shard = inner.index.write(hash);
            // Under the shard's write lock no lookup can clone the series, and two
            // references (index and list) mean no handle exists.
            if s.strong_count() == 2 {
                if let Ok(entry) = shard.find_entry(hash, |b| b.with(|b| s.same(b))) {
                    entry.remove();
                    removed = true;
                }
            }
            drop(shard);
            if removed {
                inner.series_count.fetch_sub(1, StdOrdering::Relaxed);
                for (k, v) in s.labels() {
                    released.push(k.clone());
                    released.push(v.clone());
                }
            }
            !removed
        });
        family.len.store(list.len(), StdOrdering::Relaxed);
        drop(list);
        released.sort_unstable();
        released.dedup();
        inner.interner.release(released);
    }
}

#[cfg(test)]
thread_local! {
    /// Write locks taken by lookups on this thread (unit tests only).
    static WRITE_LOCKS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts a write lock about to be taken on a lookup path, so that a unit test can
/// show which lookups take none. Nothing outside tests.
#[inline(always)]
fn note_write_lock() {
    #[cfg(test)]
    WRITE_LOCKS.with(|n| n.set(n.get() + 1));
}

/// The series key: ahash of the name, mixed with the *sum* of the pairs'
/// ahashes, so the key depends on the label set and not on its order: a lookup
/// needs no sort and no allocation. Raw `write`s (not `Hash` impls, whose length
/// prefixes cost more than the hashing here) with a separator byte between a
/// pair's name and value, so `("ab", "c")` and `("a", "bc")` differ.
#[inline]
fn key_of<'a>(
    h: &ahash::RandomState,
    name: &str,
    labels: impl Iterator<Item = (&'a str, &'a str)>,
) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let pairs = labels.fold(0u64, |acc, (k, v)| {
        let mut s = h.build_hasher();
        s.write(k.as_bytes());
        s.write_u8(0xff);
        s.write(v.as_bytes());
        acc.wrapping_add(s.finish())
    });
    let mut state = h.build_hasher();
    state.write(name.as_bytes());
    state.write_u64(pairs);
    state.finish()
}

/// The key of a stored series (the index does not keep keys: see `index`).
fn series_key(h: &ahash::RandomState, s: SeriesRef<'_>) -> u64 {
    key_of(
        h,
        s.name(),
        s.labels().iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
}

/// The registry's overflow family of `kind` (see [`RegistryBuilder::max_families`]).
fn overflow_family(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Counter => "lakemetrics_overflow_counter",
        MetricKind::Gauge => "lakemetrics_overflow_gauge",
        MetricKind::Histogram => "lakemetrics_overflow_histogram",
        MetricKind::Summary => "lakemetrics_overflow_summary",
    }
}

fn is_overflow_labels(labels: &[(&str, &str)]) -> bool {
    matches!(labels, [(OVERFLOW_LABEL, "true")])
}

/// Whether saved state fits a family: kind, bucket count, sketch size, columns.
fn fits(family: &Family, name: &str, state: &SeriesState) -> Result<()> {
    let bad = |reason: String| {
        Err(Error::StateMismatch {
            name: name.into(),
            reason,
        })
    };
    if state.kind() != family.kind {
        return bad(format!(
            "saved as a {}, registered as a {}",
            state.kind(),
            family.kind
        ));
    }
    let n = state.epochs.len();
    if !state.epochs.windows(2).all(|w| w[0] < w[1]) {
        return bad("history epochs are not strictly increasing".into());
    }
    match &state.data {
        StateData::Counter { bases, .. } if bases.len() != n => {
            bad("counter columns disagree".into())
        }
        StateData::Gauge { last, min, max, .. }
            if last.len() != n || min.len() != n || max.len() != n =>
        {
            bad("gauge columns disagree".into())
        }
        StateData::Histogram {
            counts,
            bases,
            sum_bases,
            native,
            ..
        } => {
            let b = family.buckets.bounds().len() + 1;
            if counts.len() != b {
                bad(format!(
                    "{} buckets saved, the family has {b}",
                    counts.len()
                ))
            } else if bases.len() != n * b || sum_bases.len() != n {
                bad("histogram columns disagree".into())
            } else if let (Some(config), Some(saved)) = (&family.native, native) {
                // Native buckets for a family without them now are left out.
                crate::storage::native_state::check(config, saved, n).or_else(bad)
            } else {
                Ok(())
            }
        }
        StateData::Summary {
            count_bases,
            sum_bases,
            sketches,
            ..
        } => {
            let k = family.mapping.len();
            if count_bases.len() != n || sum_bases.len() != n || sketches.len() != n * k {
                bad(format!(
                    "summary columns disagree (the family's sketch has {k} buckets)"
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_label_order_and_separate_boundaries() {
        let reg = Registry::new();
        let a = reg.key("m", &[("a", "1"), ("b", "2")]);
        assert_eq!(a, reg.key("m", &[("b", "2"), ("a", "1")]));
        assert_ne!(a, reg.key("n", &[("a", "1"), ("b", "2")]));
        assert_ne!(reg.key("m", &[("ab", "c")]), reg.key("m", &[("a", "bc")]));
        assert_ne!(reg.key("m", &[]), reg.key("m", &[("", "")]));
    }

    #[test]
    fn hash_collisions_share_a_bucket_without_confusion() {
        // Force every key into one index bucket: lookups still compare labels.
        let reg = Registry::new();
        let (a, b) = ([("h", "a")], [("h", "b")]);
        let sa = reg.counter("m", &a).unwrap();
        let fam = reg.inner.families.read().get("m").cloned().unwrap();
        let sb = reg.counter("m", &b).unwrap();
        let hb = reg.key("m", &b);
        let moved = {
            let mut shard = reg.inner.index.write(hb);
            let entry = shard.find_entry(hb, |e| e.with(|s| s.labels()[0].1.as_str() == "b"));
            entry.ok().unwrap().remove().0
        };
        let ha = reg.key("m", &a);
        // Under `a`'s hash, as if the keys collided (a table that grows would
        // move it back to its own: this one does not grow).
        reg.inner.index.write(ha).insert_unique(ha, moved, |_| ha);
        drop(fam);
        // `b` now lives under `a`'s key; a lookup of `a` must still find `a`.
        sa.inc();
        sb.inc_by(5);
        assert_eq!(reg.counter("m", &a).unwrap().get(), 1);
    }

    fn write_locks() -> u64 {
        WRITE_LOCKS.with(std::cell::Cell::get)
    }

    #[test]
    fn lookups_past_a_limit_take_no_write_lock() {
        let values: Vec<String> = (0..1_010).map(|i| format!("v{i}")).collect();
        // A full family, and a registry full because of another family.
        let family = Registry::new();
        family
            .register(Describe::counter("rows").max_series(2))
            .unwrap();
        let registry = Registry::builder().max_series(2).build();
        registry.counter("other", &[]).unwrap();
        registry.counter("rows", &[("h", "x")]).unwrap();
        for reg in [&family, &registry] {
            let before = write_locks();
            reg.counter("rows", &[("h", &values[0])])
                .unwrap_or_else(|_| {
                    reg.counter_or_overflow("rows", &[("h", &values[0])])
                        .unwrap()
                });
            reg.counter_or_overflow("rows", &[("h", &values[1])])
                .unwrap();
            // Creating series, the overflow series and the self-metric's family
            // takes write locks: the count is not vacuous.
            assert!(write_locks() > before);
            reg.counter_or_overflow("rows", &[("h", &values[2])])
                .unwrap()
                .inc();

            let before = write_locks();
            for v in &values[10..] {
                let refused = reg.counter("rows", &[("h", v)]);
                assert!(matches!(refused, Err(Error::CardinalityLimit { .. })));
                reg.counter_or_overflow("rows", &[("h", v)]).unwrap().inc();
                reg.with_counter("rows", &[("h", v)], |c| c.inc())
                    .unwrap_err();
            }
            assert_eq!(write_locks() - before, 0, "write locks past the limit");
        }
        assert_eq!(
            family.series_count(),
            3,
            "two rows series and the self-metric"
        );
        assert_eq!(
            registry.series_count(),
            3,
            "other, rows{{h=x}} and the self-metric"
        );
    }

    #[test]
    fn a_series_created_by_a_racing_lookup_is_found_past_the_limit() {
        // `series()` missed it; by the time `create` sees the family full, it is
        // in the index: the fast refusal must look again and return it.
        let reg = Registry::new();
        reg.register(Describe::counter("rows").max_series(1))
            .unwrap();
        let labels = [("h", "a")];
        reg.counter("rows", &labels).unwrap().inc();
        let hash = reg.key("rows", &labels);
        let got = reg
            .create("rows", MetricKind::Counter, &labels, hash, false, None)
            .unwrap();
        match got {
            AnySeries::Counter(c) => assert_eq!(c.get(), 1),
            _ => panic!("not a counter"),
        }
        let registry = Registry::builder().max_series(1).build();
        registry.counter("rows", &labels).unwrap().inc_by(2);
        let hash = registry.key("rows", &labels);
        let got = registry
            .create("rows", MetricKind::Counter, &labels, hash, false, None)
            .unwrap();
        match got {
            AnySeries::Counter(c) => assert_eq!(c.get(), 2),
            _ => panic!("not a counter"),
        }
    }
}
