//! redb backend for [`LogStore`] in its own file, `<data>/log.redb`. Each [`LogStore::commit`]
//! is one write transaction, fsynced before it returns; a failed commit leaves nothing behind
//! (redb's copy-on-write pages are only published by a successful commit), so the log's
//! in-memory state never runs ahead of the file.
//!
//! Layout: entries and leaf hashes are one record each (tables `entries` and `leaves`, keyed by
//! the entry's index), so an entry bundle or a level-0 tile is a range of records, and a commit
//! writes only the records that are new. Stored as whole values, a growing bundle would be
//! rewritten at every commit and an 8 KiB tile, one page over with redb's headers, would take
//! 16 KiB: that cost 2.4× the entries' own bytes on disk. Everything else — higher tiles, status
//! buckets and nodes, idempotency records, the state — is one value per key in `log`, in the
//! shared key layout.
//!
//! After an I/O error (a full disk) redb refuses every further operation until the database is
//! opened again; [`RedbStore`] does that by itself on the next write, so writes resume when space
//! returns, without restarting the process. Memory is redb's page cache, bounded in bytes.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::store::{Commit, K_ENTRY, K_TILE, LogStore, StoreError, commit_ops, io_is_full};

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("log");
/// Entry index → entry bytes.
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
/// Entry index → its leaf hash.
const LEAVES: TableDefinition<u64, &[u8]> = TableDefinition::new("leaves");
const WIDTH: u64 = 256;

/// Where a key of the shared layout lives in this store.
enum Slot {
    /// level-0 tile `n`: leaves `256·n …`
    Leaves(u64),
    /// entry bundle `n`: entries `256·n …`
    Entries(u64),
    /// one value in `log`
    Plain,
}

fn slot(key: &[u8]) -> Slot {
    let index = |b: &[u8]| <[u8; 8]>::try_from(b).ok().map(u64::from_be_bytes);
    match key {
        [k, 0, rest @ ..] if *k == K_TILE => index(rest).map_or(Slot::Plain, Slot::Leaves),
        [k, rest @ ..] if *k == K_ENTRY => index(rest).map_or(Slot::Plain, Slot::Entries),
        _ => Slot::Plain,
    }
}

/// The index range of tile / bundle `n`, if its indices fit in 64 bits.
fn span(n: u64) -> Result<std::ops::RangeInclusive<u64>, StoreError> {
    n.checked_mul(WIDTH)
        .map(|lo| lo..=lo + (WIDTH - 1))
        .ok_or(StoreError::Corrupt("tile index out of range"))
}

/// The key a record's checksum covers: table letter and index.
fn record_key(table: u8, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = table;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

/// Records of a range, in order; damaged if one is missing between the first and the last.
fn read_range(
    t: &impl ReadableTable<u64, &'static [u8]>,
    table: u8,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut out = Vec::new();
    for (n, item) in t.range(range.clone()).map_err(err)?.enumerate() {
        let (k, v) = item.map_err(err)?;
        let index = k.value();
        if index != *range.start() + n as u64 {
            return Err(StoreError::Damaged(format!(
                "record {index} of table {} out of sequence",
                table as char
            )));
        }
        out.push(unseal(&record_key(table, index), v.value())?);
    }
    Ok(out)
}

/// Write `items` (the full current contents of a range) by inserting only the records past
/// those already stored.
fn extend_range(
    t: &mut redb::Table<'_, u64, &'static [u8]>,
    table: u8,
    range: std::ops::RangeInclusive<u64>,
    items: &[&[u8]],
) -> Result<(), StoreError> {
    let stored = match t.range(range.clone()).map_err(err)?.next_back() {
        Some(last) => last.map_err(err)?.0.value() - *range.start() + 1,
        None => 0,
    };
    if stored > items.len() as u64 {
        return Err(StoreError::Corrupt("a tile or bundle may only grow"));
    }
    for (i, item) in items.iter().enumerate().skip(stored as usize) {
        let index = *range.start() + i as u64;
        t.insert(index, seal(&record_key(table, index), item).as_slice())
            .map_err(err)?;
    }
    Ok(())
}

/// Write one key/value pair of the shared layout inside `tx`.
fn write_pair(tx: &redb::WriteTransaction, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
    match slot(key) {
        Slot::Leaves(n) => {
            if value.len() % 32 != 0 || value.len() > 32 * WIDTH as usize {
                return Err(StoreError::Corrupt("a level-0 tile is up to 256 hashes"));
            }
            let hashes: Vec<&[u8]> = value.chunks_exact(32).collect();
            let mut t = tx.open_table(LEAVES).map_err(err)?;
            extend_range(&mut t, b'L', span(n)?, &hashes)
        }
        Slot::Entries(n) => {
            let entries = cyberlabel_core::tiles::parse_entry_bundle(value)
                .map_err(|_| StoreError::Corrupt("an entry bundle is length-prefixed entries"))?;
            let mut t = tx.open_table(ENTRIES).map_err(err)?;
            extend_range(&mut t, b'E', span(n)?, &entries)
        }
        Slot::Plain => {
            let mut t = tx.open_table(TABLE).map_err(err)?;
            t.insert(key, seal(key, value).as_slice()).map_err(err)?;
            Ok(())
        }
    }
}
/// Request bindings a server keeps beside its log (idempotency key → hash of the first body).
const BINDINGS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bindings");

/// redb's page cache for the log unless configured: tiles and bundles a proof needs stay warm.
pub const DEFAULT_CACHE_BYTES: usize = 32 << 20;

/// A log stored in one redb file.
#[derive(Debug)]
pub struct RedbStore {
    path: PathBuf,
    cache_bytes: usize,
    // `None` only between dropping a failed handle and opening a new one.
    db: RwLock<Option<Database>>,
}

fn err(e: impl Into<redb::Error>) -> StoreError {
    match e.into() {
        redb::Error::Io(io) if io_is_full(&io) => StoreError::Full(io.to_string()),
        e => StoreError::Redb(Box::new(e)),
    }
}

fn needs_reopen(e: &StoreError) -> bool {
    match e {
        StoreError::Unavailable => true,
        StoreError::Redb(e) => matches!(**e, redb::Error::PreviousIo),
        _ => false,
    }
}

// Every stored value carries a CRC-32 of its key and bytes, checked on every read: a byte
// damaged on disk (or a value moved to another key) is refused, never served.
fn seal(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut h = crc32fast::Hasher::new();
    h.update(key);
    h.update(value);
    let mut out = Vec::with_capacity(value.len() + 4);
    out.extend_from_slice(value);
    out.extend_from_slice(&h.finalize().to_le_bytes());
    out
}

fn unseal(key: &[u8], stored: &[u8]) -> Result<Vec<u8>, StoreError> {
    let damaged = || StoreError::Damaged(format!("checksum mismatch for key {}", hex(key)));
    let split = stored.len().checked_sub(4).ok_or_else(damaged)?;
    let (value, crc) = stored.split_at(split);
    let mut h = crc32fast::Hasher::new();
    h.update(key);
    h.update(value);
    if h.finalize().to_le_bytes() != crc {
        return Err(damaged());
    }
    Ok(value.to_vec())
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

// redb 3 asserts (panics) on some damaged pages and headers instead of returning an error: a
// damaged file must be refused with a message, never take the process down or serve bytes.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(StoreError::Damaged(format!(
            "{what}: redb found the file damaged"
        )))
    })
}

fn open(path: &Path, cache_bytes: usize) -> Result<Database, StoreError> {
    guarded(&path.display().to_string(), || {
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(err)?;
        let tx = db.begin_write().map_err(err)?;
        tx.open_table(TABLE).map_err(err)?;
        tx.open_table(ENTRIES).map_err(err)?;
        tx.open_table(LEAVES).map_err(err)?;
        tx.open_table(BINDINGS).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(db)
    })
}

impl RedbStore {
    /// Open (or create) the log file at `path` with a page cache of `cache_bytes`.
    ///
    /// # Errors
    /// [`StoreError::Redb`] (the file is locked by another process, damaged, or unreadable).
    pub fn open(path: impl Into<PathBuf>, cache_bytes: usize) -> Result<Self, StoreError> {
        let path = path.into();
        let db = open(&path, cache_bytes)?;
        Ok(Self {
            path,
            cache_bytes,
            db: RwLock::new(Some(db)),
        })
    }

    /// The file this store lives in.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with_db<T>(&self, f: impl Fn(&Database) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let once = || {
            let guard = self.db.read().map_err(|_| StoreError::Poisoned)?;
            match guard.as_ref() {
                Some(db) => guarded("log.redb", || f(db)),
                None => Err(StoreError::Unavailable),
            }
        };
        match once() {
            // An earlier I/O error (a full disk) left the handle refusing all work: open the
            // file again and retry once. If space is still short, this fails the same way.
            Err(e) if needs_reopen(&e) => {
                self.reopen()?;
                once()
            }
            r => r,
        }
    }

    /// Drop the handle redb has marked failed and open the file again (redb repairs what an
    /// interrupted commit left). Called before a write when the last one failed.
    fn reopen(&self) -> Result<(), StoreError> {
        let mut guard = self.db.write().map_err(|_| StoreError::Poisoned)?;
        // redb allows one handle per file per process: the old one must be gone first.
        drop(guard.take());
        *guard = Some(open(&self.path, self.cache_bytes)?);
        Ok(())
    }
}

impl RedbStore {
    /// Copy raw key/value pairs in the shared key layout into this store (moving a log from
    /// another backend), in one durable transaction per call.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn import(&self, pairs: &[(Vec<u8>, Vec<u8>)]) -> Result<(), StoreError> {
        self.with_db(|db| {
            let tx = db.begin_write().map_err(err)?;
            for (k, v) in pairs {
                write_pair(&tx, k, v)?;
            }
            tx.commit().map_err(err)
        })
    }

    /// Bind `key` to `value` unless it is bound already; returns the earlier value if it was.
    /// The binding is committed without fsync: it becomes durable with the log's next commit,
    /// which is what a binding made before an append needs (if the append never commits, a
    /// lost binding loses nothing).
    ///
    /// # Errors
    /// [`StoreError`] (e.g. [`StoreError::Full`]).
    pub fn bind(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let mut r = self.bind_all(&[(key, value)])?;
        Ok(r.pop().flatten())
    }

    /// [`RedbStore::bind`] for many keys in one transaction (a bulk request's items), in order:
    /// a key repeated later in `pairs` sees the earlier pair's binding.
    ///
    /// # Errors
    /// [`StoreError`] (e.g. [`StoreError::Full`]); then nothing is bound.
    pub fn bind_all(&self, pairs: &[(&[u8], &[u8])]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.with_db(|db| {
            let mut tx = db.begin_write().map_err(err)?;
            // Refused only while a persistent savepoint exists (we make none); then the commit
            // is simply durable, which is correct, only slower.
            let _ = tx.set_durability(redb::Durability::None);
            let mut out = Vec::with_capacity(pairs.len());
            {
                let mut t = tx.open_table(BINDINGS).map_err(err)?;
                for &(key, value) in pairs {
                    let earlier = t
                        .get(key)
                        .map_err(err)?
                        .map(|v| unseal(key, v.value()))
                        .transpose()?;
                    if earlier.is_none() {
                        t.insert(key, seal(key, value).as_slice()).map_err(err)?;
                    }
                    out.push(earlier);
                }
            }
            tx.commit().map_err(err)?;
            Ok(out)
        })
    }
}

impl LogStore for RedbStore {
    fn raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_db(|db| {
            let rt = db.begin_read().map_err(err)?;
            match slot(key) {
                Slot::Leaves(n) => {
                    let t = rt.open_table(LEAVES).map_err(err)?;
                    let hashes = read_range(&t, b'L', span(n)?)?;
                    Ok((!hashes.is_empty()).then(|| hashes.concat()))
                }
                Slot::Entries(n) => {
                    let t = rt.open_table(ENTRIES).map_err(err)?;
                    let entries = read_range(&t, b'E', span(n)?)?;
                    if entries.is_empty() {
                        return Ok(None);
                    }
                    let mut bundle = Vec::with_capacity(entries.iter().map(|e| e.len() + 2).sum());
                    for e in &entries {
                        cyberlabel_core::tiles::push_bundle_entry(&mut bundle, e).map_err(
                            |_| StoreError::Damaged("an entry of 64 KiB or more".into()),
                        )?;
                    }
                    Ok(Some(bundle))
                }
                Slot::Plain => {
                    let t = rt.open_table(TABLE).map_err(err)?;
                    let v = t.get(key).map_err(err)?;
                    v.map(|v| unseal(key, v.value())).transpose()
                }
            }
        })
    }

    fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let ops = commit_ops(commit);
        self.with_db(|db| {
            let tx = db.begin_write().map_err(err)?;
            for (k, v) in &ops {
                write_pair(&tx, k, v)?;
            }
            tx.commit().map_err(err)
        })
    }

    fn failed_commit_changes_nothing(&self) -> bool {
        true
    }

    fn size_on_disk(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
    }
}
