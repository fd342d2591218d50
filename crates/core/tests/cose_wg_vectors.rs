//! Interop: the COSE working group's COSE_Sign1 examples (tests/vectors/cose-wg/, see
//! PROVENANCE.md) through the generic `parse_sign1` + `Sign1::verify`.
#![allow(clippy::unwrap_used)]

use cyberlabel_core::cose::{ContentType, CoseError, parse_sign1};
use ed25519_dalek::VerifyingKey;

fn vector(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/tests/vectors/cose-wg/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hex_field(v: &serde_json::Value, ptr: &str) -> Vec<u8> {
    hex::decode(v.pointer(ptr).unwrap().as_str().unwrap()).unwrap()
}

#[test]
fn eddsa_sig_01_ed25519_verifies() {
    let v = vector("eddsa-sig-01.json");
    let msg = hex_field(&v, "/output/cbor");
    let x: [u8; 32] = hex_field(&v, "/input/sign0/key/x_hex").try_into().unwrap();
    let key = VerifyingKey::from_bytes(&x).unwrap();

    let s = parse_sign1(&msg).unwrap();
    assert!(s.tagged);
    assert_eq!(s.alg, Some(-8));
    assert_eq!(s.content_type, Some(ContentType::CoAp(0)));
    assert_eq!(s.kid, b"11");
    assert!(!s.kid_protected);
    assert_eq!(s.key_id(), None); // not a cyberlabel kid: 2 bytes, unprotected
    assert_eq!(
        s.payload,
        v.pointer("/input/plaintext")
            .unwrap()
            .as_str()
            .unwrap()
            .as_bytes()
    );
    s.verify(&key).unwrap();

    // Any single-bit change to the signature or payload breaks it.
    let mut bad = s.clone();
    bad.signature[10] ^= 1;
    assert_eq!(bad.verify(&key), Err(CoseError::BadSignature));
    let mut bad = s.clone();
    bad.payload[0] ^= 0x20;
    assert_eq!(bad.verify(&key), Err(CoseError::BadSignature));
    // It is not a cyberlabel label (kid unprotected, content type present).
    assert!(s.check_profile(false).is_err());
}

#[test]
fn eddsa_sig_02_ed448_parses_and_sig_structure_matches() {
    // Ed448: we check structure and the published ToBeSign bytes; the signature itself is
    // skipped because cyberlabel (and ed25519-dalek) support Ed25519 only.
    let v = vector("eddsa-sig-02.json");
    let s = parse_sign1(&hex_field(&v, "/output/cbor")).unwrap();
    assert_eq!(s.alg, Some(-8));
    assert_eq!(s.kid, b"3d448");
    assert_eq!(s.signature.len(), 114);
    assert_eq!(
        s.to_be_signed(),
        hex_field(&v, "/intermediates/ToBeSign_hex")
    );
    // An Ed448 signature is never accepted as Ed25519.
    let any = VerifyingKey::from_bytes(&[
        0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07,
        0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07,
        0x51, 0x1a,
    ])
    .unwrap();
    assert_eq!(s.verify(&any), Err(CoseError::BadSignature));
}

#[test]
fn sign1_tests_untagged_pass_and_wrong_tag_fail() {
    let v = vector("sign-pass-03.json");
    let s = parse_sign1(&hex_field(&v, "/output/cbor")).unwrap();
    assert!(!s.tagged);
    assert_eq!(s.alg, Some(-7)); // ES256
    assert_eq!(
        s.to_be_signed(),
        hex_field(&v, "/intermediates/ToBeSign_hex")
    );
    let k = VerifyingKey::from_bytes(&[0x11; 32]);
    if let Ok(k) = k {
        assert_eq!(s.verify(&k), Err(CoseError::UnsupportedAlgorithm));
    }

    let v = vector("sign-fail-01.json");
    assert_eq!(v.pointer("/fail").unwrap(), true);
    assert_eq!(
        parse_sign1(&hex_field(&v, "/output/cbor")),
        Err(CoseError::NotSign1)
    );
}
