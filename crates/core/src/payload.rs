//! QR payload codec (FORMATS §3): label bytes ↔ decimal digits, URL and `CL1:` forms.
//!
//! Digits are the densest URL-safe text a QR code holds: a numeric-mode segment stores 10 bits
//! per 3 digits, and 7 bytes become 17 digits (≈ 8.1 bits per byte), against ≈ 8.8 for base32
//! in alphanumeric mode and ≈ 10.7 for base64url in byte mode. Each 7-byte chunk is the
//! big-endian integer in exactly 17 digits, zero-padded; a final chunk of k < 7 bytes uses
//! `[0, 3, 5, 8, 10, 13, 15][k]` digits (the fewest that hold 256^k − 1).
//!
//! Decoding is strict and bounded: at most [`MAX_LABEL_BYTES`] bytes ([`MAX_DIGITS`] digits),
//! only ASCII digits, a digit count some byte count maps to, and every chunk's value below
//! 256^(its byte count); so every label has exactly one digit string and vice versa.

/// Largest label accepted (FORMATS §1).
pub const MAX_LABEL_BYTES: usize = 1024;
/// Digits of a full 7-byte chunk.
const CHUNK_DIGITS: usize = 17;
/// Digits for a final chunk of k bytes, k = 0..=7.
const DIGITS_FOR: [usize; 8] = [0, 3, 5, 8, 10, 13, 15, 17];
/// Digits for [`MAX_LABEL_BYTES`] bytes.
pub const MAX_DIGITS: usize = MAX_LABEL_BYTES / 7 * CHUNK_DIGITS + DIGITS_FOR[MAX_LABEL_BYTES % 7];
/// Prefix of the app form.
pub const CL1_PREFIX: &str = "CL1:";
/// Longest text [`decode`] looks at: a generous URL prefix plus the digits.
pub const MAX_TEXT_LEN: usize = MAX_DIGITS + 512;

/// Why a payload was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// No digits.
    #[error("payload is empty")]
    Empty,
    /// More than the label size bound.
    #[error("payload is too long")]
    TooLong,
    /// A character other than 0-9 in the digits.
    #[error("payload contains a non-digit")]
    NonDigit,
    /// A digit count that no byte count maps to.
    #[error("payload has an invalid digit count")]
    BadLength,
    /// A chunk's value does not fit its byte count.
    #[error("payload chunk value out of range")]
    ChunkOverflow,
    /// Neither `…#digits` nor `CL1:digits` nor bare digits.
    #[error("payload is neither a verifier URL nor a CL1: string")]
    UnknownForm,
}

/// Encodes label bytes as digits. Total: any byte string has exactly one digit string.
pub fn encode_digits(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(7) * CHUNK_DIGITS);
    for chunk in bytes.chunks(7) {
        let mut n: u64 = 0;
        for &b in chunk {
            n = (n << 8) | u64::from(b);
        }
        let width = DIGITS_FOR[chunk.len()];
        out.push_str(&format!("{n:0width$}"));
    }
    out
}

/// Decodes digits to label bytes (strict; see the module docs).
///
/// # Errors
/// [`PayloadError`] naming the problem.
pub fn decode_digits(digits: &str) -> Result<Vec<u8>, PayloadError> {
    if digits.is_empty() {
        return Err(PayloadError::Empty);
    }
    if digits.len() > MAX_DIGITS {
        return Err(PayloadError::TooLong);
    }
    let d = digits.as_bytes();
    if !d.iter().all(u8::is_ascii_digit) {
        return Err(PayloadError::NonDigit);
    }
    let rem = d.len() % CHUNK_DIGITS;
    let last_bytes = DIGITS_FOR[..7]
        .iter()
        .position(|&n| n == rem)
        .ok_or(PayloadError::BadLength)?;
    let mut out = Vec::with_capacity(d.len() / CHUNK_DIGITS * 7 + last_bytes);
    for chunk in d.chunks(CHUNK_DIGITS) {
        let k = if chunk.len() == CHUNK_DIGITS {
            7
        } else {
            last_bytes
        };
        // At most 17 digits < 10^17 < 2^64: no overflow.
        let n = chunk
            .iter()
            .fold(0u64, |acc, c| acc * 10 + u64::from(c - b'0'));
        if k < 8 && n >> (8 * k) != 0 {
            return Err(PayloadError::ChunkOverflow);
        }
        out.extend_from_slice(&n.to_be_bytes()[8 - k..]);
    }
    if out.len() > MAX_LABEL_BYTES {
        return Err(PayloadError::TooLong);
    }
    Ok(out)
}

/// The URL form: `base` + `#` + digits, e.g. `https://verify.example/v#0123…`.
pub fn to_url(base: &str, label: &[u8]) -> String {
    format!("{base}#{}", encode_digits(label))
}

/// The app form: `CL1:` + digits.
pub fn to_cl1(label: &[u8]) -> String {
    format!("{CL1_PREFIX}{}", encode_digits(label))
}

/// Splits a payload text into `(prefix, digits)` for QR segmentation: the prefix (URL up to
/// and including `#`, or `CL1:`) goes in a byte or alphanumeric segment, the digits in a numeric
/// segment. Bare digits give an empty prefix. Returns `None` if `text` is none of the forms or
/// the digit part contains a non-digit.
pub fn qr_segments(text: &str) -> Option<(&str, &str)> {
    let split = if let Some(i) = text.find('#') {
        i + 1
    } else if text.len() >= CL1_PREFIX.len()
        && text.is_char_boundary(CL1_PREFIX.len())
        && text[..CL1_PREFIX.len()].eq_ignore_ascii_case(CL1_PREFIX)
    {
        CL1_PREFIX.len()
    } else {
        0
    };
    let (prefix, digits) = text.split_at(split);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((prefix, digits))
}

/// Decodes either form (or bare digits) to label bytes. The URL's scheme and host are not
/// checked: they are not part of the trust decision.
///
/// # Errors
/// [`PayloadError::UnknownForm`] for text that is none of the forms; otherwise as
/// [`decode_digits`].
pub fn decode(text: &str) -> Result<Vec<u8>, PayloadError> {
    if text.len() > MAX_TEXT_LEN {
        return Err(PayloadError::TooLong);
    }
    let digits = if let Some(i) = text.find('#') {
        &text[i + 1..]
    } else if text.len() >= CL1_PREFIX.len()
        && text.is_char_boundary(CL1_PREFIX.len())
        && text[..CL1_PREFIX.len()].eq_ignore_ascii_case(CL1_PREFIX)
    {
        &text[CL1_PREFIX.len()..]
    } else if text.bytes().all(|b| b.is_ascii_digit()) {
        text
    } else {
        return Err(PayloadError::UnknownForm);
    };
    decode_digits(digits)
}
