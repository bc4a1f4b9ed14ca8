//! Building the axon's HTTP answers the way a Python dendrite reads them.
//!
//! The Python dendrite takes the status from the lowercase `bt_header_axon_status_code` /
//! `…status_message` headers (or from `axon.status_code` in a 200 body) and, on an error, the
//! message from the JSON body's `message`. `aiohttp`'s `response.json()` insists on
//! `content-type: application/json`, so every answer carries it.

use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use orchestra_proto::pyrepr::PyFloat;
use orchestra_proto::wire::{Envelope, Synapse, TerminalInfo};

/// Header values longer than this are cut: aiohttp refuses header lines over 8190 bytes.
const MAX_HEADER_MESSAGE: usize = 1024;

/// Names of one side's `bt_header_{side}_*` headers, built at compile time.
struct TerminalNames {
    status_code: HeaderName,
    status_message: HeaderName,
    process_time: HeaderName,
    ip: HeaderName,
    port: HeaderName,
    version: HeaderName,
    nonce: HeaderName,
    uuid: HeaderName,
    hotkey: HeaderName,
    signature: HeaderName,
}

static AXON: TerminalNames = TerminalNames {
    status_code: HeaderName::from_static("bt_header_axon_status_code"),
    status_message: HeaderName::from_static("bt_header_axon_status_message"),
    process_time: HeaderName::from_static("bt_header_axon_process_time"),
    ip: HeaderName::from_static("bt_header_axon_ip"),
    port: HeaderName::from_static("bt_header_axon_port"),
    version: HeaderName::from_static("bt_header_axon_version"),
    nonce: HeaderName::from_static("bt_header_axon_nonce"),
    uuid: HeaderName::from_static("bt_header_axon_uuid"),
    hotkey: HeaderName::from_static("bt_header_axon_hotkey"),
    signature: HeaderName::from_static("bt_header_axon_signature"),
};

static DENDRITE: TerminalNames = TerminalNames {
    status_code: HeaderName::from_static("bt_header_dendrite_status_code"),
    status_message: HeaderName::from_static("bt_header_dendrite_status_message"),
    process_time: HeaderName::from_static("bt_header_dendrite_process_time"),
    ip: HeaderName::from_static("bt_header_dendrite_ip"),
    port: HeaderName::from_static("bt_header_dendrite_port"),
    version: HeaderName::from_static("bt_header_dendrite_version"),
    nonce: HeaderName::from_static("bt_header_dendrite_nonce"),
    uuid: HeaderName::from_static("bt_header_dendrite_uuid"),
    hotkey: HeaderName::from_static("bt_header_dendrite_hotkey"),
    signature: HeaderName::from_static("bt_header_dendrite_signature"),
};

static NAME: HeaderName = HeaderName::from_static("name");
static TIMEOUT: HeaderName = HeaderName::from_static("timeout");
static COMPUTED_BODY_HASH: HeaderName = HeaderName::from_static("computed_body_hash");
static JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A header value from text that may hold anything: characters a header cannot carry become
/// `?`, and the text is cut to a length every client accepts.
pub(crate) fn text_value(s: &str) -> HeaderValue {
    if s.len() <= MAX_HEADER_MESSAGE
        && let Ok(v) = HeaderValue::from_str(s)
    {
        return v;
    }
    let clean: String =
        s.chars().take(MAX_HEADER_MESSAGE).map(|c| if c == ' ' || c.is_ascii_graphic() { c } else { '?' }).collect();
    HeaderValue::from_str(&clean).unwrap_or(HeaderValue::from_static("?"))
}

/// A float as Python prints it (always a valid header value).
fn float_value(v: f64) -> HeaderValue {
    text_value(PyFloat::new(v).as_str())
}

fn put_str(h: &mut HeaderMap, name: &HeaderName, v: &Option<String>) {
    // Values that came from the request body and cannot be a header are left out, as
    // the SDK's to_headers would have failed on them.
    if let Some(v) = v
        && let Ok(v) = HeaderValue::from_str(v)
    {
        h.insert(name.clone(), v);
    }
}

static STATUS_200: HeaderValue = HeaderValue::from_static("200");
static SUCCESS: HeaderValue = HeaderValue::from_static("Success");

fn put_terminal(h: &mut HeaderMap, n: &TerminalNames, t: &TerminalInfo) {
    // The success values are static (no allocation on the common path).
    match t.status_code {
        Some(200) => {
            h.insert(n.status_code.clone(), STATUS_200.clone());
        }
        Some(v) => {
            h.insert(n.status_code.clone(), HeaderValue::from(v));
        }
        None => {}
    }
    match t.status_message.as_deref() {
        Some("Success") => {
            h.insert(n.status_message.clone(), SUCCESS.clone());
        }
        Some(v) => {
            h.insert(n.status_message.clone(), text_value(v));
        }
        None => {}
    }
    if let Some(v) = t.process_time {
        h.insert(n.process_time.clone(), float_value(v));
    }
    put_str(h, &n.ip, &t.ip);
    if let Some(v) = t.port {
        h.insert(n.port.clone(), HeaderValue::from(v));
    }
    if let Some(v) = t.version {
        h.insert(n.version.clone(), HeaderValue::from(v));
    }
    if let Some(v) = t.nonce {
        h.insert(n.nonce.clone(), HeaderValue::from(v));
    }
    put_str(h, &n.uuid, &t.uuid);
    put_str(h, &n.hotkey, &t.hotkey);
    put_str(h, &n.signature, &t.signature);
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// An error answer: `{"message": …}` plus the status headers.
pub(crate) fn error(status: u16, message: &str, name: &str, start: Instant) -> Response {
    let status = status_code(status);
    let body = serde_json::json!({ "message": message }).to_string();
    let mut h = HeaderMap::with_capacity(8);
    h.insert(header::CONTENT_TYPE, JSON.clone());
    h.insert(NAME.clone(), text_value(name));
    h.insert(AXON.status_code.clone(), HeaderValue::from(status.as_u16()));
    h.insert(AXON.status_message.clone(), text_value(message));
    h.insert(AXON.process_time.clone(), float_value(start.elapsed().as_secs_f64()));
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    *resp.headers_mut() = h;
    resp
}

/// The success answer: the envelope (the request's, with the handler's body) with
/// `axon.status_code = 200`, `status_message = "Success"` and the process time, in the body and
/// in the headers.
///
/// `size_hint` is the request body's length: the answer is usually about as long (an envelope
/// echoing the request's fields), so the buffer is sized once instead of grown four times.
pub(crate) fn success<S: Synapse>(env: &mut Envelope<S>, start: Instant, size_hint: usize) -> Response {
    let process_time = start.elapsed().as_secs_f64();
    env.axon.status_code = Some(200);
    env.axon.status_message = Some("Success".to_string());
    env.axon.process_time = Some(process_time);
    // Responses bind the hashed fields of the answer, as the SDK's to_headers does; nothing
    // checks it, so a field Python cannot print only costs the header.
    let hash = env.body_hash().ok();
    let mut body = Vec::with_capacity(size_hint.saturating_add(512).clamp(1024, 1 << 20));
    let body = match serde_json::to_writer(&mut body, env) {
        Ok(()) => body,
        Err(e) => {
            return error(500, &format!("Internal Server Error: cannot serialize the response: {e}"), S::NAME, start);
        }
    };
    let mut h = HeaderMap::with_capacity(24);
    h.insert(header::CONTENT_TYPE, JSON.clone());
    h.insert(NAME.clone(), HeaderValue::from_static(S::NAME));
    h.insert(TIMEOUT.clone(), float_value(env.timeout));
    put_terminal(&mut h, &AXON, &env.axon);
    put_terminal(&mut h, &DENDRITE, &env.dendrite);
    if let Some(hash) = hash
        && let Ok(v) = HeaderValue::from_str(&hash)
    {
        h.insert(COMPUTED_BODY_HASH.clone(), v);
    }
    let mut resp = Response::new(Body::from(body));
    *resp.headers_mut() = h;
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_become_safe_header_values() {
        assert_eq!(text_value("plain text").to_str().ok(), Some("plain text"));
        assert_eq!(text_value("bad\nline é").to_str().ok(), Some("bad?line ?"));
        assert_eq!(text_value(&"x".repeat(5000)).len(), MAX_HEADER_MESSAGE);
    }

    #[test]
    fn error_has_status_headers_and_json() {
        let r = error(403, "Forbidden. Key is blacklisted: no.", "EchoSynapse", Instant::now());
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let h = r.headers();
        assert_eq!(h.get("bt_header_axon_status_code").and_then(|v| v.to_str().ok()), Some("403"));
        assert_eq!(h.get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));
        assert!(h.get("bt_header_axon_process_time").is_some());
    }
}
