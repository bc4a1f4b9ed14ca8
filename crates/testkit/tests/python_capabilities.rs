//! The real miner node (on an in-process devnet) answers a Python SDK dendrite's `Capabilities`
//! call: our axon speaks the SDK's wire protocol for Orchestra's own synapses too.

use std::process::Command;

use clap::Parser;
use orchestra_devnet::{DevnetConfig, DevnetServer};
use orchestra_miner::node::{MinerConfig, MinerNode};

const PY: &str = r#"
import asyncio, json, sys
from typing import List, Optional
import bittensor as bt
import bittensor.utils.networking as networking
networking.get_external_ip = lambda: "127.0.0.1"
from bittensor.core.chain_data import AxonInfo

class Capabilities(bt.Synapse):
    protocol_version: Optional[int] = None
    software_version: Optional[str] = None
    transports: List[str] = []
    subnets: List[int] = []
    capabilities: List[str] = []
    max_concurrency: Optional[int] = None

async def main():
    port, hotkey = int(sys.argv[1]), sys.argv[2]
    kp = bt.Keypair.create_from_uri("//Bob")
    d = bt.Dendrite(wallet=kp)
    target = AxonInfo(version=0, ip="127.0.0.1", port=port, ip_type=4, hotkey=hotkey, coldkey="")
    r = await d.call(target, Capabilities(), timeout=10, deserialize=False)
    print(json.dumps({"status": r.dendrite.status_code, "message": r.dendrite.status_message,
                      "protocol_version": r.protocol_version, "capabilities": r.capabilities, "subnets": r.subnets}))
    await d.aclose_session()

asyncio.run(main())
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_dendrite_calls_capabilities_on_our_miner() {
    let py = std::env::var("BTREF_PYTHON").unwrap_or_else(|_| "/tmp/btref/venv10/bin/python".into());
    assert!(
        std::path::Path::new(&py).exists(),
        "the Python reference peer is missing at {py}: run scripts/setup.sh (or bash ../shared/refpeer/setup.sh)"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let mut cfg = DevnetConfig::new(dir.path().join("devnet"));
    cfg.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.block_time_ms = 100;
    let devnet = DevnetServer::new(cfg).expect("devnet").spawn();

    // The genesis subnet 1 is owned by //Alice; //Alice's hotkey is registered as its owner uid.
    let sim = orchestra_subnet_sim::start(orchestra_subnet_sim::SimConfig::default_trio()).await.expect("sim");
    let ledger = dir.path().join("ledger.json");
    let entries: Vec<_> = sim.subnets.iter().map(orchestra_subnet_sim::ledger::entry).collect();
    std::fs::write(&ledger, serde_json::to_vec(&entries).expect("json")).expect("write");
    let cfg = MinerConfig::try_parse_from([
        "miner",
        "--uri",
        "//Alice",
        "--chain.endpoint",
        &devnet.url,
        "--netuid",
        "1",
        "--axon.host",
        "127.0.0.1",
        "--axon.port",
        "0",
        "--axon.no_serve",
        "--blacklist.allow_any",
        "--data-dir",
        &dir.path().join("state").display().to_string(),
        "--ledger.file",
        &ledger.display().to_string(),
    ])
    .expect("config");
    let node = MinerNode::new(cfg).await.expect("miner");
    let port = node.local_addr().expect("addr").port();
    let hotkey = node.hotkey();
    let stop = orchestra_node::shutdown::CancellationToken::new();
    let run = tokio::spawn(node.run(stop.clone()));

    let out = tokio::task::spawn_blocking(move || {
        Command::new(py).arg("-c").arg(PY).arg(port.to_string()).arg(hotkey).output().expect("python")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "python failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or("{}")).expect("json");
    assert_eq!(v["status"], 200, "{v}");
    assert_eq!(v["protocol_version"], orchestra_proto::PROTOCOL_VERSION);
    let caps: Vec<String> = serde_json::from_value(v["capabilities"].clone()).expect("caps");
    assert!(caps.contains(&"web_search".to_string()) && caps.contains(&"llm_chat".to_string()), "{v}");

    stop.cancel();
    let _ = run.await;
    sim.shutdown().await;
    let _ = devnet.stop().await;
}
