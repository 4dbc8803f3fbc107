//! `/metrics` content negotiation: the format follows `Accept` as Prometheus
//! sends it (protobuf when its native histograms are on), `format=` overrides
//! it, and the body is exactly what the export crate writes for that format.

mod common;

use common::{get, manual_registry};
use lakemetrics_core::{Describe, Filter};
use lakemetrics_export::{
    OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, PROTOBUF_CONTENT_TYPE,
};
use lakemetrics_http::HttpExporter;

const PROMETHEUS_2: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
const PROMETHEUS_3: &str = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
/// Prometheus 2.42 with `--enable-feature=native-histograms`.
const NATIVE_2_42: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
/// The same preference with explicit q-values, as later versions send it.
const NATIVE_Q: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.1";
const CLASSIC_ONLY: &str = "text/plain;version=0.0.4;q=1,*/*;q=0.1";

#[test]
fn accept_header_picks_the_format() {
    let (reg, _clock) = manual_registry();
    reg.register(Describe::counter("rows").help("Rows."))
        .unwrap();
    reg.counter("rows", &[("handler", "csv")])
        .unwrap()
        .inc_by(7);
    reg.gauge("queue_depth", &[]).unwrap().set(3.0);
    reg.histogram("batch_seconds", &[("handler", "csv")])
        .unwrap()
        .observe(0.2);
    let mut om = Vec::new();
    lakemetrics_export::write_openmetrics(&reg, &Filter::all(), &mut om).unwrap();
    let mut prom = Vec::new();
    lakemetrics_export::write_prometheus(&reg, &Filter::all(), &mut prom).unwrap();
    let mut pb = Vec::new();
    lakemetrics_export::write_protobuf(&reg, &Filter::all(), &mut pb).unwrap();

    let server = HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        .start()
        .unwrap();
    let addr = server.local_addr();

    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a Vec<u8>);
    let cases: &[Case<'_>] = &[
        (&[("Accept", PROMETHEUS_2)], OPENMETRICS_CONTENT_TYPE, &om),
        (&[("Accept", PROMETHEUS_3)], OPENMETRICS_CONTENT_TYPE, &om),
        (&[("Accept", CLASSIC_ONLY)], PROMETHEUS_CONTENT_TYPE, &prom),
        (&[("Accept", NATIVE_2_42)], PROTOBUF_CONTENT_TYPE, &pb),
        (&[("Accept", NATIVE_Q)], PROTOBUF_CONTENT_TYPE, &pb),
        // q-values decide: protobuf named first but liked less.
        (
            &[(
                "Accept",
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.2,text/plain;version=0.0.4;q=0.3",
            )],
            PROMETHEUS_CONTENT_TYPE,
            &prom,
        ),
        (
            &[(
                "Accept",
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;q=0.6",
            )],
            OPENMETRICS_CONTENT_TYPE,
            &om,
        ),
        // Protobuf of another encoding is not ours to serve.
        (
            &[(
                "Accept",
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
            )],
            PROMETHEUS_CONTENT_TYPE,
            &prom,
        ),
        (&[], PROMETHEUS_CONTENT_TYPE, &prom),
        (&[("Accept", "*/*")], PROMETHEUS_CONTENT_TYPE, &prom),
        (
            &[("Accept", "application/openmetrics-text")],
            OPENMETRICS_CONTENT_TYPE,
            &om,
        ),
        // Only an OpenMetrics version we do not write: the classic format.
        (
            &[("Accept", "application/openmetrics-text;version=0.0.1")],
            PROMETHEUS_CONTENT_TYPE,
            &prom,
        ),
        // Nothing we write is acceptable: the classic format anyway, as
        // Prometheus' own client libraries do.
        (
            &[("Accept", "application/json")],
            PROMETHEUS_CONTENT_TYPE,
            &prom,
        ),
        (&[("Accept", ";;,,q=")], PROMETHEUS_CONTENT_TYPE, &prom),
    ];
    for (headers, content_type, body) in cases {
        let resp = get(addr, "/metrics", headers);
        assert_eq!(resp.status, 200, "{headers:?}");
        assert_eq!(
            resp.header("content-type"),
            Some(*content_type),
            "{headers:?}"
        );
        assert_eq!(resp.header("vary"), Some("Accept, Accept-Encoding"));
        assert_eq!(resp.header("content-encoding"), None);
        assert_eq!(&resp.body, *body, "{headers:?}");
    }
    assert!(String::from_utf8(om).unwrap().ends_with("# EOF\n"));
    // The protobuf body decodes to the registry's three families.
    let fams = lakemetrics_export::proto::decode_all(&pb).unwrap();
    let names: Vec<_> = fams.iter().map(|f| f.name.as_deref().unwrap()).collect();
    assert_eq!(names, ["batch_seconds", "queue_depth", "rows_total"]);
    assert_eq!(fams[2].metric[0].counter.as_ref().unwrap().value, Some(7.0));

    // `format=` overrides Accept.
    let resp = get(
        addr,
        "/metrics?format=openmetrics",
        &[("Accept", CLASSIC_ONLY)],
    );
    assert_eq!(resp.header("content-type"), Some(OPENMETRICS_CONTENT_TYPE));
    let resp = get(
        addr,
        "/metrics?format=prometheus",
        &[("Accept", PROMETHEUS_2)],
    );
    assert_eq!(resp.header("content-type"), Some(PROMETHEUS_CONTENT_TYPE));
    let resp = get(
        addr,
        "/metrics?format=protobuf",
        &[("Accept", CLASSIC_ONLY)],
    );
    assert_eq!(resp.header("content-type"), Some(PROTOBUF_CONTENT_TYPE));
    assert_eq!(resp.body, pb);
    let resp = get(
        addr,
        "/metrics?format=prometheus",
        &[("Accept", NATIVE_2_42)],
    );
    assert_eq!(resp.header("content-type"), Some(PROMETHEUS_CONTENT_TYPE));

    // HEAD: the headers without a body.
    let resp = common::request(addr, "HEAD", "/metrics", &[("Accept", PROMETHEUS_2)]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some(OPENMETRICS_CONTENT_TYPE));
    server.shutdown();
}
