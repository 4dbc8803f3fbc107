//! The facade's handle semantics, per the `metrics` docs: gauges' increment,
//! decrement and set; counters' `absolute` ("sets the counter to at least the
//! given value", coping with callers that race or arrive out of order).

use std::sync::Barrier;

use lakemetrics_core::{Describe, Registry};
use lakemetrics_metrics::LakemetricsRecorder;
use metrics::{counter, gauge};

#[test]
fn gauge_increment_decrement_set() {
    let reg = Registry::new();
    let rec = LakemetricsRecorder::new(&reg);
    let g = metrics::with_local_recorder(&rec, || gauge!("depth", "queue" => "csv"));
    g.increment(2.5);
    g.decrement(1.0);
    assert_eq!(reg.gauge("depth", &[("queue", "csv")]).unwrap().get(), 1.5);
    g.set(-4.0);
    g.increment(1u32);
    assert_eq!(reg.gauge("depth", &[("queue", "csv")]).unwrap().get(), -3.0);
}

#[test]
fn counter_absolute_only_moves_forward() {
    let reg = Registry::new();
    let rec = LakemetricsRecorder::new(&reg);
    let c = metrics::with_local_recorder(&rec, || counter!("mirrored_total"));
    let get = || reg.counter("mirrored_total", &[]).unwrap().get();
    c.absolute(100);
    assert_eq!(get(), 100);
    c.absolute(90);
    assert_eq!(get(), 100, "an older reading arriving late changes nothing");
    c.absolute(100);
    assert_eq!(get(), 100);
    c.absolute(150);
    assert_eq!(get(), 150);
    // Another call site of the same series shares the high-water mark.
    let again = metrics::with_local_recorder(&rec, || counter!("mirrored_total"));
    again.absolute(120);
    assert_eq!(get(), 150);
}

#[test]
fn counter_absolute_starts_from_a_restored_value() {
    // A series that already has a value (a checkpoint restored, or other code
    // counting): absolute continues from it instead of adding the whole reading.
    let reg = Registry::new();
    reg.register(Describe::counter("restored_total")).unwrap();
    reg.counter("restored_total", &[]).unwrap().inc_by(1000);
    let rec = LakemetricsRecorder::new(&reg);
    let c = metrics::with_local_recorder(&rec, || counter!("restored_total"));
    c.absolute(1005);
    assert_eq!(reg.counter("restored_total", &[]).unwrap().get(), 1005);
}

#[test]
fn counter_absolute_from_racing_threads_ends_at_the_largest_value() {
    const THREADS: u64 = 4;
    const STEPS: u64 = 10_000;
    let reg = Registry::new();
    let rec = LakemetricsRecorder::new(&reg);
    let c = metrics::with_local_recorder(&rec, || counter!("raced_total"));
    let barrier = Barrier::new(THREADS as usize);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (c, barrier) = (c.clone(), &barrier);
            s.spawn(move || {
                barrier.wait();
                // Interleaved readings of one external counter, each thread's
                // ascending, all threads' together in no order.
                for i in 0..STEPS {
                    c.absolute(i * THREADS + t);
                }
            });
        }
    });
    assert_eq!(
        reg.counter("raced_total", &[]).unwrap().get(),
        (STEPS - 1) * THREADS + THREADS - 1
    );
}

#[test]
fn one_series_per_label_set_whatever_the_order() {
    let reg = Registry::new();
    let rec = LakemetricsRecorder::new(&reg);
    metrics::with_local_recorder(&rec, || {
        counter!("orders_total", "a" => "1", "b" => "2").increment(1);
        counter!("orders_total", "b" => "2", "a" => "1").increment(1);
        counter!("orders.total", "a" => "1", "b" => "2").increment(1);
    });
    assert_eq!(
        reg.counter("orders_total", &[("a", "1"), ("b", "2")])
            .unwrap()
            .get(),
        3
    );
    assert_eq!(reg.series_count(), 1);
}

#[test]
fn macros_from_many_threads_count_every_call() {
    const THREADS: u64 = 4;
    const CALLS: u64 = 20_000;
    let reg = Registry::new();
    let rec = LakemetricsRecorder::new(&reg);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let rec = &rec;
            s.spawn(move || {
                metrics::with_local_recorder(rec, || {
                    for i in 0..CALLS {
                        // A literal key (cached per thread) and an owned one.
                        counter!("calls_total", "kind" => "static").increment(1);
                        let parity = if (i + t) % 2 == 0 { "even" } else { "odd" };
                        counter!("calls_total", "kind" => parity.to_string()).increment(1);
                    }
                })
            });
        }
    });
    let get = |kind| reg.counter("calls_total", &[("kind", kind)]).unwrap().get();
    assert_eq!(get("static"), THREADS * CALLS);
    assert_eq!(get("even") + get("odd"), THREADS * CALLS);
    assert_eq!(get("even"), THREADS * CALLS / 2);
}
