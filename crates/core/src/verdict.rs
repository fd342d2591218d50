//! The verdict: what a consumer is told after scanning a label, computed offline from the label
//! bytes, a trust list, the scheme catalog and the current time.
//!
//! Order of checks, and the verdict each failure gives:
//! 1. decode the COSE_Sign1 and the claim (cyberlabel profile) → [`Verdict::Malformed`];
//! 2. find the issuer by kid in the trust list → [`Verdict::UnknownIssuer`];
//! 3. verify the signature with that issuer's key (`verify_strict`) → [`Verdict::Tampered`];
//! 4. the issuer must be authorised for the claim's scheme, and its key must have been valid
//!    when the label was issued (`issued_at`) → [`Verdict::UnknownIssuer`] with a distinct
//!    [`Problem`];
//! 5. the key must be neither retired nor compromised as of the label's serial (= its log
//!    index; the online check proves the label really sits there) → [`Verdict::UnknownIssuer`]
//!    ([`Problem::KeyRetired`]) or [`Verdict::KeyCompromised`];
//! 6. the claim must validate against the catalog → [`Verdict::Malformed`] ([`Problem::Catalog`]);
//! 7. an issue day that has not begun anywhere on Earth (beyond [`POST_DATE_SLACK`]) →
//!    [`Verdict::NotYetValid`] (post-dated: not genuine);
//! 8. `now >= expires_at` → [`Verdict::Expired`]; otherwise [`Verdict::Genuine`].
//!
//! The signature is checked before anything the claim says is believed: a tampered label is
//! never reported as merely expired. Revocation, suspension and supersession need the log's
//! status proof, which the browser issue adds as further verdicts (the enum is non-exhaustive).

use crate::catalog::{Catalog, CatalogError};
use crate::claim::Claim;
use crate::cose::{self, CoseError, Entry, KeyId, Sign1};
use crate::trust::{KeyState, TrustList};

/// The outcome shown to a consumer: the one verdict vocabulary, offline and online.
///
/// [`verify_offline`] gives the offline subset (genuine, expired, unknown issuer, tampered,
/// malformed, not yet valid, key compromised); [`crate::online::final_verdict`] refines a genuine
/// or expired label with the log and the status map into the rest.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Signed by a trusted issuer, unchanged, within its validity period (and, online, logged and
    /// active).
    Genuine,
    /// Genuine, but its validity period has ended.
    Expired,
    /// Revoked by its issuer (reason code, FORMATS §2).
    Revoked(u8),
    /// Suspended by its issuer (reason code).
    Suspended(u8),
    /// Replaced by a newer label.
    Superseded,
    /// Not signed by an issuer this verifier trusts (for this scheme, at that time).
    UnknownIssuer,
    /// The signature does not match the contents: altered or forged.
    Tampered,
    /// Not a readable cyberlabel label.
    Malformed,
    /// Says it was issued on a day that has not begun anywhere yet: post-dated (or this
    /// device's clock is wrong). Never genuine.
    NotYetValid,
    /// Signed with a key its issuing body reported compromised, at a log position after the
    /// compromise. Never genuine.
    KeyCompromised,
    /// Validly signed, but the log proves it was never logged: tiles under a verified root hold
    /// other bytes at its index, or a fresh witnessed tree should hold it by now and does not
    /// (minted off the record, e.g. with a stolen key).
    NotInLog,
    /// The log showed an older state than before (rollback) or one that cannot extend it
    /// (split view): a warning, never genuine.
    LogInconsistent,
    /// The offline part is valid, but the log or status could not be checked now.
    CannotCheck,
}

impl Verdict {
    /// Every verdict, with reason code 0 where one is carried (for tables and tests).
    pub const ALL: [Verdict; 13] = [
        Verdict::Genuine,
        Verdict::Expired,
        Verdict::Revoked(0),
        Verdict::Suspended(0),
        Verdict::Superseded,
        Verdict::UnknownIssuer,
        Verdict::Tampered,
        Verdict::Malformed,
        Verdict::NotYetValid,
        Verdict::KeyCompromised,
        Verdict::NotInLog,
        Verdict::LogInconsistent,
        Verdict::CannotCheck,
    ];

    /// The title of the result screen (the page's English words are these; `www/i18n/en.json`
    /// is checked against them).
    #[must_use]
    pub fn headline(self) -> &'static str {
        match self {
            Verdict::Genuine => "Genuine",
            Verdict::Expired => "Expired",
            Verdict::Revoked(_) => "Revoked",
            Verdict::Suspended(_) => "Suspended",
            Verdict::Superseded => "Replaced by a newer label",
            Verdict::UnknownIssuer => "Unknown issuer",
            Verdict::Tampered | Verdict::KeyCompromised | Verdict::NotInLog => "Not genuine",
            Verdict::Malformed => "Not a label",
            Verdict::NotYetValid => "Not valid yet",
            Verdict::LogInconsistent => "Warning: log inconsistent",
            Verdict::CannotCheck => "Cannot check now",
        }
    }

    /// What it means, in one plain sentence with no contradiction.
    #[must_use]
    pub fn sentence(self) -> &'static str {
        match self {
            Verdict::Genuine => {
                "This label is genuine: a recognised body issued it, it is in the public log of \
                 issued labels and it has not been withdrawn."
            }
            Verdict::Expired => "This label's validity period has ended.",
            Verdict::Revoked(_) => "The issuing body has withdrawn this label.",
            Verdict::Suspended(_) => "The issuing body has suspended this label for now.",
            Verdict::Superseded => "A newer label replaces this one.",
            Verdict::UnknownIssuer => {
                "This label is signed by someone who is not a recognised issuing body."
            }
            Verdict::Tampered => "This label is not genuine: it was altered or forged.",
            Verdict::KeyCompromised => {
                "This label is not genuine: it was signed with a key that its issuing body \
                 reported stolen or misused, after that happened."
            }
            Verdict::NotInLog => {
                "This label is not genuine: it is not in the public log of issued labels, where \
                 every real label is recorded."
            }
            Verdict::Malformed => "This code is not a valid cybersecurity label.",
            Verdict::NotYetValid => {
                "This label says it was issued on a date that has not come yet, so unless this \
                 device's date is wrong it is not genuine."
            }
            Verdict::LogInconsistent => {
                "The label log showed an older or different state than before, so do not rely \
                 on this label now."
            }
            Verdict::CannotCheck => {
                "The signature and dates were checked on this device, but the log and revocation \
                 checks could not be done now."
            }
        }
    }

    /// What to do about it.
    #[must_use]
    pub fn advice(self) -> &'static str {
        match self {
            Verdict::Genuine => "",
            Verdict::Expired => {
                "The product may no longer meet the scheme: look for a renewed label or a \
                 firmware update."
            }
            Verdict::Revoked(_) => {
                "Do not rely on it: contact the seller or manufacturer, and check the issuer's \
                 website for the product's status."
            }
            Verdict::Suspended(_) => "Check again later, or ask the manufacturer.",
            Verdict::Superseded => {
                "Update the device (for example to new firmware) and look for its current label."
            }
            Verdict::UnknownIssuer => {
                "Treat it as not genuine; you can report it to the scheme owner."
            }
            Verdict::Tampered | Verdict::KeyCompromised | Verdict::NotInLog => {
                "Do not trust the claims on it, and report the product to the seller or the \
                 scheme owner."
            }
            Verdict::Malformed => {
                "If it is printed on a product as a label, report it to the seller or the scheme \
                 owner."
            }
            Verdict::NotYetValid => {
                "Check that this device's date and time are right; if they are, do not rely on \
                 this label."
            }
            Verdict::LogInconsistent => {
                "Someone may be replaying old data or showing you a false view: try again later \
                 or on another network."
            }
            Verdict::CannotCheck => "Try again when you are online.",
        }
    }

    /// The sentence and the advice together.
    #[must_use]
    pub fn explain(self) -> String {
        match self.advice() {
            "" => self.sentence().to_owned(),
            advice => format!("{} {advice}", self.sentence()),
        }
    }

    /// A stable snake_case identifier (JSON, the page's texts, CLI messages).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Genuine => "genuine",
            Verdict::Expired => "expired",
            Verdict::Revoked(_) => "revoked",
            Verdict::Suspended(_) => "suspended",
            Verdict::Superseded => "superseded",
            Verdict::UnknownIssuer => "unknown_issuer",
            Verdict::Tampered => "tampered",
            Verdict::Malformed => "malformed",
            Verdict::NotYetValid => "not_yet_valid",
            Verdict::KeyCompromised => "key_compromised",
            Verdict::NotInLog => "not_in_log",
            Verdict::LogInconsistent => "log_inconsistent",
            Verdict::CannotCheck => "cannot_check",
        }
    }

    /// Whether the offline part passed (validly signed by a trusted issuer, dates fine or only
    /// expired): only then are the log and status worth fetching, and only then is what the
    /// label says shown as the issuer's word.
    #[must_use]
    pub fn offline_passed(self) -> bool {
        matches!(self, Verdict::Genuine | Verdict::Expired)
    }
}

impl core::fmt::Display for Verdict {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.headline())
    }
}

/// The technical reason behind a non-genuine verdict.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The bytes are not a cyberlabel label (COSE or claim error).
    #[error("{0}")]
    Decode(CoseError),
    /// The bytes are a status record, not a label.
    #[error("this is a status record, not a label")]
    NotALabel,
    /// No trusted issuer has this kid.
    #[error("no trusted issuer has this key id")]
    UnknownKid,
    /// The signature does not verify with the issuer's key.
    #[error("signature does not verify with the issuer's key")]
    BadSignature,
    /// The issuer is trusted, but not for the claim's scheme.
    #[error("issuer is not authorised for this scheme")]
    NotAuthorisedForScheme,
    /// The issuer's key was not valid when the label says it was issued.
    #[error("issuer key was not valid at the label's issuance time")]
    KeyNotValidAtIssuance,
    /// The claim does not fit the scheme catalog.
    #[error("{0}")]
    Catalog(CatalogError),
    /// The validity period has ended.
    #[error("validity period has ended")]
    Expired,
    /// The issuer key was rotated out before the label's log position.
    #[error("the issuer key was retired before this label's position in the log")]
    KeyRetired,
    /// The issuer key was reported compromised at or before the label's log position.
    #[error("the issuer key was reported compromised before this label's position in the log")]
    KeyCompromised,
    /// The issue day has not begun yet (post-dated label, or a wrong clock).
    #[error("the label's issue date is in the future")]
    IssuedInFuture,
}

/// Who issued a label, from the trust list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerInfo {
    /// Display name.
    pub name: String,
    /// Key id.
    pub kid: KeyId,
    /// Schemes the issuer is trusted for.
    pub schemes: Vec<String>,
}

/// The full result of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The verdict.
    pub verdict: Verdict,
    /// The decoded claim, when it could be decoded (shown only as "claimed" unless genuine or
    /// expired).
    pub claim: Option<Claim>,
    /// The issuer, when the kid is in the trust list.
    pub issuer: Option<IssuerInfo>,
    /// The kid from the protected header, when decodable.
    pub kid: Option<KeyId>,
    /// Why the verdict is not [`Verdict::Genuine`].
    pub problem: Option<Problem>,
}

/// How far ahead of the verifier's UTC clock an issue day may start: the day begins first at
/// UTC+14, and clocks drift.
pub const POST_DATE_SLACK: u64 = 14 * 3_600 + crate::checkpoint::MAX_CLOCK_SKEW;

/// Verifies scanned label bytes offline (see the module docs for the rules).
pub fn verify_offline(label: &[u8], trust: &TrustList, catalog: &Catalog, now: u64) -> Report {
    let (sign1, claim) = match cose::decode_entry(label) {
        Ok(Entry::Label { sign1, claim }) => (sign1, claim),
        Ok(Entry::Status { .. }) => return fail(Problem::NotALabel),
        Err(e) => return fail(Problem::Decode(e)),
    };
    // decode_entry checked the profile, so the kid is present and 8 bytes.
    let Some(kid) = sign1.key_id() else {
        return fail(Problem::Decode(CoseError::BadKid));
    };
    let (verdict, problem, issuer) = judge(&sign1, &claim, &kid, trust, catalog, now);
    Report {
        verdict,
        claim: Some(claim),
        issuer,
        kid: Some(kid),
        problem,
    }
}

fn fail(problem: Problem) -> Report {
    Report {
        verdict: Verdict::Malformed,
        claim: None,
        issuer: None,
        kid: None,
        problem: Some(problem),
    }
}

fn judge(
    sign1: &Sign1,
    claim: &Claim,
    kid: &KeyId,
    trust: &TrustList,
    catalog: &Catalog,
    now: u64,
) -> (Verdict, Option<Problem>, Option<IssuerInfo>) {
    let Some((issuer, key)) = trust
        .issuer(kid)
        .and_then(|i| Some((i, i.verifying_key()?)))
    else {
        return (Verdict::UnknownIssuer, Some(Problem::UnknownKid), None);
    };
    if sign1.verify(key).is_err() {
        return (Verdict::Tampered, Some(Problem::BadSignature), None);
    }
    let info = Some(IssuerInfo {
        name: issuer.name.clone(),
        kid: *kid,
        schemes: issuer.schemes.clone(),
    });
    let (verdict, problem) = if !issuer.authorised_for(&claim.scheme) {
        (
            Verdict::UnknownIssuer,
            Some(Problem::NotAuthorisedForScheme),
        )
    } else if !issuer.valid_during(
        claim.issued_at,
        claim.issued_at.saturating_add(crate::claim::DAY - 1),
    ) {
        (Verdict::UnknownIssuer, Some(Problem::KeyNotValidAtIssuance))
    } else if let Err(state) = issuer.may_sign_label_at(claim.serial) {
        // The serial is the label's log index: the online check proves the label sits there.
        match state {
            KeyState::Compromised => (Verdict::KeyCompromised, Some(Problem::KeyCompromised)),
            KeyState::Retired => (Verdict::UnknownIssuer, Some(Problem::KeyRetired)),
        }
    } else if let Err(e) = catalog.validate_claim(claim) {
        (Verdict::Malformed, Some(Problem::Catalog(e)))
    } else if claim.issued_at > now.saturating_add(POST_DATE_SLACK) {
        (Verdict::NotYetValid, Some(Problem::IssuedInFuture))
    } else if claim.expired_at(now) {
        (Verdict::Expired, Some(Problem::Expired))
    } else {
        (Verdict::Genuine, None)
    };
    (verdict, problem, info)
}
