//! The real `cyberlabel` binary, end to end: keygen → issue → verify (from the QR PNG, the
//! artwork PNG, the payload text), verdict exit codes, and the error messages for bad input.
//! These checks are offline (`verify --offline`, added by the helper): a validly signed label
//! is "signature valid, log and revocation not checked" (exit 9), never "Genuine"; the online
//! check against a real log is in `verify_online.rs`.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::path::Path;
use std::process::{Command, Output};

fn cyberlabel(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cyberlabel"));
    cmd.args(args);
    if args.first() == Some(&"verify") {
        cmd.arg("--offline");
    }
    // Never the user's own verifier state.
    let state = std::env::temp_dir().join(format!("cyberlabel-cli-test-{}", std::process::id()));
    cmd.env("XDG_STATE_HOME", state)
        .env_remove("CYBERLABEL_VERIFIER_URL")
        .env_remove("CYBERLABEL_CATALOG")
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// keygen + issue a SG-CLS level 2 label into `dir/label`; returns (key dir, label dir).
fn issue(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let keys = dir.join("keys");
    let out = cyberlabel(&["keygen", "--out", p(&keys)]);
    assert!(out.status.success(), "{:?}", text(&out));
    let label = dir.join("label");
    let out = cyberlabel(&[
        "issue",
        "--key",
        p(&keys.join("issuer.key.pem")),
        "--out",
        p(&label),
        "--scheme",
        "SG-CLS",
        "--level",
        "2",
        "--manufacturer",
        "Acme Devices Pte Ltd",
        "--product",
        "Acme SmartCam 2 Outdoor Pro 4K",
        "--hardware-versions",
        "rev B",
        "--firmware-versions",
        ">= 2.4.0",
        "--category",
        "Smart camera",
        "--provision",
        "5.1-1,5.1-2,5.2-1",
        "--provision",
        "5.3-2",
        "--provision",
        "5.3-13,5.3-16",
        "--assessment",
        "third-party",
        "--lab",
        "SG-LAB-007",
        "--support-until",
        "2030-12-31",
        "--serial",
        "17",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("QR version"), "{stdout}");
    for f in [
        "label.cbor",
        "payload.txt",
        "qr.png",
        "qr.svg",
        "label.png",
        "label.svg",
    ] {
        assert!(label.join(f).is_file(), "{f} missing");
    }
    (keys, label)
}

#[test]
fn keygen_issue_verify_image_is_genuine() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, label) = issue(dir.path());
    let pub_key = keys.join("issuer.pub.pem");
    for image in ["qr.png", "label.png"] {
        let out = cyberlabel(&[
            "verify",
            "--image",
            p(&label.join(image)),
            "--issuer-key",
            p(&pub_key),
        ]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(9), "{image}: {stdout}\n{stderr}");
        assert!(
            stdout.starts_with("✘ Cannot check now") && !stdout.contains("Genuine"),
            "{stdout}"
        );
        assert!(
            stdout.contains("Acme SmartCam 2 Outdoor Pro 4K"),
            "{stdout}"
        );
        assert!(
            stdout.contains("security updates until: 2030-12-31"),
            "{stdout}"
        );
    }
    // The payload text and --json.
    let payload = std::fs::read_to_string(label.join("payload.txt")).unwrap();
    let url = payload.lines().next().unwrap();
    let out = cyberlabel(&["verify", url, "--issuer-key", p(&pub_key), "--json"]);
    assert_eq!(out.status.code(), Some(9));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "cannot_check");
    assert_eq!(v["claim"]["serial"], 17);
    assert_eq!(v["claim"]["provisions"].as_array().unwrap().len(), 6);
    // The CL1 form is the same label.
    let cl1 = payload.lines().nth(1).unwrap();
    assert!(cl1.starts_with("CL1:"));
    let out = cyberlabel(&["verify", cl1, "--issuer-key", p(&pub_key)]);
    assert_eq!(out.status.code(), Some(9));
    // Past its expiry: still correctly signed, verdict expired, exit 6.
    let out = cyberlabel(&[
        "verify",
        url,
        "--issuer-key",
        p(&pub_key),
        "--now",
        "4000000000",
    ]);
    assert_eq!(out.status.code(), Some(6), "{:?}", text(&out));
    // render redraws the same QR from label.cbor.
    let again = dir.path().join("again");
    let out = cyberlabel(&[
        "render",
        "--label",
        p(&label.join("label.cbor")),
        "--out",
        p(&again),
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(
        std::fs::read(again.join("qr.png")).unwrap(),
        std::fs::read(label.join("qr.png")).unwrap()
    );
}

#[test]
fn tampered_unknown_issuer_and_malformed_have_their_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, label) = issue(dir.path());
    let pub_key = keys.join("issuer.pub.pem");
    let bytes = std::fs::read(label.join("label.cbor")).unwrap();

    // Change one letter of the product name inside the signed payload, re-encode as a payload.
    // (names travel packed, FORMATS §1: "Acme…" → "Bcme…" is one bit of the product's first byte)
    let packed = cyberlabel_core::packed_text::pack("Acme SmartCam 2 Outdoor Pro 4K").unwrap();
    let pos = bytes.windows(4).position(|w| w == &packed[..4]).unwrap();
    let mut bad = bytes.clone();
    bad[pos] ^= 0x04;
    let tampered = cyberlabel_core::payload::to_url("https://cyberlabel.example/v", &bad);
    let out = cyberlabel(&["verify", &tampered, "--issuer-key", p(&pub_key)]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("altered or forged"), "{stdout}");
    assert!(
        stdout.contains("claimed product"),
        "untrusted fields are marked as claims: {stdout}"
    );

    // A different issuer key: unknown issuer.
    let other = dir.path().join("other");
    assert!(cyberlabel(&["keygen", "--out", p(&other)]).status.success());
    let out = cyberlabel(&[
        "verify",
        "--image",
        p(&label.join("qr.png")),
        "--issuer-key",
        p(&other.join("issuer.pub.pem")),
    ]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(5), "{stdout}");
    assert!(stdout.contains("Unknown issuer"), "{stdout}");

    // Not a payload at all: malformed, exit 4, also in JSON.
    let out = cyberlabel(&[
        "verify",
        "CL1:12345x",
        "--issuer-key",
        p(&pub_key),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(4));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "malformed");
}

#[test]
fn demo_mode_uses_the_example_keys_and_trust_list() {
    let dir = tempfile::tempdir().unwrap();
    let out = cyberlabel(&[
        "issue",
        "--demo",
        "--out",
        p(dir.path()),
        "--scheme",
        "JP-JCSTAR",
        "--level",
        "★1",
        "--manufacturer",
        "Example KK",
        "--product",
        "Example Plug",
        "--hardware-versions",
        "1",
        "--firmware-versions",
        "1.0",
        "--category",
        "9",
        "--assessment",
        "self-declared",
        "--support-until",
        "2028-03-31",
    ]);
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("WARNING") && stderr.contains("EXAMPLE"),
        "loud warning: {stderr}"
    );
    let out = cyberlabel(&[
        "verify",
        "--demo",
        "--image",
        p(&dir.path().join("label.png")),
    ]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(9), "{stdout}");
    assert!(stdout.contains("EXAMPLE issuer"), "{stdout}");
    // The signed example trust list verifies with the example signer's public key file.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../keys-example");
    let out = cyberlabel(&[
        "verify",
        "--image",
        p(&dir.path().join("qr.png")),
        "--trust-list",
        p(&root.join("trust-list.EXAMPLE.cose")),
        "--trust-list-signer",
        p(&root.join("trust-list-EXAMPLE-DO-NOT-USE.pub.pem")),
    ]);
    assert_eq!(out.status.code(), Some(9), "{:?}", text(&out));
    // …and not with another key.
    let out = cyberlabel(&[
        "verify",
        "--image",
        p(&dir.path().join("qr.png")),
        "--trust-list",
        p(&root.join("trust-list.EXAMPLE.cose")),
        "--trust-list-signer",
        p(&root.join("issuer-EXAMPLE-DO-NOT-USE.pub.pem")),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("does not verify with that signer key"),
        "{stderr}"
    );
}

#[test]
fn bad_input_errors_say_what_and_what_next() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    assert!(cyberlabel(&["keygen", "--out", p(&keys)]).status.success());
    let key = keys.join("issuer.key.pem");

    // Missing image file.
    let out = cyberlabel(&[
        "verify",
        "--image",
        "/nonexistent/photo.png",
        "--issuer-key",
        p(&keys.join("issuer.pub.pem")),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("/nonexistent/photo.png") && stderr.contains("check the path"),
        "{stderr}"
    );

    // Bad JSON: the misspelt field is named.
    let bad = dir.path().join("product.json");
    std::fs::write(&bad, r#"{"scheme": "SG-CLS", "levle": 2}"#).unwrap();
    let out = cyberlabel(&[
        "issue",
        "--key",
        p(&key),
        "--out",
        p(&dir.path().join("o")),
        "--product-file",
        p(&bad),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("levle") && stderr.contains("product.json"),
        "{stderr}"
    );

    // A product file that parses but breaks the scheme: the field and the fix are named.
    let toml = dir.path().join("product.toml");
    std::fs::write(
        &toml,
        r#"
scheme = "SG-CLS"
level = 4
manufacturer = "Acme"
product = "Cam"
hardware_versions = "B"
firmware_versions = "2"
category = 1
provisions = []
assessment = "self_declared"
support_until = "2030-01-01"
"#,
    )
    .unwrap();
    let out = cyberlabel(&[
        "issue",
        "--key",
        p(&key),
        "--out",
        p(&dir.path().join("o")),
        "--product-file",
        p(&toml),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("assessment") && stderr.contains("cyberlabel schemes"),
        "{stderr}"
    );

    // A private key readable by others is refused, with the fix.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = cyberlabel(&[
            "issue",
            "--key",
            p(&key),
            "--out",
            p(&dir.path().join("o")),
            "--product-file",
            p(&toml),
        ]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr.contains("readable by other users") && stderr.contains("chmod 600"),
            "{stderr}"
        );
    }

    // No trust given.
    let out = cyberlabel(&["verify", "CL1:123"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("--trust-list") && stderr.contains("--demo"),
        "{stderr}"
    );

    // Unknown category lists the valid codes.
    let out = cyberlabel(&[
        "issue",
        "--demo",
        "--out",
        p(&dir.path().join("o")),
        "--scheme",
        "US-CTM",
        "--level",
        "1",
        "--manufacturer",
        "A",
        "--product",
        "B",
        "--hardware-versions",
        "1",
        "--firmware-versions",
        "1",
        "--category",
        "toaster",
        "--assessment",
        "third-party",
        "--lab",
        "L",
        "--support-until",
        "2030-01-01",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("toaster") && stderr.contains("1 = Smart camera"),
        "{stderr}"
    );
}

#[test]
fn schemes_lists_the_catalog() {
    let out = cyberlabel(&["schemes"]);
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    for id in [
        "SG-CLS",
        "US-CTM",
        "DE-BSI",
        "FI-TRAFICOM",
        "JP-JCSTAR",
        "KR-CIC",
    ] {
        assert!(stdout.contains(id), "{id} missing");
    }
    let out = cyberlabel(&["schemes", "SG-CLS"]);
    assert!(text(&out).0.contains("5.3-13"), "provision list shown");
    let out = cyberlabel(&["schemes", "XX"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn help_lists_exactly_the_commands_that_exist() {
    let (stdout, _) = text(&cyberlabel(&["--help"]));
    let listed: Vec<&str> = stdout
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let expected = [
        "keygen",
        "issue",
        "verify",
        "render",
        "schemes",
        "trust-list",
        "serve",
        "token",
        "bench",
        "register",
        "client",
        "audit",
        "witness",
        "restore",
        "publish",
        "help",
    ];
    assert_eq!(listed, expected, "{stdout}");
    for name in expected.iter().filter(|n| **n != "help") {
        let out = cyberlabel(&[name, "--help"]);
        assert!(out.status.success(), "{name} --help: {:?}", text(&out));
    }
    let about = stdout.lines().next().unwrap();
    assert!(!about.contains("revoke"), "{about}");
}

#[test]
fn verify_help_documents_the_exit_codes() {
    let (stdout, _) = text(&cyberlabel(&["verify", "--help"]));
    for line in [
        "0  genuine",
        "3  tampered",
        "4  malformed",
        "5  unknown issuer",
        "6  expired",
        "7  revoked",
        "8  not in the public log",
        "9  signature valid, but the log and revocation were NOT checked",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
}

#[test]
fn issue_from_toml_and_json_product_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for (file, scheme, level) in [("product.toml", "SG-CLS", 3), ("product.json", "KR-CIC", 2)] {
        let out_dir = dir.path().join(file);
        let out = cyberlabel(&[
            "issue",
            "--demo",
            "--out",
            p(&out_dir),
            "--product-file",
            p(&data.join(file)),
            "--serial",
            "99",
        ]);
        assert!(out.status.success(), "{file}: {:?}", text(&out));
        let out = cyberlabel(&[
            "verify",
            "--demo",
            "--json",
            "--label",
            p(&out_dir.join("label.cbor")),
        ]);
        assert_eq!(out.status.code(), Some(9), "{file}: {:?}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["claim"]["scheme"], scheme);
        assert_eq!(v["claim"]["level"], level);
        assert_eq!(v["claim"]["serial"], 99);
    }
}

/// A phone-photo-like copy of a label PNG: scaled down, rotated 3°, blurred, off-centre on a
/// grey background, saved as JPEG.
fn photo_of(png: &Path, jpeg: &Path) {
    let label = image::open(png).unwrap().to_luma8();
    let small = image::imageops::resize(
        &label,
        label.width() * 7 / 10,
        label.height() * 7 / 10,
        image::imageops::FilterType::Triangle,
    );
    let (w, h) = (small.width() + 300, small.height() + 200);
    let (sin, cos) = 3f32.to_radians().sin_cos();
    let (cx, cy) = (small.width() as f32 / 2.0, small.height() as f32 / 2.0);
    let photo = image::GrayImage::from_fn(w, h, |x, y| {
        // Inverse-rotate each photo pixel into the label (nearest neighbour), label at (180, 90).
        let (dx, dy) = (x as f32 - 180.0 - cx, y as f32 - 90.0 - cy);
        let (sx, sy) = (cos * dx + sin * dy + cx, -sin * dx + cos * dy + cy);
        if sx >= 0.0 && sy >= 0.0 && (sx as u32) < small.width() && (sy as u32) < small.height() {
            *small.get_pixel(sx as u32, sy as u32)
        } else {
            image::Luma([150])
        }
    });
    let blurred = image::imageops::blur(&photo, 1.2);
    blurred
        .save_with_format(jpeg, image::ImageFormat::Jpeg)
        .unwrap();
}

#[test]
fn verify_reads_a_degraded_jpeg_photo() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, label) = issue(dir.path());
    let photo = dir.path().join("photo.jpg");
    photo_of(&label.join("label.png"), &photo);
    let out = cyberlabel(&[
        "verify",
        "--image",
        p(&photo),
        "--issuer-key",
        p(&keys.join("issuer.pub.pem")),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(9), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("✘ Cannot check now") && !stdout.contains("Genuine"));
}

#[test]
fn trust_list_sign_and_show_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    assert!(
        cyberlabel(&["keygen", "--out", p(&keys), "--name", "tl"])
            .status
            .success()
    );
    let json =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../keys-example/trust-list.EXAMPLE.json");
    let cose = dir.path().join("trust-list.cose");
    let out = cyberlabel(&[
        "trust-list",
        "sign",
        "--json",
        p(&json),
        "--key",
        p(&keys.join("tl.key.pem")),
        "--out",
        p(&cose),
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    let out = cyberlabel(&[
        "trust-list",
        "show",
        p(&cose),
        "--signer",
        p(&keys.join("tl.pub.pem")),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("KR-CIC level >= 2 -> SG-CLS level 3"),
        "{stdout}"
    );
    // The payload is the exact JSON bytes.
    let out = cyberlabel(&[
        "trust-list",
        "show",
        p(&cose),
        "--signer",
        p(&keys.join("tl.pub.pem")),
        "--json",
    ]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let original: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(shown, original);
    // A JSON that is not a trust list is refused before signing.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"version": 1}"#).unwrap();
    let out = cyberlabel(&[
        "trust-list",
        "sign",
        "--json",
        p(&bad),
        "--key",
        p(&keys.join("tl.key.pem")),
        "--out",
        p(&dir.path().join("x")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("not a valid trust list"));
}

#[test]
fn render_from_payload_text_matches_issue() {
    let dir = tempfile::tempdir().unwrap();
    let (_, label) = issue(dir.path());
    let payload = std::fs::read_to_string(label.join("payload.txt")).unwrap();
    let again = dir.path().join("again");
    let out = cyberlabel(&[
        "render",
        "--payload",
        payload.lines().nth(1).unwrap(),
        "--out",
        p(&again),
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(
        std::fs::read(again.join("label.png")).unwrap(),
        std::fs::read(label.join("label.png")).unwrap()
    );
    let out = cyberlabel(&["render", "--payload", "hello", "--out", p(&again)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("not a label"));
}
