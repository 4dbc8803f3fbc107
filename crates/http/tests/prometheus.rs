//! A real Prometheus server (Debian package `prometheus`) scrapes the exporter
//! for a few seconds, once as OpenMetrics (what it asks for first) and once as
//! Prometheus text (`?format=prometheus`), both with the bearer token; then its
//! HTTP API must return every one of our series with the registry's names,
//! labels and values, and nothing else.
//!
//! The test fails, not skips, when `prometheus` is missing: CI installs it.

mod common;

use std::time::{Duration, Instant};

use common::get;
use common::prometheus::{self, expected, populate, query, DEADLINE, TOKEN};
use lakemetrics_core::Registry;
use lakemetrics_http::HttpExporter;

#[test]
fn prometheus_scrapes_and_stores_our_series() {
    let started = Instant::now();
    let reg = Registry::new();
    populate(&reg);
    let want = expected(&reg);
    assert_eq!(want.len(), 2 + 1 + 2 + (5 + 2) + (3 + 2));

    let server = HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        .token(TOKEN)
        .start()
        .unwrap();
    let target = server.local_addr();
    let prom = prometheus::start(
        &[
            prometheus::job("lakemetrics-om", target, ""),
            prometheus::job(
                "lakemetrics-text",
                target,
                "    params:\n      format: [prometheus]\n",
            ),
        ],
        &[],
    );

    // Wait for Prometheus, then for at least three scrapes of each job.
    prom.wait_ready(started);
    for job in ["lakemetrics-om", "lakemetrics-text"] {
        prom.wait_scrapes(started, job);
        let got = prometheus::stored(prom.addr, job, target);
        prometheus::assert_same(job, &got, &want);
    }
    // OpenMetrics also carries creation times, which Prometheus stores as
    // `_created` series: the counter's is its creation time, in seconds.
    let created = query(
        prom.addr,
        "lmtest_rows_created{job=\"lakemetrics-om\",handler=\"csv\"}",
    )
    .unwrap();
    assert_eq!(created.len(), 1, "{created:?}");
    let secs: f64 = created[0]["value"][1].as_str().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - secs).abs() < 60.0, "created {secs}, now {now}");
    // And the scrapes were what was served: our own endpoint says the same.
    let ours = get(
        server.local_addr(),
        "/metrics?name[]=lmtest_temperature",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    assert_eq!(
        ours.text(),
        "# HELP lmtest_temperature No description registered.\n# TYPE lmtest_temperature gauge\nlmtest_temperature -3.25\n"
    );
    drop(prom);
    server.shutdown();
    assert!(started.elapsed() < DEADLINE + Duration::from_secs(5));
}
