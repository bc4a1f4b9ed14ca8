//! RFC 8785 canonical JSON (JCS) and the blake3 digests Orchestra builds on it.
//!
//! Receipts bind requests and responses by digest, so both sides must hash the same bytes for
//! the same JSON value whatever the key order or number formatting of the producer.

use serde::Serialize;

use crate::ProtoError;

/// A 32-byte blake3 digest, shown as `0x`-prefixed lowercase hex on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
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

/// Digest of a subnet request body (what a receipt's `request_digest` holds).
pub fn request_digest<T: Serialize>(v: &T) -> Result<Digest, ProtoError> {
    digest_in(contexts::REQUEST, v)
}

/// Digest of a subnet response body.
pub fn response_digest<T: Serialize>(v: &T) -> Result<Digest, ProtoError> {
    digest_in(contexts::RESPONSE, v)
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

    #[test]
    fn digest_hex_round_trip() {
        let d = request_digest(&json!([1])).expect("d");
        assert_eq!(Digest::from_hex(&d.to_hex()).expect("hex"), d);
        assert!(Digest::from_hex("0x12").is_err());
    }
}
