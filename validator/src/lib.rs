//! The Orchestra validator: verify work, govern the Ledger, score, set weights, serve the gateway.
//!
//! Built so far:
//! - [`verify`]: every check on a miner's Orchestrate response as a named sub-score
//!   (signature, receipt root and evidence, schema, grounding, citations, accuracy, re-probe,
//!   deadline, cost).
//! - [`reference`]: the validator's own answer to a task from its own subnet calls, and
//!   [`compare`]: field-by-field agreement of an answer with it.
//! - [`prober`]: the Ledger governance [`Prober`](orchestra_ledger_store::governance::Prober)
//!   that checks a proposal against the live subnet.
//!
//! - [`tasks`]: the synthetic task bank, randomized per miner and epoch.
//! - [`node`]: the daemon: rounds of tasks, verification, scoring, governance, guarded weights.
//! - [`upkeep`]: the `ledger-upkeep` task: scheduled, budgeted re-probes of every Ledger entry
//!   that move entries between verified, degraded and deprecated by rule.
//! - [`gateway`]: objectives for API clients, miner feedback, status and metrics.
//! - [`retention`]: the `retention` task that keeps every growing store bounded.

pub mod compare;
pub mod gateway;
pub mod node;
pub mod prober;
pub mod records;
pub mod reference;
pub mod retention;
pub mod tasks;
pub mod upkeep;
pub mod verify;

/// Errors of the validator library.
#[derive(Debug, thiserror::Error)]
pub enum ValidatorError {
    #[error("invalid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] orchestra_ledger_store::StoreError),
    #[error(transparent)]
    Proto(#[from] orchestra_proto::ProtoError),
}
