//! Subnets over https with a private CA: the simulated subnets put behind a TLS proxy whose
//! certificate a test CA signed. The miner (its adapters built from `--tls.ca-file` as its node
//! builds them, and its whole pipeline on the worked example) and the validator (its prober and
//! its re-probe task) reach them with the CA file, and not without it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use orchestra_keys::Keypair;
use orchestra_ledger_store::governance::{self, Governed, Received};
use orchestra_ledger_store::{LedgerStore, StoreConfig};
use orchestra_miner::node::MinerConfig;
use orchestra_miner::pipeline::MinerCore;
use orchestra_proto::ledger::{EntryStatus, LedgerEntry, TransportSpec};
use orchestra_proto::receipt::CallStatus;
use orchestra_subnets::Adapters;
use orchestra_subnets::probe::ProbeClass;
use orchestra_testkit::{synapse, worked_example};
use orchestra_validator::node::ValidatorConfig;
use orchestra_validator::prober::LiveProber;
use serde_json::json;

/// The simulated subnets' entries with their first transport moved to `https://localhost:PORT`
/// (a TLS proxy in front of each) and the others dropped.
async fn https_entries(sim: &orchestra_subnet_sim::SimHandle, ca: &orchestra_net::testing::TestCa) -> Vec<LedgerEntry> {
    let mut out = Vec::new();
    for s in &sim.subnets {
        let port = ca.proxy(s.addr).await.port();
        let mut e = orchestra_subnet_sim::ledger::entry(s);
        e.transports = match e.transports.swap_remove(0) {
            TransportSpec::HttpJson { method, auth, .. } => {
                vec![TransportSpec::HttpJson {
                    url: format!("https://localhost:{port}{}", s.kind.path()),
                    method,
                    auth,
                }]
            }
            TransportSpec::OpenaiChat { model, auth, .. } => {
                vec![TransportSpec::OpenaiChat { base_url: format!("https://localhost:{port}/v1"), model, auth }]
            }
            other => panic!("unexpected first transport {other:?}"),
        };
        out.push(e);
    }
    out
}

/// The adapters a miner builds from these flags (as `MinerNode::new` does).
fn miner_adapters(ca: Option<&PathBuf>) -> Adapters {
    let mut argv = vec!["miner".to_string(), "--net.allow_private".into()];
    if let Some(p) = ca {
        argv.extend(["--tls.ca-file".into(), p.display().to_string()]);
    }
    let cfg = MinerConfig::try_parse_from(argv).expect("miner flags");
    Adapters::for_operator(cfg.neuron.guard(), cfg.neuron.subnet_credentials.as_deref()).expect("adapters")
}

/// The validator's prober as `ValidatorNode::new` builds it from these flags.
fn validator_prober(ca: Option<&PathBuf>, key: &Keypair) -> LiveProber {
    let mut argv = vec!["validator".to_string(), "--net.allow_private".into()];
    if let Some(p) = ca {
        argv.extend(["--tls.ca-file".into(), p.display().to_string()]);
    }
    let cfg = ValidatorConfig::try_parse_from(argv).expect("validator flags");
    let adapters = Adapters::for_operator(cfg.neuron.guard(), None).expect("adapters").with_keypair(key.clone());
    LiveProber { adapters, timeout: Duration::from_secs(5) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miners_and_validators_reach_https_subnets_through_a_private_ca() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = orchestra_subnet_sim::start(orchestra_subnet_sim::SimConfig::default_trio()).await.expect("sim");
    let ca = orchestra_net::testing::TestCa::new();
    let ca_file = ca.write_pem(dir.path());
    let entries = https_entries(&sim, &ca).await;
    let search = entries.iter().find(|e| e.netuid == 22).expect("search").clone();

    // The miner's adapters: the CA file makes the call work; without it the certificate is refused.
    let trusted = miner_adapters(Some(&ca_file));
    let out = trusted.call(&search, &search.fixture, "s1", Duration::from_secs(5)).await;
    assert!(out.output.is_ok(), "{:?}", out.output);
    let r = out.receipt.expect("receipt");
    assert!(r.endpoint.starts_with("https://localhost:") && r.status == CallStatus::Ok, "{r:?}");
    let plain = miner_adapters(None);
    let out = plain.call(&search, &search.fixture, "s1", Duration::from_secs(5)).await;
    assert!(out.output.is_err(), "an unknown CA must not be trusted");

    // The miner's whole pipeline on the worked example, every subnet over https.
    let key = Keypair::from_uri("//HttpsMiner").expect("key");
    let core = MinerCore::new(key.clone(), entries.clone(), None).expect("core").with_adapters(trusted);
    let done = core.orchestrate(synapse(&worked_example("https", 20_000))).await;
    assert_eq!(done.error, None);
    assert!(done.result.is_some());
    let ok: Vec<u16> = done.receipts.iter().filter(|r| r.status == CallStatus::Ok).map(|r| r.netuid).collect();
    for netuid in [22, 13, 64] {
        assert!(ok.contains(&netuid), "netuid {netuid} answered over https: {:?}", done.receipts);
    }
    assert!(done.receipts.iter().all(|r| r.endpoint.starts_with("https://")));

    // The validator's prober: a probe answers with the CA file...
    let vkey = Keypair::from_uri("//HttpsValidator").expect("key");
    let prober = validator_prober(Some(&ca_file), &vkey);
    for e in &entries {
        let report = prober.observe(e).await;
        assert_eq!(report.class, ProbeClass::Answered, "netuid {}: {:?}", e.netuid, report.error());
    }
    // ...and its re-probe task verifies the https entries.
    let store = Arc::new(LedgerStore::open(StoreConfig::new(dir.path().join("ledger"))).expect("store"));
    store.seed(entries.clone()).expect("seed");
    let cfg = ValidatorConfig::try_parse_from([
        "validator",
        "--ledger.verify_probes",
        "1",
        "--ledger.verify_secs",
        "0",
        "--ledger.probe_gap_secs",
        "0",
    ])
    .expect("flags");
    let upkeep = orchestra_validator::upkeep::Upkeep::new(
        store.clone(),
        prober.clone(),
        vkey.ss58(),
        cfg.upkeep().expect("upkeep"),
    );
    let r = upkeep.cycle().await;
    assert_eq!(r.probed, 3, "{r:?}");
    assert!(store.entries().expect("entries").iter().all(|e| e.status == EntryStatus::Verified));

    // Without the CA file the prober cannot reach them: a proposal waits instead of being
    // rejected (the failure is not the proposer's).
    let untrusting = validator_prober(None, &vkey);
    assert_ne!(untrusting.observe(&search).await.class, ProbeClass::Answered);
    let p = orchestra_proto::synapses::LedgerProposal {
        netuid: 22,
        subnet: search.name.clone(),
        update_type: orchestra_proto::synapses::UpdateType::SchemaChange,
        field: "output_schema.properties.extra".into(),
        old_value: serde_json::Value::Null,
        new_value: json!({"type": "string"}),
        evidence: vec![orchestra_proto::canonical::Digest([7; 32])],
        task_id: "t".into(),
        proposed_by: String::new(),
    };
    let Received::New(id) = governance::receive(&store, p, "5Miner").expect("receive") else { panic!("new") };
    let g = governance::govern(&store, &untrusting, &id, vkey.ss58()).await.expect("govern");
    assert!(matches!(g, Governed::Deferred { .. }), "{g:?}");
    sim.shutdown().await;
}
