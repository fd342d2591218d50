//! The status rules (FORMATS §2, §4): which transitions are legal, which entries may be appended
//! and what they change, and the in-memory status map a verifier or auditor replays. One rule
//! set, shared by the log's sequencer, its audit and `cyberlabel audit`.

use super::bucket::{BUCKET_LABELS, Bucket, State, bucket_count};
use super::record::StatusAction;
use crate::checkpoint::StatusCommitment;
use crate::cose::{self, CoseError, Entry, KeyId};
use crate::merkle::{self, Hash};

/// The state a label in state `from` reaches by `action`; `None` when the change is not allowed
/// (only active↔suspended and active/suspended→revoked are).
#[must_use]
pub fn apply_action(from: State, action: StatusAction) -> Option<State> {
    match (from, action) {
        (State::Active, StatusAction::Suspend) => Some(State::Suspended),
        (State::Suspended, StatusAction::Reinstate) => Some(State::Active),
        (State::Active | State::Suspended, StatusAction::Revoke) => Some(State::Revoked),
        _ => None,
    }
}

/// Whether a label in state `from` may be renewed (superseded by a new label).
#[must_use]
pub fn can_supersede(from: State) -> bool {
    matches!(from, State::Active | State::Suspended)
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
            let to = apply_action(from, record.action)
                .ok_or(EffectError::IllegalTransition { target, from })?;
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
