//! The Prometheus remote-write 1.0 messages, written by hand from the public
//! spec (`prompb/remote.proto` and `prompb/types.proto`) with prost's derives, so
//! that no `protoc` is needed to build.
//!
//! Only what a 1.0 sender writes is declared. The field numbers left out are
//! kept free on purpose, as the spec has them:
//!
//! - `WriteRequest`: 2 is reserved, 3 is `metadata` (not sent yet);
//! - `TimeSeries`: 3 is `exemplars`, 4 is `histograms` (native histograms,
//!   for when core has them).
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
                },
                TimeSeries {
                    labels: vec![Label::new("__name__", "g")],
                    samples: vec![],
                },
            ],
        };
        let bytes = req.encode_to_vec();
        assert_eq!(WriteRequest::decode(bytes.as_slice()).unwrap(), req);
    }

    #[test]
    fn unknown_fields_are_skipped() {
        // A TimeSeries with an exemplar-like field 3 and a histogram-like field
        // 4: a 1.0 decoder (ours) reads the labels and skips the rest.
        let bytes = [
            0x0a, 9, // timeseries, 9 bytes
            0x0a, 3, 0x0a, 1, b'n', // a label with name "n"
            0x1a, 0, // field 3, empty
            0x22, 0, // field 4, empty
        ];
        let req = WriteRequest::decode(&bytes[..]).unwrap();
        assert_eq!(req.timeseries[0].labels, [Label::new("n", "")]);
    }
}
