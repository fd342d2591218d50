//! `cyberlabel audit <log URL>`: an outsider replaying a whole log from its public read side.
//!
//! Bootstraps from entry 0 (the trust list the log enforces, verified under the trust anchor
//! given on the command line), verifies the checkpoint under the log key that list names,
//! replays every entry ([`crate::audit_replay`]), and compares the recomputed tree root and
//! status map with the checkpoint. The result is saved in a state file, so the next run fetches
//! only what is new and proves the new checkpoint consistent with the saved one. Anything the
//! log did wrong is a finding: reported (text or `--json`), with the signed checkpoints
//! involved written to an evidence directory, and exit code [`EXIT_FINDINGS`].
//!
//! A run with findings does not move the saved state forward, so every later run reports them
//! again until someone looks.

use std::io::{IsTerminal as _, Write as _};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cyberlabel_core::admission::Replay;
use cyberlabel_core::checkpoint::{self, Checkpoint, Policy, VerifiedCheckpoint};
use cyberlabel_core::merkle::Hash;
use cyberlabel_core::note::{self, VerifierKey};
use cyberlabel_core::online;
use cyberlabel_core::status::{BUCKET_BYTES, Bucket, State, StatusMap, TargetInfo};
use cyberlabel_core::tiles::{self, TileKind, TilePath};
use cyberlabel_core::trust::TrustList;
use cyberlabel_issuer::keys;
use cyberlabel_witness::witness::origin_hash;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::audit_replay::{self, Counts, Finding, Progress, ReplayOptions, Watched};
use crate::fetch::Fetcher;
use crate::util;

/// Exit code when the audit found something wrong with the log.
pub const EXIT_FINDINGS: u8 = 3;

/// `audit --help` epilogue.
pub const EXIT_CODES_HELP: &str = "Exit codes:\n  \
0  no finding: every entry is legitimate, the tree and the status map match the checkpoint, \
and it is consistent with the last audited checkpoint (and the witnesses')\n  \
1  could not audit (fetch failed, checkpoint does not verify, unreadable state file)\n  \
2  bad command line\n  \
3  findings: the log did something it must not have (see the report; evidence written)";

/// Largest state file read back (the per-entry replay state of a large log).
const MAX_STATE_BYTES: u64 = 1 << 32;

/// Arguments of `audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Base URL of the log's read side (serving `checkpoint` and `tile/...`).
    url: String,
    /// The trust anchor: the trust-list signer's public key (SPKI PEM).
    #[arg(long, value_name = "PEM", required_unless_present = "demo")]
    trust_anchor: Option<PathBuf>,
    /// Use the example trust-list key as the anchor (for `serve --demo` logs only).
    #[arg(long, conflicts_with = "trust_anchor")]
    demo: bool,
    /// Pin the log's checkpoint key (C2SP vkey) instead of taking it from the trust list.
    #[arg(long, value_name = "VKEY")]
    log_key: Option<String>,
    /// State file [default: $XDG_STATE_HOME or ~/.local/state, then
    /// cyberlabel/audit-<hex sha256(origin)>.json].
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Where to write evidence of findings [default: `evidence/` next to the state file].
    #[arg(long, value_name = "DIR")]
    evidence: Option<PathBuf>,
    /// A witness to compare with (base URL serving `<hex sha256(origin)>/checkpoint`);
    /// repeatable.
    #[arg(long, value_name = "URL")]
    witness: Vec<String>,
    /// List the labels newly issued in this scheme since the last run.
    #[arg(long, value_name = "SCHEME")]
    watch: Option<String>,
    /// Print the report as a JSON document.
    #[arg(long)]
    json: bool,
    /// Threads for the signature checks [default: all cores].
    #[arg(long, hide = true)]
    threads: Option<NonZeroUsize>,
}

/// The report, as printed with `--json`.
#[derive(Debug, Serialize)]
struct Report {
    origin: String,
    log: String,
    checkpoint: CheckpointSummary,
    previous: Option<CheckpointSummary>,
    cosigned_by: usize,
    policy_witnesses: usize,
    replayed_from: u64,
    counts: Counts,
    revoked: Vec<u64>,
    status_buckets: u64,
    witnesses: Vec<WitnessReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    watch: Option<WatchReport>,
    findings: Vec<Finding>,
    bytes_fetched: u64,
    requests: u64,
    state: String,
    state_saved: bool,
    evidence: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct CheckpointSummary {
    size: u64,
    root: String,
}

#[derive(Debug, Serialize)]
struct WitnessReport {
    url: String,
    size: Option<u64>,
    result: String,
}

#[derive(Debug, Serialize)]
struct WatchReport {
    scheme: String,
    labels: Vec<Watched>,
}

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

/// Run `audit`.
///
/// # Errors
/// Anything that stops the audit (exit 1); findings are not errors.
pub fn run(args: Args) -> Result<ExitCode> {
    let anchor = if args.demo {
        keys::load_example_trust_list_key()
            .context("loading the example trust-list key")?
            .verifying_key()
    } else {
        let path = args
            .trust_anchor
            .as_deref()
            .context("give --trust-anchor <PEM> (or --demo for a demo log)")?;
        keys::load_public_key(path)
            .with_context(|| format!("cannot load the trust anchor {}", path.display()))?
    };
    let fetcher = Fetcher::new(&args.url)?;
    let signed = fetcher
        .get_required("checkpoint")
        .context("cannot fetch the log's checkpoint")?;
    let unverified = parse_unverified(&signed)?;
    let origin = unverified.origin.clone();
    let state_path = match &args.state {
        Some(p) => p.clone(),
        None => default_state_dir()?.join(format!("audit-{}.json", origin_hash(&origin))),
    };
    let saved = load_state(&state_path, &origin, &anchor)?;
    let (mut progress, previous) = match saved {
        Some((p, cp)) => (p, Some(cp)),
        None => (Progress::new(anchor), None),
    };

    // the trust list in force: saved, or bootstrapped from entry 0
    let trust = match progress.replay.trust() {
        Some(t) => t.clone(),
        None => bootstrap(&fetcher, unverified.size, &anchor)?,
    };
    let policy = policy(&trust, &signed, args.log_key.as_deref())?;
    let verified = checkpoint::open(&signed, &policy).with_context(|| {
        format!("the log's checkpoint does not verify under the key of {origin}")
    })?;
    let cp = verified.checkpoint.clone();
    let mut findings = Vec::new();
    let mut cosigned_by = cosigners(&verified, &policy);
    let mut policy_witnesses = policy.witnesses.len();

    // the tree against the last audited checkpoint
    let mut tree_ok = true;
    if let Some(prev) = &previous
        && cp.size <= prev.size
        && let Some(f) =
            audit_replay::prove_consistency(&fetcher, prev.size, &prev.root, cp.size, &cp.root)?
    {
        findings.push(Finding::new("inconsistent-with-saved", f));
        tree_ok = false;
    }

    let replayed_from = progress.size();
    let threads = args
        .threads
        .or_else(|| std::thread::available_parallelism().ok())
        .unwrap_or(NonZeroUsize::MIN);
    let mut counts = Counts::default();
    let mut watched = Vec::new();
    if tree_ok && cp.size > progress.size() {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(cp.size - progress.size());
            b.set_message("entries");
            b
        });
        let on_progress = |done: u64| {
            if let Some(b) = &bar {
                b.set_position(done);
            }
        };
        let opts = ReplayOptions {
            watch: args.watch.as_deref(),
            on_progress: &on_progress,
            threads,
            window_bundles: audit_replay::WINDOW_BUNDLES,
        };
        let out = audit_replay::replay(&fetcher, &mut progress, cp.size, &opts)
            .context("replaying the log's entries")?;
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        findings.extend(out.findings);
        counts = out.counts;
        watched = out.watched;
        if !out.complete {
            tree_ok = false;
        }
        if tree_ok
            && let Some(prev) = &previous
            && let Some(f) =
                audit_replay::prove_consistency(&fetcher, prev.size, &prev.root, cp.size, &cp.root)?
        {
            findings.push(Finding::new("inconsistent-with-saved", f));
        }
    }
    if tree_ok {
        check_against_checkpoint(&progress, &cp, &mut findings);
        // a trust list appended in this range may name other keys or witnesses
        if let Some(now) = progress.replay.trust()
            && now != &trust
        {
            match policy_for_list(now, &signed, args.log_key.as_deref())
                .and_then(|p| Ok((checkpoint::open(&signed, &p)?, p)))
            {
                Ok((v, p)) => {
                    cosigned_by = cosigners(&v, &p);
                    policy_witnesses = p.witnesses.len();
                }
                Err(e) => findings.push(Finding::new(
                    "checkpoint-policy",
                    format!("the checkpoint does not satisfy the trust list now in force: {e:#}"),
                )),
            }
        }
    }

    // witnesses
    let mut witnesses = Vec::new();
    let mut witness_notes = Vec::new();
    for url in &args.witness {
        let (report, note) = check_witness(&fetcher, url, &policy.log, &cp, &mut findings)?;
        witnesses.push(report);
        if let Some(n) = note {
            witness_notes.push(n);
        }
    }

    let revoked = revoked(progress.replay.status(), progress.size());
    let mut evidence = None;
    if !findings.is_empty() {
        let dir = match &args.evidence {
            Some(d) => d.clone(),
            None => state_path
                .parent()
                .map_or_else(|| PathBuf::from("evidence"), |p| p.join("evidence")),
        };
        evidence = Some(write_evidence(
            &dir,
            &origin,
            &signed,
            previous.as_ref().map(|p| p.signed.as_str()),
            &witness_notes,
            &findings,
        )?);
    }
    let state_saved = findings.is_empty() && progress.size() == cp.size;
    if state_saved {
        save_state(&state_path, &origin, &anchor, &signed, &cp, &progress)?;
    }

    let report = Report {
        origin,
        log: fetcher.base().to_owned(),
        checkpoint: summary(cp.size, &cp.root),
        previous: previous.as_ref().map(|p| summary(p.size, &p.root)),
        cosigned_by,
        policy_witnesses,
        replayed_from,
        counts,
        revoked,
        status_buckets: progress.replay.status().commitment().bucket_count,
        witnesses,
        watch: args.watch.clone().map(|scheme| WatchReport {
            scheme,
            labels: watched,
        }),
        findings,
        bytes_fetched: fetcher.bytes_fetched(),
        requests: fetcher.requests(),
        state: state_path.display().to_string(),
        state_saved,
        evidence: evidence.map(|p| p.display().to_string()),
    };
    if args.json {
        let text = serde_json::to_string_pretty(&report).context("encoding the JSON report")?;
        println!("{text}");
    } else {
        print_human(&report);
    }
    Ok(if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FINDINGS)
    })
}

fn summary(size: u64, root: &Hash) -> CheckpointSummary {
    CheckpointSummary {
        size,
        root: B64.encode(root),
    }
}

/// The checkpoint body before its signature is checked (for the origin and the size that
/// says how wide bundle 0 is).
fn parse_unverified(signed: &[u8]) -> Result<Checkpoint> {
    let note = note::Note::parse(signed).context("the log's checkpoint is not a signed note")?;
    Checkpoint::parse(&note.text).context("the log's checkpoint does not parse")
}

/// Entry 0, verified as a trust list under the anchor.
fn bootstrap(fetcher: &Fetcher, size: u64, anchor: &VerifyingKey) -> Result<TrustList> {
    if size == 0 {
        bail!("the log is empty: there is no trust list to start from");
    }
    let path = TilePath {
        kind: TileKind::Entries,
        index: 0,
        width: tiles::tile_width(0, 0, size),
    }
    .to_path();
    let bundle = fetcher
        .get_required(&path)
        .context("cannot fetch entry bundle 0 (the log's trust list)")?;
    let entries = tiles::parse_entry_bundle(&bundle).context("entry bundle 0 does not parse")?;
    let first = entries.first().context("entry bundle 0 is empty")?;
    TrustList::from_signed_any_time(first, anchor).context(
        "the log's first entry is not a trust list signed by the trust anchor: \
         is this the right --trust-anchor (or --demo)?",
    )
}

fn policy(trust: &TrustList, signed: &[u8], log_key: Option<&str>) -> Result<Policy> {
    policy_for_list(trust, signed, log_key)
}

fn policy_for_list(trust: &TrustList, signed: &[u8], log_key: Option<&str>) -> Result<Policy> {
    let from_list = online::policy_for(trust, signed);
    match log_key {
        Some(k) => {
            let key = VerifierKey::parse(k).context("--log-key is not a C2SP verifier key")?;
            Ok(match from_list {
                Ok(mut p) => {
                    p.log = key;
                    p
                }
                Err(_) => Policy::log_only(key),
            })
        }
        None => from_list.context(
            "the trust list in force names no log with the checkpoint's origin (pin one with --log-key)",
        ),
    }
}

fn cosigners(v: &VerifiedCheckpoint, policy: &Policy) -> usize {
    policy
        .witnesses
        .iter()
        .filter(|w| v.note.is_signed_by(w))
        .count()
}

/// Recomputed root and status map against the checkpoint.
fn check_against_checkpoint(progress: &Progress, cp: &Checkpoint, findings: &mut Vec<Finding>) {
    if progress.root() != cp.root {
        findings.push(Finding::new(
            "root-mismatch",
            format!(
                "the entries hash to root {}, the checkpoint says {}",
                B64.encode(progress.root()),
                B64.encode(cp.root)
            ),
        ));
    }
    let mine = progress.replay.status().commitment();
    match cp.status() {
        Ok(Some(theirs)) if theirs == mine => {}
        Ok(Some(theirs)) => findings.push(Finding::new(
            "status-root-mismatch",
            format!(
                "the replayed status map is {} buckets with root {}, the checkpoint says {} buckets with root {}",
                mine.bucket_count,
                B64.encode(mine.root),
                theirs.bucket_count,
                B64.encode(theirs.root)
            ),
        )),
        Ok(None) => findings.push(Finding::new(
            "status-root-missing",
            "the checkpoint carries no cyberlabel-status line",
        )),
        Err(e) => findings.push(Finding::new(
            "status-root-malformed",
            format!("the checkpoint's status line does not parse: {e}"),
        )),
    }
}

/// A witness's URL and the signed checkpoint it served.
type WitnessNote = (String, Vec<u8>);

/// Compare the log's checkpoint with a witness's latest cosigned one.
fn check_witness(
    fetcher: &Fetcher,
    url: &str,
    log_key: &VerifierKey,
    cp: &Checkpoint,
    findings: &mut Vec<Finding>,
) -> Result<(WitnessReport, Option<WitnessNote>)> {
    let wf = Fetcher::new(url).with_context(|| format!("witness URL {url}"))?;
    let path = format!("{}/checkpoint", origin_hash(&cp.origin));
    let Some(body) = wf
        .get(&path)
        .with_context(|| format!("cannot ask witness {url}"))?
    else {
        return Ok((
            WitnessReport {
                url: url.to_owned(),
                size: None,
                result: "no checkpoint of this log".into(),
            },
            None,
        ));
    };
    let wcp = match checkpoint::open(&body, &Policy::log_only(log_key.clone())) {
        Ok(v) => v.checkpoint,
        Err(e) => {
            return Ok((
                WitnessReport {
                    url: url.to_owned(),
                    size: None,
                    result: format!("its checkpoint does not verify under the log key: {e}"),
                },
                None,
            ));
        }
    };
    let problem = if wcp.size > cp.size {
        Some(format!(
            "the witness cosigned a tree of {} entries, the log serves only {}",
            wcp.size, cp.size
        ))
    } else {
        audit_replay::prove_consistency(fetcher, wcp.size, &wcp.root, cp.size, &cp.root)?
    };
    let result = match &problem {
        None => "consistent".to_owned(),
        Some(p) => {
            findings.push(Finding::new("split-view", format!("witness {url}: {p}")));
            p.clone()
        }
    };
    Ok((
        WitnessReport {
            url: url.to_owned(),
            size: Some(wcp.size),
            result,
        },
        Some((url.to_owned(), body)),
    ))
}

fn revoked(map: &StatusMap, size: u64) -> Vec<u64> {
    let mut out = Vec::new();
    for (b, bucket) in map.buckets().iter().enumerate() {
        for slot in 0..256usize {
            let index = b as u64 * 256 + slot as u64;
            if index < size && bucket.get(slot).0 == State::Revoked {
                out.push(index);
            }
        }
    }
    out
}

fn print_human(r: &Report) {
    let mut s = String::new();
    s.push_str(&format!("audit of {} at {}\n", r.origin, r.log));
    s.push_str(&format!(
        "checkpoint: {} entries, root {}; log signature verified; cosigned by {} of {} policy witnesses\n",
        r.checkpoint.size, r.checkpoint.root, r.cosigned_by, r.policy_witnesses
    ));
    if let Some(p) = &r.previous {
        s.push_str(&format!(
            "last audited: {} entries, root {}\n",
            p.size, p.root
        ));
    }
    s.push_str(&format!(
        "replayed entries {}..{}: {} entries ({} labels, {} status records, {} trust lists)\n",
        r.replayed_from,
        r.checkpoint.size,
        r.counts.entries,
        r.counts.labels,
        r.counts.status_records,
        r.counts.trust_lists
    ));
    s.push_str(&format!(
        "status map: {} buckets; revoked: {}\n",
        r.status_buckets,
        if r.revoked.is_empty() {
            "none".to_owned()
        } else {
            r.revoked
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    for w in &r.witnesses {
        s.push_str(&format!("witness {}: {}\n", w.url, w.result));
    }
    if let Some(w) = &r.watch {
        s.push_str(&format!(
            "new {} labels since the last run: {}\n",
            w.scheme,
            w.labels.len()
        ));
        for l in &w.labels {
            s.push_str(&format!(
                "  #{} {} by {} (issuer key {})\n",
                l.index, l.product, l.manufacturer, l.kid
            ));
        }
    }
    s.push_str(&format!(
        "fetched {} bytes in {} requests\n",
        r.bytes_fetched, r.requests
    ));
    if r.findings.is_empty() {
        s.push_str("findings: none\n");
    } else {
        s.push_str(&format!("FINDINGS: {}\n", r.findings.len()));
        for f in &r.findings {
            s.push_str(&format!("  [{}] {}\n", f.kind, f.detail));
        }
        if let Some(e) = &r.evidence {
            s.push_str(&format!("evidence written to {e}\n"));
        }
    }
    if !r.state_saved {
        s.push_str("state not advanced (the next run checks this range again)\n");
    }
    print!("{s}");
}

fn default_state_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("cyberlabel"));
    }
    let home = std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .context("neither XDG_STATE_HOME nor HOME is set: give --state <file>")?;
    Ok(PathBuf::from(home).join(".local/state/cyberlabel"))
}

/// A checkpoint an earlier run verified.
struct Previous {
    size: u64,
    root: Hash,
    signed: String,
}

fn decode_hash(s: &str, what: &str) -> Result<Hash> {
    let v = B64
        .decode(s)
        .with_context(|| format!("state file: {what} is not base64"))?;
    Hash::try_from(v.as_slice()).map_err(|_| anyhow::anyhow!("state file: {what} is not 32 bytes"))
}

fn load_state(
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

fn save_state(
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

fn write_evidence(
    dir: &Path,
    origin: &str,
    current: &[u8],
    previous: Option<&str>,
    witnesses: &[(String, Vec<u8>)],
    findings: &[Finding],
) -> Result<PathBuf> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let hash = origin_hash(origin);
    let sub = dir.join(format!("{}-{now}-{}", &hash[..16], std::process::id()));
    util::ensure_dir(&sub)
        .with_context(|| format!("cannot create the evidence directory {}", sub.display()))?;
    util::write_out(&sub, "checkpoint-current", current)?;
    if let Some(p) = previous {
        util::write_out(&sub, "checkpoint-last-audited", p.as_bytes())?;
    }
    for (i, (url, body)) in witnesses.iter().enumerate() {
        util::write_out(&sub, &format!("checkpoint-witness-{i}"), body)?;
        util::write_out(&sub, &format!("checkpoint-witness-{i}.url"), url.as_bytes())?;
    }
    let json = serde_json::to_vec_pretty(findings).context("encoding the findings")?;
    util::write_out(&sub, "findings.json", &json)?;
    Ok(sub)
}
