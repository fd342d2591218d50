//! The issuing service behind the HTTP handlers: validation, signing, log submission, and the
//! views returned to clients. It knows nothing of HTTP: it returns [`ServiceError`], which the
//! HTTP layer (`crate::error`) maps to status codes. Ties `cyberlabel-issuer` (keys, minting, artwork) to the log
//! (through [`crate::ledger`]).
//!
//! Minting validates the product description against the catalog *before* anything is
//! submitted (errors name the field, nothing is appended); the claim's serial is its log index,
//! so the label is signed inside the log's entry builder, once the index is known. Status
//! changes are signed by the issuer as status records (FORMATS §2) and serialised with a lock
//! so the state check and the append cannot interleave; the log re-checks the transition when
//! sequencing.
//!
//! Layout: `bootstrap` (start-up: keys, the trust list the log enforces, the demo list),
//! `issue` (mint, bulk, renew, signed entries), `status_change` (suspend, reinstate, revoke),
//! this module (the read side and the views); caches live in `crate::cache`.

use std::sync::Arc;

use axum::body::Bytes;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cyberlabel_core::catalog::Catalog;
use cyberlabel_core::claim::Claim;
use cyberlabel_core::cose::{self, Entry, KeyId};
use cyberlabel_core::merkle;
use cyberlabel_core::payload;
use cyberlabel_core::status::State;
use cyberlabel_core::tiles::{TileKind, TilePath};
use cyberlabel_core::tlog_proof::TlogProof;
use cyberlabel_issuer::mint::{self, RenderOptions};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cache::{FullTiles, ImageCache};
use crate::ledger::Ledger;
use crate::metrics::Metrics;
use crate::now_unix;

pub use cyberlabel_core::status::{ReasonCode, StatusAction};

mod bootstrap;
mod bulk;
mod error;
mod issue;
mod status_change;

pub use bootstrap::{LOG_FILE, StartError, log_identity};
pub(crate) use bulk::on_cores;
pub use bulk::{BulkEntry, BulkItem, BulkView, MintedView, item_key};
pub use error::ServiceError;
pub use issue::{json_error, json_object};

/// Which image of a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

impl ImageKind {
    /// The image's media type.
    pub fn content_type(self) -> &'static str {
        match self {
            ImageKind::QrPng | ImageKind::ArtworkPng => "image/png",
            ImageKind::QrSvg | ImageKind::ArtworkSvg => "image/svg+xml",
        }
    }
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
    /// The QR version (1..=40) of `payload_url` at error correction M, as the label's QR code
    /// is drawn (URL prefix in a byte segment, digits numeric): ≤ 10 for a typical label.
    pub qr_version: i16,
    /// The decoded claim, in the catalog's words (core's label view).
    pub claim: cyberlabel_core::view::LabelView,
    /// Current status: `{state, reason, reason_name}`; state is active, suspended, revoked,
    /// superseded or expired (computed from the dates).
    pub status: StatusView,
    /// RFC 6962 inclusion proof `{index, tree_size, leaf_hash, hashes}` against `checkpoint`.
    pub inclusion_proof: InclusionView,
    /// The signed checkpoint the proof is against (note text).
    pub checkpoint: String,
    /// C2SP tlog-proof bundle (`c2sp.org/tlog-proof@v1`) for offline verification.
    pub tlog_proof: String,
    /// Related URLs (relative to the server).
    pub links: LabelLinks,
    /// For status changes: the index of the status record entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_index: Option<u64>,
}

/// A label as bulk minting answers it with `view=compact`: enough to print and file the label
/// (its bytes, QR payload URL and version, status); the proofs are at `links.self`.
#[derive(Debug, Clone, Serialize)]
pub struct CompactLabelView {
    /// Log index (the label's serial).
    pub index: u64,
    /// The label (COSE_Sign1 bytes), standard base64.
    pub label: String,
    /// The QR payload URL (`<verifier_url>#<digits>`).
    pub payload_url: String,
    /// The QR version (1..=40) of `payload_url` at error correction M.
    pub qr_version: i16,
    /// Current status, as in [`LabelView`].
    pub status: StatusView,
    /// Where the full view and the images are.
    pub links: CompactLinks,
}

/// Links of a [`CompactLabelView`] (relative to the server).
#[derive(Debug, Clone, Serialize)]
pub struct CompactLinks {
    /// the full label view (claim, inclusion proof, checkpoint, tlog-proof)
    #[serde(rename = "self")]
    pub self_: String,
    /// QR code, PNG
    pub qr_png: String,
    /// artwork, PNG
    pub artwork_png: String,
}

/// A label's status in a [`LabelView`]. (Typed rather than a JSON tree: bulk responses hold
/// thousands; fields in the order the JSON always had.)
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    /// active, suspended, revoked, superseded, expired (or "not a label")
    pub state: &'static str,
    /// reason code (FORMATS §2)
    pub reason: u8,
    /// its name, if the code is known
    pub reason_name: Option<&'static str>,
}

/// A label's RFC 6962 inclusion proof in a [`LabelView`] (hashes and leaf hash in standard
/// base64).
#[derive(Debug, Clone, Serialize)]
pub struct InclusionView {
    /// the audit path, leaf to root
    pub hashes: Vec<String>,
    /// the label's index
    pub index: u64,
    /// its leaf hash
    pub leaf_hash: String,
    /// the tree size of the checkpoint the proof is against
    pub tree_size: u64,
}

/// A label's related URLs in a [`LabelView`], relative to the server except `verifier`.
#[derive(Debug, Clone, Serialize)]
pub struct LabelLinks {
    /// artwork, PNG
    pub artwork_png: String,
    /// artwork, SVG
    pub artwork_svg: String,
    /// the latest checkpoint
    pub checkpoint: &'static str,
    /// QR code, PNG
    pub qr_png: String,
    /// QR code, SVG
    pub qr_svg: String,
    /// the label itself
    #[serde(rename = "self")]
    pub self_: String,
    /// the status proof of its bucket
    pub status_proof: String,
    /// the verifier page with the label in its fragment (the QR payload URL)
    pub verifier: String,
}

/// The issuing service.
pub struct Service {
    ledger: Ledger,
    log_store: Arc<cyberlabel_log::RedbStore>,
    catalog: Catalog,
    issuer_key: Arc<SigningKey>,
    issuer_kid: KeyId,
    verifier_url: String,
    metrics: Arc<Metrics>,
    site_config: Vec<u8>,
    page_csp: String,
    trust_cose: Vec<u8>,
    trust_json: Vec<u8>,
    schemes_json: Vec<u8>,
    status_lock: tokio::sync::Mutex<()>,
    log_vkey: String,
    full_tiles: FullTiles,
    images: ImageCache,
}

impl Service {
    /// The log's store (the server also keeps its request bindings there).
    pub fn log_store(&self) -> &cyberlabel_log::RedbStore {
        &self.log_store
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

    /// The verifier page's Content-Security-Policy (connects to partner logs' read sides).
    pub fn page_csp(&self) -> &str {
        &self.page_csp
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
    pub fn checkpoint(&self) -> Result<String, ServiceError> {
        self.ledger.checkpoint().map_err(ServiceError::internal)
    }

    /// Tree size.
    ///
    /// # Errors
    /// Storage failures.
    pub fn tree_size(&self) -> Result<u64, ServiceError> {
        self.ledger.size().map_err(ServiceError::internal)
    }

    /// Why the log is not ready, in words for the health check (`None` when it is): its last
    /// write failed (full disk or another storage error; writes resume when the store takes a
    /// write again), a read found damaged bytes (never served; see the recovery notes in the
    /// README), or it stopped after a failure it cannot undo.
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] while shutting down.
    pub fn not_ready(&self) -> Result<Option<(&'static str, String)>, ServiceError> {
        let (h, stopped) = self
            .ledger
            .storage_health()
            .map_err(|_| ServiceError::unavailable("the log is shutting down"))?;
        Ok(if let Some(d) = h.damaged {
            Some(("damaged", format!("the log store is damaged: {d}")))
        } else if stopped {
            Some((
                "stopped",
                "the log stopped after a storage failure; restart the server".into(),
            ))
        } else if h.disk_full {
            Some((
                "disk_full",
                "the log's disk is full: writes are refused until space is freed".into(),
            ))
        } else {
            h.write_fault.map(|f| {
                (
                    "storage_failing",
                    format!("the log's last write failed: {f}"),
                )
            })
        })
    }

    /// A tile by its C2SP path (after `/tile/`); bool = partial.
    ///
    /// # Errors
    /// 404 for unknown or malformed paths.
    pub fn tile(&self, path: &str) -> Result<(Bytes, bool), ServiceError> {
        let tp = TilePath::parse(&format!("tile/{path}"))
            .map_err(|_| ServiceError::not_found("malformed tile path"))?;
        // Full tiles never change: serve them from memory after the first read.
        if let Some(b) = self.full_tiles.get(&tp) {
            return Ok((b, false));
        }
        let bytes = match self.ledger.tile(&tp).map_err(ServiceError::internal)? {
            Some(bytes) => Bytes::from(bytes),
            None => return Err(ServiceError::not_found("no such tile")),
        };
        self.full_tiles.insert(tp, &bytes);
        Ok((bytes, !tp.is_full()))
    }

    /// A status proof for the bucket at `path` (tile-path form, e.g. `000` or `x001/234`).
    ///
    /// # Errors
    /// 404 for unknown buckets.
    pub fn status_proof(&self, path: &str) -> Result<String, ServiceError> {
        let tp = TilePath::parse(&format!("tile/0/{path}"))
            .ok()
            .filter(TilePath::is_full)
            .ok_or_else(|| ServiceError::not_found("malformed bucket path"))?;
        self.ledger
            .status_proof(tp.index)
            .map_err(ServiceError::internal)?
            .ok_or_else(|| ServiceError::not_found("no such bucket"))
    }

    fn label_at(&self, index: u64) -> Result<(Vec<u8>, Claim), ServiceError> {
        let bytes = self
            .ledger
            .entry(index)
            .map_err(ServiceError::internal)?
            .ok_or_else(|| ServiceError::not_found(format!("no entry {index} in the log")))?;
        if cyberlabel_core::admission::is_trust_list(&bytes) {
            return Err(ServiceError::not_found(format!(
                "entry {index} is the trust list the log enforces, not a label"
            )));
        }
        match cose::decode_entry(&bytes) {
            Ok(Entry::Label { claim, .. }) => Ok((bytes, claim)),
            Ok(Entry::Status { .. }) => Err(ServiceError::not_found(format!(
                "entry {index} is a status record, not a label"
            ))),
            Err(e) => Err(ServiceError::internal(format!(
                "log entry {index} does not decode: {e}"
            ))),
        }
    }

    /// The QR payload URL of the entry at `index` (what its label's QR code holds), if the log
    /// has it.
    pub fn payload_url(&self, index: u64) -> Option<String> {
        let bytes = self.ledger.entry(index).ok().flatten()?;
        Some(payload::to_url(&self.verifier_url, &bytes))
    }

    /// The view of label `index` against the latest checkpoint.
    ///
    /// # Errors
    /// 404 if `index` is not a label.
    pub fn label_view(&self, index: u64) -> Result<LabelView, ServiceError> {
        let (bytes, claim) = self.label_at(index)?;
        let checkpoint = self.checkpoint()?;
        self.view(index, &bytes, &claim, &checkpoint, None, None)
    }

    /// The view of a label this request just appended: active, so no entry or status read.
    fn appended_view(
        &self,
        index: u64,
        bytes: &[u8],
        claim: &mut Claim,
        checkpoint: &str,
        known_path: Option<Vec<merkle::Hash>>,
    ) -> Result<LabelView, ServiceError> {
        claim.serial = index;
        let active = Some((State::Active, 0));
        self.view(index, bytes, claim, checkpoint, active, known_path)
    }

    fn view(
        &self,
        index: u64,
        bytes: &[u8],
        claim: &Claim,
        checkpoint: &str,
        known_state: Option<(State, u8)>,
        known_path: Option<Vec<merkle::Hash>>,
    ) -> Result<LabelView, ServiceError> {
        let size = checkpoint_size(checkpoint)
            .ok_or_else(|| ServiceError::internal("checkpoint without size"))?;
        let path = match known_path {
            Some(p) => p,
            None => self
                .ledger
                .inclusion_proof(index, size)
                .map_err(ServiceError::internal)?,
        };
        let (state, reason) = match known_state {
            Some(s) => s,
            None => self.ledger.status(index).map_err(ServiceError::internal)?,
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
        // A label is at most 1024 bytes: its digits always fit a version-40 code.
        let qr_version = cyberlabel_issuer::qr::version_for(&payload_url).unwrap_or(40);
        Ok(LabelView {
            index,
            label: B64.encode(bytes),
            payload_url: payload_url.clone(),
            qr_version,
            claim: cyberlabel_core::view::LabelView::of(claim, &self.catalog),
            status: status_view(state, reason, claim, now_unix()),
            inclusion_proof: InclusionView {
                hashes: path.iter().map(|h| B64.encode(h)).collect(),
                index,
                leaf_hash: B64.encode(merkle::leaf_hash(bytes)),
                tree_size: size,
            },
            checkpoint: checkpoint.to_owned(),
            tlog_proof,
            links: LabelLinks {
                artwork_png: format!("/labels/{index}/artwork.png"),
                artwork_svg: format!("/labels/{index}/artwork.svg"),
                checkpoint: "/checkpoint",
                qr_png: format!("/labels/{index}/qr.png"),
                qr_svg: format!("/labels/{index}/qr.svg"),
                self_: format!("/labels/{index}"),
                status_proof: format!("/status/{bucket}"),
                verifier: payload_url,
            },
            record_index: None,
        })
    }

    /// The compact view of a label (bulk minting's `view=compact`): what an issuing body prints
    /// from, without the proof material ([`LabelView`]'s claim view, inclusion proof,
    /// checkpoint and tlog-proof), which `GET /labels/{index}` serves at any time.
    fn compact_view(
        &self,
        index: u64,
        bytes: &[u8],
        claim: &Claim,
        known_state: Option<(State, u8)>,
    ) -> Result<CompactLabelView, ServiceError> {
        let (state, reason) = match known_state {
            Some(s) => s,
            None => self.ledger.status(index).map_err(ServiceError::internal)?,
        };
        let payload_url = payload::to_url(&self.verifier_url, bytes);
        let qr_version = cyberlabel_issuer::qr::version_for(&payload_url).unwrap_or(40);
        Ok(CompactLabelView {
            index,
            label: B64.encode(bytes),
            payload_url,
            qr_version,
            status: status_view(state, reason, claim, now_unix()),
            links: CompactLinks {
                self_: format!("/labels/{index}"),
                qr_png: format!("/labels/{index}/qr.png"),
                artwork_png: format!("/labels/{index}/artwork.png"),
            },
        })
    }

    /// A label image from the cache, counted as a hit; `None` (counted as nothing yet) when
    /// it has to be rendered with [`Service::image`].
    pub fn cached_image(&self, index: u64, kind: ImageKind) -> Option<(Bytes, &'static str)> {
        let bytes = self.images.get(&(index, kind))?;
        self.metrics.image_cache[0].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some((bytes, kind.content_type()))
    }

    /// A label image: from the cache, or rendered (CPU-bound, ~11 ms: call it off the async
    /// workers). One render draws all four images, so all four are cached.
    ///
    /// # Errors
    /// 404 if `index` is not a label.
    pub fn image(
        &self,
        index: u64,
        kind: ImageKind,
    ) -> Result<(Bytes, &'static str), ServiceError> {
        if let Some(hit) = self.cached_image(index, kind) {
            return Ok(hit);
        }
        let (bytes, _) = self.label_at(index)?;
        let opts = RenderOptions {
            verifier_url: &self.verifier_url,
            cl1: false,
            module_px: 8,
        };
        let r = mint::render(&bytes, &self.catalog, &opts).map_err(ServiceError::internal)?;
        self.metrics.image_cache[1].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut wanted = Bytes::new();
        for (k, b) in [
            (ImageKind::QrPng, r.qr_png),
            (ImageKind::QrSvg, r.qr_svg.into_bytes()),
            (ImageKind::ArtworkPng, r.artwork.png),
            (ImageKind::ArtworkSvg, r.artwork.svg.into_bytes()),
        ] {
            let b = Bytes::from(b);
            if k == kind {
                wanted = b.clone();
            }
            self.images.insert((index, k), b);
        }
        Ok((wanted, kind.content_type()))
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

fn state_name(s: State) -> &'static str {
    match s {
        State::None => "not a label",
        s => s.name(),
    }
}

fn status_view(state: State, reason: u8, claim: &Claim, now: u64) -> StatusView {
    let name = if state == State::Active && claim.expired_at(now) {
        "expired"
    } else {
        state_name(state)
    };
    StatusView {
        state: name,
        reason,
        reason_name: ReasonCode::from_u8(reason).map(ReasonCode::as_str),
    }
}

/// The tree size on a checkpoint's second line.
pub fn checkpoint_size(checkpoint: &str) -> Option<u64> {
    cyberlabel_core::checkpoint::size_of(checkpoint)
}
