//! Fuzz the strict CBOR decoder, the COSE_Sign1 parser and the log-entry decoder: never panic;
//! anything accepted by the CBOR decoder re-encodes to the identical bytes.
#![no_main]

use cyberlabel_core::{cbor, cose};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = cbor::decode(data, 4096) {
        assert_eq!(cbor::encode(&v), data, "accepted CBOR must be canonical");
    }
    if let Ok(s) = cose::parse_sign1(data) {
        let _ = s.to_be_signed();
        let _ = s.check_profile(false);
    }
    if let Ok(e) = cose::decode_entry(data) {
        // A decoded entry's payload re-encodes to the signed payload bytes.
        match e {
            cose::Entry::Label { sign1, claim } => assert_eq!(claim.to_cbor(), sign1.payload),
            cose::Entry::Status { sign1, record } => assert_eq!(record.to_cbor(), sign1.payload),
        }
    }
});
