//! The Orchestra validator: verify work, govern the Ledger, score, set weights, serve the gateway.
//!
//! Built so far:
//! - [`verify`]: every check on a miner's Orchestrate response as a named sub-score
//!   (signature, receipt root and evidence, schema, grounding, re-probe, deadline, cost).
//! - [`prober`]: the Ledger governance [`Prober`](orchestra_ledger_store::governance::Prober)
//!   that checks a proposal against the live subnet.
//!
//! The epoch loop, weight submission, gateway and binary come with the rest of issue #6.

pub mod prober;
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
