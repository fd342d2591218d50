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

/// Entry bundles read and checked per window (bounds memory: 64 × 256 entries).
const WINDOW_BUNDLES: u64 = 64;

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

/// Replay entries `[progress.size(), new_size)` from `src` into `progress`.
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
    let first = start / tiles::TILE_WIDTH;
    let end = new_size.div_ceil(tiles::TILE_WIDTH);
    let mut n = first;
    while n < end {
        let stop = (n + WINDOW_BUNDLES).min(end);
        let mut bundles = Vec::new();
        for b in n..stop {
            let width = tiles::tile_width(0, b, new_size);
            let bundle_path = TilePath {
                kind: TileKind::Entries,
                index: b,
                width,
            }
            .to_path();
            let tile_path = TilePath {
                kind: TileKind::Hash(0),
                index: b,
                width,
            }
            .to_path();
            let bundle = get_required(src, &bundle_path)?;
            let tile = get_required(src, &tile_path)?;
            bundles.push((b, width, bundle, tile));
        }
        // leaf hashes against the tiles, the frontier, and the new entries of this window
        let mut fresh: Vec<&[u8]> = Vec::new();
        let window_start = progress.size();
        for (b, width, bundle, tile) in &bundles {
            let Ok(entries) = tiles::parse_entry_bundle(bundle) else {
                out.findings.push(Finding::new(
                    "malformed-bundle",
                    format!("entry bundle {b} does not parse"),
                ));
                out.complete = false;
                return Ok(out);
            };
            if entries.len() != usize::from(*width) || tile.len() != usize::from(*width) * 32 {
                out.findings.push(Finding::new(
                    "malformed-bundle",
                    format!(
                        "entry bundle {b} has {} entries and its tile {} bytes; the checkpoint implies {width}",
                        entries.len(),
                        tile.len()
                    ),
                ));
                out.complete = false;
                return Ok(out);
            }
            for (k, entry) in entries.into_iter().enumerate() {
                let index = b * tiles::TILE_WIDTH + k as u64;
                let leaf = merkle::leaf_hash(entry);
                if tile.get(k * 32..k * 32 + 32) != Some(&leaf[..]) {
                    out.findings.push(Finding {
                        kind: "leaf-hash-mismatch",
                        index: Some(index),
                        rule: None,
                        detail: format!(
                            "entry {index} does not hash to its slot in hash tile 0/{b}"
                        ),
                    });
                }
                if index < window_start {
                    // an entry verified by an earlier run, served again in a partial bundle:
                    // it must still be the same bytes
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
                let size_before = window_start + fresh.len() as u64;
                progress.push_leaf(size_before, leaf);
                fresh.push(entry);
            }
        }
        feed(progress, window_start, &fresh, opts, &mut out);
        (opts.on_progress)(progress.size() - start);
        n = stop;
    }
    Ok(out)
}

/// Check `entries` (log indices from `first`) and feed them to the replay in order.
fn feed(
    progress: &mut Progress,
    first: u64,
    entries: &[&[u8]],
    opts: &ReplayOptions<'_>,
    out: &mut ReplayOutcome,
) {
    let mut pos = 0;
    while pos < entries.len() {
        let seg_end = entries[pos..]
            .iter()
            .position(|e| admission::is_trust_list(e))
            .map_or(entries.len(), |p| pos + p);
        if seg_end > pos {
            let segment = &entries[pos..seg_end];
            let results = check_parallel(
                segment,
                progress.replay.trust(),
                progress.replay.anchor(),
                opts.threads,
            );
            for (k, (entry, checked)) in segment.iter().zip(results).enumerate() {
                let index = first + (pos + k) as u64;
                let ok = checked.is_ok();
                if let Err(e) = progress.replay.push_checked(entry, checked) {
                    out.counts.illegitimate += 1;
                    out.findings.push(Finding::entry(index, &e));
                }
                count(entry, index, ok, opts.watch, out);
            }
        }
        if seg_end < entries.len() {
            let entry = entries[seg_end];
            let index = first + seg_end as u64;
            out.counts.trust_lists += 1;
            if let Err(e) = progress.replay.push(entry) {
                out.counts.illegitimate += 1;
                out.findings.push(Finding::entry(index, &e));
            }
            out.counts.entries += 1;
        }
        pos = seg_end + 1;
    }
}

fn count(entry: &[u8], index: u64, admitted: bool, watch: Option<&str>, out: &mut ReplayOutcome) {
    out.counts.entries += 1;
    match cose::decode_entry(entry) {
        Ok(Entry::Label { sign1, claim }) => {
            out.counts.labels += 1;
            if admitted && watch == Some(claim.scheme.as_str()) {
                out.watched.push(Watched {
                    index,
                    product: claim.product,
                    manufacturer: claim.manufacturer,
                    kid: sign1.key_id().map(hex::encode).unwrap_or_default(),
                });
            }
        }
        Ok(_) => out.counts.status_records += 1,
        Err(_) => {}
    }
}

/// [`admission::check_entry`] over `entries` on `threads` threads, results in order.
pub fn check_parallel(
    entries: &[&[u8]],
    trust: Option<&TrustList>,
    anchor: &VerifyingKey,
    threads: NonZeroUsize,
) -> Vec<Result<Admitted, EffectError>> {
    let chunk = entries.len().div_ceil(threads.get()).max(1);
    if entries.len() <= 16 || threads.get() == 1 {
        return entries
            .iter()
            .map(|e| admission::check_entry(e, trust, anchor))
            .collect();
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = entries
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|e| admission::check_entry(e, trust, anchor))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(entries.len());
        for (h, part) in handles.into_iter().zip(entries.chunks(chunk)) {
            match h.join() {
                Ok(v) => all.extend(v),
                // a panicking check is a bug, not a finding: check that part here again
                Err(_) => all.extend(
                    part.iter()
                        .map(|e| admission::check_entry(e, trust, anchor)),
                ),
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

    #[test]
    fn frontier_matches_reference_root() {
        let anchor = ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key();
        let mut p = Progress::new(anchor);
        let mut leaves = Vec::new();
        for i in 0..600u64 {
            let leaf = merkle::leaf_hash(&i.to_be_bytes());
            p.push_leaf(i, leaf);
            leaves.push(leaf);
            assert_eq!(p.root(), merkle::reference_root(&leaves), "size {}", i + 1);
        }
    }
}
