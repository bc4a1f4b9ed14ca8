//! Orchestra's wire types and pure protocol logic, shared by every crate.
//!
//! Nothing here does I/O or needs an async runtime, so every rule of the protocol can be tested
//! (and reused by the miner, the validator, the CLI and the simulators) without a network:
//!
//! - [`wire`]: the Bittensor v10 synapse envelope, its `bt_header_*` headers and the signed
//!   messages of the dendrite and the axon.
//! - [`pyrepr`] and [`body_hash`]: the SDK's `computed_body_hash`, which hashes Python `str()`
//!   of the hashed fields.
//! - [`btauth`]: the `btauth/1` signed-header scheme of bittensor 11.
//! - [`canonical`]: RFC 8785 canonical JSON and the blake3 digests built on it.
//! - [`receipt`]: hash-locked receipts, their Merkle root, inclusion proofs and the miner's
//!   signed commitment.
//! - [`contract`] and [`synapses`]: Orchestra's own synapses and the contract every task runs
//!   under.
//! - [`extract`]: the extraction contract (objective + schema + receipted documents → an
//!   answer with a citation per leaf) shared by miners, LLM subnets and validators.
//! - [`nonce`]: the process's one nonce source (Unix ns, strictly increasing across threads).
//! - [`retry`]: the one retry backoff (exponential, capped, optional jitter) every retry loop
//!   sleeps by.
//! - [`weights`]: the SDK's conversion of float weights to the u16 vectors the chain takes.

pub mod body_hash;
pub mod btauth;
pub mod canonical;
pub mod contract;
pub mod date;
pub mod extract;
pub mod ledger;
pub mod nonce;
pub mod pyrepr;
pub mod receipt;
pub mod retry;
pub mod schema_diff;
pub mod shorthand;
pub mod synapses;
pub mod weights;
pub mod wire;

/// Version of Orchestra's own synapses (`Capabilities`, `Orchestrate`, `LedgerProposals`).
/// Bumped on any incompatible change to their fields or to the receipt hashing.
pub const PROTOCOL_VERSION: u32 = 1;

/// Errors from protocol-level parsing and validation.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProtoError {
    #[error("missing header `{0}`")]
    MissingHeader(&'static str),
    #[error("header `{name}` is not valid: {reason}")]
    BadHeader { name: &'static str, reason: String },
    #[error("field `{0}` is missing from the body")]
    MissingField(String),
    #[error("cannot render field `{field}` as Python str(): {reason}")]
    NotPythonRepresentable { field: String, reason: String },
    #[error("invalid weights: {0}")]
    Weights(String),
    #[error("invalid contract: {0}")]
    Contract(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("canonical JSON failed: {0}")]
    Canonical(String),
    #[error("merkle proof index {index} is out of range for {len} leaves")]
    ProofIndex { index: usize, len: usize },
}
