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
    use orchestra_proto::ledger::{EntryStatus, Metrics, Provenance, TransportSpec};
    use serde_json::json;

    fn entry(netuid: u16, status: EntryStatus, proposer: Option<&str>, reliability: f64) -> LedgerEntry {
        LedgerEntry {
            netuid,
            name: format!("sn{netuid}"),
            description: String::new(),
            capabilities: vec!["web_search".into()],
            transports: vec![TransportSpec::HttpJson {
                url: format!("https://sn{netuid}.example/search"),
                method: "POST".into(),
                auth: orchestra_proto::ledger::AuthKind::None,
            }],
            input_schema: json!({"type": "object"}),
            output_schema: json!({"type": "object"}),
            fixture: json!({}),
            metrics: Metrics { reliability: Some(reliability), ..Metrics::default() },
            version: 1,
            last_verified_ms: None,
            provenance: Provenance { proposer: proposer.map(str::to_string), ..Provenance::default() },
            status,
            simulated: false,
        }
    }

    #[test]
    fn entries_that_verify_come_first() {
        let ledger = vec![
            // A miner's new subnet: a candidate with a proposer, the best metrics on paper.
            entry(1, EntryStatus::Candidate, Some("5Miner"), 0.99),
            // The operator's seed: a candidate without a proposer (verifies).
            entry(2, EntryStatus::Candidate, None, 0.6),
            entry(3, EntryStatus::Verified, None, 0.7),
            entry(4, EntryStatus::Deprecated, None, 1.0),
        ];
        let order: Vec<u16> = route(&ledger, "web_search", &Contract::default()).iter().map(|e| e.netuid).collect();
        assert_eq!(order, vec![3, 2, 1], "verified, then seeded, then the unverifiable fallback; never deprecated");
    }
}
