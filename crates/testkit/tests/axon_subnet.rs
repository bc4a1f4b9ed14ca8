//! A subnet served ONLY by v10 axons registered on the devnet metagraph: the SIMULATED search
//! subnet (netuid 22) runs as two `orchestra subnet-sim --axon-only search` processes that
//! register and announce themselves on the devnet; its Ledger entry names no address, only the
//! synapse. Objectives submitted through the real validator's gateway complete through those
//! axons (the receipts name the axon that answered); after the answering axon is killed with
//! SIGKILL they still complete, through the survivor. The validator's re-probe of receipts
//! that name the dead axon falls back to the serving one and agrees.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use orchestra_chain::Chain;
use orchestra_chain::devnet::DevnetClient;
use orchestra_devnet::{AdminCall, AdminClient, DevnetConfig, DevnetServer};
use orchestra_keys::Keypair;
use orchestra_miner::node::{MinerConfig, MinerNode};
use orchestra_net::{AxonTarget, Dendrite, DendriteConfig};
use orchestra_proto::ledger::{LedgerEntry, TransportSpec};
use orchestra_proto::receipt::CallStatus;
use orchestra_proto::synapses::Orchestrate;
use orchestra_subnet_sim::{SimConfig, SubnetKind};
use orchestra_subnets::Adapters;
use orchestra_validator::verify::{VerifyConfig, verify};
use serde_json::{Value, json};

const TAO: u64 = 1_000_000_000;
const NETUID: u16 = 1;
const SEARCH: u16 = 22;

fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let p = dir.join(name);
    assert!(p.exists(), "{} is missing: build every binary first (scripts/test.sh does)", p.display());
    p
}

/// One SIMULATED search axon process, registered on the devnet; (process, `ip:port`, hotkey).
fn spawn_search_axon(key: &str, chain: &str, ledger_out: &Path, log: &Path) -> (Child, String, String) {
    let log = std::fs::File::create(log).expect("log");
    let mut child = Command::new(bin("orchestra"))
        .args(["subnet-sim", "--axon-only", "search", "--netuid", &SEARCH.to_string(), "--axon.key", key])
        .args(["--chain.endpoint", chain, "--ledger-out"])
        .arg(ledger_out)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn orchestra subnet-sim");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("ready line");
    let ready: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{key}: not a ready line ({e}): {line}"));
    assert_eq!(ready["event"], "ready", "{line}");
    assert!(ready["uid"].as_u64().is_some(), "registered on the devnet: {line}");
    let axon = &ready["subnets"][0]["axon"];
    (child, axon[0].as_str().expect("addr").to_string(), axon[1].as_str().expect("hotkey").to_string())
}

async fn status(api: u16) -> Option<Value> {
    reqwest::get(format!("http://127.0.0.1:{api}/v1/status")).await.ok()?.json().await.ok()
}

/// Submit the worked example to the gateway until it is ready (metagraph synced, miner seen);
/// the objective record.
async fn objective(http: &reqwest::Client, api: u16, key: &str) -> Value {
    let body = json!({
        "objective": "Research cloud GPU pricing and recommend positioning for our inference API",
        "target_schema": {
            "competitors": [{"name": "str", "pricing": "dict"}],
            "recommendation": {"price_point": "float", "rationale": "str"}
        },
    });
    let t0 = Instant::now();
    loop {
        let r = http
            .post(format!("http://127.0.0.1:{api}/v1/objectives"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("gateway");
        let code = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if code != 503 {
            assert!(code == 201 || code == 200, "{code} {v}");
            return v;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "the gateway never became ready: {v}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The search receipts of a record (JSON receipts): (ok, endpoint, target) each.
fn search_calls(receipts: &Value) -> Vec<(bool, String, String)> {
    receipts
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["netuid"] == SEARCH)
        .map(|r| {
            (
                r["status"]["kind"] == "ok",
                r["endpoint"].as_str().unwrap_or_default().to_string(),
                r["target"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The miner's answer to the worked example, asked directly (as a validator's dendrite would).
async fn ask_miner(
    d: &Dendrite,
    miner: &AxonTarget,
    task: &str,
) -> (orchestra_proto::synapses::OrchestrateRequest, Orchestrate) {
    let req = orchestra_testkit::worked_example(task, 20_000);
    let syn = Orchestrate::from_request(req.clone()).expect("orchestrate");
    let r = d.call(miner, syn, Duration::from_secs(30)).await;
    assert!(r.is_success(), "{} {}", r.status_code, r.status_message);
    assert!(r.synapse.result.is_some(), "{:?}", r.synapse.error);
    (req, r.synapse)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subnet_served_only_by_metagraph_axons_completes_objectives_and_survives_a_dead_axon() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut dcfg = DevnetConfig::new(dir.path().join("devnet"));
    dcfg.listen = "127.0.0.1:0".parse().expect("addr");
    dcfg.block_time_ms = 100;
    dcfg.tempo = 20;
    let devnet = DevnetServer::new(dcfg).expect("devnet").spawn();
    let url = devnet.url.clone();

    // Subnet 1 (Orchestra): a validator and the honest miner.
    let alice = Keypair::from_uri("//Alice").expect("key");
    let admin = AdminClient::new(&url, alice.clone()).expect("admin");
    let mut hp = serde_json::Map::new();
    hp.insert("weights_rate_limit".into(), json!(15));
    hp.insert("min_allowed_weights".into(), json!(1));
    admin.submit(AdminCall::SetHyperparams { netuid: NETUID, hyperparams: hp }).await.expect("hyperparams");
    let (vkey, mkey) = (Keypair::from_uri("//AxValidator").expect("k"), Keypair::from_uri("//AxHonest").expect("k"));
    let reg = DevnetClient::connect(&url).await.expect("chain").with_coldkey(alice.clone());
    for k in [&vkey, &mkey] {
        reg.burned_register(NETUID, k.ss58()).await.expect("register");
    }
    admin
        .submit(AdminCall::AddStake { netuid: NETUID, hotkey: vkey.ss58().into(), amount: 1000 * TAO })
        .await
        .expect("stake");
    admin.submit(AdminCall::AdvanceBlocks { blocks: 22 }).await.expect("first epoch: permits");

    // Subnet 22: the SIMULATED search subnet, served only by two registered axons.
    admin
        .submit(AdminCall::CreateSubnet { netuid: Some(SEARCH), owner_hotkey: None, hyperparams: Default::default() })
        .await
        .expect("create subnet 22");
    let search_entry_file = dir.path().join("search-entry.json");
    let (mut axon_a, addr_a, hk_a) =
        spawn_search_axon("//SimulatedSearchAxonA", &url, &search_entry_file, &dir.path().join("axon-a.log"));
    let (mut axon_b, addr_b, hk_b) =
        spawn_search_axon("//SimulatedSearchAxonB", &url, &dir.path().join("b.json"), &dir.path().join("axon-b.log"));
    let chain = DevnetClient::connect(&url).await.expect("chain");
    let mg = chain.metagraph(SEARCH).await.expect("metagraph 22");
    let served: Vec<String> = mg.neurons.iter().filter(|n| n.axon.is_serving()).map(|n| n.axon.endpoint()).collect();
    assert!(served.contains(&addr_a) && served.contains(&addr_b), "{served:?} vs {addr_a} {addr_b}");

    // The other subnets over HTTP, and a Ledger whose search entry names no address at all.
    let mut scfg = SimConfig::default_trio();
    scfg.subnets.retain(|s| s.kind != SubnetKind::Search);
    let sim = orchestra_subnet_sim::start(scfg).await.expect("sim");
    let search: Vec<LedgerEntry> =
        serde_json::from_slice(&std::fs::read(&search_entry_file).expect("entry")).expect("entries");
    assert!(
        matches!(search[0].transports.as_slice(), [TransportSpec::AxonV10 { endpoint: None, hotkey: None, .. }]),
        "{:?}",
        search[0].transports
    );
    let mut entries = search.clone();
    entries.extend(sim.subnets.iter().map(orchestra_subnet_sim::ledger::entry));
    let ledger = dir.path().join("ledger.json");
    std::fs::write(&ledger, serde_json::to_vec(&entries).expect("json")).expect("write");

    // The honest miner (the real miner node) and the real validator binary.
    let mcfg = MinerConfig::try_parse_from([
        "miner",
        "--uri",
        "//AxHonest",
        "--chain.endpoint",
        &url,
        "--netuid",
        "1",
        "--axon.host",
        "127.0.0.1",
        "--axon.port",
        "0",
        "--data-dir",
        &dir.path().join("m").display().to_string(),
        "--ledger.file",
        &ledger.display().to_string(),
        "--net.allow_private",
    ])
    .expect("miner config");
    let miner = MinerNode::new(mcfg).await.expect("miner");
    let miner_port = miner.local_addr().expect("addr").port();
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _keep = tx;
        let _ = miner.run(rx).await;
    });
    let api = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let key_file = dir.path().join("api.key");
    let vlog = dir.path().join("validator.log");
    let mut validator = Command::new(bin("validator"))
        .args(["--uri", "//AxValidator", "--chain.endpoint", &url, "--netuid", "1", "--data-dir"])
        .arg(dir.path().join("v"))
        .args(["--api.host", "127.0.0.1", "--api.port", &api.to_string(), "--epoch.secs", "30"])
        .args(["--tasks.deadline_ms", "15000", "--metagraph.sync_secs", "1", "--net.allow_private"])
        .arg("--ledger.seed")
        .arg(&ledger)
        .arg("--api.bootstrap_key_file")
        .arg(&key_file)
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&vlog).expect("log")))
        .spawn()
        .expect("spawn validator");
    let t0 = Instant::now();
    let key = loop {
        if let Ok(k) = std::fs::read_to_string(&key_file)
            && !k.trim().is_empty()
            && status(api).await.is_some()
        {
            break k.trim().to_string();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "validator never came up:\n{}",
            std::fs::read_to_string(&vlog).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let http = reqwest::Client::builder().timeout(Duration::from_secs(90)).build().expect("http");

    // 1. Both axons up: the objective completes through one of them, named in the receipts.
    let rec = objective(&http, api, &key).await;
    assert_eq!(rec["state"], "completed", "{rec}");
    let calls = search_calls(&rec["receipts"]);
    let answered: Vec<&(bool, String, String)> = calls.iter().filter(|c| c.0).collect();
    assert!(!answered.is_empty(), "no search call answered: {calls:?}");
    let first = &answered[0];
    let (dead_addr, dead_hk, live_addr, live_hk) = if first.2 == hk_a {
        (addr_a.clone(), hk_a.clone(), addr_b.clone(), hk_b.clone())
    } else {
        assert_eq!(first.2, hk_b, "the receipt names a registered axon");
        (addr_b.clone(), hk_b.clone(), addr_a.clone(), hk_a.clone())
    };
    assert_eq!(first.1, format!("{dead_addr}/WebSearchSynapse"), "address and hotkey of the same axon");
    eprintln!("objective 1: {} search calls, answered by {dead_addr}", calls.len());

    // The miner's own answer, asked directly, names the same axon.
    let d = Dendrite::new(vkey.clone(), DendriteConfig::local()).expect("dendrite");
    let miner_axon = AxonTarget::new("127.0.0.1", miner_port, mkey.ss58());
    let (req1, resp1) = ask_miner(&d, &miner_axon, "axon-subnet-1").await;
    assert!(resp1.receipts.iter().any(|r| r.netuid == SEARCH && r.target == dead_hk && r.status == CallStatus::Ok));

    // 2. SIGKILL the axon that answered: the next objective completes through the survivor.
    let dead = if dead_hk == hk_a { &mut axon_a } else { &mut axon_b };
    dead.kill().expect("SIGKILL");
    let _ = dead.wait();
    let rec = objective(&http, api, &key).await;
    assert_eq!(rec["state"], "completed", "{rec}");
    let calls = search_calls(&rec["receipts"]);
    assert!(calls.iter().any(|c| c.0), "no search call answered after the kill: {calls:?}");
    for (ok, endpoint, target) in &calls {
        if *ok {
            assert_eq!(
                (endpoint.as_str(), target.as_str()),
                (format!("{live_addr}/WebSearchSynapse").as_str(), live_hk.as_str())
            );
        } else {
            assert_eq!(target, &dead_hk, "only calls to the dead axon fail");
        }
    }
    eprintln!("objective 2: {} search calls, answered by {live_addr}", calls.len());

    // 3. The validator's re-probe: receipts naming the dead axon are re-called at any serving
    // axon of netuid 22 (found in the metagraph), and agree; so do the survivor's.
    let (req2, resp2) = ask_miner(&d, &miner_axon, "axon-subnet-2").await;
    assert!(resp2.receipts.iter().any(|r| r.netuid == SEARCH && r.target == live_hk && r.status == CallStatus::Ok));
    let vchain: Arc<dyn Chain> = Arc::new(DevnetClient::connect(&url).await.expect("chain"));
    let adapters = Adapters::with_guard(orchestra_net::GuardConfig::local())
        .expect("adapters")
        .with_keypair(vkey.clone())
        .with_axons(Arc::new(orchestra_node::ChainAxons::new(vchain, Duration::from_secs(1))));
    let vcfg = VerifyConfig { reprobe_rate: 1.0, seed: 7, reprobe_timeout: Duration::from_secs(10) };
    for (req, resp, named) in [(&req1, &resp1, &dead_hk), (&req2, &resp2, &live_hk)] {
        let v = verify(req, resp, mkey.ss58(), Duration::from_secs(1), &entries, &adapters, &vcfg, None).await;
        assert!(v.sub.signature && v.sub.receipt_root && v.sub.schema, "{:?}", v.notes);
        let search_idx: Vec<usize> = resp
            .receipts
            .iter()
            .enumerate()
            .filter(|(_, r)| r.netuid == SEARCH && r.status == CallStatus::Ok && &r.target == named)
            .map(|(i, _)| i)
            .collect();
        assert!(!search_idx.is_empty());
        for i in search_idx {
            let agreement = v.reprobed.iter().find(|(j, _)| *j == i).map(|x| x.1);
            assert!(agreement.is_some_and(|a| a >= 0.99), "receipt {i} ({named}): {agreement:?} {:?}", v.notes);
        }
    }

    let _ = validator.kill();
    let _ = validator.wait();
    for c in [&mut axon_a, &mut axon_b] {
        let _ = c.kill();
        let _ = c.wait();
    }
    sim.shutdown().await;
    let _ = devnet.stop().await;
}
