//! The Ledger keeping itself true: re-probe bookkeeping outside the root and the change feed,
//! status moves by rule with their change events, transient outages deferring proposals
//! instead of penalizing their proposers, deprecations approved only by the rule.

mod common;

use std::time::Duration;

use common::{entry, schema_proposal};
use orchestra_ledger_store::governance::{
    self, DeferRule, Governed, ProbeOutcome, Prober, Promotion, PromotionRule, Received, Undecided,
};
use orchestra_ledger_store::upkeep::{self, Observation, UpkeepRule};
use orchestra_ledger_store::{ChangeKind, CreditKind, LedgerStore, ProposalStatus, StoreConfig};
use orchestra_proto::ledger::{EntryStatus, LedgerEntry, Metrics};
use orchestra_proto::synapses::{LedgerProposal, UpdateType};
use serde_json::{Value, json};

fn open(dir: &tempfile::TempDir) -> LedgerStore {
    LedgerStore::open(StoreConfig::new(dir.path())).expect("open")
}

fn rule() -> UpkeepRule {
    UpkeepRule {
        window: Duration::from_secs(10),
        min_reliability: 0.8,
        min_samples: 5,
        fail_streak: 3,
        recover_probes: 3,
        deprecate_after: Duration::from_secs(60),
        publish_every: Duration::from_secs(10),
        max_samples: 100,
    }
}

fn ok(latency_ms: u32) -> Observation {
    Observation::Answered { latency_ms, cost_micros: None, schema: json!({"type": "object"}), drift: vec![] }
}

fn down() -> Observation {
    Observation::Failed { latency_ms: 5, reason: "connection failed".into() }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn verified(netuid: u16) -> LedgerEntry {
    LedgerEntry { status: EntryStatus::Verified, ..entry(netuid) }
}

fn kinds_after(s: &LedgerStore, seq: u64) -> Vec<ChangeKind> {
    s.changes_since(seq, 1000).expect("feed").iter().map(|e| e.kind).collect()
}

#[test]
fn a_subnet_down_for_the_window_is_degraded_recovers_and_is_deprecated_after_the_longer_window() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    s.seed(vec![verified(22)]).expect("seed");
    // Only the "down" rule here (the reliability rule has its own test).
    let r = UpkeepRule { min_samples: 50, ..rule() };
    let rec = |obs: Observation, t: u64| upkeep::record(&s, 22, &obs, t, t + 1000, "v", &r).expect("record");

    // The first answer gives the entry measured metrics: one write.
    let seq0 = s.last_seq();
    let first = rec(ok(40), 0);
    assert!(first.published, "{first:?}");
    assert_eq!(kinds_after(&s, seq0), vec![ChangeKind::MetricsUpdated]);
    // Further probes are bookkeeping: no new version, root or change event.
    let (seq, root) = (s.last_seq(), s.root().expect("root"));
    for t in [1_000, 2_000] {
        assert!(!rec(ok(42), t).published);
    }
    assert_eq!((s.last_seq(), s.root().expect("root")), (seq, root), "probes that change nothing stay out");
    let st = upkeep::state(&s, 22).expect("state").expect("kept beside the Ledger");
    assert_eq!(st.samples.len(), 3);
    assert_eq!(st.next_probe_ms, 3_000);

    // Down: three failures, but not for a whole window yet.
    for t in [3_000, 4_000, 5_000] {
        assert_eq!(rec(down(), t).status, EntryStatus::Verified, "not down for the window yet");
    }
    // A probe this validator could not make says nothing and breaks no run.
    let skipped = rec(Observation::NotProbed { reason: "no operator credential".into() }, 8_000);
    assert_eq!(skipped.state.fail_streak, 3);
    // Still failing 10 s after the first failure: degraded.
    let d = rec(down(), 13_000);
    let t = d.transition.expect("degraded");
    assert_eq!((t.from, t.to, t.rule), (EntryStatus::Verified, EntryStatus::Degraded, "down"));
    let e = s.entry(22).expect("get").expect("present");
    assert_eq!(e.status, EntryStatus::Degraded);
    assert!(e.verifies(), "a degraded entry keeps its trust");
    assert_eq!(e.metrics.reliability, Some(0.0), "the window (3..13 s) saw only failures");
    let ev = s.changes_since(0, 1000).expect("feed").into_iter().last().expect("event");
    assert_eq!(ev.kind, ChangeKind::EntryDegraded);
    assert_eq!(ev.detail["upkeep"]["rule"], "down");
    assert_eq!(ev.detail["upkeep"]["down_since_ms"], 3_000);

    // Back: three answers in a row recover it.
    assert_eq!(rec(ok(40), 14_000).status, EntryStatus::Degraded);
    assert_eq!(rec(ok(40), 15_000).status, EntryStatus::Degraded);
    let back = rec(ok(40), 16_000);
    assert_eq!(back.transition.as_ref().map(|t| t.rule), Some("recovered"));
    assert_eq!(s.entry(22).expect("get").expect("present").status, EntryStatus::Verified);
    let kinds = kinds_after(&s, 0);
    let deg = kinds.iter().position(|k| *k == ChangeKind::EntryDegraded).expect("degraded event");
    let rcv = kinds.iter().position(|k| *k == ChangeKind::EntryRecovered).expect("recovered event");
    assert!(deg < rcv);

    // Down for good: degraded after the window, deprecated after the longer one.
    let mut t = 20_000;
    while s.entry(22).expect("get").expect("present").status != EntryStatus::Deprecated {
        rec(down(), t);
        t += 5_000;
        assert!(t < 100_000, "never deprecated");
    }
    assert!(t - 5_000 >= 20_000 + 60_000, "deprecated only after the longer window");
    let ev = s.changes_since(0, 1000).expect("feed").into_iter().last().expect("event");
    assert_eq!((ev.kind, ev.detail["upkeep"]["rule"].as_str()), (ChangeKind::EntryDeprecated, Some("down_too_long")));
    assert!(upkeep::due(&s, u64::MAX).expect("due").is_empty(), "deprecated entries are not probed");
}

#[test]
fn a_flaky_subnet_is_degraded_by_reliability_and_metrics_are_measured() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    let mut e = verified(64);
    e.metrics.cost_micros = 500;
    s.seed(vec![e]).expect("seed");
    let r = rule();
    let measured = |lat: u32, cost: u64| Observation::Answered {
        latency_ms: lat,
        cost_micros: Some(cost),
        schema: json!({}),
        drift: vec![],
    };
    let mut t = 0;
    let mut last = None;
    for (i, obs) in [measured(100, 30), down(), measured(300, 30), down(), measured(200, 50)].into_iter().enumerate() {
        last = Some(upkeep::record(&s, 64, &obs, t, t + 1, "v", &r).expect("record"));
        t += 1_000;
        if i < 4 {
            assert_eq!(last.as_ref().map(|l| l.status), Some(EntryStatus::Verified));
        }
    }
    let last = last.expect("recorded");
    let tr = last.transition.expect("degraded");
    assert_eq!(tr.rule, "unreliable");
    let e = s.entry(64).expect("get").expect("present");
    assert_eq!(e.metrics.reliability, Some(0.6));
    assert_eq!((e.metrics.latency_p50_ms, e.metrics.latency_p95_ms), (Some(200), Some(300)));
    assert_eq!(e.metrics.cost_micros, 30, "the validator's measured cost, not the operator's 500");
}

/// A prober whose answer the test sets.
struct FixedProber(std::sync::Mutex<ProbeOutcome>);

impl FixedProber {
    fn new(o: ProbeOutcome) -> Self {
        FixedProber(std::sync::Mutex::new(o))
    }
    fn set(&self, o: ProbeOutcome) {
        *self.0.lock().expect("lock") = o;
    }
}

impl Prober for FixedProber {
    async fn probe(&self, _c: Option<&LedgerEntry>, _p: &LedgerEntry, _q: &LedgerProposal) -> ProbeOutcome {
        self.0.lock().expect("lock").clone()
    }
}

fn transient() -> ProbeOutcome {
    ProbeOutcome::undecided(Undecided::Transient, "the subnet did not answer the fixture: HTTP 503", Value::Null)
}

#[test]
fn a_transient_outage_is_not_a_false_proposal() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    s.seed(vec![verified(13)]).expect("seed");
    let Received::New(id) =
        governance::receive(&s, schema_proposal(13, "", json!({"type": "string"})), "miner-a").expect("recv")
    else {
        panic!("new")
    };
    let prober = FixedProber::new(transient());
    let soon = DeferRule { retry_after: Duration::from_secs(3600), give_up_after: Duration::from_secs(7200) };
    let seq = s.last_seq();
    let g = block_on(governance::govern_with(&s, &prober, &id, "v", &soon)).expect("govern");
    let Governed::Deferred { attempts, .. } = g else { panic!("deferred, got {g:?}") };
    assert_eq!(attempts, 1);
    assert_eq!(s.proposal(&id).expect("get").expect("present").status, ProposalStatus::Pending);
    assert!(s.decision(&id).expect("get").is_none(), "no decision, no penalty");
    assert_eq!(s.last_seq(), seq, "a deferral is not a Ledger change");
    assert!(
        governance::due_deferred(&s, governance::deferred(&s).expect("list")[0].next_ms - 1).expect("due").is_empty()
    );
    assert_eq!(governance::due_deferred(&s, u64::MAX).expect("due"), vec![id]);
    // A later confirmation still counts: the proposal is pending.
    assert!(matches!(
        governance::receive(&s, schema_proposal(13, "", json!({"type": "string"})), "miner-b").expect("recv"),
        Received::Confirmation(_)
    ));

    // The subnet is back and shows the change: approved, both credited, nothing left deferred.
    prober.set(ProbeOutcome::confirmed("live response matches the proposed schema", Value::Null, None));
    let d = block_on(governance::govern_with(&s, &prober, &id, "v", &soon))
        .expect("govern")
        .into_decision()
        .expect("decided");
    assert!(d.approved);
    assert_eq!(
        d.credits.iter().map(|c| c.kind).collect::<Vec<_>>(),
        vec![CreditKind::Discovery, CreditKind::Confirmation]
    );
    assert!(governance::deferred(&s).expect("list").is_empty());

    // Down for longer than the validator waits: closed without credit or penalty.
    let Received::New(id2) = governance::receive(
        &s,
        LedgerProposal { field: "output_schema.other".into(), ..schema_proposal(13, "", json!({"type": "integer"})) },
        "miner-c",
    )
    .expect("recv") else {
        panic!("new")
    };
    prober.set(transient());
    let never = DeferRule { retry_after: Duration::ZERO, give_up_after: Duration::ZERO };
    let d = block_on(governance::govern_with(&s, &prober, &id2, "v", &never))
        .expect("govern")
        .into_decision()
        .expect("closed");
    assert!(!d.approved);
    assert!(d.reason.starts_with("undecidable"), "{}", d.reason);
    assert!(d.credits.is_empty(), "the proposer is not penalized for an outage");

    // A probe this validator cannot make at all: closed at once, no penalty either.
    let Received::New(id3) = governance::receive(
        &s,
        LedgerProposal { field: "output_schema.third".into(), ..schema_proposal(13, "", json!({"type": "integer"})) },
        "miner-d",
    )
    .expect("recv") else {
        panic!("new")
    };
    prober.set(ProbeOutcome::undecided(Undecided::Local, "no operator credential", Value::Null));
    let d = block_on(governance::govern(&s, &prober, &id3, "v")).expect("govern").into_decision().expect("closed");
    assert!(!d.approved && d.credits.is_empty());
}

#[test]
fn a_deprecation_is_approved_once_the_rule_deprecates_the_entry() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    s.seed(vec![verified(7)]).expect("seed");
    let p = LedgerProposal {
        update_type: UpdateType::Deprecation,
        field: String::new(),
        ..schema_proposal(7, "", Value::Null)
    };
    let Received::New(id) = governance::receive(&s, p.clone(), "watcher").expect("recv") else { panic!("new") };
    // The subnet does not answer: the claim waits for the re-probe rule.
    let prober = FixedProber::new(transient());
    let rule_d = DeferRule { retry_after: Duration::ZERO, give_up_after: Duration::from_secs(3600) };
    assert!(matches!(
        block_on(governance::govern_with(&s, &prober, &id, "v", &rule_d)).expect("govern"),
        Governed::Deferred { .. }
    ));
    // The rule deprecates it (down past both windows).
    let r = rule();
    for t in (0..=80_000).step_by(10_000) {
        upkeep::record(&s, 7, &down(), t, t + 1, "v", &r).expect("record");
    }
    let e = s.entry(7).expect("get").expect("present");
    assert_eq!(e.status, EntryStatus::Deprecated);
    let version = e.version;
    // Retried: approved and credited, without another entry version.
    let d = block_on(governance::govern_with(&s, &prober, &id, "v", &rule_d))
        .expect("govern")
        .into_decision()
        .expect("decided");
    assert!(d.approved, "{}", d.reason);
    assert_eq!(d.version, Some(version));
    assert_eq!(d.credits[0].kind, CreditKind::Discovery);
    assert_eq!(s.entry(7).expect("get").expect("present").version, version);
    let deprecations = kinds_after(&s, 0).into_iter().filter(|k| *k == ChangeKind::EntryDeprecated).count();
    assert_eq!(deprecations, 1);
    // Deprecating what is deprecated already is a no-op: refused on arrival.
    assert!(governance::receive(&s, p, "late").is_err());
}

#[test]
fn candidates_are_promoted_by_the_re_probes() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(&dir);
    let mut e = entry(40);
    e.provenance.proposer = Some("finder".into());
    s.seed(vec![e]).expect("seed");
    let rule = PromotionRule { min_probes: 2, min_span: Duration::ZERO, min_gap: Duration::from_millis(50) };
    assert_eq!(governance::promote_observed(&s, 40, "v", &rule, true, None).expect("p"), Promotion::Counted(1));
    assert_eq!(
        governance::promote_observed(&s, 40, "v", &rule, true, None).expect("p"),
        Promotion::NotDue,
        "too soon after the last counted probe"
    );
    assert_eq!(governance::promote_observed(&s, 40, "v", &rule, false, None).expect("p"), Promotion::Reset);
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(governance::promote_observed(&s, 40, "v", &rule, true, None).expect("p"), Promotion::Counted(1));
    std::thread::sleep(Duration::from_millis(60));
    let m = Metrics { latency_p50_ms: Some(12), latency_p95_ms: Some(20), reliability: Some(1.0), cost_micros: 0 };
    assert_eq!(
        governance::promote_observed(&s, 40, "v", &rule, true, Some(m.clone())).expect("p"),
        Promotion::Verified
    );
    let e = s.entry(40).expect("get").expect("present");
    assert_eq!((e.status, e.metrics), (EntryStatus::Verified, m));
    assert_eq!(kinds_after(&s, 0).last(), Some(&ChangeKind::EntryVerified));
}
