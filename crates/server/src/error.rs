//! The one error type every handler returns, rendered as a small JSON document.
//!
//! Clients get a stable machine-readable `error` code, a human `message`, and for validation
//! failures the `field` at fault. Internal failures are logged with their detail and reported
//! to the client only as `internal`, so storage paths, key material or stack details never leak.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An HTTP API error: status code plus the JSON body `{"error", "message", "field"?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `unauthorized`, `invalid_field`.
    pub code: &'static str,
    /// Human-readable explanation (never contains secrets).
    pub message: String,
    /// The request field at fault, for validation errors (JSON-pointer-like dotted path).
    pub field: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }
    /// 401: no credentials, unknown token, or expired token.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    /// 403: a valid token that may not do this (role or scheme scope).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 400: the request cannot be parsed (malformed JSON, wrong types).
    pub fn bad_request(field: Option<&str>, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "bad_request", message);
        e.field = field.map(str::to_owned);
        e
    }
    /// 422: the request parses but a field's value is not acceptable.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message);
        e.field = Some(field.into());
        e
    }
    /// 422: an `Idempotency-Key` already used (by this token, on this route) with another body.
    pub fn idempotency_key_reused() -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was first used with a different request body: use a new key",
        );
        e.field = Some("Idempotency-Key".into());
        e
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// 409: the request conflicts with the label's current state (e.g. reinstating a revoked label).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    /// 413.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body exceeds the limit of {limit} bytes for this route"),
        )
    }
    /// 408: the request body did not arrive within `ms` milliseconds of its head (the server
    /// closes the connection after this answer).
    pub fn body_timeout(ms: u64) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("the request body did not arrive within {ms} ms"),
        )
    }
    /// 429.
    pub fn rate_limited() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; slow down",
        )
    }
    /// 503: shutting down, or the log refused new work.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
    /// 500. The detail goes to the log, never to the client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error",
        )
    }

    /// The JSON body as a value (used for per-item results in bulk responses).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({ "error": self.code, "message": self.message });
        if let (Some(f), Some(obj)) = (&self.field, v.as_object_mut()) {
            obj.insert("field".into(), serde_json::Value::String(f.clone()));
        }
        v
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: self.code,
            message: &self.message,
            field: self.field.as_deref(),
        };
        let mut resp = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"cyberlabel\""),
            );
        }
        resp
    }
}

/// The service's errors as HTTP: each kind has its status and stable code.
impl From<crate::service::ServiceError> for ApiError {
    fn from(e: crate::service::ServiceError) -> Self {
        use crate::service::ServiceError as S;
        match e {
            S::Forbidden(m) => ApiError::forbidden(m),
            S::NotFound(m) => ApiError::not_found(m),
            S::Malformed { field, message } => ApiError::bad_request(field.as_deref(), message),
            S::Invalid { field, message } => ApiError::invalid_field(field, message),
            S::Conflict(m) => ApiError::conflict(m),
            S::Unavailable(m) => ApiError::unavailable(m),
            S::StorageFull(m) => ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "storage_full", m),
            S::Internal(detail) => ApiError::internal(detail),
        }
    }
}
