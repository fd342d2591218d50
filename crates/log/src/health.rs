//! What the log knows about its storage's health: whether the last write failed (and why), and
//! whether a read found damaged bytes. [`Watched`] wraps the store and records both as they
//! happen, so the server's health check reports what clients are seeing.

use std::sync::{Arc, Mutex};

use crate::store::{Commit, LogStore, StoreError};

/// The storage's health as last seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageHealth {
    /// The last write failed with this error and no write has succeeded since.
    pub write_fault: Option<String>,
    /// Whether that write failed because the disk is full.
    pub disk_full: bool,
    /// A read found damaged bytes (the first such error). Stays set: damage does not heal.
    pub damaged: Option<String>,
}

impl StorageHealth {
    /// Whether the log can take writes and serve reads.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.write_fault.is_none() && self.damaged.is_none()
    }
}

/// A store that records failures in a shared [`StorageHealth`].
pub(crate) struct Watched {
    pub(crate) inner: Arc<dyn LogStore>,
    pub(crate) health: Arc<Mutex<StorageHealth>>,
}

impl Watched {
    fn update(&self, f: impl FnOnce(&mut StorageHealth)) {
        match self.health.lock() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }
    fn seen<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &r
            && e.is_damaged()
        {
            let msg = e.to_string();
            self.update(|h| {
                h.damaged.get_or_insert(msg);
            });
        }
        r
    }
}

impl LogStore for Watched {
    fn raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.seen(self.inner.raw(key))
    }
    fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let r = self.inner.commit(commit);
        match &r {
            Ok(()) => {
                // A small commit (a cosignature, the probe's state) can fit in space the store
                // already holds while appends still fail: a standing fault clears only when the
                // store also has room for appends.
                let faulted = match self.health.lock() {
                    Ok(h) => h.write_fault.is_some(),
                    Err(p) => p.into_inner().write_fault.is_some(),
                };
                if !faulted || self.inner.has_room().is_ok() {
                    self.update(|h| {
                        h.write_fault = None;
                        h.disk_full = false;
                    });
                }
            }
            Err(e) => {
                let (msg, full) = (e.to_string(), e.is_full());
                self.update(|h| {
                    h.write_fault = Some(msg);
                    h.disk_full = full;
                });
            }
        }
        self.seen(r)
    }
    fn size_on_disk(&self) -> u64 {
        self.inner.size_on_disk()
    }
    fn has_room(&self) -> Result<(), StoreError> {
        let r = self.inner.has_room();
        if let Err(e) = &r {
            let (msg, full) = (e.to_string(), e.is_full());
            self.update(|h| {
                h.write_fault = Some(msg);
                h.disk_full = full;
            });
        }
        r
    }
    fn failed_commit_changes_nothing(&self) -> bool {
        self.inner.failed_commit_changes_nothing()
    }
}
