//! The miner pipeline against the running subnet simulator: the worked example end to end,
//! failures absorbed by retries and fallbacks, drift turned into proposals, bad requests refused,
//! and a restarted miner resuming from its checkpoints.

use std::sync::Arc;
use std::time::Duration;

use orchestra_keys::Keypair;
use orchestra_miner::pipeline::MinerCore;
use orchestra_miner::state::MinerStore;
use orchestra_proto::contract::Contract;
use orchestra_proto::receipt::{CallStatus, commitment, receipt_root, result_digest};
use orchestra_proto::synapses::{LedgerProposals, Orchestrate, OrchestrateRequest};
use orchestra_subnet_sim::{Drift, DriftKind, Faults, SimConfig, SubnetKind, ledger, start};
use serde_json::{Value, json};

fn worked_example(task_id: &str, deadline_ms: u64) -> Orchestrate {
    Orchestrate::from_request(OrchestrateRequest {
        task_id: task_id.into(),
        objective: "Research cloud GPU pricing and recommend positioning for our inference API".into(),
        target_schema: json!({
            "competitors": [{"name": "str", "pricing": "dict"}],
            "recommendation": {"price_point": "float", "rationale": "str"}
        }),
        contract: Contract { deadline_ms, ..Contract::default() },
        inputs: Value::Null,
    })
    .expect("request")
}

#[tokio::test]
async fn worked_example_is_schema_valid_grounded_and_signed() {
    let sim = start(SimConfig::default_trio()).await.expect("sim");
    let entries: Vec<_> = sim.subnets.iter().map(ledger::entry).collect();
    let key = Keypair::from_uri("//Miner1").expect("key");
    let core = MinerCore::new_local(key.clone(), entries, None).expect("core");
    let out = core.orchestrate(worked_example("t-1", 20_000)).await;
    assert_eq!(out.error, None);
    let result = out.result.clone().expect("result");
    let competitors = result["competitors"].as_array().expect("competitors");
    assert!(competitors.len() >= 3, "{result}");
    // Every price in the result appears in a receipted response from the simulator.
    let mut corpus = String::new();
    for p in orchestra_subnet_sim::corpus::PAGES {
        corpus.push_str(p.text);
    }
    let price = result["recommendation"]["price_point"].as_f64().expect("price");
    assert!(corpus.contains(&format!("${price}")), "price {price} is grounded");
    for c in competitors {
        for v in c["pricing"].as_object().expect("pricing").values() {
            assert!(corpus.contains(&format!("${}", v.as_f64().expect("num"))), "{v}");
        }
    }
    // Every leaf is cited, and every citation checks against the receipted body it names.
    for (path, _) in orchestra_proto::extract::leaves(&result) {
        assert!(out.citations.iter().any(|c| c.path == path), "{path} uncited");
    }
    for c in &out.citations {
        orchestra_proto::extract::check_citation(&result, c, &out.evidence[c.receipt].response).expect("checks");
    }
    // Free text too is backed by a quote from the evidence (checked above), not written freely.
    let rationale = result["recommendation"]["rationale"].as_str().expect("rationale");
    assert!(out.citations.iter().any(|c| c.path == "/recommendation/rationale" && !c.quote.is_empty()), "{rationale}");
    // The response is locked: root and signature verify.
    let root = receipt_root(&out.receipts).expect("root");
    assert_eq!(Some(root), out.receipt_root);
    let c = commitment(&out.task_id, &result_digest(&result).expect("digest"), &root);
    let sig = orchestra_keys::parse_signature_hex(out.miner_signature.as_deref().expect("sig")).expect("hex");
    assert!(key.public().verify(&c.0, &sig));
    assert!(out.receipts.len() >= 6, "search + scrapes + llm extraction: {}", out.receipts.len());
    assert!(out.receipts.iter().all(|r| r.status == CallStatus::Ok));
    assert!(out.cost_micros > 0);
    // Evidence bodies hash to the receipts' digests.
    assert_eq!(out.evidence.len(), out.receipts.len());
    for (r, e) in out.receipts.iter().zip(&out.evidence) {
        assert_eq!(orchestra_proto::canonical::request_digest(&e.request).expect("d"), r.request_digest);
        assert_eq!(orchestra_proto::canonical::response_digest(&e.response).expect("d"), r.response_digest);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn thirty_percent_failures_are_absorbed_by_retries_and_fallbacks() {
    let mut cfg = SimConfig::default_trio();
    // A second search and data subnet to fall back to.
    let mut extra = cfg.subnets.clone();
    extra.truncate(2);
    extra[0].netuid = 122;
    extra[0].name = "sim-search-b".into();
    extra[1].netuid = 113;
    extra[1].name = "sim-data-b".into();
    cfg.subnets.extend(extra);
    for s in &mut cfg.subnets {
        s.faults = Faults { error_rate: 0.2, malformed_rate: 0.1, latency_ms: 5, jitter_ms: 20, ..Faults::default() };
    }
    let sim = start(cfg).await.expect("sim");
    let entries: Vec<_> = sim.subnets.iter().map(ledger::entry).collect();
    let core = MinerCore::new_local(Keypair::from_uri("//Miner2").expect("key"), entries, None).expect("core");
    let mut ok = 0;
    let mut failed_calls = 0;
    for i in 0..8 {
        let t0 = std::time::Instant::now();
        let out = core.orchestrate(worked_example(&format!("f-{i}"), 10_000)).await;
        assert!(t0.elapsed().as_millis() < 10_000, "within the deadline");
        if out.error.is_none() {
            ok += 1;
        }
        failed_calls += out.receipts.iter().filter(|r| r.status != CallStatus::Ok).count();
    }
    assert_eq!(ok, 8, "every objective completes through retries and fallbacks");
    assert!(failed_calls > 0, "faults were injected (and receipted) along the way");
    sim.shutdown().await;
}

#[tokio::test]
async fn drift_becomes_a_pullable_proposal_with_evidence() {
    let sim = start(SimConfig::default_trio()).await.expect("sim");
    let data = sim.by_kind(SubnetKind::Data).expect("data").clone();
    let faults = Faults {
        drift: Some(Drift {
            after_ms: 0,
            kind: DriftKind::AddField {
                path: "metadata.scrape_timestamp".into(),
                value: json!("2026-11-22T10:00:00Z"),
            },
        }),
        ..Faults::default()
    };
    reqwest::Client::new()
        .post(format!("{}/control/faults", data.base_url()))
        .json(&faults)
        .send()
        .await
        .expect("control");
    let entries: Vec<_> = sim.subnets.iter().map(ledger::entry).collect();
    let core = MinerCore::new_local(Keypair::from_uri("//Miner3").expect("key"), entries, None).expect("core");
    let out = core.orchestrate(worked_example("d-1", 20_000)).await;
    assert_eq!(out.error, None);
    assert_eq!(out.ledger_proposals.len(), 1, "{:?}", out.ledger_proposals);
    let p = &out.ledger_proposals[0];
    assert_eq!(p.netuid, 13);
    let leaves: Vec<_> = out.receipts.iter().map(|r| r.leaf().expect("leaf")).collect();
    assert!(p.evidence.iter().all(|e| leaves.contains(e)), "evidence cites receipts of this response");
    let pulled = core.pull_proposals(LedgerProposals { since: 0, max: 10, ..Default::default() });
    assert_eq!(pulled.proposals.len(), 1);
    assert_eq!(
        core.pull_proposals(LedgerProposals { since: pulled.next, max: 10, ..Default::default() }).proposals.len(),
        0
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let sim = start(SimConfig::default_trio()).await.expect("sim");
    let entries: Vec<_> = sim.subnets.iter().map(ledger::entry).collect();
    let core = MinerCore::new_local(Keypair::from_uri("//Miner4").expect("key"), entries, None).expect("core");
    let mut tampered = worked_example("b-1", 5_000);
    tampered.objective = "something else".into();
    assert!(core.orchestrate(tampered).await.error.expect("err").contains("request_digest"));
    let mut r = worked_example("b-2", 5_000).request();
    r.objective = " ".into();
    let empty = Orchestrate::from_request(r).expect("req");
    assert!(core.orchestrate(empty).await.error.expect("err").contains("objective is empty"));
    let mut r = worked_example("b-3", 5_000).request();
    r.target_schema = json!({"x": "datetime"});
    let bad_schema = Orchestrate::from_request(r).expect("req");
    assert!(core.orchestrate(bad_schema).await.error.expect("err").contains("datetime"));
    let mut r = worked_example("b-4", 5_000).request();
    r.contract.allowed_subnets = vec![999];
    let nothing = Orchestrate::from_request(r).expect("req");
    assert!(core.orchestrate(nothing).await.error.expect("err").contains("cannot plan"));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_restarted_miner_resumes_without_paying_twice() {
    let sim = start(SimConfig::default_trio()).await.expect("sim");
    let entries: Vec<_> = sim.subnets.iter().map(ledger::entry).collect();
    let dir = tempfile::tempdir().expect("tmp");
    let requests = |kind| {
        let url = format!("{}/control", sim.by_kind(kind).expect("k").base_url());
        async move {
            reqwest::get(url).await.expect("get").json::<Value>().await.expect("json")["requests"].as_u64().expect("n")
        }
    };
    // First run: the LLM subnet hangs and the miner is killed (its task dropped) while it waits,
    // after search and scrapes completed and were checkpointed.
    let llm = sim.by_kind(SubnetKind::Llm).expect("llm").clone();
    let client = reqwest::Client::new();
    client
        .post(format!("{}/control/faults", llm.base_url()))
        .json(&json!({"latency_ms": 4000}))
        .send()
        .await
        .expect("c");
    {
        let store = Arc::new(MinerStore::open(dir.path()).expect("store"));
        let core = MinerCore::new_local(Keypair::from_uri("//Miner5").expect("key"), entries.clone(), Some(store))
            .expect("core");
        let killed =
            tokio::time::timeout(Duration::from_millis(1_500), core.orchestrate(worked_example("r-1", 20_000))).await;
        assert!(killed.is_err(), "still waiting for the LLM when killed");
    }
    let search_before = requests(SubnetKind::Search).await;
    let data_before = requests(SubnetKind::Data).await;
    client.post(format!("{}/control/faults", llm.base_url())).json(&json!({})).send().await.expect("c");
    // "Restart": a new core over the same store, same task id.
    let store = Arc::new(MinerStore::open(dir.path()).expect("store"));
    let core = MinerCore::new_local(Keypair::from_uri("//Miner5").expect("key"), entries, Some(store)).expect("core");
    let out = core.orchestrate(worked_example("r-1", 20_000)).await;
    assert_eq!(out.error, None);
    assert_eq!(requests(SubnetKind::Search).await, search_before, "search was not called again");
    assert_eq!(requests(SubnetKind::Data).await, data_before, "scrapes were not called again");
    sim.shutdown().await;
}

/// Objectives beyond the execution cap wait for a slot, and the wait counts against their
/// deadline: with one slot and subnets answering slowly, the first objective finishes, a second
/// whose deadline passes while it waits fails with the deadline error (it never called a
/// subnet), and a third with time to spare runs once the slot frees.
#[tokio::test]
async fn objectives_beyond_the_cap_wait_within_their_deadline() {
    let mut cfg = SimConfig::default_trio();
    for s in &mut cfg.subnets {
        s.faults = Faults { latency_ms: 150, ..Faults::default() };
    }
    let sim = start(cfg).await.expect("sim");
    let entries: Vec<_> = sim.subnets.iter().map(ledger::entry).collect();
    let core = Arc::new(
        MinerCore::new_local(Keypair::from_uri("//Miner1").expect("key"), entries, None)
            .expect("core")
            .with_max_concurrent_objectives(1),
    );
    let first = tokio::spawn({
        let core = core.clone();
        async move { core.orchestrate(worked_example("slot-1", 20_000)).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (short, long) = tokio::join!(
        core.orchestrate(worked_example("slot-2", 300)),
        core.orchestrate(worked_example("slot-3", 30_000))
    );
    let first = first.await.expect("join");
    assert_eq!(first.error, None);
    let err = short.error.expect("the short deadline passed while waiting");
    assert!(err.contains("deadline of 300 ms exceeded"), "{err}");
    assert!(short.receipts.is_empty(), "no subnet was called for it");
    assert_eq!(long.error, None);
    assert!(long.result.is_some());
    sim.shutdown().await;
}
