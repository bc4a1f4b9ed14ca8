//! The admin endpoint over real HTTP: the files it announces itself with, token and signature
//! authentication, refusals, and key management on a Ledger another handle holds open.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use orchestra_keys::Keypair;
use orchestra_ledger_api::admin::{
    AdminClient, AdminCredentials, AdminEndpoint, CreateKeyRequest, ENDPOINT_FILE, EndpointFile, TOKEN_FILE,
};
use orchestra_ledger_api::{ApiConfig, ApiError};
use orchestra_ledger_store::Tier;
use orchestra_proto::ledger::EntryStatus;

fn remote_code(e: ApiError) -> (u16, String) {
    match e {
        ApiError::Remote { status, code, .. } => (status, code),
        other => panic!("expected a refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoint_manages_keys_with_a_token_or_a_signature() {
    let server =
        common::start(ApiConfig::default(), vec![common::entry(7, &["search"], EntryStatus::Verified, None)]).await;
    let dir = server.store.path().to_path_buf();
    let operator = Keypair::from_uri("//Alice").unwrap();
    let endpoint = AdminEndpoint::bind("127.0.0.1:0".parse().unwrap(), &dir, vec![operator.ss58().to_string()])
        .await
        .expect("bind the admin endpoint");
    let url = endpoint.url().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let api = server.api.clone();
    let serving = tokio::spawn(async move {
        api.serve_admin(endpoint, async {
            let _ = stopped.await;
        })
        .await
    });

    // The files: the endpoint (URL, pid) and the token, readable by the owner only.
    let announced: EndpointFile = serde_json::from_slice(&std::fs::read(dir.join(ENDPOINT_FILE)).unwrap()).unwrap();
    assert_eq!(announced.url, url);
    assert_eq!(announced.pid, std::process::id());
    let mode = std::fs::metadata(dir.join(TOKEN_FILE)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the token file is private");
    let found = AdminClient::discover(&dir).unwrap().expect("discovered");
    let token = found.token.expect("the token is readable by its owner");
    assert!(token.starts_with("oladm_"));

    // Token: whoami, create (the key works on the API at once), list, revoke.
    let admin = AdminClient::new(&found.endpoint.url, AdminCredentials::Token(token.clone())).unwrap();
    assert_eq!(admin.whoami().await.unwrap().auth, "token");
    let created = admin
        .create_key(&CreateKeyRequest {
            tier: Tier::Developer,
            name: "while serving".into(),
            monthly_quota: None,
            rate_per_sec: None,
        })
        .await
        .expect("create a key through the admin endpoint");
    assert!(created.key.starts_with("olk_"));
    let r = server.get("/v1/subnets/7/schema", Some(&created.key)).await;
    assert_eq!(r.status(), 200, "the new developer key works on the API");
    let listed = admin.keys().await.unwrap();
    assert!(listed.iter().any(|k| k.id == created.info.id && k.name == "while serving"));
    let revoked = admin.revoke_key(&created.info.id).await.unwrap();
    assert!(revoked.revoked);
    assert_eq!(remote_code(admin.revoke_key("key_nope").await.unwrap_err()), (404, "not_found".into()));
    let bad = admin
        .create_key(&CreateKeyRequest {
            tier: Tier::Developer,
            name: String::new(),
            monthly_quota: Some(5),
            rate_per_sec: None,
        })
        .await
        .unwrap_err();
    assert_eq!(remote_code(bad), (400, "bad_request".into()), "quotas are for enterprise keys");
    assert_eq!(admin.entries().await.unwrap().len(), 1);

    // Signature: the authorized key works, another key does not.
    let signed = AdminClient::new(&url, AdminCredentials::Signer(Box::new(operator.clone()))).unwrap();
    let who = signed.whoami().await.unwrap();
    assert_eq!((who.auth.as_str(), who.signer.as_deref()), ("signature", Some(operator.ss58())));
    let k = signed
        .create_key(&CreateKeyRequest {
            tier: Tier::Production,
            name: "signed".into(),
            monthly_quota: None,
            rate_per_sec: None,
        })
        .await
        .expect("a signed create");
    assert_eq!(k.info.tier, Tier::Production);
    let stranger =
        AdminClient::new(&url, AdminCredentials::Signer(Box::new(Keypair::from_uri("//Mallory").unwrap()))).unwrap();
    assert_eq!(remote_code(stranger.keys().await.unwrap_err()), (401, "not_authorized".into()));

    // Refusals: a wrong token, no credentials, a replayed or tampered signature.
    let wrong = AdminClient::new(&url, AdminCredentials::Token("oladm_guess".into())).unwrap();
    assert_eq!(remote_code(wrong.keys().await.unwrap_err()), (401, "bad_admin_token".into()));
    let http = reqwest::Client::new();
    let r = http.get(format!("{url}/v1/admin/keys")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "admin_auth_required");
    assert!(body["error"].as_str().unwrap().contains("admin.token"), "the refusal says where the token is: {body}");
    let nonce = orchestra_net::now_ns();
    let payload = orchestra_proto::btauth::payload("GET", "/v1/admin/keys", b"", nonce, operator.ss58(), None);
    let headers = orchestra_proto::btauth::AuthHeaders {
        hotkey: operator.ss58().to_string(),
        nonce_ns: nonce,
        signature: operator.sign_hex(payload.as_bytes()),
        receiver: None,
    };
    let send = |path: &'static str| {
        let mut rb = http.get(format!("{url}{path}"));
        for (k, v) in headers.to_pairs() {
            rb = rb.header(k, v);
        }
        rb.send()
    };
    assert_eq!(send("/v1/admin/keys").await.unwrap().status(), 200);
    let again: serde_json::Value = send("/v1/admin/keys").await.unwrap().json().await.unwrap();
    assert_eq!(again["code"], "replayed", "a signed request is accepted once");
    let other: serde_json::Value = send("/v1/admin/entries").await.unwrap().json().await.unwrap();
    assert_eq!(other["code"], "bad_signature", "the signature covers the path");

    // Stopping removes the files, so no one is sent to a dead endpoint.
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
    assert!(!dir.join(TOKEN_FILE).exists() && !dir.join(ENDPOINT_FILE).exists());
    assert!(AdminClient::discover(&dir).unwrap().is_none());
}
