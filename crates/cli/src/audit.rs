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

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cyberlabel_core::checkpoint::{self, Checkpoint, Policy, VerifiedCheckpoint};
use cyberlabel_core::merkle::Hash;
use cyberlabel_core::note::{self, VerifierKey};
use cyberlabel_core::online;
use cyberlabel_core::status::{State, StatusMap};
use cyberlabel_core::tiles::{self, TileKind, TilePath};
use cyberlabel_core::trust::TrustList;
use cyberlabel_issuer::keys;
use cyberlabel_witness::witness::origin_hash;
use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use crate::audit_replay::{self, Counts, Finding, Progress, ReplayOptions, Watched};
use crate::audit_state;
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
    /// whether the cosignatures meet the witness policy (a checkpoint published a moment ago
    /// may not have them yet: that is not a finding about the log's history)
    witness_quorum_met: bool,
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
        None => {
            audit_state::default_state_dir()?.join(format!("audit-{}.json", origin_hash(&origin)))
        }
    };
    let saved = audit_state::load_state(&state_path, &origin, &anchor)?;
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
    // History is audited under the log's signature; the witness quorum is reported beside it.
    let verified = checkpoint::open(&signed, &log_signature_only(&policy)).with_context(|| {
        format!("the log's checkpoint does not verify under the key of {origin}")
    })?;
    let mut witness_quorum_met = checkpoint::open(&signed, &policy).is_ok();
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
        let bar = crate::util::progress(cp.size - progress.size(), "entries");
        let on_progress = |done: u64| bar.set_position(done);
        let opts = ReplayOptions {
            watch: args.watch.as_deref(),
            on_progress: &on_progress,
            threads,
            window_bundles: audit_replay::WINDOW_BUNDLES,
        };
        let out = audit_replay::replay(&fetcher, &mut progress, cp.size, &opts)
            .context("replaying the log's entries")?;
        bar.finish_and_clear();
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
                .and_then(|p| Ok((checkpoint::open(&signed, &log_signature_only(&p))?, p)))
            {
                Ok((v, p)) => {
                    cosigned_by = cosigners(&v, &p);
                    policy_witnesses = p.witnesses.len();
                    witness_quorum_met = checkpoint::open(&signed, &p).is_ok();
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
        audit_state::save_state(&state_path, &origin, &anchor, &signed, &cp, &progress)?;
    }

    let report = Report {
        origin,
        log: fetcher.base().to_owned(),
        checkpoint: summary(cp.size, &cp.root),
        previous: previous.as_ref().map(|p| summary(p.size, &p.root)),
        cosigned_by,
        policy_witnesses,
        witness_quorum_met,
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

/// The same keys, but only the log's signature required (witness cosignatures still verified
/// and counted).
fn log_signature_only(policy: &Policy) -> Policy {
    Policy {
        quorum: None,
        ..policy.clone()
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
        "checkpoint: {} entries, root {}; log signature verified; cosigned by {} of {} policy witnesses (quorum {})\n",
        r.checkpoint.size,
        r.checkpoint.root,
        r.cosigned_by,
        r.policy_witnesses,
        if r.witness_quorum_met { "met" } else { "not met yet" }
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
