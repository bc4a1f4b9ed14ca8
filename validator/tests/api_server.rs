//! The validator's API server (gateway and mounted Ledger API) as the node runs it, against an
//! in-process devnet: `/v1/status` and `/metrics` answer loopback peers only unless
//! `--api.public_status`, and the server applies its `--server.*` limits (a slow request head
//! is cut).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use clap::Parser;
use orchestra_devnet::{DevnetConfig, DevnetServer};
use orchestra_validator::node::{ValidatorConfig, ValidatorNode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// This machine's address on its default route, if not loopback (no packet is sent).
fn non_loopback_ip() -> Option<IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("203.0.113.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

async fn status(c: &reqwest::Client, addr: SocketAddr, path: &str) -> (u16, String) {
    let r = c.get(format!("http://{addr}{path}")).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_loopback_only_and_the_api_server_cuts_slow_heads() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("skipped: this machine has no non-loopback address to test from");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut dc = DevnetConfig::new(dir.path().join("devnet"));
    dc.listen = "127.0.0.1:0".parse().unwrap();
    dc.block_time_ms = 0;
    dc.sync_writes = false;
    let devnet = DevnetServer::new(dc).unwrap().spawn();
    let c = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    for public in [false, true] {
        let data = dir.path().join(format!("validator-{public}"));
        let mut argv = vec![
            "validator".to_string(),
            "--uri=//Alice".into(),
            format!("--chain.endpoint={}", devnet.url),
            format!("--data-dir={}", data.display()),
            "--api.host=0.0.0.0".into(),
            "--api.port=0".into(),
            "--epoch.secs=3600".into(),
            "--metagraph.sync_secs=3600".into(),
            "--ledger.publish_root=false".into(),
            "--server.header_timeout_secs=0.5".into(),
        ];
        if public {
            argv.push("--api.public_status".into());
        }
        let node = ValidatorNode::new(ValidatorConfig::parse_from(argv)).await.unwrap();
        let port = node.api_addr().unwrap().port();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let running = tokio::spawn(node.run(rx));
        let local = SocketAddr::from(([127, 0, 0, 1], port));
        let remote = SocketAddr::new(ip, port);
        let t0 = Instant::now();
        while status(&c, local, "/healthz").await.0 != 200 {
            assert!(t0.elapsed() < Duration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for path in ["/v1/status", "/metrics"] {
            assert_eq!(status(&c, local, path).await.0, 200, "{path} on loopback");
            let (code, text) = status(&c, remote, path).await;
            if public {
                assert_eq!(code, 200, "{path} from {ip} with --api.public_status: {text}");
            } else {
                assert_eq!(code, 403, "{path} from {ip}: {text}");
                assert!(text.contains("loopback_only"), "{text}");
            }
        }
        // The Ledger API mounted on the same server answers anyone.
        assert_eq!(status(&c, remote, "/v1/subnets").await.0, 200);
        let (_, metrics) = status(&c, local, "/metrics").await;
        assert!(metrics.contains("orchestra_validator_server_connections_open"), "{metrics}");
        // A request head that never ends is cut after --server.header_timeout_secs.
        let mut s = tokio::net::TcpStream::connect(local).await.unwrap();
        s.write_all(b"GET /v1/subnets HTTP/1.1\r\nhost: x\r\n").await.unwrap();
        let t0 = Instant::now();
        let mut b = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut b)).await.expect("cut").unwrap_or(0);
        assert_eq!(n, 0, "closed without an answer");
        assert!(t0.elapsed() < Duration::from_secs(3), "cut after {:?}", t0.elapsed());
        tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(20), running).await.expect("stops").unwrap().unwrap();
    }
    devnet.stop().await.unwrap();
}
