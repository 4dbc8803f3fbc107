//! The routes, and what every request goes through first: the body limit, the
//! bearer token and the security headers.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use lakemetrics_core::Registry;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::{self, Verdict};
use crate::connection::{Connection, Peer};
use crate::rejection::Rejection;
use crate::stream::Buffer;
use crate::throttle::{Throttle, Turn};
use crate::{api, dashboard, scrape, Config};

/// The state every handler shares.
pub(crate) struct App {
    pub(crate) registry: Registry,
    pub(crate) config: Config,
    renders: Arc<Semaphore>,
    /// Response bytes rendered ahead of slow clients, all responses together.
    pub(crate) buffer: Arc<Buffer>,
    /// Token attempts, all clients together.
    attempts: Throttle,
}

impl App {
    /// A turn to render from the registry, waiting at most until `deadline`.
    pub(crate) async fn permit(
        &self,
        deadline: Instant,
    ) -> Result<OwnedSemaphorePermit, Rejection> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, self.renders.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Rejection::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many responses are being rendered; try again",
            )),
        }
    }
}

/// The endpoints as an [`axum::Router`], to mount into an application that runs
/// its own server (nest it under a path with `Router::nest`, or merge it):
///
/// | path | what |
/// |---|---|
/// | `GET /` | the dashboard (and `/static/dashboard.js`, `/static/dashboard.css`, `/static/uPlot.iife.min.js`, `/static/uPlot.min.css`) |
/// | `GET /metrics` | Prometheus text 0.0.4 or OpenMetrics 1.0.0, negotiated; gzip; `name[]=` |
/// | `GET /api/v1/series` | the JSON export, with filters and limits |
/// | `GET /api/v1/families` | the families: name, kind, help, unit, series count |
/// | `GET /healthz` | `ok` |
///
/// Parameters, errors and limits are described in `docs/http.md`. Rendering
/// runs on the runtime's blocking threads (`spawn_blocking`), so the router
/// must be served from inside a Tokio runtime. The header-size and connection
/// limits that [`HttpExporter`](crate::HttpExporter) sets are the server's
/// business: set them on yours.
///
/// ```
/// use lakemetrics_core::Registry;
/// use lakemetrics_http::Config;
///
/// let reg = Registry::new();
/// let app: axum::Router = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "my service" }))
///     .nest("/lakemetrics", lakemetrics_http::router(&reg, Config::default()));
/// # drop(app);
/// ```
pub fn router(registry: &Registry, config: Config) -> Router {
    let renders = Arc::new(Semaphore::new(config.max_concurrent_renders));
    let buffer = Arc::new(Buffer::new(config.max_buffered_bytes));
    let attempts = Throttle::new(
        config.token_attempts_per_second,
        config.token_attempts_burst,
    );
    let app = Arc::new(App {
        registry: registry.clone(),
        config,
        renders,
        buffer,
        attempts,
    });
    Router::new()
        .route("/", get(dashboard::page))
        .route("/static/dashboard.js", get(dashboard::script))
        .route("/static/dashboard.css", get(dashboard::style))
        .route("/static/uPlot.iife.min.js", get(dashboard::uplot_script))
        .route("/static/uPlot.min.css", get(dashboard::uplot_style))
        .route("/metrics", get(scrape::metrics))
        .route("/api/v1/series", get(api::series))
        .route("/api/v1/families", get(api::families))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// Shared state as handlers extract it.
pub(crate) type AppState = State<Arc<App>>;

async fn healthz() -> Response {
    let mut resp = "ok\n".into_response();
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

async fn not_found(req: Request) -> Rejection {
    Rejection::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no endpoint at {}", req.uri().path()),
    )
}

async fn method_not_allowed(req: Request) -> Response {
    let mut resp = Rejection::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed here; use GET or HEAD", req.method()),
    )
    .into_response();
    resp.headers_mut()
        .insert("allow", HeaderValue::from_static("GET, HEAD"));
    resp
}

/// Runs before every handler: refuses request bodies over the limit, checks the
/// token, and adds the headers every response carries, refusals included.
async fn guard(State(app): AppState, req: Request, next: Next) -> Response {
    // The connection, when served by `HttpExporter` (a mounted router has none).
    let peer = req.extensions().get::<Peer>().map(|p| p.0.clone());
    let admitted = match check_body(&app.config, &req) {
        Ok(()) => admit(&app, req.method(), req.uri(), req.headers(), peer).await,
        Err(r) => Err(r),
    };
    let mut resp = match admitted {
        Ok(()) => next.run(req).await,
        Err(r) => r.into_response(),
    };
    let h = resp.headers_mut();
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// Whether the request may go on to its handler as far as its token goes.
/// (Takes the request's parts: a `&Request` is not `Send`, its body not being
/// `Sync`.)
async fn admit(
    app: &App,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    peer: Option<Arc<Connection>>,
) -> Result<(), Rejection> {
    let Some(token) = &app.config.token else {
        if let Some(conn) = &peer {
            conn.set_proven(true);
        }
        return Ok(());
    };
    if uri.path() == "/healthz" && app.config.open_healthz {
        return Ok(());
    }
    // The dashboard's page may also be opened by a browser, which can only send
    // a token as Basic credentials, after a login prompt that a Basic challenge
    // brings up; API clients get a Bearer challenge only.
    let page = method == Method::GET && is_page(uri.path());
    if !auth::presented(headers) {
        return Err(Rejection::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this endpoint needs a bearer token: Authorization: Bearer <token>",
        )
        .challenge(if page {
            "Basic realm=\"lakemetrics\", Bearer realm=\"lakemetrics\""
        } else {
            "Bearer realm=\"lakemetrics\""
        }));
    }
    // Credentials compared on a connection that has not shown the token take a
    // turn from the shared bucket first; see `throttle`.
    let trusted = peer.as_ref().is_some_and(|c| c.is_proven());
    let reserved = !trusted;
    if reserved {
        match app.attempts.reserve() {
            Turn::Now => {}
            Turn::After(wait) => tokio::time::sleep(wait).await,
            Turn::Refused(retry) => {
                return Err(Rejection::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_attempts",
                    "too many wrong token attempts lately; try again shortly",
                )
                .retry_after(retry));
            }
        }
    }
    match auth::check(headers, token) {
        Verdict::Allowed => {
            if reserved {
                app.attempts.refund();
            }
            if let Some(conn) = &peer {
                conn.set_proven(true);
            }
            Ok(())
        }
        // `presented` was true, so this is a wrong or malformed credential.
        Verdict::Missing | Verdict::Invalid => {
            if let Some(conn) = &peer {
                conn.set_proven(false);
            }
            if !reserved {
                app.attempts.charge();
            }
            Err(Rejection::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the token is wrong",
            )
            .challenge(if page {
                "Basic realm=\"lakemetrics\", Bearer realm=\"lakemetrics\", error=\"invalid_token\""
            } else {
                "Bearer realm=\"lakemetrics\", error=\"invalid_token\""
            }))
        }
    }
}

fn is_page(path: &str) -> bool {
    matches!(
        path,
        "/" | "/static/dashboard.js"
            | "/static/dashboard.css"
            | "/static/uPlot.iife.min.js"
            | "/static/uPlot.min.css"
    )
}

fn check_body(config: &Config, req: &Request) -> Result<(), Rejection> {
    let too_large = |message: String| {
        Rejection::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", message)
            .with("limit", config.max_body_bytes)
    };
    if req.headers().contains_key(TRANSFER_ENCODING) {
        return Err(too_large(
            "request bodies of unknown length (Transfer-Encoding) are not accepted".into(),
        ));
    }
    if let Some(len) = req.headers().get(CONTENT_LENGTH) {
        // hyper has already refused a malformed Content-Length.
        let len: u64 = len
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(u64::MAX);
        if len > config.max_body_bytes {
            return Err(too_large(format!(
                "the request body is {len} bytes; the limit is {}",
                config.max_body_bytes
            )));
        }
    }
    Ok(())
}
