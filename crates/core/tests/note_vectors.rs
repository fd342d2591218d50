//! Third-party signed-note vectors (tests/vectors/notes/README.md has their provenance) must
//! verify in our core, and our own notes and checkpoints must have the C2SP form.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use cyberlabel_core::checkpoint::{self, Checkpoint, Policy, StatusCommitment};
use cyberlabel_core::note::{self, KeyKind, NoteError, NoteSigner, VerifierKey};
use ed25519_dalek::SigningKey;

fn read(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/vectors/notes/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn vkey(name: &str) -> VerifierKey {
    let s = read(name);
    let k = VerifierKey::parse(s.trim_end()).unwrap();
    // our printed form is byte-identical to the upstream string
    assert_eq!(k.to_string(), s.trim_end());
    k
}

#[test]
fn c2sp_spec_example_verifies() {
    let k = vkey("c2sp-signed-note-example.vkey");
    assert_eq!(k.name(), "example.com/foo");
    assert_eq!(k.key_id(), 0x530d_903a);
    let msg = read("c2sp-signed-note-example.note");
    let v = note::open(msg.as_bytes(), std::slice::from_ref(&k)).unwrap();
    assert_eq!(v.note.text, "This is an example message.\n");
    assert_eq!(v.note.to_text(), msg);
    let tampered = msg.replace("example message", "example massage");
    assert_eq!(
        note::open(tampered.as_bytes(), &[k]).unwrap_err(),
        NoteError::InvalidSignature
    );
}

#[test]
fn go_sumdb_note_example_verifies_and_resigns_identically() {
    let peter = vkey("go-sumdb-note-example.vkey");
    let enoch = vkey("go-sumdb-note-example-enoch.vkey");
    let msg = read("go-sumdb-note-example.note");
    let v = note::open(msg.as_bytes(), std::slice::from_ref(&peter)).unwrap();
    assert_eq!(v.verified[0].key_id, 0xc74f_20a3);
    // the private key from the package doc reproduces the exact signed note
    let signer = NoteSigner::parse_private(read("go-sumdb-note-example.skey").trim_end()).unwrap();
    assert_eq!(signer.verifier(), &peter);
    assert_eq!(note::sign(&v.note.text, &[&signer], 0).unwrap(), msg);
    // doubly-signed: both verify; with only one key known the other signature is ignored
    let two = read("go-sumdb-note-example-two-sigs.note");
    assert_eq!(
        note::open(two.as_bytes(), &[peter.clone(), enoch.clone()])
            .unwrap()
            .verified
            .len(),
        2
    );
    assert_eq!(
        note::open(two.as_bytes(), &[enoch]).unwrap().verified.len(),
        1
    );
    // a key with the right name and id but a different public key is a verification failure
    let impostor = VerifierKey::new(
        "PeterNeumann",
        KeyKind::Ed25519,
        SigningKey::from_bytes(&[1; 32]).verifying_key(),
    )
    .unwrap();
    assert_ne!(impostor.key_id(), peter.key_id());
    assert_eq!(
        note::open(msg.as_bytes(), &[impostor]).unwrap_err(),
        NoteError::NoKnownSignature
    );
}

#[test]
fn our_checkpoints_roundtrip_and_have_c2sp_form() {
    let log = NoteSigner::new(
        "cyberlabel.example/log",
        KeyKind::Ed25519,
        SigningKey::from_bytes(&[42; 32]),
    )
    .unwrap();
    let vk = log.verifier().to_string();
    let parts: Vec<&str> = vk.splitn(3, '+').collect();
    assert_eq!(parts[0], "cyberlabel.example/log");
    assert_eq!(parts[1].len(), 8);
    assert!(
        parts[1]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(parts[2].len(), 44); // base64 of 33 bytes
    let mut cp = Checkpoint::new("cyberlabel.example/log", 12345, [9; 32]);
    cp.set_status(StatusCommitment {
        bucket_count: 49,
        root: [1; 32],
    });
    let signed = cp.sign(&log).unwrap();
    let lines: Vec<&str> = signed.lines().collect();
    assert_eq!(
        lines[3],
        format!(
            "cyberlabel-status 49 {}",
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
        )
    );
    assert_eq!(lines[4], "");
    assert!(lines[5].starts_with("\u{2014} cyberlabel.example/log "));
    let v = checkpoint::open(
        signed.as_bytes(),
        &Policy::log_only(VerifierKey::parse(&vk).unwrap()),
    )
    .unwrap();
    assert_eq!(v.checkpoint, cp);
    assert_eq!(v.note.note.to_text(), signed);
}
