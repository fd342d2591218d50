//! Regenerates the committed seed corpus: `cargo run --example gen_corpus` in `fuzz/`.
//! Seeds: the typical signed label (as bytes and as URL/CL1 text), a status record, its claim.

use cyberlabel_core::claim::{Assessment, Claim, ProvisionSet};
use cyberlabel_core::cose;
use cyberlabel_core::status::{ReasonCode, StatusAction, StatusRecord};
use cyberlabel_core::payload;
use ed25519_dalek::SigningKey;
use std::fs;

fn main() -> std::io::Result<()> {
    const T0: u64 = 1_767_225_600;
    const DAY: u64 = 86_400;
    let key = SigningKey::from_bytes(&[1; 32]);
    let claim = Claim {
        scheme: "SG-CLS".into(),
        catalog_version: 1,
        level: 3,
        manufacturer: "Acme Smart Home Pte. Ltd.".into(),
        product: "AcmeCam Pro 2 Outdoor 4K Wi-Fi".into(),
        hardware_versions: "rev B, rev C".into(),
        firmware_versions: ">= 2.4.1".into(),
        category: 1,
        issued_at: T0,
        expires_at: T0 + 3 * 365 * DAY,
        support_end: T0 + 5 * 365 * DAY - 1,
        provisions: ProvisionSet::from_indices([1, 7, 9, 12, 15, 28]),
        assessment: Assessment::ThirdParty {
            lab: "SG-LAB-0042".into(),
        },
        serial: 123_456,
        supersedes: None,
    };
    let mut self_declared = claim.clone();
    self_declared.assessment = Assessment::SelfDeclared;
    self_declared.level = 1;
    self_declared.supersedes = Some(7);
    let label = cose::sign_label(&claim, &key);
    let status = cose::sign_status(
        &StatusRecord {
            action: StatusAction::Revoke,
            target: 123_456,
            reason: ReasonCode::NonConformityFound,
            time: T0 + 10 * DAY,
            target_leaf_hash: [0xab; 32],
        },
        &key,
    );
    let w = |dir: &str, name: &str, bytes: &[u8]| {
        fs::create_dir_all(format!("corpus/{dir}"))?;
        fs::write(format!("corpus/{dir}/{name}"), bytes)
    };
    w("verify_offline", "label", &label)?;
    w("verify_offline", "status", &status)?;
    w(
        "verify_offline",
        "label-self-declared",
        &cose::sign_label(&self_declared, &key),
    )?;
    w("cose_parse", "label", &label)?;
    w("cose_parse", "status", &status)?;
    w("claim_decode", "claim", &claim.to_cbor())?;
    w(
        "claim_decode",
        "claim-self-declared",
        &self_declared.to_cbor(),
    )?;
    w(
        "payload_decode",
        "url",
        payload::to_url("https://verify.example/v", &label).as_bytes(),
    )?;
    w("payload_decode", "cl1", payload::to_cl1(&label).as_bytes())?;
    w(
        "payload_decode",
        "short",
        payload::to_cl1(&[1, 2, 3, 4, 5, 6, 7, 8, 9]).as_bytes(),
    )?;
    Ok(())
}
