//! Columns of numbers, compressed with pco (Pcodec) when that is smaller.
//!
//! A column is `codec u8, count varint, byte length varint, bytes`. Codec 0 is the
//! values as little-endian words; codec 1 is a pco "standalone" file, which picks
//! delta order, binning and float modes per column by itself. A reader knows from
//! the structure around it how many values a column must hold, and checks the
//! count before it allocates anything.

use pco::standalone::{simple_compress, simple_decompress_into};
use pco::ChunkConfig;

use crate::error::Corruption;
use crate::format::{corrupt, malformed, put_u8, put_varint, Reader, Res, MAX_COLUMN_VALUES};

/// Values stored as little-endian words.
pub(crate) const CODEC_RAW: u8 = 0;
/// Values compressed by pco.
pub(crate) const CODEC_PCO: u8 = 1;

/// Shorter columns are not worth pco's headers.
const MIN_PCO_VALUES: usize = 8;

/// A number a column can hold.
pub(crate) trait Value: pco::data_types::Number + Copy + Default {
    const SIZE: usize;
    fn put_le(self, out: &mut Vec<u8>);
    fn get_le(bytes: &[u8]) -> Self;
}

macro_rules! value {
    ($($t:ty),*) => {$(
        impl Value for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn put_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get_le(bytes: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(bytes);
                <$t>::from_le_bytes(a)
            }
        }
    )*};
}

value!(u32, u64, f64);

/// Appends `values` as a column and returns how many bytes that took.
pub(crate) fn put_column<T: Value>(out: &mut Vec<u8>, values: &[T], level: usize) -> usize {
    let start = out.len();
    let raw_len = values.len() * T::SIZE;
    let packed = (values.len() >= MIN_PCO_VALUES)
        .then(|| {
            simple_compress(
                values,
                &ChunkConfig::default().with_compression_level(level),
            )
        })
        .and_then(Result::ok)
        .filter(|p| p.len() < raw_len);
    match packed {
        Some(p) => {
            put_u8(out, CODEC_PCO);
            put_varint(out, values.len() as u64);
            put_varint(out, p.len() as u64);
            out.extend_from_slice(&p);
        }
        None => {
            put_u8(out, CODEC_RAW);
            put_varint(out, values.len() as u64);
            put_varint(out, raw_len as u64);
            out.reserve(raw_len);
            for v in values {
                v.put_le(out);
            }
        }
    }
    out.len() - start
}

/// Reads a column that must hold `expected` values (`None` when the structure
/// around it implies an impossible count, which is reported as such).
pub(crate) fn column<T: Value>(
    r: &mut Reader<'_>,
    name: &'static str,
    expected: Option<u64>,
) -> Res<Vec<T>> {
    let at = r.offset();
    let expected = match expected {
        Some(n) if n <= MAX_COLUMN_VALUES => n,
        _ => return Err(malformed(at, "column longer than a block may hold")),
    };
    let codec = r.u8()?;
    let count_at = r.offset();
    let count = r.varint()?;
    if count != expected {
        return Err(corrupt(
            count_at,
            Corruption::CountMismatch {
                what: name,
                expected,
                found: count,
            },
        ));
    }
    let len = r.count(r.remaining() as u64, "column longer than its block")?;
    let bytes_at = r.offset();
    let bytes = r.take(len)?;
    let n = expected as usize;
    match codec {
        CODEC_RAW => {
            if Some(len) != n.checked_mul(T::SIZE) {
                return Err(corrupt(
                    bytes_at,
                    Corruption::Column {
                        column: name,
                        detail: format!("{len} bytes cannot hold {n} raw values"),
                    },
                ));
            }
            Ok(bytes.chunks_exact(T::SIZE).map(T::get_le).collect())
        }
        CODEC_PCO => {
            let mut values = vec![T::default(); n];
            let bad = |detail: String| {
                corrupt(
                    bytes_at,
                    Corruption::Column {
                        column: name,
                        detail,
                    },
                )
            };
            let progress =
                simple_decompress_into(bytes, &mut values).map_err(|e| bad(e.to_string()))?;
            if progress.n_processed != n || !progress.finished {
                return Err(bad(format!(
                    "{} values decoded{}, {n} expected",
                    progress.n_processed,
                    if progress.finished {
                        ""
                    } else {
                        " and more left"
                    }
                )));
            }
            Ok(values)
        }
        _ => Err(malformed(at, "unknown column codec")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Bad;

    fn round_trip<T: Value + std::fmt::Debug>(values: &[T]) -> (Vec<T>, usize) {
        let mut buf = Vec::new();
        let len = put_column(&mut buf, values, 8);
        assert_eq!(len, buf.len());
        let mut r = Reader::new(&buf, 0);
        let back = column::<T>(&mut r, "test", Some(values.len() as u64)).unwrap();
        assert!(r.is_empty());
        (back, len)
    }

    #[test]
    fn integers_round_trip_and_compress() {
        let v: Vec<u64> = (0..10_000u64).map(|i| 1_000_000 + i * 7).collect();
        let (back, len) = round_trip(&v);
        assert_eq!(back, v);
        assert!(len < v.len(), "{len} bytes for {} values", v.len());
        let (back, _) = round_trip::<u32>(&[]);
        assert!(back.is_empty());
        let (back, _) = round_trip(&[u64::MAX, 0, 3]);
        assert_eq!(back, [u64::MAX, 0, 3]);
    }

    #[test]
    fn floats_round_trip_bit_for_bit() {
        let mut v: Vec<f64> = (0..1000).map(|i| (i as f64) * 0.1).collect();
        v.extend([
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff8_dead_beef_0001),
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            f64::MIN_POSITIVE / 3.0,
            f64::MAX,
            f64::MIN,
        ]);
        let (back, _) = round_trip(&v);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&v));
    }

    #[test]
    fn wrong_counts_and_garbage_are_errors() {
        let v: Vec<u64> = (0..100).collect();
        let mut buf = Vec::new();
        put_column(&mut buf, &v, 8);
        let mut r = Reader::new(&buf, 10);
        assert!(matches!(
            column::<u64>(&mut r, "c", Some(99)),
            Err(Bad::Corrupt {
                offset: 11,
                problem: Corruption::CountMismatch { .. }
            })
        ));
        let mut r = Reader::new(&buf, 0);
        assert!(column::<u64>(&mut r, "c", Some(MAX_COLUMN_VALUES + 1)).is_err());
        assert!(column::<u64>(&mut Reader::new(&buf, 0), "c", None).is_err());
        // Damage every byte of the pco payload in turn: an error or other values,
        // never a panic.
        for i in 3..buf.len() {
            let mut b = buf.clone();
            b[i] ^= 0x5a;
            let _ = column::<u64>(&mut Reader::new(&b, 0), "c", Some(100));
        }
    }
}
