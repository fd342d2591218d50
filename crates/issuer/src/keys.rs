//! Ed25519 signing keys on disk: generation, PKCS#8 PEM files with mode 0600, SPKI public keys.
//!
//! A private key file is created with mode 0600 atomically (`OpenOptions::mode`, never a chmod
//! after the bytes are written), and [`load_signing_key`] refuses a file that group or other can
//! read: a key that has been exposed to other local users must not be used silently.
//!
//! The example keys in `keys-example/` are compiled in and reachable only through
//! [`load_example_issuer_key`], which exists for demo mode (the CLI's `--demo`, the server's demo
//! run); the caller must print a loud warning. Git does not store file modes, so loading the
//! example files through [`load_signing_key`] would (rightly) fail on a fresh checkout.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use zeroize::Zeroize;

/// Largest key file accepted (a PKCS#8 Ed25519 PEM is ~120 bytes).
const MAX_KEY_FILE: u64 = 16 * 1024;

/// The example issuer private key, **never for production** (see `keys-example/README.md`).
pub const EXAMPLE_ISSUER_KEY_PEM: &str =
    include_str!("../../../keys-example/issuer-EXAMPLE-DO-NOT-USE.key.pem");
/// The example log private key, **never for production**.
pub const EXAMPLE_LOG_KEY_PEM: &str =
    include_str!("../../../keys-example/log-EXAMPLE-DO-NOT-USE.key.pem");
/// The example trust-list signing key, **never for production**.
pub const EXAMPLE_TRUST_LIST_KEY_PEM: &str =
    include_str!("../../../keys-example/trust-list-EXAMPLE-DO-NOT-USE.key.pem");

/// The example trust list's JSON (`keys-example/trust-list.EXAMPLE.json`): the demo server takes
/// its mutual-recognition rows from here so the demo shows partner-scheme equivalents.
pub const EXAMPLE_TRUST_LIST_JSON: &str =
    include_str!("../../../keys-example/trust-list.EXAMPLE.json");

/// Errors from key generation, saving and loading.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(getrandom::Error),
    /// Reading or writing a key file failed.
    #[error("{path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The private key file is readable by group or other users.
    #[error(
        "{path}: private key file is readable by other users (mode {mode:04o}); run `chmod 600 {path}` if it was never exposed, otherwise generate a new key"
    )]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is not a PKCS#8 PEM Ed25519 private key (or SPKI PEM public key).
    #[error("{path}: not an Ed25519 {what} PEM file ({detail})")]
    Format {
        /// The key file (`<built-in>` for compiled-in keys).
        path: PathBuf,
        /// "PKCS#8 private key" or "SPKI public key".
        what: &'static str,
        /// The parser's message.
        detail: String,
    },
    /// The key file is implausibly large.
    #[error("{path}: file is larger than {MAX_KEY_FILE} bytes; not a key file")]
    TooLarge {
        /// The key file.
        path: PathBuf,
    },
    /// Refusing to overwrite an existing key file.
    #[error("{path}: already exists; refusing to overwrite a key (choose another --out or --name)")]
    Exists {
        /// The key file.
        path: PathBuf,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Generates a new Ed25519 signing key from the operating system's random number generator.
///
/// # Errors
/// [`KeyError::Random`] if the OS RNG is unavailable.
pub fn generate() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(KeyError::Random)?;
    let key = SigningKey::from_bytes(&seed);
    seed.zeroize();
    Ok(key)
}

/// The PKCS#8 PEM text of `key`.
///
/// # Errors
/// [`KeyError::Format`] if encoding fails (it does not for valid keys).
pub fn private_key_pem(key: &SigningKey) -> Result<zeroize::Zeroizing<String>, KeyError> {
    key.to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Format {
            path: PathBuf::from("<memory>"),
            what: "PKCS#8 private key",
            detail: e.to_string(),
        })
}

/// The SPKI PEM text of `key` (`-----BEGIN PUBLIC KEY-----`).
///
/// # Errors
/// [`KeyError::Format`] if encoding fails (it does not for valid keys).
pub fn public_key_pem(key: &VerifyingKey) -> Result<String, KeyError> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Format {
            path: PathBuf::from("<memory>"),
            what: "SPKI public key",
            detail: e.to_string(),
        })
}

/// Creates the key file `path` (it must not exist: keys are never overwritten) — mode 0600 when
/// `private` — writes `bytes` and syncs them. Shared by every kind of key file the workspace
/// writes (issuer PEM keys, witness key strings).
///
/// # Errors
/// [`KeyError::Exists`] if the file exists, [`KeyError::Io`] on other I/O failures.
pub fn write_key_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), KeyError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            KeyError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            KeyError::Io {
                path: path.to_path_buf(),
                source: e,
            }
        }
    })?;
    file.write_all(bytes).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))?;
    Ok(())
}

/// Writes `key` as PKCS#8 PEM to a new file `path` created with mode 0600.
///
/// # Errors
/// [`KeyError::Exists`] if the file exists (keys are never overwritten), [`KeyError::Io`] on
/// other I/O failures.
pub fn save_signing_key(key: &SigningKey, path: &Path) -> Result<(), KeyError> {
    let pem = private_key_pem(key)?;
    write_key_file(path, pem.as_bytes(), true)
}

/// Writes the SPKI PEM public key of `key` to a new file `path` (mode 0644).
///
/// # Errors
/// As [`save_signing_key`].
pub fn save_public_key(key: &VerifyingKey, path: &Path) -> Result<(), KeyError> {
    let pem = public_key_pem(key)?;
    write_key_file(path, pem.as_bytes(), false)
}

fn read_bounded(path: &Path) -> Result<(File, zeroize::Zeroizing<String>), KeyError> {
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    if len > MAX_KEY_FILE {
        return Err(KeyError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let mut text = zeroize::Zeroizing::new(String::new());
    (&file)
        .take(MAX_KEY_FILE)
        .read_to_string(&mut text)
        .map_err(io_err(path))?;
    Ok((file, text))
}

/// Loads a PKCS#8 PEM Ed25519 private key, refusing files readable by group or other.
///
/// The permission check uses the opened file's metadata, so it checks the file actually read.
///
/// # Errors
/// [`KeyError::Permissions`] if the mode allows group/other access, [`KeyError::Format`] if the
/// file is not an Ed25519 PKCS#8 PEM key, [`KeyError::Io`] / [`KeyError::TooLarge`] otherwise.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let text = read_private_key_file(path)?;
    parse_signing_key(&text, path)
}

/// Reads a private key file (bounded), refusing one that group or other may read. The check
/// uses the opened file's metadata, so it checks the file actually read.
///
/// # Errors
/// [`KeyError::Permissions`], [`KeyError::TooLarge`], [`KeyError::Io`].
pub fn read_private_key_file(path: &Path) -> Result<zeroize::Zeroizing<String>, KeyError> {
    let (file, text) = read_bounded(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata().map_err(io_err(path))?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = &file;
    Ok(text)
}

fn parse_signing_key(text: &str, path: &Path) -> Result<SigningKey, KeyError> {
    SigningKey::from_pkcs8_pem(text).map_err(|e| KeyError::Format {
        path: path.to_path_buf(),
        what: "PKCS#8 private key",
        detail: e.to_string(),
    })
}

/// Loads an SPKI PEM Ed25519 public key.
///
/// # Errors
/// [`KeyError::Format`] if the file is not an Ed25519 SPKI PEM key, [`KeyError::Io`] otherwise.
pub fn load_public_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    let (_, text) = read_bounded(path)?;
    parse_public_key(&text, path)
}

/// Parses an SPKI PEM Ed25519 public key from text (`origin` names it in errors).
///
/// # Errors
/// [`KeyError::Format`] if `text` is not an Ed25519 SPKI PEM key.
pub fn parse_public_key(text: &str, origin: &Path) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_public_key_pem(text).map_err(|e| KeyError::Format {
        path: origin.to_path_buf(),
        what: "SPKI public key",
        detail: e.to_string(),
    })
}

/// The example issuer key from `keys-example/` — **demo mode only**.
///
/// The caller must warn loudly (stderr / log at WARN) that an example key is in use: anyone can
/// mint labels with it. There is deliberately no permission check, because the key is public.
///
/// # Errors
/// [`KeyError::Format`] only if the compiled-in file is corrupt.
pub fn load_example_issuer_key() -> Result<SigningKey, KeyError> {
    parse_signing_key(
        EXAMPLE_ISSUER_KEY_PEM,
        Path::new("<built-in example issuer key>"),
    )
}

/// The example log key from `keys-example/` — **demo mode only** (see [`load_example_issuer_key`]).
///
/// # Errors
/// [`KeyError::Format`] only if the compiled-in file is corrupt.
pub fn load_example_log_key() -> Result<SigningKey, KeyError> {
    parse_signing_key(EXAMPLE_LOG_KEY_PEM, Path::new("<built-in example log key>"))
}

/// The example trust-list signing key from `keys-example/` — **demo mode only**.
///
/// # Errors
/// [`KeyError::Format`] only if the compiled-in file is corrupt.
pub fn load_example_trust_list_key() -> Result<SigningKey, KeyError> {
    parse_signing_key(
        EXAMPLE_TRUST_LIST_KEY_PEM,
        Path::new("<built-in example trust-list key>"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_round_trip_with_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        let key = generate().unwrap();
        save_signing_key(&key, &path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let loaded = load_signing_key(&path).unwrap();
        assert_eq!(loaded.to_bytes(), key.to_bytes());
        // never overwritten
        assert!(matches!(
            save_signing_key(&key, &path),
            Err(KeyError::Exists { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn group_readable_key_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        save_signing_key(&generate().unwrap(), &path).unwrap();
        for mode in [0o640, 0o604, 0o644, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = load_signing_key(&path).unwrap_err();
            assert!(
                matches!(err, KeyError::Permissions { .. }),
                "{mode:o}: {err}"
            );
            assert!(err.to_string().contains("chmod 600"));
        }
    }

    #[test]
    fn public_key_round_trip_and_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate().unwrap();
        let path = dir.path().join("k.pub.pem");
        save_public_key(&key.verifying_key(), &path).unwrap();
        assert_eq!(load_public_key(&path).unwrap(), key.verifying_key());
        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, "not a key").unwrap();
        assert!(matches!(
            load_public_key(&bad),
            Err(KeyError::Format { .. })
        ));
    }

    #[test]
    fn two_generated_keys_differ() {
        assert_ne!(
            generate().unwrap().to_bytes(),
            generate().unwrap().to_bytes()
        );
    }

    #[test]
    fn example_keys_parse() {
        load_example_issuer_key().unwrap();
        load_example_log_key().unwrap();
        load_example_trust_list_key().unwrap();
    }
}
