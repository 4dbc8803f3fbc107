//! `GET /metrics`: the registry as Prometheus text 0.0.4, OpenMetrics 1.0.0 or
//! the Prometheus protobuf exposition, negotiated by `Accept`, gzipped when `Accept-Encoding` asks, streamed from the
//! registry family by family.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::Response;

use crate::rejection::Rejection;
use crate::router::AppState;
use crate::stream::Render;
use crate::{negotiate, query};

pub(crate) async fn metrics(
    State(app): AppState,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    let pairs = query::parse(uri.query())?;
    let (filter, format) = query::scrape(&pairs)?;
    let format = format.unwrap_or_else(|| negotiate::format(&headers));
    let gzip = negotiate::wants_gzip(&headers);
    let deadline = Instant::now() + app.config.scrape_timeout;
    let permit = app.permit(deadline).await?;
    let body = Render {
        registry: app.registry.clone(),
        filter,
        format,
        quantile_window: None,
        gzip,
        chunk_bytes: app.config.chunk_bytes,
        deadline,
        write_timeout: app.config.write_timeout,
        buffer: app.buffer.clone(),
    }
    .spawn(permit);
    Ok(streamed(Body::new(body), format.content_type(), gzip))
}

/// A 200 response around a streamed body.
pub(crate) fn streamed(body: Body, content_type: &'static str, gzip: bool) -> Response {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
    if gzip {
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    resp
}
