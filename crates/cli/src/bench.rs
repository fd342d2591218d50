//! `cyberlabel bench`: load figures for the issuing service on this machine, in one run.
//!
//! 1. raw Ed25519 label signing (`cose::sign_label`: the claim's CBOR and one Ed25519
//!    signature), on one core and on every core — **the baseline of every issuance ratio is
//!    raw signing on all cores**, no I/O: what the machine can sign at most. The all-core run is
//!    repeated and the fastest run is the baseline, so a moment of load from elsewhere on a
//!    shared machine makes the ratios smaller, never larger;
//! 2. durable issuance through the log on redb, the server's store (group commit, fsync before
//!    acknowledgement; the log signs and checks a batch's labels on every core), with the same
//!    signing work per label, and its ratio to the all-core baseline;
//! 3. bulk issuance over HTTP (`POST /labels/bulk`), labels/s, and its ratio to the baseline,
//!    with compact views (`?view=compact`, what `client issue-bulk` asks for) and with full ones;
//!    then how long the public register (which folds new labels on a low-priority thread)
//!    takes to catch up, and the rate with that time counted too;
//! 4. single issuance over HTTP at fixed arrival rates (open loop, latency measured from the
//!    scheduled send time so queueing counts), p50/p99, at each `--rate`;
//! 5. tile and checkpoint reads/s from the server vs nginx (Debian) serving the same bytes
//!    from disk, both on loopback, with the same load generator.
//!
//! The server runs in its own tokio runtime thread, the load generator in another, so both
//! the server and nginx compete with the same generator for the two cores. Figures are printed,
//! never asserted, and with `--json FILE` also written as JSON. When the nginx comparison cannot
//! run (no nginx binary, it does not start, or `--nginx ""`), the run says so in a line of its
//! own and in the results (`nginx.ran = false` with the reason): a read figure without its
//! baseline must never pass for a comparison.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cyberlabel_core::cose;
use cyberlabel_core::trust::{self, TrustList, TrustedIssuer};
use cyberlabel_issuer::keys;
use cyberlabel_issuer::mint;
use cyberlabel_issuer::product::ProductDescription;
use cyberlabel_log::{
    BuildError, DEFAULT_CACHE_BYTES, EntryPolicy, Log, LogConfig, RedbStore, Submission,
};
use cyberlabel_server::{AppState, Config, Role, now_unix};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// `cyberlabel bench` flags.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Labels signed for the raw signing baseline and for the durable-log run.
    #[arg(long, default_value_t = 20_000)]
    labels: usize,
    /// Labels issued over HTTP in bulk (requests of --bulk-chunk items).
    #[arg(long, default_value_t = 20_000)]
    bulk: usize,
    /// Items per bulk request.
    #[arg(long, default_value_t = 2_000)]
    bulk_chunk: usize,
    /// Arrival rates of single-issue requests (requests/s), one run each (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1000,5000")]
    rate: Vec<u32>,
    /// Duration of the single-issue run and of each read run, in seconds.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent keep-alive connections for the read runs.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// nginx binary for the static-file comparison ("" to skip).
    #[arg(long, default_value = "/usr/sbin/nginx")]
    nginx: String,
    /// Log batch size.
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

fn product() -> Result<ProductDescription> {
    ProductDescription::from_json(
        r#"{"scheme": "SG-CLS", "level": 2, "manufacturer": "Bench Devices", "product": "Bench Cam",
            "hardware_versions": "rev B", "firmware_versions": "2.4.0", "category": 1,
            "provisions": ["5.1-1", "5.2-1", "5.3-13", "5.3-16"], "assessment": "third_party",
            "lab": "SG-LAB-1", "support_until": "2029-12-31"}"#,
    )
    .context("bench product")
}

/// A benchmark log's trust list (its first entry): one issuer key for one scheme, signed by
/// `anchor`.
pub fn bench_trust_list(
    issuer: &ed25519_dalek::VerifyingKey,
    scheme: &str,
    anchor: &ed25519_dalek::SigningKey,
) -> Vec<u8> {
    let list = TrustList {
        version: 1,
        issued_at: 0,
        expires_at: u64::MAX / 2,
        issuers: vec![TrustedIssuer::new(
            "bench issuer",
            issuer,
            &[scheme],
            0,
            u64::MAX / 2,
        )],
        ..TrustList::default()
    };
    trust::sign(list.to_json().as_bytes(), anchor)
}

/// Runs the benchmark and prints the figures.
pub fn run(args: BenchArgs) -> Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; build with --release for meaningful figures");
    }
    let tmp = std::env::temp_dir().join(format!("cyberlabel-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let result = run_in(&args, &tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn run_in(args: &BenchArgs, tmp: &Path) -> Result<()> {
    let key = keys::load_example_issuer_key().context("example issuer key")?;
    let catalog = cyberlabel_core::catalog::Catalog::builtin();
    let claim = mint::claim_from_description(&product()?, &catalog, 0, now_unix())
        .context("bench claim")?;
    println!(
        "cyberlabel bench ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // 1. raw signing: one core, then every core (the baseline)
    let sign_n = |n: usize, first: usize| {
        let mut sink = 0usize;
        for i in first..first + n {
            let mut c = claim.clone();
            c.serial = i as u64;
            sink += cose::sign_label(&c, &key).len();
        }
        std::hint::black_box(sink);
    };
    let t = Instant::now();
    sign_n(args.labels, 0);
    let sign_rate_one = args.labels as f64 / t.elapsed().as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = args.labels.div_ceil(cores);
    let all_cores = || {
        let t = Instant::now();
        std::thread::scope(|s| {
            for w in 0..cores {
                let sign_n = &sign_n;
                s.spawn(move || sign_n(per, w * per));
            }
        });
        (per * cores) as f64 / t.elapsed().as_secs_f64()
    };
    let cpu0 = server_cpu();
    let runs: Vec<f64> = (0..BASELINE_RUNS).map(|_| all_cores()).collect();
    let raw_cpu_us = (server_cpu() - cpu0) * 1e6 / (BASELINE_RUNS * per * cores) as f64;
    let sign_rate = runs.iter().copied().fold(0.0, f64::max);
    println!("raw Ed25519 label signing:        {sign_rate_one:>10.0} labels/s (1 thread)");
    println!(
        "raw Ed25519 label signing:        {sign_rate:>10.0} labels/s ({cores} threads, fastest of {}: {}) = THE BASELINE: raw signing on all cores",
        runs.len(),
        runs.iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut results = serde_json::json!({
        "cores": cores,
        "debug_build": cfg!(debug_assertions),
        "raw_signing_one_core_labels_per_s": sign_rate_one,
        "raw_signing_all_cores_labels_per_s": sign_rate,
        "raw_signing_all_cores_runs": runs,
        "raw_signing_cpu_us_per_label": raw_cpu_us,
        "baseline": "raw Ed25519 label signing on all cores (fastest run)",
    });

    // 2. durable issuance through the log
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(CLIENT_THREAD)
        .enable_all()
        .build()?;
    let log_rate = {
        // The same store as the server's log (`<data>/log.redb`): the figure describes the
        // product.
        let store = RedbStore::open(tmp.join("log-only.redb"), DEFAULT_CACHE_BYTES)
            .map_err(|e| anyhow::anyhow!("log store: {e}"))?;
        // The log verifies every label at append (signature, issuer authorised for the
        // scheme) against the trust list it holds: the figure includes that check.
        let anchor = keys::load_example_trust_list_key().context("example trust-list key")?;
        let mut cfg = LogConfig::new(
            "bench.example/log",
            keys::load_example_log_key()?,
            EntryPolicy::Cyberlabel(anchor.verifying_key()),
        );
        cfg.batch_size = args.batch_size;
        let log = Log::with_store(Arc::new(store), cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
        let entry = bench_trust_list(&key.verifying_key(), &claim.scheme, &anchor);
        rt.block_on(log.submit(Submission::entry(entry)))
            .context("sequencer gone")?
            .map_err(|e| anyhow::anyhow!("trust list: {e}"))?;
        let t = Instant::now();
        let cpu0 = server_cpu();
        let tickets: Vec<_> = (0..args.labels)
            .map(|_| {
                let (c, k) = (claim.clone(), key.clone());
                let signer = k.verifying_key();
                log.submit(
                    Submission::build(move |i| {
                        let mut c = c.clone();
                        c.serial = i;
                        Ok::<_, BuildError>(cose::sign_label(&c, &k))
                    })
                    .signed_by(signer),
                )
            })
            .collect();
        rt.block_on(async {
            for tk in tickets {
                tk.await
                    .context("sequencer gone")?
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            anyhow::Ok(())
        })?;
        let rate = args.labels as f64 / t.elapsed().as_secs_f64();
        let cpu = (server_cpu() - cpu0) * 1e6 / args.labels as f64;
        log.close();
        (rate, cpu)
    };
    let (log_rate, log_cpu_us) = log_rate;
    println!(
        "durable issuance via the log:     {log_rate:>10.0} labels/s  = {:.2} × the baseline (target ≥ 0.7)",
        log_rate / sign_rate
    );
    results["durable_issuance_labels_per_s"] = log_rate.into();
    results["durable_issuance_ratio"] = (log_rate / sign_rate).into();
    results["durable_issuance_cpu_us_per_label"] = log_cpu_us.into();
    println!(
        "  CPU per label (the bench's client threads not counted): raw signing {raw_cpu_us:.1} µs, durable issuance {log_cpu_us:.1} µs = {:.2} (the ratio when every core is busy with it)",
        raw_cpu_us / log_cpu_us
    );

    // 3–5 over HTTP: the server in its own runtime thread.
    let data = tmp.join("server");
    let www = tmp.join("www");
    std::fs::create_dir_all(&www)?;
    std::fs::write(
        www.join("index.html"),
        "<!doctype html><title>bench</title>",
    )?;
    let config = Config {
        data_dir: data,
        www_dir: www,
        demo: true,
        read_rps: 0,
        write_rps: 0,
        origin: "bench.example/log".into(),
        batch_size: args.batch_size,
        max_delay_ms: 2,
        ..Config::default()
    };
    let state = AppState::open(config).map_err(anyhow::Error::msg)?;
    let (admin_token, _) = state.tokens().create(
        vec!["*".into()],
        Role::Admin,
        None,
        "bench".into(),
        now_unix(),
    )?;
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server_state = state.clone();
    let server = std::thread::spawn(move || -> Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let _ = addr_tx.send(l.local_addr()?);
            cyberlabel_server::serve(l, server_state, async move {
                let _ = stop_rx.await;
            })
            .await?;
            anyhow::Ok(())
        })
    });
    let addr: SocketAddr = addr_rx.recv().context("server did not start")?;
    let auth = format!("Bearer {admin_token}");
    let outcome = rt.block_on(http_benches(args, addr, &auth, tmp, &state));
    drop(state);
    let _ = stop_tx.send(());
    server
        .join()
        .map_err(|_| anyhow::anyhow!("server thread panicked"))??;
    let (bulks, singles, reads, nginx) = outcome?;
    for (bulk, what) in bulks.iter().zip([
        "compact views (`?view=compact`, what `client issue-bulk` asks for)",
        "full label views (proofs, checkpoint, tlog-proof, claim view)",
    ]) {
        println!(
            "bulk issuance over HTTP:          {:>10.0} labels/s  = {:.2} × the baseline (target ≥ 0.5): {what}",
            bulk.rate,
            bulk.rate / sign_rate
        );
        println!(
            "  the register caught up {:.2} s after the last bulk response (it folds at low priority); counting that time: {:.0} labels/s = {:.2} × the baseline",
            bulk.register_lag_s,
            bulk.with_register,
            bulk.with_register / sign_rate
        );
        println!(
            "  server CPU per label: {:.1} µs = {:.2} of raw signing's; with the register's fold: {:.1} µs = {:.2}",
            bulk.cpu_us,
            raw_cpu_us / bulk.cpu_us,
            bulk.cpu_us_with_register,
            raw_cpu_us / bulk.cpu_us_with_register
        );
    }
    for single in &singles {
        println!(
            "single issuance at {} req/s:     achieved {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, errors {}, server CPU {:.0} µs/request (target p99 ≤ 10 ms at 5000 req/s)",
            single.rate,
            single.achieved,
            single.p50_ms,
            single.p99_ms,
            single.max_ms,
            single.errors,
            single.cpu_us
        );
    }
    for r in &reads {
        match r.nginx {
            Some(n) => println!(
                "{:<33} {:>10.0} req/s vs nginx {:>8.0} req/s = {:.2} × nginx (target ≥ 0.8 for tiles)",
                format!("{} reads:", r.what),
                r.server,
                n,
                r.server / n
            ),
            None => println!(
                "{:<33} {:>10.0} req/s (NO nginx baseline: see below)",
                format!("{} reads:", r.what),
                r.server
            ),
        }
    }
    if let Err(reason) = &nginx {
        let line = format!(
            "NGINX COMPARISON NOT RUN: {reason}. The read figures above have no baseline; \
             install nginx (apt-get install nginx) or pass --nginx PATH."
        );
        println!("{line}");
        eprintln!("warning: {line}");
    }
    // `bulk_*`: compact views (what the bulk client asks for); `bulk_full_*`: full views
    for (bulk, prefix) in bulks.iter().zip(["bulk", "bulk_full"]) {
        results[format!("{prefix}_issuance_labels_per_s")] = bulk.rate.into();
        results[format!("{prefix}_issuance_ratio")] = (bulk.rate / sign_rate).into();
        results[format!("{prefix}_register_lag_s")] = bulk.register_lag_s.into();
        results[format!("{prefix}_with_register_labels_per_s")] = bulk.with_register.into();
        results[format!("{prefix}_cpu_us_per_label")] = bulk.cpu_us.into();
        results[format!("{prefix}_cpu_us_per_label_with_register")] =
            bulk.cpu_us_with_register.into();
    }
    results["single_issuance"] = singles
        .iter()
        .map(|single| {
            serde_json::json!({
                "rate": single.rate, "achieved_per_s": single.achieved, "p50_ms": single.p50_ms,
                "p99_ms": single.p99_ms, "max_ms": single.max_ms, "errors": single.errors,
                "server_cpu_us_per_request": single.cpu_us,
            })
        })
        .collect();
    results["reads"] = reads
        .iter()
        .map(|r| {
            serde_json::json!({
                "what": r.what, "server_per_s": r.server, "nginx_per_s": r.nginx,
                "ratio_to_nginx": r.nginx.map(|n| r.server / n),
            })
        })
        .collect();
    results["nginx"] = match &nginx {
        Ok(()) => serde_json::json!({ "ran": true, "binary": args.nginx }),
        Err(reason) => serde_json::json!({
            "ran": false, "binary": args.nginx, "skipped_reason": reason,
        }),
    };
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&results)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("figures written to {}", path.display());
    }
    Ok(())
}

/// The bench's own client threads (load generator): the main thread and this runtime's.
const CLIENT_THREAD: &str = "bench-client";

/// CPU seconds this process has used, less its client threads' (the main thread and the
/// client runtime's): the work of the log and the server (and, in the raw runs, of signing).
/// From `/proc` (Linux; 0 elsewhere); clock ticks of 10 ms, so only long runs are meaningful.
fn server_cpu() -> f64 {
    /// utime + stime of a `stat` line, in seconds (USER_HZ = 100 on Linux).
    fn ticks(stat: &str) -> Option<f64> {
        let rest = &stat[stat.rfind(')')? + 2..];
        let mut f = rest.split(' ').skip(11);
        let u: f64 = f.next()?.parse().ok()?;
        let s: f64 = f.next()?.parse().ok()?;
        Some((u + s) / 100.0)
    }
    let read = |p: &Path| std::fs::read_to_string(p).ok();
    let total = read(Path::new("/proc/self/stat"))
        .as_deref()
        .and_then(ticks)
        .unwrap_or(0.0);
    let mut client = 0.0;
    let main = std::process::id().to_string();
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            let is_main = t.file_name().to_str() == Some(main.as_str());
            let comm = read(&t.path().join("comm")).unwrap_or_default();
            if is_main || comm.trim_end() == CLIENT_THREAD {
                client += read(&t.path().join("stat"))
                    .as_deref()
                    .and_then(ticks)
                    .unwrap_or(0.0);
            }
        }
    }
    total - client
}

/// Runs of the raw all-core baseline; the fastest is the baseline.
const BASELINE_RUNS: usize = 3;

/// Longest the bench waits for the register to catch up after the bulk run.
const REGISTER_WAIT: Duration = Duration::from_secs(120);

struct Bulk {
    rate: f64,
    /// seconds from the last bulk response until the register had folded every label
    register_lag_s: f64,
    /// labels/s counting that time too
    with_register: f64,
    /// server CPU µs per label during the bulk run, and counting the register's catch-up
    cpu_us: f64,
    cpu_us_with_register: f64,
}

struct Single {
    rate: u32,
    /// server CPU µs per request
    cpu_us: f64,
    achieved: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    errors: u64,
}

struct Reads {
    what: &'static str,
    server: f64,
    nginx: Option<f64>,
}

/// Whether the nginx comparison ran (`Err` = the reason it did not).
type NginxOutcome = std::result::Result<(), String>;

/// One bulk run: `args.bulk` labels in requests of `args.bulk_chunk` items to `path`, two in
/// flight, then the wait for the register to fold them.
async fn bulk_run(
    args: &BenchArgs,
    addr: SocketAddr,
    auth: &str,
    item: &str,
    path: &'static str,
    state: &AppState,
) -> Result<Bulk> {
    // 3. bulk: two requests in flight at a time
    let chunks = args.bulk.div_ceil(args.bulk_chunk.max(1));
    let body: Arc<Vec<u8>> =
        Arc::new(format!("[{}]", vec![item; args.bulk_chunk].join(",")).into_bytes());
    let t = Instant::now();
    let cpu0 = server_cpu();
    let mut done = 0usize;
    let mut inflight = tokio::task::JoinSet::new();
    for _ in 0..chunks {
        if inflight.len() >= 2 {
            done += inflight.join_next().await.context("join")???;
        }
        let (body, auth) = (body.clone(), auth.to_owned());
        inflight.spawn(async move {
            let mut c = Conn::open(addr).await?;
            let (status, resp) = c
                .request("POST", path, &[("authorization", &auth)], &body)
                .await?;
            if status != 200 {
                bail!(
                    "bulk request failed: {status} {}",
                    String::from_utf8_lossy(&resp)
                );
            }
            // Only the count: the client's parsing cost is not the server's.
            #[derive(serde::Deserialize)]
            struct Count {
                accepted: usize,
            }
            Ok(serde_json::from_slice::<Count>(&resp)?.accepted)
        });
    }
    while let Some(r) = inflight.join_next().await {
        done += r??;
    }
    let bulk_secs = t.elapsed().as_secs_f64();
    let cpu1 = server_cpu();
    // The register folds on its own low-priority thread: wait until it has every label (read
    // straight from its store: a search would catch it up itself).
    let size = state
        .service()
        .ledger()
        .size()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let waited = Instant::now();
    while state
        .register()
        .indexed_size()
        .map_err(anyhow::Error::msg)?
        < size
    {
        if waited.elapsed() > REGISTER_WAIT {
            bail!("the register did not catch up within {REGISTER_WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let lag = waited.elapsed().as_secs_f64();
    let cpu2 = server_cpu();
    Ok(Bulk {
        rate: done as f64 / bulk_secs,
        register_lag_s: lag,
        with_register: done as f64 / (bulk_secs + lag),
        cpu_us: (cpu1 - cpu0) * 1e6 / done as f64,
        cpu_us_with_register: (cpu2 - cpu0) * 1e6 / done as f64,
    })
}

async fn http_benches(
    args: &BenchArgs,
    addr: SocketAddr,
    auth: &str,
    tmp: &Path,
    state: &AppState,
) -> Result<([Bulk; 2], Vec<Single>, Vec<Reads>, NginxOutcome)> {
    let item = serde_json::to_string(&product()?)?;
    // 3. bulk: compact views (what `client issue-bulk` asks for), then full views
    let compact = bulk_run(args, addr, auth, &item, "/labels/bulk?view=compact", state).await?;
    let full = bulk_run(args, addr, auth, &item, "/labels/bulk", state).await?;

    // 4. single issuance, open loop at each fixed rate over a pool of keep-alive connections
    let mut singles = Vec::new();
    for &rate in &args.rate {
        singles.push(single_issue(rate, args.seconds, addr, auth, item.as_bytes()).await?);
    }

    // 5. reads: every full level-0 tile, and the checkpoint, from the server and from nginx
    let mut c = Conn::open(addr).await?;
    let (_, cp) = c.request("GET", "/checkpoint", &[], b"").await?;
    let size: u64 = String::from_utf8_lossy(&cp)
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let static_dir = tmp.join("static");
    let mut tiles = Vec::new();
    for n in 0..size / 256 {
        let p = cyberlabel_core::tiles::TilePath {
            kind: cyberlabel_core::tiles::TileKind::Hash(0),
            index: n,
            width: 256,
        }
        .to_path();
        let (st, bytes) = c.request("GET", &format!("/{p}"), &[], b"").await?;
        if st != 200 {
            bail!("tile {p}: {st}");
        }
        let f = static_dir.join(&p);
        std::fs::create_dir_all(f.parent().context("tile path")?)?;
        std::fs::write(&f, bytes)?;
        tiles.push(format!("/{p}"));
    }
    std::fs::write(static_dir.join("checkpoint"), &cp)?;
    if tiles.is_empty() {
        bail!("no full tiles to read (issue more labels: --bulk)");
    }
    let secs = Duration::from_secs(args.seconds);
    let server_tiles = read_load(addr, &tiles, args.connections, secs).await?;
    let server_cp = read_load(addr, &["/checkpoint".to_owned()], args.connections, secs).await?;
    let (nginx_tiles, nginx_cp, nginx) = if args.nginx.is_empty() {
        (None, None, Err("disabled with --nginx \"\"".to_owned()))
    } else {
        match Nginx::start(Path::new(&args.nginx), tmp, &static_dir).await {
            Ok(ng) => {
                let t = read_load(ng.addr, &tiles, args.connections, secs).await;
                let c =
                    read_load(ng.addr, &["/checkpoint".to_owned()], args.connections, secs).await;
                drop(ng);
                (Some(t?), Some(c?), Ok(()))
            }
            Err(e) => (None, None, Err(format!("{e:#}"))),
        }
    };
    Ok((
        [compact, full],
        singles,
        vec![
            Reads {
                what: "tile (8 KiB, immutable)",
                server: server_tiles,
                nginx: nginx_tiles,
            },
            Reads {
                what: "checkpoint",
                server: server_cp,
                nginx: nginx_cp,
            },
        ],
        nginx,
    ))
}

async fn single_issue(
    rate: u32,
    seconds: u64,
    addr: SocketAddr,
    auth: &str,
    body: &[u8],
) -> Result<Single> {
    let total = (u64::from(rate) * seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let (tx, rx) = async_channel();
    let errors = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    let body = Arc::new(body.to_vec());
    for _ in 0..128 {
        let (rx, body, auth, errors) = (rx.clone(), body.clone(), auth.to_owned(), errors.clone());
        workers.spawn(async move {
            let mut lat = Vec::new();
            let mut conn: Option<Conn> = None;
            while let Some(scheduled) = rx.recv().await {
                if conn.is_none() {
                    conn = Conn::open(addr).await.ok();
                }
                let Some(c) = conn.as_mut() else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                match c
                    .request("POST", "/labels", &[("authorization", &auth)], &body)
                    .await
                {
                    Ok((201, _)) => lat.push(scheduled.elapsed()),
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        conn = None;
                    }
                }
            }
            lat
        });
    }
    let start = Instant::now();
    let cpu0 = server_cpu();
    for i in 0..total {
        let at = start + interval * i as u32;
        tokio::time::sleep_until(at.into()).await;
        tx.send(at).await;
    }
    drop(tx);
    let mut lat = Vec::with_capacity(total);
    while let Some(r) = workers.join_next().await {
        lat.extend(r.context("worker")?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu_us = (server_cpu() - cpu0) * 1e6 / total.max(1) as f64;
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    Ok(Single {
        rate,
        cpu_us,
        achieved: lat.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: lat.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        errors: errors.load(Ordering::Relaxed),
    })
}

/// A tiny multi-consumer queue over a tokio mutex (the workspace has no async-channel crate).
fn async_channel() -> (Sender, Receiver) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (Sender(tx), Receiver(Arc::new(tokio::sync::Mutex::new(rx))))
}
struct Sender(tokio::sync::mpsc::UnboundedSender<Instant>);
impl Sender {
    async fn send(&self, v: Instant) {
        let _ = self.0.send(v);
    }
}
#[derive(Clone)]
struct Receiver(Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Instant>>>);
impl Receiver {
    async fn recv(&self) -> Option<Instant> {
        self.0.lock().await.recv().await
    }
}

/// Closed-loop GETs over `connections` keep-alive connections for `dur`; returns requests/s.
async fn read_load(
    addr: SocketAddr,
    paths: &[String],
    connections: usize,
    dur: Duration,
) -> Result<f64> {
    let paths = Arc::new(paths.to_vec());
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + dur;
    let mut set = tokio::task::JoinSet::new();
    for w in 0..connections {
        let (paths, count) = (paths.clone(), count.clone());
        set.spawn(async move {
            let mut c = Conn::open(addr).await?;
            let mut i = w;
            while Instant::now() < deadline {
                let p = &paths[i % paths.len()];
                let (st, _) = c.request("GET", p, &[], b"").await?;
                if st != 200 {
                    bail!("GET {p}: {st}");
                }
                count.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            anyhow::Ok(())
        });
    }
    let t = Instant::now();
    while let Some(r) = set.join_next().await {
        r??;
    }
    Ok(count.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64())
}

/// A keep-alive HTTP/1.1 connection (Content-Length bodies only: what both servers send).
struct Conn {
    r: BufReader<tokio::net::tcp::OwnedReadHalf>,
    w: tokio::net::tcp::OwnedWriteHalf,
    host: String,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Self> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        let (r, w) = s.into_split();
        Ok(Self {
            r: BufReader::new(r),
            w,
            host: addr.to_string(),
        })
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>)> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\n", self.host);
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if method != "GET" {
            req.push_str(&format!(
                "content-type: application/json\r\ncontent-length: {}\r\n",
                body.len()
            ));
        }
        req.push_str("\r\n");
        self.w.write_all(req.as_bytes()).await?;
        if !body.is_empty() {
            self.w.write_all(body).await?;
        }
        let mut line = String::new();
        self.r.read_line(&mut line).await?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("bad status line")?;
        let mut len = 0usize;
        loop {
            line.clear();
            if self.r.read_line(&mut line).await? == 0 {
                bail!("connection closed");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse()?;
            }
        }
        let mut buf = vec![0; len];
        self.r.read_exact(&mut buf).await?;
        Ok((status, buf))
    }
}

/// nginx serving `root` on a loopback port, stopped on drop.
struct Nginx {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Nginx {
    async fn start(bin: &Path, tmp: &Path, root: &Path) -> Result<Self> {
        if !bin.exists() {
            bail!("{} not found (apt-get install nginx)", bin.display());
        }
        let port = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await?
            .local_addr()?
            .port();
        let prefix = tmp.join("nginx");
        std::fs::create_dir_all(prefix.join("logs"))?;
        // nginx workers drop privileges to `nobody`: make the bench tree readable.
        allow_read(tmp)?;
        let conf = format!(
            "worker_processes 2;\ndaemon off;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;\n\
               client_body_temp_path {p}/cb; proxy_temp_path {p}/px; fastcgi_temp_path {p}/fc; uwsgi_temp_path {p}/uw; scgi_temp_path {p}/sc;\n\
               server {{ listen 127.0.0.1:{port}; root {root};\n\
                 location /tile/ {{ default_type application/octet-stream; add_header Cache-Control \"public, max-age=31536000, immutable\"; }}\n\
                 location = /checkpoint {{ default_type \"text/plain; charset=utf-8\"; add_header Cache-Control \"public, max-age=2\"; }} }} }}\n",
            p = prefix.display(),
            root = root.display(),
        );
        let conf_path = prefix.join("nginx.conf");
        std::fs::write(&conf_path, conf)?;
        let child = std::process::Command::new(bin)
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&conf_path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let ng = Nginx { child, addr };
        for _ in 0..100 {
            if TcpStream::connect(addr).await.is_ok() {
                return Ok(ng);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!("nginx did not start listening on {addr}")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its workers (SIGKILL would orphan them).
        let stopped = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn allow_read(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for entry in walk(dir)? {
            let mode = if entry.is_dir() { 0o755 } else { 0o644 };
            std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if out[i].is_dir() && !out[i].ends_with("server") {
            for e in std::fs::read_dir(&out[i])? {
                out.push(e?.path());
            }
        }
        i += 1;
    }
    Ok(out)
}
