//! The label claim: what a label asserts about a product, and its CBOR form.
//!
//! Wire format (`docs/FORMATS.md` §1, claim format 2): a deterministic CBOR **map** with small
//! integer keys 1..=15, every key one byte. A typical third-party label must fit QR version 10-M
//! with a 30-character verifier URL: 178 label bytes, of which the signature and COSE take 85
//! (`crates/issuer/tests/size.rs` measures it). So the map carries only what is not implied:
//! no format number (the key set identifies format 2; key 0 is kept for a later format's
//! number), a key whose value is the default is absent (hardware versions empty, catalog
//! version 1, self-declared assessment, no predecessor), registered schemes travel as their code
//! ([`SCHEME_CODES`]), labs as their code in the scheme's catalog lab list, and the text fields
//! as [`crate::packed_text`] when that is shorter. The decoder is strict: unknown, duplicate or
//! unsorted keys, a missing required key, a mistyped value, a key present with its default value,
//! over-long strings, a provision bitset with trailing zero bytes, text in the form the encoder
//! would not choose (a registered scheme id as text, packable text unpacked or packed text that is
//! not shorter), and every non-canonical CBOR form are errors, so
//! `Claim::from_cbor(b)?.to_cbor() == b` always holds.
//!
//! Whether the claim makes sense *for its scheme* (level exists, provisions are in the scheme's
//! list, validity period allowed) is the catalog's job: [`crate::catalog::Catalog::validate_claim`].

use crate::cbor::{self, CborError, Value};

/// Largest encoded claim accepted (a label is at most 1024 bytes in total).
pub const MAX_CLAIM_LEN: usize = 1024;
/// Largest encoded claim that still fits a label of at most `cose::MAX_LABEL_LEN` bytes: the
/// COSE_Sign1 around it takes at most 91 bytes (tag, array, protected header with the kid,
/// empty unprotected map, the payload's byte-string header and the 64-byte signature).
pub const MAX_CLAIM_IN_LABEL: usize = 1024 - 91;
/// Maximum length, in characters, of the scheme id (key 1).
pub const MAX_SCHEME_CHARS: usize = 32;
/// Maximum length, in characters, of the manufacturer (key 4).
pub const MAX_MANUFACTURER_CHARS: usize = 64;
/// Maximum length, in characters, of the product / model designation (key 5).
pub const MAX_PRODUCT_CHARS: usize = 64;
/// Maximum length, in characters, of the hardware versions covered (key 6).
pub const MAX_HARDWARE_CHARS: usize = 32;
/// Maximum length, in characters, of the firmware versions covered (key 7).
pub const MAX_FIRMWARE_CHARS: usize = 32;
/// The claim format this code reads and writes. It does not travel: format 2's key set
/// identifies it (FORMATS §1), and key 0 is kept for the format number of a later format, which
/// this decoder refuses as an unknown key. Format 1 (keys 1..=16, lab ids as text) is not read.
pub const CLAIM_FORMAT: u64 = 2;
/// The catalog version a claim without key 2 refers to.
pub const DEFAULT_CATALOG_VERSION: u32 = 1;
/// Registered scheme ids and the codes they travel as (key 1). A scheme id not listed here
/// travels as text; registering one is a wire-format change (FORMATS §1), codes are never reused.
pub const SCHEME_CODES: [(u16, &str); 6] = [
    (1, "SG-CLS"),
    (2, "US-CTM"),
    (3, "DE-BSI"),
    (4, "FI-TRAFICOM"),
    (5, "JP-JCSTAR"),
    (6, "KR-CIC"),
];

/// The code a registered scheme id travels as.
#[must_use]
pub fn scheme_code(id: &str) -> Option<u16> {
    SCHEME_CODES.iter().find(|(_, s)| *s == id).map(|(c, _)| *c)
}
/// Maximum provision bitset length in bytes: 256 provisions per scheme.
pub const MAX_PROVISION_BYTES: usize = 32;

/// A claim field, named in errors. The discriminant is the CBOR map key (`Lab` has none: the
/// lab's code is the value of key 13, the assessment).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Field {
    /// 1: scheme id.
    Scheme = 1,
    /// 2: catalog version.
    CatalogVersion = 2,
    /// 3: level.
    Level = 3,
    /// 4: manufacturer.
    Manufacturer = 4,
    /// 5: product / model.
    Product = 5,
    /// 6: hardware versions covered.
    HardwareVersions = 6,
    /// 7: firmware versions covered.
    FirmwareVersions = 7,
    /// 8: product category.
    Category = 8,
    /// 9: issued-at.
    IssuedAt = 9,
    /// 10: expires-at.
    ExpiresAt = 10,
    /// 11: security support end.
    SupportEnd = 11,
    /// 12: provisions met.
    Provisions = 12,
    /// 13: assessment: the third-party lab's code (absent: self-declared).
    Assessment = 13,
    /// 14: serial (log index).
    Serial = 14,
    /// 15: supersedes.
    Supersedes = 15,
    /// The lab, named apart from the assessment kind in errors (its code is key 13's value).
    Lab = 16,
}

impl Field {
    /// Every field, in key order.
    pub const ALL: [Field; 15] = [
        Field::Scheme,
        Field::CatalogVersion,
        Field::Level,
        Field::Manufacturer,
        Field::Product,
        Field::HardwareVersions,
        Field::FirmwareVersions,
        Field::Category,
        Field::IssuedAt,
        Field::ExpiresAt,
        Field::SupportEnd,
        Field::Provisions,
        Field::Assessment,
        Field::Serial,
        Field::Supersedes,
    ];

    /// The CBOR map key of this field (`Lab`: 16, not a key).
    pub fn key(self) -> u64 {
        self as u64
    }

    /// The field a map key stands for, if any (never `Lab`).
    pub fn from_key(key: u64) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| f.key() == key)
    }

    /// The field name used in documentation and error messages.
    pub fn name(self) -> &'static str {
        match self {
            Field::Scheme => "scheme",
            Field::CatalogVersion => "catalog_version",
            Field::Level => "level",
            Field::Manufacturer => "manufacturer",
            Field::Product => "product",
            Field::HardwareVersions => "hardware_versions",
            Field::FirmwareVersions => "firmware_versions",
            Field::Category => "category",
            Field::IssuedAt => "issued_at",
            Field::ExpiresAt => "expires_at",
            Field::SupportEnd => "support_end",
            Field::Provisions => "provisions",
            Field::Assessment => "assessment",
            Field::Lab => "lab",
            Field::Serial => "serial",
            Field::Supersedes => "supersedes",
        }
    }
}

impl core::fmt::Display for Field {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a claim was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// The bytes are not deterministic CBOR.
    #[error("claim is not deterministic CBOR: {0}")]
    Cbor(#[from] CborError),
    /// The top-level item is not a map.
    #[error("claim is not a CBOR map")]
    NotAMap,
    /// A key that claim format 2 does not define (1..=15): a later format (key 0 holds its
    /// number) or not a claim.
    #[error("claim has a key that claim format 2 does not define")]
    UnknownKey,
    /// A required field is absent.
    #[error("claim field {0} is missing")]
    Missing(Field),
    /// A field has the wrong CBOR type or does not fit its Rust type.
    #[error("claim field {0} has the wrong type or is out of range")]
    WrongType(Field),
    /// A text field exceeds its length limit.
    #[error("claim field {0} is too long")]
    TooLong(Field),
    /// The encoded claim is too large for a label; the field named is the longest text.
    #[error("the claim is too large for a label: shorten field {0}")]
    TooLarge(Field),
    /// A text field that must not be empty is empty.
    #[error("claim field {0} is empty")]
    Empty(Field),
    /// A text field holds a control, invisible or bidirectional-formatting character, or
    /// starts or ends with white space: text that could show something else than it says.
    #[error(
        "claim field {0} contains a control, invisible or bidirectional formatting character, or leading/trailing space"
    )]
    Unprintable(Field),
    /// The provision bitset has trailing zero bytes or is longer than 32 bytes.
    #[error("claim provisions bitset is not canonical")]
    BadProvisions,
    /// A field in a form the encoder never writes: a registered scheme id as text, packable
    /// text not packed, packed text no shorter than its UTF-8, or a key present with the value
    /// its absence means (empty hardware versions, catalog version 1).
    #[error("claim field {0} is not in its canonical form")]
    NotCanonical(Field),
    /// `expires_at` is not after `issued_at`.
    #[error("claim expires_at must be after issued_at")]
    DatesOutOfOrder,
    /// A date is not on the day boundary the wire format carries: `issued_at` and
    /// `expires_at` must be 00:00:00 UTC, `support_end` 23:59:59 UTC.
    #[error(
        "claim field {0}: dates are whole days (issued/expires at 00:00 UTC, support ends 23:59:59 UTC)"
    )]
    NotWholeDay(Field),
    /// `supersedes` is not an earlier log index than `serial`.
    #[error("claim supersedes must be an earlier log index than serial")]
    SupersedesNotEarlier,
}

/// How conformity was assessed (key 13: the lab's code; absent = self-declared).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Assessment {
    /// Manufacturer's self-declaration (no key 13).
    SelfDeclared,
    /// Tested by a third-party lab, identified by its code (≥ 1) in the scheme's lab list of the
    /// catalog (`catalog::Lab`), which gives its id and name.
    ThirdParty {
        /// The lab's code in the catalog, ≥ 1.
        lab: u16,
    },
}

/// The kind of assessment without the lab id; what scheme levels allow.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentKind {
    /// Self-declaration by the manufacturer.
    SelfDeclared,
    /// Third-party lab assessment.
    ThirdParty,
}

impl Assessment {
    /// The kind, without the lab id.
    pub fn kind(&self) -> AssessmentKind {
        match self {
            Assessment::SelfDeclared => AssessmentKind::SelfDeclared,
            Assessment::ThirdParty { .. } => AssessmentKind::ThirdParty,
        }
    }
}

/// A set of provision indices (0..=255) into a scheme's provision list, encoded as a bitset:
/// bit *i* is byte *i/8*, mask `1 << (i % 8)`; no trailing zero bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ProvisionSet {
    bytes: Vec<u8>,
}

impl ProvisionSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The set of the given indices (duplicates are fine).
    pub fn from_indices<I: IntoIterator<Item = u8>>(indices: I) -> Self {
        let mut s = Self::new();
        for i in indices {
            s.insert(i);
        }
        s
    }

    /// Parses a canonical bitset (at most 32 bytes, last byte non-zero).
    ///
    /// # Errors
    /// [`ClaimError::BadProvisions`] if the bitset is too long or has trailing zero bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ClaimError> {
        if bytes.len() > MAX_PROVISION_BYTES || bytes.last() == Some(&0) {
            return Err(ClaimError::BadProvisions);
        }
        Ok(Self {
            bytes: bytes.to_vec(),
        })
    }

    /// The canonical bitset bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Adds index `i`.
    pub fn insert(&mut self, i: u8) {
        let byte = usize::from(i / 8);
        if self.bytes.len() <= byte {
            self.bytes.resize(byte + 1, 0);
        }
        self.bytes[byte] |= 1 << (i % 8);
    }

    /// Whether index `i` is in the set.
    pub fn contains(&self, i: u8) -> bool {
        self.bytes
            .get(usize::from(i / 8))
            .is_some_and(|b| b & (1 << (i % 8)) != 0)
    }

    /// The indices in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=255u8).filter(move |&i| self.contains(i))
    }

    /// Number of indices in the set.
    pub fn len(&self) -> usize {
        self.bytes.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The highest index in the set, if any.
    pub fn max(&self) -> Option<u8> {
        self.iter().last()
    }
}

/// What a label asserts. Field meanings: `docs/FORMATS.md` §1.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Claim {
    /// Scheme id in the catalog, e.g. `SG-CLS` (key 1: its code if registered).
    pub scheme: String,
    /// Version of the scheme's catalog entry that `level` and `provisions` refer to (key 2,
    /// absent when 1).
    pub catalog_version: u32,
    /// Level number; binary and descriptive schemes use 1 (= pass) (key 3).
    pub level: u8,
    /// Manufacturer name, ≤ 64 characters (key 4).
    pub manufacturer: String,
    /// Product / model designation, ≤ 64 characters (key 5).
    pub product: String,
    /// Hardware versions covered, ≤ 32 characters, may be empty (key 6, absent when empty).
    pub hardware_versions: String,
    /// Firmware versions covered, ≤ 32 characters (key 7).
    pub firmware_versions: String,
    /// Product category code from the catalog (key 8).
    pub category: u16,
    /// Issuance day, Unix seconds at 00:00 UTC (key 9, carried as days since 1970-01-01).
    pub issued_at: u64,
    /// Expiry, Unix seconds at 00:00 UTC of the first day the label is no longer valid; after
    /// `issued_at` (key 10, carried as days).
    pub expires_at: u64,
    /// End of the security support period, Unix seconds at 23:59:59 UTC of the last supported
    /// day (key 11, carried as the day number).
    pub support_end: u64,
    /// Provisions met, as indices into the scheme's provision list (key 12).
    pub provisions: ProvisionSet,
    /// How conformity was assessed (key 13: the lab's code, absent when self-declared).
    pub assessment: Assessment,
    /// The label's index in the transparency log (key 14).
    pub serial: u64,
    /// Log index of the label this one renews (key 15, absent if none).
    pub supersedes: Option<u64>,
}

/// A text field on the wire: packed (FORMATS §1) when that is shorter, else UTF-8 text.
fn text(s: &str) -> Value {
    match crate::packed_text::pack(s) {
        Some(p) if p.len() < s.len() => Value::Bytes(p),
        _ => Value::Text(s.into()),
    }
}

/// The text of a text field, refusing any form [`text`] would not write.
fn text_of(v: Value, field: Field) -> Result<String, ClaimError> {
    match v {
        Value::Bytes(b) => {
            let s = crate::packed_text::unpack(&b).ok_or(ClaimError::WrongType(field))?;
            if b.len() < s.len() {
                Ok(s)
            } else {
                Err(ClaimError::NotCanonical(field))
            }
        }
        Value::Text(s) => match crate::packed_text::pack(&s) {
            Some(p) if p.len() < s.len() => Err(ClaimError::NotCanonical(field)),
            _ => Ok(s),
        },
        _ => Err(ClaimError::WrongType(field)),
    }
}

fn check_text(field: Field, s: &str, max: usize, non_empty: bool) -> Result<(), ClaimError> {
    if non_empty && s.is_empty() {
        return Err(ClaimError::Empty(field));
    }
    if s.chars().count() > max {
        return Err(ClaimError::TooLong(field));
    }
    if s.chars().any(hidden) || s.trim() != s {
        return Err(ClaimError::Unprintable(field));
    }
    Ok(())
}

/// Characters that signed text shown to people must not contain: controls (Cc, including tab
/// and newline), the format characters that hide or reorder text (Cf: bidirectional
/// overrides and isolates, zero-width characters, the soft hyphen, the BOM, tags, …), line and
/// paragraph separators, private-use characters and noncharacters. `"Acme\u{202e}gnp.exe"` would
/// otherwise read differently on every screen that shows it.
#[must_use]
pub fn hidden(c: char) -> bool {
    let u = u32::from(c);
    c.is_control()
        || matches!(
            u,
            0x00AD
                | 0x0600..=0x0605
                | 0x061C
                | 0x06DD
                | 0x070F
                | 0x0890..=0x0891
                | 0x08E2
                | 0x115F..=0x1160
                | 0x17B4..=0x17B5
                | 0x180B..=0x180F
                | 0x200B..=0x200F
                | 0x2028..=0x202E
                | 0x2060..=0x206F
                | 0x3164
                | 0xE000..=0xF8FF
                | 0xFDD0..=0xFDEF
                | 0xFE00..=0xFE0F
                | 0xFEFF
                | 0xFFA0
                | 0xFFF0..=0xFFFB
                | 0x110BD
                | 0x110CD
                | 0x13430..=0x1343F
                | 0x1BCA0..=0x1BCA3
                | 0x1D173..=0x1D17A
                | 0xE0000..=0xE0FFF
                | 0xF0000..
        )
        || (u & 0xFFFE) == 0xFFFE
}

/// Seconds in a day: claim dates are day-granular on the wire.
pub use crate::dates::DAY;

/// Day number → Unix seconds at 00:00 UTC of that day.
fn day_start(days: u64, field: Field) -> Result<u64, ClaimError> {
    days.checked_mul(DAY).ok_or(ClaimError::WrongType(field))
}

/// Whether a validity ending at `expires_at` (the first second no longer valid) has ended at
/// `now`: the one expiry rule, for claims and for what is derived from them.
#[must_use]
pub fn expired(expires_at: u64, now: u64) -> bool {
    now >= expires_at
}

impl Claim {
    /// Whether the label's validity has ended at `now`: `expires_at` is the first second it is
    /// no longer valid (FORMATS §1), the one rule the verdict, the API and the CLI use.
    #[must_use]
    pub fn expired_at(&self, now: u64) -> bool {
        expired(self.expires_at, now)
    }

    /// The deterministic CBOR encoding (FORMATS §1, claim format 2). Infallible: call
    /// [`Claim::check`] first to be sure the result will decode (the issuer does).
    pub fn to_cbor(&self) -> Vec<u8> {
        let scheme = match scheme_code(&self.scheme) {
            Some(code) => cbor::uint(u64::from(code)),
            None => Value::Text(self.scheme.clone()),
        };
        let mut m: Vec<(Value, Value)> = Vec::with_capacity(Field::ALL.len());
        let mut put = |f: Field, v: Value| m.push((cbor::uint(f.key()), v));
        put(Field::Scheme, scheme);
        // Keys whose value is what their absence means are left out (2 bytes each): the decoder
        // refuses them, so every claim still has exactly one encoding.
        if self.catalog_version != DEFAULT_CATALOG_VERSION {
            put(
                Field::CatalogVersion,
                cbor::uint(u64::from(self.catalog_version)),
            );
        }
        put(Field::Level, cbor::uint(u64::from(self.level)));
        put(Field::Manufacturer, text(&self.manufacturer));
        put(Field::Product, text(&self.product));
        if !self.hardware_versions.is_empty() {
            put(Field::HardwareVersions, text(&self.hardware_versions));
        }
        put(Field::FirmwareVersions, text(&self.firmware_versions));
        put(Field::Category, cbor::uint(u64::from(self.category)));
        // Dates travel as whole days (FORMATS §1): 3 bytes each instead of 5.
        put(Field::IssuedAt, cbor::uint(self.issued_at / DAY));
        put(Field::ExpiresAt, cbor::uint(self.expires_at / DAY));
        put(Field::SupportEnd, cbor::uint(self.support_end / DAY));
        put(
            Field::Provisions,
            Value::Bytes(self.provisions.as_bytes().to_vec()),
        );
        if let Assessment::ThirdParty { lab } = &self.assessment {
            put(Field::Assessment, cbor::uint(u64::from(*lab)));
        }
        put(Field::Serial, cbor::uint(self.serial));
        if let Some(s) = self.supersedes {
            put(Field::Supersedes, cbor::uint(s));
        }
        // Pushed in key order, and every key is below 24 (one byte): already deterministic order.
        cbor::encode(&Value::Map(m))
    }

    /// Checks the field rules that the wire format imposes: length limits, non-empty scheme,
    /// manufacturer and product, a lab code ≥ 1 for third-party assessment,
    /// `expires_at > issued_at`, `supersedes < serial`.
    ///
    /// # Errors
    /// The first violated rule, naming the field.
    pub fn check(&self) -> Result<(), ClaimError> {
        check_text(Field::Scheme, &self.scheme, MAX_SCHEME_CHARS, true)?;
        check_text(
            Field::Manufacturer,
            &self.manufacturer,
            MAX_MANUFACTURER_CHARS,
            true,
        )?;
        check_text(Field::Product, &self.product, MAX_PRODUCT_CHARS, true)?;
        check_text(
            Field::HardwareVersions,
            &self.hardware_versions,
            MAX_HARDWARE_CHARS,
            false,
        )?;
        // A label must say which firmware it covers: security is a property of the software.
        check_text(
            Field::FirmwareVersions,
            &self.firmware_versions,
            MAX_FIRMWARE_CHARS,
            true,
        )?;
        if self.assessment == (Assessment::ThirdParty { lab: 0 }) {
            return Err(ClaimError::WrongType(Field::Lab));
        }
        if self.provisions.as_bytes().len() > MAX_PROVISION_BYTES {
            return Err(ClaimError::BadProvisions);
        }
        if !self.issued_at.is_multiple_of(DAY) {
            return Err(ClaimError::NotWholeDay(Field::IssuedAt));
        }
        if !self.expires_at.is_multiple_of(DAY) {
            return Err(ClaimError::NotWholeDay(Field::ExpiresAt));
        }
        if self.support_end % DAY != DAY - 1 {
            return Err(ClaimError::NotWholeDay(Field::SupportEnd));
        }
        if self.expires_at <= self.issued_at {
            return Err(ClaimError::DatesOutOfOrder);
        }
        if self.supersedes.is_some_and(|s| s >= self.serial) {
            return Err(ClaimError::SupersedesNotEarlier);
        }
        // Every field may be within its limit in characters and the whole still too large for
        // a label (4-byte characters): name the longest text field, the one to shorten.
        if self.to_cbor().len() > MAX_CLAIM_IN_LABEL {
            let texts = [
                (Field::Manufacturer, self.manufacturer.len()),
                (Field::Product, self.product.len()),
                (Field::HardwareVersions, self.hardware_versions.len()),
                (Field::FirmwareVersions, self.firmware_versions.len()),
            ];
            let longest = texts
                .iter()
                .max_by_key(|(_, n)| *n)
                .map_or(Field::Product, |(f, _)| *f);
            return Err(ClaimError::TooLarge(longest));
        }
        Ok(())
    }

    /// Strictly decodes a claim (see the module docs).
    ///
    /// # Errors
    /// A [`ClaimError`] naming the first problem found.
    pub fn from_cbor(bytes: &[u8]) -> Result<Claim, ClaimError> {
        let v = cbor::decode(bytes, MAX_CLAIM_LEN)?;
        let Value::Map(entries) = v else {
            return Err(ClaimError::NotAMap);
        };
        // The CBOR decoder already refused duplicate and unsorted keys; collect them by field.
        let mut slots: [Option<Value>; Field::Supersedes as usize + 1] = Default::default();
        for (k, val) in entries {
            let field = cbor::as_u64(&k)
                .and_then(Field::from_key)
                .ok_or(ClaimError::UnknownKey)?;
            slots[field as usize] = Some(val);
        }
        let mut take = |f: Field| slots[f as usize].take();

        fn req(v: Option<Value>, f: Field) -> Result<Value, ClaimError> {
            v.ok_or(ClaimError::Missing(f))
        }
        fn get_uint<T: TryFrom<u64>>(v: Value, f: Field) -> Result<T, ClaimError> {
            cbor::as_u64(&v)
                .and_then(|n| T::try_from(n).ok())
                .ok_or(ClaimError::WrongType(f))
        }
        fn req_uint<T: TryFrom<u64>>(v: Option<Value>, f: Field) -> Result<T, ClaimError> {
            get_uint(req(v, f)?, f)
        }
        fn day(v: Option<Value>, f: Field) -> Result<u64, ClaimError> {
            day_start(req_uint(v, f)?, f)
        }

        let scheme = match req(take(Field::Scheme), Field::Scheme)? {
            Value::Text(s) if scheme_code(&s).is_some() => {
                return Err(ClaimError::NotCanonical(Field::Scheme));
            }
            Value::Text(s) => s,
            v => {
                let code: u16 = get_uint(v, Field::Scheme)?;
                SCHEME_CODES
                    .iter()
                    .find(|(c, _)| *c == code)
                    .map(|(_, id)| (*id).to_owned())
                    .ok_or(ClaimError::WrongType(Field::Scheme))?
            }
        };
        let catalog_version = match take(Field::CatalogVersion) {
            None => DEFAULT_CATALOG_VERSION,
            Some(v) => match get_uint(v, Field::CatalogVersion)? {
                DEFAULT_CATALOG_VERSION => {
                    return Err(ClaimError::NotCanonical(Field::CatalogVersion));
                }
                n => n,
            },
        };
        let level = req_uint(take(Field::Level), Field::Level)?;
        let manufacturer = text_of(
            req(take(Field::Manufacturer), Field::Manufacturer)?,
            Field::Manufacturer,
        )?;
        let product = text_of(req(take(Field::Product), Field::Product)?, Field::Product)?;
        let hardware_versions = match take(Field::HardwareVersions) {
            None => String::new(),
            Some(v) => match text_of(v, Field::HardwareVersions)? {
                s if s.is_empty() => {
                    return Err(ClaimError::NotCanonical(Field::HardwareVersions));
                }
                s => s,
            },
        };
        let firmware_versions = text_of(
            req(take(Field::FirmwareVersions), Field::FirmwareVersions)?,
            Field::FirmwareVersions,
        )?;
        let category = req_uint(take(Field::Category), Field::Category)?;
        let issued_at = day(take(Field::IssuedAt), Field::IssuedAt)?;
        let expires_at = day(take(Field::ExpiresAt), Field::ExpiresAt)?;
        let support_end = day(take(Field::SupportEnd), Field::SupportEnd)?
            .checked_add(DAY - 1)
            .ok_or(ClaimError::WrongType(Field::SupportEnd))?;
        let provisions = match req(take(Field::Provisions), Field::Provisions)? {
            Value::Bytes(b) => ProvisionSet::from_bytes(&b)?,
            _ => return Err(ClaimError::WrongType(Field::Provisions)),
        };
        // Self-declared has no key: code 0 would be a second spelling of it.
        let assessment = match take(Field::Assessment) {
            None => Assessment::SelfDeclared,
            Some(v) => match get_uint::<u16>(v, Field::Lab)? {
                0 => return Err(ClaimError::WrongType(Field::Lab)),
                lab => Assessment::ThirdParty { lab },
            },
        };
        let serial = req_uint(take(Field::Serial), Field::Serial)?;
        let supersedes = match take(Field::Supersedes) {
            None => None,
            Some(v) => Some(get_uint(v, Field::Supersedes)?),
        };
        let claim = Claim {
            scheme,
            catalog_version,
            level,
            manufacturer,
            product,
            hardware_versions,
            firmware_versions,
            category,
            issued_at,
            expires_at,
            support_end,
            provisions,
            assessment,
            serial,
            supersedes,
        };
        claim.check()?;
        Ok(claim)
    }
}
