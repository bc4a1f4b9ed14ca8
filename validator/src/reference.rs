//! The validator's own answer to a task, computed from its own subnet calls: the reference a
//! miner's answer is compared with field by field.
//!
//! The validator retrieves the way an honest miner would (search on the objective's content
//! words, scrape the top links, read social posts when the objective asks what people say),
//! asks the LLM subnet for an [`ExtractionAnswer`] over those documents, and keeps only the
//! leaves it can stand behind: a citation that checks against its own receipted bodies, or an
//! enum/boolean judgment (a closed set of values, which cannot smuggle text). Everything goes
//! through the validator's own Ledger entries, never through endpoints a miner names.

use std::collections::BTreeSet;
use std::time::Duration;

pub use orchestra_proto::extract::is_judgment;
use orchestra_proto::extract::{
    Document, ExtractionAnswer, ExtractionRequest, check_citation_under, documents_from, leaves, parse_answer,
};
use orchestra_proto::ledger::LedgerEntry;
use orchestra_subnets::Adapters;
use serde_json::{Map, Value, json};

/// What the validator retrieves for an objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrieval {
    /// The web search prompt.
    pub query: String,
    /// Social posts to read, when the objective asks what people say.
    pub social: Option<Social>,
    /// How many search results to scrape.
    pub scrape: usize,
}

/// A social search: every keyword must appear; posts older than `since` are ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct Social {
    pub keywords: Vec<String>,
    /// `YYYY-MM-DD`, from "this month", "this week", "today".
    pub since: Option<String>,
}

const STOP: &[&str] = &[
    "a",
    "about",
    "across",
    "all",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "best",
    "by",
    "can",
    "compare",
    "do",
    "does",
    "each",
    "every",
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
    "is",
    "it",
    "its",
    "list",
    "me",
    "most",
    "of",
    "on",
    "or",
    "our",
    "per",
    "please",
    "provide",
    "report",
    "research",
    "say",
    "says",
    "should",
    "show",
    "tell",
    "than",
    "that",
    "the",
    "their",
    "them",
    "these",
    "this",
    "those",
    "to",
    "today",
    "up",
    "us",
    "use",
    "we",
    "what",
    "whats",
    "when",
    "where",
    "which",
    "who",
    "whose",
    "why",
    "with",
    "you",
    "your",
    "month",
    "week",
    "year",
    "current",
    "currently",
    "now",
    "latest",
    "recent",
    "give",
    "name",
    "names",
    "one",
    "lowest",
    "highest",
    "cheapest",
    "overall",
    "summary",
    "summarize",
    "based",
    "according",
    "find",
    "out",
];
const SOCIAL: &[&str] = &[
    "people",
    "posts",
    "post",
    "tweets",
    "tweet",
    "twitter",
    "x",
    "reddit",
    "sentiment",
    "social",
    "saying",
    "opinion",
    "opinions",
    "mentions",
    "discussion",
    "discussions",
    "users",
    "community",
    "feel",
    "think",
];

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric() && c != '-' && c != '.')
        .map(|w| w.trim_matches(|c: char| c == '.' || c == '-').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Plan retrieval for `objective`; `today` is `YYYY-MM-DD`.
pub fn retrieval(objective: &str, today: &str) -> Retrieval {
    let ws = words(objective);
    let social_asked = ws.iter().any(|w| SOCIAL.contains(&w.as_str()));
    let mut seen = BTreeSet::new();
    let content: Vec<String> =
        ws.iter().filter(|w| !STOP.contains(&w.as_str()) && seen.insert((*w).clone())).cloned().collect();
    let topic: Vec<String> = content.iter().filter(|w| !SOCIAL.contains(&w.as_str())).cloned().collect();
    let query = if topic.is_empty() {
        objective.to_string()
    } else {
        topic.iter().take(8).cloned().collect::<Vec<_>>().join(" ")
    };
    let social = social_asked.then(|| {
        // The two most specific topic words (longest first) must both appear in a post.
        let mut kw: Vec<String> = topic.iter().filter(|w| w.len() >= 3).cloned().collect();
        kw.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        kw.truncate(2);
        let lc = objective.to_lowercase();
        let since = if lc.contains("this month") {
            Some(format!("{}-01", today.get(..7).unwrap_or(today)))
        } else if lc.contains("this week") || lc.contains("past week") || lc.contains("last week") {
            days_before(today, 7)
        } else if lc.contains("today") {
            Some(today.to_string())
        } else {
            None
        };
        Social { keywords: kw, since }
    });
    Retrieval { query, social, scrape: if social_asked { 3 } else { 5 } }
}

/// `YYYY-MM-DD` minus `n` days, `None` if `d` is not a date.
fn days_before(d: &str, n: i64) -> Option<String> {
    orchestra_proto::date::parse_day(d).map(|z| orchestra_proto::date::format_day(z - n))
}

/// Today as `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    orchestra_proto::date::format_day((secs / 86_400) as i64)
}

/// The validator's reference answer and what it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// Only the leaves the validator can stand behind.
    pub answer: Value,
    /// Subnet calls made (for metrics and cost accounting).
    pub calls: usize,
}

/// Keep the leaves of `answer` whose pointer is in `keep`, dropping emptied containers.
pub fn prune(answer: &Value, keep: &BTreeSet<String>) -> Value {
    fn walk(v: &Value, path: &str, keep: &BTreeSet<String>) -> Option<Value> {
        match v {
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, x) in m {
                    if let Some(y) = walk(x, &format!("{path}/{}", k.replace('~', "~0").replace('/', "~1")), keep) {
                        out.insert(k.clone(), y);
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            Value::Array(a) => {
                let out: Vec<Value> =
                    a.iter().enumerate().filter_map(|(i, x)| walk(x, &format!("{path}/{i}"), keep)).collect();
                (!out.is_empty()).then_some(Value::Array(out))
            }
            Value::Null => None,
            _ => keep.contains(path).then(|| v.clone()),
        }
    }
    walk(answer, "", keep).unwrap_or_else(|| json!({}))
}

/// May this entry be used to judge a miner (reference answers, re-probes)? Verified entries, and
/// the operator's own seed entries (no proposer); never an entry a miner created, and never a
/// deprecated one: a miner that could point the validator at its own endpoint would make its
/// fabrications "reproduce".
/// The same rule as [`LedgerEntry::verifies`], which the miner's router applies too.
pub fn usable_for_verification(e: &LedgerEntry) -> bool {
    e.verifies()
}

fn pick<'a>(ledger: &'a [LedgerEntry], capability: &str) -> Vec<&'a LedgerEntry> {
    let mut v: Vec<&LedgerEntry> =
        ledger.iter().filter(|e| usable_for_verification(e) && e.has_capability(capability)).collect();
    v.sort_by_key(|e| (e.metrics.latency_p50_ms.unwrap_or(u32::MAX), e.netuid));
    v
}

/// Call the first entry offering `capability` that answers; returns the body.
async fn call_any(
    adapters: &Adapters,
    ledger: &[LedgerEntry],
    capability: &str,
    input: &Value,
    timeout: Duration,
    calls: &mut usize,
) -> Option<Value> {
    for e in pick(ledger, capability) {
        let mut input = input.clone();
        // Only send fields the entry declares (e.g. a date filter), so the input validates.
        if let (Some(obj), Some(props)) = (input.as_object_mut(), e.input_schema.get("properties")) {
            obj.retain(|k, _| props.get(k).is_some());
        }
        *calls += 1;
        if let Ok(v) = adapters.call(e, &input, "reference", timeout).await.output {
            return Some(v);
        }
    }
    None
}

/// Compute the reference answer for `objective` under `schema` (a JSON Schema).
pub async fn compute(
    objective: &str,
    schema: &Value,
    ledger: &[LedgerEntry],
    adapters: &Adapters,
    timeout: Duration,
) -> Result<Reference, String> {
    let plan = retrieval(objective, &today());
    let mut calls = 0usize;
    let mut bodies: Vec<Value> = Vec::new();
    if let Some(s) =
        call_any(adapters, ledger, "web_search", &json!({"prompt": plan.query, "count": 10}), timeout, &mut calls).await
    {
        let links: Vec<String> = s
            .get("search_results")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|r| r.get("link").and_then(Value::as_str)).map(str::to_string).collect())
            .unwrap_or_default();
        bodies.push(s);
        let scrapes = links.iter().take(plan.scrape).map(|url| {
            let input = json!({"url": url, "limit": 1});
            async move {
                let mut n = 0;
                let r = call_any(adapters, ledger, "scrape", &input, timeout, &mut n).await;
                (r, n)
            }
        });
        for (r, n) in futures::future::join_all(scrapes).await {
            calls += n;
            bodies.extend(r);
        }
    }
    if let Some(soc) = &plan.social {
        let mut input = json!({"keywords": soc.keywords, "keyword_mode": "all", "limit": 50});
        if let Some(since) = &soc.since {
            input["start_date"] = json!(since);
        }
        if let Some(mut b) = call_any(adapters, ledger, "social_search", &input, timeout, &mut calls).await {
            // Entries without a date filter: drop older posts here.
            if let (Some(since), Some(items)) = (&soc.since, b.get_mut("data").and_then(Value::as_array_mut)) {
                items.retain(|it| it.get("datetime").and_then(Value::as_str).is_none_or(|d| d >= since.as_str()));
            }
            bodies.push(b);
        }
    }
    if bodies.is_empty() {
        return Err("no search or data subnet answered the validator".into());
    }
    let documents: Vec<Document> = bodies.iter().enumerate().flat_map(|(i, b)| documents_from(i, b, 24)).collect();
    let mut task =
        ExtractionRequest { objective: objective.to_string(), schema: schema.clone(), documents, feedback: Vec::new() };
    task.trim_to(48_000);
    let Some(llm) = pick(ledger, "llm_chat").into_iter().next() else {
        return Err("no verified LLM subnet in the validator's Ledger".into());
    };
    let model = llm.fixture.get("model").and_then(Value::as_str).unwrap_or("default").to_string();
    calls += 1;
    let out = adapters.call(llm, &task.to_chat_body(&model, 2048), "reference", timeout).await;
    let body = out.output.map_err(|e| format!("the LLM subnet failed: {e}"))?;
    let content = body
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or("the LLM answer has no message content")?;
    let ExtractionAnswer { answer, citations } = parse_answer(content).map_err(|e| e.to_string())?;
    let mut keep = BTreeSet::new();
    for c in &citations {
        if let Some(b) = bodies.get(c.receipt)
            && check_citation_under(schema, &answer, c, b).is_ok()
        {
            keep.insert(c.path.clone());
        }
    }
    // A judgment the model made without citing anything still counts: its value is from a
    // closed set, so it cannot smuggle text, and the miner's must agree with it.
    for (p, _) in leaves(&answer) {
        if is_judgment(schema, &p) {
            keep.insert(p);
        }
    }
    Ok(Reference { answer: prune(&answer, &keep), calls })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retrieval_follows_the_objective() {
        let r = retrieval(
            "Which cloud provider rents an NVIDIA H100 for the lowest on-demand price per hour? List each provider's H100 hourly price.",
            "2026-11-27",
        );
        assert!(r.query.contains("h100") && r.query.contains("cloud") && !r.query.contains("which"), "{r:?}");
        assert!(r.social.is_none());
        let s = retrieval(
            "What do people on X and Reddit say about decentralized AI training this month? Give the overall sentiment and the posts.",
            "2026-11-27",
        );
        let soc = s.social.expect("social");
        assert_eq!(soc.since.as_deref(), Some("2026-11-01"));
        assert_eq!(soc.keywords, vec!["decentralized".to_string(), "training".to_string()]);
        assert_eq!(days_before("2026-03-02", 7).as_deref(), Some("2026-02-23"));
        assert_eq!(days_before("2026-01-01", -365).as_deref(), Some("2027-01-01"));
        assert!(today().starts_with("20"));
    }

    #[test]
    fn prune_keeps_only_supported_leaves() {
        let a = json!({"providers": [{"provider": "A", "price": 1.0}, {"provider": "B", "price": 2.0}], "best": "A"});
        let keep: BTreeSet<String> =
            ["/providers/0/provider", "/providers/0/price", "/best"].iter().map(|s| s.to_string()).collect();
        assert_eq!(prune(&a, &keep), json!({"providers": [{"provider": "A", "price": 1.0}], "best": "A"}));
        let schema = json!({"type": "object", "properties": {
            "sentiment": {"enum": ["positive", "negative"]},
            "items": {"type": "array", "items": {"type": "object", "properties": {"ok": {"type": "boolean"}, "n": {"type": "string"}}}}}});
        assert!(is_judgment(&schema, "/sentiment"));
        assert!(is_judgment(&schema, "/items/3/ok"));
        assert!(!is_judgment(&schema, "/items/3/n"));
    }
}
