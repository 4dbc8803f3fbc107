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
