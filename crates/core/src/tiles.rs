//! C2SP `tlog-tiles`: tile paths, entry bundles, and Merkle proofs computed from tiles.
//!
//! A hash tile at level `L`, index `N` holds up to 256 hashes of tree level `8·L`: entries
//! `N·256 … N·256+255`. A full tile is 8,192 bytes; a partial one (`.p/<W>`) holds the first
//! `W` hashes and exists only for the right edge of a published tree size. Every perfect subtree
//! of height `h` is the Merkle tree hash of `2^(h mod 8)` consecutive hashes of one level-`h/8`
//! tile, so any proof for a tree of `size` leaves can be computed from a handful of tiles:
//! [`tiles_for_inclusion`] / [`tiles_for_consistency`] name them, a verifier fetches them into a
//! [`TileSet`], and [`TileSet::inclusion_proof`] etc. compute the proof hashes, which are then
//! checked against a signed checkpoint with [`crate::merkle`].
//!
//! Entry bundles (`tile/entries/<N>[.p/<W>]`) are the entries themselves, each prefixed by its
//! big-endian u16 length (so entries are < 64 KiB).

use std::collections::BTreeMap;

use crate::merkle::{self, Hash, NodeId, ProofError};

/// Hashes per full tile.
pub const TILE_WIDTH: u64 = 256;
/// Tree levels per tile level.
pub const TILE_HEIGHT: u8 = 8;
/// Bytes of a full hash tile.
pub const FULL_TILE_BYTES: usize = 256 * 32;
/// Largest entry an entry bundle can carry.
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;

/// Errors about tile paths, tile contents and bundles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// The path is not a valid tile path.
    #[error("malformed tile path")]
    MalformedPath,
    /// The tile's byte length does not match its width.
    #[error("tile has the wrong length")]
    WrongLength,
    /// A tile needed for the computation was not provided.
    #[error("missing tile {level}/{index}")]
    MissingTile {
        /// tile level
        level: u8,
        /// tile index
        index: u64,
    },
    /// A proof could not be produced for these sizes.
    #[error("{0}")]
    Proof(#[from] ProofError),
    /// An entry bundle is malformed.
    #[error("malformed entry bundle")]
    MalformedBundle,
}

/// Hash tile at a level, or entry bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TileKind {
    /// `tile/<L>/…`, hashes of tree level `8·L`
    Hash(u8),
    /// `tile/entries/…`
    Entries,
}

/// A tile path: kind, index and width (1..=256; 256 = full tile, no `.p/` suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TilePath {
    /// hash tile level or entries
    pub kind: TileKind,
    /// tile index `N`
    pub index: u64,
    /// number of hashes / entries (256 for a full tile)
    pub width: u16,
}

fn encode_index(mut n: u64, out: &mut String) {
    let mut groups = Vec::new();
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            out.push_str(&format!("x{g:03}/"));
        } else {
            out.push_str(&format!("{g:03}"));
        }
    }
}

impl TilePath {
    /// Whether this is a full (256-wide) tile.
    #[must_use]
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// Format as `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]` (no leading slash).
    #[must_use]
    pub fn to_path(&self) -> String {
        let mut s = String::from("tile/");
        match self.kind {
            TileKind::Hash(l) => s.push_str(&format!("{l}/")),
            TileKind::Entries => s.push_str("entries/"),
        }
        encode_index(self.index, &mut s);
        if !self.is_full() {
            s.push_str(&format!(".p/{}", self.width));
        }
        s
    }

    /// Parse a tile path (without leading slash). Strict: canonical form only.
    ///
    /// # Errors
    /// [`TileError::MalformedPath`].
    pub fn parse(path: &str) -> Result<Self, TileError> {
        let bad = TileError::MalformedPath;
        if path.len() > 128 {
            return Err(bad);
        }
        let rest = path.strip_prefix("tile/").ok_or(bad)?;
        let (kind_s, rest) = rest.split_once('/').ok_or(bad)?;
        let kind = if kind_s == "entries" {
            TileKind::Entries
        } else {
            if kind_s.is_empty()
                || kind_s.len() > 2
                || !kind_s.bytes().all(|b| b.is_ascii_digit())
                || (kind_s.len() > 1 && kind_s.starts_with('0'))
            {
                return Err(bad);
            }
            let l: u8 = kind_s.parse().map_err(|_| bad)?;
            if l > 63 {
                return Err(bad);
            }
            TileKind::Hash(l)
        };
        let (idx_s, width) = match rest.split_once(".p/") {
            Some((i, w)) => {
                if w.is_empty()
                    || w.len() > 3
                    || !w.bytes().all(|b| b.is_ascii_digit())
                    || w.starts_with('0')
                {
                    return Err(bad);
                }
                let w: u16 = w.parse().map_err(|_| bad)?;
                if w == 0 || u64::from(w) >= TILE_WIDTH {
                    return Err(bad);
                }
                (i, w)
            }
            None => (rest, 256),
        };
        let groups: Vec<&str> = idx_s.split('/').collect();
        let mut index: u64 = 0;
        for (i, g) in groups.iter().enumerate() {
            let digits = if i + 1 < groups.len() {
                g.strip_prefix('x').ok_or(bad)?
            } else {
                g
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad);
            }
            let v: u64 = digits.parse().map_err(|_| bad)?;
            index = index
                .checked_mul(1000)
                .and_then(|x| x.checked_add(v))
                .ok_or(bad)?;
        }
        // canonical: no leading zero groups
        if groups.len() > 1 && groups[0] == "x000" {
            return Err(bad);
        }
        Ok(Self { kind, index, width })
    }
}

/// Width of hash tile `index` at `level` in a tree of `size` leaves (0 if it does not exist).
#[must_use]
pub fn tile_width(level: u8, index: u64, size: u64) -> u16 {
    let shift = u32::from(level) * u32::from(TILE_HEIGHT);
    let count = size.checked_shr(shift).unwrap_or(0);
    let start = index.saturating_mul(TILE_WIDTH);
    if count <= start {
        0
    } else {
        (count - start).min(TILE_WIDTH) as u16
    }
}

/// Where a perfect subtree lives: the tile (at its width for `size`), the first hash in it, and
/// how many consecutive hashes fold into the node.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] if the node is not complete in a tree of `size` leaves.
pub fn locate_node(id: NodeId, size: u64) -> Result<(TilePath, usize, usize), ProofError> {
    let level = id.level / TILE_HEIGHT;
    let sub = u32::from(id.level % TILE_HEIGHT);
    let first = id
        .index
        .checked_shl(sub)
        .ok_or(ProofError::IndexOutOfRange {
            index: id.index,
            size,
        })?;
    let count = 1usize << sub;
    let index = first / TILE_WIDTH;
    let offset = (first % TILE_WIDTH) as usize;
    let width = tile_width(level, index, size);
    if offset + count > usize::from(width) {
        return Err(ProofError::IndexOutOfRange {
            index: id.index,
            size,
        });
    }
    Ok((
        TilePath {
            kind: TileKind::Hash(level),
            index,
            width,
        },
        offset,
        count,
    ))
}

/// Merkle tree hash of `count` (a power of two) consecutive hashes of a tile starting at `offset`.
///
/// # Errors
/// [`TileError::WrongLength`] if the tile is too short.
pub fn hash_in_tile(tile: &[u8], offset: usize, count: usize) -> Result<Hash, TileError> {
    let end = offset
        .checked_add(count)
        .and_then(|e| e.checked_mul(32))
        .ok_or(TileError::WrongLength)?;
    if !tile.len().is_multiple_of(32) || end > tile.len() || !count.is_power_of_two() {
        return Err(TileError::WrongLength);
    }
    let mut layer: Vec<Hash> = tile[offset * 32..end]
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect();
    while layer.len() > 1 {
        // count is a power of two, so every layer has an even length
        layer = layer
            .chunks_exact(2)
            .map(|p| merkle::node_hash(&p[0], &p[1]))
            .collect();
    }
    Ok(layer[0])
}

fn tiles_for(groups: Vec<Vec<NodeId>>, size: u64) -> Result<Vec<TilePath>, ProofError> {
    let mut out: Vec<TilePath> = Vec::new();
    for id in groups.into_iter().flatten() {
        let (t, _, _) = locate_node(id, size)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out.sort();
    Ok(out)
}

/// Hash tiles (at their widths for `size`) needed for an inclusion proof of `index`.
///
/// # Errors
/// [`ProofError`] if `index >= size`.
pub fn tiles_for_inclusion(index: u64, size: u64) -> Result<Vec<TilePath>, ProofError> {
    let mut groups = merkle::inclusion_proof_nodes(index, size)?;
    // the leaf itself, so a verifier can also check that the tile holds the leaf hash it expects
    groups.push(vec![NodeId { level: 0, index }]);
    tiles_for(groups, size)
}

/// Hash tiles (at their widths for `new`) needed for a consistency proof from `old` to `new`.
///
/// # Errors
/// [`ProofError`] if `old > new`.
pub fn tiles_for_consistency(old: u64, new: u64) -> Result<Vec<TilePath>, ProofError> {
    tiles_for(merkle::consistency_proof_nodes(old, new)?, new)
}

/// Hash tiles needed to compute the root of a tree of `size` leaves.
///
/// # Errors
/// Never for valid sizes; typed for symmetry.
pub fn tiles_for_root(size: u64) -> Result<Vec<TilePath>, ProofError> {
    tiles_for(vec![merkle::range_nodes(0, size)], size)
}

/// Fetched hash tiles, keyed by (level, index); computes proofs for one tree size.
#[derive(Debug, Clone, Default)]
pub struct TileSet {
    tiles: BTreeMap<(u8, u64), Vec<u8>>,
}

impl TileSet {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a hash tile fetched at `path`.
    ///
    /// # Errors
    /// [`TileError::WrongLength`] if `bytes` is not `width × 32` bytes;
    /// [`TileError::MalformedPath`] for an entry bundle path.
    pub fn insert(&mut self, path: TilePath, bytes: Vec<u8>) -> Result<(), TileError> {
        let TileKind::Hash(level) = path.kind else {
            return Err(TileError::MalformedPath);
        };
        if bytes.len() != usize::from(path.width) * 32 {
            return Err(TileError::WrongLength);
        }
        self.tiles.insert((level, path.index), bytes);
        Ok(())
    }

    /// Hash of a perfect subtree in a tree of `size` leaves.
    ///
    /// # Errors
    /// [`TileError::MissingTile`] or [`TileError::WrongLength`].
    pub fn node(&self, id: NodeId, size: u64) -> Result<Hash, TileError> {
        let (t, offset, count) = locate_node(id, size)?;
        let TileKind::Hash(level) = t.kind else {
            return Err(TileError::MalformedPath);
        };
        let bytes = self
            .tiles
            .get(&(level, t.index))
            .ok_or(TileError::MissingTile {
                level,
                index: t.index,
            })?;
        hash_in_tile(bytes, offset, count)
    }

    /// Leaf hash at `index` (from the level-0 tile).
    ///
    /// # Errors
    /// As [`TileSet::node`].
    pub fn leaf(&self, index: u64, size: u64) -> Result<Hash, TileError> {
        self.node(NodeId { level: 0, index }, size)
    }

    /// Inclusion proof for `index` in the tree of `size` leaves.
    ///
    /// # Errors
    /// As [`TileSet::node`], or [`ProofError`].
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, TileError> {
        merkle::inclusion_proof(index, size, |id| self.node(id, size))
    }

    /// Consistency proof from `old` to `new` (tiles at their widths for `new`).
    ///
    /// # Errors
    /// As [`TileSet::node`], or [`ProofError`].
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, TileError> {
        merkle::consistency_proof(old, new, |id| self.node(id, new))
    }

    /// Root of the tree of `size` leaves.
    ///
    /// # Errors
    /// As [`TileSet::node`].
    pub fn root(&self, size: u64) -> Result<Hash, TileError> {
        merkle::tree_root(size, |id| self.node(id, size))
    }
}

/// Split an entry bundle into its entries (at most 256).
///
/// # Errors
/// [`TileError::MalformedBundle`] on truncation or more than 256 entries.
pub fn parse_entry_bundle(bytes: &[u8]) -> Result<Vec<&[u8]>, TileError> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if out.len() as u64 >= TILE_WIDTH || rest.len() < 2 {
            return Err(TileError::MalformedBundle);
        }
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let body = rest.get(2..2 + n).ok_or(TileError::MalformedBundle)?;
        out.push(body);
        rest = &rest[2 + n..];
    }
    Ok(out)
}

/// Append one entry to an entry bundle being built.
///
/// # Errors
/// [`TileError::MalformedBundle`] if the entry is 64 KiB or larger.
pub fn push_bundle_entry(bundle: &mut Vec<u8>, entry: &[u8]) -> Result<(), TileError> {
    let n = u16::try_from(entry.len()).map_err(|_| TileError::MalformedBundle)?;
    bundle.extend_from_slice(&n.to_be_bytes());
    bundle.extend_from_slice(entry);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_from_the_spec() {
        let p = TilePath {
            kind: TileKind::Hash(0),
            index: 1_234_067,
            width: 256,
        };
        assert_eq!(p.to_path(), "tile/0/x001/x234/067");
        let p = TilePath {
            kind: TileKind::Hash(4),
            index: 123_456_789,
            width: 1,
        };
        assert_eq!(p.to_path(), "tile/4/x123/x456/789.p/1");
        let p = TilePath {
            kind: TileKind::Entries,
            index: 0,
            width: 112,
        };
        assert_eq!(p.to_path(), "tile/entries/000.p/112");
        for s in [
            "tile/0/x001/x234/067",
            "tile/4/x123/x456/789.p/1",
            "tile/entries/000.p/112",
            "tile/63/000",
        ] {
            assert_eq!(TilePath::parse(s).unwrap().to_path(), s);
        }
        for bad in [
            "tile/0/1",
            "tile/00/000",
            "tile/64/000",
            "tile/0/x000/001",
            "tile/0/000.p/256",
            "tile/0/000.p/0",
            "tile/0/000.p/01",
            "tile/0/001/002",
            "tile/x/000",
            "tile/0/x1000/000",
        ] {
            assert!(TilePath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn widths_for_size_70000() {
        // the example of c2sp tlog-tiles
        assert_eq!(tile_width(0, 272, 70_000), 256);
        assert_eq!(tile_width(0, 273, 70_000), 112);
        assert_eq!(tile_width(1, 0, 70_000), 256);
        assert_eq!(tile_width(1, 1, 70_000), 17);
        assert_eq!(tile_width(2, 0, 70_000), 1);
        assert_eq!(tile_width(0, 274, 70_000), 0);
    }

    #[test]
    fn bundle_roundtrip() {
        let mut b = Vec::new();
        push_bundle_entry(&mut b, b"abc").unwrap();
        push_bundle_entry(&mut b, b"").unwrap();
        assert_eq!(parse_entry_bundle(&b).unwrap(), vec![&b"abc"[..], &b""[..]]);
        assert!(parse_entry_bundle(&b[..b.len() - 3]).is_err());
        assert!(push_bundle_entry(&mut b, &vec![0; 70_000]).is_err());
    }
}
