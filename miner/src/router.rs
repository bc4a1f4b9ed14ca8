//! Routing: which subnets can serve a capability, best first.

use orchestra_proto::contract::Contract;
use orchestra_proto::ledger::{EntryStatus, LedgerEntry};

/// Entries offering `capability` that the contract allows, ordered by whether they verify
/// ([`LedgerEntry::verifies`]: validators re-probe receipts only through such entries, so a
/// receipt from any other one cannot be checked and scores nothing), then status (verified
/// first), reliability (higher first), p50 latency (lower first), then cost (lower first). The
/// order is the fallback order: an entry that does not verify is used only when none that does
/// answers.
pub fn route<'a>(ledger: &'a [LedgerEntry], capability: &str, contract: &Contract) -> Vec<&'a LedgerEntry> {
    let mut v: Vec<&LedgerEntry> = ledger
        .iter()
        .filter(|e| e.has_capability(capability) && e.status != EntryStatus::Deprecated && contract.allows(e.netuid))
        .collect();
    v.sort_by(|a, b| {
        let key = |e: &LedgerEntry| {
            (
                u8::from(!e.verifies()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use orchestra_proto::ledger::{Metrics, Provenance, TransportSpec};
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
