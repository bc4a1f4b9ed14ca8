//! Generic subnet adapters: one per transport, driven by a Ledger entry. Adding a subnet means
//! adding a Ledger entry, not code.
//!
//! [`Adapters::call`] validates the input against the entry's input schema, calls the subnet
//! over the entry's transport, and always returns a [`Receipt`] for a call that went out
//! (success or failure), the parsed output when there is one, and the drift between the
//! response and the entry's output schema ([`schema::Drift`]). Drift becomes Ledger proposals
//! through [`proposals_from_drift`].

mod bittensor;
pub mod schema;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use orchestra_keys::Keypair;
use orchestra_net::{Dendrite, DendriteConfig};
use orchestra_proto::canonical::{Digest, request_digest, response_digest};
use orchestra_proto::ledger::{AuthKind, LedgerEntry, TransportSpec};
use orchestra_proto::receipt::{CallStatus, Receipt, Transport};
use orchestra_proto::synapses::{CallEvidence, LedgerProposal, UpdateType};
use serde_json::{Value, json};

pub use schema::Drift;

/// Errors of a subnet call.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum SubnetError {
    #[error("schema: {0}")]
    Schema(String),
    #[error("the entry for netuid {0} has no usable transport")]
    NoTransport(u16),
    #[error("transport {0} is not available in this build or configuration")]
    Unsupported(&'static str),
    #[error("HTTP {code}: {message}")]
    Status { code: u16, message: String },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("response is not valid JSON: {0}")]
    Malformed(String),
    #[error("missing credential: set {0}")]
    MissingSecret(String),
    #[error("{0}")]
    Other(String),
}

impl SubnetError {
    /// Worth retrying on the same subnet (as opposed to falling back or giving up).
    pub fn retryable(&self) -> bool {
        matches!(self, SubnetError::Timeout(_) | SubnetError::Connect(_) | SubnetError::Malformed(_))
            || matches!(self, SubnetError::Status { code, .. } if *code >= 500 || *code == 429)
    }
}

/// The result of one subnet call.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// Present when the call reached the subnet (whatever it answered).
    pub receipt: Option<Receipt>,
    /// The bodies behind the receipt: digests equal the receipt's.
    pub evidence: Option<CallEvidence>,
    pub output: Result<Value, SubnetError>,
    pub drift: Vec<Drift>,
}

impl CallOutcome {
    /// A call that never went out: no receipt, no evidence.
    fn refused(e: SubnetError) -> CallOutcome {
        CallOutcome { receipt: None, evidence: None, output: Err(e), drift: Vec::new() }
    }
}

/// The adapters, sharing one pooled HTTP client (and, with a key, one dendrite).
#[derive(Clone)]
pub struct Adapters {
    http: reqwest::Client,
    /// The hotkey the Bittensor transports (v10, btauth/1) sign with; `None` = not configured.
    signer: Option<Signer>,
}

/// A hotkey and the dendrite signing with it.
#[derive(Clone)]
struct Signer {
    keypair: Keypair,
    /// Building the dendrite's HTTP client can fail; kept as an error so that `with_keypair`
    /// stays infallible and the failure surfaces on the calls that need it.
    dendrite: Result<Dendrite, String>,
}

impl std::fmt::Debug for Adapters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Adapters")
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Adapters {
    pub fn new() -> Result<Self, SubnetError> {
        let http = reqwest::Client::builder()
            // Redirects are drift evidence (a moved endpoint), not something to follow silently.
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(16)
            .build()
            .map_err(|e| SubnetError::Other(format!("HTTP client: {e}")))?;
        Ok(Adapters { http, signer: None })
    }

    /// Sign axon (v10) and btauth/1 calls with `keypair`. Without it those calls fail with
    /// [`SubnetError::Unsupported`] before anything is sent.
    pub fn with_keypair(mut self, keypair: Keypair) -> Self {
        let dendrite = Dendrite::new(keypair.clone(), DendriteConfig::default()).map_err(|e| e.to_string());
        self.signer = Some(Signer { keypair, dendrite });
        self
    }

    /// Call the subnet of `entry` with `input` for plan step `step_id`.
    pub async fn call(&self, entry: &LedgerEntry, input: &Value, step_id: &str, timeout: Duration) -> CallOutcome {
        if let Err(e) = schema::validate(&entry.input_schema, input, "input") {
            return CallOutcome::refused(e);
        }
        let Some(transport) = entry.transports.first() else {
            return CallOutcome::refused(SubnetError::NoTransport(entry.netuid));
        };
        let started_ms = now_ms();
        let t0 = Instant::now();
        // btauth/1 is plain HTTP JSON with signed headers: it shares the HTTP path below.
        let mut btauth_key = None;
        let (endpoint, kind, body, target) = match transport {
            TransportSpec::HttpJson { url, method, auth } => {
                (url.clone(), Transport::HttpJson, input.clone(), (method.clone(), auth.clone()))
            }
            TransportSpec::Btauth { url, method } => {
                let Some(signer) = &self.signer else {
                    return CallOutcome::refused(SubnetError::Unsupported(
                        "btauth without a signing hotkey (build the adapters with with_keypair)",
                    ));
                };
                btauth_key = Some(&signer.keypair);
                (url.clone(), Transport::Btauth, input.clone(), (method.clone(), AuthKind::None))
            }
            TransportSpec::OpenaiChat { base_url, model, auth } => {
                let mut body = input.clone();
                if let Some(m) = body.as_object_mut() {
                    m.entry("model").or_insert_with(|| Value::String(model.clone()));
                }
                (
                    format!("{}/chat/completions", base_url.trim_end_matches('/')),
                    Transport::OpenaiChat,
                    body,
                    ("POST".into(), auth.clone()),
                )
            }
            TransportSpec::AxonV10 { synapse, required_fields, hash_fields, endpoint, hotkey } => {
                let spec = bittensor::AxonSpec {
                    synapse,
                    required_fields,
                    hash_fields,
                    endpoint: endpoint.as_deref(),
                    hotkey: hotkey.as_deref(),
                };
                return self.call_axon(entry, &spec, input, step_id, timeout).await;
            }
        };
        let (method, auth) = target;
        let result = self.http_call(&endpoint, &method, &auth, btauth_key, &body, timeout).await;
        let latency_ms = t0.elapsed().as_millis() as u64;
        let req_digest = request_digest(&body).unwrap_or(Digest([0; 32]));
        let mut response_body = Value::Null;
        let (status, output, raw_digest, attestation, mut drift) = match result {
            Ok((code, text, location)) => {
                response_body = Value::String(text.clone());
                let digest = response_digest(&Value::String(text.clone())).unwrap_or(Digest([0; 32]));
                let attestation = json!({"http_status": code});
                if (300..400).contains(&code) {
                    let to = location.unwrap_or_default();
                    let drift = vec![Drift::Moved { from: endpoint.clone(), to: to.clone() }];
                    let err = SubnetError::Status { code, message: format!("endpoint moved to {to}") };
                    (CallStatus::Error { code, message: err.to_string() }, Err(err), digest, attestation, drift)
                } else if code != 200 {
                    let msg = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| v.get("error").or(v.get("message")).and_then(Value::as_str).map(str::to_string))
                        .unwrap_or_else(|| text.chars().take(200).collect());
                    let err = SubnetError::Status { code, message: msg.clone() };
                    (CallStatus::Error { code, message: msg }, Err(err), digest, attestation, Vec::new())
                } else {
                    match serde_json::from_str::<Value>(&text) {
                        Ok(v) => {
                            let digest = response_digest(&v).unwrap_or(digest);
                            response_body = v.clone();
                            (CallStatus::Ok, Ok(v), digest, attestation, Vec::new())
                        }
                        Err(e) => {
                            let err = SubnetError::Malformed(e.to_string());
                            (
                                CallStatus::Error { code: 422, message: err.to_string() },
                                Err(err),
                                digest,
                                attestation,
                                Vec::new(),
                            )
                        }
                    }
                }
            }
            Err(e) => {
                let status = match &e {
                    SubnetError::Timeout(_) => CallStatus::Timeout,
                    other => CallStatus::Error { code: 503, message: other.to_string() },
                };
                let digest = response_digest(&Value::Null).unwrap_or(Digest([0; 32]));
                (status, Err(e), digest, Value::Null, Vec::new())
            }
        };
        if let Ok(v) = &output {
            drift.extend(schema::detect(&entry.output_schema, v));
        }
        let receipt = Receipt {
            step_id: step_id.to_string(),
            netuid: entry.netuid,
            subnet: entry.name.clone(),
            transport: kind,
            endpoint,
            target: "-".into(),
            request_digest: req_digest,
            response_digest: raw_digest,
            started_at_ms: started_ms,
            finished_at_ms: started_ms + latency_ms,
            latency_ms,
            status,
            cost_micros: entry.metrics.cost_micros,
            attestation: Some(attestation),
        };
        CallOutcome {
            receipt: Some(receipt),
            evidence: Some(CallEvidence { request: body, response: response_body }),
            output,
            drift,
        }
    }

    async fn http_call(
        &self,
        url: &str,
        method: &str,
        auth: &AuthKind,
        btauth_key: Option<&Keypair>,
        body: &Value,
        timeout: Duration,
    ) -> Result<(u16, String, Option<String>), SubnetError> {
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| SubnetError::Other(format!("bad method {method}")))?;
        let mut req = self.http.request(m, url).timeout(timeout);
        req = match btauth_key {
            // The signature covers the sha256 of the exact body bytes, so serialize them here
            // rather than letting the client do it.
            Some(key) => {
                let bytes = serde_json::to_vec(body).map_err(|e| SubnetError::Other(format!("request body: {e}")))?;
                let pairs = bittensor::btauth_headers(key, method, url, &bytes)?;
                let mut req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(bytes);
                for (name, value) in pairs {
                    req = req.header(name, value);
                }
                req
            }
            None => req.json(body),
        };
        match auth {
            AuthKind::None | AuthKind::Hotkey => {}
            AuthKind::Bearer { env } => {
                let secret = std::env::var(env).map_err(|_| SubnetError::MissingSecret(env.clone()))?;
                req = req.bearer_auth(secret);
            }
            AuthKind::Header { name, env } => {
                let secret = std::env::var(env).map_err(|_| SubnetError::MissingSecret(env.clone()))?;
                req = req.header(name.as_str(), secret);
            }
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() { SubnetError::Timeout(timeout) } else { SubnetError::Connect(e.to_string()) }
        })?;
        let code = resp.status().as_u16();
        let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
        let text = resp.text().await.map_err(|e| {
            if e.is_timeout() { SubnetError::Timeout(timeout) } else { SubnetError::Connect(e.to_string()) }
        })?;
        Ok((code, text, location))
    }
}

/// Ledger proposals for the drift seen in a call, citing the call's receipt leaf.
pub fn proposals_from_drift(
    entry: &LedgerEntry,
    drift: &[Drift],
    evidence: Digest,
    task_id: &str,
    proposer: &str,
) -> Vec<LedgerProposal> {
    let current = serde_json::to_value(entry).unwrap_or(Value::Null);
    let at = |path: &str| -> Value {
        let mut cur = &current;
        for seg in path.split('.') {
            match cur.get(seg) {
                Some(v) => cur = v,
                None => return Value::Null,
            }
        }
        cur.clone()
    };
    let base = |update_type, field: String, old_value, new_value| LedgerProposal {
        netuid: entry.netuid,
        subnet: entry.name.clone(),
        update_type,
        field,
        old_value,
        new_value,
        evidence: vec![evidence],
        task_id: task_id.to_string(),
        proposed_by: proposer.to_string(),
    };
    drift
        .iter()
        .filter_map(|d| match d {
            Drift::Unknown { schema_path, observed, .. } => {
                Some(base(UpdateType::SchemaChange, schema_path.clone(), Value::Null, observed.clone()))
            }
            Drift::Retyped { schema_path, observed, .. } => {
                let old = at(schema_path);
                let mut new = old.clone();
                if let Some(m) = new.as_object_mut() {
                    m.insert("type".into(), observed.clone());
                }
                Some(base(UpdateType::SchemaChange, schema_path.clone(), old, new))
            }
            // A field that went missing: proposing to drop it from the schema would be a
            // breaking change on one observation; leave it to validators' probes.
            Drift::Missing { .. } => None,
            Drift::Moved { from, to } => {
                let idx = entry.transports.iter().position(|t| match t {
                    TransportSpec::HttpJson { url, .. } | TransportSpec::Btauth { url, .. } => url == from,
                    TransportSpec::OpenaiChat { base_url, .. } => from.starts_with(base_url.as_str()),
                    TransportSpec::AxonV10 { .. } => false,
                })?;
                let key = match &entry.transports[idx] {
                    TransportSpec::OpenaiChat { .. } => "base_url",
                    _ => "url",
                };
                let new_url = absolute(from, to);
                Some(base(
                    UpdateType::EndpointChange,
                    format!("transports.{idx}.{key}"),
                    Value::String(from.clone()),
                    Value::String(new_url),
                ))
            }
        })
        .collect()
}

/// Resolve a redirect `Location` (absolute or a path) against the URL that answered it.
fn absolute(from: &str, to: &str) -> String {
    if to.starts_with("http://") || to.starts_with("https://") {
        return to.to_string();
    }
    match reqwest::Url::parse(from).and_then(|u| u.join(to)) {
        Ok(u) => u.to_string(),
        Err(_) => to.to_string(),
    }
}
