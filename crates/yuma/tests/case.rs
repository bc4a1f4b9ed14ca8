//! Tests of the owner's JSON front end (`orchestra_yuma::case`), including the example case
//! shipped in `examples/case.json`.

use orchestra_yuma::{CASE_FORMAT_HELP, Variant, YumaError, run_case_json};
use serde_json::Value;

const EXAMPLE: &str = include_str!("../examples/case.json");

fn floats(v: &Value, key: &str) -> Vec<f64> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is an array"))
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

#[test]
fn example_case_runs_for_both_variants() {
    for variant in [Variant::Yuma2, Variant::Yuma3] {
        let out = run_case_json(EXAMPLE, variant).expect("example case is valid");
        assert_eq!(out["validators"], serde_json::json!(["big", "eager", "lazy"]));
        assert_eq!(out["miners"], serde_json::json!(["steady", "newcomer"]));
        let consensus = floats(&out, "consensus");
        let incentive = floats(&out, "incentive");
        let dividends = floats(&out, "dividends");
        assert_eq!(consensus.len(), 2);
        assert_eq!(dividends.len(), 3);
        assert!((incentive.iter().sum::<f64>() - 1.0).abs() < 1e-6);
        assert!((dividends.iter().sum::<f64>() - 1.0).abs() < 1e-6);
        // The big validator and the lazy one agree with consensus on "steady": it gets the most.
        assert!(incentive[0] > incentive[1]);
        assert!(dividends[0] > dividends[1]);
        let new_bonds = out["new_bonds"].as_array().expect("new_bonds");
        assert_eq!(new_bonds.len(), 3);
        assert!(new_bonds.iter().all(|row| row.as_array().is_some_and(|r| r.len() == 2)));
        assert_eq!(out["history"].as_array().map(Vec::len), Some(3));
        let paid: u64 = ["miner_emission", "validator_emission"]
            .iter()
            .flat_map(|k| out[*k].as_array().cloned().unwrap_or_default())
            .map(|x| x.as_u64().unwrap_or(0))
            .sum();
        assert!(paid.abs_diff(1_000_000_000) <= 10, "{paid}");
    }
}

#[test]
fn bonds_feed_back_into_the_next_run() {
    let first = run_case_json(r#"{"stakes": [3, 1], "weights": [[1, 0], [0, 1]]}"#, Variant::Yuma2).expect("valid");
    let bonds = first["new_bonds"].clone();
    assert_eq!(first["consensus"], serde_json::json!([1.0, 0.0]));
    let second = serde_json::json!({"stakes": [3, 1], "weights": [[1, 0], [0, 1]], "bonds": bonds});
    let out = run_case_json(&second.to_string(), Variant::Yuma2).expect("valid");
    assert_eq!(out["new_bonds"].as_array().map(Vec::len), Some(2));
    // Running two epochs in one case equals feeding the bonds back by hand.
    let two = run_case_json(r#"{"stakes": [3, 1], "weights": [[1, 0], [0, 1]], "epochs": 2}"#, Variant::Yuma2)
        .expect("valid");
    assert_eq!(two["new_bonds"], out["new_bonds"]);
    assert_eq!(two["dividends"], out["dividends"]);
}

#[test]
fn bad_cases_get_clear_errors() {
    let cases = [
        ("not json", "case JSON"),
        (r#"{"stakes": [1], "weights": [[1, 2], [3, 4]]}"#, "2 rows but `stakes` has 1"),
        (r#"{"stakes": [1, 1], "weights": [[1, 2], [3]]}"#, "row 1 has 1 entries, expected 2"),
        (r#"{"stakes": [1], "weights": [[-1, 2]]}"#, "finite and non-negative"),
        (r#"{"stakes": [1], "weights": [[1]], "kappa": 3}"#, "unknown field `kappa`"),
        (r#"{"stakes": [1], "weights": [[1]], "hyperparams": {"kapa": 3}}"#, "unknown field `kapa`"),
        (r#"{"stakes": [1], "weights": [[1]], "bonds": [[1, 2]]}"#, "`bonds` row 0"),
        (r#"{"stakes": [1], "weights": [[1]], "epochs": 0}"#, "at least 1"),
        (r#"{"stakes": [], "weights": []}"#, "at least one validator"),
        (r#"{"stakes": [1], "weights": [[1]], "miners": ["a", "b"]}"#, "`miners` names 2"),
        (
            r#"{"stakes": [1], "weights": [[1]], "hyperparams": {"bonds_moving_average": 2000000}}"#,
            "bonds_moving_average",
        ),
    ];
    for (input, needle) in cases {
        let err = run_case_json(input, Variant::Yuma3).expect_err(input);
        let msg = err.to_string();
        assert!(msg.contains(needle), "{input}: `{msg}` lacks `{needle}`");
    }
    assert!(matches!(run_case_json("[]", Variant::Yuma2), Err(YumaError::Json(_))));
}

#[test]
fn help_text_documents_every_case_field() {
    for field in ["stakes", "weights", "validators", "miners", "bonds", "emission", "epochs", "fidelity", "hyperparams"]
    {
        assert!(CASE_FORMAT_HELP.contains(field), "{field}");
    }
    let example = serde_json::json!({
        "stakes": [8, 1, 1],
        "weights": [[1, 0], [0, 1], [1, 0]],
        "hyperparams": {"bonds_moving_average": 975000, "liquid_alpha_enabled": true}
    });
    assert!(CASE_FORMAT_HELP.contains(&example["hyperparams"]["bonds_moving_average"].to_string()));
    run_case_json(&example.to_string(), Variant::Yuma3).expect("the help's example runs");
}

#[test]
fn variant_names_parse() {
    assert_eq!("yuma3".parse::<Variant>(), Ok(Variant::Yuma3));
    assert_eq!("Yuma2".parse::<Variant>(), Ok(Variant::Yuma2));
    assert!("yuma4".parse::<Variant>().is_err());
}
