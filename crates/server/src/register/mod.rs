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
//! One sled tree, `register`, so each fold step is one atomic batch: `l` + index → listing
//! JSON; search keys `kind, text, 0, index` with an empty value (kinds `m` manufacturer, `p`
//! product, `w` word, `g` manufacturer page, `s` scheme and level, `t` state other than
//! active); `n` + page slug → name and label count; `z` → the watermark. Searches walk one key
//! range, newest key first, and stop after [`MAX_SCAN`] candidates with a cursor to go on.
//! `shards` renders the static files the object store gets.

mod shards;

use std::collections::{BTreeSet, HashMap};

use cyberlabel_core::cose;
use cyberlabel_core::register::{self, Listing, Listings, Query};
use cyberlabel_core::status::State;
use cyberlabel_core::tiles::{self, TileKind, TilePath};
use serde::{Deserialize, Serialize};

pub use shards::{ListingView, ManufacturerEntry, ManufacturerList, ManufacturerPage, shard_of};

use crate::AppState;
use crate::ledger::Ledger;

/// Most candidates one search examines before it answers with a cursor.
pub const MAX_SCAN: usize = 5_000;
/// Most results one page returns.
pub const MAX_LIMIT: usize = 100;
/// Entries folded per write (one entry bundle).
const CHUNK: u64 = 256;

const WATERMARK: &[u8] = b"z";

/// Register failures.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The store failed.
    #[error("register store: {0}")]
    Store(#[from] sled::Error),
    /// The log could not be read.
    #[error("reading the log: {0}")]
    Log(String),
    /// A stored listing does not decode (damaged store: rebuild).
    #[error("stored listing {0} does not decode (run `cyberlabel register rebuild`)")]
    Damaged(u64),
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

/// One page of search results.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// Entries of the log the register has folded in (results reflect the log up to here).
    pub indexed_size: u64,
    /// Matching labels, in the order of the key range searched (newest first within a key).
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

/// The register's tree.
#[derive(Clone)]
pub struct Register {
    tree: sled::Tree,
    // One folder at a time: the background task and a search catching up.
    folding: std::sync::Arc<std::sync::Mutex<()>>,
}

/// Search-key kinds (first byte of a key).
const KINDS: [u8; 6] = *b"mpwgst";

fn listing_key(index: u64) -> [u8; 9] {
    let mut k = [b'l'; 9];
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

fn mfr_key(slug: &str) -> Vec<u8> {
    let mut k = vec![b'n'];
    k.extend_from_slice(slug.as_bytes());
    k
}

fn dirty_key(slug: &str) -> Vec<u8> {
    let mut k = vec![b'd'];
    k.extend_from_slice(slug.as_bytes());
    k
}

fn index_at_end(k: &[u8]) -> Result<u64, RegisterError> {
    k.len()
        .checked_sub(8)
        .and_then(|at| k.get(at..))
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or(RegisterError::Damaged(0))
}

/// A chunk's listings as read and as changed, so the search keys can be moved.
struct Pending<'a> {
    reg: &'a Register,
    before: HashMap<u64, Option<Listing>>,
    after: HashMap<u64, Listing>,
}

impl Listings for Pending<'_> {
    type Error = RegisterError;
    fn get(&mut self, index: u64) -> Result<Option<Listing>, RegisterError> {
        if let Some(l) = self.after.get(&index) {
            return Ok(Some(l.clone()));
        }
        let stored = self.reg.listing(index)?;
        self.before.insert(index, stored.clone());
        Ok(stored)
    }
    fn put(&mut self, listing: Listing) -> Result<(), RegisterError> {
        self.before
            .entry(listing.index)
            .or_insert_with(|| self.reg.listing(listing.index).ok().flatten());
        self.after.insert(listing.index, listing);
        Ok(())
    }
}

fn push_key(out: &mut BTreeSet<Vec<u8>>, kind: u8, text: &[u8], index: u64) {
    let mut k = Vec::with_capacity(text.len() + 10);
    k.push(kind);
    k.extend_from_slice(text);
    k.push(0);
    k.extend_from_slice(&index.to_be_bytes());
    out.insert(k);
}

/// Every search key of a listing.
fn keys_of(l: &Listing) -> BTreeSet<Vec<u8>> {
    let mut out = BTreeSet::new();
    push_key(
        &mut out,
        b'm',
        register::fold(&l.manufacturer).as_bytes(),
        l.index,
    );
    push_key(
        &mut out,
        b'p',
        register::fold(&l.product).as_bytes(),
        l.index,
    );
    push_key(
        &mut out,
        b'g',
        register::slug(&l.manufacturer).as_bytes(),
        l.index,
    );
    for w in register::words(l) {
        push_key(&mut out, b'w', w.as_bytes(), l.index);
    }
    let mut scheme = l.scheme.as_bytes().to_vec();
    scheme.push(0);
    scheme.push(l.level);
    push_key(&mut out, b's', &scheme, l.index);
    if l.state != State::Active {
        push_key(&mut out, b't', &[l.state as u8], l.index);
    }
    out
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

impl Register {
    /// Opens (creating) the register's trees in the server's database.
    ///
    /// # Errors
    /// The store's.
    pub fn open(db: &sled::Db) -> Result<Self, RegisterError> {
        Ok(Self {
            tree: db.open_tree("register")?,
            folding: std::sync::Arc::default(),
        })
    }

    /// Entries of the log folded in so far.
    ///
    /// # Errors
    /// The store's.
    pub fn indexed_size(&self) -> Result<u64, RegisterError> {
        Ok(match self.tree.get(WATERMARK)? {
            Some(v) => u64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| RegisterError::Mismatch("watermark is damaged".into()))?,
            ),
            None => 0,
        })
    }

    /// The listing of the label at `index`.
    ///
    /// # Errors
    /// The store's; [`RegisterError::Damaged`].
    pub fn listing(&self, index: u64) -> Result<Option<Listing>, RegisterError> {
        match self.tree.get(listing_key(index))? {
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|_| RegisterError::Damaged(index)),
            None => Ok(None),
        }
    }

    /// Fold the entries `[indexed_size, size)` of the log in (one entry bundle per write),
    /// calling `progress(done)` after each.
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
            let entries = tiles::parse_entry_bundle(&bytes)
                .map_err(|e| RegisterError::Log(format!("{}: {e}", path.to_path())))?;
            let first = bundle * CHUNK;
            self.fold_entries(
                entries
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (first + i as u64, *e))
                    .filter(|(i, _)| *i >= at),
                end,
            )?;
            at = end;
            progress(at);
        }
        Ok(at)
    }

    /// Fold `entries` (index, bytes) in and set the watermark to `upto`. Entries that are not
    /// labels or status records (trust lists) change nothing.
    ///
    /// # Errors
    /// The store's.
    pub fn fold_entries<'e>(
        &self,
        entries: impl Iterator<Item = (u64, &'e [u8])>,
        upto: u64,
    ) -> Result<(), RegisterError> {
        let mut pending = Pending {
            reg: self,
            before: HashMap::new(),
            after: HashMap::new(),
        };
        for (index, bytes) in entries {
            if let Ok(entry) = cose::decode_entry(bytes) {
                register::apply(&mut pending, index, &entry)?;
            }
        }
        self.write(pending, upto)
    }

    fn write(&self, pending: Pending<'_>, upto: u64) -> Result<(), RegisterError> {
        let mut batch = sled::Batch::default();
        let mut new_mfrs: HashMap<String, MfrValue> = HashMap::new();
        for (index, after) in &pending.after {
            let before = pending.before.get(index).cloned().flatten();
            let old = before.as_ref().map(keys_of).unwrap_or_default();
            let new = keys_of(after);
            for k in old.difference(&new) {
                batch.remove(k.as_slice());
            }
            for k in new.difference(&old) {
                batch.insert(k.as_slice(), &[][..]);
            }
            let json = serde_json::to_vec(after)
                .map_err(|e| RegisterError::Mismatch(format!("encoding listing {index}: {e}")))?;
            batch.insert(&listing_key(*index)[..], json);
            // what the static copy must rewrite: this label's manufacturer page
            batch.insert(
                dirty_key(&register::slug(&after.manufacturer)),
                &upto.to_be_bytes()[..],
            );
            if before.is_none() {
                let slug = register::slug(&after.manufacturer);
                let entry = match new_mfrs.remove(&slug) {
                    Some(v) => v,
                    None => match self.tree.get(mfr_key(&slug))? {
                        Some(v) => serde_json::from_slice(&v).unwrap_or(MfrValue {
                            name: after.manufacturer.clone(),
                            labels: 0,
                        }),
                        None => MfrValue {
                            name: after.manufacturer.clone(),
                            labels: 0,
                        },
                    },
                };
                new_mfrs.insert(
                    slug,
                    MfrValue {
                        name: entry.name,
                        labels: entry.labels + 1,
                    },
                );
            }
        }
        for (slug, v) in new_mfrs {
            let json = serde_json::to_vec(&v)
                .map_err(|e| RegisterError::Mismatch(format!("encoding {slug}: {e}")))?;
            batch.insert(mfr_key(&slug), json);
        }
        // One atomic batch with the watermark: after a crash the register is at a chunk
        // boundary, never between.
        batch.insert(WATERMARK, &upto.to_be_bytes());
        self.tree.apply_batch(batch)?;
        Ok(())
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
        let mut out = Vec::new();
        for kv in self.tree.scan_prefix(b"d") {
            let (k, v) = kv?;
            let at = <[u8; 8]>::try_from(v.as_ref()).map_or(u64::MAX, u64::from_be_bytes);
            if at > since {
                out.push(String::from_utf8_lossy(k.get(1..).unwrap_or_default()).into_owned());
            }
        }
        Ok((out, now))
    }

    /// Throw the derived trees away (then [`Register::follow`] from entry 0).
    ///
    /// # Errors
    /// The store's.
    pub fn clear(&self) -> Result<(), RegisterError> {
        self.tree.clear()?;
        Ok(())
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
            let bundle = at / CHUNK;
            let end = upto.min((bundle + 1) * CHUNK);
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
            let entries = tiles::parse_entry_bundle(&bytes)
                .map_err(|e| RegisterError::Log(format!("{}: {e}", path.to_path())))?;
            for (i, e) in entries.iter().enumerate() {
                if let Ok(entry) = cose::decode_entry(e) {
                    let Ok(()) = register::apply(&mut fresh, bundle * CHUNK + i as u64, &entry);
                }
            }
            at = end;
        }
        let stored = self.tree.scan_prefix(b"l").count() as u64;
        if stored != fresh.0.len() as u64 {
            return Err(RegisterError::Mismatch(format!(
                "{stored} listings stored, {} in the log",
                fresh.0.len()
            )));
        }
        let mut want_keys = 0u64;
        let mut counts: HashMap<String, u64> = HashMap::new();
        for (index, want) in &fresh.0 {
            let got = self
                .listing(*index)?
                .ok_or_else(|| RegisterError::Mismatch(format!("label {index} is missing")))?;
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
                if !self.tree.contains_key(&k)? {
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
        let stored_keys: usize = KINDS
            .iter()
            .map(|k| self.tree.scan_prefix([*k]).count())
            .sum();
        if stored_keys as u64 != want_keys {
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
        if self.tree.scan_prefix(b"n").count() != counts.len() {
            return Err(RegisterError::Mismatch("manufacturer list differs".into()));
        }
        Ok(fresh.0.len() as u64)
    }

    /// A manufacturer page's name and label count.
    ///
    /// # Errors
    /// The store's.
    pub fn manufacturer(&self, slug: &str) -> Result<Option<ManufacturerEntry>, RegisterError> {
        Ok(match self.tree.get(mfr_key(slug))? {
            Some(v) => {
                let v: MfrValue = serde_json::from_slice(&v)
                    .map_err(|_| RegisterError::Mismatch(format!("manufacturer {slug}")))?;
                Some(ManufacturerEntry {
                    slug: slug.to_owned(),
                    name: v.name,
                    labels: v.labels,
                })
            }
            None => None,
        })
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
        let mut out = Vec::new();
        for kv in self.tree.scan_prefix(mfr_key(prefix)).take(limit) {
            let (k, v) = kv?;
            let v: MfrValue = serde_json::from_slice(&v)
                .map_err(|_| RegisterError::Mismatch("manufacturer list".into()))?;
            out.push(ManufacturerEntry {
                slug: String::from_utf8_lossy(k.get(1..).unwrap_or_default()).into_owned(),
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
        let prefix = self.driving_prefix(q)?;
        let by_key = prefix[0] != b'l';
        let mut results: Vec<Listing> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let walk = self.walk(&prefix, cursor, |k, v| {
            let index = index_at_end(k)?;
            if seen.insert(index) {
                let listing = if by_key {
                    self.listing(index)?
                } else {
                    Some(serde_json::from_slice(v).map_err(|_| RegisterError::Damaged(index))?)
                };
                if let Some(l) = listing
                    && q.matches(&l, now)
                {
                    results.push(l);
                }
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

    /// The key range a search walks: of the ranges its criteria name (each word, manufacturer,
    /// model, a non-active status, scheme and level), the one with the fewest keys, counted up
    /// to [`MAX_SCAN`]; with no criterion, every listing, newest first.
    fn driving_prefix(&self, q: &Query) -> Result<Vec<u8>, RegisterError> {
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
            return Ok(ranges.pop().unwrap_or_else(|| vec![b'l']));
        }
        let mut best: Option<(usize, Vec<u8>)> = None;
        for r in ranges {
            let cap = best.as_ref().map_or(MAX_SCAN, |(n, _)| *n);
            let mut n = 0;
            for kv in self.tree.scan_prefix(&r).keys() {
                kv?;
                n += 1;
                if n >= cap {
                    break;
                }
            }
            if best.as_ref().is_none_or(|(b, _)| n < *b) {
                best = Some((n, r));
            }
        }
        Ok(best.map_or_else(|| vec![b'l'], |(_, r)| r))
    }

    /// Walk the keys starting with `prefix` downwards from `cursor` (exclusive), calling
    /// `visit` until it returns false or [`MAX_SCAN`] keys were seen.
    fn walk(
        &self,
        prefix: &[u8],
        cursor: Option<&str>,
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<bool, RegisterError>,
    ) -> Result<Walk, RegisterError> {
        let upper = match cursor {
            Some(c) => {
                let c = hex::decode(c).map_err(|_| RegisterError::BadCursor)?;
                if !c.starts_with(prefix) {
                    return Err(RegisterError::BadCursor);
                }
                Some(c)
            }
            None => after_prefix(prefix),
        };
        let range = match upper {
            Some(u) => self.tree.range(prefix.to_vec()..u),
            None => self.tree.range(prefix.to_vec()..),
        };
        let mut scanned = 0;
        let mut stopped_at = None;
        for kv in range.rev() {
            let (k, v) = kv?;
            scanned += 1;
            let go_on = visit(&k, &v)?;
            if !go_on || scanned >= MAX_SCAN {
                stopped_at = Some(k.to_vec());
                break;
            }
        }
        // A next page exists if the walk stopped early and a key is left below.
        let next = match stopped_at {
            Some(k) => self
                .tree
                .range(prefix.to_vec()..k.clone())
                .next_back()
                .is_some()
                .then(|| hex::encode(&k)),
            None => None,
        };
        Ok(Walk { next, scanned })
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
        let mut prefix = vec![b'g'];
        prefix.extend_from_slice(slug.as_bytes());
        prefix.push(0);
        let limit = limit.clamp(1, MAX_LIMIT);
        let mut results = Vec::new();
        let walk = self.walk(&prefix, cursor, |k, _| {
            if let Some(l) = self.listing(index_at_end(k)?)? {
                results.push(l);
            }
            Ok(results.len() < limit)
        })?;
        Ok(Page {
            indexed_size: self.indexed_size()?,
            results,
            next: walk.next,
            scanned: walk.scanned,
        })
    }
}

/// Starts the task that keeps the register up with the log (after every new checkpoint, and
/// at start for whatever the log holds beyond the watermark — a whole rebuild after the trees
/// were thrown away). It ends when `stop` turns true.
pub fn spawn(
    state: &AppState,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    let mut stop = stop.clone();
    let mut wake = state.service().ledger().subscribe();
    tokio::spawn(async move {
        loop {
            let s = state.clone();
            let done = tokio::task::spawn_blocking(move || {
                s.register().catch_up(s.service().ledger(), u64::MAX)
            })
            .await;
            match done {
                Ok(Ok(size)) => tracing::debug!(size, "register follows the log"),
                Ok(Err(e)) => tracing::warn!(error = %e, "register fold failed; retrying"),
                Err(e) => tracing::error!(error = %e, "register fold panicked"),
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
        }
    })
}
