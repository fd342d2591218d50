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
use crate::trust::{TrustError, TrustList};

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
    /// The valid witness cosignatures do not satisfy the policy's quorum.
    #[error("the {got} valid witness cosignatures do not meet the witness policy")]
    QuorumNotMet {
        /// valid cosignatures from policy witnesses
        got: usize,
    },
    /// Enough witnesses cosigned, but too long ago (or in the future beyond the allowed
    /// clock skew): the checkpoint may be a replayed old state.
    #[error("the checkpoint's witness cosignatures are not recent enough")]
    NotFresh,
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

/// The tree size on a (signed) checkpoint's second line, without verifying anything: for
/// bookkeeping over checkpoints that were verified elsewhere (e.g. the log's own).
#[must_use]
pub fn size_of(checkpoint: &str) -> Option<u64> {
    checkpoint.split('\n').nth(1).and_then(parse_decimal)
}

/// How far in the future a cosignature timestamp may be (verifier clocks drift; phones more).
pub const MAX_CLOCK_SKEW: u64 = 300;

/// Which witnesses must have cosigned: C2SP tlog-policy's witness / group tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// The witness at this index of [`Policy::witnesses`].
    Witness(usize),
    /// At least `k` of the members.
    Group {
        /// threshold
        k: usize,
        /// members
        members: Vec<Rule>,
    },
}

impl Rule {
    /// `k` of the first `n` witnesses (`None` for `k == 0`: nothing required).
    #[must_use]
    pub fn k_of_n(k: usize, n: usize) -> Option<Rule> {
        (k > 0).then(|| Rule::Group {
            k,
            members: (0..n).map(Rule::Witness).collect(),
        })
    }

    /// Whether the witnesses marked in `cosigned` (by index) satisfy the rule.
    #[must_use]
    pub fn satisfied(&self, cosigned: &[bool]) -> bool {
        match self {
            Rule::Witness(i) => cosigned.get(*i).copied().unwrap_or(false),
            Rule::Group { k, members } => {
                members.iter().filter(|m| m.satisfied(cosigned)).count() >= *k
            }
        }
    }

    /// The trust list's witness policy as a rule over `trust.witnesses` (by position); `None`
    /// when it requires no witness (`"none"` or a count of 0). Checks the C2SP tlog-policy
    /// rules: names unique, defined before use, thresholds within the member count.
    ///
    /// # Errors
    /// [`TrustError::BadWitnessPolicy`].
    pub fn from_trust_list(trust: &TrustList) -> Result<Option<Rule>, TrustError> {
        Self::from_policy(trust, &trust.witness_policy)
    }

    /// The rule of `policy` over `trust`'s witnesses (a log's own policy, see
    /// [`TrustList::witness_policy_of`]).
    ///
    /// # Errors
    /// [`TrustError::BadWitnessPolicy`], as for [`Rule::from_trust_list`].
    pub fn from_policy(
        trust: &TrustList,
        policy: &crate::trust::WitnessPolicy,
    ) -> Result<Option<Rule>, TrustError> {
        use crate::trust::{Quorum, Threshold};
        let bad = TrustError::BadWitnessPolicy;
        let mut names: Vec<(&str, Rule)> = Vec::new();
        for (i, w) in trust.witnesses.iter().enumerate() {
            if w.name == "none" || names.iter().any(|(n, _)| *n == w.name) {
                return Err(bad("a witness name is used twice or is \"none\""));
            }
            names.push((&w.name, Rule::Witness(i)));
        }
        for g in &policy.groups {
            if g.name == "none" || names.iter().any(|(n, _)| *n == g.name) {
                return Err(bad("a group name is used twice or is \"none\""));
            }
            let mut members = Vec::with_capacity(g.members.len());
            for m in &g.members {
                let rule = names
                    .iter()
                    .find(|(n, _)| n == m)
                    .map(|(_, r)| r.clone())
                    .ok_or(bad(
                        "a group names a witness or group not defined before it",
                    ))?;
                members.push(rule);
            }
            if members.is_empty() {
                return Err(bad("a group has no members"));
            }
            let k = match &g.threshold {
                Threshold::Word(w) if w == "all" => members.len(),
                Threshold::Word(w) if w == "any" => 1,
                Threshold::Word(_) => return Err(bad("a group threshold is not all, any or k")),
                Threshold::Count(k) => *k as usize,
            };
            if k == 0 || k > members.len() {
                return Err(bad("a group threshold is 0 or more than its members"));
            }
            names.push((&g.name, Rule::Group { k, members }));
        }
        match &policy.quorum {
            Quorum::Count(k) => {
                let k = *k as usize;
                if k > trust.witnesses.len() {
                    return Err(bad("the quorum needs more witnesses than are listed"));
                }
                Ok(Rule::k_of_n(k, trust.witnesses.len()))
            }
            Quorum::Name(n) if n == "none" => Ok(None),
            Quorum::Name(n) => names
                .iter()
                .find(|(name, _)| name == n)
                .map(|(_, r)| Some(r.clone()))
                .ok_or(bad(
                    "the quorum names a witness or group that is not defined",
                )),
        }
    }
}

/// Who must have signed a checkpoint: the log key and the witness rule.
#[derive(Debug, Clone)]
pub struct Policy {
    /// the log's Ed25519 key; its name is the origin
    pub log: VerifierKey,
    /// witness cosignature keys
    pub witnesses: Vec<VerifierKey>,
    /// which witnesses must have cosigned (`None`: none)
    pub quorum: Option<Rule>,
    /// oldest acceptable cosignature for [`open_fresh`], seconds
    pub max_age: u64,
}

impl Policy {
    /// A policy that needs only the log's signature.
    #[must_use]
    pub fn log_only(log: VerifierKey) -> Self {
        Self {
            log,
            witnesses: Vec::new(),
            quorum: None,
            max_age: crate::trust::DEFAULT_MAX_CHECKPOINT_AGE,
        }
    }

    /// `k` of `witnesses` must cosign.
    #[must_use]
    pub fn k_of_n(log: VerifierKey, witnesses: Vec<VerifierKey>, k: usize) -> Self {
        let quorum = Rule::k_of_n(k, witnesses.len());
        Self {
            log,
            witnesses,
            quorum,
            max_age: crate::trust::DEFAULT_MAX_CHECKPOINT_AGE,
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
    /// The time the policy's witnesses vouch for: the newest time at which a satisfying set of
    /// them had all seen this checkpoint (the oldest cosignature in the freshest satisfying
    /// set). `None` when the policy needs no witness: then nothing says how old it is.
    pub witnessed_at: Option<u64>,
}

/// Parse and verify a signed checkpoint under `policy`, without regard to cosignature times
/// (an auditor checking history; a verifier that wants current state uses [`open_fresh`]).
///
/// # Errors
/// Any [`CheckpointError`].
pub fn open(signed: &[u8], policy: &Policy) -> Result<VerifiedCheckpoint, CheckpointError> {
    open_inner(signed, policy, None)
}

/// Parse and verify a signed checkpoint under `policy`, counting only cosignatures whose time
/// is within `policy.max_age` before `now` and at most [`MAX_CLOCK_SKEW`] after it. A replayed
/// old checkpoint (however validly signed) fails with [`CheckpointError::NotFresh`].
///
/// # Errors
/// Any [`CheckpointError`].
pub fn open_fresh(
    signed: &[u8],
    policy: &Policy,
    now: u64,
) -> Result<VerifiedCheckpoint, CheckpointError> {
    open_inner(signed, policy, Some(now))
}

/// The last checkpoint note whose signatures were verified on this thread: its bytes, the keys
/// it was checked against, the result.
type LastVerified = Option<(Vec<u8>, Vec<VerifierKey>, VerifiedNote)>;

std::thread_local! {
    // A verifier checks the same signed checkpoint several times for one verdict (to plan its
    // fetches, for the inclusion proof, inside the status proof) and again for the next label
    // it scans: the signatures are a pure function of the bytes and the keys, so they are
    // checked once. Freshness (the witnesses' times against `now`) is judged every time.
    static LAST_VERIFIED: core::cell::RefCell<LastVerified> =
        const { core::cell::RefCell::new(None) };
}

/// The verified note of exactly these bytes under exactly these keys, if checked before on
/// this thread.
fn verified_before(signed: &[u8], keys: &[VerifierKey]) -> Option<VerifiedNote> {
    LAST_VERIFIED.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|(bytes, k, _)| bytes.as_slice() == signed && k.as_slice() == keys)
            .map(|(_, _, v)| v.clone())
    })
}

fn verify_note_once(
    signed: &[u8],
    parsed: note::Note,
    keys: &[VerifierKey],
) -> Result<VerifiedNote, NoteError> {
    let v = note::verify(parsed, keys)?;
    LAST_VERIFIED.with(|c| *c.borrow_mut() = Some((signed.to_vec(), keys.to_vec(), v.clone())));
    Ok(v)
}

/// Forget the checkpoint signatures verified on this thread, so the next check verifies them
/// again (benchmarks measuring a verdict from nothing).
pub fn forget_verified() {
    LAST_VERIFIED.with(|c| *c.borrow_mut() = None);
}

fn open_inner(
    signed: &[u8],
    policy: &Policy,
    now: Option<u64>,
) -> Result<VerifiedCheckpoint, CheckpointError> {
    let mut keys = Vec::with_capacity(1 + policy.witnesses.len());
    keys.push(policy.log.clone());
    keys.extend(policy.witnesses.iter().cloned());
    // The same bytes verified before under the same keys parsed then, and their note is
    // the parse (the checks below run again either way).
    let verified = if let Some(v) = verified_before(signed, &keys) {
        let checkpoint = Checkpoint::parse(&v.note.text)?;
        if checkpoint.origin != policy.log.name() {
            return Err(CheckpointError::WrongOrigin);
        }
        (checkpoint, v)
    } else {
        let parsed = note::Note::parse(signed)?;
        let checkpoint = Checkpoint::parse(&parsed.text)?;
        if checkpoint.origin != policy.log.name() {
            return Err(CheckpointError::WrongOrigin);
        }
        match verify_note_once(signed, parsed, &keys) {
            Ok(v) => (checkpoint, v),
            Err(NoteError::NoKnownSignature) => return Err(CheckpointError::NotSignedByLog),
            Err(e) => return Err(e.into()),
        }
    };
    let (checkpoint, verified) = verified;
    if !verified.is_signed_by(&policy.log) {
        return Err(CheckpointError::NotSignedByLog);
    }
    // (witness index, cosignature time) of every valid cosignature by a policy witness
    let mut cosigs: Vec<(usize, u64)> = policy
        .witnesses
        .iter()
        .enumerate()
        .filter(|(_, w)| w.kind() == KeyKind::CosignatureV1)
        .filter_map(|(i, w)| {
            verified
                .verified
                .iter()
                .find(|v| v.name == w.name() && v.key_id == w.key_id())
                .and_then(|v| v.timestamp)
                .map(|t| (i, t))
        })
        .collect();
    let got = cosigs.len();
    let Some(rule) = &policy.quorum else {
        return Ok(VerifiedCheckpoint {
            checkpoint,
            note: verified,
            witnessed_at: None,
        });
    };
    let all = {
        let mut marks = vec![false; policy.witnesses.len()];
        for (i, _) in &cosigs {
            marks[*i] = true;
        }
        marks
    };
    if !rule.satisfied(&all) {
        return Err(CheckpointError::QuorumNotMet { got });
    }
    if let Some(now) = now {
        let oldest = now.saturating_sub(policy.max_age);
        let newest = now.saturating_add(MAX_CLOCK_SKEW);
        cosigs.retain(|(_, t)| *t >= oldest && *t <= newest);
    }
    // Freshest first: add cosigners until the rule holds; the last one added is the time the
    // whole satisfying set vouches for.
    cosigs.sort_by_key(|c| core::cmp::Reverse(c.1));
    let mut marks = vec![false; policy.witnesses.len()];
    for (i, t) in &cosigs {
        marks[*i] = true;
        if rule.satisfied(&marks) {
            return Ok(VerifiedCheckpoint {
                checkpoint,
                note: verified,
                witnessed_at: Some(*t),
            });
        }
    }
    Err(CheckpointError::NotFresh)
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
        let log = signer("log.example/a", KeyKind::Ed25519, 7);
        let w1 = signer("w1", KeyKind::CosignatureV1, 8);
        let w2 = signer("w2", KeyKind::CosignatureV1, 9);
        let mut cp = Checkpoint::new("log.example/a", 1000, [3; 32]);
        cp.set_status(StatusCommitment {
            bucket_count: 4,
            root: [4; 32],
        });
        let signed = cp.sign(&log).unwrap();
        assert_eq!(Checkpoint::parse(&cp.to_text()).unwrap(), cp);
        let mut policy = Policy::log_only(log.verifier().clone());
        policy.witnesses = vec![w1.verifier().clone(), w2.verifier().clone()];
        let v = open(signed.as_bytes(), &policy).unwrap();
        assert_eq!(v.checkpoint, cp);
        assert_eq!(
            v.checkpoint.status().unwrap(),
            Some(StatusCommitment {
                bucket_count: 4,
                root: [4; 32]
            })
        );
        policy.quorum = Rule::k_of_n(2, 2);
        assert_eq!(
            open(signed.as_bytes(), &policy),
            Err(CheckpointError::QuorumNotMet { got: 0 })
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

    fn signer(name: &str, kind: KeyKind, seed: u8) -> NoteSigner {
        NoteSigner::new(name, kind, SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    /// A 2-of-3 witness policy: one cosignature is not enough, two are; only recent ones count;
    /// the vouched time is the older of the freshest satisfying pair.
    #[test]
    fn two_of_three_and_freshness() {
        let log = signer("log.example/b", KeyKind::Ed25519, 20);
        let ws: Vec<NoteSigner> = (0..3)
            .map(|i| signer(&format!("w{i}"), KeyKind::CosignatureV1, 21 + i))
            .collect();
        let cp = Checkpoint::new("log.example/b", 10, [5; 32]);
        let text = cp.to_text();
        let signed = cp.sign(&log).unwrap();
        let mut policy = Policy::k_of_n(
            log.verifier().clone(),
            ws.iter().map(|w| w.verifier().clone()).collect(),
            2,
        );
        policy.max_age = 600;
        let now = 1_800_000_000;
        let one =
            add_signature_lines(&signed, &[cosign(&text, &ws[0], now - 10).unwrap()]).unwrap();
        assert_eq!(
            open_fresh(one.as_bytes(), &policy, now),
            Err(CheckpointError::QuorumNotMet { got: 1 })
        );
        let two = add_signature_lines(&one, &[cosign(&text, &ws[2], now - 100).unwrap()]).unwrap();
        let v = open_fresh(two.as_bytes(), &policy, now).unwrap();
        assert_eq!(v.witnessed_at, Some(now - 100));
        // a third, fresher cosignature raises the vouched time
        let three = add_signature_lines(&two, &[cosign(&text, &ws[1], now - 5).unwrap()]).unwrap();
        assert_eq!(
            open_fresh(three.as_bytes(), &policy, now)
                .unwrap()
                .witnessed_at,
            Some(now - 10)
        );
        // replayed an hour later: validly signed, but stale
        assert_eq!(
            open_fresh(two.as_bytes(), &policy, now + 3_600),
            Err(CheckpointError::NotFresh)
        );
        assert!(open(two.as_bytes(), &policy).is_ok());
        // one stale and one fresh cosignature do not make a fresh quorum
        let mixed = add_signature_lines(
            &signed,
            &[
                cosign(&text, &ws[0], now - 10).unwrap(),
                cosign(&text, &ws[1], now - 5_000).unwrap(),
            ],
        )
        .unwrap();
        assert_eq!(
            open_fresh(mixed.as_bytes(), &policy, now),
            Err(CheckpointError::NotFresh)
        );
        // cosignatures from the future beyond the skew do not count
        let future = add_signature_lines(
            &signed,
            &[
                cosign(&text, &ws[0], now + MAX_CLOCK_SKEW + 60).unwrap(),
                cosign(&text, &ws[1], now).unwrap(),
            ],
        )
        .unwrap();
        assert_eq!(
            open_fresh(future.as_bytes(), &policy, now),
            Err(CheckpointError::NotFresh)
        );
        // no witness policy: verifies, but nothing vouches for a time
        let bare = Policy::log_only(log.verifier().clone());
        assert_eq!(
            open_fresh(signed.as_bytes(), &bare, now)
                .unwrap()
                .witnessed_at,
            None
        );
    }

    #[test]
    fn replace_signature_lines_supersedes_same_key() {
        let log = signer("log.example/a", KeyKind::Ed25519, 7);
        let w1 = signer("w1", KeyKind::CosignatureV1, 8);
        let w2 = signer("w2", KeyKind::CosignatureV1, 9);
        let cp = Checkpoint::new("log.example/a", 5, [3; 32]);
        let text = cp.to_text();
        let signed = cp.sign(&log).unwrap();
        let policy = Policy::k_of_n(
            log.verifier().clone(),
            vec![w1.verifier().clone(), w2.verifier().clone()],
            2,
        );
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
