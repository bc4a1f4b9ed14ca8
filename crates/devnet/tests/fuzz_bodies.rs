//! Property tests for the devnet's HTTP request bodies (threat model, "Parsers that take
//! network input"), against a real server on 127.0.0.1: arbitrary bytes, arbitrary JSON, and
//! arbitrary *signed* extrinsics and admin calls (a funded key can send anything) never panic
//! the server. Each answer is 200, or 4xx with the API's `ErrorResponse` naming the error kind;
//! a 500 (a panicked handler, a failed write) fails the property.
//!
//! Bounded for the normal run (`PROPTEST_CASES`, default 128 per property); a long run is
//! documented in `docs/threat-model.md`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};

use orchestra_chain::devnet_api::{DevnetCall, ErrorResponse, ExtrinsicRequest, paths};
use orchestra_chain::{CommitmentData, ServeAxonArgs};
use orchestra_devnet::admin::ADMIN_ROUTE;
use orchestra_devnet::{AdminCall, AdminRequest, DevnetConfig, DevnetServer};
use orchestra_keys::Keypair;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128)
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (0u64..200).prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| json!(x)),
        "[ -~]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,10}|call|netuid|uids|weights|signer|nonce", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const PARAMS: &[&str] = &[
    "tempo",
    "rho",
    "kappa",
    "immunity_period",
    "min_allowed_weights",
    "max_weights_limit",
    "weights_version",
    "weights_rate_limit",
    "activity_cutoff",
    "registration_allowed",
    "max_validators",
    "max_allowed_uids",
    "serving_rate_limit",
    "bonds_moving_avg",
    "bonds_penalty",
    "commit_reveal_weights_enabled",
    "commit_reveal_period",
    "liquid_alpha_enabled",
    "alpha_high",
    "alpha_low",
    "alpha_sigmoid_steepness",
    "yuma3_enabled",
    "stake_threshold",
    "min_burn",
    "max_burn",
    "not_a_param",
];

fn hyperparams() -> impl Strategy<Value = serde_json::Map<String, Value>> {
    let value = prop_oneof![
        (0u64..5).prop_map(|n| json!(n)),
        (0u64..70_000).prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<bool>().prop_map(Value::Bool),
        json_value(),
    ];
    prop::collection::btree_map(prop::sample::select(PARAMS).prop_map(str::to_string), value, 0..4)
        .prop_map(|m| m.into_iter().collect())
}

fn hotkey() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["//Alice", "//Bob", "//Charlie", "//Fuzz1", "//Fuzz2"])
            .prop_map(|u| Keypair::from_uri(u).unwrap().ss58().to_string()),
        "[ -~]{0,50}",
    ]
}

fn netuid() -> impl Strategy<Value = u16> {
    prop_oneof![Just(1u16), Just(2u16), 0u16..5, any::<u16>()]
}

fn devnet_call() -> impl Strategy<Value = DevnetCall> {
    let small = prop::collection::vec(any::<u16>(), 0..6);
    prop_oneof![
        (netuid(), 0u8..3, small.clone(), small.clone(), any::<u64>()).prop_map(
            |(netuid, mechanism, uids, weights, version_key)| DevnetCall::SetWeights {
                netuid,
                mechanism,
                uids,
                weights,
                version_key
            }
        ),
        (netuid(), 0u8..3, any::<[u8; 32]>()).prop_map(|(netuid, mechanism, commit_hash)| DevnetCall::CommitWeights {
            netuid,
            mechanism,
            commit_hash
        }),
        (netuid(), 0u8..3, small.clone(), small.clone(), small, any::<u64>()).prop_map(
            |(netuid, mechanism, uids, values, salt, version_key)| DevnetCall::RevealWeights {
                netuid,
                mechanism,
                uids,
                values,
                salt,
                version_key
            }
        ),
        (netuid(), any::<u32>(), any::<u128>(), any::<u16>(), any::<u8>(), any::<u8>()).prop_map(
            |(netuid, version, ip, port, ip_type, protocol)| {
                DevnetCall::ServeAxon(ServeAxonArgs {
                    netuid,
                    version,
                    ip,
                    port,
                    ip_type,
                    protocol,
                    placeholder1: 0,
                    placeholder2: 0,
                })
            }
        ),
        (netuid(), prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..5)).prop_map(
            |(netuid, fields)| DevnetCall::SetCommitment {
                netuid,
                fields: fields.into_iter().map(CommitmentData::Raw).collect()
            }
        ),
        (netuid(), hotkey()).prop_map(|(netuid, hotkey)| DevnetCall::BurnedRegister { netuid, hotkey }),
    ]
}

fn admin_call() -> impl Strategy<Value = AdminCall> {
    prop_oneof![
        (prop::option::of(netuid()), prop::option::of(hotkey()), hyperparams()).prop_map(
            |(netuid, owner_hotkey, hyperparams)| AdminCall::CreateSubnet { netuid, owner_hotkey, hyperparams }
        ),
        (netuid(), hyperparams()).prop_map(|(netuid, hyperparams)| AdminCall::SetHyperparams { netuid, hyperparams }),
        any::<u64>().prop_map(|amount| AdminCall::Faucet { amount }),
        (hotkey(), any::<u64>()).prop_map(|(dest, amount)| AdminCall::Transfer { dest, amount }),
        (netuid(), hotkey(), any::<u64>()).prop_map(|(netuid, hotkey, amount)| AdminCall::AddStake {
            netuid,
            hotkey,
            amount
        }),
        (0u32..30).prop_map(|blocks| AdminCall::AdvanceBlocks { blocks }),
        (100_001u32..u32::MAX).prop_map(|blocks| AdminCall::AdvanceBlocks { blocks }),
    ]
}

/// POST `body` and check the property: 200, or a 4xx `ErrorResponse`.
async fn post(http: &reqwest::Client, url: &str, body: Vec<u8>) -> Result<(), TestCaseError> {
    let r = http.post(url).header("content-type", "application/json").body(body).send().await;
    let r = r.map_err(|e| TestCaseError::fail(format!("no answer (server down or panicked?): {e}")))?;
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    if status == 200 {
        return Ok(());
    }
    prop_assert!((400..500).contains(&status), "status {status}: {text}");
    let e: Result<ErrorResponse, _> = serde_json::from_str(&text);
    prop_assert!(e.is_ok(), "a refusal is an ErrorResponse: {text}");
    Ok(())
}

#[test]
fn arbitrary_request_bodies_are_served_or_refused_by_name() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = DevnetConfig::new(dir.path());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.block_time_ms = 0;
    cfg.sync_writes = false;
    let devnet = rt.block_on(async { DevnetServer::new(cfg).unwrap().spawn() });
    let http = reqwest::Client::new();
    let ext = format!("{}{}", devnet.url, paths::EXTRINSICS);
    let admin = format!("{}{ADMIN_ROUTE}", devnet.url);
    let signers: Vec<Keypair> = ["//Alice", "//Bob"].iter().map(|u| Keypair::from_uri(u).unwrap()).collect();
    let nonce = AtomicU64::new(1);
    let config = Config { cases: cases(), failure_persistence: None, ..Config::default() };

    // Raw bytes and arbitrary JSON, to both routes.
    let mut runner = TestRunner::new(config.clone());
    let bodies = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        (json_value(), json_value()).prop_map(|(call, n)| serde_json::to_vec(
            &json!({"signer": Keypair::from_uri("//Alice").unwrap().ss58(), "nonce": n, "call": call, "signature": "00"})
        )
        .unwrap()),
    ];
    runner
        .run(&(bodies, any::<bool>()), |(body, to_admin)| {
            rt.block_on(post(&http, if to_admin { &admin } else { &ext }, body))
        })
        .unwrap();

    // Signed calls of every kind with arbitrary arguments (and now and then a stale nonce).
    let mut runner = TestRunner::new(config);
    let calls =
        (prop_oneof![devnet_call().prop_map(Ok), admin_call().prop_map(Err)], 0usize..2, prop::bool::weighted(0.05));
    runner
        .run(&calls, |(call, who, stale)| {
            let key = &signers[who];
            let n = if stale { 1 } else { nonce.fetch_add(1, Ordering::SeqCst) + 1 };
            let (url, body) = match call {
                Ok(c) => (&ext, serde_json::to_vec(&ExtrinsicRequest::sign(key, n, c).unwrap()).unwrap()),
                Err(c) => (&admin, serde_json::to_vec(&AdminRequest::sign(key, n, c).unwrap()).unwrap()),
            };
            rt.block_on(post(&http, url, body))
        })
        .unwrap();
    rt.block_on(async { devnet.stop().await.unwrap() });
}
