//! Public read handlers: the page, the log's read side (checkpoint, tiles, status proofs),
//! label views and images, the trust list, the catalog, metrics and health.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::extract::{parse_index, with_headers};
use crate::error::ApiError;
use crate::{AppState, www};

// ---------------------------------------------------------------------------------------------
// public read handlers
/// The hand-written OpenAPI 3.1 document (checked against [`route_table`] by a test).
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

pub(super) async fn page(State(s): State<AppState>) -> Response {
    www::page(&s.config().www_dir, s.service().page_csp()).await
}

pub(super) async fn service_worker(State(s): State<AppState>) -> Response {
    www::service_worker(&s.config().www_dir).await
}

pub(super) async fn asset(State(s): State<AppState>, Path(path): Path<String>) -> Response {
    www::asset(&s.config().www_dir, &path, s.service().page_csp()).await
}

pub(super) async fn site_config(State(s): State<AppState>) -> Response {
    with_headers(
        s.service().site_config().to_vec(),
        "application/json",
        "no-cache",
    )
}

pub(super) async fn checkpoint(State(s): State<AppState>) -> Result<Response, ApiError> {
    let cp = s.service().checkpoint()?;
    Ok(with_headers(
        cp,
        "text/plain; charset=utf-8",
        "public, max-age=2",
    ))
}

pub(super) async fn tile(
    State(s): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let (bytes, partial) = s.service().tile(&path)?;
    let cache = if partial {
        "public, max-age=60"
    } else {
        "public, max-age=31536000, immutable"
    };
    Ok(with_headers(bytes, "application/octet-stream", cache))
}

pub(super) async fn status_proof(
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

pub(super) async fn label(
    State(s): State<AppState>,
    Path(index): Path<String>,
) -> Result<Response, ApiError> {
    let index = parse_index(&index)?;
    let view = s.service().label_view(index)?;
    Ok(with_headers(
        Json(view),
        "application/json",
        "public, max-age=2",
    ))
}

pub(super) async fn image(
    s: &AppState,
    index: &str,
    kind: crate::service::ImageKind,
) -> Result<Response, ApiError> {
    let index = parse_index(index)?;
    let (bytes, ct) = match s.service().cached_image(index, kind) {
        Some(hit) => hit,
        None => {
            // A render is ~11 ms of CPU: it runs on the blocking pool (never on the async
            // workers that serve the cheap reads), and at most `render_slots` at once, so
            // however many clients ask, the cheap reads keep a core. Waiters queue in order;
            // the cache is asked again by `Service::image` once a slot is free, so a burst of
            // requests for one label renders it once.
            let _slot = s
                .render_slots()
                .acquire()
                .await
                .map_err(|_| ApiError::unavailable("shutting down"))?;
            let st = s.clone();
            tokio::task::spawn_blocking(move || st.service().image(index, kind))
                .await
                .map_err(ApiError::internal)??
        }
    };
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

pub(super) async fn qr_png(
    State(s): State<AppState>,
    Path(i): Path<String>,
) -> Result<Response, ApiError> {
    image(&s, &i, crate::service::ImageKind::QrPng).await
}
pub(super) async fn qr_svg(
    State(s): State<AppState>,
    Path(i): Path<String>,
) -> Result<Response, ApiError> {
    image(&s, &i, crate::service::ImageKind::QrSvg).await
}
pub(super) async fn artwork_png(
    State(s): State<AppState>,
    Path(i): Path<String>,
) -> Result<Response, ApiError> {
    image(&s, &i, crate::service::ImageKind::ArtworkPng).await
}
pub(super) async fn artwork_svg(
    State(s): State<AppState>,
    Path(i): Path<String>,
) -> Result<Response, ApiError> {
    image(&s, &i, crate::service::ImageKind::ArtworkSvg).await
}

pub(super) async fn trust_list(State(s): State<AppState>) -> Response {
    with_headers(
        s.service().trust_list_cose().to_vec(),
        "application/cose",
        "public, max-age=300",
    )
}

pub(super) async fn trust_list_json(State(s): State<AppState>) -> Response {
    with_headers(
        s.service().trust_list_json().to_vec(),
        "application/json",
        "public, max-age=300",
    )
}

pub(super) async fn schemes(State(s): State<AppState>) -> Response {
    with_headers(
        s.service().schemes_json().to_vec(),
        "application/json",
        "public, max-age=300",
    )
}

pub(super) async fn openapi() -> Response {
    with_headers(OPENAPI_JSON, "application/json", "public, max-age=300")
}

pub(super) async fn metrics(State(s): State<AppState>) -> Response {
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

pub(super) async fn healthz(State(s): State<AppState>) -> Response {
    match s.service().not_ready() {
        Ok(Some((status, reason))) => {
            let mut r = with_headers(
                Json(serde_json::json!({ "status": status, "reason": reason })),
                "application/json",
                "no-store",
            );
            *r.status_mut() = axum::http::StatusCode::SERVICE_UNAVAILABLE;
            return r;
        }
        Ok(None) => {}
        Err(e) => return ApiError::from(e).into_response(),
    }
    match s.service().tree_size() {
        Ok(size) => with_headers(
            Json(serde_json::json!({ "status": "ok", "tree_size": size })),
            "application/json",
            "no-store",
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}
