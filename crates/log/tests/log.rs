//! End-to-end behaviour of the log, checked with the verification core: appends, proofs from
//! tiles, the status map, idempotency, recovery, and malicious-log cases.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::sync::Arc;
use std::time::Duration;

use cyberlabel_log::fixtures::claim_in;

use cyberlabel_core::admission::Replay;
use cyberlabel_core::checkpoint::{self, Checkpoint};
use cyberlabel_core::claim::Claim;
use cyberlabel_core::cose;
use cyberlabel_core::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use cyberlabel_core::status::{EffectError, State, verify_status_proof};
use cyberlabel_core::status::{ReasonCode, StatusAction as CoseAction, StatusRecord};
use cyberlabel_core::tiles::{self, TileKind, TilePath, TileSet};
use cyberlabel_core::tlog_proof;
use cyberlabel_core::trust::{self, TrustList, TrustedIssuer};
use cyberlabel_log::{
    AppendError, Appended, BuildError, EntryPolicy, Log, LogConfig, LogError, LogStore,
    MemoryStore, SledStore, Submission,
};
use ed25519_dalek::SigningKey;

const ORIGIN: &str = "log.cyberlabel.test/2026";

fn config(policy: EntryPolicy) -> LogConfig {
    let mut c = LogConfig::new(ORIGIN, SigningKey::from_bytes(&[11; 32]), policy);
    c.batch_size = 64;
    c.max_delay = Duration::from_millis(1);
    c
}

/// A log on a real sled database (temporary: deleted when dropped).
fn sled_log(policy: EntryPolicy) -> Log {
    let db = sled::Config::new().temporary(true).open().unwrap();
    Log::open(db, config(policy)).unwrap()
}

/// A log in a real redb file. The file is unlinked once open (the open handle keeps it), so
/// nothing is left behind.
fn redb_log(policy: EntryPolicy) -> Log {
    let dir = tempfile::tempdir().unwrap();
    let store = cyberlabel_log::RedbStore::open(dir.path().join("log.redb"), 4 << 20).unwrap();
    drop(dir);
    Log::with_store(Arc::new(store), config(policy)).unwrap()
}

/// The store backends the behavioural tests run on: the in-memory store, a real sled database
/// and a real redb file.
const BACKENDS: [&str; 3] = ["memory", "sled", "redb"];

fn open_log(backend: &str, policy: EntryPolicy) -> Log {
    // printed so a failure says which backend it was on
    eprintln!("backend: {backend}");
    match backend {
        "sled" => sled_log(policy),
        "redb" => redb_log(policy),
        _ => Log::open_memory(config(policy)).unwrap(),
    }
}

fn append(log: &Log, s: Submission) -> Result<Appended, AppendError> {
    log.submit(s).blocking_recv().unwrap()
}

fn open_cp(log: &Log, signed: &str) -> Checkpoint {
    checkpoint::open(signed.as_bytes(), &log.policy())
        .unwrap()
        .checkpoint
}

#[test]
fn concurrent_appends_are_dense_and_provable() {
    for backend in BACKENDS {
        concurrent_appends_on(open_log(backend, EntryPolicy::Opaque));
    }
}

fn concurrent_appends_on(log: Log) {
    let log = Arc::new(log);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let tickets: Vec<_> = (0..150)
                    .map(|i| log.submit(Submission::entry(format!("t{t} e{i}").into_bytes())))
                    .collect();
                tickets
                    .into_iter()
                    .map(|tk| tk.blocking_recv().unwrap().unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut acks: Vec<Appended> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    acks.sort_by_key(|a| a.index);
    assert_eq!(acks.len(), 600);
    for (i, a) in acks.iter().enumerate() {
        assert_eq!(a.index, i as u64, "indices are dense and unique");
        assert_eq!(leaf_hash(&log.entry(a.index).unwrap()), a.leaf_hash);
    }
    let latest = open_cp(&log, &log.latest_checkpoint());
    assert_eq!(latest.size, 600);
    assert_eq!(log.root(600).unwrap(), latest.root);
    // every acknowledged checkpoint includes its entry and is consistent with the latest
    for a in acks.iter().step_by(7) {
        let cp = open_cp(&log, &a.checkpoint);
        assert!(cp.size > a.index);
        let p = log.inclusion_proof(a.index, cp.size).unwrap();
        verify_inclusion(&a.leaf_hash, a.index, cp.size, &p, &cp.root).unwrap();
        let c = log.consistency_proof(cp.size, latest.size).unwrap();
        verify_consistency(cp.size, latest.size, &cp.root, &latest.root, &c).unwrap();
    }
    // the browser's path: fetch exactly the tiles core asks for, compute the proof from them
    for index in [0u64, 255, 256, 599] {
        let mut set = TileSet::new();
        for t in tiles::tiles_for_inclusion(index, 600).unwrap() {
            set.insert(t, log.tile(&t).unwrap().unwrap()).unwrap();
        }
        let p = set.inclusion_proof(index, 600).unwrap();
        assert_eq!(
            set.leaf(index, 600).unwrap(),
            acks[index as usize].leaf_hash
        );
        verify_inclusion(
            &acks[index as usize].leaf_hash,
            index,
            600,
            &p,
            &latest.root,
        )
        .unwrap();
    }
    // entry bundles hash to the level-0 tile
    let bundle = log
        .tile(&TilePath {
            kind: TileKind::Entries,
            index: 2,
            width: 88,
        })
        .unwrap()
        .unwrap();
    let entries = tiles::parse_entry_bundle(&bundle).unwrap();
    assert_eq!(entries.len(), 88);
    let t0 = log
        .tile(&TilePath {
            kind: TileKind::Hash(0),
            index: 2,
            width: 88,
        })
        .unwrap()
        .unwrap();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(&leaf_hash(e)[..], &t0[i * 32..i * 32 + 32]);
    }
    // tiles beyond the published size are not served
    assert!(
        log.tile(&TilePath {
            kind: TileKind::Hash(0),
            index: 2,
            width: 89
        })
        .unwrap()
        .is_none()
    );
    assert!(
        log.tile(&TilePath {
            kind: TileKind::Hash(0),
            index: 3,
            width: 1
        })
        .unwrap()
        .is_none()
    );
    // the offline bundle verifies in core
    let proof = log.tlog_proof(42).unwrap();
    tlog_proof::verify(proof.as_bytes(), &log.entry(42).unwrap(), &log.policy()).unwrap();
    assert!(tlog_proof::verify(proof.as_bytes(), b"not the entry", &log.policy()).is_err());
    // and against the checkpoint of the acknowledgement itself
    let a = &acks[17];
    let proof = log.tlog_proof_in(17, &a.checkpoint).unwrap();
    let v = tlog_proof::verify(proof.as_bytes(), &log.entry(17).unwrap(), &log.policy()).unwrap();
    assert_eq!(v.checkpoint.checkpoint, open_cp(&log, &a.checkpoint));
    // a full audit (every entry against the tiles, the status map replayed) passes
    assert_eq!(log.audit().unwrap(), 600);
}

#[test]
fn idempotency_keys_return_the_first_result() {
    let dir = tempfile::tempdir().unwrap();
    let first;
    {
        let log = Log::open(sled::open(dir.path()).unwrap(), config(EntryPolicy::Opaque)).unwrap();
        append(&log, Submission::entry(b"x".to_vec())).unwrap();
        // two submissions with one key in the same batch, and a later retry
        let a = log.submit(Submission::entry(b"once".to_vec()).with_idempotency_key([7; 32]));
        let b = log.submit(Submission::entry(b"twice".to_vec()).with_idempotency_key([7; 32]));
        let (a, b) = (
            a.blocking_recv().unwrap().unwrap(),
            b.blocking_recv().unwrap().unwrap(),
        );
        assert_eq!(a.index, 1);
        assert_eq!(b.index, 1);
        assert!(!a.replayed && b.replayed);
        let c = append(
            &log,
            Submission::entry(b"thrice".to_vec()).with_idempotency_key([7; 32]),
        )
        .unwrap();
        assert_eq!((c.index, c.leaf_hash), (1, a.leaf_hash));
        assert!(c.replayed);
        assert_eq!(log.size(), 2);
        first = a;
    }
    // after a restart the retry still answers the first result and appends nothing
    let log = Log::open(sled::open(dir.path()).unwrap(), config(EntryPolicy::Opaque)).unwrap();
    let d = append(
        &log,
        Submission::entry(b"again".to_vec()).with_idempotency_key([7; 32]),
    )
    .unwrap();
    assert_eq!(
        (d.index, d.leaf_hash, &d.checkpoint),
        (1, first.leaf_hash, &first.checkpoint)
    );
    assert_eq!(log.size(), 2);
    assert_eq!(log.entry(1).unwrap(), b"once");
}

#[test]
fn reopen_continues_and_refuses_tampered_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let cp1;
    {
        let log = Log::open(sled::open(dir.path()).unwrap(), config(EntryPolicy::Opaque)).unwrap();
        for i in 0..300u32 {
            drop(log.submit(Submission::entry(i.to_be_bytes().to_vec())));
        }
        cp1 = append(&log, Submission::entry(b"last".to_vec()))
            .unwrap()
            .checkpoint;
    }
    {
        let log = Log::open(sled::open(dir.path()).unwrap(), config(EntryPolicy::Opaque)).unwrap();
        assert_eq!(log.latest_checkpoint(), cp1);
        let a = append(&log, Submission::entry(b"after restart".to_vec())).unwrap();
        assert_eq!(a.index, 301);
        let (c1, c2) = (open_cp(&log, &cp1), open_cp(&log, &a.checkpoint));
        let p = log.consistency_proof(c1.size, c2.size).unwrap();
        verify_consistency(c1.size, c2.size, &c1.root, &c2.root, &p).unwrap();
    }
    // a wrong signing key is refused
    let mut other = config(EntryPolicy::Opaque);
    other.signing_key = SigningKey::from_bytes(&[12; 32]);
    assert!(matches!(
        Log::open(sled::open(dir.path()).unwrap(), other),
        Err(LogError::Corrupt(_))
    ));
    // one flipped bit in a stored tile on the right edge (the tiles the O(log n) start-up check
    // reads; a full tile below is covered by its hash in the level above, see full_audit): the
    // log refuses to open
    let db = sled::open(dir.path()).unwrap();
    let store = SledStore::new(db.clone()).unwrap();
    let mut t = store.tile(0, 1).unwrap().unwrap();
    t[5] ^= 1;
    store.corrupt_tile(0, 1, t).unwrap();
    let err = Log::open(db, config(EntryPolicy::Opaque)).err().unwrap();
    assert!(err.to_string().contains("stored tiles hash to"), "{err}");
}

#[test]
fn builders_get_their_index_and_failures_append_nothing() {
    for backend in BACKENDS {
        builders_on(open_log(backend, EntryPolicy::Opaque));
    }
}

fn builders_on(log: Log) {
    let a = append(
        &log,
        Submission::build(|i| Ok(format!("entry {i}").into_bytes())),
    )
    .unwrap();
    assert_eq!(
        log.entry(a.index).unwrap(),
        format!("entry {}", a.index).into_bytes()
    );
    let e = append(
        &log,
        Submission::build(|_| Err(BuildError("no key".into()))),
    )
    .unwrap_err();
    assert_eq!(e, AppendError::Build(BuildError("no key".into())));
    let e = append(&log, Submission::build(|_| panic!("issuer bug"))).unwrap_err();
    assert!(matches!(e, AppendError::Build(_)));
    assert_eq!(
        append(&log, Submission::entry(vec![0; 70_000])).unwrap_err(),
        AppendError::EntryTooLarge { len: 70_000 }
    );
    // the sequencer survived and indices stayed dense
    assert_eq!(
        append(&log, Submission::entry(b"next".to_vec()))
            .unwrap()
            .index,
        1
    );
}

#[test]
fn malicious_log_fork_is_detected() {
    for backend in BACKENDS {
        fork_detected_on(
            open_log(backend, EntryPolicy::Opaque),
            open_log(backend, EntryPolicy::Opaque),
        );
    }
}

fn fork_detected_on(honest: Log, fork: Log) {
    // Two logs with the same key that diverge after 10 entries: each one's checkpoints are
    // validly signed, but no consistency proof from one links to the other.
    for i in 0..10u8 {
        append(&honest, Submission::entry(vec![i])).unwrap();
        append(&fork, Submission::entry(vec![i])).unwrap();
    }
    append(&honest, Submission::entry(b"real".to_vec())).unwrap();
    let h = open_cp(&honest, &honest.latest_checkpoint());
    append(&fork, Submission::entry(b"evil".to_vec())).unwrap();
    append(&fork, Submission::entry(b"more".to_vec())).unwrap();
    let f = open_cp(&fork, &fork.latest_checkpoint());
    let p = fork.consistency_proof(h.size, f.size).unwrap();
    assert!(verify_consistency(h.size, f.size, &h.root, &f.root, &p).is_err());
    // and a tampered tile served by a CDN gives a proof that fails against the checkpoint
    let mut set = TileSet::new();
    for t in tiles::tiles_for_inclusion(3, h.size).unwrap() {
        let mut bytes = honest.tile(&t).unwrap().unwrap();
        bytes[9 * 32] ^= 0x40; // leaf 9 is on leaf 3's path (as part of a subtree)
        set.insert(t, bytes).unwrap();
    }
    let p = set.inclusion_proof(3, h.size).unwrap();
    let leaf = leaf_hash(&[3]);
    assert!(verify_inclusion(&leaf, 3, h.size, &p, &h.root).is_err());
}

#[test]
fn memory_store_corruption_is_refused() {
    let store = Arc::new(MemoryStore::new());
    {
        let log = Log::with_store(store.clone(), config(EntryPolicy::Opaque)).unwrap();
        for i in 0..5u8 {
            append(&log, Submission::entry(vec![i])).unwrap();
        }
    }
    Log::with_store(store.clone(), config(EntryPolicy::Opaque)).unwrap();
    store.corrupt_tile(0, 0, vec![0; 5 * 32]);
    assert!(Log::with_store(store, config(EntryPolicy::Opaque)).is_err());
}

#[test]
fn full_audit_finds_a_tampered_interior_tile() {
    let store = Arc::new(MemoryStore::new());
    let log = Log::with_store(store.clone(), config(EntryPolicy::Opaque)).unwrap();
    let tickets: Vec<_> = (0..600u32)
        .map(|i| log.submit(Submission::entry(i.to_be_bytes().to_vec())))
        .collect();
    for t in tickets {
        t.blocking_recv().unwrap().unwrap();
    }
    assert_eq!(log.audit().unwrap(), 600);
    // tile 0/0 is full: the O(log n) open check reads its hash from tile 1/0 instead, so only
    // the full audit (or a client's proof check) notices a change to it
    let t0_orig = store.tile(0, 0).unwrap().unwrap();
    let mut t = t0_orig.clone();
    t[100] ^= 1;
    store.corrupt_tile(0, 0, t);
    let err = log.audit().unwrap_err().to_string();
    assert!(err.contains("entry 3 does not match"), "{err}");
    store.corrupt_tile(0, 0, t0_orig);
    assert_eq!(log.audit().unwrap(), 600);
    // a rewritten entry in a full bundle: the audit notices
    let mut bundle = Vec::new();
    for i in 0..256u32 {
        let e = if i == 7 { 999u32 } else { i };
        tiles::push_bundle_entry(&mut bundle, &e.to_be_bytes()).unwrap();
    }
    store.corrupt_bundle(0, bundle);
    let err = log.audit().unwrap_err().to_string();
    assert!(err.contains("entry 7 does not match"), "{err}");
}

// ---- cyberlabel entries and the status map ----

/// The trust-list signer (the trust anchor the log enforces lists under).
fn anchor_key() -> SigningKey {
    SigningKey::from_bytes(&[90; 32])
}

fn cyberlabel() -> EntryPolicy {
    EntryPolicy::Cyberlabel(anchor_key().verifying_key())
}

/// A signed trust list: issuer keys 21 and 22 for SG-CLS, key 21 also for DE-BSI.
fn trust_list_entry(version: u64) -> Vec<u8> {
    let t = TrustList {
        version,
        issued_at: 1_700_000_000,
        expires_at: 1_900_000_000,
        issuers: vec![
            TrustedIssuer::new(
                "Issuer 21",
                &SigningKey::from_bytes(&[21; 32]).verifying_key(),
                &["SG-CLS", "DE-BSI"],
                0,
                u64::MAX / 2,
            ),
            TrustedIssuer::new(
                "Issuer 22",
                &SigningKey::from_bytes(&[22; 32]).verifying_key(),
                &["SG-CLS"],
                0,
                u64::MAX / 2,
            ),
        ],
        ..TrustList::default()
    };
    trust::sign(t.to_json().as_bytes(), &anchor_key())
}

/// A cyberlabel log whose first entry is the trust list it enforces.
fn labels_log(log: Log) -> Log {
    assert_eq!(
        append(&log, Submission::entry(trust_list_entry(1)))
            .unwrap()
            .index,
        0
    );
    log
}

/// Rule 1 at append: forged status records and renewals (the victim's kid pasted into an
/// attacker's signature), unlisted keys and issuers outside their scheme are refused and
/// nothing is appended; the log holds its trust list and refuses an older one.
#[test]
fn forged_and_unauthorised_entries_are_refused_at_append() {
    for backend in BACKENDS {
        let log = open_log(backend, cyberlabel());
        let issuer = SigningKey::from_bytes(&[21; 32]);
        let attacker = SigningKey::from_bytes(&[66; 32]);
        // before any trust list, nothing is admitted
        assert_eq!(
            issue(&log, &issuer, None).unwrap_err(),
            AppendError::Rejected(EffectError::NoTrustList)
        );
        let log = labels_log(log);
        let (i, tl) = log.trust_list_in_force().unwrap().unwrap();
        assert_eq!((i, tl), (0, trust_list_entry(1)));
        let victim = issue(&log, &issuer, None).unwrap().index;
        let size = log.size();
        let cp = log.latest_checkpoint();
        let paste_kid = |mut bytes: Vec<u8>| {
            let from = cose::key_id(&attacker.verifying_key());
            let to = cose::key_id(&issuer.verifying_key());
            let at = bytes.windows(8).position(|w| w == from).unwrap();
            bytes[at..at + 8].copy_from_slice(&to);
            bytes
        };
        let record = StatusRecord {
            action: CoseAction::Revoke,
            target: victim,
            reason: ReasonCode::Unspecified,
            time: 1_750_000_000,
            target_leaf_hash: leaf_hash(&log.entry(victim).unwrap()),
        };
        let forged_revoke = paste_kid(cose::sign_status(&record, &attacker));
        assert_eq!(
            append(&log, Submission::entry(forged_revoke)).unwrap_err(),
            AppendError::Rejected(EffectError::BadSignature)
        );
        let forged_renewal = paste_kid(cose::sign_label(&claim(size, Some(victim)), &attacker));
        assert_eq!(
            append(&log, Submission::entry(forged_renewal)).unwrap_err(),
            AppendError::Rejected(EffectError::BadSignature)
        );
        assert_eq!(
            issue(&log, &attacker, None).unwrap_err(),
            AppendError::Rejected(EffectError::UnknownIssuerKey)
        );
        let key22 = SigningKey::from_bytes(&[22; 32]);
        assert_eq!(
            append(
                &log,
                Submission::entry(cose::sign_label(&claim_in("DE-BSI", size, None), &key22))
            )
            .unwrap_err(),
            AppendError::Rejected(EffectError::NotAuthorisedForScheme)
        );
        assert_eq!(
            append(&log, Submission::entry(trust_list_entry(1))).unwrap_err(),
            AppendError::Rejected(EffectError::TrustListRollback {
                in_force: 1,
                got: 1
            })
        );
        // nothing was appended and the victim is still active
        assert_eq!(log.size(), size);
        assert_eq!(log.latest_checkpoint(), cp);
        let v = verify_status_proof(
            log.status_proof_for_index(victim).unwrap().as_bytes(),
            &log.policy(),
        )
        .unwrap();
        assert_eq!(v.state_of(victim).unwrap().0, State::Active);
        // a newer trust list is appended and takes effect
        let i2 = append(&log, Submission::entry(trust_list_entry(2)))
            .unwrap()
            .index;
        assert_eq!(log.trust_list_in_force().unwrap().unwrap().0, i2);
        assert_eq!(log.audit().unwrap(), log.size());
    }
}

fn claim(serial: u64, supersedes: Option<u64>) -> Claim {
    claim_in("SG-CLS", serial, supersedes)
}

fn issue(log: &Log, key: &SigningKey, supersedes: Option<u64>) -> Result<Appended, AppendError> {
    let key = key.clone();
    append(
        log,
        Submission::build(move |index| Ok(cose::sign_label(&claim(index, supersedes), &key))),
    )
}

fn change(
    log: &Log,
    key: &SigningKey,
    target: u64,
    action: CoseAction,
) -> Result<Appended, AppendError> {
    let record = StatusRecord {
        action,
        target,
        reason: ReasonCode::Unspecified,
        time: 1_750_000_000,
        target_leaf_hash: leaf_hash(&log.entry(target).unwrap()),
    };
    append(log, Submission::entry(cose::sign_status(&record, key)))
}

#[test]
fn status_map_follows_legal_transitions_only() {
    for backend in BACKENDS {
        status_transitions_on(labels_log(open_log(backend, cyberlabel())));
    }
}

fn status_transitions_on(log: Log) {
    let issuer = SigningKey::from_bytes(&[21; 32]);
    let other = SigningKey::from_bytes(&[22; 32]);
    let l0 = issue(&log, &issuer, None).unwrap().index;
    let l1 = issue(&log, &issuer, None).unwrap().index;
    // a label whose serial is not its index is rejected, nothing appended
    let wrong = cose::sign_label(&claim(99, None), &issuer);
    assert_eq!(
        append(&log, Submission::entry(wrong)).unwrap_err(),
        AppendError::Rejected(EffectError::SerialMismatch {
            index: 3,
            serial: 99
        })
    );
    assert!(matches!(
        append(&log, Submission::entry(b"garbage".to_vec())),
        Err(AppendError::Rejected(EffectError::InvalidEntry(_)))
    ));
    assert_eq!(log.size(), 3);
    let s = change(&log, &issuer, l0, CoseAction::Suspend)
        .unwrap()
        .index;
    assert!(matches!(
        change(&log, &issuer, l0, CoseAction::Suspend),
        Err(AppendError::Rejected(EffectError::IllegalTransition { .. }))
    ));
    change(&log, &issuer, l0, CoseAction::Reinstate).unwrap();
    change(&log, &issuer, l0, CoseAction::Revoke).unwrap();
    for a in [
        CoseAction::Reinstate,
        CoseAction::Suspend,
        CoseAction::Revoke,
    ] {
        assert!(matches!(
            change(&log, &issuer, l0, a),
            Err(AppendError::Rejected(EffectError::IllegalTransition { .. }))
        ));
    }
    // status record signed by another key, or aimed at a status record, is rejected
    assert_eq!(
        change(&log, &other, l1, CoseAction::Suspend).unwrap_err(),
        AppendError::Rejected(EffectError::IssuerMismatch { target: l1 })
    );
    assert_eq!(
        change(&log, &issuer, s, CoseAction::Suspend).unwrap_err(),
        AppendError::Rejected(EffectError::TargetNotLabel { target: s })
    );
    // renewal supersedes the old label
    let l2 = issue(&log, &issuer, Some(l1)).unwrap().index;
    assert!(matches!(
        issue(&log, &issuer, Some(l0)),
        Err(AppendError::Rejected(EffectError::IllegalTransition { .. }))
    ));
    // the status proof verifies in core and shows each state
    let proof = log.status_proof_for_index(l0).unwrap();
    assert!(proof.len() < 2048, "status proof is {} bytes", proof.len());
    let v = verify_status_proof(proof.as_bytes(), &log.policy()).unwrap();
    assert_eq!(v.state_of(l0).unwrap().0, State::Revoked);
    assert_eq!(v.state_of(l1).unwrap().0, State::Superseded);
    assert_eq!(v.state_of(l2).unwrap().0, State::Active);
    assert_eq!(v.state_of(s).unwrap().0, State::None);
    assert!(v.state_of(log.size()).is_err());
    // an auditor replaying the entries with core's rules gets the committed status root
    let mut replay = Replay::new(anchor_key().verifying_key());
    for i in 0..log.size() {
        replay.push(&log.entry(i).unwrap()).unwrap();
    }
    let latest = open_cp(&log, &log.latest_checkpoint());
    assert_eq!(Some(replay.status().commitment()), latest.status().unwrap());
    assert_eq!(replay.status().bucket(0).unwrap(), &v.state);
    // and the log's own full audit agrees
    assert_eq!(log.audit().unwrap(), log.size());
}

#[test]
fn renewal_by_another_issuer_or_scheme_is_rejected_on_sled() {
    let log = labels_log(sled_log(cyberlabel()));
    let issuer = SigningKey::from_bytes(&[21; 32]);
    let other = SigningKey::from_bytes(&[22; 32]);
    let l0 = issue(&log, &issuer, None).unwrap().index;
    let cp_before = log.latest_checkpoint();
    let renew = |key: &SigningKey, scheme: &'static str| {
        let key = key.clone();
        append(
            &log,
            Submission::build(move |i| Ok(cose::sign_label(&claim_in(scheme, i, Some(l0)), &key))),
        )
    };
    assert_eq!(
        renew(&other, "SG-CLS").unwrap_err(),
        AppendError::Rejected(EffectError::IssuerMismatch { target: l0 })
    );
    assert_eq!(
        renew(&issuer, "DE-BSI").unwrap_err(),
        AppendError::Rejected(EffectError::SchemeMismatch { target: l0 })
    );
    // nothing appended, the target is still active
    assert_eq!(log.size(), 2);
    assert_eq!(log.latest_checkpoint(), cp_before);
    let proof = log.status_proof_for_index(l0).unwrap();
    let v = verify_status_proof(proof.as_bytes(), &log.policy()).unwrap();
    assert_eq!(v.state_of(l0).unwrap().0, State::Active);
    // the issuer's own renewal under the same scheme still works
    let l1 = renew(&issuer, "SG-CLS").unwrap().index;
    assert_eq!(l1, 2);
    let proof = log.status_proof_for_index(l0).unwrap();
    let v = verify_status_proof(proof.as_bytes(), &log.policy()).unwrap();
    assert_eq!(v.state_of(l0).unwrap().0, State::Superseded);
}

#[test]
fn log_handle_is_shareable_across_threads_and_tasks() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Log>();
    assert_send_sync::<Arc<dyn LogStore>>();
}

#[test]
fn witness_cosignatures_are_verified_before_they_are_attached() {
    use cyberlabel_core::note::{KeyKind, NoteSigner};
    let log = Log::open_memory(config(EntryPolicy::Opaque)).unwrap();
    append(&log, Submission::entry(b"a".to_vec())).unwrap();
    let w1 = NoteSigner::new(
        "w1.example",
        KeyKind::CosignatureV1,
        SigningKey::from_bytes(&[31; 32]),
    )
    .unwrap();
    let w2 = NoteSigner::new(
        "w2.example",
        KeyKind::CosignatureV1,
        SigningKey::from_bytes(&[32; 32]),
    )
    .unwrap();
    let witnesses = vec![w1.verifier().clone(), w2.verifier().clone()];
    let signed = log.latest_checkpoint();
    let body = checkpoint::open(signed.as_bytes(), &log.policy())
        .unwrap()
        .checkpoint
        .to_text();
    let good = checkpoint::cosign(&body, &w1, 1_764_000_000).unwrap();
    // a line by a known witness over another text is refused (it would poison the note)
    let bad = checkpoint::cosign(
        "other\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        &w2,
        5,
    )
    .unwrap();
    assert!(log.add_cosignatures(&signed, &[bad], &witnesses).is_err());
    // a line by an unknown key is refused too
    let stranger = NoteSigner::new(
        "x.example",
        KeyKind::CosignatureV1,
        SigningKey::from_bytes(&[33; 32]),
    )
    .unwrap();
    let unknown = checkpoint::cosign(&body, &stranger, 5).unwrap();
    assert!(
        log.add_cosignatures(&signed, &[unknown], &witnesses)
            .is_err()
    );
    assert_eq!(log.latest_checkpoint(), signed);
    let updated = log.add_cosignatures(&signed, &[good], &witnesses).unwrap();
    assert_eq!(log.latest_checkpoint(), updated);
    let policy = checkpoint::Policy::k_of_n(log.verifier_key().clone(), witnesses, 1);
    checkpoint::open(updated.as_bytes(), &policy).unwrap();
    // a fresh cosignature by the same witness replaces its older line instead of accumulating
    let fresher = checkpoint::cosign(&body, &w1, 1_764_000_030).unwrap();
    let recosigned = log
        .add_cosignatures(&signed, std::slice::from_ref(&fresher), &policy.witnesses)
        .unwrap();
    assert_eq!(recosigned.matches("\u{2014} ").count(), 2, "{recosigned}");
    assert!(recosigned.ends_with(&format!("{fresher}\n")));
    let v = checkpoint::open(recosigned.as_bytes(), &policy).unwrap();
    assert!(
        v.note
            .verified
            .iter()
            .any(|s| s.timestamp == Some(1_764_000_030))
    );
    assert_eq!(log.latest_checkpoint(), recosigned);
    // after the next batch the old checkpoint can no longer be cosigned
    append(&log, Submission::entry(b"b".to_vec())).unwrap();
    let late = checkpoint::cosign(&body, &w2, 6).unwrap();
    assert!(matches!(
        log.add_cosignatures(&signed, &[late], &policy.witnesses),
        Err(LogError::NotFound)
    ));
}

/// A rogue operator bypasses the admission rules (opens the store with an opaque log and
/// appends a forged revocation): the log's full audit replays every entry through the same
/// rules and names the entry; a revocation that the status map did not follow is caught too.
#[test]
fn full_audit_flags_entries_planted_past_the_rules() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let issuer = SigningKey::from_bytes(&[21; 32]);
    let attacker = SigningKey::from_bytes(&[66; 32]);
    let log = labels_log(Log::open(db.clone(), config(cyberlabel())).unwrap());
    let victim = issue(&log, &issuer, None).unwrap().index;
    let victim_hash = leaf_hash(&log.entry(victim).unwrap());
    assert_eq!(log.audit().unwrap(), 2);
    log.close();
    let record = StatusRecord {
        action: CoseAction::Revoke,
        target: victim,
        reason: ReasonCode::Unspecified,
        time: 1_750_000_000,
        target_leaf_hash: victim_hash,
    };
    let mut forged = cose::sign_status(&record, &attacker);
    let from = cose::key_id(&attacker.verifying_key());
    let at = forged.windows(8).position(|w| w == from).unwrap();
    forged[at..at + 8].copy_from_slice(&cose::key_id(&issuer.verifying_key()));
    let rogue = Log::open(db.clone(), config(EntryPolicy::Opaque)).unwrap();
    assert_eq!(append(&rogue, Submission::entry(forged)).unwrap().index, 2);
    rogue.close();
    let log = Log::open(db.clone(), config(cyberlabel())).unwrap();
    match log.audit() {
        Err(LogError::Corrupt(m)) => {
            assert!(m.contains("entry 2") && m.contains("signature"), "{m}")
        }
        other => panic!("forged entry not flagged: {other:?}"),
    }
    log.close();
    // a genuine revocation appended past the rules: valid entry, but the status map (and so
    // the checkpoint's status root) did not follow it
    let db = sled::Config::new().temporary(true).open().unwrap();
    let log = labels_log(Log::open(db.clone(), config(cyberlabel())).unwrap());
    let victim = issue(&log, &issuer, None).unwrap().index;
    let record = StatusRecord {
        target_leaf_hash: leaf_hash(&log.entry(victim).unwrap()),
        ..record
    };
    log.close();
    let rogue = Log::open(db.clone(), config(EntryPolicy::Opaque)).unwrap();
    append(
        &rogue,
        Submission::entry(cose::sign_status(&record, &issuer)),
    )
    .unwrap();
    rogue.close();
    let log = Log::open(db, config(cyberlabel())).unwrap();
    match log.audit() {
        Err(LogError::Corrupt(m)) => assert!(m.contains("status root"), "{m}"),
        other => panic!("status root mismatch not flagged: {other:?}"),
    }
}

/// Labels are built and checked on every core ahead of the sequential pass, each at the index
/// it gets if every job before it is accepted. A refused job (a builder error, an issuer key
/// the list does not name, an in-batch idempotency duplicate) moves every later job's index:
/// those are built again at their real index, so each label's serial is still its index.
#[test]
fn a_refusal_inside_a_parallel_batch_moves_later_labels_to_their_real_index() {
    for backend in BACKENDS {
        let log = labels_log(open_log(backend, cyberlabel()));
        let issuer = SigningKey::from_bytes(&[21; 32]);
        let stranger = SigningKey::from_bytes(&[66; 32]);
        // submitted together: one batch (64) prepared in parallel
        let tickets: Vec<_> = (0..48u64)
            .map(|n| {
                let key = if n == 20 {
                    stranger.clone()
                } else {
                    issuer.clone()
                };
                let mut s = Submission::build(move |index| {
                    if n == 7 {
                        return Err(BuildError("no product data".into()));
                    }
                    Ok(cose::sign_label(&claim(index, None), &key))
                });
                if n == 30 || n == 31 {
                    s = s.with_idempotency_key([30; 32]);
                }
                log.submit(s)
            })
            .collect();
        let results: Vec<_> = tickets
            .into_iter()
            .map(|t| t.blocking_recv().unwrap())
            .collect();
        assert!(matches!(results[7], Err(AppendError::Build(_))));
        assert!(results[20].is_err(), "{:?}", results[20]);
        let accepted: Vec<&Appended> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        // 48 jobs, 2 refused, one a duplicate of another: 45 new entries after the trust list
        let mut indices: Vec<u64> = accepted
            .iter()
            .filter(|a| !a.replayed)
            .map(|a| a.index)
            .collect();
        indices.sort_unstable();
        assert_eq!(indices, (1..=45).collect::<Vec<_>>());
        assert_eq!(
            results[31].as_ref().unwrap().index,
            results[30].as_ref().unwrap().index
        );
        for i in 1..=45u64 {
            let Ok(cose::Entry::Label { claim, .. }) = cose::decode_entry(&log.entry(i).unwrap())
            else {
                panic!("entry {i} is not a label")
            };
            assert_eq!(claim.serial, i, "label at {i} says serial {}", claim.serial);
        }
        // the log's own audit replays every admission decision and agrees
        log.audit().unwrap();
    }
}

/// A builder that signs in this process names its key; admission checks that key against the
/// trust list (the kid's listed key) instead of re-verifying the fresh signature. A builder that
/// names another key than the listed one is refused; fixed bytes are always verified, whatever
/// key the submission names.
#[test]
fn a_builder_signing_here_must_name_the_listed_key_and_given_bytes_are_always_verified() {
    let log = labels_log(open_log("sled", cyberlabel()));
    let issuer = SigningKey::from_bytes(&[21; 32]);
    let other = SigningKey::from_bytes(&[22; 32]).verifying_key();
    let build = |named: ed25519_dalek::VerifyingKey| {
        let key = issuer.clone();
        Submission::build(move |index| Ok(cose::sign_label(&claim(index, None), &key)))
            .signed_by(named)
    };
    assert!(append(&log, build(issuer.verifying_key())).is_ok());
    assert_eq!(
        append(&log, build(other)).unwrap_err(),
        AppendError::Rejected(cyberlabel_core::status::EffectError::BadSignature)
    );
    // a forged signature in given bytes is caught even if the submission names the right key
    let mut forged = cose::sign_label(&claim(log.size(), None), &issuer);
    let n = forged.len();
    forged[n - 1] ^= 1;
    assert_eq!(
        append(
            &log,
            Submission::entry(forged).signed_by(issuer.verifying_key())
        )
        .unwrap_err(),
        AppendError::Rejected(cyberlabel_core::status::EffectError::BadSignature)
    );
    log.audit().unwrap();
}
