//! Proofs as the log serves them — the right edge from memory, perfect-subtree hashes
//! remembered across proofs — equal the proofs computed from the served tiles alone, and
//! verify against every checkpoint the log acknowledged, across three tile levels.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cyberlabel_core::checkpoint;
use cyberlabel_core::merkle::{verify_consistency, verify_inclusion};
use cyberlabel_core::tiles::{self, TileSet};
use cyberlabel_log::{EntryPolicy, Log, LogConfig, Submission};
use ed25519_dalek::SigningKey;

/// Entries past the first level-2 tile (256 · 256 = 65,536).
const ENTRIES: u64 = 66_100;

#[test]
fn served_proofs_equal_proofs_from_tiles_at_every_acknowledged_size() {
    let mut c = LogConfig::new(
        "proofs.cyberlabel.test/log",
        SigningKey::from_bytes(&[14; 32]),
        EntryPolicy::Opaque,
    );
    c.batch_size = 997; // batches end anywhere inside tiles
    c.max_delay = Duration::from_millis(1);
    let log = Log::open_memory(c).unwrap();
    let tickets: Vec<_> = (0..ENTRIES)
        .map(|i| log.submit(Submission::entry(i.to_be_bytes().to_vec())))
        .collect();
    let acks: Vec<_> = tickets
        .into_iter()
        .map(|t| t.blocking_recv().unwrap().unwrap())
        .collect();
    let policy = log.policy();
    let cp = |signed: &str| {
        checkpoint::open(signed.as_bytes(), &policy)
            .unwrap()
            .checkpoint
    };
    let latest = cp(&log.latest_checkpoint());
    assert_eq!(latest.size, ENTRIES);
    let from_tiles = |index: u64, size: u64| {
        let mut set = TileSet::new();
        for t in tiles::tiles_for_inclusion(index, size).unwrap() {
            set.insert(t, log.tile(&t).unwrap().unwrap()).unwrap();
        }
        set.inclusion_proof(index, size).unwrap()
    };
    // each acknowledgement's own checkpoint (sizes all over the tiles), then the latest, twice:
    // the second time from remembered nodes
    for round in 0..2 {
        for a in acks.iter().step_by(331).chain(acks.last()) {
            let at = cp(&a.checkpoint);
            for size in [at.size, latest.size] {
                let root = if size == latest.size {
                    latest.root
                } else {
                    at.root
                };
                let p = log.inclusion_proof(a.index, size).unwrap();
                assert_eq!(
                    p,
                    from_tiles(a.index, size),
                    "index {} size {size}",
                    a.index
                );
                verify_inclusion(&a.leaf_hash, a.index, size, &p, &root).unwrap();
            }
            let c = log.consistency_proof(at.size, latest.size).unwrap();
            verify_consistency(at.size, latest.size, &at.root, &latest.root, &c).unwrap();
        }
        eprintln!("round {round} done");
    }
    assert_eq!(log.root(ENTRIES).unwrap(), latest.root);
}
