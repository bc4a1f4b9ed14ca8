//! The devnet end to end through the `Chain` trait (`orchestra_chain::devnet::DevnetClient`)
//! against a real devnet HTTP server on 127.0.0.1:0 (in-process): registration, axons, weights
//! with every check's error name, epochs paying incentive, commit-reveal, commitments, restart,
//! and refused signatures. Blocks are produced on demand (`block_time_ms = 0`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use orchestra_chain::devnet::DevnetClient;
use orchestra_chain::devnet_api::{DevnetCall, ErrorResponse, ExtrinsicRequest, paths};
use orchestra_chain::{AxonServe, Chain, ChainError, WeightsReveal, WeightsSubmission};
use orchestra_devnet::{AdminCall, AdminClient, AdminRequest, DevnetConfig, DevnetServer, RunningDevnet};
use orchestra_keys::Keypair;
use serde_json::json;

const NETUID: u16 = 1;
const TEMPO: u64 = 10;
const TAO: u64 = 1_000_000_000;

fn key(uri: &str) -> Keypair {
    Keypair::from_uri(uri).unwrap()
}

fn start(dir: &Path, sync: bool) -> RunningDevnet {
    let mut cfg = DevnetConfig::new(dir);
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.block_time_ms = 0;
    cfg.sync_writes = sync;
    DevnetServer::new(cfg).unwrap().spawn()
}

fn params(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().unwrap().clone()
}

/// Genesis has subnet 1 owned by //Alice; make it quick for tests.
async fn tune(alice: &AdminClient, extra: serde_json::Value) {
    let mut p = params(json!({
        "tempo": TEMPO,
        "min_allowed_weights": 1,
        "weights_rate_limit": 2,
        "serving_rate_limit": 2,
    }));
    p.extend(params(extra));
    alice.submit(AdminCall::SetHyperparams { netuid: NETUID, hyperparams: p }).await.unwrap();
}

async fn client(url: &str, hotkey: &str, coldkey: &str) -> DevnetClient {
    DevnetClient::connect(url).await.unwrap().with_hotkey(key(hotkey)).with_coldkey(key(coldkey))
}

/// Produces blocks up to and including the next epoch block of subnet 1.
async fn next_epoch(admin: &AdminClient, chain: &dyn Chain) -> u64 {
    let b = chain.block_number().await.unwrap();
    let mut e = b + 1;
    while (e + u64::from(NETUID) + 1) % (TEMPO + 1) != 0 {
        e += 1;
    }
    admin.submit(AdminCall::AdvanceBlocks { blocks: (e - b) as u32 }).await.unwrap();
    assert_eq!(chain.block_number().await.unwrap(), e);
    e
}

async fn advance(admin: &AdminClient, n: u32) {
    admin.submit(AdminCall::AdvanceBlocks { blocks: n }).await.unwrap();
}

/// A validator (//V, coldkey //Bob, 100 TAO staked) and miners //M0.. (coldkey //Charlie),
/// with permits assigned by one epoch.
struct Net {
    alice: AdminClient,
    v: DevnetClient,
    miners: Vec<DevnetClient>,
}

async fn network(url: &str, miners: usize, extra: serde_json::Value) -> Net {
    let alice = AdminClient::new(url, key("//Alice")).unwrap();
    tune(&alice, extra).await;
    let v = client(url, "//V", "//Bob").await;
    v.burned_register(NETUID, key("//V").ss58()).await.unwrap();
    let mut ms = Vec::new();
    for i in 0..miners {
        let m = client(url, &format!("//M{i}"), "//Charlie").await;
        m.burned_register(NETUID, key(&format!("//M{i}")).ss58()).await.unwrap();
        ms.push(m);
    }
    let bob = AdminClient::new(url, key("//Bob")).unwrap();
    bob.submit(AdminCall::AddStake { netuid: NETUID, hotkey: key("//V").ss58().into(), amount: 100 * TAO })
        .await
        .unwrap();
    next_epoch(&alice, &v).await;
    let mg = v.metagraph(NETUID).await.unwrap();
    assert!(mg.neuron(0).unwrap().validator_permit, "the staked validator gets a permit");
    assert!(!mg.neuron(1).unwrap().validator_permit, "unstaked miners do not");
    Net { alice, v, miners: ms }
}

fn expect_err(r: Result<orchestra_chain::TxOutcome, ChainError>, name: &str) {
    match r {
        Err(e) => assert!(e.is(name), "expected {name}, got {e}"),
        Ok(o) => panic!("expected {name}, got success {o:?}"),
    }
}

fn w(uids: Vec<u16>, weights: Vec<u16>) -> WeightsSubmission {
    WeightsSubmission { mechanism: 0, uids, weights, version_key: 0 }
}

#[tokio::test]
async fn register_serve_set_weights_and_epoch_pays_weighted_miners() {
    let dir = tempfile::tempdir().unwrap();
    let dn = start(dir.path(), false);
    let net = network(&dn.url, 3, json!({})).await;
    let v = &net.v;
    assert_eq!(v.uid_of(NETUID, key("//M2").ss58()).await.unwrap(), Some(3));
    assert_eq!(v.uid_of(NETUID, key("//Nobody").ss58()).await.unwrap(), None);
    let mg = v.metagraph(NETUID).await.unwrap();
    assert_eq!(mg.neurons.len(), 4);
    assert_eq!(mg.neuron(1).unwrap().coldkey, key("//Charlie").ss58());
    assert!(mg.neuron(0).unwrap().stake >= 100 * TAO);

    // serve_axon, then its rate limit.
    let m0 = &net.miners[0];
    m0.serve_axon(NETUID, &AxonServe::new("10.0.0.7".parse().unwrap(), 8091, 3)).await.unwrap();
    let ax = v.metagraph(NETUID).await.unwrap().neuron(1).unwrap().axon;
    assert_eq!((ax.endpoint(), ax.version, ax.protocol), ("10.0.0.7:8091".to_string(), 3, 4));
    expect_err(
        m0.serve_axon(NETUID, &AxonServe::new("10.0.0.8".parse().unwrap(), 8091, 3)).await,
        "ServingRateLimitExceeded",
    );
    advance(&net.alice, 2).await;
    m0.serve_axon(NETUID, &AxonServe::new("::1".parse().unwrap(), 8092, 3)).await.unwrap();

    // Weights on miners 1 and 2 (uids 1, 2), none on uid 3; then the rate limit.
    let sub = WeightsSubmission::from_float(&[1, 2], &[1.0, 0.5], 0).unwrap();
    v.set_weights(NETUID, &sub).await.unwrap();
    let e = v.set_weights(NETUID, &sub).await.unwrap_err();
    assert!(e.is("SettingWeightsTooFast") && e.is_rate_limited(), "{e}");
    advance(&net.alice, 2).await;
    v.set_weights(NETUID, &sub).await.unwrap();

    let before = v.metagraph(NETUID).await.unwrap();
    next_epoch(&net.alice, v).await;
    let mg = v.metagraph(NETUID).await.unwrap();
    let (m1, m2, m3) = (mg.neuron(1).unwrap(), mg.neuron(2).unwrap(), mg.neuron(3).unwrap());
    assert!(m1.incentive > m2.incentive && m2.incentive > 0, "{} {}", m1.incentive, m2.incentive);
    assert_eq!(m3.incentive, 0);
    assert!(m1.consensus > 0 && m1.emission > m2.emission && m2.emission > 0);
    assert!(m1.stake > before.neuron(1).unwrap().stake, "incentive is paid into the miner's stake");
    assert_eq!(m3.stake, 0);
    let val = mg.neuron(0).unwrap();
    assert!(val.dividends > 0 && val.validator_permit && val.active);
    assert!(val.stake > 100 * TAO, "dividends are paid into the validator's stake");
    assert!(m1.trust > 0);
    dn.stop().await.unwrap();
}

#[tokio::test]
async fn every_set_weights_check_reports_the_chains_error_name() {
    let dir = tempfile::tempdir().unwrap();
    let dn = start(dir.path(), false);
    let net = network(&dn.url, 3, json!({})).await;
    let (v, m0, alice) = (&net.v, &net.miners[0], &net.alice);
    let set = |hp: serde_json::Value| AdminCall::SetHyperparams { netuid: NETUID, hyperparams: params(hp) };

    expect_err(v.set_weights(NETUID, &w(vec![1, 2], vec![1])).await, "WeightVecNotEqualSize");
    assert!(matches!(v.set_weights(9, &w(vec![1], vec![1])).await, Err(ChainError::SubnetNotFound(9))));
    expect_err(v.set_weights(NETUID, &w(vec![1], vec![1]).with_mechanism(1)).await, "MechanismDoesNotExist");
    expect_err(v.set_weights(NETUID, &w(vec![0, 1, 2, 3, 4], vec![1; 5])).await, "UidsLengthExceedUidsInSubNet");
    let stranger = client(&dn.url, "//Stranger", "//Dave").await;
    expect_err(stranger.set_weights(NETUID, &w(vec![1], vec![1])).await, "HotKeyNotRegisteredInSubNet");

    alice.submit(set(json!({"stake_threshold": 1000 * TAO}))).await.unwrap();
    expect_err(v.set_weights(NETUID, &w(vec![1], vec![1])).await, "NotEnoughStakeToSetWeights");
    alice.submit(set(json!({"stake_threshold": 0, "weights_version": 5}))).await.unwrap();
    let mut old = w(vec![1], vec![1]);
    old.version_key = 4;
    expect_err(v.set_weights(NETUID, &old).await, "IncorrectWeightVersionKey");
    // Order: the version key is checked before the permit.
    expect_err(m0.set_weights(NETUID, &old).await, "IncorrectWeightVersionKey");
    alice.submit(set(json!({"weights_version": 0}))).await.unwrap();

    expect_err(m0.set_weights(NETUID, &w(vec![2], vec![1])).await, "NeuronNoValidatorPermit");
    // A self-weight needs no permit (and is exempt from min_allowed_weights).
    m0.set_weights(NETUID, &w(vec![1], vec![7])).await.unwrap();

    expect_err(v.set_weights(NETUID, &w(vec![1, 1], vec![1, 2])).await, "DuplicateUids");
    expect_err(v.set_weights(NETUID, &w(vec![1, 99], vec![1, 2])).await, "UidVecContainInvalidOne");
    alice.submit(set(json!({"min_allowed_weights": 3}))).await.unwrap();
    expect_err(v.set_weights(NETUID, &w(vec![1, 2], vec![1, 2])).await, "WeightVecLengthIsLow");
    alice.submit(set(json!({"min_allowed_weights": 1, "max_weights_limit": 40000}))).await.unwrap();
    expect_err(v.set_weights(NETUID, &w(vec![1, 2], vec![65535, 1])).await, "MaxWeightExceeded");
    // Within the limit (two equal weights normalize to 0.5 < 0.61) it passes.
    v.set_weights(NETUID, &w(vec![1, 2], vec![10, 10])).await.unwrap();
    expect_err(v.set_weights(NETUID, &w(vec![1, 2], vec![10, 10])).await, "SettingWeightsTooFast");

    alice.submit(set(json!({"commit_reveal_weights_enabled": true}))).await.unwrap();
    expect_err(v.set_weights(NETUID, &w(vec![1, 2], vec![10, 10])).await, "CommitRevealEnabled");
    dn.stop().await.unwrap();
}

#[tokio::test]
async fn commit_reveal_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let dn = start(dir.path(), false);
    let net = network(&dn.url, 2, json!({"commit_reveal_weights_enabled": true, "commit_reveal_period": 1})).await;
    let (v, alice) = (&net.v, &net.alice);
    let sub = WeightsSubmission::from_float(&[1, 2], &[1.0, 0.25], 0).unwrap();
    let reveal = WeightsReveal::new(&sub, vec![4, 2, 42]);

    expect_err(v.reveal_weights(NETUID, &reveal).await, "NoWeightsCommitFound");
    v.commit_weights_for(NETUID, &reveal).await.unwrap();
    expect_err(v.commit_weights_for(NETUID, &reveal).await, "CommittingWeightsTooFast");
    expect_err(v.reveal_weights(NETUID, &reveal).await, "RevealTooEarly");
    // The reveal epoch is the next one.
    let before = v.metagraph(NETUID).await.unwrap();
    next_epoch(alice, v).await;
    let mut wrong = reveal.clone();
    wrong.salt = vec![1];
    expect_err(v.reveal_weights(NETUID, &wrong).await, "InvalidRevealCommitHashNotMatch");
    v.reveal_weights(NETUID, &reveal).await.unwrap();
    expect_err(v.reveal_weights(NETUID, &reveal).await, "NoWeightsCommitFound");
    // Revealed weights count at the following epoch.
    assert_eq!(before.neuron(1).unwrap().incentive, 0);
    next_epoch(alice, v).await;
    let mg = v.metagraph(NETUID).await.unwrap();
    assert!(mg.neuron(1).unwrap().incentive > mg.neuron(2).unwrap().incentive);
    assert!(mg.neuron(2).unwrap().incentive > 0);

    // A commit not revealed in its reveal epoch expires.
    let late = WeightsReveal::new(&sub, vec![9]);
    v.commit_weights_for(NETUID, &late).await.unwrap();
    next_epoch(alice, v).await;
    next_epoch(alice, v).await;
    expect_err(v.reveal_weights(NETUID, &late).await, "ExpiredWeightCommit");
    dn.stop().await.unwrap();
}

#[tokio::test]
async fn commitments_and_their_space_limit() {
    let dir = tempfile::tempdir().unwrap();
    let dn = start(dir.path(), false);
    let net = network(&dn.url, 1, json!({})).await;
    let m0 = &net.miners[0];
    m0.set_commitment(NETUID, b"orchestra:v1").await.unwrap();
    let c = m0.commitment(NETUID, key("//M0").ss58()).await.unwrap().unwrap();
    assert_eq!(c.data(), Some(&b"orchestra:v1"[..]));
    assert_eq!(m0.commitment(NETUID, key("//V").ss58()).await.unwrap(), None);
    let stranger = client(&dn.url, "//Stranger", "//Dave").await;
    expect_err(stranger.set_commitment(NETUID, b"x").await, "AccountNotAllowedCommit");
    // MaxSpace 3100 per epoch: 512-byte commitments cost 512 each; the 7th exceeds 3100.
    let big = vec![7u8; 512];
    for _ in 0..5 {
        m0.set_commitment(NETUID, &big).await.unwrap();
    }
    // 100 (first) + 5 × 512 = 2660; another 512 would make 3172.
    expect_err(m0.set_commitment(NETUID, &big).await, "SpaceLimitExceeded");
    let c = m0.commitment(NETUID, key("//M0").ss58()).await.unwrap().unwrap();
    assert_eq!(c.data(), Some(&big[..]), "the refused commitment changed nothing");
    dn.stop().await.unwrap();
}

#[tokio::test]
async fn restart_keeps_state_and_nonces() {
    let dir = tempfile::tempdir().unwrap();
    let dn = start(dir.path(), true);
    let url = dn.url.clone();
    let net = network(&url, 2, json!({})).await;
    net.miners[0].serve_axon(NETUID, &AxonServe::new("10.1.1.1".parse().unwrap(), 9000, 1)).await.unwrap();
    net.miners[1].set_commitment(NETUID, b"kept").await.unwrap();
    net.v.set_weights(NETUID, &WeightsSubmission::from_float(&[1, 2], &[1.0, 1.0], 0).unwrap()).await.unwrap();
    next_epoch(&net.alice, &net.v).await;
    let replay = ExtrinsicRequest::sign(
        &key("//M0"),
        u64::MAX - 1,
        DevnetCall::SetCommitment { netuid: NETUID, fields: vec![] },
    )
    .unwrap();
    let http = reqwest::Client::new();
    let r = http.post(format!("{url}{}", paths::EXTRINSICS)).json(&replay).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);

    let mg = net.v.metagraph(NETUID).await.unwrap();
    let hp = net.v.hyperparams(NETUID).await.unwrap();
    let block = net.v.block_number().await.unwrap();
    let bal = net.alice.balance(key("//Bob").ss58()).await.unwrap();
    let commit = net.v.commitment(NETUID, key("//M1").ss58()).await.unwrap();
    drop(net);
    dn.stop().await.unwrap();

    let mut cfg = DevnetConfig::new(dir.path());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.block_time_ms = 0;
    let server = DevnetServer::new(cfg).unwrap();
    let state = server.state();
    let dn = server.spawn();
    let c = DevnetClient::connect(&dn.url).await.unwrap();
    assert_eq!(c.block_number().await.unwrap(), block);
    assert_eq!(c.metagraph(NETUID).await.unwrap(), mg);
    assert_eq!(c.hyperparams(NETUID).await.unwrap(), hp);
    assert_eq!(c.commitment(NETUID, key("//M1").ss58()).await.unwrap(), commit);
    let alice = AdminClient::new(&dn.url, key("//Alice")).unwrap();
    assert_eq!(alice.balance(key("//Bob").ss58()).await.unwrap(), bal);
    assert!(state.subnets[&NETUID].neurons[0].weights.len() == 2, "weights survive");
    // The nonce survived too: the same request is now stale.
    let r = http.post(format!("{}{}", dn.url, paths::EXTRINSICS)).json(&replay).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let body: ErrorResponse = r.json().await.unwrap();
    assert_eq!(body.error.name.as_deref(), Some("Stale"));
    // And the restarted devnet keeps producing epochs from where it was.
    next_epoch(&alice, &c).await;
    assert!(c.metagraph(NETUID).await.unwrap().neuron(1).unwrap().incentive > 0);
    dn.stop().await.unwrap();
}

#[tokio::test]
async fn forged_replayed_and_unauthorized_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dn = start(dir.path(), false);
    let net = network(&dn.url, 1, json!({})).await;
    let http = reqwest::Client::new();
    let url = format!("{}{}", dn.url, paths::EXTRINSICS);
    let (bob, m0) = (key("//Bob"), key("//M0"));

    // Bob signs, but claims to be the miner's hotkey: the signature does not verify.
    let mut forged = ExtrinsicRequest::sign(
        &bob,
        1000,
        DevnetCall::SetWeights { netuid: NETUID, mechanism: 0, uids: vec![1], weights: vec![1], version_key: 0 },
    )
    .unwrap();
    forged.signer = m0.ss58().to_string();
    let r = http.post(&url).json(&forged).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // A valid request with a tampered call.
    let mut tampered =
        ExtrinsicRequest::sign(&m0, 1000, DevnetCall::SetCommitment { netuid: NETUID, fields: vec![] }).unwrap();
    tampered.call = DevnetCall::SetCommitment { netuid: 2, fields: vec![] };
    assert_eq!(http.post(&url).json(&tampered).send().await.unwrap().status().as_u16(), 401);
    // Garbage is a bad request with the error body.
    let r = http.post(&url).body("{").header("content-type", "application/json").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.json::<ErrorResponse>().await.is_ok());

    // Replays: the first is accepted, the same bytes again are stale.
    let ok = ExtrinsicRequest::sign(&m0, 1000, DevnetCall::SetCommitment { netuid: NETUID, fields: vec![] }).unwrap();
    assert_eq!(http.post(&url).json(&ok).send().await.unwrap().status().as_u16(), 200);
    let r = http.post(&url).json(&ok).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 409);
    assert_eq!(r.json::<ErrorResponse>().await.unwrap().error.name.as_deref(), Some("Stale"));

    // Admin calls: forged refused; only the owner sets hyperparameters.
    let mut forged_admin = AdminRequest::sign(&bob, 1, AdminCall::Faucet { amount: 1 }).unwrap();
    forged_admin.signer = key("//Alice").ss58().to_string();
    let r = http.post(format!("{}/v1/admin", dn.url)).json(&forged_admin).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let bob_admin = AdminClient::new(&dn.url, bob.clone()).unwrap();
    let e = bob_admin
        .submit(AdminCall::SetHyperparams { netuid: NETUID, hyperparams: params(json!({"tempo": 1})) })
        .await
        .unwrap_err();
    assert!(e.is("BadOrigin"), "{e}");

    // The coldkey role: Dave cannot register (or take over) a hotkey that Charlie owns.
    let dave = client(&dn.url, "//X", "//Dave").await;
    let mut p = params(json!({}));
    p.insert("tempo".into(), json!(10));
    AdminClient::new(&dn.url, key("//Dave"))
        .unwrap()
        .submit(AdminCall::CreateSubnet { netuid: Some(2), owner_hotkey: None, hyperparams: p })
        .await
        .unwrap();
    expect_err(dave.burned_register(2, m0.ss58()).await, "NonAssociatedColdKey");
    // A miner's hotkey cannot set the validator's weights: it signs as itself.
    expect_err(net.miners[0].set_weights(NETUID, &w(vec![0], vec![1])).await, "NeuronNoValidatorPermit");

    // Poor coldkeys cannot register.
    let poor = client(&dn.url, "//Y", "//Poor").await;
    expect_err(poor.burned_register(NETUID, key("//Y").ss58()).await, "NotEnoughBalanceToStake");
    dn.stop().await.unwrap();
}

#[tokio::test]
async fn health_metrics_info_and_timer_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = DevnetConfig::new(dir.path());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.block_time_ms = 20;
    cfg.sync_writes = false;
    let dn = DevnetServer::new(cfg).unwrap().spawn();
    let c = DevnetClient::connect(&dn.url).await.unwrap();
    let info = c.info().await.unwrap();
    assert_eq!(info.subnets, vec![1]);
    assert_eq!(info.block_time_ms, 20);
    let b0 = c.block_number().await.unwrap();
    // Poll rather than sleep a fixed time: the machine may be busy.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while c.block_number().await.unwrap() <= b0 + 3 {
        assert!(std::time::Instant::now() < deadline, "the timer produces blocks");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let http = reqwest::Client::new();
    assert_eq!(http.get(format!("{}/healthz", dn.url)).send().await.unwrap().text().await.unwrap(), "ok");
    let m = http.get(format!("{}/metrics", dn.url)).send().await.unwrap().text().await.unwrap();
    assert!(m.contains("orchestra_devnet_block"), "{m}");
    let r = http.get(format!("{}/nope", dn.url)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert!(matches!(c.metagraph(7).await, Err(ChainError::SubnetNotFound(7))));
    dn.stop().await.unwrap();
}
