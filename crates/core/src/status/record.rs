//! Status-change records (FORMATS §2): what an issuer signs to suspend, reinstate or revoke one
//! of its labels — the action, the target's index and leaf hash, the reason code and the time —
//! and the strict CBOR codec for them. The rules that decide whether a record may be appended
//! are in [`super::rules`].

use crate::cbor::{self, CborError, Value};

/// A status change (FORMATS §2, key 1).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StatusAction {
    /// Suspend (reversible).
    Suspend = 1,
    /// Lift a suspension.
    Reinstate = 2,
    /// Revoke (terminal).
    Revoke = 3,
}

impl StatusAction {
    /// The action for its wire value.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Suspend,
            2 => Self::Reinstate,
            3 => Self::Revoke,
            _ => return None,
        })
    }

    /// A lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Suspend => "suspend",
            Self::Reinstate => "reinstate",
            Self::Revoke => "revoke",
        }
    }
}

/// Reason codes for status changes (FORMATS §2; `domain/schemes-and-credentials.md` §5).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ReasonCode {
    /// 0: unspecified.
    Unspecified = 0,
    /// 1: the issuer's signing key was compromised.
    IssuerKeyCompromise = 1,
    /// 2: replaced by a newer label (renewal, new firmware, re-assessment).
    Superseded = 2,
    /// 3: the security support period ended.
    SupportPeriodEnded = 3,
    /// 4: the label's validity expired.
    ValidityExpired = 4,
    /// 5: the baseline changed and the product was not re-declared.
    BaselineChangedNotRedeclared = 5,
    /// 6: non-conformity found (e.g. market surveillance).
    NonConformityFound = 6,
    /// 7: false or incomplete information.
    FalseOrIncompleteInformation = 7,
    /// 8: a known vulnerability was not fixed.
    UnremediatedVulnerability = 8,
    /// 9: issued in error.
    IssuedInError = 9,
    /// 10: the manufacturer withdrew the product.
    ManufacturerWithdrawal = 10,
    /// 11: the lab's recognition was withdrawn.
    LabRecognitionWithdrawn = 11,
    /// 12: under investigation (hold).
    InvestigationPending = 12,
    /// 13: reinstated.
    Reinstated = 13,
    /// 14: a mutual-recognition arrangement's scope ended.
    MutualRecognitionScopeEnded = 14,
}

impl ReasonCode {
    /// All codes in wire order.
    pub const ALL: [ReasonCode; 15] = [
        Self::Unspecified,
        Self::IssuerKeyCompromise,
        Self::Superseded,
        Self::SupportPeriodEnded,
        Self::ValidityExpired,
        Self::BaselineChangedNotRedeclared,
        Self::NonConformityFound,
        Self::FalseOrIncompleteInformation,
        Self::UnremediatedVulnerability,
        Self::IssuedInError,
        Self::ManufacturerWithdrawal,
        Self::LabRecognitionWithdrawn,
        Self::InvestigationPending,
        Self::Reinstated,
        Self::MutualRecognitionScopeEnded,
    ];

    /// The code for its wire value.
    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.get(usize::from(v)).copied()
    }

    /// The wire value.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// A stable snake_case identifier (for CLI flags and JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::IssuerKeyCompromise => "issuer_key_compromise",
            Self::Superseded => "superseded",
            Self::SupportPeriodEnded => "support_period_ended",
            Self::ValidityExpired => "validity_expired",
            Self::BaselineChangedNotRedeclared => "baseline_changed_not_redeclared",
            Self::NonConformityFound => "nonconformity_found",
            Self::FalseOrIncompleteInformation => "false_or_incomplete_information",
            Self::UnremediatedVulnerability => "unremediated_vulnerability",
            Self::IssuedInError => "issued_in_error",
            Self::ManufacturerWithdrawal => "manufacturer_withdrawal",
            Self::LabRecognitionWithdrawn => "lab_recognition_withdrawn",
            Self::InvestigationPending => "investigation_pending",
            Self::Reinstated => "reinstated",
            Self::MutualRecognitionScopeEnded => "mutual_recognition_scope_ended",
        }
    }

    /// The code for its [`ReasonCode::as_str`] identifier.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    /// Plain words for consumers.
    pub fn text(self) -> &'static str {
        match self {
            Self::Unspecified => "No reason was given.",
            Self::IssuerKeyCompromise => "The issuer's signing key was compromised.",
            Self::Superseded => "A newer label replaces this one.",
            Self::SupportPeriodEnded => "The product no longer receives security updates.",
            Self::ValidityExpired => "The label's validity period has ended.",
            Self::BaselineChangedNotRedeclared => {
                "The security requirements changed and the manufacturer did not re-declare the product."
            }
            Self::NonConformityFound => {
                "A check found that the product does not meet the requirements."
            }
            Self::FalseOrIncompleteInformation => {
                "The application contained false or incomplete information."
            }
            Self::UnremediatedVulnerability => "A known security vulnerability has not been fixed.",
            Self::IssuedInError => "The label was issued in error.",
            Self::ManufacturerWithdrawal => "The manufacturer withdrew the product.",
            Self::LabRecognitionWithdrawn => "The testing lab's recognition was withdrawn.",
            Self::InvestigationPending => "The product is under investigation.",
            Self::Reinstated => "The label was reinstated after review.",
            Self::MutualRecognitionScopeEnded => {
                "The recognition arrangement with another scheme no longer covers this product."
            }
        }
    }
}

impl core::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a status record payload was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Not deterministic CBOR.
    #[error("status record is not deterministic CBOR: {0}")]
    Cbor(#[from] CborError),
    /// Not a map.
    #[error("status record is not a CBOR map")]
    NotAMap,
    /// A key other than 1..=5.
    #[error("status record has an unknown key")]
    UnknownKey,
    /// A key (1..=5) is missing.
    #[error("status record field {0} is missing")]
    Missing(u8),
    /// A key (1..=5) has the wrong type or size.
    #[error("status record field {0} has the wrong type")]
    WrongType(u8),
    /// Action not 1..=3.
    #[error("status record action is unknown")]
    UnknownAction,
    /// Reason code not 0..=14.
    #[error("status record reason code is unknown")]
    UnknownReason,
}

/// A status-change record (FORMATS §2), signed by the label's issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusRecord {
    /// What happens to the target (key 1).
    pub action: StatusAction,
    /// Log index of the target label (key 2).
    pub target: u64,
    /// Why (key 3).
    pub reason: ReasonCode,
    /// When, Unix seconds (key 4).
    pub time: u64,
    /// RFC 6962 leaf hash of the target label's bytes (key 5).
    pub target_leaf_hash: [u8; 32],
}

/// Largest accepted status record payload.
pub const MAX_STATUS_LEN: usize = 256;

impl StatusRecord {
    /// Deterministic CBOR encoding.
    pub fn to_cbor(&self) -> Vec<u8> {
        cbor::encode(&Value::Map(vec![
            (cbor::uint(1), cbor::uint(self.action as u64)),
            (cbor::uint(2), cbor::uint(self.target)),
            (cbor::uint(3), cbor::uint(u64::from(self.reason.as_u8()))),
            (cbor::uint(4), cbor::uint(self.time)),
            (cbor::uint(5), Value::Bytes(self.target_leaf_hash.to_vec())),
        ]))
    }

    /// Strict decoding: exactly keys 1..=5, each with its type.
    ///
    /// # Errors
    /// The first problem found.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, RecordError> {
        let Value::Map(entries) = cbor::decode(bytes, MAX_STATUS_LEN)? else {
            return Err(RecordError::NotAMap);
        };
        let mut slots: [Option<Value>; 6] = Default::default();
        for (k, v) in entries {
            match cbor::as_u64(&k) {
                Some(n @ 1..=5) => slots[n as usize] = Some(v),
                _ => return Err(RecordError::UnknownKey),
            }
        }
        let uint = |slots: &mut [Option<Value>; 6], k: u8| -> Result<u64, RecordError> {
            let v = slots[usize::from(k)]
                .take()
                .ok_or(RecordError::Missing(k))?;
            cbor::as_u64(&v).ok_or(RecordError::WrongType(k))
        };
        let action = uint(&mut slots, 1)?;
        let action = u8::try_from(action)
            .ok()
            .and_then(StatusAction::from_u8)
            .ok_or(RecordError::UnknownAction)?;
        let target = uint(&mut slots, 2)?;
        let reason = uint(&mut slots, 3)?;
        let reason = u8::try_from(reason)
            .ok()
            .and_then(ReasonCode::from_u8)
            .ok_or(RecordError::UnknownReason)?;
        let time = uint(&mut slots, 4)?;
        let target_leaf_hash = match slots[5].take() {
            None => return Err(RecordError::Missing(5)),
            Some(Value::Bytes(b)) => b
                .as_slice()
                .try_into()
                .map_err(|_| RecordError::WrongType(5))?,
            Some(_) => return Err(RecordError::WrongType(5)),
        };
        Ok(StatusRecord {
            action,
            target,
            reason,
            time,
            target_leaf_hash,
        })
    }
}
