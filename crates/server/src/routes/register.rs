//! The public register over HTTP: `GET /register` (the search page), `GET /register/search`
//! (JSON), and the manufacturer pages and lists at the paths the static copy uses
//! (`/register/manufacturer/<slug>.json`, `/register/manufacturers/<c>.json`).
//!
//! A search first folds in what the log appended since the register last caught up (a bounded
//! amount), so a label is findable as soon as its mint was answered.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use cyberlabel_core::dates;
use cyberlabel_core::register::Query;
use serde_json::json;

use crate::error::ApiError;
use crate::register::{ListingView, RegisterError};
use crate::{AppState, now_unix, www};

/// Most entries a request folds in before it answers (the background task does the rest).
const CATCH_UP: u64 = 4096;

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::BadCursor => {
                ApiError::bad_request(Some("cursor"), "cursor is not one this register gave")
            }
            RegisterError::BadQuery(m) => ApiError::bad_request(Some("status"), m),
            other => ApiError::internal(other),
        }
    }
}

fn pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let raw = raw.unwrap_or("");
    if raw.len() > 2048 {
        return Err(ApiError::bad_request(None, "query string too long"));
    }
    serde_urlencoded::from_str(raw)
        .map_err(|e| ApiError::bad_request(None, format!("query string: {e}")))
}

fn number<T: std::str::FromStr>(k: &str, v: &str) -> Result<T, ApiError> {
    v.parse()
        .map_err(|_| ApiError::bad_request(Some(k), format!("{k} must be a number in range")))
}

fn text(k: &str, v: String) -> Result<Option<String>, ApiError> {
    if v.chars().count() > 64 {
        return Err(ApiError::bad_request(
            Some(k),
            format!("{k} is longer than 64 characters"),
        ));
    }
    Ok((!v.trim().is_empty()).then_some(v))
}

/// The query, cursor and limit of a search.
fn search_params(raw: Option<&str>) -> Result<(Query, Option<String>, usize), ApiError> {
    let mut q = Query::default();
    let mut cursor = None;
    let mut limit = 20;
    for (k, v) in pairs(raw)? {
        let day = |v: &str| {
            dates::parse_date(v).map_err(|_| {
                ApiError::bad_request(Some(&k), format!("{k} must be a date, YYYY-MM-DD"))
            })
        };
        match k.as_str() {
            "q" => q.q = text(&k, v)?,
            "manufacturer" => q.manufacturer = text(&k, v)?,
            "model" => q.model = text(&k, v)?,
            "scheme" => q.scheme = text(&k, v)?,
            "level" => q.level = Some(number(&k, &v)?),
            "category" => q.category = Some(number(&k, &v)?),
            "status" => q.status = text(&k, v)?,
            "issued_from" => q.issued_from = Some(day(&v)?),
            "issued_to" => q.issued_to = Some(day(&v)?),
            "cursor" => cursor = Some(v),
            "limit" => limit = number(&k, &v)?,
            other => {
                return Err(ApiError::bad_request(
                    Some(other),
                    format!(
                        "unknown query parameter {other:?} (accepted: q, manufacturer, model, \
                         scheme, level, category, status, issued_from, issued_to, cursor, limit)"
                    ),
                ));
            }
        }
    }
    Ok((q, cursor, limit))
}

/// Runs register work off the async threads, after folding in recent appends.
async fn with_register<T: Send + 'static>(
    s: &AppState,
    f: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let s = s.clone();
    tokio::task::spawn_blocking(move || {
        s.register().catch_up(s.service().ledger(), CATCH_UP)?;
        f(&s)
    })
    .await
    .map_err(ApiError::internal)?
}

pub(super) async fn register_page(State(s): State<AppState>) -> Response {
    www::page_file(&s.config().www_dir, "register.html", s.service().page_csp()).await
}

/// `GET /register/search?…` → `{indexed_size, results: [listing…], next, scanned}`.
pub(super) async fn register_search(
    State(s): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (q, cursor, limit) = search_params(raw.as_deref())?;
    let page = with_register(&s, move |s| {
        let now = now_unix();
        let page = s.register().search(&q, cursor.as_deref(), limit, now)?;
        let results: Vec<ListingView> = page
            .results
            .into_iter()
            .map(|l| {
                let url = s.service().payload_url(l.index);
                ListingView::new(l, now, url)
            })
            .collect();
        Ok(json!({
            "indexed_size": page.indexed_size,
            "results": results,
            "next": page.next,
            "scanned": page.scanned,
        }))
    })
    .await?;
    Ok(Json(page).into_response())
}

fn json_file(name: &str) -> Result<&str, ApiError> {
    name.strip_suffix(".json")
        .filter(|n| !n.is_empty() && n.len() <= 256)
        .ok_or_else(|| ApiError::not_found("no such register file"))
}

/// `GET /register/manufacturer/<slug>.json[?cursor=…]` → the manufacturer's page.
pub(super) async fn register_manufacturer(
    State(s): State<AppState>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let slug = json_file(&file)?.to_owned();
    let mut cursor = None;
    for (k, v) in pairs(raw.as_deref())? {
        match k.as_str() {
            "cursor" => cursor = Some(v),
            other => {
                return Err(ApiError::bad_request(
                    Some(other),
                    format!("unknown query parameter {other:?} (accepted: cursor)"),
                ));
            }
        }
    }
    let page = with_register(&s, move |s| {
        let verifier = |i| s.service().payload_url(i);
        s.register()
            .manufacturer_page(&slug, cursor.as_deref(), 1000, now_unix(), &verifier)?
            .ok_or_else(|| ApiError::not_found("no manufacturer page of that name"))
    })
    .await?;
    Ok(Json(page).into_response())
}

/// `GET /register/manufacturers/<c>.json` → the manufacturer pages whose name starts with `c`.
pub(super) async fn register_manufacturers(
    State(s): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let shard = json_file(&file)?.to_owned();
    if !(shard == "_" || (shard.len() == 1 && shard.bytes().all(|b| b.is_ascii_alphanumeric()))) {
        return Err(ApiError::not_found(
            "manufacturer lists are named by one letter or digit, or _",
        ));
    }
    let list = with_register(&s, move |s| Ok(s.register().manufacturer_list(&shard)?)).await?;
    Ok(Json(list).into_response())
}
