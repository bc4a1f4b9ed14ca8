//! The chain for Orchestra's neurons: an async [`Chain`] trait with two backends.
//!
//! - [`subtensor::SubtensorChain`]: a subtensor node (finney, testnet, local, or any endpoint)
//!   over subxt's dynamic API with a custom [`subtensor::SubtensorConfig`]. Call indices and
//!   argument layouts come from the node's metadata, which is checked at connect
//!   ([`subtensor::check_metadata`]); the WebSocket is reopened with backoff when it drops.
//! - [`devnet::DevnetClient`]: the local devnet simulator over HTTP JSON; the wire types are in
//!   [`devnet_api`], which the devnet server (crates/devnet) is written against.
//!
//! Both report the chain's own error names ([`ChainError::Dispatch`] with
//! `SettingWeightsTooFast`, [`ChainError::InvalidTransaction`] with `RateLimitExceeded`, …), so
//! callers handle errors the same way on either.
//!
//! Pure helpers, usable without any connection: [`commit_hash`] (commit-reveal v2, the chain's
//! BLAKE2-256 over SCALE), [`netuid_index`], the Commitments `Data` SCALE encoding
//! ([`CommitmentData`] implements `Encode`/`Decode`), [`ServeAxonArgs`] and the SDK's IP
//! encoding ([`ip_to_int`]), and [`WeightsSubmission::from_float`] (the SDK's
//! `convert_weights_and_uids_for_emit`).
//!
//! # What is tested, and what is not
//!
//! Tested offline (`cargo test -p orchestra-chain`):
//! - weight normalization against every `weights_for_emit` vector of `shared/vectors/bittensor.json`;
//! - [`commit_hash`] against hashes computed independently with the Python SDK's
//!   `generate_weight_hash` (bittensor 10.5.0), including a mechanism index and 2-byte compact lengths;
//! - the `Data` encoding tag by tag, and IP / `serve_axon` argument helpers;
//! - against the finney metadata snapshot `shared/chain/finney-2026-04.scale`: the call data of
//!   every extrinsic this crate submits (`set_weights`, `set_mechanism_weights`, `commit_weights`,
//!   `commit_mechanism_weights`, `reveal_weights`, `reveal_mechanism_weights`, `serve_axon`,
//!   `burned_register`, `Commitments.set_commitment`): pallet index (SubtensorModule 7,
//!   Commitments 18), call index and argument bytes, compared with an independent SCALE encoding;
//! - a complete signed v4 extrinsic built offline with [`subtensor::SubtensorConfig`] and decoded
//!   back with frame-decode: signer, sr25519 signature over the signer payload, era, nonce, tip
//!   and metadata-hash mode; the same against a copy of the metadata whose fee extension is
//!   renamed `ChargeTransactionPaymentWrapper`, and a refusal when an unknown non-empty extension
//!   is added; [`subtensor::check_metadata`] on the snapshot;
//! - decoding of `get_neurons_lite`, `get_subnet_hyperparams_v2` and `CommitmentOf` bytes (built in
//!   the tests following subtensor's struct layouts) against the snapshot's types;
//! - [`subtensor::SubtensorChain`] against a mock node (a WebSocket JSON-RPC server in the tests
//!   that serves the snapshot's metadata and canned state through subxt's legacy RPC methods):
//!   connect and the metadata check, block number, metagraph, hyperparameters, uid and commitment
//!   reads, reconnecting after the node drops the socket, giving up after the backoff, and
//!   submission up to named errors: a `validate_transaction` rejection `Custom(6)` →
//!   `RateLimitExceeded` (nothing broadcast), the same rejection as an RPC error 1010 from
//!   `author_submitAndWatchExtrinsic`, and an in-block `ExtrinsicFailed` decoded to
//!   `SubtensorModule::SettingWeightsTooFast`; the broadcast bytes are a signed v4 extrinsic with
//!   the node's nonce;
//! - [`devnet::DevnetClient`] end to end against an in-process mock of the devnet HTTP API,
//!   including request signatures, nonces and error mapping.
//!
//! Not tested without a live node (no node is reachable from the build machine):
//! - a real subtensor node: whether the live runtime accepts our signed extrinsics (the checks
//!   above cover their bytes against the 2026-04 snapshot, and the live metadata may have moved
//!   on), real pool and dispatch behaviour, the exact text a real node puts in its errors (the
//!   `Custom error: N` parsing follows substrate's format), and runtime API and storage reads
//!   against real chain state;
//! - the TLS handshake to `wss://` endpoints (rustls with ring and the platform verifier, from
//!   jsonrpsee): the mock node speaks plain `ws://`;
//! - the runtime-upgrade path (metadata is re-checked when the spec version changes). The client
//!   uses the legacy JSON-RPC methods only (as the Python SDK does), which is what the mock serves.
//!
//! Findings from the snapshot worth knowing: its fee extension identifier is
//! `ChargeTransactionPayment`, not `ChargeTransactionPaymentWrapper` (the wrapper's `metadata()`
//! delegates to the inner extension), so both names are accepted; it has
//! `get_subnet_hyperparams_v2` but not `_v3`, and no `get_next_epoch_start_block`.
//! Commit-reveal here is v2 (hash commit, explicit reveal). Subnets on finney that use timelocked
//! (drand, v4) commit-reveal need `commit_timelocked_weights`, which this crate does not build.

pub mod admin;
pub mod devnet;
pub mod devnet_api;
pub mod encode;
mod error;
pub mod subtensor;
pub mod types;

use async_trait::async_trait;

pub use admin::{ChainAdmin, Hyperparam};
pub use encode::{commit_hash, netuid_index};
pub use error::{ChainError, custom_transaction_error_name};
pub use types::{
    AxonInfo, AxonServe, Commitment, CommitmentData, Hyperparams, MAIN_MECHANISM, Metagraph, NetUid, NeuronInfo,
    ServeAxonArgs, TxOutcome, WeightsReveal, WeightsSubmission, int_to_ip, ip_to_int,
};

/// What the neurons need from a chain. Object safe: hold it as `Arc<dyn Chain>`.
///
/// Calls that change state are signed by the key the backend was given: the hotkey for weights,
/// axons and commitments, the coldkey for registration; without it they fail with
/// [`ChainError::MissingSigner`].
#[async_trait]
pub trait Chain: Send + Sync {
    /// A short description for logs (backend and network).
    fn describe(&self) -> String;

    /// SS58 of the hotkey that signs neuron calls, if one was given.
    fn hotkey(&self) -> Option<&str>;

    /// The current block number.
    async fn block_number(&self) -> Result<u64, ChainError>;

    /// The subnet's hyperparameters; [`ChainError::SubnetNotFound`] if it does not exist.
    async fn hyperparams(&self, netuid: NetUid) -> Result<Hyperparams, ChainError>;

    /// The subnet's neurons.
    async fn metagraph(&self, netuid: NetUid) -> Result<Metagraph, ChainError>;

    /// The uid of `hotkey` (SS58) on the subnet, if registered.
    async fn uid_of(&self, netuid: NetUid, hotkey: &str) -> Result<Option<u16>, ChainError> {
        Ok(self.metagraph(netuid).await?.uid_of(hotkey))
    }

    /// Announces the hotkey's axon (`serve_axon`).
    async fn serve_axon(&self, netuid: NetUid, axon: &AxonServe) -> Result<TxOutcome, ChainError>;

    /// Sets weights directly (subnets without commit-reveal).
    async fn set_weights(&self, netuid: NetUid, weights: &WeightsSubmission) -> Result<TxOutcome, ChainError>;

    /// Commits a commit-reveal v2 hash (see [`commit_hash`]).
    async fn commit_weights(
        &self,
        netuid: NetUid,
        mechanism: u8,
        commit_hash: [u8; 32],
    ) -> Result<TxOutcome, ChainError>;

    /// Reveals weights committed earlier with [`Chain::commit_weights`].
    async fn reveal_weights(&self, netuid: NetUid, reveal: &WeightsReveal) -> Result<TxOutcome, ChainError>;

    /// Commits the hash of `reveal` for this client's hotkey: [`WeightsReveal::commit_hash`] then
    /// [`Chain::commit_weights`]. Keep `reveal` to reveal it in the reveal epoch.
    async fn commit_weights_for(&self, netuid: NetUid, reveal: &WeightsReveal) -> Result<TxOutcome, ChainError> {
        let hotkey = self.hotkey().ok_or(ChainError::MissingSigner("hotkey"))?;
        let account = orchestra_keys::PublicKey::from_ss58(hotkey)
            .map_err(|e| ChainError::InvalidInput(format!("hotkey {hotkey:?}: {e}")))?;
        self.commit_weights(netuid, reveal.mechanism, reveal.commit_hash(&account.0, netuid)).await
    }

    /// Publishes `data` as the hotkey's commitment on the subnet: one `Raw` field up to 128 bytes
    /// (what the Python SDK writes and reads), `BigRaw` up to 512.
    async fn set_commitment(&self, netuid: NetUid, data: &[u8]) -> Result<TxOutcome, ChainError>;

    /// The commitment `hotkey` (SS58) published on the subnet, if any.
    async fn commitment(&self, netuid: NetUid, hotkey: &str) -> Result<Option<Commitment>, ChainError>;

    /// Registers `hotkey` (SS58) on the subnet by burning the current registration cost from the
    /// coldkey this client signs with.
    async fn burned_register(&self, netuid: NetUid, hotkey: &str) -> Result<TxOutcome, ChainError>;
}
