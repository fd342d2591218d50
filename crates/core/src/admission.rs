//! What a cyberlabel log may append — checked by the log's sequencer before it appends and by
//! every auditor replaying the log, with the same code (DESIGN "When a verifier may say
//! Genuine", rule 1).
//!
//! The log holds the trust list it enforces as entries of its own: a signed trust list
//! (`trust-list.cose`, FORMATS §5) appended to the log takes effect for every later entry, so an
//! auditor replaying the log knows which list was in force for each decision. A trust-list entry
//! must verify under the trust anchor (the trust-list signer's key, pinned by whoever runs the
//! auditor or verifier) and carry a higher version than the one in force. Then:
//! - a label must be signed (`verify_strict`) by an issuer key the list in force names for the
//!   label's scheme, valid on the label's issue day, and neither retired nor compromised as of
//!   the entry's log index (log position orders key events: a thief can backdate a label's
//!   date, not its place in the log);
//! - a status record must be signed by the key whose kid it carries, which the list in force
//!   names and that was not compromised as of the entry's index;
//!   [`crate::status::entry_effects`] then requires that kid to be the target label's and the
//!   transition to be legal.
//!
//! Signature checks are stateless given the list in force ([`check_entry`]): the log runs them
//! outside its sequencer for submitted bytes, and an auditor can run them on all cores.

use ed25519_dalek::VerifyingKey;

use crate::cose::{self, ContentType, Entry};
use crate::merkle;
use crate::status::{EffectError, StatusMap};
use crate::trust::{KeyState, TRUST_LIST_CONTENT_TYPE, TrustList};

/// What a checked entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admitted {
    /// A label or status record whose signature verified under the trust list in force, as
    /// decoded for the check (so the status rules need not decode it again).
    Record(Box<Entry>),
    /// A newer trust list, verified under the anchor; it is in force from the next entry on.
    TrustList(Box<TrustList>),
}

/// Whether `entry` is a trust-list entry (a COSE_Sign1 with content type `application/json`).
#[must_use]
pub fn is_trust_list(entry: &[u8]) -> bool {
    cose::parse_sign1_bounded(entry, crate::tiles::MAX_ENTRY_BYTES)
        .is_ok_and(|s| s.content_type == Some(ContentType::Text(TRUST_LIST_CONTENT_TYPE.into())))
}

/// Check one entry's signature and authorisation against the trust list in force (`None`
/// before the log's first trust-list entry) and the trust anchor.
///
/// # Errors
/// [`EffectError`]: an invalid entry, no trust list yet, an unknown, unauthorised or
/// out-of-validity issuer key, a bad signature, or a trust list that does not verify under
/// the anchor or is not newer than the one in force.
pub fn check_entry(
    entry: &[u8],
    index: u64,
    in_force: Option<&TrustList>,
    anchor: &VerifyingKey,
) -> Result<Admitted, EffectError> {
    check_entry_signed_by(entry, index, in_force, anchor, None)
}

/// [`check_entry`] for an entry this process has just signed with `signed_by` (the log's own
/// issuer key minting a label): every rule applies, and the key must be exactly the one the
/// trust list names for the entry's kid, but the fresh signature is not verified again — that
/// would double the cost of minting; auditors replaying the log verify every signature
/// ([`Replay`]). Entries submitted as bytes from outside always go through [`check_entry`].
///
/// # Errors
/// As [`check_entry`]; [`EffectError::BadSignature`] when `signed_by` is not the listed key.
pub fn check_entry_signed_by(
    entry: &[u8],
    index: u64,
    in_force: Option<&TrustList>,
    anchor: &VerifyingKey,
    signed_by: Option<&VerifyingKey>,
) -> Result<Admitted, EffectError> {
    // Labels and status records are the common case: decode first, and look for a trust list
    // only when that fails.
    let decoded = match cose::decode_entry(entry) {
        Ok(d) => d,
        Err(_) if is_trust_list(entry) => {
            let list = TrustList::from_signed_any_time(entry, anchor)
                .map_err(EffectError::BadTrustList)?;
            if let Some(cur) = in_force
                && list.version <= cur.version
            {
                return Err(EffectError::TrustListRollback {
                    in_force: cur.version,
                    got: list.version,
                });
            }
            return Ok(Admitted::TrustList(Box::new(list)));
        }
        Err(e) => return Err(EffectError::InvalidEntry(e)),
    };
    let trust = in_force.ok_or(EffectError::NoTrustList)?;
    let kid = decoded.kid();
    let issuer = trust.issuer(&kid).ok_or(EffectError::UnknownIssuerKey)?;
    let key = issuer
        .verifying_key()
        .ok_or(EffectError::UnknownIssuerKey)?;
    let key_state = match &decoded {
        Entry::Label { .. } => issuer.may_sign_label_at(index),
        Entry::Status { .. } => issuer.may_sign_status_at(index),
    };
    match key_state {
        Err(KeyState::Compromised) => return Err(EffectError::KeyCompromised),
        Err(KeyState::Retired) => return Err(EffectError::KeyRetired),
        Ok(()) => {}
    }
    if let Entry::Label { claim, .. } = &decoded {
        if !issuer.authorised_for(&claim.scheme) {
            return Err(EffectError::NotAuthorisedForScheme);
        }
        if !issuer.valid_during(
            claim.issued_at,
            claim.issued_at.saturating_add(crate::claim::DAY - 1),
        ) {
            return Err(EffectError::KeyNotValidAtIssuance);
        }
    }
    match signed_by {
        Some(signer) if signer == key => {}
        Some(_) => return Err(EffectError::BadSignature),
        None => decoded
            .sign1()
            .verify(key)
            .map_err(|_| EffectError::BadSignature)?,
    }
    Ok(Admitted::Record(Box::new(decoded)))
}

/// A replay of a log from its first entry: the trust list in force and the status map, fed
/// every entry in order — what an auditor (and the log itself, on a full audit) runs.
#[derive(Debug, Clone)]
pub struct Replay {
    anchor: VerifyingKey,
    trust: Option<TrustList>,
    map: StatusMap,
}

impl Replay {
    /// An empty log whose trust lists must verify under `anchor`.
    #[must_use]
    pub fn new(anchor: VerifyingKey) -> Self {
        Self {
            anchor,
            trust: None,
            map: StatusMap::new(),
        }
    }

    /// Continue a replay from saved state: the trust list in force and the status map after
    /// the entries fed so far (what [`Replay::trust`] and [`Replay::status`] returned).
    #[must_use]
    pub fn resume(anchor: VerifyingKey, trust: Option<TrustList>, map: StatusMap) -> Self {
        Self { anchor, trust, map }
    }

    /// The trust anchor trust-list entries must verify under.
    #[must_use]
    pub fn anchor(&self) -> &VerifyingKey {
        &self.anchor
    }

    /// The trust list in force after the entries fed so far.
    #[must_use]
    pub fn trust(&self) -> Option<&TrustList> {
        self.trust.as_ref()
    }

    /// The recomputed status map.
    #[must_use]
    pub fn status(&self) -> &StatusMap {
        &self.map
    }

    /// Number of entries fed.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.map.size()
    }

    /// Feed the next entry, checking it fully (signature, authorisation, status rules).
    ///
    /// # Errors
    /// [`EffectError`]: the log accepted something it must not have. The entry still counts as
    /// appended (without effect), so the auditor can report it and go on.
    pub fn push(&mut self, entry: &[u8]) -> Result<(), EffectError> {
        let checked = check_entry(entry, self.size(), self.trust.as_ref(), &self.anchor);
        self.push_checked(entry, checked)
    }

    /// Feed the next entry whose [`check_entry`] result was computed elsewhere (in parallel,
    /// against [`Replay::trust`] as it was at this entry).
    ///
    /// # Errors
    /// As [`Replay::push`].
    pub fn push_checked(
        &mut self,
        entry: &[u8],
        checked: Result<Admitted, EffectError>,
    ) -> Result<(), EffectError> {
        match checked {
            Ok(Admitted::TrustList(list)) => {
                self.map.push_decoded(merkle::leaf_hash(entry), None)?;
                self.trust = Some(*list);
                Ok(())
            }
            Ok(Admitted::Record(decoded)) => self
                .map
                .push_decoded(merkle::leaf_hash(entry), Some(&decoded)),
            Err(e) => {
                // counts as appended, without effect
                let _ = self.map.push_without_effect(entry);
                Err(e)
            }
        }
    }
}
