//! `POST /entries` over real HTTP against a real sled store: an issuing body submits entries
//! it signed itself, and the log admits them only under the trust list it enforces. Attacks: a
//! forged revocation and a forged renewal (the victim issuer's kid pasted into the attacker's
//! signature), a label by a key the trust list does not name — each 422 with the rule, nothing
//! appended, the victim still active.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{Server, config, product, tempdir};
use cyberlabel_core::claim::Claim;
use cyberlabel_core::cose;
use cyberlabel_core::merkle;
use cyberlabel_core::status::{ReasonCode, StatusAction, StatusRecord};
use cyberlabel_server::Role;
use ed25519_dalek::SigningKey;

fn paste_kid(mut bytes: Vec<u8>, from: &SigningKey, to: &ed25519_dalek::VerifyingKey) -> Vec<u8> {
    let from = cose::key_id(&from.verifying_key());
    let at = bytes.windows(8).position(|w| w == from).unwrap();
    bytes[at..at + 8].copy_from_slice(&cose::key_id(to));
    bytes
}

async fn submit(server: &Server, token: &str, entry: &[u8]) -> common::Resp {
    server
        .post_with(
            "/entries",
            Some(token),
            &[("content-type", "application/cose")],
            entry,
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_entries_are_refused_over_http() {
    let (_dir, path) = tempdir();
    let server = Server::start(config(&path)).await;
    let issuer_token = server.token(&["SG-CLS"], Role::Issuer, None);
    let admin = server.token(&["*"], Role::Admin, None);
    // the victim: a label the server minted with the issuer key
    let r = server
        .post(
            "/labels",
            Some(&issuer_token),
            product("Victim Cam").to_string().as_bytes(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let view = r.json();
    let victim = view["index"].as_u64().unwrap();
    let victim_bytes = B64.decode(view["label"].as_str().unwrap()).unwrap();
    let victim_claim =
        Claim::from_cbor(&cose::parse_sign1(&victim_bytes).unwrap().payload).unwrap();
    let issuer = cyberlabel_issuer::keys::load_example_issuer_key().unwrap();
    let attacker = SigningKey::from_bytes(&[66; 32]);
    let size = server.tree_size().await;

    // a forged revocation
    let record = StatusRecord {
        action: StatusAction::Revoke,
        target: victim,
        reason: ReasonCode::IssuedInError,
        time: cyberlabel_server::now_unix(),
        target_leaf_hash: merkle::leaf_hash(&victim_bytes),
    };
    let forged = paste_kid(
        cose::sign_status(&record, &attacker),
        &attacker,
        &issuer.verifying_key(),
    );
    let r = submit(&server, &admin, &forged).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("signature"), "{}", r.text());
    // a forged renewal that would supersede the victim
    let mut renewal = victim_claim.clone();
    renewal.serial = size;
    renewal.supersedes = Some(victim);
    let forged = paste_kid(
        cose::sign_label(&renewal, &attacker),
        &attacker,
        &issuer.verifying_key(),
    );
    let r = submit(&server, &admin, &forged).await;
    assert_eq!(r.status, 422, "{}", r.text());
    // a label by a key the trust list does not name
    let mut stray = victim_claim.clone();
    stray.serial = size;
    let r = submit(&server, &admin, &cose::sign_label(&stray, &attacker)).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("trust list"), "{}", r.text());
    // garbage is not an entry
    let r = submit(&server, &admin, b"not cose").await;
    assert_eq!(r.status, 422, "{}", r.text());
    // nothing appended; the victim is still active
    assert_eq!(server.tree_size().await, size);
    let v = server.get(&format!("/labels/{victim}")).await.json();
    assert_eq!(v["status"]["state"], "active", "{v}");

    // the issuing body's own signed revocation is admitted
    let genuine = cose::sign_status(&record, &issuer);
    let r = submit(&server, &issuer_token, &genuine).await;
    assert_eq!(
        r.status,
        403,
        "an issuer-role token may not change status: {}",
        r.text()
    );
    let r = submit(&server, &admin, &genuine).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["index"].as_u64(), Some(size));
    let v = server.get(&format!("/labels/{victim}")).await.json();
    assert_eq!(v["status"]["state"], "revoked", "{v}");
    // and entry 0, the trust list, is not a label
    assert_eq!(server.get("/labels/0").await.status, 404);
    server.stop().await;
}
