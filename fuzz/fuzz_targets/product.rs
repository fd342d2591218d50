//! The `product` target: `cyberlabel_fuzz_bodies::product` (its docs say what it checks) under
//! libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cyberlabel_fuzz_bodies::product(data));
