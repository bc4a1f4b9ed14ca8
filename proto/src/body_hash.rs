//! The v10 `computed_body_hash`, exactly as the Python SDK computes it.
//!
//! `body_hash = sha3_256_hex("".join(sha3_256_hex(str(body[f])) for f in required_hash_fields))`,
//! FIPS-202 SHA3-256, lowercase hex without `0x`. With no hashed field it is the constant
//! `sha3_256("")`.

use serde_json::{Map, Value};
use sha3::{Digest, Sha3_256};

use crate::{ProtoError, pyrepr::py_str};

/// `sha3_256("")`: the body hash of every synapse that hashes no field.
pub const EMPTY_BODY_HASH: &str = "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a";

/// The SDK's `get_hash`: lowercase hex SHA3-256 of the UTF-8 text.
pub fn sha3_hex(text: &str) -> String {
    hex::encode(Sha3_256::digest(text.as_bytes()))
}

/// Body hash from the Python `str()` of each hashed field's value, in order.
pub fn body_hash_from_strs<S: AsRef<str>>(values: &[S]) -> String {
    if values.is_empty() {
        return EMPTY_BODY_HASH.to_string();
    }
    let mut joined = String::with_capacity(64 * values.len());
    for v in values {
        joined.push_str(&sha3_hex(v.as_ref()));
    }
    sha3_hex(&joined)
}

/// Body hash of a JSON body for the given hashed fields. A missing field hashes as Python's
/// `str(None)`, which is what pydantic's `model_dump()` holds for an unset optional field.
pub fn body_hash(body: &Map<String, Value>, hash_fields: &[&str]) -> Result<String, ProtoError> {
    if hash_fields.is_empty() {
        return Ok(EMPTY_BODY_HASH.to_string());
    }
    let mut strs = Vec::with_capacity(hash_fields.len());
    for f in hash_fields {
        let v = body.get(*f).unwrap_or(&Value::Null);
        strs.push(py_str(v));
    }
    Ok(body_hash_from_strs(&strs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_sha3_of_nothing() {
        assert_eq!(sha3_hex(""), EMPTY_BODY_HASH);
        assert_eq!(body_hash_from_strs::<&str>(&[]), EMPTY_BODY_HASH);
    }
}
