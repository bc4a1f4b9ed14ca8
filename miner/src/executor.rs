//! Runs a plan: a DAG whose independent steps run concurrently, each call with a timeout,
//! retries with exponential backoff and jitter on retryable errors, then fallback to the next
//! subnet of the step's route; the whole task bounded by the contract's deadline and budget.
//!
//! Every completed step is checkpointed in the miner's store under the task id, so a miner
//! that is killed mid-task and asked again resumes from the checkpoint instead of paying for
//! the same calls twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestra_proto::contract::Contract;
use orchestra_proto::ledger::LedgerEntry;
use orchestra_proto::receipt::Receipt;
use orchestra_proto::retry::Backoff;
use orchestra_proto::synapses::{CallEvidence, LedgerProposal, PlanStep};
use orchestra_subnets::{Adapters, SubnetError, proposals_from_drift};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::MinerError;
use crate::state::MinerStore;

/// Longest single subnet call, whatever the deadline.
pub const MAX_CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest single LLM call: a real model writing a long cited answer takes a while.
pub const MAX_LLM_CALL_TIMEOUT: Duration = Duration::from_secs(90);
/// Retries of one subnet call: 50 ms doubling to 3.2 s, ±50% jitter (seeded per task and step).
const CALL_RETRY: Backoff = Backoff { base: Duration::from_millis(50), max: Duration::from_millis(3200), jitter: 0.5 };

/// What one step produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// One output per successful call (a scrape step makes several calls).
    pub outputs: Vec<Value>,
    /// Every call made, successful or not.
    pub receipts: Vec<Receipt>,
    /// The bodies behind each receipt, in the same order.
    #[serde(default)]
    pub evidence: Vec<CallEvidence>,
    pub proposals: Vec<LedgerProposal>,
    pub cost_micros: u64,
    /// True when the step was loaded from a checkpoint rather than executed now.
    #[serde(skip)]
    pub resumed: bool,
}

struct Shared {
    adapters: Adapters,
    /// The miner's current Ledger snapshot, shared by every task and call (not copied per task:
    /// with a thousand objectives in flight a copy each was a fifth of the miner's memory).
    ledger: Arc<Vec<LedgerEntry>>,
    contract: Contract,
    deadline: Instant,
    task_id: String,
    objective: String,
    proposer: String,
    /// Shared by every concurrent call of the task, so the budget holds across them.
    spent: Arc<Mutex<u64>>,
    store: Option<Arc<MinerStore>>,
}

/// Executes plans for one task.
pub struct Executor {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor").field("task_id", &self.shared.task_id).finish()
    }
}

impl Executor {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        adapters: Adapters,
        ledger: Arc<Vec<LedgerEntry>>,
        contract: Contract,
        deadline: Instant,
        task_id: &str,
        objective: &str,
        proposer: &str,
        store: Option<Arc<MinerStore>>,
    ) -> Self {
        Executor {
            shared: Arc::new(Shared {
                adapters,
                ledger,
                contract,
                deadline,
                task_id: task_id.into(),
                objective: objective.into(),
                proposer: proposer.into(),
                spent: Arc::new(Mutex::new(0)),
                store,
            }),
        }
    }

    /// Run every step; returns results by step id. A failed step fails the task unless no
    /// other step needs it and at least one step succeeded (a missing enrichment is better than
    /// no answer).
    pub async fn run(&self, plan: &[PlanStep]) -> Result<BTreeMap<String, StepResult>, MinerError> {
        crate::planner::validate(plan)?;
        // Results are shared with the steps that depend on them, not copied into each.
        let mut done: BTreeMap<String, Arc<StepResult>> = BTreeMap::new();
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        loop {
            let ready: Vec<&PlanStep> = plan
                .iter()
                .filter(|s| !done.contains_key(&s.id) && !failed.contains_key(&s.id))
                .filter(|s| s.depends_on.iter().all(|d| done.contains_key(d)))
                .collect();
            if ready.is_empty() {
                break;
            }
            let mut set = JoinSet::new();
            for step in ready {
                let shared = self.shared.clone();
                let step = step.clone();
                let deps: Vec<Arc<StepResult>> = step.depends_on.iter().filter_map(|d| done.get(d).cloned()).collect();
                set.spawn(async move {
                    let r = run_step(&shared, &step, &deps).await;
                    (step.id.clone(), r)
                });
            }
            while let Some(joined) = set.join_next().await {
                let (id, r) = joined.map_err(|e| MinerError::Step { step: "?".into(), reason: e.to_string() })?;
                match r {
                    Ok(res) => {
                        done.insert(id, Arc::new(res));
                    }
                    Err(e) => {
                        tracing::warn!(task = %self.shared.task_id, step = %id, error = %e, "step failed");
                        failed.insert(id, e.to_string());
                    }
                }
            }
        }
        if let Some((id, reason)) = failed.iter().find(|(id, _)| plan.iter().any(|s| s.depends_on.contains(id))) {
            return Err(MinerError::Step { step: id.clone(), reason: reason.clone() });
        }
        if done.is_empty() {
            let (step, reason) = failed.into_iter().next().unwrap_or(("?".into(), "no step ran".into()));
            return Err(MinerError::Step { step, reason });
        }
        // Keep the receipts of failed steps too: they were paid for and belong in the root.
        // Every step task has finished, so each result has one owner again.
        Ok(done.into_iter().map(|(id, r)| (id, Arc::try_unwrap(r).unwrap_or_else(|r| (*r).clone()))).collect())
    }

    pub fn spent(&self) -> u64 {
        *self.shared.spent.lock()
    }

    /// What is left of the contract's budget.
    pub fn budget_left(&self) -> u64 {
        self.shared.contract.budget_micros.saturating_sub(self.spent())
    }

    /// One LLM call (retries and fallback along `route`, budget as for any step, done by
    /// `until` or the task's deadline, whichever is first), outside the plan's DAG: the pipeline's extraction rounds. The token cost reported in
    /// the response's `usage` (× `micros_per_1k_tokens` / 1000, rounded up) is added to the
    /// receipt's cost and to the task's spending.
    pub async fn call_llm(
        &self,
        step_id: &str,
        route: &[u16],
        input: &Value,
        micros_per_1k_tokens: f64,
        until: Instant,
    ) -> (Result<Value, MinerError>, StepResult) {
        let mut res = StepResult::default();
        let out = call_until(&self.shared, step_id, route, input, &mut res, until).await;
        if let Ok(v) = &out {
            let extra = token_cost(v, micros_per_1k_tokens);
            if let Some(r) = res.receipts.last_mut() {
                r.cost_micros += extra;
            }
            res.cost_micros += extra;
            *self.shared.spent.lock() += extra;
        }
        (out, res)
    }
}

/// Tokens an OpenAI-compatible response says it used (`usage.total_tokens`, or prompt +
/// completion; 0 without `usage`). The validator's probes count them the same way.
pub fn usage_tokens(response: &Value) -> u64 {
    orchestra_subnets::probe::usage_tokens(response).unwrap_or(0)
}

/// Micro-units for the tokens of `response` at `micros_per_1k_tokens`, rounded up.
pub fn token_cost(response: &Value, micros_per_1k_tokens: f64) -> u64 {
    orchestra_subnets::probe::token_cost(usage_tokens(response), micros_per_1k_tokens)
}

async fn run_step(s: &Shared, step: &PlanStep, deps: &[Arc<StepResult>]) -> Result<StepResult, MinerError> {
    if let Some(store) = &s.store
        && let Some(mut r) = store.step(&s.task_id, &step.id)?
    {
        r.resumed = true;
        *s.spent.lock() += r.cost_micros;
        tracing::info!(task = %s.task_id, step = %step.id, "step resumed from checkpoint");
        return Ok(r);
    }
    let mut res = StepResult::default();
    match step.capability.as_str() {
        "scrape" => {
            let take = step
                .inputs
                .get("take")
                .and_then(Value::as_u64)
                .unwrap_or(crate::planner::MAX_SCRAPES as u64)
                .clamp(1, crate::planner::MAX_SCRAPES as u64) as usize;
            let mut seen = std::collections::BTreeSet::new();
            let links: Vec<String> = deps
                .iter()
                .flat_map(|r| r.outputs.iter())
                .flat_map(|o| o.get("search_results").and_then(Value::as_array).cloned().unwrap_or_default())
                .filter_map(|it| it.get("link").and_then(Value::as_str).map(str::to_string))
                .filter(|l| (l.starts_with("http://") || l.starts_with("https://")) && seen.insert(l.clone()))
                .take(take)
                .collect();
            if links.is_empty() {
                return Err(MinerError::Step { step: step.id.clone(), reason: "no links to scrape".into() });
            }
            // Scrapes of different pages are independent: run them concurrently.
            let mut set = JoinSet::new();
            for (i, link) in links.into_iter().enumerate() {
                let route = step.route.clone();
                let step_id = format!("{}.{i}", step.id);
                let shared = Shared {
                    adapters: s.adapters.clone(),
                    ledger: s.ledger.clone(),
                    contract: s.contract.clone(),
                    deadline: s.deadline,
                    task_id: s.task_id.clone(),
                    objective: s.objective.clone(),
                    proposer: s.proposer.clone(),
                    spent: s.spent.clone(),
                    store: None,
                };
                set.spawn(async move {
                    let mut part = StepResult::default();
                    let out = call_with_fallback(&shared, &step_id, &route, &json!({"url": link}), &mut part).await;
                    (i, out, part)
                });
            }
            // In link order, not completion order: the same evidence gives the same answer and
            // the same receipts whichever page answered first.
            let mut parts = Vec::with_capacity(set.len());
            while let Some(j) = set.join_next().await {
                parts.push(j.map_err(|e| MinerError::Step { step: step.id.clone(), reason: e.to_string() })?);
            }
            parts.sort_by_key(|(i, _, _)| *i);
            for (_, out, part) in parts {
                res.receipts.extend(part.receipts);
                res.evidence.extend(part.evidence);
                res.proposals.extend(part.proposals);
                res.cost_micros += part.cost_micros;
                if let Ok(v) = out {
                    res.outputs.push(v);
                }
            }
            if res.outputs.is_empty() {
                return Err(MinerError::Step { step: step.id.clone(), reason: "every scrape failed".into() });
            }
        }
        _ => {
            let v = call_with_fallback(s, &step.id, &step.route, &step.inputs, &mut res).await?;
            res.outputs.push(v);
        }
    }
    if let Some(store) = &s.store {
        store.put_step(&s.task_id, &step.id, &res)?;
    }
    Ok(res)
}

async fn call_with_fallback(
    s: &Shared,
    step_id: &str,
    route: &[u16],
    input: &Value,
    res: &mut StepResult,
) -> Result<Value, MinerError> {
    call_until(s, step_id, route, input, res, s.deadline).await
}

/// [`call_with_fallback`] that stops at `until` (no later than the task's deadline).
async fn call_until(
    s: &Shared,
    step_id: &str,
    route: &[u16],
    input: &Value,
    res: &mut StepResult,
    until: Instant,
) -> Result<Value, MinerError> {
    let deadline = until.min(s.deadline);
    let mut last: Option<String> = None;
    for netuid in route {
        let Some(entry) = s.ledger.iter().find(|e| e.netuid == *netuid) else { continue };
        for attempt in 0..=s.contract.max_retries {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(MinerError::Deadline(s.contract.deadline_ms));
            }
            let cost = entry.metrics.cost_micros;
            if *s.spent.lock() + cost > s.contract.budget_micros {
                last = Some(format!(
                    "netuid {netuid} costs {cost} µ and the budget has {} µ left",
                    s.contract.budget_micros.saturating_sub(*s.spent.lock())
                ));
                break;
            }
            // Each subnet of the route gets the inputs in the shape its schema accepts.
            let fitted = crate::planner::fit_inputs(&entry.input_schema, input);
            let input = &fitted;
            let cap = if entry.has_capability("llm_chat") && entry.capabilities.len() == 1 {
                MAX_LLM_CALL_TIMEOUT
            } else {
                MAX_CALL_TIMEOUT
            };
            let outcome = s.adapters.call(entry, input, step_id, remaining.min(cap)).await;
            // Every call that went out is receipted: failed attempts (an axon that did not
            // answer, a transport before the one that did) first, then the reported call.
            for a in outcome.attempts {
                *s.spent.lock() += a.receipt.cost_micros;
                res.cost_micros += a.receipt.cost_micros;
                res.receipts.push(a.receipt);
                res.evidence.push(a.evidence);
            }
            if let Some(r) = outcome.receipt {
                *s.spent.lock() += r.cost_micros;
                res.cost_micros += r.cost_micros;
                if !outcome.drift.is_empty()
                    && let Ok(leaf) = r.leaf()
                {
                    res.proposals.extend(proposals_from_drift(entry, &outcome.drift, leaf, &s.task_id, &s.proposer));
                }
                res.receipts.push(r);
                res.evidence.push(
                    outcome.evidence.unwrap_or_else(|| CallEvidence { request: input.clone(), response: Value::Null }),
                );
            }
            match outcome.output {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let retry = e.retryable() && attempt < s.contract.max_retries;
                    tracing::debug!(step = %step_id, netuid, attempt, error = %e, retry, "subnet call failed");
                    last = Some(format!("netuid {netuid}: {e}"));
                    if matches!(e, SubnetError::Schema(_)) || !retry {
                        break;
                    }
                    // Seeded jitter: the same task retries on the same schedule.
                    let backoff =
                        CALL_RETRY.delay_seeded(attempt + 1, format!("{}/{step_id}/{attempt}", s.task_id).as_bytes());
                    tokio::time::sleep(backoff.min(deadline.saturating_duration_since(Instant::now()))).await;
                }
            }
        }
    }
    if *s.spent.lock() >= s.contract.budget_micros && last.as_deref().is_some_and(|l| l.contains("budget")) {
        return Err(MinerError::Budget(last.unwrap_or_default()));
    }
    Err(MinerError::Step { step: step_id.into(), reason: last.unwrap_or_else(|| "no subnet on the route".into()) })
}
