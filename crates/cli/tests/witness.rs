//! `cyberlabel witness keygen` + `cyberlabel witness serve` as processes: the printed address and
//! vkey, a real add-checkpoint over HTTP whose cosignature verifies, SIGTERM shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use cyberlabel_core::checkpoint::Checkpoint;
use cyberlabel_core::merkle;
use cyberlabel_core::note::{self, KeyKind, NoteSigner, VerifierKey};
use ed25519_dalek::SigningKey;

#[test]
fn keygen_serve_cosign_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_cyberlabel");
    let out = Command::new(bin)
        .args(["witness", "keygen", "--name", "witness.test/w1", "--out"])
        .arg(dir.path().join("k"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let vkey = VerifierKey::parse(printed.trim()).unwrap();
    assert_eq!(vkey.kind(), KeyKind::CosignatureV1);

    let log = NoteSigner::new(
        "log.test/l",
        KeyKind::Ed25519,
        SigningKey::from_bytes(&[3; 32]),
    )
    .unwrap();
    let mut child = Command::new(bin)
        .args(["witness", "serve", "--listen", "127.0.0.1:0", "--key"])
        .arg(dir.path().join("k/witness.key"))
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--log")
        .arg(log.verifier().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert_eq!(first, format!("vkey {vkey}"));
    let second = lines.next().unwrap().unwrap();
    let base = second.strip_prefix("listening ").unwrap().to_owned();

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
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

/// The two binaries together: `cyberlabel witness serve` and `cyberlabel serve --demo --witness
/// <vkey>@<url>`; the demo's sample labels are cosigned and `/checkpoint` carries the witness's
/// verifying cosignature.
#[test]
fn demo_server_gathers_witness_cosignatures() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_cyberlabel");
    let out = Command::new(bin)
        .args(["witness", "keygen", "--name", "witness.test/w2", "--out"])
        .arg(dir.path().join("k"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let vkey = VerifierKey::parse(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    let origin = "localhost/cyberlabel";
    let log_key = cyberlabel_issuer::keys::load_example_log_key().unwrap();
    let log_vkey = VerifierKey::new(origin, KeyKind::Ed25519, log_key.verifying_key()).unwrap();

    let mut witness = Command::new(bin)
        .args(["witness", "serve", "--listen", "127.0.0.1:0", "--key"])
        .arg(dir.path().join("k/witness.key"))
        .arg("--data")
        .arg(dir.path().join("wdata"))
        .arg("--log")
        .arg(log_vkey.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut wl = BufReader::new(witness.stdout.take().unwrap()).lines();
    let _ = wl.next().unwrap().unwrap();
    let witness_url = wl
        .next()
        .unwrap()
        .unwrap()
        .strip_prefix("listening ")
        .unwrap()
        .to_owned();

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

    for child in [&mut server, &mut witness] {
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
