//! Saving and restoring a native histogram's part (checkpoints): its cumulative
//! buckets, and per saved epoch the epoch's history bins.
//!
//! History is read as [`NativeCore::quantile`] reads it (the rows' run up to the
//! head, each epoch's bins by its lap); restoring writes the rows and bins of a
//! fresh, unshared series as the summaries' restore does, and the buckets through
//! the writers' own filing ([`NativeCore::load_buckets`]).

use super::native::{
    key_offset, split_key, NativeConfig, NativeCore, MAX_COUNT, MAX_HISTORY_SCHEMA, NATIVE_BINS,
};
use super::ring::PAYLOAD_MASK;
use super::state::{restored_epochs, NativeState, Restored};
use crate::native_index::MIN_SCHEMA;

/// A saved history bin: stored key, stored key again (one bucket a bin), count.
type SavedBin = (u32, u32, u64);

/// Whether `state` fits a native part configured as `config` whose histogram
/// saved `epochs` epochs; the reason if not: a schema outside `-4..=` the
/// configured one, buckets not in strictly increasing index order, with a zero
/// count or an index no entry holds, or more than the table can hold, per-epoch bin counts that disagree with
/// the epochs or the bins, or bins outside the history keys or the 32-bit
/// count of a bin.
pub(crate) fn check(
    config: &NativeConfig,
    state: &NativeState,
    epochs: usize,
) -> std::result::Result<(), String> {
    // Stored history keys: each history schema's block of keys (module docs
    // of `native`), up to the family's history schema.
    let h_max = config.schema.min(MAX_HISTORY_SCHEMA);
    let keys = key_offset(h_max + 1);
    if !(MIN_SCHEMA..=config.schema).contains(&state.schema) {
        return Err(format!(
            "native schema {} is outside {MIN_SCHEMA}..={}",
            state.schema, config.schema
        ));
    }
    for (side, b) in [("positive", &state.positive), ("negative", &state.negative)] {
        if !b.windows(2).all(|w| w[0].0 < w[1].0) {
            return Err(format!(
                "{side} native buckets are not in increasing index order"
            ));
        }
        if b.iter()
            .any(|x| x.1 == 0 || !(-(1 << 19)..(1 << 19)).contains(&x.0))
        {
            return Err(format!("a {side} native bucket is empty or out of range"));
        }
    }
    // Each entry of the table holds at most MAX_COUNT: a live histogram never
    // needs more entries than its table has (this also bounds the work of a
    // restore, whatever the counts say).
    let entries: u64 = state
        .positive
        .iter()
        .chain(&state.negative)
        .map(|b| b.1.div_ceil(MAX_COUNT))
        .sum();
    if entries > config.capacity() as u64 {
        return Err(format!(
            "native buckets need {entries} table entries, the family's table has {}",
            config.capacity()
        ));
    }
    if state.bins_per_epoch.len() != epochs
        || state
            .bins_per_epoch
            .iter()
            .map(|&n| n as usize)
            .sum::<usize>()
            != state.bins.len()
    {
        return Err("native history columns disagree".into());
    }
    if state
        .bins_per_epoch
        .iter()
        .any(|&n| n as usize > NATIVE_BINS)
    {
        return Err(format!(
            "an epoch has more than {NATIVE_BINS} native history bins"
        ));
    }
    if let Some(b) = state.bins.iter().find(|&&(lo, hi, c)| {
        lo != hi
            || hi as usize >= keys
            || split_key(lo as usize).0 > h_max
            || c == 0
            || c > u64::from(u32::MAX)
    }) {
        return Err(format!(
            "native history bin {b:?} is not one of the {keys} history keys or is empty"
        ));
    }
    Ok(())
}

impl NativeCore {
    /// The saved state at `now`: the buckets, and for each of `epochs` (the
    /// histogram's saved epochs, ascending) the epoch's history bins (none for
    /// an epoch the ring no longer holds).
    pub(crate) fn capture(&self, now: u64, epochs: &[u64]) -> NativeState {
        let snap = self.snapshot(0, 0.0);
        let mut out = NativeState {
            schema: snap.schema,
            zero_count: snap.zero_count,
            positive: snap.positive,
            negative: snap.negative,
            bins_per_epoch: Vec::with_capacity(epochs.len()),
            bins: Vec::new(),
        };
        let (Some(&lo), Some(&hi)) = (epochs.first(), epochs.last()) else {
            return out;
        };
        // Each epoch's bins at its own history schema, as stored keys.
        let mut read: Vec<(u64, Vec<SavedBin>)> = Vec::new();
        self.for_each_epoch_bins(now, lo, hi, |x, h, bins| {
            let at = key_offset(h);
            let v = bins
                .iter()
                .map(|b| ((at + b.lo) as u32, (at + b.hi) as u32, b.count))
                .collect();
            read.push((x, v));
        });
        for &x in epochs {
            let mine = read.iter().find(|r| r.0 == x).map_or(&[][..], |r| &r.1[..]);
            out.bins_per_epoch.push(mine.len() as u32);
            out.bins.extend_from_slice(mine);
        }
        out
    }

    /// Loads `state` (history too if `history`) into this fresh, unshared part
    /// whose histogram saved epochs `epochs`; saved epochs after its creation
    /// epoch are dropped. Returns false, and changes nothing, if the state does
    /// not fit (see [`check`]).
    pub(crate) fn restore(&self, state: &NativeState, epochs: &[u64], history: bool) -> bool {
        if check(&self.config(), state, epochs.len()).is_err() {
            return false;
        }
        let buckets = state
            .negative
            .iter()
            .map(|&(i, c)| (true, i, c))
            .chain(state.positive.iter().map(|&(i, c)| (false, i, c)));
        if !self.load_buckets(state.schema, state.zero_count, buckets) {
            return false;
        }
        // The loaded counts are no increase of the open epoch.
        self.rebase_loaded();
        let open = self.open_epoch();
        let (g, rows) = self.history();
        let head = rows.head_hint();
        // Where each saved epoch's bins start in `state.bins`.
        let starts: Vec<usize> = state
            .bins_per_epoch
            .iter()
            .scan(0usize, |at, &n| {
                let s = *at;
                *at += n as usize;
                Some(s)
            })
            .collect();
        let zero = state.zero_count & PAYLOAD_MASK;
        let mut put: Vec<(usize, u64)> = Vec::new();
        for (x, from) in restored_epochs(g, head, epochs, history) {
            match from {
                Restored::Saved(i) => {
                    rows.put(g, x, [zero]);
                    if epochs[i] == x && x <= open {
                        let n = state.bins_per_epoch[i] as usize;
                        put.clear();
                        put.extend(
                            state.bins[starts[i]..starts[i] + n]
                                .iter()
                                .map(|&(k, _, c)| (k as usize, c)),
                        );
                        if x < open {
                            self.put_epoch_bins(x, &put);
                        } else {
                            // The open epoch's increases are the entries'
                            // counts over their bases.
                            self.reopen_loaded(&put);
                        }
                    }
                }
                Restored::Cumulative => rows.put(g, x, [zero]),
                Restored::Zero => rows.put(g, x, [0]),
            }
        }
        true
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::time::Duration;

    use super::super::native::{NativeConfig, NativeCore};
    use crate::retention::Geometry;

    const W: u64 = 1_000;

    fn core(now: u64) -> NativeCore {
        let cfg = NativeConfig {
            schema: 3,
            zero_threshold: 0.0,
            max_buckets: 160,
        };
        NativeCore::new(cfg.validated().unwrap(), Geometry::new(W, 8), now)
    }

    #[test]
    fn buckets_and_history_survive_a_capture_and_restore() {
        let h = core(0);
        for e in 0..4u64 {
            for v in [0.0, -1.5, 2.0, 10f64.powi(e as i32)] {
                h.observe(v, e * W, || e * W);
            }
        }
        let now = 3 * W + 1;
        let epochs = [0, 1, 2, 3];
        let saved = h.capture(now, &epochs);
        assert_eq!(saved.bins_per_epoch.len(), 4);
        let fresh = core(now);
        assert!(fresh.restore(&saved, &epochs, true));
        assert_eq!(fresh.snapshot(16, 0.0), h.snapshot(16, 0.0));
        for q in [0.0, 0.3, 0.5, 0.9, 1.0] {
            for w in [1, 2, 4] {
                let w = Duration::from_nanos(w * W);
                let (a, b) = (h.quantile(q, now, w), fresh.quantile(q, now, w));
                assert_eq!(a.to_bits(), b.to_bits(), "q {q} window {w:?}");
            }
        }
        // Without history: the buckets only.
        let cold = core(now);
        assert!(cold.restore(&saved, &epochs, false));
        assert_eq!(cold.snapshot(16, 0.0), h.snapshot(16, 0.0));
        assert!(cold
            .quantile(0.5, now, Duration::from_nanos(4 * W))
            .is_nan());
    }

    #[test]
    fn states_that_do_not_fit_are_refused() {
        let h = core(0);
        h.observe(1.0, 0, || 0);
        let saved = h.capture(0, &[0]);
        let bad = [
            {
                let mut s = saved.clone();
                s.schema = 4; // finer than the family's
                s
            },
            {
                let mut s = saved.clone();
                s.positive = vec![(3, 1), (3, 1)];
                s
            },
            {
                let mut s = saved.clone();
                s.positive = vec![(3, 0)];
                s
            },
            {
                let mut s = saved.clone();
                s.positive = vec![(1 << 20, 1)];
                s
            },
            {
                let mut s = saved.clone();
                s.positive = vec![(3, u64::MAX)]; // more than the table holds
                s
            },
            {
                let mut s = saved.clone();
                s.bins_per_epoch = vec![];
                s
            },
            {
                let mut s = saved.clone();
                s.bins = vec![(9000, 9000, 1)];
                s
            },
            {
                let mut s = saved.clone();
                s.bins = vec![(5, 4, 1)];
                s
            },
        ];
        for s in bad {
            let fresh = core(0);
            assert!(!fresh.restore(&s, &[0], true), "{s:?}");
            assert_eq!(fresh.snapshot(0, 0.0).bucket_total(), 0, "{s:?}");
        }
    }
}
