//! The trust list (FORMATS §5): which issuer keys are trusted for which schemes and when, which
//! logs and witnesses exist, the witness quorum, and the mutual-recognition equivalence table.
//!
//! It is a JSON document signed as a COSE_Sign1 whose payload is the exact JSON bytes (no JSON
//! canonicalisation needed), protected header `{1: -8, 3: "application/json", 4: kid}`.
//! [`TrustList::from_signed`] checks the signature with the trust-list signer's key (a trust
//! anchor the verifier ships with) and the list's own validity window; [`TrustList::from_json`]
//! loads an unsigned list (tests, local tooling). Both check that every issuer's `kid` is the
//! key id of its `public_key`, so a lookup by kid cannot be steered to a different key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::Serialize;

use crate::cose::{self, ContentType, CoseError, KeyId};
use crate::json::{self, FromJson, Node, Obj};

/// Largest trust-list document (signed or not) accepted.
pub const MAX_TRUST_LIST_LEN: usize = 256 * 1024;
/// Content type of the signed trust list.
pub const TRUST_LIST_CONTENT_TYPE: &str = "application/json";

/// Why a trust list was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// Larger than [`MAX_TRUST_LIST_LEN`].
    #[error("trust list is too large")]
    TooLarge,
    /// The COSE envelope is malformed, not EdDSA, or the signature does not verify.
    #[error("trust list signature envelope: {0}")]
    Cose(#[from] CoseError),
    /// The envelope's content type is not `application/json`.
    #[error("trust list has the wrong content type")]
    WrongContentType,
    /// Payload is not UTF-8.
    #[error("trust list is not UTF-8")]
    NotUtf8,
    /// Not valid trust-list JSON.
    #[error("trust list JSON is invalid at line {line}, column {column}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// Issuer `index` has a public key that is not base64 of a valid Ed25519 key.
    #[error("trust list issuer {index}: invalid public key")]
    BadIssuerKey {
        /// Position in `issuers`.
        index: usize,
    },
    /// Issuer `index`'s `kid` is not the key id of its public key.
    #[error("trust list issuer {index}: kid does not match the public key")]
    KidMismatch {
        /// Position in `issuers`.
        index: usize,
    },
    /// The witness policy names something undefined, defines a name twice, or has an
    /// impossible threshold (C2SP tlog-policy rules).
    #[error("trust list witness policy: {0}")]
    BadWitnessPolicy(&'static str),
    /// A log entry is inconsistent (duplicate origin, or an issuer names an unlisted log).
    #[error("bad log: {0}")]
    BadLog(&'static str),
    /// Older than a trust list this verifier has already accepted.
    #[error("trust list version {version} is older than version {seen} seen before (rollback)")]
    Rollback {
        /// this list's version
        version: u64,
        /// newest version accepted before
        seen: u64,
    },
    /// Two issuers with one kid.
    #[error("trust list issuer {index}: duplicate kid")]
    DuplicateKid {
        /// Position in `issuers`.
        index: usize,
    },
    /// `not_before > not_after` (issuer) or `issued_at > expires_at` (list).
    #[error("trust list has an empty validity period")]
    BadValidity,
    /// The list is not valid yet at `now`.
    #[error("trust list is not valid yet")]
    NotYetValid,
    /// The list expired before `now`: fetch a fresh one.
    #[error("trust list has expired")]
    Expired,
}

/// Why a listed key may not sign at a log index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Rotated out: a successor key signs new labels.
    Retired,
    /// Reported stolen or misused.
    Compromised,
}

/// A trusted label issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustedIssuer {
    /// Display name, e.g. `Cyber Security Agency of Singapore`.
    pub name: String,
    /// Key id, 16 hex digits (FORMATS §1).
    pub kid: String,
    /// Ed25519 public key, standard base64 of the 32 bytes.
    pub public_key: String,
    /// Scheme ids this issuer may issue labels for.
    pub schemes: Vec<String>,
    /// Key valid from (Unix seconds, inclusive).
    pub not_before: u64,
    /// Key valid until (Unix seconds, inclusive).
    pub not_after: u64,
    /// Rotation: the log index from which this key may no longer sign labels (a successor
    /// took over). Labels it signed at earlier indices stay genuine; it may still sign status
    /// records for them. Ordered by log position, never by a date a key holder could backdate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at_index: Option<u64>,
    /// Compromise: the log index from which nothing this key signs counts — labels and status
    /// records at that index or later are refused by the log and not genuine to verifiers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compromised_at_index: Option<u64>,
    /// Origin of the log this issuer's labels are recorded in (a partner deployment's log for a
    /// partner's issuer); absent: the list's first log, the deployment's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    #[serde(skip)]
    key: Option<VerifyingKey>,
    #[serde(skip)]
    kid_bytes: KeyId,
}

impl TrustedIssuer {
    /// Builds an entry for `key` (kid and base64 filled in).
    pub fn new(
        name: &str,
        key: &VerifyingKey,
        schemes: &[&str],
        not_before: u64,
        not_after: u64,
    ) -> Self {
        let kid = cose::key_id(key);
        TrustedIssuer {
            name: name.into(),
            kid: hex::encode(kid),
            public_key: B64.encode(key.as_bytes()),
            schemes: schemes.iter().map(|s| (*s).into()).collect(),
            not_before,
            not_after,
            retired_at_index: None,
            compromised_at_index: None,
            log: None,
            key: Some(*key),
            kid_bytes: kid,
        }
    }

    /// The issuer's verifying key (checked on load).
    pub fn verifying_key(&self) -> Option<&VerifyingKey> {
        self.key.as_ref()
    }

    /// The key id as bytes.
    pub fn key_id(&self) -> KeyId {
        self.kid_bytes
    }

    /// Whether the key was valid at time `t`.
    pub fn valid_at(&self, t: u64) -> bool {
        self.not_before <= t && t <= self.not_after
    }

    /// Whether the key was valid at some moment of `[from, to]` — labels carry their issue
    /// *day*, so a key is accepted if its validity overlaps that day.
    pub fn valid_during(&self, from: u64, to: u64) -> bool {
        self.not_before <= to && from <= self.not_after
    }

    /// Whether the key may sign a label that sits at log index `index` (neither retired nor
    /// compromised as of it).
    pub fn may_sign_label_at(&self, index: u64) -> Result<(), KeyState> {
        if self.compromised_at_index.is_some_and(|c| index >= c) {
            return Err(KeyState::Compromised);
        }
        if self.retired_at_index.is_some_and(|r| index >= r) {
            return Err(KeyState::Retired);
        }
        Ok(())
    }

    /// Whether the key may sign a status record at log index `index` (not compromised as of
    /// it; a retired key still maintains the labels it issued).
    pub fn may_sign_status_at(&self, index: u64) -> Result<(), KeyState> {
        if self.compromised_at_index.is_some_and(|c| index >= c) {
            Err(KeyState::Compromised)
        } else {
            Ok(())
        }
    }

    /// Whether the issuer may issue labels of `scheme`.
    pub fn authorised_for(&self, scheme: &str) -> bool {
        self.schemes.iter().any(|s| s == scheme)
    }

    fn load(&mut self, index: usize) -> Result<(), TrustError> {
        let raw = B64
            .decode(self.public_key.as_bytes())
            .map_err(|_| TrustError::BadIssuerKey { index })?;
        let arr: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| TrustError::BadIssuerKey { index })?;
        let key = VerifyingKey::from_bytes(&arr).map_err(|_| TrustError::BadIssuerKey { index })?;
        let kid = cose::key_id(&key);
        if !self.kid.eq_ignore_ascii_case(&hex::encode(kid)) {
            return Err(TrustError::KidMismatch { index });
        }
        if self.not_before > self.not_after {
            return Err(TrustError::BadValidity);
        }
        self.key = Some(key);
        self.kid_bytes = kid;
        Ok(())
    }
}

/// A transparency log the verifier accepts checkpoints from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustedLog {
    /// Checkpoint origin line (= note key name).
    pub origin: String,
    /// C2SP verifier key `<name>+<hex id>+<base64(0x01 ‖ key)>`.
    pub vkey: String,
    /// Base URL of the log's read side (tiles, checkpoint).
    pub url: String,
    /// Maximum merge delay (seconds): the longest the log may take to include a label after
    /// the end of its issue day. A label issued earlier than a fresh checkpoint's witnessed time
    /// minus this delay, yet absent from its tree, was never logged (not genuine). Our log
    /// sequences before it answers (null merge delay), so 0 is honest for it.
    #[serde(default)]
    pub max_merge_delay: u64,
    /// The witness policy for this log's checkpoints (a partner log is cosigned by its own
    /// witnesses); absent: the list's `witness_policy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness_policy: Option<WitnessPolicy>,
}

/// A witness whose cosignatures count towards the quorum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustedWitness {
    /// Witness name (= note key name).
    pub name: String,
    /// C2SP verifier key.
    pub vkey: String,
}

/// Default [`WitnessPolicy::max_age`]: one hour.
pub const DEFAULT_MAX_CHECKPOINT_AGE: u64 = 3_600;

/// Which witness cosignatures a checkpoint needs, in the shape of C2SP `tlog-policy`: named
/// witnesses, groups of `k` of their members (`all`, `any` or a number; members are witnesses
/// or earlier groups), and one quorum naming a witness or group (or `none`). A plain number
/// as the quorum means that many of all listed witnesses. Cosignatures count only while fresh:
/// their timestamps no older than `max_age` seconds and not in the future beyond the verifier's
/// allowed clock skew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WitnessPolicy {
    /// Groups, in definition order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<WitnessGroup>,
    /// The quorum: a count over all witnesses, or the name of a witness or group, or `"none"`.
    pub quorum: Quorum,
    /// Oldest acceptable cosignature, in seconds before the verifier's clock.
    pub max_age: u64,
}

impl Default for WitnessPolicy {
    fn default() -> Self {
        Self {
            groups: Vec::new(),
            quorum: Quorum::Count(0),
            max_age: DEFAULT_MAX_CHECKPOINT_AGE,
        }
    }
}

/// The quorum of a [`WitnessPolicy`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Quorum {
    /// `k` of all listed witnesses (0 = no witnesses needed: nothing proves freshness).
    Count(u32),
    /// A witness or group name, or `"none"`.
    Name(String),
}

/// A C2SP tlog-policy group: `threshold` of `members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WitnessGroup {
    /// Group name (unique among witnesses and groups).
    pub name: String,
    /// `"all"`, `"any"` or a number.
    pub threshold: Threshold,
    /// Witness or earlier group names.
    pub members: Vec<String>,
}

/// How many members of a group must agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Threshold {
    /// `k` members.
    Count(u32),
    /// `"all"` or `"any"`.
    Word(String),
}

/// The effect of a mutual-recognition row.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// The label counts as `to_scheme` level `to_level`.
    Recognised,
    /// The label allows a simplified application for `to_scheme`.
    SimplifiedApplication,
    /// The label waives the listed requirements of `to_scheme`.
    RequirementWaiver,
}

impl Effect {
    /// The words the trust list's JSON uses, in declaration order.
    pub const WORDS: [&'static str; 3] =
        ["recognised", "simplified_application", "requirement_waiver"];

    /// The effect the JSON word `w` names.
    pub fn from_word(w: &str) -> Option<Effect> {
        match Self::WORDS.iter().position(|x| *x == w)? {
            0 => Some(Effect::Recognised),
            1 => Some(Effect::SimplifiedApplication),
            _ => Some(Effect::RequirementWaiver),
        }
    }

    /// Plain words.
    pub fn text(self) -> &'static str {
        match self {
            Effect::Recognised => "recognised as",
            Effect::SimplifiedApplication => "qualifies for a simplified application for",
            Effect::RequirementWaiver => "is exempt from some requirements of",
        }
    }
}

/// One row of the equivalence table (one stated mutual-recognition clause, one direction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Equivalence {
    /// The scheme of the label held.
    pub from_scheme: String,
    /// Minimum level of the label held.
    pub from_level_min: u8,
    /// The scheme it is recognised in.
    pub to_scheme: String,
    /// The level it counts as there.
    pub to_level: u8,
    /// Recognised, simplified application, or requirement waiver.
    pub effect: Effect,
    /// Requirement ids waived (for [`Effect::RequirementWaiver`]).
    #[serde(default)]
    pub waived: Vec<String>,
    /// Category codes in scope (empty = all not excluded).
    #[serde(default)]
    pub categories_included: Vec<u16>,
    /// Category codes out of scope.
    #[serde(default)]
    pub categories_excluded: Vec<u16>,
    /// Effective from (Unix seconds, inclusive).
    pub effective_from: u64,
    /// Effective until (Unix seconds, exclusive), if it ends.
    #[serde(default)]
    pub effective_to: Option<u64>,
    /// The arrangement it comes from.
    pub basis: String,
}

impl Equivalence {
    /// Whether the row applies to a label of `scheme`/`level`/`category` at `now`.
    pub fn applies(&self, scheme: &str, level: u8, category: u16, now: u64) -> bool {
        self.from_scheme == scheme
            && level >= self.from_level_min
            && (self.categories_included.is_empty() || self.categories_included.contains(&category))
            && !self.categories_excluded.contains(&category)
            && self.effective_from <= now
            && self.effective_to.is_none_or(|t| now < t)
    }
}

/// The trust list (FORMATS §5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TrustList {
    /// Monotonic version number.
    pub version: u64,
    /// Issued at (Unix seconds).
    pub issued_at: u64,
    /// Expires at (Unix seconds): verifiers must refresh before.
    pub expires_at: u64,
    /// Trusted label issuers.
    #[serde(default)]
    pub issuers: Vec<TrustedIssuer>,
    /// Trusted logs.
    #[serde(default)]
    pub logs: Vec<TrustedLog>,
    /// Witnesses.
    #[serde(default)]
    pub witnesses: Vec<TrustedWitness>,
    /// Witness quorum.
    #[serde(default)]
    pub witness_policy: WitnessPolicy,
    /// Mutual-recognition table.
    #[serde(default)]
    pub equivalences: Vec<Equivalence>,
}

impl TrustList {
    /// Parses and checks an unsigned trust list (no validity-window check).
    ///
    /// # Errors
    /// Size, JSON or issuer-key problems.
    pub fn from_json(json: &str) -> Result<TrustList, TrustError> {
        if json.len() > MAX_TRUST_LIST_LEN {
            return Err(TrustError::TooLarge);
        }
        let mut t = json::parse(json)
            .and_then(|n| <TrustList as FromJson>::from_json(&n))
            .map_err(|e| {
                let (line, column) = json::line_col(json, e.offset);
                TrustError::Json { line, column }
            })?;
        if t.issued_at > t.expires_at {
            return Err(TrustError::BadValidity);
        }
        crate::checkpoint::Rule::from_trust_list(&t)?;
        for (i, log) in t.logs.iter().enumerate() {
            if let Some(policy) = &log.witness_policy {
                crate::checkpoint::Rule::from_policy(&t, policy)?;
            }
            if t.logs[..i].iter().any(|o| o.origin == log.origin) {
                return Err(TrustError::BadLog("two logs have the same origin"));
            }
        }
        for i in 0..t.issuers.len() {
            t.issuers[i].load(i)?;
            if t.issuers[..i]
                .iter()
                .any(|o| o.kid_bytes == t.issuers[i].kid_bytes)
            {
                return Err(TrustError::DuplicateKid { index: i });
            }
        }
        if t.issuers.iter().any(|i| {
            i.log
                .as_ref()
                .is_some_and(|o| !t.logs.iter().any(|l| &l.origin == o))
        }) {
            return Err(TrustError::BadLog(
                "an issuer names a log the list does not",
            ));
        }
        Ok(t)
    }

    /// Verifies a signed trust list (`trust-list.cose`) with the trust anchor `signer` and
    /// checks that `now` is within `[issued_at, expires_at]`.
    ///
    /// # Errors
    /// Envelope, signature, content-type, JSON, issuer-key or validity-window problems.
    pub fn from_signed(
        bytes: &[u8],
        signer: &VerifyingKey,
        now: u64,
    ) -> Result<TrustList, TrustError> {
        let t = Self::from_signed_any_time(bytes, signer)?;
        t.check_valid_at(now)?;
        Ok(t)
    }

    /// Whether the list's validity window holds at `now` — what [`TrustList::from_signed`]
    /// checks after the signature, for a verifier that keeps a list it verified before.
    ///
    /// # Errors
    /// [`TrustError::NotYetValid`] or [`TrustError::Expired`].
    pub fn check_valid_at(&self, now: u64) -> Result<(), TrustError> {
        if now < self.issued_at {
            return Err(TrustError::NotYetValid);
        }
        if now > self.expires_at {
            return Err(TrustError::Expired);
        }
        Ok(())
    }

    /// Verifies a signed trust list with the trust anchor `signer`, without the validity
    /// window: for a log recording which list was in force, and auditors replaying it.
    ///
    /// # Errors
    /// Envelope, signature, content-type, JSON or issuer-key problems.
    pub fn from_signed_any_time(
        bytes: &[u8],
        signer: &VerifyingKey,
    ) -> Result<TrustList, TrustError> {
        if bytes.len() > MAX_TRUST_LIST_LEN {
            return Err(TrustError::TooLarge);
        }
        let s = cose::parse_sign1_bounded(bytes, MAX_TRUST_LIST_LEN)?;
        s.check_profile(true)?;
        if s.content_type != Some(ContentType::Text(TRUST_LIST_CONTENT_TYPE.into())) {
            return Err(TrustError::WrongContentType);
        }
        s.verify(signer)?;
        let json = core::str::from_utf8(&s.payload).map_err(|_| TrustError::NotUtf8)?;
        TrustList::from_json(json)
    }

    /// Refuse a list older than one this verifier has already accepted (version rollback: an
    /// old list may still trust a key that was since removed).
    ///
    /// # Errors
    /// [`TrustError::Rollback`].
    pub fn check_not_older_than(&self, seen_version: u64) -> Result<(), TrustError> {
        if self.version < seen_version {
            Err(TrustError::Rollback {
                version: self.version,
                seen: seen_version,
            })
        } else {
            Ok(())
        }
    }

    /// Pretty JSON of the list (what [`sign`] signs, as bytes).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The issuer whose key id is `kid`, regardless of time.
    pub fn issuer(&self, kid: &KeyId) -> Option<&TrustedIssuer> {
        self.issuers.iter().find(|i| &i.kid_bytes == kid)
    }

    /// The log the labels of issuer `kid` are recorded in: the issuer's `log`, or the list's
    /// first log.
    #[must_use]
    pub fn log_of_issuer(&self, kid: &KeyId) -> Option<&TrustedLog> {
        match self.issuer(kid)?.log.as_deref() {
            Some(origin) => self.logs.iter().find(|l| l.origin == origin),
            None => self.logs.first(),
        }
    }

    /// The witness policy for checkpoints of the log `origin`: its own, or the list's.
    #[must_use]
    pub fn witness_policy_of(&self, origin: &str) -> &WitnessPolicy {
        self.logs
            .iter()
            .find(|l| l.origin == origin)
            .and_then(|l| l.witness_policy.as_ref())
            .unwrap_or(&self.witness_policy)
    }

    /// The issuer whose key id is `kid` and whose key was valid at `at`.
    pub fn issuer_for_kid(&self, kid: &KeyId, at: u64) -> Option<&TrustedIssuer> {
        self.issuer(kid).filter(|i| i.valid_at(at))
    }

    /// The equivalence rows that apply to a label of `scheme`/`level`/`category` at `now`.
    pub fn equivalents(
        &self,
        scheme: &str,
        level: u8,
        category: u16,
        now: u64,
    ) -> Vec<&Equivalence> {
        self.equivalences
            .iter()
            .filter(|e| e.applies(scheme, level, category, now))
            .collect()
    }
}

/// Signs trust-list JSON bytes as `trust-list.cose`.
pub fn sign(json: &[u8], key: &SigningKey) -> Vec<u8> {
    cose::sign_with_content_type(json, Some(TRUST_LIST_CONTENT_TYPE), key)
}

// Reading the list from JSON (`crate::json`: one small reader, not a serde-derived parser per
// struct). Keys and defaults are those of the serde attributes above, which still write it.

impl FromJson for TrustedIssuer {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        let o = Obj::of(n)?;
        Ok(TrustedIssuer {
            name: o.req("name")?,
            kid: o.req("kid")?,
            public_key: o.req("public_key")?,
            schemes: o.req("schemes")?,
            not_before: o.req("not_before")?,
            not_after: o.req("not_after")?,
            retired_at_index: o.opt("retired_at_index")?,
            compromised_at_index: o.opt("compromised_at_index")?,
            log: o.opt("log")?,
            key: None,
            kid_bytes: KeyId::default(),
        })
    }
}

impl FromJson for TrustedLog {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        let o = Obj::of(n)?;
        Ok(TrustedLog {
            origin: o.req("origin")?,
            vkey: o.req("vkey")?,
            url: o.req("url")?,
            max_merge_delay: o.or_default("max_merge_delay")?,
            witness_policy: o.opt("witness_policy")?,
        })
    }
}

impl FromJson for TrustedWitness {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        let o = Obj::of(n)?;
        Ok(TrustedWitness {
            name: o.req("name")?,
            vkey: o.req("vkey")?,
        })
    }
}

impl FromJson for WitnessPolicy {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        let o = Obj::of(n)?;
        Ok(WitnessPolicy {
            groups: o.or_default("groups")?,
            quorum: o.req("quorum")?,
            max_age: o.or("max_age", DEFAULT_MAX_CHECKPOINT_AGE)?,
        })
    }
}

/// A number that fits a `u32` is a count, a string a name (serde's `untagged` order).
fn count_or_word(n: &Node) -> Result<Result<u32, String>, json::Error> {
    match u32::from_json(n) {
        Ok(k) => Ok(Ok(k)),
        Err(e) => match String::from_json(n) {
            Ok(s) => Ok(Err(s)),
            Err(_) => Err(e),
        },
    }
}

impl FromJson for Quorum {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        Ok(match count_or_word(n)? {
            Ok(k) => Quorum::Count(k),
            Err(s) => Quorum::Name(s),
        })
    }
}

impl FromJson for Threshold {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        Ok(match count_or_word(n)? {
            Ok(k) => Threshold::Count(k),
            Err(s) => Threshold::Word(s),
        })
    }
}

impl FromJson for WitnessGroup {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        let o = Obj::of(n)?;
        Ok(WitnessGroup {
            name: o.req("name")?,
            threshold: o.req("threshold")?,
            members: o.req("members")?,
        })
    }
}

impl FromJson for Effect {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        match &n.v {
            json::Value::Str(s) => Effect::from_word(s).ok_or(json::Error { offset: n.at }),
            _ => Err(json::Error { offset: n.at }),
        }
    }
}

impl FromJson for Equivalence {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        let o = Obj::of(n)?;
        Ok(Equivalence {
            from_scheme: o.req("from_scheme")?,
            from_level_min: o.req("from_level_min")?,
            to_scheme: o.req("to_scheme")?,
            to_level: o.req("to_level")?,
            effect: o.req("effect")?,
            waived: o.or_default("waived")?,
            categories_included: o.or_default("categories_included")?,
            categories_excluded: o.or_default("categories_excluded")?,
            effective_from: o.req("effective_from")?,
            effective_to: o.opt("effective_to")?,
            basis: o.req("basis")?,
        })
    }
}

impl FromJson for TrustList {
    fn from_json(n: &Node) -> Result<Self, json::Error> {
        let o = Obj::of(n)?;
        Ok(TrustList {
            version: o.req("version")?,
            issued_at: o.req("issued_at")?,
            expires_at: o.req("expires_at")?,
            issuers: o.or_default("issuers")?,
            logs: o.or_default("logs")?,
            witnesses: o.or_default("witnesses")?,
            witness_policy: o.or_default("witness_policy")?,
            equivalences: o.or_default("equivalences")?,
        })
    }
}
