//! The schema shorthand of the Orchestra README (`{"name": "str", "pricing": "dict"}`,
//! `[{...}]` for lists) turned into real JSON Schema. The API takes JSON Schema; this is a
//! convenience for clients that write the shorthand.

use serde_json::{Map, Value, json};

use crate::ProtoError;

/// Whether `v` already looks like a JSON Schema (has `type`, `properties`, `$schema`, ...).
pub fn is_json_schema(v: &Value) -> bool {
    v.as_object().is_some_and(|m| {
        ["type", "properties", "$schema", "items", "anyOf", "oneOf", "allOf", "enum", "$ref"]
            .iter()
            .any(|k| m.contains_key(*k))
    })
}

/// Convert shorthand to JSON Schema; a value that is already JSON Schema is returned as is.
/// Every field of a shorthand object is required.
pub fn to_json_schema(v: &Value) -> Result<Value, ProtoError> {
    if is_json_schema(v) {
        return Ok(v.clone());
    }
    convert(v, "$")
}

fn convert(v: &Value, at: &str) -> Result<Value, ProtoError> {
    match v {
        Value::String(t) => {
            let ty = match t.as_str() {
                "str" | "string" => "string",
                "int" | "integer" => "integer",
                "float" | "number" => "number",
                "bool" | "boolean" => "boolean",
                "dict" | "object" => "object",
                "list" | "array" => "array",
                other => {
                    return Err(ProtoError::Invalid(format!(
                        "schema shorthand at {at}: unknown type `{other}` (str, int, float, bool, dict, list)"
                    )));
                }
            };
            Ok(json!({"type": ty}))
        }
        Value::Array(items) => match items.as_slice() {
            [one] => Ok(json!({"type": "array", "items": convert(one, &format!("{at}[]"))?})),
            [] => Ok(json!({"type": "array"})),
            _ => Err(ProtoError::Invalid(format!("schema shorthand at {at}: a list takes one item schema"))),
        },
        Value::Object(m) => {
            let mut props = Map::new();
            for (k, x) in m {
                props.insert(k.clone(), convert(x, &format!("{at}.{k}"))?);
            }
            let required: Vec<Value> = m.keys().map(|k| Value::String(k.clone())).collect();
            Ok(json!({"type": "object", "required": required, "properties": props}))
        }
        other => Err(ProtoError::Invalid(format!("schema shorthand at {at}: `{other}` is not a type"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_shorthand() {
        let s = json!({
            "competitors": [{"name": "str", "pricing": "dict"}],
            "recommendation": {"price_point": "float", "rationale": "str"}
        });
        let j = to_json_schema(&s).expect("convert");
        assert_eq!(j["properties"]["competitors"]["items"]["properties"]["pricing"], json!({"type": "object"}));
        assert_eq!(j["properties"]["recommendation"]["properties"]["price_point"], json!({"type": "number"}));
        assert_eq!(j["required"], json!(["competitors", "recommendation"]));
        assert_eq!(to_json_schema(&j).expect("idempotent"), j);
        assert!(to_json_schema(&json!({"x": "datetime"})).expect_err("bad").to_string().contains("datetime"));
    }
}
