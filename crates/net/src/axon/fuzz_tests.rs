//! Property tests of the axon's request handling (header parsing, claim checks, body reading
//! and parsing) on arbitrary and mutated requests, straight through `dispatch`: it never panics,
//! answers with one of the statuses of the module's table in the axon's own format, and a
//! tampered request is never served as if it were the signed one.
//!
//! Bounded for the normal test run (`PROPTEST_CASES`, default below, raises it; see
//! docs/threat-model.md for the long run).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request};
use orchestra_keys::Keypair;
use orchestra_proto::wire::{Envelope, SDK_VERSION_AS_INT, TerminalInfo, dendrite_message, request_header_pairs};
use proptest::prelude::*;

use super::{Axon, AxonConfig, Shared, dispatch};
use crate::echo::EchoHashed;
use crate::metagraph::BlacklistPolicy;

/// Statuses the axon may answer with for a request its echo handler would serve.
const NAMED: &[u16] = &[200, 400, 401, 403, 404, 405, 408, 413, 429, 503];

fn cases(default: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    ProptestConfig { cases: n, ..ProptestConfig::default() }
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    shared: Arc<Shared>,
    alice: String,
    bob: Keypair,
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let alice = Keypair::from_uri("//Alice").unwrap();
    let cfg = AxonConfig {
        policy: BlacklistPolicy::allow_all(),
        rate_limit: None,
        max_body_bytes: 16 * 1024,
        serve_metrics: true,
        ..AxonConfig::default()
    };
    let axon =
        Axon::new(cfg, alice.clone()).unwrap().attach(|_ctx, s: EchoHashed| async move { Ok(s.answer()) }).unwrap();
    Fixture {
        rt,
        shared: Arc::new(axon.shared),
        alice: alice.ss58().to_string(),
        bob: Keypair::from_uri("//Bob").unwrap(),
    }
}

/// What the axon answered: status, its status header, the JSON body.
struct Answer {
    status: u16,
    status_header: Option<String>,
    json: serde_json::Value,
}

fn run(f: &Fixture, method: &str, path: &str, headers: &[(String, String)], body: Vec<u8>) -> Option<Answer> {
    let mut b = Request::builder().method(method).uri(path);
    for (n, v) in headers {
        let (Ok(n), Ok(v)) = (HeaderName::from_bytes(n.as_bytes()), HeaderValue::from_bytes(v.as_bytes())) else {
            continue;
        };
        b = b.header(n, v);
    }
    let req = b.body(Body::from(body)).ok()?;
    let remote: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let shared = f.shared.clone();
    f.rt.block_on(async move {
        let resp = dispatch(shared, remote, req).await;
        let status = resp.status().as_u16();
        let status_header =
            resp.headers().get("bt_header_axon_status_code").and_then(|v| v.to_str().ok()).map(str::to_string);
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Some(Answer { status, status_header, json })
    })
}

/// A correctly signed v10 `EchoSynapse` (hashed query) from Bob to Alice.
fn signed(f: &Fixture, query: &str, nonce: u64) -> (Vec<(String, String)>, Vec<u8>) {
    let mut env = Envelope::new(EchoHashed::new(query));
    let uuid = uuid::Uuid::new_v4().to_string();
    env.dendrite = TerminalInfo {
        version: Some(SDK_VERSION_AS_INT),
        nonce: Some(nonce),
        uuid: Some(uuid.clone()),
        hotkey: Some(f.bob.ss58().to_string()),
        ..TerminalInfo::default()
    };
    env.axon = TerminalInfo { hotkey: Some(f.alice.clone()), ..TerminalInfo::default() };
    let hash = env.body_hash().unwrap();
    let msg = dendrite_message(nonce, f.bob.ss58(), &f.alice, &uuid, &hash);
    env.dendrite.signature = Some(f.bob.sign_hex(msg.as_bytes()));
    (request_header_pairs(&env, &hash), serde_json::to_vec(&env).unwrap())
}

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "bt_header_dendrite_nonce", "bt_header_dendrite_hotkey", "bt_header_dendrite_signature",
            "bt_header_dendrite_uuid", "bt_header_dendrite_version", "bt_header_axon_hotkey",
            "computed_body_hash", "timeout", "name", "content-length", "transfer-encoding",
            "x-bittensor-version", "x-bittensor-hotkey", "x-bittensor-nonce", "x-bittensor-signature",
            "x-bittensor-receiver", "x-bittensor-crypto", "bt_header_input_obj_query",
        ]).prop_map(str::to_string),
        1 => "[a-z_-]{1,24}",
    ]
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        prop::sample::select(vec!["1", "", "-1", "NaN", "inf", "1e308", "0x", "0.000001", "600", "sr25519"])
            .prop_map(str::to_string),
        "(0x)?[0-9a-f]{0,130}",
        "[1-9A-HJ-NP-Za-km-z]{40,50}",
        "[ -~]{0,80}",
    ]
}

fn method() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["/EchoSynapse", "/Synapse", "/metrics", "/", "/EchoSynapse/x", "/echosynapse"])
            .prop_map(str::to_string),
        "/[A-Za-z0-9_%.-]{0,40}",
    ]
}

fn check_answer(a: &Answer) -> Result<(), TestCaseError> {
    prop_assert!(NAMED.contains(&a.status), "status {} is not one of the named ones", a.status);
    if a.status != 200 {
        let expected = a.status.to_string();
        prop_assert_eq!(a.status_header.as_deref(), Some(expected.as_str()));
        prop_assert!(a.json.get("message").and_then(|m| m.as_str()).is_some(), "error without a message: {}", a.json);
    }
    Ok(())
}

#[test]
fn arbitrary_requests_get_a_named_refusal() {
    let f = fixture();
    proptest!(cases(256), |(
        m in method(),
        p in path(),
        headers in prop::collection::vec((header_name(), header_value()), 0..16),
        body in prop_oneof![any::<Vec<u8>>(), "[ -~]{0,200}".prop_map(String::into_bytes)],
    )| {
        if let Some(a) = run(&f, m, &p, &headers, body) {
            check_answer(&a)?;
            // Nothing unsigned is ever served.
            prop_assert!(a.status != 200 || p == "/metrics", "an unsigned request was served: {p}");
        }
    });
}

#[test]
fn mutated_signed_requests_are_refused_or_served_unchanged() {
    let f = fixture();
    proptest!(cases(128), |(
        query in "[ -~]{0,40}",
        mutation in 0u8..4,
        at in any::<prop::sample::Index>(),
        value in header_value(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    )| {
        let (mut headers, mut body) = signed(&f, &query, crate::now_ns());
        match mutation {
            0 => { let i = at.index(headers.len()); headers[i].1 = value; }
            1 => { let i = at.index(headers.len()); headers.remove(i); }
            2 => for (at, b) in flips { let i = at.index(body.len()); body[i] = b; },
            _ => {}
        }
        let Some(a) = run(&f, "POST", "/EchoSynapse", &headers, body) else { return Ok(()) };
        check_answer(&a)?;
        if a.status == 200 {
            // Served only with the signed query: tampering never changes what is answered.
            prop_assert_eq!(a.json.get("result").and_then(|r| r.as_str()), Some(query.as_str()));
        }
        if mutation == 3 {
            prop_assert_eq!(a.status, 200, "an untouched signed request is served: {}", a.json);
        }
    });
}
