//! `cyberlabel client …`: the issuing body's daily tool, a client of a running server.
//!
//! The server and the bearer token come from `--server` / `CYBERLABEL_SERVER` and `--token` /
//! `CYBERLABEL_TOKEN` (or `--token-file`, which keeps the secret out of the process list).
//! Commands: `issue` (one product file), `issue-bulk` (a CSV or NDJSON file, resumable; in
//! `client_bulk.rs`), `suspend`, `reinstate`, `revoke` and `renew` by log index (reasons by
//! name or code), and `minted` (what a token minted). The `token` commands use the same
//! connection flags to manage tokens over the admin API (see `serve.rs`).
//!
//! Every request is one HTTP call with a bounded body and a timeout; a refusal is reported with
//! the server's own message plus what to do next.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// Largest response body read (a bulk response of 10 000 label views is ~40 MB).
const MAX_RESPONSE: u64 = 256 * 1024 * 1024;

/// Where the server is and who we are.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Base URL of a running cyberlabel server, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "CYBERLABEL_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Bearer token (`clt_…`). Prefer the environment or --token-file: a flag is visible to
    /// other users in the process list.
    #[arg(
        long,
        env = "CYBERLABEL_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// File holding the bearer token (e.g. <data>/demo-admin.token); wins over --token and
    /// CYBERLABEL_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

impl ServerArgs {
    /// Connects (no request yet): checks the URL and loads the token.
    pub fn api(&self) -> Result<Api> {
        let Some(server) = &self.server else {
            bail!("give the server: --server URL or CYBERLABEL_SERVER=URL");
        };
        let token = match (&self.token, &self.token_file) {
            (_, Some(path)) => {
                let bytes = crate::util::read_bounded(path, 1024, "token file")?;
                String::from_utf8(bytes)
                    .with_context(|| format!("{} is not a token file", path.display()))?
            }
            (Some(t), None) => t.clone(),
            (None, None) => bail!(
                "give a bearer token: CYBERLABEL_TOKEN=clt_…, --token-file FILE or --token clt_… \
                 (an admin creates one with `cyberlabel token create --server URL`)"
            ),
        };
        Api::new(server, token.trim())
    }
}

/// A running server's API, with one bearer token.
pub struct Api {
    base: String,
    token: String,
    agent: ureq::Agent,
}

/// A response: status and parsed JSON body (`Value::Null` if the body is not JSON).
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body as JSON.
    pub json: Value,
}

impl Reply {
    /// The body if the status is 2xx; otherwise an error with the server's message and a hint.
    pub fn ok(self, what: &str) -> Result<Value> {
        if (200..300).contains(&self.status) {
            return Ok(self.json);
        }
        let msg = self.json["message"].as_str().unwrap_or("(no message)");
        let field = self.json["field"]
            .as_str()
            .map(|f| format!(" (field {f})"))
            .unwrap_or_default();
        let hint = match self.status {
            401 => {
                "\nthe token was refused (expired, revoked or mistyped): ask an admin for a new one (`cyberlabel token create --server URL`)"
            }
            403 => "\nthis token's role or schemes do not allow it: use a token that does",
            429 => "\nthe server is rate-limiting: wait and retry",
            503 => "\nthe server is shutting down: retry later (the same command is safe to rerun)",
            _ => "",
        };
        bail!(
            "{what}: the server answered {}: {msg}{field}{hint}",
            self.status
        )
    }
}

impl Api {
    /// A client for `base` (http:// or https://) presenting `token`.
    pub fn new(base: &str, token: &str) -> Result<Self> {
        let base = crate::fetch::http_base(base, "server URL")?;
        if !token.starts_with("clt_") {
            bail!("the bearer token must start with clt_ (as `cyberlabel token create` prints it)");
        }
        Ok(Self {
            base,
            token: token.to_owned(),
            agent: crate::fetch::agent(Duration::from_secs(300)),
        })
    }

    /// The token's public id (the part between `clt_` and the secret).
    pub fn token_id(&self) -> Option<&str> {
        cyberlabel_server::auth::token_id(&self.token)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    fn read(url: &str, mut resp: ureq::http::Response<ureq::Body>) -> Result<(u16, Vec<u8>)> {
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_vec()
            .with_context(|| format!("cannot read the answer of {url}"))?;
        Ok((status, body))
    }

    fn reply(url: &str, resp: ureq::http::Response<ureq::Body>) -> Result<Reply> {
        let (status, body) = Self::read(url, resp)?;
        Ok(Reply {
            status,
            json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        })
    }

    /// POST a JSON body (with an `Idempotency-Key` if given).
    pub fn post(&self, path: &str, body: &[u8], idem: Option<&str>) -> Result<Reply> {
        let url = self.url(path);
        let mut req = self
            .agent
            .post(&url)
            .header("authorization", &format!("Bearer {}", self.token))
            .header("content-type", "application/json");
        if let Some(k) = idem {
            req = req.header("idempotency-key", k);
        }
        let resp = req
            .send(body)
            .with_context(|| format!("cannot reach {url}: is the server running (--server)?"))?;
        Self::reply(&url, resp)
    }

    /// GET with the token.
    pub fn get(&self, path: &str) -> Result<Reply> {
        let url = self.url(path);
        let resp = self
            .agent
            .get(&url)
            .header("authorization", &format!("Bearer {}", self.token))
            .call()
            .with_context(|| format!("cannot reach {url}: is the server running (--server)?"))?;
        Self::reply(&url, resp)
    }

    /// GET raw bytes (images), 200 only.
    pub fn get_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let url = self.url(path);
        let resp = self
            .agent
            .get(&url)
            .call()
            .with_context(|| format!("cannot reach {url}"))?;
        let (status, body) = Self::read(&url, resp)?;
        if status != 200 {
            bail!("{url} answered {status}");
        }
        Ok(body)
    }

    /// DELETE with the token.
    pub fn delete(&self, path: &str) -> Result<Reply> {
        let url = self.url(path);
        let resp = self
            .agent
            .delete(&url)
            .header("authorization", &format!("Bearer {}", self.token))
            .call()
            .with_context(|| format!("cannot reach {url}: is the server running (--server)?"))?;
        Self::reply(&url, resp)
    }
}

/// `cyberlabel client …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Mint one label from a product file (.json or .toml, as `cyberlabel issue --product-file`
    /// reads it) and print its index and QR URL.
    Issue {
        #[command(flatten)]
        server: ServerArgs,
        /// Product description file.
        #[arg(long, value_name = "FILE")]
        product_file: PathBuf,
    },
    /// Mint from a CSV or NDJSON file of products, in chunks, resumable: rerun the same command
    /// after an interruption and nothing is minted twice.
    #[command(name = "issue-bulk", after_help = crate::client_bulk::HELP)]
    IssueBulk(crate::client_bulk::Args),
    /// Suspend a label (reversible).
    Suspend(StatusArgs),
    /// Reinstate a suspended label.
    Reinstate(StatusArgs),
    /// Revoke a label (final).
    Revoke(StatusArgs),
    /// Renew a label for new firmware: a new label superseding it (refused while suspended).
    Renew {
        #[command(flatten)]
        server: ServerArgs,
        /// Log index of the label to renew.
        index: u64,
        /// Firmware versions the new label covers.
        #[arg(long)]
        firmware_versions: String,
        /// Hardware versions, if they changed.
        #[arg(long)]
        hardware_versions: Option<String>,
        /// New expiry date YYYY-MM-DD (default: the old label's validity length from today).
        #[arg(long)]
        expires_at: Option<String>,
        /// New last day of security support, YYYY-MM-DD.
        #[arg(long)]
        support_until: Option<String>,
    },
    /// List the log indices of the labels a token minted (default: this token).
    Minted {
        #[command(flatten)]
        server: ServerArgs,
        /// Another token's id (admin tokens only).
        #[arg(long, value_name = "ID")]
        token_id: Option<String>,
    },
}

/// Arguments of the status commands.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Log index of the label.
    index: u64,
    /// Reason, by code or name, e.g. 8 or unremediated_vulnerability (`cyberlabel schemes`
    /// lists them). Default: investigation_pending (suspend), reinstated (reinstate),
    /// unspecified (revoke).
    #[arg(long)]
    reason: Option<String>,
}

/// Runs a client command.
pub fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Issue {
            server,
            product_file,
        } => issue(&server.api()?, &product_file),
        Command::IssueBulk(args) => crate::client_bulk::run(args),
        Command::Suspend(a) => status(a, "suspend"),
        Command::Reinstate(a) => status(a, "reinstate"),
        Command::Revoke(a) => status(a, "revoke"),
        Command::Renew {
            server,
            index,
            firmware_versions,
            hardware_versions,
            expires_at,
            support_until,
        } => {
            let api = server.api()?;
            let mut body = json!({ "firmware_versions": firmware_versions });
            for (k, v) in [
                ("hardware_versions", hardware_versions),
                ("expires_at", expires_at),
                ("support_until", support_until),
            ] {
                if let Some(v) = v {
                    body[k] = v.into();
                }
            }
            let view = api
                .post(
                    &format!("/labels/{index}/renew"),
                    body.to_string().as_bytes(),
                    None,
                )?
                .ok(&format!("renewing label {index}"))?;
            println!(
                "label {index} renewed by label {}: {}",
                view["index"],
                view["payload_url"].as_str().unwrap_or("")
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Minted { server, token_id } => {
            let api = server.api()?;
            let id = match token_id.as_deref().or(api.token_id()) {
                Some(id) => id.to_owned(),
                None => bail!("the token is not of the form clt_<id>_<secret>"),
            };
            let mut after: Option<u64> = None;
            loop {
                let q = after.map(|a| format!("?after={a}")).unwrap_or_default();
                let page = api
                    .get(&format!("/tokens/{id}/labels{q}"))?
                    .ok(&format!("listing what token {id} minted"))?;
                for i in page["indices"].as_array().into_iter().flatten() {
                    println!("{i}");
                }
                match page["next_after"].as_u64() {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn issue(api: &Api, path: &std::path::Path) -> Result<ExitCode> {
    let desc = crate::issue::read_product_file(path)?;
    let body = serde_json::to_vec(&desc).context("cannot encode the product description")?;
    let view = api
        .post("/labels", &body, None)?
        .ok(&format!("minting {}", path.display()))?;
    println!(
        "label {}: {}",
        view["index"],
        view["payload_url"].as_str().unwrap_or("")
    );
    Ok(ExitCode::SUCCESS)
}

fn status(a: StatusArgs, action: &str) -> Result<ExitCode> {
    let api = a.server.api()?;
    // A number goes as a number, a name as a string: the server accepts both and lists the
    // accepted reasons when it refuses one.
    let body = match a.reason.as_deref().map(str::trim) {
        None => json!({}),
        Some(r) => match r.parse::<u64>() {
            Ok(n) => json!({ "reason": n }),
            Err(_) => json!({ "reason": r }),
        },
    };
    let view = api
        .post(
            &format!("/labels/{}/{action}", a.index),
            body.to_string().as_bytes(),
            None,
        )?
        .ok(&format!("{action} label {}", a.index))?;
    println!(
        "label {} is now {} (reason {}), status record at index {}",
        a.index,
        view["status"]["state"].as_str().unwrap_or("?"),
        view["status"]["reason_name"].as_str().unwrap_or("?"),
        view["record_index"]
    );
    Ok(ExitCode::SUCCESS)
}
