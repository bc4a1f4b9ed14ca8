//! Synthesis through an LLM subnet (OpenAI-compatible chat): the receipted bodies become an
//! [`ExtractionRequest`], the model answers with an [`ExtractionAnswer`], and the miner checks
//! it before anything is returned: the answer against the target schema, every citation with
//! [`check_citation`] against the cited receipt's response body, every leaf cited. Problems go
//! back to the model as `feedback` for a bounded number of repair rounds; what still cannot be
//! cited is pruned when the schema allows it. The caller falls back to [`crate::synth`] when no
//! checked answer comes out.

use std::collections::{BTreeMap, BTreeSet};

use orchestra_proto::extract::{
    Citation, Document, ExtractionAnswer, ExtractionRequest, check_citation, documents_from, leaves, parse_answer,
};
use orchestra_proto::receipt::Receipt;
use orchestra_proto::synapses::CallEvidence;
use serde_json::{Map, Value};

use crate::executor::{Executor, StepResult};
use crate::synth::{is_data_receipt, stem};

/// How the miner talks to the LLM subnet.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractionConfig {
    /// Characters of document text sent to the model at most (its context budget).
    pub context_chars: usize,
    /// `max_tokens` of each chat completion.
    pub max_tokens: u32,
    /// Extra rounds with feedback after a first answer with problems.
    pub repair_rounds: u32,
    /// Price of tokens when the Ledger entry does not give one, micro-units per 1000 tokens.
    pub micros_per_1k_tokens: f64,
    /// Shortest string of a body that becomes a document.
    pub min_doc_chars: usize,
}

impl Default for ExtractionConfig {
    fn default() -> Self {
        ExtractionConfig {
            context_chars: 24_000,
            max_tokens: 2048,
            repair_rounds: 2,
            micros_per_1k_tokens: 500.0,
            min_doc_chars: 20,
        }
    }
}

/// Keys of a body object that are metadata of a document rather than its text.
const META_KEYS: &[&str] = &[
    "title",
    "label",
    "link",
    "url",
    "uri",
    "date",
    "datetime",
    "source",
    "username",
    "author",
    "id",
    "model",
    "role",
    "status",
    "object",
    "created_at",
    "timestamp",
    "type",
    "favicon",
    "image",
    "thumbnail",
];

/// The documents the model gets: strings of the successful data calls' bodies (not the LLM's
/// own or the planning call), metadata strings left as metadata, duplicates dropped, scraped
/// pages and posts before search snippets (whose page was scraped they are dropped), and within
/// each kind the ones sharing most words with the objective first, so the context budget keeps
/// the best.
pub fn documents(objective: &str, receipts: &[Receipt], evidence: &[CallEvidence], min_len: usize) -> Vec<Document> {
    let mut docs: Vec<Document> = Vec::new();
    for (i, (r, e)) in receipts.iter().zip(evidence).enumerate() {
        if !is_data_receipt(r) {
            continue;
        }
        // Prose only: metadata keys and strings without a space (timestamps, ids, URLs) are not
        // documents.
        docs.extend(documents_from(i, &e.response, min_len).into_iter().filter(|d| {
            let last = d.pointer.rsplit('/').next().unwrap_or_default();
            !META_KEYS.contains(&last) && d.text.trim().contains(char::is_whitespace)
        }));
    }
    let is_snippet = |d: &Document| d.pointer.starts_with("/search_results");
    let full: BTreeSet<String> = docs.iter().filter(|d| !is_snippet(d)).filter_map(|d| d.source.clone()).collect();
    let mut seen = BTreeSet::new();
    docs.retain(|d| {
        !(is_snippet(d) && d.source.as_ref().is_some_and(|s| full.contains(s)))
            && seen.insert(orchestra_proto::extract::normalize(&d.text))
    });
    let keys: BTreeSet<String> = crate::planner::keywords(objective, 16).iter().map(|w| stem(w)).collect();
    let overlap = |d: &Document| {
        let words: BTreeSet<String> = d.text.split(|c: char| !c.is_alphanumeric()).map(stem).collect();
        keys.intersection(&words).count()
    };
    docs.sort_by_key(|d| (is_snippet(d), std::cmp::Reverse(overlap(d))));
    docs
}

/// A JSON pointer from the ways models write paths: `/a/0/b`, `a.0.b`, `a[0].b`, `$.a[0].b`.
pub fn normalize_path(p: &str) -> String {
    let p = p.trim();
    if p.starts_with('/') || p.is_empty() {
        return p.to_string();
    }
    let p = p.strip_prefix("$.").or_else(|| p.strip_prefix('$')).unwrap_or(p);
    let mut out = String::new();
    for seg in p.replace('[', ".").replace(']', "").split('.').filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(&seg.trim_matches(['"', '\'']).replace('~', "~0").replace('/', "~1"));
    }
    out
}

/// The chat request of one extraction round, before the route's entry adds its model (each
/// entry names its own); `plain_text` leaves out JSON mode (for models that refuse it).
pub fn chat_input(req: &ExtractionRequest, max_tokens: u32, plain_text: bool) -> Value {
    let mut body = req.to_chat_body("", max_tokens);
    if let Some(m) = body.as_object_mut() {
        m.remove("model");
        if plain_text {
            m.remove("response_format");
        }
    }
    body
}

/// Parse a model's reply like [`parse_answer`], and when that fails, leniently: receipt indices
/// written as strings, paths and pointers in dotted or bracket form, a missing pointer (the
/// checks then look for the quote in the receipt's body).
pub fn read_answer(content: &str) -> Result<ExtractionAnswer, String> {
    let strict = parse_answer(content).map_err(|e| e.to_string());
    let mut a = match strict {
        Ok(a) => a,
        Err(e) => {
            let t = content.trim();
            let (Some(s), Some(end)) = (t.find('{'), t.rfind('}')) else { return Err(e) };
            if end < s {
                return Err(e);
            }
            let v: Value = serde_json::from_str(&t[s..=end]).map_err(|_| e.clone())?;
            let answer = v.get("answer").cloned().ok_or_else(|| e.clone())?;
            let citations = v
                .get("citations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    let receipt = match c.get("receipt")? {
                        Value::Number(n) => n.as_u64()? as usize,
                        Value::String(s) => s.trim().trim_start_matches('#').parse().ok()?,
                        _ => return None,
                    };
                    let text = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
                    Some(Citation {
                        path: text("path")?,
                        receipt,
                        pointer: text("pointer").unwrap_or_default(),
                        quote: text("quote")?,
                    })
                })
                .collect();
            ExtractionAnswer { answer, citations }
        }
    };
    for c in &mut a.citations {
        c.path = normalize_path(&c.path);
        c.pointer = normalize_path(&c.pointer);
    }
    Ok(a)
}

/// Coerce leaves to the schema's types where the text is unambiguous: `"$6.88"` → 6.88 for a
/// number, `"12"` → 12 for an integer, `"true"` → true; optional fields given as null or ""
/// are left out. Other values are left for the checks.
pub fn coerce(v: &mut Value, schema: &Value) {
    let ty = schema.get("type").and_then(|t| match t {
        Value::String(s) => Some(s.as_str()),
        Value::Array(a) => a.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    });
    match v {
        Value::Object(m) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let required: BTreeSet<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            // "Not known" written as null or "" is an optional field left out.
            m.retain(|k, x| {
                required.contains(k.as_str()) || !(x.is_null() || x.as_str().is_some_and(|s| s.trim().is_empty()))
            });
            for (k, x) in m.iter_mut() {
                if let Some(s) = props.and_then(|p| p.get(k)) {
                    coerce(x, s);
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = schema.get("items") {
                for x in a {
                    coerce(x, items);
                }
            }
        }
        Value::String(s) => {
            let nums = orchestra_proto::extract::numbers_in(s);
            let t = s.trim();
            match ty {
                Some("number") if nums.len() == 1 && t.len() <= 24 => {
                    if let Some(n) = serde_json::Number::from_f64(nums[0]) {
                        *v = Value::Number(n);
                    }
                }
                Some("integer") if nums.len() == 1 && nums[0].fract() == 0.0 && t.len() <= 24 => {
                    *v = Value::from(nums[0] as i64);
                }
                Some("boolean") if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") => {
                    *v = Value::Bool(t.eq_ignore_ascii_case("true"));
                }
                _ => {}
            }
        }
        _ => {}
    }
}

/// Share the context budget between documents: each gets at least `budget / n` characters
/// (1,500 at least) and long ones are cut down to their sentences that share most words with
/// the objective, kept in their original order (a quote from the excerpt is still a quote from
/// the string at the document's pointer). Then the tail is trimmed to the budget.
pub fn fit_documents(req: &mut ExtractionRequest, budget: usize) {
    let total: usize = req.documents.iter().map(|d| d.text.len()).sum();
    if total > budget && !req.documents.is_empty() {
        let cap = (budget / req.documents.len()).max(1_500).min(budget);
        let keys: BTreeSet<String> = crate::planner::keywords(&req.objective, 16).iter().map(|w| stem(w)).collect();
        for d in &mut req.documents {
            if d.text.len() <= cap {
                continue;
            }
            let sents = crate::synth::sentences(&d.text);
            let mut ranked: Vec<(usize, usize, usize)> = sents
                .iter()
                .enumerate()
                .map(|(i, (s, e))| {
                    let words: BTreeSet<String> =
                        d.text[*s..*e].split(|c: char| !c.is_alphanumeric()).map(stem).collect();
                    (keys.intersection(&words).count(), i, e - s)
                })
                .collect();
            ranked.sort_by_key(|r| (std::cmp::Reverse(r.0), r.1));
            let mut used = 0;
            let mut keep: Vec<usize> = Vec::new();
            for (_, i, len) in ranked {
                if used + len + 1 > cap {
                    continue;
                }
                used += len + 1;
                keep.push(i);
            }
            keep.sort_unstable();
            let excerpt: Vec<&str> = keep.iter().map(|i| &d.text[sents[*i].0..sents[*i].1]).collect();
            d.text = excerpt.join(" ");
        }
    }
    req.trim_to(budget);
}

/// An answer after the checks: the pruned value, its good citations, and what was wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The answer with uncited leaves removed where the schema allows it; `None` when what is
    /// left does not validate.
    pub value: Option<(Value, Vec<Citation>)>,
    pub problems: Vec<String>,
}

fn schema_errors(validator: &jsonschema::Validator, v: &Value) -> Vec<String> {
    validator.iter_errors(v).take(8).map(|e| format!("`{}`: {e}", e.instance_path())).collect()
}

/// Try a failed citation at another place of the same body: the model often names the text's
/// pointer for a value that sits in a sibling field (a post's username, a page's URL) or gets
/// the pointer slightly wrong. The first string of the body where the citation checks wins.
fn relocate(answer: &Value, c: &Citation, body: &Value) -> Option<Citation> {
    relocate_any(answer, c, body).filter(|m| metadata_misuse(&m.path, &m.pointer).is_none())
}

/// The field name a result path ends in (`/providers/0/provider` → `provider`).
fn leaf_name(path: &str) -> String {
    path.rsplit('/').find(|s| !s.is_empty() && !s.chars().all(|c| c.is_ascii_digit())).unwrap_or_default().to_string()
}

/// A citation of a body's metadata (a page title, a username, a URL, a date) is only good for
/// a field that asks for that: a title is not a provider's name, a username is not an entity.
fn metadata_misuse(path: &str, pointer: &str) -> Option<String> {
    use crate::synth::{Role, name_tokens, role};
    let key = pointer.rsplit('/').next().unwrap_or_default();
    let wants = role(&name_tokens(&leaf_name(path)));
    let ok = match key {
        "title" | "label" => matches!(wants, Role::Title | Role::Author),
        "username" | "author" | "user" => wants == Role::Author,
        "url" | "uri" | "link" => wants == Role::Url,
        "date" | "datetime" | "created_at" | "timestamp" => wants == Role::Date,
        "source" => matches!(wants, Role::Platform | Role::Url),
        _ => return None,
    };
    (!ok).then(|| {
        format!(
            "{path} cites {pointer}, a title/username/URL/date field, but the field does not ask for one: cite the text"
        )
    })
}

fn relocate_any(answer: &Value, c: &Citation, body: &Value) -> Option<Citation> {
    let mut candidates: Vec<String> = Vec::new();
    if let Some((parent, _)) = c.pointer.rsplit_once('/')
        && let Some(Value::Object(m)) = body.pointer(parent)
    {
        candidates.extend(m.keys().map(|k| format!("{parent}/{}", k.replace('~', "~0").replace('/', "~1"))));
    }
    candidates.extend(leaves(body).into_iter().map(|(p, _)| p));
    candidates.into_iter().filter(|p| *p != c.pointer).find_map(|p| {
        let moved = Citation { pointer: p, ..c.clone() };
        check_citation(answer, &moved, body).is_ok().then_some(moved)
    })
}

/// The shared check lets a string value contain its quote; the miner wants the quote to carry
/// most of the value, so that "Lambda" does not vouch for a sentence about Lambda.
fn partial_quote(answer: &Value, c: &Citation) -> Result<(), String> {
    use orchestra_proto::extract::normalize;
    let Some(Value::String(s)) = answer.pointer(&c.path) else { return Ok(()) };
    let (v, q) = (normalize(s), normalize(&c.quote));
    if q.contains(&v) || q.len() * 2 >= v.len() {
        Ok(())
    } else {
        Err(format!("the quote cited for {} supports only part of its value: quote the whole statement", c.path))
    }
}

/// Check an answer: schema, citations (against `bodies[receipt]`, only receipts in `allowed`),
/// every leaf cited. Then prune uncited leaves where the schema allows it.
pub fn check(
    answer: &Value,
    citations: &[Citation],
    schema: &Value,
    bodies: &[&Value],
    allowed: &BTreeSet<usize>,
) -> Checked {
    let mut problems = Vec::new();
    let Ok(validator) = jsonschema::validator_for(schema) else {
        return Checked { value: None, problems: vec!["the target schema is not valid".into()] };
    };
    for e in schema_errors(&validator, answer) {
        problems.push(format!("the answer does not validate: {e}"));
    }
    let mut good: BTreeMap<String, Vec<Citation>> = BTreeMap::new();
    for c in citations {
        if !allowed.contains(&c.receipt) {
            problems.push(format!(
                "the citation for {} names receipt {}, which is not one of the documents' receipts",
                c.path, c.receipt
            ));
            continue;
        }
        let Some(body) = bodies.get(c.receipt) else { continue };
        if let Some(p) = metadata_misuse(&c.path, &c.pointer) {
            problems.push(p);
            continue;
        }
        let judged = orchestra_proto::extract::is_judgment(schema, &c.path);
        let checked = if judged {
            orchestra_proto::extract::check_citation_under(schema, answer, c, body)
        } else {
            check_citation(answer, c, body).and_then(|()| partial_quote(answer, c))
        };
        match checked {
            Ok(()) => good.entry(c.path.clone()).or_default().push(c.clone()),
            Err(e) => {
                // The same quote elsewhere in that body, or (a wrong receipt number) in another
                // document's body.
                let moved = relocate(answer, c, body).or_else(|| {
                    allowed.iter().filter(|r| **r != c.receipt).find_map(|r| {
                        let other = Citation { receipt: *r, ..c.clone() };
                        relocate(answer, &other, bodies.get(*r)?)
                    })
                });
                match moved {
                    Some(m) => good.entry(c.path.clone()).or_default().push(m),
                    None => problems.push(format!("{e} (quote: {:?})", c.quote.chars().take(120).collect::<String>())),
                }
            }
        }
    }
    for (path, v) in leaves(answer) {
        if !good.contains_key(&path) {
            problems.push(format!(
                "{path} = {v} has no citation that checks: cite the document text stating it, or leave the field out"
            ));
        }
    }
    // One citation per leaf is enough.
    for cs in good.values_mut() {
        cs.truncate(1);
    }
    let value = prune(answer, schema, "", "", &good)
        .and_then(|(v, cites)| if schema_errors(&validator, &v).is_empty() { Some((v, cites)) } else { None });
    Checked { value, problems }
}

/// The answer without its uncited leaves: an optional property whose value has an uncited leaf
/// is dropped, a list item with one is dropped; a required property with one makes its object
/// go too (`None`). Citation paths follow the items that moved.
fn prune(
    v: &Value,
    schema: &Value,
    old: &str,
    new: &str,
    good: &BTreeMap<String, Vec<Citation>>,
) -> Option<(Value, Vec<Citation>)> {
    match v {
        Value::Object(m) => {
            let required: BTreeSet<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let props = schema.get("properties").and_then(Value::as_object);
            let mut out = Map::new();
            let mut cites = Vec::new();
            for (k, x) in m {
                let key = k.replace('~', "~0").replace('/', "~1");
                let sub = props
                    .and_then(|p| p.get(k))
                    .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()));
                let empty = Value::Object(Map::new());
                match prune(x, sub.unwrap_or(&empty), &format!("{old}/{key}"), &format!("{new}/{key}"), good) {
                    Some((y, c)) => {
                        out.insert(k.clone(), y);
                        cites.extend(c);
                    }
                    None if required.contains(k.as_str()) => return None,
                    None => {}
                }
            }
            Some((Value::Object(out), cites))
        }
        Value::Array(a) => {
            let items = schema.get("items").cloned().unwrap_or(Value::Object(Map::new()));
            let mut out = Vec::new();
            let mut cites = Vec::new();
            for (i, x) in a.iter().enumerate() {
                if let Some((y, c)) = prune(x, &items, &format!("{old}/{i}"), &format!("{new}/{}", out.len()), good) {
                    out.push(y);
                    cites.extend(c);
                }
            }
            Some((Value::Array(out), cites))
        }
        Value::Null => Some((Value::Null, Vec::new())),
        _ => {
            // A leaf the schema refuses (a value outside an enum, a wrong type) goes too.
            if !jsonschema::validator_for(schema).map(|val| val.is_valid(v)).unwrap_or(true) {
                return None;
            }
            let c = good.get(old)?;
            Some((v.clone(), c.iter().map(|c| Citation { path: new.to_string(), ..c.clone() }).collect()))
        }
    }
}

/// What an extraction produced: maybe a checked answer, and the receipted LLM calls (always,
/// they were paid for).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Extraction {
    pub answer: Option<(Value, Vec<Citation>)>,
    pub calls: StepResult,
    /// Why there is no answer (for the logs and the fallback's error).
    pub reason: Option<String>,
    pub rounds: u32,
    /// The answer passed every check as the model gave it (not pruned).
    #[serde(default)]
    pub clean: bool,
}

/// Run the extraction rounds over `receipts`/`evidence` (the data calls, in the order they will
/// be returned: documents cite these indices).
#[allow(clippy::too_many_arguments)]
pub async fn extract(
    exec: &Executor,
    route: &[u16],
    objective: &str,
    schema: &Value,
    receipts: &[Receipt],
    evidence: &[CallEvidence],
    cfg: &ExtractionConfig,
    until: std::time::Instant,
) -> Extraction {
    let mut out = Extraction::default();
    let docs = documents(objective, receipts, evidence, cfg.min_doc_chars);
    if docs.is_empty() {
        out.reason = Some("no documents to extract from".into());
        return out;
    }
    let allowed: BTreeSet<usize> = docs.iter().map(|d| d.receipt).collect();
    let bodies: Vec<&Value> = evidence.iter().map(|e| &e.response).collect();
    let mut feedback: Vec<String> = Vec::new();
    let mut best: Option<(Value, Vec<Citation>)> = None;
    let mut plain_text = false;
    for round in 0..=cfg.repair_rounds {
        let mut req = ExtractionRequest {
            objective: objective.to_string(),
            schema: schema.clone(),
            documents: docs.clone(),
            feedback: feedback.clone(),
        };
        fit_documents(&mut req, cfg.context_chars);
        let body = chat_input(&req, cfg.max_tokens, plain_text);
        // A round costs at least its prompt: stop when the budget cannot pay for it.
        let estimate =
            ((body.to_string().len() / 4) as f64 + f64::from(cfg.max_tokens)) * cfg.micros_per_1k_tokens / 1000.0;
        if (exec.budget_left() as f64) < estimate {
            out.reason = Some(format!(
                "the budget left ({} µ) cannot pay for an extraction round (~{estimate:.0} µ)",
                exec.budget_left()
            ));
            break;
        }
        if std::time::Instant::now() >= until {
            out.reason = Some("no time left for another extraction round".into());
            break;
        }
        out.rounds = round + 1;
        let (res, calls) =
            exec.call_llm(&format!("extract.{round}"), route, &body, cfg.micros_per_1k_tokens, until).await;
        out.calls.receipts.extend(calls.receipts);
        out.calls.evidence.extend(calls.evidence);
        out.calls.proposals.extend(calls.proposals);
        out.calls.cost_micros += calls.cost_micros;
        let response = match res {
            Ok(v) => v,
            Err(e) => {
                // Some models refuse JSON mode: ask once more without it.
                let msg = e.to_string();
                if !plain_text && (msg.contains("HTTP 400") || msg.contains("HTTP 422")) {
                    plain_text = true;
                    out.reason = Some(format!("LLM call failed in JSON mode: {msg}"));
                    continue;
                }
                // The subnet itself failed (after retries and fallbacks): more rounds would too.
                out.reason = Some(format!("LLM call failed: {msg}"));
                break;
            }
        };
        let Some(content) = response.pointer("/choices/0/message/content").and_then(Value::as_str) else {
            feedback = vec!["Your reply had no message content. Reply with one JSON object {\"answer\": ..., \"citations\": [...]}.".into()];
            out.reason = Some("the LLM reply has no message content".into());
            continue;
        };
        let answer = match read_answer(content) {
            Ok(mut a) => {
                coerce(&mut a.answer, schema);
                a
            }
            Err(e) => {
                feedback = vec![format!(
                    "{e}. Reply with exactly one JSON object {{\"answer\": <value under the schema>, \"citations\": [{{\"path\", \"receipt\", \"pointer\", \"quote\"}}]}}."
                )];
                out.reason = Some(e.to_string());
                continue;
            }
        };
        let checked = check(&answer.answer, &answer.citations, schema, &bodies, &allowed);
        if checked.problems.is_empty() {
            out.clean = true;
            out.answer = checked.value;
            out.reason = None;
            if out.answer.is_none() {
                out.reason = Some("the checked answer does not validate".into());
            }
            return out;
        }
        tracing::debug!(round, problems = ?checked.problems, "extraction answer has problems");
        out.reason = Some(format!("{} problems, first: {}", checked.problems.len(), checked.problems[0]));
        // The fullest checked answer of the rounds so far (a later one on a tie).
        if let Some(v) = checked.value
            && best.as_ref().is_none_or(|b| leaves(&v.0).len() >= leaves(&b.0).len())
        {
            best = Some(v);
        }
        feedback = checked.problems.into_iter().take(20).collect();
    }
    if best.is_some() {
        out.answer = best;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pruning_drops_uncited_optional_leaves_and_renumbers_items() {
        let schema = json!({"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "items": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string"}, "price": {"type": "number"}}}},
            "note": {"type": "string"}}});
        let answer = json!({"items": [{"name": "A", "price": 1.0}, {"name": "B", "price": 2.0}], "note": "x"});
        let body = json!({"data": [{"content": "B costs $2.00. A is a shop."}]});
        let c = |path: &str, quote: &str| Citation {
            path: path.into(),
            receipt: 0,
            pointer: "/data/0/content".into(),
            quote: quote.into(),
        };
        let cites = vec![c("/items/1/name", "B"), c("/items/1/price", "B costs $2.00"), c("/items/0/price", "$1.00")];
        let allowed: BTreeSet<usize> = [0].into();
        let checked = check(&answer, &cites, &schema, &[&body], &allowed);
        assert!(checked.problems.iter().any(|p| p.contains("/items/0/name")), "{:?}", checked.problems);
        assert!(checked.problems.iter().any(|p| p.contains("/note")));
        let (v, cs) = checked.value.expect("pruned");
        assert_eq!(v, json!({"items": [{"name": "B", "price": 2.0}]}));
        assert_eq!(cs.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(), vec!["/items/0/name", "/items/0/price"]);
        for c in &cs {
            check_citation(&v, c, &body).expect("renumbered citations check");
        }
    }

    #[test]
    fn replies_are_read_leniently_and_coerced_to_the_schema() {
        assert_eq!(normalize_path("providers[0].provider"), "/providers/0/provider");
        assert_eq!(normalize_path("$.a.b"), "/a/b");
        assert_eq!(normalize_path("/data/0/content"), "/data/0/content");
        let reply = r#"Sure! {"answer": {"price": "$6.88", "n": "12", "ok": "true", "note": "", "x": null},
            "citations": [{"path": "price", "receipt": "3", "pointer": "data[0].content", "quote": "$6.88 per GPU-hour"},
                          {"path": "n", "receipt": 1, "quote": "12 GPUs"}]}"#;
        let mut a = read_answer(reply).expect("lenient");
        assert_eq!(a.citations[0].receipt, 3);
        assert_eq!(a.citations[0].path, "/price");
        assert_eq!(a.citations[0].pointer, "/data/0/content");
        assert_eq!(a.citations[1].pointer, "", "a missing pointer is searched for");
        let schema = json!({"type": "object", "properties": {
            "price": {"type": "number"}, "n": {"type": "integer"}, "ok": {"type": "boolean"}}});
        coerce(&mut a.answer, &schema);
        assert_eq!(a.answer, json!({"price": 6.88, "n": 12, "ok": true}));
        assert!(read_answer("no json").is_err());
        // A citation without a pointer (or with a wrong receipt) is found where the quote is.
        let bodies = [json!({"x": "nothing"}), json!({"data": [{"content": "12 GPUs in a node"}]})];
        let refs: Vec<&Value> = bodies.iter().collect();
        let c = Citation { path: "/n".into(), receipt: 0, pointer: String::new(), quote: "12 GPUs".into() };
        let checked = check(&json!({"n": 12}), &[c], &json!({"type": "object"}), &refs, &[0, 1].into());
        assert!(checked.problems.is_empty(), "{:?}", checked.problems);
        assert_eq!(checked.value.expect("v").1[0].receipt, 1);
    }

    fn receipt(step: &str, transport: orchestra_proto::receipt::Transport, ok: bool) -> Receipt {
        use orchestra_proto::canonical::Digest;
        use orchestra_proto::receipt::CallStatus;
        Receipt {
            step_id: step.into(),
            netuid: 1,
            subnet: "s".into(),
            transport,
            endpoint: "e".into(),
            target: "-".into(),
            request_digest: Digest([0; 32]),
            response_digest: Digest([0; 32]),
            started_at_ms: 0,
            finished_at_ms: 0,
            latency_ms: 0,
            status: if ok { CallStatus::Ok } else { CallStatus::Timeout },
            cost_micros: 0,
            attestation: None,
        }
    }

    #[test]
    fn documents_come_from_successful_data_calls_scraped_pages_first() {
        use orchestra_proto::receipt::Transport::{HttpJson, OpenaiChat};
        let ev = |response: Value| CallEvidence { request: json!({}), response };
        let page = "Lambda Cloud on-demand pricing. NVIDIA H100 SXM: $2.49 per GPU-hour.";
        let receipts = vec![
            receipt("plan", OpenaiChat, true),
            receipt("search", HttpJson, true),
            receipt("scrape.0", HttpJson, true),
            receipt("scrape.1", HttpJson, false),
            receipt("extract.0", OpenaiChat, true),
        ];
        let evidence = vec![
            ev(json!({"choices": [{"message": {"content": "a plan written by the planning model"}}]})),
            ev(json!({"search_results": [
                {"title": "Lambda Cloud GPU pricing", "link": "https://l", "snippet": "Lambda Cloud on-demand pricing. NVIDIA H100"},
                {"title": "Other", "link": "https://o", "snippet": "Another page about H100 rentals and prices"}]})),
            ev(json!({"data": [{"uri": "https://l", "label": "Lambda Cloud GPU pricing", "content": page,
                "datetime": "2026-10-02T00:00:00Z"}], "meta": {"scraped_at": "2026-11-27T10:00:00Z"}})),
            ev(json!("timed out, but a long string anyway")),
            ev(json!({"choices": [{"message": {"content": "an earlier answer from the extraction model"}}]})),
        ];
        let docs = documents("H100 price per hour", &receipts, &evidence, 20);
        let got: Vec<(usize, &str)> = docs.iter().map(|d| (d.receipt, d.pointer.as_str())).collect();
        assert_eq!(got, vec![(2, "/data/0/content"), (1, "/search_results/1/snippet")]);
        assert_eq!(docs[0].source.as_deref(), Some("https://l"));
        assert_eq!(docs[0].title.as_deref(), Some("Lambda Cloud GPU pricing"));
    }

    #[test]
    fn long_documents_are_cut_to_their_relevant_sentences() {
        let filler = "Nothing to see in this sentence at all. ".repeat(200);
        let text = format!("{filler}The NVIDIA H100 costs $2.49 per GPU-hour. {filler}");
        let mut req = ExtractionRequest {
            objective: "H100 price per GPU-hour".into(),
            schema: json!({}),
            documents: vec![Document {
                receipt: 0,
                pointer: "/c".into(),
                text: text.clone(),
                source: None,
                title: None,
                date: None,
                author: None,
            }],
            feedback: vec![],
        };
        fit_documents(&mut req, 1_000);
        let d = &req.documents[0].text;
        assert!(d.len() <= 1_500 && d.contains("The NVIDIA H100 costs $2.49 per GPU-hour."), "{}", d.len());
        assert!(d.len() <= 1_000);
    }

    #[test]
    fn titles_and_usernames_are_not_entities_and_quotes_must_carry_the_value() {
        let body = json!({"data": [{"content": "Lambda Cloud rents H100s.", "label": "GPU cloud market report 2026"}]});
        let answer = json!({"provider": "GPU cloud market report 2026", "note": "Lambda Cloud rents H100s cheaply in every region"});
        let cites = vec![
            Citation {
                path: "/provider".into(),
                receipt: 0,
                pointer: "/data/0/label".into(),
                quote: "GPU cloud market report 2026".into(),
            },
            Citation { path: "/note".into(), receipt: 0, pointer: "/data/0/content".into(), quote: "Lambda".into() },
        ];
        let checked = check(&answer, &cites, &json!({"type": "object"}), &[&body], &[0].into());
        assert!(checked.problems.iter().any(|p| p.contains("/provider cites /data/0/label")), "{:?}", checked.problems);
        assert!(checked.problems.iter().any(|p| p.contains("supports only part")), "{:?}", checked.problems);
        assert_eq!(checked.value.expect("pruned").0, json!({}));
    }

    #[test]
    fn a_citation_at_the_wrong_pointer_is_moved_to_the_field_that_says_it() {
        let body = json!({"data": [{"content": "H100 is cheap", "label": "gpu_watcher", "uri": "https://x/1"}]});
        let answer = json!({"author": "gpu_watcher"});
        let c = Citation {
            path: "/author".into(),
            receipt: 0,
            pointer: "/data/0/content".into(),
            quote: "gpu_watcher".into(),
        };
        let checked = check(&answer, &[c], &json!({"type": "object"}), &[&body], &[0].into());
        assert!(checked.problems.is_empty(), "{:?}", checked.problems);
        assert_eq!(checked.value.expect("v").1[0].pointer, "/data/0/label");
    }
}
