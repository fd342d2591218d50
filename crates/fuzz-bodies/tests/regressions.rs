//! The regression inputs still reach what they were kept for, and the body contains it:
//! rqrr 0.11 panics inside `read_qr_codes` on `fuzz/regressions/qr_rqrr/rqrr-geometry-assert-*`
//! (if an rqrr upgrade stops the panic, this test says so: the README's crash notes need
//! updating), and `read_qr_codes` cuts rqrr's alignment-pattern spiral short on
//! `rqrr-alignment-spiral-*` (4 s and 78 s without the budget; the issuer's
//! `qr::tests::rqrr_hangs_on_hostile_images_are_cut_short` checks the budget runs out).
//!
//! Its own test binary: it swaps the process's panic hook.

#![allow(clippy::unwrap_used)]

use cyberlabel_fuzz_bodies::qr_input;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn the_rqrr_regressions_still_reach_what_they_were_kept_for_and_it_is_contained() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/qr_rqrr");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let panics = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&panics);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
    }));
    let mut reached = Vec::new();
    for p in files
        .iter()
        .filter(|p| name(p).starts_with("rqrr-geometry-assert-"))
    {
        let f = qr_input::frame(&std::fs::read(p).unwrap()).unwrap();
        let before = panics.load(Ordering::SeqCst);
        let found = cyberlabel_issuer::qr::read_qr_codes(&f.to_gray_image().unwrap());
        assert!(found.is_empty(), "{}", p.display());
        reached.push(panics.load(Ordering::SeqCst) > before);
    }
    std::panic::set_hook(hook);
    assert_eq!(reached.len(), 2);
    for (i, r) in reached.into_iter().enumerate() {
        assert!(r, "rqrr no longer panics on rqrr-geometry-assert-{}", i + 1);
    }
    let spirals: Vec<_> = files
        .iter()
        .filter(|p| name(p).starts_with("rqrr-alignment-spiral-"))
        .collect();
    assert_eq!(spirals.len(), 2);
    for p in spirals {
        let f = qr_input::frame(&std::fs::read(p).unwrap()).unwrap();
        // (the budget running out is asserted by the issuer's unit test, not by a clock here)
        let t = Instant::now();
        assert!(cyberlabel_issuer::qr::read_qr_codes(&f.to_gray_image().unwrap()).is_empty());
        println!("{}: nothing found in {:?}", p.display(), t.elapsed());
    }
    // and the body runs them without a panic escaping
    for p in &files {
        cyberlabel_fuzz_bodies::qr_rqrr(&std::fs::read(p).unwrap());
    }
}

/// `quircs-alignment-spiral-1`, found by `qr_quircs`: a 96×96 frame whose perspective estimate
/// sent quircs 0.10.3's alignment-pattern spiral on billions of steps outside the image (17 s
/// of CPU in the fuzz build; the page decodes camera frames with quircs, so it would freeze).
/// With the patched quircs (vendor/quircs/PATCHED.md) the search stops at the image's edge;
/// were the patch lost, this test would run for as long as the fuzzer's timeout caught.
#[test]
fn the_quircs_regressions_decode_nothing_and_return() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/qr_quircs");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for p in &files {
        let data = std::fs::read(p).unwrap();
        let f = qr_input::frame(&data).unwrap();
        let t = Instant::now();
        let text = cyberlabel_wasm::api::decode_qr(&f.to_rgba(), f.width as u32, f.height as u32);
        println!("{}: {text:?} in {:?}", p.display(), t.elapsed());
        assert_eq!(text, None, "{}", p.display());
        cyberlabel_fuzz_bodies::qr_quircs(&data);
    }
}
