//! Real threads hammering shared series while a reader walks their history:
//! totals stay exact and history adds up (the loom tests prove the protocol on
//! small cases; this one runs it at scale on the real hardware memory model).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use lakemetrics_core::{Clock, ManualClock, Registry, Retention, TimeRange};

#[test]
fn writers_and_a_reader_across_many_epochs() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_millis(1), Duration::from_secs(1)).unwrap())
        .build();
    let c = reg.counter("c", &[]).unwrap();
    let h = reg.histogram("h", &[]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    const PER_THREAD: u64 = 200_000;

    let ticker = {
        let (clock, stop) = (clock.clone(), stop.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                clock.advance(Duration::from_micros(50));
                thread::yield_now();
            }
        })
    };
    let reader = {
        let (c, clock, stop) = (c.clone(), clock.clone(), stop.clone());
        thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut sum = 0u64;
                c.core()
                    .for_each_point(clock.now_nanos(), TimeRange::ALL, |p| sum += p.increase);
                // Increases add up to the total read during the walk minus the
                // oldest base, so never more than the total read after it.
                assert!(sum <= c.get(), "history exceeds total");
                reads += 1;
            }
            reads
        })
    };
    let writers: Vec<_> = (0..3)
        .map(|_| {
            let (c, h) = (c.clone(), h.clone());
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    c.inc();
                    h.observe((i % 20) as f64 / 10.0);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    ticker.join().unwrap();
    assert!(reader.join().unwrap() > 0);

    assert_eq!(c.get(), 3 * PER_THREAD);
    assert_eq!(h.snapshot().count(), 3 * PER_THREAD);
    // Everything recorded within the last window adds up exactly.
    let now = clock.now_nanos();
    let mut sum = 0;
    c.core()
        .for_each_point(now, TimeRange::ALL, |p| sum += p.increase);
    let window = c.increase(Duration::from_secs(1));
    assert_eq!(sum, window);
    assert!(sum <= 3 * PER_THREAD);
}

/// Every kind, three writers racing a clock that moves 1 ms (one epoch) at a
/// time for 3 seconds, inside a 4,096-epoch window, so no epoch leaves retention:
/// the per-epoch history of each kind must add up to its cumulative value exactly
/// (nothing counted twice, nothing lost, whatever epoch a race put it in).
#[test]
fn history_adds_up_exactly_when_nothing_leaves_retention() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_millis(1), Duration::from_millis(4_096)).unwrap())
        .build();
    let c = reg.counter("c", &[]).unwrap();
    let g = reg.gauge("g", &[]).unwrap();
    let h = reg.histogram("h", &[]).unwrap();
    let s = reg.summary("s", &[]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (clock, stop) = (clock.clone(), stop.clone());
        thread::spawn(move || {
            for _ in 0..3_000 {
                clock.advance(Duration::from_millis(1));
                thread::yield_now();
            }
            stop.store(true, Ordering::Relaxed);
        })
    };
    let writers: Vec<_> = (0..3u64)
        .map(|t| {
            let (c, g, h, s, stop) = (c.clone(), g.clone(), h.clone(), s.clone(), stop.clone());
            thread::spawn(move || {
                let mut n = 0u64;
                // At least one round, even if the ticker is done before this
                // thread starts (it was, now and then, leaving nothing to check).
                loop {
                    c.inc_by(t + 1);
                    g.set((n % 100) as f64);
                    h.observe((n % 20) as f64 / 10.0);
                    s.observe(1.0 + (n % 50) as f64);
                    n += 1;
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
                n
            })
        })
        .collect();
    let counts: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    ticker.join().unwrap();
    let now = clock.now_nanos();
    let all = Duration::from_millis(4_096);

    let total: u64 = counts.iter().zip(1..).map(|(n, k)| n * k).sum();
    assert_eq!(c.get(), total);
    let mut sum = 0;
    c.core()
        .for_each_point(now, TimeRange::ALL, |p| sum += p.increase);
    assert_eq!(sum, total);
    assert_eq!(c.increase(all), total);

    let observed: u64 = counts.iter().sum();
    assert_eq!(h.snapshot().count(), observed);
    let mut hsum = 0;
    h.core()
        .for_each_point(now, TimeRange::ALL, |p| hsum += p.count());
    assert_eq!(hsum, observed);

    assert_eq!(s.count(), observed);
    assert_eq!(s.core().window_count(now, all), observed);
    let mut ssum = 0;
    s.core()
        .for_each_point(now, TimeRange::ALL, |p| ssum += p.count);
    assert_eq!(ssum, observed);

    let mut gauge_points = 0;
    g.core().for_each_point(now, TimeRange::ALL, |p| {
        assert!(p.min <= p.max && (0.0..100.0).contains(&p.min) && p.max < 100.0);
        gauge_points += 1;
    });
    assert!(gauge_points > 0);
    assert!((0.0..100.0).contains(&g.get()));
}
