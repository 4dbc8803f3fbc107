//! From a registry to remote-write requests: which epochs of which series are
//! due, their values at each epoch's end, and batches of whole epochs.
//!
//! A sample is one series' value at the end of one closed epoch, timestamped
//! with that end (the next epoch's start, in milliseconds): counters their
//! total then, gauges their value then, histograms their cumulative buckets,
//! sum and count then, summaries their count and sum then and the quantiles of
//! the epoch's observations (NaN for an epoch without any). The open epoch is
//! never sent: its values still change, and a receiver refuses a second,
//! different value for a timestamp it has.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use lakemetrics_core::{
    Filter, MetricKind, Registry, SeriesData, SeriesView, StateData, TimeRange,
};
use prost::Message;

use crate::proto::histogram::ResetHint;
use crate::proto::{Histogram, Label, Sample, TimeSeries, WriteRequest};

/// Per series (by a 64-bit hash of its name and labels), the newest epoch the
/// receiver acknowledged.
pub(crate) type Cursors = HashMap<u64, u64>;

/// One series' due epochs: the label sets of its output streams (a counter
/// has one, a histogram one per bucket plus `_sum` and `_count`) and, per
/// epoch, one value per stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Due {
    pub(crate) key: u64,
    pub(crate) streams: Vec<Vec<Label>>,
    /// `(epoch, timestamp ms, values)`, oldest first.
    pub(crate) epochs: Vec<(u64, i64, Vec<f64>)>,
    /// In native mode, a histogram with native buckets: its one stream's one
    /// sample (then `epochs` holds one entry with no values, for the cursor
    /// and the batching).
    pub(crate) native: Option<Histogram>,
}

/// What one visit of the registry found due.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub(crate) series: Vec<Due>,
    /// Samples of epochs after a series' cursor that left the ring before they
    /// were acknowledged.
    pub(crate) lost: u64,
}

impl Collected {
    /// Samples due in all.
    pub(crate) fn samples(&self) -> u64 {
        self.series
            .iter()
            .map(|d| (d.streams.len() * d.epochs.len()) as u64)
            .sum()
    }
}

/// The key a series' cursor is kept under.
fn series_key(name: &str, series: &SeriesView<'_>) -> u64 {
    let mut h = DefaultHasher::new();
    name.hash(&mut h);
    for (k, v) in series.labels() {
        k.hash(&mut h);
        v.hash(&mut h);
    }
    h.finish()
}

/// Visits the series `filter` selects and returns the closed epochs after
/// each one's cursor that the ring still holds. Cursors of series the visit no
/// longer finds are forgotten; epochs between a cursor and the oldest one
/// retained are counted as lost (the cursor is moved past them).
///
/// With `native`, a histogram series with native buckets is one stream (its
/// name and labels) with one remote-write `Histogram` sample when an epoch
/// closed since its cursor: core's cumulative native buckets as read now,
/// stamped with the time of that read (core keeps native buckets
/// cumulatively, not per epoch, so no earlier epoch's end can be rebuilt).
pub(crate) fn collect(
    registry: &Registry,
    filter: &Filter,
    external: &[Label],
    cursors: &mut Cursors,
    native: bool,
) -> Collected {
    let mut out = Collected::default();
    let mut seen: Cursors = HashMap::with_capacity(cursors.len());
    registry.visit(filter, |fam| {
        let name = fam.name();
        let g = fam.geometry();
        if g.is_lifetime() {
            // No history (`Retention::NONE`): no epochs to push.
            return;
        }
        let now_e = g.epoch(fam.now());
        let Some(last_closed) = now_e.checked_sub(1) else {
            return;
        };
        let oldest = g.oldest_retained(now_e);
        for series in fam.series() {
            let key = series_key(name, &series);
            let native_series =
                native && matches!(series.data(), SeriesData::Histogram(h) if h.native().is_some());
            let created = g.epoch(series.created());
            let cursor = cursors.get(&key).copied();
            let mut first = created.max(cursor.map_or(oldest, |c| c + 1));
            if first < oldest {
                // Only a series with a cursor can lose epochs: one first
                // seen now sends what the ring holds.
                // A native histogram sends its cumulative state, which
                // holds every observation: nothing of it is lost.
                if !native_series {
                    out.lost += (oldest - first) * stream_count(fam) as u64;
                }
                first = oldest;
            }
            // The cursor moves past what was lost; it stays where it was
            // otherwise (or is born just before the series' first epoch).
            seen.insert(key, first.saturating_sub(1));
            if first > last_closed {
                continue;
            }
            if let (true, SeriesData::Histogram(h)) = (native, series.data()) {
                if let Some(n) = h.native() {
                    let snap = h.snapshot();
                    let snap = n.snapshot(snap.count(), snap.sum);
                    let buckets = lakemetrics_export::NativeBuckets {
                        schema: i32::from(snap.schema),
                        zero_threshold: snap.zero_threshold,
                        zero_count: snap.zero_count,
                        count: snap.count,
                        sum: snap.sum,
                        positive: &snap.positive,
                        negative: &snap.negative,
                    };
                    let ts = (series.now() / 1_000_000) as i64;
                    // Core's snapshot always validates (schema and threshold
                    // checked at registration, indices sorted and merged);
                    // were it refused, the series sends its classic form.
                    if let Ok(hist) = crate::native_histogram(&buckets, ts, ResetHint::Unknown) {
                        out.series.push(Due {
                            key,
                            streams: vec![series_labels(name, &series, external, None)],
                            epochs: vec![(last_closed, ts, Vec::new())],
                            native: Some(hist),
                        });
                        continue;
                    }
                }
            }
            let epochs = values(&series, fam.objectives(), first, last_closed);
            if !epochs.is_empty() {
                let streams = streams(fam.kind(), name, fam, &series, external);
                debug_assert_eq!(streams.len(), stream_count(fam));
                out.series.push(Due {
                    key,
                    streams,
                    epochs,
                    native: None,
                });
            }
        }
    });
    *cursors = seen;
    out
}

/// How many streams each series of a family has (in the classic form).
fn stream_count(fam: &lakemetrics_core::FamilyView<'_>) -> usize {
    match fam.kind() {
        MetricKind::Counter | MetricKind::Gauge => 1,
        MetricKind::Histogram => fam.bucket_bounds().len() + 3,
        MetricKind::Summary => fam.objectives().len() + 2,
    }
}

/// The label sets of a series' output streams, each sorted by name
/// (`__name__` among them) as the spec asks.
fn streams(
    kind: MetricKind,
    name: &str,
    fam: &lakemetrics_core::FamilyView<'_>,
    series: &SeriesView<'_>,
    external: &[Label],
) -> Vec<Vec<Label>> {
    let base = |metric: &str, extra: Option<(&str, String)>| {
        series_labels(metric, series, external, extra)
    };
    match kind {
        MetricKind::Counter => {
            let metric = if name.ends_with("_total") {
                name.to_string()
            } else {
                format!("{name}_total")
            };
            vec![base(&metric, None)]
        }
        MetricKind::Gauge => vec![base(name, None)],
        MetricKind::Histogram => {
            let bucket = format!("{name}_bucket");
            let mut v: Vec<Vec<Label>> = fam
                .bucket_bounds()
                .iter()
                .chain(std::iter::once(&f64::INFINITY))
                .map(|&le| base(&bucket, Some(("le", lakemetrics_export::label_float(le)))))
                .collect();
            v.push(base(&format!("{name}_sum"), None));
            v.push(base(&format!("{name}_count"), None));
            v
        }
        MetricKind::Summary => {
            let mut v: Vec<Vec<Label>> = fam
                .objectives()
                .iter()
                .map(|&q| base(name, Some(("quantile", lakemetrics_export::label_float(q)))))
                .collect();
            v.push(base(&format!("{name}_sum"), None));
            v.push(base(&format!("{name}_count"), None));
            v
        }
    }
}

/// One stream's labels: `__name__` = `metric`, the series' labels, the
/// external ones it lacks, and `extra` (`le`, `quantile`), sorted by name as
/// the spec asks.
fn series_labels(
    metric: &str,
    series: &SeriesView<'_>,
    external: &[Label],
    extra: Option<(&str, String)>,
) -> Vec<Label> {
    let mut labels: Vec<Label> = Vec::with_capacity(series.labels().len() + external.len() + 2);
    labels.push(Label::new("__name__", metric));
    for (k, v) in series.labels() {
        if !v.is_empty() {
            labels.push(Label::new(k, v));
        }
    }
    // External labels never replace a series' own.
    for l in external {
        if !labels.iter().any(|m| m.name == l.name) {
            labels.push(l.clone());
        }
    }
    if let Some((k, v)) = extra {
        labels.retain(|m| m.name != k);
        labels.push(Label {
            name: k.to_string(),
            value: v,
        });
    }
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels
}

/// Per epoch in `first..=last` (all closed), the value of every stream at the
/// epoch's end. Epochs whose values are unknown (a gauge's epochs before the
/// first one in the ring it was set in) are left out. `objectives` are the
/// family's (summaries).
fn values(
    series: &SeriesView<'_>,
    objectives: &[f64],
    first: u64,
    last: u64,
) -> Vec<(u64, i64, Vec<f64>)> {
    let now = series.now();
    let all = TimeRange::default();
    let mut out = Vec::with_capacity((last - first + 1) as usize);
    match series.data() {
        SeriesData::Counter(c) => {
            let g = c.geometry();
            let ts = |e: u64| (g.epoch_start(e + 1) / 1_000_000) as i64;
            // First the cheap way: the increases of the due epochs and after
            // (the open one included), with the total read before and after;
            // when the two reads agree, the walk ended at that total, and the
            // value at an epoch's end is it less every later increase.
            let mut incs: Vec<(u64, u64)> = Vec::new();
            let range = TimeRange {
                start: Some(g.epoch_start(first)),
                end: None,
            };
            let before = c.total();
            c.for_each_point(now, range, |p| incs.push((g.epoch(p.start), p.increase)));
            let total = c.total();
            if before == total {
                let mut later: u64 = incs.iter().map(|p| p.1).sum();
                let mut k = 0;
                for e in first..=last {
                    while k < incs.len() && incs[k].0 <= e {
                        later -= incs[k].1;
                        k += 1;
                    }
                    out.push((e, ts(e), vec![total.saturating_sub(later) as f64]));
                }
                return out;
            }
            // A counter that moved meanwhile: the saved state, bases and the
            // total read together (every retained epoch, so dearer).
            let state = series.state();
            let StateData::Counter { total, bases } = state.data else {
                return out;
            };
            let mut k = 0;
            for e in first..=last {
                // The total at the end of `e` is the base of the first saved
                // epoch after it (idle epochs share the next one's base), or
                // the total.
                while k < state.epochs.len() && state.epochs[k] <= e {
                    k += 1;
                }
                let v = bases.get(k).copied().unwrap_or(total);
                out.push((e, ts(e), vec![v as f64]));
            }
        }
        SeriesData::Gauge(gauge) => {
            let g = gauge.geometry();
            let ts = |e: u64| (g.epoch_start(e + 1) / 1_000_000) as i64;
            let mut points: Vec<(u64, f64)> = Vec::new();
            gauge.for_each_point(now, all, |p| points.push((g.epoch(p.start), p.last)));
            let mut k = 0;
            let mut known = if points.is_empty() {
                // Not set within the ring: it held its value all along.
                Some(gauge.get())
            } else {
                None
            };
            for e in first..=last {
                while k < points.len() && points[k].0 <= e {
                    known = Some(points[k].1);
                    k += 1;
                }
                if let Some(v) = known {
                    out.push((e, ts(e), vec![v]));
                }
            }
        }
        SeriesData::Histogram(h) => {
            let g = h.geometry();
            let ts = |e: u64| (g.epoch_start(e + 1) / 1_000_000) as i64;
            let state = series.state();
            let StateData::Histogram {
                counts,
                sum,
                bases,
                sum_bases,
                ..
            } = state.data
            else {
                return out;
            };
            let n = counts.len();
            let mut k = 0;
            for e in first..=last {
                while k < state.epochs.len() && state.epochs[k] <= e {
                    k += 1;
                }
                let (row, s) = match bases.get(k * n..(k + 1) * n) {
                    Some(row) => (row, sum_bases[k]),
                    None => (&counts[..], sum),
                };
                let mut vals = Vec::with_capacity(n + 2);
                let mut cum = 0u64;
                for &c in row {
                    cum = cum.wrapping_add(c);
                    vals.push(cum as f64);
                }
                vals.push(s);
                vals.push(cum as f64);
                out.push((e, ts(e), vals));
            }
        }
        SeriesData::Summary(s) => {
            let g = s.geometry();
            let ts = |e: u64| (g.epoch_start(e + 1) / 1_000_000) as i64;
            // (epoch, count, sum, quantiles) of the epochs with observations,
            // and the count and sum they end at, read until a read of the
            // totals before and after the walk agree (so the walk saw them).
            let mut points: Vec<(u64, u64, f64, Vec<f64>)> = Vec::new();
            let (mut count, mut total_sum) = (0, 0.0);
            for _ in 0..8 {
                points.clear();
                let before = (s.count(), s.sum().to_bits());
                s.for_each_point(now, all, |p| {
                    let e = g.epoch(p.start);
                    let q = if e >= first && e <= last {
                        objectives.iter().map(|&q| p.quantile(q)).collect()
                    } else {
                        Vec::new()
                    };
                    points.push((e, p.count, p.sum, q));
                });
                let after = (s.count(), s.sum().to_bits());
                (count, total_sum) = (after.0, f64::from_bits(after.1));
                if before == after {
                    break;
                }
            }
            // Count and sum at the end of `e`: the totals less every later
            // epoch's observations.
            let mut later_count: u64 = points.iter().map(|p| p.1).sum();
            let mut later_sum: f64 = points.iter().map(|p| p.2).sum();
            let mut k = 0;
            for e in first..=last {
                let mut quantiles = None;
                while k < points.len() && points[k].0 <= e {
                    later_count -= points[k].1;
                    later_sum -= points[k].2;
                    if points[k].0 == e {
                        quantiles = Some(points[k].3.clone());
                    }
                    k += 1;
                }
                let mut vals = quantiles.unwrap_or_else(|| vec![f64::NAN; objectives.len()]);
                vals.push(total_sum - later_sum);
                vals.push(count.saturating_sub(later_count) as f64);
                out.push((e, ts(e), vals));
            }
        }
    }
    out
}

/// A batch: `(series index, epochs range)` pairs, whole epochs only.
pub(crate) type Batch = Vec<(usize, std::ops::Range<usize>)>;

/// Cuts the due epochs into batches of at most `max_samples` samples (a batch
/// holds at least one epoch of one series, even a larger one), series in visit
/// order and each series' epochs oldest first; a series' later epochs are only
/// ever in a later batch.
pub(crate) fn batches(due: &[Due], max_samples: usize) -> Vec<Batch> {
    let mut out = Vec::new();
    let mut cur: Batch = Vec::new();
    let mut n = 0usize;
    for (i, d) in due.iter().enumerate() {
        let per = d.streams.len();
        let mut start = 0;
        for j in 0..d.epochs.len() {
            if n > 0 && n + per > max_samples {
                if j > start {
                    cur.push((i, start..j));
                }
                start = j;
                out.push(std::mem::take(&mut cur));
                n = 0;
            }
            n += per;
        }
        if d.epochs.len() > start {
            cur.push((i, start..d.epochs.len()));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The request for one batch.
pub(crate) fn request(due: &[Due], batch: &Batch) -> WriteRequest {
    let mut timeseries = Vec::new();
    for (i, range) in batch {
        let d = &due[*i];
        if let Some(h) = &d.native {
            // One stream, one epoch: the histogram is in the batch that
            // holds that epoch.
            if !range.is_empty() {
                timeseries.push(TimeSeries {
                    labels: d.streams[0].clone(),
                    samples: Vec::new(),
                    histograms: vec![h.clone()],
                });
            }
            continue;
        }
        for (s, labels) in d.streams.iter().enumerate() {
            timeseries.push(TimeSeries {
                labels: labels.clone(),
                samples: d.epochs[range.clone()]
                    .iter()
                    .map(|(_, ts, v)| Sample {
                        value: v[s],
                        timestamp: *ts,
                    })
                    .collect(),
                histograms: Vec::new(),
            });
        }
    }
    WriteRequest { timeseries }
}

/// Samples in a batch.
pub(crate) fn batch_samples(due: &[Due], batch: &Batch) -> u64 {
    batch
        .iter()
        .map(|(i, r)| (due[*i].streams.len() * r.len()) as u64)
        .sum()
}

/// A request as the body of a push: protobuf, then snappy's block format.
pub fn compress(req: &WriteRequest) -> Vec<u8> {
    let raw = req.encode_to_vec();
    // An in-memory buffer cannot fail to compress; the error type is for
    // inputs over snappy's 4 GiB limit, which a batch never reaches.
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

/// Every due sample of the series `filter` selects, as one request (no
/// cursors: every closed epoch the ring holds), histograms in their classic
/// form. For tests, benchmarks and one-shot pushes.
pub fn encode_registry(registry: &Registry, filter: &Filter, external: &[Label]) -> WriteRequest {
    encode_registry_with(registry, filter, external, false)
}

/// [`encode_registry`], with `native_histograms` as
/// [`RemoteWriterBuilder::native_histograms`](crate::RemoteWriterBuilder::native_histograms)
/// sets it: histograms with native buckets as one remote-write `Histogram`
/// sample each (their cumulative native buckets now, stamped now) when true.
pub fn encode_registry_with(
    registry: &Registry,
    filter: &Filter,
    external: &[Label],
    native_histograms: bool,
) -> WriteRequest {
    let mut cursors = Cursors::new();
    let due = collect(registry, filter, external, &mut cursors, native_histograms);
    let all: Batch = (0..due.series.len())
        .map(|i| (i, 0..due.series[i].epochs.len()))
        .collect();
    request(&due.series, &all)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use lakemetrics_core::{Buckets, Describe, ManualClock, Retention};

    use super::*;

    const T0: u64 = 1_700_000_000_000_000_000;
    const SEC: u64 = 1_000_000_000;

    fn registry() -> (Registry, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(T0));
        let reg = Registry::builder()
            .clock(clock.clone())
            .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(10)).unwrap())
            .build();
        (reg, clock)
    }

    fn names(ts: &TimeSeries) -> Vec<(&str, &str)> {
        ts.labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect()
    }

    fn samples(ts: &TimeSeries) -> Vec<(i64, f64)> {
        ts.samples.iter().map(|s| (s.timestamp, s.value)).collect()
    }

    const MS0: i64 = (T0 / 1_000_000) as i64;

    #[test]
    fn counters_send_their_total_at_each_closed_epochs_end() {
        let (reg, clock) = registry();
        let c = reg
            .counter("rows", &[("zone", "b"), ("handler", "csv")])
            .unwrap();
        c.inc_by(2);
        clock.advance(Duration::from_secs(1));
        // epoch 1: idle
        clock.advance(Duration::from_secs(1));
        c.inc_by(5);
        clock.advance(Duration::from_millis(1500));
        c.inc(); // in the open epoch: not sent
        let req = encode_registry(&reg, &Filter::all(), &[Label::new("dc", "x")]);
        assert_eq!(req.timeseries.len(), 1);
        let ts = &req.timeseries[0];
        assert_eq!(
            names(ts),
            [
                ("__name__", "rows_total"),
                ("dc", "x"),
                ("handler", "csv"),
                ("zone", "b")
            ]
        );
        assert_eq!(
            samples(ts),
            [(MS0 + 1000, 2.0), (MS0 + 2000, 2.0), (MS0 + 3000, 7.0)]
        );
    }

    #[test]
    fn a_counter_recording_meanwhile_never_goes_back() {
        // A writer thread keeps incrementing while epochs are collected: each
        // epoch's value is at most the next one's.
        let (reg, clock) = registry();
        let c = reg.counter("rows", &[]).unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    c.inc();
                }
            });
            let mut cursors = Cursors::new();
            let mut prev = 0.0;
            for _ in 0..20 {
                clock.advance(Duration::from_millis(500));
                let due = collect(&reg, &Filter::all(), &[], &mut cursors, false);
                for d in &due.series {
                    for (e, _, v) in &d.epochs {
                        assert!(v[0] >= prev, "{v:?} after {prev}");
                        prev = v[0];
                        cursors.insert(d.key, *e);
                    }
                }
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
    }

    #[test]
    fn a_series_label_wins_over_an_external_one() {
        let (reg, clock) = registry();
        reg.counter("a_total", &[("dc", "mine")]).unwrap().inc();
        clock.advance(Duration::from_secs(1));
        let req = encode_registry(&reg, &Filter::all(), &[Label::new("dc", "x")]);
        assert_eq!(
            names(&req.timeseries[0]),
            [("__name__", "a_total"), ("dc", "mine")]
        );
    }

    #[test]
    fn gauges_send_their_value_at_each_epochs_end() {
        let (reg, clock) = registry();
        let g = reg.gauge("temp", &[]).unwrap();
        g.set(3.0);
        g.set(4.5);
        clock.advance(Duration::from_secs(1));
        clock.advance(Duration::from_secs(1));
        g.set(-1.0);
        clock.advance(Duration::from_secs(1));
        let req = encode_registry(&reg, &Filter::all(), &[]);
        assert_eq!(
            samples(&req.timeseries[0]),
            [(MS0 + 1000, 4.5), (MS0 + 2000, 4.5), (MS0 + 3000, -1.0)]
        );
    }

    #[test]
    fn histograms_send_cumulative_buckets_sum_and_count() {
        let (reg, clock) = registry();
        reg.register(Describe::histogram("lat").buckets(Buckets::new(vec![0.1, 1.0]).unwrap()))
            .unwrap();
        let h = reg.histogram("lat", &[("h", "x")]).unwrap();
        // Sums with short mantissas: per-epoch sum bases keep 36 bits of
        // mantissa (see docs/architecture.md), so these are exact.
        h.observe(0.0625);
        h.observe(0.5);
        clock.advance(Duration::from_secs(1));
        h.observe(5.0);
        clock.advance(Duration::from_secs(1));
        let req = encode_registry(&reg, &Filter::all(), &[]);
        let got: Vec<_> = req
            .timeseries
            .iter()
            .map(|t| (names(t), samples(t)))
            .collect();
        let at = |a: f64, b: f64| vec![(MS0 + 1000, a), (MS0 + 2000, b)];
        assert_eq!(
            got,
            [
                (
                    vec![("__name__", "lat_bucket"), ("h", "x"), ("le", "0.1")],
                    at(1.0, 1.0)
                ),
                (
                    vec![("__name__", "lat_bucket"), ("h", "x"), ("le", "1.0")],
                    at(2.0, 2.0)
                ),
                (
                    vec![("__name__", "lat_bucket"), ("h", "x"), ("le", "+Inf")],
                    at(2.0, 3.0)
                ),
                (
                    vec![("__name__", "lat_sum"), ("h", "x")],
                    at(0.5625, 5.5625)
                ),
                (vec![("__name__", "lat_count"), ("h", "x")], at(2.0, 3.0)),
            ]
        );
    }

    #[test]
    fn summaries_send_each_epochs_quantiles_and_cumulative_sum_and_count() {
        let (reg, clock) = registry();
        reg.register(Describe::summary("size").objectives(vec![0.5]))
            .unwrap();
        let s = reg.summary("size", &[]).unwrap();
        s.observe(100.0);
        clock.advance(Duration::from_secs(1));
        clock.advance(Duration::from_secs(1));
        s.observe(10.0);
        s.observe(10.0);
        clock.advance(Duration::from_secs(1));
        let req = encode_registry(&reg, &Filter::all(), &[]);
        let q = samples(&req.timeseries[0]);
        assert_eq!(
            names(&req.timeseries[0]),
            [("__name__", "size"), ("quantile", "0.5")]
        );
        assert!((q[0].1 - 100.0).abs() < 1.0, "{q:?}");
        assert!(q[1].1.is_nan(), "{q:?}");
        assert!((q[2].1 - 10.0).abs() < 0.1, "{q:?}");
        assert_eq!(
            samples(&req.timeseries[1]),
            [
                (MS0 + 1000, 100.0),
                (MS0 + 2000, 100.0),
                (MS0 + 3000, 120.0)
            ]
        );
        assert_eq!(
            samples(&req.timeseries[2]),
            [(MS0 + 1000, 1.0), (MS0 + 2000, 1.0), (MS0 + 3000, 3.0)]
        );
        assert_eq!(names(&req.timeseries[2]), [("__name__", "size_count")]);
    }

    #[test]
    fn cursors_send_each_epoch_once_and_count_what_left_the_ring() {
        let (reg, clock) = registry();
        let c = reg.counter("rows", &[]).unwrap();
        let mut cursors = Cursors::new();
        c.inc();
        clock.advance(Duration::from_secs(3));
        let due = collect(&reg, &Filter::all(), &[], &mut cursors, false);
        assert_eq!(due.series[0].epochs.len(), 3);
        assert_eq!(due.lost, 0);
        // Acknowledge epoch 1 only (as an ack of a first batch would).
        cursors.insert(due.series[0].key, due.series[0].epochs[1].0);
        let due = collect(&reg, &Filter::all(), &[], &mut cursors, false);
        assert_eq!(due.series[0].epochs.len(), 1);
        // 20 s later the ring (10 epochs) holds epochs 14..=23 only: 2..=13
        // left it unsent.
        clock.advance(Duration::from_secs(20));
        let due = collect(&reg, &Filter::all(), &[], &mut cursors, false);
        assert_eq!(due.lost, 12);
        assert_eq!(due.series[0].epochs.first().unwrap().0, 14 + T0 / SEC);
        assert_eq!(due.series[0].epochs.len(), 9);
        // Counted once.
        let due = collect(&reg, &Filter::all(), &[], &mut cursors, false);
        assert_eq!(due.lost, 0);
    }

    #[test]
    fn a_histogram_loses_all_its_streams_of_an_epoch() {
        let (reg, clock) = registry();
        reg.register(Describe::histogram("lat").buckets(Buckets::new(vec![0.1, 1.0]).unwrap()))
            .unwrap();
        reg.histogram("lat", &[]).unwrap().observe(0.5);
        let mut cursors = Cursors::new();
        clock.advance(Duration::from_secs(1));
        let due = collect(&reg, &Filter::all(), &[], &mut cursors, false);
        assert_eq!(due.samples(), 5);
        cursors.insert(due.series[0].key, due.series[0].epochs[0].0);
        // Now in epoch 24, the ring keeps 15..=24 (24 open): epochs 1..=14
        // closed and left unsent, 14 lost epochs of 5 streams (3 buckets,
        // sum, count); 15..=23 are due.
        clock.advance(Duration::from_secs(23));
        let due = collect(&reg, &Filter::all(), &[], &mut cursors, false);
        assert_eq!(due.lost, 14 * 5);
        assert_eq!(due.samples(), 9 * 5);
    }

    /// Classic mode (the default): a native-only histogram sends its `+Inf`
    /// bucket, `_sum` and `_count` per closed epoch, as text writes it.
    #[test]
    fn a_native_only_histogram_in_classic_mode_sends_inf_sum_and_count() {
        let (reg, clock) = registry();
        reg.register(Describe::histogram("lat").native(3)).unwrap();
        let h = reg.histogram("lat", &[]).unwrap();
        h.observe(0.5);
        h.observe(2.0);
        clock.advance(Duration::from_secs(1));
        let req = encode_registry(&reg, &Filter::all(), &[]);
        type Stream<'a> = (Vec<(&'a str, &'a str)>, Vec<(i64, f64)>);
        let got: Vec<Stream<'_>> = req
            .timeseries
            .iter()
            .map(|t| {
                assert!(t.histograms.is_empty());
                (names(t), samples(t))
            })
            .collect();
        let at = (T0 / 1_000_000) as i64 + 1000;
        assert_eq!(
            got,
            [
                (
                    vec![("__name__", "lat_bucket"), ("le", "+Inf")],
                    vec![(at, 2.0)]
                ),
                (vec![("__name__", "lat_sum")], vec![(at, 2.5)]),
                (vec![("__name__", "lat_count")], vec![(at, 2.0)]),
            ]
        );
    }

    /// Native mode: one `Histogram` per native series (native-only or with
    /// classic buckets), the cumulative state read now and stamped now, and
    /// nothing again until another epoch closes; other kinds unchanged.
    #[test]
    fn native_mode_sends_one_native_histogram_per_series() {
        use crate::proto::histogram::{Count, ZeroCount};
        let (reg, clock) = registry();
        reg.register(Describe::histogram("only").native(3)).unwrap();
        reg.register(
            Describe::histogram("both")
                .buckets(Buckets::new(vec![1.0]).unwrap())
                .native(0),
        )
        .unwrap();
        let only = reg.histogram("only", &[]).unwrap();
        let both = reg.histogram("both", &[("a", "b")]).unwrap();
        let rows = reg.counter("rows", &[]).unwrap();
        for v in [0.0, 0.5, 3.0, -2.0] {
            only.observe(v);
            both.observe(v);
        }
        rows.inc();
        clock.advance(Duration::from_millis(1500));
        let mut cursors = Cursors::new();
        let due = collect(&reg, &Filter::all(), &[], &mut cursors, true);
        let all: Batch = (0..due.series.len())
            .map(|i| (i, 0..due.series[i].epochs.len()))
            .collect();
        assert_eq!(batch_samples(&due.series, &all), 3);
        let req = request(&due.series, &all);
        let now_ms = (T0 / 1_000_000) as i64 + 1500;
        for (name, h) in [("only", &only), ("both", &both)] {
            let t = req
                .timeseries
                .iter()
                .find(|t| t.labels[0].value == name)
                .unwrap();
            assert!(t.samples.is_empty());
            let [hist] = &t.histograms[..] else {
                panic!("{name}: {:?}", t.histograms)
            };
            let snap = h.native_snapshot().unwrap();
            assert_eq!(hist.timestamp, now_ms);
            assert_eq!(hist.count, Some(Count::CountInt(4)));
            assert_eq!(hist.sum, snap.sum);
            assert_eq!(hist.schema, i32::from(snap.schema));
            assert_eq!(hist.zero_count, Some(ZeroCount::ZeroCountInt(1)));
            assert_eq!(hist.zero_threshold, snap.zero_threshold);
            let want = crate::native_histogram(
                &lakemetrics_export::NativeBuckets {
                    schema: i32::from(snap.schema),
                    zero_threshold: snap.zero_threshold,
                    zero_count: snap.zero_count,
                    count: snap.count,
                    sum: snap.sum,
                    positive: &snap.positive,
                    negative: &snap.negative,
                },
                now_ms,
                ResetHint::Unknown,
            )
            .unwrap();
            assert_eq!(hist, &want);
        }
        // The counter is unchanged: its total at the closed epoch's end.
        let c = req
            .timeseries
            .iter()
            .find(|t| t.labels[0].value == "rows_total")
            .unwrap();
        assert_eq!(samples(c), [((T0 / 1_000_000) as i64 + 1000, 1.0)]);
        // Acknowledged: nothing is due until the next epoch closes.
        for d in &due.series {
            cursors.insert(d.key, d.epochs.last().unwrap().0);
        }
        let again = collect(&reg, &Filter::all(), &[], &mut cursors, true);
        assert!(again.series.is_empty());
        clock.advance(Duration::from_secs(1));
        let next = collect(&reg, &Filter::all(), &[], &mut cursors, true);
        assert_eq!(next.samples(), 3);
    }

    #[test]
    fn batches_hold_whole_epochs_in_order() {
        let due = |streams: usize, epochs: usize| Due {
            key: 0,
            streams: vec![Vec::new(); streams],
            epochs: (0..epochs)
                .map(|e| (e as u64, 0, vec![0.0; streams]))
                .collect(),
            native: None,
        };
        let all = [due(1, 3), due(3, 2), due(5, 1)];
        assert_eq!(
            batches(&all, 4),
            [
                vec![(0, 0..3)],
                vec![(1, 0..1)],
                vec![(1, 1..2)],
                vec![(2, 0..1)],
            ]
        );
        assert_eq!(batches(&all, 100), [vec![(0, 0..3), (1, 0..2), (2, 0..1)]]);
        let b = batches(&all, 6);
        assert_eq!(
            b,
            [vec![(0, 0..3), (1, 0..1)], vec![(1, 1..2)], vec![(2, 0..1)]]
        );
        assert_eq!(batch_samples(&all, &b[0]), 6);
    }

    #[test]
    fn a_body_is_snappy_of_the_protobuf() {
        let (reg, clock) = registry();
        reg.gauge("g", &[]).unwrap().set(1.0);
        clock.advance(Duration::from_secs(1));
        let req = encode_registry(&reg, &Filter::all(), &[]);
        let body = compress(&req);
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        assert_eq!(WriteRequest::decode(raw.as_slice()).unwrap(), req);
    }
}
