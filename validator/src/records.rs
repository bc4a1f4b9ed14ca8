//! The validator's own records, as typed keyspaces of the `kv` column family of its Ledger
//! database: status, EMA state per miner, task records, known receipt leaves, pending Ledger
//! credits, the weight journal and gateway objectives.
//!
//! The keys are the ones the validator always wrote (`validator/status`,
//! `validator/miner/{hotkey}`, `validator/task/{hotkey}/{task}`, ...), so existing data
//! directories read unchanged. These records sit next to the Ledger but outside it: they are
//! committed on the engine directly ([`put`], or one [`Batch`] per round), not under the
//! Ledger's writer lock, and never touch Ledger records.

use std::collections::BTreeMap;

use orchestra_incentive::score::LedgerActivity;
use orchestra_ledger_store::{CF_KV, LedgerStore};
use orchestra_proto::canonical::Digest;
use orchestra_proto::gateway::ObjectiveRecord;
use orchestra_store::{Batch, Key, Keyspace, Slot, StoreError};
use serde_json::Value;

use crate::node::{MinerState, Status, WeightJournal};

/// What the status endpoint shows, kept across restarts.
pub const STATUS: Slot<Status> = Slot::new(CF_KV, "validator/status");
/// Ledger credits decided but not yet scored, by miner hotkey.
pub const ACTIVITY: Slot<BTreeMap<String, LedgerActivity>> = Slot::new(CF_KV, "validator/ledger_activity");
/// The weight journal (see [`WeightJournal`]).
pub const WEIGHTS_JOURNAL: Slot<WeightJournal> = Slot::new(CF_KV, "validator/weights_journal");
/// EMA state by miner hotkey.
pub const MINERS: Keyspace<String, MinerState> = Keyspace::new(CF_KV, "validator/miner/");
/// The id of each miner's last task (the one task record kept per miner).
pub const LAST_TASK: Keyspace<String, String> = Keyspace::new(CF_KV, "validator/last_task/");
/// Task records (sub-scores, notes, score, time stamp) by miner and task.
pub const TASKS: Keyspace<TaskKey, Value> = Keyspace::new(CF_KV, "validator/task/");
/// Receipt leaves each miner signed in answers that checked out, oldest first.
pub const LEAVES: Keyspace<String, Vec<Digest>> = Keyspace::new(CF_KV, "validator/leaves/");
/// Gateway objectives by id.
pub const OBJECTIVES: Keyspace<String, ObjectiveRecord> = Keyspace::new(CF_KV, "validator/objective/");

/// A task record's key: `{hotkey}/{task id}` (a hotkey has no `/`; the task id is the rest).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TaskKey {
    pub hotkey: String,
    pub task: String,
}

impl TaskKey {
    pub fn new(hotkey: &str, task: &str) -> Self {
        TaskKey { hotkey: hotkey.to_string(), task: task.to_string() }
    }
}

impl Key for TaskKey {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.hotkey.as_bytes());
        out.push(b'/');
        out.extend_from_slice(self.task.as_bytes());
    }

    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let s = std::str::from_utf8(bytes).map_err(|e| format!("task key is not UTF-8: {e}"))?;
        let (hotkey, task) = s.split_once('/').ok_or_else(|| format!("`{s}` is not `{{hotkey}}/{{task}}`"))?;
        Ok(TaskKey::new(hotkey, task))
    }
}

/// Commits the writes `f` adds, in one synced batch.
pub fn put(store: &LedgerStore, f: impl FnOnce(&mut Batch) -> Result<(), StoreError>) -> Result<(), StoreError> {
    let mut b = Batch::new();
    f(&mut b)?;
    store.db().commit(b)
}
