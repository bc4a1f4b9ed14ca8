//! One ranking rule (`orchestra_proto::ledger::rank_cmp`) everywhere: the Ledger store's `find`,
//! the Ledger API's `GET /v1/find` and the miner's router give the same order on the same
//! entries, ties included (equal on status, reliability, latency and cost: the lower netuid
//! first), whatever order the entries were written in.

use std::sync::Arc;

use orchestra_ledger_api::{ApiConfig, LedgerApi, LedgerClient, create_key};
use orchestra_ledger_store::{LedgerStore, StoreConfig, Tier};
use orchestra_proto::contract::Contract;
use orchestra_proto::ledger::{AuthKind, EntryStatus, LedgerEntry, Metrics, Provenance, TransportSpec};
use serde_json::json;

fn entry(netuid: u16, status: EntryStatus, reliability: Option<f64>, p50: Option<u32>, cost: u64) -> LedgerEntry {
    LedgerEntry {
        netuid,
        name: format!("sim-{netuid}"),
        description: String::new(),
        capabilities: vec!["web_search".into()],
        transports: vec![TransportSpec::HttpJson {
            url: format!("http://127.0.0.1:9/{netuid}"),
            method: "POST".into(),
            auth: AuthKind::None,
        }],
        input_schema: json!({"type": "object"}),
        output_schema: json!({"type": "object"}),
        fixture: json!({}),
        metrics: Metrics { latency_p50_ms: p50, latency_p95_ms: None, reliability, cost_micros: cost },
        version: 0,
        last_verified_ms: None,
        provenance: Provenance::default(),
        status,
        simulated: true,
    }
}

#[tokio::test]
async fn store_api_and_router_rank_alike_with_ties() {
    use EntryStatus::*;
    // Written high netuid first, so an order that kept the input order would differ.
    let entries = vec![
        entry(40, Verified, Some(0.9), Some(50), 5),
        entry(31, Verified, Some(0.9), Some(50), 5), // ties 40
        entry(30, Verified, Some(0.9), Some(50), 5), // ties 40
        entry(22, Verified, Some(0.9), Some(50), 1),
        entry(21, Verified, Some(0.9), Some(10), 9),
        entry(20, Verified, None, Some(1), 0), // unmeasured reliability counts as 0.5
        entry(13, Verified, Some(0.99), None, 0),
        entry(12, Candidate, Some(1.0), Some(1), 0),
        entry(11, Candidate, Some(1.0), Some(1), 0), // ties 12
        entry(10, Deprecated, Some(1.0), Some(1), 0),
        entry(5, Verified, Some(0.9), Some(50), 5), // ties 40, 31, 30
    ];
    let expected: Vec<u16> = vec![13, 21, 22, 5, 30, 31, 40, 20, 11, 12];

    // The miner's router (no allow-list).
    let routed: Vec<u16> =
        orchestra_miner::router::route(&entries, "web_search", &Contract::default()).iter().map(|e| e.netuid).collect();
    assert_eq!(routed, expected, "router");

    // The store.
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(
        LedgerStore::open(StoreConfig { path: dir.path().join("ledger"), sync_writes: false }).expect("open store"),
    );
    store.seed(entries.clone()).expect("seed");
    let found: Vec<u16> = store.find("web_search").expect("find").iter().map(|e| e.netuid).collect();
    assert_eq!(found, expected, "store");

    // The Ledger API, over HTTP.
    let key = create_key(&store, Tier::Developer, "ranking").expect("key").0;
    let api = LedgerApi::new(ApiConfig::default(), store.clone()).expect("api");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        api.serve(listener, async {
            let _ = stopped.await;
        })
        .await
    });
    let client = LedgerClient::new(&format!("http://{addr}"), Some(key)).expect("client");
    let api_order: Vec<u16> =
        client.find("web_search").await.expect("GET /v1/find").subnets.iter().map(|s| s.netuid()).collect();
    assert_eq!(api_order, expected, "Ledger API");

    // With an allow-list the router keeps the same relative order.
    let contract = Contract { allowed_subnets: vec![40, 5, 11, 21], ..Contract::default() };
    let allowed: Vec<u16> =
        orchestra_miner::router::route(&entries, "web_search", &contract).iter().map(|e| e.netuid).collect();
    assert_eq!(allowed, vec![21, 5, 40, 11]);

    let _ = stop.send(());
    served.await.expect("join").expect("serve");
}
