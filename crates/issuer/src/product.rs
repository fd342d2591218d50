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
//! assessment = "third_party"       # or "self_declared" ("third-party" is accepted too)
//! lab = "SG-LAB-007"               # required iff third_party
//! issued_at = "2026-11-25"         # optional: default = today
//! expires_at = "2029-11-25"        # optional: default = the scheme's maximum validity
//! support_until = "2030-12-31"
//! ```

use std::fmt;

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize};

/// A scheme level, by number (`2`) or by name (`"Basic"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum LevelRef {
    /// The level number in the scheme (binary/descriptive schemes: 1 = pass).
    Number(u8),
    /// The level's name in the catalog (case-insensitive).
    Name(String),
}

/// A product category, by catalog code (`1`) or name (`"camera"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum CategoryRef {
    /// The category code.
    Code(u16),
    /// The category name in the catalog (case-insensitive).
    Name(String),
}

// Hand-written rather than `#[serde(untagged)]`: an untagged enum's error ("data did not match
// any variant") names neither the field's forms nor where to find the accepted values.
impl<'de> Deserialize<'de> for LevelRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumberOrName {
            expecting: "a level number (e.g. 2) or a level name (e.g. \"Basic\"); \
                        `cyberlabel schemes` lists each scheme's levels",
            number: |n| u8::try_from(n).ok().map(LevelRef::Number),
            name: LevelRef::Name,
        })
    }
}

impl<'de> Deserialize<'de> for CategoryRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumberOrName {
            expecting: "a category code (e.g. 1) or a category name (e.g. \"camera\"); \
                        `cyberlabel schemes` lists them",
            number: |n| u16::try_from(n).ok().map(CategoryRef::Code),
            name: CategoryRef::Name,
        })
    }
}

/// A field given as a catalog number or a name.
struct NumberOrName<T> {
    expecting: &'static str,
    number: fn(u64) -> Option<T>,
    name: fn(String) -> T,
}

impl<T> Visitor<'_> for NumberOrName<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        (self.number)(v).ok_or_else(|| E::invalid_value(Unexpected::Unsigned(v), &self))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok((self.name)(v.to_owned()))
    }
}

/// How conformity was assessed. Spelled `self_declared` / `third_party` everywhere (product
/// files, the API, `cyberlabel schemes`, `--assessment`); the hyphenated forms people also
/// write are accepted as aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentRef {
    /// Manufacturer's self-declaration.
    #[serde(alias = "self-declared")]
    SelfDeclared,
    /// Third-party lab (give `lab`).
    #[serde(alias = "third-party")]
    ThirdParty,
}

impl AssessmentRef {
    /// The canonical spelling (`self_declared`, `third_party`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SelfDeclared => "self_declared",
            Self::ThirdParty => "third_party",
        }
    }
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

    /// One spelling, with the hyphenated alias; errors list what is accepted.
    #[test]
    fn spellings_and_accepted_values() {
        let base = serde_json::from_str::<serde_json::Value>(
            &serde_json::to_string(&ProductDescription::from_toml(TOML).unwrap()).unwrap(),
        )
        .unwrap();
        let with = |k: &str, v: serde_json::Value| {
            let mut o = base.clone();
            o[k] = v;
            ProductDescription::from_json(&o.to_string())
        };
        for a in ["third_party", "third-party"] {
            assert_eq!(
                with("assessment", a.into()).unwrap().assessment,
                AssessmentRef::ThirdParty
            );
        }
        assert_eq!(
            with("assessment", "self-declared".into())
                .unwrap()
                .assessment,
            AssessmentRef::SelfDeclared
        );
        assert_eq!(AssessmentRef::ThirdParty.as_str(), "third_party");
        let e = with("assessment", "thirdparty".into())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("self_declared") && e.contains("third_party"),
            "{e}"
        );
        let e = with("level", true.into()).unwrap_err().to_string();
        assert!(
            e.contains("level number") && e.contains("cyberlabel schemes"),
            "{e}"
        );
        let e = with("level", 300.into()).unwrap_err().to_string();
        assert!(e.contains("level number"), "{e}");
        let e = with("category", (-1).into()).unwrap_err().to_string();
        assert!(e.contains("category code"), "{e}");
        assert_eq!(
            with("level", "Basic".into()).unwrap().level,
            LevelRef::Name("Basic".into())
        );
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
