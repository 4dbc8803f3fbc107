//! The exporter's life: it binds where asked (port 0 for any), reports a busy
//! address as an error, and stops (no longer accepting) on `shutdown` and on
//! drop, with requests in flight answered.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::{get, manual_registry};
use lakemetrics_http::{Config, Error, HttpExporter, DEFAULT_LISTEN};

#[test]
fn start_and_stop() {
    assert_eq!(DEFAULT_LISTEN.to_string(), "127.0.0.1:9898");
    let (reg, _clock) = manual_registry();
    reg.gauge("up", &[]).unwrap().set(1.0);

    let server = HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        .start()
        .unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    assert_eq!(server.url(), format!("http://{addr}/"));
    assert_eq!(get(addr, "/healthz", &[]).text(), "ok\n");

    // The same address again: a typed error naming it.
    let err = HttpExporter::builder(&reg)
        .listen(addr)
        .start()
        .unwrap_err();
    assert!(
        matches!(err, Error::Bind { addr: a, .. } if a == addr),
        "{err}"
    );

    // A keep-alive connection open at shutdown does not hold it up.
    let idle = TcpStream::connect(addr).unwrap();
    server.shutdown();
    drop(idle);
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());

    // Dropping stops it too.
    let server = HttpExporter::builder(&reg)
        .listen(([127, 0, 0, 1], 0))
        .start()
        .unwrap();
    let addr = server.local_addr();
    assert_eq!(
        get(addr, "/metrics", &[]).text(),
        "# HELP up No description registered.\n# TYPE up gauge\nup 1.0\n"
    );
    drop(server);
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());

    // Out-of-range settings are refused before anything is bound.
    for b in [
        HttpExporter::builder(&reg).max_header_bytes(100),
        HttpExporter::builder(&reg).max_headers(0),
        HttpExporter::builder(&reg).max_connections(0),
        HttpExporter::builder(&reg).header_read_timeout(Duration::ZERO),
        HttpExporter::builder(&reg).idle_timeout(Duration::ZERO),
        HttpExporter::builder(&reg).keep_alive_timeout(Duration::ZERO),
        HttpExporter::builder(&reg).keep_alive_timeout(Duration::MAX),
        HttpExporter::builder(&reg).idle_timeout(Duration::MAX),
        HttpExporter::builder(&reg).header_read_timeout(Duration::MAX),
    ] {
        assert!(matches!(
            b.listen(([127, 0, 0, 1], 0)).start(),
            Err(Error::InvalidConfig { .. })
        ));
    }
    for c in [
        Config::builder().write_timeout(Duration::ZERO),
        Config::builder().write_timeout(Duration::MAX),
        Config::builder().scrape_timeout(Duration::MAX),
        Config::builder().token_attempts(0, 10),
        Config::builder().token_attempts(10, 0),
    ] {
        assert!(matches!(c.build(), Err(Error::InvalidConfig { .. })));
    }
}
