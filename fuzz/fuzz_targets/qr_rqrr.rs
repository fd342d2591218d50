//! The `qr_rqrr` target: `cyberlabel_fuzz_bodies::qr_rqrr` (its docs say what it checks) under
//! libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cyberlabel_fuzz_bodies::qr_rqrr(data));
