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

/// Words that carry no search meaning: function words, question words, generic verbs of a
/// request ("list", "compare"), quantifiers and the time-window words handled separately.
const STOP: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "all",
    "also",
    "am",
    "an",
    "analyse",
    "analyze",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "best",
    "between",
    "both",
    "but",
    "by",
    "can",
    "compare",
    "could",
    "currently",
    "describe",
    "did",
    "do",
    "does",
    "each",
    "every",
    "explain",
    "find",
    "for",
    "from",
    "get",
    "give",
    "has",
    "have",
    "how",
    "i",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "list",
    "me",
    "most",
    "my",
    "now",
    "of",
    "on",
    "or",
    "our",
    "over",
    "per",
    "please",
    "recent",
    "recently",
    "recommend",
    "report",
    "research",
    "say",
    "says",
    "show",
    "should",
    "so",
    "some",
    "summarize",
    "summarise",
    "tell",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "to",
    "today",
    "under",
    "us",
    "was",
    "we",
    "week",
    "were",
    "what",
    "when",
    "where",
    "which",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "year",
    "you",
    "your",
    "month",
    "past",
    "last",
    "current",
    "overall",
    "give",
    "people",
    "think",
    "talking",
    "saying",
];

/// Words that ask about people, posts or opinions (the social/on-demand data step).
const SOCIAL: &[&str] = &[
    "x",
    "twitter",
    "tweet",
    "tweets",
    "tweeted",
    "reddit",
    "subreddit",
    "social",
    "post",
    "posts",
    "posted",
    "posting",
    "sentiment",
    "opinion",
    "opinions",
    "mention",
    "mentions",
    "discussion",
    "discussions",
    "influencer",
    "influencers",
    "hashtag",
    "hashtags",
];

/// Of [`SOCIAL`], the ones that are not search terms themselves (platforms and meta words).
const SOCIAL_META: &[&str] = &[
    "x",
    "twitter",
    "tweet",
    "tweets",
    "tweeted",
    "reddit",
    "subreddit",
    "social",
    "post",
    "posts",
    "posted",
    "posting",
    "sentiment",
    "opinion",
    "opinions",
    "mention",
    "mentions",
    "discussion",
    "discussions",
    "thread",
    "threads",
    "media",
    "hashtag",
    "hashtags",
];

/// The words of `text` with their original case: split on whitespace and punctuation, keeping
/// inner hyphens and dropping a possessive `'s`.
fn raw_words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\'' || c == '@' || c == '#'))
        .map(|w| w.trim_matches(|c: char| c == '-' || c == '\''))
        .map(|w| w.strip_suffix("'s").unwrap_or(w))
        .map(|w| w.trim_start_matches('#'))
        .filter(|w| !w.is_empty() && !w.starts_with('@'))
        .map(str::to_string)
        .collect()
}

/// The content words of an objective, in order, deduplicated case-insensitively, original case
/// kept (entity tokens like `H100` stay as written): stop words and question words dropped,
/// hyphenated words split ("on-demand" → "demand").
pub fn content_words(objective: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for w in raw_words(objective) {
        for part in w.split('-') {
            let l = part.to_lowercase();
            let keep = (l.len() > 1 || l.chars().any(|c| c.is_ascii_digit())) && !STOP.contains(&l.as_str());
            if keep && seen.insert(l) {
                out.push(part.to_string());
            }
        }
    }
    out
}

/// Up to `n` lowercase keywords from the objective, in order of appearance.
pub fn keywords(objective: &str, n: usize) -> Vec<String> {
    content_words(objective).into_iter().map(|w| w.to_lowercase()).take(n).collect()
}

/// Keywords for a social search: the content words without platform and meta words.
pub fn social_keywords(objective: &str, n: usize) -> Vec<String> {
    content_words(objective)
        .into_iter()
        .map(|w| w.to_lowercase())
        .filter(|w| !SOCIAL_META.contains(&w.as_str()))
        .take(n)
        .collect()
}

/// The web search query for an objective: its content words (at most 12), original case.
pub fn search_query(objective: &str) -> String {
    let words = content_words(objective);
    if words.is_empty() {
        objective.trim().to_string()
    } else {
        words.into_iter().take(12).collect::<Vec<_>>().join(" ")
    }
}

/// Whether the objective asks about people, posts or sentiment (X, Twitter, Reddit, social).
pub fn wants_social(objective: &str) -> bool {
    let lower = objective.to_lowercase();
    let words: Vec<String> = raw_words(&lower);
    words.iter().any(|w| SOCIAL.contains(&w.as_str()))
        || lower.contains("people say")
        || lower.contains("people think")
        || lower.contains("what do people")
        || lower.contains("what are people")
        || objective.split_whitespace().any(|w| w.len() > 1 && w.starts_with('@'))
}

/// Whether the target schema asks for posts or opinions (a `mentions`, `tweets`, `posts` or
/// `sentiment` field anywhere).
pub fn schema_wants_social(schema: &Value) -> bool {
    fn walk(s: &Value) -> bool {
        let props = s.get("properties").and_then(Value::as_object);
        props.is_some_and(|p| {
            p.iter().any(|(k, v)| {
                const SOCIAL_FIELDS: &[&str] = &[
                    "mention",
                    "mentions",
                    "tweet",
                    "tweets",
                    "post",
                    "posts",
                    "sentiment",
                    "reddit",
                    "author",
                    "username",
                ];
                crate::synth::name_tokens(k).iter().any(|t| SOCIAL_FIELDS.contains(&t.as_str())) || walk(v)
            })
        }) || s.get("items").is_some_and(walk)
    }
    walk(schema)
}

/// Usernames named in the objective (`@handle`), without the `@`, at most 10.
pub fn usernames(objective: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    objective
        .split_whitespace()
        .filter_map(|w| w.strip_prefix('@'))
        .map(|w| w.trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '_')).to_string())
        .filter(|w| !w.is_empty() && seen.insert(w.to_lowercase()))
        .take(10)
        .collect()
}

/// The social platforms the objective names, as SN13 `source` values (`X`, `REDDIT`).
pub fn platforms(objective: &str) -> Vec<&'static str> {
    let words = raw_words(&objective.to_lowercase());
    let mut out = Vec::new();
    if words.iter().any(|w| w == "x" || w.starts_with("twitter") || w.starts_with("tweet")) {
        out.push("X");
    }
    if words.iter().any(|w| w.starts_with("reddit") || w == "subreddit") {
        out.push("REDDIT");
    }
    out
}

pub use orchestra_proto::date::civil_from_days;

/// The date window an objective asks for ("today", "this week", "this month", "this year",
/// "past/last week|month|year"), as ISO start and end datetimes, relative to `today` (days since
/// the Unix epoch).
pub fn date_window(objective: &str, today: i64) -> Option<(String, String)> {
    let l = objective.to_lowercase();
    let iso = |days: i64| {
        let (y, m, d) = civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02}T00:00:00Z")
    };
    let (y, m, d) = civil_from_days(today);
    let end = format!("{y:04}-{m:02}-{d:02}T23:59:59Z");
    let start = if l.contains("today") || l.contains("last 24 hours") || l.contains("past 24 hours") {
        iso(today)
    } else if l.contains("this week") {
        iso(today - 6)
    } else if l.contains("past week") || l.contains("last week") || l.contains("last 7 days") {
        iso(today - 7)
    } else if l.contains("this month") {
        format!("{y:04}-{m:02}-01T00:00:00Z")
    } else if l.contains("past month") || l.contains("last month") || l.contains("last 30 days") {
        iso(today - 30)
    } else if l.contains("this year") {
        format!("{y:04}-01-01T00:00:00Z")
    } else if l.contains("past year") || l.contains("last year") {
        iso(today - 365)
    } else {
        return None;
    };
    Some((start, end))
}

fn today_days() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| (d.as_secs() / 86_400) as i64)
        .unwrap_or(0)
}

/// Pages scraped after a search, at most.
pub const MAX_SCRAPES: usize = 6;
/// Results asked of a web search (SN22 requires at least 10).
pub const SEARCH_COUNT: u64 = 10;

/// The inputs of the social step(s): one per platform the objective names (X when it names
/// none), keywords from the objective, usernames if named, a date window if asked for.
fn social_inputs(objective: &str) -> Vec<(String, Value)> {
    let kws = social_keywords(objective, 5);
    let users = usernames(objective);
    let window = date_window(objective, today_days());
    let mut plats = platforms(objective);
    if plats.is_empty() {
        plats.push("X");
    }
    let many = plats.len() > 1;
    plats
        .into_iter()
        .map(|p| {
            let mut v = json!({"source": p, "keyword_mode": "any", "limit": 50});
            if !kws.is_empty() {
                v["keywords"] = json!(kws);
            }
            if !users.is_empty() {
                v["usernames"] = json!(users);
            }
            if let Some((s, e)) = &window {
                v["start_date"] = json!(s);
                v["end_date"] = json!(e);
            }
            let id = if many { format!("social_{}", p.to_lowercase()) } else { "social".to_string() };
            (id, v)
        })
        .collect()
}

/// Plan `objective` with what the Ledger offers under `contract`: a web search on the
/// objective's content words, scrapes of the top links (up to [`MAX_SCRAPES`], in parallel),
/// and a social/on-demand data step only when the objective asks about people, posts or
/// sentiment (or the target schema has fields for posts, mentions or sentiment). Synthesis (the
/// LLM extraction) is not a plan step: the pipeline runs it over the receipted bodies.
pub fn plan(
    objective: &str,
    target_schema: &Value,
    ledger: &[LedgerEntry],
    contract: &Contract,
) -> Result<Vec<PlanStep>, MinerError> {
    let route = |cap: &str| -> Vec<u16> { router::route(ledger, cap, contract).iter().map(|e| e.netuid).collect() };
    let (search, scrape, social) = (route("web_search"), route("scrape"), route("social_search"));
    let mut steps = Vec::new();
    let social_wanted =
        wants_social(objective) || !usernames(objective).is_empty() || schema_wants_social(target_schema);
    if !search.is_empty() {
        steps.push(PlanStep {
            id: "search".into(),
            capability: "web_search".into(),
            inputs: json!({"prompt": search_query(objective), "count": SEARCH_COUNT}),
            depends_on: vec![],
            route: search.clone(),
        });
        if !scrape.is_empty() {
            steps.push(PlanStep {
                id: "scrape".into(),
                capability: "scrape".into(),
                inputs: json!({"from": "search", "take": MAX_SCRAPES}),
                depends_on: vec!["search".into()],
                route: scrape,
            });
        }
    }
    if !social.is_empty() && (social_wanted || search.is_empty()) {
        for (id, inputs) in social_inputs(objective) {
            steps.push(PlanStep {
                id,
                capability: "social_search".into(),
                inputs,
                depends_on: vec![],
                route: social.clone(),
            });
        }
    }
    if steps.is_empty() {
        return Err(MinerError::Plan(
            "no subnet in the Ledger (within the contract's allowed subnets) offers web_search or social_search".into(),
        ));
    }
    Ok(steps)
}

/// Make `inputs` valid for an entry's input schema where that can be done without changing
/// their meaning: integers clamped into `minimum..=maximum`, arrays cut to `maxItems`, values
/// outside an `enum` and undeclared fields (under `additionalProperties: false`) dropped, a
/// required `prompt` written from `keywords` when a keyword request goes to a prompt-only
/// subnet, and required fields left out filled from the schema's `default`.
pub fn fit_inputs(schema: &Value, inputs: &Value) -> Value {
    let Some(obj) = inputs.as_object() else { return inputs.clone() };
    let props = schema.get("properties").and_then(Value::as_object);
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    let mut out = serde_json::Map::new();
    for (k, v) in obj {
        let Some(p) = props.and_then(|p| p.get(k)) else {
            if !closed {
                out.insert(k.clone(), v.clone());
            }
            continue;
        };
        let mut v = v.clone();
        if let Some(allowed) = p.get("enum").and_then(Value::as_array)
            && !allowed.contains(&v)
        {
            continue;
        }
        if let Some(n) = v.as_i64() {
            let lo = p.get("minimum").and_then(Value::as_i64).unwrap_or(i64::MIN);
            let hi = p.get("maximum").and_then(Value::as_i64).unwrap_or(i64::MAX);
            v = json!(n.clamp(lo, hi.max(lo)));
        }
        if let (Some(a), Some(max)) = (v.as_array_mut(), p.get("maxItems").and_then(Value::as_u64)) {
            a.truncate(max as usize);
        }
        out.insert(k.clone(), v);
    }
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if required.contains(&"prompt") && !out.contains_key("prompt") {
        let kws: Vec<&str> =
            obj.get("keywords").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        if !kws.is_empty() {
            out.insert("prompt".into(), json!(kws.join(" ")));
        }
    }
    // A required integer with a floor (SN22's `count` ≥ 10) that the inputs left out.
    for r in required.iter().copied() {
        if !out.contains_key(r)
            && let Some(min) = props.and_then(|p| p.get(r)).and_then(|p| p.get("minimum")).and_then(Value::as_i64)
        {
            out.insert(r.to_string(), json!(min));
        }
    }
    // A required field with a default in the schema (SN22's `tools`), as the adapters would.
    orchestra_subnets::schema::fill_defaults(schema, &Value::Object(out))
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
/// an `Err` and the caller falls back to [`plan`]. Returns the plan and the planning calls'
/// receipts and evidence, which belong in the task's receipts like any other call.
pub async fn llm_plan(
    adapters: &orchestra_subnets::Adapters,
    objective: &str,
    target_schema: &Value,
    ledger: &[LedgerEntry],
    contract: &Contract,
    timeout: std::time::Duration,
) -> (Result<Vec<PlanStep>, String>, Vec<(orchestra_proto::receipt::Receipt, orchestra_proto::synapses::CallEvidence)>)
{
    let Some(llm) = router::route(ledger, "llm_chat", contract).into_iter().next() else {
        return (Err("no llm_chat subnet in the Ledger".into()), Vec::new());
    };
    let input = fit_inputs(&llm.input_schema, &llm_plan_input(objective, target_schema, ledger));
    let out = adapters.call(llm, &input, "plan", timeout).await;
    // Every call that went out (failed attempts first), each with its bodies.
    let receipt: Vec<_> = out.calls().into_iter().map(|(r, e)| (r.clone(), e.clone())).collect();
    let content = match out.output {
        Ok(v) => v.pointer("/choices/0/message/content").and_then(Value::as_str).map(str::to_string),
        Err(e) => return (Err(format!("planning call failed: {e}")), receipt),
    };
    let Some(content) = content else { return (Err("the LLM answer has no message content".into()), receipt) };
    (repair(&content, objective, target_schema, ledger, contract), receipt)
}

/// The chat request the LLM planner sends (before the route's entry adds its model).
pub fn llm_plan_input(objective: &str, target_schema: &Value, ledger: &[LedgerEntry]) -> Value {
    let mut caps: Vec<&str> = ledger.iter().flat_map(|e| e.capabilities.iter().map(String::as_str)).collect();
    caps.sort_unstable();
    caps.dedup();
    let prompt = format!(
        "Plan the data gathering for this objective as JSON {{\"steps\": [{{\"id\", \"capability\", \"inputs\", \"depends_on\"}}]}} \
using only these capabilities: {}. web_search takes {{\"prompt\": <search query>, \"count\": 10}}; scrape takes \
{{\"from\": <web_search step id>, \"take\": <pages, at most {MAX_SCRAPES}>}} and depends on that step; social_search takes \
{{\"keywords\": [<at most 5>], \"keyword_mode\": \"any\", \"limit\": 50, \"source\": \"X\" or \"REDDIT\"}} and is only \
for objectives about people, posts or sentiment. Do not add an LLM step: the answer is written afterwards from what the \
steps return.\nObjective: {objective}\nTarget schema: {target_schema}",
        caps.iter().filter(|c| **c != "llm_chat").copied().collect::<Vec<_>>().join(", ")
    );
    json!({"messages": [{"role": "user", "content": prompt}], "response_format": {"type": "json_object"}})
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
        .rev()
        .map(|s| (s.capability.clone(), s))
        .collect();
    let mut steps: Vec<PlanStep> = Vec::new();
    for s in raw.iter().take(16) {
        let (Some(id), Some(cap)) = (s.get("id").and_then(Value::as_str), s.get("capability").and_then(Value::as_str))
        else {
            continue;
        };
        // Synthesis is the pipeline's job; an LLM step in the plan would only cost money.
        if cap == "llm_chat" {
            continue;
        }
        let route: Vec<u16> = router::route(ledger, cap, contract).iter().map(|e| e.netuid).collect();
        if route.is_empty() || id.is_empty() || steps.iter().any(|x| x.id == id) {
            continue;
        }
        let mut depends_on: Vec<String> = s
            .get("depends_on")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|d| d.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let mut inputs = s.get("inputs").cloned().unwrap_or(Value::Null);
        let usable = match cap {
            "web_search" => inputs.get("prompt").and_then(Value::as_str).is_some_and(|p| !p.trim().is_empty()),
            "social_search" => inputs
                .get("keywords")
                .and_then(Value::as_array)
                .is_some_and(|k| !k.is_empty() && k.iter().all(|x| x.as_str().is_some_and(|x| !x.trim().is_empty()))),
            "scrape" => true,
            _ => inputs.is_object(),
        };
        if !usable {
            inputs = template
                .get(cap)
                .map(|t| t.inputs.clone())
                .or_else(|| social_inputs(objective).into_iter().next().filter(|_| cap == "social_search").map(|s| s.1))
                .unwrap_or(Value::Null);
        }
        if cap == "scrape" {
            // A scrape reads the links of a web_search step it depends on.
            let from = inputs
                .get("from")
                .and_then(Value::as_str)
                .filter(|f| steps.iter().any(|x| x.id == *f && x.capability == "web_search"))
                .map(str::to_string)
                .or_else(|| steps.iter().find(|x| x.capability == "web_search").map(|x| x.id.clone()));
            let Some(from) = from else { continue };
            let take =
                inputs.get("take").and_then(Value::as_u64).unwrap_or(MAX_SCRAPES as u64).clamp(1, MAX_SCRAPES as u64);
            inputs = json!({"from": from, "take": take});
            if !depends_on.contains(&from) {
                depends_on.push(from);
            }
        }
        // Valid for the first entry of the route (the executor fits them to each fallback too).
        if let Some(entry) = ledger.iter().find(|e| Some(&e.netuid) == route.first())
            && cap != "scrape"
        {
            inputs = fit_inputs(&entry.input_schema, &inputs);
            if orchestra_subnets::schema::validate(&entry.input_schema, &inputs, "input").is_err() {
                match template.get(cap) {
                    Some(t) => inputs = fit_inputs(&entry.input_schema, &t.inputs),
                    None => continue,
                }
            }
        }
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
        let q = "Which cloud provider rents an NVIDIA H100 for the lowest on-demand price per hour? List each provider's H100 hourly price.";
        assert_eq!(search_query(q), "cloud provider rents NVIDIA H100 lowest demand price hour hourly");
        assert!(!wants_social(q));
        let s = "What do people on X and Reddit say about decentralized AI training this month? Give the overall sentiment and the posts.";
        assert!(wants_social(s));
        assert_eq!(social_keywords(s, 5), vec!["decentralized", "ai", "training"]);
        assert_eq!(platforms(s), vec!["X", "REDDIT"]);
        assert_eq!(usernames("What did @gpu_watcher, @ml_ops_daily post?"), vec!["gpu_watcher", "ml_ops_daily"]);
        assert!(!wants_social("Cheapest community cloud for H100 with many threads"));
        assert!(schema_wants_social(&json!({"properties": {"items": {"items": {"properties": {"tweet_url": {}}}}}})));
        assert!(!schema_wants_social(
            &json!({"properties": {"providers": {"items": {"properties": {"postal_code": {}}}}}})
        ));
        assert_eq!(social_keywords("What has @elonmusk posted about GPUs today?", 5), vec!["gpus"]);
    }

    #[test]
    fn date_windows() {
        // 2026-11-27 is day 20_784 since the epoch.
        let today = 20_784;
        assert_eq!(civil_from_days(today), (2026, 11, 27));
        let (s, e) = date_window("sentiment this month", today).expect("window");
        assert_eq!((s.as_str(), e.as_str()), ("2026-11-01T00:00:00Z", "2026-11-27T23:59:59Z"));
        assert_eq!(date_window("this week", today).expect("w").0, "2026-11-21T00:00:00Z");
        assert_eq!(date_window("news today", today).expect("t").0, "2026-11-27T00:00:00Z");
        assert_eq!(date_window("GPU prices", today), None);
    }

    #[test]
    fn inputs_fit_the_entry_schema() {
        let sn22 = json!({"type": "object", "required": ["prompt"], "properties": {
            "prompt": {"type": "string"}, "count": {"type": "integer", "minimum": 10, "maximum": 200}}});
        assert_eq!(fit_inputs(&sn22, &json!({"prompt": "q", "count": 3}))["count"], json!(10));
        let from_keywords = fit_inputs(&sn22, &json!({"keywords": ["gpu", "h100"], "limit": 5}));
        assert_eq!(from_keywords["prompt"], json!("gpu h100"));
        let sn13 = json!({"type": "object", "additionalProperties": false, "properties": {
            "keywords": {"type": "array", "maxItems": 2}, "keyword_mode": {"enum": ["any", "all"]}}});
        let fitted = fit_inputs(&sn13, &json!({"keywords": ["a", "b", "c"], "keyword_mode": "some", "x": 1}));
        assert_eq!(fitted, json!({"keywords": ["a", "b"]}));
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
