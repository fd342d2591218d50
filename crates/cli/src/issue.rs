//! `cyberlabel issue` (mint a label offline and write its files) and `cyberlabel render`
//! (redraw the QR code and artwork of an existing label).
//!
//! Offline issuance has no transparency log, so nothing assigns the label's serial (its log
//! index, FORMATS §1 key 15): it is `--serial` (default 0). Labels meant for the public are
//! issued through the server (`POST /v1/labels`), whose log assigns the serial; an offline label
//! verifies offline (signature, dates, issuer) but has no inclusion proof.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use cyberlabel_issuer::mint::{self, Rendered};
use cyberlabel_issuer::product::{AssessmentRef, CategoryRef, LevelRef, ProductDescription};

use crate::util::{read_bounded, write_out};

/// Default verifier page base URL for the QR code (override with --verifier-url).
pub const DEFAULT_VERIFIER_URL: &str = "https://cyberlabel.example/v";

/// Largest accepted product file.
const MAX_PRODUCT_FILE: u64 = 64 * 1024;

/// Where the signing key comes from.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// Issuer private key (PKCS#8 PEM, mode 0600), e.g. from `cyberlabel keygen`.
    #[arg(long, required_unless_present = "demo", conflicts_with = "demo")]
    pub key: Option<PathBuf>,
    /// Sign with the built-in EXAMPLE issuer key (keys-example/): for demos only, never for
    /// real labels; anyone can sign with it.
    #[arg(long)]
    pub demo: bool,
}

impl KeyArgs {
    /// Loads the signing key (with a loud warning in demo mode).
    pub fn load(&self) -> Result<ed25519_dalek::SigningKey> {
        if self.demo {
            eprintln!(
                "WARNING: --demo: signing with the PUBLIC EXAMPLE issuer key from keys-example/.\n\
                 WARNING: anyone can forge labels with this key; never use it for real products."
            );
            return cyberlabel_issuer::keys::load_example_issuer_key()
                .context("the built-in example key is corrupt (rebuild cyberlabel)");
        }
        let Some(path) = &self.key else {
            bail!("give --key <issuer.key.pem> (or --demo)")
        };
        cyberlabel_issuer::keys::load_signing_key(path).with_context(|| {
            format!(
                "cannot load the issuer key {}: give the .key.pem written by `cyberlabel keygen`",
                path.display()
            )
        })
    }
}

/// Output options shared by `issue` and `render`.
#[derive(Debug, clap::Args)]
pub struct OutputArgs {
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Base URL of the verifier page; the QR code holds `<url>#<digits>`.
    #[arg(long, env = "CYBERLABEL_VERIFIER_URL", default_value = DEFAULT_VERIFIER_URL)]
    pub verifier_url: String,
    /// Encode the QR in the app form `CL1:<digits>` instead of the URL form.
    #[arg(long)]
    pub cl1: bool,
    /// Pixels per QR module in qr.png.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub module_px: u32,
}

/// Arguments of `issue`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Writes into --out: label.cbor (the COSE_Sign1 label), payload.txt \
(URL and CL1: forms), qr.png, qr.svg, label.png (300 dpi artwork), label.svg.\n\
Offline issuance has no transparency log, so the serial (log index) is --serial (default 0); \
labels for the public are issued through the server, whose log assigns it.\n\
Example: cyberlabel issue --demo --out out --scheme SG-CLS --level 2 --manufacturer 'Acme' \
--product 'SmartCam 2' --hardware-versions B --firmware-versions 2.4 --category camera \
--provision 5.1-1 --provision 5.3-13 --assessment third_party --lab SG-LAB-1 --support-until 2030-12-31"
)]
pub struct IssueArgs {
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// Product description file (.json or .toml) instead of the product flags below.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["scheme", "level", "manufacturer", "product", "hardware_versions", "firmware_versions", "category", "provisions", "assessment", "lab", "issued_at", "expires_at", "support_until", "supersedes"])]
    product_file: Option<PathBuf>,
    /// Scheme id (see `cyberlabel schemes`), e.g. SG-CLS.
    #[arg(long, required_unless_present = "product_file")]
    scheme: Option<String>,
    /// Level number or name (binary schemes: 1).
    #[arg(long, required_unless_present = "product_file")]
    level: Option<String>,
    /// Manufacturer name.
    #[arg(long, required_unless_present = "product_file")]
    manufacturer: Option<String>,
    /// Product / model designation.
    #[arg(long, required_unless_present = "product_file")]
    product: Option<String>,
    /// Hardware versions covered.
    #[arg(long, required_unless_present = "product_file")]
    hardware_versions: Option<String>,
    /// Firmware versions covered.
    #[arg(long, required_unless_present = "product_file")]
    firmware_versions: Option<String>,
    /// Product category code or name (see `cyberlabel schemes`).
    #[arg(long, required_unless_present = "product_file")]
    category: Option<String>,
    /// A provision met, by id (repeat, or comma-separate): --provision 5.1-1,5.3-13.
    #[arg(long = "provision", value_delimiter = ',')]
    provisions: Vec<String>,
    /// Assessment kind.
    #[arg(long, value_enum, required_unless_present = "product_file")]
    assessment: Option<Assessment>,
    /// Lab id (with --assessment third_party).
    #[arg(long)]
    lab: Option<String>,
    /// Issue date YYYY-MM-DD (default: today).
    #[arg(long)]
    issued_at: Option<String>,
    /// Expiry date YYYY-MM-DD (default: the scheme's maximum validity).
    #[arg(long)]
    expires_at: Option<String>,
    /// Last day of security updates, YYYY-MM-DD.
    #[arg(long, required_unless_present = "product_file")]
    support_until: Option<String>,
    /// Log index of the label this one renews.
    #[arg(long)]
    supersedes: Option<u64>,
    /// The label's serial (log index). Offline issuance has no log: default 0.
    #[arg(long, default_value_t = 0)]
    serial: u64,
    /// Current time override, Unix seconds (reproducible output; default: the clock).
    #[arg(long, hide = true)]
    now: Option<u64>,
}

/// `--assessment`: spelled as in product files and the API (`third_party`); the hyphenated
/// form is an alias.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Assessment {
    #[value(name = "self_declared", alias = "self-declared")]
    SelfDeclared,
    #[value(name = "third_party", alias = "third-party")]
    ThirdParty,
}

/// Arguments of `render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The label: a label.cbor file written by `issue`.
    #[arg(long, required_unless_present = "payload", conflicts_with = "payload")]
    label: Option<PathBuf>,
    /// The label as payload text (`https://…#<digits>` or `CL1:<digits>`).
    #[arg(long)]
    payload: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
}

/// Unix time now.
pub fn now() -> Result<u64> {
    Ok(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970: fix the clock")?
        .as_secs())
}

/// Reads a product description file (.json or .toml): the one schema the CLI, `cyberlabel
/// client issue` and `POST /labels` share.
pub fn read_product_file(path: &Path) -> Result<ProductDescription> {
    let bytes = read_bounded(path, MAX_PRODUCT_FILE, "product file")?;
    let text = String::from_utf8(bytes)
        .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let parsed = match ext.as_str() {
        "json" => ProductDescription::from_json(&text).map_err(anyhow::Error::from),
        "toml" => ProductDescription::from_toml(&text).map_err(anyhow::Error::from),
        _ => bail!(
            "{}: unknown product file type; name it .json or .toml",
            path.display()
        ),
    };
    parsed.with_context(|| {
        format!(
            "{}: fix the product description (fields: see `cyberlabel issue --help` and docs/FORMATS.md)",
            path.display()
        )
    })
}

fn description(args: &IssueArgs) -> Result<ProductDescription> {
    if let Some(path) = &args.product_file {
        return read_product_file(path);
    }
    // clap guarantees the required flags are present when there is no --product-file.
    let need = |v: &Option<String>, flag: &str| -> Result<String> {
        v.clone().with_context(|| format!("missing {flag}"))
    };
    let level = need(&args.level, "--level")?;
    let category = need(&args.category, "--category")?;
    Ok(ProductDescription {
        scheme: need(&args.scheme, "--scheme")?,
        level: level
            .parse()
            .map_or(LevelRef::Name(level), LevelRef::Number),
        manufacturer: need(&args.manufacturer, "--manufacturer")?,
        product: need(&args.product, "--product")?,
        hardware_versions: need(&args.hardware_versions, "--hardware-versions")?,
        firmware_versions: need(&args.firmware_versions, "--firmware-versions")?,
        category: category
            .parse()
            .map_or(CategoryRef::Name(category), CategoryRef::Code),
        provisions: args.provisions.clone(),
        assessment: match args.assessment {
            Some(Assessment::SelfDeclared) => AssessmentRef::SelfDeclared,
            Some(Assessment::ThirdParty) => AssessmentRef::ThirdParty,
            None => bail!("missing --assessment"),
        },
        lab: args.lab.clone(),
        issued_at: args.issued_at.clone(),
        expires_at: args.expires_at.clone(),
        support_until: need(&args.support_until, "--support-until")?,
        supersedes: args.supersedes,
    })
}

fn write_rendered(out: &Path, rendered: &Rendered) -> Result<Vec<PathBuf>> {
    Ok(vec![
        write_out(
            out,
            "payload.txt",
            format!("{}\n{}\n", rendered.url, rendered.cl1).as_bytes(),
        )?,
        write_out(out, "qr.png", &rendered.qr_png)?,
        write_out(out, "qr.svg", rendered.qr_svg.as_bytes())?,
        write_out(out, "label.png", &rendered.artwork.png)?,
        write_out(out, "label.svg", rendered.artwork.svg.as_bytes())?,
    ])
}

fn render_options(output: &OutputArgs) -> mint::RenderOptions<'_> {
    mint::RenderOptions {
        verifier_url: &output.verifier_url,
        cl1: output.cl1,
        module_px: output.module_px,
    }
}

/// Runs `issue`.
pub fn run_issue(args: IssueArgs) -> Result<ExitCode> {
    let desc = description(&args)?;
    let key = args.key.load()?;
    let catalog = crate::schemes::catalog()?;
    let now = match args.now {
        Some(n) => n,
        None => now()?,
    };
    let minted = mint::mint(&desc, &catalog, &key, args.serial, now)
        .context("the product description does not fit the scheme: fix it and retry (`cyberlabel schemes` lists levels, categories and provisions)")?;
    let rendered = mint::render(&minted.label, &catalog, &render_options(&args.output))
        .context("cannot draw the label")?;
    crate::util::ensure_dir(&args.output.out)?;
    let mut files = vec![write_out(&args.output.out, "label.cbor", &minted.label)?];
    files.extend(write_rendered(&args.output.out, &rendered)?);
    // Both forms' versions: the code drawn is one of them (--cl1), apps may print the other.
    let url_version = cyberlabel_issuer::qr::version_for(&rendered.url)?;
    let cl1_version = cyberlabel_issuer::qr::version_for(&rendered.cl1)?;
    println!(
        "issued {} level {} label for {:?}: {} bytes, QR version {} (ECC M; URL form {}-M, CL1 form {}-M), serial {}",
        minted.claim.scheme,
        minted.claim.level,
        minted.claim.product,
        minted.label.len(),
        rendered.qr.version(),
        url_version,
        cl1_version,
        minted.claim.serial
    );
    println!(
        "payload: {}",
        if args.output.cl1 {
            &rendered.cl1
        } else {
            &rendered.url
        }
    );
    for f in files {
        println!("wrote {}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `render`.
pub fn run_render(args: RenderArgs) -> Result<ExitCode> {
    let label = match (&args.label, &args.payload) {
        (Some(path), _) => read_bounded(path, 4096, "label file")?,
        (None, Some(text)) => cyberlabel_core::payload::decode(text.trim()).map_err(|e| {
            anyhow::anyhow!("the payload text is not a label ({e}): pass the text from payload.txt or the QR code")
        })?,
        (None, None) => bail!("give --label <label.cbor> or --payload <text>"),
    };
    let catalog = crate::schemes::catalog()?;
    let rendered = mint::render(&label, &catalog, &render_options(&args.output))
        .context("cannot draw this label: is it a cyberlabel label (label.cbor from `issue`)?")?;
    crate::util::ensure_dir(&args.output.out)?;
    for f in write_rendered(&args.output.out, &rendered)? {
        println!("wrote {}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}
