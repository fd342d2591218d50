//! `cyberlabel trust-list create | add-issuer | add-log | add-equivalence | end-equivalence`:
//! the edits that build a trust list up — a scheme's own issuers and log, and a partner
//! deployment's issuers and log (with that log's own witness policy) for mutual recognition.
//! Each edit raises the version, like every edit in [`crate::trust_list`].

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cyberlabel_core::catalog::Catalog;
use cyberlabel_core::note::{KeyKind, VerifierKey};
use cyberlabel_core::trust::{Effect, Equivalence, TrustList, TrustedIssuer, TrustedLog};
use cyberlabel_issuer::{dates, keys};

use crate::trust_list::{edit, write};

/// `trust-list create`.
#[derive(Debug, clap::Args)]
pub struct Create {
    /// The trust-list JSON file to write (refused if it exists).
    #[arg(long)]
    json: PathBuf,
    /// How long the list is valid from now, in days (verifiers refuse it afterwards).
    #[arg(long, default_value_t = 365)]
    valid_days: u64,
}

/// `trust-list add-issuer`.
#[derive(Debug, clap::Args)]
pub struct AddIssuer {
    /// The trust-list JSON file to edit.
    #[arg(long)]
    json: PathBuf,
    /// The issuing body's name, as verifiers show it.
    #[arg(long)]
    name: String,
    /// The issuer's public key (SPKI PEM, from `cyberlabel keygen`).
    #[arg(long)]
    public_key: PathBuf,
    /// A scheme id it may issue labels for (repeatable; see `cyberlabel schemes`).
    #[arg(long = "scheme", required = true)]
    schemes: Vec<String>,
    /// The origin of the log its labels are recorded in, when it is not this list's first log
    /// (a partner deployment's issuer).
    #[arg(long)]
    log: Option<String>,
    /// First day the key may sign (YYYY-MM-DD; default today).
    #[arg(long)]
    not_before: Option<String>,
    /// Last day the key may sign (YYYY-MM-DD; default the list's expiry).
    #[arg(long)]
    not_after: Option<String>,
}

/// `trust-list add-log`.
#[derive(Debug, clap::Args)]
pub struct AddLog {
    /// The trust-list JSON file to edit.
    #[arg(long)]
    json: PathBuf,
    /// The log's C2SP verifier key `<origin>+<id>+<base64>` (its origin is the key name).
    #[arg(long)]
    vkey: String,
    /// Base URL of its read side (`<url>/checkpoint`, `/tile/…`, `/status/…`). The verifier
    /// page fetches a partner's log only from this URL.
    #[arg(long)]
    url: String,
    /// Maximum merge delay in seconds (how long the log may take to include a label).
    #[arg(long, default_value_t = 0)]
    max_merge_delay: u64,
}

/// `trust-list add-equivalence`.
#[derive(Debug, clap::Args)]
pub struct AddEquivalence {
    /// The trust-list JSON file to edit.
    #[arg(long)]
    json: PathBuf,
    /// The scheme of the label held.
    #[arg(long)]
    from: String,
    /// Minimum level of the label held.
    #[arg(long, default_value_t = 1)]
    from_level_min: u8,
    /// The scheme it is recognised in.
    #[arg(long)]
    to: String,
    /// The level it counts as there.
    #[arg(long)]
    to_level: u8,
    /// `recognised`, `simplified_application` or `requirement_waiver`.
    #[arg(long, default_value = "recognised")]
    effect: String,
    /// Category code in scope (repeatable; none = all not excluded).
    #[arg(long = "include-category")]
    include: Vec<u16>,
    /// Category code out of scope (repeatable).
    #[arg(long = "exclude-category")]
    exclude: Vec<u16>,
    /// Requirement id waived (repeatable; with `requirement_waiver`).
    #[arg(long = "waive")]
    waived: Vec<String>,
    /// First day it applies (YYYY-MM-DD; default today).
    #[arg(long)]
    effective_from: Option<String>,
    /// The arrangement it comes from, e.g. "SG-DE MRA (2022)".
    #[arg(long)]
    basis: String,
}

/// `trust-list end-equivalence`.
#[derive(Debug, clap::Args)]
pub struct EndEquivalence {
    /// The trust-list JSON file to edit.
    #[arg(long)]
    json: PathBuf,
    /// The scheme of the label held.
    #[arg(long)]
    from: String,
    /// The scheme it is recognised in.
    #[arg(long)]
    to: String,
    /// First day it no longer applies (YYYY-MM-DD).
    #[arg(long)]
    on: String,
}

/// Runs `trust-list create`.
pub fn create(args: &Create) -> Result<ExitCode> {
    if args.json.exists() {
        bail!(
            "{} exists: edit it with the other trust-list commands instead",
            args.json.display()
        );
    }
    let now = crate::issue::now()?;
    let list = TrustList {
        version: 1,
        issued_at: now,
        expires_at: now.saturating_add(args.valid_days.saturating_mul(dates::DAY)),
        ..TrustList::default()
    };
    write(&args.json, list.to_json().as_bytes())?;
    println!(
        "created {} (version 1, valid {} days): add issuers and logs, then sign it",
        args.json.display(),
        args.valid_days
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `trust-list add-issuer`.
pub fn add_issuer(args: &AddIssuer) -> Result<ExitCode> {
    let key = keys::load_public_key(&args.public_key)
        .with_context(|| format!("cannot load {}", args.public_key.display()))?;
    let catalog = Catalog::builtin();
    for s in &args.schemes {
        if catalog.latest(s).is_none() {
            let known: Vec<&str> = catalog.schemes.iter().map(|s| s.id.as_str()).collect();
            bail!("unknown scheme {s:?}: one of {}", known.join(", "));
        }
    }
    edit(&args.json, |list| {
        let not_before = match &args.not_before {
            Some(d) => day(d)?,
            None => crate::issue::now()? / dates::DAY * dates::DAY,
        };
        let not_after = match &args.not_after {
            Some(d) => day(d)?.saturating_add(dates::DAY - 1),
            None => list.expires_at,
        };
        if let Some(origin) = &args.log
            && !list.logs.iter().any(|l| &l.origin == origin)
        {
            bail!("no log {origin:?} in the list: add it first with `trust-list add-log`");
        }
        let schemes: Vec<&str> = args.schemes.iter().map(String::as_str).collect();
        let mut issuer = TrustedIssuer::new(&args.name, &key, &schemes, not_before, not_after);
        issuer.log.clone_from(&args.log);
        if list.issuers.iter().any(|i| i.kid == issuer.kid) {
            bail!("issuer key {} is already listed", issuer.kid);
        }
        let said = format!(
            "issuer key {} added: {} for {}",
            issuer.kid,
            args.name,
            args.schemes.join(", ")
        );
        list.issuers.push(issuer);
        Ok(said)
    })
}

/// Runs `trust-list add-log`.
pub fn add_log(args: &AddLog) -> Result<ExitCode> {
    let key = VerifierKey::parse(args.vkey.trim())
        .map_err(|e| anyhow::anyhow!("not a C2SP verifier key: {e}"))?;
    if key.kind() != KeyKind::Ed25519 {
        bail!("{} is not a log (Ed25519 note) key", key.name());
    }
    let url = args.url.trim().trim_end_matches('/');
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        bail!("--url {url:?}: give the log's http(s) base URL");
    }
    edit(&args.json, |list| {
        if list.logs.iter().any(|l| l.origin == key.name()) {
            bail!("a log with origin {} is already listed", key.name());
        }
        list.logs.push(TrustedLog {
            origin: key.name().to_owned(),
            vkey: key.to_string(),
            url: url.to_owned(),
            max_merge_delay: args.max_merge_delay,
            witness_policy: None,
        });
        Ok(format!("log {} added ({url})", key.name()))
    })
}

/// Runs `trust-list add-equivalence`.
pub fn add_equivalence(args: &AddEquivalence) -> Result<ExitCode> {
    let effect = Effect::from_word(&args.effect).ok_or_else(|| {
        anyhow::anyhow!(
            "--effect {:?}: one of {}",
            args.effect,
            Effect::WORDS.join(", ")
        )
    })?;
    let catalog = Catalog::builtin();
    for s in [&args.from, &args.to] {
        if catalog.latest(s).is_none() {
            bail!("unknown scheme {s:?} (see `cyberlabel schemes`)");
        }
    }
    edit(&args.json, |list| {
        let effective_from = match &args.effective_from {
            Some(d) => day(d)?,
            None => crate::issue::now()? / dates::DAY * dates::DAY,
        };
        list.equivalences.push(Equivalence {
            from_scheme: args.from.clone(),
            from_level_min: args.from_level_min,
            to_scheme: args.to.clone(),
            to_level: args.to_level,
            effect,
            waived: args.waived.clone(),
            categories_included: args.include.clone(),
            categories_excluded: args.exclude.clone(),
            effective_from,
            effective_to: None,
            basis: args.basis.clone(),
        });
        Ok(format!(
            "{} level {}+ now {} {} level {} ({})",
            args.from,
            args.from_level_min,
            effect.text(),
            args.to,
            args.to_level,
            args.basis
        ))
    })
}

/// Runs `trust-list end-equivalence`.
pub fn end_equivalence(args: &EndEquivalence) -> Result<ExitCode> {
    let on = day(&args.on)?;
    edit(&args.json, |list| {
        let mut ended = 0;
        for e in &mut list.equivalences {
            if e.from_scheme == args.from && e.to_scheme == args.to && e.effective_to.is_none() {
                e.effective_to = Some(on.max(e.effective_from));
                ended += 1;
            }
        }
        if ended == 0 {
            bail!("no open row from {} to {} in the list", args.from, args.to);
        }
        Ok(format!(
            "{ended} row(s) from {} to {} end on {}",
            args.from, args.to, args.on
        ))
    })
}

fn day(s: &str) -> Result<u64> {
    dates::parse_date(s).with_context(|| format!("{s:?}: expected a date YYYY-MM-DD"))
}
