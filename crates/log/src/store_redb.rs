//! redb backend for [`LogStore`] in its own file, `<data>/log.redb`. Each [`LogStore::commit`]
//! is one write transaction, fsynced before it returns; a failed commit leaves nothing behind
//! (redb's copy-on-write pages are only published by a successful commit), so the log's
//! in-memory state never runs ahead of the file.
//!
//! Layout: the log's bulk — full entry bundles and their level-0 tiles, which never change
//! once full — is appended to a plain file beside the database, `<name>.seg` (`log.seg`), and
//! redb keeps where each one is (table `sealed`: offset, length and checksums, 28 bytes per 256
//! entries). The partial bundle and tile at the tree's edge are one record per entry and per
//! leaf hash (tables `entries` and `leaves`), so a commit writes only what is new; when a bundle
//! fills, its records move to the segment file in the same commit. Everything else — higher
//! tiles, status buckets and nodes, idempotency records, the state — is one value per key in
//! `log`, in the shared key layout. Measured before this layout: whole values cost 2.4× the
//! entries' own bytes on disk (a growing bundle rewritten at every commit; an 8 KiB tile, one
//! page over with redb's headers, taking 16 KiB), one record per entry 2.9× (half-full b-tree
//! leaves after sequential inserts).
//!
//! A commit that fills a bundle first writes the bundle and tile at the segment's recorded end
//! and fsyncs them, then commits the redb transaction that records them: a crash or a full disk
//! between the two leaves only unrecorded bytes past the end, which the next open cuts off.
//!
//! After an I/O error (a full disk) redb refuses every further operation until the database is
//! opened again; [`RedbStore`] does that by itself on the next write, so writes resume when space
//! returns, without restarting the process. Memory is redb's page cache, bounded in bytes.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::store::{Commit, K_ENTRY, K_TILE, LogStore, StoreError, commit_ops, io_is_full};

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("log");
/// Entry index → entry bytes.
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
/// Entry index → its leaf hash.
const LEAVES: TableDefinition<u64, &[u8]> = TableDefinition::new("leaves");
/// Bundle index → where its full bundle and level-0 tile sit in the segment file.
const SEALED: TableDefinition<u64, &[u8]> = TableDefinition::new("sealed");
/// Key in `log` of the segment file's committed length.
const K_SEG_END: &[u8] = b"g";
const WIDTH: u64 = 256;
/// A full level-0 tile: 256 hashes.
const FULL_TILE: usize = 32 * WIDTH as usize;

/// A full bundle and its tile in the segment file: the bundle's bytes at `offset`, the tile's
/// right after them.
#[derive(Debug, Clone, Copy)]
struct Sealed {
    offset: u64,
    bundle_len: u32,
    bundle_crc: u32,
    tile_crc: u32,
}

impl Sealed {
    const LEN: usize = 20;
    fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[..8].copy_from_slice(&self.offset.to_le_bytes());
        b[8..12].copy_from_slice(&self.bundle_len.to_le_bytes());
        b[12..16].copy_from_slice(&self.bundle_crc.to_le_bytes());
        b[16..].copy_from_slice(&self.tile_crc.to_le_bytes());
        b
    }
    fn decode(b: &[u8]) -> Result<Self, StoreError> {
        let b: &[u8; Self::LEN] = b.try_into().map_err(|_| {
            StoreError::Damaged("a sealed-bundle record of the wrong length".into())
        })?;
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut off = [0u8; 8];
        off.copy_from_slice(&b[..8]);
        Ok(Self {
            offset: u64::from_le_bytes(off),
            bundle_len: u32_at(8),
            bundle_crc: u32_at(12),
            tile_crc: u32_at(16),
        })
    }
    fn end(&self) -> u64 {
        self.offset + u64::from(self.bundle_len) + FULL_TILE as u64
    }
}

/// Bytes the room check writes: room for many batches (a full bundle of typical labels is
/// ≈ 60 KB, its tile 8 KiB, plus the database pages a commit copies), so a store at the edge
/// of a full disk is not declared healthy while most of its appends would still fail.
const ROOM_PROBE: usize = 4 * 1024 * 1024;

/// The segment file beside the database (`log.redb` → `log.seg`).
fn segment_path(db: &Path) -> PathBuf {
    db.with_extension("seg")
}

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
            if !value.len().is_multiple_of(32) || value.len() > 32 * WIDTH as usize {
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
    /// The segment file of full bundles and tiles (appended only by commits, which the log
    /// makes one at a time).
    segment: File,
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
        tx.open_table(SEALED).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(db)
    })
}

fn io(what: &str, e: &std::io::Error) -> StoreError {
    if io_is_full(e) {
        StoreError::Full(format!("{what}: {e}"))
    } else {
        StoreError::Io(format!("{what}: {e}"))
    }
}

/// The segment file's committed length, as the database records it.
fn segment_end(t: &impl ReadableTable<&'static [u8], &'static [u8]>) -> Result<u64, StoreError> {
    match t.get(K_SEG_END).map_err(err)? {
        None => Ok(0),
        Some(v) => {
            let v = unseal(K_SEG_END, v.value())?;
            let b: [u8; 8] = v
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Damaged("the segment length record".into()))?;
            Ok(u64::from_le_bytes(b))
        }
    }
}

/// Open the segment file and check it against the database: shorter than recorded is damage
/// (refused), longer is what an interrupted commit wrote and never recorded (cut off).
fn open_segment(db: &Database, path: &Path) -> Result<File, StoreError> {
    let (end, fresh) = guarded("log.redb", || {
        let rt = db.begin_read().map_err(err)?;
        let t = rt.open_table(TABLE).map_err(err)?;
        Ok((segment_end(&t)?, t.is_empty().map_err(err)?))
    })?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(end == 0)
        .truncate(false)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StoreError::Damaged(format!(
                    "{} is missing: the database records {end} bytes of full bundles in it",
                    path.display()
                ))
            } else {
                io(&path.display().to_string(), &e)
            }
        })?;
    let len = file
        .metadata()
        .map_err(|e| io(&path.display().to_string(), &e))?
        .len();
    if len < end {
        return Err(StoreError::Damaged(format!(
            "{} holds {len} bytes; the database records {end}",
            path.display()
        )));
    }
    if fresh && len > 0 {
        // an empty database beside a segment file full of entries: the database was lost,
        // and cutting the segment file would lose the entries too
        return Err(StoreError::Damaged(format!(
            "{} holds {len} bytes of entries but the database beside it is empty (lost?): restore both files from a backup, or move {} aside to start a new log",
            path.display(),
            path.display()
        )));
    }
    if len > end {
        file.set_len(end)
            .map_err(|e| io(&path.display().to_string(), &e))?;
    }
    Ok(file)
}

impl RedbStore {
    /// Open (or create) the log file at `path` with a page cache of `cache_bytes`.
    ///
    /// # Errors
    /// [`StoreError::Redb`] (the file is locked by another process, damaged, or unreadable).
    pub fn open(path: impl Into<PathBuf>, cache_bytes: usize) -> Result<Self, StoreError> {
        let path = path.into();
        let db = open(&path, cache_bytes)?;
        let segment = open_segment(&db, &segment_path(&path))?;
        Ok(Self {
            path,
            cache_bytes,
            segment,
            db: RwLock::new(Some(db)),
        })
    }

    /// The database file of this store.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Both files of a store whose database is `db` (the database, then the segment file):
    /// what to move or copy together.
    #[must_use]
    pub fn files(db: &Path) -> [PathBuf; 2] {
        [db.to_path_buf(), segment_path(db)]
    }

    /// Read `len` bytes of the segment file at `offset`, checked against `crc`.
    fn read_segment(
        &self,
        offset: u64,
        len: usize,
        crc: u32,
        what: &str,
    ) -> Result<Vec<u8>, StoreError> {
        let mut buf = vec![0u8; len];
        self.segment.read_exact_at(&mut buf, offset).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                StoreError::Damaged(format!("the segment file ends inside {what}"))
            } else {
                io("reading the segment file", &e)
            }
        })?;
        if crc32fast::hash(&buf) != crc {
            return Err(StoreError::Damaged(format!(
                "checksum mismatch for {what} in the segment file"
            )));
        }
        Ok(buf)
    }

    /// Where bundle `n` is sealed, if it is.
    fn sealed(rt: &redb::ReadTransaction, n: u64) -> Result<Option<Sealed>, StoreError> {
        let t = rt.open_table(SEALED).map_err(err)?;
        let v = t.get(n).map_err(err)?;
        v.map(|v| Sealed::decode(&unseal(&record_key(b'S', n), v.value())?))
            .transpose()
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
                    if let Some(s) = Self::sealed(&rt, n)? {
                        let at = s.offset + u64::from(s.bundle_len);
                        let what = format!("level-0 tile {n}");
                        return self
                            .read_segment(at, FULL_TILE, s.tile_crc, &what)
                            .map(Some);
                    }
                    let t = rt.open_table(LEAVES).map_err(err)?;
                    let hashes = read_range(&t, b'L', span(n)?)?;
                    Ok((!hashes.is_empty()).then(|| hashes.concat()))
                }
                Slot::Entries(n) => {
                    if let Some(s) = Self::sealed(&rt, n)? {
                        let what = format!("entry bundle {n}");
                        let len = s.bundle_len as usize;
                        return self
                            .read_segment(s.offset, len, s.bundle_crc, &what)
                            .map(Some);
                    }
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
        // Bundles this commit fills, with their full tiles: they go to the segment file.
        let full: std::collections::BTreeMap<u64, (&[u8], &[u8])> = commit
            .bundles
            .iter()
            .filter_map(|(n, bundle)| {
                let tile = commit
                    .tiles
                    .iter()
                    .find(|(level, i, t)| *level == 0 && i == n && t.len() == FULL_TILE)?;
                let count = cyberlabel_core::tiles::parse_entry_bundle(bundle)
                    .ok()?
                    .len();
                (count == WIDTH as usize).then_some((*n, (bundle.as_slice(), tile.2.as_slice())))
            })
            .collect();
        self.with_db(|db| {
            let tx = db.begin_write().map_err(err)?;
            let mut sealed_now = Vec::new();
            if !full.is_empty() {
                let mut sealed = tx.open_table(SEALED).map_err(err)?;
                let mut log = tx.open_table(TABLE).map_err(err)?;
                let mut end = segment_end(&log)?;
                let start = end;
                let mut bytes = Vec::new();
                for (&n, &(bundle, tile)) in &full {
                    if sealed.get(n).map_err(err)?.is_some() {
                        continue; // sealed by an earlier commit: full bundles never change
                    }
                    let record = Sealed {
                        offset: end,
                        bundle_len: u32::try_from(bundle.len())
                            .map_err(|_| StoreError::Corrupt("an entry bundle over 4 GiB"))?,
                        bundle_crc: crc32fast::hash(bundle),
                        tile_crc: crc32fast::hash(tile),
                    };
                    bytes.extend_from_slice(bundle);
                    bytes.extend_from_slice(tile);
                    end = record.end();
                    let key = record_key(b'S', n);
                    sealed
                        .insert(n, seal(&key, &record.encode()).as_slice())
                        .map_err(err)?;
                    sealed_now.push(n);
                }
                if !bytes.is_empty() {
                    // durable before the transaction that points at it
                    self.segment
                        .write_all_at(&bytes, start)
                        .and_then(|()| self.segment.sync_data())
                        .map_err(|e| io("writing the segment file", &e))?;
                    log.insert(K_SEG_END, seal(K_SEG_END, &end.to_le_bytes()).as_slice())
                        .map_err(err)?;
                }
            }
            for (k, v) in &ops {
                if let Slot::Entries(n) | Slot::Leaves(n) = slot(k)
                    && full.contains_key(&n)
                {
                    continue;
                }
                write_pair(&tx, k, v)?;
            }
            if !sealed_now.is_empty() {
                // the tail records of a sealed bundle are now in the segment file
                let mut entries = tx.open_table(ENTRIES).map_err(err)?;
                let mut leaves = tx.open_table(LEAVES).map_err(err)?;
                for &n in &sealed_now {
                    for i in span(n)? {
                        entries.remove(i).map_err(err)?;
                        leaves.remove(i).map_err(err)?;
                    }
                }
            }
            tx.commit().map_err(err)
        })
    }

    fn failed_commit_changes_nothing(&self) -> bool {
        true
    }

    /// Writes and syncs [`ROOM_PROBE`] bytes past the segment file's end, then cuts them off:
    /// what the next sealed bundle needs (readers never look past the recorded end, and bytes
    /// left there by a crash are cut at open).
    fn has_room(&self) -> Result<(), StoreError> {
        let len = self
            .segment
            .metadata()
            .map_err(|e| io("reading the segment file's length", &e))?
            .len();
        let wrote = self
            .segment
            .write_all_at(&vec![0u8; ROOM_PROBE], len)
            .and_then(|()| self.segment.sync_data());
        let cut = self.segment.set_len(len);
        wrote.map_err(|e| io("checking for room beside the log", &e))?;
        cut.map_err(|e| io("cutting the room check off the segment file", &e))
    }

    fn size_on_disk(&self) -> u64 {
        Self::files(&self.path)
            .iter()
            .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
            .sum()
    }
}
