//! Orchestra's own synapses: `Capabilities`, `Orchestrate` and `LedgerProposals`. Their names and
//! fields are part of the protocol (see [`crate::PROTOCOL_VERSION`]).
//!
//! Like Python synapses, one type carries the request fields (set by the validator) and the
//! response fields (filled by the miner). `Orchestrate` binds its request through
//! `request_digest`, its only hashed field: the v10 body hash covers nothing else, and
//! `str()` of a string is the string itself, so Python peers compute the same hash.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    ProtoError,
    canonical::{Digest, contexts, digest_in},
    contract::Contract,
    receipt::Receipt,
    wire::{PyType, Synapse},
};

/// Largest objective text accepted, in bytes.
pub const MAX_OBJECTIVE_BYTES: usize = 8 * 1024;
/// Largest target schema accepted, in bytes of canonical JSON.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;

/// Cheap liveness and capability check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Filled by the miner: its [`crate::PROTOCOL_VERSION`].
    #[serde(default)]
    pub protocol_version: Option<u32>,
    /// Filled by the miner: its software version.
    #[serde(default)]
    pub software_version: Option<String>,
    /// Transports the miner can call subnets over.
    #[serde(default)]
    pub transports: Vec<String>,
    /// Netuids the miner can reach.
    #[serde(default)]
    pub subnets: Vec<u16>,
    /// Capability names (e.g. `web_search`) the miner can plan with.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// How many Orchestrate tasks it takes at once.
    #[serde(default)]
    pub max_concurrency: Option<u32>,
}

impl Synapse for Capabilities {
    const NAME: &'static str = "Capabilities";
}

/// One step of a plan: a capability to call with inputs from the objective or earlier steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanStep {
    pub id: String,
    pub capability: String,
    #[serde(default)]
    pub inputs: Value,
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Subnets in the order the router will try them.
    #[serde(default)]
    pub route: Vec<u16>,
}

/// The kind of Ledger change a proposal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateType {
    NewSubnet,
    SchemaChange,
    EndpointChange,
    CapabilityAdded,
    MetricsUpdate,
    Deprecation,
}

/// A proposed Ledger update, with its evidence cited by receipt leaf hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerProposal {
    pub netuid: u16,
    pub subnet: String,
    pub update_type: UpdateType,
    /// Dotted path of the changed field, e.g. `output_schema.metadata.scrape_timestamp`.
    pub field: String,
    #[serde(default)]
    pub old_value: Value,
    #[serde(default)]
    pub new_value: Value,
    /// Leaf hashes of the receipts that show the change.
    pub evidence: Vec<Digest>,
    /// The task whose receipts hold the evidence.
    pub task_id: String,
    /// Proposer hotkey (ss58).
    pub proposed_by: String,
}

impl LedgerProposal {
    /// The part of the Ledger's proposal rules that needs no Ledger state: what a miner may
    /// never propose. `None` when the kind of change is allowed (the store then refuses no-ops
    /// and stale changes against the current entry). Validators refuse these, and the owner's
    /// simulator runs its spammer's proposals through the same rule.
    pub fn miner_refusal(&self) -> Option<String> {
        match self.update_type {
            UpdateType::EndpointChange => Some(
                "endpoint changes are not accepted from proposals: transports, URLs and credentials come from \
                 operators and subnet owners"
                    .into(),
            ),
            UpdateType::MetricsUpdate => {
                Some("metrics come from the validator's own measurements, not from proposals".into())
            }
            UpdateType::NewSubnet => {
                let transports = self.new_value.get("transports").and_then(Value::as_array);
                let addressed = transports.is_none_or(|ts| {
                    ts.iter().any(|t| {
                        serde_json::from_value::<crate::ledger::TransportSpec>(t.clone())
                            .map(|t| t.is_addressed())
                            .unwrap_or(true)
                    })
                });
                addressed.then(|| {
                    "a new_subnet proposal may not name URLs, endpoints or credentials: only metagraph-routed \
                     axon transports; operators and subnet owners set addresses"
                        .into()
                })
            }
            // A probe of the entry's fixture cannot show what else a subnet can do: a claimed
            // capability would be approved whenever the subnet answers (free discovery credit,
            // and miners would route to it for things it cannot do). Capabilities come from
            // operators and subnet owners.
            UpdateType::CapabilityAdded => Some(
                "capabilities are not accepted from proposals: a probe cannot show them; operators and subnet \
                 owners list them"
                    .into(),
            ),
            UpdateType::SchemaChange | UpdateType::Deprecation => None,
        }
    }
}

/// The bodies of one receipted call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallEvidence {
    pub request: Value,
    /// The parsed response for successful calls; the raw text (as a JSON string) otherwise.
    pub response: Value,
}

/// The request half of an Orchestrate task: what `request_digest` binds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrchestrateRequest {
    pub task_id: String,
    pub objective: String,
    pub target_schema: Value,
    pub contract: Contract,
    #[serde(default)]
    pub inputs: Value,
}

impl OrchestrateRequest {
    /// Reject what no miner should try: empty or oversized objectives, a schema that is not a
    /// JSON object, an unsatisfiable contract.
    pub fn validate(&self) -> Result<(), ProtoError> {
        if self.task_id.trim().is_empty() || self.task_id.len() > 128 {
            return Err(ProtoError::Invalid("task_id must be 1..=128 bytes".into()));
        }
        if self.objective.trim().is_empty() {
            return Err(ProtoError::Invalid("objective is empty".into()));
        }
        if self.objective.len() > MAX_OBJECTIVE_BYTES {
            return Err(ProtoError::Invalid(format!(
                "objective is {} bytes; the limit is {MAX_OBJECTIVE_BYTES}",
                self.objective.len()
            )));
        }
        if !self.target_schema.is_object() {
            return Err(ProtoError::Invalid("target_schema must be a JSON object".into()));
        }
        let schema_len = crate::canonical::canonical_bytes(&self.target_schema)?.len();
        if schema_len > MAX_SCHEMA_BYTES {
            return Err(ProtoError::Invalid(format!(
                "target_schema is {schema_len} bytes; the limit is {MAX_SCHEMA_BYTES}"
            )));
        }
        self.contract.validate()
    }

    /// blake3 of the canonical request, hex with `0x`.
    pub fn digest(&self) -> Result<Digest, ProtoError> {
        digest_in(contexts::SYNAPSE_REQUEST, self)
    }
}

/// The Orchestrate synapse: the request fields plus the miner's locked response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Orchestrate {
    /// Hex digest of [`OrchestrateRequest`]; the one hashed field.
    pub request_digest: String,
    pub task_id: String,
    pub objective: String,
    pub target_schema: Value,
    pub contract: Contract,
    #[serde(default)]
    pub inputs: Value,
    // ---- response, filled by the miner ----
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub plan: Vec<PlanStep>,
    #[serde(default)]
    pub receipts: Vec<Receipt>,
    /// The request and response bodies behind each receipt, in the same order. Their digests
    /// must equal the receipt's; validators check grounding against them and re-issue sampled
    /// requests to see whether the subnet really answers that way.
    #[serde(default)]
    pub evidence: Vec<CallEvidence>,
    #[serde(default)]
    pub receipt_root: Option<Digest>,
    /// For each leaf of `result`, where in which receipted body it was read
    /// ([`crate::extract::Citation`]). Validators check them against the hash-locked evidence
    /// and against their own re-probes.
    #[serde(default)]
    pub citations: Vec<crate::extract::Citation>,
    #[serde(default)]
    pub ledger_proposals: Vec<LedgerProposal>,
    #[serde(default)]
    pub cost_micros: u64,
    /// Miner hotkey that signed [`crate::receipt::commitment`].
    #[serde(default)]
    pub miner_hotkey: Option<String>,
    /// `0x` sr25519 signature over the commitment bytes.
    #[serde(default)]
    pub miner_signature: Option<String>,
    /// Set when the miner refuses or fails the task.
    #[serde(default)]
    pub error: Option<String>,
}

impl Synapse for Orchestrate {
    const NAME: &'static str = "Orchestrate";
    const REQUIRED_FIELDS: &'static [(&'static str, PyType)] = &[
        ("request_digest", PyType::Str),
        ("task_id", PyType::Str),
        ("objective", PyType::Str),
        ("target_schema", PyType::Dict),
        ("contract", PyType::Dict),
    ];
    const HASH_FIELDS: &'static [&'static str] = &["request_digest"];
}

impl Orchestrate {
    /// A request-only synapse with its digest filled in.
    pub fn from_request(req: OrchestrateRequest) -> Result<Self, ProtoError> {
        let request_digest = req.digest()?.to_hex();
        Ok(Orchestrate {
            request_digest,
            task_id: req.task_id,
            objective: req.objective,
            target_schema: req.target_schema,
            contract: req.contract,
            inputs: req.inputs,
            result: None,
            plan: Vec::new(),
            receipts: Vec::new(),
            evidence: Vec::new(),
            receipt_root: None,
            citations: Vec::new(),
            ledger_proposals: Vec::new(),
            cost_micros: 0,
            miner_hotkey: None,
            miner_signature: None,
            error: None,
        })
    }

    /// The request half.
    pub fn request(&self) -> OrchestrateRequest {
        OrchestrateRequest {
            task_id: self.task_id.clone(),
            objective: self.objective.clone(),
            target_schema: self.target_schema.clone(),
            contract: self.contract.clone(),
            inputs: self.inputs.clone(),
        }
    }

    /// Check that `request_digest` matches the request fields, so the body hash (which covers
    /// only the digest) in effect covers the whole request.
    pub fn check_request_digest(&self) -> Result<(), ProtoError> {
        let want = self.request().digest()?.to_hex();
        if want != self.request_digest {
            return Err(ProtoError::Invalid(format!(
                "request_digest {} does not match the request ({want})",
                self.request_digest
            )));
        }
        Ok(())
    }
}

/// A validator pulls a miner's pending Ledger proposals (miners cannot push).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LedgerProposals {
    /// Cursor: return proposals after this sequence number.
    #[serde(default)]
    pub since: u64,
    /// At most this many (the miner may return fewer).
    #[serde(default = "default_max")]
    pub max: u32,
    // ---- response ----
    #[serde(default)]
    pub proposals: Vec<LedgerProposal>,
    /// Cursor for the next pull.
    #[serde(default)]
    pub next: u64,
}

fn default_max() -> u32 {
    100
}

impl Synapse for LedgerProposals {
    const NAME: &'static str = "LedgerProposals";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Envelope;
    use serde_json::json;

    fn req() -> OrchestrateRequest {
        OrchestrateRequest {
            task_id: "t-1".into(),
            objective: "Research cloud GPU pricing".into(),
            target_schema: json!({"type": "object"}),
            contract: Contract::default(),
            inputs: Value::Null,
        }
    }

    #[test]
    fn digest_binds_request_and_body_hash_binds_digest() {
        let o = Orchestrate::from_request(req()).expect("o");
        o.check_request_digest().expect("matches");
        let mut tampered = o.clone();
        tampered.objective.push('!');
        assert!(tampered.check_request_digest().is_err());
        let env = Envelope::new(o.clone());
        let h1 = env.body_hash().expect("hash");
        // The body hash is sha3(sha3(request_digest)), as a Python peer computes it.
        let expect = crate::body_hash::body_hash_from_strs(&[o.request_digest.as_str()]);
        assert_eq!(h1, expect);
    }

    #[test]
    fn validation_names_the_problem() {
        let mut r = req();
        r.objective = "  ".into();
        assert!(r.validate().expect_err("empty").to_string().contains("objective is empty"));
        let mut r = req();
        r.objective = "x".repeat(MAX_OBJECTIVE_BYTES + 1);
        assert!(r.validate().expect_err("big").to_string().contains("limit"));
        let mut r = req();
        r.target_schema = json!("str");
        assert!(r.validate().expect_err("schema").to_string().contains("target_schema"));
        assert!(req().validate().is_ok());
    }

    #[test]
    fn envelope_round_trips_with_flattened_fields() {
        let o = Orchestrate::from_request(req()).expect("o");
        let env = Envelope::new(o);
        let text = serde_json::to_string(&env).expect("json");
        assert!(text.contains("\"name\":\"Orchestrate\""));
        let back: Envelope<Orchestrate> = serde_json::from_str(&text).expect("parse");
        assert_eq!(back.body, env.body);
    }
}
