//! Decoding of runtime API results and storage values, by field name against the type the
//! metadata declares (scale-decode): a field this crate needs that disappears or changes type is
//! an error, fields it does not read may come and go. These functions take raw bytes and the
//! metadata, so tests run them offline against the finney metadata.

use subxt::Metadata;
use subxt::dynamic::Value;
use subxt::ext::scale_decode::DecodeAsType;
use subxt::ext::scale_value::{Composite, Primitive, ValueDef};
use subxt::utils::AccountId32;

use crate::ChainError;
use crate::types::{AxonInfo, Commitment, CommitmentData, Hyperparams, NeuronInfo};

/// The runtime API that lists a subnet's neurons (without weights and bonds).
pub const NEURONS_API: (&str, &str) = ("NeuronInfoRuntimeApi", "get_neurons_lite");
/// The runtime API with a subnet's hyperparameters (fixed layout, mostly compact fields).
pub const HYPERPARAMS_API: (&str, &str) = ("SubnetInfoRuntimeApi", "get_subnet_hyperparams_v2");

/// The output type id of a runtime API method.
pub fn api_output_ty(md: &Metadata, (api, method): (&str, &str)) -> Result<u32, ChainError> {
    md.runtime_api_trait_by_name(api)
        .and_then(|t| t.method_by_name(method))
        .map(|m| m.output_ty())
        .ok_or_else(|| ChainError::Metadata(format!("runtime API {api}.{method} is missing")))
}

/// Whether the runtime API method exists and its output type is described in the metadata.
/// Older runtimes (spec 218) declare their subtensor runtime APIs as returning a SCALE-encoded
/// `Vec<u8>` whose layout the metadata does not give: those count as untyped. The test is whether
/// a two-byte `Vec<u8>` decodes as the output type, which no typed output here accepts (neuron
/// lists need whole structs, hyperparameters are an `Option` whose tag 8 is invalid).
pub fn typed_api(md: &Metadata, api: (&str, &str)) -> bool {
    let Ok(ty) = api_output_ty(md, api) else { return false };
    let mut probe: &[u8] = &[0x08, 1, 2];
    let bytes_like = Vec::<u8>::decode_as_type(&mut probe, ty, md.types()).is_ok() && probe.is_empty();
    !bytes_like
}

/// The value type id of a storage entry.
pub fn storage_value_ty(md: &Metadata, pallet: &str, entry: &str) -> Result<u32, ChainError> {
    md.pallet_by_name(pallet)
        .and_then(|p| p.storage())
        .and_then(|s| s.entry_by_name(entry))
        .map(|e| e.value_ty())
        .ok_or_else(|| ChainError::Metadata(format!("storage {pallet}.{entry} is missing")))
}

fn decode_as<T: DecodeAsType>(what: &'static str, mut bytes: &[u8], ty: u32, md: &Metadata) -> Result<T, ChainError> {
    let v = T::decode_as_type(&mut bytes, ty, md.types())
        .map_err(|e| ChainError::Decode { what, reason: e.to_string() })?;
    if !bytes.is_empty() {
        return Err(ChainError::Decode { what, reason: format!("{} bytes left over", bytes.len()) });
    }
    Ok(v)
}

pub(crate) fn ss58(a: &AccountId32) -> String {
    orchestra_keys::PublicKey(a.0).to_ss58()
}

#[derive(DecodeAsType)]
#[decode_as_type(crate_path = "subxt::ext::scale_decode")]
pub(crate) struct AxonRaw {
    block: u64,
    version: u32,
    ip: u128,
    port: u16,
    ip_type: u8,
    protocol: u8,
}

impl AxonRaw {
    pub(crate) fn into_info(self) -> AxonInfo {
        AxonInfo {
            block: self.block,
            version: self.version,
            ip: self.ip,
            port: self.port,
            ip_type: self.ip_type,
            protocol: self.protocol,
        }
    }
}

#[derive(DecodeAsType)]
#[decode_as_type(crate_path = "subxt::ext::scale_decode")]
struct NeuronLiteRaw {
    hotkey: AccountId32,
    coldkey: AccountId32,
    uid: u16,
    active: bool,
    axon_info: AxonRaw,
    stake: Vec<(AccountId32, u64)>,
    emission: u64,
    incentive: u16,
    consensus: u16,
    trust: u16,
    dividends: u16,
    last_update: u64,
    validator_permit: bool,
}

/// Decodes the output of `NeuronInfoRuntimeApi.get_neurons_lite`, sorted by uid.
pub fn decode_neurons(md: &Metadata, bytes: &[u8]) -> Result<Vec<NeuronInfo>, ChainError> {
    let ty = api_output_ty(md, NEURONS_API)?;
    let raw: Vec<NeuronLiteRaw> = decode_as("get_neurons_lite output", bytes, ty, md)?;
    let mut neurons: Vec<NeuronInfo> = raw
        .into_iter()
        .map(|n| NeuronInfo {
            uid: n.uid,
            hotkey: ss58(&n.hotkey),
            coldkey: ss58(&n.coldkey),
            stake: n.stake.iter().fold(0u64, |acc, (_, s)| acc.saturating_add(*s)),
            trust: n.trust,
            consensus: n.consensus,
            incentive: n.incentive,
            dividends: n.dividends,
            emission: n.emission,
            validator_permit: n.validator_permit,
            last_update: n.last_update,
            active: n.active,
            axon: n.axon_info.into_info(),
        })
        .collect();
    neurons.sort_by_key(|n| n.uid);
    Ok(neurons)
}

#[derive(DecodeAsType)]
#[decode_as_type(crate_path = "subxt::ext::scale_decode")]
struct HyperparamsRaw {
    rho: u16,
    kappa: u16,
    immunity_period: u16,
    min_allowed_weights: u16,
    max_weights_limit: u16,
    tempo: u16,
    weights_version: u64,
    weights_rate_limit: u64,
    activity_cutoff: u16,
    registration_allowed: bool,
    min_burn: u64,
    max_burn: u64,
    bonds_moving_avg: u64,
    serving_rate_limit: u64,
    max_validators: u16,
    commit_reveal_period: u64,
    commit_reveal_weights_enabled: bool,
    alpha_high: u16,
    alpha_low: u16,
    liquid_alpha_enabled: bool,
}

/// Decodes the output of `SubnetInfoRuntimeApi.get_subnet_hyperparams_v2`; `None` when the subnet
/// does not exist. `burn` is left 0 (it comes from storage).
pub fn decode_hyperparams(md: &Metadata, bytes: &[u8]) -> Result<Option<Hyperparams>, ChainError> {
    let ty = api_output_ty(md, HYPERPARAMS_API)?;
    let raw: Option<HyperparamsRaw> = decode_as("get_subnet_hyperparams_v2 output", bytes, ty, md)?;
    Ok(raw.map(|h| Hyperparams {
        tempo: h.tempo,
        rho: h.rho,
        kappa: h.kappa,
        immunity_period: h.immunity_period,
        min_allowed_weights: h.min_allowed_weights,
        max_weights_limit: h.max_weights_limit,
        weights_version: h.weights_version,
        weights_rate_limit: h.weights_rate_limit,
        activity_cutoff: h.activity_cutoff,
        registration_allowed: h.registration_allowed,
        max_validators: h.max_validators,
        serving_rate_limit: h.serving_rate_limit,
        bonds_moving_avg: h.bonds_moving_avg,
        commit_reveal_weights_enabled: h.commit_reveal_weights_enabled,
        commit_reveal_period: h.commit_reveal_period,
        liquid_alpha_enabled: h.liquid_alpha_enabled,
        alpha_high: h.alpha_high,
        alpha_low: h.alpha_low,
        min_burn: h.min_burn,
        max_burn: h.max_burn,
        burn: 0,
    }))
}

#[derive(DecodeAsType)]
#[decode_as_type(crate_path = "subxt::ext::scale_decode")]
struct RegistrationRaw {
    block: u64,
    info: Value,
}

/// Decodes a `Commitments.CommitmentOf` value (`Registration { deposit, block, info }`).
pub fn decode_commitment(md: &Metadata, bytes: &[u8]) -> Result<Commitment, ChainError> {
    let ty = storage_value_ty(md, "Commitments", "CommitmentOf")?;
    let raw: RegistrationRaw = decode_as("CommitmentOf value", bytes, ty, md)?;
    let mut fields = Vec::new();
    collect_data(&raw.info, &mut fields)?;
    Ok(Commitment { block: raw.block, fields })
}

/// Walks `CommitmentInfo { fields: BoundedVec<Data> }` (composites around a sequence) and
/// converts each `Data` variant.
fn collect_data(v: &Value, out: &mut Vec<CommitmentData>) -> Result<(), ChainError> {
    match &v.value {
        ValueDef::Variant(var) => out.push(data_from_variant(&var.name, &var.values)?),
        ValueDef::Composite(c) => {
            for child in c.values() {
                collect_data(child, out)?;
            }
        }
        _ => return Err(bad_data("unexpected value in CommitmentInfo")),
    }
    Ok(())
}

fn bad_data(reason: &str) -> ChainError {
    ChainError::Decode { what: "commitment Data", reason: reason.to_string() }
}

fn data_from_variant(name: &str, values: &Composite<()>) -> Result<CommitmentData, ChainError> {
    let first_bytes = || values.values().next().and_then(value_bytes).ok_or_else(|| bad_data("missing bytes"));
    let hash =
        || first_bytes().and_then(|b| <[u8; 32]>::try_from(b.as_slice()).map_err(|_| bad_data("hash is not 32 bytes")));
    Ok(match name {
        "None" => CommitmentData::None,
        "BlakeTwo256" => CommitmentData::BlakeTwo256(hash()?),
        "Sha256" => CommitmentData::Sha256(hash()?),
        "Keccak256" => CommitmentData::Keccak256(hash()?),
        "ShaThree256" => CommitmentData::ShaThree256(hash()?),
        "ResetBondsFlag" => CommitmentData::ResetBondsFlag,
        "BigRaw" => CommitmentData::BigRaw(first_bytes()?),
        "TimelockEncrypted" => {
            let mut it = values.values();
            let encrypted = it.next().and_then(value_bytes).ok_or_else(|| bad_data("missing ciphertext"))?;
            let reveal_round = it
                .next()
                .and_then(|v| v.as_u128())
                .and_then(|r| u64::try_from(r).ok())
                .ok_or_else(|| bad_data("missing reveal_round"))?;
            CommitmentData::TimelockEncrypted { encrypted, reveal_round }
        }
        raw if raw.starts_with("Raw") => {
            // A `Raw0` variant has a zero-length array field, which may decode to no field at all.
            let b = values.values().next().and_then(value_bytes).unwrap_or_default();
            if raw[3..].parse::<usize>().ok() != Some(b.len()) {
                return Err(bad_data("Raw length does not match its variant"));
            }
            CommitmentData::Raw(b)
        }
        other => return Err(bad_data(&format!("unknown Data variant {other}"))),
    })
}

/// Bytes of a composite of u8 values (a `[u8; N]` or a `BoundedVec<u8>`, possibly wrapped).
fn value_bytes(v: &Value) -> Option<Vec<u8>> {
    match &v.value {
        ValueDef::Composite(c) => {
            let vals: Vec<&Value> = c.values().collect();
            // A single non-primitive field is a newtype wrapper (BoundedVec): look inside.
            if vals.len() == 1 && !matches!(vals[0].value, ValueDef::Primitive(_)) {
                return value_bytes(vals[0]);
            }
            vals.iter()
                .map(|x| match &x.value {
                    ValueDef::Primitive(Primitive::U128(n)) => u8::try_from(*n).ok(),
                    _ => None,
                })
                .collect()
        }
        _ => None,
    }
}
