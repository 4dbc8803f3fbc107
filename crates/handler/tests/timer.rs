//! The RAII timer and the closure form, checked against the registry's own
//! series: success, failure, early drop and panic.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::*;
use lakemetrics_handler::{HandlerMetrics, KIND_DROPPED};

#[test]
fn success_records_duration_and_outcome() {
    let (reg, clock) = registry();
    let h = HandlerMetrics::new(&reg, "csv").unwrap();
    let t = h.start();
    clock.advance(ms(30));
    assert_eq!(t.elapsed(), ms(30));
    t.success();

    assert_eq!(batches(&reg, "csv", "success"), 1);
    assert_eq!(batches(&reg, "csv", "failure"), 0);
    let d = durations(&reg, "csv");
    assert_eq!(d.count(), 1);
    assert_close(d.sum, 0.030);
    // 0.03 s falls in the (0.02, 0.05] bucket, the seventh of the defaults.
    assert_eq!(d.counts[6], 1);
}

#[test]
fn failure_counts_its_kind_once() {
    let (reg, clock) = registry();
    let h = HandlerMetrics::builder(&reg, "json")
        .error_kinds(["parse_error"])
        .build()
        .unwrap();
    // Pre-registered kinds exist before their first failure.
    assert_eq!(errors(&reg, "json", "parse_error"), 0);
    assert_eq!(errors(&reg, "json", KIND_DROPPED), 0);

    let t = h.start();
    clock.advance(ms(7));
    t.failure("parse_error");
    let t = h.start();
    clock.advance(ms(3));
    t.failure("schema_mismatch");

    assert_eq!(batches(&reg, "json", "failure"), 2);
    assert_eq!(batches(&reg, "json", "success"), 0);
    assert_eq!(errors(&reg, "json", "parse_error"), 1);
    assert_eq!(errors(&reg, "json", "schema_mismatch"), 1);
    assert_eq!(errors(&reg, "json", KIND_DROPPED), 0);
    let d = durations(&reg, "json");
    assert_eq!(d.count(), 2);
    assert_close(d.sum, 0.010);
}

#[test]
fn a_dropped_timer_is_a_dropped_failure() {
    let (reg, clock) = registry();
    let h = HandlerMetrics::new(&reg, "parquet").unwrap();
    let read = |fail_early: bool| -> Result<(), ()> {
        let t = h.start();
        clock.advance(ms(12));
        if fail_early {
            return Err(()); // `t` dropped here, without an outcome
        }
        t.success();
        Ok(())
    };
    read(true).unwrap_err();
    read(false).unwrap();

    assert_eq!(errors(&reg, "parquet", KIND_DROPPED), 1);
    assert_eq!(batches(&reg, "parquet", "failure"), 1);
    assert_eq!(batches(&reg, "parquet", "success"), 1);
    let d = durations(&reg, "parquet");
    assert_eq!(d.count(), 2);
    assert_close(d.sum, 0.024);
}

#[test]
fn a_panic_while_timing_is_a_dropped_failure() {
    let (reg, clock) = registry();
    let h = HandlerMetrics::new(&reg, "csv").unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| {
        let _t = h.start();
        clock.advance(ms(40));
        panic!("corrupt batch");
    }));
    assert!(r.is_err());
    assert_eq!(errors(&reg, "csv", KIND_DROPPED), 1);
    assert_eq!(batches(&reg, "csv", "failure"), 1);
    assert_eq!(batches(&reg, "csv", "success"), 0);
    assert_close(durations(&reg, "csv").sum, 0.040);

    // The closure form too: the panic goes on unwinding, and is counted.
    let r = catch_unwind(AssertUnwindSafe(|| {
        h.time(|| -> Result<(), &str> {
            clock.advance(ms(10));
            panic!("corrupt batch")
        })
    }));
    assert!(r.is_err());
    assert_eq!(errors(&reg, "csv", KIND_DROPPED), 2);
    assert_eq!(batches(&reg, "csv", "failure"), 2);
    assert_close(durations(&reg, "csv").sum, 0.050);
}

#[test]
fn closure_form_takes_the_outcome_from_the_result() {
    let (reg, clock) = registry();
    let h = HandlerMetrics::new(&reg, "csv").unwrap();

    let ok: Result<u32, &str> = h.time(|| {
        clock.advance(ms(5));
        Ok(7)
    });
    assert_eq!(ok, Ok(7));
    let err: Result<u32, String> = h.time(|| {
        clock.advance(ms(6));
        Err("timeout".to_string())
    });
    assert!(err.is_err());
    let io: Result<(), std::io::Error> = h.time(|| {
        Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "short read",
        ))
    });
    assert!(io.is_err());
    // Errors that do not name a kind are given one.
    let coded: Result<(), u16> = h.time_with(
        || Err(503),
        |code| if *code >= 500 { "upstream" } else { "client" },
    );
    assert_eq!(coded, Err(503));

    assert_eq!(batches(&reg, "csv", "success"), 1);
    assert_eq!(batches(&reg, "csv", "failure"), 3);
    assert_eq!(errors(&reg, "csv", "timeout"), 1);
    assert_eq!(errors(&reg, "csv", "io_unexpected_eof"), 1);
    assert_eq!(errors(&reg, "csv", "upstream"), 1);
    let d = durations(&reg, "csv");
    assert_eq!(d.count(), 4);
    assert_close(d.sum, 0.011);
}

#[test]
fn finish_and_direct_recording() {
    let (reg, clock) = registry();
    let h = HandlerMetrics::new(&reg, "writer").unwrap();
    let t = h.start();
    clock.advance(ms(2));
    t.finish(&Ok::<_, &str>(()));
    let t = h.start();
    t.finish(&Err::<(), _>("conflict"));
    let t = h.start();
    t.finish_with(&Err::<(), _>(409), |_| "conflict");
    h.record_success(ms(100));
    h.record_failure(ms(200), "conflict");

    assert_eq!(batches(&reg, "writer", "success"), 2);
    assert_eq!(batches(&reg, "writer", "failure"), 3);
    assert_eq!(errors(&reg, "writer", "conflict"), 3);
    assert_close(durations(&reg, "writer").sum, 0.302);
}

#[test]
fn handles_are_shared_across_threads() {
    let (reg, _clock) = registry();
    let h = HandlerMetrics::new(&reg, "csv").unwrap();
    std::thread::scope(|s| {
        for i in 0..4 {
            let h = h.clone();
            s.spawn(move || {
                for j in 0..1000 {
                    let t = h.start();
                    if (i + j) % 10 == 0 {
                        t.failure("parse_error");
                    } else {
                        t.success();
                    }
                }
            });
        }
    });
    assert_eq!(batches(&reg, "csv", "success"), 3600);
    assert_eq!(batches(&reg, "csv", "failure"), 400);
    assert_eq!(errors(&reg, "csv", "parse_error"), 400);
    assert_eq!(durations(&reg, "csv").count(), 4000);
}
