//! The QR PNG and the artwork PNG decode with two independent decoders — zbarimg (Debian
//! zbar-tools) and zxing-cpp (PyPI) — and so does a degraded copy of each (scaled to 60 %,
//! rotated 4°, Gaussian blur r = 1), as a phone photo of a print would be. The degradation and
//! the decoding are in `qr_decoders.py`; a missing tool fails the test with the install command.

mod common;

use cyberlabel_core::catalog::Catalog;
use cyberlabel_issuer::{keys, mint};

#[test]
fn qr_and_artwork_decode_with_zbar_and_zxing_also_degraded() {
    let catalog = Catalog::builtin();
    let key = keys::generate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // One scheme per level mark: stars (SG-CLS), steps (KR-CIC), pass (US-CTM); URL and CL1.
    for (id, level, cl1) in [
        ("SG-CLS", 2, false),
        ("KR-CIC", 2, true),
        ("US-CTM", 1, false),
    ] {
        let scheme = catalog.latest(id).unwrap();
        let minted = mint::mint(
            &common::description(scheme, level),
            &catalog,
            &key,
            7,
            common::NOW,
        )
        .unwrap();
        let options = mint::RenderOptions {
            verifier_url: "https://cyberlabel.example/v",
            cl1,
            module_px: 8,
        };
        let rendered = mint::render(&minted.label, &catalog, &options).unwrap();
        let qr = dir.path().join(format!("{id}-qr.png"));
        let art = dir.path().join(format!("{id}-label.png"));
        std::fs::write(&qr, &rendered.qr_png).unwrap();
        std::fs::write(&art, &rendered.artwork.png).unwrap();
        let expected = if cl1 { &rendered.cl1 } else { &rendered.url };
        let (code, stdout, stderr) = common::python(
            "qr_decoders.py",
            &[
                expected,
                dir.path().to_str().unwrap(),
                qr.to_str().unwrap(),
                art.to_str().unwrap(),
            ],
        );
        print!("{stdout}");
        assert_eq!(
            code, 0,
            "{id}: an independent decoder failed:\n{stdout}\n{stderr}"
        );
        assert_eq!(
            stdout.lines().filter(|l| l.starts_with("OK ")).count(),
            8,
            "{stdout}"
        );
    }
}
