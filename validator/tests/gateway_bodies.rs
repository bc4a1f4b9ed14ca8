//! Property tests for the gateway's request bodies (threat model, "Parsers that take network
//! input"): arbitrary bytes and arbitrary objective-shaped JSON never panic, and each is either
//! accepted or refused with a named code (`bad_json`, `bad_objective`, `bad_schema`,
//! `bad_feedback`).
//!
//! Bounded for the normal run (`PROPTEST_CASES`, default 256 per property); a long run is
//! documented in `docs/threat-model.md`.

use orchestra_validator::gateway::{parse_objective, parse_revise};
use proptest::prelude::*;
use serde_json::{Value, json};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| json!(x)),
        "[ -~]{0,16}".prop_map(Value::String),
        prop::sample::select(vec![
            "str", "int", "float", "bool", "dict", "list", "string", "object", "array", "number"
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                "[a-z_$]{0,8}|type|properties|items|required|enum|pattern|\\$ref|anyOf|minimum|format|deadline_ms|budget_micros",
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn objective_body() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof!["[ -~]{0,60}", Just(String::new()), Just("x".repeat(9000))],
        json_value(),
        prop::option::of(json_value()),
        json_value(),
        prop_oneof![Just(json!(1)), json_value()],
    )
        .prop_map(|(objective, schema, contract, inputs, top_n)| {
            let mut m = serde_json::Map::new();
            m.insert("objective".into(), json!(objective));
            m.insert("target_schema".into(), schema);
            if let Some(c) = contract {
                m.insert("contract".into(), c);
            }
            m.insert("inputs".into(), inputs);
            m.insert("top_n".into(), top_n);
            serde_json::to_vec(&Value::Object(m)).unwrap_or_default()
        })
}

const CODES: &[&str] = &["bad_json", "bad_objective", "bad_schema", "bad_feedback"];

proptest! {
    // 256 cases unless PROPTEST_CASES says otherwise (the long run).
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn objective_bodies_are_accepted_or_refused_by_name(body in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
        objective_body(),
    ]) {
        match parse_objective(&body) {
            Ok(r) => prop_assert!(!r.objective.trim().is_empty()),
            Err(e) => prop_assert!(CODES.contains(&e.code) && !e.message.is_empty(), "{e:?}"),
        }
    }

    #[test]
    fn revise_bodies_are_accepted_or_refused_by_name(body in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        json_value().prop_map(|v| serde_json::to_vec(&json!({"feedback": v})).unwrap_or_default()),
        "[ -~]{0,40}".prop_map(|s| serde_json::to_vec(&json!({"feedback": s})).unwrap_or_default()),
    ]) {
        match parse_revise(&body) {
            Ok(f) => prop_assert!(!f.trim().is_empty() && f.len() <= 2000),
            Err(e) => prop_assert!(CODES.contains(&e.code) && !e.message.is_empty(), "{e:?}"),
        }
    }
}

#[test]
fn the_readme_objective_is_accepted() {
    let body = json!({"objective": "cheapest H100", "target_schema": {"provider": "str", "price": "float"}});
    assert!(parse_objective(body.to_string().as_bytes()).is_ok());
    let bad = json!({"objective": "x", "target_schema": {"a": "decimal"}});
    assert_eq!(parse_objective(bad.to_string().as_bytes()).expect_err("refused").code, "bad_schema");
    let bad = json!({"objective": " ", "target_schema": {"a": "str"}});
    assert_eq!(parse_objective(bad.to_string().as_bytes()).expect_err("refused").code, "bad_objective");
    assert_eq!(parse_objective(b"{").expect_err("refused").code, "bad_json");
}
