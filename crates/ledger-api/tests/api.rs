//! The Ledger API end to end over HTTP: tiers and keys, limits and their headers, bad input,
//! find ordering, history, the change feed as JSON and SSE, the root and its proofs, the
//! OpenAPI document, and the client.

mod common;

use std::time::Duration;

use common::{entry, start, test_config, wait_for};
use futures::StreamExt;
use orchestra_ledger_api::views::{ChangesPage, EntryProofView, FindResult, RootView, SubnetList, SubnetView};
use orchestra_ledger_api::{ErrorBody, LedgerClient, ROUTES, revoke_key};
use orchestra_ledger_store::{ChangeKind, Tier};
use orchestra_proto::ledger::{EntryStatus, LedgerEntry};
use serde_json::Value;

fn seed() -> Vec<LedgerEntry> {
    vec![
        entry(1, &["web_search"], EntryStatus::Verified, Some(0.9)),
        entry(2, &["web_search", "scrape"], EntryStatus::Verified, Some(0.99)),
        entry(3, &["web_search"], EntryStatus::Candidate, Some(1.0)),
        entry(4, &["web_search"], EntryStatus::Deprecated, Some(1.0)),
        entry(5, &["llm_chat"], EntryStatus::Verified, None),
    ]
}

async fn error_of(resp: reqwest::Response) -> (u16, reqwest::header::HeaderMap, ErrorBody) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body: ErrorBody = resp.json().await.expect("error body is JSON {error, code}");
    (status, headers, body)
}

fn has_rate_headers(h: &reqwest::header::HeaderMap) -> bool {
    ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"].iter().all(|n| h.contains_key(*n))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiers_see_their_views_and_schemas_are_hidden_from_free() {
    let s = start(test_config(), seed()).await;

    // Anonymous and free keys: summaries only, no schemas or transports.
    for key in [None, Some(s.keys.free.as_str())] {
        let resp = s.get("/v1/subnets", key).await;
        assert_eq!(resp.status(), 200);
        assert!(has_rate_headers(resp.headers()));
        let raw: Value = resp.json().await.expect("json");
        let first = &raw["subnets"][0];
        assert_eq!(first["name"], "sim-1");
        assert!(first.get("input_schema").is_none() && first.get("transports").is_none(), "{first}");
        let one: Value = s.get("/v1/subnets/2", key).await.json().await.expect("json");
        assert!(one.get("output_schema").is_none(), "{one}");
        assert_eq!(one["description"], "simulated subnet 2");
    }

    // Developer: full entries and schemas, with quota headers.
    let resp = s.get("/v1/subnets", Some(&s.keys.developer)).await;
    assert_eq!(resp.status(), 200);
    assert!(has_rate_headers(resp.headers()));
    assert!(resp.headers().contains_key("x-quota-remaining"));
    let list: SubnetList = resp.json().await.expect("list");
    assert_eq!(list.count, 5);
    assert!(list.subnets.iter().all(|v| v.full().is_some()));
    let schema: Value = s.get("/v1/subnets/1/schema", Some(&s.keys.developer)).await.json().await.expect("json");
    assert_eq!(schema["input_schema"]["type"], "object");
    assert_eq!(schema["fixture"]["prompt"], "gpu pricing");

    // Schema without a key: 401 naming the tier; with a free key: 403 naming the tier.
    let (status, headers, body) = error_of(s.get("/v1/subnets/1/schema", None).await).await;
    assert_eq!((status, body.code.as_str()), (401, "key_required"));
    assert_eq!(body.required_tier, Some(Tier::Developer));
    assert!(body.error.contains("developer") && body.error.contains("Authorization"), "{}", body.error);
    assert!(has_rate_headers(&headers));
    let (status, headers, body) = error_of(s.get("/v1/subnets/1/schema", Some(&s.keys.free)).await).await;
    assert_eq!((status, body.code.as_str()), (403, "tier_too_low"));
    assert_eq!(body.required_tier, Some(Tier::Developer));
    assert!(body.error.contains("developer") && body.error.contains("free"), "{}", body.error);
    assert!(has_rate_headers(&headers));

    // X-Api-Key works like Bearer; enterprise sees everything with its own per-second limit.
    let resp =
        s.http.get(s.url("/v1/subnets/1/schema")).header("x-api-key", &s.keys.enterprise).send().await.expect("req");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-ratelimit-limit"], "500");
    assert_eq!(resp.headers()["x-quota-limit"], "1000000");

    // Webhooks and SSE need production.
    let (status, _, body) = error_of(
        s.http
            .post(s.url("/v1/webhooks"))
            .bearer_auth(&s.keys.developer)
            .json(&serde_json::json!({"url": "http://example.com/h"}))
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!((status, body.code.as_str(), body.required_tier), (403, "tier_too_low", Some(Tier::Production)));
    let (status, _, body) = error_of(
        s.http
            .get(s.url("/v1/changes"))
            .bearer_auth(&s.keys.developer)
            .header("accept", "text/event-stream")
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!((status, body.code.as_str(), body.required_tier), (403, "tier_too_low", Some(Tier::Production)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_revoked_and_malformed_keys_get_401() {
    let s = start(test_config(), seed()).await;
    let (status, headers, body) = error_of(s.get("/v1/subnets", Some("olk_not_a_key")).await).await;
    assert_eq!((status, body.code.as_str()), (401, "unknown_key"));
    assert!(body.error.contains("keys create"), "{}", body.error);
    assert_eq!(headers["www-authenticate"], "Bearer");
    assert!(has_rate_headers(&headers), "unknown keys are throttled per IP and say so");

    let resp = s.http.get(s.url("/v1/subnets")).header("authorization", "Basic abc").send().await.expect("req");
    let (status, _, body) = error_of(resp).await;
    assert_eq!((status, body.code.as_str()), (401, "bad_authorization"));

    // Works, then is revoked: refused once the key cache (50 ms in tests) expires.
    assert_eq!(s.get("/v1/subnets", Some(&s.keys.production)).await.status(), 200);
    let key =
        s.store.api_keys().expect("keys").into_iter().find(|k| k.tier == Tier::Production).expect("production key");
    assert!(revoke_key(&s.store, &key.id).expect("revoke"));
    tokio::time::sleep(Duration::from_millis(120)).await;
    let (status, _, body) = error_of(s.get("/v1/subnets", Some(&s.keys.production)).await).await;
    assert_eq!((status, body.code.as_str()), (401, "revoked_key"));
    assert!(body.error.contains(&key.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_quotas_answer_429_with_retry_after() {
    let mut cfg = test_config();
    cfg.free_per_minute = 3;
    cfg.developer_monthly_quota = 2;
    cfg.usage_flush_interval = Duration::from_millis(100);
    let s = start(cfg, seed()).await;

    let mut remaining = Vec::new();
    for _ in 0..3 {
        let resp = s.get("/v1/subnets", None).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-ratelimit-limit"], "3");
        remaining.push(resp.headers()["x-ratelimit-remaining"].to_str().expect("ascii").to_string());
    }
    assert_eq!(remaining, vec!["2", "1", "0"]);
    let (status, headers, body) = error_of(s.get("/v1/subnets", None).await).await;
    assert_eq!((status, body.code.as_str()), (429, "rate_limited"));
    let retry: u64 = headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    assert!(body.error.contains("per minute"), "{}", body.error);

    // Developer quota: two successful lookups, then 429 until the month ends.
    for left in ["1", "0"] {
        let resp = s.get("/v1/subnets/1", Some(&s.keys.developer)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-quota-remaining"], left);
    }
    let (status, headers, body) = error_of(s.get("/v1/subnets/1", Some(&s.keys.developer)).await).await;
    assert_eq!((status, body.code.as_str()), (429, "quota_exceeded"));
    assert!(headers.contains_key("retry-after") && has_rate_headers(&headers));
    assert_eq!(headers["x-quota-remaining"], "0");

    // Usage reaches the store.
    let dev = s.store.api_keys().expect("keys").into_iter().find(|k| k.tier == Tier::Developer).expect("dev");
    let period = orchestra_ledger_api::auth::month_of(orchestra_ledger_store::now_ms());
    let store = s.store.clone();
    assert!(wait_for(Duration::from_secs(3), || store.usage(&dev.id, &period).unwrap_or(0) == 2).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_400_and_changes_nothing() {
    let s = start(test_config(), seed()).await;
    let before = s.store.last_seq();
    let dev = Some(s.keys.developer.as_str());
    for (path, code) in [
        ("/v1/subnets/abc", "bad_netuid"),
        ("/v1/subnets/70000", "bad_netuid"),
        ("/v1/subnets/-1/schema", "bad_netuid"),
        ("/v1/changes?since=x", "bad_since"),
        ("/v1/changes?since=-3", "bad_since"),
        ("/v1/changes?since=999", "bad_since"),
        ("/v1/changes?limit=0", "bad_limit"),
        ("/v1/find", "bad_capability"),
        ("/v1/find?capability=Web%20Search", "bad_capability"),
        ("/v1/subnets/1/history?version=v2", "bad_version"),
        ("/v1/root?netuid=x", "bad_netuid"),
    ] {
        let (status, _, body) = error_of(s.get(path, dev).await).await;
        assert_eq!((status, body.code.as_str()), (400, code), "{path}: {}", body.error);
    }
    let (status, _, body) = error_of(s.get("/v1/subnets/99", dev).await).await;
    assert_eq!((status, body.code.as_str()), (404, "not_found"));
    assert!(body.error.contains("99"));
    let resp = s
        .http
        .post(s.url("/v1/webhooks"))
        .bearer_auth(&s.keys.production)
        .header("content-type", "application/json")
        .body("{\"url\": 5}")
        .send()
        .await
        .expect("req");
    let (status, _, body) = error_of(resp).await;
    assert_eq!((status, body.code.as_str()), (400, "bad_request"));
    assert_eq!(s.store.last_seq(), before);
    assert!(s.store.webhooks().expect("hooks").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_ranks_best_first_and_leaves_out_deprecated() {
    let s = start(test_config(), seed()).await;
    let r: FindResult =
        s.get("/v1/find?capability=web_search", Some(&s.keys.developer)).await.json().await.expect("json");
    let order: Vec<u16> = r.subnets.iter().map(SubnetView::netuid).collect();
    assert_eq!(order, vec![2, 1, 3], "verified by reliability, then candidates; deprecated out");
    let free: FindResult = s.get("/v1/find?capability=web_search", None).await.json().await.expect("json");
    assert_eq!(free.subnets.iter().map(SubnetView::netuid).collect::<Vec<_>>(), vec![2, 1, 3]);
    assert!(free.subnets.iter().all(|v| v.full().is_none()));
    let none: FindResult = s.get("/v1/find?capability=teleport", None).await.json().await.expect("json");
    assert_eq!(none.count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_versions_and_snapshot_follows_writes() {
    let s = start(test_config(), seed()).await;
    let mut e = s.store.entry(1).expect("get").expect("present");
    e.description = "now with metadata".into();
    let seq = s.upsert(e, ChangeKind::EntryUpdated);
    let api = s.api.clone();
    assert!(wait_for(Duration::from_secs(3), || api.snapshot_seq() >= seq).await, "snapshot catches up");
    let one: Value = s.get("/v1/subnets/1", None).await.json().await.expect("json");
    assert_eq!((one["description"].as_str(), one["version"].as_u64()), (Some("now with metadata"), Some(2)));
    let h: Value = s.get("/v1/subnets/1/history", Some(&s.keys.developer)).await.json().await.expect("json");
    let versions: Vec<u64> =
        h["versions"].as_array().expect("array").iter().filter_map(|v| v["version"].as_u64()).collect();
    assert_eq!(versions, vec![1, 2]);
    let v1: LedgerEntry =
        s.get("/v1/subnets/1/history?version=1", Some(&s.keys.developer)).await.json().await.expect("json");
    assert_eq!(v1.description, "simulated subnet 1");
    assert_eq!(s.get("/v1/subnets/1/history?version=9", Some(&s.keys.developer)).await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_as_json_pages_and_live_sse() {
    let s = start(test_config(), seed()).await;
    let page: ChangesPage =
        s.get("/v1/changes?since=0&limit=2", Some(&s.keys.developer)).await.json().await.expect("json");
    assert_eq!(page.events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!((page.next_since, page.last_seq), (2, 5));
    let page: ChangesPage = s.get("/v1/changes?since=2", Some(&s.keys.developer)).await.json().await.expect("json");
    assert_eq!(page.events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4, 5]);

    // A live subscriber gets a change committed after it subscribed; a replaying one gets the
    // history first, then the same change.
    let client = LedgerClient::new(&s.base, Some(s.keys.production.clone())).expect("client");
    let mut live = client.watch(None).await.expect("watch");
    let mut replay = client.watch(Some(3)).await.expect("watch");
    let mut e = s.store.entry(5).expect("get").expect("present");
    e.capabilities.push("summarize".into());
    let seq = s.upsert(e, ChangeKind::CapabilityAdded);
    let got =
        tokio::time::timeout(Duration::from_secs(5), live.next()).await.expect("in time").expect("event").expect("ok");
    assert_eq!((got.seq, got.kind, got.netuid), (seq, ChangeKind::CapabilityAdded, Some(5)));
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let ev = tokio::time::timeout(Duration::from_secs(5), replay.next())
            .await
            .expect("in time")
            .expect("event")
            .expect("ok");
        seen.push(ev.seq);
    }
    assert_eq!(seen, vec![4, 5, seq]);

    // Last-Event-ID resumes after the given event.
    let resp = s
        .http
        .get(s.url("/v1/changes"))
        .bearer_auth(&s.keys.production)
        .header("accept", "text/event-stream")
        .header("last-event-id", "5")
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.bytes_stream();
    let mut text = String::new();
    while !text.contains(&format!("id: {seq}\n")) {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .expect("in time")
            .expect("chunk")
            .expect("ok");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!text.contains("id: 5\n") && text.contains("event: capability_added"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_and_every_proof_verify() {
    let s = start(test_config(), seed()).await;
    let root: RootView = s.get("/v1/root", None).await.json().await.expect("json");
    assert_eq!(root.root, s.store.root().expect("root"));
    assert_eq!(root.leaf_count, 5);
    for item in &root.entries {
        let e: LedgerEntry =
            s.get(&format!("/v1/subnets/{}", item.netuid), Some(&s.keys.developer)).await.json().await.expect("entry");
        let leaf = e.leaf().expect("leaf");
        assert_eq!(leaf, item.leaf);
        assert!(item.proof.verify(&leaf, &root.root), "proof of {} verifies", item.netuid);
    }
    let one: EntryProofView = s.get("/v1/root?netuid=3", Some(&s.keys.developer)).await.json().await.expect("json");
    let entry = one.entry.clone().expect("developer sees the entry");
    assert!(one.proof.verify(&entry.leaf().expect("leaf"), &root.root));
    assert!(one.verify_against(&root.root));
    let mut forged = one.clone();
    if let Some(e) = forged.entry.as_mut() {
        e.description = "forged".into();
    }
    assert!(!forged.verify_against(&root.root), "a changed entry no longer verifies");
    let free: EntryProofView = s.get("/v1/root?netuid=3", None).await.json().await.expect("json");
    assert!(free.entry.is_none() && free.proof.verify(&free.leaf, &root.root));
    assert_eq!(s.get("/v1/root?netuid=77", None).await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_every_route_and_ops_endpoints_answer() {
    let s = start(test_config(), seed()).await;
    let doc: Value = s.get("/openapi.json", None).await.json().await.expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    for (method, path) in ROUTES {
        let op = &doc["paths"][*path][method.to_lowercase()];
        assert!(op.is_object(), "{method} {path} is missing from /openapi.json");
    }
    assert!(doc["components"]["schemas"]["LedgerEntry"].is_object());
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    // And every documented route is served (not 404/405).
    for (method, path) in ROUTES {
        let url = s.url(&path.replace("{netuid}", "1").replace("{id}", "wh_missing"));
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let status = s.http.request(m, url).bearer_auth(&s.keys.production).send().await.expect("req").status();
        assert!(status != 404 || path.contains("{id}"), "{method} {path}: {status}");
        assert_ne!(status, 405, "{method} {path}");
    }
    let health: Value = s.get("/healthz", None).await.json().await.expect("json");
    assert_eq!((health["status"].as_str(), health["entries"].as_u64()), (Some("ok"), Some(5)));
    let metrics = s.get("/metrics", None).await.text().await.expect("text");
    assert!(metrics.contains("ledger_api_requests_total"), "{metrics}");
    assert!(metrics.contains("route=\"/v1/subnets/{netuid}\""), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reads_everything_and_reports_errors() {
    let s = start(test_config(), seed()).await;
    let dev = LedgerClient::new(&s.base, Some(s.keys.developer.clone())).expect("client");
    let found = dev.find("web_search").await.expect("find");
    assert_eq!(found.subnets.first().map(SubnetView::netuid), Some(2));
    assert!(dev.get(2).await.expect("get").full().is_some());
    assert_eq!(dev.schema(2).await.expect("schema").output_schema["type"], "object");
    assert_eq!(dev.history(2).await.expect("history").versions.len(), 1);
    assert_eq!(dev.changes(0, Some(10)).await.expect("changes").events.len(), 5);
    let root = dev.root().await.expect("root");
    assert!(dev.proof(2).await.expect("proof").verify_against(&root.root));
    let anon = LedgerClient::new(&s.base, None).expect("client");
    assert!(anon.get(2).await.expect("get").full().is_none());
    match anon.schema(2).await {
        Err(orchestra_ledger_api::ApiError::Remote { status: 401, code, .. }) => assert_eq!(code, "key_required"),
        other => panic!("expected 401, got {other:?}"),
    }
}
