//! The product description an issuing body fills in (JSON or TOML file, or CLI flags).
//!
//! It names things the way people do — the scheme id, a level number or name, provision ids such
//! as `"5.1-1"`, a category code or name, dates as `YYYY-MM-DD` — and [`crate::mint`] resolves
//! them against the scheme catalog into a [`cyberlabel_core::claim::Claim`]. Unknown fields are
//! errors (a typo must not silently drop a field from a signed label).
//!
//! Example (TOML):
//! ```toml
//! scheme = "SG-CLS"
//! level = 2
//! manufacturer = "Acme Devices Pte Ltd"
//! product = "Acme SmartCam 2 Outdoor Pro 4K"
//! hardware_versions = "rev B, rev C"
//! firmware_versions = ">= 2.4.0"
//! category = "camera"              # or the numeric code
//! provisions = ["5.1-1", "5.1-2", "5.2-1", "5.3-2", "5.3-13", "5.3-16"]
//! assessment = "third_party"       # or "self_declared"
//! lab = "SG-LAB-007"               # required iff third_party
//! issued_at = "2026-11-25"         # optional: default = today
//! expires_at = "2029-11-25"        # optional: default = the scheme's maximum validity
//! support_until = "2030-12-31"
//! ```

use serde::{Deserialize, Serialize};

/// A scheme level, by number (`2`) or by name (`"Basic"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LevelRef {
    /// The level number in the scheme (binary/descriptive schemes: 1 = pass).
    Number(u8),
    /// The level's name in the catalog (case-insensitive).
    Name(String),
}

/// A product category, by catalog code (`1`) or name (`"camera"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CategoryRef {
    /// The category code.
    Code(u16),
    /// The category name in the catalog (case-insensitive).
    Name(String),
}

/// How conformity was assessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentRef {
    /// Manufacturer's self-declaration.
    SelfDeclared,
    /// Third-party lab (give `lab`).
    ThirdParty,
}

/// What the issuer is asked to certify. See the module docs for an example file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductDescription {
    /// Scheme id in the catalog, e.g. `SG-CLS`.
    pub scheme: String,
    /// Level reached.
    pub level: LevelRef,
    /// Manufacturer name (≤ 64 characters).
    pub manufacturer: String,
    /// Product / model designation (≤ 64 characters).
    pub product: String,
    /// Hardware versions covered (≤ 32 characters).
    pub hardware_versions: String,
    /// Firmware versions covered (≤ 32 characters).
    pub firmware_versions: String,
    /// Product category.
    pub category: CategoryRef,
    /// Provisions met, by id as in the scheme's catalog entry (e.g. `"5.1-1"`).
    pub provisions: Vec<String>,
    /// Assessment kind.
    pub assessment: AssessmentRef,
    /// Lab id; required exactly when `assessment = "third_party"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab: Option<String>,
    /// Issue date (`YYYY-MM-DD`); default: the issuing time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
    /// Expiry date (`YYYY-MM-DD`); default: issued + the scheme's maximum validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Last day of security support (`YYYY-MM-DD`).
    pub support_until: String,
    /// Log index of the label this one renews.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<u64>,
}

/// Why a product file could not be parsed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ProductFileError {
    /// JSON syntax or a field error (serde_json names the field, line and column).
    #[error("invalid product JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// TOML syntax or a field error (toml names the field and position).
    #[error("invalid product TOML: {0}")]
    Toml(String),
}

impl ProductDescription {
    /// Parses a JSON product description.
    ///
    /// # Errors
    /// [`ProductFileError::Json`] naming the bad field, line and column.
    pub fn from_json(text: &str) -> Result<Self, ProductFileError> {
        Ok(serde_json::from_str(text)?)
    }

    /// Parses a TOML product description.
    ///
    /// # Errors
    /// [`ProductFileError::Toml`] naming the bad field and position.
    pub fn from_toml(text: &str) -> Result<Self, ProductFileError> {
        toml::from_str(text).map_err(|e| ProductFileError::Toml(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"
scheme = "SG-CLS"
level = 2
manufacturer = "Acme"
product = "Cam"
hardware_versions = "B"
firmware_versions = "2.4"
category = "camera"
provisions = ["5.1-1"]
assessment = "third_party"
lab = "LAB-1"
support_until = "2030-12-31"
"#;

    #[test]
    fn toml_and_json_agree() {
        let t = ProductDescription::from_toml(TOML).unwrap();
        assert_eq!(t.level, LevelRef::Number(2));
        assert_eq!(t.category, CategoryRef::Name("camera".into()));
        let j = ProductDescription::from_json(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(t, j);
    }

    #[test]
    fn errors_name_the_field() {
        let err = ProductDescription::from_json(r#"{"scheme": "SG-CLS", "levle": 2}"#).unwrap_err();
        assert!(err.to_string().contains("levle"), "{err}");
        let err = ProductDescription::from_toml(&TOML.replace("lab = ", "labb = ")).unwrap_err();
        assert!(err.to_string().contains("labb"), "{err}");
        let err = ProductDescription::from_json(r#"{"scheme": "SG-CLS"}"#).unwrap_err();
        assert!(err.to_string().contains("level"), "{err}");
    }
}
