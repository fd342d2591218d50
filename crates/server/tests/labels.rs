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
