//! Crash safety: a child process appends real cyberlabel entries in a loop — signed labels and
//! status records (suspend, reinstate, revoke) on earlier labels — and prints every
//! acknowledged append; it is killed with SIGKILL at a random moment, 20 times over the same
//! store, once on sled and once on redb. Afterwards every acknowledged entry is present, indices are dense, the final
//! checkpoint is consistent with every checkpoint ever handed out, and the **status map** survived
//! too: the map the log serves (every bucket's status proof) equals what core's rules give when
//! the entries are replayed, the latest checkpoint commits to it, and every checkpoint handed out
//! committed to the status of exactly the entries below its size.
//!
//! Each restarted child also relies on the recovered map: it reads the states from the log's own
//! status proofs and submits only transitions legal from them, so a map that lost or invented a
//! change would make the log reject one (reported as `REJECTED`, which fails the test).
//!
//! The child is this same test binary re-executed with `--ignored --exact crash_child`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use cyberlabel_log::fixtures::claim_in;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use cyberlabel_core::admission::Replay;
use cyberlabel_core::checkpoint;
use cyberlabel_core::cose;
use cyberlabel_core::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use cyberlabel_core::status::{self, BUCKET_LABELS, State, verify_status_proof};
use cyberlabel_core::status::{ReasonCode, StatusAction, StatusRecord};
use cyberlabel_log::{EntryPolicy, Log, LogConfig, Submission, Ticket};
use ed25519_dalek::SigningKey;

const DIR_VAR: &str = "CYBERLABEL_CRASH_DIR";
const STORE_VAR: &str = "CYBERLABEL_CRASH_STORE";

/// Open the log in `dir` on the named backend: `sled` (the directory is the sled database) or
/// `redb` (the file `log.redb` in it).
fn open_log(dir: &std::path::Path, store: &str) -> Result<Log, cyberlabel_log::LogError> {
    match store {
        "sled" => Log::open(sled::open(dir).unwrap(), config()),
        "redb" => {
            let s = cyberlabel_log::RedbStore::open(dir.join("log.redb"), 8 << 20)?;
            Log::with_store(std::sync::Arc::new(s), config())
        }
        other => panic!("unknown store {other}"),
    }
}

fn anchor() -> SigningKey {
    SigningKey::from_bytes(&[90; 32])
}

fn issuer() -> SigningKey {
    SigningKey::from_bytes(&[21; 32])
}

fn config() -> LogConfig {
    let mut c = LogConfig::new(
        "crash.cyberlabel.test/log",
        SigningKey::from_bytes(&[3; 32]),
        EntryPolicy::Cyberlabel(anchor().verifying_key()),
    );
    c.batch_size = 16;
    c.max_delay = Duration::from_millis(1);
    c
}

/// The log's first entry: a trust list authorising `issuer()` for SG-CLS.
fn trust_list() -> Vec<u8> {
    cyberlabel_log::fixtures::trust_list_for("Crash Issuer", &issuer().verifying_key(), &anchor())
}

fn label(serial: u64) -> Vec<u8> {
    let mut claim = claim_in("SG-CLS", serial, None);
    claim.product = format!("Cam {serial}");
    cose::sign_label(&claim, &issuer())
}

/// A legal next action from `state`, picked by `pick`; `None` for a final state.
fn next_action(state: State, pick: u64) -> Option<StatusAction> {
    match (state, pick % 4) {
        (State::Active, 0) => Some(StatusAction::Revoke),
        (State::Active, _) => Some(StatusAction::Suspend),
        (State::Suspended, 0) => Some(StatusAction::Revoke),
        (State::Suspended, _) => Some(StatusAction::Reinstate),
        _ => None,
    }
}

/// The state a legal `action` leads to.
fn after(action: StatusAction) -> State {
    match action {
        StatusAction::Suspend => State::Suspended,
        StatusAction::Reinstate => State::Active,
        StatusAction::Revoke => State::Revoked,
        other => panic!("the child makes no {other:?}"),
    }
}

/// Every label's state as the recovered log serves it (its status proofs, verified).
fn states_from_log(log: &Log) -> BTreeMap<u64, State> {
    let size = log.size();
    let mut states = BTreeMap::new();
    for b in 0..status::bucket_count(size) {
        let v = verify_status_proof(log.status_proof(b).unwrap().as_bytes(), &log.policy())
            .expect("the recovered log's status proof verifies");
        for i in b * BUCKET_LABELS..((b + 1) * BUCKET_LABELS).min(size) {
            let (s, _) = v.state_of(i).unwrap();
            if s != State::None {
                states.insert(i, s);
            }
        }
    }
    states
}

#[test]
#[ignore = "child process of crash_safety_under_sigkill"]
fn crash_child() {
    let dir = std::env::var(DIR_VAR).expect("run by crash_safety_under_sigkill");
    // A panic in the child (e.g. a recovered status proof that does not verify) is a failure the
    // parent must see, not just a round without acknowledgements.
    std::panic::set_hook(Box::new(|info| {
        println!("CHILD_PANIC {}", info.to_string().replace('\n', " "));
    }));
    let mut out = std::io::stdout();
    let store = std::env::var(STORE_VAR).expect("run by crash_safety_under_sigkill");
    let log = match open_log(std::path::Path::new(&dir), &store) {
        Ok(log) => log,
        Err(e) => {
            // Refusing to start after a crash is a failure the parent must see.
            writeln!(out, "OPEN_FAILED {e}").unwrap();
            out.flush().unwrap();
            std::process::exit(2);
        }
    };
    if log.size() == 0 {
        log.submit(Submission::entry(trust_list()))
            .blocking_recv()
            .unwrap()
            .unwrap();
    }
    let mut states = states_from_log(&log);
    let mut seed = u64::from(std::process::id()) | 1;
    let ack = |out: &mut std::io::Stdout, t: Ticket, what: &str| match t.blocking_recv().unwrap() {
        Ok(a) => {
            writeln!(
                out,
                "ACK {} {} {} {what}",
                a.index,
                B64.encode(a.leaf_hash),
                B64.encode(a.checkpoint.as_bytes())
            )
            .unwrap();
            out.flush().unwrap();
            Some(a.index)
        }
        Err(e) => {
            writeln!(out, "REJECTED {what}: {e}").unwrap();
            out.flush().unwrap();
            None
        }
    };
    loop {
        // Concurrent submissions, so batches mix labels and status records: four new labels and
        // up to three status changes on distinct earlier labels, legal from their known state.
        let labels: Vec<Ticket> = (0..4)
            .map(|_| log.submit(Submission::build(|i| Ok(label(i)))))
            .collect();
        let mut changes = Vec::new();
        let candidates: Vec<(u64, State)> = states
            .iter()
            .filter(|(_, s)| matches!(s, State::Active | State::Suspended))
            .map(|(i, s)| (*i, *s))
            .collect();
        let mut picked = HashSet::new();
        for _ in 0..3 {
            if candidates.is_empty() {
                break;
            }
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let (target, state) = candidates[(seed % candidates.len() as u64) as usize];
            if !picked.insert(target) {
                continue;
            }
            let Some(action) = next_action(state, seed >> 32) else {
                continue;
            };
            let record = StatusRecord {
                action,
                target,
                reason: ReasonCode::Unspecified,
                time: 1_750_000_000,
                target_leaf_hash: leaf_hash(&log.entry(target).unwrap()),
            };
            let t = log.submit(Submission::entry(cose::sign_status(&record, &issuer())));
            changes.push((t, target, action));
        }
        for t in labels {
            if let Some(i) = ack(&mut out, t, "label") {
                states.insert(i, State::Active);
            }
        }
        for (t, target, action) in changes {
            let what = format!("status {target} {action:?}");
            if ack(&mut out, t, &what).is_some() {
                states.insert(target, after(action));
            }
        }
    }
}

struct Ack {
    index: u64,
    leaf: [u8; 32],
    checkpoint: String,
    status_change: bool,
}

#[test]
fn crash_safety_under_sigkill_sled() {
    crash_safety_under_sigkill("sled");
}

#[test]
fn crash_safety_under_sigkill_redb() {
    crash_safety_under_sigkill("redb");
}

fn crash_safety_under_sigkill(store: &str) {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    let mut acks: Vec<Ack> = Vec::new();
    let mut rounds_with_acks = 0;
    for round in 0..20 {
        let mut child = Command::new(&exe)
            .args([
                "crash_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_VAR, dir.path())
            .env(STORE_VAR, store)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut acked = false;
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !acked && l.contains("ACK ") {
                    acked = true;
                    let _ = first_tx.send(());
                }
                lines.push(l);
            }
            lines
        });
        // Kill at a random moment once the child is appending (the wait bound only keeps a
        // broken child from hanging the test; it is not a timing assertion).
        let _ = first_rx.recv_timeout(Duration::from_secs(120));
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(seed % 300));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        for l in &lines {
            assert!(
                !l.contains("OPEN_FAILED") && !l.contains("REJECTED") && !l.contains("CHILD_PANIC"),
                "round {round}: {l}"
            );
        }
        let mut any = false;
        for l in lines {
            // (the first one follows libtest's "test crash_child ... " on the same line)
            let Some(at) = l.find("ACK ") else {
                continue;
            };
            let mut p = l[at..].split(' ').skip(1);
            // A line cut off by the kill was never fully acknowledged to anyone: skip it.
            let (Some(i), Some(h), Some(c), Some(kind)) = (p.next(), p.next(), p.next(), p.next())
            else {
                continue;
            };
            let (Ok(index), Ok(leaf), Ok(cp)) = (i.parse(), B64.decode(h), B64.decode(c)) else {
                continue;
            };
            let Ok(leaf) = <[u8; 32]>::try_from(leaf) else {
                continue;
            };
            any = true;
            acks.push(Ack {
                index,
                leaf,
                checkpoint: String::from_utf8(cp).unwrap(),
                status_change: kind == "status",
            });
        }
        if any {
            rounds_with_acks += 1;
        }
    }
    assert!(
        rounds_with_acks >= 10,
        "only {rounds_with_acks} rounds acknowledged anything"
    );
    let status_acks = acks.iter().filter(|a| a.status_change).count();
    assert!(
        status_acks >= 20,
        "only {status_acks} status changes were acknowledged: the status map was barely exercised"
    );

    let log = open_log(dir.path(), store)
        .expect("the log reopens after 20 SIGKILLs (its stored status map matches the checkpoint)");
    let policy = log.policy();
    let latest = checkpoint::open(log.latest_checkpoint().as_bytes(), &policy)
        .unwrap()
        .checkpoint;
    let size = log.size();
    assert_eq!(latest.size, size);
    // the full O(n) audit: entries vs tiles vs root, and core's replay vs the checkpoint's status
    assert_eq!(log.audit().unwrap(), size);

    // every acknowledged entry is present, exactly as acknowledged
    let mut seen = HashSet::new();
    for a in &acks {
        assert!(
            a.index < size,
            "acknowledged index {} lost (size {size})",
            a.index
        );
        assert_eq!(leaf_hash(&log.entry(a.index).unwrap()), a.leaf);
        assert!(seen.insert(a.index), "index {} acknowledged twice", a.index);
    }

    // Replay the entries with core's rules (as any auditor would), checking on the way that each
    // checkpoint handed out committed to the status of exactly its first `size` entries, and
    // that it is consistent with the final tree.
    let mut handed_out: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for a in &acks {
        let cp = checkpoint::open(a.checkpoint.as_bytes(), &policy)
            .unwrap()
            .checkpoint;
        let list = handed_out.entry(cp.size).or_default();
        if !list.contains(&a.checkpoint) {
            list.push(a.checkpoint.clone());
        }
    }
    let mut replay = Replay::new(anchor().verifying_key());
    let mut checked = 0;
    for i in 0..=size {
        if let Some(cps) = handed_out.get(&i) {
            for text in cps {
                let cp = checkpoint::open(text.as_bytes(), &policy)
                    .unwrap()
                    .checkpoint;
                assert_eq!(
                    cp.status().unwrap(),
                    Some(replay.status().commitment()),
                    "checkpoint at size {i} does not commit to the status of its entries"
                );
                let p = log.consistency_proof(cp.size, size).unwrap();
                verify_consistency(cp.size, size, &cp.root, &latest.root, &p).unwrap();
                checked += 1;
            }
        }
        if i < size {
            let e = log.entry(i).unwrap();
            if i % 97 == 0 {
                let p = log.inclusion_proof(i, size).unwrap();
                verify_inclusion(&leaf_hash(&e), i, size, &p, &latest.root).unwrap();
            }
            replay
                .push(&e)
                .unwrap_or_else(|err| panic!("entry {i} breaks core's rules: {err}"));
        }
    }
    assert_eq!(
        latest.status().unwrap(),
        Some(replay.status().commitment()),
        "the latest checkpoint's status root"
    );

    // The status map the log serves: every bucket's proof verifies against the latest checkpoint
    // and holds exactly the replayed states.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for b in 0..status::bucket_count(size) {
        let v = verify_status_proof(log.status_proof(b).unwrap().as_bytes(), &policy).unwrap();
        assert_eq!(
            &v.state,
            replay.status().bucket(b).unwrap(),
            "served status bucket {b} differs from the replayed entries"
        );
        for i in b * BUCKET_LABELS..((b + 1) * BUCKET_LABELS).min(size) {
            *counts
                .entry(format!("{:?}", v.state_of(i).unwrap().0))
                .or_default() += 1;
        }
    }
    for s in ["Active", "Suspended", "Revoked"] {
        assert!(
            counts.contains_key(s),
            "no {s} label at the end: {counts:?}"
        );
    }
    eprintln!(
        "crash test: {} acknowledged appends ({status_acks} status changes) over 20 SIGKILLs, \
         final size {size}, {checked} checkpoints checked, final states {counts:?}",
        acks.len(),
    );
}
