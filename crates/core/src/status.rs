//! The revocation status map (docs/FORMATS.md §4): states, buckets, legal transitions, and the
//! status proof a verifier checks against the cosigned checkpoint.
//!
//! Bucket *b* holds the `(state, reason)` byte pairs of log indices `[256b, 256b+256)` — the
//! same indices as level-0 tile *b*, so fetching it reveals nothing more than the tile fetch.
//! The status root is the RFC 6962 tree hash over the 512-byte bucket strings, committed in the
//! checkpoint's `cyberlabel-status <bucket count> <base64 root>` extension line.
//!
//! Status proof text (served at `/status/<N>`):
//! ```text
//! cyberlabel.org/status-proof@v1
//! bucket <decimal>
//! state <base64 of the 512 bucket bytes>
//! <base64 hash> × k        (audit path of the bucket in the status tree)
//!
//! <signed checkpoint, verbatim>
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::checkpoint::{self, CheckpointError, Policy, VerifiedCheckpoint};
use crate::merkle::{self, Hash, ProofError};
use crate::tlog_proof::{parse_decimal, parse_hash_line};

/// Labels per bucket.
pub const BUCKET_LABELS: u64 = 256;
/// Bytes per bucket: 256 × (state, reason).
pub const BUCKET_BYTES: usize = 512;
/// First line of a status proof.
pub const HEADER: &str = "cyberlabel.org/status-proof@v1";
/// Largest status proof text accepted.
pub const MAX_STATUS_PROOF_BYTES: usize = 16 * 1024;

/// Stored state of a log index (expiry is computed from dates, not stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum State {
    /// not a label, or not yet issued
    None = 0,
    /// valid
    Active = 1,
    /// temporarily not valid (reversible)
    Suspended = 2,
    /// permanently withdrawn (terminal)
    Revoked = 3,
    /// renewed by a newer label
    Superseded = 4,
}

impl State {
    /// Decode the state byte.
    #[must_use]
    pub fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            0 => Self::None,
            1 => Self::Active,
            2 => Self::Suspended,
            3 => Self::Revoked,
            4 => Self::Superseded,
            _ => return None,
        })
    }
}

/// A status change requested by a status-record entry (FORMATS §2 action codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusAction {
    /// 1: active → suspended
    Suspend,
    /// 2: suspended → active
    Reinstate,
    /// 3: active or suspended → revoked
    Revoke,
}

impl StatusAction {
    /// Decode the FORMATS §2 action code.
    #[must_use]
    pub fn from_code(c: u64) -> Option<Self> {
        Some(match c {
            1 => Self::Suspend,
            2 => Self::Reinstate,
            3 => Self::Revoke,
            _ => return None,
        })
    }
}

/// Errors about status transitions and status proofs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// The transition is not allowed from the current state.
    #[error("status change not allowed from state {from:?}")]
    IllegalTransition {
        /// current state of the target
        from: State,
    },
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

/// Apply a status action to the current state of a label.
///
/// # Errors
/// [`StatusError::IllegalTransition`] unless active↔suspended or active/suspended→revoked.
pub fn apply_action(from: State, action: StatusAction) -> Result<State, StatusError> {
    match (from, action) {
        (State::Active, StatusAction::Suspend) => Ok(State::Suspended),
        (State::Suspended, StatusAction::Reinstate) => Ok(State::Active),
        (State::Active | State::Suspended, StatusAction::Revoke) => Ok(State::Revoked),
        _ => Err(StatusError::IllegalTransition { from }),
    }
}

/// Whether a label in state `from` may be renewed (superseded by a new label).
#[must_use]
pub fn can_supersede(from: State) -> bool {
    matches!(from, State::Active | State::Suspended)
}

/// Number of buckets for a tree of `size` entries.
#[must_use]
pub fn bucket_count(size: u64) -> u64 {
    size.div_ceil(BUCKET_LABELS)
}

/// One bucket: 256 × (state, reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket(pub [u8; BUCKET_BYTES]);

impl Default for Bucket {
    fn default() -> Self {
        Self([0; BUCKET_BYTES])
    }
}

impl Bucket {
    /// From stored bytes.
    ///
    /// # Errors
    /// [`StatusError::Malformed`] if not exactly 512 bytes or a state byte is unknown.
    pub fn from_bytes(b: &[u8]) -> Result<Self, StatusError> {
        let arr: [u8; BUCKET_BYTES] = b.try_into().map_err(|_| StatusError::Malformed)?;
        if arr.chunks_exact(2).any(|p| State::from_u8(p[0]).is_none()) {
            return Err(StatusError::UnknownState);
        }
        Ok(Self(arr))
    }
    /// `(state, reason)` of slot `i` (index mod 256).
    #[must_use]
    pub fn get(&self, slot: usize) -> (State, u8) {
        let s = slot % BUCKET_LABELS as usize;
        (
            State::from_u8(self.0[2 * s]).unwrap_or(State::None),
            self.0[2 * s + 1],
        )
    }
    /// Set slot `i` (index mod 256).
    pub fn set(&mut self, slot: usize, state: State, reason: u8) {
        let s = slot % BUCKET_LABELS as usize;
        self.0[2 * s] = state as u8;
        self.0[2 * s + 1] = reason;
    }
    /// The status tree leaf hash of this bucket.
    #[must_use]
    pub fn leaf_hash(&self) -> Hash {
        merkle::leaf_hash(&self.0)
    }
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
        for h in &self.path {
            s.push_str(&B64.encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// Parse (does not verify).
    ///
    /// # Errors
    /// [`StatusError::Malformed`] / [`StatusError::UnknownState`].
    pub fn parse(text: &[u8]) -> Result<Self, StatusError> {
        let bad = StatusError::Malformed;
        if text.len() > MAX_STATUS_PROOF_BYTES {
            return Err(bad);
        }
        let s = core::str::from_utf8(text).map_err(|_| bad)?;
        let (head, checkpoint) = s.split_once("\n\n").ok_or(bad)?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(bad);
        }
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
        let mut path = Vec::new();
        for l in lines {
            if path.len() >= 64 {
                return Err(bad);
            }
            path.push(parse_hash_line(l).ok_or(bad)?);
        }
        if checkpoint.is_empty() {
            return Err(bad);
        }
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
    /// [`StatusError::NotCovered`] if the index is outside this bucket or beyond the tree size.
    pub fn state_of(&self, index: u64) -> Result<(State, u8), StatusError> {
        if index / BUCKET_LABELS != self.bucket || index >= self.checkpoint.checkpoint.size {
            return Err(StatusError::NotCovered);
        }
        Ok(self.state.get((index % BUCKET_LABELS) as usize))
    }
}

/// Verify a status proof under `policy`.
///
/// # Errors
/// Any [`StatusError`].
pub fn verify_status_proof(text: &[u8], policy: &Policy) -> Result<VerifiedStatus, StatusError> {
    let p = StatusProof::parse(text)?;
    let cp = checkpoint::open(p.checkpoint.as_bytes(), policy)?;
    let commitment = cp
        .checkpoint
        .status()?
        .ok_or(StatusError::NoStatusCommitment)?;
    if commitment.bucket_count != bucket_count(cp.checkpoint.size)
        || p.bucket >= commitment.bucket_count
    {
        return Err(StatusError::Inconsistent);
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
            return Err(StatusError::Inconsistent);
        }
    }
    Ok(VerifiedStatus {
        checkpoint: cp,
        bucket: p.bucket,
        state: p.state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{Checkpoint, StatusCommitment};
    use crate::merkle::{ProofError, inclusion_proof, reference_node, reference_root};
    use crate::note::{KeyKind, NoteSigner};
    use ed25519_dalek::SigningKey;

    #[test]
    fn transitions() {
        use State::*;
        use StatusAction::*;
        assert_eq!(apply_action(Active, Suspend), Ok(Suspended));
        assert_eq!(apply_action(Suspended, Reinstate), Ok(Active));
        assert_eq!(apply_action(Suspended, Revoke), Ok(Revoked));
        assert_eq!(apply_action(Active, Revoke), Ok(Revoked));
        for (s, a) in [
            (Revoked, Reinstate),
            (Revoked, Suspend),
            (Revoked, Revoke),
            (Active, Reinstate),
            (Suspended, Suspend),
            (None, Revoke),
            (Superseded, Suspend),
        ] {
            assert!(apply_action(s, a).is_err(), "{s:?} {a:?}");
        }
    }

    #[test]
    fn proof_roundtrip_and_verify() {
        let log = NoteSigner::new(
            "s.example",
            KeyKind::Ed25519,
            SigningKey::from_bytes(&[3; 32]),
        )
        .unwrap();
        let size = 700u64; // 3 buckets, last partial
        let mut buckets = vec![Bucket::default(); 3];
        for i in 0..size {
            buckets[(i / 256) as usize].set((i % 256) as usize, State::Active, 0);
        }
        buckets[1].set(5, State::Revoked, 6);
        let leaves: Vec<Hash> = buckets.iter().map(Bucket::leaf_hash).collect();
        let mut cp = Checkpoint::new("s.example", size, [0; 32]);
        cp.set_status(StatusCommitment {
            bucket_count: 3,
            root: reference_root(&leaves),
        });
        let signed = cp.sign(&log).unwrap();
        let path = inclusion_proof::<ProofError>(1, 3, |id| reference_node(&leaves, id)).unwrap();
        let p = StatusProof {
            bucket: 1,
            state: buckets[1].clone(),
            path,
            checkpoint: signed,
        };
        let text = p.to_text();
        assert!(text.len() < 2048, "status proof is {} bytes", text.len());
        assert_eq!(StatusProof::parse(text.as_bytes()).unwrap(), p);
        let policy = Policy::log_only(log.verifier().clone());
        let v = verify_status_proof(text.as_bytes(), &policy).unwrap();
        assert_eq!(v.state_of(256 + 5).unwrap(), (State::Revoked, 6));
        assert_eq!(v.state_of(256 + 6).unwrap(), (State::Active, 0));
        assert!(v.state_of(5).is_err());
        // flipping the revoked label back to active breaks the proof
        let mut forged = p.clone();
        forged.state.set(5, State::Active, 0);
        assert!(verify_status_proof(forged.to_text().as_bytes(), &policy).is_err());
        let mut wrong_bucket = p;
        wrong_bucket.bucket = 0;
        assert!(verify_status_proof(wrong_bucket.to_text().as_bytes(), &policy).is_err());
    }
}
