//! Build and test automation for the cyberlabel workspace, in plain Rust so that a fresh machine
//! needs nothing but the pinned toolchain (`rust-toolchain.toml`).
//!
//! - `cargo xtask demo [-- serve args]`: build the verifier page's wasm, then run
//!   `cyberlabel serve --demo` on a sled store in `./data`.
//! - `cargo xtask test`: everything CI checks (this is what `.ci/run` runs): installs missing
//!   system tools (Chromium, zbar, nginx), the npm and Python test tools, then fmt, the
//!   supply-chain check (cargo deny, installing cargo-deny when missing), clippy, the
//!   workspace tests, a short run of every fuzz target on stable, the core for wasm32, the wasm test vectors under node and the headless
//!   browser end-to-end tests, with a timing per step.
//! - `cargo xtask deny`: only the supply-chain step of `test` (cargo-deny with `deny.toml`, the
//!   RustSec database read offline from `../shared/advisory-db.tar.gz`).
//! - `cargo xtask figures [--write]`: the README's generated figures table from one
//!   `cyberlabel bench` run and one browser run (`figures.rs`).
//! - `cargo xtask wasm`: only build the wasm + JS glue (`wasm-verifier/www/pkg/` for the page,
//!   `target/wasm-node/` for the node tests).
//!
//! The wasm glue is generated with `wasm-bindgen-cli-support` as a library (version locked to the
//! `wasm-bindgen` crate in `wasm-verifier/Cargo.toml`), so no `wasm-bindgen` CLI install is needed.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

mod figures;

const WASM_CRATE: &str = "cyberlabel-wasm";
const WASM_ARTIFACT: &str = "cyberlabel_wasm.wasm";
const WASM_PROFILE: &str = "wasm-release";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// Debian packages the tests use: the browser for the e2e tests, zbarimg as an independent QR
/// decoder, nginx as an independent static file server for tiles, and the Python venv module.
const APT_PACKAGES: &[(&str, &str)] = &[
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    ("zbar-tools", "/usr/bin/zbarimg"),
    ("nginx", "/usr/sbin/nginx"),
];

fn main() {
    if let Err(e) = real_main() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let mut args = env::args().skip(1);
    let cmd = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let root = workspace_root()?;
    env::set_current_dir(&root).with_context(|| format!("cd {}", root.display()))?;
    match cmd.as_str() {
        "demo" => demo(&root, &rest),
        "test" => test(&root, &rest),
        "wasm" => {
            let mut t = Timings::default();
            build_wasm(&root, &mut t)?;
            t.print();
            Ok(())
        }
        "setup" => {
            let mut t = Timings::default();
            setup(&root, &mut t)?;
            t.print();
            Ok(())
        }
        "deny" => {
            let mut t = Timings::default();
            let r = t.step(
                "supply chain: cargo deny (advisories, licences, bans, sources)",
                || supply_chain(&root),
            );
            t.print();
            r
        }
        "figures" => figures::figures(&root, &rest),
        "ensure-wasm-target" => ensure_wasm_target(),
        "fresh-check" => fresh_rustup_check(&root),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 demo [serve args]  build the verifier page, then run `cyberlabel serve --demo --data ./data`\n  \
                 test [--skip-setup] [--no-e2e]\n                     \
                 everything CI checks (fmt, clippy, tests, wasm, browser e2e)\n  \
                 wasm               build the wasm verifier + JS glue only\n  \
                 setup              install the test tools only (apt, npm, python venv)\n  \
                 figures [--write] [--skip-setup] [-- bench args]\n                     \
                 one `cyberlabel bench` run and one browser run -> the README's figures table\n  \
                 deny               supply-chain check only (cargo deny, offline RustSec database)\n  \
                 ensure-wasm-target add the wasm32 target to the pinned toolchain if it is missing\n  \
                 fresh-check        prove the above from a rustup home that lacks the target"
            );
            if cmd.is_empty() || cmd == "help" || cmd == "--help" {
                Ok(())
            } else {
                bail!("unknown command {cmd:?}")
            }
        }
    }
}

fn workspace_root() -> Result<PathBuf> {
    // xtask lives in <root>/xtask; CARGO_MANIFEST_DIR is set at compile time.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    dir.parent()
        .map(Path::to_path_buf)
        .context("xtask manifest dir has no parent")
}

fn target_dir(root: &Path) -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"))
}

fn cargo() -> Command {
    Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs a command, inheriting stdio; fails with the command line if it does not succeed.
fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    println!("xtask: $ {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("command failed ({status}): {shown}");
    }
    Ok(())
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[derive(Default)]
struct Timings(Vec<(String, Duration, bool)>);

impl Timings {
    fn step(&mut self, name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
        println!("\n==== xtask step: {name} ====");
        let start = Instant::now();
        let r = f();
        let took = start.elapsed();
        println!(
            "==== {name}: {} in {:.1} s ====",
            if r.is_ok() { "ok" } else { "FAILED" },
            took.as_secs_f64()
        );
        self.0.push((name.to_string(), took, r.is_ok()));
        r
    }

    fn print(&self) {
        let total: Duration = self.0.iter().map(|(_, d, _)| *d).sum();
        println!("\nxtask timings:");
        for (name, d, ok) in &self.0 {
            println!(
                "  {:>7.1} s  {}  {name}",
                d.as_secs_f64(),
                if *ok { "ok    " } else { "FAILED" }
            );
        }
        println!("  {:>7.1} s  total", total.as_secs_f64());
    }
}

// ---------------------------------------------------------------------------------------------
// setup: system packages, npm, python

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn setup(root: &Path, t: &mut Timings) -> Result<()> {
    t.step("setup: system packages (apt)", setup_apt)?;
    t.step("setup: npm ci (tests/e2e)", || setup_npm(root))?;
    t.step("setup: python venv (scripts/requirements-test.txt)", || {
        setup_python(root).map(|_| ())
    })?;
    Ok(())
}

fn setup_apt() -> Result<()> {
    let mut missing: Vec<&str> = APT_PACKAGES
        .iter()
        .filter(|(_, bin)| !Path::new(bin).exists())
        .map(|(pkg, _)| *pkg)
        .collect();
    if !have("node") || !have("npm") {
        missing.extend(["nodejs", "npm"]);
    }
    let venv_ok = Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !venv_ok {
        // Debian's python3 lacks the venv/ensurepip modules until python3-venv is installed.
        missing.extend(["python3", "python3-venv"]);
    }
    if missing.is_empty() {
        println!("xtask: all system packages present");
        return Ok(());
    }
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo", "-n"] };
    let apt = |args: &[&str]| -> Result<()> {
        let mut all: Vec<&str> = sudo.to_vec();
        all.extend(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        all.extend(args);
        run(Command::new(all[0]).args(&all[1..]))
    };
    println!("xtask: installing {}", missing.join(" "));
    apt(&["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(missing.iter().copied());
    apt(&install)
}

fn setup_npm(root: &Path) -> Result<()> {
    let dir = root.join("tests/e2e");
    // node_modules must match the lock file: a dependency added since the last install (e.g.
    // axe-core) would otherwise be missing until someone deletes node_modules by hand.
    let lock =
        fs::read(dir.join("package-lock.json")).context("read tests/e2e/package-lock.json")?;
    let stamp = dir.join("node_modules/.cyberlabel-lock");
    if fs::read(&stamp).ok().as_deref() == Some(lock.as_slice()) {
        println!("xtask: tests/e2e/node_modules matches package-lock.json");
        return Ok(());
    }
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir))?;
    fs::write(&stamp, lock).context("write the node_modules stamp")?;
    Ok(())
}

/// Creates (once) a venv under the target dir with the pinned test tools; returns its python.
fn setup_python(root: &Path) -> Result<PathBuf> {
    let venv = target_dir(root).join("py-venv");
    let python = venv.join("bin/python3");
    let req = root.join("scripts/requirements-test.txt");
    let stamp = venv.join("requirements.stamp");
    let wanted = fs::read_to_string(&req).with_context(|| format!("read {}", req.display()))?;
    if python.exists() && fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        println!("xtask: python venv up to date: {}", venv.display());
        return Ok(python);
    }
    if !python.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&req))?;
    fs::write(&stamp, wanted)?;
    Ok(python)
}

// ---------------------------------------------------------------------------------------------
// wasm

/// The pinned toolchain's wasm32 standard library, if installed.
fn wasm_std_dir() -> Result<Option<PathBuf>> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", WASM_TARGET])
        .output()
        .with_context(|| format!("cannot run {}", rustc.to_string_lossy()))?;
    if !out.status.success() {
        // An old rustc that does not know the target at all.
        return Ok(None);
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let has_core = fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().starts_with("libcore-"))
        })
        .unwrap_or(false);
    Ok(has_core.then_some(dir))
}

/// `rust-toolchain.toml` lists the wasm target, but rustup installs it only when automatic
/// installs are on (`RUSTUP_AUTO_INSTALL=0` on our machines): add it ourselves when missing.
fn ensure_wasm_target() -> Result<()> {
    if let Some(dir) = wasm_std_dir()? {
        println!("xtask: {WASM_TARGET} target present ({})", dir.display());
        return Ok(());
    }
    if !have("rustup") {
        bail!(
            "the {WASM_TARGET} standard library is missing and rustup is not on PATH: \
             install the target for this toolchain by hand"
        );
    }
    println!("xtask: {WASM_TARGET} target missing for the pinned toolchain: adding it");
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add"]);
    // rustup's proxy sets RUSTUP_TOOLCHAIN for the processes it starts: add the target to
    // the toolchain this build runs on, not to the default one.
    if let Some(tc) = env::var_os("RUSTUP_TOOLCHAIN") {
        cmd.arg("--toolchain").arg(tc);
    }
    cmd.arg(WASM_TARGET);
    run(&mut cmd)?;
    match wasm_std_dir()? {
        Some(dir) => {
            println!("xtask: {WASM_TARGET} target installed ({})", dir.display());
            Ok(())
        }
        None => bail!("`rustup target add {WASM_TARGET}` ran but the target is still missing"),
    }
}

/// Proves the README's commands work on a machine whose rustup home lacks the wasm target with
/// automatic installs off: clones this toolchain into a temporary rustup home (hard links, so
/// it is cheap; the files rustup rewrites are real copies so the original is never touched),
/// removes the wasm target from it, runs `xtask ensure-wasm-target` there and builds core for
/// wasm32 with it.
fn fresh_rustup_check(root: &Path) -> Result<()> {
    let sysroot = {
        let out = Command::new(env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
            .args(["--print", "sysroot"])
            .output()
            .context("rustc --print sysroot")?;
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    };
    let Some(tc_name) = sysroot
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
    else {
        bail!("odd sysroot {}", sysroot.display());
    };
    if !have("rustup") || !sysroot.parent().is_some_and(|p| p.ends_with("toolchains")) {
        println!(
            "xtask: not a rustup toolchain ({}): fresh-machine check skipped",
            sysroot.display()
        );
        return Ok(());
    }
    let home = target_dir(root).join("fresh-rustup-home");
    if home.exists() {
        fs::remove_dir_all(&home).with_context(|| format!("clean {}", home.display()))?;
    }
    let tc_dir = home.join("toolchains").join(&tc_name);
    fs::create_dir_all(home.join("toolchains"))?;
    run(Command::new("cp").arg("-al").arg(&sysroot).arg(&tc_dir))?;
    let rustlib = tc_dir.join("lib/rustlib");
    // rustup rewrites these metadata files when it adds a target: break the hard links.
    for e in fs::read_dir(&rustlib)? {
        let e = e?;
        if e.file_type()?.is_file() {
            let bytes = fs::read(e.path())?;
            fs::remove_file(e.path())?;
            fs::write(e.path(), bytes)?;
        }
    }
    let wasm_dir = rustlib.join(WASM_TARGET);
    if wasm_dir.exists() {
        fs::remove_dir_all(&wasm_dir)?;
    }
    let components = rustlib.join("components");
    let listed = fs::read_to_string(&components).unwrap_or_default();
    let kept: String = listed
        .lines()
        .filter(|l| !l.contains(WASM_TARGET))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(&components, kept)?;
    let _ = fs::remove_file(rustlib.join(format!("manifest-rust-std-{WASM_TARGET}")));
    // rustup's own record of installed components: drop the wasm std block.
    let config = rustlib.join("multirust-config.toml");
    if let Ok(text) = fs::read_to_string(&config) {
        let kept: Vec<&str> = text
            .split("\n\n")
            .filter(|block| !block.contains(WASM_TARGET))
            .collect();
        fs::write(&config, kept.join("\n\n"))?;
    }
    let settings = env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustup")))
        .map(|h| h.join("settings.toml"));
    if let Some(s) = settings.filter(|s| s.exists()) {
        fs::copy(&s, home.join("settings.toml"))?;
    }
    let fresh = |cmd: &mut Command| {
        cmd.env("RUSTUP_HOME", &home)
            .env("RUSTUP_AUTO_INSTALL", "0")
            .env("RUSTUP_TOOLCHAIN", &tc_name)
            .env_remove("RUSTC")
            .env_remove("CARGO")
            .current_dir(root);
    };
    // The clone really lacks the target: building core for wasm32 fails there.
    let mut probe = Command::new("cargo");
    probe.args([
        "build",
        "-q",
        "-p",
        "cyberlabel-core",
        "--target",
        WASM_TARGET,
    ]);
    probe.arg("--target-dir").arg(home.join("target"));
    fresh(&mut probe);
    let out = probe.output().context("cargo in the fresh rustup home")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || !stderr.contains("can't find crate for `core`") {
        bail!(
            "expected the build in a rustup home without {WASM_TARGET} to fail for the missing \
             target; it {}:\n{stderr}",
            if out.status.success() {
                "succeeded"
            } else {
                "failed otherwise"
            }
        );
    }
    println!("xtask: fresh rustup home without {WASM_TARGET}: wasm32 build fails as expected");
    // The workspace build earlier in `cargo xtask test` may have replaced this very binary on
    // disk; on Linux /proc/self/exe still execs the running one.
    let me = if Path::new("/proc/self/exe").exists() {
        PathBuf::from("/proc/self/exe")
    } else {
        env::current_exe().context("current_exe")?
    };
    let mut ensure = Command::new(me);
    ensure.arg("ensure-wasm-target");
    fresh(&mut ensure);
    run(&mut ensure)?;
    let mut build = Command::new("cargo");
    build.args([
        "build",
        "-q",
        "-p",
        "cyberlabel-core",
        "--target",
        WASM_TARGET,
    ]);
    build.arg("--target-dir").arg(home.join("target"));
    fresh(&mut build);
    run(&mut build)?;
    fs::remove_dir_all(&home).with_context(|| format!("clean {}", home.display()))?;
    println!("xtask: fresh rustup home: target added by xtask, core builds for {WASM_TARGET}");
    Ok(())
}

fn build_wasm(root: &Path, t: &mut Timings) -> Result<()> {
    t.step(
        "wasm: ensure the wasm32 target is installed",
        ensure_wasm_target,
    )?;
    t.step(
        "wasm: cargo build cyberlabel-wasm (wasm32, wasm-release)",
        || {
            run(cargo().args([
                "build",
                "-p",
                WASM_CRATE,
                "--target",
                WASM_TARGET,
                "--profile",
                WASM_PROFILE,
            ]))
        },
    )?;
    let input = target_dir(root)
        .join(WASM_TARGET)
        .join(WASM_PROFILE)
        .join(WASM_ARTIFACT);
    t.step("wasm: wasm-bindgen (web + nodejs)", || {
        let web = root.join("wasm-verifier/www/pkg");
        bindgen(&input, &web, false)?;
        bindgen(&input, &target_dir(root).join("wasm-node"), true)?;
        report_wasm_size(&web.join("cyberlabel_wasm_bg.wasm"))
    })
}

fn bindgen(input: &Path, out: &Path, nodejs: bool) -> Result<()> {
    if out.exists() {
        fs::remove_dir_all(out).with_context(|| format!("clean {}", out.display()))?;
    }
    fs::create_dir_all(out)?;
    let mut b = wasm_bindgen_cli_support::Bindgen::new();
    // CYBERLABEL_WASM_KEEP_NAMES=1 keeps the function names (for a profiler or a size
    // breakdown by function); the page ships without them.
    let keep_names = env::var_os("CYBERLABEL_WASM_KEEP_NAMES").is_some_and(|v| v == "1");
    b.input_path(input)
        .typescript(false)
        .remove_name_section(!keep_names)
        .remove_producers_section(true);
    if nodejs {
        b.nodejs(true)?;
    } else {
        b.web(true)?;
    }
    b.generate(out)
        .with_context(|| format!("wasm-bindgen {} -> {}", input.display(), out.display()))?;
    println!("xtask: wasm-bindgen wrote {}", out.display());
    Ok(())
}

fn report_wasm_size(wasm: &Path) -> Result<()> {
    let raw = fs::metadata(wasm)
        .with_context(|| format!("stat {}", wasm.display()))?
        .len();
    // gzip -9 is what a static server or CDN would serve; measured with the system gzip.
    let gz = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(wasm)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| o.stdout.len());
    match gz {
        Some(gz) => println!(
            "xtask: METRIC wasm size: {raw} bytes raw, {gz} bytes gzip -9 ({:.1} KiB gz)",
            gz as f64 / 1024.0
        ),
        None => println!("xtask: METRIC wasm size: {raw} bytes raw (gzip not available)"),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// supply chain: cargo-deny with the RustSec database read offline

/// The cargo-deny release the step installs and runs (`cargo install --locked`: its own lock
/// file, so the tool's dependencies are pinned too).
const DENY_VERSION: &str = "0.20.2";
/// cargo-deny reads an advisory database only as a git repository at
/// `<db-path>/advisory-db-<hash of the URL>`; this is the name cargo-deny `DENY_VERSION` uses
/// for the `db-urls` entry in deny.toml (`https://github.com/rustsec/advisory-db`).
const ADVISORY_DB_DIR: &str = "advisory-db-3157b0e258782691";
/// The offline snapshot of the RustSec database (see ../shared/advisory-db.md), relative to the
/// workspace root; `CYBERLABEL_ADVISORY_DB_TARBALL` overrides it.
const ADVISORY_TARBALL: &str = "../shared/advisory-db.tar.gz";
/// A deliberately bad crate graph that deny.toml must refuse.
const DENY_CANARY: &str = "xtask/deny-canary/Cargo.toml";
/// What `cargo deny` must report for the canary: (diagnostic code, text that names the culprit,
/// what it proves).
const CANARY_FINDINGS: &[(&str, &str, &str)] = &[
    (
        "vulnerability",
        "RUSTSEC-2021-0003",
        "a crate with a known vulnerability (smallvec 1.6.0)",
    ),
    (
        "unmaintained",
        "RUSTSEC-2021-0127",
        "an unmaintained crate not on the ignore list (serde_cbor)",
    ),
    ("banned", "serde_cbor", "a banned crate (serde_cbor)"),
    (
        "rejected",
        "GPL-3.0-only",
        "a licence outside the allow-list (GPL-3.0-only)",
    ),
];

/// `cargo deny` over the workspace with `deny.toml` (advisories, licences, bans, sources), the
/// advisory database from the offline snapshot; then the same policy over `xtask/deny-canary`,
/// which it must refuse for each of [`CANARY_FINDINGS`].
fn supply_chain(root: &Path) -> Result<()> {
    ensure_cargo_deny()?;
    // cargo-deny asks `cargo metadata` for every platform's dependencies: fetch them first so
    // the check itself runs with --offline. (Not --locked for the workspace: a dependency just
    // added to a manifest resolves here as in the build steps; the canary's lock is pinned.)
    run(cargo().args(["fetch", "-q"]))?;
    run(cargo()
        .args(["fetch", "--locked", "-q", "--manifest-path"])
        .arg(root.join(DENY_CANARY)))?;
    let dbs = target_dir(root).join("advisory-dbs");
    let tarball = env::var_os("CYBERLABEL_ADVISORY_DB_TARBALL")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(ADVISORY_TARBALL));
    let have_db = if tarball.is_file() {
        extract_advisory_db(&tarball, &dbs)?;
        true
    } else {
        println!(
            "xtask: SUPPLY CHAIN: NO ADVISORY DATABASE at {}: RustSec advisories are NOT checked \
             (licences, bans and sources still are). Put the snapshot there (see \
             ../shared/advisory-db.md) or set CYBERLABEL_ADVISORY_DB_TARBALL.",
            tarball.display()
        );
        false
    };
    let checks: &[&str] = if have_db {
        &["advisories", "bans", "licenses", "sources"]
    } else {
        &["bans", "licenses", "sources"]
    };
    // `canary`: JSON output to check, and its committed lock file must not move.
    let deny = |manifest: &Path, canary: bool| {
        let mut cmd = cargo();
        cmd.args(["deny", "--offline", "--color", "never"]);
        if canary {
            cmd.args(["--locked", "--format", "json"]);
        }
        cmd.arg("--manifest-path")
            .arg(manifest)
            .arg("--config")
            .arg(root.join("deny.toml"))
            .args(["check", "--show-stats", "--hide-inclusion-graph"])
            .args(checks)
            .env("CYBERLABEL_ADVISORY_DBS", &dbs);
        cmd
    };
    let started = Instant::now();
    run(&mut deny(&root.join("Cargo.toml"), false))?;
    println!(
        "xtask: METRIC cargo deny check ({}): {:.1} s",
        checks.join(", "),
        started.elapsed().as_secs_f64()
    );

    // The canary: the same policy must refuse a graph with each kind of problem.
    let mut canary = deny(&root.join(DENY_CANARY), true);
    println!("xtask: $ {canary:?}");
    let out = canary.output().context("cannot run cargo deny")?;
    let report = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        bail!("cargo deny ACCEPTED the deny canary ({DENY_CANARY}): deny.toml would not catch it");
    }
    let mut missing = Vec::new();
    for (code, needle, what) in CANARY_FINDINGS {
        if *code != "banned" && *code != "rejected" && !have_db {
            continue;
        }
        let found = report
            .lines()
            .any(|l| l.contains(&format!("\"code\":\"{code}\"")) && l.contains(needle));
        if found {
            println!("xtask: deny canary: refused {what} [{code}: {needle}]");
        } else {
            missing.push(format!("{what} [{code}: {needle}]"));
        }
    }
    if !missing.is_empty() {
        bail!(
            "cargo deny did not report, for the deny canary: {}\n{report}",
            missing.join("; ")
        );
    }

    // Sources: a dependency from a git repository (made here, a local file:// repository, so no
    // network is needed) must be refused as a source outside crates.io.
    let dir = target_dir(root).join("deny-canary-sources");
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("clean {}", dir.display()))?;
    }
    let (dep, app) = (dir.join("gitdep"), dir.join("app"));
    for (d, manifest) in [
        (
            &dep,
            "[package]\nname = \"canary-gitdep\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\
             license = \"MIT\"\n"
                .to_owned(),
        ),
        (
            &app,
            format!(
                "[package]\nname = \"canary-sources\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
                 license = \"MIT\"\npublish = false\n\n[dependencies]\n\
                 canary-gitdep = {{ git = \"file://{}\" }}\n\n[workspace]\n",
                dep.display()
            ),
        ),
    ] {
        fs::create_dir_all(d.join("src"))?;
        fs::write(d.join("Cargo.toml"), manifest)?;
        fs::write(d.join("src/lib.rs"), "")?;
    }
    // a fixed date: the same commit every run, so cargo's git cache does not grow
    commit_all(&dep, "canary git dependency", Some("2026-01-01T00:00:00Z"))?;
    run(cargo()
        .args(["fetch", "-q", "--manifest-path"])
        .arg(app.join("Cargo.toml")))?;
    let mut sources = deny(&app.join("Cargo.toml"), true);
    println!("xtask: $ {sources:?}");
    let out = sources.output().context("cannot run cargo deny")?;
    let report = String::from_utf8_lossy(&out.stderr);
    let refused = report
        .lines()
        .any(|l| l.contains("\"code\":\"source-not-allowed\"") && l.contains("gitdep"));
    if out.status.success() || !refused {
        bail!("cargo deny did not refuse a git dependency (sources):\n{report}");
    }
    println!("xtask: deny canary: refused a dependency from a git repository [source-not-allowed]");
    Ok(())
}

/// Installs cargo-deny [`DENY_VERSION`] into cargo's bin dir unless that version is already
/// there (then this costs one `cargo deny --version`).
fn ensure_cargo_deny() -> Result<()> {
    let installed = cargo()
        .args(["deny", "--version"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let want = format!("cargo-deny {DENY_VERSION}");
    if installed.as_deref() == Some(want.as_str()) {
        println!("xtask: {want} present");
        return Ok(());
    }
    println!(
        "xtask: installing {want} (found: {}); about 2-3 minutes on 2 cores",
        installed.as_deref().unwrap_or("none")
    );
    let started = Instant::now();
    // Built in cargo's own temporary directory, not this workspace's target dir.
    run(cargo()
        .args([
            "install",
            "--locked",
            "cargo-deny",
            "--version",
            DENY_VERSION,
        ])
        .env_remove("CARGO_TARGET_DIR"))?;
    println!(
        "xtask: METRIC cargo-deny {DENY_VERSION} install: {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Makes `<dbs>/ADVISORY_DB_DIR` the git repository cargo-deny reads, from the snapshot tarball
/// (once per tarball: a stamp records its size and modification time).
fn extract_advisory_db(tarball: &Path, dbs: &Path) -> Result<()> {
    let meta = fs::metadata(tarball).with_context(|| format!("stat {}", tarball.display()))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let stamp_text = format!("{} {} {modified}\n", tarball.display(), meta.len());
    let repo = dbs.join(ADVISORY_DB_DIR);
    let stamp = dbs.join("snapshot.stamp");
    if repo.join(".git").is_dir()
        && fs::read_to_string(&stamp).ok().as_deref() == Some(stamp_text.as_str())
    {
        println!(
            "xtask: advisory database {} up to date ({})",
            repo.display(),
            tarball.display()
        );
        return Ok(());
    }
    if !have("git") {
        bail!("git is needed to turn the advisory snapshot into the repository cargo-deny reads");
    }
    let scratch = dbs.join("extract.tmp");
    for d in [&scratch, &repo] {
        if d.exists() {
            fs::remove_dir_all(d).with_context(|| format!("clean {}", d.display()))?;
        }
    }
    fs::create_dir_all(&scratch)?;
    run(Command::new("tar")
        .arg("-xzf")
        .arg(tarball)
        .arg("-C")
        .arg(&scratch))?;
    let extracted = scratch.join("advisory-db");
    if !extracted.join("crates").is_dir() {
        bail!(
            "{} does not hold advisory-db/crates/ (see ../shared/advisory-db.md)",
            tarball.display()
        );
    }
    fs::rename(&extracted, &repo)
        .with_context(|| format!("move the database to {}", repo.display()))?;
    fs::remove_dir_all(&scratch)?;
    // The commit date is what cargo-deny reports as the database's age: use the newest
    // advisory's date, not the time of extraction.
    let newest = newest_advisory_date(&repo.join("crates"));
    let date = newest.as_deref().map(|d| format!("{d}T00:00:00Z"));
    commit_all(&repo, "RustSec advisory-db snapshot", date.as_deref())?;
    fs::write(&stamp, stamp_text)?;
    println!(
        "xtask: advisory database extracted to {} (newest advisory: {}; later ones are not covered)",
        repo.display(),
        newest.as_deref().unwrap_or("unknown")
    );
    Ok(())
}

/// `git init` + commit everything in `dir` (no hooks, no signing, a fixed identity; `date` as
/// the commit date when given).
fn commit_all(dir: &Path, message: &str, date: Option<&str>) -> Result<()> {
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &["commit", "-q", "-m", message],
    ] {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(dir).args([
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "user.name=cyberlabel xtask",
            "-c",
            "user.email=xtask@cyberlabel.invalid",
        ]);
        cmd.args(args);
        if let Some(d) = date {
            cmd.env("GIT_AUTHOR_DATE", d).env("GIT_COMMITTER_DATE", d);
        }
        let out = cmd.output().context("cannot run git")?;
        if !out.status.success() {
            bail!(
                "git {args:?} in {}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    Ok(())
}

/// The latest `date = "YYYY-MM-DD"` of any advisory under `crates/`.
fn newest_advisory_date(crates: &Path) -> Option<String> {
    let mut newest: Option<String> = None;
    for krate in fs::read_dir(crates).ok()?.filter_map(|e| e.ok()) {
        let Ok(files) = fs::read_dir(krate.path()) else {
            continue;
        };
        for f in files.filter_map(|e| e.ok()) {
            let Ok(text) = fs::read_to_string(f.path()) else {
                continue;
            };
            let date = text.lines().find_map(|l| {
                let v = l.strip_prefix("date = \"")?.strip_suffix('"')?;
                (v.len() == 10 && v.as_bytes()[4] == b'-').then(|| v.to_owned())
            });
            if let Some(d) = date
                && newest.as_ref().is_none_or(|n| d > *n)
            {
                newest = Some(d);
            }
        }
    }
    newest
}

// ---------------------------------------------------------------------------------------------
// demo

fn demo(root: &Path, rest: &[String]) -> Result<()> {
    let mut t = Timings::default();
    build_wasm(root, &mut t)?;
    t.print();
    println!(
        "\nxtask: starting the demo server (example keys, DEMO MODE: never for production).\n\
         xtask: data in ./data; the verifier page is at the printed address."
    );
    let mut cmd = cargo();
    cmd.args(["run", "-q", "-p", "cyberlabel", "--", "serve", "--demo"]);
    if !rest
        .iter()
        .any(|a| a == "--data" || a.starts_with("--data="))
    {
        cmd.args(["--data", "data"]);
    }
    cmd.args(rest);
    run(&mut cmd)
}

// ---------------------------------------------------------------------------------------------
// test

fn test(root: &Path, rest: &[String]) -> Result<()> {
    let skip_setup = rest.iter().any(|a| a == "--skip-setup");
    let no_e2e = rest.iter().any(|a| a == "--no-e2e");
    let mut t = Timings::default();
    let r = test_steps(root, &mut t, skip_setup, no_e2e);
    t.print();
    r
}

fn test_steps(root: &Path, t: &mut Timings, skip_setup: bool, no_e2e: bool) -> Result<()> {
    let python = if skip_setup {
        let p = target_dir(root).join("py-venv/bin/python3");
        if p.exists() { p } else { "python3".into() }
    } else {
        setup(root, t)?;
        setup_python(root)?
    };
    // Tests that call independent tools find them through these variables.
    let venv_bin = python.parent().map(Path::to_path_buf).unwrap_or_default();
    let path = env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![venv_bin];
    paths.extend(env::split_paths(&path));
    let new_path = env::join_paths(paths).context("PATH")?;
    let tool_env: Vec<(&str, OsString)> = vec![
        ("PATH", new_path),
        ("CYBERLABEL_PYTHON", python.clone().into_os_string()),
        ("CYBERLABEL_CHROMIUM", "/usr/bin/chromium".into()),
    ];

    t.step("cargo fmt --all --check", || {
        run(cargo().args(["fmt", "--all", "--check"]))
    })?;
    t.step(
        "supply chain: cargo deny (advisories, licences, bans, sources)",
        || supply_chain(root),
    )?;
    t.step("cargo clippy --workspace --all-targets -D warnings", || {
        run(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    // Builds every target once with the same feature set `cargo test` uses, including the
    // `cyberlabel` binary the browser tests start (a separate `cargo build -p cyberlabel` would
    // resolve features differently and rebuild half the tree).
    t.step("cargo build --workspace --all-targets", || {
        run(cargo().args(["build", "--workspace", "--all-targets"]))
    })?;
    t.step("cargo test --workspace", || {
        run(cargo()
            .args(["test", "--workspace"])
            .envs(tool_env.iter().cloned()))
    })?;
    // libFuzzer needs nightly: on the pinned stable toolchain every fuzz target's body runs
    // over its seeds, its regression inputs and deterministic mutations (fuzz/README.md).
    t.step(
        "fuzz targets: short run on stable (seeds, regressions, mutations)",
        || {
            run(cargo().args([
                "run",
                "-q",
                "-p",
                "cyberlabel-fuzz-bodies",
                "--example",
                "smoke",
            ]))
        },
    )?;
    t.step(
        "fresh machine: a rustup home without the wasm32 target, auto-install off",
        || fresh_rustup_check(root),
    )?;
    t.step(
        "wasm: ensure the wasm32 target is installed",
        ensure_wasm_target,
    )?;
    t.step("cargo build -p cyberlabel-core --target wasm32", || {
        run(cargo().args(["build", "-p", "cyberlabel-core", "--target", WASM_TARGET]))
    })?;
    build_wasm(root, t)?;
    t.step(
        "wasm test vectors under node (node --test wasm-verifier/tests)",
        || {
            run(Command::new("node")
                .args(["--test", "--test-reporter=spec"])
                .arg(root.join("wasm-verifier/tests"))
                .envs(tool_env.iter().cloned())
                .env("CYBERLABEL_WASM_NODE", target_dir(root).join("wasm-node")))
        },
    )?;
    if no_e2e {
        println!("xtask: --no-e2e given: browser end-to-end tests NOT run");
        return Ok(());
    }
    let bin = target_dir(root).join("debug/cyberlabel");
    let bench_inputs = target_dir(root).join("e2e/bench-inputs.json");
    t.step("browser e2e tests (tests/e2e, headless Chromium)", || {
        run(Command::new("node")
            .args([
                "--test",
                "--test-concurrency=1",
                "--test-reporter=spec",
                "tests/e2e/",
            ])
            .envs(tool_env.iter().cloned())
            .env("CYBERLABEL_BIN", &bin)
            .env("CYBERLABEL_E2E_OUT", target_dir(root).join("e2e")))
    })?;
    if bench_inputs.exists() {
        t.step("native verify timing (same inputs as the browser)", || {
            native_bench(&bench_inputs)
        })?;
    }
    let mut out = std::io::stdout();
    writeln!(out, "\nxtask: all test steps passed")?;
    Ok(())
}

/// Native timing of the page's verification on the bytes the browser fetched
/// (`wasm-verifier/examples/native_bench.rs`; writes `native-ms.json` beside `inputs`).
fn native_bench(inputs: &Path) -> Result<()> {
    run(cargo()
        .args([
            "run",
            "-q",
            "--release",
            "-p",
            WASM_CRATE,
            "--example",
            "native_bench",
            "--",
        ])
        .arg(inputs))
}
