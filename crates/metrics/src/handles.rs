//! The handles the facade records through: lakemetrics handles behind the
//! `metrics` handle traits. Each is held in an `Arc` by the recorder's table,
//! so a `metrics::Counter` is that `Arc` cloned (no allocation) and
//! `increment(1)` is one virtual call into one lakemetrics increment.

use std::sync::atomic::{AtomicU64, Ordering};

use lakemetrics_core::{Counter, Gauge, Histogram, Summary};

/// A lakemetrics counter as a `metrics` counter.
pub(crate) struct CounterHandle {
    counter: Counter,
    /// The largest value `absolute` was called with, starting at the counter's
    /// value when the handle was made (a restored checkpoint is not added twice).
    absolute: AtomicU64,
}

impl CounterHandle {
    pub(crate) fn new(counter: Counter) -> CounterHandle {
        let absolute = AtomicU64::new(counter.get());
        CounterHandle { counter, absolute }
    }

    /// Identifies the series (equal for handles of one series).
    pub(crate) fn series_id(counter: &Counter) -> usize {
        std::ptr::from_ref(counter.core()) as usize
    }
}

impl metrics::CounterFn for CounterHandle {
    #[inline]
    fn increment(&self, value: u64) {
        self.counter.inc_by(value);
    }

    /// Raises the counter by what `value` adds over the largest value
    /// `absolute` saw before (or the counter's value when first registered), so
    /// out-of-order calls never count twice: `fetch_max` orders the racing
    /// calls, and each adds only its step over its predecessor. Relaxed is
    /// enough: the one atomic's modification order is all that matters, and
    /// the counter's own increment is atomic.
    #[inline]
    fn absolute(&self, value: u64) {
        let prev = self.absolute.fetch_max(value, Ordering::Relaxed);
        if value > prev {
            self.counter.inc_by(value - prev);
        }
    }
}

/// A lakemetrics gauge as a `metrics` gauge.
pub(crate) struct GaugeHandle(Gauge);

impl GaugeHandle {
    pub(crate) fn new(gauge: Gauge) -> GaugeHandle {
        GaugeHandle(gauge)
    }

    pub(crate) fn series_id(gauge: &Gauge) -> usize {
        std::ptr::from_ref(gauge.core()) as usize
    }
}

impl metrics::GaugeFn for GaugeHandle {
    #[inline]
    fn increment(&self, value: f64) {
        self.0.add(value);
    }

    #[inline]
    fn decrement(&self, value: f64) {
        self.0.sub(value);
    }

    #[inline]
    fn set(&self, value: f64) {
        self.0.set(value);
    }
}

/// A lakemetrics histogram or summary as a `metrics` histogram.
pub(crate) enum DistributionHandle {
    Histogram(Histogram),
    Summary(Summary),
}

impl DistributionHandle {
    pub(crate) fn series_id(&self) -> usize {
        match self {
            DistributionHandle::Histogram(h) => std::ptr::from_ref(h.core()) as usize,
            DistributionHandle::Summary(s) => std::ptr::from_ref(s.core()) as usize,
        }
    }
}

impl metrics::HistogramFn for DistributionHandle {
    #[inline]
    fn record(&self, value: f64) {
        match self {
            DistributionHandle::Histogram(h) => h.observe(value),
            DistributionHandle::Summary(s) => s.observe(value),
        }
    }

    fn record_many(&self, value: f64, count: usize) {
        // lakemetrics has no "observe n times"; each is a few atomics.
        for _ in 0..count {
            self.record(value);
        }
    }
}
