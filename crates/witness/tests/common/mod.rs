//! Test harness: a real witness (axum on 127.0.0.1:0, sled in a temp dir), a toy log that
//! signs real checkpoints over an in-memory tree, and a blocking HTTP client (ureq).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cyberlabel_core::checkpoint::Checkpoint;
use cyberlabel_core::merkle::{self, Hash};
use cyberlabel_core::note::{KeyKind, NoteSigner};
use cyberlabel_witness::{Store, Witness, request};
use ed25519_dalek::SigningKey;

pub const ORIGIN: &str = "log.example/test";

/// A running witness.
pub struct TestWitness {
    pub addr: SocketAddr,
    pub witness: Arc<Witness>,
    pub vkey: String,
    rt: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub fn witness_signer(seed: u8) -> NoteSigner {
    NoteSigner::new(
        "witness.example/w",
        KeyKind::CosignatureV1,
        SigningKey::from_bytes(&[seed; 32]),
    )
    .unwrap()
}

impl TestWitness {
    /// Starts a witness with its database in `dir`, following `logs`, on `addr` (port 0 = any).
    pub fn start(dir: &Path, logs: &[String], addr: SocketAddr) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let store = Store::open(&dir.join("witness.db")).unwrap();
        let witness = Arc::new(Witness::new(witness_signer(42), logs, store).unwrap());
        let vkey = witness.verifier().to_string();
        let listener = rt.block_on(tokio::net::TcpListener::bind(addr)).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let router = cyberlabel_witness::router(witness.clone(), "");
        let handle = rt.spawn(cyberlabel_witness::serve(listener, router, async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            witness,
            vkey,
            rt: Some(rt),
            stop: Some(tx),
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Graceful stop; releases the database.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let (Some(rt), Some(h)) = (self.rt.as_ref(), self.handle.take()) {
            rt.block_on(h).unwrap().unwrap();
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

impl Drop for TestWitness {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A toy log: leaves i = leaf_hash(i), checkpoints signed with a real Ed25519 note key.
pub struct TestLog {
    pub signer: NoteSigner,
    pub leaves: Vec<Hash>,
}

impl TestLog {
    pub fn new(origin: &str, seed: u8, size: usize) -> Self {
        let signer = NoteSigner::new(
            origin,
            KeyKind::Ed25519,
            SigningKey::from_bytes(&[seed; 32]),
        )
        .unwrap();
        let leaves = (0..size as u64)
            .map(|i| merkle::leaf_hash(&i.to_be_bytes()))
            .collect();
        Self { signer, leaves }
    }

    pub fn vkey(&self) -> String {
        self.signer.verifier().to_string()
    }

    pub fn root(&self, n: u64) -> Hash {
        merkle::reference_root(&self.leaves[..n as usize])
    }

    pub fn checkpoint(&self, n: u64) -> String {
        Checkpoint::new(self.signer.verifier().name(), n, self.root(n))
            .sign(&self.signer)
            .unwrap()
    }

    pub fn proof(&self, old: u64, new: u64) -> Vec<Hash> {
        if old == 0 || old == new {
            return Vec::new();
        }
        let leaves = &self.leaves[..new as usize];
        merkle::consistency_proof(old, new, |id| merkle::reference_node(leaves, id)).unwrap()
    }

    pub fn body(&self, old: u64, new: u64) -> String {
        request::encode(old, &self.proof(old, new), &self.checkpoint(new))
    }
}

pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

pub fn post(agent: &ureq::Agent, url: &str, body: &str) -> Resp {
    read(
        agent
            .post(url)
            .header("content-type", "text/plain")
            .send(body)
            .unwrap(),
    )
}

pub fn get(agent: &ureq::Agent, url: &str) -> Resp {
    read(agent.get(url).call().unwrap())
}

fn read(mut r: ureq::http::Response<ureq::Body>) -> Resp {
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    Resp {
        status: r.status().as_u16(),
        content_type,
        body: r.body_mut().read_to_string().unwrap(),
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn tempdir() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().to_path_buf();
    (d, p)
}
