//! Plans against the real subnets' seed Ledger entries: every step's inputs (as fitted for each
//! entry of its route) validate against that entry's input schema, e.g. SN22's `count` ≥ 10.

use orchestra_miner::planner::{fit_inputs, plan};
use orchestra_proto::contract::Contract;
use orchestra_proto::ledger::LedgerEntry;
use serde_json::json;

#[test]
fn plans_for_the_seed_entries_have_valid_inputs() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ledger-store/seed/real-subnets.json");
    let entries: Vec<LedgerEntry> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("seed")).expect("entries");
    for objective in [
        "Which cloud provider rents an NVIDIA H100 for the lowest on-demand price per hour? List each provider's H100 hourly price.",
        "What do people on X and Reddit say about decentralized AI training this month? Give the overall sentiment and the posts.",
        "What has @elonmusk posted about GPUs today?",
    ] {
        let steps = plan(objective, &json!({"type": "object"}), &entries, &Contract::default()).expect("plan");
        assert!(steps.iter().any(|s| s.capability == "web_search"));
        for s in &steps {
            for netuid in &s.route {
                let e = entries.iter().find(|e| e.netuid == *netuid).expect("routed entry");
                // A scrape step's calls carry one URL each.
                let inputs = if s.capability == "scrape" {
                    json!({"url": "https://example.com/page"})
                } else {
                    s.inputs.clone()
                };
                let fitted = fit_inputs(&e.input_schema, &inputs);
                orchestra_subnets::schema::validate(&e.input_schema, &fitted, "input")
                    .unwrap_or_else(|err| panic!("{objective}: step {} on netuid {netuid}: {err}", s.id));
            }
        }
        let social = steps.iter().filter(|s| s.capability == "social_search").count();
        assert_eq!(social > 0, !objective.starts_with("Which"), "{objective}: {steps:?}");
    }
}
