//! A running miner follows the Ledger: an entry added on the Ledger API's side after the miner
//! started reaches its routing within one sync interval, with no restart, and the miner then
//! routes tasks through it. Real pieces in one process: devnet, subnet simulator, Ledger API over
//! a RocksDB store (developer key), and the miner node.

use orchestra_node::shutdown::CancellationToken;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use orchestra_chain::Chain;
use orchestra_chain::devnet::DevnetClient;
use orchestra_devnet::{AdminCall, AdminClient, DevnetConfig, DevnetServer};
use orchestra_keys::Keypair;
use orchestra_ledger_api::{ApiConfig, LedgerApi, create_key};
use orchestra_ledger_store::{ChangeKind, LedgerStore, StoreConfig, Tier};
use orchestra_miner::node::{MinerConfig, MinerNode};
use orchestra_proto::contract::Contract;
use orchestra_proto::synapses::{Orchestrate, OrchestrateRequest};
use serde_json::{Value, json};

const SYNC_SECS: u64 = 1;

fn worked_example(task_id: &str) -> Orchestrate {
    Orchestrate::from_request(OrchestrateRequest {
        task_id: task_id.into(),
        objective: "Research cloud GPU pricing and recommend positioning for our inference API".into(),
        target_schema: json!({
            "competitors": [{"name": "str", "pricing": "dict"}],
            "recommendation": {"price_point": "float", "rationale": "str"}
        }),
        contract: Contract { deadline_ms: 20_000, ..Contract::default() },
        inputs: Value::Null,
    })
    .expect("request")
}

fn netuids(node_ledger: &[orchestra_proto::ledger::LedgerEntry]) -> Vec<u16> {
    let mut v: Vec<u16> = node_ledger.iter().map(|e| e.netuid).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_miner_routes_by_an_entry_added_after_it_started() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut dcfg = DevnetConfig::new(dir.path().join("devnet"));
    dcfg.listen = "127.0.0.1:0".parse().expect("addr");
    dcfg.block_time_ms = 100;
    let devnet = DevnetServer::new(dcfg).expect("devnet").spawn();

    // The validator side: a Ledger store holding the data and LLM subnets, not the search one.
    let sim = orchestra_subnet_sim::start(orchestra_subnet_sim::SimConfig::default_trio()).await.expect("sim");
    let entries: Vec<_> = sim.subnets.iter().map(orchestra_subnet_sim::ledger::entry).collect();
    let (search, rest): (Vec<_>, Vec<_>) = entries.into_iter().partition(|e| e.netuid == 22);
    let search = search.into_iter().next().expect("the sim's search subnet is netuid 22");
    let store = Arc::new(LedgerStore::open(StoreConfig::new(dir.path().join("ledger"))).expect("store"));
    store.seed(rest).expect("seed");
    let (key, _) = create_key(&store, Tier::Developer, "miner").expect("key");
    let api = LedgerApi::new(ApiConfig::default(), store.clone()).expect("api");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let api_url = format!("http://{}", listener.local_addr().expect("addr"));
    let stop_api = CancellationToken::new();
    let served = {
        let (api, stop) = (api.clone(), stop_api.clone());
        tokio::spawn(async move {
            let _ = api.serve(listener, stop).await;
        })
    };

    // The miner: no --ledger.file, only the Ledger API to follow (a dead URL first: skipped).
    let urls = format!("http://127.0.0.1:9/,{api_url}");
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
        "--net.allow_private",
        "--data-dir",
        &dir.path().join("state").display().to_string(),
        "--ledger.url",
        &urls,
        "--ledger.key",
        &key,
        "--ledger.sync_secs",
        &SYNC_SECS.to_string(),
    ])
    .expect("config");
    assert_eq!(cfg.ledger_urls.len(), 2, "comma-separated URLs");
    let node = MinerNode::new(cfg).await.expect("miner");
    let core = node.core();
    let metrics = node.ledger_sync_metrics();
    let stop = CancellationToken::new();
    let run = tokio::spawn(node.run(stop.clone()));

    // The first sync brings the two entries.
    let t0 = Instant::now();
    while netuids(&core.ledger()) != vec![13, 64] {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "first sync never came: {:?} {metrics:?}",
            netuids(&core.ledger())
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = core.orchestrate(worked_example("before")).await;
    assert!(before.receipts.iter().all(|r| r.netuid != 22), "no route to an entry the miner does not have");

    // An entry created on the Ledger side (what an approved NewSubnet proposal commits).
    store.upsert_entry(search, ChangeKind::EntryCreated, "governance").expect("upsert");
    let added = Instant::now();
    while !netuids(&core.ledger()).contains(&22) {
        // One interval, plus the API's snapshot rebuild and the pull itself.
        assert!(
            added.elapsed() < Duration::from_secs(SYNC_SECS) + Duration::from_millis(1500),
            "the new entry did not arrive within one sync interval: {metrics:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(netuids(&core.ledger()), vec![13, 22, 64]);
    assert!(metrics.changed.get() >= 2 && metrics.ok.get() >= 2, "{metrics:?}");
    assert!(metrics.encode().contains("orchestra_miner_ledger_sync_changed_total"));

    // Routing uses it: the worked example now searches through netuid 22 and succeeds.
    let after = core.orchestrate(worked_example("after")).await;
    assert_eq!(after.error, None);
    assert!(after.receipts.iter().any(|r| r.netuid == 22), "routed by the new entry: {:?}", after.receipts);

    // A refused key (or a free-tier caller: summaries) never replaces the Ledger.
    let m = orchestra_miner::ledger_sync::SyncMetrics::default();
    let bad = orchestra_ledger_api::LedgerClient::new(&api_url, Some("ok_not_a_key".into())).expect("client");
    let free = orchestra_ledger_api::LedgerClient::new(&api_url, None).expect("client");
    let clients = [(api_url.clone(), bad)];
    assert!(!orchestra_miner::ledger_sync::sync_once(&core, &clients, None, &m).await);
    assert_eq!(m.failures("refused"), 1, "{m:?}");
    let clients = [(api_url.clone(), free)];
    assert!(!orchestra_miner::ledger_sync::sync_once(&core, &clients, None, &m).await);
    assert_eq!(m.failures("invalid"), 1, "{m:?}");
    assert_eq!(netuids(&core.ledger()), vec![13, 22, 64]);

    // A Ledger API that goes away leaves the last good Ledger in place.
    stop_api.cancel();
    let _ = served.await;
    tokio::time::sleep(Duration::from_secs(SYNC_SECS * 2 + 1)).await;
    assert_eq!(netuids(&core.ledger()), vec![13, 22, 64], "last good Ledger kept");
    assert!(metrics.failures("unreachable") >= 1, "{metrics:?}");

    stop.cancel();
    let _ = run.await;
    sim.shutdown().await;
    let _ = devnet.stop().await;
}

/// With `--ledger.onchain_root` a Ledger whose root no permitted validator committed is not used;
/// once a validator commits that root (what its `--ledger.publish_root` does every round), it is.
/// The API key is read from `--ledger.key_file`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_onchain_root_only_a_published_root_is_followed() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut dcfg = DevnetConfig::new(dir.path().join("devnet"));
    dcfg.listen = "127.0.0.1:0".parse().expect("addr");
    dcfg.block_time_ms = 100;
    dcfg.tempo = 20;
    let devnet = DevnetServer::new(dcfg).expect("devnet").spawn();
    let url = devnet.url.clone();

    // A validator with a permit on netuid 1.
    let alice = Keypair::from_uri("//Alice").expect("key");
    let admin = AdminClient::new(&url, alice.clone()).expect("admin");
    let vkey = Keypair::from_uri("//LedgerValidator").expect("key");
    let reg = DevnetClient::connect(&url).await.expect("chain").with_coldkey(alice);
    reg.burned_register(1, vkey.ss58()).await.expect("register");
    admin
        .submit(AdminCall::AddStake { netuid: 1, hotkey: vkey.ss58().into(), amount: 1_000_000_000_000 })
        .await
        .expect("stake");
    admin.submit(AdminCall::AdvanceBlocks { blocks: 22 }).await.expect("epoch: permits");
    let validator = DevnetClient::connect(&url).await.expect("chain").with_hotkey(vkey.clone());
    let mg = validator.metagraph(1).await.expect("metagraph");
    assert!(mg.neuron_by_hotkey(vkey.ss58()).map(|n| n.validator_permit).unwrap_or(false), "permit");

    let store = Arc::new(LedgerStore::open(StoreConfig::new(dir.path().join("ledger"))).expect("store"));
    store.seed(orchestra_ledger_store::real_subnet_seed().expect("seed")).expect("seed");
    let (key, _) = create_key(&store, Tier::Developer, "miner").expect("key");
    // The key comes from a file read at each sync (--ledger.key_file).
    let key_file = dir.path().join("ledger.key");
    std::fs::write(&key_file, format!("{key}\n")).expect("key file");
    let api = LedgerApi::new(ApiConfig::default(), store.clone()).expect("api");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let api_url = format!("http://{}", listener.local_addr().expect("addr"));
    let stop_api = CancellationToken::new();
    let served = {
        let (api, stop) = (api.clone(), stop_api.clone());
        tokio::spawn(async move {
            let _ = api.serve(listener, stop).await;
        })
    };

    let cfg = MinerConfig::try_parse_from([
        "miner",
        "--uri",
        "//Bob",
        "--chain.endpoint",
        &url,
        "--netuid",
        "1",
        "--axon.host",
        "127.0.0.1",
        "--axon.port",
        "0",
        "--axon.no_serve",
        "--blacklist.allow_any",
        "--net.allow_private",
        "--data-dir",
        &dir.path().join("state").display().to_string(),
        "--ledger.url",
        &api_url,
        "--ledger.key_file",
        &key_file.display().to_string(),
        "--ledger.sync_secs",
        &SYNC_SECS.to_string(),
        "--ledger.onchain_root",
    ])
    .expect("config");
    let node = MinerNode::new(cfg).await.expect("miner");
    let core = node.core();
    let metrics = node.ledger_sync_metrics();
    let stop = CancellationToken::new();
    let run = tokio::spawn(node.run(stop.clone()));

    // Not published yet: refused, the (empty) Ledger stays.
    let t0 = Instant::now();
    while metrics.failures("root_not_onchain") == 0 {
        assert!(t0.elapsed() < Duration::from_secs(15), "no sync happened: {metrics:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(core.ledger().is_empty(), "an unpublished root is not followed");

    // The validator publishes the root: followed at the next sync.
    let root = store.root().expect("root");
    validator.set_commitment(1, &root.0).await.expect("commit");
    let t1 = Instant::now();
    while core.ledger().len() != 3 {
        assert!(t1.elapsed() < Duration::from_secs(SYNC_SECS) + Duration::from_millis(1500), "{metrics:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A later change whose root is not on chain yet is not followed; the last good Ledger stays.
    let mut changed = store.entry(22).expect("read").expect("entry 22");
    changed.description.push_str(" (edited)");
    store.upsert_entry(changed, ChangeKind::EntryCreated, "governance").expect("upsert");
    let refused = metrics.failures("root_not_onchain");
    let t2 = Instant::now();
    while metrics.failures("root_not_onchain") == refused {
        assert!(t2.elapsed() < Duration::from_secs(5), "{metrics:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(core.ledger().iter().all(|e| !e.description.ends_with("(edited)")), "unpublished change not followed");

    stop_api.cancel();
    let _ = served.await;
    stop.cancel();
    let _ = run.await;
    let _ = devnet.stop().await;
}
