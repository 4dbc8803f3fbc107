//! `router()` mounted into an application's own axum app and server: the
//! endpoints work under a path prefix, the dashboard's links follow it, and the
//! application's own routes are untouched.

mod common;

use axum::routing::get as route_get;
use axum::Router;
use common::{get, manual_registry};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use lakemetrics_http::Config;

#[test]
fn mounts_under_a_path() {
    let (reg, _clock) = manual_registry();
    reg.counter("rows", &[("handler", "csv")])
        .unwrap()
        .inc_by(2);
    let app = Router::new()
        .route("/", route_get(|| async { "my service" }))
        .nest(
            "/lakemetrics",
            lakemetrics_http::router(&reg, Config::default()),
        );

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    accepted = listener.accept() => {
                        let (stream, _) = accepted.unwrap();
                        let svc = TowerToHyperService::new(app.clone());
                        tokio::spawn(async move {
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), svc)
                                .await;
                        });
                    }
                }
            }
        });
    });

    assert_eq!(get(addr, "/", &[]).text(), "my service");
    let m = get(addr, "/lakemetrics/metrics", &[]);
    assert_eq!(m.status, 200);
    assert_eq!(
        m.text(),
        "# HELP rows_total No description registered.\n# TYPE rows_total counter\nrows_total{handler=\"csv\"} 2\n"
    );
    let page = get(addr, "/lakemetrics", &[]);
    assert_eq!(page.status, 200);
    assert!(
        page.text().contains("<base href=\"/lakemetrics/\">"),
        "{}",
        page.text()
    );
    for path in [
        "/lakemetrics/static/dashboard.js",
        "/lakemetrics/static/dashboard.css",
        "/lakemetrics/static/uPlot.iife.min.js",
        "/lakemetrics/static/uPlot.min.css",
        "/lakemetrics/api/v1/series?name=rows",
        "/lakemetrics/api/v1/families",
        "/lakemetrics/healthz",
    ] {
        assert_eq!(get(addr, path, &[]).status, 200, "{path}");
    }
    // Errors keep their JSON shape under the prefix.
    common::assert_error(
        &get(addr, "/lakemetrics/api/v1/series?kind=x", &[]),
        400,
        "bad_parameter",
    );
    stop_tx.send(()).unwrap();
    server.join().unwrap();
}
