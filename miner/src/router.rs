//! Routing: which subnets can serve a capability, best first.

use orchestra_proto::contract::Contract;
use orchestra_proto::ledger::{LedgerEntry, rank_for_capability};

/// Entries offering `capability` that the contract allows, in the shared ranking order
/// ([`orchestra_proto::ledger::rank_cmp`]: verified first, then reliability, p50 latency, cost,
/// ties to the lower netuid), the same order the Ledger API's `/v1/find` shows. The order is the
/// fallback order.
pub fn route<'a>(ledger: &'a [LedgerEntry], capability: &str, contract: &Contract) -> Vec<&'a LedgerEntry> {
    rank_for_capability(ledger.iter().filter(|e| contract.allows(e.netuid)), capability)
}
