//! Server configuration: a TOML file, then `CYBERLABEL_*` environment variables, then CLI flags
//! (applied by the caller) — later sources win.
//!
//! | key | env | default |
//! |---|---|---|
//! | `listen` | `CYBERLABEL_LISTEN` | `127.0.0.1:8080` |
//! | `data_dir` | `CYBERLABEL_DATA` | `data` |
//! | `issuer_key` | `CYBERLABEL_ISSUER_KEY` | – (PKCS#8 PEM) |
//! | `log_key` | `CYBERLABEL_LOG_KEY` | – (PKCS#8 PEM) |
//! | `trust_list` | `CYBERLABEL_TRUST_LIST` | – (signed trust list, `trust-list.cose`) |
//! | `trust_anchor` | `CYBERLABEL_TRUST_ANCHOR` | – (trust-list signer public key, SPKI PEM) |
//! | `origin` | `CYBERLABEL_ORIGIN` | `localhost/cyberlabel` |
//! | `verifier_url` | `CYBERLABEL_VERIFIER_URL` | `http://<listen>/v` |
//! | `www_dir` | `CYBERLABEL_WWW` | `wasm-verifier/www` |
//! | `batch_size` | `CYBERLABEL_BATCH_SIZE` | `256` |
//! | `max_delay_ms` | `CYBERLABEL_MAX_DELAY_MS` | `5` |
//! | `demo` | `CYBERLABEL_DEMO` | `false` |
//! | `body_limit` | `CYBERLABEL_BODY_LIMIT` | `65536` |
//! | `bulk_body_limit` | `CYBERLABEL_BULK_BODY_LIMIT` | `16777216` |
//! | `bulk_max_items` | `CYBERLABEL_BULK_MAX_ITEMS` | `10000` |
//! | `read_rps` / `read_burst` | `CYBERLABEL_READ_RPS` / `_READ_BURST` | `500` / `1000` per client IP |
//! | `write_rps` / `write_burst` | `CYBERLABEL_WRITE_RPS` / `_WRITE_BURST` | `100` / `200` per client IP |
//! | `heavy_rps` / `heavy_burst` | `CYBERLABEL_HEAVY_RPS` / `_HEAVY_BURST` | `20` / `40` tokens per client IP for the expensive reads (label images cost 10, label views and status proofs 1; see [`crate::routes`]) |
//! | `image_cache_bytes` | `CYBERLABEL_IMAGE_CACHE_BYTES` | `25165824` (rendered label images kept in memory, bounded in bytes) |
//! | `log_cache_bytes` | `CYBERLABEL_LOG_CACHE_BYTES` | `16777216` (the log store's page cache; half as much again for full tiles and entry bundles kept in memory) |
//! | `max_connections` | `CYBERLABEL_MAX_CONNECTIONS` | `0` = derived from the open-file limit (raised to the hard limit at start, minus a reserve for the store; see [`crate::conn`]) |
//! | `header_timeout_ms` | `CYBERLABEL_HEADER_TIMEOUT_MS` | `10000` (a new connection, or one that started a request, must deliver the whole request head within this) |
//! | `idle_timeout_ms` | `CYBERLABEL_IDLE_TIMEOUT_MS` | `60000` (a keep-alive connection with no request in progress is closed after this) |
//! | `body_timeout_ms` | `CYBERLABEL_BODY_TIMEOUT_MS` | `60000` (the whole request body must arrive within this of its head; else 408 and the connection is closed) |
//! | `shutdown_grace_secs` | `CYBERLABEL_SHUTDOWN_GRACE_SECS` | `30` |
//! | `witness_interval_secs` | `CYBERLABEL_WITNESS_INTERVAL_SECS` | `30` (re-cosigning period) |
//! | `witness_timeout_ms` | `CYBERLABEL_WITNESS_TIMEOUT_MS` | `5000` (per request) |
//! | `[[witnesses]]` `name`, `vkey`, `url` | – | none (see [`WitnessConfig`]) |
//! | `publish_url` | `CYBERLABEL_PUBLISH_URL` | empty = off; `s3://<bucket>[/<prefix>]`: publish the read side there ([`crate::publishing`]; credentials from `AWS_*`) |
//! | `publish_endpoint` | `CYBERLABEL_PUBLISH_ENDPOINT` | empty = AWS; an S3-compatible server, e.g. `http://127.0.0.1:9000` |
//! | `publish_interval_secs` | `CYBERLABEL_PUBLISH_INTERVAL_SECS` | `10` (besides after every append: refreshed cosignatures) |
//!
//! Witnesses are given as TOML tables, one per witness:
//!
//! ```toml
//! [[witnesses]]
//! name = "witness.example.org/w1"                       # its note key name
//! vkey = "witness.example.org/w1+1a2b3c4d+BB…"          # cosignature/v1 verifier key
//! url = "https://witness.example.org"                   # submission prefix (…/add-checkpoint)
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// All server settings. See the module docs for keys, env variables and defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Socket address to listen on.
    pub listen: SocketAddr,
    /// Directory of the sled database (`<data_dir>/db`) and demo artefacts.
    pub data_dir: PathBuf,
    /// Issuer signing key (PKCS#8 PEM, mode 0600).
    pub issuer_key: Option<PathBuf>,
    /// Log signing key (PKCS#8 PEM, mode 0600).
    pub log_key: Option<PathBuf>,
    /// Signed trust list (COSE_Sign1 over the JSON document).
    pub trust_list: Option<PathBuf>,
    /// Public key of the trust-list signer (the verifier page's trust anchor).
    pub trust_anchor: Option<PathBuf>,
    /// Log origin (checkpoint first line, note key name).
    pub origin: String,
    /// Public URL of the verifier page, the QR prefix (`…/v`). Empty = derived from `listen`.
    pub verifier_url: String,
    /// Directory holding the verifier web page (`index.html`, assets, `pkg/`).
    pub www_dir: PathBuf,
    /// Maximum entries per sequencer batch.
    pub batch_size: usize,
    /// Maximum time an entry waits for its batch to fill, in milliseconds.
    pub max_delay_ms: u64,
    /// Demo mode: example keys allowed (and used by default), admin token and sample labels.
    pub demo: bool,
    /// Body limit for every route except bulk issuance, in bytes.
    pub body_limit: usize,
    /// Body limit for `POST /labels/bulk`, in bytes.
    pub bulk_body_limit: usize,
    /// Maximum items in one bulk request.
    pub bulk_max_items: usize,
    /// Public read requests per second per client IP (token bucket refill rate; 0 = unlimited).
    pub read_rps: u32,
    /// Public read burst per client IP.
    pub read_burst: u32,
    /// Write (non-GET) requests per second per client IP, limited before authentication
    /// (0 = unlimited).
    pub write_rps: u32,
    /// Write (non-GET) burst per client IP.
    pub write_burst: u32,
    /// Tokens per second per client IP for the expensive reads (label images, label views with
    /// their proofs, status proofs), a bucket of its own so they cannot starve the cheap reads
    /// (0 = unlimited). Costs per route: [`crate::routes`].
    pub heavy_rps: u32,
    /// Burst of the expensive-read bucket per client IP.
    pub heavy_burst: u32,
    /// Bytes of rendered label images (QR and artwork, PNG and SVG) kept in memory.
    pub image_cache_bytes: usize,
    /// Bytes of the log store's page cache (redb), and again of full tiles kept in memory.
    pub log_cache_bytes: usize,
    /// Most connections open at once; over it a new connection is closed at once. 0 = derived
    /// from the open-file limit ([`crate::conn::default_max_connections`]).
    pub max_connections: usize,
    /// Milliseconds a connection has to deliver a complete request head, counted from its
    /// accept or from the first byte of a request after an idle spell (slowloris guard).
    pub header_timeout_ms: u64,
    /// Milliseconds a keep-alive connection may stay idle between requests.
    pub idle_timeout_ms: u64,
    /// Milliseconds a request body has to arrive completely, counted from its head.
    pub body_timeout_ms: u64,
    /// How long shutdown waits for in-flight requests before giving up.
    pub shutdown_grace_secs: u64,
    /// Witnesses that cosign the log's checkpoints (C2SP tlog-witness); empty = none.
    pub witnesses: Vec<WitnessConfig>,
    /// Seconds between re-submissions of the latest checkpoint to every witness (fresh
    /// cosignature timestamps even when nothing was appended); 0 = only after appends.
    pub witness_interval_secs: u64,
    /// Timeout of one request to a witness, in milliseconds.
    pub witness_timeout_ms: u64,
    /// `s3://<bucket>[/<prefix>]` to publish the read side to; empty = do not publish.
    pub publish_url: String,
    /// Endpoint of an S3-compatible server (plain `http://` allowed); empty = AWS.
    pub publish_endpoint: String,
    /// Seconds between publishing cycles when nothing was appended (cosignature refreshes).
    pub publish_interval_secs: u64,
}

/// One witness the log submits its checkpoints to (C2SP tlog-witness). Its `name` and `vkey`
/// are what a trust list's `witnesses` entry holds; the `url` is deployment configuration and
/// stays out of the signed trust-list format.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// The witness's note key name (must equal the vkey's name).
    pub name: String,
    /// Its cosignature/v1 verifier key `<name>+<id>+<base64(0x04 ‖ key)>`.
    pub vkey: String,
    /// Its submission prefix, e.g. `https://witness.example.org`; the log POSTs to
    /// `<url>/add-checkpoint`.
    pub url: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            issuer_key: None,
            log_key: None,
            trust_list: None,
            trust_anchor: None,
            origin: "localhost/cyberlabel".into(),
            verifier_url: String::new(),
            www_dir: PathBuf::from("wasm-verifier/www"),
            batch_size: 256,
            max_delay_ms: 5,
            demo: false,
            body_limit: 64 * 1024,
            bulk_body_limit: 16 * 1024 * 1024,
            bulk_max_items: 10_000,
            read_rps: 500,
            read_burst: 1000,
            write_rps: 100,
            write_burst: 200,
            heavy_rps: 20,
            heavy_burst: 40,
            image_cache_bytes: 24 * 1024 * 1024,
            log_cache_bytes: 16 * 1024 * 1024,
            max_connections: 0,
            header_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            body_timeout_ms: 60_000,
            shutdown_grace_secs: 30,
            witnesses: Vec::new(),
            witness_interval_secs: 30,
            witness_timeout_ms: 5000,
            publish_url: String::new(),
            publish_endpoint: String::new(),
            publish_interval_secs: 10,
        }
    }
}

/// Configuration loading failures.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for [`Config`].
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// File.
        path: PathBuf,
        /// Cause.
        source: toml::de::Error,
    },
    /// An environment variable has an invalid value.
    #[error("invalid value for environment variable {var}: {message}")]
    Env {
        /// Variable name.
        var: &'static str,
        /// Why.
        message: String,
    },
}

impl Config {
    /// Loads defaults, then `file` (if given), then the environment.
    ///
    /// # Errors
    /// Unreadable or invalid file, or an unparsable environment value.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.into(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.into(),
                    source,
                })?
            }
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        Ok(cfg)
    }

    /// Applies `CYBERLABEL_*` variables read through `get` (injected for tests).
    ///
    /// # Errors
    /// An unparsable value.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(var: &'static str, v: &str) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            v.trim().parse().map_err(|e: T::Err| ConfigError::Env {
                var,
                message: e.to_string(),
            })
        }
        macro_rules! env {
            ($var:literal, $field:expr, path) => {
                if let Some(v) = get($var) {
                    $field = Some(PathBuf::from(v));
                }
            };
            ($var:literal, $field:expr, string) => {
                if let Some(v) = get($var) {
                    $field = v;
                }
            };
            ($var:literal, $field:expr) => {
                if let Some(v) = get($var) {
                    $field = parse($var, &v)?;
                }
            };
        }
        env!("CYBERLABEL_LISTEN", self.listen);
        if let Some(v) = get("CYBERLABEL_DATA") {
            self.data_dir = PathBuf::from(v);
        }
        env!("CYBERLABEL_ISSUER_KEY", self.issuer_key, path);
        env!("CYBERLABEL_LOG_KEY", self.log_key, path);
        env!("CYBERLABEL_TRUST_LIST", self.trust_list, path);
        env!("CYBERLABEL_TRUST_ANCHOR", self.trust_anchor, path);
        env!("CYBERLABEL_ORIGIN", self.origin, string);
        env!("CYBERLABEL_VERIFIER_URL", self.verifier_url, string);
        if let Some(v) = get("CYBERLABEL_WWW") {
            self.www_dir = PathBuf::from(v);
        }
        env!("CYBERLABEL_BATCH_SIZE", self.batch_size);
        env!("CYBERLABEL_MAX_DELAY_MS", self.max_delay_ms);
        env!("CYBERLABEL_DEMO", self.demo);
        env!("CYBERLABEL_BODY_LIMIT", self.body_limit);
        env!("CYBERLABEL_BULK_BODY_LIMIT", self.bulk_body_limit);
        env!("CYBERLABEL_BULK_MAX_ITEMS", self.bulk_max_items);
        env!("CYBERLABEL_READ_RPS", self.read_rps);
        env!("CYBERLABEL_READ_BURST", self.read_burst);
        env!("CYBERLABEL_WRITE_RPS", self.write_rps);
        env!("CYBERLABEL_WRITE_BURST", self.write_burst);
        env!("CYBERLABEL_HEAVY_RPS", self.heavy_rps);
        env!("CYBERLABEL_HEAVY_BURST", self.heavy_burst);
        env!("CYBERLABEL_IMAGE_CACHE_BYTES", self.image_cache_bytes);
        env!("CYBERLABEL_LOG_CACHE_BYTES", self.log_cache_bytes);
        env!("CYBERLABEL_MAX_CONNECTIONS", self.max_connections);
        env!("CYBERLABEL_HEADER_TIMEOUT_MS", self.header_timeout_ms);
        env!("CYBERLABEL_IDLE_TIMEOUT_MS", self.idle_timeout_ms);
        env!("CYBERLABEL_BODY_TIMEOUT_MS", self.body_timeout_ms);
        env!("CYBERLABEL_SHUTDOWN_GRACE_SECS", self.shutdown_grace_secs);
        env!(
            "CYBERLABEL_WITNESS_INTERVAL_SECS",
            self.witness_interval_secs
        );
        env!("CYBERLABEL_WITNESS_TIMEOUT_MS", self.witness_timeout_ms);
        env!("CYBERLABEL_PUBLISH_URL", self.publish_url, string);
        env!("CYBERLABEL_PUBLISH_ENDPOINT", self.publish_endpoint, string);
        env!(
            "CYBERLABEL_PUBLISH_INTERVAL_SECS",
            self.publish_interval_secs
        );
        Ok(())
    }

    /// The verifier URL, derived from `listen` when not configured.
    pub fn verifier_url(&self) -> String {
        if self.verifier_url.is_empty() {
            format!("http://{}/v", self.listen)
        } else {
            self.verifier_url.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\nbatch_size = 7\norigin = \"a/b\"\n",
        )
        .unwrap();
        let mut cfg: Config = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(cfg.batch_size, 7);
        cfg.apply_env(|k| match k {
            "CYBERLABEL_BATCH_SIZE" => Some("9".into()),
            "CYBERLABEL_HEADER_TIMEOUT_MS" => Some("1500".into()),
            "CYBERLABEL_MAX_CONNECTIONS" => Some("123".into()),
            "CYBERLABEL_DEMO" => Some("true".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            (cfg.batch_size, cfg.demo, cfg.origin.as_str()),
            (9, true, "a/b")
        );
        assert_eq!(cfg.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!((cfg.header_timeout_ms, cfg.max_connections), (1500, 123));
        let t: Config =
            toml::from_str("idle_timeout_ms = 5\nbody_timeout_ms = 6\nheavy_rps = 7\n").unwrap();
        assert_eq!(
            (t.idle_timeout_ms, t.body_timeout_ms, t.heavy_rps),
            (5, 6, 7)
        );
        let err = cfg
            .apply_env(|k| (k == "CYBERLABEL_LISTEN").then(|| "nope".into()))
            .unwrap_err();
        assert!(err.to_string().contains("CYBERLABEL_LISTEN"));
        assert!(toml::from_str::<Config>("unknown_key = 1").is_err());
        let w: Config = toml::from_str(
            "witness_interval_secs = 5\n[[witnesses]]\nname = \"w\"\nvkey = \"w+00000000+BA==\"\nurl = \"http://127.0.0.1:1\"\n",
        )
        .unwrap();
        assert_eq!(w.witness_interval_secs, 5);
        assert_eq!(w.witnesses[0].url, "http://127.0.0.1:1");
    }
}
