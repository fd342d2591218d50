//! Storage behind the smallest trait the log needs: hash tiles, entry bundles, status buckets and
//! status-tree nodes, idempotency records, and the published state (size + signed checkpoint).
//!
//! Writes happen only through [`LogStore::commit`], which must be atomic (all or nothing) and
//! durable before it returns — the sequencer acknowledges appends only after it. Two backends:
//! `MemoryStore` (tests only, feature `test-utils`) and [`SledStore`] (one sled tree, one key prefix per kind, one
//! `apply_batch` + `flush` per commit). `conformance` (feature `test-utils`) is the shared test
//! suite both must pass.
//!
//! Entries are stored as C2SP entry bundles (256 per key, the right-edge bundle growing in
//! place), not one key per entry: at 10 million entries that is 39 thousand keys instead of ten
//! million, which is what keeps sled's start-up time and memory small.

#[cfg(any(test, feature = "test-utils"))]
use std::collections::BTreeMap;
#[cfg(any(test, feature = "test-utils"))]
use std::sync::Mutex;

use cyberlabel_core::merkle::Hash;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The sled database reported an error.
    #[error("sled: {0}")]
    Sled(sled::Error),
    /// A stored value has the wrong shape.
    #[error("corrupt stored value: {0}")]
    Corrupt(&'static str),
    /// The redb database reported an error.
    #[error("redb: {0}")]
    Redb(Box<redb::Error>),
    /// The disk is full (or over quota): nothing of the failed write was kept.
    #[error("no space left on the log's disk: {0}")]
    Full(String),
    /// A stored value does not match its checksum: the file was damaged outside the log.
    #[error("damaged store: {0}")]
    Damaged(String),
    /// Reading or writing one of the store's files failed.
    #[error("log storage I/O: {0}")]
    Io(String),
    /// The store could not be reopened after a failure; the next write tries again.
    #[error("store unavailable after an I/O error")]
    Unavailable,
    /// The memory store's lock was poisoned by a panic.
    #[error("store lock poisoned")]
    Poisoned,
}

impl StoreError {
    /// Whether this is the disk being full (clients get 507, and writes resume when space
    /// returns).
    #[must_use]
    pub fn is_full(&self) -> bool {
        matches!(self, StoreError::Full(_))
    }
    /// Whether the store holds damaged bytes (never served; the health check says so).
    #[must_use]
    pub fn is_damaged(&self) -> bool {
        matches!(self, StoreError::Damaged(_) | StoreError::Corrupt(_))
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match &e {
            sled::Error::Io(io) if io_is_full(io) => StoreError::Full(io.to_string()),
            _ => StoreError::Sled(e),
        }
    }
}

/// Whether an I/O error means the disk is full or the quota is used up.
pub(crate) fn io_is_full(e: &std::io::Error) -> bool {
    // ENOSPC = 28, EDQUOT = 122 on Linux.
    e.kind() == std::io::ErrorKind::StorageFull || matches!(e.raw_os_error(), Some(28 | 122))
}

/// The published state: tree size and the signed checkpoint for it (with any cosignatures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredState {
    /// number of entries
    pub size: u64,
    /// the signed checkpoint note for `size`
    pub checkpoint: String,
}

/// Everything one sequencer batch writes, committed atomically.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commit {
    /// hash tiles (level, index) → full current contents (a prefix-extension of the old value)
    pub tiles: Vec<(u8, u64, Vec<u8>)>,
    /// entry bundles (bundle index, full current contents: u16-length-prefixed entries)
    pub bundles: Vec<(u64, Vec<u8>)>,
    /// status buckets (bucket, 512 bytes)
    pub buckets: Vec<(u64, Vec<u8>)>,
    /// status-tree perfect nodes (level, index, hash)
    pub status_nodes: Vec<(u8, u64, Hash)>,
    /// idempotency records (key, encoded record)
    pub idempotency: Vec<([u8; 32], Vec<u8>)>,
    /// new published state
    pub state: Option<StoredState>,
    /// index of the trust-list entry now in force, when this commit appends one
    pub trust_index: Option<u64>,
}

/// Storage for one log.
pub trait LogStore: Send + Sync + 'static {
    /// The value stored under `key` in the log's key layout (the typed getters below read
    /// through it; a store implements only this and [`LogStore::commit`]).
    ///
    /// # Errors
    /// [`StoreError`].
    fn raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Hash tile at (level, index): its current contents (≤ 256 hashes).
    ///
    /// # Errors
    /// [`StoreError`].
    fn tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.raw(&key_lvl(K_TILE, level, index))
    }
    /// Entry bundle `index` (entries `256·index …`): its current contents.
    ///
    /// # Errors
    /// [`StoreError`].
    fn bundle(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.raw(&key_idx(K_ENTRY, index))
    }
    /// Status bucket bytes.
    ///
    /// # Errors
    /// [`StoreError`].
    fn bucket(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.raw(&key_idx(K_BUCKET, index))
    }
    /// Status-tree perfect node.
    ///
    /// # Errors
    /// [`StoreError`].
    fn status_node(&self, level: u8, index: u64) -> Result<Option<Hash>, StoreError> {
        self.raw(&key_lvl(K_SNODE, level, index))?
            .map(|v| to_hash(&v))
            .transpose()
    }
    /// Idempotency record for `key`.
    ///
    /// # Errors
    /// [`StoreError`].
    fn idempotency(&self, key: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        self.raw(&key_idem(key))
    }
    /// The published state.
    ///
    /// # Errors
    /// [`StoreError`].
    fn state(&self) -> Result<Option<StoredState>, StoreError> {
        self.raw(&[K_STATE])?.map(|v| decode_state(&v)).transpose()
    }
    /// Index of the trust-list entry in force (the last one appended).
    ///
    /// # Errors
    /// [`StoreError`].
    fn trust_index(&self) -> Result<Option<u64>, StoreError> {
        self.raw(&[K_TRUST])?.map(|v| decode_index(&v)).transpose()
    }
    /// Apply `commit` atomically and durably.
    ///
    /// # Errors
    /// [`StoreError`]; on error nothing may be assumed durable.
    fn commit(&self, commit: &Commit) -> Result<(), StoreError>;
    /// Approximate bytes used on disk (0 if unknown).
    fn size_on_disk(&self) -> u64 {
        0
    }
    /// Whether the disk has room for a commit that fills a bundle, checked without changing
    /// anything a read can see. The log calls it before it declares a failing store healthy
    /// again: a commit of its small published state can succeed inside space the store already
    /// holds while every append still fails.
    ///
    /// # Errors
    /// [`StoreError::Full`] when there is no room (or another error writing).
    fn has_room(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Whether a failed [`LogStore::commit`] is guaranteed to have changed nothing, neither on
    /// disk nor in what later reads return. Then the log answers the failed batch with an error
    /// and goes on; otherwise (sled: a failed flush leaves the batch applied in memory, and a
    /// later background flush may persist it) the log stops accepting appends until reopened.
    fn failed_commit_changes_nothing(&self) -> bool {
        false
    }
}

// Key layout shared by both backends: one kind byte, then big-endian numbers (so keys sort by
// index, which keeps related tiles together in sled pages).
pub(crate) const K_TILE: u8 = b't';
pub(crate) const K_ENTRY: u8 = b'e';
const K_BUCKET: u8 = b'b';
const K_SNODE: u8 = b'n';
const K_IDEM: u8 = b'i';
const K_STATE: u8 = b's';
const K_TRUST: u8 = b'l';

fn key_lvl(kind: u8, level: u8, index: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[0] = kind;
    k[1] = level;
    k[2..].copy_from_slice(&index.to_be_bytes());
    k
}
fn key_idx(kind: u8, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = kind;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}
fn key_idem(key: &[u8; 32]) -> [u8; 33] {
    let mut k = [0u8; 33];
    k[0] = K_IDEM;
    k[1..].copy_from_slice(key);
    k
}

fn encode_state(s: &StoredState) -> Vec<u8> {
    let mut v = s.size.to_be_bytes().to_vec();
    v.extend_from_slice(s.checkpoint.as_bytes());
    v
}
fn decode_state(v: &[u8]) -> Result<StoredState, StoreError> {
    if v.len() < 8 {
        return Err(StoreError::Corrupt("state record too short"));
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&v[..8]);
    let checkpoint = String::from_utf8(v[8..].to_vec())
        .map_err(|_| StoreError::Corrupt("checkpoint is not UTF-8"))?;
    Ok(StoredState {
        size: u64::from_be_bytes(n),
        checkpoint,
    })
}

pub(crate) fn commit_ops(c: &Commit) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut ops = Vec::with_capacity(c.tiles.len() + c.bundles.len() + c.buckets.len() + 8);
    for (l, i, t) in &c.tiles {
        ops.push((key_lvl(K_TILE, *l, *i).to_vec(), t.clone()));
    }
    for (i, e) in &c.bundles {
        ops.push((key_idx(K_ENTRY, *i).to_vec(), e.clone()));
    }
    for (i, b) in &c.buckets {
        ops.push((key_idx(K_BUCKET, *i).to_vec(), b.clone()));
    }
    for (l, i, h) in &c.status_nodes {
        ops.push((key_lvl(K_SNODE, *l, *i).to_vec(), h.to_vec()));
    }
    for (k, r) in &c.idempotency {
        ops.push((key_idem(k).to_vec(), r.clone()));
    }
    if let Some(s) = &c.state {
        ops.push((vec![K_STATE], encode_state(s)));
    }
    if let Some(i) = c.trust_index {
        ops.push((vec![K_TRUST], i.to_be_bytes().to_vec()));
    }
    ops
}

fn decode_index(v: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(v)
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt("trust index is not 8 bytes"))
}

fn to_hash(v: &[u8]) -> Result<Hash, StoreError> {
    v.try_into()
        .map_err(|_| StoreError::Corrupt("status node is not 32 bytes"))
}

/// In-memory backend for tests (feature `test-utils`; the server and CLI always use sled).
#[cfg(any(test, feature = "test-utils"))]
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

#[cfg(any(test, feature = "test-utils"))]
impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .map
            .lock()
            .map_err(|_| StoreError::Poisoned)?
            .get(k)
            .cloned())
    }
    /// Overwrite a raw tile (tests that simulate corruption).
    #[doc(hidden)]
    pub fn corrupt_tile(&self, level: u8, index: u64, bytes: Vec<u8>) {
        if let Ok(mut m) = self.map.lock() {
            m.insert(key_lvl(K_TILE, level, index).to_vec(), bytes);
        }
    }
    /// Overwrite a raw entry bundle (tests that simulate corruption).
    #[doc(hidden)]
    pub fn corrupt_bundle(&self, index: u64, bytes: Vec<u8>) {
        if let Ok(mut m) = self.map.lock() {
            m.insert(key_idx(K_ENTRY, index).to_vec(), bytes);
        }
    }
}

#[cfg(any(test, feature = "test-utils"))]
impl LogStore for MemoryStore {
    fn raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(key)
    }
    fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let ops = commit_ops(commit);
        let mut m = self.map.lock().map_err(|_| StoreError::Poisoned)?;
        for (k, v) in ops {
            m.insert(k, v);
        }
        Ok(())
    }
}

/// sled backend: one tree (`cyberlabel-log`) in a caller-owned [`sled::Db`].
#[derive(Debug, Clone)]
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
}

/// Name of the sled tree holding the log.
pub const SLED_TREE: &str = "cyberlabel-log";

impl SledStore {
    /// Use `db` (share one handle per directory: sled locks it).
    ///
    /// # Errors
    /// [`StoreError::Sled`].
    pub fn new(db: sled::Db) -> Result<Self, StoreError> {
        let tree = db.open_tree(SLED_TREE)?;
        Ok(Self { db, tree })
    }
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(k)?.map(|v| v.to_vec()))
    }
    /// Overwrite a raw tile (tests that simulate corruption); flushed.
    #[doc(hidden)]
    pub fn corrupt_tile(&self, level: u8, index: u64, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.tree.insert(key_lvl(K_TILE, level, index), bytes)?;
        self.db.flush()?;
        Ok(())
    }
}

impl LogStore for SledStore {
    fn raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(key)
    }
    fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (k, v) in commit_ops(commit) {
            batch.insert(k, v);
        }
        // apply_batch is atomic; flush makes it durable (sled only flushes every 500 ms by itself).
        self.tree.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }
    fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

/// The backend conformance suite: every [`LogStore`] must pass it (feature `test-utils`, so a
/// new backend in another crate can run it too).
#[cfg(any(test, feature = "test-utils"))]
pub mod conformance {
    use super::{Commit, LogStore, StoreError, StoredState};

    /// Run the suite against an empty store.
    ///
    /// # Errors
    /// The first store error; panics (it is a test helper) on a behavioural mismatch.
    #[allow(clippy::missing_panics_doc)]
    pub fn run(store: &dyn LogStore) -> Result<(), StoreError> {
        // entry bundles are what the log writes: u16-length-prefixed entries
        let bundle = |entries: &[&[u8]]| {
            let mut b = Vec::new();
            for e in entries {
                b.extend_from_slice(&(e.len() as u16).to_be_bytes());
                b.extend_from_slice(e);
            }
            b
        };
        assert_eq!(store.state()?, None, "fresh store has no state");
        assert_eq!(store.tile(0, 0)?, None);
        assert_eq!(store.bundle(0)?, None);
        let c = Commit {
            tiles: vec![(0, 0, vec![1; 64]), (1, 7, vec![2; 32])],
            bundles: vec![(0, bundle(&[b"a"])), (1, bundle(&[b"b", b"cc"]))],
            buckets: vec![(0, vec![3; 512])],
            status_nodes: vec![(2, 5, [4; 32])],
            idempotency: vec![([5; 32], b"rec".to_vec())],
            state: Some(StoredState {
                size: 2,
                checkpoint: "cp\n".into(),
            }),
            trust_index: Some(1),
        };
        assert_eq!(store.trust_index()?, None);
        store.commit(&c)?;
        assert_eq!(store.trust_index()?, Some(1));
        assert_eq!(store.tile(0, 0)?, Some(vec![1; 64]));
        assert_eq!(store.tile(1, 7)?, Some(vec![2; 32]));
        assert_eq!(store.tile(1, 6)?, None);
        assert_eq!(store.bundle(0)?, Some(bundle(&[b"a"])));
        assert_eq!(store.bundle(1)?, Some(bundle(&[b"b", b"cc"])));
        assert_eq!(store.bundle(2)?, None);
        assert_eq!(store.bucket(0)?, Some(vec![3; 512]));
        assert_eq!(store.status_node(2, 5)?, Some([4; 32]));
        assert_eq!(store.status_node(5, 2)?, None);
        assert_eq!(store.idempotency(&[5; 32])?, Some(b"rec".to_vec()));
        assert_eq!(store.idempotency(&[6; 32])?, None);
        assert_eq!(store.state()?.map(|s| s.size), Some(2));
        // overwrite: tiles grow, state advances; untouched keys stay
        let c2 = Commit {
            tiles: vec![(0, 0, vec![1; 96])],
            bundles: vec![(1, bundle(&[b"b", b"cc", b"ddd"]))],
            state: Some(StoredState {
                size: 3,
                checkpoint: "cp2\n".into(),
            }),
            ..Commit::default()
        };
        store.commit(&c2)?;
        assert_eq!(store.tile(0, 0)?, Some(vec![1; 96]), "a tile grows");
        assert_eq!(
            store.bundle(1)?,
            Some(bundle(&[b"b", b"cc", b"ddd"])),
            "a bundle grows"
        );
        assert_eq!(store.bundle(0)?, Some(bundle(&[b"a"])));
        assert_eq!(
            store.state()?,
            Some(StoredState {
                size: 3,
                checkpoint: "cp2\n".into()
            })
        );
        // large index keys do not collide with small ones (the last bundle whose entries'
        // indices fit in 64 bits)
        let c3 = Commit {
            bundles: vec![(u64::MAX >> 8, bundle(&[b"z"]))],
            tiles: vec![
                (0, u64::MAX >> 8, vec![7; 32]),
                (3, u64::MAX >> 8, vec![8; 32]),
            ],
            ..Commit::default()
        };
        store.commit(&c3)?;
        assert_eq!(store.bundle(u64::MAX >> 8)?, Some(bundle(&[b"z"])));
        assert_eq!(store.tile(0, u64::MAX >> 8)?, Some(vec![7; 32]));
        assert_eq!(store.tile(3, u64::MAX >> 8)?, Some(vec![8; 32]));
        assert_eq!(store.bundle(0)?, Some(bundle(&[b"a"])));
        // a bundle and its level-0 tile fill up (200 entries, then 256 and the next bundle
        // begun), then the full bundle comes again with the next commit: it never changes
        let entries: Vec<Vec<u8>> = (0..300u32)
            .map(|i| format!("entry {i}").repeat(1 + i as usize % 7).into_bytes())
            .collect();
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        let hashes = |range: std::ops::Range<usize>| {
            range
                .flat_map(|i| [u8::try_from(i % 251).unwrap_or(0); 32])
                .collect::<Vec<u8>>()
        };
        store.commit(&Commit {
            bundles: vec![(2, bundle(&refs[..200]))],
            tiles: vec![(0, 2, hashes(0..200))],
            ..Commit::default()
        })?;
        assert_eq!(store.bundle(2)?, Some(bundle(&refs[..200])));
        for round in 0..2 {
            store.commit(&Commit {
                bundles: vec![
                    (2, bundle(&refs[..256])),
                    (3, bundle(&refs[256..270 + round * 10])),
                ],
                tiles: vec![
                    (0, 2, hashes(0..256)),
                    (0, 3, hashes(256..270 + round * 10)),
                ],
                ..Commit::default()
            })?;
            assert_eq!(
                store.bundle(2)?,
                Some(bundle(&refs[..256])),
                "a full bundle"
            );
            assert_eq!(store.tile(0, 2)?, Some(hashes(0..256)), "a full tile");
            assert_eq!(store.bundle(3)?, Some(bundle(&refs[256..270 + round * 10])));
            assert_eq!(store.tile(0, 3)?, Some(hashes(256..270 + round * 10)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_conforms() {
        conformance::run(&MemoryStore::new()).unwrap();
    }

    #[test]
    fn redb_store_conforms_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("log.redb");
        conformance::run(&crate::RedbStore::open(&file, 1 << 20).unwrap()).unwrap();
        let s = crate::RedbStore::open(&file, 1 << 20).unwrap();
        assert_eq!(s.state().unwrap().map(|s| s.size), Some(3));
        assert_eq!(s.bundle(u64::MAX >> 8).unwrap().map(|b| b.len()), Some(3));
        assert_eq!(s.tile(0, 0).unwrap(), Some(vec![1; 96]));
        let full = s.bundle(2).unwrap().unwrap();
        let tile = s.tile(0, 2).unwrap().unwrap();
        drop(s);
        // the full bundle and its tile live in the segment file, nothing else does
        let [_, segment] = crate::RedbStore::files(&file);
        let len = std::fs::metadata(&segment).unwrap().len();
        assert_eq!(len as usize, full.len() + tile.len());
        // bytes an interrupted commit left past the recorded end are cut off at open
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&segment)
                .unwrap();
            f.write_all(&[9; 1000]).unwrap();
        }
        let s = crate::RedbStore::open(&file, 1 << 20).unwrap();
        assert_eq!(std::fs::metadata(&segment).unwrap().len(), len);
        assert_eq!(s.bundle(2).unwrap(), Some(full));
        drop(s);
        // a segment file shorter than recorded, or missing, is damage: refused at open
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&segment)
            .unwrap();
        f.set_len(len - 1).unwrap();
        drop(f);
        let e = crate::RedbStore::open(&file, 1 << 20).unwrap_err();
        assert!(e.is_damaged(), "{e}");
        std::fs::remove_file(&segment).unwrap();
        let e = crate::RedbStore::open(&file, 1 << 20).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        // the other way round: a lost database beside a segment file of entries
        std::fs::write(&segment, [1; 100]).unwrap();
        std::fs::remove_file(&file).unwrap();
        let e = crate::RedbStore::open(&file, 1 << 20).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        assert_eq!(
            std::fs::metadata(&segment).unwrap().len(),
            100,
            "nothing cut"
        );
    }

    #[test]
    fn sled_store_conforms_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            conformance::run(&SledStore::new(db).unwrap()).unwrap();
        }
        // sled's flusher thread may still hold the file lock for a moment after the drop
        let db = (0..100)
            .find_map(|_| {
                sled::open(dir.path())
                    .map_err(|_| std::thread::sleep(std::time::Duration::from_millis(50)))
                    .ok()
            })
            .unwrap();
        let s = SledStore::new(db).unwrap();
        assert_eq!(s.state().unwrap().map(|s| s.size), Some(3));
        assert_eq!(s.bundle(u64::MAX >> 8).unwrap().map(|b| b.len()), Some(3));
    }
}
