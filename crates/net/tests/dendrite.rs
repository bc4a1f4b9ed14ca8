//! The dendrite: the SDK's error mapping for transport failures, non-200 answers, ordered
//! fan-out, and round trips to our own axon in both signing schemes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use orchestra_net::echo::{EchoHashed, EchoSynapse};
use orchestra_net::{Axon, AxonConfig, AxonTarget, Dendrite, DendriteAuth, DendriteConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn dendrite(auth: DendriteAuth) -> Dendrite {
    Dendrite::new(key("//Bob"), DendriteConfig { auth, ..DendriteConfig::local() }).expect("dendrite")
}

async fn echo_axon(uri: &str) -> Running {
    let axon = Axon::new(AxonConfig::default(), key(uri))
        .unwrap()
        .attach(|_ctx, s: EchoSynapse| async move { Ok(s.answer()) })
        .unwrap()
        .attach(|_ctx, s: EchoHashedRoute| async move { Ok(EchoHashedRoute(s.0.answer())) })
        .unwrap();
    Running::start(axon).await
}

/// `EchoHashed` under its own route, so one axon serves both.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
struct EchoHashedRoute(EchoHashed);
impl orchestra_proto::wire::Synapse for EchoHashedRoute {
    const NAME: &'static str = "EchoHashed";
    const REQUIRED_FIELDS: &'static [(&'static str, orchestra_proto::wire::PyType)] =
        <EchoHashed as orchestra_proto::wire::Synapse>::REQUIRED_FIELDS;
    const HASH_FIELDS: &'static [&'static str] = <EchoHashed as orchestra_proto::wire::Synapse>::HASH_FIELDS;
}

/// A TCP server that answers every connection with `reply` (after reading the request head).
async fn canned(reply: &'static [u8]) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(reply).await;
                let _ = s.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test]
async fn connection_refused_is_503() {
    let port = free_port();
    let r = dendrite(DendriteAuth::V10)
        .call(&AxonTarget::new("127.0.0.1", port, ALICE), EchoSynapse::new("x"), Duration::from_secs(2))
        .await;
    assert_eq!(r.status_code, 503);
    assert_eq!(r.status_message, format!("Service unavailable at 127.0.0.1:{port}/EchoSynapse"));
    assert!(!r.is_success());
    assert_eq!(r.synapse.query, "x", "the request comes back on failure");
}

#[tokio::test]
async fn silence_is_a_408() {
    // Accepts and never answers.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    let r = dendrite(DendriteAuth::V10)
        .call(&AxonTarget::new("127.0.0.1", port, ALICE), EchoSynapse::new("x"), Duration::from_millis(300))
        .await;
    assert_eq!(r.status_code, 408, "{}", r.status_message);
    assert!(r.is_timeout());
    assert_eq!(r.status_message, "Request timeout after 0.3 seconds");
    assert!(r.process_time >= 0.3 && r.process_time < 5.0);
}

#[tokio::test]
async fn garbage_answers_are_422() {
    let d = dendrite(DendriteAuth::V10);
    let t = Duration::from_secs(2);
    // HTTP 200 whose body is not the synapse.
    let port = canned(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-type: application/json\r\n\r\nhello").await;
    let r = d.call(&AxonTarget::new("127.0.0.1", port, ALICE), EchoSynapse::new("x"), t).await;
    assert_eq!(r.status_code, 422);
    assert!(r.status_message.starts_with("Failed to parse response: "), "{}", r.status_message);
    // JSON without the required field.
    let port = canned(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await;
    let r = d.call(&AxonTarget::new("127.0.0.1", port, ALICE), EchoSynapse::new("x"), t).await;
    assert_eq!(r.status_code, 422);
    assert!(r.status_message.contains("missing field `query`"), "{}", r.status_message);
    // Not HTTP at all.
    let port = canned(b"SSH-2.0-OpenSSH\r\n\r\n").await;
    let r = d.call(&AxonTarget::new("127.0.0.1", port, ALICE), EchoSynapse::new("x"), t).await;
    assert_eq!(r.status_code, 422, "{}", r.status_message);
    assert!(r.status_message.starts_with("Failed to parse response: "));
}

#[tokio::test]
async fn non_200_copies_status_and_message() {
    let d = dendrite(DendriteAuth::V10);
    let port = canned(
        b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: 18\r\n\r\n{\"message\":\"boom\"}",
    )
    .await;
    let r = d.call(&AxonTarget::new("127.0.0.1", port, ALICE), EchoSynapse::new("x"), Duration::from_secs(2)).await;
    assert_eq!(r.status_code, 500);
    assert_eq!(r.status_message, "boom");
    // Our own axon's refusal (wrong receiver: the axon is Alice, we sign for Charlie).
    let axon = echo_axon("//Alice").await;
    let r = d
        .call(
            &AxonTarget::new("127.0.0.1", axon.addr.port(), key("//Charlie").ss58()),
            EchoSynapse::new("x"),
            Duration::from_secs(2),
        )
        .await;
    assert_eq!(r.status_code, 401);
    assert!(r.failed_verification());
    assert!(
        r.status_message.starts_with("Not Verified with error: Request is addressed to hotkey"),
        "{}",
        r.status_message
    );
    assert_eq!(r.axon.status_code, Some(401));
}

#[tokio::test]
async fn fan_out_keeps_input_order() {
    let axons = [echo_axon("//Alice").await, echo_axon("//Charlie").await, echo_axon("//Dave").await];
    let mut targets: Vec<AxonTarget> = axons
        .iter()
        .zip(["//Alice", "//Charlie", "//Dave"])
        .map(|(a, uri)| AxonTarget::new("127.0.0.1", a.addr.port(), key(uri).ss58()))
        .collect();
    // A dead one in the middle.
    targets.insert(1, AxonTarget::new("127.0.0.1", free_port(), ALICE));
    let d = dendrite(DendriteAuth::V10);
    let same = d.forward_many(&targets, &EchoSynapse::new("all"), Duration::from_secs(5)).await;
    let codes: Vec<u16> = same.iter().map(|r| r.status_code).collect();
    assert_eq!(codes, vec![200, 503, 200, 200]);
    assert!(same.iter().filter(|r| r.is_success()).all(|r| r.synapse.result.as_deref() == Some("all")));
    let each: Vec<_> =
        targets.iter().enumerate().map(|(i, t)| (t.clone(), EchoSynapse::new(format!("q{i}")))).collect();
    let answers = d.call_each(each, Duration::from_secs(5)).await;
    for (i, a) in answers.iter().enumerate() {
        if i == 1 {
            assert_eq!(a.status_code, 503);
            assert_eq!(a.synapse.result, None);
        } else {
            assert_eq!(a.synapse.result.as_deref(), Some(format!("q{i}").as_str()), "{}", a.status_message);
        }
    }
}

#[tokio::test]
async fn round_trip_v10_and_btauth() {
    let axon = echo_axon("//Alice").await;
    let target = AxonTarget::new("127.0.0.1", axon.addr.port(), ALICE);
    for auth in [DendriteAuth::V10, DendriteAuth::BtAuth] {
        let d = dendrite(auth);
        let r = d.call(&target, EchoSynapse::new("plain"), Duration::from_secs(5)).await;
        assert_eq!(r.status_code, 200, "{auth:?}: {}", r.status_message);
        assert_eq!(r.status_message, "Success");
        assert_eq!(r.synapse.result.as_deref(), Some("plain"));
        assert!(r.axon.process_time.is_some());
        let hashed = EchoHashedRoute(EchoHashed::new("it's \"quoted\" ünïcode"));
        let r = d.call(&target, hashed, Duration::from_secs(5)).await;
        assert_eq!(r.status_code, 200, "{auth:?}: {}", r.status_message);
        assert_eq!(r.synapse.0.result.as_deref(), Some("it's \"quoted\" ünïcode"));
    }
    axon.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_requests_in_flight() {
    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    struct Nap {
        ms: u64,
    }
    impl orchestra_proto::wire::Synapse for Nap {
        const NAME: &'static str = "Nap";
    }
    let axon = Axon::new(AxonConfig::default(), key("//Alice"))
        .unwrap()
        .attach(|_ctx, n: Nap| async move {
            tokio::time::sleep(Duration::from_millis(n.ms)).await;
            Ok(n)
        })
        .unwrap();
    let axon = Running::start(axon).await;
    let target = AxonTarget::new("127.0.0.1", axon.addr.port(), ALICE);
    let d = dendrite(DendriteAuth::V10);
    let call = tokio::spawn(async move { d.call(&target, Nap { ms: 500 }, Duration::from_secs(5)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    axon.stop().await;
    let r = call.await.unwrap();
    assert_eq!(r.status_code, 200, "{}", r.status_message);
}

/// A hostile axon cannot make the dendrite buffer a huge answer, nor get its raw error body
/// republished as the status message.
#[tokio::test]
async fn oversized_answers_are_cut_and_error_bodies_are_not_copied() {
    let d = Dendrite::new(key("//Bob"), DendriteConfig { max_response_bytes: 1024, ..DendriteConfig::local() })
        .expect("dendrite");
    let t = Duration::from_secs(2);
    let port = canned(b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\ncontent-type: application/json\r\n\r\n").await;
    let r = d.call(&AxonTarget::new("127.0.0.1", port, ALICE), EchoSynapse::new("x"), t).await;
    assert_eq!(r.status_code, 422);
    assert!(r.status_message.contains("exceeds the 1024-byte limit"), "{}", r.status_message);
    let port = canned(b"HTTP/1.1 500 Oops\r\ncontent-length: 27\r\n\r\nSECRET internal stack trace").await;
    let r = d.call(&AxonTarget::new("127.0.0.1", port, ALICE), EchoSynapse::new("x"), t).await;
    assert_eq!(r.status_code, 500);
    assert!(!r.status_message.contains("SECRET"), "{}", r.status_message);
    assert_eq!(r.status_message, "HTTP 500, 27 bytes");
    // Without --net.allow_private an axon on loopback (a metagraph entry anyone can write) is
    // not called at all.
    let strict = Dendrite::new(key("//Bob"), DendriteConfig::default()).expect("dendrite");
    let r = strict.call(&AxonTarget::new("127.0.0.1", port, ALICE), EchoSynapse::new("x"), t).await;
    assert_eq!(r.status_code, 503);
    assert!(r.status_message.contains("loopback"), "{}", r.status_message);
}
