//! `cyberlabel keygen`: a new Ed25519 key pair on disk.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cyberlabel_core::cose::key_id;
use cyberlabel_core::note::{KeyKind, VerifierKey};
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
    /// For log and witness keys: also write `<name>.vkey`, the C2SP signed-note verifier key
    /// `<note-name>+<key id>+<base64>` (the note key name is the log origin or witness name).
    #[arg(long, value_name = "KEY_NAME")]
    note_name: Option<String>,
    /// With --note-name: the vkey is a cosignature/v1 witness key instead of a plain Ed25519 one.
    #[arg(long, requires = "note_name")]
    witness: bool,
}

/// Runs `keygen`.
pub fn run(args: Args) -> Result<ExitCode> {
    if args.name.is_empty() || args.name.contains(['/', '\\']) || args.name.starts_with('.') {
        anyhow::bail!(
            "--name {:?} must be a plain file name stem such as `issuer`",
            args.name
        );
    }
    let key = keys::generate().context("cannot generate a key: the system RNG is unavailable")?;
    // Validate the note name before writing anything.
    let vkey = match &args.note_name {
        None => None,
        Some(note_name) => {
            let kind = if args.witness {
                KeyKind::CosignatureV1
            } else {
                KeyKind::Ed25519
            };
            Some(VerifierKey::new(note_name, kind, key.verifying_key()).map_err(|e| {
                anyhow::anyhow!(
                    "--note-name {note_name:?} is not a valid signed-note key name ({e}): use a \
                     name without spaces or '+', such as `example.org/log`"
                )
            })?)
        }
    };
    crate::util::ensure_dir(&args.out)?;
    let private = args.out.join(format!("{}.key.pem", args.name));
    let public = args.out.join(format!("{}.pub.pem", args.name));
    keys::save_signing_key(&key, &private).context("cannot write the private key")?;
    keys::save_public_key(&key.verifying_key(), &public).context("cannot write the public key")?;
    println!(
        "private key: {} (mode 0600; keep it secret)",
        private.display()
    );
    println!("public key:  {}", public.display());
    println!("key id:      {}", hex::encode(key_id(&key.verifying_key())));
    if let Some(vkey) = vkey {
        let path = crate::util::write_out(
            &args.out,
            &format!("{}.vkey", args.name),
            format!("{vkey}\n").as_bytes(),
        )?;
        println!("vkey:        {} ({vkey})", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
