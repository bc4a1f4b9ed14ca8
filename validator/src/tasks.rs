//! The synthetic task bank: objectives a validator can check, randomized per miner and per
//! epoch so an answer cannot be cached or copied from another miner (each miner gets its own
//! task id, objective and schema variant; a copied response echoes the wrong request and
//! scores 0).
//!
//! Each template is a question over one domain of what the search and data subnets serve
//! (GPU cloud prices, inference API prices, EV charging, vector databases, open model
//! releases, what people say on social networks) with a schema whose field names are drawn per
//! miner. The validator answers the same task itself ([`crate::reference`]) and compares.

use orchestra_proto::contract::Contract;
use orchestra_proto::synapses::OrchestrateRequest;
use serde_json::{Value, json};

/// The answer shape a template asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// Every entity with its figure, plus the entity with the lowest figure.
    ListWithMin,
    /// Every entity with its figure, plus the entity with the highest figure.
    ListWithMax,
    /// Every entity with its figure.
    List,
    /// Overall sentiment (enum) and the posts.
    Sentiment,
}

/// One template: objective text (`{x}` is filled from `slots`), entity and figure nouns.
#[derive(Debug, Clone, Copy)]
struct Template {
    objective: &'static str,
    slots: &'static [&'static str],
    entity: &'static [&'static str],
    figure: &'static [&'static str],
    shape: Shape,
}

const GPU: &[&str] = &["H100", "A100"];
const GPU_ENTITY: &[&str] = &["provider", "cloud", "vendor"];
const GPU_FIGURE: &[&str] = &["usd_per_gpu_hour", "hourly_price_usd", "price_per_hour"];
const LLM: &[&str] = &["Llama 3.1 70B", "Llama 3.1 8B"];
const API_ENTITY: &[&str] = &["provider", "api", "vendor"];
const API_FIGURE: &[&str] = &["usd_per_million_tokens", "price_per_million_tokens"];
const EV_ENTITY: &[&str] = &["network", "operator", "charging_network"];
const EV_FIGURE: &[&str] = &["usd_per_kwh", "price_per_kwh"];
const VDB_ENTITY: &[&str] = &["database", "product", "vendor"];
const VDB_FIGURE: &[&str] = &["starting_price_usd", "entry_price_usd"];
const MODEL_ENTITY: &[&str] = &["model", "model_name"];
const MODEL_FIGURE: &[&str] = &["parameters_billions", "size_billion_parameters"];
const NONE: &[&str] = &[""];

macro_rules! t {
    ($o:expr, $s:expr, $e:expr, $f:expr, $sh:ident) => {
        Template { objective: $o, slots: $s, entity: $e, figure: $f, shape: Shape::$sh }
    };
}

/// The bank. Templates with a slot count once per slot value.
const BANK: &[Template] = &[
    // GPU cloud prices (2 GPUs each: 20 templates).
    t!(
        "Which cloud provider rents an NVIDIA {x} for the lowest on-demand price per GPU-hour? List each provider's {x} hourly price.",
        GPU,
        GPU_ENTITY,
        GPU_FIGURE,
        ListWithMin
    ),
    t!("List the on-demand NVIDIA {x} price per GPU-hour at each GPU cloud.", GPU, GPU_ENTITY, GPU_FIGURE, List),
    t!(
        "Which GPU cloud charges the most per GPU-hour for an NVIDIA {x}? Give each cloud's {x} price.",
        GPU,
        GPU_ENTITY,
        GPU_FIGURE,
        ListWithMax
    ),
    t!(
        "Compare {x} GPU rental prices per GPU-hour across cloud providers and name the cheapest.",
        GPU,
        GPU_ENTITY,
        GPU_FIGURE,
        ListWithMin
    ),
    t!(
        "What does one NVIDIA {x} GPU cost per hour on demand at each cloud provider?",
        GPU,
        GPU_ENTITY,
        GPU_FIGURE,
        List
    ),
    t!(
        "Where is renting an {x} GPU cheapest per hour? List the hourly {x} price of every provider.",
        GPU,
        GPU_ENTITY,
        GPU_FIGURE,
        ListWithMin
    ),
    t!(
        "Find the most expensive on-demand {x} GPU-hour among cloud providers, with every provider's price.",
        GPU,
        GPU_ENTITY,
        GPU_FIGURE,
        ListWithMax
    ),
    t!("Survey on-demand {x} cloud GPU pricing per GPU-hour.", GPU, GPU_ENTITY, GPU_FIGURE, List),
    t!(
        "For an inference startup: which provider offers the cheapest {x} per GPU-hour? List all providers' {x} prices.",
        GPU,
        GPU_ENTITY,
        GPU_FIGURE,
        ListWithMin
    ),
    t!("Rank GPU clouds by their on-demand {x} price per GPU-hour.", GPU, GPU_ENTITY, GPU_FIGURE, List),
    // Inference API prices per million tokens (2 models each: 12 templates).
    t!(
        "Which inference API is cheapest per million tokens for {x}? List each provider's price per million tokens.",
        LLM,
        API_ENTITY,
        API_FIGURE,
        ListWithMin
    ),
    t!("List inference API prices per million tokens for {x}.", LLM, API_ENTITY, API_FIGURE, List),
    t!(
        "Which inference provider charges the most per million tokens for {x}? Give every provider's price.",
        LLM,
        API_ENTITY,
        API_FIGURE,
        ListWithMax
    ),
    t!(
        "Compare serverless inference pricing per million tokens for {x} and name the cheapest provider.",
        LLM,
        API_ENTITY,
        API_FIGURE,
        ListWithMin
    ),
    t!("What does {x} inference cost per million tokens at each API provider?", LLM, API_ENTITY, API_FIGURE, List),
    t!("Survey LLM API token prices for {x}.", LLM, API_ENTITY, API_FIGURE, List),
    // EV charging (8 templates).
    t!(
        "Which public EV fast-charging network is cheapest per kWh? List each network's price per kWh.",
        NONE,
        EV_ENTITY,
        EV_FIGURE,
        ListWithMin
    ),
    t!("List the price per kWh of each public EV fast charging network.", NONE, EV_ENTITY, EV_FIGURE, List),
    t!(
        "Which EV charging network charges the most per kWh? Give every network's price.",
        NONE,
        EV_ENTITY,
        EV_FIGURE,
        ListWithMax
    ),
    t!(
        "Compare public fast charging costs per kWh across EV charging networks and name the cheapest.",
        NONE,
        EV_ENTITY,
        EV_FIGURE,
        ListWithMin
    ),
    t!("What does electric vehicle fast charging cost per kWh on each network?", NONE, EV_ENTITY, EV_FIGURE, List),
    t!(
        "Where is EV fast charging cheapest per kWh? List every charging network's kWh price.",
        NONE,
        EV_ENTITY,
        EV_FIGURE,
        ListWithMin
    ),
    t!(
        "Find the most expensive public EV charging network per kWh, with each network's price.",
        NONE,
        EV_ENTITY,
        EV_FIGURE,
        ListWithMax
    ),
    t!("Survey EV fast charging prices per kWh by charging network.", NONE, EV_ENTITY, EV_FIGURE, List),
    // Vector databases (6 templates).
    t!(
        "Which managed vector database has the lowest starting price? List each vector database's starting price.",
        NONE,
        VDB_ENTITY,
        VDB_FIGURE,
        ListWithMin
    ),
    t!("List the starting prices of managed vector databases.", NONE, VDB_ENTITY, VDB_FIGURE, List),
    t!(
        "Which managed vector database has the highest starting price? Give each database's starting price.",
        NONE,
        VDB_ENTITY,
        VDB_FIGURE,
        ListWithMax
    ),
    t!(
        "Compare managed vector database pricing and name the cheapest to start with.",
        NONE,
        VDB_ENTITY,
        VDB_FIGURE,
        ListWithMin
    ),
    t!("What does each managed vector database cost to start?", NONE, VDB_ENTITY, VDB_FIGURE, List),
    t!("Survey vector database cloud pricing.", NONE, VDB_ENTITY, VDB_FIGURE, List),
    // Open model releases (6 templates).
    t!(
        "Which recent open-weight LLM release has the most parameters? List each model's parameter count in billions.",
        NONE,
        MODEL_ENTITY,
        MODEL_FIGURE,
        ListWithMax
    ),
    t!(
        "List recent open-weight language model releases with their parameter counts in billions.",
        NONE,
        MODEL_ENTITY,
        MODEL_FIGURE,
        List
    ),
    t!(
        "Which recent open-weight LLM release is the smallest by parameter count? Give each model's size in billions.",
        NONE,
        MODEL_ENTITY,
        MODEL_FIGURE,
        ListWithMin
    ),
    t!(
        "Compare the sizes of recently released open-weight LLMs in billions of parameters.",
        NONE,
        MODEL_ENTITY,
        MODEL_FIGURE,
        List
    ),
    t!(
        "What open-weight language models were released recently, and how many billion parameters does each have?",
        NONE,
        MODEL_ENTITY,
        MODEL_FIGURE,
        List
    ),
    t!(
        "Name the largest recent open LLM release by parameters, listing every release's size.",
        NONE,
        MODEL_ENTITY,
        MODEL_FIGURE,
        ListWithMax
    ),
    // What people say (8 templates).
    t!(
        "What do people on X and Reddit say about decentralized AI training this month? Give the overall sentiment and the posts.",
        NONE,
        NONE,
        NONE,
        Sentiment
    ),
    t!(
        "How do people on social media feel about decentralized AI training this month? Overall sentiment and posts.",
        NONE,
        NONE,
        NONE,
        Sentiment
    ),
    t!(
        "What is the sentiment on X and Reddit about decentralized AI training? List the posts.",
        NONE,
        NONE,
        NONE,
        Sentiment
    ),
    t!(
        "What are people saying about GPU rental prices on X and Reddit this month? Give the overall sentiment and the posts.",
        NONE,
        NONE,
        NONE,
        Sentiment
    ),
    t!(
        "How do people feel about H100 GPU prices on social media this month? Overall sentiment and the posts.",
        NONE,
        NONE,
        NONE,
        Sentiment
    ),
    t!(
        "What do people on X say about EV charging prices? Give the overall sentiment and the posts.",
        NONE,
        NONE,
        NONE,
        Sentiment
    ),
    t!(
        "What do Reddit and X users think about open-weight model releases this month? Overall sentiment and posts.",
        NONE,
        NONE,
        NONE,
        Sentiment
    ),
    t!(
        "What is the mood on X and Reddit about inference API pricing this month? Give the overall sentiment and the posts.",
        NONE,
        NONE,
        NONE,
        Sentiment
    ),
];

/// Templates counted with their slot values (the bank's size as the issue counts it).
pub fn bank_size() -> usize {
    BANK.iter().map(|t| t.slots.len()).sum()
}

fn pick(seed: &[u8], n: usize) -> usize {
    let h = blake3::hash(seed);
    let mut x = [0u8; 8];
    x.copy_from_slice(&h.as_bytes()[..8]);
    (u64::from_le_bytes(x) % n.max(1) as u64) as usize
}

fn schema(shape: Shape, list: &str, entity: &str, figure: &str, extreme: &str) -> Value {
    let item = json!({"type": "object", "required": [entity, figure], "properties": {
        entity: {"type": "string"}, figure: {"type": "number"}}});
    match shape {
        Shape::List => json!({"type": "object", "required": [list], "properties": {
            list: {"type": "array", "items": item}}}),
        Shape::ListWithMin | Shape::ListWithMax => {
            json!({"type": "object", "required": [list, extreme], "properties": {
            list: {"type": "array", "items": item}, extreme: {"type": "string"}}})
        }
        Shape::Sentiment => json!({"type": "object", "required": ["overall_sentiment", list], "properties": {
            "overall_sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
            list: {"type": "array", "items": {"type": "object", "required": ["author", "text"], "properties": {
                "author": {"type": "string"}, "text": {"type": "string"}, "url": {"type": "string"},
                "date": {"type": "string"}}}}}}),
    }
}

/// The `index`-th template of the bank (slots expanded) as (objective, schema), with field
/// names drawn from `seed`.
pub fn template(index: usize, seed: &[u8]) -> (String, Value) {
    let mut i = index % bank_size().max(1);
    let mut chosen = (&BANK[0], "");
    for t in BANK {
        if i < t.slots.len() {
            chosen = (t, t.slots[i]);
            break;
        }
        i -= t.slots.len();
    }
    let (t, slot) = chosen;
    let objective = t.objective.replace("{x}", slot);
    let sub = |tag: &[u8]| [seed, tag].concat();
    let entity = t.entity[pick(&sub(b"e"), t.entity.len())];
    let figure = t.figure[pick(&sub(b"f"), t.figure.len())];
    let (list, extreme) = match t.shape {
        Shape::Sentiment => (["mentions", "posts"][pick(&sub(b"l"), 2)], ""),
        Shape::ListWithMin => {
            (["items", "results", "entries"][pick(&sub(b"l"), 3)], ["cheapest", "lowest"][pick(&sub(b"x"), 2)])
        }
        Shape::ListWithMax => {
            (["items", "results", "entries"][pick(&sub(b"l"), 3)], ["highest", "most_expensive"][pick(&sub(b"x"), 2)])
        }
        Shape::List => (["items", "results", "entries"][pick(&sub(b"l"), 3)], ""),
    };
    let extreme = if t.figure == MODEL_FIGURE && t.shape == Shape::ListWithMax {
        "largest"
    } else if t.figure == MODEL_FIGURE && t.shape == Shape::ListWithMin {
        "smallest"
    } else {
        extreme
    };
    (objective, schema(t.shape, list, entity, figure, extreme))
}

/// A task for `miner` in `epoch`, deterministic from the validator's secret `salt` (so the
/// validator can recompute it, and miners cannot predict it).
pub fn synthetic(salt: &[u8], epoch: u64, miner: &str, deadline_ms: u64) -> OrchestrateRequest {
    let seed = [salt, &epoch.to_le_bytes(), miner.as_bytes()].concat();
    let (objective, schema) = template(pick(&seed, bank_size()), &seed);
    let id = blake3::hash(&seed).to_hex();
    OrchestrateRequest {
        task_id: format!("syn-{epoch}-{}", &id[..16]),
        objective,
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

    #[test]
    fn the_bank_has_fifty_valid_templates_across_domains() {
        assert!(bank_size() >= 50, "{}", bank_size());
        let mut objectives = std::collections::BTreeSet::new();
        for i in 0..bank_size() {
            let (o, s) = template(i, b"seed");
            assert!(!o.contains("{x}"), "{o}");
            jsonschema::validator_for(&s).expect("valid JSON Schema");
            objectives.insert(o);
        }
        assert_eq!(objectives.len(), bank_size(), "every template is a different objective");
    }
}
