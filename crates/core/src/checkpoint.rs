//! C2SP `tlog-checkpoint` bodies, our status-map extension line, and checkpoint verification
//! under a policy (log key + witness quorum, `c2sp.org/tlog-cosignature`).
//!
//! ```text
//! <origin>\n
//! <tree size, decimal, no leading zeros>\n
//! <base64 root hash>\n
//! cyberlabel-status <bucket count> <base64 status root>\n     (docs/FORMATS.md §4; optional)
//! ```
//!
//! Our policy requires the log's signing key name to equal the checkpoint origin (a SHOULD in
//! the spec) so that a key for one log can never vouch for another.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::merkle::Hash;
use crate::note::{self, KeyKind, NoteError, NoteSigner, VerifiedNote, VerifierKey};

/// Keyword of our status-map extension line.
pub const STATUS_EXTENSION: &str = "cyberlabel-status";
/// Most extension lines accepted.
pub const MAX_EXTENSIONS: usize = 16;

/// Errors from checkpoint parsing and verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The checkpoint body is malformed.
    #[error("malformed checkpoint")]
    Malformed,
    /// The status extension line is malformed (or present twice).
    #[error("malformed cyberlabel-status extension line")]
    MalformedStatusLine,
    /// The signed note is invalid.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// The origin is not the one the policy expects.
    #[error("checkpoint origin does not match the log key name")]
    WrongOrigin,
    /// The log's own signature is missing.
    #[error("checkpoint is not signed by the log key")]
    NotSignedByLog,
    /// Fewer valid witness cosignatures than the quorum.
    #[error("only {got} of the required {need} witness cosignatures")]
    QuorumNotMet {
        /// valid cosignatures from policy witnesses
        got: usize,
        /// quorum
        need: usize,
    },
}

/// The status-map commitment carried in the extension line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusCommitment {
    /// number of 256-label buckets = ceil(tree size / 256)
    pub bucket_count: u64,
    /// RFC 6962 tree hash over the bucket byte strings
    pub root: Hash,
}

/// A checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// log origin (first line)
    pub origin: String,
    /// tree size
    pub size: u64,
    /// RFC 6962 root hash
    pub root: Hash,
    /// extension lines, verbatim, without newlines (includes our status line if any)
    pub extensions: Vec<String>,
}

/// ASCII decimal without leading zeros ("0" alone is fine).
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// A canonical base64 SHA-256 hash (44 characters).
pub(crate) fn parse_hash(s: &str) -> Option<Hash> {
    if s.len() != 44 {
        return None;
    }
    B64.decode(s).ok()?.try_into().ok()
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    #[must_use]
    pub fn new(origin: &str, size: u64, root: Hash) -> Self {
        Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// Parse a checkpoint body (the note text).
    ///
    /// # Errors
    /// [`CheckpointError::Malformed`] on any deviation from the format.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let body = text.strip_suffix('\n').ok_or(CheckpointError::Malformed)?;
        let mut lines = body.split('\n');
        let origin = lines.next().ok_or(CheckpointError::Malformed)?;
        let size = lines
            .next()
            .and_then(parse_decimal)
            .ok_or(CheckpointError::Malformed)?;
        let root = lines
            .next()
            .and_then(parse_hash)
            .ok_or(CheckpointError::Malformed)?;
        if origin.is_empty() {
            return Err(CheckpointError::Malformed);
        }
        let mut extensions = Vec::new();
        for l in lines {
            if l.is_empty() || extensions.len() >= MAX_EXTENSIONS {
                return Err(CheckpointError::Malformed);
            }
            extensions.push(l.to_owned());
        }
        let cp = Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        };
        // A malformed status line makes the whole checkpoint malformed for us.
        cp.status()?;
        Ok(cp)
    }

    /// The note text.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Add (or replace) the status extension line.
    pub fn set_status(&mut self, status: StatusCommitment) {
        self.extensions
            .retain(|e| e.split(' ').next() != Some(STATUS_EXTENSION));
        self.extensions.push(format!(
            "{STATUS_EXTENSION} {} {}",
            status.bucket_count,
            B64.encode(status.root)
        ));
    }

    /// The status commitment, if the extension line is present.
    ///
    /// # Errors
    /// [`CheckpointError::MalformedStatusLine`] if malformed or repeated.
    pub fn status(&self) -> Result<Option<StatusCommitment>, CheckpointError> {
        let mut found = None;
        for e in &self.extensions {
            let mut parts = e.split(' ');
            if parts.next() != Some(STATUS_EXTENSION) {
                continue;
            }
            let (Some(count), Some(root), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(CheckpointError::MalformedStatusLine);
            };
            let bucket_count = parse_decimal(count).ok_or(CheckpointError::MalformedStatusLine)?;
            let root = parse_hash(root).ok_or(CheckpointError::MalformedStatusLine)?;
            if found.is_some() {
                return Err(CheckpointError::MalformedStatusLine);
            }
            found = Some(StatusCommitment { bucket_count, root });
        }
        Ok(found)
    }

    /// Sign with the log key; returns the signed note text.
    ///
    /// # Errors
    /// [`CheckpointError::WrongOrigin`] if the signer's name is not the origin.
    pub fn sign(&self, log: &NoteSigner) -> Result<String, CheckpointError> {
        if log.verifier().name() != self.origin || log.verifier().kind() != KeyKind::Ed25519 {
            return Err(CheckpointError::WrongOrigin);
        }
        Ok(note::sign(&self.to_text(), &[log], 0)?)
    }
}

/// Who must have signed a checkpoint: the log key and `quorum` of the witnesses.
#[derive(Debug, Clone)]
pub struct Policy {
    /// the log's Ed25519 key; its name is the origin
    pub log: VerifierKey,
    /// witness cosignature keys
    pub witnesses: Vec<VerifierKey>,
    /// how many distinct witnesses must have cosigned
    pub quorum: usize,
}

impl Policy {
    /// A policy that needs only the log's signature.
    #[must_use]
    pub fn log_only(log: VerifierKey) -> Self {
        Self {
            log,
            witnesses: Vec::new(),
            quorum: 0,
        }
    }
}

/// A checkpoint whose signatures satisfied a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// the checkpoint body
    pub checkpoint: Checkpoint,
    /// the note with the verified signatures (log and witnesses)
    pub note: VerifiedNote,
}

/// Parse and verify a signed checkpoint under `policy`.
///
/// # Errors
/// Any [`CheckpointError`].
pub fn open(signed: &[u8], policy: &Policy) -> Result<VerifiedCheckpoint, CheckpointError> {
    let mut keys = Vec::with_capacity(1 + policy.witnesses.len());
    keys.push(policy.log.clone());
    keys.extend(policy.witnesses.iter().cloned());
    let parsed = note::Note::parse(signed)?;
    let checkpoint = Checkpoint::parse(&parsed.text)?;
    if checkpoint.origin != policy.log.name() {
        return Err(CheckpointError::WrongOrigin);
    }
    let verified = match note::verify(parsed, &keys) {
        Ok(v) => v,
        Err(NoteError::NoKnownSignature) => return Err(CheckpointError::NotSignedByLog),
        Err(e) => return Err(e.into()),
    };
    if !verified.is_signed_by(&policy.log) {
        return Err(CheckpointError::NotSignedByLog);
    }
    let got = policy
        .witnesses
        .iter()
        .filter(|w| w.kind() == KeyKind::CosignatureV1 && verified.is_signed_by(w))
        .count();
    if got < policy.quorum {
        return Err(CheckpointError::QuorumNotMet {
            got,
            need: policy.quorum,
        });
    }
    Ok(VerifiedCheckpoint {
        checkpoint,
        note: verified,
    })
}

/// A witness's cosignature line (without newline) on a checkpoint body, timestamped `time`.
///
/// # Errors
/// [`CheckpointError::Note`] if `witness` is not a cosignature/v1 key.
pub fn cosign(
    checkpoint_text: &str,
    witness: &NoteSigner,
    time: u64,
) -> Result<String, CheckpointError> {
    if witness.verifier().kind() != KeyKind::CosignatureV1 || time >= 1 << 63 {
        return Err(CheckpointError::Note(NoteError::UnsupportedKeyType));
    }
    Ok(witness.signature_line(checkpoint_text, time))
}

/// Append signature lines (e.g. witness cosignatures) to a signed note, skipping lines already
/// present.
///
/// # Errors
/// [`CheckpointError::Note`] if the note or a line does not parse.
pub fn add_signature_lines(signed: &str, lines: &[String]) -> Result<String, CheckpointError> {
    let mut parsed = note::Note::parse(signed.as_bytes())?;
    for l in lines {
        let one = note::Note::parse(format!("x\n\n{l}\n").as_bytes())?;
        for s in one.signatures {
            if !parsed.signatures.contains(&s) {
                parsed.signatures.push(s);
            }
        }
    }
    if parsed.signatures.len() > note::MAX_SIGNATURES {
        return Err(CheckpointError::Note(NoteError::TooLarge));
    }
    Ok(parsed.to_text())
}

/// Add signature lines to a signed note, each **replacing** any earlier line by the same key
/// (same key name and key id) instead of accumulating next to it: a witness's fresh
/// cosignature (new timestamp) supersedes its older one on the same checkpoint. Lines already
/// present are kept once.
///
/// The caller decides which lines to trust (verify them first): a line here replaces whatever
/// that key had signed before.
///
/// # Errors
/// [`CheckpointError::Note`] if the note or a line does not parse, or the result has too many
/// signatures.
pub fn replace_signature_lines(signed: &str, lines: &[String]) -> Result<String, CheckpointError> {
    let mut parsed = note::Note::parse(signed.as_bytes())?;
    for l in lines {
        let one = note::Note::parse(format!("x\n\n{l}\n").as_bytes())?;
        for s in one.signatures {
            match parsed
                .signatures
                .iter_mut()
                .find(|old| old.name == s.name && old.key_id == s.key_id)
            {
                Some(old) => *old = s,
                None => parsed.signatures.push(s),
            }
        }
    }
    if parsed.signatures.len() > note::MAX_SIGNATURES {
        return Err(CheckpointError::Note(NoteError::TooLarge));
    }
    Ok(parsed.to_text())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    #[test]
    fn roundtrip_with_status_and_witnesses() {
        let log = NoteSigner::new(
            "log.example/a",
            KeyKind::Ed25519,
            SigningKey::from_bytes(&[7; 32]),
        )
        .unwrap();
        let w1 = NoteSigner::new(
            "w1",
            KeyKind::CosignatureV1,
            SigningKey::from_bytes(&[8; 32]),
        )
        .unwrap();
        let w2 = NoteSigner::new(
            "w2",
            KeyKind::CosignatureV1,
            SigningKey::from_bytes(&[9; 32]),
        )
        .unwrap();
        let mut cp = Checkpoint::new("log.example/a", 1000, [3; 32]);
        cp.set_status(StatusCommitment {
            bucket_count: 4,
            root: [4; 32],
        });
        let signed = cp.sign(&log).unwrap();
        assert_eq!(Checkpoint::parse(&cp.to_text()).unwrap(), cp);
        let mut policy = Policy {
            log: log.verifier().clone(),
            witnesses: vec![w1.verifier().clone(), w2.verifier().clone()],
            quorum: 0,
        };
        let v = open(signed.as_bytes(), &policy).unwrap();
        assert_eq!(v.checkpoint, cp);
        assert_eq!(
            v.checkpoint.status().unwrap(),
            Some(StatusCommitment {
                bucket_count: 4,
                root: [4; 32]
            })
        );
        policy.quorum = 2;
        assert_eq!(
            open(signed.as_bytes(), &policy),
            Err(CheckpointError::QuorumNotMet { got: 0, need: 2 })
        );
        let text = cp.to_text();
        let lines = vec![
            cosign(&text, &w1, 100).unwrap(),
            cosign(&text, &w2, 101).unwrap(),
        ];
        let cosigned = add_signature_lines(&signed, &lines).unwrap();
        open(cosigned.as_bytes(), &policy).unwrap();
        // a witness's signature over a different checkpoint fails the whole note
        let other = Checkpoint::new("log.example/a", 1001, [3; 32]).to_text();
        let forged = add_signature_lines(&signed, &[cosign(&other, &w1, 5).unwrap()]).unwrap();
        assert!(open(forged.as_bytes(), &policy).is_err());
        // wrong origin for the key
        let mut cp2 = cp.clone();
        cp2.origin = "other".into();
        assert!(cp2.sign(&log).is_err());
    }

    #[test]
    fn strict_body() {
        let root = B64.encode([1u8; 32]);
        for bad in [
            format!("o\n01\n{root}\n"),
            format!("o\n1\n{root}"),
            format!("\n1\n{root}\n"),
            format!("o\n1\n{root}\n\n"),
            format!("o\n-1\n{root}\n"),
            "o\n1\nAAAA\n".to_owned(),
            format!("o\n1\n{root}\ncyberlabel-status 1\n"),
            format!("o\n1\n{root}\ncyberlabel-status 01 {root}\n"),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
        }
        let ok = format!("o\n0\n{root}\nsome extension\n");
        assert_eq!(
            Checkpoint::parse(&ok).unwrap().extensions,
            vec!["some extension"]
        );
    }

    #[test]
    fn replace_signature_lines_supersedes_same_key() {
        let log = NoteSigner::new(
            "log.example/a",
            KeyKind::Ed25519,
            SigningKey::from_bytes(&[7; 32]),
        )
        .unwrap();
        let w1 = NoteSigner::new(
            "w1",
            KeyKind::CosignatureV1,
            SigningKey::from_bytes(&[8; 32]),
        )
        .unwrap();
        let w2 = NoteSigner::new(
            "w2",
            KeyKind::CosignatureV1,
            SigningKey::from_bytes(&[9; 32]),
        )
        .unwrap();
        let cp = Checkpoint::new("log.example/a", 5, [3; 32]);
        let text = cp.to_text();
        let signed = cp.sign(&log).unwrap();
        let policy = Policy {
            log: log.verifier().clone(),
            witnesses: vec![w1.verifier().clone(), w2.verifier().clone()],
            quorum: 2,
        };
        let first = replace_signature_lines(
            &signed,
            &[
                cosign(&text, &w1, 100).unwrap(),
                cosign(&text, &w2, 100).unwrap(),
            ],
        )
        .unwrap();
        // add_signature_lines accumulates a second line for w1; replace keeps one, the newest
        let appended = add_signature_lines(&first, &[cosign(&text, &w1, 200).unwrap()]).unwrap();
        assert_eq!(
            note::Note::parse(appended.as_bytes())
                .unwrap()
                .signatures
                .len(),
            4
        );
        let replaced =
            replace_signature_lines(&first, &[cosign(&text, &w1, 200).unwrap()]).unwrap();
        let n = note::Note::parse(replaced.as_bytes()).unwrap();
        assert_eq!(n.signatures.len(), 3);
        assert_eq!(n.signatures[0].name, "log.example/a");
        let v = open(replaced.as_bytes(), &policy).unwrap();
        let ts: Vec<_> = v
            .note
            .verified
            .iter()
            .map(|s| (s.name.clone(), s.timestamp))
            .collect();
        assert!(ts.contains(&("w1".to_owned(), Some(200))));
        assert!(ts.contains(&("w2".to_owned(), Some(100))));
        // the same line twice is kept once
        let again =
            replace_signature_lines(&replaced, &[cosign(&text, &w1, 200).unwrap()]).unwrap();
        assert_eq!(again, replaced);
    }
}
