//! [`DevnetClient`]: the [`Chain`] over the devnet simulator's HTTP JSON API
//! ([`crate::devnet_api`]). Reads are plain GETs; each state change is a signed
//! [`ExtrinsicRequest`] the server checks against subtensor's rules.

use std::time::Duration;

use async_trait::async_trait;
use orchestra_keys::Keypair;
use serde::de::DeserializeOwned;

use crate::devnet_api::{
    API_VERSION, AccountResponse, BlockExtrinsics, BlockResponse, CommitmentResponse, DevnetCall, ErrorResponse,
    ExtrinsicRequest, InfoResponse, UidResponse, paths,
};
use crate::types::{
    AxonServe, Commitment, CommitmentData, ExtrinsicReceipt, Hyperparams, Metagraph, NetUid, ServeAxonArgs, SignerRole,
    TxOutcome, TxRef, WeightsReveal, WeightsSubmission,
};
use crate::{Chain, ChainError};

/// A [`Chain`] backed by the devnet at `base_url` (e.g. `http://127.0.0.1:9955`).
pub struct DevnetClient {
    base_url: String,
    http: reqwest::Client,
    timeout: Duration,
    hotkey: Option<Keypair>,
    coldkey: Option<Keypair>,
}

impl std::fmt::Debug for DevnetClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevnetClient")
            .field("base_url", &self.base_url)
            .field("hotkey", &self.hotkey.as_ref().map(|k| k.ss58()))
            .field("coldkey", &self.coldkey.as_ref().map(|k| k.ss58()))
            .finish_non_exhaustive()
    }
}

impl DevnetClient {
    /// A client for `base_url` that has not talked to the server yet.
    pub fn new(base_url: &str) -> Result<Self, ChainError> {
        let timeout = Duration::from_secs(30);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| ChainError::InvalidInput(format!("HTTP client: {e}")))?;
        Ok(DevnetClient {
            base_url: base_url.trim_end_matches('/').to_string(),
            http,
            timeout,
            hotkey: None,
            coldkey: None,
        })
    }

    /// Connects: `GET /v1/info` and checks the server speaks [`API_VERSION`].
    pub async fn connect(base_url: &str) -> Result<Self, ChainError> {
        let client = Self::new(base_url)?;
        let info = client.info().await?;
        if info.api_version != API_VERSION {
            return Err(ChainError::Metadata(format!(
                "devnet at {base_url} speaks API version {}, this client {API_VERSION}",
                info.api_version
            )));
        }
        tracing::info!(base_url, block = info.block, subnets = ?info.subnets, "connected to devnet");
        Ok(client)
    }

    /// Signs neuron calls with this hotkey.
    pub fn with_hotkey(mut self, hotkey: Keypair) -> Self {
        self.hotkey = Some(hotkey);
        self
    }

    /// Signs `burned_register` with this coldkey.
    pub fn with_coldkey(mut self, coldkey: Keypair) -> Self {
        self.coldkey = Some(coldkey);
        self
    }

    /// The server's [`InfoResponse`].
    pub async fn info(&self) -> Result<InfoResponse, ChainError> {
        self.get(paths::INFO, None).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn transport_error(&self, e: reqwest::Error) -> ChainError {
        if e.is_timeout() {
            ChainError::Timeout { what: "devnet request", after: self.timeout }
        } else if e.is_connect() {
            ChainError::Connection { endpoint: self.base_url.clone(), reason: e.to_string() }
        } else if e.is_decode() {
            ChainError::Decode { what: "devnet response", reason: e.to_string() }
        } else {
            ChainError::Rpc(e.to_string())
        }
    }

    async fn parse<T: DeserializeOwned>(
        &self,
        resp: reqwest::Response,
        netuid: Option<NetUid>,
    ) -> Result<T, ChainError> {
        let status = resp.status();
        if status.is_success() {
            return resp.json::<T>().await.map_err(|e| self.transport_error(e));
        }
        let body = resp.text().await.map_err(|e| self.transport_error(e))?;
        match serde_json::from_str::<ErrorResponse>(&body) {
            Ok(err) => Err(err.error.into_chain_error(status.as_u16(), netuid)),
            Err(_) => Err(ChainError::Http { status: status.as_u16(), message: body }),
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, netuid: Option<NetUid>) -> Result<T, ChainError> {
        let resp = self.http.get(self.url(path)).send().await.map_err(|e| self.transport_error(e))?;
        self.parse(resp, netuid).await
    }

    fn key(&self, role: SignerRole) -> Result<&Keypair, ChainError> {
        match role {
            SignerRole::Hotkey => self.hotkey.as_ref(),
            SignerRole::Coldkey => self.coldkey.as_ref(),
        }
        .ok_or(ChainError::MissingSigner(role.as_str()))
    }

    async fn submit(&self, netuid: NetUid, call: DevnetCall) -> Result<TxOutcome, ChainError> {
        self.submit_for(Some(netuid), call).await
    }

    async fn submit_for(&self, netuid: Option<NetUid>, call: DevnetCall) -> Result<TxOutcome, ChainError> {
        let req = ExtrinsicRequest::sign(self.key(call.signer_role())?, orchestra_proto::nonce::next_nonce(), call)?;
        let resp =
            self.http.post(self.url(paths::EXTRINSICS)).json(&req).send().await.map_err(|e| self.transport_error(e))?;
        self.parse(resp, netuid).await
    }
}

#[async_trait]
impl Chain for DevnetClient {
    fn describe(&self) -> String {
        format!("devnet ({})", self.base_url)
    }

    fn hotkey(&self) -> Option<&str> {
        self.hotkey.as_ref().map(|k| k.ss58())
    }

    async fn block_number(&self) -> Result<u64, ChainError> {
        Ok(self.get::<BlockResponse>(paths::BLOCK, None).await?.block)
    }

    async fn hyperparams(&self, netuid: NetUid) -> Result<Hyperparams, ChainError> {
        self.get(&paths::hyperparams(netuid), Some(netuid)).await
    }

    async fn metagraph(&self, netuid: NetUid) -> Result<Metagraph, ChainError> {
        self.get(&paths::metagraph(netuid), Some(netuid)).await
    }

    async fn uid_of(&self, netuid: NetUid, hotkey: &str) -> Result<Option<u16>, ChainError> {
        Ok(self.get::<UidResponse>(&paths::uid(netuid, hotkey), Some(netuid)).await?.uid)
    }

    async fn serve_axon(&self, netuid: NetUid, axon: &AxonServe) -> Result<TxOutcome, ChainError> {
        let args = ServeAxonArgs::new(netuid, axon)?;
        self.submit(netuid, DevnetCall::ServeAxon(args)).await
    }

    async fn set_weights(&self, netuid: NetUid, w: &WeightsSubmission) -> Result<TxOutcome, ChainError> {
        let call = DevnetCall::SetWeights {
            netuid,
            mechanism: w.mechanism,
            uids: w.uids.clone(),
            weights: w.weights.clone(),
            version_key: w.version_key,
        };
        self.submit(netuid, call).await
    }

    async fn commit_weights(
        &self,
        netuid: NetUid,
        mechanism: u8,
        commit_hash: [u8; 32],
    ) -> Result<TxOutcome, ChainError> {
        self.submit(netuid, DevnetCall::CommitWeights { netuid, mechanism, commit_hash }).await
    }

    async fn reveal_weights(&self, netuid: NetUid, r: &WeightsReveal) -> Result<TxOutcome, ChainError> {
        let call = DevnetCall::RevealWeights {
            netuid,
            mechanism: r.mechanism,
            uids: r.uids.clone(),
            values: r.values.clone(),
            salt: r.salt.clone(),
            version_key: r.version_key,
        };
        self.submit(netuid, call).await
    }

    async fn set_commitment(&self, netuid: NetUid, data: &[u8]) -> Result<TxOutcome, ChainError> {
        let field = CommitmentData::from_bytes(data).ok_or_else(|| {
            ChainError::InvalidInput(format!("commitment of {} bytes: at most 512 fit one field", data.len()))
        })?;
        self.submit(netuid, DevnetCall::SetCommitment { netuid, fields: vec![field] }).await
    }

    async fn commitment(&self, netuid: NetUid, hotkey: &str) -> Result<Option<Commitment>, ChainError> {
        Ok(self.get::<CommitmentResponse>(&paths::commitment(netuid, hotkey), Some(netuid)).await?.commitment)
    }

    async fn burned_register(&self, netuid: NetUid, hotkey: &str) -> Result<TxOutcome, ChainError> {
        self.submit(netuid, DevnetCall::BurnedRegister { netuid, hotkey: hotkey.to_string() }).await
    }

    async fn free_balance(&self, account: &str) -> Result<u64, ChainError> {
        Ok(self.get::<AccountResponse>(&paths::account(account), None).await?.balance)
    }

    async fn transfer(&self, dest: &str, amount: u64, remark: Option<&[u8]>) -> Result<TxOutcome, ChainError> {
        let call = DevnetCall::Transfer {
            dest: dest.to_string(),
            amount,
            remark: remark.map(|r| format!("0x{}", hex::encode(r))),
        };
        self.submit_for(None, call).await
    }

    async fn extrinsic_receipt(&self, at: &TxRef) -> Result<Option<ExtrinsicReceipt>, ChainError> {
        let number = at
            .block_number
            .ok_or_else(|| ChainError::InvalidInput("a devnet payment is found by its block number".into()))?;
        let block: BlockExtrinsics = self.get(&paths::block_extrinsics(number), None).await?;
        let want = at.extrinsic_hash.to_ascii_lowercase();
        Ok(block.extrinsics.into_iter().find(|x| x.extrinsic_hash.to_ascii_lowercase() == want).map(|mut x| {
            x.finalized = block.finalized;
            x
        }))
    }
}
