//! Error kinds: known, learned, past the cardinality limit, and unusable as a
//! label value. However a kind is counted, no failure is lost.

mod common;

use std::sync::Arc;

use common::*;
use lakemetrics_core::{Error, ManualClock, Registry, OVERFLOW_LABEL, OVERFLOW_METRIC};
use lakemetrics_handler::{HandlerMetrics, KIND_DROPPED, KIND_INVALID, LEARNED_KINDS};

/// Sum of `ingest_errors_total` over every series of `handler`, plus the overflow
/// series (which holds every handler's overflowed kinds).
fn all_errors(reg: &Registry, handler: &str) -> u64 {
    let mut sum = 0;
    reg.visit(
        &lakemetrics_core::Filter::all().name("ingest_errors_total"),
        |fam| {
            for s in fam.series() {
                let mine = s
                    .labels()
                    .any(|(k, v)| (k == "handler" && v == handler) || k == OVERFLOW_LABEL);
                if let (true, lakemetrics_core::SeriesData::Counter(c)) = (mine, s.data()) {
                    sum += c.total();
                }
            }
        },
    );
    sum
}

#[test]
fn known_kinds_come_first_then_learned_ones() {
    let (reg, _) = registry();
    let h = HandlerMetrics::builder(&reg, "csv")
        .error_kinds(["parse_error", "io"])
        .build()
        .unwrap();
    assert_eq!(
        h.error_kinds().collect::<Vec<_>>(),
        [KIND_DROPPED, "parse_error", "io"]
    );
    h.start().failure("schema_mismatch");
    h.start().failure("schema_mismatch");
    h.start().failure("parse_error");
    assert_eq!(
        h.error_kinds().collect::<Vec<_>>(),
        [KIND_DROPPED, "parse_error", "io", "schema_mismatch"]
    );
    assert_eq!(errors(&reg, "csv", "schema_mismatch"), 2);
    assert_eq!(errors(&reg, "csv", "parse_error"), 1);
    assert_eq!(errors(&reg, "csv", "io"), 0);

    // Past the learned table, kinds are still counted (by registry lookup).
    for i in 0..LEARNED_KINDS + 5 {
        h.start().failure(&format!("kind_{i}"));
        h.start().failure(&format!("kind_{i}"));
    }
    for i in 0..LEARNED_KINDS + 5 {
        assert_eq!(errors(&reg, "csv", &format!("kind_{i}")), 2, "kind_{i}");
    }
    assert_eq!(h.error_kinds().count(), 3 + LEARNED_KINDS);
    assert_eq!(all_errors(&reg, "csv"), batches(&reg, "csv", "failure"));
}

#[test]
fn kinds_past_the_limit_go_to_the_overflow_series() {
    let (reg, _) = registry();
    // `dropped` and `invalid_kind` of one handler, plus three more.
    let h = HandlerMetrics::builder(&reg, "json")
        .max_error_series(5)
        .build()
        .unwrap();
    for kind in ["a", "b", "c", "d", "e", "a", "d"] {
        h.start().failure(kind);
    }
    assert_eq!(errors(&reg, "json", "a"), 2);
    assert_eq!(errors(&reg, "json", "c"), 1);
    let overflow = reg
        .counter_or_overflow(
            "ingest_errors_total",
            &[("handler", "json"), ("kind", "zzz")],
        )
        .unwrap();
    // "d" (twice) and "e" overflowed.
    assert_eq!(overflow.get(), 3);
    assert_eq!(batches(&reg, "json", "failure"), 7);
    assert_eq!(all_errors(&reg, "json"), 7);
    let self_metric = reg
        .counter(OVERFLOW_METRIC, &[("metric", "ingest_errors_total")])
        .unwrap();
    assert!(self_metric.get() >= 3);

    // A second handler cannot create its own series in the full family: it
    // says so when built, not later while recording.
    let err = HandlerMetrics::builder(&reg, "csv")
        .max_error_series(5)
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::CardinalityLimit { .. }), "{err}");
}

#[test]
fn an_unusable_kind_is_counted_as_invalid_kind() {
    let clock = Arc::new(ManualClock::new(T0));
    let reg = Registry::builder()
        .clock(clock)
        .max_label_value_len(16)
        .build();
    let h = HandlerMetrics::new(&reg, "csv").unwrap();
    h.start()
        .failure("this kind is far too long for a label value");
    assert_eq!(errors(&reg, "csv", KIND_INVALID), 1);
    assert_eq!(batches(&reg, "csv", "failure"), 1);
}

#[test]
fn handlers_share_families_and_keep_their_own_series() {
    let (reg, _) = registry();
    let csv = HandlerMetrics::builder(&reg, "csv")
        .error_kinds(["x"])
        .build()
        .unwrap();
    let json = HandlerMetrics::builder(&reg, "json")
        .error_kinds(["y"])
        .build()
        .unwrap();
    csv.start().failure("x");
    json.start().success();
    json.start().failure("x");
    assert_eq!(errors(&reg, "csv", "x"), 1);
    assert_eq!(errors(&reg, "json", "x"), 1);
    assert_eq!(batches(&reg, "json", "success"), 1);
    assert_eq!(batches(&reg, "csv", "success"), 0);
    // Building the same handler twice gives handles on the same series.
    let csv2 = HandlerMetrics::new(&reg, "csv").unwrap();
    csv2.start().failure("x");
    assert_eq!(errors(&reg, "csv", "x"), 2);
}
