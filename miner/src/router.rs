//! Routing: which subnets can serve a capability, best first.

use orchestra_proto::contract::Contract;
use orchestra_proto::ledger::{EntryStatus, LedgerEntry};

/// Entries offering `capability` that the contract allows, ordered by status (verified first),
/// reliability (higher first), p50 latency (lower first), then cost (lower first). The order
/// is the fallback order.
pub fn route<'a>(ledger: &'a [LedgerEntry], capability: &str, contract: &Contract) -> Vec<&'a LedgerEntry> {
    let mut v: Vec<&LedgerEntry> = ledger
        .iter()
        .filter(|e| e.has_capability(capability) && e.status != EntryStatus::Deprecated && contract.allows(e.netuid))
        .collect();
    v.sort_by(|a, b| {
        let key = |e: &LedgerEntry| {
            (
                u8::from(e.status != EntryStatus::Verified),
                -(e.metrics.reliability.unwrap_or(0.5) * 1e6) as i64,
                e.metrics.latency_p50_ms.unwrap_or(u32::MAX),
                e.metrics.cost_micros,
                e.netuid,
            )
        };
        key(a).cmp(&key(b))
    });
    v
}
