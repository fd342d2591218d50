//! The register as JSON: a listing with its status and links (the API's results), a
//! manufacturer's page, and the manufacturer lists by first character — the same files the
//! server answers at `/register/manufacturer/<slug>.json` and `/register/manufacturers/<c>.json`
//! and the object store gets as static shards, so the register page works against either.

use cyberlabel_core::register::{self, Listing};
use cyberlabel_core::tiles::{TileKind, TilePath};
use serde::Serialize;

use super::{Register, RegisterError};

/// A manufacturer page's entry in the lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManufacturerEntry {
    /// Page name (see [`register::slug`]).
    pub slug: String,
    /// The name as first signed.
    pub name: String,
    /// Labels on the page.
    pub labels: u64,
}

/// The list file a manufacturer page is named in: its slug's first character when that is an
/// ASCII letter or digit, else `_`.
#[must_use]
pub fn shard_of(slug: &str) -> String {
    match slug.chars().next() {
        Some(c) if c.is_ascii_alphanumeric() => c.to_string(),
        _ => "_".into(),
    }
}

/// A listing as the register shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ListingView {
    /// The listing (fields and history).
    #[serde(flatten)]
    pub listing: Listing,
    /// `active`, `suspended`, `revoked`, `superseded` or `expired` (at the time of the answer).
    pub status: &'static str,
    /// The last status change's reason, by name.
    pub reason_name: Option<&'static str>,
    /// Where the label and its proofs are.
    pub links: Links,
}

/// A listing's links (relative to the issuing server, except `verifier`).
#[derive(Debug, Clone, Serialize)]
pub struct Links {
    /// The verifier URL the label's QR code holds (checks it with the log, offline-capable).
    pub verifier: Option<String>,
    /// The label, its inclusion proof and tlog-proof.
    pub label: String,
    /// The QR code (SVG).
    pub qr_svg: String,
    /// The printable artwork (PNG).
    pub artwork_png: String,
    /// The status bucket's proof.
    pub status_proof: String,
    /// The manufacturer's page.
    pub manufacturer: String,
}

impl ListingView {
    /// `listing` at `now`; `verifier` is its QR payload URL if known.
    #[must_use]
    pub fn new(listing: Listing, now: u64, verifier: Option<String>) -> Self {
        let i = listing.index;
        let bucket = TilePath {
            kind: TileKind::Hash(0),
            index: i / 256,
            width: 256,
        }
        .to_path();
        let links = Links {
            verifier,
            label: format!("/labels/{i}"),
            qr_svg: format!("/labels/{i}/qr.svg"),
            artwork_png: format!("/labels/{i}/artwork.png"),
            status_proof: format!("/status/{}", bucket.trim_start_matches("tile/0/")),
            manufacturer: format!(
                "/register/manufacturer/{}.json",
                register::slug(&listing.manufacturer)
            ),
        };
        Self {
            status: listing.status_at(now),
            reason_name: listing.reason_name(),
            listing,
            links,
        }
    }
}

/// A manufacturer's page (`/register/manufacturer/<slug>.json`).
#[derive(Debug, Clone, Serialize)]
pub struct ManufacturerPage {
    /// Page name.
    pub slug: String,
    /// Name as first signed.
    pub name: String,
    /// Labels on the page.
    pub labels: u64,
    /// Entries of the log folded in.
    pub indexed_size: u64,
    /// The labels, newest first, with their history.
    pub listings: Vec<ListingView>,
    /// Cursor for more (`?cursor=`); always `null` in the static copy, which lists all.
    pub next: Option<String>,
}

/// A first-character list (`/register/manufacturers/<c>.json`).
#[derive(Debug, Clone, Serialize)]
pub struct ManufacturerList {
    /// The character (or `_`).
    pub shard: String,
    /// Entries of the log folded in.
    pub indexed_size: u64,
    /// The pages, in slug order.
    pub manufacturers: Vec<ManufacturerEntry>,
}

impl Register {
    /// A manufacturer's page from `cursor` on, at most `limit` labels (`usize::MAX`: all, for
    /// the static copy). `verifier` gives a label's QR payload URL.
    ///
    /// # Errors
    /// The store's; `Ok(None)` for an unknown page.
    pub fn manufacturer_page(
        &self,
        slug: &str,
        cursor: Option<&str>,
        limit: usize,
        now: u64,
        verifier: &dyn Fn(u64) -> Option<String>,
    ) -> Result<Option<ManufacturerPage>, RegisterError> {
        let Some(entry) = self.manufacturer(slug)? else {
            return Ok(None);
        };
        let mut listings = Vec::new();
        let mut cursor = cursor.map(str::to_owned);
        let next = loop {
            let page = self.manufacturer_labels(slug, cursor.as_deref(), limit - listings.len())?;
            listings.extend(
                page.results
                    .into_iter()
                    .map(|l| ListingView::new(l.clone(), now, verifier(l.index))),
            );
            match page.next {
                Some(n) if listings.len() < limit => cursor = Some(n),
                other => break other,
            }
        };
        Ok(Some(ManufacturerPage {
            slug: entry.slug,
            name: entry.name,
            labels: entry.labels,
            indexed_size: self.indexed_size()?,
            listings,
            next,
        }))
    }

    /// The first-character list `shard`.
    ///
    /// # Errors
    /// The store's.
    pub fn manufacturer_list(&self, shard: &str) -> Result<ManufacturerList, RegisterError> {
        let manufacturers = if shard == "_" {
            self.manufacturers("", usize::MAX)?
                .into_iter()
                .filter(|m| shard_of(&m.slug) == "_")
                .collect()
        } else {
            self.manufacturers(shard, usize::MAX)?
        };
        Ok(ManufacturerList {
            shard: shard.to_owned(),
            indexed_size: self.indexed_size()?,
            manufacturers,
        })
    }
}
