//! Property tests of the parsers that read network input: v10 request headers and envelopes,
//! and `btauth/1` headers. Arbitrary and mutated input never panics and either parses or is
//! refused with the named error; what an encoder writes parses back to the same value.
//!
//! Bounded for the normal test run (256 cases per property by default, a few seconds in all);
//! a long run: `PROPTEST_CASES=100000 cargo nextest run -p orchestra-proto --test fuzz_parsers`
//! (see docs/threat-model.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use orchestra_proto::ProtoError;
use orchestra_proto::btauth::{self, AuthHeaders};
use orchestra_proto::wire::{Envelope, PyType, RequestHeaders, Synapse, TerminalInfo, headers, request_header_pairs};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// A synapse with the field shapes real ones have: a hashed string, an optional list, a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Probe {
    query: String,
    #[serde(default)]
    items: Option<Vec<String>>,
    #[serde(default)]
    limit: u32,
}

impl Synapse for Probe {
    const NAME: &'static str = "Probe";
    const REQUIRED_FIELDS: &'static [(&'static str, PyType)] = &[("query", PyType::Str)];
    const HASH_FIELDS: &'static [&'static str] = &["query", "items"];
}

/// Header names the parsers look at, plus noise, in any letter case.
fn header_name() -> impl Strategy<Value = String> {
    let known = prop::sample::select(vec![
        headers::NAME,
        headers::TIMEOUT,
        headers::COMPUTED_BODY_HASH,
        "bt_header_dendrite_nonce",
        "bt_header_dendrite_hotkey",
        "bt_header_dendrite_signature",
        "bt_header_dendrite_port",
        "bt_header_dendrite_version",
        "bt_header_dendrite_process_time",
        "bt_header_dendrite_status_code",
        "bt_header_dendrite_uuid",
        "bt_header_axon_hotkey",
        "bt_header_axon_port",
        "bt_header_axon_nonce",
        "bt_header_input_obj_query",
        "bt_header_input_obj_",
        btauth::HEADER_VERSION,
        btauth::HEADER_HOTKEY,
        btauth::HEADER_NONCE,
        btauth::HEADER_SIGNATURE,
        btauth::HEADER_RECEIVER,
        btauth::HEADER_CRYPTO,
        "content-type",
    ]);
    prop_oneof![
        4 => (known, any::<bool>()).prop_map(|(n, upper)| if upper { n.to_ascii_uppercase() } else { n.to_string() }),
        1 => "[a-zA-Z_-]{0,40}",
        1 => any::<String>(),
    ]
}

/// Values: numbers (in and out of range), base64, JSON, and arbitrary text.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i128>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        prop::sample::select(vec!["1", "", " ", "NaN", "inf", "-0", "1e999", "0x10", "sr25519", "ed25519", "-"])
            .prop_map(str::to_string),
        "[A-Za-z0-9+/=]{0,64}",
        any::<Vec<u8>>().prop_map(|b| base64_encode(&b)),
        any::<String>(),
    ]
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((header_name(), header_value()), 0..24)
}

fn as_refs(p: &[(String, String)]) -> Vec<(&str, &str)> {
    p.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

fn terminal() -> impl Strategy<Value = TerminalInfo> {
    // Header values are single-line visible text on the wire; strings are kept as sent.
    let text = "[ -~]{0,40}".prop_map(|s: String| s.trim().to_string());
    (
        prop::option::of(any::<i64>()),
        prop::option::of(text.clone()),
        prop::option::of(-1.0e12f64..1.0e12),
        prop::option::of(text.clone()),
        prop::option::of(any::<u16>()),
        prop::option::of(any::<u64>()),
        prop::option::of(any::<u64>()),
        prop::option::of(text.clone()),
        prop::option::of(text.clone()),
        prop::option::of(text),
    )
        .prop_map(
            |(status_code, status_message, process_time, ip, port, version, nonce, uuid, hotkey, signature)| {
                TerminalInfo {
                    status_code,
                    status_message,
                    process_time,
                    ip,
                    port,
                    version,
                    nonce,
                    uuid,
                    hotkey,
                    signature,
                }
            },
        )
}

fn probe() -> impl Strategy<Value = Probe> {
    (any::<String>(), prop::option::of(prop::collection::vec(any::<String>(), 0..4)), any::<u32>())
        .prop_map(|(query, items, limit)| Probe { query, items, limit })
}

fn envelope() -> impl Strategy<Value = Envelope<Probe>> {
    (probe(), terminal(), terminal(), 0.0f64..1.0e6, "[0-9a-f]{0,64}").prop_map(|(body, dendrite, axon, timeout, h)| {
        let mut env = Envelope::new(body);
        env.dendrite = dendrite;
        env.axon = axon;
        env.timeout = timeout;
        env.computed_body_hash = h;
        env
    })
}

/// The only errors a header parser may return.
fn named_header_error(e: &ProtoError) -> bool {
    matches!(e, ProtoError::BadHeader { .. } | ProtoError::MissingHeader(_))
}

proptest! {
    #[test]
    fn v10_request_headers_never_panic(p in pairs()) {
        match RequestHeaders::parse(as_refs(&p)) {
            Ok(_) => {}
            Err(e) => prop_assert!(named_header_error(&e), "unexpected error {e:?}"),
        }
    }

    #[test]
    fn v10_request_headers_round_trip(env in envelope(), hash in "[0-9a-f]{64}") {
        let pairs = request_header_pairs(&env, &hash);
        let parsed = RequestHeaders::parse(as_refs(&pairs)).expect("what we send parses");
        prop_assert_eq!(parsed.name.as_deref(), Some("Probe"));
        prop_assert_eq!(parsed.computed_body_hash.as_deref(), Some(hash.as_str()));
        prop_assert_eq!(parsed.timeout, Some(env.timeout));
        prop_assert_eq!(&parsed.dendrite, &env.dendrite);
        prop_assert_eq!(&parsed.axon, &env.axon);
        prop_assert_eq!(parsed.input_obj.get("query"), Some(&serde_json::json!("")));
    }

    #[test]
    fn v10_mutated_header_values_never_panic(env in envelope(), at in any::<prop::sample::Index>(), v in header_value()) {
        let mut pairs = request_header_pairs(&env, "00");
        let i = at.index(pairs.len());
        pairs[i].1 = v;
        if let Err(e) = RequestHeaders::parse(as_refs(&pairs)) {
            prop_assert!(named_header_error(&e), "unexpected error {e:?}");
        }
    }

    #[test]
    fn envelopes_from_arbitrary_bytes_never_panic(bytes in any::<Vec<u8>>()) {
        if let Ok(env) = serde_json::from_slice::<Envelope<Probe>>(&bytes) {
            let _ = env.body_hash();
        }
    }

    #[test]
    fn envelopes_round_trip_and_survive_mutation(
        env in envelope(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let json = serde_json::to_vec(&env).unwrap();
        let back: Envelope<Probe> = serde_json::from_slice(&json).expect("what we send parses");
        prop_assert_eq!(&back.body, &env.body);
        prop_assert_eq!(&back.dendrite, &env.dendrite);
        prop_assert_eq!(&back.axon, &env.axon);
        prop_assert_eq!(back.body_hash().unwrap(), env.body_hash().unwrap());
        let mut bent = json;
        for (at, b) in flips {
            let i = at.index(bent.len());
            bent[i] = b;
        }
        if let Ok(env) = serde_json::from_slice::<Envelope<Probe>>(&bent) {
            let _ = env.body_hash();
        }
    }

    #[test]
    fn btauth_headers_never_panic(p in pairs()) {
        match AuthHeaders::parse(as_refs(&p)) {
            Ok(None) => {
                // No auth header at all.
                let any_auth = p.iter().any(|(n, _)| {
                    let n = n.to_ascii_lowercase();
                    n == btauth::HEADER_VERSION || n == btauth::HEADER_HOTKEY || n == btauth::HEADER_SIGNATURE
                });
                prop_assert!(!any_auth, "auth headers present but not parsed");
            }
            Ok(Some(a)) => {
                // Only a complete set parses, and the nonce is the header's number.
                let nonce = p.iter().rev().find(|(n, _)| n.eq_ignore_ascii_case(btauth::HEADER_NONCE)).map(|(_, v)| v.trim());
                prop_assert_eq!(nonce.and_then(|v| v.parse::<u64>().ok()), Some(a.nonce_ns));
            }
            Err(e) => prop_assert!(named_header_error(&e), "unexpected error {e:?}"),
        }
    }

    #[test]
    fn btauth_headers_round_trip(
        hotkey in "[1-9A-HJ-NP-Za-km-z]{1,48}",
        nonce_ns in any::<u64>(),
        signature in "(0x)?[0-9a-f]{0,128}",
        receiver in prop::option::of("[1-9A-HJ-NP-Za-km-z]{1,48}"),
        noise in pairs(),
    ) {
        let a = AuthHeaders { hotkey, nonce_ns, signature, receiver };
        let mut sent: Vec<(String, String)> = a.to_pairs().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        // Unrelated headers before it change nothing.
        let noise: Vec<_> = noise.into_iter().filter(|(n, _)| !n.to_ascii_lowercase().starts_with("x-bittensor-")).collect();
        let mut all = noise;
        all.append(&mut sent);
        prop_assert_eq!(AuthHeaders::parse(as_refs(&all)).expect("parses"), Some(a));
    }

    #[test]
    fn btauth_mutated_headers_never_panic(
        nonce_ns in any::<u64>(),
        at in any::<prop::sample::Index>(),
        v in header_value(),
        drop_one in any::<bool>(),
    ) {
        let a = AuthHeaders { hotkey: "5Grw".into(), nonce_ns, signature: "0x00".into(), receiver: Some("5FHn".into()) };
        let mut p: Vec<(String, String)> = a.to_pairs().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let i = at.index(p.len());
        if drop_one { p.remove(i); } else { p[i].1 = v; }
        if let Err(e) = AuthHeaders::parse(as_refs(&p)) {
            prop_assert!(named_header_error(&e), "unexpected error {e:?}");
        }
    }

    #[test]
    fn btauth_freshness_and_payload_never_panic(
        nonce in any::<u64>(), now in any::<u64>(), age in any::<u64>(), skew in any::<u64>(),
        method in any::<String>(), path in any::<String>(), body in any::<Vec<u8>>(),
    ) {
        let _ = btauth::fresh(nonce, now, age, skew);
        let p = btauth::payload(&method, &path, &body, nonce, "s", None);
        prop_assert!(p.starts_with(btauth::PROTOCOL));
    }
}
