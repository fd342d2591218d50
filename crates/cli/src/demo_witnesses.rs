//! Demo mode's witnesses: `cyberlabel serve --demo` runs three real C2SP witnesses, each as its
//! own child process (`<this exe> witness serve …`), so the demo log's checkpoints carry real
//! cosignatures and the demo trust list can require two of the three.
//!
//! Each witness has a key generated once under `<data>/witnesses/<name>/` (kept across restarts,
//! so the demo trust list stays the same) and its own database there; it listens on a free
//! local port, read back from its `listening …` line. The children stop with the server: they
//! are killed when the [`DemoWitnesses`] guard drops, and they exit by themselves when their
//! standard input (a pipe held by the server) closes — so a server killed with SIGKILL by a
//! test harness does not leave them behind.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

use anyhow::{Context, Result, bail};
use cyberlabel_server::config::WitnessConfig;

/// Names of the demo witnesses (note key names; also their directory names).
pub const NAMES: [&str; 3] = [
    "witness-1.demo.invalid",
    "witness-2.demo.invalid",
    "witness-3.demo.invalid",
];

/// Seconds between re-submissions to the demo witnesses (short, so cosignatures stay fresh
/// well within the demo policy's `max_age`).
pub const INTERVAL_SECS: u64 = 10;

/// The running witness processes; dropping this kills and reaps them.
pub struct DemoWitnesses {
    children: Vec<(Child, Option<ChildStdin>)>,
}

impl Drop for DemoWitnesses {
    fn drop(&mut self) {
        for (child, stdin) in &mut self.children {
            // Closing stdin asks the witness to stop; kill makes sure.
            drop(stdin.take());
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts the three demo witnesses for the log with verifier key `log_vkey`; returns the guard
/// and the witnesses' configuration for the log server.
///
/// # Errors
/// A key that cannot be created or read, a child that cannot start or does not print its
/// address.
pub fn start(data: &Path, log_vkey: &str) -> Result<(DemoWitnesses, Vec<WitnessConfig>)> {
    let exe = std::env::current_exe().context("cannot find the cyberlabel executable")?;
    let mut guard = DemoWitnesses {
        children: Vec::new(),
    };
    let mut configs = Vec::new();
    for name in NAMES {
        let dir = data.join("witnesses").join(name);
        let key = ensure_key(&dir, name)?;
        let mut child = Command::new(&exe)
            .args(["witness", "serve", "--exit-on-stdin-eof", "--listen"])
            .arg("127.0.0.1:0")
            .arg("--key")
            .arg(&key)
            .arg("--data")
            .arg(&dir)
            .arg("--log")
            .arg(log_vkey)
            .env(
                "CYBERLABEL_LOG",
                std::env::var("CYBERLABEL_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start the demo witness {name}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        guard.children.push((child, stdin));
        let Some(stdout) = stdout else {
            bail!("demo witness {name}: no stdout pipe");
        };
        let (vkey, url) = read_banner(stdout, name).with_context(|| {
            format!(
                "is another demo server running on {}? (each witness locks its store)",
                data.display()
            )
        })?;
        configs.push(WitnessConfig {
            name: name.to_owned(),
            vkey,
            url,
        });
    }
    Ok((guard, configs))
}

/// `<dir>/witness.key`, generated on first use.
fn ensure_key(dir: &Path, name: &str) -> Result<std::path::PathBuf> {
    let key = dir.join("witness.key");
    if key.exists() {
        return Ok(key);
    }
    crate::util::ensure_dir(dir)?;
    let (signer, private) = cyberlabel_witness::keys::generate(name)
        .with_context(|| format!("cannot generate the demo witness key {name}"))?;
    cyberlabel_witness::keys::save_private(&private, &key)
        .with_context(|| format!("cannot write {}", key.display()))?;
    let vkey_path = dir.join("witness.vkey");
    std::fs::write(&vkey_path, format!("{}\n", signer.verifier()))
        .with_context(|| format!("cannot write {}", vkey_path.display()))?;
    Ok(key)
}

/// Reads `vkey <vkey>` and `listening <url>` from a witness's stdout; the rest of its stdout is
/// drained on a thread so the child never blocks on a full pipe.
fn read_banner(stdout: std::process::ChildStdout, name: &str) -> Result<(String, String)> {
    let mut lines = BufReader::new(stdout).lines();
    let mut next = || -> Result<String> {
        lines
            .next()
            .with_context(|| format!("demo witness {name} exited before printing its address"))?
            .with_context(|| format!("cannot read the output of demo witness {name}"))
    };
    let first = next()?;
    let second = next()?;
    let Some(vkey) = first.strip_prefix("vkey ") else {
        bail!("demo witness {name}: expected `vkey …`, got {first:?}");
    };
    let Some(url) = second.strip_prefix("listening ") else {
        bail!("demo witness {name}: expected `listening …`, got {second:?}");
    };
    let out = (vkey.to_owned(), url.to_owned());
    std::thread::spawn(move || for _ in lines {});
    Ok(out)
}
