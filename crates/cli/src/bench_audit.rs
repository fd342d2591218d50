//! `cyberlabel bench-audit` (hidden): audit throughput on this machine, as a ratio to raw
//! Ed25519 verification on all cores measured in the same run.
//!
//! Builds a log (sled, Cyberlabel entry policy, a trust list first) of `--labels` real labels
//! signed in parallel with the example issuer key, then replays it with the auditor's engine
//! ([`crate::audit_replay`]) reading the log's tiles and entry bundles straight from the store
//! (no HTTP), checks root and status map against the checkpoint, and compares entries/s with
//! `verify_strict`/s over the same labels' signatures on the same threads. Figures are printed,
//! never asserted.

use std::num::NonZeroUsize;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cyberlabel_core::checkpoint;
use cyberlabel_core::cose;
use cyberlabel_core::tiles::TilePath;

use cyberlabel_issuer::keys;
use cyberlabel_issuer::mint;
use cyberlabel_issuer::product::ProductDescription;
use cyberlabel_log::{EntryPolicy, Log, LogConfig, Submission};
use ed25519_dalek::{Signature, VerifyingKey};

use crate::audit_replay::{self, Progress, ReplayOptions, Source};

/// `bench-audit` flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Labels in the log.
    #[arg(long, default_value_t = 1_000_000)]
    labels: u64,
    /// Threads for signing, the baseline and the audit [default: all cores].
    #[arg(long)]
    threads: Option<NonZeroUsize>,
}

/// The log's store as the auditor's read side.
pub(crate) struct StoreSource<'a>(pub(crate) &'a Log);

impl Source for StoreSource<'_> {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        if path == "checkpoint" {
            return Ok(Some(self.0.latest_checkpoint().into_bytes()));
        }
        let p = TilePath::parse(path).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
        self.0
            .tile(&p)
            .map_err(|e| anyhow::anyhow!("reading {path}: {e}"))
    }
}

/// Run the benchmark.
///
/// # Errors
/// Setup failures (keys, temporary directory, the log).
pub fn run(args: Args) -> Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; build with --release for meaningful figures");
    }
    let tmp = std::env::temp_dir().join(format!("cyberlabel-bench-audit-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let result = run_in(&args, &tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    result.map(|()| ExitCode::SUCCESS)
}

fn run_in(args: &Args, tmp: &Path) -> Result<()> {
    let threads = args
        .threads
        .or_else(|| std::thread::available_parallelism().ok())
        .unwrap_or(NonZeroUsize::MIN);
    let key = keys::load_example_issuer_key().context("example issuer key")?;
    let anchor = keys::load_example_trust_list_key().context("example trust-list key")?;
    let catalog = cyberlabel_core::catalog::Catalog::builtin();
    let desc = ProductDescription::from_json(
        r#"{"scheme": "SG-CLS", "level": 2, "manufacturer": "Bench Devices", "product": "Bench Cam",
            "hardware_versions": "rev B", "firmware_versions": "2.4.0", "category": 1,
            "provisions": ["5.1-1", "5.2-1", "5.3-13", "5.3-16"], "assessment": "third_party",
            "lab": "SG-LAB-1", "support_until": "2029-12-31"}"#,
    )
    .context("bench product")?;
    let claim = mint::claim_from_description(&desc, &catalog, 0, cyberlabel_server::now_unix())
        .context("bench claim")?;
    println!(
        "cyberlabel bench-audit: {} labels, {threads} threads",
        args.labels
    );

    // 1. sign the labels on all threads (entry 0 is the trust list, label i has serial i)
    let t = Instant::now();
    let n = args.labels;
    let per = n.div_ceil(threads.get() as u64).max(1);
    let labels: Vec<Vec<u8>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads.get() as u64)
            .map(|w| {
                let (claim, key) = (&claim, &key);
                s.spawn(move || {
                    let lo = 1 + w * per;
                    let hi = (lo + per).min(n + 1);
                    (lo..hi)
                        .map(|i| {
                            let mut c = claim.clone();
                            c.serial = i;
                            cose::sign_label(&c, key)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    if labels.len() as u64 != n {
        bail!("a signing thread failed");
    }
    println!("signed {n} labels in {:.1} s", t.elapsed().as_secs_f64());

    // 2. the log: trust list first, then the labels (admission checks them again)
    let t = Instant::now();
    let db = sled::Config::new()
        .path(tmp.join("log"))
        .open()
        .context("sled")?;
    let log = Log::open(
        db,
        LogConfig::new(
            "bench.example/audit",
            keys::load_example_log_key()?,
            EntryPolicy::Cyberlabel(anchor.verifying_key()),
        ),
    )
    .map_err(|e| anyhow::anyhow!("opening the log: {e}"))?;
    let mut tickets = vec![
        log.submit(Submission::entry(crate::serve::bench::bench_trust_list(
            &key.verifying_key(),
            &claim.scheme,
            &anchor,
        ))),
    ];
    for l in &labels {
        tickets.push(log.submit(Submission::entry(l.clone())));
    }
    for tk in tickets {
        tk.blocking_recv()
            .context("sequencer gone")?
            .map_err(|e| anyhow::anyhow!("append: {e}"))?;
    }
    println!(
        "built the log ({} entries) in {:.1} s",
        log.size(),
        t.elapsed().as_secs_f64()
    );

    // 3. baseline: verify_strict over the labels' own signatures, all threads
    let issuer: VerifyingKey = key.verifying_key();
    let sample: Vec<(Vec<u8>, Signature)> = labels
        .iter()
        .take(200_000)
        .map(|l| {
            let s = cose::parse_sign1(l).map_err(|e| anyhow::anyhow!("{e}"))?;
            let sig: [u8; 64] = l
                .get(l.len().saturating_sub(64)..)
                .and_then(|b| b.try_into().ok())
                .context("short label")?;
            Ok((s.to_be_signed(), Signature::from_bytes(&sig)))
        })
        .collect::<Result<_>>()?;
    drop(labels);
    let t = Instant::now();
    let chunk = sample.len().div_ceil(threads.get()).max(1);
    let ok = std::thread::scope(|s| {
        let hs: Vec<_> = sample
            .chunks(chunk)
            .map(|part| {
                let issuer = &issuer;
                s.spawn(move || {
                    part.iter()
                        .filter(|(m, sig)| issuer.verify_strict(m, sig).is_ok())
                        .count()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or(0)).sum::<usize>()
    });
    let raw_rate = sample.len() as f64 / t.elapsed().as_secs_f64();
    if ok != sample.len() {
        bail!(
            "baseline: {} of {} signatures failed",
            sample.len() - ok,
            sample.len()
        );
    }
    println!("raw verify_strict ({threads} threads): {raw_rate:>10.0} signatures/s");

    // 4. the audit replay from the store
    let src = StoreSource(&log);
    let signed = log.latest_checkpoint();
    let cp = checkpoint::open(signed.as_bytes(), &log.policy())
        .map_err(|e| anyhow::anyhow!("checkpoint: {e}"))?
        .checkpoint;
    let t = Instant::now();
    let mut progress = Progress::new(anchor.verifying_key());
    let opts = ReplayOptions {
        watch: None,
        on_progress: &|_| {},
        threads,
        window_bundles: audit_replay::WINDOW_BUNDLES,
    };
    let out = audit_replay::replay(&src, &mut progress, cp.size, &opts)?;
    let secs = t.elapsed().as_secs_f64();
    let rate = cp.size as f64 / secs;
    let root_ok = progress.root() == cp.root;
    let status_ok = cp
        .status()
        .ok()
        .flatten()
        .is_some_and(|c| c == progress.replay.status().commitment());
    println!(
        "audit replay from the store: {} entries in {secs:.1} s = {rate:>10.0} entries/s; \
         findings {}, root {}, status map {}",
        cp.size,
        out.findings.len(),
        if root_ok { "matches" } else { "MISMATCH" },
        if status_ok { "matches" } else { "MISMATCH" },
    );
    println!(
        "ratio audit / raw verify_strict: {:.2} (target >= 0.7)",
        rate / raw_rate
    );
    log.close();
    Ok(())
}
