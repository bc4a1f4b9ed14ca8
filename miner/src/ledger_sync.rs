//! Following the Ledger: the miner's routing table kept in step with the validators' Ledger API.
//!
//! [`run`] is the node's `ledger-sync` task. Every `--ledger.sync_secs` it asks the Ledger APIs
//! named by `--ledger.url` (in order, the first that answers wins) for every entry
//! (`GET /v1/subnets`, full entries need a developer key: `--ledger.key`), validates each one,
//! checks them against the API's Merkle root (`GET /v1/root`: every entry's leaf must match its
//! inclusion proof under the root, and the root must cover exactly these entries), and replaces
//! the [`MinerCore`]'s Ledger when it changed. Any failure keeps the last good Ledger; syncs,
//! changes and failures are logged and counted in [`SyncMetrics`]. With `--ledger.onchain_root`
//! the root must also be one a validator with a permit on the miner's subnet committed on chain
//! ([`OnchainRoots`]); validators publish it every round, so a change is followed once published.
//!
//! [`parse_ledger`] reads what `--ledger.file` holds: a bare array of entries (what
//! `orchestra ledger export` writes), the API's `{"subnets": [...]}` answer, or a seed file's
//! `{"entries": [...]}`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use orchestra_ledger_api::{ApiError, LedgerClient};
use orchestra_node::shutdown::CancellationToken;
use orchestra_proto::canonical::Digest;
use orchestra_proto::ledger::LedgerEntry;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::pipeline::MinerCore;

/// Parse a Ledger document: an array of entries, `{"subnets": [...]}` (the Ledger API's list,
/// full entries) or `{"entries": [...]}` (a seed file). Every entry is validated; netuids must be
/// unique; summaries (the API's free tier) are refused.
pub fn parse_ledger(text: &str) -> Result<Vec<LedgerEntry>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let list = match v {
        serde_json::Value::Array(_) => v,
        serde_json::Value::Object(mut m) => match (m.remove("subnets"), m.remove("entries")) {
            (Some(l), _) | (None, Some(l)) => l,
            (None, None) => return Err("expected an array of entries, or an object with `subnets` or `entries`".into()),
        },
        _ => return Err("expected an array of entries, or an object with `subnets` or `entries`".into()),
    };
    let serde_json::Value::Array(items) = list else {
        return Err("`subnets`/`entries` is not an array".into());
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let e: LedgerEntry = serde_json::from_value(item).map_err(|e| {
            format!("entry {i}: {e} (a summary from the free tier is not an entry: export with a developer key)")
        })?;
        out.push(e);
    }
    check_entries(&out)?;
    Ok(out)
}

/// Every entry valid, no netuid twice.
pub fn check_entries(entries: &[LedgerEntry]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for e in entries {
        e.validate().map_err(|err| format!("netuid {}: {err}", e.netuid))?;
        if !seen.insert(e.netuid) {
            return Err(format!("netuid {} appears twice", e.netuid));
        }
    }
    Ok(())
}

/// Check `entries` against a Merkle root view: the root covers exactly these entries (same
/// netuids and versions), and each entry's recomputed leaf is the one its proof proves.
pub fn check_against_root(entries: &[LedgerEntry], root: &orchestra_ledger_api::views::RootView) -> Result<(), String> {
    if root.entries.len() != entries.len() || root.leaf_count != entries.len() {
        return Err(format!("the root covers {} entries, the list has {}", root.leaf_count, entries.len()));
    }
    let proofs: BTreeMap<u16, &orchestra_ledger_api::views::ProofItem> =
        root.entries.iter().map(|p| (p.netuid, p)).collect();
    for e in entries {
        let p = proofs.get(&e.netuid).ok_or_else(|| format!("netuid {} has no proof under the root", e.netuid))?;
        let leaf = e.leaf().map_err(|err| format!("netuid {}: leaf: {err}", e.netuid))?;
        if p.version != e.version || p.leaf != leaf {
            return Err(format!("netuid {} v{} does not match its leaf under the root", e.netuid, e.version));
        }
        if !p.proof.verify(&leaf, &root.root) {
            return Err(format!("netuid {}: the inclusion proof does not hold under root {}", e.netuid, root.root));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// Counters of the `ledger-sync` task (prefix `orchestra_miner_ledger_sync`).
pub struct SyncMetrics {
    registry: Registry,
    /// Successful pulls (changed or not).
    pub ok: Counter,
    /// Pulls that replaced the Ledger.
    pub changed: Counter,
    /// Rounds where no Ledger API gave a usable answer.
    failures: Family<ReasonLabels, Counter>,
    /// Entries in the Ledger the miner routes with.
    pub entries: Gauge,
}

impl std::fmt::Debug for SyncMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncMetrics")
            .field("ok", &self.ok.get())
            .field("changed", &self.changed.get())
            .field("entries", &self.entries.get())
            .finish_non_exhaustive()
    }
}

impl Default for SyncMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("orchestra_miner_ledger_sync");
        let (ok, changed, entries) = (Counter::default(), Counter::default(), Gauge::default());
        let failures = Family::<ReasonLabels, Counter>::default();
        registry.register("ok", "Ledger pulls that succeeded (changed or not)", ok.clone());
        registry.register("changed", "Ledger pulls that replaced the miner's Ledger", changed.clone());
        registry.register("failures", "Sync rounds with no usable answer, by reason", failures.clone());
        registry.register("entries", "Entries in the Ledger the miner routes with", entries.clone());
        SyncMetrics { registry, ok, changed, failures, entries }
    }
}

impl SyncMetrics {
    /// Failed rounds for `reason` (`unreachable`, `refused`, `invalid`, `root_mismatch`,
    /// `root_not_onchain`, `no_key`).
    pub fn failures(&self, reason: &'static str) -> u64 {
        self.failures.get_or_create(&ReasonLabels { reason }).get()
    }

    fn fail(&self, reason: &'static str) {
        self.failures.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// The registry, to encode with others.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The counters in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Where published Ledger roots are read: the validators with a permit on `netuid` and their
/// chain commitments (what a validator's `--ledger.publish_root` writes every round).
#[derive(Clone)]
pub struct OnchainRoots {
    pub chain: Arc<dyn orchestra_chain::Chain>,
    pub netuid: u16,
}

impl std::fmt::Debug for OnchainRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnchainRoots").field("netuid", &self.netuid).finish_non_exhaustive()
    }
}

impl OnchainRoots {
    /// Whether a validator with a permit on the subnet committed `root`; the committing hotkey.
    async fn committed_by(&self, root: &Digest) -> Result<Option<String>, String> {
        let mg = self.chain.metagraph(self.netuid).await.map_err(|e| format!("metagraph: {e}"))?;
        for n in mg.neurons.iter().filter(|n| n.validator_permit) {
            match self.chain.commitment(self.netuid, &n.hotkey).await {
                Ok(Some(c)) if c.data() == Some(&root.0[..]) => return Ok(Some(n.hotkey.clone())),
                Ok(_) => {}
                Err(e) => tracing::debug!(hotkey = %n.hotkey, error = %e, "reading a commitment failed"),
            }
        }
        Ok(None)
    }
}

/// Why one Ledger API's answer was not used.
#[derive(Debug)]
enum PullError {
    Unreachable(ApiError),
    /// The API refused us (bad or revoked key, tier too low, rate limit): 4xx.
    Refused(ApiError),
    Invalid(String),
    RootMismatch(String),
    NotOnchain(String),
}

impl PullError {
    fn reason(&self) -> &'static str {
        match self {
            PullError::Unreachable(_) => "unreachable",
            PullError::Refused(_) => "refused",
            PullError::Invalid(_) => "invalid",
            PullError::RootMismatch(_) => "root_mismatch",
            PullError::NotOnchain(_) => "root_not_onchain",
        }
    }
}

impl std::fmt::Display for PullError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PullError::Unreachable(e) => write!(f, "{e}"),
            PullError::Refused(e) => write!(f, "refused (check --ledger.key): {e}"),
            PullError::Invalid(e) => write!(f, "invalid Ledger: {e}"),
            PullError::RootMismatch(e) => write!(f, "entries do not match the Merkle root: {e}"),
            PullError::NotOnchain(e) => write!(f, "root not published on chain: {e}"),
        }
    }
}

/// One Ledger API's entries, validated and checked against its root. Returns the root too
/// (`None` when the API serves none).
async fn pull(client: &LedgerClient) -> Result<(Vec<LedgerEntry>, Option<Digest>), PullError> {
    // The list and the root are two requests; a change committed between them gives two
    // snapshots. Try twice before calling it a mismatch.
    let mut last = None;
    for _ in 0..2 {
        let (seq, entries) = client.entries().await.map_err(|e| match e {
            ApiError::Decode(m) => PullError::Invalid(m),
            e @ ApiError::Remote { status: 400..=499, .. } => PullError::Refused(e),
            other => PullError::Unreachable(other),
        })?;
        check_entries(&entries).map_err(PullError::Invalid)?;
        let root = match client.root().await {
            Ok(r) => r,
            // An API without the root endpoint: nothing to check against.
            Err(ApiError::Remote { status: 404, .. }) => return Ok((entries, None)),
            Err(e) => return Err(PullError::Unreachable(e)),
        };
        if root.seq != seq {
            last = Some(PullError::RootMismatch(format!("list at seq {seq}, root at seq {}", root.seq)));
            continue;
        }
        return match check_against_root(&entries, &root) {
            Ok(()) => Ok((entries, Some(root.root))),
            Err(e) => Err(PullError::RootMismatch(e)),
        };
    }
    Err(last.unwrap_or_else(|| PullError::RootMismatch("no consistent snapshot".into())))
}

/// Same entries, whatever their order.
fn same_ledger(a: &[LedgerEntry], b: &[LedgerEntry]) -> bool {
    let key = |v: &[LedgerEntry]| {
        let mut v = v.to_vec();
        v.sort_by_key(|e| e.netuid);
        v
    };
    a.len() == b.len() && key(a) == key(b)
}

/// One sync round over `clients` (first usable answer wins). Returns whether the Ledger changed.
pub async fn sync_once(
    core: &MinerCore,
    clients: &[(String, LedgerClient)],
    onchain: Option<&OnchainRoots>,
    metrics: &SyncMetrics,
) -> bool {
    let mut reason = "unreachable";
    for (url, client) in clients {
        let pulled = match (pull(client).await, onchain) {
            (Ok((entries, Some(root))), Some(roots)) => match roots.committed_by(&root).await {
                Ok(Some(by)) => {
                    tracing::debug!(%url, %root, validator = %by, "Ledger root found on chain");
                    Ok((entries, Some(root)))
                }
                Ok(None) => Err(PullError::NotOnchain(format!(
                    "no validator with a permit on netuid {} committed {root}",
                    roots.netuid
                ))),
                Err(e) => Err(PullError::NotOnchain(e)),
            },
            (Ok((_, None)), Some(_)) => Err(PullError::NotOnchain("the Ledger API serves no root".into())),
            (other, _) => other,
        };
        match pulled {
            Ok((entries, root)) => {
                metrics.ok.inc();
                let current = core.ledger();
                if same_ledger(&current, &entries) {
                    tracing::debug!(%url, entries = entries.len(), "Ledger unchanged");
                    return false;
                }
                let root_text = root.map(|r| r.to_string()).unwrap_or_else(|| "none".into());
                let versions = |v: &[LedgerEntry]| {
                    let mut k: Vec<(u16, u64)> = v.iter().map(|e| (e.netuid, e.version)).collect();
                    k.sort();
                    k
                };
                if versions(&current) != versions(&entries) {
                    let had = versions(&current);
                    let changed: Vec<String> = versions(&entries)
                        .into_iter()
                        .filter(|k| !had.contains(k))
                        .map(|(n, v)| format!("{n}@v{v}"))
                        .collect();
                    let changed = changed.join(",");
                    tracing::info!(%url, before = current.len(), after = entries.len(), %changed, root = %root_text, "Ledger updated");
                } else {
                    // Same entries and versions: probe metrics and verification times moved.
                    tracing::debug!(%url, entries = entries.len(), root = %root_text, "Ledger metrics refreshed");
                }
                metrics.entries.set(entries.len() as i64);
                metrics.changed.inc();
                core.set_ledger(entries);
                return true;
            }
            Err(e) => {
                tracing::warn!(%url, error = %e, "Ledger sync: answer not used; keeping the last good Ledger");
                // The most telling reason of the round: a bad answer outranks an unreachable API.
                if reason == "unreachable" {
                    reason = e.reason();
                }
            }
        }
    }
    metrics.fail(reason);
    false
}

/// One client per followed URL.
pub type Clients = Vec<(String, LedgerClient)>;

/// The Ledger APIs to follow and the key to present: fixed (`--ledger.key`) or read from a file
/// at each round (`--ledger.key_file`, so a rotated key is picked up without a restart).
#[derive(Debug, Clone)]
pub struct Sources {
    pub urls: Vec<String>,
    pub key: Option<String>,
    pub key_file: Option<std::path::PathBuf>,
    pub guard: orchestra_net::GuardConfig,
}

impl Sources {
    /// The key to present now.
    fn current_key(&self) -> Result<Option<String>, String> {
        match &self.key_file {
            None => Ok(self.key.clone()),
            Some(p) => match std::fs::read_to_string(p) {
                Ok(k) if !k.trim().is_empty() => Ok(Some(k.trim().to_string())),
                Ok(_) => Err(format!("key file {} is empty", p.display())),
                Err(e) => Err(format!("key file {}: {e}", p.display())),
            },
        }
    }

    /// One client per URL with `key` (fails on a URL the guard refuses).
    pub fn clients(&self, key: Option<String>) -> Result<Clients, String> {
        self.urls
            .iter()
            .map(|u| {
                LedgerClient::with_guard(u, key.clone(), self.guard.clone())
                    .map(|c| (u.clone(), c))
                    .map_err(|e| format!("--ledger.url {u}: {e}"))
            })
            .collect()
    }
}

/// The `ledger-sync` task: a round now, then one every `interval`, until `shutdown` is cancelled.
/// With `onchain`, a Ledger is used only if its root was committed on chain by a validator.
pub async fn run(
    core: Arc<MinerCore>,
    sources: Sources,
    onchain: Option<OnchainRoots>,
    interval: Duration,
    metrics: Arc<SyncMetrics>,
    shutdown: CancellationToken,
) {
    metrics.entries.set(core.ledger().len() as i64);
    let mut cached: Option<(Option<String>, Clients)> = None;
    loop {
        let clients = match sources.current_key() {
            Ok(key) => match &cached {
                Some((k, c)) if *k == key => Ok(c.clone()),
                _ => sources.clients(key.clone()).inspect(|c| cached = Some((key, c.clone()))),
            },
            Err(e) => Err(e),
        };
        match clients {
            Ok(clients) => {
                sync_once(&core, &clients, onchain.as_ref(), &metrics).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "Ledger sync skipped; keeping the last good Ledger");
                metrics.fail("no_key");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
    tracing::debug!("ledger-sync stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<LedgerEntry> {
        orchestra_ledger_store::real_subnet_seed().expect("seed")
    }

    #[test]
    fn parses_every_ledger_shape_and_refuses_summaries() {
        let es = entries();
        let arr = serde_json::to_string(&es).expect("json");
        assert_eq!(parse_ledger(&arr).expect("array"), es);
        let api = serde_json::json!({"seq": 3, "count": es.len(), "subnets": es}).to_string();
        assert_eq!(parse_ledger(&api).expect("api"), es);
        let seed = serde_json::json!({"entries": es}).to_string();
        assert_eq!(parse_ledger(&seed).expect("seed"), es);
        let summary = serde_json::json!({"subnets": [{"netuid": 1, "name": "x", "description": "", "capabilities": [],
            "status": "active", "version": 1, "simulated": false}]})
        .to_string();
        assert!(parse_ledger(&summary).is_err());
        let twice = serde_json::to_string(&[es[0].clone(), es[0].clone()]).expect("json");
        assert!(parse_ledger(&twice).expect_err("dup").contains("twice"));
    }

    #[test]
    fn a_tampered_entry_fails_the_root_check() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = orchestra_ledger_store::LedgerStore::open(orchestra_ledger_store::StoreConfig::new(dir.path()))
            .expect("store");
        store.seed(entries()).expect("seed");
        let es = store.entries().expect("entries");
        let root = store.root().expect("root");
        let items = es
            .iter()
            .map(|e| {
                let (entry, proof, _) = store.proof(e.netuid).expect("proof");
                orchestra_ledger_api::views::ProofItem {
                    netuid: entry.netuid,
                    version: entry.version,
                    leaf: entry.leaf().expect("leaf"),
                    proof,
                }
            })
            .collect();
        let view = orchestra_ledger_api::views::RootView { seq: 1, root, leaf_count: es.len(), entries: items };
        check_against_root(&es, &view).expect("honest entries verify");
        let mut forged = es.clone();
        forged[0].description.push_str(" (forged)");
        assert!(check_against_root(&forged, &view).is_err());
        assert!(check_against_root(&es[1..], &view).is_err(), "an entry left out is caught");
    }
}
