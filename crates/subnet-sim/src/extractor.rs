//! The SIMULATED LLM's extraction: a faithful extractor limited to its prompt.
//!
//! Given an [`ExtractionRequest`] (objective, JSON Schema, documents), it fills the schema from
//! the world's facts and posts **whose quote (or text) appears in the documents** and cites, for
//! every leaf, the document it read the value from. It never uses a fact whose quote is absent
//! from the prompt: a miner that fetched the wrong pages gets an empty or partial answer.
//!
//! The schema is filled generically (schemas and objectives are arbitrary):
//! - an array of objects is one item per relevant entity (domain and entity type chosen by word
//!   overlap with the objective, the array's name and the item's properties), or one item per
//!   relevant post when the items look like posts (text plus author/url/date);
//! - in an item, the entity-name property gets the entity, other properties the attribute whose
//!   name and unit best match the property name and the objective (per-unit prices are preferred
//!   over instance totals, spot, subscription and median figures unless asked for);
//! - a property named like a superlative (`cheapest`, `largest`, `most_expensive`, `newest`)
//!   gets the entity (string) or value (number) at the extreme of the attribute the objective is
//!   about; a sentiment-like string gets the majority sentiment of the relevant posts
//!   (`neutral` on a tie), within its `enum`;
//! - posts are filtered by the objective's topic, platforms (`X`, `Reddit`) and time
//!   (`this month`, `this week`, `last month`, `past 30 days`, `November 2026`, read against
//!   the world's `today`);
//! - fields it cannot support are left out, required or not.
//!
//! Faults: with probability `error_rate` per cited leaf a number is perturbed or an entity
//! swapped (the citation stays, so a citation check catches it); with probability
//! `hallucination_rate` per left-out field a value is invented without a citation. Rolls are
//! deterministic from the seed and the request, so the same request gets the same answer.

use std::collections::{BTreeMap, BTreeSet};

use orchestra_proto::extract::{Citation, Document, ExtractionAnswer, ExtractionRequest, normalize};
use serde_json::{Map, Value, json};

use crate::faults::roll;
use crate::world::{Fact, FactValue, Post, Sentiment, World};

/// Fault rates of the simulated extractor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExtractOptions {
    /// Seed of the deterministic rolls.
    pub seed: u64,
    /// Share of cited leaves made wrong (number perturbed, entity swapped).
    pub error_rate: f64,
    /// Share of left-out fields filled with an invented, uncited value.
    pub hallucination_rate: f64,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions { seed: 0, error_rate: 0.0, hallucination_rate: 0.0 }
    }
}

// ---------------------------------------------------------------------------------------------
// Words

const STOP: &[&str] = &[
    "the",
    "a",
    "an",
    "of",
    "for",
    "and",
    "or",
    "to",
    "in",
    "on",
    "at",
    "by",
    "with",
    "which",
    "what",
    "who",
    "whom",
    "is",
    "are",
    "was",
    "were",
    "be",
    "does",
    "do",
    "did",
    "each",
    "every",
    "list",
    "give",
    "me",
    "their",
    "its",
    "it",
    "from",
    "this",
    "that",
    "these",
    "those",
    "how",
    "much",
    "many",
    "about",
    "say",
    "says",
    "provide",
    "find",
    "show",
    "rank",
    "compare",
    "across",
    "all",
    "between",
    "currently",
    "current",
    "now",
    "our",
    "we",
    "you",
    "your",
    "i",
    "my",
    "as",
    "than",
    "there",
    "any",
    "some",
    "into",
    "over",
    "please",
    "tell",
    "also",
    "using",
    "use",
    "based",
    "answer",
    "question",
    "one",
    "ones",
    "get",
    "can",
    "could",
    "should",
    "would",
    "will",
    "rent",
    "rents",
    "offer",
    "offers",
    "sell",
    "sells",
    "publicly",
    "public",
    "available",
    "s",
];

/// Words that say how something is asked about rather than what it is about (dropped from a
/// post topic).
const META: &[&str] = &[
    "people",
    "say",
    "saying",
    "said",
    "think",
    "thinking",
    "post",
    "mention",
    "sentiment",
    "overall",
    "give",
    "list",
    "x",
    "twitter",
    "tweet",
    "reddit",
    "month",
    "week",
    "year",
    "today",
    "yesterday",
    "last",
    "past",
    "recent",
    "recently",
    "social",
    "media",
    "user",
    "community",
    "discussion",
    "opinion",
    "feel",
    "feeling",
    "reaction",
    "thread",
    "comment",
    "view",
    "mood",
    "tone",
    "attitude",
    "stance",
    "conversation",
    "online",
    "lately",
    "day",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "summarize",
    "summary",
    "general",
    "main",
    "top",
    "latest",
    "new",
    "talk",
    "talking",
    "platform",
    "developer",
    "engineer",
    "folk",
    "everyone",
    "customer",
    "think",
    "thinks",
    "feel",
    "feels",
    "react",
    "reacting",
    "how",
    "tweet",
    "redditor",
    "week",
    "post",
    "posts",
    "mentions",
    "tweets",
    "users",
    "developers",
    "engineers",
    "folks",
    "customers",
    "opinions",
    "comments",
    "discussions",
    "reactions",
];

fn canon(w: &str) -> String {
    let c = match w {
        "price" | "prices" | "pricing" | "priced" | "cost" | "costs" | "rate" | "rates" | "fee" | "fees" | "usd"
        | "dollar" | "dollars" | "eur" | "spend" | "pay" | "charge" | "charges" | "tariff" => "price",
        "hour" | "hours" | "hourly" | "hr" | "hrs" => "hour",
        "month" | "months" | "monthly" | "mo" => "month",
        "token" | "tokens" | "tok" => "token",
        "licence" | "licences" | "licenses" | "licensing" | "license" => "license",
        "org" | "organisation" | "organization" | "organizations" | "developer" | "developers" | "lab" | "maker"
        | "creator" | "publisher" | "releaser" => "organization",
        "parameters" | "parameter" | "params" | "param" | "size" => "parameter",
        "billion" | "bn" => "billion",
        "released" | "release" | "releases" | "launch" | "launched" | "published" => "release",
        "date" | "dates" | "when" => "date",
        "gpu" | "gpus" => "gpu",
        "contributor" | "contributors" | "participants" | "participant" => "contributor",
        "posts" | "tweets" | "tweet" | "mentions" | "mention" => "post",
        "decentralised" => "decentralized",
        _ => "",
    };
    if !c.is_empty() {
        return c.to_string();
    }
    if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.chars().any(|c| c.is_ascii_digit()) {
        return w[..w.len() - 1].to_string();
    }
    w.to_string()
}

/// Raw lowercase words of `s`.
fn raw_words(s: &str) -> Vec<String> {
    // camelCase and PascalCase split too: `pricePerHour` is `price per hour`.
    let mut spaced = String::with_capacity(s.len() + 8);
    let mut prev: Option<char> = None;
    for c in s.chars() {
        if c.is_uppercase() && prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit()) {
            spaced.push(' ');
        }
        spaced.push(c);
        prev = Some(c);
    }
    spaced.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// Canonical words of `s` without stop words.
fn toks(s: &str) -> BTreeSet<String> {
    raw_words(s).iter().filter(|w| !STOP.contains(&w.as_str())).map(|w| canon(w)).collect()
}

fn has_digit(t: &str) -> bool {
    t.chars().any(|c| c.is_ascii_digit())
}

/// An identifier-like word (`h100`, `70b`, `gpt4`): letters and digits.
fn strong(t: &str) -> bool {
    has_digit(t) && t.chars().any(|c| c.is_alphabetic())
}

/// Words that say little about what a question is about.
const GENERIC: &[&str] = &[
    "price", "per", "hour", "month", "day", "year", "minute", "second", "value", "amount", "number", "total", "name",
    "date", "list", "item", "cheapest", "lowest", "highest", "best", "most", "each", "which", "usd",
];

/// Attribute words that narrow a figure (an instance total, a spot price, a statistic): an
/// attribute carrying one the question does not ask for is a worse match.
const SCOPE: &[&str] = &[
    "instance",
    "node",
    "cluster",
    "server",
    "vm",
    "total",
    "spot",
    "reserved",
    "committed",
    "community",
    "subscription",
    "preemptible",
    "interruptible",
    "median",
    "average",
    "mean",
    "input",
    "output",
    "storage",
    "read",
    "write",
    "unit",
];

/// How well a fact's attribute answers a property (`prop` words) in the light of the objective.
fn attr_score(f: &Fact, prop: &BTreeSet<String>, obj: &BTreeSet<String>) -> i32 {
    let mut a = toks(&f.attribute.replace('_', " "));
    a.extend(toks(&f.unit));
    let pm = prop.intersection(&a).count() as i32;
    let om = obj.intersection(&a).filter(|t| !prop.contains(*t)).count() as i32;
    let asked = |t: &String| prop.contains(t) || obj.contains(t);
    if prop.iter().any(|t| has_digit(t) && !a.contains(t)) {
        // The property names a model or size (`h100_price`) the attribute is not about.
        return -100;
    }
    // A per-month figure does not answer a per-hour property.
    let times = ["hour", "month", "day", "year", "minute", "second", "week"];
    if let Some(t) = prop.iter().find(|t| times.contains(&t.as_str()))
        && !a.contains(t)
        && a.iter().any(|x| times.contains(&x.as_str()))
    {
        return -100;
    }
    let digit_miss = a.iter().filter(|t| has_digit(t) && !asked(t)).count() as i32;
    let scope_miss = a.iter().filter(|t| SCOPE.contains(&t.as_str()) && !asked(t)).count() as i32;
    3 * pm + om - 4 * digit_miss - 2 * scope_miss
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Min,
    Max,
    /// Lowest for prices, highest otherwise.
    Best,
}

/// A superlative among `words` (raw), with words it implies about the attribute.
fn superlative(words: &[String]) -> Option<(Dir, Vec<&'static str>)> {
    let has = |w: &str| words.iter().any(|x| x == w);
    if has("expensive") || has("priciest") || has("costliest") || has("dearest") {
        return Some((Dir::Max, vec!["price"]));
    }
    let mut found: Vec<(Dir, Vec<&'static str>)> = Vec::new();
    for w in words {
        let r = match w.as_str() {
            "cheapest" | "cheaper" | "cheap" | "inexpensive" | "affordable" => (Dir::Min, vec!["price"]),
            "lowest" | "lower" | "least" | "minimum" | "min" | "fewest" | "shortest" => (Dir::Min, vec![]),
            "smallest" | "smaller" => (Dir::Min, vec!["parameter"]),
            "highest" | "higher" | "maximum" | "max" | "most" | "greatest" | "longest" => (Dir::Max, vec![]),
            "largest" | "larger" | "biggest" | "bigger" => (Dir::Max, vec!["parameter"]),
            "fastest" | "quickest" => (Dir::Max, vec!["second"]),
            "newest" | "latest" | "recent" => (Dir::Max, vec!["release", "date"]),
            "oldest" | "earliest" | "first" => (Dir::Min, vec!["release", "date"]),
            "best" | "top" | "recommended" | "winner" | "optimal" => (Dir::Best, vec![]),
            _ => continue,
        };
        found.push(r);
    }
    // "most recent": the word that says what is compared wins over "most".
    let specific = found.iter().position(|f| !f.1.is_empty()).unwrap_or(0);
    (!found.is_empty()).then(|| found.swap_remove(specific))
}

const NAME_WORDS: &[&str] = &[
    "name",
    "entity",
    "provider",
    "vendor",
    "company",
    "network",
    "model",
    "source",
    "organization",
    "organisation",
    "org",
    "service",
    "product",
    "brand",
    "tool",
    "project",
    "database",
    "db",
    "cloud",
    "operator",
    "platform",
    "supplier",
    "host",
    "lab",
    "run",
    "system",
    "option",
    "candidate",
    "competitor",
    "who",
    "which",
    "id",
];

fn is_name_like(prop: &str) -> bool {
    let w = raw_words(&prop.replace('_', " "));
    w.iter().any(|x| NAME_WORDS.contains(&x.as_str()) || NAME_WORDS.contains(&x.trim_end_matches('s')))
}

fn words_in(prop: &str, list: &[&str]) -> bool {
    raw_words(&prop.replace('_', " ")).iter().any(|w| list.contains(&w.as_str()))
}

const TEXT_WORDS: &[&str] =
    &["text", "content", "body", "post", "message", "quote", "tweet", "comment", "excerpt", "snippet", "summary"];
const AUTHOR_WORDS: &[&str] = &["author", "username", "user", "handle", "poster", "account", "by", "who"];
const URL_WORDS: &[&str] = &["url", "uri", "link", "permalink", "href"];
const DATE_WORDS: &[&str] =
    &["date", "datetime", "time", "timestamp", "posted", "created", "published", "when", "day", "at"];
const PLATFORM_WORDS: &[&str] = &["platform", "source", "site", "network", "service", "channel"];
const SENTIMENT_WORDS: &[&str] = &["sentiment", "mood", "tone", "opinion", "feeling", "attitude", "stance", "polarity"];

// ---------------------------------------------------------------------------------------------
// Schema helpers

fn resolve(s: &Value) -> &Value {
    for k in ["anyOf", "oneOf"] {
        if let Some(alts) = s.get(k).and_then(Value::as_array)
            && let Some(a) = alts.iter().find(|a| a.get("type").and_then(Value::as_str) != Some("null"))
        {
            return resolve(a);
        }
    }
    s
}

fn ty(s: &Value) -> &str {
    match s.get("type") {
        Some(Value::String(t)) => t,
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if s.get("properties").is_some() => "object",
        _ if s.get("items").is_some() => "array",
        _ => match s.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
            Some(Value::Number(_)) => "number",
            Some(_) => "string",
            None => "",
        },
    }
}

fn enum_of(s: &Value) -> Option<Vec<&Value>> {
    s.get("enum").and_then(Value::as_array).map(|a| a.iter().collect())
}

/// The allowed spelling of `v` under `s`'s enum (case-insensitive), or `v` without an enum.
fn allowed(s: &Value, v: &str) -> Option<String> {
    match enum_of(s) {
        None => Some(v.to_string()),
        Some(e) => e.iter().filter_map(|x| x.as_str()).find(|x| x.eq_ignore_ascii_case(v)).map(str::to_string),
    }
}

fn props(s: &Value) -> Vec<(String, Value)> {
    s.get("properties")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), resolve(v).clone())).collect())
        .unwrap_or_default()
}

fn num_json(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        serde_json::Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null)
    }
}

fn ptr_push(path: &str, key: &str) -> String {
    format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"))
}

// ---------------------------------------------------------------------------------------------
// Dates

use orchestra_proto::date::{days_from_civil, format_day as fmt_day, month_end, parse_day};

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The date range (inclusive `YYYY-MM-DD`) an objective's time words ask for, if any.
fn time_range(objective: &str, today: &str) -> Option<(String, String)> {
    let t = parse_day(today)?;
    let (y, m, _) = orchestra_proto::date::civil_from_days(t);
    let w = raw_words(objective);
    let text = w.join(" ");
    let has = |p: &str| text.contains(p);
    if has("this month") || has("current month") || has("month to date") {
        return Some((fmt_day(days_from_civil(y, m, 1)), fmt_day(t)));
    }
    if has("past month") {
        return Some((fmt_day(t - 29), fmt_day(t)));
    }
    if has("last month") || has("previous month") {
        let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
        return Some((fmt_day(days_from_civil(py, pm, 1)), fmt_day(month_end(py, pm))));
    }
    if has("this week") || has("past week") || has("last week") {
        return Some((fmt_day(t - 6), fmt_day(t)));
    }
    if has("today") {
        return Some((fmt_day(t), fmt_day(t)));
    }
    if has("yesterday") {
        return Some((fmt_day(t - 1), fmt_day(t - 1)));
    }
    if has("this year") {
        return Some((fmt_day(days_from_civil(y, 1, 1)), fmt_day(t)));
    }
    for (i, x) in w.iter().enumerate() {
        if (x == "past" || x == "last")
            && i + 2 < w.len()
            && let Ok(n) = w[i + 1].parse::<i64>()
        {
            let days = match w[i + 2].trim_end_matches('s') {
                "day" => n,
                "week" => 7 * n,
                "month" => 30 * n,
                _ => continue,
            };
            return Some((fmt_day(t - days + 1), fmt_day(t)));
        }
    }
    for (i, x) in w.iter().enumerate() {
        if let Some(mi) = MONTHS.iter().position(|mn| mn == x) {
            let mm = mi as u32 + 1;
            let yy = w.get(i + 1).and_then(|n| n.parse::<i64>().ok()).filter(|n| (1900..3000).contains(n));
            if x == "may" && yy.is_none() {
                continue;
            }
            let yy = yy.unwrap_or(if mm > m { y - 1 } else { y });
            return Some((fmt_day(days_from_civil(yy, mm, 1)), fmt_day(month_end(yy, mm))));
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Evidence found in the documents

#[derive(Debug, Clone)]
struct Found<'w> {
    fact: &'w Fact,
    /// Index of the document holding the quote and the entity's name.
    doc: usize,
    /// Order of the fact in the world.
    order: usize,
}

#[derive(Debug, Clone)]
struct FoundPost<'w> {
    post: &'w Post,
    doc: usize,
    /// The post text as present in the document.
    quote: String,
}

#[derive(Debug, Clone)]
enum Leaf {
    Number,
    /// An entity name; the names it could be swapped with.
    Entity(Vec<String>),
    Other,
}

struct Ctx<'w, 'r> {
    world: &'w World,
    docs: &'r [Document],
    ndocs: Vec<String>,
    facts: Vec<Found<'w>>,
    posts: Vec<FoundPost<'w>>,
    objective: String,
    obj: BTreeSet<String>,
    obj_raw: Vec<String>,
    cites: Vec<Citation>,
    /// The document of each citation.
    used_docs: Vec<usize>,
    leaves: Vec<(String, Leaf)>,
    /// Fields left out (path, schema) for the hallucination roll.
    missing: Vec<(String, Value)>,
}

impl<'w> Ctx<'w, '_> {
    /// The document to cite an entity's name from, starting at the one its fact was read in: that
    /// one if it names the entity, else one of the same receipt that does, else any that does.
    fn name_in(&self, doc: usize, entity: &str) -> usize {
        let e = normalize(entity);
        if self.ndocs[doc].contains(&e) {
            return doc;
        }
        let r = self.docs[doc].receipt;
        (0..self.docs.len())
            .find(|i| self.docs[*i].receipt == r && self.ndocs[*i].contains(&e))
            .or_else(|| (0..self.docs.len()).find(|i| self.ndocs[*i].contains(&e)))
            .unwrap_or(doc)
    }

    fn cite(&mut self, path: &str, doc: usize, pointer: Option<String>, quote: &str, leaf: Leaf) {
        let d = &self.docs[doc];
        self.cites.push(Citation {
            path: path.to_string(),
            receipt: d.receipt,
            pointer: pointer.unwrap_or_else(|| d.pointer.clone()),
            quote: quote.to_string(),
        });
        self.used_docs.push(doc);
        self.leaves.push((path.to_string(), leaf));
    }

    fn mentioned(&self, entity: &str) -> bool {
        let e = normalize(entity);
        let o = format!(" {} ", normalize(&self.objective));
        !e.is_empty() && o.contains(&format!(" {e} "))
    }

    // --- domains and entities ---

    /// The domain of the available facts that best matches `ctx` words.
    fn domain(&self, ctx: &BTreeSet<String>) -> Option<&'w str> {
        let mut vocab: BTreeMap<&'w str, (BTreeSet<String>, usize)> = BTreeMap::new();
        for f in &self.facts {
            let e = vocab.entry(f.fact.domain.as_str()).or_default();
            e.0.extend(toks(&f.fact.domain.replace('_', " ")));
            e.0.extend(toks(&f.fact.entity_type));
            e.0.extend(toks(&f.fact.attribute.replace('_', " ")));
            e.0.extend(toks(&f.fact.unit));
            e.0.extend(toks(&f.fact.entity));
            e.1 += 1;
        }
        let strong_ctx: Vec<&String> = ctx.iter().filter(|t| strong(t)).collect();
        vocab
            .into_iter()
            // A question about an `h100` is not about a domain that never mentions one.
            .filter(|(_, (v, _))| strong_ctx.is_empty() || strong_ctx.iter().any(|t| v.contains(*t)))
            .map(|(d, (v, n))| {
                let s: usize = ctx
                    .iter()
                    .filter(|t| v.contains(*t))
                    .map(|t| {
                        if strong(t) {
                            5
                        } else if GENERIC.contains(&t.as_str()) {
                            1
                        } else {
                            3
                        }
                    })
                    .sum();
                (d, s, n)
            })
            .filter(|x| x.1 > 0)
            .max_by(|a, b| a.1.cmp(&b.1).then(a.2.cmp(&b.2)).then(b.0.cmp(a.0)))
            .map(|x| x.0)
    }

    /// Relevant entities of `domain`, in the order the documents give them: of the entity types
    /// that best match `ctx`, and only those the objective names when it names `min_named` or more.
    fn entities(&self, domain: &str, ctx: &BTreeSet<String>, min_named: usize) -> Vec<&'w str> {
        let in_d: Vec<&Found<'w>> = self.facts.iter().filter(|f| f.fact.domain == domain).collect();
        let types: BTreeSet<&str> = in_d.iter().map(|f| f.fact.entity_type.as_str()).collect();
        let tscore = |t: &str| toks(t).intersection(ctx).count();
        let best = types.iter().map(|t| tscore(t)).max().unwrap_or(0);
        let mut order: Vec<(usize, usize, &'w str)> = Vec::new();
        for f in in_d {
            if best > 0 && tscore(&f.fact.entity_type) < best {
                continue;
            }
            if !order.iter().any(|x| x.2 == f.fact.entity) {
                order.push((f.doc, f.order, f.fact.entity.as_str()));
            }
        }
        order.sort();
        let mut names: Vec<&'w str> = order.into_iter().map(|x| x.2).collect();
        let named: Vec<&'w str> = names.iter().copied().filter(|e| self.mentioned(e)).collect();
        if named.len() >= min_named.max(1) {
            names = named;
        }
        names
    }

    fn facts_of(&self, domain: &str, entity: &str) -> Vec<Found<'w>> {
        self.facts.iter().filter(|f| f.fact.domain == domain && f.fact.entity == entity).cloned().collect()
    }

    /// The document naming `entity` for a citation of its name: the one holding its best fact.
    fn name_doc(&self, domain: &str, entity: &str) -> Option<usize> {
        self.facts
            .iter()
            .find(|f| f.fact.domain == domain && f.fact.entity == entity)
            .map(|f| self.name_in(f.doc, entity))
    }

    /// The fact of `entity` that best answers a property.
    fn best_fact(&self, domain: &str, entity: &str, prop: &BTreeSet<String>, want_number: bool) -> Option<Found<'w>> {
        // One attribute answers a property for every entity: the best one across the domain's
        // facts in the documents. An entity without it has no value for the property (a 70B
        // price must not stand in for an 8B one, a per-GPU price for an instance price).
        let best_attr = self
            .facts
            .iter()
            .filter(|f| f.fact.domain == domain && (!want_number || f.fact.value.as_f64().is_some()))
            .map(|f| (attr_score(f.fact, prop, &self.obj), f.fact.attribute.as_str()))
            .filter(|(s, _)| *s >= 3)
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(a.1)))
            .map(|x| x.1);
        self.facts_of(domain, entity)
            .into_iter()
            .filter(|f| best_attr.is_none_or(|a| f.fact.attribute == a))
            .filter(|f| !want_number || f.fact.value.as_f64().is_some())
            .map(|f| (attr_score(f.fact, prop, &self.obj), f))
            .filter(|(s, _)| *s >= 3)
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.order.cmp(&a.1.order)))
            .map(|x| x.1)
    }

    /// The fact at the extreme of the attribute the objective (and `focus` words) is about,
    /// among `entities`.
    fn extreme(&self, domain: &str, entities: &[&'w str], focus: &BTreeSet<String>, dir: Dir) -> Option<Found<'w>> {
        let mut by_attr: BTreeMap<&'w str, (i32, Vec<Found<'w>>)> = BTreeMap::new();
        for e in entities {
            for f in self.facts_of(domain, e) {
                let s = attr_score(f.fact, focus, &self.obj);
                let numeric = f.fact.value.as_f64().is_some() || is_iso_date(&f.fact.value);
                if !numeric {
                    continue;
                }
                let fact: &'w Fact = f.fact;
                let slot = by_attr.entry(fact.attribute.as_str()).or_insert((i32::MIN, Vec::new()));
                slot.0 = slot.0.max(s);
                if !slot.1.iter().any(|x| x.fact.entity == f.fact.entity) {
                    slot.1.push(f);
                }
            }
        }
        let (_, (score, cands)) =
            by_attr.into_iter().max_by(|a, b| a.1.0.cmp(&b.1.0).then(a.1.1.len().cmp(&b.1.1.len())))?;
        if score < 1 {
            return None;
        }
        let dir = match dir {
            Dir::Best => {
                let price = cands.first().is_some_and(|f| {
                    toks(&f.fact.attribute.replace('_', " ")).contains("price") || toks(&f.fact.unit).contains("price")
                });
                if price { Dir::Min } else { Dir::Max }
            }
            d => d,
        };
        let key = |f: &Found<'w>| -> f64 {
            match &f.fact.value {
                FactValue::Number(n) => *n,
                FactValue::Text(s) => parse_day(s).map(|z| z as f64).unwrap_or(0.0),
            }
        };
        let mut best: Option<Found<'w>> = None;
        for f in cands {
            let better = match &best {
                None => true,
                Some(b) => match dir {
                    Dir::Min => key(&f) < key(b),
                    _ => key(&f) > key(b),
                },
            };
            if better {
                best = Some(f);
            }
        }
        best
    }

    // --- posts ---

    fn relevant_posts(&self) -> Vec<FoundPost<'w>> {
        // The objective's words less the ones about asking (raw words, before synonyms).
        let topic: BTreeSet<String> = self
            .obj_raw
            .iter()
            .filter(|w| !STOP.contains(&w.as_str()) && !META.contains(&w.as_str()))
            .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
            .map(|w| canon(w))
            .filter(|t| !META.contains(&t.as_str()))
            .collect();
        let platforms: BTreeSet<String> = self
            .world
            .posts
            .iter()
            .map(|p| {
                if crate::world::same_platform(&p.platform, "x") { "x".to_string() } else { p.platform.to_lowercase() }
            })
            .filter(|p| self.obj_raw.iter().any(|w| crate::world::same_platform(w, p)))
            .chain(
                self.obj_raw.iter().any(|w| w == "twitter" || w == "tweets" || w == "tweet").then(|| "x".to_string()),
            )
            .collect();
        let range = time_range(&self.objective, &self.world.today());
        let mut out: Vec<FoundPost<'w>> = self
            .posts
            .iter()
            .filter(|fp| {
                let p = fp.post;
                let on_topic = if topic.is_empty() {
                    true
                } else {
                    let tagged = p.topics.iter().any(|t| {
                        let tt = toks(t);
                        !tt.is_empty() && tt.is_subset(&topic)
                    });
                    // The text: every topic word when the post has topics of its own, two
                    // thirds otherwise.
                    let words = toks(&p.text);
                    let hits = topic.iter().filter(|t| words.contains(*t)).count();
                    let need = if p.topics.is_empty() { (topic.len() * 2).div_ceil(3) } else { topic.len() };
                    tagged || hits >= need
                };
                on_topic
                    && (platforms.is_empty() || platforms.iter().any(|x| crate::world::same_platform(x, &p.platform)))
                    && range
                        .as_ref()
                        .is_none_or(|(a, b)| crate::world::in_range(&p.datetime, Some(a.as_str()), Some(b.as_str())))
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| b.post.datetime.cmp(&a.post.datetime).then(a.post.uri.cmp(&b.post.uri)));
        out
    }

    /// A citation for a post's metadata (`url`, `date`, `author`, `platform`): a document whose
    /// text holds the value, or the sibling field of the post's text in the simulated data
    /// subnet's layout when the document's metadata says it is there.
    fn meta_cite(&self, fp: &FoundPost<'w>, kind: &str) -> Option<(usize, Option<String>, String)> {
        let p = fp.post;
        let d = &self.docs[fp.doc];
        let value = match kind {
            "url" => p.uri.clone(),
            "date" => p.datetime.clone(),
            "author" => p.username.clone(),
            _ => p.platform.clone(),
        };
        let nv = normalize(&value);
        if kind != "platform" {
            let parent = d.pointer.rsplit_once('/').map(|x| x.0).unwrap_or("");
            let same_item = self.ndocs.iter().enumerate().find(|(i, t)| {
                let o = &self.docs[*i];
                o.receipt == d.receipt && o.pointer.starts_with(&format!("{parent}/")) && t.contains(&nv)
            });
            if let Some((i, _)) = same_item {
                return Some((i, None, value));
            }
        }
        let (parent, last) = d.pointer.rsplit_once('/')?;
        let meta_ok = match kind {
            "url" => d.source.as_deref() == Some(p.uri.as_str()),
            "date" => d.date.as_deref() == Some(p.datetime.as_str()),
            "author" => d.author.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(&p.username)),
            _ => last == "content" && d.source.as_deref() == Some(p.uri.as_str()),
        };
        if !meta_ok || last != "content" {
            return None;
        }
        let key = match kind {
            "url" => "uri",
            "date" => "datetime",
            "author" => "username",
            _ => "source",
        };
        let quote = if kind == "platform" { crate::server::platform_label(&p.platform) } else { value };
        Some((fp.doc, Some(format!("{parent}/{key}")), quote))
    }

    /// A citation of the URL a document came from: a document of the same receipt whose text
    /// is that URL, or the URL's sibling field in the simulated subnets' layouts (`uri` next to a
    /// scraped `content`, `link` next to a search `snippet`).
    fn url_cite(&self, doc: usize) -> Option<(usize, Option<String>, String)> {
        let d = &self.docs[doc];
        let url = d.source.clone()?;
        let nu = normalize(&url);
        if let Some(i) = (0..self.docs.len()).find(|i| self.docs[*i].receipt == d.receipt && self.ndocs[*i] == nu) {
            return Some((i, None, url));
        }
        let (parent, last) = d.pointer.rsplit_once('/')?;
        let key = match last {
            "content" => "uri",
            "snippet" => "link",
            _ => return None,
        };
        Some((doc, Some(format!("{parent}/{key}")), url))
    }

    // --- filling ---

    fn fill_object(&mut self, schema: &Value, path: &str, entity: Option<(&'w str, &'w str)>) -> Map<String, Value> {
        let ps = props(schema);
        let mut out = Map::new();
        // An object about one entity (a name property and a superlative or a single named entity).
        if entity.is_none()
            && !ps.iter().any(|(_, s)| ty(s) == "array")
            && let Some(e) = self.single_entity(&ps)
        {
            return self.fill_item(&ps, path, e.0, e.1, &mut Vec::new());
        }
        let is_source_list = |k: &str, s: &Value| {
            ty(s) == "array"
                && s.get("items").map(resolve).is_some_and(|i| ty(i) == "string")
                && words_in(
                    k,
                    &["sources", "source", "urls", "url", "links", "link", "references", "citations", "evidence"],
                )
        };
        let (lists, ps): (Vec<_>, Vec<_>) = ps.into_iter().partition(|(k, s)| is_source_list(k, s));
        for (k, s) in ps.iter().chain(lists.iter()) {
            let p = ptr_push(path, k);
            if is_source_list(k, s) {
                // The pages the rest of the answer was read from.
                let mut urls: Vec<Value> = Vec::new();
                let docs: Vec<usize> = self.used_docs.clone();
                for d in docs {
                    if let Some((doc, ptr, url)) = self.url_cite(d)
                        && !urls.iter().any(|u| u.as_str() == Some(url.as_str()))
                    {
                        self.cite(&ptr_push(&p, &urls.len().to_string()), doc, ptr, &url, Leaf::Other);
                        urls.push(Value::String(url));
                    }
                }
                out.insert(k.clone(), Value::Array(urls));
                continue;
            }
            let v = match (entity, ty(s)) {
                (_, "object") => {
                    let m = self.fill_object(s, &p, entity);
                    (!m.is_empty()).then_some(Value::Object(m))
                }
                (_, "array") => self.fill_array(k, s, &p),
                (None, "string" | "number" | "integer" | "") => self.fill_scalar(k, s, &p),
                _ => None,
            };
            match v {
                Some(v) => {
                    out.insert(k.clone(), v);
                }
                None => self.missing.push((p, s.clone())),
            }
        }
        out
    }

    /// The entity a non-list object is about, when it has a name property: the extreme one for
    /// a superlative objective, or the only one the objective names.
    fn single_entity(&self, ps: &[(String, Value)]) -> Option<(&'w str, &'w str)> {
        let mut ctx = self.obj.clone();
        for (k, _) in ps {
            ctx.extend(toks(&k.replace('_', " ")));
        }
        let d = self.domain(&ctx)?;
        let is_sup = |k: &str| superlative(&raw_words(&k.replace('_', " "))).is_some();
        // The property naming the entity: a name-like one, else the domain's entity type
        // (`database`, `network`), else a superlative one (`most_expensive` beside a figure).
        let name: (String, Value) = ps
            .iter()
            .find(|(k, s)| ty(s) == "string" && is_name_like(k) && !is_sup(k))
            .cloned()
            .or_else(|| {
                let n = self.name_prop(ps, d).filter(|n| !is_sup(n))?;
                let has_figure = ps.iter().any(|(k, s)| k != &n && matches!(ty(s), "number" | "integer"));
                has_figure.then(|| ps.iter().find(|(k, _)| *k == n).cloned()).flatten()
            })
            .or_else(|| {
                let has_figure = ps.iter().any(|(_, s)| matches!(ty(s), "number" | "integer"));
                ps.iter().find(|(k, s)| has_figure && ty(s) == "string" && enum_of(s).is_none() && is_sup(k)).cloned()
            })?;
        let mut ectx = self.obj.clone();
        ectx.extend(toks(&name.0.replace('_', " ")));
        let ents = self.entities(d, &ectx, 1);
        let sup = superlative(&self.obj_raw).or_else(|| superlative(&raw_words(&name.0.replace('_', " "))));
        if let Some((dir, implied)) = sup {
            let mut focus: BTreeSet<String> = implied.iter().map(|s| s.to_string()).collect();
            for (k, s) in ps {
                if k != &name.0 && matches!(ty(s), "number" | "integer") {
                    focus.extend(toks(&k.replace('_', " ")));
                }
            }
            return self.extreme(d, &ents, &focus, dir).map(|f| (d, f.fact.entity.as_str()));
        }
        let named: Vec<&&str> = ents.iter().filter(|e| self.mentioned(e)).collect();
        (named.len() == 1).then(|| (d, *named[0]))
    }

    fn fill_item(
        &mut self,
        ps: &[(String, Value)],
        path: &str,
        domain: &'w str,
        entity: &'w str,
        alternatives: &mut Vec<String>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        let name_prop = self.name_prop(ps, domain);
        if alternatives.is_empty() {
            alternatives.extend(
                self.world.facts_for(domain).map(|f| f.entity.clone()).filter(|e| e != entity).collect::<BTreeSet<_>>(),
            );
        }
        for (k, s) in ps {
            let p = ptr_push(path, k);
            let t = ty(s);
            if Some(k.as_str()) == name_prop.as_deref() {
                if let (Some(doc), Some(v)) = (self.name_doc(domain, entity), allowed(s, entity)) {
                    self.cite(&p, doc, None, entity, Leaf::Entity(alternatives.clone()));
                    out.insert(k.clone(), Value::String(v));
                } else {
                    self.missing.push((p, s.clone()));
                }
                continue;
            }
            let pt = toks(&k.replace('_', " "));
            let filled = match t {
                "string" if words_in(k, URL_WORDS) || words_in(k, &["source", "reference"]) => {
                    match self.name_doc(domain, entity).and_then(|d| self.url_cite(d)) {
                        Some((doc, ptr, url)) => {
                            self.cite(&p, doc, ptr, &url, Leaf::Other);
                            out.insert(k.clone(), Value::String(url));
                            true
                        }
                        None => false,
                    }
                }
                "number" | "integer" | "string" => {
                    let want_number = t != "string"; // A string property takes any fact (a figure asked for as text is its number).
                    match self.best_fact(domain, entity, &pt, want_number) {
                        Some(f) => {
                            let v = match f.fact.value.as_f64() {
                                _ if t == "string" => allowed(s, &f.fact.value.as_text()).map(Value::String),
                                Some(n) if t == "integer" && n.fract() != 0.0 => None,
                                Some(n) => Some(num_json(n)),
                                None => None,
                            };
                            if let Some(v) = &v {
                                let leaf = if want_number { Leaf::Number } else { Leaf::Other };
                                self.cite(&p, f.doc, None, &f.fact.quote, leaf);
                                out.insert(k.clone(), v.clone());
                            }
                            v.is_some()
                        }
                        None => false,
                    }
                }
                "object" if s.get("properties").is_none() => {
                    // A free-form dict: every figure of the entity that fits the objective.
                    let mut m = Map::new();
                    let obj_digits = self.obj.iter().any(|t| has_digit(t));
                    for f in self.facts_of(domain, entity) {
                        let Some(n) = f.fact.value.as_f64() else { continue };
                        let mut a = toks(&f.fact.attribute.replace('_', " "));
                        a.extend(toks(&f.fact.unit));
                        let unasked = |t: &&String| !self.obj.contains(*t);
                        let digit_miss = obj_digits && a.iter().filter(unasked).any(|t| has_digit(t));
                        let scope_miss = a.iter().filter(unasked).any(|t| SCOPE.contains(&t.as_str()));
                        if digit_miss || scope_miss {
                            continue;
                        }
                        let kp = ptr_push(&p, &f.fact.attribute);
                        self.cite(&kp, f.doc, None, &f.fact.quote, Leaf::Number);
                        m.insert(f.fact.attribute.clone(), num_json(n));
                    }
                    let any = !m.is_empty();
                    if any {
                        out.insert(k.clone(), Value::Object(m));
                    }
                    any
                }
                "object" => {
                    let sub = props(s);
                    let m = self.fill_item(&sub, &p, domain, entity, alternatives);
                    let any = !m.is_empty();
                    if any {
                        out.insert(k.clone(), Value::Object(m));
                    }
                    any
                }
                _ => false,
            };
            if !filled {
                self.missing.push((p, s.clone()));
            }
        }
        out
    }

    /// The property of an item that names the entity.
    fn name_prop(&self, ps: &[(String, Value)], domain: &str) -> Option<String> {
        let types: BTreeSet<String> =
            self.facts.iter().filter(|f| f.fact.domain == domain).flat_map(|f| toks(&f.fact.entity_type)).collect();
        let string_attrs: BTreeSet<String> = self
            .facts
            .iter()
            .filter(|f| f.fact.domain == domain && matches!(f.fact.value, FactValue::Text(_)))
            .flat_map(|f| toks(&f.fact.attribute.replace('_', " ")))
            .collect();
        ps.iter()
            .filter(|(_, s)| ty(s) == "string")
            .map(|(k, _)| {
                let kt = toks(&k.replace('_', " "));
                let mut score = 4 * kt.intersection(&types).count() as i32;
                let raw = raw_words(&k.replace('_', " "));
                if raw.iter().any(|w| w == "name" || w == "entity") {
                    score += 2;
                } else if is_name_like(k) {
                    score += 1;
                }
                if kt.intersection(&string_attrs).count() > 0 && kt.intersection(&types).count() == 0 {
                    score -= 3;
                }
                (score, k)
            })
            .filter(|x| x.0 > 0)
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(a.1)))
            .map(|x| x.1.clone())
            .or_else(|| {
                // No name-like property: the first string property no attribute answers.
                let domain_facts: Vec<&Found<'w>> = self.facts.iter().filter(|f| f.fact.domain == domain).collect();
                ps.iter()
                    .filter(|(_, s)| ty(s) == "string" && enum_of(s).is_none())
                    .find(|(k, _)| {
                        let kt = toks(&k.replace('_', " "));
                        !words_in(k, URL_WORDS)
                            && domain_facts.iter().all(|f| attr_score(f.fact, &kt, &BTreeSet::new()) < 3)
                    })
                    .map(|(k, _)| k.clone())
            })
    }

    fn is_post_item(key: &str, ps: &[(String, Value)]) -> bool {
        let text = ps.iter().any(|(k, _)| words_in(k, TEXT_WORDS));
        let meta =
            ps.iter().any(|(k, _)| words_in(k, AUTHOR_WORDS) || words_in(k, URL_WORDS) || words_in(k, DATE_WORDS));
        let key_posty = words_in(
            key,
            &[
                "mentions",
                "posts",
                "tweets",
                "comments",
                "messages",
                "quotes",
                "opinions",
                "reactions",
                "reviews",
                "discussions",
            ],
        );
        (text && meta) || (key_posty && (text || meta))
    }

    fn fill_array(&mut self, key: &str, schema: &Value, path: &str) -> Option<Value> {
        let items = schema.get("items").map(resolve).cloned().unwrap_or(Value::Null);
        let it = ty(&items);
        let max_items = schema.get("maxItems").and_then(Value::as_u64).map(|n| n as usize).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        if it == "object" {
            let ps = props(&items);
            if Self::is_post_item(key, &ps) {
                for fp in self.relevant_posts().into_iter().take(max_items) {
                    let p = ptr_push(path, &out.len().to_string());
                    let m = self.fill_post(&ps, &p, &fp);
                    if !m.is_empty() {
                        out.push(Value::Object(m));
                    }
                }
                return Some(Value::Array(out));
            }
            let mut ctx = self.obj.clone();
            ctx.extend(toks(&key.replace('_', " ")));
            for (k, _) in &ps {
                ctx.extend(toks(&k.replace('_', " ")));
            }
            let Some(domain) = self.domain(&ctx) else { return Some(Value::Array(out)) };
            let name_prop = self.name_prop(&ps, domain);
            let mut ectx = self.obj.clone();
            ectx.extend(toks(&key.replace('_', " ")));
            if let Some(n) = &name_prop {
                ectx.extend(toks(&n.replace('_', " ")));
            }
            let mut ents = self.entities(domain, &ectx, 2);
            let has = |w: &str| self.obj_raw.iter().any(|x| x == w);
            let sup = superlative(&self.obj_raw);
            let ranked =
                ["rank", "ranked", "ranking", "sort", "sorted", "order", "ordered", "top", "ascending", "descending"]
                    .iter()
                    .any(|w| has(w))
                    || (sup.is_some() && (has("first") || has("from")));
            let top_n = self.obj_raw.windows(2).find(|w| w[0] == "top").and_then(|w| w[1].parse::<usize>().ok());
            // Sort by the first property whose values compare (numbers, ISO dates).
            let sort_key = |k: &str, e: &str| -> Option<f64> {
                let pt = toks(&k.replace('_', " "));
                let f = self.best_fact(domain, e, &pt, false)?;
                f.fact.value.as_f64().or_else(|| match &f.fact.value {
                    FactValue::Text(x) => parse_day(x).map(|z| z as f64),
                    FactValue::Number(_) => None,
                })
            };
            let implied: BTreeSet<String> =
                sup.as_ref().map(|s| s.1.iter().map(|w| w.to_string()).collect()).unwrap_or_default();
            let mut sortable: Vec<&(String, Value)> = ps
                .iter()
                .filter(|(k, s)| Some(k) != name_prop.as_ref() && matches!(ty(s), "number" | "integer" | "string"))
                .filter(|(k, _)| ents.iter().any(|e| sort_key(k, e).is_some()))
                .collect();
            // The property the superlative is about first (`newest` → a release date).
            sortable.sort_by_key(|(k, _)| toks(&k.replace('_', " ")).intersection(&implied).count() == 0);
            let sort_prop = sortable.first().copied();
            if ranked && let Some((k, _)) = sort_prop {
                let desc = has("descending") || (!has("ascending") && matches!(sup, Some((Dir::Max, _))));
                let key = |e: &&'w str| sort_key(k, e);
                let mut keyed: Vec<(Option<f64>, &'w str)> = ents.iter().map(|e| (key(e), *e)).collect();
                keyed.sort_by(|a, b| match (a.0, b.0) {
                    (Some(x), Some(y)) if desc => y.total_cmp(&x),
                    (Some(x), Some(y)) => x.total_cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                });
                ents = keyed.into_iter().map(|x| x.1).collect();
            }
            let max_items = max_items.min(top_n.unwrap_or(usize::MAX));
            let others = ps.iter().filter(|(k, _)| Some(k) != name_prop.as_ref()).count();
            for e in ents {
                if out.len() >= max_items {
                    break;
                }
                let p = ptr_push(path, &out.len().to_string());
                let (c0, l0, m0) = (self.cites.len(), self.leaves.len(), self.missing.len());
                let mut alts: Vec<String> = Vec::new();
                let m = self.fill_item(&ps, &p, domain, e, &mut alts);
                let filled_other = m.keys().any(|k| Some(k) != name_prop.as_ref());
                if m.is_empty() || (others > 0 && !filled_other) {
                    self.cites.truncate(c0);
                    self.used_docs.truncate(c0);
                    self.leaves.truncate(l0);
                    self.missing.truncate(m0);
                    continue;
                }
                out.push(Value::Object(m));
            }
            return Some(Value::Array(out));
        }
        if it == "string" {
            if words_in(key, TEXT_WORDS) || words_in(key, &["posts", "tweets", "mentions", "quotes", "comments"]) {
                for fp in self.relevant_posts().into_iter().take(max_items) {
                    let p = ptr_push(path, &out.len().to_string());
                    self.cite(&p, fp.doc, None, &fp.quote, Leaf::Other);
                    out.push(Value::String(fp.quote.clone()));
                }
                return Some(Value::Array(out));
            }
            let mut ctx = self.obj.clone();
            ctx.extend(toks(&key.replace('_', " ")));
            if let Some(domain) = self.domain(&ctx) {
                let ents = self.entities(domain, &ctx, 2);
                for e in ents.into_iter().take(max_items) {
                    let Some(doc) = self.name_doc(domain, e) else { continue };
                    let Some(v) = allowed(&items, e) else { continue };
                    let p = ptr_push(path, &out.len().to_string());
                    self.cite(&p, doc, None, e, Leaf::Other);
                    out.push(Value::String(v));
                }
            }
            return Some(Value::Array(out));
        }
        Some(Value::Array(out))
    }

    fn fill_post(&mut self, ps: &[(String, Value)], path: &str, fp: &FoundPost<'w>) -> Map<String, Value> {
        let mut out = Map::new();
        for (k, s) in ps {
            let p = ptr_push(path, k);
            if ty(s) != "string" {
                self.missing.push((p, s.clone()));
                continue;
            }
            let raw = raw_words(&k.replace('_', " "));
            let kind = if words_in(k, SENTIMENT_WORDS) {
                "sentiment"
            } else if words_in(k, URL_WORDS) {
                "url"
            } else if words_in(k, AUTHOR_WORDS) || raw.iter().any(|w| w == "name") {
                "author"
            } else if words_in(k, DATE_WORDS) {
                "date"
            } else if words_in(k, PLATFORM_WORDS) {
                "platform"
            } else if words_in(k, TEXT_WORDS) {
                "text"
            } else {
                ""
            };
            let v = match kind {
                "text" => {
                    self.cite(&p, fp.doc, None, &fp.quote, Leaf::Other);
                    Some(fp.quote.clone())
                }
                "sentiment" => allowed(s, fp.post.sentiment.as_str()).inspect(|_| {
                    self.cite(&p, fp.doc, None, &fp.quote, Leaf::Other);
                }),
                "" => None,
                kind => match self.meta_cite(fp, kind) {
                    Some((doc, ptr, quote)) => {
                        let v = match kind {
                            "url" => fp.post.uri.clone(),
                            "author" => fp.post.username.clone(),
                            "platform" => fp.post.platform.clone(),
                            _ if raw.iter().any(|w| w == "time" || w == "datetime" || w == "timestamp") => {
                                fp.post.datetime.clone()
                            }
                            _ => fp.post.datetime.chars().take(10).collect(),
                        };
                        allowed(s, &v).inspect(|_| self.cite(&p, doc, ptr, &quote, Leaf::Other))
                    }
                    None => None,
                },
            };
            match v {
                Some(v) => {
                    out.insert(k.clone(), Value::String(v));
                }
                None => self.missing.push((p, s.clone())),
            }
        }
        out
    }

    fn fill_scalar(&mut self, key: &str, schema: &Value, path: &str) -> Option<Value> {
        let t = ty(schema);
        let raw = raw_words(&key.replace('_', " "));
        // Sentiment of the relevant posts.
        if t == "string" && words_in(key, SENTIMENT_WORDS) {
            let posts = self.relevant_posts();
            if posts.is_empty() {
                return None;
            }
            let label = crate::world::majority_sentiment(posts.iter().map(|p| p.post));
            // A tie is `neutral`, or `mixed` when the enum has no `neutral`.
            let v = allowed(schema, label.as_str())
                .or_else(|| (label == Sentiment::Neutral).then(|| allowed(schema, "mixed")).flatten())?;
            let support = posts.iter().find(|p| p.post.sentiment == label || label == Sentiment::Neutral)?;
            self.cite(path, support.doc, None, &support.quote, Leaf::Other);
            return Some(Value::String(v));
        }
        let mut kt = toks(&key.replace('_', " "));
        let sup = superlative(&raw);
        let name_like = is_name_like(key);
        let obj_sup = if t == "string" && name_like { superlative(&self.obj_raw) } else { None };
        if let Some((dir, implied)) = sup.clone().or(obj_sup) {
            kt.retain(|w| superlative(std::slice::from_ref(w)).is_none() && w.as_str() != "most");
            let mut ctx = self.obj.clone();
            ctx.extend(kt.iter().cloned());
            let d = self.domain(&ctx)?;
            let mut focus = kt.clone();
            focus.extend(implied.iter().map(|s| s.to_string()));
            let ents = self.entities(d, &ctx, 2);
            let f = self.extreme(d, &ents, &focus, dir)?;
            if t == "string" {
                let v = allowed(schema, &f.fact.entity)?;
                let alts: Vec<String> = ents.iter().filter(|e| **e != f.fact.entity).map(|e| e.to_string()).collect();
                let doc = self.name_in(f.doc, &f.fact.entity);
                self.cite(path, doc, None, &f.fact.entity, Leaf::Entity(alts));
                return Some(Value::String(v));
            }
            let n = f.fact.value.as_f64()?;
            if t == "integer" && n.fract() != 0.0 {
                return None;
            }
            self.cite(path, f.doc, None, &f.fact.quote, Leaf::Number);
            return Some(num_json(n));
        }
        // One attribute of one entity: the entity the objective names, or a unique best fact.
        let mut ctx = self.obj.clone();
        ctx.extend(kt.iter().cloned());
        let d = self.domain(&ctx)?;
        let want_number = t != "string";
        let named: Vec<&'w str> = self.entities(d, &ctx, 1).into_iter().filter(|e| self.mentioned(e)).collect();
        let mut cands: Vec<(i32, Found<'w>)> = self
            .facts
            .iter()
            .filter(|f| f.fact.domain == d && (!want_number || f.fact.value.as_f64().is_some()))
            .filter(|f| named.is_empty() || named.contains(&f.fact.entity.as_str()))
            .map(|f| (attr_score(f.fact, &kt, &self.obj), f.clone()))
            .filter(|x| x.0 >= 3)
            .collect();
        cands.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.order.cmp(&b.1.order)));
        let top = cands.first()?.0;
        let best: Vec<&Found<'w>> = cands.iter().filter(|c| c.0 == top).map(|c| &c.1).collect();
        let first = best[0].clone();
        if best.iter().any(|f| f.fact.value != first.fact.value) {
            return None;
        }
        let v = match first.fact.value.as_f64() {
            _ if t == "string" => Value::String(allowed(schema, &first.fact.value.as_text())?),
            Some(n) if t == "integer" && n.fract() != 0.0 => return None,
            Some(n) => num_json(n),
            None => return None,
        };
        let leaf = if want_number { Leaf::Number } else { Leaf::Other };
        self.cite(path, first.doc, None, &first.fact.quote, leaf);
        Some(v)
    }
}

fn is_iso_date(v: &FactValue) -> bool {
    matches!(v, FactValue::Text(s) if s.len() == 10 && parse_day(s).is_some())
}

/// Put `value` at JSON pointer `path` of `root`, creating objects on the way.
fn set_at(root: &mut Value, path: &str, value: Value) {
    if path.is_empty() {
        *root = value;
        return;
    }
    let mut cur = root;
    let segs: Vec<String> = path.split('/').skip(1).map(|s| s.replace("~1", "/").replace("~0", "~")).collect();
    for (i, s) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        let next = match cur {
            Value::Object(m) => {
                if last {
                    m.insert(s.clone(), value);
                    return;
                }
                m.entry(s.clone()).or_insert_with(|| Value::Object(Map::new()))
            }
            Value::Array(a) => match s.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(x) if !last => x,
                Some(x) => {
                    *x = value;
                    return;
                }
                None => return,
            },
            _ => return,
        };
        cur = next;
    }
}

/// Answer an extraction request from `world`, using only what the documents carry.
pub fn extract(world: &World, req: &ExtractionRequest, opts: &ExtractOptions) -> ExtractionAnswer {
    let ndocs: Vec<String> = req.documents.iter().map(|d| normalize(&d.text)).collect();
    let mut facts = Vec::new();
    for (order, f) in world.facts.iter().enumerate() {
        let (q, e) = (normalize(&f.quote), normalize(&f.entity));
        if q.is_empty() {
            continue;
        }
        // Prefer a document that also names the entity (so its name can be cited from it).
        let doc = ndocs
            .iter()
            .position(|t| t.contains(&q) && t.contains(&e))
            .or_else(|| ndocs.iter().position(|t| t.contains(&q)));
        if let Some(doc) = doc {
            facts.push(Found { fact: f, doc, order });
        }
    }
    let mut posts = Vec::new();
    for p in &world.posts {
        let np = normalize(&p.text);
        let hit = ndocs.iter().enumerate().find_map(|(i, t)| {
            if t.contains(&np) {
                Some((i, p.text.clone()))
            } else if t.len() >= 40 && np.starts_with(t.as_str()) {
                Some((i, req.documents[i].text.clone()))
            } else {
                None
            }
        });
        if let Some((doc, quote)) = hit {
            posts.push(FoundPost { post: p, doc, quote });
        }
    }
    let mut cx = Ctx {
        world,
        docs: &req.documents,
        ndocs,
        facts,
        posts,
        objective: req.objective.clone(),
        obj: toks(&req.objective),
        obj_raw: raw_words(&req.objective),
        cites: Vec::new(),
        used_docs: Vec::new(),
        leaves: Vec::new(),
        missing: Vec::new(),
    };
    let schema = resolve(&req.schema).clone();
    let mut answer = match ty(&schema) {
        "array" => cx.fill_array("items", &schema, "").unwrap_or(Value::Array(vec![])),
        "string" | "number" | "integer" => cx.fill_scalar("answer", &schema, "").unwrap_or(Value::Null),
        _ => Value::Object(cx.fill_object(&schema, "", None)),
    };

    // Faults: deterministic from the seed and the request.
    let digest = blake3::hash(&serde_json::to_vec(req).unwrap_or_default());
    let salt = |path: &str, what: &str| format!("{}{path}#{what}", digest.to_hex());
    if opts.error_rate > 0.0 {
        for (path, leaf) in &cx.leaves {
            if roll(opts.seed, 0, &salt(path, "error")) >= opts.error_rate {
                continue;
            }
            let Some(cur) = answer.pointer(path).cloned() else { continue };
            let r = roll(opts.seed, 1, &salt(path, "how"));
            let new = match (leaf, &cur) {
                (Leaf::Number, Value::Number(n)) => n.as_f64().map(|x| {
                    let y = x * (1.0 + if r < 0.5 { -1.0 } else { 1.0 } * (0.08 + 0.3 * r));
                    if n.is_i64() || n.is_u64() {
                        let z = y.round() as i64;
                        json!(if z == x as i64 { z + 1 } else { z })
                    } else if x.abs() >= 1.0 {
                        num_json((y * 100.0).round() / 100.0)
                    } else {
                        num_json((y * 10_000.0).round() / 10_000.0)
                    }
                }),
                (Leaf::Entity(alts), Value::String(_)) if !alts.is_empty() => {
                    Some(Value::String(alts[(r * alts.len() as f64) as usize % alts.len()].clone()))
                }
                _ => None,
            };
            if let Some(v) = new {
                set_at(&mut answer, path, v);
            }
        }
    }
    if opts.hallucination_rate > 0.0 {
        let names: Vec<&str> = world.facts.iter().map(|f| f.entity.as_str()).collect();
        for (path, s) in &cx.missing {
            if roll(opts.seed, 2, &salt(path, "hallucinate")) >= opts.hallucination_rate {
                continue;
            }
            let r = roll(opts.seed, 3, &salt(path, "value"));
            let v = match ty(s) {
                "number" => num_json(((1.0 + 99.0 * r) * 100.0).round() / 100.0),
                "integer" => json!((1.0 + 99.0 * r) as i64),
                "string" => match enum_of(s) {
                    Some(e) if !e.is_empty() => e[(r * e.len() as f64) as usize % e.len()].clone(),
                    _ if !names.is_empty() => {
                        Value::String(names[(r * names.len() as f64) as usize % names.len()].into())
                    }
                    _ => continue,
                },
                _ => continue,
            };
            set_at(&mut answer, path, v);
        }
    }
    ExtractionAnswer { answer, citations: cx.cites }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_words_become_ranges() {
        let r = |o: &str| time_range(o, "2026-11-27");
        assert_eq!(r("posts this month"), Some(("2026-11-01".into(), "2026-11-27".into())));
        assert_eq!(r("last month"), Some(("2026-10-01".into(), "2026-10-31".into())));
        assert_eq!(r("in the past 7 days"), Some(("2026-11-21".into(), "2026-11-27".into())));
        assert_eq!(r("what happened in February"), Some(("2026-02-01".into(), "2026-02-28".into())));
        assert_eq!(r("December 2025 posts"), Some(("2025-12-01".into(), "2025-12-31".into())));
        assert_eq!(r("GPU prices"), None);
    }

    #[test]
    fn attribute_scores_prefer_per_gpu_prices() {
        let w = World::builtin_static();
        let prop = toks("h100 usd per hour");
        let obj = toks("Which cloud provider rents an NVIDIA H100 for the lowest on-demand price per hour?");
        let s = |e: &str, a: &str| attr_score(w.fact(e, a).expect("fact"), &prop, &obj);
        assert!(s("AWS", "h100_usd_per_gpu_hour") > s("AWS", "h100_instance_usd_per_hour"));
        assert!(s("Lambda", "h100_usd_per_gpu_hour") > s("Lambda", "a100_usd_per_gpu_hour"));
        assert!(s("RunPod", "h100_usd_per_gpu_hour") > s("RunPod", "h100_spot_usd_per_gpu_hour"));
    }
}
