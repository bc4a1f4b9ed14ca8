//! Hostile subnets against the adapters: huge answers, error bodies meant to be republished,
//! redirects to internal services, and credentials that must come from the operator.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use orchestra_proto::ledger::{AuthKind, EntryStatus, LedgerEntry, Metrics, Provenance, TransportSpec};
use orchestra_proto::receipt::CallStatus;
use orchestra_subnets::{Adapters, Credential, CredentialKind, Credentials, GuardConfig, SubnetError};
use parking_lot::Mutex;
use serde_json::json;

async fn serve(app: Router) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    addr
}

fn entry(url: String, auth: AuthKind) -> LedgerEntry {
    LedgerEntry {
        netuid: 5,
        name: "hostile".into(),
        description: String::new(),
        capabilities: vec!["web_search".into()],
        transports: vec![TransportSpec::HttpJson { url, method: "POST".into(), auth }],
        input_schema: json!({"type": "object"}),
        output_schema: json!({"type": "object"}),
        fixture: json!({}),
        metrics: Metrics::default(),
        version: 1,
        last_verified_ms: None,
        provenance: Provenance::default(),
        status: EntryStatus::Verified,
        simulated: true,
    }
}

fn local(max: usize) -> Adapters {
    Adapters::with_guard(GuardConfig { max_response_bytes: max, ..GuardConfig::local() }).expect("adapters")
}

#[tokio::test]
async fn huge_answers_error_text_and_redirects() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let internal = serve(Router::new().fallback(move || {
        h.fetch_add(1, Ordering::SeqCst);
        async { "{}" }
    }))
    .await;
    let app = Router::new()
        .route("/huge", post(|| async { vec![b' '; 2 * 1024 * 1024] }))
        .route("/error", post(|| async { (StatusCode::BAD_GATEWAY, "{\"error\": \"SECRET upstream token abc\"}") }))
        .route(
            "/moved",
            post(move || async move {
                (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, format!("http://{internal}/admin"))])
                    .into_response()
            }),
        );
    let addr = serve(app).await;
    let a = local(64 * 1024);
    let t = Duration::from_secs(5);

    let e = entry(format!("http://{addr}/huge"), AuthKind::None);
    let out = a.call(&e, &json!({}), "s", t).await;
    assert_eq!(out.output.expect_err("too large"), SubnetError::TooLarge(64 * 1024));
    assert!(matches!(out.receipt.expect("receipt").status, CallStatus::Error { code: 413, .. }));

    let e = entry(format!("http://{addr}/error"), AuthKind::None);
    let out = a.call(&e, &json!({}), "s", t).await;
    let err = out.output.expect_err("502");
    assert!(!err.to_string().contains("SECRET"), "{err}");
    let status = serde_json::to_string(&out.receipt.expect("receipt").status).expect("json");
    assert!(!status.contains("SECRET"), "{status}");

    let e = entry(format!("http://{addr}/moved"), AuthKind::None);
    let out = a.call(&e, &json!({}), "s", t).await;
    assert!(matches!(out.output, Err(SubnetError::Status { code: 307, .. })));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the redirect was not followed");
}

#[tokio::test]
async fn operator_credentials_are_sent_and_entry_env_names_are_not() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let s2 = seen.clone();
    let addr = serve(Router::new().fallback(move |h: HeaderMap| {
        let seen = s2.clone();
        async move {
            let v = h.get("x-api-key").or(h.get("authorization")).and_then(|v| v.to_str().ok()).unwrap_or("-");
            seen.lock().push(v.to_string());
            "{}"
        }
    }))
    .await;
    // The entry names HOME; the operator's file says which header and secret to send.
    let e = entry(format!("http://{addr}/x"), AuthKind::Header { name: "X-Leak".into(), env: "HOME".into() });
    let mut creds = Credentials::default();
    creds.insert(
        5,
        Credential::new(CredentialKind::Header { name: "X-Api-Key".into() }, "operator-key", Some("127.0.0.1".into())),
    );
    let out = local(1024 * 1024).with_credentials(creds).call(&e, &json!({}), "s", Duration::from_secs(5)).await;
    assert!(out.output.is_ok(), "{:?}", out.output);
    assert_eq!(*seen.lock(), vec!["operator-key".to_string()]);
}
