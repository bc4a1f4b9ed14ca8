//! The synthetic task bank: objectives a validator can check, randomized per miner and per
//! epoch so an answer cannot be cached or copied from another miner (each miner gets its own
//! task id, topic and schema variant; a copied response echoes the wrong request and scores 0).

use orchestra_proto::contract::Contract;
use orchestra_proto::synapses::OrchestrateRequest;
use serde_json::{Value, json};

/// (objective, shorthand schema) pairs the simulated and real search/scrape/LLM subnets can serve.
const BANK: &[(&str, &str)] = &[
    ("Research cloud GPU pricing and recommend positioning for our inference API", "competitors"),
    ("Compare on-demand H100 prices across GPU clouds", "providers"),
    ("Survey inference API pricing per million tokens and suggest a price", "offers"),
    ("Find current GPU cloud market prices for A100 and H100 instances", "vendors"),
];

fn pick(seed: &[u8], n: usize) -> usize {
    let h = blake3::hash(seed);
    let mut x = [0u8; 8];
    x.copy_from_slice(&h.as_bytes()[..8]);
    (u64::from_le_bytes(x) % n.max(1) as u64) as usize
}

/// A task for `miner` in `epoch`, deterministic from the validator's secret `salt` (so the
/// validator can recompute it, and miners cannot predict it).
pub fn synthetic(salt: &[u8], epoch: u64, miner: &str, deadline_ms: u64) -> OrchestrateRequest {
    let seed = [salt, &epoch.to_le_bytes(), miner.as_bytes()].concat();
    let (objective, list) = BANK[pick(&seed, BANK.len())];
    let name_field = ["name", "provider", "vendor"][pick(&[&seed[..], b"n"].concat(), 3)];
    let price_field = ["price_point", "recommended_price", "target_price"][pick(&[&seed[..], b"p"].concat(), 3)];
    let schema: Value = json!({
        list: [{name_field: "str", "pricing": "dict"}],
        "recommendation": {price_field: "float", "rationale": "str"}
    });
    let id = blake3::hash(&seed).to_hex();
    OrchestrateRequest {
        task_id: format!("syn-{epoch}-{}", &id[..16]),
        objective: objective.to_string(),
        target_schema: schema,
        contract: Contract { deadline_ms, ..Contract::default() },
        inputs: Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_differ_per_miner_and_epoch() {
        let a = synthetic(b"s", 1, "5A", 10_000);
        let b = synthetic(b"s", 1, "5B", 10_000);
        let c = synthetic(b"s", 2, "5A", 10_000);
        assert_ne!(a.task_id, b.task_id);
        assert_ne!(a.task_id, c.task_id);
        assert_eq!(a, synthetic(b"s", 1, "5A", 10_000), "the validator can recompute its own task");
        assert!(a.validate().is_ok());
    }
}
