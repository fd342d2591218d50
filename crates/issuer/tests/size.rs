//! QR size of labels over the whole catalog (issue 13 item 4): every typical label fits QR
//! version ≤ 10 at error correction M, in both forms, with a verifier URL of 30 characters.
//!
//! "Typical" = a 24-character manufacturer, a 30-character model, 5-character hardware and
//! firmware versions, 6 provisions (or all the scheme lists, if fewer; always the level's
//! required ones), a third-party lab where the level allows one, a serial in the tens of
//! millions. Version 10-M holds 216 data bytes: after a 31-byte URL prefix (30 characters and
//! `#`) in a byte segment, 178 label bytes as digits; after `CL1:`, 206.
//!
//! Printed (`-- --nocapture`; the README's figures come from here): a table of (scheme, level,
//! form) → label bytes, QR version, and the room left (bytes a label may grow and still fit
//! 10-M in that form) at typical sizes, and the same at the field limits (64-char names, 32-char
//! versions, every provision, the largest serial), which may exceed 10 — they show where the
//! limit is and are not asserted.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use cyberlabel_core::catalog::{Catalog, Scheme};
use cyberlabel_core::claim::AssessmentKind;
use cyberlabel_core::payload;
use cyberlabel_issuer::product::{AssessmentRef, CategoryRef, LevelRef, ProductDescription};
use cyberlabel_issuer::qr::{self, LabelQr};
use cyberlabel_issuer::{keys, mint};
use proptest::prelude::*;

/// A 30-character verifier URL, the longest the target names.
const URL_30: &str = "https://verify.cyberlabel.sg/v";
/// Largest QR version (ECC M) a typical label may need, in either form.
const MAX_VERSION: i16 = 10;
/// A serial in the tens of millions (a 5-byte CBOR uint), as in a busy log.
const SERIAL: u64 = 12_345_678;

struct Sizes {
    manufacturer: String,
    product: String,
    hardware: String,
    firmware: String,
    provisions: usize,
}

fn typical_sizes() -> Sizes {
    let s = Sizes {
        manufacturer: "Acme Smart Home Pte. Ltd".into(),
        product: "AcmeCam Pro 2 Outdoor Wi-Fi 4K".into(),
        hardware: "rev B".into(),
        firmware: "2.4.1".into(),
        provisions: 6,
    };
    assert_eq!(s.manufacturer.chars().count(), 24);
    assert_eq!(s.product.chars().count(), 30);
    s
}

fn limit_sizes() -> Sizes {
    Sizes {
        manufacturer: "Acme Consumer Electronics International Holdings (Asia) Pte. Ltd"
            .chars()
            .take(64)
            .collect(),
        product: "AcmeCam Pro 2 Outdoor Wi-Fi 4K HDR Night Vision, Solar Panel Kit".into(),
        hardware: "rev A, rev B, rev C, rev D, rev E"
            .chars()
            .take(32)
            .collect(),
        firmware: ">= 2.4.1, < 3.0 (all 2.x builds)"
            .chars()
            .take(32)
            .collect(),
        provisions: usize::MAX,
    }
}

/// A description for (scheme, level) with the given sizes: the level's required provisions,
/// then the scheme's list in order up to `sizes.provisions`; a third-party lab (the scheme's
/// first) where the level allows it.
fn describe(catalog: &Catalog, scheme: &Scheme, level: u8, sizes: &Sizes) -> ProductDescription {
    let lvl = scheme.level(level).unwrap();
    let third = lvl.assessment.contains(&AssessmentKind::ThirdParty);
    let mut provisions: Vec<String> = lvl.requires.clone();
    for p in &scheme.provisions {
        if provisions.len() >= sizes.provisions {
            break;
        }
        if !provisions.contains(&p.id) {
            provisions.push(p.id.clone());
        }
    }
    let lab = catalog.labs_of(&scheme.id).next().map(|l| l.id.clone());
    ProductDescription {
        scheme: scheme.id.clone(),
        level: LevelRef::Number(level),
        manufacturer: sizes.manufacturer.clone(),
        product: sizes.product.clone(),
        hardware_versions: sizes.hardware.clone(),
        firmware_versions: sizes.firmware.clone(),
        category: CategoryRef::Code(1),
        provisions,
        assessment: if third {
            AssessmentRef::ThirdParty
        } else {
            AssessmentRef::SelfDeclared
        },
        lab: if third { lab } else { None },
        issued_at: None,
        expires_at: None,
        support_until: "2029-06-30".into(),
        supersedes: None,
    }
}

/// (label bytes, URL-form version, CL1-form version) of a minted description.
fn measure(desc: &ProductDescription, serial: u64) -> (usize, i16, i16) {
    let catalog = Catalog::builtin();
    let key = keys::generate().unwrap();
    let minted = mint::mint(desc, &catalog, &key, serial, common::NOW).unwrap();
    let url = LabelQr::new(&payload::to_url(URL_30, &minted.label)).unwrap();
    let cl1 = LabelQr::new(&payload::to_cl1(&minted.label)).unwrap();
    (minted.label.len(), url.version(), cl1.version())
}

/// The longest label whose `form` text still fits QR version [`MAX_VERSION`]-M (the QR version
/// depends only on the label's length: its digits' count).
fn capacity(form: impl Fn(&[u8]) -> String) -> usize {
    (1..1024)
        .take_while(|&n| qr::version_for(&form(&vec![0xff; n])).unwrap() <= MAX_VERSION)
        .last()
        .unwrap()
}

/// Prints the table for every (scheme, level) at `sizes`; returns the rows.
fn table(title: &str, sizes: &Sizes, serial: u64) -> Vec<(String, u8, usize, i16, i16)> {
    let catalog = Catalog::builtin();
    let url_cap = capacity(|l| payload::to_url(URL_30, l));
    let cl1_cap = capacity(payload::to_cl1);
    println!(
        "\n{title} (verifier URL {URL_30:?}, {} chars; {MAX_VERSION}-M holds a label of {url_cap} B \
         in URL form, {cl1_cap} B in CL1 form; room = bytes left)",
        URL_30.len()
    );
    println!(
        "{:<12} {:>5} {:<13} {:>6} {:>10} {:>5} {:>10} {:>5}",
        "scheme", "level", "assessment", "bytes", "URL form", "room", "CL1 form", "room"
    );
    let mut rows = vec![];
    for (scheme, level) in common::all_levels(&catalog) {
        let desc = describe(&catalog, &scheme, level, sizes);
        let (bytes, url, cl1) = measure(&desc, serial);
        let room = |cap: usize| i64::try_from(cap).unwrap() - i64::try_from(bytes).unwrap();
        println!(
            "{:<12} {:>5} {:<13} {:>6} {:>8}-M {:>5} {:>8}-M {:>5}",
            scheme.id,
            level,
            desc.assessment.as_str(),
            bytes,
            url,
            room(url_cap),
            cl1,
            room(cl1_cap)
        );
        rows.push((scheme.id.clone(), level, bytes, url, cl1));
    }
    rows
}

#[test]
fn every_typical_label_fits_qr_10_m_in_both_forms() {
    let rows = table("typical sizes", &typical_sizes(), SERIAL);
    for (scheme, level, bytes, url, cl1) in &rows {
        assert!(
            *url <= MAX_VERSION && *cl1 <= MAX_VERSION,
            "{scheme} level {level}: {bytes} B needs QR {url}-M (URL) / {cl1}-M (CL1)"
        );
    }
    // The claim carries the lab as a code: a third-party label is no larger for a longer lab id.
    assert!(rows.iter().any(|r| r.0 == "SG-CLS" && r.1 == 4));
    // Printed, not asserted: where the limits are.
    table("field limits", &limit_sizes(), u64::MAX / 2);
}

/// The label's QR version at typical sizes does not depend on which names: any name of the
/// typical lengths made of letters, digits and spaces with up to two punctuation marks fits.
fn name(len: usize) -> impl Strategy<Value = String> {
    (
        proptest::string::string_regex(&format!("[A-Za-z0-9][A-Za-z0-9 ]{{{}}}", len - 2)).unwrap(),
        proptest::collection::vec(
            (0..len - 1, proptest::sample::select(&b".,-&()/'+"[..])),
            0..=2,
        ),
    )
        .prop_map(move |(base, marks)| {
            let mut b: Vec<u8> = format!("{base}X").into_bytes();
            for (at, m) in marks {
                b[at + 1] = m;
            }
            String::from_utf8(b).unwrap().trim().to_owned()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn typical_names_fit_qr_10_m(
        manufacturer in name(24),
        product in name(30),
        pick in any::<prop::sample::Index>(),
        serial in 0u64..100_000_000,
    ) {
        let catalog = Catalog::builtin();
        let levels = common::all_levels(&catalog);
        let (scheme, level) = &levels[pick.index(levels.len())];
        let sizes = Sizes { manufacturer, product, ..typical_sizes() };
        let desc = describe(&catalog, scheme, *level, &sizes);
        let (bytes, url, cl1) = measure(&desc, serial);
        prop_assert!(
            url <= MAX_VERSION && cl1 <= MAX_VERSION,
            "{} level {}: {:?} / {:?}: {} B needs {}-M / {}-M",
            scheme.id, level, sizes.manufacturer, sizes.product, bytes, url, cl1
        );
    }
}
