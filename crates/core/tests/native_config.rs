//! Native histogram options: bad values are typed errors at registration and
//! change nothing (the name stays free); good ones round-trip.

use lakemetrics_core::{Describe, Error, Registry};

fn what(r: lakemetrics_core::Result<()>) -> &'static str {
    match r {
        Err(Error::InvalidConfig { what, .. }) => what,
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn bad_native_options_are_refused_and_change_nothing() {
    let reg = Registry::new();
    let h = || Describe::histogram("lat");
    assert_eq!(what(reg.register(h().native(9))), "native schema");
    assert_eq!(what(reg.register(h().native(-5))), "native schema");
    assert_eq!(
        what(reg.register(h().native(3).native_zero_threshold(f64::NAN))),
        "native zero threshold"
    );
    assert_eq!(
        what(reg.register(h().native_zero_threshold(-1.0))),
        "native zero threshold"
    );
    assert_eq!(
        what(reg.register(h().native(3).native_max_buckets(1))),
        "native max buckets"
    );
    assert_eq!(
        what(reg.register(Describe::summary("lat").native(3))),
        "native buckets"
    );
    let mut families = 0;
    reg.visit(&lakemetrics_core::Filter::all(), |_| families += 1);
    assert_eq!(families, 0, "a refused family left something behind");
    // The name is still free, and a good description registers.
    reg.register(
        h().native(-4)
            .native_zero_threshold(0.0)
            .native_max_buckets(2),
    )
    .unwrap();
    let x = reg.histogram("lat", &[]).unwrap();
    x.observe(0.0);
    x.observe(-1.0);
    let s = x.native_snapshot().unwrap();
    assert_eq!(
        (s.schema, s.zero_count, s.negative.clone()),
        (-4, 1, vec![(0, 1)])
    );
    // A different native option is a conflicting description.
    assert!(reg.register(h().native(3)).is_err());
    // A classic-only histogram has no native buckets.
    assert!(reg
        .histogram("classic", &[])
        .unwrap()
        .native_snapshot()
        .is_none());
}
