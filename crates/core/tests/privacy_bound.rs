//! The bound docs/threat-model.md §6 states for what the verifier's requests reveal: the tiles a
//! label's inclusion proof needs and its status bucket depend only on its level-0 tile
//! *k* = ⌊index/256⌋ and the tree size, and while the newest tile is partial (it may hold a
//! single label) the labels in it and in the tile before it fetch the union of both tiles'
//! requests ([`online::cover`]). So every scan hides among at least min(size, 256) entries —
//! among 256 + w in the two newest tiles.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;

use cyberlabel_core::online::{self, status_path};

/// What an observer of the requests learns about a label at `index` under a checkpoint of `size`:
/// the tile paths and the status paths, in request order.
fn requests(index: u64, size: u64) -> Vec<String> {
    let (tiles, buckets) = online::fetch_set(index, size).unwrap();
    let mut r: Vec<String> = tiles.iter().map(|t| t.to_path()).collect();
    r.extend(buckets.into_iter().map(status_path));
    r
}

/// Groups every index by the requests it makes: each group is an anonymity set.
fn anonymity_sets(size: u64) -> BTreeMap<Vec<String>, u64> {
    let mut sets = BTreeMap::new();
    for i in 0..size {
        *sets.entry(requests(i, size)).or_insert(0) += 1;
    }
    sets
}

#[test]
fn every_scan_hides_among_at_least_256_labels() {
    let sizes = (1..=1_100).chain([65_535, 65_536, 65_537, 65_792, 65_793]);
    for size in sizes {
        let smallest = anonymity_sets(size).into_values().min().unwrap();
        assert!(
            smallest >= size.min(256),
            "size {size}: a scan hides among only {smallest}"
        );
    }
}

/// The case measured before the fix: index 512 alone in its tile (tree size 513) asked for
/// exactly its own one-entry tile and bucket. Now it makes the same requests as the 256 labels
/// of the tile before it, whose inclusion it also fetches.
#[test]
fn the_newest_partial_tile_is_covered_by_the_one_before() {
    let r = requests(512, 513);
    assert!(r.contains(&"tile/0/002.p/1".to_owned()), "{r:?}");
    assert!(r.contains(&"tile/0/001".to_owned()), "{r:?}");
    assert!(r.contains(&"status/001".to_owned()) && r.contains(&"status/002".to_owned()));
    for i in 256..512 {
        assert_eq!(requests(i, 513), r, "index {i}");
    }
    // older full tiles are not widened
    assert_eq!(online::cover(0, 513), None);
    assert_eq!(
        requests(0, 513)
            .iter()
            .filter(|p| p.starts_with("status/"))
            .count(),
        1
    );
    // a full newest tile needs no cover
    assert_eq!(online::cover(1, 512), None);
}
