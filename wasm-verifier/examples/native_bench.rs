//! Native timing of the exact verification the browser page runs, on the exact bytes it fetched
//! (written by the browser e2e test to `target/e2e/bench-inputs.json`), so the README can compare
//! wasm-in-Chromium with native code in the same run. Run by `cargo xtask test`:
//! `cargo run --release -p cyberlabel-wasm --example native_bench -- <bench-inputs.json>`.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cyberlabel_wasm::api;

fn field<'a>(v: &'a serde_json::Value, k: &str) -> Result<&'a str> {
    v[k].as_str().with_context(|| format!("missing field {k}"))
}

/// The raw cost, in ms, of `ops`: one `verify_strict` and one 65-byte SHA-256 (a Merkle node
/// hash) timed here, median of 301 runs each.
fn raw_cost_ms(ops: cyberlabel_core::ops::Ops) -> f64 {
    use ed25519_dalek::{Signer as _, SigningKey};
    let key = SigningKey::from_bytes(&[7; 32]);
    let msg = [0x5a_u8; 200];
    let sig = key.sign(&msg);
    let vk = key.verifying_key();
    let median = |f: &mut dyn FnMut()| {
        let mut t: Vec<f64> = (0..301)
            .map(|_| {
                let s = Instant::now();
                f();
                s.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        t.sort_by(f64::total_cmp);
        t[150]
    };
    let sig_ms = median(&mut || {
        let _ = std::hint::black_box(vk.verify_strict(std::hint::black_box(&msg), &sig));
    });
    let a = [1u8; 32];
    let hash_ms = median(&mut || {
        for _ in 0..100 {
            std::hint::black_box(cyberlabel_core::merkle::node_hash(
                std::hint::black_box(&a),
                &a,
            ));
        }
    }) / 100.0;
    ops.signatures as f64 * sig_ms + ops.hashes as f64 * hash_ms
}

fn main() -> Result<()> {
    let path = std::env::args()
        .nth(1)
        .context("usage: native_bench <bench-inputs.json>")?;
    let text = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    let v: serde_json::Value = serde_json::from_str(&text).context("parse inputs")?;
    let payload = field(&v, "payload")?;
    let checkpoint = field(&v, "checkpoint")?;
    let status = field(&v, "status_proof")?;
    let tiles = B64.decode(field(&v, "tiles")?)?;
    let trust = B64.decode(field(&v, "trust_list")?)?;
    let anchor = B64.decode(field(&v, "anchor")?)?;
    let now = v["now"].as_u64().context("now")?;
    // the checkpoint the page remembered before this verification (absent: none)
    let seen_size = v["seen_size"].as_u64().unwrap_or(0);
    let seen_root = v["seen_root"].as_str().unwrap_or_default();
    let lens: Vec<u32> = v["lens"]
        .as_array()
        .context("lens")?
        .iter()
        .map(|x| {
            x.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .context("len")
        })
        .collect::<Result<_>>()?;
    let run = || -> Result<String> {
        api::verify_online(
            payload, &trust, &anchor, now, checkpoint, &tiles, &lens, status, seen_size, seen_root,
        )
        .map_err(anyhow::Error::msg)
    };
    let report: serde_json::Value = serde_json::from_str(&run()?)?;
    let verdict = report["verdict"].as_str().unwrap_or_default().to_string();
    if verdict != "genuine" {
        bail!("native verification of the browser's inputs gave {verdict}, not genuine");
    }
    // One verdict from nothing (trust list and checkpoint not verified before): the operations
    // it needs, their raw cost measured here, and the verdict's time — the ratio is what the
    // verifier adds to the cryptography it cannot avoid.
    let runs = 301;
    api::forget_verified();
    let before = cyberlabel_core::ops::Ops::now();
    run()?;
    let ops = cyberlabel_core::ops::Ops::now().since(before);
    let raw = raw_cost_ms(ops);
    let mut cold = Vec::with_capacity(runs);
    for _ in 0..runs {
        api::forget_verified();
        let t = Instant::now();
        run()?;
        cold.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    cold.sort_by(f64::total_cmp);
    // Then as the page runs label after label: the trust list and the checkpoint verified
    // once (the browser's timing loop is this case). Sampled as the browser samples (its
    // `per_sample` from browser-ms.json, else 10): each sample is the mean of that many
    // verifications in a row, because Chromium's timer is clamped to 0.1 ms.
    let browser_path = std::path::Path::new(&path).with_file_name("browser-ms.json");
    let b: Option<serde_json::Value> = std::fs::read_to_string(browser_path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok());
    let per_sample = b
        .as_ref()
        .and_then(|b| b["per_sample"].as_u64())
        .and_then(|k| u32::try_from(k).ok())
        .filter(|&k| k > 0)
        .unwrap_or(10);
    let before = cyberlabel_core::ops::Ops::now();
    run()?;
    let warm_ops = cyberlabel_core::ops::Ops::now().since(before);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        for _ in 0..per_sample {
            run()?;
        }
        times.push(t.elapsed().as_secs_f64() * 1000.0 / f64::from(per_sample));
    }
    times.sort_by(f64::total_cmp);
    let (median, min) = (times[runs / 2], times[0]);
    println!(
        "METRIC native verify one label (release, same inputs): median {median:.3} ms, min {min:.3} ms over {runs} samples of {per_sample} verifications each"
    );
    println!(
        "METRIC native verify from nothing vs the raw cost of its operations ({} Ed25519 verify_strict, {} SHA-256 Merkle hashes = {raw:.3} ms): median {:.3} ms = {:.2}x, min {:.2}x; label after label ({} verify_strict, {} hashes): median {median:.3} ms",
        ops.signatures,
        ops.hashes,
        cold[runs / 2],
        cold[runs / 2] / raw,
        cold[0] / raw,
        warm_ops.signatures,
        warm_ops.hashes,
    );
    // for `cargo xtask figures`
    let figures = serde_json::json!({
        "median": median, "min": min, "runs": runs, "per_sample": per_sample,
        "cold_median": cold[runs / 2], "cold_min": cold[0], "raw_ms": raw,
        "signatures": ops.signatures, "hashes": ops.hashes,
        "warm_signatures": warm_ops.signatures, "warm_hashes": warm_ops.hashes,
    });
    let native = std::path::Path::new(&path).with_file_name("native-ms.json");
    std::fs::write(&native, serde_json::to_string_pretty(&figures)? + "\n")
        .with_context(|| format!("write {}", native.display()))?;
    if let Some((bm, bmin)) = b.and_then(|b| Some((b["median"].as_f64()?, b["min"].as_f64()?))) {
        println!(
            "METRIC browser/native ratio: median {:.2}x ({bm:.3} / {median:.3} ms), min {:.2}x ({bmin:.3} / {min:.3} ms)",
            bm / median,
            bmin / min
        );
    }
    Ok(())
}
