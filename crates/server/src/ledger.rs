//! The server's view of the transparency log: every call the server makes on the log goes
//! through [`Ledger`], so the HTTP layer does not depend on the log crate's internals.
//!
//! INTERIM: until `cyberlabel-log` (sled log with a group-commit sequencer) lands, this is a
//! small stand-in with the same guarantees and a simpler engine: entries and idempotency keys
//! in sled trees, flushed before an append is acknowledged, the tree and status map recomputed
//! in memory. It is correct but O(n) per checkpoint; the real log replaces it.

use std::collections::HashMap;
use std::sync::Mutex;

use cyberlabel_core::checkpoint::{Checkpoint, StatusCommitment};
use cyberlabel_core::cose::{self, Entry};
use cyberlabel_core::merkle::{self, Hash, ProofError};
use cyberlabel_core::note::{KeyKind, NoteSigner};
use cyberlabel_core::status::{self, Bucket, State, StatusProof};
use cyberlabel_core::tiles::{self, TileKind, TilePath};
use ed25519_dalek::SigningKey;

/// Builds an entry once its index is known (the label's serial is its index).
pub type Builder = Box<dyn FnOnce(u64) -> Result<Vec<u8>, String> + Send>;

/// Log failures seen by the server.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The entry builder refused (validation at sequencing time, e.g. an illegal transition).
    #[error("{0}")]
    Rejected(String),
    /// Storage failure.
    #[error("log storage: {0}")]
    Storage(String),
    /// The log is shutting down.
    #[error("log is closed")]
    Closed,
}

impl From<sled::Error> for LedgerError {
    fn from(e: sled::Error) -> Self {
        LedgerError::Storage(e.to_string())
    }
}

struct State_ {
    leaves: Vec<Hash>,
    states: Vec<(State, u8)>,
    idem: HashMap<[u8; 32], u64>,
    checkpoint: String,
    closed: bool,
}

/// The log.
pub struct Ledger {
    signer: NoteSigner,
    origin: String,
    entries: sled::Tree,
    idem: sled::Tree,
    state: Mutex<State_>,
}

/// Result of a durable append.
#[derive(Debug, Clone, Copy)]
pub struct Appended {
    /// The entry's index.
    pub index: u64,
    /// Whether this was an idempotent replay (nothing appended).
    pub replay: bool,
    /// Entries committed in the same batch.
    pub batch: usize,
}

fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, LedgerError> {
    m.lock()
        .map_err(|_| LedgerError::Storage("poisoned lock".into()))
}

impl Ledger {
    /// Opens the log in `db`.
    ///
    /// # Errors
    /// Storage or key-name errors.
    pub fn open(
        db: &sled::Db,
        origin: &str,
        key: SigningKey,
        _batch_size: usize,
        _max_delay: std::time::Duration,
    ) -> Result<Self, LedgerError> {
        let signer = NoteSigner::new(origin, KeyKind::Ed25519, key)
            .map_err(|e| LedgerError::Storage(format!("log key/origin: {e}")))?;
        let entries = db.open_tree("ledger/entries")?;
        let idem_tree = db.open_tree("ledger/idempotency")?;
        let mut st = State_ {
            leaves: Vec::new(),
            states: Vec::new(),
            idem: HashMap::new(),
            checkpoint: String::new(),
            closed: false,
        };
        for kv in entries.iter() {
            let (_, v) = kv?;
            apply(&mut st, &v);
        }
        for kv in idem_tree.iter() {
            let (k, v) = kv?;
            if let (Ok(k), Ok(v)) = (<[u8; 32]>::try_from(&k[..]), <[u8; 8]>::try_from(&v[..])) {
                st.idem.insert(k, u64::from_be_bytes(v));
            }
        }
        let l = Ledger {
            signer,
            origin: origin.to_owned(),
            entries,
            idem: idem_tree,
            state: Mutex::new(st),
        };
        {
            let mut st = lock(&l.state)?;
            st.checkpoint = l.sign_checkpoint(&st)?;
        }
        Ok(l)
    }

    fn sign_checkpoint(&self, st: &State_) -> Result<String, LedgerError> {
        let mut cp = Checkpoint::new(
            &self.origin,
            st.leaves.len() as u64,
            merkle::reference_root(&st.leaves),
        );
        let buckets = bucket_leaves(st);
        cp.set_status(StatusCommitment {
            bucket_count: buckets.len() as u64,
            root: merkle::reference_root(&buckets),
        });
        cp.sign(&self.signer)
            .map_err(|e| LedgerError::Storage(e.to_string()))
    }

    /// Appends entries in one batch (one durable flush, one checkpoint); one result each.
    pub async fn append_batch(
        &self,
        items: Vec<(Builder, Option<[u8; 32]>)>,
    ) -> Vec<Result<Appended, LedgerError>> {
        let n = items.len();
        let r = self.append_sync(items);
        match r {
            Ok(v) => v,
            Err(e) => (0..n)
                .map(|_| Err(LedgerError::Storage(e.to_string())))
                .collect(),
        }
    }

    fn append_sync(
        &self,
        items: Vec<(Builder, Option<[u8; 32]>)>,
    ) -> Result<Vec<Result<Appended, LedgerError>>, LedgerError> {
        let mut st = lock(&self.state)?;
        if st.closed {
            return Ok(items
                .into_iter()
                .map(|_| Err(LedgerError::Closed))
                .collect());
        }
        let batch = items.len();
        let mut out = Vec::with_capacity(batch);
        let mut appended = 0;
        for (build, key) in items {
            if let Some(k) = key
                && let Some(&index) = st.idem.get(&k)
            {
                out.push(Ok(Appended {
                    index,
                    replay: true,
                    batch,
                }));
                continue;
            }
            let index = st.leaves.len() as u64;
            let bytes = match build(index) {
                Ok(b) => b,
                Err(e) => {
                    out.push(Err(LedgerError::Rejected(e)));
                    continue;
                }
            };
            if let Err(e) = check(&st, &bytes) {
                out.push(Err(LedgerError::Rejected(e)));
                continue;
            }
            self.entries.insert(index.to_be_bytes(), bytes.as_slice())?;
            if let Some(k) = key {
                self.idem.insert(k, &index.to_be_bytes())?;
                st.idem.insert(k, index);
            }
            apply(&mut st, &bytes);
            appended += 1;
            out.push(Ok(Appended {
                index,
                replay: false,
                batch,
            }));
        }
        if appended > 0 {
            self.entries.flush()?;
            self.idem.flush()?;
            st.checkpoint = self.sign_checkpoint(&st)?;
        }
        Ok(out)
    }

    /// Appends one entry.
    ///
    /// # Errors
    /// Rejection, storage, closed.
    pub async fn append(
        &self,
        build: Builder,
        key: Option<[u8; 32]>,
    ) -> Result<Appended, LedgerError> {
        self.append_batch(vec![(build, key)])
            .await
            .pop()
            .unwrap_or(Err(LedgerError::Closed))
    }

    /// The latest signed checkpoint.
    ///
    /// # Errors
    /// Storage failures.
    pub fn checkpoint(&self) -> Result<String, LedgerError> {
        Ok(lock(&self.state)?.checkpoint.clone())
    }

    /// Number of entries.
    ///
    /// # Errors
    /// Storage failures.
    pub fn size(&self) -> Result<u64, LedgerError> {
        Ok(lock(&self.state)?.leaves.len() as u64)
    }

    /// Entry bytes.
    ///
    /// # Errors
    /// Storage failures.
    pub fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, LedgerError> {
        Ok(self.entries.get(index.to_be_bytes())?.map(|v| v.to_vec()))
    }

    /// The current (state, reason) of `index`.
    ///
    /// # Errors
    /// Storage failures.
    pub fn status(&self, index: u64) -> Result<(State, u8), LedgerError> {
        let st = lock(&self.state)?;
        Ok(usize::try_from(index)
            .ok()
            .and_then(|i| st.states.get(i).copied())
            .unwrap_or((State::None, 0)))
    }

    /// Inclusion proof of `index` in the tree of `size`.
    ///
    /// # Errors
    /// Out of range.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
        let st = lock(&self.state)?;
        let leaves = st
            .leaves
            .get(..usize::try_from(size).unwrap_or(usize::MAX))
            .ok_or(LedgerError::Closed)?;
        merkle::inclusion_proof::<ProofError>(index, size, |id| merkle::reference_node(leaves, id))
            .map_err(|e| LedgerError::Storage(e.to_string()))
    }

    /// A tile, if it exists at that width for the current tree.
    ///
    /// # Errors
    /// Storage failures.
    pub fn tile(&self, path: &TilePath) -> Result<Option<Vec<u8>>, LedgerError> {
        let st = lock(&self.state)?;
        let size = st.leaves.len() as u64;
        let level = match path.kind {
            TileKind::Hash(l) => l,
            TileKind::Entries => 0,
        };
        let have = tiles::tile_width(level, path.index, size);
        if have < path.width || (path.is_full() && have != path.width) {
            return Ok(None);
        }
        let first = path.index * 256;
        let width = u64::from(path.width);
        match path.kind {
            TileKind::Entries => {
                let mut out = Vec::new();
                for i in first..first + width {
                    let e = self
                        .entries
                        .get(i.to_be_bytes())?
                        .ok_or(LedgerError::Storage("missing entry".into()))?;
                    tiles::push_bundle_entry(&mut out, &e)
                        .map_err(|e| LedgerError::Storage(e.to_string()))?;
                }
                Ok(Some(out))
            }
            TileKind::Hash(l) => {
                let mut out = Vec::with_capacity(32 * path.width as usize);
                for i in first..first + width {
                    let id = merkle::NodeId {
                        level: 8 * l,
                        index: i,
                    };
                    let h = merkle::reference_node(&st.leaves, id)
                        .map_err(|e| LedgerError::Storage(e.to_string()))?;
                    out.extend_from_slice(&h);
                }
                Ok(Some(out))
            }
        }
    }

    /// The status proof for `bucket` against the latest checkpoint.
    ///
    /// # Errors
    /// Storage failures.
    pub fn status_proof(&self, bucket: u64) -> Result<Option<String>, LedgerError> {
        let st = lock(&self.state)?;
        let buckets = buckets(&st);
        let Some(b) = usize::try_from(bucket).ok().and_then(|i| buckets.get(i)) else {
            return Ok(None);
        };
        let leaves: Vec<Hash> = buckets.iter().map(Bucket::leaf_hash).collect();
        let path = merkle::inclusion_proof::<ProofError>(bucket, leaves.len() as u64, |id| {
            merkle::reference_node(&leaves, id)
        })
        .map_err(|e| LedgerError::Storage(e.to_string()))?;
        Ok(Some(
            StatusProof {
                bucket,
                state: b.clone(),
                path,
                checkpoint: st.checkpoint.clone(),
            }
            .to_text(),
        ))
    }

    /// Stops accepting appends (pending ones already completed: appends are synchronous here).
    pub async fn close(&self) {
        if let Ok(mut st) = self.state.lock() {
            st.closed = true;
        }
        let _ = self.entries.flush();
    }
}

fn buckets(st: &State_) -> Vec<Bucket> {
    let mut out: Vec<Bucket> = (0..status::bucket_count(st.leaves.len() as u64))
        .map(|_| Bucket::default())
        .collect();
    for (i, (s, r)) in st.states.iter().enumerate() {
        if let Some(b) = out.get_mut(i / 256) {
            b.set(i % 256, *s, *r);
        }
    }
    out
}

fn bucket_leaves(st: &State_) -> Vec<Hash> {
    buckets(st).iter().map(Bucket::leaf_hash).collect()
}

/// Sequencing-time validation: the status transition must be legal.
fn check(st: &State_, bytes: &[u8]) -> Result<(), String> {
    match cose::decode_entry(bytes).map_err(|e| e.to_string())? {
        Entry::Label { claim, .. } => {
            if let Some(old) = claim.supersedes {
                let from = usize::try_from(old)
                    .ok()
                    .and_then(|i| st.states.get(i))
                    .map_or(State::None, |s| s.0);
                if !status::can_supersede(from) {
                    return Err(format!("label {old} cannot be renewed from state {from:?}"));
                }
            }
            Ok(())
        }
        Entry::Status { record, .. } => {
            let from = usize::try_from(record.target)
                .ok()
                .and_then(|i| st.states.get(i))
                .map_or(State::None, |s| s.0);
            let action =
                status::StatusAction::from_code(record.action as u64).ok_or("unknown action")?;
            status::apply_action(from, action)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    }
}

fn apply(st: &mut State_, bytes: &[u8]) {
    st.leaves.push(merkle::leaf_hash(bytes));
    match cose::decode_entry(bytes) {
        Ok(Entry::Label { claim, .. }) => {
            st.states.push((State::Active, 0));
            if let Some(old) = claim.supersedes.and_then(|o| usize::try_from(o).ok())
                && let Some(s) = st.states.get_mut(old)
            {
                *s = (State::Superseded, cose::ReasonCode::Superseded.as_u8());
            }
        }
        Ok(Entry::Status { record, .. }) => {
            st.states.push((State::None, 0));
            if let Some(s) = usize::try_from(record.target)
                .ok()
                .and_then(|i| st.states.get_mut(i))
                && let Some(a) = status::StatusAction::from_code(record.action as u64)
                && let Ok(next) = status::apply_action(s.0, a)
            {
                *s = (next, record.reason.as_u8());
            }
        }
        Err(_) => st.states.push((State::None, 0)),
    }
}
