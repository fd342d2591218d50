//! Regenerates the committed seed corpus `fuzz/corpus/<target>/`:
//! `cargo run -p cyberlabel-fuzz-bodies --example gen_corpus`. Deterministic (the fixture's fixed
//! keys and times); each target's directory is rewritten whole. Seeds are small: one or two of
//! each well-formed input the target reads.

use cyberlabel_core::merkle::{self, Hash, ProofError};
use cyberlabel_core::payload;
use cyberlabel_core::tlog_proof::TlogProof;
use cyberlabel_fuzz_bodies::TARGETS;
use cyberlabel_fuzz_bodies::fixture::fixture;
use cyberlabel_fuzz_bodies::qr_input::{self, Drawing, VERIFY_URL};
use cyberlabel_issuer::qr::LabelQr;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

type Seeds = BTreeMap<&'static str, Vec<(&'static str, Vec<u8>)>>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let f = fixture();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut s: Seeds = BTreeMap::new();
    let mut add = |t: &'static str, name: &'static str, b: &[u8]| {
        s.entry(t).or_default().push((name, b.to_vec()));
    };
    let label = &f.labels[0];
    let url = payload::to_url(VERIFY_URL, label);
    let short = payload::to_cl1(&[1, 2, 3, 4, 5, 6, 7, 8, 9]);
    add("payload_decode", "url", url.as_bytes());
    add("payload_decode", "cl1", payload::to_cl1(label).as_bytes());
    add("payload_decode", "short", short.as_bytes());
    add("cose_parse", "label", label);
    add("cose_parse", "status", &f.status);
    add("claim_decode", "claim", &f.claim.to_cbor());
    add(
        "claim_decode",
        "claim-self-declared",
        &f.self_declared.to_cbor(),
    );
    add("verify_offline", "label", label);
    add("verify_offline", "label-self-declared", &f.labels[1]);
    add("verify_offline", "status", &f.status);
    add("status_record", "record", &f.record.to_cbor());
    add("log_entry", "label", label);
    add("log_entry", "status", &f.status);
    add("log_entry", "bundle", &f.bundle);
    add("checkpoint", "signed", f.signed_checkpoint.as_bytes());
    add("checkpoint", "cosigned", f.cosigned_checkpoint.as_bytes());
    add("checkpoint", "body", f.checkpoint_text.as_bytes());
    add(
        "checkpoint",
        "vkey",
        f.log.verifier().to_string().as_bytes(),
    );
    add("cosignature", "cosigned", f.cosigned_checkpoint.as_bytes());
    add("cosignature", "line", f.cosignature_line.as_bytes());
    add("tlog_proof", "proof", f.tlog_proof.as_bytes());
    let leaves: Vec<Hash> = f.entries.iter().map(|e| merkle::leaf_hash(e)).collect();
    let with_extra = TlogProof {
        extra: Some(b"extra data".to_vec()),
        index: 2,
        path: merkle::inclusion_proof::<ProofError>(2, 3, |id| {
            merkle::reference_node(&leaves, id)
        })?,
        checkpoint: f.signed_checkpoint.clone(),
    };
    add("tlog_proof", "proof-extra", with_extra.to_text().as_bytes());
    add("status_proof", "proof", f.status_proof.as_bytes());
    let mut tile = b"tile/0/000.p/3\n".to_vec();
    for l in &leaves {
        tile.extend_from_slice(l);
    }
    add("tiles", "hash-tile", &tile);
    let mut entries_tile = b"tile/entries/000.p/3\n".to_vec();
    entries_tile.extend_from_slice(&f.bundle);
    add("tiles", "entries-tile", &entries_tile);
    add("tiles", "bundle", &f.bundle);
    add("trust_list", "json", f.trust_json.as_bytes());
    add("trust_list", "signed", &f.trust_signed);
    add(
        "trust_list",
        "example",
        &fs::read(root.join("../keys-example/trust-list.EXAMPLE.json"))?,
    );
    add(
        "product",
        "json",
        &fs::read(root.join("../crates/cli/tests/data/product.json"))?,
    );
    add(
        "product",
        "toml",
        b"scheme = \"SG-CLS\"\nlevel = 2\nmanufacturer = \"Acme\"\nproduct = \"Cam\"\n\
          hardware_versions = \"B\"\nfirmware_versions = \"2.4\"\ncategory = \"camera\"\n\
          provisions = [\"5.1-1\"]\nassessment = \"third_party\"\nlab = \"LAB-1\"\n\
          support_until = \"2030-12-31\"\n",
    );
    let req0 = cyberlabel_witness::request::encode(0, &[], &f.cosigned_checkpoint);
    add("witness_request", "from-0", req0.as_bytes());
    let leaves2 = &leaves[..2];
    let proof = merkle::consistency_proof::<ProofError>(2, 3, |id| {
        merkle::reference_node(&leaves, id).or_else(|_| merkle::reference_node(leaves2, id))
    })?;
    let req2 = cyberlabel_witness::request::encode(2, &proof, &f.signed_checkpoint);
    add("witness_request", "from-2", req2.as_bytes());
    // QR images (crates/fuzz-bodies/src/qr_input.rs): raw frames of a short payload's two forms
    // at 3 px a module; rendered codes of every payload kind, plain,
    // turned, in perspective, noisy, with flipped modules, blotches, blur and torn rows.
    let short_url = payload::to_url(VERIFY_URL, &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (name, text, px, quiet) in [
        ("raw-cl1-short", short.as_str(), 3, 2),
        ("raw-url-short", short_url.as_str(), 3, 1),
    ] {
        add_image(&mut add, name, &raw_qr(text, px, quiet)?);
    }
    let plain = |module_px: f32, quiet: u8| Drawing {
        module_px,
        quiet,
        ..Drawing::default()
    };
    let short_bytes = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    let url_text = format!("{VERIFY_URL}#0012345678901234");
    // kinds 4–7 (the input's bytes): kind + 8 × mask pattern; masks 0–6 appear below
    // (kinds 0–3 take the issuer's best mask)
    for (name, kind, payload, d) in [
        // the typical label's code (61 modules) at 2 px a module: 126 px
        ("label-url", 0, &[][..], plain(2.0, 1)),
        ("label-cl1", 1, &[], plain(2.0, 1)),
        ("cl1-short", 2, &short_bytes, plain(3.0, 2)),
        (
            "url-bytes",
            3,
            &[0xde, 0xad, 0xbe, 0xef, 0, 1],
            plain(2.0, 2),
        ),
        ("text-l", 4, url_text.as_bytes(), plain(3.0, 2)),
        ("text-m", 5 + 8, "CL1:検証 0123".as_bytes(), plain(3.0, 2)),
        ("text-q", 6 + 2 * 8, b"CL1:0123456789", plain(3.0, 2)),
        ("text-h", 7 + 3 * 8, b"HELLO WORLD", plain(3.0, 2)),
        (
            "text-l-turned",
            4 + 4 * 8,
            url_text.as_bytes(),
            Drawing {
                turn_deg: 20.0,
                ..plain(3.0, 1)
            },
        ),
        (
            "text-l-perspective",
            4 + 5 * 8,
            url_text.as_bytes(),
            Drawing {
                turn_deg: -10.0,
                keystone: 0.06,
                ..plain(3.0, 1)
            },
        ),
        (
            "label-url-damaged",
            0,
            &[],
            Drawing {
                noise: 60,
                // three flipped runs of modules, a grey blotch, an XOR-ed patch
                ops: vec![
                    [0, 20, 30, 3],
                    [0, 40, 12, 1],
                    [0, 9, 50, 2],
                    [0b0110_0101, 60, 40, 128],
                    [0b0010_0110, 30, 70, 0x55],
                ],
                ..plain(2.0, 1)
            },
        ),
        (
            "text-l-blurred-torn",
            4 + 6 * 8,
            url_text.as_bytes(),
            Drawing {
                // blurred, then one row shifted a pixel right
                ops: vec![[3, 0, 0, 0], [3, 1, 30, 1]],
                ..plain(3.0, 2)
            },
        ),
    ] {
        add_image(&mut add, name, &qr_input::rendered_input(kind, payload, &d));
    }

    for t in TARGETS {
        let seeds = s.get(t.name).ok_or(format!("no seeds for {}", t.name))?;
        let dir = root.join("corpus").join(t.name);
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir)?;
        for (name, bytes) in seeds {
            assert!(bytes.len() <= t.max_len, "{}/{name} is too long", t.name);
            fs::write(dir.join(name), bytes)?;
        }
        println!("{}: {} seeds", t.name, seeds.len());
    }
    Ok(())
}

fn add_image(
    add: &mut impl FnMut(&'static str, &'static str, &[u8]),
    name: &'static str,
    b: &[u8],
) {
    assert!(qr_input::frame(b).is_some(), "{name} is no frame");
    add("qr_rqrr", name, b);
    add("qr_quircs", name, b);
}

/// A QR code for `text` as a raw frame (crates/fuzz-bodies/src/qr_input.rs), with a quiet
/// zone of `quiet` modules, `px` pixels a module.
fn raw_qr(text: &str, px: usize, quiet: usize) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let qr = LabelQr::new(text)?;
    let w = (qr.modules() + 2 * quiet) * px;
    if w > qr_input::MAX_RAW_SIDE {
        return Err(format!("QR for {text:?} is {w} px wide").into());
    }
    let mut pixels = Vec::with_capacity(w * w);
    for y in 0..w {
        for x in 0..w {
            // left of and above the code wrap to huge: light, as is right of and below it
            let (mx, my) = ((x / px).wrapping_sub(quiet), (y / px).wrapping_sub(quiet));
            pixels.push(if qr.is_dark(mx, my) { 0 } else { 255 });
        }
    }
    Ok(qr_input::raw_input(w, w, &pixels))
}
