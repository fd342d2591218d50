//! The auditor's state file (`cyberlabel audit --state`): the last verified checkpoint and
//! everything the replay needs to continue from it — the Merkle frontier, the trust list in
//! force, the status buckets and the per-entry target info — as one JSON document written
//! atomically (temporary file, fsync, rename, fsync of the directory).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cyberlabel_core::admission::Replay;
use cyberlabel_core::checkpoint::Checkpoint;
use cyberlabel_core::merkle::Hash;
use cyberlabel_core::status::{BUCKET_BYTES, Bucket, StatusMap, TargetInfo};
use cyberlabel_core::trust::TrustList;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::audit_replay::Progress;
use crate::util;

/// Largest state file read back (the per-entry replay state of a large log).
const MAX_STATE_BYTES: u64 = 1 << 32;

/// What a run saves for the next one.
#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    format: u32,
    origin: String,
    /// hex of the trust anchor the replay ran under
    anchor: String,
    size: u64,
    root: String,
    /// the last verified checkpoint, signed note verbatim
    checkpoint: String,
    status_buckets: u64,
    status_root: String,
    /// base64 hashes of the Merkle frontier
    frontier: Vec<String>,
    /// the trust list in force (its JSON, re-checked by `TrustList::from_json` on load)
    trust: Option<String>,
    /// base64 of the concatenated status buckets
    buckets: String,
    /// base64 of the per-entry target info ([`encode_targets`])
    targets: String,
}

pub fn default_state_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("cyberlabel"));
    }
    let home = std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .context("neither XDG_STATE_HOME nor HOME is set: give --state <file>")?;
    Ok(PathBuf::from(home).join(".local/state/cyberlabel"))
}

/// A checkpoint an earlier run verified.
pub struct Previous {
    /// tree size
    pub size: u64,
    /// root hash
    pub root: Hash,
    /// the signed note, verbatim
    pub signed: String,
}

fn decode_hash(s: &str, what: &str) -> Result<Hash> {
    let v = B64
        .decode(s)
        .with_context(|| format!("state file: {what} is not base64"))?;
    Hash::try_from(v.as_slice()).map_err(|_| anyhow::anyhow!("state file: {what} is not 32 bytes"))
}

/// The saved state for `origin` under `anchor`, if the file exists.
///
/// # Errors
/// An unreadable, malformed or foreign state file.
pub fn load_state(
    path: &Path,
    origin: &str,
    anchor: &VerifyingKey,
) -> Result<Option<(Progress, Previous)>> {
    if !path.exists() {
        return Ok(None);
    }
    let bytes = util::read_bounded(path, MAX_STATE_BYTES, "audit state file")?;
    let st: StateFile = serde_json::from_slice(&bytes)
        .with_context(|| format!("state file {} does not parse", path.display()))?;
    if st.format != 1 {
        bail!(
            "state file {}: unknown format {}",
            path.display(),
            st.format
        );
    }
    if st.origin != origin {
        bail!(
            "state file {} is for log {:?}, not {origin:?}: give another --state",
            path.display(),
            st.origin
        );
    }
    if st.anchor != hex::encode(anchor.as_bytes()) {
        bail!(
            "state file {} was made under another trust anchor: give another --state",
            path.display()
        );
    }
    let frontier = st
        .frontier
        .iter()
        .map(|h| decode_hash(h, "frontier"))
        .collect::<Result<Vec<_>>>()?;
    let bucket_bytes = B64
        .decode(&st.buckets)
        .context("state file: buckets are not base64")?;
    if bucket_bytes.len() % BUCKET_BYTES != 0 {
        bail!("state file: bucket bytes are not whole buckets");
    }
    let buckets = bucket_bytes
        .chunks(BUCKET_BYTES)
        .map(Bucket::from_bytes)
        .collect::<Result<Vec<_>, _>>()
        .context("state file: bad bucket")?;
    let targets = decode_targets(
        &B64.decode(&st.targets)
            .context("state file: targets are not base64")?,
    )?;
    let map = StatusMap::from_parts(buckets, targets)
        .context("state file: bucket count does not match the entry count")?;
    let trust = st
        .trust
        .as_deref()
        .map(TrustList::from_json)
        .transpose()
        .context("state file: the saved trust list does not load")?;
    let progress = Progress {
        replay: Replay::resume(*anchor, trust, map),
        frontier,
    };
    if progress.size() != st.size || B64.encode(progress.root()) != st.root {
        bail!(
            "state file {} is inconsistent with itself: delete it to audit from scratch",
            path.display()
        );
    }
    let root = decode_hash(&st.root, "root")?;
    Ok(Some((
        progress,
        Previous {
            size: st.size,
            root,
            signed: st.checkpoint,
        },
    )))
}

/// Per entry: leaf hash (32), flags (bit 0 kid, bit 1 scheme), kid (8), scheme (len u8 + UTF-8).
fn encode_targets(targets: &[TargetInfo]) -> Vec<u8> {
    let mut out = Vec::with_capacity(targets.len() * 48);
    for t in targets {
        out.extend_from_slice(&t.leaf_hash);
        let scheme = t
            .label_scheme
            .as_deref()
            .filter(|s| s.len() <= usize::from(u8::MAX));
        out.push(u8::from(t.label_kid.is_some()) | (u8::from(scheme.is_some()) << 1));
        if let Some(k) = t.label_kid {
            out.extend_from_slice(&k);
        }
        if let Some(s) = scheme {
            out.push(s.len() as u8);
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

fn decode_targets(mut b: &[u8]) -> Result<Vec<TargetInfo>> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
        let (head, rest) = b
            .split_at_checked(n)
            .context("state file: target info truncated")?;
        *b = rest;
        Ok(head)
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let leaf_hash = Hash::try_from(take(&mut b, 32)?).context("state file: leaf hash")?;
        let flags = take(&mut b, 1)?[0];
        let label_kid = if flags & 1 != 0 {
            Some(<[u8; 8]>::try_from(take(&mut b, 8)?).context("state file: kid")?)
        } else {
            None
        };
        let label_scheme = if flags & 2 != 0 {
            let n = usize::from(take(&mut b, 1)?[0]);
            Some(
                String::from_utf8(take(&mut b, n)?.to_vec())
                    .context("state file: scheme is not UTF-8")?,
            )
        } else {
            None
        };
        out.push(TargetInfo {
            leaf_hash,
            label_kid,
            label_scheme,
        });
    }
    Ok(out)
}

/// Save the state after a run that verified `cp`.
///
/// # Errors
/// The file cannot be written.
pub fn save_state(
    path: &Path,
    origin: &str,
    anchor: &VerifyingKey,
    signed: &[u8],
    cp: &Checkpoint,
    progress: &Progress,
) -> Result<()> {
    let map = progress.replay.status();
    let commitment = map.commitment();
    let mut buckets = Vec::with_capacity(map.buckets().len() * BUCKET_BYTES);
    for b in map.buckets() {
        buckets.extend_from_slice(&b.0);
    }
    let st = StateFile {
        format: 1,
        origin: origin.to_owned(),
        anchor: hex::encode(anchor.as_bytes()),
        size: cp.size,
        root: B64.encode(cp.root),
        checkpoint: String::from_utf8_lossy(signed).into_owned(),
        status_buckets: commitment.bucket_count,
        status_root: B64.encode(commitment.root),
        frontier: progress.frontier.iter().map(|h| B64.encode(h)).collect(),
        trust: progress.replay.trust().map(TrustList::to_json),
        buckets: B64.encode(&buckets),
        targets: B64.encode(encode_targets(map.targets())),
    };
    let text = serde_json::to_vec(&st).context("encoding the state file")?;
    write_atomic(path, &text)
}

/// Write `bytes` to `path` via a temporary file in the same directory, fsync, rename, fsync
/// the directory: a crash leaves the old file or the new one, never half of one.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
    let name = path
        .file_name()
        .context("the state path has no file name")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().with_context(|| format!("cannot write the state file {}", path.display()))
}
