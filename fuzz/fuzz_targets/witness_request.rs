//! The `witness_request` target: `cyberlabel_fuzz_bodies::witness_request` (its docs say what it checks) under
//! libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cyberlabel_fuzz_bodies::witness_request(data));
