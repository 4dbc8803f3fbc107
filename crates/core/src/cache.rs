//! A per-thread cache in front of the registry's index, for labeled lookups.
//!
//! Call sites usually pass the same string literals and label arrays every time,
//! so a small direct-mapped cache keyed by the *addresses* of the name and the
//! label slice finds the series without hashing the strings or taking the index
//! shard's lock. Addresses are only a hint: a hit is confirmed by comparing the
//! contents, so a reused buffer at the same address holding other text misses.
//!
//! Entries hold the series like a handle would, so a cached series is not
//! reclaimed while idle; at most [`SLOTS`] series per thread and registry are held
//! that way.
//!
//! # Who owns the entries
//!
//! Each registry owns its threads' entries: a [`ThreadLocal`] holds one array of
//! slots per thread that looked something up in it. Dropping the registry drops
//! every thread's entries right there, on the dropping thread, including those of
//! threads that never run again (parked, blocked in a syscall, idle in a pool). A
//! thread that ends clears its entries in every live registry it filled, from a
//! thread-local destructor of its own ([`Exit`]).
//!
//! The alternatives, and why not:
//!
//! - Entries in a plain `thread_local!` (as before) outlive their registry: a
//!   thread that never looks anything up again keeps up to 64 series alive (3 MB
//!   of summaries) after the registry is gone, and no other thread can reach its
//!   thread-local storage to release them.
//! - Entries holding a `Weak` to the series: every hit would `upgrade` and drop a
//!   strong reference, two atomic read-modify-writes on the series' shared
//!   reference count (about 20 ns here, more when threads hit the same series):
//!   the cost the `with_*` lookups exist to avoid.
//! - A global "registries dropped" generation checked on every access, clearing
//!   stale entries lazily: releases nothing on threads that never access the
//!   cache again, which are exactly the ones that pin memory.
//! - Thread caches behind `Arc<Mutex<...>>` that the registry keeps a list of
//!   and clears on drop: a lock and unlock per hit (about 14 ns here against a
//!   7 ns `with_counter_static`).
//!
//! `ThreadLocal::get` is no read-modify-write either: a call that reads this
//! thread's id from an ordinary thread-local (`thread_local`'s accessor, which
//! is not inlined across crates without LTO), a load of the bucket and of the
//! entry, one more for the box. Measured against the `thread_local!` cache
//! (`labeled_lookup_inc` in `benches/benches/record.rs`, medians of three
//! interleaved runs): `counter()` 21.3 -> 22.1 ns, `with_counter` 13.5 -> 14.2 ns,
//! `with_counter_static` 7.7 -> 7.8 ns. Since then a thread remembers the cache
//! it probed last and its slots there in a native thread-local ([`LAST`], keyed
//! by a number unique to each cache), so a thread that keeps probing one
//! registry skips `ThreadLocal::get` altogether: `with_counter` 24.3 -> 21.5 ns,
//! `with_counter_static` 18.9 -> 17.0 ns on the shared VM (`docs/benchmarks.md`,
//! branch `lookup`). Filling needs `ThreadLocal::get_or`, which gives the thread an id if it has none
//! and would panic if `thread_local`'s own destructor already ran on this thread
//! (a lookup from another thread-local destructor during thread teardown); see
//! [`LookupCache::slots`] for how that is avoided.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Weak;

use thread_local::ThreadLocal;

use crate::family::AnySeries;
use crate::rodata;
use crate::Sym;

/// Entries per thread (and registry).
pub(crate) const SLOTS: usize = 64;

struct Entry {
    name_addr: usize,
    name_len: usize,
    labels_addr: usize,
    labels_len: usize,
    /// Whether a `'static` call site put this entry: then its addresses alone
    /// identify it (see [`LookupCache::with_static`]).
    is_static: bool,
    /// How a hit at these addresses is confirmed (for a borrowed call site).
    confirm: Confirm,
    /// The family name, to confirm the name's contents.
    name: Sym,
    series: AnySeries,
}

/// Bytes of a call site's text (its name and label strings) an entry keeps.
const TEXT_BYTES: usize = 64;
/// Label pairs an entry's text holds at most.
const TEXT_PAIRS: usize = 3;

/// How a cache hit is confirmed.
enum Confirm {
    /// Every string of the call site lies in memory that never changes (see
    /// [`rodata`](crate::rodata)): the same addresses and lengths mean the same
    /// text. The name's were checked with the entry's addresses; these are the
    /// label pairs' names and values.
    Addresses([(usize, usize); 2 * TEXT_PAIRS]),
    /// A copy of the text, compared byte for byte.
    Text(Text),
    /// The series' own (interned) strings, for a call site whose text does not
    /// fit (or a `'static` one, which never needs confirming).
    Series,
}

impl Confirm {
    /// How to confirm hits of this call site later.
    fn new(name: &str, labels: &[(&str, &str)]) -> Confirm {
        if labels.len() <= TEXT_PAIRS
            && rodata::immutable(name)
            && labels
                .iter()
                .all(|(k, v)| rodata::immutable(k) && rodata::immutable(v))
        {
            let mut at = [(0, 0); 2 * TEXT_PAIRS];
            for (j, (k, v)) in labels.iter().enumerate() {
                at[2 * j] = (k.as_ptr() as usize, k.len());
                at[2 * j + 1] = (v.as_ptr() as usize, v.len());
            }
            return Confirm::Addresses(at);
        }
        Text::new(name, labels).map_or(Confirm::Series, Confirm::Text)
    }
}

/// Whether the label strings sit at `at` (see [`Confirm::Addresses`]). The caller
/// has checked that `labels` has as many pairs as were stored. No branch per
/// string: the compares of all pairs are combined.
#[inline(always)]
fn same_addresses(at: &[(usize, usize); 2 * TEXT_PAIRS], labels: &[(&str, &str)]) -> bool {
    labels
        .iter()
        .zip(at.chunks_exact(2))
        .fold(true, |same, ((k, v), at)| {
            same & (k.as_ptr() as usize == at[0].0)
                & (k.len() == at[0].1)
                & (v.as_ptr() as usize == at[1].0)
                & (v.len() == at[1].1)
        })
}

/// A copy of a call site's name and label strings, in its order, back to back,
/// with where each one is: a hit is confirmed against these bytes, beside the
/// entry's addresses, instead of following the series to its interned strings
/// (four dependent loads per string: series, label pairs, string, bytes).
struct Text {
    /// Offset and length in `bytes` of the name, then of each pair's name and
    /// value.
    spans: [(u8, u8); 1 + 2 * TEXT_PAIRS],
    bytes: [u8; TEXT_BYTES],
}

impl Text {
    /// The copy of `name{labels}`, if it fits.
    fn new(name: &str, labels: &[(&str, &str)]) -> Option<Text> {
        if labels.len() > TEXT_PAIRS {
            return None;
        }
        let mut t = Text {
            spans: [(0, 0); 1 + 2 * TEXT_PAIRS],
            bytes: [0; TEXT_BYTES],
        };
        let mut at = 0;
        let strings = std::iter::once(name).chain(labels.iter().flat_map(|(k, v)| [*k, *v]));
        for (i, s) in strings.enumerate() {
            let end = at + s.len();
            t.bytes.get_mut(at..end)?.copy_from_slice(s.as_bytes());
            *t.spans.get_mut(i)? = (u8::try_from(at).ok()?, u8::try_from(s.len()).ok()?);
            at = end;
        }
        Some(t)
    }

    /// Whether string `i` of the copy is `s`.
    #[inline(always)]
    fn is(&self, i: usize, s: &str) -> bool {
        let (at, n) = self.spans[i];
        let (at, n) = (at as usize, n as usize);
        s.len() == n
            && self
                .bytes
                .get(at..at + n)
                .is_some_and(|b| bytes_eq(b, s.as_bytes()))
    }

    /// Whether `name{labels}` is this text, pair for pair in the same order.
    /// The caller has checked that `labels` has as many pairs as the copy.
    #[inline(always)]
    fn matches(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.is(0, name)
            && labels
                .iter()
                .take(TEXT_PAIRS)
                .enumerate()
                .all(|(j, (k, v))| self.is(1 + 2 * j, k) && self.is(2 + 2 * j, v))
    }
}

/// One thread's entries in one registry.
struct Slots {
    entries: RefCell<[Option<Entry>; SLOTS]>,
    /// Serial of the thread whose [`Exit`] will clear these entries (0: none).
    /// `thread_local` reuses the ids of ended threads, so a new thread can inherit
    /// the slots of one that ended before clearing them; it registers anew.
    owner: Cell<u64>,
}

/// A registry's lookup cache: a set of slots per thread, dropped with it.
pub(crate) struct LookupCache {
    /// Boxed so that `ThreadLocal`'s buckets (sized by thread id, 2^k entries at a
    /// time) hold pointers, not 10.5 KB arrays for threads that never come here
    /// (and so that a thread's slots never move: [`LAST`] points at them).
    threads: ThreadLocal<Box<Slots>>,
    /// This cache's number, unique in the process (never 0), for [`LAST`].
    id: u64,
}

impl Default for LookupCache {
    fn default() -> Self {
        // Relaxed: only uniqueness matters. A u64 bumped once per registry does
        // not wrap.
        let id = NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed);
        LookupCache {
            threads: ThreadLocal::new(),
            id,
        }
    }
}

/// Numbers of lookup caches; 0 means none.
static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(1);

/// The owner of a lookup cache (a registry), as a thread's [`Exit`] holds it.
pub(crate) type Owner = Weak<dyn AsRef<LookupCache> + Send + Sync>;

/// `LIVE.get()` is `Some` exactly while this thread has a `thread_local` id (once
/// the thread has been through [`LookupCache::slots`]).
static LIVE: ThreadLocal<()> = ThreadLocal::new();

/// Serials of threads that filled a cache; 0 means none yet.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's serial (0 until it first fills a cache). No destructor, so
    /// it stays readable while the thread's other thread-locals are destroyed.
    static SERIAL: Cell<u64> = const { Cell::new(0) };
    /// The cache this thread probed last (its `id`) and this thread's slots in
    /// it: a hit skips `ThreadLocal::get` (a call to `thread_local`'s thread-id
    /// accessor, then the bucket, the entry's presence flag and the box, all
    /// dependent loads) for one compare of a native thread-local. No destructor,
    /// so never inaccessible. See [`LookupCache::this_thread`] for why it is sound.
    static LAST: Cell<(u64, *const Slots)> = const { Cell::new((0, std::ptr::null())) };
    static EXIT: Exit = const { Exit { owners: RefCell::new(Vec::new()) } };
}

/// Clears, when its thread ends, the thread's entries in every registry it
/// filled that is still alive (the others took their entries with them).
struct Exit {
    owners: RefCell<Vec<Owner>>,
}

impl Drop for Exit {
    fn drop(&mut self) {
        // From here on, lookups on this thread go through `ThreadLocal::get`
        // (see `LookupCache::this_thread`).
        let _ = LAST.try_with(|l| l.set((0, std::ptr::null())));
        let serial = SERIAL.with(Cell::get);
        for owner in self.owners.get_mut().drain(..) {
            if let Some(owner) = owner.upgrade() {
                (*owner).as_ref().release_this_thread(serial);
            }
        }
    }
}

#[inline]
fn slot(name: &str, labels: &[(&str, &str)]) -> usize {
    let a = (name.as_ptr() as usize as u64) ^ (labels.as_ptr() as usize as u64).rotate_left(21);
    (a.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize % SLOTS
}

/// Equality of short strings without a `memcmp` call (see [`bytes_eq`]).
#[inline(always)]
pub(crate) fn str_eq(a: &str, b: &str) -> bool {
    bytes_eq(a.as_bytes(), b.as_bytes())
}

/// Equality of short byte strings without a `memcmp` call: the length, then two
/// overlapping words, or two overlapping half-words, or the first, middle and
/// last bytes, which together cover every byte. Always inlined: a lookup calls
/// it once per string, and a call costs more than the compare.
#[inline(always)]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
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

impl Entry {
    /// Whether the entry was put for these addresses.
    #[inline]
    fn same_site(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.name_addr == name.as_ptr() as usize
            && self.name_len == name.len()
            && self.labels_addr == labels.as_ptr() as usize
            && self.labels_len == labels.len()
    }
}

impl LookupCache {
    /// Runs `hit` on the entry in this call site's slot, if there is one.
    #[inline]
    fn probe<R>(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        hit: impl FnOnce(&Entry) -> Option<R>,
    ) -> Option<R> {
        let slots = self.this_thread()?;
        let entries = slots.entries.try_borrow().ok()?;
        hit(entries.get(slot(name, labels))?.as_ref()?)
    }

    /// This thread's slots, if it has any: through [`LAST`] when this cache was
    /// the last this thread probed, else through `ThreadLocal::get` (`get`, not
    /// `get_or`: never gives the thread an id, so never panics), then noted in
    /// [`LAST`].
    #[inline]
    #[allow(unsafe_code)]
    fn this_thread(&self) -> Option<&Slots> {
        if let Ok((id, at)) = LAST.try_with(Cell::get) {
            if id == self.id {
                // SAFETY: this thread stored `(self.id, at)` below, with `at`
                // from `self.threads.get()`: this thread's boxed slots in this
                // cache, which this thread owns (its `Exit` registered). Ids are
                // unique in the process, so `id == self.id` means that cache is
                // `self`, which is alive while `&self` is, and `ThreadLocal` frees
                // its boxes only when it is dropped (a release clears the entries
                // in place): the box is still there. Only this thread uses it:
                // `LAST` is cleared by this thread's `Exit` before the thread
                // gives up its `thread_local` id (see below), and a thread that
                // takes over the id of an ended one starts with `LAST` empty.
                return Some(unsafe { &*at });
            }
        }
        let slots: &Slots = self.threads.get()?;
        // Only slots this thread's `Exit` will release: `Exit` was registered
        // after `thread_local`'s own id guard (the thread took its id first), so
        // under the last-registered-first-run order of thread-local destructors
        // (glibc's and std's) its drop clears `LAST` before the thread gives its
        // id back, after which another thread may be handed these slots.
        let serial = SERIAL.with(Cell::get);
        if serial != 0 && slots.owner.get() == serial {
            let _ = LAST.try_with(|l| l.set((self.id, slots as *const Slots)));
        }
        Some(slots)
    }

    /// Calls `f` with the cached series for this call site, if it matches.
    #[inline]
    pub(crate) fn with<R>(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        f: impl FnOnce(&AnySeries) -> R,
    ) -> Option<R> {
        self.probe(name, labels, |e| {
            let hit = e.same_site(name, labels)
                && match &e.confirm {
                    Confirm::Addresses(at) => same_addresses(at, labels),
                    // The copy is in the call site's order: a slice reordered in
                    // place misses here and is found again through the index.
                    Confirm::Text(text) => text.matches(name, labels),
                    Confirm::Series => {
                        str_eq(&e.name, name) && labels_match(e.series.labels(), labels)
                    }
                };
            hit.then(|| f(&e.series))
        })
    }

    /// Calls `f` with the cached series of a `'static` call site, identified by
    /// addresses and lengths alone.
    ///
    /// Sound because memory behind a `'static` shared reference never changes and
    /// is never freed: the same address and length always hold the same text, and
    /// a `'static` slice always holds the same label pairs. Only entries put by a
    /// `'static` call site are trusted this way; an entry put by a borrowed call
    /// could name a buffer since freed and reused (even leaked into a `'static`)
    /// with other text.
    #[inline]
    pub(crate) fn with_static<R>(
        &self,
        name: &'static str,
        labels: &'static [(&'static str, &'static str)],
        f: impl FnOnce(&AnySeries) -> R,
    ) -> Option<R> {
        self.probe(name, labels, |e| {
            (e.is_static && e.same_site(name, labels)).then(|| f(&e.series))
        })
    }

    /// Remembers where this call site's series is. `owner` is the registry, for
    /// this thread's [`Exit`] to reach these entries when the thread ends.
    #[cold]
    pub(crate) fn put(
        &self,
        owner: impl FnOnce() -> Owner,
        name: &Sym,
        name_arg: &str,
        labels: &[(&str, &str)],
        s: &AnySeries,
        is_static: bool,
    ) {
        let Some(slots) = self.slots() else { return };
        let serial = SERIAL.with(Cell::get);
        if slots.owner.get() != serial {
            // This thread's first fill here (or it took the id of an ended thread
            // whose slots these were): have its `Exit` clear them. Registered after
            // `thread_local`'s own guard, so on the usual last-registered-first-run
            // order of thread-local destructors ours runs while the thread still
            // has its id; if not, the entries wait for the registry's drop or for
            // the next thread given this id.
            let registered = EXIT
                .try_with(|exit| {
                    let Ok(mut owners) = exit.owners.try_borrow_mut() else {
                        return false;
                    };
                    if owners.len() == owners.capacity() {
                        // Forget dropped registries before growing, so a thread
                        // that outlives many registries holds O(live) of them.
                        owners.retain(|o| o.strong_count() > 0);
                    }
                    owners.push(owner());
                    true
                })
                .unwrap_or(false);
            if !registered {
                // Being torn down: nothing would clear an entry put now.
                return;
            }
            slots.owner.set(serial);
        }
        if let Ok(mut entries) = slots.entries.try_borrow_mut() {
            let old = entries[slot(name_arg, labels)].replace(Entry {
                name_addr: name_arg.as_ptr() as usize,
                name_len: name_arg.len(),
                labels_addr: labels.as_ptr() as usize,
                labels_len: labels.len(),
                is_static,
                // A `'static` entry is confirmed by its addresses alone.
                confirm: if is_static {
                    Confirm::Series
                } else {
                    Confirm::new(name_arg, labels)
                },
                name: name.clone(),
                series: s.clone(),
            });
            drop(entries);
            // Dropped outside the borrow: a series' drop must not find it held.
            drop(old);
        }
    }

    /// This thread's slots, created if it has none; `None` while the thread is
    /// being torn down.
    ///
    /// `ThreadLocal::get_or` gives a thread without a `thread_local` id a new one,
    /// which panics (`thread_local` issue #74) if `thread_local`'s destructor
    /// already ran on this thread. `get` never does. A thread that has a serial
    /// got an id when it took it (through `LIVE`); if `LIVE` no longer sees that
    /// id, the thread lost it to teardown, and we cache nothing. A thread without a
    /// serial takes an id here: the one case left is a thread whose very first
    /// cache fill comes from a thread-local destructor after `thread_local`'s own
    /// has run, which needs another user of `thread_local` on that thread.
    ///
    /// For that last case, the calls that can take an id run under
    /// `catch_unwind`: should one panic, the lookup simply goes uncached, instead
    /// of the panic unwinding out of a thread-local destructor (which aborts).
    fn slots(&self) -> Option<&Slots> {
        if let Some(slots) = self.threads.get() {
            return Some(slots);
        }
        if SERIAL.with(Cell::get) == 0 {
            let took_id =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| LIVE.get_or(|| ())));
            took_id.ok()?;
            // Relaxed: only uniqueness matters.
            let serial = NEXT_SERIAL.fetch_add(1, Ordering::Relaxed);
            SERIAL.with(|s| s.set(serial));
        } else if LIVE.get().is_none() {
            return None;
        }
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.threads.get_or(|| {
                Box::new(Slots {
                    entries: RefCell::new([const { None }; SLOTS]),
                    owner: Cell::new(0),
                })
            });
        }))
        .ok()?;
        self.threads.get().map(|b| &**b)
    }

    /// Drops this thread's entries, if this thread's serial put them.
    fn release_this_thread(&self, serial: u64) {
        let Some(slots) = self.threads.get() else {
            return;
        };
        if slots.owner.get() != serial {
            return;
        }
        let Ok(mut entries) = slots.entries.try_borrow_mut() else {
            return;
        };
        let old = std::mem::replace(&mut *entries, [const { None }; SLOTS]);
        drop(entries);
        slots.owner.set(0);
        drop(old);
    }
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

    #[test]
    fn text_copies_confirm_only_the_same_strings_in_the_same_order() {
        let labels = [("handler", "csv"), ("status", "ok")];
        let t = Text::new("requests", &labels).unwrap();
        assert!(t.matches("requests", &labels));
        // Each string differing in one byte, or in its length, or moved.
        assert!(!t.matches("requestz", &labels));
        assert!(!t.matches("request", &labels));
        assert!(!t.matches("requests", &[("handler", "csv"), ("status", "oK")]));
        assert!(!t.matches("requests", &[("handler", "cs"), ("status", "ok")]));
        assert!(!t.matches("requests", &[("handlerc", "sv"), ("status", "ok")]));
        assert!(!t.matches("requests", &[("status", "ok"), ("handler", "csv")]));
        // Empty strings and no labels.
        assert!(Text::new("m", &[]).unwrap().matches("m", &[]));
        let e = Text::new("m", &[("a", "")]).unwrap();
        assert!(e.matches("m", &[("a", "")]));
        assert!(!e.matches("m", &[("", "a")]));
    }

    #[test]
    fn text_copies_only_what_fits() {
        let long = "x".repeat(TEXT_BYTES + 1);
        assert!(Text::new(&long, &[]).is_none());
        assert!(Text::new(&long[1..], &[]).is_some());
        assert!(Text::new("m", &[("a", &long[3..])]).is_some());
        assert!(Text::new("m", &[("a", &long[2..])]).is_none());
        assert!(Text::new("m", &[("a", "1"), ("b", "2"), ("c", "3")]).is_some());
        assert!(Text::new("m", &[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]).is_none());
    }

    #[test]
    fn a_thread_s_slots_stay_small() {
        // The figure the docs give (docs/architecture.md, `Registry::memory_bytes`).
        let bytes = std::mem::size_of::<[Option<Entry>; SLOTS]>();
        assert_eq!(bytes, 64 * 168, "{bytes}");
    }
}
