//! The miner's durable records, in an `orchestra_store` database of its own: job checkpoints
//! (a completed step, a checked extraction, the job's time stamp) so a restarted miner does not
//! pay twice for the same task, and the queue of Ledger proposals validators pull.
//!
//! The keys are the ones the miner wrote when it kept them in a Ledger database's `kv` family
//! (`miner/job/{task}/step/{step}`, `miner/job/{task}/extract`, `miner/job/{task}/at`,
//! `miner/proposals`), so existing data directories open unchanged.

use std::path::Path;

use orchestra_store::{Batch, Json, Key, Keyspace, Schema, Slot, Store, StoreConfig, StoreError};
use serde::de::IgnoredAny;

use crate::executor::StepResult;
use crate::extraction::Extraction;
use crate::pipeline::QueuedProposal;

const CF_KV: &str = "kv";
/// Version 1, like the Ledger layout the miner's data directories were first written with.
const SCHEMA: Schema = Schema { name: "miner", version: 1, column_families: &[CF_KV] };
const JOB_PREFIX: &str = "miner/job/";
/// Every record of every job, for retention (values are not read).
const JOBS: Keyspace<JobKey, IgnoredAny> = Keyspace::new(CF_KV, JOB_PREFIX);
/// The same keys as raw text, so retention can skip a key of no known shape instead of failing.
const JOB_KEYS_RAW: Keyspace<String, IgnoredAny> = Keyspace::new(CF_KV, JOB_PREFIX);
const STEPS: Keyspace<JobKey, StepResult> = JOBS.view();
/// A checked extraction with the root of the receipts it cites.
const EXTRACTIONS: Keyspace<JobKey, (String, Extraction)> = JOBS.view();
/// Unix ms of a job's last checkpoint, which retention counts from.
const STAMPS: Keyspace<JobKey, u64> = JOBS.view();
const PROPOSALS: Slot<Vec<QueuedProposal>> = Slot::new(CF_KV, "miner/proposals");

/// Which record of a job a key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobPart {
    /// A completed step's result, by step id.
    Step(String),
    /// The checked extraction.
    Extract,
    /// The job's time stamp.
    At,
}

/// A job record's key: `{task}/step/{step}`, `{task}/extract` or `{task}/at` after the prefix.
/// Task ids may contain `/`, so the part is read from the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobKey {
    pub task: String,
    pub part: JobPart,
}

impl JobKey {
    fn new(task: &str, part: JobPart) -> Self {
        JobKey { task: task.to_string(), part }
    }
}

impl Key for JobKey {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.task.as_bytes());
        match &self.part {
            JobPart::Step(s) => {
                out.extend_from_slice(b"/step/");
                out.extend_from_slice(s.as_bytes());
            }
            JobPart::Extract => out.extend_from_slice(b"/extract"),
            JobPart::At => out.extend_from_slice(b"/at"),
        }
    }

    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let s = std::str::from_utf8(bytes).map_err(|e| format!("job key is not UTF-8: {e}"))?;
        if let Some(t) = s.strip_suffix("/at") {
            return Ok(JobKey::new(t, JobPart::At));
        }
        if let Some(t) = s.strip_suffix("/extract") {
            return Ok(JobKey::new(t, JobPart::Extract));
        }
        match s.rsplit_once("/step/") {
            Some((t, step)) => Ok(JobKey::new(t, JobPart::Step(step.to_string()))),
            None => Err(format!("`{s}` is not a job record")),
        }
    }
}

/// The miner's database.
#[derive(Debug)]
pub struct MinerStore {
    db: Store,
}

impl MinerStore {
    /// Opens (creating) the store in `dir`, fsyncing every batch.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Ok(MinerStore { db: Store::open(&StoreConfig::new(dir), SCHEMA)? })
    }

    /// The checkpoint of a completed step.
    pub fn step(&self, task: &str, step: &str) -> Result<Option<StepResult>, StoreError> {
        STEPS.get(&self.db, &JobKey::new(task, JobPart::Step(step.to_string())))
    }

    /// Checkpoints a completed step together with the job's time stamp, in one batch.
    pub fn put_step(&self, task: &str, step: &str, result: &StepResult) -> Result<(), StoreError> {
        let mut b = Batch::new();
        STEPS.put(&mut b, &JobKey::new(task, JobPart::Step(step.to_string())), result)?;
        self.commit_job(task, b)
    }

    /// The checked extraction of a task, with the receipt root it cites.
    pub fn extraction(&self, task: &str) -> Result<Option<(String, Extraction)>, StoreError> {
        EXTRACTIONS.get(&self.db, &JobKey::new(task, JobPart::Extract))
    }

    /// Checkpoints a checked extraction together with the job's time stamp, in one batch.
    pub fn put_extraction(&self, task: &str, data_root: &str, x: &Extraction) -> Result<(), StoreError> {
        let mut b = Batch::new();
        // Written through a borrowing view: same key and JSON as the owned record type.
        EXTRACTIONS.view::<(&str, &Extraction), Json>().put(
            &mut b,
            &JobKey::new(task, JobPart::Extract),
            &(data_root, x),
        )?;
        self.commit_job(task, b)
    }

    fn commit_job(&self, task: &str, mut b: Batch) -> Result<(), StoreError> {
        STAMPS.put(&mut b, &JobKey::new(task, JobPart::At), &orchestra_ledger_store::now_ms())?;
        self.db.commit(b)
    }

    /// The proposal queue.
    pub fn proposals(&self) -> Result<Vec<QueuedProposal>, StoreError> {
        Ok(PROPOSALS.get(&self.db)?.unwrap_or_default())
    }

    pub fn put_proposals(&self, q: &Vec<QueuedProposal>) -> Result<(), StoreError> {
        let mut b = Batch::new();
        PROPOSALS.put(&mut b, q)?;
        self.db.commit(b)
    }

    /// Every job record's key, in key order (keys of no known shape are left alone).
    pub fn job_keys(&self) -> Result<Vec<JobKey>, StoreError> {
        Ok(JOB_KEYS_RAW.keys(&self.db)?.into_iter().filter_map(|k| JobKey::decode(k.as_bytes()).ok()).collect())
    }

    /// A job's time stamp, if it has one.
    pub fn job_stamp(&self, task: &str) -> Result<Option<u64>, StoreError> {
        STAMPS.get(&self.db, &JobKey::new(task, JobPart::At))
    }

    /// Removes the given job records in one batch.
    pub fn delete_jobs(&self, keys: &[JobKey]) -> Result<(), StoreError> {
        let mut b = Batch::new();
        for k in keys {
            JOBS.delete(&mut b, k);
        }
        self.db.commit(b)
    }

    /// The engine, for tests that write records directly.
    pub fn db(&self) -> &Store {
        &self.db
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_keys_keep_their_layout_and_read_back() {
        for (key, bytes) in [
            (JobKey::new("t/c", JobPart::Step("s1".into())), "t/c/step/s1"),
            (JobKey::new("t-a", JobPart::Extract), "t-a/extract"),
            (JobKey::new("t-a", JobPart::At), "t-a/at"),
        ] {
            let mut out = Vec::new();
            key.encode(&mut out);
            assert_eq!(out, bytes.as_bytes());
            assert_eq!(JobKey::decode(&out).expect("decode"), key);
        }
        assert!(JobKey::decode(b"t-a/other").is_err());
    }
}
