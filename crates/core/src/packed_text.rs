//! Packed text (FORMATS §1, "packed text"): printable ASCII in 6-bit symbols, so the names a
//! label carries take about ¾ of their UTF-8 bytes.
//!
//! Alphabet: the 63 *primary* symbols `0-9 A-Z a-z` and space (values 0..=62, in that order)
//! take 6 bits; value 63 is an escape followed by a 6-bit index (0..=31) into the 32 other
//! printable ASCII characters in ASCII order (`!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~`), 12 bits in
//! all. Symbols are written most significant bit first and the last byte is padded with 1 bits
//! (fewer than 8). Text with any other character (non-ASCII, controls) has no packed form.
//!
//! [`unpack`] is strict: a bad escape index or padding that is not all ones is rejected, so
//! every packed byte string has exactly one text and `pack(unpack(b)) == b`.

/// The primary symbols, by value.
const PRIMARY: &[u8; 63] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ";
/// The symbols after an escape, by index.
const SECONDARY: &[u8; 32] = b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
/// The escape value.
const ESCAPE: u8 = 63;

fn primary(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'Z' => Some(c - b'A' + 10),
        b'a'..=b'z' => Some(c - b'a' + 36),
        b' ' => Some(62),
        _ => None,
    }
}

fn secondary(c: u8) -> Option<u8> {
    SECONDARY
        .iter()
        .position(|&s| s == c)
        .and_then(|i| u8::try_from(i).ok())
}

/// The packed form of `text`, or `None` if it holds a character outside printable ASCII.
#[must_use]
pub fn pack(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let (mut acc, mut nbits) = (0u32, 0u32);
    let mut push = |v: u8, acc: &mut u32, nbits: &mut u32| {
        *acc = (*acc << 6) | u32::from(v);
        *nbits += 6;
        while *nbits >= 8 {
            *nbits -= 8;
            out.push((*acc >> *nbits) as u8);
            *acc &= (1 << *nbits) - 1;
        }
    };
    for &c in text.as_bytes() {
        if let Some(v) = primary(c) {
            push(v, &mut acc, &mut nbits);
        } else {
            let v = secondary(c)?;
            push(ESCAPE, &mut acc, &mut nbits);
            push(v, &mut acc, &mut nbits);
        }
    }
    if nbits > 0 {
        let pad = 8 - nbits;
        out.push(((acc << pad) | ((1 << pad) - 1)) as u8);
    }
    Some(out)
}

/// The text of a packed byte string, or `None` if it is not the packed form of any text.
#[must_use]
pub fn unpack(bytes: &[u8]) -> Option<String> {
    let total = bytes.len() * 8;
    let bit = |i: usize| (bytes[i / 8] >> (7 - i % 8)) & 1;
    let read6 = |at: usize| (0..6).fold(0u8, |v, k| (v << 1) | bit(at + k));
    let mut out = String::with_capacity(total / 6);
    let mut at = 0;
    while total - at >= 6 {
        let v = read6(at);
        if v != ESCAPE {
            out.push(char::from(PRIMARY[usize::from(v)]));
            at += 6;
        } else if total - at >= 12 {
            let s = *SECONDARY.get(usize::from(read6(at + 6)))?;
            out.push(char::from(s));
            at += 12;
        } else {
            break; // the padding's ones, read as an escape with nothing after it
        }
    }
    // Canonical: exactly the bytes `pack` writes (padding all ones, fewer than 8 bits).
    (pack(&out)? == bytes).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sizes() {
        for s in [
            "",
            "A",
            "Ab",
            "Abc",
            "Acme Smart Home Pte. Ltd.",
            ">= 2.4.1",
            "~}|{",
            "rev B, rev C",
        ] {
            let p = pack(s).unwrap();
            assert_eq!(unpack(&p).as_deref(), Some(s), "{s:?}");
            let bits: usize = s
                .bytes()
                .map(|c| if primary(c).is_some() { 6 } else { 12 })
                .sum();
            assert_eq!(p.len(), bits.div_ceil(8), "{s:?}");
        }
        // 4 primary characters in 3 bytes.
        assert_eq!(pack("Acme").unwrap().len(), 3);
        assert_eq!(pack("Müller"), None);
        assert_eq!(pack("a\tb"), None);
    }

    #[test]
    fn rejects_what_pack_never_writes() {
        let p = pack("Ab").unwrap(); // 12 bits + 4 padding bits
        let mut zero_pad = p.clone();
        *zero_pad.last_mut().unwrap() &= 0xF0;
        assert_eq!(unpack(&zero_pad), None);
        // Six zero padding bits are a '0': another text, not another form of this one.
        let mut abc = pack("Abc").unwrap();
        *abc.last_mut().unwrap() &= 0xC0;
        assert_eq!(unpack(&abc).as_deref(), Some("Abc0"));
        // An escape to index 32..=63.
        assert_eq!(unpack(&[0xFF, 0xFF]), None);
        // A whole padding byte.
        let mut extra = pack("Abcd").unwrap();
        extra.push(0xFF);
        assert_eq!(unpack(&extra), None);
        // Every 2-byte string either is canonical or is rejected.
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                if let Some(s) = unpack(&[a, b]) {
                    assert_eq!(pack(&s).unwrap(), [a, b]);
                }
            }
        }
    }
}
