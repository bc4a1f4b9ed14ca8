//! Golden tests against `shared/vectors/bittensor.json`, produced by the Python SDK. Every vector
//! that concerns pure protocol logic is checked here (key and signature vectors are checked by
//! `crates/keys`, which owns the cryptography).

use orchestra_proto::{body_hash, btauth, weights::convert_weights_and_uids_for_emit, wire};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors/bittensor.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).expect("vectors are JSON")
}

#[test]
fn body_hash_vectors() {
    let v = vectors();
    let cases = v["body_hash"].as_array().expect("array");
    assert!(!cases.is_empty());
    for case in cases {
        let strs: Vec<String> = case["values_python_str"]
            .as_array()
            .expect("values")
            .iter()
            .map(|s| s.as_str().expect("str").to_string())
            .collect();
        assert_eq!(body_hash::body_hash_from_strs(&strs), case["computed_body_hash"].as_str().expect("hash"));
    }
}

#[test]
fn body_hash_from_python_values() {
    // The same SDK vector, starting from the values rather than their str(): a=1, b=2, d=["foobar"].
    let body: serde_json::Map<String, Value> =
        serde_json::from_str(r#"{"a": 1, "b": 2, "c": 3, "d": ["foobar"]}"#).expect("json");
    let h = body_hash::body_hash(&body, &["a", "b", "d"]).expect("hash");
    assert_eq!(h, "ae06397d08f30f75c91395c59f05c62ac3b62b88250eb78b109213258e6ced0c");
}

#[test]
fn weight_vectors() {
    let v = vectors();
    let cases = v["weights_for_emit"].as_array().expect("array");
    assert_eq!(cases.len(), 8);
    for case in cases {
        let uids: Vec<u16> = serde_json::from_value(case["uids"].clone()).expect("uids");
        let w: Vec<f64> = serde_json::from_value(case["weights"].clone()).expect("weights");
        let want_uids: Vec<u16> = serde_json::from_value(case["out_uids"].clone()).expect("out_uids");
        let want_w: Vec<u16> = serde_json::from_value(case["out_u16"].clone()).expect("out_u16");
        let (u, o) = convert_weights_and_uids_for_emit(&uids, &w).expect("convert");
        assert_eq!((u, o), (want_uids, want_w), "case {case}");
    }
}

#[test]
fn btauth_payload_vector() {
    let v = vectors();
    let b = &v["btauth_v1"];
    let payload = btauth::payload(
        b["method"].as_str().expect("method"),
        b["path"].as_str().expect("path"),
        b["body_utf8"].as_str().expect("body").as_bytes(),
        b["nonce"].as_str().expect("nonce").parse().expect("nonce int"),
        "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
        Some("5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"),
    );
    assert_eq!(payload, b["payload"].as_str().expect("payload"));
}

#[test]
fn dendrite_message_vectors() {
    // The signature vectors that are dendrite messages parse back into their parts.
    let v = vectors();
    for sig in v["signatures"].as_array().expect("array") {
        let msg = sig["message_utf8"].as_str().expect("msg");
        let parts: Vec<&str> = msg.split('.').collect();
        if parts.len() == 5 {
            let rebuilt =
                wire::dendrite_message(parts[0].parse().expect("nonce"), parts[1], parts[2], parts[3], parts[4]);
            assert_eq!(rebuilt, msg);
            assert_eq!(parts[4], body_hash::EMPTY_BODY_HASH);
        }
    }
}
