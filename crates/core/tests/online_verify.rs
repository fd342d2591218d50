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
use cyberlabel_core::online::Seen;
use cyberlabel_core::online::{self, Fetched, OnlineError};
use cyberlabel_core::status::{self, Bucket, State, StatusProof};
use cyberlabel_core::tiles::{TileKind, TilePath};
use cyberlabel_core::trust::{
    Quorum, TrustList, TrustedIssuer, TrustedLog, TrustedWitness, WitnessPolicy,
};
use cyberlabel_core::verdict::Verdict;
use label_common::{DAY, T0, key, typical_claim};

const ORIGIN: &str = "example.test/log";
const SIZE: u64 = 300;
const NOW: u64 = T0 + 10 * DAY;

struct Log {
    origin: &'static str,
    entries: Vec<Vec<u8>>,
    leaves: Vec<Hash>,
    buckets: Vec<Bucket>,
    log_key: NoteSigner,
    witness: NoteSigner,
    trust: TrustList,
}

fn label_at(serial: u64, product: &str) -> Vec<u8> {
    label_by(1, serial, product)
}

fn label_by(issuer_seed: u8, serial: u64, product: &str) -> Vec<u8> {
    let mut c = typical_claim();
    c.serial = serial;
    c.product = product.into();
    cose::sign_label(&c, &key(issuer_seed))
}

impl Log {
    /// 300 entries; labels at 5 and 260 (second bucket), filler entries elsewhere.
    fn new(quorum: u32) -> Self {
        Self::build(quorum, ORIGIN, [1, 7, 8])
    }

    /// A log named `origin` whose labels are signed by issuer key `seeds[0]`, with log key
    /// `seeds[1]` and witness key `seeds[2]`.
    fn build(quorum: u32, origin: &'static str, seeds: [u8; 3]) -> Self {
        let [issuer, log_seed, witness_seed] = seeds;
        let mut entries: Vec<Vec<u8>> = (0..SIZE)
            .map(|i| format!("entry {i}").into_bytes())
            .collect();
        entries[5] = label_by(issuer, 5, "Cam Five");
        entries[260] = label_by(issuer, 260, "Cam Two-Sixty");
        let leaves = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
        let mut buckets = vec![Bucket([0; 512]), Bucket([0; 512])];
        buckets[0].set(5, State::Active, 0);
        buckets[1].set(260 % 256, State::Active, 0);
        let log_key = NoteSigner::new(origin, KeyKind::Ed25519, key(log_seed)).unwrap();
        let witness_name = format!("witness.test/w{witness_seed}");
        let witness =
            NoteSigner::new(&witness_name, KeyKind::CosignatureV1, key(witness_seed)).unwrap();
        let trust = TrustList {
            version: 1,
            issued_at: T0,
            expires_at: T0 + 3650 * DAY,
            issuers: vec![TrustedIssuer::new(
                "Test issuing body",
                &key(issuer).verifying_key(),
                &["SG-CLS"],
                T0 - DAY,
                T0 + 3650 * DAY,
            )],
            logs: vec![TrustedLog {
                origin: origin.into(),
                vkey: log_key.verifier().to_string(),
                url: "https://example.test/".into(),
                max_merge_delay: 0,
                witness_policy: None,
            }],
            witnesses: vec![TrustedWitness {
                name: witness_name,
                vkey: witness.verifier().to_string(),
            }],
            witness_policy: WitnessPolicy {
                quorum: Quorum::Count(quorum),
                max_age: 3_600,
                ..WitnessPolicy::default()
            },
            equivalences: vec![],
        };
        Log {
            origin,
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
        self.checkpoint_at(cosigned, NOW - 5)
    }

    /// A checkpoint of the current tree, cosigned by the witness at `time`.
    fn checkpoint_at(&self, cosigned: bool, time: u64) -> String {
        let size = self.leaves.len() as u64;
        let mut cp = Checkpoint::new(self.origin, size, merkle::reference_root(&self.leaves));
        cp.set_status(StatusCommitment {
            bucket_count: status::bucket_count(size),
            root: self.status_root(),
        });
        let signed = cp.sign(&self.log_key).unwrap();
        if !cosigned {
            return signed;
        }
        let line = checkpoint::cosign(&cp.to_text(), &self.witness, time).unwrap();
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
        self.verify_cp(label, &self.checkpoint(cosigned), NOW, None)
    }

    /// Verify `label` at `now` against checkpoint `cp`, as a verifier that remembers `seen`.
    fn verify_cp(
        &self,
        label: &[u8],
        cp: &str,
        now: u64,
        seen: Option<&Seen>,
    ) -> online::OnlineReport {
        self.verify_under(&self.trust, label, cp, now, seen)
    }

    /// As [`Log::verify_cp`], under a verifier's own trust list `trust`.
    fn verify_under(
        &self,
        trust: &TrustList,
        label: &[u8],
        cp: &str,
        now: u64,
        seen: Option<&Seen>,
    ) -> online::OnlineReport {
        let cp = cp.to_string();
        let serial = cose::decode_entry(label)
            .ok()
            .and_then(|e| match e {
                cose::Entry::Label { claim, .. } => Some(claim.serial),
                cose::Entry::Status { .. } => None,
            })
            .unwrap();
        let plan = online::plan_for_label(serial, trust, cp.as_bytes(), now, seen);
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
        online::verify(label, trust, &Catalog::builtin(), now, &fetched, seen)
    }

    fn root(&self) -> Hash {
        merkle::reference_root(&self.leaves)
    }
}

#[test]
fn plan_names_tiles_and_a_bucket_never_the_label() {
    let log = Log::new(1);
    let cp = log.checkpoint(true);
    let plan = online::plan_for_label(260, &log.trust, cp.as_bytes(), NOW, None).unwrap();
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
        assert_eq!(r.status.unwrap().unwrap().state, State::Active);
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
    let record = status::StatusRecord {
        action: status::StatusAction::Revoke,
        target: 5,
        reason: status::ReasonCode::IssuerKeyCompromise,
        time: NOW - DAY,
        target_leaf_hash: merkle::leaf_hash(&label),
    };
    log.push(cose::sign_status(&record, &key(1)));
    log.buckets[0].set(5, State::Revoked, 1);
    assert_eq!(log.verify(&label, true).verdict, Verdict::Revoked(1));
    // a fresh checkpoint and tiles, but the old status proof replayed
    let cp = log.checkpoint(true);
    let plan = online::plan_for_label(5, &log.trust, cp.as_bytes(), NOW, None).unwrap();
    assert_eq!(plan.size, SIZE + 1);
    let tiles: Vec<Vec<u8>> = plan.tiles.iter().map(|t| log.tile(t)).collect();
    let tile_refs: Vec<&[u8]> = tiles.iter().map(Vec::as_slice).collect();
    let fetched = Fetched {
        checkpoint: Some(cp.as_bytes()),
        tiles: &tile_refs,
        status_proof: Some(old_status.as_bytes()),
    };
    let r = online::verify(&label, &log.trust, &Catalog::builtin(), NOW, &fetched, None);
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
    assert_eq!(r.verdict, Verdict::NotInLog);
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
    let plan = online::plan_for_label(260, &log.trust, cp.as_bytes(), NOW, None).unwrap();
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
    let r = online::verify(label, &log.trust, &Catalog::builtin(), NOW, &fetched, None);
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
        None,
    );
    assert_eq!(r.verdict, Verdict::CannotCheck);
    assert_eq!(r.offline.verdict, Verdict::Genuine);
    assert_eq!(r.offline.claim.unwrap().product, "Cam Two-Sixty");
}

#[test]
fn tampered_label_is_not_genuine_whatever_the_log_says() {
    let log = Log::new(1);
    let mut bytes = log.entries[260].clone();
    // The product name travels packed (FORMATS §1): "Cam…" → "Dam…" is one bit of its first byte.
    let packed = cyberlabel_core::packed_text::pack("Cam Two-Sixty").unwrap();
    let at = bytes.windows(3).position(|w| w == &packed[..3]).unwrap();
    bytes[at] ^= 0x04;
    let r = log.verify(&bytes, true);
    assert_eq!(r.verdict, Verdict::Tampered);
    assert_eq!(r.log, None); // not even fetched
}

/// Replay: after a revocation, the operator (or a network attacker) serves the pre-revocation
/// checkpoint, its tiles and its status proof. Validly signed, consistent with each other — and
/// never Genuine: stale by the witnesses' clock, and a rollback for a verifier that saw the newer
/// checkpoint.
#[test]
fn replayed_pre_revocation_state_is_never_genuine() {
    let log = Log::new(1);
    let label = log.entries[5].clone();
    let then = NOW - 2 * 3_600; // the old state, cosigned two hours ago
    let old_cp = log.checkpoint_at(true, then);
    assert_eq!(
        log.verify_cp(&label, &old_cp, then + 60, None).verdict,
        Verdict::Genuine
    );
    let old_seen = Seen {
        size: SIZE,
        root: log.root(),
    };
    let record = status::StatusRecord {
        action: status::StatusAction::Revoke,
        target: 5,
        reason: status::ReasonCode::IssuerKeyCompromise,
        time: NOW - 3_600,
        target_leaf_hash: merkle::leaf_hash(&label),
    };
    let mut revoked = Log::new(1);
    revoked.push(cose::sign_status(&record, &key(1)));
    revoked.buckets[0].set(5, State::Revoked, 1);
    let new_cp = revoked.checkpoint(true);
    let r = revoked.verify_cp(&label, &new_cp, NOW, Some(&old_seen));
    assert_eq!(r.verdict, Verdict::Revoked(1), "{r:?}");
    let newest = r.newest.unwrap();
    assert_eq!(newest.size, SIZE + 1);

    // 1. the old state replayed now: its cosignature is two hours old (max age one hour)
    let r = log.verify_cp(&label, &old_cp, NOW, None);
    assert_eq!(r.verdict, Verdict::CannotCheck, "{r:?}");
    assert_eq!(
        r.log,
        Some(Err(OnlineError::Checkpoint(
            checkpoint::CheckpointError::NotFresh
        )))
    );
    // 2. even with a fresh cosignature on the old tree (a witness that never saw the new one),
    //    a verifier that remembers the newer checkpoint calls it a rollback
    let old_fresh = log.checkpoint_at(true, NOW - 5);
    let r = log.verify_cp(&label, &old_fresh, NOW, Some(&newest));
    assert_eq!(r.verdict, Verdict::LogInconsistent, "{r:?}");
    assert_eq!(
        r.log,
        Some(Err(OnlineError::Rollback {
            size: SIZE,
            seen: SIZE + 1
        }))
    );
}

/// A split view: a checkpoint of the same size with another root, or a larger one that does
/// not extend the tree verified before, is a warning; a real extension is accepted and
/// remembered.
#[test]
fn split_view_against_the_remembered_checkpoint() {
    let log = Log::new(1);
    let label = log.entries[260].clone();
    let cp = log.checkpoint(true);
    let other_root = Seen {
        size: SIZE,
        root: [9; 32],
    };
    let r = log.verify_cp(&label, &cp, NOW, Some(&other_root));
    assert_eq!(r.verdict, Verdict::LogInconsistent, "{r:?}");
    assert_eq!(
        r.log,
        Some(Err(OnlineError::Fork {
            size: SIZE,
            seen: SIZE
        }))
    );
    // an older tree whose root is not a prefix of this one
    let prefix = Seen {
        size: 100,
        root: merkle::reference_root(&log.leaves[..100]),
    };
    let r = log.verify_cp(&label, &cp, NOW, Some(&prefix));
    assert_eq!(r.verdict, Verdict::Genuine, "{r:?}");
    assert_eq!(
        r.newest,
        Some(Seen {
            size: SIZE,
            root: log.root()
        })
    );
    let not_prefix = Seen {
        size: 100,
        root: merkle::reference_root(&log.leaves[1..101]),
    };
    let r = log.verify_cp(&label, &cp, NOW, Some(&not_prefix));
    assert_eq!(r.verdict, Verdict::LogInconsistent, "{r:?}");
    assert_eq!(r.newest, None);
}

/// A label minted off the log with the trusted issuer key: its serial is beyond the tree. Once
/// a fresh witnessed checkpoint is past its issue day (plus the merge delay) it is Not genuine —
/// not in the public log; a label issued today may simply not be logged yet.
#[test]
fn label_minted_off_log_is_not_in_log() {
    let log = Log::new(1);
    let stolen = label_at(SIZE + 50, "Cam Off The Record");
    let r = log.verify(&stolen, true);
    assert_eq!(r.verdict, Verdict::NotInLog, "{r:?}");
    assert!(matches!(
        r.log,
        Some(Err(OnlineError::NeverLogged { index, size, .. })) if index == SIZE + 50 && size == SIZE
    ));
    // issued today (the typical claim is issued at T0; verify on that day)
    let today = T0 + 3_600;
    let cp = log.checkpoint_at(true, today - 5);
    let r = log.verify_cp(&stolen, &cp, today, None);
    assert_eq!(r.verdict, Verdict::CannotCheck, "{r:?}");
    // no witness policy: nothing says how fresh the checkpoint is, so nothing is proven
    let mut unwitnessed = Log::new(0);
    unwitnessed.trust.witness_policy.quorum = Quorum::Count(0);
    let r = unwitnessed.verify(&stolen, false);
    assert_eq!(r.verdict, Verdict::CannotCheck, "{r:?}");
}

/// A post-dated label (issued on a day that has not begun anywhere) is not genuine.
#[test]
fn post_dated_label_is_not_genuine() {
    let log = Log::new(1);
    let mut c = typical_claim();
    c.serial = 5;
    c.issued_at = NOW + 2 * DAY;
    c.expires_at = c.issued_at + 365 * DAY;
    let label = cose::sign_label(&c, &key(1));
    let r = log.verify(&label, true);
    assert_eq!(r.verdict, Verdict::NotYetValid, "{r:?}");
    assert_eq!(r.offline.verdict, Verdict::NotYetValid);
    // issued "tomorrow" in UTC but already today at UTC+14: still fine
    let mut c = typical_claim();
    c.issued_at = (NOW / DAY + 1) * DAY;
    c.expires_at = c.issued_at + 365 * DAY;
    let report = cyberlabel_core::verdict::verify_offline(
        &cose::sign_label(&c, &key(1)),
        &log.trust,
        &Catalog::builtin(),
        c.issued_at - 10 * 3_600,
    );
    assert_eq!(report.verdict, Verdict::Genuine);
}

/// Federation: a verifier whose trust list names a partner deployment (its issuer, its log and
/// that log's own witness policy) checks the partner's label on the partner's log; the same
/// label checked against the verifier's own log is "cannot check", never "not in the log".
#[test]
fn a_partners_label_is_checked_on_the_partners_log_under_its_witness_policy() {
    let own = Log::new(1);
    let partner = Log::build(1, "partner.test/log", [2, 9, 10]);
    let mut trust = own.trust.clone();
    let mut partner_issuer = partner.trust.issuers[0].clone();
    partner_issuer.log = Some(partner.origin.into());
    trust.issuers.push(partner_issuer);
    let mut partner_log = partner.trust.logs[0].clone();
    partner_log.witness_policy = Some(WitnessPolicy {
        quorum: Quorum::Name("witness.test/w10".into()),
        max_age: 3_600,
        ..WitnessPolicy::default()
    });
    trust.logs.push(partner_log);
    trust.witnesses.extend(partner.trust.witnesses.clone());
    trust.witness_policy.quorum = Quorum::Name("witness.test/w8".into());
    // round trip through JSON: the list as a verifier loads it
    let trust = TrustList::from_json(&serde_json::to_string(&trust).unwrap()).unwrap();

    let label = partner.entries[260].clone();
    let r = partner.verify_under(&trust, &label, &partner.checkpoint(true), NOW, None);
    assert_eq!(r.verdict, Verdict::Genuine, "{r:?}");
    assert_eq!(
        r.log.as_ref().unwrap().as_ref().unwrap().origin,
        partner.origin
    );
    // the verifier's own labels still need its own witness
    let own_label = own.entries[5].clone();
    let r = own.verify_under(&trust, &own_label, &own.checkpoint(true), NOW, None);
    assert_eq!(r.verdict, Verdict::Genuine, "{r:?}");

    // the partner's label asked at the verifier's own log: that log holds other bytes at 260,
    // which proves nothing about a label the trust list places in the partner's log
    let r = own.verify_under(&trust, &label, &own.checkpoint(true), NOW, None);
    assert_eq!(r.log, Some(Err(OnlineError::WrongLog)), "{r:?}");
    assert_eq!(r.verdict, Verdict::CannotCheck);

    // the partner log's own policy applies to it: the partner's checkpoint without its
    // witness's cosignature does not verify (the list-wide witness is not the partner's)
    let r = partner.verify_under(&trust, &label, &partner.checkpoint(false), NOW, None);
    assert_eq!(r.verdict, Verdict::CannotCheck, "{r:?}");
    let mut strict = trust.clone();
    strict.logs[1].witness_policy = Some(WitnessPolicy {
        quorum: Quorum::Name("witness.test/w8".into()),
        ..WitnessPolicy::default()
    });
    let r = partner.verify_under(&strict, &label, &partner.checkpoint(true), NOW, None);
    assert!(
        matches!(r.log, Some(Err(OnlineError::Checkpoint(_)))),
        "a partner checkpoint judged by the partner log's policy: {r:?}"
    );

    // an issuer naming a log the list does not carry is refused when the list is loaded
    let mut bad = trust.clone();
    bad.issuers[1].log = Some("nowhere.test/log".into());
    assert!(TrustList::from_json(&serde_json::to_string(&bad).unwrap()).is_err());
}

/// A verdict checks each signature it needs once: the log's and the witness's on the checkpoint
/// when planning the fetches, the label's when verifying — not the checkpoint's again for the
/// inclusion proof or inside a status proof with the same bytes. A status proof against
/// another checkpoint is verified in full; after `forget_verified` everything is checked again.
#[test]
fn a_verdict_checks_each_signature_once() {
    use cyberlabel_core::ops::Ops;
    let log = Log::new(1);
    let cp = log.checkpoint(true);
    let label = &log.entries[260];
    let before = Ops::now();
    let plan = online::plan_for_label(260, &log.trust, cp.as_bytes(), NOW, None).unwrap();
    let planning = Ops::now().since(before);
    assert_eq!(planning.signatures, 2, "log + witness: {planning:?}");
    let tiles: Vec<Vec<u8>> = plan.tiles.iter().map(|t| log.tile(t)).collect();
    let tile_refs: Vec<&[u8]> = tiles.iter().map(Vec::as_slice).collect();
    let verify_with = |status: &str| {
        let fetched = Fetched {
            checkpoint: Some(cp.as_bytes()),
            tiles: &tile_refs,
            status_proof: Some(status.as_bytes()),
        };
        let before = Ops::now();
        let r = online::verify(label, &log.trust, &Catalog::builtin(), NOW, &fetched, None);
        assert_eq!(r.verdict, Verdict::Genuine, "{r:?}");
        Ops::now().since(before)
    };
    let same = log.status_proof(plan.bucket, &cp);
    let ops = verify_with(&same);
    assert_eq!(ops.signatures, 1, "the label only: {ops:?}");
    println!("one online verdict (tree size {SIZE}): plan {planning:?}, verify {ops:?}");

    // a status proof against a checkpoint cosigned a second earlier: other bytes, verified anew
    let other = log.checkpoint_at(true, NOW - 6);
    assert_ne!(cp, other);
    let ops = verify_with(&log.status_proof(plan.bucket, &other));
    assert_eq!(
        ops.signatures, 3,
        "label + the other checkpoint's log + witness: {ops:?}"
    );

    // from nothing: the checkpoint (log + witness) and the label
    checkpoint::forget_verified();
    let ops = verify_with(&same);
    assert_eq!(ops.signatures, 3, "label + log + witness: {ops:?}");
}
