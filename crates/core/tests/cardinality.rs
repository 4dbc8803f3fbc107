//! Past a cardinality limit, values go to the family's overflow series, a
//! self-metric counts the lookups sent there, and nothing recorded is lost.

use lakemetrics_core::{
    Describe, Error, Filter, Registry, SeriesData, OVERFLOW_LABEL, OVERFLOW_METRIC,
};

#[test]
fn overflow_series_catches_what_the_limit_refuses() {
    let reg = Registry::new();
    reg.register(Describe::counter("rows").max_series(2))
        .unwrap();
    for (h, n) in [("csv", 1), ("json", 2)] {
        reg.counter_or_overflow("rows", &[("handler", h)])
            .unwrap()
            .inc_by(n);
    }
    for (h, n) in [("parquet", 4), ("avro", 8), ("parquet", 16)] {
        reg.counter_or_overflow("rows", &[("handler", h)])
            .unwrap()
            .inc_by(n);
    }
    // The fallible API says why.
    assert!(matches!(
        reg.counter("rows", &[("handler", "orc")]),
        Err(Error::CardinalityLimit { limit: 2, .. })
    ));

    let mut seen = Vec::new();
    reg.visit(&Filter::all(), |fam| {
        for s in fam.series() {
            let labels: Vec<String> = s.labels().map(|(k, v)| format!("{k}={v}")).collect();
            if let SeriesData::Counter(c) = s.data() {
                seen.push((fam.name().to_string(), labels.join(","), c.total()));
            }
        }
    });
    let overflow = format!("{OVERFLOW_LABEL}=true");
    assert_eq!(
        seen,
        vec![
            (OVERFLOW_METRIC.to_string(), "metric=rows".to_string(), 3),
            ("rows".to_string(), "handler=csv".to_string(), 1),
            ("rows".to_string(), "handler=json".to_string(), 2),
            ("rows".to_string(), overflow, 28),
        ]
    );
    // Every recorded unit is somewhere.
    let total: u64 = seen.iter().filter(|s| s.0 == "rows").map(|s| s.2).sum();
    assert_eq!(total, 1 + 2 + 4 + 8 + 16);
    assert_eq!(reg.series_count(), 3, "two rows series and the self-metric");
}

#[test]
fn overflow_works_for_every_kind() {
    let reg = Registry::builder().max_series_per_family(1).build();
    reg.gauge("g", &[("a", "1")]).unwrap();
    reg.gauge_or_overflow("g", &[("a", "2")]).unwrap().set(4.0);
    reg.histogram("h", &[("a", "1")]).unwrap();
    reg.histogram_or_overflow("h", &[("a", "2")])
        .unwrap()
        .observe(1.0);
    reg.summary("s", &[("a", "1")]).unwrap();
    reg.summary_or_overflow("s", &[("a", "2")])
        .unwrap()
        .observe(1.0);
    let mut overflowed = 0;
    reg.visit(&Filter::all().label_eq(OVERFLOW_LABEL, "true"), |fam| {
        overflowed += fam.series().count();
    });
    // g, h, s, and the self-metric's own family (limited to 1 series too).
    assert!(overflowed >= 3, "{overflowed}");
}
