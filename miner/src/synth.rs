//! Synthesis: fill the target schema from what the steps returned, then validate it.
//!
//! Values are taken from receipted responses (names and URLs of sources, prices found in their
//! text, text written by the LLM step), so a validator can trace them back: nothing is made up.
//! Fields are matched by their JSON type and name (a `name` string in a list item is the source's
//! name, a dict is its prices, a `price_point` number is a price chosen among those observed).

use serde_json::{Map, Value, json};

use crate::MinerError;

/// A source document with the prices found in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub name: String,
    pub url: String,
    pub text: String,
    /// (label, value) in order of appearance.
    pub prices: Vec<(String, f64)>,
}

/// Prices in a text: `$` followed by a number; the label is the few words before it in the
/// same sentence.
pub fn prices(text: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'.' || bytes[j] == b',') {
                j += 1;
            }
            let num: String = text[start..j].trim_end_matches(['.', ',']).replace(',', "");
            if let Ok(v) = num.parse::<f64>() {
                let before = &text[..i];
                // The clause starts after the last ". ", "; ", ", " or newline; a bare "." would
                // also match the decimal point of an earlier price.
                let sentence_start = [". ", "; ", ", ", "\n"]
                    .iter()
                    .filter_map(|b| before.rfind(b).map(|p| p + b.len()))
                    .max()
                    .unwrap_or(0);
                let sentence = before[sentence_start..].trim();
                let words: Vec<&str> = sentence.split_whitespace().collect();
                let label = words[words.len().saturating_sub(5)..].join(" ");
                let label = label.trim_end_matches([':', '-', ',']).trim();
                let label = if label.is_empty() { format!("price_{}", out.len() + 1) } else { label.to_string() };
                out.push((label, v));
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// A short display name for a source from its page title ("Lambda Cloud GPU pricing" → "Lambda Cloud").
pub fn source_name(title_or_url: &str) -> String {
    let t = title_or_url.replace("(simulated)", "");
    let cut = [" GPU", " gpu", " pricing", " Pricing", " instance", " inference", " Inference", " -", " |", ":"]
        .iter()
        .filter_map(|m| t.find(m))
        .min()
        .unwrap_or(t.len());
    let name = t[..cut].trim();
    if name.is_empty() { title_or_url.trim().to_string() } else { name.to_string() }
}

/// Context for filling one level of the schema.
struct Ctx<'a> {
    sources: &'a [Source],
    /// The source a list item is about.
    current: Option<&'a Source>,
    /// Text written by the LLM step, if any.
    prose: Option<&'a str>,
    objective: &'a str,
}

fn lower_median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    Some(v[(v.len() - 1) / 2])
}

fn schema_type(s: &Value) -> &str {
    match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if s.get("properties").is_some() => "object",
        _ => "string",
    }
}

fn fill(schema: &Value, name: &str, ctx: &Ctx<'_>) -> Value {
    let lname = name.to_lowercase();
    match schema_type(schema) {
        "object" => {
            let props = schema.get("properties").and_then(Value::as_object);
            match props {
                Some(p) if !p.is_empty() => {
                    let mut m = Map::new();
                    for (k, sub) in p {
                        m.insert(k.clone(), fill(sub, k, ctx));
                    }
                    Value::Object(m)
                }
                // A free-form dict: the prices of the current source, or of all of them.
                _ => {
                    let mut m = Map::new();
                    let srcs: Vec<&Source> = match ctx.current {
                        Some(s) => vec![s],
                        None => ctx.sources.iter().collect(),
                    };
                    for s in srcs {
                        for (label, v) in &s.prices {
                            let key =
                                if ctx.current.is_some() { label.clone() } else { format!("{}: {label}", s.name) };
                            m.entry(key).or_insert(json!(v));
                        }
                    }
                    Value::Object(m)
                }
            }
        }
        "array" => {
            let items = schema.get("items").cloned().unwrap_or(json!({"type": "string"}));
            let max = schema.get("maxItems").and_then(Value::as_u64).unwrap_or(10) as usize;
            let per_source: Vec<&Source> = ctx.sources.iter().filter(|s| !s.prices.is_empty()).take(max).collect();
            if schema_type(&items) == "object" {
                per_source
                    .into_iter()
                    .map(|s| fill(&items, name, &Ctx { current: Some(s), ..*ctx }))
                    .collect::<Vec<_>>()
                    .into()
            } else {
                per_source
                    .into_iter()
                    .map(|s| fill(&items, name, &Ctx { current: Some(s), ..*ctx }))
                    .collect::<Vec<_>>()
                    .into()
            }
        }
        "number" | "integer" => {
            let v = match ctx.current {
                Some(s) => s.prices.first().map(|p| p.1),
                None => {
                    // A price chosen among those observed: the lower median of each source's
                    // cheapest price, so it is both representative and traceable.
                    let mut mins: Vec<f64> =
                        ctx.sources.iter().filter_map(|s| s.prices.iter().map(|p| p.1).reduce(f64::min)).collect();
                    lower_median(&mut mins)
                }
            };
            let v = v.unwrap_or(0.0);
            if schema_type(schema) == "integer" { json!(v.round() as i64) } else { json!(v) }
        }
        "boolean" => json!(!ctx.sources.is_empty()),
        _ => {
            // Strings.
            if let Some(s) = ctx.current {
                if ["url", "link", "source", "href"].iter().any(|k| lname.contains(k)) {
                    return json!(s.url);
                }
                if ["name", "provider", "competitor", "company", "title", "vendor"].iter().any(|k| lname.contains(k)) {
                    return json!(s.name);
                }
                return json!(s.text.chars().take(200).collect::<String>());
            }
            if let Some(p) = ctx.prose {
                return json!(p);
            }
            let mut parts: Vec<String> = Vec::new();
            for s in ctx.sources.iter().filter(|s| !s.prices.is_empty()).take(5) {
                if let Some((label, v)) = s.prices.first() {
                    parts.push(format!("{} lists {label} at ${v}", s.name));
                }
            }
            if parts.is_empty() {
                json!(format!("No priced sources were found for: {}", ctx.objective))
            } else {
                json!(format!("From {} sources: {}.", parts.len(), parts.join("; ")))
            }
        }
    }
}

/// Fill `schema` from `sources` (and `prose` from the LLM step for free-text fields), then
/// validate; a result that does not validate is an error naming the violations.
pub fn synthesize(
    schema: &Value,
    sources: &[Source],
    prose: Option<&str>,
    objective: &str,
) -> Result<Value, MinerError> {
    let ctx = Ctx { sources, current: None, prose, objective };
    let v = fill(schema, "", &ctx);
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| MinerError::BadRequest(format!("target_schema is not a valid JSON Schema: {e}")))?;
    let errors: Vec<String> =
        validator.iter_errors(&v).take(5).map(|e| format!("{e} at `{}`", e.instance_path())).collect();
    if errors.is_empty() {
        Ok(v)
    } else {
        Err(MinerError::Synth(format!("the result does not validate: {}", errors.join("; "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_prices_with_labels() {
        let p = prices(
            "Lambda Cloud on-demand pricing. NVIDIA H100 SXM: $2.49 per GPU-hour. NVIDIA A100 80GB: $1.29 per GPU-hour.",
        );
        assert_eq!(p, vec![("NVIDIA H100 SXM".to_string(), 2.49), ("NVIDIA A100 80GB".to_string(), 1.29)]);
        assert_eq!(
            prices("costs $55.04 per hour, or $6.88."),
            vec![("costs".to_string(), 55.04), ("or".to_string(), 6.88)]
        );
        assert!(prices("no money here $ nor $x").is_empty());
    }

    #[test]
    fn names() {
        assert_eq!(source_name("Lambda Cloud GPU pricing (simulated)"), "Lambda Cloud");
        assert_eq!(source_name("Amazon EC2 P5 instances pricing (simulated)"), "Amazon EC2 P5");
    }

    #[test]
    fn fills_the_worked_example() {
        let schema = orchestra_proto::shorthand::to_json_schema(&json!({
            "competitors": [{"name": "str", "pricing": "dict"}],
            "recommendation": {"price_point": "float", "rationale": "str"}
        }))
        .expect("schema");
        let src = |name: &str, text: &str| Source {
            name: name.into(),
            url: format!("https://{name}"),
            text: text.into(),
            prices: prices(text),
        };
        let sources =
            vec![src("A", "H100: $2.49 per hour."), src("B", "H100: $4.25 per hour."), src("C", "H100: $2.79.")];
        let v = synthesize(&schema, &sources, Some("grounded prose"), "gpu").expect("valid");
        assert_eq!(v["competitors"].as_array().expect("list").len(), 3);
        assert_eq!(v["competitors"][0]["pricing"]["H100"], json!(2.49));
        assert_eq!(v["recommendation"]["price_point"], json!(2.79));
        assert_eq!(v["recommendation"]["rationale"], json!("grounded prose"));
        // A schema the data cannot satisfy is an error, not a made-up value.
        let strict =
            json!({"type": "object", "required": ["x"], "properties": {"x": {"type": "string", "enum": ["never"]}}});
        assert!(synthesize(&strict, &sources, None, "gpu").is_err());
    }
}
