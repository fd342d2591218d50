//! Scale run: build a log of N real signed labels (~230-byte COSE entries) on the store named by
//! `SCALE_STORE` (`redb`, the server's, or `sled`), then in a fresh process (so the memory
//! figures are those of a server starting up) report disk bytes per entry, open time, RSS, proof
//! latency p50/p99, and RSS through `SCALE_READS` (default 1,000,000) random reads — inclusion
//! proofs, entries, tiles, status proofs. Then append `SCALE_SINGLE` (default 20,000) entries one
//! commit each, as single mints do, and report the store's growth per entry against the entry
//! plus its hashes.
//!
//! `SCALE_STORE=redb cargo run --release -p cyberlabel-log --example scale -- 10000000 [dir]`

// A measurement tool: any failure aborts the run with its message, which is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::sync::Arc;

use cyberlabel_core::cose;
use cyberlabel_core::tiles::{TileKind, TilePath};
use cyberlabel_log::fixtures::claim_in;
use cyberlabel_log::{EntryPolicy, Log, LogConfig, RedbStore, Submission};
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

/// store page cache size (MiB), `SCALE_CACHE_MB` (default 16, the server's).
fn cache_mb() -> u64 {
    std::env::var("SCALE_CACHE_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16)
}

fn store_kind() -> String {
    std::env::var("SCALE_STORE").unwrap_or_else(|_| "redb".into())
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn open_log(dir: &Path) -> Log {
    std::fs::create_dir_all(dir).unwrap();
    if store_kind() == "sled" {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_mb() * 1024 * 1024)
            .open()
            .unwrap_or_else(|e| panic!("open sled at {}: {e}", dir.display()));
        Log::open(db, config()).expect("open log")
    } else {
        let store = RedbStore::open(dir.join("log.redb"), (cache_mb() as usize) << 20)
            .unwrap_or_else(|e| panic!("open redb in {}: {e}", dir.display()));
        Log::with_store(Arc::new(store), config()).expect("open log")
    }
}

/// Label `i`: a real COSE_Sign1 over a claim with serial `i` (the log's policy here is opaque;
/// the content and size are a real label's).
fn label(i: u64, key: &SigningKey) -> Vec<u8> {
    let mut claim = claim_in("SG-CLS", i, None);
    claim.manufacturer = format!("Scale Manufacturer {}", i % 5000);
    claim.product = format!("Camera model {i}");
    cose::sign_label(&claim, key)
}

fn issuer() -> SigningKey {
    SigningKey::from_bytes(&[21; 32])
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
    let log = open_log(dir);
    let start_size = log.size();
    let t0 = Instant::now();
    let mut next = start_size;
    let chunk = 16_384u64;
    while next < n {
        let end = (next + chunk).min(n);
        let tickets: Vec<_> = (next..end)
            .map(|_| {
                let key = issuer();
                log.submit(Submission::build(move |i| Ok(label(i, &key))))
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
    let log = open_log(dir);
    let open_time = t0.elapsed();
    let size = log.size();
    println!(
        "size: {size} entries on {} (cache {} MiB)",
        store_kind(),
        cache_mb()
    );
    println!(
        "disk: {} bytes on disk ({:.1} bytes/entry; store size_on_disk {})",
        dir_bytes(dir),
        dir_bytes(dir) as f64 / size as f64,
        log.size_on_disk()
    );
    println!(
        "open (store open + O(log n) root/status check): {:.1} ms",
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
    random_reads(&log, &mut rng, env_u64("SCALE_READS", 1_000_000));
}

/// Random reads as a server's read side makes them, printing RSS as they go.
fn random_reads(log: &Log, rng: &mut Rng, n: u64) {
    let size = log.size();
    let t = Instant::now();
    let mut bytes = 0usize;
    for k in 0..n {
        let i = rng.next() % size;
        bytes += match k % 4 {
            0 => log.inclusion_proof(i, size).expect("proof").len() * 32,
            1 => log.entry(i).expect("entry").len(),
            2 => {
                let tiles = size / 256;
                let (index, width) = if i / 256 < tiles {
                    (i / 256, 256)
                } else {
                    (i / 256, (size % 256) as u16)
                };
                let kind = if rng.next().is_multiple_of(2) {
                    TileKind::Entries
                } else {
                    TileKind::Hash(0)
                };
                log.tile(&TilePath { kind, index, width })
                    .expect("tile")
                    .map_or(0, |t| t.len())
            }
            _ => log.status_proof_for_index(i).expect("status proof").len(),
        };
        if (k + 1) % 200_000 == 0 {
            eprintln!(
                "  {} random reads: VmRSS {} VmHWM {}",
                k + 1,
                proc_status("VmRSS:"),
                proc_status("VmHWM:")
            );
        }
    }
    println!(
        "{n} random reads (proofs, entries, tiles, status proofs; {:.0} MB read) in {:.1} s: VmRSS {} VmHWM {}",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        proc_status("VmRSS:"),
        proc_status("VmHWM:")
    );
}

/// Single appends, one commit each (batch size 1, as single mints at a modest rate), then the
/// store's growth per entry against what the log must keep: the entry and its hashes.
fn single(dir: &Path, n: u64) {
    let mut cfg = config();
    cfg.batch_size = 1;
    cfg.max_delay = Duration::ZERO;
    let log = if store_kind() == "sled" {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_mb() * 1024 * 1024)
            .open()
            .expect("open sled");
        Log::open(db, cfg).expect("open log")
    } else {
        let store =
            RedbStore::open(dir.join("log.redb"), (cache_mb() as usize) << 20).expect("open redb");
        Log::with_store(Arc::new(store), cfg).expect("open log")
    };
    let before = dir_bytes(dir);
    let start = log.size();
    let t = Instant::now();
    let key = issuer();
    let mut entry_bytes = 0u64;
    for k in 0..n {
        let e = label(start + k, &key);
        entry_bytes += e.len() as u64;
        log.submit(Submission::entry(e))
            .blocking_recv()
            .expect("sequencer alive")
            .expect("append");
    }
    let secs = t.elapsed().as_secs_f64();
    log.close();
    let after = dir_bytes(dir);
    let avg = entry_bytes as f64 / n as f64;
    // the leaf hash, and its share of the hashes above it (one per 255 below, per level)
    let must = avg + 32.0 + 32.0 * 4.0 / 255.0;
    let grown = after.saturating_sub(before) as f64 / n as f64;
    println!(
        "single appends: {n} in {secs:.1} s ({:.0}/s), one commit each: store grew {grown:.0} B/entry for {avg:.0}-byte entries = {:.2}x entry + hashes ({must:.0} B); whole store {:.0} B/entry = {:.2}x",
        n as f64 / secs,
        grown / must,
        after as f64 / (start + n) as f64,
        after as f64 / (start + n) as f64 / must,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("measure") {
        measure(Path::new(&args[2]));
        return;
    }
    if args.get(1).map(String::as_str) == Some("single") {
        single(Path::new(&args[2]), env_u64("SCALE_SINGLE", 20_000));
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
    let status = std::process::Command::new(std::env::current_exe().expect("current exe"))
        .arg("single")
        .arg(&dir)
        .status()
        .expect("spawn single");
    assert!(status.success());
}
