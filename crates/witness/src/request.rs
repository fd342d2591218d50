//! The `add-checkpoint` request body (C2SP `tlog-witness`):
//!
//! ```text
//! old <size>\n                 ASCII decimal, no leading zeros
//! <base64 hash>\n × 0..=63     RFC 6962 consistency proof from <size> to the checkpoint's size
//! \n
//! <signed checkpoint note>
//! ```
//!
//! [`parse`] is strict and bounded; [`encode`] builds a body (for clients and tests).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cyberlabel_core::merkle::Hash;

/// Most consistency-proof lines a client may send.
pub const MAX_PROOF_LINES: usize = 63;

/// A parsed request body (the checkpoint note is not yet parsed or verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint<'a> {
    /// the size the client believes the witness last cosigned
    pub old: u64,
    /// consistency proof from `old` to the checkpoint's size
    pub proof: Vec<Hash>,
    /// the signed checkpoint (note text, blank line, signature lines)
    pub checkpoint: &'a [u8],
}

/// Why a body is malformed (→ 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The first line is not `old <decimal size>`.
    #[error("the first line must be `old <size>` (decimal, no leading zeros)")]
    OldLine,
    /// A proof line is not a base64 SHA-256 hash.
    #[error("consistency proof line {0} is not a base64 SHA-256 hash")]
    ProofLine(usize),
    /// More than [`MAX_PROOF_LINES`] proof lines.
    #[error("more than 63 consistency proof lines")]
    TooManyProofLines,
    /// No blank line before the checkpoint, or no checkpoint.
    #[error("missing the empty line and checkpoint after the consistency proof")]
    NoCheckpoint,
}

/// ASCII decimal without leading zeros ("0" alone is fine).
#[must_use]
pub fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// Splits off one `\n`-terminated line.
fn next_line(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = b.iter().position(|&c| c == b'\n')?;
    Some((&b[..i], &b[i + 1..]))
}

/// Parses a request body.
///
/// # Errors
/// [`RequestError`].
pub fn parse(body: &[u8]) -> Result<AddCheckpoint<'_>, RequestError> {
    let (first, mut rest) = next_line(body).ok_or(RequestError::OldLine)?;
    let old = core::str::from_utf8(first)
        .ok()
        .and_then(|l| l.strip_prefix("old "))
        .and_then(parse_decimal)
        .ok_or(RequestError::OldLine)?;
    let mut proof = Vec::new();
    loop {
        let (line, after) = next_line(rest).ok_or(RequestError::NoCheckpoint)?;
        rest = after;
        if line.is_empty() {
            break;
        }
        if proof.len() == MAX_PROOF_LINES {
            return Err(RequestError::TooManyProofLines);
        }
        let n = proof.len() + 1;
        if line.len() != 44 {
            return Err(RequestError::ProofLine(n));
        }
        let hash: Hash = B64
            .decode(line)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(RequestError::ProofLine(n))?;
        proof.push(hash);
    }
    if rest.is_empty() {
        return Err(RequestError::NoCheckpoint);
    }
    Ok(AddCheckpoint {
        old,
        proof,
        checkpoint: rest,
    })
}

/// Builds a request body.
#[must_use]
pub fn encode(old: u64, proof: &[Hash], signed_checkpoint: &str) -> String {
    let mut s = String::with_capacity(16 + 45 * proof.len() + signed_checkpoint.len());
    s.push_str("old ");
    s.push_str(&old.to_string());
    s.push('\n');
    for h in proof {
        s.push_str(&B64.encode(h));
        s.push('\n');
    }
    s.push('\n');
    s.push_str(signed_checkpoint);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        let note = "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— o AAAA\n";
        let body = encode(5, &[[1; 32], [2; 32]], note);
        let p = parse(body.as_bytes()).unwrap();
        assert_eq!(p.old, 5);
        assert_eq!(p.proof, vec![[1; 32], [2; 32]]);
        assert_eq!(p.checkpoint, note.as_bytes());
        assert_eq!(parse(encode(0, &[], note).as_bytes()).unwrap().old, 0);
        for bad in [
            String::new(),
            "old 01\n\nx".to_owned(),
            "old -1\n\nx".to_owned(),
            "old  1\n\nx".to_owned(),
            "new 1\n\nx".to_owned(),
            "old 1\n".to_owned(),
            "old 1\nAAAA\n\nx".to_owned(),
            "old 1\n\n".to_owned(),
            "old 99999999999999999999999\n\nx".to_owned(),
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        let too_many = encode(1, &[[0; 32]; 64], note);
        assert_eq!(
            parse(too_many.as_bytes()),
            Err(RequestError::TooManyProofLines)
        );
        assert!(parse(encode(1, &[[0; 32]; 63], note).as_bytes()).is_ok());
    }
}
