//! Property tests for the Ledger's network input (threat model, "Parsers that take network
//! input"): a `LedgerProposals` answer as a miner's axon sends it, parsed and handed to
//! `governance::receive`. Arbitrary bytes and arbitrary proposals never panic: each is
//! accepted (`Received`) or refused with a named error (`StoreError::Invalid`).
//!
//! Bounded for the normal run (`PROPTEST_CASES`, default 256 per property, seconds); a long
//! run is documented in `docs/threat-model.md`.

mod common;

use common::{entry, leaf};
use orchestra_ledger_store::governance::{self, Received};
use orchestra_ledger_store::{LedgerStore, StoreConfig, StoreError};
use orchestra_proto::synapses::{LedgerProposal, LedgerProposals, UpdateType};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| json!(x)),
        "[a-z_]{0,12}".prop_map(Value::String),
        Just(json!("string")),
        Just(json!({"type": "string"})),
        Just(json!({"type": "object", "properties": {}})),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_.]{0,10}|type|properties|transports|url|auth|netuid", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("output_schema".to_string()),
        Just("output_schema.properties".to_string()),
        Just("output_schema.metadata.source".to_string()),
        Just("input_schema.prompt".to_string()),
        Just("transports.0.url".to_string()),
        Just("metrics.cost_micros".to_string()),
        Just("capabilities.0".to_string()),
        "[a-z_]{1,8}(\\.[a-z0-9_]{0,8}){0,5}",
        "[ -~]{0,40}",
    ]
}

fn update_type() -> impl Strategy<Value = UpdateType> {
    prop_oneof![
        Just(UpdateType::NewSubnet),
        Just(UpdateType::SchemaChange),
        Just(UpdateType::EndpointChange),
        Just(UpdateType::CapabilityAdded),
        Just(UpdateType::MetricsUpdate),
        Just(UpdateType::Deprecation),
    ]
}

fn proposal() -> impl Strategy<Value = LedgerProposal> {
    (
        prop_oneof![Just(13u16), Just(22u16), any::<u16>()],
        update_type(),
        field(),
        json_value(),
        json_value(),
        prop::collection::vec(any::<u8>(), 0..3),
        "[ -~]{0,20}",
    )
        .prop_map(|(netuid, update_type, field, old_value, new_value, ev, task_id)| LedgerProposal {
            netuid,
            subnet: format!("sn{netuid}"),
            update_type,
            field,
            old_value,
            new_value,
            evidence: ev.into_iter().map(leaf).collect(),
            task_id,
            proposed_by: "ignored".into(),
        })
}

/// A new subnet built from a real entry with random changes (the interesting part of the
/// new_subnet space: mostly well-formed entries).
fn new_subnet() -> impl Strategy<Value = LedgerProposal> {
    (any::<u16>(), json_value(), "[a-z_]{0,10}", json_value()).prop_map(|(netuid, extra, key, transports)| {
        let mut e = serde_json::to_value(entry(netuid)).unwrap_or(Value::Null);
        if let Some(m) = e.as_object_mut() {
            m.insert(key, extra);
            if !transports.is_null() {
                m.insert("transports".into(), transports);
            }
        }
        LedgerProposal {
            netuid,
            subnet: "x".into(),
            update_type: UpdateType::NewSubnet,
            field: String::new(),
            old_value: Value::Null,
            new_value: e,
            evidence: vec![leaf(1)],
            task_id: "t".into(),
            proposed_by: "ignored".into(),
        }
    })
}

fn check(s: &LedgerStore, p: LedgerProposal) -> Result<(), TestCaseError> {
    match governance::receive(s, p, "5Miner") {
        Ok(Received::New(_) | Received::Confirmation(_) | Received::Duplicate(_) | Received::AlreadyDecided(_)) => {
            Ok(())
        }
        Err(StoreError::Invalid(m)) => {
            prop_assert!(!m.trim().is_empty(), "a refusal names its reason");
            Ok(())
        }
        Err(e) => Err(TestCaseError::fail(format!("unexpected error kind: {e:?}"))),
    }
}

#[test]
fn arbitrary_proposals_are_received_or_refused_by_name() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = LedgerStore::open(StoreConfig { sync_writes: false, ..StoreConfig::new(dir.path()) }).expect("open");
    s.seed(vec![entry(13), entry(22)]).expect("seed");
    let mut runner = TestRunner::new(Config { cases: cases(), ..Config::default() });
    runner.run(&prop_oneof![proposal(), new_subnet()], |p| check(&s, p)).expect("property");
}

#[test]
fn arbitrary_ledger_proposals_bodies_never_panic() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = LedgerStore::open(StoreConfig { sync_writes: false, ..StoreConfig::new(dir.path()) }).expect("open");
    s.seed(vec![entry(13), entry(22)]).expect("seed");
    let mut runner = TestRunner::new(Config { cases: cases(), ..Config::default() });
    // Raw bytes, and JSON shaped like the synapse with arbitrary members.
    let bodies = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        (json_value(), prop::collection::vec(json_value(), 0..4)).prop_map(|(since, props)| {
            serde_json::to_vec(&json!({"since": since, "max": 5, "proposals": props, "next": 1})).unwrap_or_default()
        }),
        prop::collection::vec(proposal(), 0..4).prop_map(|ps| {
            serde_json::to_vec(&LedgerProposals { since: 0, max: 4, proposals: ps, next: 4 }).unwrap_or_default()
        }),
    ];
    runner
        .run(&bodies, |b| {
            let Ok(syn) = serde_json::from_slice::<LedgerProposals>(&b) else { return Ok(()) };
            for p in syn.proposals {
                check(&s, p)?;
            }
            Ok(())
        })
        .expect("property");
}
