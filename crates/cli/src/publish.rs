//! `cyberlabel publish`: copy a log's read side from a running server (`--from`, its public
//! HTTP reads) to an S3-compatible object store (`--to s3://<bucket>[/<prefix>]`, `--endpoint`
//! for a non-AWS server; credentials from `AWS_*`), once (a backfill) or following the log
//! (`--follow`). The work is `cyberlabel_publish::Publisher`'s: tiles and bundles write-once,
//! status proofs, the trust list, the catalog and the page, the checkpoint last; a run resumes
//! from the checkpoint already in the store. `--check` compares the store's tiles and bundles
//! with the log's instead of publishing (a changed tile is reported, exit 1).
//!
//! The server's reads are rate-limited per client: a 429 is waited out (its `Retry-After`) and
//! retried.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cyberlabel_core::tiles::TilePath;
use cyberlabel_publish::{Progress, Publisher, SiteFile, Source, SourceError};

use crate::fetch::MAX_BODY;

/// `cyberlabel publish` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The log server whose read side to copy, e.g. `http://127.0.0.1:8080`.
    #[arg(long, value_name = "URL")]
    from: String,
    /// Where to: `s3://<bucket>[/<prefix>]`.
    #[arg(long, value_name = "S3_URL")]
    to: String,
    /// An S3-compatible server instead of AWS, e.g. `http://127.0.0.1:9000`.
    #[arg(long, value_name = "URL", env = "CYBERLABEL_PUBLISH_ENDPOINT")]
    endpoint: Option<String>,
    /// The verifier page's directory: names the page's assets (their bytes are fetched from
    /// the server, as it serves them).
    #[arg(long, value_name = "DIR", default_value = "wasm-verifier/www")]
    www: PathBuf,
    /// Keep following the log: a cycle after every interval.
    #[arg(long)]
    follow: bool,
    /// Seconds between cycles with `--follow`.
    #[arg(long, default_value_t = 5)]
    interval: u64,
    /// Check the store's tiles and bundles against the log instead of publishing.
    #[arg(long)]
    check: bool,
}

/// The server's read side over HTTP.
struct HttpLog {
    base: String,
    agent: ureq::Agent,
}

impl HttpLog {
    fn new(base: &str) -> Result<Self> {
        Ok(Self {
            base: crate::fetch::http_base(base, "--from")?,
            agent: crate::fetch::agent(Duration::from_secs(30)),
        })
    }

    /// GET `<base>/<path>`: the body, `None` for 404; 429 is waited out and retried.
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
        let url = format!("{}/{path}", self.base);
        for _ in 0..20 {
            let mut resp = self
                .agent
                .get(&url)
                .call()
                .map_err(|e| SourceError::new(format!("GET {url}: {e}")))?;
            match resp.status().as_u16() {
                200 => {
                    return resp
                        .body_mut()
                        .with_config()
                        .limit(MAX_BODY)
                        .read_to_vec()
                        .map(Some)
                        .map_err(|e| SourceError::new(format!("GET {url}: {e}")));
                }
                404 => return Ok(None),
                429 => {
                    let wait = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .unwrap_or(1)
                        .clamp(1, 30);
                    std::thread::sleep(Duration::from_secs(wait));
                }
                s => return Err(SourceError::new(format!("GET {url}: status {s}"))),
            }
        }
        Err(SourceError::new(format!(
            "GET {url}: still rate-limited after 20 tries"
        )))
    }
}

impl Source for HttpLog {
    fn checkpoint(&self) -> Result<String, SourceError> {
        let body = self
            .get("checkpoint")?
            .ok_or_else(|| SourceError::new("the server has no /checkpoint"))?;
        String::from_utf8(body).map_err(|_| SourceError::new("the checkpoint is not UTF-8"))
    }
    fn tile(&self, path: &TilePath) -> Result<Option<Vec<u8>>, SourceError> {
        self.get(&path.to_path())
    }
    fn status_proof(&self, bucket: u64) -> Result<Option<String>, SourceError> {
        self.get(&cyberlabel_core::online::status_path(bucket))?
            .map(|b| {
                String::from_utf8(b).map_err(|_| SourceError::new("a status proof is not UTF-8"))
            })
            .transpose()
    }
}

/// The static files as the server serves them: the trust list, the catalog, the page (with
/// its CSP as served) and every asset the page directory names.
fn site(log: &HttpLog, www: &std::path::Path) -> Result<Vec<SiteFile>> {
    let page = log
        .get("v")?
        .context("the server does not serve the verifier page (/v)")?;
    let mut files = cyberlabel_publish::www_files(www, Some(page))
        .with_context(|| format!("cannot read the page directory {}", www.display()))?;
    // the server's bytes win over the directory's; what it does not serve is left out
    let mut out = Vec::with_capacity(files.len() + 4);
    for mut f in files.drain(..) {
        if f.key == "v" || f.key == "index.html" {
            out.push(f);
            continue;
        }
        if let Some(body) = log.get(&f.key)? {
            f.body = body;
            out.push(f);
        }
    }
    for (key, content_type, cache) in [
        ("trust-list", "application/cose", "public, max-age=300"),
        ("trust-list.json", "application/json", "public, max-age=300"),
        ("schemes", "application/json", "public, max-age=300"),
        ("assets/config.json", "application/json", "no-cache"),
    ] {
        if let Some(body) = log.get(key)? {
            out.retain(|f| f.key != key);
            out.push(SiteFile {
                key: key.into(),
                body,
                content_type: content_type.into(),
                cache_control: cache.into(),
            });
        }
    }
    Ok(out)
}

/// Runs `cyberlabel publish`.
///
/// # Errors
/// Bad arguments, an unreachable server or store; the alarm.
pub fn run(args: Args) -> Result<ExitCode> {
    crate::util::init_tracing(false);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: Args) -> Result<ExitCode> {
    let log = HttpLog::new(&args.from)?;
    let (store, prefix) = cyberlabel_publish::s3_store(&args.to, args.endpoint.as_deref(), None)
        .with_context(|| format!("cannot use {}", args.to))?;
    let site = if args.check {
        Vec::new()
    } else {
        site(&log, &args.www)?
    };
    let mut publisher = Publisher::new(store, &prefix, log).with_site(site);
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template("{msg:>10} {bar:40} {pos}/{len}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let progress = move |p: Progress| {
        if let Some(b) = &bar {
            b.set_message(p.phase);
            b.set_length(p.total);
            b.set_position(p.done);
        }
    };
    if args.check {
        let n = match publisher.check_store(&progress).await {
            Ok(n) => n,
            Err(e) => {
                eprintln!("{e}");
                return Ok(ExitCode::from(crate::util::EXIT_ERROR));
            }
        };
        println!("{n} tiles and bundles in the store match the log");
        return Ok(ExitCode::SUCCESS);
    }
    loop {
        let t = Instant::now();
        let r = publisher
            .publish_once(&progress)
            .await
            .with_context(|| format!("publishing to {} failed", args.to))?;
        let secs = t.elapsed().as_secs_f64();
        if r.changed {
            let objects = r.written + r.already_there;
            println!(
                "published size {} (from {}): {} objects written, {} already there, {} bytes, {:.1} s, {:.0} objects/s",
                r.size,
                r.from,
                r.written,
                r.already_there,
                r.bytes,
                secs,
                objects as f64 / secs.max(1e-9)
            );
        } else if !args.follow {
            println!("the store is up to date (size {})", r.size);
        }
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(Duration::from_secs(args.interval.max(1))).await;
    }
}
