//! The simulated subnets over real HTTP: answers, schemas, faults, drift, moves.

use orchestra_subnet_sim::{Drift, DriftKind, Faults, SimConfig, SubnetKind, ledger, start};
use serde_json::{Value, json};

async fn post(url: &str, body: Value) -> (u16, Value) {
    // Redirects are not followed: the endpoint-move fault must be visible as a 301.
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let r = client.post(url).json(&body).send().await.expect("send");
    let code = r.status().as_u16();
    let text = r.text().await.expect("body");
    (code, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn answers_match_their_ledger_schemas_and_the_worked_example_is_grounded() {
    let sim = start(SimConfig::default_trio()).await.expect("start");
    let search = sim.by_kind(SubnetKind::Search).expect("search");
    let (code, out) = post(&search.url(), json!({"prompt": "cloud GPU pricing H100", "count": 5})).await;
    assert_eq!(code, 200, "{out}");
    let results = out["search_results"].as_array().expect("results");
    assert!(results.len() >= 4);
    let link = results[0]["link"].as_str().expect("link").to_string();

    let data = sim.by_kind(SubnetKind::Data).expect("data");
    let (code, page) = post(&data.url(), json!({"url": link})).await;
    assert_eq!(code, 200, "{page}");
    assert!(page["data"][0]["content"].as_str().expect("content").contains("per GPU-hour"));
    let (_, posts) = post(&data.url(), json!({"keywords": ["gpu"], "keyword_mode": "any"})).await;
    let n = posts["data"].as_array().expect("posts").len();
    assert_eq!(n, orchestra_subnet_sim::corpus::posts(&["gpu".into()], &[], false, 100).len());
    assert!(n >= 2);

    let llm = sim.by_kind(SubnetKind::Llm).expect("llm");
    let (code, chat) = post(
        &llm.url(),
        json!({"model": "x", "messages": [{"role": "user", "content": "H100: $2.49 per hour. Nice."}]}),
    )
    .await;
    assert_eq!(code, 200);
    let content = chat["choices"][0]["message"]["content"].as_str().expect("content");
    assert!(content.starts_with("[simulated LLM]") && content.contains("$2.49"), "{content}");

    // Every answer's shape is what the Ledger entry promises (checked structurally here;
    // JSON Schema validation happens in crates/subnets).
    for s in &sim.subnets {
        let e = ledger::entry(s);
        e.validate().expect("valid entry");
        assert!(e.simulated);
    }
    let (code, bad) = post(&search.url(), json!({"count": 3})).await;
    assert_eq!(code, 400);
    assert!(bad["error"].as_str().expect("error").contains("prompt"));
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_drift_and_moves_are_injected_at_run_time() {
    let sim = start(SimConfig::default_trio()).await.expect("start");
    let data = sim.by_kind(SubnetKind::Data).expect("data").clone();
    let control = format!("{}/control/faults", data.base_url());

    let drift = Faults {
        drift: Some(Drift {
            after_ms: 0,
            kind: DriftKind::AddField {
                path: "metadata.scrape_timestamp".into(),
                value: json!("2026-11-22T00:00:00Z"),
            },
        }),
        ..Faults::default()
    };
    let (code, _) = post(&control, serde_json::to_value(&drift).expect("json")).await;
    assert_eq!(code, 200);
    let (_, page) = post(&data.url(), json!({"url": "https://sim.lambda.example/pricing"})).await;
    assert_eq!(page["data"][0]["metadata"]["scrape_timestamp"], json!("2026-11-22T00:00:00Z"));

    let (code, _) = post(&control, json!({"error_rate": 1.0})).await;
    assert_eq!(code, 200);
    let (code, _) = post(&data.url(), json!({"url": "https://sim.lambda.example/pricing"})).await;
    assert_eq!(code, 500);

    let (code, _) = post(&control, json!({"moved_to": "/v2/ondemand"})).await;
    assert_eq!(code, 200);
    let (code, moved) = post(&data.url(), json!({})).await;
    assert_eq!(code, 301, "{moved}");
    let (code, _) = post(&format!("{}/v2/ondemand", data.base_url()), json!({"keywords": ["ev"]})).await;
    assert_eq!(code, 200);

    let (code, err) = post(&control, json!({"error_rate": 2.0})).await;
    assert_eq!(code, 400, "{err}");
    let (code, _) = post(&control, json!({"down": true})).await;
    assert_eq!(code, 200);
    let (code, _) = post(&format!("{}/v2/ondemand", data.base_url()), json!({})).await;
    assert_eq!(code, 404, "moved_to was reset by the new fault set");
    let (code, _) = post(&data.url(), json!({})).await;
    assert_eq!(code, 503);
    sim.shutdown().await;
}
