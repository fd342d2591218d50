//! Operators while the server runs, over real HTTP against a real sled store: the token admin
//! API (create with a default expiry, list without secrets, revoke effective on the next
//! request), what a token minted, renewal of a suspended label refused, per-item idempotency
//! keys in bulk requests, and reasons by name in any of the spellings people use.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod common;

use common::{Server, config, product, tempdir};
use cyberlabel_server::Role;
use serde_json::json;

#[tokio::test]
async fn token_admin_api_while_running() {
    let (_d, dir) = tempdir();
    let server = Server::start(config(&dir)).await;
    let admin = server.token(&["*"], Role::Admin, None);
    let revoker = server.token(&["*"], Role::Revoker, None);

    // create: default expiry 90 days, the token text only in this answer
    let r = server
        .post(
            "/tokens",
            Some(&admin),
            json!({"role": "issuer", "schemes": ["SG-CLS"], "note": "line 3"})
                .to_string()
                .as_bytes(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    let issuer = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    let days = (created["expires_at"].as_u64().unwrap() - created["created_at"].as_u64().unwrap())
        / 86_400;
    assert_eq!(days, 90, "{created}");
    // `never` only when asked for; bad requests name the field
    let r = server
        .post(
            "/tokens",
            Some(&admin),
            br#"{"role": "revoker", "schemes": ["*"], "expires": "never"}"#,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.json()["expires_at"].is_null());
    for (body, field) in [
        (json!({"role": "issuer", "schemes": []}), "schemes"),
        (
            json!({"role": "issuer", "schemes": ["*"], "expires": "soon"}),
            "expires",
        ),
    ] {
        let r = server
            .post("/tokens", Some(&admin), body.to_string().as_bytes())
            .await;
        assert_eq!(
            (r.status, r.json()["field"].as_str()),
            (422, Some(field)),
            "{body}"
        );
    }
    let r = server
        .post(
            "/tokens",
            Some(&admin),
            br#"{"role": "boss", "schemes": ["*"]}"#,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());

    // only admins manage tokens
    let r = server
        .post(
            "/tokens",
            Some(&revoker),
            br#"{"role": "admin", "schemes": ["*"]}"#,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = common::request(
        server.addr,
        "GET",
        "/tokens",
        &[("authorization", &format!("Bearer {issuer}"))],
        b"",
    )
    .await;
    assert_eq!(r.status, 403);

    // list: ids, roles, scopes, notes; never a secret or its hash
    let r = common::request(
        server.addr,
        "GET",
        "/tokens",
        &[("authorization", &format!("Bearer {admin}"))],
        b"",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = r.json();
    let mine = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(mine["role"], "issuer");
    assert_eq!(mine["note"], "line 3");
    let text = r.text();
    // `clt_<16 hex>_<43 base64url>`: the secret may itself contain '_', so cut by position
    let secret = &issuer["clt_".len() + 16 + 1..];
    assert_eq!(secret.len(), 43, "{issuer}");
    assert!(!text.contains(secret) && !text.contains("sha256"), "{text}");

    // the new token mints; what it minted is listed for itself, not for another token
    let mut minted = Vec::new();
    for name in ["a", "b"] {
        let r = server
            .post(
                "/labels",
                Some(&issuer),
                product(name).to_string().as_bytes(),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        minted.push(r.json()["index"].as_u64().unwrap());
    }
    let list = |tok: String, q: &'static str| {
        let id = id.clone();
        let addr = server.addr;
        async move {
            common::request(
                addr,
                "GET",
                &format!("/tokens/{id}/labels{q}"),
                &[("authorization", &format!("Bearer {tok}"))],
                b"",
            )
            .await
        }
    };
    let r = list(issuer.clone(), "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["indices"], json!(minted));
    let r = list(issuer.clone(), "?limit=1").await;
    assert_eq!(r.json()["indices"], json!([minted[0]]));
    assert_eq!(r.json()["next_after"], json!(minted[0]));
    let r = list(issuer.clone(), "?bogus=1").await;
    assert_eq!(r.status, 400);
    assert_eq!(list(revoker.clone(), "").await.status, 403);
    assert_eq!(
        list(admin.clone(), "").await.json()["indices"],
        json!(minted)
    );

    // revoke while running: the very next request with it is 401
    let r = common::request(
        server.addr,
        "DELETE",
        &format!("/tokens/{id}"),
        &[("authorization", &format!("Bearer {admin}"))],
        b"",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = server
        .post(
            "/labels",
            Some(&issuer),
            product("c").to_string().as_bytes(),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    // unknown id → 404; what it minted stays attributed
    let r = common::request(
        server.addr,
        "DELETE",
        &format!("/tokens/{id}"),
        &[("authorization", &format!("Bearer {admin}"))],
        b"",
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        list(admin.clone(), "").await.json()["indices"],
        json!(minted)
    );
    server.stop().await;
}

/// A suspended label is not renewed (the renewal would be active and lift the suspension with
/// the issuer role alone): 409 naming the rule; after a reinstatement, renewal works.
#[tokio::test]
async fn renewing_a_suspended_label_is_refused() {
    let (_d, dir) = tempdir();
    let server = Server::start(config(&dir)).await;
    let issuer = server.token(&["SG-CLS"], Role::Issuer, None);
    let revoker = server.token(&["SG-CLS"], Role::Revoker, None);
    let admin = server.token(&["*"], Role::Admin, None);
    let r = server
        .post(
            "/labels",
            Some(&issuer),
            product("a").to_string().as_bytes(),
        )
        .await;
    let index = r.json()["index"].as_u64().unwrap();
    // a reason by name, spelled the way people write it
    let r = server
        .post(
            &format!("/labels/{index}/suspend"),
            Some(&revoker),
            br#"{"reason": "Unremediated-Vulnerability"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["status"]["reason_name"],
        "unremediated_vulnerability"
    );
    let size = server.tree_size().await;
    let renew = br#"{"firmware_versions": "2.5.0"}"#;
    for tok in [&issuer, &admin] {
        let r = server
            .post_with(
                &format!("/labels/{index}/renew"),
                Some(tok),
                &[("idempotency-key", "renew-1")],
                renew,
            )
            .await;
        assert_eq!(r.status, 409, "{}", r.text());
        let msg = r.json()["message"].as_str().unwrap().to_owned();
        assert!(
            msg.contains("suspended") && msg.contains("reinstate it first"),
            "{msg}"
        );
    }
    assert_eq!(server.tree_size().await, size, "nothing appended");
    // an unknown reason lists the accepted ones
    let r = server
        .post(
            &format!("/labels/{index}/reinstate"),
            Some(&revoker),
            br#"{"reason": "fixed"}"#,
        )
        .await;
    assert_eq!(r.status, 422);
    let msg = r.json()["message"].as_str().unwrap().to_owned();
    assert!(
        msg.contains("13 reinstated") && msg.contains("0 unspecified"),
        "{msg}"
    );
    let r = server
        .post(&format!("/labels/{index}/reinstate"), Some(&revoker), b"")
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = server
        .post(&format!("/labels/{index}/renew"), Some(&issuer), renew)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    server.stop().await;
}

/// Bulk items may carry their own idempotency key: a resend in other chunks replays each item
/// (same index, nothing appended); a key reused with another product rejects that item.
#[tokio::test]
async fn bulk_items_with_their_own_keys_replay_across_chunkings() {
    let (_d, dir) = tempdir();
    let server = Server::start(config(&dir)).await;
    let issuer = server.token(&["SG-CLS"], Role::Issuer, None);
    let item = |k: &str, name: &str| json!({"idempotency_key": k, "product": product(name)});
    let all = vec![item("r1", "a"), item("r2", "b"), item("r3", "c")];
    let r = server
        .post(
            "/labels/bulk",
            Some(&issuer),
            &serde_json::to_vec(&all).unwrap(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let first: Vec<u64> = r.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["label"]["index"].as_u64().unwrap())
        .collect();
    let size = server.tree_size().await;
    // resent as [r3] then [r2, r1, new]: the same labels, one new
    let r = server
        .post(
            "/labels/bulk",
            Some(&issuer),
            &serde_json::to_vec(&[all[2].clone()]).unwrap(),
        )
        .await;
    assert_eq!(r.json()["results"][0]["label"]["index"], first[2]);
    let r = server
        .post(
            "/labels/bulk",
            Some(&issuer),
            &serde_json::to_vec(&[all[1].clone(), all[0].clone(), item("r4", "d")]).unwrap(),
        )
        .await;
    let j = r.json();
    assert_eq!(j["results"][0]["label"]["index"], first[1]);
    assert_eq!(j["results"][1]["label"]["index"], first[0]);
    assert_eq!(server.tree_size().await, size + 1, "only r4 appended");
    // the same key with another product: that item is refused, the others go through
    let r = server
        .post(
            "/labels/bulk",
            Some(&issuer),
            &serde_json::to_vec(&[item("r1", "other"), item("r5", "e")]).unwrap(),
        )
        .await;
    let j = r.json();
    assert_eq!(j["results"][0]["ok"], false, "{j}");
    assert_eq!(j["results"][0]["field"], "idempotency_key");
    assert_eq!(j["results"][1]["ok"], true);
    // a malformed envelope names the field
    let r = server
        .post(
            "/labels/bulk",
            Some(&issuer),
            br#"[{"idempotency_key": "", "product": {}}, {"idempotency_key": "x"}]"#,
        )
        .await;
    let j = r.json();
    assert_eq!(j["results"][0]["field"], "idempotency_key", "{j}");
    assert_eq!(j["results"][1]["field"], "idempotency_key", "{j}");
    server.stop().await;
}

/// The same rule for a renewal the issuing body signed itself (`POST /entries`): a genuine
/// label superseding a suspended one is refused (409) until the label is reinstated.
#[tokio::test]
async fn self_signed_renewal_of_a_suspended_label_is_refused() {
    use base64::Engine as _;
    use cyberlabel_core::{claim::Claim, cose};
    let (_d, dir) = tempdir();
    let server = Server::start(config(&dir)).await;
    let admin = server.token(&["*"], Role::Admin, None);
    let r = server
        .post("/labels", Some(&admin), product("a").to_string().as_bytes())
        .await;
    let view = r.json();
    let index = view["index"].as_u64().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(view["label"].as_str().unwrap())
        .unwrap();
    let old = Claim::from_cbor(&cose::parse_sign1(&bytes).unwrap().payload).unwrap();
    let r = server
        .post(&format!("/labels/{index}/suspend"), Some(&admin), b"")
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let key = cyberlabel_issuer::keys::load_example_issuer_key().unwrap();
    let renewal = |serial: u64| {
        let mut c = old.clone();
        c.serial = serial;
        c.supersedes = Some(index);
        c.firmware_versions = "2.5.0".into();
        cose::sign_label(&c, &key)
    };
    let size = server.tree_size().await;
    let r = server
        .post_with(
            "/entries",
            Some(&admin),
            &[("content-type", "application/cose")],
            &renewal(size),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("reinstate it first"), "{}", r.text());
    assert_eq!(server.tree_size().await, size, "nothing appended");
    let r = server
        .post(&format!("/labels/{index}/reinstate"), Some(&admin), b"")
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let size = server.tree_size().await;
    let r = server
        .post_with(
            "/entries",
            Some(&admin),
            &[("content-type", "application/cose")],
            &renewal(size),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    server.stop().await;
}
