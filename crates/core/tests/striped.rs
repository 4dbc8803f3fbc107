//! Striped families (`Describe::striped`) through the public API: threads that
//! record into one series at once, epoch after epoch, leave the same totals and
//! the same per-epoch history as the recordings add up to, and as an
//! unstriped family given the same recordings.

use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{
    Describe, Filter, HistogramPoint, ManualClock, Registry, Retention, SeriesData, TimeRange,
};

const THREADS: u64 = 4;
const EPOCHS: u64 = 6;
/// What the histogram threads observe, in turn: four values in four buckets of
/// the default layout (0.005, 0.25, 2.5 and +Inf), so that every epoch's
/// history keeps its per-bucket counts exactly (`HISTOGRAM_BINS` is 4). With
/// more buckets per epoch the bins merge, and how they merge depends on the
/// order in which racing writers close the buckets: the history is then exact
/// in each epoch's total only, for striped and plain families alike.
const VALUES: [f64; 4] = [0.0, 0.25, 2.5, 11.75];
/// The bucket of each of `VALUES`.
const VALUE_BUCKETS: [usize; 4] = [0, 5, 8, 11];

fn registry(clock: &Arc<ManualClock>) -> Registry {
    Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(10)).unwrap())
        .build()
}

/// Epoch `e`'s recordings by thread `t`: how many, and what each adds.
fn plan(e: u64, t: u64) -> (u64, u64) {
    (100 + 37 * e + t, 1 + (e + t) % 3)
}

/// Per epoch, `(start, increase)` of the counter `name`, and its total.
fn counter_history(reg: &Registry, name: &str) -> (Vec<(u64, u64)>, u64) {
    let mut out = (Vec::new(), 0);
    reg.visit(&Filter::all(), |fam| {
        for s in fam.series() {
            if let SeriesData::Counter(c) = s.data() {
                if fam.name() == name {
                    c.for_each_point(s.now(), TimeRange::ALL, |p| {
                        out.0.push((p.start, p.increase))
                    });
                    out.1 = c.total();
                }
            }
        }
    });
    out
}

/// Per epoch, `(start, counts, sum)` of the histogram `name`.
fn histogram_history(reg: &Registry, name: &str) -> Vec<(u64, Vec<u64>, f64)> {
    let mut out = Vec::new();
    reg.visit(&Filter::all(), |fam| {
        for s in fam.series() {
            if let SeriesData::Histogram(h) = s.data() {
                if fam.name() == name {
                    h.for_each_point(s.now(), TimeRange::ALL, |p: HistogramPoint<'_>| {
                        out.push((p.start, p.counts.to_vec(), p.sum))
                    });
                }
            }
        }
    });
    out
}

#[test]
fn threads_recording_into_one_striped_series_keep_exact_history() {
    let start = 1_700_000_000_000_000_000;
    let clock = Arc::new(ManualClock::new(start));
    let reg = registry(&clock);
    reg.register(Describe::counter("striped_total").striped())
        .unwrap();
    reg.register(Describe::histogram("striped_seconds").striped())
        .unwrap();
    let c = reg.counter("striped_total", &[]).unwrap();
    let plain = reg.counter("plain_total", &[]).unwrap();
    let h = reg.histogram("striped_seconds", &[]).unwrap();
    let plain_h = reg.histogram("plain_seconds", &[]).unwrap();
    assert!(c.core().stripes() >= 2 && h.core().stripes() >= 2);
    assert_eq!(plain.core().stripes(), 0);

    let mut want = Vec::new();
    for e in 0..EPOCHS {
        // This thread opens the epoch (one observation of 0.0 and a counter
        // add of 1); then all threads at once within it; the clock moves
        // between epochs. Writers that race to open an epoch may leave their
        // recordings in either epoch of the boundary (the ring's contract; see
        // the loom models), so the exact per-epoch figures below need the
        // epoch opened first: what this test checks is that striping keeps
        // them exact.
        c.inc();
        plain.inc();
        h.observe(VALUES[0]);
        plain_h.observe(VALUES[0]);
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (c, plain, h, plain_h) = (&c, &plain, &h, &plain_h);
                s.spawn(move || {
                    let (n, by) = plan(e, t);
                    for i in 0..n {
                        c.inc_by(by);
                        plain.inc_by(by);
                        // Quarters: the sums are exact in any order.
                        let v = VALUES[(i % 4) as usize];
                        h.observe(v);
                        plain_h.observe(v);
                    }
                });
            }
        });
        let inc: u64 = 1
            + (0..THREADS)
                .map(|t| plan(e, t).0 * plan(e, t).1)
                .sum::<u64>();
        want.push((start + e * 1_000_000_000, inc));
        clock.advance(Duration::from_secs(1));
    }
    clock.advance(Duration::from_millis(500));

    let (history, total) = counter_history(&reg, "striped_total");
    assert_eq!(history, want);
    assert_eq!(total, want.iter().map(|w| w.1).sum::<u64>());
    assert_eq!(c.get(), plain.get());
    assert_eq!(counter_history(&reg, "plain_total").0, want);
    for w in [1, 3, 10] {
        let w = Duration::from_secs(w);
        assert_eq!(c.increase(w), plain.increase(w));
    }

    let hist = histogram_history(&reg, "striped_seconds");
    assert_eq!(hist.len(), EPOCHS as usize);
    assert_eq!(hist, histogram_history(&reg, "plain_seconds"));
    assert_eq!(h.snapshot(), plain_h.snapshot());
    for (k, (_, counts, sum)) in hist.iter().enumerate() {
        // The opener's observation of 0.0, then the threads'.
        let mut want_counts = vec![0; 12];
        want_counts[VALUE_BUCKETS[0]] += 1;
        let mut want_sum = 0.0;
        for t in 0..THREADS {
            for i in 0..plan(k as u64, t).0 {
                want_counts[VALUE_BUCKETS[(i % 4) as usize]] += 1;
                want_sum += VALUES[(i % 4) as usize];
            }
        }
        assert_eq!(counts, &want_counts, "epoch {k}");
        assert_eq!(*sum, want_sum, "epoch {k}");
    }
}

/// Striping is a layout: registering a family again with or without it is no
/// conflict, and the first registration's layout stays.
#[test]
fn the_first_registration_decides_the_layout() {
    let reg = Registry::new();
    reg.register(Describe::counter("a_total").striped())
        .unwrap();
    reg.register(Describe::counter("a_total")).unwrap();
    reg.register(Describe::histogram("b_seconds")).unwrap();
    reg.register(Describe::histogram("b_seconds").striped())
        .unwrap();
    assert!(reg.counter("a_total", &[]).unwrap().core().stripes() >= 2);
    assert_eq!(reg.histogram("b_seconds", &[]).unwrap().core().stripes(), 0);
}

/// The memory a striped series adds is what `Describe::striped` and
/// docs/architecture.md state: `120 + 128 × stripes` bytes (x86-64's 128-byte
/// line pairs) for a counter or a histogram with up to 15 buckets, and 16 more
/// for a counter without history (it then allocates its ring block).
#[test]
#[cfg(target_arch = "x86_64")]
fn striped_memory_is_as_stated() {
    for retention in [Retention::DEFAULT, Retention::NONE] {
        let reg = Registry::builder().retention(retention).build();
        reg.register(Describe::counter("s_total").striped())
            .unwrap();
        reg.register(Describe::histogram("s_seconds").striped())
            .unwrap();
        let c = reg.counter("s_total", &[]).unwrap();
        let h = reg.histogram("s_seconds", &[]).unwrap();
        let stripes = c.core().stripes();
        assert_eq!(h.core().stripes(), stripes);
        let extra = 120 + 128 * stripes;
        let no_history = if retention.has_history() { 0 } else { 16 };
        let plain_c = reg.counter("p_total", &[]).unwrap().memory_bytes();
        let plain_h = reg.histogram("p_seconds", &[]).unwrap().memory_bytes();
        assert_eq!(c.memory_bytes(), plain_c + extra + no_history);
        assert_eq!(h.memory_bytes(), plain_h + extra);
    }
}

/// More threads than stripes, in waves: each epoch is opened by this thread,
/// then a wave of threads records and exits, then a second wave of new
/// threads (new tickets, so new stripe choices) records, while one long-lived
/// thread records through every epoch. With more threads than stripes, some
/// share a stripe. Totals and per-epoch history (counter increases, histogram
/// counts per bucket and sums) are exactly what the threads recorded.
#[test]
fn more_threads_than_stripes_and_new_threads_keep_exact_history() {
    let start = 1_700_000_000_000_000_000;
    let clock = Arc::new(ManualClock::new(start));
    let reg = registry(&clock);
    reg.register(Describe::counter("waves_total").striped())
        .unwrap();
    reg.register(Describe::histogram("waves_seconds").striped())
        .unwrap();
    let c = reg.counter("waves_total", &[]).unwrap();
    let h = reg.histogram("waves_seconds", &[]).unwrap();
    let stripes = c.core().stripes() as u64;
    // A wave has more threads than there are stripes.
    let wave = 2 * stripes + 1;
    let record = |n: u64, by: u64| {
        for i in 0..n {
            c.inc_by(by);
            h.observe(VALUES[(i % 4) as usize]);
        }
    };

    // Per epoch: (counter increase, counts per bucket, sum).
    let mut want: Vec<(u64, Vec<u64>, f64)> = Vec::new();
    let (to_long, from_main) = std::sync::mpsc::channel::<Option<u64>>();
    let (to_main, from_long) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        // The long-lived thread: records `n` when told, for every epoch.
        s.spawn(move || {
            while let Ok(Some(n)) = from_main.recv() {
                record(n, 2);
                to_main.send(()).unwrap();
            }
        });
        for e in 0..EPOCHS {
            c.inc();
            h.observe(VALUES[0]);
            let mut counts = vec![0; 12];
            counts[VALUE_BUCKETS[0]] += 1;
            let (mut inc, mut sum) = (1, VALUES[0]);
            let mut expect = |n: u64, by: u64| {
                inc += n * by;
                for i in 0..n {
                    counts[VALUE_BUCKETS[(i % 4) as usize]] += 1;
                    sum += VALUES[(i % 4) as usize];
                }
            };
            let long_n = 50 + e;
            to_long.send(Some(long_n)).unwrap();
            expect(long_n, 2);
            for w in 0..2 {
                std::thread::scope(|ws| {
                    for t in 0..wave {
                        let (n, by) = plan(e + w, t);
                        ws.spawn(move || record(n, by));
                    }
                });
                for t in 0..wave {
                    let (n, by) = plan(e + w, t);
                    expect(n, by);
                }
            }
            from_long.recv().unwrap();
            want.push((inc, counts, sum));
            clock.advance(Duration::from_secs(1));
        }
        to_long.send(None).unwrap();
    });
    clock.advance(Duration::from_millis(500));

    let (history, total) = counter_history(&reg, "waves_total");
    let want_counter: Vec<(u64, u64)> = want
        .iter()
        .enumerate()
        .map(|(e, w)| (start + e as u64 * 1_000_000_000, w.0))
        .collect();
    assert_eq!(history, want_counter);
    assert_eq!(total, want.iter().map(|w| w.0).sum::<u64>());
    assert_eq!(c.get(), total);

    let hist = histogram_history(&reg, "waves_seconds");
    assert_eq!(hist.len(), EPOCHS as usize);
    for (k, ((at, counts, sum), w)) in hist.iter().zip(&want).enumerate() {
        assert_eq!(*at, start + k as u64 * 1_000_000_000, "epoch {k}");
        assert_eq!(counts, &w.1, "epoch {k}");
        assert_eq!(*sum, w.2, "epoch {k}");
    }
    let snap = h.snapshot();
    assert_eq!(
        snap.count(),
        want.iter().map(|w| w.1.iter().sum::<u64>()).sum::<u64>()
    );
}
