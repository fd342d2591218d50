//! Start-up: loads the keys, opens the log, and makes sure the trust list the log enforces is
//! the configured one (appended when newer; an older or same-version different list refused),
//! or, in demo mode, a list signed with the example key naming this log and its witnesses.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cyberlabel_core::catalog::Catalog;
use cyberlabel_core::cose::{self};
use cyberlabel_core::note::{KeyKind, VerifierKey};
use cyberlabel_core::trust::{self, TrustList, TrustedIssuer, TrustedLog};
use cyberlabel_issuer::keys;
use cyberlabel_log::RedbStore;
use ed25519_dalek::SigningKey;
use serde_json::json;

use crate::cache::{FullTiles, ImageCache};
use crate::config::Config;
use crate::ledger::Ledger;
use crate::metrics::Metrics;
use crate::now_unix;

use super::Service;

/// Start-up failures, worded for operators.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// sled's exclusive lock on the data directory is held.
    #[error(
        "the data directory {0} is locked by another process — is `cyberlabel serve` running? \
         sled allows one process per data directory: stop the server before running this command"
    )]
    Locked(PathBuf),
    /// The example keys were configured outside demo mode.
    #[error(
        "the {0} key is an EXAMPLE key from keys-example/ and is refused outside demo mode \
         (generate your own with `cyberlabel keygen`, or run with --demo)"
    )]
    ExampleKey(&'static str),
    /// A required setting is missing.
    #[error("missing configuration: {0}")]
    Missing(&'static str),
    /// Anything else, with context.
    #[error("{0}")]
    Other(String),
}

fn example_public(pem: fn() -> Result<SigningKey, keys::KeyError>) -> Option<[u8; 32]> {
    pem().ok().map(|k| k.verifying_key().to_bytes())
}

/// Loads a configured key, or the example key in demo mode; refuses example keys otherwise.
fn load_key(
    what: &'static str,
    path: Option<&PathBuf>,
    demo: bool,
    example: fn() -> Result<SigningKey, keys::KeyError>,
) -> Result<SigningKey, StartError> {
    let key = match (path, demo) {
        (Some(p), _) => {
            keys::load_signing_key(p).map_err(|e| StartError::Other(format!("{what} key: {e}")))?
        }
        (None, true) => {
            example().map_err(|e| StartError::Other(format!("example {what} key: {e}")))?
        }
        (None, false) => {
            return Err(StartError::Missing(match what {
                "issuer" => "issuer_key (CYBERLABEL_ISSUER_KEY / --issuer-key)",
                "log" => "log_key (CYBERLABEL_LOG_KEY / --log-key)",
                _ => "key",
            }));
        }
    };
    if !demo && example_public(example) == Some(key.verifying_key().to_bytes()) {
        return Err(StartError::ExampleKey(what));
    }
    Ok(key)
}

/// The demo trust list's witnesses: the configured ones (the CLI's demo starts three), with a
/// C2SP-tlog-policy group `demo-witnesses` needing two of them (all of them if fewer), fresh
/// within 10 minutes. Without witnesses: none, quorum 0.
fn demo_witnesses(config: &Config) -> TrustList {
    use cyberlabel_core::trust::{Quorum, Threshold, TrustedWitness, WitnessGroup, WitnessPolicy};
    if config.witnesses.is_empty() {
        return TrustList::default();
    }
    let witnesses: Vec<TrustedWitness> = config
        .witnesses
        .iter()
        .map(|w| TrustedWitness {
            name: w.name.clone(),
            vkey: w.vkey.clone(),
        })
        .collect();
    let group = "demo-witnesses";
    TrustList {
        witness_policy: WitnessPolicy {
            groups: vec![WitnessGroup {
                name: group.into(),
                threshold: Threshold::Count(witnesses.len().min(2) as u32),
                members: witnesses.iter().map(|w| w.name.clone()).collect(),
            }],
            quorum: Quorum::Name(group.into()),
            max_age: 600,
        },
        witnesses,
        ..TrustList::default()
    }
}

fn other(context: &str) -> impl FnOnce(String) -> StartError + '_ {
    move |e| StartError::Other(format!("{context}: {e}"))
}

/// The log's signing key and the trust anchor its admission rules check trust lists against,
/// as `serve` derives them from `config` (the example keys in demo mode): what a tool that
/// rebuilds the log offline needs.
///
/// # Errors
/// As [`Service::open`] for these keys.
pub fn log_identity(
    config: &Config,
) -> Result<(SigningKey, ed25519_dalek::VerifyingKey), StartError> {
    let log_key = load_key(
        "log",
        config.log_key.as_ref(),
        config.demo,
        keys::load_example_log_key,
    )?;
    let anchor = match &config.trust_anchor {
        Some(path) => {
            keys::load_public_key(path).map_err(|e| other("trust_anchor")(e.to_string()))?
        }
        None if config.demo => keys::load_example_trust_list_key()
            .map_err(|e| other("example trust-list key")(e.to_string()))?
            .verifying_key(),
        None => return Err(StartError::Missing("trust_anchor")),
    };
    Ok((log_key, anchor))
}

/// The log's file in a data directory.
pub const LOG_FILE: &str = "log.redb";
/// The sled tree earlier versions kept the log in (moved into [`LOG_FILE`] at start).
const OLD_SLED_TREE: &str = "cyberlabel-log";

/// Opens `<data>/log.redb`. A log still in the sled database of an earlier version is copied
/// into it first (one transaction per 4,096 keys; the state record last, so an interrupted move
/// leaves a file without state, which is moved again from the start), then the sled tree is
/// dropped.
fn open_log_store(
    config: &Config,
    db: &sled::Db,
    _metrics: &Metrics,
) -> Result<Arc<RedbStore>, StartError> {
    let path = config.data_dir.join(LOG_FILE);
    let store = RedbStore::open(&path, config.log_cache_bytes).map_err(|e| {
        StartError::Other(format!(
            "cannot open the log {}: {e} (restore the data directory from a backup, or rebuild it from a mirror with `cyberlabel publish --from`)",
            path.display()
        ))
    })?;
    let old = db
        .open_tree(OLD_SLED_TREE)
        .map_err(|e| other("log")(e.to_string()))?;
    if !old.is_empty() {
        let fresh = cyberlabel_log::LogStore::state(&store)
            .map_err(|e| other("log")(e.to_string()))?
            .is_none();
        if fresh {
            tracing::info!(
                keys = old.len(),
                "moving the log from sled into {}",
                path.display()
            );
            let mut state = None;
            let mut chunk = Vec::with_capacity(4096);
            for kv in &old {
                let (k, v) = kv.map_err(|e| other("log (sled)")(e.to_string()))?;
                if k.as_ref() == b"s" {
                    state = Some((k.to_vec(), v.to_vec()));
                    continue;
                }
                chunk.push((k.to_vec(), v.to_vec()));
                if chunk.len() == 4096 {
                    store
                        .import(&chunk)
                        .map_err(|e| other("log")(e.to_string()))?;
                    chunk.clear();
                }
            }
            chunk.extend(state);
            store
                .import(&chunk)
                .map_err(|e| other("log")(e.to_string()))?;
        }
        db.drop_tree(OLD_SLED_TREE)
            .map_err(|e| other("log (sled)")(e.to_string()))?;
        db.flush().map_err(|e| other("log (sled)")(e.to_string()))?;
    }
    Ok(Arc::new(store))
}

impl Service {
    /// Loads keys and trust list and opens the log.
    ///
    /// # Errors
    /// See [`StartError`].
    pub fn open(config: &Config, db: sled::Db, metrics: Arc<Metrics>) -> Result<Self, StartError> {
        let demo = config.demo;
        let issuer_key = load_key(
            "issuer",
            config.issuer_key.as_ref(),
            demo,
            keys::load_example_issuer_key,
        )?;
        let log_key = load_key(
            "log",
            config.log_key.as_ref(),
            demo,
            keys::load_example_log_key,
        )?;
        let log_vkey = VerifierKey::new(&config.origin, KeyKind::Ed25519, log_key.verifying_key())
            .map_err(|e| {
                StartError::Other(format!(
                    "origin {:?} is not a valid note key name: {e}",
                    config.origin
                ))
            })?
            .to_string();
        let catalog = Catalog::builtin();
        let now = now_unix();

        // The trust list: configured (signed file + anchor), or in demo mode signed on the fly
        // with the example trust-list key, listing the example issuer and this log. The log
        // holds the list it enforces as an entry (core's admission rules): a newer configured
        // list is appended at start; an older one, or another list under the same version, is
        // refused.
        let configured = match (&config.trust_list, &config.trust_anchor) {
            (Some(file), Some(anchor)) => {
                let bytes = std::fs::read(file).map_err(|e| other("trust_list")(e.to_string()))?;
                let anchor = keys::load_public_key(anchor)
                    .map_err(|e| other("trust_anchor")(e.to_string()))?;
                TrustList::from_signed(&bytes, &anchor, now)
                    .map_err(|e| other("trust_list")(e.to_string()))?;
                Some((bytes, anchor))
            }
            (None, None) if demo => None,
            (None, None) => {
                return Err(StartError::Missing(
                    "trust_list and trust_anchor: the log admits only entries its trust list authorises",
                ));
            }
            _ => {
                return Err(StartError::Missing(
                    "trust_list and trust_anchor must be given together",
                ));
            }
        };
        let demo_tl_key = if configured.is_none() {
            Some(
                keys::load_example_trust_list_key()
                    .map_err(|e| other("example trust-list key")(e.to_string()))?,
            )
        } else {
            None
        };
        let trust_anchor = match (&configured, &demo_tl_key) {
            (Some((_, a)), _) => *a,
            (None, Some(k)) => k.verifying_key(),
            (None, None) => return Err(StartError::Missing("trust_anchor")),
        };
        if !demo
            && example_public(keys::load_example_trust_list_key) == Some(trust_anchor.to_bytes())
        {
            return Err(StartError::ExampleKey("trust-list"));
        }
        let log_store = open_log_store(config, &db, &metrics)?;
        let ledger = Ledger::open(
            Arc::clone(&log_store),
            &config.origin,
            log_key,
            trust_anchor,
            config.batch_size,
            Duration::from_millis(config.max_delay_ms),
        )
        .map_err(|e| other("log")(e.to_string()))?
        .signing_with(issuer_key.verifying_key());
        let in_force = ledger
            .trust_list_in_force()
            .map_err(|e| other("log")(e.to_string()))?;
        let in_force_list = match &in_force {
            Some((i, bytes)) => Some(
                TrustList::from_signed_any_time(bytes, &trust_anchor)
                    .map_err(|e| other("log")(format!("trust list in force (entry {i}): {e}")))?,
            ),
            None => None,
        };
        let trust_cose = match (configured, demo_tl_key) {
            (Some((bytes, _)), _) => {
                match (&in_force, &in_force_list) {
                    (Some((_, cur)), _) if *cur == bytes => {}
                    (Some(_), Some(cur)) => {
                        let new = TrustList::from_signed_any_time(&bytes, &trust_anchor)
                            .map_err(|e| other("trust_list")(e.to_string()))?;
                        if new.version <= cur.version {
                            return Err(StartError::Other(format!(
                                "trust_list: version {} is not newer than version {} the log already enforces; sign the new list with a higher version",
                                new.version, cur.version
                            )));
                        }
                        ledger
                            .append_trust_list(bytes.clone())
                            .map_err(|e| other("trust_list")(e.to_string()))?;
                    }
                    _ => {
                        ledger
                            .append_trust_list(bytes.clone())
                            .map_err(|e| other("trust_list")(e.to_string()))?;
                    }
                }
                bytes
            }
            (None, Some(tl_key)) => {
                let schemes: Vec<&str> = catalog.schemes.iter().map(|s| s.id.as_str()).collect();
                // The mutual-recognition rows of the example trust list, so the demo page can
                // show partner-scheme equivalents.
                let equivalences = TrustList::from_json(keys::EXAMPLE_TRUST_LIST_JSON)
                    .map_err(|e| other("example trust list")(e.to_string()))?
                    .equivalences;
                let wanted = TrustList {
                    version: 1,
                    issued_at: now - 86_400,
                    expires_at: now + 365 * 86_400,
                    issuers: vec![TrustedIssuer::new(
                        "Example issuing body (DEMO — example key, not trustworthy)",
                        &issuer_key.verifying_key(),
                        &schemes,
                        0,
                        // fixed (2100-01-01), so a restart finds the same list in force
                        4_102_444_800,
                    )],
                    logs: vec![TrustedLog {
                        origin: config.origin.clone(),
                        vkey: log_vkey.clone(),
                        url: String::new(),
                        max_merge_delay: 0,
                        witness_policy: None,
                    }],
                    equivalences,
                    ..demo_witnesses(config)
                };
                let same = |cur: &TrustList| {
                    cur.issuers == wanted.issuers
                        && cur.logs == wanted.logs
                        && cur.witnesses == wanted.witnesses
                        && cur.witness_policy == wanted.witness_policy
                        && cur.equivalences == wanted.equivalences
                        && cur.expires_at > now + 30 * 86_400
                };
                match (in_force, in_force_list) {
                    (Some((_, bytes)), Some(cur)) if same(&cur) => bytes,
                    (_, cur) => {
                        let list = TrustList {
                            version: cur.map_or(1, |c| c.version + 1),
                            ..wanted
                        };
                        let bytes = trust::sign(list.to_json().as_bytes(), &tl_key);
                        ledger
                            .append_trust_list(bytes.clone())
                            .map_err(|e| other("demo trust list")(e.to_string()))?;
                        bytes
                    }
                }
            }
            (None, None) => return Err(StartError::Missing("trust_list")),
        };
        // A trust list is bounded by its own limit, not the label one (the demo list with its
        // mutual-recognition rows is several KiB).
        let trust_json = cose::parse_sign1_bounded(&trust_cose, trust::MAX_TRUST_LIST_LEN)
            .map(|s| s.payload)
            .map_err(|e| other("trust_list")(e.to_string()))?;
        let site_config = serde_json::to_vec(&json!({
            "trust_anchor": B64.encode(trust_anchor.as_bytes()),
            "origin": config.origin,
            "verifier_url": config.verifier_url(),
            "log_url": "",
        }))
        .map_err(|e| other("config.json")(e.to_string()))?;
        // The page may fetch a partner's log only from the URL the signed trust list names.
        let partner_urls: Vec<String> = std::str::from_utf8(&trust_json)
            .ok()
            .and_then(|j| TrustList::from_json(j).ok())
            .map(|t| {
                t.logs
                    .into_iter()
                    .filter(|l| l.origin != config.origin)
                    .map(|l| l.url)
                    .collect()
            })
            .unwrap_or_default();
        let partner_urls: Vec<&str> = partner_urls.iter().map(String::as_str).collect();
        let page_csp = crate::www::csp(&partner_urls);
        let issuer_kid = cose::key_id(&issuer_key.verifying_key());
        Ok(Self {
            ledger,
            log_store,
            schemes_json: catalog.to_json().into_bytes(),
            catalog,
            issuer_key: Arc::new(issuer_key),
            issuer_kid,
            verifier_url: config.verifier_url(),
            images: ImageCache::new(config.image_cache_bytes, metrics.clone()),
            metrics,
            site_config,
            page_csp,
            trust_cose,
            trust_json,
            status_lock: tokio::sync::Mutex::new(()),
            log_vkey,
            full_tiles: FullTiles::new(config.log_cache_bytes / 2),
        })
    }
}
