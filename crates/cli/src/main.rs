//! The `cyberlabel` command line. `main` only parses and dispatches: each command group lives in
//! its own module (`keygen`, `issue` + `render`, `verify`, `schemes`, `trust_list`; the server
//! commands `serve`/`token` in `serve.rs`, with demo mode's witness processes in
//! `demo_witnesses.rs`; the transparency-log witness in `witness.rs`; the auditor in `audit.rs`,
//! `audit_replay.rs`, `audit_state.rs`, `bench_audit.rs`; the client of a running server in
//! `client.rs` and `client_bulk.rs`; copying the read side to an object store in
//! `publish.rs`), and each module's `run` returns the process exit code. Shared pieces: `fetch`
//! (HTTP reads of a log), `seen` (what `verify`
//! remembers between runs), `util`.
//!
//! Errors are `anyhow` chains whose outermost context says what failed and what to do next.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod audit;
mod audit_replay;
mod audit_state;
mod bench_audit;
mod bench_register;
mod bench_store;
mod client;
mod client_bulk;
mod demo_witnesses;
mod fetch;
mod issue;
mod keygen;
mod photo;
mod publish;
mod restore;
mod schemes;
mod seen;
mod serve;
mod trust_list;
mod trust_list_build;
mod util;
mod verify;
mod witness;

/// Consumer-IoT cybersecurity labels (ISO/IEC 27404): issue, print and verify signed QR labels.
#[derive(Debug, Parser)]
// `about` is this text, not the package description: the command list below is the one source
// of which commands exist.
#[command(
    name = "cyberlabel",
    version,
    about = "Consumer-IoT cybersecurity labels (ISO/IEC 27404): issue, print and verify signed QR labels.",
    long_about = None,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate an Ed25519 key pair (PKCS#8 PEM private key written 0600, SPKI PEM public key).
    Keygen(keygen::Args),
    /// Mint a signed label for a product and write the label, its QR code and the artwork.
    Issue(issue::IssueArgs),
    /// Verify a label from its payload text or a photo/PNG of its QR code.
    #[command(after_help = verify::EXIT_CODES_HELP)]
    Verify(verify::Args),
    /// Re-draw the QR code and printable artwork of an existing label.
    Render(issue::RenderArgs),
    /// List the scheme catalog: schemes, levels, what they mean, categories and provisions.
    #[command(
        after_help = "An issuing body adds its own schemes without a code change: set CYBERLABEL_CATALOG to a JSON file in the format of `cyberlabel schemes --json`; every command merges it into the built-in catalog."
    )]
    Schemes(schemes::Args),
    /// Trust lists: create and edit (issuers and their keys, logs and partner logs, witnesses and policies, equivalences), diff, sign, show.
    #[command(subcommand, name = "trust-list")]
    TrustList(trust_list::Command),
    #[command(flatten)]
    Server(serve::Command),
    /// Work with a running server: mint (one, or a CSV/NDJSON file in bulk, resumable),
    /// suspend, reinstate, revoke, renew, list what a token minted.
    #[command(subcommand)]
    Client(client::Command),
    /// Audit a log from its public read side: replay every entry, check the tree, the status
    /// map and the admission rules against the signed checkpoint; incremental across runs.
    #[command(after_help = audit::EXIT_CODES_HELP)]
    Audit(audit::Args),
    /// Audit throughput benchmark (entries/s vs raw Ed25519 verification on all cores).
    #[command(hide = true, name = "bench-audit")]
    BenchAudit(bench_audit::Args),
    /// Public register benchmark (fold rate, search p50/p99, bytes per label).
    #[command(hide = true, name = "bench-register")]
    BenchRegister(bench_register::Args),
    /// Log store benchmark through the real server (RSS during random reads, disk per entry).
    #[command(hide = true, name = "bench-store")]
    BenchStore(bench_store::Args),
    /// Run a C2SP tlog-witness that cosigns transparency-log checkpoints (keygen, serve).
    #[command(subcommand)]
    Witness(witness::Command),
    /// Rebuild a stopped server's log from a mirror of its read side (another server of the
    /// same log, or its static copy): every entry re-checked, the tree must match the mirror's
    /// signed checkpoint. Takes the same configuration as `serve`.
    Restore(restore::Args),
    /// Copy a log's read side (tiles, bundles, status, checkpoint, trust list, page) to an
    /// S3-compatible object store, once or following the log; resumes where it stopped.
    Publish(publish::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Issue(args) => issue::run_issue(args),
        Command::Verify(args) => verify::run(args),
        Command::Render(args) => issue::run_render(args),
        Command::Schemes(args) => schemes::run(args),
        Command::TrustList(cmd) => trust_list::run(cmd),
        Command::Server(cmd) => serve::run(cmd),
        Command::Client(cmd) => client::run(cmd),
        Command::Witness(cmd) => witness::run(cmd),
        Command::Audit(args) => audit::run(args),
        Command::BenchAudit(args) => bench_audit::run(args),
        Command::BenchRegister(args) => bench_register::run(args),
        Command::BenchStore(args) => bench_store::run(args),
        Command::Publish(args) => publish::run(args),
        Command::Restore(args) => restore::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(util::EXIT_ERROR)
        }
    }
}
