//! The real `cyberlabel serve` on a disk that fills up (a small tmpfs the test mounts: it needs
//! root, as CI runs). Writes get 507 with nothing recorded and `/healthz` says not ready;
//! when space returns, writes resume without a restart; SIGTERM on a full disk exits; a restart
//! starts and holds exactly every acknowledged label.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{DemoServer, http};

fn mount_tmpfs(dir: &Path, mb: u32) -> bool {
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
        .arg(dir)
        .output();
    match out {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            eprintln!(
                "SKIPPED: cannot mount a tmpfs (needs root): {}",
                String::from_utf8_lossy(&o.stderr)
            );
            false
        }
        Err(e) => {
            eprintln!("SKIPPED: cannot run mount: {e}");
            false
        }
    }
}

struct Unmount<'a>(&'a Path);
impl Drop for Unmount<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0).status();
    }
}

fn fill(dir: &Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0x5au8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    while f.write_all(&[0u8; 512]).is_ok() {}
    let _ = f.sync_all();
    path
}

fn product(n: u64) -> String {
    format!(
        r#"{{"scheme":"SG-CLS","level":1,"manufacturer":"Full Disk Co","product":"Cam {n}","hardware_versions":"1","firmware_versions":"1.0","category":1,"provisions":["5.1-1","5.1-2","5.3-13"],"assessment":"self_declared","support_until":"2029-01-01"}}"#
    )
}

fn health(addr: &str) -> (u16, serde_json::Value) {
    let (st, body) = http(addr, "GET", "/healthz", None, "");
    (st, serde_json::from_str(&body).unwrap())
}

/// Mint until `stop(status)`; returns the acknowledged (index, label) pairs and the last
/// status. Every answer is 201 at the next index, or 507.
fn mint_until(
    addr: &str,
    token: &str,
    next: &mut u64,
    acked: &mut Vec<(u64, String)>,
    mut stop: impl FnMut(u16) -> bool,
) -> u16 {
    for _ in 0..100_000 {
        let (st, body) = http(addr, "POST", "/labels", Some(token), &product(*next));
        *next += 1;
        match st {
            201 => {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                let index = v["index"].as_u64().unwrap();
                let expected = acked.last().map_or(index, |(i, _)| i + 1);
                assert_eq!(index, expected, "indices stay dense");
                acked.push((index, v["label"].as_str().unwrap().to_owned()));
            }
            507 => {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["error"], "storage_full", "{body}");
            }
            other => panic!("unexpected {other}: {body}"),
        }
        if stop(st) {
            return st;
        }
    }
    panic!("no stop condition after 100,000 requests");
}

fn wait_exit(server: &mut DemoServer) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = server.child.try_wait().unwrap() {
            return st;
        }
        // a bound so a hung shutdown fails the test instead of hanging CI; not a timing claim
        if start.elapsed() > Duration::from_secs(120) {
            let _ = server.child.kill();
            panic!("SIGTERM did not stop the server within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn full_disk_gives_507_and_not_ready_then_recovers_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    if !mount_tmpfs(&mnt, 48) {
        return;
    }
    let _unmount = Unmount(&mnt);
    let data = mnt.join("data");
    let mut server = DemoServer::start(&data, &[]);
    let addr = server.addr.clone();
    let admin = std::fs::read_to_string(server.admin_token_file()).unwrap();
    let admin = admin.trim();
    let mut acked: Vec<(u64, String)> = Vec::new();
    let mut next = 0;
    let mut n = 0;
    mint_until(&addr, admin, &mut next, &mut acked, |_| {
        n += 1;
        n >= 20
    });
    assert_eq!(health(&addr).0, 200);

    // The disk fills up: mint until the first 507.
    let filler = fill(&mnt);
    mint_until(&addr, admin, &mut next, &mut acked, |st| st == 507);
    let (st, h) = health(&addr);
    assert_eq!(st, 503, "{h}");
    assert_eq!(h["status"], "disk_full", "{h}");
    // more writes while full: 507 or (into pages freed inside the file) 201 at the next index
    let mut refused = 0;
    mint_until(&addr, admin, &mut next, &mut acked, |st| {
        refused += usize::from(st == 507);
        refused >= 10
    });
    // reads keep working
    let (st, _) = http(&addr, "GET", "/checkpoint", None, "");
    assert_eq!(st, 200);
    let (last, label) = acked.last().unwrap().clone();
    let (st, body) = http(&addr, "GET", &format!("/labels/{last}"), None, "");
    assert_eq!(st, 200, "{body}");
    assert!(body.contains(&label));

    // Space returns: health recovers with no request at all, then writes succeed.
    std::fs::remove_file(&filler).unwrap();
    let start = Instant::now();
    while health(&addr).0 != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "health never recovered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = acked.len();
    let mut n = 0;
    mint_until(&addr, admin, &mut next, &mut acked, |_| {
        n += 1;
        n >= 5
    });
    assert_eq!(
        acked.len(),
        before + 5,
        "all five writes after recovery succeed"
    );

    // Full again, then SIGTERM: the server exits (and says why writes failed, not hangs).
    let filler = fill(&mnt);
    mint_until(&addr, admin, &mut next, &mut acked, |st| st == 507);
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    let st = wait_exit(&mut server);
    assert!(st.success(), "SIGTERM on a full disk exits cleanly: {st:?}");
    drop(server);
    std::fs::remove_file(&filler).unwrap();

    // Restart: it starts, and every acknowledged label is there, nothing else.
    let server = DemoServer::start(&data, &[]);
    let size = server.tree_size();
    let last = acked.last().unwrap().0;
    assert_eq!(size, last + 1, "exactly the acknowledged entries");
    for (i, label) in acked.iter().step_by(7) {
        let (st, body) = http(&server.addr, "GET", &format!("/labels/{i}"), None, "");
        assert_eq!(st, 200, "{body}");
        assert!(body.contains(label.as_str()), "label {i} changed");
    }
}
