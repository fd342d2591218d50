//! The server's view of the transparency log ([`cyberlabel_log::Log`]): every log call the
//! server makes goes through [`Ledger`], which maps the log's errors to what the HTTP layer
//! needs (rejected → 409, closed → 503, storage → 500) and lets shutdown close the log while
//! handlers still hold the shared state.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use cyberlabel_core::merkle::Hash;
use cyberlabel_core::status::{BUCKET_LABELS, EffectError, State, StatusProof};
use cyberlabel_core::tiles::TilePath;
use cyberlabel_log::{AppendError, BuildError, EntryPolicy, Log, LogConfig, LogError, Submission};
use ed25519_dalek::{SigningKey, VerifyingKey};

/// Builds an entry once its index is known (the label's serial is its index).
pub type Builder = Box<dyn Fn(u64) -> Result<Vec<u8>, String> + Send>;

/// Log failures seen by the server.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The log's admission or status rules refused the entry (core's typed reason: a bad
    /// signature, an unauthorised issuer, an illegal status transition, …).
    #[error("{0}")]
    Rejected(EffectError),
    /// The entry could not be built or is too large for the log.
    #[error("{0}")]
    Invalid(String),
    /// Storage failure: nothing of the append was recorded.
    #[error("log storage: {0}")]
    Storage(String),
    /// The log's disk is full: nothing of the append was recorded.
    #[error("log storage is full: {0}")]
    Full(String),
    /// The log is shutting down.
    #[error("log is closed")]
    Closed,
}

impl From<LogError> for LedgerError {
    fn from(e: LogError) -> Self {
        LedgerError::Storage(e.to_string())
    }
}

fn append_error(e: AppendError) -> LedgerError {
    match e {
        AppendError::Closed => LedgerError::Closed,
        AppendError::Storage(m) => LedgerError::Storage(m),
        AppendError::StorageFull(m) => LedgerError::Full(m),
        AppendError::Rejected(e) => LedgerError::Rejected(e),
        other => LedgerError::Invalid(other.to_string()),
    }
}

/// Result of a durable append.
#[derive(Debug, Clone, Copy)]
pub struct Appended {
    /// The entry's index.
    pub index: u64,
    /// Whether this was an idempotent replay (nothing appended).
    pub replay: bool,
    /// Size of the batch this acknowledgement revealed (checkpoint growth since the largest
    /// checkpoint seen before; 0 when that batch was already counted).
    pub batch: u64,
}

/// The log, closable from a shared reference.
pub struct Ledger {
    log: RwLock<Option<Log>>,
    /// Largest checkpoint size seen in an acknowledgement (for the batch-size metric).
    seen: AtomicU64,
    /// Appends submitted to the sequencer and not yet answered (or given up by their caller).
    pending: AtomicU64,
    /// The largest published tree size seen, for subscribers (the witnessing tasks).
    published: tokio::sync::watch::Sender<u64>,
    /// The issuer key this process's builders sign with (see [`Ledger::signing_with`]).
    signer: Option<VerifyingKey>,
}

/// Counts one submitted append as pending until dropped (answered, or its caller went away).
struct PendingGuard<'a>(&'a AtomicU64);

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn size_of(checkpoint: &str) -> u64 {
    cyberlabel_core::checkpoint::size_of(checkpoint).unwrap_or(0)
}

impl Ledger {
    /// Opens the log in `db` and starts its sequencer.
    ///
    /// # Errors
    /// Storage, recovery or key-name errors.
    pub fn open(
        store: std::sync::Arc<cyberlabel_log::RedbStore>,
        origin: &str,
        key: SigningKey,
        anchor: VerifyingKey,
        batch_size: usize,
        max_delay: std::time::Duration,
    ) -> Result<Self, LedgerError> {
        let mut cfg = LogConfig::new(origin, key, EntryPolicy::Cyberlabel(anchor));
        cfg.batch_size = batch_size.max(1);
        cfg.max_delay = max_delay;
        let log = Log::with_store(store, cfg)?;
        let seen = AtomicU64::new(log.size());
        let (published, _) = tokio::sync::watch::channel(log.size());
        Ok(Self {
            log: RwLock::new(Some(log)),
            seen,
            pending: AtomicU64::new(0),
            published,
            signer: None,
        })
    }

    /// Entries built by [`Ledger::append`] are signed in this process with `key` (the
    /// server's issuer key): the log checks the key against its trust list instead of
    /// verifying each fresh signature again. Bytes from outside ([`Ledger::append_entry`]) are
    /// always verified.
    #[must_use]
    pub fn signing_with(mut self, key: VerifyingKey) -> Self {
        self.signer = Some(key);
        self
    }

    /// The trust-list entry the log enforces: its index and signed bytes.
    ///
    /// # Errors
    /// [`LedgerError::Storage`].
    pub fn trust_list_in_force(&self) -> Result<Option<(u64, Vec<u8>)>, LedgerError> {
        self.with(|log| Ok(log.trust_list_in_force()?))
    }

    /// Append a signed trust list and wait until it is durable (start-up, from a plain thread
    /// context: the log's ticket is waited on outside any async runtime).
    ///
    /// # Errors
    /// [`LedgerError`] if the log refuses it (e.g. not newer than the list in force).
    pub fn append_trust_list(&self, signed: Vec<u8>) -> Result<u64, LedgerError> {
        let ticket = self.with(|log| Ok(log.submit(Submission::entry(signed))))?;
        let answer = std::thread::scope(|s| {
            s.spawn(move || ticket.blocking_recv())
                .join()
                .map_err(|_| LedgerError::Closed)
        })?;
        match answer {
            Ok(Ok(a)) => Ok(a.index),
            Ok(Err(e)) => Err(append_error(e)),
            Err(_) => Err(LedgerError::Closed),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Log) -> Result<T, LedgerError>) -> Result<T, LedgerError> {
        let guard = match self.log.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match guard.as_ref() {
            Some(log) => f(log),
            None => Err(LedgerError::Closed),
        }
    }

    fn submit(
        &self,
        build: Builder,
        key: Option<[u8; 32]>,
    ) -> Result<(cyberlabel_log::Ticket, PendingGuard<'_>), LedgerError> {
        let mut s = Submission::build(move |i| build(i).map_err(BuildError));
        if let Some(signer) = self.signer {
            s = s.signed_by(signer);
        }
        if let Some(k) = key {
            s = s.with_idempotency_key(k);
        }
        // The lock guard is released before the ticket is awaited.
        let ticket = self.with(|log| Ok(log.submit(s)))?;
        self.pending.fetch_add(1, Ordering::Relaxed);
        Ok((ticket, PendingGuard(&self.pending)))
    }

    /// Appends submitted to the sequencer and not yet answered.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    async fn wait(
        &self,
        (ticket, _pending): (cyberlabel_log::Ticket, PendingGuard<'_>),
    ) -> Result<Appended, LedgerError> {
        let a = ticket
            .await
            .map_err(|_| LedgerError::Closed)?
            .map_err(append_error)?;
        let size = size_of(&a.checkpoint);
        let prev = self.seen.fetch_max(size, Ordering::Relaxed);
        if size > prev {
            self.published.send_if_modified(|v| {
                let grew = size > *v;
                if grew {
                    *v = size;
                }
                grew
            });
        }
        Ok(Appended {
            index: a.index,
            replay: a.replayed,
            batch: size.saturating_sub(prev),
        })
    }

    /// Appends one entry; resolves once it is durable (or refused).
    ///
    /// # Errors
    /// Rejection, storage, closed.
    pub async fn append(
        &self,
        build: Builder,
        key: Option<[u8; 32]>,
    ) -> Result<Appended, LedgerError> {
        let ticket = self.submit(build, key)?;
        self.wait(ticket).await
    }

    /// Appends signed bytes submitted from outside (verified in full by the log's admission
    /// rules); resolves once durable (or refused).
    ///
    /// # Errors
    /// Rejection, storage, closed.
    pub async fn append_entry(
        &self,
        bytes: Vec<u8>,
        key: Option<[u8; 32]>,
    ) -> Result<Appended, LedgerError> {
        let mut s = Submission::entry(bytes);
        if let Some(k) = key {
            s = s.with_idempotency_key(k);
        }
        let ticket = self.with(|log| Ok(log.submit(s)))?;
        self.pending.fetch_add(1, Ordering::Relaxed);
        self.wait((ticket, PendingGuard(&self.pending))).await
    }

    /// Submits all entries at once (so the sequencer can batch them), then waits for each.
    pub async fn append_batch(
        &self,
        items: Vec<(Builder, Option<[u8; 32]>)>,
    ) -> Vec<Result<Appended, LedgerError>> {
        let tickets: Vec<_> = items.into_iter().map(|(b, k)| self.submit(b, k)).collect();
        let mut out = Vec::with_capacity(tickets.len());
        for t in tickets {
            out.push(match t {
                Ok(t) => self.wait(t).await,
                Err(e) => Err(e),
            });
        }
        out
    }

    /// The latest signed checkpoint.
    ///
    /// # Errors
    /// Closed.
    pub fn checkpoint(&self) -> Result<String, LedgerError> {
        self.with(|l| Ok(l.latest_checkpoint()))
    }

    /// Number of entries.
    ///
    /// # Errors
    /// Closed.
    pub fn size(&self) -> Result<u64, LedgerError> {
        self.with(|l| Ok(l.size()))
    }

    /// The log store's health as last seen, and whether the log stopped for good.
    ///
    /// # Errors
    /// [`LedgerError::Closed`].
    pub fn storage_health(&self) -> Result<(cyberlabel_log::StorageHealth, bool), LedgerError> {
        self.with(|l| Ok((l.storage_health(), l.is_stopped())))
    }

    /// Entry bytes, `None` beyond the tree.
    ///
    /// # Errors
    /// Storage failures.
    pub fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, LedgerError> {
        self.with(|l| match l.entry(index) {
            Ok(b) => Ok(Some(b)),
            Err(LogError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        })
    }

    /// The current (state, reason) of `index`, read from its status bucket.
    ///
    /// # Errors
    /// Storage failures.
    pub fn status(&self, index: u64) -> Result<(State, u8), LedgerError> {
        let Some(text) = self.status_proof(index / BUCKET_LABELS)? else {
            return Ok((State::None, 0));
        };
        let proof =
            StatusProof::parse(text.as_bytes()).map_err(|e| LedgerError::Storage(e.to_string()))?;
        Ok(proof
            .state
            .get(usize::try_from(index % BUCKET_LABELS).unwrap_or(0)))
    }

    /// Inclusion proof of `index` in the tree of `size`.
    ///
    /// # Errors
    /// Out of range, storage.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
        self.with(|l| Ok(l.inclusion_proof(index, size)?))
    }

    /// A tile, if it exists at that width for the current tree.
    ///
    /// # Errors
    /// Storage failures.
    pub fn tile(&self, path: &TilePath) -> Result<Option<Vec<u8>>, LedgerError> {
        self.with(|l| Ok(l.tile(path)?))
    }

    /// The status proof for `bucket` against the latest checkpoint.
    ///
    /// # Errors
    /// Storage failures.
    pub fn status_proof(&self, bucket: u64) -> Result<Option<String>, LedgerError> {
        self.with(|l| match l.status_proof(bucket) {
            Ok(t) => Ok(Some(t)),
            Err(LogError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        })
    }

    /// Notified with the tree size whenever a larger checkpoint has been published.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.published.subscribe()
    }

    /// Consistency proof from the tree of `old` leaves to the tree of `new` leaves.
    ///
    /// # Errors
    /// Out of range, storage, closed.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, LedgerError> {
        self.with(|l| Ok(l.consistency_proof(old, new)?))
    }

    /// Attaches verified witness cosignature lines to the latest checkpoint if `for_checkpoint`
    /// is still the latest (a witness's newer line replaces its older one); `Ok(None)` when a
    /// newer checkpoint has been published meanwhile.
    ///
    /// # Errors
    /// A line that does not verify under `witnesses`, storage, closed.
    pub fn add_cosignatures(
        &self,
        for_checkpoint: &str,
        lines: &[String],
        witnesses: &[cyberlabel_core::note::VerifierKey],
    ) -> Result<Option<String>, LedgerError> {
        self.with(
            |l| match l.add_cosignatures(for_checkpoint, lines, witnesses) {
                Ok(updated) => Ok(Some(updated)),
                Err(LogError::NotFound) => Ok(None),
                Err(e) => Err(e.into()),
            },
        )
    }

    /// Closes the log: the sequencer commits (or rejects) everything queued, then stops.
    /// Later calls fail with [`LedgerError::Closed`].
    pub async fn close(&self) {
        let log = match self.log.write() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        if let Some(log) = log {
            // Joining the sequencer thread blocks: keep it off the async workers.
            let _ = tokio::task::spawn_blocking(move || log.close()).await;
        }
    }
}
