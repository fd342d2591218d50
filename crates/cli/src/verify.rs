//! `cyberlabel verify` (in progress).

use std::process::ExitCode;

/// Exit codes, shown in `verify --help`.
pub const EXIT_CODES_HELP: &str = "Exit codes: 0 genuine";

/// Arguments of `verify`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `verify`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
