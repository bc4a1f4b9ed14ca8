//! `orchestra ledger verify`: an entry served by the Ledger API verifies against the root a
//! validator committed on chain (a devnet here), and fails once the Ledger changed without a new
//! commitment.

use std::process::Command;
use std::sync::Arc;

use orchestra_chain::Chain;
use orchestra_chain::devnet::DevnetClient;
use orchestra_devnet::{DevnetConfig, DevnetServer};
use orchestra_keys::Keypair;
use orchestra_ledger_api::{ApiConfig, LedgerApi};
use orchestra_ledger_store::{ChangeKind, LedgerStore, StoreConfig};

fn verify(url: &str, chain: &str, validator: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_orchestra"))
        .args(["ledger", "verify", "22", "--validator", validator, "--url", url, "--chain.endpoint", chain])
        .output()
        .expect("run orchestra")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_entries_verify_against_the_committed_root() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut cfg = DevnetConfig::new(dir.path().join("devnet"));
    cfg.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.block_time_ms = 100;
    let devnet = DevnetServer::new(cfg).expect("devnet").spawn();

    let store = Arc::new(LedgerStore::open(StoreConfig::new(dir.path().join("ledger"))).expect("store"));
    store.seed(orchestra_ledger_store::real_subnet_seed().expect("seed")).expect("seed");
    let api = LedgerApi::new(ApiConfig::default(), store.clone()).expect("api");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let stop = orchestra_ledger_api::CancellationToken::new();
    let server = tokio::spawn({
        let (api, stop) = (api.clone(), stop.clone());
        async move {
            let _ = api.serve(listener, stop).await;
        }
    });

    // The devnet's dev account //Alice (a funded coldkey) registers the hotkey //LedgerValidator
    // on the genesis subnet 1; that hotkey publishes the root.
    let coldkey = Keypair::from_uri("//Alice").expect("key");
    let alice = Keypair::from_uri("//LedgerValidator").expect("key");
    DevnetClient::connect(&devnet.url)
        .await
        .expect("chain")
        .with_coldkey(coldkey)
        .burned_register(1, alice.ss58())
        .await
        .expect("register");
    let chain = DevnetClient::connect(&devnet.url).await.expect("chain").with_hotkey(alice.clone());
    let root = store.root().expect("root");
    chain.set_commitment(1, &root.0).await.expect("commit root");

    let out = tokio::task::spawn_blocking({
        let (url, chain_url, who) = (url.clone(), devnet.url.clone(), alice.ss58().to_string());
        move || verify(&url, &chain_url, &who)
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("\"verified\":true"), "{stdout}");

    // The Ledger moves on without a new commitment: the served entry no longer matches.
    let mut e = store.entry(22).expect("get").expect("present");
    e.description = "changed after the commitment".into();
    store.upsert_entry(e, ChangeKind::EntryUpdated, "test").expect("update");
    api.refresh().await.expect("refresh");
    let out = tokio::task::spawn_blocking({
        let (url, chain_url, who) = (url.clone(), devnet.url.clone(), alice.ss58().to_string());
        move || verify(&url, &chain_url, &who)
    })
    .await
    .expect("join");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"verified\":false"));

    stop.cancel();
    let _ = server.await;
    let _ = devnet.stop().await;
}
