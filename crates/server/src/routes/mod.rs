//! The HTTP surface: route table, handlers, and the middleware around them.
//!
//! Public reads (CORS open, rate-limited per client IP): the verifier page and assets, the
//! checkpoint, tiles, status proofs, labels and their images, trust list, schemes, OpenAPI,
//! metrics, health.
//!
//! Reads are limited in two token buckets per client IP, so that expensive ones cannot starve
//! the cheap ones (`/checkpoint`, tiles, the page: served from memory in well under a
//! millisecond):
//!
//! | reads | bucket (config) | cost |
//! |---|---|---|
//! | `/labels/{i}/qr.png`, `qr.svg`, `artwork.png`, `artwork.svg` | `heavy_rps` / `heavy_burst` | [`IMAGE_COST`] (a render: ~11 ms of CPU on a cache miss) |
//! | `/labels/{i}` (the view with its inclusion proof and tlog-proof), `/status/{bucket}`, `/register/search` | `heavy_rps` / `heavy_burst` | [`PROOF_COST`] |
//! | `/register/manufacturer/{slug}.json` (up to 1,000 labels, each with its QR payload) | `heavy_rps` / `heavy_burst` | [`IMAGE_COST`] |
//! | everything else | `read_rps` / `read_burst` | 1 |
//!
//! An image costs the same whether it is then served from the cache or rendered: the client
//! cannot tell which before asking, and a price that depends on the cache would let a client
//! that walks many indices (every one a miss) pay the hit price. Writes have their own bucket
//! (`write_rps`), keyed by IP before authentication. A request body must arrive within
//! `body_timeout_ms` of its head (408 and the connection closed otherwise; see [`crate::conn`]). Authenticated routes (bearer token, rate-limited per client IP, no CORS):
//! mint, bulk mint, renew, suspend, reinstate, revoke, signed entries, and the token admin API
//! (`/tokens`). Every route has a body limit (413 JSON); every error is JSON ([`ApiError`]).
//!
//! Every request runs in a `request` span (method, path); an authenticated one records the
//! token's id and role in it (`token_id`, `role`; never the secret), so each write — and each
//! refusal — in the structured log names the token that asked for it.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::HttpBody as _;
use axum::extract::{ConnectInfo, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::AppState;
use crate::error::ApiError;
use crate::metrics::LimitClass;

mod admin;
mod extract;
mod read;
mod register;
mod write;

use admin::*;
pub use extract::Operator;
pub use read::OPENAPI_JSON;
use read::*;
use register::*;
use write::*;

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
    /// An authenticated read (no CORS: a browser page has no business with it).
    fn get_private<H: Handler<T, AppState>, T: 'static>(
        mut self,
        path: &'static str,
        h: H,
    ) -> Self {
        self.list.push((Method::GET, path));
        self.private = self.private.route(path, axum::routing::get(h));
        self
    }
    fn delete<H: Handler<T, AppState>, T: 'static>(mut self, path: &'static str, h: H) -> Self {
        self.list.push((Method::DELETE, path));
        self.private = self.private.route(path, axum::routing::delete(h));
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
    // the public register (derived from the log)
    .get("/register", register_page)
    .get("/register/search", register_search)
    .get("/register/manufacturer/{file}", register_manufacturer)
    .get("/register/manufacturers/{file}", register_manufacturers)
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
    // operator tokens while the server runs (admin; a token may list what it minted itself)
    .post("/tokens", create_token)
    .get_private("/tokens", list_tokens)
    .delete("/tokens/{id}", revoke_token)
    .get_private("/tokens/{id}/labels", token_labels)
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
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(|req: &Request| {
                // `token_id` and `role` are filled in by the `Operator` extractor.
                tracing::info_span!(
                    "request",
                    method = %req.method(),
                    path = %req.uri().path(),
                    token_id = tracing::field::Empty,
                    role = tracing::field::Empty,
                )
            }),
        )
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// middleware

/// Tokens a label image costs in the expensive-read bucket.
pub const IMAGE_COST: u32 = 10;
/// Tokens a label view (inclusion proof, tlog-proof) or a status proof costs in the
/// expensive-read bucket.
pub const PROOF_COST: u32 = 1;

/// The expensive-read cost of a GET path, `None` for a cheap read.
fn heavy_cost(path: &str) -> Option<u32> {
    if path.starts_with("/status/") || path == "/register/search" {
        return Some(PROOF_COST);
    }
    if path.starts_with("/register/manufacturer/") {
        return Some(IMAGE_COST);
    }
    let rest = path.strip_prefix("/labels/")?;
    match rest.split_once('/') {
        None => Some(PROOF_COST),
        Some((_, "qr.png" | "qr.svg" | "artwork.png" | "artwork.svg")) => Some(IMAGE_COST),
        Some(_) => None,
    }
}

/// Rate limits, the Content-Length body-limit check and the body deadline, before any handler
/// runs.
async fn limits(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let write = req.method() != Method::GET && req.method() != Method::HEAD;
    let (limiter, cost, class) = if write {
        // Keyed by IP only: this runs before authentication, so a client-chosen part such as
        // a (possibly fake) token id would give each request a fresh bucket.
        (state.write_limit(), 1, LimitClass::Write)
    } else if let Some(cost) = heavy_cost(req.uri().path()) {
        (state.heavy_limit(), cost, LimitClass::Heavy)
    } else {
        (state.read_limit(), 1, LimitClass::Read)
    };
    let allowed = limiter.is_disabled() || {
        let ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string());
        limiter.check_n(&ip, cost, Instant::now())
    };
    if !allowed {
        state.metrics().limited(class);
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
    let timeout = state.config().body_timeout_ms;
    let req = if timeout > 0 && !req.body().is_end_stream() {
        let metrics = state.metrics_arc();
        req.map(|b| crate::conn::TimedBody::wrap(b, timeout, metrics))
    } else {
        req
    };
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if resp.status() == StatusCode::REQUEST_TIMEOUT {
        // What is left of a late body is not worth waiting for: close the connection.
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

fn body_limit(state: &AppState, path: &str) -> usize {
    if path == "/labels/bulk" {
        state.config().bulk_body_limit
    } else {
        state.config().body_limit
    }
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
