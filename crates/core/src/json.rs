//! A small, strict JSON reader for the JSON documents core itself loads: the scheme catalog
//! and the trust list.
//!
//! Hand-written rather than serde-derived because every derived `Deserialize` is its own
//! monomorphised copy of serde_json's parser: for the catalog's and the trust list's sixteen
//! structs that was a quarter of the wasm verifier (wasm-verifier/README.md). Here one tree
//! reader is shared, and each type maps a parsed [`Node`] onto itself ([`FromJson`]).
//!
//! Strict RFC 8259: no comments, trailing commas, leading zeros, control characters in strings
//! or lone surrogates; nesting is bounded; a key may appear **once** per object (a signed
//! document must not mean one thing to this reader and another to the next). Unknown keys are
//! ignored, as before, so a newer list still loads in an older verifier. An error is a byte
//! position, reported as line and column ([`line_col`]).

/// Deepest nesting of arrays and objects accepted (the catalog needs 5).
const MAX_DEPTH: usize = 32;

/// Where parsing or mapping stopped, as a byte offset into the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Error {
    pub(crate) offset: usize,
}

/// 1-based line and column (in characters) of byte `offset` in `src`.
pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = src.get(..offset.min(src.len())).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// A parsed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    /// A number; `Some` when it is a non-negative integer that fits a `u64` (the only numbers
    /// these documents hold), `None` for any other valid number.
    Num(Option<u64>),
    Str(String),
    Arr(Vec<Node>),
    Obj(Vec<(String, Node)>),
}

/// A value with the byte range it was read from (for error positions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub(crate) at: usize,
    /// Offset just past the value (for an object: past its `}`, where a missing key is
    /// reported).
    pub(crate) end: usize,
    pub(crate) v: Value,
}

/// Parses one JSON document (surrounding whitespace allowed, nothing else).
pub(crate) fn parse(src: &str) -> Result<Node, Error> {
    let mut p = Parser {
        b: src.as_bytes(),
        i: 0,
    };
    p.ws();
    let n = p.value(0)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err());
    }
    Ok(n)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self) -> Error {
        Error { offset: self.i }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), Error> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err())
        }
    }

    fn literal(&mut self, word: &[u8], v: Value) -> Result<Value, Error> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err())
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, Error> {
        let at = self.i;
        let v = match self.peek() {
            Some(b'{') => self.object(depth + 1)?,
            Some(b'[') => self.array(depth + 1)?,
            Some(b'"') => Value::Str(self.string()?),
            Some(b't') => self.literal(b"true", Value::Bool(true))?,
            Some(b'f') => self.literal(b"false", Value::Bool(false))?,
            Some(b'n') => self.literal(b"null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err(self.err()),
        };
        Ok(Node { at, end: self.i, v })
    }

    fn object(&mut self, depth: usize) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return Err(self.err());
        }
        self.i += 1;
        let mut fields: Vec<(String, Node)> = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Obj(fields));
        }
        loop {
            self.ws();
            let key_at = self.i;
            if self.peek() != Some(b'"') {
                return Err(self.err());
            }
            let key = self.string()?;
            if fields.iter().any(|(k, _)| *k == key) {
                return Err(Error { offset: key_at });
            }
            self.ws();
            self.eat(b':')?;
            self.ws();
            let v = self.value(depth)?;
            fields.push((key, v));
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Obj(fields));
                }
                _ => return Err(self.err()),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return Err(self.err());
        }
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Value::Arr(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Arr(items));
                }
                _ => return Err(self.err()),
            }
        }
    }

    fn digits(&mut self) -> Result<(), Error> {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        if self.i == start {
            Err(self.err())
        } else {
            Ok(())
        }
    }

    fn number(&mut self) -> Result<Value, Error> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        let int_start = self.i;
        if self.peek() == Some(b'0') {
            self.i += 1;
            if let Some(b'0'..=b'9') = self.peek() {
                return Err(self.err()); // leading zero
            }
        } else {
            self.digits()?;
        }
        let int_end = self.i;
        let mut integral = true;
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.digits()?;
            integral = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.digits()?;
            integral = false;
        }
        let value = if integral && !negative {
            let mut n: u64 = 0;
            let mut fits = true;
            for &d in &self.b[int_start..int_end] {
                match n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(d - b'0')))
                {
                    Some(v) => n = v,
                    None => {
                        fits = false;
                        break;
                    }
                }
            }
            fits.then_some(n)
        } else {
            None
        };
        Ok(Value::Num(value))
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.err()),
            };
            v = v * 16 + u32::from(d);
            self.i += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, Error> {
        self.i += 1; // the opening quote
        let mut out = String::new();
        loop {
            // Copy the run of plain characters in one go: the source is a `&str`, so any run
            // that stops at an ASCII quote, backslash or control byte is valid UTF-8.
            let start = self.i;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            let run = core::str::from_utf8(&self.b[start..self.i]).map_err(|_| self.err())?;
            out.push_str(run);
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let esc = self.i - 2;
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return Err(Error { offset: esc });
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(Error { offset: esc });
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            out.push(char::from_u32(code).ok_or(Error { offset: esc })?);
                            continue;
                        }
                        _ => return Err(self.err()),
                    };
                    self.i += 1;
                    out.push(c);
                }
                // a raw control character, or the end of the input
                _ => return Err(self.err()),
            }
        }
    }
}

/// A type read from a parsed JSON value.
pub(crate) trait FromJson: Sized {
    fn from_json(n: &Node) -> Result<Self, Error>;
}

fn wrong(n: &Node) -> Error {
    Error { offset: n.at }
}

impl FromJson for String {
    fn from_json(n: &Node) -> Result<Self, Error> {
        match &n.v {
            Value::Str(s) => Ok(s.clone()),
            _ => Err(wrong(n)),
        }
    }
}

impl FromJson for bool {
    fn from_json(n: &Node) -> Result<Self, Error> {
        match n.v {
            Value::Bool(b) => Ok(b),
            _ => Err(wrong(n)),
        }
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl FromJson for $t {
            fn from_json(n: &Node) -> Result<Self, Error> {
                match n.v {
                    Value::Num(Some(v)) => <$t>::try_from(v).map_err(|_| wrong(n)),
                    _ => Err(wrong(n)),
                }
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64);

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(n: &Node) -> Result<Self, Error> {
        match &n.v {
            Value::Arr(items) => items.iter().map(T::from_json).collect(),
            _ => Err(wrong(n)),
        }
    }
}

/// `null` reads as `None`.
impl<T: FromJson> FromJson for Option<T> {
    fn from_json(n: &Node) -> Result<Self, Error> {
        match n.v {
            Value::Null => Ok(None),
            _ => T::from_json(n).map(Some),
        }
    }
}

/// The keys of one JSON object, looked up by the type being read.
pub(crate) struct Obj<'a> {
    fields: &'a [(String, Node)],
    end: usize,
}

impl<'a> Obj<'a> {
    /// `n` as an object; anything else is an error at `n`.
    pub(crate) fn of(n: &'a Node) -> Result<Self, Error> {
        match &n.v {
            Value::Obj(fields) => Ok(Obj { fields, end: n.end }),
            _ => Err(wrong(n)),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Node> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A key that must be present (an absent one is reported at the object's end).
    pub(crate) fn req<T: FromJson>(&self, key: &str) -> Result<T, Error> {
        match self.get(key) {
            Some(n) => T::from_json(n),
            None => Err(Error { offset: self.end }),
        }
    }

    /// A key that may be absent or `null`.
    pub(crate) fn opt<T: FromJson>(&self, key: &str) -> Result<Option<T>, Error> {
        match self.get(key) {
            Some(n) => Option::<T>::from_json(n),
            None => Ok(None),
        }
    }

    /// A key that takes `default` when absent (present, it must be a valid `T`).
    pub(crate) fn or<T: FromJson>(&self, key: &str, default: T) -> Result<T, Error> {
        match self.get(key) {
            Some(n) => T::from_json(n),
            None => Ok(default),
        }
    }

    /// A key that takes `T::default()` when absent.
    pub(crate) fn or_default<T: FromJson + Default>(&self, key: &str) -> Result<T, Error> {
        self.or(key, T::default())
    }
}

/// A string that must be one of `words`; its index.
pub(crate) fn one_of(n: &Node, words: &[&str]) -> Result<usize, Error> {
    match &n.v {
        Value::Str(s) => words.iter().position(|w| w == s).ok_or(wrong(n)),
        _ => Err(wrong(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(src: &str) -> Value {
        parse(src).map(|n| n.v).unwrap_or(Value::Null)
    }

    fn fails_at(src: &str) -> Option<usize> {
        parse(src).err().map(|e| e.offset)
    }

    #[test]
    fn reads_values() {
        assert_eq!(v(" 42 "), Value::Num(Some(42)));
        assert_eq!(v("18446744073709551615"), Value::Num(Some(u64::MAX)));
        assert_eq!(v("18446744073709551616"), Value::Num(None));
        assert_eq!(v("-1"), Value::Num(None));
        assert_eq!(v("1.5e3"), Value::Num(None));
        assert_eq!(v("0"), Value::Num(Some(0)));
        assert_eq!(v("true"), Value::Bool(true));
        assert_eq!(
            v(r#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#),
            Value::Str("a\"\\/\u{8}\u{c}\n\r\t\u{e9}\u{1f600}".into())
        );
        assert_eq!(v("\"grüße\""), Value::Str("grüße".into()));
        let Value::Obj(f) = v(r#"{"a": [1, {}], "b": null}"#) else {
            panic!("not an object")
        };
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].1.v, Value::Null);
    }

    #[test]
    fn rejects_what_rfc_8259_does_not_allow() {
        for bad in [
            "",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "+1",
            "[1,]",
            "{\"a\":1,}",
            "{a:1}",
            "'a'",
            "\"a",
            "\"\t\"",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "nul",
            "truex",
            "[1] 2",
            "// c\n1",
            "NaN",
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn rejects_a_key_twice_at_the_second() {
        assert_eq!(fails_at(r#"{"a":1,"a":1}"#), Some(7));
        assert_eq!(fails_at(r#"{"a":1,"\u0061":2}"#), Some(7));
    }

    #[test]
    fn bounds_nesting() {
        let deep = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(parse(&deep(MAX_DEPTH)).is_ok());
        assert!(parse(&deep(MAX_DEPTH + 1)).is_err());
        // far past any stack a recursive reader would survive unbounded
        assert!(parse(&deep(1_000_000)).is_err());
    }

    #[test]
    fn maps_values_and_reports_where() {
        let src = "{\n  \"n\": 300,\n  \"s\": \"x\",\n  \"v\": [1, 2]\n}";
        let n = parse(src).unwrap_or(Node {
            at: 0,
            end: 0,
            v: Value::Null,
        });
        let o = Obj::of(&n).map_err(|e| e.offset);
        let Ok(o) = o else { panic!("not an object") };
        assert_eq!(o.req::<u16>("n"), Ok(300));
        let e = o.req::<u8>("n").err().map(|e| line_col(src, e.offset));
        assert_eq!(e, Some((2, 8)));
        assert_eq!(o.req::<Vec<u8>>("v"), Ok(vec![1, 2]));
        assert_eq!(o.opt::<String>("missing"), Ok(None));
        assert_eq!(o.or("missing", 7u32), Ok(7));
        let e = o
            .req::<String>("missing")
            .err()
            .map(|e| line_col(src, e.offset));
        assert_eq!(e, Some((5, 2)));
        assert!(o.req::<String>("n").is_err());
        assert_eq!(
            one_of(
                &Node {
                    at: 0,
                    end: 0,
                    v: Value::Str("b".into())
                },
                &["a", "b"]
            ),
            Ok(1)
        );
    }

    // Differential: serde_json (what read these documents before) is the reference, made to
    // refuse a key twice as this reader does.

    use proptest::prelude::*;
    use serde_json::Value as J;

    /// serde_json's `Value`, refusing duplicate keys.
    struct NoDup(J);

    impl<'de> serde::Deserialize<'de> for NoDup {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = NoDup;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("JSON")
                }
                fn visit_unit<E>(self) -> Result<NoDup, E> {
                    Ok(NoDup(J::Null))
                }
                fn visit_bool<E>(self, b: bool) -> Result<NoDup, E> {
                    Ok(NoDup(J::Bool(b)))
                }
                fn visit_u64<E>(self, n: u64) -> Result<NoDup, E> {
                    Ok(NoDup(J::from(n)))
                }
                fn visit_i64<E>(self, n: i64) -> Result<NoDup, E> {
                    Ok(NoDup(J::from(n)))
                }
                fn visit_f64<E>(self, n: f64) -> Result<NoDup, E> {
                    Ok(NoDup(J::from(n)))
                }
                fn visit_string<E>(self, s: String) -> Result<NoDup, E> {
                    Ok(NoDup(J::String(s)))
                }
                fn visit_str<E>(self, s: &str) -> Result<NoDup, E> {
                    Ok(NoDup(J::String(s.into())))
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut a: A,
                ) -> Result<NoDup, A::Error> {
                    let mut v = Vec::new();
                    while let Some(NoDup(x)) = a.next_element()? {
                        v.push(x);
                    }
                    Ok(NoDup(J::Array(v)))
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut a: A,
                ) -> Result<NoDup, A::Error> {
                    let mut m = serde_json::Map::new();
                    while let Some((k, NoDup(x))) = a.next_entry::<String, NoDup>()? {
                        if m.insert(k, x).is_some() {
                            return Err(serde::de::Error::custom("duplicate key"));
                        }
                    }
                    Ok(NoDup(J::Object(m)))
                }
            }
            d.deserialize_any(V)
        }
    }

    fn same(ours: &Node, theirs: &J) -> bool {
        match (&ours.v, theirs) {
            (Value::Null, J::Null) => true,
            (Value::Bool(a), J::Bool(b)) => a == b,
            (Value::Num(a), J::Number(b)) => *a == b.as_u64(),
            (Value::Str(a), J::String(b)) => a == b,
            (Value::Arr(a), J::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
            }
            (Value::Obj(a), J::Object(b)) => {
                a.len() == b.len() && a.iter().all(|(k, x)| b.get(k).is_some_and(|y| same(x, y)))
            }
            _ => false,
        }
    }

    fn arb_json() -> impl Strategy<Value = J> {
        let leaf = prop_oneof![
            Just(J::Null),
            any::<bool>().prop_map(J::Bool),
            any::<u64>().prop_map(J::from),
            any::<i64>().prop_map(J::from),
            (-1e300f64..1e300).prop_map(J::from),
            any::<String>().prop_map(J::String),
            "[a-z\\\"]{0,6}".prop_map(J::String),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(J::Array),
                prop::collection::btree_map("[def]{0,2}|\\PC{0,4}", inner, 0..8)
                    .prop_map(|m| J::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Edits that make near-JSON: structural characters, escapes, digits, literals' letters.
    const ALPHABET: &[char] = &[
        '{', '}', '[', ']', ',', ':', '"', '\\', '/', 'u', 'd', '8', '0', '1', '9', '.', 'e', 'E',
        '+', '-', 't', 'f', 'n', 'l', ' ', '\n', '\u{1}', '\u{7f}', 'é', '\u{202e}',
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Whatever serde_json writes (compact and pretty), this reader reads to the same value.
        #[test]
        fn reads_what_serde_json_writes(v in arb_json()) {
            for text in [serde_json::to_string(&v), serde_json::to_string_pretty(&v)] {
                let text = text.map_err(|e| TestCaseError::fail(e.to_string()))?;
                let n = parse(&text).map_err(|e| TestCaseError::fail(format!("{e:?} in {text}")))?;
                prop_assert!(same(&n, &v), "{text}");
            }
        }

        /// On damaged JSON both readers agree: accepted by both with the same value, or
        /// refused by both.
        #[test]
        fn agrees_with_serde_json_on_damaged_text(
            v in arb_json(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8, prop::sample::select(ALPHABET)), 1..5),
        ) {
            let mut chars: Vec<char> = serde_json::to_string(&v)
                .map_err(|e| TestCaseError::fail(e.to_string()))?
                .chars()
                .collect();
            for (at, op, c) in edits {
                // ops 3.. edit next to structure (brackets, separators, quotes), where a
                // lenient reader would differ (`[1,]`, `{"a":}`, `"\"`)
                let marks: Vec<usize> = chars
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| matches!(c, '[' | ']' | '{' | '}' | ',' | ':' | '"'))
                    .map(|(i, _)| i)
                    .collect();
                let i = match op {
                    3.. if !marks.is_empty() => marks[at.index(marks.len())] + usize::from(op >= 5),
                    _ => at.index(chars.len() + 1),
                };
                let op = if op >= 3 { 0 } else { op };
                match op {
                    0 => chars.insert(i, c),
                    1 if i < chars.len() => { chars.remove(i); }
                    _ if i < chars.len() => chars[i] = c,
                    _ => chars.push(c),
                }
            }
            let text: String = chars.into_iter().collect();
            let ours = parse(&text);
            let theirs = serde_json::from_str::<NoDup>(&text);
            match (&ours, &theirs) {
                (Ok(n), Ok(NoDup(j))) => prop_assert!(same(n, j), "{text}"),
                (Err(_), Err(_)) => {}
                // an exponent past f64's range is valid JSON that serde_json refuses
                (Ok(_), Err(e)) if e.to_string().contains("out of range") => {}
                _ => prop_assert!(false, "ours {:?}, serde_json {:?} on {text:?}", ours.as_ref().err(), theirs.as_ref().err().map(|e| e.to_string())),
            }
        }
    }
}
