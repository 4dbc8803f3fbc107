//! Memory budgets are checked when a family is registered (or created by a first
//! lookup): a clear error naming the bytes needed, and nothing created.

use lakemetrics_core::{Describe, Error, Registry, Retention};
use std::time::Duration;

#[test]
fn a_family_over_its_own_budget_is_refused_with_the_figures() {
    let reg = Registry::new();
    reg.register(Describe::counter("small")).unwrap();
    let per = reg.series_bytes("small").unwrap() as u64;
    let err = reg
        .register(
            Describe::counter("rows")
                .max_series(1_000)
                .memory_budget(100 * per),
        )
        .unwrap_err();
    match &err {
        Error::MemoryBudget {
            name,
            needed,
            max_series,
            per_series,
            budget,
            scope,
        } => {
            assert_eq!(
                (name.as_str(), *max_series, *scope),
                ("rows", 1_000, "family")
            );
            assert_eq!(*per_series, per);
            assert_eq!(*needed, 1_001 * per);
            assert_eq!(*budget, 100 * per);
        }
        e => panic!("{e:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("\"rows\"") && msg.contains(&format!("{}", 1_001 * per)),
        "{msg}"
    );
    // Nothing was registered: the name is free, and a family that fits registers.
    assert!(reg.describe("rows").is_none());
    reg.register(
        Describe::counter("rows")
            .max_series(99)
            .memory_budget(100 * per),
    )
    .unwrap();
    assert_eq!(reg.describe("rows").unwrap().name(), "rows");
}

#[test]
fn history_is_what_the_budget_pays_for() {
    let reg = Registry::new();
    let fine = Retention::new(Duration::from_secs(1), Duration::from_secs(600)).unwrap();
    let coarse = Retention::new(Duration::from_secs(600), Duration::from_secs(600)).unwrap();
    reg.register(Describe::gauge("fine").retention(fine))
        .unwrap();
    reg.register(Describe::gauge("coarse").retention(coarse))
        .unwrap();
    let (f, c) = (
        reg.series_bytes("fine").unwrap(),
        reg.series_bytes("coarse").unwrap(),
    );
    // 600 slots of 32 bytes against one.
    assert_eq!(f - c, 599 * 32);
}

#[test]
fn the_registry_budget_adds_up_every_family() {
    let probe = Registry::new();
    probe.register(Describe::counter("x")).unwrap();
    let per = probe.series_bytes("x").unwrap() as u64;
    let reg = Registry::builder()
        .max_series_per_family(999)
        .memory_budget(2_500 * per)
        .build();
    // 1,000 series' worth each (limit plus overflow): two fit, a third does not,
    // whether registered or created by a lookup.
    reg.register(Describe::counter("a")).unwrap();
    reg.counter("b", &[]).unwrap().inc();
    let err = reg.counter("c", &[]).unwrap_err();
    assert!(
        matches!(err, Error::MemoryBudget { scope: "registry", needed, .. } if needed == 3_000 * per),
        "{err:?}"
    );
    assert!(reg.describe("c").is_none());
    let err = reg.register(Describe::histogram("h")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::MemoryBudget {
                scope: "registry",
                ..
            }
        ),
        "{err:?}"
    );
    // A small family still fits.
    reg.register(Describe::counter("d").max_series(99)).unwrap();
}

/// The figures docs/architecture.md gives for the default retention.
#[test]
fn state_bytes_at_the_default_retention() {
    let reg = Registry::new();
    let sizes = [
        reg.counter("c", &[]).unwrap().memory_bytes(),
        reg.gauge("g", &[]).unwrap().memory_bytes(),
        reg.histogram("h", &[]).unwrap().memory_bytes(),
        reg.summary("s", &[]).unwrap().memory_bytes(),
    ];
    println!("counter, gauge, histogram, summary: {sizes:?}");
    // 60 epochs of one 8-byte base; 60 of 32-byte slots; 12 bucket counts and
    // open-epoch bases and 60 epochs of a sum base and 4 bins; 60 epochs of
    // count and sum bases and 12 bins (see docs/architecture.md). A ring of
    // bases is one block: the head, then the rows.
    assert_eq!(
        sizes,
        [
            24 + (1 + 60) * 8,
            48 + 60 * 32,
            120 + 12 * 16 + (1 + 60) * 8 + 60 * 4 * 8,
            128 + (1 + 60 * 2) * 8 + 60 * 12 * 8
        ]
    );
}
