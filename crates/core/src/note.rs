//! C2SP signed notes (`c2sp.org/signed-note`): parse, sign, verify; verifier keys.
//!
//! A note is UTF-8 text ending in `\n`, a blank line, then signature lines
//! `— <key name> <base64(4-byte key id ‖ signature)>`. Key ids are
//! `SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]`. Two key types are supported:
//!
//! - `0x01` Ed25519 over the note text (logs; `c2sp.org/signed-note`),
//! - `0x04` timestamped Ed25519 cosignatures (`c2sp.org/tlog-cosignature`, cosignature/v1):
//!   76 bytes `key id ‖ u64 BE timestamp ‖ Ed25519 signature` over
//!   `"cosignature/v1\ntime <ts>\n" ‖ note text`.
//!
//! Verification follows the spec: signatures from unknown (name, key id) pairs are ignored; a
//! known key's signature must verify or the whole note is rejected; at least one known key must
//! have signed. Notes are bounded ([`MAX_NOTE_BYTES`], [`MAX_SIGNATURES`] ≥ 16 as required).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature as EdSignature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Largest note accepted by the parser (text and signatures).
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// Most signature lines accepted in one note (the spec requires at least 16; Go allows 100).
pub const MAX_SIGNATURES: usize = 100;

/// Signature type byte of plain Ed25519 note signatures.
pub const TYPE_ED25519: u8 = 0x01;
/// Signature type byte of timestamped Ed25519 cosignatures (cosignature/v1).
pub const TYPE_COSIGNATURE_V1: u8 = 0x04;

const EM_DASH_SP: &str = "\u{2014} ";

/// Errors from parsing or verifying signed notes and keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is larger than [`MAX_NOTE_BYTES`] or has more than [`MAX_SIGNATURES`] signatures.
    #[error("note too large")]
    TooLarge,
    /// Not UTF-8, a control character, no blank line before the signatures, or a bad signature line.
    #[error("malformed note")]
    Malformed,
    /// The note text is empty or does not end in a newline.
    #[error("malformed note text")]
    MalformedText,
    /// A key name is empty or contains a space or `+`.
    #[error("invalid key name")]
    InvalidKeyName,
    /// A verifier or signer key string is malformed.
    #[error("malformed key")]
    MalformedKey,
    /// The key id in a key string does not match the key.
    #[error("key id does not match the key")]
    KeyIdMismatch,
    /// The key type byte is not supported.
    #[error("unsupported key type")]
    UnsupportedKeyType,
    /// Two configured verifiers share both name and key id.
    #[error("ambiguous verifier keys")]
    AmbiguousKey,
    /// A signature by a known key failed to verify.
    #[error("invalid signature by a known key")]
    InvalidSignature,
    /// No signature by a known key.
    #[error("no signature by a known key")]
    NoKnownSignature,
}

/// `SHA-256(name ‖ 0x0A ‖ sig_type ‖ public key)[:4]` as a big-endian u32.
#[must_use]
pub fn key_id(name: &str, sig_type: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', sig_type]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Key names are non-empty, without Unicode white space and without `+`.
#[must_use]
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// The kind of a verifier key (its signature type byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// `0x01`: Ed25519 over the note text.
    Ed25519,
    /// `0x04`: timestamped Ed25519 cosignature (cosignature/v1).
    CosignatureV1,
}

impl KeyKind {
    /// The signature type byte.
    #[must_use]
    pub fn type_byte(self) -> u8 {
        match self {
            KeyKind::Ed25519 => TYPE_ED25519,
            KeyKind::CosignatureV1 => TYPE_COSIGNATURE_V1,
        }
    }
}

/// How many parsed verifier keys [`VerifierKey::parse`] remembers per thread (a log, its
/// witnesses and a few partner logs).
pub const PARSED_KEYS_REMEMBERED: usize = 32;

std::thread_local! {
    /// Verifier keys parsed on this thread, oldest first: (vkey text, key).
    static PARSED_KEYS: core::cell::RefCell<Vec<(String, VerifierKey)>> =
        const { core::cell::RefCell::new(Vec::new()) };
}

/// A public verifier key: `<name>+<8 hex key id>+<base64(type ‖ public key)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    kind: KeyKind,
    key: VerifyingKey,
}

impl VerifierKey {
    /// Build a verifier key from a name and an Ed25519 public key.
    ///
    /// # Errors
    /// [`NoteError::InvalidKeyName`].
    pub fn new(name: &str, kind: KeyKind, key: VerifyingKey) -> Result<Self, NoteError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::InvalidKeyName);
        }
        Ok(Self {
            name: name.to_owned(),
            id: key_id(name, kind.type_byte(), key.as_bytes()),
            kind,
            key,
        })
    }

    /// Parse a vkey string.
    ///
    /// A verifier parses the same few keys (the log's, its witnesses') for every label it
    /// checks, and turning 32 bytes into a curve point costs a field inversion — in the browser
    /// a fifth of a whole verification. So the keys parsed on this thread are remembered (at
    /// most [`PARSED_KEYS_REMEMBERED`], by their exact text): parsing is a pure function of the
    /// text, so the result is the same.
    ///
    /// # Errors
    /// [`NoteError`] if malformed, of an unsupported type, or the id does not match.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let hit = PARSED_KEYS.with(|c| {
            c.borrow()
                .iter()
                .find(|(text, _)| text == vkey)
                .map(|(_, key)| key.clone())
        });
        if let Some(key) = hit {
            return Ok(key);
        }
        let key = Self::parse_uncached(vkey)?;
        PARSED_KEYS.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= PARSED_KEYS_REMEMBERED {
                c.remove(0);
            }
            c.push((vkey.to_owned(), key.clone()));
        });
        Ok(key)
    }

    fn parse_uncached(vkey: &str) -> Result<Self, NoteError> {
        if vkey.len() > 1024 {
            return Err(NoteError::MalformedKey);
        }
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(hex_id), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedKey);
        };
        if !is_valid_key_name(name) {
            return Err(NoteError::InvalidKeyName);
        }
        let id = parse_hex_id(hex_id)?;
        let raw = B64.decode(b64).map_err(|_| NoteError::MalformedKey)?;
        let (&ty, pk) = raw.split_first().ok_or(NoteError::MalformedKey)?;
        let kind = match ty {
            TYPE_ED25519 => KeyKind::Ed25519,
            TYPE_COSIGNATURE_V1 => KeyKind::CosignatureV1,
            _ => return Err(NoteError::UnsupportedKeyType),
        };
        let pk: [u8; 32] = pk.try_into().map_err(|_| NoteError::MalformedKey)?;
        if key_id(name, ty, &pk) != id {
            return Err(NoteError::KeyIdMismatch);
        }
        let key = VerifyingKey::from_bytes(&pk).map_err(|_| NoteError::MalformedKey)?;
        Ok(Self {
            name: name.to_owned(),
            id,
            kind,
            key,
        })
    }

    /// Key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Key id.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.id
    }
    /// Key kind.
    #[must_use]
    pub fn kind(&self) -> KeyKind {
        self.kind
    }
    /// The Ed25519 public key.
    #[must_use]
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Verify `sig` (the signature bytes after the key id) over note `text`.
    /// Returns the cosignature timestamp for cosignature keys, `Some(0)`-free `None` for plain keys.
    fn verify(&self, text: &str, sig: &[u8]) -> Result<Option<u64>, NoteError> {
        match self.kind {
            KeyKind::Ed25519 => {
                let s = EdSignature::from_slice(sig).map_err(|_| NoteError::InvalidSignature)?;
                crate::ops::signature();
                self.key
                    .verify_strict(text.as_bytes(), &s)
                    .map_err(|_| NoteError::InvalidSignature)?;
                Ok(None)
            }
            KeyKind::CosignatureV1 => {
                if sig.len() != 72 {
                    return Err(NoteError::InvalidSignature);
                }
                let mut ts = [0u8; 8];
                ts.copy_from_slice(&sig[..8]);
                let ts = u64::from_be_bytes(ts);
                if ts >= 1 << 63 {
                    return Err(NoteError::InvalidSignature);
                }
                let s =
                    EdSignature::from_slice(&sig[8..]).map_err(|_| NoteError::InvalidSignature)?;
                let msg = cosignature_message(text, ts);
                crate::ops::signature();
                self.key
                    .verify_strict(msg.as_bytes(), &s)
                    .map_err(|_| NoteError::InvalidSignature)?;
                Ok(Some(ts))
            }
        }
    }
}

impl core::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut raw = Vec::with_capacity(33);
        raw.push(self.kind.type_byte());
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, B64.encode(raw))
    }
}

fn parse_hex_id(s: &str) -> Result<u32, NoteError> {
    if s.len() != 8
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(NoteError::MalformedKey);
    }
    u32::from_str_radix(s, 16).map_err(|_| NoteError::MalformedKey)
}

/// The message a cosignature/v1 signs: `cosignature/v1\ntime <ts>\n` ‖ checkpoint text.
#[must_use]
pub fn cosignature_message(text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{text}")
}

/// A signing key with its name: signs notes (0x01) or cosignatures (0x04).
pub struct NoteSigner {
    verifier: VerifierKey,
    key: SigningKey,
}

impl core::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "NoteSigner({})", self.verifier)
    }
}

impl NoteSigner {
    /// A signer named `name` of the given kind.
    ///
    /// # Errors
    /// [`NoteError::InvalidKeyName`].
    pub fn new(name: &str, kind: KeyKind, key: SigningKey) -> Result<Self, NoteError> {
        let verifier = VerifierKey::new(name, kind, key.verifying_key())?;
        Ok(Self { verifier, key })
    }

    /// Parse Go's private signer key form `PRIVATE+KEY+<name>+<hex id>+base64(0x01 ‖ seed)`.
    ///
    /// # Errors
    /// [`NoteError`] if malformed or the id does not match.
    pub fn parse_private(skey: &str) -> Result<Self, NoteError> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::MalformedKey)?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hex_id), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedKey);
        };
        let id = parse_hex_id(hex_id)?;
        let mut raw = B64.decode(b64).map_err(|_| NoteError::MalformedKey)?;
        let parsed = match raw.split_first() {
            Some((&TYPE_ED25519, seed)) => {
                <[u8; 32]>::try_from(seed).map(|s| (KeyKind::Ed25519, s))
            }
            Some((&TYPE_COSIGNATURE_V1, seed)) => {
                <[u8; 32]>::try_from(seed).map(|s| (KeyKind::CosignatureV1, s))
            }
            _ => {
                raw.fill(0);
                return Err(NoteError::UnsupportedKeyType);
            }
        };
        // Best-effort wipe of the decoded seed; SigningKey zeroizes itself on drop.
        raw.fill(0);
        let (kind, seed) = parsed.map_err(|_| NoteError::MalformedKey)?;
        let signer = Self::new(name, kind, SigningKey::from_bytes(&seed))?;
        if signer.verifier.id != id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(signer)
    }

    /// The matching verifier key.
    #[must_use]
    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// Signature line (without trailing newline) over `text`; `timestamp` is used only by
    /// cosignature keys.
    #[must_use]
    pub fn signature_line(&self, text: &str, timestamp: u64) -> String {
        let mut raw = Vec::with_capacity(80);
        raw.extend_from_slice(&self.verifier.id.to_be_bytes());
        match self.verifier.kind {
            KeyKind::Ed25519 => {
                raw.extend_from_slice(&self.key.sign(text.as_bytes()).to_bytes());
            }
            KeyKind::CosignatureV1 => {
                raw.extend_from_slice(&timestamp.to_be_bytes());
                let msg = cosignature_message(text, timestamp);
                raw.extend_from_slice(&self.key.sign(msg.as_bytes()).to_bytes());
            }
        }
        format!("{EM_DASH_SP}{} {}", self.verifier.name, B64.encode(raw))
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// key name
    pub name: String,
    /// key id (first four bytes of the decoded signature)
    pub key_id: u32,
    /// signature bytes after the key id
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The signature line, without the trailing newline.
    #[must_use]
    pub fn line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{EM_DASH_SP}{} {}", self.name, B64.encode(raw))
    }
}

/// A parsed (not yet verified) note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, including its final newline.
    pub text: String,
    /// All signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

fn check_chars(s: &str) -> Result<(), NoteError> {
    if s.chars().any(|c| (c as u32) < 0x20 && c != '\n') {
        return Err(NoteError::Malformed);
    }
    Ok(())
}

impl Note {
    /// Parse a signed note (does not verify).
    ///
    /// # Errors
    /// [`NoteError`] on any syntax violation.
    pub fn parse(msg: &[u8]) -> Result<Self, NoteError> {
        if msg.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge);
        }
        let s = core::str::from_utf8(msg).map_err(|_| NoteError::Malformed)?;
        check_chars(s)?;
        if !s.ends_with('\n') {
            return Err(NoteError::Malformed);
        }
        let split = s.rfind("\n\n").ok_or(NoteError::Malformed)?;
        let text = &s[..=split];
        let sigs = &s[split + 2..];
        if text == "\n" {
            return Err(NoteError::MalformedText);
        }
        let mut signatures = Vec::new();
        for line in sigs.split_terminator('\n') {
            if signatures.len() >= MAX_SIGNATURES {
                return Err(NoteError::TooLarge);
            }
            let rest = line.strip_prefix(EM_DASH_SP).ok_or(NoteError::Malformed)?;
            let (name, b64) = rest.split_once(' ').ok_or(NoteError::Malformed)?;
            if !is_valid_key_name(name) {
                return Err(NoteError::Malformed);
            }
            let raw = B64.decode(b64).map_err(|_| NoteError::Malformed)?;
            if raw.len() < 5 {
                return Err(NoteError::Malformed);
            }
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
                signature: raw[4..].to_vec(),
            });
        }
        if signatures.is_empty() {
            return Err(NoteError::Malformed);
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Serialise: text, blank line, signature lines.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.line());
            out.push('\n');
        }
        out
    }
}

/// A signature that verified against a known key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// key name
    pub name: String,
    /// key id
    pub key_id: u32,
    /// cosignature timestamp (Unix seconds) for cosignature keys
    pub timestamp: Option<u64>,
}

/// A note whose signatures were checked against a set of known keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    /// the parsed note (all signatures, verified or not)
    pub note: Note,
    /// the signatures by known keys, each verified
    pub verified: Vec<VerifiedSignature>,
}

impl VerifiedNote {
    /// Whether `key` is among the verified signers.
    #[must_use]
    pub fn is_signed_by(&self, key: &VerifierKey) -> bool {
        self.verified
            .iter()
            .any(|v| v.name == key.name && v.key_id == key.id)
    }
}

/// Verify already parsed note against `known` keys (see module docs for the rules).
///
/// # Errors
/// [`NoteError::InvalidSignature`], [`NoteError::NoKnownSignature`], [`NoteError::AmbiguousKey`].
pub fn verify(note: Note, known: &[VerifierKey]) -> Result<VerifiedNote, NoteError> {
    let mut verified: Vec<VerifiedSignature> = Vec::new();
    for sig in &note.signatures {
        let mut matching = known
            .iter()
            .filter(|k| k.name == sig.name && k.id == sig.key_id);
        let Some(key) = matching.next() else {
            continue; // unknown key: ignored
        };
        if matching.next().is_some() {
            return Err(NoteError::AmbiguousKey);
        }
        let timestamp = key.verify(&note.text, &sig.signature)?;
        // A repeated signature by the same key counts once.
        if !verified
            .iter()
            .any(|v| v.name == sig.name && v.key_id == sig.key_id)
        {
            verified.push(VerifiedSignature {
                name: sig.name.clone(),
                key_id: sig.key_id,
                timestamp,
            });
        }
    }
    if verified.is_empty() {
        return Err(NoteError::NoKnownSignature);
    }
    Ok(VerifiedNote { note, verified })
}

/// Parse and verify a signed note.
///
/// # Errors
/// Any [`NoteError`].
pub fn open(msg: &[u8], known: &[VerifierKey]) -> Result<VerifiedNote, NoteError> {
    verify(Note::parse(msg)?, known)
}

/// Sign `text` (must end in `\n`) with each signer; returns the signed note.
///
/// # Errors
/// [`NoteError::MalformedText`] if the text is empty, does not end in a newline, contains a
/// blank-line-separated signature block ambiguity, or control characters.
pub fn sign(text: &str, signers: &[&NoteSigner], timestamp: u64) -> Result<String, NoteError> {
    if text.is_empty() || !text.ends_with('\n') || check_chars(text).is_err() {
        return Err(NoteError::MalformedText);
    }
    let mut out = String::with_capacity(text.len() + 1 + 120 * signers.len());
    out.push_str(text);
    out.push('\n');
    for s in signers {
        out.push_str(&s.signature_line(text, timestamp));
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(name: &str, kind: KeyKind, seed: u8) -> NoteSigner {
        NoteSigner::new(name, kind, SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    #[test]
    fn sign_open_roundtrip_and_rules() {
        let a = signer("example.org/a", KeyKind::Ed25519, 1);
        let b = signer("example.org/b", KeyKind::Ed25519, 2);
        let text = "hello\n\nworld\n";
        let msg = sign(text, &[&a, &b], 0).unwrap();
        let v = open(msg.as_bytes(), &[a.verifier().clone()]).unwrap();
        assert_eq!(v.note.text, text);
        assert_eq!(v.verified.len(), 1);
        assert_eq!(v.note.to_text(), msg);
        // vkey round-trip
        let vk = a.verifier().to_string();
        assert_eq!(VerifierKey::parse(&vk).unwrap(), *a.verifier());
        // unknown key only: rejected
        let c = signer("example.org/c", KeyKind::Ed25519, 3);
        assert_eq!(
            open(msg.as_bytes(), &[c.verifier().clone()]),
            Err(NoteError::NoKnownSignature)
        );
        // same name, different key: ignored -> no known signature
        let a2 = signer("example.org/a", KeyKind::Ed25519, 9);
        assert_eq!(
            open(msg.as_bytes(), &[a2.verifier().clone()]),
            Err(NoteError::NoKnownSignature)
        );
        // tampered text
        let bad = msg.replacen("hello", "hellp", 1);
        assert_eq!(
            open(bad.as_bytes(), &[a.verifier().clone()]),
            Err(NoteError::InvalidSignature)
        );
    }

    #[test]
    fn cosignature_roundtrip() {
        let log = signer("example.org/log", KeyKind::Ed25519, 1);
        let w = signer("witness.example", KeyKind::CosignatureV1, 2);
        let text = "example.org/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let msg = sign(text, &[&log], 0).unwrap();
        let line = w.signature_line(text, 1_700_000_000);
        let raw = B64.decode(line.rsplit(' ').next().unwrap()).unwrap();
        assert_eq!(raw.len(), 76);
        let full = format!("{msg}{line}\n");
        let v = open(
            full.as_bytes(),
            &[log.verifier().clone(), w.verifier().clone()],
        )
        .unwrap();
        assert_eq!(v.verified.len(), 2);
        assert_eq!(v.verified[1].timestamp, Some(1_700_000_000));
    }

    #[test]
    fn rejects_malformed() {
        let a = signer("a", KeyKind::Ed25519, 1);
        let msg = sign("x\n", &[&a], 0).unwrap();
        for bad in [
            msg.trim_end().to_owned(),
            msg.replace("\n\n", "\n"),
            format!("{msg}garbage\n"),
            msg.replace('x', "\u{1}"),
            format!("{msg}\u{2014} a \n"),
        ] {
            assert!(
                open(bad.as_bytes(), &[a.verifier().clone()]).is_err(),
                "{bad:?}"
            );
        }
        assert!(sign("no newline", &[&a], 0).is_err());
        assert!(VerifierKey::parse("a+zzzzzzzz+AQ==").is_err());
        assert!(VerifierKey::parse("a b+00000000+AQ==").is_err());
    }

    #[test]
    fn parsed_keys_are_remembered_exactly_and_boundedly() {
        let vks: Vec<String> = (0..PARSED_KEYS_REMEMBERED + 3)
            .map(|i| {
                signer(&format!("cache.example/{i}"), KeyKind::Ed25519, i as u8 + 1)
                    .verifier()
                    .to_string()
            })
            .collect();
        for _ in 0..2 {
            for vk in &vks {
                // remembered or not, the same key as a fresh parse
                assert_eq!(
                    VerifierKey::parse(vk).unwrap(),
                    VerifierKey::parse_uncached(vk).unwrap()
                );
            }
        }
        assert!(PARSED_KEYS.with(|c| c.borrow().len()) <= PARSED_KEYS_REMEMBERED);
        // only the exact text hits: a key with its id changed is still refused
        let mut bad = vks[0].clone();
        let plus = bad.find('+').unwrap();
        bad.replace_range(plus + 1..plus + 2, "f");
        if bad == vks[0] {
            bad.replace_range(plus + 1..plus + 2, "0");
        }
        assert_eq!(VerifierKey::parse(&bad), Err(NoteError::KeyIdMismatch));
        assert!(VerifierKey::parse(&format!("{} ", vks[0])).is_err());
    }

    #[test]
    fn accepts_sixteen_signatures() {
        let signers: Vec<NoteSigner> = (0..16)
            .map(|i| signer(&format!("k{i}"), KeyKind::Ed25519, i as u8 + 1))
            .collect();
        let refs: Vec<&NoteSigner> = signers.iter().collect();
        let msg = sign("t\n", &refs, 0).unwrap();
        let keys: Vec<VerifierKey> = signers.iter().map(|s| s.verifier().clone()).collect();
        assert_eq!(open(msg.as_bytes(), &keys).unwrap().verified.len(), 16);
    }
}
