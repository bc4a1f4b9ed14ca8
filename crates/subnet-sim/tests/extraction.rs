//! The simulated LLM as a faithful extractor: documents fetched the honest way (search, then
//! scrape; or a social query) come back as correct, cited answers; irrelevant documents give an
//! answer empty of the facts; faults are deterministic.

use std::collections::BTreeMap;

use orchestra_proto::extract::{ExtractionAnswer, ExtractionRequest, check_citation, documents_from, parse_answer};
use orchestra_subnet_sim::world::{World, majority_sentiment};
use orchestra_subnet_sim::{Faults, SimConfig, SimHandle, SubnetKind, start};
use serde_json::{Value, json};

const GPU_OBJECTIVE: &str = "Which cloud provider rents an NVIDIA H100 for the lowest on-demand price per hour? \
List each provider's H100 hourly price.";
const SOCIAL_OBJECTIVE: &str = "What do people on X and Reddit say about decentralized AI training this month? \
Give the overall sentiment and the posts.";

fn gpu_schema() -> Value {
    json!({"type": "object", "properties": {
        "providers": {"type": "array", "items": {"type": "object", "properties": {
            "provider": {"type": "string"}, "h100_usd_per_hour": {"type": "number"}},
            "required": ["provider", "h100_usd_per_hour"]}},
        "cheapest": {"type": "string"}},
        "required": ["providers", "cheapest"]})
}

fn social_schema() -> Value {
    json!({"type": "object", "properties": {
        "overall_sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
        "mentions": {"type": "array", "items": {"type": "object", "properties": {
            "author": {"type": "string"}, "text": {"type": "string"}, "url": {"type": "string"},
            "date": {"type": "string"}}}}},
        "required": ["overall_sentiment", "mentions"]})
}

async fn post_text(url: &str, body: &Value) -> String {
    let r = reqwest::Client::new().post(url).json(body).send().await.expect("send");
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.text().await.expect("body")
}

async fn post(url: &str, body: &Value) -> Value {
    serde_json::from_str(&post_text(url, body).await).expect("json")
}

async fn sim(llm_faults: Faults) -> SimHandle {
    let mut cfg = SimConfig::default_trio();
    for s in &mut cfg.subnets {
        if s.kind == SubnetKind::Llm {
            s.faults = llm_faults.clone();
        }
    }
    start(cfg).await.expect("sim")
}

fn exact() -> Faults {
    Faults { llm_error_rate: 0.0, ..Faults::default() }
}

/// Search, then scrape every result: the receipted bodies, in order.
async fn search_and_scrape(sim: &SimHandle, query: &str) -> Vec<Value> {
    let search = sim.by_kind(SubnetKind::Search).expect("search").url();
    let data = sim.by_kind(SubnetKind::Data).expect("data").url();
    let results = post(&search, &json!({"prompt": query, "count": 10})).await;
    let mut bodies = vec![results.clone()];
    for r in results["search_results"].as_array().expect("results") {
        let link = r["link"].as_str().expect("link");
        bodies.push(post(&data, &json!({"url": link})).await);
    }
    bodies
}

async fn scrape(sim: &SimHandle, urls: &[&str]) -> Vec<Value> {
    let data = sim.by_kind(SubnetKind::Data).expect("data").url();
    let mut out = Vec::new();
    for u in urls {
        out.push(post(&data, &json!({"url": u})).await);
    }
    out
}

fn request(objective: &str, schema: Value, bodies: &[Value]) -> ExtractionRequest {
    let documents = bodies.iter().enumerate().flat_map(|(i, b)| documents_from(i, b, 20)).collect();
    ExtractionRequest { objective: objective.into(), schema, documents, feedback: vec![] }
}

async fn ask(sim: &SimHandle, req: &ExtractionRequest) -> (ExtractionAnswer, String) {
    let llm = sim.by_kind(SubnetKind::Llm).expect("llm").url();
    let raw = post_text(&llm, &req.to_chat_body("sim-llm", 4096)).await;
    let v: Value = serde_json::from_str(&raw).expect("json");
    assert!(v["model"].as_str().expect("model").contains("SIMULATED"), "{v}");
    let content = v["choices"][0]["message"]["content"].as_str().expect("content");
    (parse_answer(content).expect("extraction answer"), raw)
}

fn check_all(a: &ExtractionAnswer, bodies: &[Value], skip: &[&str]) {
    for c in &a.citations {
        if skip.contains(&c.path.as_str()) {
            continue;
        }
        check_citation(&a.answer, c, &bodies[c.receipt]).unwrap_or_else(|e| panic!("{e}: {c:?}"));
    }
    // Every leaf is cited.
    for (path, _) in orchestra_proto::extract::leaves(&a.answer) {
        assert!(a.citations.iter().any(|c| c.path == path), "leaf {path} has no citation");
    }
}

#[tokio::test]
async fn gpu_objective_from_honest_documents_is_exact_and_cited() {
    let sim = sim(exact()).await;
    let bodies = search_and_scrape(&sim, "cloud GPU pricing H100").await;
    let req = request(GPU_OBJECTIVE, gpu_schema(), &bodies);
    let (a, raw) = ask(&sim, &req).await;

    let world = World::builtin();
    let truth: BTreeMap<&str, f64> =
        world.values_of("gpu_cloud_pricing", "h100_usd_per_gpu_hour").into_iter().collect();
    let got: BTreeMap<String, f64> = a.answer["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .map(|p| (p["provider"].as_str().expect("name").to_string(), p["h100_usd_per_hour"].as_f64().expect("num")))
        .collect();
    let want: BTreeMap<String, f64> = truth.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    assert_eq!(got, want, "{}", a.answer);
    assert_eq!(got.get("AWS"), Some(&6.88), "per GPU-hour, not the 8-GPU instance price");
    let cheapest = truth.iter().min_by(|x, y| x.1.total_cmp(y.1)).expect("min").0;
    assert_eq!(a.answer["cheapest"], json!(cheapest));
    assert_eq!(*cheapest, "Lambda");
    check_all(&a, &bodies, &[]);

    // Determinism: the same request gives the same bytes.
    let (_, again) = ask(&sim, &req).await;
    assert_eq!(raw, again);
    sim.shutdown().await;
}

#[tokio::test]
async fn irrelevant_documents_give_no_invented_facts() {
    let sim = sim(exact()).await;
    let bodies = scrape(&sim, &["https://sim.ev.example/charging-costs", "https://sim.vectordb.example/compare"]).await;
    let (a, _) = ask(&sim, &request(GPU_OBJECTIVE, gpu_schema(), &bodies)).await;
    assert_eq!(a.answer["providers"], json!([]), "{}", a.answer);
    assert!(a.answer.get("cheapest").is_none(), "{}", a.answer);
    assert!(a.citations.is_empty());

    // Only the Lambda page: only Lambda, and it is the cheapest of what was read.
    let bodies = scrape(&sim, &["https://sim.lambda.example/pricing", "https://sim.aws.example/ec2/p5"]).await;
    let (a, _) = ask(&sim, &request(GPU_OBJECTIVE, gpu_schema(), &bodies)).await;
    assert_eq!(
        a.answer,
        json!({"providers": [{"provider": "Lambda", "h100_usd_per_hour": 2.49}, {"provider": "AWS", "h100_usd_per_hour": 6.88}],
               "cheapest": "Lambda"})
    );
    check_all(&a, &bodies, &[]);
    sim.shutdown().await;
}

#[tokio::test]
async fn social_objective_gives_the_majority_sentiment_and_this_months_posts() {
    let sim = sim(exact()).await;
    let data = sim.by_kind(SubnetKind::Data).expect("data").url();
    // No date filter in the query: the extractor reads "this month" itself.
    let body =
        post(&data, &json!({"keywords": ["decentralized", "training"], "keyword_mode": "all", "limit": 100})).await;
    let n_all = body["data"].as_array().expect("posts").len();
    let bodies = vec![body];
    let (a, raw) = ask(&sim, &request(SOCIAL_OBJECTIVE, social_schema(), &bodies)).await;

    let world = World::builtin();
    let truth =
        world.posts_about("decentralized ai training", Some("2026-11-01"), Some("2026-11-27"), &["x", "reddit"]);
    assert!(truth.len() >= 10 && n_all > truth.len(), "{} of {n_all}", truth.len());
    assert_eq!(a.answer["overall_sentiment"], json!(majority_sentiment(truth.iter().copied()).as_str()));
    assert_eq!(a.answer["overall_sentiment"], json!("positive"));
    let mentions = a.answer["mentions"].as_array().expect("mentions");
    let mut got: Vec<&str> = mentions.iter().map(|m| m["url"].as_str().expect("url")).collect();
    let mut want: Vec<&str> = truth.iter().map(|p| p.uri.as_str()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    for m in mentions {
        let p = truth.iter().find(|p| p.uri == m["url"].as_str().expect("url")).expect("post");
        assert_eq!(m["author"], json!(p.username));
        assert_eq!(m["text"], json!(p.text));
        assert_eq!(m["date"], json!(&p.datetime[..10]));
    }
    // The sentiment label is the simulator's reading, not a quote: its citation points at a
    // supporting post. Every other leaf passes the citation check.
    check_all(&a, &bodies, &["/overall_sentiment"]);
    let (_, again) = ask(&sim, &request(SOCIAL_OBJECTIVE, social_schema(), &bodies)).await;
    assert_eq!(raw, again);

    // The same query filtered by the data subnet: Reddit posts of November only.
    let body = post(
        &data,
        &json!({"keywords": ["decentralized"], "keyword_mode": "any", "source": "REDDIT",
                "start_date": "2026-11-01", "end_date": "2026-11-30"}),
    )
    .await;
    let items = body["data"].as_array().expect("posts");
    assert!(!items.is_empty());
    assert!(
        items.iter().all(|p| p["source"] == json!("REDDIT") && p["datetime"].as_str().expect("dt") >= "2026-11-01")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn error_and_hallucination_rates_are_deterministic_faults() {
    let sim = sim(Faults { llm_error_rate: 1.0, llm_hallucination_rate: 1.0, ..Faults::default() }).await;
    let bodies = scrape(&sim, &["https://sim.lambda.example/pricing", "https://sim.aws.example/ec2/p5"]).await;
    let req = request(GPU_OBJECTIVE, gpu_schema(), &bodies);
    let (a, raw) = ask(&sim, &req).await;
    let (_, again) = ask(&sim, &req).await;
    assert_eq!(raw, again, "re-probes agree");
    for p in a.answer["providers"].as_array().expect("providers") {
        let v = p["h100_usd_per_hour"].as_f64().expect("num");
        assert!(v != 2.49 && v != 6.88, "{v} was perturbed");
    }
    // Every perturbed leaf fails its citation check.
    for c in &a.citations {
        assert!(check_citation(&a.answer, c, &bodies[c.receipt]).is_err(), "{c:?}");
    }
    // Irrelevant documents: the required field is invented, without a citation.
    let bodies = scrape(&sim, &["https://sim.ev.example/charging-costs"]).await;
    let (a, _) = ask(&sim, &request(GPU_OBJECTIVE, gpu_schema(), &bodies)).await;
    assert!(a.answer["cheapest"].is_string(), "{}", a.answer);
    assert!(a.citations.iter().all(|c| c.path != "/cheapest"));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_world_file_is_loaded_and_a_bad_one_is_refused() {
    let dir = std::env::temp_dir().join(format!("sim-world-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let good = json!({
        "today": "2030-01-10",
        "pages": [{"url": "https://sim.tea.example/menu", "title": "Tea house menu", "date": "2030-01-02",
                   "text": "Tea house menu. Green tea: $3.50 per pot. Black tea: $2.75 per pot.", "tags": ["tea"]}],
        "facts": [
            {"domain": "tea_prices", "entity": "Green tea", "entity_type": "tea", "attribute": "usd_per_pot", "value": 3.5,
             "source": "https://sim.tea.example/menu", "quote": "Green tea: $3.50 per pot"},
            {"domain": "tea_prices", "entity": "Black tea", "entity_type": "tea", "attribute": "usd_per_pot", "value": 2.75,
             "source": "https://sim.tea.example/menu", "quote": "Black tea: $2.75 per pot"}]
    });
    std::fs::write(dir.join("tea.json"), good.to_string()).expect("write");
    std::fs::write(dir.join("sim.toml"), "seed = 1\nworld = \"tea.json\"\n\n[[subnet]]\nkind = \"search\"\nnetuid = 1\nname = \"s\"\n\n[[subnet]]\nkind = \"data\"\nnetuid = 2\nname = \"d\"\n\n[[subnet]]\nkind = \"llm\"\nnetuid = 3\nname = \"l\"\n[subnet.faults]\nllm_error_rate = 0.0\n").expect("write");
    let cfg = SimConfig::from_toml_file(&dir.join("sim.toml").display().to_string()).expect("config");
    assert_eq!(cfg.world.pages[0].url, "https://sim.tea.example/menu");
    let sim = start(cfg).await.expect("sim");
    let hits = post(&sim.by_kind(SubnetKind::Search).expect("s").url(), &json!({"prompt": "tea menu"})).await;
    assert_eq!(hits["search_results"][0]["title"], json!("Tea house menu (simulated)"));
    let bodies = scrape(&sim, &["https://sim.tea.example/menu"]).await;
    let schema = json!({"type": "object", "properties": {"cheapest_tea": {"type": "string"},
        "teas": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "price_per_pot": {"type": "number"}}}}}});
    let (a, _) = ask(&sim, &request("Which tea is cheapest per pot?", schema, &bodies)).await;
    assert_eq!(
        a.answer,
        json!({"cheapest_tea": "Black tea", "teas": [{"name": "Green tea", "price_per_pot": 3.5}, {"name": "Black tea", "price_per_pot": 2.75}]})
    );
    check_all(&a, &bodies, &[]);
    sim.shutdown().await;

    let mut bad = good.clone();
    bad["facts"][1]["quote"] = json!("Black tea: $2.25 per pot");
    std::fs::write(dir.join("bad.json"), bad.to_string()).expect("write");
    let e = World::from_file(&dir.join("bad.json").display().to_string()).expect_err("bad");
    let msg = e.to_string();
    assert!(
        msg.contains("bad.json") && msg.contains("fact 1 (Black tea / usd_per_pot)") && msg.contains("not verbatim"),
        "{msg}"
    );
    let e = SimConfig::default_trio().with_world_file("/nonexistent/world.json").expect_err("missing");
    assert!(e.to_string().contains("/nonexistent/world.json"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Objectives and schemas of other shapes, on documents from search + scrape (in-process).
#[test]
fn other_objectives_and_schema_shapes() {
    use orchestra_subnet_sim::{ExtractOptions, extract, server};
    let w = World::builtin();
    let run = |objective: &str, query: &str, schema: Value| {
        let hits = server::search(&w, &json!({"prompt": query, "count": 10})).expect("search");
        let mut bodies = vec![hits.clone()];
        for r in hits["search_results"].as_array().expect("results") {
            bodies.push(server::data(&w, &json!({"url": r["link"]})).expect("scrape"));
        }
        let a = extract(&w, &request(objective, schema, &bodies), &ExtractOptions::default());
        check_all(&a, &bodies, &[]);
        a.answer
    };
    // camelCase, a ranked top-3, URLs and a source list.
    let a = run(
        "Rank the top 3 cheapest cloud providers for H100 GPUs by hourly price, with sources",
        "cloud GPU pricing H100",
        json!({"type": "object", "properties": {
            "ranking": {"type": "array", "items": {"type": "object", "properties": {
                "providerName": {"type": "string"}, "pricePerHour": {"type": "number"}, "pageUrl": {"type": "string"}}}},
            "sources": {"type": "array", "items": {"type": "string"}}}}),
    );
    let names: Vec<&str> =
        a["ranking"].as_array().expect("ranking").iter().map(|x| x["providerName"].as_str().expect("n")).collect();
    assert_eq!(names, vec!["Lambda", "RunPod", "Crusoe"]);
    assert_eq!(a["ranking"][0]["pageUrl"], json!("https://sim.lambda.example/pricing"));
    assert_eq!(a["sources"].as_array().expect("sources").len(), 3);
    // Another domain, a number asked for as text, a root array.
    let a = run(
        "EV charging price per kWh by network",
        "ev charging kwh",
        json!({"type": "array", "items": {"type": "object", "properties": {"network": {"type": "string"}, "price": {"type": "string"}}}}),
    );
    assert_eq!(a[1], json!({"network": "Tesla Supercharger", "price": "0.48"}));
    // Strings, integers and a superlative over a number that is not a price.
    let a = run(
        "List the open-weight LLMs with their organization, parameter count and license. Which is largest?",
        "open weights model release license parameters",
        json!({"type": "object", "properties": {
            "models": {"type": "array", "items": {"type": "object", "properties": {
                "model": {"type": "string"}, "organization": {"type": "string"},
                "parameters_billion": {"type": "integer"}, "license": {"type": "string"}}}},
            "largest_model": {"type": "string"}}}),
    );
    assert_eq!(a["largest_model"], json!("DeepSeek-V4"));
    let llama =
        a["models"].as_array().expect("models").iter().find(|m| m["model"] == json!("Llama 5 70B")).expect("llama");
    assert_eq!(
        llama,
        &json!({"model": "Llama 5 70B", "organization": "Meta", "parameters_billion": 70, "license": "Llama 5 Community License"})
    );
    // One named entity, an instance price when the question asks for the instance.
    let a = run(
        "What does AWS charge for an 8-GPU H100 instance per hour?",
        "aws h100",
        json!({"type": "object", "properties": {"instance_price_usd_per_hour": {"type": "number"}}}),
    );
    assert_eq!(a, json!({"instance_price_usd_per_hour": 55.04}));
}

/// A world written with only the basic fields (no entity types, no post topics, versions as
/// strings, `source_url`, platform `twitter`): the extractor still finds names, values, the
/// newest release and the tweets.
#[test]
fn a_minimal_world_of_another_domain() {
    use orchestra_subnet_sim::{ExtractOptions, extract, server};
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/worlds/languages.json");
    let w = World::from_file(path).expect("world");
    let hits = server::search(&w, &json!({"prompt": "programming language release version"})).expect("search");
    let mut bodies = vec![hits.clone()];
    for r in hits["search_results"].as_array().expect("results") {
        bodies.push(server::data(&w, &json!({"url": r["link"]})).expect("scrape"));
    }
    let schema = json!({"type": "object", "properties": {
        "languages": {"type": "array", "items": {"type": "object", "properties": {
            "language": {"type": "string"}, "version": {"type": "string"}, "release_date": {"type": "string"}}}},
        "most_recent": {"type": "string"}}});
    let objective = "What is the latest version of each programming language and when was it released? \
Which had the most recent release?";
    let a = extract(&w, &request(objective, schema, &bodies), &ExtractOptions::default());
    check_all(&a, &bodies, &[]);
    assert_eq!(a.answer["most_recent"], json!("Python"));
    assert_eq!(a.answer["languages"][2], json!({"language": "Go", "version": "1.26", "release_date": "2026-02-11"}));
    assert_eq!(a.answer["languages"].as_array().expect("list").len(), 4);

    let bodies = vec![server::data(&w, &json!({"keywords": ["python"], "source": "X"})).expect("posts")];
    let schema = json!({"type": "object", "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
        "tweets": {"type": "array", "items": {"type": "object", "properties": {"user": {"type": "string"}, "tweet": {"type": "string"}}}}}});
    let a = extract(
        &w,
        &request("What do developers on Twitter think about Python 3.15?", schema, &bodies),
        &ExtractOptions::default(),
    );
    check_all(&a, &bodies, &["/sentiment"]);
    assert_eq!(a.answer["sentiment"], json!("positive"));
    assert_eq!(a.answer["tweets"].as_array().expect("tweets").len(), 3);
}
