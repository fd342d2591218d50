//! The regression inputs still reach what they were kept for: rqrr 0.11 panics inside
//! `read_qr_codes` on `fuzz/regressions/qr_rqrr/*` (and the body contains it). If an rqrr
//! upgrade stops the panic, this test says so: the README's crash notes need updating.
//!
//! Its own test binary: it swaps the process's panic hook.

#![allow(clippy::unwrap_used)]

use cyberlabel_fuzz_bodies::qr_input;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn the_rqrr_regressions_still_reach_its_panic_and_it_is_contained() {
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
    for p in &files {
        let f = qr_input::frame(&std::fs::read(p).unwrap()).unwrap();
        let before = panics.load(Ordering::SeqCst);
        let found = cyberlabel_issuer::qr::read_qr_codes(&f.to_gray_image().unwrap());
        assert!(found.is_empty(), "{}", p.display());
        reached.push(panics.load(Ordering::SeqCst) > before);
    }
    std::panic::set_hook(hook);
    for (p, r) in files.iter().zip(reached) {
        assert!(r, "rqrr no longer panics on {}", p.display());
    }
    // and the body runs them without a panic escaping
    for p in &files {
        cyberlabel_fuzz_bodies::qr_rqrr(&std::fs::read(p).unwrap());
    }
}
