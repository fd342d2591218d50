//! Operator bearer tokens: creation, storage as hashes in sled, constant-time verification,
//! and the role/scheme permission model.
//!
//! A token reads `clt_<id>_<secret>`: `id` is 16 hex digits (a lookup key, not secret) and
//! `secret` is 32 random bytes in unpadded base64url. sled stores, under `id`, only
//! SHA-256(secret) with the token's role, scheme scope and expiry, so a copy of the database does
//! not yield usable tokens. Verification looks the record up by `id` and compares the secret's
//! hash with [`subtle::ConstantTimeEq`], so response timing does not reveal how much of a guessed
//! secret was right. Tokens are printed once at creation and never logged; the id is what the
//! server's log names (the `token_id` field of every authenticated request's span).
//!
//! The store lives in the server's own database, so a running server manages it through the
//! admin API (`/tokens`); each request reads the record afresh, so a revocation (deletion) is
//! effective on the very next request. Tokens expire after [`DEFAULT_EXPIRY`] unless the
//! creator asks otherwise (`never` must be spelled out).
//!
//! A second tree, `auth/minted`, records which labels each token minted (key: the 8 id bytes
//! then the 8-byte big-endian log index; empty value), so `GET /tokens/{id}/labels` is one
//! ordered prefix scan and costs 16 bytes per label.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// sled tree holding token records.
const TREE: &str = "auth/tokens";
/// sled tree attributing minted labels to tokens.
const MINTED_TREE: &str = "auth/minted";
/// The expiry of a token created without one: 90 days, so a forgotten token stops working on
/// its own. `never` remains available, explicitly.
pub const DEFAULT_EXPIRY: &str = "90d";
/// Longest operator note stored with a token.
pub const MAX_NOTE: usize = 200;
/// Prefix every token carries, so secret scanners and humans recognise it.
const PREFIX: &str = "clt_";
/// Scope value meaning "every scheme".
pub const ANY_SCHEME: &str = "*";

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Mint (single and bulk) and renew labels.
    Issuer,
    /// Suspend, reinstate and revoke labels.
    Revoker,
    /// Everything.
    Admin,
}

/// An action a token is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// POST /labels, /labels/bulk, /labels/{i}/renew.
    Issue,
    /// POST /labels/{i}/suspend, /reinstate, /revoke.
    ChangeStatus,
    /// Create, list and revoke tokens (`/tokens`).
    ManageTokens,
}

impl Role {
    /// Whether this role allows `action`.
    pub fn allows(self, action: Action) -> bool {
        matches!(
            (self, action),
            (Role::Admin, _)
                | (Role::Issuer, Action::Issue)
                | (Role::Revoker, Action::ChangeStatus)
        )
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "issuer" => Ok(Role::Issuer),
            "revoker" => Ok(Role::Revoker),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?} (expected issuer, revoker or admin)"
            )),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Issuer => "issuer",
            Role::Revoker => "revoker",
            Role::Admin => "admin",
        })
    }
}

/// What sled stores for a token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Public lookup id (16 hex digits).
    pub id: String,
    /// SHA-256 of the secret part, hex.
    secret_sha256: String,
    /// Scheme ids this token may act on; `"*"` = all.
    pub schemes: Vec<String>,
    /// Role.
    pub role: Role,
    /// Unix seconds of creation.
    pub created_at: u64,
    /// Unix seconds after which the token is refused; `None` = no expiry.
    pub expires_at: Option<u64>,
    /// Free-form note for operators (who holds it).
    #[serde(default)]
    pub note: String,
}

impl TokenRecord {
    /// Whether the token's scope covers `scheme`.
    pub fn covers_scheme(&self, scheme: &str) -> bool {
        self.schemes.iter().any(|s| s == ANY_SCHEME || s == scheme)
    }

    /// What the admin API shows of a token: everything but the secret's hash.
    pub fn info(&self) -> TokenInfo<'_> {
        TokenInfo {
            id: &self.id,
            role: self.role,
            schemes: &self.schemes,
            created_at: self.created_at,
            expires_at: self.expires_at,
            note: &self.note,
        }
    }
}

/// A token as the admin API lists it (no secret, no hash).
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo<'a> {
    /// Public id (16 hex digits).
    pub id: &'a str,
    /// Role.
    pub role: Role,
    /// Scheme scope (`*` = all).
    pub schemes: &'a [String],
    /// Unix seconds of creation.
    pub created_at: u64,
    /// Unix seconds after which it is refused; `null` = never.
    pub expires_at: Option<u64>,
    /// Who holds it.
    pub note: &'a str,
}

/// Why a token could not be created as asked (the caller's mistake, not storage).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRequestError {
    /// No scheme, or an empty scheme id.
    #[error("schemes must name at least one scheme id (or \"*\" for all), none empty")]
    Schemes,
    /// The note is too long.
    #[error("note must be at most {MAX_NOTE} characters")]
    Note,
}

/// Why a presented token was refused (all map to HTTP 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not of the form `clt_<id>_<secret>`.
    #[error("malformed bearer token")]
    Malformed,
    /// No such token, or the secret does not match.
    #[error("unknown or invalid bearer token")]
    Invalid,
    /// Past its expiry.
    #[error("bearer token expired")]
    Expired,
}

/// Storage failures of the token store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed.
    #[error("token store: {0}")]
    Sled(#[from] sled::Error),
    /// A stored record did not parse (corruption).
    #[error("token store: corrupt record: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// The system random source failed.
    #[error("token store: random source failed: {0}")]
    Random(String),
}

/// Token records in a sled tree of the shared database.
#[derive(Clone)]
pub struct TokenStore {
    tree: sled::Tree,
    minted: sled::Tree,
}

impl TokenStore {
    /// Opens (creating if needed) the token tree in `db`.
    ///
    /// # Errors
    /// sled errors.
    pub fn open(db: &sled::Db) -> Result<Self, StoreError> {
        Ok(Self {
            tree: db.open_tree(TREE)?,
            minted: db.open_tree(MINTED_TREE)?,
        })
    }

    /// Checks a creation request: at least one scheme, none empty; a bounded note.
    ///
    /// # Errors
    /// [`TokenRequestError`] naming what is wrong.
    pub fn check_request(schemes: &[String], note: &str) -> Result<(), TokenRequestError> {
        if schemes.is_empty() || schemes.iter().any(|s| s.trim().is_empty()) {
            return Err(TokenRequestError::Schemes);
        }
        if note.chars().count() > MAX_NOTE {
            return Err(TokenRequestError::Note);
        }
        Ok(())
    }

    /// Creates a token, stores its hash durably, and returns the token text (shown once) and
    /// its record.
    ///
    /// # Errors
    /// sled or randomness failures.
    pub fn create(
        &self,
        schemes: Vec<String>,
        role: Role,
        expires_at: Option<u64>,
        note: String,
        now: u64,
    ) -> Result<(String, TokenRecord), StoreError> {
        let mut id = [0u8; 8];
        let mut secret = [0u8; 32];
        getrandom::fill(&mut id).map_err(|e| StoreError::Random(e.to_string()))?;
        getrandom::fill(&mut secret).map_err(|e| StoreError::Random(e.to_string()))?;
        let id = hex::encode(id);
        let secret = URL_SAFE_NO_PAD.encode(secret);
        let record = TokenRecord {
            id: id.clone(),
            secret_sha256: hex::encode(Sha256::digest(secret.as_bytes())),
            schemes,
            role,
            created_at: now,
            expires_at,
            note,
        };
        self.tree
            .insert(id.as_bytes(), serde_json::to_vec(&record)?)?;
        self.tree.flush()?;
        Ok((format!("{PREFIX}{id}_{secret}"), record))
    }

    /// Checks a presented token. Constant-time in the secret.
    ///
    /// # Errors
    /// [`VerifyError::Auth`] when the token is refused (malformed, unknown, wrong secret,
    /// expired); [`VerifyError::Store`] when storage fails.
    pub fn verify(&self, token: &str, now: u64) -> Result<TokenRecord, VerifyError> {
        let (id, secret) = split_token(token).ok_or(AuthError::Malformed)?;
        let Some(bytes) = self.tree.get(id.as_bytes()).map_err(StoreError::from)? else {
            return Err(AuthError::Invalid.into());
        };
        let record: TokenRecord = serde_json::from_slice(&bytes).map_err(StoreError::from)?;
        let presented = Sha256::digest(secret.as_bytes());
        let stored = hex::decode(&record.secret_sha256).unwrap_or_default();
        if stored.len() != presented.len() || !bool::from(presented.as_slice().ct_eq(&stored)) {
            return Err(AuthError::Invalid.into());
        }
        if record.expires_at.is_some_and(|t| now >= t) {
            return Err(AuthError::Expired.into());
        }
        Ok(record)
    }

    /// All token records (no secrets), sorted by id.
    ///
    /// # Errors
    /// Storage failures.
    pub fn list(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.tree
            .iter()
            .values()
            .map(|v| Ok(serde_json::from_slice(&v?)?))
            .collect()
    }

    /// Deletes a token by id; returns whether it existed. Durable before it returns, and
    /// [`TokenStore::verify`] reads the store on every request: the next request with the
    /// token is refused. What it minted stays attributed to its id.
    ///
    /// # Errors
    /// Storage failures.
    pub fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        let existed = self.tree.remove(id.as_bytes())?.is_some();
        self.tree.flush()?;
        Ok(existed)
    }

    /// Records that token `id` minted the labels at `indices` (idempotent: a replayed request
    /// records the same keys again). Not flushed here: sled writes it out within its flush
    /// interval, and an idempotent retry of the request records it again; the labels
    /// themselves are durable in the log before this runs.
    ///
    /// # Errors
    /// Storage failures; an id that is not 16 hex digits records nothing.
    pub fn record_minted(&self, id: &str, indices: &[u64]) -> Result<(), StoreError> {
        let Some(prefix) = id_bytes(id) else {
            return Ok(());
        };
        let mut batch = sled::Batch::default();
        for i in indices {
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&prefix);
            key[8..].copy_from_slice(&i.to_be_bytes());
            batch.insert(&key[..], &[][..]);
        }
        self.minted.apply_batch(batch)?;
        Ok(())
    }

    /// Up to `limit` indices of labels token `id` minted, ascending, after `after` (exclusive;
    /// `None` = from the start).
    ///
    /// # Errors
    /// Storage failures.
    pub fn minted(
        &self,
        id: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let Some(prefix) = id_bytes(id) else {
            return Ok(Vec::new());
        };
        let first = match after {
            None => 0,
            Some(a) => match a.checked_add(1) {
                Some(f) => f,
                None => return Ok(Vec::new()),
            },
        };
        let mut start = [0u8; 16];
        start[..8].copy_from_slice(&prefix);
        let mut end = start;
        start[8..].copy_from_slice(&first.to_be_bytes());
        end[8..].copy_from_slice(&u64::MAX.to_be_bytes());
        let mut out = Vec::new();
        for kv in self.minted.range(start..=end).keys() {
            if out.len() >= limit {
                break;
            }
            let k = kv?;
            let mut index = [0u8; 8];
            if k.len() == 16 {
                index.copy_from_slice(&k[8..]);
                out.push(u64::from_be_bytes(index));
            }
        }
        Ok(out)
    }
}

/// A token id's 8 bytes (`None` unless it is 16 lowercase hex digits).
fn id_bytes(id: &str) -> Option<[u8; 8]> {
    let mut out = [0u8; 8];
    (id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(())?;
    hex::decode_to_slice(id, &mut out).ok()?;
    Some(out)
}

/// The id part of a token text (`clt_<id>_<secret>`), e.g. for a client listing what its own
/// token minted; `None` if the text is not a token.
pub fn token_id(token: &str) -> Option<&str> {
    split_token(token.trim()).map(|(id, _)| id)
}

/// A verification failure: refusal or storage error.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The token is refused.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Splits `clt_<16 hex>_<43 base64url>` strictly.
fn split_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok = id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let secret_ok = secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some((id, secret))
}

/// Parses an `--expires` value into Unix seconds: a duration from `now` (`90d`, `12h`, `30m`,
/// `3600s`), a date `YYYY-MM-DD` (midnight UTC), or `never`.
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_expiry(s: &str, now: u64) -> Result<Option<u64>, String> {
    let s = s.trim();
    if s == "never" {
        return Ok(None);
    }
    let bad =
        || format!("invalid expiry {s:?}: use e.g. 90d, 12h, 30m, 3600s, 2027-12-31 or never");
    if let Some((num, unit)) = s.split_at_checked(s.len().saturating_sub(1))
        && let Ok(n) = num.parse::<u64>()
    {
        let mult = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        return n
            .checked_mul(mult)
            .filter(|d| *d > 0)
            .and_then(|d| now.checked_add(d))
            .map(Some)
            .ok_or_else(bad);
    }
    // A calendar date: the issuer's strict parser (rejects e.g. 2027-02-30). A date already
    // past would make a token that never works: refused, naming the mistake.
    let at = cyberlabel_issuer::dates::parse_date(s).map_err(|_| bad())?;
    if at <= now {
        return Err(format!("expiry {s} is not in the future"));
    }
    Ok(Some(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        assert!(Role::Issuer.allows(Action::Issue));
        assert!(!Role::Issuer.allows(Action::ChangeStatus));
        assert!(Role::Revoker.allows(Action::ChangeStatus));
        assert!(!Role::Revoker.allows(Action::Issue));
        assert!(Role::Admin.allows(Action::Issue) && Role::Admin.allows(Action::ChangeStatus));
    }

    #[test]
    fn create_verify_expire_revoke() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let store = TokenStore::open(&db).unwrap();
        let (tok, rec) = store
            .create(
                vec!["SG-CLS".into()],
                Role::Issuer,
                Some(1000),
                String::new(),
                10,
            )
            .unwrap();
        assert_eq!(store.verify(&tok, 999).unwrap(), rec);
        assert!(matches!(
            store.verify(&tok, 1000),
            Err(VerifyError::Auth(AuthError::Expired))
        ));
        // One flipped secret character → invalid; stored bytes never contain the secret.
        let mut bad = tok.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bad).unwrap();
        assert!(matches!(
            store.verify(&bad, 0),
            Err(VerifyError::Auth(AuthError::Invalid))
        ));
        let secret = tok.rsplit('_').next().unwrap();
        for v in db.open_tree(TREE).unwrap().iter().values() {
            let v = v.unwrap();
            assert!(!String::from_utf8_lossy(&v).contains(secret));
        }
        assert!(matches!(
            store.verify("Bearer x", 0),
            Err(VerifyError::Auth(AuthError::Malformed))
        ));
        assert!(store.revoke(&rec.id).unwrap());
        assert!(matches!(
            store.verify(&tok, 0),
            Err(VerifyError::Auth(AuthError::Invalid))
        ));
    }

    #[test]
    fn minted_attribution() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let store = TokenStore::open(&db).unwrap();
        let (tok, rec) = store
            .create(vec!["*".into()], Role::Issuer, None, String::new(), 0)
            .unwrap();
        assert_eq!(token_id(&tok), Some(rec.id.as_str()));
        store.record_minted(&rec.id, &[5, 3, 9]).unwrap();
        store.record_minted(&rec.id, &[5]).unwrap(); // a replay records nothing new
        store.record_minted("ffffffffffffffff", &[4]).unwrap();
        assert_eq!(store.minted(&rec.id, None, 10).unwrap(), [3, 5, 9]);
        assert_eq!(store.minted(&rec.id, Some(3), 1).unwrap(), [5]);
        assert_eq!(
            store.minted(&rec.id, Some(9), 10).unwrap(),
            Vec::<u64>::new()
        );
        assert_eq!(
            store.minted("not-an-id", None, 10).unwrap(),
            Vec::<u64>::new()
        );
        // revoking the token keeps what it minted attributed
        assert!(store.revoke(&rec.id).unwrap());
        assert_eq!(store.minted(&rec.id, None, 10).unwrap(), [3, 5, 9]);
    }

    #[test]
    fn creation_requests() {
        assert!(TokenStore::check_request(&["SG-CLS".into()], "ops").is_ok());
        assert_eq!(
            TokenStore::check_request(&[], ""),
            Err(TokenRequestError::Schemes)
        );
        assert_eq!(
            TokenStore::check_request(&[" ".into()], ""),
            Err(TokenRequestError::Schemes)
        );
        assert_eq!(
            TokenStore::check_request(&["*".into()], &"x".repeat(MAX_NOTE + 1)),
            Err(TokenRequestError::Note)
        );
    }

    #[test]
    fn expiry_forms() {
        assert_eq!(parse_expiry("2d", 100).unwrap(), Some(100 + 2 * 86_400));
        assert_eq!(parse_expiry("never", 5).unwrap(), None);
        assert_eq!(parse_expiry("1970-01-02", 0).unwrap(), Some(86_400));
        assert_eq!(parse_expiry("2027-01-01", 0).unwrap(), Some(1_798_761_600));
        assert!(parse_expiry("soon", 0).is_err());
        assert!(parse_expiry("5y", 0).is_err());
        assert!(parse_expiry("2027-02-30", 0).is_err(), "impossible date");
        assert!(
            parse_expiry("1970-01-02", 86_400).is_err(),
            "not in the future"
        );
        assert!(parse_expiry("0d", 5).is_err(), "expired at once");
        assert!(parse_expiry("2027-13-01", 0).is_err());
    }
}
