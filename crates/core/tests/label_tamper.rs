//! Tampering: no single-byte change to a signed label is ever reported as genuine.
#![allow(clippy::unwrap_used)]

mod label_common;

use cyberlabel_core::catalog::Catalog;
use cyberlabel_core::cose::sign_label;
use cyberlabel_core::trust::{TrustList, TrustedIssuer};
use cyberlabel_core::verdict::{Verdict, verify_offline};
use label_common::*;
use proptest::prelude::*;

fn setup() -> &'static (Vec<u8>, TrustList, Catalog) {
    static SETUP: std::sync::OnceLock<(Vec<u8>, TrustList, Catalog)> = std::sync::OnceLock::new();
    SETUP.get_or_init(build)
}

fn build() -> (Vec<u8>, TrustList, Catalog) {
    let mut t = TrustList {
        version: 1,
        issued_at: T0,
        expires_at: T0 + 400 * DAY,
        ..Default::default()
    };
    t.issuers.push(TrustedIssuer::new(
        "Example Issuing Body",
        &key(1).verifying_key(),
        &["SG-CLS"],
        T0 - DAY,
        T0 + 2 * 365 * DAY,
    ));
    (sign_label(&typical_claim(), &key(1)), t, Catalog::builtin())
}

#[test]
fn every_byte_position_and_several_bit_flips_are_caught() {
    let (label, trust, catalog) = setup();
    let now = T0 + DAY;
    assert_eq!(
        verify_offline(label, trust, catalog, now).verdict,
        Verdict::Genuine
    );
    let mut counts = std::collections::BTreeMap::new();
    for pos in 0..label.len() {
        for mask in [0x01u8, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff, 0x55] {
            let mut t = label.clone();
            t[pos] ^= mask;
            let v = verify_offline(&t, trust, catalog, now).verdict;
            // A flip inside the kid points at no trusted key: UnknownIssuer, also a rejection.
            assert!(
                matches!(
                    v,
                    Verdict::Tampered | Verdict::Malformed | Verdict::UnknownIssuer
                ),
                "pos {pos} mask {mask:#04x}: {v:?}"
            );
            *counts.entry(format!("{v:?}")).or_insert(0u32) += 1;
        }
    }
    // Flips inside the payload or signature keep the structure: most are caught as Tampered.
    assert!(
        counts.get("Tampered").copied().unwrap_or(0) > 0,
        "{counts:?}"
    );
    // Truncation and extension are caught too.
    for cut in 0..label.len() {
        let v = verify_offline(&label[..cut], trust, catalog, now).verdict;
        assert_ne!(v, Verdict::Genuine, "truncated to {cut}");
    }
    let mut longer = label.clone();
    longer.push(0);
    assert_eq!(
        verify_offline(&longer, trust, catalog, now).verdict,
        Verdict::Malformed
    );
}

proptest! {
    #[test]
    fn random_byte_replacement_is_never_genuine(pos in 0usize..1000, byte in any::<u8>()) {
        let (label, trust, catalog) = setup();
        let pos = pos % label.len();
        prop_assume!(label[pos] != byte);
        let mut t = label.clone();
        t[pos] = byte;
        prop_assert_ne!(verify_offline(&t, trust, catalog, T0 + DAY).verdict, Verdict::Genuine);
    }
}
