//! Routes, handlers and the admission middleware (key, tier, rate limit, headers, metrics).
//!
//! Each handler carries a `#[utoipa::path]` annotation; [`crate::openapi`] collects them into
//! `/openapi.json`, and a test checks that every entry of [`ROUTES`] is documented.

use std::collections::HashMap;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use orchestra_ledger_store::{DeliveryState, Tier, Webhook, now_ms};
use prometheus_client::encoding::text::encode;

use crate::auth::{Caller, presented_key};
use crate::error::{ApiError, ErrorBody};
use crate::metrics::{RequestLabels, RouteLabels, TierLabels};
use crate::views::{ChangesPage, DeliveryCounts, Health, WebhookCreated, WebhookRequest, WebhookView};
use crate::{LedgerApi, sse, webhook};

/// Every route the API serves: (method, path). `/openapi.json` must document each one (tested).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/subnets"),
    ("GET", "/v1/subnets/{netuid}"),
    ("GET", "/v1/subnets/{netuid}/schema"),
    ("GET", "/v1/subnets/{netuid}/history"),
    ("GET", "/v1/find"),
    ("GET", "/v1/changes"),
    ("GET", "/v1/root"),
    ("POST", "/v1/webhooks"),
    ("GET", "/v1/webhooks/{id}"),
    ("DELETE", "/v1/webhooks/{id}"),
    ("GET", "/v1/keys/prices"),
    ("POST", "/v1/keys/quote"),
    ("POST", "/v1/keys/redeem"),
    ("GET", "/openapi.json"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
];

/// The route template as a `'static` metric label.
fn route_label(path: &str) -> &'static str {
    ROUTES.iter().find(|(_, p)| *p == path).map(|(_, p)| *p).unwrap_or("other")
}

pub(crate) fn router(api: LedgerApi, with_ops: bool) -> Router {
    let open = Router::new()
        .route("/v1/subnets", get(list))
        .route("/v1/subnets/{netuid}", get(get_one))
        .route("/v1/find", get(find))
        .route("/v1/root", get(root))
        .route("/openapi.json", get(openapi))
        .route("/v1/keys/prices", get(crate::payments::prices))
        .route("/v1/keys/quote", axum::routing::post(crate::payments::quote))
        .route("/v1/keys/redeem", axum::routing::post(crate::payments::redeem));
    let developer = Router::new()
        .route("/v1/subnets/{netuid}/schema", get(schema))
        .route("/v1/subnets/{netuid}/history", get(history))
        .route("/v1/changes", get(changes))
        .route_layer(middleware::from_fn(move |req: Request, next: Next| require(Tier::Developer, req, next)));
    let production = Router::new()
        .route("/v1/webhooks", axum::routing::post(create_webhook))
        .route("/v1/webhooks/{id}", get(get_webhook).delete(delete_webhook))
        .route_layer(middleware::from_fn(move |req: Request, next: Next| require(Tier::Production, req, next)));
    let mut app = open.merge(developer).merge(production).layer(middleware::from_fn_with_state(api.clone(), admission));
    if with_ops {
        app = app.route("/healthz", get(healthz)).route("/metrics", get(metrics));
    }
    app.with_state(api)
}

/// Identify the caller, apply its limits, and stamp the rate-limit headers on the answer.
async fn admission(State(api): State<LedgerApi>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| route_label(m.as_str())).unwrap_or("other");
    admit_and_run(&api, req, next, route, Tier::Free, 1).await
}

/// Admission for another service's routes (see [`crate::LedgerApi::metered`]): the same keys,
/// limits, quota and metrics, a tier check, and a cost per request.
pub(crate) async fn metered(
    State((api, m)): State<(LedgerApi, crate::Metering)>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|p| m.routes.iter().find(|r| **r == p.as_str()).copied())
        .unwrap_or("other");
    let gated = Gated { required: m.tier, route, next };
    admit_and_run(&api, req, gated, route, m.tier, m.cost).await
}

/// A handler behind a tier check, run once admission knows the caller.
struct Gated {
    required: Tier,
    route: &'static str,
    next: Next,
}

/// Something admission runs once the caller is known.
trait Proceed {
    fn proceed(self, req: Request) -> impl std::future::Future<Output = Response> + Send;
}

impl Proceed for Next {
    async fn proceed(self, req: Request) -> Response {
        self.run(req).await
    }
}

impl Proceed for Gated {
    async fn proceed(self, req: Request) -> Response {
        let caller = req.extensions().get::<Caller>().cloned().unwrap_or(Caller { tier: Tier::Free, key: None });
        let what = format!("`{} {}`", req.method(), self.route);
        match caller.require(self.required, &what) {
            Ok(()) => self.next.run(req).await,
            Err(e) => e.into_response(),
        }
    }
}

async fn admit_and_run(
    api: &LedgerApi,
    mut req: Request,
    next: impl Proceed,
    route: &'static str,
    required: Tier,
    cost: u32,
) -> Response {
    let start = Instant::now();
    let inner = &api.inner;
    let ip = inner.auth.client_ip(&req);
    let outcome = inner.auth.admit_cost(presented_key(req.headers()), ip, required, cost);
    let resp = match outcome {
        Ok(adm) => {
            let caller = adm.caller.clone();
            req.extensions_mut()
                .insert(crate::ApiCaller { tier: adm.caller.tier, key_id: adm.caller.key_id().map(str::to_string) });
            req.extensions_mut().insert(adm.caller);
            let mut resp = next.proceed(req).await;
            if resp.status().is_success() {
                inner.auth.count(&caller, adm.cost);
                inner.metrics.units.get_or_create(&RouteLabels { route }).inc_by(u64::from(adm.cost));
            }
            adm.headers.apply(resp.headers_mut());
            resp
        }
        Err(refusal) => {
            let tier = match &refusal.error {
                ApiError::QuotaExceeded { .. } => "developer",
                _ => "any",
            };
            inner.metrics.refused.get_or_create(&TierLabels { tier }).inc();
            let mut resp = refusal.error.into_response();
            if let Some(h) = refusal.headers {
                h.apply(resp.headers_mut());
            }
            resp
        }
    };
    inner.metrics.requests.get_or_create(&RequestLabels { route, status: resp.status().as_u16() }).inc();
    inner.metrics.latency.get_or_create(&RouteLabels { route }).observe(start.elapsed().as_secs_f64());
    resp
}

/// Route-level tier requirement (runs inside [`admission`], which set the caller).
async fn require(tier: Tier, req: Request, next: Next) -> Response {
    let have = req.extensions().get::<Caller>().map(|c| c.tier).unwrap_or(Tier::Free);
    if have >= tier {
        return next.run(req).await;
    }
    let what = format!(
        "`{} {}`",
        req.method(),
        req.extensions().get::<MatchedPath>().map(|m| m.as_str()).unwrap_or(req.uri().path())
    );
    let caller = req.extensions().get::<Caller>().cloned().unwrap_or(Caller { tier: Tier::Free, key: None });
    match caller.require(tier, &what) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn json_bytes(b: Bytes) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], b).into_response()
}

fn json_value<T: serde::Serialize>(status: StatusCode, v: &T) -> Result<Response, ApiError> {
    let b = serde_json::to_vec(v).map_err(|e| ApiError::Internal(format!("serialize: {e}")))?;
    Ok((status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], b).into_response())
}

fn parse_netuid(raw: Result<Path<String>, PathRejection>) -> Result<u16, ApiError> {
    let Path(s) = raw.map_err(|e| ApiError::bad("bad_netuid", format!("netuid: {e}")))?;
    s.parse::<u16>().map_err(|_| ApiError::bad("bad_netuid", format!("netuid `{s}` is not an integer in 0..=65535")))
}

fn query(q: Result<Query<HashMap<String, String>>, QueryRejection>) -> Result<HashMap<String, String>, ApiError> {
    q.map(|Query(m)| m).map_err(|e| ApiError::bad("bad_request", format!("query string: {e}")))
}

fn caller_of(c: Option<Extension<Caller>>) -> Caller {
    c.map(|Extension(c)| c).unwrap_or(Caller { tier: Tier::Free, key: None })
}

fn not_found_entry(netuid: u16) -> ApiError {
    ApiError::NotFound(format!("no Ledger entry for netuid {netuid}"))
}

/// List every entry.
#[utoipa::path(get, path = "/v1/subnets", tag = "ledger",
    responses(
        (status = 200, description = "Every entry in netuid order (free: summaries; developer and up: full entries)", body = crate::views::SubnetList),
        (status = 429, description = "Rate limit or quota", body = ErrorBody),
    ),
    security((), ("api_key" = []), ("bearer" = [])))]
async fn list(State(api): State<LedgerApi>, c: Option<Extension<Caller>>) -> Response {
    json_bytes(api.inner.snapshot.load().list.for_tier(caller_of(c).tier))
}

/// One entry.
#[utoipa::path(get, path = "/v1/subnets/{netuid}", tag = "ledger",
    params(("netuid" = u16, Path, description = "subnet id")),
    responses(
        (status = 200, description = "The entry (free: summary; developer and up: full)", body = crate::views::SubnetView),
        (status = 400, description = "netuid is not an integer in 0..=65535", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
    ),
    security((), ("api_key" = []), ("bearer" = [])))]
async fn get_one(
    State(api): State<LedgerApi>,
    c: Option<Extension<Caller>>,
    p: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let netuid = parse_netuid(p)?;
    let snap = api.inner.snapshot.load();
    let e = snap.entries.get(&netuid).ok_or_else(|| not_found_entry(netuid))?;
    Ok(json_bytes(e.get().for_tier(caller_of(c).tier)))
}

/// An entry's input and output JSON Schemas and probe fixture.
#[utoipa::path(get, path = "/v1/subnets/{netuid}/schema", tag = "ledger",
    params(("netuid" = u16, Path, description = "subnet id")),
    responses(
        (status = 200, body = crate::views::SchemaView),
        (status = 400, body = ErrorBody), (status = 401, description = "No key", body = ErrorBody),
        (status = 403, description = "Tier below developer", body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn schema(State(api): State<LedgerApi>, p: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let netuid = parse_netuid(p)?;
    let snap = api.inner.snapshot.load();
    let e = snap.entries.get(&netuid).ok_or_else(|| not_found_entry(netuid))?;
    Ok(json_bytes(e.schema().clone()))
}

/// Every version of an entry, oldest first; `?version=V` for one version.
#[utoipa::path(get, path = "/v1/subnets/{netuid}/history", tag = "ledger",
    params(("netuid" = u16, Path, description = "subnet id"),
           ("version" = Option<u64>, Query, description = "one version only")),
    responses(
        (status = 200, description = "All versions (HistoryView), or the one version asked for (LedgerEntry)", body = crate::views::HistoryView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn history(
    State(api): State<LedgerApi>,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let netuid = parse_netuid(p)?;
    let q = query(q)?;
    if let Some(v) = q.get("version") {
        let version = v
            .parse::<u64>()
            .map_err(|_| ApiError::bad("bad_version", format!("version `{v}` is not a non-negative integer")))?;
        let e = api
            .inner
            .store
            .entry_version(netuid, version)?
            .ok_or_else(|| ApiError::NotFound(format!("netuid {netuid} has no version {version}")))?;
        return json_value(StatusCode::OK, &e);
    }
    let snap = api.inner.snapshot.load();
    let b = snap.history(&api.inner.store, netuid)?.ok_or_else(|| not_found_entry(netuid))?;
    Ok(json_bytes(b))
}

fn is_capability_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 48 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Entries offering a capability, best first.
#[utoipa::path(get, path = "/v1/find", tag = "ledger",
    params(("capability" = String, Query, description = "capability name, e.g. web_search")),
    responses(
        (status = 200, description = "Verified before candidate, then reliability, p50 latency, cost; deprecated left out", body = crate::views::FindResult),
        (status = 400, description = "Missing or malformed capability", body = ErrorBody),
    ),
    security((), ("api_key" = []), ("bearer" = [])))]
async fn find(
    State(api): State<LedgerApi>,
    c: Option<Extension<Caller>>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let cap = q
        .get("capability")
        .ok_or_else(|| ApiError::bad("bad_capability", "the `capability` query parameter is required"))?;
    if !is_capability_name(cap) {
        return Err(ApiError::bad(
            "bad_capability",
            format!("capability `{cap}` must be 1..=48 lowercase letters, digits and `_`"),
        ));
    }
    let snap = api.inner.snapshot.load();
    match snap.find.get(cap.as_str()) {
        Some(v) => Ok(json_bytes(v.for_tier(caller_of(c).tier))),
        None => Ok(json_bytes(snap.find_none(cap))),
    }
}

fn wants_sse(h: &HeaderMap) -> bool {
    h.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/event-stream"))
}

/// The change feed: a JSON page, or a live SSE stream with `Accept: text/event-stream`.
#[utoipa::path(get, path = "/v1/changes", tag = "ledger",
    params(("since" = Option<u64>, Query, description = "events with seq > since (JSON default 0; SSE default: from now on; SSE also honours Last-Event-ID)"),
           ("limit" = Option<usize>, Query, description = "JSON page size, 1..=1000 (default 100)")),
    responses(
        (status = 200, description = "JSON page, or `text/event-stream` of frames `id: <seq>`, `event: <kind>`, `data: <ChangeEvent JSON>`",
         content((ChangesPage = "application/json"), (String = "text/event-stream"))),
        (status = 400, description = "since or limit malformed, or since after the newest event", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "JSON needs developer, SSE needs production", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn changes(
    State(api): State<LedgerApi>,
    c: Option<Extension<Caller>>,
    headers: HeaderMap,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let last_seq = api.inner.store.last_seq();
    let mut since = match q.get("since") {
        None => None,
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| ApiError::bad("bad_since", format!("since `{s}` is not a non-negative integer")))?,
        ),
    };
    if wants_sse(&headers) {
        caller_of(c)
            .require(Tier::Production, "the SSE change feed (`GET /v1/changes` with `Accept: text/event-stream`)")?;
        if let Some(id) = headers.get("last-event-id") {
            let id = id.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()).ok_or_else(|| {
                ApiError::bad("bad_since", "Last-Event-ID must be the seq of the last event received")
            })?;
            since = Some(since.map_or(id, |s| s.max(id)));
        }
        if let Some(s) = since
            && s > last_seq
        {
            return Err(ApiError::bad("bad_since", format!("since {s} is after the newest event ({last_seq})")));
        }
        return sse::stream(api.inner.clone(), since);
    }
    let since = since.unwrap_or(0);
    if since > last_seq {
        return Err(ApiError::bad("bad_since", format!("since {since} is after the newest event ({last_seq})")));
    }
    let max = api.inner.config.changes_page_max;
    let limit = match q.get("limit") {
        None => 100.min(max),
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::bad("bad_limit", format!("limit `{s}` is not an integer in 1..={max}")))?,
    };
    let events = api.inner.store.changes_since(since, limit)?;
    let next_since = events.last().map(|e| e.seq).unwrap_or(since);
    json_value(StatusCode::OK, &ChangesPage { since, last_seq, next_since, events })
}

/// The Ledger's Merkle root with inclusion proofs.
#[utoipa::path(get, path = "/v1/root", tag = "ledger",
    params(("netuid" = Option<u16>, Query, description = "one entry's proof (with the entry itself for developer and up)")),
    responses(
        (status = 200, description = "RootView, or EntryProofView with ?netuid", body = crate::views::RootView),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security((), ("api_key" = []), ("bearer" = [])))]
async fn root(
    State(api): State<LedgerApi>,
    c: Option<Extension<Caller>>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let snap = api.inner.snapshot.load();
    match q.get("netuid") {
        None => Ok(json_bytes(snap.root_all.clone())),
        Some(raw) => {
            let netuid = raw
                .parse::<u16>()
                .map_err(|_| ApiError::bad("bad_netuid", format!("netuid `{raw}` is not an integer in 0..=65535")))?;
            let e = snap.entries.get(&netuid).ok_or_else(|| not_found_entry(netuid))?;
            Ok(json_bytes(e.root.for_tier(caller_of(c).tier)))
        }
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi(State(api): State<LedgerApi>) -> Response {
    json_bytes(api.inner.openapi.clone())
}

/// Liveness and the snapshot's position in the change feed.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
async fn healthz(State(api): State<LedgerApi>) -> Result<Response, ApiError> {
    let snap = api.inner.snapshot.load();
    json_value(StatusCode::OK, &Health { status: "ok".into(), seq: snap.seq, entries: snap.count, root: snap.root })
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text")))]
async fn metrics(State(api): State<LedgerApi>) -> Result<Response, ApiError> {
    let mut out = String::new();
    encode(&mut out, &api.inner.registry).map_err(|e| ApiError::Internal(format!("encode metrics: {e}")))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        out,
    )
        .into_response())
}

fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Register a webhook for some netuids and change kinds.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = WebhookRequest,
    responses(
        (status = 201, description = "Registered; the secret is shown once", body = WebhookCreated),
        (status = 400, description = "Bad body, url, or a target the SSRF guard refuses", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "Tier below production", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn create_webhook(
    State(api): State<LedgerApi>,
    c: Option<Extension<Caller>>,
    body: Result<axum::Json<WebhookRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let caller = caller_of(c);
    let owner = caller.key_id().ok_or_else(|| ApiError::Internal("webhook caller without a key".into()))?.to_string();
    let axum::Json(req) = body.map_err(|e| ApiError::bad("bad_request", format!("webhook body: {}", e.body_text())))?;
    if req.netuids.len() > 1024 {
        return Err(ApiError::bad("bad_request", "at most 1024 netuids per webhook"));
    }
    let url = webhook::check_target(&req.url, api.inner.config.allow_private_webhooks).await?;
    let store = &api.inner.store;
    let mine = store.webhooks()?.iter().filter(|h| h.owner == owner).count();
    if mine >= api.inner.config.webhook.max_per_key {
        return Err(ApiError::bad(
            "too_many_webhooks",
            format!("this key already has {mine} webhooks (the limit); delete one first"),
        ));
    }
    let mut netuids = req.netuids;
    netuids.sort_unstable();
    netuids.dedup();
    let mut kinds = req.kinds;
    kinds.sort_by_key(|k| k.as_str());
    kinds.dedup();
    let hook = Webhook {
        id: format!("wh_{}", random_hex(8)),
        url: url.to_string(),
        secret: format!("whsec_{}", random_hex(32)),
        netuids,
        kinds,
        owner,
        active: true,
        created_ms: now_ms(),
    };
    store.put_webhook(&hook)?;
    tracing::info!(webhook = %hook.id, url = %hook.url, owner = %hook.owner, "webhook registered");
    let created = WebhookCreated {
        id: hook.id,
        url: hook.url,
        netuids: hook.netuids,
        kinds: hook.kinds,
        secret: hook.secret,
        created_ms: hook.created_ms,
    };
    json_value(StatusCode::CREATED, &created)
}

/// The caller's own webhook, or 404 (other keys' webhooks are not disclosed).
fn own_webhook(api: &LedgerApi, caller: &Caller, id: &str) -> Result<Webhook, ApiError> {
    let missing = || ApiError::NotFound(format!("no webhook `{id}` for this key"));
    let hook = api.inner.store.webhook(id)?.ok_or_else(missing)?;
    if Some(hook.owner.as_str()) != caller.key_id() {
        return Err(missing());
    }
    Ok(hook)
}

/// A webhook (without its secret) and its delivery counts.
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "webhook id")),
    responses((status = 200, body = WebhookView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("api_key" = []), ("bearer" = [])))]
async fn get_webhook(
    State(api): State<LedgerApi>,
    c: Option<Extension<Caller>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let hook = own_webhook(&api, &caller_of(c), &id)?;
    let mut counts = DeliveryCounts::default();
    for d in api.inner.store.deliveries()?.iter().filter(|d| d.webhook_id == hook.id) {
        match d.state {
            DeliveryState::Pending => counts.pending += 1,
            DeliveryState::Delivered => counts.delivered += 1,
            DeliveryState::Dead => counts.dead += 1,
        }
    }
    let view = WebhookView {
        id: hook.id,
        url: hook.url,
        netuids: hook.netuids,
        kinds: hook.kinds,
        active: hook.active,
        created_ms: hook.created_ms,
        deliveries: counts,
    };
    json_value(StatusCode::OK, &view)
}

/// Delete a webhook and drop its pending deliveries.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "webhook id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("api_key" = []), ("bearer" = [])))]
async fn delete_webhook(
    State(api): State<LedgerApi>,
    c: Option<Extension<Caller>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let hook = own_webhook(&api, &caller_of(c), &id)?;
    api.inner.store.delete_webhook(&hook.id)?;
    tracing::info!(webhook = %hook.id, "webhook deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Orchestra Ledger API",
        description = "The Subnet Ledger: a validated, versioned registry of Bittensor subnets' capabilities, \
schemas, endpoints and performance. Tiers: free (no key or a free key; summaries only; per-IP limit), developer \
(full entries and schemas, change feed; monthly quota), production (unlimited lookups, SSE, webhooks), \
enterprise (custom limits). Send keys as `Authorization: Bearer <key>` or `X-Api-Key`. Every API response \
carries `X-RateLimit-Limit/Remaining/Reset` (the rate window); quota tiers also `X-Quota-Limit/Remaining/Reset`. \
Errors are `{\"error\": ..., \"code\": ...}`. Webhook deliveries are signed: `X-Orchestra-Signature: \
t=<unix s>,v1=<hex HMAC-SHA256(secret, \"{t}.{event_id}.{body}\")>`, with `X-Orchestra-Event-Id` to dedupe on."
    ),
    paths(list, get_one, schema, history, find, changes, root, create_webhook, get_webhook, delete_webhook,
        crate::payments::prices, crate::payments::quote, crate::payments::redeem, openapi, healthz, metrics),
    components(schemas(crate::views::LedgerEntryDoc, crate::views::ChangeEventDoc, crate::views::SubnetSummary,
        crate::views::EntryProofView, crate::views::WebhookPayload)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "ledger", description = "Entries, schemas, history, search, change feed, root"),
        (name = "webhooks", description = "Signed change webhooks (production tier)"),
        (name = "keys", description = "API keys paid in TAO: quote, pay on chain, redeem"),
        (name = "ops", description = "Operator endpoints"),
    )
)]
pub(crate) struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))));
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}
