//! `cyberlabel keygen`: a new Ed25519 key pair on disk.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cyberlabel_core::cose::key_id;
use cyberlabel_issuer::keys;

/// Arguments of `keygen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory for the key files (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// File name stem: writes `<name>.key.pem` (private, 0600) and `<name>.pub.pem`.
    #[arg(long, default_value = "issuer")]
    name: String,
}

/// Runs `keygen`.
pub fn run(args: Args) -> Result<ExitCode> {
    if args.name.is_empty() || args.name.contains(['/', '\\']) || args.name.starts_with('.') {
        anyhow::bail!("--name {:?} must be a plain file name stem such as `issuer`", args.name);
    }
    crate::util::ensure_dir(&args.out)?;
    let key = keys::generate().context("cannot generate a key: the system RNG is unavailable")?;
    let private = args.out.join(format!("{}.key.pem", args.name));
    let public = args.out.join(format!("{}.pub.pem", args.name));
    keys::save_signing_key(&key, &private).context("cannot write the private key")?;
    keys::save_public_key(&key.verifying_key(), &public).context("cannot write the public key")?;
    println!("private key: {} (mode 0600; keep it secret)", private.display());
    println!("public key:  {}", public.display());
    println!("key id:      {}", hex::encode(key_id(&key.verifying_key())));
    Ok(ExitCode::SUCCESS)
}
