//! `cyberlabel audit` against the real binary serving a real log (its redb file) over real HTTP. The
//! attacks are built for real: the test stops the server, opens its store as a rogue operator
//! would (the log in `Opaque` mode, bypassing the admission rules, signing with the log key),
//! appends or rewrites, restarts the server on the same data and audits.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use common::bin;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use cyberlabel_core::cose::{self, Entry};
use cyberlabel_core::merkle;
use cyberlabel_core::status::{ReasonCode, StatusAction, StatusRecord};
use cyberlabel_issuer::keys;
use cyberlabel_log::{EntryPolicy, Log, LogConfig, RedbStore, Submission};
use ed25519_dalek::SigningKey;
use serde_json::Value;

/// The demo server's origin (`crates/server/src/config.rs` default).
const ORIGIN: &str = "localhost/cyberlabel";

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(data: &Path) -> Self {
        let mut child = bin()
            .args(["serve", "--demo", "--data"])
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("server exited early").unwrap();
            if let Some(rest) = line.strip_prefix("cyberlabel: serving on http://") {
                break rest.split('/').next().unwrap().to_owned();
            }
        };
        // keep draining stderr so the server never blocks on a full pipe
        std::thread::spawn(move || for _ in lines {});
        Self { child, addr }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn stop(mut self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let st = self.child.wait().unwrap();
        // SIGTERM right after start may land before the handler is installed; the log
        // commits durably before it acknowledges, so both ends are clean for these tests
        use std::os::unix::process::ExitStatusExt;
        assert!(
            st.success() || st.signal() == Some(15),
            "server exit: {st:?}"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http(addr: &str, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    (
        status,
        out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned(),
    )
}

fn product(name: &str) -> String {
    format!(
        r#"{{"scheme":"SG-CLS","level":1,"manufacturer":"Audit Test Co","product":"{name}","hardware_versions":"1",
        "firmware_versions":"1","category":1,"provisions":["5.1-1"],"assessment":"self_declared",
        "support_until":"2029-01-01"}}"#
    )
}

/// Mint `n` labels (one request each) as the demo admin.
fn mint(server: &Server, data: &Path, n: usize, prefix: &str) {
    let admin = std::fs::read_to_string(data.join("demo-admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    for i in 0..n {
        let (st, body) = http(
            &server.addr,
            "POST",
            "/labels",
            &admin,
            &product(&format!("{prefix} {i}")),
        );
        assert_eq!(st, 201, "{body}");
    }
}

/// Mint `n` labels in one bulk request.
fn mint_bulk(server: &Server, data: &Path, n: usize) {
    let admin = std::fs::read_to_string(data.join("demo-admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    let items: Vec<String> = (0..n).map(|i| product(&format!("Bulk {i}"))).collect();
    let (st, body) = http(
        &server.addr,
        "POST",
        "/labels/bulk",
        &admin,
        &format!("[{}]", items.join(",")),
    );
    assert!(st == 200 || st == 201, "{st} {body}");
    assert!(!body.contains("\"ok\":false"), "{body}");
}

/// Run `audit --demo --json` and return (exit code, report).
fn audit(url: &str, state: &Path, extra: &[&str]) -> (i32, Value) {
    let out = bin()
        .args(["audit", url, "--demo", "--json", "--state"])
        .arg(state)
        .args(extra)
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "audit printed no JSON ({e}), exit {code}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, report)
}

/// A rogue operator: open the stopped server's store directly, with the log key and no
/// admission rules, and do `f` with it.
fn as_rogue_operator<T>(data: &Path, f: impl FnOnce(&Log) -> T) -> T {
    let store = RedbStore::open(data.join("log.redb"), 1 << 20).unwrap();
    let log = Log::with_store(
        std::sync::Arc::new(store),
        LogConfig::new(
            ORIGIN,
            keys::load_example_log_key().unwrap(),
            EntryPolicy::Opaque,
        ),
    )
    .unwrap();
    let out = f(&log);
    log.close();
    out
}

fn append(log: &Log, entry: Vec<u8>) -> u64 {
    log.submit(Submission::entry(entry))
        .blocking_recv()
        .unwrap()
        .unwrap()
        .index
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().unwrap()
}

/// Minimal CBOR byte-string / text-string header.
fn cbor_head(major: u8, len: usize, out: &mut Vec<u8>) {
    let m = major << 5;
    match len {
        0..=23 => out.push(m | len as u8),
        24..=255 => out.extend([m | 24, len as u8]),
        _ => {
            out.push(m | 25);
            out.extend((len as u16).to_be_bytes());
        }
    }
}

/// A COSE_Sign1 status record whose protected header names `kid` but which is signed by
/// `key` (the victim's kid pasted in by someone holding another key).
fn forged_status(record: &StatusRecord, kid: [u8; 8], key: &SigningKey) -> Vec<u8> {
    use ed25519_dalek::Signer;
    let ct = "application/cyberlabel-status+cbor";
    // {1: -8, 3: ct, 4: kid}
    let mut protected = vec![0xa3, 0x01, 0x27, 0x03];
    cbor_head(3, ct.len(), &mut protected);
    protected.extend(ct.as_bytes());
    protected.push(0x04);
    cbor_head(2, 8, &mut protected);
    protected.extend(kid);
    let payload = record.to_cbor();
    let mut tbs = vec![0x84];
    cbor_head(3, 10, &mut tbs);
    tbs.extend(b"Signature1");
    cbor_head(2, protected.len(), &mut tbs);
    tbs.extend(&protected);
    tbs.push(0x40);
    cbor_head(2, payload.len(), &mut tbs);
    tbs.extend(&payload);
    let sig = key.sign(&tbs);
    let mut out = vec![0xd2, 0x84];
    cbor_head(2, protected.len(), &mut out);
    out.extend(&protected);
    out.push(0xa0);
    cbor_head(2, payload.len(), &mut out);
    out.extend(&payload);
    cbor_head(2, 64, &mut out);
    out.extend(sig.to_bytes());
    out
}

fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let state = dir.path().join("state").join("audit.json");
    (dir, data, state)
}

/// A clean demo log passes; the report has the entries and the revoked sample.
#[test]
fn clean_demo_log_passes() {
    let (_dir, data, state) = dirs();
    let server = Server::start(&data);
    let (code, r) = audit(&server.url(), &state, &["--watch", "SG-CLS"]);
    assert_eq!(code, 0, "{r:#}");
    assert!(findings(&r).is_empty(), "{r:#}");
    // trust list, 3 samples, the revocation of the last one
    assert_eq!(r["checkpoint"]["size"], 5);
    assert_eq!(r["counts"]["entries"], 5);
    assert_eq!(r["counts"]["labels"], 3);
    assert_eq!(r["counts"]["status_records"], 1);
    assert_eq!(r["counts"]["trust_lists"], 1);
    assert_eq!(r["revoked"], serde_json::json!([3]));
    assert_eq!(r["watch"]["labels"].as_array().unwrap().len(), 3);
    assert_eq!(r["state_saved"], true);
    assert!(state.exists());

    // the human form says the same; the second run has nothing new to fetch but the checkpoint
    let out = bin()
        .args(["audit", &server.url(), "--demo", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("revoked: 3") && text.contains("findings: none"),
        "{text}"
    );

    // the wrong trust anchor cannot even bootstrap: an error (1), not a finding
    let other = _dir.path().join("other.pub.pem");
    std::fs::write(
        &other,
        keys::public_key_pem(&SigningKey::from_bytes(&[9; 32]).verifying_key()).unwrap(),
    )
    .unwrap();
    let out = bin()
        .args(["audit", &server.url(), "--trust-anchor"])
        .arg(&other)
        .arg("--state")
        .arg(_dir.path().join("other-state.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("trust anchor"));
    server.stop();
}

/// A revocation of someone else's label, with the victim's kid pasted into a record signed
/// by another key; a label signed by a key not in the trust list; a label of a scheme the
/// issuer is not authorised for. The rogue log appends all three; the audit names each.
#[test]
fn planted_forgeries_are_findings() {
    let (_dir, data, state) = dirs();
    let server = Server::start(&data);
    server.stop();
    let issuer = keys::load_example_issuer_key().unwrap();
    let rogue = SigningKey::from_bytes(&[7; 32]);
    let planted = as_rogue_operator(&data, |log| {
        let victim = log.entry(1).unwrap();
        let kid = cose::key_id(&issuer.verifying_key());
        let record = StatusRecord {
            action: StatusAction::Revoke,
            target: 1,
            reason: ReasonCode::Unspecified,
            time: 1_800_000_000,
            target_leaf_hash: merkle::leaf_hash(&victim),
        };
        let forged = append(log, forged_status(&record, kid, &rogue));

        let Entry::Label { mut claim, .. } = cose::decode_entry(&victim).unwrap() else {
            panic!("entry 1 is a label")
        };
        claim.serial = log.size();
        let unknown_key = append(log, cose::sign_label(&claim, &rogue));
        claim.serial = log.size();
        claim.scheme = "XX-NOT-AUTHORISED".into();
        let other_scheme = append(log, cose::sign_label(&claim, &issuer));
        (forged, unknown_key, other_scheme)
    });
    assert_eq!(planted, (5, 6, 7));
    let server = Server::start(&data);
    let (code, r) = audit(&server.url(), &state, &[]);
    assert_eq!(code, 3, "{r:#}");
    let f = findings(&r);
    let rule_at = |i: u64| {
        f.iter()
            .find(|x| x["index"] == i)
            .map(|x| x["rule"].as_str().unwrap().to_owned())
    };
    assert_eq!(rule_at(5).as_deref(), Some("BadSignature"), "{r:#}");
    assert_eq!(rule_at(6).as_deref(), Some("UnknownIssuerKey"), "{r:#}");
    assert_eq!(
        rule_at(7).as_deref(),
        Some("NotAuthorisedForScheme"),
        "{r:#}"
    );
    // the forged revocation had no effect on the replay: label 1 is not revoked, and since
    // the rogue log did not apply it either, the status root still matches
    assert_eq!(r["revoked"], serde_json::json!([3]));
    assert!(f.iter().all(|x| x["kind"] == "illegitimate-entry"), "{r:#}");
    assert_eq!(r["state_saved"], false);
    let evidence = PathBuf::from(r["evidence"].as_str().unwrap());
    assert!(evidence.join("checkpoint-current").exists());
    assert!(evidence.join("findings.json").exists());
    server.stop();
}

/// A genuine revocation the log appended without applying it: the replayed status map
/// differs from the checkpoint's status root.
#[test]
fn status_root_mismatch_is_a_finding() {
    let (_dir, data, state) = dirs();
    let server = Server::start(&data);
    server.stop();
    let issuer = keys::load_example_issuer_key().unwrap();
    as_rogue_operator(&data, |log| {
        let target = log.entry(2).unwrap();
        let record = StatusRecord {
            action: StatusAction::Revoke,
            target: 2,
            reason: ReasonCode::Unspecified,
            time: 1_800_000_000,
            target_leaf_hash: merkle::leaf_hash(&target),
        };
        assert_eq!(append(log, cose::sign_status(&record, &issuer)), 5);
    });
    let server = Server::start(&data);
    let (code, r) = audit(&server.url(), &state, &[]);
    assert_eq!(code, 3, "{r:#}");
    let f = findings(&r);
    assert_eq!(f.len(), 1, "{r:#}");
    assert_eq!(f[0]["kind"], "status-root-mismatch");
    // the replay applied the legitimate revocation the log did not
    assert_eq!(r["revoked"], serde_json::json!([2, 3]));
    server.stop();
}

/// After a clean audit, the operator rewrites history: it rebuilds its store with label 2
/// changed (the server refuses to open a store whose right edge was edited in place, so the
/// rogue replays every entry into a fresh store with the same origin and log key, and the log
/// signs what it now holds; no earlier checkpoint is re-signed). The next run finds the new
/// tree inconsistent with the checkpoint it saved, and writes both signed checkpoints as
/// evidence.
#[test]
fn rewritten_old_entry_is_a_finding_with_evidence() {
    let (dir, data, state) = dirs();
    let server = Server::start(&data);
    let (code, first) = audit(&server.url(), &state, &[]);
    assert_eq!(code, 0, "{first:#}");
    server.stop();
    let mut entries = as_rogue_operator(&data, |log| {
        (0..log.size())
            .map(|i| log.entry(i).unwrap())
            .collect::<Vec<_>>()
    });
    // change label 2's manufacturer (its signature no longer covers it, but the point here is
    // the tree: the entry an auditor verified is not in the log any more)
    let e = &mut entries[2];
    // (names travel packed, FORMATS §1: "Acme…" → "Bcme…" is one bit of the first byte)
    let packed = cyberlabel_core::packed_text::pack("Acme").unwrap();
    let at = e.windows(2).position(|w| w == &packed[..2]).unwrap();
    e[at] ^= 0x04;
    for f in cyberlabel_log::RedbStore::files(&data.join("log.redb")) {
        std::fs::remove_file(f).unwrap();
    }
    as_rogue_operator(&data, |log| {
        for e in entries {
            append(log, e);
        }
    });
    let server = Server::start(&data);
    let evidence = dir.path().join("evidence");
    let (code, r) = audit(
        &server.url(),
        &state,
        &["--evidence", evidence.to_str().unwrap()],
    );
    assert_eq!(code, 3, "{r:#}");
    let f = findings(&r);
    assert!(
        f.iter().any(|x| x["kind"] == "inconsistent-with-saved"),
        "{r:#}"
    );
    let ev = PathBuf::from(r["evidence"].as_str().unwrap());
    assert!(ev.starts_with(&evidence));
    let old = std::fs::read_to_string(ev.join("checkpoint-last-audited")).unwrap();
    let new = std::fs::read_to_string(ev.join("checkpoint-current")).unwrap();
    assert!(old.starts_with(ORIGIN) && new.starts_with(ORIGIN));
    assert_ne!(old, new);
    assert!(old.contains("\n5\n"), "{old}");
    // the state did not move: the next run reports it again
    let (code, again) = audit(&server.url(), &state, &[]);
    assert_eq!(code, 3, "{again:#}");
    assert_eq!(again["previous"]["size"], 5);
    server.stop();
}

/// Incremental: after a full audit of a log just past one full tile, N new labels cost O(N)
/// bytes, and `--watch` lists exactly them.
#[test]
fn incremental_run_fetches_only_new_entries_and_watches() {
    const N: u64 = 12;
    let (_dir, data, state) = dirs();
    let server = Server::start(&data);
    mint_bulk(&server, &data, 300);
    let (code, full) = audit(&server.url(), &state, &["--watch", "SG-CLS"]);
    assert_eq!(code, 0, "{full:#}");
    let size1 = full["checkpoint"]["size"].as_u64().unwrap();
    assert_eq!(size1, 305);
    assert_eq!(full["watch"]["labels"].as_array().unwrap().len(), 303);
    let full_bytes = full["bytes_fetched"].as_u64().unwrap();

    mint(&server, &data, N as usize, "Watched");
    let (code, inc) = audit(&server.url(), &state, &["--watch", "SG-CLS"]);
    assert_eq!(code, 0, "{inc:#}");
    assert_eq!(inc["checkpoint"]["size"], size1 + N);
    assert_eq!(inc["replayed_from"], size1);
    assert_eq!(inc["counts"]["entries"], N);
    let inc_bytes = inc["bytes_fetched"].as_u64().unwrap();
    // the partial bundle 1 (already audited entries 256..305 plus the N new), its level-0
    // tile, the consistency tiles and the checkpoint; a label entry is < 1 KiB
    let partial_old = size1 % 256;
    let bound = (partial_old + N) * 1024 + (partial_old + N) * 32 + 4 * 256 * 32 + 2048;
    eprintln!(
        "full run: {full_bytes} bytes for {size1} entries; incremental: {inc_bytes} bytes for {N} new (bound {bound})"
    );
    assert!(
        inc_bytes <= bound && inc_bytes * 4 < full_bytes,
        "incremental {inc_bytes} bytes, bound {bound}, full run {full_bytes}"
    );
    let watched: Vec<(u64, String)> = inc["watch"]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["index"].as_u64().unwrap(),
                l["product"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(u64, String)> = (0..N)
        .map(|i| (size1 + i, format!("Watched {i}")))
        .collect();
    assert_eq!(watched, expected);
    // a third run: nothing new
    let (code, none) = audit(&server.url(), &state, &["--watch", "SG-CLS"]);
    assert_eq!(code, 0);
    assert!(none["watch"]["labels"].as_array().unwrap().is_empty());
    server.stop();
}

/// Start `cyberlabel witness serve` for the demo log (killed when dropped).
fn start_witness(dir: &Path, name: &str) -> (common::Witness, String) {
    use cyberlabel_core::note::{KeyKind, VerifierKey};
    let (key, _) = common::witness_keygen(dir, name);
    let log_vkey = VerifierKey::new(
        ORIGIN,
        KeyKind::Ed25519,
        keys::load_example_log_key().unwrap().verifying_key(),
    )
    .unwrap();
    let w = common::witness_serve(
        &key,
        &dir.join(format!("{}-data", name.replace('/', "_"))),
        &log_vkey.to_string(),
    );
    let url = w.url.clone();
    (w, url)
}

fn add_checkpoint(witness: &str, signed: &str) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let r = agent
        .post(format!("{witness}/add-checkpoint"))
        .send(format!("old 0\n\n{signed}"))
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// `--witness`: a witness that cosigned the log's real checkpoint is consistent (also after
/// the log grew); one the log showed a forked tree of the same size is a split-view finding,
/// with the witness's checkpoint in the evidence.
#[test]
fn witness_split_view_is_a_finding() {
    use cyberlabel_core::checkpoint::Checkpoint;
    use cyberlabel_core::note::{KeyKind, NoteSigner};
    let (dir, data, state) = dirs();
    let server = Server::start(&data);
    let real = String::from_utf8(
        ureq::get(format!("{}/checkpoint", server.url()))
            .call()
            .unwrap()
            .body_mut()
            .read_to_vec()
            .unwrap(),
    )
    .unwrap();
    let (_honest, honest_url) = start_witness(dir.path(), "witness.test/honest");
    add_checkpoint(&honest_url, &real);
    let (_fooled, fooled_url) = start_witness(dir.path(), "witness.test/fooled");
    let log_signer = NoteSigner::new(
        ORIGIN,
        KeyKind::Ed25519,
        keys::load_example_log_key().unwrap(),
    )
    .unwrap();
    let fork = Checkpoint::new(ORIGIN, 5, [0x42; 32])
        .sign(&log_signer)
        .unwrap();
    add_checkpoint(&fooled_url, &fork);

    mint(&server, &data, 1, "Later");
    let (code, r) = audit(&server.url(), &state, &["--witness", &honest_url]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["witnesses"][0]["result"], "consistent");
    assert_eq!(r["witnesses"][0]["size"], 5);

    let (code, r) = audit(
        &server.url(),
        &state,
        &["--witness", &honest_url, "--witness", &fooled_url],
    );
    assert_eq!(code, 3, "{r:#}");
    let f = findings(&r);
    assert_eq!(f.len(), 1, "{r:#}");
    assert_eq!(f[0]["kind"], "split-view");
    assert!(f[0]["detail"].as_str().unwrap().contains(&fooled_url));
    let ev = PathBuf::from(r["evidence"].as_str().unwrap());
    let saved = std::fs::read_to_string(ev.join("checkpoint-witness-1")).unwrap();
    let body = fork.split("\n\n").next().unwrap();
    assert!(saved.starts_with(body), "{saved}");
    server.stop();
}
