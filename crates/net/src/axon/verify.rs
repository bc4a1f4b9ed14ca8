//! Who sent a request, and may we believe it: parsing the v10 and `btauth/1` headers, the
//! freshness window, the receiver binding, the sr25519 signature and the replay cache.
//!
//! Staged so the expensive part runs late: [`Claim::parse`] and [`Claim::precheck`] cost no
//! cryptography (a malformed, stale or misaddressed request is refused before its body is even
//! read), then [`Claim::verify`] checks the signature (about 47 µs), and [`Proof::admit`] records
//! the nonce only once the signature holds and the route has matched the body to the signed
//! hash, so neither forged requests nor tampered copies of genuine ones can burn a real
//! sender's nonce.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, Method};
use orchestra_keys::VerifyingKey;
use orchestra_proto::btauth::{self, AuthHeaders};
use orchestra_proto::wire::{dendrite_message, headers as h, status};

use super::{AuthScheme, Reject, Shared};
use crate::replay::ReplayKey;

const SCHEME_V10: u8 = 0;
/// How much longer than its acceptance window a nonce stays in the replay cache.
const RETENTION_MARGIN: Duration = Duration::from_secs(1);
const SCHEME_BTAUTH: u8 = 1;

/// The v10 headers the checks need, borrowed from the request.
#[derive(Debug)]
pub(crate) struct V10<'a> {
    hotkey: Option<&'a str>,
    nonce: Option<u64>,
    uuid: Option<&'a str>,
    signature: Option<&'a str>,
    body_hash: Option<&'a str>,
    axon_hotkey: Option<&'a str>,
}

/// What a request claims about its sender, before any check.
#[derive(Debug)]
pub(crate) enum Claim<'a> {
    V10(V10<'a>),
    BtAuth(AuthHeaders),
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<Option<&'a str>, Reject> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| Reject::new(400, status::bad_headers(&format!("(`{name}` is not visible ASCII)")))),
    }
}

fn number<T: std::str::FromStr>(headers: &HeaderMap, name: &'static str) -> Result<Option<T>, Reject> {
    match header(headers, name)? {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| Reject::new(400, status::bad_headers(&format!("(`{name}` = {s:?} is not a number)")))),
    }
}

/// The request's `timeout` header, in seconds (400 when it is not a float).
pub(crate) fn timeout_header(headers: &HeaderMap) -> Result<Option<f64>, Reject> {
    number::<f64>(headers, h::TIMEOUT)
}

/// Decodes `0x` + 128 hex digits (the `0x` is optional, as btauth's verifier allows).
fn signature_bytes(sig: &str) -> Result<[u8; 64], String> {
    let digits = sig.strip_prefix("0x").unwrap_or(sig);
    let mut out = [0u8; 64];
    hex::decode_to_slice(digits, &mut out).map_err(|e| format!("signature is not 0x + 128 hex digits ({e})"))?;
    Ok(out)
}

fn not_verified(reason: &str) -> Reject {
    Reject::new(401, status::not_verified(reason))
}

impl<'a> Claim<'a> {
    /// Reads the headers of either dialect. A request with any `X-Bittensor-*` auth header is
    /// `btauth/1`; anything else is v10. Unparseable values are 400, like the SDK's header
    /// parsing; missing v10 fields are left to [`Claim::precheck`] (401, like `default_verify`).
    pub(crate) fn parse(headers: &'a HeaderMap) -> Result<Claim<'a>, Reject> {
        if headers.contains_key(btauth::HEADER_VERSION)
            || headers.contains_key(btauth::HEADER_SIGNATURE)
            || headers.contains_key(btauth::HEADER_HOTKEY)
        {
            let pairs = headers.iter().filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)));
            return match AuthHeaders::parse(pairs) {
                Ok(Some(a)) => Ok(Claim::BtAuth(a)),
                Ok(None) => Err(Reject::new(400, status::bad_headers("(incomplete btauth/1 headers)"))),
                Err(e) => Err(Reject::new(400, status::bad_headers(&format!("({e})")))),
            };
        }
        // Checked for shape only (the SDK casts it too); the time window applies to every version.
        number::<u64>(headers, h::DENDRITE_VERSION)?;
        Ok(Claim::V10(V10 {
            hotkey: header(headers, h::DENDRITE_HOTKEY)?,
            nonce: number(headers, h::DENDRITE_NONCE)?,
            uuid: header(headers, h::DENDRITE_UUID)?,
            signature: header(headers, h::DENDRITE_SIGNATURE)?,
            body_hash: header(headers, h::COMPUTED_BODY_HASH)?,
            axon_hotkey: header(headers, h::AXON_HOTKEY)?,
        }))
    }

    pub(crate) fn scheme(&self) -> AuthScheme {
        match self {
            Claim::V10(_) => AuthScheme::V10,
            Claim::BtAuth(_) => AuthScheme::BtAuth,
        }
    }

    /// The claimed (not yet proven) sender hotkey, for the blacklist.
    pub(crate) fn hotkey(&self) -> Option<&str> {
        match self {
            Claim::V10(v) => v.hotkey,
            Claim::BtAuth(a) => Some(&a.hotkey),
        }
    }

    /// The `computed_body_hash` header a v10 body must match.
    pub(crate) fn body_hash(&self) -> Option<&str> {
        match self {
            Claim::V10(v) => v.body_hash,
            Claim::BtAuth(_) => None,
        }
    }

    /// The checks that need no cryptography: required fields, receiver, freshness.
    pub(crate) fn precheck(&self, shared: &Shared, timeout_s: f64, now_ns: u64) -> Result<Fresh, Reject> {
        let cfg = &shared.cfg;
        match self {
            Claim::V10(v) => {
                if v.hotkey.is_none() {
                    return Err(not_verified("No SS58 formatted address or public key provided."));
                }
                let Some(nonce) = v.nonce else {
                    return Err(not_verified("Missing Nonce"));
                };
                if v.uuid.is_none() {
                    return Err(not_verified("Missing bt_header_dendrite_uuid"));
                }
                if v.signature.is_none() {
                    return Err(not_verified("Missing signature: this axon only accepts signed requests"));
                }
                if v.body_hash.is_none() {
                    return Err(not_verified("Missing computed_body_hash header"));
                }
                if let Some(to) = v.axon_hotkey
                    && to != shared.hotkey
                {
                    return Err(not_verified(&format!(
                        "Request is addressed to hotkey {to}, but this axon's hotkey is {}",
                        shared.hotkey
                    )));
                }
                // The SDK's window: 4 s + the request's timeout, with that term capped because
                // the timeout header is not signed. Plus a bound the SDK lacks: the future.
                let window =
                    cfg.allowed_delta + Duration::from_secs_f64(timeout_s.min(cfg.max_timeout_term.as_secs_f64()));
                let window_ns = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
                if nonce.saturating_add(window_ns) <= now_ns {
                    return Err(not_verified(&format!(
                        "Nonce is too old: acceptable delta is {:.2} seconds but request was {:.2} seconds old",
                        window.as_secs_f64(),
                        (now_ns - nonce) as f64 / 1e9
                    )));
                }
                let skew_ns = u64::try_from(cfg.max_future_skew.as_nanos()).unwrap_or(u64::MAX);
                if nonce > now_ns.saturating_add(skew_ns) {
                    return Err(not_verified(&format!(
                        "Nonce is {:.2} seconds in the future; the allowed clock skew is {:.2} seconds",
                        (nonce - now_ns) as f64 / 1e9,
                        cfg.max_future_skew.as_secs_f64()
                    )));
                }
                Ok(Fresh { nonce, deadline_ns: nonce.saturating_add(window_ns) })
            }
            Claim::BtAuth(a) => {
                match a.receiver.as_deref() {
                    None => {
                        return Err(not_verified(
                            "missing X-Bittensor-Receiver: this axon requires receiver-bound requests",
                        ));
                    }
                    Some(r) if r != shared.hotkey => {
                        return Err(not_verified(&format!(
                            "request was signed for receiving hotkey {r}, but this axon's hotkey is {}",
                            shared.hotkey
                        )));
                    }
                    Some(_) => {}
                }
                let max_age = u64::try_from(cfg.btauth_max_age.as_nanos()).unwrap_or(u64::MAX);
                let skew = u64::try_from(cfg.btauth_max_skew.as_nanos()).unwrap_or(u64::MAX);
                btauth::fresh(a.nonce_ns, now_ns, max_age, skew).map_err(|e| not_verified(&e))?;
                // fresh() still accepts a nonce exactly max_age old.
                Ok(Fresh { nonce: a.nonce_ns, deadline_ns: a.nonce_ns.saturating_add(max_age).saturating_add(1) })
            }
        }
    }

    /// The signature. Returns what [`Proof::admit`] needs to record the nonce once the body
    /// has been checked too.
    pub(crate) async fn verify(
        &self,
        shared: &Shared,
        method: &Method,
        path_and_query: &str,
        body: &[u8],
        fresh: Fresh,
    ) -> Result<Proof, Reject> {
        let cfg = &shared.cfg;
        let nonce = fresh.nonce;
        let (hotkey, sig_text, message, replay_key, expires) = match self {
            Claim::V10(v) => {
                let (Some(hotkey), Some(uuid), Some(sig), Some(body_hash)) =
                    (v.hotkey, v.uuid, v.signature, v.body_hash)
                else {
                    return Err(not_verified("incomplete v10 headers"));
                };
                // Our own hotkey as receiver, and the header hash: the body is bound to that
                // hash later, when it is parsed.
                let message = dendrite_message(nonce, hotkey, &shared.hotkey, uuid, body_hash);
                let key = shared.replay.key(SCHEME_V10, hotkey, uuid, nonce);
                // Kept for the widest window any timeout header could claim.
                let retention = cfg.allowed_delta + cfg.max_timeout_term + RETENTION_MARGIN;
                let expires = nonce.saturating_add(u64::try_from(retention.as_nanos()).unwrap_or(u64::MAX));
                (hotkey, sig, message, key, expires)
            }
            Claim::BtAuth(a) => {
                let message = btauth::payload(
                    method.as_str(),
                    path_and_query,
                    body,
                    a.nonce_ns,
                    &a.hotkey,
                    a.receiver.as_deref(),
                );
                let key = shared.replay.key(SCHEME_BTAUTH, &a.hotkey, "", nonce);
                let retention = cfg.btauth_max_age + RETENTION_MARGIN;
                let expires = nonce.saturating_add(u64::try_from(retention.as_nanos()).unwrap_or(u64::MAX));
                (a.hotkey.as_str(), a.signature.as_str(), message, key, expires)
            }
        };
        let sig = signature_bytes(sig_text).map_err(|e| not_verified(&e))?;
        let (vk, cached) =
            shared.keys.get(hotkey).map_err(|e| not_verified(&format!("cannot use hotkey {hotkey:?}: {e}")))?;
        let (ok, message) = shared.batcher.verify(Arc::clone(&vk), message.into_bytes(), sig).await;
        if !ok {
            return Err(not_verified(&match self {
                Claim::V10(_) => {
                    format!("Signature mismatch with {} and {sig_text}", String::from_utf8_lossy(&message))
                }
                Claim::BtAuth(_) => "signature does not verify against the claimed hotkey".to_string(),
            }));
        }
        if !cached {
            shared.keys.remember(hotkey, Arc::clone(&vk));
        }
        Ok(Proof { vk, replay_key, deadline_ns: fresh.deadline_ns, expires, nonce })
    }
}

/// A nonce inside its window, and the instant that window closes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fresh {
    pub(crate) nonce: u64,
    deadline_ns: u64,
}

/// A verified signature whose nonce is not yet recorded.
pub(crate) struct Proof {
    pub(crate) vk: Arc<VerifyingKey>,
    replay_key: ReplayKey,
    /// The nonce must be recorded before this…
    deadline_ns: u64,
    /// …and is remembered until this, a margin later.
    expires: u64,
    nonce: u64,
}

impl Proof {
    /// Records the nonce; 401 when it was seen before. Called after the body hash check, so a
    /// copy of a genuine request with a tampered body cannot burn the genuine request's nonce.
    ///
    /// The window is checked again with the current time: otherwise a replay that passed the
    /// first check just before the window closed could trickle its body until the original's
    /// entry had expired from the cache. Entries outlive the window by a margin, so between
    /// this check and the insert nothing can expire under us.
    pub(crate) fn admit(&self, shared: &Shared, hotkey: &str) -> Result<(), Reject> {
        let now = crate::now_ns();
        if now >= self.deadline_ns {
            return Err(not_verified(&format!(
                "Nonce is too old: its window closed {:.2} seconds before the request was complete",
                (now - self.deadline_ns) as f64 / 1e9
            )));
        }
        if !shared.replay.insert(self.replay_key, self.expires, now) {
            return Err(not_verified(&format!("Nonce {} was already used by {hotkey}: replayed request", self.nonce)));
        }
        Ok(())
    }
}
