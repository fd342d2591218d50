//! cyberlabel-publish: copies the log's read side to an S3-compatible object store, so the
//! verifier page (and any auditor) can be served from a bucket or a CDN in front of it with the
//! issuing server stopped.
//!
//! The bucket mirrors the server's read paths exactly (the page fetches relative paths):
//!
//! | object key | what | written | `Cache-Control` |
//! |---|---|---|---|
//! | `tile/<L>/<N>[.p/<W>]` | hash tiles, full and partial | once (`If-None-Match: *`) | [`IMMUTABLE`] |
//! | `tile/entries/<N>[.p/<W>]` | entry bundles | once (`If-None-Match: *`) | [`IMMUTABLE`] |
//! | `status/<N>` | status proofs (embed a checkpoint) | every cycle | [`SHORT`] |
//! | site files (`trust-list`, `v`, `assets/…`) | given by the caller ([`SiteFile`]) | when changed | the file's |
//! | derived files (`register/…`) | from the source ([`Source::derived_files`]) | when changed since the last cycle (all after a start) | the file's |
//! | `checkpoint` | the signed checkpoint with its cosignatures | **last**, compare-and-swap on its ETag | [`SHORT`] |
//!
//! **Order and crash safety.** One cycle ([`Publisher::publish_once`]) takes the log's latest
//! checkpoint C, writes every tile and bundle that C's size needs and the previous published
//! size did not (partial tiles included: tlog-tiles wants them for every published size), then
//! every status proof (each embeds a checkpoint at least as large as C, which is what the
//! verifier requires), then the site files, and only then swaps the `checkpoint` object to C.
//! So whatever the store's `checkpoint` says, every object it implies is already there. The
//! published checkpoint is also the resume point: a restarted publisher reads it, checks that
//! it is this log's (origin, and the root rebuilt from the log's tiles), and continues from its
//! size. Objects written before a crash are written again with `If-None-Match: *`; the store
//! answers "already exists", the publisher fetches the stored bytes, and identical bytes count
//! as success.
//!
//! **The alarm.** Tiles and bundles are immutable: different bytes already stored at a tile
//! path mean the bucket holds another history than the log (tampering, or two logs sharing a
//! prefix). That is [`PublishError::Conflict`]: logged at error level, nothing is overwritten,
//! and publishing stops — [`Publisher::follow`] returns it instead of retrying.
//!
//! Safety under two concurrent publishers comes from the log's single writer, not the store
//! (moto's conditional checks are not atomic); the checkpoint's compare-and-swap makes a second
//! writer fail loudly rather than silently roll the checkpoint back.

#![forbid(unsafe_code)]

mod site;
mod source;
mod target;
mod tiles_plan;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cyberlabel_core::checkpoint::Checkpoint;
use cyberlabel_core::merkle;
use cyberlabel_core::note::Note;
use cyberlabel_core::status;
use cyberlabel_core::tiles::TileSet;
use futures::StreamExt as _;
use object_store::{
    Attribute, AttributeValue, Attributes, ObjectStore, ObjectStoreExt as _, PutMode, PutOptions,
    UpdateVersion, path::Path,
};

pub use site::{content_type, www_files};
pub use source::{Source, SourceError};
pub use target::{TargetError, install_crypto_provider, s3_store};
pub use tiles_plan::tiles_between;

/// `Cache-Control` of tiles and entry bundles: they never change.
pub const IMMUTABLE: &str = "public, max-age=604800, immutable";
/// `Cache-Control` of the checkpoint and status proofs: tlog-tiles wants a checkpoint cacheable
/// for a few seconds only.
pub const SHORT: &str = "public, max-age=5";

/// How many PUTs are in flight at once.
const CONCURRENCY: usize = 16;

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// **The alarm**: the store already holds different bytes at an immutable path. Nothing was
    /// overwritten; publishing stops.
    #[error(
        "ALARM: the object store holds different bytes at {path} ({stored_len} bytes stored, {ours_len} bytes in the log); nothing was overwritten, publishing stopped"
    )]
    Conflict {
        /// object key
        path: String,
        /// length of the stored object
        stored_len: usize,
        /// length of the log's object
        ours_len: usize,
    },
    /// The store's checkpoint is not this log's: another origin, a larger tree than the log
    /// has, or a root the log's tiles do not give.
    #[error("the object store's checkpoint is not this log's: {0}")]
    ForeignCheckpoint(String),
    /// The checkpoint changed in the store since this publisher read it (compare-and-swap
    /// lost): another writer publishes to the same place.
    #[error("the object store's checkpoint was changed by another writer")]
    CheckpointRace,
    /// The object store failed.
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// The log (the source) failed.
    #[error("log: {0}")]
    Source(#[from] SourceError),
}

impl PublishError {
    /// True for the errors that must stop publishing (the alarm, a foreign or raced checkpoint);
    /// false for failures worth retrying (network, store unavailable).
    #[must_use]
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            PublishError::Conflict { .. }
                | PublishError::ForeignCheckpoint(_)
                | PublishError::CheckpointRace
        )
    }
}

/// A file of the static site (trust list, verifier page, assets): written with `PutMode::Overwrite`
/// whenever its bytes change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteFile {
    /// object key, e.g. `trust-list` or `assets/app.js`
    pub key: String,
    /// bytes
    pub body: Vec<u8>,
    /// `Content-Type`
    pub content_type: String,
    /// `Cache-Control`
    pub cache_control: String,
}

/// What one publishing phase has done so far (for progress bars).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// `tiles`, `status`, `site` or `checkpoint`
    pub phase: &'static str,
    /// objects done in this phase
    pub done: u64,
    /// objects in this phase
    pub total: u64,
}

/// What a cycle did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// tree size of the checkpoint now published
    pub size: u64,
    /// tree size published before this cycle
    pub from: u64,
    /// objects newly written (or overwritten: status proofs, site files, the checkpoint)
    pub written: u64,
    /// write-once objects found already stored with identical bytes (a resumed run)
    pub already_there: u64,
    /// bytes written
    pub bytes: u64,
    /// false if nothing had changed since the last cycle (nothing written)
    pub changed: bool,
}

/// The store's `checkpoint` object as last read or written.
#[derive(Debug, Clone)]
struct Published {
    size: u64,
    text: String,
    version: UpdateVersion,
}

/// Publishes one log to one object store.
pub struct Publisher<S: Source> {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    source: S,
    site: Vec<SiteFile>,
    /// site files written by this process (key → bytes), so unchanged ones are not rewritten
    site_written: HashMap<String, Vec<u8>>,
    /// `None` until the store's checkpoint has been read
    published: Option<Option<Published>>,
    /// the source's mark for derived files written (0 after a start: all are rewritten once)
    derived_since: u64,
}

impl<S: Source> Publisher<S> {
    /// A publisher of `source` into `store` under `prefix` (empty for the bucket root).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, source: S) -> Self {
        Self {
            store,
            prefix: Path::from(prefix),
            source,
            site: Vec::new(),
            site_written: HashMap::new(),
            published: None,
            derived_since: 0,
        }
    }

    /// The static files to publish with every checkpoint (replaces the previous set).
    #[must_use]
    pub fn with_site(mut self, site: Vec<SiteFile>) -> Self {
        self.site = site;
        self
    }

    /// Replace the static files (e.g. after the trust list changed).
    pub fn set_site(&mut self, site: Vec<SiteFile>) {
        self.site = site;
    }

    /// The source log.
    pub fn source(&self) -> &S {
        &self.source
    }

    fn key(&self, rel: &str) -> Path {
        let mut p = self.prefix.clone();
        for part in rel.split('/') {
            p = p.clone().join(part);
        }
        p
    }

    /// Tree size of the checkpoint in the store (0 if none), reading it if not yet known.
    ///
    /// # Errors
    /// [`PublishError`].
    pub async fn published_size(&mut self) -> Result<u64, PublishError> {
        Ok(self.load_published().await?.map_or(0, |p| p.size))
    }

    async fn load_published(&mut self) -> Result<Option<Published>, PublishError> {
        if let Some(p) = &self.published {
            return Ok(p.clone());
        }
        let key = self.key("checkpoint");
        let p = match self.store.get(&key).await {
            Ok(got) => {
                let version = UpdateVersion {
                    e_tag: got.meta.e_tag.clone(),
                    version: got.meta.version.clone(),
                };
                let body = got.bytes().await?;
                let text = String::from_utf8(body.to_vec()).map_err(|_| {
                    PublishError::ForeignCheckpoint("the stored checkpoint is not UTF-8".into())
                })?;
                let size = self.check_ours(&text)?;
                Some(Published {
                    size,
                    text,
                    version,
                })
            }
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        self.published = Some(p.clone());
        Ok(p)
    }

    /// Checks that a stored checkpoint is this log's: same origin, a size the log has, and the
    /// root the log's tiles give for that size. Returns its size.
    fn check_ours(&self, stored: &str) -> Result<u64, PublishError> {
        let foreign = |m: String| PublishError::ForeignCheckpoint(m);
        let note = Note::parse(stored.as_bytes())
            .map_err(|e| foreign(format!("the stored checkpoint does not parse: {e}")))?;
        let cp = Checkpoint::parse(&note.text)
            .map_err(|e| foreign(format!("the stored checkpoint does not parse: {e}")))?;
        let ours_text = self.source.checkpoint()?;
        let ours = Note::parse(ours_text.as_bytes())
            .ok()
            .and_then(|n| Checkpoint::parse(&n.text).ok())
            .ok_or_else(|| SourceError::new("the log's own checkpoint does not parse"))?;
        if cp.origin != ours.origin {
            return Err(foreign(format!(
                "origin {:?}, the log's is {:?}",
                cp.origin, ours.origin
            )));
        }
        if cp.size > ours.size {
            return Err(foreign(format!(
                "tree size {} is larger than the log's {}",
                cp.size, ours.size
            )));
        }
        if !self.root_matches(cp.size, &cp.root)? {
            return Err(foreign(format!(
                "its root for size {} is not the log's",
                cp.size
            )));
        }
        Ok(cp.size)
    }

    /// Whether the log's tiles give `root` for a tree of `size` entries.
    fn root_matches(&self, size: u64, root: &merkle::Hash) -> Result<bool, PublishError> {
        let mut set = TileSet::new();
        for path in cyberlabel_core::tiles::tiles_for_root(size)
            .map_err(|e| SourceError::new(e.to_string()))?
        {
            let bytes = self
                .source
                .tile(&path)?
                .ok_or_else(|| SourceError::new(format!("the log lacks {}", path.to_path())))?;
            set.insert(path, bytes)
                .map_err(|e| SourceError::new(e.to_string()))?;
        }
        let ours = set
            .root(size)
            .map_err(|e| SourceError::new(e.to_string()))?;
        Ok(merkle::hashes_equal(&ours, root))
    }

    /// One cycle: bring the store up to the log's latest checkpoint (see the module docs for
    /// the order). `progress` is called as objects are written.
    ///
    /// # Errors
    /// [`PublishError`]; after an error the store is still consistent (its checkpoint names
    /// only objects that exist) and the next cycle resumes.
    pub async fn publish_once(
        &mut self,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<Report, PublishError> {
        let published = self.load_published().await?;
        let from = published.as_ref().map_or(0, |p| p.size);
        let text = self.source.checkpoint()?;
        let cp = Note::parse(text.as_bytes())
            .ok()
            .and_then(|n| Checkpoint::parse(&n.text).ok())
            .ok_or_else(|| SourceError::new("the log's checkpoint does not parse"))?;
        let size = cp.size;
        if size < from {
            return Err(PublishError::ForeignCheckpoint(format!(
                "tree size {from} is larger than the log's {size}"
            )));
        }
        // Never publish a checkpoint the tiles do not support (a source serving another
        // state than it signs would otherwise be copied as is).
        if !self.root_matches(size, &cp.root)? {
            return Err(SourceError::new(format!(
                "the log's tiles do not hash to its checkpoint root at size {size}"
            ))
            .into());
        }
        let site_changed = self
            .site
            .iter()
            .any(|f| self.site_written.get(&f.key) != Some(&f.body));
        let mut report = Report {
            size,
            from,
            ..Report::default()
        };
        let (derived, derived_mark) = self.source.derived_files(self.derived_since)?;
        if published.as_ref().is_some_and(|p| p.text == text) && !site_changed && derived.is_empty()
        {
            self.derived_since = derived_mark;
            return Ok(report);
        }
        report.changed = true;

        // 1. tiles and entry bundles, write-once
        let paths = tiles_between(from, size);
        let total = paths.len() as u64;
        progress(Progress {
            phase: "tiles",
            done: 0,
            total,
        });
        let store = Arc::clone(&self.store);
        let mut done = 0;
        // In chunks, so a backfill of a large log never holds more than a chunk in memory.
        for chunk in paths.chunks(256) {
            let mut jobs = Vec::with_capacity(chunk.len());
            for p in chunk {
                let bytes = self
                    .source
                    .tile(p)?
                    .ok_or_else(|| SourceError::new(format!("the log lacks {}", p.to_path())))?;
                jobs.push((self.key(&p.to_path()), Bytes::from(bytes)));
            }
            let mut results = futures::stream::iter(jobs)
                .map(|(key, bytes)| {
                    let store = Arc::clone(&store);
                    async move { put_once(&*store, key, bytes).await }
                })
                .buffer_unordered(CONCURRENCY);
            while let Some(r) = results.next().await {
                match r? {
                    Written::New(n) => {
                        report.written += 1;
                        report.bytes += n;
                    }
                    Written::Same => report.already_there += 1,
                }
                done += 1;
                progress(Progress {
                    phase: "tiles",
                    done,
                    total,
                });
            }
        }

        // 2. status proofs: each embeds a checkpoint of size >= `size`
        let buckets = status::bucket_count(size);
        progress(Progress {
            phase: "status",
            done: 0,
            total: buckets,
        });
        let mut done = 0;
        let mut start = 0;
        while start < buckets {
            let end = buckets.min(start + 256);
            let mut jobs = Vec::new();
            for b in start..end {
                let proof = self
                    .source
                    .status_proof(b)?
                    .ok_or_else(|| SourceError::new(format!("the log has no status bucket {b}")))?;
                let path = cyberlabel_core::online::status_path(b);
                jobs.push(Put {
                    key: self.key(&path),
                    body: Bytes::from(proof.into_bytes()),
                    content_type: "text/plain; charset=utf-8".into(),
                    cache_control: SHORT.into(),
                });
            }
            let phase = ("status", buckets);
            put_all(&store, jobs, phase, &mut done, &mut report, progress).await?;
            start = end;
        }

        // 3. site files (trust list, page, assets), when changed
        let changed: Vec<SiteFile> = self
            .site
            .iter()
            .filter(|f| self.site_written.get(&f.key) != Some(&f.body))
            .cloned()
            .collect();
        let total = changed.len() as u64;
        for (i, f) in changed.into_iter().enumerate() {
            put_overwrite(
                &*store,
                self.key(&f.key),
                Bytes::from(f.body.clone()),
                &f.content_type,
                &f.cache_control,
            )
            .await?;
            report.written += 1;
            report.bytes += f.body.len() as u64;
            progress(Progress {
                phase: "site",
                done: i as u64 + 1,
                total,
            });
            self.site_written.insert(f.key, f.body);
        }

        // 4. files derived from the log (the register's shards), when changed
        let total = derived.len() as u64;
        let jobs = derived
            .into_iter()
            .map(|f| Put {
                key: self.key(&f.key),
                body: Bytes::from(f.body),
                content_type: f.content_type,
                cache_control: f.cache_control,
            })
            .collect();
        let mut done = 0;
        put_all(
            &store,
            jobs,
            ("derived", total),
            &mut done,
            &mut report,
            progress,
        )
        .await?;
        self.derived_since = derived_mark;

        // 5. the checkpoint, last, compare-and-swap
        if published.as_ref().is_none_or(|p| p.text != text) {
            let key = self.key("checkpoint");
            let mode = match &published {
                Some(p) => PutMode::Update(p.version.clone()),
                None => PutMode::Create,
            };
            let opts = PutOptions {
                mode,
                attributes: attributes("text/plain; charset=utf-8", SHORT),
                ..PutOptions::default()
            };
            let body = Bytes::from(text.clone().into_bytes());
            let n = body.len() as u64;
            let put = match store.put_opts(&key, body.into(), opts).await {
                Ok(r) => r,
                Err(
                    object_store::Error::Precondition { .. }
                    | object_store::Error::AlreadyExists { .. },
                ) => {
                    self.published = None;
                    return Err(PublishError::CheckpointRace);
                }
                Err(e) => {
                    // the request may or may not have landed: read the store again next time
                    self.published = None;
                    return Err(e.into());
                }
            };
            report.written += 1;
            report.bytes += n;
            self.published = Some(Some(Published {
                size,
                text,
                version: UpdateVersion {
                    e_tag: put.e_tag,
                    version: put.version,
                },
            }));
            progress(Progress {
                phase: "checkpoint",
                done: 1,
                total: 1,
            });
        }
        Ok(report)
    }

    /// Check the store's copy against the log: every tile and entry bundle the store's
    /// checkpoint implies must be there with the log's bytes. Returns the number of objects
    /// checked.
    ///
    /// # Errors
    /// [`PublishError::Conflict`] for the first object that differs (a tile changed in the
    /// bucket), [`PublishError::Store`] (`NotFound`) for a missing one.
    pub async fn check_store(
        &mut self,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<u64, PublishError> {
        self.published = None;
        let size = self.published_size().await?;
        let paths = tiles_between(0, size);
        let total = paths.len() as u64;
        let store = Arc::clone(&self.store);
        let mut done = 0;
        for chunk in paths.chunks(256) {
            let mut jobs = Vec::with_capacity(chunk.len());
            for p in chunk {
                let ours = self
                    .source
                    .tile(p)?
                    .ok_or_else(|| SourceError::new(format!("the log lacks {}", p.to_path())))?;
                jobs.push((self.key(&p.to_path()), ours));
            }
            let mut results = futures::stream::iter(jobs)
                .map(|(key, ours)| {
                    let store = Arc::clone(&store);
                    async move {
                        let stored = store.get(&key).await?.bytes().await?;
                        if stored == ours {
                            Ok(())
                        } else {
                            let e = PublishError::Conflict {
                                path: key.to_string(),
                                stored_len: stored.len(),
                                ours_len: ours.len(),
                            };
                            tracing::error!(path = %key, "{e}");
                            Err(e)
                        }
                    }
                })
                .buffer_unordered(CONCURRENCY);
            while let Some(r) = results.next().await {
                r?;
                done += 1;
                progress(Progress {
                    phase: "check",
                    done,
                    total,
                });
            }
        }
        Ok(total)
    }

    /// Follow the log: a cycle every `interval` (or as soon as `wake` changes), until `stop`
    /// becomes true. Store and log failures are logged and retried on the next tick; a fatal
    /// error ([`PublishError::is_fatal`], above all the alarm) is logged loudly and returned:
    /// publishing stops.
    ///
    /// # Errors
    /// The fatal [`PublishError`].
    pub async fn follow(
        mut self,
        interval: Duration,
        mut wake: tokio::sync::watch::Receiver<u64>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), PublishError> {
        let quiet = |_: Progress| {};
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let t = Instant::now();
            match self.publish_once(&quiet).await {
                Ok(r) if r.changed => tracing::info!(
                    size = r.size,
                    from = r.from,
                    written = r.written,
                    already_there = r.already_there,
                    bytes = r.bytes,
                    ms = t.elapsed().as_millis() as u64,
                    "published the read side"
                ),
                Ok(_) => {}
                Err(e) if e.is_fatal() => {
                    tracing::error!(error = %e, "PUBLISHING STOPPED: {e}");
                    return Err(e);
                }
                Err(e) => tracing::warn!(error = %e, "publishing failed; retrying"),
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                r = wake.changed() => {
                    if r.is_err() {
                        // the log is gone: keep the interval only
                        tokio::time::sleep(interval).await;
                    }
                }
                _ = stop.changed() => {}
            }
        }
    }
}

fn attributes(content_type: &str, cache_control: &str) -> Attributes {
    let mut a = Attributes::new();
    a.insert(
        Attribute::ContentType,
        AttributeValue::from(content_type.to_owned()),
    );
    a.insert(
        Attribute::CacheControl,
        AttributeValue::from(cache_control.to_owned()),
    );
    a
}

enum Written {
    /// written now, this many bytes
    New(u64),
    /// already stored with identical bytes
    Same,
}

/// Write-once: `If-None-Match: *`; an existing object with identical bytes is success, with
/// other bytes the alarm.
async fn put_once(
    store: &dyn ObjectStore,
    key: Path,
    bytes: Bytes,
) -> Result<Written, PublishError> {
    let opts = PutOptions {
        mode: PutMode::Create,
        attributes: attributes("application/octet-stream", IMMUTABLE),
        ..PutOptions::default()
    };
    match store.put_opts(&key, bytes.clone().into(), opts).await {
        Ok(_) => Ok(Written::New(bytes.len() as u64)),
        Err(
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. },
        ) => {
            let stored = store.get(&key).await?.bytes().await?;
            if stored == bytes {
                Ok(Written::Same)
            } else {
                let e = PublishError::Conflict {
                    path: key.to_string(),
                    stored_len: stored.len(),
                    ours_len: bytes.len(),
                };
                tracing::error!(path = %key, "{e}");
                Err(e)
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// An object to overwrite.
struct Put {
    key: Path,
    body: Bytes,
    content_type: String,
    cache_control: String,
}

/// Overwrite `jobs` with [`CONCURRENCY`] puts in flight, counting each in `report` and `done`
/// and reporting it to `progress` under `phase` (name, total) as it lands.
async fn put_all(
    store: &Arc<dyn ObjectStore>,
    jobs: Vec<Put>,
    (phase, total): (&'static str, u64),
    done: &mut u64,
    report: &mut Report,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<(), PublishError> {
    let mut results = futures::stream::iter(jobs)
        .map(|p| {
            let store = Arc::clone(store);
            async move {
                let n = p.body.len() as u64;
                put_overwrite(&*store, p.key, p.body, &p.content_type, &p.cache_control)
                    .await
                    .map(|()| n)
            }
        })
        .buffer_unordered(CONCURRENCY);
    while let Some(r) = results.next().await {
        report.bytes += r?;
        report.written += 1;
        *done += 1;
        progress(Progress {
            phase,
            done: *done,
            total,
        });
    }
    Ok(())
}

async fn put_overwrite(
    store: &dyn ObjectStore,
    key: Path,
    bytes: Bytes,
    content_type: &str,
    cache_control: &str,
) -> Result<(), PublishError> {
    let opts = PutOptions {
        mode: PutMode::Overwrite,
        attributes: attributes(content_type, cache_control),
        ..PutOptions::default()
    };
    store.put_opts(&key, bytes.into(), opts).await?;
    Ok(())
}
