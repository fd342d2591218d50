//! The `checkpoint` target: `cyberlabel_fuzz_bodies::checkpoint_body` (its docs say what it checks) under
//! libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cyberlabel_fuzz_bodies::checkpoint_body(data));
