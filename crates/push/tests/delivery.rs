//! What a push sends: the spec's headers, the credentials, each closed epoch
//! once, and the self-metrics.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Receiver;
use lakemetrics_core::{Filter, ManualClock, Registry, Retention, SeriesData};
use lakemetrics_push::{PushReport, RemoteWriter};

const T0: u64 = 1_700_000_000_000_000_000;
const MS0: i64 = (T0 / 1_000_000) as i64;

fn registry() -> (Registry, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(10)).unwrap())
        .build();
    (reg, clock)
}

fn counter_total(reg: &Registry, name: &str, label: (&str, &str)) -> u64 {
    let mut v = 0;
    reg.visit(&Filter::all().name(name).label_eq(label.0, label.1), |f| {
        for s in f.series() {
            if let SeriesData::Counter(c) = s.data() {
                v = c.total();
            }
        }
    });
    v
}

#[test]
fn a_push_has_the_specs_headers_and_each_epoch_is_sent_once() {
    let rx = Receiver::start(&[]);
    let (reg, clock) = registry();
    let c = reg.counter("rows", &[("handler", "csv")]).unwrap();
    let writer = RemoteWriter::builder(&reg, rx.url())
        .interval(Duration::from_secs(3600))
        .bearer_token("t0k3n-abcdefgh")
        .external_label("instance", "a")
        // Only the application's series (not the writer's self-metrics).
        .filter(Filter::all().name("rows"))
        .start()
        .unwrap();
    c.inc_by(4);
    clock.advance(Duration::from_secs(2));
    let r = writer.flush(Duration::from_secs(10));
    assert_eq!(
        r,
        PushReport {
            sent: 2,
            ..PushReport::default()
        }
    );
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req.header("content-encoding"), Some("snappy"));
    assert_eq!(req.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(
        req.header("x-prometheus-remote-write-version"),
        Some("0.1.0")
    );
    assert_eq!(req.header("authorization"), Some("Bearer t0k3n-abcdefgh"));
    assert!(req
        .header("user-agent")
        .unwrap()
        .starts_with("lakemetrics/"));
    let labels: Vec<_> = req.body.timeseries[0]
        .labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("__name__", "rows_total"),
            ("handler", "csv"),
            ("instance", "a")
        ]
    );
    assert_eq!(
        req.samples(),
        [
            ("rows_total".to_string(), MS0 + 1000, 4.0),
            ("rows_total".to_string(), MS0 + 2000, 4.0)
        ]
    );

    // Nothing new is due until an epoch closes; then only it is sent.
    assert_eq!(writer.flush(Duration::from_secs(10)), PushReport::default());
    c.inc();
    clock.advance(Duration::from_secs(1));
    assert_eq!(writer.flush(Duration::from_secs(10)).sent, 1);
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[1].samples(),
        [("rows_total".to_string(), MS0 + 3000, 5.0)]
    );
    assert_eq!(
        counter_total(
            &reg,
            "lakemetrics_remote_write_samples_total",
            ("outcome", "sent")
        ),
        3
    );
    // The other self-metrics: nothing pending, a success time, two
    // requests (the round with nothing due sent none) timed and counted.
    let mut seen = Vec::new();
    reg.visit(&Filter::all().prefix("lakemetrics_remote_write_"), |f| {
        for s in f.series() {
            let v = match s.data() {
                SeriesData::Gauge(g) => g.get(),
                SeriesData::Histogram(h) => h.snapshot().count() as f64,
                SeriesData::Counter(c) => c.total() as f64,
                SeriesData::Summary(_) => continue,
            };
            let label: Vec<String> = s.labels().map(|(k, v)| format!("{k}={v}")).collect();
            seen.push((f.name().to_string(), label.join(","), v));
        }
    });
    let get = |name: &str, label: &str| {
        seen.iter()
            .find(|(n, l, _)| n == name && l == label)
            .map(|x| x.2)
            .unwrap_or_else(|| panic!("{name} {label}: {seen:?}"))
    };
    assert_eq!(get("lakemetrics_remote_write_pending_samples", ""), 0.0);
    assert!(
        get(
            "lakemetrics_remote_write_last_success_timestamp_seconds",
            ""
        ) > 1.6e9
    );
    assert_eq!(
        get("lakemetrics_remote_write_request_duration_seconds", ""),
        2.0
    );
    assert_eq!(
        get("lakemetrics_remote_write_requests_total", "result=2xx"),
        2.0
    );
    assert_eq!(
        get("lakemetrics_remote_write_samples_total", "outcome=lost"),
        0.0
    );
    let status = writer.status();
    assert_eq!(status.totals.sent, 3);
    assert!(status.last_error.is_none());
    writer.shutdown();
}

#[test]
fn batches_split_at_the_sample_limit_and_basic_auth_is_sent() {
    let rx = Receiver::start(&[]);
    let (reg, clock) = registry();
    for i in 0..5 {
        reg.gauge("g", &[("i", &i.to_string())])
            .unwrap()
            .set(i as f64);
    }
    let writer = RemoteWriter::builder(&reg, rx.url())
        .interval(Duration::from_secs(3600))
        .max_samples_per_request(4)
        .basic_auth("Aladdin", "open sesame")
        .filter(Filter::all().name("g"))
        .start()
        .unwrap();
    clock.advance(Duration::from_secs(2));
    // 5 series x 2 epochs in batches of at most 4 samples.
    assert_eq!(writer.flush(Duration::from_secs(10)).sent, 10);
    let reqs = rx.requests();
    assert_eq!(
        reqs.iter().map(|r| r.samples().len()).collect::<Vec<_>>(),
        [4, 4, 2]
    );
    assert_eq!(
        reqs[0].header("authorization"),
        Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    );
    drop(writer);
}

#[test]
fn shutdown_flushes_what_is_due() {
    let rx = Receiver::start(&[]);
    let (reg, clock) = registry();
    reg.gauge("g", &[]).unwrap().set(2.5);
    let writer = RemoteWriter::builder(&reg, rx.url())
        .interval(Duration::from_secs(3600))
        .filter(Filter::all().name("g"))
        .start()
        .unwrap();
    clock.advance(Duration::from_secs(1));
    assert_eq!(writer.shutdown().sent, 1);
    assert_eq!(
        rx.requests()[0].samples(),
        [("g".to_string(), MS0 + 1000, 2.5)]
    );
}

#[test]
fn bad_settings_are_refused_at_start() {
    let reg = Registry::new();
    for url in ["https://x/w", "x/w", "http://u:p@x/w"] {
        let e = RemoteWriter::builder(&reg, url).start().unwrap_err();
        assert!(e.to_string().contains("URL"), "{e}");
    }
    let b = || RemoteWriter::builder(&reg, "http://127.0.0.1:1/w");
    assert!(b().interval(Duration::ZERO).start().is_err());
    assert!(b().max_samples_per_request(0).start().is_err());
    assert!(b().external_label("__name__", "x").start().is_err());
    assert!(b().external_label("a-b", "x").start().is_err());
    assert!(b().external_label("a", "").start().is_err());
    assert!(b().bearer_token("line\nbreak").start().is_err());
}
