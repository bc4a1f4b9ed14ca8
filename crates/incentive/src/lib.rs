//! Orchestra's incentive mechanism as pure functions: no I/O, no clock, no randomness.
//!
//! The validator scores miners with it every epoch and the owner's simulator replays whole
//! populations through the very same code, so what an owner sees in a simulation is what
//! validators will do.
//!
//! - [`policy`]: the owner policy (emission split, score weights, half-lives, re-probe rate),
//!   its validation and its compact on-chain commitment form.
//! - [`score`]: per-task orchestration scores from named verification sub-scores, and the
//!   per-epoch Ledger score from credits.
//! - [`ema`]: exponential moving averages with a half-life in epochs, which also decay when a
//!   miner does no work (reputation is earned and it fades).
//! - [`weights`]: the split, normalization and conversion to the chain's u16 vectors.

pub mod ema;
pub mod policy;
pub mod score;
pub mod sim;
pub mod weights;

/// Errors from bad scoring input.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IncentiveError {
    #[error("invalid policy: {0}")]
    Policy(String),
    #[error("invalid input: {0}")]
    Input(String),
    #[error(transparent)]
    Proto(#[from] orchestra_proto::ProtoError),
}
