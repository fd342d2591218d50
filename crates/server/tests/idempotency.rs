//! Idempotent retries and concurrent issuance over real HTTP, and durability across a restart.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod common;

use std::collections::BTreeSet;

use common::{Server, config, product, tempdir};
use cyberlabel_server::Role;

#[tokio::test]
async fn retries_return_the_first_result_and_append_nothing() {
    let (_d, dir) = tempdir();
    let server = Server::start(config(&dir)).await;
    let tok = server.token(&["SG-CLS"], Role::Admin, None);
    let other = server.token(&["SG-CLS"], Role::Admin, None);
    let key = [("idempotency-key", "order-4711")];
    let body = product("Cam").to_string();

    let a = server
        .post_with("/labels", Some(&tok), &key, body.as_bytes())
        .await;
    assert_eq!(a.status, 201, "{}", a.text());
    let b = server
        .post_with("/labels", Some(&tok), &key, body.as_bytes())
        .await;
    assert_eq!(b.status, 201);
    assert_eq!(a.json()["index"], b.json()["index"]);
    assert_eq!(
        a.json()["label"],
        b.json()["label"],
        "the same label bytes, not a re-signed one"
    );
    // entry 0 is the trust list the log enforces
    assert_eq!(server.tree_size().await, 2);
    // the key is scoped to the token: another operator's identical key is a different request
    let c = server
        .post_with("/labels", Some(&other), &key, body.as_bytes())
        .await;
    assert_ne!(c.json()["index"], a.json()["index"]);
    assert_eq!(server.tree_size().await, 3);

    // status change retried after it took effect: the first result, not a 409
    let rk = [("idempotency-key", "revoke-1")];
    let r1 = server
        .post_with("/labels/1/revoke", Some(&tok), &rk, br#"{"reason": 6}"#)
        .await;
    assert_eq!(r1.status, 200, "{}", r1.text());
    let r2 = server
        .post_with("/labels/1/revoke", Some(&tok), &rk, br#"{"reason": 6}"#)
        .await;
    assert_eq!(r2.status, 200, "{}", r2.text());
    assert_eq!(r1.json()["record_index"], r2.json()["record_index"]);
    assert_eq!(server.tree_size().await, 4);
    // without the key, the second revoke is a conflict
    assert_eq!(
        server
            .post("/labels/1/revoke", Some(&tok), b"")
            .await
            .status,
        409
    );

    // bulk retried: the same indices
    let items = serde_json::to_vec(&vec![product("p"), product("q")]).unwrap();
    let bk = [("idempotency-key", "batch-9")];
    let x = server
        .post_with("/labels/bulk", Some(&tok), &bk, &items)
        .await
        .json();
    let y = server
        .post_with("/labels/bulk", Some(&tok), &bk, &items)
        .await
        .json();
    let idx = |v: &serde_json::Value| -> Vec<u64> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["label"]["index"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(idx(&x), idx(&y));
    assert_eq!(server.tree_size().await, 6);
    // idempotency survives a restart
    server.stop().await;
    let server = Server::start(config(&dir)).await;
    let tok2 = tok.clone();
    let b = server
        .post_with("/labels", Some(&tok2), &key, body.as_bytes())
        .await;
    assert_eq!(b.json()["index"], a.json()["index"]);
    assert_eq!(server.tree_size().await, 6);
    // an invalid key is refused
    let bad = [("idempotency-key", "")];
    assert_eq!(
        server
            .post_with("/labels", Some(&tok2), &bad, body.as_bytes())
            .await
            .status,
        400
    );
    server.stop().await;
}

#[tokio::test]
async fn concurrent_clients_get_dense_unique_indices_that_survive_restart() {
    let (_d, dir) = tempdir();
    let server = Server::start(config(&dir)).await;
    let tok = server.token(&["SG-CLS"], Role::Issuer, None);
    const CLIENTS: usize = 16;
    const EACH: usize = 8;
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (addr, tok) = (server.addr, tok.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..EACH {
                let auth = format!("Bearer {tok}");
                let body = product(&format!("client {c} item {i}")).to_string();
                let r = common::request(
                    addr,
                    "POST",
                    "/labels",
                    &[
                        ("authorization", &auth),
                        ("content-type", "application/json"),
                    ],
                    body.as_bytes(),
                )
                .await;
                assert_eq!(r.status, 201, "{}", r.text());
                let j = r.json();
                got.push((
                    j["index"].as_u64().unwrap(),
                    j["label"].as_str().unwrap().to_owned(),
                ));
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let indices: BTreeSet<u64> = all.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices.len(), CLIENTS * EACH, "no duplicates");
    assert_eq!(
        indices.iter().copied().collect::<Vec<_>>(),
        (1..=(CLIENTS * EACH) as u64).collect::<Vec<_>>(),
        "dense (after entry 0, the trust list)"
    );
    server.stop().await;

    // every acknowledged label is there after a restart, byte for byte
    let server = Server::start(config(&dir)).await;
    assert_eq!(server.tree_size().await, (CLIENTS * EACH) as u64 + 1);
    for (index, label) in &all {
        let r = server.get(&format!("/labels/{index}")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["label"].as_str(), Some(label.as_str()));
    }
    server.stop().await;
}

/// A key is bound to the body first sent with it: reusing it with another body is refused
/// (422 `idempotency_key_reused`), not answered with the first request's label.
#[tokio::test]
async fn a_reused_key_with_another_body_is_refused() {
    let (_d, dir) = tempdir();
    let server = Server::start(config(&dir)).await;
    let tok = server.token(&["SG-CLS"], Role::Admin, None);
    let key = [("idempotency-key", "order-1")];
    let first = product("Cam").to_string();
    let a = server
        .post_with("/labels", Some(&tok), &key, first.as_bytes())
        .await;
    assert_eq!(a.status, 201, "{}", a.text());
    let other = product("Doorbell").to_string();
    for path in ["/labels", "/labels/bulk"] {
        let body = if path == "/labels" {
            other.clone()
        } else {
            format!("[{other}]")
        };
        // on the bulk route the key is new: bound there to this body
        let r = server
            .post_with(path, Some(&tok), &key, body.as_bytes())
            .await;
        if path == "/labels" {
            assert_eq!(r.status, 422, "{}", r.text());
            assert_eq!(r.json()["error"], "idempotency_key_reused");
        } else {
            assert_eq!(r.status, 200, "{}", r.text());
        }
    }
    assert_eq!(
        server.tree_size().await,
        3,
        "the refused request appended nothing (entry 0 is the trust list)"
    );
    let r = server
        .post_with(
            "/labels/bulk",
            Some(&tok),
            &key,
            format!("[{first}]").as_bytes(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["error"], "idempotency_key_reused");
    // the first body still replays its label
    let b = server
        .post_with("/labels", Some(&tok), &key, first.as_bytes())
        .await;
    assert_eq!((b.status, &b.json()["index"]), (201, &a.json()["index"]));
    let rk = [("idempotency-key", "revoke-1")];
    let r = server
        .post_with("/labels/1/revoke", Some(&tok), &rk, br#"{"reason": 6}"#)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = server
        .post_with("/labels/1/revoke", Some(&tok), &rk, br#"{"reason": 1}"#)
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(server.tree_size().await, 4);
    server.stop().await;
}
