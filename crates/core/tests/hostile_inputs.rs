//! Every transparency-log decoder takes hostile input: arbitrary bytes and single-byte
//! mutations of valid documents must give an error or an equal document, never a panic or a
//! false verification.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod label_common;

use cyberlabel_core::checkpoint::{self, Checkpoint, Policy, StatusCommitment};
use cyberlabel_core::merkle::{
    Hash, ProofError, inclusion_proof, leaf_hash, reference_node, reference_root,
};
use cyberlabel_core::note::{self, KeyKind, Note, NoteSigner, VerifierKey};
use cyberlabel_core::status::{Bucket, StatusProof, verify_status_proof};
use cyberlabel_core::tiles::{TilePath, parse_entry_bundle};
use cyberlabel_core::tlog_proof::{self, TlogProof};
use ed25519_dalek::SigningKey;
use proptest::prelude::*;

fn signer() -> NoteSigner {
    NoteSigner::new(
        "hostile.example/log",
        KeyKind::Ed25519,
        SigningKey::from_bytes(&[77; 32]),
    )
    .unwrap()
}

/// A valid tlog-proof and status proof for one small log (built once).
fn documents() -> (String, Vec<u8>, String) {
    static DOCS: std::sync::OnceLock<(String, Vec<u8>, String)> = std::sync::OnceLock::new();
    DOCS.get_or_init(build_documents).clone()
}

fn build_documents() -> (String, Vec<u8>, String) {
    let log = signer();
    let entries: Vec<Vec<u8>> = (0..300u32).map(|i| i.to_be_bytes().to_vec()).collect();
    let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
    let buckets = [Bucket::default(), Bucket::default()];
    let bl: Vec<Hash> = buckets.iter().map(Bucket::leaf_hash).collect();
    let mut cp = Checkpoint::new("hostile.example/log", 300, reference_root(&leaves));
    cp.set_status(StatusCommitment {
        bucket_count: 2,
        root: reference_root(&bl),
    });
    let signed = cp.sign(&log).unwrap();
    let path = inclusion_proof::<ProofError>(123, 300, |id| reference_node(&leaves, id)).unwrap();
    let tp = TlogProof {
        extra: None,
        index: 123,
        path,
        checkpoint: signed.clone(),
    }
    .to_text();
    let spath = inclusion_proof::<ProofError>(1, 2, |id| reference_node(&bl, id)).unwrap();
    let sp = StatusProof {
        bucket: 1,
        state: buckets[1].clone(),
        path: spath,
        checkpoint: signed,
    }
    .to_text();
    (tp, entries[123].clone(), sp)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let s = String::from_utf8_lossy(&data);
        let _ = Note::parse(&data);
        let _ = Checkpoint::parse(&s);
        let _ = TlogProof::parse(&data);
        let _ = StatusProof::parse(&data);
        let _ = TilePath::parse(&s);
        let _ = VerifierKey::parse(&s);
        let _ = NoteSigner::parse_private(&s);
        let _ = parse_entry_bundle(&data);
        let _ = Bucket::from_bytes(&data);
        let policy = Policy::log_only(signer().verifier().clone());
        prop_assert!(checkpoint::open(&data, &policy).is_err());
        prop_assert!(verify_status_proof(&data, &policy).is_err());
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn mutated_proofs_never_verify_differently(pos in any::<usize>(), byte in any::<u8>()) {
        let (tp, entry, sp) = documents();
        let policy = Policy::log_only(signer().verifier().clone());
        let good = tlog_proof::verify(tp.as_bytes(), &entry, &policy).unwrap();
        let mut m = tp.clone().into_bytes();
        let p = pos % m.len();
        m[p] = byte;
        if let Ok(v) = tlog_proof::verify(&m, &entry, &policy) {
            // only harmless edits verify (none exist for these bytes except a no-op)
            prop_assert_eq!(v.index, good.index);
            prop_assert_eq!(v.checkpoint.checkpoint, good.checkpoint.checkpoint);
        }
        let good = verify_status_proof(sp.as_bytes(), &policy).unwrap();
        let mut m = sp.into_bytes();
        let p = pos % m.len();
        m[p] = byte;
        if let Ok(v) = verify_status_proof(&m, &policy) {
            prop_assert_eq!(v.state, good.state);
            prop_assert_eq!(v.bucket, good.bucket);
        }
    }
}

#[test]
fn sign_refuses_texts_that_would_not_parse_back() {
    let s = signer();
    for bad in ["", "no newline", "control \u{7} char\n"] {
        assert!(note::sign(bad, &[&s], 0).is_err(), "{bad:?}");
    }
}

/// Signed text is refused when it holds what would show differently on a screen: controls,
/// bidirectional overrides and isolates, zero-width and other invisible characters, private-use
/// characters, or leading/trailing space; every script and ordinary punctuation passes. The same
/// rule runs at issuance and when a verifier decodes a claim.
#[test]
fn signed_text_refuses_what_would_read_differently() {
    use cyberlabel_core::claim::{ClaimError, Field, hidden};
    let mut claim = label_common::typical_claim();
    for bad in [
        "Acme\nEvil",
        "Acme\u{202e}gnp.exe",
        "Acme\u{2066}x\u{2069}",
        "Ac\u{200b}me",
        "Ac\u{200d}me",
        "Acme\u{feff}",
        "Acme\u{ad}",
        "Acme\u{e000}",
        "Acme\u{e0041}",
        "Acme\u{2028}",
        " Acme",
        "Acme\t",
    ] {
        claim.manufacturer = bad.into();
        assert_eq!(
            claim.check(),
            Err(ClaimError::Unprintable(Field::Manufacturer)),
            "{bad:?}"
        );
    }
    for good in [
        "Beispiel Geräte GmbH",
        "株式会社サンプル",
        "Ακμή Α.Ε.",
        "شركة أكمي",
        "Acme (Pte.) Ltd – 2nd-gen ★",
    ] {
        claim.manufacturer = good.into();
        assert_eq!(claim.check(), Ok(()), "{good:?}");
    }
    assert!(!hidden('a') && !hidden('ä') && !hidden(' ') && hidden('\u{202d}'));

    // each field within its limit in characters, the whole too large for a label: the error
    // names the longest field (it was a 409 from the log before)
    let mut big = label_common::typical_claim();
    big.scheme = "𝔖".repeat(32);
    big.catalog_version = u32::MAX;
    big.manufacturer = "𝔄".repeat(64);
    big.product = "𝔅".repeat(60);
    big.hardware_versions = "𝔇".repeat(32);
    big.firmware_versions = "𝔈".repeat(32);
    big.provisions = cyberlabel_core::claim::ProvisionSet::from_indices([255]);
    big.serial = u64::MAX;
    big.supersedes = Some(u64::MAX - 1);
    assert_eq!(big.check(), Err(ClaimError::TooLarge(Field::Manufacturer)));
    // a label must say which firmware it covers
    let mut no_fw = label_common::typical_claim();
    no_fw.firmware_versions = String::new();
    assert_eq!(
        no_fw.check(),
        Err(ClaimError::Empty(Field::FirmwareVersions))
    );
}
