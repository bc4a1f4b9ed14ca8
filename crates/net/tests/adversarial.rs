//! Hostile and broken requests against an in-process axon: each must be refused with the right
//! status and a clear message, and the handler must never run for it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use orchestra_net::echo::{EchoHashed, EchoSynapse};
use orchestra_net::{
    Axon, AxonConfig, BlacklistPolicy, Dendrite, DendriteConfig, MetagraphSnapshot, Peer, RateLimit, SynapseError,
    now_ns,
};
use orchestra_proto::btauth;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config() -> AxonConfig {
    AxonConfig { rate_limit: None, max_body_bytes: 64 * 1024, ..AxonConfig::default() }
}

/// An axon (//Alice) whose echo handlers count their calls.
async fn counting_axon(cfg: AxonConfig) -> (Running, Counter) {
    let calls = Counter::default();
    let (c1, c2) = (calls.clone(), calls.clone());
    let axon = Axon::new(cfg, key("//Alice"))
        .expect("axon")
        .attach(move |_ctx, s: EchoSynapse| {
            c1.bump();
            async move { Ok(s.answer()) }
        })
        .expect("attach");
    // The hashed variant under another name, to test body hashes next to the plain one.
    let axon = axon
        .attach(move |_ctx, s: HashedEcho| {
            c2.bump();
            async move { Ok(HashedEcho { result: Some(s.query.clone()), ..s }) }
        })
        .expect("attach");
    (Running::start(axon).await, calls)
}

/// `EchoHashed` under its own route name.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct HashedEcho {
    query: String,
    #[serde(default)]
    result: Option<String>,
}
impl orchestra_proto::wire::Synapse for HashedEcho {
    const NAME: &'static str = "HashedEcho";
    const REQUIRED_FIELDS: &'static [(&'static str, orchestra_proto::wire::PyType)] =
        &[("query", orchestra_proto::wire::PyType::Str)];
    const HASH_FIELDS: &'static [&'static str] = &["query"];
}

fn base(r: &Running) -> String {
    format!("http://{}", r.addr)
}

fn assert_refused(reply: &Reply, status: u16, needle: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    let msg = reply.message();
    assert!(msg.contains(needle), "message {msg:?} should contain {needle:?}");
    assert_eq!(reply.header("bt_header_axon_status_code"), Some(status.to_string().as_str()));
    assert!(reply.header("bt_header_axon_status_message").is_some());
    assert_eq!(reply.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn valid_request_is_served_with_sdk_headers() {
    let (axon, calls) = counting_axon(config()).await;
    let c = client();
    let req = RawRequest::fresh(&key("//Bob"), ALICE, EchoSynapse::new("hi"));
    let r = send(&c, &base(&axon), &req).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["result"], "hi");
    assert_eq!(r.json["axon"]["status_code"], 200);
    assert_eq!(r.json["axon"]["status_message"], "Success");
    assert!(r.json["axon"]["process_time"].as_f64().is_some());
    assert_eq!(r.header("bt_header_axon_status_code"), Some("200"));
    assert_eq!(r.header("bt_header_axon_status_message"), Some("Success"));
    assert!(r.header("bt_header_axon_process_time").is_some());
    assert_eq!(r.header("name"), Some("EchoSynapse"));
    assert_eq!(r.header("timeout"), Some("12.0"));
    assert_eq!(r.header("computed_body_hash"), Some(orchestra_proto::body_hash::EMPTY_BODY_HASH));
    assert_eq!(r.header("bt_header_dendrite_hotkey"), Some(BOB));
    assert_eq!(r.header("bt_header_axon_hotkey"), Some(ALICE));
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn replayed_bytes_are_refused() {
    let (axon, calls) = counting_axon(config()).await;
    let c = client();
    let req = RawRequest::fresh(&key("//Bob"), ALICE, EchoSynapse::new("once"));
    assert_eq!(send(&c, &base(&axon), &req).await.status, 200);
    let r = send(&c, &base(&axon), &req).await;
    assert_refused(&r, 401, "replayed request");
    assert!(r.message().starts_with("Not Verified with error: "));
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn tampered_signature_is_refused() {
    let (axon, calls) = counting_axon(config()).await;
    let mut req = RawRequest::fresh(&key("//Bob"), ALICE, EchoSynapse::new("x"));
    let sig = req.get("bt_header_dendrite_signature").unwrap().to_string();
    let flipped = format!("{}{}", &sig[..10], if &sig[10..11] == "0" { "1" } else { "0" }) + &sig[11..];
    req.set("bt_header_dendrite_signature", &flipped);
    assert_refused(&send(&client(), &base(&axon), &req).await, 401, "Signature mismatch with");
    // Not hex at all.
    req.set("bt_header_dendrite_signature", "0xzz");
    assert_refused(&send(&client(), &base(&axon), &req).await, 401, "signature is not 0x + 128 hex digits");
    assert_eq!(calls.get(), 0);
}

#[tokio::test]
async fn wrong_receiving_hotkey_is_refused() {
    let (axon, calls) = counting_axon(config()).await;
    let c = client();
    // Signed for Bob's axon and saying so.
    let req = RawRequest::fresh(&key("//Charlie"), BOB, EchoSynapse::new("x"));
    assert_refused(&send(&c, &base(&axon), &req).await, 401, "addressed to hotkey");
    // Signed for Bob but claiming to be for us: the signature (over our hotkey) fails.
    let mut req = RawRequest::fresh(&key("//Charlie"), BOB, EchoSynapse::new("x"));
    req.set("bt_header_axon_hotkey", ALICE);
    assert_refused(&send(&c, &base(&axon), &req).await, 401, "Signature mismatch");
    // No receiver header at all: still bound by the signature.
    let mut req = RawRequest::fresh(&key("//Charlie"), BOB, EchoSynapse::new("x"));
    req.remove("bt_header_axon_hotkey");
    assert_refused(&send(&c, &base(&axon), &req).await, 401, "Signature mismatch");
    assert_eq!(calls.get(), 0);
}

#[tokio::test]
async fn stale_and_future_nonces_are_refused() {
    let (axon, calls) = counting_axon(config()).await;
    let c = client();
    let bob = key("//Bob");
    let old = RawRequest::signed(&bob, ALICE, EchoSynapse::new("x"), now_ns() - 20_000_000_000, "u-old");
    assert_refused(&send(&c, &base(&axon), &old).await, 401, "Nonce is too old: acceptable delta is 16.00 seconds");
    // A huge timeout header does not stretch the window past the cap.
    let mut old = RawRequest::signed(&bob, ALICE, EchoSynapse::new("x"), now_ns() - 20_000_000_000, "u-old2");
    old.set("timeout", "3600.0");
    assert_refused(&send(&c, &base(&axon), &old).await, 401, "Nonce is too old");
    let future = RawRequest::signed(&bob, ALICE, EchoSynapse::new("x"), now_ns() + 60_000_000_000, "u-new");
    assert_refused(&send(&c, &base(&axon), &future).await, 401, "in the future");
    // Inside the window (10 s old with the default 12 s timeout): accepted.
    let ok = RawRequest::signed(&bob, ALICE, EchoSynapse::new("x"), now_ns() - 10_000_000_000, "u-ok");
    assert_eq!(send(&c, &base(&axon), &ok).await.status, 200);
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let (axon, calls) = counting_axon(config()).await;
    let big = "x".repeat(70 * 1024);
    let req = RawRequest::fresh(&key("//Bob"), ALICE, EchoSynapse::new(big.clone()));
    assert_refused(&send(&client(), &base(&axon), &req).await, 413, "larger than the limit of 65536 bytes");

    // Chunked, so no content-length announces it: refused while reading.
    let req = RawRequest::fresh(&key("//Bob"), ALICE, EchoSynapse::new(big));
    let mut s = tokio::net::TcpStream::connect(axon.addr).await.unwrap();
    let mut head = String::from("POST /EchoSynapse HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n");
    for (n, v) in &req.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    for chunk in req.body.chunks(8192) {
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await.is_err() {
            break;
        }
        let _ = s.write_all(chunk).await;
        let _ = s.write_all(b"\r\n").await;
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    // Read the answer's head; the server may keep the connection open after it.
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert_eq!(calls.get(), 0);
}

#[tokio::test]
async fn missing_and_unparseable_headers_are_refused() {
    let (axon, calls) = counting_axon(config()).await;
    let c = client();
    let good = RawRequest::fresh(&key("//Bob"), ALICE, EchoSynapse::new("x"));

    let bare = RawRequest { name: "EchoSynapse".into(), headers: vec![], body: good.body.clone() };
    assert_refused(&send(&c, &base(&axon), &bare).await, 401, "No SS58 formatted address or public key provided.");

    let mut r = good.clone();
    r.remove("bt_header_dendrite_nonce");
    assert_refused(&send(&c, &base(&axon), &r).await, 401, "Missing Nonce");

    let mut r = good.clone();
    r.remove("bt_header_dendrite_signature");
    assert_refused(&send(&c, &base(&axon), &r).await, 401, "only accepts signed requests");

    let mut r = good.clone();
    r.remove("computed_body_hash");
    assert_refused(&send(&c, &base(&axon), &r).await, 401, "Missing computed_body_hash");

    let mut r = good.clone();
    r.set("bt_header_dendrite_nonce", "12abc");
    assert_refused(&send(&c, &base(&axon), &r).await, 400, "Improperly formatted request");

    let mut r = good.clone();
    r.set("timeout", "soon");
    assert_refused(&send(&c, &base(&axon), &r).await, 400, "Improperly formatted request");

    let mut r = good.clone();
    r.set("bt_header_dendrite_hotkey", "not-an-address");
    assert_refused(&send(&c, &base(&axon), &r).await, 401, "cannot use hotkey");

    let mut r = good.clone();
    r.set("x-bittensor-version", "1");
    assert_refused(&send(&c, &base(&axon), &r).await, 400, "Improperly formatted request");

    // The untouched request still works (no nonce was burnt by the failures).
    assert_eq!(send(&c, &base(&axon), &good).await.status, 200);
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn garbage_bodies_are_refused() {
    let (axon, calls) = counting_axon(config()).await;
    let c = client();
    let mut r = RawRequest::fresh(&key("//Bob"), ALICE, EchoSynapse::new("x"));
    r.body = b"{not json".to_vec();
    assert_refused(&send(&c, &base(&axon), &r).await, 400, "Could not parse the body as EchoSynapse");
    // Valid JSON without the required field.
    let mut r = RawRequest::fresh(&key("//Bob"), ALICE, EchoSynapse::new("x"));
    r.body = br#"{"result": "y"}"#.to_vec();
    assert_refused(&send(&c, &base(&axon), &r).await, 400, "missing field `query`");
    assert_eq!(calls.get(), 0);
}

#[tokio::test]
async fn body_hash_mismatch_is_refused() {
    let (axon, calls) = counting_axon(config()).await;
    let c = client();
    let good = RawRequest::fresh(&key("//Bob"), ALICE, HashedEcho { query: "signed".into(), result: None });
    let mut bad = good.clone();
    bad.body = String::from_utf8(good.body.clone()).unwrap().replace("\"signed\"", "\"swapped\"").into_bytes();
    assert_refused(&send(&c, &base(&axon), &bad).await, 401, "body hash mismatch");
    // Plain EchoSynapse hashes nothing: a header claiming a different constant is refused too.
    let mut r = RawRequest::fresh(&key("//Bob"), ALICE, EchoSynapse::new("x"));
    r.set("computed_body_hash", &"0".repeat(64));
    assert_refused(&send(&c, &base(&axon), &r).await, 401, "Signature mismatch");
    assert_eq!(calls.get(), 0);
    let r = send(&c, &base(&axon), &good).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["result"], "signed");
    assert_eq!(calls.get(), 1);
    let _ = EchoHashed::new("unused");
}

#[tokio::test]
async fn unknown_synapse_and_bad_method() {
    let (axon, calls) = counting_axon(config()).await;
    let c = client();
    let mut r = RawRequest::fresh(&key("//Bob"), ALICE, EchoSynapse::new("x"));
    r.name = "NoSuchSynapse".into();
    let reply = send(&c, &base(&axon), &r).await;
    assert_refused(&reply, 404, "");
    assert_eq!(
        reply.message(),
        "Synapse name 'NoSuchSynapse' not found. Available synapses ['Synapse', 'EchoSynapse', 'HashedEcho']"
    );
    assert_eq!(reply.header("name"), Some("Synapse"));
    let put = c.put(format!("{}/EchoSynapse", base(&axon))).body("{}").send().await.unwrap();
    assert_eq!(put.status().as_u16(), 405);
    assert_eq!(calls.get(), 0);
}

#[tokio::test]
async fn blacklist_policy_refuses_unregistered_and_unpermitted() {
    let calls = Counter::default();
    let c1 = calls.clone();
    let cfg = AxonConfig { policy: BlacklistPolicy::validators(100.0), ..config() };
    let axon = Axon::new(cfg, key("//Alice"))
        .unwrap()
        .attach(move |ctx, s: EchoSynapse| {
            c1.bump();
            assert_eq!(ctx.peer.map(|p| p.uid), Some(1));
            async move { Ok(s.answer()) }
        })
        .unwrap()
        .with_blacklist(|_hk, _peer, synapse| if synapse == "Synapse" { Err("no pings".into()) } else { Ok(()) });
    let mut snap = MetagraphSnapshot::default();
    snap.by_hotkey.insert(BOB.into(), Peer { uid: 1, stake: 500.0, validator_permit: true });
    let charlie = key("//Charlie");
    snap.by_hotkey.insert(charlie.ss58().into(), Peer { uid: 2, stake: 500.0, validator_permit: false });
    let dave = key("//Dave");
    snap.by_hotkey.insert(dave.ss58().into(), Peer { uid: 3, stake: 5.0, validator_permit: true });
    axon.metagraph().store(snap);
    let axon = Running::start(axon).await;
    let c = client();

    let eve = key("//Eve");
    let r = send(&c, &base(&axon), &RawRequest::fresh(&eve, ALICE, EchoSynapse::new("x"))).await;
    assert_refused(&r, 403, "Forbidden. Key is blacklisted: hotkey");
    assert!(r.message().contains("is not registered"));
    let r = send(&c, &base(&axon), &RawRequest::fresh(&charlie, ALICE, EchoSynapse::new("x"))).await;
    assert_refused(&r, 403, "no validator permit");
    let r = send(&c, &base(&axon), &RawRequest::fresh(&dave, ALICE, EchoSynapse::new("x"))).await;
    assert_refused(&r, 403, "below the minimum");
    let mut ping = RawRequest::fresh(&key("//Bob"), ALICE, orchestra_net::axon::Ping {});
    ping.name = "Synapse".into();
    assert_refused(&send(&c, &base(&axon), &ping).await, 403, "no pings");
    assert_eq!(calls.get(), 0);
    let r = send(&c, &base(&axon), &RawRequest::fresh(&key("//Bob"), ALICE, EchoSynapse::new("x"))).await;
    assert_eq!(r.status, 200);
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn rate_limit_per_hotkey() {
    let cfg = AxonConfig { rate_limit: Some(RateLimit { per_second: 1, burst: 2 }), ..config() };
    let (axon, calls) = counting_axon(cfg).await;
    let c = client();
    let bob = key("//Bob");
    // Forged requests claiming Bob's hotkey fail the signature before the limiter: they do not
    // spend Bob's budget.
    for _ in 0..3 {
        let mut forged = RawRequest::fresh(&key("//Mallory"), ALICE, EchoSynapse::new("x"));
        forged.set("bt_header_dendrite_hotkey", BOB);
        assert_refused(&send(&c, &base(&axon), &forged).await, 401, "Signature mismatch");
    }
    for _ in 0..2 {
        assert_eq!(send(&c, &base(&axon), &RawRequest::fresh(&bob, ALICE, EchoSynapse::new("x"))).await.status, 200);
    }
    let r = send(&c, &base(&axon), &RawRequest::fresh(&bob, ALICE, EchoSynapse::new("x"))).await;
    assert_refused(&r, 429, "Too many requests from hotkey");
    assert_eq!(calls.get(), 2);
    // Another hotkey has its own budget.
    let r = send(&c, &base(&axon), &RawRequest::fresh(&key("//Charlie"), ALICE, EchoSynapse::new("x"))).await;
    assert_eq!(r.status, 200);
    assert_eq!(calls.get(), 3);
}

#[tokio::test]
async fn reordered_nonces_from_one_dendrite_are_accepted() {
    let (axon, calls) = counting_axon(config()).await;
    let c = client();
    let bob = key("//Bob");
    // Signed in order, delivered newest first: the SDK's strictly-increasing rule would refuse
    // all but the first; the replay cache accepts each once.
    let t = now_ns();
    let reqs: Vec<RawRequest> = (0..20)
        .map(|i| RawRequest::signed(&bob, ALICE, EchoSynapse::new(format!("q{i}")), t + i, "one-uuid"))
        .collect();
    for r in reqs.iter().rev() {
        let reply = send(&c, &base(&axon), r).await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    for r in &reqs {
        assert_eq!(send(&c, &base(&axon), r).await.status, 401);
    }
    assert_eq!(calls.get(), 20);

    // And truly concurrent calls from one dendrite (one uuid) all pass.
    let d = Dendrite::new(bob, DendriteConfig::local()).unwrap();
    let target = orchestra_net::AxonTarget::new("127.0.0.1", axon.addr.port(), ALICE);
    let calls_in: Vec<_> = (0..200).map(|i| (target.clone(), EchoSynapse::new(format!("c{i}")))).collect();
    let answers = d.call_each(calls_in, Duration::from_secs(10)).await;
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a.status_code, 200, "{}", a.status_message);
        assert_eq!(a.synapse.result.as_deref(), Some(format!("c{i}").as_str()));
    }
    assert_eq!(calls.get(), 220);
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Slow {
    ms: u64,
}
impl orchestra_proto::wire::Synapse for Slow {
    const NAME: &'static str = "Slow";
}

#[tokio::test]
async fn overload_gives_503_and_408() {
    let cfg = AxonConfig { max_in_flight: 1, max_queue: 1, ..config() };
    let calls = Counter::default();
    let c1 = calls.clone();
    let axon = Axon::new(cfg, key("//Alice"))
        .unwrap()
        .attach(move |_ctx, s: Slow| {
            c1.bump();
            async move {
                tokio::time::sleep(Duration::from_millis(s.ms)).await;
                Ok(s)
            }
        })
        .unwrap();
    let axon = Running::start(axon).await;
    let b = base(&axon);
    let bob = key("//Bob");
    let hold = RawRequest::fresh(&bob, ALICE, Slow { ms: 1500 });
    let c = client();
    let (b1, c1) = (b.clone(), c.clone());
    let holder = tokio::spawn(async move { send(&c1, &b1, &hold).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Queued with a 0.5 s timeout: gives up with 408.
    let mut waiter = RawRequest::fresh(&bob, ALICE, Slow { ms: 0 });
    waiter.set("timeout", "0.5");
    let (b2, c2) = (b.clone(), c.clone());
    let waiter = tokio::spawn(async move { send(&c2, &b2, &waiter).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Queue full: 503.
    let r = send(&c, &b, &RawRequest::fresh(&bob, ALICE, Slow { ms: 0 })).await;
    assert_refused(&r, 503, "overloaded");
    let w = waiter.await.unwrap();
    assert_refused(&w, 408, "Response timeout after: 0.5s");
    assert_eq!(holder.await.unwrap().status, 200);
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn handler_errors_and_panics() {
    let axon = Axon::new(config(), key("//Alice"))
        .unwrap()
        .attach(|_ctx, s: EchoSynapse| async move {
            match s.query.as_str() {
                "panic" => panic!("boom"),
                "refuse" => Err(SynapseError::new(422, "cannot echo that")),
                _ => Ok(s.answer()),
            }
        })
        .unwrap();
    let axon = Running::start(axon).await;
    let c = client();
    let bob = key("//Bob");
    let r = send(&c, &base(&axon), &RawRequest::fresh(&bob, ALICE, EchoSynapse::new("refuse"))).await;
    assert_refused(&r, 422, "cannot echo that");
    let r = send(&c, &base(&axon), &RawRequest::fresh(&bob, ALICE, EchoSynapse::new("panic"))).await;
    assert_refused(&r, 500, "Internal Server Error");
    let r = send(&c, &base(&axon), &RawRequest::fresh(&bob, ALICE, EchoSynapse::new("fine"))).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn ping_route_and_metrics() {
    let cfg = AxonConfig { serve_metrics: true, ..config() };
    let (axon, _calls) = counting_axon(cfg).await;
    let c = client();
    let mut ping = RawRequest::fresh(&key("//Bob"), ALICE, orchestra_net::axon::Ping {});
    ping.name = "Synapse".into();
    let r = send(&c, &base(&axon), &ping).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("name"), Some("Synapse"));
    // GET works like POST (the SDK allows both); an empty body is an empty synapse.
    let ping = RawRequest::fresh(&key("//Bob"), ALICE, orchestra_net::axon::Ping {});
    let mut b = c.get(format!("{}/Synapse", base(&axon)));
    for (n, v) in &ping.headers {
        b = b.header(n, v);
    }
    assert_eq!(b.send().await.unwrap().status().as_u16(), 200);
    let _ = send(&c, &base(&axon), &RawRequest::fresh(&key("//Bob"), BOB, EchoSynapse::new("x"))).await;
    let text = c.get(format!("{}/metrics", base(&axon))).send().await.unwrap().text().await.unwrap();
    assert!(text.contains(r#"orchestra_axon_requests_total{synapse="Synapse",status="200"} 2"#), "{text}");
    assert!(text.contains(r#"orchestra_axon_requests_total{synapse="EchoSynapse",status="401"} 1"#), "{text}");
    assert!(text.contains("orchestra_axon_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains("orchestra_axon_in_flight"), "{text}");
}

#[tokio::test]
async fn btauth_requests_are_checked_too() {
    let (axon, calls) = counting_axon(config()).await;
    let c = client();
    let bob = key("//Bob");
    let body = br#"{"query": "bt"}"#.to_vec();
    let sign = |body: &[u8], receiver: &str, nonce: u64| {
        let payload = btauth::payload("POST", "/EchoSynapse", body, nonce, bob.ss58(), Some(receiver));
        vec![
            ("x-bittensor-version".to_string(), "1".to_string()),
            ("x-bittensor-hotkey".to_string(), bob.ss58().to_string()),
            ("x-bittensor-nonce".to_string(), nonce.to_string()),
            ("x-bittensor-signature".to_string(), bob.sign_hex(payload.as_bytes())),
            ("x-bittensor-receiver".to_string(), receiver.to_string()),
        ]
    };
    let ok = RawRequest { name: "EchoSynapse".into(), headers: sign(&body, ALICE, now_ns()), body: body.clone() };
    let r = send(&c, &base(&axon), &ok).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["result"], "bt");
    assert_refused(&send(&c, &base(&axon), &ok).await, 401, "replayed request");
    let mut tampered = RawRequest { name: "EchoSynapse".into(), headers: sign(&body, ALICE, now_ns()), body };
    tampered.body = br#"{"query": "bT"}"#.to_vec();
    assert_refused(&send(&c, &base(&axon), &tampered).await, 401, "signature does not verify");
    let b = br#"{"query": "x"}"#.to_vec();
    let wrong = RawRequest { name: "EchoSynapse".into(), headers: sign(&b, BOB, now_ns()), body: b.clone() };
    assert_refused(&send(&c, &base(&axon), &wrong).await, 401, "signed for receiving hotkey");
    let stale =
        RawRequest { name: "EchoSynapse".into(), headers: sign(&b, ALICE, now_ns() - 11_000_000_000), body: b.clone() };
    assert_refused(&send(&c, &base(&axon), &stale).await, 401, "old");
    let mut unbound = RawRequest { name: "EchoSynapse".into(), headers: sign(&b, ALICE, now_ns()), body: b };
    unbound.remove("x-bittensor-receiver");
    assert_refused(&send(&c, &base(&axon), &unbound).await, 401, "receiver-bound");
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn a_body_completed_after_the_window_is_refused() {
    // A 1 s window, so the test is quick: headers arrive in time, the body does not. Without
    // the second check a replay could trickle its body until the original's cache entry expired.
    let cfg = AxonConfig { allowed_delta: Duration::from_secs(1), max_timeout_term: Duration::ZERO, ..config() };
    let (axon, calls) = counting_axon(cfg).await;
    let req = RawRequest::fresh(&key("//Bob"), ALICE, EchoSynapse::new("slow"));
    let mut s = tokio::net::TcpStream::connect(axon.addr).await.unwrap();
    let mut head = format!("POST /EchoSynapse HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n", req.body.len());
    for (n, v) in &req.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    s.write_all(&req.body).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&buf).contains("}") {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(text.contains("window closed"), "{text}");
    assert_eq!(calls.get(), 0);
}

/// v10 signs headers only, so a forged signature is refused before the body is read: a sender
/// that never sends its (declared) body gets its 401 at once instead of holding the
/// connection until the timeout.
#[tokio::test]
async fn a_forged_v10_signature_is_refused_before_the_body_is_read() {
    let (axon, calls) = counting_axon(config()).await;
    let mut req = RawRequest::fresh(&key("//Bob"), ALICE, EchoSynapse::new("x"));
    let forged = format!("0x{}", "00".repeat(64));
    req.set("bt_header_dendrite_signature", &forged);
    let mut s = tokio::net::TcpStream::connect(axon.addr).await.unwrap();
    let mut head =
        "POST /EchoSynapse HTTP/1.1\r\nhost: x\r\ncontent-length: 50000\r\nbt_header_timeout: 30\r\n".to_string();
    for (n, v) in &req.headers {
        if n != "bt_header_timeout" {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    let t0 = std::time::Instant::now();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&buf).contains('}') {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(t0.elapsed() < Duration::from_secs(3), "answered without waiting for the body");
    assert_eq!(calls.get(), 0);
}

/// The axon's server cuts a slow request head and a trickled body by its own timeouts, not the
/// request's (unsigned) `timeout` header: the trickled body gets the axon's 408 well before the
/// 30 s the request asked for.
#[tokio::test]
async fn slow_heads_and_trickled_bodies_are_cut_by_the_server_timeouts() {
    let server = orchestra_net::ServeLimits {
        header_read_timeout: Duration::from_millis(500),
        body_read_timeout: Duration::from_millis(500),
        ..orchestra_net::ServeLimits::default()
    };
    let (axon, calls) = counting_axon(AxonConfig { server, ..config() }).await;
    // Slowloris: the head never ends.
    let mut s = tokio::net::TcpStream::connect(axon.addr).await.unwrap();
    s.write_all(b"POST /EchoSynapse HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    let t0 = std::time::Instant::now();
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if s.write_all(b"a").await.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(t0.elapsed() < Duration::from_millis(2500), "the slow head was not cut");
    // A correctly signed request whose body trickles in.
    let req = RawRequest::fresh(&key("//Bob"), ALICE, EchoSynapse::new("slow body"));
    let mut s = tokio::net::TcpStream::connect(axon.addr).await.unwrap();
    let mut head = format!("POST /EchoSynapse HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n", req.body.len());
    for (n, v) in &req.headers {
        if n != "timeout" {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    head.push_str("timeout: 30\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&req.body[..4]).await.unwrap();
    let t0 = std::time::Instant::now();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let mut chunk = [0u8; 4096];
        loop {
            match tokio::time::timeout(Duration::from_millis(100), s.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
                Err(_) => {
                    let _ = s.write_all(b" ").await;
                }
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("bt_header_axon_status_code: 408"), "{text}");
    assert!(text.contains("Request body not received within the 0.5s timeout"), "{text}");
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert_eq!(calls.get(), 0);
}

/// `/metrics` (every caller's request counts) answers loopback peers only, unless public.
#[tokio::test]
async fn axon_metrics_are_loopback_only_unless_public() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("skipped: this machine has no non-loopback address to test from");
        return;
    };
    let c = client();
    for public in [false, true] {
        let cfg = AxonConfig { serve_metrics: true, public_metrics: public, ..config() };
        let axon = Axon::new(cfg, key("//Alice")).unwrap();
        let axon = Running::start_on(axon, "0.0.0.0:0").await;
        let port = axon.addr.port();
        let local = c.get(format!("http://127.0.0.1:{port}/metrics")).send().await.unwrap();
        assert_eq!(local.status().as_u16(), 200);
        let remote = c.get(format!("http://{}/metrics", std::net::SocketAddr::new(ip, port))).send().await.unwrap();
        let status = remote.status().as_u16();
        let text = remote.text().await.unwrap();
        if public {
            assert_eq!(status, 200, "{text}");
            assert!(text.contains("orchestra_axon_server_connections_open"), "{text}");
        } else {
            assert_eq!(status, 403, "{text}");
            assert!(text.contains("loopback"), "{text}");
        }
    }
}
