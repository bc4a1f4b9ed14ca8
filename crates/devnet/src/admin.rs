//! The devnet's own administration calls (not part of subtensor's neuron surface in
//! `orchestra_chain::devnet_api`): create a subnet, set hyperparameters as its owner, faucet,
//! transfer, add stake, and produce blocks on demand. They are signed exactly like extrinsics
//! (sr25519 over a payload of domain, signer, nonce and the call's JSON) but under their own
//! domain, [`ADMIN_SIGNING_DOMAIN`], so an admin signature is never a valid extrinsic or the
//! other way round; they share the per-signer nonce sequence with extrinsics.
//!
//! | method and path | body | response |
//! |---|---|---|
//! | `POST /v1/admin` | [`AdminRequest`] | `TxOutcome` |
//!
//! (`GET /v1/accounts/{ss58}`, the free balance, is part of `orchestra_chain::devnet_api` now,
//! since `Chain::free_balance` reads it; [`AccountResponse`] and [`ACCOUNT_ROUTE`] are re-exported
//! here.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use orchestra_chain::devnet_api::ErrorResponse;
use orchestra_chain::{ChainAdmin, ChainError, Hyperparam, NetUid, TxOutcome};
use orchestra_keys::{Keypair, PublicKey};
use serde::{Deserialize, Serialize};

/// First line of every signed admin payload.
pub const ADMIN_SIGNING_DOMAIN: &str = "orchestra-devnet-admin/1";
/// Route of [`AdminRequest`].
pub const ADMIN_ROUTE: &str = "/v1/admin";
pub use orchestra_chain::devnet_api::AccountResponse;
pub use orchestra_chain::devnet_api::paths::ACCOUNT_ROUTE;
/// Most blocks one [`AdminCall::AdvanceBlocks`] produces.
pub const MAX_ADVANCE: u32 = 100_000;

/// A devnet administration call. JSON: `{"call": "faucet", "amount": 1000000000}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum AdminCall {
    /// Creates a subnet owned by the signer (a coldkey). `netuid` `null` takes the lowest free
    /// one; `owner_hotkey`, if given, is registered as uid 0 (never pruned, exempt from permits);
    /// `hyperparams` overrides the devnet defaults field by field.
    CreateSubnet {
        /// Requested netuid.
        #[serde(default)]
        netuid: Option<NetUid>,
        /// The owner's hotkey (SS58).
        #[serde(default)]
        owner_hotkey: Option<String>,
        /// Fields of `SubnetParams` to override.
        #[serde(default)]
        hyperparams: serde_json::Map<String, serde_json::Value>,
    },
    /// Sets hyperparameters; the signer must be the subnet's owner coldkey.
    SetHyperparams {
        /// Subnet.
        netuid: NetUid,
        /// Fields of `SubnetParams` to change.
        hyperparams: serde_json::Map<String, serde_json::Value>,
    },
    /// Credits the signer with `amount` rao (local setup only).
    Faucet {
        /// rao.
        amount: u64,
    },
    /// Moves `amount` rao from the signer to `dest`.
    Transfer {
        /// SS58.
        dest: String,
        /// rao.
        amount: u64,
    },
    /// Stakes `amount` rao of the signer's balance to `hotkey` on the subnet.
    AddStake {
        /// Subnet.
        netuid: NetUid,
        /// SS58 of a registered hotkey.
        hotkey: String,
        /// rao.
        amount: u64,
    },
    /// Produces `blocks` blocks now (each runs its epochs), whatever the block timer does.
    AdvanceBlocks {
        /// How many (at most [`MAX_ADVANCE`]).
        blocks: u32,
    },
}

impl AdminCall {
    /// Short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            AdminCall::CreateSubnet { .. } => "create_subnet",
            AdminCall::SetHyperparams { .. } => "set_hyperparams",
            AdminCall::Faucet { .. } => "faucet",
            AdminCall::Transfer { .. } => "transfer",
            AdminCall::AddStake { .. } => "add_stake",
            AdminCall::AdvanceBlocks { .. } => "advance_blocks",
        }
    }
}

/// The bytes signed for an admin call: `"orchestra-devnet-admin/1\n{signer}\n{nonce}\n"` then the
/// compact JSON of `call`.
pub fn admin_signing_payload(signer: &str, nonce: u64, call: &AdminCall) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = format!("{ADMIN_SIGNING_DOMAIN}\n{signer}\n{nonce}\n").into_bytes();
    serde_json::to_writer(&mut out, call)?;
    Ok(out)
}

/// `POST /v1/admin`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminRequest {
    /// SS58 of the signer.
    pub signer: String,
    /// Strictly increasing per signer (shared with extrinsics).
    pub nonce: u64,
    /// What to do.
    pub call: AdminCall,
    /// sr25519 signature over [`admin_signing_payload`], `0x` hex.
    pub signature: String,
}

impl AdminRequest {
    /// Signs `call` with `key`.
    pub fn sign(key: &Keypair, nonce: u64, call: AdminCall) -> Result<Self, serde_json::Error> {
        let payload = admin_signing_payload(key.ss58(), nonce, &call)?;
        Ok(AdminRequest { signer: key.ss58().to_string(), nonce, call, signature: key.sign_hex(&payload) })
    }

    /// Checks the signature; returns the signer's key.
    pub fn verify(&self) -> Result<PublicKey, String> {
        let key = PublicKey::from_ss58(&self.signer).map_err(|e| e.to_string())?;
        let sig = orchestra_keys::parse_signature_hex(&self.signature).map_err(|e| e.to_string())?;
        let payload = admin_signing_payload(&self.signer, self.nonce, &self.call).map_err(|e| e.to_string())?;
        if key.verify(&payload, &sig) { Ok(key) } else { Err("admin signature does not verify".into()) }
    }
}

/// Sends [`AdminCall`]s to a devnet (tests, the bench and local setup scripts).
#[derive(Debug, Clone)]
pub struct AdminClient {
    base_url: String,
    http: reqwest::Client,
    key: Keypair,
    last_nonce: std::sync::Arc<AtomicU64>,
}

impl AdminClient {
    /// A client for the devnet at `base_url` signing with `key`.
    pub fn new(base_url: &str, key: Keypair) -> Result<Self, ChainError> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| ChainError::InvalidInput(format!("HTTP client: {e}")))?;
        Ok(AdminClient {
            base_url: base_url.trim_end_matches('/').to_string(),
            http,
            key,
            last_nonce: std::sync::Arc::new(AtomicU64::new(0)),
        })
    }

    /// The signer's SS58.
    pub fn ss58(&self) -> &str {
        self.key.ss58()
    }

    /// A nonce above every earlier one: Unix nanoseconds, bumped if the clock did not move. The
    /// same scheme as `DevnetClient`, so both can sign for one key without colliding (mostly:
    /// use separate keys for concurrent clients).
    fn next_nonce(&self) -> u64 {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        let mut last = self.last_nonce.load(Ordering::Relaxed);
        loop {
            let next = now.max(last.saturating_add(1));
            match self.last_nonce.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    /// Signs and sends `call`.
    pub async fn submit(&self, call: AdminCall) -> Result<TxOutcome, ChainError> {
        let req = AdminRequest::sign(&self.key, self.next_nonce(), call)
            .map_err(|e| ChainError::InvalidInput(format!("cannot encode admin call: {e}")))?;
        let resp = self
            .http
            .post(format!("{}{ADMIN_ROUTE}", self.base_url))
            .json(&req)
            .send()
            .await
            .map_err(|e| ChainError::Connection { endpoint: self.base_url.clone(), reason: e.to_string() })?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(|e| ChainError::Rpc(e.to_string()))?;
        if (200..300).contains(&status) {
            return serde_json::from_str(&body)
                .map_err(|e| ChainError::Decode { what: "admin response", reason: e.to_string() });
        }
        let netuid = match &req.call {
            AdminCall::SetHyperparams { netuid, .. } | AdminCall::AddStake { netuid, .. } => Some(*netuid),
            _ => None,
        };
        match serde_json::from_str::<ErrorResponse>(&body) {
            Ok(e) => Err(e.error.into_chain_error(status, netuid)),
            Err(_) => Err(ChainError::Http { status, message: body }),
        }
    }

    /// The free balance of `account`.
    pub async fn balance(&self, account: &str) -> Result<u64, ChainError> {
        let resp = self
            .http
            .get(format!("{}/v1/accounts/{account}", self.base_url))
            .send()
            .await
            .map_err(|e| ChainError::Connection { endpoint: self.base_url.clone(), reason: e.to_string() })?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(ChainError::Http { status, message: resp.text().await.unwrap_or_default() });
        }
        let r: AccountResponse =
            resp.json().await.map_err(|e| ChainError::Decode { what: "account", reason: e.to_string() })?;
        Ok(r.balance)
    }
}

/// The devnet side of the chain conformance scenario: the admin key is the subnet's owner
/// coldkey. Subtensor's per-block and per-interval registration limits do not exist here, so
/// setting them succeeds without effect; `WeightsMinStake` maps to the subnet's `stake_threshold`.
#[async_trait::async_trait]
impl ChainAdmin for AdminClient {
    async fn create_subnet(&self, owner_hotkey: &str) -> Result<NetUid, ChainError> {
        // Like subtensor, take the lowest free netuid above the root network (0).
        let mut netuid: NetUid = 1;
        loop {
            let url = format!("{}{}", self.base_url, orchestra_chain::devnet_api::paths::hyperparams(netuid));
            let status = self
                .http
                .get(url)
                .send()
                .await
                .map_err(|e| ChainError::Connection { endpoint: self.base_url.clone(), reason: e.to_string() })?
                .status();
            if status.as_u16() == 404 {
                break;
            }
            netuid =
                netuid.checked_add(1).ok_or_else(|| ChainError::InvalidInput("no free netuid on the devnet".into()))?;
        }
        self.submit(AdminCall::CreateSubnet {
            netuid: Some(netuid),
            owner_hotkey: Some(owner_hotkey.to_string()),
            hyperparams: serde_json::Map::new(),
        })
        .await?;
        Ok(netuid)
    }

    async fn set_hyperparam(&self, netuid: NetUid, param: Hyperparam) -> Result<(), ChainError> {
        let (field, value): (&str, serde_json::Value) = match param {
            Hyperparam::Tempo(v) => ("tempo", v.into()),
            Hyperparam::WeightsRateLimit(v) => ("weights_rate_limit", v.into()),
            Hyperparam::CommitRevealEnabled(v) => ("commit_reveal_weights_enabled", v.into()),
            Hyperparam::CommitRevealPeriod(v) => ("commit_reveal_period", v.into()),
            Hyperparam::MinAllowedWeights(v) => ("min_allowed_weights", v.into()),
            Hyperparam::MaxValidators(v) => ("max_validators", v.into()),
            Hyperparam::ServingRateLimit(v) => ("serving_rate_limit", v.into()),
            Hyperparam::ActivityCutoff(v) => ("activity_cutoff", v.into()),
            Hyperparam::ImmunityPeriod(v) => ("immunity_period", v.into()),
            Hyperparam::WeightsMinStake(v) => ("stake_threshold", v.into()),
            Hyperparam::TargetRegistrationsPerInterval(_) | Hyperparam::MaxRegistrationsPerBlock(_) => return Ok(()),
        };
        let mut hyperparams = serde_json::Map::new();
        hyperparams.insert(field.to_string(), value);
        self.submit(AdminCall::SetHyperparams { netuid, hyperparams }).await.map(|_| ())
    }

    async fn add_stake(&self, netuid: NetUid, hotkey: &str, amount: u64) -> Result<(), ChainError> {
        self.submit(AdminCall::AddStake { netuid, hotkey: hotkey.to_string(), amount }).await.map(|_| ())
    }

    async fn advance_blocks(&self, blocks: u32) -> Result<(), ChainError> {
        self.submit(AdminCall::AdvanceBlocks { blocks }).await.map(|_| ())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn admin_signatures_are_domain_separated() {
        let k = Keypair::from_uri("//Alice").unwrap();
        let req = AdminRequest::sign(&k, 5, AdminCall::Faucet { amount: 7 }).unwrap();
        let req: AdminRequest = serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
        assert!(req.verify().is_ok());
        let mut t = req.clone();
        t.call = AdminCall::Faucet { amount: 8 };
        assert!(t.verify().is_err());
        assert!(admin_signing_payload(k.ss58(), 5, &req.call).unwrap().starts_with(b"orchestra-devnet-admin/1\n"));
    }
}
