//! What `cyberlabel verify` remembers between runs (the CLI's counterpart of the page's browser
//! storage): per log origin the newest checkpoint it verified (tree size and root; every later
//! checkpoint must extend it, so a replayed or forked log is caught), and per trust-list anchor
//! the newest trust-list version it accepted (an older list is refused).
//!
//! The file is JSON, by default `$XDG_STATE_HOME/cyberlabel/seen.json` (or
//! `~/.local/state/cyberlabel/seen.json`), written atomically (temporary file + rename).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cyberlabel_core::online::Seen;
use serde::{Deserialize, Serialize};

/// Largest state file read.
const MAX_STATE: u64 = 1 << 20;

/// One remembered checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SeenCheckpoint {
    size: u64,
    /// base64 root hash
    root: String,
}

/// The state file's contents.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// log origin → newest verified checkpoint
    #[serde(default)]
    logs: BTreeMap<String, SeenCheckpoint>,
    /// trust-list signer key (hex) → newest trust-list version accepted
    #[serde(default)]
    trust_lists: BTreeMap<String, u64>,
}

/// The default state file path.
pub fn default_path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".local/state"),
    };
    Some(base.join("cyberlabel").join("seen.json"))
}

impl State {
    /// Loads the state file; a missing file is an empty state.
    ///
    /// # Errors
    /// An unreadable or corrupt file (refused rather than silently forgotten: forgetting would
    /// disable the rollback check).
    pub fn load(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Ok(Self::default());
        }
        let bytes = crate::util::read_bounded(path, MAX_STATE, "verifier state file")?;
        serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "the verifier state file {} is corrupt: fix or delete it (deleting forgets the \
                 checkpoints seen before)",
                path.display()
            )
        })
    }

    /// The newest checkpoint of `origin` verified before.
    pub fn seen(&self, origin: &str) -> Option<Seen> {
        let s = self.logs.get(origin)?;
        let root = B64.decode(&s.root).ok()?.try_into().ok()?;
        Some(Seen { size: s.size, root })
    }

    /// Remembers `seen` as the newest checkpoint of `origin` (never going back).
    pub fn remember(&mut self, origin: &str, seen: Seen) {
        if self.logs.get(origin).is_some_and(|s| s.size > seen.size) {
            return;
        }
        self.logs.insert(
            origin.to_owned(),
            SeenCheckpoint {
                size: seen.size,
                root: B64.encode(seen.root),
            },
        );
    }

    /// The newest trust-list version accepted under `anchor` (0 = none).
    pub fn trust_list_version(&self, anchor: &str) -> u64 {
        self.trust_lists.get(anchor).copied().unwrap_or(0)
    }

    /// Remembers trust-list `version` under `anchor` (never going back).
    pub fn remember_trust_list(&mut self, anchor: &str, version: u64) {
        let v = self.trust_lists.entry(anchor.to_owned()).or_insert(0);
        *v = (*v).max(version);
    }

    /// Writes the state atomically (temporary file in the same directory, then rename).
    ///
    /// # Errors
    /// I/O failures.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::util::ensure_dir(dir)?;
        }
        let json = serde_json::to_vec_pretty(self).context("cannot encode the verifier state")?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, json).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot replace {}", path.display())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_newest_only_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/seen.json");
        let mut st = State::load(&path).unwrap();
        assert!(st.seen("o").is_none());
        st.remember(
            "o",
            Seen {
                size: 5,
                root: [1; 32],
            },
        );
        st.remember(
            "o",
            Seen {
                size: 3,
                root: [2; 32],
            },
        );
        st.remember_trust_list("a", 4);
        st.remember_trust_list("a", 2);
        st.save(&path).unwrap();
        let back = State::load(&path).unwrap();
        assert_eq!(
            back.seen("o"),
            Some(Seen {
                size: 5,
                root: [1; 32]
            })
        );
        assert_eq!(back.trust_list_version("a"), 4);
        assert_eq!(back.trust_list_version("b"), 0);
        std::fs::write(&path, b"{not json").unwrap();
        assert!(
            State::load(&path).is_err(),
            "a corrupt file is refused, not forgotten"
        );
    }
}
