//! The JSON export parses with serde_json, follows the schema of docs/formats.md,
//! and carries exactly the registry's values: metadata, labels, cumulative values
//! and the per-epoch history the filter's time range selects.

mod common;

use std::time::Duration;

use lakemetrics_core::{Filter, Registry};
use lakemetrics_export::write_json;
use serde_json::Value;

fn export(reg: &Registry, filter: &Filter) -> Value {
    let mut out = Vec::new();
    write_json(reg, filter, &mut out).unwrap();
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)))
}

fn family<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["families"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no family {name}"))
}

/// A series' history column `col` as (epoch start in ms, value) pairs: the
/// columns start at `history.start_ms` and step by the family's resolution.
fn points(fam: &Value, series: &Value, col: &str) -> Vec<(u64, Value)> {
    let h = &series["history"];
    let step = fam["resolution_ms"].as_u64().unwrap();
    let values = h[col]
        .as_array()
        .unwrap_or_else(|| panic!("no column {col}: {h}"));
    if values.is_empty() {
        return Vec::new();
    }
    let start = h["start_ms"].as_u64().unwrap();
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (start + i as u64 * step, v.clone()))
        .collect()
}

fn float(v: &Value) -> f64 {
    match v.as_str() {
        Some("NaN") => f64::NAN,
        Some("+Inf") => f64::INFINITY,
        Some("-Inf") => f64::NEG_INFINITY,
        _ => v.as_f64().unwrap_or_else(|| panic!("not a float: {v}")),
    }
}

#[test]
fn matches_the_registry() {
    let (reg, _clock) = common::registry();
    let doc = export(&reg, &Filter::all());
    let now_ms = reg.now_nanos() / 1_000_000;
    assert_eq!(doc["timestamp_ms"].as_u64(), Some(now_ms));
    assert_eq!(doc["start_ms"], Value::Null);
    assert_eq!(doc["end_ms"], Value::Null);

    let names: Vec<&str> = doc["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    let mut want = Vec::new();
    reg.visit(&Filter::all(), |f| want.push(f.name().to_string()));
    assert_eq!(names, want, "families in name order");

    // Counter: metadata, tricky label values, totals.
    let c = family(&doc, "http_requests_total");
    assert_eq!(c["kind"], "counter");
    assert_eq!(c["help"], common::TRICKY_HELP);
    assert_eq!(c["unit"], Value::Null);
    assert_eq!(c["resolution_ms"].as_u64(), Some(10_000));
    let series = c["series"].as_array().unwrap();
    assert_eq!(series.len(), common::TRICKY.len());
    for (s, value) in series.iter().zip(common::TRICKY) {
        assert_eq!(s["labels"]["path"], value);
        assert_eq!(s["labels"]["method"], "GET");
        let total = reg
            .counter("http_requests_total", &[("method", "GET"), ("path", value)])
            .unwrap()
            .get();
        assert_eq!(s["total"].as_u64(), Some(total));
        assert_eq!(s["created_ms"].as_u64(), Some(common::T0 / 1_000_000));
    }

    // Counter history: one column value per epoch since the series was created,
    // adding up to the total.
    let ingest = family(&doc, "ingest_bytes");
    assert_eq!(ingest["unit"], "bytes");
    let i = &ingest["series"][0];
    assert_eq!(
        points(ingest, i, "increase"),
        [
            (1_700_000_000_000, Value::from(1u64 << 40)),
            (1_700_000_010_000, Value::from(512)),
            (1_700_000_020_000, Value::from(7)),
        ]
    );
    assert_eq!(i["total"].as_u64(), Some((1 << 40) + 519));
    // Series created in the first epoch and never grown since: 0 in the others.
    let first = &family(&doc, "http_requests_total")["series"][0];
    assert_eq!(
        first["history"]["start_ms"].as_u64(),
        Some(1_700_000_000_000)
    );
    assert_eq!(first["history"]["increase"], serde_json::json!([1, 0, 0]));

    // Gauges, non-finite values included; history keeps last/min/max per epoch.
    let g = family(&doc, "queue_depth");
    for s in g["series"].as_array().unwrap() {
        let q = s["labels"]["queue"].as_str().unwrap();
        let want = reg.gauge("queue_depth", &[("queue", q)]).unwrap().get();
        let got = float(&s["value"]);
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "{q}"
        );
    }
    let three = g["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["labels"]["queue"] == "three")
        .unwrap();
    // Set in the first and second epochs, not in the third (null there).
    let h = &three["history"];
    assert_eq!(h["last"].as_array().unwrap().len(), 3);
    let epoch = |i: usize| {
        (
            float(&h["last"][i]),
            float(&h["min"][i]),
            float(&h["max"][i]),
        )
    };
    assert_eq!(epoch(0), (3.0, 3.0, 3.0));
    assert_eq!(epoch(1), (4.0, 4.0, 5.0));
    for col in ["last", "min", "max"] {
        assert_eq!(h[col][2], Value::Null, "{col}");
    }

    // Histogram: bounds, cumulative buckets ending with the +Inf bucket, count, sum.
    let b = family(&doc, "batch_seconds");
    let bounds: Vec<f64> = b["bounds"].as_array().unwrap().iter().map(float).collect();
    assert_eq!(bounds, [0.005, 0.25, 1.0, 100000.0, 1e6]);
    let s = &b["series"][0];
    let snap = reg
        .histogram("batch_seconds", &[("handler", "csv")])
        .unwrap()
        .snapshot();
    let mut cum = 0;
    let want: Vec<u64> = snap
        .counts
        .iter()
        .map(|c| {
            cum += c;
            cum
        })
        .collect();
    let got: Vec<u64> = s["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(got, want);
    assert_eq!(s["count"].as_u64(), Some(snap.count()));
    assert_eq!(float(&s["sum"]), snap.sum);
    // Histogram history: per-epoch buckets (cumulative within the epoch) add up.
    let hist = &s["history"];
    let counts: Vec<u64> = hist["count"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(counts, [6, 0, 1]);
    assert_eq!(counts.iter().sum::<u64>(), snap.count());
    for (i, buckets) in hist["buckets"].as_array().unwrap().iter().enumerate() {
        let buckets = buckets.as_array().unwrap();
        assert_eq!(buckets.len(), bounds.len() + 1);
        assert_eq!(buckets.last().unwrap().as_u64(), Some(counts[i]));
    }
    assert_eq!(hist["buckets"][1], serde_json::json!([0, 0, 0, 0, 0, 0]));
    assert_eq!(float(&hist["sum"][1]), 0.0);

    // Summary: objectives, window, quantiles aligned with the objectives.
    let r = family(&doc, "rpc_latency_seconds");
    assert_eq!(r["window_ms"].as_u64(), Some(60_000));
    let objectives: Vec<f64> = r["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(float)
        .collect();
    assert_eq!(objectives, [0.5, 0.9, 0.99]);
    let sum = reg
        .summary("rpc_latency_seconds", &[("service", "store")])
        .unwrap();
    let s = &r["series"][0];
    for (q, v) in objectives.iter().zip(s["quantiles"].as_array().unwrap()) {
        assert_eq!(float(v), sum.quantile(*q, Duration::from_secs(60)));
    }
    // The span those quantiles cover: the summary's wide slots reach back to
    // the series' creation, and end now.
    let span = sum.span(Duration::from_secs(60));
    assert_eq!(span.start, common::T0);
    assert_eq!(s["window_start_ms"].as_u64(), Some(span.start / 1_000_000));
    assert_eq!(s["window_end_ms"].as_u64(), Some(span.end / 1_000_000));
    assert_eq!(s["window_end_ms"], doc["timestamp_ms"]);
    assert_eq!(s["count"].as_u64(), Some(sum.count()));
    assert_eq!(float(&s["sum"]), sum.sum());
    let idle = &r["series"][1];
    assert!(idle["quantiles"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v == "NaN"));
}

#[test]
fn time_range_selects_history() {
    let (reg, _clock) = common::registry();
    let start = common::T0 + 10_000_000_000; // the second epoch
    let doc = export(&reg, &Filter::all().name("ingest_bytes").since_nanos(start));
    assert_eq!(doc["start_ms"].as_u64(), Some(start / 1_000_000));
    assert_eq!(doc["families"].as_array().unwrap().len(), 1);
    let s = &doc["families"][0]["series"][0];
    assert_eq!(
        s["history"]["start_ms"].as_u64(),
        Some(1_700_000_010_000),
        "only epochs overlapping the range"
    );
    assert_eq!(s["history"]["increase"], serde_json::json!([512, 7]));
    // Cumulative values do not depend on the range.
    assert_eq!(s["total"].as_u64(), Some((1 << 40) + 519));

    let end = common::T0 + 5_000_000_000; // inside the first epoch
    let doc = export(&reg, &Filter::all().name("ingest_bytes").until_nanos(end));
    assert_eq!(doc["end_ms"].as_u64(), Some(end / 1_000_000));
    let history = &doc["families"][0]["series"][0]["history"];
    assert_eq!(history["start_ms"].as_u64(), Some(1_700_000_000_000));
    assert_eq!(history["increase"], serde_json::json!([1u64 << 40]));

    // A range after the last epoch selects none: empty columns, no start.
    let doc = export(
        &reg,
        &Filter::all()
            .name("ingest_bytes")
            .since_nanos(common::T0 + 3_600_000_000_000),
    );
    let history = &doc["families"][0]["series"][0]["history"];
    assert_eq!(history["start_ms"], Value::Null);
    assert_eq!(history["increase"], serde_json::json!([]));
}

#[test]
fn label_filters_select_series_and_empty_output_is_valid() {
    let (reg, _clock) = common::registry();
    let doc = export(&reg, &Filter::all().label_eq("queue", "three"));
    let fams = doc["families"].as_array().unwrap();
    assert_eq!(fams.len(), 1, "only families with a selected series");
    assert_eq!(fams[0]["series"].as_array().unwrap().len(), 1);

    let doc = export(&reg, &Filter::all().name("no_such_family"));
    assert_eq!(doc["families"], Value::Array(vec![]));
    assert!(doc["timestamp_ms"].is_u64());
}

/// One epoch of history as the core reports it, or as read back from the JSON
/// columns (floats as bits, so NaN compares equal to itself).
#[derive(Debug, PartialEq)]
enum Point {
    Counter(u64),
    Gauge([u64; 3]),
    Histogram(Vec<u64>, u64, u64),
    Summary(Vec<u64>, u64, u64),
}

/// Per series, (family name, labels) and its points as (epoch start in ms, point).
type Histories = Vec<((String, String), Vec<(u64, Point)>)>;

/// Every series' history points as the core gives them: (family, labels) to
/// (epoch start in ms, point), for the points `filter` selects.
fn core_points(reg: &Registry, filter: &Filter) -> Histories {
    use lakemetrics_core::SeriesData;
    let mut out = Vec::new();
    reg.visit(filter, |fam| {
        let objectives = fam.objectives();
        for s in fam.series() {
            let key = (
                fam.name().to_string(),
                format!("{:?}", s.labels().collect::<Vec<_>>()),
            );
            let (now, range) = (s.now(), s.range());
            let mut points = Vec::new();
            match s.data() {
                SeriesData::Counter(c) => c.for_each_point(now, range, |p| {
                    points.push((p.start / 1_000_000, Point::Counter(p.increase)))
                }),
                SeriesData::Gauge(g) => g.for_each_point(now, range, |p| {
                    let bits = [p.last.to_bits(), p.min.to_bits(), p.max.to_bits()];
                    points.push((p.start / 1_000_000, Point::Gauge(bits)))
                }),
                SeriesData::Histogram(h) => h.for_each_point(now, range, |p| {
                    let mut cum = 0;
                    let buckets = p.counts.iter().map(|c| {
                        cum += c;
                        cum
                    });
                    let point = Point::Histogram(buckets.collect(), p.count(), p.sum.to_bits());
                    points.push((p.start / 1_000_000, point))
                }),
                SeriesData::Summary(x) => x.for_each_point(now, range, |p| {
                    let q = objectives
                        .iter()
                        .map(|&q| p.quantile(q).to_bits())
                        .collect();
                    points.push((
                        p.start / 1_000_000,
                        Point::Summary(q, p.count, p.sum.to_bits()),
                    ))
                }),
            }
            out.push((key, points));
        }
    });
    out
}

/// The same, read back from the JSON columns; epochs without recordings are
/// left out, after checking they hold what docs/formats.md says (a counter's 0,
/// a gauge's null, zero counts and sums and NaN quantiles). Also checks that
/// every column has one value per epoch and that the columns end at `last_ms`.
fn json_points(doc: &Value, last_ms: u64) -> Histories {
    let bits = |v: &Value| float(v).to_bits();
    let ints = |v: &Value| -> Vec<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect()
    };
    let mut out = Vec::new();
    for fam in doc["families"].as_array().unwrap() {
        let kind = fam["kind"].as_str().unwrap();
        let cols: &[&str] = match kind {
            "counter" => &["increase"],
            "gauge" => &["last", "min", "max"],
            "histogram" => &["buckets", "count", "sum"],
            _ => &["quantiles", "count", "sum"],
        };
        let step = fam["resolution_ms"].as_u64().unwrap();
        for s in fam["series"].as_array().unwrap() {
            let labels: Vec<(&str, &str)> = s["labels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
                .collect();
            let key = (
                fam["name"].as_str().unwrap().to_string(),
                format!("{labels:?}"),
            );
            let h = &s["history"];
            let n = h[cols[0]].as_array().unwrap().len();
            assert_eq!(h.as_object().unwrap().len(), 1 + cols.len(), "{h}");
            for col in cols {
                assert_eq!(h[col].as_array().unwrap().len(), n, "{col}: {h}");
            }
            let mut points = Vec::new();
            if n > 0 {
                let start = h["start_ms"].as_u64().unwrap();
                assert_eq!(start % step, 0, "columns start at an epoch");
                assert_eq!(start + (n as u64 - 1) * step, last_ms - last_ms % step);
                for i in 0..n {
                    let at = start + i as u64 * step;
                    let v = |col: &str| &h[col][i];
                    let point = match kind {
                        "counter" => match v("increase").as_u64().unwrap() {
                            0 => None,
                            inc => Some(Point::Counter(inc)),
                        },
                        "gauge" if v("last").is_null() => {
                            assert!(v("min").is_null() && v("max").is_null());
                            None
                        }
                        "gauge" => Some(Point::Gauge([
                            bits(v("last")),
                            bits(v("min")),
                            bits(v("max")),
                        ])),
                        _ => {
                            let count = v("count").as_u64().unwrap();
                            let first = &v(cols[0]).as_array().unwrap().clone();
                            if count == 0 {
                                assert_eq!(float(v("sum")), 0.0);
                                if kind == "histogram" {
                                    assert!(first.iter().all(|x| x.as_u64() == Some(0)));
                                } else {
                                    assert!(first.iter().all(|x| x == "NaN"));
                                }
                                None
                            } else if kind == "histogram" {
                                Some(Point::Histogram(ints(v("buckets")), count, bits(v("sum"))))
                            } else {
                                let q = first.iter().map(bits).collect();
                                Some(Point::Summary(q, count, bits(v("sum"))))
                            }
                        }
                    };
                    if let Some(p) = point {
                        points.push((at, p));
                    }
                }
            } else {
                assert_eq!(h["start_ms"], Value::Null);
            }
            out.push((key, points));
        }
    }
    out
}

/// A registry with every kind recorded into some epochs and not others, and
/// series created late: its history, read back from the JSON columns, is
/// exactly what the core reports, for the whole history and for time ranges.
#[test]
fn history_columns_round_trip_every_kind() {
    use lakemetrics_core::{Describe, ManualClock, Retention};
    use std::sync::Arc;

    const T: u64 = 1_700_000_000_000_000_000;
    let clock = Arc::new(ManualClock::new(T));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(20)).unwrap())
        .build();
    reg.register(Describe::summary("lat").objectives(vec![0.5, 0.99]))
        .unwrap();
    let c = reg.counter("rows", &[("h", "a")]).unwrap();
    let g = reg.gauge("depth", &[]).unwrap();
    let h = reg.histogram("secs", &[]).unwrap();
    let s = reg.summary("lat", &[]).unwrap();
    for epoch in 0..26u64 {
        if [0, 3, 4, 9, 21, 22].contains(&epoch) {
            c.inc_by(epoch * 1000 + 1);
        }
        if [1, 2, 7, 14, 23].contains(&epoch) {
            g.set(epoch as f64);
            g.set(-(epoch as f64) / 3.0);
            g.add(0.5);
        }
        if [0, 5, 6, 20, 24].contains(&epoch) {
            h.observe(epoch as f64 / 10.0);
            h.observe(0.003);
        }
        if [2, 8, 19, 25].contains(&epoch) {
            for i in 0..10 {
                s.observe(f64::from(i) * epoch as f64);
            }
        }
        if epoch == 15 {
            // A series created late, recorded once.
            reg.counter("rows", &[("h", "late")]).unwrap().inc();
        }
        if epoch < 25 {
            clock.advance(Duration::from_millis(1000));
        }
    }
    clock.advance(Duration::from_millis(300));
    let now_ms = reg.now_nanos() / 1_000_000;
    let late =
        |d: &Value| -> Value { family(d, "rows")["series"][1]["history"]["start_ms"].clone() };

    let ms = T / 1_000_000;
    for (start, end) in [
        (None, None),
        (Some(ms + 10_000), None),
        (Some(ms + 12_500), Some(ms + 22_000)),
        (None, Some(ms + 23_999)),
    ] {
        let mut filter = Filter::all();
        if let Some(s) = start {
            filter = filter.since_nanos(s * 1_000_000);
        }
        if let Some(e) = end {
            filter = filter.until_nanos(e * 1_000_000);
        }
        let doc = export(&reg, &filter);
        let want = core_points(&reg, &filter);
        assert!(want.iter().all(|(_, p)| !p.is_empty()), "{want:?}");
        assert_eq!(json_points(&doc, end.unwrap_or(now_ms).min(now_ms)), want);
        // The late series' columns start at its creation (or the range's start).
        assert_eq!(
            late(&doc).as_u64(),
            Some((ms + 15_000).max(start.map_or(0, |s| s - s % 1000)))
        );
    }
}

/// After the clock went back to before a series' creation, its history starts
/// at the clock's current epoch (never before the creation while the clock is
/// past it): the columns stay one value per epoch up to now; recordings made
/// before that epoch count in the total only.
#[test]
fn a_clock_that_went_back_keeps_the_columns_consistent() {
    use lakemetrics_core::{ManualClock, Retention};
    use std::sync::Arc;

    const T: u64 = 1_700_000_000_000_000_000;
    let clock = Arc::new(ManualClock::new(T));
    let reg = Registry::builder()
        .clock(clock.clone())
        .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(20)).unwrap())
        .build();
    let c = reg.counter("rows", &[]).unwrap();
    c.inc_by(5);
    clock.set(T - 100_000_000_000);
    c.inc_by(7);
    clock.advance(Duration::from_secs(2));
    c.inc_by(1);
    let doc = export(&reg, &Filter::all());
    let s = &family(&doc, "rows")["series"][0];
    assert_eq!(s["total"].as_u64(), Some(13));
    let now_ms = reg.now_nanos() / 1_000_000;
    let (_, core) = &core_points(&reg, &Filter::all())[0];
    let (_, got) = &json_points(&doc, now_ms)[0];
    // The core has the 7 at T - 100 s and the 1 at T - 98 s; the columns (the
    // clock being behind the creation) hold the current epoch only.
    assert_eq!(core.len(), 2, "{core:?}");
    assert_eq!(got, &core[1..]);
    assert_eq!(got[0].0, now_ms);
}

/// A family registered with `Retention::NONE` keeps no history: resolution 0,
/// empty columns without a start.
#[test]
fn a_family_without_history_has_empty_columns() {
    use lakemetrics_core::{Describe, Retention};
    let reg = Registry::new();
    reg.register(Describe::counter("scraped_only").retention(Retention::NONE))
        .unwrap();
    reg.counter("scraped_only", &[]).unwrap().inc_by(3);
    let doc = export(&reg, &Filter::all());
    let f = family(&doc, "scraped_only");
    assert_eq!(f["resolution_ms"].as_u64(), Some(0));
    let s = &f["series"][0];
    assert_eq!(s["total"].as_u64(), Some(3));
    assert_eq!(
        s["history"],
        serde_json::json!({"start_ms": null, "increase": []})
    );
}
