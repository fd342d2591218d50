//! Refusals over real HTTP: wrong scope or role (403), validation errors (400/422 naming the
//! field), unknown labels (404), illegal transitions (409) — and nothing appended for any of
//! them. Bulk requests reject bad items individually while the others go through — unless the
//! token may not make the request at all (role, or an item outside its scope): then the whole
//! request is refused with 403 and nothing is minted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod common;

use common::{Server, config, product, tempdir};
use cyberlabel_server::Role;
use serde_json::{Value, json};

fn with(mut p: Value, key: &str, v: Value) -> Value {
    p[key] = v;
    p
}

#[tokio::test]
async fn validation_and_scope_errors_append_nothing() {
    let (_d, dir) = tempdir();
    let server = Server::start(config(&dir)).await;
    let admin = server.token(&["*"], Role::Admin, None);
    let other_scheme = server.token(&["US-CTM"], Role::Issuer, None);
    // one label to act on
    let r = server
        .post(
            "/labels",
            Some(&admin),
            product("ok").to_string().as_bytes(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let size = server.tree_size().await;

    let cases: Vec<(Value, u16, Option<&str>)> = vec![
        (
            with(product("x"), "scheme", json!("XX-NOPE")),
            422,
            Some("scheme"),
        ),
        (with(product("x"), "level", json!(9)), 422, Some("level")),
        (
            with(product("x"), "provisions", json!(["5.1-1", "9.9-9"])),
            422,
            Some("provisions"),
        ),
        (
            with(product("x"), "expires_at", json!("2020-01-01")),
            422,
            Some("expires_at"),
        ),
        (
            with(product("x"), "expires_at", json!("not a date")),
            422,
            Some("expires_at"),
        ),
        (
            with(product("x"), "category", json!(999)),
            422,
            Some("category"),
        ),
        (with(product("x"), "lab", Value::Null), 422, Some("lab")),
        (
            with(product("x"), "colour", json!("red")),
            400,
            Some("colour"),
        ),
        (json!({"scheme": "SG-CLS"}), 400, Some("level")),
        // a JSON array would fill the description by position
        (
            json!([
                "SG-CLS",
                2,
                "Acme",
                "Cam",
                "B",
                "2.4",
                1,
                ["5.1-1"],
                "self_declared"
            ]),
            400,
            None,
        ),
        // signed text that would read differently than it says (issue 10: minted 201 before)
        (
            with(
                product("x"),
                "manufacturer",
                json!("Acme\nEvil\u{202e}gnp.exe"),
            ),
            422,
            Some("manufacturer"),
        ),
        (
            with(product("x"), "product", json!("Cam\u{200b}era")),
            422,
            Some("product"),
        ),
        (
            with(product("x"), "firmware_versions", json!("2.4\u{2066}")),
            422,
            Some("firmware_versions"),
        ),
    ];
    for (body, status, field) in &cases {
        let r = server
            .post("/labels", Some(&admin), body.to_string().as_bytes())
            .await;
        assert_eq!(r.status, *status, "{body}: {}", r.text());
        let j = r.json();
        assert!(j["message"].is_string());
        assert_eq!(j["field"].as_str(), *field, "{body}: {j}");
    }
    // malformed JSON
    for raw in [&b"{"[..], b"[1,2]", b"", b"\xff\xfe"] {
        let r = server.post("/labels", Some(&admin), raw).await;
        assert_eq!(r.status, 400, "{raw:?}: {}", r.text());
        assert_eq!(r.json()["error"], "bad_request");
    }
    // a JSON array is not a status request: `[8]` revoked a label by position before
    for raw in [&b"[8]"[..], b"[\"issued_in_error\"]", b"8"] {
        let r = server.post("/labels/1/revoke", Some(&admin), raw).await;
        assert_eq!(r.status, 400, "{raw:?}: {}", r.text());
    }
    let r = server.get("/labels/1").await;
    assert_eq!(r.json()["status"]["state"], "active", "{}", r.text());
    // wrong scheme scope → 403; scope covers the scheme but role does not → 403
    let r = server
        .post(
            "/labels",
            Some(&other_scheme),
            product("x").to_string().as_bytes(),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error"], "forbidden");
    let r = server
        .post("/labels/1/revoke", Some(&other_scheme), b"")
        .await;
    assert_eq!(r.status, 403);
    let revoker_other = server.token(&["US-CTM"], Role::Revoker, None);
    let r = server
        .post("/labels/1/revoke", Some(&revoker_other), b"")
        .await;
    assert_eq!(
        r.status,
        403,
        "scheme scope applies to status changes: {}",
        r.text()
    );
    let r = server
        .post(
            "/labels/1/renew",
            Some(&other_scheme),
            br#"{"firmware_versions":"3"}"#,
        )
        .await;
    assert_eq!(r.status, 403);
    // status-change body errors
    let r = server
        .post("/labels/1/revoke", Some(&admin), br#"{"reason": 99}"#)
        .await;
    assert_eq!(
        (r.status, r.json()["field"].as_str()),
        (422, Some("reason"))
    );
    let r = server
        .post(
            "/labels/1/revoke",
            Some(&admin),
            br#"{"reason": "because"}"#,
        )
        .await;
    assert_eq!(r.status, 422);
    let r = server
        .post("/labels/1/revoke", Some(&admin), br#"{"why": 1}"#)
        .await;
    assert_eq!((r.status, r.json()["field"].as_str()), (400, Some("why")));
    let r = server.post("/labels/1/renew", Some(&admin), b"{}").await;
    assert_eq!(
        (r.status, r.json()["field"].as_str()),
        (400, Some("firmware_versions"))
    );
    // unknown targets, illegal transitions
    assert_eq!(
        server
            .post("/labels/77/suspend", Some(&admin), b"")
            .await
            .status,
        404
    );
    assert_eq!(
        server
            .post(
                "/labels/77/renew",
                Some(&admin),
                br#"{"firmware_versions":"3"}"#
            )
            .await
            .status,
        404
    );
    assert_eq!(
        server
            .post("/labels/1/reinstate", Some(&admin), b"")
            .await
            .status,
        409
    );
    assert_eq!(
        server
            .post("/labels/01/revoke", Some(&admin), b"")
            .await
            .status,
        400
    );

    assert_eq!(server.tree_size().await, size, "nothing appended");
    server.stop().await;
}

#[tokio::test]
async fn bulk_rejects_bad_items_individually() {
    let (_d, dir) = tempdir();
    let server = Server::start(config(&dir)).await;
    let tok = server.token(&["SG-CLS"], Role::Issuer, None);
    let items = vec![
        product("a"),
        with(product("b"), "level", json!(7)),
        product("c"),
        json!("not an object"),
        product("e"),
    ];
    let r = server
        .post(
            "/labels/bulk",
            Some(&tok),
            serde_json::to_vec(&items).unwrap().as_slice(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(
        (j["accepted"].as_u64(), j["rejected"].as_u64()),
        (Some(3), Some(2))
    );
    let res = j["results"].as_array().unwrap();
    let ok: Vec<bool> = res.iter().map(|x| x["ok"].as_bool().unwrap()).collect();
    assert_eq!(ok, [true, false, true, false, true]);
    assert_eq!(
        (res[1]["status"].as_u64(), res[1]["field"].as_str()),
        (Some(422), Some("level"))
    );
    assert_eq!(res[3]["status"].as_u64(), Some(400));
    let mut idx: Vec<u64> = res
        .iter()
        .filter_map(|x| x["label"]["index"].as_u64())
        .collect();
    idx.sort_unstable();
    assert_eq!(idx, [1, 2, 3], "after entry 0, the trust list");
    assert_eq!(server.tree_size().await, 4);
    // a malformed NDJSON line is rejected on its own
    let nd = format!("{}\n{{oops\n{}\n", product("f"), product("g"));
    let j = server
        .post("/labels/bulk", Some(&tok), nd.as_bytes())
        .await
        .json();
    assert_eq!(
        (j["accepted"].as_u64(), j["rejected"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(j["results"][1]["error"], "bad_request");
    // a malformed array is a 400 for the whole request
    let r = server.post("/labels/bulk", Some(&tok), b"[{},").await;
    assert_eq!(r.status, 400);
    assert_eq!(server.tree_size().await, 6);
    server.stop().await;
}

/// A bulk request the token may not make is refused as a whole (403) before anything is
/// minted: one item outside the token's scheme scope, or a token whose role cannot issue.
#[tokio::test]
async fn bulk_with_wrong_scope_or_role_is_refused_whole() {
    let (_d, dir) = tempdir();
    let server = Server::start(config(&dir)).await;
    let issuer = server.token(&["SG-CLS"], Role::Issuer, None);
    let revoker = server.token(&["*"], Role::Revoker, None);
    let size = server.tree_size().await;
    let items = vec![
        product("a"),
        with(product("b"), "scheme", json!("US-CTM")), // outside the token's scope
        product("c"),
    ];
    let body = serde_json::to_vec(&items).unwrap();
    let r = server.post("/labels/bulk", Some(&issuer), &body).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let j = r.json();
    assert_eq!(j["error"], "forbidden");
    let msg = j["message"].as_str().unwrap();
    assert!(msg.contains("item 1") && msg.contains("US-CTM"), "{msg}");
    // NDJSON too
    let nd = format!(
        "{}\n{}\n",
        product("d"),
        with(product("e"), "scheme", json!("US-CTM"))
    );
    let r = server
        .post("/labels/bulk", Some(&issuer), nd.as_bytes())
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    // wrong role
    let ok = serde_json::to_vec(&[product("f")]).unwrap();
    let r = server.post("/labels/bulk", Some(&revoker), &ok).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("role revoker")
    );
    assert_eq!(server.tree_size().await, size, "nothing minted");
    server.stop().await;
}

/// Only renew may set `supersedes`, and the issue date is the server's today: a client-chosen
/// `supersedes` would let any issuer retire any label, a client-chosen `issued_at` would
/// backdate into an older key's validity window. Both are 422 naming the field, on the single
/// and the bulk route, and nothing is appended.
#[tokio::test]
async fn client_cannot_choose_supersedes_or_issued_at() {
    let (_d, dir) = tempdir();
    let server = Server::start(config(&dir)).await;
    let admin = server.token(&["*"], Role::Admin, None);
    let r = server
        .post("/labels", Some(&admin), product("a").to_string().as_bytes())
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let size = server.tree_size().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let yesterday = cyberlabel_issuer::dates::format_date(now - now % 86_400 - 86_400);
    let cases = [
        (with(product("x"), "supersedes", json!(0)), "supersedes"),
        (
            with(product("x"), "issued_at", json!(yesterday)),
            "issued_at",
        ),
        (
            with(product("x"), "issued_at", json!("2030-01-01")),
            "issued_at",
        ),
        (
            with(product("x"), "issued_at", json!("2026-02-30")),
            "issued_at",
        ),
    ];
    for (body, field) in &cases {
        let r = server
            .post("/labels", Some(&admin), body.to_string().as_bytes())
            .await;
        assert_eq!(
            (r.status, r.json()["field"].as_str()),
            (422, Some(*field)),
            "{body}: {}",
            r.text()
        );
        let bulk = serde_json::to_vec(&[body]).unwrap();
        let j = server
            .post("/labels/bulk", Some(&admin), &bulk)
            .await
            .json();
        assert_eq!(
            (
                j["results"][0]["status"].as_u64(),
                j["results"][0]["field"].as_str()
            ),
            (Some(422), Some(*field)),
            "bulk {body}: {j}"
        );
    }
    assert_eq!(server.tree_size().await, size, "nothing appended");
    let status = server.get("/labels/1").await.json();
    assert_eq!(status["status"]["state"], "active", "{status}");
    server.stop().await;
}
