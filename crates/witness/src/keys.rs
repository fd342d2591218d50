//! The witness's own key: a cosignature/v1 (type `0x04`) Ed25519 key stored as a C2SP / Go
//! private-key string `PRIVATE+KEY+<name>+<hex key id>+<base64(0x04 ‖ 32-byte seed)>` (what
//! [`NoteSigner::parse_private`] reads), in a file created with mode 0600. Loading refuses a file
//! readable by group or other, like the issuer's PEM keys (`cyberlabel_issuer::keys`).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cyberlabel_core::note::{self, KeyKind, NoteError, NoteSigner};
use cyberlabel_issuer::keys::{KeyError as FileError, read_private_key_file, write_key_file};
use ed25519_dalek::SigningKey;
use zeroize::{Zeroize as _, Zeroizing};

/// Key file failures.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing the key file (exists, permissions, size, I/O): the same rules as the
    /// issuer's key files.
    #[error(transparent)]
    File(#[from] FileError),
    /// The file does not hold a valid private key string.
    #[error("{path}: not a PRIVATE+KEY+… signer key: {source}")]
    Format {
        /// file
        path: PathBuf,
        /// cause
        source: NoteError,
    },
    /// The key is not a cosignature/v1 key.
    #[error("{path}: not a cosignature/v1 (type 0x04) witness key")]
    WrongKind {
        /// file
        path: PathBuf,
    },
    /// The witness name is not a valid note key name.
    #[error("invalid witness name {0:?}: must be non-empty, without spaces or '+'")]
    InvalidName(String),
    /// The OS random number generator failed.
    #[error("random number generator: {0}")]
    Random(getrandom::Error),
}

/// A new random cosignature/v1 witness key named `name`.
///
/// # Errors
/// [`KeyError::InvalidName`], [`KeyError::Random`].
pub fn generate(name: &str) -> Result<(NoteSigner, Zeroizing<String>), KeyError> {
    if !note::is_valid_key_name(name) {
        return Err(KeyError::InvalidName(name.to_owned()));
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(KeyError::Random)?;
    let out = from_seed(name, &seed);
    seed.zeroize();
    out
}

/// The witness key named `name` with the given Ed25519 seed, and its private key string.
///
/// # Errors
/// [`KeyError::InvalidName`].
pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<(NoteSigner, Zeroizing<String>), KeyError> {
    let signer = NoteSigner::new(name, KeyKind::CosignatureV1, SigningKey::from_bytes(seed))
        .map_err(|_| KeyError::InvalidName(name.to_owned()))?;
    let mut raw = Zeroizing::new(Vec::with_capacity(33));
    raw.push(note::TYPE_COSIGNATURE_V1);
    raw.extend_from_slice(seed);
    let text = Zeroizing::new(format!(
        "PRIVATE+KEY+{name}+{:08x}+{}",
        signer.verifier().key_id(),
        B64.encode(raw.as_slice())
    ));
    Ok((signer, text))
}

/// Writes the private key string (and a newline) to a new file `path` created with mode 0600.
///
/// # Errors
/// [`KeyError::File`]: the file exists, or I/O.
pub fn save_private(text: &str, path: &Path) -> Result<(), KeyError> {
    let line = Zeroizing::new(format!("{text}\n"));
    Ok(write_key_file(path, line.as_bytes(), true)?)
}

/// Loads a witness key file, refusing files readable by group or other and keys that are not
/// cosignature/v1.
///
/// # Errors
/// Any [`KeyError`].
pub fn load(path: &Path) -> Result<NoteSigner, KeyError> {
    let text = read_private_key_file(path)?;
    let signer = NoteSigner::parse_private(text.trim()).map_err(|source| KeyError::Format {
        path: path.to_path_buf(),
        source,
    })?;
    if signer.verifier().kind() != KeyKind::CosignatureV1 {
        return Err(KeyError::WrongKind {
            path: path.to_path_buf(),
        });
    }
    Ok(signer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_round_trip_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.key");
        let (signer, text) = generate("witness.example/w1").unwrap();
        assert!(text.starts_with("PRIVATE+KEY+witness.example/w1+"));
        save_private(&text, &path).unwrap();
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.verifier(), signer.verifier());
        assert!(matches!(
            save_private(&text, &path),
            Err(KeyError::File(FileError::Exists { .. }))
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            for m in [0o640, 0o604, 0o644] {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m)).unwrap();
                assert!(matches!(
                    load(&path),
                    Err(KeyError::File(FileError::Permissions { .. }))
                ));
            }
        }
        assert!(matches!(generate("a b"), Err(KeyError::InvalidName(_))));
    }

    #[test]
    fn refuses_log_keys_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        save_private("PRIVATE+KEY+x+00000000+AQ==", &path).unwrap();
        assert!(matches!(load(&path), Err(KeyError::Format { .. })));
        // an Ed25519 (0x01) note key is not a witness key
        let seed = [5u8; 32];
        let s = NoteSigner::new("x", KeyKind::Ed25519, SigningKey::from_bytes(&seed)).unwrap();
        let mut raw = vec![1u8];
        raw.extend_from_slice(&seed);
        let text = format!(
            "PRIVATE+KEY+x+{:08x}+{}",
            s.verifier().key_id(),
            B64.encode(raw)
        );
        let p2 = dir.path().join("log.key");
        save_private(&text, &p2).unwrap();
        assert!(matches!(load(&p2), Err(KeyError::WrongKind { .. })));
    }
}
