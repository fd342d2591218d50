//! `cyberlabel verify` against a real log: the real binaries (`cyberlabel serve --demo` with its
//! three witness processes, `cyberlabel verify`, `cyberlabel issue`), real HTTP, no mocks.
//!
//! - the demo's `/checkpoint` carries at least two valid witness cosignatures;
//! - an active sample label is Genuine (exit 0), the revoked sample is Revoked (exit 7), and
//!   `--offline` or an unreachable log says the log was not checked (exit 9, never "Genuine");
//! - a label signed with the demo issuer key but never logged is "not in the public log";
//! - a closed stdout (`verify … | head -1`) does not make verify panic;
//! - a replaying proxy serving the log's pre-revocation answers does not get a revoked label
//!   called Genuine: with the newer checkpoint remembered it is "log inconsistent", and once
//!   the replayed cosignatures are older than the policy's `max_age` it cannot be checked;
//! - one label view: the label's JSON is the same from the CLI (`verify --json`), the API
//!   (`GET /labels/N`) and the verifier page's wasm binding (run natively).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::bin;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cyberlabel_core::note::{self, VerifierKey};
use cyberlabel_core::trust::TrustList;

/// A running `cyberlabel serve --demo`; SIGTERM + wait on drop.
struct Demo {
    child: Child,
    addr: String,
    /// sample label payload URLs, by log index
    samples: HashMap<u64, String>,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

impl Demo {
    fn start() -> Demo {
        let dir = tempfile::tempdir().unwrap();
        let www = dir.path().join("www");
        std::fs::create_dir_all(&www).unwrap();
        let data = dir.path().join("data");
        let mut child = bin()
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .arg("--www")
            .arg(&www)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut samples = HashMap::new();
        let addr = loop {
            let line = lines.next().expect("server exited early").unwrap();
            if let Some(rest) = line.strip_prefix("sample label ")
                && let Some((index, tail)) = rest.split_once(' ')
                && let Some(url) = tail.rsplit_once(": ").map(|(_, u)| u)
                && url.starts_with("http")
            {
                samples.insert(index.parse().unwrap(), url.to_owned());
            }
            if let Some(rest) = line.strip_prefix("cyberlabel: serving on http://") {
                break rest.split('/').next().unwrap().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        assert_eq!(samples.len(), 3, "{samples:?}");
        Demo {
            child,
            addr,
            samples,
            data,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn get(url: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    agent
        .get(url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

/// `cyberlabel verify <label> --demo --trust-list-url <log>/trust-list --state <state> …`.
fn verify(log: &str, label: &str, state: &Path, extra: &[&str]) -> Output {
    let mut c = bin();
    c.arg("verify");
    if label.starts_with("http") {
        c.arg(label);
    } else {
        c.args(["--label", label]);
    }
    c.args(["--demo", "--trust-list-url"])
        .arg(format!("{log}/trust-list"))
        .arg("--state")
        .arg(state)
        .args(extra);
    c.output().unwrap()
}

fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn first_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[test]
fn demo_log_verdicts_offline_off_log_and_closed_pipe() {
    let demo = Demo::start();
    let log = demo.url();
    let state_dir = tempfile::tempdir().unwrap();
    let state = state_dir.path().join("seen.json");

    // The served checkpoint is cosigned by at least two of the demo's three witnesses.
    let trust = TrustList::from_json(&get(&format!("{log}/trust-list.json"))).unwrap();
    assert_eq!(trust.witnesses.len(), 3);
    let mut keys = vec![VerifierKey::parse(&trust.logs[0].vkey).unwrap()];
    let witnesses: Vec<VerifierKey> = trust
        .witnesses
        .iter()
        .map(|w| VerifierKey::parse(&w.vkey).unwrap())
        .collect();
    keys.extend(witnesses.iter().cloned());
    let cp = get(&format!("{log}/checkpoint"));
    let v = note::open(cp.as_bytes(), &keys).unwrap();
    let cosigned = witnesses.iter().filter(|w| v.is_signed_by(w)).count();
    assert!(cosigned >= 2, "{cosigned} cosignatures: {cp}");

    // Active sample: Genuine, exit 0.
    let active = &demo.samples[&1];
    let out = verify(&log, active, &state, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(first_line(&out), "✔ Genuine");
    let out = verify(&log, active, &state, &["--json"]);
    assert_eq!(out.status.code(), Some(0));
    let j = json_of(&out);
    assert_eq!(j["verdict"], "genuine");
    assert!(
        j["online"]["log"]["witnesses"].as_u64().unwrap() >= 2,
        "{j}"
    );
    assert!(state.exists(), "the state file remembers the checkpoint");

    // The revoked sample: Revoked, exit 7.
    let revoked = &demo.samples[&3];
    let out = verify(&log, revoked, &state, &[]);
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert_eq!(first_line(&out), "✘ Revoked");
    assert_eq!(
        json_of(&verify(&log, revoked, &state, &["--json"]))["verdict"],
        "revoked"
    );

    // Offline: not checked, exit 9, and the verdict is never "Genuine".
    let out = verify(&log, active, &state, &["--offline"]);
    assert_eq!(out.status.code(), Some(9), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("Genuine"), "{stdout}");
    assert_eq!(first_line(&out), "✘ Cannot check now", "{stdout}");
    let j = json_of(&verify(&log, active, &state, &["--offline", "--json"]));
    assert_eq!(j["verdict"], "cannot_check");
    assert_eq!(j["not_checked"], "--offline");
    assert_eq!(j["offline"], "genuine");

    // The log unreachable: the same "not checked", exit 9.
    let out = verify(&log, active, &state, &["--log-url", "http://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(9), "{out:?}");
    assert_eq!(first_line(&out), "✘ Cannot check now", "{out:?}");
    let j = json_of(&verify(
        &log,
        active,
        &state,
        &["--log-url", "http://127.0.0.1:1", "--json"],
    ));
    assert_eq!(j["verdict"], "cannot_check");

    // A label signed with the demo issuer key, dated days before the checkpoint, with a serial
    // the log never reached: not in the public log, exit 8.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let issued = cyberlabel_issuer::dates::format_date(now - 5 * 86_400);
    let off = state_dir.path().join("off-log");
    let out = bin()
        .args([
            "issue",
            "--demo",
            "--scheme",
            "SG-CLS",
            "--level",
            "2",
            "--manufacturer",
            "Acme",
            "--product",
            "Off-record Cam",
            "--hardware-versions",
            "B",
            "--firmware-versions",
            "2.4",
            "--category",
            "1",
            "--provision",
            "5.1-1",
            "--assessment",
            "third-party",
            "--lab",
            "SG-LAB-1",
            "--support-until",
            "2030-12-31",
            "--serial",
            "1000",
            "--issued-at",
            &issued,
            "--out",
        ])
        .arg(&off)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let label = off.join("label.cbor");
    let out = verify(&log, label.to_str().unwrap(), &state, &[]);
    assert_eq!(out.status.code(), Some(8), "{out:?}");
    assert_eq!(first_line(&out), "✘ Not genuine");
    let j = json_of(&verify(&log, label.to_str().unwrap(), &state, &["--json"]));
    assert_eq!(j["verdict"], "not_in_log");

    // `verify … | head -1`: the reader is gone before verify writes; no panic, the verdict's
    // exit code.
    let mut c = bin();
    c.arg("verify")
        .arg(active)
        .args(["--demo", "--trust-list-url"])
        .arg(format!("{log}/trust-list"))
        .arg("--state")
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

/// What the replaying proxy does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// forward to the log and record each answer by path
    Record,
    /// serve the recorded answers only
    Replay,
}

/// Recorded answers by request path: (status, body).
type Recorded = Mutex<HashMap<String, (u16, Vec<u8>)>>;

/// A replaying HTTP proxy in front of the log (std `TcpListener`, one thread).
struct Proxy {
    addr: String,
    mode: Arc<Mutex<Mode>>,
}

impl Proxy {
    fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let mode = Arc::new(Mutex::new(Mode::Record));
        let recorded: Arc<Recorded> = Arc::default();
        let m = mode.clone();
        std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(10)))
                .build()
                .into();
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let mode = *m.lock().unwrap();
                handle(stream, mode, &upstream, &agent, &recorded);
            }
        });
        Proxy { addr, mode }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn replay(&self) {
        *self.mode.lock().unwrap() = Mode::Replay;
    }
}

fn handle(
    mut stream: TcpStream,
    mode: Mode,
    upstream: &str,
    agent: &ureq::Agent,
    recorded: &Recorded,
) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
    let (status, body) = match mode {
        Mode::Record => {
            let mut r = agent.get(format!("{upstream}{path}")).call().unwrap();
            let status = r.status().as_u16();
            let body = r.body_mut().read_to_vec().unwrap();
            recorded
                .lock()
                .unwrap()
                .insert(path, (status, body.clone()));
            (status, body)
        }
        Mode::Replay => recorded
            .lock()
            .unwrap()
            .get(&path)
            .cloned()
            .unwrap_or((404, b"not recorded".to_vec())),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(&body);
}

#[test]
fn replayed_pre_revocation_log_is_not_genuine() {
    let demo = Demo::start();
    let log = demo.url();
    let proxy = Proxy::start(log.clone());
    let state_dir = tempfile::tempdir().unwrap();
    let state = state_dir.path().join("seen.json");
    let label = demo.samples[&2].clone();

    // Through the recording proxy, before the revocation: Genuine.
    let out = verify(&proxy.url(), &label, &state, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // The issuer revokes the label.
    let token = std::fs::read_to_string(demo.data.join("demo-admin.token")).unwrap();
    let mut s = TcpStream::connect(&demo.addr).unwrap();
    write!(
        s,
        "POST /labels/2/revoke HTTP/1.1\r\nhost: {}\r\nconnection: close\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}",
        demo.addr,
        token.trim()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // Directly from the log: Revoked (once the new checkpoint is cosigned), and the state file
    // now remembers the post-revocation checkpoint.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = verify(&log, &label, &state, &[]);
        if out.status.code() == Some(7) {
            assert_eq!(first_line(&out), "✘ Revoked");
            break;
        }
        assert!(Instant::now() < deadline, "never revoked: {out:?}");
        std::thread::sleep(Duration::from_millis(300));
    }

    // The proxy replays the pre-revocation checkpoint, tiles and status proof: with the newer
    // checkpoint remembered, that is a rollback.
    proxy.replay();
    let out = verify(&proxy.url(), &label, &state, &["--json"]);
    assert_eq!(out.status.code(), Some(8), "{out:?}");
    assert_eq!(json_of(&out)["verdict"], "log_inconsistent");
    let out = verify(&proxy.url(), &label, &state, &[]);
    assert_eq!(first_line(&out), "✘ Warning: log inconsistent");

    // A verifier that never saw the newer checkpoint, once the replayed cosignatures are older
    // than the demo policy's max_age (600 s): the log cannot vouch, so not Genuine either.
    let fresh = state_dir.path().join("fresh.json");
    let later = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 700;
    let out = verify(
        &proxy.url(),
        &label,
        &fresh,
        &["--json", "--now", &later.to_string()],
    );
    assert_eq!(out.status.code(), Some(9), "{out:?}");
    let j = json_of(&out);
    assert_eq!(j["verdict"], "cannot_check", "{j}");
    assert!(
        j["online"]["log"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("checkpoint")),
        "{j}"
    );
}

/// The label view is written once (core's `view::LabelView`): the CLI's `--json`, the API and
/// the page's wasm binding give the same JSON for the same label.
#[test]
fn label_view_is_the_same_from_cli_api_and_wasm() {
    let demo = Demo::start();
    let log = demo.url();
    let (&index, url) = demo.samples.iter().min_by_key(|(i, _)| **i).unwrap();
    let state_dir = tempfile::tempdir().unwrap();
    // the API
    let api: serde_json::Value =
        serde_json::from_str(&get(&format!("{log}/labels/{index}"))).unwrap();
    let from_api = api["claim"].clone();
    // the CLI
    let out = verify(&log, url, &state_dir.path().join("seen.json"), &["--json"]);
    let from_cli = json_of(&out)["claim"].clone();
    // the page's binding, natively, with the trust list the log serves and the pinned anchor
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let trust_list = agent
        .get(&format!("{log}/trust-list"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_vec()
        .unwrap();
    let anchor = cyberlabel_issuer::keys::load_example_trust_list_key()
        .unwrap()
        .verifying_key();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let page: serde_json::Value = serde_json::from_str(
        &cyberlabel_wasm::api::verify_offline(url, &trust_list, anchor.as_bytes(), now).unwrap(),
    )
    .unwrap();
    let from_wasm = page["label"].clone();
    assert!(from_api.is_object(), "{api}");
    assert_eq!(from_api["serial"], index, "{from_api}");
    assert_eq!(from_cli, from_api, "CLI vs API");
    assert_eq!(from_wasm, from_api, "page binding vs API");
    // and it is the view people read: the label's own days, the scale, the owner
    for key in [
        "issued_on",
        "valid_through",
        "support_until",
        "levels_in_scheme",
        "scheme_owner",
    ] {
        assert!(!from_api[key].is_null(), "{key} missing: {from_api}");
    }
}
