//! The Orchestra miner: objective → plan → subnet calls with receipts → schema-valid result.
//!
//! - [`planner`]: a deterministic planner driven by the Ledger's capabilities and the target
//!   schema; it always works offline.
//! - [`router`]: capability match, then reliability, latency and cost; an ordered fallback list.
//! - [`executor`]: the plan as a DAG; independent steps run concurrently; per-call timeouts,
//!   retries with backoff and jitter, fallback to the next subnet, the contract's deadline and
//!   budget; every completed step is checkpointed so a restarted miner does not pay twice.
//! - [`extraction`]: the answer through an LLM subnet: documents from the receipted bodies, the
//!   shared extraction contract (`orchestra_proto::extract`), schema and citation checks, bounded
//!   repair rounds with feedback, token costs from `usage`.
//! - [`synth`]: the deterministic fallback: fills only what the evidence states, cites it, and
//!   fails a task whose required fields it cannot fill.
//! - [`ledger_sync`]: follows the validators' Ledger API (checked against its Merkle root) so
//!   approved Ledger changes reach routing without a restart.
//! - [`pipeline`]: runs a whole task and locks the response (receipt root, signature).
//! - [`retention`]: the `retention` task that removes old job checkpoints.

pub mod executor;
pub mod extraction;
pub mod ledger_sync;
pub mod node;
pub mod pipeline;
pub mod planner;
pub mod retention;
pub mod router;
pub mod state;
pub mod synth;

/// Errors of the miner library.
#[derive(Debug, thiserror::Error)]
pub enum MinerError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("cannot plan: {0}")]
    Plan(String),
    #[error("step `{step}` failed: {reason}")]
    Step { step: String, reason: String },
    #[error("deadline of {0} ms exceeded")]
    Deadline(u64),
    #[error("budget exhausted: {0}")]
    Budget(String),
    #[error("synthesis: {0}")]
    Synth(String),
    #[error(transparent)]
    Store(#[from] orchestra_store::StoreError),
    #[error(transparent)]
    Proto(#[from] orchestra_proto::ProtoError),
    #[error(transparent)]
    Subnet(#[from] orchestra_subnets::SubnetError),
    #[error(transparent)]
    Node(#[from] orchestra_node::NodeError),
    #[error(transparent)]
    Net(#[from] orchestra_net::NetError),
}
