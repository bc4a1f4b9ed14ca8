//! Adapters against the running subnet simulator: receipts for every call, schema checks, drift
//! and endpoint moves turned into Ledger proposals that governance accepts as well-formed.

use std::time::Duration;

use orchestra_proto::receipt::CallStatus;
use orchestra_proto::synapses::UpdateType;
use orchestra_subnet_sim::{Drift as SimDrift, DriftKind, Faults, SimConfig, SubnetKind, ledger, start};
use orchestra_subnets::{Adapters, Drift, SubnetError, proposals_from_drift};
use serde_json::json;

#[tokio::test]
async fn calls_produce_receipts_and_drift_becomes_proposals() {
    let sim = start(SimConfig::default_trio()).await.expect("sim");
    let a = Adapters::with_guard(orchestra_net::GuardConfig::local()).expect("adapters");
    let search = ledger::entry(sim.by_kind(SubnetKind::Search).expect("search"));
    let out = a.call(&search, &json!({"prompt": "gpu pricing", "count": 3}), "s1", Duration::from_secs(5)).await;
    let r = out.receipt.expect("receipt");
    assert_eq!(r.status, CallStatus::Ok);
    assert_eq!(r.netuid, 22);
    assert!(out.output.expect("ok")["search_results"].as_array().expect("list").len() == 3);
    assert!(out.drift.is_empty(), "{:?}", out.drift);

    // Invalid input never leaves the miner and produces no receipt.
    let bad = a.call(&search, &json!({"count": 3}), "s1", Duration::from_secs(5)).await;
    assert!(bad.receipt.is_none());
    assert!(matches!(bad.output, Err(SubnetError::Schema(_))));

    // LLM over the OpenAI-compatible adapter.
    let llm = ledger::entry(sim.by_kind(SubnetKind::Llm).expect("llm"));
    let out = a
        .call(
            &llm,
            &json!({"messages": [{"role": "user", "content": "H100 at $2.49 per hour."}]}),
            "s2",
            Duration::from_secs(5),
        )
        .await;
    let v = out.output.expect("chat");
    assert!(v["choices"][0]["message"]["content"].as_str().expect("content").contains("$2.49"));

    // Drift: a new field appears in SN13-like responses.
    let data_sim = sim.by_kind(SubnetKind::Data).expect("data").clone();
    let data = ledger::entry(&data_sim);
    let faults = Faults {
        drift: Some(SimDrift {
            after_ms: 0,
            kind: DriftKind::AddField {
                path: "metadata.scrape_timestamp".into(),
                value: json!("2026-11-22T10:00:00Z"),
            },
        }),
        ..Faults::default()
    };
    let client = reqwest::Client::new();
    client.post(format!("{}/control/faults", data_sim.base_url())).json(&faults).send().await.expect("control");
    let out = a.call(&data, &json!({"url": "https://sim.lambda.example/pricing"}), "s3", Duration::from_secs(5)).await;
    assert!(out.output.is_ok());
    assert_eq!(out.drift.len(), 1, "{:?}", out.drift);
    let leaf = out.receipt.expect("receipt").leaf().expect("leaf");
    let props = proposals_from_drift(&data, &out.drift, leaf, "task-1", "5Miner");
    assert_eq!(props.len(), 1);
    assert_eq!(props[0].update_type, UpdateType::SchemaChange);
    assert_eq!(props[0].field, "output_schema.properties.data.items.properties.metadata");
    assert_eq!(props[0].evidence, vec![leaf]);

    // Endpoint move: a 301 is reported as drift (not followed), and never proposed: endpoints
    // come from operators, and validators refuse endpoint changes from miners.
    client
        .post(format!("{}/control/faults", data_sim.base_url()))
        .json(&json!({"moved_to": "/v2/ondemand"}))
        .send()
        .await
        .expect("control");
    let out = a.call(&data, &json!({"keywords": ["gpu"]}), "s4", Duration::from_secs(5)).await;
    assert!(matches!(out.drift.first(), Some(Drift::Moved { .. })), "{:?}", out.drift);
    let err = out.output.as_ref().expect_err("moved");
    assert!(err.to_string().contains("redirect not followed"), "{err}");
    let props = proposals_from_drift(&data, &out.drift, leaf, "task-1", "5Miner");
    assert!(props.is_empty(), "{props:?}");

    // Failures still produce receipts with the error status.
    client
        .post(format!("{}/control/faults", data_sim.base_url()))
        .json(&json!({"down": true}))
        .send()
        .await
        .expect("c");
    let out = a.call(&data, &json!({"keywords": ["gpu"]}), "s5", Duration::from_secs(5)).await;
    assert!(matches!(out.receipt.expect("receipt").status, CallStatus::Error { code: 503, .. }));
    assert!(out.output.expect_err("down").retryable());
    sim.shutdown().await;
}
