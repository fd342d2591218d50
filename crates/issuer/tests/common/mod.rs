//! Shared helpers for the issuer integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::path::PathBuf;
use std::process::Command;

use cyberlabel_core::catalog::{Catalog, Scheme};
use cyberlabel_core::claim::AssessmentKind;
use cyberlabel_core::trust::{TrustList, TrustedIssuer};
use cyberlabel_issuer::product::{AssessmentRef, CategoryRef, LevelRef, ProductDescription};
use ed25519_dalek::VerifyingKey;

/// 2026-11-25T00:00:00Z: a fixed "now" so tests do not depend on the clock.
pub const NOW: u64 = 1_795_564_800;

/// A product description valid for `scheme` at `level`: the level's allowed assessment (third
/// party when allowed, with a lab), its required provisions plus the first few of the list.
pub fn description(scheme: &Scheme, level: u8) -> ProductDescription {
    let lvl = scheme.level(level).unwrap();
    let third = lvl.assessment.contains(&AssessmentKind::ThirdParty);
    let mut provisions: Vec<String> = lvl.requires.clone();
    for p in scheme.provisions.iter().take(6) {
        if !provisions.contains(&p.id) {
            provisions.push(p.id.clone());
        }
    }
    ProductDescription {
        scheme: scheme.id.clone(),
        level: LevelRef::Number(level),
        manufacturer: "Acme Devices Pte Ltd".into(),
        product: "Acme SmartCam 2 Outdoor Pro 4K".into(),
        hardware_versions: "rev B".into(),
        firmware_versions: ">= 2.4.0".into(),
        category: CategoryRef::Code(1),
        provisions,
        assessment: if third {
            AssessmentRef::ThirdParty
        } else {
            AssessmentRef::SelfDeclared
        },
        lab: third.then(|| "1".into()), // by code: lab 1 of the scheme's list
        issued_at: None,
        expires_at: None,
        support_until: "2029-06-30".into(),
        supersedes: None,
    }
}

/// Every (scheme, level) of the built-in catalog.
pub fn all_levels(catalog: &Catalog) -> Vec<(Scheme, u8)> {
    let mut out = vec![];
    for s in &catalog.schemes {
        for l in &s.levels {
            out.push((s.clone(), l.level));
        }
    }
    out
}

/// A trust list trusting `key` for every scheme of the catalog.
pub fn trust(catalog: &Catalog, key: &VerifyingKey) -> TrustList {
    let schemes: Vec<&str> = catalog.schemes.iter().map(|s| s.id.as_str()).collect();
    TrustList {
        expires_at: u64::MAX,
        issuers: vec![TrustedIssuer::new(
            "test issuer",
            key,
            &schemes,
            0,
            u64::MAX,
        )],
        ..TrustList::default()
    }
}

/// Every QR text rqrr finds in a PNG (each must decode).
pub fn rqrr_decode(png: &[u8]) -> Vec<String> {
    let img = image::load_from_memory(png).unwrap().to_luma8();
    cyberlabel_issuer::qr::read_qr_codes(&img)
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

/// Runs a Python test script from this directory; panics with the install command if a tool is
/// missing (exit code 3 from the script, or no python3 at all) — these tests must not skip.
pub fn python(script: &str, args: &[&str]) -> (i32, String, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    // `cargo xtask test` provides a venv python with the tools (scripts/requirements-test.txt).
    let python = std::env::var("CYBERLABEL_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python).arg(&path).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {python} ({e}): install Python 3, then the test tools with `cargo xtask setup` (apt zbar-tools; pip zxing-cpp pillow pycose)")
    });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().unwrap_or(-1);
    assert_ne!(
        code, 3,
        "{script}: a required test tool is missing:\n{stderr}"
    );
    (code, stdout, stderr)
}
