//! RFC 8949 Appendix A examples (tests/vectors/rfc8949/, see PROVENANCE.md) against our
//! deterministic CBOR profile.
#![allow(clippy::unwrap_used)]

use ciborium::Value;
use cyberlabel_core::cbor::{self, CborError};

/// Converts a JSON `decoded` value to the CBOR value it denotes (None if JSON cannot say it
/// exactly, e.g. integers beyond i64/u64).
fn from_json(j: &serde_json::Value) -> Option<Value> {
    Some(match j {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                cbor::uint(u)
            } else if let Some(i) = n.as_i64() {
                cbor::int(i)
            } else {
                Value::Float(n.as_f64()?)
            }
        }
        serde_json::Value::String(s) => Value::Text(s.clone()),
        serde_json::Value::Array(a) => {
            Value::Array(a.iter().map(from_json).collect::<Option<_>>()?)
        }
        serde_json::Value::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| Some((Value::Text(k.clone()), from_json(v)?)))
                .collect::<Option<_>>()?,
        ),
    })
}

#[test]
fn appendix_a_under_the_deterministic_profile() {
    let path = format!(
        "{}/tests/vectors/rfc8949/appendix_a.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(entries.len(), 82);
    let (mut accepted, mut rejected, mut floats) = (0, 0, 0);
    for e in &entries {
        let hex = e["hex"].as_str().unwrap();
        let bytes = hex::decode(hex).unwrap();
        let roundtrip = e["roundtrip"].as_bool().unwrap();
        let first = bytes[0];
        let is_float = matches!(first, 0xf9..=0xfb) || hex.starts_with("c1fb");
        let is_simple = first == 0xf7 || first == 0xf0 || first == 0xf8;
        let is_indefinite = hex.contains("ff") && matches!(first, 0x5f | 0x7f | 0x9f | 0xbf)
            || !roundtrip && !is_float;
        match cbor::decode(&bytes, 1024) {
            Ok(v) => {
                assert!(
                    roundtrip && !is_float && !is_simple && !is_indefinite,
                    "{hex} accepted"
                );
                assert_eq!(cbor::encode(&v), bytes, "{hex} re-encodes identically");
                if let Some(want) = e.get("decoded").and_then(from_json)
                    && !matches!(want, Value::Float(_))
                {
                    assert_eq!(v, want, "{hex} decodes to the documented value");
                }
                accepted += 1;
            }
            Err(err) => {
                assert!(
                    is_float || is_simple || is_indefinite,
                    "{hex} rejected: {err:?}"
                );
                let want = if is_indefinite {
                    CborError::Indefinite
                } else {
                    CborError::Unsupported
                };
                assert_eq!(err, want, "{hex}");
                rejected += 1;
            }
        }
        // The encoder writes floats in preferred (shortest) form: the roundtrip=true entries.
        if is_float && roundtrip && !hex.starts_with("c1") {
            let f = match (
                e.get("decoded"),
                e.get("diagnostic").and_then(|d| d.as_str()),
            ) {
                (Some(d), _) => d.as_f64().unwrap(),
                (None, Some("Infinity")) => f64::INFINITY,
                (None, Some("-Infinity")) => f64::NEG_INFINITY,
                (None, Some("NaN")) => f64::NAN,
                other => panic!("{hex}: {other:?}"),
            };
            assert_eq!(
                cbor::encode(&Value::Float(f)),
                bytes,
                "{hex} preferred float"
            );
            floats += 1;
        }
    }
    assert_eq!((accepted, rejected, floats), (44, 38, 16));
}
