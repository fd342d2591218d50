//! `cyberlabel bench-store` (hidden): the log's memory and disk on this machine, through the
//! real server.
//!
//! 1. Starts `cyberlabel serve --demo` once on a fresh data directory (trust list and sample
//!    labels), stops it, and appends `--entries` real signed labels (every scheme and level of
//!    the catalog, signed by the example issuer key, admitted by the log's own rules) straight
//!    into the log's files, `<data>/log.redb` and `log.seg`, as a bulk of issuance would.
//! 2. Starts the server again on it and makes `--reads` random reads over HTTP from 8
//!    keep-alive connections — full and partial hash tiles, entry bundles, label views with
//!    their inclusion proofs, status proofs — sampling the server's RSS (VmRSS and its peak,
//!    VmHWM) twice a second. The server also derives its register from the log meanwhile, as
//!    a real server starting on such a log does.
//! 3. Mints `--single-mints` labels one request at a time at `--rate` requests/s (open loop)
//!    and reports the log file's growth per entry against what the log must keep: the entry
//!    plus its hashes (32 bytes of leaf hash and 32/255 per level above).
//!
//! Figures are printed, never asserted.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use cyberlabel_core::claim::Claim;
use cyberlabel_core::cose;
use cyberlabel_issuer::keys;
use cyberlabel_log::{EntryPolicy, Log, LogConfig, RedbStore, Submission};

use crate::bench_register::{KIND, SERIES, dir_size, manufacturer, mix, percentile, templates};

/// `bench-store` flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Labels appended to the log before the reads.
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
    /// Random HTTP reads.
    #[arg(long, default_value_t = 100_000)]
    reads: u64,
    /// Labels then minted one request at a time.
    #[arg(long, default_value_t = 20_000)]
    single_mints: u64,
    /// Rate of the single mints, requests per second (open loop).
    #[arg(long, default_value_t = 1_000)]
    rate: u64,
    /// Work directory (default: a temporary one, deleted afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
}

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(data: &Path, www: &Path) -> Result<Self> {
        use std::io::BufRead;
        let exe = std::env::current_exe().context("own executable")?;
        let mut child = Command::new(exe)
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .arg("--www")
            .arg(www)
            .env("CYBERLABEL_READ_RPS", "0")
            .env("CYBERLABEL_WRITE_RPS", "0")
            .env("CYBERLABEL_HEAVY_RPS", "0")
            .env("RUST_LOG", "warn")
            .stderr(Stdio::piped())
            .spawn()
            .context("start the server")?;
        let stderr = child.stderr.take().context("server stderr")?;
        let mut lines = std::io::BufReader::new(stderr).lines();
        let addr = loop {
            let line = lines
                .next()
                .context("the server exited before serving")?
                .context("server stderr")?;
            if let Some(rest) = line.strip_prefix("cyberlabel: serving on http://") {
                break rest.split('/').next().unwrap_or_default().to_owned();
            }
        };
        // keep draining its output so it never blocks on a full pipe
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Ok(Self { child, addr })
    }

    fn status_kb(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(field))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse().ok())
            })
            .unwrap_or(0)
    }

    fn stop(mut self) -> Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("kill -TERM")?;
        let st = self.child.wait().context("wait for the server")?;
        if !st.success() {
            bail!("the server exited with {st}");
        }
        Ok(())
    }
}

/// Run the benchmark.
///
/// # Errors
/// Setup failures (directories, the server, the log).
pub fn run(args: Args) -> Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; build with --release for meaningful figures");
    }
    let (dir, temporary) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("cyberlabel-bench-store-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let result = run_in(&args, &dir);
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result.map(|()| ExitCode::SUCCESS)
}

fn label(i: u64, templates: &[Claim], key: &ed25519_dalek::SigningKey) -> Vec<u8> {
    let r = mix(i);
    let mut c = templates[(r % templates.len() as u64) as usize].clone();
    c.manufacturer = manufacturer(mix(r ^ 3));
    c.product = format!(
        "{} {} {}",
        KIND[(mix(r ^ 4) % 12) as usize],
        SERIES[(mix(r ^ 5) % 10) as usize],
        100 + mix(r ^ 6) % 900
    );
    c.serial = i;
    cose::sign_label(&c, key)
}

fn run_in(args: &Args, dir: &Path) -> Result<()> {
    let data = dir.join("data");
    let www = dir.join("www");
    std::fs::create_dir_all(&www)?;
    println!(
        "cyberlabel bench-store: {} labels, {} reads, {} single mints at {}/s",
        args.entries, args.reads, args.single_mints, args.rate
    );
    Server::start(&data, &www)?.stop()?;

    // 1. append the labels straight into the log file
    let issuer = keys::load_example_issuer_key().context("example issuer key")?;
    let anchor = keys::load_example_trust_list_key().context("example trust-list key")?;
    let log_key = keys::load_example_log_key().context("example log key")?;
    let templates = Arc::new(templates()?);
    let file = data.join("log.redb");
    let before = {
        let store = RedbStore::open(&file, 16 << 20).map_err(|e| anyhow!("{e}"))?;
        let mut cfg = LogConfig::new(
            cyberlabel_server::Config::default().origin,
            log_key,
            EntryPolicy::Cyberlabel(anchor.verifying_key()),
        );
        cfg.batch_size = 4096;
        cfg.max_delay = Duration::from_millis(20);
        let log = Log::with_store(Arc::new(store), cfg).map_err(|e| anyhow!("{e}"))?;
        let start_size = log.size();
        let bar = crate::util::progress(args.entries, "appending labels");
        let t = Instant::now();
        let mut pending = std::collections::VecDeque::new();
        for _ in 0..args.entries {
            let (templates, key) = (Arc::clone(&templates), issuer.clone());
            let vk = key.verifying_key();
            pending.push_back(
                log.submit(
                    Submission::build(move |i| Ok(label(i, &templates, &key))).signed_by(vk),
                ),
            );
            if pending.len() >= 16_384
                && let Some(t) = pending.pop_front()
            {
                t.blocking_recv()
                    .map_err(|_| anyhow!("log closed"))?
                    .map_err(|e| anyhow!("append: {e}"))?;
                bar.inc(1);
            }
        }
        for t in pending {
            t.blocking_recv()
                .map_err(|_| anyhow!("log closed"))?
                .map_err(|e| anyhow!("append: {e}"))?;
            bar.inc(1);
        }
        bar.finish_and_clear();
        let secs = t.elapsed().as_secs_f64();
        let size = log.size();
        println!(
            "  appended {} labels in {secs:.1} s ({:.0}/s); log {size} entries",
            size - start_size,
            (size - start_size) as f64 / secs
        );
        let mut entry_bytes = 0u64;
        for i in (0..size).step_by((size / 1000).max(1) as usize) {
            entry_bytes += log.entry(i).map_err(|e| anyhow!("{e}"))?.len() as u64;
        }
        let avg = entry_bytes as f64 / size.div_ceil((size / 1000).max(1)) as f64;
        log.close();
        let disk = log_bytes(&file)?;
        println!(
            "  log.redb + log.seg {:.1} MB: {:.0} B/entry on disk for {avg:.0}-byte entries ({:.2}x entry + hashes)",
            disk as f64 / 1e6,
            disk as f64 / size as f64,
            disk as f64 / size as f64 / (avg + 32.0 + 32.0 / 255.0 * 4.0)
        );
        (size, avg)
    };
    let (size, avg_entry) = before;

    // 2. random reads against the real server
    let server = Server::start(&data, &www)?;
    std::thread::sleep(Duration::from_secs(1));
    let rss_open = server.status_kb("VmRSS:");
    println!("  server open: RSS {:.1} MB", rss_open as f64 / 1024.0);
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (done, peak) = (Arc::clone(&done), Arc::clone(&peak));
        let pid = server.child.id();
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let kb = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .ok()
                    .and_then(|s| {
                        s.lines()
                            .find(|l| l.starts_with("VmRSS:"))
                            .and_then(|l| l.split_whitespace().nth(1))
                            .and_then(|v| v.parse::<u64>().ok())
                    })
                    .unwrap_or(0);
                peak.fetch_max(kb, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };
    let threads = 8u64;
    let per = args.reads / threads;
    let t = Instant::now();
    let bar = crate::util::progress(per * threads, "random reads");
    let lat: Vec<f64> = std::thread::scope(|s| -> Result<Vec<f64>> {
        let hs: Vec<_> = (0..threads)
            .map(|w| {
                let (addr, bar) = (&server.addr, &bar);
                s.spawn(move || -> Result<Vec<f64>> {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    let mut out = Vec::with_capacity(per as usize);
                    for k in 0..per {
                        let r = mix(w * 1_000_000_007 + k);
                        let i = r % size;
                        let path = match (r >> 32) % 5 {
                            0 => format!("/tile/{}", tile_name(Some(0), i / 256, size)),
                            1 => format!("/tile/{}", tile_name(None, i / 256, size)),
                            2 => format!("/tile/{}", tile_name(Some(1), i / 65_536, size / 256)),
                            3 => format!("/labels/{i}"),
                            _ => format!(
                                "/{}",
                                cyberlabel_core::online::status_path(
                                    i / cyberlabel_core::status::BUCKET_LABELS
                                )
                            ),
                        };
                        let t = Instant::now();
                        let resp = agent
                            .get(&format!("http://{addr}{path}"))
                            .call()
                            .map_err(|e| anyhow!("GET {path}: {e}"))?;
                        let status = resp.status().as_u16();
                        let _ = resp.into_body().read_to_vec();
                        if status != 200 {
                            bail!("GET {path}: {status}");
                        }
                        out.push(t.elapsed().as_secs_f64() * 1e3);
                        bar.inc(1);
                    }
                    Ok(out)
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in hs {
            all.extend(h.join().map_err(|_| anyhow!("reader panicked"))??);
        }
        Ok(all)
    })?;
    bar.finish_and_clear();
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let secs = t.elapsed().as_secs_f64();
    let mut lat = lat;
    lat.sort_by(f64::total_cmp);
    println!(
        "  {} reads in {secs:.1} s ({:.0}/s): p50 {:.2} ms, p99 {:.2} ms; server RSS peak {:.1} MB sampled, VmHWM {:.1} MB, now {:.1} MB",
        lat.len(),
        lat.len() as f64 / secs,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        peak.load(Ordering::Relaxed) as f64 / 1024.0,
        server.status_kb("VmHWM:") as f64 / 1024.0,
        server.status_kb("VmRSS:") as f64 / 1024.0,
    );

    // 3. single mints at a steady rate; the file's growth per entry
    let admin = std::fs::read_to_string(data.join("demo-admin.token"))
        .context("demo admin token")?
        .trim()
        .to_owned();
    let file_before = log_bytes(&file)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    // Open loop: request k is due at k / rate whatever the answers before it took; enough
    // clients wait for their slots that a slow answer never delays the next request.
    let gap = Duration::from_secs_f64(1.0 / args.rate.max(1) as f64);
    let t = Instant::now();
    let bar = crate::util::progress(args.single_mints, "single mints");
    let next = AtomicU64::new(0);
    let entry_bytes = AtomicU64::new(0);
    let latencies = std::sync::Mutex::new(Vec::with_capacity(args.single_mints as usize));
    let clients = (args.rate / 10).clamp(1, 128);
    let mint = |k: u64| -> Result<()> {
        let body = serde_json::json!({
            "scheme": "SG-CLS", "level": 2, "manufacturer": manufacturer(mix(k)),
            "product": format!("Single {k}"), "hardware_versions": "rev B",
            "firmware_versions": "2.4.0", "category": 1,
            "provisions": ["5.1-1", "5.1-2", "5.2-1", "5.3-13", "5.3-16"],
            "assessment": "self_declared", "support_until": "2031-12-31"
        })
        .to_string();
        let resp = agent
            .post(&format!("http://{}/labels", server.addr))
            .header("authorization", &format!("Bearer {admin}"))
            .header("content-type", "application/json")
            .send(body.as_bytes())
            .map_err(|e| anyhow!("POST /labels: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp.into_body().read_to_string().unwrap_or_default();
        if status != 201 {
            bail!("POST /labels: {status} {text}");
        }
        let v: serde_json::Value = serde_json::from_str(&text)?;
        entry_bytes.fetch_add(
            label_bytes(v["label"].as_str().unwrap_or_default()),
            Ordering::Relaxed,
        );
        Ok(())
    };
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= args.single_mints {
                            return Ok(());
                        }
                        let due = t + gap.mul_f64(k as f64);
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        mint(k)?;
                        // from when it was due: a late start counts against the server
                        let took = due.elapsed().as_secs_f64() * 1e3;
                        if let Ok(mut l) = latencies.lock() {
                            l.push(took);
                        }
                        bar.inc(1);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow!("a client thread panicked"))??;
        }
        Ok(())
    })?;
    let minted = args.single_mints;
    let entry_bytes = entry_bytes.into_inner();
    let mut lat = latencies.into_inner().unwrap_or_default();
    lat.sort_by(f64::total_cmp);
    bar.finish_and_clear();
    let secs = t.elapsed().as_secs_f64();
    let file_after = log_bytes(&file)?;
    let grown = file_after.saturating_sub(file_before);
    let avg = entry_bytes as f64 / minted.max(1) as f64;
    let must = avg + 32.0 + 32.0 / 255.0 * 4.0;
    println!(
        "  {minted} single mints in {secs:.1} s ({:.0}/s; latency from when each was due p50 {:.1} ms, p99 {:.1} ms): the log's files grew {:.1} MB = {:.0} B/entry for {avg:.0}-byte entries ({:.2}x entry + hashes); whole log {:.0} B/entry over {} entries ({:.2}x); data dir {:.1} MB",
        minted as f64 / secs,
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        grown as f64 / 1e6,
        grown as f64 / minted.max(1) as f64,
        grown as f64 / minted.max(1) as f64 / must,
        file_after as f64 / (size + minted) as f64,
        size + minted,
        file_after as f64 / (size + minted) as f64 / (avg_entry + 32.0 + 32.0 / 255.0 * 4.0),
        dir_size(&data) as f64 / 1e6,
    );
    server.stop()?;
    Ok(())
}

/// A label's size in the log, from the base64 the API returns.
fn label_bytes(label: &str) -> u64 {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(label)
        .map_or(0, |b| b.len() as u64)
}

/// `<level>/<N>[.p/<W>]`: tile `n` of a level with `leaves` nodes, partial if the tree holds
/// only part of it.
fn tile_name(level: Option<u8>, n: u64, leaves: u64) -> String {
    use cyberlabel_core::tiles::{TileKind, TilePath};
    let width = if n < leaves / 256 {
        256
    } else {
        (leaves % 256).max(1)
    };
    let path = TilePath {
        kind: level.map_or(TileKind::Entries, TileKind::Hash),
        index: n,
        width: u16::try_from(width).unwrap_or(256),
    }
    .to_path();
    path.strip_prefix("tile/").unwrap_or(&path).to_owned()
}

/// Both files of the log (the database and the segment file of full bundles), in bytes.
fn log_bytes(db: &Path) -> Result<u64> {
    RedbStore::files(db).iter().try_fold(0, |sum, f| {
        Ok(sum
            + std::fs::metadata(f)
                .with_context(|| format!("{}", f.display()))?
                .len())
    })
}
