//! Native (exponential) histograms: sparse buckets of [`crate::native_index`] in
//! a fixed table of atomic words, a zero bucket, a schema that halves its
//! resolution when the buckets outgrow their limit, and per epoch of the ring the
//! epoch's observations in the shared sparse bins (see [`super::bins`]).
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
//!   (Acquire; odd: a migration runs, retry), the entries (Acquire), `t2`
//!   (Relaxed): the copy is taken iff `t1 == t2`. A copy that saw any write of a
//!   migration synchronizes with it (Release), so the odd word that migration
//!   stored before it is visible to `t2` and the copy is thrown away; a reader
//!   never sees a bucket moved twice or not at all. Entries are merged down to the
//!   coarsest schema among `t1` and the entries.
//!
//! # History
//!
//! Per epoch, the epoch's observations as keys of 14 bits in [`NATIVE_BINS`]
//! bins, through the ring protocol of summaries (a fill resets the slot's bins).
//! Keys use the history schema `h = min(schema, 5)` (fixed at creation, so
//! reductions of the cumulative schema do not touch history). With `r = 64 · 2^h`
//! and `i` a value's index at `h` clamped to `1-r..=r` (`|v|` from 2^-64 to 2^64;
//! values beyond are filed at the ends), key `2r` is the zero bucket, `2r + r + i`
//! a positive value and `2r - (r + i)` a negative one: at most `4r + 1 <= 8193`
//! keys, which increase
//! with the value, so a rank over keys is a rank over values.
//!
//! A windowed quantile takes the key at the asked nearest rank over the window's
//! bins and answers its bucket's geometric middle `base^(i - 1/2)`: the true value
//! `v` is in `(base^(i-1), base^i]`, so the answer is off by a factor of at most
//! `sqrt(base)`, a relative error of at most `sqrt(base) - 1` (<= `base - 1`,
//! see [`native_quantile_error`]), while each epoch's observations fall in at
//! most [`NATIVE_BINS`] keys and inside the clamped range.
//!
//! # Memory
//!
//! Per series: 8 bytes per table entry (256 entries for the default limit of 160
//! buckets: 2,048 bytes), the inline state (`size_of::<NativeCore>()`), and with
//! history 8 bytes of rows and 8 per bin per epoch: `60 * (8 + 16 * 8) = 8,160`
//! bytes for 60 epochs. `NativeCore::memory_bytes` gives the exact figure.

use std::time::Duration;

use super::bins::{lap_tag, rank_key, with_bins, Bins};
use super::ring::{Filled, Rows};
use super::window::window_epochs;
use crate::native_index::{native_index, native_upper_bound, reduce_index, MAX_SCHEMA, MIN_SCHEMA};
use crate::retention::Geometry;
use crate::sync::{mutant, ord, AtomicU64, Ordering};
use crate::{Error, Result};

/// Bins per epoch of a native histogram's history.
pub const NATIVE_BINS: usize = 16;
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
    table: Box<[AtomicU64]>,
    /// Per slot: the zero count when the epoch started (the rows carry the
    /// ring's laps for the bins).
    rows: Rows<1>,
    /// Per slot: the epoch's observations by history key.
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
        let now_e = geometry.epoch(now);
        let k = if geometry.is_lifetime() {
            1
        } else {
            NATIVE_BINS
        };
        NativeCore {
            state: AtomicU64::new(state(0, config.schema)),
            used: AtomicU64::new(0),
            zero: AtomicU64::new(0),
            table: (0..config.capacity()).map(|_| AtomicU64::new(0)).collect(),
            rows: Rows::new(&geometry, now_e, |_| 0, None),
            bins: Bins::new(&geometry, k, now_e)
                .with_keys(2 * key_range(config.schema.min(MAX_HISTORY_SCHEMA)).1 + 1),
            config,
            geometry,
        }
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
            config.capacity() * std::mem::size_of::<AtomicU64>(),
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
        if !g.is_lifetime() {
            let e = match self.rows.current(g, now) {
                Some(head) => head,
                None => self.start(now, fresh),
            };
            let (lap, slot) = g.lap_slot(e);
            self.bins.add(slot, lap_tag(lap), self.history_key(v));
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
    /// migration); `limit`: a claim may start a reduction.
    #[inline]
    fn record(&self, k: u64, n: u64, rel: Ordering, limit: bool) {
        match self.add(k, n, rel) {
            Some(false) => {}
            Some(true) => {
                // Relaxed: only decides whether to reduce; the reduction checks
                // again under its CAS.
                let used = self.used.fetch_add(1, Ordering::Relaxed) + 1;
                if limit && used > u64::from(self.config.max_buckets) {
                    self.reduce();
                }
            }
            None => self.full(k, n, rel, limit),
        }
    }

    /// Probes for `k`: `Some(claimed)` once `n` is added, `None` if no entry
    /// holds `k` with room and none is free.
    #[inline]
    fn add(&self, k: u64, n: u64, rel: Ordering) -> Option<bool> {
        let table = &*self.table;
        let mask = table.len() - 1;
        // Fibonacci hashing of the key bits (the count bits of `k` are zero): the
        // product's top bits, so that neighbouring indexes spread over the table.
        let bits = table.len().trailing_zeros();
        let h = (k >> COUNT_BITS).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let start = (h.checked_shr(64 - bits).unwrap_or(0)) as usize & mask;
        for p in 0..table.len() {
            let w = &table[(start + p) & mask];
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
                    Ok(_) => return Some(claim),
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
    fn full(&self, k: u64, n: u64, rel: Ordering, limit: bool) {
        if limit && self.reduce() {
            let st = self.state.load(Ordering::Relaxed);
            let s = state_schema(st);
            let (ks, neg, i) = (entry_schema(k), entry_neg(k), entry_index(k));
            let k = key(s, neg, reduce_index(i, (ks - s).max(0) as u32));
            if let Some(claimed) = self.add(k, n, rel) {
                if claimed {
                    self.used.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
        }
        let (ks, neg, i) = (entry_schema(k), entry_neg(k), entry_index(k));
        loop {
            // The nearest entry of the sign, compared at the coarser schema.
            let mut best: Option<(i64, usize, u64)> = None;
            for (j, w) in self.table.iter().enumerate() {
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
                return;
            };
            if self.table[j]
                .compare_exchange(cur, cur + n, rel, Ordering::Relaxed)
                .is_ok()
            {
                return;
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
            // Relaxed: readers synchronize with the migration's Release writes and
            // the Release store that ends it; this CAS is sequenced before them.
            if self
                .state
                .compare_exchange(
                    st,
                    state(v + 1, s - 1),
                    Ordering::Relaxed,
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
        for w in self.table.iter() {
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
                        self.record(k, entry_count(cur), rel, false);
                        break;
                    }
                    Err(now) => cur = now,
                }
            }
        }
    }

    /// Calls `f(schema, zero, entries)` with a consistent copy of the table (see
    /// the module docs): `entries` are raw words, `schema` the coarsest among
    /// them and the schema word.
    fn read<R>(&self, f: impl FnOnce(i8, u64, &[u64]) -> R) -> R {
        crate::storage::window::with_scratch(|words| loop {
            // Acquire: pairs with the Release store that ends a migration.
            let t1 = self.state.load(ord!(Acquire, "native.read.t1.acquire"));
            if state_version(t1) % 2 == 1 {
                spin();
                continue;
            }
            words.clear();
            let mut s = state_schema(t1);
            for w in self.table.iter() {
                // Acquire: pairs with a migration's Release writes (module docs).
                let w = w.load(ord!(Acquire, "native.read.entry.acquire"));
                if w != 0 {
                    s = s.min(entry_schema(w));
                    words.push(w);
                }
            }
            // Relaxed: `zero` is no part of a migration.
            let zero = self.zero.load(Ordering::Relaxed);
            // Relaxed: ordered after the Acquire loads above (module docs).
            let t2 = self.state.load(Ordering::Relaxed);
            if t1 == t2 || mutant("native.read.no_recheck") {
                break f(s, zero, words);
            }
            spin();
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

    /// The ring, its rows and the history bins, for readers of history beside
    /// [`NativeCore::quantile`] (see `super::native_window`).
    pub(crate) fn history(&self) -> (&Geometry, &Rows<1>, &Bins) {
        (&self.geometry, &self.rows, &self.bins)
    }

    /// How many history keys there are (module docs): `4r + 1`.
    pub(crate) fn history_keys(&self) -> usize {
        2 * key_range(self.history_schema()).1 + 1
    }

    /// The history schema (module docs).
    pub(crate) fn history_schema(&self) -> i8 {
        self.config.schema.min(MAX_HISTORY_SCHEMA)
    }

    /// The history key of `v` (not NaN).
    #[inline]
    fn history_key(&self, v: f64) -> usize {
        let (r, zero) = key_range(self.history_schema());
        if v.abs() <= self.config.zero_threshold {
            return zero;
        }
        let i = (native_index(v, self.history_schema()).clamp(1 - r, r) + r) as usize;
        if v < 0.0 {
            zero - i
        } else {
            zero + i
        }
    }

    /// The value a history key stands for: its bucket's geometric middle.
    pub(crate) fn key_value(&self, key: usize) -> f64 {
        let s = self.history_schema();
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

    /// Fills the ring up to the epoch of `now` and returns the epoch the
    /// observation goes to (as summaries do).
    #[cold]
    #[inline(never)]
    fn start(&self, now: u64, fresh: impl FnOnce() -> u64) -> u64 {
        let g = &self.geometry;
        let e = g.epoch(now);
        let base = |_| self.zero.load(Ordering::Relaxed) & super::ring::PAYLOAD_MASK;
        let reset = |x: u64, lx: u64, ls: u64| self.bins.reset(g.slot(x), lx, ls);
        if self.rows.fill(g, e, base, reset) == Filled::Behind {
            let empty = |x: u64, lx: u64| self.bins.empty(g.slot(x), lx);
            return match self.rows.catch_up(g, fresh, base, empty) {
                Some(back) => back,
                None => self.rows.head_hint().max(e),
            };
        }
        e
    }

    /// The `q`-quantile of the observations in the epochs covering
    /// `(now - window, now]`, within [`native_quantile_error`] of the history
    /// schema (module docs); NaN when there were none. Without history, the
    /// quantile of the cumulative buckets at their current schema.
    pub fn quantile(&self, q: f64, now: u64, window: Duration) -> f64 {
        let g = &self.geometry;
        if g.is_lifetime() {
            return self.cumulative_quantile(q);
        }
        let (first, last) = window_epochs(g, now, window);
        let now_e = g.epoch(now);
        let head = self.rows.head();
        let last = last.min(head).min(now_e);
        let first = first
            .max(g.oldest_retained(now_e))
            .max(g.oldest_retained(head));
        with_bins(|bins| {
            self.rows.read_run(g, first, last, |x, _| {
                let (lap, slot) = g.lap_slot(x);
                self.bins.for_each(slot, lap, |b| bins.push(b));
            });
            let total = bins.iter().map(|b| b.count).sum();
            match rank_key(bins, q, total) {
                Some(k) => self.key_value(k),
                None => f64::NAN,
            }
        })
    }

    /// The nearest-rank `q`-quantile of the cumulative buckets (their geometric
    /// middles); NaN when empty.
    fn cumulative_quantile(&self, q: f64) -> f64 {
        let snap = self.snapshot(0, 0.0);
        let total = snap.bucket_total();
        if total == 0 || q.is_nan() {
            return f64::NAN;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).clamp(1, total);
        let mid = |i: i32| {
            (native_upper_bound(i, snap.schema) * native_upper_bound(i - 1, snap.schema)).sqrt()
        };
        let mut seen = 0u64;
        for &(i, c) in snap.negative.iter().rev() {
            seen += c;
            if seen >= rank {
                return -mid(i);
            }
        }
        seen += snap.zero_count;
        if seen >= rank {
            return 0.0;
        }
        for &(i, c) in &snap.positive {
            seen += c;
            if seen >= rank {
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
    fn history_keys_increase_with_the_value() {
        let h = core(8, 160);
        let vs = [
            -1e300, -5.0, -1e-30, 0.0, 1e-300, 1e-30, 1.0, 1.0001, 7.0, 1e300,
        ];
        let keys: Vec<usize> = vs.iter().map(|&v| h.history_key(v)).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
        assert!(keys.iter().all(|&k| k <= crate::storage::bins::MAX_KEY));
    }
}
