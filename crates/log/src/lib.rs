//! cyberlabel-log: the transparency log.
//!
//! An append-only RFC 6962 Merkle log of label and status-record entries (docs/FORMATS.md §2,
//! §4), stored as C2SP tlog-tiles (hash tiles + entries) behind a small [`LogStore`] trait
//! (sled, or memory for tests), with a derived status map committed in every checkpoint.
//!
//! Write path: [`Log::submit`] hands an item to the single **sequencer** thread, which groups
//! concurrent submissions into batches (what came in during the last commit, up to
//! `batch_size`; after an idle moment, whatever comes within `max_delay`), assigns indices,
//! lets builder items sign with their index known, validates status transitions, appends,
//! updates tiles and the status map, commits everything in one atomic, flushed store commit,
//! signs one checkpoint for the batch, and only then answers each [`Ticket`]. An idempotency
//! key is checked and stored in the same commit, so a retry returns the first result.
//!
//! The expensive part of a batch — building (signing) each entry at its index, the admission
//! check, the leaf hash — runs on a pool of one worker per core. When many jobs wait, the next
//! batch is prepared on the workers while the sequencer commits the one before it (the fsync),
//! at the indices and under the trust list that batch leaves behind; if it fails, or an earlier
//! job is refused or replayed, the jobs whose index or trust list moved are prepared again
//! before anything of them is appended. Nothing is acknowledged before its own commit.
//!
//! Read path: proofs (inclusion, consistency, C2SP tlog-proof, status proof), tiles and entry
//! bundles come from stored tiles, never from a rebuilt tree; opening a log checks that the
//! stored tiles hash to the last checkpoint's root (O(log n) reads) and refuses otherwise.
//! Verification of everything served here lives in `cyberlabel-core`.

#![forbid(unsafe_code)]

#[cfg(any(test, feature = "test-utils"))]
pub mod fixtures;
mod health;
mod sequencer;
pub mod store;
mod store_redb;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use cyberlabel_core::admission::Replay;
use cyberlabel_core::checkpoint::{self, Checkpoint, CheckpointError, Policy, StatusCommitment};
use cyberlabel_core::merkle::{self, EMPTY_ROOT, Hash, NodeId, ProofError};
use cyberlabel_core::note::{KeyKind, NoteError, NoteSigner, VerifierKey};
use cyberlabel_core::status::{self, BUCKET_LABELS, StatusProof};
use cyberlabel_core::tiles::{self, TileKind, TilePath};
use cyberlabel_core::tlog_proof::TlogProof;
use ed25519_dalek::{SigningKey, VerifyingKey};
use tokio::sync::oneshot;

pub use health::StorageHealth;
#[cfg(any(test, feature = "test-utils"))]
pub use store::MemoryStore;
pub use store::{Commit, LogStore, SledStore, StoreError, StoredState};
pub use store_redb::{DEFAULT_CACHE_BYTES, RedbStore};

/// How the log treats entry bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryPolicy {
    /// Entries must be cyberlabel labels, status records or trust lists, each admitted by
    /// core's rules ([`cyberlabel_core::admission`]): trust lists verified under this trust
    /// anchor (the trust-list signer's key) and newer than the one in force; labels and status
    /// records signed by an issuer key the trust list in force authorises; the status map
    /// follows them and illegal transitions are rejected.
    Cyberlabel(VerifyingKey),
    /// Any bytes (< 64 KiB); the status map stays all-`None`. For benchmarks and tests.
    Opaque,
}

/// Log configuration.
#[derive(Clone)]
pub struct LogConfig {
    /// Checkpoint origin, also the signing key name.
    pub origin: String,
    /// The log's Ed25519 checkpoint key.
    pub signing_key: SigningKey,
    /// Most items per batch.
    pub batch_size: usize,
    /// Longest a batch waits for more items after its first one.
    pub max_delay: Duration,
    /// Entry validation.
    pub entries: EntryPolicy,
}

impl core::fmt::Debug for LogConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LogConfig")
            .field("origin", &self.origin)
            .field("batch_size", &self.batch_size)
            .field("max_delay", &self.max_delay)
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

impl LogConfig {
    /// Defaults: batches of up to 256 items, 2 ms max delay.
    #[must_use]
    pub fn new(origin: impl Into<String>, signing_key: SigningKey, entries: EntryPolicy) -> Self {
        Self {
            origin: origin.into(),
            signing_key,
            batch_size: 256,
            max_delay: Duration::from_millis(2),
            entries,
        }
    }
}

/// The error a builder closure returns (its message is passed back to the submitter).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("building the entry failed: {0}")]
pub struct BuildError(pub String);

/// Builds an entry once its log index is known (a label's claim contains its own index).
/// Called with the index the entry gets; it may be called again with another index (when an
/// earlier entry of its batch is refused), so it must not consume anything.
pub type Builder = Box<dyn Fn(u64) -> Result<Vec<u8>, BuildError> + Send>;

/// What to append.
pub enum Payload {
    /// fixed entry bytes
    Entry(Vec<u8>),
    /// bytes built by the sequencer's call with the assigned index
    Build(Builder),
}

/// One submission.
pub struct Submission {
    /// the entry
    pub payload: Payload,
    /// retry key: a second submission with the same key returns the first result
    pub idempotency_key: Option<[u8; 32]>,
    /// for a builder: the key it signs with, in this process (see [`Submission::signed_by`])
    pub signed_by: Option<ed25519_dalek::VerifyingKey>,
}

impl Submission {
    /// Fixed entry bytes.
    #[must_use]
    pub fn entry(bytes: Vec<u8>) -> Self {
        Self {
            payload: Payload::Entry(bytes),
            idempotency_key: None,
            signed_by: None,
        }
    }
    /// A builder called with the assigned index.
    #[must_use]
    pub fn build(f: impl Fn(u64) -> Result<Vec<u8>, BuildError> + Send + 'static) -> Self {
        Self {
            payload: Payload::Build(Box::new(f)),
            idempotency_key: None,
            signed_by: None,
        }
    }
    /// The builder signs with `key`, in this process: admission then checks that `key` is the
    /// key the trust list names for the entry's kid (and every other rule) without verifying
    /// the fresh signature again (`cyberlabel_core::admission::check_entry_signed_by`).
    /// Ignored for fixed entry bytes, which are always verified.
    #[must_use]
    pub fn signed_by(mut self, key: ed25519_dalek::VerifyingKey) -> Self {
        self.signed_by = Some(key);
        self
    }

    /// Attach an idempotency key.
    #[must_use]
    pub fn with_idempotency_key(mut self, key: [u8; 32]) -> Self {
        self.idempotency_key = Some(key);
        self
    }
}

/// An acknowledged append (durable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// the entry's index
    pub index: u64,
    /// its RFC 6962 leaf hash
    pub leaf_hash: Hash,
    /// the signed checkpoint of the batch that included it
    pub checkpoint: String,
    /// true if this answers a retry (idempotency key seen before); nothing was appended
    pub replayed: bool,
}

/// Why a submission was not appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// Entries must be smaller than 64 KiB (entry bundles use 16-bit lengths).
    #[error("entry of {len} bytes is too large")]
    EntryTooLarge {
        /// entry length
        len: usize,
    },
    /// The builder failed.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Refused by the admission rules (no trust list yet, unknown or unauthorised issuer key,
    /// bad signature, trust-list rollback) or a status rule (invalid entry, serial not its
    /// index, missing or mismatched target, another issuer or scheme, illegal transition). The
    /// rules and their variants live in one place, core's [`status::EffectError`], shared with
    /// auditors replaying the log.
    #[error("entry refused: {0}")]
    Rejected(#[from] status::EffectError),
    /// Storage failed and nothing of the batch was recorded. With a store whose failed writes
    /// change nothing (redb) the log goes on and later appends may succeed; otherwise (sled) it
    /// stops accepting appends until reopened.
    #[error("storage failed: {0}")]
    Storage(String),
    /// The disk is full: nothing of the batch was recorded; appends succeed again once there
    /// is room.
    #[error("log storage is full: {0}")]
    StorageFull(String),
    /// The log is closed or stopped after a storage failure.
    #[error("log is closed")]
    Closed,
}

/// Errors of opening and reading the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored state is inconsistent; the log refuses to serve.
    #[error("log state is inconsistent: {0}")]
    Corrupt(String),
    /// A proof request is out of range.
    #[error("{0}")]
    Range(#[from] ProofError),
    /// Checkpoint error.
    #[error("{0}")]
    Checkpoint(#[from] CheckpointError),
    /// Configuration error (e.g. an invalid origin for a key name).
    #[error("invalid log configuration: {0}")]
    Config(#[from] NoteError),
    /// Not found (entry, tile beyond the tree).
    #[error("not found")]
    NotFound,
}

impl From<tiles::TileError> for LogError {
    fn from(e: tiles::TileError) -> Self {
        match e {
            tiles::TileError::Proof(p) => LogError::Range(p),
            other => LogError::Corrupt(other.to_string()),
        }
    }
}

/// Answer to one submission: `.await` it in async code, or call `blocking_recv()` from a plain
/// thread (tokio panics if `blocking_recv` is called on a runtime thread). A dropped sender
/// (`RecvError`) means the log shut down before answering.
pub type Ticket = oneshot::Receiver<Result<Appended, AppendError>>;

pub(crate) struct Job {
    pub(crate) submission: Submission,
    pub(crate) reply: oneshot::Sender<Result<Appended, AppendError>>,
}

pub(crate) struct Shared {
    pub(crate) store: Arc<dyn LogStore>,
    /// the entry rules, for the full audit's replay
    pub(crate) entries: EntryPolicy,
    pub(crate) origin: String,
    pub(crate) verifier: VerifierKey,
    /// latest published state; the sequencer holds the write lock across commit + update so a
    /// reader never pairs a checkpoint with store contents of another batch
    pub(crate) published: RwLock<StoredState>,
    pub(crate) poisoned: AtomicBool,
    pub(crate) health: Arc<Mutex<StorageHealth>>,
    /// the right edge as last committed (updated with `published`)
    pub(crate) edge: RwLock<Arc<Edge>>,
    /// perfect-subtree hashes computed for proofs
    pub(crate) memo: NodeMemo,
    /// jobs submitted and not yet taken by the sequencer
    pub(crate) queued: AtomicUsize,
}

/// The transparency log handle. Share it (e.g. in an `Arc`); dropping it stops the sequencer
/// after the queued items are processed.
pub struct Log {
    shared: Arc<Shared>,
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Log {
    /// Open (or create) the log in a sled database. The caller owns `db` (one handle per
    /// directory; clones share it).
    ///
    /// # Errors
    /// [`LogError`] if the stored state is inconsistent or storage fails.
    pub fn open(db: sled::Db, config: LogConfig) -> Result<Self, LogError> {
        Self::with_store(Arc::new(SledStore::new(db)?), config)
    }

    /// A fresh in-memory log (tests; feature `test-utils`).
    ///
    /// # Errors
    /// [`LogError::Config`] for an invalid origin.
    #[cfg(any(test, feature = "test-utils"))]
    pub fn open_memory(config: LogConfig) -> Result<Self, LogError> {
        Self::with_store(Arc::new(MemoryStore::new()), config)
    }

    /// Open over any store.
    ///
    /// # Errors
    /// [`LogError`] if the stored state is inconsistent or storage fails.
    pub fn with_store(store: Arc<dyn LogStore>, config: LogConfig) -> Result<Self, LogError> {
        let health = Arc::new(Mutex::new(StorageHealth::default()));
        let store: Arc<dyn LogStore> = Arc::new(health::Watched {
            inner: store,
            health: Arc::clone(&health),
        });
        let signer = NoteSigner::new(&config.origin, KeyKind::Ed25519, config.signing_key.clone())?;
        let verifier = signer.verifier().clone();
        let state = match store.state()? {
            Some(s) => s,
            None => {
                // A new log publishes the empty tree so there is always a checkpoint.
                let mut cp = Checkpoint::new(&config.origin, 0, EMPTY_ROOT);
                cp.set_status(StatusCommitment {
                    bucket_count: 0,
                    root: EMPTY_ROOT,
                });
                let s = StoredState {
                    size: 0,
                    checkpoint: cp.sign(&signer)?,
                };
                store.commit(&Commit {
                    state: Some(s.clone()),
                    ..Commit::default()
                })?;
                s
            }
        };
        let seq = sequencer::Sequencer::recover(Arc::clone(&store), &state, &verifier, &config)?;
        let shared = Arc::new(Shared {
            store,
            entries: config.entries,
            origin: config.origin.clone(),
            verifier,
            edge: RwLock::new(Arc::new(Edge {
                size: state.size,
                tiles: seq.edges().to_vec(),
            })),
            published: RwLock::new(state),
            poisoned: AtomicBool::new(false),
            health,
            memo: NodeMemo::default(),
            queued: AtomicUsize::new(0),
        });
        let (tx, rx) = mpsc::channel::<Job>();
        let sh = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("cyberlabel-sequencer".into())
            .spawn(move || seq.run(rx, sh, signer, config))
            .map_err(|e| LogError::Corrupt(format!("cannot start sequencer thread: {e}")))?;
        Ok(Self {
            shared,
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Submit an item; the ticket resolves once it is durably appended (or rejected).
    pub fn submit(&self, submission: Submission) -> Ticket {
        let (reply, rx) = oneshot::channel();
        let job = Job { submission, reply };
        match &self.tx {
            Some(tx) if !self.shared.poisoned.load(Ordering::Acquire) => {
                self.shared.queued.fetch_add(1, Ordering::Relaxed);
                if let Err(mpsc::SendError(job)) = tx.send(job) {
                    self.shared.queued.fetch_sub(1, Ordering::Relaxed);
                    let _ = job.reply.send(Err(AppendError::Closed));
                }
            }
            _ => {
                let _ = job.reply.send(Err(AppendError::Closed));
            }
        }
        rx
    }

    /// The storage's health as last seen: a failed write not yet followed by a good one, or
    /// damaged bytes found by a read. While a write fault stands the sequencer retries a small
    /// write every second, so health returns when the disk has room again even with no traffic.
    #[must_use]
    pub fn storage_health(&self) -> StorageHealth {
        match self.shared.health.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Record damage a read found (a missing or inconsistent value) in the health record: the
    /// health check says so from then on.
    fn note<T>(&self, r: Result<T, LogError>) -> Result<T, LogError> {
        let msg = match &r {
            Err(LogError::Corrupt(m)) => Some(m.clone()),
            Err(LogError::Store(e)) if e.is_damaged() => Some(e.to_string()),
            _ => None,
        };
        if let Some(msg) = msg {
            let mut h = match self.shared.health.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            h.damaged.get_or_insert(msg);
        }
        r
    }

    /// Whether the log stopped taking appends for good (a store whose failed writes may have
    /// left changes behind): only reopening the log helps.
    #[must_use]
    pub fn is_stopped(&self) -> bool {
        self.shared.poisoned.load(Ordering::Acquire)
    }

    /// The log's verifier key (`<origin>+<id>+<key>`).
    #[must_use]
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.shared.verifier
    }

    /// The origin.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.shared.origin
    }

    fn published(&self) -> StoredState {
        match self.shared.published.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The latest signed checkpoint (with any cosignatures attached).
    #[must_use]
    pub fn latest_checkpoint(&self) -> String {
        self.published().checkpoint
    }

    /// The latest published tree size.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.published().size
    }

    /// Entry bytes at `index` (published entries only).
    ///
    /// # Errors
    /// [`LogError::NotFound`] beyond the published size.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, LogError> {
        if index >= self.size() {
            return Err(LogError::NotFound);
        }
        self.note(stored_entry(&*self.shared.store, index).and_then(|e| {
            e.ok_or_else(|| LogError::Corrupt(format!("entry {index} is missing from the store")))
        }))
    }

    /// A reader for proofs: the committed right edge from memory, each stored tile at most
    /// once per proof, perfect-subtree hashes through the shared memo.
    fn reader(&self) -> TileReader<'_> {
        let edge = match self.shared.edge.read() {
            Ok(e) => Arc::clone(&e),
            Err(p) => Arc::clone(&p.into_inner()),
        };
        TileReader {
            store: &*self.shared.store,
            edge: Some(edge),
            memo: Some(&self.shared.memo),
            cache: Vec::new(),
            found: Vec::new(),
        }
    }

    /// Inclusion proof for `index` in the tree of `size` leaves (`size` ≤ published size).
    ///
    /// # Errors
    /// [`LogError::Range`] for bad arguments.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        if size > self.size() {
            return Err(LogError::Range(ProofError::IndexOutOfRange { index, size }));
        }
        let mut r = self.reader();
        self.note(merkle::inclusion_proof(index, size, |id| r.node(id, size)))
    }

    /// Consistency proof from `old` to `new` (`new` ≤ published size).
    ///
    /// # Errors
    /// [`LogError::Range`] for bad arguments.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, LogError> {
        let r = self.consistency_proof_unchecked(old, new);
        self.note(r)
    }

    fn consistency_proof_unchecked(&self, old: u64, new: u64) -> Result<Vec<Hash>, LogError> {
        if new > self.size() {
            return Err(LogError::Range(ProofError::SizesOutOfOrder { old, new }));
        }
        let mut r = self.reader();
        merkle::consistency_proof(old, new, |id| r.node(id, new))
    }

    /// Root of the tree of `size` leaves from stored tiles.
    ///
    /// # Errors
    /// [`LogError`].
    pub fn root(&self, size: u64) -> Result<Hash, LogError> {
        if size > self.size() {
            return Err(LogError::NotFound);
        }
        // From the stored tiles alone: the audit compares this with the checkpoint.
        let mut r = TileReader::plain(&*self.shared.store);
        merkle::tree_root(size, |id| r.node(id, size))
    }

    /// C2SP tlog-proof for `index` against the latest checkpoint.
    ///
    /// # Errors
    /// [`LogError::Range`] if `index` is not yet published.
    pub fn tlog_proof(&self, index: u64) -> Result<String, LogError> {
        let st = self.published();
        let mut r = self.reader();
        let path = merkle::inclusion_proof(index, st.size, |id| r.node(id, st.size))?;
        Ok(TlogProof {
            extra: None,
            index,
            path,
            checkpoint: st.checkpoint,
        }
        .to_text())
    }

    /// C2SP tlog-proof for `index` against a given signed checkpoint of this log (e.g. the one
    /// in an [`Appended`], so the proof returned at issuance matches its acknowledgement).
    ///
    /// # Errors
    /// [`LogError::Checkpoint`] if the checkpoint is not this log's; [`LogError::Range`] if
    /// `index` is not in it.
    pub fn tlog_proof_in(&self, index: u64, signed_checkpoint: &str) -> Result<String, LogError> {
        let cp = checkpoint::open(signed_checkpoint.as_bytes(), &self.policy())?.checkpoint;
        let path = self.inclusion_proof(index, cp.size)?;
        Ok(TlogProof {
            extra: None,
            index,
            path,
            checkpoint: signed_checkpoint.to_owned(),
        }
        .to_text())
    }

    /// Status proof (docs/FORMATS.md §4) for `bucket` against the latest checkpoint. (The map
    /// changes in place, so status proofs exist only for the latest checkpoint.)
    ///
    /// # Errors
    /// [`LogError::NotFound`] beyond the last bucket.
    pub fn status_proof(&self, bucket: u64) -> Result<String, LogError> {
        let r = self.status_proof_unchecked(bucket);
        self.note(r)
    }

    fn status_proof_unchecked(&self, bucket: u64) -> Result<String, LogError> {
        // Hold the read lock: the status tree changes in place, the checkpoint must match it.
        let guard = match self.shared.published.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let count = status::bucket_count(guard.size);
        if bucket >= count {
            return Err(LogError::NotFound);
        }
        let store = &*self.shared.store;
        let bytes = store
            .bucket(bucket)?
            .ok_or_else(|| LogError::Corrupt(format!("missing status bucket {bucket}")))?;
        let state = status::Bucket::from_bytes(&bytes)
            .map_err(|e| LogError::Corrupt(format!("status bucket {bucket}: {e}")))?;
        let path = merkle::inclusion_proof(bucket, count, |id| status_node(store, id))?;
        Ok(StatusProof {
            bucket,
            state,
            path,
            checkpoint: guard.checkpoint.clone(),
        }
        .to_text())
    }

    /// Status proof for the bucket of log index `index`.
    ///
    /// # Errors
    /// As [`Log::status_proof`].
    pub fn status_proof_for_index(&self, index: u64) -> Result<String, LogError> {
        self.status_proof(index / BUCKET_LABELS)
    }

    /// Bytes of a tile for serving: hash tiles (full or partial `.p/W`) and entry bundles.
    /// `None` if the published tree does not contain that tile at that width.
    ///
    /// # Errors
    /// [`LogError`] on storage failure or inconsistency.
    pub fn tile(&self, path: &TilePath) -> Result<Option<Vec<u8>>, LogError> {
        let r = self.tile_unchecked(path);
        self.note(r)
    }

    fn tile_unchecked(&self, path: &TilePath) -> Result<Option<Vec<u8>>, LogError> {
        let size = self.size();
        match path.kind {
            TileKind::Hash(level) => {
                if tiles::tile_width(level, path.index, size) < path.width {
                    return Ok(None);
                }
                let Some(t) = self.shared.store.tile(level, path.index)? else {
                    return Err(LogError::Corrupt(format!(
                        "missing tile {}",
                        path.to_path()
                    )));
                };
                let n = usize::from(path.width) * 32;
                t.get(..n)
                    .map(|b| Some(b.to_vec()))
                    .ok_or_else(|| LogError::Corrupt(format!("short tile {}", path.to_path())))
            }
            TileKind::Entries => {
                if tiles::tile_width(0, path.index, size) < path.width {
                    return Ok(None);
                }
                let bundle = self.shared.store.bundle(path.index)?.ok_or_else(|| {
                    LogError::Corrupt(format!("missing bundle {}", path.to_path()))
                })?;
                let len = bundle_prefix_len(&bundle, usize::from(path.width))
                    .ok_or_else(|| LogError::Corrupt(format!("short bundle {}", path.to_path())))?;
                Ok(Some(bundle[..len].to_vec()))
            }
        }
    }

    /// Attach witness cosignature lines (`c2sp.org/tlog-cosignature`) to the latest checkpoint,
    /// if `for_checkpoint` (a signed note or its body) is still the latest; returns the updated
    /// note, which every later read serves. A line by a witness that already cosigned this
    /// checkpoint replaces that witness's older line (re-cosigning refreshes the timestamp; lines
    /// do not accumulate). Each line must be a cosignature/v1 by one of
    /// `witnesses` that verifies over the checkpoint: a bad line by a known witness key would
    /// make verifiers reject the whole note, so none is ever stored.
    ///
    /// # Errors
    /// [`LogError::NotFound`] if a newer checkpoint has been published;
    /// [`LogError::Checkpoint`] if a line is malformed, from an unknown key, or does not verify.
    pub fn add_cosignatures(
        &self,
        for_checkpoint: &str,
        lines: &[String],
        witnesses: &[VerifierKey],
    ) -> Result<String, LogError> {
        let mut guard = match self.shared.published.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let current = cyberlabel_core::note::Note::parse(guard.checkpoint.as_bytes())
            .map_err(|e| LogError::Corrupt(format!("stored checkpoint: {e}")))?;
        if !for_checkpoint.starts_with(&current.text) {
            return Err(LogError::NotFound);
        }
        let cosigners: Vec<VerifierKey> = witnesses
            .iter()
            .filter(|w| w.kind() == KeyKind::CosignatureV1)
            .cloned()
            .collect();
        for line in lines {
            let one = format!("{}\n{line}\n", current.text);
            let parsed = cyberlabel_core::note::Note::parse(one.as_bytes())
                .map_err(CheckpointError::from)?;
            if parsed.signatures.len() != 1 {
                return Err(CheckpointError::Note(NoteError::Malformed).into());
            }
            cyberlabel_core::note::verify(parsed, &cosigners).map_err(CheckpointError::from)?;
        }
        // A witness's new cosignature replaces its older line (fresh timestamp, one line each).
        let updated = checkpoint::replace_signature_lines(&guard.checkpoint, lines)?;
        let st = StoredState {
            size: guard.size,
            checkpoint: updated.clone(),
        };
        self.shared.store.commit(&Commit {
            state: Some(st.clone()),
            ..Commit::default()
        })?;
        *guard = st;
        Ok(updated)
    }

    /// Full O(n) integrity audit of the stored tree: every entry hashes to its level-0 tile
    /// slot, every full tile hashes to its slot in the tile above, and the tiles hash to the
    /// latest checkpoint's root; for cyberlabel entries, every entry is replayed through core's
    /// admission and status rules and the status map must match the checkpoint's status line.
    /// (Opening a log checks only the O(log n) right edge.) Returns the number of entries
    /// checked.
    ///
    /// # Errors
    /// [`LogError::Corrupt`] naming the first mismatch.
    pub fn audit(&self) -> Result<u64, LogError> {
        let st = self.published();
        let store = &*self.shared.store;
        let size = st.size;
        for n in 0..size.div_ceil(256) {
            let want = usize::from(tiles::tile_width(0, n, size));
            let bundle = store
                .bundle(n)?
                .ok_or_else(|| LogError::Corrupt(format!("entry bundle {n} is missing")))?;
            let entries = tiles::parse_entry_bundle(&bundle)?;
            let t = store
                .tile(0, n)?
                .ok_or_else(|| LogError::Corrupt(format!("tile 0/{n} is missing")))?;
            if entries.len() < want {
                return Err(LogError::Corrupt(format!("entry bundle {n} is short")));
            }
            for (k, e) in entries.iter().take(want).enumerate() {
                if t.get(k * 32..k * 32 + 32) != Some(&merkle::leaf_hash(e)[..]) {
                    return Err(LogError::Corrupt(format!(
                        "entry {} does not match its level-0 tile hash",
                        n * 256 + k as u64
                    )));
                }
            }
        }
        for level in 0..7u8 {
            let count = size >> (8 * u32::from(level));
            let full = count / 256;
            if full == 0 {
                break;
            }
            for n in 0..full {
                let t = store
                    .tile(level, n)?
                    .ok_or_else(|| LogError::Corrupt(format!("tile {level}/{n} is missing")))?;
                let h = tiles::hash_in_tile(&t, 0, 256)?;
                let parent = store.tile(level + 1, n / 256)?.ok_or_else(|| {
                    LogError::Corrupt(format!("tile {}/{} is missing", level + 1, n / 256))
                })?;
                let slot = (n % 256) as usize * 32;
                if parent.get(slot..slot + 32) != Some(&h[..]) {
                    return Err(LogError::Corrupt(format!(
                        "tile {level}/{n} does not match its hash in tile {}/{}",
                        level + 1,
                        n / 256
                    )));
                }
            }
        }
        let cp = checkpoint::open(st.checkpoint.as_bytes(), &self.policy())?;
        if !merkle::hashes_equal(&self.root(size)?, &cp.checkpoint.root) {
            return Err(LogError::Corrupt(
                "tiles do not hash to the checkpoint root".into(),
            ));
        }
        if let EntryPolicy::Cyberlabel(anchor) = self.shared.entries {
            // Rule 1 and the status rules, replayed from the first entry as any auditor would.
            let mut replay = Replay::new(anchor);
            for n in 0..size.div_ceil(256) {
                let bundle = store
                    .bundle(n)?
                    .ok_or_else(|| LogError::Corrupt(format!("entry bundle {n} is missing")))?;
                let entries = tiles::parse_entry_bundle(&bundle)?;
                let want = usize::from(tiles::tile_width(0, n, size));
                for (k, e) in entries.iter().take(want).enumerate() {
                    replay.push(e).map_err(|err| {
                        LogError::Corrupt(format!("entry {}: {err}", n * 256 + k as u64))
                    })?;
                }
            }
            if cp.checkpoint.status()? != Some(replay.status().commitment()) {
                return Err(LogError::Corrupt(
                    "the checkpoint's status root does not match the replayed entries".into(),
                ));
            }
        }
        Ok(size)
    }

    /// The trust-list entry in force: its index and its bytes (`None` before the first one).
    ///
    /// # Errors
    /// [`LogError`] on storage failure.
    pub fn trust_list_in_force(&self) -> Result<Option<(u64, Vec<u8>)>, LogError> {
        let size = self.size();
        match self.shared.store.trust_index()? {
            Some(i) if i < size => Ok(Some((i, self.entry(i)?))),
            _ => Ok(None),
        }
    }

    /// A verification policy for this log's own key (log signature only).
    #[must_use]
    pub fn policy(&self) -> Policy {
        Policy::log_only(self.shared.verifier.clone())
    }

    /// Approximate bytes on disk (sled) or 0.
    #[must_use]
    pub fn size_on_disk(&self) -> u64 {
        self.shared.store.size_on_disk()
    }

    /// Stop the sequencer after the queued items and wait for it.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The right edge of the tree as last committed: each level's partial hash tile (empty where
/// the level is full) at `size`. Proofs take the newest tiles from here, not from the store.
#[derive(Debug, Default)]
pub(crate) struct Edge {
    pub(crate) size: u64,
    pub(crate) tiles: Vec<Vec<u8>>,
}

/// Most perfect-subtree hashes remembered for proofs (about 56 bytes each).
const NODE_MEMO_MAX: usize = 1 << 16;

/// Hashes of perfect subtrees computed for proofs. A complete subtree never changes in an
/// append-only log, so its hash is remembered (bounded: cleared when full): consecutive labels'
/// proofs share all but a few nodes, and a node inside a tile is otherwise hashed again from
/// up to 128 leaves for every proof.
#[derive(Debug, Default)]
pub(crate) struct NodeMemo(Mutex<HashMap<NodeId, Hash>>);

impl NodeMemo {
    fn get(&self, id: NodeId) -> Option<Hash> {
        match self.0.lock() {
            Ok(m) => m.get(&id).copied(),
            Err(p) => p.into_inner().get(&id).copied(),
        }
    }
    fn extend(&self, found: &[(NodeId, Hash)]) {
        let mut m = match self.0.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        if m.len() + found.len() > NODE_MEMO_MAX {
            m.clear();
        }
        m.extend(found.iter().copied());
    }
}

/// Reads tiles for one proof: the right edge from memory, other tiles from the store, each at
/// most once (a proof touches about three tiles but up to eight nodes in each); nodes through
/// the shared memo.
pub(crate) struct TileReader<'a> {
    store: &'a dyn LogStore,
    edge: Option<Arc<Edge>>,
    memo: Option<&'a NodeMemo>,
    cache: Vec<((u8, u64), Vec<u8>)>,
    found: Vec<(NodeId, Hash)>,
}

impl<'a> TileReader<'a> {
    /// A reader of the store alone (start-up checks and audits).
    pub(crate) fn plain(store: &'a dyn LogStore) -> Self {
        Self {
            store,
            edge: None,
            memo: None,
            cache: Vec::new(),
            found: Vec::new(),
        }
    }

    pub(crate) fn node(&mut self, id: NodeId, size: u64) -> Result<Hash, LogError> {
        if let Some(h) = self.memo.and_then(|m| m.get(id)) {
            return Ok(h);
        }
        let h = if self.memo.is_some() && !id.level.is_multiple_of(tiles::TILE_HEIGHT) {
            // inside a tile: from its two children, each remembered
            let child = |index| NodeId {
                level: id.level - 1,
                index,
            };
            let l = self.node(child(2 * id.index), size)?;
            let r = self.node(child(2 * id.index + 1), size)?;
            merkle::node_hash(&l, &r)
        } else {
            self.read_in_tile(id, size)?
        };
        if self.memo.is_some() {
            self.found.push((id, h));
        }
        Ok(h)
    }

    fn read_in_tile(&mut self, id: NodeId, size: u64) -> Result<Hash, LogError> {
        let (t, offset, count) = tiles::locate_node(id, size)?;
        let TileKind::Hash(level) = t.kind else {
            return Err(LogError::Corrupt("entry tile for a node".into()));
        };
        if let Some(edge) = &self.edge {
            let at = edge.size >> (8 * u32::from(level));
            if let Some(tile) = edge.tiles.get(usize::from(level))
                && t.index == at / tiles::TILE_WIDTH
                && tile.len() >= (offset + count) * 32
            {
                return Ok(tiles::hash_in_tile(tile, offset, count)?);
            }
        }
        let key = (level, t.index);
        if let Some((_, tile)) = self.cache.iter().find(|(k, _)| *k == key) {
            return Ok(tiles::hash_in_tile(tile, offset, count)?);
        }
        let tile = self
            .store
            .tile(level, t.index)?
            .ok_or_else(|| LogError::Corrupt(format!("missing tile {}", t.to_path())))?;
        let h = tiles::hash_in_tile(&tile, offset, count)?;
        self.cache.push((key, tile));
        Ok(h)
    }
}

impl Drop for TileReader<'_> {
    fn drop(&mut self) {
        if let Some(m) = self.memo
            && !self.found.is_empty()
        {
            m.extend(&self.found);
        }
    }
}

/// Byte length of the first `count` entries of a bundle.
pub(crate) fn bundle_prefix_len(bundle: &[u8], count: usize) -> Option<usize> {
    let mut off = 0usize;
    for _ in 0..count {
        let len = bundle.get(off..off + 2)?;
        off += 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
        if off > bundle.len() {
            return None;
        }
    }
    Some(off)
}

/// Entry `index` from its stored bundle.
pub(crate) fn stored_entry(store: &dyn LogStore, index: u64) -> Result<Option<Vec<u8>>, LogError> {
    let Some(bundle) = store.bundle(index / 256)? else {
        return Ok(None);
    };
    let entries = tiles::parse_entry_bundle(&bundle)?;
    Ok(entries.get((index % 256) as usize).map(|e| e.to_vec()))
}

/// A perfect subtree's hash from stored tiles.
pub(crate) fn node_from_store(
    store: &dyn LogStore,
    id: NodeId,
    size: u64,
) -> Result<Hash, LogError> {
    let (t, offset, count) = tiles::locate_node(id, size)?;
    let TileKind::Hash(level) = t.kind else {
        return Err(LogError::Corrupt("entry tile for a node".into()));
    };
    let tile = store
        .tile(level, t.index)?
        .ok_or_else(|| LogError::Corrupt(format!("missing tile {}", t.to_path())))?;
    Ok(tiles::hash_in_tile(&tile, offset, count)?)
}

pub(crate) fn status_node(store: &dyn LogStore, id: NodeId) -> Result<Hash, LogError> {
    store
        .status_node(id.level, id.index)?
        .ok_or_else(|| LogError::Corrupt(format!("missing status node {}/{}", id.level, id.index)))
}
