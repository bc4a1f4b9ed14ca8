//! The scores a validator gives one task response, as they travel: in task records, miner
//! feedback and the gateway's answers. The rules that compute them are `orchestra_incentive::score`.

use serde::{Deserialize, Serialize};

/// What a validator measured about one task response. Every field is a named check so a miner
/// can see exactly why it scored what it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubScores {
    /// The miner's signature over the commitment verifies.
    pub signature: bool,
    /// The receipt root recomputes from the receipts and every cited leaf is included.
    pub receipt_root: bool,
    /// The result validates against the target schema.
    pub schema: bool,
    /// Share of result values traceable to receipted responses, in `[0, 1]`.
    pub grounding: f64,
    /// Agreement of re-probed receipts with the validator's own calls, in `[0, 1]`
    /// (`None` when nothing was re-probed this time).
    pub reprobe: Option<f64>,
    /// Response time over the contract deadline (≤ 1 met it).
    pub latency_ratio: f64,
    /// Cost over the contract budget (≤ 1 met it).
    pub cost_ratio: f64,
    /// The result met the contract's quality floor.
    #[serde(default = "yes")]
    pub quality_floor: bool,
    /// Share of the result's leaves with a citation that checks against the hash-locked
    /// evidence (`None` for responses from before citations existed).
    #[serde(default)]
    pub citations: Option<f64>,
    /// Field-level agreement with the validator's own reference answer, in `[0, 1]` (`None`
    /// when the validator had no reference for this task).
    #[serde(default)]
    pub accuracy: Option<f64>,
    /// A re-probe contradicted the receipted evidence (the subnet does not answer what the
    /// miner says it answered): fabrication, scored zero.
    #[serde(default)]
    pub contradicted: bool,
}

fn yes() -> bool {
    true
}

/// The breakdown of a task score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskScore {
    pub quality: f64,
    pub speed: f64,
    pub cost: f64,
    pub total: f64,
    /// Why the total is zero, when it is forced to zero.
    #[serde(default)]
    pub zeroed: Option<String>,
}
