//! Test fixtures that put miners, validators and simulated subnets together in one process.
//! Only tests use this crate; it is the one place allowed to link both `miner` and `validator`.

pub mod redteam;

use orchestra_proto::contract::Contract;
use orchestra_proto::synapses::{Orchestrate, OrchestrateRequest};
use serde_json::{Value, json};

/// The worked example of the Orchestra README as an Orchestrate request.
pub fn worked_example(task_id: &str, deadline_ms: u64) -> OrchestrateRequest {
    OrchestrateRequest {
        task_id: task_id.into(),
        objective: "Research cloud GPU pricing and recommend positioning for our inference API".into(),
        target_schema: json!({
            "competitors": [{"name": "str", "pricing": "dict"}],
            "recommendation": {"price_point": "float", "rationale": "str"}
        }),
        contract: Contract { deadline_ms, ..Contract::default() },
        inputs: Value::Null,
    }
}

/// An Orchestrate synapse for a request (digest filled in).
pub fn synapse(req: &OrchestrateRequest) -> Orchestrate {
    // The digest of a well-formed request always computes; a failure here is a test bug.
    Orchestrate::from_request(req.clone()).unwrap_or_else(|e| panic!("request digest: {e}"))
}
