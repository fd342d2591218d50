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

/// A running `cyberlabel serve --demo` on a free loopback port, stopped (SIGTERM) when dropped.
/// Its stderr is drained on a thread and kept, so tests can read the server's log.
pub struct DemoServer {
    pub child: Child,
    /// `127.0.0.1:port`
    pub addr: String,
    /// the data directory
    pub data: PathBuf,
    /// every stderr line so far
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl DemoServer {
    /// Starts `serve --demo` on `data` (with `extra` flags) and waits until it serves.
    pub fn start(data: &Path, extra: &[&str]) -> Self {
        let www = data.with_extension("www");
        std::fs::create_dir_all(&www).unwrap();
        let mut child = bin()
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .arg("--www")
            .arg(&www)
            .args(extra)
            // The tests fetch the images of several labels in a row from one address: more than
            // the expensive-read bucket's burst (one image costs 10 of its 40 tokens).
            .env("CYBERLABEL_HEAVY_RPS", "0")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let addr = loop {
            let line = lines.next().expect("server exited early").unwrap();
            log.lock().unwrap().push(line.clone());
            if let Some(rest) = line.strip_prefix("cyberlabel: serving on http://") {
                break rest.split('/').next().unwrap().to_owned();
            }
        };
        let sink = log.clone();
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(l);
            }
        });
        Self {
            child,
            addr,
            data: data.to_owned(),
            log,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The demo admin token's file.
    pub fn admin_token_file(&self) -> PathBuf {
        self.data.join("demo-admin.token")
    }

    /// The log's size (`/healthz`).
    pub fn tree_size(&self) -> u64 {
        let (st, body) = http(&self.addr, "GET", "/healthz", None, "");
        assert_eq!(st, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["tree_size"]
            .as_u64()
            .unwrap()
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on a fresh connection: (status, body).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let auth = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n{auth}\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    // the server's JSON answers carry a content-length (no chunked bodies here)
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}
