//! Deterministic CBOR (RFC 8949 §4.2.1) over [`ciborium::Value`].
//!
//! Every signed object in cyberlabel (label claims, status records, COSE headers and the COSE
//! `Sig_structure`) is encoded with [`encode`], so the same value always gives the same bytes:
//! shortest-form integers and lengths, definite lengths only, map entries sorted bytewise by
//! their encoded keys.
//!
//! [`decode`] is the strict counterpart for hostile input (QR codes found in the wild). It is a
//! small hand-written parser rather than ciborium's serde path, because it must *reject* what a
//! general decoder tolerates: trailing bytes, indefinite lengths, non-shortest heads, unsorted or
//! duplicate map keys, floats and simple values (no cyberlabel format uses them), and nesting
//! deeper than [`MAX_DEPTH`]. Declared lengths are checked against the remaining input before any
//! allocation, so a 9-byte input cannot request a 2^64-element array. A value accepted by
//! [`decode`] re-encodes with [`encode`] to the identical bytes (property-tested).

pub use ciborium::Value;
use ciborium::value::Integer;

/// Maximum nesting depth of arrays, maps and tags accepted by [`decode`].
pub const MAX_DEPTH: usize = 16;

/// Why [`decode`] rejected its input.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CborError {
    /// The input is longer than the caller's bound.
    #[error("CBOR input exceeds the size limit")]
    TooLarge,
    /// The input ends in the middle of an item.
    #[error("CBOR input is truncated")]
    Truncated,
    /// Bytes follow the single top-level item.
    #[error("trailing bytes after the CBOR item")]
    TrailingBytes,
    /// An indefinite-length item or a stray "break" byte.
    #[error("indefinite-length CBOR item (not deterministic)")]
    Indefinite,
    /// An integer, length or tag not in its shortest encoding.
    #[error("CBOR head is not in shortest form")]
    NonShortest,
    /// Map keys not in bytewise order of their encodings.
    #[error("CBOR map keys are not sorted")]
    UnsortedKeys,
    /// The same map key twice.
    #[error("duplicate CBOR map key")]
    DuplicateKey,
    /// Reserved additional-information values 28..=30.
    #[error("reserved CBOR additional information")]
    Reserved,
    /// Floats, `undefined` and other simple values: valid CBOR, but no cyberlabel format uses them.
    #[error("unsupported CBOR type (float or simple value)")]
    Unsupported,
    /// A text string that is not UTF-8.
    #[error("CBOR text string is not valid UTF-8")]
    InvalidUtf8,
    /// Arrays, maps or tags nested deeper than [`MAX_DEPTH`].
    #[error("CBOR nesting too deep")]
    TooDeep,
}

/// Encodes `value` deterministically (RFC 8949 §4.2.1).
///
/// Map entries are emitted sorted by their encoded keys. Duplicate keys in the input value are
/// emitted as given (the caller builds values; [`decode`] rejects duplicates). Floats use the
/// shortest of half, single and double precision that represents the value exactly.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(value, &mut out);
    out
}

/// Appends the deterministic encoding of `value` to `out`. See [`encode`].
pub fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Integer(i) => {
            let n = i128::from(*i);
            if n >= 0 {
                // Integer covers [-2^64, 2^64 - 1], so the cast is lossless.
                write_head(out, 0, n as u64);
            } else {
                write_head(out, 1, (-1 - n) as u64);
            }
        }
        Value::Bytes(b) => {
            write_head(out, 2, b.len() as u64);
            out.extend_from_slice(b);
        }
        Value::Text(s) => {
            write_head(out, 3, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(items) => {
            write_head(out, 4, items.len() as u64);
            for item in items {
                encode_into(item, out);
            }
        }
        Value::Map(entries) => {
            let mut encoded: Vec<(Vec<u8>, &Value)> =
                entries.iter().map(|(k, v)| (encode(k), v)).collect();
            encoded.sort_by(|a, b| a.0.cmp(&b.0));
            write_head(out, 5, encoded.len() as u64);
            for (k, v) in encoded {
                out.extend_from_slice(&k);
                encode_into(v, out);
            }
        }
        Value::Tag(tag, inner) => {
            write_head(out, 6, *tag);
            encode_into(inner, out);
        }
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Null => out.push(0xf6),
        Value::Float(f) => write_float(out, *f),
        // `Value` is non-exhaustive; every variant of ciborium 0.2 is handled above. A future
        // variant encodes as `undefined`, which [`decode`] rejects, so it can never verify.
        _ => out.push(0xf7),
    }
}

/// Writes a CBOR head (major type + argument) in shortest form.
fn write_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    if arg < 24 {
        out.push(m | arg as u8);
    } else if arg <= 0xff {
        out.push(m | 24);
        out.push(arg as u8);
    } else if arg <= 0xffff {
        out.push(m | 25);
        out.extend_from_slice(&(arg as u16).to_be_bytes());
    } else if arg <= 0xffff_ffff {
        out.push(m | 26);
        out.extend_from_slice(&(arg as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&arg.to_be_bytes());
    }
}

/// Shortest exact float encoding (RFC 8949 §4.2.1 "preferred serialization").
fn write_float(out: &mut Vec<u8>, f: f64) {
    if let Some(h) = f64_to_f16_exact(f) {
        out.push(0xf9);
        out.extend_from_slice(&h.to_be_bytes());
    } else if f.is_nan() || f64::from(f as f32) == f {
        out.push(0xfa);
        out.extend_from_slice(&(f as f32).to_bits().to_be_bytes());
    } else {
        out.push(0xfb);
        out.extend_from_slice(&f.to_bits().to_be_bytes());
    }
}

/// The IEEE half-precision bits of `f` if `f` is exactly representable (NaN becomes the
/// canonical quiet NaN 0x7e00).
fn f64_to_f16_exact(f: f64) -> Option<u16> {
    if f.is_nan() {
        return Some(0x7e00);
    }
    let sign: u16 = if f.is_sign_negative() { 0x8000 } else { 0 };
    let a = f.abs();
    if a == 0.0 {
        return Some(sign);
    }
    if a.is_infinite() {
        return Some(sign | 0x7c00);
    }
    // Subnormal halves: m * 2^-24 for m in 1..1024.
    let sub = a * 16_777_216.0; // 2^24
    if sub < 1024.0 {
        return if sub.fract() == 0.0 {
            Some(sign | sub as u16)
        } else {
            None
        };
    }
    // Normal halves: exponent -14..=15, 10 fraction bits.
    let bits = a.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32 - 1023;
    let frac = bits & ((1u64 << 52) - 1);
    if !(-14..=15).contains(&exp) || frac & ((1u64 << 42) - 1) != 0 {
        return None;
    }
    Some(sign | (((exp + 15) as u16) << 10) | (frac >> 42) as u16)
}

/// Decodes exactly one deterministic CBOR item from `bytes` (see the module docs for what is
/// rejected). `max_len` bounds the input size and is checked before anything else.
///
/// # Errors
/// A [`CborError`] naming the first violation found.
pub fn decode(bytes: &[u8], max_len: usize) -> Result<Value, CborError> {
    if bytes.len() > max_len {
        return Err(CborError::TooLarge);
    }
    let mut r = Reader { buf: bytes, pos: 0 };
    let v = r.item(0)?;
    if r.pos != bytes.len() {
        return Err(CborError::TrailingBytes);
    }
    Ok(v)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8], CborError> {
        if n > self.remaining() {
            return Err(CborError::Truncated);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, CborError> {
        Ok(self.take(1)?[0])
    }

    /// Reads the argument for additional information `ai`, enforcing shortest form.
    fn argument(&mut self, ai: u8) -> Result<u64, CborError> {
        match ai {
            0..=23 => Ok(u64::from(ai)),
            24 => {
                let v = u64::from(self.byte()?);
                if v < 24 {
                    return Err(CborError::NonShortest);
                }
                Ok(v)
            }
            25 => {
                let s = self.take(2)?;
                let v = u64::from(u16::from_be_bytes([s[0], s[1]]));
                if v <= 0xff {
                    return Err(CborError::NonShortest);
                }
                Ok(v)
            }
            26 => {
                let s = self.take(4)?;
                let v = u64::from(u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
                if v <= 0xffff {
                    return Err(CborError::NonShortest);
                }
                Ok(v)
            }
            27 => {
                let s = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(s);
                let v = u64::from_be_bytes(a);
                if v <= 0xffff_ffff {
                    return Err(CborError::NonShortest);
                }
                Ok(v)
            }
            31 => Err(CborError::Indefinite),
            _ => Err(CborError::Reserved),
        }
    }

    /// A declared length, which must fit in what is left of the input (each element takes at
    /// least `min_each` bytes), so allocations are bounded by the input size.
    fn length(&mut self, ai: u8, min_each: usize) -> Result<usize, CborError> {
        let n = self.argument(ai)?;
        let need = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(min_each))
            .ok_or(CborError::Truncated)?;
        if need > self.remaining() {
            return Err(CborError::Truncated);
        }
        // `need` fits in usize, and min_each >= 1, so n does too.
        Ok(n as usize)
    }

    fn item(&mut self, depth: usize) -> Result<Value, CborError> {
        let initial = self.byte()?;
        let major = initial >> 5;
        let ai = initial & 0x1f;
        match major {
            0 => Ok(Value::Integer(Integer::from(self.argument(ai)?))),
            1 => {
                let n = self.argument(ai)?;
                let v = -1i128 - i128::from(n);
                Integer::try_from(v)
                    .map(Value::Integer)
                    .map_err(|_| CborError::Unsupported)
            }
            2 => {
                let n = self.length(ai, 1)?;
                Ok(Value::Bytes(self.take(n)?.to_vec()))
            }
            3 => {
                let n = self.length(ai, 1)?;
                let s = core::str::from_utf8(self.take(n)?).map_err(|_| CborError::InvalidUtf8)?;
                Ok(Value::Text(String::from(s)))
            }
            4 => {
                if depth >= MAX_DEPTH {
                    return Err(CborError::TooDeep);
                }
                let n = self.length(ai, 1)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.item(depth + 1)?);
                }
                Ok(Value::Array(items))
            }
            5 => {
                if depth >= MAX_DEPTH {
                    return Err(CborError::TooDeep);
                }
                let n = self.length(ai, 2)?;
                let mut entries = Vec::with_capacity(n);
                let mut prev_key: Option<(usize, usize)> = None;
                for _ in 0..n {
                    let start = self.pos;
                    let k = self.item(depth + 1)?;
                    let end = self.pos;
                    if let Some((ps, pe)) = prev_key {
                        match self.buf[ps..pe].cmp(&self.buf[start..end]) {
                            core::cmp::Ordering::Less => {}
                            core::cmp::Ordering::Equal => return Err(CborError::DuplicateKey),
                            core::cmp::Ordering::Greater => return Err(CborError::UnsortedKeys),
                        }
                    }
                    prev_key = Some((start, end));
                    let v = self.item(depth + 1)?;
                    entries.push((k, v));
                }
                Ok(Value::Map(entries))
            }
            6 => {
                if depth >= MAX_DEPTH {
                    return Err(CborError::TooDeep);
                }
                let tag = self.argument(ai)?;
                let inner = self.item(depth + 1)?;
                Ok(Value::Tag(tag, Box::new(inner)))
            }
            _ => match ai {
                20 => Ok(Value::Bool(false)),
                21 => Ok(Value::Bool(true)),
                22 => Ok(Value::Null),
                28..=30 => Err(CborError::Reserved),
                31 => Err(CborError::Indefinite),
                _ => Err(CborError::Unsupported),
            },
        }
    }
}

/// Helpers for reading decoded values; used by the claim, COSE and status decoders.
pub(crate) fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Integer(i) => u64::try_from(*i).ok(),
        _ => None,
    }
}

/// The value as an `i64`, if it is an integer in range.
pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => i64::try_from(*i).ok(),
        _ => None,
    }
}

/// Shorthand for an unsigned integer value.
pub fn uint(n: u64) -> Value {
    Value::Integer(Integer::from(n))
}

/// Shorthand for a (possibly negative) integer value.
pub fn int(n: i64) -> Value {
    Value::Integer(Integer::from(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn rfc8949_appendix_a_integers_encode_shortest() {
        // (value, expected encoding) pairs from RFC 8949 Appendix A.
        let cases: &[(i128, &str)] = &[
            (0, "00"),
            (1, "01"),
            (10, "0a"),
            (23, "17"),
            (24, "1818"),
            (25, "1819"),
            (100, "1864"),
            (1000, "1903e8"),
            (1_000_000, "1a000f4240"),
            (1_000_000_000_000, "1b000000e8d4a51000"),
            (18_446_744_073_709_551_615, "1bffffffffffffffff"),
            (-18_446_744_073_709_551_616, "3bffffffffffffffff"),
            (-1, "20"),
            (-10, "29"),
            (-100, "3863"),
            (-1000, "3903e7"),
        ];
        for (n, h) in cases {
            let v = Value::Integer(Integer::try_from(*n).unwrap());
            assert_eq!(encode(&v), hex(h), "encode {n}");
            assert_eq!(decode(&hex(h), 64).unwrap(), v, "decode {n}");
        }
    }

    #[test]
    fn rfc8949_appendix_a_floats_encode_shortest() {
        let cases: &[(f64, &str)] = &[
            (0.0, "f90000"),
            (-0.0, "f98000"),
            (1.0, "f93c00"),
            (1.1, "fb3ff199999999999a"),
            (1.5, "f93e00"),
            (65504.0, "f97bff"),
            (100000.0, "fa47c35000"),
            (3.4028234663852886e+38, "fa7f7fffff"),
            (1.0e+300, "fb7e37e43c8800759c"),
            (5.960464477539063e-8, "f90001"),
            (0.00006103515625, "f90400"),
            (-4.0, "f9c400"),
            (-4.1, "fbc010666666666666"),
            (f64::INFINITY, "f97c00"),
            (f64::NAN, "f97e00"),
            (f64::NEG_INFINITY, "f9fc00"),
        ];
        for (f, h) in cases {
            assert_eq!(encode(&Value::Float(*f)), hex(h), "encode {f}");
        }
    }

    #[test]
    fn map_keys_are_sorted_by_encoding() {
        let v = Value::Map(vec![
            (Value::Text("aa".into()), uint(1)),
            (uint(100), uint(2)),
            (int(-1), uint(3)),
            (uint(10), uint(4)),
        ]);
        // 10 (0a) < 100 (1864) < -1 (20) < "aa" (626161)
        assert_eq!(encode(&v), hex("a40a04186402200362616101"));
        assert_eq!(encode(&decode(&encode(&v), 64).unwrap()), encode(&v));
    }

    #[test]
    fn strict_decode_rejects_non_canonical_forms() {
        let cases: &[(&str, CborError)] = &[
            ("1817", CborError::NonShortest),       // 23 in two bytes
            ("1900ff", CborError::NonShortest),     // 255 in three bytes
            ("1a0000ffff", CborError::NonShortest), // 65535 in five bytes
            ("1b00000000ffffffff", CborError::NonShortest),
            ("3817", CborError::NonShortest),   // -24 non-shortest
            ("5801ff", CborError::NonShortest), // byte-string length non-shortest
            ("5f41ff41ffff", CborError::Indefinite), // indefinite byte string
            ("9fff", CborError::Indefinite),    // indefinite array
            ("bf0101ff", CborError::Indefinite), // indefinite map
            ("ff", CborError::Indefinite),      // stray break
            ("a20101010102", CborError::DuplicateKey),
            ("a202010101", CborError::UnsortedKeys),
            ("a2010102", CborError::Truncated), // second value missing
            ("0000", CborError::TrailingBytes),
            ("1c", CborError::Reserved),
            ("f93c00", CborError::Unsupported), // float
            ("f7", CborError::Unsupported),     // undefined
            ("f820", CborError::Unsupported),   // simple(32)
            ("62c328", CborError::InvalidUtf8),
            ("5b7fffffffffffffff", CborError::Truncated), // huge declared length
            ("9b7fffffffffffffff", CborError::Truncated),
            ("", CborError::Truncated),
        ];
        for (h, e) in cases {
            let bytes = hex(h);
            assert_eq!(decode(&bytes, 1024), Err(*e), "input {h}");
        }
    }

    #[test]
    fn decode_enforces_size_and_depth_bounds() {
        assert_eq!(decode(&[0u8; 10], 9), Err(CborError::TooLarge));
        let mut deep = vec![0x81u8; MAX_DEPTH];
        deep.push(0x00);
        assert!(decode(&deep, 1024).is_ok());
        let mut too_deep = vec![0x81u8; MAX_DEPTH + 1];
        too_deep.push(0x00);
        assert_eq!(decode(&too_deep, 1024), Err(CborError::TooDeep));
    }
}
