//! The public register's model: what the log says about each label, derived from the entries
//! alone, and what a register search matches.
//!
//! A [`Listing`] is one label as the register shows it — its claim's searchable fields, its
//! current state and reason, and its history (issued, renewed by, suspended, reinstated,
//! revoked, each with the log index of the entry that did it). [`apply`] folds one decoded log
//! entry into any [`Listings`] store, so the server's index, a rebuild and an auditor's
//! recomputation all derive the register with the same rules as the log's status map.
//! [`Query`] is a search (manufacturer, model, words, scheme, level, category, status, issue
//! dates); text is compared [`fold`]ed (lower case, single spaces).

use serde::{Deserialize, Serialize};

use crate::claim::Claim;
use crate::cose::Entry;
use crate::status::{ReasonCode, State, StatusAction, apply_action, can_supersede};

/// What happened to a label, at which log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The label entry itself.
    Issued,
    /// A renewal (a new label at `index` superseding this one).
    Renewed,
    /// A status record suspended it.
    Suspended,
    /// A status record reinstated it.
    Reinstated,
    /// A status record revoked it.
    Revoked,
}

/// One event in a label's history. Serialized with the reason's name beside its code
/// (`reason_name`, absent for 0), which reading ignores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The log index of the entry that did it (the label, its renewal, or the status record).
    pub index: u64,
    /// Unix seconds: the issue day for labels and renewals, the record's time for status
    /// records.
    pub time: u64,
    /// Reason code (FORMATS §2) of a status record, `superseded` for a renewal, 0 for issue.
    pub reason: u8,
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let name = (self.reason != 0)
            .then(|| ReasonCode::from_u8(self.reason).map(ReasonCode::as_str))
            .flatten();
        let mut st = s.serialize_struct("Event", 5)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("index", &self.index)?;
        st.serialize_field("time", &self.time)?;
        st.serialize_field("reason", &self.reason)?;
        st.serialize_field("reason_name", &name)?;
        st.end()
    }
}

/// A label as the register shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// Log index (the label's serial).
    pub index: u64,
    /// Scheme id.
    pub scheme: String,
    /// Level number.
    pub level: u8,
    /// Product category code.
    pub category: u16,
    /// Manufacturer, as signed.
    pub manufacturer: String,
    /// Product / model, as signed.
    pub product: String,
    /// Hardware versions covered.
    pub hardware_versions: String,
    /// Firmware versions covered.
    pub firmware_versions: String,
    /// Issue day (Unix seconds at 00:00 UTC).
    pub issued_at: u64,
    /// First day no longer valid (Unix seconds at 00:00 UTC).
    pub expires_at: u64,
    /// State in the log's status map.
    pub state: State,
    /// Reason code of the last status change.
    pub reason: u8,
    /// The label this one renews.
    pub supersedes: Option<u64>,
    /// The label that renewed this one.
    pub superseded_by: Option<u64>,
    /// Everything that happened to it, in log order.
    pub history: Vec<Event>,
}

impl Listing {
    fn of(index: u64, claim: &Claim) -> Self {
        Self {
            index,
            scheme: claim.scheme.clone(),
            level: claim.level,
            category: claim.category,
            manufacturer: claim.manufacturer.clone(),
            product: claim.product.clone(),
            hardware_versions: claim.hardware_versions.clone(),
            firmware_versions: claim.firmware_versions.clone(),
            issued_at: claim.issued_at,
            expires_at: claim.expires_at,
            state: State::Active,
            reason: 0,
            supersedes: claim.supersedes,
            superseded_by: None,
            history: vec![Event {
                kind: EventKind::Issued,
                index,
                time: claim.issued_at,
                reason: 0,
            }],
        }
    }

    /// The status a shopper sees at `now`: the log's state, or `expired` for an active label
    /// past its expiry (the same rule as the verdict's, [`Claim::expired_at`]).
    #[must_use]
    pub fn status_at(&self, now: u64) -> &'static str {
        if self.state == State::Active && crate::claim::expired(self.expires_at, now) {
            "expired"
        } else {
            self.state.name()
        }
    }

    /// The reason's name, if a status change gave one.
    #[must_use]
    pub fn reason_name(&self) -> Option<&'static str> {
        (self.reason != 0)
            .then(|| ReasonCode::from_u8(self.reason).map(ReasonCode::as_str))
            .flatten()
    }
}

/// Where [`apply`] reads and writes listings.
pub trait Listings {
    /// The error of the backing store.
    type Error;
    /// The listing of the label at `index`, if there is one.
    ///
    /// # Errors
    /// The store's.
    fn get(&mut self, index: u64) -> Result<Option<Listing>, Self::Error>;
    /// Store `listing` (new, or changed from what `get` returned).
    ///
    /// # Errors
    /// The store's.
    fn put(&mut self, listing: Listing) -> Result<(), Self::Error>;
}

/// Fold the entry at `index` into the register. Trust lists change nothing; a status record
/// or renewal whose target is unknown or whose transition is illegal changes nothing (the log
/// never appends those, and a register must not invent what the log did not do). Folding an
/// entry a second time changes nothing either (its index is already in the history), so a
/// store may re-fold entries after a crash.
///
/// # Errors
/// The store's.
pub fn apply<L: Listings>(store: &mut L, index: u64, entry: &Entry) -> Result<(), L::Error> {
    match entry {
        Entry::Label { claim, .. } => {
            if store.get(index)?.is_some() {
                return Ok(());
            }
            if let Some(old) = claim.supersedes
                && let Some(mut prev) = store.get(old)?
                && can_supersede(prev.state)
                && !prev.history.iter().any(|e| e.index == index)
            {
                // the reason the log's status map records for a renewal
                let reason = ReasonCode::Superseded.as_u8();
                prev.state = State::Superseded;
                prev.reason = reason;
                prev.superseded_by = Some(index);
                prev.history.push(Event {
                    kind: EventKind::Renewed,
                    index,
                    time: claim.issued_at,
                    reason,
                });
                store.put(prev)?;
            }
            store.put(Listing::of(index, claim))
        }
        Entry::Status { record, .. } => {
            let Some(mut target) = store.get(record.target)? else {
                return Ok(());
            };
            if target.history.iter().any(|e| e.index == index) {
                return Ok(());
            }
            let Some(state) = apply_action(target.state, record.action) else {
                return Ok(());
            };
            target.state = state;
            target.reason = record.reason.as_u8();
            target.history.push(Event {
                kind: match record.action {
                    StatusAction::Suspend => EventKind::Suspended,
                    StatusAction::Reinstate => EventKind::Reinstated,
                    StatusAction::Revoke => EventKind::Revoked,
                },
                index,
                time: record.time,
                reason: record.reason.as_u8(),
            });
            store.put(target)
        }
    }
}

/// An in-memory register (tests, audits, recomputation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryRegister(pub std::collections::BTreeMap<u64, Listing>);

impl Listings for MemoryRegister {
    type Error = core::convert::Infallible;
    fn get(&mut self, index: u64) -> Result<Option<Listing>, Self::Error> {
        Ok(self.0.get(&index).cloned())
    }
    fn put(&mut self, listing: Listing) -> Result<(), Self::Error> {
        self.0.insert(listing.index, listing);
        Ok(())
    }
}

/// Text as the register compares it: lower case, words separated by single spaces.
#[must_use]
pub fn fold(s: &str) -> String {
    s.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The words of a listing's manufacturer and product, folded, without repeats.
#[must_use]
pub fn words(l: &Listing) -> Vec<String> {
    let mut w: Vec<String> = fold(&l.manufacturer)
        .split(' ')
        .chain(fold(&l.product).split(' '))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    w.sort();
    w.dedup();
    w
}

/// A manufacturer's page name: folded, letters and digits kept, every other run of characters
/// one `-` (`"ACME Devices GmbH & Co."` → `acme-devices-gmbh-co`). Names that differ only in
/// case or punctuation share a page, which lists each label with its name as signed.
#[must_use]
pub fn slug(manufacturer: &str) -> String {
    let mut out = String::new();
    for c in manufacturer.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() { "-".into() } else { out }
}

/// Status names a search may ask for.
pub const STATUS_NAMES: [&str; 5] = ["active", "suspended", "revoked", "superseded", "expired"];

/// A register search. Every given criterion must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// Words, each the start of a word of the manufacturer or the product.
    #[serde(default)]
    pub q: Option<String>,
    /// The start of the manufacturer's name.
    #[serde(default)]
    pub manufacturer: Option<String>,
    /// The start of the product / model designation.
    #[serde(default)]
    pub model: Option<String>,
    /// Scheme id, exactly.
    #[serde(default)]
    pub scheme: Option<String>,
    /// Level number.
    #[serde(default)]
    pub level: Option<u8>,
    /// Category code.
    #[serde(default)]
    pub category: Option<u16>,
    /// One of [`STATUS_NAMES`].
    #[serde(default)]
    pub status: Option<String>,
    /// Issued on or after this day (Unix seconds).
    #[serde(default)]
    pub issued_from: Option<u64>,
    /// Issued on or before this day (Unix seconds).
    #[serde(default)]
    pub issued_to: Option<u64>,
}

impl Query {
    /// The query's words, folded.
    #[must_use]
    pub fn query_words(&self) -> Vec<String> {
        self.q
            .as_deref()
            .map(fold)
            .unwrap_or_default()
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Whether `l` matches at `now` (for the status `expired`).
    #[must_use]
    pub fn matches(&self, l: &Listing, now: u64) -> bool {
        let starts = |field: &str, want: &Option<String>| {
            want.as_deref()
                .is_none_or(|w| fold(field).starts_with(&fold(w)))
        };
        let listing_words = || words(l);
        starts(&l.manufacturer, &self.manufacturer)
            && starts(&l.product, &self.model)
            && self.scheme.as_deref().is_none_or(|s| s == l.scheme)
            && self.level.is_none_or(|v| v == l.level)
            && self.category.is_none_or(|c| c == l.category)
            && self.status.as_deref().is_none_or(|s| s == l.status_at(now))
            && self.issued_from.is_none_or(|d| l.issued_at >= d)
            && self.issued_to.is_none_or(|d| l.issued_at <= d)
            && {
                let want = self.query_words();
                want.is_empty() || {
                    let have = listing_words();
                    want.iter().all(|w| have.iter().any(|h| h.starts_with(w)))
                }
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_folding() {
        assert_eq!(slug("ACME Devices GmbH & Co."), "acme-devices-gmbh-co");
        assert_eq!(slug("  Ünïcode  Werk "), "ünïcode-werk");
        assert_eq!(slug("&&&"), "-");
        assert_eq!(fold("  Smart   Cam X1 "), "smart cam x1");
    }

    #[test]
    fn a_query_needs_every_criterion() {
        let l = Listing {
            index: 7,
            scheme: "SG-CLS".into(),
            level: 2,
            category: 3,
            manufacturer: "Acme Devices".into(),
            product: "SmartCam X1".into(),
            hardware_versions: "1".into(),
            firmware_versions: "2".into(),
            issued_at: 100 * crate::claim::DAY,
            expires_at: 200 * crate::claim::DAY,
            state: State::Active,
            reason: 0,
            supersedes: None,
            superseded_by: None,
            history: vec![],
        };
        let now = 150 * crate::claim::DAY;
        let q = |f: fn(&mut Query)| {
            let mut q = Query::default();
            f(&mut q);
            q.matches(&l, now)
        };
        assert!(q(|_| {}));
        assert!(q(|q| q.q = Some("acm smartc".into())));
        assert!(!q(|q| q.q = Some("acm devicez".into())));
        assert!(q(|q| q.manufacturer = Some("ACME d".into())));
        assert!(!q(|q| q.manufacturer = Some("devices".into())));
        assert!(q(|q| q.model = Some("smartcam".into())));
        assert!(!q(|q| q.level = Some(3)));
        assert!(q(|q| q.status = Some("active".into())));
        assert!(!q(|q| q.status = Some("expired".into())));
        assert!(q(|q| q.issued_from = Some(100 * crate::claim::DAY)));
        assert!(!q(|q| q.issued_to = Some(99 * crate::claim::DAY)));
        assert_eq!(l.status_at(200 * crate::claim::DAY), "expired");
    }
}
