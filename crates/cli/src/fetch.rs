//! The read side of a log as an outsider sees it: plain HTTP(S) GETs of `checkpoint`, tiles,
//! entry bundles and status proofs under a log's base URL, bounded in size and time, counting
//! the bytes fetched (the auditor's incremental runs are measured by it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Largest body accepted for one read (a full entry bundle is at most 256 × 64 KiB; real ones
/// are far smaller, but the bound must not refuse a legal bundle).
pub const MAX_BODY: u64 = 256 * 65_538;

/// A log's read side at `base` (e.g. `http://127.0.0.1:8080`).
pub struct Fetcher {
    base: String,
    agent: ureq::Agent,
    fetched: AtomicU64,
    requests: AtomicU64,
}

impl Fetcher {
    /// A fetcher for the log whose read side is at `base` (trailing `/` optional).
    ///
    /// # Errors
    /// A base that is not an `http://` or `https://` URL.
    pub fn new(base: &str) -> Result<Self> {
        Ok(Self {
            base: http_base(base, "log URL")?,
            agent: agent(Duration::from_secs(30)),
            fetched: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        })
    }

    /// The base URL (no trailing slash).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// GET `<base>/<path>`: `Ok(None)` for 404, the body for 200, an error otherwise.
    ///
    /// # Errors
    /// Network failures, other statuses, bodies over [`MAX_BODY`].
    pub fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut resp = self
            .agent
            .get(&url)
            .call()
            .with_context(|| format!("cannot fetch {url}"))?;
        let status = resp.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .with_context(|| format!("cannot read the body of {url}"))?;
        self.fetched.fetch_add(body.len() as u64, Ordering::Relaxed);
        if status != 200 {
            bail!(
                "{url} answered {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            );
        }
        Ok(Some(body))
    }

    /// GET that must exist.
    ///
    /// # Errors
    /// As [`Fetcher::get`], and 404.
    pub fn get_required(&self, path: &str) -> Result<Vec<u8>> {
        self.get(path)?
            .with_context(|| format!("{}/{path} does not exist (404)", self.base))
    }

    /// Body bytes fetched so far.
    pub fn bytes_fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// Requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// `base` without its trailing `/`, refused unless it is an `http://` or `https://` URL (`what`
/// names it in the error).
///
/// # Errors
/// Any other scheme.
pub fn http_base(base: &str, what: &str) -> Result<String> {
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        bail!("{what} {base:?} must start with http:// or https://");
    }
    Ok(base.trim_end_matches('/').to_owned())
}

/// An HTTP agent that returns error statuses as responses (callers read them) and gives up on
/// a request after `timeout`.
#[must_use]
pub fn agent(timeout: Duration) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build();
    ureq::Agent::new_with_config(config)
}
