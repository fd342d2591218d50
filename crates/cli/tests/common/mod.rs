//! Helpers shared by the CLI's process tests: a witness key made with `cyberlabel witness
//! keygen`, and a `cyberlabel witness serve` process that is killed when dropped (also when an
//! assertion fails first).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use cyberlabel_core::note::VerifierKey;

/// The `cyberlabel` binary, without the environment settings that would change what a test
/// asks for (listen address, data dir, demo mode, URLs, origin, catalog).
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cyberlabel"));
    for v in [
        "CYBERLABEL_LISTEN",
        "CYBERLABEL_DATA",
        "CYBERLABEL_DEMO",
        "CYBERLABEL_VERIFIER_URL",
        "CYBERLABEL_ORIGIN",
        "CYBERLABEL_CATALOG",
    ] {
        c.env_remove(v);
    }
    c
}

/// `cyberlabel witness keygen --name <name>` into `dir/<name with / as _>`: the key file and the
/// printed verifier key.
pub fn witness_keygen(dir: &Path, name: &str) -> (PathBuf, VerifierKey) {
    let out_dir = dir.join(name.replace('/', "_"));
    let out = bin()
        .args(["witness", "keygen", "--name", name, "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vkey = VerifierKey::parse(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    (out_dir.join("witness.key"), vkey)
}

/// A running `cyberlabel witness serve`.
pub struct Witness {
    /// the process (tests may signal it themselves)
    pub child: Child,
    /// its first stdout line, `vkey <vkey>`
    pub vkey_line: String,
    /// its base URL, from the `listening <url>` line
    pub url: String,
}

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start a witness on a free loopback port for the log with verifier key `log_vkey`.
pub fn witness_serve(key: &Path, data: &Path, log_vkey: &str) -> Witness {
    let mut child = bin()
        .args(["witness", "serve", "--listen", "127.0.0.1:0", "--key"])
        .arg(key)
        .arg("--data")
        .arg(data)
        .arg("--log")
        .arg(log_vkey)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let vkey_line = lines.next().unwrap().unwrap();
    let url = lines
        .next()
        .unwrap()
        .unwrap()
        .strip_prefix("listening ")
        .unwrap()
        .to_owned();
    Witness {
        child,
        vkey_line,
        url,
    }
}
