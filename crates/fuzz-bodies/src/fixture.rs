//! The fixed keys and signed objects the targets check against (and `examples/gen_corpus.rs`
//! writes as seeds): an issuer, two labels and a status record it signed, a three-entry log
//! with its status map, the log's signed checkpoint, one witness cosignature on it, proofs, and
//! a trust list signed by a trust anchor. Everything is deterministic (fixed keys, fixed times).

// Harness code: the fixture is built from constants, so a failure here is a harness bug.
#![allow(clippy::expect_used)]

use cyberlabel_core::catalog::Catalog;
use cyberlabel_core::checkpoint::{self, Checkpoint, Policy};
use cyberlabel_core::claim::{Assessment, Claim, ProvisionSet};
use cyberlabel_core::cose;
use cyberlabel_core::merkle::{self, Hash, ProofError};
use cyberlabel_core::note::{KeyKind, NoteSigner};
use cyberlabel_core::status::{
    Bucket, ReasonCode, StatusAction, StatusMap, StatusProof, StatusRecord,
};
use cyberlabel_core::tlog_proof::TlogProof;
use cyberlabel_core::trust::{self, TrustList, TrustedIssuer, TrustedLog};
use ed25519_dalek::SigningKey;
use std::sync::OnceLock;

/// 2026-01-01T00:00:00Z.
pub const T0: u64 = 1_767_225_600;
/// One day in seconds.
pub const DAY: u64 = 86_400;
/// The log's origin (and note key name).
pub const LOG_ORIGIN: &str = "log.fuzz.example";

/// See the module docs.
pub struct Fixture {
    /// the issuer key (`[1; 32]`)
    pub issuer: SigningKey,
    /// the typical third-party claim (log index 0)
    pub claim: Claim,
    /// a self-declared claim (log index 1)
    pub self_declared: Claim,
    /// the two labels the issuer signed (`claim`, `self_declared`)
    pub labels: Vec<Vec<u8>>,
    /// the status record (revokes log index 0)
    pub record: StatusRecord,
    /// the signed status record
    pub status: Vec<u8>,
    /// the log's entries: both labels, then the status record
    pub entries: Vec<Vec<u8>>,
    /// the entries as one entry bundle
    pub bundle: Vec<u8>,
    /// the status map after the three entries
    pub status_map: StatusMap,
    /// the log key
    pub log: NoteSigner,
    /// two witness keys (cosignature/v1)
    pub witnesses: Vec<NoteSigner>,
    /// the checkpoint body (with the status extension)
    pub checkpoint_text: String,
    /// the checkpoint signed by the log
    pub signed_checkpoint: String,
    /// the signed checkpoint plus the first witness's cosignature
    pub cosigned_checkpoint: String,
    /// the first witness's cosignature line
    pub cosignature_line: String,
    /// when the first witness cosigned
    pub cosigned_at: u64,
    /// a time at which the cosignature is fresh
    pub now: u64,
    /// log key only
    pub log_policy: Policy,
    /// log key plus one of the two witnesses
    pub witness_policy: Policy,
    /// tlog-proof of entry 1
    pub tlog_proof: String,
    /// the status bucket 0 after the three entries
    pub bucket0: Bucket,
    /// status proof of bucket 0
    pub status_proof: String,
    /// the trust anchor that signs trust lists (`[9; 32]`)
    pub anchor: SigningKey,
    /// the trust list (issuer, log)
    pub trust: TrustList,
    /// its JSON
    pub trust_json: String,
    /// its signed form
    pub trust_signed: Vec<u8>,
    /// the built-in catalog
    pub catalog: Catalog,
}

/// The fixture, built once.
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(build)
}

fn build() -> Fixture {
    let issuer = SigningKey::from_bytes(&[1; 32]);
    let claim = Claim {
        scheme: "SG-CLS".into(),
        catalog_version: 1,
        level: 3,
        manufacturer: "Acme Smart Home Pte. Ltd.".into(),
        product: "AcmeCam Pro 2 Outdoor 4K Wi-Fi".into(),
        hardware_versions: "rev B, rev C".into(),
        firmware_versions: ">= 2.4.1".into(),
        category: 1,
        issued_at: T0,
        expires_at: T0 + 3 * 365 * DAY,
        support_end: T0 + 5 * 365 * DAY - 1,
        provisions: ProvisionSet::from_indices([1, 7, 9, 12, 15, 28]),
        assessment: Assessment::ThirdParty {
            lab: 3, // SG-LAB-0042 in the builtin catalog
        },
        serial: 0, // = its log index
        supersedes: None,
    };
    let mut self_declared = claim.clone();
    self_declared.assessment = Assessment::SelfDeclared;
    self_declared.level = 1;
    self_declared.serial = 1;
    let labels = vec![
        cose::sign_label(&claim, &issuer),
        cose::sign_label(&self_declared, &issuer),
    ];
    let record = StatusRecord {
        action: StatusAction::Revoke,
        target: 0,
        reason: ReasonCode::NonConformityFound,
        time: T0 + 10 * DAY,
        target_leaf_hash: merkle::leaf_hash(&labels[0]),
    };
    let status = cose::sign_status(&record, &issuer);
    let entries = vec![labels[0].clone(), labels[1].clone(), status.clone()];
    let mut bundle = Vec::new();
    for e in &entries {
        cyberlabel_core::tiles::push_bundle_entry(&mut bundle, e).expect("small entry");
    }

    let log = NoteSigner::new(
        LOG_ORIGIN,
        KeyKind::Ed25519,
        SigningKey::from_bytes(&[3; 32]),
    )
    .expect("log key");
    let witnesses: Vec<NoteSigner> = [("w1.fuzz.example", 4u8), ("w2.fuzz.example", 5)]
        .iter()
        .map(|(name, b)| {
            NoteSigner::new(
                name,
                KeyKind::CosignatureV1,
                SigningKey::from_bytes(&[*b; 32]),
            )
            .expect("witness key")
        })
        .collect();

    let leaves: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
    let mut map = StatusMap::new();
    for e in &entries {
        map.push(e).expect("fixture entries apply");
    }
    let mut cp = Checkpoint::new(LOG_ORIGIN, 3, merkle::reference_root(&leaves));
    cp.set_status(map.commitment());
    let checkpoint_text = cp.to_text();
    let signed_checkpoint = cp.sign(&log).expect("sign checkpoint");
    let cosigned_at = T0 + DAY;
    let cosignature_line =
        checkpoint::cosign(&checkpoint_text, &witnesses[0], cosigned_at).expect("cosign");
    let cosigned_checkpoint = checkpoint::add_signature_lines(
        &signed_checkpoint,
        std::slice::from_ref(&cosignature_line),
    )
    .expect("add cosignature");
    let log_policy = Policy::log_only(log.verifier().clone());
    let witness_policy = Policy::k_of_n(
        log.verifier().clone(),
        witnesses.iter().map(|w| w.verifier().clone()).collect(),
        1,
    );

    let path =
        merkle::inclusion_proof::<ProofError>(1, 3, |id| merkle::reference_node(&leaves, id))
            .expect("inclusion proof");
    let tlog_proof = TlogProof {
        extra: None,
        index: 1,
        path,
        checkpoint: cosigned_checkpoint.clone(),
    }
    .to_text();
    let bucket0 = map.bucket(0).expect("bucket 0").clone();
    let status_proof = StatusProof {
        bucket: 0,
        state: bucket0.clone(),
        path: Vec::new(),
        checkpoint: cosigned_checkpoint.clone(),
    }
    .to_text();

    let anchor = SigningKey::from_bytes(&[9; 32]);
    let mut trust = TrustList {
        version: 1,
        issued_at: T0,
        expires_at: T0 + 400 * DAY,
        ..Default::default()
    };
    let mut ti = TrustedIssuer::new(
        "Fuzz Issuer",
        &issuer.verifying_key(),
        &["SG-CLS"],
        T0 - DAY,
        T0 + 2 * 365 * DAY,
    );
    ti.log = Some(LOG_ORIGIN.into());
    trust.issuers.push(ti);
    trust.logs.push(TrustedLog {
        origin: LOG_ORIGIN.into(),
        vkey: log.verifier().to_string(),
        url: "https://log.fuzz.example".into(),
        max_merge_delay: 0,
        witness_policy: None,
    });
    let trust_json = trust.to_json();
    let trust = TrustList::from_json(&trust_json).expect("fixture trust list parses");
    let trust_signed = trust::sign(trust_json.as_bytes(), &anchor);

    Fixture {
        issuer,
        claim,
        self_declared,
        labels,
        record,
        status,
        entries,
        bundle,
        status_map: map,
        log,
        witnesses,
        checkpoint_text,
        signed_checkpoint,
        cosigned_checkpoint,
        cosignature_line,
        cosigned_at,
        now: cosigned_at + 60,
        log_policy,
        witness_policy,
        tlog_proof,
        bucket0,
        status_proof,
        anchor,
        trust,
        trust_json,
        trust_signed,
        catalog: Catalog::builtin(),
    }
}
