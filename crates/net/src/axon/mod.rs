//! The axon: an HTTP server that answers synapses from Python and Rust dendrites.
//!
//! Every request to `/{SynapseName}` (POST, or GET like the SDK) goes through these checks, in
//! this order; the first failure answers with the status below, a `{"message": …}` body and the
//! `bt_header_axon_status_*` headers, and **the handler never sees it**:
//!
//! | # | check | status |
//! |---|---|---|
//! | 1 | route: unknown synapse name (SDK message) | 404 |
//! | 2 | method other than GET/POST | 405 |
//! | 3 | `content-length` over the body limit | 413 |
//! | 4 | headers: unparseable values, incomplete btauth set | 400 |
//! | 5 | blacklist: policy on the metagraph snapshot, then the custom hook (claimed hotkey, as the SDK) | 403 |
//! | 6 | missing v10 fields, wrong receiving hotkey, nonce outside the window | 401 |
//! | 7 | v10 signature (always required; it covers headers only, so it is checked before the body is read) | 401 |
//! | 8 | body over the limit while reading (chunked bodies) / not received within the timeout | 413 / 408 |
//! | 8b | btauth/1 signature (it covers the body's sha256) | 401 |
//! | 9 | body does not parse as the synapse | 400 |
//! | 10 | v10 body hash recomputed from the body ≠ `computed_body_hash` header | 401 |
//! | 11 | replay cache (nonce already used), then the per-hotkey rate limit | 401 / 429 |
//! | 12 | priority gate: queue full (or evicted by a higher stake) / no slot within the timeout | 503 / 408 |
//! | 13 | handler error / panic | handler's status / 500 |
//!
//! Stricter than the SDK, at no cost to interop (real dendrites always sign): the signature is
//! mandatory; a replay cache replaces the strictly-increasing nonce rule (see `replay.rs` for
//! why); nonces more than a few seconds in the future are refused; the timeout term of the
//! nonce window is capped; the signed message must name our hotkey as receiver; a body-hash
//! mismatch is a clear 401 instead of the SDK's opaque 500.
//!
//! `btauth/1` requests (`X-Bittensor-*` headers, bittensor 11) are accepted on the same routes:
//! the receiver must be us, the nonce within 10 s back / 2 s ahead, the signature covers the
//! method, path, sha256 of the raw body, nonce, sender and receiver; same replay cache.

mod batch;
#[cfg(test)]
mod fuzz_tests;
mod reply;
mod verify;

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{Method, header};
use axum::response::Response;
use futures::{FutureExt, StreamExt};
use governor::{DefaultKeyedRateLimiter, Quota};
use orchestra_keys::{Keypair, PublicKey};
use orchestra_proto::pyrepr::py_float_repr;
use orchestra_proto::wire::{DEFAULT_TIMEOUT_S, Envelope, Synapse, status};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use crate::error::NetError;
use crate::gate::{Gate, GateError};
use crate::keycache::KeyCache;
use crate::metagraph::{BlacklistPolicy, MetagraphHandle, Peer};
use crate::metrics::{AxonMetrics, RouteMetrics};
use crate::replay::ReplayCache;
use crate::serve::{BodyError, ServeLimits, Server};
use verify::Claim;

/// The reserved name of the SDK's default ping route.
pub const PING_NAME: &str = "Synapse";

/// A per-hotkey request rate (token bucket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

/// Limits and policies of an [`Axon`]. `Default` gives values suited to a miner; see each field.
#[derive(Debug, Clone)]
pub struct AxonConfig {
    /// Largest request body accepted (413 above). Default 2 MiB: an Orchestrate request carries
    /// at most an 8 KiB objective and a 64 KiB schema plus inputs.
    pub max_body_bytes: usize,
    /// Handlers running at once (default 256).
    pub max_in_flight: usize,
    /// Requests waiting for a slot beyond that (default 1024); more → 503.
    pub max_queue: usize,
    /// Per authenticated hotkey; `None` = unlimited. Default 50/s with bursts of 100.
    pub rate_limit: Option<RateLimit>,
    /// v10 nonce window: a nonce may be `allowed_delta + min(timeout, max_timeout_term)` old
    /// (the SDK's `ALLOWED_DELTA` is 4 s).
    pub allowed_delta: Duration,
    /// Cap of the timeout term of the v10 window (default 12 s, the SDK's default timeout): the
    /// timeout header is not signed, so without a cap a replayer could stretch the window, and
    /// the replay cache would have to remember nonces that long.
    pub max_timeout_term: Duration,
    /// How far in the future a v10 nonce may be (default 5 s; the SDK has no bound, so this is
    /// loose enough for validators with a drifting clock).
    pub max_future_skew: Duration,
    /// btauth/1 freshness (default 10 s back, 2 s ahead, as `bittensor.http_auth`).
    pub btauth_max_age: Duration,
    pub btauth_max_skew: Duration,
    /// Timeout assumed for requests without a `timeout` header (the SDK's 12 s).
    pub default_timeout: Duration,
    /// Largest timeout honoured for queueing and [`RequestContext::timeout`] (default 10 min).
    pub max_request_timeout: Duration,
    /// Who may call.
    pub policy: BlacklistPolicy,
    /// Serve `GET /metrics` (Prometheus text) on the axon port too. Default off.
    pub serve_metrics: bool,
    /// With `serve_metrics`: answer `/metrics` to any peer. Default off: only loopback peers
    /// get them (others get 403), like the validator's `--api.public_status`.
    pub public_metrics: bool,
    /// Connection-level limits of the axon's server (timeouts, connection, in-flight and body
    /// byte caps; see [`crate::serve`]). Its body size limit is `max_body_bytes` above.
    pub server: ServeLimits,
    /// Verifying keys kept decompressed (default 100 000 hotkeys).
    pub key_cache_capacity: usize,
    /// Most request signatures verified in one batch (default 64; 1 = no batching). Requests
    /// that arrive together are batched (see `axon/batch.rs`); a lone request is not delayed.
    pub verify_batch_max: usize,
    /// Longest a batch keeps gathering requests while more keep arriving (default 200 µs).
    pub verify_batch_wait: Duration,
}

impl Default for AxonConfig {
    fn default() -> Self {
        AxonConfig {
            max_body_bytes: 2 * 1024 * 1024,
            max_in_flight: 256,
            max_queue: 1024,
            rate_limit: Some(RateLimit { per_second: 50, burst: 100 }),
            allowed_delta: Duration::from_nanos(orchestra_proto::wire::ALLOWED_DELTA_NS),
            max_timeout_term: Duration::from_secs_f64(DEFAULT_TIMEOUT_S),
            max_future_skew: Duration::from_secs(5),
            btauth_max_age: Duration::from_nanos(orchestra_proto::btauth::DEFAULT_MAX_AGE_NS),
            btauth_max_skew: Duration::from_nanos(orchestra_proto::btauth::DEFAULT_ALLOWED_SKEW_NS),
            default_timeout: Duration::from_secs_f64(DEFAULT_TIMEOUT_S),
            max_request_timeout: Duration::from_secs(600),
            policy: BlacklistPolicy::default(),
            serve_metrics: false,
            public_metrics: false,
            server: ServeLimits::default(),
            key_cache_capacity: 100_000,
            verify_batch_max: 64,
            verify_batch_wait: Duration::from_micros(200),
        }
    }
}

impl AxonConfig {
    fn validate(&self) -> Result<(), NetError> {
        let bad = |what: &str| Err(NetError::Config(what.to_string()));
        if self.max_body_bytes == 0 {
            return bad("max_body_bytes must be > 0");
        }
        if self.max_in_flight == 0 {
            return bad("max_in_flight must be > 0");
        }
        if let Some(r) = self.rate_limit
            && (r.per_second == 0 || r.burst == 0)
        {
            return bad("rate_limit per_second and burst must be > 0 (use None for no limit)");
        }
        if self.allowed_delta.is_zero() || self.btauth_max_age.is_zero() {
            return bad("nonce windows must be > 0");
        }
        if self.default_timeout.is_zero() || self.max_request_timeout.is_zero() {
            return bad("timeouts must be > 0");
        }
        if self.key_cache_capacity == 0 {
            return bad("key_cache_capacity must be > 0");
        }
        self.server_limits().validate().map_err(NetError::Config)?;
        Ok(())
    }

    /// The server's limits with the axon's own body limit.
    fn server_limits(&self) -> ServeLimits {
        ServeLimits {
            max_body_bytes: self.max_body_bytes,
            max_body_bytes_in_flight: self.server.max_body_bytes_in_flight.max(self.max_body_bytes),
            ..self.server.clone()
        }
    }
}

/// Which signing scheme authenticated a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// The v10 `bt_header_dendrite_signature` over `nonce.sender.receiver.uuid.body_hash`.
    V10,
    /// `btauth/1` (`X-Bittensor-*`).
    BtAuth,
}

/// What a handler knows about the request besides its synapse. Everything here has been
/// checked: the hotkey signed the request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The authenticated sender (ss58).
    pub hotkey: String,
    /// The sender in the metagraph snapshot the blacklist used, if registered.
    pub peer: Option<Peer>,
    pub remote: SocketAddr,
    pub scheme: AuthScheme,
    pub nonce: u64,
    /// The request's timeout (its `timeout` header, clamped), counted from `received`.
    pub timeout: Duration,
    pub received: Instant,
}

impl RequestContext {
    /// When the dendrite stops waiting.
    pub fn deadline(&self) -> Instant {
        self.received + self.timeout
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline().saturating_duration_since(Instant::now())
    }
}

/// A handler's refusal: an HTTP status and the message the dendrite will see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct SynapseError {
    pub status: u16,
    pub message: String,
}

impl SynapseError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        SynapseError { status, message: message.into() }
    }
    /// 400: the request cannot be served as asked.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }
    /// 500: our fault.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }
    /// 503: try later.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, message)
    }
}

/// The SDK's base `Synapse`, served at `/Synapse` as a ping (echoes the envelope).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ping {}

impl Synapse for Ping {
    const NAME: &'static str = PING_NAME;
}

/// A refused request.
#[derive(Debug)]
pub(crate) struct Reject {
    status: u16,
    message: String,
}

impl Reject {
    pub(crate) fn new(status: u16, message: String) -> Self {
        Reject { status, message }
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type BlacklistFn = dyn Fn(&str, Option<&Peer>, &str) -> Result<(), String> + Send + Sync;
type PriorityFn = dyn Fn(&str, Option<&Peer>) -> f64 + Send + Sync;

/// A request whose signature holds; the route parses the body and does the rest.
struct Checked<'a> {
    ctx: RequestContext,
    body: Bytes,
    expected_hash: Option<&'a str>,
    proof: verify::Proof,
    priority: f64,
    start: Instant,
}

/// One attached synapse, with its types erased.
trait Route: Send + Sync {
    fn handle<'a>(&'a self, shared: &'a Shared, req: Checked<'a>) -> BoxFuture<'a, Result<Response, Reject>>;
}

struct TypedRoute<S, F> {
    handler: F,
    _synapse: PhantomData<fn() -> S>,
}

impl<S, F, Fut> Route for TypedRoute<S, F>
where
    S: Synapse,
    F: Fn(RequestContext, S) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<S, SynapseError>> + Send + 'static,
{
    /// Steps 9–13 of the table in the module docs.
    fn handle<'a>(&'a self, shared: &'a Shared, req: Checked<'a>) -> BoxFuture<'a, Result<Response, Reject>> {
        Box::pin(async move {
            let Checked { ctx, body, expected_hash, proof, priority, start } = req;
            // An empty body (a bare GET) is an empty object: the ping needs nothing else.
            let raw: &[u8] = if body.is_empty() { b"{}" } else { &body };
            let request_len = raw.len();
            let mut env: Envelope<S> = serde_json::from_slice(raw)
                .map_err(|e| Reject::new(400, format!("Could not parse the body as {}: {e}", S::NAME)))?;
            if let Some(expected) = expected_hash {
                let actual = env.body_hash().map_err(|e| Reject::new(400, format!("Cannot hash the body: {e}")))?;
                if actual != expected {
                    let msg = format!(
                        "body hash mismatch: the body's hashed fields {:?} hash to {actual}, but the signed \
                         computed_body_hash header is {expected}",
                        S::HASH_FIELDS
                    );
                    return Err(Reject::new(401, status::not_verified(&msg)));
                }
            }
            admit(shared, &proof, &ctx.hotkey)?;
            let wait = ctx.timeout.saturating_sub(start.elapsed());
            let _permit = shared.gate.acquire(priority, wait).await.map_err(|e| match e {
                GateError::Timeout => {
                    Reject::new(408, format!("Response timeout after: {}s", py_float_repr(ctx.timeout.as_secs_f64())))
                }
                GateError::Overflow | GateError::Evicted => {
                    Reject::new(503, "Service unavailable: the axon is overloaded, retry later".to_string())
                }
            })?;
            env.name = Some(S::NAME.to_string());
            if env.axon.hotkey.is_none() {
                env.axon.hotkey = Some(shared.hotkey.clone());
            }
            let Envelope { name, timeout, total_size, header_size, dendrite, axon, computed_body_hash, body } = env;
            // A panicking handler answers 500 and leaves the server (and its slot) intact.
            let run = std::panic::catch_unwind(AssertUnwindSafe(|| (self.handler)(ctx, body)));
            let outcome = match run {
                Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await,
                Err(p) => Err(p),
            };
            match outcome {
                Ok(Ok(body)) => {
                    let mut env =
                        Envelope { name, timeout, total_size, header_size, dendrite, axon, computed_body_hash, body };
                    Ok(reply::success(&mut env, start, request_len))
                }
                Ok(Err(e)) => Err(Reject::new(e.status, e.message)),
                Err(_) => {
                    tracing::error!(synapse = S::NAME, "handler panicked");
                    Err(Reject::new(500, "Internal Server Error: the handler failed".to_string()))
                }
            }
        })
    }
}

struct RouteEntry {
    name: &'static str,
    route: Box<dyn Route>,
    metrics: RouteMetrics,
}

/// Everything a request needs, shared by all connections.
pub(crate) struct Shared {
    cfg: AxonConfig,
    hotkey: String,
    routes: HashMap<&'static str, RouteEntry>,
    /// Attach order, for the 404 message.
    names: Vec<&'static str>,
    metagraph: MetagraphHandle,
    metrics: Arc<AxonMetrics>,
    replay: ReplayCache,
    keys: KeyCache,
    batcher: batch::Batcher,
    limiter: Option<DefaultKeyedRateLimiter<PublicKey>>,
    gate: Arc<Gate>,
    blacklist: Option<Arc<BlacklistFn>>,
    priority: Option<Arc<PriorityFn>>,
}

/// A Bittensor axon: attach handlers, then [`Axon::serve`].
///
/// ```no_run
/// # async fn run() -> Result<(), orchestra_net::NetError> {
/// use orchestra_net::{Axon, AxonConfig, echo::EchoSynapse};
/// let key = orchestra_keys::Keypair::from_uri("//Alice")?;
/// let axon = Axon::new(AxonConfig::default(), key)?
///     .attach(|_ctx, s: EchoSynapse| async move { Ok(s.answer()) })?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8091").await.map_err(|e| {
///     orchestra_net::NetError::Bind { addr: "127.0.0.1:8091".into(), source: e }
/// })?;
/// axon.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await
/// # }
/// ```
pub struct Axon {
    shared: Shared,
    keypair: Keypair,
}

impl std::fmt::Debug for Axon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Axon").field("hotkey", &self.shared.hotkey).field("synapses", &self.shared.names).finish()
    }
}

impl Axon {
    /// Builds an axon for `keypair` (its hotkey is the receiver every request must name), with
    /// the `Synapse` ping route attached.
    pub fn new(config: AxonConfig, keypair: Keypair) -> Result<Axon, NetError> {
        config.validate()?;
        let metrics = Arc::new(AxonMetrics::new());
        let limiter = config.rate_limit.map(|r| {
            // Both are > 0 (validated above).
            let per = NonZeroU32::new(r.per_second).unwrap_or(NonZeroU32::MIN);
            let burst = NonZeroU32::new(r.burst).unwrap_or(NonZeroU32::MIN);
            DefaultKeyedRateLimiter::dashmap(Quota::per_second(per).allow_burst(burst))
        });
        let gate = Arc::new(Gate::new(
            config.max_in_flight,
            config.max_queue,
            metrics.in_flight.clone(),
            metrics.queued.clone(),
        ));
        let shared = Shared {
            keys: KeyCache::new(config.key_cache_capacity),
            batcher: batch::Batcher::new(config.verify_batch_max, config.verify_batch_wait, metrics.batch.clone()),
            hotkey: keypair.ss58().to_string(),
            routes: HashMap::new(),
            names: Vec::new(),
            metagraph: MetagraphHandle::default(),
            metrics,
            replay: ReplayCache::new(),
            limiter,
            gate,
            blacklist: None,
            priority: None,
            cfg: config,
        };
        Axon { shared, keypair }.attach(|_ctx, ping: Ping| async move { Ok(ping) })
    }

    /// Routes `/{S::NAME}` to `handler`. Fails on a name attached twice or one that cannot be a
    /// URL path segment and header value.
    pub fn attach<S, F, Fut>(mut self, handler: F) -> Result<Axon, NetError>
    where
        S: Synapse,
        F: Fn(RequestContext, S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, SynapseError>> + Send + 'static,
    {
        if S::NAME.is_empty() || !S::NAME.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(NetError::Config(format!("synapse name {:?} must be a Python identifier", S::NAME)));
        }
        if self.shared.routes.contains_key(S::NAME) {
            return Err(NetError::DuplicateSynapse(S::NAME));
        }
        let entry = RouteEntry {
            name: S::NAME,
            route: Box::new(TypedRoute { handler, _synapse: PhantomData }),
            metrics: self.shared.metrics.route(S::NAME),
        };
        self.shared.routes.insert(S::NAME, entry);
        self.shared.names.push(S::NAME);
        Ok(self)
    }

    /// An extra blacklist check after the policy: `(hotkey, peer, synapse) -> Err(reason)`
    /// refuses with 403. It sees the claimed, not yet verified hotkey (as in the SDK), so it
    /// should only refuse, never grant anything.
    pub fn with_blacklist<F>(mut self, f: F) -> Axon
    where
        F: Fn(&str, Option<&Peer>, &str) -> Result<(), String> + Send + Sync + 'static,
    {
        self.shared.blacklist = Some(Arc::new(f));
        self
    }

    /// Priority under load (higher first). Default: the sender's stake, 0 if unregistered.
    pub fn with_priority<F>(mut self, f: F) -> Axon
    where
        F: Fn(&str, Option<&Peer>) -> f64 + Send + Sync + 'static,
    {
        self.shared.priority = Some(Arc::new(f));
        self
    }

    /// Uses `handle` as the metagraph (e.g. one shared with a chain sync task).
    pub fn with_metagraph(mut self, handle: MetagraphHandle) -> Axon {
        self.shared.metagraph = handle;
        self
    }

    /// The metagraph cell; store a new snapshot in it at any time.
    pub fn metagraph(&self) -> MetagraphHandle {
        self.shared.metagraph.clone()
    }

    /// The axon's metrics.
    pub fn metrics(&self) -> Arc<AxonMetrics> {
        Arc::clone(&self.shared.metrics)
    }

    /// Our hotkey (ss58).
    pub fn hotkey(&self) -> &str {
        &self.shared.hotkey
    }

    /// The key pair.
    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }

    /// Binds `addr` and serves until `shutdown` resolves (see [`Axon::serve`]).
    pub async fn serve_addr<F>(self, addr: SocketAddr, shutdown: F) -> Result<(), NetError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let listener =
            TcpListener::bind(addr).await.map_err(|source| NetError::Bind { addr: addr.to_string(), source })?;
        self.serve(listener, shutdown).await
    }

    /// Serves on `listener` until `shutdown` resolves, then stops accepting, lets requests in
    /// flight finish and returns.
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F) -> Result<(), NetError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let local = listener.local_addr().map_err(NetError::Serve)?;
        let shared = Arc::new(self.shared);
        tracing::info!(%local, hotkey = %shared.hotkey, synapses = ?shared.names, "axon serving");
        // The rate limiter keeps a state per hotkey; drop idle ones now and then.
        let sweeper = shared.limiter.as_ref().map(|_| {
            let weak = Arc::downgrade(&shared);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    let Some(s) = weak.upgrade() else { break };
                    if let Some(l) = &s.limiter {
                        l.retain_recent();
                        l.shrink_to_fit();
                    }
                }
            })
        });
        // No router: every path is looked up in our own route table anyway, so each connection
        // gets the axon's service directly, with the peer's address (no extractors, no
        // per-request boxing or extensions).
        let server = Server::new(shared.cfg.server_limits())
            .map_err(NetError::Config)?
            .with_stats(shared.metrics.server.clone());
        let make = |remote| AxonService { shared: Arc::clone(&shared), remote };
        let result = server.serve_with(listener, make, shutdown).await.map_err(NetError::Serve);
        if let Some(s) = sweeper {
            s.abort();
        }
        tracing::info!(%local, "axon stopped");
        result
    }
}

/// The request handler of one connection: [`dispatch`], with the connection's peer address.
#[derive(Clone)]
struct AxonService {
    shared: Arc<Shared>,
    remote: SocketAddr,
}

impl tower::Service<Request> for AxonService {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        let remote = self.remote;
        Box::pin(async move { Ok(dispatch(shared, remote, req).await) })
    }
}

async fn dispatch(shared: Arc<Shared>, remote: SocketAddr, req: Request) -> Response {
    let start = Instant::now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    // The SDK takes `path.split("/")[1]`.
    let name = path.split('/').nth(1).unwrap_or("");
    let Some(entry) = shared.routes.get(name) else {
        if name == "metrics" && shared.cfg.serve_metrics && parts.method == Method::GET {
            if !metrics_visible_to(&shared.cfg, remote) {
                let msg = "metrics are served to loopback peers only; the operator can make them public";
                return reply::error(403, msg, PING_NAME, start);
            }
            let mut resp = Response::new(Body::from(shared.metrics.encode()));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            );
            return resp;
        }
        let shown: String = name.chars().take(64).collect();
        let resp = reply::error(404, &status::not_found(&shown, &shared.names), PING_NAME, start);
        shared.metrics.record(None, 404, start.elapsed().as_secs_f64());
        return resp;
    };
    let synapse = entry.name;
    let resp = match check(&shared, entry, remote, &parts, body, start).await {
        Ok(resp) => resp,
        Err(r) => {
            tracing::debug!(synapse, %remote, status = r.status, message = %r.message, "request refused");
            reply::error(r.status, &r.message, synapse, start)
        }
    };
    shared.metrics.record(Some(&entry.metrics), resp.status().as_u16(), start.elapsed().as_secs_f64());
    resp
}

/// `/metrics` shows every caller's request counts: loopback peers only unless public.
fn metrics_visible_to(cfg: &AxonConfig, remote: SocketAddr) -> bool {
    cfg.public_metrics || remote.ip().to_canonical().is_loopback()
}

/// Steps 2–9 of the table in the module docs, then the route (steps 10–13).
async fn check(
    shared: &Shared,
    entry: &RouteEntry,
    remote: SocketAddr,
    parts: &axum::http::request::Parts,
    body: Body,
    start: Instant,
) -> Result<Response, Reject> {
    let cfg = &shared.cfg;
    if parts.method != Method::POST && parts.method != Method::GET {
        return Err(Reject::new(405, format!("Method {} not allowed: use POST", parts.method)));
    }
    let declared_len = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(len) = declared_len
        && len > cfg.max_body_bytes as u64
    {
        return Err(too_large(cfg.max_body_bytes));
    }

    let claim = Claim::parse(&parts.headers)?;
    let timeout = verify::timeout_header(&parts.headers)?;
    let timeout = match timeout {
        Some(t) if t.is_finite() && t > 0.0 => Duration::from_secs_f64(t.min(cfg.max_request_timeout.as_secs_f64())),
        _ => cfg.default_timeout,
    };

    // Blacklist on the claimed hotkey, before any cryptography (as the SDK does).
    let peer = {
        let snapshot = shared.metagraph.guard();
        claim.hotkey().and_then(|h| snapshot.peer(h)).copied()
    };
    if let Some(hotkey) = claim.hotkey() {
        if let Err(reason) = cfg.policy.check(hotkey, peer.as_ref()) {
            return Err(Reject::new(403, status::blacklisted(&reason)));
        }
        if let Some(f) = &shared.blacklist
            && let Err(reason) = f(hotkey, peer.as_ref(), entry.name)
        {
            return Err(Reject::new(403, status::blacklisted(&reason)));
        }
    }

    let now = crate::now_ns();
    let fresh = claim.precheck(shared, timeout.as_secs_f64(), now)?;
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    // v10 signs headers only (the body is bound to the signed hash when it is parsed), so its
    // signature is checked before the body is read: an unsigned sender cannot make us read (or
    // wait for) a body at all. btauth/1 signs the body's sha256, so it is checked after.
    let early = match &claim {
        verify::Claim::V10(_) => Some(claim.verify(shared, &parts.method, path_and_query, &[], fresh).await?),
        verify::Claim::BtAuth(_) => None,
    };
    // A client trickling its body must not hold a connection past its own timeout, nor past
    // the server's body timeout (the timeout header is not signed). A body that has already
    // arrived whole (the usual small request) is taken without arming a timer.
    let body_timeout = timeout.min(cfg.server.body_read_timeout);
    let late = || {
        let secs = py_float_repr(body_timeout.as_secs_f64());
        Reject::new(408, format!("Request body not received within the {secs}s timeout"))
    };
    let mut reading = std::pin::pin!(read_body(body, cfg.max_body_bytes));
    let read = match reading.as_mut().now_or_never() {
        Some(read) => read,
        None => match tokio::time::timeout(body_timeout, reading).await {
            Ok(read) => read,
            Err(_) => return Err(late()),
        },
    };
    let body = match read {
        Err(BodyRead::Server(BodyError::Timeout)) => return Err(late()),
        Err(BodyRead::Server(e)) => return Err(Reject::new(e.status(), e.to_string())),
        Err(BodyRead::Reject(r)) => return Err(r),
        Ok(body) => body,
    };
    let proof = match early {
        Some(p) => p,
        None => claim.verify(shared, &parts.method, path_and_query, &body, fresh).await?,
    };
    // Only claim.hotkey() == None fails precheck, so this is always set here.
    let hotkey = claim.hotkey().unwrap_or_default();

    let priority = match &shared.priority {
        Some(f) => f(hotkey, peer.as_ref()),
        None => peer.map(|p| p.stake).unwrap_or(0.0),
    };
    let ctx = RequestContext {
        hotkey: hotkey.to_string(),
        peer,
        remote,
        scheme: claim.scheme(),
        nonce: fresh.nonce,
        timeout,
        received: start,
    };
    let checked = Checked { ctx, body, expected_hash: claim.body_hash(), proof, priority, start };
    entry.route.handle(shared, checked).await
}

/// Step 11: record the nonce, then spend the (authenticated) hotkey's rate budget. Replays
/// are refused before they can spend it.
fn admit(shared: &Shared, proof: &verify::Proof, hotkey: &str) -> Result<(), Reject> {
    proof.admit(shared, hotkey)?;
    if let Some(limiter) = &shared.limiter
        && limiter.check_key(&proof.vk.public()).is_err()
    {
        let r = shared.cfg.rate_limit.unwrap_or(RateLimit { per_second: 0, burst: 0 });
        return Err(Reject::new(
            429,
            format!(
                "Too many requests from hotkey {hotkey}: the limit is {} per second (bursts of {})",
                r.per_second, r.burst
            ),
        ));
    }
    Ok(())
}

fn too_large(limit: usize) -> Reject {
    Reject::new(413, format!("Request body is larger than the limit of {limit} bytes"))
}

/// Why [`read_body`] failed.
enum BodyRead {
    /// One of the server's limits (time, size, bytes held).
    Server(BodyError),
    Reject(Reject),
}

impl From<Reject> for BodyRead {
    fn from(r: Reject) -> Self {
        BodyRead::Reject(r)
    }
}

/// Reads the body up to `limit` bytes. A body in one chunk (the usual case) is not copied.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, BodyRead> {
    let mut stream = body.into_data_stream();
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                return Err(match crate::serve::body_error(&e) {
                    Some(BodyError::TooLarge) => too_large(limit).into(),
                    Some(BodyError::Incomplete) | None => {
                        Reject::new(400, "Could not read the request body".to_string()).into()
                    }
                    Some(other) => BodyRead::Server(other),
                });
            }
        };
        total += chunk.len();
        if total > limit {
            return Err(too_large(limit).into());
        }
        match first.take() {
            None if rest.is_empty() => first = Some(chunk),
            prev => {
                if let Some(prev) = prev {
                    rest.extend_from_slice(&prev);
                }
                rest.extend_from_slice(&chunk);
            }
        }
    }
    Ok(match first {
        Some(b) => b,
        None => Bytes::from(rest),
    })
}
