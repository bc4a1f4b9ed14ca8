//! The SIMULATED world: web pages a simulated search finds and a simulated scraper returns,
//! social posts the simulated data subnet serves, and structured facts (with the exact quote
//! that states each one) that the simulated LLM may extract when, and only when, the quote is
//! in its prompt. The format is described in the crate docs; the built-in world is
//! `world/builtin.json`.

use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock};

use orchestra_proto::extract::{normalize, quote_states};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::SimError;

/// The built-in world's JSON.
pub const BUILTIN_JSON: &str = include_str!("../world/builtin.json");

static BUILTIN: LazyLock<Arc<World>> = LazyLock::new(|| {
    // The file is part of the crate and checked by a test.
    #[allow(clippy::expect_used)]
    let w = World::from_json_str(BUILTIN_JSON).expect("the built-in world is valid");
    Arc::new(w)
});

/// A whole simulated world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct World {
    /// Short name shown in logs.
    #[serde(default)]
    pub name: String,
    /// The world's "today" (`YYYY-MM-DD`): relative dates in objectives ("this month") are
    /// read against it. Default: the date of the newest post or page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub today: Option<String>,
    #[serde(default)]
    pub pages: Vec<Page>,
    #[serde(default)]
    pub posts: Vec<Post>,
    #[serde(default)]
    pub facts: Vec<Fact>,
}

/// One simulated web page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    #[serde(alias = "uri")]
    pub url: String,
    #[serde(default)]
    pub title: String,
    /// The page text a scraper returns (quotes of facts are substrings of it).
    #[serde(alias = "content")]
    pub text: String,
    /// Search keywords beyond the words of the title and text.
    #[serde(default)]
    pub tags: Vec<String>,
    /// ISO date the page claims (`YYYY-MM-DD`).
    #[serde(default)]
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The fact domain the page is mostly about (informational).
    #[serde(default)]
    pub domain: String,
}

/// A social platform label a post may carry; free text (`x`, `reddit`, ...).
pub type Platform = String;

/// Sentiment of a post: known only to the simulator (it is never served).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sentiment {
    #[serde(alias = "Positive", alias = "POSITIVE", alias = "pos")]
    Positive,
    #[serde(alias = "Neutral", alias = "NEUTRAL", alias = "mixed", alias = "Mixed")]
    Neutral,
    #[serde(alias = "Negative", alias = "NEGATIVE", alias = "neg")]
    Negative,
}

impl Sentiment {
    pub fn as_str(self) -> &'static str {
        match self {
            Sentiment::Positive => "positive",
            Sentiment::Neutral => "neutral",
            Sentiment::Negative => "negative",
        }
    }
}

/// One simulated social post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Post {
    #[serde(alias = "url")]
    pub uri: String,
    #[serde(alias = "author", alias = "user")]
    pub username: String,
    /// `x`, `reddit`, ... (served as SN13's `source`: `X`, `REDDIT`).
    #[serde(alias = "source")]
    pub platform: Platform,
    /// RFC 3339 UTC (`2026-11-12T09:30:00Z`).
    #[serde(alias = "date")]
    pub datetime: String,
    #[serde(alias = "content")]
    pub text: String,
    pub sentiment: Sentiment,
    /// What the post is about (lowercase phrases such as `decentralized ai training`); used by
    /// the simulated LLM to decide whether a post matches an objective's topic.
    #[serde(default)]
    pub topics: Vec<String>,
}

/// A fact's value: a number or a string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FactValue {
    Number(f64),
    Text(String),
}

impl FactValue {
    pub fn to_json(&self) -> Value {
        match self {
            FactValue::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Value::from(*n as i64),
            FactValue::Number(n) => serde_json::Number::from_f64(*n).map(Value::Number).unwrap_or(Value::Null),
            FactValue::Text(s) => Value::String(s.clone()),
        }
    }
    /// The value as a number (a string that is a plain number, such as `"2.49"`, counts).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            FactValue::Number(n) => Some(*n),
            FactValue::Text(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        }
    }

    /// The value as text (numbers without a trailing `.0`).
    pub fn as_text(&self) -> String {
        match self {
            FactValue::Text(s) => s.clone(),
            FactValue::Number(_) => self.to_json().to_string(),
        }
    }
}

/// One structured fact, stated by `quote` in the text of `source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// Topic the fact belongs to (`gpu_cloud_pricing`).
    pub domain: String,
    /// What the fact is about (`Lambda`); must be named in the source's text.
    pub entity: String,
    /// What kind of thing the entity is (`cloud provider`, `analyst report`, `model`).
    #[serde(default, alias = "type", alias = "kind")]
    pub entity_type: String,
    /// Snake-case attribute (`h100_usd_per_gpu_hour`).
    pub attribute: String,
    pub value: FactValue,
    #[serde(default)]
    pub unit: String,
    /// URL of the page or URI of the post that states it.
    #[serde(alias = "source_url", alias = "url", alias = "uri")]
    pub source: String,
    /// The exact substring of the source's text that states the value.
    pub quote: String,
}

impl Fact {
    fn label(&self, i: usize) -> String {
        format!("fact {i} ({} / {})", self.entity, self.attribute)
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..10].iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() })
}

impl World {
    /// The built-in world (parsed once).
    pub fn builtin() -> Arc<World> {
        BUILTIN.clone()
    }

    /// The built-in world with a `'static` lifetime.
    pub fn builtin_static() -> &'static World {
        &BUILTIN
    }

    /// Parse and validate a world from JSON.
    pub fn from_json_str(text: &str) -> Result<World, String> {
        let w: World = serde_json::from_str(text).map_err(|e| format!("not a world file: {e}"))?;
        w.validate()?;
        for warning in w.warnings() {
            tracing::warn!(%warning, "world");
        }
        Ok(w)
    }

    /// Read, parse and validate a world file; the error names the file and the problem.
    pub fn from_file(path: &str) -> Result<World, SimError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| SimError::World { path: path.into(), reason: e.to_string() })?;
        World::from_json_str(&text).map_err(|reason| SimError::World { path: path.into(), reason })
    }

    /// Check the world: pages and posts have their fields and unique URLs/URIs, and every fact
    /// has a domain, entity and attribute, a source that is a page or post of the world, and a
    /// quote verbatim in that source's text. The error lists every problem, naming the
    /// offending page, post or fact. Softer problems are [`World::warnings`].
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        let mut seen = BTreeSet::new();
        if self.pages.is_empty() && self.posts.is_empty() {
            problems.push("the world has no pages and no posts".to_string());
        }
        if let Some(t) = &self.today
            && !is_date(t)
        {
            problems.push(format!("today `{t}` is not a YYYY-MM-DD date"));
        }
        for (i, p) in self.pages.iter().enumerate() {
            if p.url.trim().is_empty() || p.text.trim().is_empty() {
                problems.push(format!("page {i} ({}) needs a url and a text", p.url));
            }
            if !seen.insert(p.url.as_str()) {
                problems.push(format!("page {i}: url {} appears twice", p.url));
            }
        }
        for (i, p) in self.posts.iter().enumerate() {
            if p.uri.trim().is_empty() || p.text.trim().is_empty() || p.username.trim().is_empty() {
                problems.push(format!("post {i} ({}) needs a uri, a username and a text", p.uri));
            }
            if !seen.insert(p.uri.as_str()) {
                problems.push(format!("post {i}: uri {} appears twice", p.uri));
            }
        }
        for (i, f) in self.facts.iter().enumerate() {
            let label = f.label(i);
            if f.domain.trim().is_empty() || f.entity.trim().is_empty() || f.attribute.trim().is_empty() {
                problems.push(format!("{label}: domain, entity and attribute must not be empty"));
            }
            if let FactValue::Number(n) = f.value
                && !n.is_finite()
            {
                problems.push(format!("{label}: value is not a finite number"));
            }
            let Some(text) = self.source_text(&f.source) else {
                problems.push(format!("{label}: source {} is not a page or post of the world", f.source));
                continue;
            };
            if f.quote.trim().is_empty() {
                problems.push(format!("{label}: quote is empty"));
            } else if !text.contains(f.quote.as_str()) {
                problems.push(format!("{label}: quote \"{}\" is not verbatim in the text of {}", f.quote, f.source));
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    }

    /// Problems that do not stop the world from loading but make answers about it harder to
    /// check: a quote that does not state its value (a citation of it fails
    /// `orchestra_proto::extract::check_citation`), an entity not named in its source's text,
    /// dates that are not ISO, a page without a title.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, p) in self.pages.iter().enumerate() {
            if p.title.trim().is_empty() {
                out.push(format!("page {i} ({}) has no title", p.url));
            }
            if !is_date(&p.date) {
                out.push(format!("page {i} ({}): date `{}` is not YYYY-MM-DD", p.url, p.date));
            }
        }
        for (i, p) in self.posts.iter().enumerate() {
            if !is_date(&p.datetime) {
                out.push(format!("post {i} ({}): datetime `{}` is not RFC 3339", p.uri, p.datetime));
            }
        }
        for (i, f) in self.facts.iter().enumerate() {
            let label = f.label(i);
            let Some(text) = self.source_text(&f.source) else { continue };
            if !f.quote.trim().is_empty() && !quote_states(&f.value.to_json(), &f.quote) {
                out.push(format!("{label}: quote \"{}\" does not state the value {}", f.quote, f.value.to_json()));
            }
            if !normalize(text).contains(&normalize(&f.entity)) {
                out.push(format!("{label}: the entity `{}` is not named in the text of {}", f.entity, f.source));
            }
        }
        out
    }

    /// The text of the page or post with this URL/URI.
    pub fn source_text(&self, source: &str) -> Option<&str> {
        self.page(source)
            .map(|p| p.text.as_str())
            .or_else(|| self.posts.iter().find(|p| p.uri == source).map(|p| p.text.as_str()))
    }

    /// The world's "today" (`YYYY-MM-DD`).
    pub fn today(&self) -> String {
        if let Some(t) = &self.today {
            return t[..10.min(t.len())].to_string();
        }
        let newest = self.posts.iter().map(|p| &p.datetime[..10.min(p.datetime.len())]);
        let pages = self.pages.iter().map(|p| &p.date[..10.min(p.date.len())]);
        newest.chain(pages).max().unwrap_or("1970-01-01").to_string()
    }

    /// Domains of the facts, sorted.
    pub fn domains(&self) -> Vec<&str> {
        let s: BTreeSet<&str> = self.facts.iter().map(|f| f.domain.as_str()).collect();
        s.into_iter().collect()
    }

    /// The facts of one domain (the ground truth an eval compares answers with).
    pub fn facts_for<'a>(&'a self, domain: &'a str) -> impl Iterator<Item = &'a Fact> + 'a {
        self.facts.iter().filter(move |f| f.domain == domain)
    }

    /// The fact giving `attribute` of `entity`, if any.
    pub fn fact(&self, entity: &str, attribute: &str) -> Option<&Fact> {
        self.facts.iter().find(|f| f.entity.eq_ignore_ascii_case(entity) && f.attribute == attribute)
    }

    /// Entity and numeric value of every fact with this attribute, in world order.
    pub fn values_of(&self, domain: &str, attribute: &str) -> Vec<(&str, f64)> {
        self.facts
            .iter()
            .filter(|f| f.domain == domain && f.attribute == attribute)
            .filter_map(|f| f.value.as_f64().map(|v| (f.entity.as_str(), v)))
            .collect()
    }

    /// The fact with the lowest (`lowest = true`) or highest numeric value of `attribute` in
    /// `domain` (ties: the first in world order): e.g. the cheapest provider.
    pub fn extreme(&self, domain: &str, attribute: &str, lowest: bool) -> Option<&Fact> {
        let mut best: Option<(&Fact, f64)> = None;
        for f in self.facts.iter().filter(|f| f.domain == domain && f.attribute == attribute) {
            let Some(v) = f.value.as_f64() else { continue };
            let better = best.is_none_or(|(_, b)| if lowest { v < b } else { v > b });
            if better {
                best = Some((f, v));
            }
        }
        best.map(|b| b.0)
    }

    /// Posts about `topic` (one of their `topics`), dated within `from..=to` (`YYYY-MM-DD`,
    /// inclusive, either open), on one of `platforms` (all when empty).
    pub fn posts_about(&self, topic: &str, from: Option<&str>, to: Option<&str>, platforms: &[&str]) -> Vec<&Post> {
        self.posts
            .iter()
            .filter(|p| p.topics.iter().any(|t| t.eq_ignore_ascii_case(topic)))
            .filter(|p| in_range(&p.datetime, from, to))
            .filter(|p| platforms.is_empty() || platforms.iter().any(|x| same_platform(x, &p.platform)))
            .collect()
    }

    pub fn page(&self, url: &str) -> Option<&Page> {
        self.pages.iter().find(|p| p.url == url)
    }

    /// Pages matching a query, best first: score = query words found in tags (×3), title (×2),
    /// text (×1); ties by URL.
    pub fn search(&self, query: &str, limit: usize) -> Vec<&Page> {
        let q: Vec<String> = words(query).collect();
        let mut scored: Vec<(usize, &Page)> = self
            .pages
            .iter()
            .map(|p| {
                let title: BTreeSet<String> = words(&p.title).collect();
                let text: BTreeSet<String> = words(&p.text).collect();
                let s = q
                    .iter()
                    .map(|w| {
                        3 * usize::from(p.tags.iter().any(|t| t.eq_ignore_ascii_case(w)))
                            + 2 * usize::from(title.contains(w))
                            + usize::from(text.contains(w))
                    })
                    .sum();
                (s, p)
            })
            .filter(|(s, _)| *s > 0)
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.url.cmp(&b.1.url)));
        scored.into_iter().take(limit).map(|(_, p)| p).collect()
    }

    /// Posts for an SN13-like on-demand query, newest first.
    pub fn query_posts(&self, q: &PostQuery) -> Vec<&Post> {
        let mut out: Vec<&Post> = self
            .posts
            .iter()
            .filter(|p| {
                q.usernames.is_empty()
                    || q.usernames.iter().any(|u| u.trim_start_matches('@').eq_ignore_ascii_case(&p.username))
            })
            .filter(|p| q.platform.as_deref().is_none_or(|s| same_platform(s, &p.platform)))
            .filter(|p| {
                if q.keywords.is_empty() {
                    return true;
                }
                let text = p.text.to_lowercase();
                let hit = |k: &String| text.contains(&k.to_lowercase());
                if q.all { q.keywords.iter().all(hit) } else { q.keywords.iter().any(hit) }
            })
            .filter(|p| in_range(&p.datetime, q.start.as_deref(), q.end.as_deref()))
            .collect();
        out.sort_by(|a, b| b.datetime.cmp(&a.datetime).then(a.uri.cmp(&b.uri)));
        out.truncate(q.limit);
        out
    }
}

/// An on-demand social query (SN13's `OnDemandRequest` fields).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PostQuery {
    pub keywords: Vec<String>,
    pub usernames: Vec<String>,
    /// All keywords must match (SN13's default `keyword_mode = "all"`).
    pub all: bool,
    /// Platform (`x`, `reddit`); `None` for all.
    pub platform: Option<String>,
    /// Inclusive bounds: a date (`YYYY-MM-DD`) compares by day, a datetime exactly.
    pub start: Option<String>,
    pub end: Option<String>,
    pub limit: usize,
}

/// `x` and `twitter` are one platform; others compare case-insensitively.
pub fn same_platform(a: &str, b: &str) -> bool {
    let c = |s: &str| {
        let l = s.trim().to_lowercase();
        if l == "twitter" { "x".to_string() } else { l }
    };
    c(a) == c(b)
}

/// Is `datetime` within the inclusive bounds? Date-only bounds compare by day.
pub fn in_range(datetime: &str, from: Option<&str>, to: Option<&str>) -> bool {
    let cmp_part = |b: &str| if b.len() <= 10 { &datetime[..10.min(datetime.len())] } else { datetime };
    from.is_none_or(|f| cmp_part(f) >= f) && to.is_none_or(|t| cmp_part(t) <= t)
}

pub(crate) fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 1).map(|w| w.to_lowercase())
}

/// The majority sentiment of `posts`; `Neutral` on a tie or when there are none.
pub fn majority_sentiment<'a>(posts: impl IntoIterator<Item = &'a Post>) -> Sentiment {
    let (mut pos, mut neu, mut neg) = (0, 0, 0);
    for p in posts {
        match p.sentiment {
            Sentiment::Positive => pos += 1,
            Sentiment::Neutral => neu += 1,
            Sentiment::Negative => neg += 1,
        }
    }
    if pos > neu && pos > neg {
        Sentiment::Positive
    } else if neg > pos && neg > neu {
        Sentiment::Negative
    } else {
        Sentiment::Neutral
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_world_validates_and_has_the_worked_example() {
        let w = World::from_json_str(BUILTIN_JSON).expect("valid");
        assert!(w.domains().len() >= 5, "{:?}", w.domains());
        let hits = w.search("cloud GPU pricing H100", 5);
        assert!(hits.len() >= 4);
        assert!(hits.iter().all(|p| p.text.contains('$')));
        for u in ["https://sim.lambda.example/pricing", "https://sim.coreweave.example/gpu-pricing"] {
            assert!(w.page(u).is_some(), "{u}");
        }
        assert!(w.search("zzzz qqqq", 5).is_empty());
        let nov = w.posts_about("decentralized ai training", Some("2026-11-01"), Some("2026-11-30"), &[]);
        assert!(nov.len() >= 10, "{}", nov.len());
        assert_eq!(majority_sentiment(nov.iter().copied()), Sentiment::Positive);
        assert_eq!(w.fact("AWS", "h100_usd_per_gpu_hour").and_then(|f| f.value.as_f64()), Some(6.88));
        let cheapest = w.extreme("gpu_cloud_pricing", "h100_usd_per_gpu_hour", true).expect("min");
        assert_eq!(cheapest.entity, "Lambda");
    }

    #[test]
    fn a_bad_world_names_the_offending_fact() {
        let mut w: World = serde_json::from_str(BUILTIN_JSON).expect("json");
        let i = w.facts.iter().position(|f| f.entity == "Lambda").expect("lambda");
        w.facts[i].quote = "NVIDIA H100 SXM: $1.49 per GPU-hour".into();
        let e = w.validate().expect_err("bad quote");
        assert!(e.contains(&format!("fact {i} (Lambda / ")) && e.contains("not verbatim"), "{e}");
        let mut w2: World = serde_json::from_str(BUILTIN_JSON).expect("json");
        w2.facts[0].value = FactValue::Number(123.0);
        assert!(w2.validate().is_ok());
        assert!(w2.warnings().iter().any(|x| x.starts_with("fact 0 (") && x.contains("does not state the value")));
        assert!(World::builtin().warnings().is_empty(), "{:?}", World::builtin().warnings());
        let mut w3: World = serde_json::from_str(BUILTIN_JSON).expect("json");
        w3.facts[0].source = "https://nowhere.example/".into();
        assert!(w3.validate().expect_err("source").contains("is not a page or post"));
        assert!(World::from_json_str("{\"pages\": 3}").expect_err("shape").contains("not a world file"));
    }

    #[test]
    fn date_ranges_compare_by_day_or_exactly() {
        assert!(in_range("2026-11-12T09:30:00Z", Some("2026-11-01"), Some("2026-11-12")));
        assert!(!in_range("2026-10-31T23:00:00Z", Some("2026-11-01"), None));
        assert!(!in_range("2026-11-12T09:30:00Z", None, Some("2026-11-12T09:00:00Z")));
    }
}
