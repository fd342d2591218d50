//! The public register against a recomputation from the log's entries: labels in every scheme
//! and level, three manufacturers (one under two spellings), renewals, suspensions,
//! reinstatements and revocations with reasons. Every search, paged with cursors, must return
//! exactly what the test's own fold of the entries (written here, not core's) says; the
//! manufacturer page shows the history; a damaged register is caught by the check and rebuilt.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Server, config, tempdir};
use cyberlabel_core::catalog::Catalog;
use cyberlabel_core::claim::{AssessmentKind, Claim};
use cyberlabel_core::cose::{self, Entry};
use cyberlabel_core::status::StatusAction;
use cyberlabel_server::Role;
use serde_json::{Value, json};

/// What the test expects of a label: its claim, its state and reason, its history kinds.
#[derive(Debug, Clone)]
struct Expect {
    claim: Claim,
    state: &'static str,
    reason: u8,
    history: Vec<(String, u64, u8)>,
}

/// The test's own fold of the log's entries.
fn recompute(server: &Server) -> BTreeMap<u64, Expect> {
    let ledger = server.state.service().ledger();
    let size = ledger.size().unwrap();
    let mut out: BTreeMap<u64, Expect> = BTreeMap::new();
    for i in 0..size {
        let bytes = ledger.entry(i).unwrap().unwrap();
        match cose::decode_entry(&bytes) {
            Ok(Entry::Label { claim, .. }) => {
                if let Some(old) = claim.supersedes {
                    let prev = out.get_mut(&old).unwrap();
                    prev.state = "superseded";
                    prev.reason = 2; // FORMATS §2: superseded
                    prev.history.push(("renewed".into(), i, 2));
                }
                out.insert(
                    i,
                    Expect {
                        claim,
                        state: "active",
                        reason: 0,
                        history: vec![("issued".into(), i, 0)],
                    },
                );
            }
            Ok(Entry::Status { record, .. }) => {
                let t = out.get_mut(&record.target).unwrap();
                let (state, kind) = match record.action {
                    StatusAction::Suspend => ("suspended", "suspended"),
                    StatusAction::Reinstate => ("active", "reinstated"),
                    StatusAction::Revoke => ("revoked", "revoked"),
                    other => panic!("{other:?}"),
                };
                t.state = state;
                t.reason = record.reason.as_u8();
                t.history.push((kind.into(), i, t.reason));
            }
            Err(_) => {} // the trust list
        }
    }
    out
}

fn lower(s: &str) -> String {
    s.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The test's own reading of a query (the API's documented semantics).
fn wanted(e: &Expect, params: &[(&str, &str)], now: u64) -> bool {
    let c = &e.claim;
    let status = if e.state == "active" && now >= c.expires_at {
        "expired"
    } else {
        e.state
    };
    let words: Vec<String> = lower(&format!("{} {}", c.manufacturer, c.product))
        .split(' ')
        .map(str::to_owned)
        .collect();
    params.iter().all(|(k, v)| match *k {
        "q" => lower(v)
            .split(' ')
            .all(|w| words.iter().any(|h| h.starts_with(w))),
        "manufacturer" => lower(&c.manufacturer).starts_with(&lower(v)),
        "model" => lower(&c.product).starts_with(&lower(v)),
        "scheme" => c.scheme == *v,
        "level" => c.level.to_string() == *v,
        "category" => c.category.to_string() == *v,
        "status" => status == *v,
        "issued_from" => c.issued_at >= cyberlabel_core::dates::parse_date(v).unwrap(),
        "issued_to" => c.issued_at <= cyberlabel_core::dates::parse_date(v).unwrap(),
        _ => panic!("{k}"),
    })
}

fn query_string(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(' ', "%20").replace('&', "%26")))
        .collect::<Vec<_>>()
        .join("&")
}

/// Every result of a search, following the cursors (`limit` small to make pages).
async fn search_all(server: &Server, params: &[(&str, &str)]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut q = query_string(params);
        q.push_str("&limit=7");
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let r = server.get(&format!("/register/search?{q}")).await;
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        let page = r.json();
        out.extend(page["results"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(n) => cursor = Some(n.to_owned()),
            None => return out,
        }
    }
    panic!("more than 1000 pages for {params:?}");
}

fn product(scheme: &cyberlabel_core::catalog::Scheme, level: u8, mfr: &str, name: &str) -> Value {
    let lvl = scheme.level(level).unwrap();
    let third = lvl.assessment.contains(&AssessmentKind::ThirdParty);
    let mut provisions: Vec<String> = lvl.requires.clone();
    for p in scheme.provisions.iter().take(4) {
        if !provisions.contains(&p.id) {
            provisions.push(p.id.clone());
        }
    }
    let mut v = json!({
        "scheme": scheme.id,
        "level": level,
        "manufacturer": mfr,
        "product": name,
        "hardware_versions": "rev B",
        "firmware_versions": "1.0",
        "category": 1 + u16::from(level % 3),
        "provisions": provisions,
        "assessment": if third { "third_party" } else { "self_declared" },
        "support_until": "2030-12-31"
    });
    if third {
        v["lab"] = json!("1"); // by code: lab 1 of every scheme's list
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_search_equals_a_recomputation_from_the_entries() {
    let (_d, dir) = tempdir();
    let server = Server::start(config(&dir)).await;
    let catalog = Catalog::builtin();
    let schemes: Vec<&str> = catalog.schemes.iter().map(|s| s.id.as_str()).collect();
    let admin = server.token(&schemes, Role::Admin, None);

    // labels: every scheme and level, three manufacturers (the first under two spellings)
    let makers = [
        "Acme Devices Pte Ltd",
        "ACME devices pte. ltd",
        "Zeta Home GmbH",
        "Ünïcode Werk",
    ];
    let mut items = Vec::new();
    let mut n = 0;
    for s in &catalog.schemes {
        for l in &s.levels {
            for (m, mfr) in makers.iter().enumerate() {
                if (n + m) % 2 == 0 {
                    let name = ["SmartCam X1", "Smart Plug Mini", "Door Bell 2"][n % 3];
                    items.push(product(s, l.level, mfr, &format!("{name} v{n}")));
                }
            }
            n += 1;
        }
    }
    let r = server
        .post(
            "/labels/bulk",
            Some(&admin),
            serde_json::to_vec(&items).unwrap().as_slice(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let indices: Vec<u64> = r.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"]["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices.len(), items.len());
    assert!(indices.len() >= 28, "{} labels", indices.len());

    // renewals, suspensions, a reinstatement, revocations with reasons
    let post = |path: String, body: &'static [u8]| {
        let server = &server;
        let admin = &admin;
        async move {
            let r = server.post(&path, Some(admin), body).await;
            assert!(r.status == 200 || r.status == 201, "{path}: {}", r.text());
            r.json()
        }
    };
    let renewed = post(
        format!("/labels/{}/renew", indices[0]),
        br#"{"firmware_versions": "1.1"}"#,
    )
    .await["index"]
        .as_u64()
        .unwrap();
    post(
        format!("/labels/{renewed}/renew"),
        br#"{"firmware_versions": "1.2"}"#,
    )
    .await;
    post(
        format!("/labels/{}/suspend", indices[1]),
        br#"{"reason": 12}"#,
    )
    .await;
    post(
        format!("/labels/{}/suspend", indices[2]),
        br#"{"reason": 12}"#,
    )
    .await;
    post(format!("/labels/{}/reinstate", indices[2]), b"{}").await;
    post(
        format!("/labels/{}/revoke", indices[3]),
        br#"{"reason": "unremediated_vulnerability"}"#,
    )
    .await;
    post(
        format!("/labels/{}/suspend", indices[4]),
        br#"{"reason": 12}"#,
    )
    .await;
    post(
        format!("/labels/{}/revoke", indices[4]),
        br#"{"reason": 1}"#,
    )
    .await;

    let expect = recompute(&server);
    let now = cyberlabel_server::now_unix();
    let today = cyberlabel_core::dates::format_date(now);
    let queries: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("q", "acme")],
        vec![("q", "ACME smartc")],
        vec![("q", "smart")],
        vec![("q", "werk plug")],
        vec![("manufacturer", "acme devices pte")],
        vec![("manufacturer", "zeta")],
        vec![("manufacturer", "ünï")],
        vec![("model", "door bell")],
        vec![("scheme", "DE-BSI")],
        vec![("scheme", "SG-CLS"), ("level", "2")],
        vec![("category", "2")],
        vec![("status", "active")],
        vec![("status", "suspended")],
        vec![("status", "revoked")],
        vec![("status", "superseded")],
        vec![("status", "expired")],
        vec![("issued_from", today.as_str())],
        vec![("issued_to", "2020-01-01")],
        vec![("q", "smart"), ("scheme", "SG-CLS"), ("status", "active")],
        vec![("manufacturer", "acme"), ("status", "superseded")],
        vec![("scheme", "US-CTM"), ("category", "1")],
    ];
    let mut nonempty = 0;
    for params in &queries {
        let got = search_all(&server, params).await;
        let got_set: BTreeSet<u64> = got.iter().map(|v| v["index"].as_u64().unwrap()).collect();
        assert_eq!(got_set.len(), got.len(), "{params:?}: a label twice");
        let want: BTreeSet<u64> = expect
            .iter()
            .filter(|(_, e)| wanted(e, params, now))
            .map(|(i, _)| *i)
            .collect();
        assert_eq!(got_set, want, "{params:?}");
        if !want.is_empty() {
            nonempty += 1;
        }
        for v in &got {
            let i = v["index"].as_u64().unwrap();
            let e = &expect[&i];
            assert_eq!(v["manufacturer"], e.claim.manufacturer.as_str());
            assert_eq!(v["product"], e.claim.product.as_str());
            assert_eq!(v["scheme"], e.claim.scheme.as_str());
            assert_eq!(v["state"], e.state, "{i}");
            assert_eq!(v["reason"].as_u64(), Some(u64::from(e.reason)), "{i}");
            let history: Vec<(String, u64, u8)> = v["history"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    (
                        h["kind"].as_str().unwrap().to_owned(),
                        h["index"].as_u64().unwrap(),
                        h["reason"].as_u64().unwrap() as u8,
                    )
                })
                .collect();
            assert_eq!(history, e.history, "{i}");
            // the verifier link is the label's own QR payload
            let url = v["links"]["verifier"].as_str().unwrap();
            let label = cyberlabel_core::payload::decode(url).unwrap();
            assert_eq!(
                label,
                server.state.service().ledger().entry(i).unwrap().unwrap()
            );
        }
    }
    assert!(nonempty >= 18, "only {nonempty} queries matched anything");

    // the manufacturer page: both spellings, every label, the history with reasons
    let r = server
        .get("/register/manufacturer/acme-devices-pte-ltd.json")
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.json();
    let acme: BTreeSet<u64> = expect
        .iter()
        .filter(|(_, e)| lower(&e.claim.manufacturer).starts_with("acme devices pte"))
        .map(|(i, _)| *i)
        .collect();
    let listed: BTreeSet<u64> = page["listings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["index"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, acme);
    assert_eq!(page["labels"].as_u64(), Some(acme.len() as u64));
    let listing = |i: u64| {
        page["listings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["index"].as_u64() == Some(i))
            .cloned()
            .unwrap()
    };
    let first = listing(indices[0]);
    assert_eq!(first["status"], "superseded");
    assert_eq!(first["superseded_by"].as_u64(), Some(renewed));
    assert_eq!(first["history"][1]["kind"], "renewed");
    for i in &indices[..5] {
        if acme.contains(i) {
            let l = listing(*i);
            assert_eq!(l["state"], expect[i].state);
        }
    }
    let revoked = expect
        .iter()
        .find(|(_, e)| e.state == "revoked" && e.reason == 1)
        .map(|(i, _)| *i)
        .unwrap();
    let r = server.get("/register/search?status=revoked").await;
    let hit = r.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["index"].as_u64() == Some(revoked))
        .cloned()
        .unwrap();
    assert_eq!(hit["reason_name"], "issuer_key_compromise");
    let kinds: Vec<&str> = hit["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["issued", "suspended", "revoked"]);

    // the manufacturer lists by first character
    let r = server.get("/register/manufacturers/a.json").await;
    let list = r.json();
    assert_eq!(list["manufacturers"][0]["slug"], "acme-devices-pte-ltd");
    let r = server.get("/register/manufacturers/_.json").await;
    assert_eq!(r.json()["manufacturers"][0]["slug"], "ünïcode-werk");

    // bad input: clear 400s / 404s, nothing else
    for (path, status) in [
        ("/register/search?colour=red", 400),
        ("/register/search?status=gone", 400),
        ("/register/search?issued_from=yesterday", 400),
        ("/register/search?level=300", 400),
        ("/register/search?cursor=zz", 400),
        ("/register/search?q=acme&cursor=6d00", 400),
        ("/register/manufacturer/nobody.json", 404),
        ("/register/manufacturer/acme", 404),
        ("/register/manufacturers/ab.json", 404),
    ] {
        let r = server.get(path).await;
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert!(r.json()["message"].is_string(), "{path}");
    }

    // the register checks out against the entries and the status map; damage is caught; a
    // rebuild from the entries alone restores it
    let reg = server.state.register().clone();
    let ledger = server.state.service().ledger();
    assert_eq!(reg.check(ledger).unwrap(), expect.len() as u64);
    let mut damaged = reg.listing(indices[5]).unwrap().unwrap();
    damaged.state = cyberlabel_core::status::State::Revoked;
    reg.write_listing_unchecked(&damaged).unwrap();
    let err = reg.check(ledger).unwrap_err().to_string();
    assert!(err.contains(&format!("label {}", indices[5])), "{err}");
    reg.rebuild(ledger, &|_| {}).unwrap();
    assert_eq!(reg.check(ledger).unwrap(), expect.len() as u64);
    server.stop().await;
}
