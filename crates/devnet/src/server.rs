//! The devnet's HTTP transport: the `orchestra_chain::devnet_api` routes (so `DevnetClient`
//! works unchanged), the admin routes of [`crate::admin`], `/metrics` and `/healthz`, and the
//! block producer. All rules live in [`crate::state`]; this module only verifies signatures and
//! nonces, serializes access to the state, persists each change before answering, and counts.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use orchestra_chain::devnet_api::{
    API_VERSION, ApiError, ApiErrorKind, BlockResponse, CommitmentResponse, DevnetCall, ErrorResponse,
    ExtrinsicRequest, InfoResponse, UidResponse, paths,
};
use orchestra_chain::{NetUid, TxOutcome};
use orchestra_keys::Keypair;
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::DevnetError;
use crate::admin::{ACCOUNT_ROUTE, ADMIN_ROUTE, AccountResponse, AdminCall, AdminRequest, MAX_ADVANCE};
use crate::state::{ChainSettings, Changes, DevnetState, RAO_PER_TAO};
use crate::store::{DevnetStore, Nonces};

/// Dev accounts funded at genesis when [`DevnetConfig::dev_accounts`] is on (Substrate's).
pub const DEV_ACCOUNTS: [&str; 6] = ["//Alice", "//Bob", "//Charlie", "//Dave", "//Eve", "//Ferdie"];
/// What each dev account gets at genesis: 1 000 000 TAO.
pub const DEV_BALANCE: u64 = 1_000_000 * RAO_PER_TAO;

/// How to run a devnet.
#[derive(Clone, Debug)]
pub struct DevnetConfig {
    /// Address to listen on (port 0 picks one).
    pub listen: SocketAddr,
    /// Directory of the RocksDB store.
    pub data_dir: PathBuf,
    /// Milliseconds between blocks; 0 produces blocks only on `advance_blocks` admin calls.
    pub block_time_ms: u64,
    /// Tempo of subnets created without one.
    pub tempo: u16,
    /// Emission per block and subnet, rao.
    pub emission_per_block: u64,
    /// Accept loopback axon IPs (the chain refuses them).
    pub allow_loopback_axons: bool,
    /// On a fresh data directory, fund the dev accounts ([`DEV_ACCOUNTS`]) and create subnet 1
    /// owned by `//Alice`.
    pub dev_accounts: bool,
    /// fsync every write (off only for benchmarks).
    pub sync_writes: bool,
    /// Connection-level limits of the HTTP server (see `orchestra_net::serve`).
    pub server: orchestra_net::ServeLimits,
}

impl DevnetConfig {
    /// Defaults for a devnet storing in `data_dir`: 127.0.0.1:9955, 1 s blocks, tempo 100,
    /// 1 TAO a block, loopback axons allowed, dev accounts, synced writes.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        DevnetConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9955)),
            data_dir: data_dir.into(),
            block_time_ms: 1000,
            tempo: 100,
            emission_per_block: RAO_PER_TAO,
            allow_loopback_axons: true,
            dev_accounts: true,
            sync_writes: true,
            server: orchestra_net::ServeLimits::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CallLabels {
    call: String,
    outcome: String,
}

/// The devnet's Prometheus metrics (prefix `orchestra_devnet`).
struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    block: Gauge,
    epochs: Counter,
    apply_seconds: Histogram,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("orchestra_devnet");
        let calls = Family::<CallLabels, Counter>::default();
        let block = Gauge::default();
        let epochs = Counter::default();
        // 10 µs … ~5 s: one call applied and synced to disk.
        let apply_seconds = Histogram::new(exponential_buckets(0.000_01, 2.0, 20));
        registry.register("calls", "Extrinsics and admin calls by call and outcome (ok or error name)", calls.clone());
        registry.register("block", "Current block", block.clone());
        registry.register("epochs", "Epochs run", epochs.clone());
        registry.register(
            "apply_seconds",
            "Time to apply one call and persist it, under the state lock",
            apply_seconds.clone(),
        );
        Metrics { registry, calls, block, epochs, apply_seconds }
    }

    fn count(&self, call: &str, result: &Result<TxOutcome, ApiError>) {
        let outcome = match result {
            Ok(_) => "ok".to_string(),
            Err(e) => e.name.clone().unwrap_or_else(|| format!("{:?}", e.kind).to_lowercase()),
        };
        self.calls.get_or_create(&CallLabels { call: call.to_string(), outcome }).inc();
    }
}

struct Node {
    state: DevnetState,
    nonces: Nonces,
    store: DevnetStore,
}

struct Shared {
    node: Mutex<Node>,
    metrics: Metrics,
    block_time_ms: u64,
}

impl Shared {
    /// Runs `f` on the state under the lock with replay protection, then persists. A call that
    /// fails its rules still uses up its nonce (as a failed extrinsic does on chain). If the
    /// write fails, the last durable state is reloaded so memory never runs ahead of disk.
    fn transact(
        &self,
        signer: &str,
        nonce: u64,
        f: impl FnOnce(&mut DevnetState) -> Result<Changes, ApiError>,
    ) -> Result<TxOutcome, ApiError> {
        let started = Instant::now();
        let mut node = self.node.lock();
        let last = node.nonces.get(signer).copied().unwrap_or(0);
        if nonce <= last {
            return Err(ApiError {
                kind: ApiErrorKind::InvalidTransaction,
                pallet: None,
                name: Some("Stale".into()),
                message: format!("nonce {nonce} is not above {last}, the last one accepted from {signer}"),
            });
        }
        node.nonces.insert(signer.to_string(), nonce);
        let result = f(&mut node.state);
        let changes = result.clone().unwrap_or_default();
        let node = &mut *node;
        if let Err(e) = node.store.save(&node.state, &node.nonces, &changes) {
            tracing::error!(error = %e, "devnet write failed; reloading the last durable state");
            if let Ok(Some((state, nonces))) = node.store.load() {
                node.state = state;
                node.nonces = nonces;
            }
            return Err(ApiError::new(ApiErrorKind::Internal, format!("cannot persist: {e}")));
        }
        self.metrics.apply_seconds.observe(started.elapsed().as_secs_f64());
        self.metrics.block.set(node.state.block as i64);
        result.map(|c| TxOutcome {
            block_hash: None,
            block_number: Some(node.state.block),
            extrinsic_hash: c.extrinsic_hash,
        })
    }

    /// Produces `n` blocks and persists them.
    fn produce_blocks(&self, n: u32) -> Result<u64, DevnetError> {
        let mut node = self.node.lock();
        let mut epochs = 0;
        for _ in 0..n {
            let reports = node.state.advance_block();
            for r in &reports {
                tracing::info!(netuid = r.netuid, block = r.block, emission = r.emission, "epoch");
            }
            epochs += reports.len() as u64;
        }
        let node = &mut *node;
        if let Err(e) = node.store.save_all(&node.state, &node.nonces) {
            if let Ok(Some((state, nonces))) = node.store.load() {
                node.state = state;
                node.nonces = nonces;
            }
            return Err(e);
        }
        self.metrics.epochs.inc_by(epochs);
        self.metrics.block.set(node.state.block as i64);
        Ok(node.state.block)
    }
}

/// A devnet ready to serve: store opened, state loaded (or created), socket bound.
pub struct DevnetServer {
    shared: Arc<Shared>,
    listener: std::net::TcpListener,
    addr: SocketAddr,
    server: orchestra_net::Server,
}

impl std::fmt::Debug for DevnetServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevnetServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl DevnetServer {
    /// Opens the store in `config.data_dir` (restoring the state exactly as last persisted, or
    /// creating genesis) and binds `config.listen`.
    pub fn new(config: DevnetConfig) -> Result<Self, DevnetError> {
        if config.tempo > crate::state::MAX_TEMPO {
            return Err(DevnetError::Config(format!("tempo {} is above {}", config.tempo, crate::state::MAX_TEMPO)));
        }
        std::fs::create_dir_all(&config.data_dir)?;
        let store = DevnetStore::open(&config.data_dir, config.sync_writes)?;
        let settings = ChainSettings {
            default_tempo: config.tempo,
            emission_per_block: config.emission_per_block,
            allow_loopback_axons: config.allow_loopback_axons,
        };
        let (state, nonces) = match store.load()? {
            Some((mut state, nonces)) => {
                tracing::info!(block = state.block, subnets = state.subnets.len(), "devnet state restored");
                state.settings = settings;
                (state, nonces)
            }
            None => {
                let state = genesis(settings, config.dev_accounts)?;
                let nonces = BTreeMap::new();
                store.save_all(&state, &nonces)?;
                tracing::info!(dev_accounts = config.dev_accounts, "devnet genesis");
                (state, nonces)
            }
        };
        let listener = std::net::TcpListener::bind(config.listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let metrics = Metrics::new();
        metrics.block.set(state.block as i64);
        let shared = Arc::new(Shared {
            node: Mutex::new(Node { state, nonces, store }),
            metrics,
            block_time_ms: config.block_time_ms,
        });
        let server = orchestra_net::Server::new(config.server).map_err(DevnetError::Config)?;
        Ok(DevnetServer { shared, listener, addr, server })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ip:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A copy of the current state (tests, tools).
    pub fn state(&self) -> DevnetState {
        self.shared.node.lock().state.clone()
    }

    /// Serves until `shutdown` completes, producing blocks every `block_time_ms` meanwhile. On
    /// return the store is closed (the server is consumed), so the data directory can be reopened.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), DevnetError> {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        let shared = self.shared;
        let producer = (shared.block_time_ms > 0).then(|| tokio::spawn(block_loop(shared.clone())));
        tracing::info!(addr = %self.addr, block_time_ms = shared.block_time_ms, "devnet serving");
        let served = self.server.serve(listener, router(shared), shutdown).await;
        if let Some(p) = producer {
            p.abort();
            let _ = p.await;
        }
        served?;
        Ok(())
    }

    /// Starts serving on the current tokio runtime; stop it with [`RunningDevnet::stop`].
    pub fn spawn(self) -> RunningDevnet {
        let url = self.url();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let join = tokio::spawn(self.run(async move {
            let _ = rx.await;
        }));
        RunningDevnet { url, stop: Some(tx), join }
    }
}

/// A devnet serving in the background.
#[derive(Debug)]
pub struct RunningDevnet {
    /// `http://ip:port`.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    join: tokio::task::JoinHandle<Result<(), DevnetError>>,
}

impl RunningDevnet {
    /// Stops serving and waits until the store is closed.
    pub async fn stop(mut self) -> Result<(), DevnetError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match (&mut self.join).await {
            Ok(r) => r,
            Err(e) => Err(DevnetError::Io(std::io::Error::other(e.to_string()))),
        }
    }
}

fn genesis(settings: ChainSettings, dev_accounts: bool) -> Result<DevnetState, DevnetError> {
    let mut state = DevnetState::new(settings);
    if dev_accounts {
        let keys = DEV_ACCOUNTS
            .iter()
            .map(|uri| Keypair::from_uri(uri).map_err(|e| DevnetError::Config(format!("{uri}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        for k in &keys {
            state.balances.insert(k.ss58().to_string(), DEV_BALANCE);
        }
        let create =
            AdminCall::CreateSubnet { netuid: Some(1), owner_hotkey: None, hyperparams: serde_json::Map::new() };
        state
            .apply_admin(keys[0].ss58(), &create)
            .map_err(|e| DevnetError::Config(format!("genesis subnet: {}", e.message)))?;
    }
    Ok(state)
}

async fn block_loop(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(shared.block_time_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate
    loop {
        tick.tick().await;
        let s = shared.clone();
        match tokio::task::spawn_blocking(move || s.produce_blocks(1)).await {
            Ok(Ok(block)) => tracing::trace!(block, "block"),
            Ok(Err(e)) => tracing::error!(error = %e, "block not persisted"),
            Err(e) => tracing::error!(error = %e, "block producer task failed"),
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(paths::INFO, get(info))
        .route(paths::BLOCK, get(block))
        .route(paths::HYPERPARAMS_ROUTE, get(hyperparams))
        .route(paths::METAGRAPH_ROUTE, get(metagraph))
        .route(paths::UID_ROUTE, get(uid))
        .route(paths::COMMITMENT_ROUTE, get(commitment))
        .route(paths::EXTRINSICS, post(extrinsic))
        .route(ADMIN_ROUTE, post(admin))
        .route(ACCOUNT_ROUTE, get(account))
        .route(paths::BLOCK_EXTRINSICS_ROUTE, get(block_extrinsics))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .with_state(shared)
}

fn fail(e: ApiError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(ErrorResponse { error: e })).into_response()
}

fn reply<T: Serialize>(r: Result<T, ApiError>) -> Response {
    match r {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => fail(e),
    }
}

async fn not_found() -> Response {
    fail(ApiError::new(ApiErrorKind::NotFound, "no such route"))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    let mut out = String::new();
    match prometheus_client::encoding::text::encode(&mut out, &s.metrics.registry) {
        Ok(()) => ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], out)
            .into_response(),
        Err(e) => fail(ApiError::new(ApiErrorKind::Internal, e.to_string())),
    }
}

async fn info(State(s): State<Arc<Shared>>) -> Response {
    let node = s.node.lock();
    axum::Json(InfoResponse {
        api_version: API_VERSION,
        block: node.state.block,
        block_time_ms: s.block_time_ms,
        subnets: node.state.subnets.keys().copied().collect(),
    })
    .into_response()
}

async fn block(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(BlockResponse { block: s.node.lock().state.block }).into_response()
}

async fn hyperparams(State(s): State<Arc<Shared>>, Path(netuid): Path<NetUid>) -> Response {
    reply(s.node.lock().state.hyperparams(netuid))
}

async fn metagraph(State(s): State<Arc<Shared>>, Path(netuid): Path<NetUid>) -> Response {
    let mg = s.node.lock().state.metagraph(netuid);
    reply(mg)
}

async fn uid(State(s): State<Arc<Shared>>, Path((netuid, hotkey)): Path<(NetUid, String)>) -> Response {
    let node = s.node.lock();
    reply(node.state.subnet(netuid).map(|sn| UidResponse { uid: sn.uid_of(&hotkey) }))
}

async fn commitment(State(s): State<Arc<Shared>>, Path((netuid, hotkey)): Path<(NetUid, String)>) -> Response {
    let node = s.node.lock();
    reply(node.state.commitment(netuid, &hotkey).map(|commitment| CommitmentResponse { commitment }))
}

async fn account(State(s): State<Arc<Shared>>, Path(account): Path<String>) -> Response {
    let balance = s.node.lock().state.balance(&account);
    axum::Json(AccountResponse { account, balance }).into_response()
}

async fn block_extrinsics(State(s): State<Arc<Shared>>, Path(number): Path<u64>) -> Response {
    axum::Json(s.node.lock().state.block_extrinsics(number)).into_response()
}

fn call_name(c: &DevnetCall) -> &'static str {
    match c {
        DevnetCall::SetWeights { .. } => "set_weights",
        DevnetCall::CommitWeights { .. } => "commit_weights",
        DevnetCall::RevealWeights { .. } => "reveal_weights",
        DevnetCall::ServeAxon(_) => "serve_axon",
        DevnetCall::SetCommitment { .. } => "set_commitment",
        DevnetCall::BurnedRegister { .. } => "burned_register",
        DevnetCall::Transfer { .. } => "transfer",
    }
}

async fn extrinsic(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let req: ExtrinsicRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return fail(ApiError::new(ApiErrorKind::BadRequest, format!("extrinsic JSON: {e}"))),
    };
    let name = call_name(&req.call);
    // Signature checks cost ~50 µs: done on a blocking thread, as is the synced write.
    let shared = s.clone();
    let result = tokio::task::spawn_blocking(move || {
        if let Err(e) = req.verify() {
            return Err(ApiError::new(ApiErrorKind::BadSignature, e.to_string()));
        }
        let ExtrinsicRequest { signer, nonce, call, .. } = req;
        shared.transact(&signer, nonce, |state| state.apply(&signer, &call))
    })
    .await
    .unwrap_or_else(|e| Err(ApiError::new(ApiErrorKind::Internal, e.to_string())));
    s.metrics.count(name, &result);
    if let Err(e) = &result {
        tracing::debug!(call = name, error = ?e.name, message = %e.message, "extrinsic refused");
    }
    reply(result)
}

async fn admin(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let req: AdminRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return fail(ApiError::new(ApiErrorKind::BadRequest, format!("admin JSON: {e}"))),
    };
    let name = req.call.name();
    let shared = s.clone();
    let result = tokio::task::spawn_blocking(move || {
        if let Err(e) = req.verify() {
            return Err(ApiError::new(ApiErrorKind::BadSignature, e));
        }
        let AdminRequest { signer, nonce, call, .. } = req;
        match call {
            AdminCall::AdvanceBlocks { blocks } => {
                if blocks > MAX_ADVANCE {
                    return Err(ApiError::new(ApiErrorKind::BadRequest, format!("at most {MAX_ADVANCE} blocks")));
                }
                // Record the nonce first (replay protection), then produce.
                shared.transact(&signer, nonce, |_| Ok(Changes::default()))?;
                let block =
                    shared.produce_blocks(blocks).map_err(|e| ApiError::new(ApiErrorKind::Internal, e.to_string()))?;
                Ok(TxOutcome { block_hash: None, block_number: Some(block), extrinsic_hash: None })
            }
            call => shared.transact(&signer, nonce, |state| state.apply_admin(&signer, &call)),
        }
    })
    .await
    .unwrap_or_else(|e| Err(ApiError::new(ApiErrorKind::Internal, e.to_string())));
    s.metrics.count(name, &result);
    reply(result)
}
