//! The auditor's engine (used by `cyberlabel audit` and its benchmark): replays a log's entries
//! from its entry bundles, checks every leaf hash against the level-0 hash tiles, recomputes
//! the tree root from the entries themselves (a Merkle frontier, so a later run continues
//! without re-reading old entries) and runs every entry through [`admission::Replay`], with the
//! signature checks spread over all cores between trust-list entries.
//!
//! It reads through [`Source`] (HTTP for the command, the log store for the benchmark) and
//! reports what is wrong as [`Finding`]s; an `Err` means it could not read or parse enough to
//! go on.

use std::num::NonZeroUsize;

use anyhow::{Context, Result};
use cyberlabel_core::admission::{self, Admitted, Replay};
use cyberlabel_core::cose::{self, Entry};
use cyberlabel_core::merkle::{self, Hash};
use cyberlabel_core::status::EffectError;
use cyberlabel_core::tiles::{self, TileKind, TilePath, TileSet};
use cyberlabel_core::trust::TrustList;
use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use crate::fetch::Fetcher;

/// Entry bundles read and checked per window by default (bounds memory: 64 × 256 entries).
pub const WINDOW_BUNDLES: u64 = 64;

/// Where the auditor reads a log's public read side (paths as in C2SP tlog-tiles).
pub trait Source {
    /// The body at `path` (`tile/...`, `checkpoint`), `None` if it does not exist.
    ///
    /// # Errors
    /// Reading failed.
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>>;
}

impl Source for Fetcher {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        Fetcher::get(self, path)
    }
}

fn get_required(src: &dyn Source, path: &str) -> Result<Vec<u8>> {
    src.get(path)?
        .with_context(|| format!("the log does not serve {path} (404)"))
}

/// Something the log did that it must not have.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// short machine-readable kind, e.g. `illegitimate-entry`, `root-mismatch`
    pub kind: &'static str,
    /// the log index concerned, if any
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// the admission rule broken (an [`EffectError`] variant), if any
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// human explanation
    pub detail: String,
}

impl Finding {
    /// A finding without index or rule.
    pub fn new(kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind,
            index: None,
            rule: None,
            detail: detail.into(),
        }
    }

    fn entry(index: u64, e: &EffectError) -> Self {
        let dbg = format!("{e:?}");
        let rule = dbg
            .split(|c: char| !c.is_ascii_alphanumeric())
            .next()
            .unwrap_or_default()
            .to_owned();
        Self {
            kind: "illegitimate-entry",
            index: Some(index),
            rule: Some(rule),
            detail: format!("entry {index}: {e}"),
        }
    }
}

/// A label issued in the watched scheme.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Watched {
    /// log index
    pub index: u64,
    /// product / model
    pub product: String,
    /// manufacturer
    pub manufacturer: String,
    /// issuer key id (hex)
    pub kid: String,
}

/// Counters of one replay.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// entries replayed
    pub entries: u64,
    /// labels among them
    pub labels: u64,
    /// status records among them
    pub status_records: u64,
    /// trust lists among them
    pub trust_lists: u64,
    /// entries the log should have refused
    pub illegitimate: u64,
}

/// What the auditor knows after the entries verified so far: enough to continue with the next
/// entry without reading the earlier ones again.
#[derive(Debug, Clone)]
pub struct Progress {
    /// the admission replay (trust list in force, status map, per-entry target info)
    pub replay: Replay,
    /// RFC 6962 hashes of the perfect subtrees covering `[0, size)` (`merkle::range_nodes`)
    pub frontier: Vec<Hash>,
}

impl Progress {
    /// An empty log whose trust lists must verify under `anchor`.
    pub fn new(anchor: VerifyingKey) -> Self {
        Self {
            replay: Replay::new(anchor),
            frontier: Vec::new(),
        }
    }

    /// Entries verified so far.
    pub fn size(&self) -> u64 {
        self.replay.size()
    }

    /// The tree root recomputed from the entries.
    pub fn root(&self) -> Hash {
        merkle::fold_range(&self.frontier)
    }

    /// Append a leaf to the frontier (called before the entry is fed to the replay).
    fn push_leaf(&mut self, size_before: u64, leaf: Hash) {
        self.frontier.push(leaf);
        // each trailing one bit of the old size is a perfect subtree the new leaf completes
        for _ in 0..size_before.trailing_ones() {
            let (Some(right), Some(left)) = (self.frontier.pop(), self.frontier.pop()) else {
                break;
            };
            self.frontier.push(merkle::node_hash(&left, &right));
        }
    }
}

/// Options of one replay.
pub struct ReplayOptions<'a> {
    /// list labels of this scheme
    pub watch: Option<&'a str>,
    /// called with the number of entries done after each window
    pub on_progress: &'a dyn Fn(u64),
    /// worker threads for the signature checks
    pub threads: NonZeroUsize,
    /// entry bundles per window ([`WINDOW_BUNDLES`]; at least 1)
    pub window_bundles: u64,
}

/// What one replay produced.
#[derive(Debug, Default)]
pub struct ReplayOutcome {
    /// findings, in log order
    pub findings: Vec<Finding>,
    /// counters
    pub counts: Counts,
    /// labels of the watched scheme admitted in this run
    pub watched: Vec<Watched>,
    /// false if a malformed tile or bundle stopped the replay before `new_size`
    pub complete: bool,
}

/// Entries fetched and leaf-checked, waiting to be fed to the replay.
struct Window {
    /// log index of `entries[0]`
    first: u64,
    entries: Vec<Vec<u8>>,
}

/// What the parallel workers find out about one entry.
struct Checked {
    result: Result<Admitted, EffectError>,
}

impl Checked {
    /// Whether the entry is a trust list (what [`admission::check_entry`] answers for one).
    fn is_trust_list(&self) -> bool {
        matches!(
            self.result,
            Ok(Admitted::TrustList(_))
                | Err(EffectError::BadTrustList(_) | EffectError::TrustListRollback { .. })
        )
    }
}

/// Replay entries `[progress.size(), new_size)` from `src` into `progress`.
///
/// Pipelined: while the calling thread feeds window *k* to the (sequential) replay, worker
/// threads check the signatures of window *k + 1* against the trust list in force before
/// window *k*; if window *k* holds a trust-list entry, window *k + 1* is checked again.
///
/// # Errors
/// A read failed (network, 404 of a tile the checkpoint implies).
pub fn replay(
    src: &dyn Source,
    progress: &mut Progress,
    new_size: u64,
    opts: &ReplayOptions<'_>,
) -> Result<ReplayOutcome> {
    let mut out = ReplayOutcome {
        complete: true,
        ..ReplayOutcome::default()
    };
    let start = progress.size();
    let anchor = *progress.replay.anchor();
    let end = new_size.div_ceil(tiles::TILE_WIDTH);
    let mut n = start / tiles::TILE_WIDTH;
    let mut fetched_upto = start;
    let mut pending: Option<(Window, Option<Vec<Checked>>)> = None;
    while n < end {
        let stop = (n + opts.window_bundles.max(1)).min(end);
        let Some(cur) = fetch_window(src, progress, fetched_upto, n..stop, new_size, &mut out)?
        else {
            out.complete = false;
            break;
        };
        fetched_upto += cur.entries.len() as u64;
        n = stop;
        let snapshot = progress.replay.trust().cloned();
        let (checked, trust_changed) = std::thread::scope(|s| {
            let entries = &cur.entries;
            let snapshot = snapshot.as_ref();
            let threads = opts.threads;
            let first = cur.first;
            let worker = s.spawn(move || check_all(first, entries, snapshot, &anchor, threads));
            let changed = match pending.take() {
                Some((w, c)) => feed(progress, &w, c, opts, &mut out),
                None => false,
            };
            (worker.join().ok(), changed)
        });
        (opts.on_progress)(progress.size() - start);
        pending = Some((cur, checked.filter(|_| !trust_changed)));
    }
    if let Some((w, c)) = pending.take() {
        feed(progress, &w, c, opts, &mut out);
    }
    (opts.on_progress)(progress.size() - start);
    Ok(out)
}

/// Fetch bundles `range` and their level-0 tiles, check every leaf hash against its tile slot
/// (and entries verified by an earlier run against what it saw), extend the frontier, and
/// return the entries from `from` on. `None` (with a finding) if a bundle is malformed.
fn fetch_window(
    src: &dyn Source,
    progress: &mut Progress,
    from: u64,
    range: std::ops::Range<u64>,
    new_size: u64,
    out: &mut ReplayOutcome,
) -> Result<Option<Window>> {
    let mut window = Window {
        first: from,
        entries: Vec::new(),
    };
    for b in range {
        let width = tiles::tile_width(0, b, new_size);
        let path = |kind| {
            TilePath {
                kind,
                index: b,
                width,
            }
            .to_path()
        };
        let bundle = get_required(src, &path(TileKind::Entries))?;
        let tile = get_required(src, &path(TileKind::Hash(0)))?;
        let Ok(entries) = tiles::parse_entry_bundle(&bundle) else {
            out.findings.push(Finding::new(
                "malformed-bundle",
                format!("entry bundle {b} does not parse"),
            ));
            return Ok(None);
        };
        if entries.len() != usize::from(width) || tile.len() != usize::from(width) * 32 {
            out.findings.push(Finding::new(
                "malformed-bundle",
                format!(
                    "entry bundle {b} has {} entries and its tile {} bytes; the checkpoint implies {width}",
                    entries.len(),
                    tile.len()
                ),
            ));
            return Ok(None);
        }
        for (k, entry) in entries.into_iter().enumerate() {
            let index = b * tiles::TILE_WIDTH + k as u64;
            let leaf = merkle::leaf_hash(entry);
            if tile.get(k * 32..k * 32 + 32) != Some(&leaf[..]) {
                out.findings.push(Finding {
                    kind: "leaf-hash-mismatch",
                    index: Some(index),
                    rule: None,
                    detail: format!("entry {index} does not hash to its slot in hash tile 0/{b}"),
                });
            }
            if index < from {
                // an entry verified by an earlier run, served again in a partial bundle: it
                // must still be the same bytes
                let known = usize::try_from(index)
                    .ok()
                    .and_then(|i| progress.replay.status().targets().get(i))
                    .map(|t| t.leaf_hash);
                if known != Some(leaf) {
                    out.findings.push(Finding {
                        kind: "rewritten-entry",
                        index: Some(index),
                        rule: None,
                        detail: format!(
                            "entry {index} is not the entry an earlier audit verified at that index"
                        ),
                    });
                }
                continue;
            }
            let size_before = from + window.entries.len() as u64;
            progress.push_leaf(size_before, leaf);
            window.entries.push(entry.to_vec());
        }
    }
    Ok(Some(window))
}

/// Feed a window to the replay in order, using `checked` (computed against the trust list
/// now in force) or checking it here. Returns whether it held a trust-list entry.
fn feed(
    progress: &mut Progress,
    w: &Window,
    checked: Option<Vec<Checked>>,
    opts: &ReplayOptions<'_>,
    out: &mut ReplayOutcome,
) -> bool {
    let anchor = *progress.replay.anchor();
    let checked = checked.unwrap_or_else(|| {
        check_all(
            w.first,
            &w.entries,
            progress.replay.trust(),
            &anchor,
            opts.threads,
        )
    });
    let mut changed = false;
    let mut results = checked.into_iter();
    let mut i = 0usize;
    while let Some(c) = results.next() {
        let Some(entry) = w.entries.get(i) else {
            break;
        };
        let index = w.first + i as u64;
        i += 1;
        out.counts.entries += 1;
        if c.is_trust_list() {
            out.counts.trust_lists += 1;
            if let Err(e) = progress.replay.push(entry) {
                out.counts.illegitimate += 1;
                out.findings.push(Finding::entry(index, &e));
            }
            changed = true;
            // the rest of the window under the list now in force
            results = check_all(
                w.first + i as u64,
                w.entries.get(i..).unwrap_or_default(),
                progress.replay.trust(),
                &anchor,
                opts.threads,
            )
            .into_iter();
            continue;
        }
        let admitted = c.result.is_ok();
        if let Err(e) = progress.replay.push_checked(entry, c.result) {
            out.counts.illegitimate += 1;
            out.findings.push(Finding::entry(index, &e));
        }
        // what the replay recorded about the entry says whether it is a label (no decoding
        // again here: the main thread is the pipeline's sequential part)
        let scheme = progress
            .replay
            .status()
            .targets()
            .last()
            .and_then(|t| t.label_scheme.as_deref());
        match scheme {
            Some(scheme) => {
                out.counts.labels += 1;
                if admitted
                    && opts.watch == Some(scheme)
                    && let Some(l) = watched(entry, index)
                {
                    out.watched.push(l);
                }
            }
            None if admitted => out.counts.status_records += 1,
            None => {}
        }
    }
    changed
}

/// A watched label's listing.
fn watched(entry: &[u8], index: u64) -> Option<Watched> {
    match cose::decode_entry(entry) {
        Ok(Entry::Label { sign1, claim }) => Some(Watched {
            index,
            product: claim.product,
            manufacturer: claim.manufacturer,
            kid: sign1.key_id().map(hex::encode).unwrap_or_default(),
        }),
        _ => None,
    }
}

/// [`admission::check_entry`] over `entries` on `threads` threads, results in order.
fn check_all(
    first: u64,
    entries: &[Vec<u8>],
    trust: Option<&TrustList>,
    anchor: &VerifyingKey,
    threads: NonZeroUsize,
) -> Vec<Checked> {
    // (index, entry): key retirement and compromise are judged by log position
    let one = |(i, e): (u64, &Vec<u8>)| Checked {
        result: admission::check_entry(e, i, trust, anchor),
    };
    fn indexed(from: u64, part: &[Vec<u8>]) -> impl Iterator<Item = (u64, &Vec<u8>)> {
        part.iter()
            .enumerate()
            .map(move |(k, e)| (from + k as u64, e))
    }
    if entries.len() <= 16 || threads.get() == 1 {
        return indexed(first, entries).map(one).collect();
    }
    let chunk = entries.len().div_ceil(threads.get()).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = entries
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                let from = first + (c * chunk) as u64;
                s.spawn(move || indexed(from, part).map(one).collect::<Vec<_>>())
            })
            .collect();
        let mut all = Vec::with_capacity(entries.len());
        for (c, (h, part)) in handles.into_iter().zip(entries.chunks(chunk)).enumerate() {
            match h.join() {
                Ok(v) => all.extend(v),
                // a panicking check is a bug, not a finding: check that part here again
                Err(_) => all.extend(indexed(first + (c * chunk) as u64, part).map(one)),
            }
        }
        all
    })
}

/// Check that the tree of `new_size` with root `new_root` extends the tree of `old_size` with
/// `old_root`, with a consistency proof built from the log's hash tiles. `Ok(Some(finding))`
/// if it does not.
///
/// # Errors
/// A tile could not be read.
pub fn prove_consistency(
    src: &dyn Source,
    old_size: u64,
    old_root: &Hash,
    new_size: u64,
    new_root: &Hash,
) -> Result<Option<String>> {
    if old_size == new_size {
        return Ok((!merkle::hashes_equal(old_root, new_root))
            .then(|| format!("two different roots for the same tree size {new_size}")));
    }
    if old_size > new_size {
        return Ok(Some(format!(
            "the log now serves a tree of {new_size} entries after one of {old_size}"
        )));
    }
    if old_size == 0 {
        return Ok(None);
    }
    let paths = tiles::tiles_for_consistency(old_size, new_size)
        .context("planning the consistency proof")?;
    let mut set = TileSet::new();
    for p in paths {
        let bytes = get_required(src, &p.to_path())?;
        if set.insert(p, bytes).is_err() {
            return Ok(Some(format!(
                "hash tile {} has the wrong length",
                p.to_path()
            )));
        }
    }
    let proof = match set.consistency_proof(old_size, new_size) {
        Ok(p) => p,
        Err(e) => return Ok(Some(format!("no consistency proof from the tiles: {e}"))),
    };
    Ok(
        merkle::verify_consistency(old_size, new_size, old_root, new_root, &proof)
            .err()
            .map(|e| {
                format!(
                    "the tree of {new_size} entries does not extend the tree of {old_size}: {e}"
                )
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_audit::StoreSource;
    use cyberlabel_core::checkpoint;
    use cyberlabel_core::trust::{self, TrustedIssuer};
    use cyberlabel_issuer::{keys, mint, product::ProductDescription};
    use cyberlabel_log::{BuildError, EntryPolicy, Log, LogConfig, Submission};
    use ed25519_dalek::SigningKey;

    #[test]
    fn frontier_matches_reference_root() {
        let anchor = SigningKey::from_bytes(&[1; 32]).verifying_key();
        let mut p = Progress::new(anchor);
        let mut leaves = Vec::new();
        for i in 0..600u64 {
            let leaf = merkle::leaf_hash(&i.to_be_bytes());
            p.push_leaf(i, leaf);
            leaves.push(leaf);
            assert_eq!(p.root(), merkle::reference_root(&leaves), "size {}", i + 1);
        }
    }

    /// A second trust list (adding issuer B) as the last entry of bundle 0 and of a later
    /// window: labels by B right after it must be checked under it, both when the pipeline
    /// checked the next window ahead under the old list and inside one window.
    #[test]
    fn trust_list_changes_split_the_parallel_checks() {
        let dir = tempfile::tempdir().unwrap();
        let anchor = keys::load_example_trust_list_key().unwrap();
        let a = keys::load_example_issuer_key().unwrap();
        let b = SigningKey::from_bytes(&[5; 32]);
        let catalog = cyberlabel_core::catalog::Catalog::builtin();
        let desc = ProductDescription::from_json(
            r#"{"scheme": "SG-CLS", "level": 1, "manufacturer": "M", "product": "P",
                "hardware_versions": "1", "firmware_versions": "1", "category": 1,
                "provisions": ["5.1-1"], "assessment": "self_declared",
                "support_until": "2029-12-31"}"#,
        )
        .unwrap();
        let claim = mint::claim_from_description(&desc, &catalog, 0, 1_780_000_000).unwrap();
        let list = |version, issuers: &[&SigningKey]| {
            let l = TrustList {
                version,
                issued_at: 0,
                expires_at: u64::MAX / 2,
                issuers: issuers
                    .iter()
                    .map(|k| {
                        TrustedIssuer::new("i", &k.verifying_key(), &["SG-CLS"], 0, u64::MAX / 2)
                    })
                    .collect(),
                ..TrustList::default()
            };
            trust::sign(l.to_json().as_bytes(), &anchor)
        };
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let log = Log::open(
            db,
            LogConfig::new(
                "test.example/audit",
                keys::load_example_log_key().unwrap(),
                EntryPolicy::Cyberlabel(anchor.verifying_key()),
            ),
        )
        .unwrap();
        let label = |key: &SigningKey| {
            let (c, k) = (claim.clone(), key.clone());
            Submission::build(move |i| {
                let mut c = c.clone();
                c.serial = i;
                Ok::<_, BuildError>(cose::sign_label(&c, &k))
            })
        };
        let mut tickets = vec![log.submit(Submission::entry(list(1, &[&a])))];
        tickets.extend((1..255).map(|_| log.submit(label(&a))));
        tickets.push(log.submit(Submission::entry(list(2, &[&a, &b]))));
        tickets.extend((256..300).map(|_| log.submit(label(&b))));
        let c = SigningKey::from_bytes(&[6; 32]);
        tickets.push(log.submit(Submission::entry(list(3, &[&c]))));
        tickets.extend((301..310).map(|_| log.submit(label(&c))));
        for t in tickets {
            t.blocking_recv().unwrap().unwrap();
        }
        let cp = checkpoint::open(log.latest_checkpoint().as_bytes(), &log.policy())
            .unwrap()
            .checkpoint;
        assert_eq!(cp.size, 310);
        for window_bundles in [1, WINDOW_BUNDLES] {
            let mut p = Progress::new(anchor.verifying_key());
            let opts = ReplayOptions {
                watch: Some("SG-CLS"),
                on_progress: &|_| {},
                threads: NonZeroUsize::new(2).unwrap(),
                window_bundles,
            };
            let out = replay(&StoreSource(&log), &mut p, cp.size, &opts).unwrap();
            assert!(out.findings.is_empty(), "{:?}", out.findings);
            assert!(out.complete);
            assert_eq!(out.counts.trust_lists, 3);
            assert_eq!(out.counts.labels, 307);
            assert_eq!(out.watched.len(), 307);
            assert_eq!(out.watched[306].index, 309);
            assert_eq!(p.root(), cp.root);
            assert_eq!(Some(p.replay.status().commitment()), cp.status().unwrap());
        }
        log.close();
    }
}
