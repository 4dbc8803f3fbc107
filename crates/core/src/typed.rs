//! Typed label sets: label values declared once as Rust types, mapped to dense
//! indices into series created up front, so that a labeled recording is an
//! array index: no hashing, no string comparison, no map probe, no lock.
//!
//! - [`LabelValue`]: one label's values, usually a field-less enum
//!   (`#[derive(LabelValue)]` with the facade's `derive` feature).
//! - [`LabelSet`]: a whole label set (label names and every combination of
//!   values), usually a struct of [`LabelValue`] fields or a single enum
//!   (`#[derive(LabelSet)]`).
//! - [`TypedFamily`] ([`TypedCounter`], [`TypedGauge`], [`TypedHistogram`],
//!   [`TypedSummary`]): every series of a label set, created when the family is
//!   taken ([`Registry::typed_counter`] and siblings).
//! - [`DynamicFamily`] ([`DynamicCounter`], ...): a label set plus one label
//!   whose values are learned at run time. [`DynamicFamily::intern`] looks a
//!   value up once and returns a small dense [`ValueId`]; the caller keeps it,
//!   and recording through it is again an array index.
//!
//! Typed families make ordinary series: the `&str` API, queries and exporters
//! see them as any other, and they count against the same cardinality limits.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;
use smallvec::SmallVec;

use crate::family::AnySeries;
use crate::handles::{Counter, Gauge, Histogram, Summary};
use crate::{Error, MetricKind, Registry, Result};

/// The values of one label, known at compile time: usually a field-less enum.
///
/// `VALUES[v.ordinal()]` is the label value of `v`; ordinals run over
/// `0..VALUES.len()`. With the facade's `derive` feature, `#[derive(LabelValue)]`
/// implements it for field-less enums (variant names in snake case, or
/// `#[label(rename = "...")]`).
///
/// ```
/// use lakemetrics_core::LabelValue;
///
/// #[derive(Clone, Copy)]
/// enum Format { Csv, Parquet }
///
/// impl LabelValue for Format {
///     const VALUES: &'static [&'static str] = &["csv", "parquet"];
///     fn ordinal(&self) -> usize {
///         *self as usize
///     }
/// }
/// assert_eq!(Format::VALUES[Format::Parquet.ordinal()], "parquet");
/// ```
pub trait LabelValue {
    /// Every value, in ordinal order.
    const VALUES: &'static [&'static str];
    /// This value's position in [`VALUES`](Self::VALUES).
    fn ordinal(&self) -> usize;
}

/// A label set known at compile time: its label names, and a dense index for
/// every combination of values.
///
/// `index()` maps a label set to `0..CARDINALITY`, and `value(i, j)` gives the
/// value of label `NAMES[j]` of the label set with index `i`. A typed family
/// creates one series per index when it is taken, and checks then that the
/// implementation is consistent (names, values, no two indices with the same
/// values): a wrong implementation is an [`Error`], never a panic.
///
/// With the facade's `derive` feature, `#[derive(LabelSet)]` implements it for
/// structs whose fields are [`LabelValue`]s (label names are the field names)
/// and for field-less enums with `#[label(name = "...")]`. By hand:
///
/// ```
/// use lakemetrics_core::{LabelSet, LabelValue, Registry};
///
/// #[derive(Clone, Copy)]
/// enum Outcome { Success, Failure }
/// impl LabelValue for Outcome {
///     const VALUES: &'static [&'static str] = &["success", "failure"];
///     fn ordinal(&self) -> usize { *self as usize }
/// }
/// impl LabelSet for Outcome {
///     const NAMES: &'static [&'static str] = &["outcome"];
///     const CARDINALITY: usize = 2;
///     fn index(&self) -> usize { self.ordinal() }
///     fn value(index: usize, _label: usize) -> &'static str {
///         Self::VALUES.get(index).copied().unwrap_or("")
///     }
/// }
///
/// let reg = Registry::new();
/// let batches = reg.typed_counter::<Outcome>("batches_total", &[("handler", "csv")]).unwrap();
/// batches.get(&Outcome::Failure).inc();
/// let failed = reg
///     .counter("batches_total", &[("handler", "csv"), ("outcome", "failure")])
///     .unwrap();
/// assert_eq!(failed.get(), 1);
/// ```
pub trait LabelSet {
    /// The label names, in the order [`value`](Self::value) numbers them.
    const NAMES: &'static [&'static str];
    /// How many label sets there are: indices run over `0..CARDINALITY`.
    const CARDINALITY: usize;
    /// This label set's index, in `0..CARDINALITY`.
    fn index(&self) -> usize;
    /// The value of label `NAMES[label]` in the label set with index `index`.
    fn value(index: usize, label: usize) -> &'static str;
}

/// No labels: one series. The label set of a [`DynamicFamily`] whose only
/// label is the dynamic one.
impl LabelSet for () {
    const NAMES: &'static [&'static str] = &[];
    const CARDINALITY: usize = 1;
    #[inline]
    fn index(&self) -> usize {
        0
    }
    fn value(_index: usize, _label: usize) -> &'static str {
        ""
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::Counter {}
    impl Sealed for crate::Gauge {}
    impl Sealed for crate::Histogram {}
    impl Sealed for crate::Summary {}
}

/// A series handle a typed family holds: [`Counter`], [`Gauge`], [`Histogram`]
/// or [`Summary`]. Sealed.
pub trait Handle: sealed::Sealed + Clone + Send + Sync + 'static {
    /// The kind of the handle's series.
    const KIND: MetricKind;
    #[doc(hidden)]
    fn lookup(reg: &Registry, name: &str, labels: &[(&str, &str)]) -> Result<Self>;
    /// The `_or_overflow` lookup.
    #[doc(hidden)]
    fn lookup_or_overflow(reg: &Registry, name: &str, labels: &[(&str, &str)]) -> Result<Self>;
    /// The family's overflow series, counting the lookup in the self-metric.
    #[doc(hidden)]
    fn overflow(reg: &Registry, name: &str) -> Result<Self>;
}

macro_rules! handle_impls {
    ($($h:ident, $lookup:ident, $lookup_or:ident;)*) => {$(
        impl Handle for $h {
            const KIND: MetricKind = MetricKind::$h;
            fn lookup(reg: &Registry, name: &str, labels: &[(&str, &str)]) -> Result<Self> {
                reg.$lookup(name, labels)
            }
            fn lookup_or_overflow(
                reg: &Registry,
                name: &str,
                labels: &[(&str, &str)],
            ) -> Result<Self> {
                reg.$lookup_or(name, labels)
            }
            fn overflow(reg: &Registry, name: &str) -> Result<Self> {
                match reg.overflow_series(name, MetricKind::$h)? {
                    AnySeries::$h(h) => Ok(h),
                    // `overflow_series` checked the family's kind.
                    _ => Err(Error::KindConflict {
                        name: name.into(),
                        existing: MetricKind::$h,
                        requested: MetricKind::$h,
                    }),
                }
            }
        }
    )*};
}

handle_impls! {
    Counter, counter, counter_or_overflow;
    Gauge, gauge, gauge_or_overflow;
    Histogram, histogram, histogram_or_overflow;
    Summary, summary, summary_or_overflow;
}

/// The label pairs of the label set with index `index`: `fixed` first, then
/// `L`'s, then the dynamic label if any.
fn label_pairs<'a, L: LabelSet>(
    fixed: &[(&'a str, &'a str)],
    index: usize,
    dynamic: Option<(&'a str, &'a str)>,
) -> Vec<(&'a str, &'a str)> {
    let mut v = Vec::with_capacity(fixed.len() + L::NAMES.len() + 1);
    v.extend_from_slice(fixed);
    v.extend(
        L::NAMES
            .iter()
            .enumerate()
            .map(|(j, n)| (*n, L::value(index, j))),
    );
    v.extend(dynamic);
    v
}

fn bad_label_set<L>(reason: String) -> Error {
    Error::InvalidConfig {
        what: "label set",
        reason: format!("{}: {reason}", std::any::type_name::<L>()),
    }
}

/// Creates (or finds) the series of every index of `L` (with `fixed` and
/// `dynamic` beside its labels), after checking everything that can be checked
/// first, so that bad input, or too many series, creates nothing.
fn create_row<H: Handle, L: LabelSet>(
    reg: &Registry,
    name: &str,
    fixed: &[(&str, &str)],
    dynamic: Option<(&str, &str)>,
) -> Result<Box<[H]>> {
    if L::CARDINALITY == 0 {
        return Err(bad_label_set::<L>("CARDINALITY is 0".into()));
    }
    let sets: Vec<Vec<(&str, &str)>> = (0..L::CARDINALITY)
        .map(|i| label_pairs::<L>(fixed, i, dynamic))
        .collect();
    reg.check_label_sets(name, H::KIND, &sets, true)?;
    distinct::<L>(&sets)?;
    sets.iter()
        .map(|labels| H::lookup(reg, name, labels))
        .collect::<Result<Box<[H]>>>()
}

/// Fails if two indices of `L` have the same label values (they would share a
/// series: the implementation of `L` is inconsistent). `sets` passed
/// `validate_labels`, so no label name repeats within one: sorted, equal sets
/// are equal vectors.
fn distinct<L: LabelSet>(sets: &[Vec<(&str, &str)>]) -> Result<()> {
    let mut seen = HashMap::with_capacity(sets.len());
    for (i, labels) in sets.iter().enumerate() {
        let mut key = labels.clone();
        key.sort_unstable();
        if let Some(j) = seen.insert(key, i) {
            return Err(bad_label_set::<L>(format!(
                "indices {j} and {i} have the same label values"
            )));
        }
    }
    Ok(())
}

/// Handles a [`TypedFamily`] keeps in itself rather than behind a pointer.
const INLINE_HANDLES: usize = 8;

/// Every series of label set `L` in one family, created up front: recording
/// through [`get`](Self::get) is an array index.
///
/// Taken with [`Registry::typed_counter`] (or `typed_gauge`, `typed_histogram`,
/// `typed_summary`, and their `_or_overflow` forms). Cloning it clones its
/// handles (one reference-count increment each);
/// `Send + Sync`.
///
/// ```
/// use lakemetrics_core::{LabelSet, LabelValue, Registry};
/// # #[derive(Clone, Copy)] enum Status { Ok, Error }
/// # impl LabelValue for Status {
/// #     const VALUES: &'static [&'static str] = &["ok", "error"];
/// #     fn ordinal(&self) -> usize { *self as usize }
/// # }
/// # impl LabelSet for Status {
/// #     const NAMES: &'static [&'static str] = &["status"];
/// #     const CARDINALITY: usize = 2;
/// #     fn index(&self) -> usize { self.ordinal() }
/// #     fn value(i: usize, _: usize) -> &'static str { Self::VALUES.get(i).copied().unwrap_or("") }
/// # }
/// let reg = Registry::new();
/// let requests = reg.typed_counter::<Status>("requests_total", &[]).unwrap();
/// for _ in 0..3 {
///     requests.get(&Status::Ok).inc();
/// }
/// assert_eq!(requests.get(&Status::Ok).get(), 3);
/// assert_eq!(requests.get(&Status::Error).get(), 0);
/// ```
pub struct TypedFamily<H: Handle, L: LabelSet> {
    /// One handle per index of `L`: in the family itself up to
    /// [`INLINE_HANDLES`], so that `get` reaches a handle with no load of a
    /// pointer to them first.
    handles: SmallVec<[H; INLINE_HANDLES]>,
    /// Where a label set whose `index()` is out of range records (a wrong
    /// `LabelSet` implementation): the family's overflow series, made on first
    /// use.
    fallback: Arc<Fallback<H>>,
    /// The first handle, where the fallback records if it cannot have the
    /// overflow series.
    first: H,
    _labels: PhantomData<fn(&L)>,
}

/// A family's overflow series, made on first use.
struct Fallback<H> {
    registry: Registry,
    name: Box<str>,
    series: OnceLock<H>,
}

impl<H: Handle> Fallback<H> {
    /// The family's overflow series; `first` (a series of the family) if the
    /// registry cannot give it (it always can once the family exists).
    #[cold]
    #[inline(never)]
    fn get<'a>(&'a self, first: &'a H) -> &'a H {
        self.series.get_or_init(|| {
            H::overflow(&self.registry, &self.name).unwrap_or_else(|_| first.clone())
        })
    }
}

/// A [`TypedFamily`] of counters.
pub type TypedCounter<L> = TypedFamily<Counter, L>;
/// A [`TypedFamily`] of gauges.
pub type TypedGauge<L> = TypedFamily<Gauge, L>;
/// A [`TypedFamily`] of histograms.
pub type TypedHistogram<L> = TypedFamily<Histogram, L>;
/// A [`TypedFamily`] of summaries.
pub type TypedSummary<L> = TypedFamily<Summary, L>;

impl<H: Handle, L: LabelSet> Clone for TypedFamily<H, L> {
    fn clone(&self) -> Self {
        TypedFamily {
            handles: self.handles.clone(),
            fallback: self.fallback.clone(),
            first: self.first.clone(),
            _labels: PhantomData,
        }
    }
}

impl<H: Handle, L: LabelSet> std::fmt::Debug for TypedFamily<H, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedFamily")
            .field("name", &self.fallback.name)
            .field("labels", &std::any::type_name::<L>())
            .field("series", &self.handles.len())
            .finish()
    }
}

impl<H: Handle, L: LabelSet> TypedFamily<H, L> {
    fn new(reg: &Registry, name: &str, fixed: &[(&str, &str)], overflow: bool) -> Result<Self> {
        let handles: SmallVec<[H; INLINE_HANDLES]> =
            match create_row::<H, L>(reg, name, fixed, None) {
                Ok(row) => row.into_vec().into(),
                Err(Error::CardinalityLimit { .. }) if overflow => {
                    over_limit::<H, L>(reg, name, fixed, None)?
                        .into_vec()
                        .into()
                }
                Err(e) => return Err(e),
            };
        let Some(first) = handles.first().cloned() else {
            return Err(bad_label_set::<L>("CARDINALITY is 0".into()));
        };
        Ok(TypedFamily {
            first,
            handles,
            fallback: Arc::new(Fallback {
                registry: reg.clone(),
                name: name.into(),
                series: OnceLock::new(),
            }),
            _labels: PhantomData,
        })
    }

    /// The series of `labels`: an array index (and no allocation, lock or
    /// hashing).
    #[inline]
    pub fn get(&self, labels: &L) -> &H {
        let i = labels.index();
        match self.handles.get(i) {
            Some(h) => h,
            // Only a `LabelSet` implementation whose `index()` leaves
            // `0..CARDINALITY` gets here.
            None => self.fallback.get(&self.first),
        }
    }

    /// The handles, by index.
    pub fn handles(&self) -> &[H] {
        &self.handles
    }
}

/// The series of every index past a cardinality limit: each is found or
/// created with the `_or_overflow` lookup, so those that do not fit record into
/// the family's overflow series (or, past the registry's family or series
/// limit for a new name, the registry's overflow family of the kind), each
/// such lookup counted in the self-metric, as for the `&str` API.
#[cold]
fn over_limit<H: Handle, L: LabelSet>(
    reg: &Registry,
    name: &str,
    fixed: &[(&str, &str)],
    dynamic: Option<(&str, &str)>,
) -> Result<Box<[H]>> {
    (0..L::CARDINALITY)
        .map(|i| H::lookup_or_overflow(reg, name, &label_pairs::<L>(fixed, i, dynamic)))
        .collect()
}

/// A label set `L` plus one label whose values are learned at run time.
///
/// [`intern`](Self::intern) hashes a value, creates its series (one per index
/// of `L`) the first time, and returns a [`DynamicValue`]: keep it, and
/// recording through [`DynamicValue::get`] is an array index, with no hashing,
/// no string comparison and no lock. New values go through the same
/// cardinality limits as the `&str` lookups (the family's and the registry's
/// series limits); [`intern_or_overflow`](Self::intern_or_overflow) sends
/// values past them to the family's overflow series.
///
/// Taken with [`Registry::dynamic_counter`] (or `dynamic_gauge`,
/// `dynamic_histogram`, `dynamic_summary`). Cheap to clone (an `Arc`).
///
/// ```
/// use lakemetrics_core::Registry;
///
/// let reg = Registry::new();
/// let rows = reg.dynamic_counter::<()>("rows_total", &[], "tenant").unwrap();
/// let acme = rows.intern("acme").unwrap(); // once, when the tenant connects
/// for _ in 0..5 {
///     acme.get(&()).inc();
/// }
/// assert_eq!(acme.id(), 0);
/// assert_eq!(rows.intern("acme").unwrap().id(), 0);
/// assert_eq!(reg.counter("rows_total", &[("tenant", "acme")]).unwrap().get(), 5);
/// ```
pub struct DynamicFamily<H: Handle, L: LabelSet> {
    inner: Arc<DynamicInner<H>>,
    _labels: PhantomData<fn(&L)>,
}

/// Interned values: their ids and rows.
type Values<H> = HashMap<Box<str>, (u32, Arc<[H]>), ahash::RandomState>;

struct DynamicInner<H> {
    name: Box<str>,
    fixed: Box<[(Box<str>, Box<str>)]>,
    label: Box<str>,
    /// Values interned so far, with their ids and rows.
    values: RwLock<Values<H>>,
    /// The family's overflow series (the registry is here).
    overflow: Fallback<H>,
}

/// A [`DynamicFamily`] of counters.
pub type DynamicCounter<L> = DynamicFamily<Counter, L>;
/// A [`DynamicFamily`] of gauges.
pub type DynamicGauge<L> = DynamicFamily<Gauge, L>;
/// A [`DynamicFamily`] of histograms.
pub type DynamicHistogram<L> = DynamicFamily<Histogram, L>;
/// A [`DynamicFamily`] of summaries.
pub type DynamicSummary<L> = DynamicFamily<Summary, L>;

impl<H: Handle, L: LabelSet> Clone for DynamicFamily<H, L> {
    fn clone(&self) -> Self {
        DynamicFamily {
            inner: self.inner.clone(),
            _labels: PhantomData,
        }
    }
}

impl<H: Handle, L: LabelSet> std::fmt::Debug for DynamicFamily<H, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicFamily")
            .field("name", &self.inner.name)
            .field("labels", &std::any::type_name::<L>())
            .field("dynamic", &self.inner.label)
            .field("values", &self.len())
            .finish()
    }
}

impl<H: Handle, L: LabelSet> DynamicFamily<H, L> {
    fn new(reg: &Registry, name: &str, fixed: &[(&str, &str)], label: &str) -> Result<Self> {
        if L::CARDINALITY == 0 {
            return Err(bad_label_set::<L>("CARDINALITY is 0".into()));
        }
        // Everything but the values to come is checked now, creating nothing
        // (an empty value stands in for them).
        let sets: Vec<Vec<(&str, &str)>> = (0..L::CARDINALITY)
            .map(|i| label_pairs::<L>(fixed, i, Some((label, ""))))
            .collect();
        reg.check_label_sets(name, H::KIND, &sets, false)?;
        Ok(DynamicFamily {
            inner: Arc::new(DynamicInner {
                name: name.into(),
                fixed: fixed
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
                label: label.into(),
                values: RwLock::new(HashMap::default()),
                overflow: Fallback {
                    registry: reg.clone(),
                    name: name.into(),
                    series: OnceLock::new(),
                },
            }),
            _labels: PhantomData,
        })
    }

    /// The series of `value`, created (one per index of `L`) if it is new.
    /// Hashes `value` and takes a read lock when it is known: call it once per
    /// value and keep what it returns.
    ///
    /// Errors: a value longer than the registry allows, or a cardinality limit
    /// ([`Error::CardinalityLimit`]); either way nothing is created or
    /// remembered.
    pub fn intern(&self, value: &str) -> Result<DynamicValue<H, L>> {
        self.intern_inner(value, false)
    }

    /// Like [`intern`](Self::intern), but when the value's series do not fit a
    /// cardinality limit returns a value (its [`id`](DynamicValue::id) is
    /// [`DynamicValue::OVERFLOW`]) whose series are found or created with the
    /// `_or_overflow` lookups: those that do not fit record into the family's
    /// overflow series, each counted in the `lakemetrics_cardinality_overflow`
    /// self-metric. Such a value is not remembered: interning it again looks
    /// again (and counts again).
    pub fn intern_or_overflow(&self, value: &str) -> Result<DynamicValue<H, L>> {
        self.intern_inner(value, true)
    }

    fn value(&self, id: u32, row: Arc<[H]>) -> Result<DynamicValue<H, L>> {
        let Some(first) = row.first().cloned() else {
            return Err(bad_label_set::<L>("CARDINALITY is 0".into()));
        };
        Ok(DynamicValue {
            row,
            id,
            family: self.inner.clone(),
            first,
            _labels: PhantomData,
        })
    }

    fn intern_inner(&self, value: &str, overflow: bool) -> Result<DynamicValue<H, L>> {
        let inner = &*self.inner;
        if let Some((id, row)) = inner.values.read().get(value) {
            return self.value(*id, row.clone());
        }
        let fixed: Vec<(&str, &str)> = inner.fixed.iter().map(|(k, v)| (&**k, &**v)).collect();
        let row: Arc<[H]> = match create_row::<H, L>(
            &inner.overflow.registry,
            &inner.name,
            &fixed,
            Some((&inner.label, value)),
        ) {
            Ok(row) => row.into(),
            Err(Error::CardinalityLimit { .. }) if overflow => {
                // Not remembered: the interner holds no more values than the
                // limits let have series.
                let row = over_limit::<H, L>(
                    &inner.overflow.registry,
                    &inner.name,
                    &fixed,
                    Some((&inner.label, value)),
                )?;
                return self.value(DynamicValue::<H, L>::OVERFLOW, row.into());
            }
            Err(e) => return Err(e),
        };
        let mut values = inner.values.write();
        if let Some((id, row)) = values.get(value) {
            // Interned by another thread meanwhile: the same series.
            return self.value(*id, row.clone());
        }
        // Fewer than `u32::MAX` values: each took at least one series, and a
        // registry's series count is a `usize` checked against its limit.
        let id = u32::try_from(values.len())
            .ok()
            .filter(|id| *id != DynamicValue::<H, L>::OVERFLOW)
            .ok_or_else(|| Error::CardinalityLimit {
                name: Arc::from(&*inner.name),
                limit: u32::MAX as usize,
                scope: "family",
            })?;
        values.insert(value.into(), (id, row.clone()));
        self.value(id, row)
    }

    /// Values interned so far.
    pub fn len(&self) -> usize {
        self.inner.values.read().len()
    }

    /// Whether no value has been interned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dynamic label's name.
    pub fn label(&self) -> &str {
        &self.inner.label
    }
}

/// The series of one run-time value of a [`DynamicFamily`], from
/// [`DynamicFamily::intern`]: keep it, and record through [`get`](Self::get).
/// Cheap to clone (an `Arc`); `Send + Sync`.
pub struct DynamicValue<H: Handle, L: LabelSet> {
    /// One handle per index of `L`.
    row: Arc<[H]>,
    id: u32,
    family: Arc<DynamicInner<H>>,
    /// The row's first handle, where the fallback records if it cannot have
    /// the overflow series.
    first: H,
    _labels: PhantomData<fn(&L)>,
}

impl<H: Handle, L: LabelSet> Clone for DynamicValue<H, L> {
    fn clone(&self) -> Self {
        DynamicValue {
            row: self.row.clone(),
            id: self.id,
            family: self.family.clone(),
            first: self.first.clone(),
            _labels: PhantomData,
        }
    }
}

impl<H: Handle, L: LabelSet> std::fmt::Debug for DynamicValue<H, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicValue")
            .field("name", &self.family.name)
            .field("id", &self.id)
            .finish()
    }
}

impl<H: Handle, L: LabelSet> DynamicValue<H, L> {
    /// The [`id`](Self::id) of a value sent to the family's overflow series.
    pub const OVERFLOW: u32 = u32::MAX;

    /// The series of this value and `labels`: an array index (and no
    /// allocation, lock or hashing).
    #[inline]
    pub fn get(&self, labels: &L) -> &H {
        match self.row.get(labels.index()) {
            Some(h) => h,
            // Only a `LabelSet` implementation whose `index()` leaves
            // `0..CARDINALITY` gets here.
            None => self.family.overflow.get(&self.first),
        }
    }

    /// The value's small dense id in its family: values are numbered from 0 in
    /// the order they were first interned ([`OVERFLOW`](Self::OVERFLOW) for a
    /// value sent to the overflow series).
    pub fn id(&self) -> u32 {
        self.id
    }
}

macro_rules! registry_fns {
    ($($h:ident, $typed:ident, $typed_or:ident, $dynamic:ident;)*) => {$(
        #[doc = concat!("Every ", stringify!($typed), " series of label set `L` in family `name`, created now")]
        /// (or found), each with the labels `fixed` beside `L`'s: recording through
        /// [`TypedFamily::get`] is then an array index.
        ///
        /// Everything is checked before any series is created: the name, the label
        /// names and values (`L`'s and `fixed`), the consistency of `L`'s
        /// implementation, the kind, and that the series not yet present fit the
        /// family's and the registry's series limits ([`Error::CardinalityLimit`];
        /// see the `_or_overflow` form). Taking the same family again returns
        /// handles of the same series.
        pub fn $typed<L: LabelSet>(
            &self,
            name: &str,
            fixed: &[(&str, &str)],
        ) -> Result<TypedFamily<$h, L>> {
            TypedFamily::new(self, name, fixed, false)
        }

        #[doc = concat!("Like [`Registry::", stringify!($typed), "`], but when the series do not fit a")]
        /// cardinality limit, those that do not exist yet and cannot be created
        /// record into the family's overflow series (counted in the
        /// `lakemetrics_cardinality_overflow` self-metric), so nothing is lost.
        pub fn $typed_or<L: LabelSet>(
            &self,
            name: &str,
            fixed: &[(&str, &str)],
        ) -> Result<TypedFamily<$h, L>> {
            TypedFamily::new(self, name, fixed, true)
        }

        #[doc = concat!("A ", stringify!($typed), " family of label set `L` plus the label `label`, whose")]
        /// values are learned at run time ([`DynamicFamily::intern`]); `fixed`
        /// labels go beside them. Checks the name and label names now and creates
        /// no series.
        pub fn $dynamic<L: LabelSet>(
            &self,
            name: &str,
            fixed: &[(&str, &str)],
            label: &str,
        ) -> Result<DynamicFamily<$h, L>> {
            DynamicFamily::new(self, name, fixed, label)
        }
    )*};
}

/// Typed label sets (see the `typed` module docs).
impl Registry {
    registry_fns! {
        Counter, typed_counter, typed_counter_or_overflow, dynamic_counter;
        Gauge, typed_gauge, typed_gauge_or_overflow, dynamic_gauge;
        Histogram, typed_histogram, typed_histogram_or_overflow, dynamic_histogram;
        Summary, typed_summary, typed_summary_or_overflow, dynamic_summary;
    }
}
