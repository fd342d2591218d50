//! Gathering witness cosignatures (C2SP `tlog-witness`, client side).
//!
//! One task per configured witness ([`crate::config::WitnessConfig`]) submits the log's latest
//! checkpoint to `POST <url>/add-checkpoint`:
//!
//! - whenever a larger checkpoint is published ([`crate::ledger::Ledger::subscribe`]), and
//! - every `witness_interval_secs` even when nothing was appended: the witness answers `old` =
//!   its size = the checkpoint size with a fresh timestamped cosignature, which replaces the
//!   witness's older line in the served checkpoint (one line per witness).
//!
//! The tasks run concurrently and independently (a slow or dead witness delays nobody else).
//! Each request has a timeout; network errors and 5xx are retried with exponential backoff; a
//! `409` with `Content-Type: text/x.tlog.size` resynchronises — the log proves consistency from
//! the witness's size to the current one and resubmits (this is also how a fresh server, which
//! does not know the witnesses' sizes, or a witness that was down catches up). Cosignatures that
//! verify under the witness's key are attached with [`crate::ledger::Ledger::add_cosignatures`],
//! so `/checkpoint` serves the cosigned checkpoint. Outcomes are counted in
//! [`crate::metrics::Metrics`] and failures logged with `tracing`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cyberlabel_core::checkpoint::Checkpoint;
use cyberlabel_core::merkle::Hash;
use cyberlabel_core::note::{self, KeyKind, VerifierKey};
use tokio::sync::watch;

use crate::AppState;
use crate::config::Config;
use crate::now_unix;

/// Content type of a witness's 409 answer carrying its latest cosigned size.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";
/// Attempts per submission for network errors and 5xx answers.
const MAX_ATTEMPTS: u32 = 4;
/// First retry delay; doubled per attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// 409 resynchronisations per submission before giving up until the next trigger.
const MAX_RESYNCS: u32 = 3;
/// Largest witness response read.
const MAX_RESPONSE: u64 = 64 * 1024;

/// Invalid witness configuration.
#[derive(Debug, thiserror::Error)]
pub enum WitnessConfigError {
    /// The vkey does not parse.
    #[error("witness {name:?}: invalid vkey: {source}")]
    Vkey {
        /// configured name
        name: String,
        /// why
        source: note::NoteError,
    },
    /// The vkey is not a cosignature/v1 key.
    #[error("witness {0:?}: the vkey is not a cosignature/v1 (type 0x04) witness key")]
    NotCosignature(String),
    /// The configured name differs from the vkey's key name.
    #[error("witness {name:?}: the vkey's key name is {vkey_name:?}")]
    NameMismatch {
        /// configured name
        name: String,
        /// name in the vkey
        vkey_name: String,
    },
    /// The URL is not http(s).
    #[error("witness {name:?}: url {url:?} must start with http:// or https://")]
    Url {
        /// configured name
        name: String,
        /// the url
        url: String,
    },
}

/// Why one submission failed.
#[derive(Debug, thiserror::Error)]
enum SubmitError {
    #[error("network: {0}")]
    Network(String),
    #[error("witness answered {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("witness reports a SPLIT VIEW (409 for the same size with another root): {0}")]
    SplitView(String),
    #[error("witness has cosigned size {witness}, larger than this log's size {log}")]
    WitnessAhead { witness: u64, log: u64 },
    #[error("too many 409 resynchronisations")]
    TooManyResyncs,
    #[error("bad response: {0}")]
    BadResponse(String),
    #[error("log: {0}")]
    Log(String),
    #[error("stopping")]
    Stopped,
}

/// One witness endpoint and what the log knows of its state.
struct Endpoint {
    name: String,
    vkey: VerifierKey,
    add_url: String,
    agent: ureq::Agent,
    /// The size the witness last cosigned, as far as this process knows (`None` at start).
    known: Mutex<Option<u64>>,
}

impl Endpoint {
    fn known(&self) -> Option<u64> {
        match self.known.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        }
    }
    fn set_known(&self, size: u64) {
        match self.known.lock() {
            Ok(mut g) => *g = Some(size),
            Err(p) => *p.into_inner() = Some(size),
        }
    }
}

/// The configured witnesses.
pub struct Witnesses {
    endpoints: Vec<Arc<Endpoint>>,
    interval: Option<Duration>,
}

/// A witness's HTTP answer.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Witnesses {
    /// Validates the `witnesses` section of the configuration.
    ///
    /// # Errors
    /// [`WitnessConfigError`].
    pub fn from_config(cfg: &Config) -> Result<Self, WitnessConfigError> {
        let timeout = Duration::from_millis(cfg.witness_timeout_ms.max(1));
        let mut endpoints = Vec::new();
        for w in &cfg.witnesses {
            let vkey =
                VerifierKey::parse(w.vkey.trim()).map_err(|source| WitnessConfigError::Vkey {
                    name: w.name.clone(),
                    source,
                })?;
            if vkey.kind() != KeyKind::CosignatureV1 {
                return Err(WitnessConfigError::NotCosignature(w.name.clone()));
            }
            if vkey.name() != w.name {
                return Err(WitnessConfigError::NameMismatch {
                    name: w.name.clone(),
                    vkey_name: vkey.name().to_owned(),
                });
            }
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return Err(WitnessConfigError::Url {
                    name: w.name.clone(),
                    url: w.url.clone(),
                });
            }
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(timeout))
                .build()
                .into();
            endpoints.push(Arc::new(Endpoint {
                name: w.name.clone(),
                vkey,
                add_url: format!("{}/add-checkpoint", w.url.trim_end_matches('/')),
                agent,
                known: Mutex::new(None),
            }));
        }
        Ok(Self {
            endpoints,
            interval: (cfg.witness_interval_secs > 0)
                .then(|| Duration::from_secs(cfg.witness_interval_secs)),
        })
    }

    /// Whether no witness is configured.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// The witnesses' verifier keys.
    pub fn keys(&self) -> Vec<VerifierKey> {
        self.endpoints.iter().map(|e| e.vkey.clone()).collect()
    }

    /// Starts one task per witness; they stop when `stop` becomes `true` (or its sender is
    /// dropped).
    pub fn spawn(
        &self,
        state: &AppState,
        stop: &watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        self.endpoints
            .iter()
            .map(|ep| tokio::spawn(run(ep.clone(), state.clone(), self.interval, stop.clone())))
            .collect()
    }
}

async fn run(
    ep: Arc<Endpoint>,
    state: AppState,
    interval: Option<Duration>,
    mut stop: watch::Receiver<bool>,
) {
    let mut published = state.service().ledger().subscribe();
    let mut ticker = tokio::time::interval(interval.unwrap_or(Duration::from_secs(3600)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(witness = %ep.name, url = %ep.add_url, "witnessing started");
    loop {
        tokio::select! {
            r = stop.changed() => {
                if r.is_err() || *stop.borrow() {
                    break;
                }
                continue;
            }
            r = published.changed() => {
                if r.is_err() {
                    break;
                }
            }
            _ = ticker.tick() => {
                // Without an interval, only the first (immediate) tick submits.
                if interval.is_none() && ep.known().is_some() {
                    continue;
                }
            }
        }
        match submit_latest(&ep, &state, &mut stop).await {
            Ok(()) | Err(SubmitError::Stopped) => {}
            Err(e) => {
                state.metrics().witness(&ep.name, |s| s.failed += 1);
                match e {
                    SubmitError::SplitView(_) | SubmitError::WitnessAhead { .. } => {
                        tracing::error!(witness = %ep.name, error = %e, "witness submission failed");
                    }
                    _ => {
                        tracing::warn!(witness = %ep.name, error = %e, "witness submission failed")
                    }
                }
            }
        }
        if *stop.borrow() {
            break;
        }
    }
    tracing::info!(witness = %ep.name, "witnessing stopped");
}

/// The latest signed checkpoint, its body text and size.
fn latest(state: &AppState) -> Result<(String, String, u64), SubmitError> {
    let signed = state
        .service()
        .ledger()
        .checkpoint()
        .map_err(|e| SubmitError::Log(e.to_string()))?;
    let parsed =
        note::Note::parse(signed.as_bytes()).map_err(|e| SubmitError::Log(e.to_string()))?;
    let cp = Checkpoint::parse(&parsed.text).map_err(|e| SubmitError::Log(e.to_string()))?;
    Ok((signed, parsed.text, cp.size))
}

fn encode_body(old: u64, proof: &[Hash], signed: &str) -> String {
    let mut s = format!("old {old}\n");
    for h in proof {
        s.push_str(&B64.encode(h));
        s.push('\n');
    }
    s.push('\n');
    s.push_str(signed);
    s
}

fn post(agent: &ureq::Agent, url: &str, body: String) -> Result<Answer, SubmitError> {
    let mut r = agent
        .post(url)
        .header("content-type", "text/plain; charset=utf-8")
        .send(body)
        .map_err(|e| SubmitError::Network(e.to_string()))?;
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = r
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE)
        .read_to_string()
        .map_err(|e| SubmitError::Network(e.to_string()))?;
    Ok(Answer {
        status: r.status().as_u16(),
        content_type,
        body,
    })
}

/// Sleeps `d` unless asked to stop first.
async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> Result<(), SubmitError> {
    tokio::select! {
        () = tokio::time::sleep(d) => Ok(()),
        _ = stop.changed() => Err(SubmitError::Stopped),
    }
}

/// Submits the latest checkpoint to one witness (retries, resyncs) and attaches its
/// cosignature.
async fn submit_latest(
    ep: &Arc<Endpoint>,
    state: &AppState,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), SubmitError> {
    let (mut signed, mut text, mut size) = latest(state)?;
    let mut attempt = 0u32;
    let mut resyncs = 0u32;
    loop {
        let old = match ep.known() {
            Some(k) if k <= size => k,
            _ => 0,
        };
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            state
                .service()
                .ledger()
                .consistency_proof(old, size)
                .map_err(|e| SubmitError::Log(e.to_string()))?
        };
        let body = encode_body(old, &proof, &signed);
        let started = Instant::now();
        let agent = ep.agent.clone();
        let url = ep.add_url.clone();
        let answer = tokio::task::spawn_blocking(move || post(&agent, &url, body))
            .await
            .map_err(|e| SubmitError::Network(e.to_string()))
            .and_then(|r| r);
        state
            .metrics()
            .witness_latency
            .observe(started.elapsed().as_secs_f64());
        let answer = match answer {
            Ok(a) if a.status < 500 => a,
            other => {
                let why = match other {
                    Ok(a) => format!("{} {}", a.status, a.body.trim()),
                    Err(e) => e.to_string(),
                };
                attempt += 1;
                if attempt >= MAX_ATTEMPTS {
                    return Err(SubmitError::Network(format!(
                        "{why} (gave up after {attempt} attempts)"
                    )));
                }
                let delay = FIRST_BACKOFF * 2u32.pow(attempt - 1);
                tracing::debug!(witness = %ep.name, error = %why, ?delay, "witness request failed; retrying");
                sleep_or_stop(delay, stop).await?;
                continue;
            }
        };
        match answer.status {
            200 => return attach(ep, state, &signed, &text, size, &answer.body),
            409 if answer.content_type.trim() == SIZE_CONTENT_TYPE => {
                let witness_size = answer
                    .body
                    .strip_suffix('\n')
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or_else(|| {
                        SubmitError::BadResponse(format!("409 size body {:?}", answer.body))
                    })?;
                state.metrics().witness(&ep.name, |s| s.resync += 1);
                resyncs += 1;
                if resyncs > MAX_RESYNCS {
                    return Err(SubmitError::TooManyResyncs);
                }
                tracing::info!(witness = %ep.name, witness_size, log_size = size, "witness at another size: resynchronising");
                ep.set_known(witness_size);
                if witness_size > size {
                    // Perhaps a newer checkpoint was published meanwhile.
                    (signed, text, size) = latest(state)?;
                    if witness_size > size {
                        return Err(SubmitError::WitnessAhead {
                            witness: witness_size,
                            log: size,
                        });
                    }
                }
            }
            409 => return Err(SubmitError::SplitView(answer.body.trim().to_owned())),
            status => {
                return Err(SubmitError::Refused {
                    status,
                    body: answer.body.trim().to_owned(),
                });
            }
        }
    }
}

/// Attaches the witness's cosignature line(s) from a 200 body to the served checkpoint.
fn attach(
    ep: &Endpoint,
    state: &AppState,
    signed: &str,
    text: &str,
    size: u64,
    body: &str,
) -> Result<(), SubmitError> {
    ep.set_known(size);
    // Keep only lines by this witness's key; others are ignored (C2SP: unknown keys).
    let mut lines = Vec::new();
    for line in body.lines().filter(|l| !l.is_empty()) {
        let one = note::Note::parse(format!("{text}\n{line}\n").as_bytes())
            .map_err(|e| SubmitError::BadResponse(format!("signature line: {e}")))?;
        if one
            .signatures
            .iter()
            .all(|s| s.name == ep.vkey.name() && s.key_id == ep.vkey.key_id())
        {
            lines.push(line.to_owned());
        }
    }
    if lines.is_empty() {
        return Err(SubmitError::BadResponse(
            "no cosignature by the witness's key".into(),
        ));
    }
    match state
        .service()
        .ledger()
        .add_cosignatures(signed, &lines, std::slice::from_ref(&ep.vkey))
    {
        Ok(Some(_)) => {
            let now = now_unix();
            state.metrics().witness(&ep.name, |s| {
                s.ok += 1;
                s.cosigned_size = size;
                s.last_cosigned_unix = now;
            });
            tracing::debug!(witness = %ep.name, size, "cosignature attached");
            Ok(())
        }
        Ok(None) => {
            // A newer checkpoint was published meanwhile; its own submission follows.
            state.metrics().witness(&ep.name, |s| s.ok += 1);
            Ok(())
        }
        Err(e) => Err(SubmitError::BadResponse(format!(
            "cosignature refused: {e}"
        ))),
    }
}
