//! Server commands: `serve` (run the issuing service) and `token` (operator bearer tokens).
//!
//! `serve` reads the configuration from `--config <file.toml>`, then `CYBERLABEL_*` environment
//! variables, then these flags (later wins); see `cyberlabel_server::config` for every key.
//! `--demo` uses the example keys from `keys-example/` (with a loud banner), creates an admin
//! token (printed, and written to `<data>/demo-admin.token`), and mints a few sample labels on
//! first start. `token` commands manage tokens two ways: with `--server URL` (and an admin
//! token) through the running server's admin API — revocation is effective on the next
//! request — or with `--data DIR` by opening the database directly, which only works while the
//! server is stopped (sled locks the directory; the error says to use `--server`). Tokens expire
//! after 90 days unless `--expires` says otherwise (`never` must be asked for).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[path = "bench.rs"]
pub(crate) mod bench;

use anyhow::{Context, Result, bail};
use cyberlabel_server::auth::{ANY_SCHEME, DEFAULT_EXPIRY, parse_expiry};
use serde_json::json;

use crate::client::ServerArgs;
use cyberlabel_server::{AppState, Config, Role, TokenStore, now_unix, open_db};

/// Server command group, flattened into the top-level command list.
// Parsed once per process: the size difference between the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run the issuing service (HTTP API, log read side, verifier page).
    Serve(ServeArgs),
    /// Manage operator bearer tokens: through a running server's admin API (--server, admin
    /// token), or offline in a stopped server's data directory (--data).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Measure signing, durable issuance, HTTP issuance and read throughput (vs nginx).
    Bench(bench::BenchArgs),
    /// Check the public register against the log's entries, or rebuild it from them (the
    /// server must be stopped; it takes the same configuration as `serve`).
    #[command(subcommand)]
    Register(RegisterCommand),
}

/// `cyberlabel register …`.
#[derive(Debug, clap::Subcommand)]
pub enum RegisterCommand {
    /// Recompute the register from the log's entries and compare every label, search key,
    /// manufacturer count and state (with the log's status map); exit 3 on a difference.
    Check(ServeArgs),
    /// Throw the register away and derive it again from the entries alone (the server also
    /// does this by itself at start when the register is missing).
    Rebuild(ServeArgs),
}

/// `cyberlabel serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen address, e.g. 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Data directory (sled database, demo token).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Issuer signing key (PKCS#8 PEM, mode 0600).
    #[arg(long, value_name = "FILE")]
    issuer_key: Option<PathBuf>,
    /// Log signing key (PKCS#8 PEM, mode 0600).
    #[arg(long, value_name = "FILE")]
    log_key: Option<PathBuf>,
    /// Signed trust list to serve (trust-list.cose).
    #[arg(long, value_name = "FILE")]
    trust_list: Option<PathBuf>,
    /// Trust-list signer public key (SPKI PEM), the verifier page's trust anchor.
    #[arg(long, value_name = "FILE")]
    trust_anchor: Option<PathBuf>,
    /// Log origin (checkpoint first line and key name), e.g. labels.example.org/log.
    #[arg(long)]
    origin: Option<String>,
    /// Public URL of the verifier page, the QR prefix, e.g. https://labels.example.org/v.
    #[arg(long, value_name = "URL")]
    verifier_url: Option<String>,
    /// Directory of the verifier web page.
    #[arg(long, value_name = "DIR")]
    www: Option<PathBuf>,
    /// Maximum entries per log batch.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Maximum wait for a batch to fill, in milliseconds.
    #[arg(long)]
    max_delay_ms: Option<u64>,
    /// Demo mode: EXAMPLE keys, an admin token, sample labels. Never for production.
    #[arg(long)]
    demo: bool,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long)]
    log_json: bool,
    /// A witness to gather cosignatures from: `<witness vkey>@<url>` (repeatable; added to the
    /// config file's `[[witnesses]]`), e.g. `w.example/w1+1a2b3c4d+BB…@http://127.0.0.1:7380`.
    #[arg(long = "witness", value_name = "VKEY@URL")]
    witnesses: Vec<String>,
    /// Seconds between re-submissions of the current checkpoint to the witnesses.
    #[arg(long, value_name = "SECS")]
    witness_interval_secs: Option<u64>,
}

/// Parses `--witness <vkey>@<url>`; the witness name is the vkey's key name.
fn parse_witness(arg: &str) -> Result<cyberlabel_server::config::WitnessConfig> {
    let Some((vkey, rest)) = arg.rsplit_once("@http") else {
        bail!("--witness {arg:?}: expected <witness vkey>@<http(s) URL>");
    };
    let key = cyberlabel_core::note::VerifierKey::parse(vkey)
        .map_err(|e| anyhow::anyhow!("--witness {arg:?}: invalid vkey: {e}"))?;
    Ok(cyberlabel_server::config::WitnessConfig {
        name: key.name().to_owned(),
        vkey: vkey.to_owned(),
        url: format!("http{rest}"),
    })
}

/// Where `token` commands act: a running server's admin API, or a stopped server's data dir.
#[derive(Debug, clap::Args)]
pub struct TokenTarget {
    /// Data directory of a *stopped* server (opens its database directly). Without it, the
    /// command uses the admin API of the server given by --server / CYBERLABEL_SERVER.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    #[command(flatten)]
    server: ServerArgs,
}

/// `cyberlabel token …`.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once (only its hash is stored).
    Create {
        #[command(flatten)]
        target: TokenTarget,
        /// Scheme the token may act on (repeat for several; `*` = all).
        #[arg(long = "scheme", required = true)]
        schemes: Vec<String>,
        /// Role: issuer (mint, renew), revoker (suspend, reinstate, revoke) or admin (all,
        /// including tokens).
        #[arg(long)]
        role: Role,
        /// Expiry: 90d, 12h, 30m, 3600s, a date 2027-12-31, or never.
        #[arg(long, default_value = DEFAULT_EXPIRY)]
        expires: String,
        /// Who holds the token (shown by `token list`).
        #[arg(long, default_value = "")]
        note: String,
    },
    /// List tokens (ids, roles, scopes, expiry; never secrets).
    List {
        #[command(flatten)]
        target: TokenTarget,
    },
    /// Revoke (delete) a token by id; refused from the next request on.
    Revoke {
        #[command(flatten)]
        target: TokenTarget,
        /// Token id (the 16 hex digits after `clt_`).
        id: String,
    },
}

/// Runs a server command.
pub fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Serve(args) => serve(args),
        Command::Token(cmd) => token(cmd),
        Command::Bench(args) => bench::run(args).map(|()| ExitCode::SUCCESS),
        Command::Register(cmd) => register(cmd),
    }
}

fn open_tokens(data: &Path) -> Result<(sled::Db, TokenStore)> {
    let db = open_db(data).map_err(|e| match e {
        cyberlabel_server::StartError::Locked(_) => anyhow::anyhow!(
            "{e}\nwhile the server runs, manage tokens through it: \
             `cyberlabel token … --server URL` with an admin token (CYBERLABEL_TOKEN or --token-file)"
        ),
        e => anyhow::Error::msg(e),
    })?;
    let store = TokenStore::open(&db).context("cannot open the token store")?;
    Ok((db, store))
}

fn show_expiry(t: Option<u64>) -> String {
    t.map_or_else(|| "never".to_owned(), crate::serve::issuer_date)
}

fn token(cmd: TokenCommand) -> Result<ExitCode> {
    let target = match &cmd {
        TokenCommand::Create { target, .. }
        | TokenCommand::List { target }
        | TokenCommand::Revoke { target, .. } => target,
    };
    if target.data.is_none() {
        return token_over_api(&cmd, &target.server);
    }
    match cmd {
        TokenCommand::Create {
            target,
            schemes,
            role,
            expires,
            note,
        } => {
            let data = target.data.unwrap_or_default();
            let now = now_unix();
            let expires_at = parse_expiry(&expires, now).map_err(anyhow::Error::msg)?;
            TokenStore::check_request(&schemes, &note)
                .map_err(|e| anyhow::anyhow!("{e} (--scheme, --note)"))?;
            let (db, store) = open_tokens(&data)?;
            let (tok, rec) = store
                .create(schemes, role, expires_at, note, now)
                .context("cannot store the token")?;
            db.flush().context("cannot flush the database")?;
            eprintln!(
                "created token {} (role {}, schemes {}, expires {}); it is shown only once:",
                rec.id,
                rec.role,
                rec.schemes.join(","),
                show_expiry(rec.expires_at)
            );
            println!("{tok}");
        }
        TokenCommand::List { target } => {
            let (_db, store) = open_tokens(&target.data.unwrap_or_default())?;
            for r in store.list().context("cannot read tokens")? {
                print_token_line(
                    &r.id,
                    &r.role.to_string(),
                    &r.schemes.join(","),
                    r.expires_at,
                    &r.note,
                );
            }
        }
        TokenCommand::Revoke { target, id } => {
            let data = target.data.unwrap_or_default();
            let (_db, store) = open_tokens(&data)?;
            if !store.revoke(&id).context("cannot delete the token")? {
                bail!(
                    "no token with id {id} (see `cyberlabel token list --data {}`)",
                    data.display()
                );
            }
            eprintln!("token {id} deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_token_line(id: &str, role: &str, schemes: &str, expires_at: Option<u64>, note: &str) {
    println!(
        "{id}  {role:<7}  {schemes:<20}  expires {:<10}  {note}",
        show_expiry(expires_at)
    );
}

/// The `token` commands through a running server's admin API.
fn token_over_api(cmd: &TokenCommand, server: &ServerArgs) -> Result<ExitCode> {
    if server.server.is_none() {
        bail!(
            "give --server URL (a running server, with an admin token) or --data DIR (a stopped \
             server's data directory)"
        );
    }
    let api = server.api()?;
    match cmd {
        TokenCommand::Create {
            schemes,
            role,
            expires,
            note,
            ..
        } => {
            let body = json!({
                "role": role.to_string(), "schemes": schemes, "expires": expires, "note": note,
            });
            let v = api
                .post("/tokens", body.to_string().as_bytes(), None)?
                .ok("creating a token")?;
            let token = v["token"]
                .as_str()
                .context("the server's answer has no token")?;
            eprintln!(
                "created token {} (role {}, schemes {}, expires {}); it is shown only once:",
                v["id"].as_str().unwrap_or("?"),
                v["role"].as_str().unwrap_or("?"),
                schemes.join(","),
                show_expiry(v["expires_at"].as_u64())
            );
            println!("{token}");
        }
        TokenCommand::List { .. } => {
            let v = api.get("/tokens")?.ok("listing tokens")?;
            for t in v["tokens"].as_array().into_iter().flatten() {
                let schemes: Vec<&str> = t["schemes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str())
                    .collect();
                print_token_line(
                    t["id"].as_str().unwrap_or("?"),
                    t["role"].as_str().unwrap_or("?"),
                    &schemes.join(","),
                    t["expires_at"].as_u64(),
                    t["note"].as_str().unwrap_or(""),
                );
            }
        }
        TokenCommand::Revoke { id, .. } => {
            api.delete(&format!("/tokens/{id}"))?
                .ok(&format!("revoking token {id}"))?;
            eprintln!("token {id} revoked: the server refuses it from the next request on");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn register(cmd: RegisterCommand) -> Result<ExitCode> {
    let (args, rebuild) = match cmd {
        RegisterCommand::Check(a) => (a, false),
        RegisterCommand::Rebuild(a) => (a, true),
    };
    let cfg = config(&args)?;
    let state = AppState::open(cfg).map_err(|e| match e {
        cyberlabel_server::StartError::Locked(_) => {
            anyhow::anyhow!(
                "{e}\nstop the server first: the register is checked or rebuilt offline"
            )
        }
        e => anyhow::Error::msg(e),
    })?;
    let ledger = state.service().ledger();
    let outcome = if rebuild {
        let size = ledger.size().map_err(anyhow::Error::msg)?;
        let bar = crate::util::progress(size, "entries");
        let done = state
            .register()
            .rebuild(ledger, &|n| bar.set_position(n))
            .context("rebuilding the register")?;
        bar.finish_and_clear();
        let labels = state
            .register()
            .check(ledger)
            .context("checking the rebuilt register")?;
        eprintln!("register rebuilt from {done} entries: {labels} labels");
        ExitCode::SUCCESS
    } else {
        match state.register().check(ledger) {
            Ok(labels) => {
                let at = state
                    .register()
                    .indexed_size()
                    .map_err(anyhow::Error::msg)?;
                eprintln!("register matches the log's first {at} entries: {labels} labels");
                ExitCode::SUCCESS
            }
            Err(e @ cyberlabel_server::register::RegisterError::Mismatch(_)) => {
                eprintln!("{e}\nrepair: cyberlabel register rebuild (same options)");
                ExitCode::from(3)
            }
            Err(e) => return Err(e).context("checking the register"),
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(state.service().close());
    Ok(outcome)
}

pub(crate) fn config(args: &ServeArgs) -> Result<Config> {
    let mut cfg = Config::load(args.config.as_deref()).map_err(anyhow::Error::msg)?;
    macro_rules! flag {
        ($f:ident) => {
            if let Some(v) = &args.$f {
                cfg.$f = v.clone();
            }
        };
        ($f:ident, some) => {
            if let Some(v) = &args.$f {
                cfg.$f = Some(v.clone());
            }
        };
    }
    flag!(listen);
    flag!(origin);
    flag!(verifier_url);
    flag!(batch_size);
    flag!(max_delay_ms);
    flag!(issuer_key, some);
    flag!(log_key, some);
    flag!(trust_list, some);
    flag!(trust_anchor, some);
    flag!(witness_interval_secs);
    for w in &args.witnesses {
        cfg.witnesses.push(parse_witness(w)?);
    }
    if let Some(d) = &args.data {
        cfg.data_dir = d.clone();
    }
    if let Some(w) = &args.www {
        cfg.www_dir = w.clone();
    }
    cfg.demo |= args.demo;
    Ok(cfg)
}

const BANNER: &str = "\
################################################################################
#  DEMO MODE — using the EXAMPLE keys from keys-example/.                      #
#  Anyone can mint labels with these keys: nothing issued here is trustworthy. #
#  Never use demo mode or the example keys in production.                      #
################################################################################";

fn serve(args: ServeArgs) -> Result<ExitCode> {
    crate::util::init_tracing(args.log_json);
    let mut cfg = config(&args)?;
    let demo = cfg.demo;
    if demo {
        eprintln!("{BANNER}");
        tracing::warn!("demo mode: example keys in use; labels issued are NOT trustworthy");
    }
    // Demo mode: three witness processes (killed when this guard drops, on every exit path).
    let _demo_witnesses = if demo {
        let log_vkey = demo_log_vkey(&cfg)?;
        let (guard, witnesses) =
            crate::demo_witnesses::start(&cfg.data_dir, &log_vkey).context("demo witnesses")?;
        for w in &witnesses {
            eprintln!("demo witness {} at {}", w.name, w.url);
        }
        cfg.witnesses.splice(0..0, witnesses);
        if cfg.witness_interval_secs == 0
            || cfg.witness_interval_secs > crate::demo_witnesses::INTERVAL_SECS
        {
            cfg.witness_interval_secs = crate::demo_witnesses::INTERVAL_SECS;
        }
        Some(guard)
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listen = cfg.listen;
        let data = cfg.data_dir.clone();
        let state = AppState::open(cfg).map_err(anyhow::Error::msg)?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}: is the port in use? (--listen)"))?;
        let addr = listener.local_addr().context("listener address")?;
        // installed now: a SIGTERM during the demo setup or right after the announcement
        // below shuts down cleanly
        let shutdown = cyberlabel_server::shutdown_signal();
        if demo {
            // A first witnessing round before anything is served (connections wait in the
            // listen queue): the first checkpoint a visitor sees already satisfies the demo
            // trust list's witness policy, samples included.
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let tasks = state.witnesses().spawn(&state, &stopped);
            let setup = demo_setup(&state, &data).await;
            if setup.is_ok() {
                wait_until_cosigned(&state).await;
            }
            let _ = stop.send(true);
            for t in tasks {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(10), t).await;
            }
            setup?;
        }
        tracing::info!(%addr, origin = %state.config().origin, "listening");
        eprintln!("cyberlabel: serving on http://{addr}/ (verifier page at http://{addr}/v); Ctrl-C to stop");
        cyberlabel_server::serve(listener, state, shutdown)
            .await
            .context("server failed")?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The demo log's note verifier key (the witnesses are started before the server opens it).
fn demo_log_vkey(cfg: &Config) -> Result<String> {
    let key = match &cfg.log_key {
        Some(p) => cyberlabel_issuer::keys::load_signing_key(p)
            .with_context(|| format!("cannot load the log key {}", p.display()))?,
        None => cyberlabel_issuer::keys::load_example_log_key()
            .context("cannot load the example log key")?,
    };
    let vkey = cyberlabel_core::note::VerifierKey::new(
        &cfg.origin,
        cyberlabel_core::note::KeyKind::Ed25519,
        key.verifying_key(),
    )
    .map_err(|e| anyhow::anyhow!("origin {:?} is not a valid key name: {e}", cfg.origin))?;
    Ok(vkey.to_string())
}

/// Waits (at most 30 s) until the current checkpoint is the whole tree and verifies, fresh,
/// under the log's own trust list (its witness policy).
async fn wait_until_cosigned(state: &AppState) {
    use cyberlabel_core::{checkpoint, online, trust::TrustList};
    let trust = match std::str::from_utf8(state.service().trust_list_json())
        .ok()
        .and_then(|j| TrustList::from_json(j).ok())
    {
        Some(t) => t,
        None => return,
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let ready = state.service().checkpoint().ok().is_some_and(|cp| {
            let size = state.service().tree_size().ok();
            online::policy_for(&trust, cp.as_bytes())
                .ok()
                .and_then(|policy| checkpoint::open_fresh(cp.as_bytes(), &policy, now_unix()).ok())
                .is_some_and(|vc| Some(vc.checkpoint.size) == size)
        });
        if ready {
            return;
        }
        if std::time::Instant::now() > deadline {
            tracing::warn!("the checkpoint is not cosigned by the witness quorum yet");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Demo mode: an admin token (printed, written to `<data>/demo-admin.token`) and, on an empty
/// log, a few sample labels (one of them revoked) so a newcomer sees every verdict.
async fn demo_setup(state: &AppState, data: &Path) -> Result<()> {
    let path = data.join("demo-admin.token");
    // Reuse the token of an earlier demo run (so browser tests and bookmarks keep working).
    let earlier = std::fs::read_to_string(&path).ok().and_then(|t| {
        let t = t.trim().to_owned();
        state
            .tokens()
            .verify(&t, now_unix())
            .ok()
            .filter(|r| r.role == Role::Admin)
            .map(|r| (t, r))
    });
    let (token, record) = match earlier {
        Some(found) => found,
        None => state
            .tokens()
            .create(
                vec![ANY_SCHEME.to_owned()],
                Role::Admin,
                // The default expiry applies to the demo's token too; a later demo run makes
                // a new one once it has expired.
                parse_expiry(DEFAULT_EXPIRY, now_unix()).map_err(anyhow::Error::msg)?,
                "demo admin".into(),
                now_unix(),
            )
            .context("cannot create the demo admin token")?,
    };
    write_private(&path, format!("{token}\n").as_bytes())?;
    eprintln!("demo admin token (also in {}):\n{token}", path.display());
    // A new log holds one entry, the trust list it enforces: samples only on such a log.
    if state.service().tree_size().map_err(anyhow::Error::msg)? > 1 {
        return Ok(());
    }
    let samples = [
        ("SG-CLS", 2, "Acme SmartCam 2", 1, "5.3-13"),
        ("SG-CLS", 1, "Acme Smart Plug Mini", 9, "5.1-2"),
        ("SG-CLS", 3, "Acme Door Hub (recalled)", 6, "5.4-1"),
    ];
    let mut indices = Vec::new();
    for (scheme, level, product, category, provision) in samples {
        let desc = serde_json::json!({
            "scheme": scheme, "level": level, "manufacturer": "Acme Devices (DEMO)", "product": product,
            "hardware_versions": "rev B", "firmware_versions": ">= 2.4.0", "category": category,
            "provisions": ["5.1-1", "5.2-1", "5.3-13", "5.3-16", provision],
            "assessment": "third_party", "lab": "DEMO-LAB-1",
            "support_until": issuer_date(now_unix() + 2 * 365 * 86_400),
        });
        let view = state
            .service()
            .mint(&record, desc, None)
            .await
            .map_err(|e| anyhow::anyhow!("sample label {product}: {e}"))?;
        eprintln!(
            "sample label {} ({product}): {}",
            view.index, view.payload_url
        );
        indices.push(view.index);
    }
    if let Some(&last) = indices.last() {
        let req = cyberlabel_server::service::StatusRequest {
            reason: Some(serde_json::json!("unremediated_vulnerability")),
        };
        state
            .service()
            .change_status(
                &record,
                last,
                cyberlabel_server::service::StatusAction::Revoke,
                req,
                None,
            )
            .await
            .map_err(|e| anyhow::anyhow!("revoking the sample label: {e}"))?;
        eprintln!("sample label {last} revoked (reason: unremediated vulnerability)");
    }
    Ok(())
}

pub(crate) fn issuer_date(unix: u64) -> String {
    cyberlabel_issuer::dates::format_date(unix)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    // `mode` applies only when the file is created: tighten an existing file too, before the
    // secret is written into it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {} to mode 0600", path.display()))?;
    }
    f.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    /// An existing token file left world-readable is tightened, not just overwritten.
    #[test]
    fn write_private_tightens_an_existing_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("demo-admin.token");
        std::fs::write(&p, b"old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        super::write_private(&p, b"secret").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read(&p).unwrap(), b"secret");
    }
}
