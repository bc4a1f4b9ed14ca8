//! The deterministic fallback synthesis: fill the target schema from receipted bodies without
//! an LLM, only where the evidence states the value, and cite every value it fills.
//!
//! It reads [`Record`]s (a scraped page, a social post, a search result) out of the successful
//! data calls' response bodies and fills fields by what their names ask for:
//! - in a list of items, one item per relevant record: an entity name (`provider`, `name`,
//!   `company`, ...) is the record's title shortened to the name, and only when the page's own
//!   text says that name (a report or a post has none, so it is not listed); an author field
//!   takes a post's username (and only an author field does); URLs, dates and titles come from
//!   the record's own fields; a number is the figure in the record whose context matches the
//!   field (entity tokens such as `H100`, the unit: per hour, not per million tokens or per
//!   instance; a `$` for prices); a free-form dict is the record's labelled prices;
//! - outside items, a `cheapest`/`lowest` (or `highest`) string names the item with the
//!   smallest (largest) number of a sibling list, a number is chosen among the items' figures,
//!   free text (`rationale`, `summary`) is the evidence sentence most relevant to the
//!   objective, and an enum takes one of its values only when a relevant sentence states it.
//!
//! A field it cannot fill is left out; a required one fails the task with a reason naming it.
//! Nothing is ever made up, and no value outside an `enum` is ever written.

use std::collections::{BTreeMap, BTreeSet};

use orchestra_proto::extract::Citation;
use orchestra_proto::receipt::{CallStatus, Receipt, Transport};
use orchestra_proto::synapses::CallEvidence;
use serde_json::{Map, Value, json};

use crate::MinerError;

/// What kind of thing a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A scraped page.
    Page,
    /// A social post.
    Post,
    /// A search result (title, link, snippet) whose page was not scraped.
    Snippet,
}

/// A string of a response body and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub pointer: String,
    pub value: String,
}

/// One item of evidence read from a receipted response body.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Index of the receipt in the response.
    pub receipt: usize,
    pub kind: RecordKind,
    pub text: Field,
    pub url: Option<Field>,
    pub title: Option<Field>,
    pub date: Option<Field>,
    pub author: Option<Field>,
}

fn field(item: &Map<String, Value>, base: &str, keys: &[&str]) -> Option<Field> {
    keys.iter().find_map(|k| {
        item.get(*k)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(|s| Field { pointer: format!("{base}/{k}"), value: s.to_string() })
    })
}

/// Whether a receipt is a data call whose body can be evidence (successful, and not an LLM's
/// own answer or the planning call).
pub fn is_data_receipt(r: &Receipt) -> bool {
    r.status == CallStatus::Ok && r.transport != Transport::OpenaiChat && r.step_id != "plan"
}

/// Records from the successful data calls, in receipt order; search results whose link was
/// also scraped are dropped (the page is the better record).
pub fn records(receipts: &[Receipt], evidence: &[CallEvidence]) -> Vec<Record> {
    let mut out = Vec::new();
    for (i, (r, e)) in receipts.iter().zip(evidence).enumerate() {
        if !is_data_receipt(r) {
            continue;
        }
        let scrape = e.request.get("url").and_then(Value::as_str).is_some_and(|u| !u.is_empty());
        for (j, it) in e.response.get("data").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let Some(m) = it.as_object() else { continue };
            let base = format!("/data/{j}");
            let Some(text) = field(m, &base, &["content", "text", "body"]) else { continue };
            let source = m.get("source").and_then(Value::as_str).unwrap_or_default().to_uppercase();
            let page = scrape || source == "WEB";
            let (title, author) = if page {
                (field(m, &base, &["title", "label"]), field(m, &base, &["author"]))
            } else {
                (field(m, &base, &["title"]), field(m, &base, &["username", "author", "label", "user"]))
            };
            out.push(Record {
                receipt: i,
                kind: if page { RecordKind::Page } else { RecordKind::Post },
                text,
                url: field(m, &base, &["uri", "url", "link"]),
                title,
                date: field(m, &base, &["datetime", "date", "created_at", "timestamp"]),
                author,
            });
        }
        for (j, it) in e.response.get("search_results").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let Some(m) = it.as_object() else { continue };
            let base = format!("/search_results/{j}");
            let Some(text) = field(m, &base, &["snippet", "description", "content"]) else { continue };
            out.push(Record {
                receipt: i,
                kind: RecordKind::Snippet,
                text,
                url: field(m, &base, &["link", "url"]),
                title: field(m, &base, &["title"]),
                date: field(m, &base, &["date"]),
                author: None,
            });
        }
    }
    let scraped: BTreeSet<String> = out
        .iter()
        .filter(|r| r.kind == RecordKind::Page)
        .filter_map(|r| r.url.as_ref().map(|u| u.value.clone()))
        .collect();
    out.retain(|r| r.kind != RecordKind::Snippet || r.url.as_ref().is_none_or(|u| !scraped.contains(&u.value)));
    // One record per URL (two social steps may return the same post).
    let mut seen = BTreeSet::new();
    out.retain(|r| seen.insert(r.url.as_ref().map(|u| u.value.clone()).unwrap_or_else(|| r.text.value.clone())));
    out
}

// ---------------------------------------------------------------------------------------------
// Words

/// A crude stem: lowercase, without a plural or verb ending, so "providers" meets "provider".
pub fn stem(w: &str) -> String {
    let mut w = w.to_lowercase();
    for suf in ["ing", "ies", "es", "ed", "s"] {
        if w.len() > suf.len() + 3
            && let Some(s) = w.strip_suffix(suf)
        {
            w = s.to_string();
            break;
        }
    }
    if w.len() > 4 && w.ends_with('e') {
        w.pop();
    }
    w
}

fn stems(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(stem).collect()
}

/// The words of a field name: `h100_usd_per_hour` → h100, usd, per, hour; `priceUSD` → price, usd.
pub fn name_tokens(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur).to_lowercase());
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur).to_lowercase());
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur.to_lowercase());
    }
    out
}

/// Entity tokens: words mixing letters and digits (`H100`, `A100`, `gpt-4o`), the things a
/// value must be about.
pub fn entity_tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 2 && w.chars().any(|c| c.is_ascii_digit()) && w.chars().any(|c| c.is_alphabetic()))
        .map(str::to_lowercase)
        .collect();
    out.sort();
    out.dedup();
    out
}

fn contains_word(haystack_lower: &str, word: &str) -> bool {
    haystack_lower.split(|c: char| !c.is_alphanumeric()).any(|w| w == word)
}

fn has_any(tokens: &[String], set: &[&str]) -> bool {
    tokens.iter().any(|t| set.contains(&t.as_str()))
}

// ---------------------------------------------------------------------------------------------
// Sentences and figures

/// Sentences of `text` as byte ranges: split after `.`, `!` or `?` followed by whitespace, and
/// at newlines (so `$2.49` stays whole).
pub fn sentences(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let end_here = b[i] == b'\n'
            || (matches!(b[i], b'.' | b'!' | b'?') && (i + 1 == b.len() || b[i + 1].is_ascii_whitespace()));
        if end_here {
            let end = if b[i] == b'\n' { i } else { i + 1 };
            push_trimmed(text, start, end, &mut out);
            start = i + 1;
        }
        i += 1;
    }
    push_trimmed(text, start, b.len(), &mut out);
    out
}

fn push_trimmed(text: &str, start: usize, end: usize, out: &mut Vec<(usize, usize)>) {
    let s = &text[start..end];
    let lead = s.len() - s.trim_start().len();
    let trail = s.len() - s.trim_end().len();
    if end - trail > start + lead {
        out.push((start + lead, end - trail));
    }
}

/// A number written in a text, with its surroundings.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub value: f64,
    /// Written with a currency sign or code (`$2.49`, `USD 2.49`).
    pub money: bool,
    /// The sentence holding it (byte range in the text).
    pub sentence: (usize, usize),
    /// The clause before it, from the last `,` `;` `:` or sentence start (byte range).
    pub before: (usize, usize),
    /// What follows it up to the next clause break: its unit (byte range).
    pub after: (usize, usize),
}

/// Figures of `text`: numbers that are not part of a word (`H100`, `80GB` and `3.1` in
/// `Llama 3.1` as a version are skipped when glued to letters).
pub fn figures(text: &str) -> Vec<Figure> {
    let b = text.as_bytes();
    let sents = sentences(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.')) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len()
            && (b[j].is_ascii_digit()
                || ((b[j] == b',' || b[j] == b'.') && j + 1 < b.len() && b[j + 1].is_ascii_digit()))
        {
            j += 1;
        }
        let glued = j < b.len() && b[j].is_ascii_alphabetic() && !text[j..].to_lowercase().starts_with("k ");
        let raw = text[i..j].replace(',', "");
        if glued {
            while j < b.len() && b[j].is_ascii_alphanumeric() {
                j += 1;
            }
            i = j;
            continue;
        }
        let Ok(value) = raw.parse::<f64>() else {
            i = j.max(i + 1);
            continue;
        };
        let pre = text[..i].trim_end();
        let money = pre.ends_with('$')
            || pre.ends_with("USD")
            || pre.ends_with("US$")
            || pre.ends_with('€')
            || pre.ends_with('£');
        let sentence = sents.iter().copied().find(|(s, e)| *s <= i && i < *e).unwrap_or((i, j));
        let clause_start = [", ", "; ", ": ", " — ", " - "]
            .iter()
            .filter_map(|m| text[sentence.0..i].rfind(m).map(|p| sentence.0 + p + m.len()))
            .max()
            .unwrap_or(sentence.0);
        let rest = &text[j..sentence.1];
        let stop = rest.find([',', ';', '(']).unwrap_or(rest.len()).min(60);
        let mut stop = stop.min(rest.len());
        while !rest.is_char_boundary(stop) {
            stop -= 1;
        }
        let after_end = j + rest[..stop].trim_end().trim_end_matches('.').len();
        out.push(Figure { value, money, sentence, before: (clause_start.min(i), i), after: (j, after_end.max(j)) });
        i = j.max(i + 1);
    }
    out
}

/// The unit a text names: hour, month, token, gb, kwh, year, instance... (`None` when none).
fn unit_of(after_lower: &str) -> Option<&'static str> {
    let a = after_lower;
    let units: &[(&[&str], &str)] = &[
        (&["million tokens", "m tokens", "1m tokens", "per token", "tokens", "mtok"], "token"),
        (&["kwh"], "kwh"),
        (&["gb-month", "per gb", "/gb", "gb "], "gb"),
        (&["gpu-hour", "gpu hour", "per hour", "an hour", "/hr", "/hour", "per hr", "hourly", "-hour", " hr"], "hour"),
        (&["per month", "/month", "/mo", "a month", "monthly"], "month"),
        (&["per year", "/year", "/yr", "a year", "annually"], "year"),
        (&["per second", "/s"], "second"),
        (&["per minute", "/min"], "minute"),
    ];
    let mut best: Option<(usize, &str)> = None;
    for (forms, unit) in units {
        for f in *forms {
            if let Some(p) = a.find(f)
                && best.is_none_or(|(bp, _)| p < bp)
            {
                best = Some((p, unit));
            }
        }
    }
    best.map(|b| b.1)
}

/// The unit a field (or, failing that, the objective) asks for.
fn wanted_unit(field_tokens: &[String], objective_lower: &str) -> Option<&'static str> {
    let from_tokens = |t: &[String]| -> Option<&'static str> {
        if has_any(t, &["hour", "hourly", "hr", "hours"]) {
            Some("hour")
        } else if has_any(t, &["month", "monthly", "mo"]) {
            Some("month")
        } else if has_any(t, &["token", "tokens", "mtok", "1m"]) {
            Some("token")
        } else if has_any(t, &["kwh"]) {
            Some("kwh")
        } else if has_any(t, &["gb"]) {
            Some("gb")
        } else if has_any(t, &["year", "yearly", "annual", "annually"]) {
            Some("year")
        } else {
            None
        }
    };
    from_tokens(field_tokens).or_else(|| {
        let o = objective_lower;
        if o.contains("per hour") || o.contains("hourly") || o.contains("an hour") || o.contains("/hr") {
            Some("hour")
        } else if o.contains("per month") || o.contains("monthly") {
            Some("month")
        } else if o.contains("per token") || o.contains("million tokens") {
            Some("token")
        } else {
            None
        }
    })
}

const MONEY: &[&str] = &[
    "price", "prices", "pricing", "cost", "costs", "usd", "eur", "dollar", "dollars", "fee", "fees", "rate", "spend",
    "cheapest", "paid",
];

/// The best figure of `text` for a numeric field, with the quote stating it.
fn best_figure(text: &str, field_tokens: &[String], ctx: &Ctx<'_>) -> Option<(f64, String)> {
    let money = has_any(field_tokens, MONEY) || (field_tokens.is_empty() && ctx.objective_money);
    let unit = wanted_unit(field_tokens, &ctx.objective_lower);
    let mut entities: Vec<String> = entity_tokens(&field_tokens.join(" "));
    if entities.is_empty() {
        entities = ctx.entities.clone();
    }
    let lower = text.to_lowercase();
    let on_demand = ctx.objective_lower.contains("on-demand") || ctx.objective_lower.contains("on demand");
    let mut best: Option<(i32, f64, String)> = None;
    for f in figures(text) {
        if money && !f.money {
            continue;
        }
        // Lowercased per slice: lowercasing can change byte lengths outside ASCII.
        let after = &text[f.after.0..f.after.1].to_lowercase();
        let got = unit_of(after);
        if let Some(u) = unit
            && got.is_some_and(|g| g != u)
        {
            continue;
        }
        let sentence = &text[f.sentence.0..f.sentence.1].to_lowercase();
        let before = &text[f.before.0..f.before.1].to_lowercase();
        // About the entity asked for: said in the sentence, or the page is about it and the
        // sentence names no other model (`A100`, `70B`).
        let mut score = 0;
        if !entities.is_empty() {
            if entities.iter().any(|e| contains_word(sentence, e)) {
                score += 1;
            } else if entity_tokens(sentence).is_empty() && entities.iter().any(|e| contains_word(&lower, e)) {
                score -= 1;
            } else {
                continue;
            }
        }
        if unit.is_some() && got == unit {
            score += 2;
        }
        if unit.is_some() && got.is_none() {
            score -= 1;
        }
        if entities.iter().any(|e| contains_word(before, e)) {
            score += 2;
        }
        for bundle in ["instance", "node", "server", "cluster", "8x", "8 gpus"] {
            if after.contains(bundle) {
                score -= 3;
            }
        }
        if after.contains("per gpu") || after.contains("gpu-hour") {
            score += 1;
        }
        if before.trim_end().ends_with("from") || before.contains("starting") || before.contains(" as low as") {
            score -= 1;
        }
        if on_demand {
            for cheaper in ["spot", "reserved", "community", "savings", "discount", "committed"] {
                if sentence.contains(cheaper) && !before.contains("on-demand") {
                    score -= 1;
                }
            }
        }
        for t in field_tokens.iter().filter(|t| t.len() > 2 && !["usd", "per", "price"].contains(&t.as_str())) {
            if contains_word(sentence, t) {
                score += 1;
            }
        }
        // The quote: the sentence up to the unit; long sentences start at the clause.
        let start = if f.after.1 - f.sentence.0 > 160 { f.before.0 } else { f.sentence.0 };
        let quote = text[start..f.after.1].trim().to_string();
        if best.as_ref().is_none_or(|b| score > b.0) {
            best = Some((score, f.value, quote));
        }
    }
    best.map(|b| (b.1, b.2))
}

/// Labelled prices of a text (`NVIDIA H100 SXM: $2.49 per GPU-hour` → ("NVIDIA H100 SXM", 2.49)),
/// each with its quote. The label is the few words before the price in its clause (filler such
/// as "which is" or "from" dropped), else the start of the sentence; a label seen before gets
/// the price's unit appended.
pub fn labelled_prices(text: &str) -> Vec<(String, f64, String)> {
    const FILLER: &[&str] = &[
        "which", "is", "are", "from", "at", "to", "about", "of", "for", "costs", "cost", "just", "only", "or", "and",
        "$",
    ];
    let clean = |s: &str| -> String {
        let mut words: Vec<&str> = s.split_whitespace().collect();
        while words
            .last()
            .is_some_and(|w| FILLER.contains(&w.trim_end_matches([':', ',', '-']).to_lowercase().as_str()))
        {
            words.pop();
        }
        while words.first().is_some_and(|w| FILLER.contains(&w.to_lowercase().as_str())) {
            words.remove(0);
        }
        let words = &words[words.len().saturating_sub(5)..];
        words.join(" ").trim_end_matches([':', '-', ',']).trim().to_string()
    };
    let mut out: Vec<(String, f64, String)> = Vec::new();
    for f in figures(text).into_iter().filter(|f| f.money) {
        let upto = text[f.sentence.0..f.before.1].trim_end().trim_end_matches('$').trim_end_matches("USD").trim_end();
        let cut = upto.rfind([',', ';']);
        let clause = cut.map(|p| &upto[p + 1..]).unwrap_or(upto);
        let mut label = clean(clause);
        // "H100 HGX node, per GPU: $4.25": the clause qualifies the one before it.
        if let Some(p) = cut
            && label.to_lowercase().starts_with("per ")
        {
            let prev = upto[..p].rsplit([',', ';']).next().unwrap_or_default();
            label = clean(&format!("{prev} {label}"));
        }
        if label.is_empty() || label.chars().any(|c| c.is_ascii_digit()) && label.contains('$') {
            // The clause says nothing: the sentence's first words before any figure.
            let head = upto.split('$').next().unwrap_or_default();
            label = clean(head.split([',', ';']).next().unwrap_or_default());
        }
        let unit = text[f.after.0..f.after.1].trim().to_string();
        if label.is_empty() {
            label = if unit.is_empty() { format!("price_{}", out.len() + 1) } else { unit.clone() };
        }
        if out.iter().any(|(l, _, _)| *l == label) && !unit.is_empty() {
            label = format!("{label} ({unit})");
        }
        let quote = text[f.before.0.min(f.sentence.0.max(f.before.0))..f.after.1].trim().to_string();
        if !out.iter().any(|(l, _, _)| *l == label) {
            out.push((label, f.value, quote));
        }
    }
    out
}

/// A short display name for a source from its page title ("Lambda Cloud GPU pricing" → "Lambda Cloud").
pub fn source_name(title_or_url: &str) -> String {
    let t = title_or_url.replace("(simulated)", "");
    let t = t.split([':', '|', '—']).next().unwrap_or(&t).to_string();
    let lower = t.to_lowercase();
    let cut = [
        " gpu",
        " pricing",
        " prices",
        " price",
        " instance",
        " inference",
        " - ",
        " cloud pricing",
        " plans",
        " rates",
    ]
    .iter()
    .filter_map(|m| lower.find(m))
    .min()
    .unwrap_or(t.len());
    t[..cut].trim().to_string()
}

// ---------------------------------------------------------------------------------------------
// Filling

/// What a field name asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Name,
    Author,
    Url,
    Date,
    Title,
    Text,
    FreeText,
    Platform,
    Other,
}

pub fn role(tokens: &[String]) -> Role {
    let any = |set: &[&str]| has_any(tokens, set);
    if any(&["url", "link", "href", "uri", "website", "permalink", "source"]) {
        Role::Url
    } else if any(&["author", "username", "user", "handle", "account", "poster", "by"]) {
        Role::Author
    } else if any(&["date", "datetime", "time", "timestamp", "posted", "published", "when", "created"]) {
        Role::Date
    } else if any(&["title", "headline"]) {
        Role::Title
    } else if any(&[
        "rationale",
        "summary",
        "analysis",
        "description",
        "explanation",
        "reasoning",
        "recommendation",
        "overview",
        "conclusion",
        "notes",
        "insight",
        "justification",
        "reason",
    ]) {
        Role::FreeText
    } else if any(&["text", "content", "post", "quote", "excerpt", "snippet", "body", "message", "tweet", "comment"]) {
        Role::Text
    } else if any(&["platform", "network", "site"]) {
        Role::Platform
    } else if any(&[
        "name",
        "provider",
        "company",
        "vendor",
        "competitor",
        "entity",
        "brand",
        "organization",
        "organisation",
        "org",
        "service",
        "product",
        "cloud",
        "seller",
        "retailer",
        "store",
        "manufacturer",
        "model",
        "tool",
        "project",
    ]) {
        Role::Name
    } else {
        Role::Other
    }
}

fn schema_type(s: &Value) -> &str {
    match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if s.get("properties").is_some() => "object",
        _ if s.get("items").is_some() => "array",
        _ if s.get("enum").is_some() => "enum",
        _ => "string",
    }
}

fn required(s: &Value) -> BTreeSet<String> {
    s.get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// Everything a fill needs.
struct Ctx<'a> {
    records: Vec<&'a Record>,
    objective_lower: String,
    keywords: Vec<String>,
    entities: Vec<String>,
    objective_money: bool,
}

/// A filled value and the citations of its leaves (paths relative to the value).
type Filled = (Value, Vec<Citation>);

fn cite(path: &str, receipt: usize, pointer: &str, quote: &str) -> Citation {
    Citation { path: path.to_string(), receipt, pointer: pointer.to_string(), quote: quote.to_string() }
}

fn rebase(cites: Vec<Citation>, prefix: &str) -> Vec<Citation> {
    cites
        .into_iter()
        .map(|mut c| {
            c.path = format!("{prefix}{}", c.path);
            c
        })
        .collect()
}

fn escape(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// The entity a record is about: its title shortened to a name, found (case-insensitively) in
/// its own text; the text's spelling is returned with the quote.
fn record_name(r: &Record) -> Option<(String, String)> {
    let title = r.title.as_ref()?;
    let name = source_name(&title.value);
    if name.len() < 2 || name.split_whitespace().count() > 5 {
        return None;
    }
    // A publication (a market report, a roundup, a comparison) is about others, not an entity.
    const PUBLICATION: &[&str] = &[
        "report",
        "survey",
        "roundup",
        "review",
        "analysis",
        "comparison",
        "compare",
        "guide",
        "news",
        "index",
        "study",
        "benchmark",
        "outlook",
        "market",
        "blog",
        "newsletter",
        "digest",
        "overview",
    ];
    if name.split(|c: char| !c.is_alphanumeric()).any(|w| PUBLICATION.contains(&w.to_lowercase().as_str())) {
        return None;
    }
    let lower_text = r.text.value.to_lowercase();
    let lower_name = name.to_lowercase();
    let at = lower_text.find(&lower_name)?;
    // Whole words only.
    let before_ok = at == 0 || !lower_text[..at].chars().last().is_some_and(char::is_alphanumeric);
    let end = at + lower_name.len();
    let after_ok = end >= lower_text.len() || !lower_text[end..].chars().next().is_some_and(char::is_alphanumeric);
    if !(before_ok && after_ok && r.text.value.is_char_boundary(at) && r.text.value.is_char_boundary(end)) {
        return None;
    }
    let spelled = r.text.value[at..end].to_string();
    Some((spelled.clone(), spelled))
}

/// The sentence of a record most relevant to `tokens` (and the objective), with its score.
fn best_sentence(r: &Record, tokens: &[String], ctx: &Ctx<'_>) -> Option<(i32, String)> {
    let text = &r.text.value;
    let mut best: Option<(i32, String)> = None;
    for (s, e) in sentences(text) {
        let sent = &text[s..e];
        if sent.chars().count() < 20 {
            continue;
        }
        let st = stems(sent);
        let kw = ctx.keywords.iter().filter(|k| st.contains(*k)).count() as i32;
        let fw = tokens.iter().filter(|t| t.len() > 3 && st.contains(&stem(t))).count() as i32;
        let score = kw + 2 * fw;
        if best.as_ref().is_none_or(|b| score > b.0) {
            best = Some((score, sent.to_string()));
        }
    }
    best
}

fn from_field(f: &Option<Field>, receipt: usize) -> Option<Filled> {
    let f = f.as_ref()?;
    Some((json!(f.value), vec![cite("", receipt, &f.pointer, &f.value)]))
}

/// Fill a leaf or a dict for one record (inside a list item).
fn fill_for_record(schema: &Value, name: &str, r: &Record, ctx: &Ctx<'_>) -> Option<Filled> {
    let tokens = name_tokens(name);
    let ty = schema_type(schema);
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        return enum_in(allowed, &tokens, std::slice::from_ref(&r), ctx);
    }
    match ty {
        "number" | "integer" => {
            let (v, quote) = best_figure(&r.text.value, &tokens, ctx)?;
            let value = if ty == "integer" {
                if v.fract() != 0.0 {
                    return None;
                }
                json!(v as i64)
            } else {
                json!(v)
            };
            Some((value, vec![cite("", r.receipt, &r.text.pointer, &quote)]))
        }
        "object" if schema.get("properties").and_then(Value::as_object).is_none_or(|p| p.is_empty()) => {
            // A free-form dict: the record's labelled prices.
            let mut m = Map::new();
            let mut cites = Vec::new();
            for (label, v, quote) in labelled_prices(&r.text.value) {
                cites.push(cite(&format!("/{}", escape(&label)), r.receipt, &r.text.pointer, &quote));
                m.insert(label, json!(v));
            }
            if m.is_empty() { None } else { Some((Value::Object(m), cites)) }
        }
        "object" => fill_object(schema, ctx, Some(r)).ok().flatten(),
        "string" => match role(&tokens) {
            Role::Url => from_field(&r.url, r.receipt),
            Role::Date => from_field(&r.date, r.receipt),
            Role::Author => from_field(&r.author, r.receipt),
            Role::Title => from_field(&r.title, r.receipt).filter(|_| r.kind != RecordKind::Post),
            Role::Name => {
                if r.kind == RecordKind::Post {
                    return None;
                }
                let (v, q) = record_name(r)?;
                Some((json!(v), vec![cite("", r.receipt, &r.text.pointer, &q)]))
            }
            Role::Text => {
                let text = if r.kind == RecordKind::Post || r.text.value.chars().count() <= 300 {
                    r.text.value.clone()
                } else {
                    best_sentence(r, &tokens, ctx)?.1
                };
                Some((json!(text), vec![cite("", r.receipt, &r.text.pointer, &text)]))
            }
            Role::FreeText => {
                let (_, s) = best_sentence(r, &tokens, ctx)?;
                Some((json!(s), vec![cite("", r.receipt, &r.text.pointer, &s)]))
            }
            Role::Platform | Role::Other => None,
        },
        _ => None,
    }
}

/// An enum value stated by a relevant sentence that is about the field (e.g. a sentence with
/// "sentiment" and "positive").
fn enum_in(allowed: &[Value], tokens: &[String], recs: &[&Record], ctx: &Ctx<'_>) -> Option<Filled> {
    let topic: Vec<String> = tokens.iter().filter(|t| t.len() > 3).map(|t| stem(t)).collect();
    for r in recs {
        let text = &r.text.value;
        for (s, e) in sentences(text) {
            let sent = &text[s..e];
            let lower = sent.to_lowercase();
            let st = stems(sent);
            if !topic.is_empty() && !topic.iter().any(|t| st.contains(t)) {
                continue;
            }
            if !ctx.keywords.iter().any(|k| st.contains(k)) {
                continue;
            }
            let hits: Vec<&Value> = allowed
                .iter()
                .filter(|v| v.as_str().is_some_and(|v| contains_word(&lower, &v.to_lowercase())))
                .collect();
            if let [one] = hits.as_slice() {
                return Some(((*one).clone(), vec![cite("", r.receipt, &r.text.pointer, sent)]));
            }
        }
    }
    None
}

/// Which records a list of `items` (named `name`) is made of.
fn records_for_list<'a>(items: &Value, name: &str, ctx: &Ctx<'a>) -> Vec<&'a Record> {
    let list_tokens = name_tokens(name);
    let item_tokens: Vec<String> = items
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().flat_map(|k| name_tokens(k)).collect())
        .unwrap_or_default();
    let social = has_any(
        &list_tokens,
        &[
            "mentions",
            "mention",
            "posts",
            "post",
            "tweets",
            "tweet",
            "comments",
            "comment",
            "reviews",
            "opinions",
            "discussions",
            "threads",
            "reactions",
        ],
    ) || has_any(&item_tokens, &["author", "username", "handle", "tweet", "user"]);
    let entity = item_tokens.iter().any(|t| role(std::slice::from_ref(t)) == Role::Name);
    ctx.records
        .iter()
        .copied()
        .filter(|r| {
            if social {
                r.kind == RecordKind::Post
            } else if entity {
                r.kind != RecordKind::Post
            } else {
                true
            }
        })
        .collect()
}

fn fill_list(schema: &Value, name: &str, ctx: &Ctx<'_>) -> Option<Filled> {
    let items = schema.get("items").cloned().unwrap_or(json!({"type": "string"}));
    let max = schema.get("maxItems").and_then(Value::as_u64).unwrap_or(20) as usize;
    let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
    let recs = records_for_list(&items, name, ctx);
    let mut out: Vec<Value> = Vec::new();
    let mut cites = Vec::new();
    let mut seen = BTreeSet::new();
    for r in recs {
        if out.len() >= max {
            break;
        }
        // A list of strings is a list of what its name asks for (`sources` → URLs).
        let filled = if schema_type(&items) == "object" {
            fill_object(&items, ctx, Some(r)).ok().flatten()
        } else {
            let singular = name.trim_end_matches('s');
            fill_for_record(&items, singular, r, ctx)
        };
        let Some((v, c)) = filled else { continue };
        let key = item_key(&v);
        if !seen.insert(key) {
            continue;
        }
        cites.extend(rebase(c, &format!("/{}", out.len())));
        out.push(v);
    }
    if out.len() < min {
        return None;
    }
    Some((Value::Array(out), cites))
}

/// What makes two items the same: their name-like field, else the whole value.
fn item_key(v: &Value) -> String {
    if let Some(m) = v.as_object() {
        for (k, x) in m {
            if role(&name_tokens(k)) == Role::Name
                && let Some(s) = x.as_str()
            {
                return orchestra_proto::extract::normalize(s);
            }
        }
    }
    v.to_string()
}

/// Direction a field name or the objective asks for: `Some(true)` = smallest, `Some(false)` =
/// largest.
fn direction(tokens: &[String], objective_lower: &str) -> Option<bool> {
    let low = ["cheapest", "lowest", "least", "min", "minimum", "smallest", "fastest", "cheaper"];
    let high = ["highest", "most", "max", "maximum", "largest", "priciest", "expensive", "biggest", "top"];
    if has_any(tokens, &low) {
        Some(true)
    } else if has_any(tokens, &high) {
        Some(false)
    } else {
        let o: Vec<String> = objective_lower.split(|c: char| !c.is_alphanumeric()).map(str::to_string).collect();
        if has_any(&o, &low) {
            Some(true)
        } else if has_any(&o, &high) {
            Some(false)
        } else {
            None
        }
    }
}

/// Items of the lists filled so far, as (name value + citation, number value + citation).
fn ranked_items(filled: &Map<String, Value>, cites: &[Citation]) -> Vec<(Value, Citation, f64, Citation)> {
    let mut out = Vec::new();
    for (k, v) in filled {
        let Some(items) = v.as_array() else { continue };
        for (i, it) in items.iter().enumerate() {
            let Some(m) = it.as_object() else { continue };
            let base = format!("/{}/{i}/", escape(k));
            let mut name = None;
            let mut num = None;
            for (fk, fv) in m {
                let path = format!("{base}{}", escape(fk));
                let c = cites.iter().find(|c| c.path == path);
                match (fv, c) {
                    (Value::String(_), Some(c)) if role(&name_tokens(fk)) == Role::Name && name.is_none() => {
                        name = Some((fv.clone(), c.clone()))
                    }
                    (Value::Number(n), Some(c)) if num.is_none() => num = n.as_f64().map(|x| (x, c.clone())),
                    _ => {}
                }
            }
            if let (Some((nv, nc)), Some((x, xc))) = (name, num) {
                out.push((nv, nc, x, xc));
            }
        }
    }
    out
}

/// Fill an object. `current` is the record a list item is about. `Ok(None)`: a required field
/// could not be filled (the item is skipped); at the top level that is an `Err` naming it.
fn fill_object(schema: &Value, ctx: &Ctx<'_>, current: Option<&Record>) -> Result<Option<Filled>, String> {
    let props = schema.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
    let req = required(schema);
    let mut m = Map::new();
    let mut cites: Vec<Citation> = Vec::new();
    // Two passes: lists and plain fields first, then fields that compare the lists' items.
    let compares = |k: &str, s: &Value| {
        current.is_none() && matches!(schema_type(s), "string" | "number" | "integer") && s.get("enum").is_none() && {
            let t = name_tokens(k);
            direction(&t, "").is_some() || (schema_type(s) != "string" && role(&t) != Role::Text)
        }
    };
    for pass in 0..2 {
        for (k, sub) in &props {
            if (pass == 0) == compares(k, sub) {
                continue;
            }
            let filled = match current {
                Some(r) => fill_for_record(sub, k, r, ctx),
                None if pass == 1 => match fill_compare(sub, k, &m, &cites, ctx) {
                    Some(x) => Some(x),
                    None if schema_type(sub) != "string" => fill_top(sub, k, ctx)?,
                    None => None,
                },
                None => fill_top(sub, k, ctx)?,
            };
            match filled {
                Some((v, c)) => {
                    cites.extend(rebase(c, &format!("/{}", escape(k))));
                    m.insert(k.clone(), v);
                }
                None if req.contains(k) => {
                    return match current {
                        Some(_) => Ok(None),
                        None => Err(k.clone()),
                    };
                }
                None => {}
            }
        }
    }
    if current.is_some() {
        // An item must say what it is about: its name (for a list of entities) or its text
        // (for a list of posts), when the schema has such a field.
        let missing = |want: Role| props.keys().any(|k| role(&name_tokens(k)) == want && !m.contains_key(k));
        if m.is_empty() || missing(Role::Name) || missing(Role::Text) {
            return Ok(None);
        }
    }
    Ok(Some((Value::Object(m), cites)))
}

/// A top-level field that compares list items (`cheapest`, `lowest_price`, `price_point`).
fn fill_compare(
    schema: &Value,
    name: &str,
    filled: &Map<String, Value>,
    cites: &[Citation],
    ctx: &Ctx<'_>,
) -> Option<Filled> {
    let tokens = name_tokens(name);
    let mut items = ranked_items(filled, cites);
    let dir = direction(&tokens, &ctx.objective_lower);
    if items.is_empty() {
        return None;
    }
    items.sort_by(|a, b| a.2.total_cmp(&b.2));
    let pick = match dir {
        Some(true) => items.first(),
        Some(false) => items.last(),
        // A representative figure: the lower median of the items'.
        None if schema_type(schema) != "string" => items.get((items.len() - 1) / 2),
        None => None,
    }?;
    let (nv, nc, x, xc) = pick;
    if schema_type(schema) == "string" {
        Some((nv.clone(), vec![Citation { path: String::new(), ..nc.clone() }]))
    } else {
        let v = if schema_type(schema) == "integer" { json!(x.round() as i64) } else { json!(x) };
        if schema_type(schema) == "integer" && x.fract() != 0.0 {
            return None;
        }
        Some((v, vec![Citation { path: String::new(), ..xc.clone() }]))
    }
}

/// A field outside any list item.
fn fill_top(schema: &Value, name: &str, ctx: &Ctx<'_>) -> Result<Option<Filled>, String> {
    let tokens = name_tokens(name);
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        return Ok(enum_in(allowed, &tokens, &ctx.records, ctx));
    }
    Ok(match schema_type(schema) {
        "array" => fill_list(schema, name, ctx),
        "object" if schema.get("properties").and_then(Value::as_object).is_some_and(|p| !p.is_empty()) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let about_one = props.is_some_and(|p| p.keys().any(|k| role(&name_tokens(k)) == Role::Name));
            if about_one {
                // One entity chosen among the records (`{provider, price}` for "which is cheapest?").
                let mut cands: Vec<(f64, Filled)> = ctx
                    .records
                    .iter()
                    .filter_map(|r| fill_object(schema, ctx, Some(r)).ok().flatten())
                    .map(|(v, c)| {
                        let x = v.as_object().and_then(|m| m.values().find_map(Value::as_f64)).unwrap_or(f64::NAN);
                        (x, (v, c))
                    })
                    .collect();
                if let Some(low) = direction(&tokens, &ctx.objective_lower) {
                    cands.retain(|c| !c.0.is_nan());
                    cands.sort_by(|a, b| a.0.total_cmp(&b.0));
                    if !low {
                        cands.reverse();
                    }
                }
                cands.into_iter().next().map(|c| c.1)
            } else {
                match fill_object(schema, ctx, None) {
                    Ok(x) => x,
                    Err(k) => return Err(format!("{}/{k}", escape(name))),
                }
            }
        }
        "object" => {
            // A free-form dict at the top: every relevant record's labelled prices.
            let mut m = Map::new();
            let mut cites = Vec::new();
            for r in &ctx.records {
                let who = r.title.as_ref().map(|t| source_name(&t.value)).unwrap_or_default();
                for (label, v, quote) in labelled_prices(&r.text.value) {
                    let key = if who.is_empty() { label } else { format!("{who}: {label}") };
                    if m.contains_key(&key) {
                        continue;
                    }
                    cites.push(cite(&format!("/{}", escape(&key)), r.receipt, &r.text.pointer, &quote));
                    m.insert(key, json!(v));
                }
            }
            if m.is_empty() { None } else { Some((Value::Object(m), cites)) }
        }
        "string" if role(&tokens) == Role::FreeText || role(&tokens) == Role::Text => {
            let mut best: Option<(i32, &Record, String)> = None;
            for r in &ctx.records {
                if let Some((score, s)) = best_sentence(r, &tokens, ctx)
                    && best.as_ref().is_none_or(|b| score > b.0)
                {
                    best = Some((score, r, s));
                }
            }
            best.filter(|b| b.0 >= 2).map(|(_, r, s)| (json!(s), vec![cite("", r.receipt, &r.text.pointer, &s)]))
        }
        "number" | "integer" => {
            // A figure with no list to choose among: the best one over the records.
            let mut best: Option<(f64, Citation)> = None;
            for r in &ctx.records {
                if let Some((v, q)) = best_figure(&r.text.value, &tokens, ctx) {
                    best = Some((v, cite("", r.receipt, &r.text.pointer, &q)));
                    break;
                }
            }
            best.and_then(|(v, c)| {
                if schema_type(schema) == "integer" {
                    (v.fract() == 0.0).then(|| (json!(v as i64), vec![c]))
                } else {
                    Some((json!(v), vec![c]))
                }
            })
        }
        _ => None,
    })
}

/// Records relevant to the objective: they share enough of its keywords.
fn relevant<'a>(records: &'a [Record], keywords: &[String]) -> Vec<&'a Record> {
    let score = |r: &Record| {
        let mut text = r.text.value.clone();
        if let Some(t) = &r.title {
            text.push(' ');
            text.push_str(&t.value);
        }
        let st = stems(&text);
        keywords.iter().filter(|k| st.contains(*k)).count()
    };
    let scored: Vec<(usize, &Record)> = records.iter().map(|r| (score(r), r)).collect();
    let best = scored.iter().map(|s| s.0).max().unwrap_or(0);
    // Off-topic pages share (almost) nothing with the objective; relevant ones at least a
    // third as much as the best page.
    let floor = (best / 3).clamp(1, 2);
    let mut keep: Vec<(usize, &Record)> = scored.into_iter().filter(|s| s.0 >= floor).collect();
    keep.sort_by_key(|s| std::cmp::Reverse(s.0));
    keep.into_iter().map(|s| s.1).collect()
}

/// Fill `schema` for `objective` from `records`; every filled leaf is cited. A required field
/// that the evidence does not support is an error naming it.
pub fn fill(objective: &str, schema: &Value, records: &[Record]) -> Result<(Value, Vec<Citation>), MinerError> {
    let keywords: Vec<String> = crate::planner::social_keywords(objective, 16).iter().map(|w| stem(w)).collect();
    let objective_lower = objective.to_lowercase();
    let ctx = Ctx {
        records: relevant(records, &keywords),
        entities: entity_tokens(objective),
        objective_money: ["price", "cost", "cheapest", "usd", "$", "expensive"]
            .iter()
            .any(|w| objective_lower.contains(w)),
        objective_lower,
        keywords,
    };
    let filled = if schema_type(schema) == "object" && schema.get("properties").is_some() {
        fill_object(schema, &ctx, None).map_err(|k| {
            MinerError::Synth(format!(
                "required field `/{k}` cannot be filled from the evidence ({} relevant of {} records; no LLM answer)",
                ctx.records.len(),
                records.len()
            ))
        })?
    } else {
        fill_top(schema, "", &ctx).map_err(|k| MinerError::Synth(format!("required field `/{k}` cannot be filled")))?
    };
    let (value, cites) =
        filled.ok_or_else(|| MinerError::Synth("nothing in the evidence fills the target schema".into()))?;
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| MinerError::BadRequest(format!("target_schema is not a valid JSON Schema: {e}")))?;
    let errors: Vec<String> =
        validator.iter_errors(&value).take(5).map(|e| format!("{e} at `{}`", e.instance_path())).collect();
    if !errors.is_empty() {
        return Err(MinerError::Synth(format!("the evidence does not fill the schema: {}", errors.join("; "))));
    }
    Ok((value, cites))
}

/// Group citations by path (for lookups).
pub fn by_path(cites: &[Citation]) -> BTreeMap<String, Vec<Citation>> {
    let mut m: BTreeMap<String, Vec<Citation>> = BTreeMap::new();
    for c in cites {
        m.entry(c.path.clone()).or_default().push(c.clone());
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(receipt: usize, title: &str, url: &str, text: &str) -> Record {
        Record {
            receipt,
            kind: RecordKind::Page,
            text: Field { pointer: "/data/0/content".into(), value: text.into() },
            url: Some(Field { pointer: "/data/0/uri".into(), value: url.into() }),
            title: Some(Field { pointer: "/data/0/label".into(), value: title.into() }),
            date: None,
            author: None,
        }
    }

    #[test]
    fn figures_skip_model_names_and_keep_units() {
        let t = "Amazon EC2 P5 instances with 8 NVIDIA H100 GPUs. On-demand price $55.04 per hour per instance, \
which is $6.88 per GPU-hour. Savings Plans reduce this by up to 45%.";
        let f = figures(t);
        let vals: Vec<f64> = f.iter().map(|x| x.value).collect();
        assert_eq!(vals, vec![8.0, 55.04, 6.88, 45.0]);
        assert!(f[1].money && !f[0].money);
        assert_eq!(&t[f[2].after.0..f[2].after.1], " per GPU-hour");
    }

    #[test]
    fn dict_labels() {
        let l = |t: &str| labelled_prices(t).into_iter().map(|(l, v, _)| (l, v)).collect::<Vec<_>>();
        assert_eq!(
            l(
                "Lambda Cloud on-demand pricing. NVIDIA H100 SXM: $2.49 per GPU-hour. NVIDIA A100 80GB: $1.29 per GPU-hour."
            ),
            vec![("NVIDIA H100 SXM".to_string(), 2.49), ("NVIDIA A100 80GB".to_string(), 1.29)]
        );
        assert_eq!(
            l("On-demand price $55.04 per hour per instance, which is $6.88 per GPU-hour."),
            vec![("On-demand price".to_string(), 55.04), ("On-demand price (per GPU-hour)".to_string(), 6.88)]
        );
        assert_eq!(l("community cloud from $1.99 per GPU-hour for H100")[0].0, "community cloud");
        assert_eq!(l("NVIDIA H100 HGX node, per GPU: $4.25 per GPU-hour.")[0].0, "H100 HGX node per GPU");
    }

    #[test]
    fn non_ascii_text_does_not_break_figures() {
        let recs = vec![page(
            0,
            "İstanbul Cloud GPU pricing",
            "https://i",
            "İİİ İstanbul Cloud: NVIDIA H100 für €2,10 pro Stunde; H100 $2.49 per hour.",
        )];
        let schema = json!({"type": "object", "properties": {"price_usd_per_hour": {"type": "number"}}});
        let (v, _) = fill("H100 price per hour", &schema, &recs).expect("fill");
        assert_eq!(v["price_usd_per_hour"], json!(2.49));
    }

    #[test]
    fn names() {
        assert_eq!(source_name("Lambda Cloud GPU pricing (simulated)"), "Lambda Cloud");
        assert_eq!(source_name("Amazon EC2 P5 instances pricing (simulated)"), "Amazon EC2 P5");
        assert_eq!(source_name("Together AI inference pricing (simulated)"), "Together AI");
        assert_eq!(name_tokens("h100_usd_per_hour"), vec!["h100", "usd", "per", "hour"]);
        assert_eq!(name_tokens("overallSentiment"), vec!["overall", "sentiment"]);
    }

    #[test]
    fn h100_prices_per_gpu_hour_and_the_cheapest() {
        let recs = vec![
            page(
                1,
                "Lambda Cloud GPU pricing",
                "https://l",
                "Lambda Cloud on-demand pricing. NVIDIA H100 SXM: $2.49 per GPU-hour. NVIDIA A100 80GB: $1.29 per GPU-hour.",
            ),
            page(
                2,
                "Amazon EC2 P5 instances pricing",
                "https://a",
                "Amazon EC2 P5 instances with 8 NVIDIA H100 GPUs. On-demand price $55.04 per hour per instance, which is $6.88 per GPU-hour.",
            ),
            page(
                3,
                "Together AI inference pricing",
                "https://t",
                "Together AI serverless inference. Llama 3.1 70B: $0.88 per million tokens. Dedicated endpoints on H100 from $3.36 per GPU-hour.",
            ),
            page(
                4,
                "GPU cloud market report 2026",
                "https://r",
                "Median on-demand H100 price across neoclouds fell to about $2.80 per GPU-hour in 2026.",
            ),
        ];
        let schema = orchestra_proto::shorthand::to_json_schema(&json!({
            "providers": [{"provider": "str", "h100_usd_per_hour": "float"}], "cheapest": "str"}))
        .expect("schema");
        let q = "Which cloud provider rents an NVIDIA H100 for the lowest on-demand price per hour? List each provider's H100 hourly price.";
        let (v, cites) = fill(q, &schema, &recs).expect("fill");
        let got: Vec<(String, f64)> = v["providers"]
            .as_array()
            .expect("list")
            .iter()
            .map(|p| (p["provider"].as_str().expect("s").to_string(), p["h100_usd_per_hour"].as_f64().expect("n")))
            .collect();
        assert_eq!(
            got,
            vec![("Lambda Cloud".into(), 2.49), ("Amazon EC2 P5".into(), 6.88), ("Together AI".into(), 3.36)]
        );
        assert_eq!(v["cheapest"], json!("Lambda Cloud"));
        // Every leaf is cited, and every citation checks against its record's body.
        for (path, _) in orchestra_proto::extract::leaves(&v) {
            assert!(cites.iter().any(|c| c.path == path), "{path} uncited");
        }
        for c in &cites {
            let r = recs.iter().find(|r| r.receipt == c.receipt).expect("rec");
            let body = json!({"data": [{"content": r.text.value, "uri": r.url.as_ref().expect("u").value, "label": r.title.as_ref().expect("t").value}]});
            orchestra_proto::extract::check_citation(&v, c, &body).expect("citation checks");
        }
    }

    #[test]
    fn enums_are_never_filled_with_other_text_and_required_gaps_fail() {
        let recs = vec![page(0, "GPU report", "https://r", "H100 prices fell to $2.80 per GPU-hour across neoclouds.")];
        let schema = json!({"type": "object", "required": ["mentions"], "properties": {
            "overall_sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
            "mentions": {"type": "array", "items": {"type": "object", "required": ["text"], "properties": {
                "author": {"type": "string"}, "text": {"type": "string"}}}}}});
        let (v, cites) =
            fill("What do people say about GPU prices? Give the overall sentiment.", &schema, &recs).expect("fill");
        assert_eq!(v, json!({"mentions": []}), "no posts: no mentions, no sentiment");
        assert!(cites.is_empty());
        let strict = json!({"type": "object", "required": ["overall_sentiment"], "properties": {
            "overall_sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]}}});
        let e = fill("What do people say about GPU prices?", &strict, &recs).expect_err("required enum");
        assert!(e.to_string().contains("overall_sentiment"), "{e}");
    }
}
