//! C2SP `tlog-proof@v1`: an offline-verifiable proof that an entry is in a log, witnessed.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>            (optional, NOT authenticated)
//! index <decimal>
//! <base64 hash>             × k  (RFC 6962 audit path, leaf sibling first)
//!
//! <signed checkpoint, verbatim, with cosignatures>
//! ```
//!
//! [`verify`] takes the entry bytes (the verifier hashes them itself; it never trusts a leaf hash
//! it is given), checks the checkpoint under a [`Policy`] (log key + witness quorum) and the
//! inclusion proof against its root.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::checkpoint::{self, CheckpointError, Policy, VerifiedCheckpoint, parse_decimal};
use crate::merkle::{self, Hash, ProofError};
use crate::proof_text;

/// First line of a tlog-proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Largest proof text accepted.
pub const MAX_PROOF_BYTES: usize = 64 * 1024;
/// Most audit-path hashes (a tree of 2^63 leaves needs 63).
pub const MAX_PATH: usize = 63;

/// Errors from parsing or verifying a tlog-proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogProofError {
    /// The proof text is malformed or too large.
    #[error("malformed tlog-proof")]
    Malformed,
    /// The checkpoint failed verification.
    #[error("{0}")]
    Checkpoint(#[from] CheckpointError),
    /// The inclusion proof failed.
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] ProofError),
}

/// A parsed tlog-proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// optional unauthenticated extra data
    pub extra: Option<Vec<u8>>,
    /// leaf index
    pub index: u64,
    /// audit path
    pub path: Vec<Hash>,
    /// the signed checkpoint, verbatim
    pub checkpoint: String,
}

impl TlogProof {
    /// Format as text.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut s = format!("{HEADER}\n");
        if let Some(e) = &self.extra {
            s.push_str(&format!("extra {}\n", B64.encode(e)));
        }
        s.push_str(&format!("index {}\n", self.index));
        proof_text::write_tail(&mut s, &self.path, &self.checkpoint);
        s
    }

    /// Parse (does not verify).
    ///
    /// # Errors
    /// [`TlogProofError::Malformed`].
    pub fn parse(text: &[u8]) -> Result<Self, TlogProofError> {
        let bad = TlogProofError::Malformed;
        let (mut lines, checkpoint) =
            proof_text::split(text, MAX_PROOF_BYTES, HEADER).ok_or(bad)?;
        let mut line = lines.next().ok_or(bad)?;
        let mut extra = None;
        if let Some(e) = line.strip_prefix("extra ") {
            extra = Some(B64.decode(e).map_err(|_| bad)?);
            line = lines.next().ok_or(bad)?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or(bad)?;
        let path = proof_text::read_path(lines, MAX_PATH).ok_or(bad)?;
        Ok(Self {
            extra,
            index,
            path,
            checkpoint: checkpoint.to_owned(),
        })
    }
}

/// A tlog-proof that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedInclusion {
    /// the entry's index
    pub index: u64,
    /// the entry's leaf hash
    pub leaf_hash: Hash,
    /// the checkpoint it is included in, with its verified signatures
    pub checkpoint: VerifiedCheckpoint,
    /// unauthenticated extra data, if any
    pub extra: Option<Vec<u8>>,
}

/// Verify that `entry` is included in the log under `policy`.
///
/// # Errors
/// Any [`TlogProofError`].
pub fn verify(
    proof_text: &[u8],
    entry: &[u8],
    policy: &Policy,
) -> Result<VerifiedInclusion, TlogProofError> {
    let proof = TlogProof::parse(proof_text)?;
    let checkpoint = checkpoint::open(proof.checkpoint.as_bytes(), policy)?;
    let leaf = merkle::leaf_hash(entry);
    merkle::verify_inclusion(
        &leaf,
        proof.index,
        checkpoint.checkpoint.size,
        &proof.path,
        &checkpoint.checkpoint.root,
    )?;
    Ok(VerifiedInclusion {
        index: proof.index,
        leaf_hash: leaf,
        checkpoint,
        extra: proof.extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::merkle::{ProofError, inclusion_proof, leaf_hash, reference_node, reference_root};
    use crate::note::{KeyKind, NoteSigner};
    use ed25519_dalek::SigningKey;

    #[test]
    fn roundtrip_and_verify() {
        let log = NoteSigner::new(
            "l.example",
            KeyKind::Ed25519,
            SigningKey::from_bytes(&[1; 32]),
        )
        .unwrap();
        let entries: Vec<Vec<u8>> = (0..11u8).map(|i| vec![i; 3]).collect();
        let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        let cp = Checkpoint::new("l.example", 11, reference_root(&leaves));
        let signed = cp.sign(&log).unwrap();
        let path = inclusion_proof::<ProofError>(7, 11, |id| reference_node(&leaves, id)).unwrap();
        let p = TlogProof {
            extra: Some(b"hi".to_vec()),
            index: 7,
            path,
            checkpoint: signed,
        };
        let text = p.to_text();
        assert_eq!(TlogProof::parse(text.as_bytes()).unwrap(), p);
        let policy = Policy::log_only(log.verifier().clone());
        let v = verify(text.as_bytes(), &entries[7], &policy).unwrap();
        assert_eq!(v.index, 7);
        assert!(verify(text.as_bytes(), &entries[6], &policy).is_err());
        let moved = text.replace("index 7", "index 6");
        assert!(verify(moved.as_bytes(), &entries[7], &policy).is_err());
        let other = NoteSigner::new(
            "l.example",
            KeyKind::Ed25519,
            SigningKey::from_bytes(&[2; 32]),
        )
        .unwrap();
        assert!(
            verify(
                text.as_bytes(),
                &entries[7],
                &Policy::log_only(other.verifier().clone())
            )
            .is_err()
        );
    }
}
