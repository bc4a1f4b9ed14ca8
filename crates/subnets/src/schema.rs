//! JSON Schema checks of subnet inputs and outputs, and drift detection: comparing a live
//! response with the schema the Ledger holds for it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::SubnetError;

/// Validate `value` against `schema`; the error lists the first few violations with their paths.
pub fn validate(schema: &Value, value: &Value, what: &str) -> Result<(), SubnetError> {
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| SubnetError::Schema(format!("{what}: the schema itself is invalid: {e}")))?;
    let errors: Vec<String> =
        validator.iter_errors(value).take(5).map(|e| format!("{} at `{}`", e, e.instance_path())).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(SubnetError::Schema(format!("{what} does not match its schema: {}", errors.join("; "))))
    }
}

/// `input` with each required top-level field it leaves out filled from that field's `default`
/// in `schema` (e.g. SN22's `tools: ["web"]`), so every caller sends what the subnet requires
/// without knowing each subnet. Fields without a default, and non-object inputs, are left alone.
pub fn fill_defaults(schema: &Value, input: &Value) -> Value {
    let (Some(obj), Some(props)) = (input.as_object(), schema.get("properties").and_then(Value::as_object)) else {
        return input.clone();
    };
    let mut out = obj.clone();
    for r in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if !out.contains_key(r)
            && let Some(d) = props.get(r).and_then(|p| p.get("default"))
        {
            out.insert(r.to_string(), d.clone());
        }
    }
    Value::Object(out)
}

/// A difference between a live response and the Ledger's output schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Drift {
    /// The response has a field the schema does not declare.
    Unknown { path: String, schema_path: String, observed: Value },
    /// A field the schema requires is missing.
    Missing { path: String, schema_path: String },
    /// A field has another type than the schema says.
    Retyped { path: String, schema_path: String, expected: Value, observed: Value },
    /// The endpoint answered with a redirect to a new location.
    Moved { from: String, to: String },
}

/// The JSON Schema type name of a value.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A minimal schema describing an observed value (what a drift proposal suggests).
pub fn infer_schema(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let props: Map<String, Value> = m.iter().map(|(k, x)| (k.clone(), infer_schema(x))).collect();
            json!({"type": "object", "properties": props})
        }
        Value::Array(a) => match a.first() {
            Some(x) => json!({"type": "array", "items": infer_schema(x)}),
            None => json!({"type": "array"}),
        },
        other => json!({"type": type_name(other)}),
    }
}

fn type_matches(schema: &Map<String, Value>, v: &Value) -> bool {
    let t = type_name(v);
    let ok = |s: &str| s == t || (s == "number" && t == "integer");
    match schema.get("type") {
        Some(Value::String(s)) => ok(s),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).any(ok),
        _ => true,
    }
}

/// Drift of `value` against `schema`. Only the first item of each array is inspected (items
/// share a schema, and one example is enough evidence); each finding is reported once.
pub fn detect(schema: &Value, value: &Value) -> Vec<Drift> {
    let mut out = Vec::new();
    walk(schema, value, "", "output_schema", &mut out);
    out
}

fn walk(schema: &Value, v: &Value, path: &str, spath: &str, out: &mut Vec<Drift>) {
    let Some(s) = schema.as_object() else { return };
    if !type_matches(s, v) {
        out.push(Drift::Retyped {
            path: path.to_string(),
            schema_path: spath.to_string(),
            expected: s.get("type").cloned().unwrap_or(Value::Null),
            observed: Value::String(type_name(v).into()),
        });
        return;
    }
    match v {
        Value::Object(m) => {
            let Some(props) = s.get("properties").and_then(Value::as_object) else { return };
            let required: Vec<&str> = s
                .get("required")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for r in required {
                if !m.contains_key(r) {
                    out.push(Drift::Missing { path: join(path, r), schema_path: format!("{spath}.properties.{r}") });
                }
            }
            for (k, x) in m {
                let child_path = join(path, k);
                let child_spath = format!("{spath}.properties.{k}");
                match props.get(k) {
                    Some(ps) => walk(ps, x, &child_path, &child_spath, out),
                    None => {
                        // additionalProperties: false is a contract the other way round; an
                        // undeclared field is drift either way.
                        out.push(Drift::Unknown {
                            path: child_path,
                            schema_path: child_spath,
                            observed: infer_schema(x),
                        })
                    }
                }
            }
        }
        Value::Array(a) => {
            if let (Some(items), Some(first)) = (s.get("items"), a.first()) {
                walk(items, first, &format!("{path}[]"), &format!("{spath}.items"), out);
            }
        }
        _ => {}
    }
}

fn join(base: &str, k: &str) -> String {
    if base.is_empty() { k.to_string() } else { format!("{base}.{k}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_defaults_are_filled() {
        let schema = json!({"type": "object", "required": ["prompt", "tools", "n"], "properties": {
            "prompt": {"type": "string"}, "tools": {"type": "array", "default": ["web"]}, "n": {"type": "integer"},
            "count": {"type": "integer", "default": 10}}});
        assert_eq!(fill_defaults(&schema, &json!({"prompt": "q"})), json!({"prompt": "q", "tools": ["web"]}));
        assert_eq!(fill_defaults(&schema, &json!({"prompt": "q", "tools": []})), json!({"prompt": "q", "tools": []}));
        assert_eq!(fill_defaults(&schema, &json!("x")), json!("x"));
    }

    #[test]
    fn finds_unknown_missing_and_retyped_fields() {
        let schema = json!({"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items":
            {"type": "object", "required": ["uri", "content"], "properties": {"uri": {"type": "string"}, "content": {"type": "string"},
             "size": {"type": "integer"}}}}}});
        let ok = json!({"data": [{"uri": "u", "content": "c", "size": 3}]});
        assert!(detect(&schema, &ok).is_empty());
        let drifted = json!({"data": [{"uri": "u", "size": "3", "metadata": {"scrape_timestamp": "2026"}}]});
        let d = detect(&schema, &drifted);
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d.iter().any(|x| matches!(x, Drift::Missing { path, .. } if path == "data[].content")));
        assert!(d.iter().any(|x| matches!(x, Drift::Retyped { path, .. } if path == "data[].size")));
        let unknown = d.iter().find_map(|x| match x {
            Drift::Unknown { schema_path, observed, .. } => Some((schema_path.clone(), observed.clone())),
            _ => None,
        });
        let (sp, obs) = unknown.expect("unknown field");
        assert_eq!(sp, "output_schema.properties.data.items.properties.metadata");
        assert_eq!(obs, json!({"type": "object", "properties": {"scrape_timestamp": {"type": "string"}}}));
        assert!(validate(&schema, &drifted, "response").is_err());
        assert!(validate(&schema, &ok, "response").is_ok());
    }
}
