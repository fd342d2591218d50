//! add-checkpoint latency, as a ratio to one raw Ed25519 sign + verify measured in the same run.
//!
//! `cargo bench -p cyberlabel-witness` — three figures:
//! 1. raw Ed25519 sign + verify of a checkpoint-sized message (the unit),
//! 2. `Witness::add_checkpoint` in process (parse, log-signature check, consistency proof,
//!    cosignature, sled compare-and-swap, flush to disk),
//! 3. the same over HTTP on loopback (axum server, ureq keep-alive client).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use cyberlabel_core::checkpoint::Checkpoint;
use cyberlabel_core::merkle::{self, Hash};
use cyberlabel_core::note::{KeyKind, NoteSigner};
use cyberlabel_witness::{Store, Witness, request};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _};

fn bodies(log: &NoteSigner, leaves: &[Hash], sizes: &[u64]) -> Vec<String> {
    let mut old = 0;
    sizes
        .iter()
        .map(|&n| {
            let cp = Checkpoint::new(
                log.verifier().name(),
                n,
                merkle::reference_root(&leaves[..n as usize]),
            )
            .sign(log)
            .unwrap();
            let proof = if old == 0 {
                Vec::new()
            } else {
                let l = &leaves[..n as usize];
                merkle::consistency_proof(old, n, |id| merkle::reference_node(l, id)).unwrap()
            };
            let b = request::encode(old, &proof, &cp);
            old = n;
            b
        })
        .collect()
}

fn main() {
    // 1. the unit: one Ed25519 sign + verify
    let key = SigningKey::from_bytes(&[1; 32]);
    let vk = key.verifying_key();
    let msg = b"cosignature/v1\ntime 1700000000\nlog.example/bench\n1234\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let iters = 3000;
    let t = Instant::now();
    for _ in 0..iters {
        let s = key.sign(msg);
        vk.verify(msg, &s).unwrap();
    }
    let raw = t.elapsed().as_secs_f64() / f64::from(iters);

    // 2. in process
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let mk_log = |name: &str, seed: u8| {
        NoteSigner::new(name, KeyKind::Ed25519, SigningKey::from_bytes(&[seed; 32])).unwrap()
    };
    let log_a = mk_log("log.example/a", 2);
    let log_b = mk_log("log.example/b", 3);
    let witness_key = NoteSigner::new(
        "w.example/w",
        KeyKind::CosignatureV1,
        SigningKey::from_bytes(&[4; 32]),
    )
    .unwrap();
    let witness = Arc::new(
        Witness::new(
            witness_key,
            &[log_a.verifier().to_string(), log_b.verifier().to_string()],
            store,
        )
        .unwrap(),
    );
    let leaves: Vec<Hash> = (0u64..4096)
        .map(|i| merkle::leaf_hash(&i.to_be_bytes()))
        .collect();
    let n = 400u64;
    // growing trees in steps of 10 leaves: proofs of ~10 hashes
    let sizes: Vec<u64> = (1..=n).map(|i| i * 10).collect();
    let ba = bodies(&log_a, &leaves, &sizes);
    let bb = bodies(&log_b, &leaves, &sizes);
    let t = Instant::now();
    for b in &ba {
        witness.add_checkpoint(b.as_bytes(), 1_700_000_000).unwrap();
    }
    let inproc = t.elapsed().as_secs_f64() / n as f64;

    // 3. over HTTP on loopback
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let router = cyberlabel_witness::router(witness.clone(), "");
    rt.spawn(cyberlabel_witness::serve(
        listener,
        router,
        std::future::pending(),
    ));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let url = format!("http://{addr}/add-checkpoint");
    let t = Instant::now();
    for b in &bb {
        let mut r = agent.post(&url).send(b.as_str()).unwrap();
        let _ = r.body_mut().read_to_string().unwrap();
    }
    let http = t.elapsed().as_secs_f64() / n as f64;

    println!(
        "raw Ed25519 sign+verify:          {:>9.1} µs  (1.0×)",
        raw * 1e6
    );
    println!(
        "add-checkpoint, in process:       {:>9.1} µs  ({:.1}× sign+verify)",
        inproc * 1e6,
        inproc / raw
    );
    println!(
        "add-checkpoint, HTTP on loopback: {:>9.1} µs  ({:.1}× sign+verify)",
        http * 1e6,
        http / raw
    );
    rt.shutdown_timeout(Duration::from_secs(1));
}
