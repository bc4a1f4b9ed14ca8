//! The validator gateway's request and response views (`/v1/objectives` and its `revise` and
//! `accept` routes): the one definition the gateway serves and stores, and `orchestra submit` and
//! localnet send and read. Refusals use the Ledger API's error body (`{"error", "code"}`), since
//! the gateway is metered by it.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::contract::Contract;
use crate::receipt::Receipt;
use crate::score::{SubScores, TaskScore};

/// Where an objective stands. On the wire: `"completed"`, `"failed"`, `"accepted"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveState {
    /// A verified answer that scored above zero was delivered.
    Completed,
    /// No miner's answer could be delivered; `reason` says why.
    Failed,
    /// The client accepted the answer; it can no longer be revised.
    Accepted,
}

impl std::fmt::Display for ObjectiveState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ObjectiveState::Completed => "completed",
            ObjectiveState::Failed => "failed",
            ObjectiveState::Accepted => "accepted",
        })
    }
}

/// `POST /v1/objectives` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveRequest {
    pub objective: String,
    /// JSON Schema, or the README shorthand.
    pub target_schema: Value,
    /// The gateway's default contract (20 s deadline) when absent.
    #[serde(default)]
    pub contract: Option<Contract>,
    #[serde(default)]
    pub inputs: Value,
    /// 1 = the best miner; N > 1 = a contest among the top N, the best verified answer wins.
    #[serde(default = "one")]
    pub top_n: usize,
}

fn one() -> usize {
    1
}

impl ObjectiveRequest {
    /// An objective for the best miner alone, under the gateway's default contract.
    pub fn new(objective: impl Into<String>, target_schema: Value) -> Self {
        ObjectiveRequest { objective: objective.into(), target_schema, contract: None, inputs: Value::Null, top_n: 1 }
    }

    pub fn with_contract(mut self, contract: Contract) -> Self {
        self.contract = Some(contract);
        self
    }

    /// A contest among the top `n` miners.
    pub fn with_top_n(mut self, n: usize) -> Self {
        self.top_n = n;
        self
    }
}

/// `POST /v1/objectives/{id}/revise` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviseRequest {
    /// What the answer should do differently, 1..=2000 bytes.
    pub feedback: String,
}

/// One miner's part in an objective: its score card, or only `error` when the call failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contestant {
    /// The miner's hotkey.
    pub miner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<TaskScore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<SubScores>,
    /// The verifier's notes on the answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The failed call's status, or the miner's own (sanitized) error text.
    #[serde(default)]
    pub error: Option<String>,
}

impl Contestant {
    /// A miner whose call failed.
    pub fn failed(miner: impl Into<String>, error: impl Into<String>) -> Self {
        Contestant { miner: miner.into(), score: None, sub: None, notes: Vec::new(), error: Some(error.into()) }
    }
}

/// An objective and its outcome: the answer of every objective route, and what the gateway
/// stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveRecord {
    pub id: String,
    pub request: ObjectiveRequest,
    pub state: ObjectiveState,
    /// The delivered answer, in the shape of the target schema.
    pub result: Option<Value>,
    /// The miner whose answer was delivered.
    pub miner: Option<String>,
    /// The delivered answer's score card.
    pub scores: Option<Contestant>,
    /// The receipts of the delivered answer (records stored before this view may hold `null`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub receipts: Vec<Receipt>,
    /// Their Merkle root, hex.
    pub receipt_root: Option<String>,
    /// The revision requests so far, oldest first.
    pub revisions: Vec<String>,
    pub contestants: Vec<Contestant>,
    /// Why a failed objective failed: each miner's reason (its error, or the check that
    /// zeroed its answer).
    #[serde(default)]
    pub reason: Option<String>,
    /// The id of the API key that created it: only that key may read, revise or accept it.
    #[serde(default)]
    pub owner: Option<String>,
    /// When it last changed (created, revised, accepted), Unix ms: retention counts from it.
    #[serde(default)]
    pub updated_ms: u64,
}

impl ObjectiveRecord {
    /// The delivered answer's total score.
    pub fn score_total(&self) -> Option<f64> {
        self.scores.as_ref().and_then(|c| c.score.as_ref()).map(|s| s.total)
    }
}

fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_minimal_request_takes_the_defaults() {
        let r: ObjectiveRequest =
            serde_json::from_value(json!({"objective": "x", "target_schema": {"a": "str"}})).expect("parse");
        assert_eq!(r, ObjectiveRequest::new("x", json!({"a": "str"})));
        assert_eq!(r.top_n, 1);
        let built = ObjectiveRequest::new("x", json!({})).with_top_n(3).with_contract(Contract::default());
        let back: ObjectiveRequest = serde_json::from_value(serde_json::to_value(&built).expect("ser")).expect("de");
        assert_eq!(back, built);
    }

    #[test]
    fn records_stored_before_the_typed_view_still_read() {
        // The shape the gateway wrote with `json!` bodies: a failed call's card holds only the
        // miner and its error, receipts may be null, no owner or timestamp.
        let old = json!({
            "id": "obj-1", "request": {"objective": "x", "target_schema": {"a": "str"}}, "state": "failed",
            "result": null, "miner": null, "scores": null, "receipts": null, "receipt_root": null,
            "revisions": [], "contestants": [{"miner": "5H1", "error": "status 503"}]
        });
        let r: ObjectiveRecord = serde_json::from_value(old).expect("old record");
        assert_eq!(r.state, ObjectiveState::Failed);
        assert!(r.receipts.is_empty());
        assert_eq!(r.contestants, vec![Contestant::failed("5H1", "status 503")]);
        assert_eq!(r.score_total(), None);
        assert_eq!((r.owner, r.updated_ms), (None, 0));
    }

    #[test]
    fn a_score_card_round_trips_and_names_its_total() {
        let card = json!({
            "miner": "5H2",
            "score": {"quality": 0.9, "speed": 1.0, "cost": 1.0, "total": 0.93, "zeroed": null},
            "sub": {"signature": true, "receipt_root": true, "schema": true, "grounding": 1.0, "reprobe": null,
                    "latency_ratio": 0.2, "cost_ratio": 0.1},
            "notes": ["ok"], "error": null
        });
        let c: Contestant = serde_json::from_value(card).expect("card");
        assert_eq!(c.score.as_ref().map(|s| s.total), Some(0.93));
        assert!(c.sub.as_ref().is_some_and(|s| s.quality_floor), "older sub-scores default the floor to met");
        let back: Contestant = serde_json::from_value(serde_json::to_value(&c).expect("ser")).expect("de");
        assert_eq!(back, c);
        assert_eq!(serde_json::to_value(ObjectiveState::Accepted).expect("ser"), json!("accepted"));
        assert_eq!(ObjectiveState::Completed.to_string(), "completed");
    }
}
