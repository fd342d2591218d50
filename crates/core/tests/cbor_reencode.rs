//! The strict CBOR decoder against generated *valid* structures (not random bytes, which almost
//! never get past the first head): every canonical encoding decodes to the same value and
//! re-encodes to the identical bytes; every mutation of one that still decodes re-encodes to
//! the mutated bytes (nothing non-canonical slips through); and each kind of non-canonical
//! form, planted at a random place in a random value, is refused with its own error.
//!
//! The canonical encoder here is written from RFC 8949 §4.2.1 independently of
//! `cyberlabel_core::cbor::encode`, and the two must agree byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use ciborium::value::{Integer, Value};
use cyberlabel_core::cbor::{self, CborError, MAX_DEPTH};
use proptest::prelude::*;

const CASES: u32 = 1_024;

// ---- an independent canonical encoder, with an optional planted defect ----

/// One deliberate deviation from the canonical form.
#[derive(Debug, Clone, Copy)]
enum Defect {
    None,
    /// The n-th head (in emission order, among those that can be widened) takes one more byte
    /// than it needs.
    Widen(usize),
}

struct Enc {
    out: Vec<u8>,
    defect: Defect,
    heads: usize,
    applied: bool,
}

impl Enc {
    fn new(defect: Defect) -> Self {
        Self {
            out: Vec::new(),
            defect,
            heads: 0,
            applied: false,
        }
    }

    fn head(&mut self, major: u8, arg: u64) {
        let m = major << 5;
        // the additional-information value of the shortest form
        let shortest = match arg {
            0..=23 => arg as u8,
            24..=0xff => 24,
            0x100..=0xffff => 25,
            0x1_0000..=0xffff_ffff => 26,
            _ => 27,
        };
        let mut ai = shortest;
        if shortest < 27 {
            if let Defect::Widen(n) = self.defect
                && n == self.heads
            {
                ai = if shortest < 24 { 24 } else { shortest + 1 };
                self.applied = true;
            }
            self.heads += 1;
        }
        match ai {
            0..=23 => self.out.push(m | ai),
            24 => self.out.extend([m | 24, arg as u8]),
            25 => {
                self.out.push(m | 25);
                self.out.extend((arg as u16).to_be_bytes());
            }
            26 => {
                self.out.push(m | 26);
                self.out.extend((arg as u32).to_be_bytes());
            }
            _ => {
                self.out.push(m | 27);
                self.out.extend(arg.to_be_bytes());
            }
        }
    }

    fn value(&mut self, v: &Value) {
        match v {
            Value::Integer(i) => {
                let n = i128::from(*i);
                if n >= 0 {
                    self.head(0, n as u64);
                } else {
                    self.head(1, (-1 - n) as u64);
                }
            }
            Value::Bytes(b) => {
                self.head(2, b.len() as u64);
                self.out.extend(b);
            }
            Value::Text(s) => {
                self.head(3, s.len() as u64);
                self.out.extend(s.as_bytes());
            }
            Value::Array(items) => {
                self.head(4, items.len() as u64);
                for x in items {
                    self.value(x);
                }
            }
            Value::Map(entries) => {
                // canonical order: bytewise by the keys' canonical encodings
                let mut sorted: Vec<(Vec<u8>, &Value, &Value)> =
                    entries.iter().map(|(k, v)| (canonical(k), k, v)).collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                self.head(5, sorted.len() as u64);
                for (_, k, v) in sorted {
                    self.value(k);
                    self.value(v);
                }
            }
            Value::Tag(t, inner) => {
                self.head(6, *t);
                self.value(inner);
            }
            Value::Bool(false) => self.out.push(0xf4),
            Value::Bool(true) => self.out.push(0xf5),
            Value::Null => self.out.push(0xf6),
            other => panic!("the generator makes no {other:?}"),
        }
    }
}

fn canonical(v: &Value) -> Vec<u8> {
    let mut e = Enc::new(Defect::None);
    e.value(v);
    e.out
}

/// `v` with every map's entries in canonical order: what the decoder hands back.
fn normalized(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        Value::Map(entries) => {
            let mut e: Vec<(Value, Value)> = entries
                .iter()
                .map(|(k, v)| (normalized(k), normalized(v)))
                .collect();
            e.sort_by_key(|(k, _)| canonical(k));
            Value::Map(e)
        }
        Value::Tag(t, inner) => Value::Tag(*t, Box::new(normalized(inner))),
        other => other.clone(),
    }
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| depth(k).max(depth(v)))
                .max()
                .unwrap_or(0)
        }
        Value::Tag(_, inner) => 1 + depth(inner),
        _ => 0,
    }
}

// ---- generators ----

/// Unsigned arguments concentrated on the shortest-form boundaries.
fn arg() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..=30,
        prop::sample::select(vec![
            23u64,
            24,
            0xff,
            0x100,
            0xffff,
            0x1_0000,
            0xffff_ffff,
            0x1_0000_0000,
            u64::MAX
        ]),
        any::<u64>(),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        arg().prop_map(|n| Value::Integer(Integer::from(n))),
        // negative: -1 - n, down to -2^64
        arg().prop_map(|n| Value::Integer(Integer::try_from(-1i128 - i128::from(n)).unwrap())),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        ".{0,12}".prop_map(Value::Text),
        // long enough for 1- and 2-byte length heads
        prop::collection::vec(any::<u8>(), 250..300).prop_map(Value::Bytes),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ]
}

/// Any value the decoder must accept: nested arrays, maps with distinct keys, tags.
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((inner.clone(), inner.clone()), 0..6).prop_map(|kv| {
                // distinct keys (by encoding): keep the first of each
                let mut seen = std::collections::HashSet::new();
                Value::Map(
                    kv.into_iter()
                        .filter(|(k, _)| seen.insert(canonical(k)))
                        .collect(),
                )
            }),
            (arg(), inner).prop_map(|(t, v)| Value::Tag(t, Box::new(v))),
        ]
    })
}

/// A small edit of an encoding: overwrite, insert or delete one byte, or cut the end.
#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &[u8], m: &Mutation) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let n = b.len();
    match *m {
        Mutation::Set(i, x) => b[i % n] = x,
        Mutation::Insert(i, x) => b.insert(i % (n + 1), x),
        Mutation::Delete(i) => {
            b.remove(i % n);
        }
        Mutation::Truncate(i) => b.truncate(i % n),
    }
    b
}

fn decode(b: &[u8]) -> Result<Value, CborError> {
    cbor::decode(b, 1 << 20)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Canonical bytes (by this file's encoder, equal to core's) decode to the value and
    /// re-encode identically.
    #[test]
    fn canonical_encodings_round_trip(v in value()) {
        prop_assume!(depth(&v) <= MAX_DEPTH);
        let bytes = canonical(&v);
        prop_assert_eq!(&cbor::encode(&v), &bytes, "core's encoder is not canonical");
        let d = decode(&bytes);
        prop_assert!(d.is_ok(), "canonical bytes refused: {:?} for {}", d, hex::encode(&bytes));
        let d = d.unwrap();
        prop_assert_eq!(&d, &normalized(&v));
        prop_assert_eq!(cbor::encode(&d), bytes);
    }

    /// The decoder's contract on hostile input: whatever it accepts is canonical. Mutations of
    /// valid encodings (not random bytes) get deep into the parser, and many still decode
    /// (a changed payload byte, a changed integer); each one that does must re-encode to exactly
    /// the mutated bytes.
    #[test]
    fn accepted_mutations_reencode_identically(v in value(), muts in prop::collection::vec(mutation(), 1..4)) {
        prop_assume!(depth(&v) <= MAX_DEPTH);
        let mut bytes = canonical(&v);
        for m in &muts {
            if bytes.is_empty() {
                break;
            }
            bytes = apply(&bytes, m);
        }
        if let Ok(d) = decode(&bytes) {
            prop_assert_eq!(cbor::encode(&d), bytes);
        }
    }

    /// One head anywhere in the value written one size too long: refused as non-shortest.
    #[test]
    fn a_widened_head_anywhere_is_refused(v in value(), at in any::<usize>()) {
        prop_assume!(depth(&v) <= MAX_DEPTH);
        let heads = {
            let mut e = Enc::new(Defect::None);
            e.value(&v);
            e.heads
        };
        prop_assume!(heads > 0);
        let mut e = Enc::new(Defect::Widen(at % heads));
        e.value(&v);
        prop_assert!(e.applied);
        prop_assert_eq!(decode(&e.out), Err(CborError::NonShortest), "{}", hex::encode(&e.out));
    }

    /// A map emitted out of order, or with a key twice, after any valid value: refused with the
    /// matching error.
    #[test]
    fn unsorted_or_duplicate_map_keys_are_refused(
        v in value(), keys in prop::collection::vec(leaf(), 2..6), x in value(),
    ) {
        prop_assume!(depth(&v) < MAX_DEPTH && depth(&x) < MAX_DEPTH);
        let mut keys: Vec<Vec<u8>> = keys.iter().map(canonical).collect();
        keys.sort();
        keys.dedup();
        prop_assume!(keys.len() >= 2);
        let xb = canonical(&x);
        let map = |order: &[&Vec<u8>]| {
            let mut m = vec![0xa0 | order.len() as u8];
            for k in order {
                m.extend(k.iter());
                m.extend(&xb);
            }
            m
        };
        let prefix = [&[0x82][..], &canonical(&v)].concat(); // [v, map]
        let mut swapped: Vec<&Vec<u8>> = keys.iter().collect();
        swapped.swap(0, 1);
        prop_assert_eq!(decode(&[&prefix[..], &map(&swapped)].concat()), Err(CborError::UnsortedKeys));
        let dup = [&keys[0], &keys[0], &keys[1]];
        prop_assert_eq!(decode(&[&prefix[..], &map(&dup)].concat()), Err(CborError::DuplicateKey));
        let sorted: Vec<&Vec<u8>> = keys.iter().collect();
        prop_assert!(decode(&[&prefix[..], &map(&sorted)].concat()).is_ok());
    }

    /// Indefinite lengths, floats and trailing bytes after any valid value: refused.
    #[test]
    fn indefinite_float_and_trailing_forms_are_refused(v in value(), f in any::<f64>(), t in any::<u8>()) {
        prop_assume!(depth(&v) < MAX_DEPTH);
        let vb = canonical(&v);
        let pair = |second: &[u8]| [&[0x82][..], &vb, second].concat();
        // [_ v] (indefinite array), (_ h'..') indefinite byte string
        prop_assert_eq!(decode(&[&[0x9f][..], &vb, &[0xff]].concat()), Err(CborError::Indefinite));
        prop_assert_eq!(decode(&pair(&[0x5f, 0x41, 0x00, 0xff])), Err(CborError::Indefinite));
        // a float in any width (core's encoder picks the shortest)
        prop_assert_eq!(decode(&pair(&cbor::encode(&Value::Float(f)))), Err(CborError::Unsupported));
        prop_assert_eq!(decode(&[&vb[..], &[t]].concat()), Err(CborError::TrailingBytes));
    }
}
