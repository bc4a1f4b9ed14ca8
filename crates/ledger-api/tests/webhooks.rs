//! Webhooks end to end: registration, signed deliveries to a local receiver, retries through
//! an outage with every event delivered once by event id, the dead-letter state, deletion, and
//! the SSRF guard at registration and at delivery time.

mod common;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{entry, receiver, receiver_on, start, test_config, wait_for};
use orchestra_ledger_api::views::{WebhookCreated, WebhookPayload, WebhookView};
use orchestra_ledger_api::webhook::{ATTEMPT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER};
use orchestra_ledger_api::{ErrorBody, verify_signature};
use orchestra_ledger_store::{ChangeKind, DeliveryState, Webhook, now_ms};
use orchestra_proto::ledger::{EntryStatus, LedgerEntry};
use serde_json::json;

fn seed() -> Vec<LedgerEntry> {
    vec![
        entry(1, &["web_search"], EntryStatus::Verified, Some(0.9)),
        entry(2, &["scrape"], EntryStatus::Verified, None),
    ]
}

async fn register(s: &common::Server, body: serde_json::Value) -> reqwest::Response {
    s.http.post(s.url("/v1/webhooks")).bearer_auth(&s.keys.production).json(&body).send().await.expect("request")
}

fn bump(s: &common::Server, netuid: u16, kind: ChangeKind) -> u64 {
    let mut e = s.store.entry(netuid).expect("get").expect("present");
    e.description = format!("{} again", e.description);
    s.upsert(e, kind)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_receiver_gets_signed_events_it_subscribed_to() {
    let mut cfg = test_config();
    cfg.allow_private_webhooks = true;
    let mut s = start(cfg, seed()).await;
    let r = receiver().await;
    let resp = register(
        &s,
        json!({"url": format!("http://{}/hook", r.addr), "netuids": [1], "kinds": ["schema_changed", "entry_updated"]}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let created: WebhookCreated = resp.json().await.expect("json");
    assert!(created.secret.starts_with("whsec_") && created.id.starts_with("wh_"));
    s.start_worker();

    let seq = bump(&s, 1, ChangeKind::SchemaChanged);
    bump(&s, 2, ChangeKind::SchemaChanged); // other netuid: not subscribed
    bump(&s, 1, ChangeKind::MetricsUpdated); // other kind: not subscribed
    let hits = r.hits.clone();
    assert!(wait_for(Duration::from_secs(5), || !hits.lock().is_empty()).await, "delivered");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = r.hits.lock().clone();
    assert_eq!(got.len(), 1, "only the matching event");
    let hit = &got[0];
    let event_id = hit.headers[EVENT_ID_HEADER].to_str().expect("ascii");
    let sig = hit.headers[SIGNATURE_HEADER].to_str().expect("ascii");
    assert!(sig.starts_with("t=") && sig.contains(",v1="), "{sig}");
    verify_signature(&created.secret, sig, event_id, &hit.body, now_ms() / 1000, 300).expect("signature verifies");
    assert!(verify_signature("whsec_wrong", sig, event_id, &hit.body, now_ms() / 1000, 300).is_err());
    let payload: WebhookPayload = serde_json::from_slice(&hit.body).expect("payload");
    assert_eq!(payload.id, event_id);
    assert_eq!(
        (payload.event.seq, payload.event.netuid, payload.event.kind),
        (seq, Some(1), ChangeKind::SchemaChanged)
    );
    assert_eq!(hit.headers[ATTEMPT_HEADER], "1");

    // The owner sees it with its counts; another key does not; delete removes it.
    let view: WebhookView = s
        .http
        .get(s.url(&format!("/v1/webhooks/{}", created.id)))
        .bearer_auth(&s.keys.production)
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert_eq!((view.deliveries.delivered, view.deliveries.pending, view.deliveries.dead), (1, 0, 0));
    let other = s
        .http
        .get(s.url(&format!("/v1/webhooks/{}", created.id)))
        .bearer_auth(&s.keys.enterprise)
        .send()
        .await
        .expect("req");
    assert_eq!(other.status(), 404);
    let del = s
        .http
        .delete(s.url(&format!("/v1/webhooks/{}", created.id)))
        .bearer_auth(&s.keys.production)
        .send()
        .await
        .expect("req");
    assert_eq!(del.status(), 204);
    let gone = s
        .http
        .get(s.url(&format!("/v1/webhooks/{}", created.id)))
        .bearer_auth(&s.keys.production)
        .send()
        .await
        .expect("req");
    assert_eq!(gone.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_down_then_back_gets_every_event_exactly_once() {
    let mut cfg = test_config();
    cfg.allow_private_webhooks = true;
    cfg.webhook.max_attempts = 100;
    let mut s = start(cfg, seed()).await;
    // Reserve a port, then close it: the receiver is "down" (connection refused).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let resp = register(&s, json!({"url": format!("http://127.0.0.1:{port}/hook")})).await;
    assert_eq!(resp.status(), 201);
    s.start_worker();
    let mut expected = Vec::new();
    for i in 0..6 {
        expected.push(bump(&s, 1 + (i % 2), ChangeKind::EntryUpdated));
    }
    // Several failed rounds while it is down.
    let store = s.store.clone();
    assert!(
        wait_for(Duration::from_secs(5), || {
            store.deliveries().map(|ds| ds.iter().filter(|d| d.attempts >= 2).count() >= 3).unwrap_or(false)
        })
        .await,
        "retries happen while the receiver is down"
    );
    assert!(store.deliveries().expect("outbox").iter().all(|d| d.state == DeliveryState::Pending));

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("rebind the receiver's port");
    let r = receiver_on(listener).await;
    let hits = r.hits.clone();
    assert!(wait_for(Duration::from_secs(10), || hits.lock().len() >= expected.len()).await, "all delivered");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut seqs = Vec::new();
    for h in r.hits.lock().iter() {
        let p: WebhookPayload = serde_json::from_slice(&h.body).expect("payload");
        *by_id.entry(p.id).or_default() += 1;
        seqs.push(p.event.seq);
    }
    assert!(by_id.values().all(|n| *n == 1), "no event twice: {by_id:?}");
    seqs.sort_unstable();
    assert_eq!(seqs, expected, "every event");
    let ds = store.deliveries().expect("outbox");
    assert!(ds.iter().all(|d| d.state == DeliveryState::Delivered && d.last_error.is_none()));
    assert!(ds.iter().any(|d| d.attempts > 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_receiver_is_dead_lettered_after_max_attempts() {
    let mut cfg = test_config();
    cfg.allow_private_webhooks = true;
    cfg.webhook.max_attempts = 3;
    cfg.webhook.backoff_base = Duration::from_millis(20);
    let mut s = start(cfg, seed()).await;
    let r = receiver().await;
    r.status.store(500, Ordering::SeqCst);
    let created: WebhookCreated =
        register(&s, json!({"url": format!("http://{}/hook", r.addr)})).await.json().await.expect("json");
    s.start_worker();
    bump(&s, 1, ChangeKind::EntryUpdated);
    let store = s.store.clone();
    assert!(
        wait_for(Duration::from_secs(5), || {
            store.deliveries().map(|ds| ds.iter().any(|d| d.state == DeliveryState::Dead)).unwrap_or(false)
        })
        .await
    );
    let d = store.deliveries().expect("outbox").pop().expect("one");
    assert_eq!((d.attempts, d.state), (3, DeliveryState::Dead));
    assert_eq!(d.last_error.as_deref(), Some("HTTP 500"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let attempts: Vec<String> =
        r.hits.lock().iter().map(|h| h.headers[ATTEMPT_HEADER].to_str().unwrap_or("?").to_string()).collect();
    assert_eq!(attempts, vec!["1", "2", "3"], "no attempt after the dead letter");
    let view: WebhookView = s
        .http
        .get(s.url(&format!("/v1/webhooks/{}", created.id)))
        .bearer_auth(&s.keys.production)
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert_eq!(view.deliveries.dead, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssrf_guard_refuses_private_targets_at_registration_and_delivery() {
    let mut cfg = test_config();
    cfg.webhook.max_attempts = 2;
    cfg.webhook.backoff_base = Duration::from_millis(10);
    let mut s = start(cfg, seed()).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://192.168.0.10/hook",
        "http://[::1]:8080/hook",
        "http://0.0.0.0/hook",
        "http://2130706433/hook",
        "http://localhost:9/hook",
    ] {
        let resp = register(&s, json!({"url": url})).await;
        let status = resp.status().as_u16();
        let body: ErrorBody = resp.json().await.expect("json");
        assert_eq!((status, body.code.as_str()), (400, "webhook_target_refused"), "{url}: {}", body.error);
        assert!(body.error.contains("allow-private-webhooks"), "{}", body.error);
    }
    for url in ["ftp://example.com/x", "not a url", "http:///nohost"] {
        let resp = register(&s, json!({"url": url})).await;
        let body: ErrorBody = resp.json().await.expect("json");
        assert_eq!(body.code, "bad_webhook_url", "{url}");
    }
    assert!(s.store.webhooks().expect("hooks").is_empty(), "nothing registered");

    // A private target that got into the store anyway (say, registered while private targets
    // were allowed) is still refused when delivering.
    let r = receiver().await;
    s.store
        .put_webhook(&Webhook {
            id: "wh_sneaky".into(),
            url: format!("http://{}/hook", r.addr),
            secret: "s".into(),
            netuids: vec![],
            kinds: vec![],
            owner: "nobody".into(),
            active: true,
            created_ms: 0,
        })
        .expect("put");
    s.start_worker();
    bump(&s, 1, ChangeKind::EntryUpdated);
    let store = s.store.clone();
    assert!(
        wait_for(Duration::from_secs(5), || {
            store.deliveries().map(|ds| ds.iter().any(|d| d.state == DeliveryState::Dead)).unwrap_or(false)
        })
        .await
    );
    let d = store.deliveries().expect("outbox").pop().expect("one");
    assert!(d.last_error.as_deref().is_some_and(|e| e.contains("loopback")), "{:?}", d.last_error);
    assert!(r.hits.lock().is_empty(), "the private receiver was never called");
}

/// A receiver behind a private CA: delivered over https when the Ledger API trusts the CA
/// (`--tls.ca-file`: `WebhookConfig::ca_file`), never without it (the delivery fails on the
/// certificate and is retried, then dead-lettered).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_receiver_with_a_private_ca_needs_the_ca_file() {
    let ca = orchestra_net::testing::TestCa::new();
    let dir = tempfile::tempdir().expect("tmp");
    let ca_file = ca.write_pem(dir.path());
    for trusted in [true, false] {
        let mut cfg = test_config();
        cfg.allow_private_webhooks = true;
        cfg.webhook.max_attempts = 2;
        cfg.webhook.backoff_base = Duration::from_millis(20);
        if trusted {
            cfg.webhook.ca_file = Some(ca_file.clone());
        }
        let mut s = start(cfg, seed()).await;
        let r = receiver().await;
        let https = ca.proxy(r.addr).await;
        let resp = register(&s, json!({"url": format!("https://localhost:{}/hook", https.port())})).await;
        assert_eq!(resp.status(), 201);
        let created: WebhookCreated = resp.json().await.expect("json");
        s.start_worker();
        bump(&s, 1, ChangeKind::EntryUpdated);
        let store = s.store.clone();
        let want = if trusted { DeliveryState::Delivered } else { DeliveryState::Dead };
        assert!(
            wait_for(Duration::from_secs(10), || {
                store.deliveries().map(|ds| ds.iter().any(|d| d.state == want)).unwrap_or(false)
            })
            .await,
            "trusted={trusted}: {:?}",
            store.deliveries()
        );
        let hits = r.hits.lock().clone();
        if trusted {
            assert_eq!(hits.len(), 1);
            let h = &hits[0];
            let event_id = h.headers[EVENT_ID_HEADER].to_str().expect("ascii");
            let sig = h.headers[SIGNATURE_HEADER].to_str().expect("ascii");
            verify_signature(&created.secret, sig, event_id, &h.body, now_ms() / 1000, 300).expect("signed");
        } else {
            assert!(hits.is_empty(), "nothing reaches a receiver whose certificate is not trusted");
            let d = store.deliveries().expect("outbox").pop().expect("one");
            assert!(
                d.last_error.as_deref().is_some_and(|e| e.to_lowercase().contains("certificate")),
                "{:?}",
                d.last_error
            );
        }
    }
}
