//! The Prometheus remote-write 1.0 messages, written by hand from the public
//! spec (`prompb/remote.proto` and `prompb/types.proto`) with prost's derives, so
//! that no `protoc` is needed to build.
//!
//! Only what a 1.0 sender writes is declared. The field numbers left out are
//! kept free on purpose, as the spec has them:
//!
//! - `WriteRequest`: 2 is reserved, 3 is `metadata` (not sent yet);
//! - `TimeSeries`: 3 is `exemplars`.
//!
//! `TimeSeries.histograms` (4) carries native histograms ([`Histogram`],
//! [`BucketSpan`]); [`native_histogram`](crate::native_histogram) builds one
//! from [`lakemetrics_export::NativeBuckets`]. Nothing sends it yet: core has
//! no native histogram (see `docs/push.md`).
//!
//! A decoder skips fields it does not know, so a receiver reads these messages
//! exactly as the full schema would.

/// A remote-write request: the body of one push, before snappy compression.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series, each with its samples oldest first.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// One series: its labels (`__name__` first, then sorted by name) and samples.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// The labels, `__name__` included.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The samples, in timestamp order.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Native histogram samples, in timestamp order (none sent yet).
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// A native histogram sample (`prompb.Histogram`, remote write 1.0 with
/// native histograms): integer counts, spans and delta-encoded bucket counts.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    /// Observations: `count_int` (1), or `count_float` (2) for float
    /// histograms (not sent).
    #[prost(oneof = "histogram::Count", tags = "1, 2")]
    pub count: Option<histogram::Count>,
    /// Sum of observations.
    #[prost(double, tag = "3")]
    pub sum: f64,
    /// Bucket schema, -4..=8.
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    /// Half-width of the zero bucket.
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    /// Observations in the zero bucket: `zero_count_int` (6), or
    /// `zero_count_float` (7).
    #[prost(oneof = "histogram::ZeroCount", tags = "6, 7")]
    pub zero_count: Option<histogram::ZeroCount>,
    /// Spans of negative buckets.
    #[prost(message, repeated, tag = "8")]
    pub negative_spans: Vec<BucketSpan>,
    /// Negative bucket counts, each a delta to the previous one (packed).
    #[prost(sint64, repeated, tag = "9")]
    pub negative_deltas: Vec<i64>,
    /// Absolute negative counts of float histograms (not sent).
    #[prost(double, repeated, tag = "10")]
    pub negative_counts: Vec<f64>,
    /// Spans of positive buckets.
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    /// Positive bucket counts, each a delta to the previous one (packed).
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    /// Absolute positive counts of float histograms (not sent).
    #[prost(double, repeated, tag = "13")]
    pub positive_counts: Vec<f64>,
    /// Whether this sample follows a counter reset ([`histogram::ResetHint`]).
    #[prost(enumeration = "histogram::ResetHint", tag = "14")]
    pub reset_hint: i32,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
}

/// The `oneof`s and the enum of [`Histogram`].
pub mod histogram {
    /// The observation count.
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum Count {
        /// An integer histogram's count.
        #[prost(uint64, tag = "1")]
        CountInt(u64),
        /// A float histogram's count.
        #[prost(double, tag = "2")]
        CountFloat(f64),
    }

    /// The zero bucket's count.
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum ZeroCount {
        /// An integer histogram's zero count.
        #[prost(uint64, tag = "6")]
        ZeroCountInt(u64),
        /// A float histogram's zero count.
        #[prost(double, tag = "7")]
        ZeroCountFloat(f64),
    }

    /// Whether a sample follows a counter reset.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum ResetHint {
        /// Unknown: the receiver works it out.
        Unknown = 0,
        /// A reset happened just before this sample.
        Yes = 1,
        /// No reset since the previous sample.
        No = 2,
        /// A gauge histogram: resets do not apply.
        Gauge = 3,
    }
}

/// A run of native buckets: `offset` empty ones after the previous span (the
/// first span: its starting index), then `length` ones.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct BucketSpan {
    /// Gap to the previous span, or the first span's starting index.
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    /// Buckets in the span.
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

/// A label pair.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Label {
    /// The label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// One sample.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

impl Label {
    /// A label pair from borrowed strings.
    pub fn new(name: &str, value: &str) -> Label {
        Label {
            name: name.to_string(),
            value: value.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// The bytes worked out by hand from the protobuf encoding rules
    /// (a key is `field_number << 3 | wire_type`; wire type 0 varint, 1 fixed
    /// 64-bit, 2 length-delimited) and the field numbers of `types.proto`.
    #[test]
    fn a_request_encodes_to_the_bytes_the_spec_gives() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label::new("__name__", "up"), Label::new("job", "a")],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 1_700_000_000_000,
                }],
                histograms: vec![],
            }],
        };
        #[rustfmt::skip]
        let expected: Vec<u8> = vec![
            // WriteRequest.timeseries (1, LEN): key 0x0a, 44 bytes follow.
            0x0a, 44,
              // TimeSeries.labels (1, LEN): key 0x0a, 14 bytes.
              0x0a, 14,
                // Label.name (1, LEN) "__name__", Label.value (2, LEN) "up".
                0x0a, 8, b'_', b'_', b'n', b'a', b'm', b'e', b'_', b'_',
                0x12, 2, b'u', b'p',
              // the second label: 8 bytes.
              0x0a, 8,
                0x0a, 3, b'j', b'o', b'b',
                0x12, 1, b'a',
              // TimeSeries.samples (2, LEN): key 0x12, 16 bytes.
              0x12, 16,
                // Sample.value (1, I64): key 0x09, 1.0 as little-endian IEEE 754.
                0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f,
                // Sample.timestamp (2, VARINT): key 0x10, 1_700_000_000_000 in
                // 7-bit groups, least significant first (0x18B_CFE5_6800).
                0x10, 0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31,
        ];
        assert_eq!(req.encode_to_vec(), expected);
        // Re-derive the varint to show the hand arithmetic above.
        let mut v = 1_700_000_000_000u64;
        let mut varint = Vec::new();
        while v >= 0x80 {
            varint.push((v as u8) | 0x80);
            v >>= 7;
        }
        varint.push(v as u8);
        assert_eq!(varint, [0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31]);
    }

    #[test]
    fn a_request_decodes_back_to_itself() {
        let req = WriteRequest {
            timeseries: vec![
                TimeSeries {
                    labels: vec![Label::new("__name__", "a_total"), Label::new("k", "ü\"<")],
                    samples: vec![
                        Sample {
                            value: 0.0,
                            timestamp: 0,
                        },
                        Sample {
                            value: f64::NEG_INFINITY,
                            timestamp: -5,
                        },
                        Sample {
                            value: 1e300,
                            timestamp: i64::MAX,
                        },
                    ],
                    histograms: vec![],
                },
                TimeSeries {
                    labels: vec![Label::new("__name__", "g")],
                    samples: vec![],
                    histograms: vec![],
                },
            ],
        };
        let bytes = req.encode_to_vec();
        assert_eq!(WriteRequest::decode(bytes.as_slice()).unwrap(), req);
    }

    #[test]
    fn unknown_fields_are_skipped() {
        // A TimeSeries with an exemplar-like field 3 and a field 5 no version
        // has: a 1.0 decoder (ours) reads the labels and skips the rest.
        let bytes = [
            0x0a, 9, // timeseries, 9 bytes
            0x0a, 3, 0x0a, 1, b'n', // a label with name "n"
            0x1a, 0, // field 3, empty
            0x2a, 0, // field 5, empty
        ];
        let req = WriteRequest::decode(&bytes[..]).unwrap();
        assert_eq!(req.timeseries[0].labels, [Label::new("n", "")]);
        assert!(req.timeseries[0].histograms.is_empty());
    }
}
