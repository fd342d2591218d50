//! Request extractors and request-derived values: the bearer-token operator, idempotency keys
//! bound to their body, path indices.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::auth::{AuthError, TokenRecord, VerifyError};
use crate::error::ApiError;
use crate::{AppState, now_unix};

// ---------------------------------------------------------------------------------------------
// authentication

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// An authenticated operator: the verified token's record.
pub struct Operator(pub TokenRecord);

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let reject = |e: ApiError| {
            state
                .metrics()
                .rejected
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            e
        };
        let Some(token) = bearer(&parts.headers) else {
            return Err(reject(ApiError::unauthorized(
                "missing bearer token (Authorization: Bearer <token>)",
            )));
        };
        // Attribution: the request's span (routes::app) names the token by its public id, also
        // when it is then refused (a revoked or expired token still trying is worth seeing).
        let span = tracing::Span::current();
        if let Some(id) = crate::auth::token_id(token) {
            span.record("token_id", id);
        }
        match state.tokens().verify(token, now_unix()) {
            Ok(rec) => {
                span.record("role", tracing::field::display(rec.role));
                Ok(Operator(rec))
            }
            Err(VerifyError::Auth(
                e @ (AuthError::Malformed | AuthError::Invalid | AuthError::Expired),
            )) => {
                tracing::info!(reason = %e, "bearer token refused");
                Err(reject(ApiError::unauthorized(e.to_string())))
            }
            Err(VerifyError::Store(e)) => Err(ApiError::internal(e)),
        }
    }
}

/// The log's 32-byte idempotency key for a request: SHA-256 over a domain tag, the token id,
/// the route and the client's `Idempotency-Key`, so keys never collide across tokens or routes.
pub(super) fn idempotency_key(
    op: &TokenRecord,
    route: &str,
    headers: &HeaderMap,
) -> Result<Option<[u8; 32]>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let k = v.to_str().ok().and_then(valid_key).ok_or_else(|| {
        ApiError::bad_request(
            Some("Idempotency-Key"),
            "Idempotency-Key must be 1–255 visible ASCII characters",
        )
    })?;
    Ok(Some(derive_key(op, route, k)))
}

/// A client idempotency key as accepted: 1–255 visible ASCII characters.
pub(super) fn valid_key(k: &str) -> Option<&str> {
    (!k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
        .then_some(k)
}

/// SHA-256(domain tag, token id, route, client key): the key the log stores.
pub(super) fn derive_key(op: &TokenRecord, route: &str, k: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"cyberlabel/idempotency/v1\n");
    h.update(op.id.as_bytes());
    h.update(b"\n");
    h.update(route.as_bytes());
    h.update(b"\n");
    h.update(k.as_bytes());
    h.finalize().into()
}

/// Binds an idempotency key to the (byte-exact) body first sent with it, in the `idem-body`
/// tree: a retry must resend the same body, and a reused key with another body is refused
/// rather than answered with the first request's result. The binding is made before the
/// append (so two concurrent requests cannot both claim the key), hence also for a request
/// that is then refused: a corrected request needs a new key.
pub(super) async fn bind_idempotency_body(
    s: &AppState,
    key: Option<[u8; 32]>,
    body: &[u8],
) -> Result<(), ApiError> {
    let Some(key) = key else {
        return Ok(());
    };
    match bind_bodies(s, vec![(key, body)]).await?.pop() {
        Some(true) | None => Ok(()),
        Some(false) => Err(ApiError::idempotency_key_reused()),
    }
}

/// Bind each idempotency key to the hash of its body, in one transaction; per pair, whether
/// the key is bound to this body (`false`: first used with another). Kept in the log's own
/// store, so a full disk refuses it like the append (507) and it works again when the log
/// does; run off the async workers, since it waits for the log's write lock.
pub(super) async fn bind_bodies(
    s: &AppState,
    pairs: Vec<([u8; 32], &[u8])>,
) -> Result<Vec<bool>, ApiError> {
    let hashed: Vec<([u8; 32], [u8; 32])> = pairs
        .into_iter()
        .map(|(k, body)| (k, Sha256::digest(body).into()))
        .collect();
    let state = s.clone();
    let r = tokio::task::spawn_blocking(move || {
        let refs: Vec<(&[u8], &[u8])> = hashed
            .iter()
            .map(|(k, h)| (k.as_slice(), h.as_slice()))
            .collect();
        state.service().log_store().bind_all(&refs).map(|earlier| {
            earlier
                .iter()
                .zip(&hashed)
                .map(|(e, (_, h))| e.as_ref().is_none_or(|e| e.as_slice() == h))
                .collect()
        })
    })
    .await
    .map_err(ApiError::internal)?;
    match r {
        Ok(v) => Ok(v),
        Err(e) if e.is_full() => Err(crate::service::ServiceError::StorageFull(
            "the log's storage is full: nothing was recorded; retry with the same Idempotency-Key later"
                .into(),
        )
        .into()),
        Err(e) => Err(ApiError::internal(e)),
    }
}

pub(super) fn parse_index(s: &str) -> Result<u64, ApiError> {
    if s.is_empty()
        || s.len() > 20
        || !s.bytes().all(|b| b.is_ascii_digit())
        || (s.len() > 1 && s.starts_with('0'))
    {
        return Err(ApiError::bad_request(
            Some("index"),
            "index must be a decimal log index",
        ));
    }
    s.parse()
        .map_err(|_| ApiError::bad_request(Some("index"), "index out of range"))
}

/// Reads a body up to `limit` bytes (also enforced when no Content-Length was sent); a body
/// that missed its deadline (`body_timeout_ms`, set by the `limits` middleware) is a 408.
pub(super) async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|e| match crate::conn::body_timed_out(&e) {
            Some(ms) => ApiError::body_timeout(ms),
            None => ApiError::too_large(limit),
        })
}

pub(super) fn with_headers(
    body: impl IntoResponse,
    content_type: &'static str,
    cache: &'static str,
) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

/// What every mutation does first: derive its idempotency key (token, route, header), read the
/// body within `limit`, and bind the key to that exact body.
/// What every write handler starts from: the authenticated operator, the request's
/// idempotency key (bound to the operator, the route and the body) and the body, bounded by
/// the route's limit (`bulk_body_limit` for `/labels/bulk`, else `body_limit`). A refusal
/// counts as a rejected write. (The key binds to the path as sent: `/labels/5/renew`.)
pub struct Keyed {
    /// the verified token's record
    pub op: TokenRecord,
    /// the request's `Idempotency-Key`, derived per operator and route
    pub idem: Option<[u8; 32]>,
    /// the body
    pub bytes: Bytes,
}

impl FromRequest<AppState> for Keyed {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let Operator(op) = Operator::from_request_parts(&mut parts, state).await?;
        let path = parts.uri.path();
        let route = format!("{} {path}", parts.method);
        let limit = if path == "/labels/bulk" {
            state.config().bulk_body_limit
        } else {
            state.config().body_limit
        };
        match keyed_body(state, &op, &route, &parts.headers, body, limit).await {
            Ok((idem, bytes)) => Ok(Keyed { op, idem, bytes }),
            Err(e) => {
                state
                    .metrics()
                    .rejected
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(status = e.status.as_u16(), error = e.code, "write refused");
                Err(e)
            }
        }
    }
}

pub(super) async fn keyed_body(
    s: &AppState,
    op: &TokenRecord,
    route: &str,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<(Option<[u8; 32]>, Bytes), ApiError> {
    let idem = idempotency_key(op, route, headers)?;
    let bytes = read_body(body, limit).await?;
    bind_idempotency_body(s, idem, &bytes).await?;
    Ok((idem, bytes))
}
