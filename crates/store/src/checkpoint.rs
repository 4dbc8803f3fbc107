//! What a checkpoint holds, and how one is written from a registry and read back.
//!
//! Writing streams: each family is one family block and as many series blocks as
//! its series need, each compressed and checksummed on its own, so memory stays
//! at one block whatever the registry's size. Reading checks every checksum, every
//! count and every saved family and series (the core's own rules, applied to a
//! scratch registry) before it returns anything.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{
    Buckets, Describe, FamilyView, Filter, Geometry, ManualClock, MetricKind, NativeConfig,
    NativeState, Registry, Retention, SeriesState, SketchMapping, StateData, MAX_SLOTS,
    OVERFLOW_LABEL,
};

use crate::column::{column, put_column, Value};
use crate::error::Corruption;
use crate::format::{
    block_header, corrupt, crc32, header, malformed, put_duration, put_f64, put_str, put_u32,
    put_u64, put_u8, put_varint, trailer, Bad, Reader, Res, Totals, BLOCK_FAMILY, BLOCK_HEADER_LEN,
    BLOCK_SERIES, BLOCK_SERIES_MAX, BLOCK_VALUES, FLAGS_KNOWN, FLAG_INTERIM, HEADER_LEN, MAGIC,
    MAX_BLOCK_BYTES, OLDEST_VERSION, TRAILER_LEN, TRAILER_MAGIC, VERSION,
};

/// Everything one checkpoint file holds, decoded and verified.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The checkpoint's sequence number in its store.
    pub seq: u64,
    /// When it was taken, by the registry's clock (ns since the Unix epoch).
    pub taken_at_nanos: u64,
    /// Whether it is an interim checkpoint: taken while its process went on
    /// recording and serving, so a scrape may have seen more than it holds.
    /// Restoring one starts cumulative series afresh ([`Store::restore`]).
    ///
    /// [`Store::restore`]: crate::Store::restore
    pub interim: bool,
    /// The families, in name order, each with its series.
    pub families: Vec<SavedFamily>,
}

/// A saved family: its full description, its ring shape and its series.
#[derive(Debug, Clone)]
pub struct SavedFamily {
    /// The metric name.
    pub name: String,
    /// The kind.
    pub kind: MetricKind,
    /// The HELP text.
    pub help: String,
    /// The unit, if one was given.
    pub unit: Option<String>,
    /// History kept per series.
    pub retention: Retention,
    /// Most series the family may hold.
    pub max_series: usize,
    /// Idle time-to-live of its series, if any.
    pub idle_ttl: Option<Duration>,
    /// Bucket layout (histograms only).
    pub buckets: Option<Buckets>,
    /// Native bucket configuration (histograms with native buckets only;
    /// never in format version 1).
    pub native: Option<NativeConfig>,
    /// Exported quantiles (summaries only; empty otherwise).
    pub objectives: Vec<f64>,
    /// Sketch shape (summaries only).
    pub sketch: Option<SketchMapping>,
    /// The ring shape the history was saved with; restored history needs the
    /// family to have the same shape now.
    pub geometry: Geometry,
    /// The series, in the order they were saved (creation order, overflow last).
    pub series: Vec<SavedSeries>,
}

/// A saved series: labels (sorted by name) and state.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedSeries {
    /// The labels, sorted by name.
    pub labels: Vec<(String, String)>,
    /// Cumulative values and retained history.
    pub state: SeriesState,
}

impl SavedFamily {
    /// The description to register the family with.
    pub fn describe(&self) -> Describe {
        let mut d = Describe::new(self.name.clone(), self.kind)
            .help(self.help.clone())
            .retention(self.retention)
            .max_series(self.max_series);
        if let Some(u) = &self.unit {
            d = d.unit(u.clone());
        }
        if let Some(ttl) = self.idle_ttl {
            d = d.idle_ttl(ttl);
        }
        if let Some(b) = &self.buckets {
            d = d.buckets(b.clone());
        }
        if let Some(n) = self.native {
            d = d
                .native(n.schema)
                .native_zero_threshold(n.zero_threshold)
                .native_max_buckets(n.max_buckets);
        }
        if self.kind == MetricKind::Summary {
            d = d.objectives(self.objectives.clone());
        }
        if let Some(m) = self.sketch {
            d = d.sketch(m);
        }
        d
    }

    /// History points (retained epochs) over all its series.
    pub fn points(&self) -> u64 {
        self.series
            .iter()
            .map(|s| s.state.epochs.len() as u64)
            .sum()
    }
}

impl Checkpoint {
    /// Decodes and verifies a whole checkpoint held in memory; `path` only names
    /// it in errors.
    pub fn decode(bytes: &[u8], path: impl AsRef<std::path::Path>) -> crate::Result<Checkpoint> {
        decode(bytes, true).map_err(|b| b.at(path.as_ref()))
    }

    /// Reads, decodes and verifies a checkpoint file, with the default limits
    /// ([`DEFAULT_MAX_CHECKPOINT_BYTES`], [`DEFAULT_READ_TIMEOUT`]): only a
    /// regular file is opened (never through a symbolic link, never blocking
    /// on a FIFO), its header is checked before the rest is read, and the read
    /// stops at the file's size. A file named as a store names checkpoints
    /// (`checkpoint-<seq>.lmc`) must hold that sequence number.
    ///
    /// [`DEFAULT_MAX_CHECKPOINT_BYTES`]: crate::DEFAULT_MAX_CHECKPOINT_BYTES
    /// [`DEFAULT_READ_TIMEOUT`]: crate::DEFAULT_READ_TIMEOUT
    pub fn read(path: impl AsRef<std::path::Path>) -> crate::Result<Checkpoint> {
        crate::file::read(path.as_ref(), &crate::file::Limits::default())
    }

    /// Series over all families.
    pub fn series_count(&self) -> usize {
        self.families.iter().map(|f| f.series.len()).sum()
    }

    /// History points over all series.
    pub fn points(&self) -> u64 {
        self.families.iter().map(SavedFamily::points).sum()
    }
}

impl Bad {
    pub(crate) fn at(self, path: &std::path::Path) -> crate::Error {
        match self {
            Bad::Corrupt { offset, problem } => crate::Error::Corrupt {
                path: path.to_path_buf(),
                offset,
                problem,
            },
            Bad::Version(version) => crate::Error::UnsupportedVersion {
                path: path.to_path_buf(),
                version,
            },
        }
    }
}

fn kind_code(kind: MetricKind) -> u8 {
    match kind {
        MetricKind::Counter => 0,
        MetricKind::Gauge => 1,
        MetricKind::Histogram => 2,
        MetricKind::Summary => 3,
    }
}

fn kind_from(code: u8) -> Option<MetricKind> {
    Some(match code {
        0 => MetricKind::Counter,
        1 => MetricKind::Gauge,
        2 => MetricKind::Histogram,
        3 => MetricKind::Summary,
        _ => return None,
    })
}

pub(crate) fn kind_index(kind: MetricKind) -> usize {
    kind_code(kind) as usize
}

// ------------------------------------------------------------------------------
// Writing

/// Stored history of one kind: how many points and values, in how many bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryStats {
    /// Series.
    pub series: u64,
    /// History points: retained epochs over all series.
    pub points: u64,
    /// Numbers those points hold: the epoch plus the slot's payload (one base
    /// for a counter, last/min/max for a gauge, a base per bucket and the sum
    /// for a histogram, count, sum and the non-zero sketch buckets for a summary).
    pub values: u64,
    /// Bytes of the history columns, compressed, with their column headers.
    pub bytes: u64,
}

impl HistoryStats {
    /// Bytes per history point (0 when there are none).
    pub fn bytes_per_point(&self) -> f64 {
        if self.points == 0 {
            0.0
        } else {
            self.bytes as f64 / self.points as f64
        }
    }

    /// Bytes per stored number (0 when there are none).
    pub fn bytes_per_value(&self) -> f64 {
        if self.values == 0 {
            0.0
        } else {
            self.bytes as f64 / self.values as f64
        }
    }

    fn add(&mut self, o: &HistoryStats) {
        self.series += o.series;
        self.points += o.points;
        self.values += o.values;
        self.bytes += o.bytes;
    }
}

/// What writing a checkpoint produced.
#[derive(Debug, Clone, Default)]
pub(crate) struct Written {
    pub taken_at: u64,
    pub bytes: u64,
    pub totals: Totals,
    pub history: [HistoryStats; 4],
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Writes a whole checkpoint of `reg` to `out`.
pub(crate) fn write<W: Write>(
    reg: &Registry,
    seq: u64,
    level: usize,
    interim: bool,
    out: W,
) -> io::Result<Written> {
    let taken_at = reg.now_nanos();
    let mut enc = Encoder {
        out,
        offset: 0,
        level,
        totals: Totals::default(),
        history: Default::default(),
    };
    let flags = if interim { FLAG_INTERIM } else { 0 };
    enc.put(&header(seq, taken_at, flags))?;
    let mut failed = None;
    reg.visit(&Filter::all().include_idle(true), |fam| {
        if failed.is_none() {
            failed = enc.family(fam).err();
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let t = trailer(enc.totals, enc.offset);
    enc.put(&t)?;
    enc.out.flush()?;
    Ok(Written {
        taken_at,
        bytes: enc.offset,
        totals: enc.totals,
        history: enc.history,
    })
}

struct Encoder<W> {
    out: W,
    offset: u64,
    level: usize,
    totals: Totals,
    history: [HistoryStats; 4],
}

impl<W: Write> Encoder<W> {
    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.offset += b.len() as u64;
        Ok(())
    }

    fn block(&mut self, kind: u8, payload: &[u8]) -> io::Result<()> {
        if payload.len() > MAX_BLOCK_BYTES as usize {
            return Err(invalid(format!(
                "a block of {} bytes passes the format's limit",
                payload.len()
            )));
        }
        let h = block_header(kind, self.totals.blocks, payload);
        self.put(&h)?;
        self.put(payload)?;
        self.totals.blocks += 1;
        Ok(())
    }

    fn family(&mut self, fam: &FamilyView<'_>) -> io::Result<()> {
        // Collected first: the count written in the family block must be the
        // number of series that follow, even if an overflow series appears meanwhile.
        let series: Vec<_> = fam.series().collect();
        let kind = fam.kind();
        let mut p = Vec::with_capacity(256);
        put_str(&mut p, fam.name());
        put_u8(&mut p, kind_code(kind));
        put_str(&mut p, fam.help());
        match fam.unit() {
            Some(u) => {
                put_u8(&mut p, 1);
                put_str(&mut p, u);
            }
            None => put_u8(&mut p, 0),
        }
        let r = fam.retention();
        put_duration(&mut p, r.resolution());
        put_duration(&mut p, r.window());
        put_u64(&mut p, fam.max_series() as u64);
        match fam.idle_ttl() {
            Some(ttl) => {
                put_u8(&mut p, 1);
                put_duration(&mut p, ttl);
            }
            None => put_u8(&mut p, 0),
        }
        let g = fam.geometry();
        put_u64(&mut p, g.width_nanos());
        put_u32(&mut p, g.len() as u32);
        put_u64(&mut p, series.len() as u64);
        let (mut buckets, mut sketch_len, mut native) = (0, 0, false);
        match kind {
            MetricKind::Histogram => {
                let bounds = fam.bucket_bounds();
                put_varint(&mut p, bounds.len() as u64);
                for b in bounds {
                    put_f64(&mut p, *b);
                }
                buckets = bounds.len() + 1;
                match fam.native() {
                    Some(n) => {
                        put_u8(&mut p, 1);
                        put_u8(&mut p, n.schema as u8);
                        put_f64(&mut p, n.zero_threshold);
                        put_u32(&mut p, n.max_buckets);
                        native = true;
                    }
                    None => put_u8(&mut p, 0),
                }
            }
            MetricKind::Summary => {
                let o = fam.objectives();
                put_varint(&mut p, o.len() as u64);
                for q in o {
                    put_f64(&mut p, *q);
                }
                let m = fam.sketch();
                put_f64(&mut p, m.relative_error());
                put_f64(&mut p, m.min());
                put_f64(&mut p, m.max());
                sketch_len = m.len();
            }
            MetricKind::Counter | MetricKind::Gauge => {}
        }
        self.block(BLOCK_FAMILY, &p)?;
        self.totals.families += 1;

        let mut chunk = Chunk::new(kind, buckets, sketch_len, native);
        for s in &series {
            chunk.push(s.labels(), s.state())?;
            if chunk.full() {
                self.flush(&mut chunk)?;
            }
        }
        if chunk.n > 0 {
            self.flush(&mut chunk)?;
        }
        Ok(())
    }

    fn flush(&mut self, chunk: &mut Chunk<'_>) -> io::Result<()> {
        let (payload, stats) = chunk.encode(self.level);
        self.block(BLOCK_SERIES, &payload)?;
        self.totals.series += stats.series;
        self.totals.points += stats.points;
        self.history[kind_index(chunk.kind)].add(&stats);
        chunk.clear();
        Ok(())
    }
}

/// Per-kind columns of a series block being built.
enum Columns {
    Counter {
        total: Vec<u64>,
        bases: Vec<u64>,
    },
    Gauge {
        value: Vec<f64>,
        last: Vec<f64>,
        /// Per slot: bit 0 set when its min is not its last value, bit 1 when
        /// its max is not. A gauge set once per epoch stores one value per slot.
        extremes: Vec<u32>,
        /// The mins that differ from their slot's last value.
        min: Vec<f64>,
        /// The maxes that differ from their slot's last value.
        max: Vec<f64>,
    },
    Histogram {
        counts: Vec<u64>,
        sum: Vec<f64>,
        /// Per series, bucket-major (each bucket's bases over the epochs in a
        /// run), so every run is non-decreasing and deltas stay small.
        bases: Vec<u64>,
        sum_bases: Vec<f64>,
        /// The native buckets and history, for a family with native buckets.
        native: Option<Box<NativeColumns>>,
    },
    Summary {
        count: Vec<u64>,
        sum: Vec<f64>,
        count_bases: Vec<u64>,
        sum_bases: Vec<f64>,
        /// Per slot, its non-zero sketch buckets.
        nnz: Vec<u32>,
        /// Per non-zero bucket, its distance from the previous one's successor.
        gaps: Vec<u32>,
        /// Per non-zero bucket, its count.
        counts: Vec<u32>,
    },
}

/// The native columns of a histogram series block (`docs/formats.md`).
#[derive(Default)]
struct NativeColumns {
    /// Per series: its schema + 4.
    schema: Vec<u32>,
    /// Per series: the zero bucket's count.
    zero: Vec<u64>,
    /// Per series: its positive buckets, then its negative ones.
    lens: Vec<u32>,
    /// Per bucket, per side: the first's index zigzagged, then each index
    /// minus the previous one minus one.
    index: Vec<u32>,
    /// Per bucket: its count.
    counts: Vec<u64>,
    /// Per epoch: its history bins.
    bins: Vec<u32>,
    /// Per bin: its lowest key, its highest minus its lowest, its count.
    lo: Vec<u32>,
    width: Vec<u32>,
    bin_counts: Vec<u64>,
}

impl NativeColumns {
    fn push(&mut self, st: &NativeState) {
        self.schema.push((i32::from(st.schema) + 4) as u32);
        self.zero.push(st.zero_count);
        self.lens.push(st.positive.len() as u32);
        self.lens.push(st.negative.len() as u32);
        for side in [&st.positive, &st.negative] {
            let mut prev: Option<i32> = None;
            for &(i, c) in side {
                self.index.push(match prev {
                    None => ((i << 1) ^ (i >> 31)) as u32,
                    Some(p) => (i64::from(i) - i64::from(p) - 1) as u32,
                });
                self.counts.push(c);
                prev = Some(i);
            }
        }
        self.bins.extend_from_slice(&st.bins_per_epoch);
        for &(lo, hi, c) in &st.bins {
            self.lo.push(lo);
            self.width.push(hi - lo);
            self.bin_counts.push(c);
        }
    }

    /// Values held, as the block's budget counts them.
    fn values(st: &NativeState) -> usize {
        3 + 2 * (st.positive.len() + st.negative.len())
            + st.bins_per_epoch.len()
            + 3 * st.bins.len()
    }
}

/// A series block being built: labels through a string table, then columns.
struct Chunk<'a> {
    kind: MetricKind,
    buckets: usize,
    sketch_len: usize,
    native: bool,
    n: usize,
    strings: HashMap<&'a str, u64>,
    table: Vec<u8>,
    labels: Vec<u8>,
    created: Vec<u64>,
    slots: Vec<u32>,
    epochs: Vec<u64>,
    cols: Columns,
    /// Numbers held, sketches counted dense (as a reader will hold them).
    values: usize,
}

impl<'a> Chunk<'a> {
    fn new(kind: MetricKind, buckets: usize, sketch_len: usize, native: bool) -> Chunk<'a> {
        let cols = match kind {
            MetricKind::Counter => Columns::Counter {
                total: Vec::new(),
                bases: Vec::new(),
            },
            MetricKind::Gauge => Columns::Gauge {
                value: Vec::new(),
                last: Vec::new(),
                extremes: Vec::new(),
                min: Vec::new(),
                max: Vec::new(),
            },
            MetricKind::Histogram => Columns::Histogram {
                counts: Vec::new(),
                sum: Vec::new(),
                bases: Vec::new(),
                sum_bases: Vec::new(),
                native: native.then(Box::default),
            },
            MetricKind::Summary => Columns::Summary {
                count: Vec::new(),
                sum: Vec::new(),
                count_bases: Vec::new(),
                sum_bases: Vec::new(),
                nnz: Vec::new(),
                gaps: Vec::new(),
                counts: Vec::new(),
            },
        };
        Chunk {
            kind,
            buckets,
            sketch_len,
            native,
            n: 0,
            strings: HashMap::new(),
            table: Vec::new(),
            labels: Vec::new(),
            created: Vec::new(),
            slots: Vec::new(),
            epochs: Vec::new(),
            cols,
            values: 0,
        }
    }

    fn full(&self) -> bool {
        self.values >= BLOCK_VALUES
            || self.n >= BLOCK_SERIES_MAX
            || self.table.len() + self.labels.len() >= BLOCK_VALUES * 8
    }

    fn clear(&mut self) {
        *self = Chunk::new(self.kind, self.buckets, self.sketch_len, self.native);
    }

    fn string(&mut self, s: &'a str) -> u64 {
        let next = self.strings.len() as u64;
        *self.strings.entry(s).or_insert_with(|| {
            put_str(&mut self.table, s);
            next
        })
    }

    fn push(
        &mut self,
        labels: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
        state: SeriesState,
    ) -> io::Result<()> {
        let m = state.epochs.len();
        let (b, k) = (self.buckets, self.sketch_len);
        let kind = self.kind;
        let mismatch = || invalid(format!("a {kind} series' state does not match its family"));
        // Check before anything is appended, so a refused series leaves no trace.
        let fits = match &state.data {
            StateData::Counter { bases, .. } => {
                self.kind == MetricKind::Counter && bases.len() == m
            }
            StateData::Gauge { last, min, max, .. } => {
                self.kind == MetricKind::Gauge
                    && last.len() == m
                    && min.len() == m
                    && max.len() == m
            }
            StateData::Histogram {
                counts,
                bases,
                sum_bases,
                native,
                ..
            } => {
                self.kind == MetricKind::Histogram
                    && counts.len() == b
                    && bases.len() == m * b
                    && sum_bases.len() == m
                    && native.as_ref().map_or(!self.native, |n| {
                        self.native
                            && n.bins_per_epoch.len() == m
                            && n.bins_per_epoch.iter().map(|&x| x as usize).sum::<usize>()
                                == n.bins.len()
                            && n.bins.iter().all(|b| b.0 <= b.1)
                    })
            }
            StateData::Summary {
                count_bases,
                sum_bases,
                sketches,
                ..
            } => {
                self.kind == MetricKind::Summary
                    && count_bases.len() == m
                    && sum_bases.len() == m
                    && sketches.len() == m * k
            }
        };
        if !fits || m > u32::MAX as usize {
            return Err(mismatch());
        }
        put_varint(&mut self.labels, labels.len() as u64);
        for (name, value) in labels {
            let (i, j) = (self.string(name), self.string(value));
            put_varint(&mut self.labels, i);
            put_varint(&mut self.labels, j);
        }
        self.n += 1;
        self.created.push(state.created);
        self.slots.push(m as u32);
        self.epochs.extend_from_slice(&state.epochs);
        self.values += 2 + m;
        match (&mut self.cols, state.data) {
            (
                Columns::Counter {
                    total: t,
                    bases: bs,
                },
                StateData::Counter { total, bases },
            ) => {
                t.push(total);
                bs.extend_from_slice(&bases);
                self.values += 1 + m;
            }
            (
                Columns::Gauge {
                    value: v,
                    last: l,
                    extremes,
                    min: lo,
                    max: hi,
                },
                StateData::Gauge {
                    value,
                    last,
                    min,
                    max,
                },
            ) => {
                v.push(value);
                l.extend_from_slice(&last);
                for e in 0..m {
                    let bits = last[e].to_bits();
                    let low = min[e].to_bits() != bits;
                    let high = max[e].to_bits() != bits;
                    extremes.push(u32::from(low) | u32::from(high) << 1);
                    if low {
                        lo.push(min[e]);
                    }
                    if high {
                        hi.push(max[e]);
                    }
                }
                self.values += 1 + 3 * m;
            }
            (
                Columns::Histogram {
                    counts: c,
                    sum: s,
                    bases: bs,
                    sum_bases: sb,
                    native: nc,
                },
                StateData::Histogram {
                    counts,
                    sum,
                    bases,
                    sum_bases,
                    native,
                },
            ) => {
                c.extend_from_slice(&counts);
                s.push(sum);
                for j in 0..b {
                    bs.extend((0..m).map(|e| bases[e * b + j]));
                }
                sb.extend_from_slice(&sum_bases);
                self.values += b + 1 + m * (b + 1);
                if let (Some(nc), Some(n)) = (nc, native) {
                    nc.push(&n);
                    self.values += NativeColumns::values(&n);
                }
            }
            (
                Columns::Summary {
                    count: c,
                    sum: s,
                    count_bases: cb,
                    sum_bases: sb,
                    nnz,
                    gaps,
                    counts,
                },
                StateData::Summary {
                    count,
                    sum,
                    count_bases,
                    sum_bases,
                    sketches,
                },
            ) => {
                c.push(count);
                s.push(sum);
                cb.extend_from_slice(&count_bases);
                sb.extend_from_slice(&sum_bases);
                for row in sketches.chunks_exact(k.max(1)) {
                    let mut next = 0usize;
                    let mut z = 0u32;
                    for (j, &v) in row.iter().enumerate() {
                        if v != 0 {
                            gaps.push((j - next) as u32);
                            counts.push(v);
                            next = j + 1;
                            z += 1;
                        }
                    }
                    nnz.push(z);
                }
                self.values += 2 + m * (3 + k);
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }

    /// The block's payload and the history it holds.
    fn encode(&self, level: usize) -> (Vec<u8>, HistoryStats) {
        let mut p = Vec::with_capacity(self.table.len() + self.labels.len() + self.values * 2);
        put_varint(&mut p, self.n as u64);
        put_varint(&mut p, self.strings.len() as u64);
        p.extend_from_slice(&self.table);
        p.extend_from_slice(&self.labels);
        put_column(&mut p, &self.created, level);
        put_column(&mut p, &self.slots, level);
        let points = self.epochs.len() as u64;
        let mut hist = HistoryStats {
            series: self.n as u64,
            points,
            values: points,
            bytes: put_column(&mut p, &self.epochs, level) as u64,
        };
        let mut history = |p: &mut Vec<u8>, col: &dyn ColumnRef| {
            let (bytes, values) = col.put(p, level);
            hist.bytes += bytes as u64;
            hist.values += values as u64;
        };
        match &self.cols {
            Columns::Counter { total, bases } => {
                put_column(&mut p, total, level);
                history(&mut p, bases);
            }
            Columns::Gauge {
                value,
                last,
                extremes,
                min,
                max,
            } => {
                put_column(&mut p, value, level);
                history(&mut p, last);
                let (flag_bytes, _) = extremes.put(&mut p, level);
                history(&mut p, min);
                history(&mut p, max);
                hist.bytes += flag_bytes as u64;
            }
            Columns::Histogram {
                counts,
                sum,
                bases,
                sum_bases,
                native,
            } => {
                put_column(&mut p, counts, level);
                put_column(&mut p, sum, level);
                history(&mut p, bases);
                history(&mut p, sum_bases);
                if let Some(n) = native {
                    put_column(&mut p, &n.schema, level);
                    put_column(&mut p, &n.zero, level);
                    put_column(&mut p, &n.lens, level);
                    put_column(&mut p, &n.index, level);
                    put_column(&mut p, &n.counts, level);
                    // The bins' counts are the history's values; how many
                    // per epoch and where they sit is overhead.
                    let (a, _) = n.bins.put(&mut p, level);
                    let (b, _) = n.lo.put(&mut p, level);
                    let (c, _) = n.width.put(&mut p, level);
                    history(&mut p, &n.bin_counts);
                    hist.bytes += (a + b + c) as u64;
                }
            }
            Columns::Summary {
                count,
                sum,
                count_bases,
                sum_bases,
                nnz,
                gaps,
                counts,
            } => {
                put_column(&mut p, count, level);
                put_column(&mut p, sum, level);
                history(&mut p, count_bases);
                history(&mut p, sum_bases);
                // The non-zero counts are the values; where they sit is overhead.
                let (nnz_bytes, _) = nnz.put(&mut p, level);
                let (gap_bytes, _) = gaps.put(&mut p, level);
                history(&mut p, counts);
                hist.bytes += (nnz_bytes + gap_bytes) as u64;
            }
        }
        (p, hist)
    }
}

/// A column of any value type, for the history accounting above.
trait ColumnRef {
    fn put(&self, out: &mut Vec<u8>, level: usize) -> (usize, usize);
}

impl<T: Value> ColumnRef for Vec<T> {
    fn put(&self, out: &mut Vec<u8>, level: usize) -> (usize, usize) {
        (put_column(out, self, level), self.len())
    }
}

// ------------------------------------------------------------------------------
// Reading

/// A checkpoint's header, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub seq: u64,
    pub taken_at_nanos: u64,
    pub interim: bool,
    /// The format version, `OLDEST_VERSION..=VERSION`.
    pub version: u16,
}

/// Decodes and checks the header at the start of `bytes` (which may hold only
/// the header, or less: then it is `Truncated`, as a whole file would be).
pub(crate) fn decode_header(bytes: &[u8], verify: bool) -> Res<Header> {
    let mut r = Reader::new(bytes, 0);
    let magic = r.take(MAGIC.len())?;
    if magic != MAGIC {
        return Err(corrupt(0, Corruption::BadMagic));
    }
    let version = r.u16()?;
    let flags = r.u16()?;
    let reserved = r.u32()?;
    let seq = r.u64()?;
    let taken_at_nanos = r.u64()?;
    let stored = r.u32()?;
    let computed = crc32(&[&bytes[..HEADER_LEN - 4]]);
    let crc_ok = !verify || stored == computed;
    if !(OLDEST_VERSION..=VERSION).contains(&version) {
        // A header that checks out under version 1's layout names its version;
        // anything else is damage.
        return Err(if crc_ok {
            Bad::Version(version)
        } else {
            corrupt(0, Corruption::ChecksumMismatch { stored, computed })
        });
    }
    if !crc_ok {
        return Err(corrupt(
            0,
            Corruption::ChecksumMismatch { stored, computed },
        ));
    }
    if flags & !FLAGS_KNOWN != 0 || reserved != 0 {
        return Err(malformed(10, "header flags this version does not define"));
    }
    Ok(Header {
        seq,
        taken_at_nanos,
        interim: flags & FLAG_INTERIM != 0,
        version,
    })
}

/// Decodes and verifies a whole checkpoint; with `verify` false, checksums are
/// computed but not enforced (for fuzzing the parser behind them).
pub(crate) fn decode(bytes: &[u8], verify: bool) -> Res<Checkpoint> {
    let Header {
        seq,
        taken_at_nanos,
        interim,
        version,
    } = decode_header(bytes, verify)?;
    let mut r = Reader::new(bytes, 0);
    r.take(HEADER_LEN)?;

    let mut d = Decoder {
        scratch: Registry::builder()
            .clock(Arc::new(ManualClock::new(taken_at_nanos)))
            .max_label_value_len(usize::MAX)
            .max_labels(usize::MAX)
            .build(),
        families: Vec::new(),
        names: HashSet::new(),
        current: None,
        totals: Totals::default(),
        version,
    };
    loop {
        let at = r.offset();
        match r.peek() {
            None => return Err(corrupt(at, Corruption::MissingTrailer)),
            Some(b) if b == TRAILER_MAGIC[0] => {
                d.finish_family(at)?;
                let t = r.take(TRAILER_LEN)?;
                if t[..8] != TRAILER_MAGIC {
                    return Err(malformed(at, "bad trailer magic"));
                }
                let mut tr = Reader::new(&t[8..], at + 8);
                let found = Totals {
                    blocks: tr.u32()?,
                    families: tr.u32()?,
                    series: tr.u64()?,
                    points: tr.u64()?,
                };
                let offset = tr.u64()?;
                let stored = tr.u32()?;
                let computed = crc32(&[&t[..TRAILER_LEN - 4]]);
                if verify && stored != computed {
                    return Err(corrupt(
                        at,
                        Corruption::ChecksumMismatch { stored, computed },
                    ));
                }
                for (what, expected, found) in [
                    ("blocks", d.totals.blocks as u64, found.blocks as u64),
                    ("families", d.totals.families as u64, found.families as u64),
                    ("series", d.totals.series, found.series),
                    ("points", d.totals.points, found.points),
                    ("trailer offset", at, offset),
                ] {
                    if expected != found {
                        return Err(corrupt(
                            at,
                            Corruption::CountMismatch {
                                what,
                                expected,
                                found,
                            },
                        ));
                    }
                }
                if !r.is_empty() {
                    return Err(corrupt(
                        r.offset(),
                        Corruption::TrailingBytes {
                            len: r.remaining() as u64,
                        },
                    ));
                }
                return Ok(Checkpoint {
                    seq,
                    taken_at_nanos,
                    interim,
                    families: d.families,
                });
            }
            Some(_) => {
                let h = r.take(BLOCK_HEADER_LEN)?;
                let mut hr = Reader::new(h, at);
                let kind = hr.u8()?;
                let flags = hr.u8()?;
                let reserved = hr.u16()?;
                let index = hr.u32()?;
                let len = hr.u32()?;
                let stored = hr.u32()?;
                if len > MAX_BLOCK_BYTES {
                    return Err(malformed(at + 8, "block longer than the format allows"));
                }
                let payload_at = r.offset();
                let payload = r.take(len as usize)?;
                let computed = crc32(&[&h[..12], payload]);
                if verify && stored != computed {
                    return Err(corrupt(
                        at,
                        Corruption::ChecksumMismatch { stored, computed },
                    ));
                }
                if flags != 0 || reserved != 0 {
                    return Err(malformed(
                        at + 1,
                        "block flags this version does not define",
                    ));
                }
                if index != d.totals.blocks {
                    return Err(corrupt(
                        at + 4,
                        Corruption::CountMismatch {
                            what: "block index",
                            expected: d.totals.blocks as u64,
                            found: index as u64,
                        },
                    ));
                }
                let mut pr = Reader::new(payload, payload_at);
                match kind {
                    BLOCK_FAMILY => d.family(&mut pr, at)?,
                    BLOCK_SERIES => d.series(&mut pr, at)?,
                    kind => return Err(corrupt(at, Corruption::UnknownBlock { kind })),
                }
                if !pr.is_empty() {
                    return Err(malformed(
                        pr.offset(),
                        "bytes left over at the end of a block",
                    ));
                }
                d.totals.blocks += 1;
            }
        }
    }
}

/// Whether `SketchMapping::new` can size a sketch of these parameters without
/// overflowing: it takes `log2(v) * multiplier` (with `multiplier` about
/// `1 / log2((1 + a) / (1 - a))`) as an `i64`, and panics in debug builds where
/// that overflows (a relative error far below any usable one). Parameters it
/// rejects by itself pass here.
fn sketch_in_range(a: f64, lo: f64, hi: f64) -> bool {
    if !(a > 0.0 && a < 0.5 && lo > 0.0 && hi.is_finite()) {
        return true;
    }
    // The mapping's slope is about 0.99; 0.5 leaves a margin.
    let multiplier = 2.0 / ((1.0 + a) / (1.0 - a)).log2();
    [lo, hi]
        .iter()
        .all(|v| (v.log2().abs() + 2.0) * multiplier < 1e18)
}

/// Reads the native columns of a histogram series block of `n` series whose
/// slot counts are `slots` (`p` in all): one [`NativeState`] per series, its
/// fields in range for their types (the core checks them against the family).
fn decode_native(r: &mut Reader<'_>, n: u64, slots: &[u32], p: u64) -> Res<Vec<NativeState>> {
    let schema_at = r.offset();
    let schema: Vec<u32> = column(r, "native_schema", Some(n))?;
    if schema.iter().any(|&s| s > 12) {
        return Err(malformed(schema_at, "native schema out of range"));
    }
    let zero: Vec<u64> = column(r, "native_zero", Some(n))?;
    let lens: Vec<u32> = column(r, "native_lens", n.checked_mul(2))?;
    let buckets: u64 = lens.iter().map(|&l| u64::from(l)).sum();
    let index_at = r.offset();
    let index: Vec<u32> = column(r, "native_index", Some(buckets))?;
    let counts: Vec<u64> = column(r, "native_counts", Some(buckets))?;
    let bins: Vec<u32> = column(r, "native_bins", Some(p))?;
    let total: u64 = bins.iter().map(|&b| u64::from(b)).sum();
    let lo_at = r.offset();
    let lo: Vec<u32> = column(r, "native_bin_lo", Some(total))?;
    let width: Vec<u32> = column(r, "native_bin_width", Some(total))?;
    let bin_counts: Vec<u64> = column(r, "native_bin_counts", Some(total))?;
    let mut out = Vec::with_capacity(slots.len());
    let (mut at, mut epoch, mut bin) = (0usize, 0usize, 0usize);
    for (i, &m) in slots.iter().enumerate() {
        let mut sides: [Vec<(i32, u64)>; 2] = Default::default();
        for (side, dst) in sides.iter_mut().enumerate() {
            let len = lens[2 * i + side] as usize;
            let mut prev: Option<i64> = None;
            for _ in 0..len {
                let v = index[at];
                let idx = match prev {
                    None => i64::from((v >> 1) as i32 ^ -((v & 1) as i32)),
                    Some(p) => p + 1 + i64::from(v),
                };
                let idx = i32::try_from(idx)
                    .map_err(|_| malformed(index_at, "native bucket index out of range"))?;
                dst.push((idx, counts[at]));
                prev = Some(i64::from(idx));
                at += 1;
            }
        }
        let m = m as usize;
        let per: Vec<u32> = bins[epoch..epoch + m].to_vec();
        epoch += m;
        let k: usize = per.iter().map(|&x| x as usize).sum();
        let mut saved = Vec::with_capacity(k);
        for j in bin..bin + k {
            let hi = lo[j]
                .checked_add(width[j])
                .ok_or_else(|| malformed(lo_at, "native history bin out of range"))?;
            saved.push((lo[j], hi, bin_counts[j]));
        }
        bin += k;
        let [positive, negative] = sides;
        out.push(NativeState {
            schema: (schema[i] as i32 - 4) as i8,
            zero_count: zero[i],
            positive,
            negative,
            bins_per_epoch: per,
            bins: saved,
        });
    }
    Ok(out)
}

struct Decoder {
    /// Applies the core's rules (names, options, labels, column shapes) to every
    /// saved family and series without touching the registry restored into.
    scratch: Registry,
    families: Vec<SavedFamily>,
    names: HashSet<String>,
    /// The family whose series blocks come next: declared series count, the
    /// label sets seen so far, and its sketch size.
    current: Option<Current>,
    totals: Totals,
    /// The file's format version (version 1 has no native buckets).
    version: u16,
}

struct Current {
    declared: u64,
    /// Series seen that are not the overflow series (the family's limit).
    regular: usize,
    seen: HashSet<Vec<(String, String)>>,
    sketch_len: usize,
}

impl Decoder {
    fn finish_family(&mut self, at: u64) -> Res<()> {
        if let Some(c) = self.current.take() {
            let found = c.seen.len() as u64;
            if found != c.declared {
                return Err(corrupt(
                    at,
                    Corruption::CountMismatch {
                        what: "series of the family before this offset",
                        expected: c.declared,
                        found,
                    },
                ));
            }
        }
        Ok(())
    }

    fn family(&mut self, r: &mut Reader<'_>, at: u64) -> Res<()> {
        self.finish_family(at)?;
        let name = r.str()?.to_string();
        let kind_at = r.offset();
        let kind = kind_from(r.u8()?).ok_or_else(|| malformed(kind_at, "unknown metric kind"))?;
        let help = r.str()?.to_string();
        let unit = match r.u8()? {
            0 => None,
            1 => Some(r.str()?.to_string()),
            _ => return Err(malformed(r.offset() - 1, "bad option flag")),
        };
        let ret_at = r.offset();
        let resolution = r.duration()?;
        let window = r.duration()?;
        // Both zero: `Retention::NONE` (no history), which `new` refuses.
        let retention = if (resolution, window) == (Duration::ZERO, Duration::ZERO) {
            Ok(Retention::NONE)
        } else {
            Retention::new(resolution, window)
        }
        .map_err(|e| {
            corrupt(
                ret_at,
                Corruption::Invalid {
                    what: "retention",
                    detail: e.to_string(),
                },
            )
        })?;
        let max_at = r.offset();
        let max_series =
            usize::try_from(r.u64()?).map_err(|_| malformed(max_at, "max_series too large"))?;
        let idle_ttl = match r.u8()? {
            0 => None,
            1 => Some(r.duration()?),
            _ => return Err(malformed(r.offset() - 1, "bad option flag")),
        };
        let geo_at = r.offset();
        let width = r.u64()?;
        let len = r.u32()? as usize;
        if width == 0 || len == 0 || len > MAX_SLOTS {
            return Err(malformed(geo_at, "ring shape out of range"));
        }
        let geometry = Geometry::new(width, len);
        let declared = r.u64()?;
        let (mut buckets, mut objectives, mut sketch, mut native) = (None, Vec::new(), None, None);
        match kind {
            MetricKind::Histogram => {
                let b_at = r.offset();
                let n = r.count(r.remaining() as u64 / 8, "more bucket bounds than bytes")?;
                let bounds = (0..n).map(|_| r.f64()).collect::<Res<Vec<f64>>>()?;
                if self.version >= 2 {
                    native = match r.u8()? {
                        0 => None,
                        1 => {
                            let n_at = r.offset();
                            let config = NativeConfig {
                                schema: r.u8()? as i8,
                                zero_threshold: r.f64()?,
                                max_buckets: r.u32()?,
                            };
                            Some(config.validated().map_err(|e| {
                                corrupt(
                                    n_at,
                                    Corruption::Invalid {
                                        what: "native buckets",
                                        detail: e.to_string(),
                                    },
                                )
                            })?)
                        }
                        _ => return Err(malformed(r.offset() - 1, "bad option flag")),
                    };
                }
                // A native-only histogram has no finite bound (only `+Inf`).
                if !(bounds.is_empty() && native.is_some()) {
                    buckets = Some(Buckets::new(bounds).map_err(|e| {
                        corrupt(
                            b_at,
                            Corruption::Invalid {
                                what: "buckets",
                                detail: e.to_string(),
                            },
                        )
                    })?);
                }
            }
            MetricKind::Summary => {
                let n = r.count(r.remaining() as u64 / 8, "more objectives than bytes")?;
                objectives = (0..n).map(|_| r.f64()).collect::<Res<Vec<f64>>>()?;
                let s_at = r.offset();
                let (a, lo, hi) = (r.f64()?, r.f64()?, r.f64()?);
                if !sketch_in_range(a, lo, hi) {
                    return Err(corrupt(
                        s_at,
                        Corruption::Invalid {
                            what: "sketch",
                            detail: format!(
                                "relative error {a} is too small for the range [{lo}, {hi}]"
                            ),
                        },
                    ));
                }
                sketch = Some(SketchMapping::new(a, lo, hi).map_err(|e| {
                    corrupt(
                        s_at,
                        Corruption::Invalid {
                            what: "sketch",
                            detail: e.to_string(),
                        },
                    )
                })?);
            }
            MetricKind::Counter | MetricKind::Gauge => {}
        }
        if !self.names.insert(name.clone()) {
            return Err(malformed(at, "a family appears twice"));
        }
        let fam = SavedFamily {
            name,
            kind,
            help,
            unit,
            retention,
            max_series,
            idle_ttl,
            buckets,
            native,
            objectives,
            sketch,
            geometry,
            series: Vec::new(),
        };
        self.scratch.register(fam.describe()).map_err(|e| {
            corrupt(
                at,
                Corruption::Invalid {
                    what: "family",
                    detail: e.to_string(),
                },
            )
        })?;
        self.current = Some(Current {
            declared,
            regular: 0,
            seen: HashSet::new(),
            sketch_len: fam.sketch.map_or(0, |m| m.len()),
        });
        self.families.push(fam);
        self.totals.families += 1;
        Ok(())
    }

    fn series(&mut self, r: &mut Reader<'_>, at: u64) -> Res<()> {
        let (Some(cur), Some(fam)) = (self.current.as_mut(), self.families.last_mut()) else {
            return Err(malformed(at, "series block before any family block"));
        };
        let n_at = r.offset();
        let left = cur.declared - cur.seen.len() as u64;
        let n = r.count(left.min(r.remaining() as u64), "more series than declared")?;
        if n == 0 {
            return Err(malformed(n_at, "empty series block"));
        }
        let ns = r.count(r.remaining() as u64, "more strings than bytes")?;
        let strings = (0..ns).map(|_| r.str()).collect::<Res<Vec<&str>>>()?;
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let nl = r.count(r.remaining() as u64 / 2, "more labels than bytes")?;
            let mut set: Vec<(String, String)> = Vec::with_capacity(nl);
            for _ in 0..nl {
                let i_at = r.offset();
                let (i, j) = (r.varint()?, r.varint()?);
                let (Some(k), Some(v)) = (strings.get(i as usize), strings.get(j as usize)) else {
                    return Err(malformed(i_at, "label string index out of range"));
                };
                if set.last().is_some_and(|(last, _)| last.as_str() >= *k) {
                    return Err(malformed(i_at, "labels not sorted by name"));
                }
                set.push((k.to_string(), v.to_string()));
            }
            labels.push(set);
        }

        let n64 = n as u64;
        let created: Vec<u64> = column(r, "created", Some(n64))?;
        let slots_at = r.offset();
        let slots: Vec<u32> = column(r, "slots", Some(n64))?;
        let ring = fam.geometry.len() as u64;
        if slots.iter().any(|&m| u64::from(m) > ring) {
            return Err(malformed(slots_at, "more history slots than the ring has"));
        }
        let p: u64 = slots.iter().map(|&m| u64::from(m)).sum();
        let epochs: Vec<u64> = column(r, "epochs", Some(p))?;
        let mul = |a: u64, b: usize| a.checked_mul(b as u64);
        let mut data: Vec<StateData> = Vec::with_capacity(n);
        match fam.kind {
            MetricKind::Counter => {
                let total: Vec<u64> = column(r, "total", Some(n64))?;
                let bases: Vec<u64> = column(r, "bases", Some(p))?;
                let mut bases = bases.into_iter();
                for (i, &m) in slots.iter().enumerate() {
                    data.push(StateData::Counter {
                        total: total[i],
                        bases: bases.by_ref().take(m as usize).collect(),
                    });
                }
            }
            MetricKind::Gauge => {
                let value: Vec<f64> = column(r, "value", Some(n64))?;
                let last: Vec<f64> = column(r, "last", Some(p))?;
                let flags_at = r.offset();
                let extremes: Vec<u32> = column(r, "extremes", Some(p))?;
                if extremes.iter().any(|&x| x > 3) {
                    return Err(malformed(flags_at, "gauge extremes flag out of range"));
                }
                let lows = extremes.iter().filter(|&&x| x & 1 != 0).count();
                let highs = extremes.iter().filter(|&&x| x & 2 != 0).count();
                let min: Vec<f64> = column(r, "min", Some(lows as u64))?;
                let max: Vec<f64> = column(r, "max", Some(highs as u64))?;
                let (mut o, mut lo, mut hi) = (0, min.into_iter(), max.into_iter());
                for (i, &m) in slots.iter().enumerate() {
                    let s = o..o + m as usize;
                    o += m as usize;
                    let mut mins = Vec::with_capacity(m as usize);
                    let mut maxs = Vec::with_capacity(m as usize);
                    for (&l, &x) in last[s.clone()].iter().zip(&extremes[s.clone()]) {
                        // The counts were checked above, so the iterators hold enough.
                        mins.push(if x & 1 != 0 {
                            lo.next().unwrap_or(l)
                        } else {
                            l
                        });
                        maxs.push(if x & 2 != 0 {
                            hi.next().unwrap_or(l)
                        } else {
                            l
                        });
                    }
                    data.push(StateData::Gauge {
                        value: value[i],
                        last: last[s].to_vec(),
                        min: mins,
                        max: maxs,
                    });
                }
            }
            MetricKind::Histogram => {
                // Native-only: `+Inf` alone.
                let b = fam.buckets.as_ref().map_or(1, |x| x.bounds().len() + 1);
                let counts: Vec<u64> = column(r, "counts", mul(n64, b))?;
                let sum: Vec<f64> = column(r, "sum", Some(n64))?;
                let bases: Vec<u64> = column(r, "bucket_bases", mul(p, b))?;
                let sum_bases: Vec<f64> = column(r, "sum_bases", Some(p))?;
                let mut natives = match fam.native {
                    Some(_) => decode_native(r, n64, &slots, p)?.into_iter(),
                    None => Vec::new().into_iter(),
                };
                let (mut o, mut so) = (0, 0);
                for (i, &m) in slots.iter().enumerate() {
                    let m = m as usize;
                    // Back from bucket-major to the state's epoch-major rows.
                    let mut rows = vec![0u64; m * b];
                    for j in 0..b {
                        for e in 0..m {
                            rows[e * b + j] = bases[o + j * m + e];
                        }
                    }
                    o += m * b;
                    data.push(StateData::Histogram {
                        counts: counts[i * b..(i + 1) * b].to_vec(),
                        sum: sum[i],
                        bases: rows,
                        sum_bases: sum_bases[so..so + m].to_vec(),
                        native: natives.next().map(Box::new),
                    });
                    so += m;
                }
            }
            MetricKind::Summary => {
                let k = cur.sketch_len;
                let dense = mul(p, k).filter(|d| *d <= crate::format::MAX_COLUMN_VALUES);
                if dense.is_none() {
                    return Err(malformed(
                        r.offset(),
                        "sketches larger than a block may hold",
                    ));
                }
                let count: Vec<u64> = column(r, "count", Some(n64))?;
                let sum: Vec<f64> = column(r, "sum", Some(n64))?;
                let count_bases: Vec<u64> = column(r, "count_bases", Some(p))?;
                let sum_bases: Vec<f64> = column(r, "sum_bases", Some(p))?;
                let nnz_at = r.offset();
                let nnz: Vec<u32> = column(r, "sketch_nonzero", Some(p))?;
                if nnz.iter().any(|&z| z as usize > k) {
                    return Err(malformed(
                        nnz_at,
                        "more non-zero sketch buckets than buckets",
                    ));
                }
                let total: u64 = nnz.iter().map(|&z| u64::from(z)).sum();
                let gaps_at = r.offset();
                let gaps: Vec<u32> = column(r, "sketch_gaps", Some(total))?;
                let vals: Vec<u32> = column(r, "sketch_counts", Some(total))?;
                let (mut row, mut g) = (0, 0);
                for (i, &m) in slots.iter().enumerate() {
                    let m = m as usize;
                    let mut sketches = vec![0u32; m * k];
                    for e in 0..m {
                        let mut next = 0usize;
                        for _ in 0..nnz[row + e] {
                            let j = next.saturating_add(gaps[g] as usize);
                            if j >= k {
                                return Err(malformed(gaps_at, "sketch bucket out of range"));
                            }
                            sketches[e * k + j] = vals[g];
                            next = j + 1;
                            g += 1;
                        }
                    }
                    data.push(StateData::Summary {
                        count: count[i],
                        sum: sum[i],
                        count_bases: count_bases[row..row + m].to_vec(),
                        sum_bases: sum_bases[row..row + m].to_vec(),
                        sketches,
                    });
                    row += m;
                }
            }
        }

        let mut o = 0;
        for ((labels, data), (&created, &m)) in
            labels.into_iter().zip(data).zip(created.iter().zip(&slots))
        {
            let state = SeriesState {
                created,
                epochs: epochs[o..o + m as usize].to_vec(),
                data,
            };
            o += m as usize;
            let l: Vec<(&str, &str)> = labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            self.scratch
                .check_restore(&fam.name, &l, &state)
                .map_err(|e| {
                    corrupt(
                        at,
                        Corruption::Invalid {
                            what: "series",
                            detail: e.to_string(),
                        },
                    )
                })?;
            let overflow = matches!(&labels[..], [(k, v)] if k == OVERFLOW_LABEL && v == "true");
            cur.regular += usize::from(!overflow);
            if cur.regular > fam.max_series {
                return Err(corrupt(
                    at,
                    Corruption::Invalid {
                        what: "series",
                        detail: format!(
                            "more series than the family's limit of {}",
                            fam.max_series
                        ),
                    },
                ));
            }
            if !cur.seen.insert(labels.clone()) {
                return Err(malformed(at, "a series appears twice"));
            }
            fam.series.push(SavedSeries { labels, state });
        }
        self.totals.series += n64;
        self.totals.points += p;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(kind: MetricKind, geometry: Geometry) -> SavedFamily {
        SavedFamily {
            name: "m".into(),
            kind,
            help: String::new(),
            unit: None,
            retention: Retention::DEFAULT,
            max_series: 10,
            idle_ttl: None,
            buckets: None,
            native: None,
            objectives: Vec::new(),
            sketch: None,
            geometry,
            series: Vec::new(),
        }
    }

    #[test]
    fn sketch_parameters_the_core_cannot_size_are_refused() {
        assert!(sketch_in_range(0.01, 1e-9, 1e12));
        assert!(sketch_in_range(1e-13, 1.0, 1.0 + 1e-12));
        assert!(!sketch_in_range(1e-300, 1e-9, 1e12));
        assert!(!sketch_in_range(1e-17, f64::MIN_POSITIVE, 2.0));
        // Left for SketchMapping::new to reject.
        assert!(sketch_in_range(f64::NAN, 1.0, 2.0));
        assert!(sketch_in_range(0.01, -1.0, f64::INFINITY));
    }

    #[test]
    fn a_changed_ring_shape_restores_cumulative_values_only() {
        let state = SeriesState {
            created: 5,
            epochs: vec![170_000_000, 170_000_001],
            data: StateData::Counter {
                total: 42,
                bases: vec![10, 20],
            },
        };
        let other = family(MetricKind::Counter, Geometry::new(1_000_000_000, 7));
        // The registry takes it, and the total, with no history.
        let reg = Registry::new();
        reg.register(other.describe()).unwrap();
        let history = reg
            .restore_series("m", &[("a", "b")], &state, other.geometry)
            .unwrap();
        assert!(!history);
        assert_eq!(reg.counter("m", &[("a", "b")]).unwrap().get(), 42);
    }
}
