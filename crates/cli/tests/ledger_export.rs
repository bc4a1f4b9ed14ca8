//! `orchestra ledger export` writes the array of entries a miner's `--ledger.file` reads: from a
//! running Ledger API with a developer key (a free-tier caller is refused: it sees summaries), and
//! from a local data directory.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use orchestra_proto::ledger::LedgerEntry;

fn orchestra(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_orchestra")).args(args).output().expect("run orchestra")
}

fn read_entries(path: &std::path::Path) -> Vec<LedgerEntry> {
    let text = std::fs::read_to_string(path).expect("exported file");
    let entries: Vec<LedgerEntry> = serde_json::from_str(&text).expect("a bare array of entries");
    for e in &entries {
        e.validate().expect("valid entry");
    }
    entries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_what_a_miner_starts_from() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("ledger");
    let data_s = data.display().to_string();
    // A developer key, made before `serve` opens the store.
    let out = orchestra(&["ledger", "keys", "create", "--tier", "developer", "--name", "miner", "--data-dir", &data_s]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).expect("key json");
    let key = created["key"].as_str().expect("key").to_string();

    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_orchestra"))
        .args(["ledger", "serve", "--host", "127.0.0.1", "--port", &port.to_string(), "--data-dir", &data_s])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn orchestra ledger serve");
    let url = format!("http://127.0.0.1:{port}");
    let t0 = Instant::now();
    while !reqwest::get(format!("{url}/v1/subnets")).await.map(|r| r.status().is_success()).unwrap_or(false) {
        assert!(t0.elapsed() < Duration::from_secs(20), "the Ledger API never answered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let from_api = dir.path().join("from-api.json");
    let out = orchestra(&["ledger", "export", "--url", &url, "--key", &key, "--out", &from_api.display().to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let api_entries = read_entries(&from_api);
    let mut netuids: Vec<u16> = api_entries.iter().map(|e| e.netuid).collect();
    netuids.sort();
    assert_eq!(netuids, vec![13, 22, 64], "the built-in seed");

    // Without a key the API gives summaries: refused, nothing written.
    let refused = dir.path().join("free.json");
    let out = orchestra(&["ledger", "export", "--url", &url, "--out", &refused.display().to_string()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("developer key"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!refused.exists());

    let _ = child.kill();
    let _ = child.wait();

    // From the store itself (serve stopped): the same entries, on stdout.
    let out = orchestra(&["ledger", "export", "--data-dir", &data_s]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let local: Vec<LedgerEntry> = serde_json::from_slice(&out.stdout).expect("array on stdout");
    assert_eq!(local, api_entries);
}
