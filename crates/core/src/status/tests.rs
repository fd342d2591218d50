use super::*;
use crate::checkpoint::Policy;
use crate::checkpoint::{Checkpoint, StatusCommitment};
use crate::cose;
use crate::merkle::Hash;
use crate::merkle::{ProofError, inclusion_proof, reference_node, reference_root};
use crate::note::{KeyKind, NoteSigner};
use ed25519_dalek::SigningKey;

#[test]
fn transitions() {
    use State::*;
    use StatusAction::*;
    assert_eq!(apply_action(Active, Suspend), Some(Suspended));
    assert_eq!(apply_action(Suspended, Reinstate), Some(Active));
    assert_eq!(apply_action(Suspended, Revoke), Some(Revoked));
    assert_eq!(apply_action(Active, Revoke), Some(Revoked));
    for (s, a) in [
        (Revoked, Reinstate),
        (Revoked, Suspend),
        (Revoked, Revoke),
        (Active, Reinstate),
        (Suspended, Suspend),
        (None, Revoke),
        (Superseded, Suspend),
    ] {
        assert!(apply_action(s, a).is_none(), "{s:?} {a:?}");
    }
}

fn label(key: &SigningKey, scheme: &str, serial: u64, supersedes: Option<u64>) -> Vec<u8> {
    use crate::claim::{Assessment, Claim, ProvisionSet};
    let claim = Claim {
        scheme: scheme.into(),
        catalog_version: 1,
        level: 1,
        manufacturer: "Acme".into(),
        product: "Cam".into(),
        hardware_versions: "1".into(),
        firmware_versions: "1".into(),
        category: 1,
        issued_at: 19_675 * 86_400,
        expires_at: 20_833 * 86_400,
        support_end: 20_833 * 86_400 - 1,
        provisions: ProvisionSet::from_indices([0u8]),
        assessment: Assessment::SelfDeclared,
        serial,
        supersedes,
    };
    cose::sign_label(&claim, key)
}

#[test]
fn renewal_requires_same_issuer_and_scheme() {
    let issuer = SigningKey::from_bytes(&[31; 32]);
    let other = SigningKey::from_bytes(&[32; 32]);
    let mut map = StatusMap::new();
    map.push(&label(&issuer, "SG-CLS", 0, None)).unwrap();
    let before = map.commitment();
    // another issuer cannot retire the label
    assert_eq!(
        entry_effects(&mut map, 1, &label(&other, "SG-CLS", 1, Some(0))),
        Err(EffectError::IssuerMismatch { target: 0 })
    );
    // nor can the same issuer under another scheme
    assert_eq!(
        entry_effects(&mut map, 1, &label(&issuer, "DE-BSI", 1, Some(0))),
        Err(EffectError::SchemeMismatch { target: 0 })
    );
    assert_eq!(map.commitment(), before);
    assert_eq!(map.state(0), Ok(State::Active));
    // an auditor replaying such an entry reports it and leaves the target untouched
    assert_eq!(
        map.push(&label(&other, "SG-CLS", 1, Some(0))),
        Err(EffectError::IssuerMismatch { target: 0 })
    );
    assert_eq!(map.state(0), Ok(State::Active));
    // the legitimate renewal: same key, same scheme
    assert_eq!(
        entry_effects(&mut map, 2, &label(&issuer, "SG-CLS", 2, Some(0))),
        Ok(vec![(2, State::Active, 0), (0, State::Superseded, 2)])
    );
}

#[test]
fn proof_roundtrip_and_verify() {
    let log = NoteSigner::new(
        "s.example",
        KeyKind::Ed25519,
        SigningKey::from_bytes(&[3; 32]),
    )
    .unwrap();
    let size = 700u64; // 3 buckets, last partial
    let mut buckets = vec![Bucket::default(); 3];
    for i in 0..size {
        buckets[(i / 256) as usize].set((i % 256) as usize, State::Active, 0);
    }
    buckets[1].set(5, State::Revoked, 6);
    let leaves: Vec<Hash> = buckets.iter().map(Bucket::leaf_hash).collect();
    let mut cp = Checkpoint::new("s.example", size, [0; 32]);
    cp.set_status(StatusCommitment {
        bucket_count: 3,
        root: reference_root(&leaves),
    });
    let signed = cp.sign(&log).unwrap();
    let path = inclusion_proof::<ProofError>(1, 3, |id| reference_node(&leaves, id)).unwrap();
    let p = StatusProof {
        bucket: 1,
        state: buckets[1].clone(),
        path,
        checkpoint: signed,
    };
    let text = p.to_text();
    assert!(text.len() < 2048, "status proof is {} bytes", text.len());
    assert_eq!(StatusProof::parse(text.as_bytes()).unwrap(), p);
    let policy = Policy::log_only(log.verifier().clone());
    let v = verify_status_proof(text.as_bytes(), &policy).unwrap();
    assert_eq!(v.state_of(256 + 5).unwrap(), (State::Revoked, 6));
    assert_eq!(v.state_of(256 + 6).unwrap(), (State::Active, 0));
    assert!(v.state_of(5).is_err());
    // flipping the revoked label back to active breaks the proof
    let mut forged = p.clone();
    forged.state.set(5, State::Active, 0);
    assert!(verify_status_proof(forged.to_text().as_bytes(), &policy).is_err());
    let mut wrong_bucket = p;
    wrong_bucket.bucket = 0;
    assert!(verify_status_proof(wrong_bucket.to_text().as_bytes(), &policy).is_err());
}
