//! The Prometheus protobuf exposition: varint-length-delimited
//! `io.prometheus.client.MetricFamily` messages (content type
//! [`PROTOBUF_CONTENT_TYPE`]), the format Prometheus asks for first when its
//! native histograms are enabled.
//!
//! The bytes are written by hand, field by field, as `metrics.proto` (proto2)
//! lays them out; [`crate::proto`] (feature `protobuf`) holds the same schema as
//! prost messages, and the tests and the fuzz target decode every output with it.
//! Writing by hand lets a family be encoded into one reused buffer without
//! building a message tree (no allocation per series or sample) and keeps prost
//! out of the default build.
//!
//! What is written, per family (field numbers from `metrics.proto`):
//!
//! - `name` as Prometheus text 0.0.4 names the family (counters `<name>_total`,
//!   never doubled), `help` (the registered text, or [`crate::DEFAULT_HELP`]),
//!   `type`, then one `Metric` per series with its labels in the series' order.
//!   No `unit` and no `timestamp_ms`, as in text 0.0.4.
//! - counters: `counter.value` (the `u64` total as a double, exact up to 2^53)
//!   and `counter.created_timestamp` (the series' creation time);
//! - gauges: `gauge.value`;
//! - classic histograms: `sample_count`, `sample_sum`, one `bucket` per finite
//!   upper bound with its cumulative count, and `created_timestamp`. The `+Inf`
//!   bucket is not written: in this format it is implied by `sample_count`, and
//!   Prometheus adds `le="+Inf"` itself (a written one would be a duplicate);
//! - summaries: `sample_count`, `sample_sum`, one `quantile` per objective over
//!   the family's window (NaN when the window holds no observation), and
//!   `created_timestamp`;
//! - native histograms ([`NativeBuckets`]): `schema`, `zero_threshold`,
//!   `zero_count` and per side the spans and delta-encoded counts of
//!   [`native_layout`], beside the classic buckets when the series has both.
//!
//! Every scalar field is written even when zero: `metrics.proto` is proto2, where
//! a field's presence is part of the message.
//!
//! A family is encoded whole into a reused buffer (its length goes in front of
//! it), then written: memory is bounded by the largest family's encoding, and
//! families stream one by one as in the text formats. Names and labels come
//! from core, which validated them when the series was created; strings are
//! UTF-8 by type, so, unlike text, nothing needs escaping and nothing can break
//! the framing.

use std::fmt;
use std::io::{self, Write};

use lakemetrics_core::{FamilyView, MetricKind, SeriesData, SeriesView};

use crate::text::DEFAULT_HELP;

/// `Content-Type` of the Prometheus protobuf exposition: delimited
/// `io.prometheus.client.MetricFamily` messages.
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// The largest run of empty buckets [`native_layout`] writes inside a span
/// (as zero deltas) rather than starting a new span: 2, as Prometheus' Go
/// client does. A gap of 3 or more empty buckets starts a new span.
pub const MAX_SPAN_GAP: u32 = 2;

/// Wire types (protobuf encoding).
const VARINT: u32 = 0;
const I64: u32 = 1;
const LEN: u32 = 2;

/// `metrics.proto`'s `MetricType` values.
const TYPE_COUNTER: u64 = 0;
const TYPE_GAUGE: u64 = 1;
const TYPE_SUMMARY: u64 = 2;
const TYPE_HISTOGRAM: u64 = 4;

#[inline]
fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Bytes `v` takes as a varint.
#[inline]
fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline]
fn put_key(buf: &mut Vec<u8>, field: u32, wire: u32) {
    put_varint(buf, u64::from(field << 3 | wire));
}

#[inline]
fn put_u64(buf: &mut Vec<u8>, field: u32, v: u64) {
    put_key(buf, field, VARINT);
    put_varint(buf, v);
}

/// `sint32`/`sint64`: zigzag, so small negative values stay short.
#[inline]
fn put_sint(buf: &mut Vec<u8>, field: u32, v: i64) {
    put_u64(buf, field, ((v << 1) ^ (v >> 63)) as u64);
}

#[inline]
fn put_f64(buf: &mut Vec<u8>, field: u32, v: f64) {
    put_key(buf, field, I64);
    buf.extend_from_slice(&v.to_le_bytes());
}

#[inline]
fn put_bytes(buf: &mut Vec<u8>, field: u32, b: &[u8]) {
    put_key(buf, field, LEN);
    put_varint(buf, b.len() as u64);
    buf.extend_from_slice(b);
}

/// A time as a `google.protobuf.Timestamp` holds it: seconds and nanoseconds
/// since the Unix epoch, split once.
#[derive(Clone, Copy)]
struct Timestamp {
    secs: u64,
    nanos: u64,
}

impl Timestamp {
    fn new(nanos: u64) -> Timestamp {
        Timestamp {
            secs: nanos / 1_000_000_000,
            nanos: nanos % 1_000_000_000,
        }
    }

    /// Bytes of the message's body.
    fn body_len(self) -> usize {
        1 + varint_len(self.secs) + 1 + varint_len(self.nanos)
    }
}

/// A `google.protobuf.Timestamp` field.
fn put_timestamp(buf: &mut Vec<u8>, field: u32, ts: Timestamp) {
    put_key(buf, field, LEN);
    put_varint(buf, ts.body_len() as u64);
    put_u64(buf, 1, ts.secs);
    put_u64(buf, 2, ts.nanos);
}

/// Buffers reused across series and families.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The family being encoded (without its length prefix).
    family: Vec<u8>,
    /// The metric being encoded.
    metric: Vec<u8>,
    /// The histogram or summary message being encoded.
    inner: Vec<u8>,
    /// A native histogram's buckets, refilled per series.
    native: lakemetrics_core::NativeSnapshot,
    /// One side's spans, refilled per series.
    spans: Vec<Span>,
    /// One side's deltas, refilled per series.
    deltas: Vec<i64>,
}

/// Writes one family as a length-delimited `MetricFamily`.
pub(crate) fn write_family<W: Write + ?Sized>(
    out: &mut W,
    fam: &FamilyView<'_>,
    scratch: &mut Scratch,
) -> io::Result<()> {
    let kind = fam.kind();
    let name = fam.name();
    let buf = &mut scratch.family;
    buf.clear();
    // name (1): as text 0.0.4 names it.
    put_key(buf, 1, LEN);
    if kind == MetricKind::Counter && !name.ends_with("_total") {
        put_varint(buf, (name.len() + "_total".len()) as u64);
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b"_total");
    } else {
        put_varint(buf, name.len() as u64);
        buf.extend_from_slice(name.as_bytes());
    }
    let help = match fam.help() {
        "" => DEFAULT_HELP,
        h => h,
    };
    put_bytes(buf, 2, help.as_bytes());
    let ty = match kind {
        MetricKind::Counter => TYPE_COUNTER,
        MetricKind::Gauge => TYPE_GAUGE,
        MetricKind::Summary => TYPE_SUMMARY,
        MetricKind::Histogram => TYPE_HISTOGRAM,
    };
    put_u64(buf, 3, ty);
    for series in fam.series() {
        let m = &mut scratch.metric;
        m.clear();
        put_labels(m, &series);
        match series.data() {
            SeriesData::Counter(c) => {
                // Counter: value (1), created_timestamp (3).
                let ts = Timestamp::new(series.created());
                let body = ts.body_len();
                put_key(m, 3, LEN);
                put_varint(m, (9 + 1 + varint_len(body as u64) + body) as u64);
                put_f64(m, 1, c.total() as f64);
                put_timestamp(m, 3, ts);
            }
            SeriesData::Gauge(g) => {
                put_key(m, 2, LEN);
                put_varint(m, 9);
                put_f64(m, 1, g.get());
            }
            SeriesData::Histogram(h) => {
                let inner = &mut scratch.inner;
                inner.clear();
                let bounds = fam.bucket_bounds();
                let native = h.native();
                let snap = &mut scratch.native;
                h.with_cumulative(|counts, sum| {
                    let mut cum = 0u64;
                    // Buckets go after count and sum; count is only known at
                    // the end, so they are staged in `metric`'s spare tail.
                    // A native-only family has no finite bound: no bucket.
                    let mark = m.len();
                    for (i, c) in counts.enumerate() {
                        cum = cum.wrapping_add(c);
                        if let Some(&le) = bounds.get(i) {
                            put_bucket(m, cum, le);
                        }
                    }
                    let mut count = cum;
                    if let Some(n) = native {
                        // The native count is the classic one raised to the
                        // buckets' total when an observation races the read.
                        n.snapshot_into(cum, sum, snap);
                        count = snap.count;
                    }
                    put_u64(inner, 1, count);
                    put_f64(inner, 2, sum);
                    inner.extend_from_slice(&m[mark..]);
                    m.truncate(mark);
                });
                if native.is_some() {
                    let nb = NativeBuckets {
                        schema: i32::from(snap.schema),
                        zero_threshold: snap.zero_threshold,
                        zero_count: snap.zero_count,
                        count: snap.count,
                        sum: snap.sum,
                        positive: &snap.positive,
                        negative: &snap.negative,
                    };
                    let mark = inner.len();
                    // Core's snapshot always passes `validate` (schema and
                    // threshold checked at registration, indices sorted and
                    // merged, count raised to the buckets'); were it ever
                    // refused, the series is written as its classic part.
                    if put_native(inner, &nb, &mut scratch.spans, &mut scratch.deltas).is_err() {
                        inner.truncate(mark);
                    }
                }
                put_timestamp(inner, 15, Timestamp::new(series.created()));
                put_bytes(m, 7, inner);
            }
            SeriesData::Summary(s) => {
                let inner = &mut scratch.inner;
                inner.clear();
                put_u64(inner, 1, s.count());
                put_f64(inner, 2, s.sum());
                let window = fam.retention().window();
                let now = series.now();
                for &q in fam.objectives() {
                    // Quantile: quantile (1), value (2).
                    put_key(inner, 3, LEN);
                    put_varint(inner, 18);
                    put_f64(inner, 1, q);
                    put_f64(inner, 2, s.quantile(q, now, window));
                }
                put_timestamp(inner, 4, Timestamp::new(series.created()));
                put_bytes(m, 4, inner);
            }
        }
        put_bytes(&mut scratch.family, 4, &scratch.metric);
    }
    // The family's length in front of it, from a stack buffer.
    let family = &scratch.family;
    let mut head = [0u8; 10];
    let mut v = family.len() as u64;
    let mut n = 0;
    while v >= 0x80 {
        head[n] = v as u8 | 0x80;
        v >>= 7;
        n += 1;
    }
    head[n] = v as u8;
    out.write_all(&head[..=n])?;
    out.write_all(family)
}

/// The series' labels as repeated `label` (1) `LabelPair`s.
fn put_labels(m: &mut Vec<u8>, series: &SeriesView<'_>) {
    for (k, v) in series.labels() {
        let (kl, vl) = (k.len(), v.len());
        if kl + vl < 124 {
            // Every length fits one varint byte: the common case, in four
            // copies rather than byte by byte.
            m.extend_from_slice(&[0x0a, (kl + vl + 4) as u8, 0x0a, kl as u8]);
            m.extend_from_slice(k.as_bytes());
            m.extend_from_slice(&[0x12, vl as u8]);
            m.extend_from_slice(v.as_bytes());
            continue;
        }
        let len =
            1 + varint_len(k.len() as u64) + k.len() + 1 + varint_len(v.len() as u64) + v.len();
        put_key(m, 1, LEN);
        put_varint(m, len as u64);
        put_bytes(m, 1, k.as_bytes());
        put_bytes(m, 2, v.as_bytes());
    }
}

/// A classic `Bucket` (3): cumulative_count (1), upper_bound (2).
fn put_bucket(buf: &mut Vec<u8>, cumulative: u64, upper_bound: f64) {
    put_key(buf, 3, LEN);
    put_varint(buf, (1 + varint_len(cumulative) + 9) as u64);
    put_u64(buf, 1, cumulative);
    put_f64(buf, 2, upper_bound);
}

/// One native histogram's state, as the protobuf and remote-write encoders
/// take it: the plain input core's native histograms are turned into.
///
/// `positive` and `negative` are sparse `(bucket index, count)` pairs in
/// strictly increasing index order (bucket `i` of schema `s` covers
/// `(base^(i-1), base^i]` with `base = 2^(2^-s)`, mirrored for negative
/// values); counts are per bucket, not cumulative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NativeBuckets<'a> {
    /// Resolution: from -4 (each bucket 65536 times the last) to 8 (about
    /// 0.27% wide).
    pub schema: i32,
    /// Observations with `|v| <= zero_threshold` go in the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// All observations (NaN ones included, which are in no bucket).
    pub count: u64,
    /// The sum of all observations.
    pub sum: f64,
    /// Buckets of positive values: `(index, count)`, indices increasing.
    pub positive: &'a [(i32, u64)],
    /// Buckets of negative values: `(index, count)`, indices increasing.
    pub negative: &'a [(i32, u64)],
}

/// A run of consecutive buckets: `offset` empty buckets after the previous
/// span (or, for the first span, the index it starts at), then `length`
/// buckets. `metrics.proto`'s and remote write's `BucketSpan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Gap to the previous span, or the first span's starting index.
    pub offset: i32,
    /// Buckets in the span.
    pub length: u32,
}

/// Why a [`NativeBuckets`] cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NativeError {
    /// The schema is outside -4..=8.
    Schema {
        /// The schema given.
        schema: i32,
    },
    /// The zero threshold is negative or NaN.
    ZeroThreshold {
        /// The threshold given.
        threshold: f64,
    },
    /// Bucket indices are not strictly increasing.
    UnorderedBuckets {
        /// The index before.
        previous: i32,
        /// The index that does not follow it.
        index: i32,
    },
    /// Two successive bucket indices are so far apart that the gap between
    /// them does not fit a span's `i32` offset.
    SpanOffset {
        /// The index before.
        previous: i32,
        /// The index after the gap.
        index: i32,
    },
    /// `count` is less than the zero count plus the bucket counts.
    Count {
        /// The count given.
        count: u64,
        /// The zero count plus the bucket counts.
        in_buckets: u128,
    },
}

impl fmt::Display for NativeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NativeError::Schema { schema } => {
                write!(f, "native histogram schema {schema} is outside -4..=8")
            }
            NativeError::ZeroThreshold { threshold } => write!(
                f,
                "native histogram zero threshold {threshold} is negative or NaN"
            ),
            NativeError::UnorderedBuckets { previous, index } => write!(
                f,
                "native histogram bucket index {index} follows {previous}: indices must increase"
            ),
            NativeError::SpanOffset { previous, index } => write!(
                f,
                "native histogram bucket indices {previous} and {index} are too far apart for a span offset"
            ),
            NativeError::Count { count, in_buckets } => write!(
                f,
                "native histogram count {count} is less than its buckets hold ({in_buckets})"
            ),
        }
    }
}

impl std::error::Error for NativeError {}

impl NativeBuckets<'_> {
    /// Checks what [`native_layout`] and the encoders rely on: the schema's
    /// range, a zero threshold that is neither negative nor NaN, increasing
    /// indices on each side, and a count at least what the buckets hold.
    pub fn validate(&self) -> Result<(), NativeError> {
        if !(-4..=8).contains(&self.schema) {
            return Err(NativeError::Schema {
                schema: self.schema,
            });
        }
        if !(self.zero_threshold >= 0.0) {
            return Err(NativeError::ZeroThreshold {
                threshold: self.zero_threshold,
            });
        }
        let mut in_buckets = u128::from(self.zero_count);
        for side in [self.positive, self.negative] {
            for w in side.windows(2) {
                if w[1].0 <= w[0].0 {
                    return Err(NativeError::UnorderedBuckets {
                        previous: w[0].0,
                        index: w[1].0,
                    });
                }
            }
            in_buckets += side.iter().map(|&(_, c)| u128::from(c)).sum::<u128>();
        }
        if u128::from(self.count) < in_buckets {
            return Err(NativeError::Count {
                count: self.count,
                in_buckets,
            });
        }
        Ok(())
    }
}

/// Lays out one side's sparse `(index, count)` buckets as spans and
/// delta-encoded counts (each count minus the previous one in the layout, the
/// first minus zero), replacing what `spans` and `deltas` held.
///
/// Gaps of up to [`MAX_SPAN_GAP`] empty buckets stay inside a span as zero
/// counts, as Prometheus' Go client writes them; wider gaps start a new span.
/// Indices must increase strictly.
///
/// ```
/// use lakemetrics_export::{native_layout, Span};
///
/// let (mut spans, mut deltas) = (Vec::new(), Vec::new());
/// native_layout(&[(-2, 3), (-1, 5), (1, 2), (7, 1)], &mut spans, &mut deltas).unwrap();
/// assert_eq!(spans, [Span { offset: -2, length: 4 }, Span { offset: 5, length: 1 }]);
/// // Counts 3, 5, 0 (index 0, a gap of one), 2, then 1: as deltas.
/// assert_eq!(deltas, [3, 2, -5, 2, -1]);
/// ```
pub fn native_layout(
    buckets: &[(i32, u64)],
    spans: &mut Vec<Span>,
    deltas: &mut Vec<i64>,
) -> Result<(), NativeError> {
    spans.clear();
    deltas.clear();
    let mut prev_count = 0i64;
    // The index after the last bucket laid out (i64: no overflow at i32::MAX).
    let mut next: i64 = 0;
    for (n, &(index, count)) in buckets.iter().enumerate() {
        let gap = i64::from(index) - next;
        if n > 0 && gap < 0 {
            return Err(NativeError::UnorderedBuckets {
                previous: buckets[n - 1].0,
                index,
            });
        }
        if n == 0 || gap > i64::from(MAX_SPAN_GAP) {
            // A first span's offset is its index; a later one's, the gap,
            // which must fit an i32 (real indices are within about ±2^18).
            let offset = if n == 0 {
                index
            } else {
                i32::try_from(gap).map_err(|_| NativeError::SpanOffset {
                    previous: buckets[n - 1].0,
                    index,
                })?
            };
            spans.push(Span { offset, length: 0 });
        } else {
            for _ in 0..gap {
                deltas.push(-prev_count);
                prev_count = 0;
            }
            if let Some(s) = spans.last_mut() {
                s.length += gap as u32;
            }
        }
        // Counts above i64::MAX wrap, as in Go's client; no real histogram
        // gets there.
        let c = count as i64;
        deltas.push(c.wrapping_sub(prev_count));
        prev_count = c;
        if let Some(s) = spans.last_mut() {
            s.length += 1;
        }
        next = i64::from(index) + 1;
    }
    Ok(())
}

/// Appends a native histogram's fields (after `sample_count` and
/// `sample_sum`, which the caller writes) to a `Histogram` message: schema
/// (5), zero_threshold (6), zero_count (7), negative spans (9) and deltas
/// (10), positive spans (12) and deltas (13).
///
/// Deltas are written unpacked, one field per value, as proto2 has repeated
/// scalars by default and Prometheus' Go client writes them. A histogram with
/// no bucket, no zero count and a zero threshold of zero gets one empty
/// positive span, as the Go client does, for Prometheus versions that tell a
/// native histogram by its spans (2.42 does not: see `docs/formats.md`).
fn put_native(
    buf: &mut Vec<u8>,
    n: &NativeBuckets<'_>,
    spans: &mut Vec<Span>,
    deltas: &mut Vec<i64>,
) -> Result<(), NativeError> {
    n.validate()?;
    put_sint(buf, 5, i64::from(n.schema));
    put_f64(buf, 6, n.zero_threshold);
    put_u64(buf, 7, n.zero_count);
    for (side, span_field, delta_field) in [(n.negative, 9, 10), (n.positive, 12, 13)] {
        native_layout(side, spans, deltas)?;
        if side.is_empty()
            && span_field == 12
            && n.negative.is_empty()
            && n.zero_count == 0
            && n.zero_threshold == 0.0
        {
            spans.push(Span {
                offset: 0,
                length: 0,
            });
        }
        for s in spans.iter() {
            let off = ((i64::from(s.offset) << 1) ^ (i64::from(s.offset) >> 63)) as u64;
            put_key(buf, span_field, LEN);
            put_varint(
                buf,
                (1 + varint_len(off) + 1 + varint_len(u64::from(s.length))) as u64,
            );
            put_sint(buf, 1, i64::from(s.offset));
            put_u64(buf, 2, u64::from(s.length));
        }
        for &d in deltas.iter() {
            put_sint(buf, delta_field, d);
        }
    }
    Ok(())
}

/// Encodes the `Histogram` message of one native histogram series (the bytes
/// [`write_protobuf`](crate::write_protobuf) puts in a `Metric`'s field 7),
/// reusing its span and delta buffers from series to series.
///
/// ```
/// use lakemetrics_export::{NativeBuckets, NativeEncoder};
///
/// let native = NativeBuckets {
///     schema: 0,
///     zero_threshold: 1e-128,
///     zero_count: 1,
///     count: 4,
///     sum: 5.5,
///     positive: &[(1, 2), (3, 1)],
///     negative: &[],
/// };
/// let mut buf = Vec::new();
/// NativeEncoder::default().encode_histogram(&mut buf, &native, None, 0).unwrap();
/// assert!(!buf.is_empty());
/// ```
#[derive(Debug, Default, Clone)]
pub struct NativeEncoder {
    spans: Vec<Span>,
    deltas: Vec<i64>,
}

impl NativeEncoder {
    /// Replaces `buf`'s contents with the `Histogram` message: `sample_count`
    /// and `sample_sum` from `native`; classic buckets when `classic` gives
    /// `(finite upper bounds, their non-cumulative counts)` (the `+Inf` bucket
    /// is implied by the count, as in the rest of the exposition); the native
    /// fields (see [`native_layout`]); and `created_timestamp` from
    /// `created_nanos` (nanoseconds since the Unix epoch).
    ///
    /// On bad input (see [`NativeBuckets::validate`]) returns the error and
    /// leaves `buf` empty.
    pub fn encode_histogram(
        &mut self,
        buf: &mut Vec<u8>,
        native: &NativeBuckets<'_>,
        classic: Option<(&[f64], &[u64])>,
        created_nanos: u64,
    ) -> Result<(), NativeError> {
        buf.clear();
        native.validate()?;
        put_u64(buf, 1, native.count);
        put_f64(buf, 2, native.sum);
        if let Some((bounds, counts)) = classic {
            let mut cum = 0u64;
            for (&le, &count) in bounds.iter().zip(counts) {
                cum = cum.wrapping_add(count);
                put_bucket(buf, cum, le);
            }
        }
        if let Err(e) = put_native(buf, native, &mut self.spans, &mut self.deltas) {
            buf.clear();
            return Err(e);
        }
        put_timestamp(buf, 15, Timestamp::new(created_nanos));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto;
    use prost::Message;

    fn layout(b: &[(i32, u64)]) -> (Vec<(i32, u32)>, Vec<i64>) {
        let (mut s, mut d) = (Vec::new(), Vec::new());
        native_layout(b, &mut s, &mut d).unwrap();
        (s.iter().map(|s| (s.offset, s.length)).collect(), d)
    }

    #[test]
    fn varint_lengths() {
        for v in [0u64, 1, 127, 128, 16383, 16384, u64::MAX >> 1, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(b.len(), varint_len(v), "{v}");
        }
    }

    /// Spans and deltas worked out by hand.
    #[test]
    fn spans_and_deltas() {
        assert_eq!(layout(&[]), (vec![], vec![]));
        // One bucket at index 0.
        assert_eq!(layout(&[(0, 4)]), (vec![(0, 1)], vec![4]));
        // Consecutive: one span from 3; counts 1 2 3 -> deltas 1 1 1.
        assert_eq!(
            layout(&[(3, 1), (4, 2), (5, 3)]),
            (vec![(3, 3)], vec![1, 1, 1])
        );
        // A gap of two empty buckets (indices 1, 2) is kept inside the span:
        // counts 5 0 0 7 -> deltas 5 -5 0 7.
        assert_eq!(layout(&[(0, 5), (3, 7)]), (vec![(0, 4)], vec![5, -5, 0, 7]));
        // A gap of three starts a new span, offset 3 after the first's end.
        assert_eq!(
            layout(&[(0, 5), (4, 7)]),
            (vec![(0, 1), (3, 1)], vec![5, 2])
        );
        // Negative indices; then a far gap: 13 empty buckets (-3..=9)
        // between the first span's end and index 10.
        assert_eq!(
            layout(&[(-5, 2), (-4, 2), (10, 1), (11, 9)]),
            (vec![(-5, 2), (13, 2)], vec![2, 0, -1, 8])
        );
        // The widest gap an offset holds; one more is an error.
        assert_eq!(
            layout(&[(-1, 1), (i32::MAX, 1)]),
            (vec![(-1, 1), (i32::MAX, 1)], vec![1, 0])
        );
        let (mut s, mut d) = (Vec::new(), Vec::new());
        assert_eq!(
            native_layout(&[(-2, 1), (i32::MAX, 1)], &mut s, &mut d),
            Err(NativeError::SpanOffset {
                previous: -2,
                index: i32::MAX
            })
        );
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let (mut s, mut d) = (Vec::new(), Vec::new());
        assert_eq!(
            native_layout(&[(1, 1), (1, 1)], &mut s, &mut d),
            Err(NativeError::UnorderedBuckets {
                previous: 1,
                index: 1
            })
        );
        let ok = NativeBuckets {
            schema: 3,
            zero_threshold: 1e-128,
            zero_count: 1,
            count: 3,
            sum: 1.0,
            positive: &[(1, 1)],
            negative: &[(1, 1)],
        };
        assert_eq!(ok.validate(), Ok(()));
        let cases = [
            (
                NativeBuckets { schema: 9, ..ok },
                NativeError::Schema { schema: 9 },
            ),
            (
                NativeBuckets {
                    zero_threshold: f64::NAN,
                    ..ok
                },
                NativeError::ZeroThreshold {
                    threshold: f64::NAN,
                },
            ),
            (
                NativeBuckets {
                    negative: &[(2, 1), (0, 1)],
                    ..ok
                },
                NativeError::UnorderedBuckets {
                    previous: 2,
                    index: 0,
                },
            ),
            (
                NativeBuckets { count: 2, ..ok },
                NativeError::Count {
                    count: 2,
                    in_buckets: 3,
                },
            ),
        ];
        for (bad, want) in cases {
            let got = bad.validate().unwrap_err();
            // NaN != NaN: compare the messages.
            assert_eq!(got.to_string(), want.to_string());
            let mut buf = vec![1, 2, 3];
            assert!(NativeEncoder::default()
                .encode_histogram(&mut buf, &bad, None, 0)
                .is_err());
            // Nothing half-written is left behind.
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn a_native_histogram_round_trips_through_prost() {
        let n = NativeBuckets {
            schema: 2,
            zero_threshold: 0.001,
            zero_count: 4,
            count: 4 + 3 + 1 + 6 + 2 + 1,
            sum: 123.5,
            positive: &[(0, 3), (1, 1), (4, 6), (9, 2)],
            negative: &[(-3, 1)],
        };
        let mut buf = Vec::new();
        let classic: (&[f64], &[u64]) = (&[1.0, 10.0], &[5, 7]);
        NativeEncoder::default()
            .encode_histogram(&mut buf, &n, Some(classic), 1_700_000_000_250_000_000)
            .unwrap();
        let h = proto::Histogram::decode(buf.as_slice()).unwrap();
        assert_eq!(h.sample_count, Some(17));
        assert_eq!(h.sample_sum, Some(123.5));
        assert_eq!(h.schema, Some(2));
        assert_eq!(h.zero_threshold, Some(0.001));
        assert_eq!(h.zero_count, Some(4));
        let span = |o, l| proto::BucketSpan {
            offset: Some(o),
            length: Some(l),
        };
        // Positive: 0,1 then a gap of two (2, 3) kept, then 4; then a gap of
        // four (5..=8): a new span at offset 4 after index 4.
        assert_eq!(h.positive_span, [span(0, 5), span(4, 1)]);
        // Counts 3 1 0 0 6 | 2.
        assert_eq!(h.positive_delta, [3, -2, -1, 0, 6, -4]);
        assert_eq!(h.negative_span, [span(-3, 1)]);
        assert_eq!(h.negative_delta, [1]);
        let b: Vec<_> = h
            .bucket
            .iter()
            .map(|b| (b.upper_bound.unwrap(), b.cumulative_count.unwrap()))
            .collect();
        assert_eq!(b, [(1.0, 5), (10.0, 12)]);
        let ts = h.created_timestamp.unwrap();
        assert_eq!((ts.seconds, ts.nanos), (1_700_000_000, 250_000_000));
    }

    #[test]
    fn an_empty_native_histogram_still_reads_as_native() {
        let n = NativeBuckets {
            schema: 0,
            zero_threshold: 0.0,
            zero_count: 0,
            count: 0,
            sum: 0.0,
            positive: &[],
            negative: &[],
        };
        let mut buf = Vec::new();
        NativeEncoder::default()
            .encode_histogram(&mut buf, &n, None, 0)
            .unwrap();
        let h = proto::Histogram::decode(buf.as_slice()).unwrap();
        assert_eq!(
            h.positive_span,
            [proto::BucketSpan {
                offset: Some(0),
                length: Some(0)
            }]
        );
        assert!(h.positive_delta.is_empty() && h.negative_span.is_empty());
        // With a zero threshold above zero, no span is needed.
        let n = NativeBuckets {
            zero_threshold: 1e-9,
            ..n
        };
        NativeEncoder::default()
            .encode_histogram(&mut buf, &n, None, 0)
            .unwrap();
        let h = proto::Histogram::decode(buf.as_slice()).unwrap();
        assert!(h.positive_span.is_empty());
    }

    /// Rebuilds one side's `(index, count)` buckets from spans and deltas.
    fn buckets_of(spans: &[proto::BucketSpan], deltas: &[i64]) -> Vec<(i32, u64)> {
        let (mut out, mut idx, mut count, mut d) = (Vec::new(), 0i32, 0i64, deltas.iter());
        for s in spans {
            // The first offset is an index; later ones, gaps after the
            // previous span's end (where `idx` already is).
            idx += s.offset.unwrap();
            for _ in 0..s.length.unwrap() {
                count += d.next().unwrap();
                if count != 0 {
                    out.push((idx, count as u64));
                }
                idx += 1;
            }
        }
        assert!(d.next().is_none(), "deltas left over");
        out
    }

    /// The registry's native histograms (native-only and native beside
    /// classic buckets) decode with prost to exactly core's snapshot.
    #[test]
    fn registry_native_histograms_decode_to_the_core_snapshot() {
        use lakemetrics_core::{Buckets, Describe, Filter, Registry};
        let reg = Registry::new();
        reg.register(Describe::histogram("only").native(3)).unwrap();
        reg.register(
            Describe::histogram("both")
                .buckets(Buckets::new(vec![0.1, 1.0, 10.0]).unwrap())
                .native(1),
        )
        .unwrap();
        let mut handles = Vec::new();
        for name in ["only", "both"] {
            for series in ["a", "b", "empty"] {
                let h = reg.histogram(name, &[("s", series)]).unwrap();
                if series != "empty" {
                    // "b" has negative values too.
                    let scales: &[f64] = if series == "a" { &[1.0] } else { &[1.0, -0.01] };
                    for scale in scales {
                        for v in [0.0, 0.5, 0.5, 3.0, 7.5, 1e3, 1e-3, f64::NAN] {
                            h.observe(v * scale);
                        }
                    }
                }
                handles.push((name, series, h));
            }
        }
        let mut out = Vec::new();
        crate::write_protobuf(&reg, &Filter::all(), &mut out).unwrap();
        let fams = proto::decode_all(&out).unwrap();
        assert_eq!(fams.len(), 2);
        for (name, series, h) in &handles {
            let snap = h.native_snapshot().unwrap();
            let fam = fams.iter().find(|f| f.name() == *name).unwrap();
            let m = fam
                .metric
                .iter()
                .find(|m| m.label[0].value() == *series)
                .unwrap();
            let p = m.histogram.as_ref().unwrap();
            assert_eq!(p.sample_count(), snap.count, "{name}{{{series}}}");
            assert_eq!(p.sample_sum().to_bits(), snap.sum.to_bits());
            assert_eq!(p.schema(), i32::from(snap.schema));
            assert_eq!(p.zero_threshold(), snap.zero_threshold);
            assert_eq!(p.zero_count(), snap.zero_count);
            assert_eq!(
                buckets_of(&p.positive_span, &p.positive_delta),
                snap.positive
            );
            assert_eq!(
                buckets_of(&p.negative_span, &p.negative_delta),
                snap.negative
            );
            let classic = h.snapshot();
            if *name == "only" {
                // Native-only: no classic bucket (the count stands for +Inf).
                assert!(p.bucket.is_empty());
            } else {
                let mut cum = 0;
                let want: Vec<(f64, u64)> = [0.1, 1.0, 10.0]
                    .iter()
                    .zip(&classic.counts)
                    .map(|(&le, &c)| {
                        cum += c;
                        (le, cum)
                    })
                    .collect();
                let got: Vec<(f64, u64)> = p
                    .bucket
                    .iter()
                    .map(|b| (b.upper_bound(), b.cumulative_count()))
                    .collect();
                assert_eq!(got, want);
            }
            if *series != "empty" {
                let sides = if *series == "a" { 1 } else { 2 };
                assert_eq!(snap.count, 8 * sides);
                assert_eq!(snap.positive.len(), 5);
                assert_eq!(snap.negative.len(), if *series == "a" { 0 } else { 5 });
            }
        }
    }

    /// Label pairs on both sides of the one-byte-length fast path.
    #[test]
    fn long_and_short_labels_decode() {
        let reg = lakemetrics_core::Registry::new();
        let long = "é".repeat(100); // 200 bytes: two-byte lengths
        let edge = "x".repeat(123 - 4); // kl + vl = 123: the fast path's last
        let over = "x".repeat(124 - 4); // kl + vl = 124: the general path
                                        // One label name per family: core keeps a family's label names fixed.
        let cases = [
            ("path", ""),
            ("path", edge.as_str()),
            ("path", over.as_str()),
            ("path", long.as_str()),
        ];
        for (k, v) in cases {
            reg.counter("c", &[(k, v)]).unwrap().inc();
        }
        let mut out = Vec::new();
        crate::write_protobuf(&reg, &lakemetrics_core::Filter::all(), &mut out).unwrap();
        let fams = proto::decode_all(&out).unwrap();
        let got: Vec<(String, String)> = fams[0]
            .metric
            .iter()
            .map(|m| {
                let l = &m.label[0];
                (l.name.clone().unwrap(), l.value.clone().unwrap())
            })
            .collect();
        let want: Vec<(String, String)> = cases
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    /// The bytes of a small family, worked out by hand from the encoding
    /// rules and `metrics.proto`'s field numbers.
    #[test]
    fn a_gauge_family_encodes_to_the_expected_bytes() {
        let reg = lakemetrics_core::Registry::new();
        reg.register(lakemetrics_core::Describe::gauge("g").help("H"))
            .unwrap();
        reg.gauge("g", &[("a", "b")]).unwrap().set(1.0);
        let mut out = Vec::new();
        let mut scratch = Scratch::default();
        reg.visit(&lakemetrics_core::Filter::all(), |fam| {
            write_family(&mut out, fam, &mut scratch).unwrap();
        });
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            29, // the family's length: 3 + 3 + 2 + 21
            0x0a, 1, b'g',        // name (1)
            0x12, 1, b'H',        // help (2)
            0x18, 1,              // type (3): GAUGE
            0x22, 19,             // metric (4), 19 bytes: 8 + 11
              0x0a, 6,            // label (1)
                0x0a, 1, b'a', 0x12, 1, b'b',
              0x12, 9,            // gauge (2)
                0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, // value (1): 1.0
        ];
        assert_eq!(out, want);
    }
}
