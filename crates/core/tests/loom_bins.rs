//! loom: the sparse per-epoch bins of histograms and summaries when a slot is
//! full (claims racing for a word, a bin widening, two bins merging to free a
//! word). Writers and a reader in their own threads, three threads under a
//! preemption bound of 3. The restart of a slot by a fill is modelled with the
//! summaries (`loom_summary.rs`).
#![cfg(loom)]

mod loom_common;

use lakemetrics_core::loom_hooks::{bins, bins_add, bins_view};
use loom::sync::Arc;
use loom::thread;
use loom_common::model;

/// Bins are disjoint, within the keys observed, and count at most `n`.
fn check(view: &[(usize, usize, u64)], keys: &[usize], n: u64) {
    let (min, max) = (keys.iter().min().unwrap(), keys.iter().max().unwrap());
    assert!(view.iter().map(|b| b.2).sum::<u64>() <= n, "{view:?}");
    for w in view.windows(2) {
        assert!(w[0].1 < w[1].0, "overlapping bins: {view:?}");
    }
    assert!(view.iter().all(|b| b.0 <= b.1 && b.0 >= *min && b.1 <= *max), "{view:?}");
}

/// Three keys racing into two bins: whichever two claim first, the third
/// widens a bin or makes two merge, and every observation is counted once, in
/// a bin that holds its key. A reader in its own thread never sees more than
/// was observed, or overlapping bins.
#[test]
fn three_keys_in_two_bins_are_each_counted_once() {
    for keys in [[1usize, 2, 9], [9, 2, 1]] {
        model(move || {
            let b = Arc::new(bins(1, 2));
            let writers: Vec<_> = keys[..2]
                .iter()
                .map(|&k| {
                    let b = b.clone();
                    thread::spawn(move || bins_add(&b, 0, 0, k))
                })
                .collect();
            let r = {
                let b = b.clone();
                thread::spawn(move || check(&bins_view(&b, 0, 0), &keys, 3))
            };
            bins_add(&b, 0, 0, keys[2]);
            for w in writers {
                w.join().unwrap();
            }
            r.join().unwrap();
            let view = bins_view(&b, 0, 0);
            check(&view, &keys, 3);
            assert_eq!(view.iter().map(|b| b.2).sum::<u64>(), 3, "{view:?}");
            for k in keys {
                assert!(view.iter().any(|b| b.0 <= k && k <= b.1), "{k}: {view:?}");
            }
        });
    }
}

/// Two writers of one key racing for the same empty word: one claims it, the
/// other counts into it; no second bin for the key.
#[test]
fn one_key_racing_for_an_empty_word_takes_one_bin() {
    model(|| {
        let b = Arc::new(bins(1, 2));
        let a = {
            let b = b.clone();
            thread::spawn(move || bins_add(&b, 0, 0, 4))
        };
        bins_add(&b, 0, 0, 4);
        a.join().unwrap();
        assert_eq!(bins_view(&b, 0, 0), [(4, 4, 2)]);
    });
}
