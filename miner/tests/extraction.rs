//! Synthesis through an LLM subnet, against the simulated search and data subnets and a stub
//! OpenAI-compatible LLM that reads the extraction task out of the chat body
//! (`ExtractionRequest::from_chat_body`) and answers from the documents it was given:
//! schema-valid results whose citations all check, a repair round that fixes a bad citation,
//! token costs from `usage`, and, with the LLM down, a fallback that leaves out what it cannot
//! fill (or fails with a reason) and never writes non-enum text into an enum.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::routing::post;
use orchestra_keys::Keypair;
use orchestra_miner::extraction::ExtractionConfig;
use orchestra_miner::pipeline::MinerCore;
use orchestra_proto::contract::Contract;
use orchestra_proto::extract::{Citation, Document, ExtractionAnswer, ExtractionRequest, check_citation, leaves};
use orchestra_proto::ledger::{AuthKind, LedgerEntry, TransportSpec};
use orchestra_proto::receipt::CallStatus;
use orchestra_proto::synapses::{Orchestrate, OrchestrateRequest};
use orchestra_subnet_sim::{SimConfig, ledger, start};
use parking_lot::Mutex;
use serde_json::{Value, json};

const H100_Q: &str = "Which cloud provider rents an NVIDIA H100 for the lowest on-demand price per hour? \
List each provider's H100 hourly price.";
const SOCIAL_Q: &str = "What do people on X and Reddit say about decentralized AI training this month? \
Give the overall sentiment and the posts.";

fn h100_task(id: &str) -> Orchestrate {
    Orchestrate::from_request(OrchestrateRequest {
        task_id: id.into(),
        objective: H100_Q.into(),
        target_schema: json!({"providers": [{"provider": "str", "h100_usd_per_hour": "float"}], "cheapest": "str"}),
        contract: Contract { deadline_ms: 20_000, ..Contract::default() },
        inputs: Value::Null,
    })
    .expect("request")
}

fn social_task(id: &str, sentiment_required: bool) -> Orchestrate {
    let mut required = vec!["mentions"];
    if sentiment_required {
        required.push("overall_sentiment");
    }
    Orchestrate::from_request(OrchestrateRequest {
        task_id: id.into(),
        objective: SOCIAL_Q.into(),
        target_schema: json!({"type": "object", "required": required, "properties": {
            "overall_sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
            "mentions": {"type": "array", "items": {"type": "object", "required": ["text"], "properties": {
                "author": {"type": "string"}, "text": {"type": "string"}, "url": {"type": "string"}}}}}}),
        contract: Contract { deadline_ms: 20_000, ..Contract::default() },
        inputs: Value::Null,
    })
    .expect("request")
}

/// The stub model's reading of the documents for the H100 question: for each page that names
/// its provider (the title's name, found in the text) and states an H100 price per GPU-hour,
/// one provider; the cheapest by price. `bad_aws_quote` misquotes the AWS price.
fn answer_h100(docs: &[Document], bad_aws_quote: bool) -> ExtractionAnswer {
    let mut providers = Vec::new();
    let mut citations = Vec::new();
    let mut best: Option<(f64, usize)> = None;
    for d in docs.iter().filter(|d| d.pointer.ends_with("/content")) {
        let Some(title) = &d.title else { continue };
        let name = orchestra_miner::synth::source_name(title);
        // A careful model: a market report is not a provider.
        if !d.text.contains(&name) || !d.text.contains("H100") || name.contains("report") {
            continue;
        }
        let Some((price, sentence)) =
            d.text.split(". ").filter(|s| !s.contains("A100") && !s.contains("community")).find_map(|s| {
                let at = s.find("per GPU-hour")?;
                let dollar = s[..at].rfind('$')?;
                let p: f64 = s[dollar + 1..at].trim().parse().ok()?;
                Some((p, s.to_string()))
            })
        else {
            continue;
        };
        let i = providers.len();
        providers.push(json!({"provider": name, "h100_usd_per_hour": price}));
        let cite =
            |path: String, quote: String| Citation { path, receipt: d.receipt, pointer: d.pointer.clone(), quote };
        citations.push(cite(format!("/providers/{i}/provider"), name.clone()));
        let quote = if bad_aws_quote && name.starts_with("Amazon") { format!("${price} per hour") } else { sentence };
        citations.push(cite(format!("/providers/{i}/h100_usd_per_hour"), quote));
        if best.is_none_or(|b| price < b.0) {
            best = Some((price, i));
        }
    }
    let mut answer = json!({"providers": providers});
    if let Some((_, i)) = best {
        answer["cheapest"] = answer["providers"][i]["provider"].clone();
        let mut c = citations[2 * i].clone();
        c.path = "/cheapest".into();
        citations.push(c);
    }
    ExtractionAnswer { answer, citations }
}

/// What the stub saw.
#[derive(Default)]
struct Seen {
    requests: Vec<ExtractionRequest>,
}

/// Serve a stub OpenAI-compatible LLM; `answer(call_number, request)` writes the reply.
async fn stub_llm<F>(answer: F) -> (String, Arc<Mutex<Seen>>)
where
    F: Fn(usize, &ExtractionRequest) -> ExtractionAnswer + Send + Sync + 'static,
{
    slow_stub_llm(answer, 0).await
}

/// [`stub_llm`] answering after `delay_ms`.
async fn slow_stub_llm<F>(answer: F, delay_ms: u64) -> (String, Arc<Mutex<Seen>>)
where
    F: Fn(usize, &ExtractionRequest) -> ExtractionAnswer + Send + Sync + 'static,
{
    let seen = Arc::new(Mutex::new(Seen::default()));
    let calls = Arc::new(AtomicUsize::new(0));
    let answer = Arc::new(answer);
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |Json(body): Json<Value>| {
            let (seen, calls, answer) = (s.clone(), calls.clone(), answer.clone());
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                let req = ExtractionRequest::from_chat_body(&body).expect("an extraction task in the chat body");
                let n = calls.fetch_add(1, Ordering::SeqCst);
                let a = answer(n, &req);
                seen.lock().requests.push(req);
                Json(
                    json!({"id": format!("stub-{n}"), "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant",
                        "content": serde_json::to_string(&a).expect("json")}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}}),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/v1"), seen)
}

fn with_llm_at(mut entries: Vec<LedgerEntry>, base_url: &str) -> Vec<LedgerEntry> {
    for e in entries.iter_mut().filter(|e| e.has_capability("llm_chat")) {
        e.transports =
            vec![TransportSpec::OpenaiChat { base_url: base_url.into(), model: "stub".into(), auth: AuthKind::None }];
    }
    entries
}

/// Every leaf of the result is cited, and every citation checks against the body of the receipt
/// it names (a successful data call).
fn assert_cited(out: &Orchestrate) {
    let result = out.result.as_ref().expect("result");
    for (path, _) in leaves(result) {
        assert!(out.citations.iter().any(|c| c.path == path), "{path} is not cited: {result}");
    }
    for c in &out.citations {
        let r = out.receipts.get(c.receipt).expect("citation names a returned receipt");
        assert_eq!(r.status, CallStatus::Ok);
        assert_ne!(r.step_id, "plan");
        assert!(!r.step_id.starts_with("extract"), "citations point at evidence, not at the LLM");
        check_citation(result, c, &out.evidence[c.receipt].response).expect("citation checks");
    }
}

fn schema_valid(out: &Orchestrate) {
    let schema = orchestra_proto::shorthand::to_json_schema(&out.target_schema).expect("schema");
    let v = jsonschema::validator_for(&schema).expect("validator");
    assert!(v.is_valid(out.result.as_ref().expect("result")), "{:?}", out.result);
}

fn providers(out: &Orchestrate) -> Vec<(String, f64)> {
    out.result.as_ref().expect("result")["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .map(|p| (p["provider"].as_str().expect("name").to_string(), p["h100_usd_per_hour"].as_f64().expect("price")))
        .collect()
}

#[tokio::test]
async fn llm_answers_are_schema_valid_cited_and_paid_by_usage() {
    let sim = start(SimConfig::default_trio()).await.expect("sim");
    let (url, seen) = stub_llm(|_, req| answer_h100(&req.documents, false)).await;
    let entries = with_llm_at(sim.subnets.iter().map(ledger::entry).collect(), &url);
    let llm_cost = entries.iter().find(|e| e.has_capability("llm_chat")).expect("llm").metrics.cost_micros;
    let core = MinerCore::new_local(Keypair::from_uri("//Extract1").expect("key"), entries, None)
        .expect("core")
        .with_extraction(ExtractionConfig { micros_per_1k_tokens: 500.0, ..ExtractionConfig::default() });
    let out = core.orchestrate(h100_task("x-1")).await;
    assert_eq!(out.error, None);
    schema_valid(&out);
    assert_cited(&out);
    let ids: Vec<&str> = out.plan.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec!["search", "scrape", "extract"], "no social step for a pricing question");
    assert!(out.plan[0].inputs["prompt"].as_str().expect("q").contains("H100"));
    let p = providers(&out);
    assert!(p.contains(&("Amazon EC2 P5".into(), 6.88)), "per GPU-hour, not per instance: {p:?}");
    assert!(p.iter().all(|(n, _)| !n.contains("report") && n != "gpu_watcher"), "{p:?}");
    assert!(p.iter().all(|(_, x)| *x != 0.88 && *x != 55.04), "{p:?}");
    assert_eq!(out.result.as_ref().expect("r")["cheapest"], json!("Lambda Cloud"));
    // The documents it got: data bodies only, indexed by the returned receipts.
    let seen = seen.lock().requests.clone();
    assert_eq!(seen.len(), 1, "a good first answer needs no repair");
    for d in &seen[0].documents {
        assert!(!out.receipts[d.receipt].step_id.starts_with("extract"));
        assert!(out.evidence[d.receipt].response.pointer(&d.pointer).is_some());
    }
    // Cost from usage: 1200 tokens at 500 µ per 1000 on top of the entry's per-call cost.
    let extract: Vec<_> = out.receipts.iter().filter(|r| r.step_id.starts_with("extract")).collect();
    assert_eq!(extract.len(), 1);
    assert_eq!(extract[0].cost_micros, llm_cost + 600);
    assert_eq!(out.cost_micros, out.receipts.iter().map(|r| r.cost_micros).sum::<u64>());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_repair_round_fixes_a_bad_citation() {
    let sim = start(SimConfig::default_trio()).await.expect("sim");
    // First answer misquotes the AWS price; with feedback, the second is right.
    let (url, seen) = stub_llm(|n, req| answer_h100(&req.documents, n == 0 && req.feedback.is_empty())).await;
    let entries = with_llm_at(sim.subnets.iter().map(ledger::entry).collect(), &url);
    let core = MinerCore::new_local(Keypair::from_uri("//Extract2").expect("key"), entries, None).expect("core");
    let out = core.orchestrate(h100_task("x-2")).await;
    assert_eq!(out.error, None);
    schema_valid(&out);
    assert_cited(&out);
    assert!(providers(&out).contains(&("Amazon EC2 P5".into(), 6.88)), "the repaired answer keeps AWS");
    let seen = seen.lock().requests.clone();
    assert_eq!(seen.len(), 2, "one repair round");
    assert!(seen[0].feedback.is_empty());
    let fb = seen[1].feedback.join("\n");
    assert!(fb.contains("/providers/") && fb.contains("h100_usd_per_hour"), "feedback names the bad leaf: {fb}");
    assert_eq!(out.receipts.iter().filter(|r| r.step_id.starts_with("extract")).count(), 2, "both rounds receipted");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_answer_that_never_cites_is_pruned_or_replaced_never_returned_uncited() {
    let sim = start(SimConfig::default_trio()).await.expect("sim");
    // A model that copies text that does not answer the field: a GPU-pricing sentence as the
    // sentiment, and no citations at all.
    let (url, seen) = stub_llm(|_, req| ExtractionAnswer {
        answer: json!({"overall_sentiment": req.documents.first().map(|d| d.text.clone()).unwrap_or_default(),
            "mentions": [{"text": "H100 spot prices on RunPod"}]}),
        citations: vec![],
    })
    .await;
    let entries = with_llm_at(sim.subnets.iter().map(ledger::entry).collect(), &url);
    let core = MinerCore::new_local(Keypair::from_uri("//Extract3").expect("key"), entries, None).expect("core");
    let out = core.orchestrate(social_task("x-3", false)).await;
    assert_eq!(seen.lock().requests.len(), 3, "first answer + two repair rounds");
    assert_eq!(out.error, None);
    let result = out.result.clone().expect("result");
    assert!(result.get("overall_sentiment").is_none(), "no non-enum text in the enum: {result}");
    assert_cited(&out);
    // The social steps: one per named platform, keywords from the objective, this month.
    let social: Vec<_> = out.plan.iter().filter(|s| s.capability == "social_search").collect();
    assert_eq!(social.len(), 2, "{:?}", out.plan);
    assert_eq!(social[0].inputs["keywords"], json!(["decentralized", "ai", "training"]));
    assert!(social[0].inputs["start_date"].as_str().expect("window").ends_with("-01T00:00:00Z"));
    sim.shutdown().await;
}

#[tokio::test]
async fn with_the_llm_down_the_fallback_fills_only_what_evidence_states() {
    let sim = start(SimConfig::default_trio()).await.expect("sim");
    // An LLM endpoint nobody listens on.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let entries = with_llm_at(sim.subnets.iter().map(ledger::entry).collect(), &format!("http://{dead}/v1"));
    let core =
        MinerCore::new_local(Keypair::from_uri("//Extract4").expect("key"), entries.clone(), None).expect("core");

    // The pricing question: the fallback reads per-GPU-hour H100 prices of named providers.
    let out = core.orchestrate(h100_task("x-4")).await;
    assert_eq!(out.error, None);
    schema_valid(&out);
    assert_cited(&out);
    let p = providers(&out);
    assert!(p.contains(&("Lambda Cloud".into(), 2.49)) && p.contains(&("Amazon EC2 P5".into(), 6.88)), "{p:?}");
    assert!(p.iter().all(|(n, x)| !n.contains("report") && n != "gpu_watcher" && *x != 0.88 && *x != 55.04), "{p:?}");
    assert_eq!(out.result.as_ref().expect("r")["cheapest"], json!("Lambda Cloud"));
    assert!(
        out.receipts.iter().any(|r| r.step_id.starts_with("extract") && r.status != CallStatus::Ok),
        "the failed LLM calls are receipted"
    );

    // The sentiment question: nothing in the evidence states a sentiment or a relevant post.
    let out = core.orchestrate(social_task("x-5", false)).await;
    assert_eq!(out.error, None);
    let result = out.result.clone().expect("result");
    assert!(result.get("overall_sentiment").is_none(), "{result}");
    for m in result["mentions"].as_array().expect("mentions") {
        let t = m["text"].as_str().expect("text").to_lowercase();
        assert!(t.contains("decentral") || t.contains("training"), "an unrelated post listed: {t}");
    }
    assert_cited(&out);
    // Required and not in the evidence: the task fails and says why.
    let out = core.orchestrate(social_task("x-6", true)).await;
    let err = out.error.expect("a required enum the evidence does not state fails the task");
    assert!(err.contains("overall_sentiment"), "{err}");
    assert!(out.result.is_none());

    // No LLM subnet in the Ledger at all: the same fallback.
    let no_llm: Vec<_> = entries.into_iter().filter(|e| !e.has_capability("llm_chat")).collect();
    let core = MinerCore::new_local(Keypair::from_uri("//Extract5").expect("key"), no_llm, None).expect("core");
    let out = core.orchestrate(h100_task("x-7")).await;
    assert_eq!(out.error, None);
    assert_cited(&out);
    assert!(out.receipts.iter().all(|r| !r.step_id.starts_with("extract")));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_slow_llm_leaves_time_for_the_fallback_within_the_deadline() {
    let sim = start(SimConfig::default_trio()).await.expect("sim");
    let (url, _seen) = slow_stub_llm(|_, req| answer_h100(&req.documents, false), 5_000).await;
    let entries = with_llm_at(sim.subnets.iter().map(ledger::entry).collect(), &url);
    let core = MinerCore::new_local(Keypair::from_uri("//Extract6").expect("key"), entries, None).expect("core");
    let mut r = h100_task("x-8").request();
    r.contract.deadline_ms = 2_000;
    let t0 = std::time::Instant::now();
    let out = core.orchestrate(Orchestrate::from_request(r).expect("req")).await;
    assert!(t0.elapsed().as_millis() < 2_000, "answered within the deadline: {:?}", t0.elapsed());
    assert_eq!(out.error, None);
    assert_cited(&out);
    let llm: Vec<_> = out.receipts.iter().filter(|r| r.step_id.starts_with("extract")).collect();
    assert!(!llm.is_empty() && llm.iter().all(|r| r.status != CallStatus::Ok), "the timed-out call is receipted");
    assert_eq!(out.result.as_ref().expect("r")["cheapest"], json!("Lambda Cloud"), "from the fallback");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_model_without_json_mode_is_asked_again_in_plain_text() {
    let sim = start(SimConfig::default_trio()).await.expect("sim");
    // Refuses `response_format` with a 400, answers (in a code fence) without it.
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(|Json(body): Json<Value>| async move {
            if body.get("response_format").is_some() {
                return (
                    axum::http::StatusCode::BAD_REQUEST,
                    Json(json!({"error": "response_format is not supported"})),
                );
            }
            let req = ExtractionRequest::from_chat_body(&body).expect("task");
            let a = answer_h100(&req.documents, false);
            let content = format!("Here it is:\n```json\n{}\n```", serde_json::to_string(&a).expect("json"));
            (
                axum::http::StatusCode::OK,
                Json(json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10}})),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let entries = with_llm_at(sim.subnets.iter().map(ledger::entry).collect(), &format!("http://{addr}/v1"));
    let core = MinerCore::new_local(Keypair::from_uri("//Extract7").expect("key"), entries, None).expect("core");
    let out = core.orchestrate(h100_task("x-9")).await;
    assert_eq!(out.error, None);
    assert_cited(&out);
    let llm: Vec<_> = out.receipts.iter().filter(|r| r.step_id.starts_with("extract")).collect();
    assert_eq!(llm.len(), 2, "refused in JSON mode, answered in plain text");
    assert!(llm[0].status != CallStatus::Ok && llm[1].status == CallStatus::Ok);
    // The answer came from the model (prompt + completion tokens priced), not the fallback.
    assert!(llm[1].cost_micros > llm[0].cost_micros);
    sim.shutdown().await;
}
