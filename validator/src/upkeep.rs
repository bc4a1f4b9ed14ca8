//! The validator's `ledger-upkeep` task: it keeps the Ledger true by re-probing every entry on a
//! jittered schedule, apart from the validation rounds (a slow or failing subnet never delays
//! weights).
//!
//! Every `--upkeep.cycle_secs` the task takes the entries that are due (each entry is probed
//! about every `--upkeep.interval_secs`, ±25% jitter, so probes do not come in lockstep) and the
//! deferred proposals that are due, and probes them through the validator's [`LiveProber`] (the
//! guarded client and the operator's credentials): at most `--upkeep.max_probes` per cycle, at
//! most `--upkeep.rate` started per second and `--upkeep.concurrency` at once, and no longer
//! than `--upkeep.max_secs` (what is left over stays due for the next cycle). Each probe is
//! recorded by [`orchestra_ledger_store::upkeep::record`], which keeps latency, reliability,
//! observed schema and measured cost over `--upkeep.window_secs` and moves the entry's status by
//! rule (verified → degraded → deprecated, degraded → verified), each move a change event.
//! Candidates are promoted through [`governance::promote_observed`] by the same probes. Drift the
//! probes keep seeing for a whole window becomes the validator's own schema-change proposal,
//! governed like a miner's (a miner that proposed it first keeps its credit). Deferred proposals
//! (their probe failed transiently) are probed again here.

use std::sync::Arc;
use std::time::Duration;

use orchestra_ledger_store::governance::{self, DeferRule, Governed, PromotionRule, Received};
use orchestra_ledger_store::upkeep::{self, Observation, UpkeepRule};
use orchestra_ledger_store::{LedgerStore, now_ms};
use orchestra_node::shutdown::CancellationToken;
use orchestra_proto::canonical::Digest;
use orchestra_proto::ledger::EntryStatus;
use orchestra_subnets::probe::{ProbeClass, ProbeReport};
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use rand::Rng;

use crate::prober::LiveProber;

/// Labels of the upkeep counters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct UpkeepLabels {
    pub outcome: &'static str,
}

/// Counters of the `ledger-upkeep` task.
#[derive(Debug, Default)]
pub struct UpkeepMetrics {
    /// Re-probes by outcome: `answered`, `transient`, `failed`, `local`.
    pub probes: Family<UpkeepLabels, Counter>,
    /// Status changes by new status: `verified`, `degraded`, `recovered`, `deprecated`.
    pub transitions: Family<UpkeepLabels, Counter>,
    /// Deferred proposals probed again, by outcome: `decided`, `deferred`.
    pub retried: Family<UpkeepLabels, Counter>,
    /// Cycles that ran out of their time budget.
    pub over_budget: Counter,
}

/// How the task schedules and budgets its probes.
#[derive(Debug, Clone)]
pub struct UpkeepConfig {
    /// Mean time between two probes of one entry (each is jittered by ±25%).
    pub interval: Duration,
    /// How often the task looks for due entries.
    pub cycle: Duration,
    /// Probes per cycle at most (entries and deferred proposals together).
    pub max_probes: usize,
    /// Time per cycle at most.
    pub max_time: Duration,
    /// Probes started per second at most.
    pub rate: f64,
    /// Probes in flight at once at most.
    pub concurrency: usize,
    /// The price the validator measures token costs with (µ per 1,000 tokens an
    /// OpenAI-compatible answer reports).
    pub micros_per_1k_tokens: f64,
    pub rule: UpkeepRule,
    pub promotion: PromotionRule,
    pub defer: DeferRule,
}

/// One piece of work of a cycle.
#[derive(Debug, Clone, Copy)]
enum Job {
    Entry(u16),
    Proposal(Digest),
}

/// What one cycle did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CycleReport {
    pub probed: usize,
    pub retried: usize,
    /// Due work left for the next cycle (over the probe or time budget).
    pub left: usize,
    pub over_budget: bool,
}

/// The task's state; cheap to clone into probe jobs.
#[derive(Clone)]
pub struct Upkeep {
    pub(crate) store: Arc<LedgerStore>,
    pub(crate) prober: LiveProber,
    pub(crate) validator: String,
    pub(crate) cfg: Arc<UpkeepConfig>,
    pub(crate) metrics: Arc<UpkeepMetrics>,
    /// Serializes read-modify-write of the validator's pending Ledger credits.
    pub(crate) activity_lock: Arc<Mutex<()>>,
}

impl std::fmt::Debug for Upkeep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upkeep").field("validator", &self.validator).field("cfg", &self.cfg).finish()
    }
}

/// The observation a probe report makes for the upkeep rules.
pub fn observation(report: &ProbeReport, micros_per_1k_tokens: f64) -> Observation {
    let latency_ms = u32::try_from(report.latency_ms).unwrap_or(u32::MAX);
    match report.class {
        ProbeClass::Answered => Observation::Answered {
            latency_ms,
            cost_micros: report.usage_tokens().map(|t| orchestra_subnets::probe::token_cost(t, micros_per_1k_tokens)),
            schema: report.output().map(orchestra_subnets::schema::infer_schema).unwrap_or_default(),
            drift: report.drift_paths(),
        },
        ProbeClass::Transient | ProbeClass::Failed => Observation::Failed { latency_ms, reason: report.summary() },
        ProbeClass::Local => Observation::NotProbed { reason: report.summary() },
    }
}

impl Upkeep {
    /// The task over `store`, probing through `prober` (the validator's adapters and probe
    /// timeout) as `validator`.
    pub fn new(store: Arc<LedgerStore>, prober: LiveProber, validator: impl Into<String>, cfg: UpkeepConfig) -> Self {
        Upkeep {
            store,
            prober,
            validator: validator.into(),
            cfg: Arc::new(cfg),
            metrics: Arc::new(UpkeepMetrics::default()),
            activity_lock: Arc::new(Mutex::new(())),
        }
    }

    pub fn metrics(&self) -> &UpkeepMetrics {
        &self.metrics
    }

    /// Run cycles until `shutdown` is cancelled (a cycle in progress is dropped: each
    /// observation is its own write, so nothing is left half-done).
    pub async fn run(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.cfg.cycle.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!(
            interval_secs = self.cfg.interval.as_secs_f64(),
            window_secs = self.cfg.rule.window.as_secs(),
            max_probes = self.cfg.max_probes,
            "keeping the Ledger true: scheduled re-probes"
        );
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.cancelled() => break,
            }
            let r = tokio::select! {
                r = self.cycle() => r,
                _ = shutdown.cancelled() => break,
            };
            if r.probed + r.retried > 0 {
                tracing::debug!(probed = r.probed, retried = r.retried, left = r.left, "upkeep cycle");
            }
        }
    }

    /// One cycle: probe what is due, within the cycle's budgets.
    pub async fn cycle(&self) -> CycleReport {
        let now = now_ms();
        let entries = match upkeep::due(&self.store, now) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "reading the entries due for a re-probe failed");
                return CycleReport::default();
            }
        };
        let proposals = governance::due_deferred(&self.store, now).unwrap_or_else(|e| {
            tracing::error!(error = %e, "reading deferred proposals failed");
            Vec::new()
        });
        let all: Vec<Job> =
            entries.into_iter().map(Job::Entry).chain(proposals.into_iter().map(Job::Proposal)).collect();
        let total = all.len();
        let jobs: Vec<Job> = all.into_iter().take(self.cfg.max_probes).collect();
        let mut report = CycleReport { left: total - jobs.len(), ..CycleReport::default() };
        let deadline = tokio::time::Instant::now() + self.cfg.max_time;
        let spacing = Duration::from_secs_f64(1.0 / self.cfg.rate.max(0.01));
        let slots = Arc::new(tokio::sync::Semaphore::new(self.cfg.concurrency.max(1)));
        let mut set = tokio::task::JoinSet::new();
        let mut started = 0;
        for job in &jobs {
            if tokio::time::Instant::now() >= deadline {
                break;
            }
            let permit = tokio::select! {
                p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                _ = tokio::time::sleep_until(deadline) => break,
            };
            let this = self.clone();
            let job = *job;
            set.spawn(async move {
                let _permit = permit;
                this.run_job(job, deadline).await;
                job
            });
            started += 1;
            if started < jobs.len() {
                tokio::select! {
                    _ = tokio::time::sleep(spacing) => {}
                    _ = tokio::time::sleep_until(deadline) => {}
                }
            }
        }
        let mut done = 0;
        let drained = tokio::time::timeout_at(deadline, async {
            while let Some(r) = set.join_next().await {
                if let Ok(job) = r {
                    done += 1;
                    match job {
                        Job::Entry(_) => report.probed += 1,
                        Job::Proposal(_) => report.retried += 1,
                    }
                }
            }
        })
        .await;
        if drained.is_err() || started < jobs.len() {
            set.abort_all();
            report.over_budget = true;
            report.left += jobs.len() - done;
            self.metrics.over_budget.inc();
            tracing::warn!(
                done,
                left = report.left,
                budget_secs = self.cfg.max_time.as_secs_f64(),
                "upkeep cycle ran out of time; the rest stays due"
            );
        }
        report
    }

    async fn run_job(&self, job: Job, deadline: tokio::time::Instant) {
        match job {
            Job::Entry(netuid) => self.probe_entry(netuid, deadline).await,
            Job::Proposal(id) => self.retry_proposal(&id).await,
        }
    }

    /// The next probe time of an entry probed at `at_ms`.
    fn next_probe(&self, at_ms: u64) -> u64 {
        let base = self.cfg.interval.as_secs_f64() * 1000.0;
        let jittered = base * rand::thread_rng().gen_range(0.75..1.25);
        at_ms.saturating_add(jittered.max(100.0) as u64)
    }

    async fn probe_entry(&self, netuid: u16, deadline: tokio::time::Instant) {
        let entry = match self.store.entry(netuid) {
            Ok(Some(e)) if e.status != EntryStatus::Deprecated => e,
            Ok(_) => return,
            Err(e) => {
                tracing::error!(netuid, error = %e, "reading an entry to re-probe failed");
                return;
            }
        };
        let at = now_ms();
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let prober = LiveProber { adapters: self.prober.adapters.clone(), timeout: self.prober.timeout.min(remaining) };
        let report = prober.observe(&entry).await;
        let label = match report.class {
            ProbeClass::Answered => "answered",
            ProbeClass::Transient => "transient",
            ProbeClass::Failed => "failed",
            ProbeClass::Local => "local",
        };
        self.metrics.probes.get_or_create(&UpkeepLabels { outcome: label }).inc();
        let obs = observation(&report, self.cfg.micros_per_1k_tokens);
        let rec =
            match upkeep::record(&self.store, netuid, &obs, at, self.next_probe(at), &self.validator, &self.cfg.rule) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(netuid, error = %e, "recording a re-probe failed");
                    return;
                }
            };
        if let Some(t) = &rec.transition {
            let to = match (t.from, t.to) {
                (EntryStatus::Degraded, EntryStatus::Verified) => "recovered",
                (_, EntryStatus::Degraded) => "degraded",
                (_, EntryStatus::Deprecated) => "deprecated",
                _ => "verified",
            };
            self.metrics.transitions.get_or_create(&UpkeepLabels { outcome: to }).inc();
            tracing::info!(netuid, from = ?t.from, to = ?t.to, rule = t.rule, reliability = ?rec.metrics.reliability,
                fail_streak = rec.state.fail_streak, "Ledger entry status changed by the re-probe rule");
        } else if report.class != ProbeClass::Answered {
            tracing::debug!(netuid, class = label, reason = %report.summary(), "re-probe failed");
        }
        if entry.status == EntryStatus::Candidate && report.class != ProbeClass::Local {
            let ok = report.answered() && report.outcome.drift.is_empty();
            match governance::promote_observed(
                &self.store,
                netuid,
                &self.validator,
                &self.cfg.promotion,
                ok,
                Some(rec.metrics.clone()),
            ) {
                Ok(governance::Promotion::Verified) => {
                    self.metrics.transitions.get_or_create(&UpkeepLabels { outcome: "verified" }).inc();
                    tracing::info!(netuid, "candidate verified by the re-probe rule");
                }
                Ok(p) => tracing::debug!(netuid, promotion = ?p, "candidate probed"),
                Err(e) => tracing::warn!(netuid, error = %e, "counting a promotion probe failed"),
            }
        }
        if rec.state.drift_persisted(at, self.cfg.rule.window) {
            self.propose_drift(&entry, &report).await;
        }
    }

    /// Drift the re-probes kept seeing for a whole window: the validator's own proposal, governed
    /// like any (deduplicated by content: a miner that proposed it first keeps the credit).
    async fn propose_drift(&self, entry: &orchestra_proto::ledger::LedgerEntry, report: &ProbeReport) {
        let Some(leaf) = report.outcome.receipt.as_ref().and_then(|r| r.leaf().ok()) else { return };
        let proposals =
            orchestra_subnets::proposals_from_drift(entry, &report.outcome.drift, leaf, "upkeep", &self.validator);
        for p in proposals {
            match governance::receive(&self.store, p, &self.validator) {
                Ok(Received::New(id)) => {
                    tracing::info!(netuid = entry.netuid, proposal = %id, "persistent drift proposed by the re-probes");
                    self.govern(&id).await;
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(netuid = entry.netuid, error = %e, "drift not proposable"),
            }
        }
    }

    async fn retry_proposal(&self, id: &Digest) {
        self.govern(id).await;
    }

    async fn govern(&self, id: &Digest) {
        match governance::govern_with(&self.store, &self.prober, id, &self.validator, &self.cfg.defer).await {
            Ok(Governed::Decided(d)) => {
                self.metrics.retried.get_or_create(&UpkeepLabels { outcome: "decided" }).inc();
                tracing::info!(proposal = %id, approved = d.approved, reason = %d.reason, "proposal decided");
                // The validator's own drift proposals earn it nothing (it is not a miner).
                let credits = d.credits.into_iter().filter(|c| c.hotkey != self.validator).collect();
                crate::node::record_credits(&self.store, &self.activity_lock, credits);
            }
            Ok(Governed::Deferred { reason, attempts, .. }) => {
                self.metrics.retried.get_or_create(&UpkeepLabels { outcome: "deferred" }).inc();
                tracing::info!(proposal = %id, attempts, reason = %reason, "proposal deferred: the subnet did not answer");
            }
            Err(e) => tracing::warn!(proposal = %id, error = %e, "governing a proposal failed"),
        }
    }
}
