//! The single sequencer: batches submissions, validates status effects, appends, updates tiles
//! and the status map, commits durably, signs one checkpoint, then acknowledges.

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
    AppendError, Appended, EntryPolicy, Job, LogConfig, LogError, Payload, Shared, node_from_store,
    status_node,
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
    trust: Option<TrustList>,
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
    trust: Option<(u64, TrustList)>,
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
            trust,
        })
    }

    pub(crate) fn run(
        mut self,
        rx: mpsc::Receiver<Job>,
        shared: Arc<Shared>,
        signer: NoteSigner,
        config: LogConfig,
    ) {
        let batch_size = config.batch_size.max(1);
        loop {
            let first = if self.write_fault(&shared) {
                // While the last write failed, try a small write every second, so the log (and
                // its health check) recovers when the disk has room again even with no traffic.
                match rx.recv_timeout(Duration::from_secs(1)) {
                    Ok(j) => j,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        self.probe(&shared);
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(j) => j,
                    Err(_) => break,
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
            if shared.poisoned.load(Ordering::Acquire) {
                for j in jobs {
                    let _ = j.reply.send(Err(AppendError::Closed));
                }
                continue;
            }
            self.process(jobs, &shared, &signer, &config.origin);
        }
    }

    fn process(&mut self, jobs: Vec<Job>, shared: &Shared, signer: &NoteSigner, origin: &str) {
        let mut b = Batch {
            base: self.size,
            accepted: Vec::new(),
            buckets: HashMap::new(),
            dirty_buckets: BTreeSet::new(),
            idem: HashMap::new(),
            replies: Vec::new(),
            trust: None,
        };
        // Replays of earlier batches are answered at once; the rest are prepared (built and
        // signature-checked, the expensive part) on every core, each at the index it gets if
        // every job before it is accepted.
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
        let prepared = prepare_all(&mut fresh, b.base, self.policy, self.trust.as_ref());
        for (job, prep) in fresh.into_iter().zip(prepared) {
            let key = job.submission.idempotency_key;
            if let Some(k) = key
                && let Some(&pos) = b.idem.get(&k)
            {
                b.replies.push((job.reply, Pending::Alias(pos)));
                continue;
            }
            let index = b.base + b.accepted.len() as u64;
            // An earlier refusal or alias moved this job's index, or an entry of this batch put
            // a newer trust list in force: prepare it again, here, at its real index. (Entries
            // that could not be built or are too large are refused whatever their index.)
            let prep = if prep.bytes.is_err() || (prep.index == index && b.trust.is_none()) {
                prep
            } else {
                let in_force = b.trust.as_ref().map(|(_, t)| t).or(self.trust.as_ref());
                let given = match (prep.bytes, &job.submission.payload) {
                    (Ok(bytes), Payload::Entry(_)) => Some(bytes),
                    _ => None,
                };
                prepare(&job.submission, given, index, self.policy, in_force)
            };
            let bytes = match prep.bytes {
                Ok(bytes) => bytes,
                Err(e) => {
                    let _ = job.reply.send(Err(e));
                    continue;
                }
            };
            if let Some(admitted) = prep.admitted {
                let decoded = match admitted {
                    Ok(Admitted::Record(decoded)) => Some(decoded),
                    Ok(Admitted::TrustList(list)) => {
                        b.trust = Some((index, *list));
                        None
                    }
                    Err(e) => {
                        let _ = job.reply.send(Err(e.into()));
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
                        let _ = job.reply.send(Err(e));
                        continue;
                    }
                }
            }
            let leaf = merkle::leaf_hash(&bytes);
            let pos = b.accepted.len();
            b.accepted.push((bytes, leaf));
            if let Some(k) = key {
                b.idem.insert(k, pos);
            }
            b.replies.push((job.reply, Pending::Accepted(pos)));
        }
        if b.accepted.is_empty() {
            return;
        }
        match self.commit_batch(&mut b, shared, signer, origin) {
            Ok(checkpoint) => {
                for (reply, p) in b.replies {
                    let (pos, replayed) = match p {
                        Pending::Accepted(pos) => (pos, false),
                        Pending::Alias(pos) => (pos, true),
                    };
                    let _ = reply.send(Ok(Appended {
                        index: b.base + pos as u64,
                        leaf_hash: b.accepted[pos].1,
                        checkpoint: checkpoint.clone(),
                        replayed,
                    }));
                }
            }
            Err(e) => {
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
                for (reply, _) in b.replies {
                    let _ = reply.send(Err(e.clone()));
                }
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

    /// Tiles, status map, checkpoint, one durable commit. Returns the signed checkpoint.
    fn commit_batch(
        &mut self,
        b: &mut Batch,
        shared: &Shared,
        signer: &NoteSigner,
        origin: &str,
    ) -> Result<String, AppendError> {
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
        let read_tile = |level: u8, index: u64| -> Result<Vec<u8>, LogError> {
            let count = counts[level as usize];
            if index == count / TILE_WIDTH && !count.is_multiple_of(TILE_WIDTH) {
                return Ok(edges[level as usize].clone());
            }
            if let Some(t) = full.get(&(level, index)) {
                return Ok(t.clone());
            }
            store
                .tile(level, index)?
                .ok_or_else(|| LogError::Corrupt(format!("missing tile {level}/{index}")))
        };
        let root = merkle::tree_root(new_size, |id: NodeId| -> Result<Hash, LogError> {
            let (t, off, cnt) = tiles::locate_node(id, new_size)?;
            let TileKind::Hash(level) = t.kind else {
                return Err(LogError::Corrupt("entry tile".into()));
            };
            Ok(tiles::hash_in_tile(&read_tile(level, t.index)?, off, cnt)?)
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
        {
            let mut guard = match shared.published.write() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            self.store.commit(&commit).map_err(|e| store_failed(&e))?;
            *guard = StoredState {
                size: new_size,
                checkpoint: signed.clone(),
            };
        }
        self.size = new_size;
        self.edges = edges;
        self.bundle_edge = bundle_edge;
        if let Some((_, list)) = b.trust.take() {
            self.trust = Some(list);
        }
        Ok(signed)
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
    /// the entry bytes (built, or as submitted), size-checked
    bytes: Result<Vec<u8>, AppendError>,
    /// the admission check (cyberlabel entries only)
    admitted: Option<Result<Admitted, cyberlabel_core::status::EffectError>>,
}

/// Fewer fresh jobs than this are prepared on the sequencer thread itself: spawning helpers
/// costs more than signing a handful of labels.
const PARALLEL_MIN_JOBS: usize = 16;

/// Prepares every job at `base + position`, on all cores for a large batch. Entry bytes are
/// moved out of `Payload::Entry` into the result.
fn prepare_all(
    jobs: &mut [Job],
    base: u64,
    policy: EntryPolicy,
    in_force: Option<&TrustList>,
) -> Vec<Prepared> {
    let one = |(i, job): (usize, &mut Job)| {
        let given = match &mut job.submission.payload {
            Payload::Entry(bytes) => Some(std::mem::take(bytes)),
            Payload::Build(_) => None,
        };
        prepare(&job.submission, given, base + i as u64, policy, in_force)
    };
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    if jobs.len() < PARALLEL_MIN_JOBS || workers < 2 {
        return jobs.iter_mut().enumerate().map(one).collect();
    }
    let total = jobs.len();
    let chunk = total.div_ceil(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks_mut(chunk)
            .enumerate()
            .map(|(c, part)| {
                let len = part.len();
                let handle = scope.spawn(move || {
                    part.iter_mut()
                        .enumerate()
                        .map(|(i, job)| one((c * chunk + i, job)))
                        .collect::<Vec<_>>()
                });
                (len, handle)
            })
            .collect();
        let mut out = Vec::with_capacity(total);
        for (len, h) in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                // `prepare` catches a panicking builder; anything else is a bug in core's
                // checks: every job of that part is refused (and answered), none accepted.
                Err(_) => out.extend((0..len).map(|_| Prepared {
                    index: u64::MAX,
                    bytes: Err(AppendError::Build(crate::BuildError(
                        "entry preparation panicked".into(),
                    ))),
                    admitted: None,
                })),
            }
        }
        out
    })
}

/// Builds (or takes `given`) the entry for `index`, checks its size and, for cyberlabel logs,
/// its admission under the trust list in force.
fn prepare(
    submission: &crate::Submission,
    given: Option<Vec<u8>>,
    index: u64,
    policy: EntryPolicy,
    in_force: Option<&TrustList>,
) -> Prepared {
    let payload = &submission.payload;
    // Only a builder's own fresh signature may skip re-verification; given bytes never do.
    let signed_by = match payload {
        Payload::Build(_) => submission.signed_by.as_ref(),
        Payload::Entry(_) => None,
    };
    let built = match (given, payload) {
        (Some(bytes), _) => Ok(bytes),
        (None, Payload::Build(f)) => {
            // A panicking builder must not take the sequencer (and every caller) down with it.
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(index))) {
                Ok(Ok(bytes)) => Ok(bytes),
                Ok(Err(e)) => Err(AppendError::Build(e)),
                Err(_) => Err(AppendError::Build(crate::BuildError(
                    "the entry builder panicked".into(),
                ))),
            }
        }
        (None, Payload::Entry(bytes)) => Ok(bytes.clone()),
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
            bytes, index, in_force, &anchor, signed_by,
        )),
        _ => None,
    };
    Prepared {
        index,
        bytes,
        admitted,
    }
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}
