//! Ledger admin while a node holds the Ledger: `orchestra ledger keys create|list|revoke` and
//! `ledger export --data-dir` against a running `orchestra ledger serve` go through its admin
//! endpoint (found in the data directory, token or signature), work offline once it stops, and
//! fail with a clear reason when neither works. `keys buy` pays for a key in TAO on a devnet.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use orchestra_keys::Keypair;

fn orchestra(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orchestra")).args(args).output().expect("run orchestra")
}

fn ok_json(out: &Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "orchestra failed: {stderr}\n{}", String::from_utf8_lossy(&out.stdout));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `orchestra ledger serve` on `dir`, waited for; killed on drop.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn serve(dir: &Path, extra: &[&str]) -> (Serve, String) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_orchestra"))
        .args(["ledger", "serve", "--host", "127.0.0.1", "--port", &port.to_string(), "--data-dir"])
        .arg(dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn orchestra ledger serve");
    let base = format!("http://127.0.0.1:{port}");
    let t0 = Instant::now();
    loop {
        let up = reqwest::get(format!("{base}/v1/subnets")).await.is_ok_and(|r| r.status().is_success());
        if up && dir.join("admin.json").exists() {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "ledger serve never answered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (Serve(child), base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_export_work_while_ledger_serve_holds_the_ledger() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    std::fs::create_dir_all(&dir).unwrap();
    let alice = Keypair::from_uri("//Alice").unwrap();
    let (mut server, base) = serve(&dir, &["--admin-keys", alice.ss58()]).await;
    let d = dir.to_str().unwrap();

    // create, through the admin endpoint (the DB is locked): the key works at once.
    let created =
        ok_json(&orchestra(&["ledger", "keys", "create", "--tier", "developer", "--name", "live", "--data-dir", d]));
    let key = created["key"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    let r = reqwest::Client::new().get(format!("{base}/v1/subnets/22/schema")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(r.status(), 200, "the key created while serving works");
    // list (token from the data directory), and signed with an authorized key.
    let listed = ok_json(&orchestra(&["ledger", "keys", "list", "--data-dir", d]));
    assert!(listed.as_array().unwrap().iter().any(|k| k["id"] == id.as_str()), "{listed}");
    let signed = ok_json(&orchestra(&["ledger", "keys", "list", "--data-dir", d, "--admin.uri", "//Alice"]));
    assert_eq!(signed, listed);
    let stranger = orchestra(&["ledger", "keys", "list", "--data-dir", d, "--admin.uri", "//Bob"]);
    assert!(!stranger.status.success());
    assert!(String::from_utf8_lossy(&stranger.stderr).contains("not_authorized"));
    // revoke, then the key is refused (within the API's key cache TTL).
    let out = orchestra(&["ledger", "keys", "revoke", &id, "--data-dir", d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let t0 = Instant::now();
    loop {
        let r =
            reqwest::Client::new().get(format!("{base}/v1/subnets/22/schema")).bearer_auth(&key).send().await.unwrap();
        if r.status() == 401 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(15), "the revoked key still works");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // export --data-dir reads the entries through the endpoint too.
    let out_file = tmp.path().join("entries.json");
    let out = orchestra(&["ledger", "export", "--data-dir", d, "--out", out_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let entries: serde_json::Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 3, "the built-in seed");

    // Killed (no clean shutdown: its admin.json stays behind), the Ledger opens directly again.
    let _ = server.0.kill();
    let _ = server.0.wait();
    assert!(dir.join("admin.json").exists(), "a stale endpoint file");
    let offline = ok_json(&orchestra(&["ledger", "keys", "list", "--data-dir", d]));
    assert_eq!(offline.as_array().unwrap().len(), listed.as_array().unwrap().len());
    assert!(offline.as_array().unwrap().iter().any(|k| k["id"] == id.as_str() && k["revoked"] == true));
}

#[test]
fn a_held_ledger_without_a_working_endpoint_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    // This process holds the RocksDB lock, as another node would, and announces no endpoint.
    let store = orchestra_ledger_store::LedgerStore::open(orchestra_ledger_store::StoreConfig::new(&dir)).unwrap();
    let d = dir.to_str().unwrap();
    let out = orchestra(&["ledger", "keys", "list", "--data-dir", d]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("is held by another process") && stderr.contains("announces no admin endpoint"),
        "{stderr}"
    );
    // A stale endpoint file naming a dead port: the error says the endpoint does not answer.
    let dead = format!("http://127.0.0.1:{}", free_port());
    std::fs::write(
        dir.join("admin.json"),
        serde_json::json!({"url": dead, "pid": 1, "started_ms": 0, "token_file": "admin.token", "authorized_keys": []})
            .to_string(),
    )
    .unwrap();
    orchestra_ledger_api::admin::write_private(&dir.join("admin.token"), b"oladm_x").unwrap();
    let out = orchestra(&["ledger", "keys", "create", "--tier", "free", "--data-dir", d]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("does not answer"), "{stderr}");
    // No such directory: said so, and nothing is created.
    let missing = tmp.path().join("nope");
    let out = orchestra(&["ledger", "keys", "list", "--data-dir", missing.to_str().unwrap()]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    assert!(!missing.exists());
    drop(store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_buy_pays_in_tao_on_a_devnet() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = orchestra_devnet::DevnetConfig::new(tmp.path().join("devnet"));
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.block_time_ms = 100;
    cfg.sync_writes = false;
    let devnet = orchestra_devnet::DevnetServer::new(cfg).unwrap().spawn();
    let dir = tmp.path().join("ledger");
    std::fs::create_dir_all(&dir).unwrap();
    let dave = Keypair::from_uri("//Dave").unwrap().ss58().to_string();
    let (_server, base) =
        serve(&dir, &["--payments.pay-to", &dave, "--payments.developer-quota", "2", "--chain.endpoint", &devnet.url])
            .await;
    let key_file = tmp.path().join("dev.key");
    let bought = ok_json(&orchestra(&[
        "ledger",
        "keys",
        "buy",
        "--tier",
        "developer",
        "--months",
        "2",
        "--url",
        &base,
        "--chain.endpoint",
        &devnet.url,
        "--uri",
        "//Alice",
        "--key-file",
        key_file.to_str().unwrap(),
    ]));
    assert_eq!(bought["tier"], "developer");
    assert_eq!(bought["paid_rao"], 200_000_000, "0.1 TAO a month, two months");
    assert!(bought.get("key").is_none(), "the secret went to the key file");
    let key = std::fs::read_to_string(&key_file).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    let http = reqwest::Client::new();
    for _ in 0..2 {
        let r = http.get(format!("{base}/v1/subnets/22/schema")).bearer_auth(&key).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = http.get(format!("{base}/v1/subnets/22/schema")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(r.status(), 429, "past the quota of 2");
    // The payment is on record, through the admin endpoint.
    let paid = ok_json(&orchestra(&["ledger", "keys", "payments", "--data-dir", dir.to_str().unwrap()]));
    assert_eq!(paid.as_array().unwrap().len(), 1);
    assert_eq!(paid[0]["key_id"], bought["key_id"]);
    devnet.stop().await.unwrap();
}
