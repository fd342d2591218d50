//! The token store: token records (hashes, never secrets) and the labels each token minted,
//! in two trees of the server's sled database.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::*;

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
