//! `cyberlabel witness`: run a C2SP `tlog-witness` (crate `cyberlabel-witness`).
//!
//! - `witness keygen --name <witness name> --out <dir>` writes `<dir>/witness.key` (the C2SP
//!   private key string `PRIVATE+KEY+<name>+<id>+…`, mode 0600) and `<dir>/witness.vkey` (the
//!   cosignature/v1 verifier key to give to log operators and verifiers), and prints the vkey.
//! - `witness serve --key <file> --data <dir> --listen <addr> --log <log vkey>…` serves
//!   `POST <prefix>/add-checkpoint` and `GET <prefix>/<sha256(origin)>/checkpoint`. On start it
//!   prints `vkey <vkey>` and `listening http://<addr>` on stdout (so a script can start it on
//!   port 0 and read the address); it stops gracefully on SIGTERM or Ctrl-C, and, with the
//!   hidden `--exit-on-stdin-eof` (used by `serve --demo`'s witness children), when its
//!   standard input closes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use cyberlabel_witness::{Store, Witness, keys};

/// `cyberlabel witness …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Generate a witness key: <out>/witness.key (0600) and <out>/witness.vkey.
    Keygen(KeygenArgs),
    /// Run the witness HTTP service.
    Serve(ServeArgs),
}

/// `cyberlabel witness keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// The witness's name (signed-note key name), e.g. witness.example.org/w1.
    #[arg(long)]
    name: String,
    /// Directory for witness.key and witness.vkey (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// `cyberlabel witness serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The witness private key file (from `cyberlabel witness keygen`, mode 0600).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Data directory of the witness database.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Listen address (port 0: any free port, printed on start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7380")]
    listen: std::net::SocketAddr,
    /// A log to witness: its C2SP note verifier key `<origin>+<id>+<base64>` (repeatable; several
    /// keys may share an origin).
    #[arg(long = "log", value_name = "VKEY", required = true)]
    logs: Vec<String>,
    /// URL path prefix of the endpoints, e.g. /witness (default: none).
    #[arg(long, default_value = "")]
    prefix: String,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long)]
    log_json: bool,
    /// Stop when standard input closes (a parent process that holds the pipe: its witnesses
    /// end with it, even when it is killed).
    #[arg(long, hide = true)]
    exit_on_stdin_eof: bool,
}

/// Resolves when standard input reaches end of file (or fails): read on a plain thread, since
/// a blocking stdin read cannot be cancelled.
async fn stdin_closed() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin();
        while let Ok(n) = std::io::Read::read(&mut stdin, &mut sink) {
            if n == 0 {
                break;
            }
        }
        let _ = tx.send(());
    });
    let _ = rx.await;
}

/// Runs a `witness` subcommand.
pub fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Keygen(args) => keygen(args),
        Command::Serve(args) => serve(args),
    }
}

fn keygen(args: KeygenArgs) -> Result<ExitCode> {
    let (signer, private) = keys::generate(&args.name).context("cannot generate a witness key")?;
    crate::util::ensure_dir(&args.out)?;
    let key_path = args.out.join("witness.key");
    let vkey_path = args.out.join("witness.vkey");
    if vkey_path.exists() {
        bail!(
            "{} already exists; refusing to overwrite",
            vkey_path.display()
        );
    }
    keys::save_private(&private, &key_path).context("cannot write the witness key")?;
    let vkey = signer.verifier().to_string();
    std::fs::write(&vkey_path, format!("{vkey}\n"))
        .with_context(|| format!("cannot write {}", vkey_path.display()))?;
    eprintln!(
        "wrote {} (private, 0600) and {}",
        key_path.display(),
        vkey_path.display()
    );
    println!("{vkey}");
    Ok(ExitCode::SUCCESS)
}

fn serve(args: ServeArgs) -> Result<ExitCode> {
    use std::io::Write as _;
    crate::util::init_tracing(args.log_json);
    let signer = keys::load(&args.key).context("cannot load the witness key")?;
    crate::util::ensure_dir(&args.data)?;
    let db = args.data.join("witness.db");
    let store = Store::open(&db).with_context(|| {
        format!(
            "cannot open the witness database {} (is another witness running on it?)",
            db.display()
        )
    })?;
    let witness =
        Arc::new(Witness::new(signer, &args.logs, store).context("invalid --log verifier key")?);
    let vkey = witness.verifier().to_string();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {}: is the port in use? (--listen)",
                    args.listen
                )
            })?;
        let addr = listener.local_addr().context("listener address")?;
        let origins: Vec<&str> = witness.origins().collect();
        tracing::info!(%addr, vkey = %vkey, logs = ?origins, "witness listening");
        let mut out = std::io::stdout().lock();
        writeln!(out, "vkey {vkey}")?;
        // before the announcement: a SIGTERM right after it shuts down cleanly
        let signal = cyberlabel_server::shutdown_signal();
        writeln!(
            out,
            "listening http://{addr}{}",
            args.prefix.trim_end_matches('/')
        )?;
        out.flush()?;
        drop(out);
        let router = cyberlabel_witness::router(witness.clone(), &args.prefix);
        let on_eof = args.exit_on_stdin_eof;
        let shutdown = async move {
            if on_eof {
                tokio::select! {
                    () = signal => {}
                    () = stdin_closed() => tracing::info!("standard input closed: stopping"),
                }
            } else {
                signal.await;
            }
        };
        cyberlabel_witness::serve(listener, router, shutdown)
            .await
            .context("witness server failed")?;
        witness
            .store()
            .flush()
            .context("cannot flush the witness database")?;
        tracing::info!("witness stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
