//! Which tiles and entry bundles a new checkpoint size needs that an older published size did
//! not (C2SP tlog-tiles: full tiles, and the partial tile at the right edge of every level for
//! every published size).

use cyberlabel_core::tiles::{TileKind, TilePath};

/// Tile and bundle paths needed for tree size `new` and not for `old` (`old` ≤ `new`), level 0
/// first, entry bundles beside their level-0 tiles. Empty when `old >= new`.
#[must_use]
pub fn tiles_between(old: u64, new: u64) -> Vec<TilePath> {
    let mut out = Vec::new();
    if old >= new {
        return out;
    }
    for level in 0u8..8 {
        let shift = 8 * u32::from(level);
        let n_new = new >> shift;
        let n_old = old >> shift;
        if n_new == 0 || n_new == n_old {
            // nothing at this level, or this level did not change (nor will any above it)
            break;
        }
        let first = n_old / 256;
        let full = n_new / 256;
        let partial = (n_new % 256) as u16;
        let mut push = |index: u64, width: u16| {
            out.push(TilePath {
                kind: TileKind::Hash(level),
                index,
                width,
            });
            if level == 0 {
                out.push(TilePath {
                    kind: TileKind::Entries,
                    index,
                    width,
                });
            }
        };
        for index in first..full {
            push(index, 256);
        }
        if partial > 0 {
            push(full, partial);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(old: u64, new: u64) -> Vec<String> {
        tiles_between(old, new)
            .iter()
            .map(TilePath::to_path)
            .collect()
    }

    #[test]
    fn from_empty_and_incremental() {
        assert!(paths(5, 5).is_empty());
        assert_eq!(paths(0, 3), ["tile/0/000.p/3", "tile/entries/000.p/3"]);
        assert_eq!(paths(3, 5), ["tile/0/000.p/5", "tile/entries/000.p/5"]);
        assert_eq!(
            paths(255, 257),
            [
                "tile/0/000",
                "tile/entries/000",
                "tile/0/001.p/1",
                "tile/entries/001.p/1",
                "tile/1/000.p/1"
            ]
        );
        // level 1 unchanged between 257 and 300: only level 0 moves
        assert_eq!(
            paths(257, 300),
            ["tile/0/001.p/44", "tile/entries/001.p/44"]
        );
        assert_eq!(paths(256, 512).len(), 2 + 1);
    }

    #[test]
    fn every_tile_of_a_size_is_covered_by_some_step() {
        // publishing 0 → a → b must give every path that publishing 0 → b gives
        for (a, b) in [(100u64, 70_000u64), (65_535, 65_537), (1, 256 * 256 + 3)] {
            let direct = paths(0, b);
            let mut steps = paths(0, a);
            steps.extend(paths(a, b));
            for p in direct {
                assert!(steps.contains(&p), "{p} missing for 0→{a}→{b}");
            }
        }
    }
}
