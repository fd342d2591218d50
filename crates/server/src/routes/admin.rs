//! Operator tokens while the server runs: create, list and revoke (admin role), and what a
//! token minted (admin, or the token itself).
//!
//! The token store shares the server's database, so these act on the live store: a revoked
//! token is refused on the very next request (every request reads its record afresh). The
//! offline `cyberlabel token … --data DIR` commands remain for a stopped server (sled locks
//! the data directory of a running one).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::extract::{Operator, read_body};
use super::write::count_rejection;
use crate::auth::{Action, DEFAULT_EXPIRY, Role, TokenRecord, TokenStore, parse_expiry};
use crate::error::ApiError;
use crate::{AppState, now_unix};

/// Largest page of `GET /tokens/{id}/labels`.
const MAX_PAGE: usize = 10_000;

/// Body of `POST /tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    /// issuer, revoker or admin
    role: Role,
    /// scheme ids the token may act on; `*` = all
    schemes: Vec<String>,
    /// 90d, 12h, 30m, 3600s, a date YYYY-MM-DD, or never; default [`DEFAULT_EXPIRY`]
    #[serde(default)]
    expires: Option<String>,
    /// who holds it
    #[serde(default)]
    note: String,
}

fn require_admin(op: &TokenRecord) -> Result<(), ApiError> {
    if op.role.allows(Action::ManageTokens) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "role {} may not manage tokens (admin role required)",
            op.role
        )))
    }
}

/// `POST /tokens` → 201 `{"token", "id", "role", "schemes", "created_at", "expires_at", "note"}`.
/// The token text is in this response only.
pub(super) async fn create_token(
    State(s): State<AppState>,
    Operator(op): Operator,
    body: Body,
) -> Result<Response, ApiError> {
    let r = async {
        require_admin(&op)?;
        let bytes = read_body(body, s.config().body_limit).await?;
        let req: CreateRequest = crate::service::json_object(&bytes)?;
        TokenStore::check_request(&req.schemes, &req.note)
            .map_err(|e| ApiError::invalid_field("schemes", e.to_string()))?;
        let now = now_unix();
        let expires = req.expires.as_deref().unwrap_or(DEFAULT_EXPIRY);
        let expires_at =
            parse_expiry(expires, now).map_err(|e| ApiError::invalid_field("expires", e))?;
        let schemes = req.schemes.iter().map(|s| s.trim().to_owned()).collect();
        let (token, rec) = s
            .tokens()
            .create(schemes, req.role, expires_at, req.note, now)
            .map_err(ApiError::internal)?;
        tracing::info!(
            action = "token_create",
            created_id = %rec.id,
            created_role = %rec.role,
            expires_at = rec.expires_at,
            "token created"
        );
        let mut v = serde_json::to_value(rec.info()).map_err(ApiError::internal)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("token".into(), token.into());
        }
        Ok(v)
    }
    .await;
    let v = count_rejection(&s, r)?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// `GET /tokens` → `{"tokens": [{"id", "role", "schemes", "created_at", "expires_at", "note"}]}`.
pub(super) async fn list_tokens(
    State(s): State<AppState>,
    Operator(op): Operator,
) -> Result<Response, ApiError> {
    require_admin(&op)?;
    let records = s.tokens().list().map_err(ApiError::internal)?;
    let tokens: Vec<_> = records.iter().map(TokenRecord::info).collect();
    Ok(Json(json!({ "tokens": tokens })).into_response())
}

/// `DELETE /tokens/{id}` → `{"id", "revoked": true}`; 404 for an unknown id.
pub(super) async fn revoke_token(
    State(s): State<AppState>,
    Operator(op): Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let r = async {
        require_admin(&op)?;
        if !s.tokens().revoke(&id).map_err(ApiError::internal)? {
            return Err(ApiError::not_found(format!(
                "no token with id {id:?} (GET /tokens lists them)"
            )));
        }
        tracing::info!(action = "token_revoke", revoked_id = %id, "token revoked");
        Ok(json!({ "id": id, "revoked": true }))
    }
    .await;
    Ok(Json(count_rejection(&s, r)?).into_response())
}

/// `GET /tokens/{id}/labels[?after=<index>&limit=<n>]` → `{"token_id", "indices": [...],
/// "next_after": <index> | null}`: the labels (mint, bulk, renew) the token minted, ascending,
/// a page at a time (default and maximum 10 000). Admin, or the token itself.
pub(super) async fn token_labels(
    State(s): State<AppState>,
    Operator(op): Operator,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    if op.id != id {
        require_admin(&op).map_err(|_| {
            ApiError::forbidden(
                "a token may list only what it minted itself (or use an admin token)",
            )
        })?;
    }
    let mut after = None;
    let mut limit = MAX_PAGE;
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let n = || {
            v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(Some(k), format!("{k} must be a decimal number"))
            })
        };
        match k {
            "after" => after = Some(n()?),
            "limit" => {
                limit = usize::try_from(n()?).unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
            }
            other => {
                return Err(ApiError::bad_request(
                    Some(other),
                    format!("unknown query parameter {other:?} (accepted: after, limit)"),
                ));
            }
        }
    }
    let indices = s
        .tokens()
        .minted(&id, after, limit)
        .map_err(ApiError::internal)?;
    let next_after = (indices.len() == limit)
        .then(|| indices.last().copied())
        .flatten();
    Ok(
        Json(json!({ "token_id": id, "indices": indices, "next_after": next_after }))
            .into_response(),
    )
}
