//! Error responses: every refused request gets a status and a small JSON body
//! that says what was wrong, in which parameter, and never echoes markup
//! unescaped (`serde_json` escapes every string; the content type is JSON and
//! `nosniff` is set).

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// A refused request: the status, a stable machine-readable code, a message for
/// people, and the parameter at fault if there is one.
///
/// Body: `{"error":"<code>","message":"<text>"[,"parameter":"<name>"][, extra fields]}`.
#[derive(Debug, Clone)]
pub(crate) struct Rejection {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) parameter: Option<String>,
    pub(crate) extra: Map<String, Value>,
    pub(crate) challenge: Option<&'static str>,
    /// `Retry-After`, in whole seconds (rounded up; small, to keep the type
    /// small).
    pub(crate) retry_after: Option<std::num::NonZeroU16>,
}

impl Rejection {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Rejection {
            status,
            code,
            message: message.into(),
            parameter: None,
            extra: Map::new(),
            challenge: None,
            retry_after: None,
        }
    }

    /// A 400 about one query parameter.
    pub(crate) fn parameter(
        code: &'static str,
        parameter: &str,
        message: impl Into<String>,
    ) -> Self {
        let mut r = Rejection::new(StatusCode::BAD_REQUEST, code, message);
        r.parameter = Some(parameter.to_string());
        r
    }

    /// `400 bad_parameter`: `parameter`'s value is not valid.
    pub(crate) fn bad_value(parameter: &str, message: impl Into<String>) -> Self {
        Rejection::parameter("bad_parameter", parameter, message)
    }

    pub(crate) fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    pub(crate) fn challenge(mut self, challenge: &'static str) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// Asks the client to wait this long before retrying (at least a second).
    pub(crate) fn retry_after(mut self, wait: std::time::Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let secs = u16::try_from(secs.max(1)).unwrap_or(u16::MAX);
        self.retry_after = std::num::NonZeroU16::new(secs);
        self
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".into(), json!(self.code));
        body.insert("message".into(), json!(self.message));
        if let Some(p) = self.parameter {
            body.insert("parameter".into(), json!(p));
        }
        body.extend(self.extra);
        let mut bytes = serde_json::to_vec(&Value::Object(body)).unwrap_or_default();
        bytes.push(b'\n');
        let mut resp = (self.status, bytes).into_response();
        let h = resp.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(c) = self.challenge {
            h.insert(WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        if let Some(secs) = self.retry_after {
            h.insert(RETRY_AFTER, HeaderValue::from(secs.get()));
        }
        resp
    }
}
