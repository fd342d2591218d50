//! The `payload_decode` target: `cyberlabel_fuzz_bodies::payload_decode` (its docs say what it checks) under
//! libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cyberlabel_fuzz_bodies::payload_decode(data));
