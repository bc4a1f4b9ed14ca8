//! The dendrite: signs synapses and sends them to axons (Python or Rust) over pooled HTTP/1.1
//! connections.
//!
//! Like the Python SDK, a call never fails with an error: every outcome is a [`Response`] with a
//! status code and message, so a validator can score a timeout like any other answer. Transport
//! failures get the SDK's codes: connection refused → 503 `Service unavailable at ip:port/Name`,
//! timeout → 408 `Request timeout after N seconds`, anything unreadable → 422
//! `Failed to parse response: …`. A non-200 answer copies the axon's status and `message`.
//!
//! One uuid (v1) per dendrite, `time_ns` nonces from the process's one nonce source
//! ([`orchestra_proto::nonce`]), the v10 signature over
//! `nonce.dendrite_hotkey.axon_hotkey.uuid.body_hash`, `bt_header_input_obj_*` headers for the
//! synapse's required fields. In [`DendriteAuth::BtAuth`] mode the request is signed with the
//! `btauth/1` headers instead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestra_keys::Keypair;
use orchestra_proto::btauth::{self, AuthHeaders};
use orchestra_proto::pyrepr::py_float_repr;
use orchestra_proto::wire::{
    Envelope, SDK_VERSION_AS_INT, Synapse, TerminalInfo, dendrite_message, headers as h, request_header_pairs,
};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use crate::error::NetError;
use crate::guard::{GuardConfig, GuardError, GuardedClient, GuardedResponse, sanitize};

/// Longest status message kept from an axon (header or body): visible ASCII, bounded.
const MAX_STATUS_MESSAGE: usize = 160;

/// Where an axon is: its address and the hotkey every request to it is signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxonTarget {
    pub ip: String,
    pub port: u16,
    pub hotkey: String,
}

impl AxonTarget {
    pub fn new(ip: impl Into<String>, port: u16, hotkey: impl Into<String>) -> Self {
        AxonTarget { ip: ip.into(), port, hotkey: hotkey.into() }
    }

    /// `http://ip:port/Name`, with IPv6 addresses in brackets (the SDK's URL breaks on them).
    pub fn url(&self, name: &str) -> String {
        if self.ip.contains(':') && !self.ip.starts_with('[') {
            format!("http://[{}]:{}/{name}", self.ip, self.port)
        } else {
            format!("http://{}:{}/{name}", self.ip, self.port)
        }
    }
}

/// Which headers sign the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DendriteAuth {
    /// The v10 `bt_header_*` dialect every deployed axon speaks.
    #[default]
    V10,
    /// `btauth/1` (`X-Bittensor-*`), bittensor 11.
    BtAuth,
}

/// Options of a [`Dendrite`].
#[derive(Debug, Clone)]
pub struct DendriteConfig {
    pub auth: DendriteAuth,
    /// Sent as `bt_header_dendrite_ip` (the SDK sends its external IP; nothing checks it).
    pub external_ip: Option<String>,
    /// Idle keep-alive connections are closed after this.
    pub pool_idle_timeout: Duration,
    /// Idle connections kept per axon.
    pub pool_max_idle_per_host: usize,
    /// Call axons on loopback, private and other internal addresses. Axon addresses come from
    /// the metagraph, which anyone who registers writes: off by default so a registered "axon"
    /// at 127.0.0.1 or 169.254.169.254 cannot make a validator call its own host's services.
    /// Local networks and tests turn it on (`--net.allow_private`).
    pub allow_private: bool,
    /// Largest answer read, in bytes (an Orchestrate answer carries its evidence bodies).
    pub max_response_bytes: usize,
}

impl Default for DendriteConfig {
    fn default() -> Self {
        DendriteConfig {
            auth: DendriteAuth::V10,
            external_ip: None,
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 64,
            allow_private: false,
            max_response_bytes: 16 * 1024 * 1024,
        }
    }
}

impl DendriteConfig {
    /// The default with internal addresses allowed: local networks and tests.
    pub fn local() -> Self {
        DendriteConfig { allow_private: true, ..DendriteConfig::default() }
    }
}

/// The outcome of one call, as the SDK's returned synapse carries it.
#[derive(Debug, Clone)]
pub struct Response<S> {
    /// The SDK's `dendrite.status_code`: the axon's status, or a local one (503/408/422/400).
    pub status_code: u16,
    pub status_message: String,
    /// Seconds from the start of the call to its end, measured here (`dendrite.process_time`).
    pub process_time: f64,
    /// The axon's terminal info as it answered (status, its own process time, …).
    pub axon: TerminalInfo,
    /// The answer on 200; otherwise the synapse as it was sent.
    pub synapse: S,
}

impl<S> Response<S> {
    pub fn is_success(&self) -> bool {
        self.status_code == 200
    }
    pub fn is_timeout(&self) -> bool {
        self.status_code == 408
    }
    pub fn is_blacklist(&self) -> bool {
        self.status_code == 403
    }
    pub fn failed_verification(&self) -> bool {
        self.status_code == 401
    }
}

struct Inner {
    keypair: Keypair,
    uuid: String,
    client: GuardedClient,
    cfg: DendriteConfig,
}

/// A signing HTTP client for axons. Cheap to clone; clones share the connection pool and uuid.
#[derive(Clone)]
pub struct Dendrite {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Dendrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dendrite")
            .field("hotkey", &self.inner.keypair.ss58())
            .field("uuid", &self.inner.uuid)
            .field("auth", &self.inner.cfg.auth)
            .finish()
    }
}

/// A local failure: status and message as the SDK would set them.
struct Failure(u16, String);

impl Dendrite {
    /// A dendrite signing with `keypair`.
    pub fn new(keypair: Keypair, cfg: DendriteConfig) -> Result<Dendrite, NetError> {
        // The guarded client: no proxy, no redirects, internal addresses refused unless allowed,
        // answers capped in size.
        let client = GuardedClient::new(GuardConfig {
            allow_private: cfg.allow_private,
            max_response_bytes: cfg.max_response_bytes,
            timeout: Duration::from_secs(3600),
            pool_idle_timeout: cfg.pool_idle_timeout,
            pool_max_idle_per_host: cfg.pool_max_idle_per_host,
            ..GuardConfig::default()
        })
        .map_err(|e| NetError::Config(e.to_string()))?;
        Ok(Dendrite { inner: Arc::new(Inner { keypair, uuid: new_uuid_v1(), client, cfg }) })
    }

    /// Our hotkey (ss58).
    pub fn hotkey(&self) -> &str {
        self.inner.keypair.ss58()
    }

    /// This dendrite's uuid (v1, fixed for its lifetime, as in the SDK).
    pub fn uuid(&self) -> &str {
        &self.inner.uuid
    }

    /// Sends `synapse` to `target` and waits at most `timeout` for the whole answer.
    pub async fn call<S: Synapse>(&self, target: &AxonTarget, synapse: S, timeout: Duration) -> Response<S> {
        let start = Instant::now();
        let mut env = Envelope::new(synapse);
        env.timeout = timeout.as_secs_f64();
        let outcome = self.exchange(target, &mut env, timeout).await;
        let process_time = start.elapsed().as_secs_f64();
        match outcome {
            Ok(Answer::Ok { status_code, status_message, axon, synapse }) => {
                Response { status_code, status_message, process_time, axon, synapse }
            }
            Ok(Answer::Refused { status_code, status_message, axon }) => {
                Response { status_code, status_message, process_time, axon, synapse: env.body }
            }
            Err(Failure(status_code, status_message)) => {
                tracing::debug!(target = %target.url(S::NAME), status_code, %status_message, "call failed");
                Response { status_code, status_message, process_time, axon: env.axon, synapse: env.body }
            }
        }
    }

    /// Sends the same synapse to every target at once; the answers come back in target order.
    pub async fn forward_many<S: Synapse + Clone>(
        &self,
        targets: &[AxonTarget],
        synapse: &S,
        timeout: Duration,
    ) -> Vec<Response<S>> {
        futures::future::join_all(targets.iter().map(|t| self.call(t, synapse.clone(), timeout))).await
    }

    /// Sends one synapse per target at once; the answers come back in input order.
    pub async fn call_each<S: Synapse>(&self, calls: Vec<(AxonTarget, S)>, timeout: Duration) -> Vec<Response<S>> {
        futures::future::join_all(calls.into_iter().map(|(t, s)| async move { self.call(&t, s, timeout).await })).await
    }

    /// Signs, sends and reads one request.
    async fn exchange<S: Synapse>(
        &self,
        target: &AxonTarget,
        env: &mut Envelope<S>,
        timeout: Duration,
    ) -> Result<Answer<S>, Failure> {
        let me = &self.inner;
        let nonce = orchestra_proto::nonce::next_nonce();
        env.dendrite = TerminalInfo {
            ip: me.cfg.external_ip.clone(),
            version: Some(SDK_VERSION_AS_INT),
            nonce: Some(nonce),
            uuid: Some(me.uuid.clone()),
            hotkey: Some(me.keypair.ss58().to_string()),
            ..TerminalInfo::default()
        };
        env.axon = TerminalInfo {
            ip: Some(target.ip.clone()),
            port: Some(target.port),
            hotkey: Some(target.hotkey.clone()),
            ..TerminalInfo::default()
        };
        let mut headers = HeaderMap::with_capacity(24);
        let body = match me.cfg.auth {
            DendriteAuth::V10 => {
                let body_hash =
                    env.body_hash().map_err(|e| Failure(400, format!("Could not build the request: {e}")))?;
                let message = dendrite_message(nonce, me.keypair.ss58(), &target.hotkey, &me.uuid, &body_hash);
                env.dendrite.signature = Some(me.keypair.sign_hex(message.as_bytes()));
                for (name, value) in request_header_pairs(env, &body_hash) {
                    insert(&mut headers, &name, &value)?;
                }
                to_json(env)?
            }
            DendriteAuth::BtAuth => {
                let body = to_json(env)?;
                let path = format!("/{}", S::NAME);
                let payload = btauth::payload("POST", &path, &body, nonce, me.keypair.ss58(), Some(&target.hotkey));
                let auth = AuthHeaders {
                    hotkey: me.keypair.ss58().to_string(),
                    nonce_ns: nonce,
                    signature: me.keypair.sign_hex(payload.as_bytes()),
                    receiver: Some(target.hotkey.clone()),
                };
                for (name, value) in auth.to_pairs() {
                    insert(&mut headers, name, &value)?;
                }
                insert(&mut headers, h::NAME, S::NAME)?;
                insert(&mut headers, h::TIMEOUT, &py_float_repr(env.timeout))?;
                body
            }
        };
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));

        let url = target.url(S::NAME);
        let timeout_s = env.timeout;
        let resp = self.post(&url, headers, body, timeout, target, S::NAME, timeout_s).await?;
        let GuardedResponse { status: http_status, headers: rh, body: bytes } = resp;

        // Response headers win over the body, as in the SDK's merge.
        let header_str = |name: &str| rh.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let header_code = header_str(h::AXON_STATUS_CODE).and_then(|v| v.trim().parse::<u16>().ok());
        // The axon's own words are kept (the SDK's protocol), bounded and sanitized.
        let header_message = header_str(h::AXON_STATUS_MESSAGE).map(|m| sanitize(&m, MAX_STATUS_MESSAGE));
        let header_time = header_str(h::AXON_PROCESS_TIME).and_then(|v| v.trim().parse::<f64>().ok());

        if http_status == 200 {
            let answer: Envelope<S> =
                serde_json::from_slice(&bytes).map_err(|e| Failure(422, format!("Failed to parse response: {e}")))?;
            let mut axon = answer.axon;
            if let Some(c) = header_code {
                axon.status_code = Some(i64::from(c));
            }
            if header_message.is_some() {
                axon.status_message = header_message;
            } else {
                axon.status_message = axon.status_message.map(|m| sanitize(&m, MAX_STATUS_MESSAGE));
            }
            if header_time.is_some() {
                axon.process_time = header_time;
            }
            // An answer that names no status is taken at its HTTP word (the SDK would say None).
            let status_code = axon.status_code.and_then(|c| u16::try_from(c).ok()).unwrap_or(200);
            let status_message = axon.status_message.clone().unwrap_or_else(|| "Success".to_string());
            return Ok(Answer::Ok { status_code, status_message, axon, synapse: answer.body });
        }

        let body_message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(|m| sanitize(m, MAX_STATUS_MESSAGE)));
        let status_code = header_code.unwrap_or(http_status);
        // Never a raw body: the axon's message field (bounded), or the status and a length.
        let status_message =
            header_message.or(body_message).unwrap_or_else(|| format!("HTTP {http_status}, {} bytes", bytes.len()));
        let mut axon = std::mem::take(&mut env.axon);
        axon.status_code = Some(i64::from(status_code));
        axon.status_message = Some(status_message.clone());
        axon.process_time = header_time;
        Ok(Answer::Refused { status_code, status_message, axon })
    }
}

enum Answer<S> {
    Ok { status_code: u16, status_message: String, axon: TerminalInfo, synapse: S },
    Refused { status_code: u16, status_message: String, axon: TerminalInfo },
}

fn to_json<S: Synapse>(env: &Envelope<S>) -> Result<Vec<u8>, Failure> {
    serde_json::to_vec(env).map_err(|e| Failure(400, format!("Could not build the request: {e}")))
}

fn insert(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), Failure> {
    let n = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Failure(400, format!("Could not build the request: bad header name {name:?}")))?;
    let v = HeaderValue::from_str(value)
        .map_err(|_| Failure(400, format!("Could not build the request: header {name} cannot carry {value:?}")))?;
    headers.insert(n, v);
    Ok(())
}

/// The SDK's `DENDRITE_ERROR_MAPPING` for what the guarded client can tell apart.
fn map_transport_error(e: &GuardError, target: &AxonTarget, name: &str, timeout_s: f64) -> Failure {
    match e {
        GuardError::Timeout(_) => Failure(408, format!("Request timeout after {} seconds", py_float_repr(timeout_s))),
        GuardError::Connect(_) => Failure(503, format!("Service unavailable at {}:{}/{name}", target.ip, target.port)),
        GuardError::Refused { .. } | GuardError::BadUrl(_) => Failure(503, format!("Service unavailable: {e}")),
        GuardError::TooLarge { .. } | GuardError::Body(_) => Failure(422, format!("Failed to parse response: {e}")),
        GuardError::Build(_) => Failure(400, format!("Could not build the request: {e}")),
    }
}

impl Dendrite {
    /// One POST through the guarded client, bounded by `timeout` in total.
    #[allow(clippy::too_many_arguments)]
    async fn post(
        &self,
        url: &str,
        headers: HeaderMap,
        body: Vec<u8>,
        timeout: Duration,
        target: &AxonTarget,
        name: &str,
        timeout_s: f64,
    ) -> Result<GuardedResponse, Failure> {
        let fail = |e: GuardError| map_transport_error(&e, target, name, timeout_s);
        let req = self.inner.client.request(reqwest::Method::POST, url).map_err(fail)?;
        let req = req.headers(headers).body(body).timeout(timeout);
        match tokio::time::timeout(timeout, self.inner.client.send(req)).await {
            Ok(r) => r.map_err(fail),
            Err(_) => Err(fail(GuardError::Timeout(timeout))),
        }
    }
}

/// `uuid.uuid1()` with a random node id (multicast bit set, as RFC 4122 §4.5 asks for a node
/// that is not a MAC address).
fn new_uuid_v1() -> String {
    let random = uuid::Uuid::new_v4();
    let mut node = [0u8; 6];
    node.copy_from_slice(&random.as_bytes()[..6]);
    node[0] |= 0x01;
    uuid::Uuid::now_v1(&node).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(AxonTarget::new("1.2.3.4", 8091, "5A").url("Echo"), "http://1.2.3.4:8091/Echo");
        assert_eq!(AxonTarget::new("::1", 8091, "5A").url("Echo"), "http://[::1]:8091/Echo");
    }

    #[test]
    fn uuid_is_v1() {
        let u = uuid::Uuid::parse_str(&new_uuid_v1()).expect("uuid");
        assert_eq!(u.get_version_num(), 1);
    }
}

/// A synapse known only at run time (the CLI's `orchestra call`): its class name, the fields
/// without default (sent as `bt_header_input_obj_*`) and the hashed fields.
#[derive(Debug, Clone, Default)]
pub struct DynSynapse {
    pub name: String,
    pub required: Vec<(String, orchestra_proto::wire::PyType)>,
    pub hash_fields: Vec<String>,
}

impl Dendrite {
    /// Like [`Dendrite::call`] for a synapse described at run time; the answer's body is the
    /// whole response envelope as JSON.
    pub async fn call_dynamic(
        &self,
        target: &AxonTarget,
        syn: &DynSynapse,
        fields: serde_json::Map<String, serde_json::Value>,
        timeout: Duration,
    ) -> Response<serde_json::Value> {
        let start = Instant::now();
        let result = self.exchange_dynamic(target, syn, fields, timeout).await;
        let process_time = start.elapsed().as_secs_f64();
        match result {
            Ok((status_code, status_message, axon, body)) => {
                Response { status_code, status_message, process_time, axon, synapse: body }
            }
            Err(Failure(status_code, status_message)) => Response {
                status_code,
                status_message,
                process_time,
                axon: TerminalInfo::default(),
                synapse: serde_json::Value::Null,
            },
        }
    }

    async fn exchange_dynamic(
        &self,
        target: &AxonTarget,
        syn: &DynSynapse,
        fields: serde_json::Map<String, serde_json::Value>,
        timeout: Duration,
    ) -> Result<(u16, String, TerminalInfo, serde_json::Value), Failure> {
        use orchestra_proto::body_hash::body_hash;
        let me = &self.inner;
        let nonce = orchestra_proto::nonce::next_nonce();
        let timeout_s = timeout.as_secs_f64();
        let dendrite = TerminalInfo {
            ip: me.cfg.external_ip.clone(),
            version: Some(SDK_VERSION_AS_INT),
            nonce: Some(nonce),
            uuid: Some(me.uuid.clone()),
            hotkey: Some(me.keypair.ss58().to_string()),
            ..TerminalInfo::default()
        };
        let axon = TerminalInfo {
            ip: Some(target.ip.clone()),
            port: Some(target.port),
            hotkey: Some(target.hotkey.clone()),
            ..TerminalInfo::default()
        };
        let hash_fields: Vec<&str> = syn.hash_fields.iter().map(String::as_str).collect();
        let bh =
            body_hash(&fields, &hash_fields).map_err(|e| Failure(400, format!("Could not build the request: {e}")))?;
        let mut headers = HeaderMap::with_capacity(24);
        let mut envelope = serde_json::Map::new();
        envelope.insert("name".into(), syn.name.clone().into());
        envelope.insert("timeout".into(), timeout_s.into());
        let mut d = dendrite.clone();
        let body_bytes;
        match me.cfg.auth {
            DendriteAuth::V10 => {
                let message = dendrite_message(nonce, me.keypair.ss58(), &target.hotkey, &me.uuid, &bh);
                d.signature = Some(me.keypair.sign_hex(message.as_bytes()));
                let mut pairs =
                    vec![(h::NAME.to_string(), syn.name.clone()), (h::TIMEOUT.to_string(), py_float_repr(timeout_s))];
                axon.to_header_pairs(h::AXON_PREFIX, &mut pairs);
                d.to_header_pairs(h::DENDRITE_PREFIX, &mut pairs);
                for (f, ty) in &syn.required {
                    pairs.push((format!("{}{f}", h::INPUT_OBJ_PREFIX), ty.empty_b64()));
                }
                pairs.push((h::COMPUTED_BODY_HASH.to_string(), bh.clone()));
                for (n, v) in pairs {
                    insert(&mut headers, &n, &v)?;
                }
                envelope.insert("dendrite".into(), serde_json::to_value(&d).unwrap_or_default());
                envelope.insert("axon".into(), serde_json::to_value(&axon).unwrap_or_default());
                envelope.extend(fields);
                body_bytes = serde_json::to_vec(&envelope).map_err(|e| Failure(400, e.to_string()))?;
            }
            DendriteAuth::BtAuth => {
                envelope.extend(fields);
                body_bytes = serde_json::to_vec(&envelope).map_err(|e| Failure(400, e.to_string()))?;
                let path = format!("/{}", syn.name);
                let payload =
                    btauth::payload("POST", &path, &body_bytes, nonce, me.keypair.ss58(), Some(&target.hotkey));
                let auth = AuthHeaders {
                    hotkey: me.keypair.ss58().to_string(),
                    nonce_ns: nonce,
                    signature: me.keypair.sign_hex(payload.as_bytes()),
                    receiver: Some(target.hotkey.clone()),
                };
                for (name, value) in auth.to_pairs() {
                    insert(&mut headers, name, &value)?;
                }
                insert(&mut headers, h::NAME, &syn.name)?;
                insert(&mut headers, h::TIMEOUT, &py_float_repr(timeout_s))?;
            }
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let url = target.url(&syn.name);
        let resp = self.post(&url, headers, body_bytes, timeout, target, &syn.name, timeout_s).await?;
        let GuardedResponse { status: http_status, headers: rh, body: bytes } = resp;
        let header_str = |name: &str| rh.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let code = header_str(h::AXON_STATUS_CODE).and_then(|v| v.trim().parse::<u16>().ok()).unwrap_or(http_status);
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            Failure(if http_status == 200 { 422 } else { http_status }, format!("Failed to parse response: {e}"))
        })?;
        let message = header_str(h::AXON_STATUS_MESSAGE)
            .or_else(|| value.get("message").and_then(|m| m.as_str()).map(str::to_string))
            .map(|m| sanitize(&m, MAX_STATUS_MESSAGE))
            .unwrap_or_else(|| if code == 200 { "Success".into() } else { format!("HTTP {http_status}") });
        let mut axon_info = axon;
        axon_info.status_code = Some(i64::from(code));
        axon_info.status_message = Some(message.clone());
        Ok((code, message, axon_info, value))
    }
}
