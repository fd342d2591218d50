//! Proofs computed from tiles equal proofs computed from the leaves, for random sizes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use cyberlabel_core::merkle::{
    Hash, ProofError, consistency_proof, inclusion_proof, leaf_hash, reference_node,
    reference_root, verify_consistency, verify_inclusion,
};
use cyberlabel_core::tiles::{
    TileKind, TileSet, tile_width, tiles_for_consistency, tiles_for_inclusion, tiles_for_root,
};
use proptest::prelude::*;

/// Tiles for a tree of `leaves.len()` leaves, built from the definition (not from the log code).
fn tiles(leaves: &[Hash], wanted: &[cyberlabel_core::tiles::TilePath]) -> TileSet {
    let size = leaves.len() as u64;
    let mut set = TileSet::new();
    for t in wanted {
        let TileKind::Hash(level) = t.kind else {
            panic!()
        };
        assert_eq!(t.width, tile_width(level, t.index, size));
        let mut bytes = Vec::new();
        for i in 0..u64::from(t.width) {
            let id = cyberlabel_core::merkle::NodeId {
                level: level * 8,
                index: t.index * 256 + i,
            };
            bytes.extend_from_slice(&reference_node(leaves, id).unwrap());
        }
        set.insert(*t, bytes).unwrap();
    }
    set
}

/// The tlog-tiles example size: three tile levels, partial tiles at each.
#[test]
fn size_70000_uses_three_levels() {
    let size = 70_000u64;
    let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    let root = reference_root(&leaves);
    let need = tiles_for_root(size).unwrap();
    let paths: Vec<String> = need.iter().map(|t| t.to_path()).collect();
    assert_eq!(
        paths,
        ["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]
    );
    assert_eq!(tiles(&leaves, &need).root(size).unwrap(), root);
    let need = tiles_for_inclusion(69_999, size).unwrap();
    let set = tiles(&leaves, &need);
    let p = set.inclusion_proof(69_999, size).unwrap();
    verify_inclusion(&leaves[69_999], 69_999, size, &p, &root).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn tile_proofs_match(size in 1u64..20_000, a in any::<u64>(), b in any::<u64>()) {
        let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let root = reference_root(&leaves);
        let index = a % size;
        let need = tiles_for_inclusion(index, size).unwrap();
        prop_assert!(need.len() <= 2 * 3 + 1);
        let set = tiles(&leaves, &need);
        let p = set.inclusion_proof(index, size).unwrap();
        prop_assert_eq!(&p, &inclusion_proof::<ProofError>(index, size, |id| reference_node(&leaves, id)).unwrap());
        prop_assert!(verify_inclusion(&set.leaf(index, size).unwrap(), index, size, &p, &root).is_ok());
        let old = 1 + b % size;
        let need = tiles_for_consistency(old, size).unwrap();
        let set = tiles(&leaves, &need);
        let p = set.consistency_proof(old, size).unwrap();
        prop_assert_eq!(&p, &consistency_proof::<ProofError>(old, size, |id| reference_node(&leaves, id)).unwrap());
        prop_assert!(verify_consistency(old, size, &reference_root(&leaves[..old as usize]), &root, &p).is_ok());
        let set = tiles(&leaves, &tiles_for_root(size).unwrap());
        prop_assert_eq!(set.root(size).unwrap(), root);
    }
}
