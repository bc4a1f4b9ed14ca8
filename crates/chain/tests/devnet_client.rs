//! `DevnetClient` end to end against an in-process mock of the devnet HTTP API
//! (`orchestra_chain::devnet_api`): routes, JSON shapes, request signatures, nonces, and the
//! mapping of the server's errors to the same `ChainError`s the subtensor backend produces.
//! The mock applies only the few rules the test needs; the real devnet lives in crates/devnet.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use orchestra_chain::devnet::DevnetClient;
use orchestra_chain::devnet_api::{
    API_VERSION, ApiError, ApiErrorKind, BlockResponse, CommitmentResponse, DevnetCall, ErrorResponse,
    ExtrinsicRequest, InfoResponse, UidResponse, paths,
};
use orchestra_chain::{
    AxonInfo, AxonServe, Chain, ChainError, Commitment, Hyperparams, Metagraph, NeuronInfo, TxOutcome, WeightsReveal,
    WeightsSubmission, commit_hash, netuid_index,
};
use orchestra_keys::{Keypair, PublicKey};

#[derive(Default)]
struct Mock {
    block: u64,
    nonces: HashMap<String, u64>,
    neurons: Vec<NeuronInfo>,
    commitments: HashMap<String, Commitment>,
    commits: HashMap<String, [u8; 32]>,
    last_weights: HashMap<String, u64>,
}

type Shared = Arc<Mutex<Mock>>;

fn fail(e: ApiError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap();
    (status, Json(ErrorResponse { error: e })).into_response()
}

/// The mock has one subnet, 1; anything else gets the devnet's "subnet not found" answer.
fn subnet_missing(netuid: u16) -> Option<Response> {
    (netuid != 1).then(|| fail(ApiError::new(ApiErrorKind::SubnetNotFound, "no such subnet")))
}

async fn info(State(s): State<Shared>) -> Json<InfoResponse> {
    let block = s.lock().unwrap().block;
    Json(InfoResponse { api_version: API_VERSION, block, block_time_ms: 12_000, subnets: vec![1] })
}

async fn block(State(s): State<Shared>) -> Json<BlockResponse> {
    Json(BlockResponse { block: s.lock().unwrap().block })
}

async fn hyperparams(Path(netuid): Path<u16>) -> Response {
    if let Some(r) = subnet_missing(netuid) {
        return r;
    }
    Json(Hyperparams { tempo: 360, weights_rate_limit: 1, burn: 1_000_000, ..Default::default() }).into_response()
}

async fn metagraph(State(s): State<Shared>, Path(netuid): Path<u16>) -> Response {
    if let Some(r) = subnet_missing(netuid) {
        return r;
    }
    let m = s.lock().unwrap();
    Json(Metagraph { netuid, block: m.block, neurons: m.neurons.clone() }).into_response()
}

async fn uid(State(s): State<Shared>, Path((netuid, hotkey)): Path<(u16, String)>) -> Response {
    if let Some(r) = subnet_missing(netuid) {
        return r;
    }
    let uid = s.lock().unwrap().neurons.iter().find(|n| n.hotkey == hotkey).map(|n| n.uid);
    Json(UidResponse { uid }).into_response()
}

async fn commitment(State(s): State<Shared>, Path((netuid, hotkey)): Path<(u16, String)>) -> Response {
    if let Some(r) = subnet_missing(netuid) {
        return r;
    }
    let commitment = s.lock().unwrap().commitments.get(&hotkey).cloned();
    Json(CommitmentResponse { commitment }).into_response()
}

fn subtensor(name: &str) -> Response {
    fail(ApiError::dispatch("SubtensorModule", name, format!("{name} (mock)")))
}

async fn extrinsic(State(s): State<Shared>, Json(req): Json<ExtrinsicRequest>) -> Response {
    if let Err(e) = req.verify() {
        return fail(ApiError::new(ApiErrorKind::BadSignature, e.to_string()));
    }
    let mut m = s.lock().unwrap();
    let last = m.nonces.get(&req.signer).copied().unwrap_or(0);
    if req.nonce <= last {
        return fail(ApiError {
            kind: ApiErrorKind::InvalidTransaction,
            pallet: None,
            name: Some("Stale".into()),
            message: "nonce already used".into(),
        });
    }
    m.nonces.insert(req.signer.clone(), req.nonce);
    // Applied in the next block, which exists only if the call succeeds.
    let block = m.block + 1;
    let registered = m.neurons.iter().position(|n| n.hotkey == req.signer);
    match req.call {
        DevnetCall::BurnedRegister { netuid: 1, hotkey } => {
            let uid = m.neurons.len() as u16;
            m.neurons.push(NeuronInfo { uid, hotkey, coldkey: req.signer.clone(), ..Default::default() });
        }
        DevnetCall::BurnedRegister { .. } => return subtensor("SubnetNotExists"),
        DevnetCall::Transfer { .. } => return subtensor("NotSimulatedHere"),
        _ if registered.is_none() => return subtensor("HotKeyNotRegisteredInSubNet"),
        DevnetCall::ServeAxon(a) => {
            let Some(i) = registered else { unreachable!() };
            m.neurons[i].axon = AxonInfo {
                block,
                version: a.version,
                ip: a.ip,
                port: a.port,
                ip_type: a.ip_type,
                protocol: a.protocol,
            };
        }
        DevnetCall::SetWeights { .. } => {
            if m.last_weights.get(&req.signer).is_some_and(|b| block - b < 5) {
                return subtensor("SettingWeightsTooFast");
            }
            m.last_weights.insert(req.signer.clone(), block);
        }
        DevnetCall::SetCommitment { fields, .. } => {
            m.commitments.insert(req.signer.clone(), Commitment { block, fields });
        }
        DevnetCall::CommitWeights { commit_hash, .. } => {
            m.commits.insert(req.signer.clone(), commit_hash);
        }
        DevnetCall::RevealWeights { netuid, mechanism, uids, values, salt, version_key } => {
            let who = PublicKey::from_ss58(&req.signer).unwrap().0;
            let expected = commit_hash(&who, netuid_index(netuid, mechanism), &uids, &values, &salt, version_key);
            if m.commits.get(&req.signer) != Some(&expected) {
                return subtensor("InvalidRevealCommitHashNotMatch");
            }
        }
    }
    m.block = block;
    Json(TxOutcome { block_hash: None, block_number: Some(block), extrinsic_hash: None }).into_response()
}

async fn start_mock() -> (String, Shared) {
    let state: Shared = Arc::new(Mutex::new(Mock { block: 100, ..Default::default() }));
    let app = Router::new()
        .route(paths::INFO, get(info))
        .route(paths::BLOCK, get(block))
        .route(paths::HYPERPARAMS_ROUTE, get(hyperparams))
        .route(paths::METAGRAPH_ROUTE, get(metagraph))
        .route(paths::UID_ROUTE, get(uid))
        .route(paths::COMMITMENT_ROUTE, get(commitment))
        .route(paths::EXTRINSICS, post(extrinsic))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), state)
}

#[tokio::test]
async fn devnet_client_against_mock() {
    let (url, state) = start_mock().await;
    let alice = Keypair::from_uri("//Alice").unwrap();
    let bob = Keypair::from_uri("//Bob").unwrap();
    let chain: Arc<dyn Chain> =
        Arc::new(DevnetClient::connect(&url).await.unwrap().with_hotkey(alice.clone()).with_coldkey(bob.clone()));
    assert!(chain.describe().starts_with("devnet (http://127.0.0.1:"));
    assert_eq!(chain.hotkey(), Some(alice.ss58()));

    assert_eq!(chain.block_number().await.unwrap(), 100);
    assert_eq!(chain.hyperparams(1).await.unwrap().tempo, 360);
    assert!(matches!(chain.hyperparams(9).await, Err(ChainError::SubnetNotFound(9))));

    // Not registered yet: the mock answers like subtensor would.
    let w = WeightsSubmission::from_float(&[0], &[1.0], 0).unwrap();
    let e = chain.set_weights(1, &w).await.unwrap_err();
    assert!(e.is("HotKeyNotRegisteredInSubNet"), "{e}");
    assert!(matches!(&e, ChainError::Dispatch { pallet, .. } if pallet == "SubtensorModule"));

    // Registration is signed by the coldkey.
    let out = chain.burned_register(1, alice.ss58()).await.unwrap();
    assert_eq!(out.block_number, Some(101));
    assert_eq!(chain.uid_of(1, alice.ss58()).await.unwrap(), Some(0));
    assert_eq!(chain.uid_of(1, bob.ss58()).await.unwrap(), None);

    chain.serve_axon(1, &AxonServe::new("10.1.2.3".parse().unwrap(), 8091, 7)).await.unwrap();
    let mg = chain.metagraph(1).await.unwrap();
    let me = mg.neuron_by_hotkey(alice.ss58()).unwrap();
    assert_eq!(me.coldkey, bob.ss58());
    assert_eq!((me.axon.endpoint(), me.axon.version, me.axon.protocol), ("10.1.2.3:8091".to_string(), 7, 4));

    chain.set_weights(1, &w).await.unwrap();
    let e = chain.set_weights(1, &w).await.unwrap_err();
    assert!(e.is("SettingWeightsTooFast") && e.is_rate_limited(), "{e}");

    chain.set_commitment(1, b"orchestra:v1").await.unwrap();
    let c = chain.commitment(1, alice.ss58()).await.unwrap().unwrap();
    assert_eq!(c.data(), Some(&b"orchestra:v1"[..]));
    assert_eq!(chain.commitment(1, bob.ss58()).await.unwrap(), None);
    assert!(matches!(chain.set_commitment(1, &[0; 513]).await, Err(ChainError::InvalidInput(_))));

    // Commit-reveal v2: the client hashes for its hotkey; the mock recomputes at reveal.
    let reveal = WeightsReveal::new(&w, vec![9, 8, 7]);
    chain.commit_weights_for(1, &reveal).await.unwrap();
    assert_eq!(state.lock().unwrap().commits.get(alice.ss58()), Some(&reveal.commit_hash(&alice.public().0, 1)));
    chain.reveal_weights(1, &reveal).await.unwrap();
    let mut wrong = reveal.clone();
    wrong.salt = vec![1];
    assert!(chain.reveal_weights(1, &wrong).await.unwrap_err().is("InvalidRevealCommitHashNotMatch"));

    // Every extrinsic used a fresh, increasing nonce; a replayed one is refused as stale.
    let replay = ExtrinsicRequest::sign(&alice, 1, DevnetCall::SetCommitment { netuid: 1, fields: vec![] }).unwrap();
    let resp = reqwest::Client::new().post(format!("{url}{}", paths::EXTRINSICS)).json(&replay).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 409);
    let body: ErrorResponse = resp.json().await.unwrap();
    assert_eq!(body.error.name.as_deref(), Some("Stale"));

    // A forged signature is refused.
    let mut forged =
        ExtrinsicRequest::sign(&bob, u64::MAX, DevnetCall::SetCommitment { netuid: 1, fields: vec![] }).unwrap();
    forged.signer = alice.ss58().to_string();
    let resp = reqwest::Client::new().post(format!("{url}{}", paths::EXTRINSICS)).json(&forged).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}

#[tokio::test]
async fn devnet_client_without_keys_or_server() {
    let (url, _) = start_mock().await;
    let read_only = DevnetClient::connect(&url).await.unwrap();
    let w = WeightsSubmission::from_u16(vec![0], vec![1], 0).unwrap();
    assert!(matches!(read_only.set_weights(1, &w).await, Err(ChainError::MissingSigner("hotkey"))));
    assert!(matches!(read_only.burned_register(1, "x").await, Err(ChainError::MissingSigner("coldkey"))));
    let reveal = WeightsReveal::new(&w, vec![]);
    assert!(matches!(read_only.commit_weights_for(1, &reveal).await, Err(ChainError::MissingSigner("hotkey"))));

    // Nothing listens on this port (bound, then dropped).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = DevnetClient::connect(&format!("http://127.0.0.1:{port}")).await.unwrap_err();
    assert!(matches!(e, ChainError::Connection { .. }), "{e}");
    assert!(e.is_transient());
}
