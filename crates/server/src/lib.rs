//! cyberlabel-server: the issuing service over HTTP (axum on tokio).
//!
//! - [`app`] builds the router (tested in-process and over loopback), [`serve`] runs it on a
//!   bound listener until a shutdown future resolves, then drains in-flight requests and closes
//!   the log so every pending append is committed or rejected — nothing acknowledged is lost.
//! - [`AppState::open`] opens the one sled database of a data directory (shared by the log and
//!   the token store; sled locks the directory, see [`open_db`]), loads the keys (refusing the
//!   example keys outside demo mode), and starts the log's sequencer.
//! - [`witnessing`] submits every new checkpoint (and, periodically, the current one) to the
//!   configured C2SP witnesses and attaches their cosignatures to the served checkpoint.
//! - [`publishing`] copies the read side to an S3-compatible object store (`publish_url`).
//! - [`register`] keeps the public register (a search index of every label, derived from the
//!   log's entries) up with the log.
//! - [`conn`] is the accept loop: a connection cap derived from the open-file limit, and
//!   header, idle and body timeouts against slow and idle clients.
//! - Routes: public reads (CORS open) and authenticated mutations; see [`routes`] and the
//!   OpenAPI document served at `/openapi.json` (`openapi.json` in this crate, checked
//!   against [`route_table`] by a test).
//!
//! # Requests (for clients and tests)
//!
//! Mutations need `Authorization: Bearer <token>` (`cyberlabel token create`; in demo mode the
//! admin token is in `<data>/demo-admin.token`) and accept `Idempotency-Key: <1–255 chars>`
//! (a retry must resend the byte-identical body; the key with another body → `422
//! idempotency_key_reused`). Each authenticated request is logged in a span naming the token
//! by id and role (never the secret).
//!
//! - `POST /labels` — body: a product description, exactly as `cyberlabel issue --product-file`
//!   reads it (`cyberlabel_issuer::product::ProductDescription`):
//!   ```json
//!   {"scheme": "SG-CLS", "level": 2, "manufacturer": "Acme", "product": "Cam 2",
//!    "hardware_versions": "rev B", "firmware_versions": "2.4.0", "category": 1,
//!    "provisions": ["5.1-1", "5.2-1", "5.3-13"], "assessment": "third_party",
//!    "lab": "SG-LAB-007", "support_until": "2028-12-31"}
//!   ```
//!   (optional: `expires_at` as `YYYY-MM-DD`; `issued_at` only if it is today (UTC);
//!   `supersedes` is refused with 422: use renew). → `201` with a label view:
//!   `index`, `label` (base64 COSE_Sign1), `payload_url` (the QR URL `<verifier_url>#<digits>`),
//!   `claim`, `status` (`{state, reason, reason_name}`), `inclusion_proof`
//!   (`{index, tree_size, leaf_hash, hashes}`), `checkpoint`, `tlog_proof`, `links`
//!   (`qr_png`, `qr_svg`, `artwork_png`, `artwork_svg`, `status_proof`, …).
//! - `POST /labels/bulk` — a JSON array or NDJSON of product descriptions (≤ 16 MiB,
//!   ≤ `bulk_max_items`) → `200 {"accepted", "rejected", "results": [{"item", "ok": true,
//!   "label": <view>} | {"item", "ok": false, "status", "error", "message", "field"?}]}`. An
//!   item may be `{"idempotency_key": "…", "product": {…}}`: its own key, replayed in any
//!   chunking. A token whose role cannot issue, or any item naming a scheme outside its scope
//!   → `403` for the whole request, nothing minted.
//! - `POST /labels/{index}/renew` — `{"firmware_versions": "2.5.0"}` (optional
//!   `hardware_versions`, and `expires_at` / `support_until` as `YYYY-MM-DD`) → `201` view of the new
//!   label (claim `supersedes` = index; the old label becomes `superseded`). A suspended label
//!   → `409` (reinstate it first: a renewal must not lift a suspension).
//! - `POST /labels/{index}/suspend|reinstate|revoke` — optional body `{"reason": 8}` or
//!   `{"reason": "unremediated_vulnerability"}` (FORMATS §2 codes) → `200` view with the new
//!   status and `record_index` (the status record's log index). Reason names: any case, `-`
//!   or spaces for `_`; an unknown reason → `422` listing every code and name.
//! - Tokens (admin role): `POST /tokens` `{"role", "schemes", "expires"? (default 90d),
//!   "note"?}` → `201` with the token (shown once); `GET /tokens`; `DELETE /tokens/{id}` (the
//!   next request with it → 401). `GET /tokens/{id}/labels?after=&limit=` → the indices the
//!   token minted (admin, or the token itself).
//!
//! Errors are JSON `{"error", "message", "field"?}`: 401 (no/unknown/expired token), 403 (role
//! or scheme scope), 400 (malformed JSON, unknown or missing field), 422 (a value the catalog
//! refuses: unknown scheme, level, category or provision, dates out of order), 404, 409
//! (illegal transition), 413 (body limit), 429 (rate limit), 503 (shutting down).

#![forbid(unsafe_code)]

pub mod auth;
mod cache;
pub mod config;
pub mod conn;
pub mod error;
pub mod ledger;
pub mod metrics;
pub mod publishing;
pub mod ratelimit;
pub mod register;
pub mod routes;
pub mod service;
pub mod witnessing;
pub mod www;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use auth::{Role, TokenStore};
pub use config::Config;
pub use error::ApiError;
pub use routes::{app, route_table};
pub use service::{Service, StartError};

use metrics::Metrics;
use ratelimit::RateLimiter;

/// Shared state of a running server (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    db: sled::Db,
    tokens: TokenStore,
    metrics: Arc<Metrics>,
    read_limit: RateLimiter,
    write_limit: RateLimiter,
    heavy_limit: RateLimiter,
    render_slots: tokio::sync::Semaphore,
    service: Arc<Service>,
    witnesses: witnessing::Witnesses,
    register: register::Register,
}

impl AppState {
    /// Opens the data directory's database, loads keys and trust list, and starts the log.
    ///
    /// # Errors
    /// [`StartError`] with a message an operator can act on (locked data dir, bad key, example
    /// keys outside demo mode, …).
    pub fn open(config: Config) -> Result<Self, StartError> {
        let witnesses = witnessing::Witnesses::from_config(&config)
            .map_err(|e| StartError::Other(format!("witnesses: {e}")))?;
        let db = open_db(&config.data_dir)?;
        let tokens = TokenStore::open(&db).map_err(|e| StartError::Other(e.to_string()))?;
        let metrics = Arc::new(Metrics::default());
        let service = Service::open(&config, db.clone(), metrics.clone())?;
        // Derived state: a register file that does not open is replaced by an empty one,
        // which the register task fills again from the log.
        let register_path = config.data_dir.join("register.redb");
        let register = register::Register::open(&register_path)
            .or_else(|e| match e {
                register::RegisterError::Locked(_) => Err(e),
                e => {
                tracing::warn!(error = %e, "the register does not open; rebuilding it from the log");
                register::Register::open_empty(&register_path)
                }
            })
            .map_err(|e| StartError::Other(e.to_string()))?;
        Ok(Self(Arc::new(Inner {
            register,
            read_limit: RateLimiter::new(config.read_rps, config.read_burst),
            write_limit: RateLimiter::new(config.write_rps, config.write_burst),
            heavy_limit: RateLimiter::new(config.heavy_rps, config.heavy_burst),
            render_slots: tokio::sync::Semaphore::new(render_slots()),
            config,
            db,
            tokens,
            metrics,
            service: Arc::new(service),
            witnesses,
        })))
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &Config {
        &self.0.config
    }
    /// The operator token store (shares the server's database).
    pub fn tokens(&self) -> &TokenStore {
        &self.0.tokens
    }
    /// Metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }
    pub(crate) fn metrics_arc(&self) -> Arc<Metrics> {
        Arc::clone(&self.0.metrics)
    }
    /// The issuing service (log + issuer).
    pub fn service(&self) -> &Service {
        &self.0.service
    }
    /// The issuing service, shared (for work handed to other threads).
    pub fn service_arc(&self) -> Arc<Service> {
        Arc::clone(&self.0.service)
    }
    /// The witnesses the log gathers cosignatures from.
    pub fn witnesses(&self) -> &witnessing::Witnesses {
        &self.0.witnesses
    }
    /// The public register (derived from the log).
    pub fn register(&self) -> &register::Register {
        &self.0.register
    }
    /// The database handle (for tests and the CLI's demo set-up).
    pub fn db(&self) -> &sled::Db {
        &self.0.db
    }
    pub(crate) fn read_limit(&self) -> &RateLimiter {
        &self.0.read_limit
    }
    pub(crate) fn write_limit(&self) -> &RateLimiter {
        &self.0.write_limit
    }
    pub(crate) fn heavy_limit(&self) -> &RateLimiter {
        &self.0.heavy_limit
    }
    pub(crate) fn render_slots(&self) -> &tokio::sync::Semaphore {
        &self.0.render_slots
    }
}

/// Label renders allowed at once: all cores but one (at least one), so image requests, however
/// many, leave a core to the cheap reads.
fn render_slots() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .saturating_sub(1)
        .max(1)
}

/// Opens `<data_dir>/db`, creating the directory if needed.
///
/// # Errors
/// [`StartError::Locked`] when another process (typically a running `cyberlabel serve`) holds
/// the directory: sled takes an exclusive lock, so the CLI's `token` commands must run while
/// the server is stopped.
pub fn open_db(data_dir: &Path) -> Result<sled::Db, StartError> {
    std::fs::create_dir_all(data_dir).map_err(|e| {
        StartError::Other(format!(
            "cannot create data directory {}: {e}",
            data_dir.display()
        ))
    })?;
    let path = data_dir.join("db");
    sled::Config::new()
        .path(&path)
        .open()
        .map_err(|e| match &e {
            sled::Error::Io(io)
                if io.kind() == std::io::ErrorKind::WouldBlock
                    || io.to_string().contains("lock") =>
            {
                StartError::Locked(data_dir.to_path_buf())
            }
            _ => StartError::Other(format!("cannot open database {}: {e}", path.display())),
        })
}

/// Runs the server on `listener` until `shutdown` resolves; then stops accepting, drains
/// in-flight requests (up to `shutdown_grace_secs`), and closes the log, which commits or
/// rejects every pending append before this returns. Connections are capped and timed out as
/// [`conn`] describes (the open-file limit is raised to the hard limit first).
///
/// # Errors
/// None today (accept errors are counted and retried, see [`conn`]); the `Result` is kept for
/// callers and for listener set-up failures to come.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = Duration::from_secs(state.config().shutdown_grace_secs);
    let router = app(state.clone());
    // Witness cosigning tasks (none without configured witnesses), stopped before the log.
    let (stop_witnessing, witnessing_stopped) = tokio::sync::watch::channel(false);
    let witness_tasks = state.witnesses().spawn(&state, &witnessing_stopped);
    let publish_task = publishing::spawn(&state, &witnessing_stopped);
    let register_task = register::spawn(&state, &witnessing_stopped);
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let limits = conn::Limits::from_config(state.config());
    let server = conn::run(listener, router, state.metrics_arc(), limits, async move {
        shutdown.await;
        tracing::info!("shutdown requested: no new connections, draining in-flight requests");
        let _ = signalled_tx.send(());
    });
    let deadline = async move {
        if signalled_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = server => {},
        () = deadline => {
            tracing::warn!(grace_secs = grace.as_secs(), "grace period over; abandoning open connections");
        }
    }
    let _ = stop_witnessing.send(true);
    let witness_wait =
        Duration::from_millis(state.config().witness_timeout_ms.saturating_add(1000));
    for t in witness_tasks {
        if tokio::time::timeout(witness_wait, t).await.is_err() {
            tracing::warn!("a witness submission did not finish in time; closing the log anyway");
        }
    }
    if tokio::time::timeout(grace, register_task).await.is_err() {
        tracing::warn!("the register did not finish its fold in time; it resumes on restart");
    }
    if let Some(t) = publish_task {
        // a cycle in progress may finish; an aborted one leaves the bucket consistent (its
        // checkpoint is written last) and the next start resumes from it
        let abort = t.abort_handle();
        if tokio::time::timeout(grace, t).await.is_err() {
            abort.abort();
            tracing::warn!("publishing did not finish its cycle in time; it resumes on restart");
        }
    }
    state.service().close().await;
    tracing::info!("log closed; shutdown complete");
    Ok(())
}

/// Resolves on SIGTERM or ctrl-c (for `cyberlabel serve`). The handlers are installed when
/// this is called, not when the future is first polled: a process that has said it is
/// serving must shut down cleanly on a SIGTERM that arrives at once, not die of it. Call it
/// inside the runtime, before announcing readiness.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut term, mut int) = handlers;
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let (term, int) = (term.take(), int.take());
            tokio::select! {
                () = wait(term) => {},
                () = wait(int) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Current Unix time in seconds (the server is the one place with a clock).
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
