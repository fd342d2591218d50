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

use serde::{Deserialize, Serialize};

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

mod store;
pub use store::TokenStore;

#[cfg(test)]
mod tests;
