//! `btauth/1`, the signed-header scheme of bittensor 11 (`bittensor.http_auth`).
//!
//! The signed payload is newline-joined UTF-8: `btauth/1`, the scheme, the uppercase method, the
//! request target (path and query as sent), lowercase-hex sha256 of the raw body, the decimal
//! nanosecond nonce, the sender ss58 and the receiver ss58 (`-` when unbound).

use sha2::{Digest, Sha256};

use crate::ProtoError;

pub const PROTOCOL: &str = "btauth/1";
pub const VERSION: &str = "1";
pub const SCHEME_SR25519: &str = "sr25519";
pub const NO_RECEIVER: &str = "-";

pub const HEADER_VERSION: &str = "x-bittensor-version";
pub const HEADER_HOTKEY: &str = "x-bittensor-hotkey";
pub const HEADER_RECEIVER: &str = "x-bittensor-receiver";
pub const HEADER_NONCE: &str = "x-bittensor-nonce";
pub const HEADER_CRYPTO: &str = "x-bittensor-crypto";
pub const HEADER_SIGNATURE: &str = "x-bittensor-signature";

/// Default freshness window: a nonce may be this old…
pub const DEFAULT_MAX_AGE_NS: u64 = 10_000_000_000;
/// …or this far in the future.
pub const DEFAULT_ALLOWED_SKEW_NS: u64 = 2_000_000_000;

/// The exact bytes that are signed.
pub fn payload(method: &str, path: &str, body: &[u8], nonce_ns: u64, sender: &str, receiver: Option<&str>) -> String {
    let body_sha = hex::encode(Sha256::digest(body));
    [
        PROTOCOL,
        SCHEME_SR25519,
        &method.to_ascii_uppercase(),
        path,
        &body_sha,
        &nonce_ns.to_string(),
        sender,
        receiver.unwrap_or(NO_RECEIVER),
    ]
    .join("\n")
}

/// The btauth headers of a request, parsed but not yet verified.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthHeaders {
    pub hotkey: String,
    pub nonce_ns: u64,
    pub signature: String,
    pub receiver: Option<String>,
}

impl AuthHeaders {
    /// Parse from `(name, value)` pairs (case-insensitive). `Ok(None)` when the request carries
    /// no btauth headers at all; an error when it carries some but not a usable set.
    pub fn parse<'a, I>(pairs: I) -> Result<Option<Self>, ProtoError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let (mut version, mut hotkey, mut nonce, mut sig, mut receiver, mut crypto) =
            (None, None, None, None, None, None);
        for (name, value) in pairs {
            match name.to_ascii_lowercase().as_str() {
                HEADER_VERSION => version = Some(value),
                HEADER_HOTKEY => hotkey = Some(value),
                HEADER_NONCE => nonce = Some(value),
                HEADER_SIGNATURE => sig = Some(value),
                HEADER_RECEIVER => receiver = Some(value),
                HEADER_CRYPTO => crypto = Some(value),
                _ => {}
            }
        }
        if version.is_none() && hotkey.is_none() && sig.is_none() {
            return Ok(None);
        }
        if version != Some(VERSION) {
            return Err(ProtoError::BadHeader {
                name: "X-Bittensor-Version",
                reason: format!("expected `{VERSION}`, got {:?}", version.unwrap_or("<missing>")),
            });
        }
        if let Some(c) = crypto
            && c != SCHEME_SR25519
        {
            return Err(ProtoError::BadHeader {
                name: "X-Bittensor-Crypto",
                reason: format!("unsupported scheme `{c}`"),
            });
        }
        let hotkey = hotkey.ok_or(ProtoError::MissingHeader("X-Bittensor-Hotkey"))?;
        let nonce = nonce.ok_or(ProtoError::MissingHeader("X-Bittensor-Nonce"))?;
        let sig = sig.ok_or(ProtoError::MissingHeader("X-Bittensor-Signature"))?;
        let nonce_ns = nonce.trim().parse().map_err(|_| ProtoError::BadHeader {
            name: "X-Bittensor-Nonce",
            reason: format!("`{nonce}` is not a nanosecond timestamp"),
        })?;
        Ok(Some(AuthHeaders {
            hotkey: hotkey.to_string(),
            nonce_ns,
            signature: sig.to_string(),
            receiver: receiver.map(str::to_string),
        }))
    }

    /// The header pairs a client sends.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            (HEADER_VERSION, VERSION.to_string()),
            (HEADER_HOTKEY, self.hotkey.clone()),
            (HEADER_NONCE, self.nonce_ns.to_string()),
            (HEADER_SIGNATURE, self.signature.clone()),
        ];
        if let Some(r) = &self.receiver {
            v.push((HEADER_RECEIVER, r.clone()));
        }
        v
    }
}

/// Whether `nonce_ns` is inside the window around `now_ns`.
pub fn fresh(nonce_ns: u64, now_ns: u64, max_age_ns: u64, skew_ns: u64) -> Result<(), String> {
    // Saturating: a hostile nonce near u64::MAX must not overflow (a panic in debug builds, a
    // wrapped "fresh" answer in release builds).
    if nonce_ns.saturating_add(max_age_ns) < now_ns {
        return Err(format!(
            "nonce is {:.3} s old (max {} s)",
            (now_ns - nonce_ns) as f64 / 1e9,
            max_age_ns / 1_000_000_000
        ));
    }
    if nonce_ns > now_ns.saturating_add(skew_ns) {
        return Err(format!(
            "nonce is {:.3} s in the future (max skew {} s)",
            (nonce_ns - now_ns) as f64 / 1e9,
            skew_ns as f64 / 1e9
        ));
    }
    Ok(())
}

#[cfg(test)]
mod fresh_tests {
    use super::fresh;

    /// A hostile nonce at the edge of u64 must be refused, not overflow.
    #[test]
    fn fresh_does_not_overflow_on_hostile_nonces() {
        let now = 1_700_000_000_000_000_000u64;
        assert!(fresh(u64::MAX, now, 60_000_000_000, 5_000_000_000).is_err());
        assert!(fresh(u64::MAX - 1, u64::MAX, u64::MAX, u64::MAX).is_ok());
        assert!(fresh(0, now, u64::MAX, 0).is_ok());
        assert!(fresh(now, now, 60_000_000_000, 5_000_000_000).is_ok());
    }
}
