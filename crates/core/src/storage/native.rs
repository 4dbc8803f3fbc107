//! Native (exponential) histograms: sparse buckets of [`crate::native_index`] in
//! a fixed table of atomic words, a zero bucket, a schema that halves its
//! resolution when the buckets outgrow their limit, and per epoch of the ring the
//! epoch's per-bucket increases, written when it closes into the shared sparse
//! bins (see [`super::bins`]) at a schema of its own.
//!
//! A native histogram lives beside a classic histogram's state (a native-only
//! histogram is a classic one with only the `+Inf` bucket): the classic part
//! keeps the exact count and sum; this part keeps the buckets.
//!
//! # The bucket table
//!
//! One `AtomicU64` per entry, open-addressed (linear probing from a hash of the
//! key), capacity fixed at creation: the smallest power of two above 1.5 times
//! the bucket limit. An entry is `0` (free) or
//! `schema + 5` (4 bits) | negative (1) | index + 2^19 (20) | count (39):
//! one word, so a count can never be attached to the wrong bucket, and every
//! change is one compare-and-swap (no ABA: the word is the whole entry).
//!
//! * **Record** (a writer): load the schema word (Relaxed: any schema at or
//!   above the current one is correct, readers merge finer entries down), compute
//!   the key, probe: an entry holding the key (with room in its count) gets `+1`,
//!   the first free entry is claimed as `(key, 1)`. An entry is only ever freed by
//!   a migration, so a probe may pass a bucket's entry and claim a second one for
//!   the same key: readers add them. A count that would pass 2^39 - 1 takes a
//!   second entry the same way.
//! * **Reduce** (halve the resolution): a writer whose claim makes the entries in
//!   use exceed the limit CASes the schema word from `(v, s)` (v even) to
//!   `(v+1, s-1)`; the one that wins migrates: every entry of a finer schema is
//!   freed by a CAS (which takes its count exactly, racing increments included)
//!   and its count added to the entry of `ceil(i / 2^d)` at the new schema; then it
//!   stores `(v+2, s-1)`. Writers never wait: one that loaded the old schema
//!   records at it, and its entry is merged down by readers (and by the next
//!   reduction). The schema stops at -4; a table that is still full then files an
//!   observation in the nearest bucket of its sign that has an entry (counts stay
//!   exact; only its place is approximate), or the zero bucket if none.
//! * **Read** (a seqlock, as in [`super::seqlock`]): `t1` = schema word
//!   (Acquire; odd: a migration or a close runs, retry), the entries (Acquire), `t2`
//!   (Relaxed): the copy is taken iff `t1 == t2`. A copy that saw any write of a
//!   migration synchronizes with it (Release), so the odd word that migration
//!   stored before it is visible to `t2` and the copy is thrown away; a reader
//!   never sees a bucket moved twice or not at all. Entries are merged down to the
//!   coarsest schema among `t1` and the entries.
//!
//! # History
//!
//! An observation costs what it costs without history, plus the head check:
//! the epoch's per-bucket increases are written when it closes, as classic
//! histograms do (see [`super::histogram`]). With history the table has a
//! second part: per entry its *base*, its count when the open epoch started
//! (its low 32 bits, two a word; `zero_base` for the zero bucket), and `open`
//! names that epoch.
//!
//! * **Close** (the writer that starts an epoch): a writer whose clock is past
//!   the head takes the schema word as a migration does (`(v, s)` to `(v+1, s)`
//!   by an Acquire CAS, so it reads what the last owner left), credits each
//!   entry's count minus its base to the open epoch's bins and makes the count
//!   its base, opens the new epoch, fills the ring (publishing the head), and
//!   stores `(v+2, s)` (Release). It closes *before* the fill publishes the
//!   head: a writer that finds the head at the new epoch records after the
//!   close read the count it credits, so its observation is the new epoch's. A
//!   writer that finds the schema word taken (a close or a migration runs)
//!   does not wait: it records, and its observation is credited by the next
//!   close to the epoch open then, the one being closed or its own (an
//!   observation racing an epoch boundary lands in one epoch or the other,
//!   never both or neither; after an idle gap, "the other" is the newest epoch
//!   with observations, not the one just before).
//! * **Reduce** (a migration, which also owns the schema word, so no close runs
//!   meanwhile): a freed entry's base moves with its count to the entry that
//!   takes it, so the open epoch's increases stay counted once, at the coarser
//!   bucket. Its CAS is Acquire for the same reason as a close's. A claim that
//!   passes the limit while a close holds the schema word cannot reduce; the
//!   close reduces when it ends if the entries in use are still over the
//!   limit, and otherwise the next claim does.
//! * **Read** (a seqlock on the schema word, as for the buckets): the open
//!   epoch, the closed epochs' bins, the entries and their bases are copied
//!   between two equal even schema words; the open epoch's buckets are the
//!   entries' counts over their bases. A close's writes are Release and a
//!   reader's loads of them Acquire, so a reader that sees one retries.
//!
//! Per-epoch counts are exact in total: every increase is credited once, to the
//! epoch open when its close ran, as long as one bucket takes fewer than 2^32
//! observations in one epoch (a base is a count's low 32 bits) and so does one
//! bin (a bin's count stops at `u32::MAX`; a bin can merge several buckets
//! when the epoch's schema was lowered to fit). When the clock goes back
//! and history restarts, the open epoch's increases leave history (the
//! cumulative buckets keep them).
//!
//! ## Per-epoch schema
//!
//! An epoch keeps its buckets in [`NATIVE_BINS`] bins at its own *history
//! schema*: it starts at `min(schema, 5)` (or the entries' coarser schema
//! after reductions) and halves, merging buckets, while they do not fit; at
//! -4 every bucket fits (17 buckets over the kept range, zero included). The
//! schema is recorded in the bins' keys: keys of 14 bits, each schema from -4
//! to 5 owning a block of `4r + 1` keys (16,378 in all), where with
//! `r = 64 · 2^h` and `i` a value's index at `h` clamped to `1-r..=r`
//! (`|v|` from 2^-64 to 2^64; values beyond are filed at the ends), `2r` is the
//! zero bucket, `2r + r + i` a positive value and `2r - (r + i)` a negative
//! one: within a block keys increase with the value.
//!
//! A windowed quantile (`NativeCore::quantile`, through
//! `NativeCore::for_each_epoch_bins`) brings every epoch of the window to the
//! coarsest epoch schema `m` among them, takes the key at the asked nearest
//! rank, and answers its bucket's geometric middle `base^(i - 1/2)`: the true
//! value `v` is in `(base^(i-1), base^i]`, so the answer is off by a factor of
//! at most `sqrt(base)`, a relative error of at most `sqrt(base_m) - 1` (see
//! [`native_quantile_error`]), for values inside the clamped range, however
//! many buckets an epoch's observations fall in.
//!
//! # Memory
//!
//! Per series: 8 bytes per table entry (256 entries for the default limit of 160
//! buckets: 2,048 bytes) and, with history, 4 more per entry for its base (the
//! low 32 bits of its count, two a word: 1,024), the inline state
//! (`size_of::<NativeCore>()`), and 8 bytes of rows and 8 per bin per epoch:
//! `60 * (8 + 17 * 8) = 8,640` bytes for 60 epochs. `NativeCore::memory_bytes`
//! gives the exact figure.

use std::time::Duration;

use smallvec::SmallVec;

use super::bins::{with_bins, Bin, Bins, MAX_COUNT as MAX_BIN_COUNT, MAX_KEY};
use super::ring::{Filled, Rows};
use super::window::{window_epochs, with_scratch};
use crate::native_index::{native_index, native_upper_bound, reduce_index, MAX_SCHEMA, MIN_SCHEMA};
use crate::retention::Geometry;
use crate::sketch::nearest_rank;
use crate::sync::{mutant, ord, AtomicU64, Ordering};
use crate::{Error, Result};

/// Bins per epoch of a native histogram's history: enough for every bucket of
/// the coarsest history schema (-4: eight indexes a sign over the kept range, and
/// the zero bucket), so that halving an epoch's schema always makes it fit.
pub const NATIVE_BINS: usize = 17;
/// The default bucket limit (positive and negative buckets together), past which
/// the resolution is halved. The Go client has no default (unlimited, which a
/// fixed-size table cannot offer); 160 keeps the table at 256 entries (2 KiB),
/// enough for schema 3 over about 20 powers of two.
pub const DEFAULT_NATIVE_MAX_BUCKETS: u32 = 160;
/// The default zero threshold: 2^-128, the Go client's `DefNativeHistogramZeroThreshold`.
pub const DEFAULT_ZERO_THRESHOLD: f64 = 2.938_735_877_055_719e-39;
/// The largest bucket limit.
pub const MAX_NATIVE_BUCKETS: u32 = 1 << 16;

/// How a native histogram is configured: its initial schema, zero threshold and
/// bucket limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NativeConfig {
    /// Initial schema, -4..=8 (bucket growth `2^(2^-schema)`).
    pub schema: i8,
    /// Values with `|v| <=` this go to the zero bucket.
    pub zero_threshold: f64,
    /// Most buckets (positive and negative) before the resolution is halved.
    pub max_buckets: u32,
}

impl NativeConfig {
    /// A configuration with `schema` and the default zero threshold and limit.
    pub fn new(schema: i8) -> Result<NativeConfig> {
        NativeConfig {
            schema,
            zero_threshold: DEFAULT_ZERO_THRESHOLD,
            max_buckets: DEFAULT_NATIVE_MAX_BUCKETS,
        }
        .validated()
    }

    /// `self` if every field is in range, else the typed error naming the first
    /// one that is not.
    pub fn validated(self) -> Result<NativeConfig> {
        let bad = |what: &'static str, reason: String| Err(Error::InvalidConfig { what, reason });
        if !(MIN_SCHEMA..=MAX_SCHEMA).contains(&self.schema) {
            return bad(
                "native schema",
                format!("{} is outside {MIN_SCHEMA}..={MAX_SCHEMA}", self.schema),
            );
        }
        if !(self.zero_threshold >= 0.0 && self.zero_threshold.is_finite()) {
            return bad(
                "native zero threshold",
                format!("{} is not a finite number >= 0", self.zero_threshold),
            );
        }
        if !(2..=MAX_NATIVE_BUCKETS).contains(&self.max_buckets) {
            return bad(
                "native max buckets",
                format!("{} is outside 2..={MAX_NATIVE_BUCKETS}", self.max_buckets),
            );
        }
        Ok(self)
    }

    /// Entries of the bucket table: a power of two above 1.5 times the limit.
    pub(crate) fn capacity(&self) -> usize {
        (self.max_buckets as usize * 3 / 2 + 1).next_power_of_two()
    }
}

/// The cumulative state of a native histogram's buckets, merged to one schema.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NativeSnapshot {
    /// The schema of the buckets below.
    pub schema: i8,
    /// Values with `|v| <=` this are in the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// All observations (NaN included, which no bucket holds): at least the
    /// buckets' total.
    pub count: u64,
    /// Sum of all observations.
    pub sum: f64,
    /// `(index, count)` of the positive buckets with observations, by increasing
    /// index; bucket `i` holds `(base^(i-1), base^i]`.
    pub positive: Vec<(i32, u64)>,
    /// The same for negative values (bucket `i` holds `-v` in that range).
    pub negative: Vec<(i32, u64)>,
}

impl NativeSnapshot {
    /// Observations in buckets (zero bucket included).
    pub fn bucket_total(&self) -> u64 {
        self.positive
            .iter()
            .chain(&self.negative)
            .fold(self.zero_count, |a, b| a.saturating_add(b.1))
    }

    /// Upper bound of positive bucket `i` at this snapshot's schema.
    pub fn upper_bound(&self, i: i32) -> f64 {
        native_upper_bound(i, self.schema)
    }
}

/// The largest relative error of a windowed quantile at `schema` (see the module
/// docs): `sqrt(base) - 1` with `base = 2^(2^-schema)`.
pub fn native_quantile_error(schema: i8) -> f64 {
    let s = i32::from(schema.clamp(MIN_SCHEMA, MAX_SCHEMA));
    2f64.powf(2f64.powi(-s) / 2.0) - 1.0
}

const COUNT_BITS: u32 = 39;
pub(crate) const MAX_COUNT: u64 = (1 << COUNT_BITS) - 1;
const IDX_BITS: u32 = 20;
const IDX_OFFSET: i32 = 1 << 19;
const NEG_BIT: u64 = 1 << (COUNT_BITS + IDX_BITS);
const TAG_SHIFT: u32 = COUNT_BITS + IDX_BITS + 1;
const KEY_MASK: u64 = !MAX_COUNT;
/// A base: the low 32 bits of a count.
const BASE_MASK: u64 = u32::MAX as u64;

/// The key bits of bucket `i` (negative values if `neg`) at schema `s`.
#[inline]
fn key(s: i8, neg: bool, i: i32) -> u64 {
    let idx = (i + IDX_OFFSET).clamp(0, (1 << IDX_BITS) - 1) as u64;
    (((s as i64 + 5) as u64) << TAG_SHIFT) | if neg { NEG_BIT } else { 0 } | (idx << COUNT_BITS)
}

#[inline]
fn entry_schema(w: u64) -> i8 {
    ((w >> TAG_SHIFT) as i8) - 5
}

#[inline]
fn entry_index(w: u64) -> i32 {
    ((w >> COUNT_BITS) & ((1 << IDX_BITS) - 1)) as i32 - IDX_OFFSET
}

#[inline]
fn entry_neg(w: u64) -> bool {
    w & NEG_BIT != 0
}

#[inline]
fn entry_count(w: u64) -> u64 {
    w & MAX_COUNT
}

/// The schema word: the schema (+4) in the low 8 bits, a version above it (odd
/// while a migration runs).
#[inline]
fn state(version: u64, schema: i8) -> u64 {
    (version << 8) | (schema as i64 + 4) as u64
}

#[inline]
fn state_schema(st: u64) -> i8 {
    (st & 0xFF) as i8 - 4
}

#[inline]
fn state_version(st: u64) -> u64 {
    st >> 8
}

/// The finest history schema.
pub(crate) const MAX_HISTORY_SCHEMA: i8 = 5;

/// History keys at schema `h` (module docs): `(r, zero key)`, `r` the indexes
/// kept on each side, `64 · 2^h` (the powers of two from 2^-64 to 2^64).
#[inline]
pub(crate) fn key_range(h: i8) -> (i32, usize) {
    let r = if h >= 0 { 64 << h } else { 64 >> -h };
    (r, 2 * r as usize)
}

#[cfg(loom)]
fn spin() {
    loom::thread::yield_now();
}

#[cfg(not(loom))]
fn spin() {
    std::hint::spin_loop();
}

/// A native histogram's buckets and history (see the module docs).
#[derive(Debug)]
pub struct NativeCore {
    config: NativeConfig,
    /// Schema and migration version.
    state: AtomicU64,
    /// Table entries in use.
    used: AtomicU64,
    /// Observations in the zero bucket.
    zero: AtomicU64,
    /// The entries, then (with history) per entry its count when the open
    /// epoch started (its *base*): one allocation for both halves.
    table: Box<[AtomicU64]>,
    /// The open epoch: the one the entries' increases over their bases belong
    /// to (written only by the owner of the schema word, see `start`).
    open: AtomicU64,
    /// The zero bucket's base (as the entries' bases).
    zero_base: AtomicU64,
    /// Per slot: the zero count when the epoch started (the rows carry the
    /// ring's laps for the bins).
    rows: Rows<1>,
    /// Per slot: the closed epoch's observations by history key, at the epoch's
    /// own history schema (see `epoch_key`).
    bins: Bins,
    geometry: Geometry,
}

impl Drop for NativeCore {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: the rows were made with `geometry`, which never changes, and
        // are not used again.
        unsafe { self.rows.free(&self.geometry, None) }
    }
}

impl NativeCore {
    /// Empty buckets for `config` (validated), with history per `geometry`,
    /// created at `now`.
    pub(crate) fn new(config: NativeConfig, geometry: Geometry, now: u64) -> NativeCore {
        NativeCore::with_bins(config, geometry, now, NATIVE_BINS)
    }

    /// [`NativeCore::new`] with `k` bins per epoch (at most [`NATIVE_BINS`]:
    /// the loom models use fewer, so that a reader's loads stay few enough to
    /// explore; with fewer than 17 an epoch at schema -4 may merge buckets).
    pub(crate) fn with_bins(
        config: NativeConfig,
        geometry: Geometry,
        now: u64,
        k: usize,
    ) -> NativeCore {
        let now_e = geometry.epoch(now);
        let k = if geometry.is_lifetime() {
            1
        } else {
            k.clamp(1, NATIVE_BINS)
        };
        NativeCore {
            state: AtomicU64::new(state(0, config.schema)),
            used: AtomicU64::new(0),
            zero: AtomicU64::new(0),
            table: (0..Self::table_words(&geometry, &config))
                .map(|_| AtomicU64::new(0))
                .collect(),
            open: AtomicU64::new(now_e),
            zero_base: AtomicU64::new(0),
            rows: Rows::new(&geometry, now_e, |_| 0, None),
            bins: Bins::new(&geometry, k, now_e),
            config,
            geometry,
        }
    }

    /// Words of the table: the entries, and with history their bases (two
    /// 32-bit bases a word).
    fn table_words(g: &Geometry, config: &NativeConfig) -> usize {
        let cap = config.capacity();
        cap + if g.is_lifetime() { 0 } else { cap.div_ceil(2) }
    }

    /// The entries (the first half of the table).
    #[inline]
    fn entries(&self) -> &[AtomicU64] {
        self.table.get(..self.config.capacity()).unwrap_or(&[])
    }

    /// The configuration.
    pub fn config(&self) -> NativeConfig {
        self.config
    }

    /// The current schema (it only decreases).
    pub fn schema(&self) -> i8 {
        state_schema(self.state.load(Ordering::Relaxed))
    }

    /// Bytes this native part occupies (inline and on the heap), fixed at creation.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + std::mem::size_of_val(&*self.table)
            + Rows::<1>::bytes_for(&self.geometry)
            + self.bins.heap_bytes()
    }

    /// The heap allocations of a native part for `config` and ring shape `g`:
    /// itself (boxed beside the classic state), the table, the rows, the bins.
    pub(crate) fn allocations_for(g: &Geometry, config: &NativeConfig) -> [usize; 4] {
        let k = if g.is_lifetime() { 1 } else { NATIVE_BINS };
        [
            std::mem::size_of::<NativeCore>(),
            Self::table_words(g, config) * std::mem::size_of::<AtomicU64>(),
            Rows::<1>::bytes_for(g),
            Bins::bytes_for(g.len(), k),
        ]
    }

    /// Records `v` at `now` (NaN is left to the classic part's count and sum);
    /// `fresh` reads the clock again (called only when the ring is ahead of `now`).
    #[inline]
    pub(crate) fn observe(&self, v: f64, now: u64, fresh: impl FnOnce() -> u64) {
        if v.is_nan() {
            return;
        }
        let g = &self.geometry;
        // History costs the head check: the epoch's increases are written when
        // it closes (module docs).
        if !g.is_lifetime() && self.rows.current(g, now).is_none() {
            self.start(now, fresh);
        }
        if v.abs() <= self.config.zero_threshold {
            // Relaxed: an exact counter of its own.
            self.zero.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Relaxed: any schema at or above the current one is correct (readers
        // merge finer entries down); see the module docs.
        let s = state_schema(self.state.load(Ordering::Relaxed));
        let k = key(s, v < 0.0, native_index(v, s));
        self.record(k, 1, Ordering::Relaxed, true);
    }

    /// Adds `n` to the bucket `k`; `rel` orders the entry's write (Release in a
    /// migration); `limit`: a claim may start a reduction. Returns the entry
    /// that took `n` (`None`: the zero bucket did).
    #[inline]
    fn record(&self, k: u64, n: u64, rel: Ordering, limit: bool) -> Option<usize> {
        match self.add(k, n, rel) {
            Some((j, false)) => Some(j),
            Some((j, true)) => {
                // Relaxed: only decides whether to reduce; the reduction checks
                // again under its CAS.
                let used = self.used.fetch_add(1, Ordering::Relaxed) + 1;
                if limit && used > u64::from(self.config.max_buckets) {
                    self.reduce();
                }
                Some(j)
            }
            None => self.full(k, n, rel, limit),
        }
    }

    /// Probes for `k`: `Some((entry, claimed))` once `n` is added, `None` if no
    /// entry holds `k` with room and none is free.
    #[inline]
    fn add(&self, k: u64, n: u64, rel: Ordering) -> Option<(usize, bool)> {
        let table = self.entries();
        let mask = table.len() - 1;
        // Fibonacci hashing of the key bits (the count bits of `k` are zero): the
        // product's top bits, so that neighbouring indexes spread over the table.
        let bits = table.len().trailing_zeros();
        let h = (k >> COUNT_BITS).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let start = (h.checked_shr(64 - bits).unwrap_or(0)) as usize & mask;
        for p in 0..table.len() {
            let at = (start + p) & mask;
            let w = &table[at];
            // Relaxed: the word is the whole entry; the CAS checks it.
            let mut cur = w.load(Ordering::Relaxed);
            loop {
                let (new, claim) = if cur == 0 {
                    (k | n, true)
                } else if cur & KEY_MASK == k && entry_count(cur) + n <= MAX_COUNT {
                    (cur + n, false)
                } else {
                    break;
                };
                match w.compare_exchange(cur, new, rel, Ordering::Relaxed) {
                    Ok(_) => return Some((at, claim)),
                    Err(now) => cur = now,
                }
            }
        }
        None
    }

    /// The table is full: reduce if allowed and try again, else file `n` in the
    /// nearest bucket of the same sign (see the module docs).
    #[cold]
    #[inline(never)]
    fn full(&self, k: u64, n: u64, rel: Ordering, limit: bool) -> Option<usize> {
        if limit && self.reduce() {
            let st = self.state.load(Ordering::Relaxed);
            let s = state_schema(st);
            let (ks, neg, i) = (entry_schema(k), entry_neg(k), entry_index(k));
            let k = key(s, neg, reduce_index(i, (ks - s).max(0) as u32));
            if let Some((j, claimed)) = self.add(k, n, rel) {
                if claimed {
                    self.used.fetch_add(1, Ordering::Relaxed);
                }
                return Some(j);
            }
        }
        let (ks, neg, i) = (entry_schema(k), entry_neg(k), entry_index(k));
        loop {
            // The nearest entry of the sign, compared at the coarser schema.
            let mut best: Option<(i64, usize, u64)> = None;
            for (j, w) in self.entries().iter().enumerate() {
                // Relaxed: as in `add`.
                let cur = w.load(Ordering::Relaxed);
                if cur == 0 || entry_neg(cur) != neg || entry_count(cur) + n > MAX_COUNT {
                    continue;
                }
                let s = entry_schema(cur).min(ks);
                let a = reduce_index(entry_index(cur), (entry_schema(cur) - s) as u32);
                let b = reduce_index(i, (ks - s) as u32);
                let d = (i64::from(a) - i64::from(b)).abs();
                if best.is_none_or(|x| d < x.0) {
                    best = Some((d, j, cur));
                }
            }
            let Some((_, j, cur)) = best else {
                // No bucket of this sign at all: the zero bucket keeps it counted.
                self.zero.fetch_add(n, Ordering::Relaxed);
                return None;
            };
            if self.table[j]
                .compare_exchange(cur, cur + n, rel, Ordering::Relaxed)
                .is_ok()
            {
                return Some(j);
            }
        }
    }

    /// Halves the resolution while the entries in use exceed the limit, if this
    /// writer wins the schema word; returns whether it reduced.
    #[cold]
    #[inline(never)]
    fn reduce(&self) -> bool {
        let mut reduced = false;
        loop {
            // Relaxed: the CAS below decides; see the module docs.
            let st = self.state.load(Ordering::Relaxed);
            let (v, s) = (state_version(st), state_schema(st));
            if v % 2 == 1
                || s <= MIN_SCHEMA
                || self.used.load(Ordering::Relaxed) <= u64::from(self.config.max_buckets)
            {
                return reduced;
            }
            // Acquire: pairs with the Release store that ended the last close (or
            // migration), so the bases this migration moves are that close's.
            // Readers synchronize with the migration's Release writes and the
            // Release store that ends it; this CAS is sequenced before them.
            if self
                .state
                .compare_exchange(
                    st,
                    state(v + 1, s - 1),
                    ord!(Acquire, "native.reduce.acquire"),
                    Ordering::Relaxed,
                )
                .is_err()
            {
                return reduced;
            }
            self.migrate(s - 1);
            // Release: publishes the migration to readers that Acquire `t1`.
            self.state
                .store(state(v + 2, s - 1), ord!(Release, "native.reduce.publish"));
            reduced = true;
        }
    }

    /// Moves every entry finer than schema `s` to its bucket at `s`.
    fn migrate(&self, s: i8) {
        // Release: a reader whose Acquire load sees one of these writes (or a
        // later RMW of the entry) then sees the odd schema word in `t2`.
        let rel = ord!(Release, "native.migrate.release");
        for (j, w) in self.entries().iter().enumerate() {
            // Relaxed: the CAS checks it.
            let mut cur = w.load(Ordering::Relaxed);
            while cur != 0 && entry_schema(cur) > s {
                let free = if mutant("native.migrate.keep") {
                    cur
                } else {
                    0
                };
                match w.compare_exchange(cur, free, rel, Ordering::Relaxed) {
                    Ok(_) => {
                        if free == 0 {
                            self.used.fetch_sub(1, Ordering::Relaxed);
                        }
                        let d = (entry_schema(cur) - s) as u32;
                        let k = key(s, entry_neg(cur), reduce_index(entry_index(cur), d));
                        let to = self.record(k, entry_count(cur), rel, false);
                        // The base moves with the count (this thread owns the
                        // schema word, so no close reads the bases meanwhile):
                        // the entry's increase in the open epoch stays an
                        // increase of the bucket it moved to, and the moved
                        // count is no increase there.
                        if free == 0 && !mutant("native.migrate.keep_base") {
                            self.move_base(j, to, rel);
                        }
                        break;
                    }
                    Err(now) => cur = now,
                }
            }
        }
    }

    /// The word holding entry `j`'s base (`None` without history), and the
    /// base's shift in it.
    #[inline]
    fn base_word(&self, j: usize) -> Option<(&AtomicU64, u32)> {
        let w = self.table.get(self.config.capacity() + j / 2)?;
        Some((w, 32 * (j % 2) as u32))
    }

    /// Entry `j`'s base: the low 32 bits of its count when the open epoch
    /// started (an entry's increase in one epoch is below 2^32: bases and
    /// increases are taken modulo 2^32).
    #[inline]
    fn base(&self, j: usize, ord: Ordering) -> u64 {
        self.base_word(j)
            .map_or(0, |(w, sh)| (w.load(ord) >> sh) & BASE_MASK)
    }

    /// Sets entry `j`'s base to `v` (modulo 2^32). Only the owner of the
    /// schema word writes bases, so the word's other half is not raced.
    #[inline]
    fn set_base(&self, j: usize, v: u64, rel: Ordering) {
        if let Some((w, sh)) = self.base_word(j) {
            // Relaxed: only the owner writes (see above).
            let old = w.load(Ordering::Relaxed);
            w.store((old & !(BASE_MASK << sh)) | ((v & BASE_MASK) << sh), rel);
        }
    }

    /// Moves entry `from`'s base to `to` (the zero bucket's if `None`).
    fn move_base(&self, from: usize, to: Option<usize>, rel: Ordering) {
        if self.base_word(from).is_none() {
            return;
        }
        // Relaxed loads: only the owner of the schema word writes bases.
        let moved = self.base(from, Ordering::Relaxed);
        self.set_base(from, 0, rel);
        match to {
            Some(j) => self.set_base(j, self.base(j, Ordering::Relaxed) + moved, rel),
            None => {
                let z = self.zero_base.load(Ordering::Relaxed);
                self.zero_base.store((z + moved) & BASE_MASK, rel);
            }
        }
    }

    /// Runs `read` until it ran between two equal even values of the schema
    /// word (no migration and no close in between; module docs), then `f` with
    /// its result. `read` gets the schema word.
    fn seq_read<T, R>(&self, mut read: impl FnMut(u64) -> T, f: impl FnOnce(T) -> R) -> R {
        loop {
            // Acquire: pairs with the Release store that ends a migration or a
            // close.
            let t1 = self.state.load(ord!(Acquire, "native.read.t1.acquire"));
            if state_version(t1) % 2 == 1 {
                spin();
                continue;
            }
            let got = read(t1);
            // Relaxed: ordered after the Acquire loads in `read` (module docs).
            let t2 = self.state.load(Ordering::Relaxed);
            if t1 == t2 || mutant("native.read.no_recheck") {
                return f(got);
            }
            spin();
        }
    }

    /// Calls `f(schema, zero, entries)` with a consistent copy of the table (see
    /// the module docs): `entries` are raw words, `schema` the coarsest among
    /// them and the schema word.
    fn read<R>(&self, f: impl FnOnce(i8, u64, &[u64]) -> R) -> R {
        crate::storage::window::with_scratch(|words| {
            let read = |t1: u64| {
                words.clear();
                let mut s = state_schema(t1);
                for w in self.entries() {
                    // Acquire: pairs with a migration's Release writes (module docs).
                    let w = w.load(ord!(Acquire, "native.read.entry.acquire"));
                    if w != 0 {
                        s = s.min(entry_schema(w));
                        words.push(w);
                    }
                }
                // Relaxed: `zero` is no part of a migration.
                (s, self.zero.load(Ordering::Relaxed))
            };
            let (s, zero) = self.seq_read(read, |x| x);
            f(s, zero, words)
        })
    }

    /// The buckets, merged to one schema, with `count` and `sum` from the
    /// classic part (`count` is raised to the buckets' total if an observation
    /// racing this read is in the buckets but not yet in it).
    pub fn snapshot(&self, count: u64, sum: f64) -> NativeSnapshot {
        let mut snap = NativeSnapshot::default();
        self.snapshot_into(count, sum, &mut snap);
        snap
    }

    /// [`NativeCore::snapshot`] into `out`, reusing its bucket vectors: once
    /// they have grown to the histogram's bucket count, this allocates nothing
    /// (exporters keep one `NativeSnapshot` across series).
    pub fn snapshot_into(&self, count: u64, sum: f64, out: &mut NativeSnapshot) {
        out.positive.clear();
        out.negative.clear();
        let (pos, neg) = (&mut out.positive, &mut out.negative);
        let (schema, zero_count) = self.read(|s, zero, words| {
            for &w in words {
                let i = reduce_index(entry_index(w), (entry_schema(w) - s) as u32);
                let side = if entry_neg(w) { &mut *neg } else { &mut *pos };
                side.push((i, entry_count(w)));
            }
            (s, zero)
        });
        for v in [&mut out.positive, &mut out.negative] {
            v.sort_unstable_by_key(|b| b.0);
            v.dedup_by(|b, a| {
                let same = a.0 == b.0;
                if same {
                    a.1 += b.1;
                }
                same
            });
        }
        out.schema = schema;
        out.zero_threshold = self.config.zero_threshold;
        out.zero_count = zero_count;
        out.count = count;
        out.sum = sum;
        out.count = out.count.max(out.bucket_total());
    }

    /// The ring's shape and rows, for the readers and the restore beside this
    /// module (`native_window`, `native_state`).
    pub(crate) fn history(&self) -> (&Geometry, &Rows<1>) {
        (&self.geometry, &self.rows)
    }

    /// The finest history schema (module docs): `min(schema, 5)`.
    pub(crate) fn history_schema(&self) -> i8 {
        self.config.schema.min(MAX_HISTORY_SCHEMA)
    }

    /// The value a history key at schema `s` stands for: its bucket's
    /// geometric middle.
    pub(crate) fn key_value(&self, key: usize, s: i8) -> f64 {
        let (r, zero) = key_range(s);
        if key == zero {
            return 0.0;
        }
        let (neg, off) = if key < zero {
            (true, zero - key)
        } else {
            (false, key - zero)
        };
        let i = off as i32 - r;
        let mid = (native_upper_bound(i, s) * native_upper_bound(i - 1, s)).sqrt();
        // The product can leave the float range at the ends: take the bounds'
        // ratio instead.
        let mid = if mid.is_finite() && mid > 0.0 {
            mid
        } else {
            native_upper_bound(i, s) / (native_quantile_error(s) + 1.0)
        };
        if neg {
            -mid
        } else {
            mid
        }
    }

    /// Fills the ring up to the epoch of `now`, closing the open epoch first
    /// (module docs), if this writer takes the schema word; a writer that
    /// finds it taken (a close or a migration runs) leaves the epoch to that
    /// owner or to the next writer, and its observation counts in the epoch
    /// that closes next.
    #[cold]
    #[inline(never)]
    fn start(&self, now: u64, fresh: impl FnOnce() -> u64) {
        let g = &self.geometry;
        let e = g.epoch(now);
        // Relaxed: the CAS below decides.
        let mut st = self.state.load(Ordering::Relaxed);
        let (v, s) = loop {
            let (v, s) = (state_version(st), state_schema(st));
            if v % 2 == 1 {
                return;
            }
            // Acquire: pairs with the Release store that ended the last close
            // or migration, so this close reads the bases it left.
            match self.state.compare_exchange(
                st,
                state(v + 1, s),
                ord!(Acquire, "native.start.acquire"),
                Ordering::Relaxed,
            ) {
                Ok(_) => break (v, s),
                // A stale load, or an owner that has finished: try again.
                Err(now) => st = now,
            }
        };
        // The open epoch closes before the fill publishes the head: a writer
        // that finds the head at `e` records after this close read the counts
        // it credits to the old epoch, so its observation lands in `e` (as for
        // classic histograms, see `histogram::HistogramCore::start`).
        let close_after = mutant("native.close_after_fill");
        if !close_after {
            self.close(e);
        }
        let base = |_| self.zero.load(Ordering::Relaxed) & super::ring::PAYLOAD_MASK;
        let reset = |x: u64, lx: u64, ls: u64| self.bins.reset(g.slot(x), lx, ls);
        if self.rows.fill(g, e, base, reset) == Filled::Behind {
            let empty = |x: u64, lx: u64| self.bins.empty(g.slot(x), lx);
            if let Some(back) = self.rows.catch_up(g, fresh, base, empty) {
                // The clock went back: history restarts at `back`, and the
                // increases of the epoch that was open leave history (the
                // cumulative counts keep them).
                self.reopen(back);
            }
        } else if close_after {
            self.close(e);
        }
        // Release: publishes the close (bases, open epoch, bins) to the next
        // owner and to readers that Acquire the schema word.
        self.state
            .store(state(v + 2, s), ord!(Release, "native.start.publish"));
        // A writer whose claim passed the limit while this close held the
        // schema word could not reduce: reduce for it.
        // Relaxed: as in `record`.
        if self.used.load(Ordering::Relaxed) > u64::from(self.config.max_buckets) {
            self.reduce();
        }
    }

    /// Credits every bucket's increase over its base to the open epoch's bins
    /// and opens `e`, unless the open epoch is `e` or later. Only the owner of
    /// the schema word calls it.
    fn close(&self, e: u64) {
        let g = &self.geometry;
        // Relaxed (the open epoch and the bases): written only by owners of the
        // schema word, whose Acquire CAS saw the last owner's writes.
        let o = self.open.load(Ordering::Relaxed);
        if o >= e {
            return;
        }
        // Release (every write of the close): a reader whose Acquire load sees
        // one then sees the odd schema word, and retries (module docs).
        let rel = ord!(Release, "native.close.release");
        let mut acc = EpochAcc::new(self.history_schema(), self.bins.k());
        for (j, w) in self.entries().iter().enumerate() {
            // Relaxed: a count read here is credited to `o`, a later one to a
            // later epoch (see `start`).
            let cur = w.load(Ordering::Relaxed);
            if cur == 0 {
                continue;
            }
            let c = entry_count(cur);
            let base = self.base(j, Ordering::Relaxed);
            if !mutant("native.close.keep_base") {
                self.set_base(j, c, rel);
            }
            let bucket = (entry_schema(cur), entry_neg(cur), entry_index(cur));
            acc.add(Some(bucket), c.wrapping_sub(base) & BASE_MASK);
        }
        let z = self.zero.load(Ordering::Relaxed);
        let zb = self.zero_base.load(Ordering::Relaxed);
        acc.add(None, z.wrapping_sub(zb) & BASE_MASK);
        self.zero_base.store(z & BASE_MASK, rel);
        self.open.store(e, rel);
        // An epoch that has left the ring takes nothing (its slot's 4-bit lap
        // tag could alias a newer lap's).
        if e - o < g.len() as u64 && !mutant("native.close.no_credit") {
            let (lap, slot) = g.lap_slot(o);
            let mut keys = [(0usize, 0u64); NATIVE_BINS];
            for (k, &(p, n)) in keys.iter_mut().zip(acc.bins()) {
                *k = (epoch_key(acc.h, p), n);
            }
            self.bins.store_slot(slot, lap, &keys[..acc.n], rel);
        }
    }

    /// After buckets were loaded into a fresh, unshared part (a restore):
    /// every base becomes its count, so the loaded counts are no increase of
    /// the open epoch.
    pub(crate) fn rebase_loaded(&self) {
        // Relaxed: the part is not shared yet.
        self.reopen(self.open.load(Ordering::Relaxed));
    }

    /// After [`NativeCore::rebase_loaded`]: gives the open epoch back its saved
    /// increases, `bins` (stored keys, see [`key_offset`], and counts), by
    /// lowering the bases of the entries (and the zero bucket) whose buckets
    /// fall in each bin's key, so that the open epoch reads, and its close
    /// credits, what it held when it was saved. An increase with no loaded
    /// count to take it from is dropped (the buckets stay exact).
    pub(crate) fn reopen_loaded(&self, bins: &[(usize, u64)]) {
        // Relaxed throughout: the part is not shared yet.
        let r = Ordering::Relaxed;
        for &(key, c) in bins {
            let (h, local) = split_key(key);
            let p = local as i32 - 2 * key_range(h).0;
            let mut left = c;
            if p == 0 {
                let (z, zb) = (self.zero.load(r), self.zero_base.load(r));
                let take = left.min(z);
                self.zero_base.store((zb.wrapping_sub(take)) & BASE_MASK, r);
                continue;
            }
            for (j, w) in self.entries().iter().enumerate() {
                let cur = w.load(r);
                let es = entry_schema(cur);
                if left == 0 {
                    break;
                }
                if cur == 0 || es < h {
                    continue;
                }
                let at_h = position(
                    h,
                    entry_neg(cur),
                    reduce_index(entry_index(cur), (es - h) as u32),
                );
                if at_h != p {
                    continue;
                }
                let take = left.min(entry_count(cur));
                self.set_base(j, entry_count(cur) - take, r);
                left -= take;
            }
        }
    }

    /// The open epoch (see the module docs), for a restore into a fresh,
    /// unshared part.
    pub(crate) fn open_epoch(&self) -> u64 {
        // Relaxed: the part is not shared yet.
        self.open.load(Ordering::Relaxed)
    }

    /// Writes a closed epoch `x`'s bins (stored keys, see [`key_offset`]) into
    /// a fresh, unshared part (a restore); at most the slot's bins are kept.
    pub(crate) fn put_epoch_bins(&self, x: u64, bins: &[(usize, u64)]) {
        let (lap, slot) = self.geometry.lap_slot(x);
        // Relaxed: the part is not shared yet.
        self.bins.store_slot(slot, lap, bins, Ordering::Relaxed);
    }

    /// After a rewind to `back`: every base becomes its count, and `back` the
    /// open epoch.
    fn reopen(&self, back: u64) {
        let rel = ord!(Release, "native.close.release");
        for (j, w) in self.entries().iter().enumerate() {
            self.set_base(j, entry_count(w.load(Ordering::Relaxed)), rel);
        }
        let z = self.zero.load(Ordering::Relaxed);
        self.zero_base.store(z & BASE_MASK, rel);
        self.open.store(back, rel);
    }

    /// The open epoch's increases so far, as its close would credit them.
    fn open_increases(&self) -> EpochAcc {
        let mut acc = EpochAcc::new(self.history_schema(), self.bins.k());
        // Acquire (bases, zero base, the open epoch in `read_epochs`): pairs
        // with a close's Release writes, so that a reader that sees one sees
        // the odd schema word it stored before them (module docs).
        let acq = ord!(Acquire, "native.read.base.acquire");
        for (j, w) in self.entries().iter().enumerate() {
            // Acquire: as in `read`.
            let cur = w.load(ord!(Acquire, "native.read.entry.acquire"));
            if cur == 0 {
                continue;
            }
            let base = self.base(j, acq);
            let bucket = (entry_schema(cur), entry_neg(cur), entry_index(cur));
            acc.add(
                Some(bucket),
                entry_count(cur).wrapping_sub(base) & BASE_MASK,
            );
        }
        // Relaxed: `zero` is its own exact counter.
        let z = self.zero.load(Ordering::Relaxed);
        acc.add(None, z.wrapping_sub(self.zero_base.load(acq)) & BASE_MASK);
        acc
    }

    /// Calls `f(epoch, schema, bins)` for each retained epoch in `first..=last`
    /// up to the head with observations, oldest first, from one consistent
    /// read: closed epochs from their bins, the open one from the entries'
    /// increases over their bases. A bin's `lo == hi` is a key at the epoch's
    /// `schema` (see [`NativeCore::key_value`]); an epoch holds at most
    /// [`NATIVE_BINS`] bins, and a bin's count is at most `u32::MAX` (as the
    /// closed epochs' bins store them).
    pub(crate) fn for_each_epoch_bins(
        &self,
        now: u64,
        first: u64,
        last: u64,
        mut f: impl FnMut(u64, i8, &[Bin]),
    ) {
        let g = &self.geometry;
        if g.is_lifetime() {
            return;
        }
        with_bins(|bins| {
            let mut epochs: SmallVec<[(u64, i8, usize, usize); 64]> = SmallVec::new();
            let read = |_| {
                bins.clear();
                epochs.clear();
                let now_e = g.epoch(now);
                let head = self.rows.head();
                let (first, last) = g.retained_run(now_e, head, first, last);
                let open = self.open.load(ord!(Acquire, "native.read.base.acquire"));
                self.rows.read_run(g, first, last, |x, _| {
                    let at = bins.len();
                    let mut schema = MAX_HISTORY_SCHEMA;
                    if x == open {
                        let acc = self.open_increases();
                        schema = acc.h;
                        for &(p, count) in acc.bins() {
                            let k = local_key(acc.h, p);
                            bins.push(Bin {
                                lo: k,
                                hi: k,
                                // As a close stores it: a bin that merged
                                // buckets can pass 2^32 where no bucket does.
                                count: count.min(MAX_BIN_COUNT),
                            });
                        }
                    } else if x < open {
                        let (lap, slot) = g.lap_slot(x);
                        self.bins.for_each(slot, lap, |b| {
                            let (h, _) = split_key(b.lo);
                            schema = schema.min(h);
                            bins.push(b);
                        });
                        for b in &mut bins[at..] {
                            let (h, k) = split_key(b.lo);
                            let k = rekey(k, h, schema);
                            (b.lo, b.hi) = (k, k);
                        }
                    }
                    if bins.len() > at {
                        epochs.push((x, schema, at, bins.len()));
                    }
                });
            };
            self.seq_read(read, |_| ());
            for &(x, h, a, b) in &epochs {
                f(x, h, &bins[a..b]);
            }
        })
    }

    /// The `q`-quantile of the observations in the epochs covering
    /// `(now - window, now]`, within [`native_quantile_error`] of the coarsest
    /// epoch schema among them (module docs); NaN when there were none.
    /// Without history, the quantile of the cumulative buckets at their current
    /// schema.
    pub fn quantile(&self, q: f64, now: u64, window: Duration) -> f64 {
        let g = &self.geometry;
        if g.is_lifetime() {
            return self.cumulative_quantile(q);
        }
        let (first, last) = window_epochs(g, now, window);
        // Per bin: its key at its epoch's schema (bits 32..46), the schema + 4
        // (46..50) and its count (low 32 bits: `for_each_epoch_bins` gives
        // counts of at most `MAX_BIN_COUNT`, open epoch included).
        with_scratch(|packed| {
            packed.clear();
            let mut m = MAX_HISTORY_SCHEMA;
            self.for_each_epoch_bins(now, first, last, |_, h, bins| {
                m = m.min(h);
                for b in bins {
                    packed.push(((h as i64 + 4) as u64) << 46 | (b.lo as u64) << 32 | b.count);
                }
            });
            for w in packed.iter_mut() {
                let (h, k) = (((*w >> 46) as i64 - 4) as i8, (*w >> 32) as usize & MAX_KEY);
                *w = (rekey(k, h, m) as u64) << 32 | (*w & u64::from(u32::MAX));
            }
            packed.sort_unstable();
            let total: u64 = packed.iter().map(|w| w & u64::from(u32::MAX)).sum();
            let Some(rank) = nearest_rank(q, total) else {
                return f64::NAN;
            };
            let mut seen = 0;
            for w in packed.iter() {
                seen += w & u64::from(u32::MAX);
                if seen > rank {
                    return self.key_value((w >> 32) as usize, m);
                }
            }
            f64::NAN
        })
    }

    /// The nearest-rank `q`-quantile of the cumulative buckets (their geometric
    /// middles); NaN when empty.
    fn cumulative_quantile(&self, q: f64) -> f64 {
        let snap = self.snapshot(0, 0.0);
        let total = snap.bucket_total();
        let Some(rank) = nearest_rank(q, total) else {
            return f64::NAN;
        };
        let mid = |i: i32| {
            (native_upper_bound(i, snap.schema) * native_upper_bound(i - 1, snap.schema)).sqrt()
        };
        let mut seen = 0u64;
        for &(i, c) in snap.negative.iter().rev() {
            seen += c;
            if seen > rank {
                return -mid(i);
            }
        }
        seen += snap.zero_count;
        if seen > rank {
            return 0.0;
        }
        for &(i, c) in &snap.positive {
            seen += c;
            if seen > rank {
                return mid(i);
            }
        }
        f64::NAN
    }

    /// Loads saved buckets into this fresh, unshared part (restore): schema
    /// `schema` (checked by the caller to be in range and at most the
    /// configured one), the zero count, and `(negative, index, count)` buckets,
    /// filed as writers file them (a table that cannot hold them all keeps the
    /// counts exact in the nearest buckets; no reduction starts). False, and
    /// nothing loaded, if an index is beyond what an entry holds.
    pub(crate) fn load_buckets(
        &self,
        schema: i8,
        zero_count: u64,
        buckets: impl Iterator<Item = (bool, i32, u64)> + Clone,
    ) -> bool {
        if buckets
            .clone()
            .any(|(_, i, _)| !(-IDX_OFFSET..IDX_OFFSET).contains(&i))
        {
            return false;
        }
        self.state.store(state(0, schema), Ordering::Relaxed);
        self.zero.store(zero_count, Ordering::Relaxed);
        for (neg, i, mut n) in buckets {
            // An entry's count stops at MAX_COUNT: larger ones take more entries.
            while n > 0 {
                let c = n.min(MAX_COUNT);
                self.record(key(schema, neg, i), c, Ordering::Relaxed, false);
                n -= c;
            }
        }
        true
    }

    /// What a reader sees: the snapshot's schema, zero count and buckets.
    #[cfg(loom)]
    pub(crate) fn loom_view(&self) -> NativeSnapshot {
        self.snapshot(0, 0.0)
    }

    /// What a history reader sees at `now`: per epoch with observations, its
    /// schema and `(value, count)` of each bin.
    #[cfg(loom)]
    pub(crate) fn loom_epochs(&self, now: u64) -> Vec<(u64, i8, Vec<(f64, u64)>)> {
        let mut out = Vec::new();
        self.for_each_epoch_bins(now, 0, u64::MAX, |x, s, bins| {
            let bins = bins.iter().map(|b| (self.key_value(b.lo, s), b.count));
            out.push((x, s, bins.collect()));
        });
        out
    }

    /// The head as a writer's fast path reads it.
    #[cfg(loom)]
    pub(crate) fn loom_head(&self) -> u64 {
        self.rows.head_hint()
    }
}

/// The first stored key of history schema `h`: the keys of each schema from
/// -4 to 5 (`4r + 1` of them, see `key_range`) follow those of the schemas
/// below it, 16,378 keys in all, so a stored key names its epoch's schema.
pub(crate) fn key_offset(h: i8) -> usize {
    (MIN_SCHEMA..h.min(MAX_HISTORY_SCHEMA + 1))
        .map(|g| 4 * key_range(g).0 as usize + 1)
        .sum()
}

/// The stored key of signed position `p` (see [`EpochAcc`]) at schema `h`.
#[inline]
fn epoch_key(h: i8, p: i32) -> usize {
    key_offset(h) + local_key(h, p)
}

/// The key of signed position `p` at schema `h`, in value order (`key_range`:
/// `2r` the zero bucket).
#[inline]
fn local_key(h: i8, p: i32) -> usize {
    (2 * key_range(h).0 + p).max(0) as usize
}

/// A stored key's schema and its key at that schema.
pub(crate) fn split_key(key: usize) -> (i8, usize) {
    let mut h = MIN_SCHEMA;
    let mut off = 0;
    loop {
        let size = 4 * key_range(h).0 as usize + 1;
        if key < off + size || h >= MAX_HISTORY_SCHEMA {
            return (h, key - off);
        }
        off += size;
        h += 1;
    }
}

/// The signed position of bucket `i` (negative values if `neg`) at schema `h`,
/// its index clamped to the kept range.
#[inline]
fn position(h: i8, neg: bool, i: i32) -> i32 {
    let r = key_range(h).0;
    let p = i.clamp(1 - r, r) + r;
    if neg {
        -p
    } else {
        p
    }
}

/// Signed position `p` at schema `h`, at the coarser schema `h - d`.
#[inline]
fn coarser(h: i8, p: i32, d: u32) -> i32 {
    if p == 0 || d == 0 {
        return p;
    }
    let i = p.abs() - key_range(h).0;
    position(h - d as i8, p < 0, reduce_index(i, d))
}

/// Key `k` at schema `h` (value order, `local_key`), at schema `m <= h`.
pub(crate) fn rekey(k: usize, h: i8, m: i8) -> usize {
    let p = k as i32 - 2 * key_range(h).0;
    local_key(m, coarser(h, p, (h - m).max(0) as u32))
}

/// One epoch's increases by bucket, at most [`NATIVE_BINS`] buckets at the
/// epoch's history schema `h`: a bucket that does not fit halves `h` (merging
/// buckets) until it does, which it always does by -4. A bucket is a signed
/// position: 0 the zero bucket, `r + i` positive index `i`, `-(r + i)` negative
/// index `i`, indexes clamped to `1 - r..=r` (`key_range`).
pub(crate) struct EpochAcc {
    h: i8,
    /// Bins in use, and the most there may be.
    n: usize,
    k: usize,
    bins: [(i32, u64); NATIVE_BINS],
}

impl EpochAcc {
    fn new(h: i8, k: usize) -> EpochAcc {
        EpochAcc {
            h,
            n: 0,
            k: k.min(NATIVE_BINS),
            bins: [(0, 0); NATIVE_BINS],
        }
    }

    fn bins(&self) -> &[(i32, u64)] {
        self.bins.get(..self.n).unwrap_or(&[])
    }

    /// Halves the schema, merging the buckets that become one.
    fn halve(&mut self) {
        let (h, n) = (self.h, self.n);
        let mut m = 0;
        for a in 0..n {
            let (p, c) = self.bins[a];
            let p = coarser(h, p, 1);
            match self.bins[..m].iter_mut().find(|b| b.0 == p) {
                Some(b) => b.1 += c,
                None => {
                    self.bins[m] = (p, c);
                    m += 1;
                }
            }
        }
        (self.h, self.n) = (h - 1, m);
    }

    /// Adds `n` observations of bucket `(schema, neg, index)` (`None`: the
    /// zero bucket).
    fn add(&mut self, bucket: Option<(i8, bool, i32)>, n: u64) {
        if n == 0 {
            return;
        }
        loop {
            let p = match bucket {
                None => 0,
                Some((s, neg, i)) => {
                    while s < self.h && self.h > MIN_SCHEMA {
                        self.halve();
                    }
                    position(self.h, neg, reduce_index(i, (s - self.h).max(0) as u32))
                }
            };
            if let Some(b) = self.bins[..self.n].iter_mut().find(|b| b.0 == p) {
                b.1 += n;
                return;
            }
            if self.n < self.k {
                self.bins[self.n] = (p, n);
                self.n += 1;
                return;
            }
            if self.h <= MIN_SCHEMA {
                // Unreachable at -4 (every bucket fits); kept counted in the
                // nearest bucket rather than lost.
                if let Some(b) = self.bins[..self.n]
                    .iter_mut()
                    .min_by_key(|b| (b.0 - p).abs())
                {
                    b.1 += n;
                }
                return;
            }
            self.halve();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn core(schema: i8, max: u32) -> NativeCore {
        let cfg = NativeConfig {
            schema,
            zero_threshold: 0.0,
            max_buckets: max,
        };
        NativeCore::new(cfg.validated().unwrap(), Geometry::new(1_000, 4), 0)
    }

    #[test]
    fn buckets_zero_and_signs() {
        let h = core(0, 160);
        for v in [1.0, 1.5, 2.0, 0.0, -0.0, -3.0, f64::NAN, f64::INFINITY] {
            h.observe(v, 0, || 0);
        }
        let s = h.snapshot(8, f64::NAN);
        assert_eq!(s.schema, 0);
        assert_eq!(s.zero_count, 2);
        assert_eq!(s.positive, vec![(0, 1), (1, 2), (1025, 1)]);
        assert_eq!(s.negative, vec![(2, 1)]);
        assert_eq!(s.bucket_total(), 7);
        assert_eq!(s.count, 8);
    }

    #[test]
    fn too_many_buckets_halve_the_resolution() {
        let h = core(2, 4);
        // Indexes 4, 5, 6, 7, 8 at schema 2: 2^(1/4) apart from 2 up.
        let vs: Vec<f64> = (4..=8).map(|i| native_upper_bound(i, 2)).collect();
        for &v in &vs {
            h.observe(v, 0, || 0);
        }
        let s = h.snapshot(5, 0.0);
        // Five buckets > 4: schema 1, where they are 2, 3, 3, 4, 4.
        assert_eq!(s.schema, 1);
        assert_eq!(s.positive, vec![(2, 1), (3, 2), (4, 2)]);
        assert_eq!(h.used.load(Ordering::Relaxed), 3);
        // Later observations land at the new schema.
        h.observe(vs[0], 0, || 0);
        assert_eq!(h.snapshot(6, 0.0).positive, vec![(2, 2), (3, 2), (4, 2)]);
    }

    #[test]
    fn a_full_table_at_the_lowest_schema_files_nearby() {
        let h = core(-4, 2);
        // Capacity 4; every power 2^(16k) is its own bucket at schema -4.
        for k in 0..6 {
            h.observe(2f64.powi(16 * k - 40), 0, || 0);
        }
        let s = h.snapshot(6, 0.0);
        assert_eq!(s.schema, -4);
        assert_eq!(s.bucket_total(), 6);
        assert!(s.positive.len() <= 4);
    }

    #[test]
    fn bad_configs_are_typed_errors() {
        for (cfg, what) in [
            ((9, 0.0, 10), "native schema"),
            ((-5, 0.0, 10), "native schema"),
            ((0, -1.0, 10), "native zero threshold"),
            ((0, f64::NAN, 10), "native zero threshold"),
            ((0, f64::INFINITY, 10), "native zero threshold"),
            ((0, 0.0, 1), "native max buckets"),
        ] {
            let c = NativeConfig {
                schema: cfg.0,
                zero_threshold: cfg.1,
                max_buckets: cfg.2,
            };
            match c.validated() {
                Err(Error::InvalidConfig { what: w, .. }) => assert_eq!(w, what),
                other => panic!("{cfg:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn windowed_quantiles_use_the_epochs_in_the_window() {
        let h = core(3, 160);
        for _ in 0..10 {
            h.observe(1.0, 0, || 0);
        }
        for _ in 0..10 {
            h.observe(100.0, 1_000, || 1_000);
        }
        let err = native_quantile_error(3);
        let q = h.quantile(0.5, 1_500, Duration::from_nanos(1));
        assert!((q - 100.0).abs() <= 100.0 * err, "{q}");
        let q = h.quantile(0.25, 1_500, Duration::from_nanos(2_000));
        assert!((q - 1.0).abs() <= err, "{q}");
        assert!(h.quantile(0.5, 10_000, Duration::from_nanos(1)).is_nan());
    }

    #[test]
    fn stored_keys_name_their_schema_and_fit_the_bins() {
        assert_eq!(key_offset(MIN_SCHEMA), 0);
        assert!(key_offset(MAX_HISTORY_SCHEMA + 1) - 1 <= MAX_KEY);
        for h in MIN_SCHEMA..=MAX_HISTORY_SCHEMA {
            let r = key_range(h).0;
            for p in [-2 * r, -1, 0, 1, 2 * r] {
                let (hh, k) = split_key(epoch_key(h, p));
                assert_eq!((hh, k), (h, local_key(h, p)), "h={h} p={p}");
            }
        }
    }

    #[test]
    fn positions_increase_with_the_value_at_every_schema() {
        let vs = [
            -1e300, -5.0, -1e-30, 0.0, 1e-300, 1e-30, 1.0, 1.0001, 7.0, 1e300,
        ];
        for h in MIN_SCHEMA..=MAX_HISTORY_SCHEMA {
            let keys: Vec<usize> = vs
                .iter()
                .map(|&v| {
                    let p = if v == 0.0 {
                        0
                    } else {
                        position(h, v < 0.0, native_index(v, h))
                    };
                    local_key(h, p)
                })
                .collect();
            assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{h}: {keys:?}");
            // Halving keeps the order.
            if h > MIN_SCHEMA {
                let down: Vec<usize> = keys.iter().map(|&k| rekey(k, h, h - 1)).collect();
                assert!(down.windows(2).all(|w| w[0] <= w[1]), "{h}: {down:?}");
            }
        }
    }

    #[test]
    fn an_epoch_with_too_many_buckets_halves_its_schema_and_keeps_its_count() {
        let h = core(3, 160);
        // 40 buckets at schema 3 from 1 up (2^(1/8) apart), twice each.
        for i in 1..=40 {
            for _ in 0..2 {
                h.observe(native_upper_bound(i, 3), 0, || 0);
            }
        }
        h.observe(1_000.0, 1_000, || 1_000);
        let mut seen = Vec::new();
        h.for_each_epoch_bins(1_500, 0, 1, |x, s, bins| {
            seen.push((x, s, bins.len(), bins.iter().map(|b| b.count).sum::<u64>()))
        });
        // 40 buckets over 5 powers of two: 10 at schema 1 (16 at schema 2).
        assert_eq!(seen, [(0, 1, 10, 80), (1, 3, 1, 1)]);
        let err = native_quantile_error(1);
        let q = h.quantile(0.5, 1_500, Duration::from_nanos(2_000));
        let want = native_upper_bound(21, 3);
        assert!((q - want).abs() <= err * want, "{q} vs {want}");
    }

    #[test]
    fn every_bucket_of_the_kept_range_fits_an_epoch_at_schema_minus_four() {
        // 2^(16 i) and 2^(16 i - 8) for i in -3..=4 (one bucket at -4, two at
        // -3), both signs, and zero: 33 buckets at -3, 17 at -4, from a
        // history schema of 5 down.
        let h = core(8, 160);
        let mut vs = vec![0.0];
        for i in -3..=4 {
            for v in [2f64.powi(16 * i), 2f64.powi(16 * i - 8)] {
                vs.extend([v, -v]);
            }
        }
        for &v in &vs {
            h.observe(v, 0, || 0);
        }
        h.observe(1.0, 1_000, || 1_000);
        let mut seen = Vec::new();
        h.for_each_epoch_bins(1_500, 0, 0, |x, s, bins| {
            let mut keys: Vec<usize> = bins.iter().map(|b| b.lo).collect();
            keys.sort_unstable();
            keys.dedup();
            seen.push((x, s, keys.len(), bins.iter().map(|b| b.count).sum::<u64>()))
        });
        assert_eq!(seen, [(0, -4, 17, 33)]);
        for q in [0.0, 0.3, 0.5, 0.8, 1.0] {
            let mut sorted = vs.clone();
            sorted.sort_by(f64::total_cmp);
            let want = sorted[((q * 33.0f64).ceil() as usize).clamp(1, 33) - 1];
            let got = h.quantile(q, 500, Duration::from_nanos(1));
            let err = native_quantile_error(-4);
            assert!(
                (got - want).abs() <= err * want.abs(),
                "q={q}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn a_reduction_moves_the_open_epochs_increases_with_their_buckets() {
        let h = core(2, 4);
        h.observe(native_upper_bound(4, 2), 0, || 0);
        h.observe(1_000.0, 1_000, || 1_000);
        // Epoch 1: five buckets > 4, so the table halves to schema 1 mid-epoch.
        for i in 4..=8 {
            h.observe(native_upper_bound(i, 2), 1_000, || 1_000);
        }
        // Epoch 2: a fifth bucket halves it again.
        h.observe(1.0, 2_000, || 2_000);
        let mut seen = Vec::new();
        h.for_each_epoch_bins(2_500, 0, 2, |x, s, bins| {
            seen.push((x, s, bins.iter().map(|b| b.count).sum::<u64>()))
        });
        assert_eq!(seen, [(0, 2, 1), (1, 1, 6), (2, 0, 1)]);
        assert_eq!(h.snapshot(8, 0.0).bucket_total(), 8);
    }
}
