//! Rule 1, as the log and every auditor apply it (`admission`): a replay of a small log with
//! a forged revocation, a forged renewal, an unlisted key, an issuer for another scheme, a
//! label before any trust list and a trust-list rollback — each refused with its own error and
//! without effect on the status map.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod label_common;

use cyberlabel_core::admission::{Admitted, Replay, check_entry};
use cyberlabel_core::cose;
use cyberlabel_core::merkle;
use cyberlabel_core::status;
use cyberlabel_core::status::{EffectError, State, StatusContext};
use cyberlabel_core::trust::{self, TrustList, TrustedIssuer};
use label_common::{DAY, T0, key, typical_claim};

fn trust_list(version: u64) -> Vec<u8> {
    let t = TrustList {
        version,
        issued_at: T0 - DAY,
        expires_at: T0 + 365 * DAY,
        issuers: vec![TrustedIssuer::new(
            "Victim issuing body",
            &key(1).verifying_key(),
            &["SG-CLS"],
            T0 - DAY,
            T0 + 3650 * DAY,
        )],
        ..TrustList::default()
    };
    trust::sign(t.to_json().as_bytes(), &key(90))
}

fn label(signer: u8, scheme: &str, serial: u64, supersedes: Option<u64>) -> Vec<u8> {
    let mut c = typical_claim();
    c.scheme = scheme.into();
    c.serial = serial;
    c.supersedes = supersedes;
    cose::sign_label(&c, &key(signer))
}

/// A status record that claims the victim's kid but is signed by another key.
fn forged_revoke(target: &[u8], index: u64, attacker: u8) -> Vec<u8> {
    let record = status::StatusRecord {
        action: status::StatusAction::Revoke,
        target: index,
        reason: status::ReasonCode::IssuedInError,
        time: T0 + DAY,
        target_leaf_hash: merkle::leaf_hash(target),
    };
    let mut bytes = cose::sign_status(&record, &key(attacker));
    let victim = cose::key_id(&key(1).verifying_key());
    let attacker_kid = cose::key_id(&key(attacker).verifying_key());
    let at = bytes
        .windows(8)
        .position(|w| w == attacker_kid)
        .expect("kid in the protected header");
    bytes[at..at + 8].copy_from_slice(&victim);
    bytes
}

#[test]
fn forged_and_unauthorised_entries_are_refused_and_have_no_effect() {
    let anchor = key(90).verifying_key();
    let mut r = Replay::new(anchor);
    // nothing but a trust list may come first
    assert_eq!(
        r.push(&label(1, "SG-CLS", 0, None)),
        Err(EffectError::NoTrustList)
    );
    r.push(&trust_list(1)).unwrap();
    let genuine = label(1, "SG-CLS", 2, None);
    r.push(&genuine).unwrap();
    let before = r.status().commitment();

    // a revocation with the victim's kid pasted in, signed by the attacker
    assert_eq!(
        r.push(&forged_revoke(&genuine, 2, 66)),
        Err(EffectError::BadSignature)
    );
    // a renewal with the victim's kid pasted in
    let mut renewal = label(66, "SG-CLS", 4, Some(2));
    let victim = cose::key_id(&key(1).verifying_key());
    let attacker = cose::key_id(&key(66).verifying_key());
    let at = renewal.windows(8).position(|w| w == attacker).unwrap();
    renewal[at..at + 8].copy_from_slice(&victim);
    assert_eq!(r.push(&renewal), Err(EffectError::BadSignature));
    // a key the trust list does not name
    assert_eq!(
        r.push(&label(66, "SG-CLS", 5, None)),
        Err(EffectError::UnknownIssuerKey)
    );
    // the trusted issuer, for a scheme it is not authorised for
    assert_eq!(
        r.push(&label(1, "DE-BSI", 6, None)),
        Err(EffectError::NotAuthorisedForScheme)
    );
    // an old trust list replayed into the log
    assert_eq!(
        r.push(&trust_list(1)),
        Err(EffectError::TrustListRollback {
            in_force: 1,
            got: 1
        })
    );
    // a trust list not signed by the anchor
    let mut bad = trust_list(2);
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert!(matches!(r.push(&bad), Err(EffectError::BadTrustList(_))));
    // nothing changed: the victim's label is still active
    let mut map = r.status().clone();
    assert_eq!(map.state(2), Ok(State::Active));
    assert_eq!(r.status().commitment(), before);
    // the real issuer's revocation goes through
    let record = status::StatusRecord {
        action: status::StatusAction::Revoke,
        target: 2,
        reason: status::ReasonCode::IssuedInError,
        time: T0 + DAY,
        target_leaf_hash: merkle::leaf_hash(&genuine),
    };
    let size = r.size();
    assert_eq!(size, 9);
    r.push(&cose::sign_status(&record, &key(1))).unwrap();
    let mut map = r.status().clone();
    assert_eq!(map.state(2), Ok(State::Revoked));
    // a newer trust list takes effect from the next entry
    assert!(matches!(
        check_entry(&trust_list(2), r.size(), r.trust(), &anchor),
        Ok(Admitted::TrustList(_))
    ));
}

/// A trust list where key 1 was rotated out at index `retired` (key 2 took over) and key 3 was
/// reported compromised at index `compromised`.
fn lifecycle_list(version: u64, retired: Option<u64>, compromised: Option<u64>) -> Vec<u8> {
    let mut old = TrustedIssuer::new(
        "Body, key 2025",
        &key(1).verifying_key(),
        &["SG-CLS"],
        T0 - 365 * DAY,
        T0 + 3650 * DAY,
    );
    old.retired_at_index = retired;
    let new = TrustedIssuer::new(
        "Body, key 2026",
        &key(2).verifying_key(),
        &["SG-CLS"],
        T0 - DAY,
        T0 + 3650 * DAY,
    );
    let mut stolen = TrustedIssuer::new(
        "Lab key",
        &key(3).verifying_key(),
        &["SG-CLS"],
        T0 - 365 * DAY,
        T0 + 3650 * DAY,
    );
    stolen.compromised_at_index = compromised;
    let t = TrustList {
        version,
        issued_at: T0 - DAY,
        expires_at: T0 + 365 * DAY,
        issuers: vec![old, new, stolen],
        ..TrustList::default()
    };
    trust::sign(t.to_json().as_bytes(), &key(90))
}

/// Rotation and compromise are ordered by log position: after the retirement index the old key
/// may not sign labels (it may still maintain its own), after the compromise index nothing the
/// stolen key signs counts — and a backdated `issued_at` does not help; labels before stay
/// genuine, online and offline.
#[test]
fn retired_and_compromised_keys_by_log_index() {
    use cyberlabel_core::catalog::Catalog;
    use cyberlabel_core::verdict::{Problem, Verdict, verify_offline};
    let anchor = key(90).verifying_key();
    let mut r = Replay::new(anchor);
    r.push(&lifecycle_list(1, None, None)).unwrap();
    let before_rotation = label(1, "SG-CLS", 1, None);
    r.push(&before_rotation).unwrap();
    let by_thief_early = label(3, "SG-CLS", 2, None);
    r.push(&by_thief_early).unwrap();
    // the body rotates key 1 out and reports key 3 stolen, both as of index 4
    r.push(&lifecycle_list(2, Some(4), Some(4))).unwrap();
    assert_eq!(r.size(), 4);
    assert_eq!(
        r.push(&label(1, "SG-CLS", 4, None)),
        Err(EffectError::KeyRetired)
    );
    r.push(&label(2, "SG-CLS", 5, None)).unwrap();
    let mut backdated = typical_claim();
    backdated.serial = 6;
    backdated.issued_at = T0 - 200 * DAY;
    backdated.expires_at = T0 + 300 * DAY;
    assert_eq!(
        r.push(&cose::sign_label(&backdated, &key(3))),
        Err(EffectError::KeyCompromised)
    );
    // the retired key still maintains its own label; the stolen key cannot touch its own
    let suspend = |target: &[u8], index: u64, signer: u8| {
        let record = status::StatusRecord {
            action: status::StatusAction::Suspend,
            target: index,
            reason: status::ReasonCode::InvestigationPending,
            time: T0 + DAY,
            target_leaf_hash: merkle::leaf_hash(target),
        };
        cose::sign_status(&record, &key(signer))
    };
    r.push(&suspend(&before_rotation, 1, 1)).unwrap();
    assert_eq!(
        r.push(&suspend(&by_thief_early, 2, 3)),
        Err(EffectError::KeyCompromised)
    );

    // offline: the serial is the log position the verdict orders by
    let list =
        TrustList::from_signed_any_time(&lifecycle_list(2, Some(4), Some(4)), &anchor).unwrap();
    let now = T0 + 10 * DAY;
    let cat = Catalog::builtin();
    assert_eq!(
        verify_offline(&by_thief_early, &list, &cat, now).verdict,
        Verdict::Genuine
    );
    assert_eq!(
        verify_offline(&before_rotation, &list, &cat, now).verdict,
        Verdict::Genuine
    );
    let late_theft = verify_offline(&cose::sign_label(&backdated, &key(3)), &list, &cat, now);
    assert_eq!(late_theft.verdict, Verdict::KeyCompromised);
    assert_eq!(late_theft.problem, Some(Problem::KeyCompromised));
    let late_old = verify_offline(&label(1, "SG-CLS", 9, None), &list, &cat, now);
    assert_eq!(
        (late_old.verdict, late_old.problem),
        (Verdict::UnknownIssuer, Some(Problem::KeyRetired))
    );
}
