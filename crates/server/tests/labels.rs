//! End to end over real HTTP on loopback against a real sled store: mint, bulk mint, renew,
//! suspend, reinstate, revoke; every label's proof verified against the served checkpoint
//! and tiles with `cyberlabel-core` only; status proofs after each change.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{Server, Verifier, config, product, tempdir, verifier};
use cyberlabel_core::checkpoint;
use cyberlabel_core::claim::Claim;
use cyberlabel_core::cose;
use cyberlabel_core::merkle;
use cyberlabel_core::status::{self, State};
use cyberlabel_core::tiles::{self, TileSet};
use cyberlabel_core::tlog_proof;
use cyberlabel_server::Role;

/// Checks label `index` with core only: signature, claim serial, inclusion in the *served*
/// checkpoint (from the response's proof, from the tlog-proof bundle, and from the tiles).
async fn check_label(server: &Server, v: &Verifier, index: u64) -> (Vec<u8>, Claim) {
    let view = server.get(&format!("/labels/{index}")).await;
    assert_eq!(view.status, 200, "{}", view.text());
    let view = view.json();
    let label = B64.decode(view["label"].as_str().unwrap()).unwrap();
    let sign1 = cose::parse_sign1(&label).unwrap();
    sign1.verify(&v.issuer).unwrap();
    let claim = Claim::from_cbor(&sign1.payload).unwrap();
    assert_eq!(claim.serial, index, "the serial is the log index");

    let cp_text = server.get("/checkpoint").await;
    assert_eq!(
        cp_text.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let cp = checkpoint::open(&cp_text.body, &v.policy)
        .unwrap()
        .checkpoint;
    let leaf = merkle::leaf_hash(&label);
    let path: Vec<merkle::Hash> = view["inclusion_proof"]["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| B64.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
        .collect();
    assert_eq!(view["inclusion_proof"]["tree_size"].as_u64(), Some(cp.size));
    merkle::verify_inclusion(&leaf, index, cp.size, &path, &cp.root).unwrap();
    let bundle = tlog_proof::verify(
        view["tlog_proof"].as_str().unwrap().as_bytes(),
        &label,
        &v.policy,
    )
    .unwrap();
    assert_eq!(bundle.index, index);

    // From the tiles, as an offline monitor would.
    let mut set = TileSet::new();
    for t in tiles::tiles_for_inclusion(index, cp.size).unwrap() {
        let r = server.get(&format!("/{}", t.to_path())).await;
        assert_eq!(r.status, 200, "{}", t.to_path());
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
        let cache = r.header("cache-control").unwrap();
        assert_eq!(t.is_full(), cache.contains("immutable"), "{cache}");
        set.insert(t, r.body).unwrap();
    }
    assert_eq!(set.inclusion_proof(index, cp.size).unwrap(), path);
    (label, claim)
}

/// The state of `index` according to the served status proof, verified with core.
async fn proven_state(server: &Server, v: &Verifier, index: u64) -> (State, u8) {
    let view = server.get(&format!("/labels/{index}")).await.json();
    let link = view["links"]["status_proof"].as_str().unwrap().to_owned();
    let r = server.get(&link).await;
    assert_eq!(r.status, 200, "{link}: {}", r.text());
    status::verify_status_proof(&r.body, &v.policy)
        .unwrap()
        .state_of(index)
        .unwrap()
}

#[tokio::test]
async fn lifecycle_mint_bulk_renew_suspend_reinstate_revoke() {
    let (_d, dir) = tempdir();
    let cfg = config(&dir);
    let v = verifier(&cfg.origin);
    let server = Server::start(cfg).await;
    let issuer = server.token(&["SG-CLS"], Role::Issuer, None);
    let revoker = server.token(&["SG-CLS"], Role::Revoker, None);

    // mint
    let r = server
        .post(
            "/labels",
            Some(&issuer),
            product("Cam 1").to_string().as_bytes(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let minted = r.json();
    let first = minted["index"].as_u64().unwrap();
    assert!(
        minted["payload_url"]
            .as_str()
            .unwrap()
            .starts_with("https://verify.example/v#")
    );
    for link in ["qr_png", "qr_svg", "artwork_png", "artwork_svg"] {
        let r = server.get(minted["links"][link].as_str().unwrap()).await;
        assert_eq!(r.status, 200, "{link}");
        let ct = r.header("content-type").unwrap();
        assert!(
            ct == "image/png" && r.body.starts_with(b"\x89PNG")
                || ct == "image/svg+xml" && r.text().contains("<svg")
        );
        // SVG documents may carry script: forbid any (defence in depth)
        let csp = r.header("content-security-policy");
        if ct == "image/svg+xml" {
            assert_eq!(
                csp,
                Some("default-src 'none'; style-src 'unsafe-inline'"),
                "{link}"
            );
        } else {
            assert_eq!(csp, None, "{link}");
        }
    }
    check_label(&server, &v, first).await;
    assert_eq!(proven_state(&server, &v, first).await, (State::Active, 0));

    // bulk: JSON array and NDJSON
    let arr: Vec<serde_json::Value> = (0..20).map(|i| product(&format!("Plug {i}"))).collect();
    let r = server
        .post(
            "/labels/bulk",
            Some(&issuer),
            serde_json::to_vec(&arr).unwrap().as_slice(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let b = r.json();
    assert_eq!(
        (b["accepted"].as_u64(), b["rejected"].as_u64()),
        (Some(20), Some(0))
    );
    let ndjson: String = (0..5)
        .map(|i| format!("{}\n", product(&format!("Bulb {i}"))))
        .collect();
    let r = server
        .post("/labels/bulk", Some(&issuer), ndjson.as_bytes())
        .await;
    assert_eq!(r.json()["accepted"].as_u64(), Some(5), "{}", r.text());
    for item in b["results"].as_array().unwrap() {
        check_label(&server, &v, item["label"]["index"].as_u64().unwrap()).await;
    }

    // renew: new label supersedes the old
    let r = server
        .post(
            &format!("/labels/{first}/renew"),
            Some(&issuer),
            br#"{"firmware_versions": "2.5.0"}"#,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let renewed = r.json()["index"].as_u64().unwrap();
    let (_, claim) = check_label(&server, &v, renewed).await;
    assert_eq!(
        (claim.supersedes, claim.firmware_versions.as_str()),
        (Some(first), "2.5.0")
    );
    assert_eq!(proven_state(&server, &v, first).await.0, State::Superseded);
    assert_eq!(proven_state(&server, &v, renewed).await, (State::Active, 0));
    // renewing the superseded label again is a conflict
    let r = server
        .post(
            &format!("/labels/{first}/renew"),
            Some(&issuer),
            br#"{"firmware_versions": "2.6"}"#,
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text());

    // suspend → reinstate → revoke, the status proof following each step
    let r = server
        .post(
            &format!("/labels/{renewed}/suspend"),
            Some(&revoker),
            br#"{"reason": 12}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"]["state"], "suspended");
    assert_eq!(
        proven_state(&server, &v, renewed).await,
        (State::Suspended, 12)
    );
    let r = server
        .post(&format!("/labels/{renewed}/reinstate"), Some(&revoker), b"")
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        proven_state(&server, &v, renewed).await,
        (State::Active, 13)
    );
    let r = server
        .post(
            &format!("/labels/{renewed}/revoke"),
            Some(&revoker),
            br#"{"reason": "unremediated_vulnerability"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let record = r.json()["record_index"].as_u64().unwrap();
    assert_eq!(
        proven_state(&server, &v, renewed).await,
        (State::Revoked, 8)
    );
    // the status record is in the log, signed by the issuer, bound to the label's bytes
    let (label, _) = check_label(&server, &v, renewed).await;
    let cp = checkpoint::open(&server.get("/checkpoint").await.body, &v.policy)
        .unwrap()
        .checkpoint;
    let bundle_tile = tiles::TilePath {
        kind: tiles::TileKind::Entries,
        index: record / 256,
        width: tiles::tile_width(0, record / 256, cp.size),
    };
    let entries = server.get(&format!("/{}", bundle_tile.to_path())).await;
    let entries = tiles::parse_entry_bundle(&entries.body).unwrap();
    match cose::decode_entry(entries[(record % 256) as usize]).unwrap() {
        cose::Entry::Status { sign1, record: rec } => {
            sign1.verify(&v.issuer).unwrap();
            assert_eq!(
                (rec.target, rec.target_leaf_hash),
                (renewed, merkle::leaf_hash(&label))
            );
        }
        other => panic!("expected a status record, got {other:?}"),
    }
    // terminal: no way back, and the revoker cannot issue
    let size = server.tree_size().await;
    assert_eq!(
        server
            .post(&format!("/labels/{renewed}/reinstate"), Some(&revoker), b"")
            .await
            .status,
        409
    );
    assert_eq!(
        server
            .post(&format!("/labels/{renewed}/suspend"), Some(&revoker), b"")
            .await
            .status,
        409
    );
    assert_eq!(
        server
            .post(
                "/labels",
                Some(&revoker),
                product("x").to_string().as_bytes()
            )
            .await
            .status,
        403
    );
    assert_eq!(
        server
            .post(&format!("/labels/{first}/revoke"), Some(&issuer), b"")
            .await
            .status,
        403
    );
    assert_eq!(
        server.tree_size().await,
        size,
        "refused requests append nothing"
    );

    let metrics = server.get("/metrics").await.text();
    assert!(
        metrics.contains(&format!(
            "cyberlabel_labels_issued_total {}",
            1 + 20 + 5 + 1
        )),
        "{metrics}"
    );
    assert!(metrics.contains("cyberlabel_status_changes_total{action=\"revoke\"} 1"));
    assert!(metrics.contains(&format!("cyberlabel_tree_size {size}")));
    server.stop().await;
}

#[tokio::test]
async fn read_side_documents() {
    let (_d, dir) = tempdir();
    let server = Server::start(config(&dir)).await;
    let tl = server.get("/trust-list").await;
    assert_eq!(
        (tl.status, tl.header("content-type")),
        (200, Some("application/cose"))
    );
    let anchor = cyberlabel_issuer::keys::load_example_trust_list_key()
        .unwrap()
        .verifying_key();
    let list = cyberlabel_core::trust::TrustList::from_signed(
        &tl.body,
        &anchor,
        cyberlabel_server::now_unix(),
    )
    .unwrap();
    assert_eq!(list.logs[0].origin, "test.example/log");
    let json = server.get("/trust-list.json").await;
    assert_eq!(
        cyberlabel_core::trust::TrustList::from_json(&json.text()).unwrap(),
        list
    );
    let cfg = server.get("/assets/config.json").await.json();
    assert_eq!(cfg["trust_anchor"], B64.encode(anchor.as_bytes()));
    let schemes = server.get("/schemes").await.json();
    assert!(schemes.to_string().contains("SG-CLS"));
    let cp = server.get("/checkpoint").await;
    assert!(cp.header("cache-control").unwrap().contains("max-age"));
    assert_eq!(server.get("/labels/0").await.status, 404);
    assert_eq!(server.get("/labels/abc").await.status, 400);
    assert_eq!(server.get("/tile/0/000").await.status, 404);
    assert_eq!(server.get("/tile/../etc").await.status, 404);
    // the log holds one entry (its trust list): bucket 0 exists, bucket 1 does not
    assert_eq!(server.get("/status/000").await.status, 200);
    assert_eq!(server.get("/status/001").await.status, 404);
    server.stop().await;
}

/// `POST /labels/bulk?view=compact`: each label, its QR payload URL and version, status and
/// links, without proofs; the same labels as the full view serves; a retry of the request
/// answers the same labels with their status now (a revoked one says so); a bad `view` or an
/// unknown parameter is a 400 with nothing minted.
#[tokio::test]
async fn bulk_compact_views_answer_the_labels_without_the_proofs() {
    let (_d, dir) = tempdir();
    let cfg = config(&dir);
    let v = verifier(&cfg.origin);
    let server = Server::start(cfg).await;
    let issuer = server.token(&["SG-CLS"], Role::Issuer, None);
    let revoker = server.token(&["SG-CLS"], Role::Revoker, None);
    let arr: Vec<serde_json::Value> = (0..12).map(|i| product(&format!("Hub {i}"))).collect();
    let body = serde_json::to_vec(&arr).unwrap();
    let key = [("idempotency-key", "compact-run-1")];

    let r = server
        .post_with("/labels/bulk?view=compact", Some(&issuer), &key, &body)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let b = r.json();
    assert_eq!(b["accepted"].as_u64(), Some(12), "{}", r.text());
    let mut indices = Vec::new();
    let (mut compact_bytes, mut full_bytes) = (0, 0);
    for (n, item) in b["results"].as_array().unwrap().iter().enumerate() {
        assert_eq!(
            (item["item"].as_u64(), item["ok"].as_bool()),
            (Some(n as u64), Some(true))
        );
        let c = &item["label"];
        let mut keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "index",
                "label",
                "links",
                "payload_url",
                "qr_version",
                "status"
            ],
            "{c}"
        );
        let index = c["index"].as_u64().unwrap();
        assert_eq!(c["status"]["state"], "active");
        assert_eq!(c["links"]["self"], format!("/labels/{index}"));
        // the same label, URL and QR version as the full view, which carries the proofs
        let (label, claim) = check_label(&server, &v, index).await;
        assert_eq!(B64.decode(c["label"].as_str().unwrap()).unwrap(), label);
        assert_eq!(claim.product, format!("Hub {n}"));
        let full = server.get(&format!("/labels/{index}")).await.json();
        compact_bytes += c.to_string().len();
        full_bytes += full.to_string().len();
        assert_eq!(c["payload_url"], full["payload_url"]);
        assert_eq!(c["qr_version"], full["qr_version"]);
        let qr = server.get(c["links"]["qr_png"].as_str().unwrap()).await;
        assert_eq!(qr.status, 200);
        indices.push(index);
    }
    println!("compact views {compact_bytes} B, full views {full_bytes} B for the same 12 labels");
    assert!(
        compact_bytes * 3 < full_bytes,
        "{compact_bytes} vs {full_bytes}"
    );

    // a retry (same key, same body) appends nothing and answers each label as it is now
    let size = server.tree_size().await;
    let r = server
        .post_with(
            &format!("/labels/{}/revoke", indices[3]),
            Some(&revoker),
            &[],
            br#"{"reason": 6}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = server
        .post_with("/labels/bulk?view=compact", Some(&issuer), &key, &body)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let again: Vec<(u64, String)> = r.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["label"]["index"].as_u64().unwrap(),
                i["label"]["status"]["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(again.iter().map(|a| a.0).collect::<Vec<_>>(), indices);
    assert_eq!(again[3].1, "revoked");
    assert!(
        again
            .iter()
            .enumerate()
            .all(|(n, a)| n == 3 || a.1 == "active")
    );
    assert_eq!(
        server.tree_size().await,
        size + 1,
        "only the revocation was appended"
    );

    // the default and view=full answer the full view
    for path in ["/labels/bulk", "/labels/bulk?view=full"] {
        let r = server
            .post(
                path,
                Some(&issuer),
                product("Hub full").to_string().as_bytes(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let l = &r.json()["results"][0]["label"];
        assert!(
            l["inclusion_proof"]["hashes"].is_array() && l["tlog_proof"].is_string(),
            "{l}"
        );
    }

    // a typo is refused, not answered with the default; nothing minted
    let size = server.tree_size().await;
    for (path, says) in [
        ("/labels/bulk?view=compakt", "view must be full or compact"),
        ("/labels/bulk?veiw=compact", "unknown query parameter"),
    ] {
        let r = server.post(path, Some(&issuer), &body).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(r.text().contains(says), "{path}: {}", r.text());
    }
    assert_eq!(server.tree_size().await, size);
    server.stop().await;
}
