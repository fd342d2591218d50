//! The real `cyberlabel` binary: `token create`, `serve --demo` (admin token file, sample
//! labels, SIGTERM shutdown), and `token create --data` refused while the server holds the data
//! directory, with a message pointing to `--server` — which then works while it runs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use common::bin;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

fn http(addr: &str, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    (
        status,
        out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned(),
    )
}

#[test]
fn token_create_serve_demo_and_lock_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();

    let out = bin()
        .args([
            "token",
            "create",
            "--data",
            d,
            "--scheme",
            "SG-CLS",
            "--role",
            "issuer",
            "--expires",
            "30d",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let issuer = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(issuer.starts_with("clt_"), "{issuer}");
    let bad = bin()
        .args([
            "token", "create", "--data", d, "--scheme", "SG-CLS", "--role", "boss",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());

    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let mut server = bin()
        .args([
            "serve",
            "--demo",
            "--data",
            d,
            "--listen",
            "127.0.0.1:0",
            "--www",
            www.to_str().unwrap(),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let mut banner = false;
    let mut samples = 0;
    let addr = loop {
        let line = lines.next().expect("server exited early").unwrap();
        banner |= line.contains("EXAMPLE keys");
        samples += usize::from(line.starts_with("sample label") && line.contains("/v#"));
        if let Some(rest) = line.strip_prefix("cyberlabel: serving on http://") {
            break rest.split('/').next().unwrap().to_owned();
        }
    };
    assert!(banner, "demo banner printed");
    assert_eq!(samples, 3);
    let admin = std::fs::read_to_string(data.join("demo-admin.token"))
        .unwrap()
        .trim()
        .to_owned();

    // the data directory is locked: a clear message, not a sled error, naming the way that
    // works while the server runs (its admin API)…
    let locked = bin()
        .args([
            "token", "create", "--data", d, "--scheme", "*", "--role", "admin",
        ])
        .output()
        .unwrap();
    assert!(!locked.status.success());
    let msg = String::from_utf8_lossy(&locked.stderr);
    assert!(
        msg.contains("locked") && msg.contains("cyberlabel serve") && msg.contains("--server"),
        "{msg}"
    );
    // …which does
    let over_api = bin()
        .args(["token", "create", "--scheme", "*", "--role", "revoker"])
        .args(["--server", &format!("http://{addr}")])
        .arg("--token-file")
        .arg(data.join("demo-admin.token"))
        .output()
        .unwrap();
    assert!(
        over_api.status.success(),
        "{}",
        String::from_utf8_lossy(&over_api.stderr)
    );
    assert!(
        String::from_utf8(over_api.stdout)
            .unwrap()
            .starts_with("clt_")
    );

    // the issuer token created before start works; the demo admin token too (entry 0 is the
    // trust list the log enforces, the first label is 1 on this log with no samples)
    let product = r#"{"scheme":"SG-CLS","level":1,"manufacturer":"A","product":"P","hardware_versions":"1",
        "firmware_versions":"1","category":1,"provisions":["5.1-1"],"assessment":"self_declared",
        "support_until":"2029-01-01"}"#;
    let (st, body) = http(&addr, "POST", "/labels", &issuer, product);
    assert_eq!(st, 201, "{body}");
    let (st, body) = http(&addr, "POST", "/labels/1/suspend", &admin, "");
    assert_eq!(st, 200, "{body}");

    // SIGTERM: graceful stop, exit 0
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(server.wait().unwrap().success());

    // outside demo mode the example keys are refused
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let example = keys.join("issuer.pem");
    std::fs::write(
        &example,
        include_str!("../../../keys-example/issuer-EXAMPLE-DO-NOT-USE.key.pem"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&example, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let out = bin()
        .args([
            "serve",
            "--data",
            d,
            "--listen",
            "127.0.0.1:0",
            "--issuer-key",
            example.to_str().unwrap(),
            "--log-key",
            example.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("EXAMPLE key"), "{msg}");
}

/// `register check` and `register rebuild` on a stopped demo server's data: the register the
/// server derived matches the entries; a damaged listing is found (exit 3) and a rebuild from
/// the entries alone repairs it; while the server runs, both refuse with the lock message.
#[test]
fn register_check_finds_damage_and_rebuild_repairs_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = common::DemoServer::start(&data, &[]);
    let size = server.tree_size();
    // the demo's sample labels are in the register once a search has caught it up
    let (st, body) = common::http(&server.addr, "GET", "/register/search?limit=100", None, "");
    assert_eq!(st, 200, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["indexed_size"].as_u64(), Some(size));
    let labels = page["results"].as_array().unwrap().len();
    assert!(labels >= 3, "{body}");
    let www = data.with_extension("www");
    let run = |cmd: &str| {
        let out = bin()
            .args(["register", cmd, "--demo", "--data"])
            .arg(&data)
            .arg("--www")
            .arg(&www)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run("check");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("stop the server first"), "{err}");
    drop(server);

    let (code, err) = run("check");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(&format!("{labels} labels")), "{err}");

    // damage one listing's state behind the register's back
    {
        let reg = cyberlabel_server::register::Register::open(&data.join("register.redb")).unwrap();
        let mut l = reg.listing(2).unwrap().unwrap();
        l.state = cyberlabel_core::status::State::Revoked;
        reg.write_listing_unchecked(&l).unwrap();
    }
    let (code, err) = run("check");
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("register differs from the log"), "{err}");
    assert!(err.contains("cyberlabel register rebuild"), "{err}");

    let (code, err) = run("rebuild");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(&format!("{labels} labels")), "{err}");
    let (code, err) = run("check");
    assert_eq!(code, Some(0), "{err}");
}

/// A SIGTERM sent the moment the server says it is serving (what a supervisor or a benchmark
/// harness may do) shuts it down cleanly, exit 0 — the handler is in place before the
/// announcement. Before, the signal could arrive before the handler and kill the process.
#[test]
fn sigterm_right_after_the_announcement_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    for round in 0..3 {
        let mut server = bin()
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .arg("--www")
            .arg(&www)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
        loop {
            let line = lines.next().expect("server exited early").unwrap();
            if line.starts_with("cyberlabel: serving on http://") {
                break;
            }
        }
        let killed = Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        let status = server.wait().unwrap();
        assert!(status.success(), "round {round}: {status}");
    }
}
