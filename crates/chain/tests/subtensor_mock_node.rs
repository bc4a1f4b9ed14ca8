//! `SubtensorChain` against a mock subtensor node: a WebSocket JSON-RPC server in this test that
//! answers subxt's legacy RPC methods from the finney metadata snapshot and canned state. It
//! exercises what the offline call-encoding tests cannot: connecting, fetching and checking the
//! metadata at connect, reads through runtime APIs and storage, reconnecting after the node drops
//! the socket, and the submission path up to named errors: a pool rejection
//! (`validate_transaction` → `Custom(6)` = `RateLimitExceeded`), the same rejection from
//! `author_submitAndWatchExtrinsic` (error 1010), and an in-block `ExtrinsicFailed` with
//! `SubtensorModule::SettingWeightsTooFast` decoded from the block's events.
//!
//! The mock answers like a node would as far as subxt looks, not like subtensor's state machine:
//! it checks encodings, not rules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orchestra_chain::subtensor::{Network, SubtensorChain, SubtensorOptions};
use orchestra_chain::{AxonServe, Chain, ChainError, CommitmentData, WeightsSubmission};
use orchestra_keys::Keypair;
use parity_scale_codec::{Compact, Decode, Encode};
use serde_json::{Value as Json, json};
use subxt::dynamic::Value;
use subxt::ext::scale_encode::EncodeAsType;
use subxt::metadata::Metadata;
use tokio::sync::watch;
use tokio_util::compat::TokioAsyncReadCompatExt;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/chain/finney-2026-04.scale");
const GENESIS: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";
const FINALIZED: &str = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const INCLUDED: &str = "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// How the mock treats submitted extrinsics.
#[derive(Clone, Copy, PartialEq)]
enum Outcome {
    /// `validate_transaction` says `Invalid(Custom(6))`.
    PoolRejects,
    /// Validation passes; `author_submitAndWatchExtrinsic` fails with 1010 "Custom error: 6".
    SubmitRejects,
    /// Included; the block's events hold `ExtrinsicFailed(Module { index: 7, error: 28 })`.
    FailsInBlock,
    /// Included; the block's events hold `ExtrinsicSuccess`.
    Succeeds,
}

struct Node {
    metadata: Vec<u8>,
    md: Metadata,
    spec: u32,
    tx_version: u32,
    connections: AtomicUsize,
    outcome: Mutex<Outcome>,
    submitted: Mutex<Vec<Vec<u8>>>,
    calls: Mutex<Vec<String>>,
    kill: watch::Sender<u64>,
}

fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

fn unhex(v: &Json) -> Vec<u8> {
    hex::decode(v.as_str().unwrap().trim_start_matches("0x")).unwrap()
}

fn header(number: u64) -> Json {
    json!({
        "parentHash": GENESIS,
        "number": format!("0x{number:x}"),
        "stateRoot": GENESIS,
        "extrinsicsRoot": GENESIS,
        "digest": {"logs": []}
    })
}

fn u(n: u128) -> Value {
    Value::u128(n)
}

impl Node {
    fn new() -> Arc<Node> {
        let metadata = std::fs::read(SNAPSHOT).unwrap();
        let md = Metadata::decode_from(&metadata).unwrap();
        let c = md.pallet_by_name("System").unwrap().constant_by_name("Version").unwrap();
        #[allow(clippy::type_complexity)]
        let v: (String, String, u32, u32, u32, Vec<([u8; 8], u32)>, u32) = Decode::decode(&mut c.value()).unwrap();
        Arc::new(Node {
            metadata,
            md,
            spec: v.3,
            tx_version: v.6,
            connections: AtomicUsize::new(0),
            outcome: Mutex::new(Outcome::Succeeds),
            submitted: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            kill: watch::channel(0).0,
        })
    }

    /// `System.Events` of the inclusion block: one record for extrinsic 0.
    fn events(&self) -> Vec<u8> {
        let info = Value::named_composite([
            ("weight", Value::named_composite([("ref_time", u(1)), ("proof_size", u(0))])),
            ("class", Value::unnamed_variant("Normal", [])),
            ("pays_fee", Value::unnamed_variant("No", [])),
        ]);
        let event = if *self.outcome.lock().unwrap() == Outcome::FailsInBlock {
            let module = Value::named_composite([("index", u(7)), ("error", Value::from_bytes([28u8, 0, 0, 0]))]);
            Value::named_variant(
                "ExtrinsicFailed",
                [("dispatch_error", Value::unnamed_variant("Module", [module])), ("dispatch_info", info)],
            )
        } else {
            Value::named_variant("ExtrinsicSuccess", [("dispatch_info", info)])
        };
        let record = Value::named_composite([
            ("phase", Value::unnamed_variant("ApplyExtrinsic", [u(0)])),
            ("event", Value::unnamed_variant("System", [event])),
            ("topics", Value::unnamed_composite([])),
        ]);
        let ty =
            self.md.pallet_by_name("System").unwrap().storage().unwrap().entry_by_name("Events").unwrap().value_ty();
        Value::unnamed_composite([record]).encode_as_type(ty, self.md.types()).unwrap()
    }

    fn state_call(&self, method: &str, _data: &[u8]) -> Vec<u8> {
        match method {
            "Core_version" => (
                "node-subtensor",
                "node-subtensor",
                1u32,
                self.spec,
                1u32,
                Vec::<([u8; 8], u32)>::new(),
                self.tx_version,
                1u8,
            )
                .encode(),
            "Metadata_metadata_versions" => vec![14u32, 15, 16].encode(),
            "Metadata_metadata_at_version" => {
                let mut out = vec![1u8];
                Compact(self.metadata.len() as u32).encode_to(&mut out);
                out.extend(&self.metadata);
                out
            }
            "NeuronInfoRuntimeApi_get_neurons_lite" => neurons_lite(),
            "SubnetInfoRuntimeApi_get_subnet_hyperparams_v2" => hyperparams(),
            "TaggedTransactionQueue_validate_transaction" => {
                if *self.outcome.lock().unwrap() == Outcome::PoolRejects {
                    // Err(TransactionValidityError::Invalid(InvalidTransaction::Custom(6)))
                    vec![1, 0, 7, 6]
                } else {
                    // Ok(ValidTransaction { priority, requires, provides, longevity, propagate })
                    (0u8, 0u64, Vec::<Vec<u8>>::new(), Vec::<Vec<u8>>::new(), 64u64, true).encode()
                }
            }
            other => panic!("unexpected runtime call {other}"),
        }
    }

    /// Storage by key length: System.Events (32), Burn (32+2), CommitmentOf (32+2+8+32), Uids (32+2+16+32).
    fn storage(&self, key: &[u8]) -> Json {
        match key.len() {
            32 => json!(hex0x(&self.events())),
            34 => json!(hex0x(&1_000_000u64.encode())),
            74 => json!(hex0x(&(0u64, 4_000_000u32, vec![CommitmentData::Raw(b"orchestra:v1".to_vec())]).encode())),
            82 => json!(hex0x(&3u16.encode())),
            n => panic!("unexpected storage key of {n} bytes"),
        }
    }

    /// Answers one request; `Err` is a JSON-RPC error object.
    fn answer(&self, method: &str, params: &Json) -> Result<Json, Json> {
        self.calls.lock().unwrap().push(method.to_string());
        Ok(match method {
            "chain_getBlockHash" => json!(GENESIS),
            "chain_getFinalizedHead" => json!(FINALIZED),
            "chain_getHeader" => {
                let n = if params[0].as_str() == Some(INCLUDED) { 1001 } else { 1000 };
                header(n)
            }
            "chain_getBlock" => {
                let exts: Vec<String> = self.submitted.lock().unwrap().iter().map(|e| hex0x(e)).collect();
                json!({"block": {"header": header(1001), "extrinsics": exts}, "justifications": null})
            }
            "state_call" => {
                let data = params.get(1).filter(|d| !d.is_null()).map(unhex).unwrap_or_default();
                json!(hex0x(&self.state_call(params[0].as_str().unwrap(), &data)))
            }
            "state_getStorage" => self.storage(&unhex(&params[0])),
            "system_accountNextIndex" => json!(5),
            "author_unwatchExtrinsic" => json!(true),
            other => return Err(json!({"code": -32601, "message": format!("Method not found: {other}")})),
        })
    }
}

fn neurons_lite() -> Vec<u8> {
    let alice = Keypair::from_uri("//Alice").unwrap().public().0;
    let bob = Keypair::from_uri("//Bob").unwrap().public().0;
    // NeuronInfoLite: hotkey, coldkey, uid, netuid, active, axon_info, prometheus_info, stake, rank,
    // emission, incentive, consensus, trust, validator_trust, dividends, last_update,
    // validator_permit, pruning_score.
    let mut n = Vec::new();
    (alice, bob, Compact(0u16), Compact(1u16), true).encode_to(&mut n);
    (10u64, 7u32, 0x0a01_0203u128, 8091u16, 4u8, 4u8, 0u8, 0u8).encode_to(&mut n);
    (0u64, 0u32, 0u128, 0u16, 0u8).encode_to(&mut n);
    vec![(bob, Compact(42u64))].encode_to(&mut n);
    (Compact(0u16), Compact(99u64), Compact(1u16), Compact(2u16), Compact(0u16), Compact(0u16), Compact(3u16))
        .encode_to(&mut n);
    (Compact(900u64), true, Compact(65535u16)).encode_to(&mut n);
    let mut out = Vec::new();
    Compact(1u32).encode_to(&mut out);
    out.extend(n);
    out
}

fn hyperparams() -> Vec<u8> {
    let mut h = vec![1u8]; // Some
    // rho, kappa, immunity_period, min_allowed_weights, max_weights_limit, tempo
    (Compact(10u16), Compact(32767u16), Compact(4096u16), Compact(8u16), Compact(65535u16), Compact(99u16))
        .encode_to(&mut h);
    // min/max_difficulty, weights_version, weights_rate_limit, adjustment_interval, activity_cutoff
    (Compact(1u64), Compact(2u64), Compact(5u64), Compact(100u64), Compact(112u16), Compact(5000u16)).encode_to(&mut h);
    // registration_allowed, target_regs_per_interval, min_burn, max_burn, bonds_moving_avg, max_regs_per_block
    (true, Compact(1u16), Compact(1u64), Compact(9u64), Compact(900_000u64), Compact(1u16)).encode_to(&mut h);
    // serving_rate_limit, max_validators, adjustment_alpha, difficulty, commit_reveal_period, CR enabled
    (Compact(50u64), Compact(64u16), Compact(0u64), Compact(0u64), Compact(1u64), false).encode_to(&mut h);
    // alpha_high, alpha_low, liquid_alpha_enabled, alpha_sigmoid_steepness, yuma_version, 4 bools
    (Compact(1u16), Compact(2u16), false, 0i64, Compact(2u16), true, true, false, false).encode_to(&mut h);
    h
}

async fn serve_connection(node: Arc<Node>, socket: tokio::net::TcpStream) {
    let mut server = soketto::handshake::Server::new(socket.compat());
    let key = match server.receive_request().await {
        Ok(req) => req.key(),
        Err(_) => return,
    };
    let accept = soketto::handshake::server::Response::Accept { key, protocol: None };
    if server.send_response(&accept).await.is_err() {
        return;
    }
    node.connections.fetch_add(1, Ordering::SeqCst);
    let (mut tx, mut rx) = server.into_builder().finish();
    let mut kill = node.kill.subscribe();
    loop {
        let mut buf = Vec::new();
        tokio::select! {
            _ = kill.changed() => {
                let _ = tx.close().await;
                return;
            }
            r = rx.receive_data(&mut buf) => if r.is_err() { return },
        }
        let req: Json = serde_json::from_slice(&buf).unwrap();
        let (id, method, params) =
            (req["id"].clone(), req["method"].as_str().unwrap().to_string(), req["params"].clone());
        let mut out = Vec::new();
        if method == "author_submitAndWatchExtrinsic" {
            let outcome = *node.outcome.lock().unwrap();
            if outcome == Outcome::SubmitRejects {
                let err = json!({"code": 1010, "message": "Invalid Transaction", "data": "Custom error: 6"});
                out.push(json!({"jsonrpc": "2.0", "id": id, "error": err}));
            } else {
                node.submitted.lock().unwrap().push(unhex(&params[0]));
                out.push(json!({"jsonrpc": "2.0", "id": id, "result": "sub-1"}));
                for status in [json!("ready"), json!({"inBlock": INCLUDED})] {
                    let params = json!({"subscription": "sub-1", "result": status});
                    out.push(json!({"jsonrpc": "2.0", "method": "author_extrinsicUpdate", "params": params}));
                }
            }
        } else {
            out.push(match node.answer(&method, &params) {
                Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
                Err(error) => json!({"jsonrpc": "2.0", "id": id, "error": error}),
            });
        }
        for msg in out {
            if tx.send_text(msg.to_string()).await.is_err() || tx.flush().await.is_err() {
                return;
            }
        }
    }
}

async fn start_node() -> (Arc<Node>, String) {
    let node = Node::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let n = node.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::spawn(serve_connection(n.clone(), socket));
        }
    });
    (node, url)
}

fn options() -> SubtensorOptions {
    SubtensorOptions {
        reconnect_attempts: 3,
        reconnect_backoff: Duration::from_millis(20),
        tx_timeout: Duration::from_secs(20),
        request_timeout: Duration::from_secs(20),
        ..Default::default()
    }
}

#[tokio::test]
async fn connect_read_reconnect_and_submit() {
    let (node, url) = start_node().await;
    let alice = Keypair::from_uri("//Alice").unwrap();
    let bob = Keypair::from_uri("//Bob").unwrap();
    let chain =
        SubtensorChain::connect(Network::Custom(url.clone()), options()).await.unwrap().with_hotkey(alice.clone());
    let chain: Arc<dyn Chain> = Arc::new(chain);
    assert_eq!(chain.describe(), format!("subtensor ({url})"));
    // The metadata came from the node (Metadata_metadata_at_version) and was checked at connect.
    assert!(node.calls.lock().unwrap().iter().any(|m| m == "state_call"));

    assert_eq!(chain.block_number().await.unwrap(), 1000);
    let mg = chain.metagraph(1).await.unwrap();
    assert_eq!((mg.netuid, mg.block, mg.neurons.len()), (1, 1000, 1));
    let n = &mg.neurons[0];
    assert_eq!((n.hotkey.as_str(), n.coldkey.as_str(), n.stake), (alice.ss58(), bob.ss58(), 42));
    assert_eq!((n.emission, n.incentive, n.consensus, n.dividends, n.last_update), (99, 1, 2, 3, 900));
    assert_eq!(n.axon.endpoint(), "10.1.2.3:8091");
    let h = chain.hyperparams(1).await.unwrap();
    assert_eq!((h.tempo, h.weights_version, h.weights_rate_limit, h.burn), (99, 5, 100, 1_000_000));
    assert_eq!(chain.uid_of(1, alice.ss58()).await.unwrap(), Some(3));
    let c = chain.commitment(1, alice.ss58()).await.unwrap().unwrap();
    assert_eq!((c.block, c.data()), (4_000_000, Some(&b"orchestra:v1"[..])));

    // The node drops every connection; the next call reconnects.
    assert_eq!(node.connections.load(Ordering::SeqCst), 1);
    node.kill.send_modify(|g| *g += 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(chain.block_number().await.unwrap(), 1000);
    assert_eq!(node.connections.load(Ordering::SeqCst), 2);

    let w = WeightsSubmission::from_float(&[0, 1], &[1.0, 0.5], 0).unwrap();

    *node.outcome.lock().unwrap() = Outcome::PoolRejects;
    let e = chain.set_weights(1, &w).await.unwrap_err();
    assert!(e.is("RateLimitExceeded") && e.is_rate_limited(), "{e}");
    assert!(matches!(e, ChainError::InvalidTransaction { custom_code: Some(6), .. }));
    assert!(node.submitted.lock().unwrap().is_empty(), "rejected in the dry run, never broadcast");

    *node.outcome.lock().unwrap() = Outcome::FailsInBlock;
    let e = chain.set_weights(1, &w).await.unwrap_err();
    assert!(e.is("SettingWeightsTooFast") && e.is_rate_limited(), "{e}");
    assert!(matches!(&e, ChainError::Dispatch { pallet, .. } if pallet == "SubtensorModule"), "{e}");

    *node.outcome.lock().unwrap() = Outcome::Succeeds;
    let out = chain.serve_axon(1, &AxonServe::new("10.1.2.3".parse().unwrap(), 8091, 7)).await.unwrap();
    assert_eq!(out.block_hash.as_deref(), Some(INCLUDED));
    assert_eq!(out.block_number, Some(1001));

    // What was broadcast is a signed v4 extrinsic from Alice with the nonce the node gave (5).
    let sent = node.submitted.lock().unwrap().clone();
    assert_eq!(sent.len(), 2);
    let ext =
        subxt::ext::frame_decode::extrinsics::decode_extrinsic(&mut &sent[1][..], &node.md, node.md.types()).unwrap();
    assert_eq!((ext.pallet_name(), ext.call_name()), ("SubtensorModule", "serve_axon"));
    assert_eq!(&sent[1][ext.signature_payload().unwrap().address_range()][1..], &alice.public().0);
    let nonce = ext.transaction_extension_payload().unwrap().iter().find(|a| a.name() == "CheckNonce").unwrap();
    assert_eq!(sent[1][nonce.range()].to_vec(), Compact(5u32).encode());

    // No coldkey was given: registration cannot be signed.
    assert!(matches!(chain.burned_register(1, alice.ss58()).await, Err(ChainError::MissingSigner("coldkey"))));
}

#[tokio::test]
async fn submit_rejection_without_dry_run() {
    let (node, url) = start_node().await;
    let opts = SubtensorOptions { validate_before_submit: false, ..options() };
    let chain = SubtensorChain::connect(Network::Custom(url), opts)
        .await
        .unwrap()
        .with_hotkey(Keypair::from_uri("//Alice").unwrap());
    *node.outcome.lock().unwrap() = Outcome::SubmitRejects;
    let e = chain.set_commitment(1, b"x").await.unwrap_err();
    assert!(e.is("RateLimitExceeded"), "{e}");
    assert!(matches!(e, ChainError::InvalidTransaction { custom_code: Some(6), .. }));
}

#[tokio::test]
async fn connect_gives_up_after_the_backoff() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let opts = SubtensorOptions { reconnect_attempts: 2, reconnect_backoff: Duration::from_millis(10), ..options() };
    let started = std::time::Instant::now();
    let e = SubtensorChain::connect(Network::Custom(format!("ws://127.0.0.1:{port}")), opts).await.unwrap_err();
    assert!(matches!(e, ChainError::Connection { .. }), "{e}");
    // Two pauses: 10 ms then 20 ms.
    assert!(started.elapsed() >= Duration::from_millis(30));
}
