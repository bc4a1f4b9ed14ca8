//! The validator's `retention` task: every store that grows has a rule, applied in the
//! background every `--retention.interval_secs` (never on a request path).
//!
//! | what | rule |
//! |---|---|
//! | gateway objectives (`validator/objective/*`) | removed `--retention.objective_days` after they last changed, and the oldest beyond `--retention.max_objectives` |
//! | Ledger proposals and decisions | removed `--retention.proposal_days` after the decision (pending ones that long after arrival), and the oldest beyond `--retention.max_proposals` ([`LedgerStore::prune_proposals`]) |
//! | task records, EMA state, known receipt leaves | one task record per miner while it is registered; everything of a miner that left the metagraph once its last task is `--retention.task_days` old |
//! | API usage counters | `--retention.usage_months` months before the current one (the Ledger API's own background task) |
//! | webhook outbox | delivered rows after 7 days, dead rows after `--retention.dead_webhook_days` (the webhook worker) |

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use orchestra_ledger_store::{LedgerStore, StoreError};
use orchestra_node::shutdown::CancellationToken;
use orchestra_store::{Batch, Json, Key, Keyspace};
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::node::{RetentionArgs, ValidatorNode};
use crate::records::{LAST_TASK, LEAVES, MINERS, OBJECTIVES, TASKS, TaskKey};

const DAY_MS: u64 = 86_400_000;

/// What one pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    pub objectives: usize,
    pub proposals: usize,
    /// Miners whose records were removed.
    pub miners: usize,
}

/// Only the time stamp of a stored objective (a scan reads no more than this).
#[derive(Deserialize)]
struct Stamp {
    #[serde(default)]
    updated_ms: u64,
}

/// Only the time stamp of a stored task record.
#[derive(Deserialize)]
struct TaskStamp {
    #[serde(default)]
    at_ms: u64,
}

/// The task records' keys as raw text, so a key of no known shape is skipped, not fatal.
const TASK_KEYS_RAW: Keyspace<String, IgnoredAny> = Keyspace::new(orchestra_ledger_store::CF_KV, "validator/task/");

/// One retention pass over `store` at `now_ms`. `live` is the hotkeys of the current
/// metagraph; without it (not synced yet) no miner's records are touched.
pub fn prune(
    store: &LedgerStore,
    r: &RetentionArgs,
    live: Option<&BTreeSet<String>>,
    now_ms: u64,
) -> Result<Pruned, StoreError> {
    let mut out = Pruned::default();
    let db = store.db();

    // Objectives: by age, then by count (oldest first).
    let cutoff = now_ms.saturating_sub(r.objective_days.saturating_mul(DAY_MS));
    let mut objectives: Vec<(String, Stamp)> = OBJECTIVES.view::<Stamp, Json>().scan(db)?;
    let mut gone: Vec<String> = Vec::new();
    objectives.retain(|(k, s)| {
        let old = s.updated_ms < cutoff;
        if old {
            gone.push(k.clone());
        }
        !old
    });
    if objectives.len() > r.max_objectives {
        objectives.sort_by(|a, b| a.1.updated_ms.cmp(&b.1.updated_ms).then_with(|| a.0.cmp(&b.0)));
        let extra = objectives.len() - r.max_objectives;
        gone.extend(objectives.drain(..extra).map(|(k, _)| k));
    }
    let mut b = Batch::new();
    for id in &gone {
        OBJECTIVES.delete(&mut b, id);
    }
    db.commit(b)?;
    out.objectives = gone.len();

    // Proposals and decisions.
    let cutoff = now_ms.saturating_sub(r.proposal_days.saturating_mul(DAY_MS));
    out.proposals = store.prune_proposals(cutoff, cutoff, r.max_proposals)?;

    // Miners that left the metagraph.
    if let Some(live) = live {
        let cutoff = now_ms.saturating_sub(r.task_days.saturating_mul(DAY_MS));
        let mut b = Batch::new();
        let mut gone_tasks: BTreeSet<TaskKey> = BTreeSet::new();
        let mut known: BTreeSet<String> = BTreeSet::new();
        known.extend(LAST_TASK.keys(db)?);
        known.extend(MINERS.keys(db)?);
        known.extend(LEAVES.keys(db)?);
        for hk in known.iter().filter(|hk| !live.contains(*hk)) {
            let last = LAST_TASK.get(db, hk)?;
            let at = match &last {
                Some(t) => TASKS.view::<TaskStamp, Json>().get(db, &TaskKey::new(hk, t))?.map(|s| s.at_ms).unwrap_or(0),
                None => 0,
            };
            if at >= cutoff {
                continue;
            }
            if let Some(t) = last {
                gone_tasks.insert(TaskKey::new(hk, &t));
            }
            LAST_TASK.delete(&mut b, hk);
            MINERS.delete(&mut b, hk);
            LEAVES.delete(&mut b, hk);
            out.miners += 1;
        }
        // Task records whose miner has no `last_task` pointer any more (left over by a crash
        // between writing the new record and deleting the old one).
        for k in TASK_KEYS_RAW.keys(db)? {
            let Ok(k) = TaskKey::decode(k.as_bytes()) else { continue };
            if LAST_TASK.get(db, &k.hotkey)?.as_deref() != Some(k.task.as_str()) {
                gone_tasks.insert(k);
            }
        }
        for k in &gone_tasks {
            TASKS.delete(&mut b, k);
        }
        db.commit(b)?;
    }
    Ok(out)
}

/// The `retention` task: a pass at start and every `--retention.interval_secs`, until shutdown.
pub async fn run(node: Arc<ValidatorNode>, shutdown: CancellationToken) {
    let every = Duration::from_secs(node.cfg.retention.interval_secs.max(1));
    loop {
        let live: Option<BTreeSet<String>> =
            node.metagraph.read().await.as_ref().map(|mg| mg.neurons.iter().map(|n| n.hotkey.clone()).collect());
        let n = node.clone();
        let r = tokio::task::spawn_blocking(move || {
            prune(&n.store, &n.cfg.retention, live.as_ref(), orchestra_ledger_store::now_ms())
        })
        .await;
        match r {
            Ok(Ok(p)) if p == Pruned::default() => {}
            Ok(Ok(p)) => tracing::info!(
                objectives = p.objectives,
                proposals = p.proposals,
                miners = p.miners,
                "retention pass removed old records"
            ),
            Ok(Err(e)) => tracing::warn!(error = %e, "retention pass failed"),
            Err(e) => tracing::warn!(error = %e, "retention task failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => break,
        }
    }
}
