//! The deterministic planner: which capabilities an objective needs, as a DAG of steps.
//!
//! It reads only the Ledger's capabilities and the target schema, so it works offline and gives
//! the same plan for the same inputs. Capability names carry their input conventions
//! (`web_search` takes a prompt, `scrape` a URL, `social_search` keywords, `llm_chat` messages).

use std::collections::BTreeSet;

use orchestra_proto::contract::Contract;
use orchestra_proto::ledger::LedgerEntry;
use orchestra_proto::synapses::PlanStep;
use serde_json::{Value, json};

use crate::{MinerError, router};

/// Words that carry no search meaning.
const STOP: &[&str] = &[
    "the",
    "and",
    "for",
    "our",
    "with",
    "from",
    "into",
    "about",
    "what",
    "which",
    "that",
    "this",
    "research",
    "recommend",
    "find",
    "give",
    "compare",
    "analyze",
    "analyse",
    "best",
    "how",
    "are",
    "its",
    "your",
    "their",
    "a",
    "an",
    "of",
    "to",
    "in",
    "on",
    "by",
    "is",
    "be",
];

/// Up to `n` keywords from the objective, in order of appearance.
pub fn keywords(objective: &str, n: usize) -> Vec<String> {
    let mut seen = BTreeSet::new();
    objective
        .split(|c: char| !c.is_alphanumeric())
        .map(|w| w.to_lowercase())
        .filter(|w| w.len() > 2 && !STOP.contains(&w.as_str()))
        .filter(|w| seen.insert(w.clone()))
        .take(n)
        .collect()
}

/// Whether the schema has free-text fields an LLM should write (rationale, summary, ...).
pub fn has_free_text(schema: &Value) -> bool {
    const TEXTY: &[&str] =
        &["rationale", "summary", "analysis", "description", "explanation", "reasoning", "recommendation"];
    fn walk(s: &Value, name: &str) -> bool {
        let is_str = s.get("type").and_then(Value::as_str) == Some("string");
        if is_str && TEXTY.iter().any(|t| name.contains(t)) {
            return true;
        }
        let props = s.get("properties").and_then(Value::as_object);
        props.is_some_and(|p| p.iter().any(|(k, v)| walk(v, k))) || s.get("items").is_some_and(|i| walk(i, name))
    }
    walk(schema, "")
}

/// Plan `objective` for `target_schema` with what the Ledger offers under `contract`.
pub fn plan(
    objective: &str,
    target_schema: &Value,
    ledger: &[LedgerEntry],
    contract: &Contract,
) -> Result<Vec<PlanStep>, MinerError> {
    let route = |cap: &str| -> Vec<u16> { router::route(ledger, cap, contract).iter().map(|e| e.netuid).collect() };
    let (search, scrape, social, llm) =
        (route("web_search"), route("scrape"), route("social_search"), route("llm_chat"));
    let mut steps = Vec::new();
    if !search.is_empty() {
        steps.push(PlanStep {
            id: "search".into(),
            capability: "web_search".into(),
            inputs: json!({"prompt": objective, "count": 6}),
            depends_on: vec![],
            route: search.clone(),
        });
        if !scrape.is_empty() {
            steps.push(PlanStep {
                id: "scrape".into(),
                capability: "scrape".into(),
                inputs: json!({"from": "search", "take": 4}),
                depends_on: vec!["search".into()],
                route: scrape,
            });
        }
    }
    if !social.is_empty() {
        steps.push(PlanStep {
            id: "social".into(),
            capability: "social_search".into(),
            inputs: json!({"keywords": keywords(objective, 3), "keyword_mode": "any", "limit": 20}),
            depends_on: vec![],
            route: social,
        });
    }
    if steps.is_empty() {
        return Err(MinerError::Plan(
            "no subnet in the Ledger (within the contract's allowed subnets) offers web_search or social_search".into(),
        ));
    }
    if !llm.is_empty() && has_free_text(target_schema) {
        let deps: Vec<String> = steps
            .iter()
            .map(|s| s.id.clone())
            .filter(|id| id != "search" || !steps.iter().any(|s| s.id == "scrape"))
            .collect();
        steps.push(PlanStep {
            id: "write".into(),
            capability: "llm_chat".into(),
            inputs: json!({"from": deps}),
            depends_on: deps,
            route: llm,
        });
    }
    Ok(steps)
}

/// Check a plan (from any planner): unique ids, known dependencies, no cycles, routes present.
pub fn validate(steps: &[PlanStep]) -> Result<(), MinerError> {
    let ids: BTreeSet<&str> = steps.iter().map(|s| s.id.as_str()).collect();
    if ids.len() != steps.len() {
        return Err(MinerError::Plan("duplicate step ids".into()));
    }
    for s in steps {
        if let Some(d) = s.depends_on.iter().find(|d| !ids.contains(d.as_str())) {
            return Err(MinerError::Plan(format!("step `{}` depends on unknown step `{d}`", s.id)));
        }
        if s.route.is_empty() {
            return Err(MinerError::Plan(format!("step `{}` has no subnet to route to", s.id)));
        }
    }
    // Kahn's algorithm: every step must become ready.
    let mut done: BTreeSet<&str> = BTreeSet::new();
    while done.len() < steps.len() {
        let before = done.len();
        for s in steps {
            if !done.contains(s.id.as_str()) && s.depends_on.iter().all(|d| done.contains(d.as_str())) {
                done.insert(&s.id);
            }
        }
        if done.len() == before {
            return Err(MinerError::Plan("the plan has a dependency cycle".into()));
        }
    }
    Ok(())
}

/// The LLM planner: ask an `llm_chat` subnet for a plan as JSON, then validate and repair it
/// against what the Ledger can route (unknown capabilities dropped with their dependents,
/// missing inputs filled from the deterministic templates, routes recomputed). Any failure is
/// an `Err` and the caller falls back to [`plan`]. Returns the plan and the planning call's
/// receipt and evidence, which belong in the task's receipts like any other call.
pub async fn llm_plan(
    adapters: &orchestra_subnets::Adapters,
    objective: &str,
    target_schema: &Value,
    ledger: &[LedgerEntry],
    contract: &Contract,
    timeout: std::time::Duration,
) -> (Result<Vec<PlanStep>, String>, Option<(orchestra_proto::receipt::Receipt, orchestra_proto::synapses::CallEvidence)>)
{
    let Some(llm) = router::route(ledger, "llm_chat", contract).into_iter().next() else {
        return (Err("no llm_chat subnet in the Ledger".into()), None);
    };
    let mut caps: Vec<&str> = ledger.iter().flat_map(|e| e.capabilities.iter().map(String::as_str)).collect();
    caps.sort_unstable();
    caps.dedup();
    let prompt = format!(
        "Plan this objective as JSON {{\"steps\": [{{\"id\", \"capability\", \"inputs\", \"depends_on\"}}]}} using only these \
capabilities: {}. web_search takes {{\"prompt\", \"count\"}}; scrape takes {{\"from\": <search step id>, \"take\": n}}; \
social_search takes {{\"keywords\", \"keyword_mode\", \"limit\"}}; llm_chat writes prose from its dependencies.\n\
Objective: {objective}\nTarget schema: {target_schema}",
        caps.join(", ")
    );
    let input = json!({"messages": [{"role": "user", "content": prompt}], "response_format": {"type": "json_object"}});
    let out = adapters.call(llm, &input, "plan", timeout).await;
    let receipt = out.receipt.clone().zip(out.evidence.clone());
    let content = match out.output {
        Ok(v) => v.pointer("/choices/0/message/content").and_then(Value::as_str).map(str::to_string),
        Err(e) => return (Err(format!("planning call failed: {e}")), receipt),
    };
    let Some(content) = content else { return (Err("the LLM answer has no message content".into()), receipt) };
    (repair(&content, objective, target_schema, ledger, contract), receipt)
}

/// Parse and repair an LLM's plan text.
pub fn repair(
    content: &str,
    objective: &str,
    target_schema: &Value,
    ledger: &[LedgerEntry],
    contract: &Contract,
) -> Result<Vec<PlanStep>, String> {
    let v: Value = serde_json::from_str(content.trim()).map_err(|e| format!("the plan is not JSON: {e}"))?;
    let raw = v.get("steps").and_then(Value::as_array).ok_or("the plan has no `steps` array")?;
    let template: std::collections::BTreeMap<String, PlanStep> = plan(objective, target_schema, ledger, contract)
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.capability.clone(), s))
        .collect();
    let mut steps: Vec<PlanStep> = Vec::new();
    for s in raw.iter().take(16) {
        let (Some(id), Some(cap)) = (s.get("id").and_then(Value::as_str), s.get("capability").and_then(Value::as_str))
        else {
            continue;
        };
        let route: Vec<u16> = router::route(ledger, cap, contract).iter().map(|e| e.netuid).collect();
        if route.is_empty() || id.is_empty() || steps.iter().any(|x| x.id == id) {
            continue;
        }
        let mut inputs = s.get("inputs").cloned().unwrap_or(Value::Null);
        let usable = match cap {
            "web_search" => inputs.get("prompt").and_then(Value::as_str).is_some_and(|p| !p.trim().is_empty()),
            "social_search" => inputs.get("keywords").and_then(Value::as_array).is_some_and(|k| !k.is_empty()),
            _ => inputs.is_object(),
        };
        if !usable {
            inputs = template.get(cap).map(|t| t.inputs.clone()).unwrap_or(Value::Null);
        }
        let depends_on = s
            .get("depends_on")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|d| d.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        steps.push(PlanStep { id: id.into(), capability: cap.into(), inputs, depends_on, route });
    }
    // Drop steps whose dependencies were dropped, until stable.
    loop {
        let ids: BTreeSet<String> = steps.iter().map(|s| s.id.clone()).collect();
        let before = steps.len();
        steps.retain(|s| s.depends_on.iter().all(|d| ids.contains(d)));
        if steps.len() == before {
            break;
        }
    }
    if !steps.iter().any(|s| s.capability == "web_search" || s.capability == "social_search") {
        return Err("the repaired plan gathers no data (no web_search or social_search step)".into());
    }
    validate(&steps).map_err(|e| e.to_string())?;
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_skip_stop_words() {
        assert_eq!(
            keywords("Research cloud GPU pricing and recommend positioning for our inference API", 3),
            vec!["cloud", "gpu", "pricing"]
        );
    }

    #[test]
    fn cycles_and_unknown_deps_are_refused() {
        let s = |id: &str, deps: &[&str]| PlanStep {
            id: id.into(),
            capability: "web_search".into(),
            inputs: Value::Null,
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            route: vec![1],
        };
        assert!(validate(&[s("a", &[]), s("b", &["a"])]).is_ok());
        assert!(validate(&[s("a", &["b"]), s("b", &["a"])]).is_err());
        assert!(validate(&[s("a", &["zz"])]).is_err());
        assert!(validate(&[s("a", &[]), s("a", &[])]).is_err());
    }
}
