//! RFC 8785 canonical JSON (JCS) and the blake3 digests Orchestra builds on it.
//!
//! Receipts bind requests and responses by digest, so both sides must hash the same bytes for
//! the same JSON value whatever the key order or number formatting of the producer.

use std::cmp::Ordering;

use serde::Serialize;
use serde_json::Value;

use crate::ProtoError;

/// A 32-byte blake3 digest, shown as `0x`-prefixed lowercase hex on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub fn to_hex(&self) -> String {
        // One allocation, no formatting machinery (every receipt leaf writes two of these).
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(66);
        s.push_str("0x");
        for b in self.0 {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        s
    }
    pub fn from_hex(s: &str) -> Result<Self, ProtoError> {
        let h = s.strip_prefix("0x").unwrap_or(s);
        let mut out = [0u8; 32];
        hex::decode_to_slice(h, &mut out).map_err(|e| ProtoError::Invalid(format!("digest `{s}`: {e}")))?;
        Ok(Digest(out))
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// Canonical JSON bytes (RFC 8785) of any serializable value.
pub fn canonical_bytes<T: Serialize>(v: &T) -> Result<Vec<u8>, ProtoError> {
    serde_json_canonicalizer::to_vec(v).map_err(|e| ProtoError::Canonical(e.to_string()))
}

/// blake3 over canonical JSON under a domain-separation context, so a digest of one kind can
/// never be confused with a digest of another.
pub fn digest_in<T: Serialize>(context: &str, v: &T) -> Result<Digest, ProtoError> {
    let bytes = canonical_bytes(v)?;
    let mut h = blake3::Hasher::new_derive_key(context);
    h.update(&bytes);
    Ok(Digest(*h.finalize().as_bytes()))
}

/// Digest contexts (blake3 `derive_key` strings). Part of the protocol: changing one changes
/// every digest of that kind.
pub mod contexts {
    pub const REQUEST: &str = "orchestra 2026-11 request digest v1";
    pub const RESPONSE: &str = "orchestra 2026-11 response digest v1";
    pub const RESULT: &str = "orchestra 2026-11 result digest v1";
    pub const RECEIPT_LEAF: &str = "orchestra 2026-11 receipt leaf v1";
    pub const MERKLE_NODE: &str = "orchestra 2026-11 merkle node v1";
    pub const MERKLE_EMPTY: &str = "orchestra 2026-11 merkle empty v1";
    pub const COMMITMENT: &str = "orchestra 2026-11 miner commitment v1";
    pub const SYNAPSE_REQUEST: &str = "orchestra 2026-11 synapse request v1";
}

/// Digest of a subnet request body (what a receipt's `request_digest` holds). A JSON value
/// always has a canonical form, so this cannot fail; the `Result` keeps the callers' shape.
pub fn request_digest(v: &Value) -> Result<Digest, ProtoError> {
    Ok(digest_value(contexts::REQUEST, v))
}

/// Digest of a subnet response body (see [`request_digest`]).
pub fn response_digest(v: &Value) -> Result<Digest, ProtoError> {
    Ok(digest_value(contexts::RESPONSE, v))
}

/// Canonical JSON bytes (RFC 8785) of a JSON value, written straight out: the same bytes as
/// [`canonical_bytes`] (a property test holds them equal) without its per-member buffers, key
/// re-parsing and copies of every nested value into its parent (most of a validator's
/// verification time went there).
pub fn value_bytes(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(v, &mut out);
    out
}

/// [`digest_in`] for a JSON value: its canonical bytes go straight into blake3.
pub fn digest_value(context: &str, v: &Value) -> Digest {
    let mut sink = HashSink::new(context);
    write_value(v, &mut sink);
    sink.finish()
}

/// Where canonical bytes go.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Bytes gathered before a blake3 update: blake3 hashes several 1 KiB chunks at once (SIMD)
/// only when one update holds them.
const HASH_BUF: usize = 16 * 1024;

/// Canonical bytes written straight into blake3 (through a buffer).
pub(crate) struct HashSink {
    hasher: blake3::Hasher,
    buf: Vec<u8>,
}

impl HashSink {
    /// A hash under the `derive_key` context.
    pub(crate) fn new(context: &str) -> HashSink {
        HashSink { hasher: blake3::Hasher::new_derive_key(context), buf: Vec::with_capacity(HASH_BUF) }
    }

    fn flush(&mut self) {
        self.hasher.update(&self.buf);
        self.buf.clear();
    }

    /// The digest of every byte put.
    pub(crate) fn finish(mut self) -> Digest {
        self.flush();
        Digest(*self.hasher.finalize().as_bytes())
    }
}

/// Pieces this long go to blake3 as they are, not through the buffer (the copy costs more than
/// the short update before them; several whole chunks in one update still hash at once).
const HASH_DIRECT: usize = 4 * 1024;

impl Sink for HashSink {
    fn put(&mut self, bytes: &[u8]) {
        if bytes.len() >= HASH_DIRECT {
            self.flush();
            self.hasher.update(bytes);
            return;
        }
        if self.buf.len() + bytes.len() > HASH_BUF {
            self.flush();
        }
        self.buf.extend_from_slice(bytes);
    }
}

pub(crate) fn write_value<S: Sink>(v: &Value, out: &mut S) {
    match v {
        Value::Null => out.put(b"null"),
        Value::Bool(true) => out.put(b"true"),
        Value::Bool(false) => out.put(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(a) => {
            out.put(b"[");
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.put(b",");
                }
                write_value(x, out);
            }
            out.put(b"]");
        }
        Value::Object(m) => {
            out.put(b"{");
            // RFC 8785 orders members by their names' UTF-16 code units. A serde_json map is
            // usually already in that order (sorted by UTF-8 bytes, which agrees except for
            // characters past U+FFFF), so sorting is only paid when it is not.
            let sorted = m.keys().zip(m.keys().skip(1)).all(|(a, b)| utf16_cmp(a, b) == Ordering::Less);
            let mut first = true;
            let mut member = |k: &str, x: &Value, out: &mut S| {
                if !first {
                    out.put(b",");
                }
                first = false;
                write_string(k, out);
                out.put(b":");
                write_value(x, out);
            };
            if sorted {
                for (k, x) in m {
                    member(k, x, out);
                }
            } else {
                let mut members: Vec<(&String, &Value)> = m.iter().collect();
                members.sort_by(|a, b| utf16_cmp(a.0, b.0));
                for (k, x) in members {
                    member(k, x, out);
                }
            }
            out.put(b"}");
        }
    }
}

/// Order of two strings by UTF-16 code units.
fn utf16_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() { a.as_bytes().cmp(b.as_bytes()) } else { a.encode_utf16().cmp(b.encode_utf16()) }
}

/// A number as ECMAScript writes a double (RFC 8785 §3.2.2.3), as `serde_json_canonicalizer`
/// does: integers too are doubles. A `Value` never holds a non-finite float.
fn write_number<S: Sink>(n: &serde_json::Number, out: &mut S) {
    write_f64(n.as_f64().unwrap_or(0.0), out);
}

/// An unsigned integer as [`write_number`] writes it as a JSON number (a double).
pub(crate) fn write_u64<S: Sink>(n: u64, out: &mut S) {
    write_f64(n as f64, out);
}

fn write_f64<S: Sink>(f: f64, out: &mut S) {
    let mut buf = ryu_js::Buffer::new();
    out.put(buf.format_finite(f).as_bytes());
}

/// A JSON string with RFC 8785's escapes: `"` and `\`, the short forms of backspace, tab,
/// newline, form feed and carriage return, `\u00xx` (lowercase) for the other controls; nothing
/// else escaped.
pub(crate) fn write_string<S: Sink>(s: &str, out: &mut S) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.put(b"\"");
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(at) = next_escape(bytes, start) {
        let b = bytes[at];
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            _ => b"",
        };
        if start < at {
            out.put(&bytes[start..at]);
        }
        if short.is_empty() {
            out.put(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        } else {
            out.put(short);
        }
        start = at + 1;
    }
    if start < bytes.len() {
        out.put(&bytes[start..]);
    }
    out.put(b"\"");
}

/// The index of the first byte at or after `from` that is escaped in a JSON string (a control,
/// `"` or `\`), read eight bytes at a time: the lowest flagged byte of a word is exactly the
/// first such byte in it (see [`escapes`]).
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    let mut words = rest.chunks_exact(8);
    for (k, w) in words.by_ref().enumerate() {
        let m = escapes(u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]));
        if m != 0 {
            return Some(from + 8 * k + (m.trailing_zeros() / 8) as usize);
        }
    }
    let tail = words.remainder();
    let at = rest.len() - tail.len();
    tail.iter().position(|&b| b < 0x20 || b == b'"' || b == b'\\').map(|k| from + at + k)
}

/// Nonzero when any of the eight bytes of `w` (little-endian) is escaped in a JSON string: a
/// control (< 0x20), `"` or `\`; the lowest set bit is the high bit of the first such byte (the
/// classic "has a byte less than n" (n <= 128) and "has a zero byte" word tests: a borrow can
/// flag a byte above a flagged one, never below, so only higher bits may be spurious).
fn escapes(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let less_than_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    less_than_space | zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_and_number_format_do_not_matter() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b": 1.0, "a": [1, 2e0, "x"]}"#).expect("json");
        let b = json!({"a": [1, 2, "x"], "b": 1});
        assert_eq!(canonical_bytes(&a).expect("c"), canonical_bytes(&b).expect("c"));
        assert_eq!(canonical_bytes(&b).expect("c"), br#"{"a":[1,2,"x"],"b":1}"#);
        assert_eq!(request_digest(&a).expect("d"), request_digest(&b).expect("d"));
    }

    #[test]
    fn rfc8785_number_and_string_rules() {
        let v = json!({"n": 1e21, "s": "\u{20ac}\n", "z": -0.0, "small": 1e-7});
        let c = String::from_utf8(canonical_bytes(&v).expect("c")).expect("utf8");
        assert_eq!(c, r#"{"n":1e+21,"s":"€\n","small":1e-7,"z":0}"#);
    }

    #[test]
    fn contexts_separate_domains() {
        let v = json!({"x": 1});
        assert_ne!(request_digest(&v).expect("d"), response_digest(&v).expect("d"));
    }

    /// Any JSON value: keys and strings with controls, quotes, backslashes, characters on both
    /// sides of U+FFFF (where UTF-8 and UTF-16 orders differ), numbers of every shape.
    fn any_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let text = proptest::collection::vec(
            prop_oneof![
                Just('a'),
                Just('B'),
                Just('"'),
                Just('\\'),
                Just('/'),
                Just('\u{0}'),
                Just('\u{1f}'),
                Just('\u{7f}'),
                Just('\n'),
                Just('\t'),
                Just('\u{8}'),
                Just('\u{c}'),
                Just('\r'),
                Just('é'),
                Just('\u{e000}'),
                Just('\u{ffff}'),
                Just('\u{10000}'),
                Just('😀'),
                any::<char>(),
            ],
            0..8,
        )
        .prop_map(|cs| cs.into_iter().collect::<String>());
        let number = prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            (-30i32..30).prop_map(|e| Value::from(1.5 * 10f64.powi(e))),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number,
            text.clone().prop_map(Value::String)
        ];
        leaf.prop_recursive(4, 64, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((text.clone(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn value_bytes_are_the_canonicalizers_bytes(v in any_value()) {
            proptest::prop_assert_eq!(value_bytes(&v), canonical_bytes(&v).expect("canonical"));
            proptest::prop_assert_eq!(digest_value(contexts::RESPONSE, &v), digest_in(contexts::RESPONSE, &v).expect("digest"));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Strings long enough for the eight-bytes-at-a-time scan, with the escaped bytes (and
        /// bytes next to them in value: 0x1f/0x20, 0x21/0x23, 0x5b/0x5d, 0x7f, 0x80+) anywhere.
        #[test]
        fn long_strings_escape_as_the_canonicalizer_does(
            cs in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => proptest::prelude::Just('a'),
                    1 => proptest::prelude::Just('"'),
                    1 => proptest::prelude::Just('\\'),
                    1 => proptest::prelude::Just('\u{0}'),
                    1 => proptest::prelude::Just('\u{1f}'),
                    1 => proptest::prelude::Just(' '),
                    1 => proptest::prelude::Just('!'),
                    1 => proptest::prelude::Just('#'),
                    1 => proptest::prelude::Just('['),
                    1 => proptest::prelude::Just(']'),
                    1 => proptest::prelude::Just('\u{7f}'),
                    1 => proptest::prelude::Just('\n'),
                    1 => proptest::prelude::Just('é'),
                    1 => proptest::prelude::Just('😀'),
                    1 => proptest::prelude::any::<char>(),
                ],
                0..80,
            ),
        ) {
            let v = Value::String(cs.into_iter().collect());
            proptest::prop_assert_eq!(value_bytes(&v), canonical_bytes(&v).expect("canonical"));
        }
    }

    #[test]
    fn every_byte_value_is_escaped_as_the_canonicalizer_does() {
        // Each ASCII byte at each offset of a 70-byte string (in and around the blocks tested
        // at once).
        for b in 0u8..0x80 {
            for at in 0..70 {
                let mut t = vec![b'x'; 70];
                t[at] = b;
                let v = Value::String(String::from_utf8(t).expect("ascii"));
                assert_eq!(value_bytes(&v), canonical_bytes(&v).expect("c"), "byte {b:#x} at {at}");
            }
        }
    }

    #[test]
    fn digests_do_not_depend_on_how_the_bytes_are_fed() {
        // Strings on both sides of the direct-to-blake3 size, between short members.
        for n in [0, 1, 1023, 1024, 4095, 4096, 4097, 9000, 16 * 1024, 16 * 1024 + 1, 70_000] {
            let v = json!({"a": "é".repeat(n / 2), "b": [1, "x".repeat(n), {"c": "\"".repeat(n % 5000)}], "d": n});
            assert_eq!(digest_value(contexts::RESPONSE, &v), digest_in(contexts::RESPONSE, &v).expect("d"), "{n}");
        }
    }

    #[test]
    fn value_bytes_of_large_bodies_hash_as_one() {
        // Past the hash buffer: big strings go to blake3 directly, in the right order.
        let v = json!({"a": "x".repeat(40_000), "b": ["y".repeat(20_000), "\n".repeat(9_000)], "c": 1});
        assert_eq!(value_bytes(&v), canonical_bytes(&v).expect("c"));
        assert_eq!(digest_value(contexts::REQUEST, &v), digest_in(contexts::REQUEST, &v).expect("d"));
    }

    #[test]
    fn utf16_order_differs_from_utf8_past_the_bmp() {
        // U+10000 is a surrogate pair (0xD800...) in UTF-16: before U+E000, after it in UTF-8.
        let v = json!({"\u{e000}": 1, "\u{10000}": 2, "a": 3});
        let c = String::from_utf8(value_bytes(&v)).expect("utf8");
        assert_eq!(c, "{\"a\":3,\"\u{10000}\":2,\"\u{e000}\":1}");
        assert_eq!(value_bytes(&v), canonical_bytes(&v).expect("c"));
    }

    #[test]
    fn digest_hex_round_trip() {
        let d = request_digest(&json!([1])).expect("d");
        assert_eq!(d.to_hex(), format!("0x{}", hex::encode(d.0)));
        assert_eq!(Digest::from_hex(&d.to_hex()).expect("hex"), d);
        assert!(Digest::from_hex("0x12").is_err());
    }
}
