//! Helpers shared by the integration tests: in-process axons, child processes (the Rust
//! `echo_axon` and the Python reference peer), the Python interpreters, and hand-built signed
//! v10 requests for the adversarial cases.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use orchestra_keys::Keypair;
use orchestra_net::{Axon, now_ns};
use orchestra_proto::wire::{
    Envelope, SDK_VERSION_AS_INT, Synapse, TerminalInfo, dendrite_message, request_header_pairs,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
pub const BOB: &str = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";

pub fn key(uri: &str) -> Keypair {
    Keypair::from_uri(uri).expect("dev key")
}

/// `shared/refpeer`, beside the repository (override with BTREF_REFPEER).
pub fn refpeer_dir() -> PathBuf {
    std::env::var_os("BTREF_REFPEER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/refpeer")))
}

fn interpreter(var: &str, default: &str, what: &str, setup: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default));
    assert!(
        path.exists(),
        "the Python reference peer ({what}) is missing: {} does not exist. Install it with `{setup}` \
         (from the repository root; CI does this), or point {var} at a Python that has it.",
        path.display()
    );
    path
}

/// bittensor 10.5.0 (Axon / Dendrite / Synapse).
pub fn python10() -> PathBuf {
    interpreter("BTREF_PYTHON", "/tmp/btref/venv10/bin/python", "bittensor 10.5.0", "bash ../shared/refpeer/setup.sh")
}

/// bittensor 11.3.0 (bittensor.http_auth, btauth/1).
pub fn python11() -> PathBuf {
    interpreter(
        "BTREF_PYTHON11",
        "/tmp/btref/venv11/bin/python",
        "bittensor 11.3.0",
        "bash ../shared/refpeer/setup.sh /tmp/btref/venv10 --lean /tmp/btref/venv11",
    )
}

/// This machine's address on its default route, if it has one that is not loopback: a peer
/// connecting to it is seen with that address, so "loopback only" rules can be tested.
pub fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // No packet is sent: connecting a UDP socket only picks the route and the source address.
    s.connect("203.0.113.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A child process that prints a JSON "ready" line; killed on drop.
pub struct Peer {
    pub child: Child,
    pub ready: serde_json::Value,
    pub port: u16,
    pub hotkey: String,
    _tmp: Option<tempfile::TempDir>,
}

impl Peer {
    async fn start(mut cmd: Command, tmp: Option<tempfile::TempDir>) -> Peer {
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn peer");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(90), async {
            while let Some(line) = lines.next_line().await.expect("read peer stdout") {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && v["event"] == "ready"
                {
                    return v;
                }
            }
            panic!("peer exited before it was ready");
        })
        .await
        .expect("peer ready within 90 s");
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let port = u16::try_from(ready["port"].as_u64().expect("port")).expect("port");
        let hotkey = ready["hotkey"].as_str().expect("hotkey").to_string();
        Peer { child, ready, port, hotkey, _tmp: tmp }
    }

    /// The Rust `echo_axon` binary on a free port, hotkey //Alice.
    pub async fn echo_axon(extra: &[&str]) -> Peer {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_echo_axon"));
        cmd.args(["--host", "127.0.0.1", "--port", "0", "--uri", "//Alice"]).args(extra);
        Peer::start(cmd, None).await
    }

    /// The Python reference axon (`py_axon_echo.py`) with a throwaway wallet.
    pub async fn python_axon(extra: &[&str]) -> Peer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new(python10());
        cmd.arg(refpeer_dir().join("py_axon_echo.py"))
            .args(["--host", "127.0.0.1", "--port", &free_port().to_string(), "--create", "--wallet-path"])
            .arg(tmp.path())
            .args(extra);
        Peer::start(cmd, Some(tmp)).await
    }
}

/// An in-process axon on a free loopback port; stopped when the handle drops.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub async fn start(axon: Axon) -> Running {
        Running::start_on(axon, "127.0.0.1:0").await
    }

    /// Bound to `bind` (e.g. `0.0.0.0:0` to be reached on a non-loopback address too).
    pub async fn start_on(axon: Axon, bind: &str) -> Running {
        let listener = tokio::net::TcpListener::bind(bind).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axon.serve(listener, async move {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        Running { addr, stop: Some(tx), task: Some(task) }
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }

    /// Graceful stop, waiting for the server to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("server task");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A handler call counter.
#[derive(Clone, Default)]
pub struct Counter(pub Arc<AtomicUsize>);

impl Counter {
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A v10 request built by hand, so that tests can tamper with any part of it.
#[derive(Clone, Debug)]
pub struct RawRequest {
    pub name: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    /// A correctly signed v10 request for `body`, from `signer` to `receiver` (ss58).
    pub fn signed<S: Synapse>(signer: &Keypair, receiver: &str, body: S, nonce: u64, uuid: &str) -> RawRequest {
        let mut env = Envelope::new(body);
        env.dendrite = TerminalInfo {
            version: Some(SDK_VERSION_AS_INT),
            nonce: Some(nonce),
            uuid: Some(uuid.to_string()),
            hotkey: Some(signer.ss58().to_string()),
            ip: Some("127.0.0.1".into()),
            ..TerminalInfo::default()
        };
        env.axon = TerminalInfo { hotkey: Some(receiver.to_string()), ..TerminalInfo::default() };
        let hash = env.body_hash().expect("hash");
        let msg = dendrite_message(nonce, signer.ss58(), receiver, uuid, &hash);
        env.dendrite.signature = Some(signer.sign_hex(msg.as_bytes()));
        let headers = request_header_pairs(&env, &hash);
        RawRequest { name: S::NAME.to_string(), headers, body: serde_json::to_vec(&env).expect("json") }
    }

    /// Signed now with a fresh uuid.
    pub fn fresh<S: Synapse>(signer: &Keypair, receiver: &str, body: S) -> RawRequest {
        RawRequest::signed(signer, receiver, body, now_ns(), &uuid::Uuid::new_v4().to_string())
    }

    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        self.remove(name);
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn remove(&mut self, name: &str) -> &mut Self {
        self.headers.retain(|(n, _)| n != name);
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: serde_json::Value,
}

impl Reply {
    pub fn message(&self) -> String {
        self.json["message"].as_str().unwrap_or_default().to_string()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn send(client: &reqwest::Client, base: &str, req: &RawRequest) -> Reply {
    let mut b = client.post(format!("{base}/{}", req.name)).body(req.body.clone());
    for (n, v) in &req.headers {
        b = b.header(n, v);
    }
    b = b.header("content-type", "application/json");
    let resp = b.send().await.expect("send");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Reply { status, headers, json }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("client")
}
