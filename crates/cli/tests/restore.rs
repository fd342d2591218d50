//! `cyberlabel restore`: a data directory's log rebuilt from a mirror of the same log (here the
//! running server of another data directory), then served: the same tree, the same labels and
//! states. A mirror of another log, or one whose entries do not give its signed checkpoint's
//! tree, restores nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use common::{DemoServer, bin, http};

fn product(n: u64) -> serde_json::Value {
    serde_json::json!({
        "scheme": "SG-CLS", "level": 1, "manufacturer": "Mirror Co", "product": format!("Cam {n}"),
        "hardware_versions": "1", "firmware_versions": "1.0", "category": 1,
        "provisions": ["5.1-1"], "assessment": "self_declared", "support_until": "2029-01-01"
    })
}

fn json(addr: &str, path: &str) -> serde_json::Value {
    let (st, body) = http(addr, "GET", path, None, "");
    assert_eq!(st, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn a_lost_log_is_restored_from_a_mirror_and_serves_the_same_tree() {
    let dir = tempfile::tempdir().unwrap();
    let original = DemoServer::start(&dir.path().join("a"), &[]);
    let admin = std::fs::read_to_string(original.admin_token_file()).unwrap();
    let admin = admin.trim();
    // 300 labels (more than one entry bundle), one revoked, one suspended
    let items: Vec<_> = (0..300).map(product).collect();
    let (st, body) = http(
        &original.addr,
        "POST",
        "/labels/bulk",
        Some(admin),
        &serde_json::to_string(&items).unwrap(),
    );
    assert_eq!(st, 200, "{body}");
    for (path, body) in [
        ("/labels/10/revoke", r#"{"reason": 6}"#),
        ("/labels/20/suspend", "{}"),
    ] {
        let (st, b) = http(&original.addr, "POST", path, Some(admin), body);
        assert_eq!(st, 201, "{path}: {b}");
    }
    let size = original.tree_size();
    let (_, checkpoint) = http(&original.addr, "GET", "/checkpoint", None, "");

    // a second data directory of the same log (same keys), restored from the running one
    let data = dir.path().join("b");
    let out = bin()
        .args(["restore", "--demo", "--from", &original.url(), "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains(&format!("restored {size} entries")), "{msg}");

    let restored = DemoServer::start(&data, &[]);
    assert_eq!(restored.tree_size(), size);
    let (_, again) = http(&restored.addr, "GET", "/checkpoint", None, "");
    // the same tree: size and root lines equal (signatures are fresh)
    let head = |c: &str| c.lines().take(3).collect::<Vec<_>>().join("\n");
    assert_eq!(head(&again), head(&checkpoint));
    for i in [4u64, 10, 20, 150, size - 1] {
        let a = json(&original.addr, &format!("/labels/{i}"));
        let b = json(&restored.addr, &format!("/labels/{i}"));
        assert_eq!(a["label"], b["label"], "label {i}");
        assert_eq!(a["status"], b["status"], "status of {i}");
    }
    assert_eq!(
        json(&restored.addr, "/labels/10")["status"]["state"],
        "revoked"
    );
    drop(restored);

    // A mirror of another log (other origin): refused, the restored file untouched.
    let before = std::fs::read(data.join("log.redb")).unwrap();
    let out = bin()
        .args([
            "restore",
            "--demo",
            "--origin",
            "other.example/log",
            "--from",
            &original.url(),
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("not signed by this log"), "{msg}");
    assert_eq!(std::fs::read(data.join("log.redb")).unwrap(), before);
}
