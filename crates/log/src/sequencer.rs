//! The single sequencer: batches submissions, has them built, admission-checked and
//! leaf-hashed on the worker pool, validates status effects, appends, updates tiles and the
//! status map, signs one checkpoint, commits durably, then acknowledges. With many jobs
//! waiting, a batch's commit runs while the workers prepare the next (see the crate README).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use cyberlabel_core::admission::{self, Admitted};
use cyberlabel_core::checkpoint::{self, Checkpoint, Policy, StatusCommitment};
use cyberlabel_core::merkle::{self, Hash, NodeId};
use cyberlabel_core::note::{NoteSigner, VerifierKey};
use cyberlabel_core::status::{self, BUCKET_LABELS, Bucket, State, StatusContext, TargetInfo};
use cyberlabel_core::tiles::{self, FULL_TILE_BYTES, MAX_ENTRY_BYTES, TILE_WIDTH, TileKind};
use cyberlabel_core::trust::TrustList;
use tokio::sync::oneshot;

use crate::store::{Commit, LogStore, StoreError, StoredState};
use crate::{
    AppendError, Appended, EntryPolicy, Job, LogConfig, LogError, Payload, Shared, Submission,
    node_from_store, status_node,
};

/// Most tile levels (8 × 8 = 64 tree levels).
const MAX_LEVELS: usize = 8;

pub(crate) struct Sequencer {
    store: Arc<dyn LogStore>,
    size: u64,
    /// per tile level: the right-edge partial tile's bytes (empty when the level is full)
    edges: Vec<Vec<u8>>,
    /// the right-edge partial entry bundle (`size % 256` entries)
    bundle_edge: Vec<u8>,
    policy: EntryPolicy,
    /// the trust list in force (cyberlabel entries)
    trust: Option<Arc<TrustList>>,
    /// how many trust lists this sequencer has put in force (a batch prepared under another
    /// list is prepared again)
    trust_epoch: u64,
}

type Reply = oneshot::Sender<Result<Appended, AppendError>>;

enum Pending {
    Accepted(usize),
    Alias(usize),
}

struct Batch {
    base: u64,
    accepted: Vec<(Vec<u8>, Hash)>,
    buckets: HashMap<u64, Bucket>,
    dirty_buckets: BTreeSet<u64>,
    idem: HashMap<[u8; 32], usize>,
    replies: Vec<(Reply, Pending)>,
    /// a trust list appended in this batch: (index, list), in force from the next entry
    trust: Option<(u64, Arc<TrustList>)>,
}

fn encode_idem(index: u64, leaf: &Hash, checkpoint: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(40 + checkpoint.len());
    v.extend_from_slice(&index.to_be_bytes());
    v.extend_from_slice(leaf);
    v.extend_from_slice(checkpoint.as_bytes());
    v
}

fn decode_idem(v: &[u8]) -> Option<Appended> {
    if v.len() < 40 {
        return None;
    }
    let index = u64::from_be_bytes(v[..8].try_into().ok()?);
    let leaf_hash: Hash = v[8..40].try_into().ok()?;
    let checkpoint = String::from_utf8(v[40..].to_vec()).ok()?;
    Some(Appended {
        index,
        leaf_hash,
        checkpoint,
        replayed: true,
    })
}

fn storage(e: impl core::fmt::Display) -> AppendError {
    AppendError::Storage(e.to_string())
}

fn store_failed(e: &StoreError) -> AppendError {
    if e.is_full() {
        AppendError::StorageFull(e.to_string())
    } else {
        storage(e)
    }
}

impl Sequencer {
    /// Check the stored state against the last checkpoint (O(log n) reads) and load the right
    /// edge of the tiles.
    pub(crate) fn recover(
        store: Arc<dyn LogStore>,
        state: &StoredState,
        verifier: &VerifierKey,
        config: &LogConfig,
    ) -> Result<Self, LogError> {
        let cp = checkpoint::open(
            state.checkpoint.as_bytes(),
            &Policy::log_only(verifier.clone()),
        )
        .map_err(|e| {
            LogError::Corrupt(format!(
                "stored checkpoint does not verify with the configured key {verifier}: {e}"
            ))
        })?
        .checkpoint;
        if cp.size != state.size {
            return Err(LogError::Corrupt(format!(
                "stored size {} differs from checkpoint size {}",
                state.size, cp.size
            )));
        }
        let size = state.size;
        let mut edges = Vec::new();
        for level in 0..MAX_LEVELS {
            let count = size >> (8 * level);
            let w = (count % TILE_WIDTH) as usize;
            if w == 0 {
                edges.push(Vec::new());
                continue;
            }
            let t = store
                .tile(level as u8, count / TILE_WIDTH)?
                .ok_or_else(|| LogError::Corrupt(format!("missing edge tile at level {level}")))?;
            let bytes = t.get(..w * 32).ok_or_else(|| {
                LogError::Corrupt(format!("edge tile at level {level} is too short"))
            })?;
            edges.push(bytes.to_vec());
        }
        let root = merkle::tree_root(size, |id| node_from_store(&*store, id, size))?;
        if !merkle::hashes_equal(&root, &cp.root) {
            return Err(LogError::Corrupt(format!(
                "stored tiles hash to {} but the last checkpoint (size {size}) says {}",
                hex(&root),
                hex(&cp.root)
            )));
        }
        let commitment = cp
            .status()?
            .ok_or_else(|| LogError::Corrupt("last checkpoint has no status line".into()))?;
        let count = status::bucket_count(size);
        if commitment.bucket_count != count {
            return Err(LogError::Corrupt("status bucket count mismatch".into()));
        }
        let sroot = merkle::tree_root(count, |id| status_node(&*store, id))?;
        if !merkle::hashes_equal(&sroot, &commitment.root) {
            return Err(LogError::Corrupt(
                "stored status map does not match the last checkpoint".into(),
            ));
        }
        // The right-edge entry bundle: its entries must be exactly those of the level-0 edge.
        let w = (size % TILE_WIDTH) as usize;
        let mut bundle_edge = Vec::new();
        if w > 0 {
            let bundle = store
                .bundle(size / TILE_WIDTH)?
                .ok_or_else(|| LogError::Corrupt("right-edge entry bundle is missing".into()))?;
            let len = crate::bundle_prefix_len(&bundle, w)
                .ok_or_else(|| LogError::Corrupt("right-edge entry bundle is short".into()))?;
            bundle_edge = bundle[..len].to_vec();
            let entries = tiles::parse_entry_bundle(&bundle_edge)?;
            for (k, e) in entries.iter().enumerate() {
                if edges[0].get(k * 32..k * 32 + 32) != Some(&merkle::leaf_hash(e)[..]) {
                    return Err(LogError::Corrupt(format!(
                        "entry {} does not match its tile hash",
                        size - w as u64 + k as u64
                    )));
                }
            }
        } else if size > 0 && store.bundle(size / TILE_WIDTH - 1)?.is_none() {
            return Err(LogError::Corrupt("last entry bundle is missing".into()));
        }
        let trust = match (config.entries, store.trust_index()?) {
            (EntryPolicy::Cyberlabel(anchor), Some(i)) if i < size => {
                let entry = crate::stored_entry(&*store, i)?
                    .ok_or_else(|| LogError::Corrupt(format!("trust-list entry {i} is missing")))?;
                Some(TrustList::from_signed_any_time(&entry, &anchor).map_err(|e| {
                    LogError::Corrupt(format!(
                        "the trust list in force (entry {i}) does not verify under the configured trust anchor: {e}"
                    ))
                })?)
            }
            (_, Some(i)) if i >= size => {
                return Err(LogError::Corrupt(format!(
                    "trust-list index {i} is beyond the tree size {size}"
                )));
            }
            _ => None,
        };
        Ok(Self {
            store,
            size,
            edges,
            bundle_edge,
            policy: config.entries,
            trust: trust.map(Arc::new),
            trust_epoch: 0,
        })
    }

    /// The right edge's partial tiles, per level.
    pub(crate) fn edges(&self) -> &[Vec<u8>] {
        &self.edges
    }

    pub(crate) fn run(
        mut self,
        rx: mpsc::Receiver<Job>,
        shared: Arc<Shared>,
        signer: NoteSigner,
        config: LogConfig,
    ) {
        let batch_size = config.batch_size.max(1);
        let pool = worker_pool();
        // The batch sequenced and built but not yet committed: its store commit (mostly the
        // wait for the disk) runs while the workers sign the next batch.
        let mut inflight: Option<InFlight> = None;
        loop {
            let jobs: Vec<Job> = if inflight.is_some() {
                // Whatever is queued now joins the next batch; no waiting while a commit is due.
                rx.try_iter().take(batch_size).collect()
            } else {
                match self.collect(&rx, &shared, &config, batch_size) {
                    Some(jobs) => jobs,
                    None => break,
                }
            };
            shared.queued.fetch_sub(jobs.len(), Ordering::Relaxed);
            if shared.poisoned.load(Ordering::Acquire) {
                for j in jobs {
                    let _ = j.reply.send(Err(AppendError::Closed));
                }
                if let Some(f) = inflight.take() {
                    self.finish(f, &shared);
                }
                continue;
            }
            let (mut next, replies): (Vec<Submission>, Vec<Reply>) = self
                .answer_replays(jobs)
                .into_iter()
                .map(|j| (j.submission, j.reply))
                .unzip();
            // Prepared at the indices and under the trust list the in-flight batch leaves
            // behind; should that batch fail, `sequence` prepares again what no longer fits.
            let spec = match &inflight {
                Some(f) => Speculation {
                    base: f.new_size,
                    trust: f
                        .trust
                        .as_ref()
                        .map(|(_, t)| Arc::clone(t))
                        .or_else(|| self.trust.clone()),
                    epoch: self.trust_epoch + u64::from(f.trust.is_some()),
                },
                None => Speculation {
                    base: self.size,
                    trust: self.trust.clone(),
                    epoch: self.trust_epoch,
                },
            };
            let mut prepared = Vec::new();
            let mut committed = None;
            match &pool {
                Some(pool) => pool.in_place_scope(|scope| {
                    if !next.is_empty() {
                        let (subs, out, policy) = (&mut next, &mut prepared, self.policy);
                        let spec = &spec;
                        scope.spawn(move |_| *out = prepare_all(subs, spec, policy, true));
                    }
                    if let Some(f) = inflight.take() {
                        committed = self.finish(f, &shared);
                    }
                }),
                None => {
                    if let Some(f) = inflight.take() {
                        committed = self.finish(f, &shared);
                    }
                    prepared = prepare_all(&mut next, &spec, self.policy, false);
                }
            }
            if next.is_empty() {
                continue;
            }
            if shared.poisoned.load(Ordering::Acquire) {
                for reply in replies {
                    let _ = reply.send(Err(AppendError::Closed));
                }
                continue;
            }
            let ready = Ready {
                subs: next,
                replies,
                prepared,
            };
            let built = self.sequence(
                ready,
                committed.as_ref(),
                pool.as_ref(),
                &signer,
                &config.origin,
            );
            // Overlap this batch's commit with preparing the next only when the next is large:
            // a small one prepares in a fraction of an fsync, and waiting a whole commit for it
            // would add that commit to every label's latency.
            if let Some(b) = built {
                if pool.is_some() && shared.queued.load(Ordering::Relaxed) >= PIPELINE_MIN_QUEUED {
                    inflight = Some(b);
                } else {
                    self.finish(b, &shared);
                }
            }
        }
        if let Some(f) = inflight.take() {
            self.finish(f, &shared);
        }
    }

    /// The next batch: the jobs already queued (those that came in during the last commit),
    /// without waiting; or, on an idle log, the first job to come and whatever comes within
    /// `max_delay` after it. `None` when the log is closed.
    fn collect(
        &self,
        rx: &mpsc::Receiver<Job>,
        shared: &Shared,
        config: &LogConfig,
        batch_size: usize,
    ) -> Option<Vec<Job>> {
        if let Ok(first) = rx.try_recv() {
            let mut jobs = vec![first];
            jobs.extend(rx.try_iter().take(batch_size - 1));
            return Some(jobs);
        }
        let first = loop {
            if self.write_fault(shared) {
                // While the last write failed, try a small write every second, so the log (and
                // its health check) recovers when the disk has room again even with no traffic.
                match rx.recv_timeout(Duration::from_secs(1)) {
                    Ok(j) => break j,
                    Err(mpsc::RecvTimeoutError::Timeout) => self.probe(shared),
                    Err(mpsc::RecvTimeoutError::Disconnected) => return None,
                }
            } else {
                break rx.recv().ok()?;
            }
        };
        let mut jobs = vec![first];
        let deadline = Instant::now() + config.max_delay;
        while jobs.len() < batch_size {
            let now = Instant::now();
            let next = if now >= deadline {
                rx.try_recv().ok()
            } else {
                rx.recv_timeout(deadline - now).ok()
            };
            match next {
                Some(j) => jobs.push(j),
                None => break,
            }
        }
        Some(jobs)
    }

    /// Answers the jobs whose idempotency key a committed batch already recorded; returns the
    /// others. (A key of the batch still in flight is found after its commit, in `sequence`.)
    fn answer_replays(&self, jobs: Vec<Job>) -> Vec<Job> {
        let mut fresh = Vec::with_capacity(jobs.len());
        for job in jobs {
            if let Some(k) = job.submission.idempotency_key {
                match self.store.idempotency(&k) {
                    Ok(Some(rec)) => {
                        let r =
                            decode_idem(&rec).ok_or_else(|| storage("corrupt idempotency record"));
                        let _ = job.reply.send(r);
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let _ = job.reply.send(Err(storage(e)));
                        continue;
                    }
                }
            }
            fresh.push(job);
        }
        fresh
    }

    /// The sequential pass over a prepared batch (indices, replays of the batch committed just
    /// before, status rules), then its tiles, status map and signed checkpoint: everything but
    /// the store commit. `None` when nothing of the batch is to be appended.
    fn sequence(
        &mut self,
        ready: Ready,
        committed: Option<&HashMap<[u8; 32], Appended>>,
        pool: Option<&rayon::ThreadPool>,
        signer: &NoteSigner,
        origin: &str,
    ) -> Option<InFlight> {
        let Ready {
            subs: mut jobs,
            replies,
            mut prepared,
        } = ready;
        let mut b = Batch {
            base: self.size,
            accepted: Vec::new(),
            buckets: HashMap::new(),
            dirty_buckets: BTreeSet::new(),
            idem: HashMap::new(),
            replies: Vec::new(),
            trust: None,
        };
        // Once per batch, the first job found at another index than it was prepared for (an
        // earlier refusal, a replay, or a failed batch before) has every job after it prepared
        // again on all cores; a later one is prepared again alone.
        let mut redone = false;
        for (k, reply) in replies.into_iter().enumerate() {
            let key = jobs[k].idempotency_key;
            if let Some(k) = key {
                if let Some(&pos) = b.idem.get(&k) {
                    b.replies.push((reply, Pending::Alias(pos)));
                    continue;
                }
                if let Some(a) = committed.and_then(|c| c.get(&k)) {
                    let _ = reply.send(Ok(a.clone()));
                    continue;
                }
            }
            let index = b.base + b.accepted.len() as u64;
            let valid = prepared[k].index == index
                && prepared[k].epoch == self.trust_epoch
                && b.trust.is_none();
            if prepared[k].bytes.is_ok() && !valid {
                // An earlier refusal or alias moved this job's index, or an entry of this batch
                // (or of a failed one before it) changed the trust list: prepare it again at
                // its real index. (Entries that could not be built or are too large are
                // refused whatever their index.)
                let in_force = b
                    .trust
                    .as_ref()
                    .map(|(_, t)| Arc::clone(t))
                    .or_else(|| self.trust.clone());
                let spec = Speculation {
                    base: index,
                    trust: in_force,
                    epoch: self.trust_epoch,
                };
                if !redone && b.trust.is_none() && pool.is_some() {
                    redone = true;
                    restore_entries(&mut jobs[k..], &mut prepared[k..]);
                    let again = match pool {
                        Some(pool) => {
                            pool.install(|| prepare_all(&mut jobs[k..], &spec, self.policy, true))
                        }
                        None => Vec::new(),
                    };
                    for (slot, p) in prepared[k..].iter_mut().zip(again) {
                        if slot.bytes.is_ok() {
                            *slot = p;
                        }
                    }
                } else {
                    restore_entries(&mut jobs[k..=k], &mut prepared[k..=k]);
                    prepared[k] = prepare(&mut jobs[k], index, &spec, self.policy);
                }
            }
            let prep = std::mem::replace(&mut prepared[k], Prepared::placeholder());
            let bytes = match prep.bytes {
                Ok(bytes) => bytes,
                Err(e) => {
                    let _ = reply.send(Err(e));
                    continue;
                }
            };
            if let Some(admitted) = prep.admitted {
                let decoded = match admitted {
                    Ok(Admitted::Record(decoded)) => Some(decoded),
                    Ok(Admitted::TrustList(list)) => {
                        b.trust = Some((index, Arc::new(*list)));
                        None
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                        continue;
                    }
                };
                let mut ctx = Ctx {
                    seq: self,
                    b: &mut b,
                };
                let changes = match &decoded {
                    Some(d) => status::effects_of(&mut ctx, index, d),
                    None => Ok(Vec::new()),
                }
                .and_then(|changes| {
                    // load first, then change: a failed load leaves the overlay untouched
                    for (i, _, _) in &changes {
                        self.load_bucket(&mut b, i / BUCKET_LABELS)?;
                    }
                    Ok(changes)
                });
                match changes {
                    Ok(changes) => {
                        for (i, st, reason) in changes {
                            let bucket = i / BUCKET_LABELS;
                            if let Some(bk) = b.buckets.get_mut(&bucket) {
                                bk.set((i % BUCKET_LABELS) as usize, st, reason);
                                b.dirty_buckets.insert(bucket);
                            }
                        }
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        continue;
                    }
                }
            }
            let pos = b.accepted.len();
            b.accepted.push((bytes, prep.leaf));
            if let Some(k) = key {
                b.idem.insert(k, pos);
            }
            b.replies.push((reply, Pending::Accepted(pos)));
        }
        if b.accepted.is_empty() {
            return None;
        }
        match self.build(&mut b, signer, origin) {
            Ok(f) => Some(f),
            Err(e) => {
                // Nothing was written and the state was not advanced.
                tracing::error!(error = %e, "building the batch failed; nothing of it was recorded");
                for (reply, _) in b.replies {
                    let _ = reply.send(Err(e.clone()));
                }
                None
            }
        }
    }

    /// Commits a built batch durably, then advances the state and answers its jobs. Returns the
    /// batch's idempotency keys with their answers when it committed.
    fn finish(&mut self, f: InFlight, shared: &Shared) -> Option<HashMap<[u8; 32], Appended>> {
        let r = {
            let mut guard = match shared.published.write() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let r = self.store.commit(&f.commit);
            if r.is_ok() {
                *guard = StoredState {
                    size: f.new_size,
                    checkpoint: f.checkpoint.clone(),
                };
                let edge = Arc::new(crate::Edge {
                    size: f.new_size,
                    tiles: f.edges.clone(),
                });
                match shared.edge.write() {
                    Ok(mut e) => *e = edge,
                    Err(p) => *p.into_inner() = edge,
                }
            }
            r
        };
        match r {
            Ok(()) => {
                self.size = f.new_size;
                self.edges = f.edges;
                self.bundle_edge = f.bundle_edge;
                if let Some((_, list)) = f.trust {
                    self.trust = Some(list);
                    self.trust_epoch += 1;
                }
                let answer = |pos: usize, replayed: bool| Appended {
                    index: f.base + pos as u64,
                    leaf_hash: f.leaves[pos],
                    checkpoint: f.checkpoint.clone(),
                    replayed,
                };
                let keys = f
                    .idem
                    .iter()
                    .map(|(k, &pos)| (*k, answer(pos, true)))
                    .collect();
                for (reply, p) in f.replies {
                    let _ = reply.send(Ok(match p {
                        Pending::Accepted(pos) => answer(pos, false),
                        Pending::Alias(pos) => answer(pos, true),
                    }));
                }
                Some(keys)
            }
            Err(e) => {
                let e = store_failed(&e);
                if self.store.failed_commit_changes_nothing() {
                    // Nothing of the batch is stored or visible, and this sequencer's state was
                    // not advanced: answer the error and go on with the next batch.
                    tracing::error!(error = %e, "log commit failed; nothing of the batch was recorded");
                } else {
                    // Durability of this batch is unknown: stop accepting appends. Reopening
                    // the log re-checks the stored state against the last durable checkpoint.
                    shared.poisoned.store(true, Ordering::Release);
                    tracing::error!(error = %e, "log commit failed; the log stops accepting appends");
                }
                for (reply, _) in f.replies {
                    let _ = reply.send(Err(e.clone()));
                }
                None
            }
        }
    }

    fn write_fault(&self, shared: &Shared) -> bool {
        !shared.poisoned.load(Ordering::Acquire)
            && self.store.failed_commit_changes_nothing()
            && match shared.health.lock() {
                Ok(h) => h.write_fault.is_some(),
                Err(p) => p.into_inner().write_fault.is_some(),
            }
    }

    /// Rewrite the published state unchanged: a write that succeeds only when the store can
    /// take writes again (the health record clears on success).
    fn probe(&self, shared: &Shared) {
        // Room for a real commit first: the state alone may fit in space the store already has.
        if let Err(e) = self.store.has_room() {
            tracing::debug!(error = %e, "log storage still has no room");
            return;
        }
        // Held across the write, as every writer of the state does, so a cosignature attached
        // meanwhile is not overwritten by the older state.
        let guard = match shared.published.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let commit = Commit {
            state: Some(guard.clone()),
            ..Commit::default()
        };
        let r = self.store.commit(&commit);
        drop(guard);
        match r {
            Ok(()) => tracing::info!("log storage takes writes again"),
            Err(e) => tracing::debug!(error = %e, "log storage still failing"),
        }
    }

    fn load_bucket(&self, b: &mut Batch, bucket: u64) -> Result<(), AppendError> {
        if b.buckets.contains_key(&bucket) {
            return Ok(());
        }
        let bk = if bucket < status::bucket_count(b.base) {
            match self.store.bucket(bucket).map_err(storage)? {
                Some(bytes) => Bucket::from_bytes(&bytes).map_err(storage)?,
                None => return Err(storage(format!("missing status bucket {bucket}"))),
            }
        } else {
            Bucket::default()
        };
        b.buckets.insert(bucket, bk);
        Ok(())
    }

    fn state_of(&self, b: &mut Batch, index: u64) -> Result<State, AppendError> {
        let bucket = index / BUCKET_LABELS;
        self.load_bucket(b, bucket)?;
        Ok(b.buckets
            .get(&bucket)
            .map_or(State::None, |bk| bk.get((index % BUCKET_LABELS) as usize).0))
    }

    fn target_info(&self, b: &Batch, index: u64) -> Result<Option<TargetInfo>, AppendError> {
        if index >= b.base {
            let pos = (index - b.base) as usize;
            return Ok(b.accepted.get(pos).map(|(e, _)| TargetInfo::of(e)));
        }
        Ok(crate::stored_entry(&*self.store, index)
            .map_err(storage)?
            .map(|e| TargetInfo::of(&e)))
    }

    /// Tiles, status map, the signed checkpoint and the store commit that records them, with
    /// the state that follows once it is committed. Writes nothing.
    fn build(
        &self,
        b: &mut Batch,
        signer: &NoteSigner,
        origin: &str,
    ) -> Result<InFlight, AppendError> {
        let new_size = b.base + b.accepted.len() as u64;
        // --- hash tiles ---
        let mut edges = self.edges.clone();
        let mut full: BTreeMap<(u8, u64), Vec<u8>> = BTreeMap::new();
        let mut touched: BTreeSet<u8> = BTreeSet::new();
        let mut counts: Vec<u64> = (0..MAX_LEVELS).map(|l| b.base >> (8 * l)).collect();
        for (_, leaf) in &b.accepted {
            let mut h = *leaf;
            let mut level = 0usize;
            loop {
                if level >= MAX_LEVELS {
                    return Err(storage("tree too large"));
                }
                edges[level].extend_from_slice(&h);
                touched.insert(level as u8);
                counts[level] += 1;
                if edges[level].len() < FULL_TILE_BYTES {
                    break;
                }
                let tile = std::mem::take(&mut edges[level]);
                h = tiles::hash_in_tile(&tile, 0, TILE_WIDTH as usize).map_err(storage)?;
                full.insert((level as u8, counts[level] / TILE_WIDTH - 1), tile);
                level += 1;
            }
        }
        let mut tile_writes: Vec<(u8, u64, Vec<u8>)> =
            full.iter().map(|((l, i), t)| (*l, *i, t.clone())).collect();
        for &l in &touched {
            let e = &edges[l as usize];
            if !e.is_empty() {
                tile_writes.push((l, counts[l as usize] / TILE_WIDTH, e.clone()));
            }
        }
        let store = &*self.store;
        let hash_in = |level: u8, index: u64, off: usize, cnt: usize| -> Result<Hash, LogError> {
            let count = counts[level as usize];
            if index == count / TILE_WIDTH && !count.is_multiple_of(TILE_WIDTH) {
                return Ok(tiles::hash_in_tile(&edges[level as usize], off, cnt)?);
            }
            if let Some(t) = full.get(&(level, index)) {
                return Ok(tiles::hash_in_tile(t, off, cnt)?);
            }
            let t = store
                .tile(level, index)?
                .ok_or_else(|| LogError::Corrupt(format!("missing tile {level}/{index}")))?;
            Ok(tiles::hash_in_tile(&t, off, cnt)?)
        };
        let root = merkle::tree_root(new_size, |id: NodeId| -> Result<Hash, LogError> {
            let (t, off, cnt) = tiles::locate_node(id, new_size)?;
            let TileKind::Hash(level) = t.kind else {
                return Err(LogError::Corrupt("entry tile".into()));
            };
            hash_in(level, t.index, off, cnt)
        })
        .map_err(storage)?;

        // --- entry bundles ---
        let mut bundle_edge = self.bundle_edge.clone();
        let mut bundles: Vec<(u64, Vec<u8>)> = Vec::new();
        for (k, (e, _)) in b.accepted.iter().enumerate() {
            let index = b.base + k as u64;
            tiles::push_bundle_entry(&mut bundle_edge, e).map_err(storage)?;
            if (index + 1).is_multiple_of(TILE_WIDTH) {
                bundles.push((index / TILE_WIDTH, std::mem::take(&mut bundle_edge)));
            }
        }
        if !bundle_edge.is_empty() {
            bundles.push((new_size / TILE_WIDTH, bundle_edge.clone()));
        }

        // --- status map ---
        let old_count = status::bucket_count(b.base);
        let new_count = status::bucket_count(new_size);
        for bucket in old_count..new_count {
            b.buckets.entry(bucket).or_default();
            b.dirty_buckets.insert(bucket);
        }
        let mut nodes: HashMap<(u8, u64), Hash> = HashMap::new();
        let mut dirty: BTreeSet<u64> = b.dirty_buckets.clone();
        for &bk in &dirty {
            let bucket = b
                .buckets
                .get(&bk)
                .ok_or_else(|| storage("dirty bucket not loaded"))?;
            nodes.insert((0, bk), bucket.leaf_hash());
        }
        let get = |nodes: &HashMap<(u8, u64), Hash>, l: u8, i: u64| -> Result<Hash, AppendError> {
            if let Some(h) = nodes.get(&(l, i)) {
                return Ok(*h);
            }
            status_node(store, NodeId { level: l, index: i }).map_err(storage)
        };
        for level in 1..64u8 {
            let next: BTreeSet<u64> = dirty
                .iter()
                .map(|i| i >> 1)
                .filter(|p| {
                    (p + 1)
                        .checked_shl(u32::from(level))
                        .is_some_and(|e| e <= new_count)
                })
                .collect();
            if next.is_empty() {
                break;
            }
            for &p in &next {
                let l = get(&nodes, level - 1, 2 * p)?;
                let r = get(&nodes, level - 1, 2 * p + 1)?;
                nodes.insert((level, p), merkle::node_hash(&l, &r));
            }
            dirty = next;
        }
        let mut range = Vec::new();
        for id in merkle::range_nodes(0, new_count) {
            range.push(get(&nodes, id.level, id.index)?);
        }
        let status_root = merkle::fold_range(&range);

        // --- checkpoint ---
        let mut cp = Checkpoint::new(origin, new_size, root);
        cp.set_status(StatusCommitment {
            bucket_count: new_count,
            root: status_root,
        });
        let signed = cp.sign(signer).map_err(storage)?;

        let commit = Commit {
            tiles: tile_writes,
            bundles,
            buckets: b
                .dirty_buckets
                .iter()
                .filter_map(|k| b.buckets.get(k).map(|bk| (*k, bk.0.to_vec())))
                .collect(),
            status_nodes: nodes.iter().map(|((l, i), h)| (*l, *i, *h)).collect(),
            idempotency: b
                .idem
                .iter()
                .map(|(k, &pos)| {
                    (
                        *k,
                        encode_idem(b.base + pos as u64, &b.accepted[pos].1, &signed),
                    )
                })
                .collect(),
            state: Some(StoredState {
                size: new_size,
                checkpoint: signed.clone(),
            }),
            trust_index: b.trust.as_ref().map(|(i, _)| *i),
        };
        Ok(InFlight {
            commit,
            base: b.base,
            new_size,
            leaves: b.accepted.iter().map(|(_, leaf)| *leaf).collect(),
            replies: std::mem::take(&mut b.replies),
            idem: std::mem::take(&mut b.idem),
            checkpoint: signed,
            edges,
            bundle_edge,
            trust: b.trust.take(),
        })
    }
}

/// The sequencer's view for the shared status rules: stored state plus this batch's overlay.
struct Ctx<'a> {
    seq: &'a Sequencer,
    b: &'a mut Batch,
}

impl StatusContext for Ctx<'_> {
    type Error = AppendError;
    fn state(&mut self, index: u64) -> Result<State, AppendError> {
        self.seq.state_of(self.b, index)
    }
    fn target(&mut self, index: u64) -> Result<Option<TargetInfo>, AppendError> {
        self.seq.target_info(self.b, index)
    }
}

/// A job built and checked at a tentative index, ahead of the sequential pass.
struct Prepared {
    index: u64,
    /// the trust-list epoch it was checked under
    epoch: u64,
    /// the entry bytes (built, or as submitted), size-checked
    bytes: Result<Vec<u8>, AppendError>,
    /// their RFC 6962 leaf hash (when built)
    leaf: Hash,
    /// the admission check (cyberlabel entries only)
    admitted: Option<Result<Admitted, cyberlabel_core::status::EffectError>>,
}

impl Prepared {
    /// What a preparation that panicked leaves: the job is refused, never accepted.
    fn placeholder() -> Self {
        Prepared {
            index: u64::MAX,
            epoch: u64::MAX,
            bytes: Err(AppendError::Build(crate::BuildError(
                "entry preparation panicked".into(),
            ))),
            leaf: [0; 32],
            admitted: None,
        }
    }
}

/// Where a batch is prepared: its first index and the trust list in force there (with its
/// epoch, which counts the lists the sequencer has put in force).
struct Speculation {
    base: u64,
    trust: Option<Arc<TrustList>>,
    epoch: u64,
}

/// A batch prepared, in submission order.
struct Ready {
    subs: Vec<Submission>,
    replies: Vec<Reply>,
    prepared: Vec<Prepared>,
}

/// A batch sequenced and built, waiting for its store commit.
struct InFlight {
    commit: Commit,
    base: u64,
    new_size: u64,
    leaves: Vec<Hash>,
    replies: Vec<(Reply, Pending)>,
    idem: HashMap<[u8; 32], usize>,
    checkpoint: String,
    /// the state once committed
    edges: Vec<Vec<u8>>,
    bundle_edge: Vec<u8>,
    trust: Option<(u64, Arc<TrustList>)>,
}

/// Jobs waiting for which the next batch is prepared while the one before it is committed.
const PIPELINE_MIN_QUEUED: usize = 64;

/// Fewer jobs than this are prepared one after the other: splitting them across the workers
/// costs more than signing a handful of labels.
const PARALLEL_MIN_JOBS: usize = 16;

/// The sequencer's signing workers, one per core (`None` if they cannot be started: then
/// batches are prepared on the sequencer thread).
fn worker_pool() -> Option<rayon::ThreadPool> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("cyberlabel-sign-{i}"))
        // `prepare_all` contains panics; one escaping anyway must not abort the process.
        .panic_handler(|_| tracing::error!("a log worker panicked"))
        .build()
        .map_err(
            |e| tracing::warn!(error = %e, "no log workers: batches are prepared on one thread"),
        )
        .ok()
}

/// Gives entries taken out of `Payload::Entry` by an earlier preparation back to their
/// submissions, so they can be prepared again.
fn restore_entries(subs: &mut [Submission], prepared: &mut [Prepared]) {
    for (sub, p) in subs.iter_mut().zip(prepared) {
        if let (Payload::Entry(slot), Ok(bytes)) = (&mut sub.payload, &mut p.bytes) {
            *slot = std::mem::take(bytes);
        }
    }
}

/// Prepares every job at `spec.base + position`, on all the current pool's cores when
/// `parallel` (call it inside the pool) and the batch is large. Entry bytes are moved out of
/// `Payload::Entry` into the result. A panic in core's checks refuses the jobs it touched.
fn prepare_all(
    subs: &mut [Submission],
    spec: &Speculation,
    policy: EntryPolicy,
    parallel: bool,
) -> Vec<Prepared> {
    use rayon::prelude::*;
    let one = |(i, sub): (usize, &mut Submission)| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            prepare(sub, spec.base + i as u64, spec, policy)
        }))
        .unwrap_or_else(|_| Prepared::placeholder())
    };
    if parallel && subs.len() >= PARALLEL_MIN_JOBS {
        subs.par_iter_mut()
            .enumerate()
            .with_min_len(PARALLEL_MIN_JOBS / 2)
            .map(one)
            .collect()
    } else {
        subs.iter_mut().enumerate().map(one).collect()
    }
}

/// Builds (or takes the submitted bytes of) the entry for `index`, checks its size and, for
/// cyberlabel logs, its admission under the trust list in force; hashes the leaf.
fn prepare(
    submission: &mut Submission,
    index: u64,
    spec: &Speculation,
    policy: EntryPolicy,
) -> Prepared {
    // Only a builder's own fresh signature may skip re-verification; given bytes never do.
    let signed_by = match &submission.payload {
        Payload::Build(_) => submission.signed_by.as_ref(),
        Payload::Entry(_) => None,
    };
    let built = match &mut submission.payload {
        Payload::Entry(bytes) => Ok(std::mem::take(bytes)),
        Payload::Build(f) => {
            // A panicking builder must not take the sequencer (and every caller) down with it.
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(index))) {
                Ok(Ok(bytes)) => Ok(bytes),
                Ok(Err(e)) => Err(AppendError::Build(e)),
                Err(_) => Err(AppendError::Build(crate::BuildError(
                    "the entry builder panicked".into(),
                ))),
            }
        }
    };
    let bytes = built.and_then(|bytes| {
        if bytes.len() > MAX_ENTRY_BYTES {
            Err(AppendError::EntryTooLarge { len: bytes.len() })
        } else {
            Ok(bytes)
        }
    });
    let admitted = match (&bytes, policy) {
        (Ok(bytes), EntryPolicy::Cyberlabel(anchor)) => Some(admission::check_entry_signed_by(
            bytes,
            index,
            spec.trust.as_deref(),
            &anchor,
            signed_by,
        )),
        _ => None,
    };
    let leaf = match &bytes {
        Ok(b) => merkle::leaf_hash(b),
        Err(_) => [0; 32],
    };
    Prepared {
        index,
        epoch: spec.epoch,
        bytes,
        leaf,
        admitted,
    }
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}
