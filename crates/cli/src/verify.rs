//! `cyberlabel verify`: check a label offline and say what it means, in plain words.
//!
//! Input: the payload text (`https://…#<digits>` or `CL1:<digits>`), a photo/PNG of the QR
//! code (`--image`, decoded with rqrr), or a label.cbor file (`--label`). Trust: a signed trust
//! list and its signer's public key, or issuer public keys given directly, or `--demo` (the
//! built-in EXAMPLE trust list). The verdict comes from `cyberlabel_core::verdict::verify_offline`
//! — the same code the server and the browser run.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cyberlabel_core::catalog::Catalog;
use cyberlabel_core::claim::{Assessment, Claim};
use cyberlabel_core::trust::{TrustList, TrustedIssuer};
use cyberlabel_core::verdict::{Report, Verdict, verify_offline};
use cyberlabel_core::{payload, trust};
use cyberlabel_issuer::{dates, keys};
use serde_json::json;

use crate::util::read_bounded;

/// Exit code: the label is genuine.
pub const EXIT_GENUINE: u8 = 0;
/// Exit code: altered or forged (signature does not match).
pub const EXIT_TAMPERED: u8 = 3;
/// Exit code: not a readable label (bad payload, CBOR, COSE or claim).
pub const EXIT_MALFORMED: u8 = 4;
/// Exit code: not signed by an issuer trusted for this scheme at that time.
pub const EXIT_UNKNOWN_ISSUER: u8 = 5;
/// Exit code: genuine but past its expiry.
pub const EXIT_EXPIRED: u8 = 6;
/// Exit code: a verdict this build does not know (future variants).
pub const EXIT_OTHER: u8 = 9;

/// Exit codes, shown in `verify --help`.
pub const EXIT_CODES_HELP: &str = "Exit codes:\n  \
0  genuine\n  \
1  could not verify (bad input, unreadable file, no QR code found, no trust given)\n  \
2  bad command line\n  \
3  tampered: the contents do not match the signature\n  \
4  malformed: not a readable cyberlabel label\n  \
5  unknown issuer: not signed by an issuer trusted for this scheme at that time\n  \
6  expired: genuine, but past its expiry date";

/// Arguments of `verify`.
#[derive(Debug, clap::Args)]
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
    /// The trust-list signer's public key (SPKI PEM): your trust anchor.
    #[arg(long, requires = "trust_list")]
    trust_list_signer: Option<PathBuf>,
    /// Trust this issuer public key (SPKI PEM, from `keygen`) for every scheme (repeatable).
    #[arg(long)]
    issuer_key: Vec<PathBuf>,
    /// Use the built-in EXAMPLE trust list (keys-example/): demos only.
    #[arg(long)]
    demo: bool,
    /// Machine-readable output (JSON on stdout).
    #[arg(long)]
    json: bool,
    /// Verify as of this Unix time instead of now.
    #[arg(long)]
    now: Option<u64>,
}

/// The exit code for a verdict.
pub fn exit_code(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Genuine => EXIT_GENUINE,
        Verdict::Tampered => EXIT_TAMPERED,
        Verdict::Malformed => EXIT_MALFORMED,
        Verdict::UnknownIssuer => EXIT_UNKNOWN_ISSUER,
        Verdict::Expired => EXIT_EXPIRED,
        _ => EXIT_OTHER,
    }
}

fn trust_list(args: &Args, catalog: &Catalog, now: u64) -> Result<TrustList> {
    let mut list = if let (Some(file), Some(signer)) = (&args.trust_list, &args.trust_list_signer) {
        let signer = keys::load_public_key(signer)
            .context("cannot load --trust-list-signer: give the signer's SPKI PEM public key")?;
        let bytes = read_bounded(file, trust::MAX_TRUST_LIST_LEN as u64, "trust list")?;
        TrustList::from_signed(&bytes, &signer, now).with_context(|| {
            format!(
                "the trust list {} does not verify with that signer key, or is outside its \
                 validity window: get a current trust list from your scheme operator",
                file.display()
            )
        })?
    } else if args.demo {
        eprintln!(
            "WARNING: --demo: trusting the built-in EXAMPLE trust list (keys-example/); demos only."
        );
        crate::trust_list::example_trust_list_signed(now)?
    } else if args.issuer_key.is_empty() {
        bail!(
            "nothing to trust: give --trust-list <trust-list.cose> --trust-list-signer <pub.pem>, \
             or --issuer-key <issuer.pub.pem>, or --demo for the example keys"
        );
    } else {
        TrustList {
            expires_at: u64::MAX,
            ..TrustList::default()
        }
    };
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
    Ok(list)
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

fn claim_json(claim: &Claim, catalog: &Catalog) -> serde_json::Value {
    let scheme = catalog.scheme(&claim.scheme, claim.catalog_version);
    let level = catalog.level_of(claim).map(|(_, l)| l);
    let provisions: Vec<String> = claim
        .provisions
        .iter()
        .map(|i| {
            scheme
                .and_then(|s| s.provision(i))
                .map_or_else(|| format!("#{i}"), |p| p.id.clone())
        })
        .collect();
    json!({
        "scheme": claim.scheme,
        "scheme_name": scheme.map(|s| s.name.clone()),
        "catalog_version": claim.catalog_version,
        "level": claim.level,
        "level_name": level.map(|l| l.name.clone()),
        "level_meaning": level.map(|l| l.meaning.clone()),
        "manufacturer": claim.manufacturer,
        "product": claim.product,
        "hardware_versions": claim.hardware_versions,
        "firmware_versions": claim.firmware_versions,
        "category": claim.category,
        "category_name": catalog.category(claim.category).map(|c| c.name.clone()),
        "issued_at": claim.issued_at,
        "expires_at": claim.expires_at,
        "support_end": claim.support_end,
        "provisions": provisions,
        "assessment": match &claim.assessment { Assessment::SelfDeclared => "self_declared", Assessment::ThirdParty { .. } => "third_party" },
        "lab": match &claim.assessment { Assessment::ThirdParty { lab } => Some(lab.clone()), Assessment::SelfDeclared => None },
        "serial": claim.serial,
        "supersedes": claim.supersedes,
    })
}

fn print_human(report: &Report, catalog: &Catalog, list: &TrustList, now: u64) {
    let mark = if report.verdict == Verdict::Genuine {
        "✔"
    } else {
        "✘"
    };
    println!("{mark} {}", report.verdict.headline());
    println!("{}", report.verdict.explain());
    if let Some(problem) = &report.problem {
        println!("  reason: {problem}");
    }
    let Some(claim) = &report.claim else { return };
    let trusted = matches!(report.verdict, Verdict::Genuine | Verdict::Expired);
    let label = |s: &str| {
        if trusted {
            s.to_owned()
        } else {
            format!("claimed {s}")
        }
    };
    let scheme = catalog.scheme(&claim.scheme, claim.catalog_version);
    println!();
    println!(
        "  {:<24}{}{}",
        label("scheme:"),
        claim.scheme,
        scheme.map(|s| format!(" — {}", s.name)).unwrap_or_default()
    );
    if let Some((_, level)) = catalog.level_of(claim) {
        println!("  {:<24}{}: {}", label("level:"), level.name, level.meaning);
    } else {
        println!("  {:<24}{}", label("level:"), claim.level);
    }
    println!("  {:<24}{}", label("product:"), claim.product);
    println!("  {:<24}{}", label("manufacturer:"), claim.manufacturer);
    println!(
        "  {:<24}hardware {}, firmware {}",
        label("versions covered:"),
        claim.hardware_versions,
        claim.firmware_versions
    );
    if let Some(c) = catalog.category(claim.category) {
        println!("  {:<24}{}", label("category:"), c.name);
    }
    println!(
        "  {:<24}{}",
        label("security updates until:"),
        dates::format_date(claim.support_end)
    );
    println!(
        "  {:<24}{} through {}",
        label("valid:"),
        dates::format_date(claim.issued_at),
        // expires_at is the first moment the label is no longer valid.
        dates::format_date(claim.expires_at.saturating_sub(1))
    );
    match &claim.assessment {
        Assessment::SelfDeclared => println!(
            "  {:<24}self-declared by the manufacturer",
            label("assessment:")
        ),
        Assessment::ThirdParty { lab } => {
            println!("  {:<24}third-party lab {lab}", label("assessment:"))
        }
    }
    println!("  {:<24}{}", "serial (log index):", claim.serial);
    if let Some(issuer) = &report.issuer {
        println!(
            "  {:<24}{} (key id {})",
            "issuer:",
            issuer.name,
            hex::encode(issuer.kid)
        );
    } else if let Some(kid) = report.kid {
        println!("  {:<24}unknown key id {}", "issuer:", hex::encode(kid));
    }
    if trusted {
        for e in list.equivalents(&claim.scheme, claim.level, claim.category, now) {
            println!(
                "  {:<24}{} level {} ({}): {}",
                "also:",
                e.to_scheme,
                e.to_level,
                e.effect.text(),
                e.basis
            );
        }
    }
}

/// Runs `verify`.
pub fn run(args: Args) -> Result<ExitCode> {
    let now = match args.now {
        Some(n) => n,
        None => crate::issue::now()?,
    };
    let catalog = crate::schemes::catalog()?;
    let list = trust_list(&args, &catalog, now)?;
    let report = match label_bytes(&args)? {
        Ok(bytes) => verify_offline(&bytes, &list, &catalog, now),
        Err(reason) => {
            // Not decodable as a payload: a malformed label, reported like any other verdict.
            if args.json {
                let out = json!({
                    "verdict": Verdict::Malformed.as_str(),
                    "headline": Verdict::Malformed.headline(),
                    "explanation": Verdict::Malformed.explain(),
                    "problem": reason,
                });
                println!("{out}");
            } else {
                println!("✘ {}", Verdict::Malformed.headline());
                println!("{}", Verdict::Malformed.explain());
                println!("  reason: {reason}");
            }
            return Ok(ExitCode::from(EXIT_MALFORMED));
        }
    };
    if args.json {
        let equivalents: Vec<serde_json::Value> = match (&report.claim, report.verdict) {
            (Some(c), Verdict::Genuine | Verdict::Expired) => list
                .equivalents(&c.scheme, c.level, c.category, now)
                .into_iter()
                .map(|e| json!({"scheme": e.to_scheme, "level": e.to_level, "effect": e.effect, "basis": e.basis}))
                .collect(),
            _ => vec![],
        };
        let out = json!({
            "verdict": report.verdict.as_str(),
            "headline": report.verdict.headline(),
            "explanation": report.verdict.explain(),
            "problem": report.problem.as_ref().map(|p| p.to_string()),
            "kid": report.kid.map(hex::encode),
            "issuer": report.issuer.as_ref().map(|i| json!({"name": i.name, "kid": hex::encode(i.kid), "schemes": i.schemes})),
            "claim": report.claim.as_ref().map(|c| claim_json(c, &catalog)),
            "equivalents": equivalents,
            "verified_at": now,
        });
        println!("{out}");
    } else {
        print_human(&report, &catalog, &list, now);
    }
    Ok(ExitCode::from(exit_code(report.verdict)))
}
