//! Generic subnet adapters: one per transport, driven by a Ledger entry. Adding a subnet means
//! adding a Ledger entry, not code.
//!
//! [`Adapters::call`] validates the input against the entry's input schema, calls the subnet
//! over the entry's transports in order (falling back to the next one when a transport fails),
//! and always returns a [`Receipt`] for every call that went out (success or failure: the one
//! the outcome reports, and the failed [`Attempt`]s before it), the parsed output when there is
//! one, and the drift between the response and the entry's output schema ([`schema::Drift`]).
//! Drift becomes Ledger proposals through [`proposals_from_drift`].
//!
//! An `axon_v10` transport with a fixed endpoint calls that axon; without one it is routed
//! through the target subnet's metagraph ([`axons`]): the serving axons, best first, are tried
//! in turn (at most [`AxonRouting::max_axons`]), and the receipt names the axon that answered
//! (`endpoint` = `ip:port/Synapse`, `target` = its hotkey, its uid in the attestation).

pub mod axons;
mod bittensor;
pub mod credentials;
pub mod schema;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use orchestra_keys::Keypair;
use orchestra_net::{Dendrite, DendriteConfig, GuardError, GuardedClient};
use orchestra_proto::canonical::{Digest, request_digest, response_digest};
use orchestra_proto::ledger::{AuthKind, LedgerEntry, TransportSpec};
use orchestra_proto::receipt::{CallStatus, Receipt, Transport};
use orchestra_proto::synapses::{CallEvidence, LedgerProposal, UpdateType};
use serde_json::{Value, json};

pub use axons::{AxonDirectory, AxonRouting, ServingAxon, StaticAxons};
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
    /// A metagraph-routed axon transport found no axon to call.
    #[error("no serving axon for netuid {netuid}: {reason}")]
    NoServingAxon { netuid: u16, reason: String },
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

    /// A short, fixed description with no remote text and no local detail: what a decision
    /// reason or a published record may say about a failed call.
    pub fn summary(&self) -> String {
        match self {
            SubnetError::Schema(_) => "the request does not match the entry's input schema".into(),
            SubnetError::NoTransport(_) => "the entry has no usable transport".into(),
            SubnetError::NoServingAxon { .. } => "no serving axon in the subnet's metagraph".into(),
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
    /// Drift seen in the answer, and endpoint moves seen by the failed attempts.
    pub drift: Vec<Drift>,
    /// Calls of the same request that went out before the reported one and failed (an axon
    /// that did not answer, a transport that failed before the next was tried), in call order.
    /// Each has its receipt: the call was made.
    pub attempts: Vec<Attempt>,
}

/// A call that went out and failed, before the one a [`CallOutcome`] reports.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub receipt: Receipt,
    pub evidence: CallEvidence,
    pub error: SubnetError,
}

impl CallOutcome {
    /// A call that never went out: no receipt, no evidence.
    fn refused(e: SubnetError) -> CallOutcome {
        CallOutcome { receipt: None, evidence: None, output: Err(e), drift: Vec::new(), attempts: Vec::new() }
    }

    /// Every call that went out, in call order: the failed attempts, then the reported call.
    pub fn calls(&self) -> Vec<(&Receipt, &CallEvidence)> {
        let mut v: Vec<(&Receipt, &CallEvidence)> = self.attempts.iter().map(|a| (&a.receipt, &a.evidence)).collect();
        if let (Some(r), Some(e)) = (&self.receipt, &self.evidence) {
            v.push((r, e));
        }
        v
    }

    /// Gather the per-call outcomes of one request: the first success is reported with every
    /// call before it as an attempt; without one, the last call that went out is reported; a
    /// request where nothing went out reports the first reason.
    fn gather(parts: Vec<CallOutcome>, fallback: SubnetError) -> CallOutcome {
        let mut attempts = Vec::new();
        let mut drift = Vec::new();
        let mut first_refusal = None;
        let mut last_out: Option<CallOutcome> = None;
        for mut p in parts {
            if p.receipt.is_none() || p.evidence.is_none() {
                if first_refusal.is_none() {
                    first_refusal = p.output.err();
                }
                continue;
            }
            if p.output.is_ok() {
                if let Some(prev) = last_out.take() {
                    push_attempt(&mut attempts, &mut drift, prev);
                }
                drift.append(&mut p.drift);
                p.drift = drift;
                p.attempts = attempts;
                return p;
            }
            if let Some(prev) = last_out.replace(p) {
                push_attempt(&mut attempts, &mut drift, prev);
            }
        }
        match last_out {
            Some(mut p) => {
                drift.append(&mut p.drift);
                p.drift = drift;
                p.attempts = attempts;
                p
            }
            None => CallOutcome::refused(first_refusal.unwrap_or(fallback)),
        }
    }
}

fn push_attempt(attempts: &mut Vec<Attempt>, drift: &mut Vec<Drift>, p: CallOutcome) {
    drift.extend(p.drift);
    if let (Some(receipt), Some(evidence), Err(error)) = (p.receipt, p.evidence, p.output) {
        attempts.push(Attempt { receipt, evidence, error });
    }
}

/// The time one attempt may take: all that is left for the last candidate, 60% of it when
/// others could still be tried (a hung axon or endpoint must leave time for the fallback).
fn attempt_budget(deadline: Instant, more_after: bool) -> Duration {
    let left = deadline.saturating_duration_since(Instant::now());
    if more_after { left.mul_f64(0.6) } else { left }
}

/// The adapters, sharing one pooled guarded HTTP client (and, with a key, its dendrites).
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
    /// Who serves on which subnet, for metagraph-routed axon transports.
    axons: Option<std::sync::Arc<dyn AxonDirectory>>,
    routing: AxonRouting,
    /// What these adapters (and their clones) measured calling axons.
    stats: axons::AxonStats,
}

/// A hotkey and the dendrites signing with it (one per axon dialect).
#[derive(Clone)]
struct Signer {
    keypair: Keypair,
    /// Building a dendrite's HTTP client can fail; kept as an error so that `with_keypair`
    /// stays infallible and the failure surfaces on the calls that need it.
    dendrite: Result<Dendrite, String>,
    btauth: Result<Dendrite, String>,
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
        Ok(Adapters {
            http,
            guard,
            credentials: Default::default(),
            signer: None,
            axons: None,
            routing: AxonRouting::default(),
            stats: Default::default(),
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
        let btauth_cfg = DendriteConfig { auth: orchestra_net::DendriteAuth::BtAuth, ..cfg.clone() };
        let dendrite = Dendrite::new(keypair.clone(), cfg).map_err(|e| e.to_string());
        let btauth = Dendrite::new(keypair.clone(), btauth_cfg).map_err(|e| e.to_string());
        self.signer = Some(Signer { keypair, dendrite, btauth });
        self
    }

    /// Route `axon_v10` transports without a fixed endpoint through `directory` (the
    /// metagraphs of the target subnets). Without one, such transports are refused (and the
    /// entry's next transport is tried).
    pub fn with_axons(mut self, directory: std::sync::Arc<dyn AxonDirectory>) -> Self {
        self.axons = Some(directory);
        self
    }

    /// How many axons to try and how long a failed one waits.
    pub fn with_axon_routing(mut self, routing: AxonRouting) -> Self {
        self.routing = routing;
        self
    }

    /// Call the subnet of `entry` with `input` for plan step `step_id`, within `timeout` in
    /// total: the entry's transports in order, each routed axon transport over its best
    /// serving axons, until one answers.
    pub async fn call(&self, entry: &LedgerEntry, input: &Value, step_id: &str, timeout: Duration) -> CallOutcome {
        self.call_preferring(entry, input, step_id, timeout, None).await
    }

    /// Re-issue the request behind `receipt` (a validator's re-probe): as [`Adapters::call`],
    /// but a metagraph-routed axon transport first tries the axon the receipt names, when the
    /// metagraph shows that hotkey serving on the entry's subnet (called at the metagraph's
    /// address, never at the one written in the receipt), then the other serving axons.
    pub async fn reprobe(
        &self,
        entry: &LedgerEntry,
        input: &Value,
        step_id: &str,
        timeout: Duration,
        receipt: &Receipt,
    ) -> CallOutcome {
        let prefer = (receipt.netuid == entry.netuid).then_some(receipt.target.as_str());
        self.call_preferring(entry, input, step_id, timeout, prefer).await
    }

    async fn call_preferring(
        &self,
        entry: &LedgerEntry,
        input: &Value,
        step_id: &str,
        timeout: Duration,
        prefer: Option<&str>,
    ) -> CallOutcome {
        // Required fields the caller left out that the entry gives a default for.
        let filled = schema::fill_defaults(&entry.input_schema, input);
        let input = &filled;
        if let Err(e) = schema::validate(&entry.input_schema, input, "input") {
            return CallOutcome::refused(e);
        }
        if entry.transports.is_empty() {
            return CallOutcome::refused(SubnetError::NoTransport(entry.netuid));
        }
        let deadline = Instant::now() + timeout;
        let mut parts = Vec::new();
        for (i, transport) in entry.transports.iter().enumerate() {
            let more_after = i + 1 < entry.transports.len();
            if i > 0 && deadline <= Instant::now() {
                break;
            }
            let out = match transport {
                TransportSpec::AxonV10 { synapse, required_fields, hash_fields, endpoint, hotkey, dialect } => {
                    let spec = bittensor::AxonSpec {
                        synapse,
                        required_fields,
                        hash_fields,
                        endpoint: endpoint.as_deref(),
                        hotkey: hotkey.as_deref(),
                        dialect: *dialect,
                    };
                    self.call_axons(entry, &spec, input, step_id, deadline, more_after, prefer).await
                }
                other => vec![self.call_http(entry, other, input, step_id, attempt_budget(deadline, more_after)).await],
            };
            let answered = out.iter().any(|o| o.output.is_ok());
            parts.extend(out);
            if answered {
                break;
            }
        }
        CallOutcome::gather(parts, SubnetError::NoTransport(entry.netuid))
    }

    /// One call over an HTTP-shaped transport (plain JSON, btauth/1, OpenAI chat).
    async fn call_http(
        &self,
        entry: &LedgerEntry,
        transport: &TransportSpec,
        input: &Value,
        step_id: &str,
        timeout: Duration,
    ) -> CallOutcome {
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
            TransportSpec::AxonV10 { .. } => {
                return CallOutcome::refused(SubnetError::Other("an axon transport on the HTTP path".into()));
            }
        };
        let (method, auth) = target;
        let result = self.http_call(entry.netuid, &endpoint, &method, &auth, btauth_key, &body, timeout).await;
        // Refused by the network policy, no operator credential, a request that cannot be
        // built: nothing reached the subnet, so there is nothing to receipt.
        if let Err(e @ (SubnetError::MissingSecret(_) | SubnetError::Refused(_) | SubnetError::Other(_))) = &result {
            return CallOutcome::refused(e.clone());
        }
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
            attempts: Vec::new(),
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
