//! Typed diffs between two JSON Schemas: which changes break callers (a field removed, a type
//! changed, a field made required), which only add (a new optional field, a widened enum), and
//! which are cosmetic (titles, descriptions, examples). The Ledger labels every schema change
//! with the worst class it contains so clients can subscribe to breaking changes only.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How much a change matters to a caller. Ordered: `Cosmetic < Additive < Breaking`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Cosmetic,
    Additive,
    Breaking,
}

/// One difference, at a dotted property path (`metadata.scrape_timestamp`, `items` for arrays).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaChange {
    pub path: String,
    pub severity: Severity,
    pub what: String,
}

/// All differences from `old` to `new`.
pub fn diff(old: &Value, new: &Value) -> Vec<SchemaChange> {
    let mut out = Vec::new();
    walk("", old, new, &mut out);
    out
}

/// The worst severity in a diff (None when the schemas are equal).
pub fn severity(changes: &[SchemaChange]) -> Option<Severity> {
    changes.iter().map(|c| c.severity).max()
}

const COSMETIC_KEYS: &[&str] = &["title", "description", "examples", "$comment", "default"];

fn join(base: &str, k: &str) -> String {
    if base.is_empty() { k.to_string() } else { format!("{base}.{k}") }
}

fn types_of(v: &Map<String, Value>) -> Vec<String> {
    match v.get("type") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

fn required_of(v: &Map<String, Value>) -> Vec<String> {
    v.get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn walk(path: &str, old: &Value, new: &Value, out: &mut Vec<SchemaChange>) {
    let (Some(o), Some(n)) = (old.as_object(), new.as_object()) else {
        if old != new {
            out.push(SchemaChange { path: path.into(), severity: Severity::Breaking, what: "schema replaced".into() });
        }
        return;
    };
    let push = |out: &mut Vec<SchemaChange>, sev, what: String| {
        out.push(SchemaChange { path: if path.is_empty() { "$".into() } else { path.into() }, severity: sev, what })
    };
    let (ot, nt) = (types_of(o), types_of(n));
    if ot != nt {
        let widened = !ot.is_empty() && ot.iter().all(|t| nt.contains(t));
        let sev = if widened { Severity::Additive } else { Severity::Breaking };
        push(out, sev, format!("type {ot:?} -> {nt:?}"));
    }
    for k in COSMETIC_KEYS {
        if o.get(*k) != n.get(*k) {
            push(out, Severity::Cosmetic, format!("{k} changed"));
        }
    }
    if o.get("format") != n.get("format") {
        push(out, Severity::Breaking, format!("format {:?} -> {:?}", o.get("format"), n.get("format")));
    }
    if o.get("enum") != n.get("enum") {
        let oe = o.get("enum").and_then(Value::as_array).cloned().unwrap_or_default();
        let ne = n.get("enum").and_then(Value::as_array).cloned().unwrap_or_default();
        let widened = !oe.is_empty() && oe.iter().all(|x| ne.contains(x)) || ne.is_empty();
        push(out, if widened { Severity::Additive } else { Severity::Breaking }, "enum changed".into());
    }
    let (oreq, nreq) = (required_of(o), required_of(n));
    for r in nreq.iter().filter(|r| !oreq.contains(r)) {
        out.push(SchemaChange { path: join(path, r), severity: Severity::Breaking, what: "became required".into() });
    }
    for r in oreq.iter().filter(|r| !nreq.contains(r)) {
        out.push(SchemaChange { path: join(path, r), severity: Severity::Additive, what: "no longer required".into() });
    }
    let empty = Map::new();
    let op = o.get("properties").and_then(Value::as_object).unwrap_or(&empty);
    let np = n.get("properties").and_then(Value::as_object).unwrap_or(&empty);
    for (k, ov) in op {
        match np.get(k) {
            Some(nv) => walk(&join(path, k), ov, nv, out),
            None => out.push(SchemaChange {
                path: join(path, k),
                severity: Severity::Breaking,
                what: "field removed".into(),
            }),
        }
    }
    for k in np.keys().filter(|k| !op.contains_key(*k)) {
        let sev = if nreq.contains(k) { Severity::Breaking } else { Severity::Additive };
        out.push(SchemaChange { path: join(path, k), severity: sev, what: "field added".into() });
    }
    match (o.get("items"), n.get("items")) {
        (Some(oi), Some(ni)) => walk(&join(path, "items"), oi, ni, out),
        (None, None) => {}
        _ => out.push(SchemaChange {
            path: join(path, "items"),
            severity: Severity::Breaking,
            what: "items changed".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"type": "object", "required": ["uri"], "properties": {
            "uri": {"type": "string"},
            "metadata": {"type": "object", "properties": {"source": {"type": "string", "enum": ["x", "reddit"]}}}
        }})
    }

    #[test]
    fn classifies_changes() {
        let old = base();
        assert!(diff(&old, &old).is_empty());

        let mut added = base();
        added["properties"]["metadata"]["properties"]["scrape_timestamp"] =
            json!({"type": "string", "format": "date-time"});
        let d = diff(&old, &added);
        assert_eq!(severity(&d), Some(Severity::Additive));
        assert_eq!(d[0].path, "metadata.scrape_timestamp");

        let mut removed = base();
        removed["properties"].as_object_mut().expect("obj").remove("uri");
        assert_eq!(severity(&diff(&old, &removed)), Some(Severity::Breaking));

        let mut retyped = base();
        retyped["properties"]["uri"] = json!({"type": "integer"});
        assert_eq!(severity(&diff(&old, &retyped)), Some(Severity::Breaking));

        let mut described = base();
        described["properties"]["uri"]["description"] = json!("the link");
        assert_eq!(severity(&diff(&old, &described)), Some(Severity::Cosmetic));

        let mut widened = base();
        widened["properties"]["metadata"]["properties"]["source"]["enum"] = json!(["x", "reddit", "youtube"]);
        assert_eq!(severity(&diff(&old, &widened)), Some(Severity::Additive));

        let mut narrowed = base();
        narrowed["properties"]["metadata"]["properties"]["source"]["enum"] = json!(["x"]);
        assert_eq!(severity(&diff(&old, &narrowed)), Some(Severity::Breaking));

        let mut nullable = base();
        nullable["properties"]["uri"]["type"] = json!(["string", "null"]);
        assert_eq!(severity(&diff(&old, &nullable)), Some(Severity::Additive));
    }
}
