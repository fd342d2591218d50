//! Small helpers shared by the commands: exit codes, reading bounded input files, writing outputs.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Exit code when a command could not run (bad input, I/O): see `verify --help` for verdict codes.
pub const EXIT_ERROR: u8 = 1;

/// Reads a file of at most `max` bytes.
pub fn read_bounded(path: &Path, max: u64, what: &str) -> Result<Vec<u8>> {
    let meta = fs::metadata(path).with_context(|| {
        format!(
            "cannot read {what} {}: check the path (and that you may read it)",
            path.display()
        )
    })?;
    if meta.len() > max {
        bail!(
            "{what} {} is {} bytes, more than the {max} accepted: is this the right file?",
            path.display(),
            meta.len()
        );
    }
    fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

/// Writes `bytes` to `dir/name` and returns the path (for the summary).
pub fn write_out(dir: &Path, name: &str, bytes: &[u8]) -> Result<std::path::PathBuf> {
    let path = dir.join(name);
    fs::write(&path, bytes).with_context(|| {
        format!(
            "cannot write {}: check that the --out directory is writable",
            path.display()
        )
    })?;
    Ok(path)
}

/// Creates the output directory (and parents) if missing.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create output directory {}: choose another --out",
            dir.display()
        )
    })
}
