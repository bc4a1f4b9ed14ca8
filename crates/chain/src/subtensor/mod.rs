//! The subtensor backend: [`SubtensorChain`] talks to a subtensor node (finney, testnet, a local
//! node or any endpoint) over subxt's dynamic API, so call indices and argument layouts always
//! come from the node's own metadata. At connect it checks that metadata has every call and
//! storage entry this crate uses and that [`SubtensorConfig`] can fill in all of the runtime's
//! transaction extensions, and picks the read path the runtime allows: typed runtime APIs where
//! the metadata describes their output (finney), storage maps by name otherwise ([`storage`];
//! spec 218). [`ChainAdmin`](crate::ChainAdmin) is implemented for dev chains whose Sudo key is
//! the client's coldkey. A dropped WebSocket is reopened with exponential backoff.

mod admin;
pub mod calls;
pub mod config;
pub mod decode;
mod metadata;
mod network;
pub mod storage;
mod tx_errors;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use orchestra_keys::{Keypair, PublicKey};
use orchestra_proto::retry::Backoff;
use subxt::OnlineClient;
use subxt::backend::LegacyBackend;
use subxt::config::RpcConfigFor;
use subxt::config::transaction_extensions::CheckMortalityParams;
use subxt::extrinsics::ExtrinsicEvents;
use subxt::metadata::ArcMetadata;
use subxt::rpcs::client::{JsonrpseeRpcClient, RpcClient, jsonrpsee_client};
use subxt::rpcs::methods::LegacyRpcMethods;
use subxt::tx::{Signer, TransactionStatus, ValidationResult};
use subxt::utils::{AccountId32, MultiSignature};
use tokio::sync::{Mutex, RwLock};

use crate::devnet_api::SignerRole;
use crate::types::{
    AxonServe, Commitment, CommitmentData, Hyperparams, Metagraph, NetUid, ServeAxonArgs, TxOutcome, WeightsReveal,
    WeightsSubmission,
};
use crate::{Chain, ChainError};
pub use config::{
    ChargeTransactionPaymentWrapper, SUPPORTED_EXTENSIONS, SubtensorConfig, SubtensorExtensions, TxParams,
};
pub use metadata::{MECHANISM_CALLS, MetadataReport, REQUIRED_CALLS, REQUIRED_STORAGE, check_metadata};
pub use network::{FINNEY_ENDPOINT, LOCAL_ENDPOINT, Network, TEST_ENDPOINT};
pub use tx_errors::{dispatch_error, invalid_transaction, parse_custom_code};
use tx_errors::{events_error, invalid_from_message, submit_error, unknown_transaction};

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

/// Signs extrinsics with an sr25519 [`Keypair`] (a hotkey or coldkey).
#[derive(Clone)]
pub struct KeypairSigner {
    account: AccountId32,
    key: Keypair,
}

impl fmt::Debug for KeypairSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeypairSigner").field("account", &self.key.ss58()).finish()
    }
}

impl KeypairSigner {
    /// A signer for `key`.
    pub fn new(key: Keypair) -> Self {
        KeypairSigner { account: AccountId32(key.public().0), key }
    }

    /// The signer's SS58 address.
    pub fn ss58(&self) -> &str {
        self.key.ss58()
    }
}

impl Signer<SubtensorConfig> for KeypairSigner {
    fn account_id(&self) -> AccountId32 {
        self.account
    }

    fn sign(&self, signer_payload: &[u8]) -> MultiSignature {
        MultiSignature::Sr25519(self.key.sign(signer_payload))
    }
}

/// One open connection.
#[derive(Clone)]
struct Conn {
    api: OnlineClient<SubtensorConfig>,
    rpc: RpcClient,
    ws: Arc<JsonrpseeRpcClient>,
}

impl Conn {
    fn legacy(&self) -> LegacyRpcMethods<RpcConfigFor<SubtensorConfig>> {
        LegacyRpcMethods::new(self.rpc.clone())
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

    /// The current connection, reopened first if the WebSocket is closed.
    async fn conn(&self) -> Result<Conn, ChainError> {
        let conn = self.conn.read().await.clone();
        if conn.ws.is_connected() { Ok(conn) } else { self.reconnect().await }
    }

    async fn reconnect(&self) -> Result<Conn, ChainError> {
        // One task reconnects; the others wait and then reuse its connection.
        let _guard = self.reconnecting.lock().await;
        let current = self.conn.read().await.clone();
        if current.ws.is_connected() {
            return Ok(current);
        }
        tracing::warn!(network = %self.network, "subtensor connection lost; reconnecting");
        let fresh = open_with_backoff(self.network.endpoint(), &self.config, &self.opts).await?;
        *self.conn.write().await = fresh.clone();
        Ok(fresh)
    }

    /// Runs a read with the request timeout; if it fails because the connection dropped, runs it
    /// once more on a fresh connection.
    async fn read<T, F, Fut>(&self, what: &'static str, f: F) -> Result<T, ChainError>
    where
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = Result<T, ChainError>>,
    {
        let conn = self.conn().await?;
        let first = tokio::time::timeout(self.opts.request_timeout, f(conn.clone())).await;
        match first {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) if conn.ws.is_connected() => Err(e),
            Ok(Err(_)) => {
                let conn = self.reconnect().await?;
                tokio::time::timeout(self.opts.request_timeout, f(conn))
                    .await
                    .map_err(|_| ChainError::Timeout { what, after: self.opts.request_timeout })?
            }
            Err(_) => Err(ChainError::Timeout { what, after: self.opts.request_timeout }),
        }
    }

    fn signer(&self, role: SignerRole) -> Result<&KeypairSigner, ChainError> {
        match role {
            SignerRole::Hotkey => self.hotkey.as_ref(),
            SignerRole::Coldkey => self.coldkey.as_ref(),
        }
        .ok_or(ChainError::MissingSigner(role.as_str()))
    }

    /// Signs `call` with `signer`, dry-runs it, submits it and waits for inclusion (or
    /// finalization), mapping every failure to a named [`ChainError`] where the chain named it.
    async fn submit(&self, signer: &KeypairSigner, call: calls::Call) -> Result<TxOutcome, ChainError> {
        self.submit_with_events(signer, call).await.map(|(outcome, _)| outcome)
    }

    /// [`SubtensorChain::submit`], also returning the extrinsic's events.
    async fn submit_with_events(
        &self,
        signer: &KeypairSigner,
        call: calls::Call,
    ) -> Result<(TxOutcome, ExtrinsicEvents<SubtensorConfig>), ChainError> {
        let conn = self.conn().await?;
        let fut = self.submit_on(conn, signer, call);
        tokio::time::timeout(self.opts.tx_timeout, fut)
            .await
            .map_err(|_| ChainError::Timeout { what: "transaction", after: self.opts.tx_timeout })?
    }

    async fn submit_on(
        &self,
        conn: Conn,
        signer: &KeypairSigner,
        call: calls::Call,
    ) -> Result<(TxOutcome, ExtrinsicEvents<SubtensorConfig>), ChainError> {
        let at = conn.api.at_current_block().await.map_err(rpc_err)?;
        self.ensure_checked(at.metadata(), at.spec_version(), at.transaction_version())?;
        // The pool-aware nonce (`system_accountNextIndex`), as the Python SDK uses: the runtime API
        // at the finalized block would miss this key's transactions still in the pool.
        let nonce = conn.legacy().system_account_next_index(&signer.account).await.map_err(rpc_err)?;
        let params = TxParams {
            tip: self.opts.tip,
            mortality: CheckMortalityParams::mortal_from_unchecked(
                self.opts.mortality_blocks,
                at.block_number(),
                at.block_hash(),
            ),
            nonce: Some(nonce),
        };
        let tx = at
            .tx()
            .create_v4_signable_offline(&call, params.into_params())
            .and_then(|mut s| s.sign(signer))
            .map_err(|e| ChainError::Metadata(format!("cannot build the transaction: {e}")))?;
        if self.opts.validate_before_submit {
            match tx.validate().await.map_err(rpc_err)? {
                ValidationResult::Valid(_) => {}
                ValidationResult::Invalid(i) => return Err(invalid_transaction(&i)),
                ValidationResult::Unknown(u) => return Err(unknown_transaction(&u)),
            }
        }
        let mut progress = tx.submit_and_watch().await.map_err(|e| submit_error(&e))?;
        let extrinsic_hash = Some(format!("{:?}", progress.extrinsic_hash()));
        while let Some(status) = progress.next().await {
            let in_block = match status.map_err(rpc_err)? {
                TransactionStatus::InBestBlock(b) if !self.opts.wait_for_finalization => b,
                TransactionStatus::InFinalizedBlock(b) => b,
                TransactionStatus::Invalid { message } => return Err(invalid_from_message(&message)),
                TransactionStatus::Error { message } | TransactionStatus::Dropped { message } => {
                    return Err(ChainError::NotIncluded(message));
                }
                _ => continue,
            };
            let events = in_block.wait_for_success().await.map_err(|e| events_error(&e))?;
            let block_number = in_block.at().await.ok().map(|c| c.block_number());
            let outcome =
                TxOutcome { block_hash: Some(format!("{:?}", in_block.block_hash())), block_number, extrinsic_hash };
            return Ok((outcome, events));
        }
        Err(ChainError::NotIncluded("the node closed the transaction status stream".into()))
    }
}

async fn open(endpoint: &str, config: &SubtensorConfig) -> Result<Conn, ChainError> {
    let conn_err =
        |e: &dyn fmt::Display| ChainError::Connection { endpoint: endpoint.to_string(), reason: e.to_string() };
    let ws = Arc::new(jsonrpsee_client(endpoint).await.map_err(|e| conn_err(&e))?);
    let rpc = RpcClient::new(ws.clone());
    // The legacy JSON-RPC methods only, as the Python SDK uses: public subtensor endpoints serve
    // them, and chainHead's follow subscriptions and block pinning add failure modes we gain
    // nothing from. It is also the path the mock-node tests exercise.
    let backend = Arc::new(LegacyBackend::builder().build(rpc.clone()));
    let api = OnlineClient::from_backend_with_config(config.clone(), backend).await.map_err(|e| conn_err(&e))?;
    Ok(Conn { api, rpc, ws })
}

/// Opens a connection, retrying with exponential backoff up to `reconnect_attempts` times.
async fn open_with_backoff(
    endpoint: &str,
    config: &SubtensorConfig,
    opts: &SubtensorOptions,
) -> Result<Conn, ChainError> {
    let backoff = Backoff::new(opts.reconnect_backoff, opts.reconnect_backoff_max);
    let mut attempt = 0u32;
    loop {
        match open(endpoint, config).await {
            Ok(c) => return Ok(c),
            Err(e) if attempt >= opts.reconnect_attempts => return Err(e),
            Err(e) => {
                attempt += 1;
                let delay = backoff.nominal(attempt);
                tracing::warn!(endpoint, attempt, error = %e, retry_in = ?delay, "cannot connect to subtensor");
                tokio::time::sleep(delay).await;
            }
        }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use subxt::tx::TransactionInvalid;

    use super::*;

    #[test]
    fn networks() {
        assert_eq!("finney".parse::<Network>().unwrap().endpoint(), "wss://entrypoint-finney.opentensor.ai:443");
        assert_eq!("test".parse::<Network>().unwrap().endpoint(), "wss://test.finney.opentensor.ai:443");
        assert_eq!("local".parse::<Network>().unwrap().endpoint(), "ws://127.0.0.1:9944");
        let custom: Network = "ws://10.0.0.5:9945".parse().unwrap();
        assert_eq!(custom, Network::Custom("ws://10.0.0.5:9945".into()));
        assert_eq!(custom.to_string(), "ws://10.0.0.5:9945");
        assert!("mainnet".parse::<Network>().is_err());
        assert!("http://x".parse::<Network>().is_err());
    }

    #[test]
    fn custom_codes_from_node_messages() {
        assert_eq!(parse_custom_code("Invalid Transaction (1010): Custom error: 6"), Some(6));
        assert_eq!(parse_custom_code(r#"data: Some(RawValue("Custom error: 255"))"#), Some(255));
        assert_eq!(parse_custom_code("Transaction is outdated"), None);
        let e = invalid_from_message("Custom error: 12");
        assert!(e.is("ServingRateLimitExceeded") && e.is_rate_limited());
        let e = invalid_transaction(&TransactionInvalid::Custom(6));
        assert!(e.is("RateLimitExceeded"));
        let e = invalid_transaction(&TransactionInvalid::Payment);
        assert!(e.is("Payment"));
    }
}
