//! The documented names, labels, units and HELP texts are what a registry holds
//! and what the Prometheus exporter writes, under any prefix.

mod common;

use common::*;
use lakemetrics_core::{Buckets, Error, Filter, MetricKind, Retention};
use lakemetrics_handler::{HandlerMetrics, MetricNames, FAMILIES};

fn prometheus(reg: &lakemetrics_core::Registry) -> String {
    let mut out = Vec::new();
    lakemetrics_export::write_prometheus(reg, &Filter::all(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn every_family_is_registered_with_its_metadata() {
    let (reg, _) = registry();
    let h = HandlerMetrics::new(&reg, "csv").unwrap();
    let names = h.names();
    let mut seen = Vec::new();
    reg.visit(&Filter::all().prefix("ingest_"), |fam| {
        let (name, spec) = names
            .families()
            .find(|(n, _)| *n == fam.name())
            .unwrap_or_else(|| panic!("undocumented family {}", fam.name()));
        assert_eq!(fam.kind(), spec.kind, "{name}");
        assert_eq!(fam.help(), spec.help, "{name}");
        assert_eq!(fam.unit(), spec.unit, "{name}");
        for s in fam.series() {
            let labels: Vec<&str> = s.labels().map(|(k, _)| k).collect();
            for l in &labels {
                assert!(spec.labels.contains(l), "{name} has undocumented label {l}");
            }
            assert!(s.labels().any(|(k, v)| k == "handler" && v == "csv"));
        }
        seen.push(name.to_string());
    });
    assert_eq!(seen.len(), FAMILIES.len());
}

#[test]
fn the_exporter_writes_the_documented_names() {
    let (reg, _) = registry();
    let h = HandlerMetrics::new(&reg, "csv").unwrap();
    h.start().success();
    let text = prometheus(&reg);
    for (name, spec) in MetricNames::default().families() {
        let kind = match spec.kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
            MetricKind::Summary => "summary",
        };
        assert!(
            text.contains(&format!("# HELP {name} {}\n", spec.help)),
            "{name}\n{text}"
        );
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name}\n{text}"
        );
    }
    assert!(
        text.contains("ingest_batches_total{handler=\"csv\",outcome=\"success\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("ingest_errors_total{handler=\"csv\",kind=\"dropped\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains("ingest_batch_duration_seconds_bucket{handler=\"csv\",le=\"0.0005\"} 1\n"),
        "{text}"
    );
}

#[test]
fn the_prefix_is_configurable() {
    let (reg, _) = registry();
    let h = HandlerMetrics::builder(&reg, "csv")
        .prefix("lake_")
        .build()
        .unwrap();
    assert_eq!(h.names().batches(), "lake_batches_total");
    h.record_batch(10, 1);
    assert_eq!(
        reg.counter("lake_bytes_total", &[("handler", "csv")])
            .unwrap()
            .get(),
        10
    );
    let text = prometheus(&reg);
    assert!(text.contains("# TYPE lake_queue_depth gauge"));
    assert!(!text.contains("ingest_"));
    // An empty prefix is allowed; one that makes invalid names is not.
    assert!(HandlerMetrics::builder(&reg, "csv")
        .prefix("")
        .build()
        .is_ok());
    let err = HandlerMetrics::builder(&reg, "csv")
        .prefix("9-")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidName { .. }), "{err}");
}

#[test]
fn handlers_under_one_prefix_must_agree_on_family_options() {
    let (reg, _) = registry();
    HandlerMetrics::new(&reg, "csv").unwrap();
    let err = HandlerMetrics::builder(&reg, "json")
        .duration_buckets(Buckets::new(vec![0.1, 1.0]).unwrap())
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::FamilyConflict {
                what: "buckets",
                ..
            }
        ),
        "{err}"
    );
    let err = HandlerMetrics::builder(&reg, "json")
        .retention(Retention::new(secs(5), secs(60)).unwrap())
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::FamilyConflict { .. }), "{err}");
    // Under another prefix, other options are fine.
    HandlerMetrics::builder(&reg, "json")
        .prefix("fast_")
        .duration_buckets(Buckets::new(vec![0.1, 1.0]).unwrap())
        .build()
        .unwrap();
}
