//! `cyberlabel issue` and `cyberlabel render` (in progress).

use std::process::ExitCode;

/// Arguments of `issue`.
#[derive(Debug, clap::Args)]
pub struct IssueArgs {}

/// Arguments of `render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {}

/// Runs `issue`.
pub fn run_issue(_args: IssueArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}

/// Runs `render`.
pub fn run_render(_args: RenderArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
