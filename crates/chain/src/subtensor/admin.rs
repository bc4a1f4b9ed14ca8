//! [`ChainAdmin`] for a subtensor dev chain (a local node or chopsticks) whose Sudo key is this
//! client's coldkey: hyperparameters through `Sudo.sudo(AdminUtils.sudo_set_*)`, subnets through
//! `SubtensorModule.register_network`, stake through `add_stake`, blocks through chopsticks'
//! `dev_newBlock` RPC method.

use async_trait::async_trait;
use subxt::dynamic::Value;
use subxt::ext::scale_value::{At, Composite, ValueDef};
use subxt::extrinsics::ExtrinsicEvents;
use subxt::rpcs::client::RpcParams;

use super::{SubtensorChain, SubtensorConfig, account, calls, rpc_err};
use crate::admin::{ChainAdmin, Hyperparam};
use crate::types::SignerRole;
use crate::{ChainError, NetUid};

fn u(v: impl Into<u128>) -> Value {
    Value::u128(v.into())
}

/// The events of `pallet` named `event`, each as its fields.
fn events_named(
    events: &ExtrinsicEvents<SubtensorConfig>,
    pallet: &str,
    event: &str,
) -> Result<Vec<Composite<()>>, ChainError> {
    let mut out = Vec::new();
    for ev in events.iter() {
        let ev = ev.map_err(rpc_err)?;
        if ev.pallet_name() != pallet || ev.event_name() != event {
            continue;
        }
        // The outer event enum: Variant(pallet) → Variant(event) → fields.
        let outer: Value = ev.decode_as().map_err(|e| ChainError::Decode { what: "event", reason: e.to_string() })?;
        if let ValueDef::Variant(p) = outer.value
            && let Some(inner) = p.values.into_values().next()
            && let ValueDef::Variant(e) = inner.value
        {
            out.push(e.values.map_context(|_| ()));
        }
    }
    Ok(out)
}

/// `Sudo.Sudid { sudo_result }`: the inner call's result, which the extrinsic's own success hides.
fn sudo_result(events: &ExtrinsicEvents<SubtensorConfig>, md: &subxt::Metadata) -> Result<(), ChainError> {
    let sudid = events_named(events, "Sudo", "Sudid")?;
    let fields = sudid.first().ok_or_else(|| ChainError::Rpc("no Sudo.Sudid event".into()))?;
    let Some(result) = fields.values().next() else { return Err(ChainError::Rpc("empty Sudo.Sudid".into())) };
    let ValueDef::Variant(r) = &result.value else { return Err(ChainError::Rpc("odd Sudo.Sudid".into())) };
    if r.name == "Ok" {
        return Ok(());
    }
    // Err(DispatchError): name a Module error from the metadata.
    let err = r.values.values().next();
    if let Some(Value { value: ValueDef::Variant(d), .. }) = err
        && d.name == "Module"
        && let Some(m) = d.values.values().next()
    {
        let index = m.at("index").and_then(|v| v.as_u128()).and_then(|v| u8::try_from(v).ok());
        let code = m.at("error").and_then(|v| v.at(0)).and_then(|v| v.as_u128()).and_then(|v| u8::try_from(v).ok());
        if let (Some(index), Some(code)) = (index, code)
            && let Some(p) = md.pallet_by_error_index(index)
            && let Some(v) = p.error_variant_by_index(code)
        {
            return Err(ChainError::Dispatch {
                pallet: p.name().to_string(),
                error: v.name.clone(),
                detail: v.docs.join(" ").trim().to_string(),
            });
        }
    }
    Err(ChainError::DispatchOther(format!("sudo call failed: {}", result)))
}

impl SubtensorChain {
    /// `Sudo.sudo(AdminUtils.<call>(args))`, signed by the coldkey; fails with the inner call's
    /// error when it fails.
    pub async fn sudo_admin_utils(&self, call: &str, args: Vec<(&str, Value)>) -> Result<(), ChainError> {
        let signer = self.signer(SignerRole::Coldkey)?;
        let inner = Value::unnamed_variant(
            "AdminUtils",
            [Value::named_variant(call, args.into_iter().map(|(k, v)| (k.to_string(), v)))],
        );
        let sudo = subxt::dynamic::tx("Sudo", "sudo", Composite::named([("call", inner)]));
        let (_, events) = self.submit_with_events(signer, sudo).await?;
        let md = self.conn().await?.api.at_current_block().await.map_err(rpc_err)?.metadata();
        sudo_result(&events, &md)
    }

    /// Produces `blocks` blocks with chopsticks' `dev_newBlock` (a real node has no such method).
    pub async fn dev_new_blocks(&self, blocks: u32) -> Result<(), ChainError> {
        let conn = self.conn().await?;
        let mut params = RpcParams::new();
        params.push(serde_json::json!({ "count": blocks })).map_err(|e| ChainError::InvalidInput(e.to_string()))?;
        conn.rpc.request::<serde_json::Value>("dev_newBlock", params).await.map_err(rpc_err)?;
        Ok(())
    }
}

impl SubtensorChain {
    /// On chopsticks, sets the free balance of each of `accounts` (SS58) to `free` rao with
    /// `dev_setStorage` (`System.Account`): funding many local accounts in one call instead of a
    /// transfer each. Only for accounts without history (it resets their nonce).
    pub async fn dev_fund(&self, accounts: &[String], free: u64) -> Result<(), ChainError> {
        for a in accounts {
            account(a)?;
        }
        let conn = self.conn().await?;
        let rows: Vec<serde_json::Value> = accounts
            .iter()
            .map(|a| serde_json::json!([[a], {"providers": 1, "data": {"free": free.to_string()}}]))
            .collect();
        let mut params = RpcParams::new();
        params
            .push(serde_json::json!({ "System": { "Account": rows } }))
            .map_err(|e| ChainError::InvalidInput(e.to_string()))?;
        conn.rpc.request::<serde_json::Value>("dev_setStorage", params).await.map_err(rpc_err)?;
        Ok(())
    }
}

/// TAO and alpha put in a new subnet's pool by [`SubtensorChain::seed_subnet_pool`] (1000 TAO).
pub const DEV_POOL_RESERVE: u64 = 1_000_000_000_000;

impl SubtensorChain {
    /// On chopsticks, sets the new subnet's pool reserves (`SubnetTAO`, `SubnetAlphaIn`) to
    /// [`DEV_POOL_RESERVE`] each with `dev_setStorage`. Spec 218 starts a dynamic subnet's pool
    /// at 1 rao of each, so any `add_stake` buys about 0 alpha (the TAO goes into the pool and
    /// the staker's stake stays 0). Best effort: a node without `dev_setStorage` keeps its pool.
    async fn seed_subnet_pool(&self, netuid: NetUid) {
        let seeded = async {
            let conn = self.conn().await?;
            let mut params = RpcParams::new();
            let reserve = [[serde_json::json!([netuid]), serde_json::json!(DEV_POOL_RESERVE)]];
            params
                .push(serde_json::json!({ "SubtensorModule": { "SubnetTAO": reserve, "SubnetAlphaIn": reserve } }))
                .map_err(|e| ChainError::InvalidInput(e.to_string()))?;
            conn.rpc.request::<serde_json::Value>("dev_setStorage", params).await.map_err(rpc_err)
        };
        if let Err(e) = seeded.await {
            tracing::warn!(netuid, error = %e, "cannot seed the subnet pool (not chopsticks?)");
        }
    }
}

#[async_trait]
impl ChainAdmin for SubtensorChain {
    async fn create_subnet(&self, owner_hotkey: &str) -> Result<NetUid, ChainError> {
        let hotkey = account(owner_hotkey)?;
        // register_network is rate limited per network (NetworkTxRateLimitExceeded at low block
        // numbers): lift the limit first, which needs Sudo.
        self.sudo_admin_utils("sudo_set_network_rate_limit", vec![("rate_limit", u(0u64))]).await?;
        let signer = self.signer(SignerRole::Coldkey)?;
        let call = subxt::dynamic::tx(
            calls::SUBTENSOR_PALLET,
            "register_network",
            Composite::named([("hotkey", Value::from_bytes(hotkey)), ("mechid", u(self.subnet_mechanism))]),
        );
        // Runtimes without `mechid` (finney's register_network takes the hotkey only).
        let call = match self
            .conn()
            .await?
            .api
            .at_current_block()
            .await
            .map_err(rpc_err)?
            .metadata()
            .pallet_by_name(calls::SUBTENSOR_PALLET)
        {
            Some(p) if p.call_variant_by_name("register_network").is_some_and(|v| v.fields.len() == 1) => {
                subxt::dynamic::tx(
                    calls::SUBTENSOR_PALLET,
                    "register_network",
                    Composite::named([("hotkey", Value::from_bytes(hotkey))]),
                )
            }
            _ => call,
        };
        let (_, events) = self.submit_with_events(signer, call).await?;
        let added = events_named(&events, calls::SUBTENSOR_PALLET, "NetworkAdded")?;
        let netuid = added
            .first()
            .and_then(|f| f.values().next())
            .and_then(|v| v.as_u128().or_else(|| v.at(0).and_then(|x| x.as_u128())))
            .and_then(|n| NetUid::try_from(n).ok())
            .ok_or_else(|| ChainError::Rpc("register_network: no NetworkAdded event".into()))?;
        self.seed_subnet_pool(netuid).await;
        Ok(netuid)
    }

    async fn set_hyperparam(&self, netuid: NetUid, param: Hyperparam) -> Result<(), ChainError> {
        let (call, arg, v) = param.admin_utils_call();
        let value = if param.is_bool() { Value::bool(v != 0) } else { u(v) };
        if param.is_global() {
            self.sudo_admin_utils(call, vec![(arg, value)]).await
        } else {
            self.sudo_admin_utils(call, vec![("netuid", u(netuid)), (arg, value)]).await
        }
    }

    async fn add_stake(&self, netuid: NetUid, hotkey: &str, amount: u64) -> Result<(), ChainError> {
        let hotkey = account(hotkey)?;
        let signer = self.signer(SignerRole::Coldkey)?;
        let call = subxt::dynamic::tx(
            calls::SUBTENSOR_PALLET,
            "add_stake",
            Composite::named([
                ("hotkey", Value::from_bytes(hotkey)),
                ("netuid", u(netuid)),
                ("amount_staked", u(amount)),
            ]),
        );
        self.submit(signer, call).await.map(|_| ())
    }

    async fn advance_blocks(&self, blocks: u32) -> Result<(), ChainError> {
        self.dev_new_blocks(blocks).await
    }
}
