//! A validator reviewing miners in-process: an honest miner, a hallucinating one (re-signs a
//! result with made-up prices) and a forger (edits a signed result) are verified and scored;
//! drift found by a miner is proposed, probed live and approved into the Ledger.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestra_incentive::policy::OwnerPolicy;
use orchestra_incentive::score::task_score;
use orchestra_keys::Keypair;
use orchestra_ledger_store::governance::{self, Received};
use orchestra_ledger_store::{ChangeKind, LedgerStore, StoreConfig};
use orchestra_miner::pipeline::MinerCore;
use orchestra_proto::receipt::{commitment, result_digest};
use orchestra_subnet_sim::{Drift, DriftKind, Faults, SimConfig, SubnetKind, ledger, start};
use orchestra_subnets::Adapters;
use orchestra_testkit::{synapse, worked_example};
use orchestra_validator::prober::LiveProber;
use orchestra_validator::verify::{VerifyConfig, verify};
use serde_json::json;

#[tokio::test]
async fn honest_work_outscores_hallucination_and_forgery() {
    let sim = start(SimConfig::default_trio()).await.expect("sim");
    let entries: Vec<_> = sim.subnets.iter().map(ledger::entry).collect();
    let key = Keypair::from_uri("//HonestMiner").expect("key");
    let miner = MinerCore::new_local(key.clone(), entries.clone(), None).expect("miner");
    let adapters = Adapters::with_guard(orchestra_net::GuardConfig::local()).expect("adapters");
    let policy = OwnerPolicy::default();
    let cfg = VerifyConfig { reprobe_rate: 0.5, seed: 7, reprobe_timeout: Duration::from_secs(5) };

    let req = worked_example("v-1", 20_000);
    let t0 = Instant::now();
    let honest = miner.orchestrate(synapse(&req)).await;
    let elapsed = t0.elapsed();
    let v = verify(&req, &honest, key.ss58(), elapsed, &entries, &adapters, &cfg, None).await;
    assert!(v.notes.is_empty(), "{:?}", v.notes);
    assert!(v.sub.signature && v.sub.receipt_root && v.sub.schema);
    assert!(v.sub.grounding > 0.9, "grounding {}", v.sub.grounding);
    // Re-probes match exactly, except that a scrape's `meta.scraped_at` timestamp may have moved
    // to the next second: then the word-set similarity still scores them close to 1.
    let reprobe = v.sub.reprobe.expect("re-probed");
    assert!(reprobe > 0.95, "re-probe agreement {reprobe}");
    let honest_score = task_score(&v.sub, &policy).total;

    // Hallucinating: invents prices, then signs its own (consistent) commitment.
    let mut fake = honest.clone();
    let mut result = fake.result.clone().expect("result");
    result["recommendation"]["price_point"] = json!(0.42);
    for c in result["competitors"].as_array_mut().expect("list") {
        c["pricing"] = json!({"H100": 0.99, "A100": 0.55});
        c["name"] = json!("Imaginary Cloud");
    }
    let root = fake.receipt_root.expect("root");
    fake.miner_signature = Some(key.sign_hex(&commitment(&fake.task_id, &result_digest(&result).expect("d"), &root).0));
    fake.result = Some(result);
    let vh = verify(&req, &fake, key.ss58(), elapsed, &entries, &adapters, &cfg, None).await;
    assert!(vh.sub.signature && vh.sub.receipt_root);
    assert!(vh.sub.grounding < 0.5, "grounding {}", vh.sub.grounding);
    let hallucination_score = task_score(&vh.sub, &policy).total;
    assert!(honest_score > 2.0 * hallucination_score, "{honest_score} vs {hallucination_score}");

    // Forger: edits the result after signing.
    let mut forged = honest.clone();
    if let Some(r) = forged.result.as_mut() {
        r["recommendation"]["price_point"] = json!(1.0);
    }
    let vf = verify(&req, &forged, key.ss58(), elapsed, &entries, &adapters, &cfg, None).await;
    assert!(!vf.sub.signature);
    assert_eq!(task_score(&vf.sub, &policy).total, 0.0);

    // Tampered evidence: a response body swapped for another breaks the lock.
    let mut swapped = honest.clone();
    swapped.evidence[0].response = json!({"search_results": []});
    let vs = verify(&req, &swapped, key.ss58(), elapsed, &entries, &adapters, &cfg, None).await;
    assert!(!vs.sub.receipt_root);
    assert_eq!(task_score(&vs.sub, &policy).total, 0.0);

    // Wrong miner: a response signed by another hotkey than the uid's.
    let vw = verify(
        &req,
        &honest,
        Keypair::from_uri("//Other").expect("k").ss58(),
        elapsed,
        &entries,
        &adapters,
        &cfg,
        None,
    )
    .await;
    assert!(!vw.sub.signature);
    sim.shutdown().await;
}

#[tokio::test]
async fn drift_is_proposed_probed_and_approved_into_the_ledger() {
    let sim = start(SimConfig::default_trio()).await.expect("sim");
    let entries: Vec<_> = sim.subnets.iter().map(ledger::entry).collect();
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(LedgerStore::open(StoreConfig::new(dir.path())).expect("store"));
    store.seed(entries.clone()).expect("seed");
    let data = sim.by_kind(SubnetKind::Data).expect("data").clone();
    let drift = Faults {
        drift: Some(Drift {
            after_ms: 0,
            kind: DriftKind::AddField {
                path: "metadata.scrape_timestamp".into(),
                value: json!("2026-11-22T10:00:00Z"),
            },
        }),
        ..Faults::default()
    };
    reqwest::Client::new().post(format!("{}/control/faults", data.base_url())).json(&drift).send().await.expect("c");

    let key = Keypair::from_uri("//DriftMiner").expect("key");
    let miner = MinerCore::new_local(key.clone(), entries.clone(), None).expect("miner");
    let out = miner.orchestrate(synapse(&worked_example("g-1", 20_000))).await;
    assert_eq!(out.error, None);
    let proposal = out.ledger_proposals.first().cloned().expect("a proposal");
    let Received::New(id) = governance::receive(&store, proposal.clone(), key.ss58()).expect("receive") else {
        panic!("new proposal")
    };
    // A second miner seeing the same drift only confirms.
    assert_eq!(governance::receive(&store, proposal, "5Second").expect("confirm"), Received::Confirmation(id));

    let prober = LiveProber {
        adapters: Adapters::with_guard(orchestra_net::GuardConfig::local()).expect("adapters"),
        timeout: Duration::from_secs(5),
    };
    let before = store.entry(13).expect("get").expect("present").version;
    let d =
        governance::govern(&store, &prober, &id, "5Validator").await.expect("govern").into_decision().expect("decided");
    assert!(d.approved, "{}", d.reason);
    assert_eq!(d.credits[0].hotkey, key.ss58());
    let after = store.entry(13).expect("get").expect("present");
    assert_eq!(after.version, before + 1);
    assert!(after.output_schema.pointer("/properties/data/items/properties/metadata").is_some());
    let kinds: Vec<ChangeKind> = store.changes_since(0, 100).expect("feed").iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&ChangeKind::SchemaChanged) && kinds.contains(&ChangeKind::ProposalApproved));

    // A false proposal (a field the subnet never returns) is refuted by the probe.
    let mut liar = out.ledger_proposals[0].clone();
    liar.field = "output_schema.properties.data.items.properties.gpu_count".into();
    liar.new_value = json!({"type": "integer"});
    let Received::New(lid) = governance::receive(&store, liar, "5Liar").expect("receive") else { panic!("new") };
    let d = governance::govern(&store, &prober, &lid, "5Validator")
        .await
        .expect("govern")
        .into_decision()
        .expect("decided");
    assert!(!d.approved, "{}", d.reason);
    sim.shutdown().await;
}
