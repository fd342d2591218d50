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
