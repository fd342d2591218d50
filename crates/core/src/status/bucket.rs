//! The status map's storage unit: the state of one log index, and buckets of 256 of them
//! (FORMATS §4). Bucket *b* covers the same indices as level-0 tile *b*.

use super::proof::StatusProofError;
use crate::merkle::{self, Hash};

/// Labels per bucket.
pub const BUCKET_LABELS: u64 = 256;
/// Bytes per bucket: 256 × (state, reason).
pub const BUCKET_BYTES: usize = 512;

/// Stored state of a log index (expiry is computed from dates, not stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
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
    /// A stable lowercase name (API, CLI and page JSON); `unknown` for an index with no label.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "unknown",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Revoked => "revoked",
            Self::Superseded => "superseded",
        }
    }

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
    /// [`StatusProofError::Malformed`] if not exactly 512 bytes or a state byte is unknown.
    pub fn from_bytes(b: &[u8]) -> Result<Self, StatusProofError> {
        let arr: [u8; BUCKET_BYTES] = b.try_into().map_err(|_| StatusProofError::Malformed)?;
        if arr.chunks_exact(2).any(|p| State::from_u8(p[0]).is_none()) {
            return Err(StatusProofError::UnknownState);
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
