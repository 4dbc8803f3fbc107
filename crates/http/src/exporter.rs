//! The stand-alone exporter: the router served on its own thread, by its own
//! single-threaded Tokio runtime, for applications that run none.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use lakemetrics_core::Registry;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::connection::{self, Connection, Timeouts};
use crate::{router, Config, Error};

/// Where the exporter listens unless told otherwise: loopback only, port 9898.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9898);
/// Default largest request head (request line and headers), in bytes.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
/// Default most request headers.
pub const DEFAULT_MAX_HEADERS: usize = 64;
/// Default longest a client may take to send a request head, from its first
/// byte.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default most connections open at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Default longest a connection that has not shown the token may wait before
/// it sends a request.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default longest a connection that has shown the token may stay open
/// between requests (Prometheus keeps its connections for 5 minutes).
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long connections get to finish their responses at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How long a new connection is safe from being closed to make room: time to
/// send its request head. Without it, a burst of new connections could close
/// one before it is read; with it, an attacker reconnecting all the time slows
/// accepting to `max_connections` per grace period, never stops it.
const EVICTION_GRACE: Duration = Duration::from_millis(250);

/// Serves [`router`](crate::router()) over HTTP/1.1 on its own thread.
///
/// Start one with [`HttpExporter::builder`]. It stops when [`HttpExporter::shutdown`]
/// is called or when it is dropped: it stops accepting, lets responses in flight
/// finish for up to two seconds, and joins its thread.
///
/// ```
/// use lakemetrics_core::Registry;
/// use lakemetrics_http::HttpExporter;
///
/// let reg = Registry::new();
/// reg.counter("rows", &[("handler", "csv")]).unwrap().inc_by(3);
/// let exporter = HttpExporter::builder(&reg)
///     .listen(([127, 0, 0, 1], 0)) // any free port; the default is 127.0.0.1:9898
///     .start()
///     .unwrap();
/// println!("dashboard at {}", exporter.url());
/// # use std::io::{Read, Write};
/// # let mut s = std::net::TcpStream::connect(exporter.local_addr()).unwrap();
/// # s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
/// # let mut text = String::new();
/// # s.read_to_string(&mut text).unwrap();
/// # assert!(text.contains("rows_total{handler=\"csv\"} 3"));
/// exporter.shutdown();
/// ```
#[derive(Debug)]
pub struct HttpExporter {
    addr: SocketAddr,
    stop: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

/// Settings of an [`HttpExporter`]; [`HttpExporterBuilder::start`] starts it.
#[derive(Debug, Clone)]
pub struct HttpExporterBuilder {
    registry: Registry,
    addr: SocketAddr,
    config: Config,
    token: Option<String>,
    limits: Limits,
}

/// The connection-level limits, which only a server (not a router) can enforce.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_header_bytes: usize,
    max_headers: usize,
    header_read_timeout: Duration,
    max_connections: usize,
    idle_timeout: Duration,
    keep_alive_timeout: Duration,
}

impl HttpExporter {
    /// A builder for an exporter of `registry`, listening on [`DEFAULT_LISTEN`]
    /// with [`Config::default`] (no token) unless told otherwise.
    pub fn builder(registry: &Registry) -> HttpExporterBuilder {
        HttpExporterBuilder {
            registry: registry.clone(),
            addr: DEFAULT_LISTEN,
            config: Config::default(),
            token: None,
            limits: Limits {
                max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
                max_headers: DEFAULT_MAX_HEADERS,
                header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
                max_connections: DEFAULT_MAX_CONNECTIONS,
                idle_timeout: DEFAULT_IDLE_TIMEOUT,
                keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            },
        }
    }

    /// The address it listens on (with the actual port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The dashboard's URL: `http://<local_addr>/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops accepting, lets responses in flight finish (for up to two seconds),
    /// and waits for the thread to end.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for HttpExporter {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

impl HttpExporterBuilder {
    /// The address to listen on (default [`DEFAULT_LISTEN`], `127.0.0.1:9898`).
    /// Port 0 takes any free port; [`HttpExporter::local_addr`] tells which.
    /// Listening beyond loopback (`0.0.0.0`) exposes the metrics to the network:
    /// set a [`token`](HttpExporterBuilder::token) then.
    pub fn listen(mut self, addr: impl Into<SocketAddr>) -> HttpExporterBuilder {
        self.addr = addr.into();
        self
    }

    /// The endpoints' settings (token, limits); see [`Config`].
    pub fn config(mut self, config: Config) -> HttpExporterBuilder {
        self.config = config;
        self
    }

    /// Requires this bearer token (see [`ConfigBuilder::token`](crate::ConfigBuilder::token));
    /// overrides a token set through [`HttpExporterBuilder::config`]. Checked by
    /// [`HttpExporterBuilder::start`].
    pub fn token(mut self, token: impl Into<String>) -> HttpExporterBuilder {
        self.token = Some(token.into());
        self
    }

    /// Largest request head (request line and all headers), in bytes: at least
    /// 8192 (default 16 KiB). A larger head is answered with 431.
    pub fn max_header_bytes(mut self, bytes: usize) -> HttpExporterBuilder {
        self.limits.max_header_bytes = bytes;
        self
    }

    /// Most headers in a request (default 64). More are answered with 431.
    pub fn max_headers(mut self, n: usize) -> HttpExporterBuilder {
        self.limits.max_headers = n;
        self
    }

    /// Longest a client may take to send a request's head, from its first
    /// byte (default 10 s); a slower one is disconnected, so that trickling
    /// bytes cannot hold connections open.
    pub fn header_read_timeout(mut self, timeout: Duration) -> HttpExporterBuilder {
        self.limits.header_read_timeout = timeout;
        self
    }

    /// Most connections open at once (default 512). When a new connection
    /// comes and this many are open, the one idle longest is closed to make
    /// room (those that have not shown the token first), so idle connections
    /// never keep anyone out; only when every connection is answering a
    /// request does the new one wait.
    pub fn max_connections(mut self, n: usize) -> HttpExporterBuilder {
        self.limits.max_connections = n;
        self
    }

    /// Longest a connection may wait before sending a request while it has
    /// not shown the token (default 5 s): a new connection, or one whose last
    /// request was refused. Without a token configured, any answered request
    /// counts as shown.
    pub fn idle_timeout(mut self, timeout: Duration) -> HttpExporterBuilder {
        self.limits.idle_timeout = timeout;
        self
    }

    /// Longest a connection that has shown the token may stay open between
    /// requests (default 5 minutes, so that a scraper's kept-alive connection
    /// lasts from one scrape to the next).
    pub fn keep_alive_timeout(mut self, timeout: Duration) -> HttpExporterBuilder {
        self.limits.keep_alive_timeout = timeout;
        self
    }

    /// Binds the address and starts serving on a new thread named
    /// `lakemetrics-http`. Errors if a setting is out of range, the address cannot
    /// be bound, or the thread or its runtime cannot be started.
    pub fn start(self) -> Result<HttpExporter, Error> {
        let HttpExporterBuilder {
            registry,
            addr,
            mut config,
            token,
            limits,
        } = self;
        if let Some(token) = token {
            let with = Config::builder().token(token).build()?;
            config.token = with.token;
        }
        let bad = |what, reason: &str| {
            Err(Error::InvalidConfig {
                what,
                reason: reason.to_string(),
            })
        };
        if !(8192..=1024 * 1024).contains(&limits.max_header_bytes) {
            return bad("max_header_bytes", "must be 8192 to 1 MiB");
        }
        if limits.max_headers == 0 {
            return bad("max_headers", "must be at least 1");
        }
        if limits.header_read_timeout.is_zero() {
            return bad("header_read_timeout", "must be more than zero");
        }
        if limits.max_connections == 0 {
            return bad("max_connections", "must be at least 1");
        }
        for (what, t) in [
            ("header_read_timeout", limits.header_read_timeout),
            ("idle_timeout", limits.idle_timeout),
            ("keep_alive_timeout", limits.keep_alive_timeout),
        ] {
            // Deadlines are `Instant`s: a longer timeout could overflow one.
            if t > crate::config::MAX_TIMEOUT {
                return bad(what, "must be at most a day");
            }
        }
        if limits.idle_timeout.is_zero() {
            return bad("idle_timeout", "must be more than zero");
        }
        if limits.keep_alive_timeout.is_zero() {
            return bad("keep_alive_timeout", "must be more than zero");
        }
        let listener = StdListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .and_then(|a| listener.set_nonblocking(true).map(|()| a))
            .map_err(|source| Error::Bind { addr, source })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .max_blocking_threads(config.max_concurrent_renders + 2)
            .thread_name("lakemetrics-http-render")
            .build()
            .map_err(|source| Error::Start {
                what: "runtime",
                source,
            })?;
        let write_timeout = config.write_timeout;
        let app = router(&registry, config);
        let (stop, stopped) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("lakemetrics-http".into())
            .spawn(move || {
                runtime.block_on(async move {
                    // Registering the socket with the runtime fails only when the
                    // OS refuses an epoll registration; nothing to serve then.
                    if let Ok(listener) = TcpListener::from_std(listener) {
                        serve(listener, app, limits, write_timeout, stopped).await;
                    }
                });
                runtime.shutdown_timeout(SHUTDOWN_GRACE);
            })
            .map_err(|source| Error::Start {
                what: "thread",
                source,
            })?;
        Ok(HttpExporter {
            addr: local,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// The accept loop: one task per connection until `stop` changes or its sender
/// is dropped. At `max_connections`, the longest-idle connection (one that has
/// not shown the token first) is closed to make room, so idle connections can
/// never keep a new one out; only when every connection is answering a request
/// does a new one wait.
async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    write_timeout: Duration,
    stop: watch::Receiver<bool>,
) {
    let open: Arc<Mutex<HashMap<u64, Arc<Connection>>>> = Arc::default();
    let freed = Arc::new(Notify::new());
    let timeouts = Timeouts {
        idle: limits.idle_timeout,
        keep_alive: limits.keep_alive_timeout,
        header_read: limits.header_read_timeout,
    };
    let mut connections = JoinSet::new();
    let mut stop_accepting = stop.clone();
    let mut next_id = 0u64;
    loop {
        let stream = tokio::select! {
            _ = stop_accepting.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors or a connection reset before accept:
                // pause briefly instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        // Make room: close an idle connection, or wait until one is idle.
        loop {
            let full = {
                let mut open = lock(&open);
                open.len() >= limits.max_connections && !evict_one(&mut open)
            };
            if !full {
                break;
            }
            tokio::select! {
                _ = stop_accepting.changed() => break,
                _ = freed.notified() => {}
                // Connections also become closable as their grace runs out,
                // which nothing notifies.
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
        if *stop_accepting.borrow() {
            break;
        }
        let _ = stream.set_nodelay(true);
        let id = next_id;
        next_id += 1;
        let conn = Connection::new(freed.clone());
        lock(&open).insert(id, conn.clone());
        let service = connection::Service {
            inner: TowerToHyperService::new(app.clone()),
            conn: conn.clone(),
        };
        let io = TokioIo::new(connection::Io::new(stream, conn.clone(), write_timeout));
        let mut stop = stop.clone();
        let (open, freed) = (open.clone(), freed.clone());
        connections.spawn(async move {
            // hyper's own header timeout also runs while a kept-alive
            // connection waits for its next request; `Connection::deadline`
            // times heads from their first byte instead.
            let conn_fut = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(None)
                .max_buf_size(limits.max_header_bytes)
                .max_headers(limits.max_headers)
                .serve_connection(io, service);
            tokio::pin!(conn_fut);
            loop {
                let wake = conn
                    .deadline(&timeouts)
                    .unwrap_or_else(|| Instant::now() + timeouts.idle);
                tokio::select! {
                    _ = conn_fut.as_mut() => break,
                    _ = conn.evict.notified() => break,
                    _ = tokio::time::sleep_until(wake.into()) => {
                        if conn.deadline(&timeouts).is_some_and(|d| d <= Instant::now()) {
                            break;
                        }
                    }
                    _ = stop.changed() => {
                        conn_fut.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn_fut).await;
                        break;
                    }
                }
            }
            lock(&open).remove(&id);
            freed.notify_one();
        });
        while connections.try_join_next().is_some() {}
        // Let the new connection read its request before accepting more.
        tokio::task::yield_now().await;
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}

/// Closes the idle connection least worth keeping: the one idle longest among
/// those that have not shown the token, and only when there are none of those,
/// among those that have; never one younger than [`EVICTION_GRACE`] (it may be
/// about to send its request). False if there is none to close now.
fn evict_one(open: &mut HashMap<u64, Arc<Connection>>) -> bool {
    let now = Instant::now();
    let idle = || open.iter().filter(|(_, c)| c.is_idle());
    let unproven = idle().any(|(_, c)| !c.is_proven());
    let victim = idle()
        .filter(|(_, c)| c.is_proven() != unproven && c.age(now) >= EVICTION_GRACE)
        .max_by_key(|(_, c)| c.idle_for(now))
        .map(|(&id, _)| id);
    match victim.and_then(|id| open.remove(&id)) {
        Some(conn) => {
            conn.evict.notify_one();
            true
        }
        None => false,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The map is only inserted into and removed from; poisoning cannot leave
    // it inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
