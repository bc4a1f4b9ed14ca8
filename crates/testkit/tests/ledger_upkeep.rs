//! The validator's `ledger-upkeep` task against simulated subnets over real HTTP (in one
//! process): candidates promoted by its re-probes, a search subnet taken down for longer than
//! the window degraded and recovered when it returns (both in the change feed), the miner's
//! router preferring the healthy search subnet meanwhile, a proposal whose probe met the outage
//! deferred (not rejected, nobody penalized) and decided once the subnet is back, and the
//! per-cycle probe budget. `tests/upkeep_processes.rs` runs the same with the real binaries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestra_keys::Keypair;
use orchestra_ledger_store::governance::{self, DeferRule, Governed, PromotionRule, Received};
use orchestra_ledger_store::upkeep::UpkeepRule;
use orchestra_ledger_store::{ChangeKind, CreditKind, LedgerStore, ProposalStatus, StoreConfig};
use orchestra_net::GuardConfig;
use orchestra_proto::contract::Contract;
use orchestra_proto::ledger::{EntryStatus, LedgerEntry};
use orchestra_subnet_sim::{Faults, SimConfig, SubnetKind, SubnetSimConfig};
use orchestra_subnets::Adapters;
use orchestra_validator::prober::LiveProber;
use orchestra_validator::upkeep::{Upkeep, UpkeepConfig};
use serde_json::json;

const WINDOW: Duration = Duration::from_millis(1500);

fn config(max_probes: usize) -> UpkeepConfig {
    UpkeepConfig {
        interval: Duration::from_millis(200),
        cycle: Duration::from_millis(100),
        max_probes,
        max_time: Duration::from_secs(5),
        rate: 200.0,
        concurrency: 4,
        micros_per_1k_tokens: 500.0,
        rule: UpkeepRule {
            window: WINDOW,
            // Only the "down" rule decides here (a subnet down for the whole window).
            min_samples: 10_000,
            fail_streak: 2,
            recover_probes: 2,
            deprecate_after: Duration::from_secs(600),
            publish_every: Duration::from_millis(500),
            ..UpkeepRule::default()
        },
        promotion: PromotionRule { min_probes: 2, min_span: Duration::ZERO, min_gap: Duration::ZERO },
        defer: DeferRule { retry_after: Duration::ZERO, give_up_after: Duration::from_secs(3600) },
    }
}

/// Search 22 and a slower search 122, data 13, LLM 64.
fn four_subnets() -> SimConfig {
    let mut cfg = SimConfig::default_trio();
    cfg.subnets.push(SubnetSimConfig {
        kind: SubnetKind::Search,
        netuid: 122,
        name: "sim-search-b".into(),
        host: "127.0.0.1".into(),
        port: 0,
        faults: Faults { latency_ms: 100, ..Faults::default() },
        axon_only: false,
        axon_key: None,
    });
    cfg
}

fn status(store: &LedgerStore, netuid: u16) -> EntryStatus {
    store.entry(netuid).expect("read").expect("entry").status
}

fn search_order(store: &LedgerStore) -> Vec<u16> {
    let ledger = store.entries().expect("entries");
    orchestra_miner::router::route(&ledger, "web_search", &Contract::default()).iter().map(|e| e.netuid).collect()
}

async fn cycle_until(upkeep: &Upkeep, what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        upkeep.cycle().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn set_faults(base: &str, faults: serde_json::Value) {
    let r = reqwest::Client::new().post(format!("{base}/control/faults")).json(&faults).send().await.expect("faults");
    assert!(r.status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upkeep_task_keeps_the_ledger_true() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = orchestra_subnet_sim::start(four_subnets()).await.expect("sim");
    let entries: Vec<LedgerEntry> = sim.subnets.iter().map(orchestra_subnet_sim::ledger::entry).collect();
    let key = Keypair::from_uri("//UpkeepValidator").expect("key");
    let adapters = Adapters::with_guard(GuardConfig::local()).expect("adapters").with_keypair(key.clone());
    let prober = LiveProber { adapters: adapters.clone(), timeout: Duration::from_secs(2) };

    // The budget: one probe per cycle, the rest stays due.
    let small = Arc::new(LedgerStore::open(StoreConfig::new(dir.path().join("small"))).expect("store"));
    small.seed(entries.clone()).expect("seed");
    let budgeted = Upkeep::new(small.clone(), prober.clone(), key.ss58(), config(1));
    let r = budgeted.cycle().await;
    assert_eq!((r.probed, r.left), (1, 3), "{r:?}");

    let store = Arc::new(LedgerStore::open(StoreConfig::new(dir.path().join("ledger"))).expect("store"));
    store.seed(entries.clone()).expect("seed");
    let upkeep = Upkeep::new(store.clone(), prober.clone(), key.ss58(), config(16));

    // Seeded candidates become verified by the re-probes, with measured metrics.
    cycle_until(&upkeep, "every entry verified", Duration::from_secs(20), || {
        store.entries().expect("entries").iter().all(|e| e.status == EntryStatus::Verified)
    })
    .await;
    let e22 = store.entry(22).expect("read").expect("entry");
    assert_eq!(e22.metrics.reliability, Some(1.0));
    assert!(e22.metrics.latency_p50_ms.is_some() && e22.metrics.latency_p95_ms.is_some());
    assert_eq!(search_order(&store)[0], 22, "the faster search subnet is preferred while healthy");

    // A proposal for what 22 will show (a new field), made while 22 answers.
    let search = sim.subnets.iter().find(|s| s.netuid == 22).expect("22").base_url();
    let drift = json!({"after_ms": 0, "kind": "add_field", "path": "metadata.scrape_timestamp", "value": "2026-11-22T10:00:00Z"});
    set_faults(&search, json!({"drift": drift})).await;
    let out = adapters.call(&e22, &e22.fixture, "t", Duration::from_secs(2)).await;
    let leaf = out.receipt.as_ref().expect("receipt").leaf().expect("leaf");
    let p = orchestra_subnets::proposals_from_drift(&e22, &out.drift, leaf, "t", "5Miner")
        .into_iter()
        .next()
        .expect("a drift proposal");

    // 22 goes down: the proposal's probe fails transiently, so it waits (no decision, no penalty).
    set_faults(&search, json!({"down": true, "drift": drift})).await;
    let down_at = Instant::now();
    let Received::New(id) = governance::receive(&store, p, "5Miner").expect("receive") else { panic!("new") };
    let g = governance::govern_with(&store, &prober, &id, key.ss58(), &config(16).defer).await.expect("govern");
    assert!(matches!(g, Governed::Deferred { .. }), "{g:?}");
    assert!(store.decision(&id).expect("read").is_none());

    // Down for longer than the window: degraded, and the router stops preferring it.
    cycle_until(&upkeep, "22 degraded", Duration::from_secs(20), || status(&store, 22) == EntryStatus::Degraded).await;
    assert!(down_at.elapsed() >= WINDOW, "degraded only after the window");
    assert_eq!(search_order(&store), vec![122, 22], "the degraded entry is tried last");
    assert_eq!(status(&store, 122), EntryStatus::Verified);

    // Back (with its new field): verified again, and the deferred proposal decided on its merits.
    set_faults(&search, json!({"drift": drift})).await;
    cycle_until(&upkeep, "22 recovered and the proposal decided", Duration::from_secs(20), || {
        status(&store, 22) == EntryStatus::Verified
            && store.proposal(&id).expect("read").is_some_and(|r| r.status != ProposalStatus::Pending)
    })
    .await;
    let d = store.decision(&id).expect("read").expect("decided");
    assert!(d.approved, "{}", d.reason);
    assert_eq!(d.credits[0].hotkey, "5Miner");
    assert!(d.credits.iter().all(|c| c.kind != CreditKind::FalseProposal));
    // Verified again, but its reliability over the window still shows the outage: preferred
    // again once the window has passed.
    let store2 = store.clone();
    cycle_until(&upkeep, "22 preferred again", Duration::from_secs(20), move || search_order(&store2)[0] == 22).await;

    // The change feed shows both moves, in order.
    let feed = store.changes_since(0, 10_000).expect("feed");
    let at = |k: ChangeKind| feed.iter().position(|e| e.kind == k && e.netuid == Some(22));
    let (deg, rec) = (at(ChangeKind::EntryDegraded).expect("degraded event"), at(ChangeKind::EntryRecovered));
    assert!(rec.expect("recovered event") > deg);
    assert_eq!(feed[deg].detail["upkeep"]["rule"], "down");
    assert!(feed.iter().any(|e| e.kind == ChangeKind::SchemaChanged && e.netuid == Some(22)));
    assert!(
        upkeep
            .metrics()
            .probes
            .get_or_create(&orchestra_validator::upkeep::UpkeepLabels { outcome: "transient" })
            .get()
            > 0
    );
    sim.shutdown().await;
}
