//! Generic subnet adapters: one per transport, driven by a Ledger entry. Adding a subnet means
//! adding a Ledger entry, not code.
//!
//! [`Adapters::call`] validates the input against the entry's input schema, calls the subnet
//! over the entry's transport, and always returns a [`Receipt`] for a call that went out
//! (success or failure), the parsed output when there is one, and the drift between the
//! response and the entry's output schema ([`schema::Drift`]). Drift becomes Ledger proposals
//! through [`proposals_from_drift`].

mod bittensor;
pub mod credentials;
pub mod probe;
pub mod schema;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use orchestra_keys::Keypair;
use orchestra_net::{Dendrite, DendriteConfig, GuardError, GuardedClient};
use orchestra_proto::canonical::{Digest, request_digest, response_digest};
use orchestra_proto::ledger::{AuthKind, LedgerEntry, TransportSpec};
use orchestra_proto::receipt::{CallStatus, Receipt, Transport};
use orchestra_proto::synapses::{CallEvidence, LedgerProposal, UpdateType};
use serde_json::{Value, json};

pub use credentials::{Credential, CredentialKind, Credentials};
pub use orchestra_net::GuardConfig;
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
    #[error("missing credential: {0}")]
    MissingSecret(String),
    /// The network policy refused the destination (private address, bad scheme, …).
    #[error("refused: {0}")]
    Refused(String),
    #[error("response body exceeds the {0}-byte limit")]
    TooLarge(usize),
    #[error("{0}")]
    Other(String),
}

impl From<GuardError> for SubnetError {
    fn from(e: GuardError) -> Self {
        match e {
            GuardError::Timeout(d) => SubnetError::Timeout(d),
            GuardError::Connect(m) | GuardError::Body(m) => SubnetError::Connect(m),
            GuardError::TooLarge { limit } => SubnetError::TooLarge(limit),
            e @ (GuardError::Refused { .. } | GuardError::BadUrl(_)) => SubnetError::Refused(e.to_string()),
            GuardError::Build(m) => SubnetError::Other(m),
        }
    }
}

impl SubnetError {
    /// Worth retrying on the same subnet (as opposed to falling back or giving up).
    pub fn retryable(&self) -> bool {
        matches!(self, SubnetError::Timeout(_) | SubnetError::Connect(_) | SubnetError::Malformed(_))
            || matches!(self, SubnetError::Status { code, .. } if *code >= 500 || *code == 429)
    }

    /// A failure that may pass on its own: a timeout, no connection, HTTP 5xx or 429.
    pub fn is_transient(&self) -> bool {
        matches!(self, SubnetError::Timeout(_) | SubnetError::Connect(_))
            || matches!(self, SubnetError::Status { code, .. } if *code >= 500 || *code == 429)
    }

    /// A failure of the caller's side, not of the subnet: no operator credential, a destination
    /// the network policy refuses, a transport this build or configuration cannot use.
    pub fn is_local(&self) -> bool {
        matches!(self, SubnetError::MissingSecret(_) | SubnetError::Refused(_) | SubnetError::Unsupported(_))
    }

    /// A short, fixed description with no remote text and no local detail: what a decision
    /// reason or a published record may say about a failed call.
    pub fn summary(&self) -> String {
        match self {
            SubnetError::Schema(_) => "the request does not match the entry's input schema".into(),
            SubnetError::NoTransport(_) => "the entry has no usable transport".into(),
            SubnetError::Unsupported(_) => "the transport is not supported here".into(),
            SubnetError::Status { code, .. } => format!("HTTP {code}"),
            SubnetError::Timeout(d) => format!("timed out after {} ms", d.as_millis()),
            SubnetError::Connect(_) => "connection failed".into(),
            SubnetError::Malformed(_) => "the response is not valid JSON".into(),
            SubnetError::MissingSecret(_) => "no operator credential for this subnet".into(),
            SubnetError::Refused(_) => "destination refused by the network policy".into(),
            SubnetError::TooLarge(limit) => format!("response larger than {limit} bytes"),
            SubnetError::Other(_) => "the call failed".into(),
        }
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

/// The adapters, sharing one pooled guarded HTTP client (and, with a key, one dendrite).
///
/// Every call goes through [`orchestra_net::guard`]: no redirects, internal destinations refused
/// unless the [`GuardConfig`] allows them, size and time caps, TLS. Credentials come from the
/// operator's [`Credentials`] map by netuid, never from the entry.
#[derive(Clone)]
pub struct Adapters {
    http: GuardedClient,
    guard: GuardConfig,
    credentials: std::sync::Arc<Credentials>,
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
    /// Adapters under the default network policy: public destinations only, 4 MiB answers.
    pub fn new() -> Result<Self, SubnetError> {
        Self::with_guard(GuardConfig::default())
    }

    /// Adapters under `guard` (local networks and tests pass [`GuardConfig::local`]).
    /// Redirects are never followed: a 3xx is drift evidence (a moved endpoint).
    pub fn with_guard(guard: GuardConfig) -> Result<Self, SubnetError> {
        let http = GuardedClient::new(guard.clone()).map_err(|e| SubnetError::Other(format!("HTTP client: {e}")))?;
        Ok(Adapters { http, guard, credentials: Default::default(), signer: None })
    }

    /// Adapters as an operator configured them (what the miner, the validator and `orchestra
    /// subnet probe` all build): the network policy `guard` and, when given, the credential
    /// file (`--subnet.credentials`).
    pub fn for_operator(guard: GuardConfig, credentials: Option<&std::path::Path>) -> Result<Self, SubnetError> {
        let adapters = Self::with_guard(guard)?;
        Ok(match credentials {
            Some(p) => adapters.with_credentials(Credentials::load(p)?),
            None => adapters,
        })
    }

    /// The operator's credentials, by netuid.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = std::sync::Arc::new(credentials);
        self
    }

    /// The network policy these adapters call under.
    pub fn guard(&self) -> &GuardConfig {
        &self.guard
    }

    /// Sign axon (v10) and btauth/1 calls with `keypair`. Without it those calls fail with
    /// [`SubnetError::Unsupported`] before anything is sent.
    pub fn with_keypair(mut self, keypair: Keypair) -> Self {
        let cfg = DendriteConfig {
            allow_private: self.guard.allow_private,
            max_response_bytes: self.guard.max_response_bytes,
            ..DendriteConfig::default()
        };
        let dendrite = Dendrite::new(keypair.clone(), cfg).map_err(|e| e.to_string());
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
        let result = self.http_call(entry.netuid, &endpoint, &method, &auth, btauth_key, &body, timeout).await;
        let latency_ms = t0.elapsed().as_millis() as u64;
        let req_digest = request_digest(&body).unwrap_or(Digest([0; 32]));
        let mut response_body = Value::Null;
        let (status, output, raw_digest, attestation, mut drift) = match result {
            Ok((code, text, location)) => {
                response_body = Value::String(text.clone());
                let digest = response_digest(&Value::String(text.clone())).unwrap_or(Digest([0; 32]));
                let attestation = json!({"http_status": code});
                if (300..400).contains(&code) {
                    // Not followed. The target is drift for the miner's own routing only (never
                    // a proposal: endpoints come from operators); the status carries no remote text.
                    let to = orchestra_net::guard::sanitize(&location.unwrap_or_default(), 512);
                    let drift = vec![Drift::Moved { from: endpoint.clone(), to }];
                    let err = SubnetError::Status { code, message: "redirect not followed".into() };
                    (CallStatus::Error { code, message: err.to_string() }, Err(err), digest, attestation, drift)
                } else if code != 200 {
                    // Never the body: a status and a length only.
                    let msg = format!("HTTP {code}, {} bytes", text.len());
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
                    SubnetError::TooLarge(_) => CallStatus::Error { code: 413, message: e.to_string() },
                    other => CallStatus::Error { code: 503, message: other.summary() },
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

    #[allow(clippy::too_many_arguments)]
    async fn http_call(
        &self,
        netuid: u16,
        url: &str,
        method: &str,
        auth: &AuthKind,
        btauth_key: Option<&Keypair>,
        body: &Value,
        timeout: Duration,
    ) -> Result<(u16, String, Option<String>), SubnetError> {
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| SubnetError::Other(format!("bad method {method}")))?;
        let checked = self.http.check_url(url)?;
        let mut req = self.http.request(m, url)?.timeout(timeout);
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
        // The entry only says *that* a credential is needed; which one, and where it may go,
        // is the operator's (the entry's `env`/`name` are ignored).
        match auth {
            AuthKind::None | AuthKind::Hotkey => {}
            AuthKind::Bearer { .. } | AuthKind::Header { .. } => {
                let cred = self.credentials.get(netuid).ok_or_else(|| {
                    SubnetError::MissingSecret(format!(
                        "netuid {netuid} needs a credential; add it to the operator's credential file (--subnet.credentials)"
                    ))
                })?;
                let host = checked.host_str().unwrap_or_default();
                if !cred.allows_host(host) {
                    return Err(SubnetError::Refused(format!(
                        "the credential for netuid {netuid} is bound to another host than `{host}`"
                    )));
                }
                req = cred.apply(req);
            }
        }
        let resp = match tokio::time::timeout(timeout, self.http.send(req)).await {
            Ok(r) => r?,
            Err(_) => return Err(SubnetError::Timeout(timeout)),
        };
        let location = resp.header("location").map(str::to_string);
        let text = String::from_utf8_lossy(&resp.body).into_owned();
        Ok((resp.status, text, location))
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
            // A moved endpoint is not proposed: validators refuse endpoint changes from
            // miners (transports come from operators and subnet owners), and a refused
            // proposal counts against its proposer.
            Drift::Moved { .. } => None,
        })
        .collect()
}
