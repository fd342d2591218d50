//! The witness logic, independent of HTTP: [`Witness::add_checkpoint`] implements the checks of
//! C2SP `tlog-witness` in order and maps each failure to its status code ([`AddError::status`]).

use std::collections::HashMap;

use cyberlabel_core::checkpoint::{self, Checkpoint};
use cyberlabel_core::merkle::{self, EMPTY_ROOT};
use cyberlabel_core::note::{self, KeyKind, NoteError, NoteSigner, VerifierKey};
use sha2::{Digest as _, Sha256};

use crate::request::{self, RequestError};
use crate::store::{Record, Store, StoreError, Update};

/// Why a checkpoint was not cosigned. [`AddError::status`] gives the HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// The body is malformed (400).
    #[error("malformed request: {0}")]
    Request(#[from] RequestError),
    /// The checkpoint note or body is malformed (400).
    #[error("malformed checkpoint: {0}")]
    Checkpoint(String),
    /// The checkpoint's origin is not a log this witness follows (404).
    #[error("unknown log origin {0:?}")]
    UnknownOrigin(String),
    /// No valid signature by a trusted key of the log (403).
    #[error("checkpoint is not signed by a trusted key of {origin:?}: {reason}")]
    NotSigned {
        /// the log
        origin: String,
        /// the note verifier's verdict
        reason: NoteError,
    },
    /// `old` is larger than the checkpoint's size (400).
    #[error("old size {old} is larger than the checkpoint size {size}")]
    OldTooLarge {
        /// the request's old size
        old: u64,
        /// the checkpoint size
        size: u64,
    },
    /// `old` is not the size the witness last cosigned (409, `text/x.tlog.size`).
    #[error("old size does not match the latest cosigned size {latest}")]
    Conflict {
        /// the size of the latest cosigned checkpoint (0 if none)
        latest: u64,
    },
    /// Same size as the latest cosigned checkpoint but another root (409): a split view.
    #[error("split view: a checkpoint of size {size} with another root hash was already cosigned")]
    SplitView {
        /// tree size
        size: u64,
    },
    /// The consistency proof does not verify, or a size-0 checkpoint has a non-empty root (422).
    #[error("consistency proof from size {old} to {size} does not verify: {reason}")]
    BadProof {
        /// old size
        old: u64,
        /// checkpoint size
        size: u64,
        /// why
        reason: merkle::ProofError,
    },
    /// The witness's storage failed (500).
    #[error("witness storage: {0}")]
    Store(#[from] StoreError),
    /// The witness could not produce a cosignature (500).
    #[error("cosigning failed: {0}")]
    Cosign(String),
}

impl AddError {
    /// The HTTP status code for this outcome.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            AddError::Request(_) | AddError::Checkpoint(_) | AddError::OldTooLarge { .. } => 400,
            AddError::UnknownOrigin(_) => 404,
            AddError::NotSigned { .. } => 403,
            AddError::Conflict { .. } | AddError::SplitView { .. } => 409,
            AddError::BadProof { .. } => 422,
            AddError::Store(_) | AddError::Cosign(_) => 500,
        }
    }
}

/// Errors configuring a witness.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A log key string does not parse.
    #[error("log key {vkey:?}: {source}")]
    BadLogKey {
        /// the key string
        vkey: String,
        /// why
        source: NoteError,
    },
    /// A log key is not an Ed25519 note key.
    #[error("log key {0:?} is not an Ed25519 (type 0x01) note key")]
    NotALogKey(String),
    /// The witness key is not a cosignature/v1 key.
    #[error("the witness key must be a cosignature/v1 (type 0x04) key")]
    NotAWitnessKey,
}

/// One followed log.
struct LogEntry {
    keys: Vec<VerifierKey>,
}

/// A witness: its key, the logs it follows and its state.
pub struct Witness {
    signer: NoteSigner,
    logs: HashMap<String, LogEntry>,
    by_hash: HashMap<String, String>,
    store: Store,
}

/// Lowercase hex SHA-256 of an origin (the monitoring path segment).
#[must_use]
pub fn origin_hash(origin: &str) -> String {
    hex::encode(Sha256::digest(origin.as_bytes()))
}

impl Witness {
    /// A witness signing with `signer`, following the logs whose verifier keys are given (C2SP
    /// vkey strings; each key's name is its log's origin; several keys may share an origin).
    ///
    /// # Errors
    /// [`ConfigError`].
    pub fn new(
        signer: NoteSigner,
        log_vkeys: &[String],
        store: Store,
    ) -> Result<Self, ConfigError> {
        if signer.verifier().kind() != KeyKind::CosignatureV1 {
            return Err(ConfigError::NotAWitnessKey);
        }
        let mut logs: HashMap<String, LogEntry> = HashMap::new();
        let mut by_hash = HashMap::new();
        for v in log_vkeys {
            let key = VerifierKey::parse(v.trim()).map_err(|source| ConfigError::BadLogKey {
                vkey: v.clone(),
                source,
            })?;
            if key.kind() != KeyKind::Ed25519 {
                return Err(ConfigError::NotALogKey(v.clone()));
            }
            let origin = key.name().to_owned();
            by_hash.insert(origin_hash(&origin), origin.clone());
            let entry = logs.entry(origin).or_insert(LogEntry { keys: Vec::new() });
            if !entry.keys.contains(&key) {
                entry.keys.push(key);
            }
        }
        Ok(Self {
            signer,
            logs,
            by_hash,
            store,
        })
    }

    /// The witness's verifier key (`<name>+<id>+<base64(0x04 ‖ key)>`).
    #[must_use]
    pub fn verifier(&self) -> &VerifierKey {
        self.signer.verifier()
    }

    /// The origins this witness follows.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.logs.keys().map(String::as_str)
    }

    /// The store (for evidence inspection and tests).
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The latest cosigned checkpoint of the log whose origin hashes to `origin_hex`
    /// (lowercase hex SHA-256), for monitors.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn latest_by_hash(&self, origin_hex: &str) -> Result<Option<String>, StoreError> {
        match self.by_hash.get(origin_hex) {
            Some(origin) => Ok(self.store.latest(origin)?.map(|r| r.checkpoint)),
            None => Ok(None),
        }
    }

    /// Handles one `add-checkpoint` body at Unix time `now`; returns the response body (the
    /// witness's cosignature line, newline-terminated).
    ///
    /// # Errors
    /// [`AddError`]; [`AddError::status`] is the HTTP status to answer.
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Result<String, AddError> {
        let req = request::parse(body)?;
        let parsed =
            note::Note::parse(req.checkpoint).map_err(|e| AddError::Checkpoint(e.to_string()))?;
        let cp =
            Checkpoint::parse(&parsed.text).map_err(|e| AddError::Checkpoint(e.to_string()))?;
        let log = self
            .logs
            .get(&cp.origin)
            .ok_or_else(|| AddError::UnknownOrigin(cp.origin.clone()))?;
        // Unknown signatures are ignored by the verifier; a bad signature by a trusted key, or
        // none at all, is refused.
        let verified = note::verify(parsed, &log.keys).map_err(|reason| AddError::NotSigned {
            origin: cp.origin.clone(),
            reason,
        })?;
        if req.old > cp.size {
            return Err(AddError::OldTooLarge {
                old: req.old,
                size: cp.size,
            });
        }
        if cp.size == 0 && !merkle::hashes_equal(&cp.root, &EMPTY_ROOT) {
            return Err(AddError::BadProof {
                old: req.old,
                size: 0,
                reason: merkle::ProofError::RootMismatch,
            });
        }
        let text = verified.note.text.clone();
        let line = checkpoint::cosign(&text, &self.signer, now)
            .map_err(|e| AddError::Cosign(e.to_string()))?;
        let stored_note =
            checkpoint::add_signature_lines(&verified.note.to_text(), std::slice::from_ref(&line))
                .map_err(|e| AddError::Cosign(e.to_string()))?;
        let record = Record {
            size: cp.size,
            root: cp.root,
            checkpoint: stored_note,
        };
        let submitted = verified.note.to_text();
        let outcome = self.store.check_and_update(&cp.origin, |current| {
            let (latest, latest_root) = current.map_or((0, EMPTY_ROOT), |r| (r.size, r.root));
            if req.old != latest {
                return Update::Keep(Err(AddError::Conflict { latest }));
            }
            if current.is_some()
                && cp.size == latest
                && !merkle::hashes_equal(&cp.root, &latest_root)
            {
                return Update::Keep(Err(AddError::SplitView { size: cp.size }));
            }
            if let Err(reason) =
                merkle::verify_consistency(latest, cp.size, &latest_root, &cp.root, &req.proof)
            {
                return Update::Keep(Err(AddError::BadProof {
                    old: latest,
                    size: cp.size,
                    reason,
                }));
            }
            Update::Write(record.clone(), Ok(()))
        })?;
        match outcome {
            Ok(()) => {
                tracing::info!(origin = %cp.origin, size = cp.size, old = req.old, "cosigned checkpoint");
                Ok(format!("{line}\n"))
            }
            Err(e @ AddError::SplitView { .. }) => {
                tracing::warn!(
                    origin = %cp.origin,
                    size = cp.size,
                    checkpoint = %submitted,
                    "SPLIT VIEW: the log signed two checkpoints of the same size with different root hashes; keeping the conflicting checkpoint as evidence"
                );
                self.store
                    .keep_evidence(&cp.origin, "split-view", &submitted)?;
                Err(e)
            }
            Err(e @ AddError::BadProof { .. }) => {
                tracing::warn!(origin = %cp.origin, size = cp.size, error = %e, "inconsistent checkpoint signed by the log; keeping it as evidence");
                self.store
                    .keep_evidence(&cp.origin, "bad-proof", &submitted)?;
                Err(e)
            }
            Err(e) => {
                tracing::debug!(origin = %cp.origin, error = %e, "checkpoint refused");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    #[test]
    fn rejects_bad_config() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let w = NoteSigner::new(
            "w",
            KeyKind::CosignatureV1,
            SigningKey::from_bytes(&[1; 32]),
        )
        .unwrap();
        let cosig_vkey = w.verifier().to_string();
        assert!(matches!(
            Witness::new(w, &[cosig_vkey], store.clone()),
            Err(ConfigError::NotALogKey(_))
        ));
        let log = NoteSigner::new("l", KeyKind::Ed25519, SigningKey::from_bytes(&[2; 32])).unwrap();
        assert!(matches!(
            Witness::new(log, &[], store.clone()),
            Err(ConfigError::NotAWitnessKey)
        ));
        let w = NoteSigner::new(
            "w",
            KeyKind::CosignatureV1,
            SigningKey::from_bytes(&[1; 32]),
        )
        .unwrap();
        assert!(matches!(
            Witness::new(w, &["garbage".into()], store),
            Err(ConfigError::BadLogKey { .. })
        ));
    }
}
