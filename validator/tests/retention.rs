//! The validator's retention rules (threat model S7): gateway objectives by age and count,
//! proposals, and the records of miners that left the metagraph.

use std::collections::BTreeSet;

use orchestra_ledger_store::{CF_KV, LedgerStore, StoreConfig};
use orchestra_store::{Batch, Keyspace};
use orchestra_validator::node::RetentionArgs;
use orchestra_validator::retention::{Pruned, prune};
use serde_json::{Value, json};

const DAY: u64 = 86_400_000;

/// The `kv` family as raw JSON under text keys: the records are written and checked under the
/// literal keys the validator always used, so the typed keyspaces keep that layout.
const KV: Keyspace<String, Value> = Keyspace::new(CF_KV, "");

fn put(s: &LedgerStore, key: &str, v: Value) {
    let mut b = Batch::new();
    KV.put(&mut b, &key.to_string(), &v).expect("put");
    s.db().commit(b).expect("commit");
}

fn keys(s: &LedgerStore, prefix: &str) -> Vec<String> {
    KV.keys(s.db()).expect("keys").into_iter().filter(|k| k.starts_with(prefix)).collect()
}

fn args() -> RetentionArgs {
    RetentionArgs {
        interval_secs: 3600,
        objective_days: 30,
        max_objectives: 3,
        proposal_days: 30,
        max_proposals: 100,
        usage_months: 12,
        dead_webhook_days: 30,
        task_days: 7,
    }
}

fn objective(id: &str, updated_ms: u64) -> serde_json::Value {
    json!({"id": id, "request": {"objective": "x", "target_schema": {"a": "str"}}, "state": "completed",
           "result": null, "miner": null, "scores": null, "receipts": [], "receipt_root": null,
           "revisions": [], "contestants": [], "owner": "key_1", "updated_ms": updated_ms})
}

#[test]
fn objectives_go_by_age_then_by_count() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = LedgerStore::open(StoreConfig::new(dir.path())).expect("open");
    let now = 100 * DAY;
    for (id, at) in [("obj-old", now - 31 * DAY), ("obj-1", now - 4 * DAY), ("obj-2", now - 3 * DAY)] {
        put(&s, &format!("validator/objective/{id}"), objective(id, at));
    }
    for id in ["obj-3", "obj-4"] {
        put(&s, &format!("validator/objective/{id}"), objective(id, now - DAY));
    }
    let p = prune(&s, &args(), None, now).expect("prune");
    assert_eq!(p, Pruned { objectives: 2, proposals: 0, miners: 0 }, "obj-old by age, obj-1 by count");
    let left = keys(&s, "validator/objective/");
    assert_eq!(left, ["obj-2", "obj-3", "obj-4"].map(|i| format!("validator/objective/{i}")).to_vec());
}

#[test]
fn records_of_miners_that_left_go_after_their_last_task_ages() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = LedgerStore::open(StoreConfig::new(dir.path())).expect("open");
    let now = 100 * DAY;
    let put_miner = |hk: &str, task: &str, at: u64| {
        put(&s, &format!("validator/task/{hk}/{task}"), json!({"task_id": task, "at_ms": at}));
        put(&s, &format!("validator/last_task/{hk}"), json!(task));
        put(&s, &format!("validator/miner/{hk}"), json!({}));
        put(&s, &format!("validator/leaves/{hk}"), json!([]));
    };
    put_miner("5Live", "t1", now - 30 * DAY);
    put_miner("5GoneLongAgo", "t2", now - 8 * DAY);
    put_miner("5GoneRecently", "t3", now - DAY);
    // A record left over by a crash between writing the new record and deleting the old one.
    put(&s, "validator/task/5Live/t0", json!({"task_id": "t0", "at_ms": 0}));
    // Not synced yet: nothing of any miner is touched.
    assert_eq!(prune(&s, &args(), None, now).expect("prune").miners, 0);
    let live: BTreeSet<String> = ["5Live".to_string()].into();
    let p = prune(&s, &args(), Some(&live), now).expect("prune");
    assert_eq!(p.miners, 1);
    let keys = keys(&s, "validator/");
    assert!(keys.iter().all(|k| !k.contains("5GoneLongAgo")), "{keys:?}");
    assert!(keys.contains(&"validator/task/5GoneRecently/t3".to_string()), "kept until its last task is old");
    assert!(keys.contains(&"validator/task/5Live/t1".to_string()), "a registered miner keeps its last task");
    assert!(!keys.contains(&"validator/task/5Live/t0".to_string()), "orphaned task records go");
    assert!(keys.contains(&"validator/miner/5Live".to_string()));
}
