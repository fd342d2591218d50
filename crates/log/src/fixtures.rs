//! Test fixtures shared by the log's and the publisher's tests (feature `test-utils`).

use cyberlabel_core::claim::{Assessment, Claim, ProvisionSet};

/// A valid self-declared claim of `scheme` at log index `serial` (whole-day dates, FORMATS §1),
/// renewing `supersedes` if given.
#[must_use]
pub fn claim_in(scheme: &str, serial: u64, supersedes: Option<u64>) -> Claim {
    Claim {
        scheme: scheme.into(),
        catalog_version: 1,
        level: 2,
        manufacturer: "Acme".into(),
        product: format!("Cam {serial}"),
        hardware_versions: "1".into(),
        firmware_versions: "2.0".into(),
        category: 1,
        issued_at: 19_675 * 86_400,
        expires_at: 20_833 * 86_400,
        support_end: 20_833 * 86_400 - 1,
        provisions: ProvisionSet::from_indices([0u8, 1, 2]),
        assessment: Assessment::SelfDeclared,
        serial,
        supersedes,
    }
}

/// A signed trust list (JSON signed by `anchor`) authorising one issuer, named `name`, for
/// SG-CLS: the first entry of a test log that admits labels.
#[must_use]
pub fn trust_list_for(
    name: &str,
    issuer: &ed25519_dalek::VerifyingKey,
    anchor: &ed25519_dalek::SigningKey,
) -> Vec<u8> {
    use cyberlabel_core::trust::{self, TrustList, TrustedIssuer};
    let t = TrustList {
        version: 1,
        issued_at: 1_700_000_000,
        expires_at: 1_900_000_000,
        issuers: vec![TrustedIssuer::new(
            name,
            issuer,
            &["SG-CLS"],
            0,
            u64::MAX / 2,
        )],
        ..TrustList::default()
    };
    trust::sign(t.to_json().as_bytes(), anchor)
}
