//! Filtered visits: names, kinds, label matchers and time ranges.

use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{Filter, ManualClock, MetricKind, Registry, Retention, SeriesData};

const T0: u64 = 1_700_000_000_000_000_000;
const S: u64 = 1_000_000_000;

fn setup() -> (Arc<ManualClock>, Registry) {
    let clock = Arc::new(ManualClock::new(T0));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(60)).unwrap())
        .build();
    for (h, st) in [("csv", "ok"), ("csv", "error"), ("json", "ok")] {
        reg.counter("ingest_rows", &[("handler", h), ("status", st)])
            .unwrap()
            .inc();
    }
    reg.gauge("ingest_queue_depth", &[("queue", "q1")])
        .unwrap()
        .set(4.0);
    reg.histogram("write_seconds", &[]).unwrap().observe(0.3);
    (clock, reg)
}

fn names(reg: &Registry, f: &Filter) -> Vec<String> {
    let mut out = Vec::new();
    reg.visit(f, |fam| {
        for s in fam.series() {
            let labels: Vec<String> = s.labels().map(|(k, v)| format!("{k}={v}")).collect();
            out.push(format!("{}{{{}}}", fam.name(), labels.join(",")));
        }
    });
    out
}

#[test]
fn filters_select_families_and_series() {
    let (_, reg) = setup();
    assert_eq!(names(&reg, &Filter::all()).len(), 5);
    assert_eq!(
        names(
            &reg,
            &Filter::all().prefix("ingest_").kind(MetricKind::Gauge)
        ),
        ["ingest_queue_depth{queue=q1}"]
    );
    assert_eq!(
        names(
            &reg,
            &Filter::all()
                .name("ingest_rows")
                .label_eq("handler", "csv")
                .label_ne("status", "ok")
        ),
        ["ingest_rows{handler=csv,status=error}"]
    );
    // Labels come sorted by name whatever order they were given in.
    reg.counter("ingest_rows", &[("status", "ok"), ("handler", "avro")])
        .unwrap();
    assert_eq!(
        names(&reg, &Filter::all().label_eq("handler", "avro")),
        ["ingest_rows{handler=avro,status=ok}"]
    );
    // Families are visited in name order; empty selections are skipped.
    assert_eq!(
        names(&reg, &Filter::all().name("nope")),
        Vec::<String>::new()
    );
    let mut order = Vec::new();
    reg.visit(&Filter::all(), |f| order.push(f.name().to_string()));
    assert_eq!(
        order,
        ["ingest_queue_depth", "ingest_rows", "write_seconds"]
    );
}

#[test]
fn time_range_selects_history() {
    let (clock, reg) = setup();
    let c = reg
        .counter("ingest_rows", &[("handler", "csv"), ("status", "ok")])
        .unwrap();
    for _ in 0..10 {
        clock.advance(Duration::from_secs(1));
        c.inc_by(2);
    }
    let pts = |f: Filter| {
        let mut v = Vec::new();
        reg.visit(
            &f.name("ingest_rows")
                .label_eq("status", "ok")
                .label_eq("handler", "csv"),
            |fam| {
                for s in fam.series() {
                    if let SeriesData::Counter(core) = s.data() {
                        core.for_each_point(s.now(), s.range(), |p| {
                            v.push(((p.start - T0) / S, p.increase))
                        });
                    }
                }
            },
        );
        v
    };
    assert_eq!(pts(Filter::all()).len(), 11);
    assert_eq!(
        pts(Filter::all().since_nanos(T0 + 8 * S)),
        [(8, 2), (9, 2), (10, 2)]
    );
    assert_eq!(pts(Filter::all().until_nanos(T0 + S)), [(0, 1), (1, 2)]);
    assert_eq!(
        pts(Filter::all()
            .since_nanos(T0 + 3 * S)
            .until_nanos(T0 + 4 * S - 1)),
        [(3, 2)]
    );
}
