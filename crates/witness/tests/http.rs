//! The witness over real HTTP on loopback with a real sled store: the full status-code table of
//! C2SP tlog-witness, real consistency proofs, concurrent submissions, restart durability.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};

use common::{ORIGIN, TestLog, TestWitness, agent, get, now, post, tempdir};
use cyberlabel_core::checkpoint::{self, Checkpoint};
use cyberlabel_core::merkle::EMPTY_ROOT;
use cyberlabel_core::note::{self, VerifierKey};
use cyberlabel_witness::request;
use cyberlabel_witness::witness::origin_hash;

/// Checks a 200 body: one cosignature line that verifies on `signed` under the witness key,
/// with a timestamp close to now.
fn check_cosignature(vkey: &str, signed: &str, body: &str) -> u64 {
    assert!(
        body.starts_with('\u{2014}') && body.ends_with('\n'),
        "{body:?}"
    );
    let key = VerifierKey::parse(vkey).unwrap();
    let full = format!("{signed}{body}");
    let parsed = note::Note::parse(full.as_bytes()).unwrap();
    let v = note::verify(parsed, &[key]).unwrap();
    assert_eq!(v.verified.len(), 1);
    let ts = v.verified[0].timestamp.unwrap();
    let t = now();
    assert!(ts <= t && ts + 10 >= t, "timestamp {ts} vs now {t}");
    ts
}

#[test]
fn status_code_table() {
    let (_d, dir) = tempdir();
    let log = TestLog::new(ORIGIN, 1, 64);
    let w = TestWitness::start(&dir, &[log.vkey()], "127.0.0.1:0".parse().unwrap());
    let a = agent();
    let url = w.url("/add-checkpoint");

    // 404: unknown origin
    let other = TestLog::new("other.example/log", 2, 8);
    let r = post(&a, &url, &other.body(0, 4));
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("unknown log origin"));

    // 403: right origin, signed by a key the witness does not trust (same name, other key)
    let impostor = TestLog::new(ORIGIN, 3, 8);
    let r = post(&a, &url, &impostor.body(0, 4));
    assert_eq!(r.status, 403, "{}", r.body);
    // 403: a trusted key's signature that does not verify (root changed after signing)
    let good = log.checkpoint(4);
    let root4 = checkpoint::Checkpoint::parse(&note::Note::parse(good.as_bytes()).unwrap().text)
        .unwrap()
        .root;
    let mut other_root = Checkpoint::new(ORIGIN, 4, [9; 32]).to_text();
    other_root.push('\n');
    let sigs = &good[good.rfind("\n\n").unwrap() + 2..];
    let tampered = format!("{other_root}{sigs}");
    let r = post(&a, &url, &request::encode(0, &[], &tampered));
    assert_eq!(r.status, 403, "{}", r.body);

    // 400: malformed bodies, old > size
    for bad in ["", "old 1\n", "old x\n\nfoo", "old 0\n\nnot a note\n"] {
        let r = post(&a, &url, bad);
        assert_eq!(r.status, 400, "{bad:?}: {}", r.body);
        assert!(r.content_type.starts_with("text/plain"));
    }
    let r = post(&a, &url, &request::encode(5, &[], &log.checkpoint(4)));
    assert_eq!(r.status, 400, "{}", r.body);

    // 422: a size-0 checkpoint whose root is not the empty tree's
    let zero_bad = Checkpoint::new(ORIGIN, 0, [1; 32])
        .sign(&log.signer)
        .unwrap();
    let r = post(&a, &url, &request::encode(0, &[], &zero_bad));
    assert_eq!(r.status, 422, "{}", r.body);
    // 422: old 0 with a non-empty proof
    let r = post(
        &a,
        &url,
        &request::encode(0, &[[0; 32]], &log.checkpoint(4)),
    );
    assert_eq!(r.status, 422, "{}", r.body);

    // 200: first submission (old 0, empty proof)
    let cp4 = log.checkpoint(4);
    let r = post(&a, &url, &request::encode(0, &[], &cp4));
    assert_eq!(r.status, 200, "{}", r.body);
    check_cosignature(&w.vkey, &cp4, &r.body);
    assert_eq!(root4, log.root(4));

    // 409 text/x.tlog.size: stale old
    let r = post(&a, &url, &log.body(0, 8));
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.content_type, "text/x.tlog.size");
    assert_eq!(r.body, "4\n");
    let r = post(&a, &url, &log.body(3, 8));
    assert_eq!((r.status, r.body.as_str()), (409, "4\n"));

    // 200: consistency 4 -> 13 with a real proof
    let cp13 = log.checkpoint(13);
    let r = post(&a, &url, &request::encode(4, &log.proof(4, 13), &cp13));
    assert_eq!(r.status, 200, "{}", r.body);
    check_cosignature(&w.vkey, &cp13, &r.body);

    // 422: bad proof (a flipped byte, a missing hash, an extra hash)
    let mut proof = log.proof(13, 21);
    proof[0][0] ^= 1;
    let r = post(&a, &url, &request::encode(13, &proof, &log.checkpoint(21)));
    assert_eq!(r.status, 422, "{}", r.body);
    let mut short = log.proof(13, 21);
    short.pop();
    let r = post(&a, &url, &request::encode(13, &short, &log.checkpoint(21)));
    assert_eq!(r.status, 422, "{}", r.body);
    let mut long = log.proof(13, 21);
    long.push([0; 32]);
    let r = post(&a, &url, &request::encode(13, &long, &log.checkpoint(21)));
    assert_eq!(r.status, 422, "{}", r.body);

    // 409 split view: same size, another root, validly signed by the log
    let forked = Checkpoint::new(ORIGIN, 13, [7; 32])
        .sign(&log.signer)
        .unwrap();
    let r = post(&a, &url, &request::encode(13, &[], &forked));
    assert_eq!(r.status, 409, "{}", r.body);
    assert_ne!(r.content_type, "text/x.tlog.size");
    assert!(r.body.contains("split view"), "{}", r.body);
    let evidence = w.witness.store().evidence(ORIGIN).unwrap();
    assert!(
        evidence
            .iter()
            .any(|(reason, note)| reason == "split-view" && *note == forked),
        "{evidence:?}"
    );
    assert!(evidence.iter().any(|(reason, _)| reason == "bad-proof"));

    // 200 again for the same checkpoint (old = size): a fresh cosignature
    let r = post(&a, &url, &request::encode(13, &[], &cp13));
    assert_eq!(r.status, 200, "{}", r.body);
    check_cosignature(&w.vkey, &cp13, &r.body);
    // …but not for a proof with equal sizes
    let r = post(&a, &url, &request::encode(13, &[[0; 32]], &cp13));
    assert_eq!(r.status, 422, "{}", r.body);

    // unknown extra signatures are ignored
    let extra = checkpoint::add_signature_lines(
        &log.checkpoint(20),
        &[impostor
            .signer
            .signature_line(&Checkpoint::new(ORIGIN, 20, log.root(20)).to_text(), 0)],
    )
    .unwrap();
    let r = post(&a, &url, &request::encode(13, &log.proof(13, 20), &extra));
    assert_eq!(r.status, 200, "{}", r.body);

    // monitoring read: the latest cosigned checkpoint, with the witness cosignature
    let r = get(&a, &w.url(&format!("/{}/checkpoint", origin_hash(ORIGIN))));
    assert_eq!(r.status, 200);
    let key = VerifierKey::parse(&w.vkey).unwrap();
    let v = note::open(r.body.as_bytes(), &[key, log.signer.verifier().clone()]).unwrap();
    assert_eq!(v.verified.len(), 2);
    assert!(v.note.text.contains("\n20\n"));
    assert_eq!(get(&a, &w.url("/00/checkpoint")).status, 404);

    // 413: body over 64 KiB
    let big = format!("old 0\n\n{}", "x".repeat(70 * 1024));
    assert_eq!(post(&a, &url, &big).status, 413);
}

#[test]
fn empty_tree_first_and_zero_size() {
    let (_d, dir) = tempdir();
    let log = TestLog::new(ORIGIN, 1, 8);
    let w = TestWitness::start(&dir, &[log.vkey()], "127.0.0.1:0".parse().unwrap());
    let a = agent();
    let url = w.url("/add-checkpoint");
    let cp0 = Checkpoint::new(ORIGIN, 0, EMPTY_ROOT)
        .sign(&log.signer)
        .unwrap();
    let r = post(&a, &url, &request::encode(0, &[], &cp0));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(&a, &url, &log.body(0, 5));
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn restart_keeps_state() {
    let (_d, dir) = tempdir();
    let log = TestLog::new(ORIGIN, 1, 32);
    let w = TestWitness::start(&dir, &[log.vkey()], "127.0.0.1:0".parse().unwrap());
    let a = agent();
    assert_eq!(
        post(&a, &w.url("/add-checkpoint"), &log.body(0, 10)).status,
        200
    );
    let addr = w.addr;
    w.stop();
    let w = TestWitness::start(&dir, &[log.vkey()], addr);
    let r = post(&a, &w.url("/add-checkpoint"), &log.body(0, 17));
    assert_eq!((r.status, r.body.as_str()), (409, "10\n"));
    let r = post(&a, &w.url("/add-checkpoint"), &log.body(10, 17));
    assert_eq!(r.status, 200, "{}", r.body);
    check_cosignature(&w.vkey, &log.checkpoint(17), &r.body);
}

/// Many threads submit interleaved, growing checkpoints (each learning the witness's size from
/// 409 answers); a monitor polls the stored checkpoint. The stored size never goes backwards and
/// every 200 is at or below the final size; the final size is the largest cosigned size.
#[test]
fn concurrent_submissions_never_roll_back() {
    const THREADS: usize = 8;
    const SIZE: u64 = 200;
    let (_d, dir) = tempdir();
    let log = Arc::new(TestLog::new(ORIGIN, 1, SIZE as usize));
    let w = TestWitness::start(&dir, &[log.vkey()], "127.0.0.1:0".parse().unwrap());
    let url = w.url("/add-checkpoint");
    let mon = w.url(&format!("/{}/checkpoint", origin_hash(ORIGIN)));
    let max_ok = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let monitor = {
        let (done, mon) = (done.clone(), mon.clone());
        std::thread::spawn(move || {
            let a = agent();
            let mut last = 0u64;
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) {
                let r = get(&a, &mon);
                if r.status == 200 {
                    let size: u64 = r.body.lines().nth(1).unwrap().parse().unwrap();
                    assert!(size >= last, "stored size went back from {last} to {size}");
                    last = size;
                    reads += 1;
                }
            }
            reads
        })
    };
    let mut threads = Vec::new();
    for t in 0..THREADS {
        let (log, url, max_ok, barrier) =
            (log.clone(), url.clone(), max_ok.clone(), barrier.clone());
        threads.push(std::thread::spawn(move || {
            let a = agent();
            barrier.wait();
            let mut known = 0u64;
            let mut oks = 0;
            // Each thread walks its own interleaved sequence of target sizes.
            let mut target = 1 + t as u64;
            while target <= SIZE {
                let r = post(&a, &url, &log.body(known.min(target), target));
                match r.status {
                    200 => {
                        oks += 1;
                        max_ok.fetch_max(target, Ordering::SeqCst);
                        known = target;
                        target += 1 + (t as u64 * 7 + target) % 5;
                    }
                    409 => {
                        assert_eq!(r.content_type, "text/x.tlog.size", "{}", r.body);
                        known = r.body.trim_end().parse().unwrap();
                        if known > target {
                            target = known; // someone got further: resubmit at its size
                        }
                    }
                    s => panic!("unexpected {s}: {}", r.body),
                }
            }
            oks
        }));
    }
    barrier.wait();
    let oks: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    done.store(true, Ordering::Relaxed);
    let reads = monitor.join().unwrap();
    let a = agent();
    let r = get(&a, &mon);
    let final_size: u64 = r.body.lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(final_size, max_ok.load(Ordering::SeqCst));
    assert!(oks >= THREADS, "only {oks} successes");
    eprintln!("{oks} cosignatures, {reads} monitor reads, final size {final_size}");
}
