//! The extraction contract between a miner, an LLM subnet and a validator: how an objective, a
//! target schema and receipted evidence become a JSON answer with a citation for every leaf.
//!
//! A miner (and a validator computing a reference answer) builds an [`ExtractionRequest`] from
//! the bodies of its receipted calls and sends it to an OpenAI-compatible chat endpoint with
//! [`ExtractionRequest::to_chat_body`]. The model answers with [`ExtractionAnswer`] JSON: the
//! answer under the schema, and for each leaf value a [`Citation`] naming the receipt, the place
//! in that receipt's response body and the quoted text the value was read from. Real models read
//! the instructions as prose; the simulated LLM parses the same message back with
//! [`ExtractionRequest::from_chat_body`] (it only ever sees what the request carries).
//!
//! [`check_citation`] is the rule both sides apply: the quote must appear in the string at the
//! cited place of the body, and the cited value must be what the quote says. It is pure so the
//! miner's self-check, the validator's check and the re-probe check are one function.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ProtoError;

/// Marker lines around the machine-readable task in the user message.
const TASK_OPEN: &str = "<<<ORCHESTRA_EXTRACTION_TASK";
const TASK_CLOSE: &str = "ORCHESTRA_EXTRACTION_TASK>>>";

/// Instructions every model gets. Kept short: they are paid for in prompt tokens.
pub const SYSTEM_PROMPT: &str = "You are a careful research assistant. Answer the objective using ONLY the documents \
given. Reply with one JSON object {\"answer\": <value valid under the JSON Schema>, \"citations\": [{\"path\": \
<JSON pointer of a leaf in answer>, \"receipt\": <document receipt index>, \"pointer\": <document pointer>, \
\"quote\": <exact text copied from that document that states the value>}]}. Cite every leaf value. Leave out \
any optional field the documents do not support; never guess, never copy text that does not answer the field.";

/// One piece of evidence shown to the model: a string inside a receipted response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Index of the receipt (and its evidence body) in the response.
    pub receipt: usize,
    /// JSON pointer of the string within that receipt's response body.
    pub pointer: String,
    pub text: String,
    /// Where the text came from (URL or post URI), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

/// What the model is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractionRequest {
    pub objective: String,
    /// JSON Schema of the answer.
    pub schema: Value,
    pub documents: Vec<Document>,
    /// Problems with a previous answer, for a repair round.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feedback: Vec<String>,
}

impl ExtractionRequest {
    /// Drop the tail of the evidence so the documents fit in `budget_chars` (the model's context
    /// budget, in characters): whole documents first, the last one truncated at a char boundary.
    pub fn trim_to(&mut self, budget_chars: usize) {
        let mut used = 0usize;
        let mut keep = 0usize;
        for d in &mut self.documents {
            if used >= budget_chars {
                break;
            }
            let room = budget_chars - used;
            if d.text.len() > room {
                let mut cut = room;
                while cut > 0 && !d.text.is_char_boundary(cut) {
                    cut -= 1;
                }
                d.text.truncate(cut);
            }
            used += d.text.len();
            keep += 1;
        }
        self.documents.truncate(keep);
    }

    /// The OpenAI-compatible chat completion body (JSON mode) for this task.
    pub fn to_chat_body(&self, model: &str, max_tokens: u32) -> Value {
        let task = serde_json::to_string(self).unwrap_or_else(|_| "{}".into());
        let user = format!(
            "Objective: {}\n\nThe task as JSON (schema, documents, feedback on an earlier answer):\n{TASK_OPEN}\n{task}\n{TASK_CLOSE}",
            self.objective
        );
        json!({
            "model": model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": user},
            ],
            "response_format": {"type": "json_object"},
            "temperature": 0,
            "max_tokens": max_tokens,
        })
    }

    /// Parse the task back out of a chat body built by [`Self::to_chat_body`] (`None` when the
    /// body carries no extraction task).
    pub fn from_chat_body(body: &Value) -> Option<ExtractionRequest> {
        let messages = body.get("messages")?.as_array()?;
        messages.iter().filter_map(|m| m.get("content")?.as_str()).find_map(|text| {
            let start = text.find(TASK_OPEN)? + TASK_OPEN.len();
            let end = text[start..].find(TASK_CLOSE)? + start;
            serde_json::from_str(text[start..end].trim()).ok()
        })
    }
}

/// Where one leaf of the answer was read from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    /// JSON pointer of the leaf in the result (`/providers/0/price`).
    pub path: String,
    /// Index of the receipt whose response body holds the quote.
    pub receipt: usize,
    /// JSON pointer of the string or number in that response body.
    pub pointer: String,
    /// The exact text in that string that states the value.
    pub quote: String,
}

/// What the model answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractionAnswer {
    pub answer: Value,
    #[serde(default)]
    pub citations: Vec<Citation>,
}

/// Parse a model's reply: the JSON object itself, or one wrapped in a code fence or prose.
pub fn parse_answer(content: &str) -> Result<ExtractionAnswer, ProtoError> {
    let bad = |m: String| ProtoError::Invalid(format!("the model's answer is not extraction JSON: {m}"));
    let t = content.trim();
    if let Ok(a) = serde_json::from_str::<ExtractionAnswer>(t) {
        return Ok(a);
    }
    let start = t.find('{').ok_or_else(|| bad("no JSON object".into()))?;
    let end = t.rfind('}').ok_or_else(|| bad("no JSON object".into()))?;
    if end < start {
        return Err(bad("no JSON object".into()));
    }
    serde_json::from_str::<ExtractionAnswer>(&t[start..=end]).map_err(|e| bad(e.to_string()))
}

/// A JSON pointer reference token: `~` as `~0`, `/` as `~1`.
fn push_token(path: &mut String, key: &str) {
    if !key.contains(['~', '/']) {
        path.push_str(key);
        return;
    }
    for c in key.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

/// JSON pointers and values of every leaf (string, number, bool) of `v`, in document order.
pub fn leaves(v: &Value) -> Vec<(String, &Value)> {
    fn walk<'a>(v: &'a Value, path: &mut String, out: &mut Vec<(String, &'a Value)>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let len = path.len();
                    path.push('/');
                    push_token(path, k);
                    walk(x, path, out);
                    path.truncate(len);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    let len = path.len();
                    path.push('/');
                    let _ = write!(path, "{i}");
                    walk(x, path, out);
                    path.truncate(len);
                }
            }
            Value::Null => {}
            _ => out.push((path.clone(), v)),
        }
    }
    let mut out = Vec::new();
    walk(v, &mut String::new(), &mut out);
    out
}

/// Lowercase, collapse whitespace, drop punctuation other than `.`, `$`, `%` inside words.
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = true;
    let bytes = s.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii() {
            // The common case, bytewise and without the Unicode tables (same result for ASCII).
            if b.is_ascii_alphanumeric() || b == b'.' || b == b'$' || b == b'%' {
                out.push(char::from(b.to_ascii_lowercase()));
                space = false;
            } else if !space {
                out.push(' ');
                space = true;
            }
            i += 1;
            continue;
        }
        let Some(c) = s.get(i..).and_then(|t| t.chars().next()) else { break };
        i += c.len_utf8();
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    let keep = out.trim_end().trim_end_matches('.').len();
    out.truncate(keep);
    out
}

/// Numbers written in `s` (`$1,299.50` → 1299.5; `2.49/hr` → 2.49).
pub fn numbers_in(s: &str) -> Vec<f64> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let neg = i > 0 && b[i - 1] == b'-' && (i < 2 || !b[i - 2].is_ascii_alphanumeric());
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b',' || b[j] == b'.') {
                j += 1;
            }
            let raw = s[i..j].trim_end_matches(['.', ',']).replace(',', "");
            if let Ok(v) = raw.parse::<f64>() {
                out.push(if neg { -v } else { v });
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Two numbers are the same figure: equal within 0.5% (or 1e-9 absolute near zero).
pub fn same_number(a: f64, b: f64) -> bool {
    let scale = a.abs().max(b.abs());
    (a - b).abs() <= (scale * 0.005).max(1e-9)
}

/// Does `quote` state `value`? A number must be one of the quote's numbers; a bool is accepted
/// when the quote is non-empty (it is the model's reading); a string must be contained in the
/// quote or contain it, after [`normalize`].
pub fn quote_states(value: &Value, quote: &str) -> bool {
    quote_states_normalized(value, quote, &normalize(quote))
}

/// [`quote_states`] with the quote's [`normalize`]d text already made.
fn quote_states_normalized(value: &Value, quote: &str, q: &str) -> bool {
    match value {
        Value::Number(n) => n.as_f64().is_some_and(|x| numbers_in(quote).iter().any(|q| same_number(*q, x))),
        Value::String(s) => {
            let v = normalize(s);
            !v.is_empty() && !q.is_empty() && (q.contains(&v) || v.contains(q))
        }
        Value::Bool(_) => !quote.trim().is_empty(),
        _ => false,
    }
}

/// Check one citation against the result and the cited response body: the value at `path`
/// exists and is stated by the quote, and the quote appears in the text at `pointer` of `body`
/// (case and whitespace insensitive). The error names what failed.
pub fn check_citation(result: &Value, c: &Citation, body: &Value) -> Result<(), String> {
    check_stated(result, c, body, &mut |p, q| quote_at_normalized(body, p, q))
}

/// [`check_citation`] with the quote lookup given (plain or over cached normalized texts); the
/// lookup gets the pointer and the [`normalize`]d quote.
fn check_stated(
    result: &Value,
    c: &Citation,
    body: &Value,
    quote_here: &mut dyn FnMut(&str, &str) -> bool,
) -> Result<(), String> {
    let value = value_at(result, &c.path).ok_or_else(|| format!("citation path {} is not in the result", c.path))?;
    if c.quote.trim().is_empty() {
        return Err(format!("citation for {} has an empty quote", c.path));
    }
    let q = normalize(&c.quote);
    if !quote_states_normalized(value, &c.quote, &q) {
        return Err(format!("the quote cited for {} does not state its value", c.path));
    }
    if quote_here(&c.pointer, &q) {
        Ok(())
    } else if value_at(body, &c.pointer).is_none() {
        Err(format!("citation for {}: pointer {} is not in receipt {}'s body", c.path, c.pointer, c.receipt))
    } else {
        Err(format!("citation for {}: the quote is not at {} of receipt {}", c.path, c.pointer, c.receipt))
    }
}

/// The JSON Schema node at `pointer` of an instance (objects by `properties`, arrays by `items`).
pub fn schema_at<'a>(schema: &'a Value, pointer: &str) -> Option<&'a Value> {
    let mut cur = schema;
    for seg in pointer.split('/').skip(1) {
        cur = if cur.get("type").and_then(Value::as_str) == Some("array") || cur.get("items").is_some() {
            cur.get("items")?
        } else {
            let props = cur.get("properties")?;
            if seg.contains('~') { props.get(seg.replace("~1", "/").replace("~0", "~"))? } else { props.get(seg)? }
        };
    }
    Some(cur)
}

/// A closed-set leaf (enum or boolean): a judgment over the evidence (an overall sentiment, a
/// yes/no) rather than a value the evidence states. Its citation shows what it was judged from.
pub fn is_judgment(schema: &Value, pointer: &str) -> bool {
    schema_at(schema, pointer)
        .is_some_and(|s| s.get("enum").is_some() || s.get("type").and_then(Value::as_str) == Some("boolean"))
}

/// [`check_citation`] under the target `schema`: a judgment leaf ([`is_judgment`]) needs its
/// value allowed by the schema and its quote at the cited place; every other leaf must be
/// stated by its quote.
pub fn check_citation_under(schema: &Value, result: &Value, c: &Citation, body: &Value) -> Result<(), String> {
    check_under(schema, result, c, body, &mut |p, q| quote_at_normalized(body, p, q))
}

/// Normalized texts at the places one response's citations point to, by receipt and pointer,
/// so leaves citing the same text normalize it once ([`check_citation_cached`]).
#[derive(Debug, Default)]
pub struct CitedTexts(HashMap<usize, HashMap<String, Option<String>>>);

impl CitedTexts {
    pub fn new() -> CitedTexts {
        CitedTexts::default()
    }

    /// Places whose text is kept.
    pub fn len(&self) -> usize {
        self.0.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `Value::pointer` without its copy of every reference token: a token is unescaped (`~1`,
/// `~0`) only when it holds a `~`. The same value for every pointer (a test holds them equal).
pub fn value_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a Value> {
    if pointer.is_empty() {
        return Some(v);
    }
    let rest = pointer.strip_prefix('/')?;
    let mut cur = v;
    for token in rest.split('/') {
        let token: std::borrow::Cow<'_, str> =
            if token.contains('~') { token.replace("~1", "/").replace("~0", "~").into() } else { token.into() };
        cur = match cur {
            Value::Object(m) => m.get(token.as_ref())?,
            Value::Array(a) => {
                // As serde_json reads an index: no sign, no leading zero.
                if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
                    return None;
                }
                a.get(token.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

/// [`check_citation_under`] (or [`check_citation`] without a schema), normalizing each cited
/// text once per response: the same result, the cited text kept in `texts`.
pub fn check_citation_cached(
    schema: Option<&Value>,
    result: &Value,
    c: &Citation,
    body: &Value,
    texts: &mut CitedTexts,
) -> Result<(), String> {
    let mut quote_here = |pointer: &str, q: &str| {
        if q.is_empty() {
            return false;
        }
        // As quote_at reads it: a string normalized, a number as written.
        let at = texts.0.entry(c.receipt).or_default();
        if let Some(text) = at.get(pointer) {
            return text.as_ref().is_some_and(|t| t.contains(q));
        }
        let text = match value_at(body, pointer) {
            Some(Value::String(s)) => Some(normalize(s)),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let here = text.as_ref().is_some_and(|t| t.contains(q));
        at.insert(pointer.to_string(), text);
        here
    };
    match schema {
        Some(schema) => check_under(schema, result, c, body, &mut quote_here),
        None => check_stated(result, c, body, &mut quote_here),
    }
}

fn check_under(
    schema: &Value,
    result: &Value,
    c: &Citation,
    body: &Value,
    quote_here: &mut dyn FnMut(&str, &str) -> bool,
) -> Result<(), String> {
    if !is_judgment(schema, &c.path) {
        return check_stated(result, c, body, quote_here);
    }
    let value = value_at(result, &c.path).ok_or_else(|| format!("citation path {} is not in the result", c.path))?;
    let allowed = schema_at(schema, &c.path)
        .and_then(|s| s.get("enum"))
        .and_then(Value::as_array)
        .is_none_or(|e| e.contains(value));
    if !allowed {
        return Err(format!("{} is not one of the values the schema allows", c.path));
    }
    if quote_here(&c.pointer, &normalize(&c.quote)) {
        Ok(())
    } else {
        Err(format!("citation for {}: the quote is not at {} of receipt {}", c.path, c.pointer, c.receipt))
    }
}

/// Is `quote` (normalized) in the text (or number) at exactly `pointer` of `body`? Exactly: a
/// quote from a record's title or username must point at that field, so a reader can tell a
/// page title from what the page says.
pub fn quote_at(body: &Value, pointer: &str, quote: &str) -> bool {
    quote_at_normalized(body, pointer, &normalize(quote))
}

/// [`quote_at`] with the quote's [`normalize`]d text already made.
fn quote_at_normalized(body: &Value, pointer: &str, q: &str) -> bool {
    if q.is_empty() {
        return false;
    }
    match value_at(body, pointer) {
        Some(Value::String(s)) => normalize(s).contains(q),
        Some(Value::Number(n)) => n.to_string().contains(q),
        _ => false,
    }
}

/// Keys whose strings describe a record rather than say something.
const METADATA_KEYS: &[&str] =
    &["url", "link", "uri", "date", "datetime", "id", "source", "username", "author", "created", "model", "object"];

/// Documents from a response body: every string of at least `min_len` characters, with the
/// nearest enclosing object's `url`/`link`/`uri`, `title`/`label`, `date`/`datetime` and
/// `author`/`username` as metadata.
pub fn documents_from(receipt: usize, body: &Value, min_len: usize) -> Vec<Document> {
    fn meta(m: &serde_json::Map<String, Value>, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|k| m.get(*k).and_then(Value::as_str)).map(str::to_string)
    }
    fn walk(
        receipt: usize,
        v: &Value,
        path: &mut String,
        ctx: Option<&serde_json::Map<String, Value>>,
        min_len: usize,
        out: &mut Vec<Document>,
    ) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    walk(receipt, x, path, Some(m), min_len, out);
                    path.truncate(len);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&i.to_string());
                    walk(receipt, x, path, ctx, min_len, out);
                    path.truncate(len);
                }
            }
            // Record metadata is shown with the text, not as a document of its own.
            Value::String(_) if path.rsplit('/').next().is_some_and(|k| METADATA_KEYS.contains(&k)) => {}
            Value::String(s) if s.chars().count() >= min_len => {
                let m = ctx;
                out.push(Document {
                    receipt,
                    pointer: path.clone(),
                    text: s.clone(),
                    source: m.and_then(|m| meta(m, &["url", "link", "uri"])),
                    title: m.and_then(|m| meta(m, &["title", "label"])),
                    date: m.and_then(|m| meta(m, &["date", "datetime"])),
                    author: m.and_then(|m| meta(m, &["author", "username"])),
                });
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(receipt, body, &mut String::new(), None, min_len, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> Value {
        json!({"data": [{"uri": "https://x/1", "content": "Lambda Cloud: NVIDIA H100 SXM: $2.49 per GPU-hour."}]})
    }

    #[test]
    fn chat_body_round_trips_the_task() {
        let mut r = ExtractionRequest {
            objective: "Cheapest H100?".into(),
            schema: json!({"type": "object"}),
            documents: documents_from(3, &body(), 10),
            feedback: vec![],
        };
        assert_eq!(r.documents.len(), 1);
        assert_eq!(r.documents[0].pointer, "/data/0/content");
        assert_eq!(r.documents[0].source.as_deref(), Some("https://x/1"));
        let chat = r.to_chat_body("m", 512);
        assert_eq!(ExtractionRequest::from_chat_body(&chat), Some(r.clone()));
        assert_eq!(ExtractionRequest::from_chat_body(&json!({"messages": [{"role": "user", "content": "hi"}]})), None);
        r.trim_to(10);
        assert_eq!(r.documents[0].text.len(), 10);
    }

    #[test]
    fn citations_are_checked_against_value_and_body() {
        let result = json!({"provider": "Lambda Cloud", "price": 2.49});
        let ok = Citation {
            path: "/price".into(),
            receipt: 0,
            pointer: "/data/0/content".into(),
            quote: "$2.49 per GPU-hour".into(),
        };
        assert_eq!(check_citation(&result, &ok, &body()), Ok(()));
        let name = Citation { path: "/provider".into(), quote: "lambda  cloud".into(), ..ok.clone() };
        assert_eq!(check_citation(&result, &name, &body()), Ok(()));
        // A swapped number is not what the quote says.
        let swapped = json!({"provider": "Lambda Cloud", "price": 0.42});
        assert!(check_citation(&swapped, &ok, &body()).expect_err("swap").contains("does not state"));
        // A quote that is not in the body.
        let made_up = Citation { quote: "$0.42 per GPU-hour".into(), ..ok.clone() };
        assert!(check_citation(&swapped, &made_up, &body()).expect_err("absent").contains("not at"));
        let wrong_ptr = Citation { pointer: "/data/9".into(), ..ok };
        assert!(check_citation(&result, &wrong_ptr, &body()).is_err());
    }

    #[test]
    fn judgments_are_cited_by_what_they_were_judged_from() {
        let schema = json!({"type": "object", "properties": {
            "mood": {"type": "string", "enum": ["positive", "negative"]},
            "posts": {"type": "array", "items": {"type": "object", "properties": {"ok": {"type": "boolean"}}}}}});
        assert!(is_judgment(&schema, "/mood") && is_judgment(&schema, "/posts/2/ok"));
        let body = json!({"data": [{"content": "Huge win for decentralized training"}]});
        let c =
            Citation { path: "/mood".into(), receipt: 0, pointer: "/data/0/content".into(), quote: "huge win".into() };
        assert_eq!(check_citation_under(&schema, &json!({"mood": "positive"}), &c, &body), Ok(()));
        assert!(check_citation(&json!({"mood": "positive"}), &c, &body).is_err(), "plain rule: not stated");
        assert!(check_citation_under(&schema, &json!({"mood": "ecstatic"}), &c, &body).is_err());
        let absent = Citation { quote: "terrible".into(), ..c };
        assert!(check_citation_under(&schema, &json!({"mood": "negative"}), &absent, &body).is_err());
    }

    #[test]
    fn cached_citation_checks_give_the_same_answers() {
        // One cache across every citation, as for one response: each answer (and error text)
        // is the uncached one, with or without a schema, whatever was cached before it.
        let schema = json!({"type": "object", "properties": {
            "mood": {"type": "string", "enum": ["positive", "negative"]},
            "price": {"type": "number"}, "provider": {"type": "string"}, "n": {"type": "number"}}});
        let body = json!({"data": [{"content": "Huge win. Lambda Cloud: $2.49 per GPU-hour", "n": 42}]});
        let results = [
            json!({"mood": "positive", "price": 2.49, "provider": "Lambda Cloud", "n": 42}),
            json!({"mood": "ecstatic", "price": 0.42, "provider": "Acme", "n": 7}),
        ];
        let cite = |path: &str, pointer: &str, quote: &str| Citation {
            path: path.into(),
            receipt: 0,
            pointer: pointer.into(),
            quote: quote.into(),
        };
        let citations = [
            cite("/mood", "/data/0/content", "huge win"),
            cite("/price", "/data/0/content", "$2.49 per GPU-hour"),
            cite("/provider", "/data/0/content", "lambda  cloud"),
            cite("/price", "/data/0/content", "$0.42 per GPU-hour"),
            cite("/n", "/data/0/n", "42"),
            cite("/n", "/data/0/n", "7"),
            cite("/price", "/data/9", "$2.49"),
            cite("/missing", "/data/0/content", "win"),
            cite("/mood", "/data/0/content", "   "),
        ];
        let mut texts = CitedTexts::new();
        let mut errors = 0;
        for r in &results {
            for c in &citations {
                let with = check_citation_cached(Some(&schema), r, c, &body, &mut texts);
                assert_eq!(with, check_citation_under(&schema, r, c, &body), "{c:?} {r}");
                errors += usize::from(with.is_err());
                assert_eq!(check_citation_cached(None, r, c, &body, &mut texts), check_citation(r, c, &body), "{c:?}");
            }
        }
        assert!(errors > 0 && errors < results.len() * citations.len(), "both outcomes are exercised");
        assert!(texts.len() >= 2, "texts are cached per place");
    }

    /// Values with keys that need escaping, numeric-looking keys and arrays, and pointers into
    /// them (and beside them): [`value_at`] finds what `Value::pointer` finds.
    #[test]
    fn value_at_is_serde_jsons_pointer() {
        let v = json!({"a": [1, {"b/c": "x", "d~e": [true, null], "~1": 2, "0": "zero", "": {"": 3}}],
            "01": "o", "/": 4, "a~": {"~0~1": 5}});
        let tokens =
            ["", "a", "0", "1", "01", "+1", "-1", "b~1c", "b/c", "d~0e", "~01", "~1", "~0", "~", "~2", "2", "9"];
        let mut pointers = vec![String::new(), "a".to_string(), "/".to_string(), "//".to_string()];
        for t1 in tokens {
            pointers.push(format!("/{t1}"));
            for t2 in tokens {
                pointers.push(format!("/{t1}/{t2}"));
                for t3 in ["", "0", "1", "d~0e", "b~1c", "~01", "~0~01"] {
                    pointers.push(format!("/{t1}/{t2}/{t3}"));
                }
            }
        }
        let mut found = 0;
        for p in &pointers {
            assert_eq!(value_at(&v, p), v.pointer(p), "{p}");
            found += usize::from(v.pointer(p).is_some());
        }
        assert!(found > 10, "{found}");
        for (p, x) in leaves(&v) {
            assert_eq!(value_at(&v, &p), Some(x), "{p}");
        }
    }

    /// [`normalize`] as it was, char by char (the oracle of `normalize_is_unchanged`).
    fn normalize_chars(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut space = true;
        for c in s.chars() {
            if c.is_ascii() {
                if c.is_ascii_alphanumeric() || c == '.' || c == '$' || c == '%' {
                    out.push(c.to_ascii_lowercase());
                    space = false;
                } else if !space {
                    out.push(' ');
                    space = true;
                }
            } else if c.is_alphanumeric() {
                out.extend(c.to_lowercase());
                space = false;
            } else if !space {
                out.push(' ');
                space = true;
            }
        }
        let keep = out.trim_end().trim_end_matches('.').len();
        out.truncate(keep);
        out
    }

    proptest::proptest! {
        #[test]
        fn normalize_is_unchanged(cs in proptest::collection::vec(proptest::prop_oneof![
            proptest::prelude::Just('A'), proptest::prelude::Just('z'), proptest::prelude::Just('.'),
            proptest::prelude::Just(' '), proptest::prelude::Just('$'), proptest::prelude::Just('%'),
            proptest::prelude::Just('-'), proptest::prelude::Just('İ'), proptest::prelude::Just('É'),
            proptest::prelude::Just('ß'), proptest::prelude::Just('Σ'), proptest::prelude::Just('—'),
            proptest::prelude::Just('\u{a0}'), proptest::prelude::Just('日'), proptest::prelude::Just('😀'),
            proptest::prelude::any::<char>(),
        ], 0..40)) {
            let s: String = cs.into_iter().collect();
            proptest::prop_assert_eq!(normalize(&s), normalize_chars(&s));
        }
    }

    #[test]
    fn numbers_and_answers_parse_leniently() {
        assert_eq!(numbers_in("$1,299.50 and 2.49/hr, -3"), vec![1299.5, 2.49, -3.0]);
        assert!(same_number(2.5, 2.50) && !same_number(2.49, 2.59));
        let a =
            parse_answer("Here you go:\n```json\n{\"answer\": {\"x\": 1}, \"citations\": []}\n```").expect("fenced");
        assert_eq!(a.answer, json!({"x": 1}));
        assert!(parse_answer("no json here").is_err());
        let v = json!({"a": [1, {"b": "x"}], "c": null});
        let l = leaves(&v);
        assert_eq!(l.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(), vec!["/a/0", "/a/1/b"]);
    }
}
