//! QR payload codec (FORMATS §3): digits, URL and CL1 forms, strictness and bounds.
#![allow(clippy::unwrap_used)]

use cyberlabel_core::payload::{
    MAX_DIGITS, MAX_LABEL_BYTES, PayloadError, decode, decode_digits, encode_digits, qr_segments,
    to_cl1, to_url,
};
use proptest::prelude::*;

#[test]
fn each_last_chunk_length_has_its_digit_count() {
    // k bytes of 0xff in the last chunk use [0,3,5,8,10,13,15,17][k] digits and decode back.
    let expect = [0usize, 3, 5, 8, 10, 13, 15, 17];
    for (k, &digits) in expect.iter().enumerate() {
        for full in 0..3 {
            let bytes = vec![0xffu8; full * 7 + k];
            let d = encode_digits(&bytes);
            assert_eq!(d.len(), full * 17 + digits, "k={k} full={full}");
            if bytes.is_empty() {
                assert_eq!(decode_digits(&d), Err(PayloadError::Empty));
            } else {
                assert_eq!(decode_digits(&d).unwrap(), bytes);
            }
        }
    }
    // Known values: the maximum of each chunk size and zero padding.
    assert_eq!(encode_digits(&[0xff]), "255");
    assert_eq!(encode_digits(&[0x00]), "000");
    assert_eq!(encode_digits(&[0x01, 0x00]), "00256");
    assert_eq!(encode_digits(&[0xff; 7]), "72057594037927935");
    assert_eq!(encode_digits(&[0; 8]), "00000000000000000000");
}

#[test]
fn overflowing_chunks_are_rejected() {
    assert_eq!(decode_digits("256"), Err(PayloadError::ChunkOverflow)); // > 0xff
    assert_eq!(decode_digits("65536"), Err(PayloadError::ChunkOverflow)); // > 0xffff
    assert_eq!(decode_digits("16777216"), Err(PayloadError::ChunkOverflow));
    assert_eq!(
        decode_digits("4294967296"),
        Err(PayloadError::ChunkOverflow)
    );
    assert_eq!(
        decode_digits("1099511627776"),
        Err(PayloadError::ChunkOverflow)
    );
    assert_eq!(
        decode_digits("281474976710656"),
        Err(PayloadError::ChunkOverflow)
    );
    assert_eq!(
        decode_digits("72057594037927936"),
        Err(PayloadError::ChunkOverflow)
    ); // 2^56
    assert_eq!(
        decode_digits("99999999999999999"),
        Err(PayloadError::ChunkOverflow)
    );
    // Overflow in a full chunk before a valid tail.
    assert_eq!(
        decode_digits("99999999999999999255"),
        Err(PayloadError::ChunkOverflow)
    );
    // The largest valid values decode.
    assert_eq!(decode_digits("255").unwrap(), vec![0xff]);
    assert_eq!(decode_digits("281474976710655").unwrap(), vec![0xff; 6]);
}

#[test]
fn bad_lengths_non_digits_and_oversize_are_rejected() {
    for n in [1usize, 2, 4, 6, 7, 9, 11, 12, 14, 16, 18, 19, 21] {
        assert_eq!(
            decode_digits(&"0".repeat(n)),
            Err(PayloadError::BadLength),
            "n={n}"
        );
    }
    assert_eq!(decode_digits(""), Err(PayloadError::Empty));
    assert_eq!(decode_digits("12a"), Err(PayloadError::NonDigit));
    assert_eq!(decode_digits("1 2"), Err(PayloadError::NonDigit));
    assert_eq!(decode_digits("１２３"), Err(PayloadError::NonDigit)); // full-width digits
    assert_eq!(decode_digits("+12"), Err(PayloadError::NonDigit));
    // The bound: exactly MAX_LABEL_BYTES decodes, one more chunk does not.
    let max = vec![0xabu8; MAX_LABEL_BYTES];
    let d = encode_digits(&max);
    assert_eq!(d.len(), MAX_DIGITS);
    assert_eq!(decode_digits(&d).unwrap(), max);
    let over = encode_digits(&vec![0xabu8; MAX_LABEL_BYTES + 1]);
    assert_eq!(decode_digits(&over), Err(PayloadError::TooLong));
    assert_eq!(decode(&"1".repeat(100_000)), Err(PayloadError::TooLong));
}

#[test]
fn url_and_cl1_forms_decode_to_the_same_label() {
    let label: Vec<u8> = (0u8..=200).collect();
    let url = to_url("https://verify.example/v", &label);
    let cl1 = to_cl1(&label);
    assert!(url.starts_with("https://verify.example/v#"));
    assert!(cl1.starts_with("CL1:"));
    assert_eq!(decode(&url).unwrap(), label);
    assert_eq!(decode(&cl1).unwrap(), label);
    assert_eq!(decode(&cl1.to_lowercase()).unwrap(), label);
    assert_eq!(decode(&encode_digits(&label)).unwrap(), label);
    // Any host: the host is not part of the trust decision.
    let other = url.replace("https://verify.example/v", "http://x");
    assert_eq!(decode(&other).unwrap(), label);

    let (p, d) = qr_segments(&url).unwrap();
    assert_eq!(p, "https://verify.example/v#");
    assert_eq!(d, encode_digits(&label));
    let (p, d) = qr_segments(&cl1).unwrap();
    assert_eq!((p, d.len()), ("CL1:", encode_digits(&label).len()));
    assert_eq!(qr_segments("https://x/v#12a"), None);
    assert_eq!(qr_segments("https://x/v#"), None);

    assert_eq!(decode("hello"), Err(PayloadError::UnknownForm));
    assert_eq!(decode("https://x/v#"), Err(PayloadError::Empty));
    assert_eq!(decode("https://x/v#12a45"), Err(PayloadError::NonDigit));
    assert_eq!(decode("CL1:"), Err(PayloadError::Empty));
    assert_eq!(decode("CL2:123"), Err(PayloadError::UnknownForm));
    assert_eq!(decode("https://x/v#1#2"), Err(PayloadError::NonDigit));
}

proptest! {
    #[test]
    fn digits_round_trip(bytes in proptest::collection::vec(any::<u8>(), 1..=300)) {
        let d = encode_digits(&bytes);
        prop_assert!(d.bytes().all(|b| b.is_ascii_digit()));
        prop_assert_eq!(decode_digits(&d).unwrap(), bytes.clone());
        prop_assert_eq!(decode(&to_url("https://v.example/v", &bytes)).unwrap(), bytes);
    }

    #[test]
    fn any_digit_string_decodes_to_at_most_one_label(d in "[0-9]{1,60}") {
        // Whatever decodes must re-encode to the very same digits (unique representation).
        if let Ok(b) = decode_digits(&d) {
            prop_assert_eq!(encode_digits(&b), d);
        }
    }
}
