//! The status proof (FORMATS §4): one bucket, its audit path in the status tree, and the signed
//! checkpoint whose `cyberlabel-status` line commits to the tree — parsed and verified here.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::bucket::{BUCKET_BYTES, BUCKET_LABELS, Bucket, State, bucket_count};
use crate::checkpoint::{self, CheckpointError, Policy, VerifiedCheckpoint, parse_decimal};
use crate::merkle::{self, Hash, ProofError};
use crate::proof_text;

/// First line of a status proof.
pub const HEADER: &str = "cyberlabel.org/status-proof@v1";
/// Largest status proof text accepted.
pub const MAX_STATUS_PROOF_BYTES: usize = 16 * 1024;

/// Why a status proof does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusProofError {
    /// The status proof text is malformed.
    #[error("malformed status proof")]
    Malformed,
    /// The checkpoint failed verification.
    #[error("{0}")]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint carries no status commitment.
    #[error("checkpoint has no cyberlabel-status line")]
    NoStatusCommitment,
    /// Bucket count does not match the tree size, or the bucket is out of range.
    #[error("status commitment inconsistent with the tree size")]
    Inconsistent,
    /// The bucket's audit path does not lead to the status root.
    #[error("status proof: {0}")]
    Proof(#[from] ProofError),
    /// The index is not in this bucket, or beyond the checkpoint's tree size.
    #[error("index not covered by this status proof")]
    NotCovered,
    /// A state byte is not a known state.
    #[error("unknown state byte")]
    UnknownState,
}

/// A status proof before verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusProof {
    /// bucket number
    pub bucket: u64,
    /// the bucket's bytes
    pub state: Bucket,
    /// audit path of the bucket in the status tree
    pub path: Vec<Hash>,
    /// signed checkpoint, verbatim
    pub checkpoint: String,
}

impl StatusProof {
    /// Format as text.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{HEADER}\nbucket {}\nstate {}\n",
            self.bucket,
            B64.encode(self.state.0)
        );
        proof_text::write_tail(&mut s, &self.path, &self.checkpoint);
        s
    }

    /// Parse (does not verify).
    ///
    /// # Errors
    /// [`StatusProofError::Malformed`] / [`StatusProofError::UnknownState`].
    pub fn parse(text: &[u8]) -> Result<Self, StatusProofError> {
        let bad = StatusProofError::Malformed;
        let (mut lines, checkpoint) =
            proof_text::split(text, MAX_STATUS_PROOF_BYTES, HEADER).ok_or(bad)?;
        let bucket = lines
            .next()
            .and_then(|l| l.strip_prefix("bucket "))
            .and_then(parse_decimal)
            .ok_or(bad)?;
        let state_b64 = lines
            .next()
            .and_then(|l| l.strip_prefix("state "))
            .ok_or(bad)?;
        if state_b64.len() != BUCKET_BYTES.div_ceil(3) * 4 {
            return Err(bad);
        }
        let state = Bucket::from_bytes(&B64.decode(state_b64).map_err(|_| bad)?)?;
        let path = proof_text::read_path(lines, 64).ok_or(bad)?;
        Ok(Self {
            bucket,
            state,
            path,
            checkpoint: checkpoint.to_owned(),
        })
    }
}

/// A verified status proof: the bucket's states as of the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedStatus {
    /// the verified checkpoint the states are committed in
    pub checkpoint: VerifiedCheckpoint,
    /// bucket number
    pub bucket: u64,
    /// the bucket
    pub state: Bucket,
}

impl VerifiedStatus {
    /// `(state, reason)` of log index `index`.
    ///
    /// # Errors
    /// [`StatusProofError::NotCovered`] if the index is outside this bucket or beyond the tree size.
    pub fn state_of(&self, index: u64) -> Result<(State, u8), StatusProofError> {
        if index / BUCKET_LABELS != self.bucket || index >= self.checkpoint.checkpoint.size {
            return Err(StatusProofError::NotCovered);
        }
        Ok(self.state.get((index % BUCKET_LABELS) as usize))
    }
}

/// Verify a status proof under `policy`.
///
/// # Errors
/// Any [`StatusProofError`].
pub fn verify_status_proof(
    text: &[u8],
    policy: &Policy,
) -> Result<VerifiedStatus, StatusProofError> {
    verify_status_proof_inner(text, policy, None, None)
}

/// Verify a status proof under `policy` whose checkpoint is fresh at `now`
/// ([`checkpoint::open_fresh`]): what a verifier showing the current state must use.
///
/// # Errors
/// Any [`StatusProofError`]; a stale checkpoint is `StatusProofError::Checkpoint(NotFresh)`.
pub fn verify_status_proof_at(
    text: &[u8],
    policy: &Policy,
    now: u64,
) -> Result<VerifiedStatus, StatusProofError> {
    verify_status_proof_inner(text, policy, Some(now), None)
}

/// [`verify_status_proof_at`] for a verifier that has just verified a signed checkpoint
/// (`verified`, the bytes it verified and the result) under the same `policy` at the same `now`:
/// when the proof embeds that very checkpoint, byte for byte, its signatures are not checked a
/// second time — the inclusion proof and the status proof usually share the log's latest
/// checkpoint, and its log and witness signatures are most of a verdict's cost.
///
/// # Errors
/// As [`verify_status_proof_at`].
pub fn verify_status_proof_reusing(
    text: &[u8],
    policy: &Policy,
    now: u64,
    verified: (&[u8], &VerifiedCheckpoint),
) -> Result<VerifiedStatus, StatusProofError> {
    verify_status_proof_inner(text, policy, Some(now), Some(verified))
}

fn verify_status_proof_inner(
    text: &[u8],
    policy: &Policy,
    now: Option<u64>,
    verified: Option<(&[u8], &VerifiedCheckpoint)>,
) -> Result<VerifiedStatus, StatusProofError> {
    let p = StatusProof::parse(text)?;
    let cp = match (now, verified) {
        (_, Some((bytes, vc))) if bytes == p.checkpoint.as_bytes() => vc.clone(),
        (Some(now), _) => checkpoint::open_fresh(p.checkpoint.as_bytes(), policy, now)?,
        (None, _) => checkpoint::open(p.checkpoint.as_bytes(), policy)?,
    };
    let commitment = cp
        .checkpoint
        .status()?
        .ok_or(StatusProofError::NoStatusCommitment)?;
    if commitment.bucket_count != bucket_count(cp.checkpoint.size)
        || p.bucket >= commitment.bucket_count
    {
        return Err(StatusProofError::Inconsistent);
    }
    merkle::verify_inclusion(
        &p.state.leaf_hash(),
        p.bucket,
        commitment.bucket_count,
        &p.path,
        &commitment.root,
    )?;
    // Slots beyond the tree size must be empty: a log cannot pre-announce states.
    let size = cp.checkpoint.size;
    for slot in 0..BUCKET_LABELS {
        let index = p.bucket * BUCKET_LABELS + slot;
        if index >= size && p.state.get(slot as usize).0 != State::None {
            return Err(StatusProofError::Inconsistent);
        }
    }
    Ok(VerifiedStatus {
        checkpoint: cp,
        bucket: p.bucket,
        state: p.state,
    })
}
