//! Publishing rate to a local S3 server: a log of N label-sized entries (opaque, so building it
//! is quick) on a temporary sled database, published in one cycle to the in-process s3s-fs
//! server, or to moto_server when `--moto <python>` is given. Prints objects/s, entries/s and
//! bytes.
//!
//! `cargo run -p cyberlabel-publish --example publish_rate --release -- 100000 [--moto python]`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a measuring tool: failures abort

use std::sync::Arc;
use std::time::{Duration, Instant};

use cyberlabel_log::{EntryPolicy, Log, LogConfig, Submission};
use cyberlabel_publish::{Publisher, s3_store};
use ed25519_dalek::SigningKey;

const BUCKET: &str = "rate-bucket";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let moto = args
        .iter()
        .position(|a| a == "--moto")
        .and_then(|i| args.get(i + 1).cloned());

    let db = sled::Config::new().temporary(true).open().unwrap();
    let mut c = LogConfig::new(
        "rate.cyberlabel.test/log",
        SigningKey::from_bytes(&[3; 32]),
        EntryPolicy::Opaque,
    );
    c.max_delay = Duration::from_millis(1);
    c.batch_size = 4096;
    let log = Arc::new(Log::open(db, c).unwrap());
    let t = Instant::now();
    let mut tickets = Vec::new();
    for i in 0..n {
        let mut e = vec![0u8; 300];
        e[..8].copy_from_slice(&i.to_be_bytes());
        tickets.push(log.submit(Submission::entry(e)));
        if tickets.len() == 8192 {
            for t in tickets.drain(..) {
                t.await.unwrap().unwrap();
            }
        }
    }
    for t in tickets {
        t.await.unwrap().unwrap();
    }
    eprintln!(
        "log of {n} entries built in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let (_guard, endpoint, keys, name) = match moto {
        Some(python) => {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = std::process::Command::new(python)
                .args([
                    "-m",
                    "moto.server",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let endpoint = format!("http://127.0.0.1:{port}");
            cyberlabel_publish::install_crypto_provider();
            let client = reqwest::Client::new();
            loop {
                if let Ok(r) = client.put(format!("{endpoint}/{BUCKET}")).send().await {
                    assert!(r.status().is_success());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (Guard::Moto(child), endpoint, ("x", "y"), "moto_server")
        }
        None => {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join(BUCKET)).unwrap();
            let fs = s3s_fs::FileSystem::new(dir.path()).unwrap();
            let mut b = s3s::service::S3ServiceBuilder::new(fs);
            b.set_auth(s3s::auth::SimpleAuth::from_single("k", "s"));
            let service = b.build();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move {
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        continue;
                    };
                    let service = service.clone();
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                            .await;
                    });
                }
            });
            (
                Guard::Dir(dir),
                format!("http://{addr}"),
                ("k", "s"),
                "s3s-fs",
            )
        }
    };
    let (store, prefix) = s3_store(&format!("s3://{BUCKET}"), Some(&endpoint), Some(keys)).unwrap();
    let mut p = Publisher::new(store, &prefix, Arc::clone(&log));
    let t = Instant::now();
    let r = p.publish_once(&|_| {}).await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "publish {n} entries to {name}: {} objects, {} bytes in {secs:.2} s = {:.0} objects/s, {:.0} entries/s, {:.1} MB/s",
        r.written,
        r.bytes,
        r.written as f64 / secs,
        n as f64 / secs,
        r.bytes as f64 / secs / 1e6
    );
    // a second cycle after one more entry: the incremental cost
    log.submit(Submission::entry(vec![7; 300]))
        .await
        .unwrap()
        .unwrap();
    let t = Instant::now();
    let r = p.publish_once(&|_| {}).await.unwrap();
    println!(
        "next cycle (+1 entry): {} objects, {} bytes in {:.3} s",
        r.written,
        r.bytes,
        t.elapsed().as_secs_f64()
    );
}

enum Guard {
    Moto(std::process::Child),
    Dir(#[allow(dead_code)] tempfile::TempDir),
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Moto(c) = self {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
