//! The HTTP surface: route table, handlers, and the middleware around them.
//!
//! Public reads (CORS open, rate-limited per client IP): the verifier page and assets, the
//! checkpoint, tiles, status proofs, labels and their images, trust list, schemes, OpenAPI,
//! metrics, health. Authenticated mutations (bearer token, rate-limited per client IP and token,
//! no CORS): mint, bulk mint, renew, suspend, reinstate, revoke. Every route has a body limit
//! (413 JSON); every error is JSON ([`ApiError`]).

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequestParts, Path, Request, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use sha2::{Digest, Sha256};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::{AuthError, TokenRecord, VerifyError};
use crate::error::ApiError;
use crate::service::StatusAction;
use crate::{AppState, now_unix, www};

/// The hand-written OpenAPI 3.1 document (checked against [`route_table`] by a test).
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// Records every route as it is added, so the route table is the router's own.
struct Table {
    public: Router<AppState>,
    private: Router<AppState>,
    list: Vec<(Method, &'static str)>,
}

impl Table {
    fn get<H: Handler<T, AppState>, T: 'static>(mut self, path: &'static str, h: H) -> Self {
        self.list.push((Method::GET, path));
        self.public = self.public.route(path, axum::routing::get(h));
        self
    }
    fn post<H: Handler<T, AppState>, T: 'static>(mut self, path: &'static str, h: H) -> Self {
        self.list.push((Method::POST, path));
        self.private = self.private.route(path, axum::routing::post(h));
        self
    }
}

fn table() -> Table {
    Table {
        public: Router::new(),
        private: Router::new(),
        list: Vec::new(),
    }
    // the verifier page
    .get("/", page)
    .get("/v", page)
    .get("/sw.js", service_worker)
    .get("/assets/config.json", site_config)
    .get("/assets/{*path}", asset)
    // the log (C2SP tlog-tiles read side) and status proofs
    .get("/checkpoint", checkpoint)
    .get("/tile/{*path}", tile)
    .get("/status/{*path}", status_proof)
    // labels
    .get("/labels/{index}", label)
    .get("/labels/{index}/qr.png", qr_png)
    .get("/labels/{index}/qr.svg", qr_svg)
    .get("/labels/{index}/artwork.png", artwork_png)
    .get("/labels/{index}/artwork.svg", artwork_svg)
    // documents
    .get("/trust-list", trust_list)
    .get("/trust-list.json", trust_list_json)
    .get("/schemes", schemes)
    .get("/openapi.json", openapi)
    .get("/metrics", metrics)
    .get("/healthz", healthz)
    // authenticated mutations
    .post("/labels", mint)
    .post("/labels/bulk", bulk)
    .post("/labels/{index}/renew", renew)
    .post("/labels/{index}/suspend", suspend)
    .post("/labels/{index}/reinstate", reinstate)
    .post("/labels/{index}/revoke", revoke)
    .post("/entries", submit_entry)
}

/// Every (method, axum path) the router serves, in registration order.
pub fn route_table() -> Vec<(Method, &'static str)> {
    table().list
}

/// The application router with all middleware, for [`crate::serve`] and tests.
pub fn app(state: AppState) -> Router {
    let t = table();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::HEAD])
        .allow_headers([header::CONTENT_TYPE]);
    t.public
        .layer(cors)
        .merge(t.private)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), limits))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// middleware

/// Rate limits and the Content-Length body-limit check, before any handler runs.
async fn limits(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let write = req.method() != Method::GET && req.method() != Method::HEAD;
    let allowed = {
        let ip = || {
            req.extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
        };
        if write {
            let limiter = state.write_limit();
            // Keyed by IP only: this runs before authentication, so a client-chosen part such
            // as a (possibly fake) token id would give each request a fresh bucket.
            limiter.is_disabled() || limiter.check(&ip(), Instant::now())
        } else {
            let limiter = state.read_limit();
            limiter.is_disabled() || limiter.check(&ip(), Instant::now())
        }
    };
    if !allowed {
        if write {
            state
                .metrics()
                .rejected
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        return ApiError::rate_limited().into_response();
    }
    let limit = body_limit(&state, req.uri().path());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        if write {
            state
                .metrics()
                .rejected
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        return ApiError::too_large(limit).into_response();
    }
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

fn body_limit(state: &AppState, path: &str) -> usize {
    if path == "/labels/bulk" {
        state.config().bulk_body_limit
    } else {
        state.config().body_limit
    }
}

/// Reads a body up to `limit` bytes (also enforced when no Content-Length was sent).
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::too_large(limit))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(serde_json::json!({
            "error": "method_not_allowed", "message": "method not allowed on this route"
        })),
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// authentication

fn bearer(headers: &HeaderMap) -> Option<&str> {
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
        match state.tokens().verify(token, now_unix()) {
            Ok(rec) => Ok(Operator(rec)),
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
fn idempotency_key(
    op: &TokenRecord,
    route: &str,
    headers: &HeaderMap,
) -> Result<Option<[u8; 32]>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let k = v
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::bad_request(
                Some("Idempotency-Key"),
                "Idempotency-Key must be 1–255 visible ASCII characters",
            )
        })?;
    let mut h = Sha256::new();
    h.update(b"cyberlabel/idempotency/v1\n");
    h.update(op.id.as_bytes());
    h.update(b"\n");
    h.update(route.as_bytes());
    h.update(b"\n");
    h.update(k.as_bytes());
    Ok(Some(h.finalize().into()))
}

/// Binds an idempotency key to the (byte-exact) body first sent with it, in the `idem-body`
/// tree: a retry must resend the same body, and a reused key with another body is refused
/// rather than answered with the first request's result. The binding is made before the
/// append (so two concurrent requests cannot both claim the key), hence also for a request
/// that is then refused: a corrected request needs a new key.
fn bind_idempotency_body(s: &AppState, key: Option<[u8; 32]>, body: &[u8]) -> Result<(), ApiError> {
    let Some(key) = key else {
        return Ok(());
    };
    let hash: [u8; 32] = Sha256::digest(body).into();
    let tree = s.db().open_tree("idem-body").map_err(ApiError::internal)?;
    match tree
        .compare_and_swap(key, None::<&[u8]>, Some(&hash[..]))
        .map_err(ApiError::internal)?
    {
        Ok(()) => Ok(()),
        Err(c) if c.current.as_deref() == Some(&hash[..]) => Ok(()),
        Err(_) => Err(ApiError::idempotency_key_reused()),
    }
}

/// Derives a per-item key from a bulk request's key.
pub(crate) fn item_key(base: &[u8; 32], item: usize) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"cyberlabel/idempotency/v1/item\n");
    h.update(base);
    h.update((item as u64).to_be_bytes());
    h.finalize().into()
}

fn parse_index(s: &str) -> Result<u64, ApiError> {
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

// ---------------------------------------------------------------------------------------------
// public read handlers

fn with_headers(
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

async fn page(State(s): State<AppState>) -> Response {
    www::page(&s.config().www_dir).await
}

async fn service_worker(State(s): State<AppState>) -> Response {
    www::service_worker(&s.config().www_dir).await
}

async fn asset(State(s): State<AppState>, Path(path): Path<String>) -> Response {
    www::asset(&s.config().www_dir, &path).await
}

async fn site_config(State(s): State<AppState>) -> Response {
    with_headers(
        s.service().site_config().to_vec(),
        "application/json",
        "no-cache",
    )
}

async fn checkpoint(State(s): State<AppState>) -> Result<Response, ApiError> {
    let cp = s.service().checkpoint()?;
    Ok(with_headers(
        cp,
        "text/plain; charset=utf-8",
        "public, max-age=2",
    ))
}

async fn tile(State(s): State<AppState>, Path(path): Path<String>) -> Result<Response, ApiError> {
    let (bytes, partial) = s.service().tile(&path)?;
    let cache = if partial {
        "public, max-age=60"
    } else {
        "public, max-age=31536000, immutable"
    };
    Ok(with_headers(bytes, "application/octet-stream", cache))
}

async fn status_proof(
    State(s): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let text = s.service().status_proof(&path)?;
    Ok(with_headers(
        text,
        "text/plain; charset=utf-8",
        "public, max-age=2",
    ))
}

async fn label(State(s): State<AppState>, Path(index): Path<String>) -> Result<Response, ApiError> {
    let index = parse_index(&index)?;
    let view = s.service().label_view(index)?;
    Ok(with_headers(
        Json(view),
        "application/json",
        "public, max-age=2",
    ))
}

async fn image(
    s: &AppState,
    index: &str,
    kind: crate::service::ImageKind,
) -> Result<Response, ApiError> {
    let index = parse_index(index)?;
    let (bytes, ct) = s.service().image(index, kind)?;
    // The label bytes never change for an index, so the images are immutable.
    let mut resp = with_headers(bytes, ct, "public, max-age=86400");
    if ct == "image/svg+xml" {
        // Defence in depth: an SVG opened as a document may run script; ours has none, and this
        // forbids any (and any fetch) should label text ever slip through unescaped.
        resp.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
    }
    Ok(resp)
}

async fn qr_png(State(s): State<AppState>, Path(i): Path<String>) -> Result<Response, ApiError> {
    image(&s, &i, crate::service::ImageKind::QrPng).await
}
async fn qr_svg(State(s): State<AppState>, Path(i): Path<String>) -> Result<Response, ApiError> {
    image(&s, &i, crate::service::ImageKind::QrSvg).await
}
async fn artwork_png(
    State(s): State<AppState>,
    Path(i): Path<String>,
) -> Result<Response, ApiError> {
    image(&s, &i, crate::service::ImageKind::ArtworkPng).await
}
async fn artwork_svg(
    State(s): State<AppState>,
    Path(i): Path<String>,
) -> Result<Response, ApiError> {
    image(&s, &i, crate::service::ImageKind::ArtworkSvg).await
}

async fn trust_list(State(s): State<AppState>) -> Response {
    with_headers(
        s.service().trust_list_cose().to_vec(),
        "application/cose",
        "public, max-age=300",
    )
}

async fn trust_list_json(State(s): State<AppState>) -> Response {
    with_headers(
        s.service().trust_list_json().to_vec(),
        "application/json",
        "public, max-age=300",
    )
}

async fn schemes(State(s): State<AppState>) -> Response {
    with_headers(
        s.service().schemes_json().to_vec(),
        "application/json",
        "public, max-age=300",
    )
}

async fn openapi() -> Response {
    with_headers(OPENAPI_JSON, "application/json", "public, max-age=300")
}

async fn metrics(State(s): State<AppState>) -> Response {
    if let Ok(size) = s.service().tree_size() {
        s.metrics()
            .tree_size
            .store(size, std::sync::atomic::Ordering::Relaxed);
    }
    with_headers(
        s.metrics().render(),
        "text/plain; version=0.0.4; charset=utf-8",
        "no-store",
    )
}

async fn healthz(State(s): State<AppState>) -> Response {
    match s.service().tree_size() {
        Ok(size) => with_headers(
            Json(serde_json::json!({ "status": "ok", "tree_size": size })),
            "application/json",
            "no-store",
        ),
        Err(e) => e.into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// authenticated mutations

fn count_rejection<T>(s: &AppState, r: Result<T, ApiError>) -> Result<T, ApiError> {
    if r.is_err() {
        s.metrics()
            .rejected
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    r
}

async fn mint(
    State(s): State<AppState>,
    Operator(op): Operator,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let r = async {
        let idem = idempotency_key(&op, "POST /labels", &headers)?;
        let bytes = read_body(body, s.config().body_limit).await?;
        bind_idempotency_body(&s, idem, &bytes)?;
        let item: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(None, format!("malformed JSON: {e}")))?;
        s.service().mint(&op, item, idem).await
    }
    .await;
    let view = count_rejection(&s, r)?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn bulk(
    State(s): State<AppState>,
    Operator(op): Operator,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let r = async {
        let idem = idempotency_key(&op, "POST /labels/bulk", &headers)?;
        let bytes = read_body(body, s.config().bulk_body_limit).await?;
        bind_idempotency_body(&s, idem, &bytes)?;
        let items = parse_bulk(&bytes, s.config().bulk_max_items)?;
        Ok(s.service().mint_bulk(&op, items, idem).await)
    }
    .await;
    let results = count_rejection(&s, r)?;
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    let rejected = results.len() - accepted;
    if rejected > 0 {
        s.metrics()
            .rejected
            .fetch_add(rejected as u64, std::sync::atomic::Ordering::Relaxed);
    }
    // Serialised straight from typed items (no intermediate JSON tree: thousands per request).
    let results: Vec<BulkResult<'_>> = results
        .iter()
        .enumerate()
        .map(|(item, r)| match r {
            Ok(label) => BulkResult::Ok {
                item,
                ok: true,
                label,
            },
            Err(e) => BulkResult::Err {
                item,
                ok: false,
                status: e.status.as_u16(),
                error: e.code,
                message: &e.message,
                field: e.field.as_deref(),
            },
        })
        .collect();
    let body = serde_json::to_vec(&BulkResponse {
        accepted,
        rejected,
        results,
    })
    .map_err(ApiError::internal)?;
    Ok(with_headers(body, "application/json", "no-store"))
}

#[derive(serde::Serialize)]
struct BulkResponse<'a> {
    accepted: usize,
    rejected: usize,
    results: Vec<BulkResult<'a>>,
}

#[derive(serde::Serialize)]
#[serde(untagged)]
enum BulkResult<'a> {
    Ok {
        item: usize,
        ok: bool,
        label: &'a crate::service::LabelView,
    },
    Err {
        item: usize,
        ok: bool,
        status: u16,
        error: &'a str,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        field: Option<&'a str>,
    },
}

/// One bulk item: parsed JSON, or the reason its line did not parse.
pub type BulkItem = Result<serde_json::Value, ApiError>;

/// A JSON array (`[…]`) or NDJSON (one object per non-empty line). A malformed array is a
/// 400 for the whole request; a malformed NDJSON line rejects only that item.
fn parse_bulk(bytes: &[u8], max_items: usize) -> Result<Vec<BulkItem>, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let items: Vec<BulkItem> = match first {
        None => return Err(ApiError::bad_request(None, "empty bulk request")),
        Some(b'[') => {
            let arr: Vec<serde_json::Value> = serde_json::from_slice(bytes)
                .map_err(|e| ApiError::bad_request(None, format!("malformed JSON array: {e}")))?;
            arr.into_iter().map(Ok).collect()
        }
        Some(_) => bytes
            .split(|b| *b == b'\n')
            .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
            .map(|l| {
                serde_json::from_slice(l)
                    .map_err(|e| ApiError::bad_request(None, format!("malformed JSON line: {e}")))
            })
            .collect(),
    };
    if items.is_empty() {
        return Err(ApiError::bad_request(None, "empty bulk request"));
    }
    if items.len() > max_items {
        return Err(ApiError::invalid_field(
            "items",
            format!("at most {max_items} items per bulk request"),
        ));
    }
    Ok(items)
}

async fn renew(
    State(s): State<AppState>,
    Operator(op): Operator,
    Path(index): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let r = async {
        let index = parse_index(&index)?;
        let idem = idempotency_key(&op, &format!("POST /labels/{index}/renew"), &headers)?;
        let bytes = read_body(body, s.config().body_limit).await?;
        bind_idempotency_body(&s, idem, &bytes)?;
        let req = serde_json::from_slice(&bytes).map_err(|e| json_error(&e))?;
        s.service().renew(&op, index, req, idem).await
    }
    .await;
    let view = count_rejection(&s, r)?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Maps a serde_json error to 400, naming the field when serde names it.
pub(crate) fn json_error(e: &serde_json::Error) -> ApiError {
    let msg = e.to_string();
    let field = msg
        .split('`')
        .nth(1)
        .filter(|_| msg.starts_with("missing field") || msg.starts_with("unknown field"))
        .map(str::to_owned);
    ApiError::bad_request(field.as_deref(), format!("malformed request: {msg}"))
}

async fn change_status(
    s: AppState,
    op: TokenRecord,
    index: String,
    action: StatusAction,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let r = async {
        let index = parse_index(&index)?;
        let idem = idempotency_key(
            &op,
            &format!("POST /labels/{index}/{}", action.as_str()),
            &headers,
        )?;
        let bytes = read_body(body, s.config().body_limit).await?;
        bind_idempotency_body(&s, idem, &bytes)?;
        let req = if bytes.iter().all(u8::is_ascii_whitespace) {
            crate::service::StatusRequest::default()
        } else {
            serde_json::from_slice(&bytes).map_err(|e| json_error(&e))?
        };
        s.service()
            .change_status(&op, index, action, req, idem)
            .await
    }
    .await;
    let view = count_rejection(&s, r)?;
    Ok(Json(view).into_response())
}

async fn suspend(
    State(s): State<AppState>,
    Operator(op): Operator,
    Path(i): Path<String>,
    h: HeaderMap,
    b: Body,
) -> Result<Response, ApiError> {
    change_status(s, op, i, StatusAction::Suspend, h, b).await
}
async fn reinstate(
    State(s): State<AppState>,
    Operator(op): Operator,
    Path(i): Path<String>,
    h: HeaderMap,
    b: Body,
) -> Result<Response, ApiError> {
    change_status(s, op, i, StatusAction::Reinstate, h, b).await
}
async fn revoke(
    State(s): State<AppState>,
    Operator(op): Operator,
    Path(i): Path<String>,
    h: HeaderMap,
    b: Body,
) -> Result<Response, ApiError> {
    change_status(s, op, i, StatusAction::Revoke, h, b).await
}

/// `POST /entries`: an entry (label or status record, COSE bytes) its issuer signed itself.
async fn submit_entry(
    State(s): State<AppState>,
    Operator(op): Operator,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let r = async {
        let idem = idempotency_key(&op, "POST /entries", &headers)?;
        let bytes = read_body(body, s.config().body_limit).await?;
        bind_idempotency_body(&s, idem, &bytes)?;
        s.service().submit_signed(&op, bytes.to_vec(), idem).await
    }
    .await;
    let entry = count_rejection(&s, r)?;
    Ok((StatusCode::CREATED, Json(entry)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_forms() {
        let a = parse_bulk(b" [ {\"a\":1}, {\"b\":2} ]", 10).unwrap();
        assert_eq!(a.len(), 2);
        let n = parse_bulk(b"{\"a\":1}\n\nnot json\n{\"c\":3}\n", 10).unwrap();
        assert_eq!(n.len(), 3);
        assert!(n[0].is_ok() && n[1].is_err() && n[2].is_ok());
        assert_eq!(
            parse_bulk(b"[1,", 10).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            parse_bulk(b"[1,2,3]", 2).unwrap_err().status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert!(parse_bulk(b"  ", 2).is_err());
    }

    #[test]
    fn indices() {
        assert_eq!(parse_index("0").unwrap(), 0);
        assert_eq!(parse_index("42").unwrap(), 42);
        for bad in ["", "01", "-1", "1a", "99999999999999999999999"] {
            assert!(parse_index(bad).is_err(), "{bad}");
        }
    }
}
