//! Fuzz the QR payload decoder: never panics, and whatever decodes has exactly one encoding.
#![no_main]

use cyberlabel_core::payload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = payload::qr_segments(text);
    if let Ok(label) = payload::decode(text) {
        assert!(!label.is_empty() && label.len() <= payload::MAX_LABEL_BYTES);
        let digits = payload::encode_digits(&label);
        assert_eq!(payload::decode_digits(&digits).as_deref(), Ok(&label[..]));
        // The digits in the input are exactly the canonical digits of the label.
        assert!(text.ends_with(&digits));
    }
});
