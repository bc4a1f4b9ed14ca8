//! Retention of what grows in the store (threat model S7): decided and stale proposals with
//! their decisions, usage counters of old months, dead and delivered webhook rows. (The scans
//! the nodes' retention tasks use are the engine's keyspaces, tested in `crates/store`.)

mod common;

use common::{entry, schema_proposal};
use orchestra_ledger_store::governance::{self, ProbeOutcome, Received};
use orchestra_ledger_store::{DeliveryState, LedgerStore, StoreConfig, Webhook, now_ms};
use serde_json::{Value, json};

fn open(dir: &tempfile::TempDir) -> LedgerStore {
    LedgerStore::open(StoreConfig::new(dir.path())).expect("open")
}

fn outcome(confirmed: bool) -> ProbeOutcome {
    if confirmed {
        ProbeOutcome::confirmed("probe", Value::Null, None)
    } else {
        ProbeOutcome::refuted("probe", Value::Null)
    }
}

#[test]
fn decided_and_stale_proposals_are_pruned_and_a_resent_one_earns_nothing_twice() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    s.seed(vec![entry(13)]).expect("seed");
    let field = |f: &str| {
        let mut p = schema_proposal(13, "x", json!({"type": "string"}));
        p.field = format!("output_schema.metadata.{f}");
        p
    };
    let tick = || std::thread::sleep(std::time::Duration::from_millis(5));
    let Received::New(approved) = governance::receive(&s, field("a"), "miner-a").expect("recv") else { panic!() };
    let Received::New(rejected) = governance::receive(&s, field("b"), "miner-b").expect("recv") else { panic!() };
    tick();
    governance::decide(&s, &approved, outcome(true), "v").expect("decide");
    tick();
    governance::decide(&s, &rejected, outcome(false), "v").expect("decide");
    tick();
    let Received::New(pending) = governance::receive(&s, field("c"), "miner-c").expect("recv") else { panic!() };
    assert_eq!(s.proposals().expect("all").len(), 3);

    // Nothing is old yet.
    let long_ago = now_ms() - 86_400_000;
    assert_eq!(s.prune_proposals(long_ago, long_ago, 100).expect("prune"), 0);
    // By count: the oldest go first (the first decision).
    assert_eq!(s.prune_proposals(long_ago, long_ago, 2).expect("prune"), 1);
    assert!(s.proposal(&approved).expect("get").is_none());
    assert_eq!(s.proposals().expect("all").len(), 2);
    // By age: decided ones after the decision, pending ones after arrival.
    let later = now_ms() + 1;
    assert_eq!(s.prune_proposals(later, long_ago, 100).expect("prune"), 1, "the remaining decided one");
    assert_eq!(s.proposals().expect("all").len(), 1);
    assert_eq!(s.prune_proposals(later, later, 100).expect("prune"), 1, "the stale pending one");
    assert!(s.proposals().expect("all").is_empty());
    for id in [approved, rejected, pending] {
        assert!(s.decision(&id).expect("get").is_none(), "decisions go with their proposals");
    }
    // The approved change is in the entry: sending it again is refused on arrival (stale), so
    // pruning its record cannot earn its proposer the discovery twice; so is the same change
    // written against the current value (a no-op).
    let err = governance::receive(&s, field("a"), "miner-a").expect_err("stale");
    assert!(err.to_string().contains("stale"), "{err}");
    let mut again = field("a");
    again.old_value = json!({"type": "string"});
    let err = governance::receive(&s, again, "miner-a").expect_err("no-op");
    assert!(err.to_string().contains("no change"), "{err}");
}

#[test]
fn usage_of_old_months_is_pruned() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    for (k, p) in [("key_a", "2025-01"), ("key_a", "2025-12"), ("key_b", "2026-01"), ("key_b", "2026-02")] {
        s.add_usage(k, p, 5).expect("usage");
    }
    assert_eq!(s.prune_usage("2026-01").expect("prune"), 2);
    assert_eq!(s.usage("key_a", "2025-12").expect("usage"), 0);
    assert_eq!(s.usage("key_b", "2026-01").expect("usage"), 5);
    assert_eq!(s.usage("key_b", "2026-02").expect("usage"), 5);
    assert_eq!(s.prune_usage("2026-01").expect("again"), 0);
}

#[test]
fn dead_webhook_rows_are_pruned_after_their_own_retention() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
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
    s.seed(vec![entry(1), entry(2), entry(3)]).expect("seed");
    let mut ds = s.deliveries().expect("outbox");
    assert_eq!(ds.len(), 3);
    ds[0].state = DeliveryState::Delivered;
    ds[1].state = DeliveryState::Dead;
    s.put_delivery(&ds[0]).expect("put");
    s.put_delivery(&ds[1]).expect("put");
    let after = ds.iter().map(|d| d.event.at_ms).max().expect("rows") + 1;
    // Delivered rows only: the dead one stays for inspection.
    assert_eq!(s.prune_outbox(after, 0).expect("prune"), (1, 0));
    // Then the dead one, after its own retention; the pending row is never touched.
    assert_eq!(s.prune_outbox(after, after).expect("prune"), (0, 1));
    let left = s.deliveries().expect("outbox");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].state, DeliveryState::Pending);
}
