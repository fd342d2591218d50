//! RFC 6962 / RFC 9162 Merkle tree hashing and strict proof verification.
//!
//! Leaf hash = SHA-256(0x00 ‖ entry), node hash = SHA-256(0x01 ‖ left ‖ right); a tree of `n`
//! leaves splits at the largest power of two smaller than `n` (RFC 9162 §2.1.1).
//!
//! Verification follows the RFC 9162 §2.1.3.2 and §2.1.4.2 loops, which reject a proof that is
//! one hash too long or too short; roots are compared in constant time.
//!
//! Proof *generation* is expressed over an oracle that returns the hash of a perfect, aligned
//! subtree ([`NodeId`]): the log answers it from stored tiles, a browser from fetched tiles, and
//! tests from a plain leaf list ([`reference_node`]). The same code therefore produces proofs
//! everywhere, and [`inclusion_proof_nodes`] / [`consistency_proof_nodes`] say up front which
//! nodes (hence which tiles) are needed.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A SHA-256 hash (leaf, node or root).
pub type Hash = [u8; 32];

/// Root of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Why a Merkle proof was rejected (or could not be produced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not smaller than the tree size.
    #[error("leaf index {index} is out of range for tree size {size}")]
    IndexOutOfRange {
        /// the claimed leaf index
        index: u64,
        /// the claimed tree size
        size: u64,
    },
    /// The old size is larger than the new size.
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizesOutOfOrder {
        /// old size
        old: u64,
        /// new size
        new: u64,
    },
    /// The proof has the wrong number of hashes for the sizes given.
    #[error("proof has the wrong number of hashes")]
    WrongProofLength,
    /// The proof does not lead to the expected root.
    #[error("proof does not match the root hash")]
    RootMismatch,
}

/// RFC 6962 leaf hash: SHA-256(0x00 ‖ data).
#[must_use]
pub fn leaf_hash(data: &[u8]) -> Hash {
    crate::ops::hash();
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right).
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    crate::ops::hash();
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Constant-time equality of two hashes.
#[must_use]
pub fn hashes_equal(a: &Hash, b: &Hash) -> bool {
    a.ct_eq(b).into()
}

/// A perfect subtree: `2^level` leaves starting at leaf `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    /// height above the leaves (0 = a leaf hash)
    pub level: u8,
    /// position among the nodes of that level
    pub index: u64,
}

/// Largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The perfect subtrees, left to right, whose hashes fold (from the right) into MTH(D[start..end]).
///
/// Only meaningful for ranges produced by the RFC 6962 decomposition: `start` is aligned to the
/// largest power of two not exceeding `end - start`.
#[must_use]
pub fn range_nodes(start: u64, end: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut s = start;
    while s < end {
        let len = end - s;
        // largest power of two <= len that keeps s aligned
        let mut level = 63 - len.leading_zeros();
        if s != 0 {
            level = level.min(s.trailing_zeros());
        }
        out.push(NodeId {
            level: level as u8,
            index: s >> level,
        });
        s += 1u64 << level;
    }
    out
}

/// Fold the hashes of [`range_nodes`] into the range's Merkle tree hash.
///
/// Returns [`EMPTY_ROOT`] for an empty slice.
#[must_use]
pub fn fold_range(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let Some(last) = iter.next() else {
        return EMPTY_ROOT;
    };
    let mut acc = *last;
    for h in iter {
        acc = node_hash(h, &acc);
    }
    acc
}

/// The nodes needed for an inclusion proof of leaf `index` in a tree of `size` leaves: one group
/// per proof hash (leaf sibling first); each group folds with [`fold_range`].
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] if `index >= size`.
pub fn inclusion_proof_nodes(index: u64, size: u64) -> Result<Vec<Vec<NodeId>>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    // RFC 9162 §2.1.3.1 PATH(m, D[start..start+n]), iteratively from the root down, then reversed
    // so that the leaf's sibling comes first.
    let mut groups = Vec::new();
    let (mut m, mut start, mut n) = (index, 0u64, size);
    while n > 1 {
        let left = m < split_point(n);
        descend(&mut groups, &mut m, &mut start, &mut n, left);
    }
    groups.reverse();
    Ok(groups)
}

/// One step down the tree `D[start..start+n]` split at k: into the left subtree (its right
/// sibling joins the proof) when `left`, else into the right one (`m` follows, relative to it).
/// Returns whether it went right.
fn descend(
    groups: &mut Vec<Vec<NodeId>>,
    m: &mut u64,
    start: &mut u64,
    n: &mut u64,
    left: bool,
) -> bool {
    let k = split_point(*n);
    if left {
        groups.push(range_nodes(*start + k, *start + *n));
        *n = k;
        false
    } else {
        groups.push(range_nodes(*start, *start + k));
        *m -= k;
        *start += k;
        *n -= k;
        true
    }
}

/// The nodes needed for a consistency proof from `old` to `new` leaves (RFC 9162 §2.1.4.1),
/// grouped as in [`inclusion_proof_nodes`]. Empty when `old == new` or `old == 0`.
///
/// # Errors
/// [`ProofError::SizesOutOfOrder`] if `old > new`.
pub fn consistency_proof_nodes(old: u64, new: u64) -> Result<Vec<Vec<NodeId>>, ProofError> {
    if old > new {
        return Err(ProofError::SizesOutOfOrder { old, new });
    }
    let mut groups = Vec::new();
    if old == 0 || old == new {
        return Ok(groups);
    }
    // SUBPROOF(m, D[start..start+n], b)
    let (mut m, mut start, mut n, mut b) = (old, 0u64, new, true);
    while m != n {
        let left = m <= split_point(n);
        if descend(&mut groups, &mut m, &mut start, &mut n, left) {
            b = false;
        }
    }
    if !b {
        groups.push(range_nodes(start, start + n));
    }
    groups.reverse();
    Ok(groups)
}

fn resolve<E>(
    groups: Vec<Vec<NodeId>>,
    node: &mut impl FnMut(NodeId) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    let mut proof = Vec::with_capacity(groups.len());
    let mut buf = Vec::new();
    for g in groups {
        buf.clear();
        for id in g {
            buf.push(node(id)?);
        }
        proof.push(fold_range(&buf));
    }
    Ok(proof)
}

/// Build an inclusion proof from a perfect-subtree oracle.
///
/// # Errors
/// The oracle's error, or [`ProofError::IndexOutOfRange`] converted into it.
pub fn inclusion_proof<E: From<ProofError>>(
    index: u64,
    size: u64,
    mut node: impl FnMut(NodeId) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    resolve(inclusion_proof_nodes(index, size)?, &mut node)
}

/// Build a consistency proof from a perfect-subtree oracle.
///
/// # Errors
/// The oracle's error, or [`ProofError::SizesOutOfOrder`] converted into it.
pub fn consistency_proof<E: From<ProofError>>(
    old: u64,
    new: u64,
    mut node: impl FnMut(NodeId) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    resolve(consistency_proof_nodes(old, new)?, &mut node)
}

/// The tree hash of the first `size` leaves from a perfect-subtree oracle.
///
/// # Errors
/// The oracle's error.
pub fn tree_root<E>(size: u64, mut node: impl FnMut(NodeId) -> Result<Hash, E>) -> Result<Hash, E> {
    let mut hashes = Vec::new();
    for id in range_nodes(0, size) {
        hashes.push(node(id)?);
    }
    Ok(fold_range(&hashes))
}

/// Recompute the root from a leaf hash and its audit path (RFC 9162 §2.1.3.2).
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] or [`ProofError::WrongProofLength`].
pub fn root_from_inclusion_proof(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut r = *leaf;
    walk_path(index, size - 1, proof, |p, from_left| {
        r = if from_left {
            node_hash(p, &r)
        } else {
            node_hash(&r, p)
        };
    })?;
    Ok(r)
}

/// The path walk shared by inclusion and consistency verification (RFC 9162 §2.1.3.2 and
/// §2.1.4.2): `fnode`/`snode` start at the node's and the tree's last index; `step` is told,
/// for each path hash, whether it joins from the left. The path must end exactly at the root.
fn walk_path(
    mut fnode: u64,
    mut snode: u64,
    path: &[Hash],
    mut step: impl FnMut(&Hash, bool),
) -> Result<(), ProofError> {
    for p in path {
        if snode == 0 {
            return Err(ProofError::WrongProofLength);
        }
        let from_left = fnode & 1 == 1 || fnode == snode;
        step(p, from_left);
        if from_left && fnode & 1 == 0 {
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongProofLength);
    }
    Ok(())
}

/// Verify that `leaf` (a leaf *hash*) is at `index` in the tree of `size` leaves with `root`.
///
/// # Errors
/// Any [`ProofError`]; a proof one hash too long or too short fails.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(leaf, index, size, proof)?;
    if hashes_equal(&computed, root) {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Verify that the tree of `old_size` leaves with `old_root` is a prefix of the tree of
/// `new_size` leaves with `new_root` (RFC 9162 §2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots. `old_size == 0` is accepted only with an
/// empty proof and `old_root == EMPTY_ROOT` (the empty tree is a prefix of every tree; witnesses
/// use this as `old 0`).
///
/// # Errors
/// Any [`ProofError`]; a proof one hash too long or too short fails.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size || old_size == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength);
        }
        // Both roots are always compared: with equal sizes they must be the same root (and the
        // empty tree's root when both are empty); from size 0 the old root must be the empty
        // tree's (the new root is then unconstrained: every tree extends the empty one).
        let ok_old = if old_size == 0 {
            hashes_equal(old_root, &EMPTY_ROOT)
        } else {
            hashes_equal(old_root, new_root)
        };
        let ok_new = new_size != 0 || hashes_equal(new_root, &EMPTY_ROOT);
        return if ok_old & ok_new {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let Some((first, rest)) = proof.split_first() else {
        return Err(ProofError::WrongProofLength);
    };
    // If old_size is a power of two the old root itself is the first node of the path.
    let (start, path): (&Hash, &[Hash]) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        (first, rest)
    };
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*start, *start);
    walk_path(fnode, snode, path, |c, from_left| {
        if from_left {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
        } else {
            sr = node_hash(&sr, c);
        }
    })?;
    // Evaluate both comparisons before branching (no early exit on the first).
    let ok_old = hashes_equal(&fr, old_root);
    let ok_new = hashes_equal(&sr, new_root);
    if ok_old & ok_new {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Reference Merkle tree hash of a list of leaf hashes (RFC 9162 §2.1.1), straight from the
/// definition. O(n): for tests, audits and small trees.
#[must_use]
pub fn reference_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
        }
    }
}

/// Reference perfect-subtree oracle over an in-memory leaf list, for [`inclusion_proof`] and
/// friends.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] if the node reaches past the leaves.
pub fn reference_node(leaves: &[Hash], id: NodeId) -> Result<Hash, ProofError> {
    let width = 1u64.checked_shl(u32::from(id.level)).unwrap_or(0);
    let start = id.index.saturating_mul(width);
    let end = start.saturating_add(width);
    if width == 0 || end > leaves.len() as u64 {
        return Err(ProofError::IndexOutOfRange {
            index: end,
            size: leaves.len() as u64,
        });
    }
    Ok(reference_root(&leaves[start as usize..end as usize]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        let h: Hash = Sha256::digest([]).into();
        assert_eq!(h, EMPTY_ROOT);
    }

    #[test]
    fn range_nodes_decompose_sizes() {
        assert_eq!(
            range_nodes(0, 7),
            vec![
                NodeId { level: 2, index: 0 },
                NodeId { level: 1, index: 2 },
                NodeId { level: 0, index: 6 }
            ]
        );
        assert_eq!(range_nodes(4, 8), vec![NodeId { level: 2, index: 1 }]);
        assert!(range_nodes(3, 3).is_empty());
    }
}
