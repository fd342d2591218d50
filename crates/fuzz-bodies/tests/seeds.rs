//! The properties the bodies check are not vacuous: the fixture's signed objects do verify
//! (so a body that asserts "only the fixture's X verifies" is exercised by its seeds), and the
//! committed QR image seeds decode with both readers.

#![allow(clippy::unwrap_used)]

use cyberlabel_core::checkpoint;
use cyberlabel_core::status;
use cyberlabel_core::tlog_proof;
use cyberlabel_core::trust::TrustList;
use cyberlabel_core::verdict::{Verdict, verify_offline};
use cyberlabel_fuzz_bodies::TARGETS;
use cyberlabel_fuzz_bodies::fixture::{DAY, T0, fixture};
use cyberlabel_fuzz_bodies::qr_input;
use std::path::Path;

#[test]
fn the_fixture_verifies_where_the_bodies_expect_it_to() {
    let f = fixture();
    for l in &f.labels {
        let r = verify_offline(l, &f.trust, &f.catalog, T0 + DAY);
        assert_eq!(r.verdict, Verdict::Genuine);
    }
    let v = checkpoint::open(f.signed_checkpoint.as_bytes(), &f.log_policy).unwrap();
    assert_eq!(v.checkpoint.to_text(), f.checkpoint_text);
    let v =
        checkpoint::open_fresh(f.cosigned_checkpoint.as_bytes(), &f.witness_policy, f.now).unwrap();
    assert_eq!(v.witnessed_at, Some(f.cosigned_at));
    let v = tlog_proof::verify(f.tlog_proof.as_bytes(), &f.entries[1], &f.log_policy).unwrap();
    assert_eq!(v.index, 1);
    let v = status::verify_status_proof(f.status_proof.as_bytes(), &f.log_policy).unwrap();
    assert_eq!(v.state_of(0).unwrap().0, status::State::Revoked);
    let t = TrustList::from_signed(&f.trust_signed, &f.anchor.verifying_key(), f.now).unwrap();
    assert_eq!(t, f.trust);
}

#[test]
fn every_target_has_seeds_and_they_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for t in TARGETS {
        let files: Vec<_> = std::fs::read_dir(dir.join(t.name)).unwrap().collect();
        assert!(!files.is_empty(), "{} has no seeds", t.name);
        for e in files {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            assert!(bytes.len() <= t.max_len);
            (t.run)(&bytes);
        }
    }
}

/// Every image seed is a QR code both readers decode: to the payload drawn (rendered frames:
/// plain, turned, in perspective, noisy, damaged), and to the same text (raw frames).
#[test]
fn the_qr_image_seeds_decode_with_both_readers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let names = |t: &str| {
        let mut v: Vec<_> = std::fs::read_dir(dir.join(t))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("qr_rqrr"), names("qr_quircs"));
    let mut rendered = 0;
    let mut failed = Vec::new();
    for name in names("qr_rqrr") {
        let bytes = std::fs::read(dir.join("qr_rqrr").join(&name)).unwrap();
        assert_eq!(
            bytes,
            std::fs::read(dir.join("qr_quircs").join(&name)).unwrap()
        );
        let f = qr_input::frame(&bytes).unwrap();
        let rqrr = cyberlabel_issuer::qr::read_qr_codes(&f.to_gray_image().unwrap());
        let quircs = cyberlabel_wasm::api::decode_qr(&f.to_rgba(), f.width as u32, f.height as u32);
        println!(
            "{name}: {}×{}, rqrr {rqrr:?}, quircs {quircs:?}",
            f.width, f.height
        );
        let by_rqrr = match rqrr.first() {
            Some(Ok(t)) => t.clone(),
            _ => {
                failed.push(format!("{name}: rqrr decodes no code"));
                continue;
            }
        };
        let Some(by_quircs) = quircs else {
            failed.push(format!("{name}: quircs decodes no code"));
            continue;
        };
        assert_eq!(by_rqrr, by_quircs, "{name}");
        if let Some(p) = &f.payload {
            assert_eq!(by_rqrr.as_bytes(), p, "{name}");
            rendered += 1;
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(rendered >= 8, "the rendered seeds are missing");
}
