//! The public register: every label the log holds, searchable by manufacturer, model, words,
//! scheme, level, category, status and issue date, with each label's history.
//!
//! It is derived state. [`Register::follow`] folds the log's entries into sled trees beside the
//! log with core's rules ([`cyberlabel_core::register::apply`], the same fold an auditor or a
//! test recomputes), up to a stored watermark written after the data, so a crash re-applies a
//! few entries (the fold is idempotent) and never skips one. [`Register::rebuild`] throws the
//! trees away and derives them again from the entries alone; [`Register::check`] recomputes
//! them and compares, and compares every state with the log's status map.
//!
//! Stored in its own redb database, `<data_dir>/register.redb` (a derived file: delete it and
//! the server derives it again). Tables: `listings` (index → listing JSON), `keys` (search keys
//! with an empty value), `manufacturers` (page slug → name and label count), `dirty` (page slug →
//! the watermark of its last change: what the static copy rewrites) and `meta` (the watermark).
//! A fold step is one write transaction, so the register is always at a step boundary; steps
//! commit without fsync and the last step of a catch-up with it — after a crash the register
//! is at an older boundary and folds again from there.
//!
//! A search key is `kind, epoch, text, 0, index`: kinds `m` manufacturer, `p` product, `w` word,
//! `g` manufacturer page, `s` scheme and level, `t` state other than active; `epoch` is the
//! label's index / 65,536 (4 bytes). Partitioning by epoch keeps the keys a fold writes in one
//! small, cached part of the tree whatever the log's size (unpartitioned, random inserts made
//! the fold 4× slower at a million labels); a search walks a key range epoch by epoch, newest
//! first, and stops after [`MAX_SCAN`] candidates with a cursor to go on.
//! `shards` renders the static files the object store gets.

mod shards;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use cyberlabel_core::cose;
use cyberlabel_core::register::{self, Listing, Listings, Query};
use cyberlabel_core::status::State;
use cyberlabel_core::tiles::{self, TileKind, TilePath};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};
use serde::{Deserialize, Serialize};

pub use shards::{ListingView, ManufacturerEntry, ManufacturerList, ManufacturerPage, shard_of};

use crate::AppState;
use crate::ledger::Ledger;

/// Most candidates one search examines before it answers with a cursor.
pub const MAX_SCAN: usize = 5_000;
/// Most results one page returns.
pub const MAX_LIMIT: usize = 100;
/// Entries folded per write transaction (one entry bundle).
const CHUNK: u64 = 256;
/// Labels per key epoch: 2^16.
const EPOCH_BITS: u32 = 16;
/// redb's page cache (the register's memory beyond what a request holds).
const CACHE_BYTES: usize = 16 << 20;

const LISTINGS: TableDefinition<u64, &[u8]> = TableDefinition::new("listings");
const KEYS: TableDefinition<&[u8], ()> = TableDefinition::new("keys");
const MFRS: TableDefinition<&str, &[u8]> = TableDefinition::new("manufacturers");
const DIRTY: TableDefinition<&str, u64> = TableDefinition::new("dirty");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const WATERMARK: &str = "indexed_size";

/// Register failures.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The store failed (or its file is damaged: delete it, or `cyberlabel register rebuild`).
    #[error("register store: {0}")]
    Store(String),
    /// The log could not be read.
    #[error("reading the log: {0}")]
    Log(String),
    /// A stored listing does not decode (damaged store: rebuild).
    #[error("stored listing {0} does not decode (run `cyberlabel register rebuild`)")]
    Damaged(u64),
    /// Another process has the register's file open.
    #[error("the register {0} is open in another process")]
    Locked(String),
    /// A cursor that this register did not hand out.
    #[error("bad cursor")]
    BadCursor,
    /// A search criterion that cannot match anything as given.
    #[error("{0}")]
    BadQuery(String),
    /// What [`Register::check`] found.
    #[error("register differs from the log: {0}")]
    Mismatch(String),
}

fn store<E: Into<redb::Error>>(e: E) -> RegisterError {
    RegisterError::Store(e.into().to_string())
}

/// One page of search results.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// Entries of the log the register has folded in (results reflect the log up to here).
    pub indexed_size: u64,
    /// Matching labels: newest epoch first, within one in key order, newest first per key.
    pub results: Vec<Listing>,
    /// Cursor for the next page, if the range goes on.
    pub next: Option<String>,
    /// Candidates examined.
    pub scanned: usize,
}

struct Walk {
    next: Option<String>,
    scanned: usize,
}

#[derive(Serialize, Deserialize)]
struct MfrValue {
    name: String,
    labels: u64,
}

/// The public register (cheap to clone).
#[derive(Clone)]
pub struct Register {
    db: Arc<Database>,
    // One folder at a time: the background task and a search catching up.
    folding: Arc<Mutex<()>>,
}

fn epoch(index: u64) -> [u8; 4] {
    u32::try_from(index >> EPOCH_BITS)
        .unwrap_or(u32::MAX)
        .to_be_bytes()
}

fn push_key(out: &mut BTreeSet<Vec<u8>>, kind: u8, text: &[u8], index: u64) {
    let mut k = Vec::with_capacity(text.len() + 14);
    k.push(kind);
    k.extend_from_slice(&epoch(index));
    k.extend_from_slice(text);
    k.push(0);
    k.extend_from_slice(&index.to_be_bytes());
    out.insert(k);
}

/// Every search key of a listing.
fn keys_of(l: &Listing) -> BTreeSet<Vec<u8>> {
    let mut out = BTreeSet::new();
    let i = l.index;
    push_key(
        &mut out,
        b'm',
        register::fold(&l.manufacturer).as_bytes(),
        i,
    );
    push_key(&mut out, b'p', register::fold(&l.product).as_bytes(), i);
    push_key(
        &mut out,
        b'g',
        register::slug(&l.manufacturer).as_bytes(),
        i,
    );
    for w in register::words(l) {
        push_key(&mut out, b'w', w.as_bytes(), i);
    }
    let mut scheme = l.scheme.as_bytes().to_vec();
    scheme.push(0);
    scheme.push(l.level);
    push_key(&mut out, b's', &scheme, i);
    if l.state != State::Active {
        push_key(&mut out, b't', &[l.state as u8], i);
    }
    out
}

fn index_at_end(k: &[u8]) -> Result<u64, RegisterError> {
    k.len()
        .checked_sub(8)
        .and_then(|at| k.get(at..))
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or(RegisterError::Damaged(0))
}

/// The smallest key greater than every key starting with `prefix` (`None`: no bound).
fn after_prefix(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut p = prefix.to_vec();
    while let Some(last) = p.pop() {
        if last < 0xff {
            p.push(last + 1);
            return Some(p);
        }
    }
    None
}

/// The entry bundle holding entry `at` of a log of `size` entries: (bundle number, the index
/// after its last entry, its bytes).
fn read_bundle(ledger: &Ledger, at: u64, size: u64) -> Result<(u64, u64, Vec<u8>), RegisterError> {
    let bundle = at / CHUNK;
    let end = size.min((bundle + 1) * CHUNK);
    let path = TilePath {
        kind: TileKind::Entries,
        index: bundle,
        width: u16::try_from(end - bundle * CHUNK)
            .map_err(|_| RegisterError::Log("bundle width".into()))?,
    };
    let bytes = ledger
        .tile(&path)
        .map_err(|e| RegisterError::Log(e.to_string()))?
        .ok_or_else(|| RegisterError::Log(format!("{} is missing", path.to_path())))?;
    Ok((bundle, end, bytes))
}

fn decode(index: u64, bytes: &[u8]) -> Result<Listing, RegisterError> {
    serde_json::from_slice(bytes).map_err(|_| RegisterError::Damaged(index))
}

/// One fold step: core's fold writing straight into a write transaction's tables, the search
/// keys moved with each listing.
struct Step<'t> {
    listings: redb::Table<'t, u64, &'static [u8]>,
    keys: redb::Table<'t, &'static [u8], ()>,
    mfrs: redb::Table<'t, &'static str, &'static [u8]>,
    dirty: redb::Table<'t, &'static str, u64>,
    upto: u64,
}

impl Listings for Step<'_> {
    type Error = RegisterError;
    fn get(&mut self, index: u64) -> Result<Option<Listing>, RegisterError> {
        match self.listings.get(index).map_err(store)? {
            Some(v) => decode(index, v.value()).map(Some),
            None => Ok(None),
        }
    }
    fn put(&mut self, listing: Listing) -> Result<(), RegisterError> {
        let before = self.get(listing.index)?;
        let old = before.as_ref().map(keys_of).unwrap_or_default();
        let new = keys_of(&listing);
        for k in old.difference(&new) {
            self.keys.remove(k.as_slice()).map_err(store)?;
        }
        for k in new.difference(&old) {
            self.keys.insert(k.as_slice(), ()).map_err(store)?;
        }
        let json = serde_json::to_vec(&listing)
            .map_err(|e| RegisterError::Store(format!("encoding a listing: {e}")))?;
        self.listings
            .insert(listing.index, json.as_slice())
            .map_err(store)?;
        let slug = register::slug(&listing.manufacturer);
        if before.is_none() {
            let mut m = match self.mfrs.get(slug.as_str()).map_err(store)? {
                Some(v) => serde_json::from_slice(v.value()).map_err(|_| {
                    RegisterError::Mismatch(format!("manufacturer {slug} does not decode"))
                })?,
                None => MfrValue {
                    name: listing.manufacturer.clone(),
                    labels: 0,
                },
            };
            m.labels += 1;
            let json = serde_json::to_vec(&m)
                .map_err(|e| RegisterError::Store(format!("encoding {slug}: {e}")))?;
            self.mfrs
                .insert(slug.as_str(), json.as_slice())
                .map_err(store)?;
        }
        // what the static copy must rewrite: this label's manufacturer page
        self.dirty.insert(slug.as_str(), self.upto).map_err(store)?;
        Ok(())
    }
}

impl Register {
    /// Opens (creating) the register's database file. A file that does not open as a redb
    /// database is an error naming it; the register is derived, so deleting it (or
    /// [`Register::open_empty`]) loses nothing.
    ///
    /// # Errors
    /// The store's.
    pub fn open(path: &Path) -> Result<Self, RegisterError> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    RegisterError::Locked(path.display().to_string())
                }
                e => RegisterError::Store(format!("{}: {e}", path.display())),
            })?;
        let reg = Self {
            db: Arc::new(db),
            folding: Arc::default(),
        };
        reg.create_tables()?;
        Ok(reg)
    }

    /// Deletes the register's file and opens an empty one (a rebuild that does not trust what
    /// was there).
    ///
    /// # Errors
    /// The file could not be removed, or as [`Register::open`].
    pub fn open_empty(path: &Path) -> Result<Self, RegisterError> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(RegisterError::Store(format!(
                    "removing {}: {e}",
                    path.display()
                )));
            }
        }
        Self::open(path)
    }

    fn create_tables(&self) -> Result<(), RegisterError> {
        let tx = self.db.begin_write().map_err(store)?;
        tx.open_table(LISTINGS).map_err(store)?;
        tx.open_table(KEYS).map_err(store)?;
        tx.open_table(MFRS).map_err(store)?;
        tx.open_table(DIRTY).map_err(store)?;
        tx.open_table(META).map_err(store)?;
        tx.commit().map_err(store)
    }

    /// Entries of the log folded in so far.
    ///
    /// # Errors
    /// The store's.
    pub fn indexed_size(&self) -> Result<u64, RegisterError> {
        let rt = self.db.begin_read().map_err(store)?;
        let meta = rt.open_table(META).map_err(store)?;
        Ok(meta.get(WATERMARK).map_err(store)?.map_or(0, |v| v.value()))
    }

    /// The listing of the label at `index`.
    ///
    /// # Errors
    /// The store's; [`RegisterError::Damaged`].
    pub fn listing(&self, index: u64) -> Result<Option<Listing>, RegisterError> {
        let rt = self.db.begin_read().map_err(store)?;
        let t = rt.open_table(LISTINGS).map_err(store)?;
        match t.get(index).map_err(store)? {
            Some(v) => decode(index, v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Stores `listing` as given, without its search keys or any check — for tests that damage
    /// the register on purpose ([`Register::check`] then reports it).
    ///
    /// # Errors
    /// The store's.
    pub fn write_listing_unchecked(&self, listing: &Listing) -> Result<(), RegisterError> {
        let tx = self.db.begin_write().map_err(store)?;
        {
            let mut t = tx.open_table(LISTINGS).map_err(store)?;
            let json =
                serde_json::to_vec(listing).map_err(|e| RegisterError::Store(e.to_string()))?;
            t.insert(listing.index, json.as_slice()).map_err(store)?;
        }
        tx.commit().map_err(store)
    }

    /// Fold the entries `[indexed_size, size)` of the log in (one entry bundle per write
    /// transaction, the last one made durable), calling `progress(done)` after each.
    ///
    /// # Errors
    /// A log read or the store failed; what was written stays consistent and is resumed.
    pub fn follow(
        &self,
        ledger: &Ledger,
        size: u64,
        progress: &dyn Fn(u64),
    ) -> Result<u64, RegisterError> {
        let mut at = self.indexed_size()?;
        while at < size {
            let (bundle, end, bytes) = read_bundle(ledger, at, size)?;
            let entries = tiles::parse_entry_bundle(&bytes)
                .map_err(|e| RegisterError::Log(format!("entry bundle {bundle}: {e}")))?;
            let first = bundle * CHUNK;
            self.fold_entries(
                entries
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (first + i as u64, *e))
                    .filter(|(i, _)| *i >= at),
                end,
                end >= size,
            )?;
            at = end;
            progress(at);
        }
        Ok(at)
    }

    /// Fold `entries` (index, bytes) in and set the watermark to `upto`, in one write
    /// transaction (fsynced if `durable`). Entries that are not labels or status records (trust
    /// lists) change nothing.
    ///
    /// # Errors
    /// The store's.
    pub fn fold_entries<'e>(
        &self,
        entries: impl Iterator<Item = (u64, &'e [u8])>,
        upto: u64,
        durable: bool,
    ) -> Result<(), RegisterError> {
        let mut tx = self.db.begin_write().map_err(store)?;
        tx.set_durability(if durable {
            Durability::Immediate
        } else {
            Durability::None
        })
        .map_err(|e| RegisterError::Store(e.to_string()))?;
        {
            let mut step = Step {
                listings: tx.open_table(LISTINGS).map_err(store)?,
                keys: tx.open_table(KEYS).map_err(store)?,
                mfrs: tx.open_table(MFRS).map_err(store)?,
                dirty: tx.open_table(DIRTY).map_err(store)?,
                upto,
            };
            for (index, bytes) in entries {
                if let Ok(entry) = cose::decode_entry(bytes) {
                    register::apply(&mut step, index, &entry)?;
                }
            }
            let mut meta = tx.open_table(META).map_err(store)?;
            meta.insert(WATERMARK, upto).map_err(store)?;
        }
        tx.commit().map_err(store)
    }

    /// Fold in what the log appended since, at most `most` entries (one folder at a time).
    ///
    /// # Errors
    /// As [`Register::follow`].
    pub fn catch_up(&self, ledger: &Ledger, most: u64) -> Result<u64, RegisterError> {
        let _one = self
            .folding
            .lock()
            .map_err(|_| RegisterError::Log("a register fold panicked".into()))?;
        let size = ledger
            .size()
            .map_err(|e| RegisterError::Log(e.to_string()))?;
        let at = self.indexed_size()?;
        self.follow(ledger, size.min(at.saturating_add(most)), &|_| {})
    }

    /// Manufacturer pages changed by entries at or after `since` (a watermark), and the
    /// watermark now.
    ///
    /// # Errors
    /// The store's.
    pub fn changed_since(&self, since: u64) -> Result<(Vec<String>, u64), RegisterError> {
        let now = self.indexed_size()?;
        let rt = self.db.begin_read().map_err(store)?;
        let dirty = rt.open_table(DIRTY).map_err(store)?;
        let mut out = Vec::new();
        for item in dirty.iter().map_err(store)? {
            let (k, v) = item.map_err(store)?;
            if v.value() > since {
                out.push(k.value().to_owned());
            }
        }
        Ok((out, now))
    }

    /// Throw the derived tables away (then [`Register::follow`] from entry 0).
    ///
    /// # Errors
    /// The store's.
    pub fn clear(&self) -> Result<(), RegisterError> {
        let tx = self.db.begin_write().map_err(store)?;
        tx.delete_table(LISTINGS).map_err(store)?;
        tx.delete_table(KEYS).map_err(store)?;
        tx.delete_table(MFRS).map_err(store)?;
        tx.delete_table(DIRTY).map_err(store)?;
        tx.delete_table(META).map_err(store)?;
        tx.commit().map_err(store)?;
        self.create_tables()
    }

    /// [`Register::clear`], then derive everything again from the log's entries.
    ///
    /// # Errors
    /// As [`Register::follow`].
    pub fn rebuild(&self, ledger: &Ledger, progress: &dyn Fn(u64)) -> Result<u64, RegisterError> {
        self.clear()?;
        let size = ledger
            .size()
            .map_err(|e| RegisterError::Log(e.to_string()))?;
        self.follow(ledger, size, progress)
    }

    /// Recompute the register from the log's entries (in memory, with core's fold) and compare
    /// it with the stored one: every listing, every search key, the manufacturer counts, and
    /// each label's state with the log's status map. Returns the labels checked.
    ///
    /// # Errors
    /// [`RegisterError::Mismatch`] naming the first difference.
    pub fn check(&self, ledger: &Ledger) -> Result<u64, RegisterError> {
        let upto = self.indexed_size()?;
        let mut fresh = register::MemoryRegister::default();
        let mut at = 0;
        while at < upto {
            let (bundle, end, bytes) = read_bundle(ledger, at, upto)?;
            let entries = tiles::parse_entry_bundle(&bytes)
                .map_err(|e| RegisterError::Log(format!("entry bundle {bundle}: {e}")))?;
            for (i, e) in entries.iter().enumerate() {
                if let Ok(entry) = cose::decode_entry(e) {
                    let Ok(()) = register::apply(&mut fresh, bundle * CHUNK + i as u64, &entry);
                }
            }
            at = end;
        }
        let rt = self.db.begin_read().map_err(store)?;
        let listings = rt.open_table(LISTINGS).map_err(store)?;
        let keys = rt.open_table(KEYS).map_err(store)?;
        let mfrs = rt.open_table(MFRS).map_err(store)?;
        let stored = listings.len().map_err(store)?;
        if stored != fresh.0.len() as u64 {
            return Err(RegisterError::Mismatch(format!(
                "{stored} listings stored, {} in the log",
                fresh.0.len()
            )));
        }
        let mut want_keys = 0u64;
        let mut counts: std::collections::HashMap<String, u64> = Default::default();
        for (index, want) in &fresh.0 {
            let got = match listings.get(*index).map_err(store)? {
                Some(v) => decode(*index, v.value())?,
                None => {
                    return Err(RegisterError::Mismatch(format!("label {index} is missing")));
                }
            };
            if &got != want {
                return Err(RegisterError::Mismatch(format!("label {index} differs")));
            }
            let (state, reason) = ledger
                .status(*index)
                .map_err(|e| RegisterError::Log(e.to_string()))?;
            if (state, reason) != (got.state, got.reason) {
                return Err(RegisterError::Mismatch(format!(
                    "label {index} is {} in the register and {} in the log's status map",
                    got.state.name(),
                    state.name()
                )));
            }
            for k in keys_of(want) {
                if keys.get(k.as_slice()).map_err(store)?.is_none() {
                    return Err(RegisterError::Mismatch(format!(
                        "label {index} lacks a search key"
                    )));
                }
                want_keys += 1;
            }
            *counts
                .entry(register::slug(&want.manufacturer))
                .or_default() += 1;
        }
        let stored_keys = keys.len().map_err(store)?;
        if stored_keys != want_keys {
            return Err(RegisterError::Mismatch(format!(
                "{stored_keys} search keys stored, {want_keys} expected"
            )));
        }
        for (slug, n) in &counts {
            let got = self.manufacturer(slug)?.map_or(0, |m| m.labels);
            if got != *n {
                return Err(RegisterError::Mismatch(format!(
                    "manufacturer {slug}: {got} labels counted, {n} in the log"
                )));
            }
        }
        if mfrs.len().map_err(store)? != counts.len() as u64 {
            return Err(RegisterError::Mismatch("manufacturer list differs".into()));
        }
        Ok(fresh.0.len() as u64)
    }

    /// A manufacturer page's name and label count.
    ///
    /// # Errors
    /// The store's.
    pub fn manufacturer(&self, slug: &str) -> Result<Option<ManufacturerEntry>, RegisterError> {
        let rt = self.db.begin_read().map_err(store)?;
        let mfrs = rt.open_table(MFRS).map_err(store)?;
        let Some(v) = mfrs.get(slug).map_err(store)? else {
            return Ok(None);
        };
        let v: MfrValue = serde_json::from_slice(v.value())
            .map_err(|_| RegisterError::Mismatch(format!("manufacturer {slug}")))?;
        Ok(Some(ManufacturerEntry {
            slug: slug.to_owned(),
            name: v.name,
            labels: v.labels,
        }))
    }

    /// Manufacturers whose page slug starts with `prefix`, in slug order, at most `limit`.
    ///
    /// # Errors
    /// The store's.
    pub fn manufacturers(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<ManufacturerEntry>, RegisterError> {
        let rt = self.db.begin_read().map_err(store)?;
        let mfrs = rt.open_table(MFRS).map_err(store)?;
        let mut out = Vec::new();
        for item in mfrs.range(prefix..).map_err(store)? {
            let (k, v) = item.map_err(store)?;
            let slug = k.value();
            if !slug.starts_with(prefix) || out.len() >= limit {
                break;
            }
            let v: MfrValue = serde_json::from_slice(v.value())
                .map_err(|_| RegisterError::Mismatch("manufacturer list".into()))?;
            out.push(ManufacturerEntry {
                slug: slug.to_owned(),
                name: v.name,
                labels: v.labels,
            });
        }
        Ok(out)
    }

    /// Search. `cursor` is a page's `next`; `limit` is capped at [`MAX_LIMIT`].
    ///
    /// # Errors
    /// [`RegisterError::BadCursor`], [`RegisterError::BadQuery`], the store's.
    pub fn search(
        &self,
        q: &Query,
        cursor: Option<&str>,
        limit: usize,
        now: u64,
    ) -> Result<Page, RegisterError> {
        if let Some(s) = q.status.as_deref()
            && !register::STATUS_NAMES.contains(&s)
        {
            return Err(RegisterError::BadQuery(format!(
                "status must be one of {}",
                register::STATUS_NAMES.join(", ")
            )));
        }
        let limit = limit.clamp(1, MAX_LIMIT);
        let indexed_size = self.indexed_size()?;
        let rt = self.db.begin_read().map_err(store)?;
        let listings = rt.open_table(LISTINGS).map_err(store)?;
        let keys = rt.open_table(KEYS).map_err(store)?;
        let range = self.driving_range(&keys, q, indexed_size)?;
        let mut results: Vec<Listing> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut visit = |index: u64, stored: Option<&[u8]>| {
            if seen.insert(index) {
                let listing = match stored {
                    Some(v) => Some(decode(index, v)?),
                    None => match listings.get(index).map_err(store)? {
                        Some(v) => Some(decode(index, v.value())?),
                        None => None,
                    },
                };
                if let Some(l) = listing
                    && q.matches(&l, now)
                {
                    results.push(l);
                }
            }
            Ok(results.len() < limit)
        };
        let walk = match range {
            Some(kind_text) => walk_keys(&keys, &kind_text, indexed_size, cursor, &mut visit)?,
            None => walk_listings(&listings, cursor, &mut visit)?,
        };
        Ok(Page {
            indexed_size,
            results,
            next: walk.next,
            scanned: walk.scanned,
        })
    }

    /// The key range (kind and text) a search walks: of the ranges its criteria name (each
    /// word, manufacturer, model, a non-active status, scheme and level), the one with the
    /// fewest keys, counted up to [`MAX_SCAN`]; `None` (every listing, newest first) with no
    /// criterion.
    fn driving_range(
        &self,
        keys: &redb::ReadOnlyTable<&'static [u8], ()>,
        q: &Query,
        indexed_size: u64,
    ) -> Result<Option<Vec<u8>>, RegisterError> {
        let mut ranges: Vec<Vec<u8>> = Vec::new();
        let key = |kind: u8, text: &[u8]| {
            let mut k = vec![kind];
            k.extend_from_slice(text);
            k
        };
        for w in q.query_words() {
            ranges.push(key(b'w', w.as_bytes()));
        }
        if let Some(m) = &q.manufacturer {
            ranges.push(key(b'm', register::fold(m).as_bytes()));
        }
        if let Some(m) = &q.model {
            ranges.push(key(b'p', register::fold(m).as_bytes()));
        }
        if let Some(state) = q.status.as_deref().and_then(|s| match s {
            "suspended" => Some(State::Suspended),
            "revoked" => Some(State::Revoked),
            "superseded" => Some(State::Superseded),
            _ => None,
        }) {
            ranges.push(vec![b't', state as u8, 0]);
        }
        if let Some(s) = &q.scheme {
            let mut k = key(b's', s.as_bytes());
            k.push(0);
            if let Some(l) = q.level {
                k.push(l);
                k.push(0);
            }
            ranges.push(k);
        }
        if ranges.len() <= 1 {
            return Ok(ranges.pop());
        }
        let mut best: Option<(usize, Vec<u8>)> = None;
        for r in ranges {
            let cap = best.as_ref().map_or(MAX_SCAN, |(n, _)| *n);
            let mut n = 0;
            walk_keys(keys, &r, indexed_size, None, &mut |_, _| {
                n += 1;
                Ok(n < cap)
            })?;
            if best.as_ref().is_none_or(|(b, _)| n < *b) {
                best = Some((n, r));
            }
        }
        Ok(best.map(|(_, r)| r))
    }

    /// Every label on a manufacturer's page, newest first, from `cursor` on.
    ///
    /// # Errors
    /// As [`Register::search`].
    pub fn manufacturer_labels(
        &self,
        slug: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page, RegisterError> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let indexed_size = self.indexed_size()?;
        let rt = self.db.begin_read().map_err(store)?;
        let listings = rt.open_table(LISTINGS).map_err(store)?;
        let keys = rt.open_table(KEYS).map_err(store)?;
        let mut kind_text = vec![b'g'];
        kind_text.extend_from_slice(slug.as_bytes());
        kind_text.push(0);
        let mut results = Vec::new();
        let walk = walk_keys(&keys, &kind_text, indexed_size, cursor, &mut |index, _| {
            if let Some(v) = listings.get(index).map_err(store)? {
                results.push(decode(index, v.value())?);
            }
            Ok(results.len() < limit)
        })?;
        Ok(Page {
            indexed_size,
            results,
            next: walk.next,
            scanned: walk.scanned,
        })
    }
}

type Visit<'a> = dyn FnMut(u64, Option<&[u8]>) -> Result<bool, RegisterError> + 'a;

/// Walk the search keys of `kind_text` (kind byte, then text) epoch by epoch, newest first,
/// from `cursor` (exclusive), until `visit` says stop or [`MAX_SCAN`] keys were seen.
fn walk_keys(
    keys: &redb::ReadOnlyTable<&'static [u8], ()>,
    kind_text: &[u8],
    indexed_size: u64,
    cursor: Option<&str>,
    visit: &mut Visit<'_>,
) -> Result<Walk, RegisterError> {
    let (kind, text) = kind_text.split_first().ok_or(RegisterError::BadCursor)?;
    let prefix_at = |e: u32| {
        let mut p = vec![*kind];
        p.extend_from_slice(&e.to_be_bytes());
        p.extend_from_slice(text);
        p
    };
    let newest = u32::from_be_bytes(epoch(indexed_size.saturating_sub(1)));
    let (start, mut upper) = match cursor {
        Some(c) => {
            let c = hex::decode(c).map_err(|_| RegisterError::BadCursor)?;
            let e = c
                .get(1..5)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_be_bytes)
                .ok_or(RegisterError::BadCursor)?;
            if c.first() != Some(kind) || !c.starts_with(&prefix_at(e)) || e > newest {
                return Err(RegisterError::BadCursor);
            }
            (e, Some(c))
        }
        None => (newest, None),
    };
    let mut scanned = 0;
    for e in (0..=start).rev() {
        let lo = prefix_at(e);
        let hi = match upper.take() {
            Some(u) => Some(u),
            None => after_prefix(&lo),
        };
        let range = match &hi {
            Some(h) => keys.range::<&[u8]>(lo.as_slice()..h.as_slice()),
            None => keys.range::<&[u8]>(lo.as_slice()..),
        }
        .map_err(store)?;
        for item in range.rev() {
            let (k, ()) = item.map(|(k, v)| (k, v.value())).map_err(store)?;
            let k = k.value();
            scanned += 1;
            let go_on = visit(index_at_end(k)?, None)?;
            if !go_on || scanned >= MAX_SCAN {
                // more may follow in this epoch below `k`, or in older ones
                let more_here = keys
                    .range::<&[u8]>(lo.as_slice()..k)
                    .map_err(store)?
                    .next_back()
                    .is_some();
                let next = (more_here || e > 0).then(|| hex::encode(k));
                return Ok(Walk { next, scanned });
            }
        }
    }
    Ok(Walk {
        next: None,
        scanned,
    })
}

/// Walk every listing, newest first, from `cursor` (`l` + the index, hex) on.
fn walk_listings(
    listings: &redb::ReadOnlyTable<u64, &'static [u8]>,
    cursor: Option<&str>,
    visit: &mut Visit<'_>,
) -> Result<Walk, RegisterError> {
    let upper = match cursor {
        Some(c) => {
            let c = hex::decode(c).map_err(|_| RegisterError::BadCursor)?;
            match c.split_first() {
                Some((b'l', rest)) => {
                    let b = <[u8; 8]>::try_from(rest).map_err(|_| RegisterError::BadCursor)?;
                    Some(u64::from_be_bytes(b))
                }
                _ => return Err(RegisterError::BadCursor),
            }
        }
        None => None,
    };
    let range = match upper {
        Some(u) => listings.range(..u),
        None => listings.range::<u64>(..),
    }
    .map_err(store)?;
    let mut scanned = 0;
    for item in range.rev() {
        let (k, v) = item.map_err(store)?;
        let index = k.value();
        scanned += 1;
        let go_on = visit(index, Some(v.value()))?;
        if !go_on || scanned >= MAX_SCAN {
            let more = listings
                .range(..index)
                .map_err(store)?
                .next_back()
                .is_some();
            let mut c = vec![b'l'];
            c.extend_from_slice(&index.to_be_bytes());
            return Ok(Walk {
                next: more.then(|| hex::encode(c)),
                scanned,
            });
        }
    }
    Ok(Walk {
        next: None,
        scanned,
    })
}

/// Entries the background fold takes in one step (one hold of the folding lock): a search,
/// which catches the register up itself, waits at most this long behind the background.
const FOLD_STEP: u64 = 4096;

/// How much lower than issuance the background fold runs (a nice value, Linux: per thread).
const FOLD_NICE: i32 = 10;

/// How long the background fold waits after a new checkpoint for more: under steady issuance
/// the log publishes hundreds of checkpoints a second, and each fold is a write transaction
/// with an fsync. (A search folds what it needs itself, so it never sees this delay.)
const FOLD_DELAY: std::time::Duration = std::time::Duration::from_millis(250);

type FoldRequest = (
    AppState,
    tokio::sync::oneshot::Sender<Result<u64, RegisterError>>,
);

/// Folds everything the log holds, in steps of [`FOLD_STEP`]; returns the size reached.
fn fold_all(s: &AppState) -> Result<u64, RegisterError> {
    loop {
        let at = s.register().catch_up(s.service().ledger(), FOLD_STEP)?;
        let size = s
            .service()
            .ledger()
            .size()
            .map_err(|e| RegisterError::Log(e.to_string()))?;
        if at >= size {
            return Ok(at);
        }
    }
}

/// The thread the background fold runs on, at a lower CPU priority than the rest of the
/// server: under a burst of issuance the machine's cores sign and acknowledge labels first,
/// and the register (derived, rebuildable, and caught up by every search before it answers)
/// folds them in right after. Holds no state between requests. `None` if no thread starts.
fn fold_thread() -> Option<std::sync::mpsc::Sender<FoldRequest>> {
    let (tx, rx) = std::sync::mpsc::channel::<FoldRequest>();
    std::thread::Builder::new()
        .name("cyberlabel-register".into())
        .spawn(move || {
            // `None` = the calling thread: Linux keeps a nice value per thread.
            if let Err(e) = rustix::process::setpriority_process(None, FOLD_NICE) {
                tracing::debug!(error = %e, "register fold keeps the normal priority");
            }
            while let Ok((s, reply)) = rx.recv() {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fold_all(&s)))
                    .unwrap_or_else(|_| Err(RegisterError::Log("a register fold panicked".into())));
                drop(s);
                let _ = reply.send(r);
            }
        })
        .map_err(|e| tracing::warn!(error = %e, "no register thread: folding on the blocking pool"))
        .ok()?;
    Some(tx)
}

/// Starts the task that keeps the register up with the log (after every new checkpoint, and
/// at start for whatever the log holds beyond the watermark — a whole rebuild after the trees
/// were thrown away), folding on its own low-priority thread ([`fold_thread`]) at most every
/// [`FOLD_DELAY`]. It ends when `stop` turns true.
pub fn spawn(
    state: &AppState,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    let mut stop = stop.clone();
    let mut wake = state.service().ledger().subscribe();
    let folder = fold_thread();
    tokio::spawn(async move {
        loop {
            let s = state.clone();
            let done = match &folder {
                Some(tx) => {
                    let (reply, answer) = tokio::sync::oneshot::channel();
                    match tx.send((s, reply)) {
                        Ok(()) => answer.await.unwrap_or_else(|_| {
                            Err(RegisterError::Log("register thread gone".into()))
                        }),
                        Err(_) => Err(RegisterError::Log("register thread gone".into())),
                    }
                }
                None => tokio::task::spawn_blocking(move || fold_all(&s))
                    .await
                    .unwrap_or_else(|e| {
                        Err(RegisterError::Log(format!("register fold panicked: {e}")))
                    }),
            };
            match done {
                Ok(size) => tracing::debug!(size, "register follows the log"),
                Err(e) => tracing::warn!(error = %e, "register fold failed; retrying"),
            }
            if *stop.borrow() {
                return;
            }
            tokio::select! {
                r = wake.changed() => if r.is_err() { return; },
                _ = stop.changed() => return,
                // a failed fold is retried even when nothing is appended
                () = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
            }
            tokio::select! {
                _ = stop.changed() => return,
                () = tokio::time::sleep(FOLD_DELAY) => {}
            }
        }
    })
}
