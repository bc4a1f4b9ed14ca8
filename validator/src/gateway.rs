//! The validator's HTTP surface: the objective gateway (`/v1/objectives`), the miner feedback
//! API (`/v1/feedback/{hotkey}`), status, metrics, with the Ledger API mounted beside them.
//!
//! Gateway calls go through the Ledger API's own admission ([`LedgerApi::metered`]): an API key
//! of the developer tier or above, its per-key rate limit, its monthly quota and the API's
//! usage metrics. Submitting or revising an objective costs `--api.objective_cost` requests
//! (it makes the validator call miners and subnets); reading or accepting one costs 1.
//! Feedback is for miners: the request is signed by the miner's hotkey (btauth/1 headers) and
//! the answer is signed by the validator's hotkey (`X-Orchestra-Validator-Signature` over the
//! sha256 of the body).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use orchestra_incentive::score::task_score;
use orchestra_ledger_api::{ApiCaller, ErrorBody, LedgerApi, Metering};
use orchestra_ledger_store::Tier;
use orchestra_net::AxonTarget;
use orchestra_proto::btauth;
use orchestra_proto::contract::Contract;
use orchestra_proto::synapses::{Orchestrate, OrchestrateRequest};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::node::ValidatorNode;
use crate::verify::{VerifyConfig, verify};

/// The validator's own counters.
#[derive(Debug, Default)]
pub struct Metrics {
    pub tasks: Counter,
    pub weight_submissions: Counter,
    pub weight_failures: Counter,
    pub objectives: Counter,
}

fn err(code: StatusCode, what: &str, msg: impl Into<String>) -> Response {
    (code, Json(ErrorBody { error: msg.into(), code: what.into(), required_tier: None })).into_response()
}

/// The objective routes, as metric labels.
const SUBMIT_ROUTES: &[&str] = &["/v1/objectives", "/v1/objectives/{id}/revise"];
const READ_ROUTES: &[&str] = &["/v1/objectives/{id}", "/v1/objectives/{id}/accept"];

/// The router: gateway, feedback, status and metrics, merged with the Ledger API's routes. The
/// objective routes are metered by the Ledger API (`api`): keys, tiers, rate limits, quotas,
/// usage metrics.
pub fn router(node: Arc<ValidatorNode>, api: &LedgerApi) -> Router {
    let cost = node.cfg.objective_cost.max(1);
    let submit = Router::new()
        .route("/v1/objectives", post(submit))
        .route("/v1/objectives/{id}/revise", post(revise))
        .with_state(node.clone());
    let submit = api.metered(submit, Metering { tier: Tier::Developer, cost, routes: SUBMIT_ROUTES });
    let read = Router::new()
        .route("/v1/objectives/{id}", get(get_objective))
        .route("/v1/objectives/{id}/accept", post(accept))
        .with_state(node.clone());
    let read = api.metered(read, Metering { tier: Tier::Developer, cost: 1, routes: READ_ROUTES });
    let own = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/v1/status", get(status))
        .route("/v1/feedback/{hotkey}", get(feedback))
        .with_state(node);
    own.merge(submit).merge(read).merge(api.api_router())
}

/// `/metrics` and `/v1/status` show every miner's scores and the validator's errors: only to
/// loopback peers unless the operator publishes them (`--api.public_status`).
fn private_view_refused(n: &ValidatorNode, req: &axum::extract::Request) -> Option<Response> {
    if n.cfg.public_status {
        return None;
    }
    let peer = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    if peer.is_some_and(|ip| ip.is_loopback() || ip.to_canonical().is_loopback()) {
        return None;
    }
    Some(err(
        StatusCode::FORBIDDEN,
        "loopback_only",
        "status and metrics are served to loopback only; the operator can pass --api.public_status",
    ))
}

async fn metrics(State(n): State<Arc<ValidatorNode>>, req: axum::extract::Request) -> Response {
    if let Some(r) = private_view_refused(&n, &req) {
        return r;
    }
    let mut reg = Registry::default();
    reg.register("orchestra_validator_tasks", "Tasks sent to miners", n.metrics.tasks.clone());
    reg.register(
        "orchestra_validator_weight_submissions",
        "Weight submissions that landed",
        n.metrics.weight_submissions.clone(),
    );
    reg.register(
        "orchestra_validator_weight_failures",
        "Weight submissions that failed",
        n.metrics.weight_failures.clone(),
    );
    reg.register("orchestra_validator_objectives", "Gateway objectives served", n.metrics.objectives.clone());
    // The Ledger API's (and so the gateway's) requests, refusals and quota units.
    if let Some(api) = n.api.get() {
        api.register_metrics(&mut reg);
    }
    n.server_stats.register(reg.sub_registry_with_prefix("orchestra_validator_server"));
    let u = &n.upkeep_metrics;
    reg.register("orchestra_validator_upkeep_probes", "Ledger re-probes by outcome", u.probes.clone());
    reg.register(
        "orchestra_validator_upkeep_transitions",
        "Ledger entry status changes by the re-probe rule",
        u.transitions.clone(),
    );
    reg.register("orchestra_validator_upkeep_retried", "Deferred proposals probed again", u.retried.clone());
    reg.register("orchestra_validator_upkeep_over_budget", "Re-probe cycles out of time", u.over_budget.clone());
    let mut out = String::new();
    if encode(&mut out, &reg).is_err() {
        return err(StatusCode::INTERNAL_SERVER_ERROR, "metrics", "encoding failed");
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], out).into_response()
}

async fn status(State(n): State<Arc<ValidatorNode>>, req: axum::extract::Request) -> Response {
    if let Some(r) = private_view_refused(&n, &req) {
        return r;
    }
    let s = n.status.lock().clone();
    Json(json!({"hotkey": n.hotkey(), "netuid": n.cfg.neuron.netuid, "status": s, "ledger_root": n.store.root().ok()}))
        .into_response()
}

/// The key id admission found (objectives belong to the key that created them). Admission
/// already refused callers without a key of the developer tier.
fn key_of(caller: &ApiCaller) -> Result<String, Box<Response>> {
    caller.key_id.clone().ok_or_else(|| {
        Box::new(err(
            StatusCode::UNAUTHORIZED,
            "key_required",
            "an API key (developer tier or above) is required: Authorization: Bearer <key>",
        ))
    })
}

// The request and record views are the gateway's wire types, shared with its clients.
pub use orchestra_proto::gateway::{Contestant, ObjectiveRecord, ObjectiveRequest, ObjectiveState, ReviseRequest};

/// Why a gateway request body was refused: a stable code (`bad_json`, `bad_objective`,
/// `bad_schema`, `bad_feedback`) and a message. Answered as 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    pub code: &'static str,
    pub message: String,
}

impl BodyError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        BodyError { code, message: message.into() }
    }

    fn into_response(self) -> Response {
        err(StatusCode::BAD_REQUEST, self.code, self.message)
    }
}

/// The default contract of a gateway objective.
fn default_contract() -> Contract {
    Contract { deadline_ms: 20_000, ..Contract::default() }
}

/// Parse and check a `POST /v1/objectives` body: everything checked before any miner is asked
/// (the task's own rules, the schema shorthand, that the target schema compiles). Network
/// input: it never panics (property-tested in `tests/gateway_bodies.rs`).
pub fn parse_objective(body: &[u8]) -> Result<ObjectiveRequest, BodyError> {
    let req: ObjectiveRequest =
        serde_json::from_slice(body).map_err(|e| BodyError::new("bad_json", format!("body: {e}")))?;
    check_objective(&req, &[])?;
    Ok(req)
}

/// The checks of [`parse_objective`] on a parsed request with its revision requests.
pub fn check_objective(req: &ObjectiveRequest, feedback: &[String]) -> Result<OrchestrateRequest, BodyError> {
    let mut objective = req.objective.clone();
    for f in feedback {
        objective.push_str(&format!("\nRevision request: {f}"));
    }
    let task = OrchestrateRequest {
        task_id: "gw-check".into(),
        objective,
        target_schema: req.target_schema.clone(),
        contract: req.contract.clone().unwrap_or_else(default_contract),
        inputs: req.inputs.clone(),
    };
    task.validate().map_err(|e| BodyError::new("bad_objective", e.to_string()))?;
    let schema = orchestra_proto::shorthand::to_json_schema(&task.target_schema)
        .map_err(|e| BodyError::new("bad_schema", e.to_string()))?;
    jsonschema::validator_for(&schema)
        .map_err(|e| BodyError::new("bad_schema", format!("the target schema does not compile: {e}")))?;
    Orchestrate::from_request(task.clone()).map_err(|e| BodyError::new("bad_objective", e.to_string()))?;
    Ok(task)
}

/// Parse a `POST /v1/objectives/{id}/revise` body: `{"feedback": "..."}`, 1..=2000 bytes.
pub fn parse_revise(body: &[u8]) -> Result<String, BodyError> {
    let rv: ReviseRequest = serde_json::from_slice(body)
        .map_err(|e| BodyError::new("bad_json", format!("body needs {{\"feedback\": \"...\"}}: {e}")))?;
    if rv.feedback.trim().is_empty() || rv.feedback.len() > 2000 {
        return Err(BodyError::new("bad_feedback", "feedback must be 1..=2000 bytes"));
    }
    Ok(rv.feedback)
}

async fn run_objective(
    n: &Arc<ValidatorNode>,
    id: &str,
    req: &ObjectiveRequest,
    feedback: &[String],
) -> Result<ObjectiveRecord, Response> {
    let mut task = check_objective(req, feedback).map_err(BodyError::into_response)?;
    // Miners see an id unrelated to the objective's: derived with the validator's key, so
    // nobody else can link the two (and a miner cannot name the objective to anyone).
    task.task_id = format!("gw-{}", hex::encode(&n.key.sign(format!("{id}/{}", feedback.len()).as_bytes())[..16]));
    let syn = Orchestrate::from_request(task.clone())
        .map_err(|e| err(StatusCode::BAD_REQUEST, "bad_objective", e.to_string()))?;
    // Pick miners: serving neurons by this validator's orchestration score, best first.
    let mg = n.metagraph.read().await.clone();
    let Some(mg) = mg else {
        return Err(err(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the validator has not synced the metagraph yet; retry shortly",
        ));
    };
    let scores = n.status.lock().scores.clone();
    let mut miners: Vec<_> = mg.neurons.iter().filter(|x| x.hotkey != n.hotkey() && x.axon.is_serving()).collect();
    miners.sort_by(|a, b| {
        let sa = scores.get(&a.hotkey).map(|s| s.0).unwrap_or(0.0);
        let sb = scores.get(&b.hotkey).map(|s| s.0).unwrap_or(0.0);
        sb.total_cmp(&sa)
    });
    miners.truncate(req.top_n.clamp(1, 8));
    if miners.is_empty() {
        return Err(err(StatusCode::SERVICE_UNAVAILABLE, "no_miners", "no miner is serving on this subnet"));
    }
    let timeout = Duration::from_millis(task.contract.deadline_ms + 2_000);
    // Only entries that may verify anyone are used to check work (see LedgerEntry::verifies).
    let ledger: Vec<_> = n
        .store
        .entries()
        .map_err(|e| err(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()))?
        .into_iter()
        .filter(orchestra_proto::ledger::LedgerEntry::verifies)
        .collect();
    let policy = n.policy().await;
    let vcfg = VerifyConfig { reprobe_rate: policy.reprobe_rate, seed: 1, reprobe_timeout: Duration::from_secs(5) };
    let mut best: Option<(f64, String, Orchestrate, Contestant)> = None;
    let mut contestants = Vec::new();
    let calls = miners.iter().filter_map(|m| {
        let ip = orchestra_chain::int_to_ip(m.axon.ip, m.axon.ip_type)?;
        Some((m.hotkey.clone(), AxonTarget::new(ip.to_string(), m.axon.port, m.hotkey.clone())))
    });
    let futs = calls.map(|(hk, t)| {
        let syn = syn.clone();
        async move {
            let t0 = Instant::now();
            let r = n.dendrite.call(&t, syn, timeout).await;
            (hk, r, t0.elapsed())
        }
    });
    // The validator answers the objective itself while the miners work, and judges their
    // answers against it field by field.
    let schema = orchestra_proto::shorthand::to_json_schema(&task.target_schema).unwrap_or(Value::Null);
    let reference = crate::reference::compute(&task.objective, &schema, &ledger, &n.adapters, timeout);
    let (answers, reference) = tokio::join!(futures::future::join_all(futs), reference);
    let reference = match reference {
        Ok(r) => Some(r.answer),
        Err(e) => {
            tracing::info!(objective = %id, error = %e, "no reference answer; judging by evidence alone");
            None
        }
    };
    let mut reasons = Vec::new();
    for (hk, r, elapsed) in answers {
        if !r.is_success() {
            reasons.push(format!("{hk}: the call failed (status {})", r.status_code));
            // The status only: the axon's message is its own text.
            contestants.push(Contestant::failed(hk, format!("status {}", r.status_code)));
            continue;
        }
        let v = verify(&task, &r.synapse, &hk, elapsed, &ledger, &n.adapters, &vcfg, reference.as_ref()).await;
        let s = task_score(&v.sub, &policy);
        let error = r.synapse.error.as_deref().map(|e| orchestra_net::guard::sanitize(e, 200));
        let card = Contestant {
            miner: hk.clone(),
            score: Some(s.clone()),
            sub: Some(v.sub.clone()),
            notes: v.notes.clone(),
            error: error.clone(),
        };
        contestants.push(card.clone());
        if r.synapse.result.is_none() {
            let why = error.clone().unwrap_or_else(|| "no result".into());
            reasons.push(format!("{hk}: {why}"));
            continue;
        }
        // A zero score is never delivered: it failed a check that makes the answer untrustworthy.
        if s.total <= 0.0 {
            let why = s.zeroed.clone().or_else(|| v.notes.first().cloned()).unwrap_or_else(|| "scored 0".into());
            reasons.push(format!("{hk}: {why}"));
            continue;
        }
        if best.as_ref().is_none_or(|b| s.total > b.0) {
            best = Some((s.total, hk, r.synapse, card));
        }
    }
    n.metrics.objectives.inc();
    let (state, result, miner, scores, receipts, root) = match best {
        Some((_, hk, syn, card)) => (
            ObjectiveState::Completed,
            syn.result.clone(),
            Some(hk),
            Some(card),
            syn.receipts.clone(),
            syn.receipt_root.map(|r| r.to_hex()),
        ),
        None => (ObjectiveState::Failed, None, None, None, Vec::new(), None),
    };
    let reason = (state == ObjectiveState::Failed)
        .then(|| if reasons.is_empty() { "no miner answered".to_string() } else { reasons.join("; ") });
    Ok(ObjectiveRecord {
        id: id.to_string(),
        request: req.clone(),
        state,
        result,
        miner,
        scores,
        receipts,
        receipt_root: root,
        revisions: feedback.to_vec(),
        contestants,
        reason,
        owner: None,
        updated_ms: orchestra_ledger_store::now_ms(),
    })
}

async fn submit(State(n): State<Arc<ValidatorNode>>, Extension(c): Extension<ApiCaller>, body: Bytes) -> Response {
    let key_id = match key_of(&c) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let req = match parse_objective(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let id =
        format!("obj-{}", &blake3::hash(&[&body[..], &orchestra_net::now_ns().to_le_bytes()].concat()).to_hex()[..20]);
    match run_objective(&n, &id, &req, &[]).await {
        Ok(mut rec) => {
            rec.owner = Some(key_id);
            match crate::records::put(&n.store, |b| crate::records::OBJECTIVES.put(b, &id.to_string(), &rec)) {
                Ok(()) => (StatusCode::CREATED, Json(rec)).into_response(),
                Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
            }
        }
        Err(r) => r,
    }
}

/// Records from before objectives had owners stay readable by any key with the tier.
fn owned_by(r: &ObjectiveRecord, key_id: &str) -> bool {
    r.owner.as_deref().is_none_or(|o| o == key_id)
}

/// The objective `id` if the caller's key owns it; another key gets the same 404 as a missing
/// one, so ids cannot be probed.
async fn load(n: &ValidatorNode, id: &str, key_id: &str) -> Result<ObjectiveRecord, Response> {
    match crate::records::OBJECTIVES.get(n.store.db(), &id.to_string()) {
        Ok(Some(r)) if owned_by(&r, key_id) => Ok(r),
        Ok(Some(_)) => Err(err(StatusCode::NOT_FOUND, "not_found", format!("no objective {id}"))),
        Ok(None) => Err(err(StatusCode::NOT_FOUND, "not_found", format!("no objective {id}"))),
        Err(e) => Err(err(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string())),
    }
}

async fn get_objective(
    State(n): State<Arc<ValidatorNode>>,
    Extension(c): Extension<ApiCaller>,
    Path(id): Path<String>,
) -> Response {
    let key_id = match key_of(&c) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    match load(&n, &id, &key_id).await {
        Ok(r) => Json(r).into_response(),
        Err(r) => r,
    }
}

async fn revise(
    State(n): State<Arc<ValidatorNode>>,
    Extension(c): Extension<ApiCaller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let key_id = match key_of(&c) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let feedback = match parse_revise(&body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let rec = match load(&n, &id, &key_id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    if rec.state == ObjectiveState::Accepted {
        return err(StatusCode::CONFLICT, "settled", "this objective was accepted; submit a new one");
    }
    let mut fb = rec.revisions.clone();
    fb.push(feedback);
    match run_objective(&n, &id, &rec.request, &fb).await {
        Ok(mut new) => {
            new.owner = rec.owner.clone();
            match crate::records::put(&n.store, |b| crate::records::OBJECTIVES.put(b, &id.to_string(), &new)) {
                Ok(()) => Json(new).into_response(),
                Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
            }
        }
        Err(r) => r,
    }
}

async fn accept(
    State(n): State<Arc<ValidatorNode>>,
    Extension(c): Extension<ApiCaller>,
    Path(id): Path<String>,
) -> Response {
    let key_id = match key_of(&c) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let mut rec = match load(&n, &id, &key_id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    if rec.state == ObjectiveState::Failed {
        return err(
            StatusCode::CONFLICT,
            "not_completed",
            format!("objective is {}; only a completed one can be accepted", rec.state),
        );
    }
    rec.state = ObjectiveState::Accepted;
    rec.updated_ms = orchestra_ledger_store::now_ms();
    match crate::records::put(&n.store, |b| crate::records::OBJECTIVES.put(b, &id.to_string(), &rec)) {
        Ok(()) => Json(rec).into_response(),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
    }
}

async fn feedback(State(n): State<Arc<ValidatorNode>>, headers: HeaderMap, Path(hotkey): Path<String>) -> Response {
    // The miner proves it is `hotkey` with btauth/1 headers over this GET.
    let pairs: Vec<(&str, &str)> =
        headers.iter().filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v))).collect();
    let auth = match btauth::AuthHeaders::parse(pairs) {
        Ok(Some(a)) => a,
        Ok(None) => {
            return err(
                StatusCode::UNAUTHORIZED,
                "signature_required",
                "sign this request with the miner hotkey (btauth/1 X-Bittensor-* headers)",
            );
        }
        Err(e) => return err(StatusCode::UNAUTHORIZED, "bad_signature", e.to_string()),
    };
    if auth.hotkey != hotkey {
        return err(StatusCode::FORBIDDEN, "not_yours", "a miner may only read its own feedback");
    }
    if auth.receiver.as_deref() != Some(n.hotkey()) {
        return err(
            StatusCode::UNAUTHORIZED,
            "wrong_receiver",
            format!("sign for this validator's hotkey {}", n.hotkey()),
        );
    }
    if let Err(e) = btauth::fresh(
        auth.nonce_ns,
        orchestra_net::now_ns(),
        btauth::DEFAULT_MAX_AGE_NS,
        btauth::DEFAULT_ALLOWED_SKEW_NS,
    ) {
        return err(StatusCode::UNAUTHORIZED, "stale", e);
    }
    let path = format!("/v1/feedback/{hotkey}");
    let payload = btauth::payload("GET", &path, b"", auth.nonce_ns, &auth.hotkey, Some(n.hotkey()));
    let ok = orchestra_keys::PublicKey::from_ss58(&hotkey)
        .ok()
        .zip(orchestra_keys::parse_signature_hex(&auth.signature).ok())
        .is_some_and(|(pk, sig)| pk.verify(payload.as_bytes(), &sig));
    if !ok {
        return err(StatusCode::UNAUTHORIZED, "bad_signature", "the signature does not verify");
    }
    let db = n.store.db();
    let state = crate::records::MINERS.get(db, &hotkey).ok().flatten();
    let last = crate::records::LAST_TASK.get(db, &hotkey).ok().flatten();
    let task: Option<Value> =
        last.and_then(|t| crate::records::TASKS.get(db, &crate::records::TaskKey::new(&hotkey, &t)).ok().flatten());
    let body = json!({"validator": n.hotkey(), "miner": hotkey, "ema": state, "last_task": task});
    let bytes = body.to_string();
    let sig = n.key.sign_hex(&Sha256::digest(bytes.as_bytes()));
    (
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::HeaderName::from_static("x-orchestra-validator-signature"), sig),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objectives_belong_to_their_key() {
        let mut r: ObjectiveRecord = serde_json::from_value(json!({
            "id": "obj-1", "request": {"objective": "x", "target_schema": {"a": "str"}}, "state": "completed",
            "result": null, "miner": null, "scores": null, "receipts": [], "receipt_root": null,
            "revisions": [], "contestants": []}))
        .expect("record");
        assert!(owned_by(&r, "k1"), "legacy records without an owner");
        r.owner = Some("k1".into());
        assert!(owned_by(&r, "k1"));
        assert!(!owned_by(&r, "k2"), "another key cannot read, revise or accept it");
    }
}
