//! `cyberlabel trust-list` (in progress).

use std::process::ExitCode;

/// `trust-list` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Sign a trust-list JSON document.
    Sign {},
}

/// Runs a `trust-list` subcommand.
pub fn run(_cmd: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
