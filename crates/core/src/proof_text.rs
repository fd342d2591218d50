//! The text shape our proofs share (C2SP tlog-proof, and the status proof modelled on it): a
//! header line, a few `key value` lines, the audit path as base64 hash lines, a blank line,
//! then the signed checkpoint verbatim. One reader and writer for both.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::checkpoint::parse_hash;
use crate::merkle::Hash;

/// Appends the audit path, the blank line and the checkpoint.
pub(crate) fn write_tail(s: &mut String, path: &[Hash], checkpoint: &str) {
    for h in path {
        s.push_str(&B64.encode(h));
        s.push('\n');
    }
    s.push('\n');
    s.push_str(checkpoint);
}

/// Splits proof text into its lines after `header` and the checkpoint, or `None` if it is too
/// long, not UTF-8, has another header or no checkpoint.
pub(crate) fn split<'a>(
    text: &'a [u8],
    max_len: usize,
    header: &str,
) -> Option<(core::str::Split<'a, char>, &'a str)> {
    if text.len() > max_len {
        return None;
    }
    let s = core::str::from_utf8(text).ok()?;
    let (head, checkpoint) = s.split_once("\n\n")?;
    let mut lines = head.split('\n');
    if lines.next() != Some(header) || checkpoint.is_empty() {
        return None;
    }
    Some((lines, checkpoint))
}

/// The remaining lines as an audit path of at most `max` hashes.
pub(crate) fn read_path<'a>(lines: impl Iterator<Item = &'a str>, max: usize) -> Option<Vec<Hash>> {
    let mut path = Vec::new();
    for l in lines {
        if path.len() >= max {
            return None;
        }
        path.push(parse_hash(l)?);
    }
    Some(path)
}
