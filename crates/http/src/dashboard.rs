//! `GET /`: the dashboard, a static page, script and style compiled into the
//! crate, with uPlot (vendored, MIT) drawing the charts on canvases. The page
//! holds no data: its script fetches `api/v1/families` and `api/v1/series`
//! every second and writes metric data with `textContent` only.

use axum::extract::OriginalUri;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderValue, Uri};
use axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/dashboard.js");
const STYLE: &str = include_str!("dashboard/dashboard.css");
/// uPlot 1.6.32 (MIT), vendored unmodified: see `dashboard/vendor/uplot/README.md`.
const UPLOT_SCRIPT: &str = include_str!("dashboard/vendor/uplot/uPlot.iife.min.js");
const UPLOT_STYLE: &str = include_str!("dashboard/vendor/uplot/uPlot.min.css");

/// Nothing but this origin's own script, style and API; no inline script, no
/// framing, no forms, no plugins. Should escaping ever fail, an injected
/// `<script>` would still not run.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   connect-src 'self'; img-src 'self' data:; base-uri 'self'; \
                   form-action 'none'; frame-ancestors 'none'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// The page, with `<base href>` set to where the router is mounted, so that its
/// relative links work when the router is nested under a path.
pub(crate) async fn page(OriginalUri(original): OriginalUri, uri: Uri) -> Response {
    let base = mount_point(original.path(), uri.path());
    let mut resp = asset("", "text/html; charset=utf-8");
    *resp.body_mut() = PAGE.replace("{{BASE}}", &escape_attr(&base)).into();
    let h = resp.headers_mut();
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    resp
}

pub(crate) async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

pub(crate) async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

pub(crate) async fn uplot_script() -> Response {
    asset(UPLOT_SCRIPT, "text/javascript; charset=utf-8")
}

pub(crate) async fn uplot_style() -> Response {
    asset(UPLOT_STYLE, "text/css; charset=utf-8")
}

/// The path the router is mounted at, ending in `/`: the original path less
/// the part the router saw (`/` when not nested).
fn mount_point(original: &str, seen: &str) -> String {
    let prefix = if seen == "/" {
        original
    } else {
        original.strip_suffix(seen).unwrap_or("")
    };
    let prefix = prefix.trim_end_matches('/');
    format!("{prefix}/")
}

fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points() {
        assert_eq!(mount_point("/", "/"), "/");
        assert_eq!(mount_point("/lakemetrics", "/"), "/lakemetrics/");
        assert_eq!(mount_point("/lakemetrics/", "/"), "/lakemetrics/");
        assert_eq!(mount_point("/a/b", "/"), "/a/b/");
        assert_eq!(escape_attr("/x\"<y>/"), "/x&quot;&lt;y&gt;/");
    }

    #[test]
    fn page_uses_no_inner_html() {
        // The script writes data with textContent only.
        for bad in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!SCRIPT.contains(bad), "{bad}");
        }
        assert!(PAGE.contains("{{BASE}}"));
        // Nothing is loaded from elsewhere.
        for page in [PAGE, SCRIPT, STYLE] {
            assert!(!page.contains("http://") || page.contains("http://www.w3.org/2000/svg"));
            assert!(!page.contains("https://"));
            assert!(!page.contains("@import"));
        }
    }

    #[test]
    fn vendored_uplot_loads_nothing_and_parses_no_html() {
        assert!(UPLOT_SCRIPT.starts_with("/*! https://github.com/leeoniya/uPlot (v1.6.32) */"));
        // Past its banner, uPlot names no other origin and parses no markup.
        let body = &UPLOT_SCRIPT[UPLOT_SCRIPT.find('\n').unwrap()..];
        for bad in [
            "http://",
            "https://",
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "cssText",
        ] {
            assert!(!body.contains(bad), "{bad}");
        }
        assert!(!UPLOT_STYLE.contains("@import") && !UPLOT_STYLE.contains("url("));
        assert!(PAGE.contains("static/uPlot.iife.min.js"));
        assert!(PAGE.contains("static/uPlot.min.css"));
    }
}
