//! The simulated search and data subnets reached as Bittensor v10 axons through the generic
//! adapter, with the same Ledger schemas as their HTTP APIs: receipts, evidence and drift.

use std::time::Duration;

use orchestra_keys::Keypair;
use orchestra_proto::ledger::TransportSpec;
use orchestra_proto::receipt::{CallStatus, Transport};
use orchestra_subnet_sim::{Drift as SimDrift, DriftKind, Faults, SimConfig, SubnetKind, ledger, start};
use orchestra_subnets::{Adapters, Drift};
use serde_json::json;

#[tokio::test]
async fn simulated_subnets_answer_over_v10_axons() {
    let sim = start(SimConfig::default_trio()).await.expect("sim");
    let adapters = Adapters::with_guard(orchestra_net::GuardConfig::local())
        .expect("adapters")
        .with_keypair(Keypair::from_uri("//Caller").expect("key"));
    for kind in [SubnetKind::Search, SubnetKind::Data] {
        let s = sim.by_kind(kind).expect("subnet");
        let mut entry = ledger::entry(s);
        assert_eq!(entry.transports.len(), 2, "HTTP and v10 axon");
        // Prefer the axon path.
        entry.transports.reverse();
        assert!(matches!(entry.transports[0], TransportSpec::AxonV10 { .. }));
        let input = match kind {
            SubnetKind::Search => json!({"prompt": "cloud GPU pricing", "count": 3}),
            _ => json!({"url": "https://sim.lambda.example/pricing"}),
        };
        let out = adapters.call(&entry, &input, "s1", Duration::from_secs(5)).await;
        let v = out.output.expect("answer");
        let r = out.receipt.expect("receipt");
        assert_eq!(r.transport, Transport::AxonV10);
        assert_eq!(r.status, CallStatus::Ok);
        assert!(out.drift.is_empty(), "{:?}", out.drift);
        match kind {
            SubnetKind::Search => assert_eq!(v["search_results"].as_array().expect("list").len(), 3),
            _ => assert!(v["data"][0]["content"].as_str().expect("content").contains("$2.49")),
        }
        let e = out.evidence.expect("evidence");
        assert_eq!(orchestra_proto::canonical::response_digest(&e.response).expect("d"), r.response_digest);
    }
    // Drift shows on the axon path too.
    let data = sim.by_kind(SubnetKind::Data).expect("data").clone();
    let faults = Faults {
        drift: Some(SimDrift {
            after_ms: 0,
            kind: DriftKind::AddField { path: "metadata.ts".into(), value: json!("x") },
        }),
        ..Faults::default()
    };
    reqwest::Client::new().post(format!("{}/control/faults", data.base_url())).json(&faults).send().await.expect("c");
    let mut entry = ledger::entry(&data);
    entry.transports.reverse();
    let out =
        adapters.call(&entry, &json!({"keywords": ["gpu"], "keyword_mode": "any"}), "s2", Duration::from_secs(5)).await;
    assert!(matches!(out.drift.first(), Some(Drift::Unknown { .. })), "{:?}", out.drift);
    sim.shutdown().await;
}
