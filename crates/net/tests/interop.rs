//! Interop with the Python SDK, both directions: our dendrite against the reference Python axon
//! (bittensor 10.5.0), the reference Python dendrite against `echo_axon`, and `btauth/1` headers
//! signed and verified by bittensor 11.3.0's `http_auth`.
//!
//! The interpreters come from `BTREF_PYTHON` / `BTREF_PYTHON11` (defaults under /tmp/btref); when
//! they are missing these tests fail and say how to install them. They are never skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use common::*;
use orchestra_net::echo::{Echo, EchoSynapse};
use orchestra_net::{Axon, AxonConfig, AxonTarget, Dendrite, DendriteAuth, DendriteConfig};
use tokio::process::Command;

/// Queries that exercise Python's `str()` in the body hash: quotes, non-ASCII, empty.
const QUERIES: [&str; 4] = ["hello bittensor", "it's \"quoted\" \\ ünïcode ✓", "", "line\nbreak\ttab"];

async fn rust_dendrite_to_python_axon<const H: bool, const O: bool>(flags: &[&str]) {
    let peer = Peer::python_axon(flags).await;
    assert_eq!(peer.ready["bittensor"], "10.5.0");
    let target = AxonTarget::new("127.0.0.1", peer.port, peer.hotkey.clone());
    let d = Dendrite::new(key("//Bob"), DendriteConfig::local()).unwrap();
    let t = Duration::from_secs(12);
    for i in 0..12 {
        let q = format!("{} #{i}", QUERIES[i % QUERIES.len()]);
        let r = d.call(&target, Echo::<H, O>::new(q.clone()), t).await;
        assert_eq!(r.status_code, 200, "{flags:?} {q:?}: {}", r.status_message);
        assert_eq!(r.status_message, "Success");
        assert_eq!(r.synapse.result.as_deref(), Some(q.as_str()), "{flags:?}");
        assert_eq!(r.axon.status_code, Some(200));
        assert!(r.axon.process_time.is_some());
    }
    // Concurrent calls, one dendrite (one uuid) per call: the Python axon keeps the SDK's
    // strictly-increasing nonce rule per uuid, which parallel calls from one uuid may break.
    let calls = (0..8).map(|i| {
        let target = target.clone();
        async move {
            let d = Dendrite::new(key("//Bob"), DendriteConfig::local()).unwrap();
            d.call(&target, Echo::<H, O>::new(format!("parallel {i}")), t).await
        }
    });
    for (i, r) in futures::future::join_all(calls).await.into_iter().enumerate() {
        assert_eq!(r.status_code, 200, "{flags:?}: {}", r.status_message);
        assert_eq!(r.synapse.result, Some(format!("parallel {i}")));
    }
    // Signed for another hotkey: the Python axon refuses it the SDK's way.
    let wrong = AxonTarget::new("127.0.0.1", peer.port, ALICE);
    let r = d.call(&wrong, Echo::<H, O>::new("x"), t).await;
    assert_eq!(r.status_code, 401, "{}", r.status_message);
    assert!(r.status_message.starts_with("Not Verified with error: Signature mismatch"), "{}", r.status_message);
}

#[tokio::test]
async fn rust_dendrite_to_python_axon_plain() {
    rust_dendrite_to_python_axon::<false, false>(&[]).await;
}

#[tokio::test]
async fn rust_dendrite_to_python_axon_hash_fields() {
    rust_dendrite_to_python_axon::<true, false>(&["--hash-fields"]).await;
}

#[tokio::test]
async fn rust_dendrite_to_python_axon_optional_query() {
    rust_dendrite_to_python_axon::<false, true>(&["--optional-query"]).await;
}

/// Runs `py_dendrite_load.py` against a fresh `echo_axon` started with the same flags, and
/// checks that every request of every run (sequential, concurrent through one dendrite,
/// concurrent through one dendrite per worker) came back 200 with result == query.
async fn python_dendrite_to_rust_axon(flags: &[&str], n: usize, c: usize) {
    let axon = Peer::echo_axon(flags).await;
    let out = tokio::time::timeout(
        Duration::from_secs(600),
        Command::new(python10())
            .arg(refpeer_dir().join("py_dendrite_load.py"))
            .args(["--host", "127.0.0.1", "--port", &axon.port.to_string(), "--axon-hotkey", &axon.hotkey])
            .args(["--uri", "//Bob", "-n", &n.to_string(), "-c", &c.to_string(), "--mode", "both", "--warmup", "5"])
            .args(flags)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("python dendrite finished in time")
    .expect("run python dendrite");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "py_dendrite_load.py failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let results: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "result")
        .collect();
    assert_eq!(results.len(), 3, "seq, one-dendrite and per-worker runs expected:\n{stdout}");
    for r in &results {
        assert_eq!(r["ok"].as_u64(), Some(n as u64), "{flags:?}: {r}");
        assert_eq!(r["failed"].as_u64(), Some(0), "{flags:?}: {r}");
    }
    let modes: Vec<&str> = results.iter().filter_map(|r| r["mode"].as_str()).collect();
    assert!(modes.contains(&"concurrent-one-dendrite"), "{modes:?}");
}

#[tokio::test]
async fn python_dendrite_to_rust_axon_plain() {
    python_dendrite_to_rust_axon(&[], 200, 16).await;
}

#[tokio::test]
async fn python_dendrite_to_rust_axon_hash_fields() {
    python_dendrite_to_rust_axon(&["--hash-fields"], 100, 16).await;
}

#[tokio::test]
async fn python_dendrite_to_rust_axon_optional_query() {
    python_dendrite_to_rust_axon(&["--optional-query"], 50, 8).await;
}

const PY_SIGN: &str = r#"
import json, sys
import bittensor as bt
from bittensor_core import Keypair
uri, path, receiver, body = sys.argv[1:5]
headers = bt.http_auth.sign(Keypair.create_from_uri(uri), method="POST", path=path,
                            body=body.encode(), receiver_ss58=receiver)
print(json.dumps(headers))
"#;

const PY_VERIFY: &str = r#"
import base64, json, sys
import bittensor as bt
req = json.load(sys.stdin)
caller = bt.http_auth.verify(req["headers"], base64.b64decode(req["body_b64"]), method=req["method"],
                             path=req["path"], self_hotkey_ss58=req["self_hotkey"])
print(json.dumps({"hotkey": caller.hotkey_ss58, "nonce": caller.nonce_ns}))
"#;

#[tokio::test]
async fn python_btauth_signature_is_accepted_by_our_axon() {
    let axon = Axon::new(AxonConfig::default(), key("//Alice"))
        .unwrap()
        .attach(|ctx, s: EchoSynapse| async move {
            assert_eq!(ctx.scheme, orchestra_net::AuthScheme::BtAuth);
            assert_eq!(ctx.hotkey, BOB);
            Ok(s.answer())
        })
        .unwrap();
    let axon = Running::start(axon).await;
    let body = r#"{"query": "signed in python"}"#;
    let out = Command::new(python11())
        .args(["-c", PY_SIGN, "//Bob", "/EchoSynapse", ALICE, body])
        .output()
        .await
        .expect("run python 11");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let headers: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("headers json");
    assert_eq!(headers["X-Bittensor-Version"], "1");
    let send_it = || async {
        let mut b = client().post(axon.url("EchoSynapse")).body(body);
        for (k, v) in &headers {
            b = b.header(k, v.as_str().unwrap());
        }
        b.send().await.unwrap()
    };
    let resp = send_it().await;
    assert_eq!(resp.status().as_u16(), 200);
    let json: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(json["result"], "signed in python");
    // The same headers again: a replay.
    let resp = send_it().await;
    assert_eq!(resp.status().as_u16(), 401);
}

#[tokio::test]
async fn our_btauth_headers_verify_in_python() {
    // A stand-in server that records what our dendrite sends.
    type Seen = Arc<Mutex<Option<(String, String, Vec<(String, String)>, Vec<u8>)>>>;
    let seen: Seen = Arc::default();
    let s2 = Arc::clone(&seen);
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let seen = Arc::clone(&s2);
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
            let headers = parts.headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string())).collect();
            *seen.lock().unwrap() = Some((parts.method.to_string(), parts.uri.to_string(), headers, body));
            (axum::http::StatusCode::IM_A_TEAPOT, r#"{"message":"captured"}"#)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let d =
        Dendrite::new(key("//Bob"), DendriteConfig { auth: DendriteAuth::BtAuth, ..DendriteConfig::local() }).unwrap();
    let r =
        d.call(&AxonTarget::new("127.0.0.1", port, ALICE), EchoSynapse::new("from rust"), Duration::from_secs(5)).await;
    assert_eq!(r.status_code, 418);
    assert_eq!(r.status_message, "captured");
    let (method, path, headers, body) = seen.lock().unwrap().take().expect("request captured");

    let req = serde_json::json!({
        "headers": headers.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect::<serde_json::Map<_, _>>(),
        "body_b64": base64::engine::general_purpose::STANDARD.encode(&body),
        "method": method,
        "path": path,
        "self_hotkey": ALICE,
    });
    let mut child = Command::new(python11())
        .args(["-c", PY_VERIFY])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python 11");
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(req.to_string().as_bytes()).await.unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "http_auth.verify refused our headers: {}", String::from_utf8_lossy(&out.stderr));
    let caller: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(caller["hotkey"], BOB);
}
