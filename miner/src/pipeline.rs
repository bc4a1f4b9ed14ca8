//! One whole task: check the request, plan, execute, synthesize, and lock the response with the
//! receipt root and the miner's signature. Also the queue of Ledger proposals that validators
//! pull with the `LedgerProposals` synapse.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestra_keys::Keypair;
use orchestra_proto::ledger::LedgerEntry;
use orchestra_proto::receipt::{commitment, receipt_root, result_digest};
use orchestra_proto::shorthand;
use orchestra_proto::synapses::{LedgerProposal, LedgerProposals, Orchestrate};
use orchestra_subnets::Adapters;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::executor::Executor;
use crate::extraction::{ExtractionConfig, extract};
use crate::state::MinerStore;
use crate::{MinerError, planner, router, synth};

/// Objectives executed at once by default; more wait their turn (within their deadline).
/// The same as the axon's default handler cap.
pub const DEFAULT_MAX_CONCURRENT_OBJECTIVES: usize = 256;

/// A proposal waiting to be pulled, with its sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedProposal {
    pub seq: u64,
    pub proposal: LedgerProposal,
}

/// Everything a miner needs to serve tasks.
pub struct MinerCore {
    adapters: Adapters,
    /// Ask an LLM subnet for the plan first (falls back to the deterministic planner).
    llm_planner: bool,
    /// How results are extracted through the LLM subnet.
    extraction: ExtractionConfig,
    /// Shared by every task in flight (a task holds the snapshot it started with).
    ledger: RwLock<Arc<Vec<LedgerEntry>>>,
    keypair: Keypair,
    store: Option<Arc<MinerStore>>,
    proposals: Mutex<Vec<QueuedProposal>>,
    /// Slots for objectives being executed. An objective waiting for one holds only its
    /// request; one being executed holds its plan, its calls' connections and its evidence
    /// (≈ 140 KB), so this bounds the miner's memory whatever the number of objectives sent.
    running: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for MinerCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MinerCore").field("hotkey", &self.keypair.ss58()).finish()
    }
}

impl MinerCore {
    pub fn new(keypair: Keypair, ledger: Vec<LedgerEntry>, store: Option<Arc<MinerStore>>) -> Result<Self, MinerError> {
        let proposals = match &store {
            Some(s) => s.proposals()?,
            None => Vec::new(),
        };
        Ok(MinerCore {
            llm_planner: false,
            extraction: ExtractionConfig::default(),
            adapters: Adapters::new()?.with_keypair(keypair.clone()),
            ledger: RwLock::new(Arc::new(ledger)),
            keypair,
            store,
            proposals: Mutex::new(proposals),
            running: Arc::new(tokio::sync::Semaphore::new(DEFAULT_MAX_CONCURRENT_OBJECTIVES)),
        })
    }

    /// Execute at most `n` objectives at once (at least 1); the others wait for a slot, and the
    /// wait counts against their deadline.
    pub fn with_max_concurrent_objectives(mut self, n: usize) -> Self {
        self.running = Arc::new(tokio::sync::Semaphore::new(n.max(1)));
        self
    }

    /// [`MinerCore::new`] for local networks and tests: subnets on loopback and private
    /// addresses may be called (the simulated subnets are).
    pub fn new_local(
        keypair: Keypair,
        ledger: Vec<LedgerEntry>,
        store: Option<Arc<MinerStore>>,
    ) -> Result<Self, MinerError> {
        let adapters = Adapters::with_guard(orchestra_net::GuardConfig::local())?;
        Ok(Self::new(keypair, ledger, store)?.with_adapters(adapters))
    }

    /// Call subnets through `adapters` (their network policy and the operator's credentials);
    /// they sign with this miner's hotkey. The default is [`Adapters::new`]: public
    /// destinations only, no credentials.
    pub fn with_adapters(mut self, adapters: Adapters) -> Self {
        self.adapters = adapters.with_keypair(self.keypair.clone());
        self
    }

    /// Use the LLM planner (through the Ledger's `llm_chat` subnets) before the deterministic one.
    pub fn with_llm_planner(mut self, on: bool) -> Self {
        self.llm_planner = on;
        self
    }

    /// Tune the LLM extraction (context budget, max tokens, repair rounds, token price).
    pub fn with_extraction(mut self, cfg: ExtractionConfig) -> Self {
        self.extraction = cfg;
        self
    }

    pub fn hotkey(&self) -> &str {
        self.keypair.ss58()
    }

    /// The miner's store (checkpoints, the proposal queue), if it has one.
    pub fn store(&self) -> Option<Arc<MinerStore>> {
        self.store.clone()
    }

    /// Replace the miner's view of the Ledger (after a sync with a validator's Ledger API).
    pub fn set_ledger(&self, entries: Vec<LedgerEntry>) {
        *self.ledger.write() = Arc::new(entries);
    }

    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.ledger.read().as_ref().clone()
    }

    /// Serve one Orchestrate request. Never fails: a refused or failed task comes back with
    /// `error` set and no result.
    pub async fn orchestrate(&self, mut syn: Orchestrate) -> Orchestrate {
        let t0 = Instant::now();
        match self.run(&syn).await {
            Ok(done) => {
                syn.result = Some(done.result);
                syn.plan = done.plan;
                syn.receipts = done.receipts;
                syn.evidence = done.evidence;
                syn.citations = done.citations;
                syn.receipt_root = Some(done.root);
                syn.ledger_proposals = done.proposals;
                syn.cost_micros = done.cost;
                syn.miner_hotkey = Some(self.keypair.ss58().to_string());
                syn.miner_signature = Some(done.signature);
                syn.error = None;
                tracing::info!(task = %syn.task_id, ms = t0.elapsed().as_millis() as u64, receipts = syn.receipts.len(), "task done");
            }
            Err(e) => {
                tracing::warn!(task = %syn.task_id, error = %e, "task failed");
                syn.error = Some(e.to_string());
                syn.miner_hotkey = Some(self.keypair.ss58().to_string());
            }
        }
        syn
    }

    async fn run(&self, syn: &Orchestrate) -> Result<Done, MinerError> {
        let started = Instant::now();
        syn.check_request_digest().map_err(|e| MinerError::BadRequest(e.to_string()))?;
        let req = syn.request();
        req.validate().map_err(|e| MinerError::BadRequest(e.to_string()))?;
        let deadline_ms = req.contract.deadline_ms;
        let deadline = started + Duration::from_millis(deadline_ms);
        // Wait for an execution slot before building anything the objective needs.
        let _slot = match tokio::time::timeout_at(deadline.into(), self.running.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(MinerError::Plan("the miner is shutting down".into())),
            Err(_) => return Err(MinerError::Deadline(deadline_ms)),
        };
        let schema =
            shorthand::to_json_schema(&req.target_schema).map_err(|e| MinerError::BadRequest(e.to_string()))?;
        jsonschema::validator_for(&schema)
            .map_err(|e| MinerError::BadRequest(format!("target_schema is not a valid JSON Schema: {e}")))?;
        // The snapshot, not a copy: a thousand tasks in flight share one Ledger.
        let ledger = Arc::clone(&*self.ledger.read());
        let mut plan_calls = Vec::new();
        let plan = if self.llm_planner {
            let budget = Duration::from_millis(deadline_ms / 4);
            let (p, call) =
                planner::llm_plan(&self.adapters, &req.objective, &schema, &ledger, &req.contract, budget).await;
            plan_calls = call;
            match p {
                Ok(p) => p,
                Err(e) => {
                    tracing::info!(task = %req.task_id, reason = %e, "LLM plan unusable; deterministic plan");
                    planner::plan(&req.objective, &schema, &ledger, &req.contract)?
                }
            }
        } else {
            planner::plan(&req.objective, &schema, &ledger, &req.contract)?
        };
        let exec = Executor::new(
            self.adapters.clone(),
            Arc::clone(&ledger),
            req.contract.clone(),
            deadline,
            &req.task_id,
            &req.objective,
            self.keypair.ss58(),
            self.store.clone(),
        );
        let results = tokio::time::timeout_at(deadline.into(), exec.run(&plan))
            .await
            .map_err(|_| MinerError::Deadline(deadline_ms))??;

        // Receipts in plan order, then call order: the order is part of the root, and the
        // documents given to the LLM cite these indices.
        let mut receipts = Vec::new();
        let mut evidence = Vec::new();
        let mut proposals = Vec::new();
        let mut cost = 0;
        // The planning call, when an LLM planned, is paid work like any other: receipted first.
        for (r, e) in plan_calls {
            cost += r.cost_micros;
            receipts.push(r);
            evidence.push(e);
        }
        // Moved, not copied: each evidence body exists once from here on.
        let mut results = results;
        for step in &plan {
            if let Some(r) = results.remove(&step.id) {
                receipts.extend(r.receipts);
                evidence.extend(r.evidence);
                proposals.extend(r.proposals);
                cost += r.cost_micros;
            }
        }
        drop(results);

        // Synthesis: the LLM subnet extracts a cited answer; when none is routable or it keeps
        // failing, the deterministic fallback fills what the evidence states. The LLM gets the
        // deadline minus a reserve for the fallback.
        let llm_route: Vec<u16> = router::route(&ledger, "llm_chat", &req.contract).iter().map(|e| e.netuid).collect();
        let mut plan = plan;
        let mut answer = None;
        let mut llm_clean = false;
        let mut llm_reason = "no llm_chat subnet in the Ledger".to_string();
        if !llm_route.is_empty() {
            let reserve = Duration::from_millis((deadline_ms / 10).clamp(50, 2_000));
            let llm_deadline = deadline.checked_sub(reserve).unwrap_or(deadline);
            // A checked answer is checkpointed with the root of the receipts it cites, so a
            // restarted miner does not pay the LLM twice for the same evidence.
            let data_root = receipt_root(&receipts)?.to_hex();
            let saved = match &self.store {
                Some(s) => s.extraction(&req.task_id)?,
                None => None,
            };
            let outcome = match saved.filter(|(root, _)| *root == data_root) {
                Some((_, x)) => {
                    tracing::info!(task = %req.task_id, "extraction resumed from checkpoint");
                    Ok(x)
                }
                None => {
                    // The evidence is lent to the extraction, not copied for it.
                    let run = extract(
                        &exec,
                        &llm_route,
                        &req.objective,
                        &schema,
                        &receipts,
                        &evidence,
                        &self.extraction,
                        llm_deadline,
                    );
                    // The rounds stop by `llm_deadline` themselves (their receipts are kept);
                    // this is only a safety net.
                    let r = tokio::time::timeout_at(deadline.into(), run).await;
                    if let (Ok(x), Some(s)) = (&r, &self.store)
                        && x.answer.is_some()
                    {
                        s.put_extraction(&req.task_id, &data_root, x)?;
                    }
                    r
                }
            };
            match outcome {
                Ok(x) => {
                    if !x.calls.receipts.is_empty() {
                        plan.push(orchestra_proto::synapses::PlanStep {
                            id: "extract".into(),
                            capability: "llm_chat".into(),
                            inputs: serde_json::json!({"task": "extraction", "rounds": x.rounds}),
                            depends_on: plan.iter().map(|s| s.id.clone()).collect(),
                            route: llm_route.clone(),
                        });
                    }
                    receipts.extend(x.calls.receipts);
                    evidence.extend(x.calls.evidence);
                    proposals.extend(x.calls.proposals);
                    cost += x.calls.cost_micros;
                    answer = x.answer;
                    llm_clean = x.clean;
                    if let Some(r) = x.reason {
                        llm_reason = r;
                    }
                }
                Err(_) => llm_reason = "the LLM did not answer before the deadline".into(),
            }
        }
        // An answer that had to be pruned may have lost what the evidence plainly states: the
        // deterministic reading is kept instead when it fills more (cited) leaves.
        if !llm_clean && let Some((v, _)) = &answer {
            let records = synth::records(&receipts, &evidence);
            if let Ok(det) = synth::fill(&req.objective, &schema, &records)
                && orchestra_proto::extract::leaves(&det.0).len() > orchestra_proto::extract::leaves(v).len()
            {
                tracing::info!(task = %req.task_id, "the pruned LLM answer fills less than the evidence states; deterministic synthesis");
                answer = Some(det);
            }
        }
        let (result, citations) = match answer {
            Some(a) => a,
            None => {
                tracing::info!(task = %req.task_id, reason = %llm_reason, "no checked LLM answer; deterministic synthesis");
                let records = synth::records(&receipts, &evidence);
                synth::fill(&req.objective, &schema, &records).map_err(|e| match e {
                    MinerError::Synth(m) => MinerError::Synth(format!("{m}; LLM extraction: {llm_reason}")),
                    other => other,
                })?
            }
        };
        let mut seen = BTreeSet::new();
        proposals.retain(|p| seen.insert((p.netuid, p.field.clone(), p.update_type as u8)));
        let root = receipt_root(&receipts)?;
        let rd = result_digest(&result)?;
        let c = commitment(&req.task_id, &rd, &root);
        let signature = self.keypair.sign_hex(&c.0);
        self.enqueue(&proposals)?;
        Ok(Done { result, plan, receipts, evidence, citations, root, proposals, cost, signature })
    }

    fn enqueue(&self, new: &[LedgerProposal]) -> Result<(), MinerError> {
        if new.is_empty() {
            return Ok(());
        }
        let mut q = self.proposals.lock();
        let mut next = q.last().map(|p| p.seq).unwrap_or(0);
        for p in new {
            if q.iter().any(|x| {
                x.proposal.netuid == p.netuid && x.proposal.field == p.field && x.proposal.new_value == p.new_value
            }) {
                continue;
            }
            next += 1;
            q.push(QueuedProposal { seq: next, proposal: p.clone() });
        }
        // Keep the queue bounded: validators pull often; very old proposals are stale anyway.
        let excess = q.len().saturating_sub(1000);
        q.drain(..excess);
        if let Some(s) = &self.store {
            s.put_proposals(&q)?;
        }
        Ok(())
    }

    /// Answer a `LedgerProposals` pull.
    pub fn pull_proposals(&self, mut req: LedgerProposals) -> LedgerProposals {
        let q = self.proposals.lock();
        let max = req.max.clamp(1, 500) as usize;
        let out: Vec<&QueuedProposal> = q.iter().filter(|p| p.seq > req.since).take(max).collect();
        req.next = out.last().map(|p| p.seq).unwrap_or(req.since);
        req.proposals = out.into_iter().map(|p| p.proposal.clone()).collect();
        req
    }
}

struct Done {
    result: Value,
    plan: Vec<orchestra_proto::synapses::PlanStep>,
    receipts: Vec<orchestra_proto::receipt::Receipt>,
    evidence: Vec<orchestra_proto::synapses::CallEvidence>,
    citations: Vec<orchestra_proto::extract::Citation>,
    root: orchestra_proto::canonical::Digest,
    proposals: Vec<LedgerProposal>,
    cost: u64,
    signature: String,
}
