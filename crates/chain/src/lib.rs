//! The chain for Orchestra's neurons: an async [`Chain`] trait with two backends.
//!
//! - [`subtensor::SubtensorChain`]: a subtensor node (finney, testnet, local, or any endpoint)
//!   over subxt's dynamic API with a custom [`subtensor::SubtensorConfig`]. Call indices and
//!   argument layouts come from the node's metadata, which is checked at connect
//!   ([`subtensor::check_metadata`]); the WebSocket is reopened with backoff when it drops. The
//!   backend adapts to the runtime: typed runtime APIs (`get_neurons_lite`,
//!   `get_subnet_hyperparams_v2`) where the metadata describes them (finney), storage maps read
//!   by name otherwise ([`subtensor::storage`]; spec 218, whose runtime APIs return opaque SCALE
//!   `Vec<u8>`); `set_weights` for mechanism 0 and `set_mechanism_weights` only where it exists.
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
//! - the read path chosen from the metadata: typed APIs on the finney snapshot, storage on the
//!   spec-218 metadata (`tests/data/subtensor-spec218-metadata.scale`, V15, fetched from the
//!   runtime under chopsticks), whose extensions and calls pass the same check;
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
//! Tested against the real subtensor runtime (`tests/conformance_subtensor.rs`, spec 218 of
//! `shared/chain/subtensor-raonet-spec218.json` executed by chopsticks; `scripts/chopsticks.sh`
//! installs it, the test starts it through `scripts/local-runtime.sh` and is skipped with a
//! printed reason when it is not installed): connect and the metadata check, Sudo'd
//! hyperparameters ([`ChainAdmin`]), `register_network`, `burned_register`, `add_stake`,
//! `serve_axon`, `set_weights`, `commit_weights` then `reveal_weights` in the next epoch,
//! `set_commitment` and its read, metagraph and hyperparameters from storage, epochs with
//! `dev_newBlock`, and a payment: [`Chain::transfer`] with a remark
//! (`Utility.batch_all([Balances.transfer_keep_alive, System.remark_with_event])`) read back with
//! [`Chain::extrinsic_receipt`] (signer, success, `Balances.Transfer` and `System.Remarked`
//! events, finality) and [`Chain::free_balance`]. The same scenario (`tests/conformance/mod.rs`)
//! runs on the devnet (crates/devnet/tests/conformance.rs). The payment call's bytes are checked
//! offline against both the finney snapshot and the spec-218 metadata.
//!
//! # Where the devnet and the subtensor runtime (spec 218) differ
//!
//! Seen by running the conformance scenario on both; the runtime is the reference.
//! - **Stake units.** Subtensor (dTAO) swaps staked TAO for the subnet's alpha through its pool:
//!   100 TAO into a 1000/1000 pool gives 90.99 alpha, and the metagraph's stake is alpha
//!   (`TotalHotkeyAlpha`). The devnet stakes 1:1 with no pool. A new subnet's pool on spec 218
//!   starts at 1 rao of each (its `do_register_network` inserts 1), so any stake buys ~0 alpha; [`ChainAdmin::create_subnet`] on
//!   chopsticks seeds it to 1000 TAO each (`dev_setStorage`).
//! - **The owner's stake.** Subtensor stakes the owner's initial alpha, the owner cut and the
//!   owner's dividends to the owner hotkey (uid 0 holds stake); the devnet pays the owner cut
//!   to the owner's free balance and uid 0 has no stake.
//! - **Epoch schedule.** Spec 218 drains pending emission and runs its epoch at *every* block,
//!   for every subnet, whatever the tempo (`LastMechansimStepBlock` = the current block on
//!   subnets of tempo 10, 30 and 100): in the rao devnet source of that spec
//!   (opentensor/subtensor, early January 2025, e.g. commit c39109d32) the tempo check in
//!   `run_coinbase` is commented out. The devnet follows the schedule
//!   `(block + netuid + 1) % (tempo + 1) == 0`, as finney does. Commit-reveal epochs
//!   (`reveal_weights` one epoch after the commit) use that formula on both and agree.
//! - **Epoch outputs.** Spec 218's epoch is `epoch_mock`, not Yuma: it writes 0 to `Rank`,
//!   `Trust`, `Consensus`, `Incentive`, `Dividends` and `ValidatorTrust`, `true` to every
//!   `ValidatorPermit` and `Active`, and splits the emission among hotkeys in proportion to their
//!   stake (weights are stored but never read). So incentive is always 0 there, whatever the
//!   weights. The devnet runs Yuma Consensus (`orchestra_yuma`), like finney: the weighted miners
//!   get incentive and emission, the validator dividends. The runtime is not the reference here.
//! - **Validator permits.** On spec 218 every uid has one from the next block on
//!   (`epoch_mock`); the devnet hands them out by stake at the subnet's next epoch. The scenario
//!   runs one epoch before setting weights.
//! - **Default hyperparameters of a new subnet.** Spec 218: immunity_period 5000,
//!   max_validators 64, bonds_moving_avg 990000, min_burn 1 rao. Devnet (finney's defaults,
//!   reference 3.5): 4096, 128, 900000, 500000.
//! - **Registration limits.** Subtensor enforces `MaxRegistrationsPerBlock` and
//!   `TargetRegistrationsPerInterval` (the scenario raises both); the devnet has none, so
//!   setting them is a no-op there.
//! - **Blocks.** Chopsticks (build-block-mode Instant) makes one block per extrinsic; the devnet
//!   applies extrinsics in the current block and only moves on with its block timer or
//!   `advance_blocks`. Block numbers of the same step differ (registration at block 18 vs 1).
//! - **Transaction outcome.** Subtensor returns block hash, block number and extrinsic hash;
//!   the devnet the block number only.
//! - **Fees and accounts.** Subtensor charges fees and refuses extrinsics from accounts that do
//!   not exist, so hotkeys need a balance (local-runtime.sh funds the dev accounts); the devnet
//!   has no fees.
//! - **Finality.** Chopsticks finalizes every block at once; the devnet finalizes a block once the
//!   next one is being built (so a transfer in the current block is not final yet).
//! - **Reading blocks.** Subtensor blocks have hashes and hold every extrinsic with its events; the
//!   devnet has no block hashes (an extrinsic is found by block number and hash) and records only
//!   transfers (`GET /v1/blocks/{n}`), with synthetic extrinsic hashes, no fees and no
//!   existential deposit. An overdraft fails in the block on subtensor (`batch_all`: arithmetic
//!   underflow), before it on the devnet (`Balances::InsufficientBalance`).
//! - **Loopback axons.** Subtensor refuses `serve_axon` to 127.0.0.1 (`InvalidIpAddress`); the
//!   devnet accepts it unless `DevnetConfig::allow_loopback_axons` is off (the local scripts
//!   rely on loopback axons; the conformance run turns it off).
//! - **Subnet creation and hyperparameters.** Subtensor: `register_network(hotkey, mechid)`
//!   after `sudo_set_network_rate_limit(0)`, Sudo'd `AdminUtils` calls (one extrinsic each,
//!   `WeightsMinStake` chain-wide). Devnet: its admin API, the owner sets any field in one call.
//!
//! Not tested without a live node (no node is reachable from the build machine):
//! - finney's live runtime: whether it accepts our signed extrinsics (the checks above cover
//!   their bytes against the 2026-04 snapshot; spec 218 accepts them, but finney's metadata has
//!   moved on), the typed runtime API reads against real finney state, and the exact text a
//!   real node (not chopsticks) puts in its errors;
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
pub use encode::{commit_hash, netuid_index, remark_hash};
pub use error::{ChainError, custom_transaction_error_name};
pub use types::{
    AxonInfo, AxonServe, Commitment, CommitmentData, ExtrinsicReceipt, Hyperparams, MAIN_MECHANISM, Metagraph, NetUid,
    NeuronInfo, RemarkEvent, ServeAxonArgs, SignerRole, TransferEvent, TxOutcome, TxRef, WeightsReveal,
    WeightsSubmission, int_to_ip, ip_to_int,
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

    /// The free balance of `account` (SS58), in rao.
    async fn free_balance(&self, account: &str) -> Result<u64, ChainError>;

    /// Transfers `amount` rao from the coldkey to `dest` (SS58). With a `remark`, the transfer
    /// and the remark are one extrinsic, `Utility.batch_all([Balances.transfer_keep_alive(dest,
    /// amount), System.remark_with_event(remark)])`, so they land or fail together and the
    /// remark (a payment reference) is bound to the transfer; without, a plain
    /// `Balances.transfer_keep_alive`. The outcome's [`TxOutcome::tx_ref`] finds it again.
    async fn transfer(&self, dest: &str, amount: u64, remark: Option<&[u8]>) -> Result<TxOutcome, ChainError>;

    /// Reads back the extrinsic `at` names from its block: finalized or not, success, its
    /// `Balances.Transfer` and `System.Remarked` events. `Ok(None)` when the block has no such
    /// extrinsic (or the block is unknown).
    async fn extrinsic_receipt(&self, at: &TxRef) -> Result<Option<ExtrinsicReceipt>, ChainError>;
}
