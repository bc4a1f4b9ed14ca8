//! The chain conformance scenario (crates/chain/tests/conformance) on the in-process devnet,
//! through the same `Chain` + `ChainAdmin` traits as on the real subtensor runtime
//! (crates/chain/tests/conformance_subtensor.rs). The differences between the two outputs are
//! listed in the orchestra-chain crate docs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../chain/tests/conformance/mod.rs"]
mod conformance;

use std::sync::Arc;
use std::time::Instant;

use orchestra_chain::devnet::DevnetClient;
use orchestra_chain::{Chain, ChainAdmin};
use orchestra_devnet::{AdminCall, AdminClient, DevnetConfig, DevnetServer};
use orchestra_keys::Keypair;

fn key(uri: &str) -> Keypair {
    Keypair::from_uri(uri).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_the_devnet() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = DevnetConfig::new(dir.path());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.block_time_ms = 0;
    cfg.sync_writes = false;
    cfg.allow_loopback_axons = false;
    let devnet = DevnetServer::new(cfg).unwrap().spawn();
    let url = devnet.url.clone();
    let t = Instant::now();
    let admin = AdminClient::new(&url, key(conformance::OWNER)).unwrap();
    admin.submit(AdminCall::Faucet { amount: 1_000_000_000_000_000 }).await.unwrap();
    let client = |hot: &str| {
        let url = url.clone();
        let hot = hot.to_string();
        async move {
            Arc::new(
                DevnetClient::connect(&url).await.unwrap().with_hotkey(key(&hot)).with_coldkey(key(conformance::OWNER)),
            ) as Arc<dyn Chain>
        }
    };
    let env = conformance::Env {
        name: "devnet",
        admin: Arc::new(admin) as Arc<dyn ChainAdmin>,
        owner: client(conformance::OWNER).await,
        validator: client(conformance::VALIDATOR).await,
        miners: vec![client(conformance::MINERS[0]).await, client(conformance::MINERS[1]).await],
    };
    println!("[devnet] started and connected in {:.2} s", t.elapsed().as_secs_f64());
    let report = conformance::run(&env).await;
    let total: f64 = report.steps.iter().map(|(_, d)| d.as_secs_f64()).sum();
    println!("[devnet] scenario done in {total:.2} s on netuid {}", report.netuid);
    let m = &report.final_metagraph;
    // The devnet runs Yuma Consensus at each epoch: the miners the validator weighted earn.
    assert!(m.neurons.iter().any(|n| n.incentive > 0), "[devnet] some incentive after two epochs");
    devnet.stop().await.unwrap();
}
