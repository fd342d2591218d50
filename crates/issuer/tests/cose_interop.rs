//! A label minted here verifies in Python's `pycose` (an independent COSE implementation) given
//! only the issuer's SPKI PEM public key, and pycose sees the same claim; a label with one
//! payload byte changed does not verify there either.

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
    assert_eq!(seen["1"], "JP-JCSTAR");
    assert_eq!(seen["3"], 3);
    assert_eq!(seen["5"], minted.claim.product.as_str());
    // Dates are day numbers on the wire (FORMATS §1).
    assert_eq!(seen["9"], minted.claim.issued_at / 86_400);
    assert_eq!(seen["15"], 42);
    assert_eq!(seen["14"], "LAB-007");

    // Change one byte of the product name inside the payload: pycose must reject it.
    let pos = minted.label.windows(4).position(|w| w == b"Acme").unwrap();
    let mut bad = minted.label.clone();
    bad[pos] = b'X';
    std::fs::write(&label, &bad).unwrap();
    let (code, _, _) = common::python(
        "pycose_verify.py",
        &[label.to_str().unwrap(), pub_pem.to_str().unwrap()],
    );
    assert_eq!(code, 1, "pycose accepted a tampered label");
}
