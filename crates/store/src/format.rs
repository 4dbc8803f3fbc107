//! The file layout: header, checksummed blocks, trailer, and the little-endian
//! and LEB128 primitives they are made of. `docs/formats.md` ("Checkpoint
//! format") is the specification; this module is its one implementation.

use std::time::Duration;

use crate::error::Corruption;

/// First eight bytes of every checkpoint (PNG-style: a high byte, the name, and a
/// CR LF / ^Z / LF sequence that text-mode transfers would mangle).
pub const MAGIC: [u8; 8] = *b"\x89LMC\r\n\x1a\n";
/// First eight bytes of the trailer.
pub const TRAILER_MAGIC: [u8; 8] = *b"\x89LMCEND\n";
/// The format version this build writes; it reads this one and every one from
/// [`OLDEST_VERSION`] on.
pub const VERSION: u16 = 2;
/// The oldest format version this build reads (version 1: no native buckets).
pub const OLDEST_VERSION: u16 = 1;

/// Header: magic, version u16, flags u16, reserved u32, seq u64, taken_at u64, crc u32.
pub(crate) const HEADER_LEN: usize = 36;
/// Header flag: an interim checkpoint, taken while the process went on
/// recording and serving (so it may hold less than a scrape already saw).
/// Restoring one starts cumulative series afresh (`docs/formats.md`).
pub(crate) const FLAG_INTERIM: u16 = 1;
/// Every header flag this version defines.
pub(crate) const FLAGS_KNOWN: u16 = FLAG_INTERIM;
/// Block header: type u8, flags u8, reserved u16, index u32, payload length u32, crc u32.
pub(crate) const BLOCK_HEADER_LEN: usize = 16;
/// Trailer: magic, blocks u32, families u32, series u64, points u64, trailer offset
/// u64, crc u32.
pub(crate) const TRAILER_LEN: usize = 44;

/// A family's metadata; its series follow in series blocks.
pub(crate) const BLOCK_FAMILY: u8 = 1;
/// Up to a few thousand series of the family before it, column by column.
pub(crate) const BLOCK_SERIES: u8 = 2;

/// Largest payload a block may declare (writers stay far below: see
/// [`BLOCK_VALUES`]); bounds what a damaged length can make a reader do.
pub(crate) const MAX_BLOCK_BYTES: u32 = 1 << 28;
/// Most values a writer puts in one series block before starting another.
pub(crate) const BLOCK_VALUES: usize = 1 << 20;
/// Most series a writer puts in one series block.
pub(crate) const BLOCK_SERIES_MAX: usize = 1 << 14;
/// Most values a reader accepts in one column (one series may pass
/// [`BLOCK_VALUES`] alone, but never this): bounds the memory a damaged count
/// can make a reader allocate.
pub(crate) const MAX_COLUMN_VALUES: u64 = 1 << 24;

/// Where in a file something is wrong, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bad {
    Corrupt { offset: u64, problem: Corruption },
    Version(u16),
}

pub(crate) type Res<T> = std::result::Result<T, Bad>;

pub(crate) fn corrupt(offset: u64, problem: Corruption) -> Bad {
    Bad::Corrupt { offset, problem }
}

pub(crate) fn malformed(offset: u64, what: &'static str) -> Bad {
    corrupt(offset, Corruption::Malformed { what })
}

pub(crate) fn crc32(parts: &[&[u8]]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for p in parts {
        h.update(p);
    }
    h.finalize()
}

// ------------------------------------------------------------------------------
// Writing

pub(crate) fn put_u8(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_f64(out: &mut Vec<u8>, v: f64) {
    put_u64(out, v.to_bits());
}

/// Unsigned LEB128.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

pub(crate) fn put_duration(out: &mut Vec<u8>, d: Duration) {
    put_u64(out, d.as_secs());
    put_u32(out, d.subsec_nanos());
}

pub(crate) fn header(seq: u64, taken_at: u64, flags: u16) -> [u8; HEADER_LEN] {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(&MAGIC);
    put_u16(&mut h, VERSION);
    put_u16(&mut h, flags);
    put_u32(&mut h, 0);
    put_u64(&mut h, seq);
    put_u64(&mut h, taken_at);
    let crc = crc32(&[&h]);
    put_u32(&mut h, crc);
    let mut out = [0u8; HEADER_LEN];
    out.copy_from_slice(&h);
    out
}

pub(crate) fn block_header(kind: u8, index: u32, payload: &[u8]) -> [u8; BLOCK_HEADER_LEN] {
    let mut h = [0u8; BLOCK_HEADER_LEN];
    h[0] = kind;
    h[4..8].copy_from_slice(&index.to_le_bytes());
    h[8..12].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    let crc = crc32(&[&h[..12], payload]);
    h[12..16].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Totals the trailer repeats, so a reader can tell a complete file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub blocks: u32,
    pub families: u32,
    pub series: u64,
    pub points: u64,
}

pub(crate) fn trailer(t: Totals, offset: u64) -> [u8; TRAILER_LEN] {
    let mut h = Vec::with_capacity(TRAILER_LEN);
    h.extend_from_slice(&TRAILER_MAGIC);
    put_u32(&mut h, t.blocks);
    put_u32(&mut h, t.families);
    put_u64(&mut h, t.series);
    put_u64(&mut h, t.points);
    put_u64(&mut h, offset);
    let crc = crc32(&[&h]);
    put_u32(&mut h, crc);
    let mut out = [0u8; TRAILER_LEN];
    out.copy_from_slice(&h);
    out
}

// ------------------------------------------------------------------------------
// Reading

/// A bounds-checked little-endian reader over part of a file; every error names
/// the file offset it was found at.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// File offset of `buf[0]`.
    base: u64,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], base: u64) -> Reader<'a> {
        Reader { buf, pos: 0, base }
    }

    /// The file offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub(crate) fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        match self.buf.get(self.pos..self.pos.saturating_add(n)) {
            Some(s) if n <= self.remaining() => {
                self.pos += n;
                Ok(s)
            }
            _ => Err(corrupt(
                self.offset(),
                Corruption::Truncated {
                    needed: n as u64,
                    available: self.remaining() as u64,
                },
            )),
        }
    }

    fn array<const N: usize>(&mut self) -> Res<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Res<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Res<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Res<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Res<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn f64(&mut self) -> Res<f64> {
        Ok(f64::from_bits(self.u64()?))
    }

    /// Unsigned LEB128, at most ten bytes, no bits past 64.
    pub(crate) fn varint(&mut self) -> Res<u64> {
        let at = self.offset();
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            if i == 9 && b > 1 {
                return Err(malformed(at, "varint exceeds 64 bits"));
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(malformed(at, "varint longer than ten bytes"))
    }

    /// A varint that must be at most `max`; `what` names it in the error.
    pub(crate) fn count(&mut self, max: u64, what: &'static str) -> Res<usize> {
        let at = self.offset();
        let v = self.varint()?;
        if v > max {
            return Err(malformed(at, what));
        }
        usize::try_from(v).map_err(|_| malformed(at, what))
    }

    pub(crate) fn str(&mut self) -> Res<&'a str> {
        let at = self.offset();
        let len = self.count(self.remaining() as u64, "string longer than its block")?;
        std::str::from_utf8(self.take(len)?).map_err(|_| malformed(at, "string is not UTF-8"))
    }

    pub(crate) fn duration(&mut self) -> Res<Duration> {
        let at = self.offset();
        let secs = self.u64()?;
        let nanos = self.u32()?;
        if nanos >= 1_000_000_000 {
            return Err(malformed(at, "duration nanoseconds out of range"));
        }
        Ok(Duration::new(secs, nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_reject_overlong() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX - 1, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut r = Reader::new(&b, 0);
            assert_eq!(r.varint(), Ok(v));
            assert!(r.is_empty());
        }
        let mut r = Reader::new(&[0xff; 11], 7);
        assert!(matches!(r.varint(), Err(Bad::Corrupt { offset: 7, .. })));
        let mut r = Reader::new(&[0x80], 3);
        assert!(matches!(
            r.varint(),
            Err(Bad::Corrupt {
                offset: 4,
                problem: Corruption::Truncated { .. }
            })
        ));
    }

    #[test]
    fn take_reports_the_offset_and_what_is_missing() {
        let mut r = Reader::new(&[1, 2, 3], 100);
        assert_eq!(r.u16(), Ok(0x0201));
        assert_eq!(
            r.u32(),
            Err(corrupt(
                102,
                Corruption::Truncated {
                    needed: 4,
                    available: 1
                }
            ))
        );
        assert!(r.take(usize::MAX).is_err());
    }
}
