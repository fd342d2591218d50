//! `cyberlabel serve --demo` runs three witness processes of its own, and they do not outlive
//! it: not after SIGTERM, and not after SIGKILL (what a test harness may do), when no drop
//! guard runs — the witnesses see their standard input close and stop.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(target_os = "linux")]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Pids of the live (not zombie) processes whose parent is `parent`.
fn children(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid …": comm may contain spaces, so split after the last ')'.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let mut f = rest.split_whitespace();
        let state = f.next().unwrap_or("");
        let ppid: u32 = f.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == parent && state != "Z" {
            out.push(pid);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            != Some("Z")
    })
}

fn run_and_kill(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_cyberlabel"))
        .env_remove("CYBERLABEL_LISTEN")
        .env_remove("CYBERLABEL_DATA")
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .arg("--www")
        .arg(&www)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("server exited early").unwrap();
        if line.starts_with("cyberlabel: serving on") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let witnesses = children(server.id());
    assert_eq!(witnesses.len(), 3, "three witness processes: {witnesses:?}");
    for w in &witnesses {
        let cmdline = std::fs::read(format!("/proc/{w}/cmdline")).unwrap();
        assert!(
            String::from_utf8_lossy(&cmdline).contains("witness\0serve"),
            "{w}"
        );
    }
    assert!(
        dir.path()
            .join("data/witnesses/witness-1.demo.invalid/witness.key")
            .exists()
    );
    Command::new("kill")
        .arg(signal)
        .arg(server.id().to_string())
        .status()
        .unwrap();
    server.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while witnesses.iter().any(|&w| alive(w)) {
        assert!(Instant::now() < deadline, "witnesses outlived the server");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn witnesses_stop_with_the_server_on_sigterm() {
    run_and_kill("-TERM");
}

#[test]
fn witnesses_stop_even_when_the_server_is_killed() {
    run_and_kill("-KILL");
}
