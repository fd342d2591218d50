//! Claims and COSE_Sign1 labels / status records: round trips, strictness, profile checks.
#![allow(clippy::unwrap_used)]

mod label_common;

use ciborium::Value;
use cyberlabel_core::cbor::{self, CborError};
use cyberlabel_core::claim::{Assessment, Claim, ClaimError, Field, ProvisionSet};
use cyberlabel_core::cose::{
    self, CoseError, Entry, decode_entry, key_id, parse_sign1, sign_label, sign_status,
    sign_with_content_type,
};
use cyberlabel_core::status::{ReasonCode, RecordError, StatusAction, StatusRecord};
use label_common::*;
use proptest::prelude::*;

fn claim_map(c: &Claim) -> Vec<(Value, Value)> {
    match cbor::decode(&c.to_cbor(), 1024).unwrap() {
        Value::Map(m) => m,
        _ => unreachable!(),
    }
}

fn keys_of(c: &Claim) -> Vec<u64> {
    claim_map(c)
        .iter()
        .map(|(k, _)| u64::try_from(k.as_integer().unwrap()).unwrap())
        .collect()
}

fn value_at(c: &Claim, key: u64) -> Option<Value> {
    claim_map(c)
        .into_iter()
        .find(|(k, _)| k == &cbor::uint(key))
        .map(|(_, v)| v)
}

/// The claim's map with key `key` set to `v`, or removed (`None`); `encode` sorts the keys.
fn with_entry(c: &Claim, key: u64, v: Option<Value>) -> Vec<u8> {
    let mut m: Vec<(Value, Value)> = claim_map(c)
        .into_iter()
        .filter(|(k, _)| k != &cbor::uint(key))
        .collect();
    if let Some(v) = v {
        m.push((cbor::uint(key), v));
    }
    cbor::encode(&Value::Map(m))
}

#[test]
fn claim_round_trips_and_is_canonical() {
    let c = typical_claim();
    let b = c.to_cbor();
    assert_eq!(Claim::from_cbor(&b).unwrap(), c);
    assert_eq!(cbor::encode(&cbor::decode(&b, 1024).unwrap()), b);
    // Claim format 2: a map, keys 1..=14 in order (no 2: catalog version 1; no 15: no
    // predecessor), the registered scheme as its code, the lab as its code, the names packed.
    assert_eq!(b[0], 0xa0 | 13, "a map of 13 entries");
    assert_eq!(keys_of(&c), [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    assert_eq!(value_at(&c, 1), Some(cbor::uint(1))); // SG-CLS
    assert_eq!(value_at(&c, 13), Some(cbor::uint(3))); // lab code 3
    assert!(matches!(value_at(&c, 4), Some(Value::Bytes(_))));
    // Keys appear when their value is not the default.
    let mut s = c.clone();
    s.supersedes = Some(7);
    s.assessment = Assessment::SelfDeclared;
    s.hardware_versions = String::new();
    s.catalog_version = 2;
    assert_eq!(keys_of(&s), [1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 14, 15]);
    assert_eq!(value_at(&s, 2), Some(cbor::uint(2)));
    assert_eq!(Claim::from_cbor(&s.to_cbor()).unwrap(), s);
    // An unregistered scheme id and non-ASCII names travel as text.
    let mut u = c.clone();
    u.scheme = "XL-DEMO".into();
    u.manufacturer = "Müller GmbH".into();
    assert_eq!(value_at(&u, 1), Some(Value::Text("XL-DEMO".into())));
    assert_eq!(value_at(&u, 4), Some(Value::Text("Müller GmbH".into())));
    assert_eq!(Claim::from_cbor(&u.to_cbor()).unwrap(), u);
}

#[test]
fn claim_decoder_rejects_each_violation_naming_the_field() {
    use cyberlabel_core::packed_text::pack;
    let c = typical_claim();
    let cases: Vec<(Vec<u8>, ClaimError)> = vec![
        (
            with_entry(&c, 16, Some(cbor::uint(1))),
            ClaimError::UnknownKey,
        ),
        // Key 0 is kept for a later format's number: this decoder does not read such a claim.
        (
            with_entry(&c, 0, Some(cbor::uint(3))),
            ClaimError::UnknownKey,
        ),
        (
            {
                let mut m = claim_map(&c);
                m.push((Value::Text("x".into()), cbor::uint(1)));
                cbor::encode(&Value::Map(m))
            },
            ClaimError::UnknownKey,
        ),
        (with_entry(&c, 5, None), ClaimError::Missing(Field::Product)),
        (with_entry(&c, 14, None), ClaimError::Missing(Field::Serial)),
        (with_entry(&c, 1, None), ClaimError::Missing(Field::Scheme)),
        (
            with_entry(&c, 12, None),
            ClaimError::Missing(Field::Provisions),
        ),
        (
            with_entry(&c, 3, Some(cbor::uint(256))),
            ClaimError::WrongType(Field::Level),
        ),
        (
            with_entry(&c, 8, Some(cbor::uint(70_000))),
            ClaimError::WrongType(Field::Category),
        ),
        (
            with_entry(&c, 9, Some(cbor::int(-1))),
            ClaimError::WrongType(Field::IssuedAt),
        ),
        (
            with_entry(&c, 1, Some(Value::Bytes(b"SG".to_vec()))),
            ClaimError::WrongType(Field::Scheme),
        ),
        (
            // Not a registered scheme code.
            with_entry(&c, 1, Some(cbor::uint(99))),
            ClaimError::WrongType(Field::Scheme),
        ),
        (
            // A registered scheme spelled out.
            with_entry(&c, 1, Some(Value::Text("SG-CLS".into()))),
            ClaimError::NotCanonical(Field::Scheme),
        ),
        (
            // The default catalog version written out: absence means 1.
            with_entry(&c, 2, Some(cbor::uint(1))),
            ClaimError::NotCanonical(Field::CatalogVersion),
        ),
        (
            with_entry(&c, 2, Some(Value::Text("2".into()))),
            ClaimError::WrongType(Field::CatalogVersion),
        ),
        (
            // Empty hardware versions written out: absence means empty.
            with_entry(&c, 6, Some(Value::Text(String::new()))),
            ClaimError::NotCanonical(Field::HardwareVersions),
        ),
        (
            // Packable text not packed.
            with_entry(&c, 4, Some(Value::Text("Acme Devices".into()))),
            ClaimError::NotCanonical(Field::Manufacturer),
        ),
        (
            // Packed, but no shorter than its UTF-8 ("..." = 36 bits = 5 bytes > 3).
            with_entry(&c, 6, Some(Value::Bytes(pack("...").unwrap()))),
            ClaimError::NotCanonical(Field::HardwareVersions),
        ),
        (
            // Not packed text at all (escape to index 63).
            with_entry(&c, 5, Some(Value::Bytes(vec![0xFF; 12]))),
            ClaimError::WrongType(Field::Product),
        ),
        (
            with_entry(&c, 12, Some(Value::Bytes(vec![1, 0]))),
            ClaimError::BadProvisions,
        ),
        (
            with_entry(&c, 12, Some(Value::Bytes(vec![1; 33]))),
            ClaimError::BadProvisions,
        ),
        (
            with_entry(&c, 12, Some(cbor::uint(3))),
            ClaimError::WrongType(Field::Provisions),
        ),
        (
            with_entry(&c, 13, Some(cbor::uint(70_000))),
            ClaimError::WrongType(Field::Lab),
        ),
        (
            // Self-declared is the key's absence, not code 0.
            with_entry(&c, 13, Some(cbor::uint(0))),
            ClaimError::WrongType(Field::Lab),
        ),
        (
            with_entry(&c, 13, Some(Value::Text("SG-LAB-0042".into()))),
            ClaimError::WrongType(Field::Lab),
        ),
        (
            with_entry(&c, 5, Some(Value::Text("é".repeat(65)))),
            ClaimError::TooLong(Field::Product),
        ),
        (
            with_entry(&c, 4, Some(Value::Text(String::new()))),
            ClaimError::Empty(Field::Manufacturer),
        ),
        (
            with_entry(&c, 6, Some(Value::Text("é".repeat(33)))),
            ClaimError::TooLong(Field::HardwareVersions),
        ),
        (
            // Dates travel as day numbers: expires on the issue day.
            with_entry(&c, 10, Some(cbor::uint(T0 / DAY))),
            ClaimError::DatesOutOfOrder,
        ),
        (
            // A day number whose seconds overflow u64.
            with_entry(&c, 9, Some(cbor::uint(u64::MAX / 1000))),
            ClaimError::WrongType(Field::IssuedAt),
        ),
        (
            with_entry(&c, 15, Some(cbor::uint(c.serial))),
            ClaimError::SupersedesNotEarlier,
        ),
        (
            cbor::encode(&Value::Array(vec![cbor::uint(2)])),
            ClaimError::NotAMap,
        ),
        (
            cbor::encode(&Value::Map(vec![])),
            ClaimError::Missing(Field::Scheme),
        ),
    ];
    for (i, (bytes, want)) in cases.into_iter().enumerate() {
        assert_eq!(Claim::from_cbor(&bytes), Err(want), "case {i}");
    }
    // 64 multi-byte characters are fine: the limit counts characters.
    let b = with_entry(&c, 5, Some(Value::Text("é".repeat(64))));
    assert_eq!(Claim::from_cbor(&b).unwrap().product, "é".repeat(64));
}

/// A claim in format 1 (keys 1..=16: 2 = catalog version always present, 13 = assessment kind
/// 0/1, 14 = lab id as text, 15 = serial), with an unregistered scheme and names that do not pack
/// shorter, so that only keys 2, 13 and 14 can tell it apart.
fn format_1(third_party: bool, catalog_version: u64) -> Vec<u8> {
    let t = |s: &str| Value::Text(s.into());
    let mut m = vec![
        (1, t("XL-DEMO")),
        (2, cbor::uint(catalog_version)),
        (3, cbor::uint(1)),
        (4, t("Müller")),
        (5, t("Kühlschrank")),
        (6, t("B")),
        (7, t("2")),
        (8, cbor::uint(1)),
        (9, cbor::uint(T0 / DAY)),
        (10, cbor::uint(T0 / DAY + 700)),
        (11, cbor::uint(T0 / DAY + 900)),
        (12, Value::Bytes(vec![1])),
        (13, cbor::uint(u64::from(third_party))),
        (15, cbor::uint(9)),
    ];
    if third_party {
        m.push((14, t("SG-LAB-0042")));
    }
    cbor::encode(&Value::Map(
        m.into_iter().map(|(k, v)| (cbor::uint(k), v)).collect(),
    ))
}

#[test]
fn a_format_1_claim_is_never_read_as_format_2() {
    // Format 1 is not read (FORMATS §1); its keys must not decode to a different claim. Its key
    // 2 is always present (1: the default, refused), and its key 13 is 0 (self-declared: not a
    // lab code) or 1 with key 14, the lab id, as text (not a serial).
    for third_party in [false, true] {
        assert_eq!(
            Claim::from_cbor(&format_1(third_party, 1)),
            Err(ClaimError::NotCanonical(Field::CatalogVersion))
        );
    }
    assert_eq!(
        Claim::from_cbor(&format_1(false, 2)),
        Err(ClaimError::WrongType(Field::Lab))
    );
    assert_eq!(
        Claim::from_cbor(&format_1(true, 2)),
        Err(ClaimError::WrongType(Field::Serial))
    );
}

#[test]
fn claim_decoder_rejects_non_canonical_cbor() {
    let c = typical_claim();
    let b = c.to_cbor();
    // Trailing byte.
    let mut t = b.clone();
    t.push(0);
    assert_eq!(
        Claim::from_cbor(&t),
        Err(ClaimError::Cbor(CborError::TrailingBytes))
    );
    // Category 1 (key 8) written as 0x1801 (non-shortest), rebuilt entry by entry; then key 8
    // written as 0x1808.
    let m = claim_map(&c);
    let rebuilt = |value_long: bool| {
        let mut n = vec![0xa0 | u8::try_from(m.len()).unwrap()];
        for (k, v) in &m {
            if k == &cbor::uint(8) {
                if value_long {
                    n.extend_from_slice(&[0x08, 0x18, 0x01]);
                } else {
                    n.extend_from_slice(&[0x18, 0x08, 0x01]);
                }
            } else {
                n.extend_from_slice(&cbor::encode(k));
                n.extend_from_slice(&cbor::encode(v));
            }
        }
        n
    };
    for long_value in [true, false] {
        assert_eq!(
            Claim::from_cbor(&rebuilt(long_value)),
            Err(ClaimError::Cbor(CborError::NonShortest))
        );
    }
    // Unsorted and duplicate keys (the entries' bytes swapped / repeated).
    let entry = |i: usize| {
        let mut e = cbor::encode(&m[i].0);
        e.extend_from_slice(&cbor::encode(&m[i].1));
        e
    };
    let mut swapped = vec![b[0]];
    let mut duplicate = vec![b[0]];
    for i in 0..m.len() {
        let j = match i {
            0 => 1,
            1 => 0,
            _ => i,
        };
        swapped.extend_from_slice(&entry(j));
        duplicate.extend_from_slice(&entry(if i == 1 { 0 } else { i }));
    }
    assert_eq!(
        Claim::from_cbor(&swapped),
        Err(ClaimError::Cbor(CborError::UnsortedKeys))
    );
    assert_eq!(
        Claim::from_cbor(&duplicate),
        Err(ClaimError::Cbor(CborError::DuplicateKey))
    );
    // Indefinite-length map.
    let mut ind = vec![0xbf];
    ind.extend_from_slice(&b[1..]);
    ind.push(0xff);
    assert_eq!(
        Claim::from_cbor(&ind),
        Err(ClaimError::Cbor(CborError::Indefinite))
    );
    // Oversize input is rejected before parsing.
    assert_eq!(
        Claim::from_cbor(&vec![0u8; 1025]),
        Err(ClaimError::Cbor(CborError::TooLarge))
    );
}

#[test]
fn provision_set_bit_layout() {
    let p = ProvisionSet::from_indices([0, 9, 9, 255]);
    assert_eq!(p.len(), 3);
    assert_eq!(p.as_bytes().len(), 32);
    assert_eq!(p.as_bytes()[0], 0b1);
    assert_eq!(p.as_bytes()[1], 0b10);
    assert_eq!(p.as_bytes()[31], 0x80);
    assert!(p.contains(9) && !p.contains(8));
    assert_eq!(p.iter().collect::<Vec<_>>(), vec![0, 9, 255]);
    assert!(ProvisionSet::new().is_empty());
    assert_eq!(ProvisionSet::from_bytes(&[]).unwrap(), ProvisionSet::new());
}

#[test]
fn label_signs_verifies_and_has_the_documented_header() {
    let k = rfc8032_key();
    let vk = k.verifying_key();
    assert_eq!(
        hex::encode(vk.as_bytes()),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    let kid = key_id(&vk);
    let label = sign_label(&typical_claim(), &k);
    // d2 = tag 18, 84 = array(4), 4d = bstr(13) holding {1: -8, 4: h'<kid>'}, a0 = {}.
    let mut prefix = hex::decode("d2844da201270448").unwrap();
    prefix.extend_from_slice(&kid);
    prefix.push(0xa0);
    assert_eq!(&label[..prefix.len()], &prefix[..]);
    // Ed25519 is deterministic: signing twice gives the same label.
    assert_eq!(label, sign_label(&typical_claim(), &k));

    let s = parse_sign1(&label).unwrap();
    assert!(s.tagged);
    assert_eq!(s.key_id(), Some(kid));
    assert_eq!(s.payload, typical_claim().to_cbor());
    s.verify(&vk).unwrap();
    assert_eq!(
        s.verify(&key(9).verifying_key()),
        Err(CoseError::BadSignature)
    );

    match decode_entry(&label).unwrap() {
        Entry::Label { claim, sign1 } => {
            assert_eq!(claim, typical_claim());
            assert_eq!(sign1, s);
        }
        other => panic!("not a label: {other:?}"),
    }
}

#[test]
fn status_record_round_trip_and_entry_kind() {
    let k = key(3);
    let rec = StatusRecord {
        action: StatusAction::Revoke,
        target: 42,
        reason: ReasonCode::NonConformityFound,
        time: T0 + 10,
        target_leaf_hash: [7; 32],
    };
    assert_eq!(StatusRecord::from_cbor(&rec.to_cbor()).unwrap(), rec);
    let bytes = sign_status(&rec, &k);
    let e = decode_entry(&bytes).unwrap();
    let Entry::Status { sign1, record } = &e else {
        panic!("not a status record")
    };
    assert_eq!(*record, rec);
    assert_eq!(e.kid(), key_id(&k.verifying_key()));
    sign1.verify(&k.verifying_key()).unwrap();
    assert_eq!(
        sign1.content_type,
        Some(cose::ContentType::Text(cose::STATUS_CONTENT_TYPE.into()))
    );

    // Strictness of the record.
    let m = |entries: Vec<(u64, Value)>| {
        cbor::encode(&Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (cbor::uint(k), v))
                .collect(),
        ))
    };
    let good = |skip: u64| -> Vec<(u64, Value)> {
        vec![
            (1, cbor::uint(3)),
            (2, cbor::uint(42)),
            (3, cbor::uint(6)),
            (4, cbor::uint(T0)),
            (5, Value::Bytes(vec![7; 32])),
        ]
        .into_iter()
        .filter(|(k, _)| *k != skip)
        .collect()
    };
    assert!(StatusRecord::from_cbor(&m(good(0))).is_ok());
    assert_eq!(
        StatusRecord::from_cbor(&m(good(4))),
        Err(RecordError::Missing(4))
    );
    let mut extra = good(0);
    extra.push((6, cbor::uint(0)));
    assert_eq!(
        StatusRecord::from_cbor(&m(extra)),
        Err(RecordError::UnknownKey)
    );
    let mut bad = good(1);
    bad.push((1, cbor::uint(4)));
    assert_eq!(
        StatusRecord::from_cbor(&m(bad)),
        Err(RecordError::UnknownAction)
    );
    let mut bad = good(3);
    bad.push((3, cbor::uint(15)));
    assert_eq!(
        StatusRecord::from_cbor(&m(bad)),
        Err(RecordError::UnknownReason)
    );
    let mut bad = good(5);
    bad.push((5, Value::Bytes(vec![7; 31])));
    assert_eq!(
        StatusRecord::from_cbor(&m(bad)),
        Err(RecordError::WrongType(5))
    );
}

#[test]
fn reason_codes_cover_the_table() {
    for (i, c) in ReasonCode::ALL.iter().enumerate() {
        assert_eq!(usize::from(c.as_u8()), i);
        assert_eq!(ReasonCode::from_u8(c.as_u8()), Some(*c));
        assert_eq!(ReasonCode::from_name(c.as_str()), Some(*c));
        assert!(!c.text().is_empty());
    }
    assert_eq!(ReasonCode::from_u8(15), None);
    assert_eq!(ReasonCode::IssuerKeyCompromise.as_u8(), 1);
    assert_eq!(ReasonCode::MutualRecognitionScopeEnded.as_u8(), 14);
    assert_eq!(StatusAction::from_u8(2), Some(StatusAction::Reinstate));
    assert_eq!(StatusAction::from_u8(0), None);
}

/// Rebuilds a Sign1 with the given parts (no signature validity).
fn sign1_bytes(tag: bool, protected: Value, unprotected: Value, payload: Value) -> Vec<u8> {
    let arr = Value::Array(vec![
        protected,
        unprotected,
        payload,
        Value::Bytes(vec![0; 64]),
    ]);
    cbor::encode(&if tag {
        Value::Tag(18, Box::new(arr))
    } else {
        arr
    })
}

fn prot(entries: Vec<(Value, Value)>) -> Value {
    Value::Bytes(cbor::encode(&Value::Map(entries)))
}

#[test]
fn profile_and_structure_violations_are_rejected() {
    let claim = Value::Bytes(typical_claim().to_cbor());
    let kid = Value::Bytes(vec![1; 8]);
    let alg = (cbor::uint(1), cbor::int(-8));
    let ok_prot = prot(vec![alg.clone(), (cbor::uint(4), kid.clone())]);
    let empty = Value::Map(vec![]);
    // Sanity: the well-formed shape decodes.
    assert!(
        decode_entry(&sign1_bytes(
            true,
            ok_prot.clone(),
            empty.clone(),
            claim.clone()
        ))
        .is_ok()
    );

    let cases: Vec<(Vec<u8>, CoseError)> = vec![
        (
            sign1_bytes(false, ok_prot.clone(), empty.clone(), claim.clone()),
            CoseError::Untagged,
        ),
        (
            sign1_bytes(
                true,
                ok_prot.clone(),
                Value::Map(vec![(cbor::uint(5), Value::Bytes(vec![]))]),
                claim.clone(),
            ),
            CoseError::NotProfile,
        ),
        (
            sign1_bytes(
                true,
                prot(vec![alg.clone()]),
                Value::Map(vec![(cbor::uint(4), kid.clone())]),
                claim.clone(),
            ),
            CoseError::BadKid,
        ),
        (
            sign1_bytes(
                true,
                prot(vec![alg.clone(), (cbor::uint(4), Value::Bytes(vec![1; 7]))]),
                empty.clone(),
                claim.clone(),
            ),
            CoseError::BadKid,
        ),
        (
            sign1_bytes(
                true,
                prot(vec![
                    (cbor::uint(1), cbor::int(-7)),
                    (cbor::uint(4), kid.clone()),
                ]),
                empty.clone(),
                claim.clone(),
            ),
            CoseError::UnsupportedAlgorithm,
        ),
        (
            sign1_bytes(
                true,
                prot(vec![
                    alg.clone(),
                    (cbor::uint(2), Value::Array(vec![cbor::uint(4)])),
                    (cbor::uint(4), kid.clone()),
                ]),
                empty.clone(),
                claim.clone(),
            ),
            CoseError::CriticalHeader,
        ),
        (
            sign1_bytes(
                true,
                prot(vec![alg.clone(), (cbor::uint(4), kid.clone())]),
                Value::Map(vec![(cbor::uint(4), kid.clone())]),
                claim.clone(),
            ),
            CoseError::DuplicateHeader,
        ),
        (
            sign1_bytes(
                true,
                prot(vec![
                    alg.clone(),
                    (cbor::uint(3), Value::Text("text/plain".into())),
                    (cbor::uint(4), kid.clone()),
                ]),
                empty.clone(),
                claim.clone(),
            ),
            CoseError::UnknownContentType,
        ),
        (
            sign1_bytes(
                true,
                prot(vec![
                    alg.clone(),
                    (cbor::uint(4), kid.clone()),
                    (cbor::uint(33), Value::Bytes(vec![])),
                ]),
                empty.clone(),
                claim.clone(),
            ),
            CoseError::NotProfile,
        ),
        (
            sign1_bytes(true, ok_prot.clone(), empty.clone(), Value::Null),
            CoseError::DetachedPayload,
        ),
        (
            sign1_bytes(true, Value::Text("x".into()), empty.clone(), claim.clone()),
            CoseError::BadProtectedHeader,
        ),
        (
            sign1_bytes(true, Value::Bytes(vec![0x01]), empty.clone(), claim.clone()),
            CoseError::BadProtectedHeader,
        ),
        (
            sign1_bytes(true, ok_prot.clone(), Value::Array(vec![]), claim.clone()),
            CoseError::BadUnprotectedHeader,
        ),
        (
            sign1_bytes(
                true,
                ok_prot.clone(),
                empty.clone(),
                Value::Bytes(vec![0xa1, 0x03, 0x02]), // {3: 2}: a level alone
            ),
            CoseError::Claim(ClaimError::Missing(Field::Scheme)),
        ),
        (
            cbor::encode(&Value::Tag(17, Box::new(Value::Array(vec![])))),
            CoseError::NotSign1,
        ),
        (
            cbor::encode(&Value::Tag(18, Box::new(Value::Array(vec![cbor::uint(1)])))),
            CoseError::NotSign1,
        ),
        (vec![0u8; 1025], CoseError::TooLarge),
        (vec![0xd2, 0x84], CoseError::Cbor(CborError::Truncated)),
    ];
    for (i, (bytes, want)) in cases.into_iter().enumerate() {
        assert_eq!(decode_entry(&bytes).err(), Some(want), "case {i}");
    }
}

#[test]
fn generic_content_type_signing_is_not_an_entry() {
    let k = key(4);
    let b = sign_with_content_type(b"{}", Some("application/json"), &k);
    let s = cose::parse_sign1_bounded(&b, 4096).unwrap();
    s.verify(&k.verifying_key()).unwrap();
    assert_eq!(s.check_profile(true).unwrap(), key_id(&k.verifying_key()));
    assert_eq!(decode_entry(&b).err(), Some(CoseError::UnknownContentType));
}

/// Signed text: any printable character (no hidden ones, no white space at the ends — here none
/// at all, which keeps the strategy simple).
fn arb_text(max: usize, min: usize) -> impl Strategy<Value = String> {
    let printable = any::<char>().prop_filter("printable", |c| {
        !cyberlabel_core::claim::hidden(*c) && !c.is_whitespace()
    });
    let any_text =
        proptest::collection::vec(printable, min..=max).prop_map(|v| v.into_iter().collect());
    // Mostly printable ASCII (the packed form), sometimes any printable character.
    let ascii = proptest::string::string_regex(&format!("[!-~]{{{min},{max}}}")).unwrap();
    prop_oneof![3 => ascii, 1 => any_text]
}

prop_compose! {
    fn arb_claim()(
        scheme in prop_oneof![Just("SG-CLS".to_owned()), Just("FI-TRAFICOM".to_owned()), arb_text(32, 1)], catalog_version in prop_oneof![Just(1u32), any::<u32>()], level in any::<u8>(),
        manufacturer in arb_text(64, 1), product in arb_text(64, 1),
        hardware_versions in arb_text(32, 0), firmware_versions in arb_text(32, 1),
        category in any::<u16>(), issued_day in 0u64..1_000_000, span in 1u64..100_000,
        support_day in 0u64..1_000_000, provisions in proptest::collection::vec(any::<u8>(), 0..20),
        lab in proptest::option::of(1u16..), serial in 1u64.., sup in proptest::option::of(any::<u64>()),
    ) -> Claim {
        Claim {
            scheme, catalog_version, level, manufacturer, product, hardware_versions,
            firmware_versions, category, issued_at: issued_day * DAY,
            expires_at: (issued_day + span) * DAY,
            support_end: support_day * DAY + DAY - 1, provisions: ProvisionSet::from_indices(provisions),
            assessment: match lab { Some(lab) => Assessment::ThirdParty { lab }, None => Assessment::SelfDeclared },
            serial, supersedes: sup.map(|s| s % serial),
        }
    }
}

proptest! {
    #[test]
    fn any_valid_claim_round_trips(c in arb_claim().prop_filter(
        "fits a label",
        |c| c.to_cbor().len() <= cyberlabel_core::claim::MAX_CLAIM_IN_LABEL,
    )) {
        c.check().unwrap();
        let b = c.to_cbor();
        prop_assert_eq!(Claim::from_cbor(&b).unwrap(), c);
    }

    // The decoder's re-encode property is tested on generated valid structures in
    // tests/cbor_reencode.rs.
}
