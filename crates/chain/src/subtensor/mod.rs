//! The subtensor backend: [`SubtensorChain`] talks to a subtensor node (finney, testnet, a local
//! node or any endpoint) over subxt's dynamic API, so call indices and argument layouts always
//! come from the node's own metadata. At connect it checks that metadata has every call and
//! storage entry this crate uses and that [`SubtensorConfig`] can fill in all of the runtime's
//! transaction extensions, and picks the read path the runtime allows: typed runtime APIs where
//! the metadata describes their output (finney), storage maps by name otherwise ([`storage`];
//! spec 218). [`ChainAdmin`](crate::ChainAdmin) is implemented for dev chains whose Sudo key is
//! the client's coldkey. A dropped WebSocket is reopened with exponential backoff.
//!
//! By concern: `network` (named networks and endpoints), `connection` (the WebSocket, backoff,
//! reconnects, reads retried once), `metadata` (the check at connect), `submit` (signing, dry run,
//! submission), `tx_errors` (failures named as the chain names them), [`calls`] and [`balances`]
//! (the extrinsics built), [`storage`] and [`decode`] (reads), `admin` (dev-chain set-up).

mod admin;
pub mod balances;
pub mod calls;
pub mod config;
mod connection;
pub mod decode;
mod metadata;
mod network;
pub mod storage;
mod submit;
mod tx_errors;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use orchestra_keys::{Keypair, PublicKey};
use subxt::metadata::ArcMetadata;
use subxt::utils::AccountId32;
use tokio::sync::{Mutex, RwLock};

use crate::types::{
    AxonServe, Commitment, CommitmentData, ExtrinsicReceipt, Hyperparams, Metagraph, NetUid, ServeAxonArgs, SignerRole,
    TxOutcome, TxRef, WeightsReveal, WeightsSubmission,
};
use crate::{Chain, ChainError};
pub use config::{
    ChargeTransactionPaymentWrapper, SUPPORTED_EXTENSIONS, SubtensorConfig, SubtensorExtensions, TxParams,
};
use connection::{Conn, open_with_backoff};
pub use metadata::{MECHANISM_CALLS, MetadataReport, REQUIRED_CALLS, REQUIRED_STORAGE, check_metadata};
pub use network::{FINNEY_ENDPOINT, LOCAL_ENDPOINT, Network, TEST_ENDPOINT};
pub use submit::KeypairSigner;
pub use tx_errors::{dispatch_error, invalid_transaction, parse_custom_code};

/// Tuning of [`SubtensorChain`].
#[derive(Clone, Debug)]
pub struct SubtensorOptions {
    /// Blocks a transaction stays valid (the Python SDK uses 128 for weights).
    pub mortality_blocks: u64,
    /// Tip for every transaction, in rao.
    pub tip: u64,
    /// Wait for finalization instead of inclusion in a best block.
    pub wait_for_finalization: bool,
    /// Dry-run each transaction (`TaggedTransactionQueue_validate_transaction`) before submitting,
    /// which turns pool rejections into named errors before anything is broadcast.
    pub validate_before_submit: bool,
    /// Longest wait for a transaction to be included (or finalized).
    pub tx_timeout: Duration,
    /// Longest wait for one read (block number, metagraph, …).
    pub request_timeout: Duration,
    /// Reconnect attempts before an operation fails with [`ChainError::Connection`].
    pub reconnect_attempts: u32,
    /// First pause between reconnect attempts; doubled after each failure.
    pub reconnect_backoff: Duration,
    /// Longest pause between reconnect attempts.
    pub reconnect_backoff_max: Duration,
}

impl Default for SubtensorOptions {
    fn default() -> Self {
        SubtensorOptions {
            mortality_blocks: 128,
            tip: 0,
            wait_for_finalization: false,
            validate_before_submit: true,
            tx_timeout: Duration::from_secs(120),
            request_timeout: Duration::from_secs(60),
            reconnect_attempts: 6,
            reconnect_backoff: Duration::from_millis(500),
            reconnect_backoff_max: Duration::from_secs(30),
        }
    }
}

/// A [`Chain`] backed by a subtensor node.
pub struct SubtensorChain {
    network: Network,
    opts: SubtensorOptions,
    config: SubtensorConfig,
    hotkey: Option<KeypairSigner>,
    coldkey: Option<KeypairSigner>,
    conn: RwLock<Conn>,
    reconnecting: Mutex<()>,
    /// Spec version whose metadata passed [`check_metadata`]; re-checked after a runtime upgrade.
    checked_spec: AtomicU32,
    mechanism_calls: AtomicBool,
    typed_neurons_api: AtomicBool,
    typed_hyperparams_api: AtomicBool,
    /// `mechid` for [`crate::ChainAdmin::create_subnet`] on runtimes whose `register_network`
    /// takes one (spec 218: 0 stable, 1 dynamic).
    subnet_mechanism: u16,
}

impl fmt::Debug for SubtensorChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubtensorChain")
            .field("network", &self.network)
            .field("hotkey", &self.hotkey.as_ref().map(|k| k.ss58()))
            .field("coldkey", &self.coldkey.as_ref().map(|k| k.ss58()))
            .finish_non_exhaustive()
    }
}

fn rpc_err(e: impl fmt::Display) -> ChainError {
    ChainError::Rpc(e.to_string())
}

impl SubtensorChain {
    /// Connects to `network` (retrying with backoff) and checks its metadata. The client can read
    /// but not sign until [`SubtensorChain::with_hotkey`] / [`SubtensorChain::with_coldkey`].
    pub async fn connect(network: Network, opts: SubtensorOptions) -> Result<Self, ChainError> {
        let config = SubtensorConfig::new();
        let conn = open_with_backoff(network.endpoint(), &config, &opts).await?;
        let chain = SubtensorChain {
            network,
            opts,
            config,
            hotkey: None,
            coldkey: None,
            conn: RwLock::new(conn.clone()),
            reconnecting: Mutex::new(()),
            checked_spec: AtomicU32::new(0),
            mechanism_calls: AtomicBool::new(false),
            typed_neurons_api: AtomicBool::new(false),
            typed_hyperparams_api: AtomicBool::new(false),
            subnet_mechanism: 1,
        };
        let at = conn.api.at_current_block().await.map_err(rpc_err)?;
        let report = chain.ensure_checked(at.metadata(), at.spec_version(), at.transaction_version())?;
        tracing::info!(
            network = %chain.network,
            spec_version = report.as_ref().map(|r| r.spec_version),
            typed_runtime_apis = report.as_ref().map(|r| r.typed_neurons_api && r.typed_hyperparams_api),
            block = at.block_number(),
            "connected to subtensor"
        );
        Ok(chain)
    }

    /// Signs neuron calls (weights, axon, commitments) with this hotkey.
    pub fn with_hotkey(mut self, hotkey: Keypair) -> Self {
        self.hotkey = Some(KeypairSigner::new(hotkey));
        self
    }

    /// The `mechid` of subnets created through [`crate::ChainAdmin::create_subnet`] where the
    /// runtime's `register_network` takes one: 1 (dynamic, the default) or 0 (stable).
    pub fn with_subnet_mechanism(mut self, mechid: u16) -> Self {
        self.subnet_mechanism = mechid;
        self
    }

    /// Signs `burned_register` with this coldkey.
    pub fn with_coldkey(mut self, coldkey: Keypair) -> Self {
        self.coldkey = Some(KeypairSigner::new(coldkey));
        self
    }

    /// The network this client talks to.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Runs [`check_metadata`] when the spec version differs from the last one checked.
    fn ensure_checked(
        &self,
        md: ArcMetadata,
        spec: u32,
        tx_version: u32,
    ) -> Result<Option<MetadataReport>, ChainError> {
        if self.checked_spec.load(Ordering::Acquire) == spec {
            return Ok(None);
        }
        let report = check_metadata(md, spec, tx_version)?;
        self.mechanism_calls.store(report.mechanism_calls, Ordering::Release);
        self.typed_neurons_api.store(report.typed_neurons_api, Ordering::Release);
        self.typed_hyperparams_api.store(report.typed_hyperparams_api, Ordering::Release);
        self.checked_spec.store(spec, Ordering::Release);
        tracing::debug!(spec, extensions = ?report.extensions, "subtensor metadata checked");
        Ok(Some(report))
    }
}

fn account(ss58: &str) -> Result<[u8; 32], ChainError> {
    PublicKey::from_ss58(ss58).map(|p| p.0).map_err(|e| ChainError::InvalidInput(format!("{ss58:?}: {e}")))
}

#[async_trait]
impl Chain for SubtensorChain {
    fn describe(&self) -> String {
        format!("subtensor ({})", self.network)
    }

    fn hotkey(&self) -> Option<&str> {
        self.hotkey.as_ref().map(|k| k.ss58())
    }

    async fn block_number(&self) -> Result<u64, ChainError> {
        // The best block, like the Python SDK's `subtensor.block` (chain_getHeader).
        self.read("block number", |c| async move {
            let header = c.legacy().chain_get_header(None).await.map_err(rpc_err)?;
            header.map(|h| h.number).ok_or_else(|| ChainError::Rpc("the node returned no best header".into()))
        })
        .await
    }

    async fn hyperparams(&self, netuid: NetUid) -> Result<Hyperparams, ChainError> {
        let typed = self.typed_hyperparams_api.load(Ordering::Acquire);
        self.read("hyperparameters", |c| async move {
            let at = c.api.at_current_block().await.map_err(rpc_err)?;
            if !typed {
                return storage::hyperparams(&at, netuid).await;
            }
            let name = format!("{}_{}", decode::HYPERPARAMS_API.0, decode::HYPERPARAMS_API.1);
            let args = parity_scale_codec::Encode::encode(&netuid);
            let bytes = at.runtime_apis().call_raw(&name, Some(&args)).await.map_err(rpc_err)?;
            let mut h =
                decode::decode_hyperparams(&at.metadata(), &bytes)?.ok_or(ChainError::SubnetNotFound(netuid))?;
            let burn = subxt::dynamic::storage::<(u16,), u64>("SubtensorModule", "Burn");
            h.burn = match at.storage().try_fetch(burn, (netuid,)).await.map_err(rpc_err)? {
                Some(v) => v.decode().map_err(|e| ChainError::Decode { what: "Burn", reason: e.to_string() })?,
                None => 0,
            };
            Ok(h)
        })
        .await
    }

    async fn metagraph(&self, netuid: NetUid) -> Result<Metagraph, ChainError> {
        let typed = self.typed_neurons_api.load(Ordering::Acquire);
        self.read("metagraph", |c| async move {
            let at = c.api.at_current_block().await.map_err(rpc_err)?;
            if !typed {
                let neurons = storage::neurons(&at, netuid).await?;
                return Ok(Metagraph { netuid, block: at.block_number(), neurons });
            }
            let name = format!("{}_{}", decode::NEURONS_API.0, decode::NEURONS_API.1);
            let args = parity_scale_codec::Encode::encode(&netuid);
            let bytes = at.runtime_apis().call_raw(&name, Some(&args)).await.map_err(rpc_err)?;
            let neurons = decode::decode_neurons(&at.metadata(), &bytes)?;
            Ok(Metagraph { netuid, block: at.block_number(), neurons })
        })
        .await
    }

    async fn uid_of(&self, netuid: NetUid, hotkey: &str) -> Result<Option<u16>, ChainError> {
        let key = account(hotkey)?;
        self.read("uid", |c| async move {
            let at = c.api.at_current_block().await.map_err(rpc_err)?;
            let uids = subxt::dynamic::storage::<(u16, AccountId32), u16>("SubtensorModule", "Uids");
            match at.storage().try_fetch(uids, (netuid, AccountId32(key))).await.map_err(rpc_err)? {
                Some(v) => v.decode().map(Some).map_err(|e| ChainError::Decode { what: "Uids", reason: e.to_string() }),
                None => Ok(None),
            }
        })
        .await
    }

    async fn serve_axon(&self, netuid: NetUid, axon: &AxonServe) -> Result<TxOutcome, ChainError> {
        let args = ServeAxonArgs::new(netuid, axon)?;
        self.submit(self.signer(SignerRole::Hotkey)?, calls::serve_axon(&args)).await
    }

    async fn set_weights(&self, netuid: NetUid, weights: &WeightsSubmission) -> Result<TxOutcome, ChainError> {
        self.require_mechanism(weights.mechanism)?;
        self.submit(self.signer(SignerRole::Hotkey)?, calls::set_weights(netuid, weights)).await
    }

    async fn commit_weights(
        &self,
        netuid: NetUid,
        mechanism: u8,
        commit_hash: [u8; 32],
    ) -> Result<TxOutcome, ChainError> {
        self.require_mechanism(mechanism)?;
        self.submit(self.signer(SignerRole::Hotkey)?, calls::commit_weights(netuid, mechanism, commit_hash)).await
    }

    async fn reveal_weights(&self, netuid: NetUid, reveal: &WeightsReveal) -> Result<TxOutcome, ChainError> {
        self.require_mechanism(reveal.mechanism)?;
        self.submit(self.signer(SignerRole::Hotkey)?, calls::reveal_weights(netuid, reveal)).await
    }

    async fn set_commitment(&self, netuid: NetUid, data: &[u8]) -> Result<TxOutcome, ChainError> {
        let field = CommitmentData::from_bytes(data).ok_or_else(|| {
            ChainError::InvalidInput(format!("commitment of {} bytes: at most 512 fit one field", data.len()))
        })?;
        self.submit(self.signer(SignerRole::Hotkey)?, calls::set_commitment(netuid, &[field])).await
    }

    async fn commitment(&self, netuid: NetUid, hotkey: &str) -> Result<Option<Commitment>, ChainError> {
        let key = account(hotkey)?;
        self.read("commitment", |c| async move {
            let at = c.api.at_current_block().await.map_err(rpc_err)?;
            let addr =
                subxt::dynamic::storage::<(u16, AccountId32), subxt::dynamic::Value>("Commitments", "CommitmentOf");
            match at.storage().try_fetch(addr, (netuid, AccountId32(key))).await.map_err(rpc_err)? {
                Some(v) => decode::decode_commitment(&at.metadata(), v.bytes()).map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    async fn burned_register(&self, netuid: NetUid, hotkey: &str) -> Result<TxOutcome, ChainError> {
        let key = account(hotkey)?;
        self.submit(self.signer(SignerRole::Coldkey)?, calls::burned_register(netuid, key)).await
    }

    async fn free_balance(&self, account_ss58: &str) -> Result<u64, ChainError> {
        let key = account(account_ss58)?;
        self.read("balance", |c| async move { balances::free_balance(&c, key).await }).await
    }

    async fn transfer(&self, dest: &str, amount: u64, remark: Option<&[u8]>) -> Result<TxOutcome, ChainError> {
        let dest = account(dest)?;
        let signer = self.signer(SignerRole::Coldkey)?;
        let md = self.conn().await?.api.at_current_block().await.map_err(rpc_err)?.metadata();
        self.submit(signer, balances::transfer_call(&md, dest, amount, remark)?).await
    }

    async fn extrinsic_receipt(&self, at: &TxRef) -> Result<Option<ExtrinsicReceipt>, ChainError> {
        self.read("extrinsic receipt", |c| async move { balances::receipt(&c, at).await }).await
    }
}

impl SubtensorChain {
    fn require_mechanism(&self, mechanism: u8) -> Result<(), ChainError> {
        if mechanism != 0 && !self.mechanism_calls.load(Ordering::Acquire) {
            return Err(ChainError::Metadata(format!(
                "mechanism {mechanism} needs the *_mechanism_weights calls, which this runtime lacks"
            )));
        }
        Ok(())
    }
}
