//! The JSON export: one object per export, one per family, one per series, with
//! the cumulative values and the per-epoch history the filter's time range selects.
//!
//! The schema is documented, with an example, in `docs/formats.md`. In short:
//!
//! ```text
//! {"timestamp_ms":T,"start_ms":S|null,"end_ms":E|null,"families":[
//!   {"name":..,"kind":..,"help":..,"unit":..|null,"resolution_ms":R,
//!    ["bounds":[..]]  ["objectives":[..],"window_ms":W]
//!    "series":[{"labels":{..},"created_ms":C, <values>,
//!               "history":{"start_ms":H|null,<column>:[..],..}}]}]}
//! ```
//!
//! History is written as columns: one array per field, one value per epoch
//! from `history.start_ms` on, every `resolution_ms`, up to the current epoch,
//! epochs without recordings included (a counter's increase 0, a gauge's
//! `null`). So a point is a column index, no time is repeated, and a reader
//! gets each field as one array, the shape chart libraries take.
//!
//! Times are milliseconds since the Unix epoch (a fraction only when not a whole
//! millisecond). Floats are JSON numbers, except NaN and infinities, which JSON
//! cannot represent and which are written as the strings `"NaN"`, `"+Inf"`,
//! `"-Inf"`.
//!
//! Output is assembled in a staging buffer the exporter keeps (numbers are
//! formatted straight into it) and handed to the writer in pieces of about
//! [`FLUSH_BYTES`], and at the end of each family.

use std::io::{self, Write};
use std::ops::Range;
use std::time::Duration;

use lakemetrics_core::{
    FamilyView, Geometry, MetricKind, NativeSnapshot, SeriesData, SeriesView, SummaryWindow,
    TimeRange,
};

use crate::escape::{put_json_string, write_json_string};
use crate::number::non_finite;

/// The staging buffer is handed to the writer once it holds this many bytes.
const FLUSH_BYTES: usize = 32 * 1024;

/// The staging buffer's first capacity: room for a flush's worth and one
/// more series of average size.
const STAGE_BYTES: usize = FLUSH_BYTES + 8 * 1024;

/// Buffers reused across series and families (allocated the first time they
/// are needed, then kept): the staging buffer, and what history columns are
/// written through.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    stage: Vec<u8>,
    cols: Columns,
    /// Native buckets are read into this (`NativeCore::snapshot_into`), so
    /// that a reused exporter allocates nothing per native series.
    native: NativeSnapshot,
}

/// The quantiles a native histogram family's windowed columns give (with
/// `quantile_window`): the ones the dashboard offers for histograms.
pub const NATIVE_WINDOW_OBJECTIVES: [f64; 5] = [0.5, 0.9, 0.95, 0.99, 0.999];

/// What a series' history columns are written through.
#[derive(Debug)]
struct Columns {
    /// The columns of a history after its first (a gauge's `min` and `max`, a
    /// histogram's or summary's `count` and `sum`), written in the same walk
    /// over the ring as the first.
    other: [Vec<u8>; 2],
    /// A counter's increases, read from the core in one pass before its
    /// series is written.
    increases: Vec<u64>,
    /// Where [`put_u64_column`] stages digits (kept here so that it is not
    /// zeroed for every series).
    digits: [u8; DIGITS_BYTES],
}

impl Default for Columns {
    fn default() -> Columns {
        Columns {
            other: Default::default(),
            increases: Vec::new(),
            digits: [0; DIGITS_BYTES],
        }
    }
}

/// Writes the opening of the export object, up to the `families` array's `[`.
pub(crate) fn write_header<W: Write + ?Sized>(
    out: &mut W,
    now: u64,
    range: TimeRange,
    scratch: &mut Scratch,
) -> io::Result<()> {
    let b = &mut scratch.stage;
    b.clear();
    b.reserve(STAGE_BYTES);
    b.extend_from_slice(b"{\"timestamp_ms\":");
    put_millis(b, now);
    b.extend_from_slice(b",\"start_ms\":");
    put_opt_millis(b, range.start);
    b.extend_from_slice(b",\"end_ms\":");
    put_opt_millis(b, range.end);
    b.extend_from_slice(b",\"families\":[");
    out.write_all(b)?;
    b.clear();
    Ok(())
}

/// Closes the `families` array and the export object.
pub(crate) fn write_footer<W: Write + ?Sized>(out: &mut W) -> io::Result<()> {
    out.write_all(b"]}\n")
}

/// Writes one family object, preceded by a comma unless it is the first.
///
/// With `quantile_window`, a summary family says it (`quantile_window_ms`) and
/// each of its series' history has two more columns: per epoch, the
/// objectives' quantiles over the window ending with the epoch
/// (`window_quantiles`) and the observations in it (`window_count`). A
/// histogram family with native buckets does the same from its native
/// history, with [`NATIVE_WINDOW_OBJECTIVES`] as its `objectives`.
pub(crate) fn write_family<W: Write + ?Sized>(
    out: &mut W,
    fam: &FamilyView<'_>,
    first: bool,
    quantile_window: Option<Duration>,
    scratch: &mut Scratch,
) -> io::Result<()> {
    let Scratch {
        stage,
        cols,
        native,
    } = scratch;
    stage.clear();
    // One allocation for the common case, rather than a doubling series.
    stage.reserve(STAGE_BYTES);
    if !first {
        stage.push(b',');
    }
    stage.extend_from_slice(b"{\"name\":");
    write_json_string(stage, fam.name())?;
    stage.extend_from_slice(b",\"kind\":\"");
    stage.extend_from_slice(fam.kind().as_str().as_bytes());
    stage.extend_from_slice(b"\",\"help\":");
    write_json_string(stage, fam.help())?;
    stage.extend_from_slice(b",\"unit\":");
    match fam.unit() {
        Some(u) => write_json_string(stage, u)?,
        None => stage.extend_from_slice(b"null"),
    }
    stage.extend_from_slice(b",\"resolution_ms\":");
    let g = fam.geometry();
    // A family without history (`Retention::NONE`) has one epoch spanning all
    // time: 0 says there is no resolution (docs/formats.md).
    put_millis(stage, if g.is_lifetime() { 0 } else { g.width_nanos() });
    match fam.kind() {
        MetricKind::Histogram => {
            stage.extend_from_slice(b",\"bounds\":");
            put_f64_array(stage, fam.bucket_bounds().iter().copied());
            if let (Some(qw), Some(_)) = (quantile_window, fam.native()) {
                stage.extend_from_slice(b",\"objectives\":");
                put_f64_array(stage, NATIVE_WINDOW_OBJECTIVES.iter().copied());
                stage.extend_from_slice(b",\"quantile_window_ms\":");
                put_millis(stage, qw.as_nanos().min(u64::MAX as u128) as u64);
            }
        }
        MetricKind::Summary => {
            stage.extend_from_slice(b",\"objectives\":");
            put_f64_array(stage, fam.objectives().iter().copied());
            stage.extend_from_slice(b",\"window_ms\":");
            let w = fam.retention().window().as_nanos().min(u64::MAX as u128) as u64;
            put_millis(stage, w);
            if let Some(qw) = quantile_window {
                stage.extend_from_slice(b",\"quantile_window_ms\":");
                put_millis(stage, qw.as_nanos().min(u64::MAX as u128) as u64);
            }
        }
        _ => {}
    }
    stage.extend_from_slice(b",\"series\":[");
    let objectives = fam.objectives();
    let window = fam.retention().window();
    // Series created together, and the columns of every series older than the
    // ring, repeat the same 13-digit times.
    let (mut created_ms, mut start_ms) = (Millis::default(), Millis::default());
    let mut keys: [KeyText; 4] = Default::default();
    for (i, series) in fam.series().enumerate() {
        if i > 0 {
            stage.push(b',');
        }
        stage.extend_from_slice(b"{\"labels\":{");
        for (j, (k, v)) in series.labels().enumerate() {
            if j > 0 {
                stage.push(b',');
            }
            match keys.get_mut(j) {
                Some(key) => key.put(stage, k),
                None => {
                    put_json_string(stage, k);
                    stage.push(b':');
                }
            }
            put_json_string(stage, v);
        }
        stage.extend_from_slice(b"},\"created_ms\":");
        created_ms.put(stage, series.created());
        let now = series.now();
        let epochs = series.history_epochs();
        // A histogram's or summary's history is read (and written) first and
        // its cumulative values after it: they only grow, so the history never
        // adds up to more than the count written beside it (racing writers can
        // only make the cumulative values larger). A counter's history is read
        // into a column first instead, and written after its total.
        let history_first = matches!(
            series.data(),
            SeriesData::Histogram(_) | SeriesData::Summary(_)
        );
        if history_first {
            write_history(
                stage,
                cols,
                fam,
                &series,
                epochs.clone(),
                quantile_window,
                &mut start_ms,
            );
        }
        match series.data() {
            SeriesData::Counter(c) => {
                // History first: the total written is the one its increases
                // were read against, so they never add up to more than it.
                let total = c.increases(now, epochs.clone(), &mut cols.increases);
                stage.extend_from_slice(b",\"total\":");
                put_u64(stage, total);
            }
            SeriesData::Gauge(g) => {
                stage.extend_from_slice(b",\"value\":");
                put_f64(stage, g.get());
            }
            SeriesData::Histogram(h) => {
                h.with_cumulative(|counts, sum| {
                    stage.extend_from_slice(b",\"buckets\":[");
                    let count = put_cumulative(stage, counts);
                    stage.extend_from_slice(b"],\"count\":");
                    put_u64(stage, count);
                    stage.extend_from_slice(b",\"sum\":");
                    put_f64(stage, sum);
                    if let Some(n) = h.native() {
                        n.snapshot_into(count, sum, native);
                        write_native(stage, native);
                    }
                });
            }
            SeriesData::Summary(s) => {
                stage.extend_from_slice(b",\"quantiles\":");
                put_f64_array(
                    stage,
                    objectives.iter().map(|&q| s.quantile(q, now, window)),
                );
                let span = series.span(window);
                stage.extend_from_slice(b",\"window_start_ms\":");
                put_millis(stage, span.start);
                stage.extend_from_slice(b",\"window_end_ms\":");
                put_millis(stage, span.end);
                stage.extend_from_slice(b",\"count\":");
                put_u64(stage, s.count());
                stage.extend_from_slice(b",\"sum\":");
                put_f64(stage, s.sum());
            }
        }
        if !history_first {
            write_history(stage, cols, fam, &series, epochs, None, &mut start_ms);
        }
        stage.push(b'}');
        if stage.len() >= FLUSH_BYTES {
            out.write_all(stage)?;
            stage.clear();
        }
    }
    stage.extend_from_slice(b"]}");
    out.write_all(stage)?;
    stage.clear();
    Ok(())
}

/// Writes `,"native":{..}` for a histogram with native buckets (shape in
/// docs/formats.md): schema, zero threshold and count, and per sign the spans
/// (`[offset, length]`, the first offset the first bucket's index, each next one
/// the gap since the previous span's end, as Prometheus' protobuf has them) and
/// the buckets' counts (absolute, not deltas), in index order.
fn write_native(stage: &mut Vec<u8>, n: &NativeSnapshot) {
    let mut itoa = itoa::Buffer::new();
    stage.extend_from_slice(b",\"native\":{\"schema\":");
    stage.extend_from_slice(itoa.format(n.schema).as_bytes());
    stage.extend_from_slice(b",\"zero_threshold\":");
    put_f64(stage, n.zero_threshold);
    stage.extend_from_slice(b",\"zero_count\":");
    put_u64(stage, n.zero_count);
    for (name, buckets) in [("positive", &n.positive), ("negative", &n.negative)] {
        stage.extend_from_slice(b",\"");
        stage.extend_from_slice(name.as_bytes());
        stage.extend_from_slice(b"_spans\":[");
        let mut next: Option<i32> = None;
        let mut k = 0;
        while k < buckets.len() {
            // A span: the run of consecutive indexes from bucket k.
            let start = buckets[k].0;
            let mut len = 1;
            while buckets
                .get(k + len)
                .is_some_and(|b| b.0 == start + len as i32)
            {
                len += 1;
            }
            if next.is_some() {
                stage.push(b',');
            }
            let offset = next.map_or(i64::from(start), |e| i64::from(start) - i64::from(e));
            stage.push(b'[');
            stage.extend_from_slice(itoa.format(offset).as_bytes());
            stage.push(b',');
            stage.extend_from_slice(itoa.format(len).as_bytes());
            stage.push(b']');
            next = Some(start + len as i32);
            k += len;
        }
        stage.extend_from_slice(b"],\"");
        stage.extend_from_slice(name.as_bytes());
        stage.extend_from_slice(b"\":[");
        for (j, b) in buckets.iter().enumerate() {
            if j > 0 {
                stage.push(b',');
            }
            put_u64(stage, b.1);
        }
        stage.push(b']');
    }
    stage.push(b'}');
}

/// Writes `,"history":{"start_ms":..,<columns>}` for one series: one value per
/// epoch of [`SeriesView::history_epochs`], from one walk over its ring (for a
/// counter, the walk already made into `cols.increases`); for a summary with
/// `quantile_window`, a second walk gives the windowed columns.
fn write_history(
    stage: &mut Vec<u8>,
    cols: &mut Columns,
    fam: &FamilyView<'_>,
    series: &SeriesView<'_>,
    epochs: Range<u64>,
    quantile_window: Option<Duration>,
    start_ms: &mut Millis,
) {
    let g = fam.geometry();
    let mut d = Dense::new(&g, &epochs);
    stage.extend_from_slice(b",\"history\":{\"start_ms\":");
    if d.is_empty() {
        stage.extend_from_slice(b"null");
    } else {
        start_ms.put(stage, d.lo);
    }
    // The ring is read from the columns' first epoch only: for a series younger
    // than its ring, that skips the slots from before its creation (which hold
    // no point: see `history_epochs`).
    let (now, mut range) = (series.now(), series.range());
    if !d.is_empty() {
        range.start = Some(range.start.map_or(d.lo, |s| s.max(d.lo)));
    }
    match series.data() {
        SeriesData::Counter(_) => {
            stage.extend_from_slice(b",\"increase\":[");
            put_u64_column(stage, &mut cols.digits, &cols.increases);
            close_column(stage);
        }
        SeriesData::Gauge(gauge) => {
            let [min, max] = &mut cols.other;
            min.clear();
            max.clear();
            stage.extend_from_slice(b",\"last\":[");
            gauge.for_each_point(now, range, |p| {
                if let Some(gap) = d.point(p.start) {
                    for col in [&mut *stage, &mut *min, &mut *max] {
                        put_repeated(col, b"null,", gap);
                    }
                    put_f64(stage, p.last);
                    stage.push(b',');
                    put_f64(min, p.min);
                    min.push(b',');
                    put_f64(max, p.max);
                    max.push(b',');
                }
            });
            let rest = d.rest();
            for col in [&mut *stage, &mut *min, &mut *max] {
                put_repeated(col, b"null,", rest);
            }
            close_column(stage);
            append_column(stage, b",\"min\":[", min);
            append_column(stage, b",\"max\":[", max);
        }
        SeriesData::Histogram(h) => {
            let [count, sum] = &mut cols.other;
            count.clear();
            sum.clear();
            let buckets = fam.bucket_bounds().len() + 1;
            stage.extend_from_slice(b",\"buckets\":[");
            h.for_each_point(now, range, |p| {
                if let Some(gap) = d.point(p.start) {
                    for _ in 0..gap {
                        put_zero_buckets(stage, buckets);
                    }
                    put_repeated(count, b"0,", gap);
                    put_repeated(sum, b"0.0,", gap);
                    stage.push(b'[');
                    let n = put_cumulative(stage, &mut p.counts.iter().copied());
                    stage.extend_from_slice(b"],");
                    put_u64_comma(count, n);
                    put_f64(sum, p.sum);
                    sum.push(b',');
                }
            });
            let rest = d.rest();
            for _ in 0..rest {
                put_zero_buckets(stage, buckets);
            }
            put_repeated(count, b"0,", rest);
            put_repeated(sum, b"0.0,", rest);
            close_column(stage);
            append_column(stage, b",\"count\":[", count);
            append_column(stage, b",\"sum\":[", sum);
            if let (Some(window), Some(n)) = (quantile_window, h.native()) {
                let objectives = &NATIVE_WINDOW_OBJECTIVES;
                put_window_columns(stage, count, &g, &epochs, objectives.len(), |f| {
                    n.for_each_window_quantiles(now, range, window, objectives, f)
                });
            }
        }
        SeriesData::Summary(s) => {
            let [count, sum] = &mut cols.other;
            count.clear();
            sum.clear();
            let objectives = fam.objectives();
            stage.extend_from_slice(b",\"quantiles\":[");
            s.for_each_point(now, range, |p| {
                if let Some(gap) = d.point(p.start) {
                    for _ in 0..gap {
                        put_nan_quantiles(stage, objectives.len());
                    }
                    put_repeated(count, b"0,", gap);
                    put_repeated(sum, b"0.0,", gap);
                    put_f64_array(stage, objectives.iter().map(|&q| p.quantile(q)));
                    stage.push(b',');
                    put_u64_comma(count, p.count);
                    put_f64(sum, p.sum);
                    sum.push(b',');
                }
            });
            let rest = d.rest();
            for _ in 0..rest {
                put_nan_quantiles(stage, objectives.len());
            }
            put_repeated(count, b"0,", rest);
            put_repeated(sum, b"0.0,", rest);
            close_column(stage);
            append_column(stage, b",\"count\":[", count);
            append_column(stage, b",\"sum\":[", sum);
            if let Some(window) = quantile_window {
                put_window_columns(stage, count, &g, &epochs, objectives.len(), |f| {
                    s.for_each_window_quantiles(now, range, window, objectives, f)
                });
            }
        }
    }
    stage.push(b'}');
}

/// Writes `,"window_quantiles":[..],"window_count":[..]` for the epochs
/// `epochs` from the windows `for_each` reports (`n` objectives each), with
/// `count` as the second column's buffer.
fn put_window_columns(
    stage: &mut Vec<u8>,
    count: &mut Vec<u8>,
    g: &Geometry,
    epochs: &Range<u64>,
    n: usize,
    for_each: impl FnOnce(&mut dyn FnMut(SummaryWindow<'_>)),
) {
    // Every epoch of the columns gets a window (the core reports each one,
    // with NaN when its window is empty); `Dense` keeps the columns aligned
    // all the same.
    let mut d = Dense::new(g, epochs);
    count.clear();
    stage.extend_from_slice(b",\"window_quantiles\":[");
    for_each(&mut |w| {
        if let Some(gap) = d.point(w.start) {
            for _ in 0..gap {
                put_nan_quantiles(stage, n);
            }
            put_repeated(count, b"0,", gap);
            put_f64_array(stage, w.quantiles.iter().copied());
            stage.push(b',');
            put_u64_comma(count, w.count);
        }
    });
    let rest = d.rest();
    for _ in 0..rest {
        put_nan_quantiles(stage, n);
    }
    put_repeated(count, b"0,", rest);
    close_column(stage);
    append_column(stage, b",\"window_count\":[", count);
}

/// Tells, for each of a series' history points in order, how many epochs
/// without a point come before it, so that columns hold one value per epoch
/// from `lo` up to `hi` (epoch starts, in ns).
struct Dense {
    lo: u64,
    hi: u64,
    width: u64,
    /// Start of the next epoch to write.
    next: u64,
}

impl Dense {
    fn new(g: &Geometry, epochs: &Range<u64>) -> Dense {
        let lo = g.epoch_start(epochs.start);
        Dense {
            lo,
            hi: g.epoch_start(epochs.end).max(lo),
            width: g.width_nanos(),
            next: lo,
        }
    }

    /// Epochs to fill before a point that starts at `start`, or `None` to skip
    /// a point outside the columns.
    #[inline]
    fn point(&mut self, start: u64) -> Option<u64> {
        // Most points follow the one before: no gap to count.
        let gap = if start == self.next {
            0
        } else if start > self.next {
            (start - self.next) / self.width
        } else {
            return None;
        };
        if start >= self.hi {
            return None;
        }
        self.next = start.saturating_add(self.width);
        Some(gap)
    }

    /// Epochs to fill after the last point.
    fn rest(&self) -> u64 {
        self.hi.saturating_sub(self.next) / self.width
    }

    /// Whether the columns hold no epoch at all.
    fn is_empty(&self) -> bool {
        self.hi <= self.lo
    }
}

/// Ends a column whose values were each followed by a comma: drops the last
/// comma and closes the array.
#[inline]
fn close_column(col: &mut Vec<u8>) {
    if col.last() == Some(&b',') {
        col.pop();
    }
    col.push(b']');
}

/// Appends `key` (which opens the array) and the values in `col`.
fn append_column(stage: &mut Vec<u8>, key: &[u8], col: &[u8]) {
    stage.extend_from_slice(key);
    stage.extend_from_slice(col);
    close_column(stage);
}

/// Appends `item` `n` times.
#[inline]
fn put_repeated(out: &mut Vec<u8>, item: &[u8], n: u64) {
    for _ in 0..n {
        out.extend_from_slice(item);
    }
}

/// A histogram epoch without observations: `[0,..,0],` with `n` zeros.
fn put_zero_buckets(out: &mut Vec<u8>, n: usize) {
    out.push(b'[');
    put_repeated(out, b"0,", n as u64);
    close_column(out);
    out.push(b',');
}

/// A summary epoch without observations: `["NaN",..],` with `n` values.
fn put_nan_quantiles(out: &mut Vec<u8>, n: usize) {
    out.push(b'[');
    put_repeated(out, b"\"NaN\",", n as u64);
    close_column(out);
    out.push(b',');
}

/// Writes the running sums of `counts`, comma-separated; returns the total.
#[inline]
fn put_cumulative(out: &mut Vec<u8>, counts: &mut dyn Iterator<Item = u64>) -> u64 {
    let mut cum = 0u64;
    for (i, c) in counts.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        cum = cum.wrapping_add(c);
        put_u64(out, cum);
    }
    cum
}

fn put_f64_array(out: &mut Vec<u8>, values: impl Iterator<Item = f64>) {
    out.push(b'[');
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        put_f64(out, v);
    }
    out.push(b']');
}

/// Two ASCII digits for each of 0..100.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
                            2021222324252627282930313233343536373839\
                            4041424344454647484950515253545556575859\
                            6061626364656667686970717273747576777879\
                            8081828384858687888990919293949596979899";

/// Appends `v` in decimal.
#[inline(always)]
fn put_u64(out: &mut Vec<u8>, v: u64) {
    if v < 10 {
        out.push(b'0' + v as u8);
    } else {
        put_u64_long(out, v);
    }
}

/// The digit stage of [`put_u64_column`]: 64 values of at most 3 bytes, and
/// room for a last 8-byte store; its indices are masked to 0..256 so that
/// their bounds are evidently within it.
const DIGITS_BYTES: usize = 264;

/// `"d,"` and `"dd,"` for each of 0..100, padded to 4 bytes, with the text's
/// length in the last byte.
const SMALL: [[u8; 4]; 100] = {
    let mut t = [[0u8; 4]; 100];
    let mut v = 0;
    while v < 100 {
        t[v] = if v < 10 {
            [b'0' + v as u8, b',', 0, 2]
        } else {
            [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8, b',', 3]
        };
        v += 1;
    }
    t
};

/// Appends each of `values` in decimal and a comma: a column of integers.
///
/// Counters' per-epoch increases are mostly small, so the column is staged in
/// a stack buffer and appended once per 64 values: four values under 10 are
/// one 8-byte word (`"d,d,d,d,"`), a value under 100 one 4-byte copy from
/// [`SMALL`] (the byte after its text is overwritten by the next value or
/// left out), and larger values take the general path.
fn put_u64_column(out: &mut Vec<u8>, buf: &mut [u8; DIGITS_BYTES], values: &[u64]) {
    for chunk in values.chunks(64) {
        let mut len = 0;
        let mut quads = chunk.chunks_exact(4);
        for q in &mut quads {
            let (a, b, c, d) = (q[0], q[1], q[2], q[3]);
            if a.max(b).max(c).max(d) < 10 {
                let digits = a | b << 16 | c << 32 | d << 48 | 0x2c30_2c30_2c30_2c30;
                let at = len & 0xff;
                buf[at..at + 8].copy_from_slice(&digits.to_le_bytes());
                len = at + 8;
            } else {
                for &v in q {
                    put_staged(out, buf, &mut len, v);
                }
            }
        }
        for &v in quads.remainder() {
            put_staged(out, buf, &mut len, v);
        }
        out.extend_from_slice(&buf[..len & 0xff]);
    }
}

/// One value of [`put_u64_column`]: into the stage if under 100, else the
/// stage is appended to `out`, then the value.
#[inline(always)]
fn put_staged(out: &mut Vec<u8>, buf: &mut [u8; DIGITS_BYTES], len: &mut usize, v: u64) {
    match SMALL.get(v as usize) {
        Some(text) => {
            let at = *len & 0xff;
            buf[at..at + 4].copy_from_slice(text);
            *len = at + text[3] as usize;
        }
        None => {
            out.extend_from_slice(&buf[..*len & 0xff]);
            *len = 0;
            put_u64_comma(out, v);
        }
    }
}

/// Appends `v` in decimal and a comma: a column value.
#[inline(always)]
fn put_u64_comma(out: &mut Vec<u8>, v: u64) {
    if v < 10 {
        out.extend_from_slice(&[b'0' + v as u8, b',']);
    } else {
        put_u64_long(out, v);
        out.push(b',');
    }
}

/// Appends `v` (at least 10) in decimal. The digits are laid out in a fixed
/// 20-byte array that is appended whole and then cut to length: a fixed-size
/// copy compiles to two moves, where appending a slice of run-time length
/// calls `memcpy`, which was the largest cost of writing a history point.
#[inline(never)]
fn put_u64_long(out: &mut Vec<u8>, mut v: u64) {
    if v < 100_000_000 {
        // Up to eight digits: all eight, leading zeros included, as one word
        // from four pairs, shifted down past the zeros.
        let (hi, lo) = ((v / 10_000) as usize, (v % 10_000) as usize);
        let mut d = [0u8; 8];
        for (k, pair) in [hi / 100, hi % 100, lo / 100, lo % 100]
            .into_iter()
            .enumerate()
        {
            d[2 * k..2 * k + 2].copy_from_slice(&PAIRS[pair * 2..pair * 2 + 2]);
        }
        let len = v.ilog10() as usize + 1;
        let digits = u64::from_le_bytes(d) >> (8 * (8 - len));
        let at = out.len();
        out.extend_from_slice(&digits.to_le_bytes());
        out.truncate(at + len);
        return;
    }
    let len = v.ilog10() as usize + 1;
    let mut buf = [0u8; 20];
    let mut i = len;
    while v >= 100 {
        let r = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[r..r + 2]);
    }
    if v >= 10 {
        let r = v as usize * 2;
        buf[..2].copy_from_slice(&PAIRS[r..r + 2]);
    } else {
        buf[0] = b'0' + v as u8;
    }
    let at = out.len();
    out.extend_from_slice(&buf);
    out.truncate(at + len);
}

/// Nanoseconds as milliseconds, the JSON time unit: an integer when the time is
/// a whole millisecond (`1700000000000`), else with an exact fraction
/// (`1700000000000.5`).
#[inline]
fn put_millis(out: &mut Vec<u8>, nanos: u64) {
    put_u64(out, nanos / 1_000_000);
    let frac = nanos % 1_000_000;
    if frac != 0 {
        // Trailing zeros dropped: `.5`, `.000007`.
        let mut digits = [b'0'; 7];
        digits[0] = b'.';
        let mut f = frac;
        for d in digits[1..].iter_mut().rev() {
            *d = b'0' + (f % 10) as u8;
            f /= 10;
        }
        let mut end = 7;
        while digits[end - 1] == b'0' {
            end -= 1;
        }
        out.extend_from_slice(&digits[..end]);
    }
}

/// The JSON text (`"handler":`) of the label name a family's series last had
/// at one position of their labels, to copy when the next series has the
/// same name there. Names are interned, so the same name is the same string
/// (pointer and length), and it stays alive while the family is written.
#[derive(Default)]
struct KeyText {
    name: (usize, usize),
    text: [u8; 32],
    len: usize,
}

impl KeyText {
    /// Writes `name` as a JSON object key, and its colon.
    #[inline]
    fn put(&mut self, out: &mut Vec<u8>, name: &str) {
        let at = out.len();
        let id = (name.as_ptr() as usize, name.len());
        if self.len > 0 && self.name == id {
            // Whole (fixed-size) copy, then cut: see `put_u64_long`.
            out.extend_from_slice(&self.text);
            out.truncate(at + self.len);
            return;
        }
        put_json_string(out, name);
        out.push(b':');
        let len = out.len() - at;
        self.len = 0;
        if let Some(text) = self.text.get_mut(..len) {
            text.copy_from_slice(&out[at..]);
            (self.name, self.len) = (id, len);
        }
    }
}

/// The text of the last time [`put_millis`] wrote through it, to copy when the
/// next time is the same.
#[derive(Default)]
struct Millis {
    nanos: Option<u64>,
    text: [u8; 24],
    len: usize,
}

impl Millis {
    /// Writes `nanos` as [`put_millis`] does.
    #[inline]
    fn put(&mut self, out: &mut Vec<u8>, nanos: u64) {
        let at = out.len();
        if self.nanos == Some(nanos) {
            // Whole (fixed-size) copy, then cut: see `put_u64_long`.
            out.extend_from_slice(&self.text);
            out.truncate(at + self.len);
            return;
        }
        put_millis(out, nanos);
        let len = out.len() - at;
        if len <= self.text.len() {
            self.text[..len].copy_from_slice(&out[at..]);
            (self.nanos, self.len) = (Some(nanos), len);
        }
    }
}

fn put_opt_millis(out: &mut Vec<u8>, nanos: Option<u64>) {
    match nanos {
        Some(n) => put_millis(out, n),
        None => out.extend_from_slice(b"null"),
    }
}

/// A finite float as a JSON number (ryu); NaN and infinities as strings.
#[inline]
fn put_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        let mut buf = ryu::Buffer::new();
        out.extend_from_slice(buf.format_finite(v).as_bytes());
    } else {
        out.push(b'"');
        out.extend_from_slice(non_finite(v).as_bytes());
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut values = vec![0, 1, 9, 10, 99, 100, 101, 999, 1000, u64::MAX, u64::MAX - 1];
        values.extend((0..20).map(|i| 10u64.pow(i)));
        values.extend((1..20).map(|i| 10u64.pow(i) - 1));
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(x >> (x % 64));
        }
        let mut out = Vec::new();
        for v in values {
            out.clear();
            put_u64(&mut out, v);
            assert_eq!(std::str::from_utf8(&out).unwrap(), v.to_string());
        }
    }

    #[test]
    fn repeated_times() {
        let mut cache = Millis::default();
        let mut out = Vec::new();
        for nanos in [
            1_700_000_000_000_000_000,
            1_700_000_000_000_000_000,
            1_700_000_000_000_500_000,
            1_700_000_000_000_500_000,
            7_000,
            u64::MAX,
            u64::MAX,
        ] {
            out.clear();
            cache.put(&mut out, nanos);
            let mut want = Vec::new();
            put_millis(&mut want, nanos);
            assert_eq!(out, want);
        }
    }

    #[test]
    fn times() {
        let mut out = Vec::new();
        for (nanos, s) in [
            (1_700_000_000_000_000_000, "1700000000000"),
            (1_700_000_000_000_500_000, "1700000000000.5"),
            (1_700_000_000_000_000_001, "1700000000000.000001"),
            (7_000, "0.007"),
            (0, "0"),
        ] {
            out.clear();
            put_millis(&mut out, nanos);
            assert_eq!(std::str::from_utf8(&out).unwrap(), s);
        }
    }
}
