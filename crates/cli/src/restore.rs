//! `cyberlabel restore --from URL`: rebuild a data directory's log from a mirror of its read
//! side — the server of another data directory of the same log, or the static copy in an
//! object store — after the local file was lost or damaged.
//!
//! The mirror is not trusted: its checkpoint must carry this log's signature, every entry goes
//! through the log's own admission and status rules again as it is appended to a fresh file, and
//! the rebuilt tree must have exactly the root the mirror's signed checkpoint names. Only then is
//! the fresh file moved into place (a damaged one is kept beside it, renamed). The rebuilt log
//! signs new checkpoints for the same trees, so it stays consistent with every checkpoint the
//! old one published. Idempotency records are not part of the read side and start empty.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use cyberlabel_core::checkpoint;
use cyberlabel_core::tiles::{self, TileKind, TilePath};
use cyberlabel_log::{EntryPolicy, Log, LogConfig, RedbStore, Submission};

use crate::fetch::Fetcher;
use crate::serve::{ServeArgs, config};

/// `cyberlabel restore`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The mirror: base URL of the log's read side (`<url>/checkpoint`, `<url>/tile/…`).
    #[arg(long, value_name = "URL")]
    from: String,
    /// The server's configuration (data directory, origin, keys), as for `serve`.
    #[command(flatten)]
    serve: ServeArgs,
}

/// Appends in flight at once (the log commits them in batches).
const WINDOW: usize = 8192;

/// Run the restore.
///
/// # Errors
/// Bad configuration, an unreachable or untrustworthy mirror, a locked data directory.
pub fn run(args: Args) -> Result<ExitCode> {
    let cfg = config(&args.serve)?;
    let (log_key, anchor) =
        cyberlabel_server::service::log_identity(&cfg).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create {}", cfg.data_dir.display()))?;
    let live = cfg.data_dir.join(cyberlabel_server::service::LOG_FILE);
    let fresh = live.with_extension("redb.restoring");
    if fresh.exists() {
        std::fs::remove_file(&fresh)
            .with_context(|| format!("cannot remove {}", fresh.display()))?;
    }
    let mirror = Fetcher::new(&args.from)?;
    let mut lcfg = LogConfig::new(cfg.origin.clone(), log_key, EntryPolicy::Cyberlabel(anchor));
    lcfg.batch_size = 4096;
    lcfg.max_delay = std::time::Duration::from_millis(5);
    let store = RedbStore::open(&fresh, cfg.log_cache_bytes)
        .map_err(|e| anyhow!("cannot create {}: {e}", fresh.display()))?;
    let log = Log::with_store(Arc::new(store), lcfg).map_err(|e| anyhow!("{e}"))?;

    let signed = mirror.get_required("checkpoint")?;
    let target = checkpoint::open(&signed, &log.policy())
        .map_err(|e| {
            anyhow!(
                "the mirror's checkpoint is not signed by this log ({} with origin {:?}): {e}",
                log.verifier_key(),
                cfg.origin
            )
        })?
        .checkpoint;
    eprintln!(
        "restoring {} entries from {} into {}",
        target.size,
        mirror.base(),
        live.display()
    );
    let t = Instant::now();
    let bar = crate::util::progress(target.size, "entries");
    let mut pending = std::collections::VecDeque::new();
    let mut next = 0u64;
    let wait = |t: cyberlabel_log::Ticket, at: u64| -> Result<()> {
        t.blocking_recv()
            .map_err(|_| anyhow!("the log stopped"))?
            .map_err(|e| {
                anyhow!("entry {at} from the mirror is refused by the log's rules: {e}")
            })?;
        Ok(())
    };
    for bundle in 0..target.size.div_ceil(256) {
        let width = (target.size - bundle * 256).min(256);
        let path = TilePath {
            kind: TileKind::Entries,
            index: bundle,
            width: u16::try_from(width).unwrap_or(256),
        }
        .to_path();
        let bytes = mirror.get_required(&path)?;
        let entries = tiles::parse_entry_bundle(&bytes)
            .map_err(|e| anyhow!("the mirror's {path} is malformed: {e}"))?;
        if entries.len() as u64 != width {
            bail!(
                "the mirror's {path} holds {} entries, not {width}",
                entries.len()
            );
        }
        for e in entries {
            pending.push_back((log.submit(Submission::entry(e.to_vec())), next));
            next += 1;
            if pending.len() >= WINDOW
                && let Some((t, at)) = pending.pop_front()
            {
                wait(t, at)?;
                bar.inc(1);
            }
        }
    }
    for (t, at) in pending {
        wait(t, at)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let root = log.root(target.size).map_err(|e| anyhow!("{e}"))?;
    if log.size() != target.size || root != target.root {
        bail!(
            "the mirror's entries do not give the tree its checkpoint signs (size {} vs {}): not restored",
            log.size(),
            target.size
        );
    }
    log.close();
    if live.exists() {
        let kept = live.with_extension(format!("redb.replaced-{}", cyberlabel_server::now_unix()));
        std::fs::rename(&live, &kept)
            .with_context(|| format!("cannot move {} aside", live.display()))?;
        eprintln!("the previous log file is kept as {}", kept.display());
    }
    std::fs::rename(&fresh, &live)
        .with_context(|| format!("cannot move {} into place", fresh.display()))?;
    eprintln!(
        "restored {} entries in {:.1} s: the tree matches the mirror's signed checkpoint; start the server, then run `cyberlabel register check`",
        target.size,
        t.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
