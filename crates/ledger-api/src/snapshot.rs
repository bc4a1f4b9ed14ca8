//! The in-memory snapshot lookups are served from: every response body of the read endpoints,
//! pre-serialized per tier view, rebuilt when the store's change sequence moves.
//!
//! A lookup is then an `ArcSwap` load, a hash lookup and a reference-counted clone of bytes:
//! no RocksDB read and no JSON work on the request path, which is what makes tens of thousands
//! of lookups per second on two cores possible.
//!
//! Rebuilds are incremental where it is cheap to be: an entry equal to the one in the previous
//! snapshot keeps its leaf hash and serialized views, list and search bodies are assembled from
//! those per-entry bytes, and all inclusion proofs come from one pass over the tree. A change
//! therefore costs roughly one scan of the entries plus the work for what changed, which keeps
//! the delay from a commit to SSE subscribers (who are told after the swap) short.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use orchestra_ledger_store::{LedgerStore, Tier};
use orchestra_proto::canonical::Digest;
use orchestra_proto::ledger::LedgerEntry;
use orchestra_proto::ledger::rank_for_capability;
use orchestra_proto::receipt::{InclusionProof, Side, merkle_root};
use parking_lot::Mutex;
use serde::Serialize;

use crate::error::ApiError;
use crate::views::{EntryProofView, HistoryView, ProofItem, RootView, SchemaView, SubnetSummary};

/// The same response for the free tier and for the tiers that see full entries.
#[derive(Debug, Clone)]
pub(crate) struct Views {
    pub free: Bytes,
    pub full: Bytes,
}

impl Views {
    pub fn for_tier(&self, tier: Tier) -> Bytes {
        if tier >= Tier::Developer { self.full.clone() } else { self.free.clone() }
    }
}

/// What is kept per entry from one snapshot to the next.
#[derive(Debug)]
pub(crate) struct EntryCache {
    entry: LedgerEntry,
    leaf: Digest,
    /// Summary (free) and full entry JSON.
    pub get: Views,
    pub schema: Bytes,
}

/// Pre-serialized views of one entry.
#[derive(Debug)]
pub(crate) struct EntryViews {
    pub cache: Arc<EntryCache>,
    /// `GET /v1/root?netuid=N`, free (no entry) and full.
    pub root: Views,
}

impl EntryViews {
    pub fn get(&self) -> &Views {
        &self.cache.get
    }
    pub fn schema(&self) -> &Bytes {
        &self.cache.schema
    }
}

/// Everything the read endpoints answer from, as of change sequence `seq`.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub seq: u64,
    pub root: Digest,
    pub count: usize,
    pub list: Views,
    pub entries: HashMap<u16, EntryViews>,
    /// Per capability, already ranked.
    pub find: HashMap<String, Views>,
    pub root_all: Bytes,
    /// Histories are read from the store on first request and kept until the next snapshot.
    history: Mutex<HashMap<u16, Bytes>>,
}

fn json<T: Serialize + ?Sized>(v: &T) -> Result<Bytes, ApiError> {
    serde_json::to_vec(v).map(Bytes::from).map_err(|e| ApiError::Internal(format!("serialize response: {e}")))
}

/// `{<head>,"count":N,"subnets":[<items>]}` from already-serialized items. `head` is the
/// serialized leading fields without braces.
fn compose_list(head: &str, items: &[&Bytes]) -> Bytes {
    let len: usize = items.iter().map(|b| b.len() + 1).sum::<usize>() + head.len() + 48;
    let mut out = Vec::with_capacity(len);
    out.push(b'{');
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(format!(",\"count\":{},\"subnets\":[", items.len()).as_bytes());
    for (i, b) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b);
    }
    out.extend_from_slice(b"]}");
    Bytes::from(out)
}

/// Every leaf's inclusion proof in one pass over the tree (the same tree as
/// `orchestra_proto::receipt`: an odd node at the end of a level is promoted unchanged).
pub(crate) fn all_proofs(leaves: &[Digest]) -> Vec<InclusionProof> {
    let n = leaves.len();
    let mut proofs: Vec<InclusionProof> =
        (0..n).map(|index| InclusionProof { index, leaf_count: n, siblings: Vec::new() }).collect();
    // For each leaf, its node's position in the current level.
    let mut pos: Vec<usize> = (0..n).collect();
    let mut level: Vec<Digest> = leaves.to_vec();
    while level.len() > 1 {
        for (leaf, p) in pos.iter_mut().enumerate() {
            let sib = *p ^ 1;
            if sib < level.len() {
                let side = if sib < *p { Side::Left } else { Side::Right };
                proofs[leaf].siblings.push((side, level[sib]));
            }
            *p /= 2;
        }
        // A two-leaf root is exactly the inner node of the pair.
        level = level
            .chunks(2)
            .filter_map(|pair| match pair {
                [l, r] => Some(merkle_root(&[*l, *r])),
                [single] => Some(*single),
                _ => None,
            })
            .collect();
    }
    proofs
}

impl EntryCache {
    fn build(entry: LedgerEntry) -> Result<EntryCache, ApiError> {
        let leaf = entry.leaf().map_err(|e| ApiError::Internal(format!("entry leaf: {e}")))?;
        let schema = SchemaView {
            netuid: entry.netuid,
            name: entry.name.clone(),
            version: entry.version,
            input_schema: entry.input_schema.clone(),
            output_schema: entry.output_schema.clone(),
            fixture: entry.fixture.clone(),
        };
        Ok(EntryCache {
            get: Views { free: json(&SubnetSummary::from(&entry))?, full: json(&entry)? },
            schema: json(&schema)?,
            leaf,
            entry,
        })
    }
}

impl Snapshot {
    /// Read the store and serialize every view, reusing what `prev` already has for entries
    /// that did not change. Blocking (RocksDB reads): call it from `spawn_blocking` on a
    /// runtime.
    pub fn build(store: &LedgerStore, prev: Option<&Snapshot>) -> Result<Snapshot, ApiError> {
        // The sequence is read before the entries, so the snapshot never claims to be newer
        // than its content; a write in between triggers another rebuild.
        let seq = store.last_seq();
        let stored = store.entries()?;
        let mut caches: Vec<Arc<EntryCache>> = Vec::with_capacity(stored.len());
        for e in stored {
            let reused = prev.and_then(|p| p.entries.get(&e.netuid)).filter(|v| v.cache.entry == e);
            caches.push(match reused {
                Some(v) => v.cache.clone(),
                None => Arc::new(EntryCache::build(e)?),
            });
        }
        let leaves: Vec<Digest> = caches.iter().map(|c| c.leaf).collect();
        let root = merkle_root(&leaves);
        let proofs = all_proofs(&leaves);

        let head = format!("\"seq\":{seq}");
        let list = Views {
            free: compose_list(&head, &caches.iter().map(|c| &c.get.free).collect::<Vec<_>>()),
            full: compose_list(&head, &caches.iter().map(|c| &c.get.full).collect::<Vec<_>>()),
        };

        let mut items = Vec::with_capacity(caches.len());
        let mut by_netuid = HashMap::with_capacity(caches.len());
        for (c, proof) in caches.iter().zip(proofs) {
            let e = &c.entry;
            let one =
                EntryProofView { seq, root, netuid: e.netuid, version: e.version, leaf: c.leaf, proof, entry: None };
            let free = json(&one)?;
            // The full view is the free one with the (already serialized) entry added.
            let mut full = Vec::with_capacity(free.len() + c.get.full.len() + 16);
            full.extend_from_slice(&free[..free.len().saturating_sub(1)]);
            full.extend_from_slice(b",\"entry\":");
            full.extend_from_slice(&c.get.full);
            full.push(b'}');
            items.push(ProofItem { netuid: e.netuid, version: e.version, leaf: c.leaf, proof: one.proof });
            by_netuid.insert(e.netuid, EntryViews { cache: c.clone(), root: Views { free, full: Bytes::from(full) } });
        }
        let root_all = json(&RootView { seq, root, leaf_count: leaves.len(), entries: items })?;

        let mut caps: Vec<&str> = caches.iter().flat_map(|c| c.entry.capabilities.iter().map(String::as_str)).collect();
        caps.sort_unstable();
        caps.dedup();
        let by_ref: HashMap<u16, &Arc<EntryCache>> = caches.iter().map(|c| (c.entry.netuid, c)).collect();
        let mut find = HashMap::with_capacity(caps.len());
        for cap in caps {
            // The shared ranking (`proto::ledger::rank_cmp`), so the API, the store and the miner's
            // router agree on "best first".
            let ranked: Vec<&Arc<EntryCache>> = rank_for_capability(caches.iter().map(|c| &c.entry), cap)
                .into_iter()
                .filter_map(|e| by_ref.get(&e.netuid).copied())
                .collect();
            let head = format!(
                "\"capability\":{},\"seq\":{seq}",
                serde_json::to_string(cap).unwrap_or_else(|_| "\"\"".into())
            );
            find.insert(
                cap.to_string(),
                Views {
                    free: compose_list(&head, &ranked.iter().map(|c| &c.get.free).collect::<Vec<_>>()),
                    full: compose_list(&head, &ranked.iter().map(|c| &c.get.full).collect::<Vec<_>>()),
                },
            );
        }

        Ok(Snapshot {
            seq,
            root,
            count: caches.len(),
            list,
            entries: by_netuid,
            find,
            root_all,
            history: Mutex::new(HashMap::new()),
        })
    }

    /// The find answer for a capability nobody offers.
    pub fn find_none(&self, capability: &str) -> Bytes {
        let head = format!(
            "\"capability\":{},\"seq\":{}",
            serde_json::to_string(capability).unwrap_or_else(|_| "\"\"".into()),
            self.seq
        );
        compose_list(&head, &[])
    }

    /// An entry's history, cached for the life of this snapshot.
    pub fn history(&self, store: &LedgerStore, netuid: u16) -> Result<Option<Bytes>, ApiError> {
        if !self.entries.contains_key(&netuid) {
            return Ok(None);
        }
        if let Some(b) = self.history.lock().get(&netuid) {
            return Ok(Some(b.clone()));
        }
        let versions = store.history(netuid)?;
        let bytes = json(&HistoryView { netuid, versions })?;
        self.history.lock().insert(netuid, bytes.clone());
        Ok(Some(bytes))
    }
}

/// Shared handle type for the current snapshot.
pub(crate) type SharedSnapshot = arc_swap::ArcSwap<Snapshot>;

pub(crate) fn shared(s: Snapshot) -> SharedSnapshot {
    arc_swap::ArcSwap::new(Arc::new(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestra_proto::receipt::prove;

    #[test]
    fn one_pass_proofs_match_the_protocol() {
        for n in 1..40u8 {
            let leaves: Vec<Digest> = (0..n).map(|i| Digest([i; 32])).collect();
            let root = merkle_root(&leaves);
            for (i, p) in all_proofs(&leaves).iter().enumerate() {
                assert_eq!(Some(p), prove(&leaves, i).ok().as_ref(), "n={n} i={i}");
                assert!(p.verify(&leaves[i], &root));
            }
        }
        assert!(all_proofs(&[]).is_empty());
    }
}
