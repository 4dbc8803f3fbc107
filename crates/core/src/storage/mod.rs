//! How series are stored: the cumulative state each kind exports, and beside it
//! a fixed ring of per-epoch history that writers and readers keep within the
//! retention window themselves.
//!
//! * [`ring`]: the lap-tagged rows of bases and the head that counters,
//!   histograms and summaries share (lock-free starts: no writer ever waits for or
//!   depends on another);
//! * [`seqlock`]: the per-slot seqlock of gauge rings;
//! * one module per kind, and [`state`] for checkpoints.

pub(crate) mod bins;
pub(crate) mod counter;
pub(crate) mod gauge;
pub(crate) mod histogram;
pub(crate) mod native;
pub(crate) mod native_state;
pub(crate) mod native_window;
pub(crate) mod ring;
pub(crate) mod seqlock;
pub(crate) mod slab;
pub(crate) mod state;
pub(crate) mod stripes;
pub(crate) mod summary;
pub(crate) mod window;

pub use counter::{CounterCore, CounterPoint};

/// What the allocator takes for a request of `size` bytes: glibc's malloc rounds
/// each request, plus its 8-byte header, up to 16 bytes, at least 32 (a heap
/// chunk). Memory accounting counts chunks, not requests, so that it tracks RSS.
#[inline]
pub(crate) fn chunk(size: usize) -> usize {
    if size == 0 {
        0
    } else {
        ((size + 8 + 15) & !15).max(32)
    }
}
pub use gauge::{GaugeCore, GaugePoint};
pub use histogram::{
    bucket_quantile, HistogramCore, HistogramPoint, HistogramSnapshot, HISTOGRAM_BINS,
};
pub use native::{
    native_quantile_error, NativeConfig, NativeCore, NativeSnapshot, DEFAULT_NATIVE_MAX_BUCKETS,
    DEFAULT_ZERO_THRESHOLD, MAX_NATIVE_BUCKETS, NATIVE_BINS,
};
pub use state::{NativeState, SeriesState, StateData};
pub use summary::{SummaryCore, SummaryPoint, SummaryWindow, SUMMARY_BINS};
pub use window::{Span, TimeRange};
