//! Filters: `name[]=` on `/metrics`; name, prefix, kind, label matchers and time
//! ranges (milliseconds and RFC 3339) on `/api/v1/series`; the same selection on
//! `/api/v1/families`.

mod common;

use std::time::Duration;

use common::{assert_error, get, manual_registry, T0};
use lakemetrics_core::{Filter, NameMatch};
use lakemetrics_http::HttpExporter;
use serde_json::Value;

fn names(v: &Value) -> Vec<String> {
    v["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

fn series_labels(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for f in v["families"].as_array().unwrap() {
        for s in f["series"].as_array().unwrap() {
            out.push(format!("{}{}", f["name"].as_str().unwrap(), s["labels"]));
        }
    }
    out
}

#[test]
fn filters_select_families_series_and_history() {
    let (reg, clock) = manual_registry();
    let csv_ok = reg
        .counter(
            "ingest_batches_total",
            &[("handler", "csv"), ("outcome", "success")],
        )
        .unwrap();
    let csv_fail = reg
        .counter(
            "ingest_batches_total",
            &[("handler", "csv"), ("outcome", "failure")],
        )
        .unwrap();
    let json_ok = reg
        .counter(
            "ingest_batches_total",
            &[("handler", "json"), ("outcome", "success")],
        )
        .unwrap();
    reg.gauge("ingest_queue_depth", &[("handler", "csv")])
        .unwrap()
        .set(4.0);
    reg.histogram("ingest_batch_duration_seconds", &[("handler", "csv")])
        .unwrap()
        .observe(0.1);
    reg.gauge("process_threads", &[]).unwrap().set(8.0);
    // Three one-second epochs of history: T0, T0+1s, T0+2s.
    csv_ok.inc_by(1);
    clock.advance(Duration::from_secs(1));
    csv_ok.inc_by(2);
    csv_fail.inc();
    clock.advance(Duration::from_secs(1));
    csv_ok.inc_by(3);
    json_ok.inc_by(5);

    let server = HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        .start()
        .unwrap();
    let addr = server.local_addr();

    // /metrics with name[]: exactly what the export crate writes for that filter.
    let mut expected = Vec::new();
    let mut f = Filter::all();
    f.name = NameMatch::AnyOf(vec!["process_threads".into(), "ingest_queue_depth".into()]);
    lakemetrics_export::write_prometheus(&reg, &f, &mut expected).unwrap();
    for path in [
        "/metrics?name[]=process_threads&name[]=ingest_queue_depth",
        "/metrics?name%5B%5D=process_threads&name%5B%5D=ingest_queue_depth",
        "/metrics?name[]=ingest_queue_depth&name=process_threads",
    ] {
        let resp = get(addr, path, &[]);
        assert_eq!(resp.status, 200, "{path}");
        assert_eq!(
            resp.text(),
            String::from_utf8(expected.clone()).unwrap(),
            "{path}"
        );
    }
    let text = get(addr, "/metrics?name[]=ingest_batches_total", &[]).text();
    assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 3);
    assert!(!text.contains("process_threads"));
    // A name nobody registered: an empty, valid scrape.
    let resp = get(addr, "/metrics?name[]=nothing_here", &[]);
    assert_eq!((resp.status, resp.body.len()), (200, 0));

    // /api/v1/series: name, prefix, kind, labels.
    let q = |path: &str| {
        let resp = get(addr, path, &[]);
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
        assert_eq!(resp.header("content-type"), Some("application/json"));
        resp.json()
    };
    assert_eq!(
        names(&q("/api/v1/series?name=process_threads")),
        ["process_threads"]
    );
    assert_eq!(
        names(&q("/api/v1/series?prefix=ingest_")),
        [
            "ingest_batch_duration_seconds",
            "ingest_batches_total",
            "ingest_queue_depth"
        ]
    );
    assert_eq!(
        names(&q("/api/v1/series?kind=gauge")),
        ["ingest_queue_depth", "process_threads"]
    );
    assert_eq!(
        names(&q("/api/v1/series?prefix=ingest_&kind=histogram")),
        ["ingest_batch_duration_seconds"]
    );
    assert_eq!(
        series_labels(&q(
            "/api/v1/series?name=ingest_batches_total&label=handler:csv"
        )),
        [
            r#"ingest_batches_total{"handler":"csv","outcome":"success"}"#,
            r#"ingest_batches_total{"handler":"csv","outcome":"failure"}"#
        ]
    );
    assert_eq!(
        series_labels(&q(
            "/api/v1/series?name=ingest_batches_total&label=handler:csv&label!=outcome:success"
        )),
        [r#"ingest_batches_total{"handler":"csv","outcome":"failure"}"#]
    );
    // A missing label counts as empty, as in PromQL.
    assert_eq!(
        names(&q("/api/v1/series?label=handler:")),
        ["process_threads"]
    );
    // Every family of the registry, and their series counts.
    let fams = q("/api/v1/families");
    assert_eq!(fams["families"].as_array().unwrap().len(), 4);
    let batches = &fams["families"][1];
    assert_eq!(batches["name"], "ingest_batches_total");
    assert_eq!(batches["kind"], "counter");
    assert_eq!(batches["series"], 3);
    assert_eq!(batches["resolution_ms"], 1000);
    assert_eq!(
        names(&q("/api/v1/families?prefix=ingest_&kind=gauge")),
        ["ingest_queue_depth"]
    );
    assert_eq!(
        q("/api/v1/families?label=handler:json")["families"][0]["series"],
        1
    );

    // Time ranges select history: epochs at T0, T0+1s, T0+2s.
    let ms = T0 / 1_000_000;
    let history = |range: &str| -> Vec<(u64, u64)> {
        let v = q(&format!(
            "/api/v1/series?name=ingest_batches_total&label=handler:csv&label=outcome:success{range}"
        ));
        let s = &v["families"][0]["series"][0];
        assert_eq!(s["total"], 6);
        // One column value per epoch, from the history's start, 1 s apart.
        let h = &s["history"];
        let start = h["start_ms"].as_u64().unwrap();
        h["increase"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, inc)| (start + 1000 * i as u64, inc.as_u64().unwrap()))
            .collect()
    };
    assert_eq!(history(""), [(ms, 1), (ms + 1000, 2), (ms + 2000, 3)]);
    assert_eq!(
        history(&format!("&start={}", ms + 1000)),
        [(ms + 1000, 2), (ms + 2000, 3)]
    );
    assert_eq!(history(&format!("&end={}", ms + 999)), [(ms, 1)]);
    assert_eq!(
        history(&format!("&start={}&end={}", ms + 1000, ms + 1000)),
        [(ms + 1000, 2)]
    );
    // The same in RFC 3339 (T0 is 2023-11-14T22:13:20Z), in another zone too.
    assert_eq!(
        history("&start=2023-11-14T22:13:21Z&end=2023-11-14T22:13:21.500Z"),
        [(ms + 1000, 2)]
    );
    assert_eq!(
        history("&start=2023-11-14T23:13:22%2B01:00"),
        [(ms + 2000, 3)]
    );
    // Seconds and milliseconds with their unit.
    let secs = T0 / 1_000_000_000;
    assert_eq!(
        history(&format!("&start={}s", secs + 1)),
        [(ms + 1000, 2), (ms + 2000, 3)]
    );
    assert_eq!(
        history(&format!("&start={}ms&end={}ms", ms + 1000, ms + 1000)),
        [(ms + 1000, 2)]
    );
    // Relative to the server's clock (T0 is in 2023): all of it, or none.
    assert_eq!(history("&end=now").len(), 3);
    for recent in ["now-5m", "-1h"] {
        let v = q(&format!(
            "/api/v1/series?name=ingest_batches_total&label=handler:csv&start={recent}"
        ));
        let h = &v["families"][0]["series"][0]["history"];
        assert_eq!(
            h["increase"].as_array().map(Vec::len),
            Some(0),
            "{recent}: {h}"
        );
    }
    // Seconds without a unit are refused, and the message says what to write.
    let resp = get(
        server.local_addr(),
        &format!("/api/v1/series?start={secs}"),
        &[],
    );
    let v = assert_error(&resp, 400, "ambiguous_time");
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("{secs}s")) && message.contains("RFC 3339"),
        "{message}"
    );
    assert!(v["accepted"].as_str().unwrap().contains("now-1h30m"));
    let v = q(&format!(
        "/api/v1/series?name=process_threads&start={ms}&end={}",
        ms + 5
    ));
    assert_eq!(
        (v["start_ms"].as_u64(), v["end_ms"].as_u64()),
        (Some(ms), Some(ms + 5))
    );
    server.shutdown();
}
