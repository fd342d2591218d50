//! End to end: a real log server and three real C2SP witnesses (`cyberlabel-witness`: axum +
//! sled) on loopback. After appends `/checkpoint` carries a verifying cosignature from every
//! witness; re-cosigning on the interval refreshes timestamps without adding lines; a restarted
//! witness keeps cosigning; a witness that was down catches up through the 409 resync path.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Server, config, product, tempdir};
use cyberlabel_core::checkpoint::{self, Checkpoint, Policy};
use cyberlabel_core::note::{self, KeyKind, NoteSigner, VerifierKey};
use cyberlabel_server::Role;
use cyberlabel_server::config::WitnessConfig;
use cyberlabel_witness::{Store, Witness};
use ed25519_dalek::SigningKey;

struct TestWitness {
    name: String,
    dir: PathBuf,
    seed: u8,
    addr: SocketAddr,
    log_vkey: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

fn signer(name: &str, seed: u8) -> NoteSigner {
    NoteSigner::new(
        name,
        KeyKind::CosignatureV1,
        SigningKey::from_bytes(&[seed; 32]),
    )
    .unwrap()
}

impl TestWitness {
    async fn start(name: &str, seed: u8, dir: &Path, log_vkey: &str, addr: SocketAddr) -> Self {
        let mut w = Self {
            name: name.to_owned(),
            dir: dir.to_path_buf(),
            seed,
            addr,
            log_vkey: log_vkey.to_owned(),
            stop: None,
            handle: None,
        };
        w.up().await;
        w
    }

    async fn up(&mut self) {
        let store = Store::open(&self.dir.join("db")).unwrap();
        let witness = Arc::new(
            Witness::new(
                signer(&self.name, self.seed),
                std::slice::from_ref(&self.log_vkey),
                store,
            )
            .unwrap(),
        );
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let router = cyberlabel_witness::router(witness, "");
        self.handle = Some(tokio::spawn(cyberlabel_witness::serve(
            listener,
            router,
            async move {
                let _ = rx.await;
            },
        )));
        self.stop = Some(tx);
    }

    async fn down(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
        // let in-flight blocking handlers release the database
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    fn vkey(&self) -> VerifierKey {
        signer(&self.name, self.seed).verifier().clone()
    }

    fn config(&self) -> WitnessConfig {
        WitnessConfig {
            name: self.name.clone(),
            vkey: self.vkey().to_string(),
            url: format!("http://{}", self.addr),
        }
    }
}

fn log_key(origin: &str) -> VerifierKey {
    let key = cyberlabel_issuer::keys::load_example_log_key().unwrap();
    VerifierKey::new(origin, KeyKind::Ed25519, key.verifying_key()).unwrap()
}

/// The served checkpoint: (size, signature line count, verified witness (name, timestamp)s).
async fn served(
    server: &Server,
    log: &VerifierKey,
    witnesses: &[VerifierKey],
) -> (u64, usize, Vec<(String, u64)>) {
    let r = server.get("/checkpoint").await;
    assert_eq!(r.status, 200);
    let text = r.text();
    let parsed = note::Note::parse(text.as_bytes()).unwrap();
    let lines = parsed.signatures.len();
    let size = Checkpoint::parse(&parsed.text).unwrap().size;
    let mut keys = vec![log.clone()];
    keys.extend(witnesses.iter().cloned());
    let v = note::verify(parsed, &keys).unwrap();
    assert!(v.is_signed_by(log));
    let cosigs = v
        .verified
        .iter()
        .filter_map(|s| s.timestamp.map(|t| (s.name.clone(), t)))
        .collect();
    (size, lines, cosigs)
}

async fn wait_for<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn mint(server: &Server, token: &str, name: &str) {
    let r = server
        .post("/labels", Some(token), product(name).to_string().as_bytes())
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
}

fn now() -> u64 {
    cyberlabel_server::now_unix()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cosigned_by_every_witness_with_restarts_and_catch_up() {
    let (_d, dir) = tempdir();
    let mut cfg = config(&dir);
    let log = log_key(&cfg.origin);
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut a =
        TestWitness::start("witness.test/a", 11, &dir.join("wa"), &log.to_string(), any).await;
    let b = TestWitness::start("witness.test/b", 12, &dir.join("wb"), &log.to_string(), any).await;
    let mut c =
        TestWitness::start("witness.test/c", 13, &dir.join("wc"), &log.to_string(), any).await;
    let keys = vec![a.vkey(), b.vkey(), c.vkey()];
    cfg.witnesses = vec![a.config(), b.config(), c.config()];
    cfg.witness_interval_secs = 1;
    cfg.witness_timeout_ms = 2000;
    let policy = Policy::k_of_n(log.clone(), keys.clone(), 3);

    // 1. an append is cosigned by all three witnesses
    let server = Server::start(cfg.clone()).await;
    let token = server.token(&["SG-CLS"], Role::Issuer, None);
    mint(&server, &token, "Cam 1").await;
    let s1 = server.tree_size().await;
    wait_for("three cosignatures on the first append", || async {
        let (size, _, cosigs) = served(&server, &log, &keys).await;
        size == s1 && cosigs.len() == 3
    })
    .await;
    let (_, lines, cosigs) = served(&server, &log, &keys).await;
    assert_eq!(lines, 4, "log signature + one line per witness");
    for (name, ts) in &cosigs {
        assert!(ts + 10 >= now() && *ts <= now(), "{name}: {ts}");
    }
    let r = server.get("/checkpoint").await;
    checkpoint::open(r.text().as_bytes(), &policy).unwrap();

    // 2. nothing appended: the interval re-cosigns with fresh timestamps, replacing lines
    let t_a = cosigs
        .iter()
        .find(|(n, _)| n == "witness.test/a")
        .unwrap()
        .1;
    wait_for("a fresher cosignature from witness a", || async {
        let (_, _, cosigs) = served(&server, &log, &keys).await;
        cosigs
            .iter()
            .any(|(n, t)| n == "witness.test/a" && *t > t_a)
    })
    .await;
    let (size, lines, cosigs) = served(&server, &log, &keys).await;
    assert_eq!((size, lines, cosigs.len()), (s1, 4, 3));

    // 3. witness c goes down, witness a restarts with its state; appends go on being cosigned
    c.down().await;
    a.down().await;
    a.up().await;
    mint(&server, &token, "Cam 2").await;
    let s2 = server.tree_size().await;
    assert!(s2 > s1);
    wait_for("a and b cosign the second append", || async {
        let (size, _, cosigs) = served(&server, &log, &keys).await;
        size == s2 && cosigs.iter().filter(|(n, _)| n != "witness.test/c").count() == 2
    })
    .await;
    wait_for("a failed submission to c in the metrics", || async {
        let m = server.get("/metrics").await.text();
        m.lines().any(|l| {
            l.starts_with("cyberlabel_witness_submissions_total{witness=\"witness.test/c\",result=\"failed\"}")
                && !l.ends_with(" 0")
        })
    })
    .await;
    server.stop().await;

    // 4. a restarted server knows no witness sizes; c comes back with its old state (s1):
    //    every witness answers 409 text/x.tlog.size and the server resyncs with a proof
    c.up().await;
    let server = Server::start(cfg.clone()).await;
    let token = server.token(&["SG-CLS"], Role::Issuer, None);
    mint(&server, &token, "Cam 3").await;
    let s3 = server.tree_size().await;
    assert!(s3 > s2);
    wait_for(
        "all three cosign after the restart, c catching up",
        || async {
            let (size, _, cosigs) = served(&server, &log, &keys).await;
            size == s3 && cosigs.len() == 3
        },
    )
    .await;
    let r = server.get("/checkpoint").await;
    checkpoint::open(r.text().as_bytes(), &policy).unwrap();
    let m = server.get("/metrics").await.text();
    let resync_c = m
        .lines()
        .find(|l| {
            l.starts_with(
                "cyberlabel_witness_submissions_total{witness=\"witness.test/c\",result=\"resync\"}",
            )
        })
        .unwrap();
    assert!(!resync_c.ends_with(" 0"), "{resync_c}");
    assert!(m.contains("cyberlabel_witness_cosigned_size{witness=\"witness.test/c\"}"));
    server.stop().await;
    a.down().await;
    c.down().await;
    drop(b);
}

#[test]
fn bad_witness_config_is_refused_at_start() {
    let (_d, dir) = tempdir();
    let mut cfg = config(&dir);
    let w = signer("witness.test/x", 1);
    cfg.witnesses = vec![WitnessConfig {
        name: "witness.test/other".into(),
        vkey: w.verifier().to_string(),
        url: "http://127.0.0.1:1".into(),
    }];
    let err = cyberlabel_server::AppState::open(cfg.clone())
        .err()
        .unwrap();
    assert!(err.to_string().contains("witness"), "{err}");
    cfg.witnesses[0].name = "witness.test/x".into();
    cfg.witnesses[0].url = "ftp://x".into();
    assert!(cyberlabel_server::AppState::open(cfg.clone()).is_err());
    // a log (Ed25519) key is not a witness key
    let log = log_key("witness.test/x");
    cfg.witnesses[0].url = "http://127.0.0.1:1".into();
    cfg.witnesses[0].vkey = log.to_string();
    assert!(cyberlabel_server::AppState::open(cfg).is_err());
}
