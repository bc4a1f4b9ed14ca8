//! The Bittensor v10 synapse on the wire: header names, the JSON envelope, the terminal info of
//! both ends, the signed messages, and the SDK's status codes.
//!
//! Headers are handled as plain `(name, value)` text pairs so this crate stays free of any HTTP
//! stack; `crates/net` maps them onto real requests.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::ProtoError;

/// The SDK version we announce in `bt_header_dendrite_version` / axon info: 10.5.0, the version
/// our interop tests run against. `version_as_int` = major·10⁶ + minor·10³ + patch.
pub const SDK_VERSION_AS_INT: u64 = version_as_int(10, 5, 0);
/// Dendrites at or above 7.2.0 get the time-window nonce rule in the SDK.
pub const V_7_2_0: u64 = 7_002_000;
/// The SDK axon accepts a first nonce no older than `4 s + timeout`.
pub const ALLOWED_DELTA_NS: u64 = 4_000_000_000;
/// Default synapse timeout in seconds (the SDK's `Synapse.timeout`).
pub const DEFAULT_TIMEOUT_S: f64 = 12.0;

/// The SDK's `version_as_int`.
pub const fn version_as_int(major: u64, minor: u64, patch: u64) -> u64 {
    major * 1_000_000 + minor * 1_000 + patch
}

/// Header names (lowercase: the Python dendrite matches `bt_header_axon_` case-sensitively).
pub mod headers {
    pub const NAME: &str = "name";
    pub const TIMEOUT: &str = "timeout";
    pub const COMPUTED_BODY_HASH: &str = "computed_body_hash";
    pub const HEADER_SIZE: &str = "header_size";
    pub const TOTAL_SIZE: &str = "total_size";
    pub const AXON_PREFIX: &str = "bt_header_axon_";
    pub const DENDRITE_PREFIX: &str = "bt_header_dendrite_";
    pub const INPUT_OBJ_PREFIX: &str = "bt_header_input_obj_";
    pub const DENDRITE_IP: &str = "bt_header_dendrite_ip";
    pub const DENDRITE_PORT: &str = "bt_header_dendrite_port";
    pub const DENDRITE_VERSION: &str = "bt_header_dendrite_version";
    pub const DENDRITE_NONCE: &str = "bt_header_dendrite_nonce";
    pub const DENDRITE_UUID: &str = "bt_header_dendrite_uuid";
    pub const DENDRITE_HOTKEY: &str = "bt_header_dendrite_hotkey";
    pub const DENDRITE_SIGNATURE: &str = "bt_header_dendrite_signature";
    pub const AXON_IP: &str = "bt_header_axon_ip";
    pub const AXON_PORT: &str = "bt_header_axon_port";
    pub const AXON_HOTKEY: &str = "bt_header_axon_hotkey";
    pub const AXON_STATUS_CODE: &str = "bt_header_axon_status_code";
    pub const AXON_STATUS_MESSAGE: &str = "bt_header_axon_status_message";
    pub const AXON_PROCESS_TIME: &str = "bt_header_axon_process_time";
    pub const AXON_VERSION: &str = "bt_header_axon_version";
    pub const AXON_NONCE: &str = "bt_header_axon_nonce";
    pub const AXON_UUID: &str = "bt_header_axon_uuid";
    pub const AXON_SIGNATURE: &str = "bt_header_axon_signature";
}

/// The SDK's `TerminalInfo`: what one end of a call knows about itself or its peer.
/// Every field is optional on the wire and serialized as `null` when unset, like pydantic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TerminalInfo {
    #[serde(default)]
    pub status_code: Option<i64>,
    #[serde(default)]
    pub status_message: Option<String>,
    #[serde(default)]
    pub process_time: Option<f64>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub version: Option<u64>,
    #[serde(default)]
    pub nonce: Option<u64>,
    #[serde(default)]
    pub uuid: Option<String>,
    #[serde(default)]
    pub hotkey: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
}

impl TerminalInfo {
    /// `bt_header_{prefix}{field}` pairs for every set field, as `Synapse.to_headers()` emits.
    pub fn to_header_pairs(&self, prefix: &str, out: &mut Vec<(String, String)>) {
        let mut push = |k: &str, v: String| out.push((format!("{prefix}{k}"), v));
        if let Some(v) = self.status_code {
            push("status_code", v.to_string());
        }
        if let Some(v) = &self.status_message {
            push("status_message", v.clone());
        }
        if let Some(v) = self.process_time {
            push("process_time", crate::pyrepr::py_float_repr(v));
        }
        if let Some(v) = &self.ip {
            push("ip", v.clone());
        }
        if let Some(v) = self.port {
            push("port", v.to_string());
        }
        if let Some(v) = self.version {
            push("version", v.to_string());
        }
        if let Some(v) = self.nonce {
            push("nonce", v.to_string());
        }
        if let Some(v) = &self.uuid {
            push("uuid", v.clone());
        }
        if let Some(v) = &self.hotkey {
            push("hotkey", v.clone());
        }
        if let Some(v) = &self.signature {
            push("signature", v.clone());
        }
    }

    /// Set one field from its header text (the name without the prefix). Unknown names are
    /// ignored, as the SDK ignores them; unparseable numbers are an error naming the header.
    pub fn set_from_header(&mut self, field: &str, value: &str) -> Result<(), ProtoError> {
        fn num<T: std::str::FromStr>(field: &'static str, v: &str) -> Result<T, ProtoError> {
            v.trim()
                .parse()
                .map_err(|_| ProtoError::BadHeader { name: field, reason: format!("`{v}` is not a number") })
        }
        match field {
            "status_code" => self.status_code = Some(num("status_code", value)?),
            "status_message" => self.status_message = Some(value.to_string()),
            "process_time" => self.process_time = Some(num("process_time", value)?),
            "ip" => self.ip = Some(value.to_string()),
            "port" => self.port = Some(num("port", value)?),
            "version" => self.version = Some(num("version", value)?),
            "nonce" => self.nonce = Some(num("nonce", value)?),
            "uuid" => self.uuid = Some(value.to_string()),
            "hotkey" => self.hotkey = Some(value.to_string()),
            "signature" => self.signature = Some(value.to_string()),
            _ => {}
        }
        Ok(())
    }
}

/// The JSON type of a required field, for its `bt_header_input_obj_<field>` header: the SDK sends
/// `base64(json.dumps(type(value)()))`, an *empty* value of the field's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PyType {
    Str,
    Int,
    Float,
    Bool,
    List,
    Dict,
}

impl PyType {
    /// The header value: base64 of the JSON of an empty value of this type.
    pub fn empty_b64(self) -> String {
        let json = match self {
            PyType::Str => "\"\"",
            PyType::Int => "0",
            PyType::Float => "0.0",
            PyType::Bool => "false",
            PyType::List => "[]",
            PyType::Dict => "{}",
        };
        base64::engine::general_purpose::STANDARD.encode(json)
    }
}

/// A synapse type: its class name (the route), its own fields as a serde struct, the fields
/// the Python class declares without default (sent as `bt_header_input_obj_*`), and the fields
/// bound by the body hash.
pub trait Synapse: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The Python class name; the URL path is `/{NAME}`.
    const NAME: &'static str;
    /// Fields without a default in the Python class, with their types.
    const REQUIRED_FIELDS: &'static [(&'static str, PyType)] = &[];
    /// `required_hash_fields`, in order.
    const HASH_FIELDS: &'static [&'static str] = &[];
}

/// The v10 envelope: the base `Synapse` fields followed by the subclass fields, as
/// `model_dump()` produces them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<T> {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    #[serde(default)]
    pub total_size: u64,
    #[serde(default)]
    pub header_size: u64,
    #[serde(default)]
    pub dendrite: TerminalInfo,
    #[serde(default)]
    pub axon: TerminalInfo,
    #[serde(default)]
    pub computed_body_hash: String,
    #[serde(flatten)]
    pub body: T,
}

fn default_timeout() -> f64 {
    DEFAULT_TIMEOUT_S
}

impl<T: Synapse> Envelope<T> {
    /// A fresh envelope for `body` with the SDK's defaults.
    pub fn new(body: T) -> Self {
        Envelope {
            name: Some(T::NAME.to_string()),
            timeout: DEFAULT_TIMEOUT_S,
            total_size: 0,
            header_size: 0,
            dendrite: TerminalInfo::default(),
            axon: TerminalInfo::default(),
            computed_body_hash: String::new(),
            body,
        }
    }

    /// The body hash of this synapse's hashed fields.
    pub fn body_hash(&self) -> Result<String, ProtoError> {
        if T::HASH_FIELDS.is_empty() {
            return Ok(crate::body_hash::EMPTY_BODY_HASH.to_string());
        }
        let v = serde_json::to_value(&self.body).map_err(|e| ProtoError::Invalid(e.to_string()))?;
        let map = match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        crate::body_hash::body_hash(&map, T::HASH_FIELDS)
    }
}

/// The dendrite's signed request message: `{nonce}.{dendrite_hotkey}.{axon_hotkey}.{uuid}.{body_hash}`.
pub fn dendrite_message(nonce: u64, dendrite_hotkey: &str, axon_hotkey: &str, uuid: &str, body_hash: &str) -> String {
    // Sized once: the axon builds one per request (`format!` would grow it several times).
    let mut m =
        String::with_capacity(20 + 4 + dendrite_hotkey.len() + axon_hotkey.len() + uuid.len() + body_hash.len());
    let _ = std::fmt::Write::write_fmt(&mut m, format_args!("{nonce}"));
    for part in [dendrite_hotkey, axon_hotkey, uuid, body_hash] {
        m.push('.');
        m.push_str(part);
    }
    m
}

/// The axon's message on error responses: `{axon_nonce}.{dendrite_hotkey}.{axon_hotkey}.{axon_uuid}`.
pub fn axon_message(axon_nonce: u64, dendrite_hotkey: &str, axon_hotkey: &str, axon_uuid: &str) -> String {
    format!("{axon_nonce}.{dendrite_hotkey}.{axon_hotkey}.{axon_uuid}")
}

/// The request headers an axon needs, parsed from a v10 request (the SDK's `from_headers`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestHeaders {
    pub name: Option<String>,
    pub timeout: Option<f64>,
    pub computed_body_hash: Option<String>,
    pub dendrite: TerminalInfo,
    pub axon: TerminalInfo,
    /// `bt_header_input_obj_*` values, decoded from base64 JSON.
    pub input_obj: BTreeMap<String, Value>,
}

impl RequestHeaders {
    /// Parse from `(name, value)` pairs. Names are matched case-insensitively, as Starlette does.
    /// A header that cannot be parsed is an error naming it (HTTP 400 in the SDK).
    pub fn parse<'a, I>(pairs: I) -> Result<Self, ProtoError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut out = RequestHeaders::default();
        for (name, value) in pairs {
            let lname = name.to_ascii_lowercase();
            if let Some(field) = lname.strip_prefix(headers::DENDRITE_PREFIX) {
                out.dendrite.set_from_header(field, value)?;
            } else if let Some(field) = lname.strip_prefix(headers::AXON_PREFIX) {
                out.axon.set_from_header(field, value)?;
            } else if let Some(field) = lname.strip_prefix(headers::INPUT_OBJ_PREFIX) {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(value.trim())
                    .map_err(|e| ProtoError::BadHeader { name: "bt_header_input_obj_*", reason: e.to_string() })?;
                let v: Value = serde_json::from_slice(&raw)
                    .map_err(|e| ProtoError::BadHeader { name: "bt_header_input_obj_*", reason: e.to_string() })?;
                out.input_obj.insert(field.to_string(), v);
            } else {
                match lname.as_str() {
                    headers::NAME => out.name = Some(value.to_string()),
                    headers::TIMEOUT => {
                        out.timeout = Some(value.trim().parse().map_err(|_| ProtoError::BadHeader {
                            name: headers::TIMEOUT,
                            reason: format!("`{value}` is not a float"),
                        })?)
                    }
                    headers::COMPUTED_BODY_HASH => out.computed_body_hash = Some(value.to_string()),
                    _ => {}
                }
            }
        }
        Ok(out)
    }
}

/// Build the request header pairs a v10 dendrite sends for an envelope whose `dendrite` and
/// `axon` terminal infos are already filled (signature included).
pub fn request_header_pairs<T: Synapse>(env: &Envelope<T>, body_hash: &str) -> Vec<(String, String)> {
    request_header_pairs_for(T::NAME, env.timeout, &env.axon, &env.dendrite, T::REQUIRED_FIELDS, body_hash)
}

/// [`request_header_pairs`] for a synapse described at run time (class name and required
/// fields), so a typed and a dynamic call send the same headers.
pub fn request_header_pairs_for(
    name: &str,
    timeout: f64,
    axon: &TerminalInfo,
    dendrite: &TerminalInfo,
    required: &[(&str, PyType)],
    body_hash: &str,
) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(16 + required.len());
    out.push((headers::NAME.to_string(), name.to_string()));
    out.push((headers::TIMEOUT.to_string(), crate::pyrepr::py_float_repr(timeout)));
    axon.to_header_pairs(headers::AXON_PREFIX, &mut out);
    dendrite.to_header_pairs(headers::DENDRITE_PREFIX, &mut out);
    for (field, ty) in required {
        out.push((format!("{}{field}", headers::INPUT_OBJ_PREFIX), ty.empty_b64()));
    }
    // header_size / total_size are CPython `sys.getsizeof` artefacts nothing checks.
    out.push((headers::HEADER_SIZE.to_string(), "0".to_string()));
    out.push((headers::TOTAL_SIZE.to_string(), "0".to_string()));
    out.push((headers::COMPUTED_BODY_HASH.to_string(), body_hash.to_string()));
    out
}

/// Status codes as the SDK uses them, with its messages.
pub mod status {
    pub const SUCCESS: u16 = 200;
    pub const BAD_REQUEST: u16 = 400;
    pub const NOT_VERIFIED: u16 = 401;
    pub const BLACKLISTED: u16 = 403;
    pub const NOT_FOUND: u16 = 404;
    pub const TIMEOUT: u16 = 408;
    pub const PAYLOAD_TOO_LARGE: u16 = 413;
    pub const UNPROCESSABLE: u16 = 422;
    pub const TOO_MANY_REQUESTS: u16 = 429;
    pub const INTERNAL: u16 = 500;
    pub const UNAVAILABLE: u16 = 503;
    pub const GATEWAY_TIMEOUT: u16 = 504;

    pub fn not_found(name: &str, available: &[&str]) -> String {
        let list: Vec<String> = available.iter().map(|n| format!("'{n}'")).collect();
        format!("Synapse name '{name}' not found. Available synapses [{}]", list.join(", "))
    }
    pub fn bad_headers(reason: &str) -> String {
        format!("Improperly formatted request. Could not parse headers {reason}")
    }
    pub fn blacklisted(reason: &str) -> String {
        format!("Forbidden. Key is blacklisted: {reason}.")
    }
    pub fn not_verified(reason: &str) -> String {
        format!("Not Verified with error: {reason}")
    }
    pub fn timeout(timeout_s: f64) -> String {
        format!("Response timeout after: {timeout_s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
    struct Echo {
        query: String,
        #[serde(default)]
        result: Option<String>,
    }
    impl Synapse for Echo {
        const NAME: &'static str = "EchoSynapse";
        const REQUIRED_FIELDS: &'static [(&'static str, PyType)] = &[("query", PyType::Str)];
    }

    #[test]
    fn version_int() {
        assert_eq!(SDK_VERSION_AS_INT, 10_005_000);
        assert_eq!(version_as_int(10, 2, 0), 10_002_000);
    }

    #[test]
    fn empty_type_headers_match_sdk() {
        assert_eq!(PyType::Str.empty_b64(), "IiI=");
        assert_eq!(PyType::Int.empty_b64(), "MA==");
        assert_eq!(PyType::List.empty_b64(), "W10=");
        assert_eq!(PyType::Dict.empty_b64(), "e30=");
    }

    #[test]
    fn parses_the_captured_python_request_body() {
        // From shared/reference/python-sdk-wire.md §2.2.
        let body = r#"{"name": "EchoSynapse", "timeout": 12.0, "total_size": 3011, "header_size": 0, "dendrite": {"status_code": null, "status_message": null, "process_time": null, "ip": "127.0.0.1", "port": null, "version": 10005000, "nonce": 1795316511645856156, "uuid": "10dd7f9c-e621-11f1-b93e-02fc00000001", "hotkey": "5FEpNfQ6u8YNWZChPL32356RFfPU2snERs3US988gcvjowVs", "signature": "0xdccef9d4"}, "axon": {"status_code": null, "status_message": null, "process_time": null, "ip": "127.0.0.1", "port": 18091, "version": null, "nonce": null, "uuid": null, "hotkey": "5Dd8R9CLR4AgqzhyEwwwFD9myzcWphFa27fjkqV6ueG3BQZN", "signature": null}, "computed_body_hash": "", "query": "hello bittensor", "result": null}"#;
        let env: Envelope<Echo> = serde_json::from_str(body).expect("parse");
        assert_eq!(env.body.query, "hello bittensor");
        assert_eq!(env.dendrite.nonce, Some(1795316511645856156));
        assert_eq!(env.axon.port, Some(18091));
    }

    #[test]
    fn parses_headers_case_insensitively() {
        let pairs = [
            ("Name", "EchoSynapse"),
            ("timeout", "12.0"),
            ("bt_header_dendrite_nonce", "1795316511645856156"),
            ("BT_HEADER_DENDRITE_HOTKEY", "5FEp"),
            ("bt_header_input_obj_query", "IiI="),
            ("computed_body_hash", "abc"),
        ];
        let h = RequestHeaders::parse(pairs).expect("parse");
        assert_eq!(h.name.as_deref(), Some("EchoSynapse"));
        assert_eq!(h.dendrite.nonce, Some(1795316511645856156));
        assert_eq!(h.dendrite.hotkey.as_deref(), Some("5FEp"));
        assert_eq!(h.input_obj.get("query"), Some(&Value::String(String::new())));
        let bad = RequestHeaders::parse([("bt_header_dendrite_nonce", "x1")]);
        assert!(matches!(bad, Err(ProtoError::BadHeader { name: "nonce", .. })));
    }

    #[test]
    fn request_headers_round_trip() {
        let mut env = Envelope::new(Echo { query: "q".into(), result: None });
        env.dendrite.nonce = Some(7);
        env.dendrite.hotkey = Some("5D".into());
        env.axon.hotkey = Some("5A".into());
        let pairs = request_header_pairs(&env, crate::body_hash::EMPTY_BODY_HASH);
        let parsed = RequestHeaders::parse(pairs.iter().map(|(a, b)| (a.as_str(), b.as_str()))).expect("parse");
        assert_eq!(parsed.dendrite.nonce, Some(7));
        assert_eq!(parsed.axon.hotkey.as_deref(), Some("5A"));
        assert_eq!(parsed.timeout, Some(12.0));
        assert!(parsed.input_obj.contains_key("query"));
    }
}
