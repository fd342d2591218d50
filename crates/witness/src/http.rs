//! The witness's HTTP interface (axum):
//!
//! - `POST <prefix>/add-checkpoint` — C2SP `tlog-witness`; 200 with the cosignature line(s),
//!   otherwise 400/403/404/409/422 with a plain-text reason; 409 for a stale `old` carries
//!   `Content-Type: text/x.tlog.size` and the latest cosigned size (`<size>\n`).
//! - `GET <prefix>/<hex sha256(origin)>/checkpoint` — the latest checkpoint the witness cosigned
//!   for that log (with its cosignature), for monitors.
//!
//! Bodies are limited to [`MAX_BODY`] (413 beyond). The verification and the durable store
//! update run on the blocking pool.

use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::witness::{AddError, Witness};

/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;

/// Content type of a 409 response to a stale `old` size.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

const TEXT: &str = "text/plain; charset=utf-8";

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, TEXT)], body).into_response()
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    let result = tokio::task::spawn_blocking(move || w.add_checkpoint(&body, now_unix())).await;
    match result {
        Ok(Ok(lines)) => text(StatusCode::OK, lines),
        Ok(Err(AddError::Conflict { latest })) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
            format!("{latest}\n"),
        )
            .into_response(),
        Ok(Err(e)) => {
            let status =
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status.is_server_error() {
                tracing::error!(error = %e, "add-checkpoint failed");
            }
            text(status, format!("{e}\n"))
        }
        Err(e) => {
            tracing::error!(error = %e, "add-checkpoint task failed");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error\n".to_owned(),
            )
        }
    }
}

async fn latest_checkpoint(State(w): State<Arc<Witness>>, Path(hash): Path<String>) -> Response {
    match w.latest_by_hash(&hash) {
        Ok(Some(cp)) => text(StatusCode::OK, cp),
        Ok(None) => text(
            StatusCode::NOT_FOUND,
            "no cosigned checkpoint for this log\n".to_owned(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "reading the latest checkpoint failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"))
        }
    }
}

/// The witness's routes under `prefix` (empty, or a path such as `/witness` without a trailing
/// slash).
pub fn router(witness: Arc<Witness>, prefix: &str) -> Router {
    let prefix = prefix.trim_end_matches('/');
    Router::new()
        .route(&format!("{prefix}/add-checkpoint"), post(add_checkpoint))
        .route(
            &format!("{prefix}/{{hash}}/checkpoint"),
            get(latest_checkpoint),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(witness)
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes in-flight requests.
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
