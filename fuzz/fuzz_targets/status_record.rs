//! The `status_record` target: `cyberlabel_fuzz_bodies::status_record` (its docs say what it checks) under
//! libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cyberlabel_fuzz_bodies::status_record(data));
