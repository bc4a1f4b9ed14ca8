//! Reads of the metagraph and the hyperparameters from `SubtensorModule` storage, by entry name.
//!
//! Runtimes whose runtime APIs are typed in the metadata (finney since 2025) are read through
//! `get_neurons_lite` and `get_subnet_hyperparams_v2` (one call each). Older runtimes such as
//! spec 218 (the dTAO devnet runtime of early 2025) declare those APIs as returning a SCALE
//! `Vec<u8>` whose layout the metadata does not describe, so the backend falls back to the
//! storage maps that hold the same data. Their names and value types are the same in both
//! metadata versions (keys changed from `u16` to the `NetUid` newtype, which encodes the same):
//! `SubnetworkN`, `Keys`, `Owner`, `Axons`, `TotalHotkeyAlpha`, the per-subnet vectors `Active`,
//! `Trust`, `Consensus`, `Incentive`, `Dividends`, `Emission`, `LastUpdate`, `ValidatorPermit`,
//! and one map per hyperparameter.
//!
//! On finney, `Incentive` and `LastUpdate` are keyed by `NetUidStorageIndex`
//! (`mechanism * 4096 + netuid`), which for mechanism 0 is the netuid itself.

use futures::StreamExt;
use subxt::client::OnlineClientAtBlock;
use subxt::ext::frame_decode::helpers::{IntoDecodableValues, IntoEncodableValues};
use subxt::ext::scale_decode::DecodeAsType;
use subxt::utils::AccountId32;

use super::SubtensorConfig;
use super::decode::{AxonRaw, ss58, storage_value_ty};
use crate::ChainError;
use crate::types::{AxonInfo, Hyperparams, NetUid, NeuronInfo};

const PALLET: &str = "SubtensorModule";

/// Storage entries the storage path reads: checked at connect when it is the one in use.
pub const METAGRAPH_STORAGE: &[&str] = &[
    "NetworksAdded",
    "SubnetworkN",
    "Keys",
    "Owner",
    "Axons",
    "TotalHotkeyAlpha",
    "Active",
    "Trust",
    "Consensus",
    "Incentive",
    "Dividends",
    "Emission",
    "LastUpdate",
    "ValidatorPermit",
];

/// Hyperparameter entries the storage path reads.
pub const HYPERPARAMS_STORAGE: &[&str] = &[
    "NetworksAdded",
    "Tempo",
    "Rho",
    "Kappa",
    "ImmunityPeriod",
    "MinAllowedWeights",
    "MaxWeightsLimit",
    "WeightsVersionKey",
    "WeightsSetRateLimit",
    "ActivityCutoff",
    "NetworkRegistrationAllowed",
    "MinBurn",
    "MaxBurn",
    "BondsMovingAverage",
    "ServingRateLimit",
    "MaxAllowedValidators",
    "RevealPeriodEpochs",
    "CommitRevealWeightsEnabled",
    "AlphaValues",
    "LiquidAlphaOn",
    "Burn",
];

type At = OnlineClientAtBlock<SubtensorConfig>;

/// Reads `SubtensorModule.<entry>(keys)`, or the entry's default when it is not set. An entry
/// without a default (an `OptionQuery` map) reads as `None`.
pub async fn get<K, V>(at: &At, entry: &'static str, keys: K) -> Result<Option<V>, ChainError>
where
    K: IntoEncodableValues + IntoDecodableValues,
    V: DecodeAsType,
{
    let addr = subxt::dynamic::storage::<K, V>(PALLET, entry);
    match at.storage().try_fetch(addr, keys).await.map_err(|e| ChainError::Rpc(format!("{PALLET}.{entry}: {e}")))? {
        Some(v) => v.decode_as::<V>().map(Some).map_err(|e| ChainError::Decode { what: entry, reason: e.to_string() }),
        None => Ok(None),
    }
}

async fn value<K, V>(at: &At, entry: &'static str, keys: K) -> Result<V, ChainError>
where
    K: IntoEncodableValues + IntoDecodableValues,
    V: DecodeAsType + Default,
{
    Ok(get(at, entry, keys).await?.unwrap_or_default())
}

/// Checks that every entry of `entries` exists in `SubtensorModule`.
pub fn check(md: &subxt::Metadata, entries: &[&str]) -> Result<(), ChainError> {
    for entry in entries {
        storage_value_ty(md, PALLET, entry)?;
    }
    Ok(())
}

/// Whether the subnet exists (`NetworksAdded`).
pub async fn subnet_exists(at: &At, netuid: NetUid) -> Result<bool, ChainError> {
    value::<_, bool>(at, "NetworksAdded", (netuid,)).await
}

/// The subnet's neurons from storage, sorted by uid.
pub async fn neurons(at: &At, netuid: NetUid) -> Result<Vec<NeuronInfo>, ChainError> {
    if !subnet_exists(at, netuid).await? {
        return Err(ChainError::SubnetNotFound(netuid));
    }
    let n: u16 = value(at, "SubnetworkN", (netuid,)).await?;
    let active: Vec<bool> = value(at, "Active", (netuid,)).await?;
    let trust: Vec<u16> = value(at, "Trust", (netuid,)).await?;
    let consensus: Vec<u16> = value(at, "Consensus", (netuid,)).await?;
    let incentive: Vec<u16> = value(at, "Incentive", (netuid,)).await?;
    let dividends: Vec<u16> = value(at, "Dividends", (netuid,)).await?;
    let emission: Vec<u64> = value(at, "Emission", (netuid,)).await?;
    let last_update: Vec<u64> = value(at, "LastUpdate", (netuid,)).await?;
    let permit: Vec<bool> = value(at, "ValidatorPermit", (netuid,)).await?;
    // Per-uid reads, a few in flight at once (one round trip each on the legacy RPC).
    let per_uid = futures::stream::iter(0..n)
        .map(|uid| async move {
            let hotkey: Option<AccountId32> = get(at, "Keys", (netuid, uid)).await?;
            let hotkey = hotkey.unwrap_or(AccountId32([0; 32]));
            let coldkey: AccountId32 = get(at, "Owner", (hotkey,)).await?.unwrap_or(AccountId32([0; 32]));
            let axon: Option<AxonRaw> = get(at, "Axons", (netuid, hotkey)).await?;
            let stake: u64 = value(at, "TotalHotkeyAlpha", (hotkey, netuid)).await?;
            Ok::<_, ChainError>((uid, hotkey, coldkey, axon, stake))
        })
        .buffered(16)
        .collect::<Vec<_>>()
        .await;
    let at_idx = |v: &[u16], i: usize| v.get(i).copied().unwrap_or(0);
    per_uid
        .into_iter()
        .map(|r| {
            let (uid, hotkey, coldkey, axon, stake) = r?;
            let i = usize::from(uid);
            Ok(NeuronInfo {
                uid,
                hotkey: ss58(&hotkey),
                coldkey: ss58(&coldkey),
                stake,
                trust: at_idx(&trust, i),
                consensus: at_idx(&consensus, i),
                incentive: at_idx(&incentive, i),
                dividends: at_idx(&dividends, i),
                emission: emission.get(i).copied().unwrap_or(0),
                validator_permit: permit.get(i).copied().unwrap_or(false),
                last_update: last_update.get(i).copied().unwrap_or(0),
                active: active.get(i).copied().unwrap_or(false),
                axon: axon.map(AxonRaw::into_info).unwrap_or_else(AxonInfo::default),
            })
        })
        .collect()
}

/// The subnet's hyperparameters from storage (the fields of `get_subnet_hyperparams_v2`).
pub async fn hyperparams(at: &At, netuid: NetUid) -> Result<Hyperparams, ChainError> {
    if !subnet_exists(at, netuid).await? {
        return Err(ChainError::SubnetNotFound(netuid));
    }
    let k = (netuid,);
    let (alpha_low, alpha_high): (u16, u16) = value(at, "AlphaValues", k).await?;
    Ok(Hyperparams {
        tempo: value(at, "Tempo", k).await?,
        rho: value(at, "Rho", k).await?,
        kappa: value(at, "Kappa", k).await?,
        immunity_period: value(at, "ImmunityPeriod", k).await?,
        min_allowed_weights: value(at, "MinAllowedWeights", k).await?,
        max_weights_limit: value(at, "MaxWeightsLimit", k).await?,
        weights_version: value(at, "WeightsVersionKey", k).await?,
        weights_rate_limit: value(at, "WeightsSetRateLimit", k).await?,
        activity_cutoff: value(at, "ActivityCutoff", k).await?,
        registration_allowed: value(at, "NetworkRegistrationAllowed", k).await?,
        max_validators: value(at, "MaxAllowedValidators", k).await?,
        serving_rate_limit: value(at, "ServingRateLimit", k).await?,
        bonds_moving_avg: value(at, "BondsMovingAverage", k).await?,
        commit_reveal_weights_enabled: value(at, "CommitRevealWeightsEnabled", k).await?,
        commit_reveal_period: value(at, "RevealPeriodEpochs", k).await?,
        liquid_alpha_enabled: value(at, "LiquidAlphaOn", k).await?,
        alpha_high,
        alpha_low,
        min_burn: value(at, "MinBurn", k).await?,
        max_burn: value(at, "MaxBurn", k).await?,
        burn: value(at, "Burn", k).await?,
    })
}
