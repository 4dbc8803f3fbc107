//! `GET /api/v1/series` (the JSON export, filtered and bounded) and
//! `GET /api/v1/families` (what families there are).

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use lakemetrics_core::{Filter, Registry};
use lakemetrics_export::Format;
use serde_json::{json, Value};

use crate::rejection::Rejection;
use crate::router::AppState;
use crate::scrape::streamed;
use crate::stream::Render;
use crate::{negotiate, query};

/// Series and history points a filter selects right now.
#[derive(Debug, Clone, Copy, Default)]
struct Count {
    series: usize,
    points: usize,
}

/// Points are history epochs: the JSON export writes one value per epoch of
/// [`SeriesView::history_epochs`](lakemetrics_core::SeriesView::history_epochs)
/// in each of a series' history columns, so this reads no ring.
fn count(reg: &Registry, filter: &Filter) -> Count {
    let mut c = Count::default();
    reg.visit(filter, |fam| {
        for s in fam.series() {
            c.series += 1;
            let epochs = s.history_epochs();
            c.points += (epochs.end - epochs.start) as usize;
        }
    });
    c
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Rejection> {
    tokio::task::spawn_blocking(f).await.map_err(|_| {
        Rejection::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the server is shutting down",
        )
    })
}

pub(crate) async fn series(
    State(app): AppState,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    let pairs = query::parse(uri.query())?;
    let (filter, quantile_window) = query::query(&pairs, true)?;
    let deadline = Instant::now() + app.config.scrape_timeout;
    let permit = app.permit(deadline).await?;
    // The limits are checked against a count taken just before the response is
    // written: series created or epochs started in between may add a few.
    let (reg, f) = (app.registry.clone(), filter.clone());
    let n = blocking(move || count(&reg, &f)).await?;
    let (max_series, max_points) = (app.config.max_series, app.config.max_points);
    if n.series > max_series {
        return Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            "too_many_series",
            format!(
                "the query selects {} series; the limit is {max_series}: narrow it with name, prefix, kind or label",
                n.series
            ),
        )
        .with("limit", max_series)
        .with("matched", n.series));
    }
    if n.points > max_points {
        return Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            "too_many_points",
            format!(
                "the query selects {} history points; the limit is {max_points}: narrow it, or shorten start..end",
                n.points
            ),
        )
        .with("limit", max_points)
        .with("matched", n.points));
    }
    let gzip = negotiate::wants_gzip(&headers);
    let body = Render {
        registry: app.registry.clone(),
        filter,
        format: Format::Json,
        quantile_window,
        gzip,
        chunk_bytes: app.config.chunk_bytes,
        deadline,
        write_timeout: app.config.write_timeout,
        buffer: app.buffer.clone(),
    }
    .spawn(permit);
    let mut resp = streamed(Body::new(body), Format::Json.content_type(), gzip);
    let h = resp.headers_mut();
    h.insert("x-lakemetrics-series", HeaderValue::from(n.series));
    h.insert("x-lakemetrics-points", HeaderValue::from(n.points));
    Ok(resp)
}

pub(crate) async fn families(State(app): AppState, uri: Uri) -> Result<Response, Rejection> {
    let pairs = query::parse(uri.query())?;
    let (filter, _) = query::query(&pairs, false)?;
    let deadline = Instant::now() + app.config.scrape_timeout;
    let _permit = app.permit(deadline).await?;
    let reg = app.registry.clone();
    let body = blocking(move || {
        let mut families = Vec::new();
        reg.visit(&filter, |fam| {
            families.push(json!({
                "name": fam.name(),
                "kind": fam.kind().as_str(),
                "help": fam.help(),
                "unit": fam.unit(),
                // 0 for a family without history (`Retention::NONE`), as in the
                // JSON export.
                "resolution_ms": if fam.geometry().is_lifetime() {
                    0
                } else {
                    fam.geometry().width_nanos() / 1_000_000
                },
                "series": fam.series().count(),
            }));
        });
        let now_ms = reg.now_nanos() / 1_000_000;
        let mut out = serde_json::to_vec(
            &json!({"timestamp_ms": now_ms, "families": Value::Array(families)}),
        )
        .unwrap_or_default();
        out.push(b'\n');
        out
    })
    .await?;
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}
