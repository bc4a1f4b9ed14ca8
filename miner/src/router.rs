//! Routing: which subnets can serve a capability, best first.

use orchestra_proto::contract::Contract;
use orchestra_proto::ledger::{EntryStatus, LedgerEntry};

/// Entries offering `capability` that the contract allows, ordered by status (verified, then
/// candidate, then degraded: an entry the validators' re-probes found failing is tried only
/// after the others), reliability (higher first), p50 latency (lower first), then cost (lower
/// first). Deprecated entries are left out. The order is the fallback order.
pub fn route<'a>(ledger: &'a [LedgerEntry], capability: &str, contract: &Contract) -> Vec<&'a LedgerEntry> {
    let mut v: Vec<&LedgerEntry> = ledger
        .iter()
        .filter(|e| e.has_capability(capability) && e.status != EntryStatus::Deprecated && contract.allows(e.netuid))
        .collect();
    v.sort_by(|a, b| {
        let key = |e: &LedgerEntry| {
            (
                match e.status {
                    EntryStatus::Verified => 0u8,
                    EntryStatus::Candidate => 1,
                    EntryStatus::Degraded => 2,
                    EntryStatus::Deprecated => 3,
                },
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

#[cfg(test)]
mod tests {
    use super::*;
    use orchestra_proto::ledger::{AuthKind, Metrics, Provenance, TransportSpec};
    use serde_json::json;

    fn entry(netuid: u16, status: EntryStatus, p50: u32) -> LedgerEntry {
        LedgerEntry {
            netuid,
            name: format!("search-{netuid}"),
            description: String::new(),
            capabilities: vec!["web_search".into()],
            transports: vec![TransportSpec::HttpJson {
                url: format!("https://search{netuid}.example/api"),
                method: "POST".into(),
                auth: AuthKind::None,
            }],
            input_schema: json!({"type": "object"}),
            output_schema: json!({"type": "object"}),
            fixture: json!({}),
            metrics: Metrics { latency_p50_ms: Some(p50), reliability: Some(1.0), ..Metrics::default() },
            version: 1,
            last_verified_ms: None,
            provenance: Provenance::default(),
            status,
            simulated: false,
        }
    }

    #[test]
    fn a_degraded_entry_is_tried_last() {
        let contract = Contract::default();
        let order = |ledger: &[LedgerEntry]| -> Vec<u16> {
            route(ledger, "web_search", &contract).iter().map(|e| e.netuid).collect()
        };
        // Healthy: the faster one first.
        let healthy = [entry(22, EntryStatus::Verified, 10), entry(122, EntryStatus::Verified, 40)];
        assert_eq!(order(&healthy), vec![22, 122]);
        // 22 degraded: the slower healthy one first, then a candidate, then 22; deprecated never.
        let ledger = [
            entry(22, EntryStatus::Degraded, 10),
            entry(122, EntryStatus::Verified, 40),
            entry(7, EntryStatus::Candidate, 90),
            entry(9, EntryStatus::Deprecated, 1),
        ];
        assert_eq!(order(&ledger), vec![122, 7, 22]);
    }
}
