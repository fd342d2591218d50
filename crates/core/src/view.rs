//! The label as people and programs see it: one view of a claim in the catalog's words, built
//! here once and used unchanged by the API (`GET /labels/N`), the CLI's `--json` and the verifier
//! page, so every surface names the same fields and shows the same days.
//!
//! Dates are whole days (FORMATS §1): each is given as the Unix time the claim carries and as
//! the label's own day (`YYYY-MM-DD`), which is what people are shown, in every time zone.
//! `valid_through` is the last day the label is valid (the claim's expires-on is the first day it
//! is not).

use serde::Serialize;

use crate::catalog::{Catalog, SchemeKind};
use crate::claim::{Assessment, Claim};
use crate::dates::{DAY, format_date};
use crate::trust::{Effect, TrustList};

/// A provision the label says the product meets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProvisionView {
    /// Provision id in the scheme's baseline (e.g. `5.1-1`), or `#<bit>` if unknown.
    pub id: String,
    /// Short title from the catalog.
    pub title: Option<String>,
}

/// A claim in the catalog's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelView {
    /// Log index = serial.
    pub serial: u64,
    /// Scheme id (`SG-CLS`).
    pub scheme: String,
    /// Scheme name from the catalog.
    pub scheme_name: Option<String>,
    /// The body that owns the scheme.
    pub scheme_owner: Option<String>,
    /// The scheme's country (ISO 3166 code).
    pub scheme_country: Option<String>,
    /// The country in English words.
    pub scheme_country_name: Option<&'static str>,
    /// Catalog version the level and provisions refer to.
    pub catalog_version: u32,
    /// Level number (binary and descriptive schemes: 1).
    pub level: u8,
    /// How many levels the scheme has (the scale: level 2 *of 4*); 1 for pass/fail schemes.
    pub levels_in_scheme: Option<u8>,
    /// `multi_level`, `binary` or `descriptive`.
    pub scheme_kind: Option<&'static str>,
    /// Level name from the catalog.
    pub level_name: Option<String>,
    /// What the level means, from the catalog.
    pub level_meaning: Option<String>,
    /// Manufacturer.
    pub manufacturer: String,
    /// Product / model.
    pub product: String,
    /// Hardware versions covered.
    pub hardware_versions: String,
    /// Firmware versions covered.
    pub firmware_versions: String,
    /// Product category code.
    pub category: u16,
    /// Category name from the catalog.
    pub category_name: Option<String>,
    /// Issue day, 00:00 UTC, Unix seconds.
    pub issued_at: u64,
    /// First day no longer valid, 00:00 UTC, Unix seconds.
    pub expires_at: u64,
    /// Last second of the last supported day, Unix seconds.
    pub support_end: u64,
    /// Issue day.
    pub issued_on: String,
    /// Last day the label is valid.
    pub valid_through: String,
    /// Last day with security updates.
    pub support_until: String,
    /// Provisions met.
    pub provisions: Vec<ProvisionView>,
    /// `self_declared` or `third_party`.
    pub assessment: &'static str,
    /// The lab's id from the catalog (e.g. `SG-LAB-007`), for third-party assessment; `#<code>`
    /// if this catalog does not list the lab's code.
    pub lab: Option<String>,
    /// The lab's code as the claim carries it.
    pub lab_code: Option<u16>,
    /// The lab's name from the catalog.
    pub lab_name: Option<String>,
    /// In words: who assessed the product.
    pub assessment_text: String,
    /// Log index of the label this one renews.
    pub supersedes: Option<u64>,
}

/// English name of a country code the catalog uses (codes it does not know stay codes).
#[must_use]
pub fn country_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "SG" => "Singapore",
        "US" => "the United States",
        "DE" => "Germany",
        "FI" => "Finland",
        "JP" => "Japan",
        "KR" => "South Korea",
        "GB" | "UK" => "the United Kingdom",
        "EU" => "the European Union",
        "AU" => "Australia",
        "NL" => "the Netherlands",
        _ => return None,
    })
}

impl LabelView {
    /// The view of `claim` with the words of `catalog`.
    #[must_use]
    pub fn of(claim: &Claim, catalog: &Catalog) -> Self {
        let scheme = catalog.scheme(&claim.scheme, claim.catalog_version);
        let level = scheme.and_then(|s| s.level(claim.level));
        let provisions = claim
            .provisions
            .iter()
            .map(|i| match scheme.and_then(|s| s.provision(i)) {
                Some(p) => ProvisionView {
                    id: p.id.clone(),
                    title: Some(p.title.clone()),
                },
                None => ProvisionView {
                    id: format!("#{i}"),
                    title: None,
                },
            })
            .collect();
        let (assessment, lab_code, lab, lab_name, assessment_text) = match claim.assessment {
            Assessment::SelfDeclared => (
                "self_declared",
                None,
                None,
                None,
                "Self-declared by the manufacturer".to_owned(),
            ),
            Assessment::ThirdParty { lab: code } => match catalog.lab(&claim.scheme, code) {
                Some(l) => (
                    "third_party",
                    Some(code),
                    Some(l.id.clone()),
                    Some(l.name.clone()),
                    format!("Tested by an independent lab: {} ({})", l.name, l.id),
                ),
                None => (
                    "third_party",
                    Some(code),
                    Some(format!("#{code}")),
                    None,
                    format!("Tested by an independent lab (code {code}, not in this catalog)"),
                ),
            },
        };
        LabelView {
            serial: claim.serial,
            scheme: claim.scheme.clone(),
            scheme_name: scheme.map(|s| s.name.clone()),
            scheme_owner: scheme.map(|s| s.owner.clone()),
            scheme_country: scheme.map(|s| s.country.clone()),
            scheme_country_name: scheme.and_then(|s| country_name(&s.country)),
            catalog_version: claim.catalog_version,
            level: claim.level,
            levels_in_scheme: scheme.map(|s| u8::try_from(s.levels.len()).unwrap_or(u8::MAX)),
            scheme_kind: scheme.map(|s| kind_name(s.kind)),
            level_name: level.map(|l| l.name.clone()),
            level_meaning: level.map(|l| l.meaning.clone()),
            manufacturer: claim.manufacturer.clone(),
            product: claim.product.clone(),
            hardware_versions: claim.hardware_versions.clone(),
            firmware_versions: claim.firmware_versions.clone(),
            category: claim.category,
            category_name: catalog.category(claim.category).map(|c| c.name.clone()),
            issued_at: claim.issued_at,
            expires_at: claim.expires_at,
            support_end: claim.support_end,
            issued_on: format_date(claim.issued_at),
            valid_through: format_date(claim.expires_at.saturating_sub(DAY)),
            support_until: format_date(claim.support_end),
            provisions,
            assessment,
            lab,
            lab_code,
            lab_name,
            assessment_text,
            supersedes: claim.supersedes,
        }
    }
}

fn kind_name(kind: SchemeKind) -> &'static str {
    match kind {
        SchemeKind::MultiLevel => "multi_level",
        SchemeKind::Binary => "binary",
        SchemeKind::Descriptive => "descriptive",
    }
}

/// A partner scheme that recognises the label, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EquivalentView {
    /// Partner scheme id.
    pub to_scheme: String,
    /// Level the label counts as there.
    pub to_level: u8,
    /// Partner scheme name from the catalog.
    pub to_scheme_name: Option<String>,
    /// The body that owns the partner scheme.
    pub to_scheme_owner: Option<String>,
    /// The partner scheme's country (ISO 3166 code).
    pub to_country: Option<String>,
    /// `multi_level`, `binary` or `descriptive`.
    pub to_scheme_kind: Option<&'static str>,
    /// The level's name there, from the catalog.
    pub to_level_name: Option<String>,
    /// `recognised`, `simplified_application` or `requirement_waiver`.
    pub effect: Effect,
    /// One plain sentence: "Recognised in Germany as: IT security label (BSI), Level 1".
    pub text: String,
    /// The arrangement it rests on (for the curious; not shown as the headline).
    pub basis: String,
}

/// The partner schemes that recognise `claim` at `now` under `trust`'s equivalence table.
#[must_use]
pub fn equivalents(
    claim: &Claim,
    trust: &TrustList,
    catalog: &Catalog,
    now: u64,
) -> Vec<EquivalentView> {
    trust
        .equivalents(&claim.scheme, claim.level, claim.category, now)
        .into_iter()
        .map(|e| {
            let to = catalog.latest(&e.to_scheme);
            let name = to.map_or(e.to_scheme.as_str(), |s| s.name.as_str());
            let level = to
                .and_then(|s| s.level(e.to_level))
                .map_or_else(|| format!("level {}", e.to_level), |l| l.name.clone());
            let place = to
                .and_then(|s| country_name(&s.country))
                .map_or_else(String::new, |c| format!(" in {c}"));
            let text = match e.effect {
                Effect::Recognised => format!("Recognised{place} as: {name}, {level}"),
                Effect::SimplifiedApplication => {
                    format!("Simplified application{place} for: {name}, {level}")
                }
                Effect::RequirementWaiver => {
                    format!("Some requirements waived{place} for: {name}, {level}")
                }
            };
            EquivalentView {
                to_scheme: e.to_scheme.clone(),
                to_level: e.to_level,
                to_scheme_name: to.map(|s| s.name.clone()),
                to_scheme_owner: to.map(|s| s.owner.clone()),
                to_country: to.map(|s| s.country.clone()),
                to_scheme_kind: to.map(|s| kind_name(s.kind)),
                to_level_name: to.and_then(|s| s.level(e.to_level)).map(|l| l.name.clone()),
                effect: e.effect,
                text,
                basis: e.basis.clone(),
            }
        })
        .collect()
}
