//! Small helpers shared by the commands: exit codes, reading bounded input files, writing outputs.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Exit code when a command could not run (bad input, I/O): see `verify --help` for verdict codes.
pub const EXIT_ERROR: u8 = 1;

/// Reads a file of at most `max` bytes.
pub fn read_bounded(path: &Path, max: u64, what: &str) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let file = fs::File::open(path).with_context(|| {
        format!(
            "cannot read {what} {}: check the path (and that you may read it)",
            path.display()
        )
    })?;
    // Bounded by the read itself, not by metadata: a FIFO or device reports no useful length.
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    if bytes.len() as u64 > max {
        bail!(
            "{what} {} is more than the {max} bytes accepted: is this the right file?",
            path.display()
        );
    }
    Ok(bytes)
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

/// Logs to stderr with `tracing` (`CYBERLABEL_LOG` filter, default `info`): JSON lines when
/// asked, plain text otherwise — colour only when stderr is a terminal, so logs written to a
/// file or a journal carry no escape codes.
pub fn init_tracing(json: bool) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("CYBERLABEL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // Errors only if a subscriber is already set (tests): harmless.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// A progress bar on stderr when it is a terminal, else a hidden one (logs stay clean).
pub fn progress(total: u64, message: &'static str) -> indicatif::ProgressBar {
    use std::io::IsTerminal as _;
    if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(total);
        b.set_message(message);
        b
    } else {
        indicatif::ProgressBar::hidden()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_bounded_limits_the_read() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        fs::write(&p, [7u8; 10]).unwrap();
        assert_eq!(read_bounded(&p, 10, "file").unwrap(), [7u8; 10]);
        assert!(read_bounded(&p, 9, "file").is_err());
        assert!(read_bounded(&d.path().join("missing"), 9, "file").is_err());
    }

    /// A device reports length 0 but never ends: the bound must come from the read.
    #[cfg(target_os = "linux")]
    #[test]
    fn read_bounded_stops_on_endless_devices() {
        let e = read_bounded(Path::new("/dev/zero"), 1024, "file").unwrap_err();
        assert!(e.to_string().contains("more than the 1024 bytes"), "{e}");
    }
}
