//! Threat model M2: `verify` applies `LedgerEntry::verifies()` itself. Handed the whole Ledger
//! (not a pre-filtered slice), it never re-probes a receipt through an entry a miner created
//! (a candidate with a proposer) or a deprecated one: the miner's own endpoint would make its
//! fabrications "reproduce".

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use orchestra_keys::Keypair;
use orchestra_net::GuardConfig;
use orchestra_proto::canonical::{request_digest, response_digest};
use orchestra_proto::contract::Contract;
use orchestra_proto::ledger::{AuthKind, EntryStatus, LedgerEntry, Metrics, Provenance, TransportSpec};
use orchestra_proto::receipt::{CallStatus, Receipt, Transport, commitment, receipt_root, result_digest};
use orchestra_proto::synapses::{CallEvidence, Orchestrate, OrchestrateRequest};
use orchestra_subnets::Adapters;
use orchestra_validator::verify::{VerifyConfig, verify};
use parking_lot::Mutex;
use serde_json::{Value, json};

/// The miner's own "subnet": agrees with whatever it is asked, and counts the requests.
async fn accomplice(body: Value) -> (SocketAddr, Arc<Mutex<u32>>) {
    let hits = Arc::new(Mutex::new(0));
    let h2 = hits.clone();
    let app = Router::new().fallback(post(move || {
        let (hits, body) = (h2.clone(), body.clone());
        async move {
            *hits.lock() += 1;
            axum::Json(body)
        }
    }));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (addr, hits)
}

fn entry(netuid: u16, url: String, status: EntryStatus, proposer: Option<&str>) -> LedgerEntry {
    LedgerEntry {
        netuid,
        name: format!("sn{netuid}"),
        description: String::new(),
        capabilities: vec!["web_search".into()],
        transports: vec![TransportSpec::HttpJson { url, method: "POST".into(), auth: AuthKind::None }],
        input_schema: json!({"type": "object"}),
        output_schema: json!({"type": "object"}),
        fixture: json!({"q": "x"}),
        metrics: Metrics::default(),
        version: 1,
        last_verified_ms: None,
        provenance: Provenance { proposer: proposer.map(str::to_string), ..Provenance::default() },
        status,
        simulated: true,
    }
}

/// A signed answer whose one receipt is a call to `netuid` (made up: the "evidence" is the
/// accomplice's agreeable body).
fn answer(key: &Keypair, netuid: u16, body: &Value) -> (OrchestrateRequest, Orchestrate) {
    let req = OrchestrateRequest {
        task_id: "t-m2".into(),
        objective: "cheapest H100".into(),
        target_schema: json!({"type": "object", "properties": {"provider": {"type": "string"}}}),
        contract: Contract::default(),
        inputs: Value::Null,
    };
    let mut o = Orchestrate::from_request(req.clone()).expect("o");
    let request = json!({"prompt": "cheapest H100"});
    o.receipts.push(Receipt {
        step_id: "s1".into(),
        netuid,
        subnet: format!("sn{netuid}"),
        transport: Transport::HttpJson,
        endpoint: "http://x".into(),
        target: String::new(),
        request_digest: request_digest(&request).expect("d"),
        response_digest: response_digest(body).expect("d"),
        started_at_ms: 0,
        finished_at_ms: 1,
        latency_ms: 1,
        status: CallStatus::Ok,
        cost_micros: 0,
        attestation: None,
    });
    o.evidence.push(CallEvidence { request, response: body.clone() });
    let result = json!({"provider": "Imaginary Cloud"});
    let root = receipt_root(&o.receipts).expect("root");
    o.receipt_root = Some(root);
    o.miner_hotkey = Some(key.ss58().to_string());
    o.miner_signature = Some(key.sign_hex(&commitment(&o.task_id, &result_digest(&result).expect("d"), &root).0));
    o.result = Some(result);
    (req, o)
}

#[tokio::test]
async fn reprobes_skip_entries_that_do_not_verify_whatever_the_caller_passes() {
    let body = json!({"results": [{"content": "Imaginary Cloud: H100 at $0.42"}]});
    let (addr, hits) = accomplice(body.clone()).await;
    let key = Keypair::from_uri("//M2Miner").expect("key");
    let adapters = Adapters::with_guard(GuardConfig::local()).expect("adapters");
    let cfg = VerifyConfig { reprobe_rate: 1.0, seed: 7, reprobe_timeout: Duration::from_secs(5) };
    let url = format!("http://{addr}/search");

    // The miner's new subnet (a candidate it proposed) and a deprecated entry: the whole
    // Ledger is handed over, unfiltered.
    for e in [
        entry(150, url.clone(), EntryStatus::Candidate, Some(key.ss58())),
        entry(150, url.clone(), EntryStatus::Deprecated, None),
    ] {
        let (req, resp) = answer(&key, 150, &body);
        let v = verify(&req, &resp, key.ss58(), Duration::from_millis(10), &[e], &adapters, &cfg, None).await;
        assert!(v.sub.signature && v.sub.receipt_root, "{:?}", v.notes);
        assert_eq!(v.sub.reprobe, Some(0.0), "an unverifiable receipt scores 0: {:?}", v.notes);
        assert!(v.notes.iter().any(|n| n.contains("no entry this validator verifies with")), "{:?}", v.notes);
    }
    assert_eq!(*hits.lock(), 0, "the miner's own endpoint was never asked to agree");

    // Control: the same endpoint as a Verified entry is re-probed (so the rule above is what
    // kept the calls away).
    let (req, resp) = answer(&key, 150, &body);
    let verified = entry(150, url, EntryStatus::Verified, Some(key.ss58()));
    let v = verify(&req, &resp, key.ss58(), Duration::from_millis(10), &[verified], &adapters, &cfg, None).await;
    assert_eq!(v.sub.reprobe, Some(1.0), "{:?}", v.notes);
    assert_eq!(*hits.lock(), 1);
}
