//! `cyberlabel trust-list`: the trust-list maintainer's tool — edit a trust-list JSON document
//! (FORMATS §5: retire or compromise an issuer key as of a log index, add a witness, set the
//! witness policy; each edit raises the version), show what changed between two versions, sign
//! it, show a signed one, and (re)generate the example trust list in `keys-example/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use cyberlabel_core::note::{KeyKind, VerifierKey};
use cyberlabel_core::trust::{
    self, Effect, Equivalence, Quorum, Threshold, TrustList, TrustedIssuer, TrustedLog,
    TrustedWitness, WitnessGroup, WitnessPolicy,
};
use cyberlabel_issuer::{dates, keys};

use crate::util::read_bounded;

/// Example log origin (the signed-note key name of the example log key).
pub const EXAMPLE_LOG_ORIGIN: &str = "cyberlabel.example/log-EXAMPLE";
/// The example trust list, signed by the example trust-list key.
pub const EXAMPLE_TRUST_LIST_COSE: &[u8] =
    include_bytes!("../../../keys-example/trust-list.EXAMPLE.cose");

/// An issuer key event as of a log index (rotation or compromise).
#[derive(Debug, clap::Args)]
pub struct KeyEvent {
    /// The trust-list JSON file to edit.
    #[arg(long)]
    json: PathBuf,
    /// Key id of the issuer key (16 hex digits).
    #[arg(long)]
    kid: String,
    /// First log index the event applies to.
    #[arg(long)]
    at_index: u64,
}

/// `trust-list` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Start a new, empty trust-list JSON document (version 1): then add issuers, logs,
    /// witnesses, the witness policy and equivalence rows, and sign it.
    Create(crate::trust_list_build::Create),
    /// Add an issuer key: a body of this scheme, or a partner's issuer whose labels are in the
    /// partner's log (`--log <origin>`). Edits the JSON in place and raises its version.
    AddIssuer(crate::trust_list_build::AddIssuer),
    /// Add a log (its note verifier key and read-side URL): the scheme's own, or a partner
    /// deployment's. Edits the JSON in place and raises its version.
    AddLog(crate::trust_list_build::AddLog),
    /// Add an equivalence row: labels of one scheme recognised in another (mutual recognition).
    /// Edits the JSON in place and raises its version.
    AddEquivalence(crate::trust_list_build::AddEquivalence),
    /// End the open equivalence rows between two schemes on a day. Edits the JSON in place and
    /// raises its version.
    EndEquivalence(crate::trust_list_build::EndEquivalence),
    /// Sign a trust-list JSON document: writes a COSE_Sign1 whose payload is the exact JSON bytes.
    Sign {
        /// The trust-list JSON file (checked before signing).
        #[arg(long)]
        json: PathBuf,
        /// The trust-list signing key (PKCS#8 PEM, mode 0600).
        #[arg(long)]
        key: PathBuf,
        /// Output file (conventionally trust-list.cose).
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a signed trust list and print its contents.
    Show {
        /// The signed trust list (.cose).
        file: PathBuf,
        /// The trust-list signer's public key (SPKI PEM): the trust anchor.
        #[arg(long)]
        signer: PathBuf,
        /// Print the JSON document instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Retire an issuer key (rotation) as of a log index: labels it signs at that index or
    /// later are refused by the log and not genuine; earlier ones stay genuine. Edits the JSON
    /// in place and raises its version.
    RetireKey(KeyEvent),
    /// Mark an issuer key compromised as of a log index: nothing it signs at that index or later
    /// counts (labels and status records). Edits the JSON in place and raises its version.
    CompromiseKey(KeyEvent),
    /// Add a witness (its C2SP cosignature/v1 verifier key, as `cyberlabel witness keygen`
    /// prints it). Edits the JSON in place and raises its version.
    AddWitness {
        /// The trust-list JSON file to edit.
        #[arg(long)]
        json: PathBuf,
        /// The witness's verifier key `<name>+<id>+<base64>`.
        #[arg(long)]
        vkey: String,
    },
    /// Set the witness policy (C2SP tlog-policy shape): optional groups, one quorum, and the
    /// oldest cosignature a verifier accepts. Edits the JSON in place and raises its version.
    WitnessPolicy {
        /// The trust-list JSON file to edit.
        #[arg(long)]
        json: PathBuf,
        /// A group `<name>:<all|any|k>:<member>,<member>…` (repeatable, in definition order).
        #[arg(long = "group")]
        groups: Vec<String>,
        /// The quorum: a witness or group name, `none`, or a number k (k of all witnesses).
        #[arg(long)]
        quorum: String,
        /// Oldest acceptable cosignature, seconds.
        #[arg(long, default_value_t = trust::DEFAULT_MAX_CHECKPOINT_AGE)]
        max_age: u64,
        /// Set the policy of this log (origin) only — a partner's log cosigned by its own
        /// witnesses — instead of the list-wide one.
        #[arg(long)]
        log: Option<String>,
    },
    /// Show what changed between two trust-list JSON documents, in plain words.
    Diff {
        /// The older document.
        old: PathBuf,
        /// The newer document.
        new: PathBuf,
    },
    /// Regenerate the EXAMPLE trust list (keys-example/trust-list.EXAMPLE.json + .cose) from the
    /// built-in example keys: the example issuer for every catalog scheme, the example log, and
    /// the mutual-recognition rows SG-DE, SG-FI, SG-KR, SG-JP.
    Example {
        /// Output directory (keys-example).
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs a `trust-list` subcommand.
pub fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Create(a) => crate::trust_list_build::create(&a),
        Command::AddIssuer(a) => crate::trust_list_build::add_issuer(&a),
        Command::AddLog(a) => crate::trust_list_build::add_log(&a),
        Command::AddEquivalence(a) => crate::trust_list_build::add_equivalence(&a),
        Command::EndEquivalence(a) => crate::trust_list_build::end_equivalence(&a),
        Command::Sign { json, key, out } => {
            let bytes = read_bounded(&json, trust::MAX_TRUST_LIST_LEN as u64, "trust-list JSON")?;
            let text = std::str::from_utf8(&bytes).context("the trust-list JSON is not UTF-8")?;
            TrustList::from_json(text).with_context(|| {
                format!(
                    "{} is not a valid trust list: fix it (format: docs/FORMATS.md §5)",
                    json.display()
                )
            })?;
            let key =
                keys::load_signing_key(&key).context("cannot load the trust-list signing key")?;
            write(&out, &trust::sign(&bytes, &key))?;
            println!("signed {} -> {}", json.display(), out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { file, signer, json } => {
            let signer =
                keys::load_public_key(&signer).context("cannot load the signer's public key")?;
            let bytes = read_bounded(&file, trust::MAX_TRUST_LIST_LEN as u64, "trust list")?;
            let list = TrustList::from_signed(&bytes, &signer, crate::issue::now()?).with_context(|| {
                format!("{} does not verify with this signer key (or is outside its validity window)", file.display())
            })?;
            if json {
                println!("{}", list.to_json());
            } else {
                print_summary(&list);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::RetireKey(e) => key_event(&e, "retired", |i, at| i.retired_at_index = Some(at)),
        Command::CompromiseKey(e) => {
            key_event(&e, "compromised", |i, at| i.compromised_at_index = Some(at))
        }
        Command::AddWitness { json, vkey } => edit(&json, |list| {
            let key = VerifierKey::parse(vkey.trim())
                .map_err(|e| anyhow::anyhow!("not a C2SP verifier key: {e}"))?;
            if key.kind() != KeyKind::CosignatureV1 {
                anyhow::bail!("{} is not a cosignature/v1 (witness) key", key.name());
            }
            if list.witnesses.iter().any(|w| w.name == key.name()) {
                anyhow::bail!("a witness named {} is already listed", key.name());
            }
            list.witnesses.push(TrustedWitness {
                name: key.name().to_owned(),
                vkey: key.to_string(),
            });
            Ok(format!("witness {} added", key.name()))
        }),
        Command::WitnessPolicy {
            json,
            groups,
            quorum,
            max_age,
            log,
        } => edit(&json, |list| {
            let mut parsed = Vec::with_capacity(groups.len());
            for g in &groups {
                let mut parts = g.splitn(3, ':');
                let (Some(name), Some(threshold), Some(members)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    anyhow::bail!("group {g:?}: expected <name>:<all|any|k>:<member>,<member>…");
                };
                let threshold = match threshold.parse::<u32>() {
                    Ok(k) => Threshold::Count(k),
                    Err(_) => Threshold::Word(threshold.to_owned()),
                };
                parsed.push(WitnessGroup {
                    name: name.to_owned(),
                    threshold,
                    members: members.split(',').map(str::to_owned).collect(),
                });
            }
            let policy = WitnessPolicy {
                groups: parsed,
                quorum: match quorum.parse::<u32>() {
                    Ok(k) => Quorum::Count(k),
                    Err(_) => Quorum::Name(quorum.clone()),
                },
                max_age,
            };
            let scope = match &log {
                Some(origin) => {
                    let entry = list
                        .logs
                        .iter_mut()
                        .find(|l| &l.origin == origin)
                        .with_context(|| format!("no log {origin:?} in the list"))?;
                    entry.witness_policy = Some(policy);
                    format!("witness policy of log {origin}")
                }
                None => {
                    list.witness_policy = policy;
                    "witness policy".to_owned()
                }
            };
            Ok(format!(
                "{scope}: quorum {quorum}, cosignatures at most {max_age} s old"
            ))
        }),
        Command::Diff { old, new } => {
            let load = |p: &Path| -> Result<TrustList> {
                let bytes = read_bounded(p, trust::MAX_TRUST_LIST_LEN as u64, "trust-list JSON")?;
                let text =
                    std::str::from_utf8(&bytes).context("the trust-list JSON is not UTF-8")?;
                TrustList::from_json(text)
                    .with_context(|| format!("{} is not a valid trust list", p.display()))
            };
            let changes = diff(&load(&old)?, &load(&new)?);
            if changes.is_empty() {
                println!("no changes");
            }
            for c in changes {
                println!("{c}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Example { out } => {
            let list = example_trust_list()?;
            let json = list.to_json();
            let cose = trust::sign(json.as_bytes(), &keys::load_example_trust_list_key()?);
            crate::util::ensure_dir(&out)?;
            write(&out.join("trust-list.EXAMPLE.json"), json.as_bytes())?;
            write(&out.join("trust-list.EXAMPLE.cose"), &cose)?;
            println!(
                "wrote {}/trust-list.EXAMPLE.json and .cose (EXAMPLE: never for production)",
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Edit a trust-list JSON file in place: the change, a higher version, a fresh `issued_at`,
/// then the same checks `sign` makes.
pub(crate) fn edit(
    path: &Path,
    change: impl FnOnce(&mut TrustList) -> Result<String>,
) -> Result<ExitCode> {
    let bytes = read_bounded(path, trust::MAX_TRUST_LIST_LEN as u64, "trust-list JSON")?;
    let text = std::str::from_utf8(&bytes).context("the trust-list JSON is not UTF-8")?;
    let mut list = TrustList::from_json(text)
        .with_context(|| format!("{} is not a valid trust list", path.display()))?;
    let said = change(&mut list)?;
    list.version += 1;
    list.issued_at = list
        .issued_at
        .max(crate::issue::now()?.min(list.expires_at));
    let json = list.to_json();
    TrustList::from_json(&json).context("the edited trust list does not check")?;
    write(path, json.as_bytes())?;
    println!(
        "{said}; {} is now version {} (sign it with `cyberlabel trust-list sign`)",
        path.display(),
        list.version
    );
    Ok(ExitCode::SUCCESS)
}

/// Record a key event (`what` as of `at_index`) on the issuer with the event's kid.
fn key_event(
    e: &KeyEvent,
    what: &str,
    set: impl FnOnce(&mut TrustedIssuer, u64),
) -> Result<ExitCode> {
    edit(&e.json, |list| {
        let issuer = issuer_mut(list, &e.kid)?;
        set(issuer, e.at_index);
        Ok(format!(
            "key {} ({}) {what} as of log index {}",
            e.kid, issuer.name, e.at_index
        ))
    })
}

fn issuer_mut<'a>(list: &'a mut TrustList, kid: &str) -> Result<&'a mut TrustedIssuer> {
    let kid = kid.trim().to_ascii_lowercase();
    list.issuers
        .iter_mut()
        .find(|i| i.kid == kid)
        .with_context(|| format!("no issuer key with kid {kid} in the trust list"))
}

/// What changed from `old` to `new`, one plain sentence per change.
fn diff(old: &TrustList, new: &TrustList) -> Vec<String> {
    let mut out = Vec::new();
    if new.version != old.version {
        out.push(format!("version {} -> {}", old.version, new.version));
    }
    if new.version <= old.version {
        out.push(format!(
            "WARNING: version {} is not newer than {}: verifiers that saw the old one refuse it",
            new.version, old.version
        ));
    }
    for i in &new.issuers {
        match old.issuers.iter().find(|o| o.kid == i.kid) {
            None => out.push(format!(
                "issuer key {} added: {} for {}",
                i.kid,
                i.name,
                i.schemes.join(", ")
            )),
            Some(o) => {
                if o.schemes != i.schemes {
                    out.push(format!(
                        "issuer key {} ({}) schemes {} -> {}",
                        i.kid,
                        i.name,
                        o.schemes.join(", "),
                        i.schemes.join(", ")
                    ));
                }
                if o.retired_at_index != i.retired_at_index
                    && let Some(at) = i.retired_at_index
                {
                    out.push(format!(
                        "issuer key {} ({}) retired as of log index {at}",
                        i.kid, i.name
                    ));
                }
                if o.compromised_at_index != i.compromised_at_index
                    && let Some(at) = i.compromised_at_index
                {
                    out.push(format!(
                        "issuer key {} ({}) COMPROMISED as of log index {at}",
                        i.kid, i.name
                    ));
                }
                if (o.not_before, o.not_after) != (i.not_before, i.not_after) {
                    out.push(format!(
                        "issuer key {} ({}) validity {} to {}",
                        i.kid,
                        i.name,
                        dates::format_date(i.not_before),
                        dates::format_date(i.not_after)
                    ));
                }
            }
        }
    }
    for o in &old.issuers {
        if !new.issuers.iter().any(|i| i.kid == o.kid) {
            out.push(format!("issuer key {} ({}) removed", o.kid, o.name));
        }
    }
    for l in &new.logs {
        match old.logs.iter().find(|o| o.origin == l.origin) {
            None => out.push(format!("log {} added ({})", l.origin, l.url)),
            Some(o) if o.witness_policy != l.witness_policy => {
                out.push(format!("log {} has a new witness policy", l.origin));
            }
            Some(o) if o.url != l.url => {
                out.push(format!("log {} moved: {} -> {}", l.origin, o.url, l.url));
            }
            Some(_) => {}
        }
    }
    for o in &old.logs {
        if !new.logs.iter().any(|l| l.origin == o.origin) {
            out.push(format!("log {} removed", o.origin));
        }
    }
    for w in &new.witnesses {
        if !old.witnesses.iter().any(|o| o.vkey == w.vkey) {
            out.push(format!("witness {} added", w.name));
        }
    }
    for o in &old.witnesses {
        if !new.witnesses.iter().any(|w| w.vkey == o.vkey) {
            out.push(format!("witness {} removed", o.name));
        }
    }
    if old.witness_policy != new.witness_policy {
        out.push(format!(
            "witness policy changed: quorum {}, cosignatures at most {} s old",
            quorum_text(&new.witness_policy.quorum),
            new.witness_policy.max_age
        ));
    }
    for e in &new.equivalences {
        if !old.equivalences.contains(e) {
            out.push(format!(
                "recognition row: {} level {}+ -> {} level {} ({})",
                e.from_scheme,
                e.from_level_min,
                e.to_scheme,
                e.to_level,
                e.effect.text()
            ));
        }
    }
    for e in &old.equivalences {
        if !new.equivalences.contains(e) {
            out.push(format!(
                "recognition row removed: {} level {}+ -> {} level {}",
                e.from_scheme, e.from_level_min, e.to_scheme, e.to_level
            ));
        }
    }
    out
}

fn quorum_text(q: &Quorum) -> String {
    match q {
        Quorum::Count(k) => format!("{k} of all witnesses"),
        Quorum::Name(n) => n.clone(),
    }
}

pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn print_summary(list: &TrustList) {
    println!(
        "trust list version {} (valid {} to {})",
        list.version,
        dates::format_date(list.issued_at),
        dates::format_date(list.expires_at)
    );
    for i in &list.issuers {
        println!(
            "issuer {} kid {} schemes {}",
            i.name,
            i.kid,
            i.schemes.join(",")
        );
    }
    for i in &list.issuers {
        if let Some(at) = i.retired_at_index {
            println!("  key {} retired as of log index {at}", i.kid);
        }
        if let Some(at) = i.compromised_at_index {
            println!("  key {} COMPROMISED as of log index {at}", i.kid);
        }
    }
    for l in &list.logs {
        println!("log {} {}", l.origin, l.url);
    }
    for w in &list.witnesses {
        println!("witness {}", w.name);
    }
    println!(
        "witness policy: quorum {}, cosignatures at most {} s old",
        quorum_text(&list.witness_policy.quorum),
        list.witness_policy.max_age
    );
    for e in &list.equivalences {
        println!(
            "{} level >= {} -> {} level {}: {}",
            e.from_scheme,
            e.from_level_min,
            e.to_scheme,
            e.to_level,
            e.effect.text()
        );
    }
}

pub(crate) fn day(s: &str) -> Result<u64> {
    dates::parse_date(s).with_context(|| format!("{s:?}: expected a date YYYY-MM-DD"))
}

#[allow(clippy::too_many_arguments)]
fn row(
    from: &str,
    from_level_min: u8,
    to: &str,
    to_level: u8,
    effect: Effect,
    included: &[u16],
    excluded: &[u16],
    from_date: &str,
    basis: &str,
) -> Result<Equivalence> {
    Ok(Equivalence {
        from_scheme: from.into(),
        from_level_min,
        to_scheme: to.into(),
        to_level,
        effect,
        waived: vec![],
        categories_included: included.to_vec(),
        categories_excluded: excluded.to_vec(),
        effective_from: day(from_date)?,
        effective_to: None,
        basis: basis.into(),
    })
}

/// The example trust list: deterministic, so regenerating gives identical files.
pub fn example_trust_list() -> Result<TrustList> {
    let catalog = crate::schemes::catalog()?;
    let issuer = keys::load_example_issuer_key()?.verifying_key();
    let mut schemes: Vec<&str> = catalog.schemes.iter().map(|s| s.id.as_str()).collect();
    schemes.dedup();
    let log = keys::load_example_log_key()?.verifying_key();
    let log_vkey = VerifierKey::new(EXAMPLE_LOG_ORIGIN, KeyKind::Ed25519, log)
        .map_err(|e| anyhow::anyhow!("example log origin: {e}"))?;
    // SG-DE scope (CSA press release 2022 [L6]): cameras, TVs, speakers, toys, robots, hubs,
    // health trackers, lighting, plugs, thermostats; not door locks, detectors, computers,
    // phones, tablets. Routers were added on 16 Oct 2024 [L8].
    let de_in: &[u16] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    let de_out: &[u16] = &[11, 12, 14, 15, 16];
    let equivalences = vec![
        row(
            "DE-BSI",
            1,
            "SG-CLS",
            2,
            Effect::Recognised,
            de_in,
            de_out,
            "2022-10-20",
            "SG-DE MRA, 20 Oct 2022: BSI IT security label recognised as CLS Level 2 (CSA press release 2022) [L6]",
        )?,
        row(
            "SG-CLS",
            2,
            "DE-BSI",
            1,
            Effect::Recognised,
            de_in,
            de_out,
            "2022-10-20",
            "SG-DE MRA, 20 Oct 2022: CLS Level 2 and above recognised for the BSI label [L6]",
        )?,
        row(
            "DE-BSI",
            1,
            "SG-CLS",
            2,
            Effect::Recognised,
            &[13],
            &[],
            "2024-10-16",
            "SG-DE MRA extension to routers, 16 Oct 2024 (ETSI TS 103 848 / TS 103 928) [L8]",
        )?,
        row(
            "SG-CLS",
            2,
            "DE-BSI",
            1,
            Effect::SimplifiedApplication,
            &[13],
            &[],
            "2024-10-16",
            "SG-DE MRA extension to routers, 16 Oct 2024: CLS Level 2+ routers get a simplified BSI application [L8]",
        )?,
        row(
            "FI-TRAFICOM",
            1,
            "SG-CLS",
            3,
            Effect::Recognised,
            &[],
            &[],
            "2021-10-06",
            "SG-FI MoU (SICW 2021, October 2021; exact effective day not in the sources): Finnish label recognised as CLS Level 3 [L4]",
        )?,
        row(
            "SG-CLS",
            3,
            "FI-TRAFICOM",
            1,
            Effect::Recognised,
            &[],
            &[],
            "2021-10-06",
            "SG-FI MoU (SICW 2021): CLS Level 3 and above recognised by Finland [L4]",
        )?,
        row(
            "KR-CIC",
            2,
            "SG-CLS",
            3,
            Effect::Recognised,
            &[],
            &[],
            "2025-01-01",
            "SG-KR MRA, signed 16 Oct 2024, effective 1 Jan 2025: CIC Basic and above recognised as CLS(IoT) Level 3 [L7]",
        )?,
        row(
            "SG-CLS",
            3,
            "KR-CIC",
            2,
            Effect::Recognised,
            &[],
            &[],
            "2025-01-01",
            "SG-KR MRA, effective 1 Jan 2025: CLS Level 3 and above recognised as CIC Basic [L7]",
        )?,
        row(
            "JP-JCSTAR",
            1,
            "SG-CLS",
            1,
            Effect::SimplifiedApplication,
            &[],
            &[],
            "2026-06-01",
            "SG-JP MoC, effective 1 Jun 2026: simplified application for JC-STAR ★1 holders, normalised to CLS Level 1 [L9]",
        )?,
        row(
            "SG-CLS",
            1,
            "JP-JCSTAR",
            1,
            Effect::SimplifiedApplication,
            &[],
            &[],
            "2026-06-01",
            "SG-JP MoC, effective 1 Jun 2026: simplified application for CLS Level 1 holders, normalised to ★1 [L9]",
        )?,
    ];
    Ok(TrustList {
        version: 1,
        issued_at: day("2026-01-01")?,
        expires_at: day("2036-01-01")?,
        issuers: vec![TrustedIssuer::new(
            "EXAMPLE issuer (keys-example, DO NOT USE)",
            &issuer,
            &schemes,
            day("2025-01-01")?,
            day("2035-12-31")?,
        )],
        logs: vec![TrustedLog {
            origin: EXAMPLE_LOG_ORIGIN.into(),
            vkey: log_vkey.to_string(),
            url: "http://127.0.0.1:8080".into(),
            max_merge_delay: 0,
            witness_policy: None,
        }],
        witnesses: vec![],
        witness_policy: Default::default(),
        equivalences,
    })
}

/// The example trust list, verified with the example trust-list key (demo mode).
///
/// # Errors
/// If the compiled-in files do not verify (regenerate them with `trust-list example`).
pub fn example_trust_list_signed(now: u64) -> Result<TrustList> {
    let signer = keys::load_example_trust_list_key()?.verifying_key();
    TrustList::from_signed(EXAMPLE_TRUST_LIST_COSE, &signer, now).context(
        "the built-in example trust list does not verify: regenerate it with \
         `cyberlabel trust-list example --out keys-example` and rebuild",
    )
}
