//! `cyberlabel verify`: check a label the way the verifier page does and say what it means, in
//! plain words.
//!
//! Input: the payload text (`https://…#<digits>` or `CL1:<digits>`), a photo/PNG of the QR
//! code (`--image`, decoded with rqrr), or a label.cbor file (`--label`). Trust: a signed trust
//! list and its signer's public key (a file, or fetched from `--trust-list-url` and verified
//! under the pinned signer key), or `--demo` (the EXAMPLE trust-list key as the anchor, or the
//! built-in EXAMPLE trust list), or issuer public keys given directly.
//!
//! The offline part (signature, issuer, catalog, dates) comes from
//! `cyberlabel_core::verdict::verify_offline`. For a validly signed label the command then
//! checks the public log like the page: it fetches the log's checkpoint, the hash tiles on the
//! label's inclusion path and its status bucket (never anything naming the label), and
//! `cyberlabel_core::online::verify` decides, with the checkpoint this verifier saw before
//! (kept in a state file, see [`crate::seen`]) so a rollback or split view is caught. It never
//! says "Genuine" for a check it did not do: offline (`--offline`, only `--issuer-key`, no log
//! URL) or with the log unreachable it says the log and revocation were not checked and exits
//! with [`EXIT_NOT_CHECKED`].

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cyberlabel_core::catalog::Catalog;
use cyberlabel_core::claim::{Assessment, Claim};
use cyberlabel_core::online::{self, OnlineReport, StatusAnswer};
use cyberlabel_core::status::State;
use cyberlabel_core::trust::{TrustList, TrustedIssuer};
use cyberlabel_core::verdict::{Report, Verdict, verify_offline};
use cyberlabel_core::{payload, trust, view};
use cyberlabel_issuer::{dates, keys};
use serde_json::json;

use crate::fetch::Fetcher;
use crate::seen;
use crate::util::read_bounded;

/// Exit code: the label is genuine (signature, issuer, dates, in the public log, not revoked).
pub const EXIT_GENUINE: u8 = 0;
/// Exit code: altered, forged or post-dated (signature does not match, the log holds other
/// bytes at its index, or an issue date in the future).
pub const EXIT_TAMPERED: u8 = 3;
/// Exit code: not a readable label (bad payload, CBOR, COSE or claim).
pub const EXIT_MALFORMED: u8 = 4;
/// Exit code: not signed by an issuer trusted for this scheme at that time.
pub const EXIT_UNKNOWN_ISSUER: u8 = 5;
/// Exit code: genuine but past its expiry.
pub const EXIT_EXPIRED: u8 = 6;
/// Exit code: revoked, suspended or superseded by its issuer.
pub const EXIT_REVOKED: u8 = 7;
/// Exit code: not in the public log (never logged), or the log is inconsistent with what this
/// verifier saw before (rollback, split view).
pub const EXIT_NOT_IN_LOG: u8 = 8;
/// Exit code: the signature is valid, but the log and revocation were not checked (offline,
/// log unreachable, or its answer could not be verified, e.g. stale cosignatures).
pub const EXIT_NOT_CHECKED: u8 = 9;

/// Exit codes, shown in `verify --help`.
pub const EXIT_CODES_HELP: &str = "Exit codes:\n  \
0  genuine: valid signature from a trusted issuer, in the public log, not revoked\n  \
1  could not verify (bad input, unreadable file, no QR code found, no trust given, trust list\n     \
unreachable or older than one seen before)\n  \
2  bad command line\n  \
3  tampered or forged, post-dated, or signed with a key reported compromised\n  \
4  malformed: not a readable cyberlabel label\n  \
5  unknown issuer: not signed by an issuer trusted for this scheme at that time\n  \
6  expired: genuine, but past its expiry date\n  \
7  revoked, suspended or superseded by its issuer\n  \
8  not in the public log (never logged, or the log holds another entry at its index), or the\n     \
log is inconsistent with what was seen before\n     \
(rollback, split view)\n  \
9  signature valid, but the log and revocation were NOT checked (--offline, only --issuer-key,\n     \
no log URL, log unreachable, or its answer could not be verified)\n\n\
The state file (--state) remembers, per log, the newest checkpoint verified and, per trust-list\n\
signer, the newest trust-list version: a log showing an older state, or an older trust list,\n\
is refused.";

/// Arguments of `verify`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("tl_source").args(["trust_list", "trust_list_url"])))]
#[command(group(clap::ArgGroup::new("tl_anchor").args(["trust_list_signer", "demo"])))]
pub struct Args {
    /// The payload text: `https://<host>/v#<digits>` or `CL1:<digits>`.
    #[arg(required_unless_present_any = ["image", "label"], conflicts_with_all = ["image", "label"])]
    payload: Option<String>,
    /// A photo or PNG of the label's QR code (PNG or JPEG).
    #[arg(long, conflicts_with = "label")]
    image: Option<PathBuf>,
    /// A label.cbor file written by `issue`.
    #[arg(long)]
    label: Option<PathBuf>,
    /// Signed trust list (trust-list.cose), verified with --trust-list-signer.
    #[arg(long, requires = "trust_list_signer")]
    trust_list: Option<PathBuf>,
    /// Fetch the signed trust list from this URL (a log serves the list it enforces at
    /// `<log URL>/trust-list`) and verify it under the pinned --trust-list-signer (or, with
    /// --demo, the EXAMPLE trust-list key). The log URL defaults to this URL's base.
    #[arg(long, value_name = "URL", requires = "tl_anchor")]
    trust_list_url: Option<String>,
    /// The trust-list signer's public key (SPKI PEM): your trust anchor.
    #[arg(long, requires = "tl_source")]
    trust_list_signer: Option<PathBuf>,
    /// Trust this issuer public key (SPKI PEM, from `keygen`) for every scheme (repeatable);
    /// without a trust list the log cannot be checked.
    #[arg(long)]
    issuer_key: Vec<PathBuf>,
    /// Use the EXAMPLE trust-list key as the anchor (with --trust-list-url), or the built-in
    /// EXAMPLE trust list: demos only.
    #[arg(long)]
    demo: bool,
    /// The log's base URL (default: the URL the trust list names for the log of the label's
    /// issuer — a partner's log for a partner's label — or, for the list's own log, the base
    /// of --trust-list-url).
    #[arg(long, value_name = "URL")]
    log_url: Option<String>,
    /// Do not contact the log: check the signature only (the verdict then says that the log
    /// and revocation were not checked, exit 9).
    #[arg(long)]
    offline: bool,
    /// State file remembering the newest checkpoint per log and trust-list version per signer
    /// (default: $XDG_STATE_HOME/cyberlabel/seen.json or ~/.local/state/cyberlabel/seen.json).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Machine-readable output (JSON on stdout).
    #[arg(long)]
    json: bool,
    /// Verify as of this Unix time instead of now.
    #[arg(long)]
    now: Option<u64>,
}

/// The exit code of a verdict (the table in [`EXIT_CODES_HELP`]).
#[must_use]
pub fn exit_code(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Genuine => EXIT_GENUINE,
        Verdict::Revoked(_) | Verdict::Suspended(_) | Verdict::Superseded => EXIT_REVOKED,
        Verdict::Expired => EXIT_EXPIRED,
        Verdict::UnknownIssuer => EXIT_UNKNOWN_ISSUER,
        Verdict::Tampered | Verdict::NotYetValid | Verdict::KeyCompromised => EXIT_TAMPERED,
        Verdict::NotInLog | Verdict::LogInconsistent => EXIT_NOT_IN_LOG,
        Verdict::Malformed => EXIT_MALFORMED,
        Verdict::CannotCheck => EXIT_NOT_CHECKED,
        // a verdict this version does not know: never "genuine"
        _ => crate::util::EXIT_ERROR,
    }
}

/// The trust the command runs with.
struct Trust {
    list: TrustList,
    /// the trust-list signer key (hex), when a signed list is used: the state file's key
    anchor: Option<String>,
    /// where the trust list was fetched from, when it was (its base is the default log URL)
    fetched_from: Option<String>,
    /// only --issuer-key: there is no log to check against
    issuer_keys_only: bool,
}

fn split_url(url: &str) -> Result<(&str, &str)> {
    let Some((base, last)) = url.trim_end_matches('/').rsplit_once('/') else {
        bail!("--trust-list-url {url:?} is not a URL");
    };
    if !base.contains("://") || last.is_empty() {
        bail!(
            "--trust-list-url {url:?}: give the trust list's URL, e.g. http://host:8080/trust-list"
        );
    }
    Ok((base, last))
}

fn trust_list(args: &Args, catalog: &Catalog, now: u64) -> Result<Trust> {
    let signer = match (&args.trust_list_signer, args.demo) {
        (Some(path), _) => {
            Some(keys::load_public_key(path).context(
                "cannot load --trust-list-signer: give the signer's SPKI PEM public key",
            )?)
        }
        (None, true) if args.trust_list_url.is_some() => {
            eprintln!(
                "WARNING: --demo: trusting the EXAMPLE trust-list key (keys-example/) as the \
                 anchor; demos only."
            );
            Some(
                keys::load_example_trust_list_key()
                    .context("the built-in example trust-list key is corrupt (rebuild cyberlabel)")?
                    .verifying_key(),
            )
        }
        _ => None,
    };
    let mut fetched_from = None;
    let (mut list, anchor) = if let (Some(url), Some(signer)) = (&args.trust_list_url, &signer) {
        let (base, path) = split_url(url)?;
        let fetcher = Fetcher::new(base)?;
        let bytes = fetcher
            .get_required(path)
            .with_context(|| format!("cannot fetch the trust list from {url}"))?;
        let list = TrustList::from_signed(&bytes, signer, now).with_context(|| {
            format!(
                "the trust list at {url} does not verify under the pinned signer key, or is \
                 outside its validity window: do not trust this log's labels"
            )
        })?;
        fetched_from = Some(base.to_owned());
        (list, Some(hex::encode(signer.as_bytes())))
    } else if let (Some(file), Some(signer)) = (&args.trust_list, &signer) {
        let bytes = read_bounded(file, trust::MAX_TRUST_LIST_LEN as u64, "trust list")?;
        let list = TrustList::from_signed(&bytes, signer, now).with_context(|| {
            format!(
                "the trust list {} does not verify with that signer key, or is outside its \
                 validity window: get a current trust list from your scheme operator",
                file.display()
            )
        })?;
        (list, Some(hex::encode(signer.as_bytes())))
    } else if args.demo {
        eprintln!(
            "WARNING: --demo: trusting the built-in EXAMPLE trust list (keys-example/); demos only."
        );
        let signer = keys::load_example_trust_list_key()
            .context("the built-in example trust-list key is corrupt (rebuild cyberlabel)")?
            .verifying_key();
        (
            crate::trust_list::example_trust_list_signed(now)?,
            Some(hex::encode(signer.as_bytes())),
        )
    } else if args.issuer_key.is_empty() {
        bail!(
            "nothing to trust: give --trust-list <trust-list.cose> --trust-list-signer <pub.pem> \
             (or --trust-list-url <url> --trust-list-signer <pub.pem>), or --issuer-key \
             <issuer.pub.pem>, or --demo for the example keys"
        );
    } else {
        (
            TrustList {
                expires_at: u64::MAX,
                ..TrustList::default()
            },
            None,
        )
    };
    let issuer_keys_only = anchor.is_none();
    let mut schemes: Vec<&str> = catalog.schemes.iter().map(|s| s.id.as_str()).collect();
    schemes.dedup();
    for path in &args.issuer_key {
        let key = keys::load_public_key(path).with_context(|| {
            format!(
                "cannot load --issuer-key {}: give the .pub.pem from `cyberlabel keygen`",
                path.display()
            )
        })?;
        let name = format!("issuer key {}", path.display());
        list.issuers
            .push(TrustedIssuer::new(&name, &key, &schemes, 0, u64::MAX));
    }
    Ok(Trust {
        list,
        anchor,
        fetched_from,
        issuer_keys_only,
    })
}

fn label_bytes(args: &Args) -> Result<std::result::Result<Vec<u8>, String>> {
    if let Some(path) = &args.label {
        return Ok(Ok(read_bounded(path, 64 * 1024, "label file")?));
    }
    let texts = match (&args.payload, &args.image) {
        (Some(text), _) => vec![text.trim().to_owned()],
        (None, Some(path)) => crate::photo::decode_qr_texts(path)?,
        (None, None) => bail!("give the payload text, --image <photo.png> or --label <label.cbor>"),
    };
    // A photo may show several codes: take the first that decodes as a label payload.
    let mut first_error = None;
    for text in &texts {
        match payload::decode(text) {
            Ok(bytes) => return Ok(Ok(bytes)),
            Err(e) => {
                first_error
                    .get_or_insert(format!("the QR payload is not a cyberlabel payload: {e}"));
            }
        }
    }
    Ok(Err(first_error.unwrap_or_else(|| "no payload".into())))
}

/// The claim as core's one label view (the same JSON the API and the page use).
fn claim_json(claim: &Claim, catalog: &Catalog) -> serde_json::Value {
    serde_json::to_value(cyberlabel_core::view::LabelView::of(claim, catalog))
        .unwrap_or(serde_json::Value::Null)
}

/// Appends a formatted line to a `String`.
macro_rules! line {
    ($out:expr) => { $out.push('\n') };
    ($out:expr, $($fmt:tt)*) => {{
        $out.push_str(&format!($($fmt)*));
        $out.push('\n');
    }};
}

/// What the command concluded: core's verdict (its words are the page's), and for
/// [`Verdict::CannotCheck`] why the log was not checked.
struct Outcome {
    verdict: Verdict,
    not_checked: Option<String>,
}

impl Outcome {
    fn of(verdict: Verdict) -> Self {
        Self {
            verdict,
            not_checked: None,
        }
    }

    fn not_checked(reason: &str) -> Self {
        Self {
            verdict: Verdict::CannotCheck,
            not_checked: Some(reason.to_owned()),
        }
    }

    fn code(&self) -> u8 {
        exit_code(self.verdict)
    }

    /// The claim's contents are vouched for: the signature is valid, the issuer trusted, and
    /// the log has not proven it off the record.
    fn trusted(&self) -> bool {
        matches!(
            self.verdict,
            Verdict::Genuine
                | Verdict::Expired
                | Verdict::Revoked(_)
                | Verdict::Suspended(_)
                | Verdict::Superseded
                | Verdict::CannotCheck
        )
    }

    /// Partner-scheme equivalents apply (genuine or expired).
    fn equivalents(&self) -> bool {
        matches!(self.verdict, Verdict::Genuine | Verdict::Expired)
    }
}

fn online_outcome(report: &OnlineReport) -> Outcome {
    match report.verdict {
        Verdict::CannotCheck => {
            let reason = online_problem(report).unwrap_or_else(|| "no answer".into());
            Outcome::not_checked(&format!("the log's answer: {reason}"))
        }
        v => Outcome::of(v),
    }
}

/// The first failure of the online checks, in words.
fn online_problem(report: &OnlineReport) -> Option<String> {
    match (&report.log, &report.status) {
        (Some(Err(e)), _) => Some(format!("log: {e}")),
        (_, Some(Err(e))) => Some(format!("status: {e}")),
        (None, _) => Some("log: not fetched".into()),
        (_, Some(Ok(a))) if a.state == State::None => {
            Some("status: the status map has no label at this index".into())
        }
        _ => None,
    }
}

fn state_json(answer: &StatusAnswer) -> serde_json::Value {
    let name = answer.state.name();
    match answer.state {
        State::Active | State::None => json!({"state": name, "size": answer.size}),
        _ => json!({"state": name, "reason": answer.reason, "size": answer.size}),
    }
}

fn print_human(
    out: &mut String,
    outcome: &Outcome,
    report: &Report,
    catalog: &Catalog,
    list: &TrustList,
    now: u64,
) {
    let mark = if outcome.code() == EXIT_GENUINE {
        "✔"
    } else {
        "✘"
    };
    line!(out, "{mark} {}", outcome.verdict.headline());
    line!(out, "{}", outcome.verdict.explain());
    if let Some(reason) = &outcome.not_checked {
        line!(out, "  not checked: {reason}");
    }
    if let Some(problem) = &report.problem {
        line!(out, "  reason: {problem}");
    }
    let Some(claim) = &report.claim else { return };
    let trusted = outcome.trusted();
    let label = |s: &str| {
        if trusted {
            s.to_owned()
        } else {
            format!("claimed {s}")
        }
    };
    let scheme = catalog.scheme(&claim.scheme, claim.catalog_version);
    line!(out);
    line!(
        out,
        "  {:<24}{}{}",
        label("scheme:"),
        claim.scheme,
        scheme.map(|s| format!(" — {}", s.name)).unwrap_or_default()
    );
    if let Some((_, level)) = catalog.level_of(claim) {
        line!(
            out,
            "  {:<24}{}: {}",
            label("level:"),
            level.name,
            level.meaning
        );
    } else {
        line!(out, "  {:<24}{}", label("level:"), claim.level);
    }
    line!(out, "  {:<24}{}", label("product:"), claim.product);
    line!(
        out,
        "  {:<24}{}",
        label("manufacturer:"),
        claim.manufacturer
    );
    line!(
        out,
        "  {:<24}hardware {}, firmware {}",
        label("versions covered:"),
        claim.hardware_versions,
        claim.firmware_versions
    );
    if let Some(c) = catalog.category(claim.category) {
        line!(out, "  {:<24}{}", label("category:"), c.name);
    }
    line!(
        out,
        "  {:<24}{}",
        label("security updates until:"),
        dates::format_date(claim.support_end)
    );
    line!(
        out,
        "  {:<24}{} through {}",
        label("valid:"),
        dates::format_date(claim.issued_at),
        // expires_at is the first moment the label is no longer valid.
        dates::format_date(claim.expires_at.saturating_sub(1))
    );
    match &claim.assessment {
        Assessment::SelfDeclared => line!(
            out,
            "  {:<24}self-declared by the manufacturer",
            label("assessment:")
        ),
        Assessment::ThirdParty { lab } => match catalog.lab(&claim.scheme, *lab) {
            Some(l) => line!(
                out,
                "  {:<24}third-party lab {} ({})",
                label("assessment:"),
                l.name,
                l.id
            ),
            None => line!(
                out,
                "  {:<24}third-party lab code {lab} (not in this catalog)",
                label("assessment:")
            ),
        },
    }
    line!(out, "  {:<24}{}", "serial (log index):", claim.serial);
    if let Some(issuer) = &report.issuer {
        line!(
            out,
            "  {:<24}{} (key id {})",
            "issuer:",
            issuer.name,
            hex::encode(issuer.kid)
        );
    } else if let Some(kid) = report.kid {
        line!(
            out,
            "  {:<24}unknown key id {}",
            "issuer:",
            hex::encode(kid)
        );
    }
    if outcome.equivalents() {
        for e in view::equivalents(claim, list, catalog, now) {
            line!(out, "  {:<24}{} ({})", "also:", e.text, e.basis);
        }
    }
}

fn print_online(out: &mut String, report: &OnlineReport, log_url: &str) {
    match &report.log {
        Some(Ok(inc)) => line!(
            out,
            "  {:<24}in {} ({log_url}) at tree size {}, {} witness cosignature(s)",
            "public log:",
            inc.origin,
            inc.size,
            inc.witnesses
        ),
        Some(Err(e)) => line!(out, "  {:<24}{e} ({log_url})", "public log:"),
        None => line!(out, "  {:<24}not checked", "public log:"),
    }
    match &report.status {
        Some(Ok(a)) => line!(
            out,
            "  {:<24}{} (as of tree size {})",
            "status:",
            state_json(a)["state"].as_str().unwrap_or("unknown"),
            a.size
        ),
        Some(Err(e)) => line!(out, "  {:<24}{e}", "status:"),
        None => line!(out, "  {:<24}not checked", "status:"),
    }
}

/// Writes the output; a closed pipe (`verify … | head -1`) is not an error.
fn emit(text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write the result")
        }
        _ => Ok(()),
    }
}

/// Runs an online check, again a few times while the log's newest checkpoint still lacks its
/// witness quorum: right after an append the log publishes the checkpoint before its
/// witnesses have answered (milliseconds on a LAN), and a verifier that asks in that moment
/// should wait for the cosignatures rather than give up.
fn awaiting_witnesses(
    mut check: impl FnMut() -> Result<(OnlineReport, Option<String>), String>,
) -> Result<(OnlineReport, Option<String>), String> {
    use cyberlabel_core::checkpoint::CheckpointError;
    let mut attempt = 0;
    loop {
        let (report, origin) = check()?;
        let waiting = matches!(
            report.log,
            Some(Err(online::OnlineError::Checkpoint(
                CheckpointError::QuorumNotMet { .. }
            )))
        );
        attempt += 1;
        if !waiting || attempt >= 4 {
            return Ok((report, origin));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// One online check: fetch checkpoint, planned tiles and status bucket, verify.
fn check_online(
    fetcher: &Fetcher,
    label: &[u8],
    serial: u64,
    list: &TrustList,
    catalog: &Catalog,
    now: u64,
    state: Option<&seen::State>,
) -> Result<(OnlineReport, Option<String>), String> {
    let checkpoint = fetcher
        .get_required("checkpoint")
        .map_err(|e| format!("{e:#}"))?;
    let origin = checkpoint
        .split(|&b| b == b'\n')
        .next()
        .and_then(|l| std::str::from_utf8(l).ok())
        .map(str::to_owned);
    let seen = match (state, &origin) {
        (Some(s), Some(o)) => s.seen(o),
        _ => None,
    };
    let mut tiles: Vec<Vec<u8>> = Vec::new();
    let mut status = None;
    if let Ok(plan) = online::plan_for_label(serial, list, &checkpoint, now, seen.as_ref()) {
        for path in plan.tile_paths() {
            match fetcher.get(&path) {
                Ok(Some(body)) => tiles.push(body),
                // A missing tile leaves the inclusion unproven (cannot check).
                _ => {
                    tiles.clear();
                    break;
                }
            }
        }
        // every planned bucket, so the requests do not single the label out (online::cover)
        for path in plan.status_paths() {
            let body = fetcher.get(&path).ok().flatten();
            if path == plan.status_path() {
                status = body;
            }
        }
    }
    let tile_refs: Vec<&[u8]> = tiles.iter().map(Vec::as_slice).collect();
    let fetched = online::Fetched {
        checkpoint: Some(&checkpoint),
        tiles: &tile_refs,
        status_proof: status.as_deref(),
    };
    let report = online::verify(label, list, catalog, now, &fetched, seen.as_ref());
    Ok((report, origin))
}

/// Runs `verify`.
pub fn run(args: Args) -> Result<ExitCode> {
    let now = match args.now {
        Some(n) => n,
        None => crate::issue::now()?,
    };
    let catalog = crate::schemes::catalog()?;
    let trust = trust_list(&args, &catalog, now)?;
    let list = &trust.list;
    let state_path = args.state.clone().or_else(seen::default_path);
    let mut state = match &state_path {
        Some(p) => Some(seen::State::load(p)?),
        None => None,
    };
    let mut state_changed = false;
    if let (Some(state), Some(anchor)) = (&mut state, &trust.anchor) {
        list.check_not_older_than(state.trust_list_version(anchor))
            .with_context(|| {
                format!(
                    "refusing trust list version {}: version {} was seen before under the same \
                     signer (a rolled-back list; with demo servers, which each start at version \
                     1, use another --state file)",
                    list.version,
                    state.trust_list_version(anchor)
                )
            })?;
        if list.version > state.trust_list_version(anchor) {
            state.remember_trust_list(anchor, list.version);
            state_changed = true;
        }
    }
    let mut out = String::new();
    let bytes = match label_bytes(&args)? {
        Ok(bytes) => bytes,
        Err(reason) => {
            // Not decodable as a payload: a malformed label, reported like any other verdict.
            if args.json {
                let j = json!({
                    "verdict": Verdict::Malformed.name(),
                    "headline": Verdict::Malformed.headline(),
                    "explanation": Verdict::Malformed.explain(),
                    "problem": reason,
                });
                line!(out, "{j}");
            } else {
                line!(out, "✘ {}", Verdict::Malformed.headline());
                line!(out, "{}", Verdict::Malformed.explain());
                line!(out, "  reason: {reason}");
            }
            emit(&out)?;
            return Ok(ExitCode::from(EXIT_MALFORMED));
        }
    };
    let report = verify_offline(&bytes, list, &catalog, now);
    // The log this issuer's labels are in (a partner's, for a partner's issuer), at the URL the
    // signed trust list names; the deployment's own log (the list's first) may also be reached
    // where the list was fetched from.
    let issuer_log = report.kid.and_then(|kid| list.log_of_issuer(&kid));
    let own_log =
        issuer_log.is_none_or(|l| list.logs.first().is_some_and(|f| f.origin == l.origin));
    let log_url = args
        .log_url
        .clone()
        .or_else(|| issuer_log.map(|l| l.url.clone()).filter(|u| !u.is_empty()))
        .or_else(|| trust.fetched_from.clone().filter(|_| own_log));
    let mut online_report = None;
    let outcome = match (&report.claim, report.verdict.offline_passed()) {
        (Some(claim), true) => {
            if args.offline {
                Outcome::not_checked("--offline")
            } else if trust.issuer_keys_only {
                Outcome::not_checked("only issuer keys were given, no trust list naming a log")
            } else if let Some(url) = &log_url {
                let fetcher = Fetcher::new(url)?;
                match awaiting_witnesses(|| {
                    check_online(
                        &fetcher,
                        &bytes,
                        claim.serial,
                        list,
                        &catalog,
                        now,
                        state.as_ref(),
                    )
                }) {
                    Ok((r, origin)) => {
                        if let (Some(newest), Some(origin), Some(state)) =
                            (r.newest, origin, &mut state)
                        {
                            state.remember(&origin, newest);
                            state_changed = true;
                        }
                        let o = online_outcome(&r);
                        online_report = Some(r);
                        o
                    }
                    Err(e) => Outcome::not_checked(&format!("the log is unreachable: {e}")),
                }
            } else {
                Outcome::not_checked("no log URL: give --log-url")
            }
        }
        _ => Outcome::of(report.verdict),
    };
    // Expired is a definite answer without the log: say it rather than "not checked".
    let outcome = if outcome.verdict == Verdict::CannotCheck && report.verdict == Verdict::Expired {
        Outcome::of(Verdict::Expired)
    } else {
        outcome
    };
    if state_changed && let (Some(state), Some(path)) = (&state, &state_path) {
        state.save(path).context("cannot save the verifier state")?;
    }
    let url = log_url.as_deref().unwrap_or("");
    if args.json {
        let equivalents = match &report.claim {
            Some(c) if outcome.equivalents() => view::equivalents(c, list, &catalog, now),
            _ => vec![],
        };
        let online = online_report.as_ref().map(|r| {
            json!({
                "log_url": url,
                "log": match &r.log {
                    Some(Ok(i)) => json!({"origin": i.origin, "size": i.size, "witnesses": i.witnesses, "witnessed_at": i.witnessed_at}),
                    Some(Err(e)) => json!({"error": e.to_string()}),
                    None => serde_json::Value::Null,
                },
                "status": match &r.status {
                    Some(Ok(a)) => state_json(a),
                    Some(Err(e)) => json!({"error": e.to_string()}),
                    None => serde_json::Value::Null,
                },
            })
        });
        let j = json!({
            "verdict": outcome.verdict.name(),
            "headline": outcome.verdict.headline(),
            "explanation": outcome.verdict.explain(),
            "not_checked": outcome.not_checked,
            "log_checked": online_report.as_ref().is_some_and(|r| r.verdict != Verdict::CannotCheck),
            "offline": report.verdict.name(),
            "problem": report.problem.as_ref().map(|p| p.to_string()),
            "kid": report.kid.map(hex::encode),
            "issuer": report.issuer.as_ref().map(|i| json!({"name": i.name, "kid": hex::encode(i.kid), "schemes": i.schemes})),
            "claim": report.claim.as_ref().map(|c| claim_json(c, &catalog)),
            "equivalents": equivalents,
            "online": online,
            "verified_at": now,
        });
        line!(out, "{j}");
    } else {
        print_human(&mut out, &outcome, &report, &catalog, list, now);
        if let Some(r) = &online_report {
            print_online(&mut out, r, url);
        }
    }
    emit(&out)?;
    Ok(ExitCode::from(outcome.code()))
}
