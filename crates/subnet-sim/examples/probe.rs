//! Print the simulated extractor's answers to a set of objectives and schemas on documents fetched
//! the honest way (search, scrape every hit, plus a social query), with any citation that fails
//! `check_citation`: `cargo run -p orchestra-subnet-sim --example probe`.

use orchestra_proto::extract::{ExtractionRequest, check_citation, documents_from};
use orchestra_subnet_sim::world::World;
use orchestra_subnet_sim::{ExtractOptions, extract, server};
use serde_json::{Value, json};

fn main() {
    let w = World::builtin();
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "cheapest EV charging network per kWh",
            "ev charging kwh",
            json!({"type":"object","properties":{"networks":{"type":"array","items":{"type":"object","properties":{"network":{"type":"string"},"price_per_kwh":{"type":"number"}}}},"cheapest_network":{"type":"string"}}}),
        ),
        (
            "Which inference API is cheapest for Llama 70B per million tokens?",
            "inference api pricing llm tokens",
            json!({"type":"object","properties":{"apis":{"type":"array","items":{"type":"object","properties":{"vendor":{"type":"string"},"llama_70b_price":{"type":"number"}}}},"cheapest":{"type":"string"},"lowest_price":{"type":"number"}}}),
        ),
        (
            "List open-weight LLMs released in 2026 with organization, parameter count and license. Which is largest?",
            "open weights model release license parameters",
            json!({"type":"object","properties":{"models":{"type":"array","items":{"type":"object","properties":{"model":{"type":"string"},"organization":{"type":"string"},"parameters_billion":{"type":"integer"},"license":{"type":"string"},"release_date":{"type":"string"}}}},"largest_model":{"type":"string"}}}),
        ),
        (
            "What is the A100 price per GPU-hour at each cloud provider?",
            "cloud GPU pricing A100",
            json!({"type":"object","properties":{"prices":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"a100_per_gpu_hour":{"type":"number"}}}}}}),
        ),
        (
            "Research cloud GPU pricing and recommend positioning for our inference API",
            "cloud GPU pricing",
            json!({"type":"object","properties":{"competitors":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"pricing":{"type":"object"}}}},"recommendation":{"type":"object","properties":{"price_point":{"type":"number"},"rationale":{"type":"string"}}}}}),
        ),
        (
            "What does AWS charge for an 8-GPU H100 instance per hour?",
            "aws h100",
            json!({"type":"object","properties":{"instance_price_usd_per_hour":{"type":"number"}}}),
        ),
        (
            "Managed vector database starting prices per month",
            "vector database pricing",
            json!({"type":"object","properties":{"databases":{"type":"array","items":{"type":"object","properties":{"database":{"type":"string"},"starting_price_per_month":{"type":"number"}}}}}}),
        ),
        (
            "What is the median H100 price according to analysts?",
            "gpu market report",
            json!({"type":"object","properties":{"median_h100_price":{"type":"number"}}}),
        ),
        (
            "Who released Gemma 4 27B and under what license?",
            "open weights model release license",
            json!({"type":"object","properties":{"organization":{"type":"string"},"license":{"type":"string"}}}),
        ),
        (
            "What are Reddit users saying about EV charging prices?",
            "",
            json!({"type":"object","properties":{"sentiment":{"type":"string","enum":["positive","negative","mixed","neutral"]},"posts":{"type":"array","items":{"type":"object","properties":{"username":{"type":"string"},"content":{"type":"string"},"posted_at":{"type":"string"},"platform":{"type":"string"},"sentiment":{"type":"string","enum":["positive","neutral","negative"]}}}}}}),
        ),
        (
            "Collect tweets about decentralized AI training from last month",
            "",
            json!({"type":"object","properties":{"tweets":{"type":"array","items":{"type":"string"}},"count":{"type":"integer"}}}),
        ),
        (
            "Which cloud provider rents an NVIDIA H100 for the lowest on-demand price per hour? List each provider's H100 hourly price.",
            "cloud GPU pricing H100",
            json!({"type":"object","properties":{"providers":{"type":"array","items":{"type":"object","properties":{"provider":{"type":"string"},"h100_usd_per_hour":{"type":"number"}}}},"cheapest":{"type":"object","properties":{"provider":{"type":"string"},"price":{"type":"number"}}}}}),
        ),
        (
            "Rank the top 3 cheapest cloud providers for H100 GPUs by hourly price, with sources",
            "cloud GPU pricing H100",
            json!({"type":"object","properties":{"ranking":{"type":"array","items":{"type":"object","properties":{"providerName":{"type":"string"},"pricePerHour":{"type":"number"},"pageUrl":{"type":"string"}}}},"sources":{"type":"array","items":{"type":"string"}}}}),
        ),
        (
            "What do people say about H100 prices?",
            "",
            json!({"type":"object","properties":{"posts":{"type":"array","items":{"type":"object","properties":{"author":{"type":"string"},"text":{"type":"string"}}}}}}),
        ),
        (
            "EV charging price per kWh by network",
            "ev charging kwh",
            json!({"type":"array","items":{"type":"object","properties":{"network":{"type":"string"},"price":{"type":"string"}}}}),
        ),
    ];
    for (obj, q, schema) in cases {
        let mut bodies = vec![];
        if q.is_empty() {
            bodies.push(
                server::data(
                    &w,
                    &json!({"keyword_mode": "any", "keywords": ["decentralized", "ev", "charging", "gpu"]}),
                )
                .expect("posts"),
            );
        } else {
            let hits = server::search(&w, &json!({"prompt": q, "count": 10})).expect("search");
            bodies.push(hits.clone());
            for r in hits["search_results"].as_array().unwrap_or(&vec![]) {
                bodies.push(server::data(&w, &json!({"url": r["link"]})).expect("scrape"));
            }
            bodies.push(server::data(&w, &json!({"keyword_mode": "any", "keywords": ["gpu", "h100"]})).expect("posts"));
        }
        let documents = bodies.iter().enumerate().flat_map(|(i, b)| documents_from(i, b, 20)).collect();
        let req = ExtractionRequest { objective: obj.into(), schema, documents, feedback: vec![] };
        let a = extract(&w, &req, &ExtractOptions::default());
        let bad: Vec<String> =
            a.citations.iter().filter_map(|c| check_citation(&a.answer, c, &bodies[c.receipt]).err()).collect();
        println!("\n## {obj}\n{}\nbad citations: {bad:?}", serde_json::to_string_pretty(&a.answer).unwrap_or_default());
    }
}
