//! COSE_Sign1 (RFC 9052 §4.2) for labels, status records and the trust list.
//!
//! Built by hand over [`crate::cbor`] rather than with `coset`: the bytes must be deterministic
//! (they are hashed into the log and printed into QR codes) and the parser must be strict, and a
//! COSE_Sign1 is a four-element array, so owning the code is simpler than constraining a general
//! library. Interoperability is checked against the cose-wg Examples (tests) and pycose (H3).
//!
//! - [`parse_sign1`] accepts any standard COSE_Sign1 (tagged or not, EdDSA or not) in
//!   deterministic CBOR, with the payload attached; [`Sign1::verify`] checks an Ed25519
//!   signature with `verify_strict` over `["Signature1", protected, h'', payload]`.
//! - [`decode_entry`] additionally enforces the cyberlabel profile (FORMATS §1, §2): tag 18,
//!   protected header exactly `{1: -8, 4: kid}` (label) or `{1: -8, 3: content type, 4: kid}`
//!   (status record), an 8-byte kid, empty unprotected header; and decodes the payload.
//! - [`sign_label`], [`sign_status`], [`sign_with_content_type`] produce that profile.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::cbor::{self, CborError, Value};
use crate::claim::{Claim, ClaimError};
use crate::status::{RecordError, StatusRecord};

/// Largest accepted label (FORMATS §1); status records share the bound.
pub const MAX_LABEL_LEN: usize = 1024;
/// COSE tag for COSE_Sign1.
pub const TAG_SIGN1: u64 = 18;
/// COSE algorithm id for EdDSA.
pub const ALG_EDDSA: i64 = -8;
/// Content type (header 3) of status-change records (FORMATS §2).
pub const STATUS_CONTENT_TYPE: &str = "application/cyberlabel-status+cbor";

/// An issuer key id: the first 8 bytes of SHA-256 over the 32-byte Ed25519 public key.
pub type KeyId = [u8; 8];

const HDR_ALG: u64 = 1;
const HDR_CRIT: u64 = 2;
const HDR_CONTENT_TYPE: u64 = 3;
const HDR_KID: u64 = 4;

/// Why a COSE structure was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CoseError {
    /// Larger than the size bound; rejected before parsing.
    #[error("COSE message exceeds the size limit")]
    TooLarge,
    /// Not deterministic CBOR.
    #[error("COSE message is not deterministic CBOR: {0}")]
    Cbor(#[from] CborError),
    /// Not a `[protected, unprotected, payload, signature]` array (or wrong tag).
    #[error("not a COSE_Sign1 structure")]
    NotSign1,
    /// The cyberlabel profile requires tag 18.
    #[error("COSE_Sign1 is not tagged 18")]
    Untagged,
    /// Protected header is not a bstr holding a deterministic CBOR map of valid parameters.
    #[error("malformed protected header")]
    BadProtectedHeader,
    /// Unprotected header is not a map of valid parameters.
    #[error("malformed unprotected header")]
    BadUnprotectedHeader,
    /// A header parameter appears in both buckets.
    #[error("header parameter in both protected and unprotected headers")]
    DuplicateHeader,
    /// A `crit` header: we understand no extension parameters, so we must refuse.
    #[error("critical header parameters are not supported")]
    CriticalHeader,
    /// The payload is detached (nil).
    #[error("detached payload is not supported")]
    DetachedPayload,
    /// The algorithm is not EdDSA (-8) or is missing.
    #[error("unsupported or missing signature algorithm")]
    UnsupportedAlgorithm,
    /// Missing or non-8-byte kid, or kid not in the protected header.
    #[error("missing or malformed key id")]
    BadKid,
    /// The message does not follow the cyberlabel header profile (extra or missing parameters).
    #[error("COSE headers do not follow the cyberlabel profile")]
    NotProfile,
    /// A content type other than none (label) or the status-record type.
    #[error("unknown content type")]
    UnknownContentType,
    /// The signature does not verify (or is not 64 bytes).
    #[error("signature does not verify")]
    BadSignature,
    /// The label payload is not a valid claim.
    #[error("label payload is not a valid claim: {0}")]
    Claim(#[from] ClaimError),
    /// The status payload is not a valid status record.
    #[error("status payload is not a valid status record: {0}")]
    Status(#[from] RecordError),
}

/// Content type header value (RFC 9052 §3.1: uint CoAP content-format or tstr media type).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// A CoAP content-format number.
    CoAp(u64),
    /// A media type string.
    Text(String),
}

/// A parsed COSE_Sign1. Fields are as found; nothing is trusted until [`Sign1::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sign1 {
    /// Whether the message carried CBOR tag 18.
    pub tagged: bool,
    /// The serialized protected header exactly as signed (empty for an empty header).
    pub protected: Vec<u8>,
    /// Algorithm (header 1), if present as an integer.
    pub alg: Option<i64>,
    /// Key id (header 4), protected or unprotected; empty if absent.
    pub kid: Vec<u8>,
    /// Whether `kid` came from the protected header.
    pub kid_protected: bool,
    /// Content type (header 3), if present.
    pub content_type: Option<ContentType>,
    /// Number of parameters in the unprotected header.
    pub unprotected_len: usize,
    /// Number of parameters in the protected header.
    pub protected_len: usize,
    /// The attached payload.
    pub payload: Vec<u8>,
    /// The signature bytes.
    pub signature: Vec<u8>,
}

/// The key id of an issuer key (FORMATS §1).
pub fn key_id(key: &VerifyingKey) -> KeyId {
    let d = Sha256::digest(key.as_bytes());
    let mut kid = [0u8; 8];
    kid.copy_from_slice(&d[..8]);
    kid
}

/// Parses a COSE_Sign1 of at most [`MAX_LABEL_LEN`] bytes. See [`parse_sign1_bounded`].
///
/// # Errors
/// See [`parse_sign1_bounded`].
pub fn parse_sign1(bytes: &[u8]) -> Result<Sign1, CoseError> {
    parse_sign1_bounded(bytes, MAX_LABEL_LEN)
}

fn header_params(
    entries: Vec<(Value, Value)>,
    err: CoseError,
    s: &mut Sign1,
    protected: bool,
    seen: &mut Vec<Value>,
) -> Result<(), CoseError> {
    for (k, v) in entries {
        // Labels are int or tstr (RFC 9052 §3).
        if !matches!(k, Value::Integer(_) | Value::Text(_)) {
            return Err(err);
        }
        if seen.contains(&k) {
            return Err(CoseError::DuplicateHeader);
        }
        match cbor::as_u64(&k) {
            Some(HDR_ALG) => match &v {
                Value::Integer(_) => s.alg = cbor::as_i64(&v),
                Value::Text(_) => {}
                _ => return Err(err),
            },
            Some(HDR_CRIT) => return Err(CoseError::CriticalHeader),
            Some(HDR_CONTENT_TYPE) => {
                s.content_type = Some(match &v {
                    Value::Text(t) => ContentType::Text(t.clone()),
                    v => ContentType::CoAp(cbor::as_u64(v).ok_or(err)?),
                })
            }
            Some(HDR_KID) => match &v {
                Value::Bytes(b) => {
                    s.kid = b.clone();
                    s.kid_protected = protected;
                }
                _ => return Err(err),
            },
            _ => {}
        }
        seen.push(k);
    }
    Ok(())
}

/// Parses a standard COSE_Sign1 (RFC 9052 §4.2), tagged 18 or untagged, in deterministic CBOR,
/// with an attached payload, of at most `max_len` bytes. Does not check the signature.
///
/// # Errors
/// [`CoseError::TooLarge`] before parsing if `bytes` is longer than `max_len`; otherwise the
/// first structural problem found.
pub fn parse_sign1_bounded(bytes: &[u8], max_len: usize) -> Result<Sign1, CoseError> {
    if bytes.len() > max_len {
        return Err(CoseError::TooLarge);
    }
    let v = cbor::decode(bytes, max_len)?;
    let (tagged, inner) = match v {
        Value::Tag(TAG_SIGN1, inner) => (true, *inner),
        Value::Tag(..) => return Err(CoseError::NotSign1),
        other => (false, other),
    };
    let Value::Array(items) = inner else {
        return Err(CoseError::NotSign1);
    };
    let Ok::<[Value; 4], _>([prot, unprot, payload, sig]) = items.try_into() else {
        return Err(CoseError::NotSign1);
    };
    let Value::Bytes(protected) = prot else {
        return Err(CoseError::BadProtectedHeader);
    };
    let Value::Map(unprotected) = unprot else {
        return Err(CoseError::BadUnprotectedHeader);
    };
    let payload = match payload {
        Value::Bytes(p) => p,
        Value::Null => return Err(CoseError::DetachedPayload),
        _ => return Err(CoseError::NotSign1),
    };
    let Value::Bytes(signature) = sig else {
        return Err(CoseError::NotSign1);
    };
    let mut s = Sign1 {
        tagged,
        protected: Vec::new(),
        alg: None,
        kid: Vec::new(),
        kid_protected: false,
        content_type: None,
        unprotected_len: unprotected.len(),
        protected_len: 0,
        payload,
        signature,
    };
    let mut seen = Vec::new();
    if !protected.is_empty() {
        // The protected header must itself be deterministic CBOR: it is what is signed, and a
        // non-canonical one would give two encodings of one label.
        let Value::Map(entries) =
            cbor::decode(&protected, max_len).map_err(|_| CoseError::BadProtectedHeader)?
        else {
            return Err(CoseError::BadProtectedHeader);
        };
        s.protected_len = entries.len();
        header_params(
            entries,
            CoseError::BadProtectedHeader,
            &mut s,
            true,
            &mut seen,
        )?;
    }
    s.protected = protected;
    header_params(
        unprotected,
        CoseError::BadUnprotectedHeader,
        &mut s,
        false,
        &mut seen,
    )?;
    Ok(s)
}

/// The COSE `Sig_structure` for a Sign1 with empty external_aad.
fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    cbor::encode(&Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected.to_vec()),
        Value::Bytes(Vec::new()),
        Value::Bytes(payload.to_vec()),
    ]))
}

impl Sign1 {
    /// The bytes the signature covers: `["Signature1", protected, h'', payload]`.
    pub fn to_be_signed(&self) -> Vec<u8> {
        sig_structure(&self.protected, &self.payload)
    }

    /// The kid as a cyberlabel [`KeyId`], if it is 8 bytes and in the protected header.
    pub fn key_id(&self) -> Option<KeyId> {
        if !self.kid_protected {
            return None;
        }
        self.kid.as_slice().try_into().ok()
    }

    /// Verifies the Ed25519 signature with `verify_strict`.
    ///
    /// # Errors
    /// [`CoseError::UnsupportedAlgorithm`] unless alg is EdDSA (-8); [`CoseError::BadSignature`]
    /// if the signature is not 64 bytes or does not verify under `key`.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), CoseError> {
        if self.alg != Some(ALG_EDDSA) {
            return Err(CoseError::UnsupportedAlgorithm);
        }
        let sig: [u8; 64] = self
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| CoseError::BadSignature)?;
        crate::ops::signature();
        key.verify_strict(&self.to_be_signed(), &Signature::from_bytes(&sig))
            .map_err(|_| CoseError::BadSignature)
    }

    /// Checks the cyberlabel header profile and returns the kid: tag 18, alg -8, 8-byte kid in
    /// the protected header, empty unprotected header, and the protected header holding
    /// exactly alg, kid and (when `with_content_type`) content type.
    ///
    /// # Errors
    /// The first profile violation.
    pub fn check_profile(&self, with_content_type: bool) -> Result<KeyId, CoseError> {
        if !self.tagged {
            return Err(CoseError::Untagged);
        }
        if self.alg != Some(ALG_EDDSA) {
            return Err(CoseError::UnsupportedAlgorithm);
        }
        let kid = self.key_id().ok_or(CoseError::BadKid)?;
        let expected = if with_content_type { 3 } else { 2 };
        if self.unprotected_len != 0
            || self.protected_len != expected
            || self.content_type.is_some() != with_content_type
        {
            return Err(CoseError::NotProfile);
        }
        Ok(kid)
    }
}

/// Signs `payload` as a tagged COSE_Sign1 with protected header `{1: -8, [3: content_type,]
/// 4: kid}` and an empty unprotected header.
pub fn sign_with_content_type(
    payload: &[u8],
    content_type: Option<&str>,
    key: &SigningKey,
) -> Vec<u8> {
    let kid = key_id(&key.verifying_key());
    let mut hdr = vec![(cbor::uint(HDR_ALG), cbor::int(ALG_EDDSA))];
    if let Some(ct) = content_type {
        hdr.push((cbor::uint(HDR_CONTENT_TYPE), Value::Text(ct.into())));
    }
    hdr.push((cbor::uint(HDR_KID), Value::Bytes(kid.to_vec())));
    let protected = cbor::encode(&Value::Map(hdr));
    let signature = key.sign(&sig_structure(&protected, payload));
    cbor::encode(&Value::Tag(
        TAG_SIGN1,
        Box::new(Value::Array(vec![
            Value::Bytes(protected),
            Value::Map(Vec::new()),
            Value::Bytes(payload.to_vec()),
            Value::Bytes(signature.to_bytes().to_vec()),
        ])),
    ))
}

/// Signs a label: tagged COSE_Sign1, protected `{1: -8, 4: kid}`, payload = `claim.to_cbor()`.
/// Validate the claim first ([`Claim::check`], catalog); this function does not.
pub fn sign_label(claim: &Claim, key: &SigningKey) -> Vec<u8> {
    sign_with_content_type(&claim.to_cbor(), None, key)
}

/// Signs a status-change record (FORMATS §2).
pub fn sign_status(record: &StatusRecord, key: &SigningKey) -> Vec<u8> {
    sign_with_content_type(&record.to_cbor(), Some(STATUS_CONTENT_TYPE), key)
}

/// A decoded log entry (FORMATS §2): a label or a status record. Signatures are *not* checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A label: COSE_Sign1 without content type, payload = claim.
    Label {
        /// The envelope.
        sign1: Sign1,
        /// The decoded claim.
        claim: Claim,
    },
    /// A status-change record.
    Status {
        /// The envelope.
        sign1: Sign1,
        /// The decoded record.
        record: StatusRecord,
    },
}

impl Entry {
    /// The envelope.
    pub fn sign1(&self) -> &Sign1 {
        match self {
            Entry::Label { sign1, .. } | Entry::Status { sign1, .. } => sign1,
        }
    }

    /// The signer's key id (checked to be present and 8 bytes by [`decode_entry`]).
    pub fn kid(&self) -> KeyId {
        self.sign1().key_id().unwrap_or_default()
    }
}

/// Decodes a log entry or scanned label under the cyberlabel profile: at most
/// [`MAX_LABEL_LEN`] bytes, tag 18, EdDSA, protected 8-byte kid, no unprotected parameters; no
/// content type → label, [`STATUS_CONTENT_TYPE`] → status record. No signature check (that needs
/// the issuer key: see [`Sign1::verify`] and [`crate::verdict`]).
///
/// # Errors
/// The first structural, profile or payload problem.
pub fn decode_entry(bytes: &[u8]) -> Result<Entry, CoseError> {
    let sign1 = parse_sign1(bytes)?;
    match &sign1.content_type {
        None => {
            sign1.check_profile(false)?;
            let claim = Claim::from_cbor(&sign1.payload)?;
            Ok(Entry::Label { sign1, claim })
        }
        Some(ContentType::Text(t)) if t == STATUS_CONTENT_TYPE => {
            sign1.check_profile(true)?;
            let record = StatusRecord::from_cbor(&sign1.payload)?;
            Ok(Entry::Status { sign1, record })
        }
        Some(_) => Err(CoseError::UnknownContentType),
    }
}
