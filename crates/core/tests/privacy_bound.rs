//! The bound docs/threat-model.md §6 states for what the verifier's requests reveal: the tiles a
//! label's inclusion proof needs, and its status bucket, depend only on its level-0 tile
//! *k* = ⌊index/256⌋ and the tree size, so a label hides among the *w* = min(256, size − 256·k)
//! entries of that tile — 256 except in the newest, partial tile, where it can be 1. If the page
//! is changed to hide partial-tile labels among ≥ 256 (the recommended fix there), this test
//! and the document change together.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use cyberlabel_core::online::{BUCKET_SIZE, status_path};
use cyberlabel_core::tiles::{TileKind, tiles_for_inclusion};

/// What an observer of the requests learns about a label at `index` under a checkpoint of `size`:
/// the tile paths and the status path, in request order.
fn requests(index: u64, size: u64) -> Vec<String> {
    let mut r: Vec<String> = tiles_for_inclusion(index, size)
        .unwrap()
        .iter()
        .map(|t| t.to_path())
        .collect();
    r.push(status_path(index / BUCKET_SIZE));
    r
}

/// Every index of a level-0 tile makes the same requests, and they include that tile at its width.
fn check(size: u64) {
    for k in 0..size.div_ceil(256) {
        let first = 256 * k;
        let w = (size - first).min(256);
        let want = requests(first, size);
        for i in first..first + w {
            assert_eq!(requests(i, size), want, "index {i} at size {size}");
        }
        // the label's own level-0 tile, at width w (other level-0 tiles on the path, such as
        // the right edge's partial tile, are the same for every index of tile k)
        assert!(
            tiles_for_inclusion(first, size).unwrap().iter().any(|t| {
                t.kind == TileKind::Hash(0) && t.index == k && u64::from(t.width) == w
            }),
            "tile {k} at size {size}"
        );
    }
}

#[test]
fn requests_depend_only_on_the_level0_tile() {
    for size in 1..=1_100 {
        check(size);
    }
    for size in [65_535, 65_536, 65_537, 65_792, 65_793, 70_000] {
        check(size);
    }
}

/// The measured case: index 512 alone in its tile (tree size 513) asks for exactly its own
/// one-entry tile and bucket, so the observer learns the label. One entry later it has company.
#[test]
fn the_newest_partial_tile_can_be_a_set_of_one() {
    let r = requests(512, 513);
    assert!(r.contains(&"tile/0/002.p/1".to_owned()), "{r:?}");
    assert_eq!(r.last().unwrap(), "status/002");
    assert_eq!(requests(512, 514), requests(513, 514));
    assert!(requests(512, 514).contains(&"tile/0/002.p/2".to_owned()));
}
