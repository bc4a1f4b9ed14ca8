//! Shared fixtures for the Ledger API tests: a real server on 127.0.0.1:0 over a temporary
//! RocksDB store, keys of every tier, and a recording webhook receiver.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use orchestra_ledger_api::CancellationToken;
use orchestra_ledger_api::{ApiConfig, LedgerApi, create_key};
use orchestra_ledger_store::{ChangeKind, LedgerStore, StoreConfig, Tier};
use orchestra_proto::ledger::{AuthKind, EntryStatus, LedgerEntry, Metrics, Provenance, TransportSpec};
use parking_lot::Mutex;
use serde_json::json;

pub fn entry(netuid: u16, caps: &[&str], status: EntryStatus, reliability: Option<f64>) -> LedgerEntry {
    LedgerEntry {
        netuid,
        name: format!("sim-{netuid}"),
        description: format!("simulated subnet {netuid}"),
        capabilities: caps.iter().map(|c| c.to_string()).collect(),
        transports: vec![TransportSpec::HttpJson {
            url: format!("http://127.0.0.1:9/{netuid}"),
            method: "POST".into(),
            auth: AuthKind::None,
        }],
        input_schema: json!({"type": "object", "properties": {"prompt": {"type": "string"}}}),
        output_schema: json!({"type": "object", "properties": {"results": {"type": "array"}}}),
        fixture: json!({"prompt": "gpu pricing"}),
        metrics: Metrics { latency_p50_ms: Some(100), latency_p95_ms: Some(300), reliability, cost_micros: 10 },
        version: 0,
        last_verified_ms: None,
        provenance: Provenance::default(),
        status,
        simulated: true,
    }
}

/// Defaults for tests: quick key cache, private webhooks refused unless a test allows them.
pub fn test_config() -> ApiConfig {
    let mut c = ApiConfig { key_cache_ttl: Duration::from_millis(50), ..ApiConfig::default() };
    c.webhook.poll_interval = Duration::from_millis(50);
    c.webhook.backoff_base = Duration::from_millis(50);
    c.webhook.backoff_max = Duration::from_millis(200);
    c.webhook.timeout = Duration::from_secs(2);
    c
}

pub struct Keys {
    pub free: String,
    pub developer: String,
    pub production: String,
    pub enterprise: String,
}

pub struct Server {
    pub dir: tempfile::TempDir,
    pub store: Arc<LedgerStore>,
    pub api: LedgerApi,
    pub addr: SocketAddr,
    pub base: String,
    pub keys: Keys,
    pub http: reqwest::Client,
    stop: CancellationToken,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> reqwest::Response {
        let mut rb = self.http.get(self.url(path));
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        rb.send().await.expect("request")
    }

    /// Run the webhook worker until the server is dropped.
    pub fn start_worker(&mut self) {
        let api = self.api.clone();
        let stop = self.stop.clone();
        tokio::spawn(async move {
            api.run_webhook_worker(stop).await.expect("worker");
        });
    }

    pub fn upsert(&self, e: LedgerEntry, kind: ChangeKind) -> u64 {
        self.store.upsert_entry(e, kind, "test").expect("upsert").seq
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A server over a fresh store seeded with `entries`.
pub async fn start(config: ApiConfig, entries: Vec<LedgerEntry>) -> Server {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(
        LedgerStore::open(StoreConfig { path: dir.path().join("ledger"), sync_writes: false }).expect("open store"),
    );
    store.seed(entries).expect("seed");
    let keys = Keys {
        free: create_key(&store, Tier::Free, "free").expect("key").0,
        developer: create_key(&store, Tier::Developer, "dev").expect("key").0,
        production: create_key(&store, Tier::Production, "prod").expect("key").0,
        enterprise: orchestra_ledger_api::create_key_with_limits(
            &store,
            Tier::Enterprise,
            "ent",
            Some(1_000_000),
            Some(500),
        )
        .expect("key")
        .0,
    };
    let api = LedgerApi::new(config, store.clone()).expect("api");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stop = CancellationToken::new();
    let (served, token) = (api.clone(), stop.clone());
    tokio::spawn(async move {
        served.serve(listener, token).await.expect("serve");
    });
    Server { dir, store, api, addr, base: format!("http://{addr}"), keys, http: reqwest::Client::new(), stop }
}

/// Poll `f` until it is true or `timeout` passes.
pub async fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    f()
}

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Hit {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A webhook receiver that records every request and answers with `status`.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    pub hits: Arc<Mutex<Vec<Hit>>>,
    pub status: Arc<AtomicU16>,
}

pub async fn receiver_on(listener: tokio::net::TcpListener) -> Receiver {
    let addr = listener.local_addr().expect("addr");
    let r = Receiver { addr, hits: Arc::new(Mutex::new(Vec::new())), status: Arc::new(AtomicU16::new(200)) };
    let app = axum::Router::new().route("/hook", axum::routing::post(record)).with_state(r.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    r
}

pub async fn receiver() -> Receiver {
    receiver_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind")).await
}

async fn record(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.hits.lock().push(Hit { headers, body });
    StatusCode::from_u16(r.status.load(Ordering::SeqCst)).unwrap_or(StatusCode::OK)
}
