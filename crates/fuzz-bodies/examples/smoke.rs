//! The fuzz targets' short run on the stable toolchain (a step of `cargo xtask test`; libFuzzer
//! itself needs nightly): every target's body over its committed seeds (`fuzz/corpus/<target>`),
//! its regression inputs (`fuzz/regressions/<target>`, crashes found by long runs) and a fixed
//! number of mutations of the seeds from a seeded PRNG, so every run tries the same inputs.
//!
//! `cargo run -p cyberlabel-fuzz-bodies --example smoke [-- [--iters N] [target...]]`
//!
//! A panic anywhere in a body — even one a decoder catches itself, as `read_qr_codes` does
//! around rqrr — fails the run, as it would under libFuzzer; the input is written to
//! `target/fuzz-smoke-failures/<target>-<n>` for `cargo fuzz run <target> <file>`.

use cyberlabel_fuzz_bodies::{TARGETS, Target};
use std::fs;
use std::panic;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Panics seen since the start (counted by the hook, whether or not they are caught).
static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Mutations per target (a sixteenth of this for the image targets: most of their inputs are
/// QR codes, and a code found costs a reader a few milliseconds).
const DEFAULT_ITERS: usize = 20_000;

fn main() {
    let mut iters = DEFAULT_ITERS;
    let mut only = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--iters" {
            match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => iters = n,
                None => fail("--iters needs a number"),
            }
        } else {
            only.push(a);
        }
    }
    for name in &only {
        if !TARGETS.iter().any(|t| t.name == name) {
            fail(&format!("unknown target {name}"));
        }
    }
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let out_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("fuzz-smoke-failures");
    check_fuzz_crate(&fuzz_dir);
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        // Print the first few; count all.
        if PANICS.fetch_add(1, Ordering::SeqCst) < 5 {
            default_hook(info);
        }
    }));
    let start = Instant::now();
    let mut failures = Vec::new();
    let mut total = 0usize;
    for t in TARGETS {
        if !only.is_empty() && !only.iter().any(|n| n == t.name) {
            continue;
        }
        let t0 = Instant::now();
        let seeds = read_dir_files(&fuzz_dir.join("corpus").join(t.name));
        if seeds.is_empty() {
            failures.push(format!("{}: no seeds in fuzz/corpus/{}", t.name, t.name));
            continue;
        }
        let regressions = read_dir_files(&fuzz_dir.join("regressions").join(t.name));
        let mut rng = Rng::new(t.name);
        let mut n = 0usize;
        let mut bad = 0usize;
        let mut try_one = |input: &[u8], what: &str| {
            n += 1;
            if !run_one(t, input) {
                bad += 1;
                let path = out_dir.join(format!("{}-{n}", t.name));
                let saved = fs::create_dir_all(&out_dir)
                    .and_then(|()| fs::write(&path, input))
                    .map(|()| path.display().to_string())
                    .unwrap_or_else(|e| format!("(not saved: {e})"));
                failures.push(format!("{}: {what} panicked; input in {saved}", t.name));
            }
        };
        for (name, s) in seeds.iter().chain(&regressions) {
            try_one(s, &format!("input {name}"));
        }
        let iters = if t.name.starts_with("qr_") {
            iters / 16
        } else {
            iters
        };
        for i in 0..iters {
            let input = mutate(&mut rng, &seeds, t.max_len);
            try_one(&input, &format!("mutation {i}"));
        }
        total += n;
        println!(
            "fuzz smoke: {:<16} {:>5} inputs ({} seeds, {} regressions) in {:>5.2} s{}",
            t.name,
            n,
            seeds.len(),
            regressions.len(),
            t0.elapsed().as_secs_f64(),
            if bad > 0 {
                format!("  {bad} FAILED")
            } else {
                String::new()
            }
        );
    }
    println!(
        "fuzz smoke: {total} inputs in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("fuzz smoke: FAILED {f}");
        }
        std::process::exit(1);
    }
}

/// The libFuzzer crate (`fuzz/`, nightly only, so not built here) must declare exactly one
/// binary per body, each calling its body: a target added to one side only fails CI.
fn check_fuzz_crate(fuzz_dir: &Path) {
    let manifest = fs::read_to_string(fuzz_dir.join("Cargo.toml"))
        .unwrap_or_else(|e| fail(&format!("fuzz/Cargo.toml: {e}")));
    let mut bins: Vec<&str> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|b| b.lines().find_map(|l| l.trim().strip_prefix("name = ")))
        .map(|n| n.trim_matches('"'))
        .collect();
    bins.sort_unstable();
    let mut names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    names.sort_unstable();
    if bins != names {
        fail(&format!(
            "fuzz/Cargo.toml declares {bins:?}, the bodies are {names:?}"
        ));
    }
    for t in TARGETS {
        let src = fs::read_to_string(fuzz_dir.join(format!("fuzz_targets/{}.rs", t.name)))
            .unwrap_or_else(|e| fail(&format!("fuzz/fuzz_targets/{}.rs: {e}", t.name)));
        if !src.contains("cyberlabel_fuzz_bodies::") {
            fail(&format!(
                "fuzz/fuzz_targets/{}.rs does not call its body",
                t.name
            ));
        }
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("fuzz smoke: {msg}");
    std::process::exit(2);
}

/// Runs the body; false if it panicked (caught or not).
fn run_one(t: &Target, input: &[u8]) -> bool {
    let before = PANICS.load(Ordering::SeqCst);
    let unwound = panic::catch_unwind(|| (t.run)(input)).is_err();
    !unwound && PANICS.load(Ordering::SeqCst) == before
}

/// The files of `dir` (none if it does not exist), sorted by name.
fn read_dir_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = rd
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (!name.starts_with('.') && name != "README.md")
                .then(|| fs::read(e.path()).ok().map(|b| (name, b)))
                .flatten()
        })
        .collect();
    out.sort();
    out
}

/// splitmix64, seeded from the target's name: the same inputs every run.
struct Rng(u64);

impl Rng {
    fn new(name: &str) -> Self {
        // FNV-1a of the name
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Self(h)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }
}

/// Tokens the formats are made of: separators, signature-line prefixes, CBOR heads, base64.
const TOKENS: &[&[u8]] = &[
    b"\n",
    b"\n\n",
    b" ",
    b"0",
    b"1",
    b"18446744073709551615",
    b"\xe2\x80\x94 ",
    b"=",
    b"/",
    b"+",
    b"tile/",
    b".p/",
    b"x001/",
    b"old ",
    b"index ",
    b"extra ",
    b"bucket ",
    b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    b"\x00",
    b"\xff",
    b"\x7f",
    b"\x18\x18",
    b"\x19\xff\xff",
    b"\x1b\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\xa0",
    b"\x80",
    b"\x40",
    b"\x60",
    b"\xd2\x84",
    b"\"",
    b"{}",
    b"[]",
    b"null",
    b"-1",
    b"1e400",
    b"\\u0000",
];

/// One to eight random edits of a random seed (sometimes spliced with another), at most
/// `max_len` bytes.
fn mutate(rng: &mut Rng, seeds: &[(String, Vec<u8>)], max_len: usize) -> Vec<u8> {
    let mut v = seeds[rng.below(seeds.len())].1.clone();
    let edits = 1 + rng.below(8);
    for _ in 0..edits {
        let len = v.len();
        match rng.below(10) {
            // flip a bit
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            // set a byte
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.byte();
            }
            // insert a byte
            2 => {
                let i = rng.below(len + 1);
                v.insert(i, rng.byte());
            }
            // delete a range
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                v.drain(i..i + n);
            }
            // duplicate a range
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let chunk = v[i..i + n].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, chunk);
            }
            // splice: our head, another seed's tail
            5 => {
                let other = &seeds[rng.below(seeds.len())].1;
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            // insert or overwrite with a token
            6 | 7 => {
                let tok = TOKENS[rng.below(TOKENS.len())];
                let i = rng.below(len + 1);
                if rng.below(2) == 0 || i + tok.len() > len {
                    v.splice(i..i, tok.iter().copied());
                } else {
                    v[i..i + tok.len()].copy_from_slice(tok);
                }
            }
            // an ASCII digit
            8 if len > 0 => {
                let i = rng.below(len);
                v[i] = b'0' + (rng.byte() % 10);
            }
            // truncate
            9 if len > 0 => v.truncate(rng.below(len)),
            _ => {}
        }
    }
    v.truncate(max_len);
    v
}
