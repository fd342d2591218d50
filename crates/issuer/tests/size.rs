//! Size of a typical label — 30-character model name, 6 provisions — in QR versions at error
//! correction M. Prints the version and byte counts for the typical label and heavier variants,
//! so the README's figures come from this test (`-- --nocapture`).
//!
//! Target (issue 2): URL form ≤ version 10 at ECC M. Dates travel as day numbers (FORMATS §1),
//! which is what brings the typical label (187 bytes) within version 10-M's room after a
//! 20-character URL prefix in a byte segment; the `CL1:` form also fits version 10.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use cyberlabel_core::catalog::Catalog;
use cyberlabel_issuer::product::{AssessmentRef, CategoryRef, LevelRef, ProductDescription};
use cyberlabel_issuer::{keys, mint};

/// The typical label: SG-CLS Level 2, self-declared, a 30-character model name, a short maker
/// name and version strings, 6 provisions.
fn typical() -> ProductDescription {
    ProductDescription {
        scheme: "SG-CLS".into(),
        level: LevelRef::Number(2),
        manufacturer: "Acme Devices".into(),
        product: "Acme SmartCam 2 Outdoor Pro 4K".into(),
        hardware_versions: "rev B".into(),
        firmware_versions: "2.4.x".into(),
        category: CategoryRef::Code(1),
        provisions: ["5.1-1", "5.1-2", "5.2-1", "5.3-2", "5.3-13", "5.3-16"]
            .map(String::from)
            .to_vec(),
        assessment: AssessmentRef::SelfDeclared,
        lab: None,
        issued_at: None,
        expires_at: None,
        support_until: "2029-06-30".into(),
        supersedes: None,
    }
}

fn measure(name: &str, desc: &ProductDescription, url: &str) -> (usize, i16, i16) {
    let catalog = Catalog::builtin();
    let key = keys::generate().unwrap();
    // A serial in the millions, as in a busy log (a 5-byte CBOR uint).
    let minted = mint::mint(desc, &catalog, &key, 12_345_678, common::NOW).unwrap();
    assert_eq!(minted.claim.product.chars().count(), 30);
    let options = mint::RenderOptions {
        verifier_url: url,
        cl1: false,
        module_px: 4,
    };
    let r = mint::render(&minted.label, &catalog, &options).unwrap();
    let cl1 = cyberlabel_issuer::qr::LabelQr::new(&r.cl1).unwrap();
    println!(
        "{name:<44} label {:>3} B, URL form {:>3} chars ({}…#) -> QR version {} (M); CL1 form -> version {}",
        minted.label.len(),
        r.url.len(),
        url,
        r.qr.version(),
        cl1.version()
    );
    (minted.label.len(), r.qr.version(), cl1.version())
}

/// Largest QR version (ECC M) the typical label may need in URL form with a 20-char verifier URL.
const URL_MAX_VERSION: i16 = 10;
/// Largest QR version (ECC M) the typical label may need in `CL1:` form.
const CL1_MAX_VERSION: i16 = 10;

#[test]
fn typical_label_qr_version_at_ecc_m() {
    let (bytes, version, cl1) = measure(
        "typical (30-char model, 6 provisions)",
        &typical(),
        "https://cl.example/v",
    );
    assert!(
        version <= URL_MAX_VERSION,
        "typical label ({bytes} B) needs QR version {version} > {URL_MAX_VERSION} in URL form"
    );
    assert!(
        cl1 <= CL1_MAX_VERSION,
        "typical label ({bytes} B) needs QR version {cl1} > {CL1_MAX_VERSION} in CL1 form"
    );

    // Heavier variants, printed for the record (not asserted: they show where the limit is).
    let mut lab = typical();
    lab.assessment = AssessmentRef::ThirdParty;
    lab.lab = Some("SG-LAB-007".into());
    measure("typical + third-party lab id", &lab, "https://cl.example/v");
    measure(
        "typical, 28-char verifier URL",
        &typical(),
        "https://cyberlabel.example/v",
    );
    let mut heavy = lab.clone();
    heavy.manufacturer = "Acme Devices Pte Ltd".into();
    heavy.firmware_versions = ">= 2.4.0".into();
    measure(
        "20-char maker + lab, 28-char URL",
        &heavy,
        "https://cyberlabel.example/v",
    );
}
