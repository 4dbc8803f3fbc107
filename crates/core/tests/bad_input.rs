//! Bad input gets its typed error and leaves the registry as it was.

use lakemetrics_core::{Buckets, Describe, Error, Filter, MetricKind, Registry, SeriesData};

/// Everything observable about a registry, as text.
fn dump(reg: &Registry) -> Vec<String> {
    let mut out = vec![format!(
        "families={} series={} interned={}",
        reg.family_count(),
        reg.series_count(),
        reg.interned_count()
    )];
    reg.visit(&Filter::all().include_idle(true), |fam| {
        for s in fam.series() {
            let labels: Vec<_> = s.labels().collect();
            let value = match s.data() {
                SeriesData::Counter(c) => c.total().to_string(),
                SeriesData::Gauge(g) => g.get().to_string(),
                SeriesData::Histogram(h) => format!("{:?}", h.snapshot()),
                SeriesData::Summary(s) => format!("{} {}", s.count(), s.sum()),
            };
            out.push(format!(
                "{} {:?} {labels:?} {value}",
                fam.name(),
                fam.kind()
            ));
        }
    });
    out
}

fn populated() -> Registry {
    let reg = Registry::builder()
        .max_label_value_len(16)
        .max_labels(3)
        .max_series(50)
        .build();
    reg.register(Describe::counter("rows").help("Rows.").max_series(2))
        .unwrap();
    reg.counter("rows", &[("handler", "csv")])
        .unwrap()
        .inc_by(5);
    reg.counter("rows", &[("handler", "json")])
        .unwrap()
        .inc_by(7);
    reg.gauge("depth", &[]).unwrap().set(3.0);
    reg.histogram("lat", &[]).unwrap().observe(0.2);
    reg
}

#[test]
fn every_bad_input_is_a_typed_error_and_changes_nothing() {
    type Case = (&'static str, fn(&Registry) -> Result<(), Error>, Error);
    let cases: Vec<Case> = vec![
        (
            "empty name",
            |r| r.counter("", &[]).map(drop),
            Error::InvalidName { name: "".into() },
        ),
        (
            "digit first",
            |r| r.counter("9rows", &[]).map(drop),
            Error::InvalidName {
                name: "9rows".into(),
            },
        ),
        (
            "dash",
            |r| r.gauge("a-b", &[]).map(drop),
            Error::InvalidName { name: "a-b".into() },
        ),
        (
            "injection in name",
            |r| r.counter("x} 1\nevil_total", &[]).map(drop),
            Error::InvalidName {
                name: "x} 1\nevil_total".into(),
            },
        ),
        (
            "unicode name",
            |r| r.summary("débit", &[]).map(drop),
            Error::InvalidName {
                name: "débit".into(),
            },
        ),
        (
            "label name with dash",
            |r| r.counter("rows", &[("hand-ler", "csv")]).map(drop),
            Error::InvalidLabelName {
                name: "hand-ler".into(),
            },
        ),
        (
            "reserved label name",
            |r| r.counter("rows", &[("__name__", "x")]).map(drop),
            Error::InvalidLabelName {
                name: "__name__".into(),
            },
        ),
        (
            "empty label name",
            |r| r.histogram("lat", &[("", "x")]).map(drop),
            Error::InvalidLabelName { name: "".into() },
        ),
        (
            "over-long value",
            |r| {
                r.counter("rows", &[("handler", "a-very-long-handler-name")])
                    .map(drop)
            },
            Error::LabelValueTooLong {
                name: "handler".into(),
                len: 24,
                max: 16,
            },
        ),
        (
            "other label names than the family's",
            |r| {
                r.gauge("depth", &[("region", "eu"), ("bucket", "b")])
                    .map(drop)
            },
            Error::LabelNamesMismatch {
                name: "depth".into(),
                expected: vec![],
                got: vec!["bucket".into(), "region".into()],
            },
        ),
        (
            "duplicate label",
            |r| {
                r.counter("rows", &[("handler", "csv"), ("handler", "json")])
                    .map(drop)
            },
            Error::DuplicateLabel {
                name: "handler".into(),
            },
        ),
        (
            "too many labels",
            |r| {
                r.gauge("depth", &[("a", ""), ("b", ""), ("c", ""), ("d", "")])
                    .map(drop)
            },
            Error::TooManyLabels { count: 4, max: 3 },
        ),
        (
            "kind conflict, existing series",
            |r| r.gauge("rows", &[("handler", "csv")]).map(drop),
            Error::KindConflict {
                name: "rows".into(),
                existing: MetricKind::Counter,
                requested: MetricKind::Gauge,
            },
        ),
        (
            "kind conflict, new series",
            |r| r.histogram("depth", &[("x", "y")]).map(drop),
            Error::KindConflict {
                name: "depth".into(),
                existing: MetricKind::Gauge,
                requested: MetricKind::Histogram,
            },
        ),
        (
            "kind conflict on register",
            |r| r.register(Describe::summary("lat")),
            Error::KindConflict {
                name: "lat".into(),
                existing: MetricKind::Histogram,
                requested: MetricKind::Summary,
            },
        ),
        (
            "family conflict",
            |r| r.register(Describe::counter("rows").help("Other help.").max_series(2)),
            Error::FamilyConflict {
                name: "rows".into(),
                what: "help",
            },
        ),
        (
            "cardinality overflow",
            |r| r.counter("rows", &[("handler", "parquet")]).map(drop),
            Error::CardinalityLimit {
                name: "rows".into(),
                limit: 2,
                scope: "family",
            },
        ),
        (
            "gauge named like a counter's samples",
            |r| r.gauge("rows_total", &[]).map(drop),
            Error::NameClash {
                name: "rows_total".into(),
                sample: "rows_total".into(),
                other: "rows".into(),
            },
        ),
        (
            "gauge named like a histogram's samples",
            |r| r.register(Describe::gauge("lat_count")),
            Error::NameClash {
                name: "lat_count".into(),
                sample: "lat_count".into(),
                other: "lat".into(),
            },
        ),
        (
            "counter whose family name is a gauge's",
            |r| r.counter("depth_total", &[]).map(drop),
            Error::NameClash {
                name: "depth_total".into(),
                sample: "depth".into(),
                other: "depth".into(),
            },
        ),
        (
            "le on a histogram",
            |r| r.histogram("lat", &[("le", "1")]).map(drop),
            Error::ReservedLabel {
                name: "le".into(),
                kind: MetricKind::Histogram,
            },
        ),
        (
            "quantile on a summary",
            |r| r.summary("sizes", &[("quantile", "0.5")]).map(drop),
            Error::ReservedLabel {
                name: "quantile".into(),
                kind: MetricKind::Summary,
            },
        ),
        (
            "buckets on a counter",
            |r| r.register(Describe::counter("other").buckets(Buckets::default())),
            Error::InvalidConfig {
                what: "buckets",
                reason: String::new(),
            },
        ),
        (
            "objective out of range",
            |r| r.register(Describe::summary("sz").objectives(vec![0.5, 1.5])),
            Error::InvalidConfig {
                what: "objectives",
                reason: String::new(),
            },
        ),
        (
            "striped gauge",
            |r| r.register(Describe::gauge("g2").striped()),
            Error::InvalidConfig {
                what: "striped",
                reason: String::new(),
            },
        ),
        (
            "striped summary",
            |r| r.register(Describe::summary("s2").striped()),
            Error::InvalidConfig {
                what: "striped",
                reason: String::new(),
            },
        ),
        (
            "bad unit",
            |r| r.register(Describe::counter("other").unit("per cent")),
            Error::InvalidConfig {
                what: "unit",
                reason: String::new(),
            },
        ),
    ];
    for (what, call, want) in cases {
        let reg = populated();
        let before = dump(&reg);
        let got = call(&reg).expect_err(what);
        match (&got, &want) {
            // Reasons are prose; the variant and `what` are the contract.
            (Error::InvalidConfig { what: a, .. }, Error::InvalidConfig { what: b, .. }) => {
                assert_eq!(a, b, "{what}")
            }
            _ => assert_eq!(got, want, "{what}"),
        }
        assert!(!got.to_string().is_empty());
        assert_eq!(dump(&reg), before, "{what} changed the registry");
    }
}

#[test]
fn registry_wide_limit() {
    let reg = Registry::builder().max_series(3).build();
    for h in ["a", "b", "c"] {
        reg.counter("rows", &[("h", h)]).unwrap();
    }
    let before = dump(&reg);
    assert_eq!(
        reg.gauge("other", &[]).unwrap_err(),
        Error::CardinalityLimit {
            name: "other".into(),
            limit: 3,
            scope: "registry"
        }
    );
    assert_eq!(dump(&reg), before);
    assert_eq!(reg.series_count(), 3);
}
