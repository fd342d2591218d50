//! Durable witness state in sled.
//!
//! - tree `latest`: origin → the latest checkpoint the witness cosigned for that log
//!   (`u64 BE size ‖ 32-byte root ‖ cosigned note text`);
//! - tree `evidence`: `origin ‖ 0x00 ‖ u64 BE id` → `reason ‖ 0x00 ‖ note text`, signed
//!   checkpoints that conflicted with the stored one (split views, bad proofs).
//!
//! [`Store::check_and_update`] is atomic per origin (a sled compare-and-swap loop: a concurrent
//! update makes the decision run again against the new state, so the stored size can never be
//! rolled back) and flushes to disk before it returns, so a witness answers 200 only for a state
//! that survives a crash.

use std::path::Path;

use cyberlabel_core::merkle::Hash;

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (I/O, or the directory is locked by another process).
    #[error("witness database: {0}")]
    Sled(#[from] sled::Error),
    /// A stored record does not decode.
    #[error("witness database is corrupt: {0}")]
    Corrupt(&'static str),
}

/// The latest cosigned checkpoint of one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// tree size
    pub size: u64,
    /// root hash
    pub root: Hash,
    /// the signed checkpoint with the witness's cosignature
    pub checkpoint: String,
}

impl Record {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(40 + self.checkpoint.len());
        v.extend_from_slice(&self.size.to_be_bytes());
        v.extend_from_slice(&self.root);
        v.extend_from_slice(self.checkpoint.as_bytes());
        v
    }

    fn decode(b: &[u8]) -> Result<Self, StoreError> {
        if b.len() < 40 {
            return Err(StoreError::Corrupt("short record"));
        }
        let (size, rest) = b.split_at(8);
        let (root, text) = rest.split_at(32);
        let size = u64::from_be_bytes(
            size.try_into()
                .map_err(|_| StoreError::Corrupt("size field"))?,
        );
        let root: Hash = root
            .try_into()
            .map_err(|_| StoreError::Corrupt("root field"))?;
        let checkpoint = String::from_utf8(text.to_vec())
            .map_err(|_| StoreError::Corrupt("checkpoint is not UTF-8"))?;
        Ok(Self {
            size,
            root,
            checkpoint,
        })
    }
}

/// What a [`Store::check_and_update`] decision does.
pub enum Update<T> {
    /// Store this record (atomically replacing the state the decision saw), then return `T`.
    Write(Record, T),
    /// Leave the state alone and return `T`.
    Keep(T),
}

/// The witness database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    latest: sled::Tree,
    evidence: sled::Tree,
}

impl Store {
    /// Opens (creating) the database in `dir`.
    ///
    /// # Errors
    /// [`StoreError::Sled`], e.g. when another process holds the directory.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new().path(dir).open()?;
        Self::from_db(db)
    }

    /// Uses an already open database.
    ///
    /// # Errors
    /// [`StoreError::Sled`].
    pub fn from_db(db: sled::Db) -> Result<Self, StoreError> {
        Ok(Self {
            latest: db.open_tree("latest")?,
            evidence: db.open_tree("evidence")?,
            db,
        })
    }

    /// The latest cosigned checkpoint for `origin`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn latest(&self, origin: &str) -> Result<Option<Record>, StoreError> {
        self.latest
            .get(origin.as_bytes())?
            .map(|v| Record::decode(&v))
            .transpose()
    }

    /// Runs `decide` on the current state of `origin` and applies its decision atomically: if the
    /// state changed in between, `decide` runs again on the new state. A written record is
    /// flushed to disk before this returns.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn check_and_update<T>(
        &self,
        origin: &str,
        mut decide: impl FnMut(Option<&Record>) -> Update<T>,
    ) -> Result<T, StoreError> {
        loop {
            let current = self.latest.get(origin.as_bytes())?;
            let record = current.as_ref().map(|v| Record::decode(v)).transpose()?;
            match decide(record.as_ref()) {
                Update::Keep(t) => return Ok(t),
                Update::Write(new, t) => {
                    let swapped = self.latest.compare_and_swap(
                        origin.as_bytes(),
                        current,
                        Some(new.encode()),
                    )?;
                    if swapped.is_ok() {
                        self.db.flush()?;
                        return Ok(t);
                    }
                    // Lost a race: decide again against the state that won.
                }
            }
        }
    }

    /// Keeps a conflicting signed checkpoint as evidence (flushed before returning).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn keep_evidence(&self, origin: &str, reason: &str, note: &str) -> Result<(), StoreError> {
        let id = self.db.generate_id()?;
        let mut key = Vec::with_capacity(origin.len() + 9);
        key.extend_from_slice(origin.as_bytes());
        key.push(0);
        key.extend_from_slice(&id.to_be_bytes());
        let mut value = Vec::with_capacity(reason.len() + 1 + note.len());
        value.extend_from_slice(reason.as_bytes());
        value.push(0);
        value.extend_from_slice(note.as_bytes());
        self.evidence.insert(key, value)?;
        self.db.flush()?;
        Ok(())
    }

    /// The evidence kept for `origin`: `(reason, signed checkpoint)` pairs, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn evidence(&self, origin: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut prefix = origin.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for kv in self.evidence.scan_prefix(&prefix) {
            let (_, v) = kv?;
            let split = v
                .iter()
                .position(|&b| b == 0)
                .ok_or(StoreError::Corrupt("evidence record"))?;
            let reason = String::from_utf8(v[..split].to_vec())
                .map_err(|_| StoreError::Corrupt("evidence reason"))?;
            let note = String::from_utf8(v[split + 1..].to_vec())
                .map_err(|_| StoreError::Corrupt("evidence note"))?;
            out.push((reason, note));
        }
        Ok(out)
    }

    /// Flushes everything to disk.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}
