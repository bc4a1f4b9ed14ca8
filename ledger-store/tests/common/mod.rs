//! Shared fixtures for the ledger-store tests.
#![allow(dead_code)]

use orchestra_proto::canonical::Digest;
use orchestra_proto::ledger::{AuthKind, EntryStatus, LedgerEntry, Metrics, Provenance, TransportSpec};
use orchestra_proto::synapses::{LedgerProposal, UpdateType};
use serde_json::{Value, json};

pub fn entry(netuid: u16) -> LedgerEntry {
    LedgerEntry {
        netuid,
        name: format!("sim-{netuid}"),
        description: "simulated subnet for tests".into(),
        capabilities: vec!["web_search".into()],
        transports: vec![TransportSpec::HttpJson {
            url: format!("http://127.0.0.1:9/{netuid}"),
            method: "POST".into(),
            auth: AuthKind::None,
        }],
        input_schema: json!({"type": "object", "properties": {"prompt": {"type": "string"}}}),
        output_schema: json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"source": {"type": "string"}}}}}),
        fixture: json!({"prompt": "gpu pricing"}),
        metrics: Metrics::default(),
        version: 0,
        last_verified_ms: None,
        provenance: Provenance::default(),
        status: EntryStatus::Candidate,
        simulated: true,
    }
}

pub fn leaf(n: u8) -> Digest {
    Digest(blake3::hash(&[n]).into())
}

pub fn schema_proposal(netuid: u16, by: &str, new_value: Value) -> LedgerProposal {
    LedgerProposal {
        netuid,
        subnet: format!("sim-{netuid}"),
        update_type: UpdateType::SchemaChange,
        field: "output_schema.metadata.scrape_timestamp".into(),
        old_value: Value::Null,
        new_value,
        evidence: vec![leaf(1)],
        task_id: "t1".into(),
        proposed_by: by.into(),
    }
}
