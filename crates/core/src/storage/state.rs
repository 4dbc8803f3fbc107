//! Saved state of a series: what checkpoints hold and restores load.
//!
//! Every kind captures its cumulative values and the history of its retained
//! epochs as columns (see each kind's `capture`); restoring writes them back into
//! a fresh series of the same family. History saved for epochs after the new
//! series' creation epoch (a checkpoint written by a process whose clock was
//! ahead) is dropped rather than left to block writers.

/// The saved state of one series: what a checkpoint holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesState {
    /// When the series was created (ns since the Unix epoch).
    pub created: u64,
    /// Epochs of the started, retained slots, ascending.
    pub epochs: Vec<u64>,
    /// The cumulative values and per-slot payloads, by kind.
    pub data: StateData,
}

impl SeriesState {
    /// The kind of series this state belongs to.
    pub fn kind(&self) -> crate::MetricKind {
        match self.data {
            StateData::Counter { .. } => crate::MetricKind::Counter,
            StateData::Gauge { .. } => crate::MetricKind::Gauge,
            StateData::Histogram { .. } => crate::MetricKind::Histogram,
            StateData::Summary { .. } => crate::MetricKind::Summary,
        }
    }
}

/// Per-kind part of a [`SeriesState`]; per-slot columns follow `epochs`.
#[derive(Debug, Clone, PartialEq)]
pub enum StateData {
    /// A counter.
    Counter {
        /// The total.
        total: u64,
        /// The total when each epoch started.
        bases: Vec<u64>,
    },
    /// A gauge.
    Gauge {
        /// The value.
        value: f64,
        /// Last value set in each epoch.
        last: Vec<f64>,
        /// Smallest value set in each epoch (NaN if only NaN was set).
        min: Vec<f64>,
        /// Largest value set in each epoch (NaN if only NaN was set).
        max: Vec<f64>,
    },
    /// A histogram.
    Histogram {
        /// Count per bucket, `+Inf` last.
        counts: Vec<u64>,
        /// Sum of observations.
        sum: f64,
        /// Per epoch, `counts.len()` bucket counts when it started (row-major).
        bases: Vec<u64>,
        /// The sum when each epoch started.
        sum_bases: Vec<f64>,
    },
    /// A summary.
    Summary {
        /// Observations.
        count: u64,
        /// Sum of observations.
        sum: f64,
        /// The count when each epoch started.
        count_bases: Vec<u64>,
        /// The sum when each epoch started.
        sum_bases: Vec<f64>,
        /// Per epoch, the sketch's bucket counts (row-major, `mapping.len()` each).
        sketches: Vec<u32>,
    },
}
