//! The sequencer's pipeline: while one batch's store commit runs, the next batch is prepared
//! (built, signed, admission-checked) at the indices and under the trust list the committing
//! batch leaves behind — when enough jobs are waiting for that to pay (`QUEUED` here). These
//! tests hold a batch's builder open while many jobs queue behind it, so that the next batch
//! is prepared during its commit, then let the commit succeed or fail, and check that
//! nothing depends on the guess: a failed batch's successors get their real indices and the
//! trust list really in force, and a retry of a key whose first submission was still being
//! committed answers that first result.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use cyberlabel_core::status::EffectError;
use cyberlabel_log::{
    AppendError, Commit, EntryPolicy, Log, LogConfig, LogStore, MemoryStore, StoreError,
    Submission, Ticket,
};
use ed25519_dalek::SigningKey;

/// A memory store whose next commit can be made to fail; a failed commit changes nothing (as
/// redb's), so the log goes on after it.
struct Faulty {
    inner: MemoryStore,
    fail_next: AtomicBool,
    commits: AtomicUsize,
}

impl LogStore for Faulty {
    fn raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.raw(key)
    }
    fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Full("test: no space".into()));
        }
        self.inner.commit(commit)
    }
    fn failed_commit_changes_nothing(&self) -> bool {
        true
    }
}

fn open(policy: EntryPolicy) -> (Log, Arc<Faulty>) {
    let store = Arc::new(Faulty {
        inner: MemoryStore::new(),
        fail_next: AtomicBool::new(false),
        commits: AtomicUsize::new(0),
    });
    let mut c = LogConfig::new(
        "pipeline.cyberlabel.test/log",
        SigningKey::from_bytes(&[13; 32]),
        policy,
    );
    c.batch_size = 64;
    c.max_delay = Duration::from_millis(1);
    let log = Log::with_store(store.clone(), c).unwrap();
    (log, store)
}

/// A builder that waits for `go` before building (so the test can queue more jobs behind its
/// batch), then returns `bytes` or, without them, `entry {index}`.
fn held(go: mpsc::Receiver<()>, bytes: Option<Vec<u8>>) -> Submission {
    let go = Mutex::new(go);
    Submission::build(move |i| {
        let _ = go.lock().unwrap().recv_timeout(Duration::from_secs(10));
        Ok(bytes
            .clone()
            .unwrap_or_else(|| format!("entry {i}").into_bytes()))
    })
}

fn indexed() -> Submission {
    Submission::build(|i| Ok(format!("entry {i}").into_bytes()))
}

/// Jobs queued behind a held one: enough for the sequencer to overlap the next batch's
/// preparation with the held batch's commit.
const QUEUED: usize = 100;

fn wait(t: Ticket) -> Result<cyberlabel_log::Appended, AppendError> {
    t.blocking_recv().unwrap()
}

/// Submits `first` (held until the rest is queued), then `rest` behind it, then lets it go.
fn behind(
    log: &Log,
    first: Submission,
    go: &mpsc::Sender<()>,
    rest: Vec<Submission>,
) -> (Ticket, Vec<Ticket>) {
    let a = log.submit(first);
    // the sequencer has taken the first job into its batch and is building it
    std::thread::sleep(Duration::from_millis(50));
    let others = rest.into_iter().map(|s| log.submit(s)).collect();
    std::thread::sleep(Duration::from_millis(20));
    go.send(()).unwrap();
    (a, others)
}

#[test]
fn a_failed_batch_moves_the_next_one_back_to_its_real_indices() {
    for round in 0..5 {
        let (log, store) = open(EntryPolicy::Opaque);
        wait(log.submit(indexed())).unwrap();
        store.fail_next.store(true, Ordering::SeqCst);
        let (go, rx) = mpsc::channel();
        let rest = (0..QUEUED).map(|_| indexed()).collect();
        let (a, others) = behind(&log, held(rx, None), &go, rest);
        // The held job's batch (perhaps with some of the others) failed: nothing of it is kept.
        let e = wait(a).unwrap_err();
        assert!(matches!(e, AppendError::StorageFull(_)), "{e}");
        let mut got = Vec::new();
        for t in others {
            match wait(t) {
                Ok(x) => got.push(x.index),
                Err(e) => assert!(matches!(e, AppendError::StorageFull(_)), "{e}"),
            }
        }
        // The rest are dense from 1, each built with the index it got.
        assert!(!got.is_empty(), "round {round}: everything failed");
        assert_eq!(
            got,
            (1..=got.len() as u64).collect::<Vec<_>>(),
            "round {round}"
        );
        assert_eq!(log.size(), 1 + got.len() as u64);
        for i in 0..log.size() {
            assert_eq!(log.entry(i).unwrap(), format!("entry {i}").into_bytes());
        }
        assert!(store.commits.load(Ordering::SeqCst) >= 3);
        log.audit().unwrap();
    }
}

#[test]
fn a_retry_behind_its_first_submission_answers_the_first_result() {
    let (log, _) = open(EntryPolicy::Opaque);
    wait(log.submit(indexed())).unwrap();
    let (go, rx) = mpsc::channel();
    let key = [5; 32];
    let mut rest = vec![
        indexed(),
        indexed().with_idempotency_key(key),
        indexed(),
        indexed().with_idempotency_key(key),
    ];
    rest.extend((0..QUEUED).map(|_| indexed()));
    let (a, others) = behind(&log, held(rx, None).with_idempotency_key(key), &go, rest);
    let first = wait(a).unwrap();
    assert!(!first.replayed);
    let answers: Vec<_> = others.into_iter().map(|t| wait(t).unwrap()).collect();
    let fresh = answers.iter().filter(|a| !a.replayed).count() as u64;
    for i in [1, 3] {
        assert!(answers[i].replayed);
        assert_eq!(
            (answers[i].index, answers[i].leaf_hash),
            (first.index, first.leaf_hash)
        );
    }
    assert!(!answers[0].replayed && !answers[2].replayed);
    // the fresh jobs and the first: dense, nothing twice
    assert_eq!(fresh, 2 + QUEUED as u64);
    assert_eq!(log.size(), 2 + fresh);
    for i in 0..log.size() {
        assert_eq!(log.entry(i).unwrap(), format!("entry {i}").into_bytes());
    }
}

fn anchor() -> SigningKey {
    SigningKey::from_bytes(&[91; 32])
}

fn issuer() -> SigningKey {
    SigningKey::from_bytes(&[23; 32])
}

fn trust_list() -> Vec<u8> {
    cyberlabel_log::fixtures::trust_list_for("Issuer 23", &issuer().verifying_key(), &anchor())
}

fn label() -> Submission {
    let key = issuer();
    Submission::build(move |i| {
        let c = cyberlabel_log::fixtures::claim_in("SG-CLS", i, None);
        Ok(cyberlabel_core::cose::sign_label(&c, &key))
    })
    .signed_by(issuer().verifying_key())
}

/// Labels prepared under the trust list of a batch still committing are checked again when
/// that batch fails: with no list in force they are refused, never admitted.
#[test]
fn labels_prepared_under_a_failed_trust_list_are_checked_again() {
    let (log, store) = open(EntryPolicy::Cyberlabel(anchor().verifying_key()));
    store.fail_next.store(true, Ordering::SeqCst);
    let (go, rx) = mpsc::channel();
    let rest = (0..QUEUED).map(|_| label()).collect();
    let (a, others) = behind(&log, held(rx, Some(trust_list())), &go, rest);
    assert!(matches!(wait(a).unwrap_err(), AppendError::StorageFull(_)));
    for t in others {
        match wait(t) {
            Err(AppendError::StorageFull(_) | AppendError::Rejected(EffectError::NoTrustList)) => {}
            other => panic!("a label was not refused: {other:?}"),
        }
    }
    assert_eq!(log.size(), 0);
    // and once the list is in, labels are admitted at dense indices
    wait(log.submit(Submission::entry(trust_list()))).unwrap();
    let tickets: Vec<_> = (0..20).map(|_| log.submit(label())).collect();
    for (n, t) in tickets.into_iter().enumerate() {
        assert_eq!(wait(t).unwrap().index, 1 + n as u64);
    }
    log.audit().unwrap();
}

/// The same with the list committed: labels prepared behind it are admitted under it.
#[test]
fn labels_prepared_behind_a_committing_trust_list_are_admitted() {
    let (log, _) = open(EntryPolicy::Cyberlabel(anchor().verifying_key()));
    let (go, rx) = mpsc::channel();
    let rest = (0..QUEUED).map(|_| label()).collect();
    let (a, others) = behind(&log, held(rx, Some(trust_list())), &go, rest);
    assert_eq!(wait(a).unwrap().index, 0);
    let got: Vec<u64> = others.into_iter().map(|t| wait(t).unwrap().index).collect();
    assert_eq!(got, (1..=QUEUED as u64).collect::<Vec<_>>());
    log.audit().unwrap();
}
