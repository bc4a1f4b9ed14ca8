//! The on-disk layout is the one of schema version 1 from before the engine split (column
//! families, key bytes, value encodings), so databases written by older binaries open: the
//! Ledger writes through its keyspaces, and the raw bytes are read back with the engine.

mod common;

use common::entry;
use orchestra_ledger_store::upkeep::{self, Observation, UpkeepRule};
use orchestra_ledger_store::{LedgerStore, StoreConfig, Webhook};
use orchestra_store::{BigEndian, Keyspace, Schema, Slot, Store};
use serde_json::{Value, json};

const CFS: &[&str] = &[
    "entries",
    "versions",
    "proposals",
    "decisions",
    "changes",
    "api_keys",
    "usage",
    "webhooks",
    "outbox",
    "kv",
    "payments",
];

fn raw(cf: &'static str) -> Keyspace<Vec<u8>, Value> {
    Keyspace::new(cf, "")
}

#[test]
fn records_land_under_the_version_1_keys() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let s = LedgerStore::open(StoreConfig::new(dir.path())).expect("open");
        s.put_webhook(&Webhook {
            id: "wh1".into(),
            url: "http://127.0.0.1:9/hook".into(),
            secret: "s".into(),
            netuids: vec![],
            kinds: vec![],
            owner: "k".into(),
            active: true,
            created_ms: 0,
        })
        .expect("hook");
        s.seed(vec![entry(22)]).expect("seed");
        s.add_usage("key1", "2026-01", 5).expect("usage");
        let obs = Observation::Answered {
            latency_ms: 10,
            cost_micros: None,
            schema: json!({"type": "object"}),
            drift: vec![],
        };
        upkeep::record(&s, 22, &obs, 1_000, 2_000, "v", &UpkeepRule::default()).expect("upkeep");
    }
    let schema = Schema { name: "ledger", version: 1, column_families: CFS };
    let db = Store::open(&StoreConfig::new(dir.path()), schema).expect("open raw");
    assert_eq!(db.schema_version().expect("version"), 1);
    let seq = Slot::<u64, BigEndian>::new("meta", "last_seq").get(&db).expect("seq").expect("written");
    assert!(seq >= 1);

    assert_eq!(raw("entries").keys(&db).expect("keys"), [vec![0u8, 22]]);
    let mut version_key = vec![0u8, 22];
    version_key.extend_from_slice(&1u64.to_be_bytes());
    assert_eq!(raw("versions").keys(&db).expect("keys")[0], version_key);
    assert_eq!(raw("changes").keys(&db).expect("keys")[0], 1u64.to_be_bytes().to_vec());
    let mut outbox_key = 1u64.to_be_bytes().to_vec();
    outbox_key.extend_from_slice(b"/wh1");
    assert_eq!(raw("outbox").keys(&db).expect("keys")[0], outbox_key);
    assert_eq!(raw("webhooks").keys(&db).expect("keys"), [b"wh1".to_vec()]);

    let usage: Keyspace<String, u64, BigEndian> = Keyspace::new("usage", "");
    assert_eq!(usage.scan(&db).expect("usage"), [("key1/2026-01".to_string(), 5)]);
    let kv = raw("kv").keys(&db).expect("keys");
    assert!(kv.contains(&b"upkeep/entry/00022".to_vec()), "{kv:?}");

    let stored: Value = raw("entries").get(&db, &vec![0, 22]).expect("get").expect("entry");
    assert_eq!(stored["netuid"], 22, "entries are JSON");
}
