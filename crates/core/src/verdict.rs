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

/// The outcome shown to a consumer.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Signed by a trusted issuer, unchanged, within its validity period.
    Genuine,
    /// Genuine, but its validity period has ended.
    Expired,
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
}

impl Verdict {
    /// One short line for the result screen.
    pub fn headline(self) -> &'static str {
        match self {
            Verdict::Genuine => "Genuine label",
            Verdict::Expired => "Label expired",
            Verdict::UnknownIssuer => "Unknown issuer",
            Verdict::Tampered => "Label has been tampered with",
            Verdict::Malformed => "Not a valid label",
            Verdict::NotYetValid => "Label not valid yet",
            Verdict::KeyCompromised => "Not genuine: issuer key compromised",
        }
    }

    /// What it means and what to do, in plain words.
    pub fn explain(self) -> &'static str {
        match self {
            Verdict::Genuine => {
                "This label was issued by a recognised issuing body and has not been changed. \
                 Check that the product and model below match the one in front of you."
            }
            Verdict::Expired => {
                "This label was genuine, but its validity period has ended. The product's \
                 security may no longer be assessed or supported: check for a newer label."
            }
            Verdict::UnknownIssuer => {
                "This label was not issued by a body this verifier recognises for this scheme. \
                 Do not rely on it."
            }
            Verdict::Tampered => {
                "The contents of this label do not match its signature: it was altered or \
                 forged. Do not rely on it."
            }
            Verdict::Malformed => {
                "This code is not a readable cybersecurity label. It may be damaged or not a \
                 label at all."
            }
            Verdict::NotYetValid => {
                "This label says it was issued on a date that has not come yet. Check that this \
                 device's date is right; if it is, the label is not genuine. Do not rely on it."
            }
            Verdict::KeyCompromised => {
                "This label was signed with a key that its issuing body reported stolen or \
                 misused, after that happened. Do not rely on it."
            }
        }
    }

    /// A stable lowercase identifier (JSON, CLI exit messages).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Genuine => "genuine",
            Verdict::Expired => "expired",
            Verdict::UnknownIssuer => "unknown_issuer",
            Verdict::Tampered => "tampered",
            Verdict::Malformed => "malformed",
            Verdict::NotYetValid => "not_yet_valid",
            Verdict::KeyCompromised => "key_compromised",
        }
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
    } else if now >= claim.expires_at {
        (Verdict::Expired, Some(Problem::Expired))
    } else {
        (Verdict::Genuine, None)
    };
    (verdict, problem, info)
}
