//! The publisher against real S3 protocol servers: `s3s-fs` (an S3 server over a directory,
//! in-process, always) and `moto_server` (PyPI `moto[server]`, when `$CYBERLABEL_PYTHON` names
//! an interpreter; `cargo xtask test` sets it to its venv, which installs moto from
//! scripts/requirements-test.txt). A set `$CYBERLABEL_PYTHON` without moto is a failure, not a
//! skip.
//!
//! The log holds real signed labels (a trust list, labels, a revocation). Each test checks the
//! store's copy independently of the publisher: the checkpoint's signature with core, every
//! entry bundle against the log's entries, every hash tile (full and partial, for every size
//! published) recomputed here from the entries with SHA-256, the root, every status proof.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeMap;
use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use cyberlabel_core::checkpoint::{self, Policy};
use cyberlabel_core::cose;
use cyberlabel_core::merkle::leaf_hash;
use cyberlabel_core::online::status_path;
use cyberlabel_core::status::{self, ReasonCode, State, StatusAction, StatusRecord};
use cyberlabel_core::tiles::{TileKind, TilePath};
use cyberlabel_core::trust::{self, TrustList, TrustedIssuer};
use cyberlabel_log::fixtures::claim_in;
use cyberlabel_log::{EntryPolicy, Log, LogConfig, Submission};
use cyberlabel_publish::{IMMUTABLE, Progress, PublishError, Publisher, SHORT, s3_store};
use ed25519_dalek::SigningKey;
use object_store::path::Path;
use object_store::{Attribute, ObjectStore, ObjectStoreExt as _, PutPayload};
use sha2::{Digest, Sha256};

const ORIGIN: &str = "publish.cyberlabel.test/log";
const BUCKET: &str = "read-side";
const KEY_ID: &str = "cyberlabel-test";
const SECRET: &str = "cyberlabel-test-secret";

// ---- the S3 servers ----

enum Guard {
    Moto(Child),
    Fs(
        #[allow(dead_code)] tempfile::TempDir,
        tokio::task::JoinHandle<()>,
    ),
}

/// A running S3 protocol server with the bucket created.
struct S3 {
    name: &'static str,
    endpoint: String,
    guard: Guard,
}

impl Drop for S3 {
    fn drop(&mut self) {
        match &mut self.guard {
            Guard::Moto(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Guard::Fs(_, task) => task.abort(),
        }
    }
}

impl S3 {
    /// A client for `s3://read-side/<prefix>` on this server.
    fn store(&self, prefix: &str) -> (Arc<dyn ObjectStore>, String) {
        s3_store(
            &format!("s3://{BUCKET}/{prefix}"),
            Some(&self.endpoint),
            Some((KEY_ID, SECRET)),
        )
        .unwrap()
    }
}

/// The servers to test against: s3s-fs always, moto when `$CYBERLABEL_PYTHON` is set.
fn servers() -> Vec<&'static str> {
    if std::env::var_os("CYBERLABEL_PYTHON").is_some() {
        vec!["s3s-fs", "moto"]
    } else {
        eprintln!(
            "note: CYBERLABEL_PYTHON is not set, so moto_server is not tested here \
             (cargo xtask test sets it); testing against the in-process s3s-fs S3 server"
        );
        vec!["s3s-fs"]
    }
}

async fn start(kind: &str) -> S3 {
    match kind {
        "moto" => start_moto().await,
        _ => start_s3s_fs().await,
    }
}

async fn start_s3s_fs() -> S3 {
    use hyper_util::rt::TokioIo;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(BUCKET)).unwrap();
    let fs = s3s_fs::FileSystem::new(dir.path()).unwrap();
    let mut b = s3s::service::S3ServiceBuilder::new(fs);
    b.set_auth(s3s::auth::SimpleAuth::from_single(KEY_ID, SECRET));
    let service = b.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    S3 {
        name: "s3s-fs",
        endpoint: format!("http://{addr}"),
        guard: Guard::Fs(dir, task),
    }
}

async fn start_moto() -> S3 {
    let python = PathBuf::from(std::env::var_os("CYBERLABEL_PYTHON").unwrap());
    let port = StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(&python)
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let endpoint = format!("http://127.0.0.1:{port}");
    cyberlabel_publish::install_crypto_provider();
    let client = reqwest::Client::new();
    // moto answers once it is up; creating the bucket is the readiness probe
    for attempt in 0.. {
        assert!(attempt < 600, "moto_server did not answer on {endpoint}");
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "moto_server exited ({status}) from $CYBERLABEL_PYTHON={}: is moto[server] \
                 installed there? pip install -r scripts/requirements-test.txt",
                python.display()
            );
        }
        match client.put(format!("{endpoint}/{BUCKET}")).send().await {
            Ok(r) if r.status().is_success() => break,
            Ok(r) => panic!("moto refused to create the bucket: {}", r.status()),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    S3 {
        name: "moto",
        endpoint,
        guard: Guard::Moto(child),
    }
}

// ---- a log with real signed labels ----

fn anchor() -> SigningKey {
    SigningKey::from_bytes(&[90; 32])
}

fn issuer() -> SigningKey {
    SigningKey::from_bytes(&[21; 32])
}

fn trust_list_entry() -> Vec<u8> {
    let t = TrustList {
        version: 1,
        issued_at: 1_700_000_000,
        expires_at: 1_900_000_000,
        issuers: vec![TrustedIssuer::new(
            "Issuer 21",
            &issuer().verifying_key(),
            &["SG-CLS"],
            0,
            u64::MAX / 2,
        )],
        ..TrustList::default()
    };
    trust::sign(t.to_json().as_bytes(), &anchor())
}

fn log_config() -> LogConfig {
    let mut c = LogConfig::new(
        ORIGIN,
        SigningKey::from_bytes(&[11; 32]),
        EntryPolicy::Cyberlabel(anchor().verifying_key()),
    );
    c.max_delay = Duration::from_millis(1);
    c
}

/// A cyberlabel log on a temporary sled database: its trust list, then labels.
async fn new_log() -> Log {
    new_log_in(sled::Config::new().temporary(true).open().unwrap()).await
}

async fn new_log_in(db: sled::Db) -> Log {
    let log = Log::open(db, log_config()).unwrap();
    log.submit(Submission::entry(trust_list_entry()))
        .await
        .unwrap()
        .unwrap();
    log
}

/// Appends `n` labels signed by the issuer (batched by the sequencer).
async fn issue(log: &Log, n: u64) {
    let tickets: Vec<_> = (0..n)
        .map(|_| {
            let key = issuer();
            log.submit(Submission::build(move |i| {
                Ok(cose::sign_label(&claim_in("SG-CLS", i, None), &key))
            }))
        })
        .collect();
    for t in tickets {
        t.await.unwrap().unwrap();
    }
}

/// Revokes label `target`.
async fn revoke(log: &Log, target: u64) {
    let record = StatusRecord {
        action: StatusAction::Revoke,
        target,
        reason: ReasonCode::UnremediatedVulnerability,
        time: 1_750_000_000,
        target_leaf_hash: leaf_hash(&log.entry(target).unwrap()),
    };
    log.submit(Submission::entry(cose::sign_status(&record, &issuer())))
        .await
        .unwrap()
        .unwrap();
}

fn quiet(_: Progress) {}

async fn get(store: &dyn ObjectStore, key: &str) -> Option<Vec<u8>> {
    match store.get(&Path::from(key)).await {
        Ok(r) => Some(r.bytes().await.unwrap().to_vec()),
        Err(object_store::Error::NotFound { .. }) => None,
        Err(e) => panic!("GET {key}: {e}"),
    }
}

// ---- the independent check ----

fn node(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

fn leaf(e: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(e);
    h.finalize().into()
}

/// RFC 6962 Merkle tree hash, written out here (not core's).
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            node(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// Every tile path of a tree of `size` entries with its bytes, recomputed from the entries.
fn expected_tiles(entries: &[Vec<u8>], size: u64) -> BTreeMap<String, Vec<u8>> {
    let size = usize::try_from(size).unwrap();
    let mut out = BTreeMap::new();
    for (bundle_index, chunk) in entries[..size].chunks(256).enumerate() {
        let mut bundle = Vec::new();
        for e in chunk {
            bundle.extend_from_slice(&u16::try_from(e.len()).unwrap().to_be_bytes());
            bundle.extend_from_slice(e);
        }
        let path = TilePath {
            kind: TileKind::Entries,
            index: bundle_index as u64,
            width: u16::try_from(chunk.len()).unwrap(),
        };
        out.insert(path.to_path(), bundle);
    }
    let mut hashes: Vec<[u8; 32]> = entries[..size].iter().map(|e| leaf(e)).collect();
    let mut level = 0u8;
    while !hashes.is_empty() {
        let mut next = Vec::new();
        for (i, chunk) in hashes.chunks(256).enumerate() {
            let path = TilePath {
                kind: TileKind::Hash(level),
                index: i as u64,
                width: u16::try_from(chunk.len()).unwrap(),
            };
            out.insert(path.to_path(), chunk.concat());
            if chunk.len() == 256 {
                next.push(mth(chunk));
            }
        }
        hashes = next;
        level += 1;
    }
    out
}

/// Checks the store's copy against the log, independently of the publisher. `sizes` are
/// earlier published checkpoint sizes whose (partial) tiles must also be there. Returns the
/// number of objects checked.
async fn check_copy(store: &dyn ObjectStore, log: &Log, sizes: &[u64]) -> usize {
    let policy = Policy::log_only(log.verifier_key().clone());
    let cp_text = get(store, "checkpoint")
        .await
        .expect("no checkpoint in the store");
    let cp = checkpoint::open(&cp_text, &policy)
        .expect("the store's checkpoint does not verify under the log's key")
        .checkpoint;
    let entries: Vec<Vec<u8>> = (0..cp.size).map(|i| log.entry(i).unwrap()).collect();
    let leaves: Vec<[u8; 32]> = entries.iter().map(|e| leaf(e)).collect();
    assert_eq!(
        mth(&leaves),
        cp.root,
        "the entries do not hash to the checkpoint root"
    );
    let mut checked = 1;
    for &size in sizes.iter().chain([cp.size].iter()) {
        for (path, want) in expected_tiles(&entries, size) {
            let got = get(store, &path)
                .await
                .unwrap_or_else(|| panic!("{path} (size {size}) is missing from the store"));
            assert!(
                got == want,
                "{path} in the store differs from the recomputed tile"
            );
            checked += 1;
        }
    }
    // every status proof verifies and agrees with the log's status map
    for b in 0..status::bucket_count(cp.size) {
        let text = get(store, &status_path(b)).await.unwrap();
        let v = status::verify_status_proof(&text, &policy).unwrap();
        assert!(
            v.checkpoint.checkpoint.size >= cp.size,
            "stale status proof"
        );
        assert_eq!(v.bucket, b);
        let ours = log.status_proof(b).unwrap();
        let ours = status::verify_status_proof(ours.as_bytes(), &policy).unwrap();
        if ours.checkpoint.checkpoint.size == v.checkpoint.checkpoint.size {
            assert_eq!(v.state.0, ours.state.0, "bucket {b} differs from the log's");
        }
        checked += 1;
    }
    checked
}

/// Tile and bundle objects under `mirror/` with their ETags.
async fn list_tiles(store: &dyn ObjectStore) -> BTreeMap<String, Option<String>> {
    list_tiles_under(store, "mirror/tile").await
}

async fn list_tiles_under(
    store: &dyn ObjectStore,
    under: &str,
) -> BTreeMap<String, Option<String>> {
    use futures::StreamExt as _;
    let mut out = BTreeMap::new();
    let mut list = store.list(Some(&Path::from(under)));
    while let Some(meta) = list.next().await {
        let meta = meta.unwrap();
        out.insert(meta.location.to_string(), meta.e_tag.clone());
    }
    out
}

fn cache_control(r: &object_store::GetResult) -> Option<String> {
    r.attributes
        .get(&Attribute::CacheControl)
        .map(|v| v.as_ref().to_owned())
}

// ---- the tests ----

/// (a) A log with real labels and a revocation, published in three steps (partial tiles for
/// every published size), checks out independently; headers are the immutable/short ones; a
/// second cycle with nothing new writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_copy_checks_against_the_log() {
    for kind in servers() {
        let s3 = start(kind).await;
        eprintln!("server: {}", s3.name);
        let log = Arc::new(new_log().await);
        let (store, prefix) = s3.store("");
        let mut p = Publisher::new(Arc::clone(&store), &prefix, Arc::clone(&log));
        let mut sizes = Vec::new();
        for n in [40, 300, 230] {
            issue(&log, n).await;
            let r = p.publish_once(&quiet).await.unwrap();
            assert!(r.changed && r.size == log.size(), "{r:?}");
            sizes.push(r.size);
        }
        revoke(&log, 7).await;
        let r = p.publish_once(&quiet).await.unwrap();
        assert_eq!(r.size, 572);
        let checked = check_copy(&*store, &log, &sizes).await;
        assert!(checked > 10);

        // the revocation is in the published status proof of bucket 0
        let text = get(&*store, "status/000").await.unwrap();
        let v = status::verify_status_proof(&text, &Policy::log_only(log.verifier_key().clone()))
            .unwrap();
        assert_eq!(v.state_of(7).unwrap().0, State::Revoked);
        assert_eq!(v.state_of(8).unwrap().0, State::Active);

        // headers: tiles immutable, the checkpoint and status proofs short-lived
        let t = store.get(&Path::from("tile/0/000")).await.unwrap();
        assert_eq!(cache_control(&t).as_deref(), Some(IMMUTABLE));
        let c = store.get(&Path::from("checkpoint")).await.unwrap();
        assert_eq!(cache_control(&c).as_deref(), Some(SHORT));

        // nothing new: nothing written
        let again = p.publish_once(&quiet).await.unwrap();
        assert!(!again.changed && again.written == 0, "{again:?}");
        // and the store's copy checks against the log from the publisher's side too
        assert!(p.check_store(&quiet).await.unwrap() > 0);
    }
}

/// (b) A publisher killed in the middle of a cycle (its task aborted at whatever request it
/// was in), then a new one started: the store's checkpoint never named missing objects, the
/// restart resumes from it, every object written before the crash is left as it was (same
/// ETag), and the copy is complete and consistent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_publish_then_restart_resumes() {
    for kind in servers() {
        let s3 = start(kind).await;
        eprintln!("server: {}", s3.name);
        let log = Arc::new(new_log().await);
        issue(&log, 299).await;
        let (store, prefix) = s3.store("mirror");
        let mut first = Publisher::new(Arc::clone(&store), &prefix, Arc::clone(&log));
        let r = first.publish_once(&quiet).await.unwrap();
        assert_eq!(r.size, 300);
        drop(first);
        let at_300 = list_tiles(&*store).await;
        issue(&log, 900).await;

        // crash: abort the publishing task once it has written a few tiles of the new size
        let (tx, mut rx) = tokio::sync::watch::channel(0u64);
        let mut doomed = Publisher::new(Arc::clone(&store), &prefix, Arc::clone(&log));
        let task = tokio::spawn(async move {
            let progress = move |p: Progress| {
                if p.phase == "tiles" {
                    let _ = tx.send(p.done);
                }
            };
            doomed.publish_once(&progress).await
        });
        rx.wait_for(|done| *done >= 4).await.unwrap();
        task.abort();
        assert!(
            task.await.unwrap_err().is_cancelled(),
            "the publisher finished before the crash"
        );

        // the store still says 300, and everything 300 implies is there
        let cp = get(&*store, "mirror/checkpoint").await.unwrap();
        assert_eq!(
            checkpoint::size_of(std::str::from_utf8(&cp).unwrap()),
            Some(300)
        );
        // what the crashed run left behind, with ETags
        let before = list_tiles(&*store).await;
        assert!(
            before.len() > at_300.len(),
            "the crashed run wrote no tile of the new size: {before:?}"
        );
        for (k, etag) in &at_300 {
            assert_eq!(before.get(k), Some(etag), "{k} changed in the crashed run");
        }

        // restart: a new publisher (no memory of the old one) resumes from the store
        let mut again = Publisher::new(Arc::clone(&store), &prefix, Arc::clone(&log));
        assert_eq!(again.published_size().await.unwrap(), 300);
        let r = again.publish_once(&quiet).await.unwrap();
        assert_eq!((r.from, r.size), (300, 1200));
        assert!(r.already_there >= 1, "{r:?}");
        let after = list_tiles(&*store).await;
        for (k, etag) in &before {
            assert_eq!(
                after.get(k),
                Some(etag),
                "{k} was rewritten after the restart"
            );
        }
        let (copy, _) = s3.store("");
        let prefixed = object_store::prefix::PrefixStore::new(copy, "mirror");
        check_copy(&prefixed, &log, &[300]).await;
    }
}

/// (c) Different bytes already at a tile path the next cycle writes: the alarm, a typed error
/// naming the path; nothing is overwritten and the checkpoint does not move. A tile changed in
/// the bucket after publication is reported by `check_store`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_different_object_at_a_tile_path_is_the_alarm() {
    for kind in servers() {
        let s3 = start(kind).await;
        eprintln!("server: {}", s3.name);
        let log = Arc::new(new_log().await);
        issue(&log, 99).await;
        let (store, prefix) = s3.store("");
        let mut p = Publisher::new(Arc::clone(&store), &prefix, Arc::clone(&log));
        p.publish_once(&quiet).await.unwrap();
        issue(&log, 20).await;
        // someone put other bytes where the next partial tile goes
        let planted = vec![0xAB; 120 * 32];
        store
            .put(
                &Path::from("tile/0/000.p/120"),
                PutPayload::from(planted.clone()),
            )
            .await
            .unwrap();
        let err = p.publish_once(&quiet).await.unwrap_err();
        assert!(err.is_fatal(), "{err}");
        match &err {
            PublishError::Conflict { path, .. } => assert_eq!(path, "tile/0/000.p/120"),
            other => panic!("expected the alarm, got {other}"),
        }
        assert_eq!(get(&*store, "tile/0/000.p/120").await.unwrap(), planted);
        let cp = get(&*store, "checkpoint").await.unwrap();
        assert_eq!(
            checkpoint::size_of(std::str::from_utf8(&cp).unwrap()),
            Some(100)
        );
        // following stops on it too, instead of retrying
        let (_wake_tx, wake) = tokio::sync::watch::channel(0u64);
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        let followed = Publisher::new(Arc::clone(&store), &prefix, Arc::clone(&log))
            .follow(Duration::from_millis(10), wake, stop)
            .await;
        assert!(matches!(followed, Err(PublishError::Conflict { .. })));

        // a published tile changed in the bucket: check_store reports it
        let (store2, prefix2) = s3.store("second");
        let mut q = Publisher::new(Arc::clone(&store2), &prefix2, Arc::clone(&log));
        q.publish_once(&quiet).await.unwrap();
        assert!(q.check_store(&quiet).await.is_ok());
        let mut tile = get(&*store2, "second/tile/0/000.p/120").await.unwrap();
        tile[5] ^= 1;
        store2
            .put(
                &Path::from("second/tile/0/000.p/120"),
                PutPayload::from(tile),
            )
            .await
            .unwrap();
        match q.check_store(&quiet).await {
            Err(PublishError::Conflict { path, .. }) => assert_eq!(path, "second/tile/0/000.p/120"),
            other => panic!("expected the changed tile to be reported, got {other:?}"),
        }
    }
}

const CHILD_DIR: &str = "CYBERLABEL_PUBLISH_CHILD_DIR";
const CHILD_ENDPOINT: &str = "CYBERLABEL_PUBLISH_CHILD_ENDPOINT";

/// The publisher process `a_killed_publisher_process_resumes_on_restart` kills: it publishes
/// the log in `$CYBERLABEL_PUBLISH_CHILD_DIR` to `$CYBERLABEL_PUBLISH_CHILD_ENDPOINT`, says
/// `PUBLISH-CHILD AT <n>` once it has written n tiles and waits there (mid-cycle, requests in flight) for the
/// parent's SIGKILL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of a_killed_publisher_process_resumes_on_restart"]
async fn publish_child() {
    use std::io::{BufRead as _, Write as _};
    let dir =
        std::env::var(CHILD_DIR).expect("run by a_killed_publisher_process_resumes_on_restart");
    let endpoint = std::env::var(CHILD_ENDPOINT).unwrap();
    let log = Arc::new(Log::open(sled::open(&dir).unwrap(), log_config()).unwrap());
    let (store, prefix) = s3_store(
        &format!("s3://{BUCKET}/killed"),
        Some(&endpoint),
        Some((KEY_ID, SECRET)),
    )
    .unwrap();
    let mut p = Publisher::new(store, &prefix, log);
    let progress = |pr: Progress| {
        if pr.phase == "tiles" && pr.done == 6 {
            let mut out = std::io::stdout().lock();
            // own line: the test harness has printed "test publish_child ... " without one
            writeln!(out, "\nPUBLISH-CHILD AT {}", pr.done).unwrap();
            out.flush().unwrap();
            // blocks the publishing task here until killed
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
        }
    };
    p.publish_once(&progress).await.unwrap();
    println!("\nPUBLISH-CHILD DONE");
}

/// (b) with a real process kill: a `publish_child` process is SIGKILLed in the middle of a
/// cycle (six tiles written, more requests in flight); a new publisher resumes from the
/// store's checkpoint, leaves what the killed one wrote as it was, and completes the copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_publisher_process_resumes_on_restart() {
    use std::io::BufRead as _;
    let s3 = start_s3s_fs().await;
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = s3.store("");
    {
        let log = Arc::new(new_log_in(sled::open(dir.path()).unwrap()).await);
        issue(&log, 299).await;
        let mut p = Publisher::new(Arc::clone(&store), "killed", Arc::clone(&log));
        assert_eq!(p.publish_once(&quiet).await.unwrap().size, 300);
        issue(&log, 1700).await;
        revoke(&log, 1000).await;
    } // the log is closed: the child opens the same database
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "publish_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .env(CHILD_ENDPOINT, &s3.endpoint)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.starts_with("PUBLISH-CHILD "))
    })
    .await
    .unwrap();
    assert_eq!(
        line.as_deref(),
        Some("PUBLISH-CHILD AT 6"),
        "the child did not stop mid-cycle"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let cp = get(&*store, "killed/checkpoint").await.unwrap();
    assert_eq!(
        checkpoint::size_of(std::str::from_utf8(&cp).unwrap()),
        Some(300)
    );
    let before = list_tiles_under(&*store, "killed/tile").await;
    let log = Arc::new(Log::open(sled::open(dir.path()).unwrap(), log_config()).unwrap());
    let mut p = Publisher::new(Arc::clone(&store), "killed", Arc::clone(&log));
    let r = p.publish_once(&quiet).await.unwrap();
    assert_eq!((r.from, r.size), (300, 2001));
    assert!(r.already_there >= 6, "{r:?}");
    let after = list_tiles_under(&*store, "killed/tile").await;
    for (k, etag) in &before {
        assert_eq!(
            after.get(k),
            Some(etag),
            "{k} was rewritten after the restart"
        );
    }
    let prefixed = object_store::prefix::PrefixStore::new(Arc::clone(&store), "killed");
    check_copy(&prefixed, &log, &[300]).await;
}
