//! `orchestra ledger serve` on a fresh data directory starts from the built-in seed instead of
//! serving an empty Ledger.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_ledger_serves_the_built_in_seed() {
    let dir = tempfile::tempdir().expect("tmp");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_orchestra"))
        .args(["ledger", "serve", "--host", "127.0.0.1", "--port", &port.to_string(), "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn orchestra ledger serve");
    let url = format!("http://127.0.0.1:{port}/v1/subnets");
    let t0 = Instant::now();
    let body: serde_json::Value = loop {
        if let Ok(r) = reqwest::get(&url).await
            && r.status().is_success()
        {
            break r.json().await.expect("json");
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "the Ledger API never answered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    let text = body.to_string();
    for netuid in ["22", "13", "64"] {
        assert!(text.contains(&format!("\"netuid\":{netuid}")), "netuid {netuid} missing from {text}");
    }
}
