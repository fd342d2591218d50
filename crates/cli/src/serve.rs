//! Server commands (`serve`, `token`) — owned by the server helper (H5); this is a placeholder
//! that keeps the command tree's shape. Replace this file's contents; keep `Command` + `run`.

use std::process::ExitCode;

/// Server command group, flattened into the top-level command list.
#[derive(Debug, clap::Subcommand)]
pub enum Command {}

/// Runs a server command.
pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {}
}
