//! Native histograms for remote write: a [`NativeBuckets`] as one
//! `prompb.Histogram` sample.
//!
//! A writer sends a histogram with native buckets as this message (in
//! `TimeSeries.histograms`) when `RemoteWriterBuilder::native_histograms` is
//! on, or as classic `_bucket`/`_sum`/`_count` samples otherwise; remote
//! write 1.0 has no negotiation, so the choice is configuration (see
//! `docs/push.md`).

use lakemetrics_export::{native_layout, NativeBuckets, NativeError, Span};

use crate::proto::histogram::{Count, ResetHint, ZeroCount};
use crate::proto::{BucketSpan, Histogram};

/// The remote-write `Histogram` sample of `native` at `timestamp_ms`
/// (milliseconds since the Unix epoch): integer counts, the spans and
/// delta-encoded counts of [`native_layout`] (gaps of up to
/// [`MAX_SPAN_GAP`](lakemetrics_export::MAX_SPAN_GAP) empty buckets stay inside
/// a span), and `reset_hint`.
///
/// Bad input (see [`NativeBuckets::validate`]) is the typed error, and nothing
/// is built.
///
/// ```
/// use lakemetrics_export::NativeBuckets;
/// use lakemetrics_push::native_histogram;
/// use lakemetrics_push::proto::histogram::ResetHint;
///
/// let native = NativeBuckets {
///     schema: 1,
///     zero_threshold: 1e-128,
///     zero_count: 0,
///     count: 3,
///     sum: 4.5,
///     positive: &[(2, 2), (3, 1)],
///     negative: &[],
/// };
/// let h = native_histogram(&native, 1_700_000_000_000, ResetHint::No).unwrap();
/// assert_eq!(h.positive_deltas, [2, -1]);
/// ```
pub fn native_histogram(
    native: &NativeBuckets<'_>,
    timestamp_ms: i64,
    reset_hint: ResetHint,
) -> Result<Histogram, NativeError> {
    native.validate()?;
    let mut spans: Vec<Span> = Vec::new();
    let mut deltas = Vec::new();
    let mut side = |buckets| -> Result<(Vec<BucketSpan>, Vec<i64>), NativeError> {
        native_layout(buckets, &mut spans, &mut deltas)?;
        let s = spans
            .iter()
            .map(|s| BucketSpan {
                offset: s.offset,
                length: s.length,
            })
            .collect();
        Ok((s, deltas.clone()))
    };
    let (negative_spans, negative_deltas) = side(native.negative)?;
    let (positive_spans, positive_deltas) = side(native.positive)?;
    Ok(Histogram {
        count: Some(Count::CountInt(native.count)),
        sum: native.sum,
        schema: native.schema,
        zero_threshold: native.zero_threshold,
        zero_count: Some(ZeroCount::ZeroCountInt(native.zero_count)),
        negative_spans,
        negative_deltas,
        negative_counts: Vec::new(),
        positive_spans,
        positive_deltas,
        positive_counts: Vec::new(),
        reset_hint: reset_hint as i32,
        timestamp: timestamp_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Label, TimeSeries, WriteRequest};
    use prost::Message;

    fn span(offset: i32, length: u32) -> BucketSpan {
        BucketSpan { offset, length }
    }

    #[test]
    fn spans_and_deltas_as_worked_out_by_hand() {
        let native = NativeBuckets {
            schema: 3,
            zero_threshold: 0.001,
            zero_count: 2,
            count: 2 + 10 + 4 + 7,
            sum: -12.25,
            // Indices 5, 6, then 9 (a gap of two, kept), then 20 (a gap of
            // ten: a new span at offset 10 after index 9).
            positive: &[(5, 4), (6, 2), (9, 3), (20, 1)],
            negative: &[(-1, 7)],
        };
        let h = native_histogram(&native, 1_700_000_000_123, ResetHint::Unknown).unwrap();
        assert_eq!(h.count, Some(Count::CountInt(23)));
        assert_eq!(h.zero_count, Some(ZeroCount::ZeroCountInt(2)));
        assert_eq!((h.schema, h.zero_threshold, h.sum), (3, 0.001, -12.25));
        assert_eq!(h.positive_spans, [span(5, 5), span(10, 1)]);
        // Counts 4 2 0 0 3 | 1.
        assert_eq!(h.positive_deltas, [4, -2, -2, 0, 3, -2]);
        assert_eq!(h.negative_spans, [span(-1, 1)]);
        assert_eq!(h.negative_deltas, [7]);
        assert_eq!(h.timestamp, 1_700_000_000_123);
    }

    #[test]
    fn a_request_with_a_histogram_round_trips() {
        let native = NativeBuckets {
            schema: -2,
            zero_threshold: 0.0,
            zero_count: 0,
            count: 5,
            sum: 1e6,
            positive: &[(-3, 1), (0, 1), (1, 3)],
            negative: &[],
        };
        let h = native_histogram(&native, 42, ResetHint::No).unwrap();
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label::new("__name__", "rpc_seconds")],
                samples: vec![],
                histograms: vec![h.clone()],
            }],
        };
        let bytes = req.encode_to_vec();
        let back = WriteRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(back, req);
        let h = &back.timeseries[0].histograms[0];
        assert_eq!(h.reset_hint, ResetHint::No as i32);
        // -3, then a gap of two (-2, -1) kept, 0, 1.
        assert_eq!(h.positive_spans, [span(-3, 5)]);
        assert_eq!(h.positive_deltas, [1, -1, 0, 1, 2]);
        assert!(h.negative_spans.is_empty());
        // The deltas go packed (proto3): one key, then the zigzag varints
        // 1 -> 2, -1 -> 1, 0 -> 0, 1 -> 2, 2 -> 4.
        let hb = h.encode_to_vec();
        let packed = [0x62, 5, 2, 1, 0, 2, 4];
        assert!(hb.windows(packed.len()).any(|w| w == packed), "{hb:?}");
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let native = NativeBuckets {
            schema: -5,
            zero_threshold: 0.0,
            zero_count: 0,
            count: 0,
            sum: 0.0,
            positive: &[],
            negative: &[],
        };
        assert_eq!(
            native_histogram(&native, 0, ResetHint::Unknown),
            Err(NativeError::Schema { schema: -5 })
        );
        let native = NativeBuckets {
            schema: 0,
            count: 9,
            positive: &[(3, 1), (2, 1)],
            ..native
        };
        assert_eq!(
            native_histogram(&native, 0, ResetHint::Unknown),
            Err(NativeError::UnorderedBuckets {
                previous: 3,
                index: 2
            })
        );
    }
}
