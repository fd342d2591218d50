//! The bodies of the fuzz targets, as plain functions over the input bytes.
//!
//! Every decoder that reads bytes from outside has one: the libFuzzer binaries in `fuzz/`
//! (nightly, `cargo fuzz run <name>`) are one line each over these, and the stable smoke runner
//! (`examples/smoke.rs`, a step of `cargo xtask test`) runs each over its committed corpus
//! (`fuzz/corpus/<name>`), its regression inputs (`fuzz/regressions/<name>`) and a few thousand
//! deterministic mutations. A body panics (fails an `assert!`) only on a bug: besides "never
//! panics" most check a property: an accepted input re-encodes to the identical bytes, and only
//! what the fixture keys signed ever verifies.

// Harness code: asserts are the point; unwrap/expect appear only on values the property says
// must exist.
#![allow(clippy::expect_used)]

pub mod fixture;
pub mod qr_input;

use cyberlabel_core::checkpoint::{self, Checkpoint};
use cyberlabel_core::claim::Claim;
use cyberlabel_core::cose::{self, Entry};
use cyberlabel_core::merkle;
use cyberlabel_core::note::{self, VerifierKey};
use cyberlabel_core::status::{self, StatusMap, StatusProof, StatusRecord, TargetInfo};
use cyberlabel_core::tiles::{self, TileKind, TilePath, TileSet};
use cyberlabel_core::tlog_proof::{self, TlogProof};
use cyberlabel_core::trust::TrustList;
use cyberlabel_core::verdict::{Verdict, verify_offline};
use cyberlabel_core::{cbor, online, payload};
use fixture::fixture;

/// One fuzz target: its name (= the libFuzzer binary and corpus directory) and body.
#[derive(Clone, Copy)]
pub struct Target {
    /// binary / corpus directory name
    pub name: &'static str,
    /// the body
    pub run: fn(&[u8]),
    /// the longest input worth trying (libFuzzer's `-max_len`)
    pub max_len: usize,
}

/// Every target.
pub const TARGETS: &[Target] = &[
    t("payload_decode", payload_decode, 4096),
    t("cose_parse", cose_parse, 4096),
    t("claim_decode", claim_decode, 4096),
    t("verify_offline", verify_offline_body, 4096),
    t("status_record", status_record, 4096),
    t("log_entry", log_entry, 4096),
    t("checkpoint", checkpoint_body, 4096),
    t("cosignature", cosignature, 4096),
    t("tlog_proof", tlog_proof_body, 4096),
    t("status_proof", status_proof, 4096),
    t("tiles", tiles_body, 9000),
    t("trust_list", trust_list, 8192),
    t("product", product, 4096),
    t("witness_request", witness_request, 4096),
    t("qr_rqrr", qr_rqrr, IMAGE_MAX_LEN),
    t("qr_quircs", qr_quircs, IMAGE_MAX_LEN),
];

const fn t(name: &'static str, run: fn(&[u8]), max_len: usize) -> Target {
    Target { name, run, max_len }
}

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().copied().find(|t| t.name == name)
}

// ---------------------------------------------------------------------------------------------
// labels

/// QR text → label bytes: whatever decodes has exactly one digit encoding.
pub fn payload_decode(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = payload::qr_segments(text);
    if let Ok(label) = payload::decode(text) {
        assert!(!label.is_empty() && label.len() <= payload::MAX_LABEL_BYTES);
        let digits = payload::encode_digits(&label);
        assert_eq!(payload::decode_digits(&digits).as_deref(), Ok(&label[..]));
        // The digits in the input are exactly the canonical digits of the label.
        assert!(text.ends_with(&digits));
    }
}

/// Strict CBOR, COSE_Sign1 (a label's envelope) and the log-entry decoder: accepted CBOR
/// re-encodes identically; a decoded entry's payload re-encodes to the signed payload.
pub fn cose_parse(data: &[u8]) {
    if let Ok(v) = cbor::decode(data, 4096) {
        assert_eq!(cbor::encode(&v), data, "accepted CBOR must be canonical");
    }
    if let Ok(s) = cose::parse_sign1(data) {
        let _ = s.to_be_signed();
        let _ = s.key_id();
        let _ = s.check_profile(false);
        let _ = s.check_profile(true);
    }
    check_entry(data);
}

fn check_entry(data: &[u8]) {
    if let Ok(e) = cose::decode_entry(data) {
        let _ = e.kid();
        match e {
            Entry::Label { sign1, claim } => assert_eq!(claim.to_cbor(), sign1.payload),
            Entry::Status { sign1, record } => assert_eq!(record.to_cbor(), sign1.payload),
        }
    }
}

/// The claim (a label's payload): an accepted claim re-encodes identically and passes the
/// field checks.
pub fn claim_decode(data: &[u8]) {
    if let Ok(c) = Claim::from_cbor(data) {
        assert_eq!(c.to_cbor(), data);
        assert!(c.check().is_ok());
        let _ = fixture().catalog.validate_claim(&c);
    }
}

/// The whole offline verification: only the labels the fixture issuer signed are Genuine
/// (the fuzzer cannot forge Ed25519, so any other Genuine input is a verifier bug).
pub fn verify_offline_body(data: &[u8]) {
    let f = fixture();
    let r = verify_offline(data, &f.trust, &f.catalog, fixture::T0 + fixture::DAY);
    if r.verdict == Verdict::Genuine {
        assert!(
            f.labels.iter().any(|l| l == data),
            "a label not signed by the fixture key verified as genuine"
        );
    }
}

/// The status record (a status entry's payload): an accepted record re-encodes identically.
pub fn status_record(data: &[u8]) {
    if let Ok(r) = StatusRecord::from_cbor(data) {
        assert_eq!(
            r.to_cbor(),
            data,
            "accepted status record must be canonical"
        );
    }
}

/// A log entry as the log's status rules and an auditor replaying the log see it: decoded,
/// then applied to a status map holding the fixture's three entries (so it may target them):
/// it always takes index 3, and if rejected changes no earlier state; also the input as an
/// entry bundle replayed into a fresh map.
pub fn log_entry(data: &[u8]) {
    let f = fixture();
    check_entry(data);
    let _ = TargetInfo::of(data);
    let mut map = f.status_map.clone();
    let states = |m: &StatusMap| m.bucket(0).map(|b| [b.get(0), b.get(1), b.get(2)]);
    let before = states(&map);
    let r = map.push(data);
    // Accepted or not, the entry takes the next index (an auditor reports it and goes on) ...
    assert_eq!(map.size(), 4);
    if r.is_err() {
        // ... and a rejected one leaves the earlier labels' states alone.
        assert_eq!(states(&map), before, "a rejected entry changed a state");
    }
    let _ = map.commitment();
    if let Ok(entries) = tiles::parse_entry_bundle(data) {
        let mut m = StatusMap::new();
        for e in entries {
            let _ = m.push(e);
        }
        let _ = m.commitment();
    }
}

// ---------------------------------------------------------------------------------------------
// transparency log

/// Signed notes and checkpoints: a parsed note or checkpoint re-encodes identically; a
/// checkpoint opens under the log key only if its body is the one the log signed.
pub fn checkpoint_body(data: &[u8]) {
    let f = fixture();
    if let Ok(n) = note::Note::parse(data) {
        assert_eq!(
            n.to_text().as_bytes(),
            data,
            "accepted note must be canonical"
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = Checkpoint::parse(text) {
            assert_eq!(c.to_text(), text, "accepted checkpoint must be canonical");
            let _ = c.status();
        }
        let _ = checkpoint::size_of(text);
        if let Ok(k) = VerifierKey::parse(text) {
            assert_eq!(k.to_string(), text, "accepted vkey must be canonical");
        }
    }
    if let Ok(v) = checkpoint::open(data, &f.log_policy) {
        assert_eq!(
            v.checkpoint.to_text(),
            f.checkpoint_text,
            "forged checkpoint opened"
        );
    }
    let keys = [f.log.verifier().clone(), f.witnesses[0].verifier().clone()];
    if let Ok(v) = note::open(data, &keys) {
        assert_eq!(v.note.text, f.checkpoint_text, "forged note opened");
    }
}

/// Witness cosignatures: a checkpoint meets the one-of-two witness policy only with the
/// fixture witness's cosignature (and its time); outside cosignature lines merged into the
/// log's signed checkpoint (what the log does with a witness's answer) never add a quorum.
pub fn cosignature(data: &[u8]) {
    let f = fixture();
    for now in [None, Some(f.now)] {
        let r = match now {
            None => checkpoint::open(data, &f.witness_policy),
            Some(now) => checkpoint::open_fresh(data, &f.witness_policy, now),
        };
        if let Ok(v) = r {
            assert_eq!(
                v.checkpoint.to_text(),
                f.checkpoint_text,
                "forged checkpoint opened"
            );
            assert_eq!(
                v.witnessed_at,
                Some(f.cosigned_at),
                "forged cosignature time"
            );
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<String> = text
        .split('\n')
        .filter(|l| !l.is_empty())
        .take(8)
        .map(str::to_owned)
        .collect();
    for merged in [
        checkpoint::add_signature_lines(&f.signed_checkpoint, &lines),
        checkpoint::replace_signature_lines(&f.signed_checkpoint, &lines),
    ]
    .into_iter()
    .flatten()
    {
        if let Ok(v) = checkpoint::open_fresh(merged.as_bytes(), &f.witness_policy, f.now) {
            assert_eq!(
                v.witnessed_at,
                Some(f.cosigned_at),
                "forged cosignature time"
            );
        }
    }
}

/// C2SP tlog-proof: a parsed proof re-encodes identically; it verifies only for the entry at
/// its index under the fixture log.
pub fn tlog_proof_body(data: &[u8]) {
    let f = fixture();
    let Ok(p) = TlogProof::parse(data) else {
        return;
    };
    assert_eq!(
        p.to_text().as_bytes(),
        data,
        "accepted tlog-proof must be canonical"
    );
    let i = usize::try_from(p.index).unwrap_or(usize::MAX);
    for (j, entry) in f.entries.iter().enumerate() {
        // verify each entry against the proof: only the entry at the proof's index may pass
        if let Ok(v) = tlog_proof::verify(data, entry, &f.log_policy) {
            assert_eq!(j, i, "tlog-proof verified for another entry");
            assert_eq!(v.leaf_hash, merkle::leaf_hash(entry));
        }
    }
}

/// Status proofs: a parsed proof re-encodes identically; it verifies only with the bucket the
/// log committed to.
pub fn status_proof(data: &[u8]) {
    let f = fixture();
    if let Ok(p) = StatusProof::parse(data) {
        assert_eq!(
            p.to_text().as_bytes(),
            data,
            "accepted status proof must be canonical"
        );
    } else {
        return;
    }
    if let Ok(v) = status::verify_status_proof(data, &f.log_policy) {
        assert_eq!(v.bucket, 0);
        assert_eq!(v.state, f.bucket0, "a forged bucket verified");
        for i in 0..300 {
            let _ = v.state_of(i);
        }
    }
    if let Ok(v) = status::verify_status_proof_at(data, &f.witness_policy, f.now) {
        assert_eq!(v.state, f.bucket0, "a forged bucket verified");
    }
}

/// Tiles and entry bundles: the first line is a tile path (canonical paths only: it
/// re-encodes identically), the rest the tile's bytes, fed to a tile set and read back; the
/// whole input as an entry bundle must re-encode identically.
pub fn tiles_body(data: &[u8]) {
    if let Ok(entries) = tiles::parse_entry_bundle(data) {
        let mut again = Vec::new();
        for e in &entries {
            tiles::push_bundle_entry(&mut again, e).expect("a parsed entry fits a bundle");
        }
        assert_eq!(again, data, "accepted entry bundle must be canonical");
    }
    let (head, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(path) = std::str::from_utf8(head) else {
        return;
    };
    let Ok(p) = TilePath::parse(path) else {
        return;
    };
    assert_eq!(p.to_path(), path, "accepted tile path must be canonical");
    // A tree this tile belongs to: its index's span, partial tiles ending the tree.
    let level = match p.kind {
        TileKind::Hash(l) => u32::from(l),
        TileKind::Entries => 0,
    };
    let size = p
        .index
        .checked_mul(256)
        .and_then(|n| n.checked_add(u64::from(p.width)))
        .and_then(|n| n.checked_mul(1u64.checked_shl(8 * level)?));
    if let Some(first) = body.first() {
        let offset = usize::from(*first);
        let _ = tiles::hash_in_tile(body, offset, 1 + usize::from(*first % 7));
    }
    if p.kind == TileKind::Entries {
        let _ = tiles::parse_entry_bundle(body);
        return;
    }
    let mut set = TileSet::new();
    if set.insert(p, body.to_vec()).is_err() {
        return;
    }
    if let Some(size) = size.filter(|&s| s > 0) {
        let _ = set.root(size);
        let _ = set.leaf(size - 1, size);
        let _ = set.inclusion_proof(size - 1, size);
        let _ = set.consistency_proof(size / 2, size);
    }
}

/// The trust list, as JSON and signed: an accepted list re-encodes to JSON that parses to the
/// same list; a signed list verifies under the fixture anchor only if it is the one it signed.
pub fn trust_list(data: &[u8]) {
    let f = fixture();
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(t) = TrustList::from_json(text)
    {
        let again = TrustList::from_json(&t.to_json()).expect("re-encoded trust list parses");
        assert_eq!(again, t, "trust list changes when re-encoded");
        let _ = checkpoint::Rule::from_trust_list(&t);
        let _ = online::policy_for(&t, f.signed_checkpoint.as_bytes());
        let _ = t.equivalents("SG-CLS", 2, 1, fixture::T0);
        for l in &t.logs {
            let _ = VerifierKey::parse(&l.vkey);
        }
    }
    if let Ok(t) = TrustList::from_signed(data, &f.anchor.verifying_key(), f.now) {
        assert_eq!(data, f.trust_signed, "a forged trust list verified");
        assert_eq!(t, f.trust);
    }
}

// ---------------------------------------------------------------------------------------------
// issuer, witness

/// Product descriptions (JSON and TOML, the issuer's input files and the mint API's body),
/// resolved against the catalog: a claim they yield that passes the checks round-trips
/// through CBOR.
pub fn product(data: &[u8]) {
    use cyberlabel_issuer::product::ProductDescription;
    let f = fixture();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for desc in [
        ProductDescription::from_json(text),
        ProductDescription::from_toml(text),
    ]
    .into_iter()
    .flatten()
    {
        let Ok(claim) =
            cyberlabel_issuer::mint::claim_from_description(&desc, &f.catalog, 1, fixture::T0)
        else {
            continue;
        };
        if claim.check().is_ok() {
            assert_eq!(Claim::from_cbor(&claim.to_cbor()), Ok(claim.clone()));
            let _ = f.catalog.validate_claim(&claim);
        }
    }
}

/// The witness's add-checkpoint request body: a parsed body re-encodes identically; then what
/// the witness does with it (open the checkpoint, check the consistency proof).
pub fn witness_request(data: &[u8]) {
    use cyberlabel_witness::request;
    let f = fixture();
    let Ok(r) = request::parse(data) else {
        return;
    };
    if let Ok(cp) = std::str::from_utf8(r.checkpoint) {
        assert_eq!(
            request::encode(r.old, &r.proof, cp).as_bytes(),
            data,
            "accepted request must be canonical"
        );
    }
    if let Ok(v) = checkpoint::open(r.checkpoint, &f.log_policy) {
        let c = &v.checkpoint;
        let _ = merkle::verify_consistency(r.old, c.size, &c.root, &c.root, &r.proof);
    }
}

// ---------------------------------------------------------------------------------------------
// QR images

/// Longest input of the image targets: a raw frame of 96×96 pixels ([`qr_input`]).
pub const IMAGE_MAX_LEN: usize = qr_input::MAX_LEN;

/// rqrr (the issuer's and CLI's QR reader) on a hostile frame ([`qr_input`]: raw pixels, or a
/// real code drawn and damaged), through `cyberlabel_issuer::qr::read_qr_codes`; decoded text
/// goes on to the payload decoder.
///
/// rqrr 0.11 panics on some crafted images (`assertion failed: x <= i32::MAX as f64` in its
/// perspective code, `regressions/qr_rqrr/`); `read_qr_codes` catches that by design ("no QR
/// code found"). libFuzzer's panic hook aborts on every panic, caught or not, so for the call
/// this body swaps in a silent hook: what is checked is our contract, that `read_qr_codes`
/// never panics to its caller (a panic escaping it still unwinds out of this body, which
/// libFuzzer and the smoke runner report).
pub fn qr_rqrr(data: &[u8]) {
    let Some(img) = qr_input::frame(data).and_then(|f| f.to_gray_image()) else {
        return;
    };
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let found = cyberlabel_issuer::qr::read_qr_codes(&img);
    std::panic::set_hook(hook);
    for text in found.into_iter().flatten() {
        payload_decode(text.as_bytes());
    }
}

/// quircs (the verifier page's QR reader, compiled into the wasm, where a panic aborts) on a
/// hostile frame ([`qr_input`]), through the page's own entry point `decode_qr` (RGBA in);
/// decoded text goes on to the payload decoder.
pub fn qr_quircs(data: &[u8]) {
    let Some(f) = qr_input::frame(data) else {
        return;
    };
    let (Ok(w), Ok(h)) = (u32::try_from(f.width), u32::try_from(f.height)) else {
        return;
    };
    if let Some(text) = cyberlabel_wasm::api::decode_qr(&f.to_rgba(), w, h) {
        payload_decode(text.as_bytes());
    }
}
