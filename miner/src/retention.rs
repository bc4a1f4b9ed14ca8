//! The miner's `retention` task: job checkpoints (`miner/job/{task_id}/...`, written by the
//! executor and the extraction step so a restarted miner does not pay twice) are only useful
//! while a validator may ask the same task again, so whole jobs are removed
//! `--retention.job_hours` after their last checkpoint, and the oldest beyond
//! `--retention.max_jobs`. It runs in the background every `--retention.interval_secs`, never
//! on a request path. (The proposal queue is bounded where it is written.)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use orchestra_node::shutdown::CancellationToken;
use orchestra_store::StoreError;

use crate::state::{JobKey, MinerStore};

/// Remove jobs whose last checkpoint is older than `max_age` at `now_ms` (jobs without a time
/// stamp, from before stamps, count as old), then the oldest beyond `max_jobs`. Returns how
/// many jobs were removed.
pub fn prune_jobs(store: &MinerStore, max_age: Duration, max_jobs: usize, now_ms: u64) -> Result<usize, StoreError> {
    let mut jobs: BTreeMap<String, Vec<JobKey>> = BTreeMap::new();
    for k in store.job_keys()? {
        jobs.entry(k.task.clone()).or_default().push(k);
    }
    let cutoff = now_ms.saturating_sub(max_age.as_millis() as u64);
    let mut dated: Vec<(u64, String)> = Vec::new();
    let mut gone: Vec<JobKey> = Vec::new();
    let mut removed = 0;
    for t in jobs.keys() {
        let at: u64 = store.job_stamp(t).ok().flatten().unwrap_or(0);
        if at < cutoff {
            gone.extend(jobs[t].iter().cloned());
            removed += 1;
        } else {
            dated.push((at, t.clone()));
        }
    }
    if dated.len() > max_jobs {
        dated.sort();
        let extra = dated.len() - max_jobs;
        for (_, t) in dated.drain(..extra) {
            gone.extend(jobs[&t].iter().cloned());
            removed += 1;
        }
    }
    store.delete_jobs(&gone)?;
    Ok(removed)
}

/// The `retention` task: a pass at start and every `every`, until shutdown.
pub async fn run(
    store: Arc<MinerStore>,
    max_age: Duration,
    max_jobs: usize,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        let s = store.clone();
        match tokio::task::spawn_blocking(move || prune_jobs(&s, max_age, max_jobs, orchestra_ledger_store::now_ms()))
            .await
        {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(jobs = n, "removed old job checkpoints"),
            Ok(Err(e)) => tracing::warn!(error = %e, "pruning job checkpoints failed"),
            Err(e) => tracing::warn!(error = %e, "retention task failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestra_store::{Batch, Keyspace};
    use serde_json::{Value, json};

    /// The miner's records as raw JSON under their text keys, as older miners wrote them.
    const KV: Keyspace<String, Value> = Keyspace::new("kv", "");

    fn put(s: &MinerStore, key: &str, v: Value) {
        let mut b = Batch::new();
        KV.put(&mut b, &key.to_string(), &v).expect("put");
        s.db().commit(b).expect("commit");
    }

    #[test]
    fn old_jobs_go_and_the_newest_stay() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = MinerStore::open(dir.path()).expect("open");
        let hour = 3_600_000u64;
        let now = 100 * hour;
        // t-old: last checkpoint 30 h ago; t-a, t-b, t-c: recent; legacy: no stamp.
        for (t, at) in
            [("t-old", now - 30 * hour), ("t-a", now - 3 * hour), ("t-b", now - 2 * hour), ("t/c", now - hour)]
        {
            put(&s, &format!("miner/job/{t}/step/s1"), json!({"outputs": []}));
            put(&s, &format!("miner/job/{t}/extract"), json!(["root", {}]));
            put(&s, &format!("miner/job/{t}/at"), json!(at));
        }
        put(&s, "miner/job/legacy/step/s1", json!({}));
        put(&s, "miner/proposals", json!([]));
        let n = prune_jobs(&s, Duration::from_secs(24 * 3600), 2, now).expect("prune");
        assert_eq!(n, 3, "t-old and legacy by age, t-a by count");
        let left: Vec<String> =
            KV.keys(s.db()).expect("keys").into_iter().filter(|k| k.starts_with("miner/job/")).collect();
        assert!(left.iter().all(|k| k.starts_with("miner/job/t-b/") || k.starts_with("miner/job/t/c/")), "{left:?}");
        assert_eq!(left.len(), 6);
        assert!(s.proposals().is_ok_and(|q| q.is_empty()), "other state is untouched");
        assert!(KV.get(s.db(), &"miner/proposals".to_string()).expect("get").is_some(), "other state is untouched");
        assert_eq!(prune_jobs(&s, Duration::from_secs(24 * 3600), 2, now).expect("again"), 0);
    }
}
