//! Ledger entries describing the running simulated subnets (marked `simulated: true`), so a
//! local network's Ledger can route to them like to real subnets.

use orchestra_proto::ledger::{AuthKind, AxonDialect, EntryStatus, LedgerEntry, Metrics, Provenance, TransportSpec};
use serde_json::{Value, json};

use crate::server::{RunningSubnet, SubnetKind};

/// Input schema, output schema, fixture and capabilities of each kind.
pub fn schemas(kind: SubnetKind) -> (Value, Value, Value, Vec<String>) {
    match kind {
        SubnetKind::Search => (
            json!({"type": "object", "required": ["prompt"], "properties": {
                "prompt": {"type": "string", "minLength": 1}, "count": {"type": "integer", "minimum": 1, "maximum": 200}}}),
            json!({"type": "object", "required": ["search_results"], "properties": {
                "prompt": {"type": "string"}, "count": {"type": ["integer", "null"]},
                "search_results": {"type": "array", "items": {"type": "object", "required": ["title", "link", "snippet"],
                    "properties": {"title": {"type": "string"}, "link": {"type": "string"}, "snippet": {"type": "string"}}}}}}),
            json!({"prompt": "cloud GPU pricing", "count": 3}),
            vec!["web_search".into()],
        ),
        SubnetKind::Data => (
            json!({"type": "object", "properties": {
                "url": {"type": "string"}, "keywords": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
                "usernames": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
                "keyword_mode": {"enum": ["any", "all"]}, "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
                "source": {"type": ["string", "integer", "null"]},
                "start_date": {"type": ["string", "null"]}, "end_date": {"type": ["string", "null"]}}}),
            // The axon transport echoes the request fields (as Python synapses do), so they are
            // declared too; `status`/`meta` come from the HTTP API only.
            json!({"type": "object", "required": ["data"], "properties": {
                "status": {"type": "string"},
                "source": {"type": ["string", "integer", "null"]}, "url": {"type": ["string", "null"]},
                "keywords": {"type": "array"}, "usernames": {"type": "array"},
                "keyword_mode": {"type": ["string", "null"]}, "limit": {"type": ["integer", "null"]},
                "start_date": {"type": ["string", "null"]}, "end_date": {"type": ["string", "null"]},
                "data": {"type": "array", "items": {"type": "object", "required": ["uri", "datetime", "source", "content"],
                    "properties": {"uri": {"type": "string"}, "datetime": {"type": "string"}, "source": {"type": "string"},
                        "label": {"type": "string"}, "username": {"type": "string"}, "content": {"type": "string"},
                        "content_size_bytes": {"type": "integer"}}}},
                "meta": {"type": "object"}}}),
            json!({"url": "https://sim.lambda.example/pricing"}),
            vec!["scrape".into(), "social_search".into()],
        ),
        SubnetKind::Llm => (
            json!({"type": "object", "required": ["messages"], "properties": {
                "model": {"type": "string"}, "messages": {"type": "array", "minItems": 1}}}),
            json!({"type": "object", "required": ["choices"], "properties": {
                "id": {"type": "string"}, "object": {"type": "string"}, "created": {"type": "integer"}, "model": {"type": "string"},
                "system_fingerprint": {"type": "string"},
                "choices": {"type": "array", "items": {"type": "object", "required": ["message"], "properties": {
                    "index": {"type": "integer"}, "finish_reason": {"type": "string"},
                    "message": {"type": "object", "required": ["content"], "properties": {
                        "role": {"type": "string"}, "content": {"type": "string"}}}}}},
                "usage": {"type": "object"}}}),
            json!({"model": "sim-llm", "messages": [{"role": "user", "content": "H100 costs $2.49 per hour."}]}),
            vec!["llm_chat".into()],
        ),
    }
}

/// The synapse name and the fields without default of a kind's axon.
fn synapse(kind: SubnetKind) -> (&'static str, Vec<String>) {
    match kind {
        SubnetKind::Search => ("WebSearchSynapse", vec!["prompt".to_string()]),
        _ => ("OnDemandRequest", vec![]),
    }
}

/// The Ledger entry of one running simulated subnet. A subnet served only as an axon gets a
/// metagraph-routed `axon_v10` transport (no endpoint, no hotkey): callers find its axons in
/// the subnet's metagraph.
pub fn entry(s: &RunningSubnet) -> LedgerEntry {
    let (input_schema, output_schema, fixture, capabilities) = schemas(s.kind);
    let mut transports = Vec::new();
    if s.axon_only {
        let (synapse, required) = synapse(s.kind);
        transports.push(TransportSpec::AxonV10 {
            synapse: synapse.into(),
            required_fields: required,
            hash_fields: vec![],
            endpoint: None,
            hotkey: None,
            dialect: AxonDialect::V10,
        });
        return with_transports(s, transports, input_schema, output_schema, fixture, capabilities);
    }
    let transport = match s.kind {
        SubnetKind::Llm => TransportSpec::OpenaiChat {
            base_url: format!("{}/v1", s.base_url()),
            model: "sim-llm".into(),
            auth: AuthKind::None,
        },
        _ => TransportSpec::HttpJson { url: s.url(), method: "POST".into(), auth: AuthKind::None },
    };
    transports.push(transport);
    // The same subnet as a v10 axon: the fallback when the HTTP API fails.
    if let Some((addr, hotkey)) = &s.axon {
        let (synapse, required) = synapse(s.kind);
        transports.push(TransportSpec::AxonV10 {
            synapse: synapse.into(),
            required_fields: required,
            hash_fields: vec![],
            endpoint: Some(addr.to_string()),
            hotkey: Some(hotkey.clone()),
            dialect: AxonDialect::V10,
        });
    }
    with_transports(s, transports, input_schema, output_schema, fixture, capabilities)
}

fn with_transports(
    s: &RunningSubnet,
    transports: Vec<TransportSpec>,
    input_schema: Value,
    output_schema: Value,
    fixture: Value,
    capabilities: Vec<String>,
) -> LedgerEntry {
    let (description, cost) = match s.kind {
        SubnetKind::Search => ("SIMULATED web search shaped like SN22 Desearch", 200),
        SubnetKind::Data => ("SIMULATED on-demand data and scraping shaped like SN13 Data Universe", 300),
        SubnetKind::Llm => ("SIMULATED OpenAI-compatible LLM chat shaped like SN64 Chutes", 500),
    };
    let description = if s.axon_only {
        format!("{description}, served only by v10 axons found in its metagraph")
    } else {
        description.to_string()
    };
    LedgerEntry {
        netuid: s.netuid,
        name: s.name.clone(),
        description,
        capabilities,
        transports,
        input_schema,
        output_schema,
        fixture,
        metrics: Metrics { latency_p50_ms: None, latency_p95_ms: None, reliability: None, cost_micros: cost },
        version: 0,
        last_verified_ms: None,
        provenance: Provenance::default(),
        status: EntryStatus::Candidate,
        simulated: true,
    }
}
