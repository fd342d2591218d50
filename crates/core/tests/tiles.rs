//! Proofs computed from tiles equal the RFC 6962 proofs computed from the definition, for
//! thousands of random tree sizes (uniform up to three tile levels, and concentrated around the
//! tile boundaries where partial tiles appear and disappear).
//!
//! The oracle here is independent of core's Merkle code: it hashes with `sha2` directly and
//! follows RFC 6962 §2.1 (MTH, PATH, PROOF/SUBPROOF) literally, over a table of every perfect
//! subtree of the first [`MAX`] leaves, built once, so each case costs lookups, not rehashing
//! (which is what let this test run thousands of cases instead of twelve).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::sync::LazyLock;

use cyberlabel_core::merkle::{
    Hash, NodeId, leaf_hash, reference_root, verify_consistency, verify_inclusion,
};
use cyberlabel_core::tiles::{
    TileKind, TilePath, TileSet, tile_width, tiles_for_consistency, tiles_for_inclusion,
    tiles_for_root,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// Largest tree size tested: past 2 × 65,536 leaves, so level-2 tiles have two entries and
/// level-1 tiles are full and partial.
const MAX: u64 = (1 << 17) + 1_000;

/// Proptest cases per property.
const CASES: u32 = 1_024;

/// Every perfect subtree hash of the first MAX leaves: `levels[l][i]` covers leaves
/// `i·2^l .. (i+1)·2^l`.
struct Oracle {
    levels: Vec<Vec<Hash>>,
}

fn sha(parts: &[&[u8]]) -> Hash {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

static ORACLE: LazyLock<Oracle> = LazyLock::new(|| {
    let leaves: Vec<Hash> = (0..MAX).map(|i| sha(&[&[0], &i.to_le_bytes()])).collect();
    let mut levels = vec![leaves];
    while levels.last().unwrap().len() > 1 {
        let below = levels.last().unwrap();
        let up = below
            .chunks_exact(2)
            .map(|p| sha(&[&[1], &p[0], &p[1]]))
            .collect();
        levels.push(up);
    }
    Oracle { levels }
});

impl Oracle {
    /// The perfect subtree `id`, which must lie inside a tree of `size` leaves.
    fn node(&self, id: NodeId, size: u64) -> Hash {
        assert!(
            (id.index + 1) << id.level <= size,
            "node {id:?} is not complete at size {size}"
        );
        self.levels[usize::from(id.level)][id.index as usize]
    }

    /// MTH(D[start .. start + n]) (RFC 6962 §2.1).
    fn mth(&self, start: u64, n: u64) -> Hash {
        if n.is_power_of_two() && start.is_multiple_of(n) {
            return self.levels[n.trailing_zeros() as usize][(start / n) as usize];
        }
        let k = split(n);
        sha(&[&[1], &self.mth(start, k), &self.mth(start + k, n - k)])
    }

    /// PATH(m, D[start .. start + n]) (RFC 6962 §2.1.1).
    fn path(&self, m: u64, start: u64, n: u64) -> Vec<Hash> {
        if n == 1 {
            return vec![];
        }
        let k = split(n);
        if m < k {
            let mut p = self.path(m, start, k);
            p.push(self.mth(start + k, n - k));
            p
        } else {
            let mut p = self.path(m - k, start + k, n - k);
            p.push(self.mth(start, k));
            p
        }
    }

    /// SUBPROOF(m, D[start .. start + n], b) (RFC 6962 §2.1.2).
    fn subproof(&self, m: u64, start: u64, n: u64, b: bool) -> Vec<Hash> {
        if m == n {
            return if b { vec![] } else { vec![self.mth(start, m)] };
        }
        let k = split(n);
        if m <= k {
            let mut p = self.subproof(m, start, k, b);
            p.push(self.mth(start + k, n - k));
            p
        } else {
            let mut p = self.subproof(m - k, start + k, n - k, false);
            p.push(self.mth(start, k));
            p
        }
    }
}

/// Largest power of two strictly below `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The tiles `wanted` for a tree of `size` leaves, filled from the oracle (not from the log code).
fn tiles(size: u64, wanted: &[TilePath]) -> TileSet {
    let o = &*ORACLE;
    let mut set = TileSet::new();
    for t in wanted {
        let TileKind::Hash(level) = t.kind else {
            panic!("asked for an entry bundle: {t:?}")
        };
        assert_eq!(t.width, tile_width(level, t.index, size), "{t:?} at {size}");
        let mut bytes = Vec::new();
        for i in 0..u64::from(t.width) {
            let id = NodeId {
                level: level * 8,
                index: t.index * 256 + i,
            };
            bytes.extend_from_slice(&o.node(id, size));
        }
        set.insert(*t, bytes).unwrap();
    }
    set
}

/// The oracle agrees with core's own reference (and so with the RFC 6962 vectors in merkle.rs)
/// and with `leaf_hash`, so a wrong table cannot make the property below vacuous.
#[test]
fn oracle_matches_the_reference_definition() {
    let o = &*ORACLE;
    for i in [0u64, 1, 255, 256, MAX - 1] {
        assert_eq!(o.levels[0][i as usize], leaf_hash(&i.to_le_bytes()));
    }
    for size in [
        1u64, 2, 3, 255, 256, 257, 1_000, 65_535, 65_536, 65_537, 70_000,
    ] {
        assert_eq!(
            o.mth(0, size),
            reference_root(&o.levels[0][..size as usize]),
            "{size}"
        );
    }
}

/// The tlog-tiles example size: three tile levels, partial tiles at each.
#[test]
fn size_70000_uses_three_levels() {
    let size = 70_000u64;
    let root = ORACLE.mth(0, size);
    let need = tiles_for_root(size).unwrap();
    let paths: Vec<String> = need.iter().map(|t| t.to_path()).collect();
    assert_eq!(
        paths,
        ["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]
    );
    assert_eq!(tiles(size, &need).root(size).unwrap(), root);
    let need = tiles_for_inclusion(69_999, size).unwrap();
    let set = tiles(size, &need);
    let p = set.inclusion_proof(69_999, size).unwrap();
    assert_eq!(p, ORACLE.path(69_999, 0, size));
    verify_inclusion(&ORACLE.levels[0][69_999], 69_999, size, &p, &root).unwrap();
}

/// Tree sizes: uniform over 1..=MAX, or within a few leaves of a multiple of 256 or 65,536
/// (where tiles turn from partial to full and a new tile level starts).
fn size() -> impl Strategy<Value = u64> {
    let near = |unit: u64| {
        (1..=MAX / unit, -3i64..=3).prop_map(move |(k, d)| (k * unit).saturating_add_signed(d))
    };
    prop_oneof![1..=MAX, near(256), near(65_536)].prop_filter("in range", |s| (1..=MAX).contains(s))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn inclusion_from_tiles_is_the_rfc6962_path(size in size(), a in any::<u64>()) {
        let o = &*ORACLE;
        let root = o.mth(0, size);
        let index = a % size;
        let need = tiles_for_inclusion(index, size).unwrap();
        // at most one tile per level, full or partial, and the partial right edge of each level
        prop_assert!(need.len() <= 2 * 3 + 1, "{} tiles", need.len());
        let set = tiles(size, &need);
        let p = set.inclusion_proof(index, size).unwrap();
        prop_assert_eq!(&p, &o.path(index, 0, size));
        prop_assert_eq!(set.leaf(index, size).unwrap(), o.levels[0][index as usize]);
        prop_assert!(verify_inclusion(&o.levels[0][index as usize], index, size, &p, &root).is_ok());
    }

    #[test]
    fn consistency_from_tiles_is_the_rfc6962_proof(new in size(), b in any::<u64>()) {
        let o = &*ORACLE;
        let old = 1 + b % new;
        let need = tiles_for_consistency(old, new).unwrap();
        let set = tiles(new, &need);
        let p = set.consistency_proof(old, new).unwrap();
        let want = if old == new { vec![] } else { o.subproof(old, 0, new, true) };
        prop_assert_eq!(&p, &want);
        prop_assert!(verify_consistency(old, new, &o.mth(0, old), &o.mth(0, new), &p).is_ok());
    }

    #[test]
    fn root_from_tiles_is_the_rfc6962_root(size in size()) {
        let set = tiles(size, &tiles_for_root(size).unwrap());
        prop_assert_eq!(set.root(size).unwrap(), ORACLE.mth(0, size));
    }
}
