//! The LLM planner: a plan from an LLM subnet is validated, repaired and used (its planning call
//! receipted); an answer that is not a plan (the simulated LLM only extracts figures) falls back
//! to the deterministic planner. Neither LLM here answers the extraction task, so the results
//! come from the deterministic fallback.

use axum::Json;
use axum::routing::post;
use orchestra_keys::Keypair;
use orchestra_miner::pipeline::MinerCore;
use orchestra_proto::contract::Contract;
use orchestra_proto::ledger::{AuthKind, TransportSpec};
use orchestra_proto::synapses::{Orchestrate, OrchestrateRequest};
use orchestra_subnet_sim::{SimConfig, SubnetKind, ledger, start};
use serde_json::{Value, json};

fn request(id: &str) -> Orchestrate {
    Orchestrate::from_request(OrchestrateRequest {
        task_id: id.into(),
        objective: "Research cloud GPU pricing".into(),
        target_schema: json!({"competitors": [{"name": "str", "pricing": "dict"}]}),
        contract: Contract { deadline_ms: 20_000, ..Contract::default() },
        inputs: Value::Null,
    })
    .expect("request")
}

#[tokio::test]
async fn llm_plans_are_repaired_and_used_or_fall_back() {
    let sim = start(SimConfig::default_trio()).await.expect("sim");
    let mut entries: Vec<_> = sim.subnets.iter().map(ledger::entry).collect();

    // 1. The simulated LLM cannot plan: the deterministic plan is used.
    let core = MinerCore::new_local(Keypair::from_uri("//Planner").expect("key"), entries.clone(), None)
        .expect("core")
        .with_llm_planner(true);
    let out = core.orchestrate(request("p-1")).await;
    assert_eq!(out.error, None);
    let ids: Vec<&str> = out.plan.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec!["search", "scrape", "extract"], "deterministic fallback, then the LLM extraction");
    assert_eq!(out.receipts[0].step_id, "plan", "the failed planning call is still receipted");

    // 2. A planning LLM (a stand-in server with the OpenAI shape) returns a plan with a bogus
    //    step and a step with missing inputs: the bogus one is dropped, the inputs filled.
    let plan = json!({"steps": [
        {"id": "find", "capability": "web_search", "inputs": {}, "depends_on": []},
        {"id": "read", "capability": "scrape", "inputs": {"from": "find", "take": 2}, "depends_on": ["find"]},
        {"id": "teleport", "capability": "quantum_oracle", "inputs": {}, "depends_on": ["read"]}
    ]});
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let plan = plan.clone();
            async move {
                Json(json!({"id": "x", "object": "chat.completion", "created": 0, "model": "planner",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": plan.to_string()}, "finish_reason": "stop"}]}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    for e in entries.iter_mut().filter(|e| e.has_capability("llm_chat")) {
        e.transports = vec![TransportSpec::OpenaiChat {
            base_url: format!("http://{addr}/v1"),
            model: "planner".into(),
            auth: AuthKind::None,
        }];
    }
    let core = MinerCore::new_local(Keypair::from_uri("//Planner").expect("key"), entries, None)
        .expect("core")
        .with_llm_planner(true);
    let out = core.orchestrate(request("p-2")).await;
    assert_eq!(out.error, None);
    let ids: Vec<&str> = out.plan.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec!["find", "read", "extract"], "the LLM's plan, repaired");
    assert_eq!(out.plan[0].inputs["prompt"], json!("cloud GPU pricing"), "inputs filled from the template");
    assert_eq!(out.receipts.iter().filter(|r| r.step_id.starts_with("read.")).count(), 2);
    // The planning call is receipt 0: citations still name the right receipts.
    assert_eq!(out.receipts[0].step_id, "plan");
    let result = out.result.clone().expect("result");
    assert!(!out.citations.is_empty());
    for c in &out.citations {
        assert!(c.receipt > 0);
        orchestra_proto::extract::check_citation(&result, c, &out.evidence[c.receipt].response).expect("checks");
    }
    assert!(sim.by_kind(SubnetKind::Search).is_some());
    sim.shutdown().await;
}
