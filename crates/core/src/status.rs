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

use crate::checkpoint::{
    self, CheckpointError, Policy, StatusCommitment, VerifiedCheckpoint, parse_decimal,
};
use crate::cose::{self, CoseError, Entry, KeyId};
use crate::merkle::{self, Hash, ProofError};
use crate::proof_text;

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
        proof_text::write_tail(&mut s, &self.path, &self.checkpoint);
        s
    }

    /// Parse (does not verify).
    ///
    /// # Errors
    /// [`StatusError::Malformed`] / [`StatusError::UnknownState`].
    pub fn parse(text: &[u8]) -> Result<Self, StatusError> {
        let bad = StatusError::Malformed;
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
    verify_status_proof_inner(text, policy, None)
}

/// Verify a status proof under `policy` whose checkpoint is fresh at `now`
/// ([`checkpoint::open_fresh`]): what a verifier showing the current state must use.
///
/// # Errors
/// Any [`StatusError`]; a stale checkpoint is `StatusError::Checkpoint(NotFresh)`.
pub fn verify_status_proof_at(
    text: &[u8],
    policy: &Policy,
    now: u64,
) -> Result<VerifiedStatus, StatusError> {
    verify_status_proof_inner(text, policy, Some(now))
}

fn verify_status_proof_inner(
    text: &[u8],
    policy: &Policy,
    now: Option<u64>,
) -> Result<VerifiedStatus, StatusError> {
    let p = StatusProof::parse(text)?;
    let cp = match now {
        Some(now) => checkpoint::open_fresh(p.checkpoint.as_bytes(), policy, now)?,
        None => checkpoint::open(p.checkpoint.as_bytes(), policy)?,
    };
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

/// Why an entry cannot be appended (or, for an auditor, why a logged entry is illegitimate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EffectError {
    /// Not a cyberlabel label or status record.
    #[error("invalid entry: {0}")]
    InvalidEntry(CoseError),
    /// A label's serial is not its log index.
    #[error("label serial {serial} is not its log index {index}")]
    SerialMismatch {
        /// log index
        index: u64,
        /// claim serial
        serial: u64,
    },
    /// The target index does not exist (yet).
    #[error("target index {target} does not exist")]
    TargetNotFound {
        /// target index
        target: u64,
    },
    /// The target is not a label.
    #[error("target index {target} is not a label")]
    TargetNotLabel {
        /// target index
        target: u64,
    },
    /// The record's target leaf hash is not the target's.
    #[error("target leaf hash does not match entry {target}")]
    TargetLeafHashMismatch {
        /// target index
        target: u64,
    },
    /// The record (or renewing label) is not signed by the target label's issuer key.
    #[error("entry changing {target} is not signed by the label's issuer key")]
    IssuerMismatch {
        /// target index
        target: u64,
    },
    /// A renewal names a label of another scheme: a label may only supersede one of its own
    /// scheme (FORMATS §2).
    #[error("renewal of {target} names a label of another scheme")]
    SchemeMismatch {
        /// target index
        target: u64,
    },
    /// A label or status record before the log holds any trust list.
    #[error("no trust list is in force yet: the log's first entry must be a trust list")]
    NoTrustList,
    /// The entry's kid is not an issuer key in the trust list in force.
    #[error("signed by a key that the trust list in force does not name")]
    UnknownIssuerKey,
    /// The issuer is not authorised for the label's scheme.
    #[error("the issuer is not authorised for this label's scheme")]
    NotAuthorisedForScheme,
    /// The issuer key was not valid on the label's issue day.
    #[error("the issuer key was not valid on the label's issue day")]
    KeyNotValidAtIssuance,
    /// The issuer key was retired (rotated out) before this entry's log index.
    #[error("the issuer key was retired before this log index (a successor key signs new labels)")]
    KeyRetired,
    /// The issuer key was marked compromised at or before this entry's log index.
    #[error("the issuer key was reported compromised before this log index")]
    KeyCompromised,
    /// The signature does not verify under the issuer key its kid names.
    #[error("the signature does not verify under the issuer key its kid names")]
    BadSignature,
    /// A trust-list entry that does not verify under the trust anchor.
    #[error("trust list entry: {0}")]
    BadTrustList(crate::trust::TrustError),
    /// A trust-list entry not newer than the one in force.
    #[error("trust list version {got} is not newer than version {in_force} in force")]
    TrustListRollback {
        /// version in force
        in_force: u64,
        /// version of the refused entry
        got: u64,
    },
    /// The change is not allowed from the target's current state.
    #[error("status change for {target} not allowed from state {from:?}")]
    IllegalTransition {
        /// target index
        target: u64,
        /// its current state
        from: State,
    },
}

/// What the status rules need to know about an earlier entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInfo {
    /// RFC 6962 leaf hash of the entry
    pub leaf_hash: Hash,
    /// the issuer key id if the entry is a label, `None` for a status record
    pub label_kid: Option<KeyId>,
    /// the scheme id if the entry is a label, `None` for a status record
    pub label_scheme: Option<String>,
}

impl TargetInfo {
    /// Describe entry bytes (decodes them; an undecodable entry is "not a label").
    #[must_use]
    pub fn of(entry: &[u8]) -> Self {
        Self::of_decoded(
            merkle::leaf_hash(entry),
            cose::decode_entry(entry).ok().as_ref(),
        )
    }

    /// Describe an entry already decoded (`None`: not a label or status record), given its leaf
    /// hash — what a replay that decoded the entry once for its checks records.
    #[must_use]
    pub fn of_decoded(leaf_hash: Hash, entry: Option<&Entry>) -> Self {
        let (label_kid, label_scheme) = match entry {
            Some(Entry::Label { sign1, claim }) => (sign1.key_id(), Some(claim.scheme.clone())),
            _ => (None, None),
        };
        Self {
            leaf_hash,
            label_kid,
            label_scheme,
        }
    }
}

/// Access to the current status map and earlier entries, for [`entry_effects`].
pub trait StatusContext {
    /// Lookup failure (storage); [`EffectError`]s convert into it.
    type Error: From<EffectError>;
    /// Current state of `index` (`None` for non-labels).
    ///
    /// # Errors
    /// Lookup failure.
    fn state(&mut self, index: u64) -> Result<State, Self::Error>;
    /// The entry at `index` (< the new entry's index), if it exists.
    ///
    /// # Errors
    /// Lookup failure.
    fn target(&mut self, index: u64) -> Result<Option<TargetInfo>, Self::Error>;
}

/// One change to the status map: `(index, new state, reason code)`.
pub type StatusChange = (u64, State, u8);

/// The status-map changes that appending `entry` at `index` causes (FORMATS §2, §4), or why it
/// must be refused. The one rule set shared by the log's sequencer and auditors:
/// - a label must carry its own index as serial; it becomes active; if it renews (`supersedes`)
///   an active or suspended label signed by the same issuer key (kid) under the same scheme,
///   that one becomes superseded (reason 2) — another issuer cannot retire someone's label;
/// - a status record must name an earlier label by index and exact leaf hash, be signed by the
///   same issuer key (kid) as that label, and make a legal transition ([`apply_action`]).
///
/// # Errors
/// [`EffectError`] (converted) or the context's lookup error.
pub fn entry_effects<C: StatusContext>(
    ctx: &mut C,
    index: u64,
    entry: &[u8],
) -> Result<Vec<StatusChange>, C::Error> {
    match cose::decode_entry(entry) {
        Ok(decoded) => effects_of(ctx, index, &decoded),
        // a trust list changes no label's state
        Err(_) if crate::admission::is_trust_list(entry) => Ok(Vec::new()),
        Err(e) => Err(EffectError::InvalidEntry(e).into()),
    }
}

/// [`entry_effects`] of an entry already decoded (a label or a status record).
///
/// # Errors
/// [`EffectError`] (converted) or the context's lookup error.
pub fn effects_of<C: StatusContext>(
    ctx: &mut C,
    index: u64,
    decoded: &Entry,
) -> Result<Vec<StatusChange>, C::Error> {
    match decoded {
        Entry::Label { sign1, claim } => {
            if claim.serial != index {
                return Err(EffectError::SerialMismatch {
                    index,
                    serial: claim.serial,
                }
                .into());
            }
            let mut changes = vec![(index, State::Active, 0)];
            if let Some(old) = claim.supersedes {
                if old >= index {
                    return Err(EffectError::TargetNotFound { target: old }.into());
                }
                let info = ctx
                    .target(old)?
                    .ok_or(EffectError::TargetNotFound { target: old })?;
                let (Some(kid), Some(scheme)) = (info.label_kid, info.label_scheme) else {
                    return Err(EffectError::TargetNotLabel { target: old }.into());
                };
                if sign1.key_id() != Some(kid) {
                    return Err(EffectError::IssuerMismatch { target: old }.into());
                }
                if claim.scheme != scheme {
                    return Err(EffectError::SchemeMismatch { target: old }.into());
                }
                let from = ctx.state(old)?;
                if from == State::None {
                    return Err(EffectError::TargetNotLabel { target: old }.into());
                }
                if !can_supersede(from) {
                    return Err(EffectError::IllegalTransition { target: old, from }.into());
                }
                // reason 2 = superseded (FORMATS §2)
                changes.push((old, State::Superseded, 2));
            }
            Ok(changes)
        }
        Entry::Status { sign1, record } => {
            let target = record.target;
            if target >= index {
                return Err(EffectError::TargetNotFound { target }.into());
            }
            let info = ctx
                .target(target)?
                .ok_or(EffectError::TargetNotFound { target })?;
            if !merkle::hashes_equal(&info.leaf_hash, &record.target_leaf_hash) {
                return Err(EffectError::TargetLeafHashMismatch { target }.into());
            }
            let Some(kid) = info.label_kid else {
                return Err(EffectError::TargetNotLabel { target }.into());
            };
            if sign1.key_id() != Some(kid) {
                return Err(EffectError::IssuerMismatch { target }.into());
            }
            let from = ctx.state(target)?;
            let action = StatusAction::from_code(u64::from(record.action as u8))
                .ok_or(EffectError::IllegalTransition { target, from })?;
            let to = apply_action(from, action)
                .map_err(|_| EffectError::IllegalTransition { target, from })?;
            Ok(vec![(target, to, record.reason.as_u8())])
        }
    }
}

/// The status map recomputed from the log's entries, for auditors: feed every entry in order
/// and compare [`StatusMap::commitment`] with each checkpoint's status line.
#[derive(Debug, Clone, Default)]
pub struct StatusMap {
    buckets: Vec<Bucket>,
    targets: Vec<TargetInfo>,
}

impl StatusContext for StatusMap {
    type Error = EffectError;
    fn state(&mut self, index: u64) -> Result<State, EffectError> {
        Ok(self
            .buckets
            .get((index / BUCKET_LABELS) as usize)
            .map_or(State::None, |b| b.get((index % BUCKET_LABELS) as usize).0))
    }
    fn target(&mut self, index: u64) -> Result<Option<TargetInfo>, EffectError> {
        Ok(usize::try_from(index)
            .ok()
            .and_then(|i| self.targets.get(i))
            .cloned())
    }
}

impl StatusMap {
    /// An empty map (empty log).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries applied.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.targets.len() as u64
    }

    /// Apply the next entry. A refused entry means the log accepted something it must not have.
    ///
    /// # Errors
    /// [`EffectError`]; the map is unchanged except that the entry still counts as appended
    /// (state `None`), so the auditor can report it and continue.
    pub fn push(&mut self, entry: &[u8]) -> Result<(), EffectError> {
        let leaf = merkle::leaf_hash(entry);
        match cose::decode_entry(entry) {
            Ok(decoded) => self.push_decoded(leaf, Some(&decoded)),
            Err(_) if crate::admission::is_trust_list(entry) => self.push_decoded(leaf, None),
            Err(e) => {
                self.push_decoded(leaf, None)?;
                Err(EffectError::InvalidEntry(e))
            }
        }
    }

    /// Apply the next entry, already decoded (`None` for a trust list or an entry counted
    /// without effect), given its leaf hash: the auditor's replay, which decoded the entry once
    /// for its signature check, needs no second decoding here.
    ///
    /// # Errors
    /// As [`StatusMap::push`].
    pub fn push_decoded(
        &mut self,
        leaf_hash: Hash,
        entry: Option<&Entry>,
    ) -> Result<(), EffectError> {
        let index = self.size();
        let result = match entry {
            Some(d) => effects_of(self, index, d),
            None => Ok(Vec::new()),
        };
        self.targets.push(TargetInfo::of_decoded(leaf_hash, entry));
        let bucket = (index / BUCKET_LABELS) as usize;
        if self.buckets.len() <= bucket {
            self.buckets.push(Bucket::default());
        }
        for (i, st, reason) in result? {
            if let Some(b) = self.buckets.get_mut((i / BUCKET_LABELS) as usize) {
                b.set((i % BUCKET_LABELS) as usize, st, reason);
            }
        }
        Ok(())
    }

    /// Count the next entry as appended without any effect (an auditor moving past an entry
    /// it reported).
    ///
    /// # Errors
    /// Never today; kept fallible like [`StatusMap::push`].
    pub fn push_without_effect(&mut self, entry: &[u8]) -> Result<(), EffectError> {
        self.push_decoded(merkle::leaf_hash(entry), None)
    }

    /// Rebuild a map from what [`StatusMap::buckets`] and [`StatusMap::targets`] returned
    /// (an auditor resuming from its saved state). `None` if the bucket count is not
    /// `ceil(targets / 256)`.
    #[must_use]
    pub fn from_parts(buckets: Vec<Bucket>, targets: Vec<TargetInfo>) -> Option<Self> {
        (buckets.len() as u64 == bucket_count(targets.len() as u64))
            .then_some(Self { buckets, targets })
    }

    /// All buckets, in order.
    #[must_use]
    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// What the status rules know about every entry applied, in log order.
    #[must_use]
    pub fn targets(&self) -> &[TargetInfo] {
        &self.targets
    }

    /// The bucket `b`, if it exists.
    #[must_use]
    pub fn bucket(&self, b: u64) -> Option<&Bucket> {
        self.buckets.get(usize::try_from(b).ok()?)
    }

    /// The commitment a checkpoint for the current size must carry.
    #[must_use]
    pub fn commitment(&self) -> StatusCommitment {
        let leaves: Vec<Hash> = self.buckets.iter().map(Bucket::leaf_hash).collect();
        StatusCommitment {
            bucket_count: self.buckets.len() as u64,
            root: merkle::reference_root(&leaves),
        }
    }
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

    fn label(key: &SigningKey, scheme: &str, serial: u64, supersedes: Option<u64>) -> Vec<u8> {
        use crate::claim::{Assessment, Claim, ProvisionSet};
        let claim = Claim {
            scheme: scheme.into(),
            catalog_version: 1,
            level: 1,
            manufacturer: "Acme".into(),
            product: "Cam".into(),
            hardware_versions: "1".into(),
            firmware_versions: "1".into(),
            category: 1,
            issued_at: 19_675 * 86_400,
            expires_at: 20_833 * 86_400,
            support_end: 20_833 * 86_400 - 1,
            provisions: ProvisionSet::from_indices([0u8]),
            assessment: Assessment::SelfDeclared,
            serial,
            supersedes,
        };
        cose::sign_label(&claim, key)
    }

    #[test]
    fn renewal_requires_same_issuer_and_scheme() {
        let issuer = SigningKey::from_bytes(&[31; 32]);
        let other = SigningKey::from_bytes(&[32; 32]);
        let mut map = StatusMap::new();
        map.push(&label(&issuer, "SG-CLS", 0, None)).unwrap();
        let before = map.commitment();
        // another issuer cannot retire the label
        assert_eq!(
            entry_effects(&mut map, 1, &label(&other, "SG-CLS", 1, Some(0))),
            Err(EffectError::IssuerMismatch { target: 0 })
        );
        // nor can the same issuer under another scheme
        assert_eq!(
            entry_effects(&mut map, 1, &label(&issuer, "DE-BSI", 1, Some(0))),
            Err(EffectError::SchemeMismatch { target: 0 })
        );
        assert_eq!(map.commitment(), before);
        assert_eq!(map.state(0), Ok(State::Active));
        // an auditor replaying such an entry reports it and leaves the target untouched
        assert_eq!(
            map.push(&label(&other, "SG-CLS", 1, Some(0))),
            Err(EffectError::IssuerMismatch { target: 0 })
        );
        assert_eq!(map.state(0), Ok(State::Active));
        // the legitimate renewal: same key, same scheme
        assert_eq!(
            entry_effects(&mut map, 2, &label(&issuer, "SG-CLS", 2, Some(0))),
            Ok(vec![(2, State::Active, 0), (0, State::Superseded, 2)])
        );
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
