//! Every seeded entry × every kind of step the planners can emit: the inputs the miner would
//! send (each step's inputs fitted to the entry as the executor does, one URL per scrape call,
//! the LLM planner's and the extraction's chat requests) validate against the entry's input
//! schema. Seeded entries: the built-in seed (`real_subnet_seed`), the file it is built from
//! (`ledger-store/seed/real-subnets.json`), and the SIMULATED subnets a local network seeds.
//! The bug class: SN22 requires `count >= 10` (and `tools`), and the planner sent `count: 6`.

use std::collections::BTreeSet;

use orchestra_miner::extraction::chat_input;
use orchestra_miner::planner::{fit_inputs, llm_plan_input, plan, repair};
use orchestra_proto::contract::Contract;
use orchestra_proto::extract::{Document, ExtractionRequest};
use orchestra_proto::ledger::LedgerEntry;
use orchestra_proto::synapses::PlanStep;
use orchestra_subnet_sim::{SubnetKind, ledger::schemas};
use serde_json::{Value, json};

const OBJECTIVES: &[&str] = &[
    "Which cloud provider rents an NVIDIA H100 for the lowest on-demand price per hour? List each provider's H100 hourly price.",
    "What do people on X and Reddit say about decentralized AI training this month? Give the overall sentiment and the posts.",
    "What has @elonmusk posted about GPUs today?",
    "What did @gpu_watcher, @ml_ops_daily, @a1, @a2, @a3, @a4, @a5, @a6, @a7, @a8, @a9 post about H100 rental prices over the past week on Reddit?",
    "Research cloud GPU pricing and recommend positioning for our inference API",
    "Compare vector database pricing tiers this year",
    "sentiment tweets mentions posts reddit opinions discussion influencers hashtags about open weight LLM releases last 30 days",
    "x",
];

/// Target schemas: plain, and one with fields that ask for posts (the social step).
fn target_schemas() -> Vec<Value> {
    vec![
        json!({"type": "object", "properties": {"provider": {"type": "string"}, "price": {"type": "number"}}}),
        json!({"type": "object", "properties": {"posts": {"type": "array", "items": {"type": "object",
            "properties": {"username": {"type": "string"}, "sentiment": {"type": "string"}}}}}}),
    ]
}

/// The three seeds, each a named list of entries.
fn seeds() -> Vec<(&'static str, Vec<LedgerEntry>)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ledger-store/seed/real-subnets.json");
    let file: Vec<LedgerEntry> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("seed file")).expect("entries");
    let builtin = orchestra_ledger_store::real_subnet_seed().expect("built-in seed");
    let simulated = [(SubnetKind::Search, 22), (SubnetKind::Data, 13), (SubnetKind::Llm, 64)]
        .into_iter()
        .map(|(kind, netuid)| {
            let (input_schema, output_schema, fixture, capabilities) = schemas(kind);
            LedgerEntry { input_schema, output_schema, fixture, capabilities, netuid, ..builtin[0].clone() }
        })
        .collect();
    vec![("built-in seed", builtin), ("real-subnets.json", file), ("simulated subnets", simulated)]
}

/// The steps a planner emits for `entries`: the deterministic plans of every objective and
/// schema, and LLM plans repaired from answers that get the inputs wrong.
fn steps(entries: &[LedgerEntry]) -> Vec<PlanStep> {
    let contract = Contract::default();
    let mut out = Vec::new();
    for o in OBJECTIVES {
        for s in target_schemas() {
            if let Ok(p) = plan(o, &s, entries, &contract) {
                out.extend(p);
            }
            // What an LLM might answer: counts and limits out of range, too many keywords, a
            // wrong keyword mode, missing inputs.
            let llm = json!({"steps": [
                {"id": "s1", "capability": "web_search", "inputs": {"prompt": "h100 price", "count": 3}},
                {"id": "s2", "capability": "web_search", "inputs": {"query": "no prompt"}},
                {"id": "sc", "capability": "scrape", "inputs": {"from": "s1", "take": 40}, "depends_on": ["s1"]},
                {"id": "so", "capability": "social_search", "inputs": {"keywords": ["a", "b", "c", "d", "e", "f", "g"],
                    "usernames": ["u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "u10", "u11"],
                    "keyword_mode": "some", "limit": 100000, "source": "REDDIT", "url": "https://x.example/a"}},
                {"id": "so2", "capability": "social_search", "inputs": {}}
            ]})
            .to_string();
            if let Ok(p) = repair(&llm, o, &s, entries, &contract) {
                out.extend(p);
            }
        }
    }
    out
}

/// The inputs of the calls one step makes to `entry`, as the executor fits them.
fn calls(step: &PlanStep, entry: &LedgerEntry) -> Vec<Value> {
    let raw = match step.capability.as_str() {
        // A scrape step makes one call per link found by the search.
        "scrape" => {
            vec![json!({"url": "https://sim.lambda.example/pricing"}), json!({"url": "https://example.com/a?b=c"})]
        }
        _ => vec![step.inputs.clone()],
    };
    raw.iter().map(|i| fit_inputs(&entry.input_schema, i)).collect()
}

/// The chat requests of the LLM planner and of an extraction round (JSON mode and plain).
fn chats(entries: &[LedgerEntry]) -> Vec<Value> {
    let req = ExtractionRequest {
        objective: OBJECTIVES[0].into(),
        schema: target_schemas()[0].clone(),
        documents: vec![Document {
            receipt: 0,
            pointer: "/data/0/content".into(),
            text: "NVIDIA H100 SXM: $2.49 per GPU-hour".into(),
            source: Some("https://sim.lambda.example/pricing".into()),
            title: None,
            date: None,
            author: None,
        }],
        feedback: vec!["price: cite the quote".into()],
    };
    let mut v = vec![chat_input(&req, 2048, false), chat_input(&req, 64, true)];
    for o in OBJECTIVES {
        v.push(llm_plan_input(o, &target_schemas()[1], entries));
    }
    v
}

#[test]
fn every_seed_entry_accepts_what_every_planner_step_sends() {
    let mut failures = Vec::new();
    for (seed, entries) in seeds() {
        let mut caps_seen = BTreeSet::new();
        let all_steps = steps(&entries);
        for e in &entries {
            let mut checked = 0;
            let mut check = |what: String, input: &Value| {
                checked += 1;
                if let Err(err) = orchestra_subnets::schema::validate(&e.input_schema, input, "input") {
                    failures
                        .push(format!("{seed}: netuid {} ({}), {what}: {err}\n    input: {input}", e.netuid, e.name));
                }
            };
            check("probe fixture".into(), &e.fixture);
            // Every step the planners emitted that the router sends to this entry.
            for s in all_steps.iter().filter(|s| e.has_capability(&s.capability)) {
                caps_seen.insert(s.capability.clone());
                for i in calls(s, e) {
                    check(format!("step `{}` ({})", s.id, s.capability), &i);
                }
            }
            if e.has_capability("llm_chat") {
                caps_seen.insert("llm_chat".to_string());
                for c in chats(&entries) {
                    check("chat request".into(), &fit_inputs(&e.input_schema, &c));
                }
            }
            assert!(checked > 1, "{seed}: netuid {} was never sent anything", e.netuid);
        }
        // Every kind of step any entry of this seed offers was emitted and checked.
        let offered: BTreeSet<String> = entries.iter().flat_map(|e| e.capabilities.iter().cloned()).collect();
        assert_eq!(caps_seen, offered, "{seed}: step kinds not covered");
    }
    assert!(failures.is_empty(), "{} inputs do not validate:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_built_in_seed_is_the_seed_file() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ledger-store/seed/real-subnets.json");
    let file: Vec<LedgerEntry> = serde_json::from_str(&std::fs::read_to_string(path).expect("seed")).expect("entries");
    assert_eq!(orchestra_ledger_store::real_subnet_seed().expect("seed"), file);
}
