//! Hostile miners against the validator's Ledger governance and prober: secret exfiltration
//! through a proposed entry, SSRF, and remote text republished in decisions. The attacker is an
//! HTTP server on loopback that records what it receives.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use orchestra_ledger_store::governance::{self, Received};
use orchestra_ledger_store::{LedgerStore, StoreConfig};
use orchestra_net::GuardConfig;
use orchestra_proto::canonical::Digest;
use orchestra_proto::ledger::{AuthKind, EntryStatus, LedgerEntry, Metrics, Provenance, TransportSpec};
use orchestra_proto::synapses::{LedgerProposal, UpdateType};
use orchestra_subnets::Adapters;
use orchestra_validator::prober::LiveProber;
use parking_lot::Mutex;
use serde_json::{Value, json};

/// What the attacker's server saw: one line per request with its Authorization header.
#[derive(Default)]
struct Seen(Mutex<Vec<String>>);

async fn attacker(status: StatusCode, body: &'static str) -> (SocketAddr, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let s2 = seen.clone();
    let app = Router::new().fallback(post(move |headers: HeaderMap| {
        let seen = s2.clone();
        async move {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
            seen.0.lock().push(auth);
            (status, body)
        }
    }));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (addr, seen)
}

fn entry(netuid: u16, url: String, auth: AuthKind) -> LedgerEntry {
    LedgerEntry {
        netuid,
        name: format!("sn{netuid}"),
        description: String::new(),
        capabilities: vec!["web_search".into()],
        transports: vec![TransportSpec::HttpJson { url, method: "POST".into(), auth }],
        input_schema: json!({"type": "object"}),
        output_schema: json!({"type": "object", "properties": {"a": {"type": "string"}}}),
        fixture: json!({"q": "x"}),
        metrics: Metrics::default(),
        version: 0,
        last_verified_ms: None,
        provenance: Provenance::default(),
        status: EntryStatus::Candidate,
        simulated: true,
    }
}

fn proposal(netuid: u16, update_type: UpdateType, field: &str, new_value: Value) -> LedgerProposal {
    LedgerProposal {
        netuid,
        subnet: format!("sn{netuid}"),
        update_type,
        field: field.into(),
        old_value: Value::Null,
        new_value,
        // A made-up digest: no receipt behind it.
        evidence: vec![Digest([0xab; 32])],
        task_id: "made-up".into(),
        proposed_by: "ignored".into(),
    }
}

fn store() -> (tempfile::TempDir, LedgerStore) {
    let dir = tempfile::tempdir().expect("tmp");
    let s = LedgerStore::open(StoreConfig::new(dir.path())).expect("open");
    (dir, s)
}

/// The exfiltration: a new_subnet proposal whose entry points at the attacker with
/// `auth: {bearer, env: HOME}`. Refused on arrival: no probe, no request, no credit.
#[tokio::test]
async fn exfiltration_proposal_is_refused_and_sends_nothing() {
    let (addr, seen) = attacker(StatusCode::OK, "{}").await;
    let (_d, s) = store();
    let evil = entry(77, format!("http://{addr}/steal"), AuthKind::Bearer { env: "HOME".into() });
    let p = proposal(77, UpdateType::NewSubnet, "", serde_json::to_value(&evil).expect("json"));
    let err = governance::receive(&s, p, "5Attacker").expect_err("refused");
    assert!(err.to_string().contains("URLs, endpoints or credentials"), "{err}");
    assert!(s.proposals().expect("list").is_empty(), "nothing stored, so nothing is governed or credited");
    assert!(s.entry(77).expect("get").is_none());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(seen.0.lock().is_empty(), "the attacker received no request");
}

/// Defence in depth: even an entry already in the Ledger that names an env var (an old Ledger,
/// an operator mistake) makes the prober send no secret: the env name is ignored, and without
/// an operator credential for the netuid nothing is sent; without --net.allow_private the
/// loopback destination is refused before any connection.
#[tokio::test]
async fn entry_auth_never_reads_the_environment() {
    let (addr, seen) = attacker(StatusCode::OK, "{\"a\":\"x\"}").await;
    let e = entry(78, format!("http://{addr}/steal"), AuthKind::Bearer { env: "HOME".into() });

    // Local network policy, no operator credentials: refused before sending.
    let local = Adapters::with_guard(GuardConfig::local()).expect("adapters");
    let out = local.call(&e, &e.fixture, "probe", Duration::from_secs(5)).await;
    let err = out.output.expect_err("no credential");
    assert!(err.to_string().contains("--subnet.credentials"), "{err}");

    // Real-network policy: the loopback destination itself is refused.
    let strict = Adapters::new().expect("adapters");
    let e2 = entry(79, format!("http://{addr}/steal"), AuthKind::None);
    let out = strict.call(&e2, &e2.fixture, "probe", Duration::from_secs(5)).await;
    assert!(matches!(out.output, Err(orchestra_subnets::SubnetError::Refused(_))), "{:?}", out.output);

    // An operator credential bound to another host is not sent here either.
    let mut creds = orchestra_subnets::Credentials::default();
    creds.insert(
        78,
        orchestra_subnets::Credential::new(
            orchestra_subnets::CredentialKind::Bearer,
            "operator-secret",
            Some("api.example.com".into()),
        ),
    );
    let bound = Adapters::with_guard(GuardConfig::local()).expect("adapters").with_credentials(creds);
    let out = bound.call(&e, &e.fixture, "probe", Duration::from_secs(5)).await;
    assert!(matches!(out.output, Err(orchestra_subnets::SubnetError::Refused(_))), "{:?}", out.output);

    tokio::time::sleep(Duration::from_millis(50)).await;
    let got = seen.0.lock().clone();
    assert!(got.is_empty(), "no request at all, so no secret: {got:?}");
    let home = std::env::var("HOME").unwrap_or_default();
    assert!(got.iter().all(|a| home.is_empty() || !a.contains(&home)));
}

/// A subnet's error text is never published: the decision reason and the change feed carry a
/// status, not the body.
#[tokio::test]
async fn remote_error_text_is_not_republished() {
    let (addr, seen) = attacker(StatusCode::INTERNAL_SERVER_ERROR, "SECRET-BODY-TEXT <script>").await;
    let (_d, s) = store();
    s.seed(vec![entry(80, format!("http://{addr}/api"), AuthKind::None)]).expect("seed");
    let p = proposal(80, UpdateType::SchemaChange, "output_schema.b", json!({"type": "string"}));
    let Received::New(id) = governance::receive(&s, p, "5Miner").expect("receive") else { panic!("new") };
    let prober = LiveProber {
        adapters: Adapters::with_guard(GuardConfig::local()).expect("adapters"),
        timeout: Duration::from_secs(5),
    };
    let d = governance::govern(&s, &prober, &id, "5Validator").await.expect("govern");
    assert!(!d.approved);
    assert_eq!(seen.0.lock().len(), 1, "the probe did reach the subnet");
    let published = serde_json::to_string(&(&d, s.changes_since(0, 100).expect("feed"))).expect("json");
    assert!(!published.contains("SECRET-BODY-TEXT"), "{published}");
    assert!(d.reason.contains("HTTP 500"), "{}", d.reason);
}

/// A removal needs evidence like any change: dropping an optional field the fixture's answer
/// happens not to contain is refuted (it used to be approved and credited as a discovery).
#[tokio::test]
async fn removing_a_field_the_subnet_never_dropped_is_refuted() {
    let (addr, _seen) = attacker(StatusCode::OK, "{\"a\":\"x\"}").await;
    let (_d, s) = store();
    let mut e = entry(81, format!("http://{addr}/api"), AuthKind::None);
    e.output_schema = json!({"type": "object", "properties": {"a": {"type": "string"}, "extra": {"type": "string"}}});
    s.seed(vec![e]).expect("seed");
    let mut p = proposal(81, UpdateType::SchemaChange, "output_schema.properties.extra", Value::Null);
    p.old_value = json!({"type": "string"});
    let Received::New(id) = governance::receive(&s, p, "5Spammer").expect("receive") else { panic!("new") };
    let prober = LiveProber {
        adapters: Adapters::with_guard(GuardConfig::local()).expect("adapters"),
        timeout: Duration::from_secs(5),
    };
    let d = governance::govern(&s, &prober, &id, "5Validator").await.expect("govern");
    assert!(!d.approved, "{}", d.reason);
    assert!(d.credits.iter().all(|c| c.kind == orchestra_ledger_store::CreditKind::FalseProposal));
    let cur = s.entry(81).expect("get").expect("present");
    assert!(cur.output_schema["properties"].get("extra").is_some(), "the schema is unchanged");
}
