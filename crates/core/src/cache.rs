//! A per-thread cache in front of the registry's index, for labeled lookups.
//!
//! Call sites usually pass the same string literals and label arrays every time,
//! so a small direct-mapped cache keyed by the *addresses* of the name and the
//! label slice finds the series without hashing the strings or taking the index
//! shard's lock. Addresses are only a hint: a hit is confirmed by comparing the
//! contents, so a reused buffer at the same address holding other text misses.
//!
//! Entries hold the series like a handle would, so a cached series is not
//! reclaimed while idle; at most [`SLOTS`] series per thread are held that way,
//! and a thread's entries go when the thread ends.

use std::cell::RefCell;

use crate::family::AnySeries;
use crate::Sym;

/// Entries per thread.
pub(crate) const SLOTS: usize = 64;

struct Entry {
    registry: u64,
    name_addr: usize,
    name_len: usize,
    labels_addr: usize,
    labels_len: usize,
    /// Whether a `'static` call site put this entry: then its addresses alone
    /// identify it (see [`with_static`]).
    is_static: bool,
    /// The family name, to confirm the name's contents.
    name: Sym,
    series: AnySeries,
}

thread_local! {
    static CACHE: RefCell<[Option<Entry>; SLOTS]> = const { RefCell::new([const { None }; SLOTS]) };
}

#[inline]
fn slot(name: &str, labels: &[(&str, &str)]) -> usize {
    let a = (name.as_ptr() as usize as u64) ^ (labels.as_ptr() as usize as u64).rotate_left(21);
    (a.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize % SLOTS
}

/// Equality of short strings without a `memcmp` call: the length, then two
/// overlapping words, or two overlapping half-words, or the first, middle and
/// last bytes, which together cover every byte.
#[inline]
pub(crate) fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    fn word<const N: usize>(s: &[u8], i: usize) -> [u8; N] {
        let mut x = [0u8; N];
        x.copy_from_slice(&s[i..i + N]);
        x
    }
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, n - 4) == word::<4>(b, n - 4),
        8..=16 => word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, n - 8) == word::<8>(b, n - 8),
        _ => a == b,
    }
}

/// Whether stored labels (sorted by name) equal the borrowed ones, given in any
/// order; positional first, since callers usually pass them sorted.
#[inline]
pub(crate) fn labels_match(ours: &[(Sym, Sym)], theirs: &[(&str, &str)]) -> bool {
    if ours.len() != theirs.len() {
        return false;
    }
    let mut positional = true;
    for ((k, v), (lk, lv)) in ours.iter().zip(theirs) {
        if !(str_eq(k, lk) && str_eq(v, lv)) {
            positional = false;
            break;
        }
    }
    positional
        || ours
            .iter()
            .all(|(k, v)| theirs.iter().any(|(lk, lv)| str_eq(k, lk) && str_eq(v, lv)))
}

/// Runs `hit` on the entry in this call site's slot, if there is one.
#[inline]
fn probe<R>(
    name: &str,
    labels: &[(&str, &str)],
    hit: impl FnOnce(&Entry) -> Option<R>,
) -> Option<R> {
    CACHE
        .try_with(|c| {
            let c = c.try_borrow().ok()?;
            hit(c.get(slot(name, labels))?.as_ref()?)
        })
        .ok()
        .flatten()
}

impl Entry {
    /// Whether the entry is this registry's and was put for these addresses.
    #[inline]
    fn same_site(&self, registry: u64, name: &str, labels: &[(&str, &str)]) -> bool {
        self.registry == registry
            && self.name_addr == name.as_ptr() as usize
            && self.name_len == name.len()
            && self.labels_addr == labels.as_ptr() as usize
            && self.labels_len == labels.len()
    }
}

/// Calls `f` with the cached series for this call site, if it matches.
#[inline]
pub(crate) fn with<R>(
    registry: u64,
    name: &str,
    labels: &[(&str, &str)],
    f: impl FnOnce(&AnySeries) -> R,
) -> Option<R> {
    probe(name, labels, |e| {
        let hit = e.same_site(registry, name, labels)
            && str_eq(&e.name, name)
            && labels_match(e.series.labels(), labels);
        hit.then(|| f(&e.series))
    })
}

/// Calls `f` with the cached series of a `'static` call site, identified by
/// addresses and lengths alone.
///
/// Sound because memory behind a `'static` shared reference never changes and is
/// never freed: the same address and length always hold the same text, and a
/// `'static` slice always holds the same label pairs. Only entries put by a
/// `'static` call site are trusted this way; an entry put by a borrowed call could
/// name a buffer since freed and reused (even leaked into a `'static`) with other
/// text.
#[inline]
pub(crate) fn with_static<R>(
    registry: u64,
    name: &'static str,
    labels: &'static [(&'static str, &'static str)],
    f: impl FnOnce(&AnySeries) -> R,
) -> Option<R> {
    probe(name, labels, |e| {
        (e.is_static && e.same_site(registry, name, labels)).then(|| f(&e.series))
    })
}

/// Remembers where this call site's series is.
#[cold]
pub(crate) fn put(
    registry: u64,
    name: &Sym,
    name_arg: &str,
    labels: &[(&str, &str)],
    s: &AnySeries,
    is_static: bool,
) {
    let _ = CACHE.try_with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            c[slot(name_arg, labels)] = Some(Entry {
                registry,
                name_addr: name_arg.as_ptr() as usize,
                name_len: name_arg.len(),
                labels_addr: labels.as_ptr() as usize,
                labels_len: labels.len(),
                is_static,
                name: name.clone(),
                series: s.clone(),
            });
        }
    });
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn short_string_equality() {
        let same = [
            "",
            "a",
            "ab",
            "csv",
            "json",
            "handler",
            "requests",
            "ingest_batch_sec",
            "a much longer string than sixteen",
        ];
        for a in same {
            let copy = String::from(a);
            assert!(str_eq(a, copy.as_str()));
        }
        for (a, b) in [
            ("a", "b"),
            ("ab", "ac"),
            ("csv", "cxv"),
            ("json", "jsoN"),
            ("handler", "hanDler"),
            ("requestx", "requests"),
            ("ingest_batch_sec", "ingest_batcX_sec"),
            ("ab", "abc"),
            (
                "a much longer string than sixteen",
                "a much longer string than sixteeN",
            ),
        ] {
            assert!(!str_eq(a, b), "{a} {b}");
        }
    }
}
