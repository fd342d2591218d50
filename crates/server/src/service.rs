//! The issuing service behind the HTTP handlers: validation, signing, log submission, and the
//! views returned to clients. Ties `cyberlabel-issuer` (keys, minting, artwork) to the log
//! (through [`crate::ledger`]).
//!
//! Minting validates the product description against the catalog *before* anything is
//! submitted (errors name the field, nothing is appended); the claim's serial is its log index,
//! so the label is signed inside the log's entry builder, once the index is known. Status
//! changes are signed by the issuer as status records (FORMATS §2) and serialised with a lock
//! so the state check and the append cannot interleave; the log re-checks the transition when
//! sequencing.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cyberlabel_core::catalog::{Catalog, CatalogError};
use cyberlabel_core::claim::{Assessment, Claim};
use cyberlabel_core::cose::{self, Entry, KeyId, StatusRecord};
use cyberlabel_core::merkle;
use cyberlabel_core::note::{KeyKind, VerifierKey};
use cyberlabel_core::payload;
use cyberlabel_core::status::State;
use cyberlabel_core::tiles::{self, TileKind, TilePath, TileSet};
use cyberlabel_core::tlog_proof::TlogProof;
use cyberlabel_core::trust::{self, TrustList, TrustedIssuer, TrustedLog};
use cyberlabel_issuer::keys;
use cyberlabel_issuer::mint::{self, MintError, RenderOptions};
use cyberlabel_issuer::product::ProductDescription;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use cyberlabel_core::cose::{ReasonCode, StatusAction};

use crate::auth::{Action, TokenRecord};
use crate::config::Config;
use crate::error::ApiError;
use crate::ledger::{Appended, Builder, Ledger, LedgerError};
use crate::metrics::Metrics;
use crate::now_unix;

const DAY: u64 = 86_400;

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

/// Which image of a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// QR code, PNG.
    QrPng,
    /// QR code, SVG.
    QrSvg,
    /// Printable label artwork, PNG.
    ArtworkPng,
    /// Printable label artwork, SVG.
    ArtworkSvg,
}

/// Body of `POST /labels/{index}/renew`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    /// Firmware versions the new label covers (required).
    pub firmware_versions: String,
    /// Hardware versions, if they changed.
    #[serde(default)]
    pub hardware_versions: Option<String>,
    /// New expiry date (`YYYY-MM-DD`); default: the old label's validity length from today.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// New last day of security support (`YYYY-MM-DD`); default: unchanged.
    #[serde(default)]
    pub support_until: Option<String>,
}

/// Body of `POST /labels/{index}/suspend|reinstate|revoke` (may be empty).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// Reason code (FORMATS §2): a number 0–14 or its name (e.g. `unremediated_vulnerability`).
    /// Default: 12 investigation pending (suspend), 13 reinstated (reinstate), 0 unspecified
    /// (revoke).
    #[serde(default)]
    pub reason: Option<Value>,
}

/// An entry appended as its issuer signed it (`POST /entries`).
#[derive(Debug, Clone, Serialize)]
pub struct SubmittedEntry {
    /// log index
    pub index: u64,
    /// `label` or `status`
    pub kind: &'static str,
    /// RFC 6962 leaf hash, hex
    pub leaf_hash: String,
    /// true if this answers a retry with the same Idempotency-Key (nothing appended)
    pub replayed: bool,
}

/// What a client gets for a label (mint/renew responses and `GET /labels/{index}`).
#[derive(Debug, Clone, Serialize)]
pub struct LabelView {
    /// Log index (the label's serial).
    pub index: u64,
    /// The label (COSE_Sign1 bytes), standard base64.
    pub label: String,
    /// The QR payload URL (`<verifier_url>#<digits>`).
    pub payload_url: String,
    /// The decoded claim.
    pub claim: Value,
    /// Current status: `{state, reason, reason_name}`; state is active, suspended, revoked,
    /// superseded or expired (computed from the dates).
    pub status: Value,
    /// RFC 6962 inclusion proof `{index, tree_size, hashes}` against `checkpoint`.
    pub inclusion_proof: Value,
    /// The signed checkpoint the proof is against (note text).
    pub checkpoint: String,
    /// C2SP tlog-proof bundle (`c2sp.org/tlog-proof@v1`) for offline verification.
    pub tlog_proof: String,
    /// Related URLs (relative to the server).
    pub links: Value,
    /// For status changes: the index of the status record entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_index: Option<u64>,
}

/// The issuing service.
pub struct Service {
    ledger: Ledger,
    catalog: Catalog,
    issuer_key: Arc<SigningKey>,
    issuer_kid: KeyId,
    verifier_url: String,
    metrics: Arc<Metrics>,
    site_config: Vec<u8>,
    trust_cose: Vec<u8>,
    trust_json: Vec<u8>,
    schemes_json: Vec<u8>,
    status_lock: tokio::sync::Mutex<()>,
    log_vkey: String,
    full_tiles: RwLock<HashMap<TilePath, Bytes>>,
}

/// Full tiles kept in memory (8 KiB each: 64 MiB at most); the map is simply cleared when full.
const MAX_CACHED_TILES: usize = 8192;

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

fn other(context: &str) -> impl FnOnce(String) -> StartError + '_ {
    move |e| StartError::Other(format!("{context}: {e}"))
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
        let ledger = Ledger::open(
            &db,
            &config.origin,
            log_key,
            trust_anchor,
            config.batch_size,
            Duration::from_millis(config.max_delay_ms),
        )
        .map_err(|e| other("log")(e.to_string()))?;
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
                    }],
                    equivalences,
                    ..TrustList::default()
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
        let issuer_kid = cose::key_id(&issuer_key.verifying_key());
        Ok(Self {
            ledger,
            schemes_json: catalog.to_json().into_bytes(),
            catalog,
            issuer_key: Arc::new(issuer_key),
            issuer_kid,
            verifier_url: config.verifier_url(),
            metrics,
            site_config,
            trust_cose,
            trust_json,
            status_lock: tokio::sync::Mutex::new(()),
            log_vkey,
            full_tiles: RwLock::new(HashMap::new()),
        })
    }

    /// The log itself (for the witnessing tasks: proofs, cosignatures, publication events).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
    /// The log's C2SP verifier key (`<origin>+<id>+<key>`).
    pub fn log_vkey(&self) -> &str {
        &self.log_vkey
    }
    /// The issuer's public key.
    pub fn issuer_public_key(&self) -> ed25519_dalek::VerifyingKey {
        self.issuer_key.verifying_key()
    }
    /// `/assets/config.json` bytes.
    pub fn site_config(&self) -> &[u8] {
        &self.site_config
    }
    /// Signed trust list (empty if none configured).
    pub fn trust_list_cose(&self) -> &[u8] {
        &self.trust_cose
    }
    /// Trust list JSON (the signed payload).
    pub fn trust_list_json(&self) -> &[u8] {
        &self.trust_json
    }
    /// Scheme catalog JSON.
    pub fn schemes_json(&self) -> &[u8] {
        &self.schemes_json
    }

    /// Current signed checkpoint.
    ///
    /// # Errors
    /// Storage failures.
    pub fn checkpoint(&self) -> Result<String, ApiError> {
        self.ledger.checkpoint().map_err(ApiError::internal)
    }

    /// Tree size.
    ///
    /// # Errors
    /// Storage failures.
    pub fn tree_size(&self) -> Result<u64, ApiError> {
        self.ledger.size().map_err(ApiError::internal)
    }

    /// A tile by its C2SP path (after `/tile/`); bool = partial.
    ///
    /// # Errors
    /// 404 for unknown or malformed paths.
    pub fn tile(&self, path: &str) -> Result<(Bytes, bool), ApiError> {
        let tp = TilePath::parse(&format!("tile/{path}"))
            .map_err(|_| ApiError::not_found("malformed tile path"))?;
        // Full tiles never change: serve them from memory after the first read.
        if tp.is_full()
            && let Some(b) = self
                .full_tiles
                .read()
                .ok()
                .and_then(|m| m.get(&tp).cloned())
        {
            return Ok((b, false));
        }
        let bytes = match self.ledger.tile(&tp).map_err(ApiError::internal)? {
            Some(bytes) => Bytes::from(bytes),
            None => return Err(ApiError::not_found("no such tile")),
        };
        if tp.is_full()
            && let Ok(mut m) = self.full_tiles.write()
        {
            if m.len() >= MAX_CACHED_TILES {
                m.clear();
            }
            m.insert(tp, bytes.clone());
        }
        Ok((bytes, !tp.is_full()))
    }

    /// A status proof for the bucket at `path` (tile-path form, e.g. `000` or `x001/234`).
    ///
    /// # Errors
    /// 404 for unknown buckets.
    pub fn status_proof(&self, path: &str) -> Result<String, ApiError> {
        let tp = TilePath::parse(&format!("tile/0/{path}"))
            .ok()
            .filter(TilePath::is_full)
            .ok_or_else(|| ApiError::not_found("malformed bucket path"))?;
        self.ledger
            .status_proof(tp.index)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found("no such bucket"))
    }

    fn label_at(&self, index: u64) -> Result<(Vec<u8>, Claim), ApiError> {
        let bytes = self
            .ledger
            .entry(index)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(format!("no entry {index} in the log")))?;
        if cyberlabel_core::admission::is_trust_list(&bytes) {
            return Err(ApiError::not_found(format!(
                "entry {index} is the trust list the log enforces, not a label"
            )));
        }
        match cose::decode_entry(&bytes) {
            Ok(Entry::Label { claim, .. }) => Ok((bytes, claim)),
            Ok(Entry::Status { .. }) => Err(ApiError::not_found(format!(
                "entry {index} is a status record, not a label"
            ))),
            Err(e) => Err(ApiError::internal(format!(
                "log entry {index} does not decode: {e}"
            ))),
        }
    }

    /// Appends an entry its issuer signed itself (a label or a status record, COSE bytes), as
    /// an issuing body that keeps its key off this server submits them. The log admits it only
    /// under its trust list (signature, issuer authorised for the scheme, the target's own
    /// issuer for a status record) and status rules; a label must carry the index it gets as
    /// its serial (the log's current size: on 409 re-sign with the new size).
    ///
    /// # Errors
    /// 403 (role/scope), 422 (not an entry, or refused by the trust list), 409 (serial or
    /// transition conflicts with the log), 503, 500.
    pub async fn submit_signed(
        &self,
        op: &TokenRecord,
        bytes: Vec<u8>,
        idem: Option<[u8; 32]>,
    ) -> Result<SubmittedEntry, ApiError> {
        if cyberlabel_core::admission::is_trust_list(&bytes) {
            return Err(ApiError::invalid_field(
                "entry",
                "trust lists are appended by the log's operator (configuration), not over the API",
            ));
        }
        let entry = cose::decode_entry(&bytes).map_err(|e| {
            ApiError::invalid_field("entry", format!("not a cyberlabel entry: {e}"))
        })?;
        let (kind, scheme) = match &entry {
            Entry::Label { claim, .. } => {
                require(op, Action::Issue)?;
                ("label", claim.scheme.clone())
            }
            Entry::Status { record, .. } => {
                require(op, Action::ChangeStatus)?;
                let (_, target) = self.label_at(record.target)?;
                ("status", target.scheme)
            }
        };
        if !op.covers_scheme(&scheme) {
            return Err(ApiError::forbidden(format!(
                "this token may not act on scheme {scheme}"
            )));
        }
        let leaf_hash = merkle::leaf_hash(&bytes);
        let a = self
            .ledger
            .append(Box::new(move |_| Ok(bytes)), idem)
            .await
            .map_err(ledger_error)?;
        Ok(SubmittedEntry {
            index: a.index,
            kind,
            leaf_hash: hex::encode(leaf_hash),
            replayed: a.replay,
        })
    }

    /// The view of label `index` against the latest checkpoint.
    ///
    /// # Errors
    /// 404 if `index` is not a label.
    pub fn label_view(&self, index: u64) -> Result<LabelView, ApiError> {
        let (bytes, claim) = self.label_at(index)?;
        let checkpoint = self.checkpoint()?;
        self.view(index, &bytes, &claim, &checkpoint, None, None)
    }

    fn view(
        &self,
        index: u64,
        bytes: &[u8],
        claim: &Claim,
        checkpoint: &str,
        known_state: Option<(State, u8)>,
        known_path: Option<Vec<merkle::Hash>>,
    ) -> Result<LabelView, ApiError> {
        let size = checkpoint_size(checkpoint)
            .ok_or_else(|| ApiError::internal("checkpoint without size"))?;
        let path = match known_path {
            Some(p) => p,
            None => self
                .ledger
                .inclusion_proof(index, size)
                .map_err(ApiError::internal)?,
        };
        let (state, reason) = match known_state {
            Some(s) => s,
            None => self.ledger.status(index).map_err(ApiError::internal)?,
        };
        let tlog_proof = TlogProof {
            extra: None,
            index,
            path: path.clone(),
            checkpoint: checkpoint.to_owned(),
        }
        .to_text();
        let bucket = TilePath {
            kind: TileKind::Hash(0),
            index: index / 256,
            width: 256,
        }
        .to_path();
        let bucket = bucket.trim_start_matches("tile/0/");
        let payload_url = payload::to_url(&self.verifier_url, bytes);
        Ok(LabelView {
            index,
            label: B64.encode(bytes),
            payload_url: payload_url.clone(),
            claim: self.claim_json(claim),
            status: status_json(state, reason, claim, now_unix()),
            inclusion_proof: json!({
                "index": index,
                "tree_size": size,
                "leaf_hash": B64.encode(merkle::leaf_hash(bytes)),
                "hashes": path.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
            }),
            checkpoint: checkpoint.to_owned(),
            tlog_proof,
            links: json!({
                "self": format!("/labels/{index}"),
                "qr_png": format!("/labels/{index}/qr.png"),
                "qr_svg": format!("/labels/{index}/qr.svg"),
                "artwork_png": format!("/labels/{index}/artwork.png"),
                "artwork_svg": format!("/labels/{index}/artwork.svg"),
                "status_proof": format!("/status/{bucket}"),
                "checkpoint": "/checkpoint",
                "verifier": payload_url,
            }),
            record_index: None,
        })
    }

    fn claim_json(&self, c: &Claim) -> Value {
        let scheme = self.catalog.scheme(&c.scheme, c.catalog_version);
        let level_name = self.catalog.level_of(c).map(|(_, l)| l.name.clone());
        let provisions: Vec<String> = c
            .provisions
            .iter()
            .map(|i| {
                scheme
                    .and_then(|s| s.provision(i))
                    .map_or_else(|| format!("#{i}"), |p| p.id.clone())
            })
            .collect();
        let (assessment, lab) = match &c.assessment {
            Assessment::SelfDeclared => ("self_declared", None),
            Assessment::ThirdParty { lab } => ("third_party", Some(lab.clone())),
            #[allow(unreachable_patterns)]
            _ => ("unknown", None),
        };
        json!({
            "scheme": c.scheme,
            "catalog_version": c.catalog_version,
            "level": c.level,
            "level_name": level_name,
            "manufacturer": c.manufacturer,
            "product": c.product,
            "hardware_versions": c.hardware_versions,
            "firmware_versions": c.firmware_versions,
            "category": c.category,
            "category_name": self.catalog.category(c.category).map(|x| x.name.clone()),
            "issued_at": c.issued_at,
            "expires_at": c.expires_at,
            "support_end": c.support_end,
            // Whole days as the label states them (FORMATS.md §1), as the CLI and the verifier
            // page show them: issue day, last valid day, last day of security updates (UTC).
            "issued_on": cyberlabel_issuer::dates::format_date(c.issued_at),
            "valid_through": cyberlabel_issuer::dates::format_date(c.expires_at.saturating_sub(1)),
            "support_until": cyberlabel_issuer::dates::format_date(c.support_end),
            "provisions": provisions,
            "assessment": assessment,
            "lab": lab,
            "serial": c.serial,
            "supersedes": c.supersedes,
        })
    }

    /// A label image.
    ///
    /// # Errors
    /// 404 if `index` is not a label.
    pub fn image(&self, index: u64, kind: ImageKind) -> Result<(Vec<u8>, &'static str), ApiError> {
        let (bytes, _) = self.label_at(index)?;
        let opts = RenderOptions {
            verifier_url: &self.verifier_url,
            cl1: false,
            module_px: 8,
        };
        let r = mint::render(&bytes, &self.catalog, &opts).map_err(ApiError::internal)?;
        Ok(match kind {
            ImageKind::QrPng => (r.qr_png, "image/png"),
            ImageKind::QrSvg => (r.qr_svg.into_bytes(), "image/svg+xml"),
            ImageKind::ArtworkPng => (r.artwork.png, "image/png"),
            ImageKind::ArtworkSvg => (r.artwork.svg.into_bytes(), "image/svg+xml"),
        })
    }

    /// Parses and validates one product description into an unsigned claim (serial 0).
    fn prepare(&self, op: &TokenRecord, item: Value, now: u64) -> Result<Claim, ApiError> {
        let desc: ProductDescription =
            serde_json::from_value(item).map_err(|e| crate::routes::json_error(&e))?;
        // Scope first: a token learns nothing about schemes it may not act on.
        if !op.covers_scheme(desc.scheme.trim()) {
            return Err(ApiError::forbidden(format!(
                "this token may not act on scheme {}",
                desc.scheme.trim()
            )));
        }
        // Only renew may supersede: it checks the old label's scheme against the token's scope
        // and its state. A client-chosen `supersedes` would let any issuer mark any label
        // superseded.
        if desc.supersedes.is_some() {
            return Err(ApiError::invalid_field(
                "supersedes",
                "supersedes is set by the server only: use POST /labels/{index}/renew",
            ));
        }
        // The issue date is the server's today (UTC): a client-chosen date could backdate a
        // label into the validity window of an older issuer key.
        if let Some(d) = &desc.issued_at {
            let today = now - now % DAY;
            let day = cyberlabel_issuer::dates::parse_date(d)
                .map_err(|e| ApiError::invalid_field("issued_at", format!("issued_at: {e}")))?;
            if day != today {
                return Err(ApiError::invalid_field(
                    "issued_at",
                    format!(
                        "issued_at must be today ({}) or omitted",
                        cyberlabel_issuer::dates::format_date(today)
                    ),
                ));
            }
        }
        let claim =
            mint::claim_from_description(&desc, &self.catalog, 0, now).map_err(mint_error)?;
        validate(&self.catalog, &claim)?;
        Ok(claim)
    }

    fn builder(&self, claim: Claim) -> Builder {
        self.recording_builder(claim, None)
    }

    /// A builder that signs the claim with its index as serial, and leaves a copy of the signed
    /// bytes in `out` (so the response needs no entry read).
    fn recording_builder(&self, claim: Claim, out: Option<SignedSlot>) -> Builder {
        let key = self.issuer_key.clone();
        Box::new(move |index| {
            let mut claim = claim;
            claim.serial = index;
            let bytes = cose::sign_label(&claim, &key);
            if let Some(Ok(mut slot)) = out.as_ref().map(|o| o.lock()) {
                *slot = Some(bytes.clone());
            }
            Ok(bytes)
        })
    }

    fn observe(&self, started: Instant, a: &Appended) {
        self.metrics
            .commit_latency
            .observe(started.elapsed().as_secs_f64());
        if !a.replay {
            self.metrics
                .tree_size
                .fetch_max(a.index + 1, Ordering::Relaxed);
        }
    }

    /// Mints one label.
    ///
    /// # Errors
    /// 403 (role/scope), 400/422 (validation), 503 (log closed), 500.
    pub async fn mint(
        &self,
        op: &TokenRecord,
        item: Value,
        idem: Option<[u8; 32]>,
    ) -> Result<LabelView, ApiError> {
        require(op, Action::Issue)?;
        let mut claim = self.prepare(op, item, now_unix())?;
        let out: SignedSlot = Arc::new(Mutex::new(None));
        let started = Instant::now();
        let a = self
            .ledger
            .append(
                self.recording_builder(claim.clone(), Some(out.clone())),
                idem,
            )
            .await
            .map_err(ledger_error)?;
        self.observe(started, &a);
        if a.replay {
            return self.label_view(a.index);
        }
        self.metrics.labels_issued.fetch_add(1, Ordering::Relaxed);
        if a.batch > 0 {
            self.metrics.batch_size.observe(a.batch as f64);
        }
        match out.lock().ok().and_then(|mut o| o.take()) {
            Some(bytes) => {
                // Just appended, so active: no entry or status read needed.
                claim.serial = a.index;
                let checkpoint = self.checkpoint()?;
                self.view(
                    a.index,
                    &bytes,
                    &claim,
                    &checkpoint,
                    Some((State::Active, 0)),
                    None,
                )
            }
            None => self.label_view(a.index),
        }
    }

    /// Mints many: items that fail validation are rejected with their reason, the others are
    /// appended in one go. One result per item, in order.
    pub async fn mint_bulk(
        &self,
        op: &TokenRecord,
        items: Vec<crate::routes::BulkItem>,
        idem: Option<[u8; 32]>,
    ) -> Vec<Result<LabelView, ApiError>> {
        if let Err(e) = require(op, Action::Issue) {
            return items.into_iter().map(|_| Err(e.clone())).collect();
        }
        let now = now_unix();
        // `None` = accepted, to be filled in after the append (no placeholder error: an
        // `ApiError::internal` would log an error per accepted item).
        let mut results: Vec<Option<Result<LabelView, ApiError>>> = Vec::with_capacity(items.len());
        let mut pending = Vec::new();
        // (result slot, the claim, where the builder leaves the signed bytes)
        let mut slots: Vec<(usize, Claim, SignedSlot)> = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            match item.and_then(|v| self.prepare(op, v, now)) {
                Ok(claim) => {
                    let out: SignedSlot = Arc::new(Mutex::new(None));
                    let build = self.recording_builder(claim.clone(), Some(out.clone()));
                    pending.push((build, idem.map(|k| crate::routes::item_key(&k, i))));
                    slots.push((i, claim, out));
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        if pending.is_empty() {
            return results.into_iter().flatten().collect();
        }
        let started = Instant::now();
        let appended = self.ledger.append_batch(pending).await;
        let checkpoint = match self.checkpoint() {
            Ok(c) => c,
            Err(e) => {
                for (slot, ..) in slots {
                    results[slot] = Some(Err(e.clone()));
                }
                return results.into_iter().flatten().collect();
            }
        };
        let size = checkpoint_size(&checkpoint).unwrap_or(0);
        // Consecutive labels share most of their proof tiles: fetch each tile once.
        let mut tiles = TileCache::default();
        let mut fresh = 0u64;
        for ((slot, mut claim, out), r) in slots.into_iter().zip(appended) {
            results[slot] = Some(match r {
                Ok(a) => {
                    self.observe(started, &a);
                    fresh += u64::from(!a.replay);
                    if a.batch > 0 {
                        self.metrics.batch_size.observe(a.batch as f64);
                    }
                    let signed = out.lock().ok().and_then(|mut o| o.take());
                    let path = tiles.inclusion_proof(&self.ledger, a.index, size);
                    match (signed, a.replay) {
                        // A label just appended is active: no status read, no entry read.
                        (Some(bytes), false) => {
                            claim.serial = a.index;
                            path.and_then(|p| {
                                self.view(
                                    a.index,
                                    &bytes,
                                    &claim,
                                    &checkpoint,
                                    Some((State::Active, 0)),
                                    Some(p),
                                )
                            })
                        }
                        _ => self.label_at(a.index).and_then(|(b, c)| {
                            self.view(a.index, &b, &c, &checkpoint, None, path.ok())
                        }),
                    }
                }
                Err(e) => Err(ledger_error(e)),
            });
        }
        if fresh > 0 {
            self.metrics
                .labels_issued
                .fetch_add(fresh, Ordering::Relaxed);
        }
        // Every slot is filled: the log answers once per pending item. Should it ever answer
        // fewer, the missing items are reported as errors rather than silently dropped.
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(ApiError::internal("bulk item without a result"))))
            .collect()
    }

    /// Renews a label: a new label for new firmware with `supersedes` = `index`.
    ///
    /// # Errors
    /// As [`Service::mint`], plus 404 (not a label) and 409 (revoked or already superseded).
    pub async fn renew(
        &self,
        op: &TokenRecord,
        index: u64,
        req: RenewRequest,
        idem: Option<[u8; 32]>,
    ) -> Result<LabelView, ApiError> {
        require(op, Action::Issue)?;
        let (_, old) = self.label_at(index)?;
        if !op.covers_scheme(&old.scheme) {
            return Err(ApiError::forbidden(format!(
                "this token may not act on scheme {}",
                old.scheme
            )));
        }
        let now = now_unix();
        let mut claim = old.clone();
        claim.firmware_versions = req.firmware_versions.trim().to_owned();
        if let Some(h) = req.hardware_versions {
            claim.hardware_versions = h.trim().to_owned();
        }
        // Claims carry whole days (FORMATS §1): issued today 00:00 UTC.
        claim.issued_at = now - now % DAY;
        let date = |field: &'static str, d: &str| {
            cyberlabel_issuer::dates::parse_date(d)
                .map_err(|e| ApiError::invalid_field(field, format!("{field}: {e}")))
        };
        if let Some(s) = &req.support_until {
            // the last day of support, to 23:59:59 UTC (as in product descriptions)
            claim.support_end = date("support_until", s)? + DAY - 1;
        }
        claim.expires_at = match &req.expires_at {
            Some(e) => date("expires_at", e)?,
            None => {
                // Same validity length as the old label, ending no later than the first moment
                // after support when the scheme ties validity to support (as minting does).
                let e = claim
                    .issued_at
                    .checked_add(old.expires_at.saturating_sub(old.issued_at))
                    .ok_or_else(|| {
                        ApiError::invalid_field(
                            "expires_at",
                            "the old label's validity cannot be carried over: give expires_at",
                        )
                    })?;
                let tied = self
                    .catalog
                    .latest(&claim.scheme)
                    .is_some_and(|s| s.validity.tied_to_support);
                if tied {
                    e.min(claim.support_end + 1)
                } else {
                    e
                }
            }
        };
        claim.supersedes = Some(index);
        // Placeholder serial for validation (the log assigns the real one, necessarily later).
        claim.serial = index + 1;
        if let Some(latest) = self.catalog.latest(&claim.scheme) {
            claim.catalog_version = latest.version;
        }
        validate(&self.catalog, &claim)?;
        let _guard = self.status_lock.lock().await;
        // An idempotent replay is checked by the log before the state: a retried renew whose
        // first attempt superseded the label must still return that first result.
        let (state, _) = self.ledger.status(index).map_err(ApiError::internal)?;
        if idem.is_none() && !cyberlabel_core::status::can_supersede(state) {
            return Err(ApiError::conflict(format!(
                "label {index} is {} and cannot be renewed",
                state_name(state)
            )));
        }
        let started = Instant::now();
        let a = self
            .ledger
            .append(self.builder(claim), idem)
            .await
            .map_err(ledger_error)?;
        self.observe(started, &a);
        if !a.replay {
            self.metrics.labels_issued.fetch_add(1, Ordering::Relaxed);
            if a.batch > 0 {
                self.metrics.batch_size.observe(a.batch as f64);
            }
        }
        self.label_view(a.index)
    }

    /// Suspends, reinstates or revokes a label (a status record signed by the issuer).
    ///
    /// # Errors
    /// 403 (role/scope), 404 (not a label), 409 (illegal transition or foreign issuer),
    /// 422 (unknown reason).
    pub async fn change_status(
        &self,
        op: &TokenRecord,
        index: u64,
        action: StatusAction,
        req: StatusRequest,
        idem: Option<[u8; 32]>,
    ) -> Result<LabelView, ApiError> {
        require(op, Action::ChangeStatus)?;
        let reason = parse_reason(req.reason.as_ref(), action)?;
        let (bytes, claim) = self.label_at(index)?;
        if !op.covers_scheme(&claim.scheme) {
            return Err(ApiError::forbidden(format!(
                "this token may not act on scheme {}",
                claim.scheme
            )));
        }
        let kid = cose::decode_entry(&bytes)
            .map(|e| e.kid())
            .map_err(ApiError::internal)?;
        if kid != self.issuer_kid {
            return Err(ApiError::conflict(
                "label was signed by another issuer key; this server cannot sign its status records",
            ));
        }
        let _guard = self.status_lock.lock().await;
        let (state, _) = self.ledger.status(index).map_err(ApiError::internal)?;
        let core_action = cyberlabel_core::status::StatusAction::from_code(action as u64)
            .ok_or_else(|| ApiError::internal("action"))?;
        if idem.is_none()
            && let Err(e) = cyberlabel_core::status::apply_action(state, core_action)
        {
            return Err(ApiError::conflict(format!(
                "cannot {} label {index}: it is {} ({e})",
                action.as_str(),
                state_name(state)
            )));
        }
        let record = StatusRecord {
            action,
            target: index,
            reason,
            time: now_unix(),
            target_leaf_hash: merkle::leaf_hash(&bytes),
        };
        let key = self.issuer_key.clone();
        let started = Instant::now();
        let a = self
            .ledger
            .append(
                Box::new(move |_| Ok(cose::sign_status(&record, &key))),
                idem,
            )
            .await
            .map_err(ledger_error)?;
        self.observe(started, &a);
        if !a.replay {
            let slot = match action {
                StatusAction::Suspend => 0,
                StatusAction::Reinstate => 1,
                _ => 2,
            };
            self.metrics.status_changes[slot].fetch_add(1, Ordering::Relaxed);
            if a.batch > 0 {
                self.metrics.batch_size.observe(a.batch as f64);
            }
        }
        let mut view = self.label_view(index)?;
        view.record_index = Some(a.index);
        Ok(view)
    }

    /// Appends waiting in the log's sequencer for their batch to commit.
    pub fn appends_pending(&self) -> u64 {
        self.ledger.pending()
    }

    /// Stops the log after committing or rejecting pending appends.
    pub async fn close(&self) {
        self.ledger.close().await;
    }
}

fn require(op: &TokenRecord, action: Action) -> Result<(), ApiError> {
    if op.role.allows(action) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "role {} may not {}",
            op.role,
            match action {
                Action::Issue => "issue labels",
                Action::ChangeStatus => "change label status",
            }
        )))
    }
}

/// Catalog and wire-format validation, plus date order, as 422 naming the field.
fn validate(catalog: &Catalog, claim: &Claim) -> Result<(), ApiError> {
    if claim.expires_at <= claim.issued_at {
        return Err(ApiError::invalid_field(
            "expires_at",
            "expires_at must be after issued_at",
        ));
    }
    catalog.validate_claim(claim).map_err(|e: CatalogError| {
        let field = e.field().map_or("claim", |f| f.name());
        ApiError::invalid_field(field, e.to_string())
    })
}

fn mint_error(e: MintError) -> ApiError {
    let field = match &e {
        MintError::UnknownScheme(..) => "scheme",
        MintError::UnknownLevel(..) => "level",
        MintError::UnknownCategory(..) => "category",
        MintError::UnknownProvision(..) => "provisions",
        MintError::LabMismatch => "lab",
        MintError::Date(f, _) => f,
        MintError::Catalog(c) => c.field().map_or("claim", |f| f.name()),
        _ => "product",
    };
    ApiError::invalid_field(field, e.to_string())
}

fn ledger_error(e: LedgerError) -> ApiError {
    use cyberlabel_core::status::EffectError as E;
    match e {
        // Not authorised by the trust list the log enforces, or not a valid entry: the request
        // itself is wrong, whatever the log's state.
        LedgerError::Rejected(
            e @ (E::InvalidEntry(_)
            | E::NoTrustList
            | E::UnknownIssuerKey
            | E::NotAuthorisedForScheme
            | E::KeyNotValidAtIssuance
            | E::KeyRetired
            | E::KeyCompromised
            | E::BadSignature
            | E::BadTrustList(_)
            | E::TrustListRollback { .. }),
        ) => ApiError::invalid_field("entry", format!("refused by the log: {e}")),
        // Conflicts with the log's current state (serial, target, transition).
        LedgerError::Rejected(e) => ApiError::conflict(e.to_string()),
        LedgerError::Invalid(m) => ApiError::invalid_field("entry", m),
        LedgerError::Closed => {
            ApiError::unavailable("the log is shutting down; retry with the same Idempotency-Key")
        }
        LedgerError::Storage(m) => ApiError::internal(m),
    }
}

fn parse_reason(v: Option<&Value>, action: StatusAction) -> Result<ReasonCode, ApiError> {
    let bad = || {
        ApiError::invalid_field(
            "reason",
            "reason must be a reason code 0–14 or its name (docs/FORMATS.md §2)",
        )
    };
    match v {
        None | Some(Value::Null) => Ok(match action {
            StatusAction::Suspend => ReasonCode::from_u8(12),
            StatusAction::Reinstate => ReasonCode::from_u8(13),
            _ => ReasonCode::from_u8(0),
        }
        .ok_or_else(bad)?),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .and_then(ReasonCode::from_u8)
            .ok_or_else(bad),
        Some(Value::String(s)) => ReasonCode::from_name(s).ok_or_else(bad),
        Some(_) => Err(bad()),
    }
}

fn state_name(s: State) -> &'static str {
    match s {
        State::None => "not a label",
        State::Active => "active",
        State::Suspended => "suspended",
        State::Revoked => "revoked",
        State::Superseded => "superseded",
    }
}

fn status_json(state: State, reason: u8, claim: &Claim, now: u64) -> Value {
    let name = if state == State::Active && now > claim.expires_at {
        "expired"
    } else {
        state_name(state)
    };
    json!({
        "state": name,
        "reason": reason,
        "reason_name": ReasonCode::from_u8(reason).map(ReasonCode::as_str),
    })
}

/// The tree size on a checkpoint's second line.
pub fn checkpoint_size(checkpoint: &str) -> Option<u64> {
    checkpoint.lines().nth(1)?.parse().ok()
}

/// Where an entry builder leaves the bytes it signed (so bulk views need no entry read).
type SignedSlot = Arc<Mutex<Option<Vec<u8>>>>;

/// Tiles fetched once for many inclusion proofs against the same tree size.
#[derive(Default)]
struct TileCache {
    set: TileSet,
    have: HashSet<TilePath>,
    nodes: HashMap<merkle::NodeId, merkle::Hash>,
}

impl TileCache {
    fn inclusion_proof(
        &mut self,
        ledger: &Ledger,
        index: u64,
        size: u64,
    ) -> Result<Vec<merkle::Hash>, ApiError> {
        for t in tiles::tiles_for_inclusion(index, size).map_err(ApiError::internal)? {
            if self.have.insert(t) {
                let bytes = ledger
                    .tile(&t)
                    .map_err(ApiError::internal)?
                    .ok_or_else(|| ApiError::internal(format!("missing tile {}", t.to_path())))?;
                self.set.insert(t, bytes).map_err(ApiError::internal)?;
            }
        }
        // Memoised over the whole request: consecutive labels share their proof nodes, so each
        // node is hashed once instead of being re-folded from its tile for every label.
        merkle::inclusion_proof::<tiles::TileError>(index, size, |id| self.node(id, size))
            .map_err(ApiError::internal)
    }

    fn node(&mut self, id: merkle::NodeId, size: u64) -> Result<merkle::Hash, tiles::TileError> {
        if let Some(h) = self.nodes.get(&id) {
            return Ok(*h);
        }
        let h = if id.level.is_multiple_of(8) {
            // stored in a tile as is
            self.set.node(id, size)?
        } else {
            let child = |index| merkle::NodeId {
                level: id.level - 1,
                index,
            };
            let l = self.node(child(2 * id.index), size)?;
            let r = self.node(child(2 * id.index + 1), size)?;
            merkle::node_hash(&l, &r)
        };
        self.nodes.insert(id, h);
        Ok(h)
    }
}
