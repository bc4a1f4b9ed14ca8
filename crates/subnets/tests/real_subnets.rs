//! The seed entries of the real subnets (SN22 Desearch, SN13 Data Universe, SN64 Chutes)
//! against their public APIs' recorded shapes, replayed by a local server (no internet here):
//! for each fixture in `tests/fixtures/real/` (request and response shapes, with the URL, file
//! and commit they were read from), the generic adapter, driven only by the seed entry and the
//! operator's credential (as in `scripts/deploy/subnet-credentials.toml`), must send the
//! recorded method, path, auth header and body, and parse the recorded response into a
//! receipted, schema-valid output with no drift.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use orchestra_proto::canonical::{request_digest, response_digest};
use orchestra_proto::ledger::{LedgerEntry, TransportSpec};
use orchestra_proto::receipt::{CallStatus, Transport};
use orchestra_subnets::{Adapters, Credentials, schema};
use parking_lot::Mutex;
use serde_json::Value;

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../ledger-store/seed/real-subnets.json");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/real");
const DEPLOY_CREDENTIALS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/deploy/subnet-credentials.toml");

/// What the replaying server saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: HeaderMap,
    body: Value,
}

struct Replay {
    seen: Mutex<Vec<Seen>>,
    status: u16,
    body: Value,
}

async fn replay(
    State(r): State<Arc<Replay>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, axum::Json<Value>) {
    r.seen.lock().push(Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    (StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK), axum::Json(r.body.clone()))
}

/// `https://host/path` → `http://addr/path`.
fn local(url: &str, addr: &str) -> String {
    let rest = url.split_once("://").map(|x| x.1).unwrap_or(url);
    let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
    format!("http://{addr}{path}")
}

/// The operator's example credential file with test secrets and without host bindings (the
/// replaying server is not the real host).
fn credentials() -> Credentials {
    let text = std::fs::read_to_string(DEPLOY_CREDENTIALS).expect("deploy credentials example");
    let local: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("host"))
        .map(|l| if l.trim_start().starts_with("env") { "value = \"test-key\"" } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    Credentials::from_toml(&local).expect("credentials")
}

#[tokio::test]
async fn the_real_subnet_adapters_send_the_recorded_requests_and_parse_the_recorded_responses() {
    let seed: Vec<LedgerEntry> = serde_json::from_str(&std::fs::read_to_string(SEED).expect("seed")).expect("entries");
    let mut files: Vec<_> = std::fs::read_dir(FIXTURES).expect("fixtures").map(|e| e.expect("entry").path()).collect();
    files.sort();
    assert_eq!(files.len(), 3, "one fixture per real subnet");
    let mut covered = Vec::new();
    for file in files {
        let fx: Value = serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("fixture json");
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let netuid = fx["netuid"].as_u64().expect("netuid") as u16;
        for k in ["request", "response"] {
            let p = fx["provenance"][k].as_str().unwrap_or_default();
            assert!(p.contains('@') || p.contains("docs/"), "{name}: the {k} provenance names a file and commit: {p}");
        }
        let seeded = seed.iter().find(|e| e.netuid == netuid).unwrap_or_else(|| panic!("{name}: no seed entry"));
        assert!(seeded.description.contains(&format!("fixtures/real/{name}")), "{name}: the entry names its fixture");
        schema::validate(&seeded.input_schema, &seeded.fixture, "probe fixture").expect("the probe fixture is valid");

        // A local server replays the recorded response; the entry points at it, same path.
        let state = Arc::new(Replay {
            seen: Mutex::new(Vec::new()),
            status: fx["response"]["status"].as_u64().unwrap_or(200) as u16,
            body: fx["response"]["body"].clone(),
        });
        let app = axum::Router::new().fallback(replay).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let mut entry = seeded.clone();
        let endpoint = match &mut entry.transports[0] {
            TransportSpec::HttpJson { url, .. } => {
                *url = local(url, &addr);
                url.clone()
            }
            TransportSpec::OpenaiChat { base_url, .. } => {
                *base_url = local(base_url, &addr);
                format!("{base_url}/chat/completions")
            }
            other => panic!("{name}: unexpected transport {other:?}"),
        };

        let adapters = Adapters::with_guard(orchestra_net::GuardConfig::local())
            .expect("adapters")
            .with_credentials(credentials());
        let out = adapters.call(&entry, &fx["input"], "fixture", Duration::from_secs(5)).await;

        // The request, as recorded.
        let seen = state.seen.lock().clone();
        assert_eq!(seen.len(), 1, "{name}: one call");
        let req = &seen[0];
        let want = &fx["request"];
        assert_eq!(req.method, want["method"].as_str().expect("method"), "{name}");
        assert_eq!(req.path, want["path"].as_str().expect("path"), "{name}");
        assert_eq!(req.body, want["body"], "{name}: body");
        let auth = &want["auth_header"];
        let got = req.headers.get(auth["name"].as_str().expect("header")).and_then(|v| v.to_str().ok());
        assert_eq!(got, auth["value"].as_str(), "{name}: auth header");
        let ct = req.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(ct.starts_with("application/json"), "{name}: {ct}");

        // The response, parsed into a receipted output that matches the entry's schema.
        let body = &fx["response"]["body"];
        let output = out.output.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(output, body, "{name}");
        assert!(out.drift.is_empty(), "{name}: the output schema describes the recorded shape: {:?}", out.drift);
        schema::validate(&entry.output_schema, body, "response").expect("the recorded response is valid");
        let r = out.receipt.as_ref().expect("receipt");
        assert_eq!((r.netuid, r.status.clone()), (netuid, CallStatus::Ok), "{name}");
        assert_eq!(r.endpoint, endpoint, "{name}");
        let kind = if netuid == 64 { Transport::OpenaiChat } else { Transport::HttpJson };
        assert_eq!(r.transport, kind, "{name}");
        assert_eq!(r.request_digest, request_digest(&want["body"]).expect("digest"), "{name}");
        assert_eq!(r.response_digest, response_digest(body).expect("digest"), "{name}");
        let ev = out.evidence.as_ref().expect("evidence");
        assert_eq!((&ev.request, &ev.response), (&want["body"], body), "{name}");
        covered.push(netuid);
    }
    covered.sort_unstable();
    assert_eq!(covered, [13, 22, 64]);
}

/// Without the operator's credential nothing is sent; the entry alone never names a secret.
#[tokio::test]
async fn no_operator_credential_sends_nothing() {
    let seed: Vec<LedgerEntry> = serde_json::from_str(&std::fs::read_to_string(SEED).expect("seed")).expect("entries");
    let adapters = Adapters::with_guard(orchestra_net::GuardConfig::local()).expect("adapters");
    for e in &seed {
        let out = adapters.call(e, &e.fixture, "probe", Duration::from_secs(2)).await;
        assert!(out.receipt.is_none(), "netuid {}", e.netuid);
        assert!(
            matches!(out.output, Err(orchestra_subnets::SubnetError::MissingSecret(_))),
            "netuid {}: {:?}",
            e.netuid,
            out.output
        );
    }
}
