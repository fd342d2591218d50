//! The scheme catalog: labelling schemes, their levels, provision lists and validity rules, as
//! versioned DATA (`crates/core/catalog/schemes.json`), so an issuing body can add its own scheme
//! by loading JSON, with no code change.
//!
//! A claim names `(scheme, catalog_version)`; the provision bitset indexes that scheme version's
//! provision list (`Scheme::provisions`), which is either listed inline or taken from a shared
//! baseline (ETSI EN 303 645). Published scheme versions are append-only in spirit: never reorder
//! a provision list or renumber levels; publish a new version instead.
//!
//! [`Catalog::validate_claim`] is the semantic check an issuer runs before signing and a verifier
//! runs after decoding: scheme and version known, level exists, provision bits within the list,
//! required provisions present, assessment kind allowed at the level, dates in order, validity
//! not longer than the scheme allows. Every error names the claim field at fault.
//!
//! JSON shape (all of `catalog/schemes.json`; an issuing body's own file may hold any subset,
//! then [`Catalog::merge`] it into [`Catalog::builtin`]):
//!
//! ```json
//! { "format": "cyberlabel-catalog@1",
//!   "baselines": [{ "id": "ETSI-EN-303-645-v3", "title": "…",
//!                   "provisions": [{ "id": "5.0-1", "title": "…", "kind": "M" }] }],
//!   "categories": [{ "code": 1, "name": "Smart camera" }],
//!   "schemes": [{ "id": "XL-DEMO", "version": 1, "name": "…", "owner": "…", "country": "XL",
//!                 "kind": "multi_level",                 // or "binary" | "descriptive"
//!                 "baseline": "ETSI-EN-303-645-v3",       // or an inline "provisions" list
//!                 "levels": [{ "level": 1, "name": "…", "meaning": "plain words",
//!                              "assessment": ["self_declared", "third_party"],
//!                              "requires": ["5.1-1"], "max_validity_days": 730 }],
//!                 "validity": { "max_days": 1095, "tied_to_support": true },
//!                 "sources": [{ "key": "L1", "reference": "https://…" }], "note": "…" }],
//!   "labs": [{ "scheme": "XL-DEMO", "code": 1, "id": "XL-LAB-1", "name": "…" }] }
//! ```

use serde::Serialize;

use crate::claim::{Assessment, AssessmentKind, Claim, ClaimError, Field};
use crate::json::{self, FromJson, Node, Obj};

/// The builtin catalog's JSON.
pub const BUILTIN_JSON: &str = include_str!("../catalog/schemes.json");
/// Largest catalog JSON accepted by [`Catalog::from_json`].
pub const MAX_CATALOG_JSON: usize = 1 << 20;
/// Most provisions a scheme version may list (the claim bitset is at most 32 bytes).
pub const MAX_PROVISIONS: usize = 256;
use crate::dates::DAY;

/// Why a catalog could not be loaded, or a claim does not fit it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// JSON larger than [`MAX_CATALOG_JSON`].
    #[error("catalog JSON is too large")]
    TooLarge,
    /// Not valid catalog JSON (position of the error).
    #[error("catalog JSON is invalid at line {line}, column {column}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// The catalog data itself is inconsistent.
    #[error("catalog data is inconsistent: {0}")]
    Inconsistent(Inconsistency),
    /// The claim violates a wire-format rule.
    #[error("{0}")]
    Claim(#[from] ClaimError),
    /// No scheme with the claim's id.
    #[error("claim field scheme: unknown scheme")]
    UnknownScheme,
    /// The scheme exists but not in the claim's catalog version.
    #[error("claim field catalog_version: unknown version of the scheme")]
    UnknownVersion,
    /// The level is not defined by the scheme.
    #[error("claim field level: not a level of the scheme")]
    UnknownLevel,
    /// The product category code is not in the catalog.
    #[error("claim field category: unknown product category")]
    UnknownCategory,
    /// A provision bit beyond the scheme's provision list.
    #[error("claim field provisions: bit {index} is outside the scheme's provision list")]
    ProvisionOutOfRange {
        /// The offending bit index.
        index: u8,
    },
    /// A provision the level requires is not claimed.
    #[error("claim field provisions: required provision {index} of the level is not met")]
    MissingRequiredProvision {
        /// Index of the missing provision in the scheme's list.
        index: u8,
    },
    /// The lab code is not in the catalog's lab list for the scheme.
    #[error("claim field lab: lab code {code} is not in the scheme's lab list")]
    UnknownLab {
        /// The lab code the claim carries.
        code: u16,
    },
    /// The assessment kind is not allowed at this level.
    #[error("claim field assessment: this assessment kind is not allowed at this level")]
    AssessmentNotAllowed,
    /// Support ends before the label is issued.
    #[error("claim field support_end: security support ends before issuance")]
    SupportEndsBeforeIssue,
    /// The scheme ties validity to support, but the label outlives support.
    #[error(
        "claim field expires_at: the scheme ties validity to security support, which ends earlier"
    )]
    ExpiresAfterSupportEnd,
    /// Validity longer than the scheme (or level) allows.
    #[error("claim field expires_at: validity exceeds the scheme's maximum of {max_days} days")]
    ValidityTooLong {
        /// The maximum allowed, in days.
        max_days: u32,
    },
}

impl CatalogError {
    /// The claim field at fault, for claim validation errors.
    pub fn field(&self) -> Option<Field> {
        Some(match self {
            CatalogError::UnknownScheme => Field::Scheme,
            CatalogError::UnknownVersion => Field::CatalogVersion,
            CatalogError::UnknownLevel => Field::Level,
            CatalogError::UnknownCategory => Field::Category,
            CatalogError::ProvisionOutOfRange { .. }
            | CatalogError::MissingRequiredProvision { .. } => Field::Provisions,
            CatalogError::AssessmentNotAllowed => Field::Assessment,
            CatalogError::SupportEndsBeforeIssue => Field::SupportEnd,
            CatalogError::ExpiresAfterSupportEnd | CatalogError::ValidityTooLong { .. } => {
                Field::ExpiresAt
            }
            CatalogError::Claim(
                ClaimError::Missing(f)
                | ClaimError::WrongType(f)
                | ClaimError::TooLong(f)
                | ClaimError::Empty(f)
                | ClaimError::Unprintable(f)
                | ClaimError::TooLarge(f)
                | ClaimError::NotCanonical(f),
            ) => *f,
            CatalogError::Claim(ClaimError::DatesOutOfOrder) => Field::ExpiresAt,
            CatalogError::Claim(ClaimError::SupersedesNotEarlier) => Field::Supersedes,
            CatalogError::Claim(ClaimError::BadProvisions) => Field::Provisions,
            CatalogError::UnknownLab { .. } => Field::Lab,
            _ => return None,
        })
    }
}

/// What is inconsistent in catalog data.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Inconsistency {
    /// A scheme names a baseline the catalog does not have.
    #[error("unknown baseline")]
    UnknownBaseline,
    /// A scheme has both a baseline and an inline provision list.
    #[error("scheme has both a baseline and inline provisions")]
    BaselineAndProvisions,
    /// More than [`MAX_PROVISIONS`] provisions.
    #[error("too many provisions")]
    TooManyProvisions,
    /// A provision id twice in one list.
    #[error("duplicate provision id")]
    DuplicateProvision,
    /// A level requires a provision id that is not in the scheme's list.
    #[error("level requires an unknown provision")]
    UnknownRequiredProvision,
    /// Two levels with one number, level 0, or no levels.
    #[error("bad level numbering")]
    BadLevels,
    /// A level allows no assessment kind.
    #[error("level allows no assessment kind")]
    NoAssessment,
    /// The same (scheme, version) twice with different content.
    #[error("conflicting scheme versions")]
    ConflictingScheme,
    /// The same category code twice with different names.
    #[error("conflicting category codes")]
    ConflictingCategory,
    /// The same baseline id twice with different content.
    #[error("conflicting baselines")]
    ConflictingBaseline,
    /// An empty id or name.
    #[error("empty identifier")]
    EmptyId,
    /// A lab with code 0, or two labs of one scheme with the same code or id.
    #[error("lab code 0, or a lab code or id twice in one scheme")]
    BadLab,
    /// The same (scheme, lab code) twice with different content.
    #[error("conflicting lab entries")]
    ConflictingLab,
}

/// One provision in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provision {
    /// The provision id, e.g. `5.1-1`.
    pub id: String,
    /// A short title.
    pub title: String,
    /// Status in the source standard (e.g. `M`, `R F (g)`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A shared provision list (e.g. ETSI EN 303 645) that schemes can reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Baseline {
    /// Identifier referenced by `Scheme::baseline`.
    pub id: String,
    /// Full title.
    pub title: String,
    /// Caveats about the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Source keys.
    #[serde(default)]
    pub sources: Vec<String>,
    /// The provisions, in bitset order.
    pub provisions: Vec<Provision>,
}

/// A product category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    /// The code carried in claims (key 8).
    pub code: u16,
    /// Plain-language name.
    pub name: String,
    /// Scope remarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A test lab a scheme owner recognises for third-party assessment. Claims carry its `code`
/// (claim key 13); verifiers show its `name` and `id`. Codes are per scheme, start at 1 and are
/// never reused: a lab whose recognition ends keeps its entry (with a `note`), since labels
/// it assessed still name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lab {
    /// The scheme id whose list this lab is in.
    pub scheme: String,
    /// The code carried in claims, ≥ 1.
    pub code: u16,
    /// The lab's identifier as the scheme owner lists it (what product descriptions give).
    pub id: String,
    /// The lab's name, shown to people.
    pub name: String,
    /// Remarks (e.g. recognition withdrawn on a date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The shape of a scheme (ISO/IEC 27404 multi-level, binary, or descriptive).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemeKind {
    /// Several levels (e.g. CLS 1–4).
    MultiLevel,
    /// Pass or no label (level 1 = pass).
    Binary,
    /// A descriptive label without levels (level 1).
    Descriptive,
}

/// A level of a scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Level {
    /// The number carried in claims (key 3); binary and descriptive schemes use 1.
    pub level: u8,
    /// Display name, e.g. `Level 2` or `★1`.
    pub name: String,
    /// What the level means, in plain words for consumers.
    pub meaning: String,
    /// Assessment kinds allowed at this level.
    pub assessment: Vec<AssessmentKind>,
    /// Provision ids a claim at this level must include (empty: not specified).
    #[serde(default)]
    pub requires: Vec<String>,
    /// Overrides the scheme's `validity.max_days` for this level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_validity_days: Option<u32>,
    /// Remarks, e.g. where a fact was not found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Validity rules of a scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Validity {
    /// Longest allowed `expires_at - issued_at`, in days (None: no published maximum).
    pub max_days: Option<u32>,
    /// Whether a label may not outlive the product's security support (`expires_at <= support_end`).
    pub tied_to_support: bool,
    /// Remarks (renewal windows, lapses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A source reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// Short key, as in the domain notes.
    pub key: String,
    /// URL or citation.
    pub reference: String,
}

/// One version of a labelling scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scheme {
    /// Scheme id carried in claims (key 1), e.g. `SG-CLS`.
    pub id: String,
    /// Catalog version carried in claims (key 2).
    pub version: u32,
    /// Full name.
    pub name: String,
    /// The scheme owner / issuing authority.
    pub owner: String,
    /// ISO 3166 alpha-2 country code.
    pub country: String,
    /// Multi-level, binary or descriptive.
    pub kind: SchemeKind,
    /// The baseline whose list is this scheme's provision list, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// The provision list the claim bitset indexes (filled from `baseline` on load).
    #[serde(default)]
    pub provisions: Vec<Provision>,
    /// The levels.
    pub levels: Vec<Level>,
    /// Validity rules.
    pub validity: Validity,
    /// Remarks, e.g. which facts are not public.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Where the facts come from.
    #[serde(default)]
    pub sources: Vec<Source>,
}

impl Scheme {
    /// The level with number `n`.
    pub fn level(&self, n: u8) -> Option<&Level> {
        self.levels.iter().find(|l| l.level == n)
    }

    /// The provision at bitset index `i`.
    pub fn provision(&self, i: u8) -> Option<&Provision> {
        self.provisions.get(usize::from(i))
    }

    /// The bitset index of provision `id`.
    pub fn provision_index(&self, id: &str) -> Option<u8> {
        self.provisions
            .iter()
            .position(|p| p.id == id)
            .and_then(|i| u8::try_from(i).ok())
    }
}

/// The catalog: baselines, categories and scheme versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Catalog {
    /// Format marker, `cyberlabel-catalog@1`.
    #[serde(default)]
    pub format: String,
    /// Remarks about the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Shared provision lists.
    #[serde(default)]
    pub baselines: Vec<Baseline>,
    /// Product categories.
    #[serde(default)]
    pub categories: Vec<Category>,
    /// Scheme versions.
    #[serde(default)]
    pub schemes: Vec<Scheme>,
    /// Recognised test labs, per scheme id (independent of scheme versions).
    #[serde(default)]
    pub labs: Vec<Lab>,
}

fn bad(i: Inconsistency) -> CatalogError {
    CatalogError::Inconsistent(i)
}

impl Catalog {
    /// The catalog shipped with cyberlabel (`catalog/schemes.json`). Its validity is checked by
    /// the tests; should it ever fail to load, the result is empty (every claim is then
    /// rejected as an unknown scheme, never accepted).
    pub fn builtin() -> Catalog {
        Catalog::from_json(BUILTIN_JSON).unwrap_or_default()
    }

    /// Loads and checks a catalog from JSON (the format of `catalog/schemes.json`).
    ///
    /// # Errors
    /// [`CatalogError::TooLarge`], [`CatalogError::Json`] or [`CatalogError::Inconsistent`].
    pub fn from_json(json: &str) -> Result<Catalog, CatalogError> {
        if json.len() > MAX_CATALOG_JSON {
            return Err(CatalogError::TooLarge);
        }
        let mut c = json::parse(json)
            .and_then(|n| Catalog::from_json_node(&n))
            .map_err(|e| {
                let (line, column) = json::line_col(json, e.offset);
                CatalogError::Json { line, column }
            })?;
        c.resolve()?;
        Ok(c)
    }

    /// Serializes the (resolved) catalog to JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Fills provision lists from baselines and checks consistency.
    fn resolve(&mut self) -> Result<(), CatalogError> {
        for (i, b) in self.baselines.iter().enumerate() {
            if b.id.is_empty() {
                return Err(bad(Inconsistency::EmptyId));
            }
            if self.baselines[..i].iter().any(|o| o.id == b.id) {
                return Err(bad(Inconsistency::ConflictingBaseline));
            }
        }
        for (i, c) in self.categories.iter().enumerate() {
            if c.name.is_empty() {
                return Err(bad(Inconsistency::EmptyId));
            }
            if self.categories[..i].iter().any(|o| o.code == c.code) {
                return Err(bad(Inconsistency::ConflictingCategory));
            }
        }
        for (i, l) in self.labs.iter().enumerate() {
            if l.scheme.is_empty() || l.id.is_empty() || l.name.is_empty() {
                return Err(bad(Inconsistency::EmptyId));
            }
            if l.code == 0
                || self.labs[..i].iter().any(|o| {
                    o.scheme == l.scheme && (o.code == l.code || o.id.eq_ignore_ascii_case(&l.id))
                })
            {
                return Err(bad(Inconsistency::BadLab));
            }
        }
        for i in 0..self.schemes.len() {
            if let Some(bid) = self.schemes[i].baseline.clone() {
                let base = self
                    .baselines
                    .iter()
                    .find(|b| b.id == bid)
                    .ok_or(bad(Inconsistency::UnknownBaseline))?;
                let s = &mut self.schemes[i];
                if s.provisions.is_empty() {
                    s.provisions = base.provisions.clone();
                } else if s.provisions != base.provisions {
                    return Err(bad(Inconsistency::BaselineAndProvisions));
                }
            }
            let s = &self.schemes[i];
            if s.id.is_empty() || s.name.is_empty() {
                return Err(bad(Inconsistency::EmptyId));
            }
            if self.schemes[..i]
                .iter()
                .any(|o| o.id == s.id && o.version == s.version)
            {
                return Err(bad(Inconsistency::ConflictingScheme));
            }
            check_scheme(s)?;
        }
        Ok(())
    }

    /// Adds the baselines, categories and scheme versions of `other`. Identical duplicates
    /// are skipped; a conflicting one (same id/code, different content) is an error and leaves
    /// `self` unchanged.
    ///
    /// # Errors
    /// [`CatalogError::Inconsistent`] on conflict.
    pub fn merge(&mut self, other: Catalog) -> Result<(), CatalogError> {
        let mut merged = self.clone();
        for b in other.baselines {
            match merged.baselines.iter().find(|o| o.id == b.id) {
                Some(o) if *o == b => {}
                Some(_) => return Err(bad(Inconsistency::ConflictingBaseline)),
                None => merged.baselines.push(b),
            }
        }
        for c in other.categories {
            match merged.categories.iter().find(|o| o.code == c.code) {
                Some(o) if *o == c => {}
                Some(_) => return Err(bad(Inconsistency::ConflictingCategory)),
                None => merged.categories.push(c),
            }
        }
        for l in other.labs {
            match merged
                .labs
                .iter()
                .find(|o| o.scheme == l.scheme && o.code == l.code)
            {
                Some(o) if *o == l => {}
                Some(_) => return Err(bad(Inconsistency::ConflictingLab)),
                None => merged.labs.push(l),
            }
        }
        for s in other.schemes {
            match merged
                .schemes
                .iter()
                .find(|o| o.id == s.id && o.version == s.version)
            {
                Some(o) if *o == s => {}
                Some(_) => return Err(bad(Inconsistency::ConflictingScheme)),
                None => merged.schemes.push(s),
            }
        }
        merged.resolve()?;
        *self = merged;
        Ok(())
    }

    /// The scheme `id` in catalog version `version`.
    pub fn scheme(&self, id: &str, version: u32) -> Option<&Scheme> {
        self.schemes
            .iter()
            .find(|s| s.id == id && s.version == version)
    }

    /// The newest version of scheme `id`.
    pub fn latest(&self, id: &str) -> Option<&Scheme> {
        self.schemes
            .iter()
            .filter(|s| s.id == id)
            .max_by_key(|s| s.version)
    }

    /// The category with code `code`.
    pub fn category(&self, code: u16) -> Option<&Category> {
        self.categories.iter().find(|c| c.code == code)
    }

    /// The lab with code `code` in scheme `scheme`'s lab list.
    pub fn lab(&self, scheme: &str, code: u16) -> Option<&Lab> {
        self.labs
            .iter()
            .find(|l| l.scheme == scheme && l.code == code)
    }

    /// The labs of scheme `scheme`, in code order of the file.
    pub fn labs_of<'a>(&'a self, scheme: &'a str) -> impl Iterator<Item = &'a Lab> + 'a {
        self.labs.iter().filter(move |l| l.scheme == scheme)
    }

    /// The scheme and level a claim refers to, if both exist.
    pub fn level_of(&self, claim: &Claim) -> Option<(&Scheme, &Level)> {
        let s = self.scheme(&claim.scheme, claim.catalog_version)?;
        Some((s, s.level(claim.level)?))
    }

    /// Checks a claim against the catalog (see the module docs).
    ///
    /// # Errors
    /// The first violation; [`CatalogError::field`] names the claim field.
    pub fn validate_claim(&self, claim: &Claim) -> Result<(), CatalogError> {
        claim.check()?;
        let scheme = match self.scheme(&claim.scheme, claim.catalog_version) {
            Some(s) => s,
            None if self.schemes.iter().any(|s| s.id == claim.scheme) => {
                return Err(CatalogError::UnknownVersion);
            }
            None => return Err(CatalogError::UnknownScheme),
        };
        let level = scheme
            .level(claim.level)
            .ok_or(CatalogError::UnknownLevel)?;
        if self.category(claim.category).is_none() {
            return Err(CatalogError::UnknownCategory);
        }
        if let Some(index) = claim
            .provisions
            .iter()
            .find(|&i| usize::from(i) >= scheme.provisions.len())
        {
            return Err(CatalogError::ProvisionOutOfRange { index });
        }
        for id in &level.requires {
            // check_scheme guarantees every required id is in the list.
            if let Some(index) = scheme.provision_index(id)
                && !claim.provisions.contains(index)
            {
                return Err(CatalogError::MissingRequiredProvision { index });
            }
        }
        if !level.assessment.contains(&claim.assessment.kind()) {
            return Err(CatalogError::AssessmentNotAllowed);
        }
        if let Assessment::ThirdParty { lab } = claim.assessment
            && self.lab(&claim.scheme, lab).is_none()
        {
            return Err(CatalogError::UnknownLab { code: lab });
        }
        if claim.support_end < claim.issued_at {
            return Err(CatalogError::SupportEndsBeforeIssue);
        }
        // expires_at is the first invalid moment, support_end the last supported second.
        if scheme.validity.tied_to_support && claim.expires_at > claim.support_end.saturating_add(1)
        {
            return Err(CatalogError::ExpiresAfterSupportEnd);
        }
        // claim.check() guarantees expires_at > issued_at, so the subtraction cannot wrap.
        if let Some(max_days) = level.max_validity_days.or(scheme.validity.max_days)
            && claim.expires_at - claim.issued_at > u64::from(max_days) * DAY
        {
            return Err(CatalogError::ValidityTooLong { max_days });
        }
        Ok(())
    }
}

fn check_scheme(s: &Scheme) -> Result<(), CatalogError> {
    if s.provisions.len() > MAX_PROVISIONS {
        return Err(bad(Inconsistency::TooManyProvisions));
    }
    for (i, p) in s.provisions.iter().enumerate() {
        if p.id.is_empty() {
            return Err(bad(Inconsistency::EmptyId));
        }
        if s.provisions[..i].iter().any(|o| o.id == p.id) {
            return Err(bad(Inconsistency::DuplicateProvision));
        }
    }
    if s.levels.is_empty() {
        return Err(bad(Inconsistency::BadLevels));
    }
    for (i, l) in s.levels.iter().enumerate() {
        if l.level == 0 || s.levels[..i].iter().any(|o| o.level == l.level) {
            return Err(bad(Inconsistency::BadLevels));
        }
        if l.assessment.is_empty() {
            return Err(bad(Inconsistency::NoAssessment));
        }
        if l.requires.iter().any(|r| s.provision_index(r).is_none()) {
            return Err(bad(Inconsistency::UnknownRequiredProvision));
        }
    }
    Ok(())
}

// Reading the catalog from JSON (`crate::json`: one small reader, not a serde-derived parser
// per struct). Keys and defaults are those of the serde attributes above, which still write it.

impl FromJson for Provision {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        let o = Obj::of(n)?;
        Ok(Provision {
            id: o.req("id")?,
            title: o.req("title")?,
            kind: o.opt("kind")?,
        })
    }
}

impl FromJson for Baseline {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        let o = Obj::of(n)?;
        Ok(Baseline {
            id: o.req("id")?,
            title: o.req("title")?,
            note: o.opt("note")?,
            sources: o.or_default("sources")?,
            provisions: o.req("provisions")?,
        })
    }
}

impl FromJson for Category {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        let o = Obj::of(n)?;
        Ok(Category {
            code: o.req("code")?,
            name: o.req("name")?,
            note: o.opt("note")?,
        })
    }
}

impl FromJson for Lab {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        let o = Obj::of(n)?;
        Ok(Lab {
            scheme: o.req("scheme")?,
            code: o.req("code")?,
            id: o.req("id")?,
            name: o.req("name")?,
            note: o.opt("note")?,
        })
    }
}

impl FromJson for SchemeKind {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        Ok(
            match json::one_of(n, &["multi_level", "binary", "descriptive"])? {
                0 => SchemeKind::MultiLevel,
                1 => SchemeKind::Binary,
                _ => SchemeKind::Descriptive,
            },
        )
    }
}

impl FromJson for AssessmentKind {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        Ok(match json::one_of(n, &["self_declared", "third_party"])? {
            0 => AssessmentKind::SelfDeclared,
            _ => AssessmentKind::ThirdParty,
        })
    }
}

impl FromJson for Level {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        let o = Obj::of(n)?;
        Ok(Level {
            level: o.req("level")?,
            name: o.req("name")?,
            meaning: o.req("meaning")?,
            assessment: o.req("assessment")?,
            requires: o.or_default("requires")?,
            max_validity_days: o.opt("max_validity_days")?,
            note: o.opt("note")?,
        })
    }
}

impl FromJson for Validity {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        let o = Obj::of(n)?;
        Ok(Validity {
            max_days: o.opt("max_days")?,
            tied_to_support: o.req("tied_to_support")?,
            note: o.opt("note")?,
        })
    }
}

impl FromJson for Source {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        let o = Obj::of(n)?;
        Ok(Source {
            key: o.req("key")?,
            reference: o.req("reference")?,
        })
    }
}

impl FromJson for Scheme {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        let o = Obj::of(n)?;
        Ok(Scheme {
            id: o.req("id")?,
            version: o.req("version")?,
            name: o.req("name")?,
            owner: o.req("owner")?,
            country: o.req("country")?,
            kind: o.req("kind")?,
            baseline: o.opt("baseline")?,
            provisions: o.or_default("provisions")?,
            levels: o.req("levels")?,
            validity: o.req("validity")?,
            note: o.opt("note")?,
            sources: o.or_default("sources")?,
        })
    }
}

impl Catalog {
    fn from_json_node(n: &Node) -> Result<Self, json::Error> {
        let o = Obj::of(n)?;
        Ok(Catalog {
            format: o.or_default("format")?,
            note: o.opt("note")?,
            baselines: o.or_default("baselines")?,
            categories: o.or_default("categories")?,
            schemes: o.or_default("schemes")?,
            labs: o.or_default("labs")?,
        })
    }
}
