//! `orchestra subnet probe` (the binary) against local subnets: loopback refused without
//! `--allow-private` (a clear error, nothing sent), the result and the receipt printed, a subnet
//! that is down reported as transient, an entry fetched from a Ledger API by netuid, https
//! through a private CA with `--tls.ca-file` (and refused without), and the operator's
//! credential file as the only source of a key.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use orchestra_ledger_api::{ApiConfig, LedgerApi, create_key};
use orchestra_ledger_store::{LedgerStore, StoreConfig, Tier};
use orchestra_proto::ledger::{AuthKind, LedgerEntry, TransportSpec};
use serde_json::{Value, json};

struct Run {
    code: i32,
    out: Value,
    stderr: String,
}

async fn probe(args: &[&str]) -> Run {
    let o = tokio::process::Command::new(env!("CARGO_BIN_EXE_orchestra"))
        .args(["subnet", "probe"])
        .args(args)
        .env_remove("ORCHESTRA_LEDGER_URL")
        .env_remove("ORCHESTRA_LEDGER_KEY")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run orchestra subnet probe");
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    Run {
        code: o.status.code().unwrap_or(-1),
        out: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&o.stderr).to_string(),
    }
}

fn write(dir: &Path, name: &str, v: &impl serde::Serialize) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(v).expect("json")).expect("write");
    p.display().to_string()
}

/// Only the first transport, at `url`.
fn at(mut e: LedgerEntry, url: String, auth: AuthKind) -> LedgerEntry {
    e.transports = vec![TransportSpec::HttpJson { url, method: "POST".into(), auth }];
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_prints_the_result_and_the_receipt() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let sim = orchestra_subnet_sim::start(orchestra_subnet_sim::SimConfig::default_trio()).await.expect("sim");
    let running = sim.subnets.iter().find(|s| s.netuid == 22).expect("search");
    let search = orchestra_subnet_sim::ledger::entry(running);
    let file = write(d, "entry.json", &search);

    // Loopback without --allow-private: refused before anything is sent, and the error says how.
    let r = probe(&["--entry", &file]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--allow-private") && r.stderr.contains("loopback"), "{}", r.stderr);

    // With it: the validator's probe, its result and its receipt.
    let r = probe(&["--entry", &file, "--allow-private"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.stderr);
    assert_eq!(r.out["result"]["answered"], true, "{}", r.out);
    assert_eq!(r.out["result"]["class"], "answered");
    assert_eq!(r.out["receipt"]["netuid"], 22);
    assert_eq!(r.out["receipt"]["step_id"], "probe");
    assert_eq!(r.out["receipt"]["status"]["kind"], "ok", "{}", r.out);
    assert!(r.out["receipt_leaf"].is_string());

    // A document of several entries needs --netuid.
    let all: Vec<LedgerEntry> = sim.subnets.iter().map(orchestra_subnet_sim::ledger::entry).collect();
    let doc = write(d, "ledger.json", &json!({"subnets": all}));
    assert_eq!(probe(&["--entry", &doc, "--allow-private"]).await.code, 2);
    let r = probe(&["--entry", &doc, "--netuid", "13", "--allow-private"]).await;
    assert_eq!((r.code, r.out["netuid"].as_u64()), (0, Some(13)), "{}", r.stderr);

    // From a Ledger API, by netuid (a developer key sees full entries).
    let store = Arc::new(LedgerStore::open(StoreConfig::new(d.join("ledger"))).expect("store"));
    store.seed(all.clone()).expect("seed");
    let (key, _) = create_key(&store, Tier::Developer, "probe").expect("key");
    let api = LedgerApi::new(ApiConfig::default(), store.clone()).expect("api");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let api_url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = api.serve(listener, orchestra_node::shutdown::CancellationToken::new()).await;
    });
    let r = probe(&["--netuid", "22", "--ledger", &api_url, "--key", &key, "--allow-private"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.stderr);
    assert_eq!(r.out["receipt"]["netuid"], 22);
    let r = probe(&["--netuid", "22", "--ledger", &api_url, "--allow-private"]).await;
    assert_eq!(r.code, 2, "a summary is not an entry");
    assert!(r.stderr.contains("developer key"), "{}", r.stderr);

    // Down: not answered, a transient failure, receipted.
    reqwest::Client::new()
        .post(format!("{}/control/faults", running.base_url()))
        .json(&json!({"down": true}))
        .send()
        .await
        .expect("faults");
    let r = probe(&["--entry", &file, "--allow-private"]).await;
    assert_eq!(r.code, 1);
    assert_eq!(r.out["result"]["class"], "transient", "{}", r.out);
    assert_eq!(r.out["result"]["summary"], "HTTP 503");
    assert_eq!(r.out["receipt"]["status"]["code"], 503);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_over_https_with_a_private_ca_and_the_operators_credentials() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let sim = orchestra_subnet_sim::start(orchestra_subnet_sim::SimConfig::default_trio()).await.expect("sim");
    let running = sim.subnets.iter().find(|s| s.netuid == 22).expect("search");
    let ca = orchestra_net::testing::TestCa::new();
    let proxy = ca.proxy(running.addr).await;
    let https = at(
        orchestra_subnet_sim::ledger::entry(running),
        format!("https://localhost:{}{}", proxy.port(), running.kind.path()),
        AuthKind::None,
    );
    let file = write(d, "https.json", &https);
    let ca_file = ca.write_pem(d).display().to_string();
    let r = probe(&["--entry", &file, "--allow-private", "--tls.ca-file", &ca_file]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.stderr);
    assert!(r.out["receipt"]["endpoint"].as_str().is_some_and(|e| e.starts_with("https://localhost:")), "{}", r.out);
    let r = probe(&["--entry", &file, "--allow-private"]).await;
    assert_eq!(r.code, 1, "an unknown CA is not trusted");
    assert_eq!(r.out["result"]["answered"], false);

    // A subnet that wants a key: only the operator's credential file provides one.
    let app = axum::Router::new().route(
        "/search",
        axum::routing::post(|h: HeaderMap| async move {
            if h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer sekrit") {
                (StatusCode::OK, axum::Json(json!({"data": []})))
            } else {
                (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "no key"})))
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    let mut keyed = at(
        orchestra_subnet_sim::ledger::entry(running),
        format!("http://127.0.0.1:{}/search", addr.port()),
        AuthKind::Bearer { env: "IGNORED".into() },
    );
    keyed.output_schema = json!({"type": "object"});
    let file = write(d, "keyed.json", &keyed);
    let r = probe(&["--entry", &file, "--allow-private"]).await;
    assert_eq!(r.code, 1);
    assert_eq!(r.out["result"]["class"], "local", "{}", r.out);
    assert!(r.stderr.contains("credential"), "{}", r.stderr);
    let creds = d.join("credentials.toml");
    std::fs::write(&creds, "[22]\nkind = \"bearer\"\nvalue = \"sekrit\"\n").expect("write");
    let creds = creds.display().to_string();
    let r = probe(&["--entry", &file, "--allow-private", "--subnet.credentials", &creds]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.stderr);
    sim.shutdown().await;
}
