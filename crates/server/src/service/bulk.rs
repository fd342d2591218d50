//! Bulk minting: many product descriptions in one request, checked first (a token that may not
//! make the request at all is refused as a whole), then submitted together so the log signs and
//! appends them in as few batches as it can, each with its own idempotency key.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cyberlabel_core::claim::Claim;
use serde_json::Value;

use crate::auth::{Action, TokenRecord};
use crate::cache::TileCache;
use crate::now_unix;

use super::issue::{SignedSlot, ledger_error, require};
use super::{CompactLabelView, LabelView, Service, ServiceError, checkpoint_size};

/// One bulk item: parsed JSON, or the reason its line did not parse.
pub type BulkItem = Result<Value, ServiceError>;

/// A bulk item with the idempotency key it carried, if any.
#[derive(Debug)]
pub struct BulkEntry {
    /// The product description (or why it could not be read).
    pub item: BulkItem,
    /// Its own idempotency key (the log's, already derived); `None`: derived from the
    /// request's key and the item's position, if the request has one.
    pub key: Option<[u8; 32]>,
}

/// Derives a per-item idempotency key from a bulk request's key.
#[must_use]
pub fn item_key(base: &[u8; 32], item: usize) -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    h.update(b"cyberlabel/idempotency/v1/item\n");
    h.update(base);
    h.update((item as u64).to_be_bytes());
    h.finalize().into()
}

/// How much of each label a bulk request wants back (`POST /labels/bulk?view=…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BulkView {
    /// The full [`LabelView`], as single minting answers (the default).
    #[default]
    Full,
    /// [`CompactLabelView`]: the label, its QR payload URL and version, its status and links,
    /// without the proof material (about a fifth of the bytes, and no inclusion proofs to
    /// compute): what a print run needs. The proofs are at each label's `links.self`.
    Compact,
}

impl BulkView {
    /// The `view` query parameter's value.
    ///
    /// # Errors
    /// The accepted values, for anything else.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "full" => Ok(Self::Full),
            "compact" => Ok(Self::Compact),
            other => Err(format!(
                "view must be full or compact, not {:?}",
                other.chars().take(32).collect::<String>()
            )),
        }
    }
}

/// One minted label in a bulk answer, in the view the request asked for.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum MintedView {
    /// `view=full`
    Full(Box<LabelView>),
    /// `view=compact`
    Compact(CompactLabelView),
}

impl MintedView {
    /// The label's log index.
    #[must_use]
    pub fn index(&self) -> u64 {
        match self {
            Self::Full(v) => v.index,
            Self::Compact(v) => v.index,
        }
    }
}

impl Service {
    /// Mints many: items that fail validation are rejected with their reason, the others are
    /// appended in one go. One result per item, in order.
    ///
    /// A request the token may not make at all is refused as a whole, before anything is
    /// minted: the wrong role, or any item naming a scheme outside the token's scope (403
    /// naming the first such item). Answering 200 with every item failed would hide an
    /// operator's mistake (a wrong token) among validation errors.
    ///
    /// The CPU work per item — reading and validating the description before the append, the
    /// label's view (proof, payload, QR version) after it — runs on tokio's blocking pool in
    /// one chunk per core, never on the async workers, while the log signs on its own workers.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for the whole request.
    pub async fn mint_bulk(
        self: &Arc<Self>,
        op: &TokenRecord,
        items: Vec<BulkEntry>,
        idem: Option<[u8; 32]>,
        detail: BulkView,
    ) -> Result<Vec<Result<MintedView, ServiceError>>, ServiceError> {
        require(op, Action::Issue)?;
        for (i, e) in items.iter().enumerate() {
            let scheme = e
                .item
                .as_ref()
                .ok()
                .and_then(|v| v.get("scheme"))
                .and_then(Value::as_str)
                .map(str::trim);
            if let Some(scheme) = scheme.filter(|s| !op.covers_scheme(s)) {
                return Err(ServiceError::forbidden(format!(
                    "item {i}: this token may not act on scheme {scheme}; nothing was minted"
                )));
            }
        }
        let now = now_unix();
        let checked = {
            let (svc, op) = (Arc::clone(self), op.clone());
            on_cores(items, move |_, part: Vec<BulkEntry>| {
                part.into_iter()
                    .map(|BulkEntry { item, key }| {
                        (item.and_then(|v| svc.prepare(&op, v, now)), key)
                    })
                    .collect()
            })
            .await?
        };
        // `None` = accepted, to be filled in after the append (no placeholder error: an
        // `ServiceError::internal` would log an error per accepted item).
        let mut results: Vec<Option<Result<MintedView, ServiceError>>> =
            Vec::with_capacity(checked.len());
        let mut pending = Vec::new();
        let mut slots: Vec<Slot> = Vec::new();
        for (i, (claim, key)) in checked.into_iter().enumerate() {
            match claim {
                Ok(claim) => {
                    let out: SignedSlot = Arc::new(Mutex::new(None));
                    let build = self.recording_builder(claim.clone(), Some(out.clone()));
                    pending.push((build, key.or_else(|| idem.map(|k| item_key(&k, i)))));
                    slots.push((i, claim, out));
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        if pending.is_empty() {
            return Ok(results.into_iter().flatten().collect());
        }
        let started = Instant::now();
        let appended = self.ledger.append_batch(pending).await;
        let checkpoint = match self.checkpoint() {
            Ok(c) => c,
            Err(e) => {
                for (slot, ..) in slots {
                    results[slot] = Some(Err(e.clone()));
                }
                return Ok(results.into_iter().flatten().collect());
            }
        };
        let done: Vec<_> = slots.into_iter().zip(appended).collect();
        let views = {
            let svc = Arc::clone(self);
            let checkpoint: Arc<str> = checkpoint.into();
            on_cores(done, move |_, part| {
                svc.bulk_views(part, &checkpoint, started, detail)
            })
            .await?
        };
        let mut fresh = 0u64;
        for (slot, view, new) in views {
            fresh += u64::from(new);
            results[slot] = Some(view);
        }
        if fresh > 0 {
            self.metrics
                .labels_issued
                .fetch_add(fresh, Ordering::Relaxed);
        }
        // Every slot is filled: the log answers once per pending item. Should it ever answer
        // fewer, the missing items are reported as errors rather than silently dropped.
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(ServiceError::internal("bulk item without a result"))))
            .collect())
    }

    /// The views of consecutive bulk items once appended, against one checkpoint: (result slot,
    /// view, whether it was newly appended).
    fn bulk_views(
        &self,
        part: Vec<(
            Slot,
            Result<crate::ledger::Appended, crate::ledger::LedgerError>,
        )>,
        checkpoint: &str,
        started: Instant,
        detail: BulkView,
    ) -> Vec<(usize, Result<MintedView, ServiceError>, bool)> {
        let size = checkpoint_size(checkpoint).unwrap_or(0);
        // Consecutive labels share most of their proof tiles: fetch each tile once.
        let mut tiles = TileCache::default();
        part.into_iter()
            .map(|((slot, mut claim, out), r)| match r {
                Ok(a) => {
                    self.observe(started, &a);
                    if a.batch > 0 {
                        self.metrics.batch_size.observe(a.batch as f64);
                    }
                    let signed = out.lock().ok().and_then(|mut o| o.take());
                    if detail == BulkView::Compact {
                        let view = match (signed, a.replay) {
                            (Some(bytes), false) => {
                                claim.serial = a.index;
                                let active = Some((cyberlabel_core::status::State::Active, 0));
                                self.compact_view(a.index, &bytes, &claim, active)
                            }
                            _ => self
                                .label_at(a.index)
                                .and_then(|(b, c)| self.compact_view(a.index, &b, &c, None)),
                        };
                        return (slot, view.map(MintedView::Compact), !a.replay);
                    }
                    let path = tiles.inclusion_proof(&self.ledger, a.index, size);
                    let view = match (signed, a.replay) {
                        // A label just appended is active: no status read, no entry read.
                        (Some(bytes), false) => path.and_then(|p| {
                            self.appended_view(a.index, &bytes, &mut claim, checkpoint, Some(p))
                        }),
                        _ => self.label_at(a.index).and_then(|(b, c)| {
                            self.view(a.index, &b, &c, checkpoint, None, path.ok())
                        }),
                    };
                    (slot, view.map(|v| MintedView::Full(Box::new(v))), !a.replay)
                }
                Err(e) => (slot, Err(ledger_error(e)), false),
            })
            .collect()
    }
}

/// An accepted bulk item: its result slot, its claim, where its builder leaves the signed bytes.
type Slot = (usize, Claim, SignedSlot);

/// Runs `f` over `items` on tokio's blocking pool, split into one chunk of consecutive items per
/// core (`f` gets each chunk with the position of its first item), and returns the results in
/// order. CPU work of many items must not hold an async worker: other requests wait behind it.
///
/// # Errors
/// 500 if a chunk panicked.
pub(crate) async fn on_cores<T, R, F>(items: Vec<T>, f: F) -> Result<Vec<R>, ServiceError>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(usize, Vec<T>) -> Vec<R> + Send + Sync + 'static,
{
    /// Fewer items than this per chunk cost more to hand over than to do in one.
    const MIN_CHUNK: usize = 64;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = items.len().div_ceil(cores).max(MIN_CHUNK);
    let f = Arc::new(f);
    let mut tasks = Vec::new();
    let mut rest = items;
    let mut first = 0;
    while !rest.is_empty() {
        let tail = rest.split_off(chunk.min(rest.len()));
        let part = std::mem::replace(&mut rest, tail);
        let (f, at) = (Arc::clone(&f), first);
        first += part.len();
        tasks.push(tokio::task::spawn_blocking(move || f(at, part)));
    }
    let mut out = Vec::with_capacity(first);
    for t in tasks {
        out.extend(
            t.await
                .map_err(|e| ServiceError::internal(format!("bulk work failed: {e}")))?,
        );
    }
    Ok(out)
}
