//! A real Prometheus (Debian package `prometheus`, started with
//! `--web.enable-remote-write-receiver`) receives our pushes: its query API
//! must return every sample with the exact value and timestamp we recorded;
//! after an outage shorter than the retention every epoch recorded meanwhile
//! arrives, and after a longer one exactly what left the ring is counted lost.
//!
//! Fails, never skips, when `prometheus` is missing.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::prometheus::Prometheus;
use lakemetrics_core::{Buckets, Describe, Filter, ManualClock, Registry, Retention, SeriesData};
use lakemetrics_push::{encode_registry, proto::Label, RemoteWriter};
use serde_json::json;

/// A manual clock a minute in the past, on a second boundary, so every
/// sample is recent for Prometheus and every epoch is ours to close.
fn registry(window: Duration) -> (Registry, Arc<ManualClock>, i64) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let t0 = (now.as_secs() - 60) * 1_000_000_000;
    let clock = Arc::new(ManualClock::new(t0));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(1), window).unwrap())
        .build();
    (reg, clock, (t0 / 1_000_000) as i64)
}

fn same(a: &[(i64, f64)], b: &[(i64, f64)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.0 == y.0 && (x.1 == y.1 || (x.1.is_nan() && y.1.is_nan())))
}

#[test]
fn prometheus_stores_every_sample_we_push() {
    let prom = Prometheus::start();
    let (reg, clock, ms0) = registry(Duration::from_secs(60));
    reg.register(Describe::histogram("lat").buckets(Buckets::new(vec![0.1, 1.0]).unwrap()))
        .unwrap();
    reg.register(Describe::summary("size").objectives(vec![0.5, 0.9]))
        .unwrap();
    let rows = reg.counter("rows", &[("handler", "csv")]).unwrap();
    let temp = reg.gauge("temp", &[("room", "a \"b\" ü")]).unwrap();
    let lat = reg.histogram("lat", &[]).unwrap();
    let size = reg.summary("size", &[]).unwrap();
    let writer = RemoteWriter::builder(&reg, prom.write_url())
        .interval(Duration::from_secs(3600))
        .external_label("instance", "test")
        .start()
        .unwrap();

    rows.inc_by(3);
    temp.set(20.5);
    lat.observe(0.0625);
    lat.observe(0.5);
    size.observe(4.0);
    clock.advance(Duration::from_secs(1));
    rows.inc_by(2);
    temp.set(-3.25);
    lat.observe(2.0);
    size.observe(8.0);
    size.observe(8.0);
    clock.advance(Duration::from_secs(1));
    // An epoch with no recording.
    clock.advance(Duration::from_secs(1));
    // What we send, for the summary's quantiles (sketch answers).
    let sent = encode_registry(&reg, &Filter::all().name("size"), &[]);

    let report = writer.flush(Duration::from_secs(20));
    assert_eq!((report.dropped, report.pending), (0, 0), "{report:?}");
    assert!(report.sent >= 33, "{report:?}");
    let at = ms0 + 3000;
    let ts = |v: [f64; 3]| vec![(ms0 + 1000, v[0]), (ms0 + 2000, v[1]), (ms0 + 3000, v[2])];
    let quantiles = |q: &str| -> Vec<(i64, f64)> {
        let t = sent
            .timeseries
            .iter()
            .find(|t| t.labels.contains(&Label::new("quantile", q)))
            .unwrap();
        t.samples.iter().map(|s| (s.timestamp, s.value)).collect()
    };
    let want = [
        (
            "rows_total",
            json!({"__name__": "rows_total", "handler": "csv", "instance": "test"}),
            ts([3.0, 5.0, 5.0]),
        ),
        (
            "temp",
            json!({"__name__": "temp", "room": "a \"b\" ü", "instance": "test"}),
            ts([20.5, -3.25, -3.25]),
        ),
        (
            "lat_bucket{le=\"0.1\"}",
            json!({"__name__": "lat_bucket", "le": "0.1", "instance": "test"}),
            ts([1.0, 1.0, 1.0]),
        ),
        (
            "lat_bucket{le=\"1.0\"}",
            json!({"__name__": "lat_bucket", "le": "1.0", "instance": "test"}),
            ts([2.0, 2.0, 2.0]),
        ),
        (
            "lat_bucket{le=\"+Inf\"}",
            json!({"__name__": "lat_bucket", "le": "+Inf", "instance": "test"}),
            ts([2.0, 3.0, 3.0]),
        ),
        (
            "lat_sum",
            json!({"__name__": "lat_sum", "instance": "test"}),
            ts([0.5625, 2.5625, 2.5625]),
        ),
        (
            "lat_count",
            json!({"__name__": "lat_count", "instance": "test"}),
            ts([2.0, 3.0, 3.0]),
        ),
        (
            "size{quantile=\"0.5\"}",
            json!({"__name__": "size", "quantile": "0.5", "instance": "test"}),
            quantiles("0.5"),
        ),
        (
            "size{quantile=\"0.9\"}",
            json!({"__name__": "size", "quantile": "0.9", "instance": "test"}),
            quantiles("0.9"),
        ),
        (
            "size_sum",
            json!({"__name__": "size_sum", "instance": "test"}),
            ts([4.0, 20.0, 20.0]),
        ),
        (
            "size_count",
            json!({"__name__": "size_count", "instance": "test"}),
            ts([1.0, 3.0, 3.0]),
        ),
    ];
    for (selector, labels, samples) in want {
        let got = prom.raw(selector, at);
        assert_eq!(got.len(), 1, "{selector}: {got:?}\nlog:\n{}", prom.log());
        assert_eq!(got[0].0, labels, "{selector}");
        assert!(
            same(&got[0].1, &samples),
            "{selector}: prometheus has {:?}, we recorded {samples:?}",
            got[0].1
        );
    }
    // The summary's quantiles are the sketch's answers: within 1% of the
    // observations, and NaN for the epoch without any.
    let q = quantiles("0.5");
    assert!(
        (q[0].1 - 4.0).abs() < 0.04 && (q[1].1 - 8.0).abs() < 0.08 && q[2].1.is_nan(),
        "{q:?}"
    );
    writer.shutdown();
}

fn total(reg: &Registry, outcome: &str) -> u64 {
    let mut v = 0;
    reg.visit(
        &Filter::all()
            .name("lakemetrics_remote_write_samples_total")
            .label_eq("outcome", outcome),
        |f| {
            for s in f.series() {
                if let SeriesData::Counter(c) = s.data() {
                    v = c.total();
                }
            }
        },
    );
    v
}

#[test]
fn an_outage_shorter_than_the_retention_loses_nothing() {
    let mut prom = Prometheus::start();
    // Ten epochs of retention.
    let (reg, clock, ms0) = registry(Duration::from_secs(10));
    let rows = reg.counter("rows", &[]).unwrap();
    let writer = RemoteWriter::builder(&reg, prom.write_url())
        .interval(Duration::from_secs(3600))
        .backoff(Duration::from_millis(10), Duration::from_millis(50))
        .filter(Filter::all().name("rows"))
        .start()
        .unwrap();
    let mut want = Vec::new();
    let mut n = 0u64;
    let mut epoch = 0i64;
    let mut record = |k: u64, want: &mut Vec<(i64, f64)>| {
        for _ in 0..k {
            epoch += 1;
            n += epoch as u64;
            rows.inc_by(epoch as u64);
            clock.advance(Duration::from_secs(1));
            want.push((ms0 + 1000 * epoch, n as f64));
        }
    };
    record(2, &mut want);
    assert_eq!(writer.flush(Duration::from_secs(20)).sent, 2);

    // Down for three pushes, recording all along.
    prom.stop();
    for _ in 0..3 {
        record(1, &mut want);
        let r = writer.flush(Duration::from_millis(200));
        assert_eq!(r.sent, 0, "{r:?}");
        assert!(r.retried > 0, "{r:?}");
    }
    prom.restart();
    let r = writer.flush(Duration::from_secs(20));
    assert_eq!((r.sent, r.lost, r.dropped), (3, 0, 0), "{r:?}");
    let at = ms0 + 1000 * want.len() as i64;
    let got = prom.raw("rows_total", at);
    assert!(
        same(&got[0].1, &want),
        "prometheus has {:?}, we recorded {want:?}",
        got[0].1
    );
    assert!(!prom.log().contains("out of order"), "{}", prom.log());

    // Down for 15 epochs, longer than the 10 retained: when it is back, the
    // ring holds the 9 closed epochs after the oldest 6; those 6 are lost.
    prom.stop();
    let before = want.len();
    record(15, &mut want);
    prom.restart();
    let r = writer.flush(Duration::from_secs(20));
    assert_eq!((r.sent, r.lost, r.dropped), (9, 6, 0), "{r:?}");
    assert_eq!(total(&reg, "lost"), 6);
    let kept: Vec<_> = want[..before]
        .iter()
        .chain(&want[before + 6..])
        .copied()
        .collect();
    let got = prom.raw("rows_total", ms0 + 1000 * (before as i64 + 15));
    assert!(
        same(&got[0].1, &kept),
        "prometheus has {:?}, we kept {kept:?}",
        got[0].1
    );
    writer.shutdown();
}

/// The same on the real clock with the writer's own interval, recording as the
/// demo's handlers do (`HandlerMetrics`: batches, records, bytes, durations):
/// Prometheus is killed for three intervals while a handler keeps recording,
/// and restarted; every one-second epoch of the run is in Prometheus at the
/// end, consecutive and growing, for each of the handler's counters.
#[test]
fn interval_pushes_resend_an_outage_on_the_real_clock() {
    let mut prom = Prometheus::start();
    let reg = Registry::builder()
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(60)).unwrap())
        .build();
    let handler = lakemetrics_handler::HandlerMetrics::new(&reg, "csv").unwrap();
    let writer = RemoteWriter::builder(&reg, prom.write_url())
        .interval(Duration::from_secs(1))
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .timeout(Duration::from_secs(2))
        .start()
        .unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = handler.start();
                handler.record_batch(4096, 100);
                std::thread::sleep(Duration::from_millis(5));
                t.success();
            }
        });
        std::thread::sleep(Duration::from_millis(2500));
        prom.stop();
        std::thread::sleep(Duration::from_secs(3));
        prom.restart();
        std::thread::sleep(Duration::from_millis(2500));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    // Past the last recording's epoch, so it is closed and sent.
    std::thread::sleep(Duration::from_millis(1100));
    let r = writer.flush(Duration::from_secs(10));
    assert_eq!((r.dropped, r.lost, r.pending), (0, 0, 0), "{r:?}");
    let status = writer.status();
    assert!(
        status.totals.retried > 0,
        "the outage was not seen: {status:?}"
    );
    writer.shutdown();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let totals = handler.totals();
    let names = handler.names();
    assert_eq!(totals.failures, 0);
    for (family, labels, total) in [
        (names.records(), "", totals.records),
        (names.bytes(), "", totals.bytes),
        (names.batches(), "{outcome=\"success\"}", totals.batches),
    ] {
        let exposed = match family.strip_suffix("_total") {
            Some(_) => family.to_owned(),
            None => format!("{family}_total"),
        };
        let got = prom.raw(&format!("{exposed}{labels}"), now_ms);
        assert_eq!(got.len(), 1, "{exposed}: {got:?}\n{}", prom.log());
        let samples = &got[0].1;
        // About 9 s of recording: 8 or more closed epochs, none missing.
        assert!(samples.len() >= 8, "{exposed}: {samples:?}");
        assert!(
            samples
                .windows(2)
                .all(|w| w[1].0 - w[0].0 == 1000 && w[1].1 >= w[0].1),
            "{exposed}: {samples:?}"
        );
        assert_eq!(
            samples.last().unwrap().1 as u64,
            total,
            "{exposed}: {samples:?}"
        );
    }
}

/// With `native_histograms(true)`, the registry's native histograms (one
/// native-only, one native beside classic buckets) arrive in a Prometheus
/// 2.42 started with `--enable-feature=native-histograms` as native series:
/// no classic `_bucket`/`_sum`/`_count` streams, `histogram_count` and
/// `histogram_sum` exactly ours, and `histogram_quantile` within `sqrt(base)`
/// of `Histogram::native_quantile` (the bound and why it holds:
/// `crates/http/tests/prometheus_protobuf.rs`,
/// `prometheus_reads_the_registrys_native_histograms`).
#[test]
fn prometheus_receives_native_histograms() {
    use lakemetrics_core::native_quantile_error;
    let prom = Prometheus::start_with(&["--enable-feature=native-histograms"]);
    let (reg, clock, ms0) = registry(Duration::from_secs(60));
    reg.register(Describe::histogram("lmpush_native_only").native(3))
        .unwrap();
    reg.register(
        Describe::histogram("lmpush_native_both")
            .buckets(Buckets::new(vec![0.01, 0.1, 1.0]).unwrap())
            .native(2),
    )
    .unwrap();
    let only = reg.histogram("lmpush_native_only", &[]).unwrap();
    let both = reg.histogram("lmpush_native_both", &[]).unwrap();
    // Twelve values, each in a bucket of its own and within the 16 distinct
    // buckets an epoch of core's history keeps exactly; the k-th 50 + 7k
    // times (1,062 in all).
    for k in 0..12 {
        for _ in 0..50 + 7 * k {
            let v = 0.003 * 2.1f64.powi(k);
            only.observe(v);
            both.observe(v);
        }
    }
    clock.advance(Duration::from_secs(1));
    let writer = RemoteWriter::builder(&reg, prom.write_url())
        .interval(Duration::from_secs(3600))
        .native_histograms(true)
        .filter(Filter::all().prefix("lmpush_native_"))
        .start()
        .unwrap();
    let report = writer.flush(Duration::from_secs(20));
    // One histogram sample per series.
    assert_eq!(
        (report.sent, report.dropped, report.pending),
        (2, 0, 0),
        "{report:?}\n{}",
        prom.log()
    );
    // Stamped with the time the push read them: the clock's, a second in.
    let at = ms0 + 1000;
    for (name, h) in [("lmpush_native_only", &only), ("lmpush_native_both", &both)] {
        let snap = h.native_snapshot().unwrap();
        assert_eq!(snap.count, 1062);
        assert_eq!(
            prom.query_one(&format!("histogram_count({name})"), at),
            1062.0,
            "{name}"
        );
        assert_eq!(
            prom.query_one(&format!("histogram_sum({name})"), at),
            h.snapshot().sum,
            "{name}"
        );
        assert_eq!(
            prom.count(&format!("{{__name__=~\"{name}_.+\"}}"), at),
            0,
            "{name}: classic streams were sent"
        );
        let sqrt_base = 1.0 + native_quantile_error(snap.schema);
        for q in [0.5, 0.9, 0.99] {
            let rank = q * snap.count as f64;
            let mut before = 0u64;
            let &(index, c) = snap
                .positive
                .iter()
                .find(|&&(_, c)| {
                    let found = (before + c) as f64 >= rank;
                    if !found {
                        before += c;
                    }
                    found
                })
                .unwrap();
            assert!(before as f64 + 2.0 <= rank && rank + 2.0 <= (before + c) as f64);
            let (lower, upper) = (snap.upper_bound(index - 1), snap.upper_bound(index));
            let theirs = prom.query_one(&format!("histogram_quantile({q}, {name})"), at);
            let ours = h.native_quantile(q, Duration::from_secs(60)).unwrap();
            println!("{name} q={q}: prometheus {theirs}, ours {ours}, bucket ({lower}, {upper}]");
            assert!(lower <= theirs && theirs <= upper, "{name} q={q}: {theirs}");
            assert!(lower < ours && ours <= upper, "{name} q={q}: {ours}");
            let ratio = (theirs / ours).max(ours / theirs);
            assert!(ratio <= sqrt_base * (1.0 + 1e-12), "{name} q={q}: {ratio}");
        }
    }
    writer.shutdown();
}
