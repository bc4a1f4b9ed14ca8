//! The Subnet Ledger's HTTP API, as a library: the validator mounts [`LedgerApi::router`] in its
//! own server, `orchestra ledger serve` runs it alone with [`LedgerApi::serve`], and
//! [`LedgerClient`] talks to it.
//!
//! Routes (see [`ROUTES`] and `/openapi.json`):
//!
//! | route | tier | |
//! |---|---|---|
//! | `GET /v1/subnets` | free | every entry (free: summaries; developer+: full entries) |
//! | `GET /v1/subnets/{netuid}` | free | one entry, same views |
//! | `GET /v1/subnets/{netuid}/schema` | developer | input/output JSON Schemas and the fixture |
//! | `GET /v1/subnets/{netuid}/history` | developer | every version (`?version=V` for one) |
//! | `GET /v1/find?capability=C` | free | entries offering C, best first |
//! | `GET /v1/changes?since=SEQ` | developer | change feed page; SSE (`Accept: text/event-stream`) needs production |
//! | `GET /v1/root` | free | Merkle root with every entry's inclusion proof (`?netuid=N` for one, with the entry for developer+) |
//! | `POST /v1/webhooks`, `GET/DELETE /v1/webhooks/{id}` | production | signed change webhooks |
//! | `GET /v1/keys/prices`, `POST /v1/keys/quote`, `POST /v1/keys/redeem` | free | API keys paid in TAO ([`payments`]) |
//! | `GET /openapi.json` | free | this API's OpenAPI document |
//! | `GET /healthz`, `GET /metrics` | none | operator endpoints, not metered |
//!
//! Lookups are answered from an in-memory [`snapshot`] of pre-serialized bodies that a
//! background task rebuilds whenever the store commits change events (the store's commit hook
//! wakes it); the same task fans the new events out to SSE subscribers. Keys, tiers and limits
//! are in [`auth`]; webhook signing, the SSRF guard and the outbox worker in [`webhook`]; keys
//! bought with TAO in [`payments`]; key management on a running node (the loopback admin
//! endpoint) in [`admin`].

pub mod admin;
pub mod auth;
pub mod client;
pub mod error;
mod metrics;
pub mod openapi;
pub mod payments;
mod routes;
mod snapshot;
mod sse;
pub mod views;
pub mod webhook;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use orchestra_ledger_store::LedgerStore;
use prometheus_client::registry::Registry;
use tokio::sync::{broadcast, watch};

pub use auth::{create_key, create_key_with_limits, hash_key, revoke_key};
pub use client::LedgerClient;
pub use error::{ApiError, ErrorBody};
pub use routes::ROUTES;
pub use webhook::{WebhookConfig, forbidden_reason, signature_header, verify_signature};

use crate::metrics::Metrics;
use crate::snapshot::{SharedSnapshot, Snapshot};
use crate::sse::Frame;

/// Settings of the Ledger API. `Default` gives production values.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Free tier: requests per minute per client IP (also the burst).
    pub free_per_minute: u32,
    /// Developer tier: requests per second per key (also the burst).
    pub developer_per_second: u32,
    /// Developer tier: successful requests per calendar month (UTC).
    pub developer_monthly_quota: u64,
    /// Production tier (and enterprise keys without their own rate): requests per second per
    /// key. Production lookups are unlimited in volume; this only stops runaway clients.
    pub production_per_second: u32,
    /// How long a looked-up key is trusted before the store is asked again (so revocations
    /// take effect within this time).
    pub key_cache_ttl: Duration,
    /// How often counted usage is added to the store.
    pub usage_flush_interval: Duration,
    /// Use the last `X-Forwarded-For` hop as the client IP (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Comment line sent on idle SSE streams so proxies keep them open.
    pub sse_keepalive: Duration,
    /// Frames buffered per SSE subscriber before it is caught up from the store instead.
    pub sse_buffer: usize,
    /// Largest `limit` of `/v1/changes`.
    pub changes_page_max: usize,
    /// Allow webhook targets on loopback and private networks (local runs only).
    pub allow_private_webhooks: bool,
    pub webhook: WebhookConfig,
    /// Months of usage counters kept before the current one; older ones are deleted by the
    /// background task (hourly).
    pub usage_months_kept: u32,
    /// Connection-level limits of [`LedgerApi::serve`] (timeouts, connection, in-flight and
    /// body caps; see `orchestra_net::serve`). A server that mounts the API sets its own.
    pub server: orchestra_net::ServeLimits,
    /// Sell developer and production keys for TAO ([`payments`]); `None`: keys come from the
    /// operator only.
    pub payments: Option<payments::PaymentsConfig>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            free_per_minute: 60,
            developer_per_second: 20,
            developer_monthly_quota: 100_000,
            production_per_second: 100_000,
            key_cache_ttl: Duration::from_secs(5),
            usage_flush_interval: Duration::from_secs(5),
            trust_forwarded_for: false,
            sse_keepalive: Duration::from_secs(15),
            sse_buffer: 4096,
            changes_page_max: 1000,
            allow_private_webhooks: false,
            webhook: WebhookConfig::default(),
            usage_months_kept: 12,
            server: orchestra_net::ServeLimits::default(),
            payments: None,
        }
    }
}

/// How another service's routes are metered by [`LedgerApi::metered`].
#[derive(Debug, Clone, Copy)]
pub struct Metering {
    /// The lowest tier allowed (401 without a key, 403 below it).
    pub tier: orchestra_ledger_store::Tier,
    /// Requests one call counts as, against the key's rate window and monthly quota (a lookup is
    /// 1). Capped at the key's burst so a call can always pass eventually.
    pub cost: u32,
    /// The route templates, used as metric labels (`ledger_api_requests{route=...}`).
    pub routes: &'static [&'static str],
}

/// Who called, as admission found it: a request extension for handlers behind
/// [`LedgerApi::metered`] (and the API's own routes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCaller {
    pub tier: orchestra_ledger_store::Tier,
    /// The id of the API key (never its secret); `None` for anonymous callers.
    pub key_id: Option<String>,
}

/// State shared by the handlers and the background tasks.
pub(crate) struct Inner {
    pub config: ApiConfig,
    pub store: Arc<LedgerStore>,
    pub snapshot: SharedSnapshot,
    pub auth: auth::Auth,
    pub metrics: Metrics,
    pub registry: Registry,
    /// [`LedgerApi::serve`]'s connection limits at work (`ledger_api_server_*`).
    pub server_stats: orchestra_net::ServeStats,
    /// Change frames for SSE subscribers.
    pub events: broadcast::Sender<Arc<Frame>>,
    /// Last sequence number sent on `events`.
    broadcast_seq: AtomicU64,
    /// Set when the server shuts down, to end SSE streams.
    pub closing: watch::Sender<bool>,
    /// Bumped by the store's commit hook.
    commits: Arc<watch::Sender<u64>>,
    /// Serializes snapshot rebuilds.
    refresh_lock: tokio::sync::Mutex<()>,
    pub webhook_client: reqwest::Client,
    pub openapi: Bytes,
}

impl Inner {
    pub fn broadcast_seq(&self) -> u64 {
        self.broadcast_seq.load(Ordering::Acquire)
    }

    /// Rebuild the snapshot if the store moved on, then send the new events to SSE
    /// subscribers (after the swap, so a subscriber reacting to an event reads fresh data).
    async fn refresh(self: &Arc<Self>) -> Result<(), ApiError> {
        let _one = self.refresh_lock.lock().await;
        let current = self.snapshot.load().seq;
        if !self.store.changed_since(current) {
            return Ok(());
        }
        let store = self.store.clone();
        let prev = self.snapshot.load_full();
        let snap = tokio::task::spawn_blocking(move || Snapshot::build(&store, Some(&prev)))
            .await
            .map_err(|e| ApiError::Internal(format!("snapshot task: {e}")))??;
        let seq = snap.seq;
        self.snapshot.store(Arc::new(snap));
        self.metrics.snapshot_seq.set(seq as i64);
        self.metrics.snapshot_rebuilds.inc();
        let mut from = self.broadcast_seq();
        while from < seq {
            let page = self.store.changes_since(from, 1000)?;
            if page.is_empty() {
                break;
            }
            for ev in page.iter().take_while(|e| e.seq <= seq) {
                let f = sse::frame(ev)?;
                from = f.seq;
                // No subscribers is not an error.
                let _ = self.events.send(Arc::new(f));
            }
            self.broadcast_seq.store(from, Ordering::Release);
            if page.last().is_some_and(|e| e.seq >= seq) {
                break;
            }
        }
        Ok(())
    }
}

/// The Ledger API. Cheap to clone (shared state).
#[derive(Clone)]
pub struct LedgerApi {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for LedgerApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerApi").field("store", &self.inner.store).finish()
    }
}

impl LedgerApi {
    /// Build the API over a store. Must run inside a tokio runtime: it starts the task that
    /// keeps the snapshot current (it stops when the last clone of the API is dropped).
    pub fn new(config: ApiConfig, store: Arc<LedgerStore>) -> Result<Self, ApiError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| ApiError::NoRuntime)?;
        if config.changes_page_max == 0 || config.sse_buffer == 0 || config.webhook.max_attempts == 0 {
            return Err(ApiError::Config(
                "changes_page_max, sse_buffer and webhook.max_attempts must be at least 1".into(),
            ));
        }
        let snap = Snapshot::build(&store, None)?;
        let seq = snap.seq;
        let metrics = Metrics::new();
        metrics.snapshot_seq.set(seq as i64);
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let server_stats = orchestra_net::ServeStats::default();
        server_stats.register(registry.sub_registry_with_prefix("ledger_api_server"));
        let (events, _) = broadcast::channel(config.sse_buffer);
        let (commits, commits_rx) = watch::channel(seq);
        let commits = Arc::new(commits);
        let hook = commits.clone();
        store.on_commit(move |seq| {
            hook.send_replace(seq);
        });
        let openapi = Bytes::from(openapi::document_json()?);
        let inner = Arc::new(Inner {
            auth: auth::Auth::new(&config, store.clone())?,
            webhook_client: webhook::http_client(&config.webhook, config.allow_private_webhooks)?,
            config,
            store,
            snapshot: snapshot::shared(snap),
            metrics,
            registry,
            server_stats,
            events,
            broadcast_seq: AtomicU64::new(seq),
            closing: watch::channel(false).0,
            commits,
            refresh_lock: tokio::sync::Mutex::new(()),
            openapi,
        });
        handle.spawn(background(Arc::downgrade(&inner), commits_rx));
        Ok(LedgerApi { inner })
    }

    /// Every route (API, `/openapi.json`, `/healthz`, `/metrics`), with admission control.
    ///
    /// Serve it with `into_make_service_with_connect_info::<SocketAddr>()`: the free tier's
    /// per-IP limit needs the peer address (without it every anonymous caller shares one
    /// bucket), unless `trust_forwarded_for` is set behind a proxy.
    pub fn router(&self) -> axum::Router {
        routes::router(self.clone(), true)
    }

    /// The API routes and `/openapi.json` only, for a server that has its own `/healthz` and
    /// `/metrics` (register ours there with [`LedgerApi::register_metrics`]).
    pub fn api_router(&self) -> axum::Router {
        routes::router(self.clone(), false)
    }

    /// Put another service's routes behind this API's admission: the same keys, tiers, per-key
    /// rate limits, monthly quotas and usage metrics as the Ledger's own routes, with a tier
    /// check and a cost per call (`m`). Handlers find the caller in an [`ApiCaller`] extension.
    /// Refusals are the API's own: 401 `key_required`/`unknown_key`/`revoked_key`, 403
    /// `tier_too_low`, 429 `rate_limited`/`quota_exceeded` with `Retry-After`.
    pub fn metered<S: Clone + Send + Sync + 'static>(&self, routes: axum::Router<S>, m: Metering) -> axum::Router<S> {
        routes.layer(axum::middleware::from_fn_with_state((self.clone(), m), routes::metered))
    }

    /// Serve the admin routes ([`admin`]) on `endpoint` until `shutdown`; the endpoint's files
    /// are removed when it stops.
    pub async fn serve_admin(
        &self,
        endpoint: admin::AdminEndpoint,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ApiError> {
        endpoint.serve(self.clone(), shutdown).await
    }

    /// Register the API's metrics in another registry (values are shared).
    pub fn register_metrics(&self, registry: &mut Registry) {
        self.inner.metrics.register(registry);
    }

    pub fn store(&self) -> &Arc<LedgerStore> {
        &self.inner.store
    }

    /// Change sequence the served snapshot is current to.
    pub fn snapshot_seq(&self) -> u64 {
        self.inner.snapshot.load().seq
    }

    /// Rebuild the snapshot now if the store moved on (the background task does this by itself
    /// right after each commit; this is for callers that want to wait for it).
    pub async fn refresh(&self) -> Result<(), ApiError> {
        self.inner.refresh().await
    }

    /// Add the usage counted in memory to the store (also done periodically and on shutdown).
    pub fn flush_usage(&self) -> Result<(), ApiError> {
        self.inner.auth.flush_usage()
    }

    /// Serve every route on `listener` until `shutdown` resolves; then end SSE streams, finish
    /// in-flight requests and flush usage.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ApiError> {
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "ledger api listening");
        let closing = self.inner.closing.clone();
        let server = orchestra_net::Server::new(self.inner.config.server.clone())
            .map_err(ApiError::Internal)?
            .with_stats(self.inner.server_stats.clone());
        let signal = async move {
            shutdown.await;
            // SSE streams never end by themselves; graceful shutdown would wait for them forever.
            closing.send_replace(true);
        };
        server.serve(listener, self.router(), signal).await?;
        let api = self.clone();
        tokio::task::spawn_blocking(move || api.flush_usage())
            .await
            .map_err(|e| ApiError::Internal(format!("usage flush task: {e}")))??;
        tracing::info!(%addr, "ledger api stopped");
        Ok(())
    }

    /// Deliver webhooks from the store's outbox until `shutdown` resolves. Run exactly one
    /// worker per store: two would both deliver every row (still at-least-once, but twice).
    pub async fn run_webhook_worker(&self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ApiError> {
        const BATCH: usize = 256;
        let inner = &self.inner;
        let mut commits = inner.commits.subscribe();
        let cfg = &inner.config.webhook;
        tokio::pin!(shutdown);
        let mut last_prune: Option<Instant> = None;
        loop {
            if last_prune.is_none_or(|t| t.elapsed() >= cfg.prune_interval) {
                last_prune = Some(Instant::now());
                let store = inner.store.clone();
                let now = orchestra_ledger_store::now_ms();
                let delivered = now.saturating_sub(cfg.delivered_retention.as_millis() as u64);
                let dead = now.saturating_sub(cfg.dead_retention.as_millis() as u64);
                match tokio::task::spawn_blocking(move || store.prune_outbox(delivered, dead)).await {
                    Ok(Ok((0, 0))) => {}
                    Ok(Ok((d, x))) => tracing::info!(delivered = d, dead = x, "pruned webhook outbox rows"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "pruning the webhook outbox failed"),
                    Err(e) => tracing::warn!(error = %e, "outbox prune task failed"),
                }
            }
            let n = match webhook::deliver_due(
                &inner.store,
                &inner.webhook_client,
                cfg,
                inner.config.allow_private_webhooks,
                &inner.metrics,
                BATCH,
            )
            .await
            {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook worker round failed");
                    0
                }
            };
            if n == BATCH {
                continue;
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(cfg.poll_interval) => {}
                r = commits.changed() => {
                    if r.is_err() {
                        tokio::time::sleep(cfg.poll_interval).await;
                    }
                }
            }
        }
        tracing::info!("webhook worker stopped");
        Ok(())
    }
}

/// The oldest usage period (`YYYY-MM`) kept at `now_ms` when `months` before the current one
/// are kept.
pub fn oldest_usage_period_kept(now_ms: u64, months: u32) -> String {
    let (y, m, _) = orchestra_proto::date::civil_from_days((now_ms / 86_400_000) as i64);
    let index = y * 12 + i64::from(m) - 1 - i64::from(months);
    format!("{:04}-{:02}", index.div_euclid(12), index.rem_euclid(12) + 1)
}

/// Keeps the snapshot current and does housekeeping, until the API is dropped.
async fn background(weak: Weak<Inner>, mut commits: watch::Receiver<u64>) {
    let tick = Duration::from_millis(500);
    let mut last_housekeeping = Instant::now();
    let mut last_usage_prune: Option<Instant> = None;
    loop {
        tokio::select! {
            r = commits.changed() => {
                if r.is_err() {
                    tokio::time::sleep(tick).await;
                }
            }
            _ = tokio::time::sleep(tick) => {}
        }
        let Some(inner) = weak.upgrade() else { break };
        if let Err(e) = inner.refresh().await {
            tracing::warn!(error = %e, "ledger api snapshot refresh failed");
        }
        if last_housekeeping.elapsed() >= inner.config.usage_flush_interval {
            last_housekeeping = Instant::now();
            inner.auth.housekeeping();
            let flush = inner.clone();
            match tokio::task::spawn_blocking(move || flush.auth.flush_usage()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "usage flush failed"),
                Err(e) => tracing::warn!(error = %e, "usage flush task failed"),
            }
        }
        if last_usage_prune.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
            last_usage_prune = Some(Instant::now());
            let store = inner.store.clone();
            let before = oldest_usage_period_kept(orchestra_ledger_store::now_ms(), inner.config.usage_months_kept);
            match tokio::task::spawn_blocking(move || store.prune_usage(&before)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(removed = n, "pruned old usage counters"),
                Ok(Err(e)) => tracing::warn!(error = %e, "pruning usage counters failed"),
                Err(e) => tracing::warn!(error = %e, "usage prune task failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::oldest_usage_period_kept;

    #[test]
    fn usage_periods_kept() {
        // 2026-02-15 (Unix days 20_499).
        let feb = 20_499 * 86_400_000;
        assert_eq!(oldest_usage_period_kept(feb, 0), "2026-02");
        assert_eq!(oldest_usage_period_kept(feb, 1), "2026-01");
        assert_eq!(oldest_usage_period_kept(feb, 2), "2025-12");
        assert_eq!(oldest_usage_period_kept(feb, 12), "2025-02");
        assert_eq!(oldest_usage_period_kept(feb, 25), "2024-01");
    }
}
