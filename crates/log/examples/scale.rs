//! Scale run: build a log of N small synthetic entries in sled, then (in a fresh process, so the
//! memory figures are those of a server starting up) report disk bytes per entry, open time,
//! RSS, and proof latency p50/p99.
//!
//! `cargo run --release -p cyberlabel-log --example scale -- 10000000 [dir]`

// A measurement tool: any failure aborts the run with its message, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cyberlabel_log::{EntryPolicy, Log, LogConfig, Submission};
use ed25519_dalek::SigningKey;

const ORIGIN: &str = "scale.cyberlabel.test/log";

fn config() -> LogConfig {
    let mut c = LogConfig::new(
        ORIGIN,
        SigningKey::from_bytes(&[5; 32]),
        EntryPolicy::Opaque,
    );
    c.batch_size = 4096;
    c.max_delay = Duration::from_millis(5);
    c
}

/// sled page cache size (MiB), `SCALE_CACHE_MB` (default 32).
fn cache_mb() -> u64 {
    std::env::var("SCALE_CACHE_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32)
}

fn open_db(dir: &Path) -> sled::Db {
    sled::Config::new()
        .path(dir)
        .cache_capacity(cache_mb() * 1024 * 1024)
        .open()
        .unwrap_or_else(|e| panic!("open sled at {}: {e}", dir.display()))
}

fn dir_bytes(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            total += if md.is_dir() {
                dir_bytes(&e.path())
            } else {
                md.len()
            };
        }
    }
    total
}

fn proc_status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l[field.len()..].trim().to_owned())
        .unwrap_or_else(|| "?".into())
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() * 99 / 100])
}

fn build(n: u64, dir: &Path) {
    let log = Log::open(open_db(dir), config()).expect("open log");
    let start_size = log.size();
    let t0 = Instant::now();
    let mut next = start_size;
    let chunk = 16_384u64;
    while next < n {
        let end = (next + chunk).min(n);
        let tickets: Vec<_> = (next..end)
            .map(|i| {
                let mut e = b"synthetic label entry #".to_vec();
                e.extend_from_slice(&i.to_be_bytes());
                log.submit(Submission::entry(e))
            })
            .collect();
        for t in tickets {
            t.blocking_recv().expect("sequencer alive").expect("append");
        }
        if end / 1_000_000 != next / 1_000_000 {
            let el = t0.elapsed().as_secs_f64();
            eprintln!(
                "  {end} entries, {:.0} entries/s, VmRSS {}",
                (end - start_size) as f64 / el,
                proc_status("VmRSS:")
            );
        }
        next = end;
    }
    let el = t0.elapsed();
    println!(
        "build: {} entries in {:.1} s ({:.0} entries/s, batches of up to 4096, each flushed)",
        n - start_size,
        el.as_secs_f64(),
        (n - start_size) as f64 / el.as_secs_f64()
    );
    log.close();
}

fn measure(dir: &Path) {
    let t0 = Instant::now();
    let db = open_db(dir);
    let log = Log::open(db, config()).expect("open log");
    let open_time = t0.elapsed();
    let size = log.size();
    println!(
        "size: {size} entries (sled cache_capacity {} MiB)",
        cache_mb()
    );
    println!(
        "disk: {} bytes on disk ({:.1} bytes/entry; sled size_on_disk {})",
        dir_bytes(dir),
        dir_bytes(dir) as f64 / size as f64,
        log.size_on_disk()
    );
    println!(
        "open (sled open + O(log n) root/status check): {:.1} ms",
        open_time.as_secs_f64() * 1e3
    );
    println!(
        "RSS after open: VmRSS {} VmHWM {}",
        proc_status("VmRSS:"),
        proc_status("VmHWM:")
    );
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut incl = Vec::new();
    for _ in 0..10_000 {
        let i = rng.next() % size;
        let t = Instant::now();
        let p = log.inclusion_proof(i, size).expect("proof");
        incl.push(t.elapsed());
        std::hint::black_box(p);
    }
    println!(
        "  (RSS after inclusion proofs: VmRSS {}, RssAnon {}, RssFile {})",
        proc_status("VmRSS:"),
        proc_status("RssAnon:"),
        proc_status("RssFile:")
    );
    let mut cons = Vec::new();
    for _ in 0..2_000 {
        let old = 1 + rng.next() % (size - 1);
        let t = Instant::now();
        let p = log.consistency_proof(old, size).expect("proof");
        cons.push(t.elapsed());
        std::hint::black_box(p);
    }
    println!(
        "  (RSS after consistency proofs: VmRSS {})",
        proc_status("VmRSS:")
    );
    let mut stat = Vec::new();
    for _ in 0..2_000 {
        let i = rng.next() % size;
        let t = Instant::now();
        let p = log.status_proof_for_index(i).expect("status proof");
        stat.push(t.elapsed());
        std::hint::black_box(p);
    }
    let mut bundle = Vec::new();
    for _ in 0..2_000 {
        let i = rng.next() % size;
        let t = Instant::now();
        let p = log.tlog_proof(i).expect("tlog proof");
        bundle.push(t.elapsed());
        std::hint::black_box(p);
    }
    for (name, v) in [
        ("inclusion proof", incl),
        ("consistency proof", cons),
        ("status proof", stat),
        ("tlog-proof bundle", bundle),
    ] {
        let (p50, p99) = percentiles(v);
        println!(
            "{name}: p50 {:.1} µs, p99 {:.1} µs",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
    }
    let sp = log.status_proof_for_index(size - 1).expect("status proof");
    let tp = log.tlog_proof(size - 1).expect("tlog proof");
    println!(
        "sizes: status proof {} bytes, tlog-proof {} bytes",
        sp.len(),
        tp.len()
    );
    println!(
        "RSS after proofs: VmRSS {} VmHWM {}",
        proc_status("VmRSS:"),
        proc_status("VmHWM:")
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("measure") {
        measure(Path::new(&args[2]));
        return;
    }
    let n: u64 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir: PathBuf = args
        .get(2)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("cyberlabel-scale-{n}")));
    println!("scale run: {n} entries in {}", dir.display());
    build(n, &dir);
    // measure in a fresh process: its RSS is that of a server opening this log
    let status = std::process::Command::new(std::env::current_exe().expect("current exe"))
        .arg("measure")
        .arg(&dir)
        .status()
        .expect("spawn measure");
    assert!(status.success());
}
