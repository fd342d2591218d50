//! Minting: a [`ProductDescription`] → a catalog-validated [`Claim`] → signed label bytes; and
//! rendering a label (any label, minted here or not) into its QR code and printable artwork.
//!
//! The serial (FORMATS §1 key 15, the label's index in the transparency log) is a parameter:
//! the server's log assigns it at sequencing time; offline CLI issuance without a log uses the
//! `--serial` flag (default 0).
//!
//! Defaults applied to a description:
//! - `issued_at`: the `now` passed in (midnight UTC of the given date otherwise);
//! - `expires_at`: issued + the level's (or scheme's) maximum validity, capped at the end of
//!   support when the scheme ties validity to support; with no published maximum, the end of
//!   support (a label is not worth more than the updates behind it).
//!
//! Dates given as `YYYY-MM-DD` mean 00:00 UTC that day, except `support_until`, which is the
//! *last* day of support: 23:59:59 UTC.

use cyberlabel_core::catalog::{Catalog, CatalogError, Level, Scheme, SchemeKind};
use cyberlabel_core::claim::{Assessment, Claim, ProvisionSet};
use cyberlabel_core::{cose, payload};
use ed25519_dalek::SigningKey;

use crate::artwork::{self, Artwork, LabelArt, LevelMark};
use crate::dates::{self, DateError};
use crate::product::{AssessmentRef, CategoryRef, LevelRef, ProductDescription};
use crate::qr::{LabelQr, QrError};

use cyberlabel_core::dates::DAY;

/// Why a label could not be minted or rendered.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// The scheme id is not in the catalog.
    #[error("field scheme: unknown scheme {0:?} (known: {1})")]
    UnknownScheme(String, String),
    /// The level is not one of the scheme's.
    #[error("field level: {0:?} is not a level of {1} (levels: {2})")]
    UnknownLevel(String, String, String),
    /// The category is not in the catalog.
    #[error("field category: unknown category {0:?} (codes: {1})")]
    UnknownCategory(String, String),
    /// A provision id is not in the scheme's provision list.
    #[error("field provisions: {0:?} is not a provision of {1}")]
    UnknownProvision(String, String),
    /// `lab` given with self-declaration, or missing with a third-party assessment.
    #[error("field lab: a lab id is required exactly when assessment = third_party")]
    LabMismatch,
    /// The lab is not in the catalog's lab list for the scheme.
    #[error("field lab: unknown lab {0:?} for {1} (labs: {2})")]
    UnknownLab(String, String, String),
    /// A date field is malformed.
    #[error("field {0}: {1}")]
    Date(&'static str, DateError),
    /// The claim breaks a catalog or wire-format rule.
    #[error("{0}")]
    Catalog(#[from] CatalogError),
    /// The bytes are not a well-formed label.
    #[error("not a cyberlabel label: {0}")]
    NotALabel(String),
    /// The label's scheme/level is not in this catalog (cannot draw it).
    #[error("the label's scheme {0:?} version {1} / level {2} is not in the catalog")]
    NotInCatalog(String, u32, u8),
    /// The QR code could not be built.
    #[error("QR code: {0}")]
    Qr(#[from] QrError),
    /// The artwork could not be drawn.
    #[error("artwork: {0}")]
    Artwork(#[from] artwork::ArtworkError),
}

/// A freshly minted label.
#[derive(Debug, Clone)]
pub struct Minted {
    /// The signed claim.
    pub claim: Claim,
    /// The COSE_Sign1 label bytes.
    pub label: Vec<u8>,
}

fn date(field: &'static str, s: &str) -> Result<u64, MintError> {
    dates::parse_date(s).map_err(|e| MintError::Date(field, e))
}

fn level_list(scheme: &Scheme) -> String {
    scheme
        .levels
        .iter()
        .map(|l| format!("{} = {}", l.level, l.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn resolve_level<'c>(scheme: &'c Scheme, level: &LevelRef) -> Result<&'c Level, MintError> {
    let found = match level {
        LevelRef::Number(n) => scheme.level(*n),
        LevelRef::Name(name) => {
            let name = name.trim();
            scheme
                .levels
                .iter()
                .find(|l| l.name.eq_ignore_ascii_case(name))
                .or_else(|| name.parse::<u8>().ok().and_then(|n| scheme.level(n)))
        }
    };
    found.ok_or_else(|| {
        let given = match level {
            LevelRef::Number(n) => n.to_string(),
            LevelRef::Name(s) => s.clone(),
        };
        MintError::UnknownLevel(given, scheme.id.clone(), level_list(scheme))
    })
}

fn resolve_category(catalog: &Catalog, category: &CategoryRef) -> Result<u16, MintError> {
    let found = match category {
        CategoryRef::Code(c) => catalog.category(*c).map(|c| c.code),
        CategoryRef::Name(name) => {
            let name = name.trim();
            catalog
                .categories
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .map(|c| c.code)
        }
    };
    found.ok_or_else(|| {
        let given = match category {
            CategoryRef::Code(c) => c.to_string(),
            CategoryRef::Name(s) => s.clone(),
        };
        let codes = catalog
            .categories
            .iter()
            .map(|c| format!("{} = {}", c.code, c.name))
            .collect::<Vec<_>>()
            .join(", ");
        MintError::UnknownCategory(given, codes)
    })
}

/// The lab given by id (as the scheme owner lists it; case-insensitive), by name, or by code:
/// its code in the catalog's lab list for `scheme`.
fn resolve_lab(catalog: &Catalog, scheme: &str, given: &str) -> Result<u16, MintError> {
    let g = given.trim();
    catalog
        .labs_of(scheme)
        .find(|l| {
            l.id.eq_ignore_ascii_case(g)
                || l.name.eq_ignore_ascii_case(g)
                || g.parse::<u16>().is_ok_and(|c| c == l.code)
        })
        .map(|l| l.code)
        .ok_or_else(|| {
            let labs = catalog
                .labs_of(scheme)
                .map(|l| format!("{} = {}", l.id, l.name))
                .collect::<Vec<_>>();
            let labs = if labs.is_empty() {
                "none listed in the catalog".to_owned()
            } else {
                labs.join(", ")
            };
            MintError::UnknownLab(given.to_owned(), scheme.to_owned(), labs)
        })
}

/// Resolves a description against the catalog into a claim (not yet validated; see [`mint`]).
///
/// # Errors
/// A [`MintError`] naming the field that does not resolve.
pub fn claim_from_description(
    desc: &ProductDescription,
    catalog: &Catalog,
    serial: u64,
    now: u64,
) -> Result<Claim, MintError> {
    let scheme = catalog.latest(desc.scheme.trim()).ok_or_else(|| {
        let mut ids: Vec<&str> = catalog.schemes.iter().map(|s| s.id.as_str()).collect();
        ids.dedup();
        MintError::UnknownScheme(desc.scheme.clone(), ids.join(", "))
    })?;
    let level = resolve_level(scheme, &desc.level)?;
    let category = resolve_category(catalog, &desc.category)?;
    let mut provisions = ProvisionSet::new();
    for id in &desc.provisions {
        let i = scheme
            .provision_index(id.trim())
            .ok_or_else(|| MintError::UnknownProvision(id.clone(), scheme.id.clone()))?;
        provisions.insert(i);
    }
    let assessment = match (desc.assessment, &desc.lab) {
        (AssessmentRef::SelfDeclared, None) => Assessment::SelfDeclared,
        (AssessmentRef::ThirdParty, Some(lab)) => Assessment::ThirdParty {
            lab: resolve_lab(catalog, &scheme.id, lab)?,
        },
        _ => return Err(MintError::LabMismatch),
    };
    let issued_at = match &desc.issued_at {
        Some(d) => date("issued_at", d)?,
        // Claims carry whole days (FORMATS §1): a label issued now is issued "today".
        None => now - now % DAY,
    };
    let support_end = date("support_until", &desc.support_until)? + DAY - 1;
    // The first moment after support ends: a label tied to support expires then.
    let support_over = support_end + 1;
    let expires_at = match &desc.expires_at {
        Some(d) => date("expires_at", d)?,
        None => {
            let max = level.max_validity_days.or(scheme.validity.max_days);
            let by_max = max.map(|d| issued_at.saturating_add(u64::from(d) * DAY));
            match by_max {
                Some(e) if scheme.validity.tied_to_support => e.min(support_over),
                Some(e) => e,
                None => support_over,
            }
        }
    };
    Ok(Claim {
        scheme: scheme.id.clone(),
        catalog_version: scheme.version,
        level: level.level,
        manufacturer: signed_text(&desc.manufacturer),
        product: signed_text(&desc.product),
        hardware_versions: signed_text(&desc.hardware_versions),
        firmware_versions: signed_text(&desc.firmware_versions),
        category,
        issued_at,
        expires_at,
        support_end,
        provisions,
        assessment,
        serial,
        supersedes: desc.supersedes,
    })
}

/// Validates `claim` against the catalog (wire-format rules included) and signs it.
///
/// # Errors
/// [`MintError::Catalog`] with the violated rule ([`CatalogError::field`] names the field).
pub fn sign(claim: &Claim, catalog: &Catalog, key: &SigningKey) -> Result<Vec<u8>, MintError> {
    catalog.validate_claim(claim)?;
    Ok(cose::sign_label(claim, key))
}

/// Mints a label: resolve the description, validate against the catalog, sign.
///
/// `serial` is the label's log index (assigned by the log; offline: a flag, default 0). `now` is
/// the issuing time (Unix seconds), used when the description has no `issued_at`.
///
/// # Errors
/// A [`MintError`] naming the offending field.
pub fn mint(
    desc: &ProductDescription,
    catalog: &Catalog,
    key: &SigningKey,
    serial: u64,
    now: u64,
) -> Result<Minted, MintError> {
    let claim = claim_from_description(desc, catalog, serial, now)?;
    let label = sign(&claim, catalog, key)?;
    Ok(Minted { claim, label })
}

/// How to render a label.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions<'a> {
    /// Verifier page base URL: the QR holds `<verifier_url>#<digits>`.
    pub verifier_url: &'a str,
    /// Put the `CL1:<digits>` form in the QR instead of the URL.
    pub cl1: bool,
    /// Pixels per module in the standalone QR PNG.
    pub module_px: u32,
}

/// A label drawn for print and screen.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The decoded claim.
    pub claim: Claim,
    /// URL form of the payload.
    pub url: String,
    /// `CL1:` form of the payload.
    pub cl1: String,
    /// The QR code (URL or CL1 form per the options).
    pub qr: LabelQr,
    /// Standalone QR code PNG.
    pub qr_png: Vec<u8>,
    /// Standalone QR code SVG.
    pub qr_svg: String,
    /// The printable label.
    pub artwork: Artwork,
}

/// How a scheme's level is drawn: stars for multi-level schemes whose level names are numbered
/// (CLS "Level 2", JC-STAR "★2"), steps for named levels (CIC Lite/Basic/Standard), a check mark
/// for binary and descriptive schemes.
pub fn level_mark(scheme: &Scheme, level: &Level) -> LevelMark {
    match scheme.kind {
        SchemeKind::MultiLevel => {
            let of = scheme
                .levels
                .iter()
                .map(|l| l.level)
                .max()
                .unwrap_or(level.level);
            let numbered = scheme
                .levels
                .iter()
                .all(|l| l.name.chars().any(|c| c.is_ascii_digit() || c == '★'));
            if numbered {
                LevelMark::Stars {
                    level: level.level,
                    of,
                }
            } else {
                LevelMark::Steps {
                    level: level.level,
                    of,
                }
            }
        }
        _ => LevelMark::Pass,
    }
}

/// Renders label bytes: payload texts, the QR code (PNG, SVG) and the printable artwork.
///
/// The label is parsed (not verified: rendering needs no key) and its scheme and level must be in
/// `catalog`.
///
/// # Errors
/// [`MintError::NotALabel`], [`MintError::NotInCatalog`], or a QR/artwork failure.
pub fn render(
    label: &[u8],
    catalog: &Catalog,
    options: &RenderOptions<'_>,
) -> Result<Rendered, MintError> {
    let sign1 = cose::parse_sign1(label).map_err(|e| MintError::NotALabel(e.to_string()))?;
    let claim =
        Claim::from_cbor(&sign1.payload).map_err(|e| MintError::NotALabel(e.to_string()))?;
    let (scheme, level) = catalog.level_of(&claim).ok_or_else(|| {
        MintError::NotInCatalog(claim.scheme.clone(), claim.catalog_version, claim.level)
    })?;
    let url = payload::to_url(options.verifier_url, label);
    let cl1 = payload::to_cl1(label);
    let qr = LabelQr::new(if options.cl1 { &cl1 } else { &url })?;
    let scheme_line = format!("{} · {}", scheme.id, scheme.owner);
    let level_text = match scheme.kind {
        SchemeKind::MultiLevel => level.name.clone(),
        _ => format!("{} ✓", level.name),
    };
    let support_until = dates::format_date(claim.support_end);
    let art = LabelArt {
        scheme_name: &scheme.name,
        scheme_line: &scheme_line,
        mark: level_mark(scheme, level),
        level_text: &level_text,
        product: &claim.product,
        manufacturer: &claim.manufacturer,
        support_until: &support_until,
        qr: &qr,
    };
    let artwork = artwork::render(&art)?;
    Ok(Rendered {
        qr_png: qr.to_png(options.module_px)?,
        qr_svg: qr.to_svg(),
        claim,
        url,
        cl1,
        qr,
        artwork,
    })
}

/// Text as it is signed into a label: trimmed and in Unicode NFC, so the same name typed on two
/// keyboards (a precomposed "ä" or "a" + combining diaeresis) signs the same bytes. Core's claim
/// check then refuses control, invisible and bidirectional-formatting characters.
fn signed_text(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    s.trim().nfc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_marks_follow_the_scheme_shape() {
        let catalog = Catalog::builtin();
        let mark = |id: &str, n: u8| {
            let s = catalog.latest(id).unwrap();
            level_mark(s, s.level(n).unwrap())
        };
        assert_eq!(mark("SG-CLS", 3), LevelMark::Stars { level: 3, of: 4 });
        assert_eq!(mark("JP-JCSTAR", 1), LevelMark::Stars { level: 1, of: 4 });
        assert_eq!(mark("KR-CIC", 2), LevelMark::Steps { level: 2, of: 3 });
        assert_eq!(mark("US-CTM", 1), LevelMark::Pass);
        assert_eq!(mark("DE-BSI", 1), LevelMark::Pass);
    }

    #[test]
    fn default_expiry_follows_the_scheme_rules() {
        let catalog = Catalog::builtin();
        let desc = |scheme: &str, level: u8, support: &str| ProductDescription {
            scheme: scheme.into(),
            level: LevelRef::Number(level),
            manufacturer: "M".into(),
            product: "P".into(),
            hardware_versions: "1".into(),
            firmware_versions: "1".into(),
            category: CategoryRef::Code(1),
            provisions: vec![],
            assessment: AssessmentRef::ThirdParty,
            lab: Some("1".into()), // by code: every scheme here lists a lab 1
            issued_at: Some("2026-01-01".into()),
            expires_at: None,
            support_until: support.into(),
            supersedes: None,
        };
        let t0 = dates::parse_date("2026-01-01").unwrap();
        // CLS: at most 1095 days, and never past the end of support.
        let c = claim_from_description(&desc("SG-CLS", 3, "2035-01-01"), &catalog, 0, 0).unwrap();
        assert_eq!(c.expires_at, t0 + 1095 * DAY);
        let c = claim_from_description(&desc("SG-CLS", 3, "2027-06-30"), &catalog, 0, 0).unwrap();
        // Expiry is the first day without support: the label is valid through 2027-06-30.
        assert_eq!(c.expires_at, dates::parse_date("2027-07-01").unwrap());
        // No published maximum: valid while supported.
        let c = claim_from_description(&desc("US-CTM", 1, "2030-12-31"), &catalog, 0, 0).unwrap();
        assert_eq!(c.expires_at, c.support_end + 1);
        assert_eq!(dates::format_date(c.support_end), "2030-12-31");
    }
}
