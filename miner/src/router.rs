//! Routing: which subnets can serve a capability, best first.

use orchestra_proto::contract::Contract;
use orchestra_proto::ledger::{LedgerEntry, rank_for_capability};

/// Entries offering `capability` that the contract allows, in the shared ranking order
/// ([`orchestra_proto::ledger::rank_cmp`]: verified first, then reliability, p50 latency, cost,
/// ties to the lower netuid), the same order the Ledger API's `/v1/find` shows, except that
/// entries that do not verify ([`LedgerEntry::verifies`]: validators re-probe receipts only
/// through entries that do, so a receipt from any other one scores nothing) come after all that
/// do (a stable partition, so the shared order holds within each group). The order is the
/// fallback order.
pub fn route<'a>(ledger: &'a [LedgerEntry], capability: &str, contract: &Contract) -> Vec<&'a LedgerEntry> {
    let mut v = rank_for_capability(ledger.iter().filter(|e| contract.allows(e.netuid)), capability);
    v.sort_by_key(|e| !e.verifies());
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestra_proto::ledger::{AuthKind, EntryStatus, Metrics, Provenance, TransportSpec};
    use serde_json::json;

    fn entry(
        netuid: u16,
        status: EntryStatus,
        proposer: Option<&str>,
        reliability: f64,
        p50: Option<u32>,
    ) -> LedgerEntry {
        LedgerEntry {
            netuid,
            name: format!("sn{netuid}"),
            description: String::new(),
            capabilities: vec!["web_search".into()],
            transports: vec![TransportSpec::HttpJson {
                url: format!("https://sn{netuid}.example/search"),
                method: "POST".into(),
                auth: AuthKind::None,
            }],
            input_schema: json!({"type": "object"}),
            output_schema: json!({"type": "object"}),
            fixture: json!({}),
            metrics: Metrics { reliability: Some(reliability), latency_p50_ms: p50, ..Metrics::default() },
            version: 1,
            last_verified_ms: None,
            provenance: Provenance { proposer: proposer.map(str::to_string), ..Provenance::default() },
            status,
            simulated: false,
        }
    }

    fn order(ledger: &[LedgerEntry]) -> Vec<u16> {
        route(ledger, "web_search", &Contract::default()).iter().map(|e| e.netuid).collect()
    }

    #[test]
    fn entries_that_verify_come_first() {
        let ledger = vec![
            // A miner's new subnet: a candidate with a proposer, the best metrics on paper.
            entry(1, EntryStatus::Candidate, Some("5Miner"), 0.99, None),
            // The operator's seed: a candidate without a proposer (verifies).
            entry(2, EntryStatus::Candidate, None, 0.6, None),
            entry(3, EntryStatus::Verified, None, 0.7, None),
            entry(4, EntryStatus::Deprecated, None, 1.0, None),
        ];
        assert_eq!(
            order(&ledger),
            vec![3, 2, 1],
            "verified, then seeded, then the unverifiable fallback; never deprecated"
        );
    }

    #[test]
    fn a_degraded_entry_is_tried_after_healthy_ones() {
        // Healthy: the faster one first.
        let healthy = [
            entry(22, EntryStatus::Verified, None, 1.0, Some(10)),
            entry(122, EntryStatus::Verified, None, 1.0, Some(40)),
        ];
        assert_eq!(order(&healthy), vec![22, 122]);
        // 22 degraded: the slower healthy one first, then a seeded candidate, then 22 (it still
        // verifies, so it comes before a miner's unverifiable entry); deprecated never.
        let ledger = [
            entry(22, EntryStatus::Degraded, None, 1.0, Some(10)),
            entry(122, EntryStatus::Verified, None, 1.0, Some(40)),
            entry(7, EntryStatus::Candidate, None, 1.0, Some(90)),
            entry(8, EntryStatus::Candidate, Some("5Miner"), 1.0, Some(5)),
            entry(9, EntryStatus::Deprecated, None, 1.0, Some(1)),
        ];
        assert_eq!(order(&ledger), vec![122, 7, 22, 8]);
    }
}
