//! `cyberlabel schemes` (in progress).

use std::process::ExitCode;

/// Arguments of `schemes`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `schemes`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
