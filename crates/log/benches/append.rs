//! Append throughput with durable group commit, for batches of 1, 64 and 1024 entries, against
//! a baseline measured in the same run: SHA-256 leaf hashing + raw inserts into a redb table + one
//! durable commit per batch (the least any durable log has to do). The log runs on its own
//! store, `RedbStore` (what the server uses). Prints entries/s and the ratio to the baseline.
//!
//! `cargo bench -p cyberlabel-log --bench append`

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark harness

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use cyberlabel_core::merkle::leaf_hash;
use cyberlabel_log::{EntryPolicy, Log, LogConfig, RedbStore, Submission};
use ed25519_dalek::SigningKey;
use redb::TableDefinition;

const BATCHES: [usize; 3] = [1, 64, 1024];

fn entry(i: u64) -> Vec<u8> {
    // about the size of a label (a few hundred bytes)
    let mut e = vec![0xa5; 300];
    e[..8].copy_from_slice(&i.to_be_bytes());
    e
}

fn log_in(dir: &std::path::Path, batch: usize) -> Log {
    let mut c = LogConfig::new(
        "bench.cyberlabel.test/log",
        SigningKey::from_bytes(&[9; 32]),
        EntryPolicy::Opaque,
    );
    c.batch_size = batch;
    c.max_delay = Duration::from_millis(2);
    let store = RedbStore::open(dir.join("log.redb"), 16 << 20).unwrap();
    Log::with_store(std::sync::Arc::new(store), c).unwrap()
}

const RAW: TableDefinition<u64, &[u8]> = TableDefinition::new("raw");

fn raw_db(dir: &std::path::Path) -> redb::Database {
    redb::Database::builder()
        .set_cache_size(16 << 20)
        .create(dir.join("raw.redb"))
        .unwrap()
}

/// Append one batch of `batch` entries through the sequencer and wait for all acks.
fn append_batch(log: &Log, next: &mut u64, batch: usize) {
    let tickets: Vec<_> = (0..batch)
        .map(|_| {
            *next += 1;
            log.submit(Submission::entry(entry(*next)))
        })
        .collect();
    for t in tickets {
        t.blocking_recv().unwrap().unwrap();
    }
}

/// Baseline: per entry one SHA-256 leaf hash and one redb insert (key = index, value = hash ‖
/// entry); one durable write transaction per batch. No tree, no tiles, no checkpoint.
fn raw_batch(db: &redb::Database, next: &mut u64, batch: usize) {
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx.open_table(RAW).unwrap();
        for _ in 0..batch {
            *next += 1;
            let e = entry(*next);
            let mut v = leaf_hash(&e).to_vec();
            v.extend_from_slice(&e);
            t.insert(*next, v.as_slice()).unwrap();
        }
    }
    tx.commit().unwrap();
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    for batch in BATCHES {
        g.throughput(Throughput::Elements(batch as u64));
        let dir = tempfile::tempdir().unwrap();
        let log = log_in(dir.path(), batch);
        let mut next = 0;
        g.bench_with_input(BenchmarkId::new("log", batch), &batch, |b, &n| {
            b.iter(|| append_batch(&log, &mut next, n));
        });
        let dir2 = tempfile::tempdir().unwrap();
        let db = raw_db(dir2.path());
        let mut next2 = 0;
        g.bench_with_input(
            BenchmarkId::new("raw_sha256_redb", batch),
            &batch,
            |b, &n| {
                b.iter(|| raw_batch(&db, &mut next2, n));
            },
        );
    }
    g.finish();
}

/// Direct side-by-side measurement for the ratio (criterion does not expose its estimates).
fn ratio_report() {
    println!("\nentries/s (same run, same disk):");
    println!(
        "{:>6} {:>14} {:>18} {:>8}",
        "batch", "log", "sha256+redb raw", "ratio"
    );
    for batch in BATCHES {
        let entries = (4096 / batch).max(16) * batch;
        let rounds = entries / batch;
        let dir = tempfile::tempdir().unwrap();
        let log = log_in(dir.path(), batch);
        let mut next = 0;
        append_batch(&log, &mut next, batch); // warm-up
        let t = Instant::now();
        for _ in 0..rounds {
            append_batch(&log, &mut next, batch);
        }
        let log_rate = entries as f64 / t.elapsed().as_secs_f64();
        let dir2 = tempfile::tempdir().unwrap();
        let db = raw_db(dir2.path());
        let mut next2 = 0;
        raw_batch(&db, &mut next2, batch);
        let t = Instant::now();
        for _ in 0..rounds {
            raw_batch(&db, &mut next2, batch);
        }
        let raw_rate = entries as f64 / t.elapsed().as_secs_f64();
        println!(
            "{batch:>6} {log_rate:>14.0} {raw_rate:>18.0} {:>8.2}",
            log_rate / raw_rate
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    ratio_report();
}
