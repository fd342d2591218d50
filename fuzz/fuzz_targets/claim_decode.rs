//! Fuzz the claim decoder: never panics; an accepted claim re-encodes to the identical bytes
//! and passes the field checks.
#![no_main]

use cyberlabel_core::catalog::Catalog;
use cyberlabel_core::claim::Claim;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static CATALOG: OnceLock<Catalog> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Claim::from_cbor(data) {
        assert_eq!(c.to_cbor(), data);
        assert!(c.check().is_ok());
        let _ = CATALOG.get_or_init(Catalog::builtin).validate_claim(&c);
    }
});
