//! Regenerates the committed seed corpus `fuzz/corpus/<target>/`:
//! `cargo run -p cyberlabel-fuzz-bodies --example gen_corpus`. Deterministic (the fixture's fixed
//! keys and times); each target's directory is rewritten whole. Seeds are small: one or two of
//! each well-formed input the target reads.

use cyberlabel_core::merkle::{self, Hash, ProofError};
use cyberlabel_core::payload;
use cyberlabel_core::tlog_proof::TlogProof;
use cyberlabel_fuzz_bodies::fixture::fixture;
use cyberlabel_fuzz_bodies::{TARGETS, grey_image};
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
    let url = payload::to_url("https://verify.example/v", label);
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
    // QR images: a short CL1 payload at 3 px a module and the typical label's URL at 1 px.
    for (name, text, px) in [
        ("cl1-short", short.as_str(), 3),
        ("label-url", url.as_str(), 1),
    ] {
        let img = qr_image(text, px)?;
        assert!(grey_image(&img).is_some());
        add("qr_rqrr", name, &img);
        add("qr_quircs", name, &img);
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

/// A QR code for `text` in the image targets' input format (width byte, then the pixels), with
/// a two-module quiet zone, `px` pixels a module.
fn qr_image(text: &str, px: usize) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let qr = LabelQr::new(text)?;
    let n = qr.modules() + 4;
    let w = n * px;
    if w > 128 {
        return Err(format!("QR for {text:?} is {w} px wide").into());
    }
    let mut out = vec![u8::try_from(w - 1)?];
    for y in 0..w {
        for x in 0..w {
            let (mx, my) = (x / px, y / px);
            let dark =
                (2..n - 2).contains(&mx) && (2..n - 2).contains(&my) && qr.is_dark(mx - 2, my - 2);
            out.push(if dark { 0 } else { 255 });
        }
    }
    Ok(out)
}
