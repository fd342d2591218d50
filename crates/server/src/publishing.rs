//! Publishing the read side to an S3-compatible object store while the server runs (config
//! `publish_url`, `publish_endpoint`, `publish_interval_secs`; see [`crate::config`]).
//!
//! One task follows the log with [`cyberlabel_publish::Publisher::follow`]: after every new
//! checkpoint (the ledger's publication events) and every `publish_interval_secs` (so refreshed
//! witness cosignatures reach the bucket), it copies the new tiles and entry bundles (write
//! once), the status proofs, the trust list, the scheme catalog and the verifier page with its
//! assets (the page with its `<meta>` CSP widened as the server widens it), the public
//! register's static shards that changed (manufacturer pages and their lists), and then the
//! checkpoint. It resumes from the checkpoint already in the bucket. A different object at a
//! tile path (the alarm) is logged at error level and stops the task; the server goes on
//! serving. Credentials come from the `AWS_*` environment variables.

use std::time::Duration;

use cyberlabel_core::tiles::TilePath;
use cyberlabel_publish::{Publisher, SiteFile, Source, SourceError};

use crate::AppState;

/// The running server's log as the publisher's source.
struct ServerLog(AppState);

impl Source for ServerLog {
    fn checkpoint(&self) -> Result<String, SourceError> {
        self.0
            .service()
            .ledger()
            .checkpoint()
            .map_err(|e| SourceError::new(e.to_string()))
    }
    fn tile(&self, path: &TilePath) -> Result<Option<Vec<u8>>, SourceError> {
        self.0
            .service()
            .ledger()
            .tile(path)
            .map_err(|e| SourceError::new(e.to_string()))
    }
    fn status_proof(&self, bucket: u64) -> Result<Option<String>, SourceError> {
        self.0
            .service()
            .ledger()
            .status_proof(bucket)
            .map_err(|e| SourceError::new(e.to_string()))
    }
    /// The register's static shards: the manufacturer pages changed since `since` (each with
    /// every label), and the first-character lists that name them.
    fn derived_files(&self, since: u64) -> Result<(Vec<SiteFile>, u64), SourceError> {
        let err = |e: crate::register::RegisterError| SourceError::new(e.to_string());
        let reg = self.0.register();
        let service = self.0.service();
        reg.catch_up(service.ledger(), u64::MAX).map_err(err)?;
        let (slugs, mark) = reg.changed_since(since).map_err(err)?;
        let now = crate::now_unix();
        let verifier = |i| service.payload_url(i);
        let mut out = Vec::new();
        let mut shards = std::collections::BTreeSet::new();
        for slug in slugs {
            let Some(page) = reg
                .manufacturer_page(&slug, None, usize::MAX, now, &verifier)
                .map_err(err)?
            else {
                continue;
            };
            let body = serde_json::to_vec(&page).map_err(|e| SourceError::new(e.to_string()))?;
            out.push(file(
                &format!("register/manufacturer/{slug}.json"),
                &body,
                "application/json",
                REGISTER_CACHE,
            ));
            shards.insert(crate::register::shard_of(&slug));
        }
        for shard in shards {
            let list = reg.manufacturer_list(&shard).map_err(err)?;
            let body = serde_json::to_vec(&list).map_err(|e| SourceError::new(e.to_string()))?;
            out.push(file(
                &format!("register/manufacturers/{shard}.json"),
                &body,
                "application/json",
                REGISTER_CACHE,
            ));
        }
        Ok((out, mark))
    }
}

/// The register's shards change with the log: cached as briefly as the status proofs.
const REGISTER_CACHE: &str = "public, max-age=60";

fn file(key: &str, body: &[u8], content_type: &str, cache: &str) -> SiteFile {
    SiteFile {
        key: key.into(),
        body: body.to_vec(),
        content_type: content_type.into(),
        cache_control: cache.into(),
    }
}

/// The static files the server serves beside the log: what the page fetches.
fn site(state: &AppState) -> Vec<SiteFile> {
    let s = state.service();
    let mut out = vec![
        file(
            "trust-list",
            s.trust_list_cose(),
            "application/cose",
            "public, max-age=300",
        ),
        file(
            "trust-list.json",
            s.trust_list_json(),
            "application/json",
            "public, max-age=300",
        ),
        file(
            "schemes",
            s.schemes_json(),
            "application/json",
            "public, max-age=300",
        ),
    ];
    let www = &state.config().www_dir;
    let page = std::fs::read(www.join("index.html"))
        .map(|html| crate::www::with_connect_src(html, s.page_csp()));
    match page.and_then(|p| cyberlabel_publish::www_files(www, Some(p))) {
        Ok(files) => out.extend(files),
        Err(e) => tracing::warn!(
            www = %www.display(),
            "the verifier page is not published (not built?): {e}"
        ),
    }
    // generated by the server, not a file: after the directory's files so it wins
    out.push(file(
        "assets/config.json",
        s.site_config(),
        "application/json",
        "no-cache",
    ));
    out
}

/// Starts the publishing task if `publish_url` is configured; it ends when `stop` turns true
/// or on the alarm.
pub fn spawn(
    state: &AppState,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let cfg = state.config();
    if cfg.publish_url.is_empty() {
        return None;
    }
    let endpoint = (!cfg.publish_endpoint.is_empty()).then_some(cfg.publish_endpoint.as_str());
    let (store, prefix) = match cyberlabel_publish::s3_store(&cfg.publish_url, endpoint, None) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("publishing disabled: {e}");
            return None;
        }
    };
    let interval = Duration::from_secs(cfg.publish_interval_secs.max(1));
    let wake = state.service().ledger().subscribe();
    let publisher = Publisher::new(store, &prefix, ServerLog(state.clone())).with_site(site(state));
    let stop = stop.clone();
    tracing::info!(url = %cfg.publish_url, "publishing the read side");
    Some(tokio::spawn(async move {
        if let Err(e) = publisher.follow(interval, wake, stop).await {
            tracing::error!(error = %e, "publishing stopped: {e}");
        }
    }))
}
