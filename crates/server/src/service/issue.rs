//! Issuance: minting (single and bulk), renewal, and entries an issuing body signed itself.
//! Every product description is validated against the catalog before anything is submitted
//! (errors name the field, nothing is appended); the label is signed inside the log's entry
//! builder once its index (= serial) is known.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cyberlabel_core::catalog::{Catalog, CatalogError};
use cyberlabel_core::claim::Claim;
use cyberlabel_core::cose::{self, Entry};
use cyberlabel_core::dates::DAY;
use cyberlabel_core::merkle;
use cyberlabel_core::status::State;
use cyberlabel_issuer::mint::{self, MintError};
use cyberlabel_issuer::product::ProductDescription;
use serde_json::Value;

use crate::auth::{Action, TokenRecord};
use crate::ledger::{Appended, Builder, LedgerError};
use crate::now_unix;

use super::{LabelView, RenewRequest, Service, ServiceError, SubmittedEntry, state_name};

/// Where an entry builder leaves the bytes it signed (so bulk views need no entry read).
pub(super) type SignedSlot = Arc<Mutex<Option<Vec<u8>>>>;

/// A request body that must be one JSON object, parsed into `T`. serde would also fill a
/// struct from a JSON array by position (`[8]` as a reason): a body must name its fields.
///
/// # Errors
/// 400 when the body is not a JSON object or does not parse (naming the field serde names).
pub fn json_object<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ServiceError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ServiceError::bad_request(
            None,
            "malformed request: the body must be a JSON object with named fields",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| json_error(&e))
}

/// A serde_json error as a malformed request, naming the field when serde names it.
#[must_use]
pub fn json_error(e: &serde_json::Error) -> ServiceError {
    let msg = e.to_string();
    let field = msg
        .split('`')
        .nth(1)
        .filter(|_| msg.starts_with("missing field") || msg.starts_with("unknown field"))
        .map(str::to_owned);
    ServiceError::bad_request(field.as_deref(), format!("malformed request: {msg}"))
}

impl Service {
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
    ) -> Result<SubmittedEntry, ServiceError> {
        if cyberlabel_core::admission::is_trust_list(&bytes) {
            return Err(ServiceError::invalid_field(
                "entry",
                "trust lists are appended by the log's operator (configuration), not over the API",
            ));
        }
        let entry = cose::decode_entry(&bytes).map_err(|e| {
            ServiceError::invalid_field("entry", format!("not a cyberlabel entry: {e}"))
        })?;
        let (kind, scheme) = match &entry {
            Entry::Label { claim, .. } => {
                require(op, Action::Issue)?;
                // The same policy as renew: a signed renewal must not lift a suspension.
                if let Some(old) = claim.supersedes {
                    let (state, _) = self.ledger.status(old).map_err(ServiceError::internal)?;
                    if state == State::Suspended {
                        return Err(suspended_renewal(old));
                    }
                }
                ("label", claim.scheme.clone())
            }
            Entry::Status { record, .. } => {
                require(op, Action::ChangeStatus)?;
                let (_, target) = self.label_at(record.target)?;
                ("status", target.scheme)
            }
        };
        if !op.covers_scheme(&scheme) {
            return Err(ServiceError::forbidden(format!(
                "this token may not act on scheme {scheme}"
            )));
        }
        let leaf_hash = merkle::leaf_hash(&bytes);
        let a = self
            .ledger
            .append_entry(bytes, idem)
            .await
            .map_err(ledger_error)?;
        Ok(SubmittedEntry {
            index: a.index,
            kind,
            leaf_hash: hex::encode(leaf_hash),
            replayed: a.replay,
        })
    }

    /// Parses and validates one product description into an unsigned claim (serial 0).
    pub(super) fn prepare(
        &self,
        op: &TokenRecord,
        item: Value,
        now: u64,
    ) -> Result<Claim, ServiceError> {
        if !item.is_object() {
            return Err(ServiceError::bad_request(
                None,
                "malformed request: a product description must be a JSON object with named fields",
            ));
        }
        let desc: ProductDescription = serde_json::from_value(item).map_err(|e| json_error(&e))?;
        // Scope first: a token learns nothing about schemes it may not act on.
        if !op.covers_scheme(desc.scheme.trim()) {
            return Err(ServiceError::forbidden(format!(
                "this token may not act on scheme {}",
                desc.scheme.trim()
            )));
        }
        // Only renew may supersede: it checks the old label's scheme against the token's scope
        // and its state. A client-chosen `supersedes` would let any issuer mark any label
        // superseded.
        if desc.supersedes.is_some() {
            return Err(ServiceError::invalid_field(
                "supersedes",
                "supersedes is set by the server only: use POST /labels/{index}/renew",
            ));
        }
        // The issue date is the server's today (UTC): a client-chosen date could backdate a
        // label into the validity window of an older issuer key.
        if let Some(d) = &desc.issued_at {
            let today = now - now % DAY;
            let day = cyberlabel_issuer::dates::parse_date(d)
                .map_err(|e| ServiceError::invalid_field("issued_at", format!("issued_at: {e}")))?;
            if day != today {
                return Err(ServiceError::invalid_field(
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
    pub(super) fn recording_builder(&self, claim: Claim, out: Option<SignedSlot>) -> Builder {
        let key = self.issuer_key.clone();
        Box::new(move |index| {
            let mut claim = claim.clone();
            claim.serial = index;
            let bytes = cose::sign_label(&claim, &key);
            if let Some(Ok(mut slot)) = out.as_ref().map(|o| o.lock()) {
                *slot = Some(bytes.clone());
            }
            Ok(bytes)
        })
    }

    pub(super) fn observe(&self, started: Instant, a: &Appended) {
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
    ) -> Result<LabelView, ServiceError> {
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
                let checkpoint = self.checkpoint()?;
                self.appended_view(a.index, &bytes, &mut claim, &checkpoint, None)
            }
            None => self.label_view(a.index),
        }
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
    ) -> Result<LabelView, ServiceError> {
        require(op, Action::Issue)?;
        let (_, old) = self.label_at(index)?;
        if !op.covers_scheme(&old.scheme) {
            return Err(ServiceError::forbidden(format!(
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
                .map_err(|e| ServiceError::invalid_field(field, format!("{field}: {e}")))
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
                        ServiceError::invalid_field(
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
        let (state, _) = self.ledger.status(index).map_err(ServiceError::internal)?;
        // Server policy on top of the log's rules (which let a renewal supersede a suspended
        // label): renewing would replace a suspended label by an active one, undoing the
        // suspension with the issuer role alone. Checked also on a keyed retry: a label this
        // request already renewed is superseded, not suspended, so a retry still replays.
        if state == State::Suspended {
            return Err(suspended_renewal(index));
        }
        if idem.is_none() && !cyberlabel_core::status::can_supersede(state) {
            return Err(ServiceError::conflict(format!(
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
}

/// Why a suspended label is not renewed (the rule, and what to do instead).
fn suspended_renewal(index: u64) -> ServiceError {
    ServiceError::conflict(format!(
        "label {index} is suspended; reinstate it first (revoker role), then renew: a renewal \
         must not lift a suspension"
    ))
}

pub(super) fn require(op: &TokenRecord, action: Action) -> Result<(), ServiceError> {
    if op.role.allows(action) {
        Ok(())
    } else {
        Err(ServiceError::forbidden(format!(
            "role {} may not {}",
            op.role,
            match action {
                Action::Issue => "issue labels",
                Action::ChangeStatus => "change label status",
                Action::ManageTokens => "manage tokens",
            }
        )))
    }
}

/// Catalog and wire-format validation, plus date order, as 422 naming the field.
fn validate(catalog: &Catalog, claim: &Claim) -> Result<(), ServiceError> {
    if claim.expires_at <= claim.issued_at {
        return Err(ServiceError::invalid_field(
            "expires_at",
            "expires_at must be after issued_at",
        ));
    }
    catalog.validate_claim(claim).map_err(|e: CatalogError| {
        let field = e.field().map_or("claim", |f| f.name());
        ServiceError::invalid_field(field, e.to_string())
    })
}

fn mint_error(e: MintError) -> ServiceError {
    let field = match &e {
        MintError::UnknownScheme(..) => "scheme",
        MintError::UnknownLevel(..) => "level",
        MintError::UnknownCategory(..) => "category",
        MintError::UnknownProvision(..) => "provisions",
        MintError::LabMismatch | MintError::UnknownLab(..) => "lab",
        MintError::Date(f, _) => f,
        MintError::Catalog(c) => c.field().map_or("claim", |f| f.name()),
        _ => "product",
    };
    ServiceError::invalid_field(field, e.to_string())
}

pub(super) fn ledger_error(e: LedgerError) -> ServiceError {
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
        ) => ServiceError::invalid_field("entry", format!("refused by the log: {e}")),
        // Conflicts with the log's current state (serial, target, transition).
        LedgerError::Rejected(e) => ServiceError::conflict(e.to_string()),
        LedgerError::Invalid(m) => ServiceError::invalid_field("entry", m),
        LedgerError::Closed => ServiceError::unavailable(
            "the log is shutting down; retry with the same Idempotency-Key",
        ),
        LedgerError::Full(m) => {
            tracing::error!(error = %m, "log storage is full");
            ServiceError::StorageFull(
                "the log's storage is full: nothing was recorded; retry with the same Idempotency-Key later"
                    .into(),
            )
        }
        LedgerError::Storage(m) => {
            tracing::error!(error = %m, "log storage failed");
            ServiceError::unavailable(
                "the log's storage failed: nothing was recorded; retry with the same Idempotency-Key",
            )
        }
    }
}
