//! `cyberlabel bench` with a tiny workload: when nginx is missing the run still completes, but
//! says so loudly (a line of its own on stdout, a warning on stderr) and records it in the JSON
//! results (`nginx.ran = false` with the reason), so a read figure without its baseline cannot
//! pass for a comparison. Figures are not asserted (they are benchmarks, not timed tests).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::process::Command;

#[test]
fn bench_without_nginx_says_so_in_its_output_and_results() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let missing = dir.path().join("no-nginx-here");
    let out = Command::new(env!("CARGO_BIN_EXE_cyberlabel"))
        .args([
            "bench",
            "--labels",
            "20",
            "--bulk",
            "256",
            "--bulk-chunk",
            "256",
            "--rate",
            "20",
            "--seconds",
            "1",
            "--connections",
            "2",
        ])
        .arg("--nginx")
        .arg(&missing)
        .arg("--json")
        .arg(&json)
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("NGINX COMPARISON NOT RUN: "))
        .unwrap_or_else(|| panic!("no NOT RUN line:\n{stdout}"));
    assert!(line.contains("not found"), "{line}");
    assert!(
        stderr.contains("warning: NGINX COMPARISON NOT RUN"),
        "{stderr}"
    );
    assert!(stdout.contains("NO nginx baseline"), "{stdout}");

    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(results["nginx"]["ran"], false, "{results}");
    let reason = results["nginx"]["skipped_reason"].as_str().unwrap();
    assert!(reason.contains("not found"), "{reason}");
    for r in results["reads"].as_array().unwrap() {
        assert!(r["nginx_per_s"].is_null(), "{r}");
        assert!(r["server_per_s"].as_f64().unwrap() > 0.0, "{r}");
    }
}

/// The storage and register benchmarks keep running as the product changes (a catalog change
/// once broke their label templates unnoticed): a tiny workload of each must complete and
/// print its figures. The figures themselves are not asserted.
#[test]
fn storage_and_register_benchmarks_run_on_a_tiny_workload() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &[
            "bench-store",
            "--entries",
            "600",
            "--reads",
            "300",
            "--single-mints",
            "20",
            "--rate",
            "50",
        ][..],
        &["bench-register", "--entries", "600", "--searches", "20"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_cyberlabel"))
            .args(args)
            .env("TMPDIR", dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}\n{stdout}\n{stderr}");
        assert!(
            stdout.contains("B/entry") || stdout.contains("p99"),
            "{args:?} printed no figures:\n{stdout}"
        );
    }
}
