//! RFC 6962 known-answer vectors (tests/vectors/rfc6962_merkle.json) and property tests of the
//! Merkle proof code against rs_merkle as an independent oracle.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use cyberlabel_core::merkle::{
    EMPTY_ROOT, Hash, ProofError, consistency_proof, inclusion_proof, leaf_hash, node_hash,
    reference_node, reference_root, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;
use serde_json::Value;

fn h(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/rfc6962_merkle.json")).unwrap()
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| h(x.as_str().unwrap()))
        .collect()
}

fn vector_leaves() -> Vec<Hash> {
    vectors()["leaves_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| leaf_hash(&hex::decode(x.as_str().unwrap()).unwrap()))
        .collect()
}

#[test]
fn rfc6962_roots_for_every_size() {
    let v = vectors();
    let roots = hashes(&v["roots_hex"]);
    let leaves = vector_leaves();
    assert_eq!(roots.len(), 9);
    assert_eq!(roots[0], EMPTY_ROOT);
    for (size, root) in roots.iter().enumerate() {
        assert_eq!(reference_root(&leaves[..size]), *root, "size {size}");
        let ours =
            cyberlabel_core::merkle::tree_root(size as u64, |id| reference_node(&leaves, id))
                .unwrap();
        assert_eq!(ours, *root, "tree_root size {size}");
    }
}

#[test]
fn rfc6962_inclusion_vectors() {
    let v = vectors();
    let roots = hashes(&v["roots_hex"]);
    let leaves = vector_leaves();
    for case in v["inclusion"].as_array().unwrap() {
        let index = case["index"].as_u64().unwrap();
        let size = case["size"].as_u64().unwrap();
        let proof = hashes(&case["proof_hex"]);
        let root = roots[size as usize];
        let leaf = leaves[index as usize];
        verify_inclusion(&leaf, index, size, &proof, &root).unwrap();
        let generated = inclusion_proof::<ProofError>(index, size, |id| {
            reference_node(&leaves[..size as usize], id)
        })
        .unwrap();
        assert_eq!(generated, proof, "generated proof {index}/{size}");
        for bad in corrupt_inclusion(&leaf, index, size, &proof, &root) {
            assert!(
                verify_inclusion(&bad.0, bad.1, bad.2, &bad.3, &bad.4).is_err(),
                "accepted corrupted inclusion proof ({}) for {index}/{size}",
                bad.5
            );
        }
    }
}

#[test]
fn rfc6962_consistency_vectors() {
    let v = vectors();
    let roots = hashes(&v["roots_hex"]);
    let leaves = vector_leaves();
    for case in v["consistency"].as_array().unwrap() {
        let old = case["old"].as_u64().unwrap();
        let new = case["new"].as_u64().unwrap();
        let proof = hashes(&case["proof_hex"]);
        let (r1, r2) = (roots[old as usize], roots[new as usize]);
        verify_consistency(old, new, &r1, &r2, &proof).unwrap();
        let generated = consistency_proof::<ProofError>(old, new, |id| {
            reference_node(&leaves[..new as usize], id)
        })
        .unwrap();
        assert_eq!(generated, proof, "generated proof {old}->{new}");
        if old != new {
            for bad in corrupt_consistency(old, new, &r1, &r2, &proof) {
                assert!(
                    verify_consistency(bad.0, bad.1, &bad.2, &bad.3, &bad.4).is_err(),
                    "accepted corrupted consistency proof ({}) for {old}->{new}",
                    bad.5
                );
            }
        }
    }
}

#[test]
fn edge_cases() {
    let some = [0xab; 32];
    // index >= size, empty tree
    assert!(verify_inclusion(&some, 0, 0, &[], &EMPTY_ROOT).is_err());
    assert!(verify_inclusion(&some, 1, 1, &[], &some).is_err());
    // single leaf: root == leaf, empty proof
    verify_inclusion(&some, 0, 1, &[], &some).unwrap();
    assert!(verify_inclusion(&some, 0, 1, &[some], &some).is_err());
    // consistency: equal sizes need equal roots and an empty proof
    verify_consistency(3, 3, &some, &some, &[]).unwrap();
    assert!(verify_consistency(3, 3, &some, &EMPTY_ROOT, &[]).is_err());
    assert!(verify_consistency(3, 3, &some, &some, &[some]).is_err());
    // from zero: only the empty root with an empty proof
    verify_consistency(0, 5, &EMPTY_ROOT, &some, &[]).unwrap();
    assert!(verify_consistency(0, 5, &some, &some, &[]).is_err());
    assert!(verify_consistency(0, 5, &EMPTY_ROOT, &some, &[some]).is_err());
    // time travel
    assert!(verify_consistency(5, 3, &some, &some, &[]).is_err());
    // non-trivial with empty proof
    assert!(verify_consistency(1, 2, &some, &some, &[]).is_err());
}

type BadInclusion = (Hash, u64, u64, Vec<Hash>, Hash, String);

fn corrupt_inclusion(leaf: &Hash, i: u64, n: u64, p: &[Hash], root: &Hash) -> Vec<BadInclusion> {
    let junk = [0x5a; 32];
    let mut out: Vec<BadInclusion> = vec![
        (
            *leaf,
            i.wrapping_sub(1),
            n,
            p.to_vec(),
            *root,
            "index-1".into(),
        ),
        (*leaf, i + 1, n, p.to_vec(), *root, "index+1".into()),
        (*leaf, i ^ 2, n, p.to_vec(), *root, "index^2".into()),
        (*leaf, i, n * 2, p.to_vec(), *root, "size*2".into()),
        (*leaf, i, n / 2, p.to_vec(), *root, "size/2".into()),
        (junk, i, n, p.to_vec(), *root, "wrong leaf".into()),
        (*leaf, i, n, p.to_vec(), EMPTY_ROOT, "empty root".into()),
        (*leaf, i, n, p.to_vec(), junk, "random root".into()),
    ];
    let mut t = p.to_vec();
    t.push(junk);
    out.push((*leaf, i, n, t, *root, "trailing garbage".into()));
    let mut t = p.to_vec();
    t.push(*root);
    out.push((*leaf, i, n, t, *root, "trailing root".into()));
    let mut t = vec![junk];
    t.extend_from_slice(p);
    out.push((*leaf, i, n, t, *root, "preceding garbage".into()));
    for k in 0..p.len() {
        let mut t = p.to_vec();
        t[k][0] ^= 8;
        out.push((*leaf, i, n, t, *root, format!("flipped bit in proof[{k}]")));
    }
    if !p.is_empty() {
        out.push((
            *leaf,
            i,
            n,
            p[..p.len() - 1].to_vec(),
            *root,
            "truncated".into(),
        ));
    }
    // For size 1 the "wrong index" probes i^2 etc. stay out of range; drop probes that equal
    // the original (possible when n*2 / n/2 coincide with n is impossible for n >= 1).
    out.retain(|b| !(b.0 == *leaf && b.1 == i && b.2 == n && b.3 == p && b.4 == *root));
    out
}

type BadConsistency = (u64, u64, Hash, Hash, Vec<Hash>, String);

fn corrupt_consistency(o: u64, n: u64, r1: &Hash, r2: &Hash, p: &[Hash]) -> Vec<BadConsistency> {
    let junk = [0x5a; 32];
    let mut out: Vec<BadConsistency> = vec![
        (o - 1, n, *r1, *r2, p.to_vec(), "old-1".into()),
        (o + 1, n, *r1, *r2, p.to_vec(), "old+1".into()),
        (o ^ 2, n, *r1, *r2, p.to_vec(), "old^2".into()),
        (o, n * 2, *r1, *r2, p.to_vec(), "new*2".into()),
        (o, n / 2, *r1, *r2, p.to_vec(), "new/2".into()),
        (o, n, junk, *r2, p.to_vec(), "wrong old root".into()),
        (o, n, *r1, junk, p.to_vec(), "wrong new root".into()),
        (o, n, *r2, *r1, p.to_vec(), "swapped roots".into()),
        (o, n, *r1, *r2, vec![], "empty proof".into()),
    ];
    for extra in [junk, *r1, *r2] {
        let mut t = p.to_vec();
        t.push(extra);
        out.push((o, n, *r1, *r2, t, "trailing hash".into()));
        let mut t = vec![extra];
        t.extend_from_slice(p);
        out.push((o, n, *r1, *r2, t, "preceding hash".into()));
    }
    if !p.is_empty() {
        out.push((
            o,
            n,
            *r1,
            *r2,
            p[..p.len() - 1].to_vec(),
            "truncated".into(),
        ));
    }
    for k in 0..p.len() {
        let mut t = p.to_vec();
        t[k][0] ^= 16;
        out.push((o, n, *r1, *r2, t, format!("flipped bit in proof[{k}]")));
    }
    out
}

/// rs_merkle with RFC 6962 node hashing (see ../shared/reference gotcha 3): leaves are given
/// already hashed, a lone right node is promoted unchanged.
#[derive(Clone)]
struct Rfc6962;

impl rs_merkle::Hasher for Rfc6962 {
    type Hash = [u8; 32];
    fn hash(data: &[u8]) -> [u8; 32] {
        leaf_hash(data)
    }
    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(r) => node_hash(left, r),
            None => *left,
        }
    }
}

fn synthetic_leaves(n: u64, salt: u8) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(&[&i.to_be_bytes()[..], &[salt]].concat()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn inclusion_matches_rs_merkle_and_rejects_tampering(
        size in 1u64..3000, idx_seed in any::<u64>(), salt in any::<u8>(), flip in any::<u8>()
    ) {
        let leaves = synthetic_leaves(size, salt);
        let tree = rs_merkle::MerkleTree::<Rfc6962>::from_leaves(&leaves);
        let root = tree.root().unwrap();
        prop_assert_eq!(root, reference_root(&leaves));
        let index = idx_seed % size;
        let ours = inclusion_proof::<ProofError>(index, size, |id| reference_node(&leaves, id)).unwrap();
        let theirs = tree.proof(&[index as usize]).proof_hashes().to_vec();
        prop_assert_eq!(&ours, &theirs);
        let leaf = leaves[index as usize];
        prop_assert!(verify_inclusion(&leaf, index, size, &ours, &root).is_ok());
        // altered index, size, leaf, root or proof hash fails
        if size > 1 {
            let other = (index + 1 + u64::from(flip) % (size - 1)) % size;
            prop_assert!(verify_inclusion(&leaf, other, size, &ours, &root).is_err());
        }
        // A size with a different path shape fails (a same-shape size is bound by the signed
        // checkpoint, not by the audit path).
        prop_assert!(verify_inclusion(&leaf, index, size * 2, &ours, &root).is_err());
        let mut bad_leaf = leaf; bad_leaf[(flip % 32) as usize] ^= 1;
        prop_assert!(verify_inclusion(&bad_leaf, index, size, &ours, &root).is_err());
        let mut bad_root = root; bad_root[(flip % 32) as usize] ^= 0x80;
        prop_assert!(verify_inclusion(&leaf, index, size, &ours, &bad_root).is_err());
        if !ours.is_empty() {
            let mut bad = ours.clone();
            let k = flip as usize % bad.len();
            bad[k][(flip % 32) as usize] ^= 4;
            prop_assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());
            prop_assert!(verify_inclusion(&leaf, index, size, &ours[..ours.len()-1], &root).is_err());
        }
        let mut longer = ours.clone(); longer.push(root);
        prop_assert!(verify_inclusion(&leaf, index, size, &longer, &root).is_err());
    }

    #[test]
    fn consistency_verifies_and_rejects_tampering(
        new in 2u64..3000, old_seed in any::<u64>(), salt in any::<u8>(), flip in any::<u8>()
    ) {
        let leaves = synthetic_leaves(new, salt);
        let old = 1 + old_seed % (new - 1);
        let r_old = rs_merkle::MerkleTree::<Rfc6962>::from_leaves(&leaves[..old as usize]).root().unwrap();
        let r_new = rs_merkle::MerkleTree::<Rfc6962>::from_leaves(&leaves).root().unwrap();
        let proof = consistency_proof::<ProofError>(old, new, |id| reference_node(&leaves, id)).unwrap();
        prop_assert!(verify_consistency(old, new, &r_old, &r_new, &proof).is_ok());
        prop_assert!(verify_consistency(old, new, &r_new, &r_old, &proof).is_err());
        prop_assert!(verify_consistency(old, new * 2, &r_old, &r_new, &proof).is_err());
        if old > 1 {
            prop_assert!(verify_consistency(old - 1, new, &r_old, &r_new, &proof).is_err());
        }
        let mut bad = proof.clone();
        let k = flip as usize % bad.len();
        bad[k][(flip % 32) as usize] ^= 2;
        prop_assert!(verify_consistency(old, new, &r_old, &r_new, &bad).is_err());
        prop_assert!(verify_consistency(old, new, &r_old, &r_new, &proof[..proof.len()-1]).is_err());
        let mut longer = proof.clone(); longer.push(r_new);
        prop_assert!(verify_consistency(old, new, &r_old, &r_new, &longer).is_err());
    }
}

/// Equal sizes compare both roots, and two empty trees both have the empty root: a "proof"
/// that the empty tree extends to some other tree of size 0 is a split view, not consistency.
#[test]
fn consistency_equal_sizes_compares_both_roots() {
    use cyberlabel_core::merkle::{EMPTY_ROOT, ProofError, verify_consistency};
    let other = [7u8; 32];
    assert_eq!(
        verify_consistency(0, 0, &EMPTY_ROOT, &other, &[]),
        Err(ProofError::RootMismatch)
    );
    assert_eq!(
        verify_consistency(0, 0, &other, &EMPTY_ROOT, &[]),
        Err(ProofError::RootMismatch)
    );
    assert_eq!(
        verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]),
        Ok(())
    );
    assert_eq!(
        verify_consistency(5, 5, &other, &[8u8; 32], &[]),
        Err(ProofError::RootMismatch)
    );
    assert_eq!(verify_consistency(5, 5, &other, &other, &[]), Ok(()));
    // from 0 the old root must be the empty root, the new one is anything
    assert_eq!(verify_consistency(0, 3, &EMPTY_ROOT, &other, &[]), Ok(()));
    assert_eq!(
        verify_consistency(0, 3, &other, &other, &[]),
        Err(ProofError::RootMismatch)
    );
}
