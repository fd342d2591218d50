//! `cyberlabel bench-register` (hidden): the public register at scale on this machine.
//!
//! Derives the register ([`cyberlabel_server::register::Register`], a redb file as in the
//! server) from `--entries` real signed log entries — labels from 50,000 manufacturers (a
//! hundred large ones hold 30 % of them), in every scheme of the catalog, with renewals (1 in
//! 40 entries) and suspensions and revocations (1 in 50) — folded in entry-bundle chunks as the
//! server's task does. The log's tree itself is not built: the register reads only entries.
//! Then it runs a mix of searches (manufacturer, model, words, scheme and level, status,
//! combinations, second pages) and prints p50/p99 per kind and overall, the fold rate, the
//! register's bytes on disk per label and the process's RSS. Figures are printed, never
//! asserted.

use std::num::NonZeroUsize;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cyberlabel_core::claim::Claim;
use cyberlabel_core::cose;
use cyberlabel_core::register::Query;
use cyberlabel_core::status::{ReasonCode, StatusAction, StatusRecord};
use cyberlabel_issuer::keys;
use cyberlabel_issuer::mint;
use cyberlabel_issuer::product::ProductDescription;
use cyberlabel_server::register::Register;
use ed25519_dalek::SigningKey;

/// Entries folded per register write (the server folds up to 16 bundles at once).
const FOLD_CHUNK: usize = 4096;

/// `bench-register` flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Log entries the register is derived from.
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
    /// Searches timed.
    #[arg(long, default_value_t = 2_000)]
    searches: usize,
    /// Threads for signing [default: all cores].
    #[arg(long)]
    threads: Option<NonZeroUsize>,
}

/// Deterministic mixing (splitmix64), so every run builds the same register.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const SYL: [&str; 50] = [
    "Ac", "Bel", "Cor", "Dyn", "El", "Fen", "Gal", "Hel", "Ion", "Jun", "Kor", "Lum", "Mer", "Nor",
    "Orb", "Pax", "Qui", "Ras", "Sol", "Tek", "Ult", "Vor", "Wex", "Xen", "Yor", "Zet", "Arc",
    "Bor", "Cel", "Dar", "Eno", "Fal", "Gor", "Hal", "Ivo", "Jax", "Kel", "Lor", "Mon", "Nex",
    "Oro", "Pol", "Rox", "Sen", "Tor", "Umi", "Val", "Wyn", "Yel", "Zor",
];
const FORM: [&str; 20] = [
    "Devices",
    "Home",
    "Labs",
    "Systems",
    "Electronics",
    "Tech",
    "Smart",
    "Networks",
    "Audio",
    "Security",
    "Appliances",
    "Robotics",
    "Vision",
    "Connect",
    "Living",
    "Power",
    "Sensors",
    "Industries",
    "Digital",
    "Wireless",
];
pub(crate) const KIND: [&str; 12] = [
    "SmartCam",
    "Doorbell",
    "Plug",
    "Bulb",
    "Hub",
    "Thermostat",
    "Speaker",
    "Lock",
    "Router",
    "Sensor",
    "Vacuum",
    "Watch",
];
pub(crate) const SERIES: [&str; 10] = [
    "Mini", "Pro", "Max", "Lite", "Air", "One", "Plus", "Go", "Home", "Outdoor",
];

pub(crate) fn manufacturer(r: u64) -> String {
    let m = if r % 1000 < 300 { r % 100 } else { r % 50_000 };
    format!(
        "{}{} {}",
        SYL[(m % 50) as usize],
        SYL[((m / 50) % 50) as usize].to_lowercase(),
        FORM[((m / 2500) % 20) as usize]
    )
}

/// Entry `i`'s bytes: a label, a renewal, or a status record about an earlier entry.
fn entry(i: u64, templates: &[Claim], key: &SigningKey) -> Vec<u8> {
    let r = mix(i);
    if i > 100 && r.is_multiple_of(50) {
        let target = i - 1 - (mix(r) % (i - 1).min(10_000));
        let action = if mix(r ^ 1).is_multiple_of(3) {
            StatusAction::Revoke
        } else {
            StatusAction::Suspend
        };
        let record = StatusRecord {
            action,
            target,
            reason: ReasonCode::from_u8((mix(r ^ 2) % 12) as u8).unwrap_or(ReasonCode::Unspecified),
            time: 1_780_000_000 + i,
            target_leaf_hash: [0; 32],
        };
        return cose::sign_status(&record, key);
    }
    let mut c = templates[(r % templates.len() as u64) as usize].clone();
    c.manufacturer = manufacturer(mix(r ^ 3));
    c.product = format!(
        "{} {} {}",
        KIND[(mix(r ^ 4) % 12) as usize],
        SERIES[(mix(r ^ 5) % 10) as usize],
        100 + mix(r ^ 6) % 900
    );
    c.category = 1 + (mix(r ^ 7) % 8) as u16;
    c.serial = i;
    c.supersedes = (i > 100 && r % 40 == 1).then(|| i - 1 - (mix(r ^ 8) % (i - 1).min(10_000)));
    cose::sign_label(&c, key)
}

/// One claim per (scheme, level) of the catalog, as the issuer builds them.
pub(crate) fn templates() -> Result<Vec<Claim>> {
    let catalog = cyberlabel_core::catalog::Catalog::builtin();
    let now = cyberlabel_server::now_unix();
    let mut out = Vec::new();
    for s in &catalog.schemes {
        for l in &s.levels {
            let third = l
                .assessment
                .contains(&cyberlabel_core::claim::AssessmentKind::ThirdParty);
            let mut provisions: Vec<String> = l.requires.clone();
            for p in s.provisions.iter().take(4) {
                if !provisions.contains(&p.id) {
                    provisions.push(p.id.clone());
                }
            }
            // a lab of the scheme's own list (claims carry its catalog code)
            let lab = catalog.labs_of(&s.id).next().map(|l| l.id.clone());
            let desc = ProductDescription::from_json(
                &serde_json::json!({
                    "scheme": s.id, "level": l.level, "manufacturer": "Template",
                    "product": "Template", "hardware_versions": "rev B",
                    "firmware_versions": "2.4.0", "category": 1, "provisions": provisions,
                    "assessment": if third { "third_party" } else { "self_declared" },
                    "lab": if third { lab } else { None },
                    "support_until": "2031-12-31"
                })
                .to_string(),
            )
            .context("template product")?;
            out.push(
                mint::claim_from_description(&desc, &catalog, 0, now)
                    .with_context(|| format!("template {} level {}", s.id, l.level))?,
            );
        }
    }
    Ok(out)
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

pub(crate) fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p).map_or(0, |rd| {
        rd.filter_map(Result::ok)
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => dir_size(&e.path()),
                _ => e.metadata().map_or(0, |m| m.len()),
            })
            .sum()
    })
}

/// Run the benchmark.
///
/// # Errors
/// Setup failures (keys, temporary directory, the store).
pub fn run(args: Args) -> Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; build with --release for meaningful figures");
    }
    let tmp =
        std::env::temp_dir().join(format!("cyberlabel-bench-register-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let result = run_in(&args, &tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    result.map(|()| ExitCode::SUCCESS)
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn run_in(args: &Args, tmp: &Path) -> Result<()> {
    let threads = args
        .threads
        .or_else(|| std::thread::available_parallelism().ok())
        .unwrap_or(NonZeroUsize::MIN)
        .get() as u64;
    let key = keys::load_example_issuer_key().context("example issuer key")?;
    let templates = templates()?;
    let register =
        Register::open(&tmp.join("register.redb")).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "cyberlabel bench-register: {} entries, {threads} signing threads",
        args.entries
    );

    // 1. sign and fold, a large chunk at a time (signing on every core, folding in bundles)
    let t = Instant::now();
    let mut sign_secs = 0.0;
    let chunk = 65_536u64;
    let mut at = 0u64;
    let bar = crate::util::progress(args.entries, "folding entries");
    while at < args.entries {
        let end = (at + chunk).min(args.entries);
        let ts = Instant::now();
        let per = (end - at).div_ceil(threads).max(1);
        let entries: Vec<Vec<u8>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads)
                .map(|w| {
                    let (templates, key) = (&templates, &key);
                    s.spawn(move || {
                        let lo = at + w * per;
                        let hi = (lo + per).min(end);
                        (lo..hi)
                            .map(|i| entry(i, templates, key))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            hs.into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        if entries.len() as u64 != end - at {
            bail!("a signing thread failed");
        }
        sign_secs += ts.elapsed().as_secs_f64();
        for (b, bundle) in entries.chunks(FOLD_CHUNK).enumerate() {
            let first = at + (b * FOLD_CHUNK) as u64;
            let upto = first + bundle.len() as u64;
            register
                .fold_entries(
                    bundle
                        .iter()
                        .enumerate()
                        .map(|(k, e)| (first + k as u64, e.as_slice())),
                    upto,
                    upto == args.entries,
                )
                .map_err(|e| anyhow::anyhow!("fold: {e}"))?;
        }
        at = end;
        bar.set_position(at);
    }
    bar.finish_and_clear();
    let total = t.elapsed().as_secs_f64();
    let fold_secs = total - sign_secs;
    let bytes = dir_size(tmp);
    let labels = register
        .manufacturers("", usize::MAX)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .iter()
        .map(|m| m.labels)
        .sum::<u64>();
    println!(
        "built: {labels} labels from {} entries; signing {sign_secs:.1} s, folding {fold_secs:.1} s ({:.0} entries/s); register on disk {:.1} MB = {:.0} B/label; RSS {:.0} MB",
        args.entries,
        args.entries as f64 / fold_secs.max(1e-9),
        bytes as f64 / 1e6,
        bytes as f64 / labels.max(1) as f64,
        rss_mb()
    );

    // 2. searches
    let now = cyberlabel_server::now_unix();
    let kinds = [
        "manufacturer (large)",
        "manufacturer (small)",
        "model",
        "words",
        "scheme+level",
        "status=revoked",
        "manufacturer+status",
        "latest",
        "second page",
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    let mut results = 0usize;
    for n in 0..args.searches {
        let r = mix(u64::MAX - n as u64);
        let kind = n % kinds.len();
        let mut q = Query::default();
        let mfr = manufacturer(if kind == 0 { r % 100 } else { r });
        match kind {
            0 | 1 => q.manufacturer = Some(mfr),
            2 => {
                q.model = Some(format!(
                    "{} {}",
                    KIND[(r % 12) as usize],
                    SERIES[(r % 10) as usize]
                ))
            }
            3 => {
                q.q = Some(format!(
                    "{} {}",
                    mfr.split(' ').next().unwrap_or("ac"),
                    KIND[(r % 12) as usize]
                ))
            }
            4 => {
                let tpl = &templates[(r % templates.len() as u64) as usize];
                q.scheme = Some(tpl.scheme.clone());
                q.level = Some(tpl.level);
            }
            5 => q.status = Some("revoked".into()),
            6 => {
                q.manufacturer = Some(manufacturer(r % 100));
                q.status = Some("active".into());
            }
            7 => {}
            _ => q.manufacturer = Some(manufacturer(r % 100)),
        }
        let t = Instant::now();
        let mut page = register
            .search(&q, None, 20, now)
            .map_err(|e| anyhow::anyhow!("search: {e}"))?;
        if kind == 8
            && let Some(next) = page.next.clone()
        {
            // time the second page only
            let t2 = Instant::now();
            page = register
                .search(&q, Some(&next), 20, now)
                .map_err(|e| anyhow::anyhow!("search: {e}"))?;
            times[kind].push(t2.elapsed().as_secs_f64() * 1e3);
        } else {
            times[kind].push(t.elapsed().as_secs_f64() * 1e3);
        }
        results += page.results.len();
    }
    let mut all: Vec<f64> = times.iter().flatten().copied().collect();
    all.sort_by(f64::total_cmp);
    println!(
        "searches: {} ({} results), p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; RSS {:.0} MB",
        all.len(),
        results,
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or(0.0),
        rss_mb()
    );
    for (k, t) in kinds.iter().zip(times.iter_mut()) {
        t.sort_by(f64::total_cmp);
        println!(
            "  {k:<22} n={:<5} p50 {:>7.2} ms  p99 {:>7.2} ms",
            t.len(),
            percentile(t, 0.5),
            percentile(t, 0.99)
        );
    }
    Ok(())
}
