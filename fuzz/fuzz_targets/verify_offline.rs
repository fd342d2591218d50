//! The `verify_offline` target: `cyberlabel_fuzz_bodies::verify_offline_body` (its docs say what it checks) under
//! libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cyberlabel_fuzz_bodies::verify_offline_body(data));
