//! The OpenAPI document matches the router exactly: same (method, path) pairs as
//! `route_table()`, every documented operation is routed over real HTTP, and every
//! undocumented method on a documented path is refused with 405.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod common;

use std::collections::BTreeSet;

use common::{Server, config, request, tempdir};

fn doc_routes() -> BTreeSet<(String, String)> {
    let doc: serde_json::Value =
        serde_json::from_str(cyberlabel_server::routes::OPENAPI_JSON).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    out
}

/// axum's `{*rest}` wildcard is written `{rest}` in OpenAPI (which has no multi-segment form).
fn router_routes() -> BTreeSet<(String, String)> {
    cyberlabel_server::route_table()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.replace("{*", "{")))
        .collect()
}

#[test]
fn document_lists_exactly_the_routes() {
    let doc = doc_routes();
    let router = router_routes();
    let missing: Vec<_> = router.difference(&doc).collect();
    let extra: Vec<_> = doc.difference(&router).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "undocumented: {missing:?}; documented but not routed: {extra:?}"
    );
    assert_eq!(
        router.len(),
        cyberlabel_server::route_table().len(),
        "duplicate route"
    );
}

#[tokio::test]
async fn documented_operations_are_served_and_others_refused() {
    let (_d, dir) = tempdir();
    let server = Server::start(config(&dir)).await;
    let doc = doc_routes();
    let paths: BTreeSet<String> = doc.iter().map(|(_, p)| p.clone()).collect();
    for path in &paths {
        let concrete = path
            .replace("{index}", "0")
            .replace("/assets/{path}", "/assets/pkg/v.wasm")
            .replace("{path}", "000");
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            let r = request(server.addr, method, &concrete, &[], b"{}").await;
            let documented = doc.contains(&(method.to_owned(), path.clone()));
            if documented {
                assert_ne!(r.status, 405, "{method} {concrete}: {}", r.text());
                if r.status == 404 {
                    assert_ne!(
                        r.json()["message"],
                        "no such route",
                        "{method} {concrete} not routed"
                    );
                }
            } else {
                // `GET /labels/bulk` is the `POST`-only bulk route: 405 as well.
                assert_eq!(
                    r.status,
                    405,
                    "{method} {concrete} should not be routed: {}",
                    r.text()
                );
            }
        }
    }
    let r = server.get("/openapi.json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["openapi"], "3.1.0");
    server.stop().await;
}
