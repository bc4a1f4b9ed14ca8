//! Red-team miner strategies: what a hostile or lazy miner does to an honest pipeline's answer
//! before returning it. Each is a pure transformation (plus the little state a strategy keeps),
//! used by the `redteam-miner` binary (a real miner process on a local network), by the network
//! test, and by the owner simulator's populations.
//!
//! - **fabricator**: swaps a key number and an entity name in its evidence bodies, its result
//!   and its citations (2.49 → 0.42, "Lambda" → "Imaginary"), then re-hashes receipts, root and
//!   signature: self-consistent fake evidence;
//! - **replayer**: answers every task with its first answer, re-signed for the new task;
//! - **copier**: forwards the task to another miner and re-signs its answer (refused by any
//!   miner whose blacklist admits only validators);
//! - **wrong-template**: genuine receipts, but a schema-valid answer filled from a template;
//! - **lazy-cache**: answers a repeated objective from its cache;
//! - **slow**: honest, but late in its deadline;
//! - **ledger-spammer**: answers tasks with the honest pipeline and floods the Ledger with
//!   proposals that must earn nothing ([`ledger_spam`]): no-ops, unknown-field and cost
//!   metrics, endpoint changes, a new subnet with a URL, removals of fields the subnet never
//!   dropped, made-up capabilities and evidence, and the same proposals again after they were
//!   decided.

use std::collections::HashMap;

use orchestra_keys::Keypair;
use orchestra_proto::canonical::{Digest, response_digest};
use orchestra_proto::ledger::LedgerEntry;
use orchestra_proto::receipt::{commitment, receipt_root, result_digest};
use orchestra_proto::synapses::{LedgerProposal, Orchestrate, UpdateType};
use serde_json::{Map, Value, json};

/// A red-team strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    Fabricator,
    Replayer,
    Copier,
    WrongTemplate,
    LazyCache,
    Slow,
    LedgerSpammer,
}

impl Strategy {
    pub const ALL: [Strategy; 7] = [
        Strategy::Fabricator,
        Strategy::Replayer,
        Strategy::Copier,
        Strategy::WrongTemplate,
        Strategy::LazyCache,
        Strategy::Slow,
        Strategy::LedgerSpammer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Fabricator => "fabricator",
            Strategy::Replayer => "replayer",
            Strategy::Copier => "copier",
            Strategy::WrongTemplate => "wrong-template",
            Strategy::LazyCache => "lazy-cache",
            Strategy::Slow => "slow",
            Strategy::LedgerSpammer => "ledger-spammer",
        }
    }

    pub fn parse(s: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|x| x.name() == s)
    }
}

/// Sign the commitment of `out` again with `key` (after the strategy changed it).
pub fn resign(out: &mut Orchestrate, key: &Keypair) {
    let (Some(result), Ok(root)) = (out.result.as_ref(), receipt_root(&out.receipts)) else { return };
    let Ok(rd) = result_digest(result) else { return };
    out.receipt_root = Some(root);
    out.miner_hotkey = Some(key.ss58().to_string());
    out.miner_signature = Some(key.sign_hex(&commitment(&out.task_id, &rd, &root).0));
}

fn replace_text(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::String(s) if s.contains(from) => *s = s.replace(from, to),
        Value::Array(a) => a.iter_mut().for_each(|x| replace_text(x, from, to)),
        Value::Object(m) => m.values_mut().for_each(|x| replace_text(x, from, to)),
        _ => {}
    }
}

fn replace_number(v: &mut Value, from: f64, to: f64) {
    match v {
        Value::Number(n) if n.as_f64().is_some_and(|x| (x - from).abs() < 1e-9) => *v = json!(to),
        Value::Array(a) => a.iter_mut().for_each(|x| replace_number(x, from, to)),
        Value::Object(m) => m.values_mut().for_each(|x| replace_number(x, from, to)),
        _ => {}
    }
}

/// The fabricator: swap the result's first number and first short name everywhere (evidence,
/// result, citation quotes), re-hash the receipts, the root and the signature.
pub fn fabricate(out: &mut Orchestrate, key: &Keypair) {
    let Some(result) = out.result.clone() else { return };
    let leaves = orchestra_proto::extract::leaves(&result);
    let number = leaves.iter().find_map(|(_, v)| v.as_f64());
    let name = leaves
        .iter()
        .filter_map(|(_, v)| v.as_str())
        .find(|s| (3..=40).contains(&s.len()) && !s.contains("://") && s.chars().any(char::is_alphabetic))
        .map(|s| s.split_whitespace().next().unwrap_or(s).to_string());
    let mut result = result;
    if let Some(x) = number {
        let fake = ((x * 0.17 * 100.0).round() / 100.0).max(0.01);
        let (from, to) = (format!("{x}"), format!("{fake}"));
        replace_number(&mut result, x, fake);
        replace_text(&mut result, &from, &to);
        for e in &mut out.evidence {
            replace_text(&mut e.response, &from, &to);
        }
        for c in &mut out.citations {
            c.quote = c.quote.replace(&from, &to);
        }
    }
    if let Some(n) = name {
        replace_text(&mut result, &n, "Imaginary");
        for e in &mut out.evidence {
            replace_text(&mut e.response, &n, "Imaginary");
        }
        for c in &mut out.citations {
            c.quote = c.quote.replace(&n, "Imaginary");
        }
    }
    for (r, e) in out.receipts.iter_mut().zip(&out.evidence) {
        if let Ok(d) = response_digest(&e.response) {
            r.response_digest = d;
        }
    }
    out.result = Some(result);
    resign(out, key);
}

/// A schema-valid value from a JSON Schema: the first enum value, "Acme Cloud", 1.0, two items.
pub fn template_value(schema: &Value) -> Value {
    if let Some(e) = schema.get("enum").and_then(Value::as_array).and_then(|a| a.first()) {
        return e.clone();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") | None if schema.get("properties").is_some() => {
            let mut m = Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, s) in props {
                    m.insert(k.clone(), template_value(s));
                }
            }
            Value::Object(m)
        }
        Some("object") => json!({}),
        Some("array") => {
            let item = template_value(schema.get("items").unwrap_or(&Value::Null));
            json!([item.clone(), item])
        }
        Some("number") => json!(1.0),
        Some("integer") => json!(1),
        Some("boolean") => json!(true),
        _ => json!("Acme Cloud"),
    }
}

/// The wrong-template miner: keeps its genuine receipts, answers from a template.
pub fn wrong_template(out: &mut Orchestrate, key: &Keypair) {
    let Ok(schema) = orchestra_proto::shorthand::to_json_schema(&out.target_schema) else { return };
    out.result = Some(template_value(&schema));
    out.citations.clear();
    out.error = None;
    resign(out, key);
}

/// Answer the request of `fresh` with the body of an older answer `old`, re-signed.
pub fn replay(old: &Orchestrate, fresh: &Orchestrate, key: &Keypair) -> Orchestrate {
    let mut out = old.clone();
    out.request_digest = fresh.request_digest.clone();
    out.task_id = fresh.task_id.clone();
    out.objective = fresh.objective.clone();
    out.target_schema = fresh.target_schema.clone();
    out.contract = fresh.contract.clone();
    out.inputs = fresh.inputs.clone();
    resign(&mut out, key);
    out
}

/// The Ledger spammer's flood for one round: every kind of proposal that must earn nothing,
/// against each entry of `ledger`, citing `evidence` (leaves of its own genuine receipts, so
/// validators do not skip them as unseen) or, for one of them, a made-up digest. The kinds
/// that apply to no particular entry come first: validators take a bounded number per round.
pub fn ledger_spam(ledger: &[LedgerEntry], evidence: &[Digest], task_id: &str, proposer: &str) -> Vec<LedgerProposal> {
    let mut out = Vec::new();
    let p = |e: &LedgerEntry, update_type, field: &str, old_value: Value, new_value: Value| LedgerProposal {
        netuid: e.netuid,
        subnet: e.name.clone(),
        update_type,
        field: field.to_string(),
        old_value,
        new_value,
        evidence: evidence.to_vec(),
        task_id: task_id.to_string(),
        proposed_by: proposer.to_string(),
    };
    // A new subnet at the spammer's URL.
    if let Some(e) = ledger.first() {
        let mut fake = e.clone();
        fake.netuid = 250;
        fake.name = "free-credit".into();
        let mut np = p(e, UpdateType::NewSubnet, "", Value::Null, serde_json::to_value(&fake).unwrap_or(Value::Null));
        np.netuid = 250;
        out.push(np);
        // Made-up evidence.
        let mut made_up =
            p(e, UpdateType::SchemaChange, "output_schema.made_up", Value::Null, json!({"type": "number"}));
        made_up.evidence = vec![Digest([7; 32])];
        out.push(made_up);
    }
    for e in ledger {
        let props = e.output_schema.get("properties").cloned().unwrap_or(Value::Null);
        // A no-op: the schema's own properties, unchanged.
        out.push(p(e, UpdateType::SchemaChange, "output_schema.properties", props.clone(), props.clone()));
        // Metrics: an unknown field, and the cost (cheaper routing for free).
        out.push(p(e, UpdateType::MetricsUpdate, "metrics.quality_bonus", Value::Null, json!(1.0)));
        out.push(p(e, UpdateType::MetricsUpdate, "metrics.cost_micros", json!(e.metrics.cost_micros), json!(0)));
        // An endpoint change to the spammer's own address.
        out.push(p(e, UpdateType::EndpointChange, "transports.0.url", Value::Null, json!("http://127.0.0.1:9/mine")));
        // A capability it already has.
        if let Some(cap) = e.capabilities.first() {
            out.push(p(e, UpdateType::CapabilityAdded, "capabilities", Value::Null, json!(cap)));
        }
        // A capability it does not have (the probe cannot show it) and a deprecation of a
        // subnet that answers: both are probed and refuted.
        out.push(p(e, UpdateType::CapabilityAdded, "capabilities", Value::Null, json!("free_money")));
        out.push(p(e, UpdateType::Deprecation, "status", Value::Null, json!("deprecated")));
        // Removal of every schema property the subnet still returns (or never returned).
        if let Some(m) = props.as_object() {
            for (k, v) in m.iter().take(3) {
                out.push(p(
                    e,
                    UpdateType::SchemaChange,
                    &format!("output_schema.properties.{k}"),
                    v.clone(),
                    Value::Null,
                ));
            }
        }
        // A field the subnet never returns.
        out.push(p(e, UpdateType::SchemaChange, "output_schema.spam_field", Value::Null, json!({"type": "string"})));
    }
    out
}

/// What a replayer or a lazy cache remembers.
#[derive(Debug, Default)]
pub struct Memory {
    pub first: Option<Orchestrate>,
    pub by_objective: HashMap<String, Orchestrate>,
    /// The spammer's proposals, served to `LedgerProposals` pulls (sequence = index + 1).
    pub spam: Vec<LedgerProposal>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestra_proto::canonical::request_digest;
    use orchestra_proto::contract::Contract;
    use orchestra_proto::receipt::{CallStatus, Receipt, Transport};
    use orchestra_proto::synapses::{CallEvidence, OrchestrateRequest};

    fn honest(key: &Keypair) -> Orchestrate {
        let req = OrchestrateRequest {
            task_id: "t1".into(),
            objective: "cheapest H100".into(),
            target_schema: json!({"type": "object", "properties": {"provider": {"type": "string"}, "price": {"type": "number"}}}),
            contract: Contract::default(),
            inputs: Value::Null,
        };
        let mut o = Orchestrate::from_request(req).expect("o");
        let body = json!({"data": [{"content": "Lambda Cloud: H100 at $2.49 per GPU-hour"}]});
        let request = json!({"url": "https://sim.lambda.example/pricing"});
        o.receipts.push(Receipt {
            step_id: "s".into(),
            netuid: 13,
            subnet: "sim".into(),
            transport: Transport::HttpJson,
            endpoint: "http://x".into(),
            target: String::new(),
            request_digest: request_digest(&request).expect("d"),
            response_digest: response_digest(&body).expect("d"),
            started_at_ms: 0,
            finished_at_ms: 1,
            latency_ms: 1,
            status: CallStatus::Ok,
            cost_micros: 0,
            attestation: None,
        });
        o.evidence.push(CallEvidence { request, response: body });
        o.result = Some(json!({"provider": "Lambda Cloud", "price": 2.49}));
        resign(&mut o, key);
        o
    }

    #[test]
    fn the_fabricator_stays_self_consistent() {
        let key = Keypair::from_uri("//Fab").expect("k");
        let mut o = honest(&key);
        fabricate(&mut o, &key);
        let r = o.result.clone().expect("r");
        assert_eq!(r["price"], json!(0.42));
        assert_eq!(r["provider"], json!("Imaginary Cloud"));
        let text = o.evidence[0].response.to_string();
        assert!(text.contains("Imaginary Cloud") && text.contains("0.42"), "{text}");
        assert_eq!(Some(o.receipts[0].response_digest), response_digest(&o.evidence[0].response).ok());
        assert_eq!(o.receipt_root, receipt_root(&o.receipts).ok());
    }

    #[test]
    fn template_answers_are_schema_valid() {
        let s = json!({"type": "object", "required": ["s", "items"], "properties": {
            "s": {"type": "string", "enum": ["positive", "negative"]},
            "items": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "number"}}}}}});
        let v = template_value(&s);
        assert!(jsonschema::validator_for(&s).expect("schema").is_valid(&v), "{v}");
        assert_eq!(Strategy::parse("lazy-cache"), Some(Strategy::LazyCache));
    }
}
