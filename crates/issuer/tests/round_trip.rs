//! Issue → QR PNG (and artwork PNG) → decode with rqrr → payload decode → verify_offline =
//! Genuine, for every level of every scheme in the built-in catalog.

mod common;

use cyberlabel_core::catalog::Catalog;
use cyberlabel_core::payload;
use cyberlabel_core::verdict::{Verdict, verify_offline};
use cyberlabel_issuer::{keys, mint};

#[test]
fn every_scheme_and_level_round_trips_through_the_qr_png() {
    let catalog = Catalog::builtin();
    let key = keys::generate().unwrap();
    let trust = common::trust(&catalog, &key.verifying_key());
    let levels = common::all_levels(&catalog);
    assert!(levels.len() >= 14, "catalog has {} levels", levels.len());
    let mut schemes_seen = std::collections::BTreeSet::new();
    for (i, (scheme, level)) in levels.iter().enumerate() {
        let desc = common::description(scheme, *level);
        let minted = mint::mint(&desc, &catalog, &key, i as u64, common::NOW)
            .unwrap_or_else(|e| panic!("{} level {level}: {e}", scheme.id));
        for cl1 in [false, true] {
            let options = mint::RenderOptions {
                verifier_url: "https://cyberlabel.example/v",
                cl1,
                module_px: 4,
            };
            let rendered = mint::render(&minted.label, &catalog, &options).unwrap();
            // The artwork (larger, slow to scan in a debug build) in URL form only.
            let mut pngs = vec![("qr", &rendered.qr_png)];
            if !cl1 {
                pngs.push(("artwork", &rendered.artwork.png));
            }
            for (what, png) in pngs {
                let texts = common::rqrr_decode(png);
                assert_eq!(texts.len(), 1, "{} level {level} {what}", scheme.id);
                let expected = if cl1 { &rendered.cl1 } else { &rendered.url };
                assert_eq!(&texts[0], expected);
                let label = payload::decode(&texts[0]).unwrap();
                assert_eq!(label, minted.label);
                let report = verify_offline(&label, &trust, &catalog, common::NOW + 60);
                assert_eq!(
                    report.verdict,
                    Verdict::Genuine,
                    "{} level {level}: {:?}",
                    scheme.id,
                    report.problem
                );
                assert_eq!(report.claim.as_ref(), Some(&minted.claim));
            }
        }
        schemes_seen.insert(scheme.id.clone());
    }
    for id in [
        "SG-CLS",
        "US-CTM",
        "DE-BSI",
        "FI-TRAFICOM",
        "JP-JCSTAR",
        "KR-CIC",
    ] {
        assert!(schemes_seen.contains(id), "{id} not covered");
    }
}

#[test]
fn a_label_from_another_key_is_unknown_issuer_and_a_flipped_byte_is_never_genuine() {
    let catalog = Catalog::builtin();
    let key = keys::generate().unwrap();
    let other = keys::generate().unwrap();
    let scheme = catalog.latest("SG-CLS").unwrap();
    let minted = mint::mint(
        &common::description(scheme, 2),
        &catalog,
        &other,
        1,
        common::NOW,
    )
    .unwrap();
    let trust = common::trust(&catalog, &key.verifying_key());
    assert_eq!(
        verify_offline(&minted.label, &trust, &catalog, common::NOW).verdict,
        Verdict::UnknownIssuer
    );

    let minted = mint::mint(
        &common::description(scheme, 2),
        &catalog,
        &key,
        1,
        common::NOW,
    )
    .unwrap();
    for i in 0..minted.label.len() {
        let mut bad = minted.label.clone();
        bad[i] ^= 0x01;
        let v = verify_offline(&bad, &trust, &catalog, common::NOW).verdict;
        assert_ne!(v, Verdict::Genuine, "byte {i}");
    }
}

#[test]
fn catalog_violations_are_refused_with_the_field_named() {
    let catalog = Catalog::builtin();
    let key = keys::generate().unwrap();
    let cls = catalog.latest("SG-CLS").unwrap();

    let mut d = common::description(cls, 3);
    d.assessment = cyberlabel_issuer::product::AssessmentRef::SelfDeclared;
    d.lab = None;
    let err = mint::mint(&d, &catalog, &key, 0, common::NOW).unwrap_err();
    assert!(err.to_string().contains("assessment"), "{err}");

    let mut d = common::description(cls, 2);
    d.level = cyberlabel_issuer::product::LevelRef::Number(5);
    let err = mint::mint(&d, &catalog, &key, 0, common::NOW).unwrap_err();
    assert!(err.to_string().contains("field level"), "{err}");

    let mut d = common::description(cls, 2);
    d.provisions.push("9.9-9".into());
    let err = mint::mint(&d, &catalog, &key, 0, common::NOW).unwrap_err();
    assert!(err.to_string().contains("9.9-9"), "{err}");

    let mut d = common::description(cls, 2);
    d.scheme = "XX-NOPE".into();
    let err = mint::mint(&d, &catalog, &key, 0, common::NOW).unwrap_err();
    assert!(
        err.to_string().contains("SG-CLS"),
        "lists the known schemes: {err}"
    );

    let mut d = common::description(cls, 2);
    d.expires_at = Some("2035-01-01".into());
    let err = mint::mint(&d, &catalog, &key, 0, common::NOW).unwrap_err();
    assert!(err.to_string().contains("expires_at"), "{err}");

    let mut d = common::description(cls, 2);
    d.support_until = "2026-02-30".into();
    let err = mint::mint(&d, &catalog, &key, 0, common::NOW).unwrap_err();
    assert!(err.to_string().contains("support_until"), "{err}");
}

/// Signed text is stored in Unicode NFC: the same name typed decomposed (a + combining
/// diaeresis) or precomposed signs the same bytes; a bidi override is refused with the field
/// named, before anything is signed.
#[test]
fn signed_text_is_nfc_and_hidden_characters_are_refused() {
    let catalog = Catalog::builtin();
    let desc = |manufacturer: &str| -> cyberlabel_issuer::product::ProductDescription {
        serde_json::from_value(serde_json::json!({
            "scheme": "SG-CLS", "level": 1, "manufacturer": manufacturer,
            "product": "Cam", "hardware_versions": "B", "firmware_versions": "2.4",
            "category": 1, "provisions": ["5.1-1", "5.1-2", "5.2-1", "5.3-2", "5.3-13", "5.3-16"],
            "assessment": "self_declared", "issued_at": "2026-11-25", "support_until": "2030-12-31",
        }))
        .unwrap()
    };
    let now = 1_795_737_600;
    let nfd = mint::claim_from_description(&desc("Gera\u{308}te GmbH "), &catalog, 3, now).unwrap();
    let nfc = mint::claim_from_description(&desc("Geräte GmbH"), &catalog, 3, now).unwrap();
    assert_eq!(nfd.manufacturer, "Geräte GmbH");
    assert_eq!(nfd.to_cbor(), nfc.to_cbor());
    let bidi =
        mint::claim_from_description(&desc("Acme\u{202e}gnp.exe"), &catalog, 3, now).unwrap();
    let e = catalog.validate_claim(&bidi).unwrap_err();
    assert_eq!(e.field().map(|f| f.name()), Some("manufacturer"), "{e}");
}
