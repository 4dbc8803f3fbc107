//! Saved state of a series: what checkpoints hold and restores load.
//!
//! Every kind captures its cumulative values and the history of its retained
//! epochs as columns (see each kind's `capture`); restoring writes them back into
//! a fresh series of the same family. History saved for epochs after the new
//! series' creation epoch (a checkpoint written by a process whose clock was
//! ahead) is dropped rather than left to block writers.

use crate::retention::Geometry;

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
        /// The native buckets and their history, for a histogram with native
        /// buckets (`None` otherwise, and in checkpoints of format version 1).
        native: Option<Box<NativeState>>,
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

/// The saved native part of a histogram (see [`crate::NativeCore`]): its
/// cumulative buckets merged to one schema, and per saved epoch the epoch's
/// observations as history bins.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NativeState {
    /// The buckets' schema (at most the family's; it only decreases).
    pub schema: i8,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// `(index, count)` of the positive buckets, by strictly increasing index.
    pub positive: Vec<(i32, u64)>,
    /// The same for negative values.
    pub negative: Vec<(i32, u64)>,
    /// Per epoch of [`SeriesState::epochs`], how many of `bins` are its.
    pub bins_per_epoch: Vec<u32>,
    /// The epochs' history bins, epoch after epoch: `(lo, hi, count)`, the
    /// count of observations whose history key is in `lo..=hi` (keys at the
    /// history schema `min(schema, 5)` of the family, see [`crate::NativeCore`]).
    pub bins: Vec<(u32, u32, u64)>,
}

/// Where a restored epoch's bases come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Restored {
    /// The saved epoch at this index: the first at or after it (the series did
    /// not change in between).
    Saved(usize),
    /// The cumulative values: no history restored, so nothing counts as recent.
    Cumulative,
    /// Zero: a ring without history (`Retention::NONE`), whose one epoch is the
    /// series' life.
    Zero,
}

/// For each epoch a fresh series whose head is `head` retains, oldest first,
/// where its bases come from. Saved epochs after `head` are ignored.
pub(crate) fn restored_epochs<'a>(
    g: &Geometry,
    head: u64,
    epochs: &'a [u64],
    history: bool,
) -> impl Iterator<Item = (u64, Restored)> + 'a {
    let lifetime = g.is_lifetime();
    let mut at = 0;
    (g.oldest_retained(head)..=head).map(move |x| {
        while at < epochs.len() && epochs[at] < x {
            at += 1;
        }
        let from = if lifetime {
            Restored::Zero
        } else if history && at < epochs.len() && epochs[at] <= head {
            Restored::Saved(at)
        } else {
            Restored::Cumulative
        };
        (x, from)
    })
}
