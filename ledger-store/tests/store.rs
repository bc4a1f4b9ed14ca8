//! Store behaviour: entries and versions, the change feed, roots and proofs, bad input, restart.

mod common;

use common::{entry, schema_proposal};
use orchestra_ledger_store::{
    ChangeKind, LedgerStore, StoreConfig, StoreError,
    governance::{self, ProbeOutcome, Prober, Received},
};
use orchestra_proto::ledger::{EntryStatus, LedgerEntry};
use orchestra_proto::synapses::LedgerProposal;
use serde_json::{Value, json};

fn open(dir: &tempfile::TempDir) -> LedgerStore {
    LedgerStore::open(StoreConfig::new(dir.path())).expect("open")
}

#[test]
fn entries_versions_feed_and_root() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    assert_eq!(s.seed(vec![entry(22), entry(13)]).expect("seed"), 2);
    assert_eq!(s.seed(vec![entry(22)]).expect("reseed"), 0, "seeding is idempotent");
    let mut e = s.entry(22).expect("get").expect("present");
    assert_eq!(e.version, 1);
    e.description = "changed".into();
    let ev = s.upsert_entry(e, ChangeKind::EntryUpdated, "op").expect("upsert");
    assert_eq!((ev.seq, ev.version), (3, Some(2)));
    assert_eq!(s.history(22).expect("hist").len(), 2);
    assert_eq!(s.entry_version(22, 1).expect("v1").expect("present").description, "simulated subnet for tests");
    let feed = s.changes_since(0, 100).expect("feed");
    assert_eq!(feed.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(s.changes_since(2, 100).expect("feed").len(), 1);
    // Entries come back in netuid order and the root proves each.
    let all = s.entries().expect("all");
    assert_eq!(all.iter().map(|e| e.netuid).collect::<Vec<_>>(), vec![13, 22]);
    let (got, proof, root) = s.proof(22).expect("proof");
    assert!(proof.verify(&got.leaf().expect("leaf"), &root));
    assert_eq!(root, s.root().expect("root"));
    assert!(matches!(s.proof(99), Err(StoreError::NotFound(_))));
}

#[test]
fn bad_entries_change_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    let mut bad = entry(1);
    bad.capabilities.clear();
    let err = s.upsert_entry(bad, ChangeKind::EntryCreated, "op").expect_err("refused");
    assert!(err.to_string().contains("capability"), "{err}");
    assert_eq!(s.last_seq(), 0);
    assert!(s.entries().expect("all").is_empty());
}

#[test]
fn restart_keeps_everything() {
    let dir = tempfile::tempdir().expect("tmp");
    let (root, seq) = {
        let s = open(&dir);
        s.seed(vec![entry(1), entry(2), entry(3)]).expect("seed");
        (s.root().expect("root"), s.last_seq())
    };
    let s = open(&dir);
    assert_eq!(s.root().expect("root"), root);
    assert_eq!(s.last_seq(), seq);
    let ev = s.upsert_entry(entry(4), ChangeKind::EntryCreated, "op").expect("upsert");
    assert_eq!(ev.seq, seq + 1, "sequence continues after restart");
}

/// A prober that answers from a fixed table: confirms when the proposal's field is listed.
struct TableProber(Vec<String>);

impl Prober for TableProber {
    async fn probe(&self, _c: Option<&LedgerEntry>, _p: &LedgerEntry, proposal: &LedgerProposal) -> ProbeOutcome {
        let ok = self.0.contains(&proposal.field);
        ProbeOutcome {
            confirmed: ok,
            reason: if ok { "field seen in live response".into() } else { "field absent from live response".into() },
            observation: json!({"field": proposal.field}),
            metrics: None,
        }
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    // The store's futures never wait on I/O; a trivial executor is enough for tests.
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[test]
fn governance_credits_first_proposer_and_records_confirmations() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    s.seed(vec![entry(13)]).expect("seed");
    let ts = json!({"type": "string", "format": "date-time"});
    let r1 = governance::receive(&s, schema_proposal(13, "ignored", ts.clone()), "miner-a").expect("recv");
    let Received::New(id) = r1 else { panic!("expected new, got {r1:?}") };
    assert_eq!(
        governance::receive(&s, schema_proposal(13, "x", ts.clone()), "miner-a").expect("dup"),
        Received::Duplicate(id)
    );
    assert_eq!(
        governance::receive(&s, schema_proposal(13, "x", ts.clone()), "miner-b").expect("conf"),
        Received::Confirmation(id)
    );

    let prober = TableProber(vec!["output_schema.metadata.scrape_timestamp".into()]);
    let d = block_on(governance::govern(&s, &prober, &id, "validator-1")).expect("govern");
    assert!(d.approved);
    assert_eq!(d.version, Some(2));
    assert_eq!(d.credits.len(), 2);
    assert_eq!(d.credits[0].hotkey, "miner-a");
    let e = s.entry(13).expect("get").expect("present");
    assert_eq!(e.output_schema["properties"]["metadata"]["properties"]["scrape_timestamp"], ts);
    // An approval keeps the entry's status: the operator's seeded candidate still verifies.
    assert_eq!(e.status, EntryStatus::Candidate);
    assert!(e.verifies());
    assert_eq!(e.provenance.verifiers, vec!["validator-1".to_string()]);
    let kinds: Vec<ChangeKind> = s.changes_since(0, 100).expect("feed").iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            ChangeKind::EntryCreated,
            ChangeKind::ProposalReceived,
            ChangeKind::ProposalConfirmed,
            ChangeKind::SchemaChanged,
            ChangeKind::ProposalApproved
        ]
    );
    let schema_ev = &s.changes_since(3, 1).expect("feed")[0];
    assert_eq!(schema_ev.detail["severity"], json!("additive"));
    // Deciding twice is refused.
    assert!(matches!(block_on(governance::govern(&s, &prober, &id, "v")), Err(StoreError::Conflict(_))));
}

#[test]
fn governance_rejects_false_and_stale_proposals() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    s.seed(vec![entry(13)]).expect("seed");
    let prober = TableProber(vec![]);
    let Received::New(id) =
        governance::receive(&s, schema_proposal(13, "", json!({"type": "string"})), "liar").expect("recv")
    else {
        panic!("new")
    };
    let d = block_on(governance::govern(&s, &prober, &id, "v")).expect("govern");
    assert!(!d.approved);
    assert_eq!(d.credits[0].kind, orchestra_ledger_store::CreditKind::FalseProposal);
    assert_eq!(s.entry(13).expect("get").expect("present").version, 1, "entry unchanged");

    // Stale: old_value does not match what the Ledger holds. Refused on arrival, never stored.
    let mut p = schema_proposal(13, "", json!({"type": "string"}));
    p.field = "output_schema.metadata.source".into();
    p.old_value = json!({"type": "integer"});
    let e = governance::receive(&s, p, "m").expect_err("stale");
    assert!(e.to_string().contains("stale"), "{e}");
}

#[test]
fn malformed_proposals_are_refused_before_storage() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    s.seed(vec![entry(13)]).expect("seed");
    let mut p = schema_proposal(13, "", json!({"type": "string"}));
    p.evidence.clear();
    assert!(governance::receive(&s, p, "m").expect_err("no evidence").to_string().contains("evidence"));
    let p = schema_proposal(77, "", json!({"type": "string"}));
    assert!(governance::receive(&s, p, "m").expect_err("unknown").to_string().contains("not in the Ledger"));
    let mut p = schema_proposal(13, "", Value::Null);
    p.field = "transports..url".into();
    assert!(governance::receive(&s, p, "m").is_err());
    assert_eq!(s.proposals().expect("list").len(), 0);
    assert_eq!(s.last_seq(), 1);
}

#[test]
fn commit_listeners_last_seq_and_webhook_delete() {
    use orchestra_ledger_store::{DeliveryState, Webhook};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    let seen = Arc::new(AtomicU64::new(0));
    let seen2 = seen.clone();
    s.on_commit(move |seq| seen2.store(seq, Ordering::SeqCst));
    let hook = Webhook {
        id: "wh1".into(),
        url: "http://127.0.0.1:9/hook".into(),
        secret: "s".into(),
        netuids: vec![],
        kinds: vec![],
        owner: "k".into(),
        active: true,
        created_ms: 0,
    };
    s.put_webhook(&hook).expect("hook");
    assert_eq!(seen.load(Ordering::SeqCst), 0, "writes without events notify nobody");
    assert!(!s.changed_since(0));
    s.seed(vec![entry(1), entry(2)]).expect("seed");
    assert_eq!(seen.load(Ordering::SeqCst), 2);
    assert!(s.changed_since(1) && !s.changed_since(2));
    assert_eq!(s.webhook("wh1").expect("get"), Some(hook.clone()));
    // One delivery is done, one still pending: delete drops the webhook and the pending row only.
    let mut ds = s.deliveries().expect("outbox");
    assert_eq!(ds.len(), 2);
    ds[0].state = DeliveryState::Delivered;
    s.put_delivery(&ds[0]).expect("put");
    assert!(s.delete_webhook("wh1").expect("delete"));
    assert!(!s.delete_webhook("wh1").expect("delete again"));
    assert_eq!(s.webhook("wh1").expect("get"), None);
    let left = s.deliveries().expect("outbox");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].state, DeliveryState::Delivered);
    assert_eq!(s.prune_delivered(left[0].event.at_ms).expect("prune"), 0, "only older events go");
    assert_eq!(s.prune_delivered(left[0].event.at_ms + 1).expect("prune"), 1);
    assert!(s.deliveries().expect("outbox").is_empty());
    drop(s);
    let s = open(&dir);
    assert_eq!(s.last_seq(), 2, "the lock-free mirror starts from the stored sequence");
}

#[test]
fn the_real_subnet_seed_is_valid_and_unverified() {
    let seed = orchestra_ledger_store::real_subnet_seed().expect("seed");
    let netuids: Vec<u16> = seed.iter().map(|e| e.netuid).collect();
    assert_eq!(netuids, vec![22, 13, 64]);
    assert!(seed.iter().all(|e| e.status == EntryStatus::Candidate && !e.simulated));
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    assert_eq!(s.seed(seed).expect("seed"), 3);
    assert_eq!(s.find("llm_chat").expect("find")[0].name, "chutes");
}

fn proposal(
    netuid: u16,
    update_type: orchestra_proto::synapses::UpdateType,
    field: &str,
    new_value: Value,
) -> LedgerProposal {
    LedgerProposal { update_type, field: field.into(), new_value, ..schema_proposal(netuid, "", Value::Null) }
}

/// The free-credit attacks of the issue: no-op and unknown-field metrics updates, self-set
/// costs, endpoint changes, new subnets with URLs and credentials. All refused on arrival,
/// nothing stored, so nothing is probed, approved or credited.
#[test]
fn free_credit_proposals_are_refused_on_arrival() {
    use orchestra_proto::synapses::UpdateType::*;
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    s.seed(vec![entry(13)]).expect("seed");
    let cases = [
        (proposal(13, MetricsUpdate, "metrics.unknown_field", json!(1)), "metrics come from"),
        (proposal(13, MetricsUpdate, "metrics.cost_micros", json!(0)), "metrics come from"),
        (proposal(13, EndpointChange, "transports.0.url", json!("http://203.0.113.1/x")), "endpoint changes"),
        // A schema change may not reach outside the schemas.
        (proposal(13, SchemaChange, "transports.0.url", json!("http://203.0.113.1/x")), "must start with"),
        // An unknown top-level field is dropped by the entry model: a no-op.
        (proposal(13, SchemaChange, "output_schemax.a", json!({"type": "string"})), "must start with"),
        // A capability: a probe of the fixture cannot show one, so any name would be approved.
        (proposal(13, CapabilityAdded, "capabilities", json!("free_money")), "capabilities are not accepted"),
    ];
    for (p, why) in &cases {
        let e = governance::receive(&s, p.clone(), "spammer").expect_err("refused");
        assert!(e.to_string().contains(why), "{:?}: {e}", p.update_type);
    }
    // No-op: the same value the entry already has.
    let cur = s.entry(13).expect("get").expect("present");
    let mut noop = proposal(
        13,
        SchemaChange,
        "output_schema.metadata.source",
        cur.output_schema["properties"]["metadata"]["properties"]["source"].clone(),
    );
    noop.old_value = noop.new_value.clone();
    assert!(governance::receive(&s, noop, "spammer").expect_err("no-op").to_string().contains("no change"));
    assert_eq!(s.proposals().expect("list").len(), 0, "nothing refused was stored");
    assert_eq!(s.entry(13).expect("get").expect("present").version, 1, "entry unchanged");
}

/// Exfiltration and Ledger takeover through a new subnet: an entry naming an attacker URL and
/// an auth env var is refused whole; a metagraph-routed new subnet stays a candidate that
/// verifies no one even when approved.
#[test]
fn new_subnets_cannot_carry_urls_or_credentials_and_stay_candidates() {
    use orchestra_proto::synapses::UpdateType::NewSubnet;
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    let mut evil = serde_json::to_value(entry(99)).expect("json");
    evil["transports"] = json!([{"kind": "http_json", "url": "http://127.0.0.1:1/steal", "method": "POST",
                                 "auth": {"kind": "bearer", "env": "HOME"}}]);
    evil["status"] = json!("verified");
    let e = governance::receive(&s, proposal(99, NewSubnet, "", evil), "attacker").expect_err("refused");
    assert!(e.to_string().contains("URLs, endpoints or credentials"), "{e}");
    let mut fixed_axon = serde_json::to_value(entry(98)).expect("json");
    fixed_axon["transports"] = json!([{"kind": "axon_v10", "synapse": "Q", "endpoint": "127.0.0.1:9"}]);
    assert!(governance::receive(&s, proposal(98, NewSubnet, "", fixed_axon), "attacker").is_err());
    assert_eq!(s.proposals().expect("list").len(), 0);

    // Metagraph-routed: accepted for probing; approved, it is a candidate with the Ledger's own
    // metrics, not the proposer's, and it verifies no one.
    let mut ok = serde_json::to_value(entry(97)).expect("json");
    ok["transports"] = json!([{"kind": "axon_v10", "synapse": "Q"}]);
    ok["status"] = json!("verified");
    ok["metrics"] = json!({"cost_micros": 1, "reliability": 1.0});
    let Received::New(id) = governance::receive(&s, proposal(97, NewSubnet, "", ok), "finder").expect("recv") else {
        panic!("new")
    };
    let d = block_on(governance::govern(&s, &AlwaysProber(true), &id, "v")).expect("govern");
    assert!(d.approved);
    let e = s.entry(97).expect("get").expect("present");
    assert_eq!(e.status, EntryStatus::Candidate);
    assert_eq!(e.metrics.cost_micros, 0, "the proposer's cost is ignored");
    assert!(!e.verifies(), "a proposed subnet verifies no one until promoted");
}

struct AlwaysProber(bool);

impl Prober for AlwaysProber {
    async fn probe(&self, _c: Option<&LedgerEntry>, _p: &LedgerEntry, _q: &LedgerProposal) -> ProbeOutcome {
        ProbeOutcome { confirmed: self.0, reason: "probe".into(), observation: Value::Null, metrics: None }
    }
}

/// A confirmation of a decided proposal is recorded nowhere and credited to no one.
#[test]
fn confirmations_after_a_decision_earn_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    s.seed(vec![entry(13)]).expect("seed");
    let ts = json!({"type": "string"});
    let Received::New(id) = governance::receive(&s, schema_proposal(13, "", ts.clone()), "first").expect("recv") else {
        panic!("new")
    };
    let d = block_on(governance::govern(&s, &AlwaysProber(false), &id, "v")).expect("govern");
    assert!(!d.approved);
    assert_eq!(
        governance::receive(&s, schema_proposal(13, "", ts), "late").expect("recv"),
        Received::AlreadyDecided(id)
    );
    let rec = s.proposal(&id).expect("get").expect("present");
    assert!(rec.confirmations.is_empty(), "no confirmation recorded after the decision");
    let dec = s.decision(&id).expect("get").expect("present");
    assert!(dec.credits.iter().all(|c| c.hotkey != "late"), "no credit after the decision");
}

/// A candidate becomes Verified only after N successful probes over at least T, and a failure
/// starts the count again.
#[test]
fn candidates_are_promoted_by_probes_over_time() {
    use governance::{Promotion, PromotionRule};
    use std::time::Duration;
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    let mut e = entry(40);
    e.provenance.proposer = Some("finder".into());
    s.seed(vec![e]).expect("seed");
    assert!(!s.entry(40).expect("get").expect("present").verifies());
    let rule = PromotionRule { min_probes: 3, min_span: Duration::from_millis(30), min_gap: Duration::ZERO };
    let up = AlwaysProber(true);
    assert_eq!(block_on(governance::promote(&s, &up, 40, "v", &rule)).expect("p"), Promotion::Counted(1));
    assert_eq!(block_on(governance::promote(&s, &up, 40, "v", &rule)).expect("p"), Promotion::Counted(2));
    assert_eq!(block_on(governance::promote(&s, &AlwaysProber(false), 40, "v", &rule)).expect("p"), Promotion::Reset);
    assert_eq!(block_on(governance::promote(&s, &up, 40, "v", &rule)).expect("p"), Promotion::Counted(1));
    assert_eq!(block_on(governance::promote(&s, &up, 40, "v", &rule)).expect("p"), Promotion::Counted(2));
    // Three successes, but not yet spread over the span.
    assert_eq!(block_on(governance::promote(&s, &up, 40, "v", &rule)).expect("p"), Promotion::Counted(3));
    std::thread::sleep(Duration::from_millis(40));
    assert_eq!(block_on(governance::promote(&s, &up, 40, "v", &rule)).expect("p"), Promotion::Verified);
    let e = s.entry(40).expect("get").expect("present");
    assert_eq!(e.status, EntryStatus::Verified);
    assert!(e.verifies());
    // With a gap, probing again too soon does nothing.
    let mut e2 = entry(41);
    e2.provenance.proposer = Some("finder".into());
    s.seed(vec![e2]).expect("seed");
    let slow = PromotionRule { min_gap: Duration::from_secs(3600), ..rule };
    assert_eq!(block_on(governance::promote(&s, &up, 41, "v", &slow)).expect("p"), Promotion::Counted(1));
    assert_eq!(block_on(governance::promote(&s, &up, 41, "v", &slow)).expect("p"), Promotion::NotDue);
}
