//! Shared fixtures for the label tests: deterministic keys and a typical claim.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use cyberlabel_core::claim::{Assessment, Claim, ProvisionSet};
use ed25519_dalek::SigningKey;

/// RFC 8032 §7.1 TEST 1 secret key (public key d75a9801…), also the cose-wg Ed25519 key.
pub const RFC8032_TEST1_SECRET: &str =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

/// A fixed key derived from a label; never a real key.
pub fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

pub fn rfc8032_key() -> SigningKey {
    let b: [u8; 32] = hex::decode(RFC8032_TEST1_SECRET)
        .unwrap()
        .try_into()
        .unwrap();
    SigningKey::from_bytes(&b)
}

/// 2026-01-01T00:00:00Z.
pub const T0: u64 = 1_767_225_600;
pub use cyberlabel_core::dates::DAY;

/// A typical SG-CLS level-3 claim with a third-party lab.
pub fn typical_claim() -> Claim {
    Claim {
        scheme: "SG-CLS".into(),
        catalog_version: 1,
        level: 3,
        manufacturer: "Acme Smart Home Pte. Ltd.".into(),
        product: "AcmeCam Pro 2 Outdoor Wi-Fi 4K Cam".into(),
        hardware_versions: "rev B, rev C".into(),
        firmware_versions: ">= 2.4.1".into(),
        category: 1,
        issued_at: T0,
        expires_at: T0 + 3 * 365 * DAY,
        support_end: T0 + 5 * 365 * DAY - 1, // 23:59:59 UTC of the last supported day
        provisions: ProvisionSet::from_indices([1, 7, 9, 12, 15, 28]),
        // SG-LAB-0042 in the builtin catalog.
        assessment: Assessment::ThirdParty { lab: 3 },
        serial: 123_456,
        supersedes: None,
    }
}
