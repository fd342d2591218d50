//! Scheme catalog, trust list and offline verdict: every rule and every verdict.
#![allow(clippy::unwrap_used)]

mod label_common;

use cyberlabel_core::catalog::{Catalog, CatalogError, Inconsistency, SchemeKind};
use cyberlabel_core::claim::{Assessment, ClaimError, Field, ProvisionSet};
use cyberlabel_core::cose::{self, CoseError, key_id, sign_label};
use cyberlabel_core::payload;
use cyberlabel_core::status;
use cyberlabel_core::trust::{
    self, Effect, Equivalence, Quorum, Threshold, TrustError, TrustList, TrustedIssuer, TrustedLog,
    TrustedWitness, WitnessGroup, WitnessPolicy,
};
use cyberlabel_core::verdict::{Problem, Verdict, verify_offline};
use label_common::*;

#[test]
fn builtin_catalog_loads_with_the_documented_schemes() {
    let c = Catalog::builtin();
    assert_eq!(
        c,
        Catalog::from_json(cyberlabel_core::catalog::BUILTIN_JSON).unwrap()
    );
    let ids: Vec<&str> = c.schemes.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "SG-CLS",
            "US-CTM",
            "DE-BSI",
            "FI-TRAFICOM",
            "JP-JCSTAR",
            "KR-CIC"
        ]
    );
    let cls = c.scheme("SG-CLS", 1).unwrap();
    assert_eq!(cls.kind, SchemeKind::MultiLevel);
    assert_eq!(cls.levels.len(), 4);
    assert_eq!(cls.provisions.len(), 78); // EN 303 645 v3 list, from the baseline
    assert_eq!(cls.provision(0).unwrap().id, "5.0-1");
    assert_eq!(cls.provision_index("5.3-13"), Some(24));
    assert_eq!(cls.validity.max_days, Some(1095));
    assert!(cls.validity.tied_to_support);
    assert_eq!(c.scheme("US-CTM", 1).unwrap().levels.len(), 1);
    assert_eq!(c.scheme("DE-BSI", 1).unwrap().kind, SchemeKind::Descriptive);
    assert_eq!(c.scheme("KR-CIC", 1).unwrap().levels[2].name, "Standard");
    assert_eq!(
        c.scheme("JP-JCSTAR", 1)
            .unwrap()
            .level(1)
            .unwrap()
            .max_validity_days,
        Some(730)
    );
    for s in &c.schemes {
        assert!(!s.sources.is_empty(), "{} has sources", s.id);
        for l in &s.levels {
            assert!(!l.meaning.is_empty());
        }
    }
    for code in [1u16, 11, 12, 13, 14, 15, 16, 99] {
        assert!(c.category(code).is_some(), "category {code}");
    }
    assert!(c.latest("SG-CLS").is_some());
    // The resolved catalog serializes and reloads to the same value.
    assert_eq!(Catalog::from_json(&c.to_json()).unwrap(), c);
}

#[test]
fn validate_claim_accepts_a_good_claim_and_names_each_bad_field() {
    let c = Catalog::builtin();
    let good = typical_claim();
    c.validate_claim(&good).unwrap();

    let mut cases: Vec<(cyberlabel_core::claim::Claim, CatalogError, Field)> = Vec::new();
    let mut x = good.clone();
    x.scheme = "XX-NONE".into();
    cases.push((x, CatalogError::UnknownScheme, Field::Scheme));
    let mut x = good.clone();
    x.catalog_version = 9;
    cases.push((x, CatalogError::UnknownVersion, Field::CatalogVersion));
    let mut x = good.clone();
    x.level = 5;
    cases.push((x, CatalogError::UnknownLevel, Field::Level));
    let mut x = good.clone();
    x.category = 500;
    cases.push((x, CatalogError::UnknownCategory, Field::Category));
    let mut x = good.clone();
    x.provisions = ProvisionSet::from_indices([3, 78]);
    cases.push((
        x,
        CatalogError::ProvisionOutOfRange { index: 78 },
        Field::Provisions,
    ));
    let mut x = good.clone();
    x.assessment = Assessment::SelfDeclared; // CLS level 3 needs a lab
    cases.push((x, CatalogError::AssessmentNotAllowed, Field::Assessment));
    let mut x = good.clone();
    x.assessment = Assessment::ThirdParty { lab: 0 };
    cases.push((
        x,
        CatalogError::Claim(ClaimError::WrongType(Field::Lab)),
        Field::Lab,
    ));
    let mut x = good.clone();
    x.assessment = Assessment::ThirdParty { lab: 99 };
    cases.push((x, CatalogError::UnknownLab { code: 99 }, Field::Lab));
    let mut x = good.clone();
    x.expires_at = x.issued_at;
    cases.push((
        x,
        CatalogError::Claim(ClaimError::DatesOutOfOrder),
        Field::ExpiresAt,
    ));
    let mut x = good.clone();
    x.support_end = x.issued_at - 1;
    cases.push((x, CatalogError::SupportEndsBeforeIssue, Field::SupportEnd));
    let mut x = good.clone();
    x.support_end = x.expires_at - DAY - 1; // CLS: validity tied to support
    cases.push((x, CatalogError::ExpiresAfterSupportEnd, Field::ExpiresAt));
    let mut x = good.clone();
    x.expires_at = x.issued_at + 1096 * DAY;
    x.support_end = x.expires_at - 1;
    cases.push((
        x,
        CatalogError::ValidityTooLong { max_days: 1095 },
        Field::ExpiresAt,
    ));
    let mut x = good.clone();
    x.scheme = "JP-JCSTAR".into();
    x.level = 1;
    x.assessment = Assessment::SelfDeclared;
    x.provisions = ProvisionSet::from_indices([0, 2]);
    x.expires_at = x.issued_at + 731 * DAY; // ★1: at most 2 years (level override)
    cases.push((
        x,
        CatalogError::ValidityTooLong { max_days: 730 },
        Field::ExpiresAt,
    ));
    for (i, (claim, err, field)) in cases.into_iter().enumerate() {
        assert_eq!(c.validate_claim(&claim), Err(err), "case {i}");
        assert_eq!(err.field(), Some(field), "case {i}");
    }
    // A binary scheme: pass = level 1, third party only.
    let mut us = good.clone();
    us.scheme = "US-CTM".into();
    us.level = 1;
    us.provisions = ProvisionSet::from_indices(0..10);
    us.expires_at = us.issued_at + 10 * 365 * DAY; // no published maximum
    // Lab codes are per scheme: US-CTM lists only lab 1.
    assert_eq!(
        c.validate_claim(&us),
        Err(CatalogError::UnknownLab { code: 3 })
    );
    us.assessment = Assessment::ThirdParty { lab: 1 };
    c.validate_claim(&us).unwrap();
    us.provisions.insert(10);
    assert_eq!(
        c.validate_claim(&us),
        Err(CatalogError::ProvisionOutOfRange { index: 10 })
    );
}

const EXTRA_SCHEME: &str = r#"{
  "categories": [{"code": 200, "name": "Smart bicycle lock"}],
  "schemes": [{
    "id": "XL-DEMO", "version": 1, "name": "Demo scheme", "owner": "Demo body", "country": "XL",
    "kind": "multi_level",
    "provisions": [{"id": "D-1", "title": "One"}, {"id": "D-2", "title": "Two"}],
    "levels": [
      {"level": 1, "name": "Bronze", "meaning": "Basic.", "assessment": ["self_declared"], "requires": ["D-2"]}
    ],
    "validity": {"max_days": 365, "tied_to_support": false},
    "sources": [{"key": "X", "reference": "none"}]
  }]
}"#;

#[test]
fn an_issuing_body_adds_its_own_scheme_as_data() {
    let mut c = Catalog::builtin();
    let n = c.schemes.len();
    c.merge(Catalog::from_json(EXTRA_SCHEME).unwrap()).unwrap();
    assert_eq!(c.schemes.len(), n + 1);
    // Merging the same data again is a no-op.
    c.merge(Catalog::from_json(EXTRA_SCHEME).unwrap()).unwrap();
    assert_eq!(c.schemes.len(), n + 1);

    let mut claim = typical_claim();
    claim.scheme = "XL-DEMO".into();
    claim.level = 1;
    claim.category = 200;
    claim.assessment = Assessment::SelfDeclared;
    claim.expires_at = claim.issued_at + 300 * DAY;
    claim.provisions = ProvisionSet::from_indices([0]);
    assert_eq!(
        c.validate_claim(&claim),
        Err(CatalogError::MissingRequiredProvision { index: 1 })
    );
    claim.provisions.insert(1);
    c.validate_claim(&claim).unwrap();

    // A conflicting redefinition is refused and leaves the catalog unchanged.
    let conflict = EXTRA_SCHEME.replace("\"Bronze\"", "\"Gold\"");
    let before = c.clone();
    assert_eq!(
        c.merge(Catalog::from_json(&conflict).unwrap()),
        Err(CatalogError::Inconsistent(Inconsistency::ConflictingScheme))
    );
    assert_eq!(c, before);
    let conflict = r#"{"categories": [{"code": 1, "name": "Not a camera"}]}"#;
    assert_eq!(
        c.merge(Catalog::from_json(conflict).unwrap()),
        Err(CatalogError::Inconsistent(
            Inconsistency::ConflictingCategory
        ))
    );
}

#[test]
fn inconsistent_catalog_data_is_rejected() {
    let bad = [
        (
            EXTRA_SCHEME.replace("{\"id\": \"D-2\"", "{\"id\": \"D-1\""),
            Inconsistency::DuplicateProvision,
        ),
        (
            EXTRA_SCHEME.replace("\"requires\": [\"D-2\"]", "\"requires\": [\"D-9\"]"),
            Inconsistency::UnknownRequiredProvision,
        ),
        (
            EXTRA_SCHEME.replace("\"level\": 1,", "\"level\": 0,"),
            Inconsistency::BadLevels,
        ),
        (
            EXTRA_SCHEME.replace("[\"self_declared\"]", "[]"),
            Inconsistency::NoAssessment,
        ),
        (
            EXTRA_SCHEME.replace(
                "\"kind\": \"multi_level\",",
                "\"kind\": \"multi_level\", \"baseline\": \"NOPE\",",
            ),
            Inconsistency::UnknownBaseline,
        ),
    ];
    for (json, want) in bad {
        assert_eq!(
            Catalog::from_json(&json),
            Err(CatalogError::Inconsistent(want))
        );
    }
    assert!(matches!(
        Catalog::from_json("{\"schemes\": 3}"),
        Err(CatalogError::Json { .. })
    ));
    assert_eq!(
        Catalog::from_json(&" ".repeat(cyberlabel_core::catalog::MAX_CATALOG_JSON + 1)),
        Err(CatalogError::TooLarge)
    );
}

/// A trust list trusting `key(1)` for SG-CLS during 2026–2027.
fn trust_list() -> TrustList {
    let mut t = TrustList {
        version: 1,
        issued_at: T0,
        expires_at: T0 + 400 * DAY,
        ..Default::default()
    };
    t.issuers.push(TrustedIssuer::new(
        "Example Issuing Body",
        &key(1).verifying_key(),
        &["SG-CLS"],
        T0 - DAY,
        T0 + 2 * 365 * DAY,
    ));
    t.equivalences.push(Equivalence {
        from_scheme: "DE-BSI".into(),
        from_level_min: 1,
        to_scheme: "SG-CLS".into(),
        to_level: 2,
        effect: Effect::Recognised,
        waived: vec![],
        categories_included: vec![],
        categories_excluded: vec![11, 12, 14, 15, 16],
        effective_from: 1_666_224_000, // 2022-10-20
        effective_to: None,
        basis: "SG-DE MRA 2022".into(),
    });
    t.equivalences.push(Equivalence {
        from_scheme: "KR-CIC".into(),
        from_level_min: 2,
        to_scheme: "SG-CLS".into(),
        to_level: 3,
        effect: Effect::Recognised,
        waived: vec![],
        categories_included: vec![],
        categories_excluded: vec![],
        effective_from: 1_735_689_600, // 2025-01-01
        effective_to: Some(T0 + 100 * DAY),
        basis: "SG-KR MRA 2024".into(),
    });
    // Round trip through JSON so the loaded form is what is tested.
    TrustList::from_json(&t.to_json()).unwrap()
}

#[test]
fn trust_list_signing_lookup_and_equivalences() {
    let t = trust_list();
    let anchor = key(50);
    let signed = trust::sign(t.to_json().as_bytes(), &anchor);
    let loaded = TrustList::from_signed(&signed, &anchor.verifying_key(), T0).unwrap();
    assert_eq!(loaded, t);
    assert_eq!(
        TrustList::from_signed(&signed, &key(51).verifying_key(), T0),
        Err(TrustError::Cose(CoseError::BadSignature))
    );
    assert_eq!(
        TrustList::from_signed(&signed, &anchor.verifying_key(), T0 + 401 * DAY),
        Err(TrustError::Expired)
    );
    assert_eq!(
        TrustList::from_signed(&signed, &anchor.verifying_key(), T0 - 1),
        Err(TrustError::NotYetValid)
    );
    // A label envelope is not a trust list.
    let label = sign_label(&typical_claim(), &anchor);
    assert!(TrustList::from_signed(&label, &anchor.verifying_key(), T0).is_err());

    let kid = key_id(&key(1).verifying_key());
    assert!(t.issuer_for_kid(&kid, T0).is_some());
    assert!(t.issuer_for_kid(&kid, T0 - 2 * DAY).is_none());
    assert!(t.issuer_for_kid(&[0; 8], T0).is_none());

    // SG-DE: BSI label for a camera counts as CLS level 2; not for a door lock.
    let e = t.equivalents("DE-BSI", 1, 1, T0);
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].to_scheme.as_str(), e[0].to_level), ("SG-CLS", 2));
    assert!(t.equivalents("DE-BSI", 1, 11, T0).is_empty());
    // SG-KR: Basic (2) and up, within the effective window only.
    assert_eq!(t.equivalents("KR-CIC", 2, 1, T0).len(), 1);
    assert!(t.equivalents("KR-CIC", 1, 1, T0).is_empty());
    assert!(t.equivalents("KR-CIC", 3, 1, T0 + 100 * DAY).is_empty());
}

#[test]
fn trust_list_rejects_bad_issuer_entries() {
    let t = trust_list();
    let json = t.to_json();
    let kid_hex = &t.issuers[0].kid;
    let other_kid = hex::encode(key_id(&key(2).verifying_key()));
    assert_eq!(
        TrustList::from_json(&json.replace(kid_hex.as_str(), &other_kid)),
        Err(TrustError::KidMismatch { index: 0 })
    );
    let pk = &t.issuers[0].public_key;
    assert_eq!(
        TrustList::from_json(&json.replace(pk.as_str(), "AAAA")),
        Err(TrustError::BadIssuerKey { index: 0 })
    );
    let mut dup = t.clone();
    dup.issuers.push(dup.issuers[0].clone());
    assert_eq!(
        TrustList::from_json(&dup.to_json()),
        Err(TrustError::DuplicateKid { index: 1 })
    );
    assert!(matches!(
        TrustList::from_json("[]"),
        Err(TrustError::Json { .. })
    ));
}

/// The trust list's reader (core's own JSON reader, not serde) keeps every field a writer
/// sets, refuses a key given twice, ignores unknown keys and says where it stopped.
#[test]
fn trust_list_json_keeps_every_field_and_says_where_it_stopped() {
    let mut t = trust_list();
    let log_key = key(60);
    let vkey = |name: &str, k: &ed25519_dalek::SigningKey| {
        cyberlabel_core::note::VerifierKey::new(
            name,
            cyberlabel_core::note::KeyKind::Ed25519,
            k.verifying_key(),
        )
        .unwrap()
        .to_string()
    };
    t.logs.push(TrustedLog {
        origin: "example.org/log".into(),
        vkey: vkey("example.org/log", &log_key),
        url: "https://example.org/log/".into(),
        max_merge_delay: 86_400,
        witness_policy: Some(WitnessPolicy {
            groups: vec![WitnessGroup {
                name: "g".into(),
                threshold: Threshold::Word("any".into()),
                members: vec!["w1".into(), "w2".into()],
            }],
            quorum: Quorum::Name("g".into()),
            max_age: 600,
        }),
    });
    for (i, n) in ["w1", "w2"].iter().enumerate() {
        t.witnesses.push(TrustedWitness {
            name: (*n).into(),
            vkey: vkey(n, &key(61 + i as u8)),
        });
    }
    t.witness_policy = WitnessPolicy {
        groups: vec![WitnessGroup {
            name: "both".into(),
            threshold: Threshold::Count(2),
            members: vec!["w1".into(), "w2".into()],
        }],
        quorum: Quorum::Count(1),
        max_age: 7_200,
    };
    let mut second = TrustedIssuer::new(
        "Partner Body",
        &key(2).verifying_key(),
        &["DE-BSI", "SG-CLS"],
        T0 - DAY,
        T0 + DAY,
    );
    second.retired_at_index = Some(7);
    second.compromised_at_index = Some(9);
    second.log = Some("example.org/log".into());
    t.issuers.push(second);
    t.equivalences[0].effect = Effect::RequirementWaiver;
    t.equivalences[0].waived = vec!["5.1-1".into()];
    t.equivalences[0].categories_included = vec![1, 2];
    t.equivalences[1].effect = Effect::SimplifiedApplication;
    let json = t.to_json();
    assert_eq!(TrustList::from_json(&json), Ok(t.clone()));

    // a newer writer's extra key is ignored; a key twice is refused where the second one is
    let extra = json.replacen("{\n", "{\n  \"future\": {\"x\": [1, 2.5e3, null]},\n", 1);
    assert_eq!(TrustList::from_json(&extra), Ok(t.clone()));
    let twice = json.replacen("{\n", "{\n  \"version\": 1,\n", 1);
    assert_eq!(
        TrustList::from_json(&twice),
        Err(TrustError::Json { line: 3, column: 3 })
    );
    // wrong types and ranges are refused at the value
    for (from, to) in [
        ("\"version\": 1", "\"version\": -1"),
        ("\"version\": 1", "\"version\": 1.0"),
        ("\"version\": 1", "\"version\": \"1\""),
        ("\"max_age\": 600", "\"max_age\": null"),
        ("\"threshold\": 2", "\"threshold\": 4294967296"),
        (
            "\"effect\": \"requirement_waiver\"",
            "\"effect\": \"RequirementWaiver\"",
        ),
    ] {
        assert!(json.contains(from), "{from}");
        let bad = json.replacen(from, to, 1);
        let at = bad.find(to).unwrap() + to.find(':').unwrap() + 2;
        let line = bad[..at].matches('\n').count() + 1;
        let column = at - bad[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
        assert_eq!(
            TrustList::from_json(&bad),
            Err(TrustError::Json { line, column }),
            "{to}"
        );
    }
    // a missing key is reported at the end of its object
    let no_version = json.replacen("  \"version\": 1,\n", "", 1);
    let Err(TrustError::Json { line, .. }) = TrustList::from_json(&no_version) else {
        panic!("accepted a list without a version")
    };
    assert_eq!(line, no_version.lines().count());
}

#[test]
fn verdict_for_each_case() {
    let t = trust_list();
    let c = Catalog::builtin();
    let now = T0 + 30 * DAY;
    let claim = typical_claim();
    let label = sign_label(&claim, &key(1));

    // Genuine.
    let r = verify_offline(&label, &t, &c, now);
    assert_eq!(r.verdict, Verdict::Genuine, "{r:?}");
    assert_eq!(r.problem, None);
    assert_eq!(r.claim.as_ref(), Some(&claim));
    assert_eq!(r.issuer.as_ref().unwrap().name, "Example Issuing Body");
    assert_eq!(r.kid, Some(key_id(&key(1).verifying_key())));

    // Expired.
    let r = verify_offline(&label, &t, &c, claim.expires_at);
    assert_eq!(
        (r.verdict, r.problem),
        (Verdict::Expired, Some(Problem::Expired))
    );
    // expires_at is the first invalid moment: the second before it is still genuine.
    assert_eq!(
        verify_offline(&label, &t, &c, claim.expires_at - 1).verdict,
        Verdict::Genuine
    );

    // Unknown issuer: a key not in the trust list.
    let r = verify_offline(&sign_label(&claim, &key(7)), &t, &c, now);
    assert_eq!(
        (r.verdict, r.problem),
        (Verdict::UnknownIssuer, Some(Problem::UnknownKid))
    );
    assert!(r.issuer.is_none());

    // Unknown issuer: trusted key, but not for this scheme.
    let mut us = claim.clone();
    us.scheme = "US-CTM".into();
    us.level = 1;
    let r = verify_offline(&sign_label(&us, &key(1)), &t, &c, now);
    assert_eq!(
        (r.verdict, r.problem),
        (
            Verdict::UnknownIssuer,
            Some(Problem::NotAuthorisedForScheme)
        )
    );

    // Key not valid at issuance: issued before the key's not_before.
    let mut early = claim.clone();
    early.issued_at = T0 - 2 * DAY;
    let r = verify_offline(&sign_label(&early, &key(1)), &t, &c, now);
    assert_eq!(
        (r.verdict, r.problem),
        (Verdict::UnknownIssuer, Some(Problem::KeyNotValidAtIssuance))
    );

    // Tampered: the claim changed after signing (level 3 -> 4), kid intact.
    let mut s = cose::parse_sign1(&label).unwrap();
    let mut forged = claim.clone();
    forged.level = 4;
    s.payload = forged.to_cbor();
    let tampered = rebuild(&s);
    let r = verify_offline(&tampered, &t, &c, now);
    assert_eq!(
        (r.verdict, r.problem),
        (Verdict::Tampered, Some(Problem::BadSignature))
    );
    assert!(r.issuer.is_none());

    // Malformed: not COSE, a status record, and a claim the catalog rejects.
    let r = verify_offline(b"hello", &t, &c, now);
    assert_eq!(r.verdict, Verdict::Malformed);
    assert!(matches!(r.problem, Some(Problem::Decode(_))));
    let status = cose::sign_status(
        &status::StatusRecord {
            action: status::StatusAction::Suspend,
            target: 1,
            reason: status::ReasonCode::InvestigationPending,
            time: T0,
            target_leaf_hash: [0; 32],
        },
        &key(1),
    );
    assert_eq!(
        verify_offline(&status, &t, &c, now).problem,
        Some(Problem::NotALabel)
    );
    let mut bad_level = claim.clone();
    bad_level.level = 9;
    let r = verify_offline(&sign_label(&bad_level, &key(1)), &t, &c, now);
    assert_eq!(
        (r.verdict, r.problem),
        (
            Verdict::Malformed,
            Some(Problem::Catalog(CatalogError::UnknownLevel))
        )
    );

    for v in [
        Verdict::Genuine,
        Verdict::Expired,
        Verdict::UnknownIssuer,
        Verdict::Tampered,
        Verdict::Malformed,
    ] {
        assert!(!v.headline().is_empty() && !v.explain().is_empty() && !v.name().is_empty());
    }
}

/// Re-encodes a Sign1 (tagged, empty unprotected) from its parts, keeping the old signature.
fn rebuild(s: &cose::Sign1) -> Vec<u8> {
    use ciborium::Value;
    cyberlabel_core::cbor::encode(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(s.protected.clone()),
            Value::Map(vec![]),
            Value::Bytes(s.payload.clone()),
            Value::Bytes(s.signature.clone()),
        ])),
    ))
}

#[test]
fn typical_label_size() {
    let mut claim = typical_claim();
    claim.product = "AcmeCam Pro 2 Outdoor 4K Wi-Fi".into(); // 30 characters
    assert_eq!(claim.product.chars().count(), 30);
    assert_eq!(claim.provisions.len(), 6);
    Catalog::builtin().validate_claim(&claim).unwrap();
    let label = sign_label(&claim, &key(1));
    let url = payload::to_url("https://verify.example/v", &label);
    let (prefix, digits) = payload::qr_segments(&url).unwrap();
    println!(
        "typical label: claim {} B, label {} B, URL digits {}, URL prefix {} chars, CL1 form {} chars",
        claim.to_cbor().len(),
        label.len(),
        digits.len(),
        prefix.len(),
        payload::to_cl1(&label).len()
    );
    // Envelope overhead: tag+array (2) + protected bstr (14) + {} (1) + payload head + sig (66).
    let overhead = label.len() - claim.to_cbor().len();
    assert!((83..=85).contains(&overhead), "overhead {overhead}");
    assert_eq!(digits.len(), payload::encode_digits(&label).len());
    assert_eq!(payload::decode(&url).unwrap(), label);
}
