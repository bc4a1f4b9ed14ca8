//! A `new_subnet` proposal may carry only a metagraph-routed axon transport (no address, no
//! credential). The validator's prober now calls such a subnet through its metagraph view:
//! the proposed entry's fixture goes to the subnet's serving axons (here a SIMULATED search
//! subnet served only as a v10 axon), and the proposal is confirmed when the answer matches the
//! proposed schema; with no serving axon it is refuted with a fixed reason.

use std::sync::Arc;
use std::time::Duration;

use orchestra_keys::Keypair;
use orchestra_ledger_store::governance::Prober;
use orchestra_net::GuardConfig;
use orchestra_proto::canonical::Digest;
use orchestra_proto::ledger::TransportSpec;
use orchestra_proto::synapses::{LedgerProposal, UpdateType};
use orchestra_subnet_sim::{SimConfig, SubnetKind, SubnetSimConfig};
use orchestra_subnets::{Adapters, ServingAxon, StaticAxons};
use orchestra_validator::prober::LiveProber;
use serde_json::Value;

#[tokio::test]
async fn new_subnets_with_metagraph_routed_axons_are_probed() {
    let cfg = SimConfig {
        subnets: vec![SubnetSimConfig {
            kind: SubnetKind::Search,
            netuid: 45,
            name: "sim-search-axon".into(),
            host: "127.0.0.1".into(),
            port: 0,
            faults: Default::default(),
            axon_only: true,
            axon_key: Some("//SimulatedProbeAxon".into()),
        }],
        ..SimConfig::default_trio()
    };
    let sim = orchestra_subnet_sim::start(cfg).await.expect("sim");
    let running = &sim.subnets[0];
    let proposed = orchestra_subnet_sim::ledger::entry(running);
    assert!(matches!(proposed.transports.as_slice(), [t @ TransportSpec::AxonV10 { .. }] if !t.is_addressed()));
    let (addr, hotkey) = running.axon.clone().expect("axon");

    let dir = Arc::new(StaticAxons::new());
    dir.set(
        45,
        vec![ServingAxon {
            uid: 3,
            hotkey: hotkey.clone(),
            endpoint: addr.to_string(),
            stake: 0.0,
            trust: 0.0,
            consensus: 0.0,
            incentive: 0.5,
            validator_permit: false,
        }],
    );
    let adapters = Adapters::with_guard(GuardConfig::local())
        .expect("adapters")
        .with_keypair(Keypair::from_uri("//ProbingValidator").expect("key"))
        .with_axons(dir.clone());
    let prober = LiveProber { adapters, timeout: Duration::from_secs(5) };
    let p = LedgerProposal {
        netuid: 45,
        subnet: proposed.name.clone(),
        update_type: UpdateType::NewSubnet,
        field: String::new(),
        old_value: Value::Null,
        new_value: serde_json::to_value(&proposed).expect("json"),
        evidence: vec![Digest([1; 32])],
        task_id: "t".into(),
        proposed_by: "5Miner".into(),
    };
    let out = prober.probe(None, &proposed, &p).await;
    assert!(out.confirmed, "{}: {}", out.reason, out.observation);
    assert!(out.metrics.and_then(|m| m.latency_p50_ms).is_some());

    // No axon serves on the subnet: refuted, with a fixed reason (no remote text).
    dir.set(45, vec![]);
    let out = prober.probe(None, &proposed, &p).await;
    assert!(!out.confirmed);
    assert!(out.reason.contains("no serving axon in the subnet's metagraph"), "{}", out.reason);
    sim.shutdown().await;
}
