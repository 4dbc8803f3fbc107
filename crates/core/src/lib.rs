//! `lakemetrics-core`: a lock-free, sharded, in-process metrics engine that keeps a
//! bounded window of history for every series.
//!
//! Register families (or let the first lookup create them), take handles once, and
//! record through them from hot loops: a recording reads a coarse clock, updates a
//! few atomics of its own series and returns. There is no lock, no allocation, no
//! map lookup and no background task on that path. Each series keeps its cumulative
//! value (what Prometheus exports) beside a ring of per-epoch history that writers
//! and readers keep within the retention window themselves.
//!
//! ```
//! use std::time::Duration;
//! use lakemetrics_core::{Describe, Filter, Registry};
//!
//! let reg = Registry::new();
//! reg.register(Describe::counter("ingest_rows").help("Rows ingested.")).unwrap();
//! let rows = reg.counter("ingest_rows", &[("handler", "csv")]).unwrap();
//! let batch = reg.histogram("ingest_batch_seconds", &[("handler", "csv")]).unwrap();
//! rows.inc_by(500);
//! batch.observe(0.012);
//! assert_eq!(rows.increase(Duration::from_secs(60)), 500);
//!
//! let mut families = 0;
//! reg.visit(&Filter::all().prefix("ingest_"), |_| families += 1);
//! assert_eq!(families, 2);
//! ```
//!
//! See `docs/architecture.md` for the ring protocol and its invariants.

#![warn(missing_docs)]

mod buckets;
mod cache;
mod clock;
mod error;
mod family;
mod filter;
mod handles;
mod index;
mod intern;
mod kind;
pub mod labels;
mod native_index;
mod registry;
mod retention;
mod rodata;
mod seqcount;
mod sketch;
mod storage;
mod sync;
mod typed;
mod vdso;
mod view;

pub use buckets::{Buckets, DEFAULT_BUCKETS, MAX_BUCKETS};
pub use clock::{start_clock_ticker, Clock, ClockSource, CoarseClock, ManualClock, TickerHandle};
pub use error::{Error, Result};
pub use family::{Describe, DEFAULT_OBJECTIVES};
pub use filter::{Filter, LabelMatch, NameMatch};
pub use handles::{Counter, Gauge, Histogram, Summary};
pub use intern::Sym;
pub use kind::MetricKind;
pub use native_index::{
    native_index, native_relative_width, native_upper_bound, reduce_index, MAX_SCHEMA, MIN_SCHEMA,
};
pub use registry::{Registry, RegistryBuilder, OVERFLOW_LABEL, OVERFLOW_METRIC};
pub use retention::{Geometry, Retention, MAX_SLOTS};
pub use sketch::{SketchMapping, MAX_SKETCH_BUCKETS};
pub use storage::{
    bucket_quantile, CounterCore, CounterPoint, GaugeCore, GaugePoint, HistogramCore,
    HistogramPoint, HistogramSnapshot, NativeState, SeriesState, Span, StateData, SummaryCore,
    SummaryPoint, SummaryWindow, TimeRange, HISTOGRAM_BINS, SUMMARY_BINS,
};
pub use storage::{
    native_quantile_error, NativeConfig, NativeCore, NativeSnapshot, DEFAULT_NATIVE_MAX_BUCKETS,
    DEFAULT_ZERO_THRESHOLD, MAX_NATIVE_BUCKETS, NATIVE_BINS,
};
pub use typed::{
    DynamicCounter, DynamicFamily, DynamicGauge, DynamicHistogram, DynamicSummary, DynamicValue,
    Handle, LabelSet, LabelValue, TypedCounter, TypedFamily, TypedGauge, TypedHistogram,
    TypedSummary,
};
pub use view::{FamilyView, Labels, SeriesData, SeriesView};

/// Test hooks for the loom models in `tests/loom_*.rs`: recording at an explicit
/// time, straight into a series' state. Compiled only under `--cfg loom`, which no
/// user build sets (the arrangement tokio uses for its own loom hooks).
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_hooks;
