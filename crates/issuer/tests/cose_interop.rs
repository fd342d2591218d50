//! A label minted here verifies in Python's `pycose` (an independent COSE implementation) given
//! only the issuer's SPKI PEM public key, and pycose sees the same claim; a label with one
//! payload byte changed does not verify there either, and that failure is pycose's rejection of
//! the signature (exit 10 with a marker), never a Python crash (exit 1).

mod common;

use cyberlabel_core::catalog::Catalog;
use cyberlabel_core::cose;
use cyberlabel_issuer::{keys, mint};

#[test]
fn pycose_verifies_our_label_and_rejects_a_tampered_one() {
    let catalog = Catalog::builtin();
    let key = keys::generate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pub_pem = dir.path().join("issuer.pub.pem");
    keys::save_public_key(&key.verifying_key(), &pub_pem).unwrap();
    let scheme = catalog.latest("JP-JCSTAR").unwrap();
    let minted = mint::mint(
        &common::description(scheme, 3),
        &catalog,
        &key,
        42,
        common::NOW,
    )
    .unwrap();
    let label = dir.path().join("label.cbor");
    std::fs::write(&label, &minted.label).unwrap();

    let (code, stdout, stderr) = common::python(
        "pycose_verify.py",
        &[label.to_str().unwrap(), pub_pem.to_str().unwrap()],
    );
    assert_eq!(code, 0, "pycose rejected our label: {stderr}");
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["_alg"], -8);
    assert_eq!(
        seen["_kid"],
        hex::encode(cose::key_id(&key.verifying_key()))
    );
    // Claim format 2 (FORMATS §1): a map with integer keys, no format number, no key 2 (catalog
    // version 1); the registered scheme as its code, the lab as its catalog code, names packed.
    assert!(seen.get("0").is_none() && seen.get("2").is_none(), "{seen}");
    assert_eq!(seen["1"], 5); // JP-JCSTAR
    assert_eq!(seen["3"], 3);
    let packed = cyberlabel_core::packed_text::pack(&minted.claim.product).unwrap();
    assert_eq!(seen["5"], hex::encode(&packed));
    // Dates are day numbers on the wire (FORMATS §1).
    assert_eq!(seen["9"], minted.claim.issued_at / 86_400);
    assert_eq!(seen["13"], 1); // lab code 1
    assert_eq!(seen["14"], 42);

    // Change one bit of the packed product name inside the payload: pycose must reject it.
    let pos = minted
        .label
        .windows(3)
        .position(|w| w == &packed[..3])
        .unwrap();
    let mut bad = minted.label.clone();
    bad[pos] ^= 0x04;
    std::fs::write(&label, &bad).unwrap();
    let (code, _, stderr) = common::python(
        "pycose_verify.py",
        &[label.to_str().unwrap(), pub_pem.to_str().unwrap()],
    );
    // 10 + the marker = pycose ran and rejected the signature; a Python crash exits 1 with a
    // traceback and must not pass for a rejection.
    assert_eq!(
        (code, stderr.trim()),
        (
            10,
            "PYCOSE_SIGNATURE_INVALID: pycose rejected the signature"
        ),
        "pycose did not reject the tampered label as a bad signature"
    );

    // The same label under another issuer's key: also a signature failure, not a crash.
    let other_pem = dir.path().join("other.pub.pem");
    keys::save_public_key(&keys::generate().unwrap().verifying_key(), &other_pem).unwrap();
    std::fs::write(&label, &minted.label).unwrap();
    let (code, _, stderr) = common::python(
        "pycose_verify.py",
        &[label.to_str().unwrap(), other_pem.to_str().unwrap()],
    );
    assert_eq!(code, 10, "wrong key: {stderr}");
}

/// The harness tells a crash from a rejection: a script that dies with an exception exits 1,
/// which the tamper check above would not accept.
#[test]
fn a_python_crash_is_not_a_rejection() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-label.cbor");
    let pem = dir.path().join("no-such-key.pem");
    let (code, _, stderr) = common::python(
        "pycose_verify.py",
        &[missing.to_str().unwrap(), pem.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("Traceback"), "{stderr}");
    assert!(!stderr.contains("PYCOSE_SIGNATURE_INVALID"), "{stderr}");
}
