//! Typed label sets: series created up front and found by index, run-time
//! values interned once, the same validation and cardinality limits as the
//! `&str` lookups, and typed errors that leave the registry unchanged.

use lakemetrics_core::{
    Describe, Error, Filter, LabelSet, LabelValue, Registry, SeriesData, OVERFLOW_LABEL,
    OVERFLOW_METRIC,
};
use lakemetrics_derive::{LabelSet, LabelValue};

#[derive(Clone, Copy, Debug, PartialEq, LabelValue)]
#[label(crate = lakemetrics_core)]
enum Format {
    Csv,
    Json,
    #[label(rename = "parquet_v2")]
    Parquet,
}

#[derive(Clone, Copy, Debug, PartialEq, LabelSet)]
#[label(crate = lakemetrics_core, name = "outcome")]
enum Outcome {
    Success,
    Failure,
}

#[derive(Clone, Copy, Debug, PartialEq, LabelSet)]
#[label(crate = lakemetrics_core)]
struct Batch {
    format: Format,
    outcome: Outcome,
}

/// Every series of every family: (name, labels "k=v,..." sorted, counter total).
fn counters(reg: &Registry) -> Vec<(String, String, u64)> {
    let mut seen = Vec::new();
    reg.visit(&Filter::all(), |fam| {
        for s in fam.series() {
            let labels: Vec<String> = s.labels().map(|(k, v)| format!("{k}={v}")).collect();
            if let SeriesData::Counter(c) = s.data() {
                seen.push((fam.name().to_string(), labels.join(","), c.total()));
            }
        }
    });
    seen.sort();
    seen
}

#[test]
fn derived_sets_number_every_combination_once() {
    assert_eq!(Format::VALUES, ["csv", "json", "parquet_v2"]);
    assert_eq!(Batch::NAMES, ["format", "outcome"]);
    assert_eq!(Batch::CARDINALITY, 6);
    let mut seen = [false; Batch::CARDINALITY];
    for format in [Format::Csv, Format::Json, Format::Parquet] {
        for outcome in [Outcome::Success, Outcome::Failure] {
            let b = Batch { format, outcome };
            let i = b.index();
            assert!(!seen[i], "index {i} twice");
            seen[i] = true;
            assert_eq!(Batch::value(i, 0), Format::VALUES[format.ordinal()]);
            assert_eq!(Batch::value(i, 1), Outcome::VALUES[outcome.ordinal()]);
        }
    }
    assert!(seen.iter().all(|s| *s));
}

#[test]
fn typed_family_creates_every_series_up_front_and_records_by_index() {
    let reg = Registry::new();
    let batches = reg
        .typed_counter::<Batch>("batches_total", &[("handler", "csv")])
        .unwrap();
    assert_eq!(reg.series_count(), 6);
    let b = Batch {
        format: Format::Parquet,
        outcome: Outcome::Failure,
    };
    batches.get(&b).inc();
    batches.get(&b).inc_by(2);
    let by_str = reg
        .counter(
            "batches_total",
            &[
                ("outcome", "failure"),
                ("handler", "csv"),
                ("format", "parquet_v2"),
            ],
        )
        .unwrap();
    assert_eq!(by_str.get(), 3);
    // Taking it again finds the same series.
    let again = reg
        .typed_counter::<Batch>("batches_total", &[("handler", "csv")])
        .unwrap();
    assert_eq!(again.get(&b).get(), 3);
    assert_eq!(reg.series_count(), 6);
    let all = counters(&reg);
    assert_eq!(all.len(), 6);
    assert_eq!(all.iter().map(|s| s.2).sum::<u64>(), 3);
}

#[test]
fn every_kind_has_typed_families() {
    let reg = Registry::new();
    reg.register(
        Describe::histogram("lat").buckets(lakemetrics_core::Buckets::new(vec![1.0]).unwrap()),
    )
    .unwrap();
    let g = reg.typed_gauge::<Outcome>("g", &[]).unwrap();
    let h = reg.typed_histogram::<Outcome>("lat", &[]).unwrap();
    let s = reg.typed_summary::<Outcome>("s", &[]).unwrap();
    g.get(&Outcome::Success).set(2.5);
    h.get(&Outcome::Failure).observe(0.5);
    s.get(&Outcome::Failure).observe(3.0);
    assert_eq!(
        reg.gauge("g", &[("outcome", "success")]).unwrap().get(),
        2.5
    );
    assert_eq!(
        reg.histogram("lat", &[("outcome", "failure")])
            .unwrap()
            .snapshot()
            .count(),
        1
    );
    assert_eq!(
        reg.summary("s", &[("outcome", "failure")]).unwrap().count(),
        1
    );
    assert_eq!(h.handles().len(), 2);
}

#[test]
fn bad_input_is_a_typed_error_and_creates_nothing() {
    let reg = Registry::builder().max_label_value_len(8).build();
    assert!(matches!(
        reg.typed_counter::<Outcome>("bad-name", &[]),
        Err(Error::InvalidName { .. })
    ));
    assert!(matches!(
        reg.typed_counter::<Outcome>("m", &[("__reserved", "x")]),
        Err(Error::InvalidLabelName { .. })
    ));
    assert!(matches!(
        reg.typed_counter::<Outcome>("m", &[("handler", "much too long")]),
        Err(Error::LabelValueTooLong {
            len: 13,
            max: 8,
            ..
        })
    ));
    assert_eq!(
        reg.typed_counter::<Outcome>("m", &[("outcome", "x")])
            .unwrap_err(),
        Error::DuplicateLabel {
            name: "outcome".into()
        }
    );
    assert!(matches!(
        reg.typed_histogram::<Outcome>("h", &[("le", "1")]),
        Err(Error::ReservedLabel { .. })
    ));
    reg.gauge("k", &[("outcome", "success")]).unwrap();
    assert!(matches!(
        reg.typed_counter::<Outcome>("k", &[]),
        Err(Error::KindConflict { .. })
    ));
    // A family whose series have other label names.
    reg.counter("c", &[("handler", "csv")]).unwrap();
    assert!(matches!(
        reg.typed_counter::<Outcome>("c", &[]),
        Err(Error::LabelNamesMismatch { .. })
    ));
    assert!(matches!(
        reg.dynamic_counter::<Outcome>("d", &[], "bad label"),
        Err(Error::InvalidLabelName { .. })
    ));
    assert!(matches!(
        reg.dynamic_counter::<Outcome>("d", &[], "outcome"),
        Err(Error::DuplicateLabel { .. })
    ));
    assert!(matches!(
        reg.dynamic_counter::<Outcome>("k", &[], "tenant"),
        Err(Error::KindConflict { .. })
    ));
    assert_eq!(reg.series_count(), 2, "k and c only");
    assert_eq!(reg.family_count(), 2, "k and c only");
}

/// Two indices with the same label values: a wrong implementation.
struct Twins(usize);
impl LabelSet for Twins {
    const NAMES: &'static [&'static str] = &["twin"];
    const CARDINALITY: usize = 2;
    fn index(&self) -> usize {
        self.0
    }
    fn value(_index: usize, _label: usize) -> &'static str {
        "same"
    }
}

/// No label sets at all.
struct Empty;
impl LabelSet for Empty {
    const NAMES: &'static [&'static str] = &["x"];
    const CARDINALITY: usize = 0;
    fn index(&self) -> usize {
        0
    }
    fn value(_index: usize, _label: usize) -> &'static str {
        ""
    }
}

/// An `index()` past `CARDINALITY`.
struct Stray(usize);
impl LabelSet for Stray {
    const NAMES: &'static [&'static str] = &["stray"];
    const CARDINALITY: usize = 2;
    fn index(&self) -> usize {
        self.0
    }
    fn value(index: usize, _label: usize) -> &'static str {
        ["a", "b"].get(index).copied().unwrap_or("")
    }
}

#[test]
fn wrong_label_set_implementations_are_errors_or_overflow_never_panics() {
    let reg = Registry::new();
    assert!(matches!(
        reg.typed_counter::<Twins>("t", &[]),
        Err(Error::InvalidConfig {
            what: "label set",
            ..
        })
    ));
    assert_eq!(reg.series_count(), 0, "refused before creating anything");
    assert!(matches!(
        reg.typed_counter::<Empty>("e", &[]),
        Err(Error::InvalidConfig {
            what: "label set",
            ..
        })
    ));
    let stray = reg.typed_counter::<Stray>("s", &[]).unwrap();
    stray.get(&Stray(1)).inc();
    stray.get(&Stray(7)).inc_by(5);
    stray.get(&Stray(usize::MAX)).inc_by(2);
    let dynamic = reg.dynamic_counter::<Stray>("ds", &[], "tenant").unwrap();
    dynamic.intern("acme").unwrap().get(&Stray(3)).inc_by(9);
    assert!(counters(&reg).contains(&("ds".into(), format!("{OVERFLOW_LABEL}=true"), 9)));
    let overflow = format!("{OVERFLOW_LABEL}=true");
    let s: Vec<_> = counters(&reg).into_iter().filter(|s| s.0 == "s").collect();
    assert_eq!(
        s,
        vec![
            ("s".into(), overflow, 7),
            ("s".into(), "stray=a".into(), 0),
            ("s".into(), "stray=b".into(), 1),
        ]
    );
}

#[test]
fn typed_families_obey_cardinality_limits() {
    let reg = Registry::new();
    reg.register(Describe::counter("b").max_series(4)).unwrap();
    let err = reg.typed_counter::<Batch>("b", &[]).unwrap_err();
    assert!(matches!(
        err,
        Error::CardinalityLimit {
            limit: 4,
            scope: "family",
            ..
        }
    ));
    assert_eq!(reg.series_count(), 0, "a refused family creates nothing");
    let b = reg.typed_counter_or_overflow::<Batch>("b", &[]).unwrap();
    assert_eq!(reg.series_count(), 4 + 1, "four series and the self-metric");
    for format in [Format::Csv, Format::Json, Format::Parquet] {
        for outcome in [Outcome::Success, Outcome::Failure] {
            b.get(&Batch { format, outcome }).inc();
        }
    }
    let all = counters(&reg);
    let total: u64 = all.iter().filter(|s| s.0 == "b").map(|s| s.2).sum();
    assert_eq!(total, 6, "nothing recorded is lost");
    let overflow = format!("{OVERFLOW_LABEL}=true");
    assert!(all.contains(&("b".into(), overflow, 2)));
    // The self-metric counted the two lookups sent to overflow.
    assert!(all.contains(&(OVERFLOW_METRIC.into(), "metric=b".into(), 2)));

    let small = Registry::builder().max_series(3).build();
    assert!(matches!(
        small.typed_counter::<Batch>("b", &[]),
        Err(Error::CardinalityLimit {
            scope: "registry",
            ..
        })
    ));
    assert_eq!(small.series_count(), 0);
    assert_eq!(small.family_count(), 0);
}

#[test]
fn dynamic_values_get_dense_ids_and_share_series_with_str_lookups() {
    let reg = Registry::new();
    let rows = reg
        .dynamic_counter::<Outcome>("rows_total", &[("handler", "csv")], "tenant")
        .unwrap();
    assert_eq!(reg.series_count(), 0, "no series before a value");
    let acme = rows.intern("acme").unwrap();
    let initech = rows.intern("initech").unwrap();
    assert_eq!((acme.id(), initech.id()), (0, 1));
    assert_eq!(rows.intern("acme").unwrap().id(), 0);
    assert_eq!(rows.len(), 2);
    assert_eq!(reg.series_count(), 4);
    acme.get(&Outcome::Failure).inc_by(3);
    initech.get(&Outcome::Success).inc();
    let get = |tenant: &str, outcome: &str| {
        reg.counter(
            "rows_total",
            &[("handler", "csv"), ("tenant", tenant), ("outcome", outcome)],
        )
        .unwrap()
        .get()
    };
    assert_eq!(get("acme", "failure"), 3);
    assert_eq!(get("initech", "success"), 1);
    assert_eq!(get("acme", "success"), 0);
    // One label only: `()` as the static part.
    let bytes = reg
        .dynamic_counter::<()>("bytes_total", &[], "tenant")
        .unwrap();
    bytes.intern("acme").unwrap().get(&()).inc_by(10);
    assert_eq!(
        reg.counter("bytes_total", &[("tenant", "acme")])
            .unwrap()
            .get(),
        10
    );
}

#[test]
fn dynamic_values_obey_value_length_and_cardinality_limits() {
    let reg = Registry::builder().max_label_value_len(8).build();
    reg.register(Describe::counter("rows").max_series(4))
        .unwrap();
    let rows = reg
        .dynamic_counter::<Outcome>("rows", &[], "tenant")
        .unwrap();
    assert!(matches!(
        rows.intern("much too long"),
        Err(Error::LabelValueTooLong { .. })
    ));
    assert!(rows.is_empty());
    let a = rows.intern("a").unwrap();
    let b = rows.intern("b").unwrap();
    assert_eq!(reg.series_count(), 4);
    assert!(matches!(
        rows.intern("c"),
        Err(Error::CardinalityLimit {
            limit: 4,
            scope: "family",
            ..
        })
    ));
    assert_eq!(reg.series_count(), 4, "a refused value creates nothing");
    let c = rows.intern_or_overflow("c").unwrap();
    let d = rows.intern_or_overflow("d").unwrap();
    assert_eq!(
        c.id(),
        lakemetrics_core::DynamicValue::<lakemetrics_core::Counter, Outcome>::OVERFLOW
    );
    assert_eq!(rows.len(), 2, "overflowed values are not remembered");
    a.get(&Outcome::Success).inc();
    b.get(&Outcome::Failure).inc();
    c.get(&Outcome::Success).inc_by(4);
    d.get(&Outcome::Failure).inc_by(8);
    let all = counters(&reg);
    let overflow = format!("{OVERFLOW_LABEL}=true");
    assert!(all.contains(&("rows".into(), overflow, 12)));
    // Two lookups (one per outcome) for each of the two values.
    assert!(all.contains(&(OVERFLOW_METRIC.into(), "metric=rows".into(), 4)));
    let total: u64 = all.iter().filter(|s| s.0 == "rows").map(|s| s.2).sum();
    assert_eq!(total, 14, "nothing recorded is lost");
}

#[test]
fn threads_interning_the_same_values_agree_on_ids_and_series() {
    let reg = Registry::new();
    let rows = reg
        .dynamic_counter::<Outcome>("rows", &[], "tenant")
        .unwrap();
    let values: Vec<String> = (0..32).map(|i| format!("t{i}")).collect();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for v in &values {
                    rows.intern(v).unwrap().get(&Outcome::Success).inc();
                }
            });
        }
    });
    assert_eq!(rows.len(), 32);
    let mut ids: Vec<u32> = values
        .iter()
        .map(|v| rows.intern(v).unwrap().id())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..32).collect::<Vec<u32>>());
    for v in &values {
        let c = reg
            .counter("rows", &[("tenant", v), ("outcome", "success")])
            .unwrap();
        assert_eq!(c.get(), 4);
    }
    assert_eq!(reg.series_count(), 64);
}

#[test]
fn overflow_forms_record_past_the_family_limit_of_the_registry() {
    let reg = Registry::builder().max_families(1).build();
    reg.counter("taken", &[]).unwrap();
    assert!(matches!(
        reg.typed_counter::<Outcome>("new", &[]),
        Err(Error::CardinalityLimit {
            scope: "families",
            ..
        })
    ));
    let fam = reg
        .typed_counter_or_overflow::<Outcome>("new", &[])
        .unwrap();
    fam.get(&Outcome::Success).inc_by(3);
    let rows = reg
        .dynamic_counter::<Outcome>("rows", &[], "tenant")
        .unwrap();
    assert!(matches!(
        rows.intern("acme"),
        Err(Error::CardinalityLimit {
            scope: "families",
            ..
        })
    ));
    rows.intern_or_overflow("acme")
        .unwrap()
        .get(&Outcome::Failure)
        .inc_by(4);
    // Both went where the `&str` API sends a new name past the family limit.
    let all = counters(&reg);
    let overflow = format!("{OVERFLOW_LABEL}=true");
    assert!(all.contains(&("lakemetrics_overflow_counter".into(), overflow, 7)));
    assert_eq!(
        reg.family_count(),
        3,
        "taken, the overflow family, the self-metric"
    );
}
