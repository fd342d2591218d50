//! `cyberlabel witness keygen` + `cyberlabel witness serve` as processes: the printed address and
//! vkey, a real add-checkpoint over HTTP whose cosignature verifies, SIGTERM shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::{witness_keygen, witness_serve};
use cyberlabel_core::checkpoint::Checkpoint;
use cyberlabel_core::merkle;
use cyberlabel_core::note::{self, KeyKind, NoteSigner, VerifierKey};
use ed25519_dalek::SigningKey;

#[test]
fn keygen_serve_cosign_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let (key, vkey) = witness_keygen(dir.path(), "witness.test/w1");
    assert_eq!(vkey.kind(), KeyKind::CosignatureV1);

    let log = NoteSigner::new(
        "log.test/l",
        KeyKind::Ed25519,
        SigningKey::from_bytes(&[3; 32]),
    )
    .unwrap();
    let mut witness = witness_serve(&key, &dir.path().join("data"), &log.verifier().to_string());
    assert_eq!(witness.vkey_line, format!("vkey {vkey}"));
    let base = witness.url.clone();

    let leaves: Vec<_> = (0u8..5).map(|i| merkle::leaf_hash(&[i])).collect();
    let cp = Checkpoint::new("log.test/l", 5, merkle::reference_root(&leaves));
    let signed = cp.sign(&log).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut r = agent
        .post(format!("{base}/add-checkpoint"))
        .send(format!("old 0\n\n{signed}"))
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body = r.body_mut().read_to_string().unwrap();
    let v = note::open(format!("{signed}{body}").as_bytes(), &[vkey]).unwrap();
    assert!(v.verified[0].timestamp.is_some());

    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(witness.child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let status = witness.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

/// The two binaries together: `cyberlabel witness serve` and `cyberlabel serve --demo --witness
/// <vkey>@<url>`; the demo's sample labels are cosigned and `/checkpoint` carries the witness's
/// verifying cosignature.
#[test]
fn demo_server_gathers_witness_cosignatures() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_cyberlabel");
    let (key, vkey) = witness_keygen(dir.path(), "witness.test/w2");
    let origin = "localhost/cyberlabel";
    let log_key = cyberlabel_issuer::keys::load_example_log_key().unwrap();
    let log_vkey = VerifierKey::new(origin, KeyKind::Ed25519, log_key.verifying_key()).unwrap();

    let mut witness = witness_serve(&key, &dir.path().join("wdata"), &log_vkey.to_string());
    let witness_url = witness.url.clone();

    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let mut server = Command::new(bin)
        .env_remove("CYBERLABEL_LISTEN")
        .env_remove("CYBERLABEL_DATA")
        .args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--origin",
            origin,
        ])
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--www")
        .arg(&www)
        .arg("--witness")
        .arg(format!("{vkey}@{witness_url}"))
        .args(["--witness-interval-secs", "1"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server exited early").unwrap();
        if let Some(rest) = line.strip_prefix("cyberlabel: serving on http://") {
            break rest.split('/').next().unwrap().to_owned();
        }
    };
    // keep draining the server's stderr so it never blocks on a full pipe
    let drain = std::thread::spawn(move || for _ in lines {});

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let cosigned = loop {
        let mut r = agent
            .get(format!("http://{addr}/checkpoint"))
            .call()
            .unwrap();
        let text = r.body_mut().read_to_string().unwrap();
        let v = note::open(text.as_bytes(), &[log_vkey.clone(), vkey.clone()]).unwrap();
        let size: u64 = v.note.text.lines().nth(1).unwrap().parse().unwrap();
        if size > 0 && v.is_signed_by(&vkey) {
            break v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no cosignature: {text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(cosigned.is_signed_by(&log_vkey));

    for child in [&mut server, &mut witness.child] {
        let killed = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(killed.success());
        assert!(child.wait().unwrap().success());
    }
    drain.join().unwrap();
}
