//! The objective gateway goes through the Ledger API's admission (threat model S3), over real
//! HTTP against a running validator: a key of the developer tier or above, the key's rate
//! window and monthly quota (an objective costs `--api.objective_cost` lookups), the API's usage
//! metrics, and the API's refusals (401/403/429 with a code and a message).

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use orchestra_chain::Chain;
use orchestra_keys::Keypair;
use orchestra_ledger_api::{create_key, create_key_with_limits, revoke_key};
use orchestra_ledger_store::Tier;
use orchestra_net::{Axon, AxonConfig, BlacklistPolicy};
use orchestra_proto::synapses::Orchestrate;
use orchestra_validator::node::ValidatorNode;
use parking_lot::Mutex;
use serde_json::{Value, json};
use support::{MockChain, MockState, hyperparams, neuron, validator_config};

const URI: &str = "//GwValidator";

/// A miner that answers every task without a result (the objective fails, and is still served).
async fn busy_miner(key: Keypair) -> u16 {
    let cfg = AxonConfig { policy: BlacklistPolicy::allow_all(), ..AxonConfig::default() };
    let axon = Axon::new(cfg, key)
        .expect("axon")
        .attach(|_ctx, mut req: Orchestrate| async move {
            req.error = Some("busy".into());
            Ok(req)
        })
        .expect("attach");
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let _ = axon.serve(l, std::future::pending()).await;
    });
    port
}

struct Answer {
    status: u16,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

impl Answer {
    fn header(&self, name: &str) -> Option<u64> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok())
    }
}

async fn call(method: reqwest::Method, url: String, key: Option<&str>, body: Option<Value>) -> Answer {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)), headers }
}

fn objective() -> Value {
    json!({"objective": "Find the cheapest H100 GPU-hour price", "target_schema": {"provider": "str", "price": "float"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objectives_go_through_the_ledger_apis_admission() {
    let dir = tempfile::tempdir().expect("tmp");
    let me = Keypair::from_uri(URI).expect("key");
    let miner = Keypair::from_uri("//GwMiner").expect("key");
    let port = busy_miner(miner.clone()).await;
    let st = Arc::new(Mutex::new(MockState {
        block: 100,
        neurons: vec![
            neuron(0, me.ss58(), None),
            neuron(1, miner.ss58(), Some((IpAddr::V4(Ipv4Addr::LOCALHOST), port))),
        ],
        hyperparams: hyperparams(false),
        ..MockState::default()
    }));
    let chain: Arc<dyn Chain> = Arc::new(MockChain::new(me.ss58(), st.clone()));
    let cfg = validator_config(URI, dir.path(), &["--epoch.secs", "3600", "--tasks.deadline_ms", "1000"]);
    let v = ValidatorNode::with_chain(cfg, chain).await.expect("validator");
    let base = format!("http://{}", v.api_addr().expect("addr"));
    let store = v.store();
    let (free, _) = create_key(&store, Tier::Free, "free").expect("key");
    let (dev, _) = create_key(&store, Tier::Developer, "dev").expect("key");
    let (revoked, rk) = create_key(&store, Tier::Production, "gone").expect("key");
    revoke_key(&store, &rk.id).expect("revoke");
    // Enterprise keys with small limits: a burst of exactly one objective; a quota of 15.
    let (burst1, _) = create_key_with_limits(&store, Tier::Enterprise, "burst", None, Some(10)).expect("key");
    let (quota15, q) = create_key_with_limits(&store, Tier::Enterprise, "quota", Some(15), Some(1000)).expect("key");
    let (tx, rx) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(v.run(rx));
    // The first round syncs the metagraph (objectives need it).
    let t0 = std::time::Instant::now();
    loop {
        let s = call(reqwest::Method::GET, format!("{base}/v1/status"), None, None).await;
        if s.body["status"]["epoch"].as_u64().unwrap_or(0) >= 1 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "no round: {}", s.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let submit = |key: Option<String>| {
        let url = format!("{base}/v1/objectives");
        async move { call(reqwest::Method::POST, url, key.as_deref(), Some(objective())).await }
    };

    // Refusals, each with a code and a message.
    let r = submit(None).await;
    assert_eq!((r.status, r.body["code"].as_str()), (401, Some("key_required")), "{}", r.body);
    assert!(r.body["error"].as_str().is_some_and(|m| m.contains("developer")), "{}", r.body);
    let r = submit(Some("olk_not_a_key".into())).await;
    assert_eq!((r.status, r.body["code"].as_str()), (401, Some("unknown_key")), "{}", r.body);
    let r = submit(Some(revoked)).await;
    assert_eq!((r.status, r.body["code"].as_str()), (401, Some("revoked_key")), "{}", r.body);
    let r = submit(Some(free.clone())).await;
    assert_eq!((r.status, r.body["code"].as_str()), (403, Some("tier_too_low")), "{}", r.body);
    assert_eq!(r.body["required_tier"], "developer");

    // A developer key: served, and the objective counts 10 against the monthly quota.
    let r = submit(Some(dev.clone())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["state"], "failed", "the busy miner gave no result: {}", r.body);
    assert_eq!((r.header("x-quota-limit"), r.header("x-quota-remaining")), (Some(100_000), Some(99_990)));
    let id = r.body["id"].as_str().expect("id").to_string();
    // Reading it costs one lookup.
    let g = call(reqwest::Method::GET, format!("{base}/v1/objectives/{id}"), Some(&dev), None).await;
    assert_eq!((g.status, g.header("x-quota-remaining")), (200, Some(99_989)), "{}", g.body);
    // Another key cannot see it (same 404 as a missing id).
    let g = call(reqwest::Method::GET, format!("{base}/v1/objectives/{id}"), Some(&quota15), None).await;
    assert_eq!(g.status, 404, "{}", g.body);

    // The key's rate window: a burst of 10 holds one objective (cost 10), not two.
    let (a, b) = tokio::join!(submit(Some(burst1.clone())), submit(Some(burst1.clone())));
    let mut codes = [a.status, b.status];
    codes.sort();
    assert_eq!(codes, [201, 429], "{} / {}", a.body, b.body);
    let limited = if a.status == 429 { &a } else { &b };
    assert_eq!(limited.body["code"], "rate_limited", "{}", limited.body);
    assert!(limited.header("retry-after").is_some_and(|s| s >= 1));

    // The monthly quota: 15 holds one objective and five lookups, not a second objective.
    let r = submit(Some(quota15.clone())).await;
    assert_eq!((r.status, r.header("x-quota-remaining")), (201, Some(5)), "{}", r.body);
    let r = submit(Some(quota15.clone())).await;
    assert_eq!((r.status, r.body["code"].as_str()), (429, Some("quota_exceeded")), "{}", r.body);
    assert!(r.body["error"].as_str().is_some_and(|m| m.contains("monthly quota of 15")), "{}", r.body);

    // The usage metrics show the gateway's routes beside the Ledger's.
    let m = call(reqwest::Method::GET, format!("{base}/metrics"), None, None).await;
    let text = m.body.as_str().expect("metrics text").to_string();
    for line in [
        r#"ledger_api_requests_total{route="/v1/objectives",status="201"} 3"#,
        r#"ledger_api_requests_total{route="/v1/objectives",status="429"} 2"#,
        r#"ledger_api_requests_total{route="/v1/objectives",status="403"} 1"#,
        r#"ledger_api_requests_total{route="/v1/objectives/{id}",status="200"} 1"#,
        r#"ledger_api_units_total{route="/v1/objectives"} 30"#,
    ] {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
    // The stored usage catches up within the flush interval (5 s).
    let month = orchestra_ledger_api::auth::month_of(orchestra_ledger_store::now_ms());
    let t0 = std::time::Instant::now();
    while store.usage(&q.id, &month).expect("usage") != 10 {
        assert!(t0.elapsed() < Duration::from_secs(15), "usage never flushed");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tx.send_replace(true);
    let _ = tokio::time::timeout(Duration::from_secs(20), run).await;
}
