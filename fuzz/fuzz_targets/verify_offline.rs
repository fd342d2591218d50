//! Fuzz the whole offline verification: never panics, and only the labels actually signed by the
//! trusted key (the seeds `label` and `label-self-declared`) are ever Genuine: the fuzzer cannot
//! forge Ed25519, so any other Genuine input is a verifier bug.
#![no_main]

use cyberlabel_core::catalog::Catalog;
use cyberlabel_core::claim::{Assessment, Claim, ProvisionSet};
use cyberlabel_core::cose::sign_label;
use cyberlabel_core::trust::{TrustList, TrustedIssuer};
use cyberlabel_core::verdict::{Verdict, verify_offline};
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const T0: u64 = 1_767_225_600;
const DAY: u64 = 86_400;

struct Fixture {
    signed: Vec<Vec<u8>>,
    trust: TrustList,
    catalog: Catalog,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
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
        let mut trust = TrustList {
            version: 1,
            issued_at: T0,
            expires_at: T0 + 400 * DAY,
            ..Default::default()
        };
        trust.issuers.push(TrustedIssuer::new(
            "Fuzz Issuer",
            &key.verifying_key(),
            &["SG-CLS"],
            T0 - DAY,
            T0 + 2 * 365 * DAY,
        ));
        // The same two claims as examples/gen_corpus.rs signs into the seed corpus.
        let mut self_declared = claim.clone();
        self_declared.assessment = Assessment::SelfDeclared;
        self_declared.level = 1;
        self_declared.supersedes = Some(7);
        Fixture {
            signed: vec![sign_label(&claim, &key), sign_label(&self_declared, &key)],
            trust,
            catalog: Catalog::builtin(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let r = verify_offline(data, &f.trust, &f.catalog, T0 + DAY);
    if r.verdict == Verdict::Genuine {
        assert!(
            f.signed.iter().any(|l| l == data),
            "a label not signed by the fixture key verified as genuine"
        );
    }
});
