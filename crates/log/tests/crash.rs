//! Crash safety: a child process appends in a loop and prints every acknowledged append; it is
//! killed with SIGKILL at a random moment, 20 times over the same sled directory. Afterwards
//! every acknowledged entry is present, indices are dense, and the final checkpoint is
//! consistent with every checkpoint ever handed out.
//!
//! The child is this same test binary re-executed with `--ignored --exact crash_child`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use cyberlabel_core::checkpoint;
use cyberlabel_core::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use cyberlabel_log::{EntryPolicy, Log, LogConfig, Submission};
use ed25519_dalek::SigningKey;

const DIR_VAR: &str = "CYBERLABEL_CRASH_DIR";

fn config() -> LogConfig {
    let mut c = LogConfig::new(
        "crash.cyberlabel.test/log",
        SigningKey::from_bytes(&[3; 32]),
        EntryPolicy::Opaque,
    );
    c.batch_size = 16;
    c.max_delay = Duration::from_millis(1);
    c
}

#[test]
#[ignore = "child process of crash_safety_under_sigkill"]
fn crash_child() {
    let dir = std::env::var(DIR_VAR).expect("run by crash_safety_under_sigkill");
    let log = Log::open(sled::open(&dir).unwrap(), config()).unwrap();
    let mut out = std::io::stdout().lock();
    let mut n = 0u64;
    loop {
        // 8 concurrent submissions, so batches hold several items
        let tickets: Vec<_> = (0..8)
            .map(|k| log.submit(Submission::entry(format!("{dir} {n} {k}").into_bytes())))
            .collect();
        for t in tickets {
            let a = t.blocking_recv().unwrap().unwrap();
            writeln!(
                out,
                "ACK {} {} {}",
                a.index,
                B64.encode(a.leaf_hash),
                B64.encode(a.checkpoint.as_bytes())
            )
            .unwrap();
            out.flush().unwrap();
        }
        n += 1;
    }
}

struct Ack {
    index: u64,
    leaf: [u8; 32],
    checkpoint: String,
}

#[test]
fn crash_safety_under_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    let mut acks: Vec<Ack> = Vec::new();
    let mut rounds_with_acks = 0;
    for _round in 0..20 {
        let mut child = Command::new(&exe)
            .args([
                "crash_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_VAR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                if l.starts_with("ACK ") {
                    if lines.is_empty() {
                        let _ = first_tx.send(());
                    }
                    lines.push(l);
                }
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
        if !lines.is_empty() {
            rounds_with_acks += 1;
        }
        for l in lines {
            let mut p = l.split(' ').skip(1);
            // A line cut off by the kill was never fully acknowledged to anyone: skip it.
            let (Some(i), Some(h), Some(c)) = (p.next(), p.next(), p.next()) else {
                continue;
            };
            let (Ok(index), Ok(leaf), Ok(cp)) = (i.parse(), B64.decode(h), B64.decode(c)) else {
                continue;
            };
            let Ok(leaf) = <[u8; 32]>::try_from(leaf) else {
                continue;
            };
            acks.push(Ack {
                index,
                leaf,
                checkpoint: String::from_utf8(cp).unwrap(),
            });
        }
    }
    assert!(
        rounds_with_acks >= 10,
        "only {rounds_with_acks} rounds acknowledged anything"
    );

    let log = Log::open(sled::open(dir.path()).unwrap(), config()).unwrap();
    let policy = log.policy();
    let latest = checkpoint::open(log.latest_checkpoint().as_bytes(), &policy)
        .unwrap()
        .checkpoint;
    let size = log.size();
    assert_eq!(latest.size, size);
    // dense: every index below the size has its entry, and the tiles hash to the checkpoint
    for i in 0..size {
        let e = log.entry(i).unwrap();
        if i % 97 == 0 {
            let p = log.inclusion_proof(i, size).unwrap();
            verify_inclusion(&leaf_hash(&e), i, size, &p, &latest.root).unwrap();
        }
    }
    // and the full O(n) audit of entries and tiles passes
    assert_eq!(log.audit().unwrap(), size);
    // every acknowledged entry is present, exactly as acknowledged
    let mut seen = std::collections::HashSet::new();
    for a in &acks {
        assert!(
            a.index < size,
            "acknowledged index {} lost (size {size})",
            a.index
        );
        assert_eq!(leaf_hash(&log.entry(a.index).unwrap()), a.leaf);
        assert!(seen.insert(a.index), "index {} acknowledged twice", a.index);
    }
    // every checkpoint handed out is consistent with the final one
    let mut checked = std::collections::HashSet::new();
    for a in &acks {
        if !checked.insert(a.checkpoint.clone()) {
            continue;
        }
        let cp = checkpoint::open(a.checkpoint.as_bytes(), &policy)
            .unwrap()
            .checkpoint;
        let p = log.consistency_proof(cp.size, size).unwrap();
        verify_consistency(cp.size, size, &cp.root, &latest.root, &p).unwrap();
    }
    eprintln!(
        "crash test: {} acknowledged appends over 20 SIGKILLs, final size {size}, {} checkpoints checked",
        acks.len(),
        checked.len()
    );
}
