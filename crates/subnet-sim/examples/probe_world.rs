//! Like `probe`, on a world file: `cargo run -p orchestra-subnet-sim --example probe_world -- FILE
//! QUERY OBJECTIVE SCHEMA_JSON` (QUERY `social:WORDS`: a social query for those keywords).

use orchestra_proto::extract::{ExtractionRequest, check_citation, documents_from};
use orchestra_subnet_sim::world::World;
use orchestra_subnet_sim::{ExtractOptions, extract, server};
use serde_json::{Value, json};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    let (file, query, objective, schema) = match a.as_slice() {
        [_, f, q, o, s] => (f, q, o, s),
        _ => return Err("usage: probe_world FILE QUERY OBJECTIVE SCHEMA_JSON".into()),
    };
    let w = World::from_file(file)?;
    for warning in w.warnings() {
        println!("warning: {warning}");
    }
    let schema: Value = serde_json::from_str(schema)?;
    let mut bodies = vec![];
    if let Some(k) = query.strip_prefix("social:") {
        let words: Vec<&str> = k.split_whitespace().collect();
        bodies.push(server::data(&w, &json!({"keywords": words, "keyword_mode": "any"}))?);
    } else {
        let hits = server::search(&w, &json!({"prompt": query, "count": 10}))?;
        bodies.push(hits.clone());
        for r in hits["search_results"].as_array().cloned().unwrap_or_default() {
            bodies.push(server::data(&w, &json!({"url": r["link"]}))?);
        }
    }
    let documents = bodies.iter().enumerate().flat_map(|(i, b)| documents_from(i, b, 20)).collect();
    let req = ExtractionRequest { objective: objective.clone(), schema, documents, feedback: vec![] };
    let ans = extract(&w, &req, &ExtractOptions::default());
    let bad: Vec<String> =
        ans.citations.iter().filter_map(|c| check_citation(&ans.answer, c, &bodies[c.receipt]).err()).collect();
    println!("{}\nbad citations: {bad:?}", serde_json::to_string_pretty(&ans.answer)?);
    Ok(())
}
