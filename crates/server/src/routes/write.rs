//! Authenticated mutations: mint (single and bulk), renew, status changes and signed entries,
//! each mapped from the service's typed errors to HTTP.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::extract::{Keyed, bind_bodies, derive_key, parse_index, valid_key, with_headers};
use crate::AppState;
use crate::auth::TokenRecord;
use crate::error::ApiError;
use crate::service::{
    BulkEntry, BulkItem, BulkView, MintedView, ServiceError, StatusAction, json_object,
};

// ---------------------------------------------------------------------------------------------
// authenticated mutations

/// Counts a refused authenticated request, and logs it in the request's span (which names the
/// token).
pub(super) fn count_rejection<T>(s: &AppState, r: Result<T, ApiError>) -> Result<T, ApiError> {
    if let Err(e) = &r {
        s.metrics()
            .rejected
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(status = e.status.as_u16(), error = e.code, "write refused");
    }
    r
}

/// Attributes freshly minted (or replayed) labels to the token that asked for them. A failure
/// here is logged, not returned: the labels are already in the log.
fn attribute(s: &AppState, op: &TokenRecord, indices: &[u64]) {
    if let Err(e) = s.tokens().record_minted(&op.id, indices) {
        tracing::error!(error = %e, "cannot record which token minted these labels");
    }
}

pub(super) async fn mint(
    State(s): State<AppState>,
    Keyed { op, idem, bytes }: Keyed,
) -> Result<Response, ApiError> {
    let r = async {
        let item: serde_json::Value = json_object(&bytes)?;
        Ok(s.service().mint(&op, item, idem).await?)
    }
    .await;
    let view = count_rejection(&s, r)?;
    attribute(&s, &op, &[view.index]);
    tracing::info!(action = "mint", index = view.index, "label minted");
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub(super) async fn bulk(
    State(s): State<AppState>,
    uri: axum::http::Uri,
    Keyed { op, idem, bytes }: Keyed,
) -> Result<Response, ApiError> {
    let r = async {
        let detail = bulk_view(uri.query())?;
        let items = parse_bulk(&bytes, s.config().bulk_max_items)?;
        let items = keyed_items(&s, &op, items).await?;
        Ok(s.service_arc().mint_bulk(&op, items, idem, detail).await?)
    }
    .await;
    let results: Vec<Result<_, ApiError>> = count_rejection(&s, r)?
        .into_iter()
        .map(|r| r.map_err(ApiError::from))
        .collect();
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    let rejected = results.len() - accepted;
    let minted: Vec<u64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(MintedView::index))
        .collect();
    attribute(&s, &op, &minted);
    tracing::info!(action = "bulk", accepted, rejected, "bulk mint");
    if rejected > 0 {
        s.metrics()
            .rejected
            .fetch_add(rejected as u64, std::sync::atomic::Ordering::Relaxed);
    }
    // Serialised straight from typed items (no intermediate JSON tree: thousands per request),
    // in one chunk per core off the async workers; the same bytes as serialising a
    // `{accepted, rejected, results}` object at once.
    let parts = crate::service::on_cores(results, |first, part: Vec<Result<_, ApiError>>| {
        let mut out = Vec::new();
        for (k, r) in part.iter().enumerate() {
            let item = first + k;
            let one = match r {
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
            };
            if k > 0 {
                out.push(b',');
            }
            if let Err(e) = serde_json::to_writer(&mut out, &one) {
                return vec![Err(ApiError::internal(e))];
            }
        }
        vec![Ok(out)]
    })
    .await
    .map_err(ApiError::from)?;
    let mut body =
        format!("{{\"accepted\":{accepted},\"rejected\":{rejected},\"results\":[").into_bytes();
    for (n, part) in parts.into_iter().enumerate() {
        let part = part?;
        if n > 0 && !part.is_empty() {
            body.push(b',');
        }
        body.extend_from_slice(&part);
    }
    body.extend_from_slice(b"]}");
    Ok(with_headers(body, "application/json", "no-store"))
}

#[derive(serde::Serialize)]
#[serde(untagged)]
enum BulkResult<'a> {
    Ok {
        item: usize,
        ok: bool,
        label: &'a MintedView,
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

/// The bulk route's query: `view=full` (the default) or `view=compact` ([`BulkView`]). Any
/// other parameter, or another value, is a 400 naming it: a typo must not silently give the
/// default.
fn bulk_view(query: Option<&str>) -> Result<BulkView, ApiError> {
    let mut view = BulkView::Full;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "view" {
            return Err(ApiError::bad_request(
                None,
                format!(
                    "unknown query parameter {:?} (this route takes view=full or view=compact)",
                    name.chars().take(32).collect::<String>()
                ),
            ));
        }
        view = BulkView::parse(value).map_err(|m| ApiError::bad_request(None, m))?;
    }
    Ok(view)
}

/// A JSON array (`[…]`) or NDJSON (one object per non-empty line). A malformed array is a
/// 400 for the whole request; a malformed NDJSON line rejects only that item.
pub(super) fn parse_bulk(bytes: &[u8], max_items: usize) -> Result<Vec<BulkItem>, ApiError> {
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
                serde_json::from_slice(l).map_err(|e| {
                    ServiceError::bad_request(None, format!("malformed JSON line: {e}"))
                })
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

/// Unwraps the bulk items that carry their own idempotency key, `{"idempotency_key": "…",
/// "product": {…}}`, so a client can resume a large file in chunks of any size: each row's key
/// is its own, not its position in one request. Such a key is derived like a request's (token,
/// route) and bound to the product's JSON, as `Idempotency-Key` is to a body; a key reused
/// with another product rejects that item. Items without a key get one derived from the
/// request's `Idempotency-Key`, if any, and their position ([`crate::service::item_key`]).
async fn keyed_items(
    s: &AppState,
    op: &TokenRecord,
    items: Vec<BulkItem>,
) -> Result<Vec<BulkEntry>, ApiError> {
    const ROUTE: &str = "POST /labels/bulk (item)";
    // First pass: shapes and keys; then every key is bound in one transaction.
    let mut entries: Vec<BulkEntry> = Vec::with_capacity(items.len());
    let mut bodies: Vec<(usize, [u8; 32], Vec<u8>)> = Vec::new();
    for item in items {
        let e = keyed_item(op, ROUTE, item)?;
        if let (Some(key), Ok(product)) = (e.key, &e.item) {
            let bytes = serde_json::to_vec(product).map_err(ApiError::internal)?;
            bodies.push((entries.len(), key, bytes));
        }
        entries.push(e);
    }
    if bodies.is_empty() {
        return Ok(entries);
    }
    let bound = bind_bodies(
        s,
        bodies.iter().map(|(_, k, b)| (*k, b.as_slice())).collect(),
    )
    .await?;
    for ((at, _, _), ok) in bodies.iter().zip(bound) {
        if !ok {
            entries[*at] = BulkEntry {
                item: Err(ServiceError::invalid_field(
                    "idempotency_key",
                    "this idempotency_key was first used with a different product: use a new key",
                )),
                key: None,
            };
        }
    }
    Ok(entries)
}

fn keyed_item(op: &TokenRecord, route: &str, item: BulkItem) -> Result<BulkEntry, ApiError> {
    let v = match item {
        Ok(serde_json::Value::Object(o)) if o.contains_key("idempotency_key") => o,
        other => {
            return Ok(BulkEntry {
                item: other,
                key: None,
            });
        }
    };
    let bad = |m: &str| BulkEntry {
        item: Err(ServiceError::bad_request(Some("idempotency_key"), m)),
        key: None,
    };
    if v.len() != 2 || !v.contains_key("product") {
        return Ok(bad(
            "an item with idempotency_key has exactly two fields: idempotency_key and product",
        ));
    }
    let Some(k) = v
        .get("idempotency_key")
        .and_then(serde_json::Value::as_str)
        .and_then(valid_key)
    else {
        return Ok(bad(
            "idempotency_key must be 1–255 visible ASCII characters",
        ));
    };
    let key = derive_key(op, route, k);
    let product = v.get("product").cloned().unwrap_or_default();
    Ok(BulkEntry {
        item: Ok(product),
        key: Some(key),
    })
}

pub(super) async fn renew(
    State(s): State<AppState>,
    Path(index): Path<String>,
    Keyed { op, idem, bytes }: Keyed,
) -> Result<Response, ApiError> {
    let r = async {
        let index = parse_index(&index)?;
        let req = json_object(&bytes)?;
        Ok(s.service().renew(&op, index, req, idem).await?)
    }
    .await;
    let view = count_rejection(&s, r)?;
    attribute(&s, &op, &[view.index]);
    tracing::info!(action = "renew", index = view.index, "label renewed");
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub(super) async fn change_status(
    s: AppState,
    index: String,
    action: StatusAction,
    Keyed { op, idem, bytes }: Keyed,
) -> Result<Response, ApiError> {
    let r = async {
        let index = parse_index(&index)?;
        let req = if bytes.iter().all(u8::is_ascii_whitespace) {
            crate::service::StatusRequest::default()
        } else {
            json_object(&bytes)?
        };
        Ok(s.service()
            .change_status(&op, index, action, req, idem)
            .await?)
    }
    .await;
    let view = count_rejection(&s, r)?;
    tracing::info!(
        action = action.as_str(),
        index = view.index,
        record_index = view.record_index,
        "label status changed"
    );
    Ok(Json(view).into_response())
}

/// The three status routes differ only in their action: one handler body, three names (the
/// route table and the OpenAPI document list each route).
macro_rules! status_route {
    ($name:ident, $action:ident) => {
        pub(super) async fn $name(
            State(s): State<AppState>,
            Path(i): Path<String>,
            keyed: Keyed,
        ) -> Result<Response, ApiError> {
            change_status(s, i, StatusAction::$action, keyed).await
        }
    };
}
status_route!(suspend, Suspend);
status_route!(reinstate, Reinstate);
status_route!(revoke, Revoke);

/// `POST /entries`: an entry (label or status record, COSE bytes) its issuer signed itself.
pub(super) async fn submit_entry(
    State(s): State<AppState>,
    Keyed { op, idem, bytes }: Keyed,
) -> Result<Response, ApiError> {
    let r = async { Ok(s.service().submit_signed(&op, bytes.to_vec(), idem).await?) }.await;
    let entry = count_rejection(&s, r)?;
    if entry.kind == "label" {
        attribute(&s, &op, &[entry.index]);
    }
    tracing::info!(
        action = "submit_entry",
        kind = entry.kind,
        index = entry.index,
        "signed entry appended"
    );
    Ok((StatusCode::CREATED, Json(entry)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_view_query() {
        assert_eq!(bulk_view(None).unwrap(), BulkView::Full);
        assert_eq!(bulk_view(Some("")).unwrap(), BulkView::Full);
        assert_eq!(bulk_view(Some("view=full")).unwrap(), BulkView::Full);
        assert_eq!(bulk_view(Some("view=compact")).unwrap(), BulkView::Compact);
        for bad in [
            "view=",
            "view",
            "view=Compact",
            "views=compact",
            "view=compact&x=1",
        ] {
            let e = bulk_view(Some(bad)).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
        }
    }

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
