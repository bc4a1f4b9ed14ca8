//! Metagraph-routed axon transports against in-process axons: the best serving axon by the
//! metagraph's view is called and named in the receipt; a dead one is skipped over (and
//! receipted as a failed attempt), then avoided; a bounded number of axons is tried before the
//! entry's next transport; btauth/1 when the entry says so; re-probes prefer the axon a receipt
//! names, found in the metagraph (never at the receipt's own address); internal addresses only
//! with `allow_private`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use orchestra_keys::Keypair;
use orchestra_net::{AuthScheme, Axon, AxonConfig, BlacklistPolicy, GuardConfig};
use orchestra_proto::canonical::response_digest;
use orchestra_proto::ledger::{AuthKind, AxonDialect, EntryStatus, LedgerEntry, Metrics, Provenance, TransportSpec};
use orchestra_proto::receipt::{CallStatus, Transport};
use orchestra_proto::wire::{PyType, Synapse};
use orchestra_subnets::{Adapters, AxonRouting, ServingAxon, StaticAxons, SubnetError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const NETUID: u16 = 22;
const T: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WebSearchSynapse {
    prompt: String,
    #[serde(default)]
    search_results: Vec<Value>,
    /// Which axon answered and with which signing scheme (for the test's checks).
    #[serde(default)]
    served_by: String,
}

impl Synapse for WebSearchSynapse {
    const NAME: &'static str = "WebSearchSynapse";
    const REQUIRED_FIELDS: &'static [(&'static str, PyType)] = &[("prompt", PyType::Str)];
}

/// A running axon: its address, hotkey and request count.
struct TestAxon {
    endpoint: String,
    hotkey: String,
    hits: Arc<AtomicUsize>,
}

async fn start_axon(name: &str) -> TestAxon {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let label = name.to_string();
    let axon = Axon::new(
        AxonConfig { policy: BlacklistPolicy::allow_all(), rate_limit: None, ..Default::default() },
        Keypair::from_uri(&format!("//{name}")).expect("key"),
    )
    .expect("axon")
    .attach(move |ctx, mut syn: WebSearchSynapse| {
        h.fetch_add(1, Ordering::SeqCst);
        let label = label.clone();
        async move {
            syn.search_results =
                vec![json!({"title": "GPU prices", "link": "https://x.example/gpu", "snippet": syn.prompt})];
            let scheme = if ctx.scheme == AuthScheme::BtAuth { "btauth" } else { "v10" };
            syn.served_by = format!("{label}/{scheme}");
            Ok(syn)
        }
    })
    .expect("attach");
    let hotkey = axon.hotkey().to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = listener.local_addr().expect("addr").to_string();
    tokio::spawn(axon.serve(listener, std::future::pending()));
    TestAxon { endpoint, hotkey, hits }
}

/// An address nothing listens on, and a hotkey registered there.
async fn dead_axon(name: &str) -> TestAxon {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = l.local_addr().expect("addr").to_string();
    drop(l);
    let hotkey = Keypair::from_uri(&format!("//{name}")).expect("key").ss58().to_string();
    TestAxon { endpoint, hotkey, hits: Arc::new(AtomicUsize::new(0)) }
}

fn serving(uid: u16, a: &TestAxon, incentive: f64) -> ServingAxon {
    ServingAxon {
        uid,
        hotkey: a.hotkey.clone(),
        endpoint: a.endpoint.clone(),
        stake: 0.0,
        trust: 0.0,
        consensus: 0.0,
        incentive,
        validator_permit: false,
    }
}

fn routed(dialect: AxonDialect) -> TransportSpec {
    TransportSpec::AxonV10 {
        synapse: "WebSearchSynapse".into(),
        required_fields: vec!["prompt".into()],
        hash_fields: vec![],
        endpoint: None,
        hotkey: None,
        dialect,
    }
}

fn entry(transports: Vec<TransportSpec>) -> LedgerEntry {
    LedgerEntry {
        netuid: NETUID,
        name: "search".into(),
        description: "test search subnet served by axons".into(),
        capabilities: vec!["web_search".into()],
        transports,
        input_schema: json!({"type": "object", "required": ["prompt"], "properties": {"prompt": {"type": "string"}}}),
        output_schema: json!({"type": "object", "properties": {
            "prompt": {"type": "string"}, "served_by": {"type": "string"}, "search_results": {"type": "array"}}}),
        fixture: json!({"prompt": "gpu"}),
        metrics: Metrics { cost_micros: 7, ..Metrics::default() },
        version: 0,
        last_verified_ms: None,
        provenance: Provenance::default(),
        status: EntryStatus::Candidate,
        simulated: true,
    }
}

fn adapters(dir: &Arc<StaticAxons>) -> Adapters {
    Adapters::with_guard(GuardConfig::local())
        .expect("adapters")
        .with_keypair(Keypair::from_uri("//Caller").expect("key"))
        .with_axons(dir.clone())
}

#[tokio::test]
async fn the_best_serving_axon_answers_and_the_receipt_names_it() {
    let (a, b, c) = (start_axon("AxonA").await, start_axon("AxonB").await, start_axon("AxonC").await);
    let dir = Arc::new(StaticAxons::new());
    // B has the most incentive; an axon that never served (port 0) is not a candidate.
    let mut unserved = serving(9, &c, 1.0);
    unserved.endpoint = "0.0.0.0:0".into();
    dir.set(NETUID, vec![serving(1, &a, 0.2), serving(2, &b, 0.7), serving(3, &c, 0.1), unserved]);
    let ad = adapters(&dir);
    let input = json!({"prompt": "gpu pricing"});
    let out = ad.call(&entry(vec![routed(AxonDialect::V10)]), &input, "s1", T).await;
    let v = out.output.as_ref().expect("answer");
    assert_eq!(v["served_by"], json!("AxonB/v10"));
    assert!(out.attempts.is_empty());
    assert!(out.drift.is_empty(), "{:?}", out.drift);
    let r = out.receipt.as_ref().expect("receipt");
    assert_eq!(r.status, CallStatus::Ok);
    assert_eq!(r.transport, Transport::AxonV10);
    assert_eq!(r.endpoint, format!("{}/WebSearchSynapse", b.endpoint));
    assert_eq!(r.target, b.hotkey);
    assert_eq!(r.attestation.as_ref().expect("att")["uid"], json!(2));
    assert_eq!(r.cost_micros, 7);
    let ev = out.evidence.as_ref().expect("evidence");
    assert_eq!(response_digest(&ev.response).expect("digest"), r.response_digest);
    assert_eq!((a.hits.load(Ordering::SeqCst), b.hits.load(Ordering::SeqCst)), (0, 1));

    // No metagraph view: refused before anything is sent.
    let bare =
        Adapters::with_guard(GuardConfig::local()).expect("a").with_keypair(Keypair::from_uri("//C").expect("k"));
    let out = bare.call(&entry(vec![routed(AxonDialect::V10)]), &input, "s2", T).await;
    assert!(out.receipt.is_none());
    assert!(matches!(out.output, Err(SubnetError::Unsupported(m)) if m.contains("metagraph view")));
    // A subnet the view does not know, and one with no callable axon.
    let out = ad.call(&LedgerEntry { netuid: 99, ..entry(vec![routed(AxonDialect::V10)]) }, &input, "s3", T).await;
    assert!(matches!(out.output, Err(SubnetError::NoServingAxon { netuid: 99, .. })), "{:?}", out.output);
    dir.set(NETUID, vec![]);
    let out = ad.call(&entry(vec![routed(AxonDialect::V10)]), &input, "s4", T).await;
    assert!(matches!(out.output, Err(SubnetError::NoServingAxon { .. })), "{:?}", out.output);
    assert!(!out.output.expect_err("none").retryable());
}

#[tokio::test]
async fn a_dead_axon_is_skipped_receipted_and_then_avoided() {
    let (dead, live) = (dead_axon("DeadAxon").await, start_axon("LiveAxon").await);
    let dir = Arc::new(StaticAxons::new());
    // The dead one ranks first by the metagraph.
    dir.set(NETUID, vec![serving(1, &dead, 0.9), serving(2, &live, 0.1)]);
    let ad = adapters(&dir);
    let e = entry(vec![routed(AxonDialect::V10)]);
    let out = ad.call(&e, &json!({"prompt": "gpu"}), "s1", T).await;
    assert_eq!(out.output.as_ref().expect("answer")["served_by"], json!("LiveAxon/v10"));
    let r = out.receipt.as_ref().expect("receipt");
    assert_eq!(r.target, live.hotkey);
    // The failed call to the dead axon went out and is receipted, naming it.
    assert_eq!(out.attempts.len(), 1);
    let failed = &out.attempts[0];
    assert_eq!(failed.receipt.target, dead.hotkey);
    assert_eq!(failed.receipt.endpoint, format!("{}/WebSearchSynapse", dead.endpoint));
    assert!(matches!(failed.receipt.status, CallStatus::Error { code: 503, .. }), "{:?}", failed.receipt.status);
    assert!(failed.error.retryable());
    let calls = out.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].0.target, dead.hotkey);
    assert_eq!(calls[1].0.target, live.hotkey);

    // The next call (any clone of the adapters) goes straight to the live axon.
    let out = ad.clone().call(&e, &json!({"prompt": "gpu"}), "s2", T).await;
    assert!(out.output.is_ok());
    assert!(out.attempts.is_empty(), "{:?}", out.attempts.iter().map(|a| &a.receipt.target).collect::<Vec<_>>());
    assert_eq!(out.receipt.expect("receipt").target, live.hotkey);
}

#[tokio::test]
async fn a_bounded_number_of_axons_then_the_next_transport() {
    let dead: Vec<TestAxon> = futures_dead(3).await;
    let dir = Arc::new(StaticAxons::new());
    dir.set(NETUID, dead.iter().enumerate().map(|(i, a)| serving(i as u16, a, 0.5)).collect());
    let ad = adapters(&dir).with_axon_routing(AxonRouting { max_axons: 2, ..AxonRouting::default() });

    // The entry's second transport: plain HTTP, answering like the axons.
    let app = axum::Router::new().route(
        "/search",
        axum::routing::post(|axum::Json(v): axum::Json<Value>| async move {
            axum::Json(json!({"prompt": v["prompt"], "served_by": "http", "search_results": []}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http =
        TransportSpec::HttpJson { url: format!("http://{addr}/search"), method: "POST".into(), auth: AuthKind::None };
    let e = entry(vec![routed(AxonDialect::V10), http]);

    let out = ad.call(&e, &json!({"prompt": "gpu"}), "s1", T).await;
    assert_eq!(out.output.as_ref().expect("answer")["served_by"], json!("http"));
    assert_eq!(out.receipt.as_ref().expect("receipt").transport, Transport::HttpJson);
    assert_eq!(out.attempts.len(), 2, "two of the three dead axons, then HTTP");
    assert!(out.attempts.iter().all(|a| a.receipt.transport == Transport::AxonV10));

    // Nothing answers at all: the last call that went out is reported, the others are attempts.
    let e = entry(vec![routed(AxonDialect::V10)]);
    let out = ad.call(&e, &json!({"prompt": "gpu"}), "s2", T).await;
    assert!(matches!(out.output, Err(SubnetError::Status { code: 503, .. })), "{:?}", out.output);
    assert!(out.receipt.is_some());
    assert_eq!(out.attempts.len(), 1);
}

async fn futures_dead(n: usize) -> Vec<TestAxon> {
    let mut v = Vec::new();
    for i in 0..n {
        v.push(dead_axon(&format!("Dead{i}")).await);
    }
    v
}

#[tokio::test]
async fn btauth_axons_when_the_entry_says_so() {
    let a = start_axon("BtAxon").await;
    let dir = Arc::new(StaticAxons::new());
    dir.set(NETUID, vec![serving(4, &a, 0.3)]);
    let out = adapters(&dir).call(&entry(vec![routed(AxonDialect::Btauth)]), &json!({"prompt": "q"}), "s1", T).await;
    assert_eq!(out.output.as_ref().expect("answer")["served_by"], json!("BtAxon/btauth"));
    let r = out.receipt.expect("receipt");
    assert_eq!(r.transport, Transport::Btauth);
    assert_eq!(r.target, a.hotkey);

    // The dialect round-trips through the entry's JSON; v10 is left out.
    let j = serde_json::to_value(routed(AxonDialect::Btauth)).expect("json");
    assert_eq!(j["dialect"], json!("btauth/1"));
    assert!(serde_json::to_value(routed(AxonDialect::V10)).expect("json").get("dialect").is_none());
}

#[tokio::test]
async fn reprobes_prefer_the_named_axon_found_in_the_metagraph() {
    let (a, b) = (start_axon("ReA").await, start_axon("ReB").await);
    let dir = Arc::new(StaticAxons::new());
    dir.set(NETUID, vec![serving(1, &a, 0.9), serving(2, &b, 0.1)]);
    let ad = adapters(&dir);
    let e = entry(vec![routed(AxonDialect::V10)]);
    let input = json!({"prompt": "gpu"});
    // A miner's receipt names B (which ranks second).
    let miner = adapters(&dir);
    let mut receipt = miner.call(&e, &input, "s1", T).await.receipt.expect("receipt");
    receipt.target = b.hotkey.clone();
    let out = ad.reprobe(&e, &input, "reprobe", T, &receipt).await;
    assert_eq!(out.output.expect("answer")["served_by"], json!("ReB/v10"));

    // The receipt names an address the metagraph does not have for that hotkey: the
    // metagraph's address is called, never the receipt's.
    let trap = start_axon("Trap").await;
    receipt.endpoint = format!("{}/WebSearchSynapse", trap.endpoint);
    let out = ad.reprobe(&e, &input, "reprobe", T, &receipt).await;
    assert_eq!(out.output.expect("answer")["served_by"], json!("ReB/v10"));
    // A hotkey that is not serving on the subnet: the best serving axon instead.
    receipt.target = trap.hotkey.clone();
    let out = ad.reprobe(&e, &input, "reprobe", T, &receipt).await;
    assert_eq!(out.output.expect("answer")["served_by"], json!("ReA/v10"));
    assert_eq!(trap.hits.load(Ordering::SeqCst), 0);

    // The named axon died: any other serving axon of the subnet answers the re-probe.
    let dead = dead_axon("ReDead").await;
    dir.set(NETUID, vec![serving(1, &a, 0.9), serving(3, &dead, 0.1)]);
    receipt.target = dead.hotkey.clone();
    let out = ad.reprobe(&e, &input, "reprobe", T, &receipt).await;
    assert_eq!(out.output.expect("answer")["served_by"], json!("ReA/v10"));
    assert_eq!(out.attempts.len(), 1);
    assert_eq!(out.attempts[0].receipt.target, dead.hotkey);
}

#[tokio::test]
async fn internal_axon_addresses_need_allow_private() {
    let a = start_axon("Internal").await;
    let dir = Arc::new(StaticAxons::new());
    dir.set(NETUID, vec![serving(1, &a, 1.0)]);
    let public_only = Adapters::with_guard(GuardConfig::default())
        .expect("adapters")
        .with_keypair(Keypair::from_uri("//Caller").expect("key"))
        .with_axons(dir.clone());
    let out = public_only.call(&entry(vec![routed(AxonDialect::V10)]), &json!({"prompt": "q"}), "s1", T).await;
    assert!(out.receipt.is_none());
    assert!(matches!(out.output, Err(SubnetError::NoServingAxon { .. })), "{:?}", out.output);
    assert_eq!(a.hits.load(Ordering::SeqCst), 0);
}
