//! The online verdict (`online.rs`) end to end over a real in-memory log: 300 entries (two status
//! buckets, a full and a partial level-0 tile, a level-1 tile), tiles cut exactly as C2SP
//! tlog-tiles serves them, a signed checkpoint with the status extension line and a witness
//! cosignature, and status proofs — then genuine / revoked / suspended / not-in-log / corrupt
//! tiles / missing quorum / offline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod label_common;

use cyberlabel_core::catalog::Catalog;
use cyberlabel_core::checkpoint::{self, Checkpoint, StatusCommitment};
use cyberlabel_core::cose;
use cyberlabel_core::merkle::{self, Hash, NodeId};
use cyberlabel_core::note::{KeyKind, NoteSigner};
use cyberlabel_core::online::{self, Fetched, LabelState, OnlineError, Verdict};
use cyberlabel_core::status::{self, Bucket, State, StatusProof};
use cyberlabel_core::tiles::{TileKind, TilePath};
use cyberlabel_core::trust::{TrustList, TrustedIssuer, TrustedLog, TrustedWitness, WitnessPolicy};
use label_common::{DAY, T0, key, typical_claim};

const ORIGIN: &str = "example.test/log";
const SIZE: u64 = 300;
const NOW: u64 = T0 + 10 * DAY;

struct Log {
    entries: Vec<Vec<u8>>,
    leaves: Vec<Hash>,
    buckets: Vec<Bucket>,
    log_key: NoteSigner,
    witness: NoteSigner,
    trust: TrustList,
}

fn label_at(serial: u64, product: &str) -> Vec<u8> {
    let mut c = typical_claim();
    c.serial = serial;
    c.product = product.into();
    cose::sign_label(&c, &key(1))
}

impl Log {
    /// 300 entries; labels at 5 and 260 (second bucket), filler entries elsewhere.
    fn new(quorum: u32) -> Self {
        let mut entries: Vec<Vec<u8>> = (0..SIZE)
            .map(|i| format!("entry {i}").into_bytes())
            .collect();
        entries[5] = label_at(5, "Cam Five");
        entries[260] = label_at(260, "Cam Two-Sixty");
        let leaves = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
        let mut buckets = vec![Bucket([0; 512]), Bucket([0; 512])];
        buckets[0].set(5, State::Active, 0);
        buckets[1].set(260 % 256, State::Active, 0);
        let log_key = NoteSigner::new(ORIGIN, KeyKind::Ed25519, key(7)).unwrap();
        let witness = NoteSigner::new("witness.test/w1", KeyKind::CosignatureV1, key(8)).unwrap();
        let trust = TrustList {
            version: 1,
            issued_at: T0,
            expires_at: T0 + 3650 * DAY,
            issuers: vec![TrustedIssuer::new(
                "Test issuing body",
                &key(1).verifying_key(),
                &["SG-CLS"],
                T0 - DAY,
                T0 + 3650 * DAY,
            )],
            logs: vec![TrustedLog {
                origin: ORIGIN.into(),
                vkey: log_key.verifier().to_string(),
                url: "https://example.test/".into(),
            }],
            witnesses: vec![TrustedWitness {
                name: "witness.test/w1".into(),
                vkey: witness.verifier().to_string(),
            }],
            witness_policy: WitnessPolicy { quorum },
            equivalences: vec![],
        };
        Log {
            entries,
            leaves,
            buckets,
            log_key,
            witness,
            trust,
        }
    }

    fn status_root(&self) -> Hash {
        merkle::reference_root(&self.bucket_leaves())
    }

    fn bucket_leaves(&self) -> Vec<Hash> {
        self.buckets.iter().map(Bucket::leaf_hash).collect()
    }

    /// Append an entry (the caller updates `buckets` as the log's status rules would).
    fn push(&mut self, entry: Vec<u8>) {
        self.leaves.push(merkle::leaf_hash(&entry));
        self.entries.push(entry);
    }

    fn checkpoint(&self, cosigned: bool) -> String {
        let size = self.leaves.len() as u64;
        let mut cp = Checkpoint::new(ORIGIN, size, merkle::reference_root(&self.leaves));
        cp.set_status(StatusCommitment {
            bucket_count: status::bucket_count(size),
            root: self.status_root(),
        });
        let signed = cp.sign(&self.log_key).unwrap();
        if !cosigned {
            return signed;
        }
        let line = checkpoint::cosign(&cp.to_text(), &self.witness, NOW - 5).unwrap();
        checkpoint::add_signature_lines(&signed, &[line]).unwrap()
    }

    /// The bytes of a hash tile as a tlog-tiles server serves them.
    fn tile(&self, path: &TilePath) -> Vec<u8> {
        let TileKind::Hash(level) = path.kind else {
            panic!("entries tile")
        };
        let mut out = Vec::new();
        for i in 0..u64::from(path.width) {
            let id = NodeId {
                level: level * 8,
                index: path.index * 256 + i,
            };
            out.extend_from_slice(&merkle::reference_node(&self.leaves, id).unwrap());
        }
        out
    }

    fn status_proof(&self, bucket: u64, checkpoint: &str) -> String {
        let leaves = self.bucket_leaves();
        let path = merkle::inclusion_proof(bucket, leaves.len() as u64, |id| {
            merkle::reference_node(&leaves, id)
        })
        .unwrap();
        StatusProof {
            bucket,
            state: self.buckets[bucket as usize].clone(),
            path,
            checkpoint: checkpoint.into(),
        }
        .to_text()
    }

    /// Fetch everything the plan names (as the page does) and verify `label`.
    fn verify(&self, label: &[u8], cosigned: bool) -> online::OnlineReport {
        let cp = self.checkpoint(cosigned);
        let serial = cose::decode_entry(label)
            .ok()
            .and_then(|e| match e {
                cose::Entry::Label { claim, .. } => Some(claim.serial),
                cose::Entry::Status { .. } => None,
            })
            .unwrap();
        let plan = online::plan_for_label(serial, &self.trust, cp.as_bytes());
        let (tiles, status) = match plan {
            Ok(plan) => (
                plan.tiles.iter().map(|t| self.tile(t)).collect::<Vec<_>>(),
                self.status_proof(plan.bucket, &cp),
            ),
            Err(_) => (vec![], String::new()),
        };
        let tile_refs: Vec<&[u8]> = tiles.iter().map(Vec::as_slice).collect();
        let fetched = Fetched {
            checkpoint: Some(cp.as_bytes()),
            tiles: &tile_refs,
            status_proof: (!status.is_empty()).then_some(status.as_bytes()),
        };
        online::verify(label, &self.trust, &Catalog::builtin(), NOW, &fetched)
    }
}

#[test]
fn plan_names_tiles_and_a_bucket_never_the_label() {
    let log = Log::new(1);
    let cp = log.checkpoint(true);
    let plan = online::plan_for_label(260, &log.trust, cp.as_bytes()).unwrap();
    assert_eq!(plan.size, SIZE);
    assert_eq!(plan.status_path(), "status/001");
    let paths = plan.tile_paths();
    // level-0 partial tile 1 (44 wide: entries 256..300), level-0 full tile 0, level-1 partial tile
    assert!(paths.contains(&"tile/0/001.p/44".to_string()), "{paths:?}");
    assert!(paths.iter().all(|p| !p.contains("260")), "{paths:?}");
}

#[test]
fn genuine_label_in_both_buckets() {
    let log = Log::new(1);
    for (serial, name) in [(5, "Cam Five"), (260, "Cam Two-Sixty")] {
        let r = log.verify(&log.entries[serial], true);
        assert_eq!(r.verdict, Verdict::Genuine, "{name}: {r:?}");
        let inc = r.log.unwrap().unwrap();
        assert_eq!((inc.size, inc.witnesses), (SIZE, 1));
        assert_eq!(r.status.unwrap().unwrap().state, LabelState::Active);
    }
}

#[test]
fn revoked_and_suspended_labels() {
    let mut log = Log::new(1);
    log.buckets[1].set(260 % 256, State::Revoked, 6);
    log.buckets[0].set(5, State::Suspended, 12);
    assert_eq!(
        log.verify(&log.entries[260], true).verdict,
        Verdict::Revoked(6)
    );
    assert_eq!(
        log.verify(&log.entries[5], true).verdict,
        Verdict::Suspended(12)
    );
}

#[test]
fn replayed_status_proof_from_before_a_revocation_cannot_say_genuine() {
    let mut log = Log::new(1);
    let label = log.entries[5].clone();
    // a status proof captured while the label was active (tree size 300)
    let old_status = log.status_proof(0, &log.checkpoint(true));
    // the issuer revokes it: a status record is appended (size 301) and the map updated
    let record = cose::StatusRecord {
        action: cose::StatusAction::Revoke,
        target: 5,
        reason: cose::ReasonCode::IssuerKeyCompromise,
        time: NOW - DAY,
        target_leaf_hash: merkle::leaf_hash(&label),
    };
    log.push(cose::sign_status(&record, &key(1)));
    log.buckets[0].set(5, State::Revoked, 1);
    assert_eq!(log.verify(&label, true).verdict, Verdict::Revoked(1));
    // a fresh checkpoint and tiles, but the old status proof replayed
    let cp = log.checkpoint(true);
    let plan = online::plan_for_label(5, &log.trust, cp.as_bytes()).unwrap();
    assert_eq!(plan.size, SIZE + 1);
    let tiles: Vec<Vec<u8>> = plan.tiles.iter().map(|t| log.tile(t)).collect();
    let tile_refs: Vec<&[u8]> = tiles.iter().map(Vec::as_slice).collect();
    let fetched = Fetched {
        checkpoint: Some(cp.as_bytes()),
        tiles: &tile_refs,
        status_proof: Some(old_status.as_bytes()),
    };
    let r = online::verify(&label, &log.trust, &Catalog::builtin(), NOW, &fetched);
    assert_eq!(r.verdict, Verdict::CannotCheck, "{r:?}");
    assert_eq!(r.log.unwrap().unwrap().size, SIZE + 1);
    assert_eq!(
        r.status,
        Some(Err(OnlineError::StaleStatus {
            status_size: SIZE,
            checkpoint_size: SIZE + 1
        }))
    );
}

#[test]
fn validly_signed_label_that_was_never_logged_is_not_genuine() {
    let log = Log::new(1);
    // Signed by the trusted issuer, claims serial 5, but the log holds other bytes at 5.
    let forged = label_at(5, "Cam Never Logged");
    let r = log.verify(&forged, true);
    assert_eq!(r.log, Some(Err(OnlineError::LabelNotInLog)));
    assert_eq!(r.verdict, Verdict::NotGenuine);
}

#[test]
fn corrupt_tiles_or_missing_quorum_cannot_check() {
    let log = Log::new(1);
    let label = &log.entries[260];
    // missing witness cosignature: quorum 1 not met
    let r = log.verify(label, false);
    assert_eq!(r.verdict, Verdict::CannotCheck, "{r:?}");
    assert!(matches!(r.log, Some(Err(OnlineError::Checkpoint(_)))));
    // a flipped bit in a sibling hash: the tiles do not lead to the signed root
    let cp = log.checkpoint(true);
    let plan = online::plan_for_label(260, &log.trust, cp.as_bytes()).unwrap();
    let mut tiles: Vec<Vec<u8>> = plan.tiles.iter().map(|t| log.tile(t)).collect();
    let level0 = plan
        .tiles
        .iter()
        .position(|t| t.index == 1 && t.kind == TileKind::Hash(0))
        .unwrap();
    tiles[level0][0] ^= 1; // leaf 256, the sibling side of 260's path
    let refs: Vec<&[u8]> = tiles.iter().map(Vec::as_slice).collect();
    let status = log.status_proof(1, &cp);
    let fetched = Fetched {
        checkpoint: Some(cp.as_bytes()),
        tiles: &refs,
        status_proof: Some(status.as_bytes()),
    };
    let r = online::verify(label, &log.trust, &Catalog::builtin(), NOW, &fetched);
    assert!(
        matches!(r.log, Some(Err(OnlineError::Inclusion(_)))),
        "{r:?}"
    );
    assert_eq!(r.verdict, Verdict::CannotCheck);
}

#[test]
fn offline_gives_cannot_check_with_the_offline_part() {
    let log = Log::new(1);
    let r = online::verify(
        &log.entries[260],
        &log.trust,
        &Catalog::builtin(),
        NOW,
        &Fetched::default(),
    );
    assert_eq!(r.verdict, Verdict::CannotCheck);
    assert_eq!(
        r.offline.verdict,
        cyberlabel_core::verdict::Verdict::Genuine
    );
    assert_eq!(r.offline.claim.unwrap().product, "Cam Two-Sixty");
}

#[test]
fn tampered_label_is_not_genuine_whatever_the_log_says() {
    let log = Log::new(1);
    let mut bytes = log.entries[260].clone();
    let at = bytes.windows(3).position(|w| w == b"Cam").unwrap();
    bytes[at] = b'D';
    let r = log.verify(&bytes, true);
    assert_eq!(r.verdict, Verdict::NotGenuine);
    assert_eq!(r.log, None); // not even fetched
}
