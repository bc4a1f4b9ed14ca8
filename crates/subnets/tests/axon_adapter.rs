//! The Bittensor transports of the generic adapters: a Ledger entry pointing at an in-process
//! v10 axon (receipts, evidence digests, envelope stripping, drift), and btauth/1-signed HTTP
//! checked by a handler that verifies the headers itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use orchestra_keys::{Keypair, PublicKey};
use orchestra_net::{Axon, AxonConfig, BlacklistPolicy};
use orchestra_proto::btauth::{self, AuthHeaders};
use orchestra_proto::canonical::{request_digest, response_digest};
use orchestra_proto::ledger::{AuthKind, EntryStatus, LedgerEntry, Metrics, Provenance, TransportSpec};
use orchestra_proto::receipt::{CallStatus, Transport};
use orchestra_proto::wire::{PyType, Synapse};
use orchestra_subnet_sim::corpus;
use orchestra_subnets::{Adapters, Drift, SubnetError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WebSearch {
    query: String,
    #[serde(default)]
    results: Vec<Value>,
    /// Set by the axon only when the test asks for drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    engine: Option<String>,
}

impl Synapse for WebSearch {
    const NAME: &'static str = "WebSearchSynapse";
    const REQUIRED_FIELDS: &'static [(&'static str, PyType)] = &[("query", PyType::Str)];
}

fn results_for(query: &str) -> Vec<Value> {
    corpus::search(query, 3).into_iter().map(|p| json!({"url": p.url, "title": p.title})).collect()
}

fn entry(transport: TransportSpec) -> LedgerEntry {
    LedgerEntry {
        netuid: 22,
        name: "websearch".into(),
        description: "test search subnet".into(),
        capabilities: vec!["web_search".into()],
        transports: vec![transport],
        input_schema: json!({
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"]
        }),
        output_schema: json!({
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "results": {"type": "array", "items": {"type": "object", "properties": {
                    "url": {"type": "string"}, "title": {"type": "string"}
                }}}
            }
        }),
        fixture: json!({"query": "gpu"}),
        metrics: Metrics::default(),
        version: 0,
        last_verified_ms: None,
        provenance: Provenance::default(),
        status: EntryStatus::Candidate,
        simulated: true,
    }
}

/// Starts the axon; returns its `ip:port`, its hotkey and the switch that makes it drift.
async fn start_axon() -> (String, String, Arc<AtomicBool>) {
    let drift = Arc::new(AtomicBool::new(false));
    let flag = drift.clone();
    let axon = Axon::new(
        AxonConfig { policy: BlacklistPolicy::allow_all(), ..Default::default() },
        Keypair::from_uri("//Sim").expect("key"),
    )
    .expect("axon")
    .attach(move |_ctx, mut syn: WebSearch| {
        let drifted = flag.load(Ordering::SeqCst);
        async move {
            syn.results = results_for(&syn.query);
            if drifted {
                syn.engine = Some("bm25".into());
            }
            Ok(syn)
        }
    })
    .expect("attach");
    let hotkey = axon.hotkey().to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(axon.serve(listener, std::future::pending()));
    (addr.to_string(), hotkey, drift)
}

fn axon_transport(endpoint: Option<String>, hotkey: Option<String>) -> TransportSpec {
    TransportSpec::AxonV10 {
        synapse: "WebSearchSynapse".into(),
        required_fields: vec!["query".into()],
        hash_fields: Vec::new(),
        endpoint,
        hotkey,
        dialect: Default::default(),
    }
}

#[tokio::test]
async fn axon_v10_calls_produce_receipts_and_drift() {
    let (endpoint, hotkey, drift) = start_axon().await;
    let e = entry(axon_transport(Some(endpoint.clone()), Some(hotkey.clone())));
    let a = Adapters::with_guard(orchestra_net::GuardConfig::local())
        .expect("adapters")
        .with_keypair(Keypair::from_uri("//Alice").expect("key"));
    let input = json!({"query": "gpu pricing"});
    let timeout = Duration::from_secs(5);

    let out = a.call(&e, &input, "s1", timeout).await;
    let output = out.output.expect("output");
    // Only the synapse's own fields: the envelope's base fields are gone.
    let obj = output.as_object().expect("object");
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["query", "results"]);
    assert_eq!(output["results"], Value::Array(results_for("gpu pricing")));
    assert!(!output["results"].as_array().expect("list").is_empty());
    assert!(out.drift.is_empty(), "{:?}", out.drift);

    let r = out.receipt.expect("receipt");
    assert_eq!(r.status, CallStatus::Ok);
    assert_eq!(r.transport, Transport::AxonV10);
    assert_eq!(r.endpoint, format!("{endpoint}/WebSearchSynapse"));
    assert_eq!(r.target, hotkey);
    let att = r.attestation.as_ref().expect("attestation");
    assert_eq!(att["status_code"], json!(200));
    assert!(att["process_time"].as_f64().is_some(), "{att}");
    let ev = out.evidence.expect("evidence");
    assert_eq!(ev.request, input);
    assert_eq!(ev.response, output);
    assert_eq!(request_digest(&ev.request).expect("digest"), r.request_digest);
    assert_eq!(response_digest(&ev.response).expect("digest"), r.response_digest);

    // The axon starts returning a field the Ledger does not know.
    drift.store(true, Ordering::SeqCst);
    let out = a.call(&e, &input, "s2", timeout).await;
    assert_eq!(out.output.expect("output")["engine"], json!("bm25"));
    assert!(
        matches!(out.drift.as_slice(), [Drift::Unknown { path, .. }] if path.contains("engine")),
        "{:?}",
        out.drift
    );

    // A wrong hotkey: the axon refuses (the request was signed for someone else), and the
    // failure still has a receipt.
    let wrong =
        entry(axon_transport(Some(endpoint.clone()), Some(Keypair::from_uri("//Bob").expect("k").ss58().into())));
    let out = a.call(&wrong, &input, "s3", timeout).await;
    assert!(matches!(out.output, Err(SubnetError::Status { code: 401, .. })), "{:?}", out.output);
    assert!(matches!(out.receipt.expect("receipt").status, CallStatus::Error { code: 401, .. }));
}

#[tokio::test]
async fn axon_v10_needs_a_key_and_a_fixed_axon() {
    let (endpoint, hotkey, _) = start_axon().await;
    let input = json!({"query": "gpu"});
    let timeout = Duration::from_secs(5);
    let unsigned = Adapters::with_guard(orchestra_net::GuardConfig::local()).expect("adapters");
    let out = unsigned.call(&entry(axon_transport(Some(endpoint), Some(hotkey))), &input, "s1", timeout).await;
    assert!(out.receipt.is_none());
    assert!(matches!(out.output, Err(SubnetError::Unsupported(m)) if m.contains("with_keypair")));

    let signed = unsigned.with_keypair(Keypair::from_uri("//Alice").expect("key"));
    let out = signed.call(&entry(axon_transport(None, None)), &input, "s1", timeout).await;
    assert!(out.receipt.is_none());
    assert!(matches!(out.output, Err(SubnetError::Unsupported(m)) if m.contains("metagraph view")));
}

/// Verifies btauth/1 headers like a receiver would, then answers the search.
async fn btauth_search(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> (StatusCode, axum::Json<Value>) {
    let pairs = headers.iter().filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)));
    let Ok(Some(auth)) = AuthHeaders::parse(pairs) else {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "no btauth headers"})));
    };
    let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let payload =
        btauth::payload(method.as_str(), target, &body, auth.nonce_ns, &auth.hotkey, auth.receiver.as_deref());
    let sig: [u8; 64] =
        hex::decode(auth.signature.trim_start_matches("0x")).ok().and_then(|b| b.try_into().ok()).unwrap_or([0; 64]);
    let ok = PublicKey::from_ss58(&auth.hotkey).is_ok_and(|pk| pk.verify(payload.as_bytes(), &sig));
    if !ok {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "bad signature"})));
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let query = req["query"].as_str().unwrap_or_default();
    (StatusCode::OK, axum::Json(json!({"query": query, "results": results_for(query), "signed_by": auth.hotkey})))
}

#[tokio::test]
async fn btauth_calls_are_signed() {
    let app = axum::Router::new().route("/search", axum::routing::post(btauth_search));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut e = entry(TransportSpec::Btauth { url: format!("http://{addr}/search?v=1"), method: "POST".into() });
    if let Some(p) = e.output_schema["properties"].as_object_mut() {
        p.insert("signed_by".into(), json!({"type": "string"}));
    }
    let key = Keypair::from_uri("//Alice").expect("key");
    let input = json!({"query": "gpu pricing"});
    let timeout = Duration::from_secs(5);

    let unsigned = Adapters::with_guard(orchestra_net::GuardConfig::local()).expect("adapters");
    let out = unsigned.call(&e, &input, "s1", timeout).await;
    assert!(out.receipt.is_none());
    assert!(matches!(out.output, Err(SubnetError::Unsupported(_))));

    let a = unsigned.with_keypair(key.clone());
    let out = a.call(&e, &input, "s1", timeout).await;
    let output = out.output.expect("output");
    assert_eq!(output["signed_by"], json!(key.ss58()));
    assert_eq!(output["results"], Value::Array(results_for("gpu pricing")));
    assert!(out.drift.is_empty(), "{:?}", out.drift);
    let r = out.receipt.expect("receipt");
    assert_eq!(r.status, CallStatus::Ok);
    assert_eq!(r.transport, Transport::Btauth);
    let ev = out.evidence.expect("evidence");
    assert_eq!(request_digest(&ev.request).expect("digest"), r.request_digest);
    assert_eq!(response_digest(&ev.response).expect("digest"), r.response_digest);

    // The same handler refuses an unsigned plain HTTP call: the headers are what it checks.
    let plain = entry(TransportSpec::HttpJson {
        url: format!("http://{addr}/search"),
        method: "POST".into(),
        auth: AuthKind::None,
    });
    let out = a.call(&plain, &input, "s2", timeout).await;
    assert!(matches!(out.output, Err(SubnetError::Status { code: 401, .. })), "{:?}", out.output);
}
