//! The issuing service behind the HTTP handlers: validation, signing, log submission, and the
//! views returned to clients. Ties `cyberlabel-issuer` (keys, minting, artwork) to
//! `cyberlabel-log` (sequencer, proofs, tiles, status map).

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use cyberlabel_core::cose::{ReasonCode, StatusAction};

use crate::auth::TokenRecord;
use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::Metrics;

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
        "{0} is an EXAMPLE key from keys-example/ and is refused outside demo mode (generate your own with `cyberlabel keygen`, or run with --demo)"
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
    /// New expiry (Unix seconds); default: same validity length as the old label.
    #[serde(default)]
    pub expires_at: Option<u64>,
    /// New end of security support (Unix seconds); default: unchanged.
    #[serde(default)]
    pub support_end: Option<u64>,
}

/// Body of `POST /labels/{index}/suspend|reinstate|revoke`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// Reason code (FORMATS §2): a number 0–14 or its name (e.g. `unremediated_vulnerability`).
    #[serde(default)]
    pub reason: Option<serde_json::Value>,
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
    pub claim: serde_json::Value,
    /// Current status.
    pub status: serde_json::Value,
    /// RFC 6962 inclusion proof against `checkpoint`.
    pub inclusion_proof: serde_json::Value,
    /// The signed checkpoint the proof is against (note text).
    pub checkpoint: String,
    /// C2SP tlog-proof bundle text.
    pub tlog_proof: String,
    /// Related URLs.
    pub links: serde_json::Value,
}

/// The issuing service.
pub struct Service {
    #[allow(dead_code)]
    metrics: Arc<Metrics>,
    site_config: Vec<u8>,
}

fn unwired() -> ApiError {
    ApiError::unavailable("log not wired yet")
}

impl Service {
    /// Loads keys and starts the log.
    ///
    /// # Errors
    /// See [`StartError`].
    pub fn open(config: &Config, _db: sled::Db, metrics: Arc<Metrics>) -> Result<Self, StartError> {
        let site_config = serde_json::to_vec(&serde_json::json!({
            "trust_anchor": "",
            "origin": config.origin,
            "verifier_url": config.verifier_url(),
        }))
        .map_err(|e| StartError::Other(e.to_string()))?;
        Ok(Self {
            metrics,
            site_config,
        })
    }

    /// `/assets/config.json` bytes.
    pub fn site_config(&self) -> &[u8] {
        &self.site_config
    }
    /// Current signed checkpoint.
    ///
    /// # Errors
    /// Storage failures.
    pub fn checkpoint(&self) -> Result<String, ApiError> {
        Err(unwired())
    }
    /// A tile by its C2SP path (after `/tile/`); bool = partial.
    ///
    /// # Errors
    /// 404 for unknown or malformed paths.
    pub fn tile(&self, _path: &str) -> Result<(Vec<u8>, bool), ApiError> {
        Err(unwired())
    }
    /// A status proof for the bucket at `path` (tile-path form).
    ///
    /// # Errors
    /// 404 for unknown buckets.
    pub fn status_proof(&self, _path: &str) -> Result<String, ApiError> {
        Err(unwired())
    }
    /// The view of label `index`.
    ///
    /// # Errors
    /// 404 if `index` is not a label.
    pub fn label_view(&self, _index: u64) -> Result<LabelView, ApiError> {
        Err(unwired())
    }
    /// A label image.
    ///
    /// # Errors
    /// 404 if `index` is not a label.
    pub fn image(
        &self,
        _index: u64,
        _kind: ImageKind,
    ) -> Result<(Vec<u8>, &'static str), ApiError> {
        Err(unwired())
    }
    /// Signed trust list.
    pub fn trust_list_cose(&self) -> &[u8] {
        &[]
    }
    /// Trust list JSON.
    pub fn trust_list_json(&self) -> &[u8] {
        b"{}"
    }
    /// Scheme catalog JSON.
    pub fn schemes_json(&self) -> &[u8] {
        b"[]"
    }
    /// Tree size.
    ///
    /// # Errors
    /// Storage failures.
    pub fn tree_size(&self) -> Result<u64, ApiError> {
        Ok(0)
    }
    /// Mints one label.
    ///
    /// # Errors
    /// Validation (400/422), scope (403), log failures.
    pub async fn mint(
        &self,
        _op: &TokenRecord,
        _item: serde_json::Value,
        _idem: Option<[u8; 32]>,
    ) -> Result<LabelView, ApiError> {
        Err(unwired())
    }
    /// Mints many; one result per item.
    pub async fn mint_bulk(
        &self,
        _op: &TokenRecord,
        items: Vec<crate::routes::BulkItem>,
        _idem: Option<[u8; 32]>,
    ) -> Vec<Result<LabelView, ApiError>> {
        items.into_iter().map(|_| Err(unwired())).collect()
    }
    /// Renews a label.
    ///
    /// # Errors
    /// As [`Service::mint`], plus 404/409.
    pub async fn renew(
        &self,
        _op: &TokenRecord,
        _index: u64,
        _req: RenewRequest,
        _idem: Option<[u8; 32]>,
    ) -> Result<LabelView, ApiError> {
        Err(unwired())
    }
    /// Suspends, reinstates or revokes a label.
    ///
    /// # Errors
    /// 404/409/403/422.
    pub async fn change_status(
        &self,
        _op: &TokenRecord,
        _index: u64,
        _action: StatusAction,
        _req: StatusRequest,
        _idem: Option<[u8; 32]>,
    ) -> Result<LabelView, ApiError> {
        Err(unwired())
    }
    /// Stops the log after committing or rejecting pending appends.
    pub async fn close(&self) {}
}
