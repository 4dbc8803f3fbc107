//! New metric names cannot grow the registry without bound: past the family
//! limit, or once the series limit is reached, a new name is refused (typed
//! error) or, through the `_or_overflow` lookups, recorded into the registry's
//! overflow family of its kind, losing nothing and counted.

use lakemetrics_core::{Error, Filter, Registry};

/// Families and series the registry holds, self-metrics included.
fn size(reg: &Registry) -> (usize, usize) {
    let (mut families, mut series) = (0, 0);
    reg.visit(&Filter::all(), |f| {
        families += 1;
        series += f.series().count();
    });
    (families, series)
}

fn overflow_lookups(reg: &Registry, metric: &str) -> u64 {
    reg.counter("lakemetrics_cardinality_overflow", &[("metric", metric)])
        .map_or(0, |c| c.get())
}

#[test]
fn a_full_registry_sends_new_names_to_one_overflow_family() {
    // The case: a registry at its series limit, then many new names.
    let reg = Registry::builder().max_series(1_000).build();
    for i in 0..1_000 {
        reg.counter("full", &[("i", &i.to_string())]).unwrap();
    }
    let before = size(&reg);
    let names = 20_000u64;
    for i in 0..names {
        let name = format!("attack_{i}");
        let err = reg.counter(&name, &[]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::CardinalityLimit {
                    scope: "registry",
                    ..
                }
            ),
            "{err}"
        );
        reg.counter_or_overflow(&name, &[("k", "v")])
            .unwrap()
            .inc_by(2);
    }
    let after = size(&reg);
    // The overflow family and the self-metric: two families, not 20,000.
    assert!(after.0 <= before.0 + 2, "{before:?} -> {after:?}");
    // One more new name reaches the same series.
    let overflow = reg.counter_or_overflow("probe", &[]).unwrap();
    assert_eq!(overflow.get(), 2 * names, "nothing recorded is lost");
    assert_eq!(
        overflow_lookups(&reg, "lakemetrics_overflow_counter"),
        names + 1
    );
}

#[test]
fn the_family_limit_bounds_names_of_every_kind() {
    let reg = Registry::builder().max_families(3).build();
    reg.counter("a", &[("x", "0")]).unwrap();
    reg.gauge("b", &[]).unwrap();
    reg.histogram("c", &[]).unwrap();
    let err = reg.summary("d", &[]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::CardinalityLimit {
                limit: 3,
                scope: "families",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "metric \"d\" reached the families limit of 3 families"
    );
    // Registering a new family is refused the same way; an existing one is fine.
    assert!(reg
        .register(lakemetrics_core::Describe::counter("e"))
        .is_err());
    reg.register(lakemetrics_core::Describe::counter("a"))
        .unwrap();
    // Through `_or_overflow`, each kind lands in its own overflow family.
    for i in 0..100 {
        reg.gauge_or_overflow(&format!("g{i}"), &[])
            .unwrap()
            .set(f64::from(i));
        reg.histogram_or_overflow(&format!("h{i}"), &[])
            .unwrap()
            .observe(0.5);
        reg.summary_or_overflow(&format!("s{i}"), &[])
            .unwrap()
            .observe(0.5);
        reg.counter_or_overflow(&format!("c{i}"), &[])
            .unwrap()
            .inc();
    }
    let (families, _) = size(&reg);
    // a, b, c, four overflow families, the self-metric.
    assert_eq!(families, 8);
    let h = reg.histogram_or_overflow("h_any", &[]).unwrap();
    assert_eq!(h.snapshot().count(), 100);
    let s = reg.summary_or_overflow("s_any", &[]).unwrap();
    assert_eq!(s.count(), 100);
    // Existing families keep working past the family limit.
    reg.counter("a", &[("x", "1")]).unwrap().inc();
}
