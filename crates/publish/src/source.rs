//! Where the publisher reads the log: the latest signed checkpoint, tiles and entry bundles by
//! their tlog-tiles path, and status proofs. Implemented here for [`cyberlabel_log::Log`] (the
//! CLI opens the data directory) and by the server for its shared log handle.

use std::sync::Arc;

use cyberlabel_core::tiles::TilePath;
use cyberlabel_log::{Log, LogError};

/// A failure reading the log.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(String);

impl SourceError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl From<LogError> for SourceError {
    fn from(e: LogError) -> Self {
        Self(e.to_string())
    }
}

/// A log to publish. Reads are synchronous and short (local storage).
pub trait Source: Send + Sync {
    /// The latest signed checkpoint, with its cosignature lines.
    ///
    /// # Errors
    /// [`SourceError`].
    fn checkpoint(&self) -> Result<String, SourceError>;
    /// A hash tile or entry bundle (full or partial) of the published tree; `None` if the tree
    /// does not contain it at that width.
    ///
    /// # Errors
    /// [`SourceError`].
    fn tile(&self, path: &TilePath) -> Result<Option<Vec<u8>>, SourceError>;
    /// The status proof (docs/FORMATS.md §4) of `bucket` against the latest checkpoint; `None`
    /// beyond the last bucket.
    ///
    /// # Errors
    /// [`SourceError`].
    fn status_proof(&self, bucket: u64) -> Result<Option<String>, SourceError>;
    /// Files derived from the log that changed after the mark `since` (0: all of them), and
    /// the mark to ask from next time — e.g. the public register's static shards. Written
    /// after the status proofs and before the checkpoint, overwriting. None by default.
    ///
    /// # Errors
    /// [`SourceError`].
    fn derived_files(&self, since: u64) -> Result<(Vec<crate::SiteFile>, u64), SourceError> {
        Ok((Vec::new(), since))
    }
}

impl Source for Log {
    fn checkpoint(&self) -> Result<String, SourceError> {
        Ok(self.latest_checkpoint())
    }
    fn tile(&self, path: &TilePath) -> Result<Option<Vec<u8>>, SourceError> {
        Ok(Log::tile(self, path)?)
    }
    fn status_proof(&self, bucket: u64) -> Result<Option<String>, SourceError> {
        match Log::status_proof(self, bucket) {
            Ok(p) => Ok(Some(p)),
            Err(LogError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

impl<T: Source + ?Sized> Source for Arc<T> {
    fn checkpoint(&self) -> Result<String, SourceError> {
        (**self).checkpoint()
    }
    fn tile(&self, path: &TilePath) -> Result<Option<Vec<u8>>, SourceError> {
        (**self).tile(path)
    }
    fn status_proof(&self, bucket: u64) -> Result<Option<String>, SourceError> {
        (**self).status_proof(bucket)
    }
    fn derived_files(&self, since: u64) -> Result<(Vec<crate::SiteFile>, u64), SourceError> {
        (**self).derived_files(since)
    }
}
